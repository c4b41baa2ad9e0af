//! Environment overrides: `STEADFAST_ENABLED`, `STEADFAST_DEFAULT_TIMEOUT`,
//! `STEADFAST_SEED`, `STEADFAST_<SECTION>_<NAME>_<KEY>` and, where it is
//! unique, `STEADFAST_<NAME>_<KEY>`.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};

use super::{
    AdaptiveLimitEntry, BreakerEntry, BudgetEntry, BulkheadEntry, CacheEntry, ChaosEntry,
    ConfigError, HedgeEntry, PolicyEntry, PolicyFile, RateLimitEntry, ThrottleEntry,
};

/// The prefix of every variable [`PolicyFile::apply_env`] reads.
const PREFIX: &str = "STEADFAST_";

/// A deserialization error from an environment value: just the message.
#[derive(Debug)]
struct EnvError(String);

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EnvError {}

impl de::Error for EnvError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// An environment value read the way a YAML scalar is: `true`/`false` are
/// booleans, whole numbers are integers, everything else is a string.
struct EnvValue<'a>(&'a str);

impl<'de> Deserializer<'de> for EnvValue<'_> {
    type Error = EnvError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, EnvError> {
        let t = self.0.trim();
        if t == "true" {
            visitor.visit_bool(true)
        } else if t == "false" {
            visitor.visit_bool(false)
        } else if let Ok(n) = t.parse::<u64>() {
            visitor.visit_u64(n)
        } else if let Ok(n) = t.parse::<i64>() {
            visitor.visit_i64(n)
        } else {
            visitor.visit_str(t)
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, EnvError> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, EnvError> {
        visitor.visit_enum(self.0.trim().into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

fn parse<T: DeserializeOwned>(raw: &str) -> Result<T, String> {
    T::deserialize(EnvValue(raw)).map_err(|e| e.0)
}

/// An integer key, read as the file reads it (range checks come in `validate`).
fn whole(raw: &str) -> Result<i64, String> {
    super::value::whole(EnvValue(raw))
        .map_err(|e| e.0)?
        .ok_or_else(|| "expected a whole number, got \"\"".to_owned())
}

/// A `seed`, read as the file reads it.
fn seed(raw: &str) -> Result<u64, String> {
    super::value::seed(EnvValue(raw))
        .map_err(|e| e.0)?
        .ok_or_else(|| "expected a whole number, got \"\"".to_owned())
}

fn name(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Err("expected a name, got \"\"".into());
    }
    Ok(t.to_owned())
}

fn flag(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(format!("expected true or false, got \"{other}\"")),
    }
}

impl BreakerEntry {
    /// Every key of `[breakers.NAME]`.
    pub(super) const KEYS: [&'static str; 15] = [
        "detector",
        "failure_threshold",
        "window",
        "minimum_calls",
        "failure_rate",
        "slow_call_duration",
        "slow_call_rate",
        "break_duration",
        "break_multiplier",
        "max_break_duration",
        "half_open_probes",
        "success_threshold",
        "max_half_open_wait",
        "metrics_only",
        "critical",
    ];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "detector" => self.detector = Some(parse(raw)?),
            "failure_threshold" => self.failure_threshold = Some(whole(raw)?),
            "window" => self.window = Some(parse(raw)?),
            "minimum_calls" => self.minimum_calls = Some(whole(raw)?),
            "failure_rate" => self.failure_rate = Some(parse(raw)?),
            "slow_call_duration" => self.slow_call_duration = Some(parse(raw)?),
            "slow_call_rate" => self.slow_call_rate = Some(parse(raw)?),
            "break_duration" => self.break_duration = Some(parse(raw)?),
            "break_multiplier" => self.break_multiplier = Some(whole(raw)?),
            "max_break_duration" => self.max_break_duration = Some(parse(raw)?),
            "half_open_probes" => self.half_open_probes = Some(whole(raw)?),
            "success_threshold" => self.success_threshold = Some(whole(raw)?),
            "max_half_open_wait" => self.max_half_open_wait = Some(parse(raw)?),
            "metrics_only" => self.metrics_only = Some(flag(raw)?),
            "critical" => self.critical = Some(flag(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl BulkheadEntry {
    /// Every key of `[bulkheads.NAME]`.
    pub(super) const KEYS: [&'static str; 3] = ["max_concurrent", "max_queue", "max_wait"];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "max_concurrent" => self.max_concurrent = Some(whole(raw)?),
            "max_queue" => self.max_queue = Some(whole(raw)?),
            "max_wait" => self.max_wait = Some(parse(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl BudgetEntry {
    /// Every key of `[budgets.NAME]`.
    pub(super) const KEYS: [&'static str; 10] = [
        "kind",
        "ratio_permille",
        "min_retries_per_sec",
        "window",
        "capacity",
        "retry_cost",
        "timeout_retry_cost",
        "success_increment",
        "max_tokens",
        "token_ratio",
    ];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "kind" => self.kind = Some(parse(raw)?),
            "capacity" => self.capacity = Some(whole(raw)?),
            "retry_cost" => self.retry_cost = Some(whole(raw)?),
            "timeout_retry_cost" => self.timeout_retry_cost = Some(whole(raw)?),
            "success_increment" => self.success_increment = Some(whole(raw)?),
            "max_tokens" => self.max_tokens = Some(whole(raw)?),
            "token_ratio" => self.token_ratio = Some(parse(raw)?),
            "ratio_permille" => self.ratio_permille = Some(whole(raw)?),
            "min_retries_per_sec" => self.min_retries_per_sec = Some(whole(raw)?),
            "window" => self.window = Some(parse(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl RateLimitEntry {
    /// Every key of `[ratelimits.NAME]`.
    pub(super) const KEYS: [&'static str; 3] = ["count", "period", "burst"];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "count" => self.count = Some(whole(raw)?),
            "period" => self.period = Some(parse(raw)?),
            "burst" => self.burst = Some(whole(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl ThrottleEntry {
    /// Every key of `[throttles.NAME]`.
    pub(super) const KEYS: [&'static str; 3] = ["k", "window", "max_reject"];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "k" => self.k = Some(parse(raw)?),
            "window" => self.window = Some(parse(raw)?),
            "max_reject" => self.max_reject = Some(parse(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl CacheEntry {
    /// Every key of `[caches.NAME]`.
    pub(super) const KEYS: [&'static str; 2] = ["capacity", "max_staleness"];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "capacity" => self.capacity = Some(whole(raw)?),
            "max_staleness" => self.max_staleness = Some(parse(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl ChaosEntry {
    /// Every key of `[chaos.NAME]`.
    pub(super) const KEYS: [&'static str; 9] = [
        "enabled", "fault", "hang", "outcome", "latency", "delay", "start", "every", "active",
    ];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "enabled" => self.enabled = Some(flag(raw)?),
            "fault" => self.fault = Some(parse(raw)?),
            "hang" => self.hang = Some(parse(raw)?),
            "outcome" => self.outcome = Some(parse(raw)?),
            "latency" => self.latency = Some(parse(raw)?),
            "delay" => self.delay = Some(parse(raw)?),
            "start" => self.start = Some(parse(raw)?),
            "every" => self.every = Some(parse(raw)?),
            "active" => self.active = Some(parse(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl PolicyEntry {
    /// Every key of `[policies.NAME]`.
    pub(super) const KEYS: [&'static str; 18] = [
        "breaker",
        "bulkhead",
        "budget",
        "ratelimit",
        "throttle",
        "max_attempts",
        "backoff",
        "base_delay",
        "max_delay",
        "multiplier",
        "jitter",
        "attempt_timeout",
        "total_timeout",
        "retry_on_timeout",
        "max_retry_after",
        "order",
        "fallback",
        "seed",
    ];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "breaker" => self.breaker = Some(name(raw)?),
            "bulkhead" => self.bulkhead = Some(name(raw)?),
            "budget" => self.budget = Some(name(raw)?),
            "ratelimit" => self.ratelimit = Some(name(raw)?),
            "throttle" => self.throttle = Some(name(raw)?),
            "max_attempts" => self.max_attempts = Some(parse(raw)?),
            "backoff" => self.backoff = Some(parse(raw)?),
            "base_delay" => self.base_delay = Some(parse(raw)?),
            "max_delay" => self.max_delay = Some(parse(raw)?),
            "multiplier" => self.multiplier = Some(parse(raw)?),
            "jitter" => self.jitter = Some(parse(raw)?),
            "attempt_timeout" => self.attempt_timeout = Some(parse(raw)?),
            "total_timeout" => self.total_timeout = Some(parse(raw)?),
            "retry_on_timeout" => self.retry_on_timeout = Some(flag(raw)?),
            "max_retry_after" => self.max_retry_after = Some(parse(raw)?),
            "order" => self.order = Some(parse(raw)?),
            "fallback" => self.fallback = Some(parse(raw)?),
            "seed" => self.seed = Some(seed(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl AdaptiveLimitEntry {
    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "algorithm" => self.algorithm = Some(parse(raw)?),
            "initial" => self.initial = Some(whole(raw)?),
            "min" => self.min = Some(whole(raw)?),
            "max" => self.max = Some(whole(raw)?),
            "backoff_permille" => self.backoff_permille = Some(whole(raw)?),
            "timeout" => self.timeout = Some(parse(raw)?),
            "alpha" => self.alpha = Some(whole(raw)?),
            "beta" => self.beta = Some(whole(raw)?),
            "smoothing_permille" => self.smoothing_permille = Some(whole(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

impl HedgeEntry {
    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "delay" => self.delay = Some(parse(raw)?),
            "percentile" => self.percentile = Some(whole(raw)?),
            "min_samples" => self.min_samples = Some(whole(raw)?),
            "fallback" => self.fallback = Some(parse(raw)?),
            "max_hedges" => self.max_hedges = Some(whole(raw)?),
            "budget" => self.budget = Some(name(raw)?),
            _ => return Err(format!("no key `{key}` here")),
        }
        Ok(())
    }
}

/// `kafka-primary` → `KAFKA_PRIMARY`.
fn env_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// The sections an override can reach: `(section, its variable word, keys)`.
const SECTIONS: [(&str, &str, &[&str]); 10] = [
    ("breakers", "BREAKERS", &BreakerEntry::KEYS),
    ("bulkheads", "BULKHEADS", &BulkheadEntry::KEYS),
    ("budgets", "BUDGETS", &BudgetEntry::KEYS),
    ("policies", "POLICIES", &PolicyEntry::KEYS),
    ("chaos", "CHAOS", &ChaosEntry::KEYS),
    ("ratelimits", "RATELIMITS", &RateLimitEntry::KEYS),
    ("throttles", "THROTTLES", &ThrottleEntry::KEYS),
    (
        "adaptive_limits",
        "ADAPTIVE_LIMITS",
        &AdaptiveLimitEntry::KEYS,
    ),
    ("hedges", "HEDGES", &HedgeEntry::KEYS),
    ("caches", "CACHES", &CacheEntry::KEYS),
];

/// What [`PolicyFile::apply_env_vars_with`] does with a `STEADFAST_` variable
/// that names no entry (`STEADFAST_LOG`, or an entry the file does not have).
///
/// ```
/// use steadfast_std::config::{PolicyFile, UnknownVars};
/// let mut file = PolicyFile::from_toml_str("[breakers.db]\n")?;
/// let report = file.apply_env_vars_with([("STEADFAST_LOG", "debug")], UnknownVars::Warn)?;
/// assert_eq!(report.warnings[0].key(), "STEADFAST_LOG");
/// let err = file.apply_env_vars_with([("STEADFAST_LOG", "debug")], UnknownVars::Deny).unwrap_err();
/// assert_eq!(err.key(), "STEADFAST_LOG");
/// # Ok::<(), steadfast_std::config::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UnknownVars {
    /// Skip it and list it in [`EnvReport::warnings`] (the default: other
    /// software may use the prefix too).
    #[default]
    Warn,
    /// Refuse it: strict mode, for deployments where every `STEADFAST_`
    /// variable is ours and a typo must stop the start.
    Deny,
}

/// What the environment changed.
///
/// ```
/// use steadfast_std::config::PolicyFile;
/// let mut file = PolicyFile::from_toml_str("[breakers.db]\n")?;
/// let report = file.apply_env_vars([("STEADFAST_DB_FAILURE_THRESHOLD", "3")])?;
/// assert_eq!(report.applied, [("STEADFAST_DB_FAILURE_THRESHOLD".to_owned(), "breakers.db.failure_threshold".to_owned())]);
/// assert!(report.warnings.is_empty());
/// # Ok::<(), steadfast_std::config::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvReport {
    /// `(variable, key path it set)`, in the order applied.
    pub applied: Vec<(String, String)>,
    /// Variables with the prefix that set nothing, each with the reason (worth
    /// a log line at start-up).
    pub warnings: Vec<ConfigError>,
}

/// Entries by section and variable name (`KAFKA_PRIMARY`): built once per
/// batch of variables, so each variable costs a few lookups, whatever the size
/// of the file.
struct Index<'a> {
    by_name: [HashMap<String, Vec<&'a str>>; 10],
}

#[cfg(test)]
thread_local! {
    /// Entry-name lookups and comparisons, counted for the cost test.
    pub(super) static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one entry-name lookup (tests only).
fn looked_up() {
    #[cfg(test)]
    LOOKUPS.with(|n| n.set(n.get() + 1));
}

/// An override's target: `(section index, entry name, key)`.
type Target<'a> = (usize, &'a str, &'static str);

impl<'a> Index<'a> {
    fn new(file: &'a PolicyFile) -> Self {
        let mut by_name: [HashMap<String, Vec<&'a str>>; 10] = Default::default();
        let names: [Vec<&'a str>; 10] = [
            file.breakers.keys().map(String::as_str).collect(),
            file.bulkheads.keys().map(String::as_str).collect(),
            file.budgets.keys().map(String::as_str).collect(),
            file.policies.keys().map(String::as_str).collect(),
            file.chaos.keys().map(String::as_str).collect(),
            file.ratelimits.keys().map(String::as_str).collect(),
            file.throttles.keys().map(String::as_str).collect(),
            file.adaptive_limits.keys().map(String::as_str).collect(),
            file.hedges.keys().map(String::as_str).collect(),
            file.caches.keys().map(String::as_str).collect(),
        ];
        for (map, names) in by_name.iter_mut().zip(names) {
            for name in names {
                looked_up();
                map.entry(env_name(name)).or_default().push(name);
            }
        }
        Self { by_name }
    }

    /// Every reading of `rest` as `NAME_KEY` in section `s`: pushes the targets
    /// (erring if two entries share the variable name) and reports whether some
    /// `NAME` matched at all.
    fn readings(
        &self,
        var: &str,
        s: usize,
        rest: &str,
        targets: &mut Vec<Target<'a>>,
    ) -> Result<bool, ConfigError> {
        let (section, _, keys) = SECTIONS[s];
        let mut named = false;
        for (at, _) in rest.match_indices('_') {
            looked_up();
            let Some(entries) = self.by_name[s].get(&rest[..at]) else {
                continue;
            };
            named = true;
            let key = rest[at + 1..].to_ascii_lowercase();
            let Some(key) = keys.iter().copied().find(|k| *k == key) else {
                continue;
            };
            if let [first, second, ..] = entries.as_slice() {
                return Err(ConfigError::new(
                    var,
                    format!(
                        "[{section}.{first}] and [{section}.{second}] have the same variable name: rename one of them"
                    ),
                ));
            }
            targets.push((s, entries[0], key));
        }
        Ok(named)
    }

    /// The one entry key `suffix` (the variable without `STEADFAST_`) sets,
    /// `Ok(None)` if it names no entry.
    fn resolve(&self, var: &str, suffix: &str) -> Result<Option<Target<'a>>, ConfigError> {
        let mut targets = Vec::new();
        let mut named = Vec::new();
        for (s, (section, word, _)) in SECTIONS.iter().enumerate() {
            if let Some(rest) = suffix.strip_prefix(word).and_then(|r| r.strip_prefix('_'))
                && self.readings(var, s, rest, &mut targets)?
            {
                named.push(*section);
            }
        }
        for (s, (section, _, _)) in SECTIONS.iter().enumerate() {
            if self.readings(var, s, suffix, &mut targets)? {
                named.push(*section);
            }
        }
        targets.sort_unstable();
        targets.dedup();
        match targets.as_slice() {
            [] if named.is_empty() => Ok(None),
            [] => {
                named.dedup();
                Err(ConfigError::new(
                    var,
                    format!(
                        "names an entry of {}, but no key of it",
                        named.join(" and ")
                    ),
                ))
            }
            [one] => Ok(Some(*one)),
            many => {
                let paths: Vec<String> = many
                    .iter()
                    .map(|(s, n, k)| format!("{}.{n}.{k}", SECTIONS[*s].0))
                    .collect();
                let qualified: Vec<String> = many
                    .iter()
                    .map(|(s, n, k)| {
                        format!(
                            "{PREFIX}{}_{}_{}",
                            SECTIONS[*s].1,
                            env_name(n),
                            k.to_ascii_uppercase()
                        )
                    })
                    .collect();
                Err(ConfigError::new(
                    var,
                    format!(
                        "ambiguous: could set {}; use {} instead",
                        paths.join(" or "),
                        qualified.join(" or ")
                    ),
                ))
            }
        }
    }
}

impl PolicyFile {
    /// Applies the process environment's overrides (see
    /// [`apply_env_vars`](Self::apply_env_vars)); unknown `STEADFAST_`
    /// variables are warnings.
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    /// let mut file = PolicyFile::from_toml_str("[breakers.doc_env_example]\n")?;
    /// file.apply_env()?; // no STEADFAST_DOC_ENV_EXAMPLE_* set: nothing changes
    /// assert_eq!(file.breakers["doc_env_example"].failure_threshold, None);
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn apply_env(&mut self) -> Result<EnvReport, ConfigError> {
        self.apply_env_with(UnknownVars::Warn)
    }

    /// [`apply_env`](Self::apply_env) with a choice about unknown variables
    /// ([`UnknownVars::Deny`]: strict mode).
    ///
    /// ```
    /// use steadfast_std::config::{PolicyFile, UnknownVars};
    /// let mut file = PolicyFile::from_toml_str("[breakers.doc_env_strict]\n")?;
    /// file.apply_env_with(UnknownVars::Warn)?;
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn apply_env_with(&mut self, unknown: UnknownVars) -> Result<EnvReport, ConfigError> {
        let mut vars = Vec::new();
        for (key, value) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            if !key.starts_with(PREFIX) {
                continue;
            }
            let Some(value) = value.to_str() else {
                return Err(ConfigError::new(key, "value is not valid UTF-8"));
            };
            vars.push((key.to_owned(), value.to_owned()));
        }
        self.apply_env_vars_with(vars, unknown)
    }

    /// Applies overrides from `vars` (name, value), unknown `STEADFAST_`
    /// variables as warnings: [`apply_env_vars_with`](Self::apply_env_vars_with)
    /// with [`UnknownVars::Warn`].
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    ///
    /// let mut file = PolicyFile::from_toml_str(r#"
    ///     [breakers.kafka-primary]
    ///     failure_threshold = 5
    ///     [policies.kafka-primary]
    ///     breaker = "kafka-primary"
    /// "#)?;
    /// let report = file.apply_env_vars([
    ///     ("STEADFAST_KAFKA_PRIMARY_FAILURE_THRESHOLD", "3"),
    ///     ("STEADFAST_POLICIES_KAFKA_PRIMARY_MAX_ATTEMPTS", "5"),
    ///     ("STEADFAST_ENABLED", "false"),
    ///     ("STEADFAST_LOG", "debug"),
    ///     ("HOME", "/root"),
    /// ])?;
    /// assert_eq!(report.warnings.len(), 1); // STEADFAST_LOG
    /// let set = file.validate()?;
    /// assert_eq!(set.breakers["kafka-primary"].config.failure_threshold(), 3);
    /// assert_eq!(set.policies["kafka-primary"].pipeline.retry().max_attempts(), 5);
    /// assert!(!set.enabled);
    ///
    /// let err = file.apply_env_vars([("STEADFAST_KAFKA_PRIMARY_FAILURE_RATE", "150")]).unwrap_err();
    /// assert_eq!(err.key(), "STEADFAST_KAFKA_PRIMARY_FAILURE_RATE");
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn apply_env_vars<I, K, V>(&mut self, vars: I) -> Result<EnvReport, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        self.apply_env_vars_with(vars, UnknownVars::Warn)
    }

    /// Applies overrides from `vars` (name, value); names without the
    /// `STEADFAST_` prefix are skipped, the others applied in sorted order:
    ///
    /// * `STEADFAST_ENABLED=false` — the global switch (`true`/`false`/`1`/`0`);
    /// * `STEADFAST_DEFAULT_TIMEOUT=10s`, `STEADFAST_SEED=42`;
    /// * `STEADFAST_<SECTION>_<NAME>_<KEY>=value` — SECTION is `BREAKERS`,
    ///   `BULKHEADS`, `BUDGETS` or `POLICIES`, NAME an entry's name upper-cased
    ///   with `-` → `_`, KEY a key upper-cased;
    /// * `STEADFAST_<NAME>_<KEY>=value` — the short form, when exactly one
    ///   entry key fits (a breaker and a budget both named `api` both have a
    ///   `window`: `STEADFAST_API_WINDOW` is an error that names both and the
    ///   section-qualified variables to use).
    ///
    /// Errors name the variable: an invalid value; a variable that could set
    /// two keys; two entries of one section whose names give the same variable
    /// (`kafka-primary`, `KAFKA_PRIMARY`); two variables setting one key; a
    /// variable naming an entry but none of its keys (a typo). A variable that
    /// names no entry at all (`STEADFAST_LOG`) is a warning in the report, or
    /// an error with [`UnknownVars::Deny`]. Cross-key checks happen in
    /// [`validate`](Self::validate), after the overrides.
    ///
    /// Each variable costs a few hash lookups (one per `_` in it), whatever the
    /// size of the file.
    ///
    /// ```
    /// use steadfast_std::config::{PolicyFile, UnknownVars};
    ///
    /// let mut file = PolicyFile::from_toml_str(r#"
    ///     [breakers.api]
    ///     detector = "count"
    ///     [budgets.api]
    /// "#)?;
    /// let err = file.apply_env_vars([("STEADFAST_API_WINDOW", "50")]).unwrap_err();
    /// assert!(err.message().contains("STEADFAST_BREAKERS_API_WINDOW or STEADFAST_BUDGETS_API_WINDOW"), "{err}");
    /// file.apply_env_vars_with([
    ///     ("STEADFAST_BREAKERS_API_WINDOW", "50"),
    ///     ("STEADFAST_BUDGETS_API_WINDOW", "50s"),
    /// ], UnknownVars::Deny)?;
    /// let set = file.validate()?;
    /// use steadfast::retry::{AnyBudgetConfig, BudgetConfig};
    /// let fifty = BudgetConfig::DEFAULT.with_window(steadfast::time::Duration::from_secs(50));
    /// assert_eq!(set.budgets["api"], AnyBudgetConfig::Ratio(fifty));
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn apply_env_vars_with<I, K, V>(
        &mut self,
        vars: I,
        unknown: UnknownVars,
    ) -> Result<EnvReport, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.as_ref().starts_with(PREFIX))
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        vars.sort();
        let mut report = EnvReport::default();
        let mut planned: Vec<(String, usize, String, &'static str, String)> = Vec::new();
        {
            let index = Index::new(self);
            let mut set_by: HashMap<Target<'_>, &str> = HashMap::new();
            for (var, raw) in &vars {
                let suffix = &var[PREFIX.len()..];
                if matches!(suffix, "ENABLED" | "DEFAULT_TIMEOUT" | "SEED") {
                    continue;
                }
                match index.resolve(var, suffix)? {
                    Some(target) => {
                        if let Some(other) = set_by.insert(target, var) {
                            let (s, n, k) = target;
                            return Err(ConfigError::new(
                                var.as_str(),
                                format!(
                                    "{other} sets {}.{n}.{k} too: keep one of them",
                                    SECTIONS[s].0
                                ),
                            ));
                        }
                        let (s, n, k) = target;
                        planned.push((var.clone(), s, n.to_owned(), k, raw.clone()));
                    }
                    None => {
                        let warning = ConfigError::new(
                            var.as_str(),
                            "names no entry of breakers, bulkheads, budgets, policies, chaos, ratelimits, throttles, adaptive_limits, hedges or caches (expected STEADFAST_<SECTION>_<NAME>_<KEY>, STEADFAST_<NAME>_<KEY>, STEADFAST_ENABLED, STEADFAST_DEFAULT_TIMEOUT or STEADFAST_SEED)",
                        );
                        match unknown {
                            UnknownVars::Warn => report.warnings.push(warning),
                            UnknownVars::Deny => return Err(warning),
                        }
                    }
                }
            }
        }
        for (var, raw) in &vars {
            let at = |m: String| ConfigError::new(var.as_str(), m);
            match &var[PREFIX.len()..] {
                "ENABLED" => self.enabled = Some(flag(raw).map_err(at)?),
                "DEFAULT_TIMEOUT" => self.default_timeout = Some(parse(raw).map_err(at)?),
                "SEED" => self.seed = Some(seed(raw).map_err(at)?),
                _ => continue,
            }
            let key = var[PREFIX.len()..].to_ascii_lowercase();
            report.applied.push((var.clone(), key));
        }
        for (var, s, name, key, raw) in planned {
            let section = SECTIONS[s].0;
            let result = match s {
                0 => self.breakers.get_mut(&name).map(|e| e.set(key, &raw)),
                1 => self.bulkheads.get_mut(&name).map(|e| e.set(key, &raw)),
                2 => self.budgets.get_mut(&name).map(|e| e.set(key, &raw)),
                3 => self.policies.get_mut(&name).map(|e| e.set(key, &raw)),
                4 => self.chaos.get_mut(&name).map(|e| e.set(key, &raw)),
                5 => self.ratelimits.get_mut(&name).map(|e| e.set(key, &raw)),
                6 => self.throttles.get_mut(&name).map(|e| e.set(key, &raw)),
                7 => self
                    .adaptive_limits
                    .get_mut(&name)
                    .map(|e| e.set(key, &raw)),
                8 => self.hedges.get_mut(&name).map(|e| e.set(key, &raw)),
                _ => self.caches.get_mut(&name).map(|e| e.set(key, &raw)),
            };
            if let Some(Err(message)) = result {
                return Err(ConfigError::new(
                    var,
                    format!("{message} (overriding {section}.{name}.{key})"),
                ));
            }
            report
                .applied
                .push((var, format!("{section}.{name}.{key}")));
        }
        Ok(report)
    }
}
