//! The lock-free closed-state fast path of `SharedBreaker` decides exactly
//! like the core breaker it fronts.

use steadfast::breaker::{Breaker, Config, State};
use steadfast::outcome::Outcome;
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::Instant;
use steadfast_std::SharedBreaker;

/// One thread: any interleaving of acquire/record/cancel on the shared
/// breaker gives the same states and counters as the core alone.
#[test]
fn sequential_fast_path_matches_core() {
    for seed in 0..200 {
        let config = Config::new().with_failure_threshold(3);
        let shared = SharedBreaker::new("b", config).unwrap();
        let mut core: Breaker = Breaker::new(config).unwrap();
        let mut rng = SplitMix64::new(seed);
        let mut held = Vec::new();
        let mut core_held = Vec::new();
        for _ in 0..200 {
            match rng.below(5) {
                0 | 1 => {
                    let a = shared.try_acquire();
                    let b = core.try_acquire(Instant::ZERO);
                    assert_eq!(a.is_ok(), b.is_ok());
                    if let (Ok(a), Ok(b)) = (a, b) {
                        held.push(a);
                        core_held.push(b);
                    }
                }
                k if !held.is_empty() => {
                    let i = rng.below(held.len() as u64) as usize;
                    let (a, b) = (held.swap_remove(i), core_held.swap_remove(i));
                    let outcome = match (k, rng.below(4)) {
                        (4, _) => None,
                        (_, 0) => Some(Outcome::Ignored),
                        (_, 1) => Some(Outcome::Failure),
                        _ => Some(Outcome::Success),
                    };
                    match outcome {
                        Some(o) => {
                            let _ = a.record(o);
                            let _ = core.record(b, o, Instant::ZERO);
                        }
                        None => {
                            drop(a);
                            core.cancel(b, Instant::ZERO);
                        }
                    }
                }
                _ => {}
            }
            assert_eq!(shared.state().name(), core.state().name(), "seed {seed}");
        }
        drop(held);
        for b in core_held {
            core.cancel(b, Instant::ZERO);
        }
        let (s, c) = (shared.stats(), steadfast_std::Totals::from(core.stats()));
        assert_eq!(
            (s.calls, s.successes, s.failures, s.ignored, s.opens),
            (c.calls, c.successes, c.failures, c.ignored, c.opens),
            "seed {seed}"
        );
    }
}

/// Many threads: every admitted call is accounted for, failures trip it,
/// and a success after a failure run resets the run (no spurious trip).
#[test]
fn contended_fast_path_accounts_every_call() {
    let shared = SharedBreaker::new("b", Config::new().with_failure_threshold(1_000_000)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let b = shared.clone();
            std::thread::spawn(move || {
                for i in 0..20_000u32 {
                    let p = b.try_acquire().unwrap();
                    if (i + t) % 10 == 0 {
                        let _ = p.failure();
                    } else {
                        p.success();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = shared.stats();
    assert_eq!(s.calls, 80_000);
    assert_eq!(s.failures, 8_000);
    assert_eq!(s.successes, 72_000);
    assert_eq!(shared.state(), State::Closed);

    let trips = SharedBreaker::new("t", Config::new().with_failure_threshold(3)).unwrap();
    for _ in 0..3 {
        let _ = trips.try_acquire().unwrap().failure();
    }
    assert!(matches!(trips.state(), State::Open { .. }));
    assert!(trips.try_acquire().is_err());
}

/// More threads than owned stripes, in waves (exiting threads hand their
/// stripe to the next wave): every lock-free call and success is still
/// counted exactly once.
#[test]
fn stripes_survive_overflow_and_thread_turnover() {
    let shared = SharedBreaker::new("b", Config::new().with_failure_threshold(u32::MAX)).unwrap();
    let mut expected = (0u32, 0u32);
    for wave in 0..3u32 {
        let threads: Vec<_> = (0..24u32)
            .map(|t| {
                let b = shared.clone();
                std::thread::spawn(move || {
                    for i in 0..500u32 {
                        let p = b.try_acquire().unwrap();
                        match (i + t + wave) % 7 {
                            0 => drop(p),
                            1 => {
                                let _ = p.failure();
                            }
                            _ => p.success(),
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for t in 0..24u32 {
            for i in 0..500u32 {
                match (i + t + wave) % 7 {
                    0 => {}
                    1 => expected.1 += 1,
                    _ => expected.0 += 1,
                }
            }
        }
        let s = shared.stats();
        assert_eq!(s.calls, u64::from((wave + 1) * 24 * 500), "wave {wave}");
        assert_eq!(
            (s.successes, s.failures),
            (u64::from(expected.0), u64::from(expected.1)),
            "wave {wave}"
        );
    }
    assert_eq!(shared.state(), State::Closed);
}
