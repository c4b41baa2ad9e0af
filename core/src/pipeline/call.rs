//! The call machine: one call's retry state, deadlines and the permits it
//! holds, driven one [`Input`] at a time.

use crate::breaker::{self, CircuitBreaker};
use crate::bulkhead::{self, Acquire, Claim, Ticket};
use crate::outcome::{Outcome, Verdict};
use crate::retry::{
    Draw, GiveUpReason, Lent, Progress, RetryBudget, RetryDecision, Unlimited, Withdrawal,
};
use crate::rng::Rng;
use crate::time::Instant;
use crate::timeout::Deadline;
use core::marker::PhantomData;
use core::ops::Deref;

use crate::backoff::Delays;

#[cfg(target_pointer_width = "64")]
use super::shared::release_slot;
use super::shared::{emit, give_back, leave_queue};
use super::{
    Event, Failure, Finish, Gate, Input, Observer, Order, Pipeline, Pool, Reason, Shared, Step,
};

/// Where a call is. Deadlines live in the variants; the permits an attempt
/// holds live in the [`Call`] (at most one of each kind at any time).
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase {
    /// About to start attempt `retry.attempts()`.
    Ready,
    /// Sleeping until `until` (backoff or breaker wait).
    Waiting { until: Instant },
    /// In the bulkhead's queue: the whole call's queue of
    /// [`Order::BulkheadOutermost`], or the attempt's (holding its breaker
    /// permit in the standard order).
    Queued { ticket: Ticket, until: Instant },
    /// An attempt is running. `cut_by_caller`: its deadline is the total
    /// deadline, which comes before its own attempt timeout.
    Running {
        deadline: Option<Deadline>,
        cut_by_caller: bool,
        /// The gate admitted it: it hears how the attempt ends.
        gated: bool,
    },
    /// Over: the [`Finish`] without its attempts (the call's own count).
    Finished { end: End, retry_at: Option<Instant> },
}

/// How a call ended, as [`Phase::Finished`] keeps it: the kind of [`Finish`]
/// with the outcome or the reason, in two bytes. A reason's `retry_at` is kept
/// beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum End {
    Completed(Outcome),
    Failed(Cause),
    Fallback(Cause),
}

/// A [`Reason`] without its `retry_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Cause {
    Operation,
    AttemptTimedOut,
    DeadlineExceeded,
    BreakerOpen,
    BulkheadFull,
    QueueTimeout,
    RetriesExhausted,
    BudgetExhausted,
    DeadlineWouldPass,
    Cancelled,
    RateLimited,
    Throttled,
}

impl Cause {
    /// The cause of `reason`, and its `retry_at`.
    const fn of(reason: Reason) -> (Self, Option<Instant>) {
        match reason {
            Reason::BreakerOpen { retry_at } => (Self::BreakerOpen, retry_at),
            Reason::RateLimited { retry_at } => (Self::RateLimited, retry_at),
            reason => (Self::without_retry_at(reason), None),
        }
    }

    /// A variant onto the variant of the same place: on its own, one byte
    /// copied on a Cortex-M0 (inlined into `of`, a jump table there).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    const fn without_retry_at(reason: Reason) -> Self {
        match reason {
            Reason::Operation => Self::Operation,
            Reason::AttemptTimedOut => Self::AttemptTimedOut,
            Reason::DeadlineExceeded => Self::DeadlineExceeded,
            Reason::BreakerOpen { .. } => Self::BreakerOpen,
            Reason::BulkheadFull => Self::BulkheadFull,
            Reason::QueueTimeout => Self::QueueTimeout,
            Reason::RetriesExhausted => Self::RetriesExhausted,
            Reason::BudgetExhausted => Self::BudgetExhausted,
            Reason::DeadlineWouldPass => Self::DeadlineWouldPass,
            Reason::Cancelled => Self::Cancelled,
            Reason::RateLimited { .. } => Self::RateLimited,
            Reason::Throttled => Self::Throttled,
        }
    }

    /// The reason of this cause, with its `retry_at`.
    const fn reason(self, retry_at: Option<Instant>) -> Reason {
        match self {
            Self::BreakerOpen => Reason::BreakerOpen { retry_at },
            Self::RateLimited => Reason::RateLimited { retry_at },
            cause => cause.without_retry_at_reason(),
        }
    }

    /// A variant onto the variant of the same place (`retry_at` as `None`).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    const fn without_retry_at_reason(self) -> Reason {
        match self {
            Self::Operation => Reason::Operation,
            Self::AttemptTimedOut => Reason::AttemptTimedOut,
            Self::DeadlineExceeded => Reason::DeadlineExceeded,
            Self::BreakerOpen => Reason::BreakerOpen { retry_at: None },
            Self::BulkheadFull => Reason::BulkheadFull,
            Self::QueueTimeout => Reason::QueueTimeout,
            Self::RetriesExhausted => Reason::RetriesExhausted,
            Self::BudgetExhausted => Reason::BudgetExhausted,
            Self::DeadlineWouldPass => Reason::DeadlineWouldPass,
            Self::Cancelled => Reason::Cancelled,
            Self::RateLimited => Reason::RateLimited { retry_at: None },
            Self::Throttled => Reason::Throttled,
        }
    }
}

impl End {
    /// What the breaker of [`Order::BreakerOutermost`] learns from a whole
    /// call ending here: its last attempt's outcome, or nothing (the permit is
    /// cancelled) when the dependency did nothing wrong — a local rejection,
    /// the caller's deadline or a cancellation.
    const fn call_outcome(self) -> Option<Outcome> {
        match self {
            Self::Completed(outcome) => Some(outcome),
            Self::Failed(cause) | Self::Fallback(cause) => match cause {
                Cause::AttemptTimedOut => Some(Outcome::TimedOut),
                Cause::Operation
                | Cause::RetriesExhausted
                | Cause::BudgetExhausted
                | Cause::DeadlineWouldPass => Some(Outcome::Failure),
                Cause::DeadlineExceeded
                | Cause::BreakerOpen
                | Cause::BulkheadFull
                | Cause::QueueTimeout
                | Cause::RateLimited
                | Cause::Throttled
                | Cause::Cancelled => None,
            },
        }
    }
}

