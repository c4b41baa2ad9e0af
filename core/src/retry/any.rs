//! One of the three retry budgets, chosen at run time (a config file's
//! `kind`).

use super::budget::{
    Budget, BudgetConfig, BudgetStats, RetryBudget, TokenBucket, TokenBucketConfig, Withdrawal,
};
use super::grpc::{GrpcThrottle, GrpcThrottleConfig};
use crate::error::ConfigError;
use crate::outcome::Outcome;
use crate::time::Instant;

/// The settings of an [`AnyBudget`]: which budget, with its config.
///
/// ```
/// use steadfast::retry::{AnyBudgetConfig, BudgetConfig, GrpcThrottleConfig};
/// let ratio = AnyBudgetConfig::Ratio(BudgetConfig::DEFAULT);
/// let grpc = AnyBudgetConfig::Grpc(GrpcThrottleConfig::DEFAULT.with_max_tokens(10));
/// assert!(ratio.validate().is_ok() && grpc.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AnyBudgetConfig {
    /// A Finagle-style budget ([`Budget`]): retries as a share of requests.
    Ratio(BudgetConfig),
    /// The AWS SDKs' token bucket ([`TokenBucket`]).
    TokenBucket(TokenBucketConfig),
    /// gRPC's retry throttling ([`GrpcThrottle`]).
    Grpc(GrpcThrottleConfig),
}

impl AnyBudgetConfig {
    /// The chosen budget's own validation.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of the chosen config, naming the field.
    pub const fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Ratio(c) => c.validate(),
            Self::TokenBucket(c) => c.validate(),
            Self::Grpc(c) => c.validate(),
        }
    }
}

impl Default for AnyBudgetConfig {
    /// A Finagle-style budget with its defaults.
    fn default() -> Self {
        Self::Ratio(BudgetConfig::DEFAULT)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Kind<const K: usize> {
    Ratio(Budget<K>),
    TokenBucket(TokenBucket),
    Grpc(GrpcThrottle),
}

/// A retry budget of the kind its [`AnyBudgetConfig`] names, with the same
/// [`BudgetStats`] whatever the kind (a [`Budget`] keeps its own; for the
/// others they are counted here, at the [`RetryBudget`] boundary).
///
/// ```
/// use steadfast::outcome::Outcome;
/// use steadfast::retry::{AnyBudget, AnyBudgetConfig, GrpcThrottleConfig, RetryBudget};
/// use steadfast::time::Instant;
///
/// let config = AnyBudgetConfig::Grpc(GrpcThrottleConfig::DEFAULT.with_max_tokens(4));
/// let mut b: AnyBudget = AnyBudget::new(config)?;
/// let now = Instant::ZERO;
/// b.on_request(now);
/// b.on_retryable_failure(Outcome::Failure, now);
/// assert!(b.withdraw(Outcome::Failure, now).is_some()); // 3 tokens > 2
/// b.on_retryable_failure(Outcome::Failure, now);
/// assert!(b.withdraw(Outcome::Failure, now).is_none()); // 2: at the threshold
/// let stats = b.stats();
/// assert_eq!((stats.requests, stats.retries_granted, stats.retries_refused), (1, 1, 1));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AnyBudget<const K: usize = 10> {
    kind: Kind<K>,
    /// Counted here for the kinds that keep none.
    stats: BudgetStats,
}

impl<const K: usize> AnyBudget<K> {
    /// A budget of the kind `config` names, full.
    ///
    /// # Errors
    ///
    /// The chosen budget's [`ConfigError`] (a ratio budget's window also
    /// needs at least one microsecond per bucket of `K`).
    pub const fn new(config: AnyBudgetConfig) -> Result<Self, ConfigError> {
        let kind = match config {
            AnyBudgetConfig::Ratio(c) => match Budget::new(c) {
                Ok(b) => Kind::Ratio(b),
                Err(e) => return Err(e),
            },
            AnyBudgetConfig::TokenBucket(c) => match TokenBucket::new(c) {
                Ok(b) => Kind::TokenBucket(b),
                Err(e) => return Err(e),
            },
            AnyBudgetConfig::Grpc(c) => match GrpcThrottle::new(c) {
                Ok(b) => Kind::Grpc(b),
                Err(e) => return Err(e),
            },
        };
        Ok(Self {
            kind,
            stats: BudgetStats {
                requests: 0,
                retries_granted: 0,
                retries_refused: 0,
                retries_returned: 0,
            },
        })
    }

