//! [`CacheLayer`]: the last good response per key, served when a request fails
//! or is refused.

use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use steadfast::outcome::{Classify, ErrorsFail, Outcome};
use steadfast::pipeline::{Failure, FallbackOn, Reason};
use tower::{Layer, Service};

use super::report::Report;
use super::{Direct, Stacked, Stacking};
use crate::cache::{Cached, LastGood};
use crate::observer::LayerKind;
use crate::{Error, Observer};

/// Serves each request's last good response from a [`LastGood`] cache when
/// the service fails or refuses it: the tower form of
/// [`Policy::call_cached`](crate::Policy::call_cached). Every response is a
/// [`Cached`]: `stale: false` when the service answered it, `stale: true`
/// with its [`age`](Cached::age) when it came from the cache (the seeds'
/// `IsFromCache`).
///
/// The rules, per request (`key` is the layer's key function applied to the
/// request before it is sent):
///
/// * **Fresh.** A result the classifier `C` calls a success (by default every
///   `Ok`) is stored for the key and answered `stale: false`. A result it
///   ignores is answered as it is and not stored.
/// * **Served from the cache.** A result it calls a failure or a timeout,
///   failing in a way the layer's [`FallbackOn`] covers, is answered by the
///   key's value if that is at most [`max_staleness`](LastGood::max_staleness)
///   old (inclusive), and counted as a fallback under the cache's name
///   ([`Observer::on_fallback`], `fallback_invocations_total`). The rule
///   is [`FallbackOn::AnyFailure`] by default: every failure, timeout and
///   refusal; [`FallbackOn::Rejection`] serves only refusals (a breaker open,
///   a bulkhead full, a rate limit: what an inner layer built with
///   `stacked()` reports), so that a dependency's own errors reach the
///   caller.
/// * **Not served.** Without a servable value, or for a failure the rule does
///   not cover (and never for a cancelled request), the result is answered as
///   the service returned it: the error, or the value that the classifier
///   failed (`stale: false`).
///
/// Over other steadfast layers, build it with [`stacked`](CacheLayer::stacked):
/// their [`Error`] passes through, and a refusal is recognised by its
/// [`Reason`].
///
/// ```
/// use std::time::Duration;
/// use steadfast_std::cache::LastGood;
/// use steadfast_std::tower::{BreakerLayer, CacheLayer};
/// use steadfast_std::SharedBreaker;
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let breaker = SharedBreaker::new("prices", Default::default())?;
///     let prices = LastGood::new("prices-cache", 1_000, Duration::from_secs(300))?;
///     let mut svc = ServiceBuilder::new()
///         .layer(CacheLayer::new(prices, |symbol: &&'static str| symbol.to_string()).stacked())
///         .layer(BreakerLayer::new(breaker.clone()))
///         .service(service_fn(|symbol: &'static str| async move { Ok::<u32, std::io::Error>(symbol.len() as u32 * 100) }));
///
///     let fresh = svc.ready().await?.call("ACME").await?;
///     assert_eq!((fresh.value, fresh.stale), (400, false));
///
///     let _ = breaker.force_open(); // the price service is down
///     tokio::time::advance(Duration::from_secs(42)).await;
///     let served = svc.ready().await?.call("ACME").await?;
///     assert_eq!((served.value, served.stale), (400, true)); // IsFromCache
///     assert_eq!(served.age, steadfast::time::Duration::from_secs(42));
///
///     // Nothing cached for this key: the breaker's refusal is the answer.
///     assert!(svc.ready().await?.call("NEW").await.unwrap_err().is_rejection());
///     Ok(())
/// }
/// ```
pub struct CacheLayer<K, V, F, C = ErrorsFail, M = Direct> {
    cache: LastGood<K, V>,
    key: F,
    on: FallbackOn,
    classifier: C,
    report: Option<Report>,
    mode: PhantomData<fn() -> M>,
}

impl<K, V, F: Clone, C: Clone, M> Clone for CacheLayer<K, V, F, C, M> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
            key: self.key.clone(),
            on: self.on,
            classifier: self.classifier.clone(),
            report: self.report.clone(),
            mode: PhantomData,
        }
    }
}

impl<K, V, F, C, M> std::fmt::Debug for CacheLayer<K, V, F, C, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheLayer")
            .field("cache", &self.cache)
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

