//! [`Observer`]s that turn pipeline events into `metrics` (feature `metrics`)
//! and `tracing` events (feature `tracing`), with the seeds' names.
//!
//! | metric | kind | labels | when |
//! |---|---|---|---|
//! | `circuit_breaker_state` | gauge | `service` = breaker | every transition (0 closed, 1 half-open, 2 open: [`state_code`]) |
//! | `circuit_breaker_opened_total` | counter | `service` | the breaker opened (trips, re-opens, forced) |
//! | `circuit_breaker_rejections_total` | counter | `operation` = policy | a call refused by its breaker |
//! | `retry_attempts_total` | counter | `operation` | a retry was scheduled (attempts after the first; a call that succeeds at once adds nothing) |
//! | `timeout_errors_total` | counter | `operation` | an attempt timed out |
//! | `fallback_invocations_total` | counter | `operation` | a call was answered by its fallback |
//! | `bulkhead_rejections_total` | counter | `operation` | a call found its bulkhead full (or its queue wait expired) |
//!
//! Every counter of a policy, and its breaker's `circuit_breaker_opened_total`,
//! exists at 0 as soon as the policy is built ([`Observer::on_register`]); a
//! `Registry` also sets every breaker's `circuit_breaker_state` at start-up.
//!
//! `tracing` events use the target `steadfast` with the fields `policy`,
//! `breaker`, `attempt`, `delay`, `from`, `to`, `retry_in`, `reason`, durations
//! written as people read them (`1.5s`, `250ms`): a breaker opening and attempt
//! timeouts at `WARN`; other transitions, retries, fallbacks and calls that fail
//! at `INFO`; each refused call (breaker open, bulkhead full) at `DEBUG` — an
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
use steadfast::pipeline::{Event, Finish};
#[cfg(any(feature = "metrics", feature = "tracing"))]
use steadfast::pipeline::{Failure, Reason};

pub use crate::health::state_code;
use crate::observer::Observer;

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

/// Counts and gauges with the seeds' names through the `metrics` facade (see
/// the [module docs](self)); install any recorder, e.g.
/// `metrics-exporter-prometheus`.
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
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsObserver;

#[cfg(feature = "metrics")]
impl MetricsObserver {
    /// The observer; describes every metric to the installed recorder (call it
    /// after installing one, so the help texts are exported).
    ///
    /// ```
    /// let _ = steadfast_std::observe::MetricsObserver::new();
    /// ```
    pub fn new() -> Self {
        use metrics::{describe_counter, describe_gauge};
        describe_gauge!(
            "circuit_breaker_state",
            "Circuit breaker state (0=closed, 1=half_open, 2=open)"
        );
        describe_counter!("circuit_breaker_opened_total", "Circuit breakers opened");
        describe_counter!(
            "circuit_breaker_rejections_total",
            "Calls refused by an open circuit breaker"
        );
        describe_counter!(
            "retry_attempts_total",
            "Retries scheduled: attempts after the first"
        );
        describe_counter!("timeout_errors_total", "Attempts that timed out");
        describe_counter!("fallback_invocations_total", "Calls answered by a fallback");
        describe_counter!(
            "bulkhead_rejections_total",
            "Calls refused by a full bulkhead"
        );
        Self
    }
}

#[cfg(feature = "metrics")]
impl Observer for MetricsObserver {
    fn on_register(&self, policy: &str, breaker: Option<&str>) {
        for name in [
            "circuit_breaker_rejections_total",
            "retry_attempts_total",
            "timeout_errors_total",
            "fallback_invocations_total",
            "bulkhead_rejections_total",
        ] {
            metrics::counter!(name, "operation" => policy.to_owned()).increment(0);
        }
        if let Some(breaker) = breaker {
            metrics::counter!("circuit_breaker_opened_total", "service" => breaker.to_owned())
                .increment(0);
        }
    }

    fn on_event(&self, policy: &str, breaker: Option<&str>, event: &Event) {
        let operation = policy.to_owned();
        match event {
            Event::Breaker(t) => {
                let service = breaker.unwrap_or(policy).to_owned();
                metrics::gauge!("circuit_breaker_state", "service" => service.clone())
                    .set(f64::from(state_code(&t.to)));
                if is_open(&t.to) && !is_open(&t.from) {
                    metrics::counter!("circuit_breaker_opened_total", "service" => service)
                        .increment(1);
                }
            }
            Event::Retry { .. } => {
                metrics::counter!("retry_attempts_total", "operation" => operation).increment(1);
            }
            Event::TimedOut { .. } => {
                metrics::counter!("timeout_errors_total", "operation" => operation).increment(1);
            }
            Event::Fallback(_) => {
                metrics::counter!("fallback_invocations_total", "operation" => operation)
                    .increment(1);
            }
            Event::Granted(_) => {}
        }
    }

    fn on_finish(&self, policy: &str, finish: &Finish) {
        match rejection(finish) {
            Some(Failure {
                reason: Reason::BulkheadFull | Reason::QueueTimeout,
                ..
            }) => {
                metrics::counter!("bulkhead_rejections_total", "operation" => policy.to_owned())
                    .increment(1);
            }
            Some(Failure {
                reason: Reason::BreakerOpen { .. },
                ..
            }) => {
                metrics::counter!("circuit_breaker_rejections_total", "operation" => policy.to_owned())
                    .increment(1);
            }
            _ => {}
        }
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
    fn on_event(&self, policy: &str, breaker: Option<&str>, event: &Event) {
        let breaker = breaker.unwrap_or("");
        match event {
            Event::Breaker(t) => {
                let (from, to) = (t.from.name(), t.to.name());
                if from == to {
                    tracing::debug!(target: "steadfast", policy, breaker, state = to, "circuit breaker state");
                } else if is_open(&t.to) {
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
        MetricsObserver.on_register(policy, breaker);
        let _ = (policy, breaker);
    }

    fn on_event(&self, policy: &str, breaker: Option<&str>, event: &Event) {
        #[cfg(feature = "metrics")]
        MetricsObserver.on_event(policy, breaker, event);
        #[cfg(feature = "tracing")]
        TracingObserver.on_event(policy, breaker, event);
        let _ = (policy, breaker, event);
    }

    fn on_finish(&self, policy: &str, finish: &Finish) {
        #[cfg(feature = "metrics")]
        MetricsObserver.on_finish(policy, finish);
        #[cfg(feature = "tracing")]
        TracingObserver.on_finish(policy, finish);
        let _ = (policy, finish);
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

    fn on_finish(&self, policy: &str, finish: &Finish) {
        self.0.on_finish(policy, finish);
        self.1.on_finish(policy, finish);
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
