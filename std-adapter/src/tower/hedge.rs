//! [`HedgeLayer`]: hedged requests on Tokio, as a [`SharedHedger`] decides.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use steadfast::hedge::{Answer, Hedge, Plan};
use steadfast::outcome::{Classify, ErrorsFail};
use steadfast::retry::Unlimited;
use steadfast::time::Instant;
use tower::{Layer, Service};

use super::{Direct, RejectionsIgnored, Stacked, Stacking};
use crate::hedge::SharedHedger;
use crate::{Error, SharedBudget, time};

/// Hedged requests: when the first attempt has not answered after the
/// hedger's delay, another starts beside it (up to the cap, each a whole
/// delay after the previous); the first success wins and the attempts still
/// running are dropped (cancelled). A failed attempt waits for the others
/// while any runs; when none does, it is the answer. Hedges spend from an
/// optional [`SharedBudget`] ([`with_budget`](Self::with_budget)): one
/// deposit per request, one retry per hedge, and a refusal stops the
/// request's hedging. Every attempt that answers teaches the hedger its
/// latency (for a percentile delay).
///
/// **Only for operations safe to repeat.** Putting this layer on a service
/// is the caller's statement that a request may run more than once at the
/// same time (reads, idempotent writes): every hedge sends a clone of the
/// request (`Req: Clone`) to a clone of the inner service (`S: Clone`).
///
/// All attempts run inside the one response future ([`HedgeFuture`]): no
/// task is spawned, and dropping the future cancels every attempt.
///
/// ```
/// use std::time::Duration;
/// use steadfast::hedge::{Config, Delay};
/// use steadfast_std::hedge::SharedHedger;
/// use steadfast_std::tower::HedgeLayer;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let fixed = Delay::Fixed(steadfast::time::Duration::from_millis(50));
///     let hedger = SharedHedger::new("search", Config::new().with_delay(fixed))?;
///     let attempt = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
///     let svc = HedgeLayer::new(hedger).layer(service_fn(move |q: &'static str| {
///         // The first attempt takes 500 ms, the hedge 20 ms.
///         let n = attempt.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///         async move {
///             tokio::time::sleep(Duration::from_millis(if n == 0 { 500 } else { 20 })).await;
///             Ok::<_, std::io::Error>((q, n))
///         }
///     }));
///     let start = tokio::time::Instant::now();
///     assert_eq!(svc.oneshot("rust").await?, ("rust", 1)); // the hedge won
///     assert_eq!(start.elapsed(), Duration::from_millis(70)); // 50 + 20
///     Ok(())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct HedgeLayer<C = ErrorsFail, M = Direct> {
    hedger: SharedHedger,
    budget: Option<SharedBudget>,
    classifier: C,
    /// Off: the first attempt only (a disabled registry's layers).
    off: bool,
    mode: PhantomData<fn() -> M>,
}

impl HedgeLayer {
    /// A layer hedging as `hedger` decides, no budget; `Ok` is a success,
    /// every `Err` a failure ([`ErrorsFail`]).
    ///
    /// ```
    /// # use steadfast_std::{hedge::SharedHedger, tower::HedgeLayer};
    /// let layer = HedgeLayer::new(SharedHedger::new("search", Default::default())?);
    /// assert_eq!(layer.hedger().name(), "search");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(hedger: SharedHedger) -> Self {
        Self {
            hedger,
            budget: None,
            classifier: ErrorsFail,
            off: false,
            mode: PhantomData,
        }
    }

    /// For hedging over other steadfast layers: their [`Error`] passes
    /// through unchanged ([`Stacking`]); an inner refusal or timeout is not
    /// a success ([`RejectionsIgnored`]), so it waits for the other attempts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::hedge::{Config, Delay};
    /// use steadfast_std::Error;
    /// use steadfast_std::hedge::SharedHedger;
    /// use steadfast_std::tower::{HedgeLayer, TimeoutLayer};
    /// use tower::{ServiceBuilder, ServiceExt, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let fixed = Delay::Fixed(steadfast::time::Duration::from_millis(10));
    ///     let hedger = SharedHedger::new("search", Config::new().with_delay(fixed))?;
    ///     let svc = ServiceBuilder::new()
    ///         .layer(HedgeLayer::new(hedger).stacked())
    ///         .layer(TimeoutLayer::new(Duration::from_millis(100)))
    ///         .service(service_fn(|_: ()| std::future::pending::<Result<(), std::io::Error>>()));
    ///     let late: Result<(), Error<std::io::Error>> = svc.oneshot(()).await;
    ///     // Both attempts timed out; the last to answer (the hedge, at 110 ms) is the answer.
    ///     assert_eq!(late.unwrap_err().reason(), steadfast::pipeline::Reason::AttemptTimedOut);
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn stacked(self) -> HedgeLayer<RejectionsIgnored, Stacked> {
        HedgeLayer {
            hedger: self.hedger,
            budget: self.budget,
            classifier: RejectionsIgnored,
            off: self.off,
            mode: PhantomData,
        }
    }
}

