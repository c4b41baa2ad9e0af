//! The breaker's configuration: validated once, then never a reason to fail.

use core::marker::PhantomData;

use crate::error::ConfigError;
use crate::time::Duration;

use super::window::MAX_COUNT_LEN;
use super::window::sealed::Kind;

/// How a [`Breaker`](super::Breaker) judges its dependency and how it recovers.
///
/// One struct serves every detector; each field says which detector reads it.
/// Build it with [`Config::new`] (or [`Default`]) and the `const fn` `with_*`
/// methods, so a configuration can be a `const` or live in a `static`; the
/// breaker validates it in [`Breaker::new`](super::Breaker::new), which names the
/// offending field in its [`ConfigError`].
///
/// Defaults follow the seeds: 5 failures in a row open the breaker for 30 s,
/// half-open admits 3 probes and closes after 2 successes; window detectors
/// judge from 10 calls on and trip at a 50 % failure rate.
///
/// ```
/// use steadfast::breaker::{Breaker, Config, CountWindow};
/// use steadfast::time::Duration;
///
/// const CONFIG: Config = Config::new()
///     .with_failure_rate_percent(25)
///     .with_minimum_calls(20)
///     .with_slow_calls(Duration::from_millis(500), 80)
///     .with_break_duration(Duration::from_secs(10))
///     .with_break_growth(2, Duration::from_secs(160));
/// let breaker = Breaker::<CountWindow<64>>::new(CONFIG).unwrap();
/// assert_eq!(breaker.config().break_duration(), Duration::from_secs(10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct Config {
    /// See [`failure_threshold`](Self::failure_threshold).
    pub(crate) failure_threshold: u32,
    /// See [`minimum_calls`](Self::minimum_calls).
    pub(crate) minimum_calls: u32,
    /// See [`failure_rate_percent`](Self::failure_rate_percent).
    pub(crate) failure_rate_percent: u8,
    /// See [`slow_call_rate_percent`](Self::slow_call_rate_percent).
    pub(crate) slow_call_rate_percent: u8,
    /// See [`slow_call_duration`](Self::slow_call_duration).
    pub(crate) slow_call_duration: Duration,
    /// See [`window_duration`](Self::window_duration).
    pub(crate) window_duration: Duration,
    /// See [`break_duration`](Self::break_duration).
    pub(crate) break_duration: Duration,
    /// See [`break_multiplier`](Self::break_multiplier).
    pub(crate) break_multiplier: u16,
    /// See [`max_break_duration`](Self::max_break_duration).
    pub(crate) max_break_duration: Duration,
    /// See [`max_probes`](Self::max_probes).
    pub(crate) max_probes: u16,
    /// See [`success_threshold`](Self::success_threshold).
    pub(crate) success_threshold: u16,
    /// See [`max_half_open_wait`](Self::max_half_open_wait).
    pub(crate) max_half_open_wait: Duration,
    /// See [`metrics_only`](Self::metrics_only).
    pub(crate) metrics_only: bool,
}

impl Config {
    /// The defaults, as a constant (see [`Config`]).
    ///
    /// ```
    /// use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT, Config::default());
    /// assert_eq!(Config::DEFAULT.failure_threshold(), 5);
    /// ```
    pub const DEFAULT: Self = Self {
        failure_threshold: 5,
        minimum_calls: 10,
        failure_rate_percent: 50,
        slow_call_rate_percent: 100,
        slow_call_duration: Duration::MAX,
        window_duration: Duration::from_secs(60),
        break_duration: Duration::from_secs(30),
        break_multiplier: 1,
        max_break_duration: Duration::from_secs(300),
        max_probes: 3,
        success_threshold: 2,
        max_half_open_wait: Duration::from_secs(30),
        metrics_only: false,
    };

