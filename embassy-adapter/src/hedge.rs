//! Hedged calls on Embassy: when an attempt has not answered after the
//! core [`Hedger`]'s delay, another starts beside it, in the same future; the
//! first success answers and the other attempts are dropped (cancelled).
//!
//! The core decides everything: when a hedge is due ([`Plan::poll`], paid
//! from an optional retry budget as a retry after a timeout), what an answer
//! means ([`Plan::on_answer`]: a success wins; a failure waits for the
//! attempts still running and answers when none is), what the budget learns
//! ([`Plan::finish`]); every answer's latency goes to the shared hedger, so a
//! percentile delay follows the dependency. This module only starts
//! attempts, sleeps until the next hedge is due and drops the losers.
//!
//! The attempts live inside the call's future, without allocation: `H`
//! ([`Hedges`], 1 to 4) places beside the first attempt, each the size of
//! the operation's future. A hedger configured for more hedges than the
//! future has places starts no more than it has. Only for operations safe to
//! repeat.
//!
//! ```
//! use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
//! use steadfast::hedge::{Config, Delay, Hedger};
//! use steadfast::outcome::ErrorsFail;
//! use steadfast::time::Duration;
//! use steadfast_embassy::hedge::{SharedHedger, hedged};
//!
//! static HEDGER: SharedHedger<CriticalSectionRawMutex> = SharedHedger::new(steadfast::valid!(Hedger::new(
//!     Config::new().with_delay(Delay::Fixed(Duration::from_millis(20))).with_max_hedges(1)
//! )));
//!
//! async fn read_register() -> Result<u16, ()> {
//!     Ok(0x2A)
//! }
//!
//! async fn read() -> Result<u16, ()> {
//!     // Up to one more read beside the first after 20 ms; the first good one answers.
//!     hedged::<_, _, _, _, _, _, 1>(&HEDGER, ErrorsFail, read_register).await
//! }
//! # let _ = read;
//! ```

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::Timer;
use pin_project_lite::pin_project;
use steadfast::hedge::{Answer, Hedge, Hedger, Plan};
use steadfast::outcome::Classify;
use steadfast::retry::{RetryBudget, Unlimited};
use steadfast::time::{Duration, Instant};

use crate::SharedBudget;
use crate::shared::Held;
use crate::time::{now, to_embassy_instant};

/// A [`Hedger`] shared by tasks: the hedging rules and the latencies they
/// learn. `const fn new`, so it can be a `static`.
pub struct SharedHedger<M: RawMutex, const B: usize = 32> {
    inner: Mutex<M, Held<Hedger<B>, ()>>,
}

impl<M: RawMutex, const B: usize> SharedHedger<M, B> {
    /// Shares `hedger`.
    pub const fn new(hedger: Hedger<B>) -> Self {
        Self {
            inner: Mutex::new(Held::new(hedger, ())),
        }
    }

    /// Runs `f` on the hedger under the lock; `None`, without running `f`,
    /// if the hedger is already lent out (`f` of another `lock` locking it
    /// again).
    ///
    /// ```
    /// # use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    /// # use steadfast::hedge::{Config, Hedger};
    /// # use steadfast_embassy::hedge::SharedHedger;
    /// let h: SharedHedger<NoopRawMutex> = SharedHedger::new(Hedger::new(Config::DEFAULT)?);
    /// assert_eq!(h.lock(|h| h.config().max_hedges()), Some(1));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn lock<R>(&self, f: impl FnOnce(&mut Hedger<B>) -> R) -> Option<R> {
        self.inner.lock(|held| held.lend(f))
    }

    /// The hedge delay now (`None` while the hedger is lent out).
    pub fn delay(&self) -> Option<Duration> {
        self.lock(|h| h.delay())
    }
}

impl<M: RawMutex, const B: usize> fmt::Debug for SharedHedger<M, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedHedger")
            .field("delay", &self.delay())
            .finish()
    }
}

/// Where a hedged call takes its plan and leaves its latencies: a
/// [`SharedHedger`].
pub trait HedgeRules {
    /// The plan of a call starting at `now`; `None` when the hedger is lent
    /// out (the call then runs one attempt).
    fn plan(&self, now: Instant) -> Option<Plan>;
    /// Learns one answer's latency.
    fn learn(&self, latency: Duration);
}

impl<M: RawMutex, const B: usize> HedgeRules for SharedHedger<M, B> {
    fn plan(&self, now: Instant) -> Option<Plan> {
        self.lock(|h| h.start(now))
    }
    fn learn(&self, latency: Duration) {
        let _ = self.lock(|h| h.record(latency));
    }
}

/// What pays for a hedged call's hedges: a [`SharedBudget`], or
/// [`NoBudget`].
pub trait HedgeBudget {
    /// The hedge due at `now`, if this pays for it ([`Plan::poll`]).
    fn pay(&self, plan: &mut Plan, now: Instant) -> Option<Hedge>;
    /// The call ended ([`Plan::finish`]).
    fn settle(&self, plan: Plan, won: Option<u8>, now: Instant);
}