impl<C, M> HedgeLayer<C, M> {
    /// Hedges spend from `budget`: each request deposits one request, each
    /// hedge withdraws one retry, and a hedge the budget refuses is not
    /// started (nor any later one of that request).
    ///
    /// ```
    /// use steadfast::retry::BudgetConfig;
    /// use steadfast_std::SharedBudget;
    /// # use steadfast_std::{hedge::SharedHedger, tower::HedgeLayer};
    /// let budget = SharedBudget::new(BudgetConfig::default())?;
    /// let layer = HedgeLayer::new(SharedHedger::new("search", Default::default())?).with_budget(budget);
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_budget(mut self, budget: SharedBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Decides which answers are successes with `classifier` (only the
    /// verdict's [`outcome`](steadfast::outcome::Verdict::outcome) matters:
    /// a success wins, anything else waits for the other attempts).
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// # use steadfast_std::{hedge::SharedHedger, tower::HedgeLayer};
    /// // A 503 from one replica: let the hedge answer instead.
    /// let layer = HedgeLayer::new(SharedHedger::new("search", Default::default())?)
    ///     .with_classifier(|r: &Result<u16, std::io::Error>| match r {
    ///         Ok(503) | Err(_) => Verdict::failure(),
    ///         Ok(_) => Verdict::success(),
    ///     });
    /// # let _ = layer;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_classifier<C2>(self, classifier: C2) -> HedgeLayer<C2, M> {
        HedgeLayer {
            hedger: self.hedger,
            budget: self.budget,
            classifier,
            off: self.off,
            mode: PhantomData,
        }
    }

    /// The same layer running the first attempt only (what a disabled
    /// registry hands out).
    pub(crate) fn passing(mut self) -> Self {
        self.off = true;
        self
    }

    /// The hedger.
    ///
    /// ```
    /// # use steadfast_std::{hedge::SharedHedger, tower::HedgeLayer};
    /// let layer = HedgeLayer::new(SharedHedger::new("search", Default::default())?);
    /// assert_eq!(layer.hedger().config().max_hedges(), 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn hedger(&self) -> &SharedHedger {
        &self.hedger
    }
}

impl<S, C: Clone, M: Clone> Layer<S> for HedgeLayer<C, M> {
    type Service = HedgeService<S, C, M>;

