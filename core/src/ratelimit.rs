//! Rate limiter: the generic cell rate algorithm (GCRA), exact in integers.
//!
//! A limiter admits `count` calls per `period` on average and up to `burst`
//! calls at once after a quiet spell. It keeps one instant, the *theoretical
//! arrival time* (TAT): the moment the limiter would be empty again if calls
//! kept arriving at exactly the rate. A call at `now` is admitted when
//! `max(TAT, now) + T ≤ now + burst × T`, where `T = period / count` is the
//! emission interval; admitting it moves the TAT on by `T`. A refusal says when
//! to come back: the first instant at which the same call would be admitted.
//!
//! `T` need not be a whole number of microseconds (3 per second is 333 333⅓ µs):
//! the TAT is kept as microseconds plus a fraction in `count`ths, so a caller
//! that keeps the limiter busy gets exactly `count` calls per `period` over any
//! span, never drifting by rounding. A caller that arrives after the TAT
//! restarts the schedule from its own arrival, as in every GCRA. No division on
//! the path that checks a call. Instants saturate at [`Instant::MAX`].
//!
//! * **Bursty** (the default, as in governor): `burst = count`, so a limiter
//!   idle for a period admits a whole period's calls at once.
//! * **Smooth**: [`Config::smooth`] (`burst = 1`) spaces calls `T` apart.
//!
//! ```
//! use steadfast::ratelimit::{Config, RateLimiter};
//! use steadfast::time::{Duration, Instant};
//!
//! // 2 calls per second, a burst of 2.
//! let mut limiter = RateLimiter::new(Config::per_second(2))?;
//! let t0 = Instant::ZERO;
//! assert!(limiter.check(t0).is_ok());
//! assert!(limiter.check(t0).is_ok());
//! let refused = limiter.check(t0).unwrap_err();
//! assert_eq!(refused.retry_at, Some(Instant::from_millis(500))); // one cell back every 500 ms
//! assert!(limiter.check(Instant::from_millis(499)).is_err());
//! assert!(limiter.check(Instant::from_millis(500)).is_ok());
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use core::fmt;
use core::num::NonZeroU64;

use crate::error::ConfigError;
use crate::time::{Duration, Instant};

/// The settings of a [`RateLimiter`]: `count` calls per `period`, bursts of up
/// to `burst` calls.
///
/// ```
/// use steadfast::ratelimit::Config;
/// use steadfast::time::Duration;
///
/// const API: Config = Config::per_second(100).with_burst(20);
/// assert_eq!(API.count(), 100);
/// assert_eq!(API.period(), Duration::from_secs(1));
/// assert_eq!(API.burst(), 20);
/// assert_eq!(Config::per_minute(6).smooth().burst(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    count: u32,
    period: Duration,
    burst: u32,
}

impl Config {
    /// 100 calls per second, bursts of 100.
    ///
    /// ```
    /// # use steadfast::ratelimit::Config;
    /// assert_eq!(Config::DEFAULT, Config::per_second(100));
    /// ```
    pub const DEFAULT: Self = Self {
        count: 100,
        period: Duration::from_secs(1),
        burst: 100,
    };

    /// The defaults; start of a `const` builder chain (same as [`Config::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::ratelimit::Config;
    /// assert_eq!(Config::new(), Config::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Sets the rate, `count` calls per `period` (at least one, at most one
    /// per microsecond), **and** the burst to `count`; call
    /// [`with_burst`](Self::with_burst) afterwards for another burst.
    ///
    /// ```
    /// # use steadfast::ratelimit::Config;
    /// # use steadfast::time::Duration;
    /// let c = Config::DEFAULT.with_rate(3, Duration::from_secs(10));
    /// assert_eq!((c.count(), c.period(), c.burst()), (3, Duration::from_secs(10), 3));
    /// ```
    #[must_use]
    pub const fn with_rate(mut self, count: u32, period: Duration) -> Self {
        self.count = count;
        self.period = period;
        self.burst = count;
        self
    }

    /// `count` calls per second, with bursts of `count` calls: the default
    /// with [`with_rate`](Self::with_rate)`(count, 1 s)`.
    ///
    /// ```
    /// # use steadfast::ratelimit::Config;
    /// assert_eq!(Config::per_second(5).count(), 5);
    /// ```
    pub const fn per_second(count: u32) -> Self {
        Self::DEFAULT.with_rate(count, Duration::from_secs(1))
    }

