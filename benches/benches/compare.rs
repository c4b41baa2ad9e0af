//! steadfast vs the peers vs the floor, same work, same inputs, one run.
//! `cargo bench -p steadfast-bench --bench compare`; see BENCHMARKS.md.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast_bench::breaker::{
    FailsafeShared, FloorShared, RecloserShared, SharedSubject, SteadfastShared, call_result,
};
use steadfast_bench::ratelimit::{GovernorSharedLimiter, SharedLimiter, SteadfastSharedLimiter};
use steadfast_bench::{Op, Visitor, visit_all};

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

/// Two threads run `op` on one shared `subject` as fast as they can; reported as
/// wall time ÷ operations of both threads (so perfect scaling would halve the
/// 1-thread figure; contention shows above it).
fn two_threads<T: Sync, R>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    subject: impl Fn() -> T,
    op: impl Fn(&T) -> R + Sync,
) {
    let mut group = c.benchmark_group(group);
    group.bench_function(name, |b| {
        let shared = subject();
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..2 {
                    scope.spawn(|| {
                        for _ in 0..iters {
                            std::hint::black_box(op(std::hint::black_box(&shared)));
                        }
                    });
                }
            });
            start.elapsed() / 2
        });
    });
    group.finish();
}

/// One shared breaker, closed: every call succeeds.
fn two_threads_breaker<S: SharedSubject>(c: &mut Criterion) {
    let group = "breaker/shared (&self), closed call, 2 threads";
    two_threads(c, group, S::NAME, S::closed, |s| s.call(call_result()));
}

/// One shared rate limiter whose every check is admitted.
fn two_threads_limiter<L: SharedLimiter>(c: &mut Criterion) {
    let group = "ratelimit/shared (&self), check, admitted, 2 threads";
    two_threads(c, group, L::NAME, L::new, L::check);
}

fn compare(c: &mut Criterion) {
    let _rt = steadfast_bench::runtime().enter();
    visit_all(&mut Bench(c));
    two_threads_breaker::<SteadfastShared>(c);
    two_threads_breaker::<FloorShared>(c);
    two_threads_breaker::<FailsafeShared>(c);
    two_threads_breaker::<RecloserShared>(c);
    two_threads_limiter::<SteadfastSharedLimiter>(c);
    two_threads_limiter::<GovernorSharedLimiter>(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    targets = compare
}
criterion_main!(benches);
