//! Circuit breaker: stop calling a dependency that is failing, probe it, recover.
//!
//! A [`Breaker`] is a pure state machine. Ask it for a [`Permit`] before each
//! call ([`try_acquire`](Breaker::try_acquire)), hand the permit back with the
//! call's [`Outcome`] ([`record`](Breaker::record)) or give it up
//! ([`cancel`](Breaker::cancel)); every method takes `now`, and state changes come
//! back as [`Transition`] values. [`poll_at`](Breaker::poll_at) says when a
//! deadline inside it expires; [`handle_timeout`](Breaker::handle_timeout) turns
//! that into an event.
//!
//! ```text
//!            trip (detector)                now >= until
//!  Closed ───────────────────▶ Open{until} ──────────────▶ HalfOpen
//!    ▲                           ▲   ▲                       │  │
//!    │  success_threshold        │   └── any failure, ───────┘  │
//!    │  successes                │       hung probe             │
//!    └───────────────────────────┼──────────────────────────────┘
//!   reset() from anywhere;  force_open() → ForcedOpen;  disable() → Disabled
//! ```
//!
//! [`Config::metrics_only`] runs a breaker in shadow: it judges and reports its
//! transitions exactly as it would live, and never rejects a call.
//! [`Breaker::counts`] says what its detector holds as of `now`.
//!
//! The detector is a type parameter: [`Consecutive`] (the default),
//! [`CountWindow<N>`] or [`TimeWindow<K>`]. A count window whose length is
//! known only at run time is a `CountWindow<N, WORDS>` storage built with
//! [`CountWindow::with_len`] and handed to [`Breaker::with_window`].
//!
//! Two more parameters let a breaker pay only for what it reads: its counters
//! ([`Stats`] by default, or [`NoStats`]: none, see
//! [`Breaker::without_stats`]) and where its configuration lives (a [`Config`]
//! it holds by default, or [`Fixed<C>`]: the constant `C::CONFIG` of a
//! [`ConstConfig`], see [`Breaker::fixed`]). Every choice decides alike.
//!
//! ```
//! use steadfast::breaker::{Breaker, Config, State};
//! use steadfast::outcome::Outcome;
//! use steadfast::time::Instant;
//!
//! let mut breaker: Breaker = Breaker::new(Config::new()).unwrap(); // 5 failures → 30 s open
//! for s in 0..5 {
//!     let now = Instant::from_secs(s);
//!     let permit = breaker.try_acquire(now).unwrap();
//!     if let Some(t) = breaker.record(permit, Outcome::Failure, now) {
//!         println!("{t}"); // t=4s: closed -> open until t=34s
//!     }
//! }
//! assert_eq!(breaker.state(), State::Open { until: Instant::from_secs(34) });
//! assert_eq!(breaker.try_acquire(Instant::from_secs(10)).unwrap_err().retry_at, Some(Instant::from_secs(34)));
//! assert!(breaker.try_acquire(Instant::from_secs(34)).is_ok()); // inclusive: a probe
//! ```

mod config;
mod state;
mod window;

#[cfg(test)]
mod tests;

use core::fmt;

pub use config::{Config, ConfigSource, ConstConfig, Fixed};
pub use state::{NoStats, State, Stats, StatsSlot, Transition};
pub use window::{Consecutive, CountWindow, TimeWindow, Window, WindowCounts};

use crate::error::ConfigError;
use crate::outcome::Outcome;
use crate::time::{Duration, Instant};
use state::sealed::Counter;
use state::{FlatState, Phase, Variant};
use window::sealed::{Kind, Sample};

/// The circuit breaker, generic over its failure detector `W`.
///
/// Single owner (`&mut self`); sharing it is the adapters' job. It is `Clone`
/// but deliberately not `Copy`, so a breaker is never updated through an
/// accidental copy. `Breaker::new` is a `const fn`, so a breaker can be a
/// `static` on a microcontroller.
///
/// Time: every method takes `now` and uses `max(now, the highest now seen)`,
/// so a clock that stands still or goes backwards never underflows and never
/// re-opens early. Arithmetic saturates at [`Instant::MAX`]; no input, clock or
/// call order panics.
///
/// ```
/// use steadfast::breaker::{Breaker, Config, CountWindow, TimeWindow};
/// use steadfast::time::Duration;
///
/// // Firmware: a const breaker, ready for a `static` behind a mutex.
/// // A bad config is a compile-time error, never a run-time one.
/// const BREAKER: Breaker = steadfast::valid!(Breaker::new(Config::new().with_failure_threshold(3)));
/// # let _ = BREAKER;
/// // Services: rate windows.
/// let by_count = Breaker::<CountWindow<100, 2>>::new(Config::new()).unwrap();
/// let by_time = Breaker::<TimeWindow<10>>::new(
///     Config::new().with_window_duration(Duration::from_secs(30)),
/// ).unwrap();
/// # let _ = (by_count, by_time);
/// ```
///
/// Not `Copy`:
///
/// ```compile_fail
/// # use steadfast::breaker::{Breaker, Config};
/// fn copy<T: Copy>() {}
/// copy::<Breaker>(); // error: `Breaker` is not `Copy`
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Breaker<W: Window = Consecutive, S: StatsSlot = Stats, C: ConfigSource = Config> {
    // The state is stored flat (see `Phase`) rather than as a `State`, which
    // saves 16 bytes of padding; `state()` rebuilds it exactly.
    phase: Phase,
    /// `until` when open, the hung-probe deadline when half-open and probing.
    deadline: Instant,
    probes_in_flight: u16,
    probe_successes: u16,
    last_now: Instant,
    /// Bumped on every entry into a state (and on `reset`); permits carry it.
    generation: u32,
    /// Opens since the breaker last closed: the exponent of the break growth.
    opens_in_a_row: u8,
    stats: S,
    window: W,
    config: C,
}

