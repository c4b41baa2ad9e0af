//! tower integration (feature `tower`): one [`Layer`] per pattern, a layer
//! for the whole pipeline, and a [`tower::retry::Policy`].
//!
//! | layer | service | what it does | rejects with |
//! |---|---|---|---|
//! | [`BreakerLayer`] | [`BreakerService`] | a [`SharedBreaker`](crate::SharedBreaker) admits or refuses each request, then learns its classified outcome | [`Error::rejected`] |
//! | [`BulkheadLayer`] | [`BulkheadService`] | a [`SharedBulkhead`](crate::SharedBulkhead) bounds concurrent requests, with its FIFO queue and max wait | [`Error::bulkhead_full()`] |
//! | [`AdaptiveLimitLayer`] | [`AdaptiveLimitService`] | a [`SharedAdaptiveLimit`](crate::adaptive::SharedAdaptiveLimit) bounds concurrent requests by a limit that follows the dependency's latency and drops (AIMD, Vegas); no queue | [`Error::bulkhead_full()`] |
//! | [`HedgeLayer`] | [`HedgeService`] | hedged requests, for operations safe to repeat: after a [`SharedHedger`](crate::hedge::SharedHedger)'s delay (fixed or a latency percentile) another attempt starts beside the first, up to the cap, paid by an optional [`SharedBudget`](crate::SharedBudget); the first success wins, the others are cancelled | the last failed attempt's own |
//! | [`TimeoutLayer`] | [`TimeoutService`] | a deadline per request on steadfast's clock; the response future is dropped when it passes | [`Error::timed_out()`] |
//! | [`RetryLayer`] | [`RetryService`] | retries by the core's backoff, attempts, hints and an optional [`SharedBudget`](crate::SharedBudget) | [`Error::retries_exhausted`] |
//! | [`RateLimitLayer`] | [`RateLimitService`] | a [`SharedRateLimiter`](crate::ratelimit::SharedRateLimiter) (GCRA) admits or refuses each request | [`Error::rate_limited`] |
//! | [`KeyedRateLimitLayer`] | [`KeyedRateLimitService`] | a limit per key taken from the request (tenant, client), memory bounded | [`Error::rate_limited`] |
//! | [`ThrottleLayer`] | [`ThrottleService`] | a [`SharedThrottle`](crate::throttle::SharedThrottle) refuses requests locally while the dependency refuses work (the SRE book's adaptive throttling) | [`Error::throttled`] |
//! | [`ChaosLayer`] | [`ChaosService`] | injects faults (errors, hangs, replaced outcomes, latency) for failure drills, as the core's [`Chaos`](steadfast::chaos::Chaos) machine decides; off unless enabled; innermost | the inner service's own (injected) |
//! | `CacheLayer` | `CacheService` | (feature `cache`) the last good response per key, kept in a `cache::LastGood` and served, marked stale with its age, when a request fails or is refused, up to a maximum staleness | the inner service's own, when nothing servable is cached |
//! | [`PolicyLayer`] | [`PolicyService`] | the whole [`Policy`] pipeline (all of the above, in the core's order, plus fallback rules) | any |
//!
//! Every layer reports to an [`Observer`](crate::Observer) given with its
//! `with_observer` (transitions, refusals, retries, timeouts, latencies and
//! bulkhead occupancy, as a [`Policy`] reports them, so the `metrics` and
//! `tracing` observers of [`observe`](crate::observe) cover the tower path);
//! a `Registry` hands out layers already wired to its observer
//! (`breaker_layer`, `bulkhead_layer`, `retry_layer`, `timeout_layer`,
//! `adaptive_limit_layer`, `hedge_layer`, ...).
//!
//! Compared with tower-resilience's layers:
//!
//! * **Nothing allocates per request.** Each service's future is a named,
//!   pin-projected type; the breaker and timeout layers take no lock beyond the
//!   breaker's own, and a bulkhead request that gets a slot at once neither
//!   parks nor clones the inner service. (A `HedgeLayer` boxes each hedge it
//!   starts; a request answered before its hedge delay allocates nothing.)
//! * **Nothing leaks under cancellation.** A breaker permit and a bulkhead slot
//!   or queue place live inside the response future: dropping the future at any
//!   point cancels the permit (a half-open probe slot comes back) and releases
//!   the slot or leaves the queue (a slot already granted passes to the next
//!   waiter); an adaptive limit's permit is cancelled (its slot comes back,
//!   nothing is learnt), and a hedged request's attempts are all dropped.
//! * **Time is steadfast's** ([`crate::time::now`], the Tokio clock): under
//!   `#[tokio::test(start_paused = true)]` every deadline, queue wait, break
//!   and backoff is exact and repeatable.
//! * **Exact rules from the core**: inclusive deadlines, FIFO queue grants, a
//!   queue of 0 rejecting at once, stale breaker permits ignored, exact retry
//!   budget accounting, jitter never above the backoff cap.
//!
//! # One error type for a stack
//!
//! A layer built with `new` wraps the dependency itself and answers
//! `Error<E>`, the dependency's error as [`Error::operation`]. A layer *over*
//! other steadfast layers is built with `stacked()` ([`Stacked`]): the inner
//! layer's `Error<E>` passes through unchanged and its own refusals,
//! timeouts and give-ups join it — so the whole stack answers `Error<E>`,
//! with `E` the dependency's error, and [`Error::reason`] says which layer
//! ended the request. A stacked breaker or retry layer judges results with
//! [`RejectionsIgnored`]: an inner bulkhead's refusal is not the dependency
//! failing (and is not retried), an inner timeout counts as a timeout.
//!
//! ```
//! use std::time::Duration;
//! use steadfast::bulkhead::Config as BulkheadConfig;
//! use steadfast_std::tower::{BreakerLayer, BulkheadLayer, RetryLayer, TimeoutLayer};
//! use steadfast_std::{Error, SharedBreaker, SharedBulkhead};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let breaker = SharedBreaker::new("users", Default::default())?;
//!     let pool = SharedBulkhead::new("users", BulkheadConfig::DEFAULT.with_max_concurrent(8).with_max_queue(32).with_max_wait(steadfast::time::Duration::from_millis(50)))?;
//!     let mut svc = ServiceBuilder::new()
//!         // outermost: retries, then the breaker judging what the layers below report
//!         .layer(RetryLayer::new(Default::default())?.stacked())
//!         .layer(BreakerLayer::new(breaker.clone()).stacked())
//!         .layer(BulkheadLayer::new(pool).stacked())
//!         // innermost: wraps the dependency
//!         .layer(TimeoutLayer::new(Duration::from_millis(200)))
//!         .service(service_fn(|id: u32| async move { Ok::<_, std::io::Error>(format!("user {id}")) }));
//!     // One level, whatever the depth.
//!     let answer: Result<String, Error<std::io::Error>> = svc.ready().await?.call(7).await;
//!     assert_eq!(answer?, "user 7");
//!     assert_eq!(breaker.stats().successes, 1);
//!     Ok(())
//! }
//! ```
//!
//! Layers built with `new` still stack (`Error<Error<E>>`, one level each);
//! [`Error::flatten`] removes one level.
//!
//! [`PolicyLayer`] runs the same patterns as one pipeline, with one error level
//! and the core's order and retry rules between them (a breaker rejection is
//! not retried blindly); prefer it when you want all of them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use steadfast::outcome::{Classify, ErrorsFail, Verdict};
use steadfast::pipeline::{self, Reason};
use tower::{Layer, Service};

