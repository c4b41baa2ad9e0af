//! Failure detectors: what the breaker remembers while closed, and when it trips.
//!
//! * [`Consecutive`]: N failures in a row (the seeds' `failure_threshold`; the
//!   mode Polly v8 dropped and users asked back for).
//! * [`CountWindow<N>`]: the last `N` calls (or any `1..=N` chosen at run
//!   time), two bitsets (failed, slow).
//! * [`TimeWindow<K>`]: the calls of the last `window_duration`, in `K` buckets.
//!
//! Every detector is judged after **every** recorded outcome, success or
//! failure; ignored outcomes never reach it. Entering `Closed` clears it.

use crate::error::ConfigError;
use crate::time::Instant;

use super::config::Config;

pub(crate) mod sealed {
    use super::{Config, Instant};

    /// Which validation a detector needs, known at compile time so that
    /// `Breaker::new` can stay a `const fn`.
    #[derive(Clone, Copy, Debug)]
    pub enum Kind {
        Consecutive,
        Count { len: usize, words: usize },
        Time { buckets: usize },
    }

    /// One counted outcome, as the detectors see it.
    #[derive(Clone, Copy, Debug)]
    pub struct Sample {
        pub failure: bool,
        pub slow: bool,
    }

    /// The detector's machinery, private to the crate (keeps `Window` sealed).
    pub trait Detector: Sized {
        const KIND: Kind;
        const EMPTY: Self;
        /// Records one counted outcome; `true` when the breaker must trip.
        fn record(&mut self, sample: Sample, now: Instant, config: &Config) -> bool;
        /// Whether recording `sample` now could trip the breaker (`false`
        /// only where it certainly cannot): the outcomes that can be recorded
        /// in place without first judging them on a copy.
        #[inline(always)]
        fn may_trip(&self, _sample: Sample) -> bool {
            true
        }
        /// Whether recording a success that is not slow now would leave the
        /// detector holding the same calls, so that it decides alike from
        /// then on (`false` wherever that is not certain).
        #[inline(always)]
        fn absorbs_fast_success(&self) -> bool {
            false
        }
        /// Records `n` fast successes (neither failed nor slow) in a row,
        /// exactly as `n` calls of `record` would, none of which may trip
        /// (the caller checked `may_trip`).
        #[inline]
        fn record_fast_successes(&mut self, n: u32, now: Instant, config: &Config) {
            let sample = Sample {
                failure: false,
                slow: false,
            };
            for _ in 0..n {
                let _cannot_trip = self.record(sample, now, config);
            }
        }
        /// The counts as of `now` (not before the newest instant recorded),
        /// without changing anything.
        fn counts_at(&self, now: Instant, config: &Config) -> super::WindowCounts;
        fn clear(&mut self);
    }
}

use sealed::{Detector, Kind, Sample};

/// A failure detector a [`Breaker`](super::Breaker) can use: [`Consecutive`],
/// [`CountWindow`] or [`TimeWindow`] (sealed: the breaker's guarantees rely on
/// their exact behaviour).
///
/// ```
/// use steadfast::breaker::{Breaker, Config, CountWindow, Window};
/// use steadfast::outcome::Outcome;
/// use steadfast::time::Instant;
///
/// let mut b = Breaker::<CountWindow<16>>::new(Config::new()).unwrap();
/// let p = b.try_acquire(Instant::ZERO).unwrap();
/// let _ = b.record(p, Outcome::Failure, Instant::ZERO);
/// assert_eq!(b.window().counts().failures, 1);
/// ```
pub trait Window: sealed::Detector + Copy + core::fmt::Debug {
    /// What the detector holds as of the last outcome recorded into it. For a
    /// [`TimeWindow`] that may include buckets that have expired since:
    /// health endpoints and metrics ask [`Breaker::counts`](super::Breaker::counts)
    /// with `now` instead.
    ///
    /// ```
    /// use steadfast::breaker::{Consecutive, Window, WindowCounts};
    /// assert_eq!(Consecutive::new().counts(), WindowCounts::default());
    /// ```
    fn counts(&self) -> WindowCounts;
}

