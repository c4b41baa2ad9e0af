//! The simulator against queueing theory and the policies' closed forms.
//!
//! Each check runs a scenario from fixed seeds and compares the estimate with
//! the closed form within a 99.9 % confidence interval: Student's t over 20
//! independent replications (whose results are independent even when the
//! calls inside one run are not), or the normal approximation over many
//! independent renewal cycles. Each check also asserts that its interval is
//! narrow enough to tell a wrong model from a right one.

// Floats are the point here: statistics on the simulator's results (never in the core).
#![allow(clippy::float_arithmetic)]

use steadfast_sim::{Report, Scenario, run};

/// Replications per estimate.
const RUNS: u64 = 20;
/// Student's t, two-sided 99.9 %, 19 degrees of freedom.
const T_999_DF19: f64 = 3.883;
/// Standard normal, two-sided 99.9 %.
const Z_999: f64 = 3.291;

/// A mean and the half-width of its 99.9 % confidence interval.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    mean: f64,
    half_width: f64,
}

impl Estimate {
    fn check(self, what: &str, expected: f64, max_relative_width: f64) {
        eprintln!(
            "{what}: simulated {:.5} ± {:.5} (99.9 %), closed form {expected:.5}",
            self.mean, self.half_width
        );
        assert!(
            (self.mean - expected).abs() <= self.half_width,
            "{what}: simulated {:.5} ± {:.5} (99.9 %), closed form {expected:.5}",
            self.mean,
            self.half_width
        );
        assert!(
            self.half_width <= max_relative_width * expected,
            "{what}: interval ±{:.5} too wide to validate {expected:.5}",
            self.half_width
        );
    }
}

fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, "validation").unwrap()
}

/// Runs `text` from seeds 1..=RUNS and estimates the mean of `measure`.
fn replicate(text: &str, measure: impl Fn(&Report) -> f64) -> Estimate {
    let mut s = scenario(text);
    let values: Vec<f64> = (1..=RUNS)
        .map(|seed| {
            s.seed = seed;
            measure(&run(&s).unwrap())
        })
        .collect();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Estimate {
        mean,
        half_width: T_999_DF19 * (variance / n).sqrt(),
    }
}

/// Erlang B: the probability that an arrival finds all `c` servers busy with
/// no queue, for `a` erlangs offered.
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Erlang C: the probability that an arrival must wait in an M/M/c queue.
fn erlang_c(c: u32, a: f64) -> f64 {
    let b = erlang_b(c, a);
    let c = f64::from(c);
    c * b / (c - a * (1.0 - b))
}

/// A bulkhead of 10 slots, Poisson arrivals at 800/s, 10 ms mean service: 8 erlangs.
fn bulkhead_scenario(service: &str, max_queue: u32) -> String {
    format!(
        r#"
        seed = 1
        duration = "12s"
        [load]
        rate = 800
        [dependency]
        latency = {service}
        [policy]
        default_timeout = "1h"
        [policy.bulkheads.pool]
        max_concurrent = 10
        max_queue = {max_queue}
        max_wait = "1h"
        [policy.policies.api]
        bulkhead = "pool"
        max_attempts = 1
        "#
    )
}

#[test]
fn bulkhead_without_queue_loses_erlang_b_whatever_the_service_distribution() {
    let expected = erlang_b(10, 8.0);
    assert!((expected - 0.1217).abs() < 1e-4, "{expected}");
    for service in [
        r#"{ distribution = "exponential", mean = "10ms" }"#,
        r#"{ distribution = "fixed", value = "10ms" }"#,
    ] {
        let text = bulkhead_scenario(service, 0);
        let loss = replicate(&text, |r| {
            assert_eq!(r.refusals.queue_wait_expired, 0);
            r.refusals.queue_full as f64 / r.offered as f64
        });
        loss.check(&format!("Erlang B loss, {service}"), expected, 0.1);
    }
}

