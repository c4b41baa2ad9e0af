//! What the breaker is doing ([`State`]), what it just did ([`Transition`]) and
//! what it has counted ([`Stats`]).

use core::fmt;

use crate::time::Instant;

/// The breaker's state. Deadlines live inside the variants, so they cannot
/// disagree with it; [`Breaker::poll_at`](super::Breaker::poll_at) is derived
/// from them.
///
/// ```
/// use steadfast::breaker::State;
/// use steadfast::time::Instant;
///
/// let open = State::Open { until: Instant::from_secs(34) };
/// assert_eq!(open.code(), 2);
/// assert_eq!(open.name(), "open");
/// assert_eq!(format!("{open}"), "open until t=34s");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum State {
    /// Calls pass; the detector watches their outcomes.
    Closed,
    /// Calls are rejected until `until`; the first
    /// [`try_acquire`](super::Breaker::try_acquire) at `now >= until` (inclusive)
    /// moves to `HalfOpen` and gets a probe.
    Open {
        /// When probing may start.
        until: Instant,
    },
    /// Probing: at most [`max_probes`](super::Config::max_probes) permits per
    /// episode; [`success_threshold`](super::Config::success_threshold)
    /// successes close, any failure re-opens, a cancelled or ignored probe
    /// returns its slot.
    HalfOpen {
        /// Probes issued and not yet reported.
        probes_in_flight: u16,
        /// Probes of this episode that succeeded (each keeps its slot).
        successes: u16,
        /// The hung-probe deadline
        /// ([`max_half_open_wait`](super::Config::max_half_open_wait)); `None`
        /// while no probe is outstanding.
        deadline: Option<Instant>,
    },
    /// Rejects every call until [`reset`](super::Breaker::reset) or
    /// [`disable`](super::Breaker::disable); rejections carry no `retry_at`.
    ForcedOpen,
    /// Admits every call and only counts [`Stats`]; never trips.
    Disabled,
}

impl State {
    /// The `circuit_breaker_state` gauge, in order of severity: 0 closed,
    /// 1 half-open, 2 open, so an alert on `>= 2` means "rejecting calls".
    /// `ForcedOpen` reports 2 (it rejects), `Disabled` 0 (it admits).
    ///
    /// The seeds disagree here (one documents 0/1/2 as closed/half-open/open,
    /// another as closed/open/half-open); steadfast uses the severity order
    /// everywhere — this gauge, the std adapter's metrics and its `/health`.
    ///
    /// ```
    /// use steadfast::breaker::State;
    /// use steadfast::time::Instant;
    /// assert_eq!(State::Closed.code(), 0);
    /// assert_eq!(State::HalfOpen { probes_in_flight: 0, successes: 0, deadline: None }.code(), 1);
    /// assert_eq!(State::Open { until: Instant::ZERO }.code(), 2);
    /// assert_eq!(State::ForcedOpen.code(), 2);
    /// ```
    pub const fn code(&self) -> u8 {
        match self {
            Self::Closed | Self::Disabled => 0,
            Self::HalfOpen { .. } => 1,
            Self::Open { .. } | Self::ForcedOpen => 2,
        }
    }

    /// A stable snake_case name: `closed`, `open`, `half_open`, `forced_open`, `disabled`.
    ///
    /// ```
    /// # use steadfast::breaker::State;
    /// assert_eq!(State::Disabled.name(), "disabled");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen { .. } => "half_open",
            Self::ForcedOpen => "forced_open",
            Self::Disabled => "disabled",
        }
    }

    /// The instant this state expires by itself, if any: `until` when open,
    /// the hung-probe deadline when half-open.
    ///
    /// ```
    /// # use steadfast::breaker::State;
    /// # use steadfast::time::Instant;
    /// assert_eq!(State::Open { until: Instant::from_secs(3) }.deadline(), Some(Instant::from_secs(3)));
    /// assert_eq!(State::Closed.deadline(), None);
    /// ```
    pub const fn deadline(&self) -> Option<Instant> {
        match self {
            Self::Open { until } => Some(*until),
            Self::HalfOpen { deadline, .. } => *deadline,
            Self::Closed | Self::ForcedOpen | Self::Disabled => None,
        }
    }
}

impl fmt::Display for State {
    /// `closed`, `open until t=34s`, `half-open (1 in flight, 0 ok)`, `forced open`, `disabled`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("closed"),
            Self::Open { until } => write!(f, "open until {until}"),
            Self::HalfOpen {
                probes_in_flight,
                successes,
                ..
            } => write!(
                f,
                "half-open ({probes_in_flight} in flight, {successes} ok)"
            ),
            Self::ForcedOpen => f.write_str("forced open"),
            Self::Disabled => f.write_str("disabled"),
        }
    }
}

/// A change of [`State`] variant, returned by the method that caused it.
///
/// `at` is when it took effect: `now` for transitions caused by an outcome or a
/// manual call, the deadline itself for time-driven ones (`Open → HalfOpen` at
/// `until`, a hung half-open episode at its deadline), so the timeline does not
/// depend on how late the caller polled.
///
/// ```
/// use steadfast::breaker::{State, Transition};
/// use steadfast::time::Instant;
///
/// let t = Transition { from: State::Closed, to: State::Open { until: Instant::from_secs(34) }, at: Instant::from_secs(4) };
/// assert_eq!(format!("{t}"), "t=4s: closed -> open until t=34s");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[must_use = "a transition is the breaker's event: log it, count it, or drop it with `let _ =`"]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// When it took effect.
    pub at: Instant,
}

