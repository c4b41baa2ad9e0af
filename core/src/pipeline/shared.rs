//! The machines shared between calls, lent to a call for one step.

use crate::breaker::{self, CircuitBreaker, Permit, Rejected, Transition};
use crate::bulkhead::{self, Acquire, Bulkhead, Claim, ConfigSource, StatsSlot, Ticket};
use crate::outcome::Outcome;
use crate::retry::{RetryBudget, Unlimited};
use crate::time::Instant;

use super::{Event, Gate, NoGate, Observer};

/// The shared machines lent to a call for one step, and the [`Observer`] that
/// hears the step's [`Event`]s. Every field is optional: a pipeline without a
/// breaker simply has none, and a call nobody watches raises its events into
/// nothing (the default observer type, `()`, costs no code).
///
/// An observer lent here hears each event while the step runs, so under
/// whatever locks the driver holds for the step; a driver whose observer must
/// not run under them lends an [`Events`](super::Events) queue and hands its
/// contents on after unlocking.
///
/// A machine a pipeline never has is a type, not a run-time `None`: the
/// defaults [`NoBreaker`] and [`NoBulkhead`] have no value and cannot be lent,
/// so a call built without them links none of their code (a firmware whose
/// pipeline has only a breaker carries no bulkhead code).
///
/// Always lend the same machines to the same call: a call queued in one
/// bulkhead cannot claim its ticket from another.
///
/// ```
/// use steadfast::breaker::{Breaker, Config};
/// use steadfast::pipeline::Shared;
///
/// let mut breaker: Breaker = Breaker::new(Config::default())?;
/// let shared = Shared::new().with_breaker(&mut breaker);
/// assert!(shared.breaker.is_some() && shared.bulkhead.is_none());
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Shared<
    'a,
    G: CircuitBreaker = NoBreaker,
    K: Pool = NoBulkhead,
    B: RetryBudget = Unlimited,
    O: Observer + ?Sized = (),
    A: Gate = NoGate,
> {
    /// The circuit breaker, if any: a core [`Breaker`](crate::breaker::Breaker), or any
    /// [`CircuitBreaker`] (an adapter's shared breaker).
    pub breaker: Option<&'a mut G>,
    /// The bulkhead, if any: a [`Bulkhead`].
    pub bulkhead: Option<&'a mut K>,
    /// The retry budget, if any (none means every retry is allowed).
    pub budget: Option<&'a mut B>,
    /// Hears the events the step raises, if any.
    pub observer: Option<&'a mut O>,
    /// The admission stage each attempt passes last, if any: a
    /// [`RateLimiter`](crate::ratelimit::RateLimiter), a throttle
    /// ([`Drawn`](crate::throttle::Drawn)), any [`Gate`].
    pub gate: Option<&'a mut A>,
}

impl<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate> Default
    for Shared<'_, G, K, B, O, A>
{
    fn default() -> Self {
        Self {
            breaker: None,
            bulkhead: None,
            budget: None,
            observer: None,
            gate: None,
        }
    }
}

impl Shared<'_> {
    /// Nothing shared: retry and timeouts only. Add machines with the `with_*`
    /// methods.
    ///
    /// ```
    /// # use steadfast::pipeline::Shared;
    /// let shared = Shared::new();
    /// assert!(shared.breaker.is_none());
    /// ```
    pub const fn new() -> Self {
        Self {
            breaker: None,
            bulkhead: None,
            budget: None,
            observer: None,
            gate: None,
        }
    }
}

