//! gRPC retry throttling (the gRPC retry design, A6).

use super::budget::{RetryBudget, Withdrawal};
use crate::error::ConfigError;
use crate::outcome::Outcome;
use crate::time::Instant;

/// gRPC's retry throttling, exactly as the gRPC retry design specifies it (and
/// grpc-core implements it, in thousandths of a token):
///
/// * a token count starts at `max_tokens`;
/// * every attempt that fails in a way the policy retries takes 1 token — the
///   last attempt of a call included, before the attempt limit is checked;
/// * every successful call gives back `token_ratio` tokens (in thousandths:
///   gRPC allows three decimal places), never above `max_tokens`;
/// * a retry is allowed only while the count is above `max_tokens / 2`.
///
/// Nothing is refunded when a retry never runs: the token paid for the failure
/// that happened, not for the retry.
///
/// ```
/// use steadfast::outcome::Outcome;
/// use steadfast::retry::{GrpcThrottle, GrpcThrottleConfig, RetryBudget};
/// use steadfast::time::Instant;
///
/// // grpc-core's own test: 4 tokens (retries while above 2), 1.6 back per success.
/// let mut t = GrpcThrottle::new(GrpcThrottleConfig::DEFAULT.with_max_tokens(4).with_token_ratio_milli(1_600))?;
/// let now = Instant::ZERO;
/// t.on_retryable_failure(Outcome::Failure, now);
/// assert!(t.try_withdraw(now)); // 3 > 2
/// t.on_success(None, now); // 4, never above the maximum
/// t.on_retryable_failure(Outcome::Failure, now);
/// assert!(t.try_withdraw(now)); // 3
/// t.on_retryable_failure(Outcome::Failure, now);
/// assert!(!t.try_withdraw(now)); // 2: at the threshold, no retries
/// t.on_success(None, now);
/// assert_eq!(t.milli_tokens(), 3_600);
/// assert!(t.try_withdraw(now));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GrpcThrottle {
    max_milli: u32,
    ratio_milli: u32,
    milli: u32,
}

impl GrpcThrottle {
    /// A full throttle, or the error of [`GrpcThrottleConfig::validate`],
    /// naming the field.
    ///
    /// ```
    /// # use steadfast::retry::{GrpcThrottle, GrpcThrottleConfig};
    /// let config = GrpcThrottleConfig::DEFAULT.with_max_tokens(10).with_token_ratio_milli(100);
    /// assert_eq!(GrpcThrottle::new(config)?.milli_tokens(), 10_000);
    /// assert_eq!(GrpcThrottle::new(config.with_max_tokens(0)).unwrap_err().field, "max_tokens");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn new(config: GrpcThrottleConfig) -> Result<Self, ConfigError> {
        if let Err(e) = config.validate() {
            return Err(e);
        }
        Ok(Self {
            max_milli: config.max_tokens * 1_000,
            ratio_milli: config.token_ratio_milli,
            milli: config.max_tokens * 1_000,
        })
    }

    /// Tokens left, in thousandths.
    pub const fn milli_tokens(&self) -> u32 {
        self.milli
    }

    /// The maximum, in tokens.
    pub const fn max_tokens(&self) -> u32 {
        self.max_milli / 1_000
    }

    /// The tokens a successful call gives back, in thousandths.
    pub const fn token_ratio_milli(&self) -> u32 {
        self.ratio_milli
    }

    /// Whether a retry is allowed now: more than half the maximum is left.
    pub const fn allows_retries(&self) -> bool {
        self.milli > self.max_milli / 2
    }
}

/// The settings of a [`GrpcThrottle`], as gRPC's service config names them
/// (`retryThrottling`): `max_tokens` (1 to 1 000) and `token_ratio`, in
/// thousandths here (gRPC allows three decimal places; at least 0.001).
///
/// Defaults: 10 tokens, 0.1 back per successful call (the gRPC retry design's
/// example).
///
/// ```
/// use steadfast::retry::GrpcThrottleConfig;
///
/// const C: GrpcThrottleConfig = GrpcThrottleConfig::DEFAULT.with_max_tokens(4).with_token_ratio_milli(1_600);
/// assert_eq!((C.max_tokens(), C.token_ratio_milli()), (4, 1_600));
/// assert_eq!(GrpcThrottleConfig::DEFAULT.with_max_tokens(1_001).validate().unwrap_err().field, "max_tokens");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GrpcThrottleConfig {
    max_tokens: u32,
    token_ratio_milli: u32,
}

