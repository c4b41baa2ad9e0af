//! `cache::LastGood` through `Policy::call_cached` and
//! `Policy::call_blocking_cached`, as timelines on paused Tokio time: a value
//! stored at t is served stale at t + x while the breaker is open, refused
//! once older than the maximum staleness, never served when the call
//! succeeds; the fallback rule and the classifier decide what is served and
//! what is stored; fallbacks are reported under the cache's name.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use steadfast::breaker::{Config as BreakerConfig, State};
use steadfast::outcome::Verdict;
use steadfast::pipeline::{self, Event, Failure, FallbackOn, Reason};
use steadfast::retry;
use steadfast::time::Duration;
use steadfast_std::cache::{Cached, LastGood};
use steadfast_std::{Observer, Policy, SharedBreaker};
use tokio::time::advance;

const MAX_STALENESS: Duration = Duration::from_secs(300);

fn secs(n: u64) -> StdDuration {
    StdDuration::from_secs(n)
}

/// One attempt per call, so a failure ends the pipeline at once.
fn once(fallback: FallbackOn) -> pipeline::Config {
    pipeline::Config::default()
        .with_retry(retry::Config::default().with_max_attempts(1))
        .with_fallback(fallback)
}

fn cache() -> LastGood<&'static str, u32> {
    LastGood::new("catalog-cache", 100, MAX_STALENESS).unwrap()
}

/// Fallbacks reported under a name, and by the policy's default route.
#[derive(Default)]
struct Fallbacks {
    named: Mutex<Vec<(String, String, Reason)>>,
    unnamed: AtomicU32,
}

impl Observer for Fallbacks {
    fn on_event(&self, _policy: &str, _breaker: Option<&str>, event: &Event) {
        if matches!(event, Event::Fallback(_)) {
            self.unnamed.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn on_fallback(&self, policy: &str, _: Option<&str>, fallback: &str, failure: &Failure) {
        let entry = (policy.to_owned(), fallback.to_owned(), failure.reason);
        self.named.lock().unwrap().push(entry);
    }
}

#[tokio::test(start_paused = true)]
async fn stored_at_t_served_stale_while_open_refused_past_max_staleness() {
    let breaker = SharedBreaker::new(
        "catalog",
        BreakerConfig::new()
            .with_failure_threshold(2)
            .with_break_duration(Duration::from_secs(30)),
    )
    .unwrap();
    let policy = Policy::builder(once(FallbackOn::AnyFailure))
        .unwrap()
        .name("catalog")
        .breaker(breaker.clone())
        .build();
    let events = cache();
    let calls = AtomicU32::new(0);
    let down = || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err::<u32, &str>("catalog down") }
    };

    // t = 0: a fresh success is stored and answered as fresh.
    let fresh = policy.call_cached(&events, "concerts", || async { Ok::<u32, &str>(42) });
    assert_eq!(fresh.await, Ok(Cached::fresh(42)));

    // t = 10 s: the catalog fails twice; both failures are answered from the
    // cache, and the breaker opens.
    advance(secs(10)).await;
    for _ in 0..2 {
        let served = policy.call_cached(&events, "concerts", down).await;
        assert_eq!(served, Ok(Cached::from_cache(42, Duration::from_secs(10))));
    }
    assert!(matches!(breaker.state(), State::Open { .. }));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // t = 25 s: refused by the open breaker, the operation is not called and
    // the value, now 25 s old, is served.
    advance(secs(15)).await;
    let served = policy.call_cached(&events, "concerts", down).await;
    assert_eq!(served, Ok(Cached::from_cache(42, Duration::from_secs(25))));
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // t = 300 s: exactly the maximum staleness, still served (the breaker
    // probes and fails again meanwhile, each time answered from the cache).
    advance(secs(275)).await;
    let served = policy.call_cached(&events, "concerts", down).await.unwrap();
    assert_eq!(
        (served.value, served.stale, served.age),
        (42, true, MAX_STALENESS)
    );

