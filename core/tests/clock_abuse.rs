//! Clock abuse, end to end: the whole pipeline (breaker + bulkhead + budget + retry +
//! timeouts) driven by a clock that stands still, jumps backwards, jumps years ahead,
//! or sits at the end of time (`u64::MAX - 1` µs). The driver below is what an adapter
//! does: read the clock, ask the call for its next step, "sleep" until it says.
//!
//! Checked for every step: nothing panics; a step never asks to wake at or before the
//! instant it was computed for (no busy loop; `Instant::MAX` means "never"); attempts
//! stay within `max_attempts`; and afterwards every bulkhead slot and half-open probe
//! slot is back and the breaker can still close.

use steadfast::backoff::Backoff;
use steadfast::breaker::{Breaker, Config as BreakerConfig, CountWindow, State};
use steadfast::bulkhead::{Bulkhead, Config as BulkheadConfig};
use steadfast::outcome::{Outcome, Verdict};
use steadfast::pipeline::{self, Failure, Finish, Pipeline, Reason, Shared, Step};
use steadfast::retry::{self, Budget, BudgetConfig};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::timeout;

const MAX_ATTEMPTS: u32 = 3;
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

struct World {
    pipeline: Pipeline,
    breaker: Breaker<CountWindow<4>>,
    bulkhead: Bulkhead<2>,
    budget: Budget<4>,
    rng: SplitMix64,
}

impl World {
    fn new(attempt_timeout: Option<Duration>, total: Option<Duration>) -> Self {
        let retry = retry::Config::DEFAULT
            .with_max_attempts(MAX_ATTEMPTS)
            .with_backoff(Backoff::constant(Duration::from_millis(100)));
        Self {
            pipeline: Pipeline::new(
                pipeline::Config::DEFAULT
                    .with_retry(retry)
                    .with_timeout(timeouts(attempt_timeout, total)),
            )
            .unwrap(),
            breaker: Breaker::new(
                BreakerConfig::new()
                    .with_minimum_calls(2)
                    .with_failure_rate_percent(50)
                    .with_break_duration(Duration::from_secs(30))
                    .with_probes(1, 1),
            )
            .unwrap(),
            bulkhead: Bulkhead::new(
                BulkheadConfig::DEFAULT
                    .with_max_concurrent(1)
                    .with_max_queue(2)
                    .with_max_wait(Duration::from_secs(5)),
            )
            .unwrap(),
            budget: Budget::new(
                BudgetConfig::DEFAULT
                    .with_ratio_permille(1_000)
                    .with_min_retries_per_sec(1)
                    .with_window(Duration::from_secs(10)),
            )
            .unwrap(),
            rng: SplitMix64::new(7),
        }
    }

    fn shared(&mut self) -> Shared<'_, Breaker<CountWindow<4>>, Bulkhead<2>, Budget<4>> {
        Shared::new()
            .with_breaker(&mut self.breaker)
            .with_bulkhead(&mut self.bulkhead)
            .with_budget(&mut self.budget)
    }

    /// Runs one call the way an adapter does, reading `clock` before every step and
    /// answering every attempt with `answer(attempt)`. Returns how it ended, or `None`
    /// if it was still going after `max_steps` (then it is abandoned, as a dropped
    /// future would be).
    fn drive(
        &mut self,
        clock: &mut dyn FnMut() -> Instant,
        answer: &mut dyn FnMut(u32) -> Verdict,
        max_steps: usize,
    ) -> Option<Finish> {
        let start = clock();
        let pipeline = self.pipeline;
        let mut call = pipeline.start(start);
        let mut seen = start;
        let mut step = call.next(start, &mut self.shared());
        for _ in 0..max_steps {
            check(&step, seen);
            match step {
                Step::Done(finish) => {
                    assert!(finish.attempts() <= MAX_ATTEMPTS);
                    return Some(finish);
                }
                Step::Attempt { attempt, .. } => {
                    let verdict = answer(attempt);
                    let now = clock();
                    seen = seen.max(now);
                    let mut shared = Shared::new()
                        .with_breaker(&mut self.breaker)
                        .with_bulkhead(&mut self.bulkhead)
                        .with_budget(&mut self.budget);
                    step = call.on_outcome(verdict, now, &mut shared, &mut self.rng);
                }
                Step::Wait { .. } | Step::Queued { .. } => {
                    let now = clock();
                    seen = seen.max(now);
                    step = call.next(now, &mut self.shared());
                }
            }
        }
        let now = clock();
        call.abandon(now, &mut self.shared());
        assert!(call.is_finished()); // Cancelled, or what it had already finished with
        None
    }

    /// Nothing is held any more, and the breaker closes again once probed.
    fn assert_clean_and_recoverable(&mut self, now: Instant) {
        assert_eq!(
            (self.bulkhead.in_flight(), self.bulkhead.queued()),
            (0, 0),
            "bulkhead slot leaked"
        );
        if let State::HalfOpen {
            probes_in_flight,
            deadline,
            ..
        } = self.breaker.state()
        {
            assert!(
                probes_in_flight == 0 || deadline.is_some_and(|d| d <= now),
                "probe slot leaked"
            );
        }
        let later = now.max(self.breaker.poll_at().unwrap_or(now)) + Duration::from_secs(1);
        while self.breaker.handle_timeout(later).is_some() {}
        if self.breaker.state() != State::Closed {
            let probe = self
                .breaker
                .try_acquire(later)
                .expect("a probe after the break");
            let _ = self.breaker.record(probe, Outcome::Success, later);
        }
        assert_eq!(
            self.breaker.state(),
            State::Closed,
            "the breaker cannot close"
        );
    }
}

