//! [`RetryLayer`]: retries driven by the core's retry machine, and
//! [`RetryPolicy`] for `tower::retry::Retry`.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use steadfast::error::ConfigError;
use steadfast::outcome::Outcome;
use steadfast::outcome::{Classify, ErrorsFail};
use steadfast::pipeline::{self, Event, Failure, Finish, Reason};
use steadfast::retry::{self, GiveUpReason, Retry, RetryDecision};
use steadfast::rng::SplitMix64;
use tower::{Layer, Service};

use super::report::Report;
use super::{Direct, RejectionsIgnored, Stacked, Stacking};
use crate::{Error, Observer, SharedBudget, time};

/// What every service built from one [`RetryLayer`] shares.
#[derive(Debug)]
struct Shared {
    config: retry::Config,
    budget: Option<SharedBudget>,
    seed: u64,
    /// Requests started: request `n` draws its jitter from `SplitMix64(seed + n)`.
    requests: AtomicU64,
    /// No retry starts this long after the request's first attempt.
    total: Option<steadfast::time::Duration>,
    report: Option<Report>,
}

/// How long after a request's first attempt a [`RetryLayer`] still starts a
/// retry, unless [`RetryLayer::with_total_timeout`] says otherwise.
pub const DEFAULT_TOTAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Retries failed requests by a [`retry::Config`]: see [`RetryService`] for
/// the rules. Defaults a service can live with: the config's (3 attempts,
/// exponential backoff from 100 ms, capped at 60 s, `Retry-After` honoured up
/// to 60 s) and no retry starting 10 s or more after the first attempt
/// ([`DEFAULT_TOTAL_TIMEOUT`], [`with_total_timeout`](RetryLayer::with_total_timeout)). Unlike `tower::retry::RetryLayer<RetryPolicy>` (also offered:
/// [`RetryPolicy`]), the error says why the retries stopped
/// ([`Error::retries_exhausted`] with the attempt count).
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
/// use steadfast::retry;
/// use steadfast_std::Error;
/// use steadfast_std::tower::RetryLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     tokio::time::pause();
///     let calls = Arc::new(AtomicU32::new(0));
///     let c = calls.clone();
///     let down = service_fn(move |_: ()| {
///         c.fetch_add(1, Ordering::Relaxed);
///         async { Err::<(), _>("down") }
///     });
///     let mut svc = RetryLayer::new(retry::Config::default()).expect("a valid config").layer(down); // 3 attempts
///     let answer = svc.ready().await.unwrap().call(()).await;
///     assert_eq!(answer, Err(Error::retries_exhausted(3, Some("down"))));
///     assert_eq!(calls.load(Ordering::Relaxed), 3);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct RetryLayer<C = ErrorsFail, M = Direct> {
    shared: Arc<Shared>,
    classifier: C,
    mode: PhantomData<fn() -> M>,
}

