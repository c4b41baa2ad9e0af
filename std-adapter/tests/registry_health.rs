//! The registry built from a policy file: lookups, manual control, the global
//! switch, the health JSON and the metrics observer.

use std::sync::Arc;
use steadfast::pipeline::Reason;

use metrics_exporter_prometheus::PrometheusBuilder;
use steadfast::breaker::State;
use steadfast_std::NoopObserver;
use steadfast_std::config::{PolicyFile, PolicySet};
use steadfast_std::health::Status;
use steadfast_std::observe::{MetricsObserver, Standard};
use steadfast_std::registry::Registry;

const FILE: &str = r#"
[breakers.kafka]
failure_threshold = 2
break_duration = "30s"

[breakers.redis]
failure_threshold = 1

[bulkheads.kafka]
max_concurrent = 2
max_queue = 0

[budgets.kafka]
ratio_permille = 100

[policies.kafka]
breaker = "kafka"
bulkhead = "kafka"
budget = "kafka"
max_attempts = 1
attempt_timeout = "none"

[policies.redis]
breaker = "redis"
max_attempts = 1
"#;

fn registry(text: &str) -> Registry {
    let set = PolicySet::from_toml_with_env(text).expect("valid");
    Registry::from_set_with_observer(&set, Arc::new(NoopObserver)).expect("built")
}

#[test]
fn lookups_by_name_share_the_machines() {
    let r = registry(FILE);
    let kafka = r.policy("kafka").expect("policy");
    assert_eq!(kafka.breaker().map(|b| b.name()), Some("kafka"));
    assert_eq!(
        kafka.bulkhead().map(|b| b.config().max_concurrent()),
        Some(2)
    );
    assert!(kafka.budget().is_some());
    assert!(r.policy("nope").is_none());
    assert_eq!(r.breaker_names().collect::<Vec<_>>(), ["kafka", "redis"]);
    assert_eq!(r.policy_names().collect::<Vec<_>>(), ["kafka", "redis"]);
    assert!(r.bulkhead("kafka").is_some() && r.budget("kafka").is_some());

    // The policy's breaker is the registry's breaker.
    for _ in 0..2 {
        let _ = kafka.call_blocking(|| Err::<(), _>("down"));
    }
    assert!(matches!(
        r.breaker("kafka").unwrap().state(),
        State::Open { .. }
    ));
    let err = kafka.call_blocking(|| Ok::<_, ()>(1)).unwrap_err();
    assert!(
        matches!(err.reason(), Reason::BreakerOpen { .. }),
        "{err:?}"
    );
}

#[test]
fn count_windows_of_any_configured_length_are_built_and_judged_at_that_length() {
    let r = registry(
        r#"
[breakers.one]
detector = "count"
window = 1
minimum_calls = 1

[breakers.fifty]
detector = "count"
window = 50
minimum_calls = 500
failure_rate = 10

[breakers.widest]
detector = "count"
window = 128
failure_rate = 100

[breakers.default]
detector = "count"

[policies.fifty]
breaker = "fifty"
max_attempts = 1
"#,
    );
    let len = |name: &str| r.breaker(name).and_then(|b| b.count_window());
    assert_eq!(len("one"), Some(1));
    assert_eq!(len("fifty"), Some(50));
    assert_eq!(len("widest"), Some(128));
    assert_eq!(len("default"), Some(steadfast_std::breaker::COUNT_WINDOW));

    // 200 successes, then failures: the window of 50 holds only the last 50
    // calls, so the 5th failure is 10 % of it (`minimum_calls` above the
    // window means a full window).
    let fifty = r.policy("fifty").unwrap();
    for _ in 0..200 {
        fifty.call_blocking(|| Ok::<_, ()>(())).unwrap();
    }
    for _ in 0..4 {
        let _ = fifty.call_blocking(|| Err::<(), _>("down"));
    }
    assert_eq!(r.breaker("fifty").unwrap().state(), State::Closed);
    let _ = fifty.call_blocking(|| Err::<(), _>("down"));
    assert!(matches!(
        r.breaker("fifty").unwrap().state(),
        State::Open { .. }
    ));
    let h = r.health();
    assert_eq!(h.circuit_breakers["fifty"], "open");
    let health = h.breakers.iter().find(|b| b.name == "fifty").unwrap();
    assert_eq!(
        (
            health.calls,
            health.successes,
            health.failures,
            health.opens
        ),
        (205, 200, 5, 1)
    );

    // A window of 1 trips on the first failure.
    let one = r.breaker("one").unwrap();
    let _ = one.call(|| Err::<(), _>("down"));
    assert!(matches!(one.state(), State::Open { .. }));
}

