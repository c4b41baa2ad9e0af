//! [`SharedBreaker`]: one circuit breaker shared by many tasks and threads.
//!
//! The core [`Breaker`] is the only source of truth; it lives behind a mutex
//! held for one of its methods at a time. On top of that, a
//! [`Detector::Consecutive`] breaker (with the default `slow_call_duration`)
//! publishes one atomic word — `epoch << 1 | clean` — after every locked step,
//! where `clean` means "closed, no failure in the current run" and `epoch`
//! counts state changes. While it is clean, [`SharedBreaker::try_acquire`]
//! admits without the lock or the clock, and a success on such a permit is a
//! no-op for the core (it would reset a run that is already empty) as long as
//! the word has not changed: the call is counted in per-thread striped
//! counters instead. Anything else — a failure, a success after a failure
//! started a run, a state change — takes the lock and replays the outcome on the
//! core with a permit of the same generation, or drops it as stale (epoch
//! changed), exactly as the core drops an outcome on an old permit.
//!
//! ```
//! use sturdy::breaker::{Config, State};
//! use sturdy_std::SharedBreaker;
//!
//! let breaker = SharedBreaker::new("db", Config::new().with_failure_threshold(2))?;
//! let other_thread = breaker.clone(); // the same breaker
//! for _ in 0..2 {
//!     let _ = other_thread.call(|| Err::<(), _>("down"));
//! }
//! assert!(matches!(breaker.state(), State::Open { .. }));
//! assert!(breaker.call(|| Ok::<_, ()>(1)).unwrap_err().is_rejection());
//! # Ok::<(), sturdy::error::ConfigError>(())
//! ```

use std::cell::Cell;
use std::fmt;

use sturdy::breaker::{
    self, Breaker, Config, Consecutive, CountWindow, Rejected, State, Stats, TimeWindow, Transition,
};
use sturdy::error::ConfigError;
use sturdy::outcome::{Classify, ErrorsFail, Outcome};
use sturdy::time::{Duration, Instant};

use crate::Error;
use crate::sync::{Arc, AtomicU64, Mutex, MutexGuard, Ordering, lock};
use crate::time;

/// Which failure detector a [`SharedBreaker`] uses.
///
/// ```
/// use sturdy_std::{Detector, SharedBreaker};
/// let b = SharedBreaker::with_detector("api", sturdy::breaker::Config::new(), Detector::CountWindow)?;
/// assert_eq!(b.detector(), Detector::CountWindow);
/// # Ok::<(), sturdy::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Detector {
    /// `failure_threshold` failures in a row (the seeds' breaker). Has the
    /// lock-free closed-state fast path.
    #[default]
    Consecutive,
    /// Failure/slow rate over the last [`COUNT_WINDOW`] calls, or over the
    /// last `1..=`[`MAX_COUNT_WINDOW`] calls chosen with
    /// [`SharedBreaker::with_count_window`].
    CountWindow,
    /// Failure/slow rate over `window_duration`, in [`TIME_BUCKETS`] buckets.
    TimeWindow,
}

/// The default size of a [`Detector::CountWindow`]: the last 100 calls
/// (resilience4j's default).
pub const COUNT_WINDOW: usize = 100;
/// The longest [`Detector::CountWindow`]: every count window is stored inline
/// in two 64-bit words per kind (failed, slow), whatever its length.
///
/// ```
/// assert_eq!(sturdy_std::breaker::MAX_COUNT_WINDOW, 128);
/// ```
pub const MAX_COUNT_WINDOW: usize = 128;
/// The buckets of a [`Detector::TimeWindow`].
pub const TIME_BUCKETS: usize = 10;

/// The storage of every count window; its length is chosen at run time.
pub(crate) type CountStorage = CountWindow<MAX_COUNT_WINDOW, 2>;
pub(crate) type CountBreaker = Breaker<CountStorage>;
pub(crate) type TimeBreaker = Breaker<TimeWindow<TIME_BUCKETS>>;

/// A closed count-window breaker judging the last `window` calls.
fn count_breaker(config: Config, window: usize) -> Result<CountBreaker, ConfigError> {
    let window = CountStorage::with_len(window)
        .map_err(|_| ConfigError::new("CountWindow::len", "must be in 1..=128 calls"))?;
    Breaker::with_window(config, window)
}

/// The core breaker, whichever its detector.
#[derive(Debug)]
pub(crate) enum AnyBreaker {
    Consecutive(Breaker<Consecutive>),
    Count(CountBreaker),
    Time(TimeBreaker),
}

