//! [`Observer`]s that turn pipeline events into `metrics` (feature `metrics`)
//! and `tracing` events (feature `tracing`), with the seeds' names.
//!
//! Every metric has one label, [`LABEL`] (`name`): the name of the breaker,
//! bulkhead or policy it counts. `MetricsObserver::with_prefix` puts a
//! prefix before every metric name.
//!
//! | metric | kind | `name` is | when |
//! |---|---|---|---|
//! | `circuit_breaker_state` | gauge | the breaker | every transition (0 closed, 1 half-open, 2 open: [`state_code`]) |
//! | `circuit_breaker_opened_total` | counter | the breaker | the breaker opened (trips, re-opens, forced) |
//! | `circuit_breaker_rejections_total` | counter | the policy | a call refused by its breaker |
//! | `retry_attempts_total` | counter | the policy | a retry was scheduled (attempts after the first; a call that succeeds at once adds nothing) |
//! | `timeout_errors_total` | counter | the policy | an attempt timed out |
//! | `fallback_invocations_total` | counter | the policy, or the named fallback (a `cache::LastGood`, feature `cache`) | a call was answered by its fallback |
//! | `bulkhead_rejections_total` | counter | the policy | a call found its bulkhead full (or its queue wait expired) |
//! | `call_duration_seconds` | histogram | the policy | a call ended: start to answer, queueing, every attempt and backoff included |
//! | `bulkhead_in_flight` | gauge | the bulkhead | slots taken, after each step that changed it |
//! | `bulkhead_queued` | gauge | the bulkhead | calls waiting for a slot, after each step that changed it |
//! | `rate_limit_rejections_total` | counter | the rate limiter (a layer), or the policy | a call refused by a rate limiter: by a `RateLimitLayer` or `KeyedRateLimitLayer` (under the limiter's name), or by a policy's rate limiter (under the policy's, as its breaker's refusals) |
//! | `throttle_rejections_total` | counter | the throttle (a layer), or the policy | a call refused locally by an adaptive throttle: a `ThrottleLayer`'s (under the throttle's name) or a policy's (under the policy's) |
//! | `adaptive_limit` | gauge | the adaptive limit | calls it admits at once now, after each step that changed it (`SharedAdaptiveLimit` given an observer) |
//! | `adaptive_limit_in_flight` | gauge | the adaptive limit | its permits out, after each step that changed them |
//! | `adaptive_limit_rejections_total` | counter | the adaptive limit | a call refused at the limit |
//! | `hedges_started_total` | counter | the hedge layer | a hedge (an attempt beside the first) started (`HedgeLayer`) |
//! | `hedge_wins_total` | counter | the hedge layer | a hedge's answer won its call |
//! | `chaos_injections_total` | counter (also labelled `kind`: `error`, `hang`, `outcome`, `latency`) | the chaos layer | a fault was injected on purpose (`ChaosLayer`); a fault with latency counts once for each |
//!
//! On the tower path, a layer given an observer reports under its own name:
//! a `BreakerLayer` under its breaker's, a `BulkheadLayer` under its
//! bulkhead's, a `RetryLayer` or `TimeoutLayer` under the name it was given
//! (a `Registry`'s layers: the policy's). `call_duration_seconds` comes from
//! policies and retry layers, one sample per call.
//!
//! Every counter of a policy, and its breaker's `circuit_breaker_opened_total`,
//! exists at 0 as soon as the policy is built ([`Observer::on_register`]); a
//! `Registry` also sets every breaker's `circuit_breaker_state`, and every
//! bulkhead's `bulkhead_in_flight` and `bulkhead_queued`, at start-up.
//!
//! `tracing` events use the target `steadfast` with the fields `policy`,
//! `breaker`, `attempt`, `delay`, `from`, `to`, `retry_in`, `reason`, durations
//! written as people read them (`1.5s`, `250ms`): a breaker opening and attempt
//! timeouts at `WARN`; other transitions, retries, fallbacks, calls that fail
//! and injected faults at `INFO`; each refused call (breaker open, bulkhead full) at `DEBUG` — an
//! outage refuses thousands of calls, and its transitions already say why.
//!
//! [`Standard`] is both (whichever features are on); pass it to
//! `Registry::from_set_with_observer` (feature `config`)
//! or [`PolicyBuilder::observer`](crate::PolicyBuilder::observer).
//!
//! ```
//! use std::sync::Arc;
//! use steadfast::pipeline;
//! use steadfast_std::Policy;
//! use steadfast_std::observe::Standard;
//!
//! let policy = Policy::builder(pipeline::Config::default())?
//!     .name("quotes")
//!     .observer(Arc::new(Standard))
//!     .build();
//! assert_eq!(policy.call_blocking(|| Ok::<_, ()>(1)).unwrap(), 1);
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

