//! Policy files read from disk, in both formats, with environment overrides:
//! what a service and the simulator do.

use std::path::PathBuf;

use steadfast::time::Duration;
use steadfast_std::config::{Detector, Format, PolicyFile, PolicySet};

/// A file in the temp dir, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("steadfast-{}-{name}", std::process::id()));
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
# The seeds' resilience.yaml, in steadfast's format.
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
    assert_eq!(redis.config.failure_threshold(), 3);
    assert_eq!(redis.config.break_duration(), Duration::from_secs(30));
    let publish = &from_toml.policies["kafka_publish"].pipeline;
    assert_eq!(publish.retry().max_attempts(), 4);
    assert_eq!(publish.retry().backoff().base(), Duration::from_secs(1));
    assert_eq!(publish.retry().backoff().cap(), Duration::from_secs(30));
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

    let err = PolicyFile::load("/nonexistent/steadfast.ini").unwrap_err();
    assert!(err.message().contains("extension"), "{err}");
    let err = PolicyFile::load("/nonexistent/steadfast.toml").unwrap_err();
    assert!(err.message().contains("cannot read"), "{err}");
}

#[test]
fn env_overrides_in_the_seeds_style() {
    let mut file = PolicyFile::from_str_as(SEEDS_YAML, Format::Yaml).expect("yaml");
    file.apply_env_vars([
        ("STEADFAST_REDIS_FAILURE_THRESHOLD", "2"),
        ("STEADFAST_KAFKA_PUBLISH_MAX_ATTEMPTS", "2"),
        ("STEADFAST_DEFAULT_TIMEOUT", "5s"),
        ("STEADFAST_ENABLED", "false"),
    ])
    .expect("overrides");
    let set: PolicySet = file.validate().expect("valid");
    assert!(!set.enabled);
    assert_eq!(set.default_timeout, Some(Duration::from_secs(5)));
    assert_eq!(set.breakers["redis"].config.failure_threshold(), 2);
    assert_eq!(
        set.policies["kafka_publish"]
            .pipeline
            .retry()
            .max_attempts(),
        2
    );

    let report = file
        .apply_env_vars([("STEADFAST_MEMCACHED_FAILURE_THRESHOLD", "2")])
        .unwrap();
    assert_eq!(
        report.warnings[0].key(),
        "STEADFAST_MEMCACHED_FAILURE_THRESHOLD"
    );
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

/// The policy file shown in the README is a valid one.
#[test]
fn the_readme_example_is_valid() {
    let readme = include_str!("../../README.md");
    let start = readme.find("### Configure it").expect("README section");
    let block = &readme[start..];
    let body = &block[block.find("```toml\n").expect("toml block") + 8..];
    let body = &body[..body.find("```").expect("end of block")];
    let set = PolicyFile::from_toml_str(body)
        .and_then(|file| file.validate())
        .unwrap_or_else(|e| panic!("README config: {e}"));
    assert!(set.policies.contains_key("kafka"));
}

/// The config fuzz target's seed inputs (`fuzz/corpus/config/`), read as it reads
/// them: the first byte picks the format (even: TOML, odd: YAML), the rest is the
/// file. Whatever validates must build.
#[test]
fn the_config_fuzz_corpus_validates_only_what_the_machines_build() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/config");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/corpus/config") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let Some((&selector, rest)) = bytes.split_first() else {
            continue;
        };
        seen += 1;
        let text = String::from_utf8_lossy(rest);
        let format = if selector & 1 == 0 {
            Format::Toml
        } else {
            Format::Yaml
        };
        let Ok(file) = PolicyFile::from_str_as(&text, format) else {
            continue;
        };
        let Ok(set) = file.validate() else { continue };
        for (name, config) in &set.budgets {
            steadfast_std::SharedBudget::of(*config)
                .unwrap_or_else(|e| panic!("{text:?}: validated budget {name} refused: {e}"));
        }
        for (name, config) in &set.bulkheads {
            steadfast_std::SharedBulkhead::new(name.as_str(), *config)
                .unwrap_or_else(|e| panic!("{text:?}: validated bulkhead {name} refused: {e}"));
        }
    }
    assert!(seen > 0, "no corpus inputs in {dir}");
}

/// The retry delays one always-failing call draws through policy `p` of a
/// registry built from `text` (a fresh registry: one replica of a service).
#[cfg(feature = "tokio")]
async fn replica_delays(text: &str) -> Vec<Duration> {
    use std::sync::{Arc, Mutex};
    use steadfast::pipeline::Event;
    use steadfast_std::Observer;
    use steadfast_std::registry::Registry;

    #[derive(Default)]
    struct Delays(Mutex<Vec<Duration>>);
    impl Observer for Delays {
        fn on_event(&self, _: &str, _: Option<&str>, event: &Event) {
            if let Event::Retry { delay, .. } = event {
                self.0.lock().unwrap().push(*delay);
            }
        }
    }
    let set = PolicySet::from_toml_with_env(text).expect("valid file");
    let delays = Arc::new(Delays::default());
    let registry = Registry::from_set_with_observer(&set, delays.clone()).unwrap();
    let policy = registry.policy("p").unwrap();
    let _ = policy.call(|| async { Err::<(), _>("down") }).await;
    let drawn = delays.0.lock().unwrap().clone();
    assert_eq!(drawn.len(), 4, "{drawn:?}");
    drawn
}

#[cfg(feature = "tokio")]
const REPLICA: &str =
    "[policies.p]\nmax_attempts = 5\nbase_delay = \"1s\"\nmax_delay = \"60s\"\njitter = \"full\"\n";

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn replicas_built_from_one_file_draw_different_jitter() {
    let a = replica_delays(REPLICA).await;
    let b = replica_delays(REPLICA).await;
    assert_ne!(a, b, "two replicas retry in lockstep");
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn a_seed_in_the_file_replays_the_same_jitter() {
    let top = format!("seed = 7\n{REPLICA}");
    assert_eq!(replica_delays(&top).await, replica_delays(&top).await);
    let own = format!("{REPLICA}seed = 7\n");
    assert_eq!(replica_delays(&own).await, replica_delays(&top).await);
    let other = format!("seed = 7\n{REPLICA}seed = 8\n");
    assert_ne!(replica_delays(&other).await, replica_delays(&top).await);

    let err = PolicyFile::from_toml_str("seed = -1\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "seed: must be a whole number from 0 to 18446744073709551615, got -1 (line 1)"
    );
    let err = PolicyFile::from_toml_str("[policies.p]\nseed = \"7\"\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "policies.p.seed: expected a whole number, got the text \"7\" (write 7 without quotes) (line 2)"
    );
}