/// The calls a detector holds: a snapshot for health endpoints and metrics.
///
/// For [`Consecutive`], `calls` and `failures` are both the current run of
/// failures in a row.
///
/// ```
/// use steadfast::breaker::WindowCounts;
/// let c = WindowCounts { calls: 10, failures: 4, slow_calls: 1 };
/// assert_eq!(c.failure_percent(), 40);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WindowCounts {
    /// Calls held (successes and failures).
    pub calls: u32,
    /// Failures among them (timeouts included).
    pub failures: u32,
    /// Slow calls among them.
    pub slow_calls: u32,
}

impl WindowCounts {
    /// `failures × 100 / calls`, truncated; 0 when there are no calls.
    ///
    /// ```
    /// # use steadfast::breaker::WindowCounts;
    /// assert_eq!(WindowCounts { calls: 3, failures: 1, slow_calls: 0 }.failure_percent(), 33);
    /// assert_eq!(WindowCounts::default().failure_percent(), 0);
    /// ```
    pub const fn failure_percent(&self) -> u32 {
        percent(self.failures, self.calls)
    }

    /// `slow_calls × 100 / calls`, truncated; 0 when there are no calls.
    ///
    /// ```
    /// # use steadfast::breaker::WindowCounts;
    /// assert_eq!(WindowCounts { calls: 4, failures: 0, slow_calls: 1 }.slow_percent(), 25);
    /// ```
    pub const fn slow_percent(&self) -> u32 {
        percent(self.slow_calls, self.calls)
    }
}

const fn percent(part: u32, whole: u32) -> u32 {
    match (part as u64 * 100).checked_div(whole as u64) {
        Some(p) if p <= u32::MAX as u64 => p as u32,
        Some(_) => u32::MAX,
        None => 0,
    }
}

/// The rate rule shared by the window detectors: judged only from
/// `minimum_calls` on, trips when either rate reaches its threshold.
/// Multiplications in u64 of u32 values cannot overflow.
fn rates_trip(calls: u64, failures: u64, slow: u64, minimum_calls: u64, config: &Config) -> bool {
    if calls == 0 || calls < minimum_calls {
        return false;
    }
    failures * 100 >= u64::from(config.failure_rate_percent) * calls
        || slow * 100 >= u64::from(config.slow_call_rate_percent) * calls
}

/// Trips after [`Config::failure_threshold`] failures in a row.
///
/// A success ends the run; an ignored call neither extends nor ends it; a
/// timeout is a failure. Slow successes are not judged by this detector (they
/// are still counted in [`Stats::slow_calls`](super::Stats::slow_calls)).
///
/// ```
/// use steadfast::breaker::{Breaker, Config, Consecutive, State};
/// use steadfast::outcome::Outcome;
/// use steadfast::time::Instant;
///
/// let mut b: Breaker<Consecutive> = Breaker::new(Config::new().with_failure_threshold(2)).unwrap();
/// let t = Instant::ZERO;
/// let p = b.try_acquire(t).unwrap();
/// assert!(b.record(p, Outcome::Failure, t).is_none());
/// let p = b.try_acquire(t).unwrap();
/// assert!(b.record(p, Outcome::Failure, t).is_some());
/// assert!(matches!(b.state(), State::Open { .. }));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Consecutive {
    failures: u32,
}

impl Consecutive {
    /// An empty detector.
    ///
    /// ```
    /// # use steadfast::breaker::Consecutive;
    /// assert_eq!(Consecutive::new().failures(), 0);
    /// ```
    pub const fn new() -> Self {
        Self { failures: 0 }
    }

    /// The current run of failures in a row.
    ///
    /// ```
    /// # use steadfast::breaker::Consecutive;
    /// assert_eq!(Consecutive::new().failures(), 0);
    /// ```
    pub const fn failures(&self) -> u32 {
        self.failures
    }
}

impl Detector for Consecutive {
    const KIND: Kind = Kind::Consecutive;
    const EMPTY: Self = Self::new();

    #[inline(always)]
    fn may_trip(&self, sample: Sample) -> bool {
        sample.failure
    }

    /// A success ends the run, and an empty run stays empty.
    #[inline(always)]
    fn absorbs_fast_success(&self) -> bool {
        self.failures == 0
    }

    fn record_fast_successes(&mut self, n: u32, _now: Instant, _config: &Config) {
        if n > 0 {
            self.failures = 0;
        }
    }

    #[inline]
    fn record(&mut self, sample: Sample, _now: Instant, config: &Config) -> bool {
        if !sample.failure {
            // A success ends the run; a run of 0 never trips (threshold ≥ 1).
            self.failures = 0;
            return false;
        }
        self.failures = self.failures.saturating_add(1);
        self.failures >= config.failure_threshold
    }