/// Permission to make one call, from [`Breaker::try_acquire`].
///
/// Hand it back exactly once: [`Breaker::record`] with the outcome, or
/// [`Breaker::cancel`] if the call was abandoned. It is neither `Clone` nor
/// `Copy`. It carries the breaker's generation: an outcome on a permit issued
/// before the breaker last changed state (or was reset) is **ignored entirely**
/// (no stats, no transition; Polly #217). Dropping a half-open probe's permit
/// leaves it outstanding until the hung-probe deadline.
///
/// The generation is a wrapping `u32`: a permit held across exactly 2³²
/// transitions would be mistaken for a fresh one.
///
/// ```
/// use steadfast::breaker::{Breaker, Config};
/// use steadfast::outcome::Outcome;
/// use steadfast::time::Instant;
///
/// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
/// let late = b.try_acquire(Instant::ZERO).unwrap();
/// assert_eq!(late.issued_at(), Instant::ZERO);
/// let _ = b.reset(Instant::from_secs(1));
/// assert!(b.record(late, Outcome::Failure, Instant::from_secs(2)).is_none());
/// assert_eq!(b.stats().failures, 0); // stale: ignored entirely
/// ```
///
/// Single use: a permit cannot be cloned or copied.
///
/// ```compile_fail
/// # use steadfast::breaker::{Breaker, Config};
/// # use steadfast::time::Instant;
/// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
/// let p = b.try_acquire(Instant::ZERO).unwrap();
/// let twice = p.clone(); // error: `Permit` is not `Clone`
/// ```
///
/// ```compile_fail
/// # use steadfast::breaker::{Breaker, Config};
/// # use steadfast::outcome::Outcome;
/// # use steadfast::time::Instant;
/// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
/// let p = b.try_acquire(Instant::ZERO).unwrap();
/// let _ = b.record(p, Outcome::Success, Instant::ZERO);
/// let _ = b.record(p, Outcome::Success, Instant::ZERO); // error: use of moved value
/// ```
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a permit must be handed back with `record` or `cancel`"]
pub struct Permit {
    generation: u32,
    issued_at: Instant,
    /// Admitted by a metrics-only breaker that would have refused the call.
    shadow: bool,
}

impl Permit {
    /// When the permit was issued (after the clock-max rule); slow-call
    /// detection measures from here.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// let p = b.try_acquire(Instant::from_secs(7)).unwrap();
    /// assert_eq!(p.issued_at(), Instant::from_secs(7));
    /// b.cancel(p, Instant::from_secs(7));
    /// ```
    pub const fn issued_at(&self) -> Instant {
        self.issued_at
    }

    /// The breaker generation it belongs to.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// let _ = b.force_open(Instant::ZERO);
    /// let _ = b.reset(Instant::ZERO);
    /// let q = b.try_acquire(Instant::ZERO).unwrap();
    /// assert_ne!(p.generation(), q.generation());
    /// # b.cancel(p, Instant::ZERO); b.cancel(q, Instant::ZERO);
    /// ```
    pub const fn generation(&self) -> u32 {
        self.generation
    }

    /// A permit of `generation` issued at `issued_at`, made outside the
    /// breaker: for an adapter that admits calls on a breaker's behalf without
    /// locking it (a lock-free mirror of its closed state, as steadfast-std's
    /// shared breaker has).
    ///
    /// The rule: a breaker takes any permit of its current
    /// [`generation`](Breaker::generation) as one it issued, and ignores one
    /// of another generation as stale. So make one only where the breaker
    /// itself would have issued it (it is closed or disabled in that
    /// generation), and count the call yourself: [`Stats::calls`] counts only
    /// the permits the breaker issued.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, Permit};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(1)).unwrap();
    /// let mirrored = Permit::issued(b.generation(), Instant::ZERO);
    /// assert!(b.record(mirrored, Outcome::Failure, Instant::ZERO).is_some()); // opened
    /// let stale = Permit::issued(b.generation().wrapping_sub(1), Instant::ZERO);
    /// assert_eq!(b.record(stale, Outcome::Failure, Instant::ZERO), None); // ignored
    /// ```
    pub const fn issued(generation: u32, issued_at: Instant) -> Self {
        Self {
            generation,
            issued_at,
            shadow: false,
        }
    }

    /// Whether a [metrics-only](Config::metrics_only) breaker admitted this
    /// call although a live breaker would have refused it (counted in
    /// [`Stats::rejections`]): an adapter can report the would-be rejection.
    /// Its outcome changes nothing.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(1).with_metrics_only(true)).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// assert!(!p.is_shadow());
    /// let _ = b.record(p, Outcome::Failure, Instant::ZERO); // would trip
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// assert!(p.is_shadow()); // a live breaker would have refused it
    /// # b.cancel(p, Instant::ZERO);
    /// ```
    pub const fn is_shadow(&self) -> bool {
        self.shadow
    }
}

/// What the [pipeline](crate::pipeline) asks of a circuit breaker: the four
/// calls of [`Breaker`]'s permit protocol, with the same contracts. [`Breaker`]
/// implements it; so can an adapter's shared breaker that locks a
/// [`Breaker`] only when it must (see [`Permit::issued`]).
///
/// ```
/// use steadfast::breaker::{Breaker, CircuitBreaker, Config};
/// use steadfast::outcome::Outcome;
/// use steadfast::time::Instant;
///
/// fn one_call(b: &mut impl CircuitBreaker, ok: bool, now: Instant) -> bool {
///     match b.try_acquire(now) {
///         Ok(p) => { let _ = b.record(p, if ok { Outcome::Success } else { Outcome::Failure }, now); true }
///         Err(_) => false,
///     }
/// }
/// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(1)).unwrap();
/// assert!(one_call(&mut b, false, Instant::ZERO));
/// assert!(!one_call(&mut b, true, Instant::ZERO)); // open now
/// ```
pub trait CircuitBreaker {
    /// See [`Breaker::handle_timeout`].
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, CircuitBreaker, Config};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// assert_eq!(CircuitBreaker::handle_timeout(&mut b, Instant::ZERO), None);
    /// ```
    fn handle_timeout(&mut self, now: Instant) -> Option<Transition>;

    /// See [`Breaker::try_acquire`].
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, CircuitBreaker, Config};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// let p = CircuitBreaker::try_acquire(&mut b, Instant::ZERO).unwrap();
    /// CircuitBreaker::cancel(&mut b, p, Instant::ZERO);
    /// ```
    fn try_acquire(&mut self, now: Instant) -> Result<Permit, Rejected>;

    /// See [`Breaker::record`].
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, CircuitBreaker, Config};
    /// # use steadfast::outcome::Outcome;
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// let p = CircuitBreaker::try_acquire(&mut b, Instant::ZERO).unwrap();
    /// assert_eq!(CircuitBreaker::record(&mut b, p, Outcome::Success, Instant::ZERO), None);
    /// ```
    fn record(&mut self, permit: Permit, outcome: Outcome, now: Instant) -> Option<Transition>;

    /// See [`Breaker::cancel`].
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, CircuitBreaker, Config};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// let p = CircuitBreaker::try_acquire(&mut b, Instant::ZERO).unwrap();
    /// CircuitBreaker::cancel(&mut b, p, Instant::ZERO);
    /// assert_eq!(b.stats().calls, 1);
    /// ```
    fn cancel(&mut self, permit: Permit, now: Instant);
}