    /// `count` calls per minute, with bursts of `count` calls: the default
    /// with [`with_rate`](Self::with_rate)`(count, 60 s)`.
    ///
    /// ```
    /// # use steadfast::ratelimit::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::per_minute(5).period(), Duration::from_secs(60));
    /// ```
    pub const fn per_minute(count: u32) -> Self {
        Self::DEFAULT.with_rate(count, Duration::from_secs(60))
    }

    /// Up to `burst` calls at once after a quiet spell (at least 1).
    #[must_use]
    pub const fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// No bursts: calls are admitted at most one per `period / count`.
    #[must_use]
    pub const fn smooth(self) -> Self {
        self.with_burst(1)
    }

    /// Calls per period.
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub const fn period(&self) -> Duration {
        self.period
    }

    /// The largest burst.
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    /// Checks the settings: `count` and `burst` at least 1, and a `period` of
    /// at least `count` microseconds (at most one call per microsecond).
    ///
    /// ```
    /// use steadfast::ratelimit::Config;
    /// use steadfast::time::Duration;
    ///
    /// assert_eq!(Config::per_second(0).validate().unwrap_err().field, "count");
    /// assert_eq!(Config::per_second(5).with_burst(0).validate().unwrap_err().field, "burst");
    /// assert_eq!(Config::DEFAULT.with_rate(10, Duration::from_micros(9)).validate().unwrap_err().field, "period");
    /// assert!(Config::DEFAULT.with_rate(10, Duration::from_micros(10)).validate().is_ok());
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.count == 0 {
            return Err(ConfigError::new("count", "must be at least 1"));
        }
        if self.burst == 0 {
            return Err(ConfigError::new("burst", "must be at least 1"));
        }
        if self.period.as_micros() < self.count as u64 {
            return Err(ConfigError::new(
                "period",
                "must allow at most one call per microsecond",
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    /// [`Config::DEFAULT`]: 100 calls per second, bursts of 100.
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An instant or a span kept as whole microseconds plus `frac / count` of one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Tick {
    us: u64,
    /// Always below the limiter's `count`.
    frac: u32,
}

impl Tick {
    const MAX: Self = Self {
        us: u64::MAX,
        frac: 0,
    };

    const fn whole(us: u64) -> Self {
        Self { us, frac: 0 }
    }

    /// `self + other`, saturating at [`Tick::MAX`]; `count` is the fraction's base.
    const fn add(self, other: Self, count: u32) -> Self {
        let frac = self.frac as u64 + other.frac as u64;
        let (carry, frac) = if frac >= count as u64 {
            (1, frac - count as u64)
        } else {
            (0, frac)
        };
        match self.us.checked_add(other.us) {
            Some(us) => match us.checked_add(carry) {
                Some(us) => Self {
                    us,
                    frac: frac as u32,
                },
                None => Self::MAX,
            },
            None => Self::MAX,
        }
    }

    /// `self - other` for `other ≤ self`; `count` is the fraction's base.
    const fn sub(self, other: Self, count: u32) -> Self {
        let (borrow, frac) = if self.frac >= other.frac {
            (0, self.frac - other.frac)
        } else {
            (
                1,
                (self.frac as u64 + count as u64 - other.frac as u64) as u32,
            )
        };
        Self {
            us: self.us.saturating_sub(other.us).saturating_sub(borrow),
            frac,
        }
    }

    /// `span × n` for a span `q + r / count`; `count` is the fraction's base.
    const fn times(q: u64, r: u32, n: u32, count: u32) -> Self {
        let whole = match q.checked_mul(n as u64) {
            Some(w) => w,
            None => return Self::MAX,
        };
        let parts = r as u64 * n as u64;
        let us = match whole.checked_add(parts / count as u64) {
            Some(us) => us,
            None => return Self::MAX,
        };
        Self {
            us,
            frac: (parts % count as u64) as u32,
        }
    }
}

/// A refused call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Refused {
    /// The first instant at which the same call would be admitted; `None` when
    /// it never can be (it asks for more cells than the burst).
    pub retry_at: Option<Instant>,
}

impl fmt::Display for Refused {
    /// `rate limited, retry at t=1.5s` or `rate limited: more than the burst`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.retry_at {
            Some(at) => write!(f, "rate limited, retry at {at}"),
            None => f.write_str("rate limited: more than the burst"),
        }
    }
}

impl core::error::Error for Refused {}

/// A GCRA rate limiter (see the [module](self) documentation).
///
/// No allocation, no float, no division when checking a call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateLimiter {
    /// The emission interval `T = period / count`.
    interval: Tick,
    /// `burst × T`: how far ahead of `now` the TAT may run.
    limit: Tick,
    count: u32,
    burst: u32,
    /// The theoretical arrival time.
    tat: Tick,
    /// The latest `now` seen.
    seen: Instant,
}

