//! What a call through a [`Policy`](crate::Policy) tells its caller: the
//! core's [`pipeline::Error`], with the name of the breaker it went through.

use std::fmt;
use std::sync::Arc;

use steadfast::pipeline::{self, Reason};
use steadfast::time::Instant;

use crate::time;

/// Why a call did not return the operation's value: the core's
/// [`pipeline::Error`] (the [`Reason`], the attempts that ran, the last
/// attempt's own error) plus the name of the policy's breaker, if it has one.
///
/// `E` is the operation's own error type.
///
/// ```
/// use steadfast::pipeline::Reason;
/// use steadfast_std::Error;
/// let e: Error<std::io::Error> = Error::bulkhead_full();
/// assert_eq!(e.reason(), Reason::BulkheadFull);
/// assert_eq!(e.to_string(), "bulkhead full after 0 attempt(s)");
/// assert!(e.is_rejection());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error<E> {
    error: pipeline::Error<E>,
    breaker: Option<Arc<str>>,
}

impl<E> Error<E> {
    /// Wraps the core's error.
    ///
    /// ```
    /// use steadfast::pipeline::{self, Reason};
    /// let e = steadfast_std::Error::new(pipeline::Error::new(Reason::RetriesExhausted, 3, Some("down")));
    /// assert_eq!((e.attempts(), e.operation_error()), (3, Some(&"down")));
    /// ```
    pub const fn new(error: pipeline::Error<E>) -> Self {
        Self {
            error,
            breaker: None,
        }
    }

