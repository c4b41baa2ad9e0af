use super::*;
use std::fmt::Write as _;
use steadfast::backoff::Jitter;

const FULL_TOML: &str = r#"
enabled = true
default_timeout = "30s"

[breakers.kafka]
detector = "count"
window = 100
minimum_calls = 10
failure_rate = 50
slow_call_duration = "2s"
slow_call_rate = 100
break_duration = "30s"
break_multiplier = 2
max_break_duration = "5m"
half_open_probes = 3
success_threshold = 2
max_half_open_wait = "30s"

[breakers.redis]
failure_threshold = 3
break_duration = "30s"

[breakers.db]
detector = "time"
window = "60s"

[bulkheads.kafka]
max_concurrent = 10
max_queue = 10
max_wait = "5s"

[budgets.kafka]
ratio_permille = 200
min_retries_per_sec = 10
window = "10s"

[policies.kafka]
breaker = "kafka"
bulkhead = "kafka"
budget = "kafka"
max_attempts = 3
backoff = "exponential"
base_delay = "100ms"
max_delay = "60s"
multiplier = "3/2"
jitter = "proportional:10"
attempt_timeout = "2s"
total_timeout = "none"
retry_on_timeout = false
max_retry_after = "60s"
order = "bulkhead_outermost"
fallback = "rejection"

[policies.redis]
breaker = "redis"
backoff = "constant"
base_delay = "50ms"
"#;

const FULL_YAML: &str = r#"
enabled: true
default_timeout: 30s
breakers:
  kafka:
    detector: count
    window: 100
    minimum_calls: 10
    failure_rate: 50
    slow_call_duration: 2s
    slow_call_rate: 100
    break_duration: 30s
    break_multiplier: 2
    max_break_duration: 5m
    half_open_probes: 3
    success_threshold: 2
    max_half_open_wait: 30s
  redis:
    failure_threshold: 3
    break_duration: 30s
  db:
    detector: time
    window: 60s
bulkheads:
  kafka: { max_concurrent: 10, max_queue: 10, max_wait: 5s }
budgets:
  kafka: { ratio_permille: 200, min_retries_per_sec: 10, window: 10s }
policies:
  kafka:
    breaker: kafka
    bulkhead: kafka
    budget: kafka
    max_attempts: 3
    backoff: exponential
    base_delay: 100ms
    max_delay: 60s
    multiplier: "3/2"
    jitter: "proportional:10"
    attempt_timeout: 2s
    total_timeout: none
    retry_on_timeout: false
    max_retry_after: 60s
    order: bulkhead_outermost
    fallback: rejection
  redis:
    breaker: redis
    backoff: constant
    base_delay: 50ms
"#;

#[test]
fn toml_and_yaml_read_the_same() {
    let toml = PolicyFile::from_toml_str(FULL_TOML).unwrap();
    let yaml = PolicyFile::from_yaml_str(FULL_YAML).unwrap();
    assert_eq!(toml, yaml);
    assert_eq!(toml.validate().unwrap(), yaml.validate().unwrap());
}

#[test]
fn full_file_maps_to_core_configs() {
    let set = PolicyFile::from_toml_str(FULL_TOML)
        .unwrap()
        .validate()
        .unwrap();
    assert!(set.enabled);
    let kafka = set.breakers["kafka"];
    assert_eq!(kafka.detector, Detector::Count { window: 100 });
    let c = kafka.config;
    assert_eq!(c.minimum_calls(), 10);
    assert_eq!(c.failure_rate_percent(), 50);
    assert_eq!(c.slow_call_duration(), Duration::from_secs(2));
    assert_eq!(c.break_multiplier(), 2);
    assert_eq!(c.max_break_duration(), Duration::from_secs(300));
    assert_eq!((c.max_probes(), c.success_threshold()), (3, 2));
    assert_eq!(set.breakers["redis"].detector, Detector::Consecutive);
    assert_eq!(set.breakers["redis"].config.failure_threshold(), 3);
    assert_eq!(set.breakers["db"].detector, Detector::Time);
    assert_eq!(
        set.breakers["db"].config.window_duration(),
        Duration::from_secs(60)
    );

    let b = set.bulkheads["kafka"];
    assert_eq!(
        (b.max_concurrent(), b.max_queue(), b.max_wait()),
        (10, 10, Duration::from_secs(5))
    );
    assert_eq!(
        set.budgets["kafka"],
        AnyBudgetConfig::Ratio(BudgetConfig::DEFAULT)
    );

    let p = &set.policies["kafka"];
    assert_eq!(p.breaker.as_deref(), Some("kafka"));
    assert_eq!(p.bulkhead.as_deref(), Some("kafka"));
    assert_eq!(p.budget.as_deref(), Some("kafka"));
    let retry = p.pipeline.retry();
    assert_eq!(retry.max_attempts(), 3);
    assert!(!retry.retry_on_timeout());
    let backoff = retry.backoff();
    assert_eq!(
        backoff.kind(),
        Kind::Exponential {
            factor: Ratio::new(3, 2).unwrap()
        }
    );
    assert_eq!(backoff.jitter(), Jitter::Proportional { percent: 10 });
    assert_eq!(backoff.base(), Duration::from_millis(100));
    assert_eq!(
        p.pipeline.timeout(),
        timeout::Config::NONE.with_attempt(Duration::from_secs(2))
    );
    assert_eq!(p.pipeline.order(), Order::BulkheadOutermost);
    assert_eq!(p.pipeline.fallback(), FallbackOn::Rejection);

    let redis = &set.policies["redis"];
    assert_eq!(redis.pipeline.retry().backoff().kind(), Kind::Constant);
    // Attempt timeout from default_timeout.
    assert_eq!(
        redis.pipeline.timeout().attempt(),
        Some(Duration::from_secs(30))
    );
}

