//! The composed pipeline: up to six concurrent calls sharing one breaker, one bulkhead,
//! one retry budget and one admission gate (a throttle, then a rate limiter), driven in any interleaving (next, outcome, abandon) under any
//! clock. Checked after every step: steps never ask to wake in the past, an unfinished
//! call always wakes no later than its total deadline, capacity is never exceeded; and
//! at the end, once every call is finished or abandoned, every bulkhead permit, queue
//! slot and half-open probe slot is back, every attempt the gate admitted was reported
//! to it exactly once, and the breaker can still close.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadfast::backoff::{Backoff, Jitter, Kind, Ratio};
use steadfast::breaker::{self, Breaker, CountWindow, State};
use steadfast::bulkhead::{self, Bulkhead};
use steadfast::outcome::{Outcome, Verdict};
use steadfast::pipeline::{
    self, Call, Event, FallbackOn, Gate, Observer, Order, Pipeline, Reason, Shared, Step,
};
use steadfast::ratelimit::{self, RateLimiter};
use steadfast::retry::{self, Budget, BudgetConfig};
use steadfast::rng::SplitMix64;
use steadfast::throttle::{self, AdaptiveThrottle, Drawn};
use steadfast::time::{Duration, Instant};
use steadfast::timeout;
use steadfast_fuzz::{Clock, Input, trace};

type Detector = CountWindow<8>;
const Q: usize = 4;
const SLOTS: usize = 6;

struct Slot<'p> {
    call: Call<'p>,
    /// The call's own clock-max (it may have started after the clock went back).
    seen: Instant,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mut pipeline = None;
    let Some(mut world) = World::new(&mut input, &mut pipeline) else {
        return;
    };
    let mut steps = 0;
    while !input.is_empty() && steps < 2_048 {
        steps += 1;
        world.step(&mut input);
        world.check();
    }
    world.finish();
});

struct World<'p> {
    pipeline: &'p Pipeline,
    max_attempts: u32,
    breaker: Breaker<Detector>,
    bulkhead: Bulkhead<Q>,
    budget: Budget<4>,
    use_budget: bool,
    gate: Counted,
    use_gate: bool,
    rng: SplitMix64,
    clock: Clock,
    slots: [Option<Slot<'p>>; SLOTS],
    watch: Watch,
}

/// The gate, counting what it admitted and what it heard back.
struct Counted {
    gate: (Drawn<4>, RateLimiter),
    admitted: u32,
    reported: u32,
}

impl Gate for Counted {
    fn admit(&mut self, now: Instant) -> Result<(), Reason> {
        let r = self.gate.admit(now);
        if r.is_ok() {
            self.admitted += 1;
        }
        r
    }
    fn record(&mut self, outcome: Outcome, now: Instant) {
        self.reported += 1;
        assert!(
            self.reported <= self.admitted,
            "reported more than admitted"
        );
        self.gate.record(outcome, now);
    }
    fn cancel(&mut self, now: Instant) {
        self.reported += 1;
        assert!(
            self.reported <= self.admitted,
            "reported more than admitted"
        );
        self.gate.cancel(now);
    }
    fn withdraw(&mut self, _now: Instant) {
        unreachable!("the outermost gate is never withdrawn");
    }
}

/// Hears every event of every call: a scheduled retry never goes past the
/// attempts allowed.
struct Watch {
    max_attempts: u32,
}

impl Observer for Watch {
    fn on_event(&mut self, _now: Instant, event: &Event) {
        if let Event::Retry { attempt, .. } = event {
            assert!(*attempt <= self.max_attempts);
        }
    }
}

macro_rules! shared {
    ($w:expr) => {
        Shared {
            breaker: Some(&mut $w.breaker),
            bulkhead: Some(&mut $w.bulkhead),
            budget: if $w.use_budget {
                Some(&mut $w.budget)
            } else {
                None
            },
            observer: Some(&mut $w.watch),
            gate: if $w.use_gate {
                Some(&mut $w.gate)
            } else {
                None
            },
        }
    };
}

