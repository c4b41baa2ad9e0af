//! (Compiled only under `#[cfg(test)]`, from `mod.rs`.)
//! Timeline tests: exact states, decisions and `poll_at` at exact instants.

use super::*;
use crate::outcome::Outcome::{Failure, Ignored, Success, TimedOut};

fn t(secs: u64) -> Instant {
    Instant::from_secs(secs)
}

fn ms(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn open(until: Instant) -> State {
    State::Open { until }
}

fn half(probes_in_flight: u16, successes: u16, deadline: Option<Instant>) -> State {
    State::HalfOpen {
        probes_in_flight,
        successes,
        deadline,
    }
}

/// A call that starts and ends at `at`.
fn call<W: Window>(b: &mut Breaker<W>, at: Instant, outcome: Outcome) -> Option<Transition> {
    let permit = b.try_acquire(at).expect("admitted");
    b.record(permit, outcome, at)
}

fn consecutive(config: Config) -> Breaker {
    Breaker::new(config).expect("valid config")
}

/// Trips a default consecutive breaker with failures at t=0..=4.
fn tripped_at_4() -> Breaker {
    let mut b = consecutive(Config::new());
    for s in 0..4 {
        assert_eq!(call(&mut b, t(s), Failure), None);
    }
    let tr = call(&mut b, t(4), Failure).expect("trips");
    assert_eq!(
        (tr.from(), tr.to(), tr.at()),
        (State::Closed, open(t(34)), t(4))
    );
    b
}

#[test]
fn five_failures_open_for_30s_and_until_is_inclusive() {
    let mut b = tripped_at_4();
    assert_eq!(b.state(), open(t(34)));
    assert_eq!(b.poll_at(), Some(t(34)));
    assert_eq!(
        b.try_acquire(t(10)),
        Err(Rejected {
            retry_at: Some(t(34))
        })
    );
    assert_eq!(b.handle_timeout(Instant::from_micros(34_000_000 - 1)), None);
    assert_eq!(
        b.try_acquire(Instant::from_micros(34_000_000 - 1)),
        Err(Rejected {
            retry_at: Some(t(34))
        })
    );
    // Exactly at `until`: the first probe.
    let probe = b.try_acquire(t(34)).expect("inclusive");
    assert_eq!(b.state(), half(1, 0, Some(t(64))));
    assert_eq!(b.poll_at(), Some(t(64)));
    assert_eq!(probe.issued_at(), t(34));
    let s = b.stats();
    assert_eq!(
        (s.calls, s.failures, s.rejections, s.state_changes, s.opens),
        (6, 5, 2, 2, 1)
    );
    b.cancel(probe, t(34));
}

#[test]
fn handle_timeout_reports_open_to_half_open_at_until() {
    let mut b = tripped_at_4();
    assert_eq!(b.handle_timeout(t(20)), None);
    // Polled late: the event still says when it took effect.
    let tr = b.handle_timeout(t(50)).expect("due");
    assert_eq!(
        (tr.from(), tr.to(), tr.at()),
        (open(t(34)), half(0, 0, None), t(34))
    );
    assert_eq!(b.poll_at(), None, "no probe outstanding, nothing can hang");
    assert_eq!(b.handle_timeout(t(50)), None);
}

#[test]
fn a_success_ends_the_run_and_ignored_neither_counts_nor_ends_it() {
    let mut b = consecutive(Config::new());
    for s in 0..4 {
        let _ = call(&mut b, t(s), Failure);
    }
    assert_eq!(call(&mut b, t(4), Success), None);
    assert_eq!(b.window().failures(), 0);
    for s in 5..9 {
        assert_eq!(call(&mut b, t(s), Failure), None);
    }
    assert_eq!(call(&mut b, t(9), Ignored), None);
    assert_eq!(b.window().failures(), 4);
    assert_eq!(
        call(&mut b, t(10), TimedOut).map(|tr| tr.to()),
        Some(open(t(40)))
    );
    let s = b.stats();
    assert_eq!(
        (s.successes, s.failures, s.ignored, s.slow_calls),
        (1, 9, 1, 1)
    );
}

#[test]
fn half_open_admits_max_probes_and_closes_after_success_threshold() {
    let mut b = tripped_at_4();
    let p1 = b.try_acquire(t(34)).unwrap();
    let p2 = b.try_acquire(t(35)).unwrap();
    let p3 = b.try_acquire(t(36)).unwrap();
    assert_eq!(
        b.state(),
        half(3, 0, Some(t(64))),
        "deadline from the first probe"
    );
    // All 3 slots taken: come back when the episode is decided at the latest.
    assert_eq!(
        b.try_acquire(t(37)),
        Err(Rejected {
            retry_at: Some(t(64))
        })
    );
    assert_eq!(b.record(p1, Success, t(38)), None);
    assert_eq!(b.state(), half(2, 1, Some(t(64))));
    // A success keeps its slot: still full.
    assert_eq!(
        b.try_acquire(t(38)),
        Err(Rejected {
            retry_at: Some(t(64))
        })
    );
    let tr = b.record(p2, Success, t(39)).expect("closes");
    assert_eq!(
        (tr.from(), tr.to(), tr.at()),
        (half(2, 1, Some(t(64))), State::Closed, t(39))
    );
    assert_eq!(b.poll_at(), None);
    // The third probe is from the finished episode: stale.
    let before = b.stats();
    assert_eq!(b.record(p3, Failure, t(40)), None);
    assert_eq!(b.stats(), before);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.window().failures(), 0);
}

#[test]
fn any_probe_failure_reopens_at_once() {
    let mut b = tripped_at_4();
    let p1 = b.try_acquire(t(34)).unwrap();
    let p2 = b.try_acquire(t(34)).unwrap();
    assert_eq!(b.record(p1, Success, t(35)), None);
    let tr = b.record(p2, Failure, t(36)).expect("re-opens");
    assert_eq!(tr.to(), open(t(66)));
    assert_eq!(b.stats().opens, 2);
}

