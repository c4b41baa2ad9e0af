//! [`SharedBreaker`]: one circuit breaker shared by many tasks and threads.
//!
//! The core [`Breaker`] is the only source of truth; it lives behind a mutex
//! held for one of its methods at a time. On top of that, every breaker
//! publishes one atomic word after every locked step that changes it:
//! its `generation` (the core's [`Breaker::generation`]) and three bits
//! the core answers, plus a count of successes kept aside:
//!
//! * `closed`: the state is [`State::Closed`] (whatever the detector);
//! * `clean` ([`Breaker::is_clean`]): closed, and a success that is not slow
//!   would change nothing in the core but its success count. That is a
//!   [`Detector::Consecutive`] breaker with no failure in its current run, or
//!   a [`Detector::CountWindow`] breaker whose window is full of such
//!   successes;
//! * `deferrable` ([`Breaker::fast_success_cannot_trip`]): closed, and no
//!   success that is not slow can trip it: a consecutive breaker, or a
//!   count window once it is full, failures in it or not. Never a
//!   [`Detector::TimeWindow`] breaker (its buckets count time).
//!
//! What is lock-free, and when it locks:
//!
//! * **Admission**, while closed: [`SharedBreaker::try_acquire`] admits
//!   without the lock (and without the clock unless slow-call detection is
//!   on), with a permit of that generation
//!   ([`Permit::issued`](steadfast::breaker::Permit::issued)): a closed core
//!   admits every call and only counts it, so that permit is exactly the one
//!   the core would have issued. Cancelling a permit of a closed generation
//!   is a no-op for the core (only a half-open probe has a slot to return),
//!   and asking it for a due time-driven transition finds none without the
//!   lock (nothing is ever due while closed).
//! * **A fast success** (not slow) on a permit of the word's generation:
//!   while clean, counted in this thread's stripe instead of recorded (the
//!   core would hold the same calls afterwards, so it decides alike); while
//!   deferrable, kept aside in the word with one compare-exchange, up to
//!   128 of them. The next locked step, before anything
//!   else, takes them out of the word and hands them to the core in one go
//!   ([`Breaker::record_fast_successes`]), in the same read-modify-write that
//!   clears `deferrable` until it publishes again: a success kept aside
//!   before it reaches the core before its input, any other finds the word
//!   changed and comes after it (or is stale if the breaker left that
//!   generation). Reading [`stats`](SharedBreaker::stats) or
//!   [`counts`](SharedBreaker::counts) is such a locked step, so both are
//!   exact.
//! * **Everything else** takes the lock: a failure, a timeout, an ignored
//!   call, a slow call, a success while the count window fills, the
//!   successes past the most the word keeps, any outcome outside `Closed`
//!   or of another generation, and every change of state. With slow-call
//!   detection off, a closed breaker reads the clock for an outcome only
//!   when it trips
//!   ([`Breaker::record_untimed`](steadfast::breaker::Breaker::record_untimed)).
//!
//! While it is open, the breaker also publishes the end of its open period
//! (not for a metrics-only breaker, which never refuses): a call before it
//! is refused without the lock, with that `retry_at`, exactly as the core
//! would refuse it; from that instant on the core decides.
//!
//! The lock-free counts live in per-thread stripes: each of the first
//! [`STRIPES`](self) threads to use any shared breaker owns a cache line in
//! every breaker and bumps it with a plain load and store (no atomic
//! read-modify-write); threads beyond that share one line with `fetch_add`.
//! Nothing on the clean path writes memory another thread writes, so the
//! closed breaker scales with threads.
//!
//! ```
//! use steadfast::breaker::{Config, State};
//! use steadfast_std::SharedBreaker;
//!
//! let breaker = SharedBreaker::new("db", Config::new().with_failure_threshold(2))?;
//! let other_thread = breaker.clone(); // the same breaker
//! for _ in 0..2 {
//!     let _ = other_thread.call(|| Err::<(), _>("down"));
//! }
//! assert!(matches!(breaker.state(), State::Open { .. }));
//! assert!(breaker.call(|| Ok::<_, ()>(1)).unwrap_err().is_rejection());
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use std::fmt;

use steadfast::breaker::{
    Breaker, CircuitBreaker, Config, Consecutive, CountWindow, Permit, Rejected, State, Stats,
    TimeWindow, Transition, WindowCounts,
};
use steadfast::error::ConfigError;
use steadfast::outcome::{Classify, ErrorsFail, Outcome};
use steadfast::time::Instant;

use crate::Error;
use crate::error::Name;
use crate::sync::{Arc, AtomicU64, Mutex, MutexGuard, Ordering, lock};
use crate::time;

/// Which failure detector a [`SharedBreaker`] uses.
///
/// ```
/// use steadfast_std::{Detector, SharedBreaker};
/// let b = SharedBreaker::with_detector("api", steadfast::breaker::Config::new(), Detector::CountWindow)?;
/// assert_eq!(b.detector(), Detector::CountWindow);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Detector {
    /// `failure_threshold` failures in a row (the seeds' breaker). Admits
    /// and takes a fast success without the lock while closed (see the
    /// [module docs](self)).
    #[default]
    Consecutive,
    /// Failure/slow rate over the last [`COUNT_WINDOW`] calls, or over the
    /// last `1..=`[`MAX_COUNT_WINDOW`] calls chosen with
    /// [`SharedBreaker::with_count_window`]. Admits without the lock while
    /// closed; takes a fast success without the lock once the window is
    /// full (see the [module docs](self)).
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
/// assert_eq!(steadfast_std::breaker::MAX_COUNT_WINDOW, 128);
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

/// A [`SharedBreaker`]'s counters since it was built: the core's [`Stats`]
/// in 64 bits, so they keep counting for as long as a service runs
/// (`u32` runs out after about five days at 10 000 calls a second).
///
/// The meaning of each counter is the core's ([`Stats`]).
///
/// ```
/// use steadfast::breaker::Stats;
/// use steadfast_std::breaker::Totals;
///
/// let mut t = Totals::ZERO;
/// t.add(Stats::ZERO);
/// assert_eq!(t, Totals::from(Stats::ZERO));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Totals {
    /// Permits issued (calls admitted), probes included.
    pub calls: u64,
    /// Outcomes recorded as successes.
    pub successes: u64,
    /// Outcomes recorded as failures or timeouts.
    pub failures: u64,
    /// Outcomes recorded as ignored.
    pub ignored: u64,
    /// Counted outcomes that were slow.
    pub slow_calls: u64,
    /// Calls refused (in metrics-only mode: that would have been refused).
    pub rejections: u64,
    /// Changes of state variant.
    pub state_changes: u64,
    /// Times the breaker opened by itself (`ForcedOpen` not included).
    pub opens: u64,
}

