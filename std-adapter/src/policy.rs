//! [`Policy`]: a named [`Pipeline`] plus the shared machines it lends to each
//! call, and the driver that executes what the pipeline says.
//!
//! The driver is the same for Tokio (`Policy::call`, feature `tokio`) and threads
//! ([`Policy::call_blocking`]): start a [`Call`], feed it one [`Input`] per
//! step through [`Call::handle`], run/sleep/queue as the [`Step`] says,
//! forward every [`Event`] to the [`Observer`], and answer the caller with the
//! core's [`Finish::answer`]. Each step locks the policy's
//! bulkhead and budget (in that order) for the core's few instructions, never
//! across an `.await` or user code; the breaker takes its own lock inside
//! that, last, and only off its lock-free clean path (see
//! [`SharedBreaker`]). The clock is read once to start a call and once per
//! attempt outcome or wait; nothing is written to memory shared with other
//! threads on the happy path unless a bulkhead or budget is lent. If the caller
//! drops the call midway, a guard feeds [`Input::Abandon`]: a half-open probe
//! slot comes back, a bulkhead slot is released or the queue left.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::AtomicU64;

use steadfast::bulkhead::Ticket;
use steadfast::error::ConfigError;
use steadfast::outcome::ErrorsFail;
use steadfast::outcome::Outcome;
use steadfast::pipeline::{
    self, Answer, Call, Event, Events, Finish, Gate, Input, NoGate, Pipeline, Reason, Shared, Step,
};
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::Instant;

use crate::bulkhead::{Wake, Watch};
use crate::observer::{NoopObserver, Observer};
use crate::ratelimit::SharedRateLimiter;
use crate::throttle::SharedThrottle;
use crate::{Error, SharedBreaker, SharedBudget, SharedBulkhead};

pub(crate) struct Inner {
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) pipeline: Pipeline,
    pub(crate) breaker: Option<SharedBreaker>,
    pub(crate) bulkhead: Option<SharedBulkhead>,
    pub(crate) budget: Option<SharedBudget>,
    pub(crate) throttle: Option<SharedThrottle>,
    pub(crate) limiter: Option<SharedRateLimiter>,
    /// Whether it has a throttle or a rate limiter, asked once per step.
    gated: bool,
    pub(crate) observer: std::sync::Arc<dyn Observer>,
    /// Whether an observer was set: a policy nobody observes collects and
    /// relays no events (its steps pay nothing for observation).
    observed: bool,
    /// The observer's watch over the bulkhead, when it has one and
    /// [`Observer::watches_bulkheads`] (asked once).
    watch: Option<std::sync::Arc<Watch>>,
    seed: u64,
    calls: AtomicU64,
}

/// A resilience policy: retry, timeouts, stage order and fallback rule (a
/// [`pipeline::Config`]), with an optional shared breaker, bulkhead and retry
/// budget, a classifier `C` and an [`Observer`]. Cheap to clone (an `Arc`);
/// every clone shares the same machines.
///
/// ```
/// use steadfast::pipeline;
/// use steadfast_std::{Policy, SharedBreaker};
///
/// let policy = Policy::builder(pipeline::Config::default())?
///     .name("postgres")
///     .breaker(SharedBreaker::new("postgres", Default::default())?)
///     .build();
/// let rows: Result<u32, steadfast_std::Error<std::io::Error>> = policy.call_blocking(|| Ok(3));
/// assert_eq!(rows.unwrap(), 3);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
pub struct Policy<C = ErrorsFail> {
    pub(crate) inner: std::sync::Arc<Inner>,
    pub(crate) classifier: C,
}

impl<C: Clone> Clone for Policy<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> fmt::Debug for Policy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.inner.name)
            .field("config", self.inner.pipeline.config())
            .field("breaker", &self.inner.breaker)
            .field("bulkhead", &self.inner.bulkhead)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Policy`]. See [`Policy::builder`].
///
/// ```
/// use steadfast::pipeline;
/// use steadfast_std::{Policy, SharedBulkhead, SharedBudget};
/// let policy = Policy::builder(pipeline::Config::default())?
///     .name("reports")
///     .bulkhead(SharedBulkhead::new("reports", Default::default())?)
///     .budget(SharedBudget::new(Default::default())?)
///     .seed(42)
///     .build();
/// assert_eq!(policy.name(), "reports");
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
pub struct PolicyBuilder<C = ErrorsFail> {
    name: std::sync::Arc<str>,
    pipeline: Pipeline,
    breaker: Option<SharedBreaker>,
    bulkhead: Option<SharedBulkhead>,
    budget: Option<SharedBudget>,
    throttle: Option<SharedThrottle>,
    limiter: Option<SharedRateLimiter>,
    observer: std::sync::Arc<dyn Observer>,
    observed: bool,
    classifier: C,
    seed: u64,
}

