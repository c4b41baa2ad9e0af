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

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use steadfast::adaptive::{AdaptiveLimit, Permit};
use steadfast::outcome::{Classify, Outcome};
use steadfast::pipeline::Reason;

use crate::admission::{Admission, Gated, gated};

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

impl<M: RawMutex> Admission for SharedAdaptiveLimit<M> {
    type Ticket = Permit;
    fn enter(&self) -> Result<Permit, Reason> {
        let at = now();
        match self.lock(|l| l.try_acquire(at)) {
            Some(Ok(permit)) => Ok(permit),
            Some(Err(_)) | None => Err(Reason::BulkheadFull),
        }
    }
    fn leave(&self, permit: Permit, outcome: Outcome) {
        let at = now();
        let _ = self.lock(|l| l.record(permit, outcome, at));
    }
    fn abandon(&self, permit: Permit) {
        let _ = self.lock(|l| l.cancel(permit));
    }
}

/// Runs `op` under `limit` (see the [module docs](self)): the operation's
/// error comes back as [`Reason::Operation`] with it, a refusal as
/// [`Reason::BulkheadFull`] with no attempt.
pub fn limited<M, T, E, F, Fut, C>(
    limit: &SharedAdaptiveLimit<M>,
    classify: C,
    op: F,
) -> Gated<'_, SharedAdaptiveLimit<M>, F, Fut, C>
where
    M: RawMutex,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
{
    gated(limit, classify, op)
}
