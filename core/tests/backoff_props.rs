//! Property tests: backoff delays are exact, monotone and capped; jitter stays in
//! its range for every kind and seed; retries and budgets never break their rules.

use proptest::prelude::*;
use steadfast::backoff::{Backoff, Jitter, Kind, Ratio};
use steadfast::outcome::{Outcome, Verdict};
use steadfast::retry::{self, Budget, BudgetConfig, GiveUpReason, Retry, RetryDecision};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};

fn ratio() -> impl Strategy<Value = Ratio> {
    (1u32..=1_000, 0u32..=5_000)
        .prop_map(|(den, extra)| Ratio::new(den.saturating_add(extra), den).unwrap_or(Ratio::TWO))
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Constant),
        (0u64..=u64::MAX).prop_map(|s| Kind::Linear {
            step: Duration::from_micros(s >> (s % 64))
        }),
        ratio().prop_map(|factor| Kind::Exponential { factor }),
    ]
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        (0u8..=100).prop_map(|percent| Jitter::Proportional { percent }),
    ]
}

/// A duration spread over all magnitudes (µs to centuries and `MAX`).
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..=10_000_000).prop_map(Duration::from_micros),
        any::<u64>().prop_map(|x| Duration::from_micros(x >> (x % 64))),
        Just(Duration::MAX),
    ]
}

fn backoff() -> impl Strategy<Value = Backoff> {
    (kind(), duration(), duration(), jitter()).prop_map(|(kind, a, b, jitter)| {
        Backoff::DEFAULT
            .with_kind(kind)
            .with_base(a.min(b))
            .with_cap(a.max(b))
            .with_jitter(jitter)
            .checked()
            .expect("valid by construction")
    })
}

fn retry_number() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=100, any::<u32>(), (u32::MAX - 100)..=u32::MAX]
}

/// The reference model: exact per-step truncation, naively iterated.
fn reference_delay(b: &Backoff, retry: u32) -> Duration {
    let n = u64::from(retry.max(1));
    let (base, cap) = (
        u128::from(b.base().as_micros()),
        u128::from(b.cap().as_micros()),
    );
    let raw = match b.kind() {
        Kind::Constant => base,
        Kind::Linear { step } => base + u128::from(step.as_micros()) * u128::from(n - 1),
        Kind::Exponential { factor } => {
            let mut d = base;
            for _ in 1..n {
                d = d * u128::from(factor.num()) / u128::from(factor.den());
                if d >= cap {
                    break;
                }
            }
            d
        }
    };
    Duration::from_micros(raw.min(cap) as u64)
}

/// Exponential backoffs whose factor is a power of two, `2^1..=2^31` (delays grow
/// by shifts), over bases and caps of every magnitude.
fn power_of_two_backoff() -> impl Strategy<Value = Backoff> {
    (1u32..=31, duration(), duration(), jitter()).prop_map(|(k, a, b, jitter)| {
        let factor = Ratio::integer(1 << k).expect("a power of two is a valid factor");
        Backoff::DEFAULT
            .with_kind(Kind::Exponential { factor })
            .with_base(a.min(b))
            .with_cap(a.max(b))
            .with_jitter(jitter)
            .checked()
            .expect("valid by construction")
    })
}

/// A power-of-two backoff whose cap sits at, just below or just above
/// `base << (k × (retry − 1))`, with that retry: where a shift and a multiply
/// loop could disagree by one.
fn power_of_two_edge() -> impl Strategy<Value = (Backoff, u32)> {
    (1u32..=31, 1u64..=1 << 40, 1u32..=64, -1i64..=1).prop_filter_map(
        "the shifted base must fit in a u64",
        |(k, base, retry, nudge)| {
            let shift = k.checked_mul(retry - 1).filter(|s| *s < 64)?;
            let exact = base.checked_shl(shift).filter(|v| v >> shift == base)?;
            let cap = exact.checked_add_signed(nudge)?.max(base);
            let factor = Ratio::integer(1 << k).ok()?;
            let b = Backoff::DEFAULT
                .with_kind(Kind::Exponential { factor })
                .with_base(Duration::from_micros(base))
                .with_cap(Duration::from_micros(cap))
                .with_jitter(Jitter::None)
                .checked()
                .ok()?;
            Some((b, retry))
        },
    )
}

