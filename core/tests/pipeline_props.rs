//! Property tests of the composed pipeline: many calls sharing one breaker, one
//! bulkhead and one budget, driven by random steps, outcomes, cancellations and
//! clock moves (forwards, standing still, backwards, to the end of time).
//!
//! Invariants checked after every step:
//! * nothing panics;
//! * no call runs more than `max_attempts` attempts, and attempt numbers grow;
//! * the bulkhead never has more slots in flight than calls holding one;
//! * once every call has ended or been abandoned, no slot, ticket or half-open
//!   probe is left behind: the bulkhead is empty and the breaker, given time,
//!   admits and closes again.

use proptest::prelude::*;
use steadfast::breaker::{Breaker, Config as BreakerConfig, CountWindow};
use steadfast::bulkhead::{Bulkhead, Config as BulkheadConfig};
use steadfast::outcome::Verdict;
use steadfast::pipeline::{self, Call, Pipeline, Shared, Step};
use steadfast::retry::{self, Budget, BudgetConfig};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::timeout;

#[derive(Clone, Debug)]
enum Op {
    Next(usize),
    Outcome(usize, u8),
    Abandon(usize),
    Start(usize),
    Advance(u64),
    Back(u64),
    EndOfTime,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6usize).prop_map(Op::Next),
        4 => (0..6usize, 0..5u8).prop_map(|(i, k)| Op::Outcome(i, k)),
        1 => (0..6usize).prop_map(Op::Abandon),
        2 => (0..6usize).prop_map(Op::Start),
        3 => (0..2_000_000u64).prop_map(Op::Advance),
        1 => (0..2_000_000u64).prop_map(Op::Back),
        1 => Just(Op::EndOfTime),
    ]
}

fn verdict(kind: u8) -> Verdict {
    match kind {
        0 => Verdict::success(),
        1 => Verdict::failure(),
        2 => Verdict::failure().not_retryable(),
        3 => Verdict::ignored(),
        _ => Verdict::timed_out(),
    }
}

