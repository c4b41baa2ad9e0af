//! loom models of the shared handles: every interleaving of two or three threads (loom's
//! exhaustive scheduler, bounded preemptions) over the breaker's atomic fast path (a count
//! window's fast successes counted or kept aside in its word without the lock), its
//! mutex slow path (a count window's outcomes recorded without the clock unless they trip
//! it), the bulkhead behind the blocking executor, the bulkhead's slots
//! lent to its lock-free path racing a waiter that queues, the adaptive limit's
//! slots, the adaptive throttle's decisions and counts (alone and as a policy's gate), and
//! the gauges reported to an observer (the adaptive limit's, a bulkhead's through policies).
//!
//! Proven for every interleaving explored: no lost update (every call recorded exactly
//! once in the stats, no failure lost on the way to a trip), no leaked permit (the
//! bulkhead is empty afterwards, acquired == released), no double release, no lent
//! slot lost, no adaptive slot granted over the limit, the adaptive limit, the throttle
//! and a count-window breaker answer as their core machine does given the same steps in
//! some order, and
//! the last gauge report an observer is told is the machine's state.
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

/// A pipeline of one attempt, no backoff and no timeout: each call is one
/// attempt, which the models race.
fn one_attempt() -> pipeline::Config {
    pipeline::Config::DEFAULT
        .with_retry(
            retry::Config::DEFAULT
                .with_max_attempts(1)
                .with_backoff(steadfast::backoff::Backoff::constant(Duration::ZERO)),
        )
        .with_timeout(timeout::Config::NONE)
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
        let config = one_attempt();
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
        let config = one_attempt();
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

/// How a caller gives back the slot or the admission it got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Record(Outcome),
    Drop,
}

/// Every order in which callers can take their steps one at a time, caller
/// `i` taking `steps[i]` of them in its own order: each a list of caller
/// indices, one per step.
fn orders(steps: &[usize]) -> Vec<Vec<usize>> {
    fn go(left: &mut [usize], order: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if left.iter().all(|&n| n == 0) {
            out.push(order.clone());
            return;
        }
        for caller in 0..left.len() {
            if left[caller] > 0 {
                left[caller] -= 1;
                order.push(caller);
                go(left, order, out);
                order.pop();
                left[caller] += 1;
            }
        }
    }
    let mut out = Vec::new();
    go(&mut steps.to_vec(), &mut Vec::new(), &mut out);
    out
}

/// AIMD that halves the limit on a drop and never finds a sample too slow
/// (a timeout of an hour), so the limit depends on the order of the steps
/// alone, not on the clock.
fn aimd(initial: u32, min: u32, max: u32) -> steadfast::adaptive::Config {
    steadfast::adaptive::Config::new()
        .with_limits(initial, min, max)
        .with_algorithm(steadfast::adaptive::Algorithm::Aimd {
            backoff_permille: 500,
            timeout: Duration::from_secs(3600),
        })
}

/// Takes a slot of `limit` (refused: `Err` with the limit it was refused
/// at), is one of `held` while it has it, and gives it back as `end` says.
/// `held` counts a caller after its grant and no more before it gives the
/// slot back, so it never counts more callers than the limit has out.
fn adaptive_caller(
    limit: &steadfast_std::adaptive::SharedAdaptiveLimit,
    held: &loom::sync::atomic::AtomicU32,
    cap: u32,
    end: End,
) -> Result<(), u32> {
    use loom::sync::atomic::Ordering::SeqCst;
    let permit = limit.try_acquire().map_err(|full| full.limit)?;
    let holders = held.fetch_add(1, SeqCst) + 1;
    assert!(
        holders <= cap,
        "{holders} callers hold a slot of a limit of {cap}"
    );
    held.fetch_sub(1, SeqCst);
    match end {
        End::Record(outcome) => permit.record(outcome),
        End::Drop => drop(permit),
    }
    Ok(())
}

