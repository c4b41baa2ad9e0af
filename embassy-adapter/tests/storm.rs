//! The 10 000-caller cancellation storm through the Embassy adapter on the
//! host (embassy-time's std driver, real time, millisecond durations): callers run in
//! waves of 100 on a hand-rolled executor, and a seeded random subset is dropped at a
//! random instant, which lands them at every await point: waiting in the bulkhead
//! queue (or for the breaker), mid-attempt, as a half-open probe, in a retry delay.
//! Each kind is counted and must occur. Afterwards every bulkhead permit, queue place
//! and waker slot and every half-open probe slot is back, the bulkhead was never over
//! capacity, and the breaker closes again.
#![allow(missing_docs)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration as StdDuration, Instant as StdInstant};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use embassy_time::Timer;
use steadfast::backoff::Backoff;
use steadfast::breaker::{self, Breaker, State};
use steadfast::bulkhead::{self, Bulkhead};
use steadfast::pipeline::{self, Pipeline};
use steadfast::retry;
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::Duration;
use steadfast::timeout;
use steadfast_embassy::{Policy, SharedBreaker, SharedBulkhead, SharedRng};

const CALLERS: u64 = 10_000;
const WAVE: u64 = 100;
const SEED: u64 = 0x5707_2024;
const MAX_CONCURRENT: u32 = 4;

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

type Fut<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

const NOT_STARTED: u8 = 0;
const IN_OP: u8 = 1;
const OP_RETURNED: u8 = 2;

struct Caller<'a> {
    fut: Option<Fut<'a>>,
    cancel_at: Option<StdInstant>,
    phase: Rc<Cell<u8>>,
}

#[test]
fn ten_thousand_callers_dropped_at_every_await_point() {
    let ms = Duration::from_millis;
    let breaker: SharedBreaker<Cs> = SharedBreaker::new(
        Breaker::new(
            breaker::Config::new()
                .with_failure_threshold(5)
                .with_break_duration(ms(20))
                .with_probes(2, 2),
        )
        .unwrap(),
    );
    let pool: SharedBulkhead<Cs, 16> = SharedBulkhead::new(
        Bulkhead::new(
            bulkhead::Config::DEFAULT
                .with_max_concurrent(MAX_CONCURRENT)
                .with_max_queue(16)
                .with_max_wait(ms(30)),
        )
        .unwrap(),
    );
    let rng = SharedRng::new(SEED);
    let pipeline = Pipeline::new(
        pipeline::Config::DEFAULT
            .with_retry(
                retry::Config::DEFAULT
                    .with_max_attempts(3)
                    .with_backoff(Backoff::constant(ms(2))),
            )
            .with_timeout(
                timeout::Config::NONE
                    .with_attempt(ms(15))
                    .with_total(ms(200)),
            ),
    )
    .unwrap();
    let policy = Policy::new(pipeline, &rng)
        .with_breaker(&breaker)
        .with_bulkhead(&pool);

    let in_op = Rc::new(Cell::new(0u32));
    let max_in_op = Rc::new(Cell::new(0u32));
    // before first attempt, mid-attempt, as probe, in retry delay
    let mut census = [0u32; 4];
    let mut seeds = SplitMix64::new(SEED);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let give_up = StdInstant::now() + StdDuration::from_secs(120);
    for wave in 0..CALLERS / WAVE {
        // Every third wave runs during an outage.
        let outage = wave % 3 == 0;
        let start = StdInstant::now();
        let mut callers: Vec<Caller<'_>> = (0..WAVE)
            .map(|_| {
                let latency = seeds.below(8);
                let failing = outage || seeds.below(6) == 0;
                let cancel_at =
                    (seeds.below(5) < 2).then(|| start + StdDuration::from_millis(seeds.below(40)));
                let phase = Rc::new(Cell::new(NOT_STARTED));
                let (p, in_op, max_in_op) = (phase.clone(), in_op.clone(), max_in_op.clone());
                let policy = &policy;
                let fut: Fut<'_> = Box::pin(async move {
                    let _ = policy
                        .call(move || {
                            let (p, in_op, max_in_op) =
                                (p.clone(), in_op.clone(), max_in_op.clone());
                            async move {
                                p.set(IN_OP);
                                in_op.set(in_op.get() + 1);
                                max_in_op.set(max_in_op.get().max(in_op.get()));
                                // Leaves even when this future is dropped mid-attempt.
                                struct Leave(Rc<Cell<u32>>);
                                impl Drop for Leave {
                                    fn drop(&mut self) {
                                        self.0.set(self.0.get() - 1);
                                    }
                                }
                                let _leave = Leave(in_op);
                                Timer::after_millis(latency).await;
                                p.set(OP_RETURNED);
                                if failing { Err("boom") } else { Ok(()) }
                            }
                        })
                        .await;
                });
                Caller {
                    fut: Some(fut),
                    cancel_at,
                    phase,
                }
            })
            .collect();
        while callers.iter().any(|c| c.fut.is_some()) {
            let now = StdInstant::now();
            for c in &mut callers {
                if c.fut.is_some() && c.cancel_at.is_some_and(|t| now >= t) {
                    let kind = match c.phase.get() {
                        NOT_STARTED => 0,
                        IN_OP if matches!(breaker.state(), State::HalfOpen { .. }) => 2,
                        IN_OP => 1,
                        _ => 3,
                    };
                    census[kind] += 1;
                    c.fut = None; // dropped right here
                }
                if let Some(fut) = c.fut.as_mut()
                    && let Poll::Ready(()) = fut.as_mut().poll(&mut Context::from_waker(&waker))
                {
                    c.fut = None;
                }
            }
            assert!(pool.in_flight() <= MAX_CONCURRENT, "bulkhead over capacity");
            assert!(StdInstant::now() < give_up, "storm stuck in wave {wave}");
            std::thread::park_timeout(StdDuration::from_millis(1));
        }
    }
    println!(
        "dropped: before first attempt {}, mid-attempt {}, as probe {}, in retry delay {}",
        census[0], census[1], census[2], census[3]
    );
    assert!(
        census.iter().all(|&n| n > 0),
        "an await point was never hit: {census:?}"
    );
    assert!(max_in_op.get() <= MAX_CONCURRENT, "bulkhead exceeded");
    assert_eq!(in_op.get(), 0);
    assert_eq!(
        (pool.in_flight(), pool.queued(), pool.waiters()),
        (0, 0, 0),
        "bulkhead leaked"
    );
    let s = pool.lock(|b| b.stats()).expect("no lock is held here");
    assert_eq!(s.acquired, s.released, "{s:?}");
    if let State::HalfOpen {
        probes_in_flight, ..
    } = breaker.state()
    {
        assert_eq!(probes_in_flight, 0, "probe slot leaked");
    }
    let b = breaker.lock(|b| b.stats()).expect("no lock is held here");
    assert!(b.opens > 0, "the storm never tripped the breaker");
    assert!(b.successes + b.failures + b.ignored <= b.calls, "{b:?}");
    // The breaker can still close.
    std::thread::sleep(StdDuration::from_millis(250));
    for _ in 0..4 {
        let mut fut = Box::pin(policy.call(|| async { Ok::<_, &str>(()) }));
        while fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
        {
            std::thread::park_timeout(StdDuration::from_millis(1));
        }
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!((pool.in_flight(), pool.queued(), pool.waiters()), (0, 0, 0));
}
