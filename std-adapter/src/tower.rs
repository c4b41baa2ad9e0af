//! tower integration (feature `tower`).
//!
//! * [`PolicyLayer`] runs the whole pipeline (retry, timeouts, breaker,
//!   bulkhead, budget, fallback rule) around a [`Service`]: one `Layer`
//!   instead of tower-resilience's stack of per-pattern layers, with the same
//!   decisions as [`Policy::call`] — exact budget accounting, permits released
//!   even when the response future is dropped, deterministic under paused time.
//!   A policy with only a breaker is the breaker layer, only a bulkhead the
//!   bulkhead layer, only timeouts the timeout layer.
//! * [`RetryPolicy`] is a [`tower::retry::Policy`] backed by the core's
//!   backoff and retry rules and an optional shared budget, for stacks built
//!   on `tower::retry::Retry`.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use sturdy::outcome::{Classify, ErrorsFail};
use sturdy::retry::{Retry, RetryConfig, RetryDecision};
use sturdy::rng::{Rng, SplitMix64};
use tower::{Layer, Service};

use crate::{Error, Policy, SharedBudget, time};

/// Wraps a service in a [`Policy`].
///
/// ```
/// use sturdy::pipeline::PipelineConfig;
/// use sturdy_std::Policy;
/// use sturdy_std::tower::PolicyLayer;
/// use tower::{Layer, Service, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let policy = Policy::builder(PipelineConfig::default()).build();
///     let mut svc = PolicyLayer::new(policy).layer(service_fn(|n: u32| async move { Ok::<_, ()>(n * 2) }));
///     assert_eq!(svc.call(21).await.unwrap(), 42);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct PolicyLayer<C = ErrorsFail> {
    policy: Policy<C>,
}

impl<C> PolicyLayer<C> {
    /// A layer running every request through `policy`.
    ///
    /// ```
    /// let layer = sturdy_std::tower::PolicyLayer::new(sturdy_std::Policy::builder(Default::default()).build());
    /// # let _ = layer;
    /// ```
    pub fn new(policy: Policy<C>) -> Self {
        Self { policy }
    }
}

impl<S, C: Clone> Layer<S> for PolicyLayer<C> {
    type Service = PolicyService<S, C>;
    fn layer(&self, inner: S) -> Self::Service {
        PolicyService {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// A service whose calls go through a [`Policy`]. Requests must be `Clone`
/// (each attempt sends a clone); the inner service is cloned per call.
///
/// ```
/// use sturdy_std::tower::PolicyService;
/// use tower::service_fn;
/// let svc = PolicyService::new(service_fn(|_: ()| async { Ok::<_, ()>(()) }), sturdy_std::Policy::builder(Default::default()).build());
/// # let _ = svc;
/// ```
#[derive(Clone, Debug)]
pub struct PolicyService<S, C = ErrorsFail> {
    inner: S,
    policy: Policy<C>,
}

impl<S, C> PolicyService<S, C> {
    /// Wraps `inner`.
    ///
    /// ```
    /// # use sturdy_std::tower::PolicyService;
    /// # use tower::service_fn;
    /// let svc = PolicyService::new(service_fn(|_: ()| async { Ok::<_, ()>(()) }), sturdy_std::Policy::builder(Default::default()).build());
    /// # let _ = svc;
    /// ```
    pub fn new(inner: S, policy: Policy<C>) -> Self {
        Self { inner, policy }
    }
}

impl<S, C, Req> Service<Req> for PolicyService<S, C>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    S::Error: Send,
    C: Classify<S::Response, S::Error> + Clone + Send + Sync + 'static,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Error<S::Error>>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is awaited per attempt, inside the policy (under its
        // attempt deadline), on a clone of the inner service.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let policy = self.policy.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            policy
                .call(move || {
                    let mut svc = inner.clone();
                    let req = req.clone();
                    async move {
                        poll_fn(|cx| svc.poll_ready(cx)).await?;
                        svc.call(req).await
                    }
                })
                .await
        })
    }
}

