//! A `/health` snapshot of every breaker and dependency check of a
//! [`Registry`](crate::registry::Registry), as readiness and as liveness.
//!
//! # Readiness and liveness are different answers
//!
//! * **Readiness** ([`Registry::health`](crate::registry::Registry::health),
//!   for `/health/ready` and `/health`): should this instance take traffic?
//!   Every breaker and every check counts. Something *down* (an open or forced
//!   open breaker that is not metrics-only, a failing check) makes the service
//!   [`Degraded`](Status::Degraded) — it still answers, perhaps from a fallback
//!   — unless that something is **critical**: a breaker marked critical
//!   (config key `critical`, [`RegistryBuilder::critical`](crate::registry::RegistryBuilder::critical)),
//!   meaning no fallback can stand in for it, or a check tagged `critical`.
//!   A critical one down makes it [`Unhealthy`](Status::Unhealthy), HTTP 503:
//!   take the instance out of rotation. A critical check that has not answered
//!   yet counts as down (not ready before it is known to work).
//! * **Liveness** ([`Registry::liveness`](crate::registry::Registry::liveness),
//!   for `/health/live`): should this process be restarted? Only checks tagged
//!   `live` count, never a breaker: a dependency's outage is no reason to
//!   restart the instances that depend on it.
//!
//! Checks are registered with [`HealthChecks`](crate::checks::HealthChecks)
//! (async functions run on an interval with a timeout, or results reported by
//! hand).
//!
//! The JSON (feature `health`) keeps the seeds' shape — an overall `status` and
//! `circuit_breakers: { name: state }` — and adds the details per breaker and
//! per check:
//!
//! ```json
//! {
//!   "status": "degraded",
//!   "enabled": true,
//!   "circuit_breakers": { "kafka": "open", "redis": "closed" },
//!   "breakers": [
//!     { "name": "kafka", "state": "open", "state_code": 2, "retry_in_ms": 29000,
//!       "calls": 12, "successes": 7, "failures": 5, "ignored": 0, "slow_calls": 0,
//!       "rejections": 3, "state_changes": 1, "opens": 1,
//!       "window": { "calls": 10, "failures": 5, "slow_calls": 0, "failure_percent": 50,
//!                   "slow_percent": 0 },
//!       "metrics_only": false },
//!     ...
//!   ],
//!   "checks": [
//!     { "name": "postgres", "tags": ["critical"], "critical": true, "state": "passing",
//!       "consecutive_failures": 0, "checked_ms_ago": 1200, "duration_ms": 3 }
//!   ]
//! }
//! ```
//!
//! `retry_in_ms` is how long from the snapshot until an open breaker admits a
//! probe (0 when due, absent unless open): a relative offset, so no wall clock
//! is involved. The counters (`calls` … `opens`) are totals since the breaker
//! was built; `window` is what its detector judges, as of the snapshot
//! ([`Breaker::counts`](steadfast::breaker::Breaker::counts)): a time window
//! never shows a failure older than its `window_duration`. A `metrics_only`
//! breaker reports the state it judged but never refuses a call, so it never
//! makes the status `degraded` or `unhealthy`.

use std::collections::BTreeMap;

use steadfast::breaker::{State, WindowCounts};

use crate::breaker::Totals;
use steadfast::time::Instant;

/// The `circuit_breaker_state` gauge value, in the seeds' encoding:
/// 0 closed, 1 half-open, 2 open. `ForcedOpen` reports 2 (it rejects),
/// `Disabled` 0 (it admits).
///
/// The same encoding as the core's [`State::code`] (severity order), so the
/// metric, `/health` and firmware logs agree: alerts on
/// `circuit_breaker_state == 2` mean "open".
///
/// ```
/// use steadfast::breaker::State;
/// use steadfast::time::Instant;
/// use steadfast_std::health::state_code;
///
/// assert_eq!(state_code(&State::Closed), 0);
/// assert_eq!(state_code(&State::HalfOpen { probes_in_flight: 1, successes: 0, deadline: None }), 1);
/// assert_eq!(state_code(&State::Open { until: Instant::ZERO }), 2);
/// assert_eq!(state_code(&State::ForcedOpen), 2);
/// assert_eq!(state_code(&State::Disabled), 0);
/// ```
pub const fn state_code(state: &State) -> u8 {
    state.code()
}

