//! Property tests: the breaker against a small, plainly written reference model.
//!
//! Any sequence of operations, any clock (standing still, going backwards, near
//! `u64::MAX`): no panic, the same decisions, states, deadlines and stats as the
//! model, stats that add up, probes conserved, never closed without
//! `success_threshold` successes in the episode, and late permits change nothing.

use std::collections::VecDeque;

use proptest::prelude::*;
use steadfast::breaker::{
    Breaker, Config, ConfigSource, Consecutive, ConstConfig, CountWindow, Fixed, NoStats, Permit,
    Rejected, State, Stats, StatsSlot, Transition, Window,
};
use steadfast::outcome::Outcome;
use steadfast::time::{Duration, Instant};

// ---------------------------------------------------------------- the model

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Detect {
    Consecutive,
    Count(usize),
}

#[derive(Clone, Debug)]
struct Model {
    cfg: Config,
    detect: Detect,
    state: State,
    /// Generations as u64: the model never wraps.
    generation: u64,
    last: u64,
    opens_in_a_row: u64,
    run: u64,
    window: VecDeque<(bool, bool)>,
    stats: Stats,
}

fn sat_u32(x: &mut u32) {
    *x = x.saturating_add(1);
}

impl Model {
    fn new(cfg: Config, detect: Detect) -> Self {
        Self {
            cfg,
            detect,
            state: State::Closed,
            generation: 0,
            last: 0,
            opens_in_a_row: 0,
            run: 0,
            window: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    fn now(&mut self, now: u64) -> u64 {
        self.last = self.last.max(now);
        self.last
    }

    fn break_for(&self) -> u64 {
        let base = u128::from(self.cfg.break_duration().as_micros());
        let mut d = base;
        for _ in 0..self.opens_in_a_row {
            d = d.saturating_mul(u128::from(self.cfg.break_multiplier()));
            if d > u128::from(u64::MAX) {
                break;
            }
        }
        d.min(u128::from(self.cfg.max_break_duration().as_micros())) as u64
    }

    fn go(&mut self, to: State, at: u64) -> Option<Transition> {
        let from = self.state;
        self.state = to;
        self.generation += 1;
        if to == State::Closed {
            self.run = 0;
            self.window.clear();
            self.opens_in_a_row = 0;
        }
        if let State::Open { .. } = to {
            sat_u32(&mut self.stats.opens);
        }
        if core::mem::discriminant(&from) == core::mem::discriminant(&to) {
            return None;
        }
        sat_u32(&mut self.stats.state_changes);
        Some(Transition::new(from, to, Instant::from_micros(at)))
    }

    fn open(&mut self, at: u64) -> Option<Transition> {
        let until = at.saturating_add(self.break_for());
        self.opens_in_a_row += 1;
        self.go(
            State::Open {
                until: Instant::from_micros(until),
            },
            at,
        )
    }

    fn due(&mut self, now: u64) -> Option<Transition> {
        match self.state {
            State::Open { until } if now >= until.as_micros() => self.go(
                State::HalfOpen {
                    probes_in_flight: 0,
                    successes: 0,
                    deadline: None,
                },
                until.as_micros(),
            ),
            State::HalfOpen {
                deadline: Some(d), ..
            } if now >= d.as_micros() => self.open(d.as_micros()),
            _ => None,
        }
    }

    fn acquire(&mut self, now: u64) -> Result<(u64, u64), Rejected> {
        let now = self.now(now);
        while self.due(now).is_some() {}
        match self.state {
            State::Closed | State::Disabled => {
                sat_u32(&mut self.stats.calls);
                Ok((self.generation, now))
            }
            State::Open { until } => {
                sat_u32(&mut self.stats.rejections);
                Err(Rejected {
                    retry_at: Some(until),
                })
            }
            State::ForcedOpen => {
                sat_u32(&mut self.stats.rejections);
                Err(Rejected { retry_at: None })
            }
            State::HalfOpen {
                probes_in_flight,
                successes,
                deadline,
            } => {
                if probes_in_flight + successes >= self.cfg.max_probes() {
                    sat_u32(&mut self.stats.rejections);
                    return Err(Rejected { retry_at: deadline });
                }
                let wait = self.cfg.max_half_open_wait().as_micros();
                self.state = State::HalfOpen {
                    probes_in_flight: probes_in_flight + 1,
                    successes,
                    deadline: deadline.or(Some(Instant::from_micros(now.saturating_add(wait)))),
                };
                sat_u32(&mut self.stats.calls);
                Ok((self.generation, now))
            }
        }
    }

    fn expired(&self, now: u64) -> bool {
        matches!(self.state, State::HalfOpen { deadline: Some(d), .. } if now >= d.as_micros())
    }

    fn judge(&self) -> bool {
        match self.detect {
            Detect::Consecutive => self.run >= u64::from(self.cfg.failure_threshold()),
            Detect::Count(n) => {
                let calls = self.window.len() as u64;
                let failures = self.window.iter().filter(|(f, _)| *f).count() as u64;
                let slow = self.window.iter().filter(|(_, s)| *s).count() as u64;
                let min = u64::from(self.cfg.minimum_calls()).min(n as u64);
                calls >= min
                    && (failures * 100 >= u64::from(self.cfg.failure_rate_percent()) * calls
                        || slow * 100 >= u64::from(self.cfg.slow_call_rate_percent()) * calls)
            }
        }
    }

    fn record(&mut self, permit: (u64, u64), outcome: Outcome, now: u64) -> Option<Transition> {
        let now = self.now(now);
        if permit.0 != self.generation {
            return None;
        }
        if self.expired(now) {
            return self.due(now);
        }
        let failure = matches!(outcome, Outcome::Failure | Outcome::TimedOut);
        let slow = outcome == Outcome::TimedOut
            || now - permit.1 > self.cfg.slow_call_duration().as_micros();
        match outcome {
            Outcome::Success => sat_u32(&mut self.stats.successes),
            Outcome::Ignored => sat_u32(&mut self.stats.ignored),
            _ => sat_u32(&mut self.stats.failures),
        }
        if slow && outcome != Outcome::Ignored {
            sat_u32(&mut self.stats.slow_calls);
        }
        match self.state {
            State::Closed if outcome != Outcome::Ignored => {
                match self.detect {
                    Detect::Consecutive => self.run = if failure { self.run + 1 } else { 0 },
                    Detect::Count(n) => {
                        if self.window.len() == n {
                            self.window.pop_front();
                        }
                        self.window.push_back((failure, slow));
                    }
                }
                if self.judge() { self.open(now) } else { None }
            }
            State::HalfOpen {
                probes_in_flight,
                successes,
                deadline,
            } => {
                if failure {
                    return self.open(now);
                }
                let successes = successes + u16::from(outcome == Outcome::Success);
                if successes >= self.cfg.success_threshold() {
                    return self.go(State::Closed, now);
                }
                let in_flight = probes_in_flight - 1;
                self.state = State::HalfOpen {
                    probes_in_flight: in_flight,
                    successes,
                    deadline: if in_flight == 0 { None } else { deadline },
                };
                None
            }
            _ => None,
        }
    }

    fn cancel(&mut self, permit: (u64, u64), now: u64) {
        let now = self.now(now);
        if permit.0 != self.generation || self.expired(now) {
            return;
        }
        if let State::HalfOpen {
            probes_in_flight,
            successes,
            deadline,
        } = self.state
        {
            let in_flight = probes_in_flight - 1;
            self.state = State::HalfOpen {
                probes_in_flight: in_flight,
                successes,
                deadline: if in_flight == 0 { None } else { deadline },
            };
        }
    }
}

// ---------------------------------------------------------------- operations

#[derive(Clone, Debug)]
enum Op {
    /// Move the clock (ms, may be negative) then ask for a permit.
    Acquire(i64),
    /// Hand back held permit `i % held` with an outcome, after the clock moved.
    Record(usize, Outcome, i64),
    Cancel(usize, i64),
    Timeout(i64),
    Reset,
    ForceOpen,
    Disable,
    /// Poll exactly at `poll_at()` when there is one.
    PollAt,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        5 => Just(Outcome::Success),
        3 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored),
        1 => Just(Outcome::TimedOut),
    ]
}

