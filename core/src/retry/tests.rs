//! Retry, backoff and budget timelines (compiled only under `#[cfg(test)]`, from `mod.rs`).

use super::*;
use crate::backoff::{Backoff, Jitter, Ratio};
use crate::rng::SplitMix64;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
fn at(n: u64) -> Instant {
    Instant::from_millis(n)
}
fn exp_config(max_attempts: u32) -> Config {
    let backoff = Backoff::exponential(ms(100), Ratio::TWO, ms(1_000));
    Config::DEFAULT
        .with_max_attempts(max_attempts)
        .with_backoff(backoff)
}
fn retry_at(at_ms: u64, attempt: u32, delay_ms: u64) -> RetryDecision {
    RetryDecision::RetryAt {
        at: at(at_ms),
        attempt,
        delay: ms(delay_ms),
    }
}

#[test]
fn exponential_timeline_until_attempts_run_out() {
    let mut rng = SplitMix64::new(0);
    let mut r = Retry::new(exp_config(7), at(0), None);
    // each attempt fails 10 ms after it started
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(10), &mut rng),
        retry_at(110, 2, 100)
    );
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(120), &mut rng),
        retry_at(320, 3, 200)
    );
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(330), &mut rng),
        retry_at(730, 4, 400)
    );
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(740), &mut rng),
        retry_at(1_540, 5, 800)
    );
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(1_550), &mut rng),
        retry_at(2_550, 6, 1_000)
    );
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(2_560), &mut rng),
        retry_at(3_560, 7, 1_000)
    );
    let give_up = RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts: 7 });
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(3_570), &mut rng),
        give_up
    );
    assert_eq!(r.attempts(), 7);
    // final: the same decision again, even for a success
    assert_eq!(
        r.on_outcome(Verdict::success(), at(3_580), &mut rng),
        give_up
    );
    assert_eq!(r.finished(), Some(give_up));
}

#[test]
fn one_attempt_never_retries() {
    let mut rng = SplitMix64::new(0);
    let mut r = Retry::new(exp_config(1), at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(1), &mut rng),
        RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts: 1 })
    );
}

#[test]
fn success_ignored_and_not_retryable() {
    let mut rng = SplitMix64::new(0);
    let c = exp_config(3);
    let mut r = Retry::new(c, at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::success(), at(1), &mut rng),
        RetryDecision::Done
    );
    let mut r = Retry::new(c, at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::ignored(), at(1), &mut rng),
        RetryDecision::Done
    );
    let mut r = Retry::new(c, at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::failure().not_retryable(), at(1), &mut rng),
        RetryDecision::GiveUp(GiveUpReason::NotRetryable)
    );
    // a success carrying a hint is still a success
    let mut r = Retry::new(c, at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::success().retry_after(ms(5)), at(1), &mut rng),
        RetryDecision::Done
    );
    // an ignored outcome with a hint (429) is retried
    let mut r = Retry::new(c, at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::ignored().retry_after(ms(500)), at(1), &mut rng),
        retry_at(501, 2, 500)
    );
}

#[test]
fn timeouts_follow_the_config() {
    let mut rng = SplitMix64::new(0);
    let mut r = Retry::new(exp_config(3), at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::timed_out(), at(50), &mut rng),
        retry_at(150, 2, 100)
    );
    let mut r = Retry::new(exp_config(3).with_retry_on_timeout(false), at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::timed_out(), at(50), &mut rng),
        RetryDecision::GiveUp(GiveUpReason::NotRetryable)
    );
}

#[test]
fn hint_rule_is_min_of_max_hint_computed_and_cap() {
    let mut rng = SplitMix64::new(0);
    let c = exp_config(10).with_max_retry_after(ms(5_000));
    // hint shorter than computed: computed wins (never sooner than our backoff)
    let mut r = Retry::new(c, at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::failure().retry_after(ms(30)), at(0), &mut rng),
        retry_at(100, 2, 100)
    );
    // hint longer than computed: the hint wins (never sooner than the server asked)
    assert_eq!(
        r.on_outcome(Verdict::failure().retry_after(ms(3_000)), at(100), &mut rng),
        retry_at(3_100, 3, 3_000)
    );
    // hint past max_retry_after: capped
    assert_eq!(
        r.on_outcome(
            Verdict::failure().retry_after(ms(60_000)),
            at(3_100),
            &mut rng
        ),
        retry_at(8_100, 4, 5_000)
    );
    // the hint's delay is the "previous" of the next retry; exponential ignores it
    assert_eq!(r.previous_delay(), ms(5_000));
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(8_100), &mut rng),
        retry_at(8_900, 5, 800)
    );
}

