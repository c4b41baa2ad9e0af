//! Hot paths of the breaker: `cargo bench -p steadfast --bench breaker`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast::breaker::{Breaker, Config, Consecutive, CountWindow};
use steadfast::outcome::Outcome;
use steadfast::time::{Duration, Instant};

fn closed_acquire_record(c: &mut Criterion) {
    let mut group = c.benchmark_group("closed acquire+record");
    let mut consecutive = Breaker::<Consecutive>::new(Config::new()).unwrap();
    let mut now = Instant::ZERO;
    group.bench_function("consecutive", |b| {
        b.iter(|| {
            now += Duration::from_micros(1);
            let permit = consecutive.try_acquire(black_box(now)).unwrap();
            black_box(consecutive.record(permit, black_box(Outcome::Success), now))
        })
    });
    // 1 failure in 4: the window stays below the 50 % threshold, never trips.
    let mut window = Breaker::<CountWindow<64>>::new(Config::new()).unwrap();
    let mut i = 0u32;
    group.bench_function("count window 64", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            now += Duration::from_micros(1);
            let outcome = if i.is_multiple_of(4) {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            let permit = window.try_acquire(black_box(now)).unwrap();
            black_box(window.record(permit, black_box(outcome), now))
        })
    });
    group.finish();
}

fn open_rejection(c: &mut Criterion) {
    let mut breaker = Breaker::<Consecutive>::new(Config::new().with_failure_threshold(1)).unwrap();
    let permit = breaker.try_acquire(Instant::ZERO).unwrap();
    let _ = breaker.record(permit, Outcome::Failure, Instant::ZERO);
    let now = Instant::from_secs(1);
    c.bench_function("open rejection", |b| {
        b.iter(|| black_box(breaker.try_acquire(black_box(now))).unwrap_err())
    });
}

fn count_window_record(c: &mut Criterion) {
    // Permits are acquired outside the timed section; only `record` is measured.
    let mut breaker = Breaker::<CountWindow<64>>::new(Config::new()).unwrap();
    let mut i = 0u32;
    let mut permits = Vec::with_capacity(1024);
    c.bench_function("count window 64 record", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(1024);
                left -= n;
                permits.extend((0..n).map(|_| breaker.try_acquire(Instant::ZERO).unwrap()));
                let start = std::time::Instant::now();
                for permit in permits.drain(..) {
                    i = i.wrapping_add(1);
                    let outcome = if i.is_multiple_of(4) {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    black_box(breaker.record(permit, black_box(outcome), Instant::ZERO));
                }
                total += start.elapsed();
            }
            total
        })
    });
}

criterion_group!(
    benches,
    closed_acquire_record,
    open_rejection,
    count_window_record
);
criterion_main!(benches);
