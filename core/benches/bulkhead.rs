//! Bulkhead hot paths: an uncontended acquire + release, and a full
//! queue + grant + claim cycle (release hands the slot to a waiter).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast::bulkhead::{Acquire, Bulkhead, Claim, Config};
use steadfast::time::{Duration, Instant};

fn config(max_queue: u32) -> Config {
    Config::DEFAULT
        .with_max_concurrent(10)
        .with_max_queue(max_queue)
        .with_max_wait(Duration::from_secs(5))
}

fn bench(c: &mut Criterion) {
    eprintln!(
        "size_of: Bulkhead<0> = {} B, Bulkhead<10> = {} B, Bulkhead<64> = {} B, Permit = {} B, Ticket = {} B, Acquire = {} B, Claim = {} B",
        size_of::<Bulkhead<0>>(),
        size_of::<Bulkhead<10>>(),
        size_of::<Bulkhead<64>>(),
        size_of::<steadfast::bulkhead::Permit>(),
        size_of::<steadfast::bulkhead::Ticket>(),
        size_of::<Acquire>(),
        size_of::<Claim>(),
    );

    c.bench_function("bulkhead/acquire_release_uncontended", |b| {
        let mut pool = Bulkhead::<10>::new(config(10)).expect("valid");
        let mut now = 0u64;
        b.iter(|| {
            now += 1;
            let t = Instant::from_micros(now);
            if let Acquire::Permit(p) = pool.try_acquire(black_box(t)) {
                black_box(pool.release(p, t));
            }
        });
    });

    c.bench_function("bulkhead/queue_grant_claim_cycle", |b| {
        // All 10 slots taken by a held permit pool; each cycle: one caller
        // queues, one permit is released (slot handed to the waiter), the
        // waiter claims and its permit replaces the released one.
        let mut pool = Bulkhead::<10>::new(config(10)).expect("valid");
        let mut held = Vec::new();
        for _ in 0..10 {
            if let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) {
                held.push(p);
            }
        }
        assert_eq!(pool.available(), 0);
        let mut now = 0u64;
        b.iter(|| {
            now += 1;
            let t = Instant::from_micros(now);
            let Acquire::Queued { ticket, .. } = pool.try_acquire(black_box(t)) else {
                unreachable!()
            };
            let p = held.pop().expect("a held permit");
            let woken = pool.release(p, t);
            assert_eq!(woken, Some(ticket));
            let Claim::Granted(p) = pool.claim(black_box(ticket), t) else {
                unreachable!()
            };
            held.push(p);
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
