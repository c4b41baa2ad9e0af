//! Environment overrides in the seeds' style: `STEADFAST_ENABLED`,
//! `STEADFAST_DEFAULT_TIMEOUT`, `STEADFAST_<NAME>_<KEY>`.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};

use super::{BreakerEntry, BudgetEntry, BulkheadEntry, ConfigError, PolicyEntry, PolicyFile};

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
    pub(super) const KEYS: [&'static str; 14] = [
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
    ];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "detector" => self.detector = Some(parse(raw)?),
            "failure_threshold" => self.failure_threshold = Some(parse(raw)?),
            "window" => self.window = Some(parse(raw)?),
            "minimum_calls" => self.minimum_calls = Some(parse(raw)?),
            "failure_rate" => self.failure_rate = Some(parse(raw)?),
            "slow_call_duration" => self.slow_call_duration = Some(parse(raw)?),
            "slow_call_rate" => self.slow_call_rate = Some(parse(raw)?),
            "break_duration" => self.break_duration = Some(parse(raw)?),
            "break_multiplier" => self.break_multiplier = Some(parse(raw)?),
            "max_break_duration" => self.max_break_duration = Some(parse(raw)?),
            "half_open_probes" => self.half_open_probes = Some(parse(raw)?),
            "success_threshold" => self.success_threshold = Some(parse(raw)?),
            "max_half_open_wait" => self.max_half_open_wait = Some(parse(raw)?),
            "metrics_only" => self.metrics_only = Some(flag(raw)?),
            _ => return Err(format!("unknown key `{key}`")),
        }
        Ok(())
    }
}

impl BulkheadEntry {
    /// Every key of `[bulkheads.NAME]`.
    pub(super) const KEYS: [&'static str; 3] = ["max_concurrent", "max_queue", "max_wait"];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "max_concurrent" => self.max_concurrent = Some(parse(raw)?),
            "max_queue" => self.max_queue = Some(parse(raw)?),
            "max_wait" => self.max_wait = Some(parse(raw)?),
            _ => return Err(format!("unknown key `{key}`")),
        }
        Ok(())
    }
}

impl BudgetEntry {
    /// Every key of `[budgets.NAME]`.
    pub(super) const KEYS: [&'static str; 3] = ["ratio_permille", "min_retries_per_sec", "window"];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "ratio_permille" => self.ratio_permille = Some(parse(raw)?),
            "min_retries_per_sec" => self.min_retries_per_sec = Some(parse(raw)?),
            "window" => self.window = Some(parse(raw)?),
            _ => return Err(format!("unknown key `{key}`")),
        }
        Ok(())
    }
}

impl PolicyEntry {
    /// Every key of `[policies.NAME]`.
    pub(super) const KEYS: [&'static str; 15] = [
        "breaker",
        "bulkhead",
        "budget",
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
    ];

    pub(super) fn set(&mut self, key: &str, raw: &str) -> Result<(), String> {
        match key {
            "breaker" => self.breaker = Some(name(raw)?),
            "bulkhead" => self.bulkhead = Some(name(raw)?),
            "budget" => self.budget = Some(name(raw)?),
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
            _ => return Err(format!("unknown key `{key}`")),
        }
        Ok(())
    }
}

