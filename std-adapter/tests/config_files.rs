//! Policy files read from disk, in both formats, with environment overrides:
//! what a service and the simulator do.

use std::path::PathBuf;

use sturdy::time::Duration;
use sturdy_std::config::{Detector, Format, PolicyFile, PolicySet};

/// A file in the temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("sturdy-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const SEEDS_TOML: &str = r#"
# The seeds' resilience.yaml, in sturdy's format.
[breakers.kafka_producer]
failure_threshold = 5
success_threshold = 2
break_duration = "60s"

[breakers.database]
failure_threshold = 5
success_threshold = 2
break_duration = "60s"

[breakers.redis]
failure_threshold = 3
success_threshold = 2
break_duration = "30s"

[policies.kafka_publish]
breaker = "kafka_producer"
max_attempts = 4
base_delay = "1s"
multiplier = "2"
max_delay = "30s"
attempt_timeout = "30s"
"#;

const SEEDS_YAML: &str = "
breakers:
  kafka_producer: { failure_threshold: 5, success_threshold: 2, break_duration: 60s }
  database: { failure_threshold: 5, success_threshold: 2, break_duration: 60s }
  redis: { failure_threshold: 3, success_threshold: 2, break_duration: 30s }
policies:
  kafka_publish:
    breaker: kafka_producer
    max_attempts: 4
    base_delay: 1s
    multiplier: 2
    max_delay: 30s
    attempt_timeout: 30s
";

#[test]
fn the_same_file_in_toml_and_yaml_loads_the_same() {
    let toml = TempFile::new("seeds.toml", SEEDS_TOML);
    let yaml = TempFile::new("seeds.yaml", SEEDS_YAML);
    let from_toml = PolicyFile::load(&toml.0)
        .expect("toml")
        .validate()
        .expect("valid");
    let from_yaml = PolicyFile::load(&yaml.0)
        .expect("yaml")
        .validate()
        .expect("valid");
    assert_eq!(from_toml, from_yaml);

    let redis = from_toml.breakers["redis"];
    assert_eq!(redis.detector, Detector::Consecutive);
    assert_eq!(redis.config.failure_threshold, 3);
    assert_eq!(redis.config.break_duration, Duration::from_secs(30));
    let publish = &from_toml.policies["kafka_publish"].pipeline;
    assert_eq!(publish.retry.max_attempts(), 4);
    assert_eq!(publish.retry.backoff().base(), Duration::from_secs(1));
    assert_eq!(publish.retry.backoff().cap(), Duration::from_secs(30));
}

#[test]
fn load_names_the_file_and_the_key() {
    let bad = TempFile::new(
        "bad.yml",
        "breakers:\n  redis:\n    failure_rate: 150\n    detector: count\n",
    );
    let err = PolicyFile::load(&bad.0)
        .and_then(|f| f.validate())
        .unwrap_err();
    assert_eq!(err.key(), "breakers.redis.failure_rate");
    assert!(
        err.to_string().contains("must be 1..=100, got 150"),
        "{err}"
    );
    assert!(err.to_string().contains("bad.yml"), "{err}");

    let err = PolicyFile::load("/nonexistent/sturdy.ini").unwrap_err();
    assert!(err.message().contains("extension"), "{err}");
    let err = PolicyFile::load("/nonexistent/sturdy.toml").unwrap_err();
    assert!(err.message().contains("cannot read"), "{err}");
}

#[test]
fn env_overrides_in_the_seeds_style() {
    let mut file = PolicyFile::from_str_as(SEEDS_YAML, Format::Yaml).expect("yaml");
    file.apply_env_vars([
        ("STURDY_REDIS_FAILURE_THRESHOLD", "2"),
        ("STURDY_KAFKA_PUBLISH_MAX_ATTEMPTS", "2"),
        ("STURDY_DEFAULT_TIMEOUT", "5s"),
        ("STURDY_ENABLED", "false"),
    ])
    .expect("overrides");
    let set: PolicySet = file.validate().expect("valid");
    assert!(!set.enabled);
    assert_eq!(set.default_timeout, Some(Duration::from_secs(5)));
    assert_eq!(set.breakers["redis"].config.failure_threshold, 2);
    assert_eq!(
        set.policies["kafka_publish"].pipeline.retry.max_attempts(),
        2
    );

    let err = file
        .apply_env_vars([("STURDY_MEMCACHED_FAILURE_THRESHOLD", "2")])
        .unwrap_err();
    assert_eq!(err.key(), "STURDY_MEMCACHED_FAILURE_THRESHOLD");
}

#[test]
fn a_policy_table_embedded_in_a_scenario_file() {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Scenario {
        seed: u64,
        policy: PolicyFile,
    }
    let scenario: Scenario = toml::from_str(&format!(
        "seed = 42\n{}",
        SEEDS_TOML
            .replace("[breakers.", "[policy.breakers.")
            .replace("[policies.", "[policy.policies.")
    ))
    .expect("scenario");
    assert_eq!(scenario.seed, 42);
    let set = scenario.policy.validate().expect("valid");
    assert_eq!(set.breakers.len(), 3);
}