impl RetryLayer {
    /// Retries by `config`, without a budget, every `Err` a retryable failure;
    /// or the error of [`retry::Config::validate`], naming the field.
    ///
    /// ```
    /// use steadfast::retry;
    ///
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?;
    /// assert_eq!(layer.config().max_attempts(), 3);
    /// let bad = retry::Config::DEFAULT.with_max_attempts(0);
    /// assert_eq!(steadfast_std::tower::RetryLayer::new(bad).unwrap_err().field, "max_attempts");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(config: retry::Config) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            shared: Arc::new(Shared {
                config,
                budget: None,
                seed: crate::seed::from_os(),
                requests: AtomicU64::new(0),
                total: Some(time::from_std_duration(DEFAULT_TOTAL_TIMEOUT)),
                report: None,
            }),
            classifier: ErrorsFail,
            mode: PhantomData,
        })
    }

    /// For retries over other steadfast layers: their [`Error`] passes
    /// through unchanged (an inner refusal, not retried, answers as it is) and
    /// a give-up joins it (the last attempt's dependency error kept), so the
    /// stack answers one error type ([`Stacking`]); results are judged by
    /// [`RejectionsIgnored`] (an inner refusal is not retried, an inner
    /// timeout is a timeout, retried as the config's `retry_on_timeout`
    /// says), unless [`with_classifier`](Self::with_classifier) says
    /// otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::breaker::Config;
    /// use steadfast_std::{Error, SharedBreaker};
    /// use steadfast_std::tower::{BreakerLayer, RetryLayer};
    /// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     tokio::time::pause();
    ///     let breaker = SharedBreaker::new("users", Config::new().with_failure_threshold(2))?;
    ///     let mut svc = ServiceBuilder::new()
    ///         .layer(RetryLayer::new(Default::default())?.stacked())
    ///         .layer(BreakerLayer::new(breaker))
    ///         .service(service_fn(|_: ()| async { Err::<(), _>("down") }));
    ///     // Two failures open the breaker; the third attempt is refused, and a
    ///     // refusal is not retried: the answer says so, in one error level.
    ///     let answer: Result<(), Error<&str>> = svc.ready().await.expect("ready").call(()).await;
    ///     let error = answer.unwrap_err();
    ///     assert!(error.is_rejection());
    ///     assert_eq!((error.breaker(), error.attempts()), (Some("users"), 3));
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn stacked(self) -> RetryLayer<RejectionsIgnored, Stacked> {
        RetryLayer {
            shared: self.shared,
            classifier: RejectionsIgnored,
            mode: PhantomData,
        }
    }
}

impl<C, M> RetryLayer<C, M> {
    fn with_shared(self, f: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Shared {
            config: self.shared.config,
            budget: self.shared.budget.clone(),
            seed: self.shared.seed,
            requests: AtomicU64::new(self.shared.requests.load(Ordering::Relaxed)),
            total: self.shared.total,
            report: self.shared.report.clone(),
        };
        f(&mut shared);
        Self {
            shared: Arc::new(shared),
            classifier: self.classifier,
            mode: PhantomData,
        }
    }

