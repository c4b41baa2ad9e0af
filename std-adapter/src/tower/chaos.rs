//! [`ChaosLayer`]: fault injection for failure drills, the core's
//! [`Chaos`](steadfast::chaos::Chaos) machine on a tower stack.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use steadfast::chaos::{self, Chaos, Fault};
use steadfast::error::ConfigError;
use steadfast::rng::SplitMix64;
use tower::{Layer, Service};

use super::report::Report;
use crate::observer::LayerKind;
use crate::{Observer, seed, time};

type Make<T> = Arc<dyn Fn() -> T + Send + Sync>;

/// Injects faults into the requests of the service it wraps, as decided by a
/// [`Chaos`] machine (see [`steadfast::chaos`] for the rules): put it
/// **innermost**, right around the dependency, so the breaker, retry and
/// timeout layers above it react to an injected fault exactly as to a real
/// one.
///
/// * **Latency**: the inner request is created at once but not polled until
///   the delay has passed (an `async` service does no work before).
/// * **Error**: the inner service is not called; the answer is the error
///   made by the function given to [`ChaosLayer::new`], of the inner
///   service's own error type.
/// * **Hang**: the inner service is not called and the answer never comes: a
///   timeout above ends it (without one the request waits forever, as a hung
///   dependency would make it).
/// * **Outcome**: the inner service is not called; the answer is the one made
///   by [`with_outcome`](Self::with_outcome) (an error as for **Error** when
///   none was given).
///
/// Off unless the config says [`with_enabled`](steadfast::chaos::Config::with_enabled)`(true)`;
/// [`switch`](Self::switch) turns it off (or on) at run time for every clone.
/// Decisions draw from one seeded stream shared by every clone of the layer
/// and its services: [`with_seed`](Self::with_seed) replays a drill (the same
/// requests in the same order get the same faults), the default seed comes
/// from the operating system.
///
/// ```
/// use std::time::Duration;
/// use steadfast::chaos::{Config, PER_MILLION};
/// use steadfast_std::tower::ChaosLayer;
/// use tower::{Layer, Service, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Every request fails, as if the dependency refused it.
/// let drill = Config::DEFAULT.with_enabled(true).with_fault(PER_MILLION);
/// let layer = ChaosLayer::new(drill, || "injected: connection refused")?.with_seed(7);
/// let dependency = service_fn(|n: u32| async move { Ok::<_, &str>(n * 2) });
/// let mut svc = layer.layer(dependency);
/// assert_eq!(svc.ready().await?.call(21).await, Err("injected: connection refused"));
///
/// layer.switch().set(false); // the drill is over
/// assert_eq!(svc.ready().await?.call(21).await, Ok(42));
/// # Ok(())
/// # }
/// ```
pub struct ChaosLayer<T, E> {
    chaos: Chaos,
    enabled: ChaosSwitch,
    rng: Arc<Mutex<SplitMix64>>,
    fault: Make<E>,
    outcome: Option<Make<Result<T, E>>>,
    report: Option<Report>,
}

impl<T, E> Clone for ChaosLayer<T, E> {
    fn clone(&self) -> Self {
        Self {
            chaos: self.chaos,
            enabled: self.enabled.clone(),
            rng: self.rng.clone(),
            fault: self.fault.clone(),
            outcome: self.outcome.clone(),
            report: self.report.clone(),
        }
    }
}

impl<T, E> fmt::Debug for ChaosLayer<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosLayer")
            .field("config", self.chaos.config())
            .field("enabled", &self.enabled.get())
            .finish_non_exhaustive()
    }
}

/// Turns a [`ChaosLayer`] (and every clone of it and its services) on or off
/// at once: an operator's kill switch.
///
/// ```
/// use steadfast::chaos::Config;
/// use steadfast_std::tower::ChaosLayer;
///
/// let layer = ChaosLayer::<(), &str>::new(Config::DEFAULT, || "x")?;
/// let switch = layer.switch();
/// assert!(!switch.get()); // the default config is off
/// switch.set(true);
/// assert!(layer.switch().get());
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ChaosSwitch(Arc<AtomicBool>);

impl ChaosSwitch {
    /// Whether faults are injected.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Injects faults from now on, or stops.
    pub fn set(&self, enabled: bool) {
        self.0.store(enabled, Ordering::Relaxed);
    }
}

impl<T, E> ChaosLayer<T, E> {
    /// A layer injecting what `config` says, failing requests with errors
    /// made by `fault`.
    ///
    /// # Errors
    ///
    /// When [`Config::validate`](steadfast::chaos::Config::validate) refuses
    /// `config`.
    pub fn new(
        config: chaos::Config,
        fault: impl Fn() -> E + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        let chaos = Chaos::new(config.with_enabled(true))?;
        Ok(Self {
            chaos,
            enabled: ChaosSwitch(Arc::new(AtomicBool::new(config.enabled()))),
            rng: Arc::new(Mutex::new(SplitMix64::new(seed::from_os()))),
            fault: Arc::new(fault),
            outcome: None,
            report: None,
        })
    }

