//! gRPC retry throttling driven by the retry machine, against a transcription
//! of grpc-core's `ServerRetryThrottleData` and the retry filter's `ShouldRetry`
//! (success → RecordSuccess; a retryable status → RecordFailure, then the
//! throttle, then the attempt limit).

use proptest::prelude::*;
use steadfast::backoff::Backoff;
use steadfast::outcome::Verdict;
use steadfast::retry::{
    self, GiveUpReason, GrpcThrottle, GrpcThrottleConfig, Retry, RetryDecision,
};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};

struct Model {
    max_milli: i64,
    ratio_milli: i64,
    milli: i64,
}

impl Model {
    fn record_failure(&mut self) -> bool {
        self.milli = (self.milli - 1_000).max(0);
        self.milli > self.max_milli / 2
    }
    fn record_success(&mut self) {
        self.milli = (self.milli + self.ratio_milli).min(self.max_milli);
    }
}

#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    Retryable,
    Fatal,
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![3 => Just(Answer::Ok), 5 => Just(Answer::Retryable), 1 => Just(Answer::Fatal)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 256 }, ..ProptestConfig::default() })]

    #[test]
    fn matches_grpc_core(
        max_tokens in 1u32..=20,
        ratio in 1u32..3_000,
        max_attempts in 1u32..6,
        calls in prop::collection::vec(prop::collection::vec(answer(), 1..8), 1..if cfg!(miri) { 5 } else { 60 }),
    ) {
        let mut throttle = GrpcThrottle::new(GrpcThrottleConfig::DEFAULT.with_max_tokens(max_tokens).with_token_ratio_milli(ratio)).unwrap();
        let mut model = Model { max_milli: i64::from(max_tokens) * 1_000, ratio_milli: i64::from(ratio), milli: i64::from(max_tokens) * 1_000 };
        let config = retry::Config::DEFAULT
            .with_backoff(Backoff::constant(Duration::from_millis(1)))
            .with_max_attempts(max_attempts);
        let mut rng = SplitMix64::new(0);
        let t = Instant::ZERO;
        for answers in calls {
            let mut retry = Retry::new(config, t, None);
            for (attempts, a) in (1u32..).zip(answers) {
                let verdict = match a {
                    Answer::Ok => Verdict::success(),
                    Answer::Retryable => Verdict::failure(),
                    Answer::Fatal => Verdict::failure().not_retryable(),
                };
                let got = retry.on_outcome_with_budget(verdict, t, &mut rng, &mut throttle);
                let expect_retry = match a {
                    Answer::Ok => { model.record_success(); false }
                    Answer::Fatal => false,
                    Answer::Retryable => {
                        let allowed = model.record_failure();
                        allowed && attempts < max_attempts
                    }
                };
                prop_assert_eq!(got.is_retry(), expect_retry, "{:?}", got);
                prop_assert_eq!(i64::from(throttle.milli_tokens()), model.milli);
                if let RetryDecision::GiveUp(GiveUpReason::BudgetExhausted) = got {
                    prop_assert!(model.milli <= model.max_milli / 2);
                }
                if !expect_retry {
                    break;
                }
            }
        }
    }
}

#[test]
fn the_last_failure_of_a_call_costs_a_token_too() {
    let mut throttle = GrpcThrottle::new(
        GrpcThrottleConfig::DEFAULT
            .with_max_tokens(10)
            .with_token_ratio_milli(100),
    )
    .unwrap();
    let config = retry::Config::DEFAULT.with_max_attempts(3);
    let mut rng = SplitMix64::new(0);
    let t = Instant::ZERO;
    let mut retry = Retry::new(config, t, None);
    for _ in 0..2 {
        assert!(
            retry
                .on_outcome_with_budget(Verdict::failure(), t, &mut rng, &mut throttle)
                .is_retry()
        );
    }
    assert_eq!(
        retry.on_outcome_with_budget(Verdict::failure(), t, &mut rng, &mut throttle),
        RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts: 3 })
    );
    assert_eq!(throttle.milli_tokens(), 7_000);
}

#[test]
fn an_outage_throttles_retries_until_successes_refill() {
    // 10 tokens: retries stop once 5 or fewer are left; 0.5 back per success.
    let mut throttle = GrpcThrottle::new(
        GrpcThrottleConfig::DEFAULT
            .with_max_tokens(10)
            .with_token_ratio_milli(500),
    )
    .unwrap();
    let config = retry::Config::DEFAULT.with_max_attempts(2);
    let mut rng = SplitMix64::new(0);
    let t = Instant::ZERO;
    let mut retried = 0;
    for _ in 0..10 {
        let mut retry = Retry::new(config, t, None);
        if retry
            .on_outcome_with_budget(Verdict::failure(), t, &mut rng, &mut throttle)
            .is_retry()
        {
            retried += 1;
            let _ = retry.on_outcome_with_budget(Verdict::failure(), t, &mut rng, &mut throttle);
        }
    }
    // 10 → 9 (retry) → 8 → 7 (retry) → 6 → 5: refused from there on.
    assert_eq!(retried, 2);
    assert!(!throttle.allows_retries());
    for _ in 0..2 {
        let mut retry = Retry::new(config, t, None);
        let _ = retry.on_outcome_with_budget(Verdict::success(), t, &mut rng, &mut throttle);
    }
    assert_eq!(throttle.milli_tokens(), 1_000);
    for _ in 0..9 {
        let mut retry = Retry::new(config, t, None);
        let _ = retry.on_outcome_with_budget(Verdict::success(), t, &mut rng, &mut throttle);
    }
    assert_eq!(throttle.milli_tokens(), 5_500);
    assert!(throttle.allows_retries());
}
