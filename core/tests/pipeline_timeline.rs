//! Timelines of the composed pipeline: exact steps at exact instants.

use steadfast::backoff::{Backoff, Ratio};
use steadfast::breaker::{Breaker, CircuitBreaker, Config as BreakerConfig, State};
use steadfast::bulkhead::{Bulkhead, Config as BulkheadConfig};
use steadfast::outcome::{Outcome, Verdict};
use steadfast::pipeline::{
    self, Event, Events, Failure, FallbackOn, Finish, Order, Pipeline, Pool, Reason, Shared, Step,
};
use steadfast::retry::{self, Budget, BudgetConfig, RetryBudget};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::timeout;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn d(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// 100 ms ×2 capped at 1 s, no jitter, so every delay is exact.
fn exact_backoff() -> Backoff {
    Backoff::exponential(d(100), Ratio::TWO, d(1_000))
}

fn config(attempts: u32, attempt_timeout: Option<u64>, total: Option<u64>) -> pipeline::Config {
    pipeline::Config::DEFAULT
        .with_retry(
            retry::Config::DEFAULT
                .with_backoff(exact_backoff())
                .with_max_attempts(attempts),
        )
        .with_timeout(timeouts(attempt_timeout.map(d), total.map(d)))
}

fn breaker(failures: u32, open_ms: u64) -> Breaker {
    Breaker::new(
        BreakerConfig::new()
            .with_failure_threshold(failures)
            .with_break_duration(d(open_ms))
            .with_probes(1, 1),
    )
    .unwrap()
}

/// The events the steps so far raised, oldest first.
fn drain<G: CircuitBreaker, K: Pool, B: RetryBudget>(
    shared: &mut Shared<'_, G, K, B, Events>,
) -> Vec<Event> {
    let events = shared.observer.as_deref_mut().expect("an observer is lent");
    core::iter::from_fn(|| events.pop()).collect()
}

#[test]
fn happy_path_is_one_attempt() {
    let pipeline = Pipeline::new(config(3, Some(500), None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut events = Events::new();
    let mut shared = Shared::new().with_observer(&mut events);
    let mut rng = SplitMix64::new(1);
    assert_eq!(
        call.next(ms(0), &mut shared),
        Step::Attempt {
            attempt: 1,
            deadline: Some(ms(500))
        }
    );
    assert_eq!(call.poll_at(), Some(ms(500)));
    let step = call.on_outcome(Verdict::success(), ms(20), &mut shared, &mut rng);
    assert_eq!(
        step,
        Step::Done(Finish::Completed {
            attempts: 1,
            outcome: Outcome::Success
        })
    );
    assert!(drain(&mut shared).is_empty());
    // Asking again after the end repeats the end.
    assert_eq!(call.next(ms(30), &mut shared), step);
}

#[test]
fn transient_failures_back_off_exactly() {
    // t=0 fail → wait 100 ms; t=100 fail → wait 200 ms; t=300 succeeds.
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut events = Events::new();
    let mut shared = Shared::new().with_observer(&mut events);
    let mut rng = SplitMix64::new(1);
    assert_eq!(
        call.next(ms(0), &mut shared),
        Step::Attempt {
            attempt: 1,
            deadline: None
        }
    );
    assert_eq!(
        call.on_outcome(Verdict::failure(), ms(0), &mut shared, &mut rng),
        Step::Wait { until: ms(100) }
    );
    assert_eq!(
        drain(&mut shared),
        [Event::Retry {
            attempt: 2,
            delay: d(100),
            at: ms(100)
        }]
    );
    // Early wake-ups change nothing.
    assert_eq!(
        call.next(ms(50), &mut shared),
        Step::Wait { until: ms(100) }
    );
    assert_eq!(
        call.next(ms(100), &mut shared),
        Step::Attempt {
            attempt: 2,
            deadline: None
        }
    );
    assert_eq!(
        call.on_outcome(Verdict::failure(), ms(100), &mut shared, &mut rng),
        Step::Wait { until: ms(300) }
    );
    assert_eq!(
        call.next(ms(300), &mut shared),
        Step::Attempt {
            attempt: 3,
            deadline: None
        }
    );
    assert_eq!(
        call.on_outcome(Verdict::success(), ms(301), &mut shared, &mut rng),
        Step::Done(Finish::Completed {
            attempts: 3,
            outcome: Outcome::Success
        })
    );
}

#[test]
fn attempts_run_out() {
    let pipeline = Pipeline::new(config(2, None, None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared: Shared = Shared::new();
    let mut rng = SplitMix64::new(1);
    let _ = call.next(ms(0), &mut shared);
    let _ = call.on_outcome(Verdict::failure(), ms(0), &mut shared, &mut rng);
    let _ = call.next(ms(100), &mut shared);
    assert_eq!(
        call.on_outcome(Verdict::failure(), ms(100), &mut shared, &mut rng),
        Step::Done(Finish::Failed(Failure::new(Reason::RetriesExhausted, 2)))
    );
}

#[test]
fn non_retryable_and_ignored_end_at_once() {
    let mut rng = SplitMix64::new(1);
    let mut shared: Shared = Shared::new();
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let _ = call.next(ms(0), &mut shared);
    assert_eq!(
        call.on_outcome(
            Verdict::failure().not_retryable(),
            ms(1),
            &mut shared,
            &mut rng
        ),
        Step::Done(Finish::Failed(Failure::new(Reason::Operation, 1)))
    );
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let _ = call.next(ms(0), &mut shared);
    assert_eq!(
        call.on_outcome(Verdict::ignored(), ms(1), &mut shared, &mut rng),
        Step::Done(Finish::Completed {
            attempts: 1,
            outcome: Outcome::Ignored
        })
    );
}

#[test]
fn total_deadline_cuts_retries_short() {
    // total 250 ms: attempt 1 at t=0 fails, retry at t=100 fails, the next retry
    // would start at t=300 >= 250: refused before sleeping.
    let pipeline = Pipeline::new(config(5, None, Some(250))).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared: Shared = Shared::new();
    let mut rng = SplitMix64::new(1);
    assert_eq!(
        call.next(ms(0), &mut shared),
        Step::Attempt {
            attempt: 1,
            deadline: Some(ms(250))
        }
    );
    assert_eq!(
        call.on_outcome(Verdict::failure(), ms(0), &mut shared, &mut rng),
        Step::Wait { until: ms(100) }
    );
    assert_eq!(
        call.next(ms(100), &mut shared),
        Step::Attempt {
            attempt: 2,
            deadline: Some(ms(250))
        }
    );
    assert_eq!(
        call.on_outcome(Verdict::failure(), ms(100), &mut shared, &mut rng),
        Step::Done(Finish::Failed(Failure::new(Reason::DeadlineWouldPass, 2)))
    );
}

#[test]
fn attempt_timeout_and_late_results() {
    // attempt timeout 50 ms; a success reported at t=50 arrived at the deadline:
    // discarded, recorded as a timeout, retried.
    let pipeline = Pipeline::new(config(2, Some(50), None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut events = Events::new();
    let mut shared = Shared::new().with_observer(&mut events);
    let mut rng = SplitMix64::new(1);
    assert_eq!(
        call.next(ms(0), &mut shared),
        Step::Attempt {
            attempt: 1,
            deadline: Some(ms(50))
        }
    );
    assert_eq!(
        call.on_outcome(Verdict::success(), ms(50), &mut shared, &mut rng),
        Step::Wait { until: ms(150) }
    );
    assert_eq!(
        drain(&mut shared),
        [
            Event::TimedOut { attempt: 1 },
            Event::Retry {
                attempt: 2,
                delay: d(100),
                at: ms(150)
            }
        ]
    );
    assert_eq!(
        call.next(ms(150), &mut shared),
        Step::Attempt {
            attempt: 2,
            deadline: Some(ms(200))
        }
    );
    // An adapter that forgot its timer: next() past the deadline times it out.
    assert_eq!(
        call.next(ms(400), &mut shared),
        Step::Done(Finish::Failed(Failure::new(Reason::AttemptTimedOut, 2)))
    );
}

#[test]
fn zero_attempt_timeout_never_runs() {
    let pipeline = Pipeline::new(config(1, Some(0), None)).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared: Shared = Shared::new();
    assert_eq!(
        call.next(ms(0), &mut shared),
        Step::Done(Finish::Failed(Failure::new(Reason::AttemptTimedOut, 1)))
    );
}

#[test]
fn total_deadline_passing_during_a_wait_times_out() {
    let pipeline = Pipeline::new(config(3, None, Some(1_000))).unwrap();
    let mut call = pipeline.start(ms(0));
    let mut shared: Shared = Shared::new();
    let mut rng = SplitMix64::new(1);
    let _ = call.next(ms(0), &mut shared);
    assert_eq!(
        call.on_outcome(Verdict::failure(), ms(800), &mut shared, &mut rng),
        Step::Wait { until: ms(900) }
    );
    // The adapter overslept.
    assert_eq!(
        call.next(ms(1_000), &mut shared),
        Step::Done(Finish::Failed(Failure::new(Reason::DeadlineExceeded, 1)))
    );
}

#[test]
fn outage_trips_breaker_and_calls_fail_fast_without_deadline() {
    let mut b = breaker(2, 5_000);
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    // Call 1: t=0 fails, t=100 fails → breaker opens (2 in a row) until t=5.1 s.
    let mut call = pipeline.start(ms(0));
    let mut events = Events::new();
    let mut shared = Shared::new()
        .with_breaker(&mut b)
        .with_observer(&mut events);
    let _ = call.next(ms(0), &mut shared);
    let _ = call.on_outcome(Verdict::failure(), ms(0), &mut shared, &mut rng);
    let _ = call.next(ms(100), &mut shared);
    let step = call.on_outcome(Verdict::failure(), ms(100), &mut shared, &mut rng);
    // The retry at t=300 will be refused by the open breaker: no deadline → fail fast.
    assert_eq!(step, Step::Wait { until: ms(300) });
    let events = drain(&mut shared);
    assert!(matches!(events[1], Event::Breaker(t) if t.to() == State::Open { until: ms(5_100) }));
    assert_eq!(
        call.next(ms(300), &mut shared),
        Step::Done(Finish::Failed(Failure::new(
            Reason::BreakerOpen {
                retry_at: Some(ms(5_100))
            },
            2
        )))
    );
    // Call 2 during the outage never reaches the dependency.
    let mut call = pipeline.start(ms(1_000));
    assert_eq!(
        call.next(ms(1_000), &mut shared),
        Step::Done(Finish::Failed(Failure::new(
            Reason::BreakerOpen {
                retry_at: Some(ms(5_100))
            },
            0
        )))
    );
    // Recovery: at t=5.1 s exactly, a probe is admitted and closes the breaker.
    let mut call = pipeline.start(ms(5_100));
    assert_eq!(
        call.next(ms(5_100), &mut shared),
        Step::Attempt {
            attempt: 1,
            deadline: None
        }
    );
    let events = drain(&mut shared);
    assert!(matches!(
        events[..],
        [Event::Breaker(t)] if matches!(t.to(), State::HalfOpen { .. })
    ));
    let step = call.on_outcome(Verdict::success(), ms(5_110), &mut shared, &mut rng);
    assert_eq!(
        step,
        Step::Done(Finish::Completed {
            attempts: 1,
            outcome: Outcome::Success
        })
    );
    assert!(matches!(
        drain(&mut shared)[..],
        [Event::Breaker(t)] if t.to() == State::Closed
    ));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn rejected_call_waits_for_the_breaker_when_the_deadline_allows() {
    let mut b = breaker(1, 1_000);
    let mut rng = SplitMix64::new(1);
    // Trip it at t=0: open until t=1 s.
    {
        let pipeline = Pipeline::new(config(1, None, None)).unwrap();
        let mut call = pipeline.start(ms(0));
        let mut events = Events::new();
        let mut shared = Shared::new()
            .with_breaker(&mut b)
            .with_observer(&mut events);
        let _ = call.next(ms(0), &mut shared);
        let _ = call.on_outcome(Verdict::failure(), ms(0), &mut shared, &mut rng);
    }
    assert_eq!(b.state(), State::Open { until: ms(1_000) });
    // A call at t=200 with a 2 s total deadline waits until t=1 s, then probes.
    let pipeline = Pipeline::new(config(3, None, Some(2_000))).unwrap();
    let mut call = pipeline.start(ms(200));
    let mut events = Events::new();
    let mut shared = Shared::new()
        .with_breaker(&mut b)
        .with_observer(&mut events);
    assert_eq!(
        call.next(ms(200), &mut shared),
        Step::Wait { until: ms(1_000) }
    );
    assert_eq!(
        drain(&mut shared),
        [Event::Retry {
            attempt: 2,
            delay: d(800),
            at: ms(1_000)
        }]
    );
    assert_eq!(
        call.next(ms(1_000), &mut shared),
        Step::Attempt {
            attempt: 2,
            deadline: Some(ms(2_200))
        }
    );
    let step = call.on_outcome(Verdict::success(), ms(1_010), &mut shared, &mut rng);
    assert_eq!(
        step,
        Step::Done(Finish::Completed {
            attempts: 1,
            outcome: Outcome::Success
        })
    );
    // With a deadline before retry_at the same call fails fast.
    let mut b2 = breaker(1, 1_000);
    {
        let pipeline = Pipeline::new(config(1, None, None)).unwrap();
        let mut call = pipeline.start(ms(0));
        let mut events = Events::new();
        let mut shared = Shared::new()
            .with_breaker(&mut b2)
            .with_observer(&mut events);
        let _ = call.next(ms(0), &mut shared);
        let _ = call.on_outcome(Verdict::failure(), ms(0), &mut shared, &mut rng);
    }
    let pipeline = Pipeline::new(config(3, None, Some(500))).unwrap();
    let mut call = pipeline.start(ms(200));
    let mut events = Events::new();
    let mut shared = Shared::new()
        .with_breaker(&mut b2)
        .with_observer(&mut events);
    assert_eq!(
        call.next(ms(200), &mut shared),
        Step::Done(Finish::Failed(Failure::new(
            Reason::BreakerOpen {
                retry_at: Some(ms(1_000))
            },
            0
        )))
    );
}

#[test]
fn full_bulkhead_rejects_and_queue_grants_fifo() {
    let mut pool: Bulkhead<2> = Bulkhead::new(
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(1)
            .with_max_wait(d(300)),
    )
    .unwrap();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(1, None, None)).unwrap();
    let mut a = pipeline.start(ms(0));
    let mut b = pipeline.start(ms(0));
    let mut c = pipeline.start(ms(0));
    let mut events = Events::new();
    let mut shared = Shared::new()
        .with_bulkhead(&mut pool)
        .with_observer(&mut events);
    assert_eq!(
        a.next(ms(0), &mut shared),
        Step::Attempt {
            attempt: 1,
            deadline: None
        }
    );
    let Step::Queued { ticket, until } = b.next(ms(0), &mut shared) else {
        panic!("b should queue")
    };
    assert_eq!(until, ms(300));
    assert_eq!(
        c.next(ms(0), &mut shared),
        Step::Done(Finish::Failed(Failure::new(Reason::BulkheadFull, 0)))
    );
    // a finishes at t=50: the slot goes to b's ticket.
    let _ = a.on_outcome(Verdict::success(), ms(50), &mut shared, &mut rng);
    assert_eq!(drain(&mut shared), [Event::Granted(ticket)]);
    assert_eq!(
        b.next(ms(50), &mut shared),
        Step::Attempt {
            attempt: 1,
            deadline: None
        }
    );
    let _ = b.on_outcome(Verdict::success(), ms(60), &mut shared, &mut rng);
    assert_eq!(pool.in_flight(), 0);
}

#[test]
fn queue_wait_expires() {
    let mut pool: Bulkhead<2> = Bulkhead::new(
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(1)
            .with_max_wait(d(300)),
    )
    .unwrap();
    let pipeline =
        Pipeline::new(config(1, None, None).with_fallback(FallbackOn::Rejection)).unwrap();
    let mut a = pipeline.start(ms(0));
    let mut b = pipeline.start(ms(0)).with_fallback(true);
    let mut events = Events::new();
    let mut shared = Shared::new()
        .with_bulkhead(&mut pool)
        .with_observer(&mut events);
    let _ = a.next(ms(0), &mut shared);
    assert!(matches!(b.next(ms(0), &mut shared), Step::Queued { .. }));
    assert_eq!(
        b.next(ms(300), &mut shared),
        Step::Done(Finish::Fallback(Failure::new(Reason::QueueTimeout, 0)))
    );
    assert_eq!(
        drain(&mut shared),
        [Event::Fallback(Failure::new(Reason::QueueTimeout, 0))]
    );
    a.abandon(ms(400), &mut shared);
    assert_eq!(pool.in_flight(), 0);
    assert_eq!(pool.queued(), 0);
}

#[test]
fn abandoning_returns_probe_and_slots() {
    let mut b = breaker(1, 100);
    let mut pool: Bulkhead<2> = Bulkhead::new(
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(1)
            .with_max_wait(d(1_000)),
    )
    .unwrap();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(1, None, None)).unwrap();
    let mut shared = Shared::new().with_breaker(&mut b).with_bulkhead(&mut pool);
    let mut trip = pipeline.start(ms(0));
    let _ = trip.next(ms(0), &mut shared);
    let _ = trip.on_outcome(Verdict::failure(), ms(0), &mut shared, &mut rng);
    // t=100: a probe runs, another call queues behind it; both are dropped.
    let mut probe = pipeline.start(ms(100));
    let mut queued = pipeline.start(ms(100));
    assert!(matches!(
        probe.next(ms(100), &mut shared),
        Step::Attempt { .. }
    ));
    assert!(matches!(
        queued.next(ms(100), &mut shared),
        Step::Done(Finish::Failed(Failure {
            reason: Reason::BreakerOpen { .. },
            ..
        }))
    ));
    probe.abandon(ms(110), &mut shared);
    probe.abandon(ms(120), &mut shared); // twice is harmless
    assert_eq!(
        probe.finish(),
        Some(Finish::Failed(Failure::new(Reason::Cancelled, 1)))
    );
    // The probe slot came back: a new call can probe and close the breaker.
    let mut again = pipeline.start(ms(130));
    assert!(matches!(
        again.next(ms(130), &mut shared),
        Step::Attempt { .. }
    ));
    let _ = again.on_outcome(Verdict::success(), ms(140), &mut shared, &mut rng);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(pool.in_flight(), 0);
}

#[test]
fn budget_stops_a_retry_storm() {
    // 100 ‰ and no floor: ten calls buy one retry.
    let mut budget: Budget = Budget::new(
        BudgetConfig::DEFAULT
            .with_ratio_permille(100)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10)),
    )
    .unwrap();
    let mut rng = SplitMix64::new(1);
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut retries = 0;
    for i in 0..10u64 {
        let mut call = pipeline.start(ms(i));
        let mut shared = Shared::new().with_budget(&mut budget);
        let _ = call.next(ms(i), &mut shared);
        match call.on_outcome(Verdict::failure(), ms(i), &mut shared, &mut rng) {
            Step::Wait { .. } => retries += 1,
            Step::Done(Finish::Failed(Failure {
                reason: Reason::BudgetExhausted,
                attempts: 1,
            })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(retries, 1);
}

#[test]
fn bulkhead_outermost_holds_one_slot_across_retries() {
    let mut pool: Bulkhead<2> = Bulkhead::new(
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(0)
            .with_max_wait(d(0)),
    )
    .unwrap();
    let mut rng = SplitMix64::new(1);
    let pipeline =
        Pipeline::new(config(2, None, None).with_order(Order::BulkheadOutermost)).unwrap();
    let mut a = pipeline.start(ms(0));
    let mut b = pipeline.start(ms(0));
    let mut shared = Shared::new().with_bulkhead(&mut pool);
    let _ = a.next(ms(0), &mut shared);
    assert_eq!(
        a.on_outcome(Verdict::failure(), ms(0), &mut shared, &mut rng),
        Step::Wait { until: ms(100) }
    );
    // While a sleeps between attempts, its slot stays taken.
    assert_eq!(
        b.next(ms(50), &mut shared),
        Step::Done(Finish::Failed(Failure::new(Reason::BulkheadFull, 0)))
    );
    let _ = a.next(ms(100), &mut shared);
    let _ = a.on_outcome(Verdict::success(), ms(100), &mut shared, &mut rng);
    assert_eq!(pool.in_flight(), 0);
}

#[test]
fn clock_going_backwards_is_read_as_standing_still() {
    let pipeline = Pipeline::new(config(3, Some(100), None)).unwrap();
    let mut call = pipeline.start(ms(1_000));
    let mut shared: Shared = Shared::new();
    let mut rng = SplitMix64::new(1);
    assert_eq!(
        call.next(ms(1_000), &mut shared),
        Step::Attempt {
            attempt: 1,
            deadline: Some(ms(1_100))
        }
    );
    assert_eq!(
        call.on_outcome(Verdict::failure(), ms(10), &mut shared, &mut rng),
        Step::Wait { until: ms(1_100) }
    );
    assert_eq!(
        call.next(ms(0), &mut shared),
        Step::Wait { until: ms(1_100) }
    );
}

#[test]
fn near_the_end_of_time() {
    let end = Instant::MAX;
    let pipeline = Pipeline::new(config(3, Some(100), Some(1_000))).unwrap();
    let mut call = pipeline.start(end);
    let mut shared: Shared = Shared::new();
    let mut rng = SplitMix64::new(1);
    // Every deadline saturates at MAX, which is already reached.
    assert_eq!(
        call.next(end, &mut shared),
        Step::Done(Finish::Failed(Failure::new(Reason::DeadlineExceeded, 0)))
    );
    let pipeline = Pipeline::new(config(3, None, None)).unwrap();
    let mut call = pipeline.start(Instant::from_micros(u64::MAX - 1));
    let _ = call.next(end, &mut shared);
    // The backoff saturates at the end of time, which has come: the retry is due at once.
    assert_eq!(
        call.on_outcome(Verdict::failure(), end, &mut shared, &mut rng),
        Step::Attempt {
            attempt: 2,
            deadline: None
        }
    );
}

#[test]
fn breaker_wait_needs_room_for_a_whole_attempt() {
    // Open until t=1 s. Attempt timeout 300 ms.
    let tripped = |rng: &mut SplitMix64| {
        let mut b = breaker(1, 1_000);
        let pipeline = Pipeline::new(config(1, None, None)).unwrap();
        let mut call = pipeline.start(ms(0));
        let mut shared = Shared::new().with_breaker(&mut b);
        let _ = call.next(ms(0), &mut shared);
        let _ = call.on_outcome(Verdict::failure(), ms(0), &mut shared, rng);
        b
    };
    let mut rng = SplitMix64::new(1);
    // Total deadline t=1.3 s: 1 s + 300 ms fits exactly → wait, then a full attempt.
    let mut b = tripped(&mut rng);
    let pipeline = Pipeline::new(config(3, Some(300), Some(1_100))).unwrap();
    let mut call = pipeline.start(ms(200));
    let mut shared = Shared::new().with_breaker(&mut b);
    assert_eq!(
        call.next(ms(200), &mut shared),
        Step::Wait { until: ms(1_000) }
    );
    assert_eq!(
        call.next(ms(1_000), &mut shared),
        Step::Attempt {
            attempt: 2,
            deadline: Some(ms(1_300))
        }
    );
    // Total deadline t=1.29 s: the probe would be cut short by its own deadline
    // (and, timing out, would re-open the breaker): fail fast instead.
    let mut b = tripped(&mut rng);
    let pipeline = Pipeline::new(config(3, Some(300), Some(1_090))).unwrap();
    let mut call = pipeline.start(ms(200));
    let mut shared = Shared::new().with_breaker(&mut b);
    assert_eq!(
        call.next(ms(200), &mut shared),
        Step::Done(Finish::Failed(Failure::new(
            Reason::BreakerOpen {
                retry_at: Some(ms(1_000))
            },
            0
        )))
    );
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
