//! Retry + backoff + budget: any config (through the validating constructors), any
//! verdicts, any clock. Checked after every step: delays within the cap and the jitter
//! bounds, attempts within max_attempts, no retry scheduled past the total deadline or
//! in the past, a final decision stays final, budget accounting exact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadfast::backoff::{Backoff, Jitter, Kind, Ratio};
use steadfast::outcome::{Outcome, Verdict};
use steadfast::retry::{
    self, Budget, BudgetConfig, GiveUpReason, GrpcThrottle, GrpcThrottleConfig, Retry, RetryBudget,
    RetryDecision, TokenBucket, TokenBucketConfig, Unlimited, Withdrawal,
};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast_fuzz::{Clock, Input};

enum AnyBudget {
    Finagle(Budget<4>),
    Bucket(TokenBucket),
    Grpc(GrpcThrottle),
    Unlimited,
}

impl RetryBudget for AnyBudget {
    fn on_request(&mut self, now: Instant) {
        match self {
            Self::Finagle(b) => b.on_request(now),
            Self::Bucket(b) => RetryBudget::on_request(b, now),
            Self::Grpc(b) => b.on_request(now),
            Self::Unlimited => {}
        }
    }
    fn on_retryable_failure(&mut self, after: Outcome, now: Instant) {
        match self {
            Self::Finagle(b) => b.on_retryable_failure(after, now),
            Self::Bucket(b) => b.on_retryable_failure(after, now),
            Self::Grpc(b) => b.on_retryable_failure(after, now),
            Self::Unlimited => {}
        }
    }
    fn withdraw(&mut self, after: Outcome, now: Instant) -> Option<Withdrawal> {
        match self {
            Self::Finagle(b) => b.withdraw(after, now),
            Self::Bucket(b) => b.withdraw(after, now),
            Self::Grpc(b) => b.withdraw(after, now),
            Self::Unlimited => Unlimited.withdraw(after, now),
        }
    }
    fn give_back(&mut self, withdrawal: Withdrawal, now: Instant) {
        match self {
            Self::Finagle(b) => b.give_back(withdrawal, now),
            Self::Bucket(b) => b.give_back(withdrawal, now),
            Self::Grpc(b) => b.give_back(withdrawal, now),
            Self::Unlimited => {}
        }
    }
    fn on_success(&mut self, retry: Option<Withdrawal>, now: Instant) {
        match self {
            Self::Finagle(b) => b.on_success(retry, now),
            Self::Bucket(b) => b.on_success(retry, now),
            Self::Grpc(b) => b.on_success(retry, now),
            Self::Unlimited => {}
        }
    }
}

fn backoff(input: &mut Input<'_>) -> Option<Backoff> {
    let kind = match input.u8() % 3 {
        0 => Kind::Constant,
        1 => Kind::Linear {
            step: input.duration(),
        },
        _ => {
            let (num, den) = (input.count(), input.count());
            match Ratio::new(num, den) {
                Ok(factor) => Kind::Exponential { factor },
                Err(e) => {
                    assert_eq!(e.field, "factor");
                    return None;
                }
            }
        }
    };
    let jitter = match input.u8() % 5 {
        0 => Jitter::None,
        1 => Jitter::Full,
        2 => Jitter::Equal,
        3 => Jitter::Decorrelated,
        _ => Jitter::Proportional {
            percent: input.u8(),
        },
    };
    let (base, cap) = (input.duration(), input.duration());
    match Backoff::DEFAULT
        .with_kind(kind)
        .with_base(base)
        .with_cap(cap)
        .with_jitter(jitter)
        .checked()
    {
        Ok(b) => Some(b),
        Err(e) => {
            assert!(e.field == "base" || e.field == "jitter", "{e}");
            None
        }
    }
}

