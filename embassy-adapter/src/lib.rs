//! steadfast on Embassy: a thin driver of the core's [`steadfast::pipeline`].
//!
//! A [`Policy`] pairs an immutable [`Pipeline`] with the machines its calls
//! share — a [`SharedBreaker`], a [`SharedBulkhead`], a [`SharedBudget`] and the
//! jitter's [`SharedRng`], each behind an embassy-sync blocking mutex and usable
//! from a `static`. [`Policy::call`] runs one call: it asks the pipeline what to
//! do, and does exactly that — run the attempt under
//! [`embassy_time::with_deadline`], sleep with [`embassy_time::Timer::at`], wait
//! in the bulkhead's queue until woken — and reports each outcome back. No
//! resilience decision is made here.
//!
//! Dropping the call's future (a `select`, a timeout around it, a cancelled
//! task) is safe at any `.await`: a guard calls [`Call::abandon`] under the
//! locks, which returns a half-open probe slot, releases the bulkhead slot or
//! leaves its queue (passing a granted slot on to the next waiter).
//!
//! ```no_run
//! use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
//! use steadfast::breaker::{Breaker, Config};
//! use steadfast::pipeline::{Pipeline, PipelineConfig};
//! use steadfast_embassy::{Policy, SharedBreaker, SharedRng};
//!
//! static BREAKER: SharedBreaker<Cs> = SharedBreaker::new(match Breaker::new(Config::DEFAULT) {
//!     Ok(b) => b,
//!     Err(_) => panic!(),
//! });
//! static RNG: SharedRng<Cs> = SharedRng::new(7);
//! static SENSOR: Policy<'static, Cs> =
//!     Policy::new(Pipeline::new(PipelineConfig::DEFAULT), &RNG).with_breaker(&BREAKER);
//!
//! async fn read_sensor() -> Result<u16, ()> { Ok(2_100) }
//!
//! async fn task() {
//!     match SENSOR.call(|| read_sensor()).await {
//!         Ok(centi_celsius) => { /* use it */ let _ = centi_celsius; }
//!         Err(e) => { /* breaker open, retries exhausted, timed out… */ let _ = e; }
//!     }
//! }
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod shared;
pub mod time;

use core::cell::RefCell;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::Poll;

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::{Timer, with_deadline};
use steadfast::breaker::{Breaker, Consecutive, Window};
use steadfast::bulkhead::Ticket;
use steadfast::outcome::{Classify, ErrorsFail, Outcome, Verdict};
use steadfast::pipeline::{Call, Event, Events, Finish, Pipeline, Shared, Step};
use steadfast::retry::{RetryBudget, Unlimited};
use steadfast::time::Instant;

pub use error::Error;
pub use shared::{SharedBreaker, SharedBudget, SharedBulkhead, SharedRng};

/// What the driver fed the pipeline at one step (for an [`Observer`]).
///
/// ```
/// use steadfast_embassy::Input;
/// assert_ne!(Input::Next, Input::Abandon);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Input {
    /// [`Call::next`]: a wait ended, or the call started.
    Next,
    /// [`Call::on_outcome`]: an attempt ended with this verdict.
    Outcome(Verdict),
    /// [`Call::abandon`]: the call's future was dropped.
    Abandon,
}

/// Watches one call: every step the pipeline answered and every event it
/// raised, with the instant the driver used. The unit type watches nothing.
///
/// ```
/// use steadfast::pipeline::{Event, Step};
/// use steadfast::time::Instant;
/// use steadfast_embassy::{Input, Observer};
///
/// /// Counts retries.
/// struct Retries(u32);
/// impl Observer for Retries {
///     fn event(&mut self, _now: Instant, event: &Event) {
///         if matches!(event, Event::Retry { .. }) { self.0 += 1; }
///     }
/// }
/// let mut r = Retries(0);
/// r.step(Instant::ZERO, Input::Next, &Step::Wait { until: Instant::ZERO });
/// assert_eq!(r.0, 0);
/// ```
pub trait Observer {
    /// The call started at `now` ([`Pipeline::start`]).
    fn started(&mut self, now: Instant) {
        let _ = now;
    }
    /// The pipeline answered `step` to `input` at `now`.
    fn step(&mut self, now: Instant, input: Input, step: &Step) {
        let _ = (now, input, step);
    }
    /// The pipeline raised `event` during the step at `now`.
    fn event(&mut self, now: Instant, event: &Event) {
        let _ = (now, event);
    }
}