impl Totals {
    /// All counters at zero.
    ///
    /// ```
    /// assert_eq!(steadfast_std::breaker::Totals::ZERO.calls, 0);
    /// ```
    pub const ZERO: Self = Self {
        calls: 0,
        successes: 0,
        failures: 0,
        ignored: 0,
        slow_calls: 0,
        rejections: 0,
        state_changes: 0,
        opens: 0,
    };

    /// Adds the core's counts (wrapping, which at 64 bits never happens).
    ///
    /// ```
    /// use steadfast_std::breaker::Totals;
    /// let mut t = Totals::ZERO;
    /// t.add(steadfast::breaker::Stats::ZERO);
    /// assert_eq!(t, Totals::ZERO);
    /// ```
    pub fn add(&mut self, stats: Stats) {
        self.calls = self.calls.wrapping_add(u64::from(stats.calls));
        self.successes = self.successes.wrapping_add(u64::from(stats.successes));
        self.failures = self.failures.wrapping_add(u64::from(stats.failures));
        self.ignored = self.ignored.wrapping_add(u64::from(stats.ignored));
        self.slow_calls = self.slow_calls.wrapping_add(u64::from(stats.slow_calls));
        self.rejections = self.rejections.wrapping_add(u64::from(stats.rejections));
        self.state_changes = self
            .state_changes
            .wrapping_add(u64::from(stats.state_changes));
        self.opens = self.opens.wrapping_add(u64::from(stats.opens));
    }
}

impl From<Stats> for Totals {
    fn from(stats: Stats) -> Self {
        let mut t = Self::ZERO;
        t.add(stats);
        t
    }
}

/// What the mutex protects.
#[derive(Debug)]
pub(crate) struct Locked {
    pub(crate) machine: AnyBreaker,
    /// What the core counted, moved here every [`DRAIN_STEPS`] locked steps
    /// so that the core's `u32` counters never fill up; the counts of the
    /// steps since are still in the core.
    totals: Totals,
    /// Locked steps since the core's counts were last moved to `totals`.
    steps: u32,
}

/// Locked steps between two drains of the core's counts: one step adds at
/// most a few to any counter, and 128 successes kept aside, so `u32`
/// counters stay far from full.
const DRAIN_STEPS: u32 = 1 << 16;

impl Locked {
    fn state(&self) -> State {
        with_breaker!(&self.machine, b => b.state())
    }

    /// The core's generation and the word's `clean` and `deferrable` bits
    /// for it: what the word says besides `closed`, which changes only with
    /// the generation.
    fn generation_and_bits(&self) -> (u32, u64) {
        let (generation, clean, deferrable) = with_breaker!(
            &self.machine,
            b => (b.generation(), b.is_clean(), b.fast_success_cannot_trip())
        );
        (
            generation,
            (u64::from(clean) * CLEAN) | (u64::from(deferrable) * DEFERRABLE),
        )
    }

    /// Recomputes the fast-path word (see [`CLEAN`]), no success kept aside.
    /// Publishes what lock-free readers decide on: the word, and the end of
    /// an open period (0 when not open, or when a metrics-only breaker never
    /// rejects).
    fn publish(&self, word: &AtomicU64, open_until: &AtomicU64) {
        // The state once: building it from the core's phase is most of the cost.
        let (state, metrics_only) =
            with_breaker!(&self.machine, b => (b.state(), b.config().metrics_only()));
        let (generation, bits) = self.generation_and_bits();
        let closed = state == State::Closed;
        let until = match state {
            State::Open { until } if !metrics_only => until.as_micros(),
            _ => 0,
        };
        open_until.store(until, Ordering::Release);
        word.store(
            (u64::from(generation) << GENERATION_SHIFT) | (u64::from(closed) * CLOSED) | bits,
            Ordering::Release,
        );
    }
}

// The word: `generation << 32 | pending << 8 | deferrable << 2 | closed << 1 | clean`.
// Only the lock's holder stores it; without the lock, a success kept aside
// adds to `pending` (compare-exchange, only while `deferrable` and not
// `clean`), and a locked step takes `pending` and clears `deferrable` in one
// read-modify-write before it touches the core (see `take_pending`), so it
// never overwrites a success kept aside.

/// The word's bit saying the breaker is clean ([`Breaker::is_clean`]): a
/// fast success is counted in the stripes, the core would not change.
const CLEAN: u64 = 1;
/// The word's bit saying the breaker is closed: it admits every call.
const CLOSED: u64 = 2;
/// The word's bit saying no fast success can trip the breaker
/// ([`Breaker::fast_success_cannot_trip`]): one may be kept aside in
/// `pending`, for the next locked step to hand to the core.
const DEFERRABLE: u64 = 4;
/// One success kept aside in the word.
const PENDING_ONE: u64 = 1 << 8;
/// The bits of the word counting the successes kept aside.
const PENDING: u64 = 0xFF << 8;
/// The most successes kept aside at once; the next one takes the lock,
/// which hands them to the core (and bounds the work done under it).
const PENDING_MAX: u64 = 128;
/// Where the generation starts in the word.
const GENERATION_SHIFT: u32 = 32;

/// The word a clean breaker publishes in `generation` (clean implies
/// deferrable: a success that changes nothing cannot trip).
const fn clean_word(generation: u32) -> u64 {
    (generation as u64) << GENERATION_SHIFT | DEFERRABLE | CLOSED | CLEAN
}

/// The generation a word was published in.
#[allow(clippy::cast_possible_truncation)] // the word holds a u32 generation
const fn word_generation(word: u64) -> u32 {
    (word >> GENERATION_SHIFT) as u32
}

/// The successes kept aside in `word`.
#[allow(clippy::cast_possible_truncation)] // 8 bits
const fn pending(word: u64) -> u32 {
    ((word & PENDING) / PENDING_ONE) as u32
}

/// Whether `word` says closed in `generation`: the core would do nothing
/// with a permit of that generation given back unused.
const fn closed_in(word: u64, generation: u32) -> bool {
    word & CLOSED != 0 && word_generation(word) == generation
}

/// Lock-free counts of one thread (or of the overflow threads), one cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    /// Permits issued without the lock (the core counts the ones it issues).
    calls: AtomicU64,
    /// Successes recorded without the lock.
    successes: AtomicU64,
    /// Calls refused without the lock (open, before the open period ends).
    rejections: AtomicU64,
}

/// Threads that own a stripe; the stripe after them is shared by the rest.
const STRIPES: usize = 16;

/// Which stripe the current thread writes, and whether it owns it.
#[cfg(not(loom))]
mod slot {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::STRIPES;

    /// Free slots, one bit each.
    static FREE: AtomicU32 = AtomicU32::new((1 << STRIPES) - 1);

