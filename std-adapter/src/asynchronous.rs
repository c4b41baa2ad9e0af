//! Tokio execution: [`Policy::call`], and with a fallback:
//! [`Policy::call_with_fallback`] (synchronous alternatives) or
//! [`Policy::call_with_async_fallback`] (alternatives that `.await`, e.g. a
//! second provider behind its own policy).
//!
//! Retry delays and breaker waits sleep with [`tokio::time::sleep_until`];
//! an attempt runs under [`tokio::time::timeout_at`], which really cancels it
//! (drops the future) at its deadline. Bulkhead waiters park their task until
//! their ticket is granted or their wait ends. Every instant comes from
//! [`crate::time::now`], so `#[tokio::test(start_paused = true)]` runs a
//! policy deterministically.
//!
//! Dropping the future returned by `call` at any `.await` abandons the call
//! (see [`Call::abandon`](steadfast::pipeline::Call::abandon)): nothing leaks.
//! A fallback runs after the pipeline has finished, so dropping the call
//! while it runs only drops the fallback's own future.

use std::borrow::Borrow;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use steadfast::bulkhead::Ticket;
use steadfast::outcome::{Classify, Verdict};
use steadfast::pipeline::{Answer, Finish, Input, Step};

use crate::policy::{Driver, Hold, Lent, answer};
use crate::{AsyncFallback, Error, Fallback, Policy, time};

