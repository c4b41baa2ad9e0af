//! The GCRA rate limiter against a transcription of the algorithm in exact
//! 128-bit arithmetic (time scaled by `count`, so the emission interval is a
//! whole number), and its timelines.

use proptest::prelude::*;
use steadfast::ratelimit::{Config, Packed, RateLimiter, Refused};
use steadfast::time::{Duration, Instant};

/// GCRA (virtual scheduling) with every instant multiplied by `count`.
struct Model {
    count: u128,
    /// `period` in µs: the emission interval in scaled units.
    interval: u128,
    burst: u128,
    tat: u128,
    seen: u128,
}

impl Model {
    fn new(c: Config) -> Self {
        Self {
            count: u128::from(c.count()),
            interval: u128::from(c.period().as_micros()),
            burst: u128::from(c.burst()),
            tat: 0,
            seen: 0,
        }
    }

    /// Would `n` cells conform at scaled time `t`, and what TAT would they leave?
    fn try_at(&self, n: u32, t: u128) -> (bool, u128) {
        let next = self.tat.max(t) + u128::from(n) * self.interval;
        (next <= t + self.burst * self.interval, next)
    }

    fn check_n(&mut self, n: u32, now: u64) -> Result<(), Refused> {
        self.seen = self.seen.max(u128::from(now));
        if u128::from(n) > self.burst {
            return Err(Refused { retry_at: None });
        }
        if n == 0 {
            return Ok(());
        }
        let t = self.seen * self.count;
        let (ok, next) = self.try_at(n, t);
        if ok {
            self.tat = next;
            return Ok(());
        }
        // The first whole microsecond u with u·count + burst·interval ≥ next.
        let need = next - self.burst * self.interval;
        let retry = need.div_ceil(self.count);
        Err(Refused {
            retry_at: Some(Instant::from_micros(u64::try_from(retry).unwrap())),
        })
    }
}

fn config() -> impl Strategy<Value = Config> {
    (1u32..=50, 1u64..=3_000_000, 1u32..=20).prop_filter_map("valid", |(count, period, burst)| {
        let c = Config::DEFAULT
            .with_rate(count, Duration::from_micros(period))
            .with_burst(burst);
        c.validate().ok().map(|()| c)
    })
}

