//! [`BreakerLayer`]: a [`SharedBreaker`] in front of a service.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use steadfast::breaker::Rejected;
use steadfast::outcome::{Classify, ErrorsFail, Outcome};
use steadfast::pipeline::{Event, Reason};
use tower::{Layer, Service};

use super::report::Report;
use super::{Direct, RejectionsIgnored, Stacked, Stacking};
use crate::breaker::DetachedPermit;
use crate::{Error, Observer, SharedBreaker};

/// Puts a [`SharedBreaker`] in front of a service: see [`BreakerService`]
/// for the rules.
///
/// ```
/// use steadfast::breaker::{Config, State};
/// use steadfast_std::{Error, SharedBreaker};
/// use steadfast_std::tower::BreakerLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let breaker = SharedBreaker::new("search", Config::new().with_failure_threshold(2))?;
///     let down = service_fn(|_: ()| async { Err::<(), _>("503") });
///     let mut svc = BreakerLayer::new(breaker.clone()).layer(down);
///     for _ in 0..2 {
///         assert_eq!(svc.ready().await.unwrap().call(()).await, Err(Error::operation("503")));
///     }
///     assert!(matches!(breaker.state(), State::Open { .. }));
///     // Open: refused without calling the service.
///     assert!(svc.ready().await.unwrap().call(()).await.unwrap_err().is_rejection());
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct BreakerLayer<C = ErrorsFail, M = Direct> {
    breaker: SharedBreaker,
    classifier: C,
    report: Option<Report>,
    mode: PhantomData<fn() -> M>,
}

impl BreakerLayer {
    /// A layer consulting `breaker` (a handle: every service built from this
    /// layer, and every other clone of `breaker`, shares one breaker), where
    /// every `Err` is a failure ([`ErrorsFail`]).
    ///
    /// ```
    /// # use steadfast_std::{SharedBreaker, tower::BreakerLayer};
    /// let layer = BreakerLayer::new(SharedBreaker::new("db", Default::default())?);
    /// assert_eq!(layer.breaker().name(), "db");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(breaker: SharedBreaker) -> Self {
        Self {
            breaker,
            classifier: ErrorsFail,
            report: None,
            mode: PhantomData,
        }
    }

    /// For a breaker over other steadfast layers: their [`Error`] passes
    /// through unchanged and a refusal joins it as [`Error::rejected`], so
    /// the stack answers one error type ([`Stacking`]); outcomes are judged
    /// by [`RejectionsIgnored`] (an inner bulkhead's refusal is not the
    /// dependency failing, an inner timeout is a timeout), unless
    /// [`with_classifier`](Self::with_classifier) says otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::breaker::{Config, State};
    /// use steadfast_std::{Error, SharedBreaker};
    /// use steadfast_std::tower::{BreakerLayer, TimeoutLayer};
    /// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     tokio::time::pause();
    ///     let breaker = SharedBreaker::new("users", Config::new().with_failure_threshold(1))?;
    ///     let mut svc = ServiceBuilder::new()
    ///         .layer(BreakerLayer::new(breaker.clone()).stacked())
    ///         .layer(TimeoutLayer::new(Duration::from_millis(50)))
    ///         .service(service_fn(|_: ()| std::future::pending::<Result<(), std::io::Error>>()));
    ///     let late: Result<(), Error<std::io::Error>> = svc.ready().await?.call(()).await;
    ///     assert_eq!(late.unwrap_err().reason(), steadfast::pipeline::Reason::AttemptTimedOut);
    ///     assert!(matches!(breaker.state(), State::Open { .. }));
    ///     assert!(svc.ready().await?.call(()).await.unwrap_err().is_rejection());
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn stacked(self) -> BreakerLayer<RejectionsIgnored, Stacked> {
        BreakerLayer {
            breaker: self.breaker,
            classifier: RejectionsIgnored,
            report: self.report,
            mode: PhantomData,
        }
    }
}

impl<C, M> BreakerLayer<C, M> {
    /// Decides what counts as a failure with `classifier` (any
    /// [`Classify`], e.g. a closure `Fn(&Result<T, E>) -> Verdict`; only the
    /// verdict's [`outcome`](steadfast::outcome::Verdict::outcome) matters here).
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// # use steadfast_std::{SharedBreaker, tower::BreakerLayer};
    /// // A 404 is an answer, not an outage.
    /// let layer = BreakerLayer::new(SharedBreaker::new("api", Default::default())?)
    ///     .with_classifier(|r: &Result<u16, std::io::Error>| match r {
    ///         Ok(status) if *status >= 500 => Verdict::failure(),
    ///         Ok(_) => Verdict::success(),
    ///         Err(_) => Verdict::failure(),
    ///     });
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_classifier<C2>(self, classifier: C2) -> BreakerLayer<C2, M> {
        BreakerLayer {
            breaker: self.breaker,
            classifier,
            report: self.report,
            mode: PhantomData,
        }
    }