impl<'p> World<'p> {
    /// A world read from `input`; its pipeline is kept in `pipeline`, which its calls borrow.
    fn new(input: &mut Input<'_>, pipeline: &'p mut Option<Pipeline>) -> Option<Self> {
        let breaker = breaker::Config::new()
            .with_failure_threshold(1 + u32::from(input.u8() % 4))
            .with_minimum_calls(1 + u32::from(input.u8() % 8))
            .with_failure_rate_percent(1 + input.u8() % 100)
            .with_break_duration(input.duration())
            .with_probes(1 + u16::from(input.u8() % 3), 1)
            .with_max_half_open_wait(input.duration());
        let breaker = Breaker::<Detector>::new(breaker).ok()?;
        let bulkhead = bulkhead::Config::DEFAULT
            .with_max_concurrent(1 + input.count() % 3)
            .with_max_queue(input.count() % 5)
            .with_max_wait(input.duration());
        let bulkhead = Bulkhead::<Q>::new(bulkhead).ok()?;
        let budget = Budget::<4>::new(
            BudgetConfig::DEFAULT
                .with_ratio_permille(input.count())
                .with_min_retries_per_sec(input.count() % 4)
                .with_window(input.duration()),
        )
        .ok()?;
        let factor = Ratio::new(1 + input.count() % 4, 1).ok()?;
        let jitter = if input.bool() {
            Jitter::Full
        } else {
            Jitter::None
        };
        let backoff = Backoff::DEFAULT
            .with_kind(Kind::Exponential { factor })
            .with_base(input.duration())
            .with_cap(input.duration())
            .with_jitter(jitter)
            .checked()
            .ok()?;
        let limiter = RateLimiter::new(
            ratelimit::Config::new()
                .with_rate(1 + input.count() % 8, input.duration())
                .with_burst(1 + input.count() % 4),
        )
        .ok()?;
        let throttle = AdaptiveThrottle::<4>::new(
            throttle::Config::new()
                .with_k_permille(1_000 + input.count() % 2_000)
                .with_window(input.duration()),
        )
        .ok()?;
        let gate = Counted {
            gate: (Drawn::new(throttle, u64::from(input.u32())), limiter),
            admitted: 0,
            reported: 0,
        };
        let max_attempts = 1 + input.count() % 5;
        let retry = retry::Config::DEFAULT
            .with_max_attempts(max_attempts)
            .with_backoff(backoff)
            .with_retry_on_timeout(input.bool());
        let timeout = timeouts(input.opt_duration(), input.opt_duration());
        let order = match input.u8() % 3 {
            0 => Order::Standard,
            1 => Order::BulkheadOutermost,
            _ => Order::BreakerOutermost,
        };
        let fallback = match input.u8() % 3 {
            0 => FallbackOn::Never,
            1 => FallbackOn::Rejection,
            _ => FallbackOn::AnyFailure,
        };
        let config = pipeline::Config::DEFAULT
            .with_retry(retry)
            .with_timeout(timeout)
            .with_order(order)
            .with_fallback(fallback);
        Some(Self {
            pipeline: pipeline.insert(Pipeline::new(config).ok()?),
            max_attempts,
            breaker,
            bulkhead,
            budget,
            use_budget: input.bool(),
            gate,
            use_gate: input.bool(),
            rng: SplitMix64::new(u64::from(input.u32())),
            clock: Clock::default(),
            slots: [const { None }; SLOTS],
            watch: Watch { max_attempts },
        })
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let op = input.u8();
        let i = usize::from(input.u8()) % SLOTS;
        let now = self.clock.read();
        trace!(
            "op {} slot {i} now={now:?} breaker={:?} bulkhead in_flight={} queued={}",
            op % 10,
            self.breaker.state(),
            self.bulkhead.in_flight(),
            self.bulkhead.queued()
        );
        match op % 10 {
            0 | 1 => self.clock.step(input),
            2 => {
                if self.slots[i].as_ref().is_none_or(|s| s.call.is_finished()) {
                    let mut call = self.pipeline.start(now);
                    let step = call.next(now, &mut shared!(self));
                    let mut slot = Slot { call, seen: now };
                    check_step(&mut slot, step, now, self.max_attempts);
                    self.slots[i] = Some(slot);
                }
            }
            3 | 4 => {
                if let Some(mut slot) = self.slots[i].take() {
                    let step = slot.call.next(now, &mut shared!(self));
                    check_step(&mut slot, step, now, self.max_attempts);
                    self.slots[i] = Some(slot);
                }
            }
            5 | 6 => {
                let b = input.u8();
                let mut v = match b % 4 {
                    0 => Verdict::success(),
                    1 => Verdict::failure(),
                    2 => Verdict::ignored(),
                    _ => Verdict::timed_out(),
                };
                if b & 0x10 != 0 {
                    v = v.not_retryable();
                }
                if b & 0x20 != 0 {
                    v = v.retry_after(Duration::from_millis(u64::from(input.u16())));
                }
                if let Some(mut slot) = self.slots[i].take() {
                    let step = slot
                        .call
                        .on_outcome(v, now, &mut shared!(self), &mut self.rng);
                    check_step(&mut slot, step, now, self.max_attempts);
                    self.slots[i] = Some(slot);
                }
            }
            7 => {
                if let Some(mut slot) = self.slots[i].take() {
                    slot.call.abandon(now, &mut shared!(self));
                    assert!(slot.call.is_finished() && slot.call.poll_at().is_none());
                    self.slots[i] = Some(slot);
                }
            }
            8 => match input.u8() % 4 {
                0 => {
                    let _ = self.breaker.reset(now);
                }
                1 => {
                    let _ = self.breaker.force_open(now);
                }
                2 => {
                    let _ = self.bulkhead.handle_timeout(now);
                }
                _ => while self.breaker.handle_timeout(now).is_some() {},
            },
            // Nothing to drain: `Watch` checks each event as it is raised.
            _ => {}
        }
    }