impl<'a, G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>
    Shared<'a, G, K, B, O, A>
{
    /// With a breaker.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config};
    /// # use steadfast::pipeline::Shared;
    /// let mut b: Breaker = Breaker::new(Config::default())?;
    /// assert!(Shared::new().with_breaker(&mut b).breaker.is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_breaker<G2: CircuitBreaker>(
        self,
        breaker: &'a mut G2,
    ) -> Shared<'a, G2, K, B, O, A> {
        Shared {
            breaker: Some(breaker),
            bulkhead: self.bulkhead,
            budget: self.budget,
            observer: self.observer,
            gate: self.gate,
        }
    }

    /// With a bulkhead.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// # use steadfast::pipeline::Shared;
    /// let mut pool: Bulkhead = Bulkhead::new(Config::default())?;
    /// assert!(Shared::new().with_bulkhead(&mut pool).bulkhead.is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_bulkhead<const Q2: usize, S2: StatsSlot, C2: ConfigSource>(
        self,
        bulkhead: &'a mut Bulkhead<Q2, S2, C2>,
    ) -> Shared<'a, G, Bulkhead<Q2, S2, C2>, B, O, A> {
        Shared {
            breaker: self.breaker,
            bulkhead: Some(bulkhead),
            budget: self.budget,
            observer: self.observer,
            gate: self.gate,
        }
    }

    /// With a retry budget.
    ///
    /// ```
    /// # use steadfast::pipeline::Shared;
    /// # use steadfast::retry::{Budget, BudgetConfig};
    /// let mut budget: Budget = Budget::new(BudgetConfig::default())?;
    /// assert!(Shared::new().with_budget(&mut budget).budget.is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_budget<B2: RetryBudget>(self, budget: &'a mut B2) -> Shared<'a, G, K, B2, O, A> {
        Shared {
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: Some(budget),
            observer: self.observer,
            gate: self.gate,
        }
    }

    /// With an observer that hears every event the call raises during a step,
    /// as it is raised: a bulkhead slot handed to a waiter
    /// ([`Event::Granted`], which the driver must act on), a breaker
    /// transition, a scheduled retry, a timeout, a fallback.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// use steadfast::pipeline::{self, Event, Events, Pipeline, Shared};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    ///
    /// let pipeline = Pipeline::new(pipeline::Config::DEFAULT)?;
    /// let mut call = pipeline.start(Instant::ZERO);
    /// let mut events = Events::new();
    /// let mut shared = Shared::new().with_observer(&mut events);
    /// let _ = call.next(Instant::ZERO, &mut shared);
    /// let _ = call.on_outcome(Verdict::failure(), Instant::ZERO, &mut shared, &mut SplitMix64::new(1));
    /// assert!(matches!(events.pop(), Some(Event::Retry { attempt: 2, .. })));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_observer<O2: Observer + ?Sized>(
        self,
        observer: &'a mut O2,
    ) -> Shared<'a, G, K, B, O2, A> {
        Shared {
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: self.budget,
            observer: Some(observer),
            gate: self.gate,
        }
    }
    /// With an admission stage every attempt passes last: a
    /// [`RateLimiter`](crate::ratelimit::RateLimiter), a throttle with its
    /// rng ([`Drawn`](crate::throttle::Drawn)), or a pair of them (see
    /// [`Gate`] for the rules).
    ///
    /// ```
    /// # use steadfast::pipeline::Shared;
    /// # use steadfast::ratelimit::{Config, RateLimiter};
    /// let mut limiter = RateLimiter::new(Config::per_second(10))?;
    /// assert!(Shared::new().with_gate(&mut limiter).gate.is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_gate<A2: Gate>(self, gate: &'a mut A2) -> Shared<'a, G, K, B, O, A2> {
        Shared {
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: self.budget,
            observer: self.observer,
            gate: Some(gate),
        }
    }
}

/// The breaker type of a [`Shared`] without a breaker. It has no value, so
/// `Shared::breaker` is always `None` and a call links no breaker code.
///
/// ```
/// use steadfast::pipeline::{NoBreaker, Shared};
/// let shared: Shared<'_, NoBreaker> = Shared::new();
/// assert!(shared.breaker.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoBreaker {}

impl CircuitBreaker for NoBreaker {
    fn handle_timeout(&mut self, _now: Instant) -> Option<Transition> {
        match *self {}
    }
    fn try_acquire(&mut self, _now: Instant) -> Result<Permit, Rejected> {
        match *self {}
    }
    fn record(&mut self, _permit: Permit, _outcome: Outcome, _now: Instant) -> Option<Transition> {
        match *self {}
    }
    fn cancel(&mut self, _permit: Permit, _now: Instant) {
        match *self {}
    }
}

/// The bulkhead type of a [`Shared`] without a bulkhead. It has no value, so
/// `Shared::bulkhead` is always `None` and a call links no bulkhead code.
///
/// ```
/// use steadfast::pipeline::{NoBreaker, NoBulkhead, Shared};
/// let shared: Shared<'_, NoBreaker, NoBulkhead> = Shared::new();
/// assert!(shared.bulkhead.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoBulkhead {}

/// What a call needs of a bulkhead: a [`Bulkhead`], or [`NoBulkhead`]. Sealed.
///
/// ```
/// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
/// use steadfast::pipeline::Pool;
/// use steadfast::time::Instant;
///
/// fn admit(pool: &mut impl Pool) -> bool {
///     matches!(pool.try_acquire(Instant::ZERO), Acquire::Permit(_))
/// }
/// let mut pool: Bulkhead = Bulkhead::new(Config::default())?;
/// assert!(admit(&mut pool));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
pub trait Pool: sealed::Sealed {
    /// See [`Bulkhead::try_acquire`].
    fn try_acquire(&mut self, now: Instant) -> Acquire;
    /// See [`Bulkhead::claim`].
    fn claim(&mut self, ticket: Ticket, now: Instant) -> Claim;
    /// See [`Bulkhead::release`].
    fn release(&mut self, permit: bulkhead::Permit, now: Instant) -> Option<Ticket>;
    /// See [`Bulkhead::cancel`].
    fn cancel(&mut self, ticket: Ticket, now: Instant) -> Option<Ticket>;
}