impl<C> Policy<C> {
    /// Runs `op` through the policy on Tokio: `op` is called once per attempt
    /// and its future cancelled at the attempt's deadline.
    ///
    /// ```
    /// use steadfast::pipeline;
    /// use steadfast_std::{Error, Policy};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() {
    ///     let policy = Policy::builder(pipeline::Config::default()).expect("a valid config").build();
    ///     let mut tries = 0;
    ///     let answer: Result<u32, Error<&str>> = policy
    ///         .call(|| {
    ///             tries += 1;
    ///             let n = tries;
    ///             async move { if n < 2 { Err("flaky") } else { Ok(42) } }
    ///         })
    ///         .await;
    ///     assert_eq!(answer.unwrap(), 42);
    /// }
    /// ```
    pub async fn call<T, E, F, Fut>(&self, op: F) -> Result<T, Error<E>>
    where
        C: Classify<T, E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_inner(op, None).await
    }

    /// Like [`call`](Self::call), answering with `fallback` when the pipeline
    /// ends in [`Finish::Fallback`]
    /// (configure [`pipeline::Config::fallback`](steadfast::pipeline::Config::fallback)).
    ///
    /// ```
    /// use steadfast::pipeline::{self, FallbackOn};
    /// use steadfast_std::{Fallback, Policy, SharedBreaker};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let breaker = SharedBreaker::new("prices", Default::default())?;
    ///     let _ = breaker.force_open();
    ///     let policy = Policy::builder(pipeline::Config::default().with_fallback(FallbackOn::Rejection)).expect("a valid config")
    ///         .breaker(breaker)
    ///         .build();
    ///     let cache = Fallback::value(9.99_f32.to_bits());
    ///     let price = policy.call_with_fallback(&cache, || async { Err::<u32, ()>(()) }).await;
    ///     assert_eq!(price.unwrap(), 9.99_f32.to_bits()); // served from the cache
    ///     Ok(())
    /// }
    /// ```
    pub async fn call_with_fallback<T, E, F, Fut>(
        &self,
        fallback: &Fallback<T, E>,
        op: F,
    ) -> Result<T, Error<E>>
    where
        C: Classify<T, E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_inner(op, Some(fallback)).await
    }

    /// Like [`call`](Self::call), answering with the [`AsyncFallback`] chain
    /// when the pipeline ends in
    /// [`Finish::Fallback`] (which
    /// failures lead there is
    /// [`pipeline::Config::fallback`](steadfast::pipeline::Config::fallback);
    /// other failures are returned as by `call`, without running it).
    ///
    /// The chain runs after the pipeline has finished: the bulkhead slot,
    /// breaker permit and every lock are already released, and the pipeline's
    /// [`Event::Fallback`](steadfast::pipeline::Event::Fallback) has been
    /// observed (it is what `fallback_invocations_total` counts), whether or
    /// not an alternative answers. Alternatives run in order on this task and
    /// see the error the call would have returned; if all fail, that error is
    /// returned. The policy's timeouts do not bound the chain. Dropping this
    /// future while an alternative runs drops that alternative's future and
    /// nothing else.
    ///
    /// ```
    /// use steadfast::pipeline::{self, FallbackOn};
    /// use steadfast_std::{AsyncFallback, Error, Fallback, Policy, SharedBreaker};
    ///
    /// #[tokio::main(flavor = "current_thread")]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let breaker = SharedBreaker::new("prices", Default::default())?;
    ///     let _ = breaker.force_open();
    ///     let policy = Policy::builder(pipeline::Config::default().with_fallback(FallbackOn::Rejection)).expect("a valid config")
    ///         .breaker(breaker)
    ///         .build();
    ///     // A local cache miss, then the replica.
    ///     let chain = AsyncFallback::from(Fallback::from_fn(|_: &Error<()>| Err(())))
    ///         .or_else(|_| async { Ok::<u32, ()>(999) });
    ///     let price = policy.call_with_async_fallback(&chain, || async { Err::<u32, ()>(()) }).await;
    ///     assert_eq!(price.unwrap(), 999); // the primary was never called
    ///     Ok(())
    /// }
    /// ```
    pub async fn call_with_async_fallback<T, E, F, Fut>(
        &self,
        fallback: &AsyncFallback<T, E>,
        op: F,
    ) -> Result<T, Error<E>>
    where
        C: Classify<T, E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        match self.drive(op, true).await {
            Answer::Fallback(error) => fallback.run(error).await,
            other => other.into_result(),
        }
    }

    async fn call_inner<T, E, F, Fut>(
        &self,
        op: F,
        fallback: Option<&Fallback<T, E>>,
    ) -> Result<T, Error<E>>
    where
        C: Classify<T, E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        match (self.drive(op, fallback.is_some()).await, fallback) {
            (Answer::Fallback(error), Some(fallback)) => fallback.run(error),
            (other, _) => other.into_result(),
        }
    }

    /// Runs the pipeline to its end and returns the caller's answer. The
    /// driver is dropped (every lock, permit and slot released) before this
    /// returns. `has_fallback`: whether a fallback answers
    /// [`Answer::Fallback`] (an input to the call, see
    /// [`Call::with_fallback`](steadfast::pipeline::Call::with_fallback)).
    async fn drive<T, E, F, Fut>(&self, op: F, has_fallback: bool) -> Answer<T, Error<E>>
    where
        C: Classify<T, E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let (finish, last) = self.run(op, has_fallback, None).await;
        answer(&self.inner, finish, last)
    }

    /// Runs the pipeline to its end: how it finished and the last attempt's
    /// result. `fallback_name`: the name the call's fallback is reported
    /// under ([`Observer::on_fallback`](crate::Observer::on_fallback)).
    pub(crate) async fn run<T, E, F, Fut>(
        &self,
        op: F,
        has_fallback: bool,
        fallback_name: Option<&str>,
    ) -> (steadfast::pipeline::Finish, Option<Result<T, E>>)
    where
        C: Classify<T, E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let driver = Driver::start(Lent(&self.inner), time::now, has_fallback, fallback_name);
        Run::<_, C, _, _, _, _>::new(driver, &self.classifier, op).await
    }
}

/// Where to get each attempt's future.
pub(crate) trait Attempts {
    type Attempt: Future;
    fn attempt(&mut self) -> Self::Attempt;
}

impl<F: FnMut() -> Fut, Fut: Future> Attempts for F {
    type Attempt = Fut;
    fn attempt(&mut self) -> Fut {
        self()
    }
}

