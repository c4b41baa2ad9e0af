//! The chaos layer under paused Tokio time: injected faults reach the layers
//! above as real ones (the breaker opens, the timeout fires), latency is
//! exact, a seed replays a drill, and a switched-off layer changes nothing.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use steadfast::breaker::Config as BreakerConfig;
use steadfast::chaos::{Config, PER_MILLION};
use steadfast_std::tower::{BreakerLayer, ChaosLayer, TimeoutLayer};
use steadfast_std::{Error, Observer, SharedBreaker};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn injected_errors_open_the_breaker_above_and_the_dependency_is_never_called() {
    let calls = Arc::new(AtomicU32::new(0));
    let breaker = SharedBreaker::new("db", BreakerConfig::new().with_failure_threshold(3)).unwrap();
    let chaos = ChaosLayer::new(
        Config::DEFAULT.with_enabled(true).with_fault(PER_MILLION),
        || "injected",
    )
    .unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(BreakerLayer::new(breaker.clone()))
        .layer(chaos)
        .service(common::counting(calls.clone()));
    for _ in 0..3 {
        let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
        assert_eq!(err, Error::operation("injected"));
    }
    let refused = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(refused.is_rejection(), "{refused:?}");
    assert_eq!(breaker.state().name(), "open");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn an_injected_hang_is_ended_by_the_timeout_above() {
    let calls = Arc::new(AtomicU32::new(0));
    let chaos = ChaosLayer::new(
        Config::DEFAULT.with_enabled(true).with_hang(PER_MILLION),
        || "unused",
    )
    .unwrap();
    let mut svc = TimeoutLayer::new(ms(250)).layer(chaos.layer(common::counting(calls.clone())));
    let started = Instant::now();
    let err = svc.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(err, Error::timed_out());
    assert_eq!(started.elapsed(), ms(250));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn injected_latency_delays_the_request_exactly_and_then_it_runs() {
    let calls = Arc::new(AtomicU32::new(0));
    let chaos = ChaosLayer::new(
        Config::DEFAULT
            .with_enabled(true)
            .with_latency(PER_MILLION, steadfast::time::Duration::from_millis(300)),
        || "unused",
    )
    .unwrap();
    let mut svc = chaos.layer(common::counting(calls.clone()));
    let started = Instant::now();
    assert_eq!(svc.ready().await.unwrap().call(7).await, Ok(7));
    assert_eq!(started.elapsed(), ms(300));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Past a timeout shorter than the delay, the request is cut off.
    let mut svc = TimeoutLayer::new(ms(100)).layer(svc);
    assert_eq!(
        svc.ready().await.unwrap().call(7).await,
        Err(Error::timed_out())
    );
}

/// Which requests (by index) fail in a drill of `n` requests seeded with `seed`.
async fn drill(seed: u64, n: u32) -> Vec<u32> {
    let chaos = ChaosLayer::new(
        Config::DEFAULT.with_enabled(true).with_fault(300_000),
        || "injected",
    )
    .unwrap()
    .with_seed(seed);
    let mut svc = chaos.layer(common::counting(Arc::new(AtomicU32::new(0))));
    let mut failed = Vec::new();
    for i in 0..n {
        if svc.ready().await.unwrap().call(i).await.is_err() {
            failed.push(i);
        }
    }
    failed
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_replays_the_same_drill() {
    let a = drill(42, 200).await;
    assert_eq!(a, drill(42, 200).await);
    assert_ne!(a, drill(43, 200).await);
    // About 30 % of 200.
    assert!((35..=85).contains(&a.len()), "{}", a.len());
}

#[derive(Default)]
struct Injections(Mutex<Vec<(String, &'static str)>>);

impl Observer for Injections {
    fn on_injection(&self, name: &str, kind: &'static str) {
        self.0.lock().unwrap().push((name.to_owned(), kind));
    }
}

#[tokio::test(start_paused = true)]
async fn every_injection_is_reported_by_kind_and_a_switched_off_layer_injects_nothing() {
    let seen = Arc::new(Injections::default());
    let calls = Arc::new(AtomicU32::new(0));
    let chaos = ChaosLayer::new(
        Config::DEFAULT
            .with_enabled(true)
            .with_outcome(PER_MILLION)
            .with_latency(PER_MILLION, steadfast::time::Duration::from_millis(5)),
        || "injected",
    )
    .unwrap()
    .with_outcome(|| Ok(99))
    .with_observer("db", seen.clone());
    let mut svc = chaos.layer(common::counting(calls.clone()));
    assert_eq!(svc.ready().await.unwrap().call(1).await, Ok(99));
    assert_eq!(
        *seen.0.lock().unwrap(),
        [("db".to_owned(), "latency"), ("db".to_owned(), "outcome")]
    );
    chaos.switch().set(false);
    assert_eq!(svc.ready().await.unwrap().call(1).await, Ok(1));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(seen.0.lock().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_default_config_never_injects() {
    let calls = Arc::new(AtomicU32::new(0));
    let chaos = ChaosLayer::new(
        Config::DEFAULT.with_fault(PER_MILLION).with_hang(0),
        || "injected",
    )
    .unwrap();
    assert!(!chaos.switch().get());
    let mut svc = chaos.layer(common::counting(calls.clone()));
    for i in 0..100 {
        assert_eq!(svc.ready().await.unwrap().call(i).await, Ok(i));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 100);
}

#[cfg(feature = "config")]
mod from_files {
    use super::*;
    use steadfast_std::config::{PolicyFile, PolicySet};
    use steadfast_std::registry::Registry;

    const FILE: &str = r#"
        [chaos.db]
        enabled = true
        fault = "2.5%"
        hang = "0.0001%"
        latency = "10%"
        delay = "300ms"
        every = "10m"
        active = "1m"

        [chaos.off]
        fault = "100%"
    "#;

    #[test]
    fn a_drill_is_read_in_parts_per_million_and_is_off_unless_enabled() {
        let set = PolicySet::from_toml_with_env(FILE).unwrap();
        let db = set.chaos["db"];
        assert!(db.enabled());
        assert_eq!((db.fault(), db.hang(), db.latency()), (25_000, 1, 100_000));
        assert_eq!(db.delay(), steadfast::time::Duration::from_millis(300));
        assert_eq!(
            db.window(),
            Some((
                steadfast::time::Duration::from_secs(600),
                steadfast::time::Duration::from_secs(60)
            ))
        );
        assert!(!set.chaos["off"].enabled());
    }

    #[test]
    fn the_environment_switches_a_drill_on() {
        let mut file = PolicyFile::from_toml_str(FILE).unwrap();
        file.apply_env_vars([("STEADFAST_CHAOS_OFF_ENABLED", "true")])
            .unwrap();
        assert!(file.validate().unwrap().chaos["off"].enabled());
    }

    #[test]
    fn bad_drills_name_their_key() {
        let key = |text: &str| {
            PolicySet::from_toml_with_env(text)
                .unwrap_err()
                .key()
                .to_owned()
        };
        assert_eq!(
            key("[chaos.d]\nfault = \"60%\"\nhang = \"50%\"\n"),
            "chaos.d.hang"
        );
        assert_eq!(key("[chaos.d]\nlatency = \"1%\"\n"), "chaos.d.delay");
        assert_eq!(key("[chaos.d]\nevery = \"1m\"\n"), "chaos.d.active");
        assert_eq!(key("[chaos.d]\nactive = \"1m\"\n"), "chaos.d.every");
        assert_eq!(
            key("[chaos.d]\nevery = \"1m\"\nactive = \"2m\"\n"),
            "chaos.d.active"
        );
        assert_eq!(key("[chaos.d]\nfault = 0.5\n"), "chaos.d.fault");
        assert_eq!(key("[chaos.d]\nfault = \"101%\"\n"), "chaos.d.fault");
        let err = PolicySet::from_toml_with_env("[chaos.d]\nfault = 0.5\n").unwrap_err();
        assert!(err.to_string().contains("\"0.5%\""), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_disabled_registry_injects_nothing_even_from_an_enabled_drill() {
        let set = PolicySet::from_toml_with_env(&format!("enabled = false\n{FILE}")).unwrap();
        let registry = Registry::from_set(&set).unwrap();
        let layer = registry.chaos_layer("db", || "injected").unwrap();
        assert!(!layer.switch().get());
        let calls = Arc::new(AtomicU32::new(0));
        let mut svc = layer.layer(common::counting(calls.clone()));
        for i in 0..200 {
            assert_eq!(svc.ready().await.unwrap().call(i).await, Ok(i));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_policy_whose_operation_runs_through_the_drill_reacts_as_to_real_faults_and_replays() {
    use steadfast::pipeline;
    use steadfast::retry;
    use steadfast_std::Policy;

    // Half the attempts fail on purpose; the same seed fails the same attempts.
    let drill = Config::DEFAULT
        .with_enabled(true)
        .with_fault(PER_MILLION / 2);
    let run = |seed: u64| async move {
        let calls = Arc::new(AtomicU32::new(0));
        let chaos = ChaosLayer::new(drill, || "injected")
            .unwrap()
            .with_seed(seed);
        let config =
            pipeline::Config::default().with_retry(retry::Config::default().with_max_attempts(3));
        let policy = Policy::builder(config).unwrap().build();
        let mut answers = Vec::new();
        for _ in 0..40 {
            let calls = calls.clone();
            let answer = policy
                .call(|| {
                    let calls = calls.clone();
                    chaos.run(move || async move {
                        calls.fetch_add(1, Ordering::Relaxed);
                        Ok::<u32, &str>(7)
                    })
                })
                .await;
            answers.push(answer.map_err(|e| e.attempts()));
        }
        (answers, calls.load(Ordering::Relaxed))
    };
    let (first, reached) = run(11).await;
    let (again, reached_again) = run(11).await;
    assert_eq!((&first, reached), (&again, reached_again));
    // The retries turned most injected faults into successes; the dependency
    // saw only the attempts the drill let through.
    let served = first.iter().filter(|a| a.is_ok()).count();
    assert!(served > 30 && served < 40, "{served}");
    // Every call served reached the dependency on its last attempt, and
    // about half of all attempts were injected.
    assert!(reached as usize >= served && reached < 80, "{reached}");
    let (other, _) = run(12).await;
    assert_ne!(first, other);
}
