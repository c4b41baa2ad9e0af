//! The driver protocol: what a driver feeds a call ([`Input`]), what the call
//! answers ([`Step`]), how it ended ([`Finish`], [`Failure`], [`Reason`]) and
//! the caller's answer ([`Answer`], [`Error`]).

use core::fmt;

use crate::bulkhead::Ticket;
use crate::outcome::{Outcome, Verdict};
use crate::retry::GiveUpReason;
use crate::time::Instant;

/// What a driver feeds a call through [`Call::handle`](super::Call::handle).
///
/// ```
/// use steadfast::outcome::Verdict;
/// use steadfast::pipeline::Input;
/// assert_ne!(Input::Next, Input::Outcome(Verdict::success()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Input {
    /// The call starts, a wait ended, a queued call was woken, or the driver
    /// just asks again.
    Next,
    /// The running attempt ended with this verdict (an attempt that reached
    /// its deadline: [`Verdict::timed_out`]).
    Outcome(Verdict),
    /// The caller gave up (its future was dropped, a shutdown): everything the
    /// call holds is given back and it ends with [`Reason::Cancelled`].
    Abandon,
}

/// What the driver must do next. Returned by [`Call::handle`](super::Call::handle).
///
/// ```
/// use steadfast::pipeline::Step;
/// use steadfast::time::Instant;
/// let step = Step::Wait { until: Instant::from_millis(100) };
/// assert_eq!(step.wake_at(), Some(Instant::from_millis(100)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "the driver must do what the step says"]
pub enum Step {
    /// Run attempt number `attempt` (1 = the first) now, and abandon it at
    /// `deadline` (`None`: no timeout). Report how it ended with
    /// [`Input::Outcome`]; if it hit its deadline, with [`Verdict::timed_out`].
    Attempt {
        /// The attempt's number, the first included.
        attempt: u32,
        /// When the attempt times out, if ever.
        deadline: Option<Instant>,
    },
    /// Sleep until `until` (a backoff delay, or a breaker's `retry_at`), then
    /// feed [`Input::Next`]. Feeding it earlier is harmless.
    Wait {
        /// When to call again.
        until: Instant,
    },
    /// Queued in the bulkhead: wait until woken (an
    /// [`Event::Granted`](super::Event::Granted) for this ticket from any call)
    /// or until `until`, then feed [`Input::Next`].
    Queued {
        /// The queue ticket.
        ticket: Ticket,
        /// When the wait gives up.
        until: Instant,
    },
    /// The call is over.
    Done(Finish),
}

impl Step {
    /// The instant at which the driver must act again without being woken:
    /// `Wait`'s `until`, `Queued`'s `until`, an attempt's deadline.
    ///
    /// ```
    /// # use steadfast::pipeline::Step;
    /// assert_eq!(Step::Attempt { attempt: 1, deadline: None }.wake_at(), None);
    /// ```
    pub const fn wake_at(&self) -> Option<Instant> {
        match self {
            Self::Attempt { deadline, .. } => *deadline,
            Self::Wait { until } | Self::Queued { until, .. } => Some(*until),
            Self::Done(_) => None,
        }
    }
}

/// Exactly why a call ended without its operation's answer.
///
/// ```
/// use steadfast::pipeline::Reason;
/// assert!(Reason::BulkheadFull.is_rejection());
/// assert!(!Reason::AttemptTimedOut.is_rejection());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reason {
    /// The last attempt failed and the classifier said not to retry it: the
    /// operation's own error is the answer.
    Operation,
    /// The last attempt reached its own attempt timeout and no retry followed
    /// (timeouts not retried, or attempts exhausted).
    AttemptTimedOut,
    /// The total deadline passed: while waiting, queued, or by cutting the
    /// running attempt short.
    DeadlineExceeded,
    /// The breaker refused the attempt and waiting for it was not possible.
    BreakerOpen {
        /// When the breaker admits again, if known.
        retry_at: Option<Instant>,
    },
    /// The bulkhead had neither a free slot nor queue room.
    BulkheadFull,
    /// The call waited in the bulkhead's queue for its whole max wait.
    QueueTimeout,
    /// Every allowed attempt ran and the last one failed.
    RetriesExhausted,
    /// The retry budget refused the retry.
    BudgetExhausted,
    /// The next retry would have started at or after the total deadline.
    DeadlineWouldPass,
    /// The caller gave up ([`Input::Abandon`]).
    Cancelled,
    /// A rate limiter refused the call (a [`RateLimiter`](crate::ratelimit::RateLimiter)
    /// in front of it, e.g. a tower rate-limit layer).
    RateLimited {
        /// When the limiter admits the same call, if ever.
        retry_at: Option<Instant>,
    },
    /// An adaptive throttle refused the call locally: the dependency has been
    /// refusing work ([`AdaptiveThrottle`](crate::throttle::AdaptiveThrottle),
    /// e.g. a tower throttle layer).
    Throttled,
}