impl fmt::Display for Transition {
    /// `t=4s: closed -> open until t=34s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.at, self.from, self.to)
    }
}

/// The breaker's counters (the seeds' `stats`), each a saturating `u32`.
///
/// Long-lived services export them with
/// [`take_stats`](super::Breaker::take_stats), which returns and zeroes them, and
/// add the deltas into their own 64-bit counters. Outcomes of stale permits are
/// not counted anywhere.
///
/// ```
/// use steadfast::breaker::{Breaker, Config, Consecutive};
/// use steadfast::outcome::Outcome;
/// use steadfast::time::Instant;
///
/// let mut b = Breaker::<Consecutive>::new(Config::new()).unwrap();
/// let p = b.try_acquire(Instant::ZERO).unwrap();
/// let _ = b.record(p, Outcome::Success, Instant::ZERO);
/// let s = b.stats();
/// assert_eq!((s.calls, s.successes, s.failures), (1, 1, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Stats {
    /// Permits issued (calls admitted), probes included.
    pub calls: u32,
    /// Outcomes recorded as [`Success`](crate::outcome::Outcome::Success).
    pub successes: u32,
    /// Outcomes recorded as [`Failure`](crate::outcome::Outcome::Failure) or
    /// [`TimedOut`](crate::outcome::Outcome::TimedOut).
    pub failures: u32,
    /// Outcomes recorded as [`Ignored`](crate::outcome::Outcome::Ignored).
    pub ignored: u32,
    /// Counted outcomes (successes and failures) that were slow.
    pub slow_calls: u32,
    /// Calls refused by [`try_acquire`](super::Breaker::try_acquire); in
    /// [metrics-only mode](super::Config::metrics_only), the calls it would
    /// have refused (admitted anyway, so also in `calls`).
    pub rejections: u32,
    /// Changes of state variant (every [`Transition`]).
    pub state_changes: u32,
    /// Times the breaker opened by itself (trips and re-opens; `ForcedOpen` not included).
    pub opens: u32,
}

impl Stats {
    /// All counters at zero.
    ///
    /// ```
    /// # use steadfast::breaker::Stats;
    /// assert_eq!(Stats::ZERO, Stats::default());
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
}

/// No statistics: the counters of a breaker that never reads them, in zero
/// bytes. A [`Breaker<W, NoStats>`](super::Breaker) behaves exactly as one
/// that counts; it only has no [`stats`](super::Breaker::stats).
///
/// ```
/// use steadfast::breaker::{Breaker, Config, Consecutive, NoStats};
/// use steadfast::outcome::Outcome;
/// use steadfast::time::Instant;
///
/// let mut b = Breaker::<Consecutive, NoStats>::without_stats(Config::new().with_failure_threshold(1)).unwrap();
/// let p = b.try_acquire(Instant::ZERO).unwrap();
/// assert!(b.record(p, Outcome::Failure, Instant::ZERO).is_some()); // trips as ever
/// assert_eq!(core::mem::size_of::<NoStats>(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoStats;

/// Where a [`Breaker`](super::Breaker) keeps its counters: [`Stats`] (the
/// default) or [`NoStats`] (none). Sealed.
///
/// ```
/// use steadfast::breaker::{NoStats, Stats, StatsSlot};
/// fn slot<S: StatsSlot>() -> usize { core::mem::size_of::<S>() }
/// assert_eq!((slot::<Stats>(), slot::<NoStats>()), (32, 0));
/// ```
pub trait StatsSlot: sealed::Slot {}

impl StatsSlot for Stats {}
impl StatsSlot for NoStats {}

pub(crate) mod sealed {
    use super::{NoStats, Stats};

    /// One of the counters of [`Stats`].
    #[derive(Clone, Copy, Debug)]
    pub enum Counter {
        Calls,
        Successes,
        Failures,
        Ignored,
        SlowCalls,
        Rejections,
        StateChanges,
        Opens,
    }

    /// The slot's machinery, private to the crate (keeps `StatsSlot` sealed).
    pub trait Slot: Copy + core::fmt::Debug + PartialEq + Eq {
        const ZERO: Self;
        /// Adds one to `counter` (saturating).
        fn bump(&mut self, counter: Counter);
    }

    impl Slot for Stats {
        const ZERO: Self = Self::ZERO;
        #[inline(always)]
        fn bump(&mut self, counter: Counter) {
            let field = match counter {
                Counter::Calls => &mut self.calls,
                Counter::Successes => &mut self.successes,
                Counter::Failures => &mut self.failures,
                Counter::Ignored => &mut self.ignored,
                Counter::SlowCalls => &mut self.slow_calls,
                Counter::Rejections => &mut self.rejections,
                Counter::StateChanges => &mut self.state_changes,
                Counter::Opens => &mut self.opens,
            };
            *field = field.saturating_add(1);
        }
    }

    impl Slot for NoStats {
        const ZERO: Self = Self;
        #[inline(always)]
        fn bump(&mut self, _counter: Counter) {}
    }
}