#[test]
fn empty_files_are_defaults() {
    let set = PolicyFile::from_toml_str("").unwrap().validate().unwrap();
    assert_eq!(set, PolicySet::default());
    assert_eq!(
        PolicyFile::from_yaml_str("  \n").unwrap(),
        PolicyFile::default()
    );
}

#[test]
fn defaults_follow_the_core() {
    let set = PolicyFile::from_toml_str("[breakers.a]\n[bulkheads.a]\n[budgets.a]\n[policies.a]\n")
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(set.breakers["a"], BreakerSpec::default());
    assert_eq!(set.bulkheads["a"], bulkhead::Config::DEFAULT);
    assert_eq!(
        set.budgets["a"],
        AnyBudgetConfig::Ratio(BudgetConfig::DEFAULT)
    );
    assert_eq!(set.policies["a"].pipeline, pipeline::Config::DEFAULT);
    // A single probe lowers the default success threshold instead of failing.
    let set = PolicyFile::from_toml_str("[breakers.a]\nhalf_open_probes = 1\n")
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(set.breakers["a"].config.success_threshold(), 1);
}

#[test]
fn count_windows_of_every_length_up_to_the_storage_are_accepted() {
    for window in [1u16, 2, 10, 63, 64, 65, 99, 100, 127, 128] {
        let text =
            format!("[breakers.k]\ndetector = \"count\"\nwindow = {window}\nminimum_calls = 500\n");
        let set = PolicyFile::from_toml_str(&text)
            .unwrap()
            .validate()
            .unwrap_or_else(|e| panic!("window = {window}: {e}"));
        // A minimum above the window is accepted: a full window is judged.
        assert_eq!(set.breakers["k"].detector, Detector::Count { window });
        assert_eq!(set.breakers["k"].config.minimum_calls(), 500);
    }
    let set = PolicyFile::from_toml_str("[breakers.k]\ndetector = \"count\"\n")
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(
        set.breakers["k"].detector,
        Detector::Count {
            window: crate::breaker::COUNT_WINDOW as u16
        }
    );
}

