//! Policy files: the one format the std adapter, the simulator and the example
//! service read (TOML or YAML, same keys), with environment overrides in the
//! seeds' style, validated into the core's configs.
//!
//! Needs only the `config` feature (no Tokio): parse with
//! [`PolicyFile::from_toml_str`], [`PolicyFile::from_yaml_str`],
//! [`PolicyFile::load`] (by file extension), or embed a [`PolicyFile`] in your
//! own serde type; apply [`PolicyFile::apply_env`]; then
//! [`PolicyFile::validate`] gives a [`PolicySet`] of core configs
//! ([`steadfast::breaker::Config`], [`steadfast::bulkhead::Config`],
//! [`steadfast::retry::BudgetConfig`], [`steadfast::pipeline::Config`]).
//!
//! Every error names the full key path (`breakers.kafka.failure_rate`) or the
//! environment variable (`STEADFAST_BREAKERS_KAFKA_FAILURE_RATE`, or the short
//! `STEADFAST_KAFKA_FAILURE_RATE` where unique) it is about.
//!
//! ```
//! use steadfast_std::config::{Detector, PolicyFile};
//! use steadfast::time::Duration;
//!
//! let file = PolicyFile::from_toml_str(r#"
//!     default_timeout = "10s"
//!
//!     [breakers.kafka]
//!     failure_threshold = 5
//!     break_duration = "30s"
//!
//!     [policies.kafka]
//!     breaker = "kafka"
//!     max_attempts = 3
//!     multiplier = "3/2"
//! "#)?;
//! let set = file.validate()?;
//! let kafka = &set.breakers["kafka"];
//! assert_eq!(kafka.detector, Detector::Consecutive);
//! assert_eq!(kafka.config.failure_threshold(), 5);
//! let policy = &set.policies["kafka"];
//! assert_eq!(policy.breaker.as_deref(), Some("kafka"));
//! assert_eq!(policy.pipeline.timeout().attempt(), Some(Duration::from_secs(10)));
//!
//! let err = PolicyFile::from_toml_str("[breakers.kafka]\nfailure_rate = 150\n").unwrap_err();
//! assert_eq!(err.to_string(), "breakers.kafka.failure_rate: must be 1..=100, got 150 (line 2)");
//! # Ok::<(), steadfast_std::config::ConfigError>(())
//! ```
//!
//! # Format
//!
//! Every key, with its default, range and environment variable, is in the
//! project's `CONFIG_SCHEMA.md` (a test checks it against this module); in brief:
//!
//! | section | keys |
//! |---|---|
//! | top level | `enabled` (false = every policy passes calls straight through), `default_timeout`, `seed` (jitter seed; default from the OS) |
//! | `[breakers.NAME]` | `detector` (`consecutive`/`count`/`time`), `failure_threshold`, `window` (calls or duration), `minimum_calls`, `failure_rate`, `slow_call_duration`, `slow_call_rate`, `break_duration`, `break_multiplier`, `max_break_duration`, `half_open_probes`, `success_threshold`, `max_half_open_wait`, `metrics_only` (true = judge and report, never reject), `critical` (true = no fallback stands in for it: while it is down, readiness is unhealthy rather than degraded) |
//! | `[bulkheads.NAME]` | `max_concurrent`, `max_queue`, `max_wait` |
//! | `[budgets.NAME]` | `kind` (`ratio`, `token_bucket` or `grpc`); for `ratio`: `ratio_permille`, `min_retries_per_sec`, `window`; for `token_bucket`: `capacity`, `retry_cost`, `timeout_retry_cost`, `success_increment`; for `grpc`: `max_tokens`, `token_ratio` |
//! | `[ratelimits.NAME]` | `count` (calls per `period`), `period`, `burst` (calls at once after a quiet spell; default `count`) |
//! | `[throttles.NAME]` | client-side adaptive throttling: `k` (the backend sees about `k` × what it accepts; default 2), `window` (default 2 min), `max_reject` (a cap on the refusal probability, a percentage; default 100%) |
//! | `[caches.NAME]` | a cached fallback (`Registry::cache`, feature `cache`): `capacity` (keys; default 1000), `max_staleness` (default 5 min) |
//! | `[chaos.NAME]` | `enabled` (default false: nothing is injected unless a file or `STEADFAST_CHAOS_<NAME>_ENABLED` says true), `fault`, `hang`, `outcome`, `latency` (percentages up to four decimals: `"0.5%"`), `delay`, `start`, `every` and `active` (inject during the first `active` of every `every`) |
//! | `[adaptive_limits.NAME]` | `algorithm` (`aimd`/`vegas`), `initial`, `min`, `max`, `backoff_permille`, `timeout` (aimd), `alpha` and `beta` (vegas), `smoothing_permille` |
//! | `[hedges.NAME]` | `delay` (fixed), or `percentile` (per mille), `min_samples` and `fallback`; `max_hedges`, `budget` (a name) |
//! | `[policies.NAME]` | `breaker`, `bulkhead`, `budget`, `throttle`, `ratelimit` (names; a throttle and a rate limiter are passed by every attempt, last), `max_attempts` (≥ 1, or `"unlimited"` with a `total_timeout`), `backoff`, `base_delay`, `max_delay`, `multiplier`, `jitter`, `attempt_timeout`, `total_timeout`, `retry_on_timeout`, `max_retry_after`, `order`, `fallback`, `seed` |
//!
//! Durations are strings with whole numbers and a unit (`"1500us"`, `"250ms"`,
//! `"30s"`, `"5m"`, `"1h"`, `"1m30s"`); timeouts may be `"none"`. Multipliers are
//! integer ratios (`"3/2"`), never floats. Unknown keys are errors. Keys that
//! the chosen detector or backoff would ignore are errors too (a
//! `failure_threshold` on a `count` breaker, a `multiplier` on a `constant`
//! backoff): a setting that does nothing is a mistake waiting to be found.
//! A `linear` backoff grows by `base_delay` per retry.
//!
//! `metrics_only = true` rolls a breaker out in shadow
//! ([`breaker::Config::metrics_only`]): it judges, trips and closes as it would
//! live and reports every transition (metrics, tracing, `/health`), but never
//! rejects a call; `/health` never counts it as down.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use steadfast::backoff::{Backoff, Kind, Ratio};
use steadfast::breaker::{self, Breaker, Consecutive, TimeWindow};
use steadfast::bulkhead;
use steadfast::pipeline::{self, FallbackOn, Order};
use steadfast::retry::{
    self, AnyBudgetConfig, BudgetConfig, GrpcThrottleConfig, TokenBucketConfig,
};
use steadfast::time::Duration;
use steadfast::timeout;

use crate::breaker::CountStorage;

mod env;
mod latency;
mod value;

pub use env::{EnvReport, UnknownVars};
pub use latency::{AdaptiveLimitEntry, AlgorithmKind, HedgeEntry, HedgeSpec};
pub use value::{
    Attempts, HumanDuration, JitterSpec, Multiplier, Percent, Rate, Thousandths, Timeout, Window,
};

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;

/// The largest `window` of a `count` breaker: the adapter stores the last
/// calls of a count window inline, in two 64-bit words per kind.
///
/// ```
/// assert_eq!(steadfast_std::config::MAX_COUNT_WINDOW, 128);
/// ```
pub const MAX_COUNT_WINDOW: u32 = crate::breaker::MAX_COUNT_WINDOW as u32;

/// The number of buckets of a `time` breaker's window (each covers
/// `window / TIME_WINDOW_BUCKETS`), so a time window must be at least this many
/// microseconds.
///
/// ```
/// assert_eq!(steadfast_std::config::TIME_WINDOW_BUCKETS, 10);
/// ```
pub const TIME_WINDOW_BUCKETS: usize = crate::breaker::TIME_BUCKETS;

/// The breaker storage the adapter uses for `detector = "time"`.
///
/// ```
/// use steadfast_std::config::TimeStorage;
/// let b = steadfast::breaker::Breaker::<TimeStorage>::new(Default::default());
/// assert!(b.is_ok());
/// ```
pub type TimeStorage = TimeWindow<TIME_WINDOW_BUCKETS>;