pin_project! {
    /// A call driven to its end on Tokio: each [`Step`] executed (an attempt
    /// under its deadline, a sleep, a wait in the bulkhead's queue) and its
    /// result fed back. Answers how the pipeline finished and the last
    /// attempt's result; dropped before that, its driver abandons the call.
    pub(crate) struct Run<'p, H: Hold, C, K, A, F, O> {
        driver: Driver<'p, H>,
        // The classifier `C`, held by value or by reference.
        classifier: K,
        judged: PhantomData<fn() -> C>,
        attempts: A,
        input: Input,
        last: Option<O>,
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[project_replace = StateReplace]
    enum State<F> {
        Stepping,
        Unbounded { #[pin] attempt: F },
        Bounded { #[pin] attempt: tokio::time::Timeout<F> },
        Waiting { #[pin] sleep: tokio::time::Sleep },
        Queued { ticket: Ticket, #[pin] sleep: tokio::time::Sleep },
        Done,
    }
}

impl<'p, H: Hold, C, K, A, F, O> Run<'p, H, C, K, A, F, O> {
    pub(crate) fn new(driver: Driver<'p, H>, classifier: K, attempts: A) -> Self {
        Self {
            driver,
            classifier,
            judged: PhantomData,
            attempts,
            input: Input::Next,
            last: None,
            state: State::Stepping,
        }
    }

    /// The policy the call runs under.
    #[cfg(feature = "tower")]
    pub(crate) fn policy(&self) -> &crate::policy::Inner {
        self.driver.policy()
    }
}

impl<H, K, A, C, F, T, E> Future for Run<'_, H, C, K, A, F, Result<T, E>>
where
    H: Hold,
    K: Borrow<C>,
    C: Classify<T, E>,
    A: Attempts<Attempt = F>,
    F: Future<Output = Result<T, E>>,
{
    type Output = (Finish, Option<Result<T, E>>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut this = self.as_mut().project();
            let result = match this.state.as_mut().project() {
                // Leaving `Stepping`, which holds nothing, the state is
                // replaced in place without running the whole enum's drop.
                StateProj::Stepping => {
                    let next = match this.driver.step(*this.input) {
                        Step::Attempt { deadline, .. } => {
                            let attempt = this.attempts.attempt();
                            match deadline {
                                Some(d) => State::Bounded {
                                    attempt: tokio::time::timeout_at(time::to_tokio(d), attempt),
                                },
                                None => State::Unbounded { attempt },
                            }
                        }
                        Step::Wait { until } => State::Waiting {
                            sleep: tokio::time::sleep_until(time::to_tokio(until)),
                        },
                        Step::Queued { ticket, until } if this.driver.bulkhead().is_some() => {
                            State::Queued {
                                ticket,
                                sleep: tokio::time::sleep_until(time::to_tokio(until)),
                            }
                        }
                        Step::Queued { .. } => {
                            *this.input = Input::Next;
                            continue;
                        }
                        Step::Done(finish) => {
                            this.state.project_replace(State::Done);
                            return Poll::Ready((finish, this.last.take()));
                        }
                    };
                    this.state.project_replace(next);
                    continue;
                }
                StateProj::Unbounded { attempt } => Some(ready!(attempt.poll(cx))),
                StateProj::Bounded { attempt } => ready!(attempt.poll(cx)).ok(),
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    *this.input = Input::Next;
                    this.state.set(State::Stepping);
                    continue;
                }
                StateProj::Queued { ticket, sleep } => {
                    let granted = this
                        .driver
                        .bulkhead()
                        .is_some_and(|b| b.poll_granted(*ticket, cx));
                    if !granted {
                        ready!(sleep.poll(cx));
                    }
                    *this.input = Input::Next;
                    this.state.set(State::Stepping);
                    continue;
                }
                // Answered: stays pending if polled again.
                StateProj::Done => return Poll::Pending,
            };
            *this.input = Input::Outcome(result.as_ref().map_or_else(Verdict::timed_out, |r| {
                Borrow::<C>::borrow(this.classifier).classify(r)
            }));
            *this.last = result;
            this.state.set(State::Stepping);
        }
    }
}
