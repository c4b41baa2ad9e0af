//! [`AdaptiveLimitLayer`]: a [`SharedAdaptiveLimit`] in front of a service.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use steadfast::adaptive::Full;
use steadfast::outcome::{Classify, ErrorsFail};
use tower::{Layer, Service};

use super::{Direct, RejectionsIgnored, Stacked, Stacking};
use crate::Error;
use crate::adaptive::{AdaptivePermit, SharedAdaptiveLimit};

/// Bounds concurrent requests by a [`SharedAdaptiveLimit`], whose limit
/// follows the dependency's latency and failures (AIMD or Vegas, as the
/// core decides). A request at the limit does not reach the inner service
/// and answers [`Error::bulkhead_full`] at once (no queue: an adaptive limit
/// is a bulkhead whose capacity moves). A request admitted holds its permit
/// in the response future: completing records the classified outcome with
/// the request's RTT, dropping the future first cancels the permit (the
/// slot comes back, nothing is learnt).
///
/// ```
/// use steadfast::adaptive::Config;
/// use steadfast_std::adaptive::SharedAdaptiveLimit;
/// use steadfast_std::tower::AdaptiveLimitLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let limit = SharedAdaptiveLimit::new("db", Config::new().with_limits(1, 1, 10))?;
///     let mut svc = AdaptiveLimitLayer::new(limit.clone())
///         .layer(service_fn(|_: ()| std::future::pending::<Result<(), std::io::Error>>()));
///     let first = svc.ready().await?.call(()); // holds the only slot
///     let refused = svc.ready().await?.call(()).await.unwrap_err();
///     assert_eq!(refused.reason(), steadfast::pipeline::Reason::BulkheadFull);
///     drop(first); // cancelled: the slot comes back
///     assert_eq!(limit.in_flight(), 0);
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveLimitLayer<C = ErrorsFail, M = Direct> {
    limit: SharedAdaptiveLimit,
    classifier: C,
    /// Off: every request passes without a permit (a disabled registry's layers).
    off: bool,
    mode: PhantomData<fn() -> M>,
}

impl AdaptiveLimitLayer {
    /// A layer admitting through `limit`; every `Err` of the inner service
    /// is a drop ([`ErrorsFail`]).
    ///
    /// ```
    /// # use steadfast_std::{adaptive::SharedAdaptiveLimit, tower::AdaptiveLimitLayer};
    /// let layer = AdaptiveLimitLayer::new(SharedAdaptiveLimit::new("db", Default::default())?);
    /// assert_eq!(layer.limit().name(), "db");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(limit: SharedAdaptiveLimit) -> Self {
        Self {
            limit,
            classifier: ErrorsFail,
            off: false,
            mode: PhantomData,
        }
    }

    /// For a limit over other steadfast layers: their [`Error`] passes
    /// through unchanged and a refusal joins it as [`Error::bulkhead_full`]
    /// ([`Stacking`]); outcomes are judged by [`RejectionsIgnored`] (an inner
    /// refusal teaches the limit nothing, an inner timeout is a drop).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::adaptive::Config;
    /// use steadfast_std::Error;
    /// use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// use steadfast_std::tower::{AdaptiveLimitLayer, TimeoutLayer};
    /// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     tokio::time::pause();
    ///     let limit = SharedAdaptiveLimit::new("db", Config::new().with_limits(10, 1, 100))?;
    ///     let mut svc = ServiceBuilder::new()
    ///         .layer(AdaptiveLimitLayer::new(limit.clone()).stacked())
    ///         .layer(TimeoutLayer::new(Duration::from_millis(50)))
    ///         .service(service_fn(|_: ()| std::future::pending::<Result<(), std::io::Error>>()));
    ///     let late: Result<(), Error<std::io::Error>> = svc.ready().await?.call(()).await;
    ///     assert_eq!(late.unwrap_err().reason(), steadfast::pipeline::Reason::AttemptTimedOut);
    ///     assert_eq!(limit.limit(), 9); // a timeout is a drop: × 0.9
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn stacked(self) -> AdaptiveLimitLayer<RejectionsIgnored, Stacked> {
        AdaptiveLimitLayer {
            limit: self.limit,
            classifier: RejectionsIgnored,
            off: self.off,
            mode: PhantomData,
        }
    }
}

