//! The latency machines: the adaptive concurrency limit, the hedging decision
//! and fault injection, any config (through the validating constructors),
//! any clock. Checked after every step: the limit stays within its bounds and
//! never admits past itself, every permit comes back, hedges stay under their
//! cap and a whole delay apart, and an injection only happens while the chaos
//! machine is active and for a kind whose rate is above zero.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadfast::adaptive::{AdaptiveLimit, Algorithm, Config as LimitConfig, Permit};
use steadfast::chaos::{Chaos, Config as ChaosConfig, Fault};
use steadfast::hedge::{Config as HedgeConfig, Delay, Hedger};
use steadfast::retry::Unlimited;
use steadfast::rng::SplitMix64;
use steadfast::time::Instant;
use steadfast_fuzz::{Clock, Input, trace};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let algorithm = if input.bool() {
        Algorithm::Aimd {
            backoff_permille: input.u16() % 1001,
            timeout: input.duration(),
        }
    } else {
        Algorithm::Vegas {
            alpha: input.count(),
            beta: input.count(),
            backoff_permille: input.u16() % 1001,
        }
    };
    let limit_config = LimitConfig::new()
        .with_limits(input.count(), input.count(), input.count())
        .with_algorithm(algorithm)
        .with_smoothing(input.u16() % 1001);
    let delay = if input.bool() {
        Delay::Fixed(input.duration())
    } else {
        Delay::Percentile {
            permille: input.u16() % 1001,
            min_samples: input.count(),
            fallback: input.duration(),
        }
    };
    let hedge_config = HedgeConfig::new()
        .with_delay(delay)
        .with_max_hedges(input.u8() % 6);
    let chaos_config = ChaosConfig::DEFAULT
        .with_enabled(input.bool())
        .with_fault(input.u32() % 1_100_000)
        .with_hang(input.u32() % 1_100_000)
        .with_outcome(input.u32() % 1_100_000)
        .with_latency(input.u32() % 1_100_000, input.duration())
        .with_start(input.duration());
    let chaos_config = if input.bool() {
        chaos_config.with_window(input.duration(), input.duration())
    } else {
        chaos_config
    };
    trace!("{limit_config:?}\n{hedge_config:?}\n{chaos_config:?}");
    let mut limit = AdaptiveLimit::new(limit_config).ok();
    let mut hedger = Hedger::<16>::new(hedge_config).ok();
    let chaos = Chaos::new(chaos_config).ok();
    let mut rng = SplitMix64::new(input.u64());
    let mut clock = Clock::default();
    let mut permits: Vec<Permit> = Vec::new();
    let mut plan = hedger.as_ref().map(|h| h.start(Instant::ZERO));
    let mut last_hedge: Option<Instant> = None;
    let mut steps = 0;
    while !input.is_empty() && steps < 4_096 {
        steps += 1;
        match input.u8() % 8 {
            0 | 1 => clock.step(&mut input),
            2 => {
                if let Some(l) = limit.as_mut() {
                    let before = (l.in_flight(), l.limit());
                    match l.try_acquire(clock.read()) {
                        Ok(p) => {
                            assert!(before.0 < before.1, "admitted past the limit");
                            permits.push(p);
                        }
                        Err(full) => {
                            assert!(before.0 >= before.1);
                            assert_eq!(full.limit, before.1);
                        }
                    }
                }
            }
            3 | 4 => {
                if let Some(l) = limit.as_mut()
                    && !permits.is_empty()
                {
                    let p = permits.swap_remove(usize::from(input.u8()) % permits.len());
                    if input.u8() % 4 == 0 {
                        l.cancel(p);
                    } else {
                        l.release(p, input.bool(), clock.read());
                    }
                }
            }
            5 => {
                if let Some(h) = hedger.as_mut() {
                    h.record(input.duration());
                    if input.bool() {
                        plan = Some(h.start(clock.read()));
                        last_hedge = None;
                    }
                }
            }
            6 => {
                if let (Some(p), Some(h)) = (plan.as_mut(), hedger.as_ref()) {
                    let now = clock.read();
                    let due = p.next_at();
                    if let Some(hedge) = p.poll(now, &mut Unlimited) {
                        assert!(due.is_some_and(|d| now >= d), "hedged before it was due");
                        assert!(hedge.number <= h.config().max_hedges());
                        if let Some(prev) = last_hedge {
                            assert!(now >= prev, "hedges out of order");
                        }
                        last_hedge = Some(now);
                    }
                    assert!(p.started() <= h.config().max_hedges());
                }
            }
            _ => {
                if let Some(c) = chaos.as_ref() {
                    let now = clock.read();
                    let injection = c.decide(now, &mut rng);
                    let config = c.config();
                    if !c.is_active(now) {
                        assert!(injection.is_none());
                    }
                    if injection.delay.is_some() {
                        assert!(config.latency() > 0);
                        assert_eq!(injection.delay, Some(config.delay()));
                    }
                    match injection.fault {
                        Some(Fault::Error) => assert!(config.fault() > 0),
                        Some(Fault::Hang) => assert!(config.hang() > 0),
                        Some(Fault::Outcome) => assert!(config.outcome() > 0),
                        None => {}
                    }
                }
            }
        }
        if let Some(l) = limit.as_ref() {
            let c = l.config();
            assert!(
                (c.min()..=c.max()).contains(&l.limit()),
                "limit out of bounds"
            );
            assert_eq!(
                l.in_flight() as usize,
                permits.len(),
                "a permit went missing"
            );
        }
    }
    if let Some(l) = limit.as_mut() {
        for p in permits.drain(..) {
            l.cancel(p);
        }
        assert_eq!(l.in_flight(), 0);
    }
});