/// The overall verdict (the seeds' `status`), the worst of every component.
///
/// * `Healthy`: nothing is down (half-open probes, disabled and metrics-only
///   breakers let traffic through, as in the seeds' example where a half-open
///   `redis` still reports `healthy`);
/// * `Degraded`: something is down, nothing critical (an open breaker whose
///   fallback serves, a failing non-critical check);
/// * `Unhealthy`: something critical is down.
///
/// ```
/// use steadfast_std::health::Status;
/// assert_eq!(Status::Degraded.as_str(), "degraded");
/// assert_eq!(Status::Unhealthy.http_status(), 503);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "health", derive(serde::Serialize))]
#[cfg_attr(feature = "health", serde(rename_all = "snake_case"))]
pub enum Status {
    /// Nothing down.
    Healthy,
    /// Something down, nothing critical.
    Degraded,
    /// Something critical down.
    Unhealthy,
}

impl Status {
    /// `healthy`, `degraded` or `unhealthy`.
    ///
    /// ```
    /// # use steadfast_std::health::Status;
    /// assert_eq!(Status::Healthy.as_str(), "healthy");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
        }
    }

    /// The HTTP status a `/health` endpoint answers with: 200 while the service
    /// can still serve (healthy or degraded), 503 when unhealthy (ASP.NET's
    /// health-check convention, which the C# seed uses).
    ///
    /// ```
    /// # use steadfast_std::health::Status;
    /// assert_eq!(Status::Degraded.http_status(), 200);
    /// ```
    pub const fn http_status(self) -> u16 {
        match self {
            Self::Healthy | Self::Degraded => 200,
            Self::Unhealthy => 503,
        }
    }
}

/// One breaker in a [`Health`] snapshot.
///
/// ```
/// use steadfast::breaker::{State, Stats};
/// use steadfast::time::Instant;
/// use steadfast_std::health::BreakerHealth;
///
/// let h = BreakerHealth::new("kafka", State::Open { until: Instant::from_secs(40) }, Stats::ZERO, Instant::from_secs(10));
/// assert_eq!((h.state, h.state_code, h.retry_in_ms), ("open", 2, Some(30_000)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "health", derive(serde::Serialize))]
#[non_exhaustive]
pub struct BreakerHealth {
    /// The breaker's name.
    pub name: String,
    /// `closed`, `open`, `half_open`, `forced_open` or `disabled`.
    pub state: &'static str,
    /// The gauge value ([`state_code`]): 0 closed, 1 half-open, 2 open.
    pub state_code: u8,
    /// Milliseconds until an open breaker admits a probe (0 when due); absent
    /// unless open.
    #[cfg_attr(feature = "health", serde(skip_serializing_if = "Option::is_none"))]
    pub retry_in_ms: Option<u64>,
    /// Permits issued (calls admitted).
    pub calls: u64,
    /// Successful outcomes.
    pub successes: u64,
    /// Failed (and timed-out) outcomes.
    pub failures: u64,
    /// Outcomes classified as ignored.
    pub ignored: u64,
    /// Slow outcomes.
    pub slow_calls: u64,
    /// Calls refused.
    pub rejections: u64,
    /// State changes.
    pub state_changes: u64,
    /// Times it opened by itself.
    pub opens: u64,
    /// What the detector holds as of the snapshot (empty unless set with
    /// [`with_window`](Self::with_window)).
    pub window: WindowHealth,
    /// A [metrics-only](steadfast::breaker::Config::metrics_only) breaker:
    /// its state is what it judged, but it never refuses a call, so it is
    /// never [down](Self::is_down).
    pub metrics_only: bool,
    /// No fallback can stand in for it: down, it makes the service
    /// [`Unhealthy`](Status::Unhealthy) rather than
    /// [`Degraded`](Status::Degraded).
    pub critical: bool,
}

/// A detector's counts and rates in a [`BreakerHealth`], as of the snapshot.
///
/// ```
/// use steadfast::breaker::WindowCounts;
/// use steadfast_std::health::WindowHealth;
///
/// let w = WindowHealth::from(WindowCounts { calls: 4, failures: 1, slow_calls: 2 });
/// assert_eq!((w.failure_percent, w.slow_percent), (25, 50));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "health", derive(serde::Serialize))]
#[non_exhaustive]
pub struct WindowHealth {
    /// Calls held (successes and failures).
    pub calls: u32,
    /// Failures among them.
    pub failures: u32,
    /// Slow calls among them.
    pub slow_calls: u32,
    /// `failures × 100 / calls`, truncated (0 without calls).
    pub failure_percent: u32,
    /// `slow_calls × 100 / calls`, truncated (0 without calls).
    pub slow_percent: u32,
}

