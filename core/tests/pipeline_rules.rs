//! Timelines of the pipeline's result and accounting rules: what the caller
//! is told, what the breaker learns, what the budget keeps.

use steadfast::backoff::Backoff;
use steadfast::breaker::{Breaker, Config as BreakerConfig, State};
use steadfast::outcome::Verdict;
use steadfast::pipeline::{
    self, Error, Failure, Finish, Input, Order, Pipeline, Reason, Shared, Step,
};
use steadfast::retry::{self, Budget, BudgetConfig};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::timeout;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn d(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(attempts: u32, attempt_timeout: Option<u64>, total: Option<u64>) -> pipeline::Config {
    pipeline::Config::DEFAULT
        .with_retry(
            retry::Config::DEFAULT
                .with_backoff(Backoff::constant(d(100)))
                .with_max_attempts(attempts),
        )
        .with_timeout(timeouts(attempt_timeout.map(d), total.map(d)))
}

fn breaker(failures: u32) -> Breaker {
    Breaker::new(
        BreakerConfig::new()
            .with_failure_threshold(failures)
            .with_break_duration(d(5_000))
            .with_probes(1, 1),
    )
    .unwrap()
}

const FAIL: Input = Input::Outcome(Verdict::failure());
const LATE: Input = Input::Outcome(Verdict::timed_out());

#[test]
fn a_last_attempt_that_trips_its_own_breaker_reports_its_error() {
    let mut b = breaker(2);
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared = Shared::new().with_breaker(&mut b);
    let mut at = |t, input| call.handle(input, ms(t), &mut shared, &mut rng);
    assert!(matches!(
        at(0, Input::Next),
        Step::Attempt { attempt: 1, .. }
    ));
    assert_eq!(at(10, FAIL), Step::Wait { until: ms(110) });
    assert!(matches!(
        at(110, Input::Next),
        Step::Attempt { attempt: 2, .. }
    ));
    // The second failure opens the breaker: the third attempt is refused.
    assert_eq!(at(120, FAIL), Step::Wait { until: ms(220) });
    let step = at(220, Input::Next);
    let tripped = Reason::BreakerOpen {
        retry_at: Some(ms(5_120)),
    };
    assert_eq!(step, Step::Done(Finish::Failed(Failure::new(tripped, 2))));
    let Step::Done(finish) = step else {
        unreachable!()
    };
    assert_eq!(
        finish.answer::<(), _>(Some(Err("503"))).into_result(),
        Err(Error::new(tripped, 2, Some("503")))
    );
}

#[test]
fn attempts_that_end_on_their_own_timeout_report_a_timeout_with_the_count() {
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, Some(50), None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared: Shared = Shared::new();
    let mut at = |t, input| call.handle(input, ms(t), &mut shared, &mut rng);
    assert!(matches!(
        at(0, Input::Next),
        Step::Attempt { attempt: 1, .. }
    ));
    assert_eq!(at(50, LATE), Step::Wait { until: ms(150) });
    assert!(matches!(
        at(150, Input::Next),
        Step::Attempt { attempt: 2, .. }
    ));
    assert_eq!(at(200, LATE), Step::Wait { until: ms(300) });
    assert!(matches!(
        at(300, Input::Next),
        Step::Attempt { attempt: 3, .. }
    ));
    let step = at(350, LATE);
    assert_eq!(
        step,
        Step::Done(Finish::Failed(Failure::new(Reason::AttemptTimedOut, 3)))
    );
    let Step::Done(finish) = step else {
        unreachable!()
    };
    assert_eq!(
        finish.answer::<(), &str>(None).into_result(),
        Err(Error::new(Reason::AttemptTimedOut, 3, None))
    );
}

#[test]
fn an_attempt_cut_short_by_the_total_deadline_is_a_cancellation_for_the_breaker() {
    let mut b = breaker(1);
    let mut rng = SplitMix64::new(1);
    // Own timeout 2 s, total 1 s: the total deadline ends the attempt first.
    let pipeline = Pipeline::new(config(3, Some(2_000), Some(1_000))).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared = Shared::new().with_breaker(&mut b);
    assert_eq!(
        call.handle(Input::Next, ms(0), &mut shared, &mut rng),
        Step::Attempt {
            attempt: 1,
            deadline: Some(ms(1_000))
        }
    );
    assert_eq!(
        call.handle(LATE, ms(1_000), &mut shared, &mut rng),
        Step::Done(Finish::Failed(Failure::new(Reason::DeadlineExceeded, 1)))
    );
    // The dependency did nothing wrong: no failure recorded, still closed.
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.stats().failures, 0);
}