/// One operation: time moves on by `dt` µs (possibly backwards), then `n` cells are asked.
fn op() -> impl Strategy<Value = (i64, u32)> {
    (
        prop_oneof![8 => 0i64..200_000, 1 => -5_000i64..0, 1 => 0i64..5_000_000],
        prop_oneof![6 => Just(1u32), 3 => 0u32..=25],
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 256 }, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_model(c in config(), ops in prop::collection::vec(op(), 1..if cfg!(miri) { 20 } else { 300 })) {
        let mut limiter = RateLimiter::new(c).unwrap();
        let mut model = Model::new(c);
        let mut now: u64 = 1_000_000;
        for (dt, n) in ops {
            now = now.saturating_add_signed(dt);
            let at = Instant::from_micros(now);
            let got = if n == 1 { limiter.check(at) } else { limiter.check_n(n, at) };
            prop_assert_eq!(got, model.check_n(n, now), "n={} at {}", n, now);
            if let Err(Refused { retry_at: Some(r) }) = got {
                // Come back at `retry_at` and the same call is admitted; a microsecond
                // earlier it is not.
                let t = r.as_micros().max(now);
                prop_assert!(model.try_at(n, u128::from(t) * model.count).0);
                if r.as_micros() > now {
                    prop_assert!(!model.try_at(n, u128::from(r.as_micros() - 1) * model.count).0);
                }
            }
        }
    }

    #[test]
    fn the_packed_state_decides_as_the_limiter(
        c in config(),
        ops in prop::collection::vec(op(), 1..if cfg!(miri) { 20 } else { 300 }),
    ) {
        let Some(packed) = Packed::new(c).unwrap() else {
            // Every count up to 50 packs: at most 50 ticks per microsecond.
            return Err(TestCaseError::fail("count ≤ 50 must pack"));
        };
        prop_assert_eq!(packed.config(), RateLimiter::new(c).unwrap().config());
        let mut limiter = RateLimiter::new(c).unwrap();
        let mut state = Packed::EMPTY;
        let mut now: u64 = 1_000_000;
        for (dt, n) in ops {
            // The packed limiter keeps no highest instant seen: time only moves on.
            now = now.saturating_add(dt.unsigned_abs());
            let at = Instant::from_micros(now);
            prop_assert_eq!(packed.available(state, at), limiter.available(at), "available at {}", now);
            let expected = if n == 1 { limiter.check(at) } else { limiter.check_n(n, at) };
            let got = if n == 1 { packed.check(state, at) } else { packed.check_n(state, n, at) };
            match got {
                Ok(next) => {
                    prop_assert!(expected.is_ok(), "n={} at {}: packed admitted, {:?}", n, now, expected);
                    state = next;
                }
                Err(refused) => prop_assert_eq!(Err(refused), expected, "n={} at {}", n, now),
            }
        }
    }

    #[test]
    fn never_more_than_burst_plus_rate(c in config(), gaps in prop::collection::vec(0u64..50_000, 1..if cfg!(miri) { 20 } else { 400 })) {
        // Calls as fast as the gaps allow; over every span [a, b] of admissions,
        // admitted ≤ burst + (b − a) / T.
        let mut limiter = RateLimiter::new(c).unwrap();
        let mut now = 0u64;
        let mut admitted = Vec::new();
        for g in gaps {
            now += g;
            if limiter.check(Instant::from_micros(now)).is_ok() {
                admitted.push(now);
            }
        }
        let (count, period) = (u128::from(c.count()), u128::from(c.period().as_micros()));
        for i in 0..admitted.len() {
            for j in i..admitted.len() {
                let span = u128::from(admitted[j] - admitted[i]);
                let calls = (j - i + 1) as u128;
                // calls ≤ burst + span·count/period, in integers.
                prop_assert!(calls * period <= u128::from(c.burst()) * period + span * count);
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "long timeline; the model property covers it under Miri"
)]
fn three_per_second_is_exact_over_any_span() {
    // T = 333 333⅓ µs. A caller that keeps a limiter with some slack busy (burst 2),
    // polling every millisecond for 100 s, gets call n + 1 at the first millisecond
    // at or after (n − 1)·T: the fraction is carried, never rounded away, so the
    // last of 2 + 300 calls falls on exactly 100 s.
    let mut limiter = RateLimiter::new(Config::per_second(3).with_burst(2)).unwrap();
    let mut admitted = Vec::new();
    for ms in 0..=100_000u64 {
        while limiter.check(Instant::from_millis(ms)).is_ok() {
            admitted.push(ms);
        }
    }
    assert_eq!(admitted.len(), 302);
    for (n, &ms) in admitted.iter().enumerate() {
        let due_us = (n.saturating_sub(1) as u64 * 1_000_000).div_ceil(3);
        assert_eq!(ms, due_us.div_ceil(1_000), "call {}", n + 1);
    }
    assert_eq!(admitted.last(), Some(&100_000));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "long timeline; the model property covers it under Miri"
)]
fn a_smooth_limiter_spaces_calls_at_least_the_interval_apart() {
    // A late caller restarts the schedule from its own arrival (GCRA): never
    // two calls closer than T.
    let mut limiter = RateLimiter::new(Config::per_second(3).smooth()).unwrap();
    let mut last: Option<u64> = None;
    for us in (0..10_000_000u64).step_by(997) {
        if limiter.check(Instant::from_micros(us)).is_ok() {
            if let Some(prev) = last {
                assert!((us - prev) * 3 >= 1_000_000, "{prev} then {us}");
            }
            last = Some(us);
        }
    }
}

#[test]
fn a_bursty_limiter_refills_at_the_rate() {
    let mut limiter = RateLimiter::new(Config::per_second(10).with_burst(5)).unwrap();
    let t0 = Instant::from_secs(100);
    for _ in 0..5 {
        assert!(limiter.check(t0).is_ok());
    }
    let refused = limiter.check(t0).unwrap_err();
    assert_eq!(refused.retry_at, Some(t0 + Duration::from_millis(100)));
    assert_eq!(limiter.available(t0 + Duration::from_millis(250)), 2);
    // Idle for a long time: only the burst is available, not the idle time's worth.
    assert_eq!(limiter.available(t0 + Duration::from_secs(60)), 5);
    limiter.reset();
    assert_eq!(limiter.available(t0), 5);
}

#[test]
fn the_clock_going_backwards_grants_nothing_extra() {
    let mut limiter = RateLimiter::new(Config::per_second(1).smooth()).unwrap();
    assert!(limiter.check(Instant::from_secs(10)).is_ok());
    // An earlier `now` is read as the latest seen: still refused until 11 s.
    assert_eq!(
        limiter.check(Instant::from_secs(5)).unwrap_err().retry_at,
        Some(Instant::from_secs(11))
    );
    assert!(limiter.check(Instant::from_secs(11)).is_ok());
}

#[test]
fn far_future_instants_keep_their_arithmetic() {
    let t = Instant::MAX - Duration::from_secs(10);
    let mut limiter = RateLimiter::new(Config::per_second(1).smooth()).unwrap();
    assert!(limiter.check(t).is_ok());
    assert_eq!(
        limiter.check(t).unwrap_err().retry_at,
        Some(t + Duration::from_secs(1))
    );
    let mut limiter = RateLimiter::new(Config::per_second(1_000_000)).unwrap();
    assert!(limiter.check_n(1_000_000, t).is_ok());
    assert!(limiter.check(t).is_err());
    // At the end of representable time the arithmetic saturates without a panic.
    let mut limiter = RateLimiter::new(Config::DEFAULT.with_rate(1, Duration::MAX)).unwrap();
    let _ = limiter.check(Instant::MAX);
    let _ = limiter.check_n(1, Instant::MAX);
    let _ = limiter.available(Instant::MAX);
}

#[test]
fn config_round_trips() {
    for c in [
        Config::per_second(3),
        Config::per_minute(7).smooth(),
        Config::DEFAULT
            .with_rate(9, Duration::from_micros(10))
            .with_burst(2),
    ] {
        assert_eq!(RateLimiter::new(c).unwrap().config(), c);
    }
}

#[test]
fn a_packed_limiter_refuses_past_its_horizon_and_some_settings_do_not_pack() {
    let packed = Packed::new(Config::per_second(3)).unwrap().unwrap();
    assert_eq!(packed.horizon(), Instant::from_micros(u64::MAX / 3));
    let late = packed.horizon() + Duration::from_micros(1);
    assert_eq!(
        packed.check(Packed::EMPTY, late),
        Err(Refused {
            retry_at: Some(Instant::MAX)
        })
    );
    let century = Instant::from_secs(100 * 365 * 24 * 3600);
    assert!(packed.check(Packed::EMPTY, century).is_ok());
    // A tick of a 4 097th of a microsecond: over the bound.
    assert!(Packed::new(Config::per_second(4_097)).unwrap().is_none());
    assert!(
        Packed::new(Config::DEFAULT.with_rate(4_096, Duration::from_micros(4_097)))
            .unwrap()
            .is_some()
    );
    // A burst whose span overflows 64 bits.
    let huge = Config::DEFAULT
        .with_rate(1, Duration::from_micros(u64::MAX / 2))
        .with_burst(3);
    assert!(huge.validate().is_err() || Packed::new(huge).unwrap().is_none());
}
