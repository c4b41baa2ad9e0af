//! What a call through a [`Policy`](crate::Policy) tells its caller: the
//! core's [`pipeline::Error`], with the name of the breaker it went through.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use steadfast::pipeline::{self, Reason};
use steadfast::time::Instant;

use crate::time;

/// Why a call did not return the operation's value: the core's
/// [`pipeline::Error`] (the [`Reason`], the attempts that ran, the last
/// attempt's own error) plus the name of the policy's breaker, if it has one.
///
/// `E` is the operation's own error type.
///
/// The breaker's name is interned: each distinct name is stored once for the
/// life of the process, and an error holds a one-word reference to it, so
/// cloning and dropping an error count no references (an open breaker's
/// refusal is a hot path). A breaker's name is interned when the breaker is
/// built; [`with_breaker`](Self::with_breaker) and
/// [`rejected`](Self::rejected) intern the name they are given.
///
/// ```
/// use steadfast::pipeline::Reason;
/// use steadfast_std::Error;
/// let e: Error<std::io::Error> = Error::bulkhead_full();
/// assert_eq!(e.reason(), Reason::BulkheadFull);
/// assert_eq!(e.to_string(), "bulkhead full after 0 attempt(s)");
/// assert!(e.is_rejection());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error<E> {
    /// The core's [`Reason`] but its instant, which is `retry_at`.
    kind: Kind,
    attempts: u32,
    /// The instant of [`Kind::BreakerOpenUntil`] and [`Kind::RateLimitedUntil`];
    /// [`Instant::ZERO`] for every other kind, so that equal errors compare
    /// equal field by field.
    retry_at: Instant,
    last: Option<E>,
    breaker: Option<Name>,
}

/// A [`Reason`] without the instant it may carry: the core's `Reason` is 24
/// bytes, two of its variants holding an `Option<Instant>`; an [`Error`]
/// keeps this and the instant beside it, so that a refusal fits in three
/// words. Two bytes wide so that it holds the error's largest niche: a
/// `Result<T, Error<E>>` then says `Ok` in it too, and telling `Ok`, a
/// refusal and anything else apart is one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
enum Kind {
    Operation,
    AttemptTimedOut,
    DeadlineExceeded,
    /// [`Reason::BreakerOpen`] with no `retry_at`.
    BreakerOpen,
    /// [`Reason::BreakerOpen`] with a `retry_at`.
    BreakerOpenUntil,
    BulkheadFull,
    QueueTimeout,
    RetriesExhausted,
    BudgetExhausted,
    DeadlineWouldPass,
    Cancelled,
    /// [`Reason::RateLimited`] with no `retry_at`.
    RateLimited,
    /// [`Reason::RateLimited`] with a `retry_at`.
    RateLimitedUntil,
    Throttled,
}

impl Kind {
    /// `reason` as a kind and its instant ([`Instant::ZERO`] when it has none).
    const fn split(reason: Reason) -> (Self, Instant) {
        let kind = match reason {
            Reason::Operation => Self::Operation,
            Reason::AttemptTimedOut => Self::AttemptTimedOut,
            Reason::DeadlineExceeded => Self::DeadlineExceeded,
            Reason::BreakerOpen { retry_at: None } => Self::BreakerOpen,
            Reason::BreakerOpen { retry_at: Some(at) } => return (Self::BreakerOpenUntil, at),
            Reason::BulkheadFull => Self::BulkheadFull,
            Reason::QueueTimeout => Self::QueueTimeout,
            Reason::RetriesExhausted => Self::RetriesExhausted,
            Reason::BudgetExhausted => Self::BudgetExhausted,
            Reason::DeadlineWouldPass => Self::DeadlineWouldPass,
            Reason::Cancelled => Self::Cancelled,
            Reason::RateLimited { retry_at: None } => Self::RateLimited,
            Reason::RateLimited { retry_at: Some(at) } => return (Self::RateLimitedUntil, at),
            Reason::Throttled => Self::Throttled,
        };
        (kind, Instant::ZERO)
    }

