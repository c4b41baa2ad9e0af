//! Adaptive concurrency limit: a bulkhead whose capacity follows the
//! dependency, learnt from each call's round-trip time and whether it was
//! dropped (failed, timed out), as in Netflix's concurrency-limits.
//!
//! A call takes a [`Permit`] with [`AdaptiveLimit::try_acquire`] (refused
//! when `in_flight` has reached the current limit: no queue) and gives it
//! back with [`AdaptiveLimit::release`], which feeds the sample to the
//! algorithm, or [`AdaptiveLimit::cancel`], which returns the slot and
//! learns nothing (a caller that gave up says nothing about the dependency).
//! A permit is not `Copy`: it goes back exactly once.
//!
//! Two algorithms, integer only, the limit always within `[min, max]`:
//!
//! * **AIMD** ([`Algorithm::aimd`]): a dropped sample, or one slower than
//!   `timeout`, multiplies the limit by `backoff_permille / 1000` (rounded
//!   down); any other sample whose call found the limit in use (`in_flight`
//!   when it took its permit, itself included, at least half the limit) adds 1. Samples of an idle limiter change nothing:
//!   little traffic proves nothing about a higher limit.
//! * **Vegas** ([`Algorithm::vegas`]): the lowest RTT seen is the
//!   no-load RTT; a sample estimates the queue at the dependency as
//!   `limit × (1 − rtt_noload / rtt)` (rounded up). Below `alpha` the limit
//!   grows by 1, above `beta` it shrinks by 1, in between it stays; a
//!   dropped sample multiplies it by `backoff_permille / 1000`. As for AIMD,
//!   an idle limiter does not grow.
//!
//! [`Config::with_smoothing`] moves the limit only part of the way to each
//! new value (`smoothing_permille / 1000`, at least one step when it moves).
//!
//! ```
//! use steadfast::adaptive::{AdaptiveLimit, Algorithm, Config};
//! use steadfast::time::{Duration, Instant};
//!
//! let config = Config::new().with_limits(4, 1, 100).with_algorithm(Algorithm::aimd());
//! let mut limit = AdaptiveLimit::new(config)?;
//! let t0 = Instant::ZERO;
//! let permits: Vec<_> = (0..4).map(|_| limit.try_acquire(t0).unwrap()).collect();
//! assert!(limit.try_acquire(t0).is_err()); // 4 in flight: full
//! for p in permits {
//!     limit.release(p, false, t0 + Duration::from_millis(20));
//! }
//! // +1 for each sample whose call found at least half the limit in use
//! // (the 2nd, 3rd and 4th: 2 × 2 ≥ 4, 3 × 2 ≥ 5, 4 × 2 ≥ 6).
//! assert_eq!(limit.limit(), 7);
//! let p = limit.try_acquire(t0).unwrap();
//! limit.release(p, true, t0 + Duration::from_millis(20)); // dropped
//! assert_eq!(limit.limit(), 6); // × 0.9, rounded down
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use core::fmt;

use crate::error::ConfigError;
use crate::outcome::Outcome;
use crate::time::{Duration, Instant};

/// How the limit learns from samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Algorithm {
    /// Additive increase, multiplicative decrease.
    Aimd {
        /// The limit is multiplied by `backoff_permille / 1000` on a drop.
        backoff_permille: u16,
        /// A sample slower than this counts as a drop.
        timeout: Duration,
    },
    /// TCP Vegas: grows while the estimated queue is below `alpha`, shrinks
    /// above `beta`.
    Vegas {
        /// Grow while the estimated queue is below this.
        alpha: u32,
        /// Shrink while the estimated queue is above this.
        beta: u32,
        /// The limit is multiplied by `backoff_permille / 1000` on a drop.
        backoff_permille: u16,
    },
}

impl Algorithm {
    /// AIMD with Netflix's defaults: × 0.9 on a drop, a sample over 5 s is a drop.
    ///
    /// ```
    /// # use steadfast::adaptive::Algorithm;
    /// assert!(matches!(Algorithm::aimd(), Algorithm::Aimd { backoff_permille: 900, .. }));
    /// ```
    pub const fn aimd() -> Self {
        Self::Aimd {
            backoff_permille: 900,
            timeout: Duration::from_secs(5),
        }
    }