#[test]
fn deadline_refuses_before_sleeping() {
    let mut rng = SplitMix64::new(0);
    // deadline at 310 ms: retry at 110 ok, retry at 310 (== deadline) refused
    let mut r = Retry::new(exp_config(5), at(0), Some(at(310)));
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(10), &mut rng),
        retry_at(110, 2, 100)
    );
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(110), &mut rng),
        RetryDecision::GiveUp(GiveUpReason::DeadlineWouldPass)
    );
    assert_eq!(r.attempts(), 2);
    // one microsecond later deadline: allowed
    let mut r = Retry::new(
        exp_config(5),
        at(0),
        Some(at(310) + Duration::from_micros(1)),
    );
    let _ = r.on_outcome(Verdict::failure(), at(10), &mut rng);
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(110), &mut rng),
        retry_at(310, 3, 200)
    );
    // an outcome arriving after the deadline
    let mut r = Retry::new(exp_config(5), at(0), Some(at(50)));
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(60), &mut rng),
        RetryDecision::GiveUp(GiveUpReason::DeadlineWouldPass)
    );
}

#[test]
fn clock_going_backwards_is_read_as_latest() {
    let mut rng = SplitMix64::new(0);
    let mut r = Retry::new(exp_config(5), at(1_000), None);
    // an outcome "before" the call started: now = 1000
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(0), &mut rng),
        retry_at(1_100, 2, 100)
    );
}

#[test]
fn attempts_near_u32_max() {
    let mut rng = SplitMix64::new(0);
    let c = exp_config(u32::MAX - 1).with_backoff(Backoff::DEFAULT);
    let mut r = Retry::new(c, Instant::MAX, None);
    r.progress.attempts = u32::MAX - 3;
    let d = r.on_outcome(Verdict::failure(), Instant::MAX, &mut rng);
    let RetryDecision::RetryAt { at, attempt, delay } = d else {
        panic!("{d:?}")
    };
    assert_eq!((at, attempt), (Instant::MAX, u32::MAX - 2));
    assert!(delay >= Duration::from_secs(30) && delay <= Duration::from_secs(60));
    assert!(
        r.on_outcome(Verdict::failure(), Instant::MAX, &mut rng)
            .is_retry()
    );
    assert_eq!(r.attempts(), u32::MAX - 1);
    assert_eq!(
        r.on_outcome(Verdict::failure(), Instant::MAX, &mut rng),
        RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted {
            attempts: u32::MAX - 1
        })
    );
}

#[test]
fn unlimited_attempts_are_bounded_only_by_the_total_deadline() {
    let mut rng = SplitMix64::new(0);
    let c = Config::DEFAULT
        .with_backoff(Backoff::constant(ms(100)))
        .with_unlimited_attempts();
    assert_eq!(c.attempt_limit(), None);
    assert_eq!(c.max_attempts(), Config::UNLIMITED_ATTEMPTS);
    // Attempt n starts at (n − 1) × 110 ms and fails 10 ms later.
    let mut r = Retry::new(c, at(0), Some(at(1_000)));
    for n in 1..10u64 {
        assert_eq!(
            r.on_outcome(Verdict::failure(), at((n - 1) * 110 + 10), &mut rng),
            retry_at(n * 110, n as u32 + 1, 100),
        );
    }
    // Attempt 10 fails at 1 000 ms: a retry at 1 100 ms would pass the deadline.
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(1_000), &mut rng),
        RetryDecision::GiveUp(GiveUpReason::DeadlineWouldPass)
    );
    assert_eq!(r.attempts(), 10);
}

#[test]
fn unlimited_attempts_never_overflow_the_attempt_counter() {
    let mut rng = SplitMix64::new(0);
    let c = Config::DEFAULT
        .with_max_attempts(Config::UNLIMITED_ATTEMPTS)
        .with_backoff(Backoff::constant(ms(1)));
    assert_eq!(
        c,
        Config::DEFAULT
            .with_backoff(Backoff::constant(ms(1)))
            .with_unlimited_attempts()
    );
    let mut r = Retry::new(c, at(0), None);
    r.progress.attempts = u32::MAX - 1;
    for _ in 0..3 {
        let d = r.on_outcome(Verdict::failure(), at(0), &mut rng);
        assert_eq!(
            d,
            retry_at(1, u32::MAX, 1),
            "the count saturates, the retries go on"
        );
    }
    assert_eq!(r.attempts(), u32::MAX);
    // Any limit below it is a limit.
    assert_eq!(Config::DEFAULT.attempt_limit(), Some(3));
}