fn check(step: &Step, now: Instant) {
    match *step {
        Step::Wait { until } => assert!(
            until > now || until == Instant::MAX,
            "busy wait: {until:?} at {now:?}"
        ),
        Step::Queued { until, .. } => assert!(until > now, "busy queue wait: {until:?} at {now:?}"),
        Step::Attempt { attempt, deadline } => {
            assert!((1..=MAX_ATTEMPTS).contains(&attempt));
            assert!(deadline.is_none_or(|d| d > now), "attempt already expired");
        }
        Step::Done(_) => {}
    }
}

fn fixed(at: Instant) -> impl FnMut() -> Instant {
    move || at
}

/// A clock that moves `tick` forwards on every read.
fn ticking(from: Instant, tick: Duration) -> impl FnMut() -> Instant {
    let mut now = from;
    move || {
        let t = now;
        now += tick;
        t
    }
}

fn fail(_: u32) -> Verdict {
    Verdict::failure()
}

#[test]
fn clock_standing_still() {
    let t = Instant::from_secs(5);
    let mut w = World::new(Some(Duration::from_secs(1)), Some(Duration::from_secs(10)));
    // A success needs no time at all.
    let ok = w.drive(&mut fixed(t), &mut |_| Verdict::success(), 100);
    assert_eq!(
        ok,
        Some(Finish::Completed {
            attempts: 1,
            outcome: Outcome::Success
        })
    );
    // A failure schedules a retry 100 ms ahead; a frozen clock never gets there: the
    // call keeps waiting (same `until`, no busy loop, no state change) until abandoned.
    let pipeline = w.pipeline;
    let mut call = pipeline.start(t);
    assert!(matches!(
        call.next(t, &mut w.shared()),
        Step::Attempt { attempt: 1, .. }
    ));
    let step = call.on_outcome(
        Verdict::failure(),
        t,
        &mut w.shared(),
        &mut SplitMix64::new(1),
    );
    assert_eq!(
        step,
        Step::Wait {
            until: t + Duration::from_millis(100)
        }
    );
    for _ in 0..1_000 {
        assert_eq!(call.next(t, &mut w.shared()), step);
    }
    call.abandon(t, &mut w.shared());
    // One success and one failure: 50 % of the minimum 2 calls, so the breaker tripped
    // at the frozen instant and stays open, since it is never "later".
    assert_eq!(
        w.breaker.state(),
        State::Open {
            until: t + Duration::from_secs(30)
        }
    );
    for _ in 0..100 {
        let f = w.drive(&mut fixed(t), &mut fail, 100);
        assert!(
            matches!(
                f,
                Some(Finish::Failed(Failure {
                    reason: Reason::BreakerOpen { .. },
                    ..
                }))
            ),
            "{f:?}"
        );
    }
    w.assert_clean_and_recoverable(t);
}

