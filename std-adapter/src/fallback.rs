//! Fallbacks: what a call answers when the pipeline ends in
//! [`Finish::Fallback`](steadfast::pipeline::Finish::Fallback).
//!
//! The pipeline decides *whether* (set
//! [`pipeline::Config::fallback`](steadfast::pipeline::Config::fallback));
//! a fallback says *what*: a value, a closure, or a chain of alternatives
//! tried in order (the seeds' cache fallback and multi-provider chain).
//!
//! * [`Fallback`]: synchronous alternatives (a cached value, a default), for
//!   `Policy::call_with_fallback` (Tokio) and
//!   [`Policy::call_blocking_with_fallback`](crate::Policy::call_blocking_with_fallback).
//! * [`AsyncFallback`]: alternatives that may `.await` (a second provider,
//!   itself behind its own [`Policy`](crate::Policy)), mixed with synchronous
//!   ones, for `Policy::call_with_async_fallback` (Tokio); its
//!   [`run`](AsyncFallback::run) works on any executor.
//!
//! The rules are the same for both. Alternatives run in the order they were
//! added, each only if every earlier one failed, and the first `Ok` is the
//! call's answer. Every alternative sees the same error: the one the call
//! would have returned without a fallback (a value the classifier failed
//! shows as an error with no `last` operation error). If every alternative fails,
//! that error is returned; the alternatives' own errors are discarded. A
//! fallback runs after the pipeline has finished, so no lock, bulkhead slot
//! or half-open probe is held while it runs, the policy's timeouts do not
//! bound it (give a slow alternative its own [`Policy`](crate::Policy)), and
//! `fallback_invocations_total` ([`observe`](crate::observe)) has already
//! counted the call, whatever the alternatives answer.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::Error;

type Alternative<T, E> = Box<dyn Fn(&Error<E>) -> Result<T, E> + Send + Sync>;

/// Alternatives tried in order until one returns `Ok`; each sees why the call
/// failed. If every alternative fails, the call's original error is returned.
///
/// ```
/// use steadfast_std::{Error, Fallback};
///
/// let cache = Fallback::value("cached");
/// assert_eq!(cache.run(Error::<()>::bulkhead_full()), Ok("cached"));
///
/// let providers: Fallback<&str, &str> = Fallback::from_fn(|_| Err("secondary down"))
///     .or_else(|e| if e.is_rejection() { Ok("tertiary") } else { Err("no") });
/// assert_eq!(providers.run(Error::bulkhead_full()), Ok("tertiary"));
/// assert_eq!(providers.run(Error::timed_out()), Err(Error::timed_out()));
/// ```
pub struct Fallback<T, E> {
    alternatives: Vec<Alternative<T, E>>,
}

impl<T, E> fmt::Debug for Fallback<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("alternatives", &self.alternatives.len())
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static, E> Fallback<T, E> {
    /// Always answers (a clone of) `value`.
    ///
    /// ```
    /// # use steadfast_std::{Error, Fallback};
    /// assert_eq!(Fallback::value(0).run(Error::<()>::timed_out()), Ok(0));
    /// ```
    pub fn value(value: T) -> Self {
        Self::from_fn(move |_| Ok(value.clone()))
    }
}

impl<T, E> Fallback<T, E> {
    /// Answers with `f` (which may fail: then the original error stands).
    ///
    /// ```
    /// # use steadfast_std::{Error, Fallback};
    /// let f: Fallback<u32, ()> = Fallback::from_fn(|e| if e.is_rejection() { Ok(1) } else { Err(()) });
    /// assert_eq!(f.run(Error::bulkhead_full()), Ok(1));
    /// ```
    pub fn from_fn(f: impl Fn(&Error<E>) -> Result<T, E> + Send + Sync + 'static) -> Self {
        Self {
            alternatives: vec![Box::new(f)],
        }
    }

    /// A chain of alternatives, tried in order.
    ///
    /// ```
    /// # use steadfast_std::{Error, Fallback};
    /// let chain: Fallback<u8, ()> = Fallback::chain([
    ///     Box::new(|_: &Error<()>| Err(())) as Box<dyn Fn(&Error<()>) -> Result<u8, ()> + Send + Sync>,
    ///     Box::new(|_: &Error<()>| Ok(2)),
    /// ]);
    /// assert_eq!(chain.run(Error::timed_out()), Ok(2));
    /// ```
    pub fn chain(alternatives: impl IntoIterator<Item = Alternative<T, E>>) -> Self {
        Self {
            alternatives: alternatives.into_iter().collect(),
        }
    }

    /// Adds an alternative tried after the others.
    ///
    /// ```
    /// # use steadfast_std::{Error, Fallback};
    /// let f: Fallback<u8, ()> = Fallback::from_fn(|_| Err(())).or_else(|_| Ok(3));
    /// assert_eq!(f.run(Error::timed_out()), Ok(3));
    /// ```
    #[must_use]
    pub fn or_else(
        mut self,
        f: impl Fn(&Error<E>) -> Result<T, E> + Send + Sync + 'static,
    ) -> Self {
        self.alternatives.push(Box::new(f));
        self
    }