    /// The reason this kind and `retry_at` (read only by the kinds that have
    /// one) stand for.
    const fn reason(self, retry_at: Instant) -> Reason {
        match self {
            Self::Operation => Reason::Operation,
            Self::AttemptTimedOut => Reason::AttemptTimedOut,
            Self::DeadlineExceeded => Reason::DeadlineExceeded,
            Self::BreakerOpen => Reason::BreakerOpen { retry_at: None },
            Self::BreakerOpenUntil => Reason::BreakerOpen {
                retry_at: Some(retry_at),
            },
            Self::BulkheadFull => Reason::BulkheadFull,
            Self::QueueTimeout => Reason::QueueTimeout,
            Self::RetriesExhausted => Reason::RetriesExhausted,
            Self::BudgetExhausted => Reason::BudgetExhausted,
            Self::DeadlineWouldPass => Reason::DeadlineWouldPass,
            Self::Cancelled => Reason::Cancelled,
            Self::RateLimited => Reason::RateLimited { retry_at: None },
            Self::RateLimitedUntil => Reason::RateLimited {
                retry_at: Some(retry_at),
            },
            Self::Throttled => Reason::Throttled,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Error<E> {
    /// As the core's error and the breaker's name:
    /// `Error { error: Error { reason: .., attempts: .., last: .. }, breaker: Some("db") }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("error", &self.inner())
            .field("breaker", &self.breaker())
            .finish()
    }
}

/// A breaker's name as an [`Error`] carries it: one word, copied with no
/// reference count, pointing at the process's one copy of that name.
#[derive(Clone, Copy)]
pub(crate) struct Name(&'static &'static str);

/// The process's names, each leaked once: a name lives as long as an error
/// may still hold it, which is any time.
static NAMES: Mutex<BTreeSet<Interned>> = Mutex::new(BTreeSet::new());

/// An entry of [`NAMES`], ordered and looked up by its text.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Interned(&'static &'static str);

impl std::borrow::Borrow<str> for Interned {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl Name {
    /// The process's copy of `name`, stored on first use.
    pub(crate) fn intern(name: &str) -> Self {
        let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(interned) = names.get(name) {
            return Self(interned.0);
        }
        let text: &'static str = Box::leak(Box::from(name));
        let interned: &'static &'static str = Box::leak(Box::new(text));
        names.insert(Interned(interned));
        Self(interned)
    }

    /// The name.
    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl fmt::Debug for Name {
    /// As the text itself, as an `Arc<str>` shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<E> Error<E> {
    /// Wraps the core's error.
    ///
    /// ```
    /// use steadfast::pipeline::{self, Reason};
    /// let e = steadfast_std::Error::new(pipeline::Error::new(Reason::RetriesExhausted, 3, Some("down")));
    /// assert_eq!((e.attempts(), e.operation_error()), (3, Some(&"down")));
    /// ```
    pub fn new(error: pipeline::Error<E>) -> Self {
        Self::of(error.reason, error.attempts, error.last)
    }

    /// The error [`new`](Self::new) makes of the core's error with these
    /// fields, in a `const fn` (which cannot take a generic struct apart).
    const fn of(reason: Reason, attempts: u32, last: Option<E>) -> Self {
        let (kind, retry_at) = Kind::split(reason);
        Self {
            kind,
            attempts,
            retry_at,
            last,
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
    pub fn with_breaker(self, breaker: Arc<str>) -> Self {
        self.named(Name::intern(&breaker))
    }

    /// The same error, naming the breaker `name`, already interned.
    #[must_use]
    pub(crate) const fn named(mut self, name: Name) -> Self {
        self.breaker = Some(name);
        self
    }

    /// The interned name of the breaker the call went through, if any.
    pub(crate) const fn name(&self) -> Option<Name> {
        self.breaker
    }

    /// The operation's own error, as a single attempt's answer
    /// ([`Reason::Operation`], 1 attempt).
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::operation(7).into_operation(), Some(7));
    /// ```
    pub const fn operation(error: E) -> Self {
        Self::of(Reason::Operation, 1, Some(error))
    }

    /// Breaker `breaker` refused the call before any attempt ran.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// let e = Error::<&str>::rejected("db".into(), None);
    /// assert_eq!(e.to_string(), "circuit breaker `db` open after 0 attempt(s)");
    /// ```
    pub fn rejected(breaker: Arc<str>, retry_at: Option<Instant>) -> Self {
        Self::refused(Name::intern(&breaker), retry_at)
    }

    /// Breaker `breaker`, its name interned, refused the call before any
    /// attempt ran.
    pub(crate) const fn refused(breaker: Name, retry_at: Option<Instant>) -> Self {
        Self::of(Reason::BreakerOpen { retry_at }, 0, None).named(breaker)
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
        Self::of(Reason::RateLimited { retry_at }, 0, None)
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
        Self::of(Reason::Throttled, 0, None)
    }

    /// The bulkhead had no slot and no queue room, before any attempt ran.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert!(Error::<()>::bulkhead_full().is_rejection());
    /// ```
    pub const fn bulkhead_full() -> Self {
        Self::of(Reason::BulkheadFull, 0, None)
    }

    /// The queue wait expired before any attempt ran.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::queue_timeout().reason(), steadfast::pipeline::Reason::QueueTimeout);
    /// ```
    pub const fn queue_timeout() -> Self {
        Self::of(Reason::QueueTimeout, 0, None)
    }

    /// A single attempt reached its timeout.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::timed_out().attempts(), 1);
    /// ```
    pub const fn timed_out() -> Self {
        Self::of(Reason::AttemptTimedOut, 1, None)
    }

    /// `attempts` attempts ran, the last one failing with `last`.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::retries_exhausted(3, Some("boom")).to_string(), "retries exhausted after 3 attempt(s): boom");
    /// ```
    pub const fn retries_exhausted(attempts: u32, last: Option<E>) -> Self {
        Self::of(Reason::RetriesExhausted, attempts, last)
    }

    /// Why the call ended.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::timed_out().reason(), steadfast::pipeline::Reason::AttemptTimedOut);
    /// ```
    pub const fn reason(&self) -> Reason {
        self.kind.reason(self.retry_at)
    }

    /// Attempts that ran, the first included.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::bulkhead_full().attempts(), 0);
    /// ```
    pub const fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The name of the breaker the call went through, if any.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::bulkhead_full().breaker(), None);
    /// ```
    pub fn breaker(&self) -> Option<&str> {
        match self.breaker {
            Some(name) => Some(name.as_str()),
            None => None,
        }
    }

    /// When the breaker admits again, for [`Reason::BreakerOpen`].
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<()>::rejected("db".into(), None).retry_at(), None);
    /// ```
    pub fn retry_at(&self) -> Option<std::time::Instant> {
        self.inner().retry_at().map(time::to_std)
    }

    /// `true` when the dependency was not called for this answer: breaker
    /// open, bulkhead full, queue wait expired.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert!(!Error::operation(()).is_rejection());
    /// ```
    pub const fn is_rejection(&self) -> bool {
        self.reason().is_rejection()
    }

    /// The last attempt's own error, if it returned one.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::<u8>::timed_out().operation_error(), None);
    /// ```
    pub const fn operation_error(&self) -> Option<&E> {
        self.last.as_ref()
    }

    /// The last attempt's own error, if it returned one, by value.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::retries_exhausted(3, Some(8)).into_operation(), Some(8));
    /// assert_eq!(Error::<u8>::timed_out().into_operation(), None);
    /// ```
    pub fn into_operation(self) -> Option<E> {
        self.last
    }

    /// The core's error, its operation error borrowed. (The error does not
    /// hold a `pipeline::Error` to lend: it keeps the reason's instant apart,
    /// in fewer bytes; [`into_inner`](Self::into_inner) gives one by value.)
    ///
    /// ```
    /// use steadfast::pipeline::Reason;
    /// # use steadfast_std::Error;
    /// let e = Error::retries_exhausted(3, Some("down"));
    /// assert_eq!(e.inner().attempts, 3);
    /// assert_eq!(e.inner().last, Some(&"down"));
    /// assert_eq!(e.inner().reason, Reason::RetriesExhausted);
    /// ```
    pub const fn inner(&self) -> pipeline::Error<&E> {
        pipeline::Error::new(self.reason(), self.attempts, self.last.as_ref())
    }

    /// The core's error, by value.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::operation(1).into_inner().last, Some(1));
    /// ```
    pub fn into_inner(self) -> pipeline::Error<E> {
        pipeline::Error::new(self.reason(), self.attempts, self.last)
    }

    /// Maps the operation's error type.
    ///
    /// ```
    /// # use steadfast_std::Error;
    /// assert_eq!(Error::operation(2).map(|n| n * 10), Error::operation(20));
    /// ```
    pub fn map<F, G: FnOnce(E) -> F>(self, f: G) -> Error<F> {
        Error {
            kind: self.kind,
            attempts: self.attempts,
            retry_at: self.retry_at,
            last: self.last.map(f),
            breaker: self.breaker,
        }
    }

    /// The same error, saying `attempts` attempts ran (what a retry layer
    /// answers for the attempts it sent).
    #[cfg(feature = "tower")]
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
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
        match (self.breaker, self.kind) {
            (Some(name), Kind::BreakerOpen | Kind::BreakerOpenUntil) => {
                write!(
                    f,
                    "circuit breaker `{}` open after {} attempt(s)",
                    name.as_str(),
                    self.attempts
                )?;
                match &self.last {
                    Some(e) => write!(f, ": {e}"),
                    None => Ok(()),
                }
            }
            _ => self.inner().fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.last {
            Some(e) => Some(e),
            None => None,
        }
    }
}
