//! loom models of the shared handles: every interleaving of two threads (loom's
//! exhaustive scheduler, bounded preemptions) over the breaker's atomic fast path, its
//! mutex slow path (a count window's outcomes recorded without the clock unless they trip
//! it), the bulkhead behind the blocking executor, and the bulkhead's slots
//! lent to its lock-free path racing a waiter that queues.
//!
//! Proven for every interleaving explored: no lost update (every call recorded exactly
//! once in the stats, no failure lost on the way to a trip), no leaked permit (the
//! bulkhead is empty afterwards, acquired == released), no double release, no lent
//! slot lost.
//!
//! Run (its own target dir; tokio is left out because `--cfg loom` switches tokio into
//! its internal loom mode):
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p steadfast-std --no-default-features --release --test loom`
#![cfg(loom)]

use loom::thread;
use steadfast::breaker::{Config as BreakerConfig, State};
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::outcome::Outcome;
use steadfast::pipeline;
use steadfast::retry;
use steadfast::time::Duration;
use steadfast::timeout;
use steadfast_std::{Policy, SharedBreaker, SharedBulkhead};

/// Runs `f` under every interleaving loom explores and reports how many it ran.
fn model(name: &str, f: impl Fn() + Sync + Send + 'static) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    println!(
        "loom {name}: {} interleavings",
        runs.load(Ordering::Relaxed)
    );
}

fn breaker(threshold: u32) -> SharedBreaker {
    SharedBreaker::new(
        "loom",
        BreakerConfig::new().with_failure_threshold(threshold),
    )
    .unwrap()
}

/// What a newcomer got from a bulkhead.
#[derive(Debug)]
enum Got {
    Lent,
    Permit(steadfast::bulkhead::Permit),
    Queued(steadfast::bulkhead::Ticket),
}

/// One slot, lent to the lock-free path and held; its holder gives it back
/// while a newcomer asks for one (lock-free first, then the core, which
/// queues it when no slot is free). Whichever comes first, the slot is never
/// lost: the newcomer has it once the holder is done, and the books close
/// exact (2 acquired, 2 released, peak 1).
#[test]
fn bulkhead_lent_slot_given_back_while_a_waiter_queues() {
    use steadfast::bulkhead::{Acquire, Claim};
    model(
        "bulkhead_lent_slot_given_back_while_a_waiter_queues",
        || {
            let pool = SharedBulkhead::new(
                "loom",
                BulkheadConfig::DEFAULT
                    .with_max_concurrent(1)
                    .with_max_queue(1)
                    .with_max_wait(Duration::from_secs(1)),
            )
            .unwrap();
            pool.loom_lend();
            assert!(pool.loom_take_lent());
            let holder = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let _ = pool.loom_give_back_lent();
                })
            };
            let got = if pool.loom_take_lent() {
                Got::Lent
            } else {
                match pool.loom_acquire() {
                    Acquire::Permit(permit) => Got::Permit(permit),
                    Acquire::Queued { ticket, .. } => Got::Queued(ticket),
                    Acquire::Full => panic!("a queue of 1 was full"),
                }
            };
            holder.join().unwrap();
            match got {
                Got::Lent => assert_eq!(pool.loom_give_back_lent(), None),
                Got::Permit(permit) => assert_eq!(pool.loom_release(permit), None),
                Got::Queued(ticket) => match pool.loom_claim(ticket) {
                    Claim::Granted(permit) => assert_eq!(pool.loom_release(permit), None),
                    other => panic!("the slot given back was lost: {other:?}"),
                },
            }
            let s = pool.stats();
            assert_eq!(
                (s.in_flight, s.waiting, s.acquired, s.released, s.peak),
                (0, 0, 2, 2, 1),
                "{s:?}"
            );
        },
    );
}

/// One success (fast path) racing one failure (slow path): both are counted.
#[test]
fn breaker_success_and_failure_both_counted() {
    model("breaker_success_and_failure_both_counted", || {
        let b = breaker(2);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.try_acquire().unwrap().success());
        let _ = b.try_acquire().unwrap().failure();
        t.join().unwrap();
        let s = b.stats();
        assert_eq!(
            (s.calls, s.successes, s.failures),
            (2, 1, 1),
            "lost update: {s:?}"
        );
        assert_eq!(b.state(), State::Closed);
    });
}

/// Two failures racing with threshold 2: neither is lost, the breaker trips once.
#[test]
fn breaker_concurrent_failures_trip_exactly_once() {
    model("breaker_concurrent_failures_trip_exactly_once", || {
        let b = breaker(2);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.try_acquire().unwrap().failure());
        let mine = b.try_acquire().unwrap().failure();
        let theirs = t.join().unwrap();
        assert_eq!(
            u32::from(mine.is_some()) + u32::from(theirs.is_some()),
            1,
            "one trip"
        );
        assert!(matches!(b.state(), State::Open { .. }));
        let s = b.stats();
        assert_eq!((s.calls, s.failures, s.opens), (2, 2, 1), "{s:?}");
    });
}

/// A count window of two at 50 %: a success and a failure recorded at once,
/// each on the clock-free path unless it trips. Exactly one of them trips the
/// breaker (the one recorded second, whichever it is), the word says open
/// afterwards (a call is refused without the lock), and every count is exact.
#[test]
fn count_window_trips_once_from_either_outcome() {
    model("count_window_trips_once_from_either_outcome", || {
        let config = BreakerConfig::new()
            .with_minimum_calls(2)
            .with_failure_rate_percent(50)
            .with_break_duration(Duration::from_secs(3600));
        let b = SharedBreaker::with_count_window("loom", config, 2).unwrap();
        let b2 = b.clone();
        let t = thread::spawn(move || b2.try_acquire().unwrap().record(Outcome::Success));
        let mine = b.try_acquire().unwrap().failure();
        let theirs = t.join().unwrap();
        assert_eq!(
            u32::from(mine.is_some()) + u32::from(theirs.is_some()),
            1,
            "one trip"
        );
        assert!(matches!(b.state(), State::Open { .. }));
        assert!(b.try_acquire().is_err(), "the word must say open");
        let s = b.stats();
        assert_eq!(
            (s.calls, s.successes, s.failures, s.opens, s.rejections),
            (2, 1, 1, 1, 1),
            "{s:?}"
        );
    });
}

/// A permit dropped (cancelled) while another call records a tripping failure: the
/// cancel is never counted as an outcome, the failure never lost, nothing twice.
#[test]
fn breaker_cancel_races_record() {
    model("breaker_cancel_races_record", || {
        let b = breaker(1);
        let b2 = b.clone();
        let t = thread::spawn(move || b2.try_acquire().map(drop).is_ok());
        let mine = b.try_acquire().map(|p| p.record(Outcome::Failure));
        let theirs = t.join().unwrap();
        let s = b.stats();
        assert_eq!(s.successes, 0, "{s:?}");
        assert_eq!(s.failures, u64::from(mine.is_ok()), "{s:?}");
        assert_eq!(s.calls + s.rejections, 2, "{s:?}");
        assert_eq!(
            s.rejections,
            u64::from(mine.is_err()) + u64::from(!theirs),
            "{s:?}"
        );
        assert_eq!(matches!(b.state(), State::Open { .. }), mine.is_ok());
    });
}

/// The bulkhead behind the blocking executor: two callers, one slot, no queue. Every
/// interleaving ends with the slot free, acquired == released, nobody over capacity.
#[test]
fn bulkhead_no_leaked_permit_no_double_release() {
    model("bulkhead_no_leaked_permit_no_double_release", || {
        let pool = SharedBulkhead::new(
            "loom",
            BulkheadConfig::DEFAULT
                .with_max_concurrent(1)
                .with_max_queue(0)
                .with_max_wait(Duration::from_secs(1)),
        )
        .unwrap();
        let config = pipeline::Config::DEFAULT
            .with_retry(
                retry::Config::DEFAULT
                    .with_max_attempts(1)
                    .with_backoff(steadfast::backoff::Backoff::constant(Duration::ZERO)),
            )
            .with_timeout(timeout::Config::NONE);
        let policy = Policy::builder(config)
            .unwrap()
            .bulkhead(pool.clone())
            .build();
        let p2 = Policy::builder(config)
            .unwrap()
            .bulkhead(pool.clone())
            .build();
        let probe = pool.clone();
        let t = thread::spawn(move || {
            p2.call_blocking(|| {
                assert!(probe.in_flight() <= 1, "over capacity");
                Ok::<_, ()>(())
            })
            .is_ok()
        });
        let mine = policy.call_blocking(|| Ok::<_, ()>(())).is_ok();
        let theirs = t.join().unwrap();
        assert!(mine || theirs, "at least one caller gets the slot");
        let s = pool.stats();
        assert_eq!(
            (pool.in_flight(), pool.queued()),
            (0, 0),
            "leaked permit: {s:?}"
        );
        assert_eq!(s.acquired, s.released, "double or missing release: {s:?}");
        assert_eq!(s.acquired + s.rejected_full, 2, "{s:?}");
        assert_eq!(s.stale_releases, 0, "{s:?}");
    });
}

/// Two policy calls through one breaker (threshold 1): the pipeline's lock-free gate
/// admits on the clean word, one call fails and trips it. Every interleaving trips once
/// and accounts for both calls; a success whose permit outlived the trip is stale and
/// not counted (the core's rule), never counted twice or as closing the breaker.
#[test]
fn policy_gate_success_races_tripping_failure() {
    model("policy_gate_success_races_tripping_failure", || {
        let b = breaker(1);
        let config = pipeline::Config::DEFAULT
            .with_retry(
                retry::Config::DEFAULT
                    .with_max_attempts(1)
                    .with_backoff(steadfast::backoff::Backoff::constant(Duration::ZERO)),
            )
            .with_timeout(timeout::Config::NONE);
        let policy = Policy::builder(config).unwrap().breaker(b.clone()).build();
        let p2 = policy.clone();
        let t = thread::spawn(move || p2.call_blocking(|| Ok::<_, ()>(())).is_ok());
        let failed = policy.call_blocking(|| Err::<(), _>(())).is_err();
        let succeeded = t.join().unwrap();
        assert!(failed);
        let s = b.stats();
        assert_eq!(s.failures, 1, "{s:?}");
        assert_eq!(s.calls + s.rejections, 2, "{s:?}");
        assert!(s.successes <= u64::from(succeeded), "{s:?}");
        assert_eq!(s.rejections, u64::from(!succeeded), "{s:?}");
        assert!(matches!(b.state(), State::Open { .. }), "{:?}", b.state());
    });
}

/// The rate limiter's compare-and-swap: a burst of 2 raced for by three checks
/// on two threads admits exactly two of them, in every interleaving.
#[test]
fn rate_limiter_admits_exactly_its_burst() {
    use steadfast::ratelimit::Config as RateConfig;
    use steadfast_std::ratelimit::SharedRateLimiter;
    model("rate_limiter_admits_exactly_its_burst", || {
        let limiter = SharedRateLimiter::new("loom", RateConfig::per_minute(2)).unwrap();
        let other = limiter.clone();
        let t = thread::spawn(move || {
            u32::from(other.check().is_ok()) + u32::from(other.check().is_ok())
        });
        let here = u32::from(limiter.check().is_ok());
        let there = t.join().unwrap();
        assert_eq!(here + there, 2, "admitted more or fewer than the burst");
        assert_eq!(limiter.available(), 0);
    });
}

/// The harness can fail: a deliberately racy load-then-store counter loses an update
/// in some interleaving, and loom must find it.
#[test]
#[should_panic(expected = "lost update")]
fn canary_racy_counter_is_caught() {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicU32, Ordering};
    model("canary_racy_counter_is_caught", || {
        let n = Arc::new(AtomicU32::new(0));
        let n2 = n.clone();
        let t = thread::spawn(move || n2.store(n2.load(Ordering::SeqCst) + 1, Ordering::SeqCst));
        n.store(n.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
        t.join().unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 2, "lost update");
    });
}
