//! [`BulkheadLayer`]: a [`SharedBulkhead`] around a service.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use steadfast::bulkhead::{Acquire, Claim, Permit, Ticket};
use steadfast::pipeline::Reason;
use steadfast::time::Instant;
use tower::{Layer, Service};

use super::report::Report;
use super::{Direct, Stacked, Stacking};
use crate::bulkhead::Machine;
use crate::{Error, Observer, SharedBulkhead, time};

/// Whether an observer watches the bulkhead (no lending then: every
/// request's step is reported).
fn watched(report: Option<&Report>) -> bool {
    report.and_then(Report::watch).is_some()
}

/// Publishes the bulkhead's (in flight, queued) under its lock when an
/// observer watches it: `true` then, to report them once the lock is
/// released ([`report_occupancy`]).
fn occupancy(report: Option<&Report>, machine: &Machine) -> bool {
    report
        .and_then(Report::watch)
        .map(|watch| watch.publish(machine.in_flight(), machine.queued()))
        .is_some()
}

/// Nobody waits, not even a granted waiter yet to claim its slot.
fn nobody_waits(machine: &Machine) -> bool {
    machine.queued() == 0 && machine.reserved() == 0
}

/// The time a step of `machine` is given: the clock only when the step can
/// use it. While nobody waits, taking a free slot and giving a permit back
/// only keep the highest time seen (the clock-max rule), which the monotonic
/// clock keeps anyway; they get [`Instant::ZERO`] (`max(ZERO, highest)` is
/// the highest) and the request reads no clock.
fn time_for(clock_free: bool) -> Instant {
    if clock_free {
        Instant::ZERO
    } else {
        time::now()
    }
}

/// Tells the observer the bulkhead's latest (in flight, queued), when
/// [`occupancy`] published them.
fn report_occupancy(report: Option<&Report>, published: bool) {
    if let (true, Some(watch)) = (published, report.and_then(Report::watch)) {
        watch.report();
    }
}

/// Bounds the requests in flight with a [`SharedBulkhead`]: see
/// [`BulkheadService`] for the rules.
///
/// ```
/// use steadfast::bulkhead::Config;
/// use steadfast::time::Duration;
/// use steadfast_std::{Error, SharedBulkhead};
/// use steadfast_std::tower::BulkheadLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     // One slot, no queue.
///     let pool = SharedBulkhead::new("reports", Config::DEFAULT.with_max_concurrent(1).with_max_queue(0).with_max_wait(Duration::ZERO))?;
///     let mut svc = BulkheadLayer::new(pool.clone())
///         .layer(service_fn(|_: ()| std::future::pending::<Result<(), ()>>()));
///     let first = svc.ready().await.unwrap().call(()); // holds the slot
///     assert_eq!(pool.in_flight(), 1);
///     assert_eq!(svc.ready().await.unwrap().call(()).await, Err(Error::bulkhead_full()));
///     drop(first); // dropped: the slot comes back
///     assert_eq!(pool.in_flight(), 0);
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct BulkheadLayer<M = Direct> {
    bulkhead: SharedBulkhead,
    report: Option<Report>,
    /// Off: every request passes without a slot (a disabled registry's layers).
    off: bool,
    mode: PhantomData<fn() -> M>,
}