impl RateLimiter {
    /// A limiter with no calls made yet: a full burst is available.
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`.
    pub const fn new(config: Config) -> Result<Self, ConfigError> {
        if let Err(e) = config.validate() {
            return Err(e);
        }
        let period = config.period.as_micros();
        let count = config.count;
        let q = period / count as u64;
        let r = (period % count as u64) as u32;
        Ok(Self {
            interval: Tick { us: q, frac: r },
            limit: Tick::times(q, r, config.burst, count),
            count,
            burst: config.burst,
            tat: Tick::whole(0),
            seen: Instant::ZERO,
        })
    }

    /// The settings it was built from.
    pub const fn config(&self) -> Config {
        let period = match self.interval.us.checked_mul(self.count as u64) {
            Some(us) => us.saturating_add(self.interval.frac as u64),
            None => u64::MAX,
        };
        Config {
            count: self.count,
            period: Duration::from_micros(period),
            burst: self.burst,
        }
    }

    fn observe(&mut self, now: Instant) -> Tick {
        self.seen = self.seen.max(now);
        Tick::whole(self.seen.as_micros())
    }

    /// Admits one call at `now`, or says when to come back.
    ///
    /// ```
    /// use steadfast::ratelimit::{Config, RateLimiter};
    /// use steadfast::time::Instant;
    ///
    /// // Smooth: 10 per second, one every 100 ms.
    /// let mut limiter = RateLimiter::new(Config::per_second(10).smooth())?;
    /// assert!(limiter.check(Instant::from_millis(0)).is_ok());
    /// let refused = limiter.check(Instant::from_millis(30)).unwrap_err();
    /// assert_eq!(refused.retry_at, Some(Instant::from_millis(100)));
    /// assert!(limiter.check(Instant::from_millis(100)).is_ok());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Refused`] with the instant at which a call would be admitted.
    #[inline]
    pub fn check(&mut self, now: Instant) -> Result<(), Refused> {
        if now > self.seen {
            self.seen = now;
        }
        self.admit(self.seen.as_micros(), self.interval)
    }

    /// Moves the TAT on by `cost` from `max(TAT, t)` if it stays within `limit`
    /// of `t`; otherwise says when it would.
    #[inline(always)]
    fn admit(&mut self, t: u64, cost: Tick) -> Result<(), Refused> {
        // `t` has no fraction, and both fractions are below `count`.
        let (us, frac) = if self.tat.us >= t {
            (self.tat.us, self.tat.frac)
        } else {
            (t, 0)
        };
        let frac = u64::from(frac) + u64::from(cost.frac);
        let carry = u64::from(frac >= u64::from(self.count));
        let frac = (frac - carry * u64::from(self.count)) as u32;
        // How far past `t` the TAT would move; admitted when that is at most `limit`.
        let Some(ahead) = (us - t)
            .checked_add(cost.us)
            .and_then(|a| a.checked_add(carry))
        else {
            return Err(Refused {
                retry_at: Some(Instant::MAX),
            });
        };
        if ahead > self.limit.us || (ahead == self.limit.us && frac > self.limit.frac) {
            // Admitted `ahead − limit` later, rounded up to a whole microsecond.
            let borrow = u64::from(frac < self.limit.frac);
            let round_up = u64::from(frac != self.limit.frac);
            let wait = ahead - self.limit.us - borrow + round_up;
            return Err(Refused {
                retry_at: Some(Instant::from_micros(t.saturating_add(wait))),
            });
        }
        self.tat = Tick {
            us: t.saturating_add(ahead),
            frac,
        };
        Ok(())
    }