    /// Vegas with the classic thresholds: grow below a queue of 3, shrink
    /// above 6, × 0.9 on a drop.
    ///
    /// ```
    /// # use steadfast::adaptive::Algorithm;
    /// assert!(matches!(Algorithm::vegas(), Algorithm::Vegas { alpha: 3, beta: 6, .. }));
    /// ```
    pub const fn vegas() -> Self {
        Self::Vegas {
            alpha: 3,
            beta: 6,
            backoff_permille: 900,
        }
    }
}

/// The settings of an [`AdaptiveLimit`].
///
/// ```
/// use steadfast::adaptive::{Algorithm, Config};
///
/// const LIMIT: Config = Config::new().with_limits(20, 5, 200).with_algorithm(Algorithm::vegas());
/// assert!(LIMIT.validate().is_ok());
/// assert_eq!((LIMIT.initial(), LIMIT.min(), LIMIT.max()), (20, 5, 200));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    initial: u32,
    min: u32,
    max: u32,
    algorithm: Algorithm,
    smoothing_permille: u16,
}

impl Config {
    /// Start at 20, between 1 and 200, AIMD, no smoothing.
    pub const DEFAULT: Self = Self {
        initial: 20,
        min: 1,
        max: 200,
        algorithm: Algorithm::aimd(),
        smoothing_permille: 1000,
    };

    /// [`Config::DEFAULT`].
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Starts at `initial`, never below `min` nor above `max`.
    #[must_use]
    pub const fn with_limits(mut self, initial: u32, min: u32, max: u32) -> Self {
        self.initial = initial;
        self.min = min;
        self.max = max;
        self
    }

    /// Learns with `algorithm`.
    #[must_use]
    pub const fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Moves `smoothing_permille / 1000` of the way to each new limit (1000:
    /// all the way).
    #[must_use]
    pub const fn with_smoothing(mut self, smoothing_permille: u16) -> Self {
        self.smoothing_permille = smoothing_permille;
        self
    }

    /// The starting limit.
    pub const fn initial(&self) -> u32 {
        self.initial
    }

    /// The lowest limit.
    pub const fn min(&self) -> u32 {
        self.min
    }

    /// The highest limit.
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// The algorithm.
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The smoothing, in permille.
    pub const fn smoothing(&self) -> u16 {
        self.smoothing_permille
    }

    /// Checks the settings: `1 ≤ min ≤ initial ≤ max`; a backoff below 1000 ‰;
    /// `alpha ≤ beta`; a timeout longer than zero; smoothing from 1 to 1000 ‰.
    ///
    /// ```
    /// use steadfast::adaptive::{Algorithm, Config};
    /// assert_eq!(Config::new().with_limits(5, 10, 20).validate().unwrap_err().field, "initial");
    /// assert_eq!(Config::new().with_limits(1, 0, 20).validate().unwrap_err().field, "min");
    /// let v = Algorithm::Vegas { alpha: 7, beta: 6, backoff_permille: 900 };
    /// assert_eq!(Config::new().with_algorithm(v).validate().unwrap_err().field, "beta");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.min == 0 {
            return Err(ConfigError::new("min", "must be at least 1"));
        }
        if self.initial < self.min || self.initial > self.max {
            return Err(ConfigError::new(
                "initial",
                "must be between `min` and `max`",
            ));
        }
        let backoff = match self.algorithm {
            Algorithm::Aimd {
                backoff_permille,
                timeout,
            } => {
                if timeout.is_zero() {
                    return Err(ConfigError::new("timeout", "must be longer than zero"));
                }
                backoff_permille
            }
            Algorithm::Vegas {
                alpha,
                beta,
                backoff_permille,
            } => {
                if alpha > beta {
                    return Err(ConfigError::new("beta", "must be at least `alpha`"));
                }
                backoff_permille
            }
        };
        if backoff == 0 || backoff >= 1000 {
            return Err(ConfigError::new(
                "backoff_permille",
                "must be 1 to 999: the share of the limit kept after a drop",
            ));
        }
        if self.smoothing_permille == 0 || self.smoothing_permille > 1000 {
            return Err(ConfigError::new("smoothing_permille", "must be 1 to 1000"));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A slot taken from an [`AdaptiveLimit`]; give it back exactly once, with
/// [`AdaptiveLimit::release`] or [`AdaptiveLimit::cancel`].
#[derive(Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a permit not given back keeps its slot taken"]
pub struct Permit {
    start: Instant,
    /// `in_flight` when it was taken, itself included.
    in_flight: u32,
}

impl Permit {
    /// When it was taken: a released permit's RTT runs from here.
    pub const fn start(&self) -> Instant {
        self.start
    }
}

/// The limit was reached: no slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Full {
    /// The limit at the time.
    pub limit: u32,
}

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "concurrency limit of {} reached", self.limit)
    }
}