#[test]
fn ignored_and_cancelled_probes_return_their_slot() {
    let mut b = consecutive(Config::new().with_failure_threshold(1).with_probes(1, 1));
    let _ = call(&mut b, t(0), Failure);
    let probe = b.try_acquire(t(30)).unwrap();
    assert_eq!(
        b.try_acquire(t(30)),
        Err(Rejected {
            retry_at: Some(t(60))
        })
    );
    assert_eq!(b.record(probe, Ignored, t(31)), None);
    assert_eq!(b.state(), half(0, 0, None), "slot back, deadline cleared");
    let probe = b.try_acquire(t(40)).unwrap();
    assert_eq!(
        b.state(),
        half(1, 0, Some(t(70))),
        "a new deadline from this probe"
    );
    b.cancel(probe, t(41));
    assert_eq!(b.state(), half(0, 0, None));
    let probe = b.try_acquire(t(42)).unwrap();
    assert_eq!(
        b.record(probe, Success, t(43)).map(|tr| tr.to()),
        Some(State::Closed)
    );
}

#[test]
fn a_hung_probe_fails_the_episode_at_its_deadline() {
    let mut b = tripped_at_4();
    let hung = b.try_acquire(t(34)).unwrap();
    let ok = b.try_acquire(t(50)).unwrap();
    assert_eq!(b.record(ok, Success, t(51)), None);
    assert_eq!(b.state(), half(1, 1, Some(t(64))));
    assert_eq!(b.handle_timeout(Instant::from_micros(64_000_000 - 1)), None);
    let tr = b.handle_timeout(t(64)).expect("hung");
    assert_eq!(
        (tr.from(), tr.to(), tr.at()),
        (half(1, 1, Some(t(64))), open(t(94)), t(64))
    );
    assert_eq!(b.poll_at(), Some(t(94)));
    // The hung probe finally answers: stale, changes nothing.
    let before = b.stats();
    assert_eq!(b.record(hung, Success, t(70)), None);
    assert_eq!(b.stats(), before);
    assert_eq!(b.state(), open(t(94)));
}

#[test]
fn try_acquire_applies_the_hung_probe_rule_itself() {
    let mut b = tripped_at_4();
    let hung = b.try_acquire(t(34)).unwrap();
    assert_eq!(
        b.try_acquire(t(64)),
        Err(Rejected {
            retry_at: Some(t(94))
        })
    );
    assert_eq!(b.state(), open(t(94)));
    // Much later: hung → Open{94} → HalfOpen, and this call is the probe.
    b.cancel(hung, t(200));
    let mut b2 = tripped_at_4();
    let _hung = b2.try_acquire(t(34)).unwrap();
    let probe = b2.try_acquire(t(200)).expect("probe");
    assert_eq!(b2.state(), half(1, 0, Some(t(230))));
    assert_eq!(b2.stats().state_changes, 4);
    b2.cancel(probe, t(200));
}

#[test]
fn an_outcome_after_the_deadline_applies_the_failed_episode_first() {
    let mut b = tripped_at_4();
    let probe = b.try_acquire(t(34)).unwrap();
    let p2 = b.try_acquire(t(34)).unwrap();
    let tr = b.record(probe, Success, t(64)).expect("hung episode");
    assert_eq!(tr.to(), open(t(94)));
    assert_eq!(b.stats().successes, 0, "the late success is stale");
    // A cancel after the deadline does not rescue the episode either.
    let mut c = tripped_at_4();
    let q = c.try_acquire(t(34)).unwrap();
    c.cancel(q, t(65));
    assert_eq!(c.state(), half(1, 0, Some(t(64))));
    assert_eq!(c.handle_timeout(t(65)).map(|tr| tr.to()), Some(open(t(94))));
    b.cancel(p2, t(64));
}

#[test]
fn stale_permits_change_nothing() {
    let mut b = consecutive(Config::new().with_failure_threshold(2));
    let late = b.try_acquire(t(0)).unwrap();
    let late_success = b.try_acquire(t(0)).unwrap();
    let _ = call(&mut b, t(1), Failure);
    let _ = call(&mut b, t(2), Failure);
    assert_eq!(b.state(), open(t(32)));
    let before = (b.state(), b.stats(), b.poll_at());
    assert_eq!(b.record(late, Failure, t(3)), None);
    assert_eq!((b.state(), b.stats(), b.poll_at()), before);
    // A success from the closed generation cannot count toward closing.
    let probe = b.try_acquire(t(32)).unwrap();
    assert_eq!(b.record(late_success, Success, t(33)), None);
    assert_eq!(b.state(), half(1, 0, Some(t(62))));
    b.cancel(probe, t(33));
}

#[test]
fn break_grows_on_repeated_trips_up_to_the_cap_and_resets_on_close() {
    let config = Config::new()
        .with_failure_threshold(1)
        .with_probes(1, 1)
        .with_break_duration(secs(10))
        .with_break_growth(2, secs(35));
    let mut b = consecutive(config);
    assert_eq!(call(&mut b, t(0), Failure).unwrap().to(), open(t(10)));
    assert_eq!(call(&mut b, t(10), Failure).unwrap().to(), open(t(30)));
    assert_eq!(
        call(&mut b, t(30), Failure).unwrap().to(),
        open(t(65)),
        "40 s capped at 35"
    );
    assert_eq!(call(&mut b, t(65), Failure).unwrap().to(), open(t(100)));
    assert_eq!(b.next_break_duration(), secs(35));
    assert_eq!(call(&mut b, t(100), Success).unwrap().to(), State::Closed);
    assert_eq!(b.next_break_duration(), secs(10));
    assert_eq!(call(&mut b, t(101), Failure).unwrap().to(), open(t(111)));
    // A hung episode grows the break too.
    let _hung = b.try_acquire(t(111)).unwrap();
    assert_eq!(b.handle_timeout(t(121)).unwrap().to(), open(t(141)));
}

#[test]
fn growth_saturates_for_huge_multipliers_and_many_opens() {
    let config = Config::new()
        .with_failure_threshold(1)
        .with_probes(1, 1)
        .with_break_growth(u16::MAX, Duration::MAX);
    let mut b = consecutive(config);
    let mut now = t(0);
    for _ in 0..300 {
        let _ = call(&mut b, now, Failure);
        now = b.poll_at().unwrap();
    }
    assert_eq!(b.state(), open(Instant::MAX));
    assert_eq!(b.next_break_duration(), Duration::MAX);
}