fn dt() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 0i64..3_000,
        1 => -5_000i64..0,
        1 => Just(0i64),
        1 => 0i64..200_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        24 => dt().prop_map(Op::Acquire),
        24 => (any::<usize>(), outcome(), dt()).prop_map(|(i, o, d)| Op::Record(i, o, d)),
        3 => (any::<usize>(), dt()).prop_map(|(i, d)| Op::Cancel(i, d)),
        6 => dt().prop_map(Op::Timeout),
        8 => Just(Op::PollAt),
        1 => Just(Op::Reset),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::Disable),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        (1u32..5, 1u32..8, 1u8..=100, 1u8..=100, 0u64..4_000),
        (1u64..20, 1u16..4, 0u64..60, 1u16..4, 0u16..4, 1u64..40),
    )
        .prop_map(
            |((ft, min, rate, slow_rate, slow_ms), (brk, mult, extra, probes, succ, wait))| {
                Config::new()
                    .with_failure_threshold(ft)
                    .with_minimum_calls(min)
                    .with_failure_rate_percent(rate)
                    .with_slow_calls(Duration::from_millis(slow_ms), slow_rate)
                    .with_break_duration(Duration::from_secs(brk))
                    .with_break_growth(mult, Duration::from_secs(brk + extra))
                    .with_probes(probes, succ.min(probes - 1) + 1)
                    .with_max_half_open_wait(Duration::from_secs(wait))
            },
        )
}

