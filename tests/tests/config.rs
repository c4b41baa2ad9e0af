//! Scenario and policy parsing: the std adapter's key names, errors that name
//! the key.

use steadfast::time::Duration;
use steadfast_sim::Scenario;

const BASE: &str = r#"
seed = 1
duration = "10s"
[load]
rate = 10
"#;

fn parse(extra: &str) -> Result<Scenario, String> {
    Scenario::from_toml(&format!("{BASE}{extra}"), "t")
}

#[test]
fn a_full_policy_file_resolves() {
    let s = parse(
        r#"
[policy]
default_timeout = "2s"
[policy.breakers.kafka]
detector = "time"
window = "20s"
minimum_calls = 10
failure_rate = 40
slow_call_duration = "2s"
slow_call_rate = 90
break_duration = "10s"
break_multiplier = 2
max_break_duration = "1m"
half_open_probes = 4
success_threshold = 2
max_half_open_wait = "15s"
[policy.bulkheads.kafka]
max_concurrent = 8
max_queue = 16
max_wait = "250ms"
[policy.budgets.kafka]
ratio_permille = 200
min_retries_per_sec = 10
window = "10s"
[policy.policies.kafka]
breaker = "kafka"
bulkhead = "kafka"
budget = "kafka"
max_attempts = 5
backoff = "exponential"
base_delay = "100ms"
max_delay = "5s"
multiplier = "3/2"
jitter = "proportional:10"
total_timeout = "30s"
retry_on_timeout = false
max_retry_after = "10s"
order = "bulkhead_outermost"
fallback = "rejection"
"#,
    )
    .unwrap();
    let p = &s.policy;
    assert_eq!(p.name, "kafka");
    assert_eq!(p.pipeline.retry().max_attempts(), 5);
    assert_eq!(p.pipeline.timeout().attempt(), Some(Duration::from_secs(2)));
    assert_eq!(p.pipeline.timeout().total(), Some(Duration::from_secs(30)));
    let b = p.breaker.as_ref().unwrap();
    assert_eq!(b.config.window_duration(), Duration::from_secs(20));
    assert_eq!(b.config.max_probes(), 4);
    assert_eq!(p.bulkhead.unwrap().max_queue(), 16);
    let Some(steadfast::retry::AnyBudgetConfig::Ratio(budget)) = p.budget else {
        panic!("a ratio budget: {:?}", p.budget)
    };
    assert_eq!(budget.ratio_permille(), 200);
    steadfast_sim::run(&s).unwrap();
}

#[test]
fn errors_name_the_key() {
    let e = parse("[policy.policies.a]\ndetector = \"count\"\n").unwrap_err();
    assert!(e.contains("policies.a.detector"), "{e}");
    let e = parse("[policy.breakers.kafka]\nfailure_rate = 150\ndetector = \"count\"\n[policy.policies.a]\nbreaker = \"kafka\"\n").unwrap_err();
    assert!(e.contains("breakers.kafka"), "{e}");
    let e = parse("[policy.policies.a]\nbase_delay = \"1.5s\"\n").unwrap_err();
    assert!(e.contains("policies.a.base_delay"), "{e}");
    let e = parse("[policy.policies.a]\nbreaker = \"nope\"\n").unwrap_err();
    assert!(e.contains("policies.a.breaker"), "{e}");
    let e = parse("[dependency]\nerror_rate = 2.0\n").unwrap_err();
    assert!(e.contains("dependency.error_rate"), "{e}");
    let e = parse("[dependency]\nlatency_median = \"fast\"\n").unwrap_err();
    assert!(e.contains("fast"), "{e}");
}

#[test]
fn disabled_means_straight_through() {
    let s = parse(
        "[policy]\nenabled = false\n[policy.breakers.b]\n[policy.policies.a]\nbreaker = \"b\"\n",
    )
    .unwrap();
    assert!(s.policy.breaker.is_none());
    assert_eq!(s.policy.pipeline.retry().max_attempts(), 1);
}

#[test]
fn closed_loop_clients_and_hangs_run() {
    let s = Scenario::from_toml(
        r#"
seed = 3
duration = "20s"
[load]
clients = 10
think = "10ms"
[dependency]
outages = [{ start = "5s", end = "10s", mode = "hang" }]
hang = "none"
[policy.policies.a]
attempt_timeout = "200ms"
max_attempts = 2
"#,
        "t",
    )
    .unwrap();
    let r = steadfast_sim::run(&s).unwrap();
    assert!(r.attempt_timeouts > 0);
    assert_eq!(r.unfinished, 0, "timeouts end every hung call");
    assert!(r.latency.max <= Duration::from_millis(200 * 2 + 200));
}

#[test]
fn count_windows_of_any_length_up_to_128_run() {
    for window in [1usize, 37, 128] {
        let s = parse(&format!(
            "[policy.breakers.b]\ndetector = \"count\"\nwindow = {window}\n[policy.policies.a]\nbreaker = \"b\"\n"
        ))
        .unwrap();
        let b = s.policy.breaker.as_ref().unwrap();
        assert_eq!(b.detector, steadfast_sim::policy::Detector::Count(window));
        steadfast_sim::run(&s).unwrap();
    }
    let e = parse("[policy.breakers.b]\ndetector = \"count\"\nwindow = 129\n[policy.policies.a]\nbreaker = \"b\"\n").unwrap_err();
    assert!(e.contains("breakers.b.window"), "{e}");
}