#[test]
fn count_window_judges_from_minimum_calls_and_trips_on_a_success() {
    let config = Config::new()
        .with_minimum_calls(5)
        .with_failure_rate_percent(50);
    let mut b = Breaker::<CountWindow<10>>::new(config).unwrap();
    for s in 0..4 {
        assert_eq!(call(&mut b, t(s), Failure), None, "below minimum calls");
    }
    // The 5th call reaches the minimum on a success: 4/5 = 80 % ≥ 50 %.
    let tr = call(&mut b, t(4), Success).expect("trips on a success");
    assert_eq!(tr.to(), open(t(34)));
}

#[test]
fn count_window_slides_and_threshold_is_inclusive() {
    let config = Config::new()
        .with_minimum_calls(4)
        .with_failure_rate_percent(50);
    let mut b = Breaker::<CountWindow<4>>::new(config).unwrap();
    for (s, o) in [Failure, Success, Success, Success].into_iter().enumerate() {
        assert_eq!(call(&mut b, t(s as u64), o), None);
    }
    assert_eq!(
        b.window().counts(),
        WindowCounts {
            calls: 4,
            failures: 1,
            slow_calls: 0
        }
    );
    assert_eq!(call(&mut b, t(4), Success), None, "evicts the failure");
    assert_eq!(b.window().counts().failures, 0);
    assert_eq!(call(&mut b, t(5), Failure), None);
    assert_eq!(
        b.window().counts(),
        WindowCounts {
            calls: 4,
            failures: 1,
            slow_calls: 0
        }
    );
    // 2 of 4 = exactly 50 %: trips.
    assert_eq!(
        call(&mut b, t(6), Failure).map(|tr| tr.to()),
        Some(open(t(36)))
    );
}

#[test]
fn minimum_calls_above_n_means_a_full_window() {
    let config = Config::new().with_minimum_calls(100);
    let mut b = Breaker::<CountWindow<3>>::new(config).unwrap();
    let _ = call(&mut b, t(0), Failure);
    let _ = call(&mut b, t(1), Failure);
    assert!(call(&mut b, t(2), Success).is_some());
}

#[test]
fn count_window_over_several_words() {
    let config = Config::new()
        .with_minimum_calls(100)
        .with_failure_rate_percent(10);
    let mut b = Breaker::<CountWindow<100, 2>>::new(config).unwrap();
    for s in 0..89 {
        assert_eq!(call(&mut b, t(s), Success), None);
    }
    for s in 89..99 {
        assert_eq!(call(&mut b, t(s), Failure), None);
    }
    assert_eq!(
        b.window().counts(),
        WindowCounts {
            calls: 99,
            failures: 10,
            slow_calls: 0
        }
    );
    // 10/100 = 10 %.
    assert!(call(&mut b, t(99), Success).is_some());
}

/// A `CountWindow<128, 2>` judging the last `len` calls.
fn runtime_window(config: Config, len: usize) -> Breaker<CountWindow<128, 2>> {
    let window = CountWindow::with_len(len).expect("valid length");
    Breaker::with_window(config, window).expect("valid config")
}

#[test]
fn a_runtime_length_window_slides_at_its_length() {
    let config = Config::new()
        .with_minimum_calls(4)
        .with_failure_rate_percent(50);
    let mut b = runtime_window(config, 4);
    assert_eq!(b.window().window_len(), 4);
    for (s, o) in [Failure, Success, Success, Success].into_iter().enumerate() {
        assert_eq!(call(&mut b, t(s as u64), o), None);
    }
    let full = WindowCounts {
        calls: 4,
        failures: 1,
        slow_calls: 0,
    };
    assert_eq!(b.window().counts(), full);
    assert_eq!(call(&mut b, t(4), Success), None, "evicts the failure");
    assert_eq!(b.window().counts().failures, 0);
    assert_eq!(call(&mut b, t(5), Failure), None);
    assert_eq!(b.window().counts(), full);
    // 2 of 4 = exactly 50 %: trips, as a `CountWindow<4>` does.
    assert_eq!(
        call(&mut b, t(6), Failure).map(|tr| tr.to()),
        Some(open(t(36)))
    );
}

#[test]
fn a_runtime_length_window_wraps_many_times_over_both_words() {
    // 100 of 128 slots: the ring crosses the word boundary and wraps at 100.
    let config = Config::new()
        .with_minimum_calls(100)
        .with_failure_rate_percent(10);
    let mut b = runtime_window(config, 100);
    for s in 0..1_000 {
        assert_eq!(call(&mut b, t(s), Success), None);
    }
    assert_eq!(b.window().counts().calls, 100);
    for s in 1_000..1_009 {
        assert_eq!(call(&mut b, t(s), Failure), None);
    }
    // 10/100 = 10 %.
    assert!(call(&mut b, t(1_009), Failure).is_some());
}

#[test]
fn minimum_calls_above_the_runtime_length_means_a_full_window() {
    let mut b = runtime_window(Config::new().with_minimum_calls(100), 3);
    let _ = call(&mut b, t(0), Failure);
    let _ = call(&mut b, t(1), Failure);
    assert!(call(&mut b, t(2), Success).is_some());
}

#[test]
fn closing_and_reset_empty_a_runtime_window_and_keep_its_length() {
    let config = Config::new().with_minimum_calls(2).with_probes(1, 1);
    let mut b = runtime_window(config, 2);
    let _ = call(&mut b, t(0), Failure);
    assert!(call(&mut b, t(1), Failure).is_some());
    // Probe at 31 closes: the window is emptied, still 2 long.
    assert_eq!(
        call(&mut b, t(31), Success).map(|tr| tr.to()),
        Some(State::Closed)
    );
    assert_eq!(b.window().counts(), WindowCounts::default());
    assert_eq!(b.window().window_len(), 2);
    let _ = call(&mut b, t(32), Success);
    let _ = call(&mut b, t(33), Success);
    let _ = call(&mut b, t(34), Success);
    assert_eq!(b.window().counts().calls, 2, "slides at 2, not 128");
    assert_eq!(b.reset(t(35)), None);
    assert_eq!(b.window().counts(), WindowCounts::default());
    assert_eq!(b.window().window_len(), 2);
    let _ = call(&mut b, t(36), Failure);
    assert!(
        call(&mut b, t(37), Failure).is_some(),
        "judged at 2 calls again"
    );
}

