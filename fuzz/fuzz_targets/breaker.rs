//! Breaker: any config, any detector, any clock, any call order. After every step:
//! counters consistent, half-open probe slots conserved, never wedged, deadlines sane.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadfast::breaker::{
    Breaker, Config, Consecutive, CountWindow, Permit, State, TimeWindow, Window,
};
use steadfast::error::ConfigError;
use steadfast::outcome::Outcome;
use steadfast_fuzz::{Clock, Input};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let config = config(&mut input);
    match input.u8() % 5 {
        0 => run(Breaker::<Consecutive>::new(config), input),
        1 => run(Breaker::<CountWindow<5>>::new(config), input),
        2 => run(Breaker::<CountWindow<100, 2>>::new(config), input),
        3 => {
            // A length chosen at run time, any byte: out of 1..=128 is refused.
            let len = usize::from(input.u8());
            let breaker = CountWindow::<128, 2>::with_len(len)
                .and_then(|window| Breaker::with_window(config, window));
            if let Ok(b) = &breaker {
                assert_eq!(b.window().window_len(), len);
            }
            run(breaker, input)
        }
        _ => run(Breaker::<TimeWindow<4>>::new(config), input),
    }
});

fn config(input: &mut Input<'_>) -> Config {
    let mut c = Config::new();
    if input.bool() {
        c = c.with_failure_threshold(input.count());
    }
    if input.bool() {
        c = c.with_minimum_calls(input.count());
    }
    if input.bool() {
        c = c.with_failure_rate_percent(input.u8());
    }
    if input.bool() {
        c = c.with_slow_calls(input.duration(), input.u8());
    }
    if input.bool() {
        c = c.with_window_duration(input.duration());
    }
    if input.bool() {
        c = c.with_break_duration(input.duration());
    }
    if input.bool() {
        c = c.with_break_growth(
            u16::try_from(input.count()).unwrap_or(u16::MAX),
            input.duration(),
        );
    }
    if input.bool() {
        c = c.with_probes(input.count() as u16, input.count() as u16);
    }
    if input.bool() {
        c = c.with_max_half_open_wait(input.duration());
    }
    c
}

fn outcome(b: u8) -> Outcome {
    match b % 4 {
        0 => Outcome::Success,
        1 => Outcome::Failure,
        2 => Outcome::Ignored,
        _ => Outcome::TimedOut,
    }
}

/// A permit we hold, with the "generation marker" current when it was issued.
struct Held {
    permit: Permit,
    marker: u64,
}

struct Model {
    calls: u64,
    rejections: u64,
    recorded: u64,
    /// Manual reset/force_open/disable calls: each always starts a new generation
    /// (together with the state changes, the marker below tracks the generation).
    manual: u64,
    /// Permits dropped without a word (a caller that vanished), by marker.
    leaked: Vec<u64>,
}