fn start() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 1 => Just(u64::MAX - 60_000_000), 1 => Just(u64::MAX)]
}

fn shift(now: u64, dt_ms: i64) -> u64 {
    let micros = dt_ms.unsigned_abs().saturating_mul(1_000);
    if dt_ms >= 0 {
        now.saturating_add(micros)
    } else {
        now.saturating_sub(micros)
    }
}

/// Runs `ops` on a breaker and the model side by side, checking every step.
fn run<W: Window>(
    cfg: Config,
    detect: Detect,
    start: u64,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    run_on(Breaker::<W>::new(cfg).expect("valid"), detect, start, ops)
}

/// [`run`] on a breaker built by the caller (e.g. with a runtime window length).
fn run_on<W: Window>(
    mut b: Breaker<W>,
    detect: Detect,
    start: u64,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let cfg = *b.config();
    let mut m = Model::new(cfg, detect);
    let mut now = start;
    // Held permits: the real one and the model's (generation, issued_at).
    let mut held: Vec<(Permit, (u64, u64))> = Vec::new();
    // Successes recorded on probes of the current half-open episode.
    let mut episode_successes: u16 = 0;
    let mut recorded = 0u64;

    for op in ops {
        let before = (b.state(), b.stats());
        match *op {
            Op::Acquire(d) => {
                now = shift(now, d);
                let real = b.try_acquire(Instant::from_micros(now));
                let model = m.acquire(now);
                match (real, model) {
                    (Ok(p), Ok(mp)) => {
                        prop_assert_eq!(p.issued_at().as_micros(), mp.1);
                        held.push((p, mp));
                    }
                    (Err(r), Err(mr)) => prop_assert_eq!(r, mr),
                    (r, mr) => prop_assert!(false, "acquire differs: {:?} vs {:?}", r, mr),
                }
            }
            Op::Record(i, o, d) if !held.is_empty() => {
                now = shift(now, d);
                let (p, mp) = held.swap_remove(i % held.len());
                let stale = mp.0 != m.generation;
                let expired = !stale && m.expired(m.last.max(now));
                let probe = matches!(m.state, State::HalfOpen { .. }) && !stale && !expired;
                let real = b.record(p, o, Instant::from_micros(now));
                let model = m.record(mp, o, now);
                prop_assert_eq!(real, model);
                if stale {
                    prop_assert_eq!(real, None, "late permits change nothing");
                    prop_assert_eq!(
                        (b.state(), b.stats()),
                        before,
                        "late permits change nothing"
                    );
                } else if !expired {
                    recorded += 1;
                }
                if probe && o == Outcome::Success {
                    episode_successes += 1;
                }
                if let Some(t) = real
                    && matches!((t.from(), t.to()), (State::HalfOpen { .. }, State::Closed))
                {
                    prop_assert!(
                        episode_successes >= cfg.success_threshold(),
                        "closed after {} successes",
                        episode_successes
                    );
                }
            }
            Op::Record(..) | Op::Cancel(..) if held.is_empty() => {}
            Op::Record(..) => {}
            Op::Cancel(i, d) => {
                now = shift(now, d);
                let (p, mp) = held.swap_remove(i % held.len());
                let stale = mp.0 != m.generation;
                b.cancel(p, Instant::from_micros(now));
                m.cancel(mp, now);
                if stale {
                    prop_assert_eq!((b.state(), b.stats()), before);
                }
            }
            Op::Timeout(d) => {
                now = shift(now, d);
                prop_assert_eq!(b.handle_timeout(Instant::from_micros(now)), {
                    let n = m.now(now);
                    m.due(n)
                });
            }
            Op::PollAt => {
                if let Some(at) = b.poll_at() {
                    now = at.as_micros();
                    prop_assert_eq!(b.handle_timeout(at), {
                        let n = m.now(now);
                        m.due(n)
                    });
                }
            }
            Op::Reset => {
                prop_assert_eq!(b.reset(Instant::from_micros(now)), {
                    let n = m.now(now);
                    m.go(State::Closed, n)
                });
            }
            Op::ForceOpen => {
                prop_assert_eq!(b.force_open(Instant::from_micros(now)), {
                    let n = m.now(now);
                    m.go(State::ForcedOpen, n)
                });
            }
            Op::Disable => {
                prop_assert_eq!(b.disable(Instant::from_micros(now)), {
                    let n = m.now(now);
                    m.go(State::Disabled, n)
                });
            }
        }
        if !matches!(b.state(), State::HalfOpen { .. }) {
            episode_successes = 0;
        }
        prop_assert_eq!(b.state(), m.state);
        prop_assert_eq!(b.stats(), m.stats);
        prop_assert_eq!(b.poll_at(), m.state.deadline());
        let s = b.stats();
        prop_assert!(
            u64::from(s.successes) + u64::from(s.failures) + u64::from(s.ignored)
                <= u64::from(s.calls)
        );
        prop_assert_eq!(
            u64::from(s.successes) + u64::from(s.failures) + u64::from(s.ignored),
            recorded
        );
        prop_assert!(s.slow_calls <= s.successes + s.failures);
        prop_assert!(s.opens <= s.state_changes);
        // Probes conserved: in flight = permits held from this episode.
        if let State::HalfOpen {
            probes_in_flight,
            successes,
            ..
        } = b.state()
        {
            let live = held.iter().filter(|(_, mp)| mp.0 == m.generation).count();
            // Once the hung-probe deadline has passed the episode is decided (a
            // cancel no longer returns a slot); until then every slot is accounted for.
            if !m.expired(m.last) {
                prop_assert_eq!(usize::from(probes_in_flight), live);
            }
            prop_assert!(probes_in_flight + successes <= cfg.max_probes());
            prop_assert!(successes < cfg.success_threshold());
        }
        let counts = b.window().counts();
        prop_assert!(counts.failures <= counts.calls);
    }
    // Drain: everything handed back, the machine is still coherent.
    for (p, _) in held {
        b.cancel(p, Instant::from_micros(now));
    }
    for _ in 0..3 {
        let _ = b.handle_timeout(Instant::MAX);
    }
    let _ = b.try_acquire(Instant::MAX);
    Ok(())
}

