//! [`SharedBulkhead`]: one bulkhead shared by many tasks and threads, whose
//! waiters queue FIFO on the core's tickets.
//!
//! The core [`Bulkhead`] decides who gets a slot; this module only parks and
//! wakes. When a slot is handed to ticket `t` (an
//! [`Event::Granted`](steadfast::pipeline::Event::Granted) drained from any
//! call), exactly the waiter holding `t` is woken — a Tokio task through its
//! `Waker`, a thread through `unpark` — and claims its permit on its next step.
//! A grant that arrives before its waiter parked is remembered, so no wake-up
//! is lost. A waiter whose future is dropped leaves the queue (and passes on a
//! slot already granted to it) through [`Call::abandon`](steadfast::pipeline::Call::abandon).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::AtomicU32;

use steadfast::bulkhead::{Bulkhead, Config, Stats, Ticket};
use steadfast::error::ConfigError;

use crate::sync::{Arc, Mutex, MutexGuard, lock};
use crate::time;

/// The queue storage of every shared bulkhead: `Config::max_queue` may be at
/// most this.
pub const QUEUE_CAPACITY: usize = 256;

pub(crate) type Machine = Bulkhead<QUEUE_CAPACITY>;

#[derive(Debug)]
enum Waiter {
    #[cfg(feature = "tokio")]
    Task(std::task::Waker),
    Thread(std::thread::Thread),
}

impl Waiter {
    fn wake(self) {
        match self {
            #[cfg(feature = "tokio")]
            Self::Task(w) => w.wake(),
            Self::Thread(t) => t.unpark(),
        }
    }
}

#[derive(Debug, Default)]
struct Waiters {
    parked: HashMap<Ticket, Waiter>,
    /// Grants that arrived before their waiter parked.
    granted: HashSet<Ticket>,
}

/// The waiter a grant went to, to wake once the locks are released.
#[derive(Debug, Default)]
#[must_use = "wake it once the locks are released"]
pub(crate) struct Wake(Option<Waiter>);

impl Wake {
    pub(crate) fn wake(self) {
        if let Some(waiter) = self.0 {
            waiter.wake();
        }
    }
}

struct Inner {
    name: std::sync::Arc<str>,
    machine: Mutex<Machine>,
    waiters: Mutex<Waiters>,
}

/// A bulkhead (max concurrent calls plus a bounded FIFO queue with a max
/// wait) shared by every clone of this handle.
///
/// ```
/// use steadfast::bulkhead::Config;
/// use steadfast::time::Duration;
/// use steadfast_std::SharedBulkhead;
///
/// let pool = SharedBulkhead::new("reports", Config::DEFAULT.with_max_concurrent(4).with_max_queue(16).with_max_wait(Duration::from_secs(1)))?;
/// assert_eq!((pool.available(), pool.in_flight(), pool.queued()), (4, 0, 0));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct SharedBulkhead {
    inner: Arc<Inner>,
}

impl fmt::Debug for SharedBulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = lock(&self.inner.machine);
        f.debug_struct("SharedBulkhead")
            .field("name", &self.inner.name)
            .field("in_flight", &m.in_flight())
            .field("queued", &m.queued())
            .finish()
    }
}