impl BulkheadLayer {
    /// A layer taking slots from `bulkhead` (a handle: every service built
    /// from this layer, and every other clone, shares its slots and queue).
    ///
    /// ```
    /// # use steadfast_std::{SharedBulkhead, tower::BulkheadLayer};
    /// let layer = BulkheadLayer::new(SharedBulkhead::new("pool", Default::default())?);
    /// assert_eq!(layer.bulkhead().available(), 10);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(bulkhead: SharedBulkhead) -> Self {
        Self {
            bulkhead,
            report: None,
            off: false,
            mode: PhantomData,
        }
    }

    /// For a bulkhead over other steadfast layers: their [`Error`] passes
    /// through unchanged and a refusal joins it ([`Error::bulkhead_full`],
    /// [`Error::queue_timeout`]), so the stack answers one error type
    /// ([`Stacking`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::{Error, SharedBulkhead};
    /// use steadfast_std::tower::{BulkheadLayer, TimeoutLayer};
    /// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     tokio::time::pause();
    ///     let pool = SharedBulkhead::new("db", Default::default())?;
    ///     let mut svc = ServiceBuilder::new()
    ///         .layer(BulkheadLayer::new(pool).stacked())
    ///         .layer(TimeoutLayer::new(Duration::from_millis(20)))
    ///         .service(service_fn(|_: ()| std::future::pending::<Result<(), std::io::Error>>()));
    ///     let answer: Result<(), Error<std::io::Error>> = svc.ready().await?.call(()).await;
    ///     assert_eq!(answer.unwrap_err().reason(), steadfast::pipeline::Reason::AttemptTimedOut);
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn stacked(self) -> BulkheadLayer<Stacked> {
        BulkheadLayer {
            bulkhead: self.bulkhead,
            report: self.report,
            off: self.off,
            mode: PhantomData,
        }
    }
}

impl<M> BulkheadLayer<M> {
    /// The same layer letting every request through without a slot (what a
    /// disabled registry hands out).
    pub(crate) fn passing(mut self) -> Self {
        self.off = true;
        self
    }

    /// Reports to `observer`, under the bulkhead's name (as the policy name
    /// the observer sees): every request the bulkhead refuses (full at once,
    /// or its queue wait expired: `bulkhead_rejections_total`, a `DEBUG`
    /// line), and the slots in flight and waiters queued after each request
    /// takes, waits for or gives back a slot ([`Observer::on_bulkhead`]) — so
    /// the `metrics` and `tracing` observers ([`observe`](crate::observe))
    /// show the tower path as they show [`Policy`](crate::Policy)'s. Registers
    /// the series at once ([`Observer::on_register`]). The occupancy is
    /// reported outside the bulkhead's lock, one report at a time for every
    /// layer and policy reporting this bulkhead to the same observer, each
    /// reading the latest: once requests stop, the last report is the
    /// bulkhead's occupancy.
    /// `Registry::bulkhead_layer` gives a layer reporting to the registry's
    /// observer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # use steadfast_std::{SharedBulkhead, tower::BulkheadLayer};
    /// let layer = BulkheadLayer::new(SharedBulkhead::new("pool", Default::default())?)
    ///     .with_observer(Arc::new(steadfast_std::observe::Standard));
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.report = Some(Report::bulkhead(observer, &self.bulkhead));
        self
    }

    /// The bulkhead.
    ///
    /// ```
    /// # use steadfast_std::{SharedBulkhead, tower::BulkheadLayer};
    /// let layer = BulkheadLayer::new(SharedBulkhead::new("pool", Default::default())?);
    /// assert_eq!(layer.bulkhead().name(), "pool");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn bulkhead(&self) -> &SharedBulkhead {
        &self.bulkhead
    }
}

impl<S, M> Layer<S> for BulkheadLayer<M> {
    type Service = BulkheadService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService {
            inner,
            bulkhead: self.bulkhead.clone(),
            report: self.report.clone(),
            off: self.off,
            mode: PhantomData,
        }
    }
}