impl<C> fmt::Debug for PolicyBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyBuilder")
            .field("name", &self.name)
            .field("config", self.pipeline.config())
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// Starts building a policy from a pipeline config (named `"default"`, no
    /// shared machines, [`ErrorsFail`] classifier, no-op observer), or the
    /// error of [`pipeline::Config::validate`], naming the field.
    ///
    /// ```
    /// use steadfast::{pipeline, retry};
    ///
    /// let p = steadfast_std::Policy::builder(Default::default())?.build();
    /// assert_eq!(p.name(), "default");
    /// let bad = pipeline::Config::DEFAULT.with_retry(retry::Config::DEFAULT.with_max_attempts(0));
    /// assert_eq!(steadfast_std::Policy::builder(bad).unwrap_err().field, "max_attempts");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn builder(config: pipeline::Config) -> Result<PolicyBuilder, ConfigError> {
        Ok(PolicyBuilder {
            name: "default".into(),
            pipeline: Pipeline::new(config)?,
            breaker: None,
            bulkhead: None,
            budget: None,
            throttle: None,
            limiter: None,
            observer: std::sync::Arc::new(NoopObserver),
            observed: false,
            classifier: ErrorsFail,
            seed: crate::seed::from_os(),
        })
    }
}

impl<C> PolicyBuilder<C> {
    /// The policy's name (in events and metrics).
    ///
    /// ```
    /// let p = steadfast_std::Policy::builder(Default::default())?.name("kafka").build();
    /// assert_eq!(p.name(), "kafka");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn name(mut self, name: impl Into<std::sync::Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Lends this breaker to every call.
    ///
    /// ```
    /// # use steadfast_std::{Policy, SharedBreaker};
    /// let b = SharedBreaker::new("db", Default::default())?;
    /// let p = Policy::builder(Default::default())?.breaker(b.clone()).build();
    /// assert_eq!(p.breaker().unwrap().name(), "db");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn breaker(mut self, breaker: SharedBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Lends this bulkhead to every call.
    ///
    /// ```
    /// # use steadfast_std::{Policy, SharedBulkhead};
    /// let p = Policy::builder(Default::default())?.bulkhead(SharedBulkhead::new("pool", Default::default())?).build();
    /// assert!(p.bulkhead().is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn bulkhead(mut self, bulkhead: SharedBulkhead) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Lends this retry budget to every call.
    ///
    /// ```
    /// # use steadfast_std::{Policy, SharedBudget};
    /// let p = Policy::builder(Default::default())?.budget(SharedBudget::new(Default::default())?).build();
    /// assert!(p.budget().is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn budget(mut self, budget: SharedBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Passes every attempt through this adaptive throttle last, after the
    /// breaker and the bulkhead: while the dependency refuses work, attempts
    /// are refused locally ([`Reason::Throttled`],
    /// which ends the call) before they cost it anything. Each attempt that
    /// ran counts as a request, accepted unless it failed or timed out. See
    /// [`Gate`] for the rules.
    ///
    /// ```
    /// use steadfast_std::{Policy, throttle::SharedThrottle};
    /// let throttle = SharedThrottle::new("api", Default::default())?;
    /// let p = Policy::builder(Default::default())?.throttle(throttle.clone()).build();
    /// assert_eq!(p.call_blocking(|| Ok::<_, ()>(1)).unwrap(), 1);
    /// assert_eq!(throttle.counts(), (1, 1));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn throttle(mut self, throttle: SharedThrottle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Passes every attempt through this rate limiter last, after the
    /// breaker, the bulkhead and the throttle: an attempt over the rate is
    /// refused ([`Reason::RateLimited`]
    /// with when to come back). The call waits for that instant when its
    /// total deadline leaves room for a whole attempt after it and attempts
    /// remain, and fails fast otherwise, as for an open breaker. See
    /// [`Gate`] for the rules.
    ///
    /// ```
    /// use steadfast::ratelimit::Config;
    /// use steadfast::pipeline::Reason;
    /// use steadfast_std::{Policy, ratelimit::SharedRateLimiter};
    /// let limiter = SharedRateLimiter::new("api", Config::per_minute(1).with_burst(1))?;
    /// let p = Policy::builder(Default::default())?.rate_limiter(limiter).build();
    /// assert_eq!(p.call_blocking(|| Ok::<_, ()>(1)).unwrap(), 1);
    /// let refused = p.call_blocking(|| Ok::<_, ()>(2)).unwrap_err();
    /// assert!(matches!(refused.reason(), Reason::RateLimited { retry_at: Some(_) }));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn rate_limiter(mut self, limiter: SharedRateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Where events go (default: nowhere).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let p = steadfast_std::Policy::builder(Default::default())?.observer(Arc::new(steadfast_std::NoopObserver)).build();
    /// # let _ = p;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn observer(mut self, observer: std::sync::Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self.observed = true;
        self
    }

    /// Seeds the per-call jitter streams, for reproducible timelines: the
    /// `n`-th call (from 0) that needs a random draw uses
    /// `SplitMix64(seed + n)`. A call that never draws (no retry with jitter)
    /// takes no number, so the happy path writes no shared counter.
    ///
    /// Without it the seed comes from the operating system
    /// ([`seed::from_os`](crate::seed::from_os)), so replicas of a service do
    /// not retry in lockstep; [`Policy::seed`] tells which one a policy drew, to
    /// replay a run.
    ///
    /// ```
    /// let p = steadfast_std::Policy::builder(Default::default())?.seed(7).build();
    /// assert_eq!(p.seed(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// How each attempt's `Result` becomes a [`Verdict`](steadfast::outcome::Verdict) (default
    /// [`ErrorsFail`]: `Ok` succeeds, `Err` fails and is retried). Any
    /// `Fn(&Result<T, E>) -> Verdict` works.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// let p = steadfast_std::Policy::builder(Default::default())?
    ///     .classifier(|r: &Result<u16, ()>| match r {
    ///         Ok(s) if *s >= 500 => Verdict::failure(),
    ///         Ok(_) => Verdict::success(),
    ///         Err(()) => Verdict::failure(),
    ///     })
    ///     .build();
    /// assert_eq!(p.call_blocking(|| Ok::<u16, ()>(200)).unwrap(), 200);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn classifier<C2>(self, classifier: C2) -> PolicyBuilder<C2> {
        PolicyBuilder {
            name: self.name,
            pipeline: self.pipeline,
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: self.budget,
            throttle: self.throttle,
            limiter: self.limiter,
            observer: self.observer,
            observed: self.observed,
            classifier,
            seed: self.seed,
        }
    }

    /// The policy.
    ///
    /// ```
    /// let p = steadfast_std::Policy::builder(Default::default())?.build();
    /// # let _ = p;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn build(self) -> Policy<C> {
        self.observer
            .on_register(&self.name, self.breaker.as_ref().map(SharedBreaker::name));
        let watch = self
            .bulkhead
            .as_ref()
            .filter(|_| self.observer.watches_bulkheads())
            .map(|b| b.watch(&self.observer));
        Policy {
            inner: std::sync::Arc::new(Inner {
                name: self.name,
                pipeline: self.pipeline,
                breaker: self.breaker,
                bulkhead: self.bulkhead,
                budget: self.budget,
                gated: self.throttle.is_some() || self.limiter.is_some(),
                throttle: self.throttle,
                limiter: self.limiter,
                watch,
                observer: self.observer,
                observed: self.observed,
                seed: self.seed,
                calls: AtomicU64::new(0),
            }),
            classifier: self.classifier,
        }
    }
}