#[test]
fn clock_jumping_backwards() {
    let t0 = Instant::from_secs(100);
    let mut w = World::new(Some(Duration::from_secs(1)), None);
    // Trip the breaker at t0 + 0.2 s (the second failure; open for 30 s).
    let _ = w.drive(&mut ticking(t0, Duration::from_millis(100)), &mut fail, 100);
    let until = match w.breaker.state() {
        State::Open { until } => until,
        s => panic!("{s:?}"),
    };
    // Back to the epoch, then to just before `until`: never re-opened early, and the
    // advertised retry time does not move.
    for back in [
        Instant::ZERO,
        Instant::from_secs(10),
        until - Duration::from_micros(1),
    ] {
        let f = w.drive(&mut fixed(back), &mut fail, 100);
        assert_eq!(
            f,
            Some(Finish::Failed(Failure::new(
                Reason::BreakerOpen {
                    retry_at: Some(until)
                },
                0
            )))
        );
    }
    // A clock that alternates forwards and backwards on every read.
    let mut flip = false;
    let mut zigzag = move || {
        flip = !flip;
        if flip {
            until + Duration::from_secs(1)
        } else {
            Instant::from_secs(1)
        }
    };
    let f = w.drive(&mut zigzag, &mut |_| Verdict::success(), 100);
    assert_eq!(
        f,
        Some(Finish::Completed {
            attempts: 1,
            outcome: Outcome::Success
        })
    );
    assert_eq!(w.breaker.state(), State::Closed);
    // Bulkhead waits do not expire early when the clock goes back.
    let pipeline = w.pipeline;
    let mut holder = pipeline.start(until);
    assert!(matches!(
        holder.next(until, &mut w.shared()),
        Step::Attempt { .. }
    ));
    let mut waiter = pipeline.start(until);
    let queued = waiter.next(until, &mut w.shared());
    let Step::Queued {
        until: wait_until, ..
    } = queued
    else {
        panic!("{queued:?}")
    };
    assert_eq!(
        waiter.next(Instant::ZERO, &mut w.shared()),
        Step::Queued {
            ticket: ticket(&queued),
            until: wait_until
        }
    );
    holder.abandon(Instant::ZERO, &mut w.shared());
    assert!(matches!(
        waiter.next(Instant::ZERO, &mut w.shared()),
        Step::Attempt { .. }
    ));
    let done = waiter.on_outcome(
        Verdict::success(),
        Instant::ZERO,
        &mut w.shared(),
        &mut SplitMix64::new(1),
    );
    assert!(done.wake_at().is_none() && waiter.is_finished());
    w.assert_clean_and_recoverable(until);
}

fn ticket(step: &Step) -> steadfast::bulkhead::Ticket {
    match step {
        Step::Queued { ticket, .. } => *ticket,
        s => panic!("{s:?}"),
    }
}

#[test]
fn clock_jumping_years_ahead() {
    let t0 = Instant::from_secs(1);
    let mut w = World::new(Some(Duration::from_secs(1)), None);
    let _ = w.drive(&mut ticking(t0, Duration::from_millis(100)), &mut fail, 100);
    assert!(matches!(w.breaker.state(), State::Open { .. }));
    // Ten years later the break is long over: the next call is the probe, and closes it.
    let later = t0 + YEAR.saturating_mul(10);
    let f = w.drive(&mut fixed(later), &mut |_| Verdict::success(), 100);
    assert_eq!(
        f,
        Some(Finish::Completed {
            attempts: 1,
            outcome: Outcome::Success
        })
    );
    assert_eq!(w.breaker.state(), State::Closed);
    // An attempt whose result arrives years after its 1 s timeout counts as timed out,
    // however it says it went; the retry after it runs on the new time.
    let mut now = later;
    let mut leap = || {
        let t = now;
        now += YEAR;
        t
    };
    let f = w.drive(&mut leap, &mut |_| Verdict::success(), 100);
    assert_eq!(
        f,
        Some(Finish::Failed(Failure::new(Reason::AttemptTimedOut, 3)))
    );
    // Budget deposits older than its window are gone, the floor remains.
    assert!(w.budget.retries_available(later + YEAR.saturating_mul(100)) >= 1);
    w.assert_clean_and_recoverable(later + YEAR.saturating_mul(100));
}

