//! The parts a [`Backoff`](super::Backoff) is made of: how delays grow
//! ([`Kind`], [`Ratio`]) and how they are spread ([`Jitter`]).

use crate::error::ConfigError;
use crate::time::Duration;

/// The largest denominator a [`Ratio`] may have after reduction.
///
/// It bounds the work of [`Backoff::delay`](super::Backoff::delay): with a factor of
/// at least `1 + 1/1000`, reaching any cap takes at most a few tens of thousands of
/// steps, and for factor 2 at most 64.
pub const MAX_RATIO_DENOMINATOR: u32 = 1_000;

/// A growth factor as an integer ratio `num / den` (no floats on an FPU-less MCU).
///
/// Validated once: `den != 0`, `num >= den` (a factor below 1 would shrink the
/// delays), and after reduction by the greatest common divisor `den <= 1000`
/// ([`MAX_RATIO_DENOMINATOR`], which bounds the work per delay).
///
/// ```
/// use steadfast::backoff::Ratio;
///
/// let one_and_a_half = Ratio::new(15, 10)?; // reduced to 3/2
/// assert_eq!((one_and_a_half.num(), one_and_a_half.den()), (3, 2));
/// assert_eq!(Ratio::TWO, Ratio::integer(2)?);
/// assert!(Ratio::new(1, 2).is_err()); // shrinking
/// assert!(Ratio::new(3, 0).is_err());
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Ratio {
    pub(super) num: u32,
    pub(super) den: u32,
}

const fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl Ratio {
    /// Factor 2: every delay doubles (the seeds' default).
    pub const TWO: Self = Self { num: 2, den: 1 };
    /// Factor 1: the delay never grows.
    pub const ONE: Self = Self { num: 1, den: 1 };

    /// `num / den`, reduced, or an error naming the field `factor`.
    ///
    /// ```
    /// # use steadfast::backoff::Ratio;
    /// assert!(Ratio::new(1_001, 1_000).is_ok());
    /// let e = Ratio::new(10_001, 10_000).unwrap_err();
    /// assert_eq!(e.field, "factor");
    /// ```
    pub const fn new(num: u32, den: u32) -> Result<Self, ConfigError> {
        if den == 0 {
            return Err(ConfigError {
                field: "factor",
                problem: "denominator must not be 0",
            });
        }
        if num < den {
            return Err(ConfigError {
                field: "factor",
                problem: "must be at least 1 (num >= den)",
            });
        }
        let g = gcd(num, den);
        // g >= 1 because den != 0.
        let (num, den) = (num / g, den / g);
        if den > MAX_RATIO_DENOMINATOR {
            return Err(ConfigError {
                field: "factor",
                problem: "denominator must be at most 1000 after reduction",
            });
        }
        Ok(Self { num, den })
    }

    /// The whole number `n` as a factor (`n >= 1`).
    ///
    /// ```
    /// # use steadfast::backoff::Ratio;
    /// assert_eq!(Ratio::integer(3)?.num(), 3);
    /// assert!(Ratio::integer(0).is_err());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn integer(n: u32) -> Result<Self, ConfigError> {
        Self::new(n, 1)
    }

    /// The numerator.
    ///
    /// ```
    /// # use steadfast::backoff::Ratio;
    /// assert_eq!(Ratio::TWO.num(), 2);
    /// ```
    pub const fn num(self) -> u32 {
        self.num
    }

    /// The denominator.
    ///
    /// ```
    /// # use steadfast::backoff::Ratio;
    /// assert_eq!(Ratio::TWO.den(), 1);
    /// ```
    pub const fn den(self) -> u32 {
        self.den
    }

    /// Checks a ratio that did not come through [`Ratio::new`] (e.g. deserialized).
    ///
    /// ```
    /// # use steadfast::backoff::Ratio;
    /// assert!(Ratio::TWO.validate().is_ok());
    /// ```
    pub const fn validate(self) -> Result<(), ConfigError> {
        match Self::new(self.num, self.den) {
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// How the delay grows from one retry to the next, before the cap and jitter.
///
/// Retry `n` (1-based: retry 1 is the second attempt) waits, before the cap:
///
/// | kind | delay(n) |
/// |---|---|
/// | `Constant` | `base` |
/// | `Linear { step }` | `base + step·(n-1)` |
/// | `Exponential { factor }` | `d₁ = base`, `dₖ₊₁ = ⌊dₖ·num/den⌋` (truncated at each step) |
///
/// The multiplier is an integer ratio truncated at each step (as gax / grpc-java
/// compute with their multiplier), with no floats; every step saturates, and the
/// computation stops as soon as the cap is reached or the sequence stops growing,
/// so `delay(u32::MAX)` costs no more than reaching the cap.
///
/// ```
/// use steadfast::backoff::{Kind, Ratio};
/// use steadfast::time::Duration;
///
/// let linear = Kind::Linear { step: Duration::from_millis(50) };
/// let exponential = Kind::Exponential { factor: Ratio::TWO };
/// assert_ne!(linear, exponential);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Kind {
    /// Every retry waits `base`.
    Constant,
    /// Retry `n` waits `base + step·(n-1)`.
    Linear {
        /// Added per retry.
        step: Duration,
    },
    /// Retry `n` waits `base·factorⁿ⁻¹`, truncated to whole microseconds at each step.
    Exponential {
        /// The growth factor, at least 1.
        factor: Ratio,
    },
}

/// How a computed delay is spread so that clients that failed together do not
/// retry together.
///
/// **Jitter vs cap** (binding): the delay is computed (saturating), then capped,
/// then jittered *within* `[.., cap]`. Jittering before the cap would put every
/// capped client in lockstep again; jittering above the cap would surprise users
/// (a backon complaint). So a jittered delay never exceeds the cap.
///
/// With `d` the capped delay of [`Backoff::delay`](super::Backoff::delay):
///
/// | jitter | range (uniform, inclusive) |
/// |---|---|
/// | `None` | exactly `d` |
/// | `Full` | `[0, d]` |
/// | `Equal` | `[⌊d/2⌋, d]` |
/// | `Decorrelated` | `[base, min(cap, 3·max(previous, base))]` |
/// | `Proportional { percent: x }` | `[d - d·x/100, min(cap, d + d·x/100)]` |
///
/// `Decorrelated` is the AWS "decorrelated jitter" formula, which ignores the
/// [`Kind`] and grows from the previous delay actually used. Its range is clamped to
/// the cap *before* sampling: the raw formula samples past the cap and then cuts,
/// which piles most samples exactly at the cap (Polly #530).
///
/// ```
/// use steadfast::backoff::Jitter;
/// let j = Jitter::Proportional { percent: 10 }; // ±10 %
/// assert_ne!(j, Jitter::None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Jitter {
    /// No randomness: the delay is exactly [`Backoff::delay`](super::Backoff::delay).
    None,
    /// Uniform in `[0, d]` (AWS "full jitter").
    Full,
    /// Uniform in `[d/2, d]` (AWS "equal jitter"): never less than half the
    /// computed delay.
    Equal,
    /// Uniform in `[base, min(cap, 3·previous)]` (AWS "decorrelated jitter",
    /// clamped to the cap before sampling).
    Decorrelated,
    /// Uniform in `d ± percent %`, the upper end capped. `percent <= 100`.
    Proportional {
        /// The spread either side, in percent of the delay (0..=100).
        percent: u8,
    },
}