    // t = 301 s: older than the maximum staleness, never served: the call's
    // own error (here the breaker's refusal) is returned.
    advance(secs(1)).await;
    let refused = policy.call_cached(&events, "concerts", down).await;
    let error = refused.unwrap_err();
    assert!(error.is_rejection(), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_success_is_always_fresh_and_refreshes_the_cache() {
    let policy = Policy::builder(once(FallbackOn::AnyFailure))
        .unwrap()
        .build();
    let prices = cache();
    prices.store("AAPL", 1);
    advance(secs(100)).await;

    // The cache holds a value, but the call succeeds: its value is the answer.
    let answer = policy
        .call_cached(&prices, "AAPL", || async { Ok::<u32, ()>(2) })
        .await;
    assert_eq!(answer, Ok(Cached::fresh(2)));

    // And it is the new last good value, aged from now.
    advance(secs(5)).await;
    let served = policy
        .call_cached(&prices, "AAPL", || async { Err(()) })
        .await;
    assert_eq!(served, Ok(Cached::from_cache(2, Duration::from_secs(5))));
}

#[tokio::test(start_paused = true)]
async fn the_fallback_rule_decides_which_failures_are_served() {
    let breaker = SharedBreaker::new("geo", BreakerConfig::new()).unwrap();
    let policy = Policy::builder(once(FallbackOn::Rejection))
        .unwrap()
        .breaker(breaker.clone())
        .build();
    let cities = cache();
    let fresh = policy.call_cached(&cities, "75001", || async { Ok::<u32, &str>(7) });
    assert!(!fresh.await.unwrap().stale);

    // An operation failure is not a rejection: the error, not the cache.
    let failed = policy
        .call_cached(&cities, "75001", || async { Err("geo down") })
        .await;
    assert_eq!(failed.unwrap_err().into_operation(), Some("geo down"));

    // A refusal by the breaker is: served.
    let _ = breaker.force_open();
    let served = policy
        .call_cached(&cities, "75001", || async { Err("geo down") })
        .await;
    assert_eq!(served, Ok(Cached::from_cache(7, Duration::ZERO)));

    // Another key has no value: the refusal is returned.
    let other = policy
        .call_cached(&cities, "69001", || async { Err("geo down") })
        .await;
    assert!(other.unwrap_err().is_rejection());
}

#[tokio::test(start_paused = true)]
async fn a_value_the_classifier_fails_is_answered_but_never_stored() {
    // 503 is a value the classifier calls a failure, not worth retrying.
    let classify = |r: &Result<u32, ()>| match r {
        Ok(503) | Err(_) => Verdict::failure().not_retryable(),
        Ok(_) => Verdict::success(),
    };
    let policy = Policy::builder(once(FallbackOn::Rejection))
        .unwrap()
        .classifier(classify)
        .build();
    let statuses: LastGood<&str, u32> = cache();

    // Not covered by the fallback rule: the caller gets the value, fresh,
    // and it is not stored.
    let answer = policy
        .call_cached(&statuses, "health", || async { Ok(503) })
        .await;
    assert_eq!(answer, Ok(Cached::fresh(503)));
    assert!(statuses.get(&"health").is_none());

    // A success is stored.
    let ok = policy
        .call_cached(&statuses, "health", || async { Ok(200) })
        .await;
    assert_eq!(ok, Ok(Cached::fresh(200)));
    assert_eq!(statuses.get(&"health").map(Cached::into_value), Some(200));
}

#[tokio::test(start_paused = true)]
async fn fallbacks_are_reported_under_the_cache_name_only_when_one_can_be_served() {
    let observer = Arc::new(Fallbacks::default());
    let policy = Policy::builder(once(FallbackOn::AnyFailure))
        .unwrap()
        .name("catalog")
        .observer(observer.clone())
        .build();
    let events = cache();
    let down = || async { Err::<u32, ()>(()) };

    // Nothing cached: no fallback can run, none is reported.
    assert!(policy.call_cached(&events, "concerts", down).await.is_err());
    assert!(observer.named.lock().unwrap().is_empty());

    // A value cached: the fallback is reported once, under the cache's name.
    let _ = policy
        .call_cached(&events, "concerts", || async { Ok::<u32, ()>(1) })
        .await;
    assert!(
        policy
            .call_cached(&events, "concerts", down)
            .await
            .unwrap()
            .stale
    );
    assert_eq!(
        *observer.named.lock().unwrap(),
        [(
            "catalog".to_owned(),
            "catalog-cache".to_owned(),
            Reason::RetriesExhausted
        )]
    );
    assert_eq!(observer.unnamed.load(Ordering::SeqCst), 0);

    // Too old to serve when the call starts: not a fallback either.
    advance(secs(301)).await;
    assert!(policy.call_cached(&events, "concerts", down).await.is_err());
    assert_eq!(observer.named.lock().unwrap().len(), 1);
}

#[test]
fn the_blocking_variant_follows_the_same_rules() {
    let breaker = SharedBreaker::new("rates", BreakerConfig::new()).unwrap();
    let policy = Policy::builder(once(FallbackOn::AnyFailure))
        .unwrap()
        .breaker(breaker.clone())
        .build();
    let rates: LastGood<&str, u32> = LastGood::new("rates-cache", 8, MAX_STALENESS).unwrap();
    assert!(
        policy
            .call_blocking_cached(&rates, "EUR", || Err::<u32, _>("down"))
            .is_err()
    );
    let fresh = policy.call_blocking_cached(&rates, "EUR", || Ok::<u32, &str>(108));
    assert_eq!(fresh, Ok(Cached::fresh(108)));
    let _ = breaker.force_open();
    let served = policy
        .call_blocking_cached(&rates, "EUR", || Err::<u32, _>("down"))
        .unwrap();
    assert_eq!((served.value, served.stale), (108, true));
    assert!(served.age < MAX_STALENESS);
}

#[tokio::test(start_paused = true)]
async fn capacity_bounds_the_keys_held() {
    let small: LastGood<u32, u32> = LastGood::new("small", 4, MAX_STALENESS).unwrap();
    for key in 0..100 {
        small.store(key, key);
    }
    assert!(small.len() <= 4, "{} keys held", small.len());
    assert_eq!(small.capacity(), 4);
}

#[cfg(feature = "metrics")]
#[test]
fn fallback_invocations_total_counts_cache_fallbacks_under_the_cache_name() {
    use metrics_exporter_prometheus::PrometheusBuilder;
    use steadfast_std::observe::Standard;

    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let policy = Policy::builder(once(FallbackOn::AnyFailure))
                .unwrap()
                .name("catalog")
                .observer(Arc::new(Standard))
                .build();
            let events = cache();
            let ok = policy.call_cached(&events, "a", || async { Ok::<u32, ()>(1) });
            assert!(!ok.await.unwrap().stale);
            for _ in 0..3 {
                let served = policy.call_cached(&events, "a", || async { Err(()) });
                assert!(served.await.unwrap().stale);
            }
        });
        let text = handle.render();
        assert!(
            text.contains(r#"fallback_invocations_total{name="catalog-cache"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"fallback_invocations_total{name="catalog"} 0"#),
            "{text}"
        );
    });
}

/// Sees only `on_event`: a named fallback reaches it by the default route.
#[derive(Default)]
struct EventsOnly(AtomicU32);

impl Observer for EventsOnly {
    fn on_event(&self, _policy: &str, _breaker: Option<&str>, event: &Event) {
        if matches!(event, Event::Fallback(_)) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_observer_without_on_fallback_still_sees_the_fallback_event() {
    let observer = Arc::new(EventsOnly::default());
    let policy = Policy::builder(once(FallbackOn::AnyFailure))
        .unwrap()
        .observer(observer.clone())
        .build();
    let events = cache();
    let _ = policy
        .call_cached(&events, "a", || async { Ok::<u32, ()>(1) })
        .await;
    assert_eq!(observer.0.load(Ordering::SeqCst), 0);
    let served = policy.call_cached(&events, "a", || async { Err(()) }).await;
    assert!(served.unwrap().stale);
    assert_eq!(observer.0.load(Ordering::SeqCst), 1);
}
