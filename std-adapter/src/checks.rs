//! Dependency checks beside the breakers: async functions run on an interval
//! with a timeout (feature `tokio`), or results reported by hand, tagged
//! `critical` (readiness fails without it) or `live` (liveness fails without
//! it). [`Registry::health`](crate::registry::Registry::health) and
//! [`Registry::liveness`](crate::registry::Registry::liveness) aggregate them
//! with the breakers (see [`health`](crate::health) for the rules).
//!
//! ```
//! use std::time::Duration;
//! use steadfast_std::checks::HealthChecks;
//! use steadfast_std::health::Status;
//! use steadfast_std::registry::Registry;
//!
//! let registry = Registry::builder().build();
//! let checks: &HealthChecks = registry.health_checks();
//! checks.register("postgres", &["critical"]);
//! assert_eq!(registry.health().status, Status::Unhealthy); // not known to work yet
//! checks.report("postgres", Ok::<(), &str>(()), Duration::from_millis(3));
//! assert_eq!(registry.health().status, Status::Healthy);
//! checks.report("cache", Err("connection refused"), Duration::from_millis(1));
//! assert_eq!(registry.health().status, Status::Degraded); // not critical
//! # #[cfg(feature = "health")]
//! assert!(registry.health().to_json().contains(r#""reason":"connection refused""#));
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Display};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::health::{CheckHealth, CheckState};
use crate::time;

/// How to run one check: its name, tags, interval and timeout.
///
/// ```
/// use std::time::Duration;
/// use steadfast_std::checks::Check;
///
/// let check = Check::new("postgres")
///     .with_tags(["critical", "database"])
///     .with_interval(Duration::from_secs(15))
///     .with_timeout(Duration::from_secs(2));
/// assert_eq!(check.name(), "postgres");
/// assert_eq!(check.interval(), Duration::from_secs(15));
/// assert_eq!(Check::new("x").timeout(), Check::DEFAULT_TIMEOUT);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    name: String,
    tags: Vec<String>,
    interval: Duration,
    timeout: Duration,
}