use crate::asynchronous::{Attempts, Run};
use crate::policy::{Driver, Owned, answer};
use crate::{Error, Policy, time};

mod adaptive;
mod breaker;
mod bulkhead;
#[cfg(feature = "cache")]
mod cache;
mod chaos;
mod hedge;
mod ratelimit;
mod report;
mod retry;
mod stack;
mod throttle;
mod timeout;

pub use adaptive::{AdaptiveLimitFuture, AdaptiveLimitLayer, AdaptiveLimitService};
pub use breaker::{BreakerFuture, BreakerLayer, BreakerService};
pub use bulkhead::{BulkheadFuture, BulkheadLayer, BulkheadService};
#[cfg(feature = "cache")]
pub use cache::{CacheFuture, CacheLayer, CacheService};
pub use chaos::{ChaosFuture, ChaosLayer, ChaosService, ChaosSwitch};
pub use hedge::{HedgeFuture, HedgeLayer, HedgeService};
pub use ratelimit::{
    KeyedRateLimitLayer, KeyedRateLimitService, RateLimitFuture, RateLimitLayer, RateLimitService,
};
pub use retry::{DEFAULT_TOTAL_TIMEOUT, RetryFuture, RetryLayer, RetryPolicy, RetryService};
pub use stack::{Direct, Stacked, Stacking};
pub use throttle::{ThrottleFuture, ThrottleLayer, ThrottleService};
pub use timeout::{TimeoutFuture, TimeoutLayer, TimeoutService};