impl From<WindowCounts> for WindowHealth {
    fn from(c: WindowCounts) -> Self {
        Self {
            calls: c.calls,
            failures: c.failures,
            slow_calls: c.slow_calls,
            failure_percent: c.failure_percent(),
            slow_percent: c.slow_percent(),
        }
    }
}

impl BreakerHealth {
    /// The health of a breaker in `state` with `stats` (a
    /// [`SharedBreaker::stats`](crate::SharedBreaker::stats), or a core
    /// [`Stats`](steadfast::breaker::Stats)), seen at `now`.
    ///
    /// ```
    /// # use steadfast::breaker::{State, Stats};
    /// # use steadfast::time::Instant;
    /// # use steadfast_std::health::BreakerHealth;
    /// let h = BreakerHealth::new("db", State::Closed, Stats::ZERO, Instant::ZERO);
    /// assert_eq!(h.retry_in_ms, None);
    /// ```
    pub fn new(name: &str, state: State, stats: impl Into<Totals>, now: Instant) -> Self {
        let stats = stats.into();
        let retry_in_ms = match state {
            State::Open { until } => Some(until.saturating_duration_since(now).as_millis()),
            _ => None,
        };
        Self {
            name: name.to_owned(),
            state: state.name(),
            state_code: state_code(&state),
            retry_in_ms,
            calls: stats.calls,
            successes: stats.successes,
            failures: stats.failures,
            ignored: stats.ignored,
            slow_calls: stats.slow_calls,
            rejections: stats.rejections,
            state_changes: stats.state_changes,
            opens: stats.opens,
            window: WindowHealth::default(),
            metrics_only: false,
            critical: false,
        }
    }

    /// The same snapshot of a breaker that is critical or not.
    ///
    /// ```
    /// # use steadfast::breaker::{State, Stats};
    /// # use steadfast::time::Instant;
    /// # use steadfast_std::health::{BreakerHealth, Health, Status};
    /// let open = State::Open { until: Instant::from_secs(30) };
    /// let h = BreakerHealth::new("db", open, Stats::ZERO, Instant::ZERO);
    /// assert_eq!(Health::from_breakers(true, vec![h.clone()]).status, Status::Degraded);
    /// let h = h.with_critical(true);
    /// assert_eq!(Health::from_breakers(true, vec![h]).status, Status::Unhealthy);
    /// ```
    #[must_use]
    pub fn with_critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// The same snapshot of a breaker that is
    /// [metrics-only](steadfast::breaker::Config::metrics_only) or not.
    ///
    /// ```
    /// # use steadfast::breaker::{State, Stats};
    /// # use steadfast::time::Instant;
    /// # use steadfast_std::health::BreakerHealth;
    /// let h = BreakerHealth::new("db", State::ForcedOpen, Stats::ZERO, Instant::ZERO).with_metrics_only(true);
    /// assert_eq!(h.state, "forced_open");
    /// assert!(!h.is_down()); // it still admits every call
    /// ```
    #[must_use]
    pub fn with_metrics_only(mut self, metrics_only: bool) -> Self {
        self.metrics_only = metrics_only;
        self
    }

    /// The same snapshot with the detector's counts as of the snapshot
    /// (see [`Breaker::counts`](steadfast::breaker::Breaker::counts)).
    ///
    /// ```
    /// # use steadfast::breaker::{State, Stats, WindowCounts};
    /// # use steadfast::time::Instant;
    /// # use steadfast_std::health::BreakerHealth;
    /// let counts = WindowCounts { calls: 10, failures: 3, slow_calls: 0 };
    /// let h = BreakerHealth::new("db", State::Closed, Stats::ZERO, Instant::ZERO).with_window(counts);
    /// assert_eq!(h.window.failure_percent, 30);
    /// ```
    #[must_use]
    pub fn with_window(mut self, counts: WindowCounts) -> Self {
        self.window = WindowHealth::from(counts);
        self
    }

    /// Whether this breaker is refusing calls: open or forced open, and not
    /// [metrics-only](Self::metrics_only).
    ///
    /// ```
    /// # use steadfast::breaker::{State, Stats};
    /// # use steadfast::time::Instant;
    /// # use steadfast_std::health::BreakerHealth;
    /// assert!(BreakerHealth::new("db", State::ForcedOpen, Stats::ZERO, Instant::ZERO).is_down());
    /// ```
    pub fn is_down(&self) -> bool {
        self.state_code == 2 && !self.metrics_only
    }
}