// ------------------------------------------- runtime length vs compile time

/// One step of an equivalence run: a call that takes `took_ms`, a wait, a reset.
#[derive(Clone, Copy, Debug)]
enum Step {
    Call(Outcome, u64),
    Wait(u64),
    Reset,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        40 => (outcome(), 0u64..3_000).prop_map(|(o, took_ms)| Step::Call(o, took_ms)),
        2 => (0u64..90).prop_map(Step::Wait),
        1 => Just(Step::Reset),
    ]
}

/// Drives a `Breaker<W>` (`W` a `CountWindow<n, _>`) and a breaker on
/// `CountWindow::<128, 2>::with_len(n)` through the same steps: every decision,
/// event, state, stat and count must be equal.
fn decides_alike<W: Window>(n: usize, cfg: Config, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut fixed = Breaker::<W>::new(cfg).expect("valid");
    let window = CountWindow::<128, 2>::with_len(n).expect("n <= 128");
    let mut runtime = Breaker::with_window(cfg, window).expect("valid");
    let mut now = Instant::ZERO;
    for step in steps {
        match *step {
            Step::Call(outcome, took_ms) => {
                let end = now.saturating_add(Duration::from_millis(took_ms));
                match (fixed.try_acquire(now), runtime.try_acquire(now)) {
                    (Ok(p), Ok(q)) => prop_assert_eq!(
                        fixed.record(p, outcome, end),
                        runtime.record(q, outcome, end)
                    ),
                    (Err(a), Err(b)) => prop_assert_eq!(a, b),
                    (a, b) => prop_assert!(false, "acquire differs: {:?} vs {:?}", a, b),
                }
                now = end;
            }
            Step::Wait(secs) => {
                now = now.saturating_add(Duration::from_secs(secs));
                prop_assert_eq!(fixed.handle_timeout(now), runtime.handle_timeout(now));
            }
            Step::Reset => prop_assert_eq!(fixed.reset(now), runtime.reset(now)),
        }
        prop_assert_eq!(fixed.state(), runtime.state());
        prop_assert_eq!(fixed.stats(), runtime.stats());
        prop_assert_eq!(fixed.window().counts(), runtime.window().counts());
        prop_assert_eq!(runtime.window().window_len(), n);
    }
    Ok(())
}