impl Observer for () {}

/// A pipeline and the shared machines its calls use. `Copy`, `const`-built,
/// so it can be a `static` next to the machines it names.
///
/// `W`, `Q`, `B`: the breaker's window, the bulkhead's queue storage and the
/// budget type, as in [`steadfast::pipeline::Shared`]; the builders set them.
///
/// ```
/// use embassy_sync::blocking_mutex::raw::NoopRawMutex;
/// use steadfast::pipeline::{Pipeline, PipelineConfig};
/// use steadfast_embassy::{Policy, SharedRng};
///
/// let rng: SharedRng<NoopRawMutex> = SharedRng::new(1);
/// let policy = Policy::new(Pipeline::new(PipelineConfig::DEFAULT), &rng);
/// assert_eq!(policy.pipeline().config().retry.max_attempts(), 3);
/// ```
pub struct Policy<
    'a,
    M: RawMutex,
    W: Window = Consecutive,
    const Q: usize = 10,
    B: RetryBudget = Unlimited,
> {
    pipeline: Pipeline,
    rng: &'a SharedRng<M>,
    breaker: Option<&'a SharedBreaker<M, W>>,
    bulkhead: Option<&'a SharedBulkhead<M, Q>>,
    budget: Option<&'a SharedBudget<M, B>>,
}

impl<M: RawMutex, W: Window, const Q: usize, B: RetryBudget> Clone for Policy<'_, M, W, Q, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: RawMutex, W: Window, const Q: usize, B: RetryBudget> Copy for Policy<'_, M, W, Q, B> {}

impl<M: RawMutex, W: Window, const Q: usize, B: RetryBudget> core::fmt::Debug
    for Policy<'_, M, W, Q, B>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Policy")
            .field("pipeline", &self.pipeline)
            .field("breaker", &self.breaker)
            .field("bulkhead", &self.bulkhead)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "defmt")]
impl<M: RawMutex, W: Window, const Q: usize, B: RetryBudget> defmt::Format
    for Policy<'_, M, W, Q, B>
{
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Policy {{ pipeline: {}, breaker: {}, bulkhead: {} }}",
            self.pipeline,
            self.breaker,
            self.bulkhead
        );
    }
}

impl<'a, M: RawMutex> Policy<'a, M> {
    /// Retry and timeouts only; jitter drawn from `rng`. Add shared machines
    /// with the `with_*` builders.
    pub const fn new(pipeline: Pipeline, rng: &'a SharedRng<M>) -> Self {
        Self {
            pipeline,
            rng,
            breaker: None,
            bulkhead: None,
            budget: None,
        }
    }
}