impl core::error::Error for Full {}

/// An adaptive concurrency limit (see the [module](self) documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdaptiveLimit {
    config: Config,
    limit: u32,
    in_flight: u32,
    /// The lowest RTT seen (Vegas), in microseconds.
    rtt_noload: Option<u64>,
}

impl AdaptiveLimit {
    /// A limit at `config.initial()` with nothing in flight.
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`.
    pub const fn new(config: Config) -> Result<Self, ConfigError> {
        match config.validate() {
            Ok(()) => Ok(Self {
                config,
                limit: config.initial,
                in_flight: 0,
                rtt_noload: None,
            }),
            Err(e) => Err(e),
        }
    }

    /// The current limit.
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// Permits out now.
    pub const fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The settings.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// A slot at `now`, or [`Full`] when `in_flight` has reached the limit.
    ///
    /// # Errors
    ///
    /// [`Full`] with the limit.
    pub fn try_acquire(&mut self, now: Instant) -> Result<Permit, Full> {
        if self.in_flight >= self.limit {
            return Err(Full { limit: self.limit });
        }
        self.in_flight += 1;
        Ok(Permit {
            start: now,
            in_flight: self.in_flight,
        })
    }

    /// Gives `permit` back at `now`, its call having been `dropped` (failed,
    /// timed out) or not, and learns from its RTT (`now − start`).
    ///
    /// ```
    /// use steadfast::adaptive::{AdaptiveLimit, Algorithm, Config};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// // Vegas: no-load RTT 10 ms; a 20 ms sample means a queue of half the limit.
    /// let mut limit = AdaptiveLimit::new(Config::new().with_limits(20, 1, 100).with_algorithm(Algorithm::vegas()))?;
    /// let t = Instant::from_secs(1);
    /// let busy: Vec<_> = (0..20).map(|_| limit.try_acquire(t).unwrap()).collect();
    /// let mut busy = busy.into_iter().rev(); // the last taken found the limit in use
    /// limit.release(busy.next().unwrap(), false, t + Duration::from_millis(10));
    /// assert_eq!(limit.limit(), 21); // queue 0 < alpha: grow
    /// limit.release(busy.next().unwrap(), false, t + Duration::from_millis(20));
    /// assert_eq!(limit.limit(), 20); // queue ⌈21 × ½⌉ = 11 > beta: shrink
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn release(&mut self, permit: Permit, dropped: bool, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let rtt = now.saturating_duration_since(permit.start).as_micros();
        // In use: at least half the limit was out when the call started.
        let in_use = u64::from(permit.in_flight) * 2 >= u64::from(self.limit);
        let target = match self.config.algorithm {
            Algorithm::Aimd {
                backoff_permille,
                timeout,
            } => {
                if dropped || rtt > timeout.as_micros() {
                    scale(self.limit, backoff_permille)
                } else if in_use {
                    self.limit.saturating_add(1)
                } else {
                    self.limit
                }
            }
            Algorithm::Vegas {
                alpha,
                beta,
                backoff_permille,
            } => {
                let noload = match self.rtt_noload {
                    Some(n) if n <= rtt => n,
                    _ => rtt,
                };
                self.rtt_noload = Some(noload);
                if dropped {
                    scale(self.limit, backoff_permille)
                } else if rtt == 0 {
                    self.limit
                } else {
                    // ⌈limit × (rtt − noload) / rtt⌉, in u128: no overflow.
                    let queue = (u128::from(self.limit) * u128::from(rtt - noload))
                        .div_ceil(u128::from(rtt));
                    if queue < u128::from(alpha) && in_use {
                        self.limit.saturating_add(1)
                    } else if queue > u128::from(beta) {
                        self.limit - 1
                    } else {
                        self.limit
                    }
                }
            }
        };
        // `max` then `min`, not `clamp`: the bounds are validated, and `clamp`
        // links a panic for bounds out of order.
        self.limit = self
            .smooth(target)
            .max(self.config.min)
            .min(self.config.max);
    }