    /// Reports to `observer`, under the breaker's name (as both the policy and
    /// the breaker): every transition the services see (a due
    /// open → half-open before a call, and whatever a recorded outcome
    /// changes) and every call the breaker refuses — so the `metrics` and
    /// `tracing` observers ([`observe`](crate::observe)) show the tower path
    /// as they show [`Policy`](crate::Policy)'s. Registers the breaker's series
    /// at once ([`Observer::on_register`]). `Registry::breaker_layer` gives a
    /// layer reporting to the registry's observer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # use steadfast_std::{SharedBreaker, tower::BreakerLayer};
    /// let layer = BreakerLayer::new(SharedBreaker::new("db", Default::default())?)
    ///     .with_observer(Arc::new(steadfast_std::observe::Standard));
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        let name = self.breaker.name_arc();
        self.report = Some(Report::new(observer, name, true));
        self
    }

    /// The breaker.
    ///
    /// ```
    /// # use steadfast_std::{SharedBreaker, tower::BreakerLayer};
    /// let layer = BreakerLayer::new(SharedBreaker::new("db", Default::default())?);
    /// assert_eq!(layer.breaker().state(), steadfast::breaker::State::Closed);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn breaker(&self) -> &SharedBreaker {
        &self.breaker
    }
}

impl<S, C: Clone, M> Layer<S> for BreakerLayer<C, M> {
    type Service = BreakerService<S, C, M>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService {
            inner,
            breaker: self.breaker.clone(),
            classifier: self.classifier.clone(),
            report: self.report.clone(),
            mode: PhantomData,
        }
    }
}

/// A service whose requests pass a [`SharedBreaker`].
///
/// * **Admission in `call`**, like tower-resilience's breaker: `poll_ready`
///   is the inner service's; `call` asks the breaker for a permit and, if it
///   is refused, answers [`Error::rejected`] (with the breaker's name and
///   `retry_at`) without calling the inner service. A readiness the inner
///   service reserved is then kept for the next request.
/// * **Outcome at completion**: when the response future completes, the
///   classifier `C` turns its result into an [`Outcome`] recorded on the
///   permit (success, failure, ignored; a result slower than the breaker's
///   `slow_call_duration` counts as slow). The default [`ErrorsFail`] counts
///   every `Err` as a failure; over other steadfast layers use
///   [`RejectionsIgnored`](super::RejectionsIgnored).
/// * **Dropped futures cancel**: the permit lives in the [`BreakerFuture`];
///   dropping it before completion cancels the permit — nothing is counted
///   as a success or failure, and a half-open probe slot comes back at once.
/// * **No allocation per request**: a permit is a breaker handle (an `Arc`
///   clone) and a few words inside the future. While the breaker is closed
///   with no failure run, admission and a success take no lock and read no
///   clock ([`SharedBreaker`]'s fast path).
///
/// Errors of the inner service, from `poll_ready` or the response, are
/// [`Error::operation`].
///
/// ```
/// use steadfast_std::SharedBreaker;
/// use steadfast_std::tower::BreakerService;
/// use tower::{Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let breaker = SharedBreaker::new("cache", Default::default())?;
///     let mut svc = BreakerService::new(service_fn(|k: u8| async move { Ok::<_, ()>(k) }), breaker.clone());
///     assert_eq!(svc.ready().await.unwrap().call(3).await, Ok(3));
///     assert_eq!(breaker.stats().successes, 1);
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct BreakerService<S, C = ErrorsFail, M = Direct> {
    inner: S,
    breaker: SharedBreaker,
    classifier: C,
    report: Option<Report>,
    mode: PhantomData<fn() -> M>,
}

impl<S> BreakerService<S> {
    /// Wraps `inner` (every `Err` a failure).
    ///
    /// ```
    /// # use steadfast_std::{SharedBreaker, tower::BreakerService};
    /// let svc = BreakerService::new(tower::service_fn(|_: ()| async { Ok::<_, ()>(()) }), SharedBreaker::new("db", Default::default())?);
    /// assert_eq!(svc.breaker().name(), "db");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(inner: S, breaker: SharedBreaker) -> Self {
        Self {
            inner,
            breaker,
            classifier: ErrorsFail,
            report: None,
            mode: PhantomData,
        }
    }
}