#[cfg(any(feature = "metrics", feature = "tracing"))]
use steadfast::breaker::State;
#[cfg(any(feature = "metrics", feature = "tracing"))]
use steadfast::pipeline::Reason;
use steadfast::pipeline::{Event, Failure, Finish};
use steadfast::time::Duration;

pub use crate::health::state_code;
use crate::observer::{LayerKind, Observer};

#[cfg(any(feature = "metrics", feature = "tracing"))]
fn is_open(state: &State) -> bool {
    matches!(state, State::Open { .. } | State::ForcedOpen)
}

/// The failure a finished call was refused with, if it was refused.
#[cfg(any(feature = "metrics", feature = "tracing"))]
fn rejection(finish: &Finish) -> Option<&Failure> {
    match finish {
        Finish::Failed(f) | Finish::Fallback(f) if f.is_rejection() => Some(f),
        _ => None,
    }
}

/// The one label every metric carries: the name of the policy, breaker or
/// bulkhead it counts (`circuit_breaker_state{name="kafka"}`,
/// `retry_attempts_total{name="kafka"}`).
///
/// ```
/// assert_eq!(steadfast_std::observe::LABEL, "name");
/// ```
pub const LABEL: &str = "name";

/// The metric names, with the observer's prefix.
#[cfg(feature = "metrics")]
#[derive(Clone, Debug)]
struct Names {
    state: metrics::SharedString,
    opened: metrics::SharedString,
    breaker_rejections: metrics::SharedString,
    retries: metrics::SharedString,
    timeouts: metrics::SharedString,
    fallbacks: metrics::SharedString,
    bulkhead_rejections: metrics::SharedString,
    latency: metrics::SharedString,
    in_flight: metrics::SharedString,
    queued: metrics::SharedString,
    injections: metrics::SharedString,
    rate_limited: metrics::SharedString,
    throttled: metrics::SharedString,
    adaptive_limit: metrics::SharedString,
    adaptive_in_flight: metrics::SharedString,
    adaptive_rejections: metrics::SharedString,
    hedges_started: metrics::SharedString,
    hedge_wins: metrics::SharedString,
}

#[cfg(feature = "metrics")]
impl Names {
    const UNPREFIXED: Self = Self {
        state: metrics::SharedString::const_str("circuit_breaker_state"),
        opened: metrics::SharedString::const_str("circuit_breaker_opened_total"),
        breaker_rejections: metrics::SharedString::const_str("circuit_breaker_rejections_total"),
        retries: metrics::SharedString::const_str("retry_attempts_total"),
        timeouts: metrics::SharedString::const_str("timeout_errors_total"),
        fallbacks: metrics::SharedString::const_str("fallback_invocations_total"),
        bulkhead_rejections: metrics::SharedString::const_str("bulkhead_rejections_total"),
        latency: metrics::SharedString::const_str("call_duration_seconds"),
        in_flight: metrics::SharedString::const_str("bulkhead_in_flight"),
        queued: metrics::SharedString::const_str("bulkhead_queued"),
        injections: metrics::SharedString::const_str("chaos_injections_total"),
        rate_limited: metrics::SharedString::const_str("rate_limit_rejections_total"),
        throttled: metrics::SharedString::const_str("throttle_rejections_total"),
        adaptive_limit: metrics::SharedString::const_str("adaptive_limit"),
        adaptive_in_flight: metrics::SharedString::const_str("adaptive_limit_in_flight"),
        adaptive_rejections: metrics::SharedString::const_str("adaptive_limit_rejections_total"),
        hedges_started: metrics::SharedString::const_str("hedges_started_total"),
        hedge_wins: metrics::SharedString::const_str("hedge_wins_total"),
    };