/// A service whose requests hold a [`SharedBulkhead`] slot while they run.
///
/// * **Admission in `call`** (`poll_ready` is the inner service's): a free
///   slot is taken at once and the inner service called. With every slot
///   taken the request joins the bulkhead's FIFO queue and the inner service
///   is called only once the slot is granted; a full queue (or a queue of 0,
///   or a max wait of 0) answers [`Error::bulkhead_full()`] at once, and so does
///   a wait that reaches the bulkhead's `max_wait` (inclusive) unserved.
///   Waiting requests are never overtaken by newcomers.
/// * **Without the lock** while nobody waits (and no observer watches the
///   bulkhead: [`BulkheadLayer::with_observer`] reports every request's
///   occupancy, read under the lock): a request that took its slot under
///   the lock lends the free ones to the bulkhead's lock-free path, where
///   the next requests take and give back slots with one compare-and-swap
///   each (see [`SharedBulkhead`]'s module, [`crate::bulkhead`]).
/// * **Release**: the slot is released when the response future completes,
///   or when it is dropped — whether it was running, queued, or granted and
///   not yet resumed (a granted slot passes on to the next waiter). Under any
///   cancellation pattern `in_flight()` returns to 0.
/// * A queued request keeps the already-ready inner service (`S: Clone`: the
///   service keeps a clone, as `tower::buffer` and friends do) and its request
///   until its turn; a request admitted at once clones nothing.
/// * No allocation per request on the immediate path. (Parking a queued
///   request's waker uses the bulkhead's waiter table.)
///
/// ```
/// use steadfast_std::SharedBulkhead;
/// use steadfast_std::tower::BulkheadService;
/// use tower::{Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let pool = SharedBulkhead::new("pool", Default::default())?;
///     let mut svc = BulkheadService::new(service_fn(|n: u8| async move { Ok::<_, ()>(n) }), pool.clone());
///     assert_eq!(svc.ready().await.unwrap().call(9).await, Ok(9));
///     assert_eq!(pool.stats().released, 1);
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct BulkheadService<S, M = Direct> {
    inner: S,
    bulkhead: SharedBulkhead,
    report: Option<Report>,
    off: bool,
    mode: PhantomData<fn() -> M>,
}

impl<S> BulkheadService<S> {
    /// Wraps `inner`.
    ///
    /// ```
    /// # use steadfast_std::{SharedBulkhead, tower::BulkheadService};
    /// let svc = BulkheadService::new(7_u8, SharedBulkhead::new("pool", Default::default())?);
    /// assert_eq!(svc.bulkhead().name(), "pool");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(inner: S, bulkhead: SharedBulkhead) -> Self {
        Self {
            inner,
            bulkhead,
            report: None,
            off: false,
            mode: PhantomData,
        }
    }
}

impl<S, M> BulkheadService<S, M> {
    /// The bulkhead.
    ///
    /// ```
    /// # use steadfast_std::{SharedBulkhead, tower::BulkheadService};
    /// let svc = BulkheadService::new(7_u8, SharedBulkhead::new("pool", Default::default())?);
    /// assert_eq!(svc.bulkhead().in_flight(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn bulkhead(&self) -> &SharedBulkhead {
        &self.bulkhead
    }

    /// The inner service.
    ///
    /// ```
    /// # use steadfast_std::{SharedBulkhead, tower::BulkheadService};
    /// let svc = BulkheadService::new(7_u8, SharedBulkhead::new("pool", Default::default())?);
    /// assert_eq!(*svc.get_ref(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    ///
    /// ```
    /// # use steadfast_std::{SharedBulkhead, tower::BulkheadService};
    /// let svc = BulkheadService::new(7_u8, SharedBulkhead::new("pool", Default::default())?);
    /// assert_eq!(svc.into_inner(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, M, Req> Service<Req> for BulkheadService<S, M>
