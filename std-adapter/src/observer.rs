//! Hooks for logs, metrics and traces: every [`Event`] of every call.

use steadfast::pipeline::{Event, Failure, Finish};
use steadfast::time::Duration;

/// Receives what the pipeline reports. Called outside every lock, after each
/// step of a call, from the task or thread running it; keep it cheap.
///
/// The events and finishes are the core's, in the core's order
/// ([`steadfast::pipeline::Observer`] is the same shape without the names);
/// `breaker` is the name of the policy's breaker, if it has one.
/// [`Event::Fallback`] comes only from calls given a fallback (`*_with_fallback`),
/// when it is about to run: the core raises it only for a caller that has one;
/// a named fallback's (a cache's) comes to [`on_fallback`](Self::on_fallback)
/// instead.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use steadfast::pipeline::{Event, Failure, Finish, Reason};
/// use steadfast_std::Observer;
///
/// #[derive(Default)]
/// struct CountRetries(AtomicU32);
/// impl Observer for CountRetries {
///     fn on_event(&self, _policy: &str, _breaker: Option<&str>, event: &Event) {
///         if matches!(event, Event::Retry { .. }) {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
/// let o = CountRetries::default();
/// o.on_event("p", None, &Event::TimedOut { attempt: 1 });
/// o.on_finish("p", &Finish::Failed(Failure::new(Reason::Cancelled, 0)));
/// o.on_latency("p", steadfast::time::Duration::from_millis(3));
/// o.on_bulkhead("pool", 1, 0);
/// o.on_adaptive_limit("db", 20, 3);
/// o.on_hedge_started("search", 1);
/// assert!(!o.watches_bulkheads());
/// assert_eq!(o.0.load(Ordering::Relaxed), 0);
/// ```
pub trait Observer: Send + Sync {
    /// Policy `policy`, using breaker `breaker` if any, was built: an observer
    /// that exports series creates them here, so that every series exists (at
    /// zero) from start-up rather than from its first event.
    fn on_register(&self, policy: &str, breaker: Option<&str>) {
        let _ = (policy, breaker);
    }
    /// One event of a call through policy `policy`.
    fn on_event(&self, policy: &str, breaker: Option<&str>, event: &Event) {
        let _ = (policy, breaker, event);
    }
    /// The pipeline decided that the fallback named `fallback` answers a call
    /// through policy `policy` (a named fallback, such as a
    /// `cache::LastGood` (feature `cache`) serving the last good value):
    /// that call's [`Event::Fallback`] comes here instead of to
    /// [`on_event`](Self::on_event). By default it is handed to `on_event`
    /// unchanged, so an observer that does not tell fallbacks apart counts it
    /// under the policy.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use steadfast::pipeline::{Failure, Reason};
    /// use steadfast_std::Observer;
    ///
    /// #[derive(Default)]
    /// struct Served(Mutex<Vec<String>>);
    /// impl Observer for Served {
    ///     fn on_fallback(&self, _policy: &str, _breaker: Option<&str>, fallback: &str, _failure: &Failure) {
    ///         self.0.lock().unwrap().push(fallback.to_owned());
    ///     }
    /// }
    /// let o = Served::default();
    /// o.on_fallback("prices", Some("pricing"), "prices-cache", &Failure::new(Reason::BreakerOpen { retry_at: None }, 0));
    /// assert_eq!(*o.0.lock().unwrap(), ["prices-cache"]);
    /// ```
    fn on_fallback(&self, policy: &str, breaker: Option<&str>, fallback: &str, failure: &Failure) {
        let _ = fallback;
        self.on_event(policy, breaker, &Event::Fallback(*failure));
    }
    /// The call ended (a dropped call future ends with
    /// [`Reason::Cancelled`](steadfast::pipeline::Reason::Cancelled)).
    fn on_finish(&self, policy: &str, finish: &Finish) {
        let _ = (policy, finish);
    }
    /// A call through policy `policy` took `latency`, from its start to its
    /// finish (right after [`on_finish`](Self::on_finish)): queueing, every
    /// attempt and every backoff included.
    fn on_latency(&self, policy: &str, latency: Duration) {
        let _ = (policy, latency);
    }
    /// Bulkhead `bulkhead` now has `in_flight` slots taken and `queued`
    /// waiters: reported after each step that changed either, to an observer
    /// that [`watches_bulkheads`](Self::watches_bulkheads).
    ///
    /// The reports of one bulkhead to one observer (from every policy and
    /// layer that reports it there) come one at a time, outside the
    /// bulkhead's lock, each with the latest occupancy: a step made while
    /// another thread is in this method leaves its report to that thread,
    /// which makes it when this method returns. So once steps stop, the last
    /// report is the bulkhead's occupancy. This method may step the same
    /// bulkhead (a call through its policy, say): that step is reported once
    /// it returns.
    fn on_bulkhead(&self, bulkhead: &str, in_flight: u32, queued: u32) {
        let _ = (bulkhead, in_flight, queued);
    }
    /// Whether to call [`on_bulkhead`](Self::on_bulkhead) (default `false`):
    /// asked once, when a policy or layer is built, so that a call through an
    /// observer that does not watch them reads no occupancy.
    fn watches_bulkheads(&self) -> bool {
        false
    }
    /// A fault was injected on purpose into a request through `name` (a
    /// `ChaosLayer` of the `tower` feature): `kind` is `error`, `hang`,
    /// `outcome` or `latency` (the metric `chaos_injections_total`).
    fn on_injection(&self, name: &str, kind: &'static str) {
        let _ = (name, kind);
    }
    /// A machine of `kind` named `name` was given this observer (a rate
    /// limiter, throttle, adaptive limit, hedger or fault-injection layer):
    /// its series exist from now on, at 0, before anything happens — as
    /// [`on_register`](Self::on_register) does for a policy.
    fn on_register_layer(&self, kind: LayerKind, name: &str) {
        let _ = (kind, name);
    }
    /// Adaptive limit `name` now admits `limit` calls at once and has
    /// `in_flight` out: reported after each step that changed either, by a
    /// `SharedAdaptiveLimit` given this observer (the gauges
    /// `adaptive_limit` and `adaptive_limit_in_flight`).
    ///
    /// The reports of one limit come one at a time, outside its lock, each
    /// with the latest levels, as [`on_bulkhead`](Self::on_bulkhead)'s do:
    /// once steps stop, the last report is the limit's state. This method
    /// may take and give back permits of the same limit.
    fn on_adaptive_limit(&self, name: &str, limit: u32, in_flight: u32) {
        let _ = (name, limit, in_flight);
    }
    /// Adaptive limit `name` refused a call at `limit`
    /// (`adaptive_limit_rejections_total`).
    fn on_adaptive_rejection(&self, name: &str, limit: u32) {
        let _ = (name, limit);
    }
    /// Hedge `number` (1 for the first) of a call through hedge layer
    /// `name` started (`hedges_started_total`).
    fn on_hedge_started(&self, name: &str, number: u8) {
        let _ = (name, number);
    }
    /// The answer of hedge `number` won a call through hedge layer `name`:
    /// the hedge saved the wait for a slower attempt (`hedge_wins_total`).
    fn on_hedge_won(&self, name: &str, number: u8) {
        let _ = (name, number);
    }
}

/// What [`Observer::on_register_layer`] registers.
///
/// ```
/// use steadfast_std::observer::LayerKind;
/// assert_ne!(LayerKind::RateLimiter, LayerKind::Throttle);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LayerKind {
    /// A rate limiter (`rate_limit_rejections_total`).
    RateLimiter,
    /// An adaptive throttle (`throttle_rejections_total`).
    Throttle,
    /// An adaptive concurrency limit (`adaptive_limit_rejections_total`).
    AdaptiveLimit,
    /// A hedger (`hedges_started_total`, `hedge_wins_total`).
    Hedger,
    /// A fault-injection drill (`chaos_injections_total` by kind).
    Chaos,
    /// A cached fallback (`fallback_invocations_total` under its name).
    Cache,
}

/// The default observer: does nothing.
///
/// ```
/// use steadfast_std::{NoopObserver, Observer};
/// NoopObserver.on_finish("p", &steadfast::pipeline::Finish::Failed(steadfast::pipeline::Failure::new(steadfast::pipeline::Reason::Cancelled, 0)));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {}