#[test]
fn unvalidated_zero_attempts_acts_as_one() {
    let mut rng = SplitMix64::new(0);
    let mut c = exp_config(3);
    c.max_attempts = 0;
    let mut r = Retry::new(c, at(0), None);
    assert_eq!(
        r.on_outcome(Verdict::failure(), at(1), &mut rng),
        RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts: 1 })
    );
}

#[test]
fn same_seed_same_decisions() {
    let c = Config::DEFAULT
        .with_max_attempts(50)
        .with_backoff(Backoff::DEFAULT.with_jitter(Jitter::Decorrelated));
    let run = |seed| {
        let mut rng = SplitMix64::new(seed);
        let mut r = Retry::new(c, at(0), None);
        let mut now = at(0);
        let mut out = [Duration::ZERO; 49];
        for slot in &mut out {
            if let RetryDecision::RetryAt { at, delay, .. } =
                r.on_outcome(Verdict::failure(), now, &mut rng)
            {
                *slot = delay;
                now = at;
            }
        }
        out
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42), run(43));
}

#[test]
fn budget_timeline_with_retries() {
    // 200 ‰, no floor, 10 s window in 10 buckets: five calls buy one retry.
    let mut budget = Budget::<10>::new(
        BudgetConfig::DEFAULT
            .with_ratio_permille(200)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10)),
    )
    .unwrap();
    let mut rng = SplitMix64::new(0);
    let c = exp_config(3);
    let mut decisions = [false; 12];
    for (i, granted) in decisions.iter_mut().enumerate() {
        let t = at(i as u64 * 100);
        budget.on_request(t);
        let mut r = Retry::new(c, t, None);
        *granted = r
            .on_outcome_with_budget(Verdict::failure(), t, &mut rng, &mut budget)
            .is_retry();
    }
    // calls 5 and 10 (1-based) find 1000 tokens; every other one is refused
    let expected: [bool; 12] = core::array::from_fn(|i| (i + 1) % 5 == 0);
    assert_eq!(decisions, expected);
    assert_eq!(budget.stats().retries_granted, 2);
    assert_eq!(budget.stats().retries_refused, 10);
    // the budget is not touched when the retry is refused for another reason
    let mut r = Retry::new(exp_config(1), at(0), None);
    let before = budget.stats();
    let _ = r.on_outcome_with_budget(Verdict::failure(), at(2_000), &mut rng, &mut budget);
    assert_eq!(budget.stats(), before);
}

/// One call through a retry machine and an AWS bucket: `outcomes` are its
/// attempts' verdicts, 10 ms apart; returns the final decision.
fn aws_call(bucket: &mut TokenBucket, outcomes: &[Verdict]) -> RetryDecision {
    let mut rng = SplitMix64::new(0);
    let config = exp_config(Config::DEFAULT.max_attempts());
    let mut r = Retry::new(config, at(0), None);
    let mut decision = RetryDecision::Done;
    for (i, v) in outcomes.iter().enumerate() {
        decision = r.on_outcome_with_budget(*v, at(10 * i as u64), &mut rng, bucket);
    }
    decision
}

