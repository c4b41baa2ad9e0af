//! [`ThrottleLayer`]: client-side adaptive throttling in front of a service.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use steadfast::outcome::{Classify, ErrorsFail};
use steadfast::pipeline::Reason;
use tower::{Layer, Service};

use super::report::Report;
use super::{Direct, RejectionsIgnored, Stacked, Stacking};
use crate::observer::LayerKind;
use crate::throttle::SharedThrottle;
use crate::{Error, Observer};

/// Puts a [`SharedThrottle`] in front of a service: each request is admitted
/// or refused locally ([`Error::throttled`], the service not called), and an
/// admitted request's result is classified by `C`: a result whose outcome is
/// not a failure (a success, or one the classifier ignores) counts as
/// accepted by the dependency; a failure or a timeout does not. A request
/// whose future is dropped before its answer counts as not accepted.
///
/// ```
/// use steadfast::throttle::Config;
/// use steadfast_std::throttle::SharedThrottle;
/// use steadfast_std::tower::ThrottleLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let throttle = SharedThrottle::new("search", Config::new())?.with_seed(3);
///     let overloaded = service_fn(|_: ()| async { Err::<(), _>("503") });
///     let mut svc = ThrottleLayer::new(throttle.clone()).layer(overloaded);
///     let mut refused = 0;
///     for _ in 0..200 {
///         if svc.ready().await.unwrap().call(()).await.unwrap_err().is_rejection() {
///             refused += 1;
///         }
///     }
///     // Almost every request after the first few is refused locally.
///     assert!(refused > 150, "{refused}");
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ThrottleLayer<C = ErrorsFail, M = Direct> {
    throttle: SharedThrottle,
    classifier: C,
    report: Option<Report>,
    off: bool,
    mode: PhantomData<fn() -> M>,
}

impl ThrottleLayer {
    /// A layer admitting through `throttle`, every `Err` not accepted.
    ///
    /// ```
    /// # use steadfast_std::{throttle::SharedThrottle, tower::ThrottleLayer};
    /// let layer = ThrottleLayer::new(SharedThrottle::new("db", Default::default())?);
    /// assert_eq!(layer.throttle().name(), "db");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(throttle: SharedThrottle) -> Self {
        Self {
            throttle,
            classifier: ErrorsFail,
            report: None,
            off: false,
            mode: PhantomData,
        }
    }

    /// For a throttle over other steadfast layers: their [`Error`] passes
    /// through unchanged and a refusal joins it ([`Stacking`]); results are
    /// judged by [`RejectionsIgnored`] (an inner refusal says nothing about
    /// the dependency and counts as accepted; an inner timeout is not
    /// accepted), unless [`with_classifier`](ThrottleLayer::with_classifier)
    /// says otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::Error;
    /// use steadfast_std::throttle::SharedThrottle;
    /// use steadfast_std::tower::{ThrottleLayer, TimeoutLayer};
    /// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let throttle = SharedThrottle::new("api", Default::default())?;
    ///     let mut svc = ServiceBuilder::new()
    ///         .layer(ThrottleLayer::new(throttle.clone()).stacked())
    ///         .layer(TimeoutLayer::new(Duration::from_secs(1)))
    ///         .service(service_fn(|_: ()| async { Ok::<_, std::io::Error>(7) }));
    ///     let answer: Result<u8, Error<std::io::Error>> = svc.ready().await?.call(()).await;
    ///     assert_eq!(answer?, 7);
    ///     assert_eq!(throttle.counts(), (1, 1));
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn stacked(self) -> ThrottleLayer<RejectionsIgnored, Stacked> {
        ThrottleLayer {
            throttle: self.throttle,
            classifier: RejectionsIgnored,
            report: self.report,
            off: self.off,
            mode: PhantomData,
        }
    }
}

impl<C, M> ThrottleLayer<C, M> {
    /// The same layer admitting every request without asking the throttle
    /// (what a disabled registry hands out).
    pub(crate) fn passing(mut self) -> Self {
        self.off = true;
        self
    }

    /// Decides what the dependency accepted with `classifier` (a result
    /// whose verdict's outcome is not a failure counts as accepted).
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// # use steadfast_std::{throttle::SharedThrottle, tower::ThrottleLayer};
    /// // Only a 503 or a 429 is the backend refusing work.
    /// let layer = ThrottleLayer::new(SharedThrottle::new("api", Default::default())?)
    ///     .with_classifier(|r: &Result<u16, std::io::Error>| match r {
    ///         Ok(503 | 429) => Verdict::failure(),
    ///         _ => Verdict::success(),
    ///     });
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_classifier<C2>(self, classifier: C2) -> ThrottleLayer<C2, M> {
        ThrottleLayer {
            throttle: self.throttle,
            classifier,
            report: self.report,
            off: self.off,
            mode: PhantomData,
        }
    }

