//! Bad input: every invalid config value, file and environment variable is rejected
//! with an error that names the key (or variable, or file). The table of them in
//! RELIABILITY.md (between the `bad-input` markers) is generated from this test and
//! checked by it: `BLESS=1 cargo test -p steadfast-std --features config --test bad_input`
//! rewrites it after a deliberate change.

use std::fmt::Write as _;

use steadfast_std::config::{ConfigError, Format, PolicyFile, UnknownVars};

/// `(source, input, key the error must name)`. Sources: `toml`, `yaml`, `env`
/// (`VAR=value` over a valid file), `file` (a path to load). A syntax error has no
/// key (the line is given instead). An env value that parses but breaks a rule
/// found by `validate` names the file key it set.
const CASES: &[(&str, &str, &str)] = &[
    // --- files ---------------------------------------------------------------------
    (
        "file",
        "/nonexistent/policies.toml",
        "/nonexistent/policies.toml",
    ),
    ("file", "policies.ini", "policies.ini"),
    ("toml", "[breakers.k", ""),
    ("yaml", "breakers: [", "breakers"),
    ("toml", "[brakers.k]", "brakers"),
    (
        "toml",
        "[breakers.k]\nfailure_treshold = 3",
        "breakers.k.failure_treshold",
    ),
    (
        "yaml",
        "breakers:\n  k:\n    failure_treshold: 3",
        "breakers.k.failure_treshold",
    ),
    // --- breakers ------------------------------------------------------------------
    (
        "toml",
        "[breakers.k]\ndetector = \"sliding\"",
        "breakers.k.detector",
    ),
    (
        "toml",
        "[breakers.k]\nfailure_threshold = 0",
        "breakers.k.failure_threshold",
    ),
    (
        "toml",
        "[breakers.k]\nfailure_threshold = -3",
        "breakers.k.failure_threshold",
    ),
    (
        "toml",
        "[breakers.k]\nfailure_threshold = 99999999999",
        "breakers.k.failure_threshold",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nfailure_threshold = 3",
        "breakers.k.failure_threshold",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nwindow = 0",
        "breakers.k.window",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nwindow = 129",
        "breakers.k.window",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nwindow = 1000",
        "breakers.k.window",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nwindow = \"60s\"",
        "breakers.k.window",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"time\"\nwindow = 100",
        "breakers.k.window",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"time\"\nwindow = \"0s\"",
        "breakers.k.window",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nminimum_calls = 0",
        "breakers.k.minimum_calls",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nfailure_rate = 0",
        "breakers.k.failure_rate",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nfailure_rate = 150",
        "breakers.k.failure_rate",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"count\"\nfailure_rate = 50.5",
        "breakers.k.failure_rate",
    ),
    (
        "toml",
        "[breakers.k]\ndetector = \"time\"\nslow_call_rate = 101",
        "breakers.k.slow_call_rate",
    ),
    (
        "toml",
        "[breakers.k]\nslow_call_duration = \"fast\"",
        "breakers.k.slow_call_duration",
    ),
    (
        "toml",
        "[breakers.k]\nbreak_duration = \"0s\"",
        "breakers.k.break_duration",
    ),
    (
        "toml",
        "[breakers.k]\nbreak_duration = \"30\"",
        "breakers.k.break_duration",
    ),
    (
        "toml",
        "[breakers.k]\nbreak_duration = 30",
        "breakers.k.break_duration",
    ),
    (
        "toml",
        "[breakers.k]\nbreak_duration = \"1.5s\"",
        "breakers.k.break_duration",
    ),
    (
        "toml",
        "[breakers.k]\nbreak_duration = \"30 parsecs\"",
        "breakers.k.break_duration",
    ),
    (
        "toml",
        "[breakers.k]\nbreak_multiplier = 0",
        "breakers.k.break_multiplier",
    ),
    (
        "toml",
        "[breakers.k]\nbreak_duration = \"1m\"\nmax_break_duration = \"30s\"",
        "breakers.k.max_break_duration",
    ),
    (
        "toml",
        "[breakers.k]\nhalf_open_probes = 0",
        "breakers.k.half_open_probes",
    ),
    (
        "toml",
        "[breakers.k]\nhalf_open_probes = 70000",
        "breakers.k.half_open_probes",
    ),
    (
        "toml",
        "[breakers.k]\nsuccess_threshold = 0",
        "breakers.k.success_threshold",
    ),
    (
        "toml",
        "[breakers.k]\nhalf_open_probes = 2\nsuccess_threshold = 3",
        "breakers.k.success_threshold",
    ),
    (
        "toml",
        "[breakers.k]\nmax_half_open_wait = \"0s\"",
        "breakers.k.max_half_open_wait",
    ),
    (
        "yaml",
        "breakers:\n  k:\n    failure_rate: 150\n    detector: count",
        "breakers.k.failure_rate",
    ),
    (
        "toml",
        "[breakers.k]\nmetrics_only = \"yes\"",
        "breakers.k.metrics_only",
    ),
    // --- bulkheads -----------------------------------------------------------------
    (
        "toml",
        "[bulkheads.b]\nmax_concurrent = 0",
        "bulkheads.b.max_concurrent",
    ),
    (
        "toml",
        "[bulkheads.b]\nmax_concurrent = -1",
        "bulkheads.b.max_concurrent",
    ),
    (
        "toml",
        "[bulkheads.b]\nmax_queue = 100000",
        "bulkheads.b.max_queue",
    ),
    (
        "toml",
        "[bulkheads.b]\nmax_wait = \"forever\"",
        "bulkheads.b.max_wait",
    ),
    // --- budgets -------------------------------------------------------------------
    (
        "toml",
        "[budgets.r]\nratio_permille = -1",
        "budgets.r.ratio_permille",
    ),
    (
        "toml",
        "[budgets.r]\nmin_retries_per_sec = -1",
        "budgets.r.min_retries_per_sec",
    ),
    ("toml", "[budgets.r]\nwindow = \"0s\"", "budgets.r.window"),
    ("toml", "[budgets.r]\nwindow = \"5us\"", "budgets.r.window"),
    // --- policies ------------------------------------------------------------------
    (
        "toml",
        "[policies.p]\nbreaker = \"nope\"",
        "policies.p.breaker",
    ),
    (
        "toml",
        "[policies.p]\nbulkhead = \"nope\"",
        "policies.p.bulkhead",
    ),
    (
        "toml",
        "[policies.p]\nbudget = \"nope\"",
        "policies.p.budget",
    ),
    (
        "toml",
        "[policies.p]\nmax_attempts = 0",
        "policies.p.max_attempts",
    ),
    (
        "toml",
        "[policies.p]\nbackoff = \"fibonacci\"",
        "policies.p.backoff",
    ),
    (
        "toml",
        "[policies.p]\nbase_delay = \"2s\"\nmax_delay = \"1s\"",
        "policies.p.base_delay",
    ),
    (
        "toml",
        "[policies.p]\nmultiplier = 1.5",
        "policies.p.multiplier",
    ),
    (
        "toml",
        "[policies.p]\nmultiplier = 0.0000001",
        "policies.p.multiplier",
    ),
    (
        "toml",
        "[policies.p]\nmultiplier = 1.0000001",
        "policies.p.multiplier",
    ),
    (
        "toml",
        "[policies.p]\nbase_delay = 1979-05-27T07:32:00Z",
        "policies.p.base_delay",
    ),
    (
        "toml",
        "[policies.p]\nmultiplier = \"1/0\"",
        "policies.p.multiplier",
    ),
    (
        "toml",
        "[policies.p]\nmultiplier = \"1/2\"",
        "policies.p.multiplier",
    ),
    (
        "toml",
        "[policies.p]\nbackoff = \"constant\"\nmultiplier = \"2\"",
        "policies.p.multiplier",
    ),
    (
        "toml",
        "[policies.p]\njitter = \"chaotic\"",
        "policies.p.jitter",
    ),
    (
        "toml",
        "[policies.p]\nattempt_timeout = \"0s\"",
        "policies.p.attempt_timeout",
    ),
    (
        "toml",
        "[policies.p]\ntotal_timeout = \"soon\"",
        "policies.p.total_timeout",
    ),
    (
        "toml",
        "[policies.p]\nretry_on_timeout = \"yes\"",
        "policies.p.retry_on_timeout",
    ),
    (
        "toml",
        "[policies.p]\nmax_retry_after = \"-1s\"",
        "policies.p.max_retry_after",
    ),
    (
        "toml",
        "[policies.p]\norder = \"random\"",
        "policies.p.order",
    ),
    (
        "toml",
        "[policies.p]\nfallback = \"always\"",
        "policies.p.fallback",
    ),
    (
        "toml",
        "[policies.p]\nmax_attempts = \"forever\"",
        "policies.p.max_attempts",
    ),
    (
        "toml",
        "[policies.p]\nmax_attempts = \"unlimited\"",
        "policies.p.max_attempts",
    ),
    (
        "toml",
        "[policies.p]\nmax_attempts = 2.5",
        "policies.p.max_attempts",
    ),
    // --- top level -----------------------------------------------------------------
    ("toml", "enabled = \"maybe\"", "enabled"),
    ("toml", "default_timeout = \"0s\"", "default_timeout"),
    // --- environment (over a file with breaker, bulkhead, budget and policy `kafka`) --
    ("env", "STEADFAST_ENABLED=maybe", "STEADFAST_ENABLED"),
    (
        "env",
        "STEADFAST_DEFAULT_TIMEOUT=10",
        "STEADFAST_DEFAULT_TIMEOUT",
    ),
    (
        "env",
        "STEADFAST_KAFKA_FAILURE_RATE=150",
        "STEADFAST_KAFKA_FAILURE_RATE",
    ),
    (
        "env",
        "STEADFAST_KAFKA_BREAK_DURATION=1.5s",
        "STEADFAST_KAFKA_BREAK_DURATION",
    ),
    (
        "env",
        "STEADFAST_KAFKA_MAX_CONCURRENT=0",
        "bulkheads.kafka.max_concurrent",
    ),
    (
        "env",
        "STEADFAST_KAFKA_MULTIPLIER=1.5",
        "STEADFAST_KAFKA_MULTIPLIER",
    ),
    (
        "env",
        "STEADFAST_KAFKA_DETECTOR=sliding",
        "STEADFAST_KAFKA_DETECTOR",
    ),
    (
        "env",
        "STEADFAST_KAFKA_METRICS_ONLY=maybe",
        "STEADFAST_KAFKA_METRICS_ONLY",
    ),
    (
        "env",
        "STEADFAST_KAFKA_HALF_OPEN_PROBES=-1",
        "breakers.kafka.half_open_probes",
    ),
    ("env", "STEADFAST_KAFKA_BOGUS=1", "STEADFAST_KAFKA_BOGUS"),
    (
        "env",
        "STEADFAST_NOPE_FAILURE_THRESHOLD=3",
        "STEADFAST_NOPE_FAILURE_THRESHOLD",
    ),
    ("env", "STEADFAST_KAFKA_WINDOW=50", "STEADFAST_KAFKA_WINDOW"),
    ("env", "STEADFAST_SEED=-1", "STEADFAST_SEED"),
    ("toml", "seed = \"7\"", "seed"),
    (
        "toml",
        "[breakers.k]\nfailure_threshold = \"3\"",
        "breakers.k.failure_threshold",
    ),
];