where
    S: Service<Req> + Clone,
    M: Stacking<S::Error>,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = BulkheadFuture<S, Req, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if self.off {
            return BulkheadFuture {
                running: Some(self.inner.call(req)),
                sleep: None,
                queued: None,
                slot: Slot {
                    bulkhead: self.bulkhead.clone(),
                    held: Held::Nothing,
                    report: None,
                },
                mode: PhantomData,
            };
        }
        let unwatched = !watched(self.report.as_ref());
        if unwatched && self.bulkhead.take_lent() {
            // Held before the inner call: a panic in it gives the slot back.
            let slot = Slot {
                bulkhead: self.bulkhead.clone(),
                held: Held::Lent,
                report: None,
            };
            return BulkheadFuture {
                running: Some(self.inner.call(req)),
                sleep: None,
                queued: None,
                slot,
                mode: PhantomData,
            };
        }
        let (acquired, now_held) = {
            let mut machine = self.bulkhead.lock();
            let free = nobody_waits(&machine) && machine.available() > 0;
            let acquired = machine.try_acquire(time_for(free));
            if unwatched {
                self.bulkhead.lend(&mut machine);
            }
            (acquired, occupancy(self.report.as_ref(), &machine))
        };
        report_occupancy(self.report.as_ref(), now_held);
        // Held before the inner call (or the clone and timer of a queued
        // request): a panic in it gives the slot or the queue place back.
        let mut slot = Slot {
            bulkhead: self.bulkhead.clone(),
            held: Held::Nothing,
            report: self.report.clone(),
        };
        let (running, queued, sleep) = match acquired {
            Acquire::Permit(permit) => {
                slot.held = Held::Permit(permit);
                (Some(self.inner.call(req)), None, None)
            }
            Acquire::Queued { ticket, deadline } => {
                slot.held = Held::Queued(ticket);
                // The ready service goes with the request; this one keeps a clone.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                (
                    None,
                    Some((ready, req)),
                    // Boxed: only a queued request pays for a timer, and the
                    // future of a request admitted at once stays small to move.
                    Some(Box::pin(tokio::time::sleep_until(time::to_tokio(deadline)))),
                )
            }
            Acquire::Full => {
                if let Some(report) = &self.report {
                    report.refused(Reason::BulkheadFull);
                }
                (None, None, None)
            }
        };
        BulkheadFuture {
            running,
            sleep,
            queued,
            slot,
            mode: PhantomData,
        }
    }
}

/// What a request holds of the bulkhead.
#[derive(Debug)]
enum Held {
    Nothing,
    Queued(Ticket),
    Permit(Permit),
    /// A slot lent to the lock-free path (see [`crate::bulkhead`]).
    Lent,
}

/// A request's hold on the bulkhead, given back exactly once: on completion,
/// or on drop.
#[derive(Debug)]
struct Slot {
    bulkhead: SharedBulkhead,
    held: Held,
    report: Option<Report>,
}

impl Slot {
    /// Releases the permit or leaves the queue; wakes the waiter the slot
    /// passes to (outside the machine's lock).
    #[inline]
    fn give_back(&mut self) {
        match self.held {
            Held::Nothing => return,
            Held::Lent if self.bulkhead.return_lent() => {
                self.held = Held::Nothing;
                return;
            }
            _ => {}
        }
        self.give_back_locked();
    }

    /// [`give_back`](Self::give_back) under the lock.
    #[inline(never)]
    fn give_back_locked(&mut self) {
        let (wake, now_held) = {
            let mut machine = self.bulkhead.lock();
            let now = time_for(nobody_waits(&machine));
            let next = match std::mem::replace(&mut self.held, Held::Nothing) {
                Held::Nothing => return,
                Held::Permit(permit) => machine.release(permit, now),
                Held::Lent => machine.give_back_lent(now),
                Held::Queued(ticket) => {
                    let next = machine.cancel(ticket, now);
                    self.bulkhead.forget(ticket);
                    next
                }
            };
            if !watched(self.report.as_ref()) {
                self.bulkhead.lend(&mut machine);
            }
            let now_held = occupancy(self.report.as_ref(), &machine);
            (next.map(|next| self.bulkhead.record_grant(next)), now_held)
        };
        report_occupancy(self.report.as_ref(), now_held);
        if let Some(wake) = wake {
            wake.wake();
        }
    }