#[test]
fn a_hand_built_set_with_a_window_beyond_the_storage_names_the_key() {
    use steadfast_std::config::{BreakerSpec, Detector};
    let mut set = PolicySet::default();
    for window in [0, 129] {
        let spec = BreakerSpec {
            detector: Detector::Count { window },
            ..BreakerSpec::default()
        };
        set.breakers.insert("k".into(), spec);
        let err = Registry::from_set(&set).unwrap_err();
        assert_eq!(err.key(), "breakers.k.window", "{err}");
    }
}

#[test]
fn health_status_follows_the_breakers() {
    // kafka has no fallback: while it is down the instance is not ready.
    let r = registry(&FILE.replace("[breakers.kafka]", "[breakers.kafka]\ncritical = true"));
    let h = r.health();
    assert_eq!(h.status, Status::Healthy);
    assert_eq!(h.circuit_breakers["kafka"], "closed");

    let _ = r
        .policy("redis")
        .unwrap()
        .call_blocking(|| Err::<(), _>("down"));
    let h = r.health();
    assert_eq!(h.status, Status::Degraded);
    let redis = h.breakers.iter().find(|b| b.name == "redis").unwrap();
    assert_eq!((redis.state, redis.state_code), ("open", 2));
    assert_eq!((redis.calls, redis.failures, redis.opens), (1, 1, 1));
    let retry_in = redis.retry_in_ms.expect("open breakers say when");
    assert!(retry_in > 29_000 && retry_in <= 30_000, "{retry_in}");

    r.force_open("kafka").unwrap();
    let h = r.health();
    assert_eq!(h.status, Status::Unhealthy);
    assert_eq!(h.status.http_status(), 503);
    assert_eq!(h.circuit_breakers["kafka"], "forced_open");

    let json = h.to_json();
    assert!(json.starts_with(r#"{"status":"unhealthy","enabled":true,"circuit_breakers":{"kafka":"forced_open","redis":"open"},"breakers":[{"name":"kafka","state":"forced_open","state_code":2,"calls":0"#), "{json}");

    r.reset("kafka").unwrap();
    r.reset("redis").unwrap();
    assert_eq!(r.health().status, Status::Healthy);
    assert!(r.reset("nope").is_err());
}

#[test]
fn every_breaker_down_but_none_critical_is_degraded_not_unhealthy() {
    // A fallback stands in for each: readiness stays 200 and the instance in
    // rotation; liveness never looks at breakers.
    let r = registry(FILE);
    r.force_open("kafka").unwrap();
    r.force_open("redis").unwrap();
    let h = r.health();
    assert_eq!((h.status, h.status.http_status()), (Status::Degraded, 200));
    assert!(h.breakers.iter().all(|b| b.is_down() && !b.critical));
    assert_eq!(r.liveness().status, Status::Healthy);
    assert!(r.liveness().breakers.is_empty());
}

#[test]
fn critical_is_read_from_files_and_the_environment() {
    let file = FILE.replace("[breakers.redis]", "[breakers.redis]\ncritical = true");
    let set = PolicyFile::from_toml_str(&file)
        .unwrap()
        .validate()
        .unwrap();
    assert!(set.breakers["redis"].critical && !set.breakers["kafka"].critical);
    let mut file = PolicyFile::from_toml_str(FILE).unwrap();
    file.apply_env_vars([("STEADFAST_BREAKERS_KAFKA_CRITICAL", "true")])
        .unwrap();
    assert!(file.validate().unwrap().breakers["kafka"].critical);
    let err = PolicyFile::from_toml_str("[breakers.k]\ncritical = \"yes\"\n").unwrap_err();
    assert_eq!(err.key(), "breakers.k.critical", "{err}");
}

#[test]
fn disabled_registry_passes_calls_through() {
    let r = registry(&format!("enabled = false\n{FILE}"));
    assert!(!r.enabled());
    let kafka = r.policy("kafka").unwrap();
    assert!(kafka.bulkhead().is_none() && kafka.budget().is_none());
    assert_eq!(kafka.config().retry().max_attempts(), 1);
    for _ in 0..5 {
        let err = kafka.call_blocking(|| Err::<(), _>("down")).unwrap_err();
        assert!(
            matches!(err.reason(), Reason::Operation | Reason::RetriesExhausted),
            "{err:?}"
        );
    }
    let h = r.health();
    assert_eq!(h.status, Status::Healthy);
    assert!(!h.enabled);
    let kafka = h.breakers.iter().find(|b| b.name == "kafka").unwrap();
    assert_eq!(kafka.state, "disabled");
    assert_eq!(kafka.failures, 5, "a disabled breaker still counts");
}

#[test]
fn manual_control_of_a_disabled_registry_keeps_every_call_passing() {
    let r = registry(&format!("enabled = false\n{FILE}"));
    let kafka = r.policy("kafka").unwrap();
    assert_eq!(r.reset("kafka").unwrap(), None);
    assert_eq!(r.force_open("redis").unwrap(), None);
    for name in ["kafka", "redis"] {
        assert_eq!(r.breaker(name).unwrap().state(), State::Disabled, "{name}");
    }
    // Well past kafka's failure threshold of 2: still straight through.
    for _ in 0..5 {
        let err = kafka.call_blocking(|| Err::<(), _>("down")).unwrap_err();
        assert!(!err.is_rejection(), "{err:?}");
    }
    let redis = r.policy("redis").unwrap();
    assert_eq!(redis.call_blocking(|| Ok::<_, ()>(7)).unwrap(), 7);
    assert_eq!(r.health().circuit_breakers["kafka"], "disabled");
}

#[test]
fn a_policys_rate_limiter_refusals_are_counted_under_the_policy() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let text = r#"
[ratelimits.uplink]
count = 1
period = "1m"
burst = 1
[policies.telemetry]
ratelimit = "uplink"
max_attempts = 1
"#;
        let set = PolicySet::from_toml_with_env(text).expect("valid");
        let r = Registry::from_set_with_observer(&set, Arc::new(Standard)).expect("built");
        let policy = r.policy("telemetry").unwrap();
        assert!(policy.call_blocking(|| Ok::<_, ()>(1)).is_ok());
        for _ in 0..3 {
            let refused = policy.call_blocking(|| Ok::<_, ()>(1)).unwrap_err();
            assert!(matches!(refused.reason(), Reason::RateLimited { .. }));
        }
        let text = handle.render();
        assert!(
            text.contains(r#"rate_limit_rejections_total{name="telemetry"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"rate_limit_rejections_total{name="uplink"} 0"#),
            "{text}"
        );
    });
}