impl<K, V, F> CacheLayer<K, V, F> {
    /// A layer keeping the last good response of each key in `cache`, the
    /// key of a request being `key(&request)`; every failure served from the
    /// cache ([`FallbackOn::AnyFailure`]), every `Err` a failure.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::cache::LastGood;
    /// use steadfast_std::tower::CacheLayer;
    ///
    /// let users = LastGood::<u64, String>::new("users-cache", 10_000, Duration::from_secs(60))?;
    /// let layer = CacheLayer::new(users, |id: &u64| *id);
    /// assert_eq!(layer.cache().name(), "users-cache");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new<Req>(cache: LastGood<K, V>, key: F) -> Self
    where
        F: Fn(&Req) -> K,
    {
        Self {
            cache,
            key,
            on: FallbackOn::AnyFailure,
            classifier: ErrorsFail,
            report: None,
            mode: PhantomData,
        }
    }

    /// For a cache over other steadfast layers: their [`Error`] passes
    /// through unchanged ([`Stacking`]), and which failures the cache
    /// answers is read from its [`Reason`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::cache::LastGood;
    /// use steadfast_std::tower::CacheLayer;
    ///
    /// let layer = CacheLayer::new(LastGood::<u8, u8>::new("c", 8, Duration::from_secs(1))?, |k: &u8| *k).stacked();
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn stacked(self) -> CacheLayer<K, V, F, ErrorsFail, Stacked> {
        CacheLayer {
            cache: self.cache,
            key: self.key,
            on: self.on,
            classifier: self.classifier,
            report: self.report,
            mode: PhantomData,
        }
    }
}

impl<K, V, F, C, M> CacheLayer<K, V, F, C, M> {
    /// Which failures the cache answers: [`FallbackOn::AnyFailure`] (the
    /// default) or [`FallbackOn::Rejection`] (only refusals by inner
    /// layers); [`FallbackOn::Never`] stores fresh values and serves none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::pipeline::FallbackOn;
    /// use steadfast_std::cache::LastGood;
    /// use steadfast_std::tower::CacheLayer;
    ///
    /// let layer = CacheLayer::new(LastGood::<u8, u8>::new("c", 8, Duration::from_secs(1))?, |k: &u8| *k)
    ///     .stacked()
    ///     .serving(FallbackOn::Rejection);
    /// assert_eq!(layer.serves(), FallbackOn::Rejection);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn serving(mut self, on: FallbackOn) -> Self {
        self.on = on;
        self
    }

    /// Which failures the cache answers.
    pub fn serves(&self) -> FallbackOn {
        self.on
    }

    /// Decides which results are good (stored), failed (the cache may
    /// answer) or neither with `classifier`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::outcome::Verdict;
    /// use steadfast_std::cache::LastGood;
    /// use steadfast_std::tower::CacheLayer;
    ///
    /// // An HTTP status: 5xx is the dependency failing, 404 is an answer not worth keeping.
    /// let layer = CacheLayer::new(LastGood::<u8, u16>::new("c", 8, Duration::from_secs(1))?, |k: &u8| *k)
    ///     .with_classifier(|r: &Result<u16, std::io::Error>| match r {
    ///         Ok(500..) | Err(_) => Verdict::failure(),
    ///         Ok(404) => Verdict::ignored(),
    ///         Ok(_) => Verdict::success(),
    ///     });
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_classifier<C2>(self, classifier: C2) -> CacheLayer<K, V, F, C2, M> {
        CacheLayer {
            cache: self.cache,
            key: self.key,
            on: self.on,
            classifier,
            report: self.report,
            mode: PhantomData,
        }
    }

    /// Reports each answer served from the cache to `observer` under the
    /// cache's name (`fallback_invocations_total{name="<cache>"}`, an
    /// `INFO` line), the series registered at once.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use steadfast_std::cache::LastGood;
    /// use steadfast_std::tower::CacheLayer;
    ///
    /// let layer = CacheLayer::new(LastGood::<u8, u8>::new("c", 8, Duration::from_secs(1))?, |k: &u8| *k)
    ///     .with_observer(Arc::new(steadfast_std::observe::Standard));
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        let name: Arc<str> = Arc::from(self.cache.name());
        self.report = Some(Report::layer(observer, name, LayerKind::Cache));
        self
    }

    /// The cache.
    pub fn cache(&self) -> &LastGood<K, V> {
        &self.cache
    }
}

impl<S, K, V, F: Clone, C: Clone, M> Layer<S> for CacheLayer<K, V, F, C, M> {
    type Service = CacheService<S, K, V, F, C, M>;