/// What [`Call::take_slot`] got from the bulkhead.
enum Slot {
    /// The call holds its slot (or no bulkhead is lent): go on.
    Held,
    /// Queued until `until`.
    Queued { ticket: Ticket, until: Instant },
    /// Full: the call ends.
    Full,
}

/// The [`Finish`] a finished call reports, after `attempts` attempts.
const fn finish_of(end: End, retry_at: Option<Instant>, attempts: u32) -> Finish {
    match end {
        End::Completed(outcome) => Finish::Completed { attempts, outcome },
        End::Failed(cause) => Finish::Failed(Failure::new(cause.reason(retry_at), attempts)),
        End::Fallback(cause) => Finish::Fallback(Failure::new(cause.reason(retry_at), attempts)),
    }
}

/// One call going through the pipeline: its retry state, deadlines, and the
/// permits it holds. Not `Clone`: it may hold permits.
///
/// See the [module docs](super) for the driving loop.
///
/// Neither `Copy` nor `Clone`, so two copies can never both give back the
/// same permits:
///
/// ```compile_fail
/// fn clone<T: Clone>() {}
/// clone::<steadfast::pipeline::Call>();
/// ```
///
/// ```
/// use steadfast::outcome::Verdict;
/// use steadfast::pipeline::{self, Pipeline, Shared, Step};
/// use steadfast::rng::SplitMix64;
/// use steadfast::time::Instant;
///
/// let pipeline = Pipeline::new(pipeline::Config::DEFAULT)?;
/// let mut call = pipeline.start(Instant::ZERO);
/// let mut shared: Shared = Shared::new();
/// let t0 = Instant::ZERO;
/// assert!(matches!(call.next(t0, &mut shared), Step::Attempt { attempt: 1, .. }));
/// let step = call.on_outcome(Verdict::failure(), t0, &mut shared, &mut SplitMix64::new(1));
/// assert!(matches!(step, Step::Wait { .. }));
/// assert_eq!(call.attempts(), 1);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Call<'a, P = &'a Pipeline> {
    /// The pipeline that started the call: borrowed ([`Pipeline::start`]) or
    /// held by a handle the call owns ([`Call::of`]).
    pipeline: P,
    life: PhantomData<&'a Pipeline>,
    retry: Progress,
    /// The total deadline, when `bounded`.
    total_at: Instant,
    /// The budget withdrawal of the scheduled retry, until that retry runs.
    withdrawn: Option<Withdrawal>,
    phase: Phase,
    /// The breaker permit the call holds: the queued or running attempt's,
    /// or the whole call's in [`Order::BreakerOutermost`] (the breaker
    /// admitted the call).
    breaker: Option<breaker::Permit>,
    /// The bulkhead slot the call holds: the running attempt's, or the whole
    /// call's in [`Order::BulkheadOutermost`].
    bulkhead: Option<bulkhead::Permit>,
    last_now: Instant,
    /// Attempts that ran (were handed to the adapter), the running one included.
    started: u32,
    /// Whether the call has a total deadline (`total_at`).
    bounded: bool,
    /// Whether the caller has a fallback to answer [`Finish::Fallback`].
    has_fallback: bool,
    deposited: bool,
    /// Whether [`Call::drain`] has reported the finish.
    reported: bool,
}

