//! `AsyncFallback` through `Policy::call_with_async_fallback`, on paused
//! Tokio time: alternatives run in order until the first `Ok`, all see the
//! call's original error and return it if they all fail; they run only when
//! `FallbackOn` covers how the call failed, after the pipeline has released
//! everything; dropping the call midway through the fallback leaks nothing.

use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use steadfast::backoff::Backoff;
use steadfast::breaker::{Config as BreakerConfig, State};
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::pipeline::{self, Event, FallbackOn, Finish, Reason};
use steadfast::retry;
use steadfast::time::Duration;
use steadfast::timeout;
use steadfast_std::{
    AsyncFallback, Error, Fallback, Observer, Policy, SharedBreaker, SharedBulkhead,
};
use tokio::time::{Instant, sleep};

fn ms(n: u64) -> StdDuration {
    StdDuration::from_millis(n)
}

/// No retries: one attempt, so a failing op ends the pipeline at once.
fn once(fallback: FallbackOn) -> pipeline::Config {
    pipeline::Config::default()
        .with_retry(retry::Config::default().with_max_attempts(1))
        .with_fallback(fallback)
}

fn policy(fallback: FallbackOn) -> Policy {
    Policy::builder(once(fallback))
        .unwrap()
        .name("primary")
        .build()
}

async fn down() -> Result<u32, &'static str> {
    Err("primary down")
}

/// Which alternatives ran, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<&'static str>>>);

impl Log {
    fn push(&self, name: &'static str) {
        self.0.lock().unwrap().push(name);
    }
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<u32, &'static str>> + Send>>;

/// An async alternative that logs `name`, sleeps `delay_ms`, then answers.
fn alternative(
    log: &Log,
    name: &'static str,
    delay_ms: u64,
    answer: Result<u32, &'static str>,
) -> impl Fn(&Error<&'static str>) -> Answer + Send + Sync + 'static {
    let log = log.clone();
    move |_| {
        let log = log.clone();
        Box::pin(async move {
            log.push(name);
            sleep(ms(delay_ms)).await;
            answer
        })
    }
}

#[tokio::test(start_paused = true)]
async fn alternatives_run_in_order_and_all_failing_return_the_original_error() {
    let log = Log::default();
    let chain = AsyncFallback::from_fn(alternative(&log, "b", 10, Err("b down")))
        .or_else(alternative(&log, "c", 20, Err("c down")))
        .or_else(alternative(&log, "d", 30, Err("d down")));
    let start = Instant::now();
    let answer = policy(FallbackOn::AnyFailure)
        .call_with_async_fallback(&chain, down)
        .await;
    // The original error, not the last alternative's.
    assert_eq!(
        answer,
        Err(Error::retries_exhausted(1, Some("primary down")))
    );
    assert_eq!(log.take(), ["b", "c", "d"]);
    // One after the other, never concurrently.
    assert_eq!(start.elapsed(), ms(60));
}

#[tokio::test(start_paused = true)]
async fn first_success_wins_and_later_alternatives_are_not_called() {
    let calls = [(); 4].map(|()| Arc::new(AtomicU32::new(0)));
    let counted = |i: usize, answer: Result<u32, &'static str>| {
        let count = calls[i].clone();
        move |_: &Error<&'static str>| {
            count.fetch_add(1, Ordering::SeqCst);
            async move { answer }
        }
    };
    let chain = AsyncFallback::from_fn(counted(0, Err("down")))
        .or_else(counted(1, Ok(2)))
        .or_else(counted(2, Ok(3)))
        .or_else(counted(3, Err("down")));
    let policy = policy(FallbackOn::AnyFailure);
    for _ in 0..5 {
        assert_eq!(policy.call_with_async_fallback(&chain, down).await, Ok(2));
    }
    let counts = calls.map(|c| c.load(Ordering::SeqCst));
    assert_eq!(counts, [5, 5, 0, 0]);
}

#[tokio::test(start_paused = true)]
async fn a_successful_call_never_runs_the_fallback() {
    let log = Log::default();
    let chain = AsyncFallback::from_fn(alternative(&log, "b", 0, Ok(0)));
    let answer = policy(FallbackOn::AnyFailure)
        .call_with_async_fallback(&chain, || async { Ok::<u32, &str>(1) })
        .await;
    assert_eq!(answer, Ok(1));
    assert!(log.take().is_empty());
}