/// A configuration that cannot work, naming the key path (`breakers.kafka.window`)
/// or environment variable (`STEADFAST_KAFKA_WINDOW`) it is about.
///
/// `Display` is `key: message`, plus ` (line N)` when the file position is known.
///
/// ```
/// use steadfast_std::config::PolicyFile;
///
/// let err = PolicyFile::from_toml_str("[policies.api]\nbreaker = \"nope\"\n")?
///     .validate()
///     .unwrap_err();
/// assert_eq!(err.key(), "policies.api.breaker");
/// assert!(err.message().contains("no [breakers.nope]"), "{err}");
/// # Ok::<(), steadfast_std::config::ConfigError>(())
/// ```
///
/// `Debug` is the `Display` text too, so that `fn main() -> Result<(), ConfigError>`
/// prints a readable line:
///
/// ```
/// # use steadfast_std::config::ConfigError;
/// let e = ConfigError::new("enabled", "expected true or false");
/// assert_eq!(format!("{e:?}"), "enabled: expected true or false");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    key: String,
    message: String,
    line: Option<u64>,
}

impl ConfigError {
    /// An error about `key` (a dotted key path or an environment variable).
    ///
    /// ```
    /// # use steadfast_std::config::ConfigError;
    /// let e = ConfigError::new("breakers.kafka.window", "must be 1..=128, got 500");
    /// assert_eq!(e.to_string(), "breakers.kafka.window: must be 1..=128, got 500");
    /// ```
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: clip_quoted(message.into()),
            line: None,
        }
    }

    /// The key path or variable name; empty for a syntax error of the whole file.
    ///
    /// ```
    /// # use steadfast_std::config::ConfigError;
    /// assert_eq!(ConfigError::new("enabled", "x").key(), "enabled");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong.
    ///
    /// ```
    /// # use steadfast_std::config::ConfigError;
    /// assert_eq!(ConfigError::new("enabled", "expected true or false").message(), "expected true or false");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based line of the file, when known.
    ///
    /// ```
    /// # use steadfast_std::config::PolicyFile;
    /// let err = PolicyFile::from_yaml_str("breakers:\n  kafka:\n    break_duration: 30\n").unwrap_err();
    /// assert_eq!(err.line(), Some(3));
    /// assert_eq!(err.to_string(), "breakers.kafka.break_duration: a duration needs a unit: write \"30s\" or \"30ms\", got 30 (line 3)");
    /// ```
    pub fn line(&self) -> Option<u64> {
        self.line
    }

    fn at_line(mut self, line: Option<u64>) -> Self {
        self.line = line;
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)?;
        } else {
            write!(f, "{}: {}", self.key, self.message)?;
        }
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConfigError {}

/// `message` with every quoted or backticked part longer than 60 characters
/// clipped, so that a huge value is not echoed whole.
fn clip_quoted(message: String) -> String {
    if message.len() <= 120 {
        return message;
    }
    let mut out = String::with_capacity(message.len().min(4096));
    let mut rest = message.as_str();
    while let Some(open) = rest.find(['"', '`']) {
        let quote = &rest[open..=open];
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find(quote) else { break };
        out.push_str(&value::clip(&rest[..close]));
        out.push_str(quote);
        rest = &rest[close + 1..];
    }
    out.push_str(&value::clip_long(rest));
    out
}

/// The format of a policy file.
///
/// ```
/// use steadfast_std::config::Format;
/// assert_eq!(Format::from_path("conf/resilience.yaml".as_ref()), Some(Format::Yaml));
/// assert_eq!(Format::from_path("steadfast.toml".as_ref()), Some(Format::Toml));
/// assert_eq!(Format::from_path("steadfast.ini".as_ref()), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// TOML (`.toml`).
    Toml,
    /// YAML (`.yaml`, `.yml`).
    Yaml,
}

impl Format {
    /// The format a file name's extension says.
    ///
    /// ```
    /// # use steadfast_std::config::Format;
    /// assert_eq!(Format::from_path("a.yml".as_ref()), Some(Format::Yaml));
    /// ```
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "toml" => Some(Self::Toml),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }
}

/// A policy file as written: every key optional, nothing validated across keys
/// yet (scalars are checked as they are read). [`validate`](Self::validate) turns
/// it into a [`PolicySet`].
///
/// It is a plain serde type, so another file format can embed it as a table
/// (the simulator's scenario files do, under `[policy]`); call
/// [`validate`](Self::validate) afterwards, whose errors name paths relative
/// to this table.
///
/// ```
/// use serde::Deserialize;
/// use steadfast_std::config::PolicyFile;
///
/// #[derive(Deserialize)]
/// struct Scenario { seed: u64, policy: PolicyFile }
///
/// let scenario: Scenario = toml::from_str(r#"
///     seed = 7
///     [policy.breakers.db]
///     failure_threshold = 3
/// "#).unwrap();
/// let set = scenario.policy.validate()?;
/// assert_eq!(set.breakers["db"].config.failure_threshold(), 3);
/// # Ok::<(), steadfast_std::config::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PolicyFile {
    /// The global switch (default true); false makes every policy pass calls
    /// straight through (the seeds' `RESILIENCE_ENABLED`).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The attempt timeout of policies that set none (default 30 s; `"none"`).
    #[serde(default)]
    pub default_timeout: Option<Timeout>,
    /// The seed of the jitter streams of policies that set none (default: a
    /// fresh seed from the operating system in every process).
    #[serde(default, deserialize_with = "value::seed")]
    pub seed: Option<u64>,
    /// `[breakers.NAME]`.
    #[serde(default)]
    pub breakers: BTreeMap<String, BreakerEntry>,
    /// `[bulkheads.NAME]`.
    #[serde(default)]
    pub bulkheads: BTreeMap<String, BulkheadEntry>,
    /// `[budgets.NAME]`.
    #[serde(default)]
    pub budgets: BTreeMap<String, BudgetEntry>,
    /// `[policies.NAME]`.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyEntry>,
    /// `[chaos.NAME]`: fault injection for drills, off unless `enabled = true`.
    #[serde(default)]
    pub chaos: BTreeMap<String, ChaosEntry>,
    /// `[ratelimits.NAME]`.
    #[serde(default)]
    pub ratelimits: BTreeMap<String, RateLimitEntry>,
    /// `[throttles.NAME]`.
    #[serde(default)]
    pub throttles: BTreeMap<String, ThrottleEntry>,
    /// `[caches.NAME]`.
    #[serde(default)]
    pub caches: BTreeMap<String, CacheEntry>,
    /// `[adaptive_limits.NAME]`.
    #[serde(default)]
    pub adaptive_limits: BTreeMap<String, AdaptiveLimitEntry>,
    /// `[hedges.NAME]`.
    #[serde(default)]
    pub hedges: BTreeMap<String, HedgeEntry>,
}

/// How a breaker judges its dependency: the file's `detector`.
///
/// ```
/// use steadfast_std::config::DetectorKind;
/// assert_eq!(DetectorKind::default(), DetectorKind::Consecutive);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// `failure_threshold` failures in a row.
    #[default]
    Consecutive,
    /// A failure rate over the last `window` calls.
    Count,
    /// A failure rate over the calls of the last `window` of time.
    Time,
}

/// How retry delays grow: the file's `backoff`.
///
/// ```
/// use steadfast_std::config::BackoffKind;
/// assert_eq!(BackoffKind::default(), BackoffKind::Exponential);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackoffKind {
    /// Every retry waits `base_delay`.
    Constant,
    /// Retry n waits `n × base_delay`.
    Linear,
    /// Retry n waits `base_delay × multiplierⁿ⁻¹`.
    #[default]
    Exponential,
}

/// `[breakers.NAME]` as written. Defaults are the core's (seeds'): 5 failures in
/// a row, 30 s open, 3 half-open probes, 2 successes to close.
///
/// ```
/// use steadfast_std::config::BreakerEntry;
/// let mut entry = BreakerEntry::default();
/// entry.failure_threshold = Some(3);
/// assert_eq!(entry.detector, None); // consecutive
/// assert!(steadfast_std::config::PolicyFile::default().validate().is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)] // the keys are documented in the module's table
pub struct BreakerEntry {
    #[serde(default)]
    pub detector: Option<DetectorKind>,
    #[serde(default, deserialize_with = "value::whole")]
    pub failure_threshold: Option<i64>,
    #[serde(default)]
    pub window: Option<Window>,
    #[serde(default, deserialize_with = "value::whole")]
    pub minimum_calls: Option<i64>,
    #[serde(default)]
    pub failure_rate: Option<Percent>,
    #[serde(default)]
    pub slow_call_duration: Option<Timeout>,
    #[serde(default)]
    pub slow_call_rate: Option<Percent>,
    #[serde(default)]
    pub break_duration: Option<HumanDuration>,
    #[serde(default, deserialize_with = "value::whole")]
    pub break_multiplier: Option<i64>,
    #[serde(default)]
    pub max_break_duration: Option<HumanDuration>,
    #[serde(default, deserialize_with = "value::whole")]
    pub half_open_probes: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub success_threshold: Option<i64>,
    #[serde(default)]
    pub max_half_open_wait: Option<HumanDuration>,
    #[serde(default)]
    pub metrics_only: Option<bool>,
    #[serde(default)]
    pub critical: Option<bool>,
}