    /// Gives `permit` back without a sample: the caller gave up, which says
    /// nothing about the dependency.
    ///
    /// ```
    /// use steadfast::adaptive::{AdaptiveLimit, Config};
    /// use steadfast::time::Instant;
    ///
    /// let mut limit = AdaptiveLimit::new(Config::new().with_limits(1, 1, 10))?;
    /// let p = limit.try_acquire(Instant::ZERO).unwrap();
    /// limit.cancel(p);
    /// assert_eq!((limit.in_flight(), limit.limit()), (0, 1));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn cancel(&mut self, permit: Permit) {
        let _ = permit;
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Gives `permit` back at `now` with its call's classified `outcome`: a
    /// success is a sample, a failure or a timeout a dropped sample (as
    /// [`release`](Self::release)), and an ignored outcome (the dependency
    /// was not judged, e.g. a layer further in refused the call) teaches
    /// nothing (as [`cancel`](Self::cancel)).
    ///
    /// ```
    /// use steadfast::adaptive::{AdaptiveLimit, Config};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let mut limit = AdaptiveLimit::new(Config::new().with_limits(10, 1, 100))?;
    /// let p = limit.try_acquire(Instant::ZERO).unwrap();
    /// limit.record(p, Outcome::Ignored, Instant::from_millis(5));
    /// assert_eq!(limit.limit(), 10); // nothing learnt
    /// let p = limit.try_acquire(Instant::ZERO).unwrap();
    /// limit.record(p, Outcome::TimedOut, Instant::from_millis(5));
    /// assert_eq!((limit.limit(), limit.in_flight()), (9, 0)); // a drop: × 0.9
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn record(&mut self, permit: Permit, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Success => self.release(permit, false, now),
            Outcome::Failure | Outcome::TimedOut => self.release(permit, true, now),
            Outcome::Ignored => self.cancel(permit),
        }
    }

    /// `smoothing` of the way from the limit to `target`, at least one step.
    fn smooth(&self, target: u32) -> u32 {
        let s = u64::from(self.config.smoothing_permille);
        let (from, to) = (u64::from(self.limit), u64::from(target));
        let moved = if to >= from {
            from + ((to - from) * s / 1000).max(u64::from(to > from))
        } else {
            from - ((from - to) * s / 1000).max(1)
        };
        u32::try_from(moved).unwrap_or(u32::MAX)
    }
}

