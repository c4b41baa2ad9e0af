//! sturdy vs the peers vs the floor, same work, same inputs, one run.
//! `cargo bench -p sturdy-bench --bench compare`; see BENCHMARKS.md.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sturdy_bench::{Op, Visitor, visit_all};

struct Bench<'a>(&'a mut Criterion);

impl Visitor for Bench<'_> {
    fn visit<O: Op>(&mut self) {
        let mut group = self.0.benchmark_group(O::GROUP);
        group.bench_function(O::NAME, |b| {
            let mut o = O::new();
            // Per logical operation: a 5-delay backoff schedule reports per delay.
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    o.op();
                }
                let elapsed = start.elapsed();
                Duration::from_nanos((elapsed.as_nanos() / u128::from(O::PER_CALL)) as u64)
            });
        });
        group.finish();
    }
}

fn compare(c: &mut Criterion) {
    visit_all(&mut Bench(c));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = compare
}
criterion_main!(benches);