impl<C: Clone> Policy<C> {
    /// The same policy making one attempt: the same name, breaker, bulkhead,
    /// budget, observer, timeouts and fallback rule, for a request that can
    /// be sent only once.
    #[cfg(feature = "tower")]
    pub(crate) fn single_attempt(&self) -> Self {
        let config = *self.inner.pipeline.config();
        let config = config.with_retry(config.retry().with_max_attempts(1));
        // The config passed validation when the policy was built, and one
        // attempt is always a valid count: the policy itself is never the answer.
        let Ok(pipeline) = Pipeline::new(config) else {
            return self.clone();
        };
        let inner = &self.inner;
        Self {
            inner: std::sync::Arc::new(Inner {
                name: inner.name.clone(),
                pipeline,
                breaker: inner.breaker.clone(),
                bulkhead: inner.bulkhead.clone(),
                budget: inner.budget.clone(),
                throttle: inner.throttle.clone(),
                limiter: inner.limiter.clone(),
                gated: inner.gated,
                observer: inner.observer.clone(),
                observed: inner.observed,
                watch: inner.watch.clone(),
                seed: inner.seed,
                calls: AtomicU64::new(0),
            }),
            classifier: self.classifier.clone(),
        }
    }
}

impl<C> Policy<C> {
    /// The policy's name.
    ///
    /// ```
    /// assert_eq!(steadfast_std::Policy::builder(Default::default())?.build().name(), "default");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The seed of the policy's jitter streams (see [`PolicyBuilder::seed`]).
    ///
    /// ```
    /// let a = steadfast_std::Policy::builder(Default::default())?.build();
    /// let b = steadfast_std::Policy::builder(Default::default())?.build();
    /// assert_ne!(a.seed(), b.seed()); // drawn from the OS
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// The pipeline config.
    ///
    /// ```
    /// let p = steadfast_std::Policy::builder(Default::default())?.build();
    /// assert_eq!(p.config().retry().max_attempts(), 3);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> &pipeline::Config {
        self.inner.pipeline.config()
    }

    /// The shared breaker, if any.
    ///
    /// ```
    /// assert!(steadfast_std::Policy::builder(Default::default())?.build().breaker().is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn breaker(&self) -> Option<&SharedBreaker> {
        self.inner.breaker.as_ref()
    }

    /// The shared bulkhead, if any.
    ///
    /// ```
    /// assert!(steadfast_std::Policy::builder(Default::default())?.build().bulkhead().is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn bulkhead(&self) -> Option<&SharedBulkhead> {
        self.inner.bulkhead.as_ref()
    }

    /// The shared retry budget, if any.
    ///
    /// ```
    /// assert!(steadfast_std::Policy::builder(Default::default())?.build().budget().is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn budget(&self) -> Option<&SharedBudget> {
        self.inner.budget.as_ref()
    }

    /// The classifier.
    ///
    /// ```
    /// let p = steadfast_std::Policy::builder(Default::default())?.build();
    /// assert_eq!(*p.classifier(), steadfast::outcome::ErrorsFail);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn classifier(&self) -> &C {
        &self.classifier
    }

    /// The same policy (same shared machines) with another classifier, e.g.
    /// for an operation with another result type.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// let p = steadfast_std::Policy::builder(Default::default())?.build();
    /// let lenient = p.with_classifier(|_: &Result<(), ()>| Verdict::success());
    /// assert!(lenient.call_blocking(|| Err::<(), ()>(())).is_err()); // Err is still returned…
    /// assert_eq!(lenient.config().retry().max_attempts(), 3);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_classifier<C2>(&self, classifier: C2) -> Policy<C2> {
        Policy {
            inner: self.inner.clone(),
            classifier,
        }
    }
}