impl Reason {
    /// `true` when the call was refused locally, its last try never reaching
    /// the dependency: breaker open, bulkhead full, queue wait expired.
    ///
    /// ```
    /// # use steadfast::pipeline::Reason;
    /// assert!(Reason::BreakerOpen { retry_at: None }.is_rejection());
    /// assert!(Reason::QueueTimeout.is_rejection());
    /// assert!(Reason::RateLimited { retry_at: None }.is_rejection());
    /// assert!(Reason::Throttled.is_rejection());
    /// ```
    pub const fn is_rejection(&self) -> bool {
        matches!(
            self,
            Self::BreakerOpen { .. }
                | Self::BulkheadFull
                | Self::QueueTimeout
                | Self::RateLimited { .. }
                | Self::Throttled
        )
    }
}

impl Reason {
    /// Why a call ends when the retry machine gives up after an attempt that
    /// ended in `outcome`: the one mapping every driver reports with. An
    /// attempt that timed out and is not retried is [`Reason::AttemptTimedOut`]
    /// (whether the timeout was not retryable or the attempts ran out); any
    /// other not-retryable failure is [`Reason::Operation`]. (A call whose
    /// total deadline has already passed ends with
    /// [`Reason::DeadlineExceeded`] instead: the pipeline checks that first.)
    ///
    /// ```
    /// use steadfast::outcome::Outcome;
    /// use steadfast::pipeline::Reason;
    /// use steadfast::retry::GiveUpReason;
    ///
    /// let exhausted = GiveUpReason::AttemptsExhausted { attempts: 3 };
    /// assert_eq!(Reason::after_give_up(exhausted, Outcome::Failure), Reason::RetriesExhausted);
    /// assert_eq!(Reason::after_give_up(exhausted, Outcome::TimedOut), Reason::AttemptTimedOut);
    /// assert_eq!(Reason::after_give_up(GiveUpReason::NotRetryable, Outcome::Failure), Reason::Operation);
    /// ```
    pub const fn after_give_up(give_up: GiveUpReason, outcome: Outcome) -> Self {
        let timed_out = matches!(outcome, Outcome::TimedOut);
        match give_up {
            GiveUpReason::NotRetryable | GiveUpReason::AttemptsExhausted { .. } if timed_out => {
                Self::AttemptTimedOut
            }
            GiveUpReason::NotRetryable => Self::Operation,
            GiveUpReason::AttemptsExhausted { .. } => Self::RetriesExhausted,
            GiveUpReason::DeadlineWouldPass => Self::DeadlineWouldPass,
            GiveUpReason::BudgetExhausted => Self::BudgetExhausted,
        }
    }
}

impl fmt::Display for Reason {
    /// ```
    /// # use steadfast::pipeline::Reason;
    /// assert_eq!(Reason::BudgetExhausted.to_string(), "retry budget exhausted");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Operation => "operation failed",
            Self::AttemptTimedOut => "attempt timed out",
            Self::DeadlineExceeded => "total deadline exceeded",
            Self::BreakerOpen { .. } => "circuit breaker open",
            Self::BulkheadFull => "bulkhead full",
            Self::QueueTimeout => "bulkhead queue wait expired",
            Self::RetriesExhausted => "retries exhausted",
            Self::BudgetExhausted => "retry budget exhausted",
            Self::DeadlineWouldPass => "next retry would pass the total deadline",
            Self::Cancelled => "cancelled",
            Self::RateLimited { .. } => "rate limited",
            Self::Throttled => "throttled locally",
        })
    }
}