/// Runs `$body` with `$b` bound to the `&mut Breaker<W>` inside an `AnyBreaker`.
macro_rules! with_breaker {
    ($any:expr, $b:ident => $body:expr) => {
        match $any {
            $crate::breaker::AnyBreaker::Consecutive($b) => $body,
            $crate::breaker::AnyBreaker::Count($b) => $body,
            $crate::breaker::AnyBreaker::Time($b) => $body,
        }
    };
}
pub(crate) use with_breaker;

/// What the mutex protects.
#[derive(Debug)]
pub(crate) struct Locked {
    pub(crate) machine: AnyBreaker,
    /// The state variant last published, and the epoch it was published with.
    variant: u8,
    epoch: u64,
    fast: bool,
}

const fn variant(state: &State) -> u8 {
    match state {
        State::Closed => 0,
        State::Open { .. } => 1,
        State::HalfOpen { .. } => 2,
        State::ForcedOpen => 3,
        State::Disabled => 4,
    }
}

impl Locked {
    fn state(&self) -> State {
        with_breaker!(&self.machine, b => b.state())
    }

    /// Recomputes the fast-path word. `bump` forces a new epoch (a reset
    /// starts a new generation without changing the variant).
    fn publish(&mut self, word: &AtomicU64, bump: bool) {
        let state = self.state();
        let v = variant(&state);
        if bump || v != self.variant {
            self.epoch = self.epoch.wrapping_add(1) & (u64::MAX >> 1);
            self.variant = v;
        }
        let clean = self.fast
            && match &self.machine {
                AnyBreaker::Consecutive(b) => state == State::Closed && b.window().failures() == 0,
                _ => false,
            };
        word.store(self.epoch << 1 | u64::from(clean), Ordering::Release);
    }
}

/// Per-thread counters of fast-path calls, one cache line each.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    /// Fast-path calls that ended in a success the core did not need to see.
    successes: AtomicU64,
    /// Fast-path calls whose outcome was dropped as stale or cancelled: the
    /// core would have counted them as calls only.
    calls_only: AtomicU64,
}

const STRIPES: usize = 8;

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn stripe_index() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    STRIPE.with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES;
            s.set(i);
        }
        i
    })
}

struct Inner {
    word: AtomicU64,
    stripes: [Stripe; STRIPES],
    name: std::sync::Arc<str>,
    detector: Detector,
    locked: Mutex<Locked>,
}

/// A circuit breaker shared by every clone of this handle (an `Arc`), across
/// tasks and threads. See the [module docs](self) for the fast path.
///
/// ```
/// use sturdy_std::SharedBreaker;
/// let b = SharedBreaker::new("redis", sturdy::breaker::Config::default())?;
/// let permit = b.try_acquire().expect("closed");
/// permit.success();
/// assert_eq!(b.stats().successes, 1);
/// # Ok::<(), sturdy::error::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SharedBreaker {
    inner: Arc<Inner>,
}

impl fmt::Debug for SharedBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBreaker")
            .field("name", &self.inner.name)
            .field("detector", &self.inner.detector)
            .field("state", &self.state())
            .finish()
    }
}

impl SharedBreaker {
    /// A consecutive-failures breaker named `name` (the name appears in
    /// [`Error::Rejected`], events and health reports).
    ///
    /// ```
    /// use sturdy_std::SharedBreaker;
    /// let err = SharedBreaker::new("x", sturdy::breaker::Config::new().with_failure_threshold(0)).unwrap_err();
    /// assert_eq!(err.field, "failure_threshold");
    /// ```
    pub fn new(name: impl Into<std::sync::Arc<str>>, config: Config) -> Result<Self, ConfigError> {
        Self::with_detector(name, config, Detector::Consecutive)
    }

    /// A breaker with the given failure detector.
    ///
    /// ```
    /// use sturdy::time::Duration;
    /// use sturdy_std::{Detector, SharedBreaker};
    /// let config = sturdy::breaker::Config::new().with_window_duration(Duration::from_secs(30));
    /// let b = SharedBreaker::with_detector("kafka", config, Detector::TimeWindow)?;
    /// assert_eq!(b.name(), "kafka");
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn with_detector(
        name: impl Into<std::sync::Arc<str>>,
        config: Config,
        detector: Detector,
    ) -> Result<Self, ConfigError> {
        let machine = match detector {
            Detector::Consecutive => AnyBreaker::Consecutive(Breaker::new(config)?),
            Detector::CountWindow => AnyBreaker::Count(count_breaker(config, COUNT_WINDOW)?),
            Detector::TimeWindow => AnyBreaker::Time(Breaker::new(config)?),
        };
        let fast = detector == Detector::Consecutive && config.slow_call_duration == Duration::MAX;
        let mut locked = Locked {
            machine,
            variant: 0,
            epoch: 0,
            fast,
        };
        let word = AtomicU64::new(0);
        locked.publish(&word, false);
        Ok(Self {
            inner: Arc::new(Inner {
                word,
                stripes: Default::default(),
                name: name.into(),
                detector,
                locked: Mutex::new(locked),
            }),
        })
    }

