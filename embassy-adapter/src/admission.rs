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
use steadfast::outcome::Classify;
use steadfast::pipeline::{Error, Reason};
use steadfast::ratelimit::{RateLimiter, Refused};
use steadfast::rng::SplitMix64;
use steadfast::throttle::{AdaptiveThrottle, Throttled};

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
    inner: Mutex<M, Held<(AdaptiveThrottle<B>, SplitMix64), ()>>,
}

impl<M: RawMutex, const B: usize> SharedThrottle<M, B> {
    /// Shares `throttle`, its refusals drawn from an rng seeded with `seed`.
    pub const fn new(throttle: AdaptiveThrottle<B>, seed: u64) -> Self {
        Self {
            inner: Mutex::new(Held::new((throttle, SplitMix64::new(seed)), ())),
        }
    }

    /// Runs `f` on the throttle under the lock; `None`, without running `f`,
    /// if it is already lent out.
    pub fn lock<R>(&self, f: impl FnOnce(&mut AdaptiveThrottle<B>) -> R) -> Option<R> {
        self.inner.lock(|held| held.lend(|(t, _)| f(t)))
    }
}

impl<M: RawMutex, const B: usize> fmt::Debug for SharedThrottle<M, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedThrottle").finish_non_exhaustive()
    }
}

/// What [`throttled`] admits through: a [`SharedThrottle`].
pub trait Gate {
    /// Admits a call now, or refuses it locally.
    ///
    /// # Errors
    ///
    /// [`Throttled`], drawn at the throttle's refusal probability.
    fn admit(&self) -> Result<(), Throttled>;
    /// An admitted call ended, `accepted` by the dependency or not.
    fn record(&self, accepted: bool);
}

impl<M: RawMutex, const B: usize> Gate for SharedThrottle<M, B> {
    fn admit(&self) -> Result<(), Throttled> {
        let at = now();
        self.inner
            .lock(|held| held.lend(|(t, rng)| t.admit(at, rng)))
            .unwrap_or(Ok(()))
    }
    fn record(&self, accepted: bool) {
        let at = now();
        let _ = self
            .inner
            .lock(|held| held.lend(|(t, _)| t.record(accepted, at)));
    }
}

/// Runs `op` if `limiter` admits it now (see the [module docs](self)).
pub fn rate_limited<M, T, E, F, Fut>(
    limiter: &SharedRateLimiter<M>,
    op: F,
) -> RateLimited<'_, M, F, Fut>
where
    M: RawMutex,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    RateLimited {
        limiter,
        op: Some(op),
        fut: None,
        answered: false,
    }
}

pin_project! {
    /// The future of [`rate_limited`]. Polled after its answer, it stays pending.
    #[must_use = "futures do nothing unless polled"]
    pub struct RateLimited<'a, M: RawMutex, F, Fut> {
        limiter: &'a SharedRateLimiter<M>,
        op: Option<F>,
        #[pin]
        fut: Option<Fut>,
        answered: bool,
    }
}

impl<M: RawMutex, F, Fut> fmt::Debug for RateLimited<'_, M, F, Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited")
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl<M, T, E, F, Fut> Future for RateLimited<'_, M, F, Fut>
where
    M: RawMutex,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.answered {
            return Poll::Pending;
        }
        if let Some(op) = this.op.take() {
            if let Err(refused) = this.limiter.check() {
                *this.answered = true;
                let reason = Reason::RateLimited {
                    retry_at: refused.retry_at,
                };
                return Poll::Ready(Err(Error::new(reason, 0, None)));
            }
            this.fut.set(Some(op()));
        }
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let result = core::task::ready!(fut.poll(cx));
        this.fut.set(None);
        *this.answered = true;
        Poll::Ready(result.map_err(|e| Error::new(Reason::Operation, 1, Some(e))))
    }
}

/// Runs `op` if `throttle` admits it, telling it how the call ended (see
/// the [module docs](self)).
pub fn throttled<G, T, E, F, Fut, C>(
    throttle: &G,
    classify: C,
    op: F,
) -> ThrottledCall<'_, G, F, Fut, C>
where
    G: Gate,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    ThrottledCall {
        op: Some(op),
        classify,
        fut: None,
        admitted: Admitted {
            gate: throttle,
            open: false,
        },
        answered: false,
    }
}

/// An admitted call not yet recorded: dropped, it is a request not accepted.
struct Admitted<'a, G: Gate> {
    gate: &'a G,
    open: bool,
}

impl<G: Gate> Admitted<'_, G> {
    fn record(&mut self, accepted: bool) {
        if core::mem::take(&mut self.open) {
            self.gate.record(accepted);
        }
    }
}

impl<G: Gate> Drop for Admitted<'_, G> {
    fn drop(&mut self) {
        self.record(false);
    }
}

pin_project! {
    /// The future of [`throttled`]. Polled after its answer, it stays pending.
    #[must_use = "futures do nothing unless polled"]
    pub struct ThrottledCall<'a, G: Gate, F, Fut, C> {
        op: Option<F>,
        classify: C,
        #[pin]
        fut: Option<Fut>,
        admitted: Admitted<'a, G>,
        answered: bool,
    }
}

impl<G: Gate, F, Fut, C> fmt::Debug for ThrottledCall<'_, G, F, Fut, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottledCall")
            .field("admitted", &self.admitted.open)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl<G, T, E, F, Fut, C> Future for ThrottledCall<'_, G, F, Fut, C>
where
    G: Gate,
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
            if this.admitted.gate.admit().is_err() {
                *this.answered = true;
                return Poll::Ready(Err(Error::new(Reason::Throttled, 0, None)));
            }
            this.admitted.open = true;
            this.fut.set(Some(op()));
        }
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let result = core::task::ready!(fut.poll(cx));
        this.fut.set(None);
        *this.answered = true;
        let accepted = !this.classify.classify(&result).outcome.is_failure();
        this.admitted.record(accepted);
        Poll::Ready(result.map_err(|e| Error::new(Reason::Operation, 1, Some(e))))
    }
}
