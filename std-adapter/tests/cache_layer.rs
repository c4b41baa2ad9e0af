//! The tower `CacheLayer` as timelines on paused Tokio time: fresh answers
//! stored and never replaced by cached ones, failures and refusals served
//! stale with their age up to the maximum staleness (inclusive), keys kept
//! apart, the fallback rule and the classifier obeyed, every served answer
//! reported under the cache's name, a dropped request storing nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use steadfast::outcome::Verdict;
use steadfast::pipeline::{Failure, FallbackOn, Reason};
use steadfast::time::Duration;
use steadfast_std::cache::{Cached, LastGood};
use steadfast_std::tower::{BreakerLayer, CacheLayer};
use steadfast_std::{Error, Observer, SharedBreaker};
use tokio::time::advance;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

const MAX_STALENESS: Duration = Duration::from_secs(300);

type Answers = Arc<Mutex<HashMap<&'static str, Result<u32, &'static str>>>>;

/// A dependency answering what the test set for each key (unset: an error).
fn dependency(
    answers: &Answers,
) -> impl Service<
    &'static str,
    Response = u32,
    Error = &'static str,
    Future = std::future::Ready<Result<u32, &'static str>>,
> + Clone {
    let answers = answers.clone();
    service_fn(move |key: &'static str| {
        std::future::ready(
            answers
                .lock()
                .unwrap()
                .get(key)
                .copied()
                .unwrap_or(Err("unset")),
        )
    })
}

fn cache() -> LastGood<&'static str, u32> {
    LastGood::new("catalog-cache", 100, MAX_STALENESS).unwrap()
}

