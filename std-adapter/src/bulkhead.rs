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
//!
//! While nobody waits, the tower `BulkheadLayer` (without an observer of the
//! bulkhead) takes and gives back slots without the lock: its slow path lends the core's free slots to one atomic word
//! (the core issues a permit for each, kept aside), and a request then takes
//! one with a compare-and-swap and gives it back with another. Every locked
//! step first takes the free lent slots back (one swap of the word, their
//! permits released to the core), so the core, and whatever reads it, sees
//! every slot that is free as free and queues a waiter only when no slot is:
//! lending stops while anyone waits, and a lent slot given back meanwhile
//! goes to the core under the lock, to the next waiter. The counters stay
//! exact: `acquired` and `released` count requests, not the slots lent and
//! taken back, and `peak` is the highest number of slots requests held
//! (the word keeps the fewest free lent slots seen since it was last read).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::AtomicU32;

use steadfast::bulkhead::{Bulkhead, Config, Permit, Stats, Ticket};
use steadfast::error::ConfigError;
use steadfast::time::Instant;

use crate::Observer;
use crate::gauge::{Levels, Reporter};
use crate::sync::{Arc, AtomicU64, Mutex, MutexGuard, Ordering, lock};
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

/// The lent word's bit saying slots are lent (nobody waits).
#[cfg(any(feature = "tower", loom))]
const OPEN: u64 = 1 << 63;
/// The lent word's free lent slots (bits 0..16), and the fewest seen since
/// the word was last read under the lock (bits 16..32).
const FREE: u64 = 0xFFFF;
const LOW_SHIFT: u32 = 16;
/// The lent word's count of slots taken from it (bits 32..63), read and
/// cleared under the lock; a full count sends requests to the lock.
const TAKEN_SHIFT: u32 = 32;
/// One slot taken from the word.
#[cfg(any(feature = "tower", loom))]
const TAKEN_ONE: u64 = 1 << TAKEN_SHIFT;
const TAKEN_FULL: u64 = ((1 << 31) - 1) << TAKEN_SHIFT;
/// The most slots one locked step lends: each is a core acquisition under
/// the lock, so a very wide bulkhead lends in steps rather than all at once.
#[cfg(any(feature = "tower", loom))]
const LEND_AT_ONCE: u64 = 256;

/// What the machine's mutex protects: the core bulkhead and the books of
/// the slots it lent to the lock-free path (see the module docs).
#[derive(Debug)]
pub(crate) struct Locked {
    machine: Machine,
    /// Whether the lent word is open (set and cleared only under the lock),
    /// or was once.
    lending: Lending,
    /// The core's permits behind the lent slots: one for each lent slot
    /// free in the word or held by a request.
    lent: Vec<Permit>,
    /// Core acquisitions made to lend a slot (not requests).
    lends: u64,
    /// Core releases of lent slots (not requests'): taken back free, or
    /// given back under the lock by the request that held one.
    returns: u64,
    /// Lent slots taken by requests, read from the word.
    taken: u64,
    /// The core's slots taken while lending (constant then: every locked
    /// step first stops lending).
    lending_in_flight: u32,
    /// The most slots requests held at once, once slots were lent (the
    /// core's own peak counts the lent slots); the core's before.
    peak: u32,
}

/// Whether a bulkhead lends slots to the lock-free path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lending {
    /// Never did: the core's counters are the bulkhead's.
    Never,
    /// Did, does not now.
    Stopped,
    /// Does: the word is open.
    Open,
}

struct Inner {
    name: std::sync::Arc<str>,
    /// `OPEN | taken << 32 | fewest free << 16 | free`: the lent slots.
    lent: AtomicU64,
    machine: Mutex<Locked>,
    waiters: Mutex<Waiters>,
    /// `(in_flight, queued)`, published under the machine's lock by every
    /// step that an observer watches (see [`Watch`]).
    levels: Levels,
    /// The observers watching the bulkhead, one [`Watch`] each, for
    /// [`SharedBulkhead::watch`] to find.
    watches: Mutex<Vec<std::sync::Weak<Watch>>>,
}

/// An observer watching a bulkhead's occupancy
/// ([`Observer::on_bulkhead`]): the one [`Reporter`] of that bulkhead to
/// that observer, shared by every policy and layer reporting to it, so that
/// their reports never overlap and the last one carries the latest
/// occupancy (see [`crate::gauge`]).
pub(crate) struct Watch {
    bulkhead: SharedBulkhead,
    observer: std::sync::Arc<dyn Observer>,
    reporter: Reporter,
}

impl Watch {
    /// Publishes the bulkhead's `(in_flight, queued)` after a step that
    /// changed them. Call it under the bulkhead's lock, the lock of that
    /// step.
    #[inline]
    pub(crate) fn publish(&self, in_flight: u32, queued: u32) {
        self.bulkhead.inner.levels.publish(in_flight, queued);
    }

    /// Tells the observer the bulkhead's latest occupancy, once the lock
    /// is released.
    pub(crate) fn report(&self) {
        let bulkhead = &*self.bulkhead.inner;
        self.reporter.report(|| {
            let (in_flight, queued) = bulkhead.levels.read();
            self.observer.on_bulkhead(&bulkhead.name, in_flight, queued);
        });
    }
}