/// How a dependency check stands.
///
/// ```
/// use steadfast_std::health::CheckState;
/// assert_eq!(CheckState::Failing("timed out after 2s".into()).as_str(), "failing");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckState {
    /// It has not answered yet.
    Pending,
    /// Its last run succeeded.
    Passing,
    /// Its last run failed or timed out, for this reason.
    Failing(String),
}

impl CheckState {
    /// `pending`, `passing` or `failing`.
    ///
    /// ```
    /// # use steadfast_std::health::CheckState;
    /// assert_eq!(CheckState::Pending.as_str(), "pending");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Passing => "passing",
            Self::Failing(_) => "failing",
        }
    }
}

/// One dependency check in a [`Health`] snapshot.
///
/// ```
/// use steadfast_std::health::{CheckHealth, CheckState};
///
/// let c = CheckHealth::new("postgres", &["critical", "database"], CheckState::Passing);
/// assert!(c.critical && !c.live && !c.is_down());
/// let c = CheckHealth::new("cache", &[], CheckState::Failing("refused".into()));
/// assert!(c.is_down() && !c.critical);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "health", derive(serde::Serialize))]
#[non_exhaustive]
pub struct CheckHealth {
    /// The check's name.
    pub name: String,
    /// Its tags, as registered.
    pub tags: Vec<String>,
    /// Tagged `critical`: failing, it makes the service
    /// [`Unhealthy`](Status::Unhealthy); not yet answered, it counts as failing.
    pub critical: bool,
    /// Tagged `live`: it also decides liveness.
    #[cfg_attr(feature = "health", serde(skip))]
    pub live: bool,
    /// `pending`, `passing` or `failing`.
    pub state: &'static str,
    /// Why it fails (absent unless failing).
    #[cfg_attr(feature = "health", serde(skip_serializing_if = "Option::is_none"))]
    pub reason: Option<String>,
    /// Failed runs in a row.
    pub consecutive_failures: u64,
    /// Milliseconds since its last answer (absent while pending).
    #[cfg_attr(feature = "health", serde(skip_serializing_if = "Option::is_none"))]
    pub checked_ms_ago: Option<u64>,
    /// How long its last run took, in milliseconds (absent while pending).
    #[cfg_attr(feature = "health", serde(skip_serializing_if = "Option::is_none"))]
    pub duration_ms: Option<u64>,
}

impl CheckHealth {
    /// A check named `name` with `tags`, in `state`.
    pub fn new(name: &str, tags: &[&str], state: CheckState) -> Self {
        let (state, reason) = match state {
            CheckState::Failing(reason) => ("failing", Some(reason)),
            other => (other.as_str(), None),
        };
        Self {
            name: name.to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            critical: tags.contains(&"critical"),
            live: tags.contains(&"live"),
            state,
            reason,
            consecutive_failures: 0,
            checked_ms_ago: None,
            duration_ms: None,
        }
    }

    /// Whether it counts as down: failing, or pending and critical.
    ///
    /// ```
    /// # use steadfast_std::health::{CheckHealth, CheckState};
    /// assert!(CheckHealth::new("db", &["critical"], CheckState::Pending).is_down());
    /// assert!(!CheckHealth::new("cache", &[], CheckState::Pending).is_down());
    /// ```
    pub fn is_down(&self) -> bool {
        self.state == "failing" || (self.state == "pending" && self.critical)
    }
}

/// A snapshot of every breaker and check: what a health endpoint returns.
///
/// ```
/// use steadfast::breaker::{State, Stats};
/// use steadfast::time::Instant;
/// use steadfast_std::health::{BreakerHealth, CheckHealth, CheckState, Health, Status};
///
/// let now = Instant::from_secs(1);
/// let breakers = vec![
///     BreakerHealth::new("kafka", State::Open { until: Instant::from_secs(31) }, Stats::ZERO, now),
///     BreakerHealth::new("redis", State::Closed, Stats::ZERO, now),
/// ];
/// let health = Health::from_breakers(true, breakers.clone());
/// assert_eq!(health.status, Status::Degraded);
/// assert_eq!(health.circuit_breakers["kafka"], "open");
///
/// let db = CheckHealth::new("postgres", &["critical"], CheckState::Failing("refused".into()));
/// assert_eq!(Health::new(true, breakers, vec![db]).status, Status::Unhealthy);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "health", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Health {
    /// The overall verdict.
    pub status: Status,
    /// The registry's global switch.
    pub enabled: bool,
    /// The seeds' summary: breaker name → state name.
    pub circuit_breakers: BTreeMap<String, &'static str>,
    /// Every breaker, by name.
    pub breakers: Vec<BreakerHealth>,
    /// Every dependency check, by name.
    pub checks: Vec<CheckHealth>,
}