impl<W: Window, S: StatsSlot, C: ConfigSource> CircuitBreaker for Breaker<W, S, C> {
    #[inline]
    fn handle_timeout(&mut self, now: Instant) -> Option<Transition> {
        Self::handle_timeout(self, now)
    }
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    fn try_acquire(&mut self, now: Instant) -> Result<Permit, Rejected> {
        Self::try_acquire(self, now)
    }
    #[inline]
    fn record(&mut self, permit: Permit, outcome: Outcome, now: Instant) -> Option<Transition> {
        Self::record(self, permit, outcome, now)
    }
    #[inline]
    fn cancel(&mut self, permit: Permit, now: Instant) {
        Self::cancel(self, permit, now);
    }
}

/// A call refused by [`Breaker::try_acquire`].
///
/// `retry_at` is when to come back: `until` when open (coming back exactly then
/// gets a probe); the hung-probe deadline when half-open with every probe slot
/// taken (by then the episode is decided); `None` when forced open (no known
/// time).
///
/// ```
/// use steadfast::breaker::{Breaker, Config};
/// use steadfast::time::Instant;
///
/// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
/// let _ = b.force_open(Instant::ZERO);
/// let rejected = b.try_acquire(Instant::ZERO).unwrap_err();
/// assert_eq!(rejected.retry_at, None);
/// assert_eq!(format!("{rejected}"), "circuit breaker open");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rejected {
    /// When a call may be admitted again, if known.
    pub retry_at: Option<Instant>,
}

impl fmt::Display for Rejected {
    /// `circuit breaker open` or `circuit breaker open, retry at t=34s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.retry_at {
            Some(at) => write!(f, "circuit breaker open, retry at {at}"),
            None => f.write_str("circuit breaker open"),
        }
    }
}

impl core::error::Error for Rejected {}

impl<W: Window> Breaker<W> {
    /// A closed breaker, after validating `config` for the detector `W`
    /// (the error names the first bad field). `const`: usable in a `static`.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, CountWindow, State};
    ///
    /// let b = Breaker::<CountWindow<32>>::new(Config::new()).unwrap();
    /// assert_eq!(b.state(), State::Closed);
    ///
    /// let err = Breaker::<CountWindow<0>>::new(Config::new()).unwrap_err();
    /// assert_eq!(err.field, "CountWindow::N");
    /// let err = Breaker::<CountWindow<65>>::new(Config::new()).unwrap_err();
    /// assert_eq!(err.field, "CountWindow::WORDS"); // write CountWindow<65, 2>
    /// ```
    pub const fn new(config: Config) -> Result<Self, ConfigError> {
        Self::build(config)
    }

    /// A closed breaker with the given detector instead of an `N`-sized one:
    /// how a [`CountWindow`] gets a length chosen at run time
    /// ([`CountWindow::with_len`]). Validates `config` for `W` exactly as
    /// [`new`](Self::new) does (so `N` and `WORDS` are checked too). Only the
    /// detector's shape is taken: it starts empty, whatever it held, and
    /// [`reset`](Self::reset) and every close empty it again keeping its length.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, CountWindow, State, Window};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let window_len = 3; // known at run time
    /// let window = CountWindow::<128, 2>::with_len(window_len)?;
    /// let mut b = Breaker::with_window(Config::new().with_minimum_calls(3), window)?;
    /// for outcome in [Outcome::Failure, Outcome::Success] {
    ///     let p = b.try_acquire(Instant::ZERO).unwrap();
    ///     assert!(b.record(p, outcome, Instant::ZERO).is_none());
    /// }
    /// // The third call fills the window: 2 of 3 failed, 66 % ≥ 50 %.
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// assert!(b.record(p, Outcome::Failure, Instant::ZERO).is_some());
    /// let _ = b.reset(Instant::ZERO);
    /// assert_eq!((b.window().counts().calls, b.window().window_len()), (0, 3));
    ///
    /// let err = Breaker::with_window(Config::new().with_minimum_calls(0), window).unwrap_err();
    /// assert_eq!(err.field, "minimum_calls");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_window(config: Config, window: W) -> Result<Self, ConfigError> {
        let mut breaker = Self::new(config)?;
        breaker.window = window;
        breaker.window.clear();
        Ok(breaker)
    }
}

impl<W: Window, C: ConfigSource> Breaker<W, Stats, C> {
    /// The counters so far.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, Stats};
    /// let b: Breaker = Breaker::new(Config::new()).unwrap();
    /// assert_eq!(b.stats(), Stats::ZERO);
    /// ```
    pub const fn stats(&self) -> Stats {
        self.stats
    }

    /// Returns the counters and zeroes them (for exporters that keep 64-bit totals).
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, Stats};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// # b.cancel(p, Instant::ZERO);
    /// assert_eq!(b.take_stats().calls, 1);
    /// assert_eq!(b.stats(), Stats::ZERO);
    /// ```
    pub fn take_stats(&mut self) -> Stats {
        core::mem::take(&mut self.stats)
    }
}

impl<W: Window> Breaker<W, NoStats> {
    /// A closed breaker that keeps no [`Stats`] ([`NoStats`]: zero bytes, no
    /// counting on the hot path), after validating `config` exactly as
    /// [`new`](Breaker::new) does. It decides, transitions and reports as a
    /// counting breaker does. `const`: usable in a `static`.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, Consecutive, NoStats, State};
    ///
    /// const LEAN: Breaker<Consecutive, NoStats> =
    ///     steadfast::valid!(Breaker::without_stats(Config::new().with_failure_threshold(3)));
    /// assert_eq!(LEAN.state(), State::Closed);
    /// let err = Breaker::<Consecutive, NoStats>::without_stats(Config::new().with_failure_threshold(0)).unwrap_err();
    /// assert_eq!(err.field, "failure_threshold");
    /// ```
    pub const fn without_stats(config: Config) -> Result<Self, ConfigError> {
        Self::build(config)
    }
}

impl<W: Window, S: StatsSlot> Breaker<W, S> {
    /// A closed breaker holding `config`, after validating it for `W`.
    const fn build(config: Config) -> Result<Self, ConfigError> {
        match config.validate_for(W::KIND) {
            Ok(()) => Ok(Self::closed(config)),
            Err(e) => Err(e),
        }
    }