    fn counts_at(&self, _now: Instant, _config: &Config) -> WindowCounts {
        self.counts()
    }

    fn clear(&mut self) {
        self.failures = 0;
    }
}

impl Window for Consecutive {
    fn counts(&self) -> WindowCounts {
        WindowCounts {
            calls: self.failures,
            failures: self.failures,
            slow_calls: 0,
        }
    }
}

/// The longest window a [`CountWindow`] can judge: 32 768 calls.
///
/// The ring position counts up to twice the window's length in a `u16` (see
/// [`CountWindow`]), which keeps the detector at four `u16` counters beside its
/// bitsets.
pub(crate) const MAX_COUNT_LEN: usize = 1 << 15;

/// The last `len` calls, as two ring bitsets (failed, slow) of `WORDS` × 64 bits.
///
/// `N` is the storage: the longest window this type can hold. `WORDS`
/// defaults to 1, enough for `N ≤ 64`; larger windows name it:
/// `CountWindow<100, 2>` (checked by [`Breaker::new`](super::Breaker::new), which
/// also rejects `N = 0` and `N > 32 768`). The window's length `len` is `N`
/// ([`new`](Self::new), [`Default`]) or any `1..=N` chosen at run time
/// ([`with_len`](Self::with_len), then
/// [`Breaker::with_window`](super::Breaker::with_window)): the ring wraps at
/// `len`, and a `CountWindow<N2, W2>::with_len(n)` decides exactly like a
/// `CountWindow<n>`. Judged by [`Config::failure_rate_percent`] and
/// [`Config::slow_call_rate_percent`] once it holds `min(Config::minimum_calls,
/// len)` calls, after every recorded outcome.
///
/// ```
/// use steadfast::breaker::{Breaker, Config, CountWindow, State};
/// use steadfast::outcome::Outcome;
/// use steadfast::time::Instant;
///
/// // 4 calls judged, trips at 50 %.
/// let mut b = Breaker::<CountWindow<4>>::new(Config::new().with_minimum_calls(4)).unwrap();
/// let t = Instant::ZERO;
/// for outcome in [Outcome::Failure, Outcome::Failure, Outcome::Success] {
///     let p = b.try_acquire(t).unwrap();
///     assert!(b.record(p, outcome, t).is_none());
/// }
/// // The 4th call is a success, but 2 of 4 failed: it trips.
/// let p = b.try_acquire(t).unwrap();
/// assert!(b.record(p, Outcome::Success, t).is_some());
/// assert!(matches!(b.state(), State::Open { .. }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
// In this order `len`, which emptying keeps, splits what it clears (the
// bitsets, then the position and counts): a few stores, where one run of them
// would be a `memset` call on a Cortex-M0.
#[repr(C)]
pub struct CountWindow<const N: usize, const WORDS: usize = 1> {
    failed: [u64; WORDS],
    slow: [u64; WORDS],
    /// The window's length: slots `0..len` of the bitsets are the ring.
    len: u16,
    /// Outcomes recorded since the window was last empty, folded into
    /// `0..2 × len`: below `len` the window is filling (`pos` slots held, the
    /// next outcome goes to slot `pos`); from `len` on it is full and the next
    /// outcome replaces the oldest, in slot `pos − len`. One counter for both
    /// (instead of a head and a fill level) keeps the window as small as when
    /// its length was only `N`.
    pos: u16,
    failures: u16,
    slow_calls: u16,
}

/// `n` as a window length (`MAX_COUNT_LEN` fits in a `u16`; longer storage is
/// rejected by the breaker's validation).
const fn len_u16(n: usize) -> u16 {
    if n > MAX_COUNT_LEN {
        MAX_COUNT_LEN as u16
    } else {
        n as u16
    }
}

impl<const N: usize, const WORDS: usize> CountWindow<N, WORDS> {
    /// An empty window of length `N`.
    ///
    /// ```
    /// # use steadfast::breaker::{CountWindow, Window};
    /// assert_eq!(CountWindow::<64>::new().counts().calls, 0);
    /// assert_eq!(CountWindow::<64>::new().window_len(), 64);
    /// ```
    pub const fn new() -> Self {
        Self {
            failed: [0; WORDS],
            slow: [0; WORDS],
            pos: 0,
            len: len_u16(N),
            failures: 0,
            slow_calls: 0,
        }
    }