/// `[bulkheads.NAME]` as written (defaults: 10 concurrent, 10 waiting, 5 s).
///
/// ```
/// use steadfast_std::config::BulkheadEntry;
/// let mut entry = BulkheadEntry::default();
/// entry.max_concurrent = Some(4);
/// assert_eq!(entry.max_queue, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct BulkheadEntry {
    #[serde(default, deserialize_with = "value::whole")]
    pub max_concurrent: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub max_queue: Option<i64>,
    #[serde(default)]
    pub max_wait: Option<HumanDuration>,
}

/// Which retry budget a `[budgets.NAME]` entry is: the file's `kind`.
///
/// ```
/// use steadfast_std::config::BudgetKind;
/// assert_eq!(BudgetKind::default(), BudgetKind::Ratio);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKind {
    /// Finagle-style: retries as a share of requests, plus a floor per second.
    #[default]
    Ratio,
    /// The AWS SDKs' retry token bucket.
    TokenBucket,
    /// gRPC's retry throttling.
    Grpc,
}

/// `[budgets.NAME]` as written (defaults: a `ratio` budget of 200 ‰, 10
/// retries/s, 10 s; a `token_bucket` of 500 tokens, a retry costs 5, 10 after
/// a timeout, a first-attempt success adds 1; `grpc` with 10 tokens, 0.1 back
/// per success).
///
/// ```
/// use steadfast_std::config::BudgetEntry;
/// assert_eq!(BudgetEntry::default().ratio_permille, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct BudgetEntry {
    #[serde(default)]
    pub kind: Option<BudgetKind>,
    #[serde(default, deserialize_with = "value::whole")]
    pub ratio_permille: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub min_retries_per_sec: Option<i64>,
    #[serde(default)]
    pub window: Option<HumanDuration>,
    #[serde(default, deserialize_with = "value::whole")]
    pub capacity: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub retry_cost: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub timeout_retry_cost: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub success_increment: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub token_ratio: Option<Thousandths>,
}

/// `[ratelimits.NAME]` as written: `count` calls per `period`, bursts of
/// `burst` (defaults: 100 per second, bursts of `count`).
///
/// ```
/// use steadfast_std::config::RateLimitEntry;
/// assert_eq!(RateLimitEntry::default().count, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct RateLimitEntry {
    #[serde(default, deserialize_with = "value::whole")]
    pub count: Option<i64>,
    #[serde(default)]
    pub period: Option<HumanDuration>,
    #[serde(default, deserialize_with = "value::whole")]
    pub burst: Option<i64>,
}

/// `[throttles.NAME]` as written: client-side adaptive throttling (defaults:
/// the SRE book's `k = 2` over two minutes, no cap on the refusal
/// probability).
///
/// ```
/// use steadfast_std::config::ThrottleEntry;
/// assert_eq!(ThrottleEntry::default().k, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct ThrottleEntry {
    #[serde(default)]
    pub k: Option<Thousandths>,
    #[serde(default)]
    pub window: Option<HumanDuration>,
    #[serde(default)]
    pub max_reject: Option<Rate>,
}

/// `[caches.NAME]` as written: a cached fallback's last good values
/// (defaults: 1000 keys, served up to 5 minutes after they were stored).
///
/// ```
/// use steadfast_std::config::CacheEntry;
/// assert_eq!(CacheEntry::default().capacity, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct CacheEntry {
    #[serde(default, deserialize_with = "value::whole")]
    pub capacity: Option<i64>,
    #[serde(default)]
    pub max_staleness: Option<HumanDuration>,
}

/// A `[caches.NAME]` entry, validated: how many keys, and how old a value
/// may be served.
///
/// ```
/// use steadfast_std::config::{CacheSpec, PolicyFile};
/// let set = PolicyFile::from_toml_str("[caches.quotes]\ncapacity = 500\nmax_staleness = \"1m\"\n")?.validate()?;
/// assert_eq!(set.caches["quotes"], CacheSpec { capacity: 500, max_staleness: steadfast::time::Duration::from_secs(60) });
/// # Ok::<(), steadfast_std::config::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheSpec {
    /// Keys held at most.
    pub capacity: usize,
    /// A value is served up to this long after it was stored.
    pub max_staleness: Duration,
}

/// `[chaos.NAME]` as written: fault injection for a drill. Nothing is
/// injected unless `enabled = true` (in the file or from
/// `STEADFAST_CHAOS_<NAME>_ENABLED`); every rate defaults to 0 %.
///
/// ```
/// use steadfast_std::config::ChaosEntry;
/// assert_eq!(ChaosEntry::default().enabled, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct ChaosEntry {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub fault: Option<Rate>,
    #[serde(default)]
    pub hang: Option<Rate>,
    #[serde(default)]
    pub outcome: Option<Rate>,
    #[serde(default)]
    pub latency: Option<Rate>,
    #[serde(default)]
    pub delay: Option<HumanDuration>,
    #[serde(default)]
    pub start: Option<HumanDuration>,
    #[serde(default)]
    pub every: Option<HumanDuration>,
    #[serde(default)]
    pub active: Option<HumanDuration>,
}

/// `[policies.NAME]` as written (defaults: the core's
/// [`pipeline::Config::DEFAULT`], attempt timeout = the file's `default_timeout`).
///
/// ```
/// use steadfast_std::config::PolicyEntry;
/// assert_eq!(PolicyEntry::default().breaker, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct PolicyEntry {
    #[serde(default)]
    pub breaker: Option<String>,
    #[serde(default)]
    pub bulkhead: Option<String>,
    #[serde(default)]
    pub budget: Option<String>,
    #[serde(default)]
    pub ratelimit: Option<String>,
    #[serde(default)]
    pub throttle: Option<String>,
    #[serde(default)]
    pub max_attempts: Option<Attempts>,
    #[serde(default)]
    pub backoff: Option<BackoffKind>,
    #[serde(default)]
    pub base_delay: Option<HumanDuration>,
    #[serde(default)]
    pub max_delay: Option<HumanDuration>,
    #[serde(default)]
    pub multiplier: Option<Multiplier>,
    #[serde(default)]
    pub jitter: Option<JitterSpec>,
    #[serde(default)]
    pub attempt_timeout: Option<Timeout>,
    #[serde(default)]
    pub total_timeout: Option<Timeout>,
    #[serde(default)]
    pub retry_on_timeout: Option<bool>,
    #[serde(default)]
    pub max_retry_after: Option<HumanDuration>,
    #[serde(default)]
    pub order: Option<Order>,
    #[serde(default)]
    pub fallback: Option<FallbackOn>,
    #[serde(default, deserialize_with = "value::seed")]
    pub seed: Option<u64>,
}

/// The detector of a validated breaker, with its window.
///
/// ```
/// use steadfast_std::config::Detector;
/// assert_ne!(Detector::Consecutive, Detector::Count { window: 100 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detector {
    /// [`steadfast::breaker::Consecutive`].
    Consecutive,
    /// A failure rate over the last `window` calls (`1..=MAX_COUNT_WINDOW`).
    Count {
        /// Calls in the window.
        window: u16,
    },
    /// [`TimeStorage`] over [`breaker::Config::window_duration`].
    Time,
}

/// A validated breaker: its detector and the core config.
///
/// ```
/// use steadfast_std::config::{BreakerSpec, Detector};
/// let spec = BreakerSpec::default();
/// assert_eq!(spec.detector, Detector::Consecutive);
/// assert_eq!(spec.config.failure_threshold(), 5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSpec {
    /// How it judges.
    pub detector: Detector,
    /// Thresholds and durations, validated for `detector`.
    pub config: breaker::Config,
    /// No fallback stands in for it: while it is down, readiness is
    /// unhealthy rather than degraded
    /// ([`RegistryBuilder::critical`](crate::registry::RegistryBuilder::critical)).
    pub critical: bool,
}

impl Default for BreakerSpec {
    /// Consecutive, [`breaker::Config::DEFAULT`].
    fn default() -> Self {
        Self {
            detector: Detector::Consecutive,
            config: breaker::Config::DEFAULT,
            critical: false,
        }
    }
}