#[test]
fn with_window_starts_empty_whatever_the_window_held() {
    let config = Config::new().with_minimum_calls(100);
    let mut used = runtime_window(config, 5);
    for s in 0..3 {
        let _ = call(&mut used, t(s), Failure);
    }
    assert_eq!(used.window().counts().failures, 3);
    let b = Breaker::with_window(config, *used.window()).unwrap();
    assert_eq!(b.window().counts(), WindowCounts::default());
    assert_eq!(b.window().window_len(), 5);
    // `new` and `Default` keep the storage's length.
    assert_eq!(CountWindow::<128, 2>::new().window_len(), 128);
    assert_eq!(CountWindow::<128, 2>::default(), CountWindow::new());
    assert_eq!(CountWindow::<128, 2>::with_len(128), Ok(CountWindow::new()));
}

#[test]
fn runtime_lengths_outside_the_storage_are_rejected_naming_the_field() {
    let field =
        |r: Result<CountWindow<128, 2>, ConfigError>| r.map(|_| "").unwrap_or_else(|e| e.field);
    assert_eq!(field(CountWindow::with_len(0)), "CountWindow::len");
    assert_eq!(field(CountWindow::with_len(1)), "");
    assert_eq!(field(CountWindow::with_len(128)), "");
    assert_eq!(field(CountWindow::with_len(129)), "CountWindow::len");
    assert_eq!(field(CountWindow::with_len(usize::MAX)), "CountWindow::len");
    // Storage longer than the longest window: the length is capped too...
    assert_eq!(
        CountWindow::<40_000, 625>::with_len(32_769).map(|_| ""),
        Err(ConfigError::new(
            "CountWindow::len",
            "must be at most 32768"
        ))
    );
    // ...and the breaker rejects the storage itself, as `new` does.
    let w = CountWindow::<40_000, 625>::with_len(10).unwrap();
    assert_eq!(
        Breaker::with_window(Config::new(), w).unwrap_err().field,
        "CountWindow::N"
    );
    let w = CountWindow::<65>::with_len(10).unwrap();
    assert_eq!(
        Breaker::with_window(Config::new(), w).unwrap_err().field,
        "CountWindow::WORDS"
    );
}

#[test]
#[cfg_attr(miri, ignore = "65 546 calls; shorter windows run the same wrap logic")]
fn the_longest_window_wraps_without_overflow() {
    // `pos` runs up to 2 × 32 768 − 1 = u16::MAX.
    let config = Config::new().with_minimum_calls(u32::MAX);
    let mut b = Breaker::<CountWindow<32_768, 512>>::new(config).unwrap();
    for s in 0..(2 * 32_768 + 10) {
        assert_eq!(call(&mut b, ms(s), Success), None);
    }
    assert_eq!(b.window().counts().calls, 32_768);
    assert_eq!(
        Breaker::<CountWindow<32_769, 513>>::new(config).unwrap_err(),
        ConfigError::new("CountWindow::N", "must be at most 32768")
    );
}

#[test]
fn slow_call_rate_trips_on_slow_successes() {
    let config = Config::new()
        .with_minimum_calls(4)
        .with_slow_calls(secs(1), 50);
    let mut b = Breaker::<CountWindow<8>>::new(config).unwrap();
    let slow = |b: &mut Breaker<CountWindow<8>>, start: Instant, took: Duration| {
        let p = b.try_acquire(start).unwrap();
        b.record(p, Success, start + took)
    };
    assert_eq!(
        slow(&mut b, t(0), secs(1)),
        None,
        "exactly the threshold is not slow"
    );
    assert_eq!(slow(&mut b, t(2), Duration::from_millis(1_001)), None);
    assert_eq!(slow(&mut b, t(4), Duration::ZERO), None);
    assert_eq!(
        b.window().counts(),
        WindowCounts {
            calls: 3,
            failures: 0,
            slow_calls: 1
        }
    );
    let tr = slow(&mut b, t(6), secs(5)).expect("2 of 4 slow");
    assert_eq!(tr.to(), open(t(41)));
    assert_eq!(b.stats().slow_calls, 2);
    assert_eq!(b.stats().failures, 0);
}

#[test]
fn timed_out_is_a_failure_and_a_slow_call() {
    let config = Config::new()
        .with_minimum_calls(2)
        .with_failure_rate_percent(100);
    let mut b = Breaker::<CountWindow<4>>::new(config).unwrap();
    let _ = call(&mut b, t(0), TimedOut);
    assert_eq!(
        b.window().counts(),
        WindowCounts {
            calls: 1,
            failures: 1,
            slow_calls: 1
        }
    );
    assert!(call(&mut b, t(0), TimedOut).is_some());
}

#[test]
fn time_window_buckets_expire() {
    let config = Config::new()
        .with_window_duration(secs(10))
        .with_minimum_calls(3)
        .with_failure_rate_percent(60);
    let mut b = Breaker::<TimeWindow<10>>::new(config).unwrap();
    assert_eq!(call(&mut b, ms(500), Failure), None);
    assert_eq!(call(&mut b, ms(1_500), Failure), None);
    // At 10.0 s the bucket of [0 s, 1 s) has left; [1 s, 2 s) is still in.
    assert_eq!(call(&mut b, ms(10_000), Success), None);
    assert_eq!(
        b.window().counts(),
        WindowCounts {
            calls: 2,
            failures: 1,
            slow_calls: 0
        }
    );
    assert_eq!(call(&mut b, ms(10_999), Success), None);
    assert_eq!(
        b.window().counts(),
        WindowCounts {
            calls: 3,
            failures: 1,
            slow_calls: 0
        }
    );
    // A long silence empties the whole window.
    assert_eq!(call(&mut b, t(100), Failure), None);
    assert_eq!(
        b.window().counts(),
        WindowCounts {
            calls: 1,
            failures: 1,
            slow_calls: 0
        }
    );
    assert_eq!(
        call(&mut b, ms(100_100), Failure),
        None,
        "below minimum calls"
    );
    let tr = call(&mut b, ms(109_999), Success).expect("2/3 = 66 % ≥ 60 %");
    assert_eq!(tr.to(), open(ms(139_999)));
}