    fn prefixed(prefix: &str) -> Self {
        let name = |plain: &metrics::SharedString| {
            metrics::SharedString::from(std::sync::Arc::<str>::from(format!(
                "{prefix}{}",
                &**plain
            )))
        };
        let plain = Self::UNPREFIXED;
        Self {
            state: name(&plain.state),
            opened: name(&plain.opened),
            breaker_rejections: name(&plain.breaker_rejections),
            retries: name(&plain.retries),
            timeouts: name(&plain.timeouts),
            fallbacks: name(&plain.fallbacks),
            bulkhead_rejections: name(&plain.bulkhead_rejections),
            latency: name(&plain.latency),
            in_flight: name(&plain.in_flight),
            queued: name(&plain.queued),
            injections: name(&plain.injections),
            rate_limited: name(&plain.rate_limited),
            throttled: name(&plain.throttled),
            adaptive_limit: name(&plain.adaptive_limit),
            adaptive_in_flight: name(&plain.adaptive_in_flight),
            adaptive_rejections: name(&plain.adaptive_rejections),
            hedges_started: name(&plain.hedges_started),
            hedge_wins: name(&plain.hedge_wins),
        }
    }

    fn describe(&self) {
        use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
        describe_gauge!(
            self.state.clone(),
            "Circuit breaker state (0=closed, 1=half_open, 2=open)"
        );
        describe_counter!(self.opened.clone(), "Circuit breakers opened");
        describe_counter!(
            self.breaker_rejections.clone(),
            "Calls refused by an open circuit breaker"
        );
        describe_counter!(
            self.retries.clone(),
            "Retries scheduled: attempts after the first"
        );
        describe_counter!(self.timeouts.clone(), "Attempts that timed out");
        describe_counter!(self.rate_limited.clone(), "Calls refused by a rate limiter");
        describe_counter!(
            self.throttled.clone(),
            "Calls refused locally by an adaptive throttle"
        );
        describe_counter!(
            self.injections.clone(),
            "Faults injected on purpose (chaos), by kind"
        );
        describe_counter!(self.fallbacks.clone(), "Calls answered by a fallback");
        describe_counter!(
            self.bulkhead_rejections.clone(),
            "Calls refused by a full bulkhead"
        );
        describe_histogram!(
            self.latency.clone(),
            Unit::Seconds,
            "Call duration, start to answer: queueing, attempts and backoff included"
        );
        describe_gauge!(self.in_flight.clone(), "Bulkhead slots taken");
        describe_gauge!(self.queued.clone(), "Calls waiting in a bulkhead's queue");
        describe_gauge!(
            self.adaptive_limit.clone(),
            "Calls an adaptive concurrency limit admits at once"
        );
        describe_gauge!(
            self.adaptive_in_flight.clone(),
            "Calls holding a slot of an adaptive concurrency limit"
        );
        describe_counter!(
            self.adaptive_rejections.clone(),
            "Calls refused by an adaptive concurrency limit"
        );
        describe_counter!(
            self.hedges_started.clone(),
            "Hedges started: attempts beside a call's first"
        );
        describe_counter!(self.hedge_wins.clone(), "Calls answered by a hedge");
    }
}

