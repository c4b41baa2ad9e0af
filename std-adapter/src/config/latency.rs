//! `[adaptive_limits.NAME]` and `[hedges.NAME]`: the file's entries for the
//! core's [`adaptive`] and [`hedge`] machines.

use std::collections::BTreeMap;

use serde::Deserialize;
use steadfast::adaptive::{self, Algorithm};
use steadfast::hedge::{self, Delay};

use super::{ConfigError, HumanDuration, int, reference, value};

/// How an adaptive limit learns: the file's `algorithm`.
///
/// ```
/// use steadfast_std::config::AlgorithmKind;
/// assert_eq!(AlgorithmKind::default(), AlgorithmKind::Aimd);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmKind {
    /// Additive increase, multiplicative decrease ([`Algorithm::Aimd`]).
    #[default]
    Aimd,
    /// TCP Vegas: the estimated queue at the dependency ([`Algorithm::Vegas`]).
    Vegas,
}

/// `[adaptive_limits.NAME]` as written (defaults: the core's
/// [`adaptive::Config::DEFAULT`], AIMD).
///
/// ```
/// use steadfast_std::config::AdaptiveLimitEntry;
/// assert_eq!(AdaptiveLimitEntry::default().initial, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct AdaptiveLimitEntry {
    #[serde(default)]
    pub algorithm: Option<AlgorithmKind>,
    #[serde(default, deserialize_with = "value::whole")]
    pub initial: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub min: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub max: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub backoff_permille: Option<i64>,
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    #[serde(default, deserialize_with = "value::whole")]
    pub alpha: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub beta: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub smoothing_permille: Option<i64>,
}

/// `[hedges.NAME]` as written (defaults: the core's
/// [`hedge::Config::DEFAULT`]: one hedge after the p95 latency, no budget).
///
/// ```
/// use steadfast_std::config::HedgeEntry;
/// assert_eq!(HedgeEntry::default().max_hedges, None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
#[allow(missing_docs)]
pub struct HedgeEntry {
    #[serde(default)]
    pub delay: Option<HumanDuration>,
    #[serde(default, deserialize_with = "value::whole")]
    pub percentile: Option<i64>,
    #[serde(default, deserialize_with = "value::whole")]
    pub min_samples: Option<i64>,
    #[serde(default)]
    pub fallback: Option<HumanDuration>,
    #[serde(default, deserialize_with = "value::whole")]
    pub max_hedges: Option<i64>,
    #[serde(default)]
    pub budget: Option<String>,
}

/// A validated `[hedges.NAME]`: the core's settings and the retry budget
/// its hedges spend from, by name.
///
/// ```
/// use steadfast_std::config::PolicySet;
/// let set = PolicySet::from_toml_with_env("[budgets.b]\n[hedges.search]\ndelay = \"40ms\"\nbudget = \"b\"\n")?;
/// assert_eq!(set.hedges["search"].budget.as_deref(), Some("b"));
/// # Ok::<(), steadfast_std::config::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HedgeSpec {
    /// Delay and cap.
    pub config: hedge::Config,
    /// The `[budgets.NAME]` hedges spend from (none: unlimited).
    pub budget: Option<String>,
}

impl AdaptiveLimitEntry {
    /// Every key of `[adaptive_limits.NAME]`.
    pub(super) const KEYS: [&'static str; 9] = [
        "algorithm",
        "initial",
        "min",
        "max",
        "backoff_permille",
        "timeout",
        "alpha",
        "beta",
        "smoothing_permille",
    ];
}

impl HedgeEntry {
    /// Every key of `[hedges.NAME]`.
    pub(super) const KEYS: [&'static str; 6] = [
        "delay",
        "percentile",
        "min_samples",
        "fallback",
        "max_hedges",
        "budget",
    ];
}

/// A key the chosen variant would ignore: an error, as everywhere in the file.
fn unused(path: &str, key: &str, set: bool, problem: &str) -> Result<(), ConfigError> {
    if set {
        return Err(ConfigError::new(format!("{path}.{key}"), problem));
    }
    Ok(())
}

