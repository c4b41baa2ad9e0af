//! Cost of choosing the next delay and of a budget withdrawal.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast::backoff::{Backoff, Jitter, Ratio};
use steadfast::retry::{Budget, BudgetConfig};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};

fn exp(jitter: Jitter) -> Backoff {
    Backoff::DEFAULT.with_jitter(jitter)
}

fn delays(c: &mut Criterion) {
    let mut g = c.benchmark_group("backoff");
    let plain = exp(Jitter::None);
    let full = exp(Jitter::Full);
    let decorrelated = exp(Jitter::Decorrelated);
    let mut rng = SplitMix64::new(1);
    g.bench_function("exponential/no_jitter/retry_5", |b| {
        b.iter(|| black_box(&plain).delay(black_box(5)))
    });
    g.bench_function("exponential/full_jitter/retry_5", |b| {
        b.iter(|| black_box(&full).jittered(black_box(5), Duration::ZERO, &mut rng))
    });
    g.bench_function("decorrelated/retry_5", |b| {
        b.iter(|| {
            black_box(&decorrelated).jittered(black_box(5), Duration::from_millis(300), &mut rng)
        })
    });
    g.bench_function("exponential/no_jitter/retry_u32_max", |b| {
        b.iter(|| black_box(&plain).delay(black_box(u32::MAX)))
    });
    // worst case of the bounded loop: factor 1.001 from 1 ms to a cap of Duration::MAX
    let slow = Backoff::exponential(
        Duration::from_millis(1),
        Ratio::new(1_001, 1_000).expect("valid"),
        Duration::MAX,
    );
    g.bench_function("exponential_x1.001_cap_max/retry_u32_max", |b| {
        b.iter(|| black_box(&slow).delay(black_box(u32::MAX)))
    });
    let mut budget = Budget::<10>::new(BudgetConfig::DEFAULT).expect("valid");
    let mut now = Instant::ZERO;
    g.bench_function("budget/on_request+try_withdraw", |b| {
        b.iter(|| {
            now += Duration::from_micros(137);
            budget.on_request(now);
            black_box(budget.try_withdraw(now))
        })
    });
    g.finish();
}

criterion_group!(benches, delays);
criterion_main!(benches);
