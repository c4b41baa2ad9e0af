//! Cancellation storms: thousands of `Policy::call` futures dropped at every
//! await point (queued, running, sleeping between retries, waiting for the
//! breaker) leak no bulkhead permit, no queue entry and no half-open probe
//! slot, and the breaker can still close afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use steadfast::backoff::Backoff;
use steadfast::breaker::{Config as BreakerConfig, State};
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::pipeline::{self, Reason};
use steadfast::retry;
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::Duration;
use steadfast::timeout;
use steadfast_std::{Policy, SharedBreaker, SharedBulkhead};

mod common;
use common::{Occupancy, Storm, ms};

#[tokio::test(start_paused = true)]
async fn storm_of_dropped_calls_leaks_nothing() {
    let Storm {
        pool,
        breaker,
        policy,
    } = Storm::new(3, 32, 400, 300, 0x5EED_0F57_0D1E);
    let occupancy = Arc::new(Occupancy::default());
    let mut rng = SplitMix64::new(1);
    let mut tasks = Vec::new();
    for i in 0..4_000u64 {
        let policy = policy.clone();
        let latency = rng.below(300);
        let fails = rng.below(3) == 0;
        let cancel_after = rng.below(500);
        let start = rng.below(3_000);
        let occupancy = occupancy.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(ms(start)).await;
            let call = policy.call(|| {
                let occupancy = occupancy.clone();
                async move {
                    // Leaves even when this future is dropped.
                    let _inside = occupancy.enter();
                    tokio::time::sleep(ms(latency)).await;
                    if fails { Err("boom") } else { Ok(i) }
                }
            });
            // Every third call is dropped at a random point.
            if i % 3 == 0 {
                let _ = tokio::time::timeout(ms(cancel_after), call).await;
            } else {
                let _ = call.await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(occupancy.max() <= 3, "bulkhead exceeded");
    assert_eq!(occupancy.now(), 0);
    assert_eq!(pool.in_flight(), 0, "leaked bulkhead slot");
    assert_eq!(pool.queued(), 0, "leaked queue entry");
    assert_eq!(pool.available(), 3);

    // The breaker still works: trip it, then recover through probes.
    let always_fail = || async { Err::<(), _>("down") };
    for _ in 0..5 {
        let _ = policy.call(always_fail).await;
        if matches!(breaker.state(), State::Open { .. }) {
            break;
        }
    }
    assert!(matches!(breaker.state(), State::Open { .. }));
    tokio::time::sleep(ms(400)).await;
    // A storm of probes that are all cancelled mid-attempt: each returns its slot.
    for _ in 0..1_000 {
        let slow = policy.call(|| async {
            tokio::time::sleep(ms(100)).await;
            Ok::<_, &str>(())
        });
        assert!(tokio::time::timeout(ms(5), slow).await.is_err());
    }
    assert!(matches!(
        breaker.state(),
        State::HalfOpen {
            probes_in_flight: 0,
            ..
        }
    ));
    for _ in 0..2 {
        policy.call(|| async { Ok::<_, &str>(()) }).await.unwrap();
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(pool.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn queued_waiters_are_served_fifo_and_cancelled_waiters_pass_their_turn() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(8)
            .with_max_wait(Duration::from_secs(10)),
    )
    .unwrap();
    let config = pipeline::Config::default().with_timeout(timeout::Config::NONE);
    let policy = Policy::builder(config)
        .unwrap()
        .bulkhead(pool.clone())
        .build();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..6u64 {
        let (policy, order) = (policy.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(ms(i)).await; // queue in order 0..6
            let call = policy.call(|| {
                let order = order.clone();
                async move {
                    order.lock().unwrap().push(i);
                    tokio::time::sleep(ms(100)).await;
                    Ok::<_, ()>(i)
                }
            });
            if i == 2 || i == 4 {
                // Give up while queued.
                assert!(tokio::time::timeout(ms(150), call).await.is_err());
            } else {
                call.await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 3, 5]);
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn full_bulkhead_and_open_breaker_are_reported() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let policy = Policy::builder(pipeline::Config::default())
        .unwrap()
        .bulkhead(pool)
        .build();
    let p2 = policy.clone();
    let busy = tokio::spawn(async move {
        p2.call(|| async {
            tokio::time::sleep(ms(50)).await;
            Ok::<_, ()>(())
        })
        .await
    });
    tokio::task::yield_now().await;
    let r = policy.call(|| async { Ok::<_, ()>(()) }).await;
    assert!(matches!(r, Err(ref e) if e.reason() == Reason::BulkheadFull));
    busy.await.unwrap().unwrap();

    let breaker = SharedBreaker::new("db", BreakerConfig::new()).unwrap();
    let _ = breaker.force_open();
    let policy = Policy::builder(pipeline::Config::default())
        .unwrap()
        .breaker(breaker)
        .build();
    let r = policy.call(|| async { Ok::<_, ()>(()) }).await;
    assert!(
        matches!(r, Err(ref e) if e.reason() == Reason::BreakerOpen { retry_at: None } && e.breaker() == Some("db"))
    );
}

#[tokio::test(start_paused = true)]
async fn attempt_deadline_really_cancels() {
    let config = pipeline::Config::default()
        .with_retry(
            retry::Config::DEFAULT
                .with_max_attempts(2)
                .with_backoff(Backoff::constant(Duration::from_millis(10))),
        )
        .with_timeout(timeout::Config::NONE.with_attempt(Duration::from_millis(100)));
    let policy = Policy::builder(config).unwrap().build();
    let dropped = Arc::new(AtomicU32::new(0));
    let started = tokio::time::Instant::now();
    let r = policy
        .call(|| {
            let dropped = dropped.clone();
            async move {
                struct Count(Arc<AtomicU32>);
                impl Drop for Count {
                    fn drop(&mut self) {
                        self.0.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let _c = Count(dropped);
                tokio::time::sleep(ms(10_000)).await;
                Ok::<_, ()>(())
            }
        })
        .await;
    let e = r.unwrap_err();
    assert_eq!((e.reason(), e.attempts()), (Reason::AttemptTimedOut, 2));
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    assert_eq!(started.elapsed(), ms(210));
}
