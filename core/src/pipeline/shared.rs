//! The machines shared between calls, lent to a call for one step.

use crate::breaker::{self, Breaker, CircuitBreaker, Consecutive};
use crate::bulkhead::{self, Bulkhead, Ticket};
use crate::retry::{RetryBudget, Unlimited};
use crate::time::Instant;

use super::{Event, Events};

/// The shared machines lent to a call for one step. Every field is optional:
/// a pipeline without a breaker simply has none.
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
    G: CircuitBreaker = Breaker<Consecutive>,
    const Q: usize = 10,
    B: RetryBudget = Unlimited,
> {
    /// The circuit breaker, if any: a core [`Breaker`], or any
    /// [`CircuitBreaker`] (an adapter's shared breaker).
    pub breaker: Option<&'a mut G>,
    /// The bulkhead, if any.
    pub bulkhead: Option<&'a mut Bulkhead<Q>>,
    /// The retry budget, if any (none means every retry is allowed).
    pub budget: Option<&'a mut B>,
}

impl<G: CircuitBreaker, const Q: usize, B: RetryBudget> Default for Shared<'_, G, Q, B> {
    fn default() -> Self {
        Self {
            breaker: None,
            bulkhead: None,
            budget: None,
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
        }
    }
}

impl<'a, G: CircuitBreaker, const Q: usize, B: RetryBudget> Shared<'a, G, Q, B> {
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
    pub fn with_breaker<G2: CircuitBreaker>(self, breaker: &'a mut G2) -> Shared<'a, G2, Q, B> {
        Shared {
            breaker: Some(breaker),
            bulkhead: self.bulkhead,
            budget: self.budget,
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
    pub fn with_bulkhead<const Q2: usize>(
        self,
        bulkhead: &'a mut Bulkhead<Q2>,
    ) -> Shared<'a, G, Q2, B> {
        Shared {
            breaker: self.breaker,
            bulkhead: Some(bulkhead),
            budget: self.budget,
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
    pub fn with_budget<B2: RetryBudget>(self, budget: &'a mut B2) -> Shared<'a, G, Q, B2> {
        Shared {
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: Some(budget),
        }
    }
}

/// Returns what a call held: a breaker permit it will not use (a probe slot
/// comes back) and a bulkhead slot (passed to the next waiter, reported as
/// [`Event::Granted`]).
pub(super) fn give_back<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
    now: Instant,
    shared: &mut Shared<'_, G, Q, B>,
    breaker: Option<breaker::Permit>,
    bulkhead: Option<bulkhead::Permit>,
    events: &mut Events,
) {
    if let (Some(permit), Some(b)) = (breaker, shared.breaker.as_deref_mut()) {
        b.cancel(permit, now);
    }
    if let (Some(permit), Some(b)) = (bulkhead, shared.bulkhead.as_deref_mut())
        && let Some(next) = b.release(permit, now)
    {
        events.push(Event::Granted(next));
    }
}

/// Leaves the bulkhead's queue; a slot already granted to `ticket` passes on.
pub(super) fn leave_queue<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
    now: Instant,
    shared: &mut Shared<'_, G, Q, B>,
    ticket: Ticket,
    events: &mut Events,
) {
    if let Some(b) = shared.bulkhead.as_deref_mut()
        && let Some(next) = b.cancel(ticket, now)
    {
        events.push(Event::Granted(next));
    }
}
