//! Client-side admission on Embassy: a GCRA rate limiter and the SRE book's
//! adaptive throttling in front of an operation, each a core machine shared
//! by tasks from a `static`.
//!
//! * [`rate_limited`] asks a [`SharedRateLimiter`] when the call is first
//!   polled: refused, it answers [`Reason::RateLimited`] at once with the
//!   limiter's `retry_at` (the first instant the same call is admitted) and
//!   the operation is not called.
//! * [`throttled`] asks a [`SharedThrottle`] (drawing from its own seeded
//!   rng, so a run replays bit for bit): refused, it answers
//!   [`Reason::Throttled`]; admitted, the call counts as a request when it
//!   ends, accepted when the classifier calls its result anything but a
//!   failure. A call dropped before its answer is a request not accepted.
//!
//! The operation's own error comes back as [`Reason::Operation`] with it.
//!
//! ```
//! use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
//! use steadfast::ratelimit::{Config, RateLimiter};
//! use steadfast::throttle::{AdaptiveThrottle, Config as ThrottleConfig};
//! use steadfast::outcome::ErrorsFail;
//! use steadfast_embassy::admission::{SharedRateLimiter, SharedThrottle, rate_limited, throttled};
//!
//! // At most 10 uplinks a minute, bursts of 3.
//! static UPLINK: SharedRateLimiter<CriticalSectionRawMutex> =
//!     SharedRateLimiter::new(steadfast::valid!(RateLimiter::new(Config::per_minute(10).with_burst(3))));
//! static GATEWAY: SharedThrottle<CriticalSectionRawMutex> =
//!     SharedThrottle::new(steadfast::valid!(AdaptiveThrottle::new(ThrottleConfig::new())), 7);
//!
//! async fn post(reading: u16) -> Result<(), ()> {
//!     let _ = reading;
//!     Ok(())
//! }
//!
//! async fn report(reading: u16) -> Result<(), steadfast_embassy::Error<()>> {
//!     rate_limited(&UPLINK, || post(reading)).await
//! }
//!
//! async fn forward(reading: u16) -> Result<(), steadfast_embassy::Error<()>> {
//!     throttled(&GATEWAY, ErrorsFail, || post(reading)).await
//! }
//! # let _ = (report, forward);
//! ```

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use pin_project_lite::pin_project;
use steadfast::outcome::{Classify, ErrorsFail, Outcome};
use steadfast::pipeline::{Error, Gate, NoGate, Reason};
use steadfast::ratelimit::{RateLimiter, Refused};
use steadfast::throttle::{AdaptiveThrottle, Drawn};

use crate::shared::Held;
use crate::time::now;

/// A [`RateLimiter`] shared by tasks. `const fn new`, so it can be a `static`.
pub struct SharedRateLimiter<M: RawMutex> {
    inner: Mutex<M, Held<RateLimiter, ()>>,
}

impl<M: RawMutex> SharedRateLimiter<M> {
    /// Shares `limiter`.
    pub const fn new(limiter: RateLimiter) -> Self {
        Self {
            inner: Mutex::new(Held::new(limiter, ())),
        }
    }

    /// Runs `f` on the limiter under the lock; `None`, without running `f`,
    /// if it is already lent out.
    pub fn lock<R>(&self, f: impl FnOnce(&mut RateLimiter) -> R) -> Option<R> {
        self.inner.lock(|held| held.lend(f))
    }

    /// Admits one call now, or says when the same call would be.
    ///
    /// ```
    /// # use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    /// # use steadfast::ratelimit::{Config, RateLimiter};
    /// # use steadfast_embassy::admission::SharedRateLimiter;
    /// let l: SharedRateLimiter<NoopRawMutex> = SharedRateLimiter::new(RateLimiter::new(Config::per_minute(1).with_burst(1))?);
    /// assert!(l.check().is_ok());
    /// assert!(l.check().unwrap_err().retry_at.is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Refused`] with its `retry_at` (`None` also while the limiter is lent
    /// out).
    pub fn check(&self) -> Result<(), Refused> {
        let at = now();
        self.lock(|l| l.check(at))
            .unwrap_or(Err(Refused { retry_at: None }))
    }
}

impl<M: RawMutex> fmt::Debug for SharedRateLimiter<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRateLimiter").finish_non_exhaustive()
    }
}