fn key(k: &&'static str) -> &'static str {
    k
}

#[derive(Default)]
struct Served(Mutex<Vec<(String, Reason)>>);

impl Observer for Served {
    fn on_fallback(
        &self,
        _policy: &str,
        _breaker: Option<&str>,
        fallback: &str,
        failure: &Failure,
    ) {
        self.0
            .lock()
            .unwrap()
            .push((fallback.to_owned(), failure.reason));
    }
}

#[tokio::test(start_paused = true)]
async fn a_failure_is_served_the_last_good_value_with_its_age_until_it_is_too_old() {
    let answers = Answers::default();
    let served = Arc::new(Served::default());
    let mut svc = CacheLayer::new(cache(), key)
        .with_observer(served.clone())
        .layer(dependency(&answers));

    answers.lock().unwrap().insert("jazz", Ok(1));
    let fresh = svc.ready().await.unwrap().call("jazz").await.unwrap();
    assert_eq!(fresh, Cached::fresh(1));

    answers.lock().unwrap().insert("jazz", Err("down"));
    advance(StdDuration::from_secs(60)).await;
    let stale = svc.ready().await.unwrap().call("jazz").await.unwrap();
    assert_eq!(stale, Cached::from_cache(1, Duration::from_secs(60)));

    // Exactly the maximum staleness old: still served.
    advance(StdDuration::from_secs(240)).await;
    let oldest = svc.ready().await.unwrap().call("jazz").await.unwrap();
    assert_eq!(oldest, Cached::from_cache(1, MAX_STALENESS));

    // One microsecond older: the dependency's own error.
    advance(StdDuration::from_micros(1)).await;
    let err = svc.ready().await.unwrap().call("jazz").await.unwrap_err();
    assert_eq!(err.reason(), Reason::Operation);
    assert_eq!(err.operation_error(), Some(&"down"));

    assert_eq!(
        *served.0.lock().unwrap(),
        [
            ("catalog-cache".to_owned(), Reason::Operation),
            ("catalog-cache".to_owned(), Reason::Operation)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_fresh_success_replaces_the_value_and_is_never_replaced_by_it() {
    let answers = Answers::default();
    let store = cache();
    let mut svc = CacheLayer::new(store.clone(), key).layer(dependency(&answers));
    answers.lock().unwrap().insert("k", Ok(1));
    svc.ready().await.unwrap().call("k").await.unwrap();
    advance(StdDuration::from_secs(10)).await;
    answers.lock().unwrap().insert("k", Ok(2));
    assert_eq!(
        svc.ready().await.unwrap().call("k").await.unwrap(),
        Cached::fresh(2)
    );
    assert_eq!(store.get(&"k").map(|c| c.value), Some(2));
    answers.lock().unwrap().insert("k", Err("down"));
    advance(StdDuration::from_secs(5)).await;
    assert_eq!(
        svc.ready().await.unwrap().call("k").await.unwrap(),
        Cached::from_cache(2, Duration::from_secs(5))
    );
}

#[tokio::test(start_paused = true)]
async fn keys_are_kept_apart() {
    let answers = Answers::default();
    let mut svc = CacheLayer::new(cache(), key).layer(dependency(&answers));
    answers.lock().unwrap().insert("a", Ok(1));
    svc.ready().await.unwrap().call("a").await.unwrap();
    answers.lock().unwrap().insert("a", Err("down"));
    assert_eq!(svc.ready().await.unwrap().call("a").await.unwrap().value, 1);
    // "b" never had a good value: its error is the answer.
    let err = svc.ready().await.unwrap().call("b").await.unwrap_err();
    assert_eq!(err.operation_error(), Some(&"unset"));
}

#[tokio::test(start_paused = true)]
async fn over_a_breaker_its_refusal_is_served_from_the_cache() {
    let answers = Answers::default();
    let breaker = SharedBreaker::new("catalog", Default::default()).unwrap();
    let served = Arc::new(Served::default());
    let mut svc = ServiceBuilder::new()
        .layer(
            CacheLayer::new(cache(), key)
                .stacked()
                .serving(FallbackOn::Rejection)
                .with_observer(served.clone()),
        )
        .layer(BreakerLayer::new(breaker.clone()))
        .service(dependency(&answers));
    answers.lock().unwrap().insert("k", Ok(7));
    assert_eq!(
        svc.ready().await.unwrap().call("k").await.unwrap(),
        Cached::fresh(7)
    );

    // The dependency's own error is not a refusal: with `Rejection` it reaches the caller.
    answers.lock().unwrap().insert("k", Err("boom"));
    let err: Error<&str> = svc.ready().await.unwrap().call("k").await.unwrap_err();
    assert_eq!(err.reason(), Reason::Operation);

    let _ = breaker.force_open();
    advance(StdDuration::from_secs(3)).await;
    let stale = svc.ready().await.unwrap().call("k").await.unwrap();
    assert_eq!(stale, Cached::from_cache(7, Duration::from_secs(3)));
    let got = served.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "catalog-cache");
    assert!(
        matches!(got[0].1, Reason::BreakerOpen { .. }),
        "{:?}",
        got[0].1
    );
}

#[tokio::test(start_paused = true)]
async fn the_classifier_decides_what_is_kept_and_what_is_replaced() {
    let answers = Answers::default();
    let store = cache();
    // 500 and up is the dependency failing; 404 an answer not worth keeping.
    let mut svc = CacheLayer::new(store.clone(), key)
        .with_classifier(|r: &Result<u32, &'static str>| match r {
            Ok(500..) | Err(_) => Verdict::failure(),
            Ok(404) => Verdict::ignored(),
            Ok(_) => Verdict::success(),
        })
        .layer(dependency(&answers));
    answers.lock().unwrap().insert("k", Ok(200));
    svc.ready().await.unwrap().call("k").await.unwrap();
    answers.lock().unwrap().insert("k", Ok(404));
    assert_eq!(
        svc.ready().await.unwrap().call("k").await.unwrap(),
        Cached::fresh(404)
    );
    assert_eq!(
        store.get(&"k").map(|c| c.value),
        Some(200),
        "an ignored answer is not stored"
    );
    answers.lock().unwrap().insert("k", Ok(503));
    assert_eq!(
        svc.ready().await.unwrap().call("k").await.unwrap(),
        Cached::from_cache(200, Duration::ZERO),
        "a failed answer is replaced by the last good one"
    );
    // A failed answer with nothing to serve is answered as it came.
    answers.lock().unwrap().insert("other", Ok(503));
    assert_eq!(
        svc.ready().await.unwrap().call("other").await.unwrap(),
        Cached::fresh(503)
    );
}

#[tokio::test(start_paused = true)]
async fn never_stores_fresh_values_and_serves_none() {
    let answers = Answers::default();
    let store = cache();
    let mut svc = CacheLayer::new(store.clone(), key)
        .serving(FallbackOn::Never)
        .layer(dependency(&answers));
    answers.lock().unwrap().insert("k", Ok(1));
    svc.ready().await.unwrap().call("k").await.unwrap();
    assert_eq!(store.len(), 1);
    answers.lock().unwrap().insert("k", Err("down"));
    assert!(svc.ready().await.unwrap().call("k").await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_request_stores_nothing() {
    let store = cache();
    let mut svc = CacheLayer::new(store.clone(), key).layer(service_fn(|_: &'static str| {
        std::future::pending::<Result<u32, ()>>()
    }));
    let call = svc.ready().await.unwrap().call("k");
    drop(call);
    assert!(store.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_registry_hands_out_the_layer_over_its_cache_and_a_disabled_one_serves_nothing() {
    use steadfast_std::registry::Registry;
    let answers = Answers::default();
    for enabled in [true, false] {
        let registry = Registry::builder()
            .enabled(enabled)
            .cache("catalog-cache", 10, MAX_STALENESS)
            .build();
        let layer = registry
            .cache_layer::<&'static str, u32, _, &'static str>("catalog-cache", key)
            .unwrap();
        let mut svc = layer.layer(dependency(&answers));
        answers.lock().unwrap().insert("k", Ok(1));
        svc.ready().await.unwrap().call("k").await.unwrap();
        answers.lock().unwrap().insert("k", Err("down"));
        let answer = svc.ready().await.unwrap().call("k").await;
        assert_eq!(answer.is_ok(), enabled, "enabled = {enabled}");
        // The layer shares the registry's cache.
        assert_eq!(
            registry
                .cache::<&'static str, u32>("catalog-cache")
                .unwrap()
                .len(),
            1
        );
    }
}