    /// A [`Detector::CountWindow`] breaker judging the last `window` calls,
    /// `1 ≤ window ≤ `[`MAX_COUNT_WINDOW`] (the error names
    /// `CountWindow::len` otherwise). A `minimum_calls` above `window` means
    /// `window`: a full window is always judged.
    ///
    /// ```
    /// use sturdy::breaker::{Config, State};
    /// use sturdy_std::{Detector, SharedBreaker};
    ///
    /// let config = Config::new().with_minimum_calls(4).with_failure_rate_percent(50);
    /// let b = SharedBreaker::with_count_window("search", config, 4)?;
    /// assert_eq!((b.detector(), b.count_window()), (Detector::CountWindow, Some(4)));
    /// for ok in [true, true, false, false] {
    ///     let _ = b.call(|| if ok { Ok(()) } else { Err("down") });
    /// }
    /// assert!(matches!(b.state(), State::Open { .. })); // 2 of the last 4 failed
    ///
    /// let err = SharedBreaker::with_count_window("x", Config::new(), 129).unwrap_err();
    /// assert_eq!(err.field, "CountWindow::len");
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn with_count_window(
        name: impl Into<std::sync::Arc<str>>,
        config: Config,
        window: usize,
    ) -> Result<Self, ConfigError> {
        let machine = count_breaker(config, window)?;
        let breaker = Self::with_detector(name, config, Detector::CountWindow)?;
        // Same detector, config and (closed) state: only the window's length
        // differs, and nothing published depends on it.
        lock(&breaker.inner.locked).machine = AnyBreaker::Count(machine);
        Ok(breaker)
    }