/// Counts, gauges and a latency histogram with the seeds' names through the
/// `metrics` facade (see the [module docs](self)), each labelled [`LABEL`];
/// install any recorder, e.g. `metrics-exporter-prometheus`.
///
/// ```
/// use steadfast::pipeline::Event;
/// use steadfast_std::Observer;
/// use steadfast_std::observe::MetricsObserver;
///
/// let observer = MetricsObserver::new(); // describes the metrics
/// observer.on_event("kafka_publish", None, &Event::TimedOut { attempt: 1 });
/// ```
#[cfg(feature = "metrics")]
#[derive(Clone, Debug)]
pub struct MetricsObserver {
    names: Names,
}

#[cfg(feature = "metrics")]
impl Default for MetricsObserver {
    /// The observer without a prefix, describing nothing.
    fn default() -> Self {
        Self::UNPREFIXED
    }
}

#[cfg(feature = "metrics")]
impl MetricsObserver {
    const UNPREFIXED: Self = Self {
        names: Names::UNPREFIXED,
    };

    /// The observer; describes every metric to the installed recorder (call it
    /// after installing one, so the help texts are exported).
    ///
    /// ```
    /// let _ = steadfast_std::observe::MetricsObserver::new();
    /// ```
    pub fn new() -> Self {
        Self::UNPREFIXED.names.describe();
        Self::UNPREFIXED
    }

    /// The observer with every metric name starting with `prefix`
    /// (`"shop_"`: `shop_circuit_breaker_state`), described to the installed
    /// recorder. Pair it with [`TracingObserver`] as `(metrics, TracingObserver)`
    /// for what [`Standard`] does.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use steadfast_std::observe::{MetricsObserver, TracingObserver};
    /// let observer = Arc::new((MetricsObserver::with_prefix("shop_"), TracingObserver));
    /// let policy = steadfast_std::Policy::builder(Default::default())?.observer(observer).build();
    /// # let _ = policy;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn with_prefix(prefix: &str) -> Self {
        let names = Names::prefixed(prefix);
        names.describe();
        Self { names }
    }

    /// The name of the gauge of breaker states, with the prefix.
    ///
    /// ```
    /// use steadfast_std::observe::MetricsObserver;
    /// assert_eq!(MetricsObserver::with_prefix("shop_").state_gauge(), "shop_circuit_breaker_state");
    /// ```
    pub fn state_gauge(&self) -> &str {
        &self.names.state
    }
}

#[cfg(feature = "metrics")]
impl Observer for MetricsObserver {
    fn on_register(&self, policy: &str, breaker: Option<&str>) {
        let n = &self.names;
        for name in [
            &n.breaker_rejections,
            &n.retries,
            &n.timeouts,
            &n.fallbacks,
            &n.bulkhead_rejections,
        ] {
            metrics::counter!(name.clone(), LABEL => policy.to_owned()).increment(0);
        }
        if let Some(breaker) = breaker {
            metrics::counter!(n.opened.clone(), LABEL => breaker.to_owned()).increment(0);
        }
    }

    fn on_event(&self, policy: &str, breaker: Option<&str>, event: &Event) {
        let n = &self.names;
        let name = policy.to_owned();
        match event {
            Event::Breaker(t) => {
                let breaker = breaker.unwrap_or(policy).to_owned();
                metrics::gauge!(n.state.clone(), LABEL => breaker.clone())
                    .set(f64::from(state_code(&t.to())));
                if is_open(&t.to()) && !is_open(&t.from()) {
                    metrics::counter!(n.opened.clone(), LABEL => breaker).increment(1);
                }
            }
            Event::Retry { .. } => {
                metrics::counter!(n.retries.clone(), LABEL => name).increment(1);
            }
            Event::TimedOut { .. } => {
                metrics::counter!(n.timeouts.clone(), LABEL => name).increment(1);
            }
            Event::Fallback(_) => {
                metrics::counter!(n.fallbacks.clone(), LABEL => name).increment(1);
            }
            Event::Granted(_) => {}
        }
    }