impl SharedBulkhead {
    /// A bulkhead named `name`. Fails, naming the field, when
    /// `max_concurrent` is 0 or `max_queue` exceeds [`QUEUE_CAPACITY`].
    ///
    /// ```
    /// use steadfast::bulkhead::Config;
    /// use steadfast::time::Duration;
    /// let err = steadfast_std::SharedBulkhead::new("x", Config::DEFAULT.with_max_concurrent(1).with_max_queue(1000).with_max_wait(Duration::from_secs(1))).unwrap_err();
    /// assert_eq!(err.field, "max_queue");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(name: impl Into<std::sync::Arc<str>>, config: Config) -> Result<Self, ConfigError> {
        // Distinct pool ids: a permit can never be released into another pool.
        static NEXT_ID: AtomicU32 = AtomicU32::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.into(),
                machine: Mutex::new(Bulkhead::with_id(config, id)?),
                waiters: Mutex::new(Waiters::default()),
            }),
        })
    }

    /// The bulkhead's name.
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.name(), "reports");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configuration.
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.config().max_concurrent(), 10);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> Config {
        *lock(&self.inner.machine).config()
    }

    /// Slots taken (permits out plus slots reserved for granted waiters).
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.in_flight(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn in_flight(&self) -> u32 {
        lock(&self.inner.machine).in_flight()
    }

    /// Free slots.
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.available(), 10);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn available(&self) -> u32 {
        lock(&self.inner.machine).available()
    }

    /// Waiters in the queue.
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.queued(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn queued(&self) -> u32 {
        lock(&self.inner.machine).queued()
    }

    /// The counters (after expiring due waiters).
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.stats().rejected_full, 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let mut m = lock(&self.inner.machine);
        let _ = m.handle_timeout(time::now());
        m.stats()
    }

    #[cfg(feature = "tower")]
    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.inner.name.clone()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Machine> {
        lock(&self.inner.machine)
    }

    /// Records the grant of `ticket`. Call it with the machine's lock held —
    /// the lock the grant was made under — so that a waiter leaving the queue
    /// (which [`forget`](Self::forget)s its ticket under the same lock) sees
    /// either no grant or a recorded one, never a grant recorded after it
    /// left. Wake what it returns once the locks are released.
    pub(crate) fn record_grant(&self, ticket: Ticket) -> Wake {
        let mut w = lock(&self.inner.waiters);
        w.granted.insert(ticket);
        Wake(w.parked.remove(&ticket))
    }

    /// Tickets granted or parked that no call has collected or forgotten yet.
    #[cfg(test)]
    pub(crate) fn waiter_records(&self) -> usize {
        let w = lock(&self.inner.waiters);
        w.granted.len() + w.parked.len()
    }

    /// Forgets everything about `ticket` (its call left the queue). Call it
    /// with the machine's lock held (see [`record_grant`](Self::record_grant)).
    pub(crate) fn forget(&self, ticket: Ticket) {
        let mut w = lock(&self.inner.waiters);
        w.parked.remove(&ticket);
        w.granted.remove(&ticket);
    }

    /// `true` once `ticket` was granted; otherwise parks the task's waker.
    #[cfg(feature = "tokio")]
    pub(crate) fn poll_granted(&self, ticket: Ticket, cx: &std::task::Context<'_>) -> bool {
        let mut w = lock(&self.inner.waiters);
        if w.granted.remove(&ticket) {
            return true;
        }
        w.parked.insert(ticket, Waiter::Task(cx.waker().clone()));
        false
    }

    /// Blocks the thread until `ticket` is granted or `until` (std clock)
    /// passes.
    pub(crate) fn wait_blocking(&self, ticket: Ticket, until: steadfast::time::Instant) {
        loop {
            {
                let mut w = lock(&self.inner.waiters);
                if w.granted.remove(&ticket) {
                    return;
                }
                w.parked
                    .insert(ticket, Waiter::Thread(std::thread::current()));
            }
            let now = time::now_std();
            if now >= until {
                return;
            }
            std::thread::park_timeout(time::to_std_duration(until.saturating_duration_since(now)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{Receiver, Sender, channel};

    use steadfast::breaker::{Config as BreakerConfig, State};
    use steadfast::bulkhead::Config;
    use steadfast::pipeline::{self, Event};
    use steadfast::retry;
    use steadfast::time::Duration;

    use crate::sync::{Arc, Mutex, lock};
    use crate::{Observer, Policy, SharedBreaker, SharedBulkhead};

    /// Says when the breaker opens, then holds the caller that reported it
    /// until told to go on.
    struct HoldOnOpen {
        opened: Mutex<Option<Sender<()>>>,
        go_on: Mutex<Option<Receiver<()>>>,
    }

    impl Observer for HoldOnOpen {
        fn on_event(&self, _policy: &str, _breaker: Option<&str>, event: &Event) {
            if let Event::Breaker(t) = event
                && matches!(t.to, State::Open { .. })
            {
                if let Some(opened) = lock(&self.opened).take() {
                    let _ = opened.send(());
                }
                let go_on = lock(&self.go_on).take();
                if let Some(go_on) = go_on {
                    let _ = go_on.recv();
                }
            }
        }
    }

    #[test]
    fn a_grant_is_never_kept_for_a_waiter_that_already_took_its_slot() {
        // A holds the only slot and fails: the breaker opens and A's release grants
        // the slot to B, queued behind it. A's observer holds A right after that
        // step, before anything else of A runs; B meanwhile takes its slot (woken,
        // or at its own deadline), runs and ends. Then A goes on. Nothing about
        // B's ticket may be left behind.
        let bulkhead = SharedBulkhead::new(
            "db",
            Config::DEFAULT
                .with_max_concurrent(1)
                .with_max_queue(1)
                .with_max_wait(Duration::from_millis(50)),
        )
        .unwrap();
        let breaker =
            SharedBreaker::new("db", BreakerConfig::new().with_failure_threshold(1)).unwrap();
        let (opened, a_reported) = channel();
        let (go_on, a_may_go_on) = channel();
        let one_attempt = retry::Config::DEFAULT.with_max_attempts(1);
        let policy = Policy::builder(pipeline::Config::DEFAULT.with_retry(one_attempt))
            .unwrap()
            .name("db")
            .breaker(breaker)
            .bulkhead(bulkhead.clone())
            .observer(Arc::new(HoldOnOpen {
                opened: Mutex::new(Some(opened)),
                go_on: Mutex::new(Some(a_may_go_on)),
            }))
            .build();
        let (a_running, a_is_running) = channel();
        let (b_queued, a_may_fail) = channel::<()>();
        std::thread::scope(|s| {
            let policy_a = &policy;
            let a = s.spawn(move || {
                policy_a.call_blocking(|| {
                    a_running.send(()).unwrap();
                    a_may_fail.recv().unwrap();
                    Err::<(), _>("down")
                })
            });
            a_is_running.recv().unwrap();
            let b = s.spawn(|| policy.call_blocking(|| Ok::<_, &str>(())));
            while bulkhead.queued() == 0 {
                std::thread::yield_now();
            }
            b_queued.send(()).unwrap();
            a_reported.recv().unwrap();
            assert_eq!(b.join().unwrap(), Ok(()));
            go_on.send(()).unwrap();
            assert!(a.join().unwrap().is_err());
        });
        assert_eq!((bulkhead.in_flight(), bulkhead.queued()), (0, 0));
        assert_eq!(bulkhead.waiter_records(), 0, "a grant outlived its waiter");
    }
}