/// A classifier for a breaker or retry layer stacked over other steadfast layers
/// (results of type `Result<T, Error<E>>`):
///
/// | result | verdict |
/// |---|---|
/// | `Ok(_)` | success |
/// | `Err(e)` with `e.is_rejection()` (breaker open, bulkhead full, queue wait expired) | ignored, not retryable: the dependency was not called (a half-open probe gives its slot back) |
/// | `Err(e)` with reason `AttemptTimedOut` | timed out (a failure; retried if the retry config retries timeouts) |
/// | any other `Err` | failure, retryable |
///
/// ```
/// use steadfast::outcome::{Classify, Outcome, Verdict};
/// use steadfast_std::Error;
/// use steadfast_std::tower::RejectionsIgnored;
///
/// let full: Result<(), Error<()>> = Err(Error::bulkhead_full());
/// assert_eq!(RejectionsIgnored.classify(&full).outcome, Outcome::Ignored);
/// let late: Result<(), Error<()>> = Err(Error::timed_out());
/// assert_eq!(RejectionsIgnored.classify(&late), Verdict::timed_out());
/// assert_eq!(RejectionsIgnored.classify(&Err::<(), _>(Error::operation(()))), Verdict::failure());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RejectionsIgnored;

impl<T, E> Classify<T, Error<E>> for RejectionsIgnored {
    fn classify(&self, result: &Result<T, Error<E>>) -> Verdict {
        match result {
            Ok(_) => Verdict::success(),
            Err(e) if e.is_rejection() => Verdict::ignored().not_retryable(),
            Err(e) if e.reason() == Reason::AttemptTimedOut => Verdict::timed_out(),
            Err(_) => Verdict::failure(),
        }
    }
}

impl<E> Error<Error<E>> {
    /// Removes one level of nesting, as stacked tower layers produce: the
    /// inner layer's error replaces `Operation`, and `RetriesExhausted`'s last
    /// error keeps only an operation error (an inner rejection or timeout as
    /// the last attempt's error becomes `last: None`).
    ///
    /// ```
    /// use steadfast_std::Error;
    /// let nested: Error<Error<&str>> = Error::operation(Error::timed_out());
    /// assert_eq!(nested.flatten(), Error::timed_out());
    /// let nested: Error<Error<&str>> = Error::operation(Error::operation("down"));
    /// assert_eq!(nested.flatten(), Error::operation("down"));
    /// let nested: Error<Error<&str>> = Error::retries_exhausted(3, Some(Error::bulkhead_full()));
    /// assert_eq!(nested.flatten(), Error::retries_exhausted(3, None));
    /// ```
    pub fn flatten(self) -> Error<E> {
        let breaker = self.name();
        let error = self.into_inner();
        let flat = match (error.reason, error.last) {
            (Reason::Operation, Some(inner)) => return inner,
            (reason, last) => Error::new(pipeline::Error::new(
                reason,
                error.attempts,
                last.and_then(Error::into_operation),
            )),
        };
        match breaker {
            Some(name) => flat.named(name),
            None => flat,
        }
    }
}

/// How a [`PolicyService`] sends a request to each attempt.
///
/// * [`Cloned`] (the default): every attempt sends a clone (`Req: Clone`).
/// * [`Once`]: the request itself goes to the one attempt there is — for a
///   request that cannot be cloned (`reqwest::Request`, a request with a
///   streaming body), under a policy that makes one attempt
///   ([`PolicyLayer::once`] checks it): the breaker, bulkhead, timeouts and
///   fallback rules still apply.
/// * [`TryCloned`]: every attempt sends a copy made by a function that may
///   fail (`reqwest::Request::try_clone`, which cannot copy a streaming
///   body); a request that cannot be copied goes, itself, to one attempt
///   ([`PolicyLayer::try_clone`]).
///
/// A request that can only be *re-created* needs no mode of its own: put the
/// policy over a request *description* that is `Clone` and build the request
/// below it (`ServiceBuilder::new().layer(PolicyLayer::new(policy)).map_request(build)`,
/// as the crate's README shows).
pub trait RequestMode: sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

