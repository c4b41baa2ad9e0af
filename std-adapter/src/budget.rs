//! [`SharedBudget`]: one retry budget shared by the calls of many policies.

use std::fmt;

use steadfast::error::ConfigError;
use steadfast::retry::{
    AnyBudget, AnyBudgetConfig, BudgetConfig, BudgetStats, GrpcThrottleConfig, RetryBudget,
    TokenBucketConfig,
};

use crate::sync::{Arc, Mutex, MutexGuard, lock};
use crate::time;

/// A retry budget shared by every clone of this handle: Finagle-style
/// (retries allowed as a ratio of requests, plus a floor per second;
/// [`new`](Self::new)), the AWS SDKs' token bucket
/// ([`token_bucket`](Self::token_bucket)) or gRPC's retry throttling
/// ([`grpc`](Self::grpc)). Exact integer accounting (tower's `TpsBudget`
/// over-grants, tower #857).
///
/// ```
/// use steadfast::retry::BudgetConfig;
/// use steadfast_std::SharedBudget;
/// let budget = SharedBudget::new(BudgetConfig::default())?;
/// assert!(budget.retries_available() > 0); // the per-second floor
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SharedBudget {
    inner: Arc<Mutex<AnyBudget<BUDGET_BUCKETS>>>,
}

/// The time buckets of a [`SharedBudget`]'s window: each covers `window / 10`, so
/// a window must be at least this many microseconds.
pub(crate) const BUDGET_BUCKETS: usize = 10;

impl fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBudget")
            .field("stats", &self.stats())
            .finish()
    }
}

impl SharedBudget {
    /// A budget with this config (validated when the config was built).
    ///
    /// ```
    /// # use steadfast_std::SharedBudget;
    /// let b = SharedBudget::new(steadfast::retry::BudgetConfig::default())?;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// A `window` shorter than 10 µs is refused: the window is kept in 10 time
    /// buckets of at least a microsecond each.
    ///
    /// ```
    /// # use steadfast_std::SharedBudget;
    /// use steadfast::{retry::BudgetConfig, time::Duration};
    /// let short = BudgetConfig::DEFAULT.with_ratio_permille(200).with_min_retries_per_sec(10).with_window(Duration::from_micros(5));
    /// let err = SharedBudget::new(short).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid `window`: must be at least 10us (10 time buckets of at least 1us each)");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(config: BudgetConfig) -> Result<Self, ConfigError> {
        Self::of(AnyBudgetConfig::Ratio(config))
    }

    /// The AWS SDKs' retry token bucket: a retry costs `retry_cost` tokens
    /// (`timeout_retry_cost` after a timeout), a first-attempt success adds
    /// a token back.
    ///
    /// ```
    /// use steadfast::retry::TokenBucketConfig;
    /// let b = steadfast_std::SharedBudget::token_bucket(TokenBucketConfig::DEFAULT)?;
    /// assert_eq!(b.retries_available(), 100); // 500 tokens, 5 a retry
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn token_bucket(config: TokenBucketConfig) -> Result<Self, ConfigError> {
        Self::of(AnyBudgetConfig::TokenBucket(config))
    }

    /// gRPC's retry throttling: every retryable failure takes a token, every
    /// success gives `token_ratio` back, retries only while more than half
    /// of `max_tokens` are left.
    ///
    /// ```
    /// use steadfast::retry::GrpcThrottleConfig;
    /// let b = steadfast_std::SharedBudget::grpc(GrpcThrottleConfig::DEFAULT.with_max_tokens(10))?;
    /// assert_eq!(b.retries_available(), 4); // 10 tokens: retries while above 5
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn grpc(config: GrpcThrottleConfig) -> Result<Self, ConfigError> {
        Self::of(AnyBudgetConfig::Grpc(config))
    }

    /// A budget of the kind `config` names (what a config file's
    /// `[budgets.NAME]` builds).
    ///
    /// ```
    /// use steadfast::retry::{AnyBudgetConfig, BudgetConfig};
    /// let b = steadfast_std::SharedBudget::of(AnyBudgetConfig::Ratio(BudgetConfig::DEFAULT))?;
    /// assert_eq!(b.stats().requests, 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn of(config: AnyBudgetConfig) -> Result<Self, ConfigError> {
        let budget = AnyBudget::new(config).map_err(|e| match e.field {
            "window" => ConfigError {
                field: "window",
                problem: "must be at least 10us (10 time buckets of at least 1us each)",
            },
            _ => e,
        })?;
        Ok(Self {
            inner: Arc::new(Mutex::new(budget)),
        })
    }

    /// Retries the budget would grant now.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBudget::new(Default::default())?;
    /// assert_eq!(b.retries_available(), 100); // 10/s floor × 10 s window
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn retries_available(&self) -> u64 {
        lock(&self.inner).retries_available(time::now())
    }

    /// The counters.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBudget::new(Default::default())?;
    /// let _ = b.stats();
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn stats(&self) -> BudgetStats {
        lock(&self.inner).stats()
    }

    /// Records one original request (a deposit); for drivers outside a
    /// [`Policy`](crate::Policy), e.g. the tower retry policy.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBudget::new(Default::default())?;
    /// b.on_request();
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn on_request(&self) {
        lock(&self.inner).on_request(time::now());
    }

    /// Takes the cost of one retry if the budget has it.
    ///
    /// ```
    /// # let b = steadfast_std::SharedBudget::new(Default::default())?;
    /// assert!(b.try_withdraw());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn try_withdraw(&self) -> bool {
        lock(&self.inner).try_withdraw(time::now())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, AnyBudget<BUDGET_BUCKETS>> {
        lock(&self.inner)
    }
}