impl<'a, D: Delays, P: Deref<Target = Pipeline<D>>> Call<'a, P> {
    /// Starts one call at `now` on the pipeline `pipeline` derefs to, which the
    /// call keeps for its whole life: a shared handle (an `Arc`) lets a call
    /// live in a value that also owns the handle, where a borrow from
    /// [`Pipeline::start`] cannot. Otherwise the same as [`Pipeline::start`].
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Call, Pipeline};
    /// # use steadfast::timeout;
    /// # use steadfast::time::{Duration, Instant};
    /// use std::rc::Rc;
    /// let p = Rc::new(Pipeline::new(pipeline::Config::DEFAULT.with_timeout(timeout::Config::NONE.with_total(Duration::from_secs(5))))?);
    /// let call: Call<'static, Rc<Pipeline>> = Call::of(Rc::clone(&p), Instant::from_secs(1));
    /// assert_eq!(call.deadline(), Some(Instant::from_secs(6)));
    /// assert!(Rc::ptr_eq(call.pipeline(), &p));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn of(pipeline: P, now: Instant) -> Self {
        let total = pipeline.config().timeout.total_deadline(now);
        Self::new(pipeline, total, now)
    }

    /// The pipeline the call runs on, as the call holds it.
    pub const fn pipeline(&self) -> &P {
        &self.pipeline
    }

    pub(super) const fn new(pipeline: P, total: Option<Deadline>, now: Instant) -> Self {
        Self {
            pipeline,
            life: PhantomData,
            retry: Progress::new(),
            total_at: match total {
                Some(d) => d.instant(),
                None => Instant::ZERO,
            },
            withdrawn: None,
            phase: Phase::Ready,
            breaker: None,
            bulkhead: None,
            last_now: now,
            started: 0,
            bounded: total.is_some(),
            has_fallback: false,
            deposited: false,
            reported: false,
        }
    }

    /// The same call, for a caller that has a fallback: a failure
    /// [`pipeline::Config::fallback`](super::Config::fallback) covers
    /// ends in [`Finish::Fallback`] and raises [`Event::Fallback`]. Without
    /// one (the default) the call ends in [`Finish::Failed`] and no fallback
    /// event is raised: a fallback that cannot run is neither counted nor
    /// reported.
    ///
    /// ```
    /// use steadfast::pipeline::{self, Event, Events, Finish, FallbackOn, Input, Pipeline, Reason, Shared};
    /// use steadfast::outcome::Verdict;
    /// use steadfast::retry;
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    ///
    /// let p = Pipeline::new(pipeline::Config::DEFAULT
    ///     .with_retry(retry::Config::DEFAULT.with_max_attempts(1))
    ///     .with_fallback(FallbackOn::AnyFailure))?;
    /// for has_fallback in [false, true] {
    ///     let mut call = p.start(Instant::ZERO).with_fallback(has_fallback);
    ///     let mut events = Events::new();
    ///     let (mut shared, mut rng) = (Shared::new().with_observer(&mut events), SplitMix64::new(1));
    ///     let _ = call.handle(Input::Next, Instant::ZERO, &mut shared, &mut rng);
    ///     let _ = call.handle(Input::Outcome(Verdict::failure()), Instant::ZERO, &mut shared, &mut rng);
    ///     assert_eq!(matches!(call.finish(), Some(Finish::Fallback(_))), has_fallback);
    ///     assert_eq!(matches!(events.pop(), Some(Event::Fallback(_))), has_fallback);
    /// }
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub const fn with_fallback(mut self, has_fallback: bool) -> Self {
        self.has_fallback = has_fallback;
        self
    }

    /// The driver's one entry point: feeds `input` at `now` (the order of
    /// every machine's inputs: what happened, then when), lending the shared
    /// machines, the observer and the jitter source for this step, and returns
    /// what to do next. The events the step raises go to the observer lent in
    /// `shared` ([`Shared::with_observer`]) as they happen; report the finish
    /// with [`drain`](Self::drain) afterwards.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// use steadfast::pipeline::{self, Finish, Input, Pipeline, Shared, Step};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    /// use steadfast::outcome::Outcome;
    ///
    /// let pipeline = Pipeline::new(pipeline::Config::DEFAULT)?;
    /// let mut call = pipeline.start(Instant::ZERO);
    /// let (mut shared, mut rng): (Shared, _) = (Shared::new(), SplitMix64::new(1));
    /// assert!(matches!(call.handle(Input::Next, Instant::ZERO, &mut shared, &mut rng), Step::Attempt { attempt: 1, .. }));
    /// let step = call.handle(Input::Outcome(Verdict::success()), Instant::from_millis(5), &mut shared, &mut rng);
    /// assert_eq!(step, Step::Done(Finish::Completed { attempts: 1, outcome: Outcome::Success }));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn handle<
        G: CircuitBreaker,
        K: Pool,
        B: RetryBudget,
        O: Observer + ?Sized,
        A: Gate,
        R: Rng,
    >(
        &mut self,
        input: Input,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
        rng: &mut R,
    ) -> Step {
        match input {
            Input::Next => self.next(now, shared),
            Input::Outcome(verdict) => self.on_outcome(verdict, now, shared, rng),
            Input::Abandon => {
                self.abandon(now, shared);
                self.next(now, shared)
            }
        }
    }

    /// Hands the finish to `observer`, once, when the call has ended (the
    /// events went to the observer lent in [`Shared`] during each step). Call
    /// it after each step, outside any lock the observer must not run under.
    ///
    /// ```
    /// use steadfast::pipeline::{self, Event, Finish, Input, Observer, Pipeline, Shared};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    ///
    /// #[derive(Default)]
    /// struct Ends(u32);
    /// impl Observer for Ends {
    ///     fn on_finish(&mut self, _now: Instant, _finish: &Finish) { self.0 += 1; }
    /// }
    /// let pipeline = Pipeline::new(pipeline::Config::DEFAULT)?;
    /// let mut call = pipeline.start(Instant::ZERO);
    /// let (mut shared, mut rng): (Shared, _) = (Shared::new(), SplitMix64::new(1));
    /// let _ = call.handle(Input::Abandon, Instant::ZERO, &mut shared, &mut rng);
    /// let mut ends = Ends::default();
    /// call.drain(Instant::ZERO, &mut ends);
    /// call.drain(Instant::ZERO, &mut ends);
    /// assert_eq!(ends.0, 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn drain<O: Observer + ?Sized>(&mut self, now: Instant, observer: &mut O) {
        if !self.reported
            && let Some(finish) = self.finish()
        {
            self.reported = true;
            observer.on_finish(now, &finish);
        }
    }

    /// The total deadline, if the policy has a total timeout.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Pipeline};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Pipeline::new(pipeline::Config::DEFAULT)?.start(Instant::ZERO).deadline(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn deadline(&self) -> Option<Instant> {
        if self.bounded {
            Some(self.total_at)
        } else {
            None
        }
    }

    /// The total deadline, if the policy has a total timeout. Whether it has
    /// one is read from the policy, not from the call: for a pipeline fixed at
    /// compile time ([`Fixed`](super::Fixed)) without a total timeout, the
    /// paths that follow a total deadline fold away.
    fn total(&self) -> Option<Deadline> {
        if self.pipeline.config().timeout.total.is_some() {
            Some(Deadline::at(self.total_at))
        } else {
            None
        }
    }

    /// Attempts that have run or are running (0 before the first).
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Pipeline};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Pipeline::new(pipeline::Config::DEFAULT)?.start(Instant::ZERO).attempts(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn attempts(&self) -> u32 {
        self.started
    }

    /// How the call ended, once it has.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Pipeline};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Pipeline::new(pipeline::Config::DEFAULT)?.start(Instant::ZERO).finish(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn finish(&self) -> Option<Finish> {
        match self.phase {
            Phase::Finished { end, retry_at } => Some(finish_of(end, retry_at, self.started)),
            _ => None,
        }
    }

    /// `true` once the call has ended.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Pipeline};
    /// # use steadfast::time::Instant;
    /// assert!(!Pipeline::new(pipeline::Config::DEFAULT)?.start(Instant::ZERO).is_finished());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished { .. })
    }

    /// When the call next needs attention without being woken: the end of a
    /// wait, of a queue wait, or a running attempt's deadline.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Pipeline};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Pipeline::new(pipeline::Config::DEFAULT)?.start(Instant::ZERO).poll_at(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn poll_at(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Waiting { until } | Phase::Queued { until, .. } => Some(*until),
            Phase::Running {
                deadline: Some(d), ..
            } => Some(d.instant()),
            _ => None,
        }
    }

    fn observe(&mut self, now: Instant) -> Instant {
        let now = now.max(self.last_now);
        self.last_now = now;
        now
    }

    fn total_expired(&self, now: Instant) -> bool {
        match self.total() {
            Some(d) => d.is_expired(now),
            None => false,
        }
    }

    /// Caps an instant at the total deadline.
    fn within_total(&self, at: Instant) -> Instant {
        match self.total() {
            Some(d) => at.min(d.instant()),
            None => at,
        }
    }

    /// The running or queued attempt's breaker permit, taken from the call
    /// (none while the call holds the whole call's, in
    /// [`Order::BreakerOutermost`]).
    fn take_attempt_breaker(&mut self) -> Option<breaker::Permit> {
        if self.pipeline.config().order == Order::BreakerOutermost {
            None
        } else {
            self.breaker.take()
        }
    }

    /// The running attempt's bulkhead slot, taken from the call (none while
    /// the call holds the whole call's, in [`Order::BulkheadOutermost`]).
    fn take_attempt_bulkhead(&mut self) -> Option<bulkhead::Permit> {
        if self.pipeline.config().order == Order::BulkheadOutermost {
            None
        } else {
            self.bulkhead.take()
        }
    }

    /// What to do next at `now`. Safe to call at any time, any number of times:
    /// early (returns the same wait), late, or after the call ended (returns
    /// the same [`Step::Done`]).
    ///
    /// A running attempt whose deadline has passed ends here as timed out.
    /// No rng is lent to `next`, so a retry it schedules waits the middle of
    /// the backoff's jitter range; a driver that races the attempt against
    /// its deadline feeds [`Input::Outcome`]`(`[`Verdict::timed_out`]`())`
    /// through [`handle`](Self::handle) instead, and the delay is drawn.
    ///
    /// ```
    /// use steadfast::pipeline::{self, Pipeline, Shared, Step};
    /// use steadfast::time::Instant;
    /// let pipeline = Pipeline::new(pipeline::Config::DEFAULT)?;
    /// let mut call = pipeline.start(Instant::ZERO);
    /// let step = call.next(Instant::ZERO, &mut Shared::new());
    /// assert!(matches!(step, Step::Attempt { attempt: 1, deadline: Some(_) }));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    // Inlined on 64-bit hosts, where a step's calls cost more than its code
    // grows; one copy for its many callers on 32-bit targets.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn next<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) -> Step {
        let now = self.observe(now);
        if !self.deposited {
            self.deposited = true;
            if let Some(budget) = shared.budget.as_deref_mut() {
                budget.on_request(now);
            }
        }
        // A wait that is over leaves the call ready for its next attempt.
        if let Phase::Waiting { until } = self.phase {
            if self.total_expired(now) {
                return self.fail(Cause::DeadlineExceeded, None, shared, now);
            }
            if now < until {
                return Step::Wait { until };
            }
            self.phase = Phase::Ready;
        }
        match &self.phase {
            Phase::Finished { end, retry_at } => {
                Step::Done(finish_of(*end, *retry_at, self.started))
            }
            Phase::Running { deadline, .. } => match deadline {
                Some(d) if d.is_expired(now) => self.on_timed_out(now, shared),
                Some(d) => Step::Wait { until: d.instant() },
                None => Step::Wait {
                    until: Instant::MAX,
                },
            },
            Phase::Queued { .. } => self.poll_queue(now, shared),
            // `Waiting` cannot be seen here: a wait still running returned above.
            Phase::Ready | Phase::Waiting { .. } => self.begin_attempt(now, shared),
        }
    }

    /// Starts the attempt `retry.attempts()` if every stage admits it.
    // Inlined on 64-bit hosts (the path of every first attempt); one copy on
    // 32-bit targets.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn begin_attempt<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) -> Step {
        if self.total_expired(now) {
            return self.fail(Cause::DeadlineExceeded, None, shared, now);
        }
        if self.pipeline.config().order == Order::BulkheadOutermost && self.bulkhead.is_none() {
            match self.take_slot(now, shared) {
                Slot::Held => {}
                Slot::Queued { ticket, until } => return Step::Queued { ticket, until },
                Slot::Full => return self.bulkhead_full(shared, now),
            }
        }
        // A breaker permit held here is the whole call's: the breaker of
        // `BreakerOutermost` admitted the call once.
        if self.breaker.is_none()
            && let Some(breaker) = shared.breaker.as_deref_mut()
        {
            if let Some(t) = breaker.handle_timeout(now) {
                emit(&mut shared.observer, now, Event::Breaker(t));
            }
            match breaker.try_acquire(now) {
                Ok(permit) => self.breaker = Some(permit),
                Err(rejected) => {
                    return self.on_rejected(now, rejected.retry_at, false, shared);
                }
            }
        }
        if self.pipeline.config().order != Order::BulkheadOutermost {
            match self.take_slot(now, shared) {
                Slot::Held => {}
                Slot::Queued { ticket, until } => return Step::Queued { ticket, until },
                Slot::Full => return self.bulkhead_full(shared, now),
            }
        }
        self.run(now, shared)
    }

    /// Asks the bulkhead for a slot, the whole call's (taken before the
    /// attempt's breaker permit) or the attempt's (after it): [`Slot::Held`]
    /// once the call holds it, or with no bulkhead lent; otherwise the call
    /// queues, or the bulkhead is full (the attempt's breaker permit given
    /// back). The caller builds the step, in place.
    // Inlined on 64-bit hosts; one copy for its two callers on 32-bit targets.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn take_slot<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) -> Slot {
        let Some(bulkhead) = shared.bulkhead.as_deref_mut() else {
            return Slot::Held;
        };
        match bulkhead.try_acquire(now) {
            Acquire::Permit(permit) => {
                self.bulkhead = Some(permit);
                Slot::Held
            }
            Acquire::Queued { ticket, deadline } => {
                let until = self.within_total(deadline);
                self.phase = Phase::Queued { ticket, until };
                Slot::Queued { ticket, until }
            }
            Acquire::Full => {
                let breaker = self.take_attempt_breaker();
                give_back(now, shared, breaker, None);
                Slot::Full
            }
        }
    }

    /// Ends the call refused by a full bulkhead.
    fn bulkhead_full<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        shared: &mut Shared<'_, G, K, B, O, A>,
        now: Instant,
    ) -> Step {
        self.fail(Cause::BulkheadFull, None, shared, now)
    }

    /// Claims a queued ticket.
    fn poll_queue<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) -> Step {
        let Phase::Queued { ticket, .. } = core::mem::replace(&mut self.phase, Phase::Ready) else {
            return Step::Wait { until: now };
        };
        let claim = match shared.bulkhead.as_deref_mut() {
            Some(_) if self.total_expired(now) => {
                leave_queue(now, shared, ticket);
                None
            }
            Some(bulkhead) => Some(bulkhead.claim(ticket, now)),
            None => None,
        };
        let cause = match claim {
            Some(Claim::Granted(permit)) => {
                self.bulkhead = Some(permit);
                // The whole call's slot: the attempt's stages come next.
                if self.pipeline.config().order == Order::BulkheadOutermost {
                    return self.begin_attempt(now, shared);
                }
                return self.run(now, shared);
            }
            Some(Claim::Waiting { deadline }) => {
                let until = self.within_total(deadline);
                self.phase = Phase::Queued { ticket, until };
                return Step::Queued { ticket, until };
            }
            Some(Claim::Expired) => Cause::QueueTimeout,
            None if self.total_expired(now) => Cause::DeadlineExceeded,
            // The bulkhead was not lent: nothing to claim from.
            None => Cause::BulkheadFull,
        };
        let breaker = self.take_attempt_breaker();
        give_back(now, shared, breaker, None);
        self.fail(cause, None, shared, now)
    }

    /// Every stage admitted: the attempt runs (or, with a zero/expired
    /// deadline, has already timed out).
    // Inlined on 64-bit hosts; one copy for its callers on 32-bit targets.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn run<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) -> Step {
        let deadline = self
            .pipeline
            .config()
            .timeout
            .attempt_deadline(now, self.total());
        let cut_by_caller = match (self.total(), self.pipeline.config().timeout.attempt) {
            (Some(total), Some(own)) => total.instant() < now.saturating_add(own),
            (Some(_), None) => true,
            (None, _) => false,
        };
        let expired = matches!(deadline, Some(d) if d.is_expired(now));
        // An attempt that has already timed out never reaches the dependency:
        // the gate is not asked and hears nothing of it.
        let gated = match shared.gate.as_deref_mut() {
            Some(gate) if !expired => match gate.admit(now) {
                Ok(()) => true,
                Err(reason) => {
                    let (breaker, bulkhead) =
                        (self.take_attempt_breaker(), self.take_attempt_bulkhead());
                    give_back(now, shared, breaker, bulkhead);
                    return match reason {
                        Reason::RateLimited { retry_at } => {
                            self.on_rejected(now, retry_at, true, shared)
                        }
                        reason => {
                            let (cause, retry_at) = Cause::of(reason);
                            self.fail(cause, retry_at, shared, now)
                        }
                    };
                }
            },
            _ => false,
        };
        self.phase = Phase::Running {
            deadline,
            cut_by_caller,
            gated,
        };
        self.withdrawn = None;
        self.started = self.started.saturating_add(1);
        match deadline {
            Some(_) if expired => self.on_timed_out(now, shared),
            _ => Step::Attempt {
                attempt: self.retry.attempts(),
                deadline: deadline.map(Deadline::instant),
            },
        }
    }

    fn on_timed_out<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) -> Step {
        // The rng is not needed: a timeout that the total deadline caused ends the
        // call, and any other retry of a timeout draws jitter below.
        self.finish_attempt(now, Verdict::timed_out(), shared, &mut NoJitter)
    }

    /// Whether an attempt starting at `start` would get its whole attempt
    /// timeout before the total deadline (with no attempt timeout: whether it
    /// starts before the deadline at all).
    ///
    /// Waiting for a breaker is only worth it when this holds. Otherwise the
    /// calls that waited for `retry_at` — first in line when the breaker turns
    /// half-open, with almost no time left — become its probes, time out
    /// against their own deadline rather than the dependency's, count as
    /// failures and re-open the breaker.
    fn fits_full_attempt(&self, start: Instant, total: Deadline) -> bool {
        match self.pipeline.config().timeout.attempt {
            Some(attempt) => {
                start.saturating_add(attempt) <= total.instant() && start < total.instant()
            }
            None => start < total.instant(),
        }
    }

    /// The breaker refused, or the rate limiter when `limited`, saying when
    /// it admits again (`retry_at`): wait for it when the deadline allows,
    /// otherwise fail fast.
    fn on_rejected<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        retry_at: Option<Instant>,
        limited: bool,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) -> Step {
        let refused = if limited {
            Cause::RateLimited
        } else {
            Cause::BreakerOpen
        };
        let (Some(total), Some(at)) = (self.total(), retry_at) else {
            return self.fail(refused, retry_at, shared, now);
        };
        if !self.fits_full_attempt(at, total)
            || self.retry.attempts() >= self.pipeline.config().retry.max_attempts()
        {
            return self.fail(refused, retry_at, shared, now);
        }
        // The refused attempt counts as one; the wait is the breaker's, not a
        // backoff, and spends no budget (nothing reached the dependency).
        let hint = at.saturating_duration_since(now);
        let lent = Lent {
            config: &self.pipeline.config().retry,
            deadline: self.total().map(Deadline::instant),
            last_now: &mut self.last_now,
        };
        match self.retry.on_outcome_drawn(
            lent,
            &Verdict::ignored().retry_after(hint),
            now,
            &mut NoJitter,
            &mut Unlimited,
        ) {
            RetryDecision::RetryAt {
                at: backoff_at,
                attempt,
                delay,
            } => {
                let until = backoff_at.max(at);
                if !self.fits_full_attempt(until, total) {
                    return self.fail(refused, retry_at, shared, now);
                }
                emit(
                    &mut shared.observer,
                    now,
                    Event::Retry {
                        attempt,
                        delay: until.saturating_duration_since(now).max(delay),
                        at: until,
                    },
                );
                self.phase = Phase::Waiting { until };
                Step::Wait { until }
            }
            _ => self.fail(refused, retry_at, shared, now),
        }
    }

    /// Reports how the running attempt ended (`verdict`), at `now`; returns the next step.
    ///
    /// A verdict reported at or after the attempt's deadline is discarded and
    /// recorded as [`Outcome::TimedOut`]. Outside a running attempt (a duplicate
    /// or late report) the verdict is ignored and the current step returned.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// use steadfast::pipeline::{self, Finish, Pipeline, Shared, Step};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    /// use steadfast::outcome::Outcome;
    ///
    /// let pipeline = Pipeline::new(pipeline::Config::DEFAULT)?;
    /// let mut call = pipeline.start(Instant::ZERO);
    /// let mut shared: Shared = Shared::new();
    /// let _ = call.next(Instant::ZERO, &mut shared);
    /// let step = call.on_outcome(Verdict::success(), Instant::from_millis(5), &mut shared, &mut SplitMix64::new(1));
    /// assert_eq!(step, Step::Done(Finish::Completed { attempts: 1, outcome: Outcome::Success }));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn on_outcome<
        G: CircuitBreaker,
        K: Pool,
        B: RetryBudget,
        O: Observer + ?Sized,
        A: Gate,
        R: Rng,
    >(
        &mut self,
        verdict: Verdict,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
        rng: &mut R,
    ) -> Step {
        let now = self.observe(now);
        if !matches!(self.phase, Phase::Running { .. }) {
            return self.next(now, shared);
        }
        self.finish_attempt(now, verdict, shared, rng)
    }

    // Inlined on 64-bit hosts, where speed matters more than code size; only
    // a hint on 32-bit targets, where its two callers share one copy.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    fn finish_attempt<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        mut verdict: Verdict,
        shared: &mut Shared<'_, G, K, B, O, A>,
        rng: &mut dyn Draw,
    ) -> Step {
        let Phase::Running {
            deadline,
            cut_by_caller,
            gated,
        } = core::mem::replace(&mut self.phase, Phase::Ready)
        else {
            return self.next(now, shared);
        };
        let (breaker, bulkhead) = (self.take_attempt_breaker(), self.take_attempt_bulkhead());
        let late = matches!(deadline, Some(d) if d.is_expired(now));
        // Only a call with a total deadline is ever cut by it: saying so
        // lets a constant policy without one drop this path.
        if late && cut_by_caller && self.total().is_some() {
            // The caller's impatience, not the dependency's failure: the
            // breaker sees a cancellation (a probe returns its slot).
            tell_gate(shared, gated, None, now);
            give_back(now, shared, breaker, bulkhead);
            return self.fail(Cause::DeadlineExceeded, None, shared, now);
        }
        if late && verdict.outcome != Outcome::TimedOut {
            // `Verdict::timed_out()`, field by field: a whole verdict moved
            // here would copy its padding with `memcpy` on a Cortex-M0.
            verdict.outcome = Outcome::TimedOut;
            verdict.retryable = true;
            verdict.retry_after = None;
        }
        let attempt = self.started;
        if verdict.outcome == Outcome::TimedOut {
            emit(&mut shared.observer, now, Event::TimedOut { attempt });
        }
        if let (Some(permit), Some(b)) = (breaker, shared.breaker.as_deref_mut())
            && let Some(t) = b.record(permit, verdict.outcome, now)
        {
            emit(&mut shared.observer, now, Event::Breaker(t));
        }
        tell_gate(shared, gated, Some(verdict.outcome), now);
        #[cfg(target_pointer_width = "64")]
        release_slot(now, shared, bulkhead);
        #[cfg(not(target_pointer_width = "64"))]
        give_back(now, shared, None, bulkhead);
        let lent = Lent {
            config: &self.pipeline.config().retry,
            deadline: self.total().map(Deadline::instant),
            last_now: &mut self.last_now,
        };
        let decision = match shared.budget.as_deref_mut() {
            Some(budget) => self
                .retry
                .on_outcome_drawn(lent, &verdict, now, rng, budget),
            None => self
                .retry
                .on_outcome_drawn(lent, &verdict, now, rng, &mut Unlimited),
        };
        let cause = match decision {
            RetryDecision::Done => {
                return self.complete(End::Completed(verdict.outcome), None, shared, now);
            }
            RetryDecision::GiveUp(GiveUpReason::DeadlineWouldPass) if self.total_expired(now) => {
                Cause::DeadlineExceeded
            }
            RetryDecision::GiveUp(give_up) => {
                Cause::without_retry_at(Reason::after_give_up(give_up, verdict.outcome))
            }
            RetryDecision::RetryAt { at, attempt, delay } => {
                if shared.budget.is_some() {
                    self.withdrawn = self.retry.withdrawal();
                }
                emit(
                    &mut shared.observer,
                    now,
                    Event::Retry { attempt, delay, at },
                );
                self.phase = Phase::Waiting { until: at };
                return self.next(now, shared);
            }
        };
        self.fail(cause, None, shared, now)
    }

    /// Gives up the call now (the caller's future was dropped, a shutdown):
    /// returns the breaker probe slot, releases or leaves the bulkhead. Safe to
    /// call in any phase, more than once. The caller's impatience is not the
    /// dependency's failure: a running attempt is a cancellation for the
    /// breaker and for the gate — unless it had already reached its own
    /// attempt timeout, which is recorded as the timeout it was.
    ///
    /// ```
    /// use steadfast::bulkhead::{Bulkhead, Config};
    /// use steadfast::pipeline::{self, Failure, Finish, Pipeline, Reason, Shared, Step};
    /// use steadfast::time::Instant;
    ///
    /// let mut pool: Bulkhead = Bulkhead::new(Config::default())?;
    /// let pipeline = Pipeline::new(pipeline::Config::DEFAULT)?;
    /// let mut call = pipeline.start(Instant::ZERO);
    /// let mut shared = Shared::new().with_bulkhead(&mut pool);
    /// assert!(matches!(call.next(Instant::ZERO, &mut shared), Step::Attempt { .. }));
    /// call.abandon(Instant::ZERO, &mut shared);
    /// assert_eq!(call.finish(), Some(Finish::Failed(Failure::new(Reason::Cancelled, 1))));
    /// assert_eq!(pool.in_flight(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn abandon<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) {
        let now = self.observe(now);
        let cancelled = Phase::Finished {
            end: End::Failed(Cause::Cancelled),
            retry_at: None,
        };
        match core::mem::replace(&mut self.phase, cancelled) {
            Phase::Running {
                deadline,
                cut_by_caller,
                gated,
            } => {
                // An attempt that already reached its own timeout failed,
                // whether or not the driver got to report it.
                let timed_out = !cut_by_caller && matches!(deadline, Some(d) if d.is_expired(now));
                tell_gate(shared, gated, timed_out.then_some(Outcome::TimedOut), now);
                let (breaker, bulkhead) =
                    (self.take_attempt_breaker(), self.take_attempt_bulkhead());
                let breaker = match (breaker, shared.breaker.as_deref_mut()) {
                    (Some(permit), Some(b)) if timed_out => {
                        emit(
                            &mut shared.observer,
                            now,
                            Event::TimedOut {
                                attempt: self.started,
                            },
                        );
                        if let Some(t) = b.record(permit, Outcome::TimedOut, now) {
                            emit(&mut shared.observer, now, Event::Breaker(t));
                        }
                        None
                    }
                    (breaker, _) => breaker,
                };
                give_back(now, shared, breaker, bulkhead);
            }
            Phase::Queued { ticket, .. } => {
                let breaker = self.take_attempt_breaker();
                give_back(now, shared, breaker, None);
                leave_queue(now, shared, ticket);
            }
            finished @ Phase::Finished { .. } => self.phase = finished,
            Phase::Ready | Phase::Waiting { .. } => {}
        }
        self.release_outer(now, shared);
    }

    /// Returns what the call holds beyond its current attempt: the
    /// whole-call bulkhead slot, and the budget token of a retry that was
    /// scheduled but never ran (cancelled during its backoff, or refused
    /// locally by the breaker, the bulkhead or the gate).
    fn release_outer<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, K, B, O, A>,
    ) {
        // The attempt's permits were given back with it: what is left is
        // the whole call's.
        let (breaker, bulkhead) = (self.breaker.take(), self.bulkhead.take());
        if breaker.is_some() || bulkhead.is_some() {
            give_back(now, shared, breaker, bulkhead);
        }
        if let (Some(withdrawal), Some(budget)) =
            (self.withdrawn.take(), shared.budget.as_deref_mut())
        {
            budget.give_back(withdrawal, now);
        }
    }

    /// Ends the call in `end` (with its `retry_at`) after the attempts it ran.
    /// The call's [`Finish`] is built once, in the step returned: on a
    /// Cortex-M0 a whole `Finish` moved from one place to another is a
    /// `memcpy`.
    // Inlined on 64-bit hosts; one copy for its many callers on 32-bit targets.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn complete<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        end: End,
        retry_at: Option<Instant>,
        shared: &mut Shared<'_, G, K, B, O, A>,
        now: Instant,
    ) -> Step {
        if self.pipeline.config().order == Order::BreakerOutermost
            && let Some(outcome) = end.call_outcome()
            && let Some(permit) = self.breaker.take()
            && let Some(b) = shared.breaker.as_deref_mut()
            && let Some(t) = b.record(permit, outcome, now)
        {
            emit(&mut shared.observer, now, Event::Breaker(t));
        }
        self.release_outer(now, shared);
        self.phase = Phase::Finished { end, retry_at };
        Step::Done(finish_of(end, retry_at, self.started))
    }

    /// Ends the call failed by `cause` (with its `retry_at`) after the
    /// attempts it ran: in [`Finish::Fallback`] when the caller has a fallback
    /// that covers the failure, otherwise in [`Finish::Failed`].
    fn fail<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
        &mut self,
        cause: Cause,
        retry_at: Option<Instant>,
        shared: &mut Shared<'_, G, K, B, O, A>,
        now: Instant,
    ) -> Step {
        let mut end = End::Failed(cause);
        if self.has_fallback {
            let failure = Failure::new(cause.reason(retry_at), self.started);
            if self.pipeline.config().fallback.covers(&failure) {
                emit(&mut shared.observer, now, Event::Fallback(failure));
                end = End::Fallback(cause);
            }
        }
        self.complete(end, retry_at, shared, now)
    }
}