    /// Spends retries from `budget` (one deposit per request, one withdrawal
    /// per retry, exact integers; shared with every other holder of the
    /// handle).
    ///
    /// ```
    /// use steadfast_std::SharedBudget;
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?
    ///     .with_budget(SharedBudget::new(Default::default())?);
    /// assert!(layer.budget().is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_budget(self, budget: SharedBudget) -> Self {
        self.with_shared(|s| s.budget = Some(budget))
    }

    /// Seeds the jitter: request `n` (counted from 0 across every service of
    /// this layer) uses `SplitMix64(seed + n)`, so a run is reproducible.
    /// Without it the seed comes from the operating system
    /// ([`seed::from_os`](crate::seed::from_os)), so replicas do not retry in
    /// lockstep.
    ///
    /// ```
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?.with_seed(42);
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        self.with_shared(|s| s.seed = seed)
    }

    /// No retry starts `total` or more after the request's first attempt
    /// (a `std::time::Duration` or a steadfast one). The default is
    /// [`DEFAULT_TOTAL_TIMEOUT`], 10 s: a server asking to be retried in a
    /// minute (`Retry-After`, honoured up to the config's `max_retry_after`,
    /// 60 s by default) ends the request at once instead of holding it for a
    /// minute.
    ///
    /// ```
    /// use std::time::Duration;
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?
    ///     .with_total_timeout(Duration::from_secs(2));
    /// assert_eq!(layer.total_timeout(), Some(Duration::from_secs(2)));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_total_timeout(self, total: impl Into<steadfast::time::Duration>) -> Self {
        let total = total.into();
        self.with_shared(|s| s.total = Some(total))
    }

    /// No total limit: only the attempts, the budget and the classifier end
    /// the retries.
    ///
    /// ```
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?.without_total_timeout();
    /// assert_eq!(layer.total_timeout(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn without_total_timeout(self) -> Self {
        self.with_shared(|s| s.total = None)
    }

    /// How long after a request's first attempt a retry may still start, if
    /// limited.
    ///
    /// ```
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?;
    /// assert_eq!(layer.total_timeout(), Some(steadfast_std::tower::DEFAULT_TOTAL_TIMEOUT));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn total_timeout(&self) -> Option<std::time::Duration> {
        self.shared.total.map(time::to_std_duration)
    }

    /// Reports to `observer` under the name `operation` (the policy name the
    /// observer sees): each retry scheduled ([`Event::Retry`]), how each
    /// request ended ([`Observer::on_finish`]: completed, or failed with why
    /// the retries stopped) and its latency, first attempt to answer
    /// ([`Observer::on_latency`]) — so the `metrics` and `tracing` observers
    /// ([`observe`](crate::observe)) show the tower path as they show
    /// [`Policy`](crate::Policy)'s. Registers the series at once
    /// ([`Observer::on_register`]). `Registry::retry_layer` gives a layer
    /// with a policy's retry config, budget and seed, reporting to the
    /// registry's observer. A request whose future is dropped before its
    /// answer reports `Cancelled` (and a retry it had paid for goes back to
    /// the budget).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?
    ///     .with_observer("quotes", Arc::new(steadfast_std::observe::Standard));
    /// assert_eq!(layer.name(), Some("quotes"));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_observer(self, operation: &str, observer: Arc<dyn Observer>) -> Self {
        let report = Report::new(observer, Arc::from(operation), false);
        self.with_shared(|s| s.report = Some(report))
    }

    /// The name the layer reports under, if it was given an observer.
    ///
    /// ```
    /// assert_eq!(steadfast_std::tower::RetryLayer::new(Default::default())?.name(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shared.report.as_ref().map(Report::name)
    }

    /// Decides what is retryable, and server hints, with `classifier`
    /// (over other steadfast layers: [`RejectionsIgnored`](super::RejectionsIgnored)).
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?
    ///     .with_classifier(|r: &Result<u16, ()>| match r {
    ///         Ok(503) | Err(()) => Verdict::failure(),
    ///         Ok(_) => Verdict::success(),
    ///     });
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_classifier<C2>(self, classifier: C2) -> RetryLayer<C2, M> {
        RetryLayer {
            shared: self.shared,
            classifier,
            mode: PhantomData,
        }
    }

    /// The retry config.
    ///
    /// ```
    /// let layer = steadfast_std::tower::RetryLayer::new(Default::default())?;
    /// assert_eq!(layer.config().max_attempts(), 3);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> retry::Config {
        self.shared.config
    }

    /// The retry budget, if any.
    ///
    /// ```
    /// assert!(steadfast_std::tower::RetryLayer::new(Default::default())?.budget().is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn budget(&self) -> Option<&SharedBudget> {
        self.shared.budget.as_ref()
    }
}

impl<S, C: Clone, M> Layer<S> for RetryLayer<C, M> {
    type Service = RetryService<S, C, M>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            shared: self.shared.clone(),
            classifier: self.classifier.clone(),
            mode: PhantomData,
        }
    }
}

/// A service that retries failed requests, driven by the core's
/// [`Retry`] machine.
///
/// * Each request is one retry episode: its first attempt is sent at `call`;
///   each result is classified by `C`; the core decides — retry at an
///   instant (backoff with jitter, capped; a `Retry-After` hint honoured, up to
///   the config's cap), or stop. Delays sleep on the Tokio clock, so they are
///   exact under paused time.
/// * `Req: Clone` (each attempt sends a clone) and `S: Clone` (the ready
///   service goes with the request; before each retry the service is polled
///   ready again).
/// * Answers: the value (a success, or a value whose verdict is not
///   retryable); [`Error::operation`] for an error the classifier does not
///   retry (or an inner `poll_ready` error); [`Error::retries_exhausted`]
///   (`attempts`, the last error) when attempts, the budget, or the deadline
///   ran out.
/// * With a [`SharedBudget`]: one deposit per request, one withdrawal per
///   retry (exact integers, unlike tower's `TpsBudget`, tower #857).
/// * Dropping the future stops the episode; nothing is held.
/// * No allocation per request: the future holds the inner future, a timer
///   entry and the retry machine inline.
///
/// ```
/// use steadfast_std::tower::RetryService;
/// use tower::{Service, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let mut svc = RetryService::new(service_fn(|n: u8| async move { Ok::<_, ()>(n) }), Default::default()).expect("a valid config");
///     assert_eq!(svc.ready().await.unwrap().call(5).await, Ok(5));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct RetryService<S, C = ErrorsFail, M = Direct> {
    inner: S,
    shared: Arc<Shared>,
    classifier: C,
    mode: PhantomData<fn() -> M>,
}