/// A [`tower::retry::Policy`] backed by the core's retry machine: attempts,
/// backoff with jitter (capped, never above the cap), `Retry-After` hints via
/// the classifier, and an optional shared [`SharedBudget`] with exact
/// accounting (one deposit per original request, one withdrawal per retry).
///
/// ```
/// use sturdy::retry::RetryConfig;
/// use sturdy_std::tower::RetryPolicy;
/// use tower::{Service, ServiceExt, retry::RetryLayer, Layer, service_fn};
/// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     tokio::time::pause();
///     let calls = Arc::new(AtomicU32::new(0));
///     let c = calls.clone();
///     let flaky = service_fn(move |_: ()| {
///         let n = c.fetch_add(1, Ordering::Relaxed);
///         async move { if n < 2 { Err("busy") } else { Ok(n) } }
///     });
///     let mut svc = RetryLayer::new(RetryPolicy::new(RetryConfig::default())).layer(flaky);
///     assert_eq!(svc.ready().await.unwrap().call(()).await, Ok(2));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct RetryPolicy<C = ErrorsFail> {
    config: RetryConfig,
    budget: Option<SharedBudget>,
    classifier: C,
    seed: u64,
    /// Per request (tower clones the policy for each request).
    retry: Option<Retry>,
    rng: SplitMix64,
    deposited: bool,
}

impl RetryPolicy {
    /// Retries by `config`, without a budget, failing on every `Err`.
    ///
    /// ```
    /// let p = sturdy_std::tower::RetryPolicy::new(Default::default());
    /// # let _ = p;
    /// ```
    pub fn new(config: RetryConfig) -> Self {
        Self {
            config,
            budget: None,
            classifier: ErrorsFail,
            seed: 0x7057_E55E,
            retry: None,
            rng: SplitMix64::new(0x7057_E55E),
            deposited: false,
        }
    }
}

impl<C> RetryPolicy<C> {
    /// Spends retries from `budget`.
    ///
    /// ```
    /// let p = sturdy_std::tower::RetryPolicy::new(Default::default())
    ///     .with_budget(sturdy_std::SharedBudget::new(Default::default())?);
    /// # let _ = p;
    /// # Ok::<(), sturdy::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_budget(mut self, budget: SharedBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Decides what is retryable (and server hints) with `classifier`.
    ///
    /// ```
    /// use sturdy::outcome::Verdict;
    /// let p = sturdy_std::tower::RetryPolicy::new(Default::default())
    ///     .with_classifier(|r: &Result<u16, ()>| if matches!(r, Ok(503)) { Verdict::failure() } else { Verdict::success() });
    /// # let _ = p;
    /// ```
    pub fn with_classifier<C2>(self, classifier: C2) -> RetryPolicy<C2> {
        RetryPolicy {
            config: self.config,
            budget: self.budget,
            classifier,
            seed: self.seed,
            retry: None,
            rng: self.rng,
            deposited: false,
        }
    }

    /// Seeds the jitter.
    ///
    /// ```
    /// let p = sturdy_std::tower::RetryPolicy::new(Default::default()).with_seed(1);
    /// # let _ = p;
    /// ```
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.rng = SplitMix64::new(seed);
        self
    }
}

impl<C, Req, Res, E> tower::retry::Policy<Req, Res, E> for RetryPolicy<C>
where
    C: Classify<Res, E>,
    Req: Clone,
{
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        let now = time::now();
        let verdict = self.classifier.classify(result);
        let retry = self
            .retry
            .get_or_insert_with(|| Retry::new(self.config, now, None));
        let decision = match &self.budget {
            Some(budget) => {
                let mut b = budget.lock();
                retry.on_outcome_with_budget(verdict, now, &mut self.rng, &mut *b)
            }
            None => retry.on_outcome(verdict, now, &mut self.rng),
        };
        match decision {
            RetryDecision::RetryAt { at, .. } => Some(tokio::time::sleep_until(time::to_tokio(at))),
            RetryDecision::GiveUp(_) | RetryDecision::Done => None,
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        if !self.deposited {
            self.deposited = true;
            // A fresh request: new per-request state, one deposit.
            self.retry = None;
            self.rng = SplitMix64::new(self.seed ^ self.rng.next_u64());
            if let Some(budget) = &self.budget {
                budget.on_request();
            }
        }
        Some(req.clone())
    }
}