impl Health {
    /// Aggregates breaker and check snapshots (each sorted by name) into an
    /// overall [`Status`]: [`Unhealthy`](Status::Unhealthy) when a critical
    /// one is down, [`Degraded`](Status::Degraded) when any is,
    /// [`Healthy`](Status::Healthy) otherwise.
    ///
    /// ```
    /// # use steadfast_std::health::{CheckHealth, CheckState, Health, Status};
    /// let cache = CheckHealth::new("cache", &[], CheckState::Failing("refused".into()));
    /// assert_eq!(Health::new(true, Vec::new(), vec![cache]).status, Status::Degraded);
    /// assert_eq!(Health::new(true, Vec::new(), Vec::new()).status, Status::Healthy);
    /// ```
    pub fn new(
        enabled: bool,
        mut breakers: Vec<BreakerHealth>,
        mut checks: Vec<CheckHealth>,
    ) -> Self {
        breakers.sort_by(|a, b| a.name.cmp(&b.name));
        checks.sort_by(|a, b| a.name.cmp(&b.name));
        let down = breakers
            .iter()
            .filter(|b| b.is_down())
            .map(|b| b.critical)
            .chain(checks.iter().filter(|c| c.is_down()).map(|c| c.critical));
        let status = down.fold(Status::Healthy, |worst, critical| {
            worst.max(if critical {
                Status::Unhealthy
            } else {
                Status::Degraded
            })
        });
        let circuit_breakers = breakers.iter().map(|b| (b.name.clone(), b.state)).collect();
        Self {
            status,
            enabled,
            circuit_breakers,
            breakers,
            checks,
        }
    }

    /// Aggregates breaker snapshots alone ([`Health::new`] without checks).
    ///
    /// ```
    /// # use steadfast_std::health::{Health, Status};
    /// assert_eq!(Health::from_breakers(true, Vec::new()).status, Status::Healthy);
    /// ```
    pub fn from_breakers(enabled: bool, breakers: Vec<BreakerHealth>) -> Self {
        Self::new(enabled, breakers, Vec::new())
    }

    /// Liveness: only the checks tagged `live` (no breaker). One failing makes
    /// the process [`Unhealthy`](Status::Unhealthy), critical or not; one that
    /// has not answered yet does not count (a process is not restarted before
    /// its check has run).
    ///
    /// ```
    /// # use steadfast_std::health::{CheckHealth, CheckState, Health, Status};
    /// let db = CheckHealth::new("db", &["critical"], CheckState::Failing("refused".into()));
    /// let event_loop = CheckHealth::new("event-loop", &["live"], CheckState::Passing);
    /// let live = Health::liveness(true, vec![db, event_loop]);
    /// assert_eq!(live.status, Status::Healthy);
    /// assert_eq!(live.checks.len(), 1);
    /// let stuck = CheckHealth::new("event-loop", &["live"], CheckState::Failing("stalled".into()));
    /// assert_eq!(Health::liveness(true, vec![stuck]).status, Status::Unhealthy);
    /// let starting = CheckHealth::new("event-loop", &["live", "critical"], CheckState::Pending);
    /// assert_eq!(Health::liveness(true, vec![starting]).status, Status::Healthy);
    /// ```
    pub fn liveness(enabled: bool, checks: Vec<CheckHealth>) -> Self {
        let checks: Vec<CheckHealth> = checks.into_iter().filter(|c| c.live).collect();
        let failing = checks.iter().any(|c| c.state == "failing");
        let mut health = Self::new(enabled, Vec::new(), checks);
        health.status = if failing {
            Status::Unhealthy
        } else {
            Status::Healthy
        };
        health
    }

    /// The snapshot as JSON (feature `health`).
    ///
    /// ```
    /// # use steadfast::breaker::{State, Stats};
    /// # use steadfast::time::Instant;
    /// # use steadfast_std::health::{BreakerHealth, Health};
    /// let h = Health::from_breakers(true, vec![BreakerHealth::new("db", State::Closed, Stats::ZERO, Instant::ZERO)]);
    /// let json = h.to_json();
    /// assert!(json.starts_with(r#"{"status":"healthy","enabled":true,"circuit_breakers":{"db":"closed"}"#), "{json}");
    /// ```
    #[cfg(feature = "health")]
    pub fn to_json(&self) -> String {
        // Serializing plain strings, integers and maps cannot fail.
        serde_json::to_string(self).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
    }
}
