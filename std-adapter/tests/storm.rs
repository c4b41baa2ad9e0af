//! The 10 000-caller cancellation storm, on Tokio with paused time: a
//! seeded random subset of callers is dropped at a random instant, which lands them
//! at every await point — waiting in the bulkhead queue (or for the breaker),
//! mid-attempt, as a half-open probe, and in a retry delay; each kind is counted and
//! must occur. Afterwards every bulkhead permit and queue place and every half-open
//! probe slot is back, the bulkhead was never over capacity, and the breaker closes
//! again. (exec_cancel.rs has the smaller targeted storms.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use steadfast::breaker::State;
use steadfast::rng::{Rng, SplitMix64};

mod common;
use common::{Occupancy, Storm, ms};

const CALLERS: u64 = 10_000;
const SEED: u64 = 0x5707_2024;

/// Where a dropped caller was when it was dropped.
#[derive(Default)]
struct Census {
    before_first_attempt: AtomicU32,
    mid_attempt: AtomicU32,
    as_probe: AtomicU32,
    in_retry_delay: AtomicU32,
}

const NOT_STARTED: u8 = 0;
const IN_OP: u8 = 1;
const OP_RETURNED: u8 = 2;

#[tokio::test(start_paused = true)]
async fn ten_thousand_callers_dropped_at_every_await_point() {
    let Storm {
        pool,
        breaker,
        policy,
    } = Storm::new(4, 16, 300, 200, SEED);

    let census = Arc::new(Census::default());
    let occupancy = Arc::new(Occupancy::default());
    let mut rng = SplitMix64::new(SEED);
    let mut tasks = Vec::new();
    for i in 0..CALLERS {
        let start = rng.below(20_000);
        // Outages: 2 s of every 5 s the dependency fails; otherwise one call in six does.
        let failing = (start % 5_000) < 2_000 || rng.below(6) == 0;
        let latency = rng.below(150);
        let cancel_after = (rng.below(5) < 2).then(|| rng.below(600));
        let (policy, breaker, census) = (policy.clone(), breaker.clone(), census.clone());
        let occupancy = occupancy.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(ms(start)).await;
            let phase = Arc::new(AtomicU8::new(NOT_STARTED));
            let p = phase.clone();
            let call = policy.call(move || {
                let (p, occupancy) = (p.clone(), occupancy.clone());
                async move {
                    p.store(IN_OP, Ordering::SeqCst);
                    // Leaves even when this future is dropped mid-attempt.
                    let _inside = occupancy.enter();
                    tokio::time::sleep(ms(latency)).await;
                    p.store(OP_RETURNED, Ordering::SeqCst);
                    if failing { Err("boom") } else { Ok(i) }
                }
            });
            let Some(after) = cancel_after else {
                let _ = call.await;
                return;
            };
            // `timeout` drops the call when it fires; the op only marks a normal return.
            if tokio::time::timeout(ms(after), call).await.is_err() {
                // Dropped just now: where was it?
                let counter = match phase.load(Ordering::SeqCst) {
                    NOT_STARTED => &census.before_first_attempt,
                    IN_OP if matches!(breaker.state(), State::HalfOpen { .. }) => &census.as_probe,
                    IN_OP => &census.mid_attempt,
                    _ => &census.in_retry_delay,
                };
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let c = &census;
    let counts = [
        c.before_first_attempt.load(Ordering::SeqCst),
        c.mid_attempt.load(Ordering::SeqCst),
        c.as_probe.load(Ordering::SeqCst),
        c.in_retry_delay.load(Ordering::SeqCst),
    ];
    println!(
        "dropped: before first attempt {}, mid-attempt {}, as probe {}, in retry delay {}",
        counts[0], counts[1], counts[2], counts[3]
    );
    assert!(
        counts.iter().all(|&n| n > 0),
        "an await point was never hit: {counts:?}"
    );
    assert!(occupancy.max() <= 4, "bulkhead exceeded");
    assert_eq!(occupancy.now(), 0);
    assert_eq!(
        (pool.in_flight(), pool.queued(), pool.available()),
        (0, 0, 4),
        "bulkhead leaked"
    );
    let s = pool.stats();
    assert_eq!(s.acquired, s.released, "acquired != released: {s:?}");
    if let State::HalfOpen {
        probes_in_flight, ..
    } = breaker.state()
    {
        assert_eq!(probes_in_flight, 0, "probe slot leaked");
    }
    let b = breaker.stats();
    assert!(b.successes + b.failures + b.ignored <= b.calls, "{b:?}");
    assert!(b.opens > 0, "the storm never tripped the breaker");
    // The breaker can still close.
    tokio::time::sleep(ms(60_000)).await;
    for _ in 0..4 {
        let _ = policy.call(|| async { Ok::<_, &str>(()) }).await;
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
}
