//! The policy of a pipeline: stage order, fallback rule, retry and timeouts.

use crate::backoff::{Backoff, ConstBackoff, Delays, Fixed};
use crate::error::ConfigError;
use crate::retry;
use crate::timeout;

use super::Failure;

/// Which stage wraps which. See the [module docs](super).
///
/// ```
/// use steadfast::pipeline::Order;
/// assert_eq!(Order::default(), Order::Standard);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Order {
    /// TotalTimeout → Retry → Breaker → Bulkhead → AttemptTimeout → operation.
    /// A bulkhead slot is held only while an attempt runs.
    #[default]
    Standard,
    /// Bulkhead → TotalTimeout → Retry → Breaker → AttemptTimeout → operation
    /// (Polly's classic wrap): one slot for the whole call, waits included.
    BulkheadOutermost,
    /// TotalTimeout → Breaker → Retry → Bulkhead → AttemptTimeout → operation
    /// (Polly and resilience4j allow it): one breaker decision per call. The
    /// breaker admits the call once, before its first attempt; retries do not
    /// ask it again, and the call's end is recorded once — the last attempt's
    /// outcome, or a cancellation when the call ended without the dependency
    /// failing (local rejection, total deadline, caller gone). A bulkhead
    /// slot is held per attempt, as in `Standard`.
    BreakerOutermost,
}

/// When a failed call is answered by the adapter's fallback instead of an error.
///
/// ```
/// use steadfast::pipeline::{Failure, FallbackOn, Reason};
/// let on = FallbackOn::Rejection;
/// assert!(on.covers(&Failure::new(Reason::BulkheadFull, 1)));
/// assert!(!on.covers(&Failure::new(Reason::RetriesExhausted, 3)));
/// assert!(FallbackOn::AnyFailure.covers(&Failure::new(Reason::DeadlineExceeded, 1)));
/// assert!(!FallbackOn::AnyFailure.covers(&Failure::new(Reason::Cancelled, 1)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum FallbackOn {
    /// Never: failures reach the caller.
    #[default]
    Never,
    /// Only when the call was refused without an answer from the dependency:
    /// breaker open, bulkhead full or its queue wait expired (the seeds'
    /// "serve from cache when the circuit is open").
    Rejection,
    /// Every way a call can fail: rejections, timeouts, exhausted retries,
    /// non-retryable failures. Not a cancelled call: nobody waits for its answer.
    AnyFailure,
}

impl FallbackOn {
    /// Whether a call that failed this way gets the fallback.
    ///
    /// ```
    /// # use steadfast::pipeline::{Failure, FallbackOn, Reason};
    /// assert!(!FallbackOn::Never.covers(&Failure::new(Reason::BulkheadFull, 1)));
    /// ```
    pub const fn covers(self, failure: &Failure) -> bool {
        match self {
            Self::Never => false,
            Self::Rejection => failure.is_rejection(),
            Self::AnyFailure => !matches!(failure.reason, super::Reason::Cancelled),
        }
    }
}

/// The policy of a [`Pipeline`](super::Pipeline): retry, timeouts, order and fallback.
///
/// Breaker, bulkhead and budget are not here: they are shared machines with
/// their own configs, lent to each call through [`Shared`](super::Shared).
///
/// ```
/// use steadfast::pipeline::{self, FallbackOn};
/// use steadfast::timeout;
/// use steadfast::time::Duration;
///
/// const CONFIG: pipeline::Config = pipeline::Config::DEFAULT
///     .with_timeout(timeout::Config::DEFAULT.with_attempt(Duration::from_secs(2)).with_total(Duration::from_secs(10)))
///     .with_fallback(FallbackOn::Rejection);
/// assert_eq!(CONFIG.retry().max_attempts(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config<D: Delays = Backoff> {
    /// Attempts, backoff, retry-after cap, whether timeouts are retried.
    pub(crate) retry: retry::Config<D>,
    /// Per-attempt and total timeouts (`None` = no timeout).
    pub(crate) timeout: timeout::Config,
    /// Which stage wraps which.
    pub(crate) order: Order,
    /// When the adapter's fallback answers instead of an error.
    pub(crate) fallback: FallbackOn,
}

impl Config<Backoff> {
    /// The seeds' defaults: 3 attempts with jittered exponential backoff, a 30 s
    /// attempt timeout, no total timeout, standard order, no fallback.
    pub const DEFAULT: Self = Self {
        retry: retry::Config::DEFAULT,
        timeout: timeout::Config::DEFAULT,
        order: Order::Standard,
        fallback: FallbackOn::Never,
    };

