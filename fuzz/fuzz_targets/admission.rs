//! Admission machines: the GCRA rate limiter and client-side adaptive throttling,
//! any config (through the validating constructors), any clock. Checked after every
//! step: a refusal's `retry_at` is exact (the same call is admitted then, and not a
//! microsecond earlier), nothing is admitted above `burst + elapsed × rate`, the
//! throttle's probability stays within its cap and its counts within what it saw, and
//! the packed limiter (one `u64` of state) decides as the machine, fed the machine's
//! clock-max, while two bursts' span from it stays within its ticks' range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadfast::ratelimit::{Config, Packed, RateLimiter, Refused};
use steadfast::rng::SplitMix64;
use steadfast::throttle::{AdaptiveThrottle, Config as ThrottleConfig};
use steadfast::time::{Duration, Instant};
use steadfast_fuzz::{Clock, Input, trace};

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let config = Config::DEFAULT
        .with_rate(input.count(), input.duration())
        .with_burst(input.count());
    trace!("{config:?}");
    let mut limiter = match RateLimiter::new(config) {
        Ok(l) => l,
        Err(e) => {
            assert!(["count", "burst", "period"].contains(&e.field), "{e}");
            return;
        }
    };
    let throttle_config = ThrottleConfig::new()
        .with_k_permille(input.count())
        .with_window(input.duration())
        .with_max_reject_permille(input.count());
    let mut throttle = match AdaptiveThrottle::<5>::new(throttle_config) {
        Ok(t) => Some(t),
        Err(e) => {
            assert!(
                ["k_permille", "window", "max_reject_permille"].contains(&e.field),
                "{e}"
            );
            None
        }
    };
    let packed = Packed::new(config).expect("validated above");
    let mut packed_state = Packed::EMPTY;
    let mut rng = SplitMix64::new(input.u64());
    let mut clock = Clock::default();
    // Admissions since `since` (the clock-max when counting started).
    let mut since: Option<Instant> = None;
    let mut limiter_high = Instant::ZERO;
    let mut admitted: u128 = 0;
    let (mut requests, mut accepts) = (0u64, 0u64);
    let mut steps = 0;
    while !input.is_empty() && steps < 4_096 {
        steps += 1;
        match input.u8() % 6 {
            0 | 1 => clock.step(&mut input),
            2 | 3 => {
                let n = if input.bool() { 1 } else { input.count() };
                let now = clock.read();
                // The limiter's own clock-max (the throttle reads the clock too).
                limiter_high = limiter_high.max(now);
                let seen = limiter_high;
                let before = limiter.clone();
                let got = if n == 1 {
                    limiter.check(now)
                } else {
                    limiter.check_n(n, now)
                };
                trace!("check_n({n}) at {now:?} (seen {seen:?}) -> {got:?}");
                if let Some(p) = &packed {
                    let span = u128::from(config.burst()) * u128::from(config.period().as_micros());
                    if u128::from(seen.as_micros()) + 2 * span < u128::from(p.horizon().as_micros())
                    {
                        let mirrored = if n == 1 {
                            p.check(packed_state, seen)
                        } else {
                            p.check_n(packed_state, n, seen)
                        };
                        match mirrored {
                            Ok(next) => {
                                assert_eq!(got, Ok(()), "packed admitted at {seen:?}");
                                packed_state = next;
                            }
                            Err(refused) => assert_eq!(got, Err(refused), "at {seen:?}"),
                        }
                    } else {
                        packed_state = u64::MAX;
                    }
                }
                match got {
                    Ok(()) => {
                        let start = *since.get_or_insert(seen);
                        admitted += u128::from(n);
                        // admitted ≤ burst + (seen − start) × count / period, in integers.
                        let span = u128::from(seen.saturating_duration_since(start).as_micros());
                        let period = u128::from(config.period().as_micros());
                        // Within burst × period of the end of time the arithmetic saturates.
                        if u128::from(seen.as_micros()) + u128::from(config.burst()) * period
                            < u128::from(u64::MAX)
                        {
                            assert!(
                                admitted * period
                                    <= u128::from(config.burst()) * period
                                        + span * u128::from(config.count()),
                                "over the rate"
                            );
                        }
                    }
                    Err(Refused { retry_at: None }) => assert!(n > config.burst()),
                    Err(Refused { retry_at: Some(at) }) => {
                        assert!(
                            at > seen || at == Instant::MAX,
                            "retry_at not in the future"
                        );
                        let horizon = u128::from(at.as_micros())
                            + u128::from(config.burst()) * u128::from(config.period().as_micros());
                        if horizon >= u128::from(u64::MAX) {
                            // Within burst × period of the end of time the arithmetic
                            // saturates (conservatively: a refusal, never an admission).
                            continue;
                        }
                        let mut then = before.clone();
                        assert!(
                            then.check_n(n, at).is_ok() || at == Instant::MAX,
                            "refused again at retry_at"
                        );
                        let mut earlier = before;
                        assert!(
                            earlier.check_n(n, at - Duration::from_micros(1)).is_err(),
                            "admitted before retry_at"
                        );
                    }
                }
                assert!(limiter.available(now) <= config.burst());
            }
            4 => {
                if let Some(t) = &mut throttle {
                    let now = clock.read();
                    if t.admit(now, &mut rng).is_ok() && input.bool() {
                        t.record(true, now);
                        accepts += 1;
                    }
                    requests += 1;
                }
            }
            _ => {
                if let Some(t) = &mut throttle {
                    let now = clock.read();
                    let p = t.reject_permille(now);
                    assert!(p <= throttle_config.max_reject_permille());
                    let (r, a) = t.counts(now);
                    trace!("throttle at {now:?}: p {p}, requests {r}, accepts {a}, {t:?}");
                    assert!(u64::from(r) <= requests && u64::from(a) <= accepts);
                    if a >= r {
                        assert_eq!(p, 0, "throttled with every request accepted");
                    }
                }
            }
        }
    }
});