#[test]
fn an_attempt_that_reaches_its_own_timeout_stays_a_failure() {
    let mut b = breaker(1);
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(1, Some(500), Some(1_000))).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared = Shared::new().with_breaker(&mut b);
    assert!(matches!(
        call.handle(Input::Next, ms(0), &mut shared, &mut rng),
        Step::Attempt {
            deadline: Some(_),
            ..
        }
    ));
    assert_eq!(
        call.handle(LATE, ms(500), &mut shared, &mut rng),
        Step::Done(Finish::Failed(Failure::new(Reason::AttemptTimedOut, 1)))
    );
    assert_eq!(b.stats().failures, 1);
    assert!(matches!(b.state(), State::Open { .. }));
}

#[test]
fn a_half_open_probe_cut_short_by_the_total_deadline_gives_its_slot_back() {
    let mut b = breaker(1);
    let mut rng = SplitMix64::new(1);
    // Open the breaker (one failure), then let it turn half-open at 5 s.
    let permit = b.try_acquire(ms(0)).unwrap();
    let _ = b.record(permit, steadfast::outcome::Outcome::Failure, ms(0));
    let pipeline = Pipeline::new(config(1, Some(2_000), Some(1_000))).unwrap();
    let mut probe = pipeline.start(ms(5_000));
    let mut shared = Shared::new().with_breaker(&mut b);
    assert!(matches!(
        probe.handle(Input::Next, ms(5_000), &mut shared, &mut rng),
        Step::Attempt { .. }
    ));
    let _ = probe.handle(LATE, ms(6_000), &mut shared, &mut rng);
    // The probe slot is free again: the next call becomes the probe.
    let mut next = pipeline.start(ms(6_000));
    assert!(matches!(
        next.handle(Input::Next, ms(6_000), &mut shared, &mut rng),
        Step::Attempt { .. }
    ));
    assert_eq!(b.state().name(), "half_open");
}

fn one_retry_budget() -> Budget {
    // No floor, one retry per request (1000 ‰): each call's deposit pays for exactly one retry.
    Budget::new(
        BudgetConfig::DEFAULT
            .with_ratio_permille(1_000)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10)),
    )
    .unwrap()
}

#[test]
fn a_retry_cancelled_during_its_backoff_gives_its_token_back() {
    let mut budget = one_retry_budget();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut first = pipeline.start(ms(0));
    let mut shared = Shared::new().with_budget(&mut budget);
    let _ = first.handle(Input::Next, ms(0), &mut shared, &mut rng);
    assert_eq!(
        first.handle(FAIL, ms(0), &mut shared, &mut rng),
        Step::Wait { until: ms(100) }
    );
    assert_eq!(budget.retries_available(ms(0)), 0);
    // The caller gives up during the backoff: the retry never ran.
    let mut shared = Shared::new().with_budget(&mut budget);
    let _ = first.handle(Input::Abandon, ms(50), &mut shared, &mut rng);
    assert_eq!(budget.retries_available(ms(50)), 1);
}

#[test]
fn a_retry_refused_locally_by_the_breaker_gives_its_token_back() {
    let mut b = breaker(1);
    let mut budget = one_retry_budget();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared = Shared::new().with_breaker(&mut b).with_budget(&mut budget);
    let _ = call.handle(Input::Next, ms(0), &mut shared, &mut rng);
    // The failure opens the breaker and schedules a retry (token withdrawn)…
    assert_eq!(
        call.handle(FAIL, ms(0), &mut shared, &mut rng),
        Step::Wait { until: ms(100) }
    );
    // …which the open breaker refuses: it never reached the dependency.
    assert!(matches!(
        call.handle(Input::Next, ms(100), &mut shared, &mut rng),
        Step::Done(Finish::Failed(Failure {
            reason: Reason::BreakerOpen { .. },
            attempts: 1
        }))
    ));
    assert_eq!(budget.retries_available(ms(100)), 1);
}

#[test]
fn a_retry_that_runs_keeps_its_token_spent() {
    let mut budget = one_retry_budget();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared = Shared::new().with_budget(&mut budget);
    let _ = call.handle(Input::Next, ms(0), &mut shared, &mut rng);
    let _ = call.handle(FAIL, ms(0), &mut shared, &mut rng);
    assert!(matches!(
        call.handle(Input::Next, ms(100), &mut shared, &mut rng),
        Step::Attempt { attempt: 2, .. }
    ));
    let _ = call.handle(Input::Abandon, ms(100), &mut shared, &mut rng);
    assert_eq!(budget.retries_available(ms(100)), 0);
}