/// The call's jitter stream, seeded on its first draw (see
/// [`PolicyBuilder::seed`]): calls that never draw touch no shared counter.
struct LazyRng<'a> {
    rng: &'a mut Option<SplitMix64>,
    policy: &'a Inner,
}

impl Rng for LazyRng<'_> {
    fn next_u64(&mut self) -> u64 {
        let policy = self.policy;
        self.rng
            .get_or_insert_with(|| {
                let n = policy
                    .calls
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                SplitMix64::new(policy.seed.wrapping_add(n))
            })
            .next_u64()
    }
}

/// Hands a call's events to the policy's [`Observer`] with its names; the
/// instant the call started, for its latency; the name of the call's
/// fallback, if it has a named one.
struct Relay<'a>(&'a Inner, Instant, Option<&'a str>);

impl pipeline::Observer for Relay<'_> {
    fn on_event(&mut self, _now: Instant, event: &Event) {
        let policy = self.0;
        let breaker = policy.breaker.as_ref().map(SharedBreaker::name);
        match (event, self.2) {
            (Event::Fallback(failure), Some(fallback)) => {
                policy
                    .observer
                    .on_fallback(&policy.name, breaker, fallback, failure);
            }
            _ => policy.observer.on_event(&policy.name, breaker, event),
        }
    }

    fn on_finish(&mut self, now: Instant, finish: &Finish) {
        let observer = &self.0.observer;
        observer.on_finish(&self.0.name, finish);
        observer.on_latency(&self.0.name, now.saturating_duration_since(self.1));
    }
}