/// Runs `ends.len()` callers of one adaptive limit at once, the first on
/// this thread, each as [`adaptive_caller`]: what each one's `try_acquire`
/// answered.
fn adaptive_callers(
    limit: &steadfast_std::adaptive::SharedAdaptiveLimit,
    cap: u32,
    ends: &[End],
) -> Vec<Result<(), u32>> {
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicU32;
    let held = Arc::new(AtomicU32::new(0));
    let others: Vec<_> = ends[1..]
        .iter()
        .map(|&end| {
            let (limit, held) = (limit.clone(), held.clone());
            thread::spawn(move || adaptive_caller(&limit, &held, cap, end))
        })
        .collect();
    let mut answers = vec![adaptive_caller(limit, &held, cap, ends[0])];
    answers.extend(others.into_iter().map(|t| t.join().unwrap()));
    answers
}

/// A limit pinned at 2 (min = initial = max), three callers at once: one
/// records a success, one a failure, one drops its permit (cancelled). In
/// every interleaving no more than 2 callers ever hold a slot, at least two
/// are granted one (the first two to ask always are), a refusal names the
/// limit of 2, and every slot comes back exactly once: nothing in flight
/// afterwards.
#[test]
fn adaptive_limit_never_grants_over_its_limit() {
    use steadfast_std::adaptive::SharedAdaptiveLimit;
    model("adaptive_limit_never_grants_over_its_limit", || {
        let limit = SharedAdaptiveLimit::new("loom", aimd(2, 2, 2)).unwrap();
        let ends = [
            End::Record(Outcome::Success),
            End::Record(Outcome::Failure),
            End::Drop,
        ];
        let answers = adaptive_callers(&limit, 2, &ends);
        let granted = answers.iter().filter(|a| a.is_ok()).count();
        assert!(granted >= 2, "refused below the limit: {answers:?}");
        assert!(
            answers.iter().all(|a| matches!(a, Ok(()) | Err(2))),
            "{answers:?}"
        );
        assert_eq!(
            (limit.in_flight(), limit.limit()),
            (0, 2),
            "a slot leaked or came back twice"
        );
    });
}

/// What each caller of an adaptive limit was answered, then the final
/// limit and in flight.
type AdaptiveRun = (Vec<Result<(), u32>>, u32, u32);

/// What an adaptive limit starting from `config` answers when callers
/// ending as `ends` take their two steps (take a slot, give it back) one at
/// a time in any order: one entry per order.
fn adaptive_serial(config: steadfast::adaptive::Config, ends: &[End]) -> Vec<AdaptiveRun> {
    use steadfast::adaptive::AdaptiveLimit;
    use steadfast::time::Instant;
    orders(&vec![2; ends.len()])
        .into_iter()
        .map(|order| {
            let mut machine = AdaptiveLimit::new(config).unwrap();
            let mut permits: Vec<Option<_>> = ends.iter().map(|_| None).collect();
            let mut answers: Vec<Option<Result<(), u32>>> = vec![None; ends.len()];
            for caller in order {
                match answers[caller] {
                    None => {
                        let taken = machine.try_acquire(Instant::ZERO);
                        answers[caller] = Some(taken.as_ref().map(|_| ()).map_err(|f| f.limit));
                        permits[caller] = taken.ok();
                    }
                    Some(_) => {
                        if let Some(permit) = permits[caller].take() {
                            match ends[caller] {
                                End::Record(o) => machine.record(permit, o, Instant::ZERO),
                                End::Drop => machine.cancel(permit),
                            }
                        }
                    }
                }
            }
            let answers = answers.into_iter().map(Option::unwrap).collect();
            (answers, machine.limit(), machine.in_flight())
        })
        .collect()
}