struct Slot<'a> {
    call: Call<'a>,
    running: bool,
    attempts_seen: u32,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 512 }))]

    #[test]
    fn random_use_never_panics_or_leaks(
        ops in prop::collection::vec(op(), 1..if cfg!(miri) { 24 } else { 120 }),
        attempts in 1u32..5,
        attempt_timeout_ms in prop::option::of(0u64..3_000),
        total_ms in prop::option::of(0u64..10_000),
        max_queue in 0u32..3,
        outermost in any::<bool>(),
    ) {
        let retry = retry::Config::DEFAULT.with_max_attempts(attempts);
        let mut config = pipeline::Config::DEFAULT
            .with_retry(retry)
            .with_timeout(timeouts(
                attempt_timeout_ms.map(Duration::from_millis),
                total_ms.map(Duration::from_millis),
            ));
        if outermost {
            config = config.with_order(steadfast::pipeline::Order::BulkheadOutermost);
        }
        let pipeline = Pipeline::new(config).unwrap();
        let mut breaker: Breaker<CountWindow<8>> = Breaker::new(
            BreakerConfig::new()
                .with_minimum_calls(2)
                .with_failure_rate_percent(50)
                .with_break_duration(Duration::from_millis(500))
                .with_probes(2, 1),
        ).unwrap();
        let mut pool: Bulkhead<4> =
            Bulkhead::new(BulkheadConfig::DEFAULT.with_max_concurrent(2).with_max_queue(max_queue).with_max_wait(Duration::from_millis(700))).unwrap();
        let mut budget: Budget = Budget::new(BudgetConfig::DEFAULT.with_ratio_permille(200).with_min_retries_per_sec(1).with_window(Duration::from_secs(10))).unwrap();
        let mut rng = SplitMix64::new(3);
        let mut now = Instant::ZERO;
        let mut slots: Vec<Option<Slot<'_>>> = (0..6).map(|_| None).collect();

        for op in ops {
            let mut shared = Shared::new().with_breaker(&mut breaker).with_bulkhead(&mut pool).with_budget(&mut budget);
            match op {
                Op::Start(i) => {
                    if slots[i].is_none() {
                        slots[i] = Some(Slot { call: pipeline.start(now), running: false, attempts_seen: 0 });
                    }
                }
                Op::Next(i) => {
                    if let Some(slot) = slots[i].as_mut() {
                        let step = slot.call.next(now, &mut shared);
                        observe(slot, step, attempts)?;
                    }
                }
                Op::Outcome(i, kind) => {
                    if let Some(slot) = slots[i].as_mut()
                        && slot.running
                    {
                        let step = slot.call.on_outcome(verdict(kind), now, &mut shared, &mut rng);
                        observe(slot, step, attempts)?;
                    }
                }
                Op::Abandon(i) => {
                    if let Some(mut slot) = slots[i].take() {
                        slot.call.abandon(now, &mut shared);
                    }
                }
                Op::Advance(us) => now += Duration::from_micros(us),
                Op::Back(us) => now -= Duration::from_micros(us),
                Op::EndOfTime => now = Instant::from_micros(u64::MAX - 1),
            }
            let holding = slots.iter().flatten().filter(|s| !s.call.is_finished()).count() as u32;
            prop_assert!(pool.in_flight() <= holding, "{} slots in flight for {} live calls", pool.in_flight(), holding);
            prop_assert!(pool.in_flight() <= 2);
        }

        // Everyone leaves: nothing may be left behind.
        for mut slot in slots.into_iter().flatten() {
            let mut shared = Shared::new().with_breaker(&mut breaker).with_bulkhead(&mut pool).with_budget(&mut budget);
            slot.call.abandon(now, &mut shared);
        }
        prop_assert_eq!(pool.in_flight(), 0);
        prop_assert_eq!(pool.queued(), 0);
        if now < Instant::from_secs(1_000_000) {
            // Far enough for any break; probes must all be free again.
            let later = now + Duration::from_secs(3_600);
            let pipe = Pipeline::new(pipeline::Config::DEFAULT.with_timeout(timeout::Config::NONE)).unwrap();
            let mut fresh = pipe.start(later);
            let mut shared = Shared::new().with_breaker(&mut breaker).with_bulkhead(&mut pool);
            let step = fresh.next(later, &mut shared);
            prop_assert!(matches!(step, Step::Attempt { .. }), "breaker wedged: {:?} in {:?}", step, breaker.state());
            // (A success may still trip a rate window that just reached its minimum:
            // that is the rule. What matters is that the probe slot is returned.)
            let _ = fresh.on_outcome(Verdict::success(), later, &mut Shared::new().with_breaker(&mut breaker).with_bulkhead(&mut pool), &mut rng);
            prop_assert_eq!(pool.in_flight(), 0);
        }
    }
}

fn observe(slot: &mut Slot<'_>, step: Step, max_attempts: u32) -> Result<(), TestCaseError> {
    match step {
        Step::Attempt { attempt, .. } => {
            prop_assert!(
                attempt <= max_attempts,
                "attempt {} > max {}",
                attempt,
                max_attempts
            );
            prop_assert!(
                attempt > slot.attempts_seen || slot.running,
                "attempt numbers must grow"
            );
            slot.attempts_seen = attempt;
            slot.running = true;
        }
        Step::Done(finish) => {
            prop_assert!(finish.attempts() <= max_attempts);
            slot.running = false;
        }
        Step::Wait { .. } | Step::Queued { .. } => slot.running = false,
    }
    Ok(())
}

/// Timeouts from optional values: each `Some` sets one, `None` leaves it unset.
fn timeouts(attempt: Option<Duration>, total: Option<Duration>) -> timeout::Config {
    let mut config = timeout::Config::NONE;
    if let Some(attempt) = attempt {
        config = config.with_attempt(attempt);
    }
    if let Some(total) = total {
        config = config.with_total(total);
    }
    config
}
