//! The policy under test, read from a scenario's `[policy]` table in the std
//! adapter's policy-file format (`CONFIG_SCHEMA.md`) and resolved into the
//! core's configs.
//!
//! Parsing and validation are `steadfast_std::config`'s (one format, one set of
//! error messages); this module only picks the policy the simulated calls use
//! and maps the breaker's detector onto the window types the engine runs.

use steadfast::breaker;
use steadfast::bulkhead;
use steadfast::chaos;
use steadfast::pipeline;
use steadfast::ratelimit;
use steadfast::retry::{self, AnyBudgetConfig};
use steadfast::throttle;
use steadfast::time::Duration;
use steadfast::timeout;
use steadfast_std::config::{self, PolicyFile, PolicySpec};

/// The longest count window the simulator runs: the std adapter's
/// (`1..=128` calls, any length, as `config` validates).
pub const MAX_COUNT_WINDOW: usize = steadfast_std::breaker::MAX_COUNT_WINDOW;

/// Buckets of a time window (`TimeWindow<K>`): each covers `window / K`.
/// The std adapter's, so a time window judges the same in both.
pub const TIME_WINDOW_BUCKETS: usize = config::TIME_WINDOW_BUCKETS;

/// How the breaker detects a failing dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    /// `failure_threshold` failures in a row.
    Consecutive,
    /// Failure rate over the last `N` calls (`1..=`[`MAX_COUNT_WINDOW`]).
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
    pub pipeline: pipeline::Config,
    /// The breaker, if any.
    pub breaker: Option<BreakerPolicy>,
    /// The bulkhead, if any.
    pub bulkhead: Option<bulkhead::Config>,
    /// The retry budget, if any.
    pub budget: Option<AnyBudgetConfig>,
    /// The rate limiter a call passes before its pipeline starts, if any.
    pub rate_limit: Option<ratelimit::Config>,
    /// The adaptive throttle each attempt passes (a refused attempt ends its
    /// call, as a throttle layer under the retries does), if any.
    pub throttle: Option<throttle::Config>,
    /// The fault-injection drill each attempt passes, if any.
    pub chaos: Option<chaos::Config>,
    /// The adaptive concurrency limit each attempt takes a slot from (a
    /// refused attempt ends its call), if any.
    pub adaptive_limit: Option<steadfast::adaptive::Config>,
    /// The cached fallback calls are answered from when the pipeline decides
    /// a fallback answers, if any.
    pub cache: Option<config::CacheSpec>,
    /// Hedging of each attempt, if any.
    pub hedge: Option<HedgePolicy>,
}

/// A `[hedges.*]` entry: when each attempt starts another beside it, and
/// what pays for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HedgePolicy {
    /// Delay and cap.
    pub config: steadfast::hedge::Config,
    /// What the hedges spend from.
    pub budget: HedgeBudget,
}

/// The retry budget hedges spend from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HedgeBudget {
    /// None: every hedge the cap allows starts.
    Unlimited,
    /// The policy's own retry budget (the entry names the same budget).
    Policy,
    /// A budget of its own.
    Own(AnyBudgetConfig),
}

impl SimPolicy {
    /// Resolves the `[policies.<name>]` entry of a policy-file table (the only
    /// entry when `name` is `None`; a file without policies means the defaults
    /// with nothing shared). Parsing and validation are `steadfast_std::config`'s,
    /// so errors name the full key path exactly as the std adapter does.
    pub fn from_table(table: toml::Table, name: Option<&str>) -> Result<Self, String> {
        let set = PolicyFile::from_toml_value(toml::Value::Table(table))
            .and_then(|file| file.validate())
            .map_err(|e| e.to_string())?;
        let (name, spec) = match name {
            Some(n) => (
                n.to_owned(),
                set.policies
                    .get(n)
                    .cloned()
                    .ok_or_else(|| format!("policies.{n}: no such entry"))?,
            ),
            None => match set.policies.len() {
                0 => {
                    let mut spec = PolicySpec::default();
                    spec.pipeline = spec.pipeline.with_timeout(timeouts(
                        set.default_timeout,
                        spec.pipeline.timeout().total(),
                    ));
                    ("default".to_owned(), spec)
                }
                1 => set
                    .policies
                    .iter()
                    .next()
                    .map(|(n, e)| (n.clone(), e.clone()))
                    .ok_or("policies: empty")?,
                _ => return Err("policy_name: the file has several policies; name one".into()),
            },
        };
        if !set.enabled {
            // The global switch: calls go straight through.
            let retry = retry::Config::DEFAULT.with_max_attempts(1);
            return Ok(Self {
                name,
                pipeline: pipeline::Config::DEFAULT
                    .with_retry(retry)
                    .with_timeout(timeout::Config::NONE),
                breaker: None,
                bulkhead: None,
                budget: None,
                rate_limit: None,
                throttle: None,
                chaos: None,
                adaptive_limit: None,
                cache: None,
                hedge: None,
            });
        }
        let breaker = spec
            .breaker
            .as_ref()
            .map(|b| {
                let entry = set
                    .breakers
                    .get(b)
                    .ok_or_else(|| format!("policies.{name}.breaker: no [breakers.{b}]"))?;
                let detector = match entry.detector {
                    config::Detector::Consecutive => Detector::Consecutive,
                    config::Detector::Time => Detector::Time,
                    config::Detector::Count { window } => Detector::Count(usize::from(window)),
                };
                Ok::<_, String>(BreakerPolicy {
                    name: b.clone(),
                    detector,
                    config: entry.config,
                })
            })
            .transpose()?;
        let bulkhead = spec
            .bulkhead
            .as_ref()
            .map(|b| {
                set.bulkheads
                    .get(b)
                    .copied()
                    .ok_or_else(|| format!("policies.{name}.bulkhead: no [bulkheads.{b}]"))
            })
            .transpose()?;
        let budget = spec
            .budget
            .as_ref()
            .map(|b| {
                set.budgets
                    .get(b)
                    .copied()
                    .ok_or_else(|| format!("policies.{name}.budget: no [budgets.{b}]"))
            })
            .transpose()?;
        Ok(Self {
            name,
            pipeline: spec.pipeline,
            breaker,
            bulkhead,
            budget,
            rate_limit: None,
            throttle: None,
            chaos: None,
            adaptive_limit: None,
            cache: None,
            hedge: None,
        })
    }