    /// Admits `n` calls at once at `now` (all or none), or says when to come back.
    ///
    /// ```
    /// use steadfast::ratelimit::{Config, RateLimiter};
    /// use steadfast::time::Instant;
    ///
    /// let mut limiter = RateLimiter::new(Config::per_second(4))?;
    /// assert!(limiter.check_n(3, Instant::ZERO).is_ok());
    /// // 1 cell left; 2 more come back after 250 ms each.
    /// assert_eq!(limiter.check_n(3, Instant::ZERO).unwrap_err().retry_at, Some(Instant::from_millis(500)));
    /// assert_eq!(limiter.check_n(5, Instant::ZERO).unwrap_err().retry_at, None); // above the burst
    /// assert!(limiter.check_n(0, Instant::ZERO).is_ok());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Refused`]: with the instant at which the `n` calls would be admitted, or
    /// with none when `n` is more than the burst.
    pub fn check_n(&mut self, n: u32, now: Instant) -> Result<(), Refused> {
        let t = self.observe(now);
        if n > self.burst {
            return Err(Refused { retry_at: None });
        }
        if n == 0 {
            return Ok(());
        }
        let cost = Tick::times(self.interval.us, self.interval.frac, n, self.count);
        self.admit(t.us, cost)
    }

    /// How many calls it would admit at `now`, one by one, without waiting.
    ///
    /// ```
    /// use steadfast::ratelimit::{Config, RateLimiter};
    /// use steadfast::time::Instant;
    ///
    /// let mut limiter = RateLimiter::new(Config::per_second(4))?;
    /// assert_eq!(limiter.available(Instant::ZERO), 4);
    /// limiter.check_n(3, Instant::ZERO).unwrap();
    /// assert_eq!(limiter.available(Instant::ZERO), 1);
    /// assert_eq!(limiter.available(Instant::from_millis(250)), 2);
    /// assert_eq!(limiter.available(Instant::from_secs(10)), 4);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn available(&self, now: Instant) -> u32 {
        let t = Tick::whole(self.seen.max(now).as_micros());
        let tat = if self.tat > t { self.tat } else { t };
        let horizon = t.add(self.limit, self.count);
        if tat >= horizon {
            return 0;
        }
        let room = horizon.sub(tat, self.count);
        // In `count`ths of a microsecond, the interval is the period.
        let period = self.interval.us * u64::from(self.count) + u64::from(self.interval.frac);
        let scaled = room
            .us
            .checked_mul(u64::from(self.count))
            .and_then(|s| s.checked_add(u64::from(room.frac)));
        match scaled {
            Some(s) if period > 0 => {
                u32::try_from(s / period).map_or(self.burst, |n| n.min(self.burst))
            }
            _ => self.burst,
        }
    }

    /// Forgets every call: a full burst is available again.
    pub fn reset(&mut self) {
        self.tat = Tick::whole(0);
    }
}

/// A [`RateLimiter`] whose whole state is one `u64` that the caller keeps, so
/// that a limiter shared between threads advances it with a single
/// compare-and-swap (steadfast-std's `SharedRateLimiter` does).
///
/// The state is the theoretical arrival time in ticks of `1 / ticks_per_us`
/// of a microsecond, where `ticks_per_us = count / gcd(count, period in µs)`:
/// the interval `period / count` is then a whole number of ticks, and every
/// decision is exactly [`RateLimiter`]'s for the same instants (the same
/// admissions, the same `retry_at`). Not every setting packs:
/// [`Packed::new`] answers `None` when `ticks_per_us` is above
/// [`MAX_TICKS_PER_US`](Self::MAX_TICKS_PER_US) (a count that shares almost
/// no factor with a period in microseconds) or a burst's span does not fit
/// in 64 bits; keep a [`RateLimiter`] then. Near [`horizon`](Self::horizon)
/// (over 142 years), within two bursts' span of it, and past it, calls are
/// refused with `retry_at` [`Instant::MAX`].
///
/// Unlike a [`RateLimiter`], it keeps no highest instant seen: a caller
/// whose clock reads earlier than another's latest check is judged at its
/// own reading (a little stricter, never more lenient).
///
/// ```
/// use steadfast::ratelimit::{Config, Packed, RateLimiter};
/// use steadfast::time::Instant;
///
/// let config = Config::per_second(3).with_burst(2);
/// let packed = Packed::new(config)?.expect("3 per second packs");
/// let mut limiter = RateLimiter::new(config)?;
/// let mut state = Packed::EMPTY;
/// for ms in [0, 0, 0, 300, 333, 334, 1_000] {
///     let now = Instant::from_millis(ms);
///     let expected = limiter.check(now);
///     match packed.check(state, now) {
///         Ok(next) => { assert!(expected.is_ok()); state = next }
///         Err(refused) => assert_eq!(Err(refused), expected),
///     }
/// }
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Packed {
    /// Ticks per microsecond.
    per_us: NonZeroU64,
    /// The interval `period / count`, in ticks.
    interval: u64,
    /// `burst × interval`, in ticks.
    limit: u64,
    burst: u32,
    config: Config,
}

