//! How long to wait before the next retry: constant, linear or exponential
//! delays, capped, with jitter drawn from an injected [`Rng`].
//!
//! A [`Backoff`] is a small `Copy` value validated once; asking it for a delay is
//! pure arithmetic on integers that never panics, never wraps and does bounded
//! work for every retry number up to `u32::MAX`.
//!
//! Numbering: retry `1` is the first retry (the second attempt) and waits `base`;
//! retry `0` is treated as retry `1`.
//!
//! ```
//! use steadfast::backoff::{Backoff, Jitter, Ratio};
//! use steadfast::rng::SplitMix64;
//! use steadfast::time::Duration;
//!
//! let backoff = Backoff::exponential(Duration::from_millis(100), Ratio::TWO, Duration::from_secs(1))
//!     .checked()?;
//! let ms: Vec<u64> = (1..=6).map(|n| backoff.delay(n).as_millis()).collect();
//! assert_eq!(ms, [100, 200, 400, 800, 1_000, 1_000]);
//! assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(1));
//!
//! // With jitter: never above the cap, and the same seed gives the same delays.
//! let jittered = backoff.with_jitter(Jitter::Full);
//! let mut rng = SplitMix64::new(7);
//! let d = jittered.jittered(3, Duration::ZERO, &mut rng);
//! assert!(d <= Duration::from_millis(400));
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

mod config;
mod fixed;

pub use config::{Jitter, Kind, MAX_RATIO_DENOMINATOR, Ratio};
pub use fixed::{ConstBackoff, Delays, Fixed};

use crate::div::div_rem;
use crate::error::ConfigError;
use crate::rng::Rng;
use crate::time::Duration;

/// A backoff policy: a growth [`Kind`], a `base` delay, a `cap`, and a
/// [`Jitter`].
///
/// Order of operations (binding): compute the delay for retry `n` with saturating
/// integer arithmetic → cap it → jitter within `[.., cap]`. See [`Kind`] and
/// [`Jitter`] for the exact formulas.
///
/// [`Backoff::DEFAULT`] follows the seeds: exponential, base 100 ms (the seeds use
/// 100 ms–1 s), factor 2, cap 60 s, [`Jitter::Equal`]. Equal rather than full
/// jitter because it keeps at least half of the computed delay: a retry never fires
/// right after the failure (full jitter can wait ~0 and hammer a dependency that
/// just failed), yet clients that failed together are still spread over `[d/2, d]`.
///
/// ```
/// use steadfast::backoff::{Backoff, Jitter, Kind, Ratio};
/// use steadfast::time::Duration;
///
/// // const-constructible: can live in a static on an MCU.
/// static POLL_SENSOR: Backoff = steadfast::valid!(
///     Backoff::linear(Duration::from_millis(10), Duration::from_millis(10), Duration::from_millis(50)).checked()
/// ); // a bad backoff is rejected at compile time
/// assert_eq!(POLL_SENSOR.delay(3), Duration::from_millis(30));
/// assert_eq!(Backoff::default().cap(), Duration::from_secs(60));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "Spec", into = "Spec"))]
pub struct Backoff {
    kind: Kind,
    base: Duration,
    cap: Duration,
    jitter: Jitter,
    /// Exponential only: after this many steps the delay no longer changes …
    settled_after: u32,
    /// … and is this (the cap, or a fixed point of truncation). Precomputed once so
    /// that any retry number past it costs O(1).
    settled: Duration,
    /// Exponential by a factor of `2^shift` (`shift ≥ 1`) with `0 < base < cap`:
    /// each step is a shift, so a delay is one shift and one comparison. 0 for
    /// every other backoff.
    shift: u8,
}

/// The serialized form of a [`Backoff`]: deserializing goes through
/// [`Backoff::validate`], so a config file cannot bypass validation.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Spec {
    kind: Kind,
    base: Duration,
    cap: Duration,
    jitter: Jitter,
}

#[cfg(feature = "serde")]
impl TryFrom<Spec> for Backoff {
    type Error = ConfigError;
    fn try_from(s: Spec) -> Result<Self, ConfigError> {
        Self::assemble(s.kind, s.base, s.cap, s.jitter).checked()
    }
}