    /// The machines a scenario names beside its policy, from the same
    /// policy-file table ([`Extras`]): each off when the file's `enabled` is
    /// false, a drill also unless its entry says `enabled = true` (as in
    /// steadfast-std).
    pub fn with_extras(mut self, table: toml::Table, names: Extras<'_>) -> Result<Self, String> {
        if names == Extras::default() {
            return Ok(self);
        }
        let set = PolicyFile::from_toml_value(toml::Value::Table(table))
            .and_then(|file| file.validate())
            .map_err(|e| e.to_string())?;
        let on = set.enabled;
        self.rate_limit = entry(
            &set.ratelimits,
            "rate_limit",
            "ratelimits",
            names.rate_limit,
        )?
        .filter(|_| on);
        self.throttle =
            entry(&set.throttles, "throttle", "throttles", names.throttle)?.filter(|_| on);
        self.adaptive_limit = entry(
            &set.adaptive_limits,
            "adaptive_limit",
            "adaptive_limits",
            names.adaptive_limit,
        )?
        .filter(|_| on);
        self.chaos = entry(&set.chaos, "chaos", "chaos", names.chaos)?
            .map(|c| c.with_enabled(on && c.enabled()));
        self.cache = entry(&set.caches, "cache", "caches", names.cache)?.filter(|_| on);
        let policy_budget = set.policies.get(&self.name).and_then(|p| p.budget.clone());
        self.hedge = entry(&set.hedges, "hedge", "hedges", names.hedge)?
            .filter(|_| on)
            .map(|spec| HedgePolicy {
                config: spec.config,
                budget: match &spec.budget {
                    None => HedgeBudget::Unlimited,
                    Some(b) if Some(b) == policy_budget.as_ref() => HedgeBudget::Policy,
                    Some(b) => set
                        .budgets
                        .get(b)
                        .copied()
                        .map_or(HedgeBudget::Unlimited, HedgeBudget::Own),
                },
            });
        Ok(self)
    }
}

/// The entries of a policy-file table a scenario names beside its policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extras<'a> {
    /// `[ratelimits.NAME]`: the rate limiter every call passes before its
    /// pipeline starts.
    pub rate_limit: Option<&'a str>,
    /// `[throttles.NAME]`: the adaptive throttle every attempt passes (a
    /// refused attempt ends its call, as a throttle layer under the retries).
    pub throttle: Option<&'a str>,
    /// `[adaptive_limits.NAME]`: the adaptive concurrency limit every
    /// attempt takes a slot from, given back with its round-trip time, or as
    /// a drop when it failed or timed out.
    pub adaptive_limit: Option<&'a str>,
    /// `[chaos.NAME]`: the fault-injection drill the core's
    /// [`Chaos`](steadfast::chaos::Chaos) machine decides before each attempt.
    pub chaos: Option<&'a str>,
    /// `[caches.NAME]`: the last good value per key, served when the
    /// pipeline decides a fallback answers.
    pub cache: Option<&'a str>,
    /// `[hedges.NAME]`: each attempt starts another beside it after the
    /// entry's delay, up to its cap, paid by its budget; the first success
    /// answers the attempt.
    pub hedge: Option<&'a str>,
}

/// The entry `name` of `map`, if a name is given; the error names the
/// scenario's `key` and the section it looked in.
fn entry<T: Clone>(
    map: &std::collections::BTreeMap<String, T>,
    key: &str,
    section: &str,
    name: Option<&str>,
) -> Result<Option<T>, String> {
    name.map(|n| {
        map.get(n)
            .cloned()
            .ok_or_else(|| format!("{key}: no [policy.{section}.{n}]"))
    })
    .transpose()
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