proptest! {
    // Miri runs every case ~1000x slower: a handful still checks for UB on real inputs.
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 2_000 }, ..ProptestConfig::default() })]

    #[test]
    fn delay_matches_the_reference_model(b in backoff(), retry in 0u32..=300) {
        prop_assert_eq!(b.delay(retry), reference_delay(&b, retry));
    }

    #[test]
    fn power_of_two_factors_shift_exactly_like_the_multiply_loop(
        b in power_of_two_backoff(), retry in 0u32..=300
    ) {
        prop_assert_eq!(b.delay(retry), reference_delay(&b, retry));
    }

    #[test]
    fn power_of_two_factors_agree_at_the_cap(edge in power_of_two_edge()) {
        let (b, retry) = edge;
        for n in retry.saturating_sub(1)..=retry.saturating_add(1) {
            prop_assert_eq!(b.delay(n), reference_delay(&b, n));
        }
    }

    #[test]
    fn power_of_two_factors_settle_for_any_retry(b in power_of_two_backoff(), retry in any::<u32>()) {
        // Past 64 doublings every positive base is at the cap; 0 stays 0.
        let base = b.base().as_micros();
        let settled = if base == 0 { b.base() } else { b.cap() };
        if retry > 65 {
            prop_assert_eq!(b.delay(retry), settled);
        }
        prop_assert!(b.delay(retry) <= b.cap());
    }

    #[test]
    fn delay_is_monotone_capped_and_starts_at_base(b in backoff(), retry in retry_number()) {
        let d = b.delay(retry);
        prop_assert!(d <= b.cap());
        prop_assert!(d >= b.base());
        prop_assert_eq!(b.delay(0), b.base());
        prop_assert_eq!(b.delay(1), b.base());
        prop_assert!(b.delay(retry.saturating_add(1)) >= d);
    }

    #[test]
    fn jitter_stays_within_its_range(
        b in backoff(), retry in retry_number(), previous in duration(), seed in any::<u64>()
    ) {
        let mut rng = SplitMix64::new(seed);
        let j = b.jittered(retry, previous, &mut rng);
        let d = b.delay(retry).as_micros();
        let cap = b.cap().as_micros();
        let x = j.as_micros();
        prop_assert!(x <= cap, "above the cap");
        match b.jitter() {
            Jitter::None => prop_assert_eq!(x, d),
            Jitter::Full => prop_assert!(x <= d),
            Jitter::Equal => prop_assert!(d / 2 <= x && x <= d),
            Jitter::Decorrelated => {
                let base = b.base().as_micros();
                let high = previous.as_micros().max(base).saturating_mul(3).min(cap);
                prop_assert!(base <= x && x <= high);
            }
            Jitter::Proportional { percent } => {
                let spread = (u128::from(d) * u128::from(percent) / 100) as u64;
                prop_assert!(d - spread <= x && x <= d.saturating_add(spread).min(cap));
            }
        }
    }

    #[test]
    fn same_seed_same_sequence(b in backoff(), seed in any::<u64>()) {
        let (mut r1, mut r2) = (SplitMix64::new(seed), SplitMix64::new(seed));
        let (mut p1, mut p2) = (Duration::ZERO, Duration::ZERO);
        for n in 1..=32 {
            p1 = b.jittered(n, p1, &mut r1);
            p2 = b.jittered(n, p2, &mut r2);
            prop_assert_eq!(p1, p2);
        }
    }

    #[test]
    fn retry_never_breaks_its_rules(
        b in backoff(),
        max_attempts in 1u32..=20,
        retry_on_timeout in any::<bool>(),
        max_retry_after in duration(),
        deadline in proptest::option::of(0u64..=100_000_000),
        steps in proptest::collection::vec((0u8..6, 0u64..=5_000_000, proptest::option::of(duration())), 1..if cfg!(miri) { 10 } else { 40 }),
        seed in any::<u64>(),
    ) {
        let config = retry::Config::DEFAULT.with_max_attempts(max_attempts).with_backoff(b)
            .with_retry_on_timeout(retry_on_timeout)
            .with_max_retry_after(max_retry_after);
        let deadline = deadline.map(Instant::from_micros);
        let mut rng = SplitMix64::new(seed);
        let mut retry = Retry::new(config, Instant::ZERO, deadline);
        let mut now = Instant::ZERO;
        let mut final_decision = None;
        for (kind, advance, hint) in steps {
            // the clock may jump either way
            now = if kind == 5 { now - Duration::from_micros(advance) } else { now + Duration::from_micros(advance) };
            let mut verdict = match kind {
                0 => Verdict::success(),
                1 => Verdict::ignored(),
                2 => Verdict::timed_out(),
                3 => Verdict::failure().not_retryable(),
                _ => Verdict::failure(),
            };
            if let Some(h) = hint { verdict = verdict.retry_after(h); }
            let before = retry.attempts();
            let decision = retry.on_outcome(verdict, now, &mut rng);
            if let Some(f) = final_decision { prop_assert_eq!(decision, f); continue; }
            match decision {
                RetryDecision::RetryAt { at, attempt, delay } => {
                    prop_assert_eq!(attempt, before + 1);
                    prop_assert!(attempt <= max_attempts);
                    prop_assert!(verdict.outcome != Outcome::Success);
                    prop_assert!(verdict.outcome != Outcome::TimedOut || retry_on_timeout);
                    if let Some(dl) = deadline { prop_assert!(at < dl); }
                    match verdict.retry_after {
                        Some(h) => prop_assert!(delay <= max_retry_after && (delay >= h || delay == max_retry_after)),
                        None => prop_assert!(delay <= b.cap()),
                    }
                }
                RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts }) => {
                    prop_assert_eq!(attempts, max_attempts);
                    final_decision = Some(decision);
                }
                other => final_decision = Some(other),
            }
        }
    }

    #[test]
    fn budget_grants_exactly_the_tokens_deposited(
        permille in 0u32..=3_000, floor in 0u32..=20, requests in 0u64..200, secs in 1u64..=60,
    ) {
        // everything within one bucket: nothing expires
        let config = BudgetConfig::DEFAULT.with_ratio_permille(permille).with_min_retries_per_sec(floor).with_window(Duration::from_secs(secs));
        let mut budget = Budget::<10>::new(config).unwrap();
        let t = Instant::from_secs(1_000);
        for _ in 0..requests { budget.on_request(t); }
        let mut granted = 0u64;
        while budget.try_withdraw(t) { granted += 1; }
        let expected = (requests * u64::from(permille) + u64::from(floor) * secs * 1_000) / 1_000;
        prop_assert_eq!(granted, expected);
    }

    #[test]
    fn budget_matches_a_bucketed_reference_model(
        permille in 0u32..=2_000,
        floor in 0u32..=5,
        events in proptest::collection::vec((any::<bool>(), 0u64..=3_000_000), 1..if cfg!(miri) { 30 } else { 300 }),
    ) {
        // window 10 s in 10 buckets of 1 s: an entry made in second s counts while
        // the current second is < s + 10.
        let window = Duration::from_secs(10);
        let mut budget = Budget::<10>::new(BudgetConfig::DEFAULT.with_ratio_permille(permille).with_min_retries_per_sec(floor).with_window(window)).unwrap();
        let reserve = i64::from(floor) * 10 * 1_000;
        let mut now = Instant::ZERO;
        let mut log: Vec<(u64, i64)> = Vec::new();
        for (is_request, advance) in events {
            now += Duration::from_micros(advance);
            let second = now.as_micros() / 1_000_000;
            if is_request {
                budget.on_request(now);
                log.push((second, i64::from(permille)));
            } else {
                let tokens: i64 = reserve + log.iter().filter(|(s, _)| second < s + 10).map(|(_, v)| v).sum::<i64>();
                let expected = tokens >= 1_000;
                prop_assert_eq!(budget.try_withdraw(now), expected);
                if expected { log.push((second, -1_000)); }
            }
        }
    }
}