    /// A queued request's turn: `Some(true)` granted (now holding a permit),
    /// `Some(false)` expired (holding nothing), `None` still waiting.
    fn claim(&mut self) -> Option<bool> {
        let Held::Queued(ticket) = self.held else {
            return Some(matches!(self.held, Held::Permit(_) | Held::Lent));
        };
        let mut machine = self.bulkhead.lock();
        let granted = match machine.claim(ticket, time::now()) {
            Claim::Waiting { .. } => return None,
            Claim::Granted(permit) => {
                self.held = Held::Permit(permit);
                true
            }
            Claim::Expired => {
                self.held = Held::Nothing;
                false
            }
        };
        self.bulkhead.forget(ticket);
        let now_held = occupancy(self.report.as_ref(), &machine);
        drop(machine);
        report_occupancy(self.report.as_ref(), now_held);
        if let (false, Some(report)) = (granted, &self.report) {
            report.refused(Reason::QueueTimeout);
        }
        Some(granted)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.give_back();
    }
}

pin_project! {
    /// The response future of a [`BulkheadService`]: waiting for a slot
    /// (queued), then running the inner future under it. Completing or
    /// dropping it gives the slot (or the queue place) back.
    ///
    /// ```
    /// use steadfast::bulkhead::Config;
    /// use steadfast::time::Duration;
    /// use steadfast_std::SharedBulkhead;
    /// use steadfast_std::tower::{BulkheadFuture, BulkheadService};
    /// use tower::{Service, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let pool = SharedBulkhead::new("pool", Config::DEFAULT.with_max_concurrent(1).with_max_queue(4).with_max_wait(Duration::from_secs(1)))?;
    ///     let mut svc = BulkheadService::new(service_fn(|_: ()| std::future::pending::<Result<(), ()>>()), pool.clone());
    ///     let running = svc.call(());
    ///     let queued = svc.call(());
    ///     assert_eq!((pool.in_flight(), pool.queued()), (1, 1));
    ///     drop(queued);
    ///     drop(running);
    ///     assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
    ///     Ok(())
    /// }
    /// # fn _named<S: tower::Service<()> + Clone>(_: BulkheadFuture<S, ()>) {}
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct BulkheadFuture<S, Req, M = Direct>
    where
        S: Service<Req>,
    {
        #[pin]
        running: Option<S::Future>,
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
        queued: Option<(S, Req)>,
        slot: Slot,
        mode: PhantomData<fn() -> M>,
    }
}

impl<S: Service<Req>, Req, M> std::fmt::Debug for BulkheadFuture<S, Req, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkheadFuture")
            .field("bulkhead", &self.slot.bulkhead.name())
            .field("held", &self.slot.held)
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, Req, M> Future for BulkheadFuture<S, Req, M>
where
    S: Service<Req>,
    M: Stacking<S::Error>,
{
    type Output = Result<S::Response, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.running.is_none() {
            let Held::Queued(ticket) = this.slot.held else {
                // Rejected at `call` (or polled after completion).
                return Poll::Ready(Err(Error::bulkhead_full()));
            };
            // Woken by a grant, or by the end of the wait: either way, claim.
            let granted = this.slot.bulkhead.poll_granted(ticket, cx);
            let expired = this
                .sleep
                .as_mut()
                .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
            if !granted && !expired {
                return Poll::Pending;
            }
            match this.slot.claim() {
                None => {
                    // The timer fired a hair early for the core (never under
                    // a consistent clock): wait on.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Some(false) => {
                    *this.sleep = None;
                    *this.queued = None;
                    return Poll::Ready(Err(Error::queue_timeout()));
                }
                Some(true) => {
                    *this.sleep = None;
                    let Some((mut service, req)) = this.queued.take() else {
                        return Poll::Ready(Err(Error::bulkhead_full()));
                    };
                    this.running.set(Some(service.call(req)));
                }
            }
        }
        let Some(running) = this.running.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(Error::bulkhead_full()));
        };
        let result = std::task::ready!(running.poll(cx));
        this.running.set(None);
        this.slot.give_back();
        Poll::Ready(result.map_err(M::lift))
    }
}