/// Why a call failed, and how many attempts ran (a local rejection counts
/// only the attempts that reached the dependency).
///
/// ```
/// use steadfast::pipeline::{Failure, Reason};
/// let f = Failure::new(Reason::RetriesExhausted, 3);
/// assert_eq!((f.reason, f.attempts), (Reason::RetriesExhausted, 3));
/// assert!(!f.is_rejection());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Failure {
    /// Why.
    pub reason: Reason,
    /// Attempts that ran, the first included.
    pub attempts: u32,
}

impl Failure {
    /// A failure for `reason` after `attempts` attempts.
    ///
    /// ```
    /// # use steadfast::pipeline::{Failure, Reason};
    /// assert_eq!(Failure::new(Reason::Cancelled, 0).attempts, 0);
    /// ```
    pub const fn new(reason: Reason, attempts: u32) -> Self {
        Self { reason, attempts }
    }

    /// Attempts that ran.
    ///
    /// ```
    /// # use steadfast::pipeline::{Failure, Reason};
    /// assert_eq!(Failure::new(Reason::DeadlineExceeded, 2).attempts(), 2);
    /// ```
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// `true` when the last try never reached the dependency (see
    /// [`Reason::is_rejection`]).
    ///
    /// ```
    /// # use steadfast::pipeline::{Failure, Reason};
    /// assert!(Failure::new(Reason::BulkheadFull, 0).is_rejection());
    /// ```
    pub const fn is_rejection(&self) -> bool {
        self.reason.is_rejection()
    }
}

/// How a call ended.
///
/// ```
/// use steadfast::pipeline::{Failure, Finish, Reason};
/// let f = Finish::Failed(Failure::new(Reason::RetriesExhausted, 3));
/// assert_eq!(f.attempts(), 3);
/// assert!(!f.is_success());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Finish {
    /// The last attempt's result is the call's answer: a success, or an
    /// outcome the classifier marked [`Outcome::Ignored`] and not retryable.
    Completed {
        /// Attempts made, the first included.
        attempts: u32,
        /// How the last attempt ended.
        outcome: Outcome,
    },
    /// The call failed; the caller gets the [`Error`].
    Failed(Failure),
    /// The call failed in a way [`pipeline::Config::fallback`](super::Config::fallback)
    /// covers, and the caller has a fallback
    /// ([`Call::with_fallback`](super::Call::with_fallback)): it answers.
    Fallback(Failure),
}

impl Finish {
    /// Attempts made (0 for a call refused or cancelled before its first
    /// attempt ran).
    ///
    /// ```
    /// # use steadfast::pipeline::{Failure, Finish, Reason};
    /// assert_eq!(Finish::Failed(Failure::new(Reason::Cancelled, 0)).attempts(), 0);
    /// ```
    pub const fn attempts(&self) -> u32 {
        match self {
            Self::Completed { attempts, .. } => *attempts,
            Self::Failed(f) | Self::Fallback(f) => f.attempts,
        }
    }

    /// The failure, if the call failed.
    ///
    /// ```
    /// # use steadfast::pipeline::{Failure, Finish, Reason};
    /// let f = Failure::new(Reason::BulkheadFull, 0);
    /// assert_eq!(Finish::Fallback(f).failure(), Some(f));
    /// ```
    pub const fn failure(&self) -> Option<Failure> {
        match self {
            Self::Completed { .. } => None,
            Self::Failed(f) | Self::Fallback(f) => Some(*f),
        }
    }

    /// `true` for a completed call whose last attempt succeeded.
    ///
    /// ```
    /// # use steadfast::pipeline::Finish;
    /// # use steadfast::outcome::Outcome;
    /// assert!(Finish::Completed { attempts: 1, outcome: Outcome::Success }.is_success());
    /// ```
    pub const fn is_success(&self) -> bool {
        matches!(
            self,
            Self::Completed {
                outcome: Outcome::Success,
                ..
            }
        )
    }