    /// An empty window judging the last `len` calls, `1 ≤ len ≤ N`, for a
    /// length known only at run time: one storage type (say
    /// `CountWindow<128, 2>`) serves every length up to `N`, and behaves
    /// exactly like a `CountWindow<len>`. Hand it to
    /// [`Breaker::with_window`](super::Breaker::with_window), which checks
    /// `N` and `WORDS` as [`Breaker::new`](super::Breaker::new) does.
    ///
    /// The error names the field `CountWindow::len`: it is 0, above `N`, or
    /// above 32 768. A [`Config::minimum_calls`] above `len` means `len`
    /// (a full window is always judged).
    ///
    /// ```
    /// use steadfast::breaker::{Breaker, Config, CountWindow, Window};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// type Storage = CountWindow<128, 2>;
    /// let window = Storage::with_len(50).unwrap(); // e.g. read from a config file
    /// let mut b = Breaker::with_window(Config::new(), window).unwrap();
    /// for _ in 0..60 {
    ///     let p = b.try_acquire(Instant::ZERO).unwrap();
    ///     let _ = b.record(p, Outcome::Success, Instant::ZERO);
    /// }
    /// assert_eq!(b.window().counts().calls, 50); // the last 50 calls
    /// assert_eq!(b.window().window_len(), 50);
    ///
    /// assert_eq!(Storage::with_len(0).unwrap_err().field, "CountWindow::len");
    /// assert_eq!(Storage::with_len(129).unwrap_err().field, "CountWindow::len");
    /// ```
    pub const fn with_len(len: usize) -> Result<Self, ConfigError> {
        if len == 0 {
            return Err(ConfigError::new(
                "CountWindow::len",
                "window must hold at least 1 call",
            ));
        }
        if len > N {
            return Err(ConfigError::new(
                "CountWindow::len",
                "must not exceed N (the window's storage)",
            ));
        }
        if len > MAX_COUNT_LEN {
            return Err(ConfigError::new(
                "CountWindow::len",
                "must be at most 32768",
            ));
        }
        let mut window = Self::new();
        window.len = len_u16(len);
        Ok(window)
    }

    /// The window's length: the number of calls it judges (`N`, or the length
    /// given to [`with_len`](Self::with_len)); it holds at most this many.
    ///
    /// ```
    /// # use steadfast::breaker::CountWindow;
    /// assert_eq!(CountWindow::<100, 2>::new().window_len(), 100);
    /// assert_eq!(CountWindow::<100, 2>::with_len(20).unwrap().window_len(), 20);
    /// ```
    pub const fn window_len(&self) -> usize {
        self.len as usize
    }

    /// Slots held: `pos` while filling, `len` once full.
    const fn filled(&self) -> u16 {
        if self.pos < self.len {
            self.pos
        } else {
            self.len
        }
    }
}

impl<const N: usize, const WORDS: usize> CountWindow<N, WORDS> {
    /// Records any outcome in a window of `len` slots, `full` or not, and
    /// judges it: the general path of [`Detector::record`], which its
    /// steady-state shortcut agrees with. Out of line on 64-bit targets, where
    /// the shortcut is inlined into the breaker's record; inlined into the one
    /// `record` elsewhere.
    #[cfg_attr(target_pointer_width = "64", inline(never))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(always))]
    fn record_any(&mut self, sample: Sample, config: &Config, len: u16, full: bool) -> bool {
        let index = usize::from(if full {
            self.pos.wrapping_sub(len)
        } else {
            self.pos
        });
        let was_failed = swap_bit(&mut self.failed, index, sample.failure);
        let was_slow = swap_bit(&mut self.slow, index, sample.slow);
        // The counts are the set bits of the ring (at most `len` ≤ 32 768), so
        // these neither overflow nor underflow.
        let evicted = u16::from(full);
        self.failures = self
            .failures
            .wrapping_sub(evicted & u16::from(was_failed))
            .wrapping_add(u16::from(sample.failure));
        self.slow_calls = self
            .slow_calls
            .wrapping_sub(evicted & u16::from(was_slow))
            .wrapping_add(u16::from(sample.slow));
        self.pos = next_pos(self.pos, len);
        // Judged from `min(minimum_calls, len)` calls on (both ≥ 1 after
        // validation); the products of u16 counts and percents ≤ 100 fit in a u32.
        let calls = u32::from(self.filled());
        if calls < config.minimum_calls.min(u32::from(len)) {
            return false;
        }
        u32::from(self.failures) * 100 >= u32::from(config.failure_rate_percent) * calls
            || u32::from(self.slow_calls) * 100 >= u32::from(config.slow_call_rate_percent) * calls
    }
}