/// `kafka-primary` → `KAFKA_PRIMARY`.
fn env_name(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// The sections an override can reach, as `(section, entry names, keys)`.
fn sections(file: &PolicyFile) -> [(&'static str, Vec<&str>, &'static [&'static str]); 4] {
    [
        (
            "breakers",
            file.breakers.keys().map(String::as_str).collect(),
            &BreakerEntry::KEYS,
        ),
        (
            "bulkheads",
            file.bulkheads.keys().map(String::as_str).collect(),
            &BulkheadEntry::KEYS,
        ),
        (
            "budgets",
            file.budgets.keys().map(String::as_str).collect(),
            &BudgetEntry::KEYS,
        ),
        (
            "policies",
            file.policies.keys().map(String::as_str).collect(),
            &PolicyEntry::KEYS,
        ),
    ]
}

impl PolicyFile {
    /// Applies the process environment's overrides (see
    /// [`apply_env_vars`](Self::apply_env_vars)).
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    /// let mut file = PolicyFile::from_toml_str("[breakers.doc_env_example]\n")?;
    /// file.apply_env()?; // no STEADFAST_DOC_ENV_EXAMPLE_* set: nothing changes
    /// assert_eq!(file.breakers["doc_env_example"].failure_threshold, None);
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
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
        self.apply_env_vars(vars)
    }

    /// Applies overrides from `vars` (name, value); names without the `STEADFAST_`
    /// prefix are skipped, the others applied in sorted order:
    ///
    /// * `STEADFAST_ENABLED=false` — the global switch (`true`/`false`/`1`/`0`);
    /// * `STEADFAST_DEFAULT_TIMEOUT=10s`;
    /// * `STEADFAST_<NAME>_<KEY>=value` — NAME is an entry's name upper-cased with
    ///   `-` → `_`, KEY a key upper-cased; it sets KEY in **every** section
    ///   (breakers, bulkheads, budgets, policies) that has an entry NAME with
    ///   that key.
    ///
    /// A variable that matches no entry and key, or whose value is invalid, is an
    /// error naming the variable. Cross-key checks happen in
    /// [`validate`](Self::validate), after the overrides.
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
    /// file.apply_env_vars([
    ///     ("STEADFAST_KAFKA_PRIMARY_FAILURE_THRESHOLD", "3"),
    ///     ("STEADFAST_KAFKA_PRIMARY_MAX_ATTEMPTS", "5"),
    ///     ("STEADFAST_ENABLED", "false"),
    ///     ("HOME", "/root"),
    /// ])?;
    /// let set = file.validate()?;
    /// assert_eq!(set.breakers["kafka-primary"].config.failure_threshold, 3);
    /// assert_eq!(set.policies["kafka-primary"].pipeline.retry.max_attempts(), 5);
    /// assert!(!set.enabled);
    ///
    /// let err = file.apply_env_vars([("STEADFAST_KAFKA_PRIMARY_FAILURE_RATE", "150")]).unwrap_err();
    /// assert_eq!(err.key(), "STEADFAST_KAFKA_PRIMARY_FAILURE_RATE");
    /// let err = file.apply_env_vars([("STEADFAST_REDIS_FAILURE_THRESHOLD", "3")]).unwrap_err();
    /// assert_eq!(err.key(), "STEADFAST_REDIS_FAILURE_THRESHOLD");
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    pub fn apply_env_vars<I, K, V>(&mut self, vars: I) -> Result<(), ConfigError>
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
        for (var, raw) in &vars {
            self.apply_one(var, raw)?;
        }
        Ok(())
    }

    fn apply_one(&mut self, var: &str, raw: &str) -> Result<(), ConfigError> {
        let suffix = var.strip_prefix(PREFIX).unwrap_or(var);
        match suffix {
            "ENABLED" => {
                self.enabled = Some(flag(raw).map_err(|m| ConfigError::new(var, m))?);
                return Ok(());
            }
            "DEFAULT_TIMEOUT" => {
                self.default_timeout = Some(parse(raw).map_err(|m| ConfigError::new(var, m))?);
                return Ok(());
            }
            _ => {}
        }

        // Every (name, key) split of the suffix that reaches at least one entry.
        let mut targets: Vec<(&'static str, String, &'static str)> = Vec::new();
        let mut names_seen: Vec<String> = Vec::new();
        for (section, names, keys) in sections(self) {
            for name in names {
                let upper = env_name(name);
                let Some(rest) = suffix
                    .strip_prefix(upper.as_str())
                    .and_then(|r| r.strip_prefix('_'))
                else {
                    continue;
                };
                names_seen.push(format!("{section}.{name}"));
                let key = rest.to_ascii_lowercase();
                if let Some(k) = keys.iter().find(|k| **k == key) {
                    targets.push((section, name.to_owned(), k));
                }
            }
        }
        // Entries of different sections share a split when NAME and KEY agree.
        let mut splits: Vec<(String, &str)> =
            targets.iter().map(|(_, n, k)| (env_name(n), *k)).collect();
        splits.sort();
        splits.dedup();
        if splits.len() > 1 {
            let list: Vec<String> = targets
                .iter()
                .map(|(s, n, k)| format!("{s}.{n}.{k}"))
                .collect();
            return Err(ConfigError::new(
                var,
                format!("ambiguous: could set any of {}", list.join(", ")),
            ));
        }
        if targets.is_empty() {
            let message = if names_seen.is_empty() {
                "no entry of breakers, bulkheads, budgets or policies has this name (expected STEADFAST_<NAME>_<KEY>, STEADFAST_ENABLED or STEADFAST_DEFAULT_TIMEOUT)".to_owned()
            } else {
                format!("no such key in {}", names_seen.join(", "))
            };
            return Err(ConfigError::new(var, message));
        }
        for (section, name, key) in targets {
            let result = match section {
                "breakers" => self.breakers.get_mut(&name).map(|e| e.set(key, raw)),
                "bulkheads" => self.bulkheads.get_mut(&name).map(|e| e.set(key, raw)),
                "budgets" => self.budgets.get_mut(&name).map(|e| e.set(key, raw)),
                _ => self.policies.get_mut(&name).map(|e| e.set(key, raw)),
            };
            if let Some(Err(message)) = result {
                return Err(ConfigError::new(
                    var,
                    format!("{message} (overriding {section}.{name}.{key})"),
                ));
            }
        }
        Ok(())
    }
}