/// A validated policy: the pipeline config and the names of the shared machines
/// it uses (each known to the same [`PolicySet`]).
///
/// ```
/// use steadfast_std::config::PolicySpec;
/// let spec = PolicySpec::default();
/// assert_eq!(spec.pipeline.retry().max_attempts(), 3);
/// assert!(spec.breaker.is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicySpec {
    /// Retry, timeouts, order, fallback.
    pub pipeline: pipeline::Config,
    /// A key of [`PolicySet::breakers`].
    pub breaker: Option<String>,
    /// A key of [`PolicySet::bulkheads`].
    pub bulkhead: Option<String>,
    /// A key of [`PolicySet::budgets`].
    pub budget: Option<String>,
    /// A key of [`PolicySet::ratelimits`]: the rate limiter each attempt
    /// passes last.
    pub ratelimit: Option<String>,
    /// A key of [`PolicySet::throttles`]: the adaptive throttle each attempt
    /// passes last (before the rate limiter).
    pub throttle: Option<String>,
    /// The seed of the policy's jitter streams: the policy's `seed`, else the
    /// file's; `None` = a fresh seed from the operating system when the policy
    /// is built ([`seed::from_os`](crate::seed::from_os)).
    pub seed: Option<u64>,
}

/// A validated policy file: core configs by name, every reference resolved.
///
/// ```
/// use steadfast_std::config::PolicySet;
/// let set = PolicySet::default();
/// assert!(set.enabled && set.policies.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicySet {
    /// The global switch: false = every policy passes calls straight through.
    pub enabled: bool,
    /// The attempt timeout of policies that set none.
    pub default_timeout: Option<Duration>,
    /// Breakers by name.
    pub breakers: BTreeMap<String, BreakerSpec>,
    /// Bulkheads by name.
    pub bulkheads: BTreeMap<String, bulkhead::Config>,
    /// Retry budgets by name.
    pub budgets: BTreeMap<String, AnyBudgetConfig>,
    /// Policies by name.
    pub policies: BTreeMap<String, PolicySpec>,
    /// Fault-injection drills by name (each off unless enabled).
    pub chaos: BTreeMap<String, steadfast::chaos::Config>,
    /// Rate limiters by name.
    pub ratelimits: BTreeMap<String, steadfast::ratelimit::Config>,
    /// Adaptive throttles by name.
    pub throttles: BTreeMap<String, steadfast::throttle::Config>,
    /// Adaptive concurrency limits by name.
    pub adaptive_limits: BTreeMap<String, steadfast::adaptive::Config>,
    /// Cached fallbacks by name.
    pub caches: BTreeMap<String, CacheSpec>,
    /// Hedging rules by name.
    pub hedges: BTreeMap<String, HedgeSpec>,
    /// What the `*_with_env` constructors skipped: `STEADFAST_` variables that
    /// name no entry ([`EnvReport::warnings`]), worth a log line at start-up
    /// (with the `tracing` feature they are also `tracing::warn!` events).
    pub warnings: Vec<ConfigError>,
}

impl Default for PolicySet {
    /// Enabled, 30 s default timeout, nothing named.
    fn default() -> Self {
        Self {
            enabled: true,
            default_timeout: timeout::Config::DEFAULT.attempt(),
            breakers: BTreeMap::new(),
            bulkheads: BTreeMap::new(),
            budgets: BTreeMap::new(),
            policies: BTreeMap::new(),
            chaos: BTreeMap::new(),
            ratelimits: BTreeMap::new(),
            throttles: BTreeMap::new(),
            caches: BTreeMap::new(),
            adaptive_limits: BTreeMap::new(),
            hedges: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }
}

// ---- parsing ---------------------------------------------------------------

/// Turns a path-tracked serde error into a [`ConfigError`]. An unknown field
/// is reported at its own path (`breakers.kafka.bogus`); some deserializers
/// record it in the path already, others stop at its parent.
/// serde's `invalid type: boolean `true`, expected a whole number` as
/// people say it: `expected a whole number, got true`, with no Rust type
/// names (`struct BreakerEntry`).
fn plain_type_error(message: &str) -> Option<String> {
    match message {
        "expected mapping start" => {
            return Some("expected a table of keys (key: value)".to_owned());
        }
        "expected string scalar" => return Some("expected a string".to_owned()),
        "invalid boolean" => return Some("expected a boolean (true or false)".to_owned()),
        _ => {}
    }
    let (got, expected) = message
        .strip_prefix("invalid type: ")?
        .split_once(", expected ")?;
    let got = match got.split_once(' ') {
        Some(("boolean", value)) => value.trim_matches('`').to_owned(),
        Some(("integer" | "floating", value)) => {
            let value = value.trim_start_matches("point ").trim_matches('`');
            format!("the number {value}")
        }
        Some(("string", value)) => format!("the text {value}"),
        _ => match got {
            "map" => "a table".to_owned(),
            "sequence" => "a list".to_owned(),
            "unit value" | "null" => "nothing".to_owned(),
            other => other.to_owned(),
        },
    };
    let expected = if expected.starts_with("struct ") {
        "a table of settings"
    } else if expected == "a map" {
        "a table of named entries"
    } else {
        expected
    };
    Some(format!("expected {expected}, got {got}"))
}

fn path_error(path: String, message: &str) -> ConfigError {
    let plain = plain_type_error(message);
    let message = plain.as_deref().unwrap_or(message);
    let mut key = if path == "." { String::new() } else { path };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, _)) = rest.split_once('`')
        && key.rsplit('.').next() != Some(field)
    {
        if !key.is_empty() {
            key.push('.');
        }
        key.push_str(field);
    }
    ConfigError::new(key, message)
}