#[test]
fn time_window_trips_on_a_success_that_reaches_minimum_calls() {
    let config = Config::new()
        .with_window_duration(secs(10))
        .with_minimum_calls(3);
    let mut b = Breaker::<TimeWindow<5>>::new(config).unwrap();
    let _ = call(&mut b, t(0), Failure);
    let _ = call(&mut b, t(1), Failure);
    assert_eq!(
        call(&mut b, t(9), Success).map(|tr| tr.to()),
        Some(open(t(39)))
    );
}

#[test]
fn the_clock_going_backwards_is_read_as_standing_still() {
    let mut b = consecutive(Config::new().with_failure_threshold(1));
    assert_eq!(call(&mut b, t(100), Failure).unwrap().to(), open(t(130)));
    assert_eq!(
        b.try_acquire(t(50)),
        Err(Rejected {
            retry_at: Some(t(130))
        })
    );
    assert_eq!(b.handle_timeout(t(0)), None);
    let probe = b.try_acquire(t(130)).unwrap();
    // The clock jumps back: the probe is issued "at 130", never earlier.
    let p2 = b.try_acquire(t(1)).unwrap();
    assert_eq!(p2.issued_at(), t(130));
    assert_eq!(b.record(probe, Success, t(2)), None);
    assert_eq!(
        b.record(p2, Success, Instant::ZERO).unwrap().to(),
        State::Closed
    );
    assert_eq!(b.stats().slow_calls, 0);
}

#[test]
fn near_the_end_of_time_nothing_panics() {
    let mut b = consecutive(Config::new().with_failure_threshold(1).with_probes(1, 1));
    let end = Instant::MAX - secs(1);
    assert_eq!(call(&mut b, end, Failure).unwrap().to(), open(Instant::MAX));
    assert!(b.try_acquire(end).is_err());
    let probe = b.try_acquire(Instant::MAX).unwrap();
    assert_eq!(b.state(), half(1, 0, Some(Instant::MAX)));
    // At MAX the hung-probe deadline is already reached: the episode fails.
    assert_eq!(
        b.record(probe, Success, Instant::MAX).unwrap().to(),
        open(Instant::MAX)
    );
    for _ in 0..4 {
        let _ = b.handle_timeout(Instant::MAX);
        let _ = b.try_acquire(Instant::MAX);
    }
    let _ = b.reset(Instant::MAX);
    assert_eq!(call(&mut b, Instant::MAX, Success), None);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn manual_controls() {
    let mut b = tripped_at_4();
    let tr = b.force_open(t(5)).unwrap();
    assert_eq!((tr.from(), tr.to()), (open(t(34)), State::ForcedOpen));
    assert_eq!(b.force_open(t(6)), None);
    assert_eq!(b.poll_at(), None);
    assert_eq!(b.handle_timeout(t(1_000)), None);
    assert_eq!(b.try_acquire(t(1_000)), Err(Rejected { retry_at: None }));
    let tr = b.disable(t(1_001)).unwrap();
    assert_eq!((tr.from(), tr.to()), (State::ForcedOpen, State::Disabled));
    for s in 0..20 {
        assert_eq!(call(&mut b, t(1_002 + s), Failure), None);
    }
    assert_eq!(b.state().code(), 0);
    let p = b.try_acquire(t(1_100)).unwrap();
    let tr = b.reset(t(1_101)).unwrap();
    assert_eq!(
        (tr.from(), tr.to(), tr.at()),
        (State::Disabled, State::Closed, t(1_101))
    );
    // The permit from the disabled generation is stale after the reset.
    assert_eq!(b.record(p, Failure, t(1_102)), None);
    let s = b.stats();
    assert_eq!(
        (s.failures, s.rejections, s.state_changes, s.opens),
        (25, 1, 4, 1)
    );
}

#[test]
fn reset_clears_the_detector_and_the_growth() {
    let config = Config::new()
        .with_failure_threshold(2)
        .with_probes(1, 1)
        .with_break_growth(3, secs(1_000));
    let mut b = consecutive(config);
    let _ = call(&mut b, t(0), Failure);
    let _ = call(&mut b, t(0), Failure);
    let _ = call(&mut b, t(30), Failure);
    assert_eq!(b.state(), open(t(120)));
    assert_eq!(b.reset(t(31)).unwrap().to(), State::Closed);
    assert_eq!(b.next_break_duration(), secs(30));
    let _ = call(&mut b, t(32), Failure);
    assert_eq!(b.window().failures(), 1);
    assert_eq!(
        b.reset(t(33)),
        None,
        "already closed: no event, but cleared"
    );
    assert_eq!(b.window().failures(), 0);
}

#[test]
fn take_stats_returns_and_zeroes() {
    let mut b = tripped_at_4();
    let s = b.take_stats();
    assert_eq!((s.calls, s.failures, s.opens), (5, 5, 1));
    assert_eq!(b.stats(), Stats::ZERO);
}

#[test]
fn config_errors_name_the_field() {
    fn field<W: Window>(c: Config) -> &'static str {
        Breaker::<W>::new(c).map(|_| "").unwrap_or_else(|e| e.field)
    }
    let c = Config::new();
    assert_eq!(field::<Consecutive>(c), "");
    assert_eq!(
        field::<Consecutive>(c.with_failure_threshold(0)),
        "failure_threshold"
    );
    assert_eq!(
        field::<Consecutive>(c.with_break_duration(Duration::ZERO)),
        "break_duration"
    );
    assert_eq!(
        field::<Consecutive>(c.with_break_growth(0, secs(60))),
        "break_multiplier"
    );
    assert_eq!(
        field::<Consecutive>(c.with_break_growth(2, secs(29))),
        "max_break_duration"
    );
    assert_eq!(field::<Consecutive>(c.with_probes(0, 0)), "max_probes");
    assert_eq!(
        field::<Consecutive>(c.with_probes(3, 0)),
        "success_threshold"
    );
    assert_eq!(
        field::<Consecutive>(c.with_probes(1, 2)),
        "success_threshold"
    );
    assert_eq!(
        field::<Consecutive>(c.with_max_half_open_wait(Duration::ZERO)),
        "max_half_open_wait"
    );
    // Window fields are ignored by the consecutive detector...
    assert_eq!(field::<Consecutive>(c.with_failure_rate_percent(0)), "");
    // ...and checked for the windows.
    assert_eq!(
        field::<CountWindow<8>>(c.with_failure_rate_percent(0)),
        "failure_rate_percent"
    );
    assert_eq!(
        field::<CountWindow<8>>(c.with_failure_rate_percent(101)),
        "failure_rate_percent"
    );
    assert_eq!(
        field::<CountWindow<8>>(c.with_slow_calls(secs(1), 0)),
        "slow_call_rate_percent"
    );
    assert_eq!(
        field::<CountWindow<8>>(c.with_slow_calls(secs(1), 101)),
        "slow_call_rate_percent"
    );
    assert_eq!(
        field::<CountWindow<8>>(c.with_minimum_calls(0)),
        "minimum_calls"
    );
    assert_eq!(field::<CountWindow<8>>(c.with_failure_threshold(0)), "");
    assert_eq!(field::<CountWindow<0>>(c), "CountWindow::N");
    assert_eq!(field::<CountWindow<65>>(c), "CountWindow::WORDS");
    assert_eq!(field::<CountWindow<65, 2>>(c), "");
    assert_eq!(field::<CountWindow<70_000, 2000>>(c), "CountWindow::N");
    assert_eq!(field::<CountWindow<32_768, 512>>(c), "");
    assert_eq!(field::<TimeWindow<0>>(c), "TimeWindow::K");
    assert_eq!(
        field::<TimeWindow<4>>(c.with_window_duration(Duration::ZERO)),
        "window_duration"
    );
    assert_eq!(
        field::<TimeWindow<4>>(c.with_window_duration(Duration::from_micros(3))),
        "window_duration"
    );
    assert_eq!(
        field::<TimeWindow<4>>(c.with_window_duration(Duration::from_micros(4))),
        ""
    );
    assert_eq!(
        field::<TimeWindow<4>>(c.with_minimum_calls(0)),
        "minimum_calls"
    );
}