impl<'a, M: RawMutex, W: Window, const Q: usize, B: RetryBudget> Policy<'a, M, W, Q, B> {
    /// With a breaker.
    #[must_use]
    pub const fn with_breaker<W2: Window>(
        self,
        breaker: &'a SharedBreaker<M, W2>,
    ) -> Policy<'a, M, W2, Q, B> {
        Policy {
            pipeline: self.pipeline,
            rng: self.rng,
            breaker: Some(breaker),
            bulkhead: self.bulkhead,
            budget: self.budget,
        }
    }

    /// With a bulkhead (several policies may share one: two tasks on one bus).
    #[must_use]
    pub const fn with_bulkhead<const Q2: usize>(
        self,
        bulkhead: &'a SharedBulkhead<M, Q2>,
    ) -> Policy<'a, M, W, Q2, B> {
        Policy {
            pipeline: self.pipeline,
            rng: self.rng,
            breaker: self.breaker,
            bulkhead: Some(bulkhead),
            budget: self.budget,
        }
    }

    /// With a retry budget.
    #[must_use]
    pub const fn with_budget<B2: RetryBudget>(
        self,
        budget: &'a SharedBudget<M, B2>,
    ) -> Policy<'a, M, W, Q, B2> {
        Policy {
            pipeline: self.pipeline,
            rng: self.rng,
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: Some(budget),
        }
    }

    /// The pipeline.
    pub const fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Runs `op` under the policy: `Err` results are failures, `Ok` successes.
    ///
    /// Cancel-safe: dropping the returned future at any point gives back every
    /// permit and queue place the call held.
    pub async fn call<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_with(&ErrorsFail, &mut (), op).await
    }

    /// Runs `op` under the policy, with a classifier (which results fail, which
    /// retry, server hints) and an [`Observer`] of every step.
    pub async fn call_with<T, E, F, Fut, C, O>(
        &self,
        classify: &C,
        observer: &mut O,
        mut op: F,
    ) -> Result<T, Error<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E> + ?Sized,
        O: Observer + ?Sized,
    {
        let now = time::now();
        observer.started(now);
        let mut run = Run {
            policy: *self,
            call: self.pipeline.start(now),
            queued: None,
        };
        let mut step = run.step(Input::Next, observer);
        let mut last: Option<Result<T, E>> = None;
        loop {
            match step {
                Step::Attempt { deadline, .. } => {
                    let result = match deadline {
                        Some(d) => with_deadline(time::to_embassy_instant(d), op()).await.ok(),
                        None => Some(op().await),
                    };
                    let verdict = match &result {
                        Some(r) => classify.classify(r),
                        None => Verdict::timed_out(),
                    };
                    last = result;
                    step = run.step(Input::Outcome(verdict), observer);
                }
                Step::Wait { until } => {
                    Timer::at(time::to_embassy_instant(until)).await;
                    step = run.step(Input::Next, observer);
                }
                Step::Queued { ticket, until } => {
                    run.wait_in_queue(ticket, until).await;
                    step = run.step(Input::Next, observer);
                }
                Step::Done(finish) => return answer(finish, last),
            }
        }
    }

    /// Locks the shared machines (breaker, then bulkhead, then budget) and
    /// lends them to `f`, with the bulkhead's waker slots.
    fn locked<R>(
        &self,
        f: impl FnOnce(&mut Shared<'_, Breaker<W>, Q, B>, Option<&mut shared::Waiters<Q>>) -> R,
    ) -> R {
        lock_opt(self.breaker.map(|b| &b.inner), |breaker| {
            lock_opt(self.bulkhead.map(|b| &b.inner), |pool| {
                lock_opt(self.budget.map(|b| &b.inner), |budget| {
                    let (bulkhead, waiters) = match pool {
                        Some(pool) => (Some(&mut pool.bulkhead), Some(&mut pool.waiters)),
                        None => (None, None),
                    };
                    let mut shared = Shared {
                        breaker,
                        bulkhead,
                        budget,
                    };
                    f(&mut shared, waiters)
                })
            })
        })
    }
}

/// Runs `f` on the value behind an optional shared machine's lock.
fn lock_opt<M: RawMutex, T, R>(
    mutex: Option<&Mutex<M, RefCell<T>>>,
    f: impl FnOnce(Option<&mut T>) -> R,
) -> R {
    match mutex {
        Some(mutex) => mutex.lock(|cell| f(Some(&mut cell.borrow_mut()))),
        None => f(None),
    }
}

/// The call's result from how the pipeline says it ended and the last
/// attempt's result.
fn answer<T, E>(finish: Finish, last: Option<Result<T, E>>) -> Result<T, Error<E>> {
    let error = |last: Option<Result<T, E>>| last.and_then(Result::err);
    match finish {
        Finish::Completed { attempts, outcome } => match last {
            Some(Ok(value)) => Ok(value),
            Some(Err(e)) => Err(Error::NotRetryable {
                attempts,
                error: Some(e),
            }),
            None if outcome == Outcome::TimedOut => Err(Error::TimedOut { attempts }),
            None => Err(Error::NotRetryable {
                attempts,
                error: None,
            }),
        },
        Finish::Failed(failure) => Err(Error::from_failure(failure, error(last))),
        Finish::Fallback(failure) => Err(Error::Fallback(failure)),
        // Only `abandon` cancels, and it runs when the future is dropped.
        Finish::Cancelled => Err(Error::TimedOut {
            attempts: finish.attempts(),
        }),
    }
}