/// A TOML date or time where another type was expected, in words: the
/// deserializer sees a date-time as a map (`invalid type: map, expected …`).
fn toml_datetime_message(message: &str, value: Option<&str>) -> Option<String> {
    let expected = message.strip_prefix("invalid type: map, expected ")?;
    let value = value?.trim();
    let is_datetime = value.starts_with(|c: char| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+' | ' '));
    if !is_datetime {
        return None;
    }
    let what = match (value.contains('-'), value.contains(':')) {
        (true, true) => "a date and time",
        (true, false) => "a date",
        _ => "a time of day",
    };
    let quote = if expected == "a string" {
        " (a name is written in quotes)"
    } else {
        ""
    };
    Some(format!("expected {expected}, got {what}, {value}{quote}"))
}

/// Limits on what a YAML file may make the parser do, sized by the file: a
/// file of `n` bytes holds at most about `n` values, so an ordinary file of
/// any size reads, and the work stays linear in its size. One anchor reused
/// by many entries is ordinary in a config file, so the alias-to-anchor
/// ratio is not checked; what aliases expand to stays capped by the
/// parser's limit on recorded anchor events.
fn yaml_options(text: &str) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = budget.max_nodes.max(text.len());
    budget.max_events = budget.max_events.max(text.len().saturating_mul(2));
    budget.enforce_alias_anchor_ratio = false;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// A YAML limit the file went over, in words.
fn yaml_budget_problem(e: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach as B;
    let mut e = e.without_snippet();
    while let serde_saphyr::Error::AliasError { error, .. } = e {
        e = error.without_snippet();
    }
    let serde_saphyr::Error::Budget { breach, .. } = e else {
        return None;
    };
    let what = match breach {
        B::Nodes { nodes } => format!("more than {} values", nodes.saturating_sub(1)),
        B::Events { events } => format!("more than {} parser events", events.saturating_sub(1)),
        B::Aliases { aliases } => format!(
            "more than {} uses of anchors (*name)",
            aliases.saturating_sub(1)
        ),
        B::Anchors { anchors } => {
            format!("more than {} anchors (&name)", anchors.saturating_sub(1))
        }
        B::Depth { depth } => format!(
            "values nested more than {} levels deep",
            depth.saturating_sub(1)
        ),
        B::RecordedAnchorEvents { .. } | B::RecordedAnchorBytes { .. } => {
            "anchors (&name) that expand to too much when used (*name)".to_owned()
        }
        B::ScalarBytes { .. } => "more than 64 MiB of text".to_owned(),
        B::Documents { documents } => {
            format!("more than {} documents (---)", documents.saturating_sub(1))
        }
        B::MergeKeys { merge_keys } => {
            format!("more than {} merge keys (<<)", merge_keys.saturating_sub(1))
        }
        other => format!("{other:?}"),
    };
    Some(format!(
        "the YAML file is refused as unsafe to read: it has {what}"
    ))
}

fn line_of(text: &str, offset: usize) -> u64 {
    let upto = text.get(..offset).unwrap_or(text);
    u64::try_from(upto.bytes().filter(|&b| b == b'\n').count()).map_or(u64::MAX, |n| n + 1)
}

impl PolicyFile {
    /// Parses a TOML policy file.
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    /// let file = PolicyFile::from_toml_str("enabled = false")?;
    /// assert_eq!(file.enabled, Some(false));
    /// let err = PolicyFile::from_toml_str("[breakers.kafka]\nbogus = 1\n").unwrap_err();
    /// assert_eq!(err.key(), "breakers.kafka.bogus");
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            ConfigError::new("", format!("TOML syntax: {}", e.message().trim())).at_line(line)
        })?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let span = e.inner().span();
            let line = span.clone().map(|s| line_of(text, s.start));
            let message = e.inner().message().trim();
            let value = span.and_then(|s| text.get(s));
            let message =
                toml_datetime_message(message, value).unwrap_or_else(|| message.to_owned());
            path_error(e.path().to_string(), &message).at_line(line)
        })
    }

    /// Reads a policy file from a TOML value, e.g. a table embedded in another
    /// document; errors name paths relative to `value`.
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    /// let doc: toml::Table = toml::from_str("[policy.breakers.db]\nfailure_threshold = 0\n").unwrap();
    /// let file = PolicyFile::from_toml_value(doc["policy"].clone())?;
    /// let err = file.validate().unwrap_err();
    /// assert_eq!(err.key(), "breakers.db.failure_threshold");
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn from_toml_value(value: toml::Value) -> Result<Self, ConfigError> {
        serde_path_to_error::deserialize(value)
            .map_err(|e| path_error(e.path().to_string(), e.inner().message().trim()))
    }

    /// Parses a YAML policy file (same keys as TOML).
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    /// let file = PolicyFile::from_yaml_str("
    /// breakers:
    ///   kafka:
    ///     failure_threshold: 5
    ///     break_duration: 60s
    /// ")?;
    /// assert_eq!(file.breakers["kafka"].failure_threshold, Some(5));
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn from_yaml_str(text: &str) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut failed_at: Option<String> = None;
        let result =
            serde_saphyr::with_deserializer_from_str_with_options(text, yaml_options(text), |de| {
                serde_path_to_error::deserialize(de).map_err(|e| {
                    failed_at = Some(e.path().to_string());
                    e.into_inner()
                })
            });
        result.map_err(|e| {
            let line = e.location().map(|l| l.line()).filter(|&l| l > 0);
            if let Some(problem) = yaml_budget_problem(&e) {
                return ConfigError::new("", problem).at_line(line);
            }
            let message = e.without_snippet().to_string();
            // The line is reported separately.
            let message = match message.rfind(" at line ") {
                Some(at) => &message[..at],
                None => message.as_str(),
            };
            if let Some(rest) = message.trim().strip_prefix("duplicate mapping key: ") {
                let name = rest
                    .split(", set DuplicateKeyPolicy")
                    .next()
                    .unwrap_or(rest);
                let parent = failed_at
                    .as_deref()
                    .map(|p| p.trim_end_matches('?').trim_end_matches('.'))
                    .filter(|p| !p.is_empty() && *p != ".");
                let key = match parent {
                    Some(p) => format!("{p}.{name}"),
                    None => name.to_owned(),
                };
                return ConfigError::new(key, "is written twice in the same table: keep one")
                    .at_line(line);
            }
            match failed_at {
                Some(path) => path_error(path, message.trim()).at_line(line),
                None => {
                    ConfigError::new("", format!("YAML syntax: {}", message.trim())).at_line(line)
                }
            }
        })
    }

    /// Parses `text` in `format`.
    ///
    /// ```
    /// use steadfast_std::config::{Format, PolicyFile};
    /// let file = PolicyFile::from_str_as("enabled: true", Format::Yaml)?;
    /// assert_eq!(file.enabled, Some(true));
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn from_str_as(text: &str, format: Format) -> Result<Self, ConfigError> {
        match format {
            Format::Toml => Self::from_toml_str(text),
            Format::Yaml => Self::from_yaml_str(text),
        }
    }

    /// Reads a file, in the format its extension says (`.toml`, `.yaml`, `.yml`).
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    /// let path = std::env::temp_dir().join(format!("steadfast-doc-{}.yaml", std::process::id()));
    /// std::fs::write(&path, "default_timeout: 5s\n").unwrap();
    /// let file = PolicyFile::load(&path)?;
    /// assert_eq!(file.default_timeout.unwrap().to_string(), "5s");
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let format = Format::from_path(path).ok_or_else(|| {
            ConfigError::new(
                &shown,
                "unknown file extension (expected .toml, .yaml or .yml)",
            )
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&shown, format!("cannot read: {e}")))?;
        Self::from_str_as(&text, format).map_err(|mut e| {
            e.message = format!("{} (in {shown})", e.message);
            e
        })
    }
}

// ---- validation ------------------------------------------------------------

/// An integer key in `min..=T::MAX`, or an error naming it with the range.
fn int<T>(key: impl FnOnce() -> String, value: i64, min: T) -> Result<T, ConfigError>
where
    T: TryFrom<i64> + Into<u64> + Copy + num_bounds::Bounded,
{
    match T::try_from(value) {
        Ok(v) if v.into() >= min.into() => Ok(v),
        _ => {
            let (lo, hi): (u64, u64) = (min.into(), T::MAX_VALUE.into());
            debug_assert!(lo <= hi);
            Err(ConfigError::new(
                key(),
                if i128::from(value) < i128::from(lo) {
                    format!("must be at least {lo}, got {value}")
                } else {
                    format!("must be at most {hi}, got {value}")
                },
            ))
        }
    }
}

mod num_bounds {
    /// The largest value of an unsigned integer type.
    pub(super) trait Bounded {
        const MAX_VALUE: Self;
    }
    impl Bounded for u8 {
        const MAX_VALUE: Self = Self::MAX;
    }
    impl Bounded for u16 {
        const MAX_VALUE: Self = Self::MAX;
    }
    impl Bounded for u32 {
        const MAX_VALUE: Self = Self::MAX;
    }
}

fn check_name(section: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::new(
            format!("{section}.{name}"),
            "names may use only letters, digits, '_' and '-' (they become environment variable names)",
        ));
    }
    Ok(())
}

/// Maps a core `ConfigError` field of `breaker::Config` to the file's key.
fn breaker_key(field: &str) -> &str {
    match field {
        "failure_rate_percent" => "failure_rate",
        "slow_call_rate_percent" => "slow_call_rate",
        "window_duration" | "CountWindow::N" | "CountWindow::len" | "TimeWindow::K" => "window",
        "max_probes" => "half_open_probes",
        other => other,
    }
}

