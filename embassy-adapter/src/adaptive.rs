//! An adaptive concurrency limit on Embassy: a bulkhead whose capacity moves
//! with the dependency's latency and drops (the core's [`AdaptiveLimit`]:
//! AIMD or Vegas), shared by tasks from a `static`.
//!
//! [`limited`] runs one operation under it: a slot is taken when the call is
//! first polled (none free: `Reason::BulkheadFull`
//! at once, the operation not called, no queue), and given back when the
//! operation answers, with its round-trip time and its classified outcome
//! (a success is a sample, a failure or timeout a drop, an ignored outcome
//! nothing). A call dropped before its answer gives its slot back without a
//! sample: a cancelled caller says nothing about the dependency.
//!
//! ```
//! use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
//! use steadfast::adaptive::{AdaptiveLimit, Config};
//! use steadfast::outcome::ErrorsFail;
//! use steadfast_embassy::adaptive::{SharedAdaptiveLimit, limited};
//!
//! static MODEM: SharedAdaptiveLimit<CriticalSectionRawMutex> =
//!     SharedAdaptiveLimit::new(steadfast::valid!(AdaptiveLimit::new(Config::new().with_limits(4, 1, 16))));
//!
//! async fn send(frame: &[u8]) -> Result<usize, ()> {
//!     Ok(frame.len())
//! }
//!
//! async fn task() -> Result<usize, steadfast_embassy::Error<()>> {
//!     limited(&MODEM, ErrorsFail, || send(b"AT+CSQ")).await
//! }
//! # let _ = task;
//! ```

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use pin_project_lite::pin_project;
use steadfast::adaptive::{AdaptiveLimit, Permit};
use steadfast::outcome::Classify;
use steadfast::pipeline::{Error, Reason};

use crate::shared::{Held, View};
use crate::time::now;

/// The limit and the slots in use, as the last step left them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Figures {
    limit: u32,
    in_flight: u32,
}

impl View<Figures> for AdaptiveLimit {
    fn view(&self) -> Figures {
        Figures {
            limit: self.limit(),
            in_flight: self.in_flight(),
        }
    }
}

/// An [`AdaptiveLimit`] shared by tasks (and interrupts, with
/// `CriticalSectionRawMutex`). `const fn new`, so it can be a `static`.
pub struct SharedAdaptiveLimit<M: RawMutex> {
    inner: Mutex<M, Held<AdaptiveLimit, Figures>>,
}

impl<M: RawMutex> SharedAdaptiveLimit<M> {
    /// Shares `limit`.
    pub const fn new(limit: AdaptiveLimit) -> Self {
        let figures = Figures {
            limit: limit.limit(),
            in_flight: limit.in_flight(),
        };
        Self {
            inner: Mutex::new(Held::new(limit, figures)),
        }
    }

    /// Runs `f` on the limit under the lock; `None`, without running `f`, if
    /// it is already lent out (`f` of another `lock` locking it again).
    ///
    /// ```
    /// # use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    /// # use steadfast::adaptive::{AdaptiveLimit, Config};
    /// # use steadfast_embassy::adaptive::SharedAdaptiveLimit;
    /// let l: SharedAdaptiveLimit<NoopRawMutex> = SharedAdaptiveLimit::new(AdaptiveLimit::new(Config::new())?);
    /// assert_eq!(l.lock(|l| l.config().max()), Some(200));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn lock<R>(&self, f: impl FnOnce(&mut AdaptiveLimit) -> R) -> Option<R> {
        self.inner.lock(|held| held.lend(f))
    }

    /// How many calls it admits at once now.
    pub fn limit(&self) -> u32 {
        self.inner.lock(Held::view).limit
    }

    /// How many slots are taken.
    pub fn in_flight(&self) -> u32 {
        self.inner.lock(Held::view).in_flight
    }
}

impl<M: RawMutex> fmt::Debug for SharedAdaptiveLimit<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedAdaptiveLimit")
            .field("limit", &self.limit())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// Runs `op` under `limit` (see the [module docs](self)): the operation's
/// error comes back as [`Reason::Operation`] with it, a refusal as
/// [`Reason::BulkheadFull`] with no attempt.
pub fn limited<M, T, E, F, Fut, C>(
    limit: &SharedAdaptiveLimit<M>,
    classify: C,
    op: F,
) -> Limited<'_, M, F, Fut, C>
where
    M: RawMutex,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    Limited {
        op: Some(op),
        classify,
        fut: None,
        slot: Slot {
            limit,
            permit: None,
        },
        answered: false,
    }
}

/// The slot a call holds, given back without a sample if the call is
/// dropped before its answer.
struct Slot<'a, M: RawMutex> {
    limit: &'a SharedAdaptiveLimit<M>,
    permit: Option<Permit>,
}

impl<M: RawMutex> Drop for Slot<'_, M> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            let _ = self.limit.lock(|l| l.cancel(permit));
        }
    }
}

pin_project! {
    /// The future of [`limited`]. Polled after its answer, it stays pending.
    #[must_use = "futures do nothing unless polled"]
    pub struct Limited<'a, M: RawMutex, F, Fut, C> {
        op: Option<F>,
        classify: C,
        #[pin]
        fut: Option<Fut>,
        slot: Slot<'a, M>,
        answered: bool,
    }
}

impl<M: RawMutex, F, Fut, C> fmt::Debug for Limited<'_, M, F, Fut, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limited")
            .field("holds_slot", &self.slot.permit.is_some())
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl<M, T, E, F, Fut, C> Future for Limited<'_, M, F, Fut, C>
where
    M: RawMutex,
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
            let at = now();
            match this.slot.limit.lock(|l| l.try_acquire(at)) {
                Some(Ok(permit)) => {
                    this.slot.permit = Some(permit);
                    this.fut.set(Some(op()));
                }
                Some(Err(_)) | None => {
                    *this.answered = true;
                    return Poll::Ready(Err(Error::new(Reason::BulkheadFull, 0, None)));
                }
            }
        }
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let result = core::task::ready!(fut.poll(cx));
        this.fut.set(None);
        *this.answered = true;
        let outcome = this.classify.classify(&result).outcome;
        if let Some(permit) = this.slot.permit.take() {
            let at = now();
            let _ = this.slot.limit.lock(|l| l.record(permit, outcome, at));
        }
        Poll::Ready(result.map_err(|e| Error::new(Reason::Operation, 1, Some(e))))
    }
}