impl<S> RetryService<S> {
    /// Wraps `inner` (every `Err` a retryable failure, no budget); or the
    /// error of [`retry::Config::validate`], naming the field.
    ///
    /// ```
    /// let svc = steadfast_std::tower::RetryService::new(7_u8, Default::default())?;
    /// assert_eq!(svc.into_inner(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(inner: S, config: retry::Config) -> Result<Self, ConfigError> {
        Ok(RetryLayer::new(config)?.layer(inner))
    }
}

impl<S, C, M> RetryService<S, C, M> {
    /// Unwraps the inner service.
    ///
    /// ```
    /// let svc = steadfast_std::tower::RetryService::new(7_u8, Default::default())?;
    /// assert_eq!(svc.into_inner(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, M, Req> Service<Req> for RetryService<S, C, M>
where
    S: Service<Req> + Clone,
    C: Classify<S::Response, S::Error> + Clone,
    M: Stacking<S::Error>,
    Req: Clone,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = RetryFuture<S, Req, C, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let shared = &self.shared;
        let n = shared.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(budget) = &shared.budget {
            budget.on_request();
        }
        let clone = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, clone);
        let attempt = service.call(req.clone());
        let now = time::now();
        RetryFuture {
            attempt: Some(attempt),
            sleep: None,
            service,
            req,
            episode: Episode {
                retry: Retry::new(
                    shared.config,
                    now,
                    shared.total.map(|t| now.saturating_add(t)),
                ),
                budget: shared.budget.clone(),
                report: shared.report.clone(),
                started: now,
                sent: 1,
                answered: false,
            },
            rng: SplitMix64::new(shared.seed.wrapping_add(n)),
            classifier: self.classifier.clone(),
            mode: PhantomData,
        }
    }
}

pin_project! {
    /// The response future of a [`RetryService`]: the current attempt, or the
    /// sleep before the next one.
    ///
    /// ```
    /// use steadfast_std::tower::{RetryFuture, RetryService};
    /// use tower::{Service, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let mut svc = RetryService::new(service_fn(|_: ()| async { Ok::<_, ()>(1) }), Default::default()).expect("a valid config");
    ///     assert_eq!(svc.call(()).await, Ok(1));
    /// }
    /// # fn _named<S: tower::Service<()> + Clone>(_: RetryFuture<S, ()>) {}
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct RetryFuture<S, Req, C = ErrorsFail, M = Direct>
    where
        S: Service<Req>,
    {
        #[pin]
        attempt: Option<S::Future>,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
        service: S,
        req: Req,
        episode: Episode,
        rng: SplitMix64,
        classifier: C,
        mode: PhantomData<fn() -> M>,
    }
}

/// A request's retry episode: its machine, its budget and its observer.
/// Dropped before the request was answered (the caller went away), it gives a
/// scheduled retry's withdrawal back to the budget and reports the request
/// cancelled, as a [`Policy`](crate::Policy) does.
#[derive(Debug)]
struct Episode {
    retry: Retry,
    budget: Option<SharedBudget>,
    report: Option<Report>,
    started: steadfast::time::Instant,
    /// Attempts sent to the service (a scheduled retry is not, until it runs).
    sent: u32,
    answered: bool,
}

impl Episode {
    /// The scheduled retry will never run: its withdrawal goes back.
    fn give_back(&mut self) {
        if let Some(budget) = &self.budget {
            self.retry.give_back(time::now(), &mut *budget.lock());
        }
    }
}