    /// `STRIPE` before this thread claimed a slot.
    const UNSET: u32 = u32::MAX;
    /// `STRIPE` when no slot was free (or the thread is exiting): the shared
    /// stripe's index.
    #[allow(clippy::cast_possible_truncation)] // 16
    const SHARED: u32 = STRIPES as u32;

    std::thread_local! {
        /// The index of the stripe this thread writes: below `SHARED` its
        /// own, `SHARED` the one the rest share, or `UNSET`.
        /// Const-initialised with no destructor, so reading it is one
        /// thread-local load.
        static STRIPE: Cell<u32> = const { Cell::new(UNSET) };
        /// Gives the slot back when the thread exits.
        static CLAIM: Claim = Claim::new();
    }

    /// A slot owned by this thread until it exits.
    struct Claim(Option<u32>);

    impl Claim {
        fn new() -> Self {
            let mut free = FREE.load(Ordering::Relaxed);
            while free != 0 {
                let i = free.trailing_zeros();
                match FREE.compare_exchange_weak(
                    free,
                    free & !(1 << i),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Self(Some(i)),
                    Err(now) => free = now,
                }
            }
            Self(None)
        }
    }

    impl Drop for Claim {
        fn drop(&mut self) {
            // Stop writing the stripe first (a later destructor may still
            // use a breaker: it takes the shared stripe), then hand it over.
            // Release: the next owner sees every count this thread stored.
            let _ = STRIPE.try_with(|o| o.set(SHARED));
            if let Some(i) = self.0 {
                FREE.fetch_or(1 << i, Ordering::Release);
            }
        }
    }

    /// `Some(i)`: this thread is the only writer of stripe `i`.
    #[inline]
    pub(super) fn owned() -> Option<usize> {
        match STRIPE.try_with(Cell::get) {
            Ok(i) if i < SHARED => Some(i as usize),
            Ok(UNSET) => claim(),
            _ => None,
        }
    }

    #[cold]
    fn claim() -> Option<usize> {
        let slot = CLAIM.try_with(|c| c.0).ok().flatten();
        let _ = STRIPE.try_with(|o| o.set(slot.unwrap_or(SHARED)));
        slot.map(|i| i as usize)
    }
}

#[cfg(loom)]
mod slot {
    /// Under loom every thread shares the overflow stripe (atomic adds), so
    /// the model checks the read-modify-write path.
    pub(super) fn owned() -> Option<usize> {
        None
    }
}

/// The stripe this thread writes, and whether it is its only writer.
#[inline(always)]
fn stripe(stripes: &[Stripe; STRIPES + 1]) -> (&Stripe, bool) {
    let (own, shared) = stripes.split_at(STRIPES);
    match slot::owned().and_then(|i| own.get(i)) {
        Some(own) => (own, true),
        None => (&shared[0], false),
    }
}