impl Check {
    /// How often a check runs unless told otherwise: every 10 s.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
    /// How long a run may take unless told otherwise: 5 s, then it fails.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A check named `name`, untagged, every 10 s with a 5 s timeout.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tags: Vec::new(),
            interval: Self::DEFAULT_INTERVAL,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// With these tags (`critical`, `live`, or any of your own).
    #[must_use]
    pub fn with_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Runs every `interval` (from the end of one run to the start of the
    /// next; at least 1 ms).
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// A run that takes longer fails with "timed out after …".
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tags.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

struct Entry {
    tags: Vec<String>,
    state: CheckState,
    failures: u64,
    at: Option<steadfast::time::Instant>,
    took: Option<Duration>,
    /// The task running it, if spawned.
    #[cfg(feature = "tokio")]
    task: Option<tokio::task::AbortHandle>,
}

impl Entry {
    fn new(tags: Vec<String>) -> Self {
        Self {
            tags,
            state: CheckState::Pending,
            failures: 0,
            at: None,
            took: None,
            #[cfg(feature = "tokio")]
            task: None,
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        #[cfg(feature = "tokio")]
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Named dependency checks and their latest results. Cheap to clone (an
/// `Arc`); every clone sees the same checks. A spawned check stops when it is
/// [removed](Self::remove) or when the last clone is dropped.
#[derive(Clone, Default)]
pub struct HealthChecks {
    inner: Arc<Mutex<BTreeMap<String, Entry>>>,
}

impl fmt::Debug for HealthChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.snapshot().iter().map(|c| (&c.name, c.state)))
            .finish()
    }
}

impl HealthChecks {
    /// No checks.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panicking reporter leaves plain data behind; keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a check reported by hand, pending until its first
    /// [`report`](Self::report). Registering a name again replaces it (and
    /// stops its task, if it had one).
    ///
    /// ```
    /// # use steadfast_std::checks::HealthChecks;
    /// let checks = HealthChecks::new();
    /// checks.register("postgres", &["critical"]);
    /// assert_eq!(checks.snapshot()[0].state, "pending");
    /// ```
    pub fn register(&self, name: &str, tags: &[&str]) {
        let tags = tags.iter().map(|t| (*t).to_owned()).collect();
        self.lock().insert(name.to_owned(), Entry::new(tags));
    }

    /// Records a run of check `name` that took `took` (registering it,
    /// untagged, if unknown). With the `metrics` feature a failed run counts in
    /// `health_check_failures_total{name="…"}`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use steadfast_std::checks::HealthChecks;
    /// let checks = HealthChecks::new();
    /// checks.report("cache", Err("refused"), Duration::ZERO);
    /// checks.report("cache", Err("refused"), Duration::ZERO);
    /// let c = &checks.snapshot()[0];
    /// assert_eq!((c.state, c.consecutive_failures), ("failing", 2));
    /// checks.report("cache", Ok::<(), &str>(()), Duration::ZERO);
    /// assert_eq!(checks.snapshot()[0].consecutive_failures, 0);
    /// ```
    pub fn report<E: Display>(&self, name: &str, result: Result<(), E>, took: Duration) {
        let now = time::now();
        let mut checks = self.lock();
        let entry = checks
            .entry(name.to_owned())
            .or_insert_with(|| Entry::new(Vec::new()));
        entry.at = Some(now);
        entry.took = Some(took);
        match result {
            Ok(()) => {
                entry.state = CheckState::Passing;
                entry.failures = 0;
            }
            Err(e) => {
                entry.state = CheckState::Failing(reason(&e));
                entry.failures = entry.failures.saturating_add(1);
            }
        }
        let failed = entry.failures > 0;
        drop(checks);
        #[cfg(feature = "metrics")]
        if failed {
            metrics::counter!("health_check_failures_total", crate::observe::LABEL => name.to_owned())
                .increment(1);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = failed;
    }

    /// Removes check `name` (stopping its task); whether it existed.
    ///
    /// ```
    /// # use steadfast_std::checks::HealthChecks;
    /// let checks = HealthChecks::new();
    /// checks.register("x", &[]);
    /// assert!(checks.remove("x"));
    /// assert!(!checks.remove("x"));
    /// ```
    pub fn remove(&self, name: &str) -> bool {
        let removed = self.lock().remove(name);
        removed.is_some()
    }

    /// Every check as it stands, by name.
    pub fn snapshot(&self) -> Vec<CheckHealth> {
        let now = time::now();
        self.lock()
            .iter()
            .map(|(name, e)| {
                let tags: Vec<&str> = e.tags.iter().map(String::as_str).collect();
                let mut health = CheckHealth::new(name, &tags, e.state.clone());
                health.consecutive_failures = e.failures;
                health.checked_ms_ago =
                    e.at.map(|at| now.saturating_duration_since(at).as_millis());
                health.duration_ms = e
                    .took
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                health
            })
            .collect()
    }

    /// Runs `check` on the current Tokio runtime: at once, then `interval`
    /// after each run ends; a run longer than its timeout fails. Spawning a
    /// name again replaces the earlier check.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::checks::{Check, HealthChecks};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let checks = HealthChecks::new();
    /// let slow = Check::new("search").with_timeout(Duration::from_secs(1));
    /// checks.spawn(slow, || async {
    ///     tokio::time::sleep(Duration::from_secs(5)).await;
    ///     Ok::<(), String>(())
    /// });
    /// tokio::time::sleep(Duration::from_millis(1500)).await;
    /// let c = &checks.snapshot()[0];
    /// assert_eq!(c.reason.as_deref(), Some("timed out after 1s"));
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    pub fn spawn<F, Fut, E>(&self, check: Check, run: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: Display + 'static,
    {
        let tags: Vec<&str> = check.tags.iter().map(String::as_str).collect();
        self.register(&check.name, &tags);
        let weak = Arc::downgrade(&self.inner);
        let name = check.name.clone();
        let task = tokio::spawn(async move {
            loop {
                let started = time::now();
                let result = match tokio::time::timeout(check.timeout, run()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(reason(&e)),
                    Err(_) => Err(format!(
                        "timed out after {}",
                        steadfast::time::Duration::from(check.timeout)
                    )),
                };
                let Some(inner) = weak.upgrade() else { return };
                let took = time::now().saturating_duration_since(started);
                Self { inner }.report(&name, result, Duration::from_micros(took.as_micros()));
                tokio::time::sleep(check.interval).await;
            }
        });
        match self.lock().get_mut(&check.name) {
            Some(entry) => entry.task = Some(task.abort_handle()),
            None => task.abort(),
        }
    }
}

/// A failure's reason, cut to 200 characters (a check may fail with a whole
/// response body).
fn reason(e: &dyn Display) -> String {
    let text = e.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "tokio")]
    use crate::health::Status;

    #[test]
    fn a_long_reason_is_cut() {
        let checks = HealthChecks::new();
        checks.report("x", Err("é".repeat(10_000)), Duration::ZERO);
        let reason = checks.snapshot()[0].reason.clone().unwrap();
        assert_eq!(reason.chars().count(), 201);
        assert!(reason.ends_with('…'));
    }

    #[cfg(feature = "tokio")]
    #[tokio::test(start_paused = true)]
    async fn a_spawned_check_runs_at_once_then_every_interval_and_stops_when_removed() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let runs = Arc::new(AtomicU32::new(0));
        let checks = HealthChecks::new();
        let counter = runs.clone();
        checks.spawn(
            Check::new("db")
                .with_tags(["critical"])
                .with_interval(Duration::from_secs(10)),
            move || {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    if n.is_multiple_of(2) {
                        Err(format!("run {n} failed"))
                    } else {
                        Ok(())
                    }
                }
            },
        );
        let status = |checks: &HealthChecks| {
            crate::health::Health::new(true, Vec::new(), checks.snapshot()).status
        };
        assert_eq!(status(&checks), Status::Unhealthy, "pending and critical");
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(status(&checks), Status::Healthy);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(status(&checks), Status::Unhealthy);
        assert_eq!(checks.snapshot()[0].reason.as_deref(), Some("run 2 failed"));
        assert!(checks.remove("db"));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "a removed check no longer runs"
        );
    }

    #[cfg(feature = "tokio")]
    #[tokio::test(start_paused = true)]
    async fn a_spawned_check_stops_with_the_last_handle() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let runs = Arc::new(AtomicU32::new(0));
        let checks = HealthChecks::new();
        let counter = runs.clone();
        checks.spawn(
            Check::new("db").with_interval(Duration::from_secs(1)),
            move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Ok::<(), String>(()) }
            },
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        drop(checks);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