#[test]
fn time_window_counts_are_as_of_now_without_a_new_record() {
    // 10 s window of 1 s buckets; nobody records anything after t=1.5 s.
    let config = Config::new()
        .with_window_duration(secs(10))
        .with_minimum_calls(20);
    let mut b = Breaker::<TimeWindow<10>>::new(config).unwrap();
    assert_eq!(call(&mut b, ms(500), Failure), None);
    assert_eq!(call(&mut b, ms(1_500), Failure), None);
    assert_eq!(call(&mut b, ms(1_700), Success), None);
    let all = WindowCounts {
        calls: 3,
        failures: 2,
        slow_calls: 0,
    };
    assert_eq!(b.counts(ms(1_700)), all);
    assert_eq!(b.counts(ms(9_999)), all);
    // At 10.0 s the bucket [0 s, 1 s) has left the window.
    let one_left = WindowCounts {
        calls: 2,
        failures: 1,
        slow_calls: 0,
    };
    assert_eq!(b.counts(t(10)), one_left);
    assert_eq!(b.counts(t(10)).failure_percent(), 50);
    assert_eq!(b.counts(ms(10_999)), one_left);
    // At 11.0 s nothing is left: an idle breaker shows no old failures.
    assert_eq!(b.counts(t(11)), WindowCounts::default());
    assert_eq!(b.counts(t(1_000_000)), WindowCounts::default());
    // Asking changes nothing, and an earlier `now` reads as the latest seen.
    assert_eq!(b.counts(ms(1_700)), all);
    let _ = b.handle_timeout(t(11));
    assert_eq!(b.counts(ms(1_700)), WindowCounts::default());
    // A record after the silence starts from an empty window.
    assert_eq!(call(&mut b, t(11), Failure), None);
    assert_eq!(
        b.counts(t(11)),
        WindowCounts {
            calls: 1,
            failures: 1,
            slow_calls: 0
        }
    );
}

#[test]
fn count_detectors_do_not_expire_by_time() {
    let mut b = Breaker::<CountWindow<4>>::new(Config::new()).unwrap();
    let _ = call(&mut b, t(0), Failure);
    assert_eq!(b.counts(t(1_000_000)).failures, 1);
    let mut c = consecutive(Config::new());
    let _ = call(&mut c, t(0), Failure);
    assert_eq!(b.counts(t(1_000_000)), c.counts(Instant::MAX));
}

#[test]
fn metrics_only_judges_and_transitions_like_a_live_breaker_but_never_rejects() {
    let config = Config::new()
        .with_failure_threshold(2)
        .with_probes(1, 1)
        .with_metrics_only(true);
    let mut shadow = consecutive(config);
    assert_eq!(call(&mut shadow, t(0), Failure), None);
    let tr = call(&mut shadow, t(1), Failure).expect("trips as a live breaker would");
    assert_eq!(
        (tr.from(), tr.to(), tr.at()),
        (State::Closed, open(t(31)), t(1))
    );
    assert_eq!(shadow.poll_at(), Some(t(31)));

    // Open: admitted anyway; the outcome is not judged (a live breaker never
    // saw that call) and the would-be rejection is counted.
    let p = shadow.try_acquire(t(5)).expect("never rejects");
    assert!(p.is_shadow());
    assert_eq!(shadow.record(p, Success, t(5)), None);
    assert_eq!(shadow.state(), open(t(31)));
    let p = shadow.try_acquire(t(6)).expect("never rejects");
    shadow.cancel(p, t(6));
    let s = shadow.stats();
    assert_eq!((s.calls, s.successes, s.rejections), (4, 0, 2));

    // At `until` the next call is the probe, exactly as live; the others in
    // the episode are admitted beyond `max_probes` and change nothing.
    let probe = shadow.try_acquire(t(31)).expect("probe");
    assert!(!probe.is_shadow());
    assert_eq!(shadow.state(), half(1, 0, Some(t(61))));
    let extra = shadow.try_acquire(t(32)).expect("never rejects");
    assert_eq!(shadow.record(extra, Failure, t(32)), None);
    assert_eq!(shadow.state(), half(1, 0, Some(t(61))));
    let tr = shadow.record(probe, Success, t(33)).expect("closes");
    assert_eq!((tr.from().name(), tr.to()), ("half_open", State::Closed));
    assert_eq!(shadow.stats().rejections, 3);
    assert_eq!(shadow.stats().state_changes, 3);

    // Forced open never rejects either.
    let _ = shadow.force_open(t(40));
    let p = shadow.try_acquire(t(40)).expect("never rejects");
    assert_eq!(shadow.record(p, Failure, t(40)), None);
    assert_eq!(shadow.state(), State::ForcedOpen);
}