    /// The caller's answer, from how the call ended and the last attempt's
    /// result (`None` when it produced none: it timed out, or no attempt ran).
    /// The one mapping every driver uses:
    ///
    /// * a completed call answers the last attempt's result (an `Err` the
    ///   classifier ignored is [`Reason::Operation`]);
    /// * a failed call answers [`Error`] with its reason, attempt count and the
    ///   last attempt's own error — except that a value the classifier failed
    ///   and said not to retry ([`Reason::Operation`] with an `Ok`) is still
    ///   the operation's answer;
    /// * a call ending in its fallback answers [`Answer::Fallback`] with the
    ///   same error (a value the classifier failed is no answer there: `last`
    ///   is `None`).
    ///
    /// ```
    /// use steadfast::pipeline::{Answer, Error, Failure, Finish, Reason};
    /// let tripped = Finish::Failed(Failure::new(Reason::BreakerOpen { retry_at: None }, 2));
    /// let answer = tripped.answer::<u8, &str>(Some(Err("503")));
    /// assert_eq!(answer.into_result(), Err(Error::new(Reason::BreakerOpen { retry_at: None }, 2, Some("503"))));
    /// ```
    pub fn answer<T, E>(self, last: Option<Result<T, E>>) -> Answer<T, Error<E>> {
        match self {
            Self::Completed { attempts, outcome } => match last {
                Some(Ok(value)) => Answer::Value(value),
                Some(Err(e)) => Answer::Failed(Error::new(Reason::Operation, attempts, Some(e))),
                None => {
                    let reason = match outcome {
                        Outcome::TimedOut => Reason::AttemptTimedOut,
                        _ => Reason::Operation,
                    };
                    Answer::Failed(Error::new(reason, attempts, None))
                }
            },
            Self::Failed(f) => match last {
                Some(Ok(value)) if f.reason == Reason::Operation => Answer::Value(value),
                last => {
                    Answer::Failed(Error::new(f.reason, f.attempts, last.and_then(Result::err)))
                }
            },
            Self::Fallback(f) => {
                Answer::Fallback(Error::new(f.reason, f.attempts, last.and_then(Result::err)))
            }
        }
    }
}

/// The caller's answer: [`Finish::answer`]. `X` is the error type
/// ([`Error`], or an adapter's wrapper of it).
///
/// ```
/// use steadfast::pipeline::{Answer, Error, Reason};
/// let a: Answer<u8, Error<()>> = Answer::Fallback(Error::new(Reason::BulkheadFull, 0, None));
/// assert!(a.into_result().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the caller is waiting for this answer"]
pub enum Answer<T, X> {
    /// The operation's value.
    Value(T),
    /// The call failed.
    Failed(X),
    /// The call failed and the caller's fallback answers; it sees this error
    /// (and the caller gets it if the fallback fails too).
    Fallback(X),
}

impl<T, X> Answer<T, X> {
    /// The answer as a `Result`, for a driver with no fallback to run.
    ///
    /// ```
    /// # use steadfast::pipeline::Answer;
    /// assert_eq!(Answer::<u8, ()>::Value(1).into_result(), Ok(1));
    /// ```
    pub fn into_result(self) -> Result<T, X> {
        match self {
            Self::Value(value) => Ok(value),
            Self::Failed(e) | Self::Fallback(e) => Err(e),
        }
    }

    /// The same answer with the error wrapped or converted (an adapter adding
    /// context, such as the breaker's name).
    ///
    /// ```
    /// # use steadfast::pipeline::Answer;
    /// assert_eq!(Answer::<u8, u8>::Failed(1).map_err(|e| e + 1), Answer::Failed(2));
    /// ```
    pub fn map_err<Y>(self, f: impl FnOnce(X) -> Y) -> Answer<T, Y> {
        match self {
            Self::Value(value) => Answer::Value(value),
            Self::Failed(e) => Answer::Failed(f(e)),
            Self::Fallback(e) => Answer::Fallback(f(e)),
        }
    }
}