    /// The validated configuration.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config};
    /// let b: Breaker = Breaker::new(Config::new().with_failure_threshold(3)).unwrap();
    /// assert_eq!(b.config().failure_threshold(), 3);
    /// ```
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// How long the next open period lasts:
    /// `break_duration × break_multiplier^(opens since the last close)`, capped
    /// at `max_break_duration`.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config};
    /// # use steadfast::time::Duration;
    /// let b: Breaker = Breaker::new(Config::new()).unwrap();
    /// assert_eq!(b.next_break_duration(), Duration::from_secs(30));
    /// ```
    pub const fn next_break_duration(&self) -> Duration {
        break_after(&self.config, self.opens_in_a_row)
    }
}

impl<W: Window, S: StatsSlot, T: ConstConfig> Breaker<W, S, Fixed<T>> {
    /// A closed breaker reading its configuration from `T::CONFIG`
    /// ([`ConstConfig`]) instead of holding it, after validating it for `W`
    /// exactly as [`new`](Breaker::new) does. The configuration costs no RAM;
    /// with [`NoStats`] this is the smallest breaker. `const`: usable in a
    /// `static`.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, ConstConfig, Consecutive, Fixed, NoStats};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// struct Sensor;
    /// impl ConstConfig for Sensor {
    ///     const CONFIG: Config = Config::new().with_failure_threshold(1);
    /// }
    /// type SensorBreaker = Breaker<Consecutive, NoStats, Fixed<Sensor>>;
    /// const BREAKER: SensorBreaker = steadfast::valid!(SensorBreaker::fixed());
    ///
    /// let mut b = BREAKER;
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// assert!(b.record(p, Outcome::Failure, Instant::ZERO).is_some()); // 1 failure trips
    ///
    /// struct Broken;
    /// impl ConstConfig for Broken {
    ///     const CONFIG: Config = Config::new().with_failure_threshold(0);
    /// }
    /// let err = Breaker::<Consecutive, NoStats, Fixed<Broken>>::fixed().unwrap_err();
    /// assert_eq!(err.field, "failure_threshold");
    /// ```
    pub const fn fixed() -> Result<Self, ConfigError> {
        match T::CONFIG.validate_for(W::KIND) {
            Ok(()) => Ok(Self::closed(Fixed::new())),
            Err(e) => Err(e),
        }
    }

    /// The configuration, `T::CONFIG`.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, ConstConfig, Consecutive, Fixed, Stats};
    /// struct Three;
    /// impl ConstConfig for Three {
    ///     const CONFIG: Config = Config::new().with_failure_threshold(3);
    /// }
    /// let b = Breaker::<Consecutive, Stats, Fixed<Three>>::fixed().unwrap();
    /// assert_eq!(b.config().failure_threshold(), 3);
    /// ```
    pub const fn config(&self) -> &Config {
        &T::CONFIG
    }

    /// See [`Breaker::next_break_duration`].
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, ConstConfig, Consecutive, Fixed, NoStats};
    /// # use steadfast::time::Duration;
    /// struct Short;
    /// impl ConstConfig for Short {
    ///     const CONFIG: Config = Config::new().with_break_duration(Duration::from_secs(5));
    /// }
    /// let b = Breaker::<Consecutive, NoStats, Fixed<Short>>::fixed().unwrap();
    /// assert_eq!(b.next_break_duration(), Duration::from_secs(5));
    /// ```
    pub const fn next_break_duration(&self) -> Duration {
        break_after(&T::CONFIG, self.opens_in_a_row)
    }
}

/// `break_duration × break_multiplier^opens_in_a_row`, capped at `max_break_duration`.
///
/// Multiplied one open at a time, stopping at the cap: the multiplier is at
/// least 1 (validated), so the break only grows, and saturating steps give
/// the saturating product.
const fn break_after(config: &Config, opens_in_a_row: u8) -> Duration {
    let multiplier = config.break_multiplier as u64;
    let mut duration = config.break_duration;
    let mut opens = opens_in_a_row;
    while opens > 0
        && multiplier > 1
        && duration.as_micros() < config.max_break_duration.as_micros()
    {
        duration = duration.saturating_mul(multiplier);
        opens -= 1;
    }
    duration.min(config.max_break_duration)
}

impl<W: Window, S: StatsSlot, C: ConfigSource> Breaker<W, S, C> {
    /// A closed breaker reading `config` (validated by the caller), counters at zero.
    const fn closed(config: C) -> Self {
        Self {
            phase: Phase::Closed,
            deadline: Instant::ZERO,
            probes_in_flight: 0,
            probe_successes: 0,
            last_now: Instant::ZERO,
            generation: 0,
            opens_in_a_row: 0,
            stats: S::ZERO,
            window: W::EMPTY,
            config,
        }
    }

    /// The current generation: bumped on every entry into a state and on
    /// [`reset`](Self::reset). Permits carry the generation that issued them.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// let g = b.generation();
    /// let _ = b.force_open(Instant::ZERO);
    /// assert_ne!(b.generation(), g);
    /// ```
    pub const fn generation(&self) -> u32 {
        self.generation
    }

    /// Whether the breaker is *clean*: `Closed`, and a success that is not
    /// slow, on a permit of the current generation, would change nothing but
    /// [`Stats::successes`]. Its detector would hold the same calls, so it
    /// decides alike from then on: a [`Consecutive`] with no failure in its
    /// current run, or a full [`CountWindow`] of fast successes only (the
    /// success replaces one of them; only where the ring starts moves). Never
    /// a [`TimeWindow`], whose buckets count time.
    ///
    /// The rule for an adapter sharing the breaker: while it is clean, such a
    /// success may be counted outside it instead of recorded (steadfast-std's
    /// shared breaker counts it without taking its lock), as
    /// [`record`](Self::record) would have for any `now` (the highest instant
    /// seen stays where it is, as with [`record_untimed`](Self::record_untimed)).
    /// Whatever changes the breaker goes through `record` and may end it.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, CountWindow};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b = Breaker::<CountWindow<2>>::new(Config::new()).unwrap();
    /// let t = Instant::ZERO;
    /// assert!(!b.is_clean()); // filling: a success adds a call
    /// for outcome in [Outcome::Success, Outcome::Success] {
    ///     let p = b.try_acquire(t).unwrap();
    ///     let _ = b.record(p, outcome, t);
    /// }
    /// assert!(b.is_clean()); // full of fast successes
    /// let p = b.try_acquire(t).unwrap();
    /// let _ = b.record(p, Outcome::Failure, t); // 1 of 2 failed: 50 % trips
    /// assert!(!b.is_clean());
    /// ```
    #[inline]
    pub fn is_clean(&self) -> bool {
        self.phase == Phase::Closed && self.window.absorbs_fast_success()
    }