/// A limit starting at 1 (within 1 ..= 3), three callers at once: two
/// record a success, one a failure. Every interleaving is one that the core
/// machine, given the same steps one at a time in some order, answers the
/// same: each caller's grant or refusal (with the limit it was refused at)
/// and the final limit and in flight, so no sample is lost or learnt twice
/// and no slot is taken or given back outside the machine's own steps; the
/// limit stays within [1, 3] and nothing is in flight afterwards.
#[test]
fn adaptive_limit_learns_as_the_core_in_some_order() {
    use steadfast_std::adaptive::SharedAdaptiveLimit;
    model("adaptive_limit_learns_as_the_core_in_some_order", || {
        let config = aimd(1, 1, 3);
        let ends = [
            End::Record(Outcome::Success),
            End::Record(Outcome::Success),
            End::Record(Outcome::Failure),
        ];
        let limit = SharedAdaptiveLimit::new("loom", config).unwrap();
        let answers = adaptive_callers(&limit, 3, &ends);
        let seen: AdaptiveRun = (answers, limit.limit(), limit.in_flight());
        assert!((1..=3).contains(&seen.1), "limit out of bounds: {seen:?}");
        assert_eq!(seen.2, 0, "a slot leaked: {seen:?}");
        assert!(
            adaptive_serial(config, &ends).contains(&seen),
            "no order of the core's steps answers {seen:?}"
        );
    });
}

/// A throttle whose window (an hour) outlasts the model, so nothing expires
/// and its decisions depend on its counts and draws alone.
fn throttle_config() -> steadfast::throttle::Config {
    steadfast::throttle::Config::new().with_window(Duration::from_secs(3600))
}

/// Asks `throttle` to admit a call and, admitted, ends it as `end` says
/// (recorded accepted on a success, not accepted on a failure; dropped
/// unrecorded: not accepted). Refused: `Err` with the refusal's probability.
fn throttle_caller(
    throttle: &steadfast_std::throttle::SharedThrottle,
    end: End,
) -> Result<(), u32> {
    let admitted = throttle.admit().map_err(|t| t.reject_permille)?;
    match end {
        End::Record(outcome) => admitted.record(outcome == Outcome::Success),
        End::Drop => drop(admitted),
    }
    Ok(())
}

/// Runs one caller per entry of `ends` at once through `throttle`, the first
/// on this thread: each one's answer.
fn throttle_callers(
    throttle: &steadfast_std::throttle::SharedThrottle,
    ends: &[End],
) -> Vec<Result<(), u32>> {
    let others: Vec<_> = ends[1..]
        .iter()
        .map(|&end| {
            let throttle = throttle.clone();
            thread::spawn(move || throttle_caller(&throttle, end))
        })
        .collect();
    let mut answers = vec![throttle_caller(throttle, ends[0])];
    answers.extend(others.into_iter().map(|t| t.join().unwrap()));
    answers
}

/// A fresh throttle, three calls at once: one accepted, one not, one dropped
/// unrecorded. Whatever the interleaving and whichever of them the throttle
/// refuses, each counts as exactly one request (a refusal at once, an
/// admitted call when it ends) and only the accepted one, if admitted, as an
/// accept.
#[test]
fn throttle_counts_every_call_once() {
    use steadfast_std::throttle::SharedThrottle;
    model("throttle_counts_every_call_once", || {
        let throttle = SharedThrottle::new("loom", throttle_config())
            .unwrap()
            .with_seed(7);
        let ends = [
            End::Record(Outcome::Success),
            End::Record(Outcome::Failure),
            End::Drop,
        ];
        let answers = throttle_callers(&throttle, &ends);
        assert!(
            answers.iter().any(Result::is_ok),
            "the first call a fresh throttle sees is admitted: {answers:?}"
        );
        assert_eq!(
            throttle.counts(),
            (3, u32::from(answers[0].is_ok())),
            "a call lost or counted twice: {answers:?}"
        );
    });
}

/// The calls made one after the other once the concurrent ones are done,
/// none accepted: their answers show where the draw stream stands.
const THROTTLE_TAIL: usize = 3;

/// The seeds [`throttle_decides_as_the_core_in_some_order`] runs with, one
/// model each.
const THROTTLE_SEEDS: core::ops::Range<u64> = 0..8;

