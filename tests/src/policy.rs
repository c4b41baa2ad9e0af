//! The policy under test, read from a scenario's `[policy]` table in the std
//! adapter's policy-file format (`CONFIG_SCHEMA.md`) and resolved into the
//! core's configs.
//!
//! This is a minimal reader of the same keys, kept until `sturdy_std::config`
//! lands; it rejects unknown keys and names the full key path of a bad value.

use std::collections::BTreeMap;

use serde::Deserialize;
use sturdy::backoff::{Backoff, Jitter, Kind, Ratio};
use sturdy::breaker;
use sturdy::bulkhead;
use sturdy::error::ConfigError;
use sturdy::pipeline::{FallbackOn, Order, PipelineConfig};
use sturdy::retry::{BudgetConfig, RetryConfig};
use sturdy::time::Duration;
use sturdy::timeout::TimeoutConfig;

use crate::scenario::{parse_duration, parse_optional_duration};

/// Count-window sizes the simulator can run (each is a separate type,
/// `CountWindow<N>`, in the core).
pub const COUNT_WINDOW_SIZES: [usize; 8] = [10, 16, 20, 32, 50, 64, 100, 128];

/// Buckets of a time window (`TimeWindow<K>`): each covers `window / K`.
pub const TIME_WINDOW_BUCKETS: usize = 10;

/// How the breaker detects a failing dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    /// `failure_threshold` failures in a row.
    Consecutive,
    /// Failure rate over the last `N` calls (`N` one of [`COUNT_WINDOW_SIZES`]).
    Count(usize),
    /// Failure rate over a time window of [`TIME_WINDOW_BUCKETS`] buckets.
    Time,
}

/// A breaker entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// The `[breakers.*]` name.
    pub name: String,
    /// Detector.
    pub detector: Detector,
    /// Core config.
    pub config: breaker::Config,
}

