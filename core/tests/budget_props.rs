//! Property tests: the AWS token bucket driven by the retry machine, against a
//! plain transcription of the AWS SDKs' standard retry mode (aws-sdk-js-v3
//! `StandardRetryStrategy` + `defaultRetryQuota`), with steadfast's give-back of
//! a retry that never ran.

use proptest::prelude::*;
use steadfast::backoff::Backoff;
use steadfast::outcome::Verdict;
use steadfast::retry::{self, Retry, TokenBucket, TokenBucketConfig};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};

/// What happens to one attempt of a call, or to its scheduled retry.
#[derive(Clone, Copy, Debug)]
enum Step {
    Fail,
    TimedOut,
    Succeed,
    /// The caller goes away during the backoff: the scheduled retry never runs.
    Cancel,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Fail),
        2 => Just(Step::TimedOut),
        3 => Just(Step::Succeed),
        1 => Just(Step::Cancel),
    ]
}

/// The SDK's quota: `availableCapacity`, capped at the initial capacity.
struct Model {
    capacity: u32,
    available: u32,
    retry_cost: u32,
    timeout_cost: u32,
    no_retry_increment: u32,
}

impl Model {
    fn release(&mut self, amount: u32) {
        self.available = (self.available + amount).min(self.capacity);
    }

    /// One call of at most `max_attempts` attempts; returns the retries granted.
    fn call(&mut self, max_attempts: u32, steps: &[Step]) -> u32 {
        // `retryTokenAmount`: the cost of the retry now scheduled or running.
        let mut retry_token_amount: Option<u32> = None;
        let mut granted = 0;
        for step in steps {
            let cost = match step {
                Step::Cancel => {
                    if let Some(cost) = retry_token_amount {
                        self.release(cost);
                    }
                    break;
                }
                Step::Succeed => {
                    self.release(retry_token_amount.unwrap_or(self.no_retry_increment));
                    break;
                }
                Step::Fail => self.retry_cost,
                Step::TimedOut => self.timeout_cost,
            };
            // Attempts so far: the first and one per granted retry.
            if 1 + granted >= max_attempts || cost > self.available {
                break;
            }
            self.available -= cost;
            retry_token_amount = Some(cost);
            granted += 1;
        }
        granted
    }
}

proptest! {
    // Miri runs every case ~1000x slower: a handful still checks for UB on real inputs.
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 256 }, ..ProptestConfig::default() })]
    #[test]
    fn token_bucket_follows_the_aws_standard_mode(
        aws in any::<bool>(),
        capacity in 1u32..600,
        costs in (1u32..40, 1u32..80),
        no_retry_increment in 0u32..4,
        max_attempts in 1u32..6,
        calls in prop::collection::vec(prop::collection::vec(step(), 1..6), 0..80),
    ) {
        let (retry_cost, timeout_cost) = (costs.0.min(capacity), costs.1.min(capacity));
        let (mut bucket, mut model) = if aws {
            (TokenBucket::AWS, Model { capacity: 500, available: 500, retry_cost: 5, timeout_cost: 10, no_retry_increment: 1 })
        } else {
            (
                TokenBucket::new(TokenBucketConfig::DEFAULT.with_capacity(capacity).with_retry_cost(retry_cost).with_timeout_retry_cost(timeout_cost).with_no_retry_increment(no_retry_increment)).expect("valid"),
                Model { capacity, available: capacity, retry_cost, timeout_cost, no_retry_increment },
            )
        };
        let config = retry::Config::DEFAULT.with_max_attempts(max_attempts).with_backoff(Backoff::constant(Duration::from_millis(10)));
        let mut rng = SplitMix64::new(7);
        let mut now = Instant::ZERO;
        for steps in calls {
            let mut retry = Retry::new(config, now, None);
            let mut granted = 0;
            for step in &steps {
                now += Duration::from_millis(1);
                let verdict = match step {
                    Step::Cancel => {
                        retry.give_back(now, &mut bucket);
                        break;
                    }
                    Step::Fail => Verdict::failure(),
                    Step::TimedOut => Verdict::timed_out(),
                    Step::Succeed => Verdict::success(),
                };
                let decision = retry.on_outcome_with_budget(verdict, now, &mut rng, &mut bucket);
                if decision.is_retry() {
                    granted += 1;
                } else {
                    break;
                }
            }
            prop_assert_eq!(granted, model.call(max_attempts, &steps));
            prop_assert_eq!(bucket.tokens(), model.available);
        }
    }
}