/// Every attempt sends a clone of the request (see [`RequestMode`]).
///
/// ```
/// let layer: steadfast_std::tower::PolicyLayer<_, steadfast_std::tower::Cloned> =
///     steadfast_std::tower::PolicyLayer::new(steadfast_std::Policy::builder(Default::default())?.build());
/// # let _ = layer;
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cloned;

/// The request itself goes to the policy's one attempt (see [`RequestMode`]).
///
/// ```
/// use steadfast::pipeline;
/// use steadfast::retry;
/// let policy = steadfast_std::Policy::builder(
///     pipeline::Config::default().with_retry(retry::Config::default().with_max_attempts(1)),
/// )?.build();
/// let layer: steadfast_std::tower::PolicyLayer<_, steadfast_std::tower::Once> =
///     steadfast_std::tower::PolicyLayer::once(policy)?;
/// # let _ = layer;
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Once;

/// Every attempt sends a copy made by a function that may fail (see
/// [`RequestMode`] and [`PolicyLayer::try_clone`]).
#[derive(Clone)]
pub struct TryCloned<F, C = ErrorsFail> {
    copy: F,
    /// The same policy making one attempt, for a request that cannot be copied.
    single: Policy<C>,
}

impl<F, C> std::fmt::Debug for TryCloned<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TryCloned").finish_non_exhaustive()
    }
}

impl sealed::Sealed for Cloned {}
impl sealed::Sealed for Once {}
impl<F, C> sealed::Sealed for TryCloned<F, C> {}
impl RequestMode for Cloned {}
impl RequestMode for Once {}
impl<F, C> RequestMode for TryCloned<F, C> {}

/// Wraps a service in a [`Policy`].
///
/// ```
/// use steadfast::pipeline;
/// use steadfast_std::Policy;
/// use steadfast_std::tower::PolicyLayer;
/// use tower::{Layer, Service, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let policy = Policy::builder(pipeline::Config::default()).expect("a valid config").build();
///     let mut svc = PolicyLayer::new(policy).layer(service_fn(|n: u32| async move { Ok::<_, ()>(n * 2) }));
///     assert_eq!(svc.call(21).await.unwrap(), 42);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct PolicyLayer<C = ErrorsFail, R = Cloned> {
    policy: Policy<C>,
    send: R,
}

impl<C> PolicyLayer<C> {
    /// A layer running every request through `policy`, each attempt sending
    /// a clone of the request ([`Cloned`]).
    ///
    /// ```
    /// let layer = steadfast_std::tower::PolicyLayer::new(steadfast_std::Policy::builder(Default::default())?.build());
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(policy: Policy<C>) -> Self {
        Self {
            policy,
            send: Cloned,
        }
    }
}

impl<C: Clone> PolicyLayer<C> {
    /// A layer for requests that can be copied only sometimes
    /// ([`TryCloned`]), as `reqwest::Request::try_clone` copies a request
    /// unless its body is a stream: each attempt sends a copy made by
    /// `copy`, keeping the request for the next one. A request whose first
    /// copy fails goes, itself, to one attempt under the same breaker,
    /// bulkhead, timeouts, budget and observer (there is nothing to retry
    /// with). `copy` is expected to answer the same way for one request every
    /// time; should a later copy fail, the request itself goes to that
    /// attempt, and an attempt after it would find nothing to send and wait
    /// for its attempt timeout.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
    /// use steadfast_std::tower::PolicyLayer;
    /// use tower::{Layer, Service, ServiceExt, service_fn};
    ///
    /// /// A request whose body may be a stream (as `reqwest::Request`).
    /// struct Request { body: Option<String> }
    /// impl Request {
    ///     fn try_clone(&self) -> Option<Request> { Some(Request { body: Some(self.body.clone()?) }) }
    /// }
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     tokio::time::pause();
    ///     let sent = Arc::new(AtomicU32::new(0));
    ///     let s = sent.clone();
    ///     let down = service_fn(move |_: Request| {
    ///         s.fetch_add(1, Ordering::Relaxed);
    ///         async { Err::<(), _>(std::io::Error::other("503")) }
    ///     });
    ///     let policy = steadfast_std::Policy::builder(Default::default())?.build(); // 3 attempts
    ///     let mut svc = PolicyLayer::try_clone(policy, Request::try_clone).layer(down);
    ///     // A body in memory: copied for every attempt.
    ///     let _ = svc.ready().await?.call(Request { body: Some("{}".into()) }).await;
    ///     assert_eq!(sent.swap(0, Ordering::Relaxed), 3);
    ///     // A streaming body: sent once.
    ///     let answer = svc.ready().await?.call(Request { body: None }).await;
    ///     assert_eq!(answer.unwrap_err().attempts(), 1);
    ///     assert_eq!(sent.load(Ordering::Relaxed), 1);
    ///     Ok(())
    /// }
    /// ```
    pub fn try_clone<F, Req>(policy: Policy<C>, copy: F) -> PolicyLayer<C, TryCloned<F, C>>
    where
        F: Fn(&Req) -> Option<Req>,
    {
        PolicyLayer {
            send: TryCloned {
                copy,
                single: policy.single_attempt(),
            },
            policy,
        }
    }
}