#[cfg(feature = "serde")]
impl From<Backoff> for Spec {
    fn from(b: Backoff) -> Self {
        Self {
            kind: b.kind,
            base: b.base,
            cap: b.cap,
            jitter: b.jitter,
        }
    }
}

impl Default for Backoff {
    /// [`Backoff::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Backoff {
    /// The seeds' defaults: exponential ×2 from 100 ms, capped at 60 s, equal jitter.
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, Jitter};
    /// # use steadfast::time::Duration;
    /// assert_eq!(Backoff::DEFAULT.base(), Duration::from_millis(100));
    /// assert_eq!(Backoff::DEFAULT.jitter(), Jitter::Equal);
    /// ```
    pub const DEFAULT: Self = Self::assemble(
        Kind::Exponential { factor: Ratio::TWO },
        Duration::from_millis(100),
        Duration::from_secs(60),
        Jitter::Equal,
    );

    /// The defaults; start of a `const` builder chain (same as [`Backoff::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// assert_eq!(Backoff::new(), Backoff::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Every retry waits `delay` (no jitter; add one with [`with_jitter`](Self::with_jitter)).
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// # use steadfast::time::Duration;
    /// let b = Backoff::constant(Duration::from_millis(250));
    /// assert_eq!(b.delay(1), b.delay(1_000));
    /// ```
    pub const fn constant(delay: Duration) -> Self {
        Self::assemble(Kind::Constant, delay, delay, Jitter::None)
    }

    /// Builds without validating, precomputing where an exponential settles. This
    /// costs one pass to the cap (≤ 64 steps for factor 2; at most ~45 000 for the
    /// slowest allowed factor 1.001 with a cap of `Duration::MAX`).
    const fn assemble(kind: Kind, base: Duration, cap: Duration, jitter: Jitter) -> Self {
        let (settled, settled_after) = match kind {
            Kind::Exponential { factor } => {
                let (d, taken) = grow(base.as_micros(), cap.as_micros(), factor, u32::MAX);
                let d = if d < cap.as_micros() {
                    d
                } else {
                    cap.as_micros()
                };
                (Duration::from_micros(d), taken)
            }
            Kind::Constant | Kind::Linear { .. } => (cap, u32::MAX),
        };
        // The shift path serves `0 < base < cap`; the loop settles at once otherwise.
        let shift = match kind {
            Kind::Exponential { factor }
                if factor.den() == 1
                    && factor.num().is_power_of_two()
                    && base.as_micros() > 0
                    && base.as_micros() < cap.as_micros() =>
            {
                factor.num().trailing_zeros() as u8
            }
            _ => 0,
        };
        Self {
            kind,
            base,
            cap,
            jitter,
            settled_after,
            settled,
            shift,
        }
    }

    /// Retry `n` waits `base + step·(n-1)`, capped; no jitter.
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// # use steadfast::time::Duration;
    /// const B: Backoff = Backoff::linear(Duration::from_secs(1), Duration::from_secs(1), Duration::from_secs(3));
    /// assert_eq!(B.delay(2), Duration::from_secs(2));
    /// assert_eq!(B.delay(9), Duration::from_secs(3));
    /// ```
    pub const fn linear(base: Duration, step: Duration, cap: Duration) -> Self {
        Self::assemble(Kind::Linear { step }, base, cap, Jitter::None)
    }

    /// Retry `n` waits `base·factorⁿ⁻¹` (truncated at each step), capped; no jitter.
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, Ratio};
    /// # use steadfast::time::Duration;
    /// let b = Backoff::exponential(Duration::from_millis(100), Ratio::new(3, 2)?, Duration::from_secs(1));
    /// assert_eq!(b.delay(3), Duration::from_millis(225));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn exponential(base: Duration, factor: Ratio, cap: Duration) -> Self {
        Self::assemble(Kind::Exponential { factor }, base, cap, Jitter::None)
    }

    /// The same backoff with another growth (`Kind`); base, cap and jitter are kept.
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, Kind};
    /// assert_eq!(Backoff::DEFAULT.with_kind(Kind::Constant).kind(), Kind::Constant);
    /// ```
    #[must_use]
    pub const fn with_kind(self, kind: Kind) -> Self {
        Self::assemble(kind, self.base, self.cap, self.jitter)
    }

    /// The same backoff with another first delay (at most the cap).
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// # use steadfast::time::Duration;
    /// let b = Backoff::DEFAULT.with_base(Duration::from_millis(10));
    /// assert_eq!(b.base(), Duration::from_millis(10));
    /// ```
    #[must_use]
    pub const fn with_base(self, base: Duration) -> Self {
        Self::assemble(self.kind, base, self.cap, self.jitter)
    }

    /// The same backoff with another cap (at least the base).
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// # use steadfast::time::Duration;
    /// let b = Backoff::DEFAULT.with_cap(Duration::from_secs(5));
    /// assert_eq!(b.cap(), Duration::from_secs(5));
    /// ```
    #[must_use]
    pub const fn with_cap(self, cap: Duration) -> Self {
        Self::assemble(self.kind, self.base, cap, self.jitter)
    }

    /// The same backoff with another jitter (a proportional one: `percent <= 100`).
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, Jitter};
    /// # use steadfast::time::Duration;
    /// let b = Backoff::constant(Duration::from_secs(1)).with_jitter(Jitter::Full);
    /// assert_eq!(b.jitter(), Jitter::Full);
    /// ```
    #[must_use]
    pub const fn with_jitter(self, jitter: Jitter) -> Self {
        Self::assemble(self.kind, self.base, self.cap, jitter)
    }

    /// The one check of a backoff, run with its retry policy's
    /// ([`retry::Config::validate`](crate::retry::Config::validate), which
    /// [`Pipeline::new`](crate::pipeline::Pipeline::new) runs): `base` must not
    /// exceed `cap`, the factor must be a valid [`Ratio`] (`factor`), a
    /// proportional jitter's `percent` must be at most 100 (`jitter`). An
    /// unchecked backoff never panics either, but its delays are not specified;
    /// use [`valid!`](crate::valid) with [`checked`](Self::checked) for a
    /// standalone backoff in a `const`.
    ///
    /// ```
    /// use steadfast::backoff::{Backoff, Jitter};
    /// use steadfast::time::Duration;
    ///
    /// assert!(Backoff::DEFAULT.validate().is_ok());
    /// let e = Backoff::constant(Duration::from_secs(1)).with_base(Duration::from_secs(2)).validate().unwrap_err();
    /// assert_eq!(e.field, "base");
    /// let e = Backoff::DEFAULT.with_jitter(Jitter::Proportional { percent: 101 }).validate().unwrap_err();
    /// assert_eq!(e.field, "jitter");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.base.as_micros() > self.cap.as_micros() {
            return Err(ConfigError {
                field: "base",
                problem: "must not exceed `cap`",
            });
        }
        if let Kind::Exponential { factor } = self.kind
            && let Err(e) = factor.validate()
        {
            return Err(e);
        }
        if let Jitter::Proportional { percent } = self.jitter
            && percent > 100
        {
            return Err(ConfigError {
                field: "jitter",
                problem: "proportional percent must be at most 100",
            });
        }
        Ok(())
    }

    /// This backoff if [`validate`](Self::validate) accepts it, for a
    /// standalone backoff (one given to a retry policy is checked with it).
    ///
    /// ```
    /// use steadfast::backoff::{Backoff, Jitter};
    /// use steadfast::time::Duration;
    /// use steadfast::valid;
    ///
    /// static POLL: Backoff = valid!(Backoff::constant(Duration::from_millis(10)).checked());
    /// assert_eq!(POLL.delay(3), Duration::from_millis(10));
    /// assert!(Backoff::DEFAULT.with_jitter(Jitter::Proportional { percent: 101 }).checked().is_err());
    /// ```
    pub const fn checked(self) -> Result<Self, ConfigError> {
        match self.validate() {
            Ok(()) => Ok(self),
            Err(e) => Err(e),
        }
    }

    /// How the delay grows.
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, Kind};
    /// # use steadfast::time::Duration;
    /// assert_eq!(Backoff::constant(Duration::from_secs(1)).kind(), Kind::Constant);
    /// ```
    pub const fn kind(&self) -> Kind {
        self.kind
    }

    /// The first retry's delay.
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Backoff::constant(Duration::from_secs(1)).base(), Duration::from_secs(1));
    /// ```
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// The longest delay ever returned, jitter included.
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Backoff::constant(Duration::from_secs(1)).cap(), Duration::from_secs(1));
    /// ```
    pub const fn cap(&self) -> Duration {
        self.cap
    }

    /// The jitter applied by [`jittered`](Self::jittered).
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, Jitter};
    /// # use steadfast::time::Duration;
    /// assert_eq!(Backoff::constant(Duration::from_secs(1)).jitter(), Jitter::None);
    /// ```
    pub const fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The exact, capped delay before retry `retry`, without jitter.
    ///
    /// Retry 1 waits `base`; retry 0 is treated as 1. Saturates at the cap for every
    /// `u32`. An exponential steps with per-step truncation until the cap is reached
    /// or the sequence stops growing (truncation can pin tiny delays, e.g.
    /// 1 µs × 3/2 = 1 µs); where it settles is precomputed at construction, so a retry
    /// number past that point costs O(1) and the work is never proportional to
    /// `retry` beyond the steps to the cap (≤ 64 for factor 2).
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, Ratio};
    /// # use steadfast::time::Duration;
    /// let b = Backoff::exponential(Duration::from_millis(100), Ratio::TWO, Duration::from_secs(60));
    /// assert_eq!(b.delay(0), Duration::from_millis(100));
    /// assert_eq!(b.delay(1), Duration::from_millis(100));
    /// assert_eq!(b.delay(4), Duration::from_millis(800));
    /// assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    #[inline]
    pub const fn delay(&self, retry: u32) -> Duration {
        let steps = if retry == 0 { 0 } else { retry - 1 };
        let base = self.base.as_micros();
        let cap = self.cap.as_micros();
        // Only an exponential by a power of two has a shift; it is exact for every
        // retry number, so it needs neither the kind nor the settled point.
        if self.shift != 0 {
            return Duration::from_micros(grow_by_shift(base, cap, self.shift, steps));
        }
        let raw = match self.kind {
            Kind::Constant => base,
            Kind::Linear { step } => {
                base.saturating_add(step.as_micros().saturating_mul(steps as u64))
            }
            Kind::Exponential { factor } => {
                if steps >= self.settled_after {
                    return self.settled;
                }
                grow(base, cap, factor, steps).0
            }
        };
        Duration::from_micros(if raw < cap { raw } else { cap })
    }

    /// The delay before retry `retry` with this backoff's jitter applied, drawn from
    /// `rng`; never above the cap.
    ///
    /// `previous` is the delay actually used before the previous attempt
    /// ([`Duration::ZERO`] for the first retry); only [`Jitter::Decorrelated`] reads
    /// it. [`Jitter::None`] draws nothing from `rng`; the others draw at most one
    /// number, so the same seed gives the same sequence.
    ///
    /// ```
    /// use steadfast::backoff::{Backoff, Jitter};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Duration;
    ///
    /// let b = Backoff::DEFAULT.with_jitter(Jitter::Decorrelated);
    /// let (mut a, mut c) = (SplitMix64::new(1), SplitMix64::new(1));
    /// let mut prev = Duration::ZERO;
    /// for n in 1..=20 {
    ///     let d = b.jittered(n, prev, &mut a);
    ///     assert_eq!(d, b.jittered(n, prev, &mut c));
    ///     assert!(d >= b.base() && d <= b.cap());
    ///     prev = d;
    /// }
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn jittered(&self, retry: u32, previous: Duration, rng: &mut impl Rng) -> Duration {
        let (low, high) = self.draw_range(retry, previous);
        Duration::from_micros(rng.between(low, high))
    }

    /// The range `[low, high]` a jittered delay is drawn from, both at most the
    /// cap (`low == high` draws nothing: [`Rng::between`] returns `low`). One
    /// copy in the image whatever the rng type.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn draw_range(&self, retry: u32, previous: Duration) -> (u64, u64) {
        self.range(retry, previous)
    }

    /// [`draw_range`](Self::draw_range) in its caller: where the backoff is a
    /// constant ([`Fixed`]), only the arithmetic of its own growth and jitter
    /// remains.
    #[inline(always)]
    fn range(&self, retry: u32, previous: Duration) -> (u64, u64) {
        let cap = self.cap.as_micros();
        // `delay` never exceeds the cap, so neither does a draw in `[.., d]`.
        let d = self.delay(retry).as_micros();
        match self.jitter {
            Jitter::None => (d, d),
            Jitter::Full => (0, d),
            Jitter::Equal => (d / 2, d),
            Jitter::Decorrelated => {
                let base = self.base.as_micros().min(cap);
                (
                    base,
                    previous.as_micros().max(base).saturating_mul(3).min(cap),
                )
            }
            Jitter::Proportional { percent } => {
                let percent = if percent > 100 { 100 } else { percent };
                // ⌊d·percent/100⌋ ≤ d, as ⌊d/100⌋·percent + ⌊(d mod 100)·percent/100⌋:
                // exact, the first product at most d, the second below 10 000.
                let (whole, rest) = div_rem(d, 100);
                let spread = whole * u64::from(percent) + div_rem(rest * u64::from(percent), 100).0;
                (d - spread, d.saturating_add(spread).min(cap))
            }
        }
    }
}