/// One call in flight: the pipeline's `Call` and where it queues. Dropping it
/// before the call finished abandons the call under the locks.
struct Run<'a, M: RawMutex, W: Window, const Q: usize, B: RetryBudget> {
    policy: Policy<'a, M, W, Q, B>,
    call: Call,
    /// The ticket whose waker slot this call holds.
    queued: Option<Ticket>,
}

impl<M: RawMutex, W: Window, const Q: usize, B: RetryBudget> Run<'_, M, W, Q, B> {
    /// Feeds `input` to the pipeline at `now` under the locks; wakes the waiters
    /// it granted slots to; reports step and events to `observer` after unlocking.
    fn step<O: Observer + ?Sized>(&mut self, input: Input, observer: &mut O) -> Step {
        let now = time::now();
        let mut events = Events::new();
        let (policy, call, queued) = (self.policy, &mut self.call, &mut self.queued);
        let step = policy.locked(|shared, mut waiters| {
            let step = match input {
                Input::Next => call.next(now, shared),
                Input::Outcome(verdict) => policy
                    .rng
                    .inner
                    .lock(|rng| call.on_outcome(now, verdict, shared, &mut *rng.borrow_mut())),
                Input::Abandon => {
                    call.abandon(now, shared);
                    Step::Done(Finish::Cancelled)
                }
            };
            let ticket = match step {
                Step::Queued { ticket, .. } => Some(ticket),
                _ => None,
            };
            if let Some(w) = waiters.as_deref_mut() {
                if let Some(old) = *queued
                    && Some(old) != ticket
                {
                    w.leave(old);
                }
                if let Some(t) = ticket {
                    w.enter(t);
                }
            }
            *queued = ticket;
            while let Some(event) = call.poll_event() {
                if let (Event::Granted(t), Some(w)) = (event, waiters.as_deref_mut()) {
                    w.grant(t);
                }
                events.push(event);
            }
            step
        });
        observer.step(now, input, &step);
        while let Some(event) = events.pop() {
            log_event(now, &event);
            observer.event(now, &event);
        }
        step
    }

    /// Sleeps until the bulkhead hands this call its slot, or until `until`.
    async fn wait_in_queue(&self, ticket: Ticket, until: Instant) {
        let mut timer = Timer::at(time::to_embassy_instant(until));
        let pool = self.policy.bulkhead;
        poll_fn(|cx| {
            if Pin::new(&mut timer).poll(cx).is_ready() {
                return Poll::Ready(());
            }
            match pool {
                Some(pool) => pool
                    .inner
                    .lock(|cell| cell.borrow_mut().waiters.poll_grant(ticket, cx)),
                None => Poll::Ready(()),
            }
        })
        .await;
    }
}

impl<M: RawMutex, W: Window, const Q: usize, B: RetryBudget> Drop for Run<'_, M, W, Q, B> {
    fn drop(&mut self) {
        if !self.call.is_finished() {
            let _ = self.step(Input::Abandon, &mut ());
        }
    }
}

/// Logs an event with defmt (transitions and retries at `info`, the rest at
/// `debug`); nothing without the `defmt` feature.
#[cfg_attr(not(feature = "defmt"), allow(unused_variables))]
fn log_event(now: Instant, event: &Event) {
    #[cfg(feature = "defmt")]
    match event {
        Event::Breaker(t) => defmt::info!(
            "steadfast: breaker {} -> {} at {} us",
            t.from,
            t.to,
            t.at.as_micros()
        ),
        Event::Retry { attempt, delay, .. } => defmt::info!(
            "steadfast: retry, attempt {} in {} us (at {} us)",
            attempt,
            delay.as_micros(),
            now.as_micros()
        ),
        other => defmt::debug!("steadfast: {} at {} us", other, now.as_micros()),
    }
}