impl<const N: usize, const WORDS: usize> CountWindow<N, WORDS> {
    /// Empties slots `from..to` of the ring (`to ≤ len`), a word at a time,
    /// and takes what they held off the counts.
    fn clear_slots(&mut self, from: u32, to: u32) {
        let mut at = from;
        while at < to {
            let bit = at % 64;
            let span = (64 - bit).min(to - at);
            let mask = if span == 64 {
                u64::MAX
            } else {
                ((1u64 << span) - 1) << bit
            };
            let word = (at / 64) as usize;
            // The counts are the set bits of the ring: these cannot underflow.
            if let Some(failed) = self.failed.get_mut(word) {
                self.failures = self
                    .failures
                    .wrapping_sub((*failed & mask).count_ones() as u16);
                *failed &= !mask;
            }
            if let Some(slow) = self.slow.get_mut(word) {
                self.slow_calls = self
                    .slow_calls
                    .wrapping_sub((*slow & mask).count_ones() as u16);
                *slow &= !mask;
            }
            at += span;
        }
    }
}

impl<const N: usize, const WORDS: usize> Default for CountWindow<N, WORDS> {
    /// [`CountWindow::new`].
    fn default() -> Self {
        Self::new()
    }
}

/// Reads bit `index` of a bitset and sets it to `value`; returns the old bit.
/// Out-of-range indices (impossible after validation) read and write nothing.
/// On 32-bit targets the bit is found in one half of its word, so no 64-bit
/// shift routine is linked (a Cortex-M0 has no 64-bit shift instruction).
#[inline(always)]
fn swap_bit(words: &mut [u64], index: usize, value: bool) -> bool {
    match words.get_mut(index / 64) {
        Some(word) if cfg!(target_pointer_width = "64") => swap_bit_wide(word, index % 64, value),
        Some(word) => swap_bit_halves(word, index % 64, value),
        None => false,
    }
}

/// [`swap_bit`] on one word, with a 64-bit mask (`bit < 64`).
#[inline(always)]
fn swap_bit_wide(word: &mut u64, bit: usize, value: bool) -> bool {
    let mask = 1u64 << bit;
    let old = *word & mask != 0;
    if value {
        *word |= mask;
    } else {
        *word &= !mask;
    }
    old
}

/// [`swap_bit`] on one word, in the 32-bit half that holds `bit` (`bit < 64`).
#[inline(always)]
fn swap_bit_halves(word: &mut u64, bit: usize, value: bool) -> bool {
    let high = bit >= 32;
    let mask = 1u32 << (bit % 32);
    let half = if high {
        (*word >> 32) as u32
    } else {
        *word as u32
    };
    let old = half & mask != 0;
    let half = if value { half | mask } else { half & !mask };
    *word = if high {
        (*word & 0xFFFF_FFFF) | (u64::from(half) << 32)
    } else {
        (*word & 0xFFFF_FFFF_0000_0000) | u64::from(half)
    };
    old
}

/// The ring position after `pos` in a window of length `len`: past the last
/// slot of a full ring, back to slot 0, still full. `pos < 2 × len ≤ 65 536`, so
/// `next` fits in a u32 and, below `2 × len`, in a u16.
#[inline(always)]
const fn next_pos(pos: u16, len: u16) -> u16 {
    let next = pos as u32 + 1;
    if next >= 2 * len as u32 {
        len
    } else {
        next as u16
    }
}

impl<const N: usize, const WORDS: usize> Detector for CountWindow<N, WORDS> {
    const KIND: Kind = Kind::Count {
        len: N,
        words: WORDS,
    };
    const EMPTY: Self = Self::new();

    /// A fast success replacing the oldest outcome of a full ring cannot
    /// trip it (see the steady state of `record`).
    #[inline(always)]
    fn may_trip(&self, sample: Sample) -> bool {
        self.pos < self.len || sample.failure || sample.slow
    }