/// How a [`Driver`] holds its policy: lent by the caller for the call
/// ([`Lent`]), or shared with it ([`Owned`]), so that a call can live in a
/// future that owns everything it needs.
pub(crate) trait Hold: Deref<Target = Pipeline> + Clone {
    fn inner(&self) -> &Inner;
}

/// A policy lent for one call.
#[derive(Clone, Copy)]
pub(crate) struct Lent<'p>(pub(crate) &'p Inner);

impl Deref for Lent<'_> {
    type Target = Pipeline;
    fn deref(&self) -> &Pipeline {
        &self.0.pipeline
    }
}

impl Hold for Lent<'_> {
    fn inner(&self) -> &Inner {
        self.0
    }
}

/// A policy a call shares.
#[cfg(feature = "tower")]
#[derive(Clone)]
pub(crate) struct Owned(pub(crate) std::sync::Arc<Inner>);

#[cfg(feature = "tower")]
impl Deref for Owned {
    type Target = Pipeline;
    fn deref(&self) -> &Pipeline {
        &self.0.pipeline
    }
}

#[cfg(feature = "tower")]
impl Hold for Owned {
    fn inner(&self) -> &Inner {
        &self.0
    }
}

/// One call in flight: the core `Call`, fed one [`Input`] per step under the
/// policy's locks; dropping it before the call ended feeds [`Input::Abandon`].
pub(crate) struct Driver<'p, H: Hold = Lent<'p>> {
    policy: H,
    call: Call<'p, H>,
    rng: Option<SplitMix64>,
    clock: fn() -> Instant,
    /// The instant the call started, for its first step (one clock read).
    start: Option<Instant>,
    /// The instant the call started, for its latency.
    started: Instant,
    /// The bulkhead ticket this call waits on, if queued.
    ticket: Option<Ticket>,
    /// The name of the call's fallback, if it has a named one.
    fallback: Option<&'p str>,
}

impl<'p, H: Hold> Driver<'p, H> {
    /// A call starting now, on `clock`; `fallback`: whether the caller has
    /// one, and the name it is reported under ([`Observer::on_fallback`]).
    pub(crate) fn start(
        policy: H,
        clock: fn() -> Instant,
        has_fallback: bool,
        fallback: Option<&'p str>,
    ) -> Self {
        let now = clock();
        Self {
            call: Call::of(policy.clone(), now).with_fallback(has_fallback),
            policy,
            rng: None,
            clock,
            start: Some(now),
            started: now,
            ticket: None,
            fallback,
        }
    }

    pub(crate) fn now(&self) -> Instant {
        (self.clock)()
    }

    pub(crate) fn bulkhead(&self) -> Option<&SharedBulkhead> {
        self.policy.inner().bulkhead.as_ref()
    }

    /// The policy the call runs under.
    #[cfg(feature = "tower")]
    pub(crate) fn policy(&self) -> &Inner {
        self.policy.inner()
    }