/// An [`AdaptiveThrottle`] shared by tasks, with the seeded rng its
/// refusals are drawn from. `const fn new`, so it can be a `static`.
pub struct SharedThrottle<M: RawMutex, const B: usize = 12> {
    inner: Mutex<M, Held<Drawn<B>, ()>>,
}

impl<M: RawMutex, const B: usize> SharedThrottle<M, B> {
    /// Shares `throttle`, its refusals drawn from an rng seeded with `seed`.
    pub const fn new(throttle: AdaptiveThrottle<B>, seed: u64) -> Self {
        Self {
            inner: Mutex::new(Held::new(Drawn::new(throttle, seed), ())),
        }
    }

    /// Runs `f` on the throttle under the lock; `None`, without running `f`,
    /// if it is already lent out.
    pub fn lock<R>(&self, f: impl FnOnce(&mut AdaptiveThrottle<B>) -> R) -> Option<R> {
        self.inner.lock(|held| held.lend(|d| f(&mut d.throttle)))
    }
}

impl<M: RawMutex, const B: usize> fmt::Debug for SharedThrottle<M, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedThrottle").finish_non_exhaustive()
    }
}

/// A shared admission machine a [`Policy`](crate::Policy) lends each call
/// as its pipeline's [`Gate`], asked last by every attempt: a
/// `&`[`SharedRateLimiter`] ([`Policy::with_rate_limiter`](crate::Policy::with_rate_limiter)),
/// a `&`[`SharedThrottle`] ([`Policy::with_throttle`](crate::Policy::with_throttle)),
/// or `()`, none, the default, which links no gate code. Sealed.
pub trait Stage<M: RawMutex>: Copy + sealed::Sealed {
    /// The core machine lent to the pipeline.
    type Gate: Gate;
    /// Runs `f` with the machine under its lock (`None` for no gate); `None`
    /// without running `f` if the machine is already lent out.
    #[doc(hidden)]
    fn lend<R>(&self, f: impl FnOnce(Option<&mut Self::Gate>) -> Option<R>) -> Option<R>;
}

impl<M: RawMutex> Stage<M> for () {
    type Gate = NoGate;
    #[inline]
    fn lend<R>(&self, f: impl FnOnce(Option<&mut NoGate>) -> Option<R>) -> Option<R> {
        f(None)
    }
}

impl<M: RawMutex> Stage<M> for &SharedRateLimiter<M> {
    type Gate = RateLimiter;
    fn lend<R>(&self, f: impl FnOnce(Option<&mut RateLimiter>) -> Option<R>) -> Option<R> {
        self.inner.lock(|held| held.lend(|l| f(Some(l))))?
    }
}

impl<M: RawMutex, const B: usize> Stage<M> for &SharedThrottle<M, B> {
    type Gate = Drawn<B>;
    fn lend<R>(&self, f: impl FnOnce(Option<&mut Drawn<B>>) -> Option<R>) -> Option<R> {
        self.inner.lock(|held| held.lend(|d| f(Some(d))))?
    }
}

mod sealed {
    use super::{RawMutex, SharedRateLimiter, SharedThrottle};
    pub trait Sealed {}
    impl Sealed for () {}
    impl<M: RawMutex> Sealed for &SharedRateLimiter<M> {}
    impl<M: RawMutex, const B: usize> Sealed for &SharedThrottle<M, B> {}
}

/// A machine an operation passes before it runs and reports to when it
/// ends: a [`SharedRateLimiter`], a [`SharedThrottle`], a
/// [`SharedAdaptiveLimit`](crate::adaptive::SharedAdaptiveLimit).
pub trait Admission {
    /// What an admitted call holds until it ends (a slot, or nothing).
    type Ticket;
    /// Admits a call now, or says why not.
    ///
    /// # Errors
    ///
    /// The reason of the refusal.
    fn enter(&self) -> Result<Self::Ticket, Reason>;
    /// The admitted call ended with `outcome`.
    fn leave(&self, ticket: Self::Ticket, outcome: Outcome);
    /// The admitted call was dropped before its answer.
    fn abandon(&self, ticket: Self::Ticket);
}