    fn layer(&self, inner: S) -> Self::Service {
        CacheService {
            inner,
            cache: self.cache.clone(),
            key: self.key.clone(),
            on: self.on,
            classifier: self.classifier.clone(),
            report: self.report.clone(),
            mode: PhantomData,
        }
    }
}

/// A service whose responses are kept and served from a [`LastGood`] cache
/// (see [`CacheLayer`]).
pub struct CacheService<S, K, V, F, C = ErrorsFail, M = Direct> {
    inner: S,
    cache: LastGood<K, V>,
    key: F,
    on: FallbackOn,
    classifier: C,
    report: Option<Report>,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, K, V, F: Clone, C: Clone, M> Clone for CacheService<S, K, V, F, C, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            cache: self.cache.clone(),
            key: self.key.clone(),
            on: self.on,
            classifier: self.classifier.clone(),
            report: self.report.clone(),
            mode: PhantomData,
        }
    }
}

impl<S, K, V, F, C, M> std::fmt::Debug for CacheService<S, K, V, F, C, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheService")
            .field("cache", &self.cache)
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

impl<S, K, V, F, C, M, Req> Service<Req> for CacheService<S, K, V, F, C, M>
where
    S: Service<Req, Response = V>,
    K: Eq + Hash + Clone,
    V: Clone,
    F: Fn(&Req) -> K,
    C: Classify<V, S::Error> + Clone,
    M: Stacking<S::Error>,
{
    type Response = Cached<V>;
    type Error = Error<M::Operation>;
    type Future = CacheFuture<S::Future, K, V, C, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = (self.key)(&req);
        CacheFuture {
            inner: self.inner.call(req),
            settle: Some(Settle {
                cache: self.cache.clone(),
                key,
                on: self.on,
                classifier: self.classifier.clone(),
                report: self.report.clone(),
            }),
            mode: PhantomData,
        }
    }
}

pin_project! {
    /// The response future of a [`CacheService`]: the inner future, then the
    /// cache's answer.
    #[must_use = "futures do nothing unless polled"]
    pub struct CacheFuture<Fut, K, V, C = ErrorsFail, M = Direct> {
        #[pin]
        inner: Fut,
        settle: Option<Settle<K, V, C>>,
        mode: PhantomData<fn() -> M>,
    }
}

impl<Fut, K, V, C, M> std::fmt::Debug for CacheFuture<Fut, K, V, C, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheFuture")
            .field("answered", &self.settle.is_none())
            .finish_non_exhaustive()
    }
}

/// What a request needs to settle its answer against the cache.
struct Settle<K, V, C> {
    cache: LastGood<K, V>,
    key: K,
    on: FallbackOn,
    classifier: C,
    report: Option<Report>,
}

impl<K: Eq + Hash + Clone, V: Clone, C> Settle<K, V, C> {
    fn answer<E, M: Stacking<E>>(
        self,
        result: Result<V, E>,
    ) -> Result<Cached<V>, Error<M::Operation>>
    where
        C: Classify<V, E>,
    {
        let outcome = self.classifier.classify(&result).outcome;
        let result = result.map_err(M::lift);
        let reason = match (&result, outcome) {
            (Ok(value), Outcome::Success) => {
                self.cache.store(self.key, value.clone());
                return result.map(Cached::fresh);
            }
            (_, Outcome::Success | Outcome::Ignored) => return result.map(Cached::fresh),
            (Err(error), _) => error.reason(),
            (Ok(_), Outcome::TimedOut) => Reason::AttemptTimedOut,
            (Ok(_), Outcome::Failure) => Reason::Operation,
        };
        let failure = Failure::new(reason, result.as_ref().err().map_or(1, Error::attempts));
        if !self.on.covers(&failure) {
            return result.map(Cached::fresh);
        }
        match self.cache.get(&self.key) {
            Some(served) => {
                if let Some(report) = &self.report {
                    report.fallback(&failure);
                }
                Ok(served)
            }
            None => result.map(Cached::fresh),
        }
    }
}

impl<Fut, K, V, C, M, E> Future for CacheFuture<Fut, K, V, C, M>
where
    Fut: Future<Output = Result<V, E>>,
    K: Eq + Hash + Clone,
    V: Clone,
    C: Classify<V, E>,
    M: Stacking<E>,
{
    type Output = Result<Cached<V>, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Answered already: pending, as a finished future may be.
        if this.settle.is_none() {
            return Poll::Pending;
        }
        let result = std::task::ready!(this.inner.poll(cx));
        match this.settle.take() {
            Some(settle) => Poll::Ready(settle.answer::<E, M>(result)),
            None => Poll::Pending,
        }
    }
}