impl Drop for Episode {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        self.give_back();
        if let Some(report) = &self.report {
            report.finish(&Finish::Failed(Failure::new(Reason::Cancelled, self.sent)));
            report.latency(self.started);
        }
    }
}

impl<S: Service<Req>, Req, C, M> std::fmt::Debug for RetryFuture<S, Req, C, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryFuture")
            .field("attempts", &self.episode.retry.attempts())
            .field("sleeping", &self.sleep.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, Req, C, M> Future for RetryFuture<S, Req, C, M>
where
    S: Service<Req>,
    C: Classify<S::Response, S::Error>,
    M: Stacking<S::Error>,
    Req: Clone,
{
    type Output = Result<S::Response, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
                ready!(sleep.poll(cx));
                if let Err(e) = ready!(this.service.poll_ready(cx)) {
                    this.sleep.set(None);
                    // The scheduled retry never runs.
                    this.episode.give_back();
                    this.episode.answered = true;
                    let attempts = this.episode.sent;
                    if let Some(report) = &this.episode.report {
                        report.finish(&Finish::Failed(Failure::new(Reason::Operation, attempts)));
                        report.latency(this.episode.started);
                    }
                    return Poll::Ready(Err(M::lift(e).with_attempts(attempts)));
                }
                this.sleep.set(None);
                let attempt = this.service.call(this.req.clone());
                this.episode.sent += 1;
                this.attempt.set(Some(attempt));
            }
            // Answered already: stays pending (polling a finished future is a
            // caller's mistake, and a resilience layer does not panic for it).
            let Some(attempt) = this.attempt.as_mut().as_pin_mut() else {
                return Poll::Pending;
            };
            let result = ready!(attempt.poll(cx));
            this.attempt.set(None);
            let now = time::now();
            let verdict = this.classifier.classify(&result);
            let episode = &mut *this.episode;
            let decision = match episode.budget.as_ref() {
                Some(budget) => {
                    let mut budget = budget.lock();
                    episode
                        .retry
                        .on_outcome_with_budget(verdict, now, this.rng, &mut *budget)
                }
                None => episode.retry.on_outcome(verdict, now, this.rng),
            };
            let attempts = episode.retry.attempts();
            if let Some(report) = episode.report.as_ref() {
                report_decision(
                    report,
                    &decision,
                    verdict.outcome,
                    attempts,
                    episode.started,
                );
            }
            episode.answered = !matches!(decision, RetryDecision::RetryAt { .. });
            match decision {
                RetryDecision::RetryAt { at, .. } => {
                    this.sleep
                        .set(Some(tokio::time::sleep_until(time::to_tokio(at))));
                }
                RetryDecision::Done => {
                    return Poll::Ready(result.map_err(|e| M::lift(e).with_attempts(attempts)));
                }
                RetryDecision::GiveUp(give_up) => {
                    let reason = Reason::after_give_up(give_up, verdict.outcome);
                    return Poll::Ready(match result {
                        Ok(value) if reason == Reason::Operation => Ok(value),
                        Err(e) if reason == Reason::Operation => {
                            Err(M::lift(e).with_attempts(attempts))
                        }
                        result => {
                            let last = result.err().and_then(|e| M::lift(e).into_operation());
                            Err(Error::new(pipeline::Error::new(reason, attempts, last)))
                        }
                    });
                }
            }
        }
    }
}

/// Tells `report` what a retry decision means for the observer: a retry
/// scheduled, or the request's end (as [`Policy`](crate::Policy) reports it)
/// and its latency.
fn report_decision(
    report: &Report,
    decision: &RetryDecision,
    outcome: Outcome,
    attempts: u32,
    started: steadfast::time::Instant,
) {
    let reason = match *decision {
        RetryDecision::RetryAt { at, attempt, delay } => {
            report.event(&Event::Retry { attempt, delay, at });
            return;
        }
        RetryDecision::Done => {
            report.finish(&Finish::Completed { attempts, outcome });
            report.latency(started);
            return;
        }
        RetryDecision::GiveUp(GiveUpReason::NotRetryable) if !outcome.is_failure() => {
            report.finish(&Finish::Completed { attempts, outcome });
            report.latency(started);
            return;
        }
        RetryDecision::GiveUp(give_up) => Reason::after_give_up(give_up, outcome),
    };
    report.finish(&Finish::Failed(Failure::new(reason, attempts)));
    report.latency(started);
}

