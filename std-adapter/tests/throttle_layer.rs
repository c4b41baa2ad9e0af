//! The adaptive throttle layer under paused Tokio time: a backend that
//! refuses everything is spared almost every request, a healthy one sees no
//! local refusal, the window forgets, refusals are counted in
//! `throttle_rejections_total`, throttles come from the policy file.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use metrics_exporter_prometheus::PrometheusBuilder;
use steadfast::pipeline::Reason;
use steadfast::throttle::Config;
use steadfast::time::Duration;
use steadfast_std::config::{PolicyFile, PolicySet};
use steadfast_std::observe::MetricsObserver;
use steadfast_std::registry::Registry;
use steadfast_std::throttle::SharedThrottle;
use steadfast_std::tower::ThrottleLayer;
use tower::{Layer, Service, ServiceExt};

/// A backend that serves a request when `serve(n)` says so (`n` counts the
/// requests it saw, from 0), else answers "503".
fn backend(
    seen: Arc<AtomicU32>,
    serve: fn(u32) -> bool,
) -> impl Service<u32, Response = u32, Error = &'static str, Future: Send> + Clone {
    tower::service_fn(move |req: u32| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move { if serve(n) { Ok(req) } else { Err("503") } }
    })
}

/// Sends `n` requests one after another; counts those refused locally.
async fn send<S>(svc: &mut S, n: u32) -> u32
where
    S: Service<u32, Error = steadfast_std::Error<&'static str>>,
{
    let mut refused = 0;
    for i in 0..n {
        match svc.ready().await.ok().map(|s| s.call(i)) {
            Some(call) => {
                if let Err(e) = call.await
                    && e.reason() == Reason::Throttled
                {
                    assert!(e.is_rejection());
                    refused += 1;
                }
            }
            None => unreachable!("the backend is always ready"),
        }
    }
    refused
}

#[tokio::test(start_paused = true)]
async fn a_backend_refusing_everything_is_spared_almost_every_request() {
    let seen = Arc::new(AtomicU32::new(0));
    let throttle = SharedThrottle::new("api", Config::new())
        .unwrap()
        .with_seed(11);
    let mut svc = ThrottleLayer::new(throttle.clone()).layer(backend(seen.clone(), |_| false));
    let refused = send(&mut svc, 1_000).await;
    // With no accepts, request n goes out with probability 1 / (n + 1): about
    // ln(1000) + 0.58 ≈ 7.5 of 1000, standard deviation about 2.4.
    let sent = seen.load(Ordering::SeqCst);
    assert_eq!(sent + refused, 1_000);
    assert!((2..=20).contains(&sent), "{sent} reached the backend");
    assert_eq!(throttle.counts(), (1_000, 0));
    assert!(throttle.reject_permille() >= 998);
}

#[tokio::test(start_paused = true)]
async fn a_healthy_backend_sees_no_local_refusal() {
    let seen = Arc::new(AtomicU32::new(0));
    let throttle = SharedThrottle::new("api", Config::new())
        .unwrap()
        .with_seed(5);
    let mut svc = ThrottleLayer::new(throttle.clone()).layer(backend(seen.clone(), |_| true));
    assert_eq!(send(&mut svc, 1_000).await, 0);
    assert_eq!(seen.load(Ordering::SeqCst), 1_000);
    assert_eq!(throttle.counts(), (1_000, 1_000));
}

