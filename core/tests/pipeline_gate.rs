//! Timelines of the pipeline's admission stage (a rate limiter, an adaptive
//! throttle, both): what runs, what waits, what each machine hears.

use steadfast::backoff::Backoff;
use steadfast::breaker::{Breaker, Config as BreakerConfig, State};
use steadfast::bulkhead::{Bulkhead, Config as BulkheadConfig};
use steadfast::outcome::{Outcome, Verdict};
use steadfast::pipeline::{self, Failure, Finish, Gate, Input, Pipeline, Reason, Shared, Step};
use steadfast::ratelimit::{Config as RateConfig, RateLimiter};
use steadfast::retry;
use steadfast::rng::SplitMix64;
use steadfast::throttle::{AdaptiveThrottle, Config as ThrottleConfig, Drawn};
use steadfast::time::{Duration, Instant};
use steadfast::timeout;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn d(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(attempts: u32, attempt_timeout: Option<u64>, total: Option<u64>) -> pipeline::Config {
    let mut t = timeout::Config::NONE;
    if let Some(a) = attempt_timeout {
        t = t.with_attempt(d(a));
    }
    if let Some(total) = total {
        t = t.with_total(d(total));
    }
    pipeline::Config::DEFAULT
        .with_retry(
            retry::Config::DEFAULT
                .with_backoff(Backoff::constant(d(100)))
                .with_max_attempts(attempts),
        )
        .with_timeout(t)
}

/// One call per second, no burst.
fn one_a_second() -> RateLimiter {
    RateLimiter::new(RateConfig::per_second(1).with_burst(1)).unwrap()
}

fn throttle() -> Drawn {
    Drawn::new(AdaptiveThrottle::new(ThrottleConfig::new()).unwrap(), 7)
}

const FAIL: Input = Input::Outcome(Verdict::failure());
const OK: Input = Input::Outcome(Verdict::success());

#[test]
fn a_rate_limited_retry_fails_fast_without_a_deadline_or_without_room_before_it() {
    // No total deadline; a total deadline (1 900) before the limiter's 2 000.
    for (attempt_timeout, total) in [(None, None), (Some(200), Some(900))] {
        let mut limiter = one_a_second();
        let mut rng = SplitMix64::new(1);
        let pipeline = Pipeline::new(config(3, attempt_timeout, total)).unwrap();
        let mut call = pipeline.start(ms(1_000));
        let mut shared = Shared::new().with_gate(&mut limiter);
        let mut at = |t, input| call.handle(input, ms(t), &mut shared, &mut rng);
        assert!(matches!(
            at(1_000, Input::Next),
            Step::Attempt { attempt: 1, .. }
        ));
        assert_eq!(at(1_010, FAIL), Step::Wait { until: ms(1_110) });
        let limited = Reason::RateLimited {
            retry_at: Some(ms(2_000)),
        };
        assert_eq!(
            at(1_110, Input::Next),
            Step::Done(Finish::Failed(Failure::new(limited, 1))),
            "total {total:?}"
        );
    }
}

#[test]
fn a_rate_limited_retry_waits_for_its_turn_when_the_deadline_allows() {
    let mut limiter = one_a_second();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, Some(200), Some(5_000))).unwrap();
    let mut call = pipeline.start(ms(1_000));
    let mut shared = Shared::new().with_gate(&mut limiter);
    let mut at = |t, input| call.handle(input, ms(t), &mut shared, &mut rng);
    assert!(matches!(
        at(1_000, Input::Next),
        Step::Attempt { attempt: 1, .. }
    ));
    assert_eq!(at(1_010, FAIL), Step::Wait { until: ms(1_110) });
    // Refused at 1 110: the refused attempt counts as the second; the call
    // waits for the limiter's 2 000 and runs its third there.
    assert_eq!(at(1_110, Input::Next), Step::Wait { until: ms(2_000) });
    assert!(matches!(
        at(2_000, Input::Next),
        Step::Attempt { attempt: 3, .. }
    ));
    assert_eq!(
        at(2_050, OK),
        Step::Done(Finish::Completed {
            attempts: 2,
            outcome: Outcome::Success
        })
    );
}