    /// The same error, naming the breaker the call went through.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::bulkhead_full().with_breaker("db".into()).breaker(), Some("db"));
    /// ```
    #[must_use]
    pub fn with_breaker(mut self, breaker: Arc<str>) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The operation's own error, as a single attempt's answer
    /// ([`Reason::Operation`], 1 attempt).
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::operation(7).into_operation(), Some(7));
    /// ```
    pub const fn operation(error: E) -> Self {
        Self::new(pipeline::Error::new(Reason::Operation, 1, Some(error)))
    }

    /// Breaker `breaker` refused the call before any attempt ran.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// let e = Error::<&str>::rejected("db".into(), None);
    /// assert_eq!(e.to_string(), "circuit breaker `db` open after 0 attempt(s)");
    /// ```
    pub fn rejected(breaker: Arc<str>, retry_at: Option<Instant>) -> Self {
        Self::new(pipeline::Error::new(
            Reason::BreakerOpen { retry_at },
            0,
            None,
        ))
        .with_breaker(breaker)
    }

    /// A rate limiter refused the call, before any attempt ran; `retry_at`
    /// says when it admits the same call (never, for more than a burst).
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// let e = Error::<()>::rate_limited(None);
    /// assert!(e.is_rejection());
    /// assert_eq!(e.retry_at(), None);
    /// ```
    pub const fn rate_limited(retry_at: Option<Instant>) -> Self {
        Self::new(pipeline::Error::new(
            Reason::RateLimited { retry_at },
            0,
            None,
        ))
    }

    /// An adaptive throttle refused the call locally, before any attempt ran:
    /// the dependency has been refusing work.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// let e = Error::<()>::throttled();
    /// assert!(e.is_rejection());
    /// assert_eq!(e.reason(), steadfast::pipeline::Reason::Throttled);
    /// ```
    pub const fn throttled() -> Self {
        Self::new(pipeline::Error::new(Reason::Throttled, 0, None))
    }

    /// The bulkhead had no slot and no queue room, before any attempt ran.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert!(Error::<()>::bulkhead_full().is_rejection());
    /// ```
    pub const fn bulkhead_full() -> Self {
        Self::new(pipeline::Error::new(Reason::BulkheadFull, 0, None))
    }

    /// The queue wait expired before any attempt ran.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::queue_timeout().reason(), steadfast::pipeline::Reason::QueueTimeout);
    /// ```
    pub const fn queue_timeout() -> Self {
        Self::new(pipeline::Error::new(Reason::QueueTimeout, 0, None))
    }

    /// A single attempt reached its timeout.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::timed_out().attempts(), 1);
    /// ```
    pub const fn timed_out() -> Self {
        Self::new(pipeline::Error::new(Reason::AttemptTimedOut, 1, None))
    }

    /// `attempts` attempts ran, the last one failing with `last`.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::retries_exhausted(3, Some("boom")).to_string(), "retries exhausted after 3 attempt(s): boom");
    /// ```
    pub const fn retries_exhausted(attempts: u32, last: Option<E>) -> Self {
        Self::new(pipeline::Error::new(
            Reason::RetriesExhausted,
            attempts,
            last,
        ))
    }

    /// Why the call ended.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::timed_out().reason(), steadfast::pipeline::Reason::AttemptTimedOut);
    /// ```
    pub const fn reason(&self) -> Reason {
        self.error.reason
    }

    /// Attempts that ran, the first included.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::bulkhead_full().attempts(), 0);
    /// ```
    pub const fn attempts(&self) -> u32 {
        self.error.attempts
    }

    /// The name of the breaker the call went through, if any.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::bulkhead_full().breaker(), None);
    /// ```
    pub fn breaker(&self) -> Option<&str> {
        self.breaker.as_deref()
    }

    /// When the breaker admits again, for [`Reason::BreakerOpen`].
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::rejected("db".into(), None).retry_at(), None);
    /// ```
    pub fn retry_at(&self) -> Option<std::time::Instant> {
        self.error.retry_at().map(time::to_std)
    }

    /// `true` when the dependency was not called for this answer: breaker
    /// open, bulkhead full, queue wait expired.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert!(!Error::operation(()).is_rejection());
    /// ```
    pub const fn is_rejection(&self) -> bool {
        self.error.is_rejection()
    }

    /// The last attempt's own error, if it returned one.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<u8>::timed_out().operation_error(), None);
    /// ```
    pub const fn operation_error(&self) -> Option<&E> {
        self.error.operation_error()
    }

    /// The last attempt's own error, if it returned one, by value.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::retries_exhausted(3, Some(8)).into_operation(), Some(8));
    /// assert_eq!(Error::<u8>::timed_out().into_operation(), None);
    /// ```
    pub fn into_operation(self) -> Option<E> {
        self.error.into_operation()
    }

    /// The core's error.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::operation(1).inner().attempts, 1);
    /// ```
    pub const fn inner(&self) -> &pipeline::Error<E> {
        &self.error
    }

    /// The core's error, by value.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::operation(1).into_inner().last, Some(1));
    /// ```
    pub fn into_inner(self) -> pipeline::Error<E> {
        self.error
    }

    /// Maps the operation's error type.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::operation(2).map(|n| n * 10), Error::operation(20));
    /// ```
    pub fn map<F, G: FnOnce(E) -> F>(self, f: G) -> Error<F> {
        Error {
            error: self.error.map(f),
            breaker: self.breaker,
        }
    }

    /// The same error, saying `attempts` attempts ran (what a retry layer
    /// answers for the attempts it sent).
    #[cfg(feature = "tower")]
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.error.attempts = attempts;
        self
    }
}

impl<E> From<pipeline::Error<E>> for Error<E> {
    fn from(error: pipeline::Error<E>) -> Self {
        Self::new(error)
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    /// ```
    /// # use steadfast_std::Error;
    /// let e: Error<String> = Error::retries_exhausted(3, Some("boom".into()));
    /// assert_eq!(e.to_string(), "retries exhausted after 3 attempt(s): boom");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.breaker, self.error.reason) {
            (Some(name), Reason::BreakerOpen { .. }) => {
                write!(
                    f,
                    "circuit breaker `{name}` open after {} attempt(s)",
                    self.error.attempts
                )?;
                match &self.error.last {
                    Some(e) => write!(f, ": {e}"),
                    None => Ok(()),
                }
            }
            _ => self.error.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.error.last {
            Some(e) => Some(e),
            None => None,
        }
    }
}