/// `(file, key named by the error, fragment of the message)`.
const BAD_TOML: &[(&str, &str, &str)] = &[
    (
        "[breakers.k]\ndetector = \"count\"\nfailure_rate = 0",
        "breakers.k.failure_rate",
        "must be 1..=100, got 0",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nfailure_rate = 150",
        "breakers.k.failure_rate",
        "must be 1..=100, got 150",
    ),
    (
        "[breakers.k]\ndetector = \"time\"\nslow_call_rate = 101",
        "breakers.k.slow_call_rate",
        "must be 1..=100, got 101",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nfailure_rate = -5",
        "breakers.k.failure_rate",
        "got -5",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nfailure_rate = 50.5",
        "breakers.k.failure_rate",
        "whole number",
    ),
    (
        "[breakers.k]\nbreak_duration = \"30\"",
        "breakers.k.break_duration",
        "needs a unit",
    ),
    (
        "[breakers.k]\nbreak_duration = 30",
        "breakers.k.break_duration",
        "\"30s\"",
    ),
    (
        "[breakers.k]\nbreak_duration = \"1.5s\"",
        "breakers.k.break_duration",
        "\"1500ms\"",
    ),
    (
        "[breakers.k]\nbreak_duration = 1.5",
        "breakers.k.break_duration",
        "no decimals",
    ),
    (
        "[breakers.k]\nbreak_duration = \"30 parsecs\"",
        "breakers.k.break_duration",
        "unknown unit",
    ),
    (
        "[breakers.k]\nbreak_duration = \"-3s\"",
        "breakers.k.break_duration",
        "negative",
    ),
    (
        "[breakers.k]\nbreak_duration = \"0s\"",
        "breakers.k.break_duration",
        "longer than zero",
    ),
    (
        "[breakers.k]\nbreak_duration = \"none\"",
        "breakers.k.break_duration",
        "\"none\" is not allowed",
    ),
    (
        "[breakers.k]\nbreak_duration = \"99999999999999999h\"",
        "breakers.k.break_duration",
        "too long",
    ),
    ("[breakers.k]\nbogus = 1", "breakers.k.bogus", "unknown"),
    ("bogus = 1", "bogus", "unknown"),
    ("[breaker.k]\nfailure_threshold = 1", "breaker", "unknown"),
    (
        "[breakers.k]\nfailure_threshold = 0",
        "breakers.k.failure_threshold",
        "at least 1",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nfailure_threshold = 3",
        "breakers.k.failure_threshold",
        "only read by detector = \"consecutive\"",
    ),
    (
        "[breakers.k]\nwindow = 10",
        "breakers.k.window",
        "only read by",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nwindow = 500",
        "breakers.k.window",
        "must be 1..=128 calls",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nwindow = 129",
        "breakers.k.window",
        "must be 1..=128 calls",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nwindow = 0",
        "breakers.k.window",
        "got 0",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nwindow = \"60s\"",
        "breakers.k.window",
        "takes a number of calls",
    ),
    (
        "[breakers.k]\ndetector = \"time\"\nwindow = 100",
        "breakers.k.window",
        "takes a duration",
    ),
    (
        "[breakers.k]\ndetector = \"time\"\nwindow = \"5us\"",
        "breakers.k.window",
        "at least 10us",
    ),
    (
        "[breakers.k]\ndetector = \"count\"\nminimum_calls = 0",
        "breakers.k.minimum_calls",
        "at least 1",
    ),
    (
        "[breakers.k]\ndetector = \"sliding\"",
        "breakers.k.detector",
        "unknown variant",
    ),
    (
        "[breakers.k]\nhalf_open_probes = 2\nsuccess_threshold = 3",
        "breakers.k.success_threshold",
        "must not exceed half_open_probes (2)",
    ),
    (
        "[breakers.k]\nhalf_open_probes = 0",
        "breakers.k.half_open_probes",
        "at least 1",
    ),
    (
        "[breakers.k]\nhalf_open_probes = 70000",
        "breakers.k.half_open_probes",
        "70000",
    ),
    (
        "[breakers.k]\nsuccess_threshold = 0",
        "breakers.k.success_threshold",
        "at least 1",
    ),
    (
        "[breakers.k]\nbreak_multiplier = 0",
        "breakers.k.break_multiplier",
        "at least 1",
    ),
    (
        "[breakers.k]\nbreak_duration = \"1m\"\nmax_break_duration = \"30s\"",
        "breakers.k.max_break_duration",
        "must not be shorter than break_duration (60s)",
    ),
    (
        "[breakers.k]\nmax_half_open_wait = \"0ms\"",
        "breakers.k.max_half_open_wait",
        "longer than zero",
    ),
    ("[breakers.\"a b\"]", "breakers.a b", "names may use only"),
    (
        "[bulkheads.b]\nmax_concurrent = 0",
        "bulkheads.b.max_concurrent",
        "at least 1",
    ),
    (
        "[bulkheads.b]\nmax_wait = \"5\"",
        "bulkheads.b.max_wait",
        "needs a unit",
    ),
    (
        "[bulkheads.b]\nmax_queue = -1",
        "bulkheads.b.max_queue",
        "-1",
    ),
    (
        "[bulkheads.b]\nmax_queue = 1000",
        "bulkheads.b.max_queue",
        "at most 256",
    ),
    (
        "[budgets.b]\nwindow = \"0s\"",
        "budgets.b.window",
        "at least 10us",
    ),
    ("[budgets.b]\nratio = 20", "budgets.b.ratio", "unknown"),
    (
        "[policies.p]\nbreaker = \"nope\"",
        "policies.p.breaker",
        "no [breakers.nope] entry (there are no breakers)",
    ),
    (
        "[breakers.a]\n[policies.p]\nbreaker = \"nope\"",
        "policies.p.breaker",
        "known: a",
    ),
    (
        "[policies.p]\nbulkhead = \"nope\"",
        "policies.p.bulkhead",
        "no [bulkheads.nope]",
    ),
    (
        "[policies.p]\nbudget = \"nope\"",
        "policies.p.budget",
        "no [budgets.nope]",
    ),
    (
        "[policies.p]\nmultiplier = \"0\"",
        "policies.p.multiplier",
        "at least 1",
    ),
    (
        "[policies.p]\nmultiplier = 0",
        "policies.p.multiplier",
        "at least 1",
    ),
    (
        "[policies.p]\nmultiplier = \"1/0\"",
        "policies.p.multiplier",
        "denominator must not be 0",
    ),
    (
        "[policies.p]\nmultiplier = \"1/2\"",
        "policies.p.multiplier",
        "at least 1",
    ),
    (
        "[policies.p]\nmultiplier = \"1.5\"",
        "policies.p.multiplier",
        "write \"3/2\"",
    ),
    (
        "[policies.p]\nmultiplier = 1.5",
        "policies.p.multiplier",
        "write \"3/2\"",
    ),
    (
        "[policies.p]\nmultiplier = \"2.0\"",
        "policies.p.multiplier",
        "write \"2\"",
    ),
    (
        "[policies.p]\nmultiplier = \"10001/10000\"",
        "policies.p.multiplier",
        "at most 1000",
    ),
    (
        "[policies.p]\nmultiplier = \"two\"",
        "policies.p.multiplier",
        "integer ratio",
    ),
    (
        "[policies.p]\nbackoff = \"constant\"\nmultiplier = \"2\"",
        "policies.p.multiplier",
        "only read by backoff = \"exponential\"",
    ),
    (
        "[policies.p]\nbackoff = \"fibonacci\"",
        "policies.p.backoff",
        "unknown variant",
    ),
    (
        "[policies.p]\nmax_attempts = 0",
        "policies.p.max_attempts",
        "at least 1",
    ),
    (
        "[policies.p]\nbase_delay = \"2m\"\nmax_delay = \"1m\"",
        "policies.p.base_delay",
        "must not exceed max_delay (60s)",
    ),
    (
        "[policies.p]\njitter = \"proportional:150\"",
        "policies.p.jitter",
        "0..=100",
    ),
    (
        "[policies.p]\njitter = \"random\"",
        "policies.p.jitter",
        "expected \"none\"",
    ),
    (
        "[policies.p]\nattempt_timeout = \"0s\"",
        "policies.p.attempt_timeout",
        "write \"none\"",
    ),
    (
        "[policies.p]\ntotal_timeout = \"soon\"",
        "policies.p.total_timeout",
        "expected a duration",
    ),
    (
        "[policies.p]\norder = \"random\"",
        "policies.p.order",
        "unknown variant",
    ),
    (
        "[policies.p]\nfallback = \"always\"",
        "policies.p.fallback",
        "unknown variant",
    ),
    (
        "[policies.p]\nretry_on_timeout = \"yes\"",
        "policies.p.retry_on_timeout",
        "expected a boolean, got the text \"yes\"",
    ),
    (
        "default_timeout = \"0s\"",
        "default_timeout",
        "longer than zero",
    ),
    ("enabled = \"maybe\"", "enabled", "expected a boolean"),
];

