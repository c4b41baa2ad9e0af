//! A count-window `SharedBreaker` decides exactly like the core `Breaker` with
//! the same `CountWindow`, fed the same outcomes at the same instants: every
//! admission, refusal, transition, state, window count and counter, after
//! every step. Its lock-free paths (admission while closed, a fast success
//! counted without the lock) must never show.
//!
//! The paused Tokio clock is the time of both: the shared breaker reads it,
//! the test hands the same reading to the core.

use steadfast::breaker::{Breaker, Config, CountWindow};
use steadfast::outcome::{Outcome, Verdict};
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::Duration;
use steadfast_std::breaker::BreakerPermit;
use steadfast_std::{SharedBreaker, Totals, time};

type Core = Breaker<CountWindow<128, 2>>;

/// The configurations the model runs: short windows fill, clean up and trip
/// often; a long one (the default length) rarely trips.
fn configs() -> Vec<(usize, Config)> {
    let mut configs = Vec::new();
    for (len, minimum_calls, rate) in [
        (1, 1, 100),
        (2, 2, 50),
        (3, 2, 60),
        (4, 10, 50),
        (7, 3, 25),
        (20, 20, 10),
        (100, 100, 50),
    ] {
        let base = Config::new()
            .with_minimum_calls(minimum_calls)
            .with_failure_rate_percent(rate)
            .with_break_duration(Duration::from_millis(10))
            .with_probes(2, 2);
        configs.push((len, base));
        // Slow-call detection on: the fast success must be judged on the clock.
        configs.push((len, base.with_slow_calls(Duration::from_millis(2), 40)));
    }
    configs
}

/// One outcome, mostly successes so that windows come clean between failures.
fn draw_outcome(rng: &mut SplitMix64) -> Outcome {
    match rng.below(100) {
        0..=7 => Outcome::Failure,
        8..=9 => Outcome::TimedOut,
        10..=11 => Outcome::Ignored,
        _ => Outcome::Success,
    }
}

fn same_counters(shared: Totals, core: Totals, context: &str) {
    assert_eq!(shared, core, "{context}");
}

/// The shared breaker and the core side by side, checked after every step.
struct Pair<'a> {
    shared: &'a SharedBreaker,
    core: Core,
    held: Vec<(BreakerPermit<'a>, steadfast::breaker::Permit)>,
}

impl Pair<'_> {
    /// The state after every step; the counts and counters now and then,
    /// since reading them hands the core the successes kept aside.
    fn check(&self, context: &str, all: bool) {
        assert_eq!(self.shared.state(), self.core.state(), "{context}");
        if !all {
            return;
        }
        same_counters(
            self.shared.stats(),
            Totals::from(self.core.stats()),
            context,
        );
        assert_eq!(
            self.shared.counts(),
            self.core.counts(time::now()),
            "{context}"
        );
    }
}

async fn run(seed: u64, len: usize, config: Config) {
    let shared = SharedBreaker::with_count_window("model", config, len).unwrap();
    let core = Core::with_window(config, CountWindow::with_len(len).unwrap()).unwrap();
    let mut pair = Pair {
        shared: &shared,
        core,
        held: Vec::new(),
    };
    let mut rng = SplitMix64::new(seed);
    for step in 0..600 {
        let now = time::now();
        let context = format!("seed {seed}, len {len}, step {step}, {config:?}");
        match rng.below(100) {
            // A whole call (the clean path of `call`).
            0..=44 => {
                let outcome = draw_outcome(&mut rng);
                let verdict = match outcome {
                    Outcome::Success => Verdict::success(),
                    Outcome::Ignored => Verdict::ignored(),
                    Outcome::TimedOut => Verdict::timed_out(),
                    Outcome::Failure => Verdict::failure(),
                };
                let got = pair
                    .shared
                    .call_classified(&move |_: &Result<(), ()>| verdict, || Ok::<(), ()>(()));
                match pair.core.try_acquire(now) {
                    Ok(p) => {
                        assert!(got.is_ok(), "{context}: refused, the core admits");
                        let _ = pair.core.record(p, outcome, now);
                    }
                    Err(r) => {
                        let err = got.expect_err(&context);
                        assert!(err.is_rejection(), "{context}");
                        assert_eq!(err.retry_at(), r.retry_at.map(time::to_std), "{context}");
                    }
                }
            }
            // A permit held across other steps.
            45..=64 if pair.held.len() < 4 => {
                match (pair.shared.try_acquire(), pair.core.try_acquire(now)) {
                    (Ok(a), Ok(b)) => pair.held.push((a, b)),
                    (Err(a), Err(b)) => assert_eq!(a, b, "{context}"),
                    (a, b) => panic!("{context}: shared {:?}, core {b:?}", a.map(|_| ())),
                }
            }
            // A held permit's outcome, or its cancellation.
            45..=84 if !pair.held.is_empty() => {
                let i = rng.below(pair.held.len() as u64) as usize;
                let (a, b) = pair.held.swap_remove(i);
                if rng.below(10) == 0 {
                    drop(a);
                    pair.core.cancel(b, now);
                } else {
                    let outcome = draw_outcome(&mut rng);
                    assert_eq!(
                        a.record(outcome),
                        pair.core.record(b, outcome, now),
                        "{context}: {outcome:?}"
                    );
                }
            }
            // Time passes: past the slow-call duration, or the open period.
            85..=96 => {
                let micros = [500, 1_000, 2_500, 10_000][rng.below(4) as usize];
                tokio::time::advance(std::time::Duration::from_micros(micros)).await;
            }
            97 => assert_eq!(pair.shared.reset(), pair.core.reset(now), "{context}"),
            98 => assert_eq!(
                pair.shared.handle_timeout(),
                pair.core.handle_timeout(now),
                "{context}"
            ),
            _ => {}
        }
        pair.check(&context, rng.below(16) == 0);
    }
    let now = time::now();
    for (a, b) in std::mem::take(&mut pair.held) {
        drop(a);
        pair.core.cancel(b, now);
    }
    pair.check(&format!("seed {seed}, len {len}: the end"), true);
}