/// Adds one to a counter of a [`stripe`]: a plain load and store when this
/// thread is its only writer, an atomic add otherwise.
#[inline(always)]
fn add_one(counter: &AtomicU64, owned: bool) {
    if owned {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    } else {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Adds one to a stripe counter of this thread.
#[inline(always)]
fn bump(stripes: &[Stripe; STRIPES + 1], counter: fn(&Stripe) -> &AtomicU64) {
    let (stripe, owned) = stripe(stripes);
    add_one(counter(stripe), owned);
}

struct Inner {
    word: AtomicU64,
    /// While open: the end of the open period in µs, before which a call is
    /// refused without the lock (0 otherwise).
    open_until: AtomicU64,
    /// `slow_call_duration` in µs (`u64::MAX`: off): a slower success takes the lock.
    slow_micros: u64,
    stripes: [Stripe; STRIPES + 1],
    name: std::sync::Arc<str>,
    /// `name` as its errors carry it.
    error_name: Name,
    detector: Detector,
    locked: Mutex<Locked>,
}

impl Inner {
    /// [`SharedBreaker::refuse_while_open`] at [`time::now`], read once:
    /// `Err(until)`, the end of the open period, when refused (counted in
    /// this thread's stripe); otherwise `Ok(now)`, at which the core decides.
    /// The refusal compares on the std clock ([`time::reads_before`]) and
    /// converts no reading. Not open (`open_until` 0): no reading is before
    /// it, so no test of its own.
    #[inline(always)]
    fn refuse_until_open_ends(&self) -> Result<Instant, Instant> {
        let until = Instant::from_micros(self.open_until.load(Ordering::Acquire));
        let at = time::now_instant();
        if time::reads_before(at, until) {
            bump(&self.stripes, |s| &s.rejections);
            return Err(until);
        }
        Ok(time::from_std_cold(at))
    }
}

/// A circuit breaker shared by every clone of this handle (an `Arc`), across
/// tasks and threads. See the [module docs](self) for the fast path.
///
/// ```
/// use steadfast_std::SharedBreaker;
/// let b = SharedBreaker::new("redis", steadfast::breaker::Config::default())?;
/// let permit = b.try_acquire().expect("closed");
/// permit.success();
/// assert_eq!(b.stats().successes, 1);
/// # Ok::<(), steadfast::error::ConfigError>(())
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
    /// [`Error::rejected`], events and health reports). The errors carry the
    /// name interned: each distinct name is kept once for the life of the
    /// process (see [`Error`]).
    ///
    /// ```
    /// use steadfast_std::SharedBreaker;
    /// let err = SharedBreaker::new("x", steadfast::breaker::Config::new().with_failure_threshold(0)).unwrap_err();
    /// assert_eq!(err.field, "failure_threshold");
    /// ```
    pub fn new(name: impl Into<std::sync::Arc<str>>, config: Config) -> Result<Self, ConfigError> {
        Self::with_detector(name, config, Detector::Consecutive)
    }

    /// A breaker with the given failure detector.
    ///
    /// ```
    /// use steadfast::time::Duration;
    /// use steadfast_std::{Detector, SharedBreaker};
    /// let config = steadfast::breaker::Config::new().with_window_duration(Duration::from_secs(30));
    /// let b = SharedBreaker::with_detector("kafka", config, Detector::TimeWindow)?;
    /// assert_eq!(b.name(), "kafka");
    /// # Ok::<(), steadfast::error::ConfigError>(())
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
        Ok(Self::from_machine(name.into(), detector, config, machine))
    }

    fn from_machine(
        name: std::sync::Arc<str>,
        detector: Detector,
        config: Config,
        machine: AnyBreaker,
    ) -> Self {
        let locked = Locked {
            machine,
            totals: Totals::ZERO,
            steps: 0,
        };
        let word = AtomicU64::new(0);
        let open_until = AtomicU64::new(0);
        locked.publish(&word, &open_until);
        Self {
            inner: Arc::new(Inner {
                word,
                open_until,
                slow_micros: config.slow_call_duration().as_micros(),
                stripes: Default::default(),
                error_name: Name::intern(&name),
                name,
                detector,
                locked: Mutex::new(locked),
            }),
        }
    }

    /// A [`Detector::CountWindow`] breaker judging the last `window` calls,
    /// `1 ≤ window ≤ `[`MAX_COUNT_WINDOW`] (the error names
    /// `CountWindow::len` otherwise). A `minimum_calls` above `window` means
    /// `window`: a full window is always judged.
    ///
    /// ```
    /// use steadfast::breaker::{Config, State};
    /// use steadfast_std::{Detector, SharedBreaker};
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
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_count_window(
        name: impl Into<std::sync::Arc<str>>,
        config: Config,
        window: usize,
    ) -> Result<Self, ConfigError> {
        let machine = AnyBreaker::Count(count_breaker(config, window)?);
        Ok(Self::from_machine(
            name.into(),
            Detector::CountWindow,
            config,
            machine,
        ))
    }

    /// The breaker's name.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.name(), "db");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    #[cfg(feature = "tower")]
    pub(crate) fn name_arc(&self) -> std::sync::Arc<str> {
        self.inner.name.clone()
    }

    /// The name as this breaker's errors carry it.
    pub(crate) fn error_name(&self) -> Name {
        self.inner.error_name
    }

    /// The failure detector.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.detector(), steadfast_std::Detector::Consecutive);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn detector(&self) -> Detector {
        self.inner.detector
    }

    /// The length of a [`Detector::CountWindow`] (the calls it judges);
    /// `None` for the other detectors.
    ///
    /// ```
    /// use steadfast_std::{Detector, SharedBreaker};
    /// let b = SharedBreaker::with_detector("api", Default::default(), Detector::CountWindow)?;
    /// assert_eq!(b.count_window(), Some(steadfast_std::breaker::COUNT_WINDOW));
    /// assert_eq!(SharedBreaker::new("db", Default::default())?.count_window(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
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
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.config().failure_threshold(), 5);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> Config {
        let locked = lock(&self.inner.locked);
        with_breaker!(&locked.machine, b => *b.config())
    }

    /// The current state (as last updated; a due `Open → HalfOpen` shows once
    /// someone asks for a permit or calls [`handle_timeout`](Self::handle_timeout)).
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.state(), steadfast::breaker::State::Closed);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn state(&self) -> State {
        lock(&self.inner.locked).state()
    }

    /// The counters since the breaker was built, lock-free calls included,
    /// in 64 bits ([`Totals`]). `calls` counts permits when issued,
    /// `successes` when recorded, as the core does.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// let _ = b.call(|| Ok::<_, ()>(()));
    /// assert_eq!((b.stats().calls, b.stats().successes), (1, 1));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn stats(&self) -> Totals {
        let mut totals = self.locked_step(|locked| {
            let mut totals = locked.totals;
            totals.add(with_breaker!(&locked.machine, b => b.stats()));
            totals
        });
        for s in &self.inner.stripes {
            totals.calls = totals.calls.wrapping_add(s.calls.load(Ordering::Relaxed));
            totals.successes = totals
                .successes
                .wrapping_add(s.successes.load(Ordering::Relaxed));
            totals.rejections = totals
                .rejections
                .wrapping_add(s.rejections.load(Ordering::Relaxed));
        }
        totals
    }

    /// The calls its detector holds now, with their rates (see
    /// [`Breaker::counts`]): a time window's buckets expire by time, so this
    /// never shows a failure older than `window_duration`, even after a
    /// silence.
    ///
    /// ```
    /// use steadfast_std::{Detector, SharedBreaker};
    /// let b = SharedBreaker::with_detector("api", Default::default(), Detector::TimeWindow)?;
    /// let _ = b.call(|| Err::<(), _>("down"));
    /// assert_eq!((b.counts().calls, b.counts().failure_percent()), (1, 100));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn counts(&self) -> WindowCounts {
        self.counts_at(time::now())
    }

    pub(crate) fn counts_at(&self, now: Instant) -> WindowCounts {
        self.locked_step(|locked| with_breaker!(&locked.machine, b => b.counts(now)))
    }

    /// When a deadline inside the breaker expires (end of the break, hung
    /// probe), if any.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.poll_at(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn poll_at(&self) -> Option<Instant> {
        let locked = lock(&self.inner.locked);
        with_breaker!(&locked.machine, b => b.poll_at())
    }

    /// Applies a due time-driven transition (for health checks and gauges
    /// that want `HalfOpen` to show without traffic).
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.handle_timeout(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn handle_timeout(&self) -> Option<Transition> {
        self.gate().handle_timeout(time::now())
    }

    /// Closes the breaker (see [`Breaker::reset`]); outstanding permits become stale.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// let _ = b.force_open();
    /// assert!(b.reset().is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn reset(&self) -> Option<Transition> {
        let now = time::now();
        self.with_locked(|m| with_breaker!(m, b => b.reset(now)))
    }

    /// Holds the breaker open until [`reset`](Self::reset).
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// let _ = b.force_open();
    /// assert_eq!(b.try_acquire().unwrap_err().retry_at, None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn force_open(&self) -> Option<Transition> {
        let now = time::now();
        self.with_locked(|m| with_breaker!(m, b => b.force_open(now)))
    }

    /// Makes the breaker a pass-through that only counts, until [`reset`](Self::reset).
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// let _ = b.disable();
    /// assert_eq!(b.state(), steadfast::breaker::State::Disabled);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn disable(&self) -> Option<Transition> {
        let now = time::now();
        self.with_locked(|m| with_breaker!(m, b => b.disable(now)))
    }

    /// Runs `f` on the core breaker under the lock, then republishes the word.
    #[cold]
    fn with_locked<R>(&self, f: impl FnOnce(&mut AnyBreaker) -> R) -> R {
        self.locked_step(|locked| f(&mut locked.machine))
    }

    /// Runs `f` under the lock on the core as of now, the successes kept
    /// aside handed to it first; then republishes the word if it changed.
    fn locked_step<R>(&self, f: impl FnOnce(&mut Locked) -> R) -> R {
        let mut locked: MutexGuard<'_, Locked> = lock(&self.inner.locked);
        self.take_pending(&mut locked);
        let r = f(&mut locked);
        // Every step, reads included, may have handed the core successes.
        locked.steps += 1;
        if locked.steps >= DRAIN_STEPS {
            locked.steps = 0;
            let counted = with_breaker!(&mut locked.machine, b => b.take_stats());
            locked.totals.add(counted);
        }
        // Besides these bits, the word and the open period change only with
        // the generation (every change of state starts one). Nothing but
        // this lock's holder changes the word now (see `take_pending`), so a
        // relaxed load reads the last one.
        let (generation, bits) = locked.generation_and_bits();
        let word = self.inner.word.load(Ordering::Relaxed);
        if generation != word_generation(word) {
            locked.publish(&self.inner.word, &self.inner.open_until);
        } else if word & (CLEAN | DEFERRABLE | PENDING) != bits {
            let word = (word & !(CLEAN | DEFERRABLE | PENDING)) | bits;
            self.inner.word.store(word, Ordering::Release);
        }
        r
    }

    /// Under the lock: hands the successes kept aside in the word to the
    /// core, in the same read-modify-write that stops any more from being
    /// kept aside (it clears `deferrable`) until the word is published again.
    /// Successes kept aside before it come before this step's input; the
    /// others find the word changed and come to the core after it.
    fn take_pending(&self, locked: &mut Locked) {
        // `deferrable` and `clean` change only under the lock: read alone,
        // they are the last published. Clean, no success is kept aside.
        if self.inner.word.load(Ordering::Relaxed) & (DEFERRABLE | CLEAN) != DEFERRABLE {
            return;
        }
        let word = self
            .inner
            .word
            .fetch_and(!(DEFERRABLE | PENDING), Ordering::AcqRel);
        let kept = pending(word);
        if kept > 0 {
            // The core still says what the word said: nothing changed it
            // since, so this cannot be refused.
            let recorded = with_breaker!(&mut locked.machine, b => b.record_fast_successes(kept));
            debug_assert_eq!(recorded, Ok(()));
        }
    }

    /// The breaker as the pipeline sees it: a [`CircuitBreaker`] that locks
    /// the core only off the clean path.
    #[inline]
    pub(crate) fn gate(&self) -> Gate<'_> {
        Gate { breaker: self }
    }

    /// Asks for a permit to make one call: lock-free (and clock-free unless
    /// slow-call detection is on) while the breaker is closed (see the module
    /// docs).
    ///
    /// ```
    /// use steadfast::outcome::Outcome;
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// match b.try_acquire() {
    ///     Ok(permit) => { let _ = permit.record(Outcome::Failure); }
    ///     Err(rejected) => println!("open until {:?}", rejected.retry_at),
    /// }
    /// assert_eq!(b.stats().failures, 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<BreakerPermit<'_>, Rejected> {
        let word = self.inner.word.load(Ordering::Acquire);
        let permit = if word & CLOSED != 0 {
            // Only slow-call timing reads `issued_at`: with it off, no clock.
            let at = if self.inner.slow_micros == u64::MAX {
                Instant::ZERO
            } else {
                time::now()
            };
            self.issue_closed(word, at)
        } else {
            let now = self
                .inner
                .refuse_until_open_ends()
                .map_err(|until| Rejected {
                    retry_at: Some(until),
                })?;
            return self.acquire_locked(now);
        };
        Ok(BreakerPermit {
            breaker: self,
            permit: Some(permit),
        })
    }

    /// A permit from the core, under the lock, at `now`.
    fn acquire_locked(&self, now: Instant) -> Result<BreakerPermit<'_>, Rejected> {
        let permit = self.with_locked(|m| with_breaker!(m, b => b.try_acquire(now)))?;
        Ok(BreakerPermit {
            breaker: self,
            permit: Some(permit),
        })
    }

    /// The permit a closed core would issue in the generation of `word`,
    /// counted in this thread's stripe.
    #[inline]
    fn issue_closed(&self, word: u64, at: Instant) -> Permit {
        bump(&self.inner.stripes, |s| &s.calls);
        Permit::issued(word_generation(word), at)
    }

    /// Open, and `now` before the end of the open period: refused without
    /// the lock, as the core would refuse it (counted in this thread's
    /// stripe). A breaker that may change state at `now` answers `Ok` and
    /// the core decides.
    #[inline]
    fn refuse_while_open(&self, now: Instant) -> Result<(), Rejected> {
        let until = self.inner.open_until.load(Ordering::Acquire);
        if now.as_micros() < until {
            bump(&self.inner.stripes, |s| &s.rejections);
            return Err(Rejected {
                retry_at: Some(Instant::from_micros(until)),
            });
        }
        Ok(())
    }

    /// Closed: no time-driven transition can be due (only an open period
    /// or a hung probe has a deadline).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.word.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Runs `op` if the breaker admits it and records how it ended (`Err` is a
    /// failure).
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.call(|| Ok::<_, ()>(5)).unwrap(), 5);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[inline]
    pub fn call<T, E>(&self, op: impl FnOnce() -> Result<T, E>) -> Result<T, Error<E>> {
        self.call_classified(&ErrorsFail, op)
    }

    /// Like [`call`](Self::call), with a classifier deciding what counts as a
    /// failure.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// # let b = steadfast_std::SharedBreaker::new("db", steadfast::breaker::Config::new().with_failure_threshold(1))?;
    /// let not_found_is_fine = |r: &Result<u16, ()>| match r { Ok(404) | Ok(200) => Verdict::success(), _ => Verdict::failure() };
    /// let _ = b.call_classified(&not_found_is_fine, || Ok::<u16, ()>(404));
    /// assert_eq!(b.state(), steadfast::breaker::State::Closed);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    // Inlined whole: a refusal is built in place in the caller's result, and
    // the clean path stays as short as when it was alone.
    #[inline(always)]
    pub fn call_classified<T, E, C: Classify<T, E> + ?Sized>(
        &self,
        classifier: &C,
        op: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error<E>> {
        let word = self.inner.word.load(Ordering::Acquire);
        if word & CLEAN != 0 && self.inner.slow_micros == u64::MAX {
            // Clean, no slow-call timing: no lock and no clock, and this
            // thread's stripe is looked up once for the call and its success.
            let (stripe, owned) = stripe(&self.inner.stripes);
            add_one(&stripe.calls, owned);
            let mut permit = BreakerPermit {
                breaker: self,
                permit: Some(Permit::issued(word_generation(word), Instant::ZERO)),
            };
            let result = op();
            let outcome = classifier.classify(&result).outcome;
            if outcome == Outcome::Success && self.inner.word.load(Ordering::Acquire) == word {
                permit.permit = None;
                add_one(&stripe.successes, owned);
            } else {
                let _ = permit.record(outcome);
            }
            return result.map_err(Error::operation);
        }
        if word & CLOSED == 0 {
            // Not closed: refused with no lock before the open period ends;
            // from then on the core decides, at the same clock reading.
            let inner: &Inner = &self.inner;
            return match inner.refuse_until_open_ends() {
                Err(until) => Err(Error::refused(inner.error_name, Some(until))),
                Ok(now) => self.call_at(now, classifier, op),
            };
        }
        self.call_unclean(word, classifier, op)
    }

    /// [`call_classified`](Self::call_classified) closed off the clean path,
    /// `word` read: admitted without the lock, and with no slow-call timing
    /// a fast success is taken without it while the word allows.
    #[inline(never)]
    fn call_unclean<T, E, C: Classify<T, E> + ?Sized>(
        &self,
        word: u64,
        classifier: &C,
        op: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error<E>> {
        if self.inner.slow_micros == u64::MAX {
            // No slow-call timing: the permit needs no time, nor a fast
            // success the lock while the word allows.
            let generation = word_generation(word);
            let mut permit = BreakerPermit {
                breaker: self,
                permit: Some(self.issue_closed(word, Instant::ZERO)),
            };
            let result = op();
            let outcome = classifier.classify(&result).outcome;
            if outcome == Outcome::Success && self.fast_success_without_lock(generation) {
                permit.permit = None;
            } else {
                let _ = permit.record(outcome);
            }
            return result.map_err(Error::operation);
        }
        self.call_with(self.try_acquire(), classifier, op)
    }

    /// [`call_classified`](Self::call_classified) not closed once the open
    /// period has ended: the core decides at `now`.
    #[inline(never)]
    fn call_at<T, E, C: Classify<T, E> + ?Sized>(
        &self,
        now: Instant,
        classifier: &C,
        op: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error<E>> {
        self.call_with(self.acquire_locked(now), classifier, op)
    }

    /// Runs `op` on `permit`, or answers its refusal.
    #[inline(always)]
    fn call_with<T, E, C: Classify<T, E> + ?Sized>(
        &self,
        permit: Result<BreakerPermit<'_>, Rejected>,
        classifier: &C,
        op: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error<E>> {
        let permit = permit.map_err(|r| self.rejected(r))?;
        let result = op();
        let _ = permit.record(classifier.classify(&result).outcome);
        result.map_err(Error::operation)
    }

    #[cold]
    pub(crate) fn rejected<E>(&self, r: Rejected) -> Error<E> {
        Error::refused(self.inner.error_name, r.retry_at)
    }

    /// Whether `permit`'s call, ending at `now`, was not slow.
    #[inline]
    fn is_fast(&self, permit: &Permit, now: Instant) -> bool {
        self.inner.slow_micros == u64::MAX
            || now
                .saturating_duration_since(permit.issued_at())
                .as_micros()
                <= self.inner.slow_micros
    }

    /// A success that was not slow, of `generation`, taken without the lock
    /// when the word allows: counted in this thread's stripe while the
    /// breaker is clean in that generation, or kept aside in the word while
    /// no fast success can trip it. `false`: the core must record it.
    #[inline]
    fn fast_success_without_lock(&self, generation: u32) -> bool {
        let word = self.inner.word.load(Ordering::Acquire);
        if word == clean_word(generation) {
            bump(&self.inner.stripes, |s| &s.successes);
            return true;
        }
        self.keep_aside(word, generation)
    }

    /// Keeps a fast success of `generation` aside in the word (`word` as
    /// last read): while the word says deferrable, not clean, in that
    /// generation, with room left. `false` otherwise.
    #[inline]
    fn keep_aside(&self, mut word: u64, generation: u32) -> bool {
        while word & (DEFERRABLE | CLEAN) == DEFERRABLE
            && word_generation(word) == generation
            && word & PENDING < PENDING_MAX * PENDING_ONE
        {
            match self.inner.word.compare_exchange(
                word,
                word + PENDING_ONE,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => word = now,
            }
        }
        false
    }
}

/// A [`SharedBreaker`] lent to the pipeline for one step: each call locks the
/// core only when the clean path cannot decide (see the module docs).
#[derive(Debug)]
pub(crate) struct Gate<'a> {
    breaker: &'a SharedBreaker,
}

impl CircuitBreaker for Gate<'_> {
    #[inline]
    fn handle_timeout(&mut self, now: Instant) -> Option<Transition> {
        if self.breaker.is_closed() {
            return None;
        }
        self.breaker
            .with_locked(|m| with_breaker!(m, b => b.handle_timeout(now)))
    }

    #[inline]
    fn try_acquire(&mut self, now: Instant) -> Result<Permit, Rejected> {
        let word = self.breaker.inner.word.load(Ordering::Acquire);
        if word & CLOSED != 0 {
            return Ok(self.breaker.issue_closed(word, now));
        }
        self.breaker.refuse_while_open(now)?;
        self.breaker
            .with_locked(|m| with_breaker!(m, b => b.try_acquire(now)))
    }

    #[inline]
    fn record(&mut self, permit: Permit, outcome: Outcome, now: Instant) -> Option<Transition> {
        if outcome == Outcome::Success
            && self.breaker.is_fast(&permit, now)
            && self.breaker.fast_success_without_lock(permit.generation())
        {
            return None;
        }
        self.breaker
            .with_locked(|m| with_breaker!(m, b => b.record(permit, outcome, now)))
    }

    #[inline]
    fn cancel(&mut self, permit: Permit, now: Instant) {
        if closed_in(
            self.breaker.inner.word.load(Ordering::Acquire),
            permit.generation(),
        ) {
            // Closed in the permit's generation: the core would do nothing.
            return;
        }
        self.breaker
            .with_locked(|m| with_breaker!(m, b => b.cancel(permit, now)));
    }
}

/// Permission to make one call through a [`SharedBreaker`]. Hand it back with
/// [`record`](Self::record) (or [`success`](Self::success) /
/// [`failure`](Self::failure)); dropping it cancels it (a half-open probe
/// returns its slot).
///
/// ```
/// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
/// let p = b.try_acquire().unwrap();
/// drop(p); // cancelled: nothing counted but the call
/// assert_eq!(b.stats().failures, 0);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping a permit cancels the call"]
pub struct BreakerPermit<'a> {
    breaker: &'a SharedBreaker,
    permit: Option<Permit>,
}