impl<C> PolicyLayer<C, Once> {
    /// A layer for requests that cannot be cloned ([`Once`]): `policy` must
    /// make one attempt (`max_attempts = 1`), so the request itself goes to
    /// it; refused, naming `max_attempts`, otherwise.
    ///
    /// ```
    /// use steadfast_std::tower::PolicyLayer;
    /// let retrying = steadfast_std::Policy::builder(Default::default())?.build(); // 3 attempts
    /// let err = PolicyLayer::once(retrying).unwrap_err();
    /// assert_eq!(err.field, "max_attempts");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn once(policy: Policy<C>) -> Result<Self, steadfast::error::ConfigError> {
        if policy.config().retry().max_attempts() != 1 {
            return Err(steadfast::error::ConfigError {
                field: "max_attempts",
                problem: "a request that cannot be cloned is sent once: the policy must make one attempt",
            });
        }
        Ok(Self { policy, send: Once })
    }
}

impl<S, C: Clone, R: RequestMode + Clone> Layer<S> for PolicyLayer<C, R> {
    type Service = PolicyService<S, C, R>;
    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            policy: self.policy.clone(),
            send: self.send.clone(),
        }
    }
}

/// A service whose calls go through a [`Policy`]. With [`Cloned`] (the
/// default) requests must be `Clone` (each attempt sends a clone); with
/// [`Once`] ([`PolicyLayer::once`]) any request goes, itself, to the policy's
/// one attempt; with [`TryCloned`] ([`PolicyLayer::try_clone`]) each attempt
/// sends a copy while one can be made. The inner service is cloned per call.
///
/// ```
/// use steadfast_std::tower::PolicyService;
/// use tower::service_fn;
/// let svc = PolicyService::new(service_fn(|_: ()| async { Ok::<_, ()>(()) }), steadfast_std::Policy::builder(Default::default())?.build());
/// # let _ = svc;
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct PolicyService<S, C = ErrorsFail, R = Cloned> {
    inner: S,
    policy: Policy<C>,
    send: R,
}

impl<S, C> PolicyService<S, C> {
    /// Wraps `inner`.
    ///
    /// ```
    /// # use steadfast_std::tower::PolicyService;
    /// # use tower::service_fn;
    /// let svc = PolicyService::new(service_fn(|_: ()| async { Ok::<_, ()>(()) }), steadfast_std::Policy::builder(Default::default())?.build());
    /// # let _ = svc;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(inner: S, policy: Policy<C>) -> Self {
        Self {
            inner,
            policy,
            send: Cloned,
        }
    }
}

impl<S, C, Req> Service<Req> for PolicyService<S, C, Cloned>
where
    S: Service<Req> + Clone,
    C: Classify<S::Response, S::Error> + Clone,
    Req: Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = PolicyFuture<S, C, Req, fn(&Req) -> Option<Req>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is awaited per attempt, inside the policy (under its
        // attempt deadline), on a clone of the inner service.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        PolicyFuture::new(
            &self.policy,
            self.inner.clone(),
            Requests {
                first: None,
                original: Some(req),
                copy: Some(|req: &Req| Some(req.clone())),
            },
        )
    }
}

impl<S, C, Req> Service<Req> for PolicyService<S, C, Once>
where
    S: Service<Req> + Clone,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = PolicyFuture<S, C, Req, fn(&Req) -> Option<Req>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // As with `Cloned`: readiness is awaited inside the policy.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // `PolicyLayer::once` admits only policies making one attempt, and a
        // policy's config never changes: no attempt finds the request gone.
        PolicyFuture::new(&self.policy, self.inner.clone(), Requests::once(req))
    }
}

