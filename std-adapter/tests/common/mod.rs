//! What the cancellation-storm tests share: the policy under attack and an
//! occupancy gauge of the operation.
#![allow(dead_code)] // each test file uses its own part

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use steadfast::backoff::Backoff;
use steadfast::breaker::Config as BreakerConfig;
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::pipeline;
use steadfast::retry;
use steadfast::time::Duration;
use steadfast::timeout;
use steadfast_std::{Policy, SharedBreaker, SharedBulkhead};

/// Milliseconds as a std duration.
pub(crate) fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

/// A storm's policy: 3 attempts 30 ms apart, 200 ms per attempt and 2 s in
/// all, a breaker (5 failures in a row, 2 probes) and a bulkhead.
pub(crate) struct Storm {
    pub(crate) pool: SharedBulkhead,
    pub(crate) breaker: SharedBreaker,
    pub(crate) policy: Policy,
}

impl Storm {
    /// `slots` concurrent calls, `queue` waiting up to `max_wait_ms`; the breaker
    /// stays open `break_ms`.
    pub(crate) fn new(slots: u32, queue: u32, max_wait_ms: u64, break_ms: u64, seed: u64) -> Self {
        let pool = SharedBulkhead::new(
            "pool",
            BulkheadConfig::DEFAULT
                .with_max_concurrent(slots)
                .with_max_queue(queue)
                .with_max_wait(Duration::from_millis(max_wait_ms)),
        )
        .unwrap();
        let breaker = SharedBreaker::new(
            "dep",
            BreakerConfig::new()
                .with_failure_threshold(5)
                .with_break_duration(Duration::from_millis(break_ms))
                .with_probes(2, 2),
        )
        .unwrap();
        let config = pipeline::Config::default()
            .with_retry(
                retry::Config::DEFAULT
                    .with_max_attempts(3)
                    .with_backoff(Backoff::constant(Duration::from_millis(30))),
            )
            .with_timeout(
                timeout::Config::NONE
                    .with_attempt(Duration::from_millis(200))
                    .with_total(Duration::from_secs(2)),
            );
        let policy = Policy::builder(config)
            .unwrap()
            .breaker(breaker.clone())
            .bulkhead(pool.clone())
            .seed(seed)
            .build();
        Self {
            pool,
            breaker,
            policy,
        }
    }
}

/// How many operations run now, and the most that ever did.
#[derive(Default)]
pub(crate) struct Occupancy {
    now: AtomicU32,
    max: AtomicU32,
}

/// One running operation; leaves on drop, also when its future is dropped.
pub(crate) struct Inside(Arc<Occupancy>);

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Occupancy {
    /// Enters; hold the guard for as long as the operation runs.
    pub(crate) fn enter(self: &Arc<Self>) -> Inside {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        Inside(self.clone())
    }

    /// Running now.
    pub(crate) fn now(&self) -> u32 {
        self.now.load(Ordering::SeqCst)
    }

    /// The most ever running at once.
    pub(crate) fn max(&self) -> u32 {
        self.max.load(Ordering::SeqCst)
    }
}

/// A dependency that always answers its request at once and counts its calls.
#[cfg(feature = "tower")]
pub(crate) fn counting(
    calls: Arc<AtomicU32>,
) -> impl tower::Service<u32, Response = u32, Error = &'static str, Future: Send> + Clone {
    tower::service_fn(move |n: u32| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, &'static str>(n) }
    })
}
