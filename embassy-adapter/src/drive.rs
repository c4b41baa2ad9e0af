//! The futures of a call, written by hand rather than as `async fn`s: a
//! completed `async fn` polled again panics, these answer `Pending` instead,
//! so no panic path is linked into the firmware.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use embassy_time::Timer;
use pin_project_lite::pin_project;
use steadfast::bulkhead::Ticket;
use steadfast::outcome::{Classify, Verdict};
use steadfast::pipeline::{Event, Finish, Input, Observer, Step};
use steadfast::time::Instant;

use crate::time;

/// What a [`Drive`] asks of the call it drives: the adapter's `Run`.
pub(crate) trait Driver {
    /// Feeds `input` to the pipeline; `None`, with nothing fed, if a shared
    /// machine is borrowed.
    fn step(&mut self, input: Input) -> Option<Step>;

    /// Ready once `timer` fires or the slot of `ticket` was granted.
    fn poll_queue(&self, ticket: Ticket, timer: &mut Timer, cx: &mut Context<'_>) -> Poll<()>;
}

pin_project! {
    /// Where a call is between two steps.
    #[project = PhaseProj]
    enum Phase<Fut> {
        /// Feed the next input to the pipeline.
        Step,
        /// An attempt, cut off when its deadline's timer fires.
        Attempt { #[pin] attempt: Fut, deadline: Option<Timer> },
        /// A retry delay.
        Wait { timer: Timer },
        /// A place in the bulkhead's queue, until its slot is granted or the
        /// wait ends.
        Queued { ticket: Ticket, timer: Timer },
        /// The answer was given.
        Done,
    }
}

pin_project! {
    /// Drives one call of a [`Policy`](crate::Policy): feeds the pipeline,
    /// runs the attempts and sleeps its delays, answers with how the call
    /// finished and its last attempt's result (for [`Finish::answer`]).
    /// Dropped before the end, it abandons the call.
    pub(crate) struct Drive<'c, R, C: ?Sized, T, E, F, Fut> {
        // Declared first, dropped first: the attempt in flight goes before
        // the call is abandoned.
        #[pin]
        phase: Phase<Fut>,
        run: R,
        classify: &'c C,
        op: F,
        input: Input,
        last: Option<Result<T, E>>,
    }
}

impl<'c, R, C, T, E, F, Fut> Drive<'c, R, C, T, E, F, Fut>
where
    R: Driver,
    C: Classify<T, E> + ?Sized,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    pub(crate) fn new(run: R, classify: &'c C, op: F) -> Self {
        Self {
            phase: Phase::Step,
            run,
            classify,
            op,
            input: Input::Next,
            last: None,
        }
    }
}

impl<R, C, T, E, F, Fut> Future for Drive<'_, R, C, T, E, F, Fut>
where
    R: Driver,
    C: Classify<T, E> + ?Sized,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Output = (Finish, Option<Result<T, E>>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.phase.as_mut().project() {
                PhaseProj::Step => {
                    let Some(step) = this.run.step(*this.input) else {
                        // A machine is borrowed: this call is being polled from
                        // inside a `lock` of its own machine. Yield, then feed
                        // the same input.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    };
                    *this.input = Input::Next;
                    match step {
                        Step::Attempt { deadline, .. } => Phase::Attempt {
                            attempt: (this.op)(),
                            deadline: deadline.map(|d| Timer::at(time::to_embassy_instant(d))),
                        },
                        Step::Wait { until } => Phase::Wait {
                            timer: Timer::at(time::to_embassy_instant(until)),
                        },
                        Step::Queued { ticket, until } => Phase::Queued {
                            ticket,
                            timer: Timer::at(time::to_embassy_instant(until)),
                        },
                        Step::Done(finish) => {
                            this.phase.set(Phase::Done);
                            return Poll::Ready((finish, this.last.take()));
                        }
                    }
                }
                PhaseProj::Attempt { attempt, deadline } => {
                    // The attempt first: one that is ready at its deadline counts.
                    let result = match attempt.poll(cx) {
                        Poll::Ready(result) => Some(result),
                        Poll::Pending => match deadline.as_mut().map(|t| Pin::new(t).poll(cx)) {
                            Some(Poll::Ready(())) => None,
                            _ => return Poll::Pending,
                        },
                    };
                    *this.input = Input::Outcome(
                        result
                            .as_ref()
                            .map_or_else(Verdict::timed_out, |r| this.classify.classify(r)),
                    );
                    *this.last = result;
                    Phase::Step
                }
                PhaseProj::Wait { timer } => {
                    ready!(Pin::new(timer).poll(cx));
                    Phase::Step
                }
                PhaseProj::Queued { ticket, timer } => {
                    ready!(this.run.poll_queue(*ticket, timer, cx));
                    Phase::Step
                }
                // Polled after its answer: a contract breach, which gets no
                // second answer (and no panic).
                PhaseProj::Done => return Poll::Pending,
            };
            this.phase.set(next);
        }
    }
}

pin_project! {
    /// `future`, its output mapped by `then`.
    pub(crate) struct Then<D, G> {
        #[pin]
        future: D,
        then: Option<G>,
    }
}

impl<D, G> Then<D, G> {
    pub(crate) const fn new(future: D, then: G) -> Self {
        Self {
            future,
            then: Some(then),
        }
    }
}

impl<D: Future, G: FnOnce(D::Output) -> R, R> Future for Then<D, G> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = self.project();
        let output = ready!(this.future.poll(cx));
        match this.then.take() {
            Some(then) => Poll::Ready(then(output)),
            None => Poll::Pending,
        }
    }
}

/// The caller's observer, lent to one call.
pub(crate) struct Forward<'o, O: ?Sized>(pub(crate) &'o mut O);

impl<O: Observer + ?Sized> Observer for Forward<'_, O> {
    fn on_step(&mut self, now: Instant, input: Input, step: &Step) {
        self.0.on_step(now, input, step);
    }

    fn on_event(&mut self, now: Instant, event: &Event) {
        self.0.on_event(now, event);
    }

    fn on_finish(&mut self, now: Instant, finish: &Finish) {
        self.0.on_finish(now, finish);
    }
}