#[test]
fn breaker_outermost_decides_once_per_call() {
    let mut b = breaker(2);
    let mut rng = SplitMix64::new(1);
    let pipeline =
        Pipeline::new(config(3, None, None).with_order(Order::BreakerOutermost)).unwrap();
    let mut run = |b: &mut Breaker, start: u64, answers: &[Input]| {
        let mut call = pipeline.start(ms(start));
        let mut shared = Shared::new().with_breaker(b);
        let mut now = start;
        let mut step = call.handle(Input::Next, ms(now), &mut shared, &mut rng);
        for answer in answers {
            step = match step {
                Step::Attempt { .. } => call.handle(*answer, ms(now), &mut shared, &mut rng),
                other => return other,
            };
            if let Step::Wait { until } = step {
                now = until.as_millis();
                step = call.handle(Input::Next, until, &mut shared, &mut rng);
            }
        }
        step
    };
    let ok = Input::Outcome(Verdict::success());
    // Two failed attempts then a success: one call, one success for the breaker.
    assert!(matches!(
        run(&mut b, 0, &[FAIL, FAIL, ok]),
        Step::Done(Finish::Completed { attempts: 3, .. })
    ));
    assert_eq!((b.stats().successes, b.stats().failures), (1, 0));
    // A call whose three attempts fail is one failure: still closed.
    assert_eq!(
        run(&mut b, 1_000, &[FAIL, FAIL, FAIL]),
        Step::Done(Finish::Failed(Failure::new(Reason::RetriesExhausted, 3)))
    );
    assert_eq!(b.stats().failures, 1);
    assert_eq!(b.state(), State::Closed);
    // The second failed call opens it; the next call is refused before any attempt.
    let _ = run(&mut b, 2_000, &[FAIL, FAIL, FAIL]);
    assert!(matches!(b.state(), State::Open { .. }));
    assert!(matches!(
        run(&mut b, 3_000, &[]),
        Step::Done(Finish::Failed(Failure {
            reason: Reason::BreakerOpen { .. },
            attempts: 0
        }))
    ));
}

#[test]
fn a_call_dropped_after_its_attempt_reached_its_own_timeout_still_records_the_failure() {
    let mut b = breaker(1);
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, Some(500), None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared = Shared::new().with_breaker(&mut b);
    let _ = call.handle(Input::Next, ms(0), &mut shared, &mut rng);
    // Dropped before its deadline: a cancellation.
    let pipeline = Pipeline::new(config(3, Some(500), None)).unwrap();
    let mut early = pipeline.start(ms(0));
    let _ = early.handle(Input::Next, ms(0), &mut shared, &mut rng);
    let _ = early.handle(Input::Abandon, ms(100), &mut shared, &mut rng);
    // Dropped at its own deadline, before the driver reported it: a timeout.
    let _ = call.handle(Input::Abandon, ms(500), &mut shared, &mut rng);
    assert_eq!(b.stats().failures, 1);
    assert!(matches!(b.state(), State::Open { .. }));
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

/// A running attempt's timeout found by `next` (no rng lent) retries after
/// the middle of the jitter range; the same timeout fed as an outcome through
/// `handle` draws the delay from the rng it is lent.
#[test]
fn a_timeout_found_by_next_waits_the_middle_of_the_jitter_range() {
    let backoff = Backoff::constant(d(100)).with_jitter(steadfast::backoff::Jitter::Full);
    let p = Pipeline::new(
        pipeline::Config::DEFAULT
            .with_retry(retry::Config::DEFAULT.with_backoff(backoff))
            .with_timeout(timeout::Config::NONE.with_attempt(d(10))),
    )
    .unwrap();
    let mut shared = Shared::new();
    let mut call = p.start(ms(0));
    assert!(matches!(
        call.next(ms(0), &mut shared),
        Step::Attempt { .. }
    ));
    assert_eq!(call.next(ms(10), &mut shared), Step::Wait { until: ms(60) });

    let mut waits = std::collections::BTreeSet::new();
    for seed in 0..8 {
        let mut call = p.start(ms(0));
        let mut rng = SplitMix64::new(seed);
        let _ = call.handle(Input::Next, ms(0), &mut shared, &mut rng);
        match call.handle(
            Input::Outcome(Verdict::timed_out()),
            ms(10),
            &mut shared,
            &mut rng,
        ) {
            Step::Wait { until } => waits.insert(until),
            other => panic!("a timed-out attempt is retried: {other:?}"),
        };
    }
    assert!(waits.len() > 1, "drawn delays differ: {waits:?}");
}