pub(super) fn adaptive_config(
    path: &str,
    e: &AdaptiveLimitEntry,
) -> Result<adaptive::Config, ConfigError> {
    let d = adaptive::Config::DEFAULT;
    let whole = |key: &str, v: Option<i64>, default: u32| match v {
        Some(n) => int(|| format!("{path}.{key}"), n, 0u32),
        None => Ok(default),
    };
    let permille = |key: &str, v: Option<i64>, default: u16| match v {
        Some(n) => int(|| format!("{path}.{key}"), n, 0u16),
        None => Ok(default),
    };
    let algorithm = match (
        e.algorithm.unwrap_or_default(),
        Algorithm::aimd(),
        Algorithm::vegas(),
    ) {
        (
            AlgorithmKind::Aimd,
            Algorithm::Aimd {
                backoff_permille,
                timeout,
            },
            _,
        ) => {
            let only = "applies to `algorithm = \"vegas\"` only";
            unused(path, "alpha", e.alpha.is_some(), only)?;
            unused(path, "beta", e.beta.is_some(), only)?;
            Algorithm::Aimd {
                backoff_permille: permille(
                    "backoff_permille",
                    e.backoff_permille,
                    backoff_permille,
                )?,
                timeout: e.timeout.map_or(timeout, |t| t.0),
            }
        }
        (
            AlgorithmKind::Vegas,
            _,
            Algorithm::Vegas {
                alpha,
                beta,
                backoff_permille,
            },
        ) => {
            let only = "applies to `algorithm = \"aimd\"` only (vegas has no timeout)";
            unused(path, "timeout", e.timeout.is_some(), only)?;
            Algorithm::Vegas {
                alpha: whole("alpha", e.alpha, alpha)?,
                beta: whole("beta", e.beta, beta)?,
                backoff_permille: permille(
                    "backoff_permille",
                    e.backoff_permille,
                    backoff_permille,
                )?,
            }
        }
        // The core's constructors build the variant they are named after.
        (_, aimd, _) => aimd,
    };
    let config = d
        .with_limits(
            whole("initial", e.initial, d.initial())?,
            whole("min", e.min, d.min())?,
            whole("max", e.max, d.max())?,
        )
        .with_algorithm(algorithm)
        .with_smoothing(permille(
            "smoothing_permille",
            e.smoothing_permille,
            d.smoothing(),
        )?);
    config
        .validate()
        .map(|()| config)
        .map_err(|err| ConfigError::new(format!("{path}.{}", err.field), err.problem))
}

pub(super) fn hedge_spec<T>(
    path: &str,
    e: &HedgeEntry,
    budgets: &BTreeMap<String, T>,
) -> Result<HedgeSpec, ConfigError> {
    let delay = match e.delay {
        Some(fixed) => {
            let only = "applies to a percentile delay only: remove `delay` to hedge after a latency percentile";
            unused(path, "percentile", e.percentile.is_some(), only)?;
            unused(path, "min_samples", e.min_samples.is_some(), only)?;
            unused(path, "fallback", e.fallback.is_some(), only)?;
            Delay::Fixed(fixed.0)
        }
        None => match hedge::Config::DEFAULT.delay() {
            Delay::Percentile {
                permille,
                min_samples,
                fallback,
            } => Delay::Percentile {
                permille: match e.percentile {
                    Some(n) => int(|| format!("{path}.percentile"), n, 0u16)?,
                    None => permille,
                },
                min_samples: match e.min_samples {
                    Some(n) => int(|| format!("{path}.min_samples"), n, 0u32)?,
                    None => min_samples,
                },
                fallback: e.fallback.map_or(fallback, |f| f.0),
            },
            fixed => fixed,
        },
    };
    let max_hedges = match e.max_hedges {
        Some(n) => int(|| format!("{path}.max_hedges"), n, 0u8)?,
        None => hedge::Config::DEFAULT.max_hedges(),
    };
    let config = hedge::Config::new()
        .with_delay(delay)
        .with_max_hedges(max_hedges);
    config
        .validate()
        .map_err(|err| ConfigError::new(format!("{path}.{}", err.field), err.problem))?;
    let budget = reference(path, "budget", "budgets", &e.budget, budgets)?;
    Ok(HedgeSpec { config, budget })
}