fn first_error(text: &str, format: Format) -> ConfigError {
    match PolicyFile::from_str_as(text, format) {
        Err(e) => e,
        Ok(file) => match file.validate() {
            Err(e) => e,
            Ok(set) => panic!("accepted: {text:?} -> {set:?}"),
        },
    }
}

#[test]
fn bad_toml_is_rejected_naming_the_key() {
    for (text, key, fragment) in BAD_TOML {
        let err = first_error(text, Format::Toml);
        assert_eq!(err.key(), *key, "{text:?}: {err}");
        assert!(err.message().contains(fragment), "{text:?}: {err}");
    }
}

/// A TOML line `a = b` becomes YAML `a: b`, so the same table tests YAML.
fn toml_to_yaml(text: &str) -> Option<String> {
    // YAML reads a quoted "yes" as a boolean: a TOML-only case.
    if text.contains("\"yes\"") {
        return None;
    }
    let mut out = String::new();
    for line in text.lines() {
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (outer, inner) = section.split_once('.')?;
            if inner.contains('"') {
                return None;
            }
            out.push_str(&format!("{outer}:\n  {inner}: {{}}\n"));
            continue;
        }
        let (k, v) = line.split_once(" = ")?;
        if out.ends_with(": {}\n") {
            out.truncate(out.len() - 4);
            out.push('\n');
        }
        if out.is_empty() {
            out.push_str(&format!("{k}: {v}\n"));
        } else {
            out.push_str(&format!("    {k}: {v}\n"));
        }
    }
    Some(out)
}