#[test]
fn metrics_only_reports_the_same_transitions_as_the_live_breaker() {
    let live_config = Config::new()
        .with_failure_rate_percent(50)
        .with_minimum_calls(4)
        .with_break_duration(secs(10))
        .with_probes(2, 2);
    let mut live = Breaker::<CountWindow<8>>::new(live_config).unwrap();
    let mut shadow = Breaker::<CountWindow<8>>::new(live_config.with_metrics_only(true)).unwrap();
    let outcomes = [
        Failure, Success, Failure, Failure, Success, Failure, Success, Success,
    ];
    for step in 0..60u64 {
        let now = t(step);
        let outcome = outcomes[(step % 8) as usize];
        let (lt, st) = (live.handle_timeout(now), shadow.handle_timeout(now));
        assert_eq!(lt, st, "at {now}");
        let admitted = match live.try_acquire(now) {
            Ok(p) => Some(p),
            Err(rejected) => {
                assert_eq!(Some(rejected.retry_at), Some(live.state().deadline()));
                None
            }
        };
        let shadowed = shadow.try_acquire(now).expect("never rejects");
        let lt = admitted.map(|p| live.record(p, outcome, now));
        let st = shadow.record(shadowed, outcome, now);
        assert_eq!(lt.flatten(), st, "at {now}");
        assert_eq!(live.state(), shadow.state(), "at {now}");
    }
    assert_eq!(live.stats().rejections, shadow.stats().rejections);
    assert!(live.stats().opens >= 2, "the timeline opens and re-opens");
    assert_eq!(live.stats().opens, shadow.stats().opens);
}

/// Twin breakers through the same calls: `timed` records every outcome with
/// its time, `untimed` tries [`Breaker::record_untimed`] first. Whatever the
/// detector, the configuration and the order in which permits come back, they
/// must agree on every transition, state, count and later decision.
fn untimed_twin<W: Window>(seed: u64) {
    use crate::rng::{Rng, SplitMix64};
    let mut rng = SplitMix64::new(seed);
    let slow = if rng.below(2) == 0 {
        Duration::MAX
    } else {
        secs(1)
    };
    let config = Config::new()
        .with_failure_threshold(1 + rng.below(3) as u32)
        .with_minimum_calls(1 + rng.below(4) as u32)
        .with_failure_rate_percent(30 + rng.below(50) as u8)
        .with_slow_call_duration(slow)
        .with_slow_call_rate_percent(50 + rng.below(51) as u8)
        .with_window_duration(secs(4))
        .with_break_duration(secs(2))
        .with_probes(1 + rng.below(2) as u16, 1);
    let mut timed = Breaker::<W>::new(config).expect("valid config");
    let mut untimed = Breaker::<W>::new(config).expect("valid config");
    let mut now = Instant::ZERO;
    let mut held = [const { None }; 3];
    let mut took_untimed = 0;
    for step in 0..if cfg!(miri) { 60 } else { 300 } {
        now = now.saturating_add(Duration::from_millis(rng.below(1_500)));
        let slot = rng.below(3) as usize;
        match held[slot].take() {
            None => {
                let (a, b) = (timed.try_acquire(now), untimed.try_acquire(now));
                assert_eq!(a, b, "seed {seed} step {step}: admission");
                held[slot] = a.ok().zip(b.ok());
            }
            Some((a, b)) => {
                let outcome = [Success, Failure, TimedOut, Ignored][rng.below(4) as usize];
                let expected = timed.record(a, outcome, now);
                let got = match untimed.record_untimed(b, outcome) {
                    Ok(()) => {
                        took_untimed += 1;
                        None
                    }
                    Err(b) => untimed.record(b, outcome, now),
                };
                assert_eq!(got, expected, "seed {seed} step {step}: {outcome:?}");
            }
        }
        assert_eq!(untimed.state(), timed.state(), "seed {seed} step {step}");
        assert_eq!(untimed.stats(), timed.stats(), "seed {seed} step {step}");
        assert_eq!(
            untimed.counts(now),
            timed.counts(now),
            "seed {seed} step {step}"
        );
        assert_eq!(untimed.generation(), timed.generation());
    }
    if !matches!(W::KIND, window::sealed::Kind::Time { .. }) {
        assert!(took_untimed > 0, "seed {seed}: the untimed path never ran");
    }
}

#[test]
fn an_untimed_outcome_records_what_a_timed_one_would() {
    for seed in 0..if cfg!(miri) { 2 } else { 300 } {
        untimed_twin::<Consecutive>(seed);
        untimed_twin::<CountWindow<8>>(seed);
        untimed_twin::<TimeWindow<4>>(seed);
    }
}

/// Every kind of state, half-open with and without its deadline.
fn every_state() -> [State; 7] {
    [
        State::Closed,
        open(t(34)),
        open(Instant::ZERO),
        half(0, 0, None),
        half(2, 1, Some(t(64))),
        State::ForcedOpen,
        State::Disabled,
    ]
}

#[test]
fn a_transition_reads_back_the_states_it_was_made_of() {
    for from in every_state() {
        for to in every_state() {
            let tr = Transition::new(from, to, t(9));
            assert_eq!((tr.from(), tr.to(), tr.at()), (from, to, t(9)));
        }
    }
}