/// Every hedge the cap allows is paid.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoBudget;

impl HedgeBudget for NoBudget {
    fn pay(&self, plan: &mut Plan, now: Instant) -> Option<Hedge> {
        plan.poll(now, &mut Unlimited)
    }
    fn settle(&self, plan: Plan, won: Option<u8>, now: Instant) {
        plan.finish(won, now, &mut Unlimited);
    }
}

impl<M: RawMutex, Bu: RetryBudget> HedgeBudget for SharedBudget<M, Bu> {
    fn pay(&self, plan: &mut Plan, now: Instant) -> Option<Hedge> {
        self.lock(|b| plan.poll(now, b)).flatten()
    }
    fn settle(&self, plan: Plan, won: Option<u8>, now: Instant) {
        let _ = self.lock(|b| plan.finish(won, now, b));
    }
}

/// How many hedges a call's future has room for beside its first attempt:
/// `Hedges<1>` to `Hedges<4>` (the core's cap).
#[derive(Clone, Copy, Debug, Default)]
pub struct Hedges<const H: usize>;

/// The places of a hedged call's attempts, for a [`Hedges`] count.
pub trait Room<Fut: Future> {
    /// The attempts' places.
    type Places: Places<Fut>;
    /// Empty places.
    fn places() -> Self::Places;
}

/// The pinned places of a hedged call's attempts (an implementation detail
/// of [`Hedged`], nested one in another).
pub trait Places<Fut: Future> {
    /// How many places.
    const LEN: u8;
    /// Puts `fut` in place `index`.
    fn start(self: Pin<&mut Self>, index: u8, fut: Fut);
    /// Polls every running attempt from place `base` on; the first that
    /// answers leaves its place.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>, base: u8) -> Poll<(u8, Fut::Output)>;
    /// Drops every running attempt.
    fn cancel(self: Pin<&mut Self>);
}

/// No place.
#[derive(Debug)]
pub struct NoPlace;

impl<Fut: Future> Places<Fut> for NoPlace {
    const LEN: u8 = 0;
    fn start(self: Pin<&mut Self>, _: u8, _: Fut) {}
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>, _: u8) -> Poll<(u8, Fut::Output)> {
        Poll::Pending
    }
    fn cancel(self: Pin<&mut Self>) {}
}

pin_project! {
    /// One attempt's place, then the others.
    #[derive(Debug)]
    pub struct Place<Fut, R> {
        #[pin]
        here: Option<Fut>,
        #[pin]
        rest: R,
    }
}

impl<Fut, R> Place<Fut, R> {
    const fn new(rest: R) -> Self {
        Self { here: None, rest }
    }
}

impl<Fut: Future, R: Places<Fut>> Places<Fut> for Place<Fut, R> {
    const LEN: u8 = 1 + R::LEN;

    fn start(self: Pin<&mut Self>, index: u8, fut: Fut) {
        let mut this = self.project();
        match index.checked_sub(1) {
            None => this.here.set(Some(fut)),
            Some(rest) => this.rest.start(rest, fut),
        }
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>, base: u8) -> Poll<(u8, Fut::Output)> {
        let mut this = self.project();
        if let Some(fut) = this.here.as_mut().as_pin_mut()
            && let Poll::Ready(out) = fut.poll(cx)
        {
            this.here.set(None);
            return Poll::Ready((base, out));
        }
        this.rest.poll_next(cx, base.saturating_add(1))
    }

    fn cancel(self: Pin<&mut Self>) {
        let mut this = self.project();
        this.here.set(None);
        this.rest.cancel();
    }
}

type P1<F> = Place<F, Place<F, NoPlace>>;
type P2<F> = Place<F, P1<F>>;
type P3<F> = Place<F, P2<F>>;
type P4<F> = Place<F, P3<F>>;

impl<Fut: Future> Room<Fut> for Hedges<1> {
    type Places = P1<Fut>;
    fn places() -> Self::Places {
        Place::new(Place::new(NoPlace))
    }
}

impl<Fut: Future> Room<Fut> for Hedges<2> {
    type Places = P2<Fut>;
    fn places() -> Self::Places {
        Place::new(<Hedges<1> as Room<Fut>>::places())
    }
}

impl<Fut: Future> Room<Fut> for Hedges<3> {
    type Places = P3<Fut>;
    fn places() -> Self::Places {
        Place::new(<Hedges<2> as Room<Fut>>::places())
    }
}

impl<Fut: Future> Room<Fut> for Hedges<4> {
    type Places = P4<Fut>;
    fn places() -> Self::Places {
        Place::new(<Hedges<3> as Room<Fut>>::places())
    }
}

