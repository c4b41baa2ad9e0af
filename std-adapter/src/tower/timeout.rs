//! [`TimeoutLayer`]: a deadline per request, on steadfast's clock.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use std::sync::Arc;

use steadfast::pipeline::Event;
use steadfast::timeout::Deadline;
use tower::{Layer, Service};

use super::report::Report;
use super::{Direct, Stacked, Stacking};
use crate::{Error, Observer, time};

/// Gives every request a deadline: see [`TimeoutService`] for the rules.
///
/// ```
/// use std::time::Duration;
/// use steadfast_std::Error;
/// use steadfast_std::tower::TimeoutLayer;
/// use tower::{Layer, Service, service_fn};
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() {
///     let slow = service_fn(|_: ()| async {
///         tokio::time::sleep(Duration::from_secs(5)).await;
///         Ok::<_, ()>("late")
///     });
///     let mut svc = TimeoutLayer::new(Duration::from_secs(1)).layer(slow);
///     let started = tokio::time::Instant::now();
///     assert_eq!(svc.call(()).await, Err(Error::timed_out()));
///     assert_eq!(started.elapsed(), Duration::from_secs(1));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct TimeoutLayer<M = Direct> {
    timeout: steadfast::time::Duration,
    report: Option<Report>,
    mode: PhantomData<fn() -> M>,
}

impl TimeoutLayer {
    /// A layer cutting each request off `timeout` after `call` (saturating
    /// at steadfast's microsecond [`Duration`](steadfast::time::Duration)).
    ///
    /// ```
    /// let layer = steadfast_std::tower::TimeoutLayer::new(std::time::Duration::from_millis(250));
    /// assert_eq!(layer.timeout(), std::time::Duration::from_millis(250));
    /// ```
    pub fn new(timeout: std::time::Duration) -> Self {
        Self {
            timeout: time::from_std_duration(timeout),
            report: None,
            mode: PhantomData,
        }
    }

    /// For a layer over other steadfast layers: their [`Error`] passes
    /// through unchanged and a timeout joins it as [`Error::timed_out`], so
    /// the stack answers one error type ([`Stacking`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::Error;
    /// use steadfast_std::tower::{BulkheadLayer, TimeoutLayer};
    /// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let pool = steadfast_std::SharedBulkhead::new("db", Default::default())?;
    ///     let mut svc = ServiceBuilder::new()
    ///         .layer(TimeoutLayer::new(Duration::from_secs(1)).stacked())
    ///         .layer(BulkheadLayer::new(pool))
    ///         .service(service_fn(|_: ()| async { Err::<(), _>("down") }));
    ///     let answer: Result<(), Error<&str>> = svc.ready().await.expect("ready").call(()).await;
    ///     assert_eq!(answer, Err(Error::operation("down")));
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn stacked(self) -> TimeoutLayer<Stacked> {
        TimeoutLayer {
            timeout: self.timeout,
            report: self.report,
            mode: PhantomData,
        }
    }
}

impl<M> TimeoutLayer<M> {
    /// Reports to `observer` under the name `operation` (the policy name the
    /// observer sees): each request cut off at its deadline, as
    /// [`Event::TimedOut`] (`timeout_errors_total`, a `WARN` line) — so the
    /// `metrics` and `tracing` observers ([`observe`](crate::observe)) show the
    /// tower path as they show [`Policy`](crate::Policy)'s. Registers the
    /// series at once ([`Observer::on_register`]). `Registry::timeout_layer`
    /// gives a layer with a policy's attempt timeout, reporting to the
    /// registry's observer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let layer = steadfast_std::tower::TimeoutLayer::new(Duration::from_secs(1))
    ///     .with_observer("quotes", Arc::new(steadfast_std::observe::Standard));
    /// assert_eq!(layer.name(), Some("quotes"));
    /// ```
    #[must_use]
    pub fn with_observer(mut self, operation: &str, observer: Arc<dyn Observer>) -> Self {
        self.report = Some(Report::new(observer, Arc::from(operation), false));
        self
    }

    /// The name the layer reports under, if it was given an observer.
    ///
    /// ```
    /// let layer = steadfast_std::tower::TimeoutLayer::new(std::time::Duration::ZERO);
    /// assert_eq!(layer.name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.report.as_ref().map(Report::name)
    }

    /// The timeout.
    ///
    /// ```
    /// let layer = steadfast_std::tower::TimeoutLayer::new(std::time::Duration::ZERO);
    /// assert!(layer.timeout().is_zero());
    /// ```
    pub fn timeout(&self) -> std::time::Duration {
        time::to_std_duration(self.timeout)
    }
}