/// What each call answered and the final `(requests, accepts)`: the calls
/// made at once, then the ones made after them.
type ThrottleRun = (Vec<Result<(), u32>>, Vec<Result<(), u32>>, (u32, u32));

/// What the core machine, its draws from `seed`, answers when two calls not
/// accepted came first, then callers ending as `ends` take their two steps
/// (admit, then end an admitted call) one at a time in any order, then
/// [`THROTTLE_TAIL`] calls not accepted follow: one entry per order.
fn throttle_serial(seed: u64, ends: &[End]) -> Vec<ThrottleRun> {
    use std::cell::RefCell;
    use steadfast::throttle::{AdaptiveThrottle, Drawn};
    use steadfast::time::Instant;
    let t = Instant::from_secs(3600);
    orders(&vec![2; ends.len()])
        .into_iter()
        .map(|order| {
            let gate: RefCell<Drawn> = RefCell::new(Drawn::new(
                AdaptiveThrottle::new(throttle_config()).unwrap(),
                seed,
            ));
            let admit = || -> Result<(), u32> {
                let Drawn { throttle, rng } = &mut *gate.borrow_mut();
                throttle.admit(t, rng).map_err(|e| e.reject_permille)
            };
            let record = |accepted: bool| gate.borrow_mut().throttle.record(accepted, t);
            let not_accepted = || {
                let answer = admit();
                if answer.is_ok() {
                    record(false);
                }
                answer
            };
            let _ = (not_accepted(), not_accepted());
            let mut answers: Vec<Option<Result<(), u32>>> = vec![None; ends.len()];
            for caller in order {
                match answers[caller] {
                    None => answers[caller] = Some(admit()),
                    Some(Ok(())) => record(ends[caller] == End::Record(Outcome::Success)),
                    Some(Err(_)) => {}
                }
            }
            let after = (0..THROTTLE_TAIL).map(|_| not_accepted()).collect();
            let counts = gate.borrow_mut().throttle.counts(t);
            let answers = answers.into_iter().map(Option::unwrap).collect();
            (answers, after, counts)
        })
        .collect()
}

/// A throttle that has seen two calls not accepted (refusing now with odds
/// 2/3), three calls at once (one accepted, one not, one dropped
/// unrecorded), then three calls not accepted one after the other; for each
/// of eight seeds. Every interleaving is one that the core machine, given
/// the same steps one at a time in some order, answers the same: each
/// admission or refusal (with its odds), the later calls' and the final
/// counts. So no decision is taken on counts another caller had already
/// changed, no call is lost or counted twice, and no two callers share a
/// draw nor is one skipped (which puts the stream one draw out and changes
/// some seed's answers).
#[test]
fn throttle_decides_as_the_core_in_some_order() {
    use steadfast_std::throttle::SharedThrottle;
    for seed in THROTTLE_SEEDS {
        let name = format!("throttle_decides_as_the_core_in_some_order (seed {seed})");
        model(&name, move || {
            let throttle = SharedThrottle::new("loom", throttle_config())
                .unwrap()
                .with_seed(seed);
            let not_accepted = || throttle_caller(&throttle, End::Record(Outcome::Failure));
            let _ = (not_accepted(), not_accepted());
            let ends = [
                End::Record(Outcome::Success),
                End::Record(Outcome::Failure),
                End::Drop,
            ];
            let answers = throttle_callers(&throttle, &ends);
            let after = (0..THROTTLE_TAIL).map(|_| not_accepted()).collect();
            let seen: ThrottleRun = (answers, after, throttle.counts());
            assert!(
                throttle_serial(seed, &ends).contains(&seen),
                "seed {seed}: no order of the core's steps answers {seen:?}"
            );
        });
    }
}

