//! Blocking execution on plain threads, and the handles' thread-safety.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration as StdDuration;

use steadfast::backoff::Backoff;
use steadfast::breaker::{Config as BreakerConfig, State};
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::pipeline::{self, FallbackOn, Reason};
use steadfast::retry;
use steadfast::time::Duration;
use steadfast::timeout;
use steadfast_std::{Error, Fallback, Policy, SharedBreaker, SharedBudget, SharedBulkhead};

#[test]
fn handles_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<SharedBreaker>();
    check::<SharedBulkhead>();
    check::<SharedBudget>();
    check::<Policy>();
    // An async call (the `tokio` feature) is `Send`.
    #[cfg(feature = "tokio")]
    {
        fn send<T: Send>(_: &T) {}
        let p = Policy::builder(pipeline::Config::default())
            .unwrap()
            .build();
        send(&p.call(|| async { Ok::<_, ()>(()) }));
    }
    fn is_error<E: std::error::Error>() {}
    is_error::<Error<std::io::Error>>();
}

#[test]
fn blocking_bulkhead_limits_concurrency_and_queues() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(2)
            .with_max_queue(16)
            .with_max_wait(Duration::from_secs(5)),
    )
    .unwrap();
    let policy = Policy::builder(pipeline::Config::default().with_timeout(timeout::Config::NONE))
        .unwrap()
        .bulkhead(pool.clone())
        .build();
    let (now, max) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (policy, now, max) = (policy.clone(), now.clone(), max.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    policy
                        .call_blocking(|| {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            max.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(StdDuration::from_millis(2));
                            now.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, ()>(())
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(max.load(Ordering::SeqCst) <= 2);
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
}

#[test]
fn blocking_late_result_is_discarded_as_timed_out() {
    let config = pipeline::Config::default()
        .with_retry(
            retry::Config::DEFAULT
                .with_max_attempts(2)
                .with_backoff(Backoff::constant(Duration::from_millis(1))),
        )
        .with_timeout(timeout::Config::NONE.with_attempt(Duration::from_millis(20)));
    let policy = Policy::builder(config).unwrap().build();
    let calls = AtomicU32::new(0);
    let r = policy.call_blocking(|| {
        calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(StdDuration::from_millis(30)); // cannot be preempted
        Ok::<_, ()>(1)
    });
    assert_eq!(
        r,
        Err(Error::new(pipeline::Error::new(
            Reason::AttemptTimedOut,
            2,
            None
        )))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn blocking_breaker_shared_across_threads_trips_and_recovers() {
    let breaker = SharedBreaker::new(
        "db",
        BreakerConfig::new()
            .with_failure_threshold(3)
            .with_break_duration(Duration::from_millis(50))
            .with_probes(1, 1),
    )
    .unwrap();
    let config = pipeline::Config::default()
        .with_retry(retry::Config::default().with_max_attempts(1))
        .with_fallback(FallbackOn::Rejection);
    let policy = Policy::builder(config)
        .unwrap()
        .breaker(breaker.clone())
        .build();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let policy = policy.clone();
            std::thread::spawn(move || {
                let _ = policy.call_blocking(|| Err::<(), _>("down"));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(matches!(breaker.state(), State::Open { .. }));
    let cache: Fallback<&str, &str> = Fallback::value("stale");
    assert_eq!(
        policy
            .call_blocking_with_fallback(&cache, || Ok("fresh"))
            .unwrap(),
        "stale"
    );
    std::thread::sleep(StdDuration::from_millis(60));
    assert_eq!(
        policy
            .call_blocking_with_fallback(&cache, || Ok("fresh"))
            .unwrap(),
        "fresh"
    );
    assert_eq!(breaker.state(), State::Closed);
}

/// A policy nobody observes collects no events, and decides exactly as the
/// same policy with an observer: the same answers, the same breaker states
/// and counters, and the observer hears every call end.
#[test]
fn an_unobserved_policy_decides_as_an_observed_one() {
    #[derive(Default)]
    struct Heard {
        events: AtomicU32,
        finishes: AtomicU32,
        latencies: AtomicU32,
    }
    impl steadfast_std::Observer for Heard {
        fn on_event(&self, _: &str, _: Option<&str>, _: &steadfast::pipeline::Event) {
            self.events.fetch_add(1, Ordering::Relaxed);
        }
        fn on_finish(&self, _: &str, _: &steadfast::pipeline::Finish) {
            self.finishes.fetch_add(1, Ordering::Relaxed);
        }
        fn on_latency(&self, _: &str, _: Duration) {
            self.latencies.fetch_add(1, Ordering::Relaxed);
        }
    }
    let breaker_config = BreakerConfig::DEFAULT
        .with_failure_threshold(2)
        .with_break_duration(Duration::from_secs(3600));
    let config = pipeline::Config::default().with_retry(
        retry::Config::default()
            .with_max_attempts(2)
            .with_backoff(Backoff::constant(Duration::ZERO)),
    );
    let heard = Arc::new(Heard::default());
    let build = |observer: Option<Arc<Heard>>| {
        let breaker = SharedBreaker::new("b", breaker_config).unwrap();
        let builder = Policy::builder(config).unwrap().breaker(breaker.clone());
        let builder = match observer {
            Some(o) => builder.observer(o),
            None => builder,
        };
        (builder.build(), breaker)
    };
    let (plain, plain_breaker) = build(None);
    let (observed, observed_breaker) = build(Some(heard.clone()));
    let script = [
        true, false, true, false, false, false, true, true, false, true,
    ];
    for (i, &ok) in script.iter().enumerate() {
        let op = || if ok { Ok(i) } else { Err("down") };
        // The same answer; a refusal's `retry_at` is read on the real clock.
        let answer =
            |r: Result<usize, Error<&str>>| r.map_err(|e| (e.reason().to_string(), e.attempts()));
        assert_eq!(
            answer(plain.call_blocking(op)),
            answer(observed.call_blocking(op)),
            "call {i}"
        );
        assert_eq!(
            plain_breaker.state().name(),
            observed_breaker.state().name(),
            "call {i}"
        );
    }
    assert_eq!(plain_breaker.stats(), observed_breaker.stats());
    assert_eq!(plain_breaker.state().name(), "open");
    let calls = script.len() as u32;
    assert_eq!(heard.finishes.load(Ordering::Relaxed), calls);
    assert_eq!(heard.latencies.load(Ordering::Relaxed), calls);
    // The breaker opened once: its transition was heard.
    assert!(heard.events.load(Ordering::Relaxed) >= 1);
}