#[test]
fn bad_yaml_is_rejected_naming_the_same_key() {
    let mut checked = 0;
    for (text, key, fragment) in BAD_TOML {
        let Some(yaml) = toml_to_yaml(text) else {
            continue;
        };
        let err = first_error(&yaml, Format::Yaml);
        assert_eq!(err.key(), *key, "{yaml}: {err}");
        assert!(err.message().contains(fragment), "{yaml}: {err}");
        checked += 1;
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn yaml_plain_scalars_are_accepted() {
    let set = PolicyFile::from_yaml_str(
        "policies:\n  p:\n    multiplier: 3/2\n    jitter: proportional:10\n    attempt_timeout: none\n",
    )
    .unwrap()
    .validate()
    .unwrap();
    let p = &set.policies["p"].pipeline;
    assert_eq!(p.timeout().attempt(), None);
    assert_eq!(
        p.retry().backoff().jitter(),
        Jitter::Proportional { percent: 10 }
    );
    // YAML null also means "no timeout".
    let set = PolicyFile::from_yaml_str("policies:\n  p:\n    total_timeout: ~\n")
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(set.policies["p"].pipeline.timeout().total(), None);
}

#[test]
fn errors_carry_lines() {
    let err = PolicyFile::from_toml_str("\n\n[breakers.k]\nbreak_duration = \"x\"\n").unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
    let err = PolicyFile::from_toml_str("[breakers.k\n").unwrap_err();
    assert_eq!(err.key(), "");
    assert!(err.to_string().starts_with("TOML syntax"), "{err}");
    let err = PolicyFile::from_yaml_str("breakers: {k: {}\n").unwrap_err();
    assert!(err.line().is_some(), "{err}");
}

#[test]
fn toml_value_embedding() {
    let doc: toml::Table = toml::from_str("[policy.breakers.k]\nfailure_rate = 150\n").unwrap();
    let err = PolicyFile::from_toml_value(doc["policy"].clone()).unwrap_err();
    assert_eq!(err.key(), "breakers.k.failure_rate");
}

#[test]
fn durations_parse_exactly() {
    for (text, micros) in [
        ("1500us", 1_500),
        ("1500µs", 1_500),
        ("250ms", 250_000),
        ("30s", 30_000_000),
        ("5m", 300_000_000),
        ("5min", 300_000_000),
        ("1h", 3_600_000_000),
        ("1d", 86_400_000_000),
        ("1m30s", 90_000_000),
        ("1h 2m 3s", 3_723_000_000),
        ("0s", 0),
    ] {
        let d: HumanDuration = text.parse().unwrap();
        assert_eq!(d.0.as_micros(), micros, "{text}");
        // Display round-trips.
        assert_eq!(d.to_string().parse::<HumanDuration>().unwrap(), d, "{text}");
    }
    for bad in ["", "s", "10", "1.5s", "5ns", "1x", "ms10", "--1s"] {
        assert!(bad.parse::<HumanDuration>().is_err(), "{bad}");
    }
    assert_eq!(HumanDuration(Duration::from_secs(90)).to_string(), "90s");
    assert_eq!(HumanDuration(Duration::from_secs(300)).to_string(), "5m");
    assert_eq!(
        HumanDuration(Duration::from_micros(1_500)).to_string(),
        "1500us"
    );
    assert_eq!(
        "0.25s".parse::<HumanDuration>().unwrap_err(),
        "durations are whole numbers with a unit: write \"250ms\" instead of \"0.25s\""
    );
}

#[test]
fn env_overrides_in_the_short_form_where_unique() {
    let mut file = PolicyFile::from_toml_str(FULL_TOML).unwrap();
    file.apply_env_vars([
        ("STEADFAST_ENABLED", "0"),
        ("STEADFAST_DEFAULT_TIMEOUT", "10s"),
        ("STEADFAST_KAFKA_MINIMUM_CALLS", "20"),
        ("STEADFAST_KAFKA_MAX_CONCURRENT", "4"),
        ("STEADFAST_KAFKA_MAX_ATTEMPTS", "5"),
        ("STEADFAST_KAFKA_MULTIPLIER", "2"),
        ("STEADFAST_KAFKA_ORDER", "standard"),
        ("STEADFAST_KAFKA_RETRY_ON_TIMEOUT", "true"),
        ("STEADFAST_REDIS_DETECTOR", "consecutive"),
        ("STEADFAST_REDIS_ATTEMPT_TIMEOUT", "none"),
        ("PATH", "/bin"),
    ])
    .unwrap();
    let set = file.validate().unwrap();
    assert!(!set.enabled);
    assert_eq!(set.default_timeout, Some(Duration::from_secs(10)));
    assert_eq!(set.breakers["kafka"].config.minimum_calls(), 20);
    assert_eq!(set.bulkheads["kafka"].max_concurrent(), 4);
    let kafka = &set.policies["kafka"].pipeline;
    assert_eq!(kafka.retry().max_attempts(), 5);
    assert_eq!(
        kafka.retry().backoff().kind(),
        Kind::Exponential { factor: Ratio::TWO }
    );
    assert_eq!(kafka.order(), Order::Standard);
    assert!(kafka.retry().retry_on_timeout());
    assert_eq!(set.policies["redis"].pipeline.timeout().attempt(), None);

    // Dashes in names become underscores.
    let mut file = PolicyFile::from_toml_str("[breakers.llm-provider]\n").unwrap();
    file.apply_env_vars([("STEADFAST_LLM_PROVIDER_FAILURE_THRESHOLD", "2")])
        .unwrap();
    assert_eq!(file.breakers["llm-provider"].failure_threshold, Some(2));
}

#[test]
fn bad_env_overrides_name_the_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("STEADFAST_ENABLED", "maybe", "expected true or false"),
        ("STEADFAST_DEFAULT_TIMEOUT", "10", "needs a unit"),
        (
            "STEADFAST_KAFKA_FAILURE_RATE",
            "150",
            "must be 1..=100, got 150",
        ),
        ("STEADFAST_KAFKA_FAILURE_RATE", "0", "got 0"),
        ("STEADFAST_KAFKA_BREAK_DURATION", "1.5s", "\"1500ms\""),
        ("STEADFAST_KAFKA_MULTIPLIER", "1.5", "\"3/2\""),
        ("STEADFAST_KAFKA_MULTIPLIER", "1/0", "denominator"),
        ("STEADFAST_KAFKA_DETECTOR", "sliding", "unknown variant"),
        ("STEADFAST_KAFKA_HALF_OPEN_PROBES", "-1", "-1"),
        ("STEADFAST_KAFKA_BOGUS", "1", "but no key of it"),
        ("STEADFAST_BREAKERS_KAFKA_BOGUS", "1", "but no key of it"),
        ("STEADFAST_BREAKERS_KAFKA_WINDOW", "60s", "count"),
        ("STEADFAST_KAFKA_WINDOW", "60s", "ambiguous"),
    ];
    for (var, value, fragment) in cases {
        let mut file = PolicyFile::from_toml_str(FULL_TOML).unwrap();
        // A value that parses but breaks a cross-key rule is found by `validate`,
        // naming the key; a bad value names the variable.
        let err = file
            .apply_env_vars([(*var, *value)])
            .and_then(|_| file.validate().map(drop))
            .unwrap_err();
        if err.key() == *var {
            assert!(err.message().contains(fragment), "{var}={value}: {err}");
        } else {
            assert!(
                err.key().starts_with("breakers.kafka"),
                "{var}={value}: {err}"
            );
            assert!(err.message().contains(fragment), "{var}={value}: {err}");
        }
    }
}