#[test]
fn clock_at_the_end_of_time() {
    let end = Instant::from_micros(u64::MAX - 1);
    for timeouts in [
        (None, None),
        (Some(Duration::from_secs(1)), None),
        (None, Some(Duration::from_secs(10))),
    ] {
        let mut w = World::new(timeouts.0, timeouts.1);
        // Success still works one microsecond before the end.
        let f = w.drive(&mut fixed(end), &mut |_| Verdict::success(), 100);
        assert_eq!(
            f,
            Some(Finish::Completed {
                attempts: 1,
                outcome: Outcome::Success
            }),
            "{timeouts:?}"
        );
        // Failures: every sum saturates at Instant::MAX, nothing wraps to the past.
        let mut clock = end;
        let mut creep = || {
            let t = clock;
            clock += Duration::from_micros(1);
            t
        };
        let f = w.drive(&mut creep, &mut fail, 100).expect("finishes");
        assert!(f.attempts() <= MAX_ATTEMPTS, "{f:?}");
        if let State::Open { until } = w.breaker.state() {
            assert_eq!(until, Instant::MAX, "saturated, not wrapped");
        }
        // Time stays at the end: calls keep ending, nothing is held.
        for _ in 0..10 {
            let f = w.drive(&mut fixed(Instant::MAX), &mut fail, 100);
            assert!(f.is_some(), "{timeouts:?}");
        }
        assert_eq!((w.bulkhead.in_flight(), w.bulkhead.queued()), (0, 0));
        let s = w.breaker.stats();
        assert!(s.successes + s.failures + s.ignored <= s.calls);
    }
    // A clock stuck at u64::MAX - 1 µs: the breaker trips, its break ends, a probe
    // closes it again, all at the same frozen instant once the break has passed.
    let mut w = World::new(Some(Duration::from_secs(1)), None);
    let trip_at = end - Duration::from_secs(60);
    let _ = w.drive(
        &mut ticking(trip_at, Duration::from_millis(100)),
        &mut fail,
        100,
    );
    assert!(matches!(w.breaker.state(), State::Open { until } if until < end));
    let f = w.drive(&mut fixed(end), &mut |_| Verdict::success(), 100);
    assert_eq!(
        f,
        Some(Finish::Completed {
            attempts: 1,
            outcome: Outcome::Success
        })
    );
    assert_eq!(w.breaker.state(), State::Closed);
    // Documented limit: at exactly Instant::MAX every deadline has passed (`now >=
    // deadline` with saturated sums), so a half-open probe can never report in time
    // and the breaker stays open. Calls still end and nothing leaks.
    let _ = w.drive(&mut fixed(end), &mut fail, 100);
    let _ = w.drive(&mut fixed(end), &mut fail, 100);
    for _ in 0..5 {
        let f = w.drive(&mut fixed(Instant::MAX), &mut |_| Verdict::success(), 100);
        assert!(f.is_some());
    }
    assert_ne!(w.breaker.state(), State::Closed);
    assert_eq!((w.bulkhead.in_flight(), w.bulkhead.queued()), (0, 0));
}

#[test]
fn abandoned_at_every_step_under_every_clock() {
    // A call dropped after k steps, for every k and every abusive clock, leaves
    // nothing behind.
    let clocks: [fn(u64) -> Instant; 4] = [
        |_| Instant::from_secs(5),
        |i| Instant::from_secs(1_000 - (i % 7) * 100),
        |i| Instant::from_secs(1) + YEAR.saturating_mul(i),
        |i| Instant::from_micros(u64::MAX - 1 + (i % 2)),
    ];
    for (c, read) in clocks.iter().enumerate() {
        for k in 0..12 {
            let mut w = World::new(Some(Duration::from_secs(1)), Some(Duration::from_secs(60)));
            let mut i = 0;
            let mut clock = || {
                i += 1;
                read(i)
            };
            let _ = w.drive(
                &mut clock,
                &mut |a| {
                    if a % 2 == 0 {
                        Verdict::success()
                    } else {
                        Verdict::failure()
                    }
                },
                k,
            );
            assert_eq!(
                (w.bulkhead.in_flight(), w.bulkhead.queued()),
                (0, 0),
                "clock {c}, k {k}"
            );
            if let State::HalfOpen {
                probes_in_flight,
                deadline,
                ..
            } = w.breaker.state()
            {
                let high = (1..=i).map(read).max().unwrap_or(Instant::ZERO);
                assert!(
                    probes_in_flight == 0 || deadline.is_some_and(|d| d <= high),
                    "clock {c}, k {k}"
                );
            }
        }
    }
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