/// Runs `op` hedged by `hedger`'s rules, every hedge allowed by its cap (and
/// the `H` places of the future): see the [module docs](self). `classify`
/// tells a success (which wins) from a failure.
pub fn hedged<'a, S, T, E, F, Fut, C, const H: usize>(
    hedger: &'a S,
    classify: C,
    op: F,
) -> Hedged<'a, S, NoBudget, F, Fut, C, <Hedges<H> as Room<Fut>>::Places>
where
    S: HedgeRules,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    Hedges<H>: Room<Fut>,
{
    Hedged::new(
        hedger,
        &NoBudget,
        classify,
        op,
        <Hedges<H> as Room<Fut>>::places(),
    )
}

/// Like [`hedged`], each hedge paid from `budget` (a retry after a timeout:
/// a refusal ends the call's hedging), a winning hedge reported to it as a
/// successful retry.
pub fn hedged_with_budget<'a, S, Y, T, E, F, Fut, C, const H: usize>(
    hedger: &'a S,
    budget: &'a Y,
    classify: C,
    op: F,
) -> Hedged<'a, S, Y, F, Fut, C, <Hedges<H> as Room<Fut>>::Places>
where
    S: HedgeRules,
    Y: HedgeBudget,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    Hedges<H>: Room<Fut>,
{
    Hedged::new(
        hedger,
        budget,
        classify,
        op,
        <Hedges<H> as Room<Fut>>::places(),
    )
}

pin_project! {
    /// The future of a hedged call ([`hedged`], [`hedged_with_budget`]): its
    /// attempts in place, the timer of the next hedge. Dropping it drops
    /// every attempt. Polled after its answer, it stays pending.
    #[must_use = "futures do nothing unless polled"]
    pub struct Hedged<'a, S, Y, F, Fut, C, P> {
        hedger: &'a S,
        budget: &'a Y,
        classify: C,
        op: F,
        // `None` after the answer, or when the hedger was lent out as the call
        // began (it then runs one attempt).
        plan: Option<Plan>,
        begun: bool,
        answered: bool,
        running: u8,
        started: [Instant; 5],
        timer: Option<Timer>,
        #[pin]
        places: P,
        _fut: core::marker::PhantomData<fn() -> Fut>,
    }
}

impl<'a, S, Y, F, Fut, C, P> Hedged<'a, S, Y, F, Fut, C, P> {
    fn new(hedger: &'a S, budget: &'a Y, classify: C, op: F, places: P) -> Self {
        Self {
            hedger,
            budget,
            classify,
            op,
            plan: None,
            begun: false,
            answered: false,
            running: 0,
            started: [Instant::ZERO; 5],
            timer: None,
            places,
            _fut: core::marker::PhantomData,
        }
    }
}

impl<S, Y, F, Fut, C, P> fmt::Debug for Hedged<'_, S, Y, F, Fut, C, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedged")
            .field("running", &self.running)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl<S, Y, T, E, F, Fut, C, P> Future for Hedged<'_, S, Y, F, Fut, C, P>
where
    S: HedgeRules,
    Y: HedgeBudget,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    P: Places<Fut>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.answered {
            return Poll::Pending;
        }
        if !*this.begun {
            let at = now();
            *this.begun = true;
            *this.plan = this.hedger.plan(at);
            this.places.as_mut().start(0, (this.op)());
            this.started[0] = at;
            *this.running = 1;
        }
        loop {
            while let Poll::Ready((index, result)) = this.places.as_mut().poll_next(cx, 0) {
                let at = now();
                *this.running = this.running.saturating_sub(1);
                let began = this.started.get(usize::from(index)).copied().unwrap_or(at);
                this.hedger.learn(at.saturating_duration_since(began));
                let outcome = this.classify.classify(&result).outcome;
                let won = match this
                    .plan
                    .as_ref()
                    .map(|p| p.on_answer(outcome, *this.running))
                {
                    Some(Answer::Wait) => continue,
                    Some(Answer::Win) => Some(index),
                    Some(Answer::Fail) | None => None,
                };
                this.places.as_mut().cancel();
                *this.running = 0;
                *this.answered = true;
                *this.timer = None;
                if let Some(plan) = this.plan.take() {
                    this.budget.settle(plan, won, at);
                }
                return Poll::Ready(result);
            }
            // Every running attempt is pending: start the hedge that is due,
            // or sleep until it is.
            let Some(plan) = this.plan.as_mut() else {
                return Poll::Pending;
            };
            let room = plan.started() < P::LEN.saturating_sub(1);
            let Some(due) = plan.next_at().filter(|_| room) else {
                *this.timer = None;
                return Poll::Pending;
            };
            let at = now();
            if at < due {
                let timer = this
                    .timer
                    .get_or_insert_with(|| Timer::at(to_embassy_instant(due)));
                if Pin::new(timer).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                *this.timer = None;
                continue;
            }
            *this.timer = None;
            let Some(hedge) = this.budget.pay(plan, at) else {
                // Refused by the budget: no more hedges for this call.
                continue;
            };
            if let Some(slot) = this.started.get_mut(usize::from(hedge.number)) {
                *slot = at;
            }
            this.places.as_mut().start(hedge.number, (this.op)());
            *this.running = this.running.saturating_add(1);
        }
    }
}