    fn on_fallback(&self, _policy: &str, _breaker: Option<&str>, fallback: &str, _: &Failure) {
        metrics::counter!(self.names.fallbacks.clone(), LABEL => fallback.to_owned()).increment(1);
    }

    fn on_finish(&self, policy: &str, finish: &Finish) {
        let n = &self.names;
        let counter = match rejection(finish) {
            Some(Failure {
                reason: Reason::BulkheadFull | Reason::QueueTimeout,
                ..
            }) => &n.bulkhead_rejections,
            Some(Failure {
                reason: Reason::BreakerOpen { .. },
                ..
            }) => &n.breaker_rejections,
            Some(Failure {
                reason: Reason::RateLimited { .. },
                ..
            }) => &n.rate_limited,
            Some(Failure {
                reason: Reason::Throttled,
                ..
            }) => &n.throttled,
            _ => return,
        };
        metrics::counter!(counter.clone(), LABEL => policy.to_owned()).increment(1);
    }

    fn on_latency(&self, policy: &str, latency: Duration) {
        let seconds = std::time::Duration::from_micros(latency.as_micros()).as_secs_f64();
        metrics::histogram!(self.names.latency.clone(), LABEL => policy.to_owned()).record(seconds);
    }

    fn watches_bulkheads(&self) -> bool {
        true
    }

    fn on_bulkhead(&self, bulkhead: &str, in_flight: u32, queued: u32) {
        let n = &self.names;
        metrics::gauge!(n.in_flight.clone(), LABEL => bulkhead.to_owned())
            .set(f64::from(in_flight));
        metrics::gauge!(n.queued.clone(), LABEL => bulkhead.to_owned()).set(f64::from(queued));
    }

    fn on_injection(&self, name: &str, kind: &'static str) {
        metrics::counter!(self.names.injections.clone(), LABEL => name.to_owned(), "kind" => kind)
            .increment(1);
    }

    fn on_register_layer(&self, kind: LayerKind, name: &str) {
        let n = &self.names;
        let label = || name.to_owned();
        match kind {
            LayerKind::RateLimiter => {
                metrics::counter!(n.rate_limited.clone(), LABEL => label()).increment(0);
            }
            LayerKind::Throttle => {
                metrics::counter!(n.throttled.clone(), LABEL => label()).increment(0);
            }
            LayerKind::AdaptiveLimit => {
                metrics::counter!(n.adaptive_rejections.clone(), LABEL => label()).increment(0);
            }
            LayerKind::Hedger => {
                metrics::counter!(n.hedges_started.clone(), LABEL => label()).increment(0);
                metrics::counter!(n.hedge_wins.clone(), LABEL => label()).increment(0);
            }
            LayerKind::Cache => {
                metrics::counter!(n.fallbacks.clone(), LABEL => label()).increment(0);
            }
            LayerKind::Chaos => {
                for kind in ["error", "hang", "outcome", "latency"] {
                    metrics::counter!(n.injections.clone(), LABEL => label(), "kind" => kind)
                        .increment(0);
                }
            }
        }
    }

    fn on_adaptive_limit(&self, name: &str, limit: u32, in_flight: u32) {
        let n = &self.names;
        metrics::gauge!(n.adaptive_limit.clone(), LABEL => name.to_owned()).set(f64::from(limit));
        metrics::gauge!(n.adaptive_in_flight.clone(), LABEL => name.to_owned())
            .set(f64::from(in_flight));
    }

    fn on_adaptive_rejection(&self, name: &str, _limit: u32) {
        metrics::counter!(self.names.adaptive_rejections.clone(), LABEL => name.to_owned())
            .increment(1);
    }

    fn on_hedge_started(&self, name: &str, _number: u8) {
        metrics::counter!(self.names.hedges_started.clone(), LABEL => name.to_owned()).increment(1);
    }

    fn on_hedge_won(&self, name: &str, _number: u8) {
        metrics::counter!(self.names.hedge_wins.clone(), LABEL => name.to_owned()).increment(1);
    }
}

