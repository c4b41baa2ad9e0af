//! Shared-breaker throughput under contention: 1, 2 and 8 threads calling one
//! breaker, steadfast against its Rust peers in the same run.
//!
//! Each iteration is one call per thread (`Throughput::Elements(threads)`), so
//! criterion's `elem/s` is the whole machine's calls per second.
//!
//! `cargo bench -p steadfast-std --bench contended -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use steadfast::pipeline::PipelineConfig;
use steadfast::retry::RetryConfig;
use steadfast::timeout::TimeoutConfig;
use steadfast_std::{Policy, SharedBreaker};

/// Runs `call` `iters` times on each of `threads` threads at once.
fn contended(threads: usize, iters: u64, call: impl Fn() + Sync) -> Duration {
    let barrier = std::sync::Barrier::new(threads);
    let start = std::sync::Mutex::new(None::<Instant>);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                if barrier.wait().is_leader() {
                    *start.lock().unwrap() = Some(Instant::now());
                }
                for _ in 0..iters {
                    call();
                }
            });
        }
    });
    start
        .lock()
        .unwrap()
        .map_or(Duration::ZERO, |t| t.elapsed())
}

fn bench(c: &mut Criterion) {
    for threads in [1usize, 2, 8] {
        let mut group = c.benchmark_group(format!("contended/{threads}"));
        group.throughput(Throughput::Elements(threads as u64));

        let breaker = SharedBreaker::new("bench", Default::default()).unwrap();
        group.bench_function("steadfast SharedBreaker::call", |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, || {
                    let _ = black_box(breaker.call(|| Ok::<_, ()>(black_box(1u32))));
                })
            })
        });

        let policy = Policy::builder(
            PipelineConfig::default()
                .with_retry(RetryConfig::default().with_max_attempts(1).unwrap())
                .with_timeout(TimeoutConfig::NONE),
        )
        .breaker(SharedBreaker::new("bench", Default::default()).unwrap())
        .build();
        group.bench_function("steadfast Policy::call_blocking", |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, || {
                    let _ = black_box(policy.call_blocking(|| Ok::<_, ()>(black_box(1u32))));
                })
            })
        });

        let failsafe = failsafe::Config::new().build();
        group.bench_function("failsafe call", |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, || {
                    let _ = black_box(failsafe.call(|| Ok::<_, ()>(black_box(1u32))));
                })
            })
        });

        let recloser = recloser::Recloser::default();
        group.bench_function("recloser call", |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, || {
                    let _ = black_box(recloser.call(|| Ok::<_, ()>(black_box(1u32))));
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