fn run<W: Window>(breaker: Result<Breaker<W>, ConfigError>, mut input: Input<'_>) {
    let mut b = match breaker {
        Ok(b) => b,
        Err(e) => {
            assert!(!e.field.is_empty() && !e.problem.is_empty());
            return;
        }
    };
    let config = *b.config();
    let mut clock = Clock::default();
    let mut held: Vec<Held> = Vec::new();
    let mut m = Model {
        calls: 0,
        rejections: 0,
        recorded: 0,
        manual: 0,
        leaked: Vec::new(),
    };
    let mut taken = steadfast::breaker::Stats::ZERO; // stats moved out by take_stats, summed
    let mut steps = 0;
    while !input.is_empty() && steps < 4_096 {
        steps += 1;
        let op = input.u8();
        match op % 12 {
            0 | 1 => clock.step(&mut input),
            2 | 3 => match b.try_acquire(clock.read()) {
                Ok(permit) => {
                    m.calls += 1;
                    assert_eq!(
                        permit.issued_at(),
                        clock.high,
                        "permit issued at the clock-max"
                    );
                    let marker = marker(&b, &m, &taken);
                    if held.len() < 64 {
                        held.push(Held { permit, marker });
                    } else {
                        m.leaked.push(marker);
                        drop(permit);
                    }
                }
                Err(r) => {
                    m.rejections += 1;
                    match b.state() {
                        State::Open { until } => {
                            assert_eq!(r.retry_at, Some(until));
                            assert!(until > clock.high, "rejected although the break was over");
                        }
                        State::ForcedOpen => assert_eq!(r.retry_at, None),
                        State::HalfOpen { deadline, .. } => assert_eq!(r.retry_at, deadline),
                        s => panic!("rejected while {s:?}"),
                    }
                }
            },
            4..=6 if !held.is_empty() => {
                let h = held.swap_remove(usize::from(input.u8()) % held.len());
                let outcome = outcome(input.u8());
                let before = b.stats();
                let _ = b.record(h.permit, outcome, clock.read());
                let after = b.stats();
                let delta =
                    |f: fn(&steadfast::breaker::Stats) -> u32| f(&after).wrapping_sub(f(&before));
                let total = delta(|s| s.successes) + delta(|s| s.failures) + delta(|s| s.ignored);
                assert!(total <= 1, "one outcome counted more than once");
                if total == 1 {
                    m.recorded += 1;
                    let field = match outcome {
                        Outcome::Success => delta(|s| s.successes),
                        Outcome::Failure | Outcome::TimedOut => delta(|s| s.failures),
                        Outcome::Ignored => delta(|s| s.ignored),
                    };
                    assert_eq!(field, 1, "{outcome:?} counted in the wrong field");
                }
            }
            7 if !held.is_empty() => {
                let h = held.swap_remove(usize::from(input.u8()) % held.len());
                let before = b.stats();
                b.cancel(h.permit, clock.read());
                let after = b.stats();
                assert_eq!(
                    (before.successes, before.failures, before.ignored),
                    (after.successes, after.failures, after.ignored),
                    "a cancelled permit was counted"
                );
            }
            8 if !held.is_empty() => {
                let h = held.swap_remove(usize::from(input.u8()) % held.len());
                m.leaked.push(h.marker);
            }
            9 => {
                // Drain every due timeout; afterwards nothing may be due.
                let mut n = 0;
                while b.handle_timeout(clock.read()).is_some() {
                    n += 1;
                    assert!(n <= 4, "handle_timeout keeps firing at one instant");
                }
                if let Some(t) = b.poll_at() {
                    assert!(
                        t > clock.high,
                        "poll_at {t:?} is due at {:?} after handle_timeout",
                        clock.high
                    );
                }
            }
            10 => {
                m.manual += 1;
                let _ = match input.u8() % 3 {
                    0 => b.reset(clock.read()),
                    1 => b.force_open(clock.read()),
                    _ => b.disable(clock.read()),
                };
            }
            11 => {
                let s = b.take_stats();
                add(&mut taken, &s);
            }
            _ => {}
        }
        check(&b, &m, &taken, &held, &clock, &config);
    }
}

fn add(total: &mut steadfast::breaker::Stats, s: &steadfast::breaker::Stats) {
    total.calls += s.calls;
    total.successes += s.successes;
    total.failures += s.failures;
    total.ignored += s.ignored;
    total.slow_calls += s.slow_calls;
    total.rejections += s.rejections;
    total.state_changes += s.state_changes;
    total.opens += s.opens;
}

fn marker<W: Window>(b: &Breaker<W>, m: &Model, taken: &steadfast::breaker::Stats) -> u64 {
    u64::from(b.stats().state_changes) + u64::from(taken.state_changes) + m.manual
}

fn check<W: Window>(
    b: &Breaker<W>,
    m: &Model,
    taken: &steadfast::breaker::Stats,
    held: &[Held],
    clock: &Clock,
    config: &Config,
) {
    let mut s = b.stats();
    add(&mut s, taken);
    // Counters: exactly what the API promises (4096 steps cannot saturate a u32).
    assert_eq!(u64::from(s.calls), m.calls, "calls == permits issued");
    assert_eq!(
        u64::from(s.rejections),
        m.rejections,
        "rejections == refusals"
    );
    assert_eq!(u64::from(s.successes + s.failures + s.ignored), m.recorded);
    assert!(s.successes + s.failures + s.ignored <= s.calls);
    assert!(
        s.slow_calls <= s.successes + s.failures,
        "slow calls are a subset"
    );
    assert!(s.opens <= s.state_changes);
    let state = b.state();
    assert_eq!(
        b.poll_at(),
        state.deadline(),
        "poll_at is derived from the state"
    );
    match state {
        State::Open { until } => {
            assert!(until <= steadfast::time::Instant::MAX);
            assert!(b.next_break_duration() <= config.max_break_duration());
        }
        State::HalfOpen {
            probes_in_flight,
            successes,
            deadline,
        } => {
            assert!(
                u32::from(probes_in_flight) + u32::from(successes)
                    <= u32::from(config.max_probes())
            );
            assert!(successes < config.success_threshold(), "should have closed");
            // Never wedged: an outstanding probe always has a deadline.
            assert_eq!(probes_in_flight > 0, deadline.is_some(), "{state:?}");
            let due = deadline.is_some_and(|d| d <= clock.high);
            if !due {
                // Slots conserved: every outstanding probe is one we hold or lost.
                let current = marker(b, m, taken);
                let outstanding = held.iter().filter(|h| h.marker == current).count()
                    + m.leaked.iter().filter(|&&k| k == current).count();
                assert_eq!(
                    usize::from(probes_in_flight),
                    outstanding,
                    "probe slots leaked or double-freed"
                );
            }
        }
        State::Closed | State::ForcedOpen | State::Disabled => {}
    }
}