/// A resolved policy: the pipeline and the shared machines its calls use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimPolicy {
    /// The `[policies.*]` name.
    pub name: String,
    /// Retry, timeouts, order, fallback.
    pub pipeline: PipelineConfig,
    /// The breaker, if any.
    pub breaker: Option<BreakerPolicy>,
    /// The bulkhead, if any.
    pub bulkhead: Option<bulkhead::Config>,
    /// The retry budget, if any.
    pub budget: Option<BudgetConfig>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    enabled: Option<bool>,
    default_timeout: Option<String>,
    #[serde(default)]
    breakers: BTreeMap<String, BreakerFile>,
    #[serde(default)]
    bulkheads: BTreeMap<String, BulkheadFile>,
    #[serde(default)]
    budgets: BTreeMap<String, BudgetFile>,
    #[serde(default)]
    policies: BTreeMap<String, PolicyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerFile {
    detector: Option<String>,
    failure_threshold: Option<u32>,
    window: Option<toml::Value>,
    minimum_calls: Option<u32>,
    failure_rate: Option<u8>,
    slow_call_duration: Option<String>,
    slow_call_rate: Option<u8>,
    break_duration: Option<String>,
    break_multiplier: Option<u32>,
    max_break_duration: Option<String>,
    half_open_probes: Option<u16>,
    success_threshold: Option<u16>,
    max_half_open_wait: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkheadFile {
    max_concurrent: Option<u32>,
    max_queue: Option<u32>,
    max_wait: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    ratio_permille: Option<u32>,
    min_retries_per_sec: Option<u32>,
    window: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyEntry {
    breaker: Option<String>,
    bulkhead: Option<String>,
    budget: Option<String>,
    max_attempts: Option<u32>,
    backoff: Option<String>,
    base_delay: Option<String>,
    max_delay: Option<String>,
    multiplier: Option<String>,
    jitter: Option<String>,
    attempt_timeout: Option<String>,
    total_timeout: Option<String>,
    retry_on_timeout: Option<bool>,
    max_retry_after: Option<String>,
    order: Option<String>,
    fallback: Option<String>,
}

/// `path: message` for a core config error, with the core's field name.
fn core_err(path: &str, e: ConfigError) -> String {
    format!("{path}: {} {}", e.field, e.problem)
}

fn dur(
    path: &str,
    key: &str,
    value: Option<&String>,
    default: Duration,
) -> Result<Duration, String> {
    value.map_or(Ok(default), |v| {
        parse_duration(v).map_err(|e| format!("{path}.{key}: {e}"))
    })
}

impl SimPolicy {
    /// Resolves the `[policies.<name>]` entry of a policy-file table (the only
    /// entry when `name` is `None`; an empty file means the defaults with
    /// nothing shared).
    pub fn from_table(table: toml::Table, name: Option<&str>) -> Result<Self, String> {
        let file: PolicyFile = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        let default_timeout = match &file.default_timeout {
            Some(t) => parse_optional_duration(t).map_err(|e| format!("default_timeout: {e}"))?,
            None => Some(Duration::from_secs(30)),
        };
        let (name, entry) = match name {
            Some(n) => (
                n.to_owned(),
                file.policies
                    .get(n)
                    .ok_or_else(|| format!("policies.{n}: no such entry"))?,
            ),
            None => match file.policies.len() {
                0 => ("default".to_owned(), &PolicyEntry::default()),
                1 => file
                    .policies
                    .iter()
                    .next()
                    .map(|(n, e)| (n.clone(), e))
                    .ok_or("policies: empty")?,
                _ => return Err("policy_name: the file has several policies; name one".into()),
            },
        };
        if file.enabled == Some(false) {
            // The global switch: calls go straight through.
            let retry = RetryConfig::DEFAULT
                .with_max_attempts(1)
                .map_err(|e| core_err("enabled", e))?;
            return Ok(Self {
                name,
                pipeline: PipelineConfig::DEFAULT
                    .with_retry(retry)
                    .with_timeout(TimeoutConfig::NONE),
                breaker: None,
                bulkhead: None,
                budget: None,
            });
        }
        let path = format!("policies.{name}");
        let pipeline = resolve_pipeline(&path, entry, default_timeout)?;
        let breaker = entry
            .breaker
            .as_ref()
            .map(|b| {
                let spec = file
                    .breakers
                    .get(b)
                    .ok_or_else(|| format!("{path}.breaker: no [breakers.{b}]"))?;
                resolve_breaker(b, spec)
            })
            .transpose()?;
        let bulkhead = entry
            .bulkhead
            .as_ref()
            .map(|b| {
                let spec = file
                    .bulkheads
                    .get(b)
                    .ok_or_else(|| format!("{path}.bulkhead: no [bulkheads.{b}]"))?;
                let p = format!("bulkheads.{b}");
                let d = bulkhead::Config::DEFAULT;
                bulkhead::Config::new(
                    spec.max_concurrent.unwrap_or(d.max_concurrent),
                    spec.max_queue.unwrap_or(d.max_queue),
                    dur(&p, "max_wait", spec.max_wait.as_ref(), d.max_wait)?,
                )
                .map_err(|e| core_err(&p, e))
            })
            .transpose()?;
        let budget = entry
            .budget
            .as_ref()
            .map(|b| {
                let spec = file
                    .budgets
                    .get(b)
                    .ok_or_else(|| format!("{path}.budget: no [budgets.{b}]"))?;
                let p = format!("budgets.{b}");
                let d = BudgetConfig::DEFAULT;
                BudgetConfig::new(
                    spec.ratio_permille.unwrap_or(d.ratio_permille()),
                    spec.min_retries_per_sec.unwrap_or(d.min_retries_per_sec()),
                    dur(&p, "window", spec.window.as_ref(), d.window())?,
                )
                .map_err(|e| core_err(&p, e))
            })
            .transpose()?;
        Ok(Self {
            name,
            pipeline,
            breaker,
            bulkhead,
            budget,
        })
    }
}

fn resolve_pipeline(
    path: &str,
    entry: &PolicyEntry,
    default_timeout: Option<Duration>,
) -> Result<PipelineConfig, String> {
    let d = Backoff::DEFAULT;
    let base = dur(path, "base_delay", entry.base_delay.as_ref(), d.base())?;
    let cap = dur(path, "max_delay", entry.max_delay.as_ref(), d.cap())?;
    let factor = match &entry.multiplier {
        None => Ratio::integer(2),
        Some(m) => {
            let (num, den) = m.split_once('/').unwrap_or((m, "1"));
            let parse = |s: &str| {
                s.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("{path}.multiplier: `{m}` is not \"num/den\" or \"num\""))
            };
            Ratio::new(parse(num)?, parse(den)?)
        }
    }
    .map_err(|e| core_err(&format!("{path}.multiplier"), e))?;
    let kind = match entry.backoff.as_deref() {
        None | Some("exponential") => Kind::Exponential { factor },
        Some("constant") => Kind::Constant,
        Some("linear") => Kind::Linear { step: base },
        Some(other) => {
            return Err(format!(
                "{path}.backoff: must be \"constant\", \"linear\" or \"exponential\", got {other:?}"
            ));
        }
    };
    let jitter = match entry.jitter.as_deref() {
        None => d.jitter(),
        Some("none") => Jitter::None,
        Some("full") => Jitter::Full,
        Some("equal") => Jitter::Equal,
        Some("decorrelated") => Jitter::Decorrelated,
        Some(other) => match other.strip_prefix("proportional:").map(str::parse::<u8>) {
            Some(Ok(percent)) => Jitter::Proportional { percent },
            _ => {
                return Err(format!(
                    "{path}.jitter: must be none, full, equal, decorrelated or proportional:N, got {other:?}"
                ));
            }
        },
    };
    let cap = if matches!(kind, Kind::Constant) {
        base
    } else {
        cap
    };
    let backoff = Backoff::new(kind, base, cap, jitter).map_err(|e| core_err(path, e))?;
    let mut retry = RetryConfig::new(entry.max_attempts.unwrap_or(3), backoff)
        .map_err(|e| core_err(path, e))?;
    if let Some(r) = &entry.max_retry_after {
        retry = retry.with_max_retry_after(
            parse_duration(r).map_err(|e| format!("{path}.max_retry_after: {e}"))?,
        );
    }
    if let Some(r) = entry.retry_on_timeout {
        retry = retry.with_retry_on_timeout(r);
    }
    let optional = |key: &str, v: Option<&String>, default: Option<Duration>| {
        v.map_or(Ok(default), |v| {
            parse_optional_duration(v).map_err(|e| format!("{path}.{key}: {e}"))
        })
    };
    let attempt = optional(
        "attempt_timeout",
        entry.attempt_timeout.as_ref(),
        default_timeout,
    )?;
    let total = optional("total_timeout", entry.total_timeout.as_ref(), None)?;
    let order = match entry.order.as_deref() {
        None | Some("standard") => Order::Standard,
        Some("bulkhead_outermost") => Order::BulkheadOutermost,
        Some(other) => {
            return Err(format!(
                "{path}.order: must be \"standard\" or \"bulkhead_outermost\", got {other:?}"
            ));
        }
    };
    let fallback = match entry.fallback.as_deref() {
        None | Some("never") => FallbackOn::Never,
        Some("rejection") => FallbackOn::Rejection,
        Some("any_failure") => FallbackOn::AnyFailure,
        Some(other) => {
            return Err(format!(
                "{path}.fallback: must be \"never\", \"rejection\" or \"any_failure\", got {other:?}"
            ));
        }
    };
    Ok(PipelineConfig::DEFAULT
        .with_retry(retry)
        .with_timeout(TimeoutConfig::new(attempt, total))
        .with_order(order)
        .with_fallback(fallback))
}

fn resolve_breaker(name: &str, spec: &BreakerFile) -> Result<BreakerPolicy, String> {
    let path = format!("breakers.{name}");
    let mut config = breaker::Config::new();
    let detector = match spec.detector.as_deref() {
        None | Some("consecutive") => Detector::Consecutive,
        Some("count") => {
            let n = match &spec.window {
                None => 100,
                Some(toml::Value::Integer(n)) => usize::try_from(*n).unwrap_or(0),
                Some(other) => {
                    return Err(format!(
                        "{path}.window: count mode needs a number of calls, got {other}"
                    ));
                }
            };
            if !COUNT_WINDOW_SIZES.contains(&n) {
                return Err(format!(
                    "{path}.window: the simulator runs count windows of {COUNT_WINDOW_SIZES:?} calls, got {n}"
                ));
            }
            Detector::Count(n)
        }
        Some("time") => {
            config.window_duration = match &spec.window {
                None => config.window_duration,
                Some(toml::Value::String(s)) => {
                    parse_duration(s).map_err(|e| format!("{path}.window: {e}"))?
                }
                Some(other) => {
                    return Err(format!(
                        "{path}.window: time mode needs a duration like \"60s\", got {other}"
                    ));
                }
            };
            Detector::Time
        }
        Some(other) => {
            return Err(format!(
                "{path}.detector: must be \"consecutive\", \"count\" or \"time\", got {other:?}"
            ));
        }
    };
    if let Some(v) = spec.failure_threshold {
        config.failure_threshold = v;
    }
    if let Some(v) = spec.minimum_calls {
        config.minimum_calls = v;
    }
    if let Some(v) = spec.failure_rate {
        config.failure_rate_percent = v;
    }
    if let Some(v) = spec.slow_call_rate {
        config.slow_call_rate_percent = v;
    }
    config.slow_call_duration = dur(
        &path,
        "slow_call_duration",
        spec.slow_call_duration.as_ref(),
        Duration::MAX,
    )?;
    config.break_duration = dur(
        &path,
        "break_duration",
        spec.break_duration.as_ref(),
        config.break_duration,
    )?;
    config.max_half_open_wait = dur(
        &path,
        "max_half_open_wait",
        spec.max_half_open_wait.as_ref(),
        config.break_duration,
    )?;
    config.break_multiplier = spec.break_multiplier.unwrap_or(config.break_multiplier);
    config.max_break_duration = dur(
        &path,
        "max_break_duration",
        spec.max_break_duration.as_ref(),
        config.max_break_duration.max(config.break_duration),
    )?;
    if let Some(v) = spec.half_open_probes {
        config.max_probes = v;
    }
    if let Some(v) = spec.success_threshold {
        config.success_threshold = v;
    }
    // The detector's own fields are checked when a breaker of its type is built.
    let checked = match detector {
        Detector::Consecutive => breaker::Breaker::<breaker::Consecutive>::new(config).map(drop),
        Detector::Count(_) => breaker::Breaker::<breaker::CountWindow<10>>::new(config).map(drop),
        Detector::Time => {
            breaker::Breaker::<breaker::TimeWindow<TIME_WINDOW_BUCKETS>>::new(config).map(drop)
        }
    };
    checked.map_err(|e| core_err(&path, e))?;
    Ok(BreakerPolicy {
        name: name.to_owned(),
        detector,
        config,
    })
}
