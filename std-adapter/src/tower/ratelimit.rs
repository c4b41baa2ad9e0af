//! [`RateLimitLayer`] and [`KeyedRateLimitLayer`]: GCRA admission in front
//! of a service.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use steadfast::pipeline::Reason;
use steadfast::ratelimit::Refused;
use tower::{Layer, Service};

use super::report::Report;
use super::{Direct, Stacked, Stacking};
use crate::observer::LayerKind;
use crate::ratelimit::{KeyedRateLimiter, SharedRateLimiter};
use crate::{Error, Observer};

/// Admits requests through a [`SharedRateLimiter`]; a refused request does
/// not reach the inner service and answers
/// [`Error::rate_limited`] with the instant to come back
/// ([`Error::retry_at`]).
///
/// ```
/// use steadfast::ratelimit::Config;
/// use steadfast_std::ratelimit::SharedRateLimiter;
/// use steadfast_std::tower::RateLimitLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let limiter = SharedRateLimiter::new("search", Config::per_second(2))?;
/// let mut svc = RateLimitLayer::new(limiter).layer(service_fn(|q: &'static str| async move { Ok::<_, &str>(q.len()) }));
/// assert_eq!(svc.ready().await.unwrap().call("a").await, Ok(1));
/// assert_eq!(svc.ready().await.unwrap().call("bb").await, Ok(2));
/// let refused = svc.ready().await.unwrap().call("ccc").await.unwrap_err();
/// assert!(refused.is_rejection() && refused.retry_at().is_some());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RateLimitLayer<M = Direct> {
    limiter: SharedRateLimiter,
    report: Option<Report>,
    /// Off: every request passes (a disabled registry's layers).
    off: bool,
    mode: PhantomData<fn() -> M>,
}

impl RateLimitLayer {
    /// A layer admitting through `limiter`.
    pub fn new(limiter: SharedRateLimiter) -> Self {
        Self {
            limiter,
            report: None,
            off: false,
            mode: PhantomData,
        }
    }

    /// For a limiter over other steadfast layers: their [`Error`] passes
    /// through unchanged and a refusal joins it as [`Error::rate_limited`],
    /// so the stack answers one error type ([`Stacking`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::ratelimit;
    /// use steadfast_std::Error;
    /// use steadfast_std::ratelimit::SharedRateLimiter;
    /// use steadfast_std::tower::{RateLimitLayer, TimeoutLayer};
    /// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let limiter = SharedRateLimiter::new("api", ratelimit::Config::per_second(1))?;
    ///     let mut svc = ServiceBuilder::new()
    ///         .layer(RateLimitLayer::new(limiter).stacked())
    ///         .layer(TimeoutLayer::new(Duration::from_secs(1)))
    ///         .service(service_fn(|_: ()| async { Ok::<_, std::io::Error>(7) }));
    ///     assert_eq!(svc.ready().await?.call(()).await?, 7);
    ///     let refused: Result<u8, Error<std::io::Error>> = svc.ready().await?.call(()).await;
    ///     assert!(refused.unwrap_err().is_rejection());
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn stacked(self) -> RateLimitLayer<Stacked> {
        RateLimitLayer {
            limiter: self.limiter,
            report: self.report,
            off: self.off,
            mode: PhantomData,
        }
    }
}

impl<M> RateLimitLayer<M> {
    /// The same layer admitting every request without asking the limiter
    /// (what a disabled registry hands out).
    pub(crate) fn passing(mut self) -> Self {
        self.off = true;
        self
    }

    /// Reports each refusal to `observer` under the limiter's name
    /// (`rate_limit_rejections_total`, a `DEBUG` line).
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.report = Some(Report::layer(
            observer,
            self.limiter.name_arc(),
            LayerKind::RateLimiter,
        ));
        self
    }

    /// The limiter.
    pub fn limiter(&self) -> &SharedRateLimiter {
        &self.limiter
    }
}

impl<S, M: Clone> Layer<S> for RateLimitLayer<M> {
    type Service = RateLimitService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind a [`RateLimitLayer`].
#[derive(Clone, Debug)]
pub struct RateLimitService<S, M = Direct> {
    inner: S,
    layer: RateLimitLayer<M>,
}

impl<S, M, Req> Service<Req> for RateLimitService<S, M>
where
    S: Service<Req>,
    M: Stacking<S::Error>,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = RateLimitFuture<S::Future, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let admission = if self.layer.off {
            Ok(())
        } else {
            self.layer.limiter.check()
        };
        RateLimitFuture::new(admission, &mut self.inner, req, self.layer.report.as_ref())
    }
}

/// Admits requests through a [`KeyedRateLimiter`], the key taken from each
/// request by a function (a tenant header, a client address).
///
/// ```
/// use std::sync::Arc;
/// use steadfast::ratelimit::Config;
/// use steadfast_std::ratelimit::KeyedRateLimiter;
/// use steadfast_std::tower::KeyedRateLimitLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // (tenant, query): one request per second per tenant.
/// let tenants = Arc::new(KeyedRateLimiter::new("tenants", Config::per_second(1), 10_000)?);
/// let layer = KeyedRateLimitLayer::new(tenants, |req: &(&'static str, u32)| req.0);
/// let mut svc = layer.layer(service_fn(|(_, q): (&str, u32)| async move { Ok::<_, &str>(q) }));
/// assert_eq!(svc.ready().await.unwrap().call(("acme", 1)).await, Ok(1));
/// assert!(svc.ready().await.unwrap().call(("acme", 2)).await.unwrap_err().is_rejection());
/// assert_eq!(svc.ready().await.unwrap().call(("globex", 3)).await, Ok(3));
/// # Ok(())
/// # }
/// ```
pub struct KeyedRateLimitLayer<K, F, M = Direct> {
    limiter: Arc<KeyedRateLimiter<K>>,
    key: F,
    report: Option<Report>,
    mode: PhantomData<fn() -> M>,
}