impl<C, M> AdaptiveLimitLayer<C, M> {
    /// Decides what counts as a drop with `classifier` (only the verdict's
    /// [`outcome`](steadfast::outcome::Verdict::outcome) matters here).
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// # use steadfast_std::{adaptive::SharedAdaptiveLimit, tower::AdaptiveLimitLayer};
    /// // A 503 is the dependency shedding load: a drop.
    /// let layer = AdaptiveLimitLayer::new(SharedAdaptiveLimit::new("api", Default::default())?)
    ///     .with_classifier(|r: &Result<u16, std::io::Error>| match r {
    ///         Ok(503) | Err(_) => Verdict::failure(),
    ///         Ok(_) => Verdict::success(),
    ///     });
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_classifier<C2>(self, classifier: C2) -> AdaptiveLimitLayer<C2, M> {
        AdaptiveLimitLayer {
            limit: self.limit,
            classifier,
            off: self.off,
            mode: PhantomData,
        }
    }

    /// The same layer admitting every request without a permit (what a
    /// disabled registry hands out).
    pub(crate) fn passing(mut self) -> Self {
        self.off = true;
        self
    }

    /// The limit.
    ///
    /// ```
    /// # use steadfast_std::{adaptive::SharedAdaptiveLimit, tower::AdaptiveLimitLayer};
    /// let layer = AdaptiveLimitLayer::new(SharedAdaptiveLimit::new("db", Default::default())?);
    /// assert_eq!(layer.limit().limit(), 20);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn limit(&self) -> &SharedAdaptiveLimit {
        &self.limit
    }
}

impl<S, C: Clone, M: Clone> Layer<S> for AdaptiveLimitLayer<C, M> {
    type Service = AdaptiveLimitService<S, C, M>;

    fn layer(&self, inner: S) -> Self::Service {
        AdaptiveLimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind an [`AdaptiveLimitLayer`].
///
/// ```
/// use steadfast_std::adaptive::SharedAdaptiveLimit;
/// use steadfast_std::tower::{AdaptiveLimitLayer, AdaptiveLimitService};
/// use tower::{Layer, service_fn};
/// let layer = AdaptiveLimitLayer::new(SharedAdaptiveLimit::new("db", Default::default())?);
/// let _svc: AdaptiveLimitService<_> = layer.layer(service_fn(|()| async { Ok::<_, ()>(()) }));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AdaptiveLimitService<S, C = ErrorsFail, M = Direct> {
    inner: S,
    layer: AdaptiveLimitLayer<C, M>,
}

impl<S, C, M, Req> Service<Req> for AdaptiveLimitService<S, C, M>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error> + Clone,
    M: Stacking<S::Error>,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = AdaptiveLimitFuture<S::Future, C, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let classifier = self.layer.classifier.clone();
        let admission = if self.layer.off {
            Ok(None)
        } else {
            self.layer.limit.try_acquire().map(Some)
        };
        match admission {
            Ok(permit) => AdaptiveLimitFuture {
                inner: Some(self.inner.call(req)),
                permit,
                refused: None,
                classifier,
                mode: PhantomData,
            },
            Err(full) => AdaptiveLimitFuture {
                inner: None,
                permit: None,
                refused: Some(full),
                classifier,
                mode: PhantomData,
            },
        }
    }
}

pin_project! {
    /// The response future of an [`AdaptiveLimitService`]: the inner future
    /// and the permit it runs under (recorded on completion, cancelled if
    /// dropped first).
    ///
    /// ```
    /// use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// use steadfast_std::tower::{AdaptiveLimitFuture, AdaptiveLimitService, AdaptiveLimitLayer};
    /// use tower::{Layer, Service, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let limit = SharedAdaptiveLimit::new("db", Default::default())?;
    ///     let mut svc = AdaptiveLimitLayer::new(limit.clone()).layer(service_fn(|()| async { Ok::<_, ()>(5) }));
    ///     let future: AdaptiveLimitFuture<_> = svc.call(());
    ///     assert_eq!(limit.in_flight(), 1);
    ///     assert_eq!(future.await, Ok(5));
    ///     assert_eq!(limit.in_flight(), 0);
    ///     Ok(())
    /// }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct AdaptiveLimitFuture<F, C = ErrorsFail, M = Direct> {
        #[pin]
        inner: Option<F>,
        permit: Option<AdaptivePermit>,
        refused: Option<Full>,
        classifier: C,
        mode: PhantomData<fn() -> M>,
    }
}

impl<F, C, M> std::fmt::Debug for AdaptiveLimitFuture<F, C, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdaptiveLimitFuture")
            .field("permit", &self.permit)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

impl<F, C, M, T, E> Future for AdaptiveLimitFuture<F, C, M>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    M: Stacking<E>,
{
    type Output = Result<T, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if this.refused.take().is_some() {
            return Poll::Ready(Err(Error::bulkhead_full()));
        }
        // Answered already: stays pending.
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let result = std::task::ready!(inner.poll(cx));
        this.inner.set(None);
        if let Some(permit) = this.permit.take() {
            permit.record(this.classifier.classify(&result).outcome);
        }
        Poll::Ready(result.map_err(M::lift))
    }
}