impl BreakerPermit<'_> {
    /// Records how the call ended; returns the transition it caused.
    ///
    /// ```
    /// use steadfast::outcome::Outcome;
    /// # let b = steadfast_std::SharedBreaker::new("db", steadfast::breaker::Config::new().with_failure_threshold(1))?;
    /// let t = b.try_acquire().unwrap().record(Outcome::Failure).unwrap();
    /// assert!(matches!(t.to(), steadfast::breaker::State::Open { .. }));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[inline]
    pub fn record(mut self, outcome: Outcome) -> Option<Transition> {
        let permit = self.permit.take()?;
        let breaker = self.breaker;
        if breaker.inner.slow_micros == u64::MAX {
            // With slow calls off, a success needs no time.
            if outcome == Outcome::Success && breaker.fast_success_without_lock(permit.generation())
            {
                return None;
            }
            let word = breaker.inner.word.load(Ordering::Acquire);
            if closed_in(word, permit.generation()) {
                // The core records it without the time unless it trips the
                // breaker; only then is the clock read (under the lock).
                return breaker.with_locked(|m| {
                    with_breaker!(m, b => match b.record_untimed(permit, outcome) {
                        Ok(()) => None,
                        Err(permit) => b.record(permit, outcome, time::now()),
                    })
                });
            }
        }
        breaker.gate().record(permit, outcome, time::now())
    }

    /// Records a success.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// b.try_acquire().unwrap().success();
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[inline]
    pub fn success(self) {
        let _ = self.record(Outcome::Success);
    }

    /// Records a failure; returns the transition it caused.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBreaker::new("db", Default::default())?;
    /// assert_eq!(b.try_acquire().unwrap().failure(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn failure(self) -> Option<Transition> {
        self.record(Outcome::Failure)
    }
}