    fn check(&self) {
        let b = &self.bulkhead;
        let max = b.config().max_concurrent();
        assert!(b.in_flight() <= max, "bulkhead over capacity");
        assert_eq!(b.in_flight() + b.available(), max, "permits conserved");
        let unfinished = self
            .slots
            .iter()
            .flatten()
            .filter(|s| !s.call.is_finished())
            .count() as u32;
        assert!(
            b.in_flight() + b.queued() <= unfinished,
            "a finished call still holds a slot"
        );
        assert!(
            self.gate.admitted - self.gate.reported <= unfinished,
            "a finished call's attempt was never reported to the gate"
        );
        for slot in self.slots.iter().flatten() {
            let call = &slot.call;
            if call.is_finished() {
                assert_eq!(call.poll_at(), None);
                continue;
            }
            assert!(call.attempts() <= self.max_attempts);
            if let Some(total) = call.deadline()
                && total > slot.seen
            {
                let at = call.poll_at();
                assert!(
                    at.is_some_and(|t| t <= total),
                    "{at:?} misses the total deadline {total:?}"
                );
            }
        }
        let s = self.breaker.stats();
        assert!(s.successes + s.failures + s.ignored <= s.calls);
        self.check_probes(unfinished == 0);
    }

    /// With no call left, no half-open probe slot may still be taken.
    fn check_probes(&self, idle: bool) {
        if let State::HalfOpen {
            probes_in_flight,
            deadline,
            ..
        } = self.breaker.state()
        {
            assert_eq!(
                probes_in_flight > 0,
                deadline.is_some(),
                "a probe without a deadline can wedge"
            );
            let due = deadline.is_some_and(|d| d <= self.clock.high);
            if idle && !due {
                assert_eq!(probes_in_flight, 0, "probe slot leaked");
            }
        }
    }

    fn finish(mut self) {
        let now = self.clock.read();
        for i in 0..SLOTS {
            if let Some(mut slot) = self.slots[i].take() {
                slot.call.abandon(now, &mut shared!(self));
                self.slots[i] = Some(slot);
            }
        }
        let b = &self.bulkhead;
        assert_eq!(
            (b.in_flight(), b.queued(), b.reserved()),
            (0, 0, 0),
            "bulkhead leaked"
        );
        assert_eq!(
            self.gate.admitted, self.gate.reported,
            "an admitted attempt was never reported to the gate"
        );
        self.check_probes(true);
        // The breaker can still close: come back after every deadline, probe, succeed.
        if matches!(self.breaker.state(), State::ForcedOpen) {
            let _ = self.breaker.reset(now);
        }
        let c = *self.breaker.config();
        let later = self.clock.high
            + c.max_break_duration()
            + c.max_half_open_wait()
            + Duration::from_micros(1);
        if later.saturating_add(c.max_half_open_wait()) == Instant::MAX {
            return; // at the end of time every deadline has passed: nothing can close
        }
        for _ in 0..4 {
            while self.breaker.handle_timeout(later).is_some() {}
            if self.breaker.state() == State::Closed {
                break;
            }
            if let Ok(p) = self.breaker.try_acquire(later) {
                let _ = self.breaker.record(p, Outcome::Success, later);
            }
        }
        assert_eq!(
            self.breaker.state(),
            State::Closed,
            "the breaker cannot close any more"
        );
    }
}

fn check_step(slot: &mut Slot<'_>, step: Step, now: Instant, max_attempts: u32) {
    trace!("  -> {step:?}");
    slot.seen = slot.seen.max(now);
    let seen = slot.seen;
    match step {
        Step::Attempt { attempt, deadline } => {
            assert!(attempt >= 1 && attempt <= max_attempts, "attempt {attempt}");
            if let Some(d) = deadline {
                assert!(d > seen, "an attempt whose deadline has passed");
                if let Some(total) = slot.call.deadline() {
                    assert!(d <= total);
                }
            }
        }
        Step::Wait { until } => assert!(
            until > seen || until == Instant::MAX,
            "wait until {until:?} at {seen:?}"
        ),
        Step::Queued { until, .. } => assert!(until > seen, "queued until {until:?} at {seen:?}"),
        Step::Done(f) => {
            assert_eq!(slot.call.finish(), Some(f));
            assert!(f.attempts() <= max_attempts);
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