/// The core bulkhead under its lock, every lent slot that is free taken back
/// (see the module docs); dropping it records the slots taken as a
/// candidate peak.
pub(crate) struct MachineGuard<'a> {
    locked: MutexGuard<'a, Locked>,
}

impl std::ops::Deref for MachineGuard<'_> {
    type Target = Machine;
    fn deref(&self) -> &Machine {
        &self.locked.machine
    }
}

impl std::ops::DerefMut for MachineGuard<'_> {
    fn deref_mut(&mut self) -> &mut Machine {
        &mut self.locked.machine
    }
}

impl Drop for MachineGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let locked = &mut *self.locked;
        if locked.lending == Lending::Stopped {
            locked.peak = locked.peak.max(locked.machine.in_flight());
        }
    }
}

impl MachineGuard<'_> {
    #[cfg(any(feature = "tower", loom))]
    /// Gives back a lent slot a request held, under the lock (the word was
    /// closed when it tried without): returns the ticket of the waiter the
    /// slot went to.
    pub(crate) fn give_back_lent(&mut self, now: Instant) -> Option<Ticket> {
        let locked = &mut *self.locked;
        let permit = locked.lent.pop()?;
        locked.returns = locked.returns.wrapping_add(1);
        locked.machine.release(permit, now)
    }

    #[cfg(any(feature = "tower", loom))]
    /// Lends the core's free slots (at most [`LEND_AT_ONCE`]) to the word,
    /// while nobody waits (no effect otherwise, or with no slot free).
    #[inline(never)]
    pub(crate) fn lend(&mut self, word: &AtomicU64) {
        let locked = &mut *self.locked;
        let machine = &mut locked.machine;
        if locked.lending == Lending::Open || machine.queued() != 0 || machine.reserved() != 0 {
            return;
        }
        if locked.lending == Lending::Never {
            locked.peak = machine.stats().peak;
        }
        locked.peak = locked.peak.max(machine.in_flight());
        let mut free = 0;
        // Every lent slot, free or held, fits the word's count.
        while free < LEND_AT_ONCE && locked.lent.len() < FREE as usize && machine.available() > 0 {
            // Nobody waits and a slot is free: the core issues a permit.
            let steadfast::bulkhead::Acquire::Permit(permit) = machine.try_acquire(Instant::ZERO)
            else {
                break;
            };
            locked.lent.push(permit);
            free += 1;
        }
        if free == 0 {
            return;
        }
        locked.lends = locked.lends.wrapping_add(free);
        locked.lending_in_flight = machine.in_flight();
        locked.lending = Lending::Open;
        word.store(OPEN | (free << LOW_SHIFT) | free, Ordering::Release);
    }
}

impl Locked {
    /// Stops lending: takes the word's free slots back (their permits
    /// released to the core) and reads its counts.
    #[cold]
    #[inline(never)]
    fn stop_lending(&mut self, word: &AtomicU64) {
        let lent = word.swap(0, Ordering::AcqRel);
        self.lending = Lending::Stopped;
        let free = lent & FREE;
        let fewest = (lent >> LOW_SHIFT) & FREE;
        self.taken = self
            .taken
            .wrapping_add(lent >> TAKEN_SHIFT & (TAKEN_FULL >> TAKEN_SHIFT));
        #[allow(clippy::cast_possible_truncation)] // at most FREE
        let held = self.lending_in_flight.saturating_sub(fewest as u32);
        self.peak = self.peak.max(held);
        for _ in 0..free {
            let Some(permit) = self.lent.pop() else {
                break;
            };
            self.returns = self.returns.wrapping_add(1);
            // Nobody waits while slots are lent: the slot becomes free.
            let _ = self.machine.release(permit, Instant::ZERO);
        }
    }