/// `tracing` events for every transition, retry, timeout, fallback and
/// rejection (see the [module docs](self)).
///
/// ```
/// use steadfast::pipeline::Event;
/// use steadfast::time::Duration;
/// use steadfast_std::Observer;
/// use steadfast_std::observe::TracingObserver;
///
/// TracingObserver.on_event("kafka_publish", Some("kafka"), &Event::Retry {
///     attempt: 2,
///     delay: Duration::from_millis(100),
///     at: steadfast::time::Instant::from_millis(100),
/// });
/// ```
#[cfg(feature = "tracing")]
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingObserver;

#[cfg(feature = "tracing")]
impl Observer for TracingObserver {
    fn on_injection(&self, name: &str, kind: &'static str) {
        tracing::info!(target: "steadfast", policy = name, kind, "chaos: fault injected");
    }

    fn on_adaptive_rejection(&self, name: &str, limit: u32) {
        tracing::debug!(target: "steadfast", policy = name, limit, "refused: adaptive limit reached");
    }

    fn on_hedge_started(&self, name: &str, number: u8) {
        tracing::debug!(target: "steadfast", policy = name, hedge = number, "hedge started");
    }

    fn on_event(&self, policy: &str, breaker: Option<&str>, event: &Event) {
        let breaker = breaker.unwrap_or("");
        match event {
            Event::Breaker(t) => {
                let (from, to) = (t.from().name(), t.to().name());
                if from == to {
                    tracing::debug!(target: "steadfast", policy, breaker, state = to, "circuit breaker state");
                } else if is_open(&t.to()) {
                    tracing::warn!(target: "steadfast", policy, breaker, from, to, "circuit breaker opened");
                } else {
                    tracing::info!(target: "steadfast", policy, breaker, from, to, "circuit breaker state changed");
                }
            }
            Event::Retry { attempt, delay, .. } => {
                let delay = human(*delay);
                tracing::info!(target: "steadfast", policy, breaker, attempt, %delay, "retrying");
            }
            Event::TimedOut { attempt } => {
                tracing::warn!(target: "steadfast", policy, breaker, attempt, "attempt timed out");
            }
            Event::Fallback(failure) => {
                let reason = failure.reason.to_string();
                let attempts = failure.attempts;
                tracing::info!(target: "steadfast", policy, breaker, reason, attempts, "fallback invoked");
            }
            Event::Granted(_) => {
                tracing::trace!(target: "steadfast", policy, "bulkhead slot granted");
            }
        }
    }

    fn on_fallback(&self, policy: &str, breaker: Option<&str>, fallback: &str, failure: &Failure) {
        let breaker = breaker.unwrap_or("");
        let reason = failure.reason.to_string();
        let attempts = failure.attempts;
        tracing::info!(target: "steadfast", policy, breaker, fallback, reason, attempts, "fallback invoked");
    }

    fn on_finish(&self, policy: &str, finish: &Finish) {
        match rejection(finish) {
            Some(Failure {
                reason: Reason::BreakerOpen { retry_at },
                attempts,
            }) => {
                let retry_in = retry_at
                    .map(|at| human(at.saturating_duration_since(crate::time::now())))
                    .unwrap_or_else(|| "unknown".to_owned());
                tracing::debug!(target: "steadfast", policy, attempts, %retry_in, "refused: circuit breaker open");
            }
            Some(Failure {
                reason: Reason::RateLimited { retry_at },
                ..
            }) => {
                let retry_in = retry_at
                    .map(|at| human(at.saturating_duration_since(crate::time::now())))
                    .unwrap_or_else(|| "never".to_owned());
                tracing::debug!(target: "steadfast", policy, %retry_in, "refused: rate limited");
            }
            Some(Failure {
                reason: Reason::Throttled,
                ..
            }) => {
                tracing::debug!(target: "steadfast", policy, "refused: throttled locally");
            }
            Some(Failure {
                reason: reason @ (Reason::BulkheadFull | Reason::QueueTimeout),
                attempts,
            }) => {
                let reason = reason.to_string();
                tracing::debug!(target: "steadfast", policy, attempts, reason, "refused: bulkhead full");
            }
            _ => match finish {
                Finish::Failed(failure) => {
                    let reason = failure.reason.to_string();
                    let attempts = failure.attempts;
                    tracing::info!(target: "steadfast", policy, reason, attempts, "call failed");
                }
                _ => {
                    tracing::trace!(target: "steadfast", policy, finish = ?finish, "call finished")
                }
            },
        }
    }
}