fn verdict(input: &mut Input<'_>) -> Verdict {
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
        v = v.retry_after(input.duration());
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let Some(backoff) = backoff(&mut input) else {
        return;
    };
    let config = retry::Config::DEFAULT
        .with_max_attempts(input.count())
        .with_backoff(backoff);
    let config = match config.validate() {
        Ok(()) => config
            .with_max_retry_after(input.duration())
            .with_retry_on_timeout(input.bool()),
        Err(e) => {
            assert_eq!(e.field, "max_attempts");
            return;
        }
    };
    let mut budget = match input.u8() % 4 {
        0 => match Budget::<4>::new(
            BudgetConfig::DEFAULT
                .with_ratio_permille(input.count())
                .with_min_retries_per_sec(input.count())
                .with_window(input.duration()),
        ) {
            Ok(b) => AnyBudget::Finagle(b),
            Err(e) => {
                assert_eq!(e.field, "window");
                return;
            }
        },
        1 => match TokenBucket::new(
            TokenBucketConfig::DEFAULT
                .with_capacity(input.count())
                .with_retry_cost(input.count())
                .with_timeout_retry_cost(input.count())
                .with_no_retry_increment(input.count()),
        ) {
            Ok(b) => AnyBudget::Bucket(b),
            Err(e) => {
                assert!(
                    e.field == "capacity"
                        || e.field == "retry_cost"
                        || e.field == "timeout_retry_cost"
                );
                return;
            }
        },
        2 => match GrpcThrottle::new(
            GrpcThrottleConfig::DEFAULT
                .with_max_tokens(input.count())
                .with_token_ratio_milli(input.count()),
        ) {
            Ok(b) => AnyBudget::Grpc(b),
            Err(e) => {
                assert!(e.field == "max_tokens" || e.field == "token_ratio");
                return;
            }
        },
        _ => AnyBudget::Unlimited,
    };
    let capacity = match &budget {
        AnyBudget::Bucket(b) => b.tokens(),
        _ => 0,
    };
    let mut rng = SplitMix64::new(input.u64());
    let mut clock = Clock::default();
    let mut retry = Retry::new(config, clock.read(), None);
    let mut retry_high = clock.read(); // the retry's own clock-max
    let (mut granted, mut refused) = (0u64, 0u64);
    let mut previous = Duration::ZERO;
    let mut steps = 0;
    while !input.is_empty() && steps < 4_096 {
        steps += 1;
        match input.u8() % 8 {
            0 | 1 => clock.step(&mut input),
            2 => {
                let deadline = input.opt_duration().map(|d| clock.read() + d);
                retry = Retry::new(config, clock.read(), deadline);
                retry_high = clock.read();
                previous = Duration::ZERO;
                assert_eq!(
                    (retry.attempts(), retry.deadline(), retry.finished()),
                    (1, deadline, None)
                );
            }
            3..=5 => {
                let v = verdict(&mut input);
                let attempts = retry.attempts();
                let was = retry.finished();
                let grpc_before = match &budget {
                    AnyBudget::Grpc(b) => Some(b.milli_tokens()),
                    _ => None,
                };
                let held = retry.withdrawal();
                let d = retry.on_outcome_with_budget(v, clock.read(), &mut rng, &mut budget);
                retry_high = retry_high.max(clock.read());
                if let Some(was) = was {
                    assert_eq!(d, was, "a final decision changed");
                    continue;
                }
                if let (Some(before), AnyBudget::Grpc(b)) = (grpc_before, &budget) {
                    // A retryable failure takes a token whatever is decided; a success
                    // that ends the call gives `token_ratio` back; nothing else moves it.
                    let retryable_failure = v.retryable
                        && v.outcome.is_failure()
                        && (v.outcome != Outcome::TimedOut || config.retry_on_timeout());
                    let expected = if retryable_failure {
                        before.saturating_sub(1_000)
                    } else if v.outcome == Outcome::Success && (held.is_some() || attempts == 1) {
                        before
                            .saturating_add(b.token_ratio_milli())
                            .min(b.max_tokens() * 1_000)
                    } else {
                        before
                    };
                    assert_eq!(b.milli_tokens(), expected, "gRPC token accounting");
                    if let RetryDecision::RetryAt { .. } = d {
                        assert!(
                            b.milli_tokens() > b.max_tokens() * 500,
                            "retry at or below half the tokens"
                        );
                    }
                }
                match d {
                    RetryDecision::RetryAt { at, attempt, delay } => {
                        granted += 1;
                        assert!(v.retryable && v.outcome != Outcome::Success);
                        assert_eq!(attempt, attempts + 1);
                        assert!(attempt <= config.max_attempts());
                        assert_eq!(at, retry_high + delay, "at == now + delay");
                        assert!(at >= retry_high, "a retry in the past");
                        if let Some(deadline) = retry.deadline() {
                            assert!(at < deadline, "retry scheduled at or past the deadline");
                        }
                        let b = config.backoff();
                        match v.retry_after {
                            None => {
                                assert!(delay <= b.cap(), "delay above the cap");
                                check_jitter(&b, attempts, previous, delay);
                            }
                            // min(max(hint, computed), max_retry_after)
                            Some(hint) => {
                                assert!(delay <= config.max_retry_after(), "hint not capped");
                                assert!(
                                    delay >= hint.min(config.max_retry_after()),
                                    "sooner than the hint"
                                );
                            }
                        }
                        assert_eq!(retry.previous_delay(), delay);
                        previous = delay;
                    }
                    RetryDecision::GiveUp(reason) => {
                        assert_eq!(retry.attempts(), attempts);
                        match reason {
                            GiveUpReason::AttemptsExhausted { attempts: a } => {
                                assert_eq!(a, attempts);
                                assert!(a >= config.max_attempts());
                            }
                            GiveUpReason::BudgetExhausted => refused += 1,
                            GiveUpReason::NotRetryable => assert!(v.outcome.is_failure()),
                            GiveUpReason::DeadlineWouldPass => assert!(retry.deadline().is_some()),
                        }
                    }
                    RetryDecision::Done => assert!(!v.outcome.is_failure()),
                }
                assert_eq!(retry.finished().is_some(), d.is_final());
            }
            6 if input.bool() => budget.on_request(clock.read()),
            6 => {
                // The scheduled retry never runs: its withdrawal comes back once.
                let held = retry.withdrawal();
                retry.give_back(clock.read(), &mut budget);
                assert_eq!(retry.withdrawal(), None);
                if let (AnyBudget::Bucket(b), Some(w)) = (&budget, held) {
                    assert!(w.cost() > 0 && b.tokens() >= w.cost().min(capacity));
                }
            }
            _ if input.bool() => {
                if let AnyBudget::Finagle(b) = &mut budget {
                    let before = b.retries_available(clock.read());
                    if before > 0 {
                        assert!(b.try_withdraw(clock.read()));
                        // Exact below saturation (a floor near i64::MAX tokens is "unlimited").
                        if before < 1 << 40 {
                            assert_eq!(
                                b.retries_available(clock.read()),
                                before - 1,
                                "a withdrawal costs one retry"
                            );
                        }
                        granted += 1;
                    } else {
                        assert!(!b.try_withdraw(clock.read()));
                        refused += 1;
                    }
                }
            }
            _ => {
                let b = config.backoff();
                let n = input.u32();
                let (d, d1) = (b.delay(n), b.delay(n.saturating_add(1)));
                assert!(d <= b.cap() && d <= d1, "delays not monotone up to the cap");
                let j = b.jittered(n, input.duration(), &mut rng);
                assert!(j <= b.cap());
            }
        }
        assert!(retry.attempts() >= 1 && retry.attempts() <= config.max_attempts());
        match &mut budget {
            AnyBudget::Finagle(b) => {
                let s = b.stats();
                assert_eq!((s.retries_granted, s.retries_refused), (granted, refused));
            }
            AnyBudget::Bucket(b) => assert!(b.tokens() <= capacity),
            AnyBudget::Grpc(b) => assert!(b.milli_tokens() <= b.max_tokens() * 1_000),
            AnyBudget::Unlimited => assert_eq!(refused, 0),
        }
    }
});

fn check_jitter(b: &Backoff, retry: u32, previous: Duration, delay: Duration) {
    let d = b.delay(retry);
    match b.jitter() {
        Jitter::None => assert_eq!(delay, d),
        Jitter::Full => assert!(delay <= d),
        Jitter::Equal => assert!(delay.as_micros() >= d.as_micros() / 2 && delay <= d),
        Jitter::Decorrelated => {
            let base = b.base().min(b.cap());
            assert!(delay >= base);
            assert!(delay.as_micros() <= previous.max(base).as_micros().saturating_mul(3));
        }
        Jitter::Proportional { percent } => {
            let spread = (u128::from(d.as_micros()) * u128::from(percent) / 100) as u64;
            assert!(delay.as_micros() >= d.as_micros() - spread);
            assert!(delay.as_micros() <= d.as_micros().saturating_add(spread));
        }
    }
}
