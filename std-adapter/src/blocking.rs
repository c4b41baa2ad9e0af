//! Blocking execution on plain threads: [`Policy::call_blocking`].
//!
//! Same pipeline, same decisions as [`Policy::call`](crate::Policy), on the
//! `std` clock: waits are `std::thread::sleep`, a queued caller parks its
//! thread until its ticket is granted or its wait ends.
//!
//! **An attempt deadline cannot preempt a blocking closure**: the closure runs
//! to its end. If it returns at or after its deadline, the pipeline discards
//! the result and records the attempt as timed out (the gRPC rule), so the
//! caller sees a [`Reason::AttemptTimedOut`](steadfast::pipeline::Reason::AttemptTimedOut) error or a retry — never a
//! late value. Make the closure itself honour a timeout (socket timeouts) to
//! bound the time it blocks.

use steadfast::outcome::Classify;
use steadfast::pipeline::{Answer, Input, Step};

use crate::policy::{Driver, Lent, answer};
use crate::{Error, Fallback, Policy, time};

impl<C> Policy<C> {
    /// Runs `op` through the policy on the current thread.
    ///
    /// ```
    /// use steadfast::pipeline;
    /// use steadfast::retry;
    /// use steadfast_std::{Error, Policy};
    ///
    /// let config = pipeline::Config::default().with_retry(retry::Config::default().with_max_attempts(2));
    /// let policy = Policy::builder(config)?.build();
    /// let answer: Result<(), Error<&str>> = policy.call_blocking(|| Err("down"));
    /// assert_eq!(answer, Err(Error::retries_exhausted(2, Some("down"))));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn call_blocking<T, E>(&self, op: impl FnMut() -> Result<T, E>) -> Result<T, Error<E>>
    where
        C: Classify<T, E>,
    {
        self.blocking_inner(op, None)
    }

    /// Like [`call_blocking`](Self::call_blocking), answering with `fallback`
    /// when the pipeline ends in
    /// [`Finish::Fallback`](steadfast::pipeline::Finish::Fallback).
    ///
    /// ```
    /// use steadfast::pipeline::{self, FallbackOn};
    /// use steadfast::retry;
    /// use steadfast_std::{Fallback, Policy};
    ///
    /// let config = pipeline::Config::default()
    ///     .with_retry(retry::Config::default().with_max_attempts(1))
    ///     .with_fallback(FallbackOn::AnyFailure);
    /// let policy = Policy::builder(config)?.build();
    /// let providers = Fallback::from_fn(|_| Err("backup down")).or_else(|_| Ok("third provider"));
    /// assert_eq!(policy.call_blocking_with_fallback(&providers, || Err("primary down")).unwrap(), "third provider");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn call_blocking_with_fallback<T, E>(
        &self,
        fallback: &Fallback<T, E>,
        op: impl FnMut() -> Result<T, E>,
    ) -> Result<T, Error<E>>
    where
        C: Classify<T, E>,
    {
        self.blocking_inner(op, Some(fallback))
    }

    fn blocking_inner<T, E>(
        &self,
        op: impl FnMut() -> Result<T, E>,
        fallback: Option<&Fallback<T, E>>,
    ) -> Result<T, Error<E>>
    where
        C: Classify<T, E>,
    {
        let (finish, last) = self.run_blocking(op, fallback.is_some(), None);
        match (answer(&self.inner, finish, last), fallback) {
            (Answer::Fallback(error), Some(fallback)) => fallback.run(error),
            (other, _) => other.into_result(),
        }
    }

    /// Runs the pipeline to its end on this thread: how it finished and the
    /// last attempt's result. `fallback_name`: the name the call's fallback
    /// is reported under ([`Observer::on_fallback`](crate::Observer::on_fallback)).
    pub(crate) fn run_blocking<T, E>(
        &self,
        mut op: impl FnMut() -> Result<T, E>,
        has_fallback: bool,
        fallback_name: Option<&str>,
    ) -> (steadfast::pipeline::Finish, Option<Result<T, E>>)
    where
        C: Classify<T, E>,
    {
        let mut driver = Driver::start(
            Lent(&self.inner),
            time::now_std,
            has_fallback,
            fallback_name,
        );
        let (mut input, mut last) = (Input::Next, None);
        let finish = loop {
            match driver.step(input) {
                Step::Attempt { .. } => {
                    let result = op();
                    input = Input::Outcome(self.classifier.classify(&result));
                    last = Some(result);
                }
                Step::Wait { until } => {
                    let now = driver.now();
                    std::thread::sleep(time::to_std_duration(until.saturating_duration_since(now)));
                    input = Input::Next;
                }
                Step::Queued { ticket, until } => {
                    if let Some(bulkhead) = driver.bulkhead() {
                        bulkhead.wait_blocking(ticket, until);
                    }
                    input = Input::Next;
                }
                Step::Done(finish) => break finish,
            }
        };
        (finish, last)
    }
}