/// At most `n` steps in a generated sequence; a tenth of them under Miri,
/// which interprets every step and checks the same code paths on fewer.
const fn most(n: usize) -> usize {
    if cfg!(miri) { n / 10 + 1 } else { n }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 512 }, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn consecutive_matches_the_model(cfg in config(), start in start(), ops in prop::collection::vec(op(), 0..most(120))) {
        run::<Consecutive>(cfg, Detect::Consecutive, start, &ops)?;
    }

    #[test]
    fn count_window_matches_the_model(cfg in config(), start in start(), ops in prop::collection::vec(op(), 0..most(120))) {
        run::<CountWindow<5>>(cfg, Detect::Count(5), start, &ops)?;
    }

    #[test]
    fn wide_count_window_matches_the_model(cfg in config(), ops in prop::collection::vec(op(), 0..most(200))) {
        run::<CountWindow<70, 2>>(cfg, Detect::Count(70), 0, &ops)?;
    }

    #[test]
    fn runtime_length_count_window_matches_the_model(
        cfg in config(),
        len in 1usize..=12,
        start in start(),
        ops in prop::collection::vec(op(), 0..most(120)),
    ) {
        let window = CountWindow::<128, 2>::with_len(len).expect("len <= 128");
        let b = Breaker::with_window(cfg, window).expect("valid");
        run_on(b, Detect::Count(len), start, &ops)?;
    }

    #[test]
    fn wide_runtime_length_count_window_matches_the_model(
        cfg in config(),
        len in 60usize..=70,
        ops in prop::collection::vec(op(), 0..most(200)),
    ) {
        let window = CountWindow::<128, 2>::with_len(len).expect("len <= 128");
        let b = Breaker::with_window(cfg, window).expect("valid");
        run_on(b, Detect::Count(len), 0, &ops)?;
    }

    #[test]
    fn a_runtime_length_decides_exactly_like_the_compile_time_window(
        n in prop::sample::select(vec![1usize, 10, 50, 63, 64, 65, 100, 127, 128]),
        cfg in config(),
        minimum_calls in 1u32..140,
        steps in prop::collection::vec(step(), 0..most(600)),
    ) {
        let cfg = cfg.with_minimum_calls(minimum_calls);
        match n {
            1 => decides_alike::<CountWindow<1>>(n, cfg, &steps)?,
            10 => decides_alike::<CountWindow<10>>(n, cfg, &steps)?,
            50 => decides_alike::<CountWindow<50>>(n, cfg, &steps)?,
            63 => decides_alike::<CountWindow<63>>(n, cfg, &steps)?,
            64 => decides_alike::<CountWindow<64>>(n, cfg, &steps)?,
            65 => decides_alike::<CountWindow<65, 2>>(n, cfg, &steps)?,
            100 => decides_alike::<CountWindow<100, 2>>(n, cfg, &steps)?,
            127 => decides_alike::<CountWindow<127, 2>>(n, cfg, &steps)?,
            _ => decides_alike::<CountWindow<128, 2>>(n, cfg, &steps)?,
        }
    }

    #[test]
    fn time_window_never_panics(
        cfg in config(),
        window_ms in 1u64..20_000,
        start in start(),
        ops in prop::collection::vec(op(), 0..most(150)),
    ) {
        let cfg = cfg.with_window_duration(Duration::from_millis(window_ms));
        let mut b = Breaker::<steadfast::breaker::TimeWindow<7>>::new(cfg).expect("valid");
        let mut now = start;
        let mut held = Vec::new();
        for op in ops {
            match op {
                Op::Acquire(d) => { now = shift(now, d); if let Ok(p) = b.try_acquire(Instant::from_micros(now)) { held.push(p); } }
                Op::Record(i, o, d) if !held.is_empty() => { now = shift(now, d); let p = held.swap_remove(i % held.len()); let _ = b.record(p, o, Instant::from_micros(now)); }
                Op::Cancel(i, d) if !held.is_empty() => { now = shift(now, d); let p = held.swap_remove(i % held.len()); b.cancel(p, Instant::from_micros(now)); }
                Op::Timeout(d) => { now = shift(now, d); let _ = b.handle_timeout(Instant::from_micros(now)); }
                Op::PollAt => if let Some(at) = b.poll_at() { let _ = b.handle_timeout(at); },
                Op::Reset => { let _ = b.reset(Instant::from_micros(now)); }
                Op::ForceOpen => { let _ = b.force_open(Instant::from_micros(now)); }
                Op::Disable => { let _ = b.disable(Instant::from_micros(now)); }
                _ => {}
            }
            let c = b.window().counts();
            prop_assert!(c.failures <= c.calls && c.slow_calls <= c.calls);
            if let State::HalfOpen { probes_in_flight, successes, .. } = b.state() {
                prop_assert!(probes_in_flight + successes <= cfg.max_probes());
            }
        }
    }

    #[test]
    fn any_config_either_fails_validation_or_never_panics(
        ft in any::<u32>(), min in any::<u32>(), rate in any::<u8>(), slow_rate in any::<u8>(),
        brk in any::<u64>(), mult in any::<u16>(), max in any::<u64>(), probes in any::<u16>(),
        succ in any::<u16>(), wait in any::<u64>(), ops in prop::collection::vec(op(), 0..most(60)),
    ) {
        let cfg = Config::new()
            .with_failure_threshold(ft)
            .with_minimum_calls(min)
            .with_failure_rate_percent(rate)
            .with_slow_calls(Duration::from_micros(wait / 3), slow_rate)
            .with_break_duration(Duration::from_micros(brk))
            .with_break_growth(mult, Duration::from_micros(max))
            .with_probes(probes, succ)
            .with_max_half_open_wait(Duration::from_micros(wait));
        if let Ok(mut b) = Breaker::<CountWindow<3>>::new(cfg) {
            let mut now = 0u64;
            let mut held = Vec::new();
            for op in ops {
                match op {
                    Op::Acquire(d) => { now = shift(now, d.saturating_mul(1_000_000)); if let Ok(p) = b.try_acquire(Instant::from_micros(now)) { held.push(p); } }
                    Op::Record(i, o, d) if !held.is_empty() => { now = shift(now, d); let p = held.swap_remove(i % held.len()); let _ = b.record(p, o, Instant::from_micros(now)); }
                    Op::PollAt => if let Some(at) = b.poll_at() { let _ = b.handle_timeout(at); },
                    _ => {}
                }
            }
        }
    }

    /// A closed time window asked at any later `now` holds exactly the outcomes
    /// whose span is one of the `K` spans ending at `now`'s span, whether or
    /// not anything was recorded since (model: a plain list of outcomes).
    #[test]
    fn time_window_counts_as_of_now_match_a_list_of_outcomes(
        window_ms in 7u64..5_000,
        outcomes in prop::collection::vec((0u64..3_000, any::<bool>()), 0..most(60)),
        asks in prop::collection::vec(0u64..12_000, 1..most(20)),
    ) {
        let cfg = Config::new()
            .with_window_duration(Duration::from_millis(window_ms))
            .with_minimum_calls(u32::MAX);
        let mut b = Breaker::<steadfast::breaker::TimeWindow<7>>::new(cfg).expect("valid");
        let width = window_ms * 1_000 / 7;
        let mut now = 0u64;
        let mut held: Vec<(u64, bool)> = Vec::new();
        for (step_ms, failed) in outcomes {
            now += step_ms * 1_000;
            let at = Instant::from_micros(now);
            let p = b.try_acquire(at).expect("closed");
            let o = if failed { Outcome::Failure } else { Outcome::Success };
            prop_assert_eq!(b.record(p, o, at), None);
            held.push((now / width, failed));
        }
        for ask_ms in asks {
            let ask = (now + ask_ms * 1_000).max(now);
            let span = ask / width;
            let live: Vec<_> = held.iter().filter(|(s, _)| s + 7 > span).collect();
            let c = b.counts(Instant::from_micros(ask));
            prop_assert_eq!(c.calls as usize, live.len());
            prop_assert_eq!(c.failures as usize, live.iter().filter(|(_, f)| *f).count());
            // An earlier `now` reads as the latest seen: what was held at the last record.
            let at_last = held.iter().filter(|(s, _)| s + 7 > now / width).count();
            prop_assert_eq!(b.counts(Instant::ZERO).calls as usize, at_last);
        }
    }

    /// A metrics-only breaker fed the same calls as a live one (plus the calls
    /// the live one refused) reports the same transitions, states and
    /// rejections, and never refuses.
    #[test]
    fn a_metrics_only_breaker_shadows_the_live_one_exactly(
        cfg in config(),
        calls in prop::collection::vec((0u64..20_000, 0u8..4, 0u64..3_000, any::<bool>()), 0..most(200)),
    ) {
        let mut live = Breaker::<CountWindow<8>>::new(cfg.with_minimum_calls(4)).expect("valid");
        let mut shadow = Breaker::<CountWindow<8>>::new(cfg.with_minimum_calls(4).with_metrics_only(true)).expect("valid");
        let mut now = Instant::ZERO;
        for (gap_ms, o, took_ms, cancel) in calls {
            now += Duration::from_millis(gap_ms);
            prop_assert_eq!(live.handle_timeout(now), shadow.handle_timeout(now));
            let outcome = match o { 0 => Outcome::Success, 1 => Outcome::Failure, 2 => Outcome::Ignored, _ => Outcome::TimedOut };
            let end = now + Duration::from_millis(took_ms);
            let admitted = live.try_acquire(now);
            let shadowed = shadow.try_acquire(now);
            prop_assert!(shadowed.is_ok(), "a metrics-only breaker never rejects");
            let shadowed = shadowed.expect("checked");
            prop_assert_eq!(shadowed.is_shadow(), admitted.is_err());
            match admitted {
                Ok(p) if cancel => {
                    live.cancel(p, end);
                    shadow.cancel(shadowed, end);
                }
                Ok(p) => {
                    let (lt, st) = (live.record(p, outcome, end), shadow.record(shadowed, outcome, end));
                    prop_assert_eq!(lt, st);
                }
                Err(_) => prop_assert_eq!(shadow.record(shadowed, outcome, end), None),
            }
            now = end;
            prop_assert_eq!(live.state(), shadow.state());
            prop_assert_eq!(live.stats().rejections, shadow.stats().rejections);
            prop_assert_eq!(live.stats().opens, shadow.stats().opens);
            prop_assert_eq!(live.stats().failures, shadow.stats().failures);
        }
    }
}