    fn layer(&self, inner: S) -> Self::Service {
        HedgeService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service behind a [`HedgeLayer`].
///
/// ```
/// use steadfast_std::hedge::SharedHedger;
/// use steadfast_std::tower::{HedgeLayer, HedgeService};
/// use tower::{Layer, service_fn};
/// let layer = HedgeLayer::new(SharedHedger::new("search", Default::default())?);
/// let _svc: HedgeService<_> = layer.layer(service_fn(|()| async { Ok::<_, ()>(()) }));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HedgeService<S, C = ErrorsFail, M = Direct> {
    inner: S,
    layer: HedgeLayer<C, M>,
}

impl<S, C, M, Req> Service<Req> for HedgeService<S, C, M>
where
    S: Service<Req> + Clone,
    Req: Clone,
    C: Classify<S::Response, S::Error> + Clone,
    M: Stacking<S::Error>,
{
    type Response = S::Response;
    type Error = Error<M::Operation>;
    type Future = HedgeFuture<S, Req, C, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(M::lift)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // The service made ready takes the first attempt and stays with the
        // future for the hedges; this handle keeps a fresh clone.
        let fresh = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, fresh);
        let now = time::now();
        let first = service.call(req.clone());
        if let Some(budget) = &self.layer.budget {
            budget.on_request();
        }
        let plan = (!self.layer.off).then(|| self.layer.hedger.start(now));
        HedgeFuture {
            first: Some(first),
            first_started: now,
            hedges: Vec::new(),
            sleep: None,
            service,
            request: req,
            plan,
            due: None,
            hedger: self.layer.hedger.clone(),
            budget: self.layer.budget.clone(),
            classifier: self.layer.classifier.clone(),
            mode: PhantomData,
        }
    }
}

/// A hedge running: its number (1 for the first hedge), when it started, its
/// future.
struct Running<F> {
    number: u8,
    started: Instant,
    future: Pin<Box<F>>,
}

pin_project! {
    /// The response future of a [`HedgeService`]: the first attempt, the
    /// hedges started beside it (boxed only when one starts), and the timer
    /// of the next hedge. Dropping it cancels every attempt.
    ///
    /// ```
    /// use steadfast_std::hedge::SharedHedger;
    /// use steadfast_std::tower::{HedgeFuture, HedgeLayer};
    /// use tower::{Layer, Service, service_fn};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let mut svc = HedgeLayer::new(SharedHedger::new("search", Default::default())?)
    ///         .layer(service_fn(|n: u32| async move { Ok::<_, ()>(n * 2) }));
    ///     let future: HedgeFuture<_, u32> = svc.call(21);
    ///     assert_eq!(future.await, Ok(42)); // answered before any hedge was due
    ///     Ok(())
    /// }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct HedgeFuture<S, Req, C = ErrorsFail, M = Direct>
    where
        S: Service<Req>,
    {
        #[pin]
        first: Option<S::Future>,
        first_started: Instant,
        hedges: Vec<Running<S::Future>>,
        #[pin]
        sleep: Option<tokio::time::Sleep>,
        service: S,
        request: Req,
        // `None` once the call is answered (or with hedging off).
        plan: Option<Plan>,
        // A hedge the plan started, waiting for the service to be ready.
        due: Option<Hedge>,
        hedger: SharedHedger,
        budget: Option<SharedBudget>,
        classifier: C,
        mode: PhantomData<fn() -> M>,
    }
}

