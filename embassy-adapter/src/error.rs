//! How a guarded call failed: the core's [`Failure`], plus the operation's own
//! error where there is one.

use core::fmt;

use steadfast::pipeline::Failure;
use steadfast::time::Instant;

/// Why [`Policy::call`](crate::Policy::call) returned no value. Mirrors
/// [`Failure`]; `error` is the last attempt's own error (`None` when that
/// attempt timed out, or returned `Ok` that the classifier called a failure).
///
/// ```
/// use steadfast_embassy::Error;
/// let e: Error<&str> = Error::RetriesExhausted { attempts: 3, error: Some("nak") };
/// assert_eq!(e.attempts(), 3);
/// assert_eq!(e.operation_error(), Some(&"nak"));
/// assert!(!e.is_rejection());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<E> {
    /// The last attempt failed and was not retryable ([`Failure::NotRetryable`],
    /// or an error the classifier marked ignored).
    NotRetryable {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        error: Option<E>,
    },
    /// Every attempt failed, the next retry would pass the total deadline, or
    /// the retry budget refused it ([`Failure::RetriesExhausted`]).
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        error: Option<E>,
    },
    /// The breaker refused and waiting for it was not possible
    /// ([`Failure::BreakerOpen`]).
    BreakerOpen {
        /// Attempts that ran before.
        attempts: u32,
        /// When the breaker will admit again, if known (steadfast time).
        retry_at: Option<Instant>,
    },
    /// No bulkhead slot, no queue room, or the queue wait ran out
    /// ([`Failure::BulkheadFull`]).
    BulkheadFull {
        /// Attempts that ran before.
        attempts: u32,
    },
    /// The total deadline passed ([`Failure::TimedOut`]).
    TimedOut {
        /// Attempts that ran.
        attempts: u32,
    },
    /// The policy's [`FallbackOn`](steadfast::pipeline::FallbackOn) covers this
    /// failure: answer with your fallback.
    Fallback(Failure),
}

impl<E> Error<E> {
    /// The error for a failed call, with the last attempt's own error.
    pub(crate) fn from_failure(failure: Failure, error: Option<E>) -> Self {
        match failure {
            Failure::NotRetryable { attempts, .. } => Self::NotRetryable { attempts, error },
            Failure::RetriesExhausted { attempts, .. } => {
                Self::RetriesExhausted { attempts, error }
            }
            Failure::BreakerOpen { attempts, retry_at } => Self::BreakerOpen { attempts, retry_at },
            Failure::BulkheadFull { attempts } => Self::BulkheadFull { attempts },
            Failure::TimedOut { attempts } => Self::TimedOut { attempts },
        }
    }

    /// Attempts that ran.
    ///
    /// ```
    /// # use steadfast_embassy::Error;
    /// assert_eq!(Error::<()>::BulkheadFull { attempts: 0 }.attempts(), 0);
    /// ```
    pub const fn attempts(&self) -> u32 {
        match self {
            Self::NotRetryable { attempts, .. }
            | Self::RetriesExhausted { attempts, .. }
            | Self::BreakerOpen { attempts, .. }
            | Self::BulkheadFull { attempts }
            | Self::TimedOut { attempts } => *attempts,
            Self::Fallback(f) => f.attempts(),
        }
    }

    /// `true` when the dependency never saw the last try (breaker, bulkhead).
    ///
    /// ```
    /// # use steadfast_embassy::Error;
    /// assert!(Error::<()>::BreakerOpen { attempts: 0, retry_at: None }.is_rejection());
    /// ```
    pub const fn is_rejection(&self) -> bool {
        match self {
            Self::BreakerOpen { .. } | Self::BulkheadFull { .. } => true,
            Self::Fallback(f) => f.is_rejection(),
            _ => false,
        }
    }

    /// The last attempt's own error, if the call ended with one.
    pub const fn operation_error(&self) -> Option<&E> {
        match self {
            Self::NotRetryable { error, .. } | Self::RetriesExhausted { error, .. } => {
                error.as_ref()
            }
            _ => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRetryable { attempts, error } => {
                write!(f, "not retryable after {attempts} attempt(s)")?;
                last_error(f, error.as_ref())
            }
            Self::RetriesExhausted { attempts, error } => {
                write!(f, "gave up after {attempts} attempt(s)")?;
                last_error(f, error.as_ref())
            }
            Self::BreakerOpen { retry_at, .. } => match retry_at {
                Some(at) => write!(f, "circuit open until {at}"),
                None => f.write_str("circuit open"),
            },
            Self::BulkheadFull { .. } => f.write_str("bulkhead full"),
            Self::TimedOut { attempts } => {
                write!(f, "timed out after {attempts} attempt(s)")
            }
            Self::Fallback(failure) => write!(f, "fallback for {failure:?}"),
        }
    }
}

fn last_error<E: fmt::Debug>(f: &mut fmt::Formatter<'_>, error: Option<&E>) -> fmt::Result {
    match error {
        Some(e) => write!(f, ", last: {e:?}"),
        None => f.write_str(", last: timed out"),
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}