impl<S, M> Layer<S> for TimeoutLayer<M> {
    type Service = TimeoutService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        TimeoutService {
            inner,
            timeout: self.timeout,
            report: self.report.clone(),
            mode: PhantomData,
        }
    }
}

/// A service whose requests get a deadline.
///
/// * The deadline is `now + timeout` at `call`, on [`crate::time::now`] (the
///   Tokio clock, so paused test time is exact). Waiting in `poll_ready` is
///   not covered: put the timeout above a layer whose readiness can block if
///   that wait must count.
/// * It is **reached when `now >= deadline`** (the core's
///   [`Deadline`]): the response future is dropped there — which really
///   cancels the work, and cancels whatever permits a layer below holds — and
///   the answer is [`Error::timed_out()`]. A response that completes at or after
///   the deadline is discarded for `TimedOut` as well (gRPC's rule, and the
///   pipeline's).
/// * A zero timeout has already expired: the inner service is not called.
/// * Nothing is allocated per request: the future holds the inner future and
///   a Tokio timer entry inline.
///
/// ```
/// use std::time::Duration;
/// use steadfast_std::tower::TimeoutService;
/// use tower::{Service, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let mut svc = TimeoutService::new(service_fn(|n: u8| async move { Ok::<_, ()>(n) }), Duration::from_secs(1));
///     assert_eq!(svc.call(4).await, Ok(4));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct TimeoutService<S, M = Direct> {
    inner: S,
    timeout: steadfast::time::Duration,
    report: Option<Report>,
    mode: PhantomData<fn() -> M>,
}

impl<S> TimeoutService<S> {
    /// Wraps `inner`.
    ///
    /// ```
    /// let svc = steadfast_std::tower::TimeoutService::new(7_u8, std::time::Duration::from_secs(1));
    /// assert_eq!(*svc.get_ref(), 7);
    /// ```
    pub fn new(inner: S, timeout: std::time::Duration) -> Self {
        Self {
            inner,
            timeout: time::from_std_duration(timeout),
            report: None,
            mode: PhantomData,
        }
    }
}

impl<S, M> TimeoutService<S, M> {
    /// The inner service.
    ///
    /// ```
    /// let svc = steadfast_std::tower::TimeoutService::new(7_u8, std::time::Duration::from_secs(1));
    /// assert_eq!(svc.into_inner(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    ///
    /// ```
    /// let svc = steadfast_std::tower::TimeoutService::new(7_u8, std::time::Duration::from_secs(1));
    /// assert_eq!(svc.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, M, Req> Service<Req> for TimeoutService<S, M>
where
    S: Service<Req>,
    M: Stacking<S::Error>,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = TimeoutFuture<S::Future, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let deadline = Deadline::after(time::now(), self.timeout);
        let inner = (!self.timeout.is_zero()).then(|| {
            tokio::time::timeout_at(time::to_tokio(deadline.instant()), self.inner.call(req))
        });
        TimeoutFuture {
            inner,
            deadline,
            report: self.report.clone(),
            answered: false,
            mode: PhantomData,
        }
    }
}

pin_project! {
    /// The response future of a [`TimeoutService`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::Error;
    /// use steadfast_std::tower::{TimeoutFuture, TimeoutService};
    /// use tower::{Service, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let mut svc = TimeoutService::new(service_fn(|_: ()| std::future::pending::<Result<(), ()>>()), Duration::ZERO);
    ///     let future: TimeoutFuture<_> = svc.call(());
    ///     assert_eq!(future.await, Err(Error::timed_out())); // zero: already expired
    /// }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct TimeoutFuture<F, M = Direct> {
        #[pin]
        inner: Option<tokio::time::Timeout<F>>,
        deadline: Deadline,
        report: Option<Report>,
        answered: bool,
        mode: PhantomData<fn() -> M>,
    }
}

impl<F, M, T, E> Future for TimeoutFuture<F, M>
where
    F: Future<Output = Result<T, E>>,
    M: Stacking<E>,
{
    type Output = Result<T, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // Answered already: stays pending, and reports nothing twice.
        if *this.answered {
            return Poll::Pending;
        }
        let answer = match this.inner.as_mut().as_pin_mut() {
            None => None,
            Some(inner) => match std::task::ready!(inner.poll(cx)) {
                // Completed, but at or after the deadline: discarded (inclusive).
                Ok(_) if this.deadline.is_expired(time::now()) => None,
                Ok(result) => Some(result.map_err(M::lift)),
                Err(_elapsed) => None,
            },
        };
        this.inner.set(None);
        *this.answered = true;
        Poll::Ready(answer.unwrap_or_else(|| {
            if let Some(report) = this.report.take() {
                report.event(&Event::TimedOut { attempt: 1 });
            }
            Err(Error::timed_out())
        }))
    }
}