    /// The breaker's name.
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.name(), "db");
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn name_arc(&self) -> std::sync::Arc<str> {
        self.inner.name.clone()
    }

    /// The failure detector.
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.detector(), sturdy_std::Detector::Consecutive);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn detector(&self) -> Detector {
        self.inner.detector
    }

    /// The length of a [`Detector::CountWindow`] (the calls it judges);
    /// `None` for the other detectors.
    ///
    /// ```
    /// use sturdy_std::{Detector, SharedBreaker};
    /// let b = SharedBreaker::with_detector("api", Default::default(), Detector::CountWindow)?;
    /// assert_eq!(b.count_window(), Some(sturdy_std::breaker::COUNT_WINDOW));
    /// assert_eq!(SharedBreaker::new("db", Default::default())?.count_window(), None);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn count_window(&self) -> Option<usize> {
        match &lock(&self.inner.locked).machine {
            AnyBreaker::Count(b) => Some(b.window().window_len()),
            AnyBreaker::Consecutive(_) | AnyBreaker::Time(_) => None,
        }
    }

    /// The validated configuration.
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.config().failure_threshold, 5);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> Config {
        let locked = lock(&self.inner.locked);
        with_breaker!(&locked.machine, b => *b.config())
    }

    /// The current state (as last updated; a due `Open → HalfOpen` shows once
    /// someone asks for a permit or calls [`handle_timeout`](Self::handle_timeout)).
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.state(), sturdy::breaker::State::Closed);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn state(&self) -> State {
        lock(&self.inner.locked).state()
    }

    /// The counters, fast-path calls included.
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// let _ = b.call(|| Ok::<_, ()>(()));
    /// assert_eq!((b.stats().calls, b.stats().successes), (1, 1));
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let mut stats = {
            let locked = lock(&self.inner.locked);
            with_breaker!(&locked.machine, b => b.stats())
        };
        let (mut successes, mut calls_only) = (0u64, 0u64);
        for s in &self.inner.stripes {
            successes = successes.wrapping_add(s.successes.load(Ordering::Relaxed));
            calls_only = calls_only.wrapping_add(s.calls_only.load(Ordering::Relaxed));
        }
        let to_u32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        stats.successes = stats.successes.saturating_add(to_u32(successes));
        stats.calls = stats
            .calls
            .saturating_add(to_u32(successes))
            .saturating_add(to_u32(calls_only));
        stats
    }

    /// When a deadline inside the breaker expires (end of the break, hung
    /// probe), if any.
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.poll_at(), None);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn poll_at(&self) -> Option<Instant> {
        let locked = lock(&self.inner.locked);
        with_breaker!(&locked.machine, b => b.poll_at())
    }

    /// Applies a due time-driven transition (for health checks and gauges
    /// that want `HalfOpen` to show without traffic).
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.handle_timeout(), None);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn handle_timeout(&self) -> Option<Transition> {
        let now = time::now();
        self.with_locked(false, |m| with_breaker!(m, b => b.handle_timeout(now)))
    }

    /// Closes the breaker (see [`Breaker::reset`]); outstanding permits become stale.
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// let _ = b.force_open();
    /// assert!(b.reset().is_some());
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn reset(&self) -> Option<Transition> {
        let now = time::now();
        self.with_locked(true, |m| with_breaker!(m, b => b.reset(now)))
    }

    /// Holds the breaker open until [`reset`](Self::reset).
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// let _ = b.force_open();
    /// assert_eq!(b.try_acquire().unwrap_err().retry_at, None);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn force_open(&self) -> Option<Transition> {
        let now = time::now();
        self.with_locked(true, |m| with_breaker!(m, b => b.force_open(now)))
    }

    /// Makes the breaker a pass-through that only counts, until [`reset`](Self::reset).
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// let _ = b.disable();
    /// assert_eq!(b.state(), sturdy::breaker::State::Disabled);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn disable(&self) -> Option<Transition> {
        let now = time::now();
        self.with_locked(true, |m| with_breaker!(m, b => b.disable(now)))
    }

    fn with_locked<R>(&self, bump: bool, f: impl FnOnce(&mut AnyBreaker) -> R) -> R {
        let mut locked = lock(&self.inner.locked);
        let r = f(&mut locked.machine);
        locked.publish(&self.inner.word, bump);
        r
    }

    /// Locks the core breaker for one pipeline step; the word is republished
    /// when the guard drops.
    pub(crate) fn lock(&self) -> BreakerGuard<'_> {
        BreakerGuard {
            guard: lock(&self.inner.locked),
            word: &self.inner.word,
        }
    }

    /// Asks for a permit to make one call: lock- and clock-free while the
    /// breaker is closed and clean (see the module docs).
    ///
    /// ```
    /// use sturdy::outcome::Outcome;
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// match b.try_acquire() {
    ///     Ok(permit) => { let _ = permit.record(Outcome::Failure); }
    ///     Err(rejected) => println!("open until {:?}", rejected.retry_at),
    /// }
    /// assert_eq!(b.stats().failures, 1);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn try_acquire(&self) -> Result<BreakerPermit<'_>, Rejected> {
        let word = self.inner.word.load(Ordering::Acquire);
        if word & 1 == 1 {
            return Ok(BreakerPermit {
                breaker: self,
                kind: Some(PermitKind::Fast { word }),
            });
        }
        let now = time::now();
        let permit = self.with_locked(false, |m| with_breaker!(m, b => b.try_acquire(now)))?;
        Ok(BreakerPermit {
            breaker: self,
            kind: Some(PermitKind::Core(permit)),
        })
    }

    /// Runs `op` if the breaker admits it and records how it ended (`Err` is a
    /// failure).
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.call(|| Ok::<_, ()>(5)).unwrap(), 5);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn call<T, E>(&self, op: impl FnOnce() -> Result<T, E>) -> Result<T, Error<E>> {
        self.call_classified(&ErrorsFail, op)
    }

    /// Like [`call`](Self::call), with a classifier deciding what counts as a
    /// failure.
    ///
    /// ```
    /// use sturdy::outcome::Verdict;
    /// # let b = sturdy_std::SharedBreaker::new("db", sturdy::breaker::Config::new().with_failure_threshold(1))?;
    /// let not_found_is_fine = |r: &Result<u16, ()>| match r { Ok(404) | Ok(200) => Verdict::success(), _ => Verdict::failure() };
    /// let _ = b.call_classified(&not_found_is_fine, || Ok::<u16, ()>(404));
    /// assert_eq!(b.state(), sturdy::breaker::State::Closed);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn call_classified<T, E, C: Classify<T, E> + ?Sized>(
        &self,
        classifier: &C,
        op: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error<E>> {
        let permit = self.try_acquire().map_err(|r| self.rejected(r))?;
        let result = op();
        let _ = permit.record(classifier.classify(&result).outcome);
        result.map_err(Error::Operation)
    }

    pub(crate) fn rejected<E>(&self, r: Rejected) -> Error<E> {
        Error::Rejected {
            breaker: self.name_arc(),
            retry_at: r.retry_at.map(time::to_std),
        }
    }

    /// The outcome of a fast-path permit admitted under `word`.
    fn record_fast(&self, word: u64, outcome: Option<Outcome>) -> Option<Transition> {
        let stripe = self.inner.stripes.get(stripe_index() % STRIPES);
        if outcome == Some(Outcome::Success) && self.inner.word.load(Ordering::Acquire) == word {
            // Closed, same generation, no failure run to end: the core would only
            // have counted it.
            if let Some(s) = stripe {
                s.successes.fetch_add(1, Ordering::Relaxed);
            }
            return None;
        }
        let now = time::now();
        let mut locked = lock(&self.inner.locked);
        let same_epoch = locked.epoch == word >> 1;
        let transition = match outcome {
            Some(outcome) if same_epoch => {
                // Still the closed generation that admitted the call: replay it
                // on the core (a consecutive detector ignores `issued_at` when
                // slow calls are off, which the fast path requires).
                with_breaker!(&mut locked.machine, b => match b.try_acquire(now) {
                    Ok(p) => b.record(p, outcome, now),
                    Err(_) => None,
                })
            }
            _ => {
                // Stale or cancelled: the core counts the call, nothing else.
                if let Some(s) = stripe {
                    s.calls_only.fetch_add(1, Ordering::Relaxed);
                }
                None
            }
        };
        locked.publish(&self.inner.word, false);
        transition
    }
}

