//! Clock abuse through the Tokio adapter: Tokio's clock is monotonic, so
//! the abuse here is time standing still (paused, no auto-advance while work is
//! pending), and jumps of years, also in the middle of an attempt and of a retry
//! delay. The conversions saturate at both ends. (The core's own clock-abuse suite,
//! core/tests/clock_abuse.rs, covers backwards jumps and `u64::MAX - 1`.)

use std::time::Duration as StdDuration;

use steadfast::backoff::Backoff;
use steadfast::breaker::{Config as BreakerConfig, State};
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::pipeline::{self, Reason};
use steadfast::retry;
use steadfast::time::{Duration, Instant};
use steadfast::timeout;
use steadfast_std::{Policy, SharedBreaker, SharedBulkhead, time};

const YEAR: StdDuration = StdDuration::from_secs(365 * 24 * 3600);

fn policy() -> (Policy, SharedBreaker, SharedBulkhead) {
    let breaker = SharedBreaker::new(
        "dep",
        BreakerConfig::new()
            .with_failure_threshold(2)
            .with_break_duration(Duration::from_secs(30))
            .with_probes(1, 1),
    )
    .unwrap();
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(4)
            .with_max_wait(Duration::from_secs(5)),
    )
    .unwrap();
    let config = pipeline::Config::default()
        .with_retry(
            retry::Config::DEFAULT
                .with_max_attempts(3)
                .with_backoff(Backoff::constant(Duration::from_millis(100))),
        )
        .with_timeout(timeout::Config::NONE.with_attempt(Duration::from_secs(1)));
    let policy = Policy::builder(config)
        .unwrap()
        .breaker(breaker.clone())
        .bulkhead(pool.clone())
        .build();
    (policy, breaker, pool)
}

#[tokio::test(start_paused = true)]
async fn years_ahead_mid_attempt_mid_retry_and_while_open() {
    let (policy, breaker, pool) = policy();
    // Trip it.
    let r = policy.call(|| async { Err::<(), _>("down") }).await;
    assert!(
        matches!(
            r,
            Err(ref e) if matches!(e.reason(), Reason::BreakerOpen { .. } | Reason::RetriesExhausted)
        ),
        "{r:?}"
    );
    assert!(matches!(breaker.state(), State::Open { .. }));
    // Ten years later the break is long over: one probe closes it.
    tokio::time::advance(YEAR * 10).await;
    policy.call(|| async { Ok::<_, &str>(()) }).await.unwrap();
    assert_eq!(breaker.state(), State::Closed);
    // A year passes in the middle of an attempt: it has timed out by then.
    let call = tokio::spawn({
        let policy = policy.clone();
        async move {
            policy
                .call(|| async {
                    tokio::time::sleep(YEAR * 2).await;
                    Ok::<_, &str>(())
                })
                .await
        }
    });
    tokio::task::yield_now().await;
    tokio::time::advance(YEAR).await;
    let r = call.await.unwrap();
    assert!(
        r.is_err(),
        "an attempt outlived its 1 s timeout by a year: {r:?}"
    );
    // (its three timed-out attempts tripped the breaker again)
    let _ = breaker.reset();
    // A jump in the middle of a retry delay.
    let flaky = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let call = tokio::spawn({
        let (policy, flaky) = (policy.clone(), flaky.clone());
        async move {
            policy
                .call(move || {
                    let n = flaky.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    async move { if n == 0 { Err("once") } else { Ok(n) } }
                })
                .await
        }
    });
    tokio::task::yield_now().await;
    tokio::time::advance(YEAR * 3).await;
    assert_eq!(call.await.unwrap().unwrap(), 1);
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
    assert!(matches!(
        breaker.state(),
        State::Closed | State::Open { .. } | State::HalfOpen { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn time_standing_still_is_never_a_busy_loop() {
    let (policy, _breaker, pool) = policy();
    // A queued waiter and a running call while no time passes at all: the runtime only
    // moves when every task sleeps, and a busy loop would never sleep (this test would hang).
    let started = tokio::time::Instant::now();
    let holder = tokio::spawn({
        let policy = policy.clone();
        async move {
            policy
                .call(|| async {
                    tokio::time::sleep(StdDuration::from_millis(500)).await;
                    Ok::<_, &str>(1)
                })
                .await
        }
    });
    let waiter = tokio::spawn({
        let policy = policy.clone();
        async move { policy.call(|| async { Ok::<_, &str>(2) }).await }
    });
    assert_eq!(holder.await.unwrap().unwrap(), 1);
    assert_eq!(waiter.await.unwrap().unwrap(), 2);
    assert_eq!(
        tokio::time::Instant::now() - started,
        StdDuration::from_millis(500),
        "time moved only by the sleep"
    );
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
}

#[test]
fn conversions_saturate_at_both_ends() {
    let epoch = time::epoch();
    assert_eq!(
        time::from_std(epoch - StdDuration::from_secs(1).min(epoch.elapsed())),
        Instant::ZERO.max(time::from_std(epoch))
    );
    let far = time::to_std(Instant::MAX);
    assert!(
        far > std::time::Instant::now() + YEAR * 29,
        "Instant::MAX is ~30 years ahead"
    );
    assert_eq!(time::from_std_duration(StdDuration::MAX), Duration::MAX);
    let end = Instant::from_micros(u64::MAX - 1);
    assert!(time::to_std(end) > std::time::Instant::now() + YEAR * 29);
    assert!(time::from_std(far) > Instant::ZERO);
}

/// Past 30 years of paused time, a wait of 100 ms still lies 100 ms ahead on
/// Tokio's clock (a deadline converted into the virtual past would make every
/// sleep return at once and the driver spin).
#[tokio::test(start_paused = true)]
async fn deadlines_beyond_thirty_years_of_paused_time_stay_in_the_future() {
    tokio::time::advance(31 * YEAR).await;
    let now = time::now();
    let at = time::to_tokio(now + Duration::from_millis(100));
    assert!(at > tokio::time::Instant::now());
    assert_eq!(
        time::from_std(at.into_std()),
        now + Duration::from_millis(100)
    );
    assert!(time::to_tokio(Instant::MAX) > tokio::time::Instant::now() + 20 * YEAR);

    // The whole policy: two failures 100 ms apart open the breaker, which
    // refuses the third attempt after the second backoff.
    let (policy, _, _) = policy();
    let started = tokio::time::Instant::now();
    let mut attempts = 0;
    let answer = policy
        .call(|| {
            attempts += 1;
            async { Err::<(), _>("down") }
        })
        .await;
    assert!(answer.unwrap_err().is_rejection());
    assert_eq!(attempts, 2);
    assert_eq!(started.elapsed(), StdDuration::from_millis(200));
}