#[test]
fn every_admission_latency_and_drill_series_exists_at_zero_from_start_up() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let text = r#"
[ratelimits.api]
count = 10
[throttles.api]
[adaptive_limits.db]
[hedges.search]
delay = "50ms"
[chaos.drill]
[caches.quotes]
"#;
        let set = PolicySet::from_toml_with_env(text).expect("valid");
        let _r = Registry::from_set_with_observer(&set, Arc::new(Standard)).expect("built");
        let text = handle.render();
        for series in [
            r#"rate_limit_rejections_total{name="api"} 0"#,
            r#"throttle_rejections_total{name="api"} 0"#,
            r#"adaptive_limit_rejections_total{name="db"} 0"#,
            r#"hedges_started_total{name="search"} 0"#,
            r#"hedge_wins_total{name="search"} 0"#,
            r#"chaos_injections_total{name="drill",kind="error"} 0"#,
            r#"chaos_injections_total{name="drill",kind="latency"} 0"#,
            r#"fallback_invocations_total{name="quotes"} 0"#,
        ] {
            assert!(
                text.contains(series),
                "{series} missing at start-up:\n{text}"
            );
        }
    });
}

#[test]
fn metrics_use_the_seeds_names() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let _ = MetricsObserver::new();
        let set = PolicySet::from_toml_with_env(FILE).expect("valid");
        let r = Registry::from_set_with_observer(&set, Arc::new(Standard)).expect("built");
        // Before any call, every series exists at 0.
        let text = handle.render();
        for series in [
            r#"circuit_breaker_state{name="redis"} 0"#,
            r#"circuit_breaker_opened_total{name="redis"} 0"#,
            r#"circuit_breaker_rejections_total{name="redis"} 0"#,
            r#"retry_attempts_total{name="redis"} 0"#,
            r#"timeout_errors_total{name="redis"} 0"#,
            r#"fallback_invocations_total{name="redis"} 0"#,
            r#"bulkhead_rejections_total{name="redis"} 0"#,
            r#"bulkhead_in_flight{name="kafka"} 0"#,
            r#"bulkhead_queued{name="kafka"} 0"#,
        ] {
            assert!(
                text.contains(series),
                "{series} missing at start-up:\n{text}"
            );
        }
        let redis = r.policy("redis").unwrap();
        let _ = redis.call_blocking(|| Err::<(), _>("down"));
        let _ = redis.call_blocking(|| Ok::<_, &str>(()));
        let text = handle.render();
        assert!(
            text.contains(r#"circuit_breaker_state{name="redis"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"circuit_breaker_state{name="kafka"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"circuit_breaker_opened_total{name="redis"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"circuit_breaker_rejections_total{name="redis"} 1"#),
            "{text}"
        );
        r.reset("redis").unwrap();
        let text = handle.render();
        assert!(
            text.contains(r#"circuit_breaker_state{name="redis"} 0"#),
            "{text}"
        );
    });
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn health_shows_a_time_window_as_of_the_snapshot_even_after_a_silence() {
    let r = registry(
        r#"
[breakers.search]
detector = "time"
window = "10s"
minimum_calls = 100

[policies.search]
breaker = "search"
max_attempts = 1
"#,
    );
    let search = r.policy("search").unwrap();
    for ok in [false, false, true, false] {
        let _ = search
            .call(|| async move { if ok { Ok(()) } else { Err("down") } })
            .await;
    }
    let window = |r: &Registry| r.health().breakers[0].window;
    assert_eq!((window(&r).calls, window(&r).failures), (4, 3));
    assert_eq!(window(&r).failure_percent, 75);
    assert!(r.health().to_json().contains(
        r#""window":{"calls":4,"failures":3,"slow_calls":0,"failure_percent":75,"slow_percent":0}"#
    ));

    // No call for 11 s: the failures have left the window, the totals stay.
    tokio::time::advance(std::time::Duration::from_secs(11)).await;
    assert_eq!(window(&r).calls, 0);
    assert_eq!(window(&r).failure_percent, 0);
    assert_eq!(r.health().breakers[0].failures, 3);
    assert_eq!(r.breaker("search").unwrap().counts().failures, 0);
}

