//! [`retry::Config`](crate::retry::Config): how many attempts, how long between them, which hints and
//! outcomes to honour.

use crate::backoff::{Backoff, ConstBackoff, Delays, Fixed};
use crate::error::ConfigError;
use crate::time::Duration;

/// A retry policy, shared by every [`Retry`](super::Retry) it starts.
///
/// * `max_attempts` counts **all** attempts including the first (gRPC, AWS,
///   resilience4j; Polly counts retries only): 3 means one call and at most two
///   retries; 1 means never retry. The first retry waits the backoff's `base`.
///   [`UNLIMITED_ATTEMPTS`](Self::UNLIMITED_ATTEMPTS) (`u32::MAX`,
///   [`with_unlimited_attempts`](Self::with_unlimited_attempts)) removes the
///   limit: only the total deadline (give the call one), the budget or a
///   non-retryable outcome end the retries.
/// * `backoff`: the delays between attempts: a [`Backoff`] the config holds
///   (`D = Backoff`, the default), or one fixed at compile time and named by a
///   type ([`Fixed`], for firmware: no bytes held, and only the growth and
///   jitter it uses are compiled in). See [`Delays`].
/// * `max_retry_after`: the cap on a server's retry-after hint. With a hint the delay
///   is `min(max(hint, computed), max_retry_after)`: never sooner than the server
///   asked, never later than this cap. (Note that the cap applies to the combined
///   value: keep it ≥ the backoff's cap, as the defaults do, if a hint must never
///   shorten the computed delay.)
/// * `retry_on_timeout`: whether an attempt that timed out may be retried.
///
/// Defaults (the seeds'): 3 attempts, [`Backoff::DEFAULT`] (100 ms ×2, cap 60 s,
/// equal jitter), `max_retry_after` 60 s, `retry_on_timeout` true.
///
/// ```
/// use steadfast::backoff::Backoff;
/// use steadfast::retry;
/// use steadfast::time::Duration;
///
/// // a `const` builder chain, for a static on an MCU
/// const POLICY: retry::Config = retry::Config::DEFAULT
///     .with_max_attempts(5)
///     .with_backoff(Backoff::constant(Duration::from_millis(20)))
///     .with_retry_on_timeout(false);
/// assert_eq!(POLICY.max_attempts(), 5);
/// assert_eq!(retry::Config::DEFAULT.with_max_attempts(0).validate().unwrap_err().field, "max_attempts");
/// assert_eq!(retry::Config::default().max_attempts(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Config<D: Delays = Backoff> {
    pub(super) max_attempts: u32,
    backoff: D,
    max_retry_after: Duration,
    retry_on_timeout: bool,
}

impl Default for Config {
    /// [`retry::Config::DEFAULT`](crate::retry::Config::DEFAULT).
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Config<Backoff> {
    /// 3 attempts, [`Backoff::DEFAULT`], hints capped at 60 s, timeouts retried.
    ///
    /// ```
    /// # use steadfast::retry;
    /// # use steadfast::time::Duration;
    /// assert_eq!(retry::Config::DEFAULT.max_retry_after(), Duration::from_secs(60));
    /// assert!(retry::Config::DEFAULT.retry_on_timeout());
    /// ```
    pub const DEFAULT: Self = Self {
        max_attempts: 3,
        backoff: Backoff::DEFAULT,
        max_retry_after: Duration::from_secs(60),
        retry_on_timeout: true,
    };

    /// The `max_attempts` that means no limit on attempts (`u32::MAX`): a
    /// [`Retry`](super::Retry) never gives up for its attempt count, which
    /// saturates at `u32::MAX` (attempts past that are all numbered
    /// `u32::MAX`). Bound such a call by a total deadline; without one (and
    /// without a budget) it retries every retryable failure forever.
    ///
    /// ```
    /// use steadfast::backoff::Backoff;
    /// use steadfast::retry;
    ///
    /// let forever = retry::Config::DEFAULT.with_max_attempts(retry::Config::UNLIMITED_ATTEMPTS);
    /// assert_eq!(forever.attempt_limit(), None);
    /// ```
    pub const UNLIMITED_ATTEMPTS: u32 = u32::MAX;

    /// The defaults; start of a `const` builder chain (same as [`Config::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::retry;
    /// assert_eq!(retry::Config::new(), retry::Config::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// The one check of this config, run by
    /// [`Pipeline::new`](crate::pipeline::Pipeline::new) (and by adapters that
    /// start [`Retry`](super::Retry)s themselves): `max_attempts >= 1` and a
    /// valid backoff. A [`Retry`](super::Retry) started from an unchecked config
    /// never panics; `max_attempts = 0` acts as 1.
    ///
    /// ```
    /// # use steadfast::retry;
    /// assert!(retry::Config::DEFAULT.validate().is_ok());
    /// assert_eq!(retry::Config::DEFAULT.with_max_attempts(0).validate().unwrap_err().field, "max_attempts");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with(self.backoff.validate())
    }

    /// The delays between attempts.
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// # use steadfast::retry;
    /// assert_eq!(retry::Config::DEFAULT.backoff(), Backoff::DEFAULT);
    /// ```
    pub const fn backoff(&self) -> Backoff {
        self.backoff
    }
}