fn breaker_spec(path: &str, e: &BreakerEntry) -> Result<BreakerSpec, ConfigError> {
    let key = |k: &str| format!("{path}.{k}");
    let detector_kind = e.detector.unwrap_or_default();
    let mut c = breaker::Config::DEFAULT;

    let only = |present: bool, k: &str, kind: &str| {
        if present {
            Err(ConfigError::new(
                key(k),
                format!("only read by detector = \"{kind}\""),
            ))
        } else {
            Ok(())
        }
    };
    match detector_kind {
        DetectorKind::Consecutive => {
            only(e.window.is_some(), "window", "count\" or \"time")?;
            only(
                e.minimum_calls.is_some(),
                "minimum_calls",
                "count\" or \"time",
            )?;
            only(
                e.failure_rate.is_some(),
                "failure_rate",
                "count\" or \"time",
            )?;
            only(
                e.slow_call_rate.is_some(),
                "slow_call_rate",
                "count\" or \"time",
            )?;
        }
        DetectorKind::Count | DetectorKind::Time => {
            only(
                e.failure_threshold.is_some(),
                "failure_threshold",
                "consecutive",
            )?;
        }
    }

    if let Some(n) = e.failure_threshold {
        c = c.with_failure_threshold(int(|| key("failure_threshold"), n, 1u32)?);
    }
    if let Some(n) = e.minimum_calls {
        c = c.with_minimum_calls(int(|| key("minimum_calls"), n, 1u32)?);
    }
    if let Some(p) = e.failure_rate {
        c = c.with_failure_rate_percent(p.0);
    }
    if let Some(p) = e.slow_call_rate {
        c = c.with_slow_call_rate_percent(p.0);
    }
    if let Some(t) = e.slow_call_duration {
        c = c.with_slow_call_duration(t.0.unwrap_or(Duration::MAX));
    }
    if let Some(d) = e.break_duration {
        if d.0.is_zero() {
            return Err(ConfigError::new(
                key("break_duration"),
                "must be longer than zero, got \"0s\"",
            ));
        }
        // Also sets max_half_open_wait (default: the break) and lifts the cap.
        c = c.with_break_duration(d.0);
    }
    if let Some(m) = e.break_multiplier {
        c = c.with_break_multiplier(int(|| key("break_multiplier"), m, 1u16)?);
    }
    if let Some(d) = e.max_break_duration {
        if d.0 < c.break_duration() {
            return Err(ConfigError::new(
                key("max_break_duration"),
                format!(
                    "must not be shorter than break_duration ({}), got \"{d}\"",
                    HumanDuration(c.break_duration())
                ),
            ));
        }
        c = c.with_max_break_duration(d.0);
    }
    if let Some(n) = e.half_open_probes {
        let n = int(|| key("half_open_probes"), n, 1u16)?;
        c = c.with_max_probes(n);
        // The default success threshold (2) must not make a single probe invalid.
        if e.success_threshold.is_none() {
            c = c.with_success_threshold(c.success_threshold().min(n));
        }
    }
    if let Some(n) = e.success_threshold {
        let n = int(|| key("success_threshold"), n, 1u16)?;
        if n > c.max_probes() {
            return Err(ConfigError::new(
                key("success_threshold"),
                format!(
                    "must not exceed half_open_probes ({}), or half-open could never close; got {n}",
                    c.max_probes()
                ),
            ));
        }
        c = c.with_success_threshold(n);
    }
    if let Some(d) = e.max_half_open_wait {
        if d.0.is_zero() {
            return Err(ConfigError::new(
                key("max_half_open_wait"),
                "must be longer than zero, got \"0s\"",
            ));
        }
        c = c.with_max_half_open_wait(d.0);
    }
    if let Some(on) = e.metrics_only {
        c = c.with_metrics_only(on);
    }

    let detector = match detector_kind {
        DetectorKind::Consecutive => Detector::Consecutive,
        DetectorKind::Count => {
            let window = match e.window {
                None => 100,
                Some(Window::Calls(n)) => n,
                Some(Window::Span(d)) => {
                    return Err(ConfigError::new(
                        key("window"),
                        format!(
                            "detector = \"count\" takes a number of calls, got \"{}\" (use detector = \"time\" for a duration)",
                            HumanDuration(d)
                        ),
                    ));
                }
            };
            let window = u16::try_from(window)
                .ok()
                .filter(|&w| w >= 1 && u32::from(w) <= MAX_COUNT_WINDOW)
                .ok_or_else(|| {
                    ConfigError::new(
                        key("window"),
                        format!(
                            "must be 1..={MAX_COUNT_WINDOW} calls (the adapter's window storage), got {window}"
                        ),
                    )
                })?;
            Detector::Count { window }
        }
        DetectorKind::Time => {
            match e.window {
                None => {}
                Some(Window::Span(d)) => {
                    let min = TIME_WINDOW_BUCKETS as u64;
                    if d.as_micros() < min {
                        return Err(ConfigError::new(
                            key("window"),
                            format!(
                                "must be at least {min}us ({TIME_WINDOW_BUCKETS} buckets of 1us), got \"{}\"",
                                HumanDuration(d)
                            ),
                        ));
                    }
                    c = c.with_window_duration(d);
                }
                Some(Window::Calls(n)) => {
                    return Err(ConfigError::new(
                        key("window"),
                        format!(
                            "detector = \"time\" takes a duration such as \"60s\", got {n} (use detector = \"count\" for a number of calls)"
                        ),
                    ));
                }
            }
            Detector::Time
        }
    };

    // The core's own checks, as a backstop, on the storage the adapter uses.
    let checked = match detector {
        Detector::Consecutive => Breaker::<Consecutive>::new(c).map(|_| ()),
        Detector::Count { window } => CountStorage::with_len(usize::from(window))
            .and_then(|w| Breaker::with_window(c, w))
            .map(|_| ()),
        Detector::Time => Breaker::<TimeStorage>::new(c).map(|_| ()),
    };
    checked.map_err(|err| ConfigError::new(key(breaker_key(err.field)), err.problem))?;
    Ok(BreakerSpec {
        detector,
        config: c,
        critical: e.critical.unwrap_or(false),
    })
}

fn bulkhead_config(path: &str, e: &BulkheadEntry) -> Result<bulkhead::Config, ConfigError> {
    let d = bulkhead::Config::DEFAULT;
    let max_concurrent = match e.max_concurrent {
        Some(n) => int(|| format!("{path}.max_concurrent"), n, 1u32)?,
        None => d.max_concurrent(),
    };
    let max_queue = match e.max_queue {
        Some(n) => int(|| format!("{path}.max_queue"), n, 0u32)?,
        None => d.max_queue(),
    };
    let capacity = crate::bulkhead::QUEUE_CAPACITY;
    if u64::from(max_queue) > capacity as u64 {
        return Err(ConfigError::new(
            format!("{path}.max_queue"),
            format!("must be at most {capacity} (the adapter's queue storage), got {max_queue}"),
        ));
    }
    let config = bulkhead::Config::DEFAULT
        .with_max_concurrent(max_concurrent)
        .with_max_queue(max_queue)
        .with_max_wait(e.max_wait.map_or(d.max_wait(), |w| w.0));
    config
        .validate(capacity)
        .map(|()| config)
        .map_err(|err| ConfigError::new(format!("{path}.{}", err.field), err.problem))
}

fn ratelimit_config(
    path: &str,
    e: &RateLimitEntry,
) -> Result<steadfast::ratelimit::Config, ConfigError> {
    let d = steadfast::ratelimit::Config::default();
    let count = match e.count {
        Some(n) => int(|| format!("{path}.count"), n, 1u32)?,
        None => d.count(),
    };
    let period = e.period.map_or(d.period(), |p| p.0);
    let mut c = steadfast::ratelimit::Config::new().with_rate(count, period);
    if let Some(n) = e.burst {
        c = c.with_burst(int(|| format!("{path}.burst"), n, 1u32)?);
    }
    c.validate().map_err(|err| {
        let problem = match err.field {
            "period" => "must be at least one microsecond per call (`count` calls in it)",
            _ => err.problem,
        };
        ConfigError::new(format!("{path}.{}", err.field), problem)
    })?;
    Ok(c)
}

use crate::throttle::THROTTLE_BUCKETS;

fn throttle_config(
    path: &str,
    e: &ThrottleEntry,
) -> Result<steadfast::throttle::Config, ConfigError> {
    let mut c = steadfast::throttle::Config::new();
    if let Some(k) = e.k {
        c = c.with_k_permille(k.0);
    }
    if let Some(window) = e.window {
        c = c.with_window(window.0);
    }
    if let Some(max) = e.max_reject {
        if max.0 % 1_000 != 0 {
            return Err(ConfigError::new(
                format!("{path}.max_reject"),
                "at most one decimal (0.1%)",
            ));
        }
        c = c.with_max_reject_permille(max.0 / 1_000);
    }
    c.validate(THROTTLE_BUCKETS).map_err(|err| {
        let (key, problem) = match err.field {
            "k_permille" => ("k", "must be at least 1"),
            "window" => (
                "window",
                "must be at least 12 microseconds (12 time buckets)",
            ),
            "max_reject_permille" => ("max_reject", "must be at most 100%"),
            other => (other, err.problem),
        };
        ConfigError::new(format!("{path}.{key}"), problem)
    })?;
    Ok(c)
}

fn chaos_config(path: &str, e: &ChaosEntry) -> Result<steadfast::chaos::Config, ConfigError> {
    let rate = |r: Option<Rate>| r.map_or(0, |r| r.0);
    let mut c = steadfast::chaos::Config::DEFAULT
        .with_enabled(e.enabled.unwrap_or(false))
        .with_fault(rate(e.fault))
        .with_hang(rate(e.hang))
        .with_outcome(rate(e.outcome))
        .with_latency(
            rate(e.latency),
            e.delay.map_or(steadfast::time::Duration::ZERO, |d| d.0),
        );
    if let Some(start) = e.start {
        c = c.with_start(start.0);
    }
    match (e.every, e.active) {
        (Some(every), Some(active)) => c = c.with_window(every.0, active.0),
        (None, None) => {}
        (Some(_), None) => {
            return Err(ConfigError::new(
                format!("{path}.active"),
                "is needed with `every`: how long each window injects",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                format!("{path}.every"),
                "is needed with `active`: how often a window opens",
            ));
        }
    }
    c.validate().map_err(|err| {
        let key = match err.field {
            "window" => "active",
            other => other,
        };
        let problem = match err.field {
            "fault" | "hang" | "outcome" | "latency" if err.problem.starts_with("together") => {
                "together with the other faults (`fault`, `hang`, `outcome`) must be at most 100%"
            }
            "window" => "must be longer than zero and at most `every`",
            "delay" => "is needed when `latency` is above 0%: how long an attempt waits",
            _ => err.problem,
        };
        ConfigError::new(format!("{path}.{key}"), problem)
    })?;
    Ok(c)
}

