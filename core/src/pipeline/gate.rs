//! Admission stages: machines each attempt passes last, after the breaker and
//! the bulkhead, just before it runs.

use crate::outcome::Outcome;
use crate::ratelimit::RateLimiter;
use crate::rng::Rng;
use crate::throttle::Drawn;
use crate::time::Instant;

use super::Reason;

/// A stage every attempt passes last, just before it runs (after the breaker
/// and the bulkhead), and hears back from when it ends: a
/// [`RateLimiter`], an adaptive throttle with its rng ([`Drawn`]), or two of
/// them in turn (`(A, B)`: `A` first; `B` is asked only when `A` admits).
///
/// The rules, the same on every runtime:
///
/// * An attempt the gate refuses does not run, and whatever the breaker and
///   the bulkhead granted it goes back.
/// * [`Reason::RateLimited`] with a `retry_at` is treated as a breaker's
///   rejection: the call waits for `retry_at` when a total deadline is set, a
///   whole attempt still fits before it and attempts remain (the refused
///   attempt counts as one); otherwise the call ends with that reason. Any
///   other refusal ([`Reason::Throttled`]) ends the call at once: there is no
///   time at which the same attempt is known to be admitted.
/// * An admitted attempt is reported exactly once: [`record`](Self::record)
///   with its outcome (an attempt past its own deadline as
///   [`Outcome::TimedOut`]), or [`cancel`](Self::cancel) when the caller gave
///   up on it (a dropped future, the caller's total deadline).
///
/// ```
/// use steadfast::outcome::Verdict;
/// use steadfast::pipeline::{self, Finish, Failure, Pipeline, Reason, Shared, Step};
/// use steadfast::ratelimit::{Config, RateLimiter};
/// use steadfast::retry;
/// use steadfast::time::Instant;
///
/// // One call a second, no burst: the second call in the same second is refused.
/// let mut limiter = RateLimiter::new(Config::per_second(1).with_burst(1))?;
/// let pipeline = Pipeline::new(pipeline::Config::DEFAULT)?;
/// let t = Instant::from_secs(10);
/// let mut first = pipeline.start(t);
/// let mut shared = Shared::new().with_gate(&mut limiter);
/// assert!(matches!(first.next(t, &mut shared), Step::Attempt { attempt: 1, .. }));
/// let mut second = pipeline.start(t);
/// let refused = Failure::new(Reason::RateLimited { retry_at: Some(Instant::from_secs(11)) }, 0);
/// assert_eq!(second.next(t, &mut shared), Step::Done(Finish::Failed(refused)));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
pub trait Gate {
    /// Admits the attempt about to run at `now`, or refuses it.
    ///
    /// # Errors
    ///
    /// The reason the attempt is refused: [`Reason::RateLimited`] or
    /// [`Reason::Throttled`].
    fn admit(&mut self, now: Instant) -> Result<(), Reason>;

    /// An admitted attempt ended at `now` with `outcome`.
    fn record(&mut self, outcome: Outcome, now: Instant);

    /// An admitted attempt was given up at `now` before its result: the
    /// caller's future was dropped, or the caller's own deadline cut it.
    fn cancel(&mut self, now: Instant);

    /// An admitted attempt will not run after all: a gate after this one
    /// refused it. Gives back whatever [`admit`](Self::admit) took that can
    /// be given back.
    fn withdraw(&mut self, now: Instant);
}

/// The gate type of a [`Shared`](super::Shared) without a gate. It has no
/// value, so `Shared::gate` is always `None` and a call links no gate code.
///
/// ```
/// use steadfast::pipeline::{NoBreaker, NoBulkhead, NoGate, Shared};
/// use steadfast::retry::Unlimited;
/// let shared: Shared<'_, NoBreaker, NoBulkhead, Unlimited, (), NoGate> = Shared::new();
/// assert!(shared.gate.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoGate {}

impl Gate for NoGate {
    fn admit(&mut self, _now: Instant) -> Result<(), Reason> {
        match *self {}
    }
    fn record(&mut self, _outcome: Outcome, _now: Instant) {
        match *self {}
    }
    fn cancel(&mut self, _now: Instant) {
        match *self {}
    }
    fn withdraw(&mut self, _now: Instant) {
        match *self {}
    }
}

/// Each attempt is one call to the limiter: a refusal is
/// [`Reason::RateLimited`] with the limiter's `retry_at`. An admitted attempt
/// has spent its place whatever happens to it next.
impl Gate for RateLimiter {
    #[inline]
    fn admit(&mut self, now: Instant) -> Result<(), Reason> {
        self.check(now).map_err(|refused| Reason::RateLimited {
            retry_at: refused.retry_at,
        })
    }
    #[inline]
    fn record(&mut self, _outcome: Outcome, _now: Instant) {}
    #[inline]
    fn cancel(&mut self, _now: Instant) {}
    #[inline]
    fn withdraw(&mut self, _now: Instant) {}
}

impl<const B: usize, R: Rng> Gate for Drawn<B, R> {
    fn admit(&mut self, now: Instant) -> Result<(), Reason> {
        self.throttle
            .admit(now, &mut self.rng)
            .map_err(|_| Reason::Throttled)
    }
    fn record(&mut self, outcome: Outcome, now: Instant) {
        self.throttle.record(!outcome.is_failure(), now);
    }
    fn cancel(&mut self, now: Instant) {
        self.throttle.record(false, now);
    }
    fn withdraw(&mut self, _now: Instant) {}
}

/// `A`, then `B`: an attempt runs only when both admit it; when `B` refuses,
/// `A` [withdraws](Gate::withdraw) its admission.
impl<A: Gate, B: Gate> Gate for (A, B) {
    fn admit(&mut self, now: Instant) -> Result<(), Reason> {
        self.0.admit(now)?;
        self.1.admit(now).inspect_err(|_| self.0.withdraw(now))
    }
    fn record(&mut self, outcome: Outcome, now: Instant) {
        self.0.record(outcome, now);
        self.1.record(outcome, now);
    }
    fn cancel(&mut self, now: Instant) {
        self.0.cancel(now);
        self.1.cancel(now);
    }
    fn withdraw(&mut self, now: Instant) {
        self.0.withdraw(now);
        self.1.withdraw(now);
    }
}

/// A stage that may be absent, chosen at run time: `None` admits every
/// attempt and hears nothing.
impl<T: Gate> Gate for Option<T> {
    #[inline]
    fn admit(&mut self, now: Instant) -> Result<(), Reason> {
        match self {
            Some(gate) => gate.admit(now),
            None => Ok(()),
        }
    }
    #[inline]
    fn record(&mut self, outcome: Outcome, now: Instant) {
        if let Some(gate) = self {
            gate.record(outcome, now);
        }
    }
    #[inline]
    fn cancel(&mut self, now: Instant) {
        if let Some(gate) = self {
            gate.cancel(now);
        }
    }
    #[inline]
    fn withdraw(&mut self, now: Instant) {
        if let Some(gate) = self {
            gate.withdraw(now);
        }
    }
}

impl<T: Gate + ?Sized> Gate for &mut T {
    #[inline]
    fn admit(&mut self, now: Instant) -> Result<(), Reason> {
        (**self).admit(now)
    }
    #[inline]
    fn record(&mut self, outcome: Outcome, now: Instant) {
        (**self).record(outcome, now);
    }
    #[inline]
    fn cancel(&mut self, now: Instant) {
        (**self).cancel(now);
    }
    #[inline]
    fn withdraw(&mut self, now: Instant) {
        (**self).withdraw(now);
    }
}