impl<T: ConstBackoff> Config<Fixed<T>> {
    /// The one check of this config: `max_attempts >= 1` and a valid
    /// `T::BACKOFF`, as for a config that holds its backoff.
    ///
    /// ```
    /// use steadfast::backoff::{Backoff, ConstBackoff, Fixed};
    /// use steadfast::retry;
    /// use steadfast::time::Duration;
    ///
    /// struct Backwards;
    /// impl ConstBackoff for Backwards {
    ///     const BACKOFF: Backoff = Backoff::constant(Duration::from_secs(2)).with_cap(Duration::from_secs(1));
    /// }
    /// let config = retry::Config::DEFAULT.with_backoff(Fixed::<Backwards>::new());
    /// assert_eq!(config.validate().unwrap_err().field, "base");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with(T::BACKOFF.validate())
    }

    /// The delays between attempts: `T::BACKOFF`.
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, ConstBackoff, Fixed};
    /// # use steadfast::retry;
    /// struct Pump;
    /// impl ConstBackoff for Pump { const BACKOFF: Backoff = Backoff::DEFAULT; }
    /// let config = retry::Config::DEFAULT.with_backoff(Fixed::<Pump>::new());
    /// assert_eq!(config.backoff(), Backoff::DEFAULT);
    /// ```
    pub const fn backoff(&self) -> Backoff {
        T::BACKOFF
    }
}

impl<D: Delays> Config<D> {
    /// [`validate`](Config::validate) given the backoff's own answer: the
    /// attempt limit is checked first.
    pub(crate) const fn validate_with(
        &self,
        backoff: Result<(), ConfigError>,
    ) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError {
                field: "max_attempts",
                problem: "must be at least 1 (it counts the first attempt)",
            });
        }
        backoff
    }

    /// The delays as a value, wherever they are read from.
    #[inline(always)]
    pub(crate) fn delays(&self) -> &D {
        &self.backoff
    }

    /// Sets the attempt limit (≥ 1, counting the first; or
    /// [`UNLIMITED_ATTEMPTS`](Self::UNLIMITED_ATTEMPTS)); every other field is kept.
    ///
    /// ```
    /// # use steadfast::retry;
    /// assert_eq!(retry::Config::DEFAULT.with_max_attempts(10).max_attempts(), 10);
    /// ```
    #[must_use]
    pub const fn with_max_attempts(self, max_attempts: u32) -> Self {
        Self {
            max_attempts,
            ..self
        }
    }

    /// The same config with no limit on attempts
    /// ([`UNLIMITED_ATTEMPTS`](Self::UNLIMITED_ATTEMPTS)): bounded only by the
    /// total deadline, the budget and the outcomes.
    ///
    /// ```
    /// # use steadfast::retry;
    /// const FOREVER: retry::Config = retry::Config::DEFAULT.with_unlimited_attempts();
    /// assert_eq!(FOREVER.max_attempts(), retry::Config::UNLIMITED_ATTEMPTS);
    /// ```
    #[must_use]
    pub const fn with_unlimited_attempts(self) -> Self {
        Self {
            max_attempts: Config::UNLIMITED_ATTEMPTS,
            ..self
        }
    }

    /// The same config with another backoff (checked with the rest by
    /// [`validate`](Config::validate)): a [`Backoff`] value, or a [`Fixed`]
    /// constant.
    ///
    /// ```
    /// # use steadfast::backoff::Backoff;
    /// # use steadfast::retry;
    /// # use steadfast::time::Duration;
    /// let b = Backoff::constant(Duration::from_secs(1));
    /// assert_eq!(retry::Config::DEFAULT.with_backoff(b).backoff(), b);
    /// ```
    #[must_use]
    pub const fn with_backoff<E: Delays>(self, backoff: E) -> Config<E> {
        Config {
            max_attempts: self.max_attempts,
            backoff,
            max_retry_after: self.max_retry_after,
            retry_on_timeout: self.retry_on_timeout,
        }
    }

    /// The same config with another cap on server retry-after hints.
    ///
    /// ```
    /// # use steadfast::retry;
    /// # use steadfast::time::Duration;
    /// let c = retry::Config::DEFAULT.with_max_retry_after(Duration::from_secs(120));
    /// assert_eq!(c.max_retry_after(), Duration::from_secs(120));
    /// ```
    #[must_use]
    pub const fn with_max_retry_after(self, max_retry_after: Duration) -> Self {
        Self {
            max_retry_after,
            ..self
        }
    }

    /// The same config, retrying timed-out attempts or not.
    ///
    /// ```
    /// # use steadfast::retry;
    /// assert!(!retry::Config::DEFAULT.with_retry_on_timeout(false).retry_on_timeout());
    /// ```
    #[must_use]
    pub const fn with_retry_on_timeout(self, retry_on_timeout: bool) -> Self {
        Self {
            retry_on_timeout,
            ..self
        }
    }

    /// All attempts allowed, the first included
    /// ([`UNLIMITED_ATTEMPTS`](Self::UNLIMITED_ATTEMPTS) for no limit).
    ///
    /// ```
    /// # use steadfast::retry;
    /// assert_eq!(retry::Config::DEFAULT.max_attempts(), 3);
    /// ```
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The limit on attempts, the first included; `None` when unlimited.
    ///
    /// ```
    /// # use steadfast::retry;
    /// assert_eq!(retry::Config::DEFAULT.attempt_limit(), Some(3));
    /// assert_eq!(retry::Config::DEFAULT.with_unlimited_attempts().attempt_limit(), None);
    /// ```
    pub const fn attempt_limit(&self) -> Option<u32> {
        match self.max_attempts {
            Config::UNLIMITED_ATTEMPTS => None,
            limit => Some(limit),
        }
    }

    /// The cap on a server's retry-after hint (and on a hinted delay).
    ///
    /// ```
    /// # use steadfast::retry;
    /// # use steadfast::time::Duration;
    /// assert_eq!(retry::Config::DEFAULT.max_retry_after(), Duration::from_secs(60));
    /// ```
    pub const fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Whether a timed-out attempt may be retried.
    ///
    /// ```
    /// # use steadfast::retry;
    /// assert!(retry::Config::DEFAULT.retry_on_timeout());
    /// ```
    pub const fn retry_on_timeout(&self) -> bool {
        self.retry_on_timeout
    }
}
