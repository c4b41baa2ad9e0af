//! Randomness as an argument: a tiny seeded PRNG and the trait the machines use.
//!
//! Jitter needs random numbers; a simulation needs them to be the same on every
//! run. So the core never owns an entropy source: methods that jitter take
//! `&mut impl Rng`. [`SplitMix64`] is the bundled generator (integer only, one
//! `u64` of state, `const fn new(seed)`); a caller may plug in any other source
//! by implementing [`Rng`].
//!
//! Same seed, same sequence, on every target:
//!
//! ```
//! use steadfast::rng::{Rng, SplitMix64};
//!
//! let mut a = SplitMix64::new(42);
//! let mut b = SplitMix64::new(42);
//! assert_eq!(a.next_u64(), b.next_u64());
//! let roll = a.below(6); // uniform in 0..6
//! assert!(roll < 6);
//! ```

/// A source of uniformly distributed `u64`s.
///
/// Only [`next_u64`](Rng::next_u64) must be written; the ranged helpers are
/// derived from it with integer arithmetic (Lemire's multiply-shift, whose bias
/// is below 2⁻⁶⁴·bound and irrelevant for jitter).
///
/// ```
/// use steadfast::rng::Rng;
///
/// /// Always the same number: handy to pin jitter in a test.
/// struct Fixed(u64);
/// impl Rng for Fixed {
///     fn next_u64(&mut self) -> u64 { self.0 }
/// }
/// assert_eq!(Fixed(u64::MAX).below(10), 9);
/// assert_eq!(Fixed(0).below(10), 0);
/// ```
pub trait Rng {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64;

    /// A number in `0..bound`; `0` when `bound` is `0`.
    ///
    /// ```
    /// # use steadfast::rng::{Rng, SplitMix64};
    /// let mut rng = SplitMix64::new(7);
    /// assert!(rng.below(3) < 3);
    /// assert_eq!(rng.below(0), 0);
    /// ```
    fn below(&mut self, bound: u64) -> u64 {
        // (x * bound) >> 64 maps 0..2^64 onto 0..bound; cannot overflow in u128.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A number in `low..=high`; `low` when `high < low`.
    ///
    /// ```
    /// # use steadfast::rng::{Rng, SplitMix64};
    /// let mut rng = SplitMix64::new(7);
    /// let x = rng.between(10, 20);
    /// assert!((10..=20).contains(&x));
    /// assert_eq!(rng.between(5, 1), 5);
    /// ```
    fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        let span = high - low;
        if span == u64::MAX {
            return self.next_u64();
        }
        low + self.below(span + 1)
    }
}

impl<R: Rng + ?Sized> Rng for &mut R {
    fn next_u64(&mut self) -> u64 {
        (**self).next_u64()
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): one `u64` of state, every seed valid
/// (zero included), passes BigCrush, a handful of integer instructions per call.
///
/// ```
/// use steadfast::rng::{Rng, SplitMix64};
/// static SEEDED: SplitMix64 = SplitMix64::new(0xC0FFEE); // const: can live in a static
/// let mut rng = SEEDED;
/// let first = rng.next_u64();
/// assert_ne!(first, rng.next_u64());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose sequence is fixed by `seed`.
    ///
    /// ```
    /// # use steadfast::rng::{Rng, SplitMix64};
    /// assert_eq!(SplitMix64::new(1).next_u64(), SplitMix64::new(1).next_u64());
    /// ```
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }
}

impl Rng for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // Reference values of SplitMix64 seeded with 0 (from the published C code).
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn ranges_hold_at_the_edges() {
        struct Fixed(u64);
        impl Rng for Fixed {
            fn next_u64(&mut self) -> u64 {
                self.0
            }
        }
        assert_eq!(Fixed(u64::MAX).between(0, u64::MAX), u64::MAX);
        assert_eq!(Fixed(u64::MAX).between(1, u64::MAX), u64::MAX);
        assert_eq!(Fixed(0).between(1, u64::MAX), 1);
        assert_eq!(Fixed(u64::MAX).below(u64::MAX), u64::MAX - 1);
    }
}