impl<S, Req, C, M> std::fmt::Debug for HedgeFuture<S, Req, C, M>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HedgeFuture")
            .field("hedger", &self.hedger.name())
            .field("first_running", &self.first.is_some())
            .field("hedges_running", &self.hedges.len())
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl<S, Req, C, M> Future for HedgeFuture<S, Req, C, M>
where
    S: Service<Req>,
    Req: Clone,
    C: Classify<S::Response, S::Error>,
    M: Stacking<S::Error>,
{
    type Output = Result<S::Response, Error<M::Operation>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // Every attempt that answered: the core says whether it ends the call.
            if let Some(first) = this.first.as_mut().as_pin_mut()
                && let Poll::Ready(result) = first.poll(cx)
            {
                this.first.set(None);
                let running = this.hedges.len();
                let answer = Attempt {
                    number: 0,
                    started: *this.first_started,
                    running,
                };
                if let Some(out) =
                    answer.settle(result, this.plan, this.hedger, this.budget, this.classifier)
                {
                    this.hedges.clear();
                    return Poll::Ready(out.map_err(M::lift));
                }
            }
            let mut i = 0;
            while i < this.hedges.len() {
                let Poll::Ready(result) = this.hedges[i].future.as_mut().poll(cx) else {
                    i += 1;
                    continue;
                };
                let done = this.hedges.swap_remove(i);
                let answer = Attempt {
                    number: done.number,
                    started: done.started,
                    running: this.hedges.len() + usize::from(this.first.is_some()),
                };
                if let Some(out) =
                    answer.settle(result, this.plan, this.hedger, this.budget, this.classifier)
                {
                    this.first.set(None);
                    this.hedges.clear();
                    return Poll::Ready(out.map_err(M::lift));
                }
            }
            // The next hedge: due now, later (sleep until then), or never.
            let Some(plan) = this.plan.as_mut() else {
                return Poll::Pending;
            };
            if this.due.is_none() {
                let Some(at) = plan.next_at() else {
                    return Poll::Pending;
                };
                let now = time::now();
                if at > now {
                    let deadline = time::to_tokio(at);
                    match this.sleep.as_mut().as_pin_mut() {
                        Some(sleep) if sleep.deadline() == deadline => {}
                        Some(sleep) => sleep.reset(deadline),
                        None => this.sleep.set(Some(tokio::time::sleep_until(deadline))),
                    }
                    if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
                        std::task::ready!(sleep.poll(cx));
                    }
                    continue;
                }
                *this.due = match this.budget {
                    Some(budget) => plan.poll(now, &mut *budget.lock()),
                    None => plan.poll(now, &mut Unlimited),
                };
                if this.due.is_none() {
                    // Refused by the budget: no hedge now, nor later.
                    continue;
                }
            }
            // A hedge is due: start it as soon as the service can take it.
            match this.service.poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(ready) => {
                    let Some(hedge) = this.due.take() else {
                        continue;
                    };
                    let now = time::now();
                    match ready {
                        Ok(()) => {
                            this.hedger.started(hedge.number);
                            this.hedges.push(Running {
                                number: hedge.number,
                                started: now,
                                future: Box::pin(this.service.call(this.request.clone())),
                            });
                        }
                        // The service cannot take it: that is this
                        // attempt's answer, judged as any other.
                        Err(e) => {
                            let answer = Attempt {
                                number: hedge.number,
                                started: now,
                                running: this.hedges.len() + usize::from(this.first.is_some()),
                            };
                            if let Some(out) = answer.settle(
                                Err(e),
                                this.plan,
                                this.hedger,
                                this.budget,
                                this.classifier,
                            ) {
                                this.first.set(None);
                                this.hedges.clear();
                                return Poll::Ready(out.map_err(M::lift));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An attempt that answered: which one, when it started, how many others
/// still run.
struct Attempt {
    number: u8,
    started: Instant,
    running: usize,
}

impl Attempt {
    /// Records the latency and asks the core whether `result` ends the
    /// call: `Some(result)` if it does (the plan is finished and the budget
    /// told), `None` to wait for the others.
    fn settle<T, E, C: Classify<T, E>>(
        self,
        result: Result<T, E>,
        plan: &mut Option<Plan>,
        hedger: &SharedHedger,
        budget: &Option<SharedBudget>,
        classifier: &C,
    ) -> Option<Result<T, E>> {
        let now = time::now();
        hedger.record(now.saturating_duration_since(self.started));
        let outcome = classifier.classify(&result).outcome;
        let running = u8::try_from(self.running).unwrap_or(u8::MAX);
        let answer = match plan {
            Some(plan) => plan.on_answer(outcome, running),
            // Hedging off: the one attempt is the answer.
            None => Answer::Fail,
        };
        let won = match answer {
            Answer::Wait => return None,
            Answer::Win => Some(self.number),
            Answer::Fail => None,
        };
        if let Some(plan) = plan.take() {
            match budget {
                Some(budget) => plan.finish(won, now, &mut *budget.lock()),
                None => plan.finish(won, now, &mut Unlimited),
            }
        }
        if let Some(number) = won.filter(|n| *n > 0) {
            hedger.won(number);
        }
        Some(result)
    }
}