/// Tells the gate that admitted an attempt how it ended: its `outcome`, or
/// (`None`) that the caller gave up on it.
fn tell_gate<G: CircuitBreaker, K: Pool, B: RetryBudget, O: Observer + ?Sized, A: Gate>(
    shared: &mut Shared<'_, G, K, B, O, A>,
    gated: bool,
    outcome: Option<Outcome>,
    now: Instant,
) {
    // The gate first: without one (`NoGate`) the branch cannot be taken and
    // nothing is tested at all.
    if let Some(gate) = shared.gate.as_deref_mut()
        && gated
    {
        match outcome {
            Some(outcome) => gate.record(outcome, now),
            None => gate.cancel(now),
        }
    }
}

/// Stands in for the rng where no jitter can be drawn that matters (a retry
/// scheduled by a breaker's `retry_at` or a timeout's bookkeeping): always the
/// middle of the range, so decisions stay deterministic without consuming the
/// caller's random stream.
struct NoJitter;

impl Rng for NoJitter {
    fn next_u64(&mut self) -> u64 {
        u64::MAX / 2
    }

    /// What the provided `between` computes from `next_u64` above, without its
    /// 128-bit product: `below(n) = ⌊(2^63 - 1)·n / 2^64⌋ = ⌊n/2 - n/2^64⌋`,
    /// which is `⌊(n - 1) / 2⌋`, one less for an odd `n` above `2^63`. With
    /// `n = span + 1`: `span / 2`, less one when `span` is even and at least
    /// `2^63` (its top bit set, its low bit clear). The whole range
    /// (`span = u64::MAX`) gives `u64::MAX / 2`, the draw itself.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        let span = high.saturating_sub(low);
        low + (span >> 1) - ((span >> 63) & !span & 1)
    }
}