impl<M: RawMutex> Admission for SharedRateLimiter<M> {
    type Ticket = ();
    fn enter(&self) -> Result<(), Reason> {
        let at = now();
        self.lock(|l| Gate::admit(l, at))
            .unwrap_or(Err(Reason::RateLimited { retry_at: None }))
    }
    fn leave(&self, (): (), outcome: Outcome) {
        let at = now();
        let _ = self.lock(|l| Gate::record(l, outcome, at));
    }
    fn abandon(&self, (): ()) {
        let at = now();
        let _ = self.lock(|l| Gate::cancel(l, at));
    }
}

impl<M: RawMutex, const B: usize> Admission for SharedThrottle<M, B> {
    type Ticket = ();
    fn enter(&self) -> Result<(), Reason> {
        let at = now();
        // Lent out (a call driven from inside `lock`): admitted, unheard.
        self.inner
            .lock(|held| held.lend(|d| d.admit(at)))
            .unwrap_or(Ok(()))
    }
    fn leave(&self, (): (), outcome: Outcome) {
        let at = now();
        let _ = self.inner.lock(|held| held.lend(|d| d.record(outcome, at)));
    }
    fn abandon(&self, (): ()) {
        let at = now();
        let _ = self.inner.lock(|held| held.lend(|d| d.cancel(at)));
    }
}

/// Runs `op` if `limiter` admits it now (see the [module docs](self)).
pub fn rate_limited<M, T, E, F, Fut>(
    limiter: &SharedRateLimiter<M>,
    op: F,
) -> Gated<'_, SharedRateLimiter<M>, F, Fut, ErrorsFail>
where
    M: RawMutex,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    gated(limiter, ErrorsFail, op)
}

/// Runs `op` if `throttle` admits it, telling it how the call ended (see
/// the [module docs](self)).
pub fn throttled<M, T, E, F, Fut, C, const B: usize>(
    throttle: &SharedThrottle<M, B>,
    classify: C,
    op: F,
) -> Gated<'_, SharedThrottle<M, B>, F, Fut, C>
where
    M: RawMutex,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    gated(throttle, classify, op)
}

/// Runs `op` if `gate` admits it, reporting how it ended, classified by
/// `classify` (what [`rate_limited`], [`throttled`] and
/// [`adaptive::limited`](crate::adaptive::limited) are).
pub fn gated<A, T, E, F, Fut, C>(gate: &A, classify: C, op: F) -> Gated<'_, A, F, Fut, C>
where
    A: Admission,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    Gated {
        op: Some(op),
        classify,
        fut: None,
        entry: Entry { gate, ticket: None },
        answered: false,
    }
}

/// The ticket of an admitted call, abandoned if the call is dropped before
/// its answer.
struct Entry<'a, A: Admission> {
    gate: &'a A,
    ticket: Option<A::Ticket>,
}

impl<A: Admission> Drop for Entry<'_, A> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.gate.abandon(ticket);
        }
    }
}

pin_project! {
    /// The future of an operation behind an [`Admission`] ([`gated`],
    /// [`rate_limited`], [`throttled`], [`adaptive::limited`](crate::adaptive::limited)).
    /// Polled after its answer, it stays pending.
    #[must_use = "futures do nothing unless polled"]
    pub struct Gated<'a, A: Admission, F, Fut, C> {
        op: Option<F>,
        classify: C,
        #[pin]
        fut: Option<Fut>,
        entry: Entry<'a, A>,
        answered: bool,
    }
}

impl<A: Admission, F, Fut, C> fmt::Debug for Gated<'_, A, F, Fut, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gated")
            .field("admitted", &self.entry.ticket.is_some())
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl<A, T, E, F, Fut, C> Future for Gated<'_, A, F, Fut, C>
where
    A: Admission,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.answered {
            return Poll::Pending;
        }
        if let Some(op) = this.op.take() {
            match this.entry.gate.enter() {
                Ok(ticket) => this.entry.ticket = Some(ticket),
                Err(reason) => {
                    *this.answered = true;
                    return Poll::Ready(Err(Error::new(reason, 0, None)));
                }
            }
            this.fut.set(Some(op()));
        }
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let result = core::task::ready!(fut.poll(cx));
        this.fut.set(None);
        *this.answered = true;
        if let Some(ticket) = this.entry.ticket.take() {
            let outcome = this.classify.classify(&result).outcome;
            this.entry.gate.leave(ticket, outcome);
        }
        Poll::Ready(result.map_err(|e| Error::new(Reason::Operation, 1, Some(e))))
    }
}