impl GrpcThrottleConfig {
    /// 10 tokens, 0.1 token back per successful call.
    ///
    /// ```
    /// # use steadfast::retry::GrpcThrottleConfig;
    /// assert_eq!(GrpcThrottleConfig::DEFAULT.max_tokens(), 10);
    /// ```
    pub const DEFAULT: Self = Self {
        max_tokens: 10,
        token_ratio_milli: 100,
    };

    /// The defaults; start of a `const` builder chain (same as
    /// [`GrpcThrottleConfig::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::retry::GrpcThrottleConfig;
    /// assert_eq!(GrpcThrottleConfig::new(), GrpcThrottleConfig::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Sets the maximum (and starting) number of tokens, 1 to 1 000.
    ///
    /// ```
    /// # use steadfast::retry::GrpcThrottleConfig;
    /// assert_eq!(GrpcThrottleConfig::DEFAULT.with_max_tokens(4).max_tokens(), 4);
    /// ```
    #[must_use]
    pub const fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Sets the tokens a successful call gives back, in thousandths (at least 1).
    ///
    /// ```
    /// # use steadfast::retry::GrpcThrottleConfig;
    /// assert_eq!(GrpcThrottleConfig::DEFAULT.with_token_ratio_milli(1_600).token_ratio_milli(), 1_600);
    /// ```
    #[must_use]
    pub const fn with_token_ratio_milli(mut self, token_ratio_milli: u32) -> Self {
        self.token_ratio_milli = token_ratio_milli;
        self
    }

    /// The maximum number of tokens.
    ///
    /// ```
    /// # use steadfast::retry::GrpcThrottleConfig;
    /// assert_eq!(GrpcThrottleConfig::DEFAULT.max_tokens(), 10);
    /// ```
    pub const fn max_tokens(&self) -> u32 {
        self.max_tokens
    }

    /// The tokens a successful call gives back, in thousandths.
    ///
    /// ```
    /// # use steadfast::retry::GrpcThrottleConfig;
    /// assert_eq!(GrpcThrottleConfig::DEFAULT.token_ratio_milli(), 100);
    /// ```
    pub const fn token_ratio_milli(&self) -> u32 {
        self.token_ratio_milli
    }

    /// The one check of this config, run by [`GrpcThrottle::new`]:
    /// `max_tokens` in `1..=1000`, `token_ratio` at least 0.001.
    ///
    /// ```
    /// # use steadfast::retry::GrpcThrottleConfig;
    /// assert!(GrpcThrottleConfig::DEFAULT.validate().is_ok());
    /// assert_eq!(GrpcThrottleConfig::DEFAULT.with_max_tokens(0).validate().unwrap_err().field, "max_tokens");
    /// assert_eq!(GrpcThrottleConfig::DEFAULT.with_token_ratio_milli(0).validate().unwrap_err().field, "token_ratio");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.max_tokens == 0 || self.max_tokens > 1_000 {
            return Err(ConfigError::new("max_tokens", "must be between 1 and 1000"));
        }
        if self.token_ratio_milli == 0 {
            return Err(ConfigError::new("token_ratio", "must be at least 0.001"));
        }
        Ok(())
    }
}

impl Default for GrpcThrottleConfig {
    /// [`GrpcThrottleConfig::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl RetryBudget for GrpcThrottle {
    /// Requests take and give nothing.
    fn on_request(&mut self, _now: Instant) {}

    /// Takes 1 token.
    fn on_retryable_failure(&mut self, _after: Outcome, _now: Instant) {
        self.milli = self.milli.saturating_sub(1_000);
    }

    /// Allowed while more than half the maximum is left; takes nothing (the
    /// failure already paid).
    fn withdraw(&mut self, _after: Outcome, now: Instant) -> Option<Withdrawal> {
        self.allows_retries().then_some(Withdrawal::new(0, now))
    }

    /// Nothing comes back.
    fn give_back(&mut self, _withdrawal: Withdrawal, _now: Instant) {}

    /// `token_ratio` tokens back, never above the maximum.
    fn on_success(&mut self, _retry: Option<Withdrawal>, _now: Instant) {
        self.milli = self
            .milli
            .saturating_add(self.ratio_milli)
            .min(self.max_milli);
    }
}