#[test]
fn a_refused_attempt_gives_back_its_probe_slot_and_its_bulkhead_slot() {
    let mut breaker: Breaker = Breaker::new(
        BreakerConfig::new()
            .with_failure_threshold(1)
            .with_break_duration(d(500))
            .with_probes(1, 1),
    )
    .unwrap();
    let mut pool: Bulkhead = Bulkhead::new(BulkheadConfig::default()).unwrap();
    let mut limiter = one_a_second();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(1, None, None)).unwrap();

    let mut first = pipeline.start(ms(1_000));
    let mut shared = Shared::new()
        .with_breaker(&mut breaker)
        .with_bulkhead(&mut pool)
        .with_gate(&mut limiter);
    assert!(matches!(
        first.handle(Input::Next, ms(1_000), &mut shared, &mut rng),
        Step::Attempt { .. }
    ));
    // The failure opens the breaker until 1 510.
    assert!(matches!(
        first.handle(FAIL, ms(1_010), &mut shared, &mut rng),
        Step::Done(_)
    ));
    // At 1 600 the breaker admits a probe, the limiter refuses it (next place at 2 000).
    let mut second = pipeline.start(ms(1_600));
    let step = second.handle(Input::Next, ms(1_600), &mut shared, &mut rng);
    let limited = Reason::RateLimited {
        retry_at: Some(ms(2_000)),
    };
    assert_eq!(step, Step::Done(Finish::Failed(Failure::new(limited, 0))));
    assert_eq!(pool.in_flight(), 0);
    // The probe slot came back: a call at 2 000 is the probe, and closes the breaker.
    let mut third = pipeline.start(ms(2_000));
    let mut shared = Shared::new()
        .with_breaker(&mut breaker)
        .with_bulkhead(&mut pool)
        .with_gate(&mut limiter);
    assert!(matches!(
        third.handle(Input::Next, ms(2_000), &mut shared, &mut rng),
        Step::Attempt { .. }
    ));
    assert!(matches!(
        third.handle(OK, ms(2_010), &mut shared, &mut rng),
        Step::Done(Finish::Completed { .. })
    ));
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn an_attempt_already_timed_out_spends_no_place_in_the_limiter() {
    let mut limiter = one_a_second();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(1, Some(0), None)).unwrap();
    let mut call = pipeline.start(ms(1_000));
    let mut shared = Shared::new().with_gate(&mut limiter);
    assert_eq!(
        call.handle(Input::Next, ms(1_000), &mut shared, &mut rng),
        Step::Done(Finish::Failed(Failure::new(Reason::AttemptTimedOut, 1)))
    );
    assert_eq!(limiter.available(ms(1_000)), 1);
}