#[test]
fn bulkhead_with_a_queue_waits_as_erlang_c_with_exponential_service() {
    // 7 erlangs on 10 slots; the 256-deep queue practically never fills.
    let text = bulkhead_scenario(r#"{ distribution = "exponential", mean = "10ms" }"#, 256)
        .replace("rate = 800", "rate = 700");
    let c = erlang_c(10, 7.0);
    assert!((c - 0.2217).abs() < 1e-3, "{c}");
    let waited = replicate(&text, |r| {
        let q = r.queue.unwrap();
        assert_eq!(r.refusals.bulkhead(), 0);
        q.waited as f64 / q.requests as f64
    });
    waited.check("Erlang C P(wait)", c, 0.1);
    // Mean wait over every request: C / (cμ − λ) = C / 300 s⁻¹.
    let wait_ms = replicate(&text, |r| {
        let q = r.queue.unwrap();
        q.wait.sum_micros as f64 / 1e3 / q.requests as f64
    });
    // The wait has a heavy right tail: its interval is wider than P(wait)'s, and 20 %
    // still tells 10 slots (0.74 ms) from 11 (0.30 ms).
    wait_ms.check("M/M/c mean queue wait (ms)", c / 300.0 * 1e3, 0.2);
}

#[test]
fn retries_amplify_the_load_by_one_minus_p_to_the_n_over_one_minus_p() {
    let (p, n) = (0.3_f64, 4);
    let text = r#"
        seed = 1
        duration = "10s"
        [load]
        rate = 500
        [dependency]
        error_rate = 0.3
        latency = { distribution = "fixed", value = "1ms" }
        fail_latency = "1ms"
        [policy]
        default_timeout = "1s"
        [policy.policies.api]
        max_attempts = 4
        backoff = "constant"
        base_delay = "1ms"
        jitter = "none"
    "#;
    let amplification = replicate(text, |r| r.attempts as f64 / r.offered as f64);
    amplification.check("attempts per call", (1.0 - p.powi(n)) / (1.0 - p), 0.01);
    let success = replicate(text, |r| r.succeeded as f64 / r.offered as f64);
    success.check("success rate", 1.0 - p.powi(n), 0.01);
}

#[test]
fn a_consecutive_breaker_trips_after_the_expected_number_of_calls() {
    // Runs of k = 5 failures at p = 1/2, one call at a time: a fresh closed
    // breaker lets (1 − pᵏ) / ((1 − p) pᵏ) = 62 calls through on average.
    let (p, k) = (0.5_f64, 5);
    let expected = (1.0 - p.powi(k)) / ((1.0 - p) * p.powi(k));
    let s = scenario(
        r#"
        seed = 5
        duration = "1500s"
        [load]
        rate = 100
        arrivals = "uniform"
        [dependency]
        error_rate = 0.5
        latency = { distribution = "fixed", value = "1ms" }
        fail_latency = "1ms"
        [policy]
        default_timeout = "1s"
        [policy.breakers.api]
        detector = "consecutive"
        failure_threshold = 5
        break_duration = "10ms"
        half_open_probes = 1
        success_threshold = 1
        [policy.policies.api]
        breaker = "api"
        max_attempts = 1
        "#,
    );
    let t = run(&s).unwrap().trips;
    assert!(t.trips > 1_500, "{t:?}");
    let n = t.trips as f64;
    let mean = t.sum as f64 / n;
    let variance = (t.sum_of_squares as f64 - n * mean * mean) / (n - 1.0);
    Estimate {
        mean,
        half_width: Z_999 * (variance / n).sqrt(),
    }
    .check("calls until the breaker trips", expected, 0.1);
}

#[test]
fn a_budget_grants_ratio_times_requests_plus_its_floor_during_an_outage() {
    // Every attempt fails and every call wants one retry: retries are limited
    // by the budget alone. Its documented grant: 100 ‰ of the 200 requests/s
    // plus the floor of 5/s = 25 retries/s. Arrivals are evenly spaced and
    // there is no jitter, so nothing is random: the tolerance is the budget's
    // granularity, a whole retry's tokens per window (10 s).
    let s = scenario(
        r#"
        seed = 1
        duration = "200s"
        bucket = "1s"
        [load]
        rate = 200
        arrivals = "uniform"
        [dependency]
        fail_latency = "1ms"
        outages = [{ start = "0s", end = "200s" }]
        [policy]
        default_timeout = "1s"
        [policy.budgets.api]
        ratio_permille = 100
        min_retries_per_sec = 5
        window = "10s"
        [policy.policies.api]
        budget = "api"
        max_attempts = 2
        backoff = "constant"
        base_delay = "1ms"
        jitter = "none"
        "#,
    );
    let r = run(&s).unwrap();
    // After the first window (which spends what the floor had saved).
    let measured = &r.series.retries[20..200];
    let seconds = measured.len() as f64;
    let rate = f64::from(measured.iter().sum::<u32>()) / seconds;
    let expected = 0.1 * 200.0 + 5.0;
    let granularity = 1.0 / 10.0;
    eprintln!("budget: {rate:.4} retries/s granted, closed form {expected} ± {granularity}");
    assert!(
        (rate - expected).abs() <= granularity,
        "{rate} retries/s granted, closed form {expected} ± {granularity}"
    );
    assert!(r.refusals.budget > 0);
    assert_eq!(
        r.refusals.budget + r.retries,
        r.offered,
        "every call either got its one retry or was refused by the budget"
    );
}

#[test]
fn callers_give_up_as_their_patience_distribution_says() {
    // Every answer takes 100 ms; patience is exponential with a 50 ms mean, so
    // a caller gives up first with probability 1 − e^(−2). Calls are
    // independent (no shared machine limits them): a binomial interval.
    let s = scenario(
        r#"
        seed = 8
        duration = "10s"
        [load]
        rate = 1000
        patience = { distribution = "exponential", mean = "50ms" }
        [dependency]
        latency = { distribution = "fixed", value = "100ms" }
        [policy]
        default_timeout = "1s"
        [policy.policies.api]
        max_attempts = 1
        "#,
    );
    let r = run(&s).unwrap();
    assert_eq!(r.abandoned + r.succeeded, r.offered);
    let p = 1.0 - (-2.0f64).exp();
    let n = r.offered as f64;
    Estimate {
        mean: r.abandoned as f64 / n,
        half_width: Z_999 * (p * (1.0 - p) / n).sqrt(),
    }
    .check("share of callers who give up", p, 0.02);
}