    /// What it has counted: requests, retries granted, refused and given back.
    ///
    /// ```
    /// # use steadfast::retry::{AnyBudget, AnyBudgetConfig};
    /// let b: AnyBudget = AnyBudget::new(AnyBudgetConfig::default())?;
    /// assert_eq!(b.stats().requests, 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn stats(&self) -> BudgetStats {
        match &self.kind {
            Kind::Ratio(b) => b.stats(),
            Kind::TokenBucket(_) | Kind::Grpc(_) => self.stats,
        }
    }

    /// Retries it would grant at `now` after plain failures, one after the
    /// other: a ratio budget's balance, a token bucket's tokens over the cost
    /// of a retry; for gRPC, each failure takes a token before the check, so
    /// the retries whose count stays above half the maximum (2.5 tokens above
    /// it allow 2).
    ///
    /// ```
    /// # use steadfast::retry::{AnyBudget, AnyBudgetConfig, TokenBucketConfig};
    /// # use steadfast::time::Instant;
    /// let mut b: AnyBudget = AnyBudget::new(AnyBudgetConfig::TokenBucket(TokenBucketConfig::DEFAULT))?;
    /// assert_eq!(b.retries_available(Instant::ZERO), 100); // 500 tokens, 5 a retry
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn retries_available(&mut self, now: Instant) -> u64 {
        match &mut self.kind {
            Kind::Ratio(b) => b.retries_available(now),
            Kind::TokenBucket(b) => u64::from(b.tokens() / b.retry_cost(Outcome::Failure)),
            Kind::Grpc(b) => {
                let half = b.max_tokens() * 500;
                u64::from(b.milli_tokens().saturating_sub(half).saturating_sub(1) / 1_000)
            }
        }
    }
}

impl<const K: usize> RetryBudget for AnyBudget<K> {
    fn on_request(&mut self, now: Instant) {
        match &mut self.kind {
            Kind::Ratio(b) => b.on_request(now),
            Kind::TokenBucket(b) => {
                self.stats.requests += 1;
                b.on_request(now);
            }
            Kind::Grpc(b) => {
                self.stats.requests += 1;
                b.on_request(now);
            }
        }
    }

    fn withdraw(&mut self, after: Outcome, now: Instant) -> Option<Withdrawal> {
        let taken = match &mut self.kind {
            Kind::Ratio(b) => return b.withdraw(after, now),
            Kind::TokenBucket(b) => b.withdraw(after, now),
            Kind::Grpc(b) => b.withdraw(after, now),
        };
        match taken {
            Some(_) => self.stats.retries_granted += 1,
            None => self.stats.retries_refused += 1,
        }
        taken
    }

    fn give_back(&mut self, withdrawal: Withdrawal, now: Instant) {
        match &mut self.kind {
            Kind::Ratio(b) => b.give_back(withdrawal, now),
            Kind::TokenBucket(b) => {
                self.stats.retries_returned += 1;
                b.give_back(withdrawal, now);
            }
            Kind::Grpc(b) => {
                self.stats.retries_returned += 1;
                b.give_back(withdrawal, now);
            }
        }
    }

    fn on_success(&mut self, retry: Option<Withdrawal>, now: Instant) {
        match &mut self.kind {
            Kind::Ratio(b) => b.on_success(retry, now),
            Kind::TokenBucket(b) => b.on_success(retry, now),
            Kind::Grpc(b) => b.on_success(retry, now),
        }
    }