// ------------------------------------- lean breakers vs the counting breaker

/// A tight configuration fixed at compile time: short breaks that grow, one
/// success closes, slow calls count.
struct Tight;
impl ConstConfig for Tight {
    const CONFIG: Config = Config::new()
        .with_failure_threshold(2)
        .with_minimum_calls(4)
        .with_slow_calls(Duration::from_millis(500), 50)
        .with_break_duration(Duration::from_secs(10))
        .with_break_growth(2, Duration::from_secs(200))
        .with_probes(2, 1)
        .with_max_half_open_wait(Duration::from_secs(5));
}

/// [`Tight`], in metrics-only mode.
struct Shadow;
impl ConstConfig for Shadow {
    const CONFIG: Config = Tight::CONFIG.with_metrics_only(true);
}

/// One step of a lean-vs-counting run.
#[derive(Clone, Copy, Debug)]
enum LeanStep {
    /// A call of `took_ms` with this outcome.
    Call(Outcome, u64),
    /// A call abandoned after `took_ms`: its permit is cancelled.
    Abandon(u64),
    /// A call whose permit is held over the next steps and reported late.
    Hold,
    Late(Outcome),
    Wait(u64),
    Back(u64),
    Reset,
    ForceOpen,
    Disable,
}

fn lean_step() -> impl Strategy<Value = LeanStep> {
    prop_oneof![
        30 => (outcome(), 0u64..1_000).prop_map(|(o, took_ms)| LeanStep::Call(o, took_ms)),
        3 => (0u64..1_000).prop_map(LeanStep::Abandon),
        3 => Just(LeanStep::Hold),
        3 => outcome().prop_map(LeanStep::Late),
        6 => (0u64..40).prop_map(LeanStep::Wait),
        1 => (0u64..10).prop_map(LeanStep::Back),
        1 => Just(LeanStep::Reset),
        1 => Just(LeanStep::ForceOpen),
        1 => Just(LeanStep::Disable),
    ]
}