#[test]
fn transitions_are_equal_exactly_when_their_states_and_instants_are() {
    let states = every_state();
    for (i, a) in states.iter().enumerate() {
        for (j, b) in states.iter().enumerate() {
            let x = Transition::new(*a, *b, t(1));
            assert_eq!(x, Transition::new(*a, *b, t(1)));
            assert_eq!(x == Transition::new(*b, *a, t(1)), a == b);
            assert_ne!(x, Transition::new(*a, *b, t(2)));
            assert_eq!(i == j, a == b);
        }
    }
}

#[test]
fn the_breakers_transitions_are_the_ones_new_makes_of_its_states() {
    // Trip, probe, hung episode, re-open, probe, close: each event equals the
    // transition made of the states read before and after it.
    let mut b = consecutive(Config::new().with_failure_threshold(1).with_probes(1, 1));
    let check = |b: &mut Breaker, event: Option<Transition>, before: State, at: Instant| {
        let event = event.expect("a transition");
        assert_eq!(event, Transition::new(before, b.state(), at));
    };
    let before = b.state();
    let opened = call(&mut b, t(0), Failure);
    check(&mut b, opened, before, t(0));
    let before = b.state();
    let probing = b.handle_timeout(t(30));
    check(&mut b, probing, before, t(30));
    let probe = b.try_acquire(t(30)).expect("a probe");
    let before = b.state();
    assert_eq!(before, half(1, 0, Some(t(60))));
    let hung = b.handle_timeout(t(61));
    check(&mut b, hung, before, t(60));
    drop(probe);
    let _ = b.handle_timeout(t(120));
    let probe = b.try_acquire(t(120)).expect("a probe");
    let before = b.state();
    let closed = b.record(probe, Success, t(121));
    check(&mut b, closed, before, t(121));
    assert_eq!(b.state(), State::Closed);
}

/// Drives `shared` and `reference` with the same random calls; `reference`
/// records everything, `shared` does what a shared breaker may: while it
/// [`is_clean`](Breaker::is_clean) a fast success is only counted; while a
/// fast success [cannot trip it](Breaker::fast_success_cannot_trip) it is
/// kept aside and handed over in one go, with
/// [`record_fast_successes`](Breaker::record_fast_successes), before anything
/// else but a permit reaches it. Both must decide alike at every step.
fn deferred_fast_successes_decide_alike<W: Window>(mut shared: Breaker<W>, seed: u64) {
    use crate::rng::{Rng, SplitMix64};
    let mut reference = shared.clone();
    let mut rng = SplitMix64::new(seed);
    let mut now = Instant::ZERO;
    let (mut absorbed, mut deferred) = (0u32, 0u32);
    let slow_after = shared.config().slow_call_duration;
    for step in 0..if cfg!(miri) { 100 } else { 2_000 } {
        now = now.saturating_add(Duration::from_millis(rng.below(3)));
        if rng.below(50) == 0 {
            now = now.saturating_add(shared.next_break_duration());
        }
        let (a, r) = (shared.try_acquire(now), reference.try_acquire(now));
        assert_eq!(a.is_ok(), r.is_ok(), "seed {seed}, step {step}");
        let (Ok(a), Ok(r)) = (a, r) else { continue };
        let end = now.saturating_add(Duration::from_millis(rng.below(4)));
        let outcome = match rng.below(100) {
            0..=9 => Failure,
            10..=11 => TimedOut,
            12..=13 => Ignored,
            _ => Success,
        };
        let fast = outcome == Success && end <= a.issued_at().saturating_add(slow_after);
        let expected = reference.record(r, outcome, end);
        if fast && shared.is_clean() {
            assert!(
                shared.fast_success_cannot_trip(),
                "seed {seed}, step {step}"
            );
            absorbed += 1;
            assert_eq!(
                expected, None,
                "seed {seed}, step {step}: a clean success tripped"
            );
        } else if fast && shared.fast_success_cannot_trip() {
            deferred += 1;
            assert_eq!(
                expected, None,
                "seed {seed}, step {step}: a deferred success tripped"
            );
        } else {
            assert_eq!(
                shared.record_fast_successes(deferred),
                Ok(()),
                "seed {seed}, step {step}"
            );
            deferred = 0;
            assert_eq!(
                shared.record(a, outcome, end),
                expected,
                "seed {seed}, step {step}"
            );
        }
        now = end;
        assert_eq!(
            shared.state(),
            reference.state(),
            "seed {seed}, step {step}"
        );
        if deferred == 0 || rng.below(8) == 0 {
            assert_eq!(
                shared.record_fast_successes(deferred),
                Ok(()),
                "seed {seed}, step {step}"
            );
            deferred = 0;
            assert_eq!(
                shared.counts(now),
                reference.counts(now),
                "seed {seed}, step {step}"
            );
            let mut counted = shared.stats();
            counted.successes += absorbed;
            assert_eq!(counted, reference.stats(), "seed {seed}, step {step}");
        }
    }
}

#[test]
fn fast_successes_only_counted_or_recorded_later_decide_alike() {
    let config = Config::new()
        .with_failure_threshold(3)
        .with_minimum_calls(3)
        .with_failure_rate_percent(30)
        .with_break_duration(Duration::from_millis(20))
        .with_probes(2, 2);
    let slow = config.with_slow_calls(Duration::from_millis(2), 50);
    for seed in 0..if cfg!(miri) { 1 } else { 40 } {
        for config in [config, slow] {
            deferred_fast_successes_decide_alike(consecutive(config), seed);
            for len in [1, 2, 3, 5, 16, 100] {
                let window = CountWindow::<128, 2>::with_len(len).expect("a valid length");
                let b = Breaker::with_window(config, window).expect("valid config");
                deferred_fast_successes_decide_alike(b, seed);
            }
            let time = Breaker::<TimeWindow<4>>::new(config.with_window_duration(secs(1)));
            let time = time.expect("valid config");
            assert!(!time.is_clean(), "a time window counts time");
            assert!(
                !time.fast_success_cannot_trip(),
                "a time window counts time"
            );
            deferred_fast_successes_decide_alike(time, seed);
        }
    }
}