    fn on_retryable_failure(&mut self, after: Outcome, now: Instant) {
        match &mut self.kind {
            Kind::Ratio(b) => b.on_retryable_failure(after, now),
            Kind::TokenBucket(b) => b.on_retryable_failure(after, now),
            Kind::Grpc(b) => b.on_retryable_failure(after, now),
        }
    }

    fn try_withdraw(&mut self, now: Instant) -> bool {
        self.withdraw(Outcome::Failure, now).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    /// Drives `any` and `own` through the same 200 steps: every answer equal.
    fn same_answers<B: RetryBudget>(config: AnyBudgetConfig, mut own: B) {
        let mut any: AnyBudget = AnyBudget::new(config).unwrap();
        let (mut granted, mut refused) = (0, 0);
        for step in 0..200u64 {
            let now = Instant::from_millis(step * 37);
            let after = if step % 3 == 0 {
                Outcome::TimedOut
            } else {
                Outcome::Failure
            };
            match step % 5 {
                0 => {
                    any.on_request(now);
                    own.on_request(now);
                }
                1 | 2 => {
                    any.on_retryable_failure(after, now);
                    own.on_retryable_failure(after, now);
                    let a = any.withdraw(after, now);
                    assert_eq!(a, own.withdraw(after, now), "{config:?} at {step}");
                    if a.is_some() {
                        granted += 1;
                    } else {
                        refused += 1;
                    }
                    if let (Some(w), true) = (a, step % 4 == 1) {
                        any.give_back(w, now);
                        own.give_back(w, now);
                    }
                }
                _ => {
                    any.on_success(None, now);
                    own.on_success(None, now);
                }
            }
        }
        assert!(
            granted > 0 && refused > 0,
            "{config:?}: {granted} granted, {refused} refused"
        );
        let stats = any.stats();
        assert_eq!(stats.requests, 40, "{config:?}");
        assert_eq!(
            stats.retries_granted + stats.retries_refused,
            80,
            "{config:?}"
        );
    }

    #[test]
    fn every_kind_answers_as_its_own_machine() {
        let ratio = BudgetConfig::DEFAULT
            .with_ratio_permille(200)
            .with_min_retries_per_sec(1)
            .with_window(Duration::from_secs(10));
        same_answers(
            AnyBudgetConfig::Ratio(ratio),
            Budget::<10>::new(ratio).unwrap(),
        );
        let bucket = TokenBucketConfig::DEFAULT.with_capacity(20);
        same_answers(
            AnyBudgetConfig::TokenBucket(bucket),
            TokenBucket::new(bucket).unwrap(),
        );
        let grpc = GrpcThrottleConfig::DEFAULT.with_max_tokens(6);
        same_answers(
            AnyBudgetConfig::Grpc(grpc),
            GrpcThrottle::new(grpc).unwrap(),
        );
    }

    #[test]
    fn retries_available_counts_what_the_kind_would_grant() {
        let now = Instant::ZERO;
        let mut grpc: AnyBudget = AnyBudget::new(AnyBudgetConfig::Grpc(
            GrpcThrottleConfig::DEFAULT.with_max_tokens(10),
        ))
        .unwrap();
        let mut granted = 0;
        let available = grpc.retries_available(now);
        loop {
            grpc.on_retryable_failure(Outcome::Failure, now);
            if grpc.withdraw(Outcome::Failure, now).is_none() {
                break;
            }
            granted += 1;
        }
        assert_eq!(available, granted);
        let mut bucket: AnyBudget =
            AnyBudget::new(AnyBudgetConfig::TokenBucket(TokenBucketConfig::DEFAULT)).unwrap();
        let available = bucket.retries_available(now);
        let mut granted = 0;
        while bucket.withdraw(Outcome::Failure, now).is_some() {
            granted += 1;
        }
        assert_eq!(available, granted);
    }
}