#[tokio::test(start_paused = true)]
async fn a_backend_serving_half_with_k_two_is_not_throttled_and_the_window_forgets() {
    let seen = Arc::new(AtomicU32::new(0));
    let throttle = SharedThrottle::new("api", Config::new().with_window(Duration::from_secs(12)))
        .unwrap()
        .with_seed(9);
    // Serves every other request: requests ≈ 2 × accepts, so K = 2 refuses
    // (almost) nothing.
    let mut svc = ThrottleLayer::new(throttle.clone()).layer(backend(seen.clone(), |n| n % 2 == 0));
    let refused = send(&mut svc, 1_000).await;
    assert!(refused <= 10, "{refused} refused");

    // Refusing everything for a while raises the odds...
    let mut down = ThrottleLayer::new(throttle.clone()).layer(backend(seen.clone(), |_| false));
    send(&mut down, 2_000).await;
    assert!(throttle.reject_permille() > 500);
    // ...and a window later they are forgotten.
    tokio::time::advance(std::time::Duration::from_secs(13)).await;
    assert_eq!(throttle.reject_permille(), 0);
    assert_eq!(throttle.counts(), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_request_counts_as_not_accepted_and_a_refusal_never_reaches_the_backend() {
    let seen = Arc::new(AtomicU32::new(0));
    let throttle = SharedThrottle::new("api", Config::new())
        .unwrap()
        .with_seed(2);
    let mut svc = ThrottleLayer::new(throttle.clone()).layer(backend(seen.clone(), |_| true));
    let future = svc.ready().await.unwrap().call(1);
    drop(future);
    assert_eq!(throttle.counts(), (1, 0));
    // Refused calls: counted as requests, the backend not called.
    let mut refused_down =
        ThrottleLayer::new(throttle.clone()).layer(backend(seen.clone(), |_| false));
    let before = seen.load(Ordering::SeqCst);
    let refused = send(&mut refused_down, 100).await;
    assert_eq!(seen.load(Ordering::SeqCst) - before + refused, 100);
}

const FILE: &str = r#"
[throttles.api]
k = 1.5
window = "30s"
max_reject = "90%"
"#;

#[tokio::test(start_paused = true)]
async fn throttles_come_from_the_file_and_refusals_are_counted() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let set = PolicySet::from_toml_with_env(FILE).unwrap();
    let config = set.throttles["api"];
    assert_eq!(
        (
            config.k_permille(),
            config.window(),
            config.max_reject_permille()
        ),
        (1_500, Duration::from_secs(30), 900)
    );
    let registry =
        Registry::from_set_with_observer(&set, Arc::new(MetricsObserver::new())).unwrap();
    let seen = Arc::new(AtomicU32::new(0));
    let mut svc = registry
        .throttle_layer("api")
        .unwrap()
        .layer(backend(seen.clone(), |_| false));
    let refused = send(&mut svc, 1_000).await;
    // Capped at 90 %: about a tenth still reaches the backend.
    let sent = seen.load(Ordering::SeqCst);
    assert!((60..=140).contains(&sent), "{sent} reached the backend");
    let text = handle.render();
    assert!(
        text.contains(&format!(
            r#"throttle_rejections_total{{name="api"}} {refused}"#
        )),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_disabled_registry_admits_everything() {
    let set = PolicySet::from_toml_with_env(&format!("enabled = false\n{FILE}")).unwrap();
    let registry = Registry::from_set(&set).unwrap();
    let seen = Arc::new(AtomicU32::new(0));
    let mut svc = registry
        .throttle_layer("api")
        .unwrap()
        .layer(backend(seen.clone(), |_| false));
    assert_eq!(send(&mut svc, 500).await, 0);
    assert_eq!(seen.load(Ordering::SeqCst), 500);
}

#[test]
fn bad_settings_name_their_key_and_the_environment_overrides() {
    let error = |text: &str| PolicySet::from_toml_with_env(text).unwrap_err().to_string();
    assert_eq!(
        error("[throttles.t]\nk = 0.5\n"),
        "throttles.t.k: must be at least 1"
    );
    assert!(
        error("[throttles.t]\nwindow = \"5us\"\n")
            .starts_with("throttles.t.window: must be at least 12 microseconds"),
        "{}",
        error("[throttles.t]\nwindow = \"5us\"\n")
    );
    assert!(
        error("[throttles.t]\nmax_reject = \"50.05%\"\n")
            .starts_with("throttles.t.max_reject: at most one decimal"),
        "{}",
        error("[throttles.t]\nmax_reject = \"50.05%\"\n")
    );
    let mut file = PolicyFile::from_toml_str(FILE).unwrap();
    file.apply_env_vars([("STEADFAST_THROTTLES_API_K", "3")])
        .unwrap();
    assert_eq!(
        file.validate().unwrap().throttles["api"].k_permille(),
        3_000
    );
}