    /// A full ring of fast successes only: the success replaces one of
    /// them, so the ring holds the same calls (only where it starts moves,
    /// and with every slot alike no decision reads that).
    #[inline(always)]
    fn absorbs_fast_success(&self) -> bool {
        self.pos >= self.len && self.failures == 0 && self.slow_calls == 0
    }

    /// A full ring: the `n` oldest slots (all of them from `len` on) are
    /// cleared a word at a time, instead of one `record` each.
    fn record_fast_successes(&mut self, n: u32, now: Instant, config: &Config) {
        let len = u32::from(self.len);
        if self.pos < self.len || len == 0 {
            // Filling: one at a time (a breaker never asks, see `may_trip`).
            for _ in 0..n {
                let sample = Sample {
                    failure: false,
                    slow: false,
                };
                let _ = self.record(sample, now, config);
            }
            return;
        }
        let oldest = u32::from(self.pos - self.len);
        if n >= len {
            // Every slot now holds a fast success.
            self.failed = [0; WORDS];
            self.slow = [0; WORDS];
            self.failures = 0;
            self.slow_calls = 0;
        } else if oldest + n <= len {
            self.clear_slots(oldest, oldest + n);
        } else {
            self.clear_slots(oldest, len);
            self.clear_slots(0, oldest + n - len);
        }
        // `oldest + n % len < 2 × len ≤ 65 536`, and the remainder is below
        // `len`, so the position fits in a u16.
        self.pos = (len + (oldest + n % len) % len) as u16;
    }

    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    fn record(&mut self, sample: Sample, _now: Instant, config: &Config) -> bool {
        let len = self.len;
        let full = self.pos >= len;
        // The steady state, a shortcut for speed where code is cheap (64-bit
        // targets); a 32-bit target, a microcontroller with little flash, takes
        // the general path (`record_any`), which decides alike.
        if cfg!(target_pointer_width = "64") && full && !sample.failure && !sample.slow {
            // A fast success replaces the oldest outcome. The full ring judged
            // the previous outcome on the same `len` calls and did not trip (a
            // trip leaves `Closed`, and re-entering it empties the window); a
            // fast success cannot raise either rate, so it cannot trip.
            let index = usize::from(self.pos.wrapping_sub(len));
            let was_failed = swap_bit(&mut self.failed, index, false);
            let was_slow = swap_bit(&mut self.slow, index, false);
            self.failures = self.failures.wrapping_sub(u16::from(was_failed));
            self.slow_calls = self.slow_calls.wrapping_sub(u16::from(was_slow));
            self.pos = next_pos(self.pos, len);
            return false;
        }
        self.record_any(sample, config, len, full)
    }

    fn counts_at(&self, _now: Instant, _config: &Config) -> WindowCounts {
        self.counts()
    }

    fn clear(&mut self) {
        // Empty, same length; field by field, so a one-word window is a few
        // stores (a whole new value is a `memclr` call on a Cortex-M0).
        self.failed = [0; WORDS];
        self.slow = [0; WORDS];
        self.pos = 0;
        self.failures = 0;
        self.slow_calls = 0;
    }
}

impl<const N: usize, const WORDS: usize> Window for CountWindow<N, WORDS> {
    fn counts(&self) -> WindowCounts {
        WindowCounts {
            calls: u32::from(self.filled()),
            failures: u32::from(self.failures),
            slow_calls: u32::from(self.slow_calls),
        }
    }
}

/// One bucket of a [`TimeWindow`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Bucket {
    calls: u32,
    failures: u32,
    slow_calls: u32,
}

impl Bucket {
    const EMPTY: Self = Self {
        calls: 0,
        failures: 0,
        slow_calls: 0,
    };
}