impl<S, C, F, Req> Service<Req> for PolicyService<S, C, TryCloned<F, C>>
where
    S: Service<Req> + Clone,
    C: Classify<S::Response, S::Error> + Clone,
    F: Fn(&Req) -> Option<Req> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = PolicyFuture<S, C, Req, F>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // As with `Cloned`: readiness is awaited inside the policy.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let inner = self.inner.clone();
        match (self.send.copy)(&req) {
            // Cannot be copied: the request itself, to one attempt.
            None => PolicyFuture::new(&self.send.single, inner, Requests::once(req)),
            first => PolicyFuture::new(
                &self.policy,
                inner,
                Requests {
                    first,
                    original: Some(req),
                    copy: Some(self.send.copy.clone()),
                },
            ),
        }
    }
}

/// The requests a call's attempts send: a copy made in advance, then copies
/// of the original while `copy` makes them, then the original itself.
struct Requests<Req, F> {
    first: Option<Req>,
    original: Option<Req>,
    copy: Option<F>,
}

impl<Req, F: Fn(&Req) -> Option<Req>> Requests<Req, F> {
    /// `req` itself, to the first attempt.
    fn once(req: Req) -> Self {
        Self {
            first: Some(req),
            original: None,
            copy: None,
        }
    }

    fn next(&mut self) -> Option<Req> {
        self.first
            .take()
            .or_else(|| {
                let copy = self.copy.as_ref()?;
                copy(self.original.as_ref()?)
            })
            .or_else(|| self.original.take())
    }
}

/// A call's attempts: each a clone of the inner service and the next request.
struct Sends<S, Req, F> {
    inner: S,
    requests: Requests<Req, F>,
}

impl<S: Service<Req> + Clone, Req, F: Fn(&Req) -> Option<Req>> Attempts for Sends<S, Req, F> {
    type Attempt = Attempt<S, Req>;
    fn attempt(&mut self) -> Attempt<S, Req> {
        match self.requests.next() {
            Some(req) => Attempt::Ready {
                svc: self.inner.clone(),
                req: Some(req),
            },
            None => Attempt::Never,
        }
    }
}

pin_project! {
    /// One attempt: the request to the service once it is ready; with no
    /// request, an attempt that never answers (its attempt timeout ends it).
    #[project = AttemptProj]
    enum Attempt<S: Service<Req>, Req> {
        Ready { svc: S, req: Option<Req> },
        Sent { #[pin] answer: S::Future },
        Never,
    }
}

impl<S: Service<Req>, Req> Future for Attempt<S, Req> {
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                AttemptProj::Ready { svc, req } => {
                    ready!(svc.poll_ready(cx))?;
                    let Some(req) = req.take() else {
                        return Poll::Pending;
                    };
                    let answer = svc.call(req);
                    self.set(Self::Sent { answer });
                }
                AttemptProj::Sent { answer } => return answer.poll(cx),
                AttemptProj::Never => return Poll::Pending,
            }
        }
    }
}

pin_project! {
    /// The future of a [`PolicyService`] call: the policy's driver, the
    /// request and the attempt in flight, in one value (nothing is allocated
    /// per request).
    pub struct PolicyFuture<S: Service<Req>, C, Req, F> {
        #[pin]
        run: Run<'static, Owned, C, C, Sends<S, Req, F>, Attempt<S, Req>, Result<S::Response, S::Error>>,
    }
}

impl<S: Service<Req>, C: Clone, Req, F> PolicyFuture<S, C, Req, F> {
    fn new(policy: &Policy<C>, inner: S, requests: Requests<Req, F>) -> Self {
        let driver = Driver::start(Owned(Arc::clone(&policy.inner)), time::now, false, None);
        Self {
            run: Run::new(driver, policy.classifier.clone(), Sends { inner, requests }),
        }
    }
}

impl<S, C, Req, F> Future for PolicyFuture<S, C, Req, F>
where
    S: Service<Req> + Clone,
    C: Classify<S::Response, S::Error>,
    F: Fn(&Req) -> Option<Req>,
{
    type Output = Result<S::Response, Error<S::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut run = self.project().run;
        let (finish, last) = ready!(run.as_mut().poll(cx));
        Poll::Ready(answer(run.policy(), finish, last).into_result())
    }
}

impl<S: Service<Req>, C, Req, F> std::fmt::Debug for PolicyFuture<S, C, Req, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyFuture").finish_non_exhaustive()
    }
}