/// The core breaker, locked for one step.
pub(crate) struct BreakerGuard<'a> {
    guard: MutexGuard<'a, Locked>,
    word: &'a AtomicU64,
}

impl BreakerGuard<'_> {
    pub(crate) fn machine(&mut self) -> &mut AnyBreaker {
        &mut self.guard.machine
    }
}

impl Drop for BreakerGuard<'_> {
    fn drop(&mut self) {
        self.guard.publish(self.word, false);
    }
}

#[derive(Debug)]
enum PermitKind {
    Fast { word: u64 },
    Core(breaker::Permit),
}

/// Permission to make one call through a [`SharedBreaker`]. Hand it back with
/// [`record`](Self::record) (or [`success`](Self::success) /
/// [`failure`](Self::failure)); dropping it cancels it (a half-open probe
/// returns its slot).
///
/// ```
/// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
/// let p = b.try_acquire().unwrap();
/// drop(p); // cancelled: nothing counted but the call
/// assert_eq!(b.stats().failures, 0);
/// # Ok::<(), sturdy::error::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping a permit cancels the call"]
pub struct BreakerPermit<'a> {
    breaker: &'a SharedBreaker,
    kind: Option<PermitKind>,
}

impl BreakerPermit<'_> {
    /// Records how the call ended; returns the transition it caused.
    ///
    /// ```
    /// use sturdy::outcome::Outcome;
    /// # let b = sturdy_std::SharedBreaker::new("db", sturdy::breaker::Config::new().with_failure_threshold(1))?;
    /// let t = b.try_acquire().unwrap().record(Outcome::Failure).unwrap();
    /// assert!(matches!(t.to, sturdy::breaker::State::Open { .. }));
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn record(mut self, outcome: Outcome) -> Option<Transition> {
        self.finish(Some(outcome))
    }

    /// Records a success.
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// b.try_acquire().unwrap().success();
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn success(self) {
        let _ = self.record(Outcome::Success);
    }

    /// Records a failure; returns the transition it caused.
    ///
    /// ```
    /// # let b = sturdy_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.try_acquire().unwrap().failure(), None);
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    pub fn failure(self) -> Option<Transition> {
        self.record(Outcome::Failure)
    }

    fn finish(&mut self, outcome: Option<Outcome>) -> Option<Transition> {
        match self.kind.take()? {
            PermitKind::Fast { word } => self.breaker.record_fast(word, outcome),
            PermitKind::Core(permit) => {
                let now = time::now();
                self.breaker.with_locked(false, |m| {
                    with_breaker!(m, b => match outcome {
                        Some(o) => b.record(permit, o, now),
                        None => {
                            b.cancel(permit, now);
                            None
                        }
                    })
                })
            }
        }
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        let _ = self.finish(None);
    }
}