/// What [`grow`] returns for the factor `2^shift` and `0 < base < cap`:
/// `min(base << (shift × steps), cap)`. A shifted value overflows exactly when it
/// exceeds the cap, since the cap fits in a `u64`: `base << s > cap ⟺ base > cap >> s`.
#[inline]
const fn grow_by_shift(base: u64, cap: u64, shift: u8, steps: u32) -> u64 {
    let total = shift as u64 * steps as u64;
    if total >= 64 || base > cap >> total {
        cap
    } else {
        base << total
    }
}

/// `base` multiplied `steps` times by `factor`, truncated at each step, stopping at
/// `cap` or at a fixed point; returns the value and the steps actually taken (fewer
/// than asked once it settled). Each turn grows `d` strictly, by a factor of at
/// least `1 + 1/1000` once it grows at all, so the loop ends within ~45 000 turns
/// even for `cap = Duration::MAX` (64 for factor 2). `⌊d·num/den⌋` is computed as
/// `⌊d/den⌋·num + ⌊(d mod den)·num/den⌋` (exact: `d = ⌊d/den⌋·den + d mod den`),
/// whose second product stays below `2^42`, so no 128-bit arithmetic is needed.
/// Out of line: the loop is the slow path of [`Backoff::delay`].
#[inline(never)]
const fn grow(base: u64, cap: u64, factor: Ratio, steps: u32) -> (u64, u32) {
    let num = factor.num() as u64;
    let den = if factor.den() == 0 {
        1
    } else {
        factor.den() as u64
    };
    let mut d = base;
    let mut done = 0;
    while done < steps && d < cap {
        let next = if den == 1 {
            d.saturating_mul(num)
        } else {
            let (whole, rest) = div_rem(d, den);
            let (part, _) = div_rem(rest * num, den);
            whole.saturating_mul(num).saturating_add(part)
        };
        let next = if next > cap { cap } else { next };
        if next <= d {
            break; // factor 1, or truncation pins a tiny delay: it stays there
        }
        d = next;
        done += 1;
    }
    (d, done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn delays(b: &Backoff, n: u32) -> [u64; 10] {
        let mut out = [0; 10];
        let mut i = 0;
        while i < 10 && i < n as usize {
            out[i] = b.delay(i as u32 + 1).as_millis();
            i += 1;
        }
        out
    }

    #[test]
    fn constant_timeline() {
        let b = Backoff::constant(ms(250));
        assert_eq!(delays(&b, 10), [250; 10]);
        assert_eq!(b.delay(0), ms(250));
        assert_eq!(b.delay(u32::MAX), ms(250));
    }

    #[test]
    fn linear_timeline() {
        let b = Backoff::linear(ms(100), ms(50), ms(400));
        assert_eq!(
            delays(&b, 10),
            [100, 150, 200, 250, 300, 350, 400, 400, 400, 400]
        );
        assert_eq!(b.delay(u32::MAX), ms(400));
        let b = Backoff::linear(ms(1), Duration::MAX, Duration::MAX);
        assert_eq!(b.delay(2), Duration::MAX);
    }

    #[test]
    fn exponential_timeline() {
        let b = Backoff::exponential(ms(100), Ratio::TWO, Duration::from_secs(60));
        assert_eq!(
            delays(&b, 10),
            [
                100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200
            ]
        );
        assert_eq!(b.delay(11), Duration::from_secs(60));
        assert_eq!(b.delay(u32::MAX - 1), Duration::from_secs(60));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn exponential_truncates_at_each_step() {
        // 1000 µs × 3/2 … truncated: 1000, 1500, 2250, 3375, 5062, 7593, 11389
        let b = Backoff::exponential(
            Duration::from_micros(1_000),
            Ratio::new(3, 2).unwrap(),
            Duration::MAX,
        );
        let got: [u64; 7] = core::array::from_fn(|i| b.delay(i as u32 + 1).as_micros());
        assert_eq!(got, [1_000, 1_500, 2_250, 3_375, 5_062, 7_593, 11_389]);
        // 1 µs × 3/2 = 1 µs: a fixed point, not a loop.
        let b = Backoff::exponential(Duration::from_micros(1), Ratio::new(3, 2).unwrap(), ms(1));
        assert_eq!(b.delay(u32::MAX), Duration::from_micros(1));
    }

    #[test]
    fn huge_caps_and_slow_factors_are_bounded_and_saturate() {
        let b = Backoff::exponential(
            Duration::from_micros(1_000),
            Ratio::new(1_001, 1_000).unwrap(),
            Duration::MAX,
        );
        assert_eq!(b.delay(u32::MAX), Duration::MAX);
        let b = Backoff::exponential(
            Duration::from_micros(1),
            Ratio::integer(u32::MAX).unwrap(),
            Duration::MAX,
        );
        assert_eq!(b.delay(2), Duration::from_micros(u64::from(u32::MAX)));
        let max32 = u64::from(u32::MAX);
        assert_eq!(b.delay(3), Duration::from_micros(max32 * max32));
        assert_eq!(b.delay(4), Duration::MAX);
        let b = Backoff::exponential(ms(100), Ratio::ONE, Duration::MAX);
        assert_eq!(b.delay(u32::MAX), ms(100));
    }

    #[test]
    fn validation_names_the_field() {
        let e = Backoff::DEFAULT
            .with_kind(Kind::Constant)
            .with_base(ms(2))
            .with_cap(ms(1))
            .with_jitter(Jitter::None)
            .checked()
            .unwrap_err();
        assert_eq!(e.field, "base");
        assert_eq!(Ratio::new(0, 0).unwrap_err().field, "factor");
        assert_eq!(Ratio::new(0, 1).unwrap_err().field, "factor");
        assert_eq!(Ratio::new(2_002, 2_000), Ratio::new(1_001, 1_000));
        assert!(Ratio::new(1_001, 1_001).is_ok());
        let e = Backoff::DEFAULT
            .with_kind(Kind::Constant)
            .with_base(ms(1))
            .with_cap(ms(1))
            .with_jitter(Jitter::Proportional { percent: 101 })
            .checked()
            .unwrap_err();
        assert_eq!(e.field, "jitter");
        assert!(
            Backoff::DEFAULT
                .with_kind(Kind::Constant)
                .with_base(ms(1))
                .with_cap(ms(1))
                .with_jitter(Jitter::Proportional { percent: 100 })
                .checked()
                .is_ok()
        );
    }

    #[test]
    fn unvalidated_configs_do_not_panic() {
        // Bypassing validation (e.g. a deserialized config) must not panic either.
        let bad = Backoff::assemble(
            Kind::Exponential {
                factor: Ratio { num: 1, den: 0 },
            },
            ms(5),
            ms(1),
            Jitter::Proportional { percent: 255 },
        );
        let mut rng = SplitMix64::new(3);
        assert_eq!(bad.delay(u32::MAX), ms(1));
        assert!(bad.jittered(u32::MAX, Duration::MAX, &mut rng) <= ms(1));
        let shrinking = Backoff::assemble(
            Kind::Exponential {
                factor: Ratio { num: 1, den: 2 },
            },
            ms(5),
            ms(1),
            Jitter::None,
        );
        assert_eq!(shrinking.delay(9), ms(1));
        let dec = Backoff {
            jitter: Jitter::Decorrelated,
            ..bad
        };
        assert_eq!(dec.jittered(1, Duration::ZERO, &mut rng), ms(1));
    }

    #[test]
    fn jitter_stays_in_range_at_the_extremes() {
        struct Fixed(u64);
        impl Rng for Fixed {
            fn next_u64(&mut self) -> u64 {
                self.0
            }
        }
        let b = Backoff::exponential(ms(100), Ratio::TWO, ms(1_000));
        let with = |j| b.with_jitter(j);
        let (lo, hi) = (&mut Fixed(0), &mut Fixed(u64::MAX));
        assert_eq!(with(Jitter::Full).jittered(3, ms(0), lo), ms(0));
        assert_eq!(with(Jitter::Full).jittered(3, ms(0), hi), ms(400));
        assert_eq!(with(Jitter::Equal).jittered(3, ms(0), lo), ms(200));
        assert_eq!(with(Jitter::Equal).jittered(3, ms(0), hi), ms(400));
        let p = with(Jitter::Proportional { percent: 50 });
        assert_eq!(p.jittered(3, ms(0), lo), ms(200));
        assert_eq!(p.jittered(3, ms(0), hi), ms(600));
        // At the cap the upper end is cut *before* sampling: still spread below it.
        assert_eq!(p.jittered(9, ms(0), lo), ms(500));
        assert_eq!(p.jittered(9, ms(0), hi), ms(1_000));
        let d = with(Jitter::Decorrelated);
        assert_eq!(d.jittered(1, ms(0), lo), ms(100));
        assert_eq!(d.jittered(1, ms(0), hi), ms(300));
        assert_eq!(d.jittered(5, ms(300), hi), ms(900));
        assert_eq!(d.jittered(5, ms(900), hi), ms(1_000));
        assert_eq!(d.jittered(5, Duration::MAX, lo), ms(100));
    }

    /// The proportional spread is `⌊d·percent/100⌋` exactly, for every delay up
    /// to `Duration::MAX` and every percent, without a 128-bit product.
    #[test]
    fn proportional_spread_is_exact_at_every_magnitude() {
        let edges = [
            0,
            1,
            99,
            100,
            101,
            12_345,
            u64::MAX / 100,
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut rng = SplitMix64::new(3);
        let drawn = (0..if cfg!(miri) { 20 } else { 2_000 }).map(|i| rng.next_u64() >> (i % 64));
        for d in edges.into_iter().chain(drawn) {
            for percent in [0u8, 1, 33, 50, 99, 100] {
                let spread = (u128::from(d) * u128::from(percent) / 100) as u64;
                // A constant delay `d` capped at `d`: the upper end is the cap.
                let at_cap = Backoff::constant(Duration::from_micros(d))
                    .with_jitter(Jitter::Proportional { percent });
                assert_eq!(at_cap.draw_range(1, Duration::ZERO), (d - spread, d));
                let below_cap = at_cap.with_cap(Duration::MAX);
                assert_eq!(
                    below_cap.draw_range(1, Duration::ZERO),
                    (d - spread, d.saturating_add(spread)),
                    "{d} µs, {percent} %"
                );
            }
        }
    }
}
