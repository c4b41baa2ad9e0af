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
/// An open breaker's refusal is a hot path, so the error is small: it keeps
/// the core error's parts, the reason's instant apart from the reason, which
/// makes a refusal four words with nothing to drop ([`inner`](Self::inner)
/// puts the core's error back together, the operation's error borrowed).
/// The breaker's name is interned: each distinct name is stored once for
/// the life of the process and an error holds a one-word reference to it, so
/// cloning and dropping an error count no references. A breaker's name is
/// interned when the breaker is built; [`with_breaker`](Self::with_breaker)
/// and [`rejected`](Self::rejected) intern the name they are given, so names
/// should come from a fixed set (breakers, a registry), not be made per call.
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
    /// Always zero: with `attempts`, `spare_byte` and the `last` of a
    /// one-byte or zero-sized `E` it fills a whole word, which an error then
    /// writes with one store (see [`Kind`]).
    spare: u16,
    /// Always zero, as `spare`.
    spare_byte: u8,
}

/// A [`Reason`] without the instant it may carry: the core's `Reason` is 24
/// bytes, two of its variants holding an `Option<Instant>`; an [`Error`]
/// keeps this and the instant beside it. A whole word wide, so that it holds
/// the error's largest niche: a `Result<T, Error<E>>` says `Ok` in it, with
/// one store of a word, and telling `Ok`, a refusal and anything else apart
/// is one comparison. `Ok`, and every word of a refusal when `E` is
/// zero-sized or one byte, is written whole, so a copy of a result just made
/// reads each word from the one store that wrote it; a word written in
/// narrower parts would make the copy wait until they all reach the cache
/// (several nanoseconds, on the hot path of a call that succeeds). (A new `Reason` fails to compile in [`Kind::split`]
/// and [`Kind::reason`] until it has a kind.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
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
    /// Wraps the core's error. (Not a `const fn`: a `const fn` cannot take
    /// the core's generic error apart into this one's fields.)
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
            spare: 0,
            spare_byte: 0,
        }
    }

    /// The same error, naming the breaker the call went through (the name
    /// interned, see [`Error`]).
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
    #[cfg(feature = "tower")]
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

    /// Breaker `breaker` refused the call before any attempt ran (the name
    /// interned, see [`Error`]).
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
            spare: 0,
            spare_byte: 0,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason, each instant-bearing one with and without its instant.
    fn reasons() -> Vec<Reason> {
        // A new reason fails to compile here until it is listed below.
        let _listed = |r: Reason| match r {
            Reason::Operation
            | Reason::AttemptTimedOut
            | Reason::DeadlineExceeded
            | Reason::BreakerOpen { .. }
            | Reason::BulkheadFull
            | Reason::QueueTimeout
            | Reason::RetriesExhausted
            | Reason::BudgetExhausted
            | Reason::DeadlineWouldPass
            | Reason::Cancelled
            | Reason::RateLimited { .. }
            | Reason::Throttled => (),
        };
        let at = Some(Instant::from_micros(1_234_567));
        vec![
            Reason::Operation,
            Reason::AttemptTimedOut,
            Reason::DeadlineExceeded,
            Reason::BreakerOpen { retry_at: None },
            Reason::BreakerOpen { retry_at: at },
            Reason::BreakerOpen {
                retry_at: Some(Instant::ZERO),
            },
            Reason::BulkheadFull,
            Reason::QueueTimeout,
            Reason::RetriesExhausted,
            Reason::BudgetExhausted,
            Reason::DeadlineWouldPass,
            Reason::Cancelled,
            Reason::RateLimited { retry_at: None },
            Reason::RateLimited { retry_at: at },
            Reason::RateLimited {
                retry_at: Some(Instant::MAX),
            },
            Reason::Throttled,
        ]
    }

    #[test]
    fn every_reason_reads_back_as_the_core_said_it() {
        for reason in reasons() {
            let core = pipeline::Error::new(reason, 2, Some("nak"));
            let e = Error::from(core);
            assert_eq!(e.reason(), reason);
            assert_eq!(e.attempts(), 2);
            assert_eq!(e.is_rejection(), reason.is_rejection());
            assert_eq!(e.operation_error(), Some(&"nak"));
            assert_eq!(e.inner(), pipeline::Error::new(reason, 2, Some(&"nak")));
            // (`to_std` reads the clock for `Instant::MAX`: compared apart.)
            assert_eq!(e.inner().retry_at(), core.retry_at());
            assert_eq!(e.retry_at().is_some(), core.retry_at().is_some());
            assert_eq!(e.breaker(), None);
            assert_eq!(e.to_string(), core.to_string());
            assert_eq!(
                format!("{e:?}"),
                format!("Error {{ error: {core:?}, breaker: None }}")
            );
            assert_eq!(e.clone().into_inner(), core);
            assert_eq!(e.clone().into_operation(), Some("nak"));
        }
    }

    #[test]
    fn errors_are_equal_exactly_when_the_core_errors_and_names_are() {
        let reasons = reasons();
        for (i, a) in reasons.iter().enumerate() {
            for (j, b) in reasons.iter().enumerate() {
                let ea = Error::new(pipeline::Error::new(*a, 1, None::<u8>));
                let eb = Error::new(pipeline::Error::new(*b, 1, None::<u8>));
                assert_eq!(ea == eb, i == j, "{a:?} against {b:?}");
            }
        }
        let at = Some(Instant::from_secs(30));
        let db = Error::<u8>::rejected("db".into(), at);
        assert_eq!(db, db.clone());
        assert_eq!(db, Error::rejected(Arc::from(String::from("db")), at));
        assert_ne!(db, Error::rejected("dc".into(), at));
        assert_ne!(db, Error::rejected("db".into(), None));
        assert_ne!(
            db,
            Error::new(pipeline::Error::new(
                Reason::BreakerOpen { retry_at: at },
                0,
                None
            ))
        );
        assert_ne!(
            Error::<u8>::operation(1).with_breaker("db".into()),
            Error::operation(1)
        );
        assert_ne!(
            Error::<u8>::retries_exhausted(3, None),
            Error::retries_exhausted(2, None)
        );
        assert_ne!(
            Error::retries_exhausted(3, Some(1)),
            Error::retries_exhausted(3, Some(2))
        );
    }

    #[test]
    fn a_refusal_names_its_breaker_in_every_view() {
        let at = Instant::from_secs(30);
        let e = Error::new(pipeline::Error::new(
            Reason::BreakerOpen { retry_at: Some(at) },
            2,
            Some("boom"),
        ))
        .with_breaker("db".into());
        assert_eq!(e.breaker(), Some("db"));
        assert_eq!(
            e.to_string(),
            "circuit breaker `db` open after 2 attempt(s): boom"
        );
        assert_eq!(e.retry_at(), Some(time::to_std(at)));
        assert_eq!(
            format!("{e:?}"),
            format!(
                "Error {{ error: {:?}, breaker: Some(\"db\") }}",
                pipeline::Error::new(Reason::BreakerOpen { retry_at: Some(at) }, 2, Some("boom"))
            )
        );
        let refused = Error::<&str>::rejected("db".into(), None);
        assert_eq!(
            refused.to_string(),
            "circuit breaker `db` open after 0 attempt(s)"
        );
        assert_eq!((refused.attempts(), refused.retry_at()), (0, None));
        // Only a refusal shows the name in its text; every error keeps it.
        let named = Error::<&str>::bulkhead_full().with_breaker("db".into());
        assert_eq!(named.to_string(), "bulkhead full after 0 attempt(s)");
        assert_eq!(named.map(str::len).breaker(), Some("db"));
        assert_eq!(
            Error::<u8>::rejected("db".into(), None)
                .map(u16::from)
                .breaker(),
            Some("db")
        );
    }

    #[test]
    fn a_name_is_stored_once_and_an_error_holds_it_in_one_word() {
        let a = Name::intern("interned-once");
        let b = Name::intern(&String::from("interned-once"));
        assert!(std::ptr::eq(a.0, b.0));
        assert_ne!(a, Name::intern("interned-twice"));
        assert_eq!(size_of::<Option<Name>>(), size_of::<usize>());
        // A refusal: the instant, the name, the kind with `Ok` in its niche
        // and one word for the rest; nothing to drop.
        assert_eq!(size_of::<Result<(), Error<()>>>(), 4 * size_of::<u64>());
        assert_eq!(size_of::<Result<u8, Error<u8>>>(), 5 * size_of::<u64>());
        assert_eq!(size_of::<Error<std::io::Error>>(), 5 * size_of::<u64>());
        assert!(!std::mem::needs_drop::<Error<()>>());
    }
}
