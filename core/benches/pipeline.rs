//! A whole pipeline call on the happy path: start, admit (breaker + bulkhead +
//! budget), run, record success — everything an adapter asks of the core per call.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use steadfast::breaker::{Breaker, Config as BreakerConfig};
use steadfast::bulkhead::{Bulkhead, Config as BulkheadConfig};
use steadfast::outcome::Verdict;
use steadfast::pipeline::{self, Pipeline, Shared, Step};
use steadfast::retry::{Budget, BudgetConfig};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};

fn happy_path(c: &mut Criterion) {
    let pipeline = Pipeline::new(pipeline::Config::DEFAULT).unwrap();
    let mut rng = SplitMix64::new(1);
    let mut group = c.benchmark_group("pipeline");

    group.bench_function("retry+timeout only", |b| {
        let mut now = Instant::ZERO;
        b.iter(|| {
            now += Duration::from_micros(1);
            let mut shared = Shared::new();
            let mut call = pipeline.start(now);
            let step = call.next(now, &mut shared);
            debug_assert!(matches!(step, Step::Attempt { .. }));
            black_box(call.on_outcome(black_box(Verdict::success()), now, &mut shared, &mut rng))
        })
    });

    let mut breaker: Breaker = Breaker::new(BreakerConfig::default()).unwrap();
    let mut pool: Bulkhead = Bulkhead::new(BulkheadConfig::default()).unwrap();
    let mut budget: Budget = Budget::new(BudgetConfig::default()).unwrap();
    group.bench_function("breaker+bulkhead+budget+retry+timeout", |b| {
        let mut now = Instant::ZERO;
        b.iter(|| {
            now += Duration::from_micros(1);
            let mut shared = Shared::new()
                .with_breaker(&mut breaker)
                .with_bulkhead(&mut pool)
                .with_budget(&mut budget);
            let mut call = pipeline.start(now);
            let step = call.next(now, &mut shared);
            debug_assert!(matches!(step, Step::Attempt { .. }));
            black_box(call.on_outcome(black_box(Verdict::success()), now, &mut shared, &mut rng))
        })
    });
    group.finish();
}

criterion_group!(benches, happy_path);
criterion_main!(benches);