#[test]
fn ambiguous_env_names_are_rejected() {
    // "a" + "max_wait"? no: the split NAME=A_MAX, KEY=WAIT has no key; NAME=A,
    // KEY=MAX_WAIT is unique. Build a real clash: entries `a` and `a_max` where
    // KEY can be read two ways.
    let mut file = PolicyFile::from_toml_str(
        "[bulkheads.a]\n[bulkheads.a_max]\n[policies.a_max]\n[policies.a]\n",
    )
    .unwrap();
    // STEADFAST_A_MAX_DELAY: policies.a.max_delay, or policies.a_max.delay (no such key).
    file.apply_env_vars([("STEADFAST_A_MAX_DELAY", "5s")])
        .unwrap();
    assert_eq!(
        file.policies["a"].max_delay.unwrap().0,
        Duration::from_secs(5)
    );
    let mut file = PolicyFile::from_toml_str("[policies.a]\n[policies.a_base]\n").unwrap();
    // STEADFAST_A_BASE_DELAY: policies.a.base_delay or policies.a_base.delay → unique.
    file.apply_env_vars([("STEADFAST_A_BASE_DELAY", "5s")])
        .unwrap();
    let mut file =
        PolicyFile::from_toml_str("[policies.a]\n[policies.a_max]\n[bulkheads.a_max]\n").unwrap();
    // STEADFAST_A_MAX_WAIT: bulkheads.a_max has no key `wait`; policies.a has no `max_wait`.
    let err = file
        .apply_env_vars([("STEADFAST_A_MAX_WAIT", "5s")])
        .unwrap_err();
    assert!(err.message().contains("but no key of it"), "{err}");
}

/// A count breaker and a budget sharing a name (one name per dependency across
/// sections, as a service's own config has it): each `window` is reachable.
#[test]
fn a_key_two_sections_share_is_set_by_the_section_qualified_variable() {
    let text = "[breakers.quotes]\ndetector = \"count\"\n[budgets.quotes]\n";
    let mut file = PolicyFile::from_toml_str(text).unwrap();
    let err = file
        .apply_env_vars([("STEADFAST_QUOTES_WINDOW", "50")])
        .unwrap_err();
    assert_eq!(err.key(), "STEADFAST_QUOTES_WINDOW");
    assert_eq!(
        err.message(),
        "ambiguous: could set breakers.quotes.window or budgets.quotes.window; use STEADFAST_BREAKERS_QUOTES_WINDOW or STEADFAST_BUDGETS_QUOTES_WINDOW instead"
    );
    file.apply_env_vars([
        ("STEADFAST_BREAKERS_QUOTES_WINDOW", "50"),
        ("STEADFAST_BUDGETS_QUOTES_WINDOW", "50s"),
        ("STEADFAST_QUOTES_MINIMUM_CALLS", "20"),
    ])
    .unwrap();
    let set = file.validate().unwrap();
    assert_eq!(
        set.breakers["quotes"].detector,
        Detector::Count { window: 50 }
    );
    assert_eq!(set.breakers["quotes"].config.minimum_calls(), 20);
    assert_eq!(
        set.budgets["quotes"],
        AnyBudgetConfig::Ratio(BudgetConfig::DEFAULT.with_window(Duration::from_secs(50)))
    );

    // Both forms for one key: which wins would depend on sort order.
    let err = file
        .apply_env_vars([
            ("STEADFAST_BREAKERS_QUOTES_MINIMUM_CALLS", "5"),
            ("STEADFAST_QUOTES_MINIMUM_CALLS", "6"),
        ])
        .unwrap_err();
    assert!(
        err.message()
            .contains("sets breakers.quotes.minimum_calls too"),
        "{err}"
    );
}

#[test]
fn entries_whose_names_give_one_variable_are_a_collision() {
    let text = "[breakers.kafka-primary]\n[breakers.KAFKA_PRIMARY]\n";
    let mut file = PolicyFile::from_toml_str(text).unwrap();
    let err = file
        .apply_env_vars([("STEADFAST_KAFKA_PRIMARY_FAILURE_THRESHOLD", "3")])
        .unwrap_err();
    assert_eq!(err.key(), "STEADFAST_KAFKA_PRIMARY_FAILURE_THRESHOLD");
    assert_eq!(
        err.message(),
        "[breakers.KAFKA_PRIMARY] and [breakers.kafka-primary] have the same variable name: rename one of them"
    );
    assert_eq!(file.breakers["kafka-primary"].failure_threshold, None);
    assert_eq!(file.breakers["KAFKA_PRIMARY"].failure_threshold, None);
}

#[test]
fn unrelated_prefixed_variables_are_warnings_unless_strict() {
    let mut file = PolicyFile::from_toml_str(FULL_TOML).unwrap();
    let report = file
        .apply_env_vars([
            ("STEADFAST_LOG", "debug"),
            ("STEADFAST_KAFKA_MAX_ATTEMPTS", "4"),
        ])
        .unwrap();
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].key(), "STEADFAST_LOG");
    assert_eq!(
        report.applied,
        [(
            "STEADFAST_KAFKA_MAX_ATTEMPTS".to_owned(),
            "policies.kafka.max_attempts".to_owned()
        )]
    );
    let err = file
        .apply_env_vars_with(
            [("STEADFAST_LOG", "debug")],
            crate::config::UnknownVars::Deny,
        )
        .unwrap_err();
    assert_eq!(err.key(), "STEADFAST_LOG");
}