/// Two policy calls through one fresh throttle (the pipeline asks it as a
/// gate, under its lock, at each step): one succeeds, one fails. Every
/// interleaving counts each call once as a request, the success, if
/// admitted, as the one accept.
#[test]
fn policy_throttle_counts_every_attempt_once() {
    use steadfast_std::throttle::SharedThrottle;
    model("policy_throttle_counts_every_attempt_once", || {
        let throttle = SharedThrottle::new("loom", throttle_config())
            .unwrap()
            .with_seed(7);
        let config = one_attempt();
        let policy = Policy::builder(config)
            .unwrap()
            .throttle(throttle.clone())
            .build();
        let p2 = policy.clone();
        let t = thread::spawn(move || p2.call_blocking(|| Ok::<_, ()>(())).is_ok());
        let failed = policy.call_blocking(|| Err::<(), _>(()));
        let succeeded = t.join().unwrap();
        assert!(failed.is_err());
        assert_eq!(
            throttle.counts(),
            (2, u32::from(succeeded)),
            "an attempt lost or counted twice"
        );
    });
}

/// An observer that records every gauge report it is told, each under its
/// own lock (as a metrics registry keeps its gauges).
#[derive(Default)]
struct Gauges {
    adaptive: loom::sync::Mutex<Vec<(u32, u32)>>,
    bulkhead: loom::sync::Mutex<Vec<(u32, u32)>>,
}

impl steadfast_std::Observer for Gauges {
    fn on_adaptive_limit(&self, _name: &str, limit: u32, in_flight: u32) {
        self.adaptive.lock().unwrap().push((limit, in_flight));
    }
    fn on_bulkhead(&self, _bulkhead: &str, in_flight: u32, queued: u32) {
        self.bulkhead.lock().unwrap().push((in_flight, queued));
    }
    fn watches_bulkheads(&self) -> bool {
        true
    }
}

/// An adaptive limit (AIMD within 1 ..= 4, starting at 3) reporting to
/// [`Gauges`], three callers at once: one records a success, one a failure
/// (the limit halves), one drops its permit; a caller refused at the limit
/// ends there. Callers hold slots at the same time in some interleavings
/// and give them back concurrently; in every one, the last
/// `(limit, in_flight)` the observer was told is the limit's own
/// afterwards.
#[test]
fn adaptive_gauge_ends_at_the_latest_levels() {
    use steadfast_std::adaptive::SharedAdaptiveLimit;
    model("adaptive_gauge_ends_at_the_latest_levels", || {
        let gauges = std::sync::Arc::new(Gauges::default());
        let limit = SharedAdaptiveLimit::new("loom", aimd(3, 1, 4))
            .unwrap()
            .with_observer(gauges.clone());
        let call = |limit: &SharedAdaptiveLimit, end: End| {
            if let Ok(permit) = limit.try_acquire() {
                match end {
                    End::Record(outcome) => permit.record(outcome),
                    End::Drop => drop(permit),
                }
            }
        };
        let others: Vec<_> = [End::Record(Outcome::Success), End::Record(Outcome::Failure)]
            .into_iter()
            .map(|end| {
                let limit = limit.clone();
                thread::spawn(move || call(&limit, end))
            })
            .collect();
        call(&limit, End::Drop);
        for t in others {
            t.join().unwrap();
        }
        let reports = gauges.adaptive.lock().unwrap().clone();
        assert_eq!(
            reports.last(),
            Some(&(limit.limit(), limit.in_flight())),
            "the gauge ends stale: {reports:?}"
        );
    });
}

