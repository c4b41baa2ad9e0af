//! The rate-limit layers under paused Tokio time: exact admissions and
//! `retry_at`, refused requests never reach the service, refusals counted in
//! `rate_limit_rejections_total`, limiters from the policy file.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use metrics_exporter_prometheus::PrometheusBuilder;
use steadfast::pipeline::Reason;
use steadfast::ratelimit::Config;
use steadfast_std::config::{PolicyFile, PolicySet};
use steadfast_std::observe::MetricsObserver;
use steadfast_std::ratelimit::{KeyedRateLimiter, SharedRateLimiter};
use steadfast_std::registry::Registry;
use steadfast_std::tower::{KeyedRateLimitLayer, RateLimitLayer};
use tower::{Layer, Service, ServiceExt};

#[tokio::test(start_paused = true)]
async fn a_smooth_limiter_admits_one_call_per_interval_and_says_when() {
    let calls = Arc::new(AtomicU32::new(0));
    let limiter = SharedRateLimiter::new("api", Config::per_second(10).smooth()).unwrap();
    let mut svc = RateLimitLayer::new(limiter).layer(common::counting(calls.clone()));
    let t0 = steadfast_std::time::now();
    assert_eq!(svc.ready().await.unwrap().call(1).await, Ok(1));
    let refused = svc.ready().await.unwrap().call(2).await.unwrap_err();
    assert!(refused.retry_at().is_some());
    let Reason::RateLimited {
        retry_at: Some(retry_at),
    } = refused.reason()
    else {
        panic!("{refused:?}");
    };
    assert_eq!(
        retry_at.saturating_duration_since(t0),
        steadfast::time::Duration::from_millis(100)
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(svc.ready().await.unwrap().call(3).await, Ok(3));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the refused call never reached the service"
    );
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_limit() {
    let calls = Arc::new(AtomicU32::new(0));
    let tenants = Arc::new(KeyedRateLimiter::new("tenants", Config::per_second(2), 100).unwrap());
    let layer = KeyedRateLimitLayer::new(tenants.clone(), |n: &u32| n % 3);
    let mut svc = layer.layer(common::counting(calls.clone()));
    let mut admitted = [0u32; 3];
    for n in 0..30 {
        if svc.ready().await.unwrap().call(n).await.is_ok() {
            admitted[(n % 3) as usize] += 1;
        }
    }
    assert_eq!(admitted, [2, 2, 2]);
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    assert_eq!(tenants.len(), 3);
}

const FILE: &str = r#"
    [ratelimits.api]
    count = 2
    period = "1s"
    burst = 1
"#;

#[tokio::test(start_paused = true)]
async fn limiters_come_from_the_file_and_refusals_are_counted() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let set = PolicySet::from_toml_with_env(FILE).unwrap();
    assert_eq!(set.ratelimits["api"].burst(), 1);
    let registry =
        Registry::from_set_with_observer(&set, Arc::new(MetricsObserver::new())).unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = registry
        .rate_limit_layer("api")
        .unwrap()
        .layer(common::counting(calls.clone()));
    assert!(svc.ready().await.unwrap().call(1).await.is_ok());
    assert!(
        svc.ready()
            .await
            .unwrap()
            .call(2)
            .await
            .unwrap_err()
            .is_rejection()
    );
    assert!(
        svc.ready()
            .await
            .unwrap()
            .call(3)
            .await
            .unwrap_err()
            .is_rejection()
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(svc.ready().await.unwrap().call(4).await.is_ok());
    let text = handle.render();
    assert!(
        text.contains(r#"rate_limit_rejections_total{name="api"} 2"#),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_disabled_registry_admits_everything() {
    let set = PolicySet::from_toml_with_env(&format!("enabled = false\n{FILE}")).unwrap();
    let registry = Registry::from_set(&set).unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let mut svc = registry
        .rate_limit_layer("api")
        .unwrap()
        .layer(common::counting(calls.clone()));
    for n in 0..50 {
        assert_eq!(svc.ready().await.unwrap().call(n).await, Ok(n));
    }
}

#[test]
fn bad_limits_name_their_key_and_the_environment_overrides() {
    let key = |text: &str| {
        PolicySet::from_toml_with_env(text)
            .unwrap_err()
            .key()
            .to_owned()
    };
    assert_eq!(key("[ratelimits.r]\ncount = 0\n"), "ratelimits.r.count");
    assert_eq!(key("[ratelimits.r]\nburst = 0\n"), "ratelimits.r.burst");
    assert_eq!(
        key("[ratelimits.r]\ncount = 10\nperiod = \"9us\"\n"),
        "ratelimits.r.period"
    );
    let mut file = PolicyFile::from_toml_str(FILE).unwrap();
    file.apply_env_vars([("STEADFAST_RATELIMITS_API_COUNT", "50")])
        .unwrap();
    assert_eq!(file.validate().unwrap().ratelimits["api"].count(), 50);
}