impl Packed {
    /// The most ticks per microsecond a packed limiter takes: its horizon is
    /// then at least 2⁵² µs, over 142 years.
    pub const MAX_TICKS_PER_US: u64 = 4_096;

    /// The state of a limiter that has seen nothing: a whole burst available.
    pub const EMPTY: u64 = 0;

    /// The packed arithmetic of `config`, `None` when it does not pack (see
    /// the [type](Self) documentation).
    ///
    /// ```
    /// use steadfast::ratelimit::{Config, Packed};
    /// use steadfast::time::Duration;
    /// assert!(Packed::new(Config::per_second(1_000_000))?.is_some());
    /// // 999 983 (a prime) calls per second: a tick of a 999 983th of a microsecond.
    /// assert!(Packed::new(Config::per_second(999_983))?.is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`.
    pub const fn new(config: Config) -> Result<Option<Self>, ConfigError> {
        if let Err(e) = config.validate() {
            return Err(e);
        }
        let period = config.period.as_micros();
        let count = config.count as u64;
        let g = gcd(period, count);
        let per_us = count / g;
        if per_us > Self::MAX_TICKS_PER_US {
            return Ok(None);
        }
        let interval = period / g;
        let Some(limit) = interval.checked_mul(config.burst as u64) else {
            return Ok(None);
        };
        let Some(per_us) = NonZeroU64::new(per_us) else {
            return Ok(None);
        };
        Ok(Some(Self {
            per_us,
            interval,
            limit,
            burst: config.burst,
            config,
        }))
    }

    /// The settings.
    pub const fn config(&self) -> Config {
        self.config
    }

    /// The last instant a packed limiter judges: `u64::MAX / ticks_per_us` µs.
    pub const fn horizon(&self) -> Instant {
        Instant::from_micros(u64::MAX / self.per_us.get())
    }

    /// Admits one call at `now` from `state`, answering the state after it,
    /// or says when the same call would be admitted. What
    /// [`RateLimiter::check`] decides; no division unless refused.
    ///
    /// # Errors
    ///
    /// [`Refused`] with the first instant at which the call is admitted.
    #[inline]
    pub fn check(&self, state: u64, now: Instant) -> Result<u64, Refused> {
        self.admit(state, now, self.interval)
    }

    /// Admits `n` calls at once (all or none); what [`RateLimiter::check_n`] decides.
    ///
    /// # Errors
    ///
    /// [`Refused`]: when to come back, or never for more than a burst.
    pub fn check_n(&self, state: u64, n: u32, now: Instant) -> Result<u64, Refused> {
        if n > self.burst {
            return Err(Refused { retry_at: None });
        }
        if n == 0 {
            return Ok(state);
        }
        // At most `limit`: `n ≤ burst`.
        self.admit(state, now, self.interval * u64::from(n))
    }

    /// How many calls it would admit at `now` from `state`, one by one;
    /// what [`RateLimiter::available`] answers.
    pub fn available(&self, state: u64, now: Instant) -> u32 {
        let Some(t) = now.as_micros().checked_mul(self.per_us.get()) else {
            return 0;
        };
        let tat = if state > t { state } else { t };
        let Some(horizon) = t.checked_add(self.limit) else {
            return self.burst;
        };
        if tat >= horizon {
            return 0;
        }
        match NonZeroU64::new(self.interval) {
            Some(interval) => {
                u32::try_from((horizon - tat) / interval).map_or(self.burst, |n| n.min(self.burst))
            }
            None => self.burst,
        }
    }

    #[inline(always)]
    fn admit(&self, tat: u64, now: Instant, cost: u64) -> Result<u64, Refused> {
        let never = Refused {
            retry_at: Some(Instant::MAX),
        };
        let Some(t) = now.as_micros().checked_mul(self.per_us.get()) else {
            return Err(never);
        };
        let base = if tat > t { tat } else { t };
        let Some(next) = base.checked_add(cost) else {
            return Err(never);
        };
        if next - t > self.limit {
            // Admitted once `t' ≥ next − limit`, at the first whole microsecond.
            let at = (next - self.limit).div_ceil(self.per_us.get());
            return Err(Refused {
                retry_at: Some(Instant::from_micros(at)),
            });
        }
        Ok(next)
    }
}

/// The greatest common divisor, `gcd(0, b) = b`.
const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