/// Why a call returned no value: the [`Reason`], the attempts that ran, and the
/// last attempt's own error when it returned one (`None` when it timed out,
/// returned a value the classifier failed, or no attempt ran). One taxonomy
/// for every driver; steadfast-std and steadfast-embassy wrap it.
///
/// A call whose last attempt failed and tripped the breaker ends with
/// [`Reason::BreakerOpen`] *and* that attempt's error in `last`: the caller
/// sees both why no retry followed and what actually failed.
///
/// ```
/// use steadfast::pipeline::{Error, Reason};
/// let e = Error::new(Reason::RetriesExhausted, 3, Some("nak"));
/// assert_eq!(e.operation_error(), Some(&"nak"));
/// assert_eq!(e.to_string(), "retries exhausted after 3 attempt(s): nak");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Error<E> {
    /// Why the call ended.
    pub reason: Reason,
    /// Attempts that ran, the first included.
    pub attempts: u32,
    /// The last attempt's own error, if it returned one.
    pub last: Option<E>,
}

impl<E> Error<E> {
    /// An error for `reason` after `attempts` attempts, the last one's error.
    ///
    /// ```
    /// # use steadfast::pipeline::{Error, Reason};
    /// assert_eq!(Error::<()>::new(Reason::Cancelled, 0, None).attempts, 0);
    /// ```
    pub const fn new(reason: Reason, attempts: u32, last: Option<E>) -> Self {
        Self {
            reason,
            attempts,
            last,
        }
    }

    /// Attempts that ran.
    ///
    /// ```
    /// # use steadfast::pipeline::{Error, Reason};
    /// assert_eq!(Error::<()>::new(Reason::RetriesExhausted, 3, None).attempts(), 3);
    /// ```
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// `true` when the last try never reached the dependency (see
    /// [`Reason::is_rejection`]).
    ///
    /// ```
    /// # use steadfast::pipeline::{Error, Reason};
    /// assert!(Error::<()>::new(Reason::QueueTimeout, 1, None).is_rejection());
    /// ```
    pub const fn is_rejection(&self) -> bool {
        self.reason.is_rejection()
    }

    /// When the breaker admits again, for [`Reason::BreakerOpen`].
    ///
    /// ```
    /// # use steadfast::pipeline::{Error, Reason};
    /// # use steadfast::time::Instant;
    /// let e = Error::<()>::new(Reason::BreakerOpen { retry_at: Some(Instant::from_secs(30)) }, 0, None);
    /// assert_eq!(e.retry_at(), Some(Instant::from_secs(30)));
    /// ```
    pub const fn retry_at(&self) -> Option<Instant> {
        match self.reason {
            Reason::BreakerOpen { retry_at } | Reason::RateLimited { retry_at } => retry_at,
            _ => None,
        }
    }

    /// The last attempt's own error, if any.
    ///
    /// ```
    /// # use steadfast::pipeline::{Error, Reason};
    /// assert_eq!(Error::<u8>::new(Reason::AttemptTimedOut, 3, None).operation_error(), None);
    /// ```
    pub const fn operation_error(&self) -> Option<&E> {
        self.last.as_ref()
    }

    /// The last attempt's own error, if any, by value.
    ///
    /// ```
    /// # use steadfast::pipeline::{Error, Reason};
    /// assert_eq!(Error::new(Reason::Operation, 1, Some(7)).into_operation(), Some(7));
    /// ```
    pub fn into_operation(self) -> Option<E> {
        self.last
    }

    /// The same error with the operation's error mapped.
    ///
    /// ```
    /// # use steadfast::pipeline::{Error, Reason};
    /// let e = Error::new(Reason::Operation, 1, Some(2)).map(|n| n * 10);
    /// assert_eq!(e.last, Some(20));
    /// ```
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> Error<F> {
        Error {
            reason: self.reason,
            attempts: self.attempts,
            last: self.last.map(f),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    /// ```
    /// # use steadfast::pipeline::{Error, Reason};
    /// assert_eq!(Error::<&str>::new(Reason::BulkheadFull, 0, None).to_string(), "bulkhead full after 0 attempt(s)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} after {} attempt(s)", self.reason, self.attempts)?;
        match &self.last {
            Some(e) => write!(f, ": {e}"),
            None => Ok(()),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match &self.last {
            Some(e) => Some(e),
            None => None,
        }
    }
}