    /// The defaults; start of a `const` builder chain (same as [`Config::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::pipeline;
    /// assert_eq!(pipeline::Config::new(), pipeline::Config::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// The one check of this config, run by [`Pipeline::new`](super::Pipeline::new):
    /// the retry policy's ([`retry::Config::validate`]) and the timeouts'.
    ///
    /// ```
    /// # use steadfast::{pipeline, retry};
    /// let bad = pipeline::Config::DEFAULT.with_retry(retry::Config::DEFAULT.with_max_attempts(0));
    /// assert_eq!(bad.validate().unwrap_err().field, "max_attempts");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with(self.retry.validate())
    }
}

impl<T: ConstBackoff> Config<Fixed<T>> {
    /// The one check of this config, as for a config that holds its backoff:
    /// the retry policy's (with `T::BACKOFF`) and the timeouts'.
    ///
    /// ```
    /// use steadfast::backoff::{Backoff, ConstBackoff, Fixed};
    /// use steadfast::{pipeline, retry};
    ///
    /// struct Sensor;
    /// impl ConstBackoff for Sensor { const BACKOFF: Backoff = Backoff::DEFAULT; }
    /// let config = pipeline::Config::DEFAULT
    ///     .with_retry(retry::Config::DEFAULT.with_max_attempts(0).with_backoff(Fixed::<Sensor>::new()));
    /// assert_eq!(config.validate().unwrap_err().field, "max_attempts");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with(self.retry.validate())
    }
}

impl<D: Delays> Config<D> {
    /// [`validate`](Config::validate) given the retry policy's own answer.
    const fn validate_with(&self, retry: Result<(), ConfigError>) -> Result<(), ConfigError> {
        if let Err(e) = retry {
            return Err(e);
        }
        self.timeout.validate()
    }

    /// The same config with another retry policy.
    ///
    /// ```
    /// # use steadfast::pipeline;
    /// # use steadfast::retry;
    /// let config = pipeline::Config::DEFAULT.with_retry(retry::Config::DEFAULT.with_max_attempts(1));
    /// assert_eq!(config.retry().max_attempts(), 1);
    /// ```
    #[must_use]
    pub const fn with_retry<E: Delays>(self, retry: retry::Config<E>) -> Config<E> {
        Config {
            retry,
            timeout: self.timeout,
            order: self.order,
            fallback: self.fallback,
        }
    }

    /// The same config with other timeouts.
    ///
    /// ```
    /// # use steadfast::pipeline;
    /// # use steadfast::timeout;
    /// let config = pipeline::Config::DEFAULT.with_timeout(timeout::Config::NONE);
    /// assert_eq!(config.timeout().attempt(), None);
    /// ```
    #[must_use]
    pub const fn with_timeout(mut self, timeout: timeout::Config) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same config with another stage order.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Order};
    /// let config = pipeline::Config::DEFAULT.with_order(Order::BulkheadOutermost);
    /// assert_eq!(config.order(), Order::BulkheadOutermost);
    /// ```
    #[must_use]
    pub const fn with_order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// The same config with another fallback rule.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, FallbackOn};
    /// let config = pipeline::Config::DEFAULT.with_fallback(FallbackOn::AnyFailure);
    /// assert_eq!(config.fallback(), FallbackOn::AnyFailure);
    /// ```
    #[must_use]
    pub const fn with_fallback(mut self, fallback: FallbackOn) -> Self {
        self.fallback = fallback;
        self
    }

    /// Attempts, backoff, retry-after cap, whether timeouts are retried.
    ///
    /// ```
    /// # use steadfast::pipeline;
    /// assert_eq!(pipeline::Config::DEFAULT.retry().max_attempts(), 3);
    /// ```
    pub const fn retry(&self) -> retry::Config<D> {
        self.retry
    }

    /// Per-attempt and total timeouts.
    ///
    /// ```
    /// # use steadfast::pipeline;
    /// assert_eq!(pipeline::Config::DEFAULT.timeout().total(), None);
    /// ```
    pub const fn timeout(&self) -> timeout::Config {
        self.timeout
    }

    /// Which stage wraps which.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Order};
    /// assert_eq!(pipeline::Config::DEFAULT.order(), Order::Standard);
    /// ```
    pub const fn order(&self) -> Order {
        self.order
    }

    /// When the adapter's fallback answers instead of an error.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, FallbackOn};
    /// assert_eq!(pipeline::Config::DEFAULT.fallback(), FallbackOn::Never);
    /// ```
    pub const fn fallback(&self) -> FallbackOn {
        self.fallback
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}