#[test]
fn a_metrics_only_breaker_reports_open_but_never_rejects_nor_counts_as_down() {
    let r = registry(
        r#"
[breakers.shadow]
failure_threshold = 2
metrics_only = true

[policies.shadow]
breaker = "shadow"
max_attempts = 1
"#,
    );
    let shadow = r.policy("shadow").unwrap();
    for _ in 0..2 {
        let _ = shadow.call_blocking(|| Err::<(), _>("down"));
    }
    let breaker = r.breaker("shadow").unwrap();
    assert!(matches!(breaker.state(), State::Open { .. }));
    // Open, yet every call runs.
    for _ in 0..3 {
        assert_eq!(shadow.call_blocking(|| Ok::<_, ()>(7)).unwrap(), 7);
    }
    let h = r.health();
    assert_eq!(h.circuit_breakers["shadow"], "open");
    assert_eq!(h.status, Status::Healthy);
    let b = &h.breakers[0];
    assert!(b.metrics_only && !b.is_down());
    assert_eq!((b.calls, b.rejections, b.opens), (5, 3, 1));
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn unlimited_attempts_retry_until_the_total_timeout() {
    let r = registry(
        r#"
[policies.forever]
max_attempts = "unlimited"
total_timeout = "1s"
backoff = "constant"
base_delay = "100ms"
jitter = "none"
attempt_timeout = "none"
"#,
    );
    let policy = r.policy("forever").unwrap();
    let start = tokio::time::Instant::now();
    let mut tries = 0u32;
    let result = policy
        .call(|| {
            tries += 1;
            async { Err::<(), _>("down") }
        })
        .await;
    assert!(result.is_err());
    // Attempts at 0, 100, …, 900 ms; a retry at 1 000 ms would start at the deadline.
    assert_eq!(tries, 10);
    assert!(start.elapsed() <= std::time::Duration::from_secs(1));
}

#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn the_tower_path_reports_to_the_registry_observer_as_policies_do() {
    use tower::{Layer, ServiceExt, service_fn};

    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let _ = MetricsObserver::new();
    let set = PolicySet::from_toml_with_env(FILE).expect("valid");
    let r = Registry::from_set_with_observer(&set, Arc::new(Standard)).expect("built");
    // kafka: 2 failures in a row open it for 30 s.
    let svc = r
        .breaker_layer("kafka")
        .expect("a kafka breaker")
        .layer(service_fn(|fail: bool| async move {
            if fail { Err("down") } else { Ok(()) }
        }));
    for _ in 0..2 {
        let _ = svc.clone().oneshot(true).await;
    }
    assert!(matches!(
        r.breaker("kafka").unwrap().state(),
        State::Open { .. }
    ));
    let refused = svc.clone().oneshot(false).await.unwrap_err();
    assert!(refused.is_rejection());
    let text = handle.render();
    for series in [
        r#"circuit_breaker_state{name="kafka"} 2"#,
        r#"circuit_breaker_opened_total{name="kafka"} 1"#,
        r#"circuit_breaker_rejections_total{name="kafka"} 1"#,
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    // After the break, the probe's half-open and its success's close are seen too.
    tokio::time::advance(std::time::Duration::from_secs(30)).await;
    svc.clone().oneshot(false).await.unwrap();
    let text = handle.render();
    assert!(
        text.contains(r#"circuit_breaker_state{name="kafka"} "#),
        "{text}"
    );
    let state = r.breaker("kafka").unwrap().state();
    let code = steadfast_std::observe::state_code(&state);
    assert!(
        text.contains(&format!(r#"circuit_breaker_state{{name="kafka"}} {code}"#)),
        "gauge not {code} ({state:?}):\n{text}"
    );
    assert_ne!(code, 2, "still open after a successful probe");
}

#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn retry_bulkhead_and_timeout_layers_report_to_the_registry_observer() {
    use std::time::Duration;
    use tower::{Layer, ServiceExt, service_fn};

    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let set = PolicySet::from_toml_with_env(
        r#"
[bulkheads.pool]
max_concurrent = 1
max_queue = 0

[policies.search]
max_attempts = 3
base_delay = "100ms"
jitter = "none"
attempt_timeout = "1s"
"#,
    )
    .expect("valid");
    let r = Registry::from_set_with_observer(&set, Arc::new(Standard)).expect("built");
    let retry = r.retry_layer("search").expect("a search policy");
    let timeout = r.timeout_layer("search").expect("an attempt timeout");
    let pool = r.bulkhead_layer("pool").expect("a pool bulkhead");
    assert_eq!(timeout.timeout(), Duration::from_secs(1));

    // Series exist from the layers' construction.
    let text = handle.render();
    for series in [
        r#"retry_attempts_total{name="search"} 0"#,
        r#"timeout_errors_total{name="search"} 0"#,
        r#"bulkhead_rejections_total{name="pool"} 0"#,
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }

    // Retry: 3 attempts, 2 retries, one latency sample of 300 ms (100 + 200 ms backoff).
    let down = retry.layer(service_fn(|_: ()| async { Err::<(), _>("down") }));
    assert!(down.oneshot(()).await.is_err());
    // Timeout: a hung dependency is cut off at 1 s.
    let hung = timeout.layer(service_fn(|_: ()| std::future::pending::<Result<(), ()>>()));
    assert!(hung.oneshot(()).await.unwrap_err().reason() == Reason::AttemptTimedOut);
    // Bulkhead: one slot held, the next request refused; gauges follow.
    let svc = pool.layer(service_fn(|_: ()| std::future::pending::<Result<(), ()>>()));
    let held = svc.clone().oneshot(());
    let mut held = Box::pin(held);
    assert!(futures_poll_once(held.as_mut()).await.is_none());
    assert!(svc.clone().oneshot(()).await.unwrap_err().is_rejection());
    let text = handle.render();
    for series in [
        r#"retry_attempts_total{name="search"} 2"#,
        r#"call_duration_seconds_count{name="search"} 1"#,
        r#"call_duration_seconds_sum{name="search"} 0.3"#,
        r#"timeout_errors_total{name="search"} 1"#,
        r#"bulkhead_rejections_total{name="pool"} 1"#,
        r#"bulkhead_in_flight{name="pool"} 1"#,
        r#"bulkhead_queued{name="pool"} 0"#,
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    drop(held);
    assert!(
        handle
            .render()
            .contains(r#"bulkhead_in_flight{name="pool"} 0"#),
        "{}",
        handle.render()
    );
}

/// Polls `f` once: its output if it was ready.
#[cfg(feature = "tower")]
async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
    let mut f = f;
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[cfg(feature = "tokio")]
#[tokio::test(start_paused = true)]
async fn policies_report_latency_and_bulkhead_occupancy() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let r = Registry::from_set_with_observer(
        &PolicySet::from_toml_with_env(FILE).expect("valid"),
        Arc::new(Standard),
    )
    .expect("built");
    let kafka = r.policy("kafka").unwrap();
    let running = tokio::spawn({
        let kafka = kafka.clone();
        async move {
            kafka
                .call(|| async {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    Ok::<_, ()>(())
                })
                .await
        }
    });
    tokio::task::yield_now().await;
    assert!(
        handle
            .render()
            .contains(r#"bulkhead_in_flight{name="kafka"} 1"#),
        "{}",
        handle.render()
    );
    running.await.unwrap().unwrap();
    let text = handle.render();
    for series in [
        r#"bulkhead_in_flight{name="kafka"} 0"#,
        r#"bulkhead_queued{name="kafka"} 0"#,
        r#"call_duration_seconds_count{name="kafka"} 1"#,
        r#"call_duration_seconds_sum{name="kafka"} 0.25"#,
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
}
