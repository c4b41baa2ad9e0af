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
/// let pool = SharedBulkhead::new("reports", Config::new(4, 16, Duration::from_secs(1))?)?;
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
    /// let err = steadfast_std::SharedBulkhead::new("x", Config::new(1, 1000, Duration::from_secs(1))?).unwrap_err();
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
    /// assert_eq!(pool.config().max_concurrent, 10);
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

    pub(crate) fn lock(&self) -> MutexGuard<'_, Machine> {
        lock(&self.inner.machine)
    }

    /// Records the grant of `ticket` and wakes its waiter if it is parked.
    pub(crate) fn notify(&self, ticket: Ticket) {
        let waiter = {
            let mut w = lock(&self.inner.waiters);
            w.granted.insert(ticket);
            w.parked.remove(&ticket)
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    /// Forgets everything about `ticket` (its call left the queue).
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