    /// Feeds `input` at the current time; returns the next step.
    pub(crate) fn step(&mut self, input: Input) -> Step {
        let now = self.start.take().unwrap_or_else(self.clock);
        let policy = self.policy.inner();
        let mut raised = Events::new();
        // The waiters granted a slot, woken once the locks are released (none
        // on most steps, which then pay nothing to drop the list).
        let mut wakes: Option<[Option<Wake>; Events::CAPACITY]> = None;
        let mut granted = 0;
        // Whether the step changed the bulkhead's (in flight, queued), watched.
        let mut occupancy = false;
        let step = {
            let mut bulkhead = policy.bulkhead.as_ref().map(SharedBulkhead::lock);
            let watched = bulkhead.as_deref().filter(|_| policy.watch.is_some());
            let before = watched.map(|m| (m.in_flight(), m.queued()));
            let mut budget = policy.budget.as_ref().map(SharedBudget::lock);
            let mut gate = policy.breaker.as_ref().map(SharedBreaker::gate);
            let mut shared = Shared {
                breaker: gate.as_mut(),
                bulkhead: bulkhead.as_deref_mut(),
                budget: budget.as_deref_mut(),
                // Events are collected only for an observer or a bulkhead's grants.
                observer: (policy.observed || policy.bulkhead.is_some()).then_some(&mut raised),
                gate: None::<&mut NoGate>,
            };
            let mut rng = LazyRng {
                rng: &mut self.rng,
                policy,
            };
            // A policy without a gate steps the call with none at all, so its
            // steps run no gate code.
            let step = if !policy.gated {
                self.call.handle(input, now, &mut shared, &mut rng)
            } else {
                let mut admission = (
                    policy.throttle.as_ref().map(SharedThrottle::gate),
                    policy.limiter.as_ref().map(SharedRateLimiter::gate),
                );
                let mut shared = shared.with_gate(&mut admission);
                self.call.handle(input, now, &mut shared, &mut rng)
            };
            // Grants are recorded, and a ticket left behind forgotten, under the
            // bulkhead's lock: a waiter leaving the queue meanwhile cannot miss
            // a grant or have one recorded after it left.
            if let Some(b) = &policy.bulkhead {
                for event in raised.iter() {
                    if let Event::Granted(ticket) = *event
                        && let Some(wake) =
                            wakes.get_or_insert_with(Default::default).get_mut(granted)
                    {
                        *wake = Some(b.record_grant(ticket));
                        granted += 1;
                    }
                }
            }
            let queued = match step {
                Step::Queued { ticket, .. } => Some(ticket),
                _ => None,
            };
            if let (Some(old), Some(b)) = (self.ticket, &policy.bulkhead)
                && self.ticket != queued
            {
                b.forget(old);
            }
            self.ticket = queued;
            let after = bulkhead
                .as_deref()
                .filter(|_| policy.watch.is_some())
                .map(|m| (m.in_flight(), m.queued()));
            if after != before
                && let (Some((in_flight, queued)), Some(watch)) = (after, &policy.watch)
            {
                watch.publish(in_flight, queued);
                occupancy = true;
            }
            step
        };
        if let Some(wakes) = wakes {
            for wake in wakes.into_iter().flatten() {
                wake.wake();
            }
        }
        if occupancy {
            report_occupancy(policy);
        }
        if policy.observed {
            let mut relay = Relay(policy, self.started, self.fallback);
            while let Some(event) = raised.pop() {
                pipeline::Observer::on_event(&mut relay, now, &event);
            }
            self.call.drain(now, &mut relay);
        }
        step
    }
}

/// A shared machine lent to a step as a [`Gate`]: locked only while one of
/// its methods runs, which hands it the core machine's own answer.
pub(crate) struct Locked<'a, T>(pub(crate) &'a crate::sync::Mutex<T>);

impl<T: Gate> Locked<'_, T> {
    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // The machines hold plain data: a panic elsewhere leaves them usable.
        f(&mut crate::sync::lock(self.0))
    }
}

impl<T: Gate> Gate for Locked<'_, T> {
    fn admit(&mut self, now: Instant) -> Result<(), Reason> {
        self.with(|g| g.admit(now))
    }
    fn record(&mut self, outcome: Outcome, now: Instant) {
        self.with(|g| g.record(outcome, now));
    }
    fn cancel(&mut self, now: Instant) {
        self.with(|g| g.cancel(now));
    }
    fn withdraw(&mut self, now: Instant) {
        self.with(|g| g.withdraw(now));
    }
}

/// Tells the policy's observer its bulkhead's latest (in flight, queued)
/// (see [`Watch::report`]): out of line, so that [`Driver::step`]'s own code
/// stays as tight as without it.
#[inline(never)]
fn report_occupancy(policy: &Inner) {
    if let Some(watch) = &policy.watch {
        watch.report();
    }
}

impl<H: Hold> Drop for Driver<'_, H> {
    fn drop(&mut self) {
        if !self.call.is_finished() {
            let _ = self.step(Input::Abandon);
        }
    }
}

/// The caller's answer (the core's [`Finish::answer`]), its error naming the
/// policy's breaker.
pub(crate) fn answer<T, E>(
    policy: &Inner,
    finish: Finish,
    last: Option<Result<T, E>>,
) -> Answer<T, Error<E>> {
    finish.answer(last).map_err(|e| with_breaker(policy, e))
}

/// The core's error, naming the policy's breaker.
pub(crate) fn with_breaker<E>(policy: &Inner, error: steadfast::pipeline::Error<E>) -> Error<E> {
    let error = Error::new(error);
    match &policy.breaker {
        Some(breaker) => error.named(breaker.error_name()),
        None => error,
    }
}