/// A bulkhead of 2 (no queue) shared by two policies built apart with the
/// same observer ([`Gauges`], which watches bulkheads), three calls at once:
/// one through the first policy, two through the second (a call finding
/// both slots taken is refused). Whatever the interleaving of their steps
/// (take a slot, give it back), the last `(in_flight, queued)` the observer
/// was told is the bulkhead's afterwards: `(0, 0)`.
#[test]
fn bulkhead_gauge_ends_at_the_latest_occupancy() {
    model("bulkhead_gauge_ends_at_the_latest_occupancy", || {
        let gauges = std::sync::Arc::new(Gauges::default());
        let pool = SharedBulkhead::new(
            "loom",
            BulkheadConfig::DEFAULT
                .with_max_concurrent(2)
                .with_max_queue(0)
                .with_max_wait(Duration::from_secs(1)),
        )
        .unwrap();
        let config = one_attempt();
        let policy = |name: &str| {
            Policy::builder(config)
                .unwrap()
                .name(name)
                .bulkhead(pool.clone())
                .observer(gauges.clone())
                .build()
        };
        let (mine, theirs) = (policy("a"), policy("b"));
        let others: Vec<_> = (0..2)
            .map(|_| {
                let theirs = theirs.clone();
                thread::spawn(move || theirs.call_blocking(|| Ok::<_, ()>(())).is_ok())
            })
            .collect();
        let mut admitted = usize::from(mine.call_blocking(|| Ok::<_, ()>(())).is_ok());
        for t in others {
            admitted += usize::from(t.join().unwrap());
        }
        assert!(admitted >= 2, "a bulkhead of 2 refused below its size");
        let reports = gauges.bulkhead.lock().unwrap().clone();
        assert_eq!(
            (pool.in_flight(), pool.queued(), reports.last()),
            (0, 0, Some(&(0, 0))),
            "the gauge ends stale: {reports:?}"
        );
    });
}

/// What a count-window caller saw of each of its calls: refused, or admitted
/// and the state its outcome moved the breaker to, if any.
type WindowCall = Result<Option<&'static str>, ()>;
/// The callers' calls, then the state, the window and the counters after them.
type WindowRun = (
    Vec<Vec<WindowCall>>,
    &'static str,
    steadfast::breaker::WindowCounts,
    (u64, u64, u64, u64, u64),
);

/// A window of two judged at 100 % (two failures in a row trip it), open for
/// an hour: decisions depend on the order of the outcomes alone.
fn strict_window() -> BreakerConfig {
    BreakerConfig::new()
        .with_minimum_calls(2)
        .with_failure_rate_percent(100)
        .with_break_duration(Duration::from_secs(3600))
}

fn window_counters(s: steadfast_std::Totals) -> (u64, u64, u64, u64, u64) {
    (s.calls, s.successes, s.failures, s.rejections, s.opens)
}

/// The core's `CountWindow` fed `before`, then the callers' calls one step
/// at a time in every order (a call is two steps: acquire, then record):
/// every run the shared breaker may show.
fn window_serial(before: &[Outcome], calls: &[&[Outcome]]) -> Vec<WindowRun> {
    use steadfast::breaker::{Breaker, CountWindow, Permit};
    use steadfast::time::Instant;
    let now = Instant::ZERO;
    let steps: Vec<usize> = calls.iter().map(|c| 2 * c.len()).collect();
    orders(&steps)
        .into_iter()
        .map(|order| {
            let window = CountWindow::<128, 2>::with_len(2).unwrap();
            let mut core = Breaker::with_window(strict_window(), window).unwrap();
            for &outcome in before {
                let p = core.try_acquire(now).unwrap();
                let _ = core.record(p, outcome, now);
            }
            let mut seen: Vec<Vec<WindowCall>> = vec![Vec::new(); calls.len()];
            let mut held: Vec<Option<Permit>> = (0..calls.len()).map(|_| None).collect();
            let mut taken = vec![0; calls.len()];
            for caller in order {
                let step = taken[caller];
                taken[caller] += 1;
                if step % 2 == 0 {
                    match core.try_acquire(now) {
                        Ok(p) => held[caller] = Some(p),
                        Err(_) => seen[caller].push(Err(())),
                    }
                } else if let Some(p) = held[caller].take() {
                    let t = core.record(p, calls[caller][step / 2], now);
                    seen[caller].push(Ok(t.map(|t| t.to().name())));
                }
            }
            let stats = steadfast_std::Totals::from(core.stats());
            (
                seen,
                core.state().name(),
                core.counts(now),
                window_counters(stats),
            )
        })
        .collect()
}

