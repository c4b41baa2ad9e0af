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
// The discriminants are the flat states' (`Variant`), so rebuilding a state
// from a flat one, or reading `code()` from it, needs no translation table.
#[repr(u8)]
pub enum State {
    /// Calls pass; the detector watches their outcomes.
    Closed = Variant::Closed as u8,
    /// Calls are rejected until `until`; the first
    /// [`try_acquire`](super::Breaker::try_acquire) at `now >= until` (inclusive)
    /// moves to `HalfOpen` and gets a probe.
    Open {
        /// When probing may start.
        until: Instant,
    } = Variant::Open as u8,
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
    } = Variant::HalfOpen as u8,
    /// Rejects every call until [`reset`](super::Breaker::reset) or
    /// [`disable`](super::Breaker::disable); rejections carry no `retry_at`.
    ForcedOpen = Variant::ForcedOpen as u8,
    /// Admits every call and only counts [`Stats`]; never trips.
    Disabled = Variant::Disabled as u8,
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

/// A change of [`State`] variant, returned by the method that caused it: the
/// state before ([`from`](Self::from)), the state after ([`to`](Self::to)) and
/// when it took effect ([`at`](Self::at)).
///
/// `at` is `now` for transitions caused by an outcome or a manual call, the
/// deadline itself for time-driven ones (`Open → HalfOpen` at `until`, a hung
/// half-open episode at its deadline), so the timeline does not depend on how
/// late the caller polled.
///
/// It holds both states flat, as the breaker does, and rebuilds each
/// [`State`] when asked: a small value to return on a 32-bit target, and a
/// reader that only asks for [`to`](Self::to) pays for nothing else. Any two
/// states make a transition ([`new`](Self::new)) and read back unchanged.
///
/// ```
/// use steadfast::breaker::{State, Transition};
/// use steadfast::time::Instant;
///
/// let t = Transition::new(State::Closed, State::Open { until: Instant::from_secs(34) }, Instant::from_secs(4));
/// assert_eq!(t.from(), State::Closed);
/// assert_eq!(t.to(), State::Open { until: Instant::from_secs(34) });
/// assert_eq!(t.at(), Instant::from_secs(4));
/// assert_eq!(format!("{t}"), "t=4s: closed -> open until t=34s");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(from = "TransitionFields", into = "TransitionFields")
)]
#[must_use = "a transition is the breaker's event: log it, count it, or drop it with `let _ =`"]
pub struct Transition {
    from: FlatState,
    to: FlatState,
    at: Instant,
}

impl Transition {
    /// The transition from `from` to `to` at `at`; [`from`](Self::from),
    /// [`to`](Self::to) and [`at`](Self::at) return them unchanged.
    ///
    /// ```
    /// use steadfast::breaker::{State, Transition};
    /// use steadfast::time::Instant;
    ///
    /// let half_open = State::HalfOpen { probes_in_flight: 2, successes: 1, deadline: Some(Instant::from_secs(64)) };
    /// let t = Transition::new(half_open, State::Closed, Instant::from_secs(60));
    /// assert_eq!((t.from(), t.to(), t.at()), (half_open, State::Closed, Instant::from_secs(60)));
    /// ```
    pub const fn new(from: State, to: State, at: Instant) -> Self {
        Self {
            from: FlatState::of(from),
            to: FlatState::of(to),
            at,
        }
    }

    /// What the breaker entered at `at` from `from`: its flat state after.
    #[inline(always)]
    pub(crate) const fn flat(from: FlatState, to: FlatState, at: Instant) -> Self {
        Self { from, to, at }
    }

    /// The state before.
    ///
    /// ```
    /// # use steadfast::breaker::{State, Transition};
    /// # use steadfast::time::Instant;
    /// let t = Transition::new(State::ForcedOpen, State::Closed, Instant::ZERO);
    /// assert_eq!(t.from(), State::ForcedOpen);
    /// ```
    #[inline(always)]
    pub const fn from(&self) -> State {
        self.from.state()
    }

    /// The state after.
    ///
    /// ```
    /// # use steadfast::breaker::{State, Transition};
    /// # use steadfast::time::Instant;
    /// let t = Transition::new(State::Closed, State::Disabled, Instant::ZERO);
    /// assert_eq!(t.to(), State::Disabled);
    /// ```
    #[inline(always)]
    pub const fn to(&self) -> State {
        self.to.state()
    }

    /// When it took effect.
    ///
    /// ```
    /// # use steadfast::breaker::{State, Transition};
    /// # use steadfast::time::Instant;
    /// let t = Transition::new(State::Closed, State::ForcedOpen, Instant::from_secs(9));
    /// assert_eq!(t.at(), Instant::from_secs(9));
    /// ```
    #[inline(always)]
    pub const fn at(&self) -> Instant {
        self.at
    }
}

impl fmt::Display for Transition {
    /// `t=4s: closed -> open until t=34s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.at, self.from(), self.to())
    }
}

impl fmt::Debug for Transition {
    /// `Transition { from: Closed, to: Open { until: .. }, at: .. }`: the
    /// states, as [`from`](Self::from) and [`to`](Self::to) read them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transition")
            .field("from", &self.from())
            .field("to", &self.to())
            .field("at", &self.at)
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Transition {
    /// `Transition { from: .., to: .., at: .. }`, as [`Debug`](fmt::Debug) writes it.
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Transition {{ from: {}, to: {}, at: {} }}",
            self.from(),
            self.to(),
            self.at
        );
    }
}

