//! Shared-breaker throughput under contention: 1, 2 and 8 threads calling one
//! breaker, steadfast against its Rust peers in the same run.
//!
//! Each iteration is one call per thread (`Throughput::Elements(threads)`), so
//! criterion's `elem/s` is the whole machine's calls per second.
//!
//! Like for like: every contender is a consecutive-5 breaker open for 30 s
//! (steadfast's default config; failsafe `consecutive_failures(5, constant(30 s))`;
//! recloser, which has only rate windows, a ring of 5 tripping at a 100 %
//! failure rate), and every call's result is `black_box(Ok(1))`, so no
//! contender sees that it always succeeds.
//!
//! `cargo bench -p steadfast-std --bench contended -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use failsafe::CircuitBreaker as _;
use steadfast::breaker::Config;
use steadfast::pipeline;
use steadfast::retry;
use steadfast::timeout;
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

/// Failures in a row that trip every contender.
const THRESHOLD: u32 = 5;
/// How long every contender stays open.
const OPEN_FOR: Duration = Duration::from_secs(30);

/// The call every contender makes: a result the compiler cannot see through.
#[inline(always)]
fn op() -> Result<u32, ()> {
    black_box(Ok(1))
}

/// Consecutive 5, a constant 30 s open period (no growth), like the peers.
fn steadfast_config() -> Config {
    let open_for = steadfast::time::Duration::from_secs(OPEN_FOR.as_secs());
    Config::new()
        .with_failure_threshold(THRESHOLD)
        .with_break_duration(open_for)
        .with_break_growth(1, open_for)
}

fn bench(c: &mut Criterion) {
    for threads in [1usize, 2, 8] {
        let mut group = c.benchmark_group(format!("contended/{threads}"));
        group.throughput(Throughput::Elements(threads as u64));

        let breaker = SharedBreaker::new("bench", steadfast_config()).unwrap();
        group.bench_function("steadfast SharedBreaker::call", |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, || {
                    let _ = black_box(breaker.call(op));
                })
            })
        });

        let policy = Policy::builder(
            pipeline::Config::default()
                .with_retry(retry::Config::default().with_max_attempts(1))
                .with_timeout(timeout::Config::NONE),
        )
        .unwrap()
        .breaker(SharedBreaker::new("bench", steadfast_config()).unwrap())
        .build();
        group.bench_function("steadfast Policy::call_blocking", |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, || {
                    let _ = black_box(policy.call_blocking(op));
                })
            })
        });

        let failsafe = failsafe::Config::new()
            .failure_policy(failsafe::failure_policy::consecutive_failures(
                THRESHOLD,
                failsafe::backoff::constant(OPEN_FOR),
            ))
            .build();
        group.bench_function("failsafe call (consecutive 5)", |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, || {
                    let _ = black_box(failsafe.call(op));
                })
            })
        });

        let recloser = recloser::Recloser::custom()
            .error_rate(1.0)
            .closed_len(THRESHOLD as usize)
            .open_wait(OPEN_FOR)
            .build();
        group.bench_function("recloser call (ring of 5 at 100 %)", |b| {
            b.iter_custom(|iters| {
                contended(threads, iters, || {
                    let _ = black_box(recloser.call(op));
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