/// The calls of the last [`Config::window_duration`], in `K` buckets.
///
/// Bucket `i` covers the instants `[e·w, (e+1)·w)` with `w = window_duration / K`
/// (truncated) and `e ≡ i (mod K)`; the window is the current bucket and the
/// `K − 1` before it, so an outcome counts for between `(K−1)·w` and `K·w`.
/// Judged like [`CountWindow`] (rates from `minimum_calls` on, after every
/// recorded outcome; an idle closed breaker has nothing to decide, and expiry
/// alone can only lower the rates).
///
/// Buckets expire by time, not only when the next outcome is recorded:
/// [`Breaker::counts`](super::Breaker::counts)`(now)` holds exactly the buckets
/// of the window ending at `now`, so a health endpoint or a metric never shows
/// a failure older than the window, even if no call came since. (The
/// [`Window::counts`] of the detector itself is as of its last recorded
/// outcome.)
///
/// ```
/// use steadfast::breaker::{Breaker, Config, TimeWindow, Window};
/// use steadfast::outcome::Outcome;
/// use steadfast::time::{Duration, Instant};
///
/// let config = Config::new().with_window_duration(Duration::from_secs(10)).with_minimum_calls(5);
/// let mut b = Breaker::<TimeWindow<10>>::new(config).unwrap(); // 1 s buckets
/// let p = b.try_acquire(Instant::ZERO).unwrap();
/// let _ = b.record(p, Outcome::Failure, Instant::ZERO);
/// // 10 s later the failure has left the window.
/// let p = b.try_acquire(Instant::from_secs(10)).unwrap();
/// let _ = b.record(p, Outcome::Success, Instant::from_secs(10));
/// assert_eq!(b.window().counts().failures, 0);
/// assert_eq!(b.window().counts().calls, 1);
/// // Another 10 s without a call: asked at `now`, the window is empty.
/// assert_eq!(b.counts(Instant::from_secs(20)).calls, 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TimeWindow<const K: usize> {
    buckets: [Bucket; K],
    /// Index (`now / w`) of the newest bucket's span.
    newest: u64,
}

impl<const K: usize> TimeWindow<K> {
    /// An empty window.
    ///
    /// ```
    /// # use steadfast::breaker::{TimeWindow, Window};
    /// assert_eq!(TimeWindow::<10>::new().counts().calls, 0);
    /// ```
    pub const fn new() -> Self {
        Self {
            buckets: [Bucket::EMPTY; K],
            newest: 0,
        }
    }

    /// Moves the window so that span `epoch` is the newest, emptying the buckets
    /// that fell out. At most `K` buckets are touched.
    fn advance(&mut self, epoch: u64) {
        let gap = epoch.saturating_sub(self.newest);
        if gap == 0 {
            return;
        }
        if gap >= K as u64 {
            self.buckets = [Bucket::EMPTY; K];
        } else {
            for step in 1..=gap {
                if let Some(bucket) = self
                    .buckets
                    .get_mut(slot::<K>(self.newest.wrapping_add(step)))
                {
                    *bucket = Bucket::EMPTY;
                }
            }
        }
        self.newest = epoch;
    }
}

/// The bucket index of span `epoch` (K ≥ 1 after validation; 0 otherwise).
fn slot<const K: usize>(epoch: u64) -> usize {
    // The remainder is < K, so it fits in usize.
    epoch.checked_rem(K as u64).unwrap_or(0) as usize
}

impl<const K: usize> Default for TimeWindow<K> {
    /// [`TimeWindow::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<const K: usize> TimeWindow<K> {
    /// The span index of `now` (never before the newest span: the clock-max rule).
    fn epoch(&self, now: Instant, config: &Config) -> u64 {
        let width = config
            .window_duration
            .as_micros()
            .checked_div(K as u64)
            .unwrap_or(1)
            .max(1);
        (now.as_micros() / width).max(self.newest)
    }
}

impl<const K: usize> Detector for TimeWindow<K> {
    const KIND: Kind = Kind::Time { buckets: K };
    const EMPTY: Self = Self::new();

    fn record(&mut self, sample: Sample, now: Instant, config: &Config) -> bool {
        let epoch = self.epoch(now, config);
        self.advance(epoch);
        if let Some(bucket) = self.buckets.get_mut(slot::<K>(epoch)) {
            bucket.calls = bucket.calls.saturating_add(1);
            bucket.failures = bucket.failures.saturating_add(u32::from(sample.failure));
            bucket.slow_calls = bucket.slow_calls.saturating_add(u32::from(sample.slow));
        }
        let counts = self.counts();
        rates_trip(
            u64::from(counts.calls),
            u64::from(counts.failures),
            u64::from(counts.slow_calls),
            u64::from(config.minimum_calls),
            config,
        )
    }