/// A duration as people write it: `250ms`, `1.5s`, `2m30s`.
#[cfg(feature = "tracing")]
fn human(d: steadfast::time::Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 if d.as_micros() > 0 => format!("{}us", d.as_micros()),
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        1_000..60_000 => {
            let fraction = format!("{:03}", ms % 1_000);
            format!("{}.{}s", ms / 1_000, fraction.trim_end_matches('0'))
        }
        _ => {
            let s = ms / 1_000;
            match (s / 3_600, s % 3_600 / 60, s % 60) {
                (0, m, 0) => format!("{m}m"),
                (0, m, s) => format!("{m}m{s}s"),
                (h, 0, 0) => format!("{h}h"),
                (h, m, 0) => format!("{h}h{m}m"),
                (h, m, s) => format!("{h}h{m}m{s}s"),
            }
        }
    }
}

/// Both observers, whichever of the `metrics` and `tracing` features are on.
///
/// ```
/// use steadfast_std::Observer;
/// use steadfast_std::observe::Standard;
/// Standard.on_finish("p", &steadfast::pipeline::Finish::Failed(steadfast::pipeline::Failure::new(steadfast::pipeline::Reason::Cancelled, 0)));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Standard;

impl Observer for Standard {
    fn on_register(&self, policy: &str, breaker: Option<&str>) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_register(policy, breaker);
        let _ = (policy, breaker);
    }

    fn on_event(&self, policy: &str, breaker: Option<&str>, event: &Event) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_event(policy, breaker, event);
        #[cfg(feature = "tracing")]
        TracingObserver.on_event(policy, breaker, event);
        let _ = (policy, breaker, event);
    }

    fn on_fallback(&self, policy: &str, breaker: Option<&str>, fallback: &str, failure: &Failure) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_fallback(policy, breaker, fallback, failure);
        #[cfg(feature = "tracing")]
        TracingObserver.on_fallback(policy, breaker, fallback, failure);
        let _ = (policy, breaker, fallback, failure);
    }

    fn on_finish(&self, policy: &str, finish: &Finish) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_finish(policy, finish);
        #[cfg(feature = "tracing")]
        TracingObserver.on_finish(policy, finish);
        let _ = (policy, finish);
    }

    fn on_latency(&self, policy: &str, latency: Duration) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_latency(policy, latency);
        let _ = (policy, latency);
    }

    fn on_bulkhead(&self, bulkhead: &str, in_flight: u32, queued: u32) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_bulkhead(bulkhead, in_flight, queued);
        let _ = (bulkhead, in_flight, queued);
    }

    fn on_injection(&self, name: &str, kind: &'static str) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_injection(name, kind);
        #[cfg(feature = "tracing")]
        TracingObserver.on_injection(name, kind);
        let _ = (name, kind);
    }

    fn on_register_layer(&self, kind: LayerKind, name: &str) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_register_layer(kind, name);
        let _ = (kind, name);
    }

    fn on_adaptive_limit(&self, name: &str, limit: u32, in_flight: u32) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_adaptive_limit(name, limit, in_flight);
        let _ = (name, limit, in_flight);
    }

    fn on_adaptive_rejection(&self, name: &str, limit: u32) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_adaptive_rejection(name, limit);
        #[cfg(feature = "tracing")]
        TracingObserver.on_adaptive_rejection(name, limit);
        let _ = (name, limit);
    }

    fn on_hedge_started(&self, name: &str, number: u8) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_hedge_started(name, number);
        #[cfg(feature = "tracing")]
        TracingObserver.on_hedge_started(name, number);
        let _ = (name, number);
    }

    fn on_hedge_won(&self, name: &str, number: u8) {
        #[cfg(feature = "metrics")]
        MetricsObserver::UNPREFIXED.on_hedge_won(name, number);
        let _ = (name, number);
    }

    fn watches_bulkheads(&self) -> bool {
        cfg!(feature = "metrics")
    }
}