impl<const Q: usize, S: StatsSlot, C: ConfigSource> Pool for Bulkhead<Q, S, C> {
    // Always inlined on 64-bit hosts: the hot path of every attempt.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    fn try_acquire(&mut self, now: Instant) -> Acquire {
        Self::try_acquire(self, now)
    }
    #[inline]
    fn claim(&mut self, ticket: Ticket, now: Instant) -> Claim {
        Self::claim(self, ticket, now)
    }
    // Always inlined on 64-bit hosts: the hot path of every attempt.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    fn release(&mut self, permit: bulkhead::Permit, now: Instant) -> Option<Ticket> {
        Self::release(self, permit, now)
    }
    #[inline]
    fn cancel(&mut self, ticket: Ticket, now: Instant) -> Option<Ticket> {
        Self::cancel(self, ticket, now)
    }
}

impl Pool for NoBulkhead {
    fn try_acquire(&mut self, _now: Instant) -> Acquire {
        match *self {}
    }
    fn claim(&mut self, _ticket: Ticket, _now: Instant) -> Claim {
        match *self {}
    }
    fn release(&mut self, _permit: bulkhead::Permit, _now: Instant) -> Option<Ticket> {
        match *self {}
    }
    fn cancel(&mut self, _ticket: Ticket, _now: Instant) -> Option<Ticket> {
        match *self {}
    }
}

mod sealed {
    pub trait Sealed {}
    impl<const Q: usize, S: crate::bulkhead::StatsSlot, C: crate::bulkhead::ConfigSource> Sealed
        for crate::bulkhead::Bulkhead<Q, S, C>
    {
    }
    impl Sealed for super::NoBulkhead {}
}

/// Returns what a call held: a breaker permit it will not use (a probe slot
/// comes back) and a bulkhead slot (passed to the next waiter, reported as
/// [`Event::Granted`]).
pub(super) fn give_back<
    G: CircuitBreaker,
    K: Pool,
    B: RetryBudget,
    O: Observer + ?Sized,
    A: Gate,
>(
    now: Instant,
    shared: &mut Shared<'_, G, K, B, O, A>,
    breaker: Option<breaker::Permit>,
    bulkhead: Option<bulkhead::Permit>,
) {
    if let (Some(permit), Some(b)) = (breaker, shared.breaker.as_deref_mut()) {
        b.cancel(permit, now);
    }
    if let (Some(permit), Some(b)) = (bulkhead, shared.bulkhead.as_deref_mut())
        && let Some(next) = b.release(permit, now)
    {
        emit(&mut shared.observer, now, Event::Granted(next));
    }
}

/// [`give_back`] of a bulkhead slot alone, always inlined: what an attempt
/// that ended returns on a 64-bit host (its breaker permit was recorded).
/// 32-bit targets call the one copy of `give_back` instead.
#[cfg(target_pointer_width = "64")]
#[inline(always)]
pub(super) fn release_slot<
    G: CircuitBreaker,
    K: Pool,
    B: RetryBudget,
    O: Observer + ?Sized,
    A: Gate,
>(
    now: Instant,
    shared: &mut Shared<'_, G, K, B, O, A>,
    bulkhead: Option<bulkhead::Permit>,
) {
    if let (Some(permit), Some(b)) = (bulkhead, shared.bulkhead.as_deref_mut())
        && let Some(next) = b.release(permit, now)
    {
        emit(&mut shared.observer, now, Event::Granted(next));
    }
}

/// Leaves the bulkhead's queue; a slot already granted to `ticket` passes on.
pub(super) fn leave_queue<
    G: CircuitBreaker,
    K: Pool,
    B: RetryBudget,
    O: Observer + ?Sized,
    A: Gate,
>(
    now: Instant,
    shared: &mut Shared<'_, G, K, B, O, A>,
    ticket: Ticket,
) {
    if let Some(b) = shared.bulkhead.as_deref_mut()
        && let Some(next) = b.cancel(ticket, now)
    {
        emit(&mut shared.observer, now, Event::Granted(next));
    }
}

/// Hands `event`, raised at `now`, to the observer lent for the step, if any.
/// Takes the observer field alone, so a step can report while it holds
/// another shared machine.
#[inline]
pub(super) fn emit<O: Observer + ?Sized>(
    observer: &mut Option<&mut O>,
    now: Instant,
    event: Event,
) {
    if let Some(observer) = observer.as_deref_mut() {
        observer.on_event(now, &event);
    }
}