    fn counts_at(&self, now: Instant, config: &Config) -> WindowCounts {
        // Spans `newest − K + 1 ..= newest` are held; those before
        // `epoch − K + 1` have left the window by `now`.
        // Spans before 0 never held anything.
        let gap = self.epoch(now, config).saturating_sub(self.newest);
        let held = (K as u64)
            .saturating_sub(gap)
            .min(self.newest.saturating_add(1));
        let mut total = WindowCounts::default();
        for age in 0..held {
            if let Some(bucket) = self.buckets.get(slot::<K>(self.newest.saturating_sub(age))) {
                total.calls = total.calls.saturating_add(bucket.calls);
                total.failures = total.failures.saturating_add(bucket.failures);
                total.slow_calls = total.slow_calls.saturating_add(bucket.slow_calls);
            }
        }
        total
    }

    fn clear(&mut self) {
        self.buckets = [Bucket::EMPTY; K];
    }
}

impl<const K: usize> Window for TimeWindow<K> {
    fn counts(&self) -> WindowCounts {
        let mut total = WindowCounts::default();
        for bucket in &self.buckets {
            total.calls = total.calls.saturating_add(bucket.calls);
            total.failures = total.failures.saturating_add(bucket.failures);
            total.slow_calls = total.slow_calls.saturating_add(bucket.slow_calls);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::{CountWindow, Detector, Sample, swap_bit_halves, swap_bit_wide};
    use crate::breaker::Config;
    use crate::rng::{Rng, SplitMix64};
    use crate::time::{Duration, Instant};

    #[test]
    fn the_count_windows_shortcut_decides_as_its_general_path() {
        let config = Config::new()
            .with_minimum_calls(3)
            .with_failure_rate_percent(30)
            .with_slow_calls(Duration::from_secs(1), 40);
        let mut rng = SplitMix64::new(11);
        for len in [1, 2, 3, 7, 64, 100] {
            let fresh = CountWindow::<128, 2>::with_len(len).expect("a valid length");
            let (mut shortcut, mut general) = (fresh, fresh);
            for _ in 0..if cfg!(miri) { 200 } else { 20_000 } {
                let draw = rng.next_u64() % 100;
                let sample = Sample {
                    failure: draw < 8,
                    slow: (8..12).contains(&draw),
                };
                let tripped = shortcut.record(sample, Instant::ZERO, &config);
                let full = general.pos >= general.len;
                let general_tripped = general.record_any(sample, &config, general.len, full);
                assert_eq!(tripped, general_tripped, "len {len}");
                assert_eq!(shortcut, general, "len {len}");
                if tripped {
                    // A trip leaves `Closed`; the window is empty when it returns.
                    shortcut.clear();
                    general.clear();
                }
            }
        }
    }

    #[test]
    fn a_run_of_fast_successes_in_one_go_is_that_many_records() {
        let config = Config::new()
            .with_minimum_calls(3)
            .with_failure_rate_percent(90)
            .with_slow_calls(Duration::from_secs(1), 90);
        let mut rng = SplitMix64::new(5);
        let fast = Sample {
            failure: false,
            slow: false,
        };
        for len in [1, 2, 3, 63, 64, 65, 100, 127, 128] {
            let mut window = CountWindow::<128, 2>::with_len(len).expect("a valid length");
            for _ in 0..if cfg!(miri) { 20 } else { 3_000 } {
                let draw = rng.next_u64() % 100;
                let sample = Sample {
                    failure: draw < 30,
                    slow: (20..40).contains(&draw),
                };
                if window.record(sample, Instant::ZERO, &config) {
                    window.clear();
                }
                let n = (rng.next_u64() % (3 * len as u64 + 2)) as u32;
                let (mut batch, mut one_by_one) = (window, window);
                batch.record_fast_successes(n, Instant::ZERO, &config);
                for _ in 0..n {
                    let _ = one_by_one.record(fast, Instant::ZERO, &config);
                }
                assert_eq!(batch, one_by_one, "len {len}, {n} successes");
                if rng.below(4) == 0 {
                    window = batch;
                }
            }
        }
    }

    #[test]
    fn both_bit_swaps_agree_on_every_bit() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..if cfg!(miri) { 2 } else { 2_000 } {
            let start = rng.next_u64();
            for bit in 0..64 {
                for value in [false, true] {
                    let (mut wide, mut halves) = (start, start);
                    assert_eq!(
                        swap_bit_wide(&mut wide, bit, value),
                        swap_bit_halves(&mut halves, bit, value),
                        "{start:#x} bit {bit}"
                    );
                    assert_eq!(wide, halves, "{start:#x} bit {bit} set to {value}");
                    assert_eq!(wide & (1 << bit) != 0, value);
                }
            }
        }
    }
}