#[tokio::test(start_paused = true)]
async fn sync_and_async_alternatives_mix_in_one_order() {
    let log = Log::default();
    let sync_step = |name: &'static str, answer: Result<u32, &'static str>| {
        let log = log.clone();
        move |_: &Error<&'static str>| {
            log.push(name);
            answer
        }
    };
    let local_cache: Fallback<u32, &'static str> =
        Fallback::from_fn(sync_step("s1", Err("miss"))).or_else(sync_step("s2", Err("miss")));
    let chain = AsyncFallback::from(local_cache)
        .or_else(alternative(&log, "a1", 5, Err("a1 down")))
        .or_else_sync(sync_step("s3", Err("miss")))
        .or_else(alternative(&log, "a2", 5, Ok(42)))
        .or_else_sync(sync_step("s4", Ok(0)));
    let answer = policy(FallbackOn::AnyFailure)
        .call_with_async_fallback(&chain, down)
        .await;
    assert_eq!(answer, Ok(42));
    assert_eq!(log.take(), ["s1", "s2", "a1", "s3", "a2"]);

    // A converted sync chain alone behaves as it did with `call_with_fallback`.
    let sync_only = Fallback::from_fn(|_: &Error<&'static str>| Err("miss")).or_else(|_| Ok(7));
    let via_sync = policy(FallbackOn::AnyFailure)
        .call_with_fallback(&sync_only, down)
        .await;
    let via_async = policy(FallbackOn::AnyFailure)
        .call_with_async_fallback(&AsyncFallback::from(sync_only), down)
        .await;
    assert_eq!(via_sync, Ok(7));
    assert_eq!(via_async, via_sync);
}

/// An async alternative that records the error it saw and answers `answer`.
fn witness(seen: &Arc<Mutex<Vec<String>>>, answer: u32) -> AsyncFallback<u32, &'static str> {
    let seen = seen.clone();
    AsyncFallback::from_fn(move |e: &Error<&'static str>| {
        seen.lock().unwrap().push(format!(
            "{:?} after {} {:?} {:?}",
            e.reason(),
            e.attempts(),
            e.operation_error(),
            e.breaker()
        ));
        async move { Ok::<_, ()>(answer) }
    })
}

