//! What a call through a [`Policy`](crate::Policy) tells its caller.

use std::fmt;
use std::sync::Arc;

/// Why a call did not return the operation's value.
///
/// `E` is the operation's own error type.
///
/// ```
/// use steadfast_std::Error;
/// let e: Error<std::io::Error> = Error::BulkheadFull;
/// assert_eq!(e.to_string(), "bulkhead full");
/// assert!(e.is_rejection());
/// ```
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<E> {
    /// The operation's own error: its last attempt failed and was not (or no
    /// longer) retried because the classifier said so, or the call completed
    /// with it.
    Operation(E),
    /// The circuit breaker `breaker` refused the call.
    Rejected {
        /// The breaker's name.
        breaker: Arc<str>,
        /// When the breaker admits again (`None`: forced open, no known time).
        retry_at: Option<std::time::Instant>,
    },
    /// The bulkhead had no free slot and no queue room, or the queue wait expired.
    BulkheadFull,
    /// The call's total deadline passed, or its last attempt hit its attempt
    /// deadline and timeouts are not retried.
    TimedOut,
    /// Every allowed attempt failed (attempts exhausted, the next retry would
    /// pass the total deadline, or the retry budget refused it).
    RetriesExhausted {
        /// Attempts made, the first included.
        attempts: u32,
        /// The last attempt's error; `None` if it timed out or returned a value
        /// the classifier counted as a failure.
        last: Option<E>,
    },
}

impl<E> Error<E> {
    /// `true` when the dependency was not called for this answer: breaker
    /// open or bulkhead full.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert!(!Error::Operation(()).is_rejection());
    /// ```
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Rejected { .. } | Self::BulkheadFull)
    }

    /// The operation's error, if this error carries one.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::Operation(7).into_operation(), Some(7));
    /// assert_eq!(Error::RetriesExhausted { attempts: 3, last: Some(8) }.into_operation(), Some(8));
    /// assert_eq!(Error::<u8>::TimedOut.into_operation(), None);
    /// ```
    pub fn into_operation(self) -> Option<E> {
        match self {
            Self::Operation(e) => Some(e),
            Self::RetriesExhausted { last, .. } => last,
            _ => None,
        }
    }

    /// Maps the operation's error type.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// let e = Error::Operation(2).map(|n| n * 10);
    /// assert!(matches!(e, Error::Operation(20)));
    /// ```
    pub fn map<F, G: FnOnce(E) -> F>(self, f: G) -> Error<F> {
        match self {
            Self::Operation(e) => Error::Operation(f(e)),
            Self::Rejected { breaker, retry_at } => Error::Rejected { breaker, retry_at },
            Self::BulkheadFull => Error::BulkheadFull,
            Self::TimedOut => Error::TimedOut,
            Self::RetriesExhausted { attempts, last } => Error::RetriesExhausted {
                attempts,
                last: last.map(f),
            },
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    /// ```
    /// # use steadfast_std::Error;
    /// let e: Error<String> = Error::RetriesExhausted { attempts: 3, last: Some("boom".into()) };
    /// assert_eq!(e.to_string(), "retries exhausted after 3 attempts: boom");
    /// let e: Error<String> = Error::Rejected { breaker: "db".into(), retry_at: None };
    /// assert_eq!(e.to_string(), "circuit breaker `db` open");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Operation(e) => e.fmt(f),
            Self::Rejected { breaker, retry_at } => {
                write!(f, "circuit breaker `{breaker}` open")?;
                if let Some(at) = retry_at {
                    let left = at.saturating_duration_since(std::time::Instant::now());
                    write!(f, ", retry in {left:?}")?;
                }
                Ok(())
            }
            Self::BulkheadFull => f.write_str("bulkhead full"),
            Self::TimedOut => f.write_str("timed out"),
            Self::RetriesExhausted { attempts, last } => {
                write!(f, "retries exhausted after {attempts} attempts")?;
                match last {
                    Some(e) => write!(f, ": {e}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Operation(e) => Some(e),
            Self::RetriesExhausted { last: Some(e), .. } => Some(e),
            _ => None,
        }
    }
}