/// A [`tower::retry::Policy`] backed by the core's retry machine: attempts,
/// backoff with jitter (capped, never above the cap), `Retry-After` hints via
/// the classifier, and an optional shared [`SharedBudget`] with exact
/// accounting (one deposit per original request, one withdrawal per retry).
///
/// ```
/// use steadfast::retry;
/// use steadfast_std::tower::RetryPolicy;
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
///     let mut svc = RetryLayer::new(RetryPolicy::new(retry::Config::default()).expect("a valid config")).layer(flaky);
///     assert_eq!(svc.ready().await.unwrap().call(()).await, Ok(2));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct RetryPolicy<C = ErrorsFail> {
    config: retry::Config,
    budget: Option<SharedBudget>,
    classifier: C,
    seed: u64,
    /// Requests started, shared by every clone: request `n` draws its jitter
    /// from `SplitMix64(seed + n)`.
    requests: Arc<AtomicU64>,
    /// The request's episode, once its first result came back. tower clones
    /// the service's policy into each response future, so the service's own
    /// policy never has one: a `clone_request` without an episode is a new
    /// request, one with an episode a retry.
    retry: Option<Retry>,
    rng: SplitMix64,
}

impl RetryPolicy {
    /// Retries by `config`, without a budget, failing on every `Err`; or the
    /// error of [`retry::Config::validate`], naming the field.
    ///
    /// ```
    /// let p = steadfast_std::tower::RetryPolicy::new(Default::default())?;
    /// # let _ = p;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(config: retry::Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let seed = crate::seed::from_os();
        Ok(Self {
            config,
            budget: None,
            classifier: ErrorsFail,
            seed,
            requests: Arc::new(AtomicU64::new(0)),
            retry: None,
            rng: SplitMix64::new(seed),
        })
    }
}

impl<C> RetryPolicy<C> {
    /// Spends retries from `budget`.
    ///
    /// ```
    /// let p = steadfast_std::tower::RetryPolicy::new(Default::default())?
    ///     .with_budget(steadfast_std::SharedBudget::new(Default::default())?);
    /// # let _ = p;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_budget(mut self, budget: SharedBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Decides what is retryable (and server hints) with `classifier`.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// let p = steadfast_std::tower::RetryPolicy::new(Default::default())?
    ///     .with_classifier(|r: &Result<u16, ()>| if matches!(r, Ok(503)) { Verdict::failure() } else { Verdict::success() });
    /// # let _ = p;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_classifier<C2>(self, classifier: C2) -> RetryPolicy<C2> {
        RetryPolicy {
            config: self.config,
            budget: self.budget,
            classifier,
            seed: self.seed,
            requests: self.requests,
            retry: None,
            rng: self.rng,
        }
    }

    /// Seeds the jitter, for a reproducible run (default: a seed from the
    /// operating system, [`seed::from_os`](crate::seed::from_os)): request `n`
    /// (counted from 0 across every clone of this policy, so across clones of
    /// the service too) uses `SplitMix64(seed + n)`.
    ///
    /// ```
    /// let p = steadfast_std::tower::RetryPolicy::new(Default::default())?.with_seed(1);
    /// # let _ = p;
    /// # Ok::<(), steadfast::error::ConfigError>(())
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
        if self.retry.is_none() {
            // A new request (see the `retry` field): its own jitter stream,
            // one deposit. The response future gets a clone of this state.
            let n = self.requests.fetch_add(1, Ordering::Relaxed);
            self.rng = SplitMix64::new(self.seed.wrapping_add(n));
            if let Some(budget) = &self.budget {
                budget.on_request();
            }
        }
        Some(req.clone())
    }
}