const BASE: &str = "[breakers.kafka]\ndetector = \"count\"\n[bulkheads.kafka]\n[budgets.kafka]\n[policies.kafka]\nbreaker = \"kafka\"\n";

fn error_for(source: &str, input: &str) -> ConfigError {
    let parsed = match source {
        "toml" => PolicyFile::from_str_as(input, Format::Toml),
        "yaml" => PolicyFile::from_str_as(input, Format::Yaml),
        "file" => PolicyFile::load(input),
        "env" => {
            let mut file = PolicyFile::from_toml_str(BASE).expect("base file");
            let (var, value) = input.split_once('=').expect("VAR=value");
            file.apply_env_vars_with([(var, value)], UnknownVars::Deny)
                .map(|_| file)
        }
        _ => unreachable!("source {source}"),
    };
    match parsed.and_then(|f| f.validate().map(drop)) {
        Err(e) => e,
        Ok(()) => ConfigError::new(
            "ACCEPTED",
            format!("accepted bad input ({source}) {input:?}"),
        ),
    }
}

fn table() -> String {
    let mut out = String::from("| source | input | error |\n|---|---|---|\n");
    let mut wrong = Vec::new();
    for (source, input, key) in CASES {
        let err = error_for(source, input);
        if err.key() != *key {
            wrong.push(format!(
                "({source}) {input:?}: key {:?}, expected {key:?}: {err}",
                err.key()
            ));
            continue;
        }
        assert!(!err.message().is_empty());
        if !key.is_empty() {
            assert!(
                err.to_string().contains(key),
                "the message names the key: {err}"
            );
        }
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', "⏎ ");
        writeln!(
            out,
            "| {source} | `{}` | {} |",
            cell(input),
            cell(&err.to_string())
        )
        .unwrap();
    }
    assert!(
        wrong.is_empty(),
        "errors naming the wrong key:\n{}",
        wrong.join("\n")
    );
    out
}

#[test]
fn every_bad_input_names_its_key_and_the_docs_table_is_current() {
    let table = table();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../RELIABILITY.md");
    let doc = std::fs::read_to_string(path).expect("RELIABILITY.md");
    let (begin, end) = ("<!-- bad-input:begin -->\n", "<!-- bad-input:end -->");
    let (Some(b), Some(e)) = (doc.find(begin), doc.find(end)) else {
        panic!("RELIABILITY.md lacks the bad-input markers");
    };
    let current = &doc[b + begin.len()..e];
    if current != table {
        if std::env::var_os("BLESS").is_some() {
            let updated = format!("{}{table}{}", &doc[..b + begin.len()], &doc[e..]);
            std::fs::write(path, updated).unwrap();
        } else {
            panic!("RELIABILITY.md's bad-input table is stale: rerun with BLESS=1\n{table}");
        }
    }
}
