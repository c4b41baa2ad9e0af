//! How a call ended, in the words every pattern understands.
//!
//! The machines never see your `Result<T, E>`: a classifier turns it into a
//! [`Verdict`] once, and the breaker, the retry and the pipeline read the parts
//! they care about. This is where the seeds' `excluded_exceptions`,
//! `retryable_exceptions`, `retry_on` predicates and "status >= 500" rules live.
//!
//! * [`Outcome`] is what the **breaker** counts: a success, a failure, a call
//!   that counts as neither ([`Outcome::Ignored`], e.g. a 404 or a validation
//!   error that says nothing about the dependency's health), or an attempt cut
//!   short by its deadline ([`Outcome::TimedOut`]).
//! * [`Verdict::retryable`] is what the **retry** reads: may this be tried again?
//! * [`Verdict::retry_after`] carries a server's hint (`Retry-After`, gRPC
//!   pushback), honoured and capped by the retry policy.
//!
//! ```
//! use steadfast::outcome::{Classify, Outcome, Verdict};
//! use steadfast::time::Duration;
//!
//! /// An HTTP-ish classifier: 5xx fail and retry, 429 retries after a hint
//! /// without blaming the server, 4xx are the caller's fault.
//! struct Http;
//! impl Classify<u16, ()> for Http {
//!     fn classify(&self, result: &Result<u16, ()>) -> Verdict {
//!         match result {
//!             Ok(429) => Verdict::ignored().retry_after(Duration::from_secs(2)),
//!             Ok(s) if *s >= 500 => Verdict::failure(),
//!             Ok(s) if *s >= 400 => Verdict::ignored(),
//!             Ok(_) => Verdict::success(),
//!             Err(()) => Verdict::failure(),
//!         }
//!     }
//! }
//! let v = Http.classify(&Ok(503));
//! assert_eq!(v.outcome, Outcome::Failure);
//! assert!(v.retryable);
//! assert!(!Http.classify(&Ok(404)).retryable);
//! ```

use crate::time::Duration;

/// What the breaker counts for one finished call.
///
/// ```
/// use steadfast::outcome::Outcome;
/// assert!(Outcome::Failure.is_failure());
/// assert!(Outcome::TimedOut.is_failure());
/// assert!(!Outcome::Ignored.is_failure());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Outcome {
    /// The dependency did its job.
    Success,
    /// The dependency failed; counts against its health.
    Failure,
    /// Neither success nor failure: the seeds' excluded exceptions. Not counted
    /// by any window; a half-open probe that ends this way gives its slot back.
    Ignored,
    /// The attempt's deadline passed before it finished. The breaker counts it as
    /// a failure (it is also a slow call); the retry retries it when its config
    /// says timeouts are retryable.
    TimedOut,
}

impl Outcome {
    /// `true` for [`Failure`](Outcome::Failure) and [`TimedOut`](Outcome::TimedOut).
    ///
    /// ```
    /// # use steadfast::outcome::Outcome;
    /// assert!(!Outcome::Success.is_failure());
    /// ```
    pub const fn is_failure(self) -> bool {
        matches!(self, Self::Failure | Self::TimedOut)
    }
}

/// A classified result: the breaker's [`Outcome`], whether a retry may follow,
/// and a server's hint of when.
///
/// Build one with the constructors, then refine it:
///
/// ```
/// use steadfast::outcome::{Outcome, Verdict};
/// use steadfast::time::Duration;
///
/// let v = Verdict::failure().retry_after(Duration::from_secs(5));
/// assert_eq!(v.outcome, Outcome::Failure);
/// assert!(v.retryable);
/// assert_eq!(v.retry_after, Some(Duration::from_secs(5)));
///
/// let fatal = Verdict::failure().not_retryable();
/// assert!(!fatal.retryable);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Verdict {
    /// What the breaker records.
    pub outcome: Outcome,
    /// Whether the retry may try again (it still checks attempts, deadline and budget).
    pub retryable: bool,
    /// The earliest the server wants to see a retry, if it said.
    pub retry_after: Option<Duration>,
}