    /// Runs the alternatives for a call that failed with `error`.
    ///
    /// ```
    /// # use steadfast_std::{Error, Fallback};
    /// let none: Fallback<u8, ()> = Fallback::chain([]);
    /// assert_eq!(none.run(Error::timed_out()), Err(Error::timed_out()));
    /// ```
    pub fn run(&self, error: Error<E>) -> Result<T, Error<E>> {
        for alternative in &self.alternatives {
            if let Ok(value) = alternative(&error) {
                return Ok(value);
            }
        }
        Err(error)
    }
}

type SyncAlternative<T, E> = Box<dyn Fn(&Error<E>) -> Option<T> + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = Option<T>> + Send>>;
type AsyncAlternative<T, E> = Box<dyn Fn(&Error<E>) -> BoxFuture<T> + Send + Sync>;

enum AnyAlternative<T, E> {
    Sync(SyncAlternative<T, E>),
    Async(AsyncAlternative<T, E>),
}

/// Alternatives that may `.await` — a second provider, a remote cache —
/// mixed with synchronous ones, tried in order until one returns `Ok`.
///
/// The rules (same as [`Fallback`]):
///
/// * **Order**: alternatives run one at a time, in the order they were
///   added; an alternative runs only if every earlier one failed, and the
///   first `Ok` is the answer (later ones are not called).
/// * **Error seen**: every alternative gets `&Error<E>`, the error the call
///   would have returned without a fallback (`Rejected`, `BulkheadFull`,
///   `TimedOut`, `RetriesExhausted`, `Operation`).
/// * **All fail**: the call returns that same original error. An
///   alternative's own error may be of any type and is discarded.
///
/// An async alternative is a closure returning a future. The future must be
/// `Send + 'static`, so it cannot borrow the error or the closure: read what
/// you need from the error before the `async move` block, and clone handles
/// (clients, [`Policy`](crate::Policy)s) into it. The future runs on the
/// caller's task, outside the policy's timeouts (wrap a slow alternative in
/// its own `Policy` or `tokio::time::timeout`); dropping the call drops it.
///
/// A multi-provider chain, the backup behind its own breaker, then a cache:
///
/// ```
/// use steadfast::pipeline::{self, FallbackOn};
/// use steadfast::retry;
/// use steadfast_std::{AsyncFallback, Error, Policy, SharedBreaker};
///
/// #[derive(Clone)]
/// struct Provider { up: bool }
/// impl Provider {
///     async fn quote(&self) -> Result<u32, &'static str> {
///         if self.up { Ok(120) } else { Err("provider down") }
///     }
/// }
///
/// # #[cfg(not(feature = "tokio"))] fn main() {}
/// # #[cfg(feature = "tokio")]
/// #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let (primary, backup) = (Provider { up: false }, Provider { up: true });
///     let backup_policy = Policy::builder(pipeline::Config::default()).expect("a valid config")
///         .name("backup")
///         .breaker(SharedBreaker::new("backup", Default::default())?)
///         .build();
///     let chain = AsyncFallback::from_fn(move |_: &Error<&str>| {
///         let (policy, backup) = (backup_policy.clone(), backup.clone());
///         async move { policy.call(|| backup.quote()).await } // retried, own breaker
///     })
///     .or_else_sync(|_| Ok::<_, ()>(100)); // last resort: yesterday's quote
///
///     let config = pipeline::Config::default()
///         .with_retry(retry::Config::default().with_max_attempts(2))
///         .with_fallback(FallbackOn::AnyFailure);
///     let policy = Policy::builder(config).expect("a valid config").name("primary").build();
///     let quote = policy.call_with_async_fallback(&chain, || primary.quote()).await;
///     assert_eq!(quote.unwrap(), 120); // from the backup provider
///     Ok(())
/// }
/// ```
pub struct AsyncFallback<T, E> {
    alternatives: Vec<AnyAlternative<T, E>>,
}

impl<T, E> fmt::Debug for AsyncFallback<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFallback")
            .field("alternatives", &self.alternatives.len())
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static, E> AsyncFallback<T, E> {
    /// Always answers (a clone of) `value`, without awaiting.
    ///
    /// ```
    /// use steadfast_std::{AsyncFallback, Error};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let cache = AsyncFallback::value("cached");
    ///     assert_eq!(cache.run(Error::<()>::bulkhead_full()).await, Ok("cached"));
    /// }
    /// ```
    pub fn value(value: T) -> Self {
        Self::from_sync_fn(move |_| Some(value.clone()))
    }
}