#[tokio::test(start_paused = true)]
async fn a_shared_count_window_decides_as_the_core_window() {
    for (len, config) in configs() {
        for seed in 0..100 {
            run(seed, len, config).await;
        }
    }
}

/// Successes kept aside without the lock reach the core in their place,
/// past the most the word holds at once: a failure among them leaves the
/// window exactly 100 outcomes after it came, so the trip that depends on
/// it comes at exactly the same call as in the core window. Nothing reads
/// the counts in between (reading hands the kept successes to the core).
#[tokio::test(start_paused = true)]
async fn successes_kept_aside_keep_a_failure_in_its_place() {
    let config = Config::new()
        .with_minimum_calls(100)
        .with_failure_rate_percent(50);
    let b = SharedBreaker::with_count_window("w", config, 100).unwrap();
    let mut core = Core::with_window(config, CountWindow::with_len(100).unwrap()).unwrap();
    let now = time::now();
    let mut both = |outcome: Outcome, times: usize| {
        for i in 0..times {
            let p = core.try_acquire(now).unwrap();
            let expected = core.record(p, outcome, now).map(|t| t.to());
            let got = b.try_acquire().unwrap().record(outcome).map(|t| t.to());
            assert_eq!(got, expected, "{outcome:?} {i}");
        }
        core.counts(now)
    };
    both(Outcome::Success, 100); // full of successes: clean
    both(Outcome::Failure, 1); // now a success may only be kept aside
    let expected = both(Outcome::Success, 300); // past the failure leaving, and clean again
    assert_eq!(b.counts(), expected);
    both(Outcome::Failure, 1);
    both(Outcome::Success, 98); // the failure is the second oldest
    both(Outcome::Failure, 49); // it left with the second: 49 of 100
    assert_eq!(b.state(), steadfast::breaker::State::Closed);
    let expected = both(Outcome::Failure, 1); // 50 of 100: trips
    assert!(matches!(b.state(), steadfast::breaker::State::Open { .. }));
    assert_eq!(b.counts(), expected);
    same_counters(b.stats(), Totals::from(core.stats()), "the end");
}

/// Threads at once on a window that holds a failure most of the time (so
/// successes are kept aside in the word, up to its most, and handed over by
/// each failure): every call and outcome is counted exactly once, and the
/// window holds exactly its last 100 calls.
#[test]
fn threads_keeping_successes_aside_lose_none() {
    let config = Config::new()
        .with_minimum_calls(100)
        .with_failure_rate_percent(100);
    let b = SharedBreaker::with_count_window("w", config, 100).unwrap();
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let b = b.clone();
            std::thread::spawn(move || {
                for i in 0..20_000u32 {
                    let failed = (i + t) % 97 == 0;
                    let _ = b.call(|| if failed { Err(()) } else { Ok(()) });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let failures = (0..4u32)
        .map(|t| (0..20_000u32).filter(|i| (i + t) % 97 == 0).count() as u64)
        .sum::<u64>();
    let s = b.stats();
    assert_eq!(
        (s.calls, s.successes, s.failures),
        (80_000, 80_000 - failures, failures)
    );
    assert_eq!(b.state(), steadfast::breaker::State::Closed);
    assert_eq!(b.counts().calls, 100);
}