    /// Reports each refusal to `observer` under the throttle's name
    /// (`throttle_rejections_total`, a `DEBUG` line).
    ///
    /// ```
    /// use std::sync::Arc;
    /// # use steadfast_std::{throttle::SharedThrottle, tower::ThrottleLayer};
    /// let layer = ThrottleLayer::new(SharedThrottle::new("api", Default::default())?)
    ///     .with_observer(Arc::new(steadfast_std::observe::Standard));
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.report = Some(Report::layer(
            observer,
            self.throttle.name_arc(),
            LayerKind::Throttle,
        ));
        self
    }

    /// The throttle.
    ///
    /// ```
    /// # use steadfast_std::{throttle::SharedThrottle, tower::ThrottleLayer};
    /// let layer = ThrottleLayer::new(SharedThrottle::new("api", Default::default())?);
    /// assert_eq!(layer.throttle().counts(), (0, 0));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn throttle(&self) -> &SharedThrottle {
        &self.throttle
    }
}

impl<S, C: Clone, M> Layer<S> for ThrottleLayer<C, M> {
    type Service = ThrottleService<S, C, M>;

    fn layer(&self, inner: S) -> Self::Service {
        ThrottleService {
            inner,
            throttle: self.throttle.clone(),
            classifier: self.classifier.clone(),
            report: self.report.clone(),
            off: self.off,
            mode: PhantomData,
        }
    }
}

/// A service whose requests pass a [`SharedThrottle`] (see [`ThrottleLayer`]).
///
/// ```
/// use steadfast_std::throttle::SharedThrottle;
/// use steadfast_std::tower::ThrottleLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let throttle = SharedThrottle::new("db", Default::default()).expect("a valid config");
///     let mut svc = ThrottleLayer::new(throttle).layer(service_fn(|n: u8| async move { Ok::<_, ()>(n) }));
///     assert_eq!(svc.ready().await.unwrap().call(4).await, Ok(4));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ThrottleService<S, C = ErrorsFail, M = Direct> {
    inner: S,
    throttle: SharedThrottle,
    classifier: C,
    report: Option<Report>,
    off: bool,
    mode: PhantomData<fn() -> M>,
}

impl<S, C, M, Req> Service<Req> for ThrottleService<S, C, M>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error> + Clone,
    M: Stacking<S::Error>,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = ThrottleFuture<S::Future, C, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if self.off {
            return ThrottleFuture {
                inner: Some(self.inner.call(req)),
                throttle: Unanswered(None),
                refused: false,
                classifier: self.classifier.clone(),
                mode: PhantomData,
            };
        }
        match self.throttle.admit_detached() {
            Ok(()) => ThrottleFuture {
                inner: Some(self.inner.call(req)),
                throttle: Unanswered(Some(self.throttle.clone())),
                refused: false,
                classifier: self.classifier.clone(),
                mode: PhantomData,
            },
            Err(_) => {
                if let Some(report) = &self.report {
                    report.refused(Reason::Throttled);
                }
                ThrottleFuture {
                    inner: None,
                    throttle: Unanswered(None),
                    refused: true,
                    classifier: self.classifier.clone(),
                    mode: PhantomData,
                }
            }
        }
    }
}

pin_project! {
    /// The response future of a [`ThrottleService`]: the inner future, and
    /// the throttle to tell how it ended (none when refused, or when the
    /// layer passes everything).
    ///
    /// ```
    /// use steadfast_std::throttle::SharedThrottle;
    /// use steadfast_std::tower::{ThrottleFuture, ThrottleLayer};
    /// use tower::{Layer, Service, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let throttle = SharedThrottle::new("db", Default::default()).expect("a valid config");
    ///     let mut svc = ThrottleLayer::new(throttle.clone()).layer(service_fn(|_: ()| std::future::pending::<Result<(), ()>>()));
    ///     drop(svc.call(())); // dropped before its answer: a request, not an accept
    ///     assert_eq!(throttle.counts(), (1, 0));
    /// }
    /// # fn _named(_: ThrottleFuture<std::future::Ready<Result<(), ()>>>) {}
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct ThrottleFuture<F, C = ErrorsFail, M = Direct> {
        #[pin]
        inner: Option<F>,
        throttle: Unanswered,
        refused: bool,
        classifier: C,
        mode: PhantomData<fn() -> M>,
    }
}

/// The throttle an admitted request reports its end to, once: dropped
/// before the answer, the request was not accepted.
#[derive(Debug)]
struct Unanswered(Option<SharedThrottle>);

impl Unanswered {
    fn record(&mut self, accepted: bool) {
        if let Some(throttle) = self.0.take() {
            throttle.record(accepted);
        }
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        self.record(false);
    }
}

impl<F, C, M> std::fmt::Debug for ThrottleFuture<F, C, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrottleFuture")
            .field("admitted", &self.inner.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, C, M, T, E> Future for ThrottleFuture<F, C, M>
where
    F: Future<Output = Result<T, E>>,
    C: Classify<T, E>,
    M: Stacking<E>,
{
    type Output = Result<T, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            // Refused at `call`: answered once; answered already: pending.
            return if std::mem::take(this.refused) {
                Poll::Ready(Err(Error::throttled()))
            } else {
                Poll::Pending
            };
        };
        let result = std::task::ready!(inner.poll(cx));
        this.inner.set(None);
        this.throttle
            .record(!this.classifier.classify(&result).outcome.is_failure());
        Poll::Ready(result.map_err(M::lift))
    }
}