    /// Whether a success that is not slow, on a permit of the current
    /// generation, cannot trip the breaker now, nor can any run of them:
    /// `Closed`, and the detector cannot be tripped by one (a [`Consecutive`],
    /// whose runs a success only ends, or a full [`CountWindow`], where it
    /// replaces the oldest call and cannot raise either rate). Never a
    /// [`TimeWindow`], which needs the time of each. Every
    /// [clean](Self::is_clean) breaker is one.
    ///
    /// The rule for an adapter sharing the breaker: while this holds, such
    /// successes may be kept aside in arrival order and handed over later in
    /// one go with [`record_fast_successes`](Self::record_fast_successes),
    /// before any other input reaches the breaker (steadfast-std's shared
    /// breaker keeps them in an atomic counter, without its lock).
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, CountWindow};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b = Breaker::<CountWindow<2>>::new(Config::new().with_failure_rate_percent(100)).unwrap();
    /// let t = Instant::ZERO;
    /// assert!(!b.fast_success_cannot_trip()); // filling: a success may reach `minimum_calls`
    /// for outcome in [Outcome::Success, Outcome::Failure] {
    ///     let p = b.try_acquire(t).unwrap();
    ///     let _ = b.record(p, outcome, t);
    /// }
    /// assert!(b.fast_success_cannot_trip()); // full: 1 of 2 failed, 50 % < 100 %
    /// assert!(!b.is_clean()); // but a success would push the failure along
    /// ```
    #[inline]
    pub fn fast_success_cannot_trip(&self) -> bool {
        const FAST_SUCCESS: Sample = Sample {
            failure: false,
            slow: false,
        };
        self.phase == Phase::Closed
            && !matches!(W::KIND, Kind::Time { .. })
            && !self.window.may_trip(FAST_SUCCESS)
    }

    /// Records `n` successes that are not slow, on permits of the current
    /// generation, exactly as `n` calls of [`record`](Self::record) with them
    /// would at any `now` up to the highest instant seen: each goes to the
    /// detector and to [`Stats::successes`], and none trips, since
    /// [`fast_success_cannot_trip`](Self::fast_success_cannot_trip) holds.
    /// Otherwise it changes nothing and hands `n` back (none is always
    /// `Ok`). The work is bounded by the detector's size, not by `n`: a
    /// count window clears its `n` oldest slots a 64-bit word at a time.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, CountWindow, Window};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b = Breaker::<CountWindow<2>>::new(Config::new().with_failure_rate_percent(100)).unwrap();
    /// let t = Instant::ZERO;
    /// assert_eq!(b.record_fast_successes(1), Err(1)); // filling: not now
    /// for outcome in [Outcome::Success, Outcome::Failure] {
    ///     let p = b.try_acquire(t).unwrap();
    ///     let _ = b.record(p, outcome, t);
    /// }
    /// assert_eq!(b.record_fast_successes(2), Ok(()));
    /// assert_eq!(b.window().counts().failures, 0); // the failure left the window
    /// assert_eq!(b.stats().successes, 3);
    /// ```
    pub fn record_fast_successes(&mut self, n: u32) -> Result<(), u32> {
        if n > 0 && !self.fast_success_cannot_trip() {
            return Err(n);
        }
        self.window
            .record_fast_successes(n, self.last_now, self.config.get());
        self.stats.add(Counter::Successes, n);
        Ok(())
    }

    /// The current state, as last updated. Time-driven changes that are due but
    /// not yet applied show up after [`handle_timeout`](Self::handle_timeout) or
    /// [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, State};
    /// let b: Breaker = Breaker::new(Config::new()).unwrap();
    /// assert_eq!(b.state(), State::Closed);
    /// ```
    pub const fn state(&self) -> State {
        self.flat().state()
    }

    /// The state, flat.
    #[inline(always)]
    const fn flat(&self) -> FlatState {
        FlatState {
            deadline: self.deadline,
            probes_in_flight: self.probes_in_flight,
            successes: self.probe_successes,
            variant: self.phase.variant(),
            probing: matches!(self.phase, Phase::Probing),
        }
    }

    /// The detector, for its [`counts`](Window::counts).
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, Window};
    /// let b: Breaker = Breaker::new(Config::new()).unwrap();
    /// assert_eq!(b.window().counts().failures, 0);
    /// ```
    pub const fn window(&self) -> &W {
        &self.window
    }

    /// The calls the detector holds **as of `now`** (read as
    /// `max(now, the highest now seen)`), with their rates
    /// ([`WindowCounts::failure_percent`], [`WindowCounts::slow_percent`]):
    /// what a health endpoint or a metric should show. A [`TimeWindow`]'s
    /// buckets expire by time, so failures older than `window_duration` are
    /// never counted, even when no call was recorded since; [`Consecutive`]
    /// and [`CountWindow`] do not depend on time. Changes nothing.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, TimeWindow};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let config = Config::new().with_window_duration(Duration::from_secs(10));
    /// let mut b = Breaker::<TimeWindow<10>>::new(config).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// let _ = b.record(p, Outcome::Failure, Instant::ZERO);
    /// assert_eq!(b.counts(Instant::from_secs(9)).failure_percent(), 100);
    /// assert_eq!(b.counts(Instant::from_secs(10)).failures, 0); // left the window
    /// ```
    pub fn counts(&self, now: Instant) -> WindowCounts {
        self.window
            .counts_at(now.max(self.last_now), self.config.get())
    }

    /// When the breaker next needs [`handle_timeout`](Self::handle_timeout):
    /// `until` when open, the hung-probe deadline when half-open with probes
    /// outstanding, otherwise `None`. May be in the past (then call now).
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// assert_eq!(b.poll_at(), None);
    /// let _ = b.force_open(Instant::ZERO);
    /// assert_eq!(b.poll_at(), None); // forced open waits for a human
    /// ```
    pub const fn poll_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Open | Phase::Probing => Some(self.deadline),
            _ => None,
        }
    }

    /// Applies **one** due time-driven transition and returns it: `Open → HalfOpen`
    /// at `now >= until`, or a hung half-open episode (`now >= deadline` with a
    /// probe outstanding) → `Open { until: deadline + next break }`. Safe to call
    /// early (returns `None`) or late; call again while it returns `Some`.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, State};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(1)).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// let _ = b.record(p, Outcome::Failure, Instant::ZERO);
    /// assert_eq!(b.handle_timeout(Instant::from_secs(29)), None);
    /// let t = b.handle_timeout(Instant::from_secs(30)).unwrap();
    /// assert!(matches!(t.to(), State::HalfOpen { .. }));
    /// ```
    #[must_use = "the returned transition is the breaker's event"]
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Transition> {
        let now = self.observe(now);
        // Nothing is ever due closed or disabled: on 64-bit hosts the hot
        // case returns here rather than through the out-of-line `apply_due`,
        // which answers the same.
        #[cfg(target_pointer_width = "64")]
        if self.phase <= Phase::Disabled {
            return None;
        }
        self.apply_due(now)
    }

    /// Asks to make a call. Applies due time-driven transitions first (so it never
    /// decides on a stale state; their events are not returned — call
    /// [`handle_timeout`](Self::handle_timeout) first to get them).
    ///
    /// * `Closed`, `Disabled`: a permit.
    /// * `Open { until }`: rejected with `retry_at = until` while `now < until`;
    ///   at `now >= until` (inclusive) the breaker turns half-open and this call
    ///   is its first probe.
    /// * `HalfOpen`: a probe while fewer than `max_probes` slots are taken
    ///   (outstanding probes plus successes of this episode); otherwise rejected.
    ///   The first probe with none outstanding starts the hung-probe deadline.
    /// * `ForcedOpen`: rejected, `retry_at = None`.
    /// * [`Config::metrics_only`]: never rejected; a call that would have been
    ///   is admitted with a permit whose outcome changes nothing, and counted
    ///   in [`Stats::rejections`].
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, State};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(1)).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// let _ = b.record(p, Outcome::Failure, Instant::ZERO);
    /// assert_eq!(b.try_acquire(Instant::from_secs(29)).unwrap_err().retry_at, Some(Instant::from_secs(30)));
    /// let probe = b.try_acquire(Instant::from_secs(30)).unwrap();
    /// assert_eq!(
    ///     b.state(),
    ///     State::HalfOpen { probes_in_flight: 1, successes: 0, deadline: Some(Instant::from_secs(60)) }
    /// );
    /// # b.cancel(probe, Instant::from_secs(30));
    /// ```
    // Always inlined on 64-bit hosts: its hot cases are a few instructions.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    pub fn try_acquire(&mut self, now: Instant) -> Result<Permit, Rejected> {
        let now = self.observe(now);
        // The hot cases decide on the flat phase alone: nothing can be due.
        if self.phase <= Phase::Disabled {
            return Ok(self.issue(now));
        }
        if self.phase == Phase::Open && now < self.deadline {
            let rejected = self.reject(Some(self.deadline));
            return self.refuse(rejected, now);
        }
        if self.try_acquire_slow(now) {
            return Ok(Permit {
                generation: self.generation,
                issued_at: now,
                shadow: false,
            });
        }
        // A rejection's `retry_at` is the state's own deadline: the hung-probe
        // deadline, or none (forced open, half-open with no probe out).
        let rejected = self.reject(self.poll_at());
        self.refuse(rejected, now)
    }

    /// A refused call: rejected, or admitted in shadow when metrics-only.
    #[inline(always)]
    fn refuse(&mut self, rejected: Rejected, now: Instant) -> Result<Permit, Rejected> {
        if self.config.get().metrics_only {
            return Ok(self.shadow_permit(now));
        }
        Err(rejected)
    }

    /// Metrics-only mode: admits a call the live breaker refused (already
    /// counted as a rejection) with a permit of the previous generation, so its
    /// outcome or cancellation changes nothing.
    #[cold]
    fn shadow_permit(&mut self, now: Instant) -> Permit {
        self.stats.bump(Counter::Calls);
        Permit {
            generation: self.generation.wrapping_sub(1),
            issued_at: now,
            shadow: true,
        }
    }

    /// [`try_acquire`](Self::try_acquire) when a transition may be due, probes
    /// are counted, or the breaker is forced open: whether the call is
    /// admitted. Counts an admitted call as [`issue`](Self::issue) does; the
    /// caller makes its permit, or its rejection from [`poll_at`](Self::poll_at).
    #[cold]
    #[inline(never)]
    fn try_acquire_slow(&mut self, now: Instant) -> bool {
        // At most a hung episode (→ Open) and then its break (→ HalfOpen) are
        // due at once, in that order.
        let _ = self.apply_due(now);
        let _ = self.apply_due(now);
        let admitted = match self.phase {
            Phase::Closed | Phase::Disabled => true,
            Phase::Open | Phase::ForcedOpen => false,
            Phase::HalfOpen | Phase::Probing => {
                let admitted = u32::from(self.probes_in_flight) + u32::from(self.probe_successes)
                    < u32::from(self.config.get().max_probes);
                // The first probe with none outstanding starts the deadline.
                if admitted && self.phase == Phase::HalfOpen {
                    self.phase = Phase::Probing;
                    self.deadline = now.saturating_add(self.config.get().max_half_open_wait);
                }
                if admitted {
                    self.probes_in_flight = self.probes_in_flight.saturating_add(1);
                }
                admitted
            }
        };
        if admitted {
            self.count_call();
        }
        admitted
    }

    /// Hands back a permit with its call's outcome; returns the transition it
    /// caused, if any.
    ///
    /// * A permit from an older generation (issued before the last state change
    ///   or reset) is ignored entirely: no stats, no transition.
    /// * A call is slow when it took strictly longer than `slow_call_duration`
    ///   (`now - permit.issued_at()`); [`Outcome::TimedOut`] is a failure and
    ///   always slow.
    /// * `Closed`: successes and failures go to the detector, which is judged
    ///   after **every** one (a success can trip a rate window);
    ///   [`Outcome::Ignored`] is only counted in [`Stats::ignored`].
    /// * `HalfOpen`: a failure re-opens at once (with a grown break); the
    ///   `success_threshold`-th success closes; an ignored probe returns its slot.
    ///   If the hung-probe deadline has passed, the episode has already failed:
    ///   this applies that transition and the permit counts as stale.
    /// * `Disabled`: counted in [`Stats`] only.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, State};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(1).with_probes(1, 1)).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// let opened = b.record(p, Outcome::TimedOut, Instant::ZERO).unwrap();
    /// assert_eq!(opened.to(), State::Open { until: Instant::from_secs(30) });
    /// let probe = b.try_acquire(Instant::from_secs(30)).unwrap();
    /// let closed = b.record(probe, Outcome::Success, Instant::from_secs(31)).unwrap();
    /// assert_eq!(closed.to(), State::Closed);
    /// assert_eq!(b.stats().slow_calls, 1); // the timeout
    /// ```
    #[must_use = "the returned transition is the breaker's event"]
    #[inline(always)]
    pub fn record(&mut self, permit: Permit, outcome: Outcome, now: Instant) -> Option<Transition> {
        let now = self.observe_record(now);
        if permit.generation != self.generation {
            return None;
        }
        // The hot case: a closed breaker only counts and asks its detector.
        if self.phase == Phase::Closed {
            let slow = self.count(&permit, outcome, now);
            return self.judge(outcome, slow, now);
        }
        self.record_slow(permit, outcome, now)
    }

    /// [`record`](Self::record) for an outcome whose effect cannot depend on
    /// when it happened, without the time: the breaker is `Closed`, the call
    /// cannot be slow (`slow_call_duration` is [`Duration::MAX`], or the
    /// outcome is [`Outcome::TimedOut`], slow at any time, or
    /// [`Outcome::Ignored`]), the detector does not count time
    /// ([`Consecutive`], [`CountWindow`]) and the outcome does not trip it.
    /// Then it records the outcome exactly as `record(permit, outcome, now)`
    /// would for any `now` (leaving the highest instant seen where it is) and
    /// returns `Ok`; a stale permit changes nothing, as in `record`.
    /// Otherwise it changes nothing and hands the permit back, for `record`
    /// with the time: what a shared breaker uses to read the clock only for
    /// the outcomes that need it.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, State};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(2)).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// assert!(b.record_untimed(p, Outcome::Failure).is_ok()); // one failure: no trip
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// let p = b.record_untimed(p, Outcome::Failure).unwrap_err(); // this one trips
    /// let t = b.record(p, Outcome::Failure, Instant::from_secs(3)).unwrap();
    /// assert_eq!(t.to(), State::Open { until: Instant::from_secs(33) });
    /// ```
    pub fn record_untimed(&mut self, permit: Permit, outcome: Outcome) -> Result<(), Permit> {
        if permit.generation != self.generation {
            return Ok(());
        }
        if self.phase != Phase::Closed || matches!(W::KIND, Kind::Time { .. }) {
            return Err(permit);
        }
        let slow = match outcome {
            Outcome::TimedOut => true,
            Outcome::Ignored => false,
            _ if self.config.get().slow_call_duration == Duration::MAX => false,
            _ => return Err(permit),
        };
        if !matches!(outcome, Outcome::Ignored) {
            let sample = Sample {
                failure: outcome.is_failure(),
                slow,
            };
            if self.window.may_trip(sample) {
                // Judged on a copy: a trip needs the time, and then nothing changes.
                let mut window = self.window;
                if window.record(sample, self.last_now, self.config.get()) {
                    return Err(permit);
                }
                self.window = window;
            } else {
                let _cannot_trip = self.window.record(sample, self.last_now, self.config.get());
            }
        }
        self.stats.bump(match outcome {
            Outcome::Ignored => Counter::Ignored,
            Outcome::Success => Counter::Successes,
            Outcome::Failure | Outcome::TimedOut => Counter::Failures,
        });
        if slow {
            self.stats.bump(Counter::SlowCalls);
        }
        Ok(())
    }

    /// Counts one outcome in the stats; returns whether the call was slow.
    #[inline(always)]
    fn count(&mut self, permit: &Permit, outcome: Outcome, now: Instant) -> bool {
        // `now − issued_at > slow_call_duration`, without the subtraction:
        // past `Instant::MAX` nothing is slow, and before `issued_at` neither.
        let slow = matches!(outcome, Outcome::TimedOut)
            || now
                > permit
                    .issued_at
                    .saturating_add(self.config.get().slow_call_duration);
        self.stats.bump(match outcome {
            Outcome::Ignored => Counter::Ignored,
            Outcome::Success => Counter::Successes,
            Outcome::Failure | Outcome::TimedOut => Counter::Failures,
        });
        if slow && !matches!(outcome, Outcome::Ignored) {
            self.stats.bump(Counter::SlowCalls);
        }
        slow
    }

    /// Closed: feeds the detector and trips when it says so.
    #[inline(always)]
    fn judge(&mut self, outcome: Outcome, slow: bool, now: Instant) -> Option<Transition> {
        if matches!(outcome, Outcome::Ignored) {
            return None;
        }
        let sample = Sample {
            failure: outcome.is_failure(),
            slow,
        };
        if self.window.record(sample, now, self.config.get()) {
            self.enter(Variant::Open, now)
        } else {
            None
        }
    }

    /// [`record`](Self::record) outside `Closed` (current generation).
    #[cold]
    #[inline(never)]
    fn record_slow(
        &mut self,
        permit: Permit,
        outcome: Outcome,
        now: Instant,
    ) -> Option<Transition> {
        if self.probe_episode_expired(now) {
            // The episode failed at its deadline; this permit is now stale.
            return self.apply_due(now);
        }
        let slow = self.count(&permit, outcome, now);
        match self.phase {
            Phase::Closed => self.judge(outcome, slow, now),
            Phase::HalfOpen | Phase::Probing => {
                let successes = match outcome {
                    Outcome::Failure | Outcome::TimedOut => return self.enter(Variant::Open, now),
                    Outcome::Success => self.probe_successes.saturating_add(1),
                    Outcome::Ignored => self.probe_successes,
                };
                if successes >= self.config.get().success_threshold {
                    return self.enter(Variant::Closed, now);
                }
                self.probe_successes = successes;
                self.return_probe();
                None
            }
            // No permit is ever issued in these generations.
            Phase::Disabled | Phase::Open | Phase::ForcedOpen => None,
        }
    }

    /// Gives a permit back unused (the call was abandoned, its future dropped):
    /// nothing is counted; a half-open probe returns its slot. After the
    /// hung-probe deadline it changes nothing (the episode already failed).
    /// Stale permits change nothing.
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, State};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(1).with_probes(1, 1)).unwrap();
    /// let p = b.try_acquire(Instant::ZERO).unwrap();
    /// let _ = b.record(p, Outcome::Failure, Instant::ZERO);
    /// let probe = b.try_acquire(Instant::from_secs(30)).unwrap();
    /// assert!(b.try_acquire(Instant::from_secs(30)).is_err()); // the only slot is taken
    /// b.cancel(probe, Instant::from_secs(31));
    /// assert!(b.try_acquire(Instant::from_secs(31)).is_ok()); // slot returned
    /// ```
    pub fn cancel(&mut self, permit: Permit, now: Instant) {
        let now = self.observe(now);
        if permit.generation != self.generation || self.probe_episode_expired(now) {
            return;
        }
        if matches!(self.phase, Phase::HalfOpen | Phase::Probing) {
            self.return_probe();
        }
    }

    /// Half-open: one probe fewer outstanding; with none left, the hung-probe
    /// deadline is gone until the next probe.
    fn return_probe(&mut self) {
        self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
        if self.probes_in_flight == 0 {
            self.phase = Phase::HalfOpen;
            self.deadline = Instant::ZERO;
        }
    }

    /// Closes the breaker from any state: empties the detector, resets the break
    /// to `break_duration`, and makes every outstanding permit stale. Returns the
    /// transition unless it was already closed.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, State};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// let _ = b.force_open(Instant::ZERO);
    /// let t = b.reset(Instant::from_secs(1)).unwrap();
    /// assert_eq!((t.from(), t.to()), (State::ForcedOpen, State::Closed));
    /// assert_eq!(b.reset(Instant::from_secs(2)), None);
    /// ```
    #[must_use = "the returned transition is the breaker's event"]
    pub fn reset(&mut self, now: Instant) -> Option<Transition> {
        let now = self.observe(now);
        self.enter(Variant::Closed, now)
    }

    /// Holds the breaker open until [`reset`](Self::reset) or
    /// [`disable`](Self::disable); every call is rejected with `retry_at: None`.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, State};
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new()).unwrap();
    /// assert!(b.force_open(Instant::ZERO).is_some());
    /// assert_eq!(b.state(), State::ForcedOpen);
    /// assert_eq!(b.try_acquire(Instant::MAX).unwrap_err().retry_at, None);
    /// ```
    #[must_use = "the returned transition is the breaker's event"]
    pub fn force_open(&mut self, now: Instant) -> Option<Transition> {
        let now = self.observe(now);
        self.enter(Variant::ForcedOpen, now)
    }

    /// Turns the breaker into a pass-through that only counts [`Stats`]; it never
    /// trips until [`reset`](Self::reset).
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config, State};
    /// # use steadfast::outcome::Outcome;
    /// # use steadfast::time::Instant;
    /// let mut b: Breaker = Breaker::new(Config::new().with_failure_threshold(1)).unwrap();
    /// let _ = b.disable(Instant::ZERO);
    /// for _ in 0..10 {
    ///     let p = b.try_acquire(Instant::ZERO).unwrap();
    ///     assert!(b.record(p, Outcome::Failure, Instant::ZERO).is_none());
    /// }
    /// assert_eq!((b.state(), b.stats().failures), (State::Disabled, 10));
    /// ```
    #[must_use = "the returned transition is the breaker's event"]
    pub fn disable(&mut self, now: Instant) -> Option<Transition> {
        let now = self.observe(now);
        self.enter(Variant::Disabled, now)
    }

    /// The clock-max rule: `now` never goes below the highest instant seen.
    #[inline(always)]
    fn observe(&mut self, now: Instant) -> Instant {
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    /// [`observe`](Self::observe) for a record, whose `now` is most often
    /// the instant its permit was issued at, already the highest seen: stored
    /// only when it rises, so that the next call's read of the highest
    /// instant waits on one store, not two.
    #[inline(always)]
    fn observe_record(&mut self, now: Instant) -> Instant {
        let last = self.last_now;
        if now > last {
            self.last_now = now;
            now
        } else {
            last
        }
    }

    #[inline(always)]
    fn count_call(&mut self) {
        self.stats.bump(Counter::Calls);
    }

    #[inline(always)]
    fn issue(&mut self, now: Instant) -> Permit {
        self.count_call();
        Permit {
            generation: self.generation,
            issued_at: now,
            shadow: false,
        }
    }

    #[inline(always)]
    fn reject(&mut self, retry_at: Option<Instant>) -> Rejected {
        self.stats.bump(Counter::Rejections);
        Rejected { retry_at }
    }

    /// Half-open with a hung-probe deadline that has passed.
    fn probe_episode_expired(&self, now: Instant) -> bool {
        self.phase == Phase::Probing && now >= self.deadline
    }

    /// One due time-driven transition, taking effect at its deadline.
    #[cold]
    #[inline(never)]
    fn apply_due(&mut self, now: Instant) -> Option<Transition> {
        let deadline = self.deadline;
        match self.phase {
            Phase::Open if now >= deadline => self.enter(Variant::HalfOpen, deadline),
            Phase::Probing if now >= deadline => self.enter(Variant::Open, deadline),
            _ => None,
        }
    }

    /// Every entry into a state goes through here: the flat state (`variant`
    /// with no probe counted; when it is `Open`, `until` is `at` plus the
    /// current, growing break), a new generation, bookkeeping, and the event
    /// when the variant changed. Trips and re-opens share it, so the break is
    /// computed in one place.
    #[cold]
    #[inline(never)]
    fn enter(&mut self, variant: Variant, at: Instant) -> Option<Transition> {
        let from = self.flat();
        let mut deadline = Instant::ZERO;
        if matches!(variant, Variant::Open) {
            deadline = at.saturating_add(break_after(self.config.get(), self.opens_in_a_row));
            self.opens_in_a_row = self.opens_in_a_row.saturating_add(1);
            self.stats.bump(Counter::Opens);
        }
        if matches!(variant, Variant::Closed) {
            self.window.clear();
            self.opens_in_a_row = 0;
        }
        (self.phase, self.deadline) = (Phase::entered(variant), deadline);
        (self.probes_in_flight, self.probe_successes) = (0, 0);
        self.generation = self.generation.wrapping_add(1);
        if from.variant == variant {
            return None;
        }
        self.stats.bump(Counter::StateChanges);
        let to = FlatState {
            deadline,
            probes_in_flight: 0,
            successes: 0,
            variant,
            probing: false,
        };
        Some(Transition::flat(from, to, at))
    }
}