    /// The core's counters with the lent slots' books folded in.
    fn stats(&self) -> Stats {
        let mut stats = self.machine.stats();
        let held_lent = self.lent.len() as u64;
        stats.acquired = stats
            .acquired
            .wrapping_sub(self.lends)
            .wrapping_add(self.taken);
        stats.released = stats
            .released
            .wrapping_sub(self.returns)
            .wrapping_add(self.taken.wrapping_sub(held_lent));
        if self.lending != Lending::Never {
            stats.peak = self.peak.max(self.machine.in_flight());
        }
        stats
    }
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
        let m = self.lock();
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
                lent: AtomicU64::new(0),
                machine: Mutex::new(Locked {
                    machine: Bulkhead::with_id(config, id)?,
                    lending: Lending::Never,
                    lent: Vec::new(),
                    lends: 0,
                    returns: 0,
                    taken: 0,
                    lending_in_flight: 0,
                    peak: 0,
                }),
                waiters: Mutex::new(Waiters::default()),
                levels: Levels::new(0, 0),
                watches: Mutex::new(Vec::new()),
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
        *self.lock().config()
    }

    /// Slots taken (permits out plus slots reserved for granted waiters).
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.in_flight(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn in_flight(&self) -> u32 {
        self.lock().in_flight()
    }

    /// Free slots.
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.available(), 10);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn available(&self) -> u32 {
        self.lock().available()
    }

    /// Waiters in the queue.
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.queued(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn queued(&self) -> u32 {
        self.lock().queued()
    }

    /// The counters (after expiring due waiters): the core's, with the
    /// slots lent to the lock-free path counted as the requests used them
    /// (see the module docs). Reading them, like any locked step, takes the
    /// free lent slots back.
    ///
    /// ```
    /// # let pool = steadfast_std::SharedBulkhead::new("reports", Default::default())?;
    /// assert_eq!(pool.stats().rejected_full, 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let mut m = self.lock();
        let _ = m.handle_timeout(time::now());
        m.locked.stats()
    }

    /// The watch of `observer` over this bulkhead: the one that every
    /// policy and layer reporting this bulkhead to the same observer shares.
    pub(crate) fn watch(&self, observer: &std::sync::Arc<dyn Observer>) -> std::sync::Arc<Watch> {
        let mut watches = lock(&self.inner.watches);
        watches.retain(|w| w.strong_count() > 0);
        let known = watches
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .find(|w| std::sync::Arc::ptr_eq(&w.observer, observer));
        known.unwrap_or_else(|| {
            let watch = std::sync::Arc::new(Watch {
                bulkhead: self.clone(),
                observer: observer.clone(),
                reporter: Reporter::new(),
            });
            watches.push(std::sync::Arc::downgrade(&watch));
            watch
        })
    }

    #[cfg(feature = "tower")]
    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.inner.name.clone()
    }

    /// The core bulkhead under its lock, every free lent slot taken back.
    #[inline]
    pub(crate) fn lock(&self) -> MachineGuard<'_> {
        let mut locked = lock(&self.inner.machine);
        if locked.lending == Lending::Open {
            locked.stop_lending(&self.inner.lent);
        }
        MachineGuard { locked }
    }

    #[cfg(any(feature = "tower", loom))]
    /// Lends the core's free slots to the lock-free path while nobody
    /// waits (see the module docs); `machine` is this bulkhead's.
    pub(crate) fn lend(&self, machine: &mut MachineGuard<'_>) {
        machine.lend(&self.inner.lent);
    }

    #[cfg(any(feature = "tower", loom))]
    /// Takes a lent slot without the lock; `false` when none is free or
    /// slots are not lent (ask the core under the lock).
    #[inline]
    pub(crate) fn take_lent(&self) -> bool {
        let word = &self.inner.lent;
        let mut lent = word.load(Ordering::Relaxed);
        loop {
            let free = lent & FREE;
            if lent & OPEN == 0 || free == 0 || lent & TAKEN_FULL == TAKEN_FULL {
                return false;
            }
            let fewest = ((lent >> LOW_SHIFT) & FREE).min(free - 1);
            let next = ((lent & !(FREE << LOW_SHIFT)) + TAKEN_ONE - 1) | (fewest << LOW_SHIFT);
            match word.compare_exchange_weak(lent, next, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => lent = now,
            }
        }
    }

    #[cfg(any(feature = "tower", loom))]
    /// Gives a lent slot back without the lock while slots are lent;
    /// `false` when lending stopped (give it back under the lock:
    /// [`MachineGuard::give_back_lent`]).
    #[inline]
    pub(crate) fn return_lent(&self) -> bool {
        let word = &self.inner.lent;
        let mut lent = word.load(Ordering::Relaxed);
        loop {
            if lent & OPEN == 0 {
                return false;
            }
            // At most as many free as lent (≤ FREE): the count cannot carry.
            match word.compare_exchange_weak(lent, lent + 1, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => lent = now,
            }
        }
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

/// The lock-free path as the tower layer drives it, for the loom model
/// (`tests/loom.rs`), which builds without the tower layer: a lent slot taken
/// and given back, and the core's own steps, all at [`Instant::ZERO`].
#[cfg(loom)]
#[doc(hidden)]
impl SharedBulkhead {
    pub fn loom_lend(&self) {
        let mut machine = self.lock();
        self.lend(&mut machine);
    }

    pub fn loom_take_lent(&self) -> bool {
        self.take_lent()
    }

    /// Gives a lent slot back, without the lock while slots are lent, else
    /// under it; returns the ticket the slot went to.
    pub fn loom_give_back_lent(&self) -> Option<Ticket> {
        if self.return_lent() {
            return None;
        }
        let mut machine = self.lock();
        let next = machine.give_back_lent(Instant::ZERO)?;
        self.record_grant(next).wake();
        Some(next)
    }

    pub fn loom_acquire(&self) -> steadfast::bulkhead::Acquire {
        self.lock().try_acquire(Instant::ZERO)
    }

    pub fn loom_claim(&self, ticket: Ticket) -> steadfast::bulkhead::Claim {
        let mut machine = self.lock();
        let claim = machine.claim(ticket, Instant::ZERO);
        self.forget(ticket);
        drop(machine);
        claim
    }

    pub fn loom_release(&self, permit: Permit) -> Option<Ticket> {
        self.lock().release(permit, Instant::ZERO)
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
                && matches!(t.to(), State::Open { .. })
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