/// Two observers in turn: `(a, b)` tells `a`, then `b`.
///
/// ```
/// use steadfast_std::{NoopObserver, Observer};
/// use steadfast_std::observe::Standard;
/// (Standard, NoopObserver).on_finish("p", &steadfast::pipeline::Finish::Failed(steadfast::pipeline::Failure::new(steadfast::pipeline::Reason::Cancelled, 0)));
/// ```
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn on_register(&self, policy: &str, breaker: Option<&str>) {
        self.0.on_register(policy, breaker);
        self.1.on_register(policy, breaker);
    }

    fn on_event(&self, policy: &str, breaker: Option<&str>, event: &Event) {
        self.0.on_event(policy, breaker, event);
        self.1.on_event(policy, breaker, event);
    }

    fn on_fallback(&self, policy: &str, breaker: Option<&str>, fallback: &str, failure: &Failure) {
        self.0.on_fallback(policy, breaker, fallback, failure);
        self.1.on_fallback(policy, breaker, fallback, failure);
    }

    fn on_finish(&self, policy: &str, finish: &Finish) {
        self.0.on_finish(policy, finish);
        self.1.on_finish(policy, finish);
    }

    fn on_latency(&self, policy: &str, latency: Duration) {
        self.0.on_latency(policy, latency);
        self.1.on_latency(policy, latency);
    }

    fn on_bulkhead(&self, bulkhead: &str, in_flight: u32, queued: u32) {
        self.0.on_bulkhead(bulkhead, in_flight, queued);
        self.1.on_bulkhead(bulkhead, in_flight, queued);
    }

    fn on_injection(&self, name: &str, kind: &'static str) {
        self.0.on_injection(name, kind);
        self.1.on_injection(name, kind);
    }

    fn on_register_layer(&self, kind: LayerKind, name: &str) {
        self.0.on_register_layer(kind, name);
        self.1.on_register_layer(kind, name);
    }

    fn on_adaptive_limit(&self, name: &str, limit: u32, in_flight: u32) {
        self.0.on_adaptive_limit(name, limit, in_flight);
        self.1.on_adaptive_limit(name, limit, in_flight);
    }

    fn on_adaptive_rejection(&self, name: &str, limit: u32) {
        self.0.on_adaptive_rejection(name, limit);
        self.1.on_adaptive_rejection(name, limit);
    }

    fn on_hedge_started(&self, name: &str, number: u8) {
        self.0.on_hedge_started(name, number);
        self.1.on_hedge_started(name, number);
    }

    fn on_hedge_won(&self, name: &str, number: u8) {
        self.0.on_hedge_won(name, number);
        self.1.on_hedge_won(name, number);
    }

    fn watches_bulkheads(&self) -> bool {
        self.0.watches_bulkheads() || self.1.watches_bulkheads()
    }
}

#[cfg(all(test, feature = "tracing"))]
mod tests {
    use super::human;
    use steadfast::time::Duration;

    #[test]
    fn durations_read_as_people_write_them() {
        let cases = [
            (Duration::from_micros(250), "250us"),
            (Duration::ZERO, "0ms"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_millis(1_250), "1.25s"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(150), "2m30s"),
            (Duration::from_secs(3_600), "1h"),
            (Duration::from_secs(3_720), "1h2m"),
            (Duration::from_secs(3_723), "1h2m3s"),
        ];
        for (d, text) in cases {
            assert_eq!(human(d), text);
        }
    }
}