/// The shared count window of [`strict_window`] fed `before`, then `calls[0]`
/// on this thread racing `calls[1..]`, one thread each.
fn window_shared(before: &[Outcome], calls: &[&'static [Outcome]]) -> WindowRun {
    let b = SharedBreaker::with_count_window("loom", strict_window(), 2).unwrap();
    for &outcome in before {
        let _ = b.try_acquire().unwrap().record(outcome);
    }
    let caller = |b: &SharedBreaker, outcomes: &[Outcome]| -> Vec<WindowCall> {
        outcomes
            .iter()
            .map(|&outcome| match b.try_acquire() {
                Ok(p) => Ok(p.record(outcome).map(|t| t.to().name())),
                Err(_) => Err(()),
            })
            .collect()
    };
    let others: Vec<_> = calls[1..]
        .iter()
        .map(|&outcomes| {
            let b = b.clone();
            thread::spawn(move || caller(&b, outcomes))
        })
        .collect();
    let mut seen = vec![caller(&b, calls[0])];
    seen.extend(others.into_iter().map(|t| t.join().unwrap()));
    (
        seen,
        b.state().name(),
        b.counts(),
        window_counters(b.stats()),
    )
}

/// A window full of successes (clean: a success is counted without the
/// lock) while two failures are recorded under the lock, the second
/// tripping it if nothing came between. Every interleaving is one the core
/// window, given the same steps one at a time in some order, answers the
/// same: a success counted without the lock once a failure is in the
/// window would make the failures' trip and the success's count disagree
/// with every order.
#[test]
fn count_window_clean_success_races_locked_failures_as_the_core_in_some_order() {
    model(
        "count_window_clean_success_races_locked_failures_as_the_core_in_some_order",
        || {
            const SUCCESS: &[Outcome] = &[Outcome::Success];
            const FAILURES: &[Outcome] = &[Outcome::Failure, Outcome::Failure];
            let before = [Outcome::Success, Outcome::Success];
            let seen = window_shared(&before, &[FAILURES, SUCCESS]);
            assert!(
                window_serial(&before, &[FAILURES, SUCCESS]).contains(&seen),
                "no order of the core's steps answers {seen:?}"
            );
        },
    );
}

/// A window holding a failure (not clean: every outcome takes the lock): a
/// success races a failure that trips it only if it comes first. Either the
/// success is recorded before it (no trip) or it is stale (trip, the success
/// not counted): never a trip with the success counted.
#[test]
fn count_window_success_races_a_tripping_failure_as_the_core_in_some_order() {
    model(
        "count_window_success_races_a_tripping_failure_as_the_core_in_some_order",
        || {
            const SUCCESS: &[Outcome] = &[Outcome::Success];
            const FAILURE: &[Outcome] = &[Outcome::Failure];
            let before = [Outcome::Success, Outcome::Success, Outcome::Failure];
            let seen = window_shared(&before, &[FAILURE, SUCCESS]);
            assert!(
                window_serial(&before, &[FAILURE, SUCCESS]).contains(&seen),
                "no order of the core's steps answers {seen:?}"
            );
        },
    );
}

/// A full window holding a failure (no fast success can trip it: each is
/// kept aside in the word, without the lock) while two successes race a
/// failure that trips it only if it comes before both. The successes kept
/// aside reach the core before the failure, or come after it and are stale:
/// none lost, none counted twice, none counted in the generation after the
/// trip, whatever the interleaving.
#[test]
fn count_window_successes_kept_aside_race_a_tripping_failure_as_the_core_in_some_order() {
    model(
        "count_window_successes_kept_aside_race_a_tripping_failure_as_the_core_in_some_order",
        || {
            const SUCCESS: &[Outcome] = &[Outcome::Success];
            const FAILURE: &[Outcome] = &[Outcome::Failure];
            let before = [Outcome::Success, Outcome::Failure];
            let seen = window_shared(&before, &[FAILURE, SUCCESS, SUCCESS]);
            assert!(
                window_serial(&before, &[FAILURE, SUCCESS, SUCCESS]).contains(&seen),
                "no order of the core's steps answers {seen:?}"
            );
        },
    );
}
