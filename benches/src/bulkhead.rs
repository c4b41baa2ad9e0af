//! Bulkhead rows: take one of 10 permits and give it back, uncontended, one owner.

use std::hint::black_box;
use std::sync::atomic::AtomicU32;

use steadfast::bulkhead::{Acquire, Bulkhead, Config, NoStats, StatsSlot};
use steadfast::time::{Duration, Instant};

use crate::floor::{AtomicPermits, CounterPermits};
use crate::{Op, Tick, Visitor, Who};

/// Every bulkhead row.
pub fn visit<V: Visitor>(v: &mut V) {
    v.visit::<SteadfastQueue>();
    v.visit::<SteadfastNoQueue>();
    v.visit::<SteadfastNoStats>();
    v.visit::<FloorCounter>();
    v.visit::<FloorAtomic>();
    v.visit::<TokioSemaphore>();
    v.visit::<ReliakitBulkhead>();
}

const GROUP: &str = "bulkhead: permit acquire+release (10 slots, uncontended)";
const SLOTS: u32 = 10;

#[inline(always)]
fn steadfast_op<const Q: usize, S: StatsSlot>(pool: &mut Bulkhead<Q, S>, tick: &mut Tick) {
    let pool = black_box(pool);
    let now = Instant::from_micros(tick.advance());
    match pool.try_acquire(now) {
        Acquire::Permit(p) => {
            black_box(pool.release(p, now).is_some());
        }
        other => {
            let _ = black_box(other);
        }
    }
}

/// steadfast `Bulkhead<10>`: 10 slots and a 10-waiter queue (5 s max wait).
#[derive(Debug)]
pub struct SteadfastQueue(Bulkhead<10>, Tick);
impl Op for SteadfastQueue {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "steadfast Bulkhead<10> (queue 10)";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        let c = Config::DEFAULT
            .with_max_concurrent(SLOTS)
            .with_max_queue(10)
            .with_max_wait(Duration::from_secs(5));
        Self(Bulkhead::new(c).expect("valid"), Tick(0))
    }
    #[inline(always)]
    fn op(&mut self) {
        steadfast_op(&mut self.0, &mut self.1);
    }
}

/// steadfast `Bulkhead<0>`: no queue (reject at once when full), like the other rows.
#[derive(Debug)]
pub struct SteadfastNoQueue(Bulkhead<0>, Tick);
impl Op for SteadfastNoQueue {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "steadfast Bulkhead<0> (no queue)";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        let c = Config::DEFAULT
            .with_max_concurrent(SLOTS)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO);
        Self(Bulkhead::new(c).expect("valid"), Tick(0))
    }
    #[inline(always)]
    fn op(&mut self) {
        steadfast_op(&mut self.0, &mut self.1);
    }
}

/// steadfast `Bulkhead<10, NoStats>`: the queue of 10, no counters (as
/// reliakit keeps none).
#[derive(Debug)]
pub struct SteadfastNoStats(Bulkhead<10, NoStats>, Tick);
impl Op for SteadfastNoStats {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "steadfast Bulkhead<10, NoStats> (queue 10, no counters)";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        let c = Config::DEFAULT
            .with_max_concurrent(SLOTS)
            .with_max_queue(10)
            .with_max_wait(Duration::from_secs(5));
        Self(Bulkhead::without_stats(c).expect("valid"), Tick(0))
    }
    #[inline(always)]
    fn op(&mut self) {
        steadfast_op(&mut self.0, &mut self.1);
    }
}

/// The floor: a plain counter.
#[derive(Debug)]
pub struct FloorCounter(CounterPermits);
impl Op for FloorCounter {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "floor (plain counter)";
    const WHO: Who = Who::Floor;
    fn new() -> Self {
        Self(CounterPermits {
            in_flight: 0,
            max: SLOTS,
        })
    }
    #[inline(always)]
    fn op(&mut self) {
        let p = black_box(&mut self.0);
        if p.try_acquire() {
            black_box(&mut *p).release();
        }
    }
}

/// The floor, shareable: an `AtomicU32` CAS.
#[derive(Debug)]
pub struct FloorAtomic(AtomicPermits);
impl Op for FloorAtomic {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "floor (AtomicU32 CAS)";
    const WHO: Who = Who::Floor;
    fn new() -> Self {
        Self(AtomicPermits {
            in_flight: AtomicU32::new(0),
            max: SLOTS,
        })
    }
    #[inline(always)]
    fn op(&mut self) {
        let p = black_box(&self.0);
        if p.try_acquire() {
            p.release();
        }
    }
}

/// `tokio::sync::Semaphore::try_acquire` + drop of the permit.
#[derive(Debug)]
pub struct TokioSemaphore(tokio::sync::Semaphore);
impl Op for TokioSemaphore {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "tokio 1 Semaphore";
    const WHO: Who = Who::Peer;
    fn new() -> Self {
        Self(tokio::sync::Semaphore::new(SLOTS as usize))
    }
    #[inline(always)]
    fn op(&mut self) {
        black_box(black_box(&self.0).try_acquire().ok());
    }
}

/// reliakit `Bulkhead::try_acquire_one` + `release_one`.
#[derive(Debug)]
pub struct ReliakitBulkhead(reliakit::bulkhead::Bulkhead);
impl Op for ReliakitBulkhead {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "reliakit 1.1";
    const WHO: Who = Who::Peer;
    fn new() -> Self {
        Self(reliakit::bulkhead::Bulkhead::new(SLOTS as usize))
    }
    #[inline(always)]
    fn op(&mut self) {
        let b = black_box(&mut self.0);
        if b.try_acquire_one() {
            black_box(&mut *b).release_one();
        }
    }
}