/// Drives a counting breaker and a lean one (no stats, or its configuration
/// fixed at compile time, or both) through the same steps: every permit,
/// rejection, event, state, deadline, generation and count must be equal, and
/// the stats too where the lean one keeps them.
fn lean_decides_alike<W: Window, S: StatsSlot, C: ConfigSource>(
    mut full: Breaker<W>,
    mut lean: Breaker<W, S, C>,
    lean_stats: impl Fn(&Breaker<W, S, C>) -> Option<Stats>,
    steps: &[LeanStep],
) -> Result<(), TestCaseError> {
    let mut now = Instant::from_secs(1_000);
    let mut held: Vec<(Permit, Permit)> = Vec::new();
    let acquire = |full: &mut Breaker<W>, lean: &mut Breaker<W, S, C>, now| match (
        full.try_acquire(now),
        lean.try_acquire(now),
    ) {
        (Ok(p), Ok(q)) => {
            prop_assert_eq!(
                (p.generation(), p.issued_at(), p.is_shadow()),
                (q.generation(), q.issued_at(), q.is_shadow())
            );
            Ok(Some((p, q)))
        }
        (Err(a), Err(b)) => {
            prop_assert_eq!(a, b);
            Ok(None)
        }
        (a, b) => {
            prop_assert!(false, "acquire differs: {:?} vs {:?}", a, b);
            Ok(None)
        }
    };
    for step in steps {
        match *step {
            LeanStep::Call(outcome, took_ms) => {
                let end = now.saturating_add(Duration::from_millis(took_ms));
                if let Some((p, q)) = acquire(&mut full, &mut lean, now)? {
                    prop_assert_eq!(full.record(p, outcome, end), lean.record(q, outcome, end));
                }
                now = end;
            }
            LeanStep::Abandon(took_ms) => {
                let end = now.saturating_add(Duration::from_millis(took_ms));
                if let Some((p, q)) = acquire(&mut full, &mut lean, now)? {
                    full.cancel(p, end);
                    lean.cancel(q, end);
                }
                now = end;
            }
            LeanStep::Hold => {
                if let Some(pair) = acquire(&mut full, &mut lean, now)? {
                    held.push(pair);
                }
            }
            LeanStep::Late(outcome) => {
                if let Some((p, q)) = held.pop() {
                    prop_assert_eq!(full.record(p, outcome, now), lean.record(q, outcome, now));
                }
            }
            LeanStep::Wait(secs) => {
                now = now.saturating_add(Duration::from_secs(secs));
                prop_assert_eq!(full.handle_timeout(now), lean.handle_timeout(now));
            }
            LeanStep::Back(secs) => {
                // A clock going backwards: both take the highest instant seen.
                now = Instant::from_micros(now.as_micros().saturating_sub(secs * 1_000_000));
            }
            LeanStep::Reset => prop_assert_eq!(full.reset(now), lean.reset(now)),
            LeanStep::ForceOpen => prop_assert_eq!(full.force_open(now), lean.force_open(now)),
            LeanStep::Disable => prop_assert_eq!(full.disable(now), lean.disable(now)),
        }
        prop_assert_eq!(full.state(), lean.state());
        prop_assert_eq!(full.poll_at(), lean.poll_at());
        prop_assert_eq!(full.generation(), lean.generation());
        prop_assert_eq!(full.counts(now), lean.counts(now));
        if let Some(stats) = lean_stats(&lean) {
            prop_assert_eq!(full.stats(), stats);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 256 }, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_breaker_without_stats_decides_exactly_like_one_that_counts(
        cfg in config(),
        metrics_only in any::<bool>(),
        steps in prop::collection::vec(lean_step(), 0..most(300)),
    ) {
        let cfg = cfg.with_metrics_only(metrics_only);
        lean_decides_alike(
            Breaker::<Consecutive>::new(cfg).expect("valid"),
            Breaker::<Consecutive, NoStats>::without_stats(cfg).expect("valid"),
            |_| None,
            &steps,
        )?;
        lean_decides_alike(
            Breaker::<CountWindow<5>>::new(cfg).expect("valid"),
            Breaker::<CountWindow<5>, NoStats>::without_stats(cfg).expect("valid"),
            |_| None,
            &steps,
        )?;
    }

    #[test]
    fn a_breaker_with_a_fixed_config_decides_exactly_like_one_that_holds_it(
        steps in prop::collection::vec(lean_step(), 0..most(300)),
    ) {
        lean_decides_alike(
            Breaker::<Consecutive>::new(Tight::CONFIG).expect("valid"),
            Breaker::<Consecutive, Stats, Fixed<Tight>>::fixed().expect("valid"),
            |b| Some(b.stats()),
            &steps,
        )?;
        lean_decides_alike(
            Breaker::<Consecutive>::new(Tight::CONFIG).expect("valid"),
            Breaker::<Consecutive, NoStats, Fixed<Tight>>::fixed().expect("valid"),
            |_| None,
            &steps,
        )?;
        lean_decides_alike(
            Breaker::<CountWindow<64>>::new(Tight::CONFIG).expect("valid"),
            Breaker::<CountWindow<64>, NoStats, Fixed<Tight>>::fixed().expect("valid"),
            |_| None,
            &steps,
        )?;
        lean_decides_alike(
            Breaker::<CountWindow<5>>::new(Shadow::CONFIG).expect("valid"),
            Breaker::<CountWindow<5>, Stats, Fixed<Shadow>>::fixed().expect("valid"),
            |b| Some(b.stats()),
            &steps,
        )?;
    }
}