impl<S, C, M> BreakerService<S, C, M> {
    /// The breaker.
    ///
    /// ```
    /// # use steadfast_std::{SharedBreaker, tower::BreakerService};
    /// let svc = BreakerService::new(tower::service_fn(|_: ()| async { Ok::<_, ()>(()) }), SharedBreaker::new("db", Default::default())?);
    /// assert_eq!(svc.breaker().stats().calls, 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn breaker(&self) -> &SharedBreaker {
        &self.breaker
    }

    /// The inner service.
    ///
    /// ```
    /// # use steadfast_std::{SharedBreaker, tower::BreakerService};
    /// let svc = BreakerService::new(7_u8, SharedBreaker::new("db", Default::default())?);
    /// assert_eq!(*svc.get_ref(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// # use steadfast_std::{SharedBreaker, tower::BreakerService};
    /// let mut svc = BreakerService::new(7_u8, SharedBreaker::new("db", Default::default())?);
    /// *svc.get_mut() += 1;
    /// assert_eq!(svc.into_inner(), 8);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    ///
    /// ```
    /// # use steadfast_std::{SharedBreaker, tower::BreakerService};
    /// let svc = BreakerService::new(7_u8, SharedBreaker::new("db", Default::default())?);
    /// assert_eq!(svc.into_inner(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, M, Req> Service<Req> for BreakerService<S, C, M>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error> + Clone,
    M: Stacking<S::Error>,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = BreakerFuture<S::Future, C, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if let Some(report) = &self.report
            && !self.breaker.is_closed()
            && let Some(t) = self.breaker.handle_timeout()
        {
            report.event(&Event::Breaker(t));
        }
        match OwnedPermit::acquire(&self.breaker, self.report.clone()) {
            Ok(permit) => BreakerFuture {
                inner: Some(self.inner.call(req)),
                permit: Some(permit),
                rejected: None,
                classifier: self.classifier.clone(),
                mode: PhantomData,
            },
            Err(rejected) => BreakerFuture {
                inner: None,
                permit: None,
                rejected: Some({
                    if let Some(report) = &self.report {
                        report.refused(Reason::BreakerOpen {
                            retry_at: rejected.retry_at,
                        });
                    }
                    self.breaker.rejected(rejected)
                }),
                classifier: self.classifier.clone(),
                mode: PhantomData,
            },
        }
    }
}

/// A permit with the handle of the breaker that issued it: recorded once, or
/// cancelled on drop. Taken through [`SharedBreaker::try_acquire`], so a
/// closed breaker with no failure run admits and counts a success without a
/// lock or a clock read (its fast path).
#[derive(Debug)]
struct OwnedPermit {
    breaker: SharedBreaker,
    permit: Option<DetachedPermit>,
    report: Option<Report>,
}

impl OwnedPermit {
    fn acquire(breaker: &SharedBreaker, report: Option<Report>) -> Result<Self, Rejected> {
        let permit = breaker.try_acquire()?.detach();
        Ok(Self {
            breaker: breaker.clone(),
            permit: Some(permit),
            report,
        })
    }

    fn finish(&mut self, outcome: Option<Outcome>) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let permit = self.breaker.resume(permit);
        match outcome {
            Some(outcome) => {
                if let Some(t) = permit.record(outcome)
                    && let Some(report) = &self.report
                {
                    report.event(&Event::Breaker(t));
                }
            }
            None => drop(permit), // cancels
        }
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.finish(None);
    }
}

pin_project! {
    /// The response future of a [`BreakerService`]: the inner future and the
    /// breaker permit it runs under. Completing records the classified
    /// outcome; dropping it first cancels the permit.
    ///
    /// ```
    /// use steadfast::breaker::{Config, State};
    /// use steadfast::time::Duration;
    /// use steadfast_std::SharedBreaker;
    /// use steadfast_std::tower::{BreakerFuture, BreakerService};
    /// use tower::{Service, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let breaker = SharedBreaker::new("db", Config::new().with_failure_threshold(1))?;
    ///     let mut svc = BreakerService::new(service_fn(|_: ()| std::future::pending::<Result<(), ()>>()), breaker.clone());
    ///     let future = svc.call(());
    ///     drop(future); // cancelled: counted as a call, not as a failure
    ///     assert_eq!(breaker.stats().failures, 0);
    ///     assert_eq!(breaker.state(), State::Closed);
    ///     Ok(())
    /// }
    /// # fn _named(_: BreakerFuture<std::future::Ready<Result<(), ()>>>) {}
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct BreakerFuture<F, C = ErrorsFail, M = Direct> {
        #[pin]
        inner: Option<F>,
        permit: Option<OwnedPermit>,
        rejected: Option<Error<Infallible>>,
        classifier: C,
        mode: PhantomData<fn() -> M>,
    }
}

impl<F: std::fmt::Debug, C, M> std::fmt::Debug for BreakerFuture<F, C, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerFuture")
            .field("admitted", &self.permit.is_some())
            .field("rejected", &self.rejected)
            .finish_non_exhaustive()
    }
}

impl<F, C, M, T, E> Future for BreakerFuture<F, C, M>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    M: Stacking<E>,
{
    type Output = Result<T, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(rejected) = this.rejected.take() {
            return Poll::Ready(Err(rejected.map(|never| match never {})));
        }
        // Answered already: stays pending (polling a finished future is a
        // caller's mistake, and a resilience layer does not panic for it).
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let result = std::task::ready!(inner.poll(cx));
        this.inner.set(None);
        if let Some(mut permit) = this.permit.take() {
            permit.finish(Some(this.classifier.classify(&result).outcome));
        }
        Poll::Ready(result.map_err(M::lift))
    }
}