/// A [`Transition`] as serde writes and reads it: both states whole.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct TransitionFields {
    from: State,
    to: State,
    at: Instant,
}

#[cfg(feature = "serde")]
impl From<TransitionFields> for Transition {
    fn from(t: TransitionFields) -> Self {
        Self::new(t.from, t.to, t.at)
    }
}

#[cfg(feature = "serde")]
impl From<Transition> for TransitionFields {
    fn from(t: Transition) -> Self {
        Self {
            from: t.from(),
            to: t.to(),
            at: t.at,
        }
    }
}

/// [`State`]'s variant, stored flat beside its fields in a
/// [`Breaker`](super::Breaker), with half-open split in two.
///
/// The two phases that admit every call come first, so that the hot path tests
/// them with one comparison (`phase <= Disabled`); the others take
/// [`Variant`]'s values, so that most of them need no translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub(crate) enum Phase {
    Closed,
    Disabled,
    Open,
    /// Half-open, no probe outstanding (no deadline).
    HalfOpen,
    ForcedOpen,
    /// Half-open with probes outstanding: `deadline` is the hung-probe deadline.
    Probing,
}

impl Phase {
    /// The [`State`] variant it stands for (`HalfOpen` and `Probing` are one).
    #[inline(always)]
    pub(crate) const fn variant(self) -> Variant {
        match self {
            Self::Closed => Variant::Closed,
            Self::Disabled => Variant::Disabled,
            Self::Open => Variant::Open,
            Self::HalfOpen | Self::Probing => Variant::HalfOpen,
            Self::ForcedOpen => Variant::ForcedOpen,
        }
    }
}

impl Phase {
    /// The phase a state of `variant` starts in: half-open starts with no
    /// probe out.
    #[inline(always)]
    pub(crate) const fn entered(variant: Variant) -> Self {
        match variant {
            Variant::Closed => Self::Closed,
            Variant::Disabled => Self::Disabled,
            Variant::Open => Self::Open,
            Variant::HalfOpen => Self::HalfOpen,
            Variant::ForcedOpen => Self::ForcedOpen,
        }
    }
}

/// [`State`]'s variant without its fields; its values are [`State`]'s
/// discriminants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub(crate) enum Variant {
    Closed,
    Disabled,
    Open,
    HalfOpen,
    ForcedOpen,
}

/// A [`State`] stored flat. Fields a variant lacks are zero, so two flat
/// states are equal exactly when the states they stand for are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlatState {
    /// `until` when open, the hung-probe deadline when half-open and probing.
    pub(crate) deadline: Instant,
    pub(crate) probes_in_flight: u16,
    pub(crate) successes: u16,
    pub(crate) variant: Variant,
    /// Half-open with a hung-probe deadline.
    pub(crate) probing: bool,
}

impl FlatState {
    /// `state`, flat.
    pub(crate) const fn of(state: State) -> Self {
        let (variant, deadline, probes_in_flight, successes, probing) = match state {
            State::Closed => (Variant::Closed, Instant::ZERO, 0, 0, false),
            State::Open { until } => (Variant::Open, until, 0, 0, false),
            State::HalfOpen {
                probes_in_flight,
                successes,
                deadline,
            } => match deadline {
                Some(deadline) => (
                    Variant::HalfOpen,
                    deadline,
                    probes_in_flight,
                    successes,
                    true,
                ),
                None => (
                    Variant::HalfOpen,
                    Instant::ZERO,
                    probes_in_flight,
                    successes,
                    false,
                ),
            },
            State::ForcedOpen => (Variant::ForcedOpen, Instant::ZERO, 0, 0, false),
            State::Disabled => (Variant::Disabled, Instant::ZERO, 0, 0, false),
        };
        Self {
            deadline,
            probes_in_flight,
            successes,
            variant,
            probing,
        }
    }

    /// The [`State`] it stands for.
    #[inline(always)]
    pub(crate) const fn state(&self) -> State {
        match self.variant {
            Variant::Closed => State::Closed,
            Variant::Open => State::Open {
                until: self.deadline,
            },
            Variant::HalfOpen => State::HalfOpen {
                probes_in_flight: self.probes_in_flight,
                successes: self.successes,
                deadline: if self.probing {
                    Some(self.deadline)
                } else {
                    None
                },
            },
            Variant::ForcedOpen => State::ForcedOpen,
            Variant::Disabled => State::Disabled,
        }
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
        /// Adds `n` to `counter` (saturating).
        fn add(&mut self, counter: Counter, n: u32);
        /// Adds one to `counter` (saturating).
        #[inline(always)]
        fn bump(&mut self, counter: Counter) {
            self.add(counter, 1);
        }
    }

    impl Slot for Stats {
        const ZERO: Self = Self::ZERO;
        #[inline(always)]
        fn add(&mut self, counter: Counter, n: u32) {
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
            *field = field.saturating_add(n);
        }
    }

    impl Slot for NoStats {
        const ZERO: Self = Self;
        #[inline(always)]
        fn add(&mut self, _counter: Counter, _n: u32) {}
    }
}