impl Verdict {
    /// A success: counted as one, never retried.
    ///
    /// ```
    /// # use steadfast::outcome::{Outcome, Verdict};
    /// assert_eq!(Verdict::success().outcome, Outcome::Success);
    /// ```
    pub const fn success() -> Self {
        Self {
            outcome: Outcome::Success,
            retryable: false,
            retry_after: None,
        }
    }

    /// A failure that may be retried (the common transient error).
    ///
    /// ```
    /// # use steadfast::outcome::Verdict;
    /// assert!(Verdict::failure().retryable);
    /// ```
    pub const fn failure() -> Self {
        Self {
            outcome: Outcome::Failure,
            retryable: true,
            retry_after: None,
        }
    }

    /// A call the breaker does not count and the retry does not repeat.
    ///
    /// ```
    /// # use steadfast::outcome::Verdict;
    /// assert!(!Verdict::ignored().retryable);
    /// ```
    pub const fn ignored() -> Self {
        Self {
            outcome: Outcome::Ignored,
            retryable: false,
            retry_after: None,
        }
    }

    /// An attempt that ran out of time: a failure for the breaker, retryable
    /// (the retry config may still refuse to retry timeouts).
    ///
    /// ```
    /// # use steadfast::outcome::{Outcome, Verdict};
    /// assert_eq!(Verdict::timed_out().outcome, Outcome::TimedOut);
    /// ```
    pub const fn timed_out() -> Self {
        Self {
            outcome: Outcome::TimedOut,
            retryable: true,
            retry_after: None,
        }
    }

    /// The same verdict, but never retried.
    ///
    /// ```
    /// # use steadfast::outcome::Verdict;
    /// assert!(!Verdict::failure().not_retryable().retryable);
    /// ```
    #[must_use]
    pub const fn not_retryable(self) -> Self {
        Self {
            retryable: false,
            ..self
        }
    }

    /// The same verdict, retryable, with the server's hint of when.
    ///
    /// ```
    /// # use steadfast::outcome::Verdict;
    /// # use steadfast::time::Duration;
    /// let v = Verdict::ignored().retry_after(Duration::from_millis(250));
    /// assert!(v.retryable);
    /// ```
    #[must_use]
    pub const fn retry_after(self, hint: Duration) -> Self {
        Self {
            retryable: true,
            retry_after: Some(hint),
            ..self
        }
    }
}

/// Turns a call's result into a [`Verdict`], without allocating.
///
/// Implemented for plain functions and closures `Fn(&Result<T, E>) -> Verdict`,
/// and by [`ErrorsFail`], the default: `Ok` succeeds, every `Err` is a retryable
/// failure.
///
/// ```
/// use steadfast::outcome::{Classify, ErrorsFail, Verdict};
///
/// #[derive(Debug)]
/// enum SensorError { Nak, BadChecksum, NotCalibrated }
///
/// // NAKs are transient; a bad checksum is a failure not worth retrying;
/// // a sensor that is not calibrated is our bug, not the bus's.
/// let classify = |r: &Result<u16, SensorError>| match r {
///     Ok(_) => Verdict::success(),
///     Err(SensorError::Nak) => Verdict::failure(),
///     Err(SensorError::BadChecksum) => Verdict::failure().not_retryable(),
///     Err(SensorError::NotCalibrated) => Verdict::ignored(),
/// };
/// assert!(classify.classify(&Err(SensorError::Nak)).retryable);
/// assert!(!classify.classify(&Err(SensorError::BadChecksum)).retryable);
/// assert_eq!(ErrorsFail.classify(&Ok::<u8, ()>(1)), Verdict::success());
/// ```
pub trait Classify<T, E> {
    /// The verdict for one result.
    fn classify(&self, result: &Result<T, E>) -> Verdict;
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Verdict,
{
    fn classify(&self, result: &Result<T, E>) -> Verdict {
        self(result)
    }
}

/// The default classifier: `Ok` is a success, every `Err` a retryable failure.
///
/// ```
/// use steadfast::outcome::{Classify, ErrorsFail, Verdict};
/// assert_eq!(ErrorsFail.classify(&Err::<(), _>("boom")), Verdict::failure());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ErrorsFail;

impl<T, E> Classify<T, E> for ErrorsFail {
    fn classify(&self, result: &Result<T, E>) -> Verdict {
        match result {
            Ok(_) => Verdict::success(),
            Err(_) => Verdict::failure(),
        }
    }
}
