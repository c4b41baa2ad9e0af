//! What happened inside a step, for logs, metrics and traces.

use crate::breaker::Transition;
use crate::bulkhead::Ticket;
use crate::time::{Duration, Instant};

use super::{Failure, Finish, Input, Step};

/// Something an adapter may want to log or count, heard by the [`Observer`]
/// lent to a step in [`Shared`](super::Shared).
///
/// ```
/// use steadfast::pipeline::Event;
/// use steadfast::time::{Duration, Instant};
/// let e = Event::Retry { attempt: 2, delay: Duration::from_millis(100), at: Instant::from_millis(100) };
/// assert!(matches!(e, Event::Retry { attempt: 2, .. }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// The breaker changed state (the seeds' state-change callback and
    /// `circuit_breaker_state` gauge).
    Breaker(Transition),
    /// A retry is scheduled: attempt number `attempt` will start at `at`, after
    /// `delay` (the seeds' `on_retry` hook, `retry_attempts_total`).
    Retry {
        /// The number of the attempt that will run (2 = the first retry).
        attempt: u32,
        /// How long the call waits first.
        delay: Duration,
        /// When it will start.
        at: Instant,
    },
    /// Attempt number `attempt` hit its deadline (`timeout_errors_total`).
    TimedOut {
        /// The attempt's number.
        attempt: u32,
    },
    /// A bulkhead slot was handed to the waiter holding this ticket: wake it.
    Granted(Ticket),
    /// The call ended in its fallback (`fallback_invocations_total`). Raised
    /// only for a caller that has one ([`Call::with_fallback`](super::Call::with_fallback)).
    Fallback(Failure),
}

/// Watches calls: every step a driver took (the [`Input`] it fed and the
/// [`Step`] it got), every [`Event`] a call raised and how it ended, with the
/// instant of the step. The one shape every driver reports through (steps by
/// the driver, events as the call raises them to the observer lent in
/// [`Shared`](super::Shared), the finish through
/// [`Call::drain`](super::Call::drain)); steadfast-std's observer adds the
/// policy's and breaker's names. `()` watches nothing, and a call watched by
/// nobody pays nothing for its events.
///
/// ```
/// use steadfast::pipeline::{Event, Observer};
/// use steadfast::time::Instant;
///
/// /// Counts retries.
/// struct Retries(u32);
/// impl Observer for Retries {
///     fn on_event(&mut self, _now: Instant, event: &Event) {
///         if matches!(event, Event::Retry { .. }) { self.0 += 1; }
///     }
/// }
/// let mut r = Retries(0);
/// r.on_event(Instant::ZERO, &Event::TimedOut { attempt: 1 });
/// assert_eq!(r.0, 0);
/// ```
pub trait Observer {
    /// The driver fed `input` at `now` and the call answered `step`.
    fn on_step(&mut self, now: Instant, input: Input, step: &Step) {
        let _ = (now, input, step);
    }
    /// The call raised `event` during the step at `now`.
    fn on_event(&mut self, now: Instant, event: &Event) {
        let _ = (now, event);
    }
    /// The call ended at `now`, cancelled calls included.
    fn on_finish(&mut self, now: Instant, finish: &Finish) {
        let _ = (now, finish);
    }
}

impl Observer for () {}

/// Keeps every event, for a driver that hands them on after the step (outside
/// its locks).
///
/// ```
/// use steadfast::pipeline::{Event, Events, Observer};
/// use steadfast::time::Instant;
/// let mut q = Events::new();
/// q.on_event(Instant::ZERO, &Event::TimedOut { attempt: 1 });
/// assert_eq!(q.pop(), Some(Event::TimedOut { attempt: 1 }));
/// ```
impl Observer for Events {
    fn on_event(&mut self, _now: Instant, event: &Event) {
        self.push(*event);
    }
}

/// A tiny inline FIFO of [`Event`]s; when full, the oldest is dropped. Lent as
/// the observer of a step ([`Shared::with_observer`](super::Shared::with_observer)),
/// it holds what the step raised; a step raises at most five.
///
/// ```
/// use steadfast::pipeline::{Event, Events};
/// let mut q = Events::new();
/// for attempt in 0..10 {
///     q.push(Event::TimedOut { attempt });
/// }
/// // Only the newest CAPACITY survive, oldest first.
/// assert_eq!(q.pop(), Some(Event::TimedOut { attempt: (10 - Events::CAPACITY) as u32 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Events {
    slots: [Option<Event>; Self::CAPACITY],
    head: u8,
    len: u8,
}

impl Events {
    /// How many undrained events are kept. One step raises at most five.
    pub const CAPACITY: usize = 6;

    /// An empty queue.
    ///
    /// ```
    /// # use steadfast::pipeline::Events;
    /// assert!(Events::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Self {
            slots: [None; Self::CAPACITY],
            head: 0,
            len: 0,
        }
    }

    /// `true` when nothing is queued.
    ///
    /// ```
    /// # use steadfast::pipeline::Events;
    /// assert!(Events::new().is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `event`, dropping the oldest if full.
    ///
    /// ```
    /// # use steadfast::pipeline::{Event, Events};
    /// let mut q = Events::new();
    /// q.push(Event::TimedOut { attempt: 1 });
    /// assert!(!q.is_empty());
    /// ```
    pub fn push(&mut self, event: Event) {
        let cap = Self::CAPACITY as u8;
        if self.len == cap {
            self.head = Self::after(self.head);
            self.len -= 1;
        }
        // head < cap and len < cap: one subtraction wraps the sum (no `%`,
        // which costs a division routine on a core without a divider).
        let tail = self.head + self.len;
        let tail = usize::from(if tail >= cap { tail - cap } else { tail });
        if let Some(slot) = self.slots.get_mut(tail) {
            *slot = Some(event);
            self.len += 1;
        }
    }

    /// The slot after `index`, wrapping.
    const fn after(index: u8) -> u8 {
        if index + 1 >= Self::CAPACITY as u8 {
            0
        } else {
            index + 1
        }
    }

    /// The queued events, oldest first, left in the queue.
    ///
    /// ```
    /// # use steadfast::pipeline::{Event, Events};
    /// let mut q = Events::new();
    /// for attempt in 0..8 {
    ///     q.push(Event::TimedOut { attempt });
    /// }
    /// let kept: Vec<_> = q.iter().copied().collect();
    /// assert_eq!(kept.len(), Events::CAPACITY);
    /// assert_eq!(kept.first(), Some(&Event::TimedOut { attempt: 2 }));
    /// assert_eq!(q.pop(), Some(Event::TimedOut { attempt: 2 }));
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &Event> + '_ {
        let cap = Self::CAPACITY as u8;
        (0..self.len).filter_map(move |offset| {
            // head < cap and offset < cap: one subtraction wraps the sum.
            let index = self.head + offset;
            let index = if index >= cap { index - cap } else { index };
            self.slots.get(usize::from(index))?.as_ref()
        })
    }

    /// Removes and returns the oldest event.
    ///
    /// ```
    /// # use steadfast::pipeline::{Event, Events};
    /// let mut q = Events::new();
    /// q.push(Event::TimedOut { attempt: 1 });
    /// assert_eq!(q.pop(), Some(Event::TimedOut { attempt: 1 }));
    /// assert_eq!(q.pop(), None);
    /// ```
    pub fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let event = self
            .slots
            .get_mut(usize::from(self.head))
            .and_then(Option::take);
        self.head = Self::after(self.head);
        self.len -= 1;
        event
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}