impl<K, F: Clone, M> Clone for KeyedRateLimitLayer<K, F, M> {
    fn clone(&self) -> Self {
        Self {
            limiter: self.limiter.clone(),
            key: self.key.clone(),
            report: self.report.clone(),
            mode: PhantomData,
        }
    }
}

impl<K, F, M> fmt::Debug for KeyedRateLimitLayer<K, F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimitLayer")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone, F> KeyedRateLimitLayer<K, F> {
    /// A layer admitting each request through `limiter` under `key(&request)`.
    pub fn new(limiter: Arc<KeyedRateLimiter<K>>, key: F) -> Self {
        Self {
            limiter,
            key,
            report: None,
            mode: PhantomData,
        }
    }

    /// For a limiter over other steadfast layers: their [`Error`] passes
    /// through unchanged and a refusal joins it as [`Error::rate_limited`]
    /// ([`Stacking`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use steadfast::ratelimit;
    /// use steadfast_std::ratelimit::KeyedRateLimiter;
    /// use steadfast_std::tower::KeyedRateLimitLayer;
    /// let limiter = Arc::new(KeyedRateLimiter::<String>::new("tenants", ratelimit::Config::per_second(10), 1000)?);
    /// let layer = KeyedRateLimitLayer::new(limiter, |tenant: &String| tenant.clone()).stacked();
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn stacked(self) -> KeyedRateLimitLayer<K, F, Stacked> {
        KeyedRateLimitLayer {
            limiter: self.limiter,
            key: self.key,
            report: self.report,
            mode: PhantomData,
        }
    }
}

impl<K: Hash + Eq + Clone, F, M> KeyedRateLimitLayer<K, F, M> {
    /// Reports each refusal to `observer` under the limiter's name.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.report = Some(Report::layer(
            observer,
            self.limiter.name_arc(),
            LayerKind::RateLimiter,
        ));
        self
    }
}

impl<S, K, F: Clone, M> Layer<S> for KeyedRateLimitLayer<K, F, M> {
    type Service = KeyedRateLimitService<S, K, F, M>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedRateLimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind a [`KeyedRateLimitLayer`].
pub struct KeyedRateLimitService<S, K, F, M = Direct> {
    inner: S,
    layer: KeyedRateLimitLayer<K, F, M>,
}

impl<S: Clone, K, F: Clone, M> Clone for KeyedRateLimitService<S, K, F, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, K, F, M> fmt::Debug for KeyedRateLimitService<S, K, F, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimitService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, K, F, M, Req> Service<Req> for KeyedRateLimitService<S, K, F, M>
where
    S: Service<Req>,
    K: Hash + Eq + Clone,
    F: Fn(&Req) -> K,
    M: Stacking<S::Error>,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = RateLimitFuture<S::Future, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let admission = self.layer.limiter.check(&(self.layer.key)(&req));
        RateLimitFuture::new(admission, &mut self.inner, req, self.layer.report.as_ref())
    }
}

pin_project! {
    /// The response future of a rate-limited service: the inner future, or
    /// the refusal.
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct RateLimitFuture<F, M = Direct> {
        #[pin]
        inner: Option<F>,
        refused: Option<Refused>,
        mode: PhantomData<fn() -> M>,
    }
}

impl<F, M> RateLimitFuture<F, M> {
    /// Calls `inner` if admitted; otherwise reports the refusal and answers it.
    fn new<S, Req>(
        admission: Result<(), Refused>,
        inner: &mut S,
        req: Req,
        report: Option<&Report>,
    ) -> Self
    where
        S: Service<Req, Future = F>,
    {
        match admission {
            Ok(()) => Self {
                inner: Some(inner.call(req)),
                refused: None,
                mode: PhantomData,
            },
            Err(refused) => {
                if let Some(r) = report {
                    r.refused(Reason::RateLimited {
                        retry_at: refused.retry_at,
                    });
                }
                Self {
                    inner: None,
                    refused: Some(refused),
                    mode: PhantomData,
                }
            }
        }
    }
}

impl<F, M, T, E> Future for RateLimitFuture<F, M>
where
    F: Future<Output = Result<T, E>>,
    M: Stacking<E>,
{
    type Output = Result<T, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(refused) = this.refused.take() {
            return Poll::Ready(Err(Error::rate_limited(refused.retry_at)));
        }
        match this.inner.as_mut().as_pin_mut() {
            Some(inner) => {
                let result = std::task::ready!(inner.poll(cx));
                this.inner.set(None);
                Poll::Ready(result.map_err(M::lift))
            }
            // Answered already: stays pending.
            None => Poll::Pending,
        }
    }
}