#[tokio::test(start_paused = true)]
async fn breaker_rejection_falls_back_under_rejection_and_any_failure_but_not_never() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let chain = witness(&seen, 9);
    let op_calls = AtomicU32::new(0);
    let op = || {
        op_calls.fetch_add(1, Ordering::SeqCst);
        down()
    };
    for on in [FallbackOn::Rejection, FallbackOn::AnyFailure] {
        let breaker = SharedBreaker::new("dep", BreakerConfig::default()).unwrap();
        let _ = breaker.force_open();
        let policy = Policy::builder(once(on)).unwrap().breaker(breaker).build();
        assert_eq!(policy.call_with_async_fallback(&chain, op).await, Ok(9));
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [r#"BreakerOpen { retry_at: None } after 0 None Some("dep")"#; 2]
    );

    let breaker = SharedBreaker::new("dep", BreakerConfig::default()).unwrap();
    let _ = breaker.force_open();
    let policy = Policy::builder(once(FallbackOn::Never))
        .unwrap()
        .breaker(breaker)
        .build();
    let answer = policy.call_with_async_fallback(&chain, op).await;
    let error = answer.unwrap_err();
    assert_eq!(error.reason(), Reason::BreakerOpen { retry_at: None });
    assert_eq!(seen.lock().unwrap().len(), 2, "FallbackOn::Never: not run");
    assert_eq!(op_calls.load(Ordering::SeqCst), 0, "rejected: never called");
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_falls_back_on_rejection() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let policy = Policy::builder(once(FallbackOn::Rejection))
        .unwrap()
        .bulkhead(pool.clone())
        .build();
    let holder = tokio::spawn({
        let policy = policy.clone();
        async move {
            policy
                .call(|| async {
                    sleep(ms(100)).await;
                    Ok::<u32, &str>(1)
                })
                .await
        }
    });
    sleep(ms(10)).await;
    assert_eq!(pool.in_flight(), 1);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answer = policy
        .call_with_async_fallback(&witness(&seen, 5), down)
        .await;
    assert_eq!(answer, Ok(5));
    assert_eq!(*seen.lock().unwrap(), ["BulkheadFull after 0 None None"]);
    assert_eq!(holder.await.unwrap(), Ok(1));
    assert_eq!(pool.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_total_timeout_falls_back_on_any_failure_only() {
    let hang = || async {
        sleep(ms(3_600_000)).await;
        Ok::<u32, &str>(1)
    };
    // Retries allowed, but the total deadline ends the first attempt.
    let config = |on| {
        pipeline::Config::default()
            .with_fallback(on)
            .with_timeout(timeout::Config::NONE.with_total(Duration::from_millis(500)))
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let chain = witness(&seen, 3);

    let start = Instant::now();
    let policy = Policy::builder(config(FallbackOn::AnyFailure))
        .unwrap()
        .build();
    assert_eq!(policy.call_with_async_fallback(&chain, hang).await, Ok(3));
    assert_eq!(start.elapsed(), ms(500));
    assert_eq!(
        *seen.lock().unwrap(),
        ["DeadlineExceeded after 1 None None"]
    );

    // A timeout is not a rejection.
    let policy = Policy::builder(config(FallbackOn::Rejection))
        .unwrap()
        .build();
    assert_eq!(
        policy
            .call_with_async_fallback(&chain, hang)
            .await
            .map_err(|e| (e.reason(), e.attempts())),
        Err((Reason::DeadlineExceeded, 1))
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_fall_back_on_any_failure_after_the_last_backoff() {
    let retry = retry::Config::DEFAULT
        .with_max_attempts(3)
        .with_backoff(Backoff::constant(Duration::from_millis(100)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let chain = witness(&seen, 8);
    let attempts = AtomicU32::new(0);
    let op = || {
        attempts.fetch_add(1, Ordering::SeqCst);
        down()
    };

    let start = Instant::now();
    let policy = Policy::builder(
        pipeline::Config::default()
            .with_retry(retry)
            .with_fallback(FallbackOn::AnyFailure),
    )
    .unwrap()
    .build();
    assert_eq!(policy.call_with_async_fallback(&chain, op).await, Ok(8));
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), ms(200), "two backoffs, then the fallback");
    assert_eq!(
        *seen.lock().unwrap(),
        [r#"RetriesExhausted after 3 Some("primary down") None"#]
    );

    // Exhausted retries are not a rejection.
    let policy = Policy::builder(
        pipeline::Config::default()
            .with_retry(retry)
            .with_fallback(FallbackOn::Rejection),
    )
    .unwrap()
    .build();
    assert_eq!(
        policy.call_with_async_fallback(&chain, op).await,
        Err(Error::retries_exhausted(3, Some("primary down")))
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_sleeping_fallback_takes_exactly_its_time_outside_the_policy_deadlines() {
    // Attempt deadline 200 ms, total 300 ms: neither bounds the fallback.
    let config = once(FallbackOn::AnyFailure).with_timeout(
        timeout::Config::NONE
            .with_attempt(Duration::from_millis(200))
            .with_total(Duration::from_millis(300)),
    );
    let policy = Policy::builder(config).unwrap().build();
    let log = Log::default();
    let chain = AsyncFallback::from_fn(alternative(&log, "slow", 1_000, Err("slow down")))
        .or_else(alternative(&log, "slower", 1_500, Ok(11)));
    let hang = || async {
        sleep(ms(3_600_000)).await;
        Ok::<u32, &str>(1)
    };
    let start = Instant::now();
    assert_eq!(policy.call_with_async_fallback(&chain, hang).await, Ok(11));
    // 200 ms attempt deadline, then 1 s + 1.5 s of fallback.
    assert_eq!(start.elapsed(), ms(2_700));
    assert_eq!(log.take(), ["slow", "slower"]);
}

#[tokio::test(start_paused = true)]
async fn the_fallback_runs_with_every_permit_released() {
    // One slot, no queue: a second call is refused while the first holds it.
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let breaker = SharedBreaker::new("dep", BreakerConfig::default()).unwrap();
    let policy = Policy::builder(once(FallbackOn::AnyFailure))
        .unwrap()
        .bulkhead(pool.clone())
        .breaker(breaker.clone())
        .build();
    let inner = policy.clone();
    let inner_pool = pool.clone();
    // The alternative calls the same policy again: it would find the slot
    // taken (or block on a lock) if the failed call still held anything.
    let chain = AsyncFallback::from_fn(move |_: &Error<&'static str>| {
        let (policy, pool) = (inner.clone(), inner_pool.clone());
        async move {
            assert_eq!(pool.in_flight(), 0);
            policy
                .call(|| async {
                    assert_eq!(pool.in_flight(), 1, "the nested call has the slot");
                    Ok::<u32, &str>(77)
                })
                .await
        }
    });
    assert_eq!(policy.call_with_async_fallback(&chain, down).await, Ok(77));
    assert_eq!(pool.in_flight(), 0);
    let stats = breaker.stats();
    assert_eq!((stats.failures, stats.successes), (1, 1), "{stats:?}");
}

struct DropFlag(Arc<AtomicU32>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_during_the_fallback_leaks_nothing() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(4)
            .with_max_wait(Duration::from_secs(5)),
    )
    .unwrap();
    // One half-open probe, closing on its first success: a leaked probe
    // slot would reject the last call below.
    let breaker = SharedBreaker::new(
        "dep",
        BreakerConfig::new()
            .with_failure_threshold(1)
            .with_break_duration(Duration::from_secs(10))
            .with_probes(1, 1),
    )
    .unwrap();
    let policy = Policy::builder(once(FallbackOn::AnyFailure))
        .unwrap()
        .bulkhead(pool.clone())
        .breaker(breaker.clone())
        .build();
    let (started, dropped) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let chain = {
        let (started, dropped) = (started.clone(), dropped.clone());
        AsyncFallback::from_fn(move |_: &Error<&'static str>| {
            started.fetch_add(1, Ordering::SeqCst);
            let flag = DropFlag(dropped.clone());
            async move {
                let _flag = flag;
                sleep(ms(3_600_000)).await;
                Ok::<u32, ()>(0)
            }
        })
        .or_else_sync(|_| Ok::<u32, ()>(1))
    };

    // A closed breaker: the attempt fails and trips it, the fallback starts,
    // the caller gives up 100 ms into it.
    let gave_up =
        tokio::time::timeout(ms(100), policy.call_with_async_fallback(&chain, down)).await;
    assert!(gave_up.is_err());
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the alternative's future was dropped"
    );
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
    assert!(matches!(breaker.state(), State::Open { .. }));

    // Same at the half-open probe: the probe's failure is recorded before
    // the fallback, so dropping the fallback holds no probe slot.
    sleep(ms(10_000)).await;
    let gave_up =
        tokio::time::timeout(ms(100), policy.call_with_async_fallback(&chain, down)).await;
    assert!(gave_up.is_err());
    assert_eq!(
        (
            started.load(Ordering::SeqCst),
            dropped.load(Ordering::SeqCst)
        ),
        (2, 2)
    );
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
    assert!(matches!(breaker.state(), State::Open { .. }));

    // And the breaker still recovers: the next probe succeeds and closes it.
    sleep(ms(10_000)).await;
    let ok = policy
        .call_with_async_fallback(&chain, || async { Ok::<u32, &str>(5) })
        .await;
    assert_eq!(ok, Ok(5));
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(pool.in_flight(), 0);
}

#[derive(Default)]
struct CountFallbacks {
    events: AtomicU32,
    finishes: AtomicU32,
}

impl Observer for CountFallbacks {
    fn on_event(&self, _policy: &str, _breaker: Option<&str>, event: &Event) {
        if matches!(event, Event::Fallback(_)) {
            self.events.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn on_finish(&self, _policy: &str, finish: &Finish) {
        if matches!(finish, Finish::Fallback(_)) {
            self.finishes.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn async_fallbacks_are_observed_like_sync_ones() {
    let observer = Arc::new(CountFallbacks::default());
    let policy = Policy::builder(once(FallbackOn::AnyFailure))
        .unwrap()
        .observer(observer.clone())
        .build();
    let counts = || {
        (
            observer.events.load(Ordering::SeqCst),
            observer.finishes.load(Ordering::SeqCst),
        )
    };

    let sync = Fallback::value(1);
    assert_eq!(policy.call_with_fallback(&sync, down).await, Ok(1));
    assert_eq!(counts(), (1, 1));

    let answers = AsyncFallback::from_fn(|_: &Error<&str>| async { Ok::<u32, ()>(2) });
    assert_eq!(policy.call_with_async_fallback(&answers, down).await, Ok(2));
    assert_eq!(counts(), (2, 2));

    // Counted when invoked, whatever the alternatives answer.
    let fails = AsyncFallback::from_fn(|_: &Error<&str>| async { Err::<u32, _>(()) });
    assert!(policy.call_with_async_fallback(&fails, down).await.is_err());
    assert_eq!(counts(), (3, 3));

    // A success is not a fallback.
    let ok = policy
        .call_with_async_fallback(&answers, || async { Ok::<u32, &str>(0) })
        .await;
    assert_eq!(ok, Ok(0));
    assert_eq!(counts(), (3, 3));

    // Without a fallback nothing is invoked: no fallback event, and the call
    // ends failed rather than in a fallback, sync and async alike.
    assert!(policy.call(down).await.is_err());
    assert!(policy.call_blocking(|| Err::<u32, _>("down")).is_err());
    assert_eq!(counts(), (3, 3));
}

#[cfg(feature = "metrics")]
#[test]
fn fallback_invocations_total_counts_async_fallbacks() {
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
                .name("quotes")
                .observer(Arc::new(Standard))
                .build();
            let chain = AsyncFallback::from_fn(|_: &Error<&str>| async {
                sleep(ms(50)).await;
                Ok::<u32, ()>(1)
            });
            for _ in 0..3 {
                assert_eq!(policy.call_with_async_fallback(&chain, down).await, Ok(1));
            }
        });
        let text = handle.render();
        assert!(
            text.contains(r#"fallback_invocations_total{name="quotes"} 3"#),
            "{text}"
        );
    });
}

#[tokio::test(start_paused = true)]
async fn a_multi_provider_chain_with_its_own_breaker_ends_at_the_cache() {
    // The backup provider sits behind its own policy and breaker; when that
    // breaker opens, the chain skips straight to the cache.
    let backup_breaker = SharedBreaker::new(
        "backup",
        BreakerConfig::new()
            .with_failure_threshold(2)
            .with_break_duration(Duration::from_secs(30)),
    )
    .unwrap();
    let backup_policy = Policy::builder(once(FallbackOn::Never))
        .unwrap()
        .name("backup")
        .breaker(backup_breaker.clone())
        .build();
    let backup_calls = Arc::new(AtomicU32::new(0));
    let chain = {
        let backup_calls = backup_calls.clone();
        AsyncFallback::from_fn(move |_: &Error<&'static str>| {
            let (policy, backup_calls) = (backup_policy.clone(), backup_calls.clone());
            async move {
                policy
                    .call(|| {
                        backup_calls.fetch_add(1, Ordering::SeqCst);
                        async {
                            sleep(ms(20)).await;
                            Err::<u32, _>("backup down")
                        }
                    })
                    .await
            }
        })
        .or_else_sync(|_| Ok::<u32, ()>(100))
    };
    let primary = policy(FallbackOn::AnyFailure);
    for _ in 0..5 {
        assert_eq!(
            primary.call_with_async_fallback(&chain, down).await,
            Ok(100)
        );
    }
    assert_eq!(
        backup_calls.load(Ordering::SeqCst),
        2,
        "then its breaker opened"
    );
    assert!(matches!(backup_breaker.state(), State::Open { .. }));
}

#[tokio::test(start_paused = true)]
async fn the_call_with_an_async_fallback_can_be_spawned() {
    let chain = Arc::new(AsyncFallback::from_fn(|_: &Error<&str>| async {
        sleep(ms(5)).await;
        Ok::<u32, ()>(6)
    }));
    let policy = policy(FallbackOn::AnyFailure);
    let task = tokio::spawn(async move { policy.call_with_async_fallback(&chain, down).await });
    assert_eq!(task.await.unwrap(), Ok(6));
}