fn budget_config(path: &str, e: &BudgetEntry) -> Result<AnyBudgetConfig, ConfigError> {
    let kind = e.kind.unwrap_or_default();
    let only = |present: bool, k: &str, kind: &str| {
        if present {
            Err(ConfigError::new(
                format!("{path}.{k}"),
                format!("only read by kind = \"{kind}\""),
            ))
        } else {
            Ok(())
        }
    };
    let window = e.window.is_some();
    let bucket_keys = [
        ("capacity", e.capacity.is_some()),
        ("retry_cost", e.retry_cost.is_some()),
        ("timeout_retry_cost", e.timeout_retry_cost.is_some()),
        ("success_increment", e.success_increment.is_some()),
    ];
    let grpc_keys = [
        ("max_tokens", e.max_tokens.is_some()),
        ("token_ratio", e.token_ratio.is_some()),
    ];
    if kind != BudgetKind::Ratio {
        only(e.ratio_permille.is_some(), "ratio_permille", "ratio")?;
        only(
            e.min_retries_per_sec.is_some(),
            "min_retries_per_sec",
            "ratio",
        )?;
        only(window, "window", "ratio")?;
    }
    if kind != BudgetKind::TokenBucket {
        for (k, present) in bucket_keys {
            only(present, k, "token_bucket")?;
        }
    }
    if kind != BudgetKind::Grpc {
        for (k, present) in grpc_keys {
            only(present, k, "grpc")?;
        }
    }
    let field = |err: steadfast::error::ConfigError| {
        ConfigError::new(format!("{path}.{}", err.field), err.problem)
    };
    match kind {
        BudgetKind::Ratio => ratio_budget_config(path, e).map(AnyBudgetConfig::Ratio),
        BudgetKind::TokenBucket => {
            let d = TokenBucketConfig::DEFAULT;
            let n = |v: Option<i64>, k: &str, default: u32, min: u32| match v {
                Some(n) => int(|| format!("{path}.{k}"), n, min),
                None => Ok(default),
            };
            let config = TokenBucketConfig::DEFAULT
                .with_capacity(n(e.capacity, "capacity", d.capacity(), 1)?)
                .with_retry_cost(n(e.retry_cost, "retry_cost", d.retry_cost(), 1)?)
                .with_timeout_retry_cost(n(
                    e.timeout_retry_cost,
                    "timeout_retry_cost",
                    d.timeout_retry_cost(),
                    1,
                )?)
                .with_no_retry_increment(n(
                    e.success_increment,
                    "success_increment",
                    d.no_retry_increment(),
                    0,
                )?);
            config.validate().map_err(field)?;
            Ok(AnyBudgetConfig::TokenBucket(config))
        }
        BudgetKind::Grpc => {
            let d = GrpcThrottleConfig::DEFAULT;
            let max = match e.max_tokens {
                Some(n) => int(|| format!("{path}.max_tokens"), n, 1u32)?,
                None => d.max_tokens(),
            };
            let config = GrpcThrottleConfig::DEFAULT
                .with_max_tokens(max)
                .with_token_ratio_milli(e.token_ratio.map_or(d.token_ratio_milli(), |r| r.0));
            config.validate().map_err(|err| {
                let key = match err.field {
                    "token_ratio_milli" => "token_ratio",
                    other => other,
                };
                ConfigError::new(format!("{path}.{key}"), err.problem)
            })?;
            Ok(AnyBudgetConfig::Grpc(config))
        }
    }
}

fn ratio_budget_config(path: &str, e: &BudgetEntry) -> Result<BudgetConfig, ConfigError> {
    let d = BudgetConfig::DEFAULT;
    let min = crate::budget::BUDGET_BUCKETS as u64;
    if let Some(w) = e.window
        && w.0.as_micros() < min
    {
        return Err(ConfigError::new(
            format!("{path}.window"),
            format!(
                "must be at least {min}us ({min} time buckets of at least 1us each), got \"{w}\""
            ),
        ));
    }
    let ratio = match e.ratio_permille {
        Some(n) => int(|| format!("{path}.ratio_permille"), n, 0u32)?,
        None => d.ratio_permille(),
    };
    let floor = match e.min_retries_per_sec {
        Some(n) => int(|| format!("{path}.min_retries_per_sec"), n, 0u32)?,
        None => d.min_retries_per_sec(),
    };
    let config = BudgetConfig::DEFAULT
        .with_ratio_permille(ratio)
        .with_min_retries_per_sec(floor)
        .with_window(e.window.map_or(d.window(), |w| w.0));
    config
        .validate()
        .map(|()| config)
        .map_err(|err| ConfigError::new(format!("{path}.{}", err.field), err.problem))
}

fn reference<T>(
    path: &str,
    k: &str,
    section: &str,
    name: &Option<String>,
    known: &BTreeMap<String, T>,
) -> Result<Option<String>, ConfigError> {
    let Some(name) = name else { return Ok(None) };
    if known.contains_key(name) {
        return Ok(Some(name.clone()));
    }
    let names: Vec<&str> = known.keys().map(String::as_str).collect();
    let known = if names.is_empty() {
        format!("there are no {section}")
    } else {
        format!("known: {}", names.join(", "))
    };
    Err(ConfigError::new(
        format!("{path}.{k}"),
        format!("no [{section}.{name}] entry ({known})"),
    ))
}

fn policy_spec(
    path: &str,
    e: &PolicyEntry,
    default_timeout: Option<Duration>,
    default_seed: Option<u64>,
    set: &PolicySet,
) -> Result<PolicySpec, ConfigError> {
    let key = |k: &str| format!("{path}.{k}");
    let breaker = reference(path, "breaker", "breakers", &e.breaker, &set.breakers)?;
    let bulkhead = reference(path, "bulkhead", "bulkheads", &e.bulkhead, &set.bulkheads)?;
    let budget = reference(path, "budget", "budgets", &e.budget, &set.budgets)?;
    let ratelimit = reference(
        path,
        "ratelimit",
        "ratelimits",
        &e.ratelimit,
        &set.ratelimits,
    )?;
    let throttle = reference(path, "throttle", "throttles", &e.throttle, &set.throttles)?;

    let defaults = Backoff::DEFAULT;
    let base = e.base_delay.map_or(defaults.base(), |d| d.0);
    let cap = e.max_delay.map_or(defaults.cap(), |d| d.0);
    if base > cap {
        // Name the key the user wrote: a lone `max_delay` below the default base is its own mistake.
        return Err(match e.base_delay {
            Some(_) => ConfigError::new(
                key("base_delay"),
                format!(
                    "must not exceed max_delay ({}), got \"{}\"",
                    HumanDuration(cap),
                    HumanDuration(base)
                ),
            ),
            None => ConfigError::new(
                key("max_delay"),
                format!(
                    "must not be shorter than base_delay ({}), got \"{}\"",
                    HumanDuration(base),
                    HumanDuration(cap)
                ),
            ),
        });
    }
    let backoff_kind = e.backoff.unwrap_or_default();
    if backoff_kind != BackoffKind::Exponential && e.multiplier.is_some() {
        return Err(ConfigError::new(
            key("multiplier"),
            "only read by backoff = \"exponential\"",
        ));
    }
    let kind = match backoff_kind {
        BackoffKind::Constant => Kind::Constant,
        BackoffKind::Linear => Kind::Linear { step: base },
        BackoffKind::Exponential => Kind::Exponential {
            factor: e.multiplier.map_or(Ratio::TWO, |m| m.0),
        },
    };
    let jitter = e.jitter.map_or(defaults.jitter(), |j| j.0);
    let backoff = Backoff::DEFAULT
        .with_kind(kind)
        .with_base(base)
        .with_cap(cap)
        .with_jitter(jitter);
    backoff.validate().map_err(|err| {
        let k = match err.field {
            "base" => "base_delay",
            "factor" => "multiplier",
            "jitter" => "jitter",
            _ => "backoff",
        };
        ConfigError::new(key(k), err.problem)
    })?;
    let max_attempts = match e.max_attempts {
        Some(Attempts::Limit(n)) => int(|| key("max_attempts"), n, 1u32)?,
        Some(Attempts::Unlimited) => retry::Config::UNLIMITED_ATTEMPTS,
        None => retry::Config::DEFAULT.max_attempts(),
    };
    let mut retry = retry::Config::DEFAULT
        .with_max_attempts(max_attempts)
        .with_backoff(backoff);
    retry
        .validate()
        .map_err(|err| ConfigError::new(key(err.field), err.problem))?;
    if let Some(cap) = e.max_retry_after {
        retry = retry.with_max_retry_after(cap.0);
    }
    if let Some(on) = e.retry_on_timeout {
        retry = retry.with_retry_on_timeout(on);
    }
    let attempt = e.attempt_timeout.map_or(default_timeout, |t| t.0);
    let total = e.total_timeout.and_then(|t| t.0);
    if retry.attempt_limit().is_none() && total.is_none() {
        return Err(ConfigError::new(
            key("max_attempts"),
            "\"unlimited\" needs a total_timeout: it is the only bound on the retries",
        ));
    }
    let pipeline = pipeline::Config::DEFAULT
        .with_retry(retry)
        .with_timeout(timeouts(attempt, total))
        .with_order(e.order.unwrap_or_default())
        .with_fallback(e.fallback.unwrap_or_default());
    Ok(PolicySpec {
        pipeline,
        breaker,
        bulkhead,
        budget,
        ratelimit,
        throttle,
        seed: e.seed.or(default_seed),
    })
}