    /// The defaults; start of a `const` builder chain.
    ///
    /// ```
    /// use steadfast::breaker::Config;
    /// use steadfast::time::Duration;
    /// const C: Config = Config::new();
    /// assert_eq!(C.break_duration(), Duration::from_secs(30));
    /// assert_eq!((C.max_probes(), C.success_threshold()), (3, 2));
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Sets [`failure_threshold`](Self::failure_threshold).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::new().with_failure_threshold(3).failure_threshold(), 3);
    /// ```
    #[must_use]
    pub const fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures;
        self
    }

    /// Sets [`minimum_calls`](Self::minimum_calls).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::new().with_minimum_calls(20).minimum_calls(), 20);
    /// ```
    #[must_use]
    pub const fn with_minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = calls;
        self
    }

    /// Sets [`failure_rate_percent`](Self::failure_rate_percent).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::new().with_failure_rate_percent(25).failure_rate_percent(), 25);
    /// ```
    #[must_use]
    pub const fn with_failure_rate_percent(mut self, percent: u8) -> Self {
        self.failure_rate_percent = percent;
        self
    }

    /// Sets [`slow_call_duration`](Self::slow_call_duration) and
    /// [`slow_call_rate_percent`](Self::slow_call_rate_percent).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// let c = Config::new().with_slow_calls(Duration::from_secs(2), 60);
    /// assert_eq!((c.slow_call_duration(), c.slow_call_rate_percent()), (Duration::from_secs(2), 60));
    /// ```
    #[must_use]
    pub const fn with_slow_calls(mut self, slower_than: Duration, rate_percent: u8) -> Self {
        self.slow_call_duration = slower_than;
        self.slow_call_rate_percent = rate_percent;
        self
    }

    /// Sets [`window_duration`](Self::window_duration).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// let c = Config::new().with_window_duration(Duration::from_secs(10));
    /// assert_eq!(c.window_duration(), Duration::from_secs(10));
    /// ```
    #[must_use]
    pub const fn with_window_duration(mut self, window: Duration) -> Self {
        self.window_duration = window;
        self
    }

    /// Sets [`break_duration`](Self::break_duration) **and**
    /// [`max_half_open_wait`](Self::max_half_open_wait) (whose default is the base
    /// break), and raises [`max_break_duration`](Self::max_break_duration) to
    /// `break_duration` if it was shorter. Call
    /// [`with_max_half_open_wait`](Self::with_max_half_open_wait) afterwards to
    /// set a different hung-probe wait.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// let c = Config::new().with_break_duration(Duration::from_secs(600));
    /// assert_eq!(c.max_half_open_wait(), Duration::from_secs(600));
    /// assert_eq!(c.max_break_duration(), Duration::from_secs(600));
    /// ```
    #[must_use]
    pub const fn with_break_duration(mut self, open_for: Duration) -> Self {
        self.break_duration = open_for;
        self.max_half_open_wait = open_for;
        self.max_break_duration = self.max_break_duration.max(open_for);
        self
    }

    /// Sets [`break_multiplier`](Self::break_multiplier) and
    /// [`max_break_duration`](Self::max_break_duration).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// let c = Config::new().with_break_growth(2, Duration::from_secs(240));
    /// assert_eq!((c.break_multiplier(), c.max_break_duration()), (2, Duration::from_secs(240)));
    /// ```
    #[must_use]
    pub const fn with_break_growth(mut self, multiplier: u16, max_break: Duration) -> Self {
        self.break_multiplier = multiplier;
        self.max_break_duration = max_break;
        self
    }

    /// Sets [`max_probes`](Self::max_probes) and
    /// [`success_threshold`](Self::success_threshold).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// let c = Config::new().with_probes(1, 1);
    /// assert_eq!((c.max_probes(), c.success_threshold()), (1, 1));
    /// ```
    #[must_use]
    pub const fn with_probes(mut self, max_probes: u16, success_threshold: u16) -> Self {
        self.max_probes = max_probes;
        self.success_threshold = success_threshold;
        self
    }

    /// Sets [`max_half_open_wait`](Self::max_half_open_wait).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// let c = Config::new().with_max_half_open_wait(Duration::from_secs(5));
    /// assert_eq!(c.max_half_open_wait(), Duration::from_secs(5));
    /// ```
    #[must_use]
    pub const fn with_max_half_open_wait(mut self, wait: Duration) -> Self {
        self.max_half_open_wait = wait;
        self
    }

    /// Sets [`metrics_only`](Self::metrics_only): judge and report, never reject.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, State};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let config = Config::new().with_failure_threshold(1).with_metrics_only(true);
    /// let mut shadow: Breaker = Breaker::new(config).unwrap();
    /// let p = shadow.try_acquire(Instant::ZERO).unwrap();
    /// assert!(shadow.record(p, Outcome::Failure, Instant::ZERO).is_some()); // would trip
    /// assert!(matches!(shadow.state(), State::Open { .. }));
    /// let p = shadow.try_acquire(Instant::from_secs(1)).unwrap(); // but admits
    /// assert_eq!(shadow.stats().rejections, 1); // a call a live breaker refuses
    /// # shadow.cancel(p, Instant::from_secs(1));
    /// ```
    #[must_use]
    pub const fn with_metrics_only(mut self, metrics_only: bool) -> Self {
        self.metrics_only = metrics_only;
        self
    }

    /// Sets [`slow_call_rate_percent`](Self::slow_call_rate_percent).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::new().with_slow_call_rate_percent(80).slow_call_rate_percent(), 80);
    /// ```
    #[must_use]
    pub const fn with_slow_call_rate_percent(mut self, percent: u8) -> Self {
        self.slow_call_rate_percent = percent;
        self
    }

    /// Sets [`slow_call_duration`](Self::slow_call_duration).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::new().with_slow_call_duration(Duration::from_secs(2)).slow_call_duration(), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub const fn with_slow_call_duration(mut self, slower_than: Duration) -> Self {
        self.slow_call_duration = slower_than;
        self
    }

    /// Sets [`break_multiplier`](Self::break_multiplier).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::new().with_break_multiplier(2).break_multiplier(), 2);
    /// ```
    #[must_use]
    pub const fn with_break_multiplier(mut self, multiplier: u16) -> Self {
        self.break_multiplier = multiplier;
        self
    }

    /// Sets [`max_break_duration`](Self::max_break_duration).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::new().with_max_break_duration(Duration::from_secs(240)).max_break_duration(), Duration::from_secs(240));
    /// ```
    #[must_use]
    pub const fn with_max_break_duration(mut self, max_break: Duration) -> Self {
        self.max_break_duration = max_break;
        self
    }

    /// Sets [`max_probes`](Self::max_probes).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::new().with_max_probes(5).max_probes(), 5);
    /// ```
    #[must_use]
    pub const fn with_max_probes(mut self, max_probes: u16) -> Self {
        self.max_probes = max_probes;
        self
    }

    /// Sets [`success_threshold`](Self::success_threshold).
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::new().with_success_threshold(1).success_threshold(), 1);
    /// ```
    #[must_use]
    pub const fn with_success_threshold(mut self, successes: u16) -> Self {
        self.success_threshold = successes;
        self
    }

    /// [`Consecutive`](super::Consecutive) only: this many failures in a row
    /// (a timeout counts as a failure; an ignored call neither counts nor breaks
    /// the run; a success ends it) open the breaker. Default 5; must be ≥ 1.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT.failure_threshold(), 5);
    /// ```
    pub const fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// Window detectors only: the window is not judged before it holds this many
    /// calls (successes and failures; ignored calls do not count). For a
    /// [`CountWindow`](super::CountWindow) a value above the window's length
    /// (`N`, or the length chosen with
    /// [`CountWindow::with_len`](super::CountWindow::with_len)) means that
    /// length: a full window is always judged. Default 10; must be ≥ 1.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT.minimum_calls(), 10);
    /// ```
    pub const fn minimum_calls(&self) -> u32 {
        self.minimum_calls
    }

    /// Window detectors only: the breaker trips when
    /// `failures × 100 ≥ failure_rate_percent × calls` (integer, exact).
    /// The check runs after **every** recorded outcome, success or failure, so a
    /// window that reaches `minimum_calls` on a success still trips.
    /// Default 50; must be in `1..=100`.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT.failure_rate_percent(), 50);
    /// ```
    pub const fn failure_rate_percent(&self) -> u8 {
        self.failure_rate_percent
    }

    /// Window detectors only: the breaker also trips when
    /// `slow calls × 100 ≥ slow_call_rate_percent × calls`, checked like
    /// [`failure_rate_percent`](Self::failure_rate_percent).
    /// Default 100; must be in `1..=100`.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT.slow_call_rate_percent(), 100);
    /// ```
    pub const fn slow_call_rate_percent(&self) -> u8 {
        self.slow_call_rate_percent
    }

    /// A call whose permit was issued more than this long before its outcome was
    /// recorded (strictly longer) is slow; a [`TimedOut`](crate::outcome::Outcome::TimedOut)
    /// call is always slow. Slow calls are counted in [`Stats`](super::Stats) by
    /// every detector and judged by the window detectors.
    /// Default [`Duration::MAX`]: only timeouts are slow.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::DEFAULT.slow_call_duration(), Duration::MAX);
    /// ```
    pub const fn slow_call_duration(&self) -> Duration {
        self.slow_call_duration
    }

    /// [`TimeWindow<K>`](super::TimeWindow) only: the span the `K` buckets cover
    /// together; each bucket covers `window_duration / K` (truncated, at least
    /// 1 µs, so it must be ≥ `K` µs). Default 60 s.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::DEFAULT.window_duration(), Duration::from_secs(60));
    /// ```
    pub const fn window_duration(&self) -> Duration {
        self.window_duration
    }

    /// How long the breaker stays open after its first trip. When it reaches the
    /// end, `Open { until }` admits a probe at `now >= until` (inclusive: a caller
    /// who comes back exactly at the advertised `retry_at` gets in).
    /// Default 30 s; must be longer than zero.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::DEFAULT.break_duration(), Duration::from_secs(30));
    /// ```
    pub const fn break_duration(&self) -> Duration {
        self.break_duration
    }

    /// Each re-open without closing in between multiplies the break by this
    /// integer (`break_duration × multiplier^n`, saturating), capped at
    /// [`max_break_duration`](Self::max_break_duration); closing resets it to
    /// `break_duration`. Default 1 (constant breaks); must be ≥ 1.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT.break_multiplier(), 1);
    /// ```
    pub const fn break_multiplier(&self) -> u16 {
        self.break_multiplier
    }

    /// The cap of a growing break. Default 300 s; must be ≥ `break_duration`.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::DEFAULT.max_break_duration(), Duration::from_secs(300));
    /// ```
    pub const fn max_break_duration(&self) -> Duration {
        self.max_break_duration
    }

    /// Half-open admits at most this many probes per episode (a probe that is
    /// cancelled or ends [`Ignored`](crate::outcome::Outcome::Ignored) gives its
    /// slot back; a probe that succeeded keeps it). Default 3; must be ≥ 1.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT.max_probes(), 3);
    /// ```
    pub const fn max_probes(&self) -> u16 {
        self.max_probes
    }

    /// Half-open closes after this many successful probes in the same episode;
    /// any failed probe re-opens at once. Default 2; must be in `1..=max_probes`.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT.success_threshold(), 2);
    /// ```
    pub const fn success_threshold(&self) -> u16 {
        self.success_threshold
    }

    /// A hung-probe guard: when a probe is issued while no other probe is
    /// outstanding, a deadline of `now + max_half_open_wait` starts; if it passes
    /// while any probe of the episode is still outstanding, the episode counts as
    /// failed and the breaker re-opens (with a grown break) from the deadline.
    /// When every outstanding probe has reported, the deadline is cleared, so a
    /// slow trickle of callers is never punished. Default: the base break
    /// duration (30 s; [`with_break_duration`](Self::with_break_duration) sets
    /// both); must be longer than zero.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::DEFAULT.max_half_open_wait(), Duration::from_secs(30));
    /// ```
    pub const fn max_half_open_wait(&self) -> Duration {
        self.max_half_open_wait
    }

    /// Metrics-only (shadow) mode, resilience4j's `METRICS_ONLY`, for rolling a
    /// breaker out safely: it judges, trips, probes and closes exactly as a
    /// live breaker fed the same calls would, and returns the same
    /// [`Transition`](super::Transition)s, but
    /// [`try_acquire`](super::Breaker::try_acquire) never rejects. A call a live
    /// breaker would have refused (open, forced open, half-open with every probe
    /// slot taken) is admitted with a permit whose outcome changes nothing (the
    /// live breaker never saw that call), and is counted in
    /// [`Stats::rejections`](super::Stats::rejections) as well as
    /// [`Stats::calls`](super::Stats::calls). Default `false`.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert_eq!(Config::DEFAULT.metrics_only(), false);
    /// ```
    pub const fn metrics_only(&self) -> bool {
        self.metrics_only
    }

    /// Checks the fields every detector reads (the breaker also checks the ones
    /// its detector reads); the error names the first bad field.
    ///
    /// ```
    /// # use steadfast::breaker::Config;
    /// assert!(Config::new().validate().is_ok());
    /// let err = Config::new().with_probes(2, 3).validate().unwrap_err();
    /// assert_eq!(err.field, "success_threshold");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.break_duration.is_zero() {
            return Err(ConfigError::new(
                "break_duration",
                "must be longer than zero",
            ));
        }
        if self.break_multiplier == 0 {
            return Err(ConfigError::new("break_multiplier", "must be at least 1"));
        }
        if self.max_break_duration.as_micros() < self.break_duration.as_micros() {
            return Err(ConfigError::new(
                "max_break_duration",
                "must not be shorter than break_duration",
            ));
        }
        if self.max_probes == 0 {
            return Err(ConfigError::new("max_probes", "must be at least 1"));
        }
        if self.success_threshold == 0 {
            return Err(ConfigError::new("success_threshold", "must be at least 1"));
        }
        if self.success_threshold > self.max_probes {
            return Err(ConfigError::new(
                "success_threshold",
                "must not exceed max_probes (half-open could never close)",
            ));
        }
        if self.max_half_open_wait.is_zero() {
            return Err(ConfigError::new(
                "max_half_open_wait",
                "must be longer than zero",
            ));
        }
        Ok(())
    }

    /// [`validate`](Self::validate) plus the fields of one detector.
    pub(crate) const fn validate_for(&self, kind: Kind) -> Result<(), ConfigError> {
        if let Err(e) = self.validate() {
            return Err(e);
        }
        match kind {
            Kind::Consecutive => {
                if self.failure_threshold == 0 {
                    return Err(ConfigError::new("failure_threshold", "must be at least 1"));
                }
                Ok(())
            }
            Kind::Count { len, words } => {
                if len == 0 {
                    return Err(ConfigError::new(
                        "CountWindow::N",
                        "window must hold at least 1 call",
                    ));
                }
                if len > MAX_COUNT_LEN {
                    return Err(ConfigError::new("CountWindow::N", "must be at most 32768"));
                }
                if len.div_ceil(64) > words {
                    return Err(ConfigError::new(
                        "CountWindow::WORDS",
                        "too few 64-bit words for N calls: need WORDS >= N.div_ceil(64)",
                    ));
                }
                self.validate_rates()
            }
            Kind::Time { buckets } => {
                if buckets == 0 {
                    return Err(ConfigError::new(
                        "TimeWindow::K",
                        "must have at least 1 bucket",
                    ));
                }
                if self.window_duration.is_zero() {
                    return Err(ConfigError::new(
                        "window_duration",
                        "must be longer than zero",
                    ));
                }
                if self.window_duration.as_micros() < buckets as u64 {
                    return Err(ConfigError::new(
                        "window_duration",
                        "must be at least K microseconds (each bucket ≥ 1 µs)",
                    ));
                }
                self.validate_rates()
            }
        }
    }

    const fn validate_rates(&self) -> Result<(), ConfigError> {
        if self.minimum_calls == 0 {
            return Err(ConfigError::new("minimum_calls", "must be at least 1"));
        }
        if self.failure_rate_percent == 0 || self.failure_rate_percent > 100 {
            return Err(ConfigError::new(
                "failure_rate_percent",
                "must be in 1..=100",
            ));
        }
        if self.slow_call_rate_percent == 0 || self.slow_call_rate_percent > 100 {
            return Err(ConfigError::new(
                "slow_call_rate_percent",
                "must be in 1..=100",
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    /// [`Config::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A breaker configuration fixed at compile time and named by a type, so a
/// breaker that reads it through [`Fixed<Self>`] stores none of it.
///
/// ```
/// use steadfast::breaker::{Breaker, Config, ConstConfig, Consecutive, Fixed, NoStats};
///
/// struct Pump;
/// impl ConstConfig for Pump {
///     const CONFIG: Config = Config::new().with_failure_threshold(3);
/// }
/// let b = Breaker::<Consecutive, NoStats, Fixed<Pump>>::fixed().unwrap();
/// assert_eq!(b.config().failure_threshold(), 3);
/// ```
pub trait ConstConfig {
    /// The configuration; validated by [`Breaker::fixed`](super::Breaker::fixed).
    const CONFIG: Config;
}

/// The configuration `T::CONFIG` ([`ConstConfig`]), in zero bytes: the
/// configuration parameter of a breaker that holds none of its own.
///
/// ```
/// use steadfast::breaker::{Config, ConstConfig, Fixed};
///
/// struct Valve;
/// impl ConstConfig for Valve {
///     const CONFIG: Config = Config::new();
/// }
/// assert_eq!(core::mem::size_of::<Fixed<Valve>>(), 0);
/// ```
pub struct Fixed<T>(PhantomData<fn() -> T>);

impl<T> Fixed<T> {
    /// The marker (it holds nothing).
    ///
    /// ```
    /// # use steadfast::breaker::{Config, ConstConfig, Fixed};
    /// # struct Valve;
    /// # impl ConstConfig for Valve { const CONFIG: Config = Config::new(); }
    /// assert_eq!(Fixed::<Valve>::new(), Fixed::<Valve>::default());
    /// ```
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

crate::marker::fixed_marker!(Fixed);

/// Where a [`Breaker`](super::Breaker) reads its configuration: a [`Config`]
/// it holds (the default) or a [`Fixed`] constant it holds nothing of. Sealed.
///
/// ```
/// use steadfast::breaker::{Config, ConfigSource, ConstConfig, Fixed};
///
/// struct Valve;
/// impl ConstConfig for Valve {
///     const CONFIG: Config = Config::new();
/// }
/// fn held<C: ConfigSource>() -> usize { core::mem::size_of::<C>() }
/// assert_eq!(held::<Fixed<Valve>>(), 0);
/// assert!(held::<Config>() > 0);
/// ```
pub trait ConfigSource: sealed::Source {}

impl ConfigSource for Config {}
impl<T: ConstConfig> ConfigSource for Fixed<T> {}

pub(crate) mod sealed {
    use super::{Config, ConstConfig, Fixed};

    /// The source's machinery, private to the crate (keeps `ConfigSource` sealed).
    pub trait Source: Clone + core::fmt::Debug + PartialEq + Eq {
        fn get(&self) -> &Config;
    }

    impl Source for Config {
        #[inline(always)]
        fn get(&self) -> &Config {
            self
        }
    }

    impl<T: ConstConfig> Source for Fixed<T> {
        #[inline(always)]
        fn get(&self) -> &Config {
            &T::CONFIG
        }
    }
}