/// Runs one single-attempt call through `gate`, ended by `input`; returns how it finished.
fn one_call<G: Gate>(gate: &mut G, pipeline: &Pipeline, t: u64, input: Input) -> Finish {
    let mut rng = SplitMix64::new(1);
    let mut call = pipeline.start(ms(t));
    let mut shared = Shared::new().with_gate(gate);
    match call.handle(Input::Next, ms(t), &mut shared, &mut rng) {
        Step::Attempt { .. } => {}
        Step::Done(finish) => return finish,
        other => panic!("{other:?}"),
    }
    match call.handle(input, ms(t + 10), &mut shared, &mut rng) {
        Step::Done(finish) => finish,
        Step::Wait { .. } => {
            call.abandon(ms(t + 10), &mut shared);
            call.finish().unwrap()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_throttle_hears_every_attempt_that_ran_and_only_those() {
    let mut gate = throttle();
    let pipeline = Pipeline::new(config(1, Some(50), None)).unwrap();
    // A success, a failure, an ignored result: three requests, two accepted.
    one_call(&mut gate, &pipeline, 0, OK);
    one_call(&mut gate, &pipeline, 100, FAIL);
    one_call(
        &mut gate,
        &pipeline,
        200,
        Input::Outcome(Verdict::ignored()),
    );
    assert_eq!(gate.throttle.counts(ms(300)), (3, 2));
    // A result past the attempt's own deadline is a timeout: not accepted.
    let mut rng = SplitMix64::new(1);
    let mut call = pipeline.start(ms(300));
    let mut shared = Shared::new().with_gate(&mut gate);
    let _ = call.handle(Input::Next, ms(300), &mut shared, &mut rng);
    let _ = call.handle(OK, ms(360), &mut shared, &mut rng);
    assert_eq!(gate.throttle.counts(ms(400)), (4, 2));
    // A call abandoned while its attempt runs is a request not accepted.
    let mut call = pipeline.start(ms(400));
    let mut shared = Shared::new().with_gate(&mut gate);
    let _ = call.handle(Input::Next, ms(400), &mut shared, &mut rng);
    let _ = call.handle(Input::Abandon, ms(410), &mut shared, &mut rng);
    let _ = call.handle(Input::Abandon, ms(420), &mut shared, &mut rng);
    assert_eq!(gate.throttle.counts(ms(500)), (5, 2));
}

#[test]
fn an_attempt_cut_by_the_callers_deadline_is_a_request_not_accepted() {
    let mut gate = throttle();
    let pipeline = Pipeline::new(config(3, None, Some(30))).unwrap();
    let mut rng = SplitMix64::new(1);
    let mut call = pipeline.start(ms(0));
    let mut shared = Shared::new().with_gate(&mut gate);
    let _ = call.handle(Input::Next, ms(0), &mut shared, &mut rng);
    assert_eq!(
        call.handle(Input::Next, ms(30), &mut shared, &mut rng),
        Step::Done(Finish::Failed(Failure::new(Reason::DeadlineExceeded, 1)))
    );
    assert_eq!(gate.throttle.counts(ms(40)), (1, 0));
}

#[test]
fn a_throttled_attempt_ends_the_call_at_once_with_the_attempts_that_ran() {
    let mut gate = throttle();
    let t = ms(1_000);
    for _ in 0..200 {
        if gate.admit(t).is_ok() {
            gate.record(Outcome::Failure, t);
        }
    }
    let pipeline = Pipeline::new(config(5, None, Some(60_000))).unwrap();
    let mut rng = SplitMix64::new(1);
    let mut refused = 0;
    for i in 0..50 {
        let mut call = pipeline.start(t);
        let mut shared = Shared::new().with_gate(&mut gate);
        let mut input = Input::Next;
        let finish = loop {
            match call.handle(input, t, &mut shared, &mut rng) {
                Step::Attempt { .. } => input = FAIL,
                Step::Wait { .. } => input = Input::Next,
                Step::Done(finish) => break finish,
                other => panic!("{i}: {other:?}"),
            }
        };
        if let Finish::Failed(f) = finish
            && f.reason == Reason::Throttled
        {
            refused += 1;
            assert!(f.attempts < 5, "{f:?}");
        }
    }
    assert!(refused >= 45, "{refused}");
}

#[test]
fn a_pair_asks_its_second_gate_only_when_the_first_admits() {
    // The throttle refuses everything it is asked: the limiter is never asked.
    let mut gate = (throttle(), one_a_second());
    let t = ms(1_000);
    for _ in 0..1_000 {
        if gate.0.admit(t).is_ok() {
            gate.0.record(Outcome::Failure, t);
        }
    }
    let pipeline = Pipeline::new(config(1, None, None)).unwrap();
    let mut throttled = 0;
    for i in 0..20 {
        match one_call(&mut gate, &pipeline, 1_000 + i, OK) {
            Finish::Failed(f) if f.reason == Reason::Throttled => throttled += 1,
            _ => {}
        }
    }
    assert!(throttled >= 15, "{throttled}");
    assert!(gate.1.available(ms(1_020)) <= 1);

    // The limiter refuses after the throttle admitted: the throttle hears nothing.
    let mut gate = (throttle(), one_a_second());
    assert!(matches!(
        one_call(&mut gate, &pipeline, 5_000, OK),
        Finish::Completed { .. }
    ));
    assert!(matches!(
        one_call(&mut gate, &pipeline, 5_100, OK),
        Finish::Failed(f) if matches!(f.reason, Reason::RateLimited { .. })
    ));
    assert_eq!(gate.0.throttle.counts(ms(5_200)), (1, 1));
}

#[test]
fn throttled_calls_replay_from_the_seed() {
    let run = || {
        let mut gate = throttle();
        let pipeline = Pipeline::new(config(2, None, None)).unwrap();
        (0..300u64)
            .map(|i| {
                let input = if i % 3 == 0 { OK } else { FAIL };
                one_call(&mut gate, &pipeline, i * 10, input)
            })
            .collect::<Vec<_>>()
    };
    let first = run();
    assert!(
        first
            .iter()
            .any(|f| matches!(f, Finish::Failed(f) if f.reason == Reason::Throttled))
    );
    assert_eq!(first, run());
}

fn one_retry_budget() -> steadfast::retry::Budget {
    // No floor, one retry per request: each call's deposit pays for exactly one retry.
    steadfast::retry::Budget::new(
        steadfast::retry::BudgetConfig::DEFAULT
            .with_ratio_permille(1_000)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10)),
    )
    .unwrap()
}

#[test]
fn a_retry_the_limiter_refuses_gives_its_budget_token_back() {
    let mut limiter = one_a_second();
    let mut budget = one_retry_budget();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut call = pipeline.start(ms(1_000));
    let mut shared = Shared::new()
        .with_budget(&mut budget)
        .with_gate(&mut limiter);
    let _ = call.handle(Input::Next, ms(1_000), &mut shared, &mut rng);
    // The retry is scheduled and paid for…
    assert_eq!(
        call.handle(FAIL, ms(1_010), &mut shared, &mut rng),
        Step::Wait { until: ms(1_110) }
    );
    // …then refused by the limiter: it never reached the dependency.
    assert!(matches!(
        call.handle(Input::Next, ms(1_110), &mut shared, &mut rng),
        Step::Done(Finish::Failed(Failure {
            reason: Reason::RateLimited { .. },
            attempts: 1
        }))
    ));
    assert_eq!(budget.retries_available(ms(1_110)), 1);
}

#[test]
fn with_the_bulkhead_outermost_the_call_keeps_its_slot_while_it_waits_for_the_limiter() {
    let mut pool: Bulkhead = Bulkhead::new(BulkheadConfig::default()).unwrap();
    let mut limiter = one_a_second();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(
        config(3, Some(200), Some(5_000)).with_order(pipeline::Order::BulkheadOutermost),
    )
    .unwrap();
    let mut call = pipeline.start(ms(1_000));
    let mut shared = Shared::new()
        .with_bulkhead(&mut pool)
        .with_gate(&mut limiter);
    let mut at = |t, input| call.handle(input, ms(t), &mut shared, &mut rng);
    assert!(matches!(at(1_000, Input::Next), Step::Attempt { .. }));
    assert_eq!(at(1_010, FAIL), Step::Wait { until: ms(1_110) });
    assert_eq!(at(1_110, Input::Next), Step::Wait { until: ms(2_000) });
    assert_eq!(pool.in_flight(), 1);
    let mut shared = Shared::new()
        .with_bulkhead(&mut pool)
        .with_gate(&mut limiter);
    assert!(matches!(
        call.handle(Input::Next, ms(2_000), &mut shared, &mut rng),
        Step::Attempt { attempt: 3, .. }
    ));
    assert!(matches!(
        call.handle(OK, ms(2_010), &mut shared, &mut rng),
        Step::Done(Finish::Completed { attempts: 2, .. })
    ));
    assert_eq!(pool.in_flight(), 0);
}

#[test]
fn with_the_breaker_outermost_a_refusal_by_the_gate_tells_the_breaker_nothing() {
    let mut breaker: Breaker = Breaker::new(
        BreakerConfig::new()
            .with_failure_threshold(1)
            .with_break_duration(d(500))
            .with_probes(1, 1),
    )
    .unwrap();
    let mut gate = throttle();
    let t = ms(1_000);
    for _ in 0..1_000 {
        if gate.admit(t).is_ok() {
            gate.record(Outcome::Failure, t);
        }
    }
    let pipeline =
        Pipeline::new(config(1, None, None).with_order(pipeline::Order::BreakerOutermost)).unwrap();
    let mut rng = SplitMix64::new(1);
    let mut throttled = 0;
    for i in 0..20 {
        let mut call = pipeline.start(ms(1_000 + i));
        let mut shared = Shared::new()
            .with_breaker(&mut breaker)
            .with_gate(&mut gate);
        match call.handle(Input::Next, ms(1_000 + i), &mut shared, &mut rng) {
            Step::Done(Finish::Failed(f)) => {
                assert_eq!(f.reason, Reason::Throttled);
                throttled += 1;
            }
            Step::Attempt { .. } => {
                let _ = call.handle(OK, ms(1_000 + i), &mut shared, &mut rng);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(throttled >= 15, "{throttled}");
    // A failure threshold of 1, and still closed: no refusal counted as a failure.
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn a_caller_with_a_fallback_for_rejections_gets_it_for_a_gates_refusal() {
    let mut limiter = one_a_second();
    let mut rng = SplitMix64::new(1);
    let pipeline =
        Pipeline::new(config(1, None, None).with_fallback(pipeline::FallbackOn::Rejection))
            .unwrap();
    let mut first = pipeline.start(ms(1_000)).with_fallback(true);
    let mut shared = Shared::new().with_gate(&mut limiter);
    let _ = first.handle(Input::Next, ms(1_000), &mut shared, &mut rng);
    let _ = first.handle(OK, ms(1_001), &mut shared, &mut rng);
    let mut second = pipeline.start(ms(1_002)).with_fallback(true);
    assert_eq!(
        second.handle(Input::Next, ms(1_002), &mut shared, &mut rng),
        Step::Done(Finish::Fallback(Failure::new(
            Reason::RateLimited {
                retry_at: Some(ms(2_000))
            },
            0
        )))
    );
}