#[cfg(test)]
mod tests {
    use super::{Cause, End, NoJitter, finish_of};
    use crate::outcome::Outcome;
    use crate::pipeline::{Failure, Finish, Reason};
    use crate::rng::{Rng, SplitMix64};
    use crate::time::Instant;

    #[test]
    fn a_finished_call_gives_back_the_finish_it_keeps() {
        let mut reasons = [
            Reason::Operation,
            Reason::AttemptTimedOut,
            Reason::DeadlineExceeded,
            Reason::BulkheadFull,
            Reason::QueueTimeout,
            Reason::RetriesExhausted,
            Reason::BudgetExhausted,
            Reason::DeadlineWouldPass,
            Reason::Cancelled,
            Reason::Throttled,
        ]
        .to_vec();
        for retry_at in [None, Some(Instant::ZERO), Some(Instant::MAX)] {
            reasons.push(Reason::BreakerOpen { retry_at });
            reasons.push(Reason::RateLimited { retry_at });
        }
        let mut finishes = [
            Outcome::Success,
            Outcome::Failure,
            Outcome::TimedOut,
            Outcome::Ignored,
        ]
        .map(|outcome| Finish::Completed {
            attempts: 7,
            outcome,
        })
        .to_vec();
        for reason in reasons {
            finishes.push(Finish::Failed(Failure::new(reason, 7)));
            finishes.push(Finish::Fallback(Failure::new(reason, 7)));
        }
        for finish in finishes {
            let (end, retry_at) = match finish {
                Finish::Completed { outcome, .. } => (End::Completed(outcome), None),
                Finish::Failed(f) => {
                    let (cause, retry_at) = Cause::of(f.reason);
                    (End::Failed(cause), retry_at)
                }
                Finish::Fallback(f) => {
                    let (cause, retry_at) = Cause::of(f.reason);
                    (End::Fallback(cause), retry_at)
                }
            };
            assert_eq!(finish_of(end, retry_at, 7), finish);
        }
    }

    /// `next_u64` alone, so `between` is the trait's provided one.
    struct Middle;
    impl Rng for Middle {
        fn next_u64(&mut self) -> u64 {
            u64::MAX / 2
        }
    }

    #[test]
    fn no_jitter_draws_what_the_provided_between_draws() {
        let mut rng = SplitMix64::new(9);
        let edges = [0, 1, 2, 3, u64::MAX / 2, u64::MAX - 1, u64::MAX];
        for low in edges {
            for high in edges {
                assert_eq!(
                    NoJitter.between(low, high),
                    Middle.between(low, high),
                    "{low}..={high}"
                );
            }
        }
        for _ in 0..10_000 {
            let (a, b) = (rng.next_u64() >> (rng.next_u64() % 64), rng.next_u64());
            assert_eq!(NoJitter.between(a, b), Middle.between(a, b), "{a}..={b}");
            assert_eq!(
                NoJitter.between(a, a.saturating_add(b % 1000)),
                Middle.between(a, a.saturating_add(b % 1000))
            );
        }
    }
}