impl Drop for BreakerPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            if closed_in(
                self.breaker.inner.word.load(Ordering::Acquire),
                permit.generation(),
            ) {
                // Closed in the permit's generation: the core would do nothing.
                return;
            }
            self.breaker.gate().cancel(permit, time::now());
        }
    }
}

/// A [`BreakerPermit`] out of its borrow, for a future that owns a clone of
/// the handle (the tower layer); [`SharedBreaker::resume`] puts it back.
#[cfg(feature = "tower")]
#[derive(Debug)]
pub(crate) struct DetachedPermit(Option<Permit>);

#[cfg(feature = "tower")]
impl BreakerPermit<'_> {
    pub(crate) fn detach(mut self) -> DetachedPermit {
        DetachedPermit(self.permit.take())
    }
}

#[cfg(feature = "tower")]
impl SharedBreaker {
    pub(crate) fn resume(&self, permit: DetachedPermit) -> BreakerPermit<'_> {
        BreakerPermit {
            breaker: self,
            permit: permit.0,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use steadfast::pipeline::Reason;

    use super::*;

    /// Puts `n` lock-free calls and successes into the shared stripe, as if
    /// that many had already gone through.
    fn seed_lock_free(b: &SharedBreaker, n: u64) {
        let shared = &b.inner.stripes[STRIPES];
        shared.calls.store(n, Ordering::Relaxed);
        shared.successes.store(n, Ordering::Relaxed);
    }

    #[test]
    fn counters_run_past_u32_max() {
        let b = SharedBreaker::new("db", Config::new().with_failure_threshold(1)).unwrap();
        let near = u64::from(u32::MAX) - 1;
        seed_lock_free(&b, near);
        for _ in 0..3 {
            b.try_acquire().unwrap().success();
        }
        let s = b.stats();
        assert_eq!((s.calls, s.successes), (near + 3, near + 3));
        // Through the lock: what the core counts moves into the 64-bit totals.
        lock(&b.inner.locked).totals.failures = u64::from(u32::MAX);
        let _ = b.try_acquire().unwrap().failure();
        assert!(b.try_acquire().is_err());
        let s = b.stats();
        assert_eq!(
            (s.calls, s.failures, s.rejections, s.opens),
            (near + 4, u64::from(u32::MAX) + 1, 1, 1)
        );
    }

    // The paused clock drives `time::now` with the `tokio` feature only.
    #[cfg(feature = "tokio")]
    #[tokio::test(start_paused = true)]
    async fn an_open_breaker_refuses_without_the_lock_until_its_period_ends() {
        let b = SharedBreaker::new("db", Config::new().with_failure_threshold(1)).unwrap();
        let _ = b.call(|| Err::<(), _>("down"));
        let State::Open { until } = b.state() else {
            panic!("not open: {:?}", b.state());
        };
        assert_eq!(
            b.inner.open_until.load(Ordering::Relaxed),
            until.as_micros()
        );
        // Refused while the lock is held elsewhere: no lock taken.
        {
            let _held = lock(&b.inner.locked);
            for _ in 0..3 {
                let rejected = b.try_acquire().unwrap_err();
                assert_eq!(rejected.retry_at, Some(until));
            }
        }
        let err = b.call(|| Ok::<_, ()>(())).unwrap_err();
        assert!(err.is_rejection());
        assert_eq!(b.stats().rejections, 4);
        // At the end of the period the core decides: a half-open probe.
        tokio::time::advance(std::time::Duration::from_micros(
            until.saturating_duration_since(time::now()).as_micros(),
        ))
        .await;
        assert_eq!(b.call(|| Ok::<_, ()>(1)), Ok(1));
        assert!(
            matches!(b.state(), State::HalfOpen { .. }),
            "{:?}",
            b.state()
        );
        assert_eq!(b.inner.open_until.load(Ordering::Relaxed), 0);
    }

    /// A breaker named `name` that opens on its first failure, for `secs`.
    fn tripped(name: &str, secs: u64) -> (SharedBreaker, Instant) {
        let config = Config::new()
            .with_failure_threshold(1)
            .with_break_duration(steadfast::time::Duration::from_secs(secs));
        let b = SharedBreaker::new(name, config).unwrap();
        let _ = b.call(|| Err::<(), _>("down"));
        let State::Open { until } = b.state() else {
            panic!("not open: {:?}", b.state());
        };
        (b, until)
    }

    #[test]
    fn a_refusal_is_the_rejection_of_the_named_breaker_until_the_end_of_its_period() {
        let (b, until) = tripped("db", 30);
        let err = b.call(|| Ok::<_, &str>(())).unwrap_err();
        assert_eq!(err, Error::rejected("db".into(), Some(until)));
        assert_eq!(
            err.reason(),
            Reason::BreakerOpen {
                retry_at: Some(until)
            }
        );
        assert_eq!((err.breaker(), err.attempts()), (Some("db"), 0));
        assert_eq!(err.retry_at(), Some(time::to_std(until)));
        assert_eq!(
            err.to_string(),
            "circuit breaker `db` open after 0 attempt(s)"
        );
        assert_eq!(err.operation_error(), None);
        assert_eq!(b.stats().rejections, 1);
    }

    #[test]
    fn open_breakers_on_one_thread_each_refuse_until_their_own_end() {
        // The thread keeps one deadline on the std clock: taking turns, each
        // breaker replaces the other's, and each still answers its own.
        let (short, short_until) = tripped("short", 30);
        let (long, long_until) = tripped("long", 60);
        for _ in 0..3 {
            assert_eq!(
                short.call(|| Ok::<_, ()>(())),
                Err(Error::rejected("short".into(), Some(short_until)))
            );
            assert_eq!(
                long.call(|| Ok::<_, ()>(())),
                Err(Error::rejected("long".into(), Some(long_until)))
            );
        }
        assert_eq!((short.stats().rejections, long.stats().rejections), (3, 3));
    }

    #[test]
    fn a_forced_open_breaker_refuses_through_the_core_with_no_end() {
        let b = SharedBreaker::new("db", Config::new()).unwrap();
        let _ = b.force_open();
        assert_eq!(b.inner.open_until.load(Ordering::Relaxed), 0);
        let err = b.call(|| Ok::<_, &str>(())).unwrap_err();
        assert_eq!(err, Error::rejected("db".into(), None));
        assert_eq!(
            err.to_string(),
            "circuit breaker `db` open after 0 attempt(s)"
        );
        assert_eq!(b.stats().rejections, 1);
    }

    #[test]
    fn a_metrics_only_breaker_publishes_no_open_period() {
        let b = SharedBreaker::new(
            "db",
            Config::new()
                .with_failure_threshold(1)
                .with_metrics_only(true),
        )
        .unwrap();
        let _ = b.call(|| Err::<(), _>("down"));
        assert!(matches!(b.state(), State::Open { .. }));
        assert_eq!(b.inner.open_until.load(Ordering::Relaxed), 0);
        assert_eq!(b.call(|| Ok::<_, ()>(2)), Ok(2));
    }

    #[test]
    fn a_closed_window_breaker_admits_without_the_lock_and_judges_every_outcome() {
        let config = Config::new()
            .with_minimum_calls(4)
            .with_failure_rate_percent(50);
        let b = SharedBreaker::with_count_window("search", config, 4).unwrap();
        // Admitted while the lock is held elsewhere: no lock taken.
        let permits: Vec<_> = {
            let _held = lock(&b.inner.locked);
            (0..4).map(|_| b.try_acquire().unwrap()).collect()
        };
        let mut permits = permits.into_iter();
        permits.next().unwrap().success();
        permits.next().unwrap().success();
        assert_eq!(permits.next().unwrap().failure(), None);
        // The fourth outcome fills the window at 50 %: it trips.
        let opened = permits.next().unwrap().failure().unwrap();
        assert!(matches!(opened.to(), State::Open { .. }));
        assert!(b.try_acquire().is_err());
        let s = b.stats();
        assert_eq!(
            (s.calls, s.successes, s.failures, s.rejections, s.opens),
            (4, 2, 2, 1, 1)
        );
    }

    #[test]
    fn a_lock_free_permit_of_a_closed_generation_is_stale_once_the_breaker_opened() {
        let config = Config::new()
            .with_minimum_calls(2)
            .with_failure_rate_percent(50);
        let b = SharedBreaker::with_count_window("search", config, 2).unwrap();
        let late = b.try_acquire().unwrap();
        let late_drop = b.try_acquire().unwrap();
        let _ = b.call(|| Err::<(), _>("down"));
        let _ = b.call(|| Err::<(), _>("down"));
        let State::Open { until } = b.state() else {
            panic!("not open: {:?}", b.state());
        };
        // Outcomes and cancels from before the transition change nothing.
        assert_eq!(late.failure(), None);
        drop(late_drop);
        assert_eq!(b.state(), State::Open { until });
        let s = b.stats();
        assert_eq!((s.calls, s.failures, s.state_changes), (4, 2, 1));
    }

    #[test]
    fn counts_are_exact_across_drains_of_the_core() {
        // A count window takes the lock for every outcome: each call is a
        // locked step, so this runs past a few drains.
        let config = Config::new()
            .with_minimum_calls(100)
            .with_failure_rate_percent(100);
        let b = SharedBreaker::with_count_window("search", config, 100).unwrap();
        let n = u64::from(DRAIN_STEPS) * 2 + 7;
        for i in 0..n {
            let _ = b.call(|| if i % 3 == 0 { Err("down") } else { Ok(()) });
        }
        let s = b.stats();
        assert_eq!((s.calls, s.failures), (n, n.div_ceil(3)));
        assert_eq!(s.successes, n - n.div_ceil(3));
        let locked = lock(&b.inner.locked);
        let in_core = with_breaker!(&locked.machine, b => b.stats());
        assert!(u64::from(in_core.failures) < u64::from(DRAIN_STEPS));
        assert_eq!(
            locked.totals.failures + u64::from(in_core.failures),
            s.failures
        );
    }

    // The paused clock drives `time::now` with the `tokio` feature only.
    #[cfg(feature = "tokio")]
    #[tokio::test(start_paused = true)]
    async fn open_periods_end_to_the_microsecond_whichever_breaker_a_thread_asked_last() {
        // Two breakers opened 1 ms apart; the refusal compares on the std
        // clock with a per-thread cached deadline: asking about one breaker
        // must never answer for the other.
        let config = Config::new().with_failure_threshold(1);
        let (a, b) = (
            SharedBreaker::new("a", config).unwrap(),
            SharedBreaker::new("b", config).unwrap(),
        );
        let _ = a.call(|| Err::<(), _>("down"));
        tokio::time::advance(std::time::Duration::from_millis(1)).await;
        let _ = b.call(|| Err::<(), _>("down"));
        let (State::Open { until: a_until }, State::Open { until: b_until }) =
            (a.state(), b.state())
        else {
            panic!("not open: {:?} {:?}", a.state(), b.state());
        };
        assert_eq!(
            b_until,
            a_until.saturating_add(steadfast::time::Duration::from_millis(1))
        );
        let to = |t: Instant| {
            std::time::Duration::from_micros(t.saturating_duration_since(time::now()).as_micros())
        };
        tokio::time::advance(to(a_until) - std::time::Duration::from_micros(1)).await;
        for _ in 0..2 {
            assert_eq!(b.try_acquire().unwrap_err().retry_at, Some(b_until));
            assert_eq!(a.try_acquire().unwrap_err().retry_at, Some(a_until));
            assert_eq!(b.try_acquire().unwrap_err().retry_at, Some(b_until));
        }
        // The thread last asked about b (the later deadline).
        tokio::time::advance(std::time::Duration::from_micros(1)).await;
        assert!(a.try_acquire().is_ok(), "a's period ended: a probe");
        assert_eq!(b.try_acquire().unwrap_err().retry_at, Some(b_until));
        tokio::time::advance(to(b_until) - std::time::Duration::from_micros(1)).await;
        assert_eq!(b.try_acquire().unwrap_err().retry_at, Some(b_until));
        tokio::time::advance(std::time::Duration::from_micros(1)).await;
        assert!(b.try_acquire().is_ok(), "b's period ended: a probe");
    }
}