/// 1 000 overrides over a 50 000-entry file: each variable is a few lookups, not
/// a scan of the file (counted, not timed).
#[test]
fn env_overrides_cost_a_few_lookups_each_whatever_the_file_size() {
    let mut file = PolicyFile::default();
    for i in 0..50_000 {
        file.breakers
            .insert(format!("dependency-{i}"), BreakerEntry::default());
    }
    let vars: Vec<(String, String)> = (0..1_000)
        .map(|i| {
            (
                format!("STEADFAST_DEPENDENCY_{}_FAILURE_THRESHOLD", i * 50),
                "3".to_owned(),
            )
        })
        .collect();
    super::env::LOOKUPS.with(|n| n.set(0));
    file.apply_env_vars_with(vars, crate::config::UnknownVars::Deny)
        .unwrap();
    let lookups = super::env::LOOKUPS.with(std::cell::Cell::get);
    assert_eq!(file.breakers["dependency-49950"].failure_threshold, Some(3));
    // 5 section readings × 4 underscores per variable, plus one per entry indexed.
    assert!(lookups <= 50_000 + 1_000 * 40, "{lookups} name lookups");
}

#[test]
fn env_key_lists_match_the_serde_fields() {
    fn accepts<T: serde::de::DeserializeOwned>(key: &str) -> bool {
        let text = format!("{key} = \"x\"");
        match toml::from_str::<T>(&text) {
            Ok(_) => true,
            Err(e) => !e.message().contains("unknown field"),
        }
    }
    for key in BreakerEntry::KEYS {
        assert!(accepts::<BreakerEntry>(key), "{key}");
    }
    for key in BulkheadEntry::KEYS {
        assert!(accepts::<BulkheadEntry>(key), "{key}");
    }
    for key in BudgetEntry::KEYS {
        assert!(accepts::<BudgetEntry>(key), "{key}");
    }
    for key in PolicyEntry::KEYS {
        assert!(accepts::<PolicyEntry>(key), "{key}");
    }
    assert!(!accepts::<PolicyEntry>("bogus"));
    // Every key can be set from the environment.
    let mut b = BreakerEntry::default();
    for key in BreakerEntry::KEYS {
        let _ = b.set(key, "1");
        assert_ne!(b.set(key, "1"), Err(format!("unknown key `{key}`")));
    }
}

#[test]
fn pass_through_config() {
    let p = PolicySet::PASS_THROUGH;
    assert_eq!(p.retry().max_attempts(), 1);
    assert_eq!(p.timeout(), timeout::Config::NONE);
    assert_eq!(p.fallback(), FallbackOn::Never);
}

#[test]
fn metrics_only_is_read_from_files_and_the_environment() {
    let set = PolicyFile::from_toml_str("[breakers.a]\nmetrics_only = true\n[breakers.b]\n")
        .unwrap()
        .validate()
        .unwrap();
    assert!(set.breakers["a"].config.metrics_only());
    assert!(!set.breakers["b"].config.metrics_only(), "live by default");
    let yaml = PolicyFile::from_yaml_str("breakers:\n  a:\n    metrics_only: true\n")
        .unwrap()
        .validate()
        .unwrap();
    assert!(yaml.breakers["a"].config.metrics_only());
    let mut file = PolicyFile::from_toml_str("[breakers.a]\nmetrics_only = true\n").unwrap();
    file.apply_env_vars([("STEADFAST_A_METRICS_ONLY", "off")])
        .unwrap();
    assert!(!file.validate().unwrap().breakers["a"].config.metrics_only());
}

#[test]
fn unlimited_attempts_need_a_total_timeout() {
    let text = "[policies.p]\nmax_attempts = \"unlimited\"\ntotal_timeout = \"30s\"\n";
    let set = PolicyFile::from_toml_str(text).unwrap().validate().unwrap();
    let p = &set.policies["p"].pipeline;
    assert_eq!(p.retry().attempt_limit(), None);
    assert_eq!(p.timeout().total(), Some(Duration::from_secs(30)));
    let yaml = "policies:\n  p:\n    max_attempts: unlimited\n    total_timeout: 30s\n";
    let set = PolicyFile::from_yaml_str(yaml).unwrap().validate().unwrap();
    assert_eq!(set.policies["p"].pipeline.retry().attempt_limit(), None);

    for text in [
        "[policies.p]\nmax_attempts = \"unlimited\"\n",
        "[policies.p]\nmax_attempts = \"unlimited\"\ntotal_timeout = \"none\"\n",
    ] {
        let err = PolicyFile::from_toml_str(text)
            .unwrap()
            .validate()
            .unwrap_err();
        assert_eq!(err.key(), "policies.p.max_attempts", "{err}");
        assert!(err.to_string().contains("total_timeout"), "{err}");
    }

    let mut file = PolicyFile::from_toml_str("[policies.p]\ntotal_timeout = \"1m\"\n").unwrap();
    file.apply_env_vars([("STEADFAST_P_MAX_ATTEMPTS", "unlimited")])
        .unwrap();
    let set = file.validate().unwrap();
    assert_eq!(set.policies["p"].pipeline.retry().attempt_limit(), None);
    let mut file = PolicyFile::from_toml_str("[policies.p]\n").unwrap();
    file.apply_env_vars([("STEADFAST_P_MAX_ATTEMPTS", "7")])
        .unwrap();
    let set = file.validate().unwrap();
    assert_eq!(set.policies["p"].pipeline.retry().attempt_limit(), Some(7));
}