#[test]
fn aws_standard_mode_refunds_the_last_retry_on_success_and_pays_one_for_a_first_try() {
    let mut bucket = TokenBucket::AWS;
    assert_eq!(bucket.tokens(), 500);
    // Fails once, the retry succeeds: the retry's 5 come back.
    let d = aws_call(&mut bucket, &[Verdict::failure(), Verdict::success()]);
    assert_eq!(d, RetryDecision::Done);
    assert_eq!(bucket.tokens(), 500);
    // Times out twice, the second retry succeeds: 10 + 10 withdrawn, only the
    // last retry's 10 refunded (the first retry failed: its cost stays spent).
    let d = aws_call(
        &mut bucket,
        &[
            Verdict::timed_out(),
            Verdict::timed_out(),
            Verdict::success(),
        ],
    );
    assert_eq!(d, RetryDecision::Done);
    assert_eq!(bucket.tokens(), 490);
    // Three failures: 5 + 5 withdrawn, nothing back.
    let d = aws_call(&mut bucket, &[Verdict::failure(); 3]);
    assert!(matches!(d, RetryDecision::GiveUp(_)));
    assert_eq!(bucket.tokens(), 480);
    // A first attempt that succeeds adds NO_RETRY_INCREMENT (1), up to 500.
    for expected in 481..=500 {
        assert_eq!(
            aws_call(&mut bucket, &[Verdict::success()]),
            RetryDecision::Done
        );
        assert_eq!(bucket.tokens(), expected);
    }
    assert_eq!(
        aws_call(&mut bucket, &[Verdict::success()]),
        RetryDecision::Done
    );
    assert_eq!(bucket.tokens(), 500, "never above the capacity");
    // A final decision repeated pays nothing twice.
    let mut rng = SplitMix64::new(0);
    let mut r = Retry::new(Config::DEFAULT, at(0), None);
    let mut drained = TokenBucket::new(
        TokenBucketConfig::DEFAULT
            .with_capacity(10)
            .with_retry_cost(5)
            .with_timeout_retry_cost(10)
            .with_no_retry_increment(1),
    )
    .unwrap();
    assert!(
        r.on_outcome_with_budget(Verdict::failure(), at(0), &mut rng, &mut drained)
            .is_retry()
    );
    for _ in 0..3 {
        let _ = r.on_outcome_with_budget(Verdict::success(), at(1), &mut rng, &mut drained);
    }
    assert_eq!(drained.tokens(), 10);
}

#[test]
fn aws_bucket_refuses_a_retry_it_cannot_pay_for() {
    let mut bucket = TokenBucket::new(
        TokenBucketConfig::DEFAULT
            .with_capacity(14)
            .with_retry_cost(5)
            .with_timeout_retry_cost(10)
            .with_no_retry_increment(1),
    )
    .unwrap();
    // A timeout costs 10: 4 left; a plain failure then costs 5: refused.
    assert!(aws_call(&mut bucket, &[Verdict::timed_out()]).is_retry());
    assert_eq!(bucket.tokens(), 4);
    assert_eq!(
        aws_call(&mut bucket, &[Verdict::failure()]),
        RetryDecision::GiveUp(GiveUpReason::BudgetExhausted)
    );
    assert_eq!(bucket.tokens(), 4, "a refused retry takes nothing");
}

#[test]
fn a_retry_that_never_ran_gives_its_withdrawal_back_once() {
    let mut rng = SplitMix64::new(0);
    // AWS bucket: the retry's cost comes back in full.
    let mut bucket = TokenBucket::AWS;
    let mut r = Retry::new(exp_config(3), at(0), None);
    assert!(
        r.on_outcome_with_budget(Verdict::timed_out(), at(5), &mut rng, &mut bucket)
            .is_retry()
    );
    assert_eq!(bucket.tokens(), 490);
    assert_eq!(r.withdrawal().map(|w| w.cost()), Some(10));
    r.give_back(at(50), &mut bucket);
    assert_eq!(bucket.tokens(), 500);
    assert_eq!(r.withdrawal(), None);
    r.give_back(at(60), &mut bucket);
    assert_eq!(bucket.tokens(), 500, "a second give-back gives nothing");
    // The attempt after a given-back retry succeeds: nothing more is refunded
    // and it is no first attempt, so no increment either.
    let mut drained = TokenBucket::new(
        TokenBucketConfig::DEFAULT
            .with_capacity(10)
            .with_retry_cost(5)
            .with_timeout_retry_cost(10)
            .with_no_retry_increment(1),
    )
    .unwrap();
    let mut r = Retry::new(exp_config(3), at(0), None);
    assert!(
        r.on_outcome_with_budget(Verdict::failure(), at(5), &mut rng, &mut drained)
            .is_retry()
    );
    r.give_back(at(6), &mut drained);
    assert_eq!(drained.tokens(), 10);
    assert_eq!(
        r.on_outcome_with_budget(Verdict::success(), at(200), &mut rng, &mut drained),
        RetryDecision::Done
    );
    assert_eq!(drained.tokens(), 10);

    // Finagle budget: the retry comes back to the bucket it was taken from.
    let config = BudgetConfig::DEFAULT
        .with_ratio_permille(0)
        .with_min_retries_per_sec(1)
        .with_window(Duration::from_secs(1));
    let mut budget = Budget::<4>::new(config).unwrap();
    let mut r = Retry::new(exp_config(3), at(0), None);
    assert!(
        r.on_outcome_with_budget(Verdict::failure(), at(0), &mut rng, &mut budget)
            .is_retry()
    );
    assert_eq!(budget.retries_available(at(0)), 0);
    r.give_back(at(100), &mut budget);
    assert_eq!(budget.retries_available(at(100)), 1);
    assert_eq!(budget.stats().retries_returned, 1);
    // Given back after its bucket expired: it was already forgotten, so
    // nothing is added (no over-grant).
    let mut r = Retry::new(exp_config(3), at(2_000), None);
    assert!(
        r.on_outcome_with_budget(Verdict::failure(), at(2_000), &mut rng, &mut budget)
            .is_retry()
    );
    assert_eq!(budget.retries_available(at(3_000)), 1);
    r.give_back(at(3_000), &mut budget);
    assert_eq!(budget.retries_available(at(3_000)), 1);
}