    /// Replaced outcomes ([`Fault::Outcome`]) answer what `outcome` makes: a
    /// fake success, or a particular error.
    ///
    /// ```
    /// use steadfast::chaos::{Config, PER_MILLION};
    /// use steadfast_std::tower::ChaosLayer;
    /// use tower::{Layer, Service, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let layer = ChaosLayer::new(Config::DEFAULT.with_enabled(true).with_outcome(PER_MILLION), || "err")?
    ///     .with_outcome(|| Ok("cached page"));
    /// let mut svc = layer.layer(service_fn(|_: ()| async { Ok::<_, &str>("live page") }));
    /// assert_eq!(svc.ready().await?.call(()).await, Ok("cached page"));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_outcome(
        mut self,
        outcome: impl Fn() -> Result<T, E> + Send + Sync + 'static,
    ) -> Self {
        self.outcome = Some(Arc::new(outcome));
        self
    }

    /// Draws from a stream seeded with `seed` (shared by every clone), so a
    /// drill can be replayed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = Arc::new(Mutex::new(SplitMix64::new(seed)));
        self
    }

    /// Reports every injection to `observer` under `name`
    /// ([`Observer::on_injection`]: `chaos_injections_total{name, kind}`, an
    /// `INFO` line).
    #[must_use]
    pub fn with_observer(mut self, name: &str, observer: Arc<dyn Observer>) -> Self {
        self.report = Some(Report::layer(observer, Arc::from(name), LayerKind::Chaos));
        self
    }

    /// The same layer switched by `enabled` (a registry's switch for its drill).
    pub(crate) fn sharing(mut self, enabled: Arc<AtomicBool>) -> Self {
        self.enabled = ChaosSwitch(enabled);
        self
    }

    /// Runs one attempt of an operation through the drill: `op` makes the
    /// attempt's future, called only when the drill lets the attempt reach
    /// the dependency. The same rules, seed and switch as a service wrapped
    /// by the layer; for a [`Policy`](crate::Policy) call, wrap the
    /// operation with it, so the drill sits innermost and every attempt
    /// passes it.
    ///
    /// ```
    /// use steadfast::chaos::{Config, PER_MILLION};
    /// use steadfast::pipeline;
    /// use steadfast_std::tower::ChaosLayer;
    /// use steadfast_std::{Policy, SharedBreaker};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let breaker = SharedBreaker::new("db", Default::default())?;
    /// let policy = Policy::builder(pipeline::Config::default())?.breaker(breaker.clone()).build();
    /// let drill = ChaosLayer::new(Config::DEFAULT.with_enabled(true).with_fault(PER_MILLION), || "injected")?;
    /// for _ in 0..4 {
    ///     let _ = policy.call(|| drill.run(|| async { Ok::<u8, &str>(1) })).await;
    /// }
    /// // Every attempt failed on purpose: the breaker opened as for a real outage.
    /// assert_eq!(breaker.state().name(), "open");
    /// # Ok(())
    /// # }
    /// ```
    pub fn run<F, Fut>(&self, op: F) -> ChaosFuture<Fut, T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if !self.enabled.get() {
            return ChaosFuture::pass(op());
        }
        let now = time::now();
        let injection = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            self.chaos.decide(now, &mut *rng)
        };
        if injection.is_none() {
            return ChaosFuture::pass(op());
        }
        let report = |kind| {
            if let Some(r) = &self.report {
                r.injection(kind);
            }
        };
        let delay = injection.delay.map(|d| {
            report("latency");
            tokio::time::sleep_until(time::to_tokio(now.saturating_add(d)))
        });
        let (inner, answer, hang) = match injection.fault {
            None => (Some(op()), None, false),
            Some(fault) => {
                report(fault.name());
                match fault {
                    Fault::Error => (None, Some(Err((self.fault)())), false),
                    Fault::Outcome => {
                        let answer = match &self.outcome {
                            Some(make) => make(),
                            None => Err((self.fault)()),
                        };
                        (None, Some(answer), false)
                    }
                    Fault::Hang => (None, None, true),
                }
            }
        };
        ChaosFuture {
            delay,
            inner,
            answer,
            hang,
        }
    }

    /// The switch shared by this layer, its clones and their services.
    pub fn switch(&self) -> ChaosSwitch {
        self.enabled.clone()
    }
}

impl<S, T, E> Layer<S> for ChaosLayer<T, E> {
    type Service = ChaosService<S, T, E>;

    fn layer(&self, inner: S) -> Self::Service {
        ChaosService {
            inner,
            layer: self.clone(),
        }
    }
}

/// A service with faults injected into its requests: see [`ChaosLayer`].
pub struct ChaosService<S, T, E> {
    inner: S,
    layer: ChaosLayer<T, E>,
}

impl<S: Clone, T, E> Clone for ChaosService<S, T, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, T, E> fmt::Debug for ChaosService<S, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, Req, T, E> Service<Req> for ChaosService<S, T, E>
where
    S: Service<Req, Response = T, Error = E>,
{
    type Response = T;
    type Error = E;
    type Future = ChaosFuture<S::Future, T, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let inner = &mut self.inner;
        self.layer.run(|| inner.call(req))
    }
}

pin_project! {
    /// The response future of a [`ChaosService`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ChaosFuture<F, T, E> {
        #[pin]
        delay: Option<tokio::time::Sleep>,
        #[pin]
        inner: Option<F>,
        answer: Option<Result<T, E>>,
        hang: bool,
    }
}

impl<F, T, E> ChaosFuture<F, T, E> {
    fn pass(inner: F) -> Self {
        Self {
            delay: None,
            inner: Some(inner),
            answer: None,
            hang: false,
        }
    }
}

impl<F, T, E> fmt::Debug for ChaosFuture<F, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosFuture")
            .field("delayed", &self.delay.is_some())
            .field("hang", &self.hang)
            .finish_non_exhaustive()
    }
}

impl<F, T, E> Future for ChaosFuture<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(delay) = this.delay.as_mut().as_pin_mut() {
            std::task::ready!(delay.poll(cx));
            this.delay.set(None);
        }
        if *this.hang {
            return Poll::Pending;
        }
        if let Some(answer) = this.answer.take() {
            return Poll::Ready(answer);
        }
        match this.inner.as_pin_mut() {
            Some(inner) => inner.poll(cx),
            // Answered already: stays pending, as a finished future may.
            None => Poll::Pending,
        }
    }
}