#[test]
fn every_budget_window_validation_accepts_the_shared_budget_accepts() {
    for micros in 1..=25u64 {
        let text = format!("[budgets.r]\nwindow = \"{micros}us\"\n");
        let validated = PolicyFile::from_toml_str(&text).unwrap().validate();
        match validated {
            Ok(set) => {
                crate::SharedBudget::of(set.budgets["r"])
                    .unwrap_or_else(|e| panic!("{micros}us validated, then refused: {e}"));
            }
            Err(e) => {
                assert_eq!(e.key(), "budgets.r.window", "{e}");
                assert!(e.message().contains("at least 10us"), "{e}");
                assert!(micros < 10, "{micros}us refused: {e}");
            }
        }
    }
}

#[test]
fn error_messages_read_as_words() {
    let err = |text: &str| {
        PolicyFile::from_toml_str(text)
            .and_then(|f| f.validate().map(drop))
            .unwrap_err()
            .to_string()
    };
    let file = PolicyFile::from_toml_str("[breakers.k]\nbreak_duration = \"30 s\"\n").unwrap();
    assert_eq!(
        file.validate().unwrap().breakers["k"]
            .config
            .break_duration(),
        Duration::from_secs(30)
    );
    assert_eq!(
        err("[breakers.k]\nbreak_duration = \"1m30\""),
        "breakers.k.break_duration: the last number of \"1m30\" has no unit: write \"1m30s\" (units: us, ms, s, m, h, d) (line 2)"
    );
    assert_eq!(
        err("[breakers.k]\nbreak_duration = \"1 fortnight\""),
        "breakers.k.break_duration: unknown unit \"fortnight\" in \"1 fortnight\" (use us, ms, s, m, h or d) (line 2)"
    );
    assert!(err("[breakers.k]\nfailure_rate = inf").contains("got inf (infinity)"));
    assert!(err("[policies.p]\nmax_attempts = nan").contains("got nan (not a number)"));

    let huge = "x".repeat(5_000);
    let message = err(&format!("[breakers.k]\nbreak_duration = \"{huge}\""));
    assert!(message.len() < 300, "{message}");
    assert!(message.contains("xxx…\""), "{message}");

    let yaml = "breakers:\n  k:\n    failure_threshold: 3\n    failure_threshold: 4\n";
    let e = PolicyFile::from_yaml_str(yaml).unwrap_err();
    assert_eq!(
        e.to_string(),
        "breakers.k.failure_threshold: is written twice in the same table: keep one (line 4)"
    );
    assert_eq!(format!("{e:?}"), e.to_string());
}

#[test]
fn a_toml_date_where_a_value_belongs_reads_in_words() {
    let err = |text: &str| PolicyFile::from_toml_str(text).unwrap_err().to_string();
    assert_eq!(
        err("[policies.p]\nbase_delay = 1979-05-27T07:32:00Z"),
        "policies.p.base_delay: expected a duration string such as \"250ms\" or \"30s\", got a date and time, 1979-05-27T07:32:00Z (line 2)"
    );
    assert_eq!(
        err("[breakers.k]\nmetrics_only = 07:32:00"),
        "breakers.k.metrics_only: expected a boolean, got a time of day, 07:32:00 (line 2)"
    );
    assert_eq!(
        err("[policies.p]\nbreaker = 1979-05-27"),
        "policies.p.breaker: expected a string, got a date, 1979-05-27 (a name is written in quotes) (line 2)"
    );
}

#[test]
fn long_yaml_files_and_reused_anchors_read() {
    // 2 values a line, 300 000 values in all: over a fixed 250 000-value limit.
    let mut text = String::from("breakers:\n");
    for i in 0..150_000 {
        writeln!(text, "  b{i}: {{}}").unwrap();
    }
    assert_eq!(
        PolicyFile::from_yaml_str(&text).unwrap().breakers.len(),
        150_000
    );

    // One anchor used by 200 entries.
    let mut text = String::from("breakers:\n  base: &base\n    failure_threshold: 3\n");
    for i in 0..200 {
        writeln!(text, "  b{i}: *base").unwrap();
    }
    let file = PolicyFile::from_yaml_str(&text).unwrap();
    assert_eq!(file.breakers.len(), 201);
    assert_eq!(file.breakers["b199"].failure_threshold, Some(3));
}

#[test]
fn a_yaml_file_past_the_parser_limits_is_refused_in_words() {
    let mut text = String::from("breakers:\n  a: &a {failure_threshold: 3}\n");
    for i in 0..50_001 {
        writeln!(text, "  b{i}: *a").unwrap();
    }
    let err = PolicyFile::from_yaml_str(&text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the YAML file is refused as unsafe to read: it has more than 50000 uses of anchors (*name) (line 50003)"
    );
}