#[test]
fn with_max_attempts_keeps_every_other_field() {
    let backoff = Backoff::constant(Duration::from_millis(20));
    let tuned = Config::DEFAULT
        .with_backoff(backoff)
        .with_max_retry_after(Duration::from_secs(5))
        .with_retry_on_timeout(false)
        .with_max_attempts(7);
    assert_eq!(tuned.max_attempts(), 7);
    assert_eq!(tuned.backoff(), backoff);
    assert_eq!(tuned.max_retry_after(), Duration::from_secs(5));
    assert!(!tuned.retry_on_timeout());
}

/// A backoff named by a type decides exactly as the same backoff held in the
/// config: every growth kind and every jitter, with retry-after hints, over
/// the same draws.
#[test]
fn a_fixed_backoff_decides_as_the_held_one() {
    use crate::backoff::{ConstBackoff, Fixed, Kind};

    macro_rules! twins {
        ($($name:ident = $backoff:expr;)*) => {$(
            struct $name;
            impl ConstBackoff for $name {
                const BACKOFF: Backoff = $backoff;
            }
            same_decisions::<$name>();
        )*};
    }

    fn same_decisions<T: ConstBackoff>() {
        let held = Config::DEFAULT
            .with_unlimited_attempts()
            .with_max_retry_after(ms(700))
            .with_backoff(T::BACKOFF);
        let fixed = held.with_backoff(Fixed::<T>::new());
        assert_eq!(fixed.backoff(), held.backoff());
        assert_eq!(fixed.validate(), held.validate());
        let deadline = Some(at(3_600_000));
        let (mut a, mut b) = (
            Retry::new(held, at(0), deadline),
            Retry::new(fixed, at(0), deadline),
        );
        let (mut ra, mut rb) = (SplitMix64::new(11), SplitMix64::new(11));
        let mut now = at(0);
        for n in 0..60u64 {
            let verdict = match n % 4 {
                0 => Verdict::failure().retry_after(ms(n * 37)),
                _ => Verdict::failure(),
            };
            let (da, db) = (
                a.on_outcome(verdict, now, &mut ra),
                b.on_outcome(verdict, now, &mut rb),
            );
            assert_eq!(da, db, "{:?}, retry {n}", T::BACKOFF);
            match da {
                RetryDecision::RetryAt { at, .. } => now = at,
                _ => break,
            }
        }
        assert_eq!(a.attempts(), b.attempts());
        assert_eq!(a.previous_delay(), b.previous_delay());
    }

    twins! {
        ConstantNone = Backoff::constant(ms(250)).with_jitter(Jitter::None);
        LinearFull = Backoff::linear(ms(10), ms(30), ms(900)).with_jitter(Jitter::Full);
        DoublingEqual = Backoff::DEFAULT;
        TriplingDecorrelated = Backoff::DEFAULT
            .with_kind(Kind::Exponential { factor: match Ratio::integer(3) { Ok(r) => r, Err(_) => Ratio::TWO } })
            .with_jitter(Jitter::Decorrelated);
        ThreeHalvesProportional = Backoff::DEFAULT
            .with_kind(Kind::Exponential { factor: match Ratio::new(3, 2) { Ok(r) => r, Err(_) => Ratio::TWO } })
            .with_cap(Duration::from_secs(5))
            .with_jitter(Jitter::Proportional { percent: 25 });
        HugeCap = Backoff::exponential(Duration::from_micros(1), Ratio::TWO, Duration::MAX)
            .with_jitter(Jitter::Full);
        Invalid = Backoff::constant(ms(5)).with_cap(ms(1)).with_jitter(Jitter::Proportional { percent: 200 });
    }
}
