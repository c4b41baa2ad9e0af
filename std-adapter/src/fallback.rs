//! Fallbacks: what a call answers when the pipeline ends in
//! [`Finish::Fallback`](sturdy::pipeline::Finish::Fallback).
//!
//! The pipeline decides *whether* (set
//! [`PipelineConfig::fallback`](sturdy::pipeline::PipelineConfig::fallback));
//! a [`Fallback`] says *what*: a value, a closure, or a chain of alternatives
//! tried in order (the seeds' cache fallback and multi-provider chain).

use std::fmt;

use crate::Error;

type Alternative<T, E> = Box<dyn Fn(&Error<E>) -> Result<T, E> + Send + Sync>;

/// Alternatives tried in order until one returns `Ok`; each sees why the call
/// failed. If every alternative fails, the call's original error is returned.
///
/// ```
/// use sturdy_std::{Error, Fallback};
///
/// let cache = Fallback::value("cached");
/// assert_eq!(cache.run(Error::<()>::BulkheadFull), Ok("cached"));
///
/// let providers: Fallback<&str, &str> = Fallback::from_fn(|_| Err("secondary down"))
///     .or_else(|e| if e.is_rejection() { Ok("tertiary") } else { Err("no") });
/// assert_eq!(providers.run(Error::BulkheadFull), Ok("tertiary"));
/// assert!(matches!(providers.run(Error::TimedOut), Err(Error::TimedOut)));
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
    /// # use sturdy_std::{Error, Fallback};
    /// assert_eq!(Fallback::value(0).run(Error::<()>::TimedOut), Ok(0));
    /// ```
    pub fn value(value: T) -> Self {
        Self::from_fn(move |_| Ok(value.clone()))
    }
}

impl<T, E> Fallback<T, E> {
    /// Answers with `f` (which may fail: then the original error stands).
    ///
    /// ```
    /// # use sturdy_std::{Error, Fallback};
    /// let f: Fallback<u32, ()> = Fallback::from_fn(|e| if e.is_rejection() { Ok(1) } else { Err(()) });
    /// assert_eq!(f.run(Error::BulkheadFull), Ok(1));
    /// ```
    pub fn from_fn(f: impl Fn(&Error<E>) -> Result<T, E> + Send + Sync + 'static) -> Self {
        Self {
            alternatives: vec![Box::new(f)],
        }
    }

    /// A chain of alternatives, tried in order.
    ///
    /// ```
    /// # use sturdy_std::{Error, Fallback};
    /// let chain: Fallback<u8, ()> = Fallback::chain([
    ///     Box::new(|_: &Error<()>| Err(())) as Box<dyn Fn(&Error<()>) -> Result<u8, ()> + Send + Sync>,
    ///     Box::new(|_: &Error<()>| Ok(2)),
    /// ]);
    /// assert_eq!(chain.run(Error::TimedOut), Ok(2));
    /// ```
    pub fn chain(alternatives: impl IntoIterator<Item = Alternative<T, E>>) -> Self {
        Self {
            alternatives: alternatives.into_iter().collect(),
        }
    }

    /// Adds an alternative tried after the others.
    ///
    /// ```
    /// # use sturdy_std::{Error, Fallback};
    /// let f: Fallback<u8, ()> = Fallback::from_fn(|_| Err(())).or_else(|_| Ok(3));
    /// assert_eq!(f.run(Error::TimedOut), Ok(3));
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
    /// # use sturdy_std::{Error, Fallback};
    /// let none: Fallback<u8, ()> = Fallback::chain([]);
    /// assert!(matches!(none.run(Error::TimedOut), Err(Error::TimedOut)));
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