impl PolicyFile {
    /// Checks every value and reference and builds the core configs. The error
    /// names the first bad key (sections in the order breakers, bulkheads,
    /// budgets, ratelimits, throttles, policies, then the rest; names
    /// alphabetically).
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    ///
    /// let err = PolicyFile::from_toml_str(r#"
    ///     [breakers.kafka]
    ///     half_open_probes = 2
    ///     success_threshold = 3
    /// "#)?.validate().unwrap_err();
    /// assert_eq!(err.key(), "breakers.kafka.success_threshold");
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn validate(&self) -> Result<PolicySet, ConfigError> {
        let mut set = PolicySet {
            enabled: self.enabled.unwrap_or(true),
            default_timeout: self
                .default_timeout
                .map_or(timeout::Config::DEFAULT.attempt(), |t| t.0),
            ..PolicySet::default()
        };
        for (name, entry) in &self.breakers {
            check_name("breakers", name)?;
            let spec = breaker_spec(&format!("breakers.{name}"), entry)?;
            set.breakers.insert(name.clone(), spec);
        }
        for (name, entry) in &self.bulkheads {
            check_name("bulkheads", name)?;
            let config = bulkhead_config(&format!("bulkheads.{name}"), entry)?;
            set.bulkheads.insert(name.clone(), config);
        }
        for (name, entry) in &self.budgets {
            check_name("budgets", name)?;
            let config = budget_config(&format!("budgets.{name}"), entry)?;
            set.budgets.insert(name.clone(), config);
        }
        for (name, entry) in &self.ratelimits {
            check_name("ratelimits", name)?;
            let config = ratelimit_config(&format!("ratelimits.{name}"), entry)?;
            set.ratelimits.insert(name.clone(), config);
        }
        for (name, entry) in &self.throttles {
            check_name("throttles", name)?;
            let config = throttle_config(&format!("throttles.{name}"), entry)?;
            set.throttles.insert(name.clone(), config);
        }
        for (name, entry) in &self.policies {
            check_name("policies", name)?;
            let spec = policy_spec(
                &format!("policies.{name}"),
                entry,
                set.default_timeout,
                self.seed,
                &set,
            )?;
            set.policies.insert(name.clone(), spec);
        }
        for (name, entry) in &self.caches {
            check_name("caches", name)?;
            let path = format!("caches.{name}");
            let capacity = match entry.capacity {
                Some(n) => int(|| format!("{path}.capacity"), n, 1u32)?,
                None => 1_000,
            };
            let max_staleness = entry
                .max_staleness
                .map_or(Duration::from_secs(300), |d| d.0);
            if max_staleness.is_zero() {
                return Err(ConfigError::new(
                    format!("{path}.max_staleness"),
                    "must be longer than zero (a value older than it is never served)",
                ));
            }
            set.caches.insert(
                name.clone(),
                CacheSpec {
                    capacity: capacity as usize,
                    max_staleness,
                },
            );
        }
        for (name, entry) in &self.chaos {
            check_name("chaos", name)?;
            let config = chaos_config(&format!("chaos.{name}"), entry)?;
            set.chaos.insert(name.clone(), config);
        }
        for (name, entry) in &self.adaptive_limits {
            check_name("adaptive_limits", name)?;
            let path = format!("adaptive_limits.{name}");
            let config = latency::adaptive_config(&path, entry)?;
            set.adaptive_limits.insert(name.clone(), config);
        }
        for (name, entry) in &self.hedges {
            check_name("hedges", name)?;
            let spec = latency::hedge_spec(&format!("hedges.{name}"), entry, &set.budgets)?;
            set.hedges.insert(name.clone(), spec);
        }
        Ok(set)
    }
}

impl PolicySet {
    /// Parses TOML, applies the process environment's `STEADFAST_*` overrides and
    /// validates: the usual one-liner of a service.
    ///
    /// ```
    /// use steadfast_std::config::PolicySet;
    /// let set = PolicySet::from_toml_with_env("[bulkheads.db]\nmax_concurrent = 4\n")?;
    /// assert_eq!(set.bulkheads["db"].max_concurrent(), 4);
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn from_toml_with_env(text: &str) -> Result<Self, ConfigError> {
        let mut file = PolicyFile::from_toml_str(text)?;
        let report = file.apply_env()?;
        Self::with_warnings(file.validate()?, report)
    }

    /// Like [`from_toml_with_env`](Self::from_toml_with_env), for YAML.
    ///
    /// ```
    /// use steadfast_std::config::PolicySet;
    /// let set = PolicySet::from_yaml_with_env("budgets:\n  api:\n    ratio_permille: 100\n")?;
    /// assert_eq!(set.budgets["api"], steadfast::retry::AnyBudgetConfig::Ratio(steadfast::retry::BudgetConfig::DEFAULT.with_ratio_permille(100)));
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn from_yaml_with_env(text: &str) -> Result<Self, ConfigError> {
        let mut file = PolicyFile::from_yaml_str(text)?;
        let report = file.apply_env()?;
        Self::with_warnings(file.validate()?, report)
    }

    /// Reads a file ([`PolicyFile::load`]), applies the environment, validates.
    ///
    /// ```
    /// use steadfast_std::config::PolicySet;
    /// let path = std::env::temp_dir().join(format!("steadfast-doc-set-{}.toml", std::process::id()));
    /// std::fs::write(&path, "[policies.api]\nmax_attempts = 2\n").unwrap();
    /// let set = PolicySet::load_with_env(&path)?;
    /// assert_eq!(set.policies["api"].pipeline.retry().max_attempts(), 2);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn load_with_env(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let mut file = PolicyFile::load(path)?;
        let report = file.apply_env()?;
        Self::with_warnings(file.validate()?, report)
    }

    fn with_warnings(mut self, report: EnvReport) -> Result<Self, ConfigError> {
        #[cfg(feature = "tracing")]
        for warning in &report.warnings {
            tracing::warn!(target: "steadfast", "ignored environment variable: {warning}");
        }
        self.warnings = report.warnings;
        Ok(self)
    }

    /// The pipeline config a policy runs with when [`enabled`](Self::enabled) is
    /// false: one attempt, no timeouts, no fallback — the call passes straight
    /// through (the registry also leaves out its bulkhead and budget and disables
    /// its breaker, which then only counts).
    ///
    /// ```
    /// use steadfast_std::config::PolicySet;
    /// let p = PolicySet::PASS_THROUGH;
    /// assert_eq!(p.retry().max_attempts(), 1);
    /// assert_eq!(p.timeout().attempt(), None);
    /// ```
    pub const PASS_THROUGH: pipeline::Config = pipeline::Config::DEFAULT
        .with_retry(retry::Config::DEFAULT.with_max_attempts(1))
        .with_timeout(timeout::Config::NONE)
        .with_fallback(FallbackOn::Never);
}

/// Timeouts from optional values: each `Some` sets one, `None` leaves it unset.
fn timeouts(attempt: Option<Duration>, total: Option<Duration>) -> timeout::Config {
    let mut config = timeout::Config::NONE;
    if let Some(attempt) = attempt {
        config = config.with_attempt(attempt);
    }
    if let Some(total) = total {
        config = config.with_total(total);
    }
    config
}