impl<T: 'static, E> AsyncFallback<T, E> {
    /// Answers with the future `f` returns for the call's error (if it fails,
    /// the original error stands).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::{AsyncFallback, Error};
    ///
    /// #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// async fn main() {
    ///     // Read the error first; the future may not borrow it.
    ///     let secondary = AsyncFallback::from_fn(|e: &Error<&str>| {
    ///         let rejected = e.is_rejection();
    ///         async move {
    ///             tokio::time::sleep(Duration::from_millis(30)).await; // the second provider
    ///             if rejected { Ok(7) } else { Err("secondary down") }
    ///         }
    ///     });
    ///     assert_eq!(secondary.run(Error::bulkhead_full()).await, Ok(7));
    ///     assert_eq!(secondary.run(Error::timed_out()).await, Err(Error::timed_out()));
    /// }
    /// ```
    pub fn from_fn<F, Fut, X>(f: F) -> Self
    where
        F: Fn(&Error<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, X>> + Send + 'static,
    {
        Self {
            alternatives: vec![AnyAlternative::Async(boxed_async(f))],
        }
    }

    /// Adds an async alternative tried after the others.
    ///
    /// ```
    /// use steadfast_std::{AsyncFallback, Error};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let chain = AsyncFallback::from_fn(|_: &Error<()>| async { Err::<u8, _>("second down") })
    ///         .or_else(|_| async { Ok::<_, ()>(3) });
    ///     assert_eq!(chain.run(Error::timed_out()).await, Ok(3));
    /// }
    /// ```
    #[must_use]
    pub fn or_else<F, Fut, X>(mut self, f: F) -> Self
    where
        F: Fn(&Error<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, X>> + Send + 'static,
    {
        self.alternatives
            .push(AnyAlternative::Async(boxed_async(f)));
        self
    }

    /// Adds a synchronous alternative tried after the others (it runs
    /// inline, without a boxed future).
    ///
    /// ```
    /// use steadfast_std::{AsyncFallback, Error};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let chain = AsyncFallback::from_fn(|_: &Error<()>| async { Err::<u8, _>("down") })
    ///         .or_else_sync(|e| if e.is_rejection() { Ok(1) } else { Err("no cache") });
    ///     assert_eq!(chain.run(Error::bulkhead_full()).await, Ok(1));
    ///     assert_eq!(chain.run(Error::timed_out()).await, Err(Error::timed_out()));
    /// }
    /// ```
    #[must_use]
    pub fn or_else_sync<X>(
        mut self,
        f: impl Fn(&Error<E>) -> Result<T, X> + Send + Sync + 'static,
    ) -> Self {
        self.alternatives
            .push(AnyAlternative::Sync(Box::new(move |e| f(e).ok())));
        self
    }

    fn from_sync_fn(f: impl Fn(&Error<E>) -> Option<T> + Send + Sync + 'static) -> Self {
        Self {
            alternatives: vec![AnyAlternative::Sync(Box::new(f))],
        }
    }
}

impl<T, E> AsyncFallback<T, E> {
    /// Runs the alternatives, in order, for a call that failed with `error`:
    /// the first `Ok`, or `error` back if every alternative fails (or there
    /// is none). Works on any executor; dropping the future drops the
    /// running alternative's future.
    ///
    /// ```
    /// use steadfast_std::{AsyncFallback, Error, Fallback};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let none = AsyncFallback::from(Fallback::<u8, ()>::chain([]));
    ///     assert_eq!(none.run(Error::timed_out()).await, Err(Error::timed_out()));
    /// }
    /// ```
    pub async fn run(&self, error: Error<E>) -> Result<T, Error<E>> {
        for alternative in &self.alternatives {
            let answer = match alternative {
                AnyAlternative::Sync(f) => f(&error),
                AnyAlternative::Async(f) => f(&error).await,
            };
            if let Some(value) = answer {
                return Ok(value);
            }
        }
        Err(error)
    }
}

/// A synchronous chain becomes the start of an async one (same alternatives,
/// same order), so async alternatives can be appended to it.
///
/// ```
/// use steadfast_std::{AsyncFallback, Error, Fallback};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let local: Fallback<&str, ()> = Fallback::from_fn(|_| Err(()));
///     let chain = AsyncFallback::from(local).or_else(|_| async { Ok::<_, ()>("remote cache") });
///     assert_eq!(chain.run(Error::timed_out()).await, Ok("remote cache"));
/// }
/// ```
impl<T: 'static, E: 'static> From<Fallback<T, E>> for AsyncFallback<T, E> {
    fn from(fallback: Fallback<T, E>) -> Self {
        Self {
            alternatives: fallback
                .alternatives
                .into_iter()
                .map(|f| AnyAlternative::Sync(Box::new(move |e: &Error<E>| f(e).ok()) as _))
                .collect(),
        }
    }
}

fn boxed_async<T, E, X, F, Fut>(f: F) -> AsyncAlternative<T, E>
where
    T: 'static,
    F: Fn(&Error<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, X>> + Send + 'static,
{
    Box::new(move |e| {
        let answer = f(e);
        Box::pin(async move { answer.await.ok() })
    })
}