/// `limit × permille / 1000`, rounded down.
fn scale(limit: u32, permille: u16) -> u32 {
    u32::try_from(u64::from(limit) * u64::from(permille) / 1000).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn aimd_grows_only_while_in_use_and_backs_off_on_drops_and_slow_samples() {
        let mut l = AdaptiveLimit::new(Config::new().with_limits(10, 2, 12)).unwrap();
        // One call at a time: 1 of 10 in flight, not in use.
        for i in 0..5 {
            let p = l.try_acquire(at(i)).unwrap();
            l.release(p, false, at(i) + MS);
        }
        assert_eq!(l.limit(), 10);
        // Five out at once: in use from the fifth.
        let ps: [Permit; 5] = core::array::from_fn(|_| l.try_acquire(at(10)).unwrap());
        let grew: u32 = ps
            .into_iter()
            .map(|p| {
                let before = l.limit();
                l.release(p, false, at(11));
                l.limit() - before
            })
            .sum();
        assert_eq!((grew, l.limit()), (1, 11));
        // Capped at max.
        for _ in 0..3 {
            let ps: [Permit; 6] = core::array::from_fn(|_| l.try_acquire(at(20)).unwrap());
            for p in ps {
                l.release(p, false, at(21));
            }
        }
        assert_eq!(l.limit(), 12);
        // A drop: × 0.9 → 10; a sample over 5 s: × 0.9 → 9; floor at min.
        let p = l.try_acquire(at(30)).unwrap();
        l.release(p, true, at(31));
        assert_eq!(l.limit(), 10);
        let p = l.try_acquire(at(40)).unwrap();
        l.release(p, false, at(40) + Duration::from_millis(5_001));
        assert_eq!(l.limit(), 9);
        for _ in 0..50 {
            let p = l.try_acquire(at(50)).unwrap();
            l.release(p, true, at(51));
        }
        assert_eq!(l.limit(), 2);
        assert_eq!(l.in_flight(), 0);
    }

    #[test]
    fn the_limit_is_enforced_and_cancelled_permits_come_back() {
        let mut l = AdaptiveLimit::new(Config::new().with_limits(3, 1, 10)).unwrap();
        let a = l.try_acquire(at(0)).unwrap();
        let b = l.try_acquire(at(0)).unwrap();
        let c = l.try_acquire(at(0)).unwrap();
        assert_eq!(l.try_acquire(at(0)), Err(Full { limit: 3 }));
        l.cancel(b);
        assert_eq!(l.limit(), 3, "a cancellation teaches nothing");
        let d = l.try_acquire(at(0)).unwrap();
        for p in [a, c, d] {
            l.cancel(p);
        }
        assert_eq!(l.in_flight(), 0);
    }

    #[test]
    fn vegas_follows_the_estimated_queue() {
        let cfg = Config::new()
            .with_limits(10, 1, 1_000)
            .with_algorithm(Algorithm::vegas());
        let mut l = AdaptiveLimit::new(cfg).unwrap();
        let run = |l: &mut AdaptiveLimit, rtt_ms: u64| {
            let n = l.limit();
            let ps: [Option<Permit>; 64] =
                core::array::from_fn(|i| (i < n as usize).then(|| l.try_acquire(at(0)).unwrap()));
            for p in ps.into_iter().flatten() {
                l.release(p, false, at(rtt_ms));
            }
        };
        // Steady no-load RTT: the queue estimate is 0, the limit grows by 1
        // per sample taken while in use.
        run(&mut l, 10);
        assert!(l.limit() > 10, "{}", l.limit());
        // RTT doubles: queue ≈ limit / 2, far above beta: shrinks until the
        // queue estimate falls within [alpha, beta], i.e. limit ≤ 2 × beta + 1.
        for _ in 0..30 {
            run(&mut l, 20);
        }
        assert!((6..=13).contains(&l.limit()), "{}", l.limit());
    }

    #[test]
    fn smoothing_moves_part_of_the_way_but_at_least_one_step() {
        let cfg = Config::new().with_limits(100, 1, 1_000).with_smoothing(500);
        let mut l = AdaptiveLimit::new(cfg).unwrap();
        let p = l.try_acquire(at(0)).unwrap();
        l.release(p, true, at(1)); // target 90: half way
        assert_eq!(l.limit(), 95);
        let cfg = Config::new().with_limits(2, 1, 1_000).with_smoothing(1);
        let mut l = AdaptiveLimit::new(cfg).unwrap();
        let p = l.try_acquire(at(0)).unwrap();
        let q = l.try_acquire(at(0)).unwrap();
        l.release(p, false, at(1));
        assert_eq!(l.limit(), 3, "at least one step");
        l.cancel(q);
    }

    #[test]
    fn record_maps_each_outcome_to_a_sample_a_drop_or_nothing() {
        let mut l = AdaptiveLimit::new(Config::new().with_limits(2, 1, 10)).unwrap();
        // Both out: in use, so a success grows the limit.
        let a = l.try_acquire(at(0)).unwrap();
        let b = l.try_acquire(at(0)).unwrap();
        l.record(b, Outcome::Success, at(1));
        assert_eq!((l.limit(), l.in_flight()), (3, 1));
        l.record(a, Outcome::Ignored, at(1));
        assert_eq!((l.limit(), l.in_flight()), (3, 0));
        let p = l.try_acquire(at(2)).unwrap();
        l.record(p, Outcome::Failure, at(3));
        assert_eq!(l.limit(), 2);
        let p = l.try_acquire(at(4)).unwrap();
        l.record(p, Outcome::TimedOut, at(5));
        assert_eq!((l.limit(), l.in_flight()), (1, 0));
    }

    #[test]
    fn validation_names_the_field() {
        let field = |c: Config| AdaptiveLimit::new(c).unwrap_err().field;
        assert_eq!(field(Config::new().with_limits(300, 1, 200)), "initial");
        assert_eq!(field(Config::new().with_smoothing(0)), "smoothing_permille");
        let a = Algorithm::Aimd {
            backoff_permille: 1000,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(field(Config::new().with_algorithm(a)), "backoff_permille");
        let a = Algorithm::Aimd {
            backoff_permille: 500,
            timeout: Duration::ZERO,
        };
        assert_eq!(field(Config::new().with_algorithm(a)), "timeout");
        assert!(AdaptiveLimit::new(Config::DEFAULT).is_ok());
    }
}
