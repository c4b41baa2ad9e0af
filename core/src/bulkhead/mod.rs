//! Bulkhead: at most `max_concurrent` calls at once, and a bounded FIFO queue of
//! callers waiting at most `max_wait` for a turn.
//!
//! A pure machine like every other one here: it reads no clock and wakes no task.
//! [`Bulkhead::try_acquire`] answers with a [`Permit`] (go), a
//! [`Ticket`] with a deadline (wait), or [`Acquire::Full`] (rejected).
//! [`Bulkhead::release`] returns the permit and names the ticket that got the
//! slot, so the adapter wakes exactly that waiter, which then
//! [`claim`](Bulkhead::claim)s its permit. A waiter that gives up calls
//! [`cancel`](Bulkhead::cancel). Separate pools (the seeds' *critical* and
//! *background* work) are separate bulkheads.
//!
//! # Rules
//!
//! * **Queue of 0 or max wait of 0 rejects at once** when all permits are out:
//!   no caller is parked for nothing (tower #793).
//! * **FIFO grants.** A freed slot goes to the oldest waiter that is still
//!   waiting; newcomers never overtake a waiter (while anyone waits, no slot is
//!   free).
//! * **Expiry is inclusive.** A waiter queued at `t` with `max_wait` `w` is
//!   expired at `now >= t + w`; it is removed by [`handle_timeout`](Bulkhead::handle_timeout),
//!   [`try_acquire`](Bulkhead::try_acquire), [`claim`](Bulkhead::claim),
//!   [`release`](Bulkhead::release) and [`cancel`](Bulkhead::cancel) and never
//!   granted a slot. [`poll_at`](Bulkhead::poll_at) is the earliest such deadline.
//! * **A grant is final.** Once [`release`](Bulkhead::release) (or a cancel)
//!   hands a waiter the slot, the slot is reserved for it: its deadline no
//!   longer applies, [`claim`](Bulkhead::claim) turns it into a permit even if
//!   the claim comes late. A granted waiter that [`cancel`](Bulkhead::cancel)s
//!   passes the slot on to the next waiter (whose ticket `cancel` returns).
//!   A granted waiter keeps its place in the queue (and counts against
//!   `max_queue`) until it claims or cancels.
//! * **Exact accounting.** Every slot is free, held by a permit, or reserved for
//!   a granted waiter: `in_flight() + available() == max_concurrent` always,
//!   whatever the order of acquire / release / claim / cancel / timeouts / clock.
//!   Every queued waiter ends exactly once: claimed, expired or cancelled.
//! * **Release is idempotent by construction.** [`Permit`] is neither `Clone`
//!   nor `Copy` and `release` takes it by value, so one permit releases one slot
//!   once. A permit from an older epoch (before [`reset`](Bulkhead::reset)) or
//!   from a pool with another id is ignored (counted in
//!   [`Stats::stale_releases`]), as is any release while no permit is out, so a
//!   release can never push capacity above `max_concurrent`.
//! * **Clock going backwards**: every method uses `max(now, highest now seen)`.
//! * **Cost**: no allocation; every call is O(1) when nobody waits and at worst
//!   one scan of the inline queue (O(`Q`)) otherwise. Keep `Q` small on MCUs:
//!   each waiter costs 16 bytes.
//!
//! # Limits of permit identity (no alloc, no atomics)
//!
//! A bulkhead cannot mint a globally unique id without a shared counter, and
//! the core has neither alloc nor compare-and-swap (thumbv6m). A permit
//! therefore carries a 32-bit *pool id* and the bulkhead's *epoch*:
//!
//! * the pool id defaults to [`Config::fingerprint`] (config and `Q`), so pools
//!   configured differently already tell their permits apart; pools with equal
//!   configs should get distinct ids from [`Bulkhead::with_id`] (an adapter's
//!   registry can number or hash its names), or, for a configuration fixed by
//!   type, from [`ConstConfig::ID`]. A permit from another pool that
//!   happens to share the id **is** accepted: that is a caller bug the core
//!   cannot see.
//! * the epoch changes on every [`reset`](Bulkhead::reset); it is 32 bits, so a
//!   permit kept across 2³² resets would be taken for current.
//!
//! A [`Permit`] dropped without `release` cannot tell the bulkhead (there is no
//! reference back): its slot stays taken until [`reset`](Bulkhead::reset). The
//! adapters wrap it in a guard that releases on drop. A [`Ticket`] is `Copy`
//! because the adapter needs it for both `claim` and `cancel`; a second claim or
//! a claim after cancel finds nothing and answers [`Claim::Expired`], so a copy
//! can never mint a second permit.
//!
//! ```
//! use steadfast::bulkhead::{Acquire, Bulkhead, Claim, Config};
//! use steadfast::time::{Duration, Instant};
//!
//! let t = Instant::from_millis;
//! let config = Config::DEFAULT.with_max_concurrent(1).with_max_queue(4).with_max_wait(Duration::from_millis(100));
//! let mut pool = Bulkhead::<4>::new(config)?;
//!
//! let Acquire::Permit(first) = pool.try_acquire(t(0)) else { panic!() };
//! let Acquire::Queued { ticket, deadline } = pool.try_acquire(t(10)) else { panic!() };
//! assert_eq!(deadline, t(110));
//! assert_eq!(pool.poll_at(), Some(t(110)));
//!
//! // The first call finishes: the slot goes straight to the waiter.
//! assert_eq!(pool.release(first, t(50)), Some(ticket));
//! let Claim::Granted(second) = pool.claim(ticket, t(51)) else { panic!() };
//! assert_eq!(pool.in_flight(), 1);
//! assert_eq!(pool.release(second, t(60)), None);
//! assert_eq!(pool.available(), 1);
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

mod config;

pub use config::{Config, ConfigSource, ConstConfig, Fixed};

use crate::error::ConfigError;
use crate::time::Instant;

/// The right to run one call; give it back with [`Bulkhead::release`].
///
/// Neither `Clone` nor `Copy`: one permit, one release. It carries the pool id
/// and epoch of the bulkhead that issued it, so a stale permit (issued before a
/// [`reset`](Bulkhead::reset)) or one from a differently identified pool is
/// ignored on release. Dropping it without releasing keeps its slot taken
/// until `reset` (see the [module docs](self) for the limits).
///
/// It cannot be duplicated:
///
/// ```compile_fail
/// # use steadfast::bulkhead::{Acquire, Bulkhead, Config};
/// # use steadfast::time::Instant;
/// # let mut pool = Bulkhead::<10>::new(Config::default()).unwrap();
/// let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) else { return };
/// let twice = p.clone(); // error: `Permit` is not `Clone`
/// ```
///
/// ```compile_fail
/// # use steadfast::bulkhead::{Acquire, Bulkhead, Config};
/// # use steadfast::time::Instant;
/// # let mut pool = Bulkhead::<10>::new(Config::default()).unwrap();
/// let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) else { return };
/// let _ = pool.release(p, Instant::ZERO);
/// let _ = pool.release(p, Instant::ZERO); // error: use of moved value (not `Copy`)
/// ```
///
/// ```
/// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
/// use steadfast::time::Instant;
///
/// let mut pool = Bulkhead::<10>::new(Config::default())?;
/// if let Acquire::Permit(permit) = pool.try_acquire(Instant::ZERO) {
///     assert_eq!(permit.pool(), pool.id());
///     let _ = pool.release(permit, Instant::ZERO);
/// }
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a permit dropped without `release` keeps its slot taken"]
pub struct Permit {
    pool: u32,
    epoch: u32,
}

impl Permit {
    /// The id of the pool that issued this permit.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Acquire, Bulkhead, Config};
    /// # use steadfast::time::Instant;
    /// let mut pool = Bulkhead::<10>::with_id(Config::default(), 7)?;
    /// let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) else { panic!() };
    /// assert_eq!(p.pool(), 7);
    /// # let _ = pool.release(p, Instant::ZERO);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn pool(&self) -> u32 {
        self.pool
    }
}

/// A place in a bulkhead's waiting queue: [`claim`](Bulkhead::claim) it when
/// woken, [`cancel`](Bulkhead::cancel) it when giving up.
///
/// `Copy`, since both calls need it; a ticket that no longer names a waiter
/// (claimed, cancelled, expired, reset, or from another pool) is answered with
/// [`Claim::Expired`] / `None`, never with a second permit.
///
/// ```
/// use steadfast::bulkhead::{Acquire, Bulkhead, Claim, Config};
/// use steadfast::time::{Duration, Instant};
///
/// let mut pool = Bulkhead::<2>::new(Config::DEFAULT.with_max_concurrent(1).with_max_queue(2).with_max_wait(Duration::from_secs(1)))?;
/// let Acquire::Permit(_busy) = pool.try_acquire(Instant::ZERO) else { panic!() };
/// let Acquire::Queued { ticket, .. } = pool.try_acquire(Instant::ZERO) else { panic!() };
/// assert_eq!(pool.cancel(ticket, Instant::ZERO), None);
/// assert_eq!(pool.claim(ticket, Instant::ZERO), Claim::Expired); // gone
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ticket {
    pool: u32,
    seq: u32,
}

impl Ticket {
    /// The ticket's sequence number in its pool (increasing in queue order,
    /// wrapping after 2³²); handy as a key in an adapter's waker table.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Acquire, Bulkhead, Config};
    /// # use steadfast::time::{Duration, Instant};
    /// let mut pool = Bulkhead::<2>::new(Config::DEFAULT.with_max_concurrent(1).with_max_queue(2).with_max_wait(Duration::from_secs(1)))?;
    /// let _busy = pool.try_acquire(Instant::ZERO);
    /// let Acquire::Queued { ticket: a, .. } = pool.try_acquire(Instant::ZERO) else { panic!() };
    /// let Acquire::Queued { ticket: b, .. } = pool.try_acquire(Instant::ZERO) else { panic!() };
    /// assert_eq!(b.seq(), a.seq() + 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn seq(&self) -> u32 {
        self.seq
    }
}

/// The answer of [`Bulkhead::try_acquire`].
///
/// ```
/// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
/// use steadfast::time::{Duration, Instant};
///
/// // One slot, no queue: the second caller is rejected at once.
/// let mut pool = Bulkhead::<0>::new(Config::DEFAULT.with_max_concurrent(1).with_max_queue(0).with_max_wait(Duration::ZERO))?;
/// let first = pool.try_acquire(Instant::ZERO);
/// assert!(matches!(first, Acquire::Permit(_)));
/// assert_eq!(pool.try_acquire(Instant::ZERO), Acquire::Full);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a permit must be released, a ticket claimed or cancelled"]
pub enum Acquire {
    /// A slot was free: run the call, then [`release`](Bulkhead::release) the permit.
    Permit(Permit),
    /// Every slot is taken; wait to be woken (by the ticket [`release`](Bulkhead::release)
    /// or [`cancel`](Bulkhead::cancel) return) or until `deadline`, then
    /// [`claim`](Bulkhead::claim).
    Queued {
        /// Your place in the queue.
        ticket: Ticket,
        /// When the wait ends unserved (expired at `now >= deadline`).
        deadline: Instant,
    },
    /// Every slot is taken and the queue is full, of size 0, or `max_wait` is 0.
    Full,
}

/// The answer of [`Bulkhead::claim`].
///
/// ```
/// use steadfast::bulkhead::{Acquire, Bulkhead, Claim, Config};
/// use steadfast::time::{Duration, Instant};
///
/// let t = Instant::from_millis;
/// let mut pool = Bulkhead::<1>::new(Config::DEFAULT.with_max_concurrent(1).with_max_queue(1).with_max_wait(Duration::from_millis(100)))?;
/// let Acquire::Permit(_busy) = pool.try_acquire(t(0)) else { panic!() };
/// let Acquire::Queued { ticket, .. } = pool.try_acquire(t(0)) else { panic!() };
/// assert_eq!(pool.claim(ticket, t(99)), Claim::Waiting { deadline: t(100) });
/// assert_eq!(pool.claim(ticket, t(100)), Claim::Expired); // inclusive
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a granted permit must be released"]
pub enum Claim {
    /// The slot is yours: run the call, then [`release`](Bulkhead::release).
    Granted(Permit),
    /// Still waiting; the wait ends unserved at `deadline`.
    Waiting {
        /// When the wait ends (expired at `now >= deadline`).
        deadline: Instant,
    },
    /// The wait ended unserved, or the ticket names no waiter (already claimed,
    /// cancelled, reset, or from another pool).
    Expired,
}

/// Counters and gauges of one bulkhead (the seeds' bulkhead metrics).
///
/// Counters saturate at `u64::MAX`. Every queued waiter ends exactly once, so
/// `queued == claimed + expired + cancelled + waiting + reserved`
/// holds until a [`reset`](Bulkhead::reset) drops the queue.
///
/// ```
/// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
/// use steadfast::time::Instant;
///
/// let mut pool = Bulkhead::<0>::new(steadfast::bulkhead::Config::DEFAULT.with_max_concurrent(1).with_max_queue(0).with_max_wait(Default::default()))?;
/// let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) else { panic!() };
/// let _ = pool.try_acquire(Instant::ZERO); // Full
/// let s = pool.stats();
/// assert_eq!((s.acquired, s.rejected_full, s.in_flight, s.peak), (1, 1, 1, 1));
/// # let _ = pool.release(p, Instant::ZERO);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stats {
    /// Permits issued (at once by `try_acquire` or to a waiter by `claim`).
    pub acquired: u64,
    /// Of those, permits claimed by a waiter after queueing.
    pub claimed: u64,
    /// Callers that entered the queue.
    pub queued: u64,
    /// Waiters that were handed a slot (by `release` or a granted waiter's `cancel`).
    pub granted: u64,
    /// Callers turned away at once: all slots taken and the queue full or disabled.
    pub rejected_full: u64,
    /// Waiters whose `max_wait` ran out before a slot freed.
    pub expired: u64,
    /// Waiters that cancelled (before or after being granted).
    pub cancelled: u64,
    /// Permits released.
    pub released: u64,
    /// Releases ignored: stale epoch, other pool, or no permit out.
    pub stale_releases: u64,
    /// Slots taken now: permits out plus slots reserved for granted waiters.
    pub in_flight: u32,
    /// The highest `in_flight` seen since construction.
    pub peak: u32,
    /// Waiters in the queue that have not been granted a slot yet.
    pub waiting: u32,
}

/// No statistics: the counters of a bulkhead that never reads them, in zero
/// bytes. A [`Bulkhead<Q, NoStats>`](Bulkhead) admits, queues, expires and
/// hands on slots exactly as one that counts; it only has no
/// [`stats`](Bulkhead::stats).
///
/// ```
/// use steadfast::bulkhead::{Bulkhead, Config, NoStats};
/// let pool = Bulkhead::<4, NoStats>::without_stats(Config::DEFAULT.with_max_queue(4))?;
/// assert_eq!(pool.available(), 10);
/// assert_eq!(core::mem::size_of::<NoStats>(), 0);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NoStats;

/// Where a [`Bulkhead`] keeps its counters: [`Stats`] (the default) or
/// [`NoStats`] (none). Sealed.
///
/// ```
/// use steadfast::bulkhead::{NoStats, Stats, StatsSlot};
/// fn slot<S: StatsSlot>() -> usize { core::mem::size_of::<S>() }
/// assert_eq!(slot::<NoStats>(), 0);
/// assert!(slot::<Stats>() > 0);
/// ```
pub trait StatsSlot: sealed::Slot {}

impl StatsSlot for Stats {}
impl StatsSlot for NoStats {}

mod sealed {
    use super::{NoStats, Stats};

    /// One of the counters of [`Stats`].
    #[derive(Clone, Copy, Debug)]
    pub enum Counter {
        Acquired,
        Claimed,
        Queued,
        Granted,
        RejectedFull,
        Cancelled,
        Released,
        StaleReleases,
    }

    /// The slot's machinery, private to the crate (keeps `StatsSlot` sealed).
    pub trait Slot: Copy + core::fmt::Debug + PartialEq + Eq {
        const ZERO: Self;
        /// Adds one to `counter` (saturating).
        fn bump(&mut self, counter: Counter);
        /// Adds `n` expired waiters.
        fn expired(&mut self, n: u64);
        /// The slots taken now, raising their peak.
        fn in_flight(&mut self, in_flight: u32);
        /// The slots taken now, after one was given back (the peak stands).
        fn fell(&mut self, in_flight: u32);
        /// The waiters not granted a slot yet.
        fn waiting(&mut self, waiting: u32);
    }

    impl Slot for Stats {
        const ZERO: Self = Self {
            acquired: 0,
            claimed: 0,
            queued: 0,
            granted: 0,
            rejected_full: 0,
            expired: 0,
            cancelled: 0,
            released: 0,
            stale_releases: 0,
            in_flight: 0,
            peak: 0,
            waiting: 0,
        };
        #[inline(always)]
        fn bump(&mut self, counter: Counter) {
            let field = match counter {
                Counter::Acquired => &mut self.acquired,
                Counter::Claimed => &mut self.claimed,
                Counter::Queued => &mut self.queued,
                Counter::Granted => &mut self.granted,
                Counter::RejectedFull => &mut self.rejected_full,
                Counter::Cancelled => &mut self.cancelled,
                Counter::Released => &mut self.released,
                Counter::StaleReleases => &mut self.stale_releases,
            };
            *field = field.saturating_add(1);
        }
        #[inline(always)]
        fn expired(&mut self, n: u64) {
            self.expired = self.expired.saturating_add(n);
        }
        #[inline(always)]
        fn in_flight(&mut self, in_flight: u32) {
            self.in_flight = in_flight;
            self.peak = self.peak.max(in_flight);
        }
        #[inline(always)]
        fn fell(&mut self, in_flight: u32) {
            self.in_flight = in_flight;
        }
        #[inline(always)]
        fn waiting(&mut self, waiting: u32) {
            self.waiting = waiting;
        }
    }

    impl Slot for NoStats {
        const ZERO: Self = Self;
        #[inline(always)]
        fn bump(&mut self, _counter: Counter) {}
        #[inline(always)]
        fn expired(&mut self, _n: u64) {}
        #[inline(always)]
        fn in_flight(&mut self, _in_flight: u32) {}
        #[inline(always)]
        fn fell(&mut self, _in_flight: u32) {}
        #[inline(always)]
        fn waiting(&mut self, _waiting: u32) {}
    }
}

use sealed::Counter;

/// One waiter in the ring buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Entry {
    deadline: Instant,
    seq: u32,
    granted: bool,
}

impl Entry {
    const EMPTY: Self = Self {
        deadline: Instant::ZERO,
        seq: 0,
        granted: false,
    };
}

/// A bulkhead with inline storage for `Q` waiters (`Q` may be 0: no queue),
/// its counters in `S` ([`Stats`], or [`NoStats`]: none) and its
/// configuration and pool id from `C`: a [`Config`] and id it holds (the
/// default), or [`Fixed<T>`], the constants of a [`ConstConfig`], of which it
/// holds nothing (built by [`fixed`](Bulkhead::fixed); all zeros, so a
/// `static` of it costs no flash). Every choice decides alike.
///
/// See the [module docs](self) for the rules. Single owner (`&mut self`);
/// share it behind a mutex or critical section in an adapter.
///
/// ```
/// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
/// use steadfast::time::Instant;
///
/// // `new` is const: a bad config fails the build, the pool can live in a static.
/// const POOL: Bulkhead<10> = steadfast::valid!(Bulkhead::new(Config::DEFAULT));
/// let mut pool = POOL;
/// let mut permits = [const { None }; 10];
/// for slot in &mut permits {
///     if let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) { *slot = Some(p); }
/// }
/// assert_eq!(pool.available(), 0);
/// assert!(matches!(pool.try_acquire(Instant::ZERO), Acquire::Queued { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Bulkhead<const Q: usize = 10, S: StatsSlot = Stats, C: ConfigSource = Config> {
    queue: Queue<S, C, [Entry; Q]>,
}

/// A bulkhead's books with the storage `E` of its waiters last, so that a
/// `Queue<S, C, [Entry; Q]>` is also a `Queue<S, C, [Entry]>`: the code that
/// reads or changes the queue is written once, for the slice, and bulkheads of
/// every queue length share one copy of it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Queue<S, C: ConfigSource, E: ?Sized> {
    /// The configuration, or a marker naming a constant one (zero bytes).
    config: C,
    /// The pool id, or nothing when the configuration names it.
    id: C::Id,
    epoch: u32,
    /// Permits out.
    permits: u32,
    /// Slots reserved for granted, unclaimed waiters (entries with `granted`).
    reserved: u32,
    next_seq: u32,
    last_now: Instant,
    head: usize,
    len: usize,
    stats: S,
    /// Ring buffer: `len` entries from `head`, oldest first.
    entries: E,
}

impl<const Q: usize> Bulkhead<Q> {
    /// A bulkhead with every slot free and an empty queue. Fails, naming the
    /// field, when `config.max_concurrent` is 0 or `config.max_queue > Q`.
    /// Its pool id is [`Config::fingerprint`]`(Q)`.
    ///
    /// ```
    /// use steadfast::bulkhead::{Bulkhead, Config};
    ///
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.available(), 10);
    /// let err = Bulkhead::<4>::new(Config::default()).unwrap_err();
    /// assert_eq!(err.field, "max_queue");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn new(config: Config) -> Result<Self, ConfigError> {
        Self::with_id(config, config.fingerprint(Q))
    }
}

impl<const Q: usize, C: ConfigSource> Bulkhead<Q, Stats, C> {
    /// Counters and gauges; see [`Stats`].
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.stats().peak, 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn stats(&self) -> Stats {
        self.queue.stats
    }
}

impl<const Q: usize> Bulkhead<Q, NoStats> {
    /// A bulkhead that keeps no [`Stats`] ([`NoStats`]: zero bytes, no
    /// counting on any path), after validating `config` exactly as
    /// [`new`](Bulkhead::new) does; its pool id is [`Config::fingerprint`]`(Q)`.
    /// It admits, queues, expires and hands on slots as a counting bulkhead
    /// does. `const`: usable in a `static`.
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Config, NoStats};
    /// use steadfast::time::Instant;
    ///
    /// static POOL: Bulkhead<4, NoStats> =
    ///     steadfast::valid!(Bulkhead::without_stats(Config::DEFAULT.with_max_concurrent(1).with_max_queue(4)));
    /// let mut pool = POOL.clone();
    /// assert!(matches!(pool.try_acquire(Instant::ZERO), Acquire::Permit(_)));
    /// assert!(matches!(pool.try_acquire(Instant::ZERO), Acquire::Queued { .. }));
    /// assert_eq!(core::mem::size_of::<NoStats>(), 0);
    /// ```
    pub const fn without_stats(config: Config) -> Result<Self, ConfigError> {
        Self::with_id(config, config.fingerprint(Q))
    }
}

impl<const Q: usize, S: StatsSlot> Bulkhead<Q, S> {
    /// Like [`new`](Bulkhead::new) (or [`without_stats`](Bulkhead::without_stats)), with an explicit pool id carried by every
    /// permit and ticket; give pools with equal configs distinct ids so their
    /// permits cannot be mixed up.
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
    /// use steadfast::time::Instant;
    ///
    /// let mut a = Bulkhead::<10>::with_id(Config::default(), 1)?;
    /// let mut b = Bulkhead::<10>::with_id(Config::default(), 2)?;
    /// let Acquire::Permit(from_a) = a.try_acquire(Instant::ZERO) else { panic!() };
    /// let Acquire::Permit(from_b) = b.try_acquire(Instant::ZERO) else { panic!() };
    /// let _ = b.release(from_a, Instant::ZERO); // wrong pool: ignored
    /// assert_eq!(b.in_flight(), 1);
    /// assert_eq!(b.stats().stale_releases, 1);
    /// # let _ = b.release(from_b, Instant::ZERO);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn with_id(config: Config, id: u32) -> Result<Self, ConfigError> {
        match config.validate(Q) {
            Ok(()) => Ok(Self {
                queue: Queue::empty(config, id),
            }),
            Err(e) => Err(e),
        }
    }

    /// The configuration this bulkhead was built with.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.config().max_concurrent(), 10);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn config(&self) -> &Config {
        &self.queue.config
    }

    /// The pool id carried by this bulkhead's permits and tickets.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.id(), Config::default().fingerprint(10));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn id(&self) -> u32 {
        self.queue.id
    }

    /// Free slots: `max_concurrent - in_flight()`.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.available(), 10);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn available(&self) -> u32 {
        self.queue
            .config
            .max_concurrent
            .saturating_sub(self.in_flight())
    }
}

impl<const Q: usize, S: StatsSlot, T: ConstConfig> Bulkhead<Q, S, Fixed<T>> {
    /// A bulkhead that reads its configuration `T::CONFIG` and pool id `T::ID`
    /// from constants ([`ConstConfig`]) instead of holding them, after
    /// validating `T::CONFIG` for `Q` exactly as [`new`](Bulkhead::new) does
    /// (the same [`ConfigError`], naming the field). It admits, queues,
    /// expires and hands on slots as a bulkhead holding `T::CONFIG` does.
    /// Every byte of it starts at zero, so a `static` of it costs no flash
    /// (it goes to `.bss`). `const`: usable in a `static`.
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Config, ConstConfig, Fixed, NoStats};
    /// use steadfast::time::Instant;
    ///
    /// struct Bus;
    /// impl ConstConfig for Bus {
    ///     const CONFIG: Config = Config::DEFAULT.with_max_concurrent(1).with_max_queue(4);
    /// }
    /// type BusPool = Bulkhead<4, NoStats, Fixed<Bus>>;
    /// static POOL: BusPool = steadfast::valid!(BusPool::fixed());
    /// let mut pool = POOL.clone();
    /// assert!(matches!(pool.try_acquire(Instant::ZERO), Acquire::Permit(_)));
    /// assert!(matches!(pool.try_acquire(Instant::ZERO), Acquire::Queued { .. }));
    ///
    /// // Validated for `Q` as `new` validates: a queue of 4 needs room for 4.
    /// let err = Bulkhead::<2, NoStats, Fixed<Bus>>::fixed().unwrap_err();
    /// assert_eq!(err, Bulkhead::<2, NoStats>::without_stats(Bus::CONFIG).unwrap_err());
    /// assert_eq!(err.field, "max_queue");
    /// ```
    pub const fn fixed() -> Result<Self, ConfigError> {
        match T::CONFIG.validate(Q) {
            Ok(()) => Ok(Self {
                queue: Queue::empty(Fixed::new(), ()),
            }),
            Err(e) => Err(e),
        }
    }

    /// The configuration, `T::CONFIG`.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config, ConstConfig, Fixed, Stats};
    /// struct Two;
    /// impl ConstConfig for Two {
    ///     const CONFIG: Config = Config::DEFAULT.with_max_concurrent(2);
    /// }
    /// let pool = Bulkhead::<10, Stats, Fixed<Two>>::fixed()?;
    /// assert_eq!(pool.config().max_concurrent(), 2);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn config(&self) -> &Config {
        &T::CONFIG
    }

    /// The pool id carried by this bulkhead's permits and tickets, `T::ID`
    /// (by default `T::CONFIG.fingerprint(T::CONFIG.max_queue())`).
    ///
    /// ```
    /// # use steadfast::bulkhead::{Acquire, Bulkhead, Config, ConstConfig, Fixed, NoStats};
    /// # use steadfast::time::Instant;
    /// struct Seven;
    /// impl ConstConfig for Seven {
    ///     const CONFIG: Config = Config::DEFAULT;
    ///     const ID: u32 = 7;
    /// }
    /// let mut pool = Bulkhead::<10, NoStats, Fixed<Seven>>::fixed()?;
    /// assert_eq!(pool.id(), 7);
    /// let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) else { panic!() };
    /// assert_eq!(p.pool(), 7);
    /// # let _ = pool.release(p, Instant::ZERO);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn id(&self) -> u32 {
        T::ID
    }

    /// Free slots: `T::CONFIG.max_concurrent() - in_flight()`.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Acquire, Bulkhead, Config, ConstConfig, Fixed, NoStats};
    /// # use steadfast::time::Instant;
    /// struct Three;
    /// impl ConstConfig for Three {
    ///     const CONFIG: Config = Config::DEFAULT.with_max_concurrent(3);
    /// }
    /// let mut pool = Bulkhead::<10, NoStats, Fixed<Three>>::fixed()?;
    /// let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) else { panic!() };
    /// assert_eq!(pool.available(), 2);
    /// # let _ = pool.release(p, Instant::ZERO);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn available(&self) -> u32 {
        T::CONFIG.max_concurrent.saturating_sub(self.in_flight())
    }
}

impl<const Q: usize, S: StatsSlot, C: ConfigSource> Bulkhead<Q, S, C> {
    /// Asks for a slot at `now`.
    ///
    /// Expired waiters are removed first. Then: a free slot gives a
    /// [`Permit`]; otherwise, if the queue has room and `max_wait` is not zero,
    /// the caller is queued with `deadline = now + max_wait` (saturating; a
    /// deadline that is not after `now`, e.g. at [`Instant::MAX`], rejects);
    /// otherwise [`Acquire::Full`]. While anyone waits no slot is free, so a
    /// newcomer never overtakes a waiter.
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let t = Instant::from_secs;
    /// let mut pool = Bulkhead::<1>::new(Config::DEFAULT.with_max_concurrent(1).with_max_queue(1).with_max_wait(Duration::from_secs(5)))?;
    /// assert!(matches!(pool.try_acquire(t(0)), Acquire::Permit(_)));
    /// assert!(matches!(pool.try_acquire(t(1)), Acquire::Queued { deadline, .. } if deadline == t(6)));
    /// assert_eq!(pool.try_acquire(t(2)), Acquire::Full); // queue of 1 is full
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[inline(always)]
    pub fn try_acquire(&mut self, now: Instant) -> Acquire {
        // Fast path: nobody waits (so nothing can expire) and a slot is free.
        // Same effect as the general path, without its queue code (BENCHMARKS.md).
        let q = &mut self.queue;
        let in_flight = q.in_flight();
        if q.len == 0 && in_flight < q.limits().max_concurrent {
            q.last_now = now.max(q.last_now);
            // Below `max_concurrent` (a u32), `permits + reserved` is exact and
            // one more fits: neither count can overflow here.
            q.permits = q.permits.wrapping_add(1);
            q.stats.bump(Counter::Acquired);
            q.stats.in_flight(in_flight.wrapping_add(1));
            return Acquire::Permit(q.permit());
        }
        self.slots().try_acquire_slow(now)
    }

    /// Gives a permit's slot back at `now` and returns the ticket of the
    /// waiter it went to (the adapter wakes it; it then [`claim`](Self::claim)s).
    ///
    /// Expired waiters are removed first, so a waiter whose deadline is `now`
    /// is not granted. With nobody waiting the slot becomes free and the answer
    /// is `None`. A permit from another epoch or pool, or a release while no
    /// permit is out, changes nothing (counted in `stale_releases`).
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let mut pool = Bulkhead::<10>::new(Config::default())?;
    /// let Acquire::Permit(p) = pool.try_acquire(Instant::ZERO) else { panic!() };
    /// assert_eq!(pool.release(p, Instant::from_millis(3)), None);
    /// assert_eq!(pool.in_flight(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use = "the returned ticket's waiter must be woken to claim its slot"]
    #[inline(always)]
    pub fn release(&mut self, permit: Permit, now: Instant) -> Option<Ticket> {
        // Fast path: nobody waits, so no slot is handed on and nothing expires.
        let q = &mut self.queue;
        if q.len == 0 && permit.pool == q.pool() && permit.epoch == q.epoch && q.permits > 0 {
            q.last_now = now.max(q.last_now);
            q.permits -= 1;
            q.stats.bump(Counter::Released);
            q.stats.fell(q.in_flight());
            return None;
        }
        self.slots().release_slow(permit, now)
    }

    /// Asks, at `now`, whether a queued caller got its slot.
    ///
    /// [`Claim::Granted`] turns the reservation into a permit (a grant is final:
    /// its deadline no longer applies). A waiter not yet granted gets
    /// [`Claim::Waiting`], or [`Claim::Expired`] (and leaves the queue) once
    /// `now >= deadline`. A ticket that names no waiter — claimed, cancelled,
    /// expired, reset, from another pool — is [`Claim::Expired`] too.
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Claim, Config};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let t = Instant::from_millis;
    /// let mut pool = Bulkhead::<1>::new(Config::DEFAULT.with_max_concurrent(1).with_max_queue(1).with_max_wait(Duration::from_millis(10)))?;
    /// let Acquire::Permit(p) = pool.try_acquire(t(0)) else { panic!() };
    /// let Acquire::Queued { ticket, .. } = pool.try_acquire(t(0)) else { panic!() };
    /// assert_eq!(pool.release(p, t(5)), Some(ticket));
    /// // Claimed after the deadline: the grant stands.
    /// let Claim::Granted(p) = pool.claim(ticket, t(50)) else { panic!() };
    /// assert_eq!(pool.claim(ticket, t(50)), Claim::Expired); // only once
    /// # let _ = pool.release(p, t(60));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn claim(&mut self, ticket: Ticket, now: Instant) -> Claim {
        self.slots().claim(ticket, now)
    }

    /// A queued caller gives up at `now` (its future was dropped, its own
    /// timer fired first, …) and leaves the queue.
    ///
    /// If it had already been granted a slot, the slot passes to the next
    /// waiter, whose ticket is returned (wake it); with nobody waiting the slot
    /// becomes free. A ticket that names no waiter changes nothing.
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Claim, Config};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let t = Instant::from_millis;
    /// let mut pool = Bulkhead::<2>::new(Config::DEFAULT.with_max_concurrent(1).with_max_queue(2).with_max_wait(Duration::from_secs(1)))?;
    /// let Acquire::Permit(p) = pool.try_acquire(t(0)) else { panic!() };
    /// let Acquire::Queued { ticket: a, .. } = pool.try_acquire(t(1)) else { panic!() };
    /// let Acquire::Queued { ticket: b, .. } = pool.try_acquire(t(2)) else { panic!() };
    /// assert_eq!(pool.release(p, t(3)), Some(a)); // a is granted…
    /// assert_eq!(pool.cancel(a, t(4)), Some(b));  // …but gives up: b gets the slot
    /// assert!(matches!(pool.claim(b, t(5)), Claim::Granted(_)));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use = "the returned ticket's waiter must be woken to claim its slot"]
    pub fn cancel(&mut self, ticket: Ticket, now: Instant) -> Option<Ticket> {
        self.slots().cancel(ticket, now)
    }

    /// Removes the waiters whose deadline has come (`now >= deadline`) and
    /// returns how many. Safe to call early, late or repeatedly; expiry never
    /// frees or grants a slot (waiters hold none).
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let t = Instant::from_millis;
    /// let mut pool = Bulkhead::<1>::new(Config::DEFAULT.with_max_concurrent(1).with_max_queue(1).with_max_wait(Duration::from_millis(100)))?;
    /// let _busy = pool.try_acquire(t(0));
    /// let _waiter = pool.try_acquire(t(0));
    /// assert_eq!(pool.handle_timeout(t(99)), 0);
    /// assert_eq!(pool.handle_timeout(t(100)), 1);
    /// assert_eq!(pool.queued(), 0);
    /// assert_eq!(pool.poll_at(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) -> u32 {
        self.slots().handle_timeout(now)
    }

    /// When the next waiter's wait runs out: call
    /// [`handle_timeout`](Self::handle_timeout) then (or let the waiter
    /// [`claim`](Self::claim) and see [`Claim::Expired`]). `None` with nobody
    /// waiting. Granted waiters have no deadline.
    ///
    /// ```
    /// use steadfast::bulkhead::{Bulkhead, Config};
    /// # use steadfast::time::Instant;
    ///
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.poll_at(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn poll_at(&self) -> Option<Instant> {
        self.slots_ref().poll_at()
    }

    /// Forgets every permit and waiter: all slots free, queue empty, a new
    /// epoch (permits issued before are ignored on release; tickets claim
    /// [`Claim::Expired`]). The escape hatch for permits that were dropped
    /// without release. Counters are kept.
    ///
    /// ```
    /// use steadfast::bulkhead::{Acquire, Bulkhead, Config};
    /// use steadfast::time::Instant;
    ///
    /// let mut pool = Bulkhead::<10>::new(Config::default())?;
    /// let Acquire::Permit(old) = pool.try_acquire(Instant::ZERO) else { panic!() };
    /// pool.reset(Instant::ZERO);
    /// assert_eq!(pool.available(), 10);
    /// let _ = pool.release(old, Instant::ZERO); // stale: ignored
    /// assert_eq!(pool.available(), 10);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn reset(&mut self, now: Instant) {
        self.slots().reset(now)
    }

    /// Slots taken: permits out plus slots reserved for granted waiters that
    /// have not claimed yet. `in_flight() + available() == max_concurrent`.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.in_flight(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn in_flight(&self) -> u32 {
        self.queue.in_flight()
    }

    /// Waiters in the queue not yet granted a slot (as of the last call; call
    /// [`handle_timeout`](Self::handle_timeout) to drop the expired ones first).
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.queued(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn queued(&self) -> u32 {
        self.queue.queued()
    }

    /// Slots reserved for granted waiters that have not claimed yet (part of
    /// [`in_flight`](Self::in_flight)).
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// let pool = Bulkhead::<10>::new(Config::default())?;
    /// assert_eq!(pool.reserved(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn reserved(&self) -> u32 {
        self.queue.reserved
    }

    /// The queue as a slice, where the code that reads or changes it lives.
    fn slots(&mut self) -> &mut Queue<S, C, [Entry]> {
        &mut self.queue
    }

    fn slots_ref(&self) -> &Queue<S, C, [Entry]> {
        &self.queue
    }
}

impl<const Q: usize, S: StatsSlot, C: ConfigSource> Queue<S, C, [Entry; Q]> {
    /// Every slot free, nobody waiting; zero but for `config` and `id`.
    const fn empty(config: C, id: C::Id) -> Self {
        Self {
            config,
            id,
            epoch: 0,
            permits: 0,
            reserved: 0,
            next_seq: 0,
            last_now: Instant::ZERO,
            entries: [Entry::EMPTY; Q],
            head: 0,
            len: 0,
            stats: S::ZERO,
        }
    }
}

impl<S, C: ConfigSource, E: ?Sized> Queue<S, C, E> {
    /// The pool id, held or constant.
    #[inline(always)]
    fn pool(&self) -> u32 {
        C::id(self.id)
    }

    /// The limits, held or constant.
    #[inline(always)]
    fn limits(&self) -> &Config {
        self.config.get()
    }

    fn permit(&self) -> Permit {
        Permit {
            pool: self.pool(),
            epoch: self.epoch,
        }
    }

    const fn len_u32(&self) -> u32 {
        if self.len > u32::MAX as usize {
            u32::MAX
        } else {
            self.len as u32
        }
    }

    const fn in_flight(&self) -> u32 {
        // Exact: a permit is issued, and a slot reserved, only for a free
        // slot, so `permits + reserved <= max_concurrent`, a u32.
        self.permits.wrapping_add(self.reserved)
    }

    const fn queued(&self) -> u32 {
        self.len_u32().saturating_sub(self.reserved)
    }
}

impl<S: StatsSlot, C: ConfigSource> Queue<S, C, [Entry]> {
    /// [`try_acquire`](Self::try_acquire) with waiters queued or no slot free.
    #[cold]
    #[inline(never)]
    fn try_acquire_slow(&mut self, now: Instant) -> Acquire {
        let now = self.advance(now);
        if self.in_flight() < self.limits().max_concurrent {
            self.permits = self.permits.wrapping_add(1);
            self.stats.bump(Counter::Acquired);
            self.note_in_flight();
            return Acquire::Permit(self.permit());
        }
        let deadline = now.saturating_add(self.limits().max_wait);
        let room = self.len < self.entries.len() && self.len_u32() < self.limits().max_queue;
        if deadline <= now || !room {
            self.stats.bump(Counter::RejectedFull);
            return Acquire::Full;
        }
        let seq = self.next_seq;
        let pushed = self.push_back(Entry {
            deadline,
            seq,
            granted: false,
        });
        if !pushed {
            // Unreachable given `room`; rejecting keeps the books exact anyway.
            self.stats.bump(Counter::RejectedFull);
            return Acquire::Full;
        }
        self.next_seq = seq.wrapping_add(1);
        self.stats.bump(Counter::Queued);
        self.note_waiting();
        Acquire::Queued {
            ticket: Ticket {
                pool: self.pool(),
                seq,
            },
            deadline,
        }
    }

    /// [`release`](Self::release) with waiters queued, or a stale permit.
    #[cold]
    #[inline(never)]
    fn release_slow(&mut self, permit: Permit, now: Instant) -> Option<Ticket> {
        self.advance(now);
        if permit.pool != self.pool() || permit.epoch != self.epoch || self.permits == 0 {
            self.stats.bump(Counter::StaleReleases);
            return None;
        }
        self.permits = self.permits.saturating_sub(1);
        self.stats.bump(Counter::Released);
        let next = self.hand_on();
        self.note_in_flight();
        next
    }

    /// See [`Bulkhead::claim`].
    fn claim(&mut self, ticket: Ticket, now: Instant) -> Claim {
        self.advance(now);
        let Some(index) = self.find(ticket) else {
            return Claim::Expired;
        };
        let Some(entry) = self.get(index) else {
            return Claim::Expired;
        };
        if !entry.granted {
            // Expired waiters were removed by `advance`: this one still waits.
            return Claim::Waiting {
                deadline: entry.deadline,
            };
        }
        self.remove(index);
        self.reserved = self.reserved.saturating_sub(1);
        self.permits = self.permits.saturating_add(1);
        self.stats.bump(Counter::Acquired);
        self.stats.bump(Counter::Claimed);
        self.note_in_flight();
        Claim::Granted(self.permit())
    }

    /// See [`Bulkhead::cancel`].
    fn cancel(&mut self, ticket: Ticket, now: Instant) -> Option<Ticket> {
        self.advance(now);
        let index = self.find(ticket)?;
        let granted = self.get(index)?.granted;
        self.remove(index);
        self.stats.bump(Counter::Cancelled);
        let next = if granted {
            self.reserved = self.reserved.saturating_sub(1);
            self.hand_on()
        } else {
            None
        };
        self.note_in_flight();
        self.note_waiting();
        next
    }

    /// See [`Bulkhead::handle_timeout`].
    fn handle_timeout(&mut self, now: Instant) -> u32 {
        u32::try_from(self.expire(now).1).unwrap_or(u32::MAX)
    }

    /// See [`Bulkhead::poll_at`]: the deadline of the oldest waiter still
    /// waiting, the earliest (waiters queue in order of their deadlines, see
    /// [`advance`](Self::advance)).
    fn poll_at(&self) -> Option<Instant> {
        match self.get(self.first_waiting()) {
            Some(entry) if !entry.granted => Some(entry.deadline),
            _ => None,
        }
    }

    /// See [`Bulkhead::reset`].
    fn reset(&mut self, now: Instant) {
        self.last_now = now.max(self.last_now);
        self.epoch = self.epoch.wrapping_add(1);
        self.permits = 0;
        self.reserved = 0;
        self.head = 0;
        self.len = 0;
        self.note_in_flight();
        self.note_waiting();
    }

    /// The queue index of the oldest waiter still waiting. Grants go to the
    /// oldest waiter first and claims or cancels never reorder the queue, so
    /// the granted entries are the `reserved` oldest ones.
    fn first_waiting(&self) -> usize {
        usize::try_from(self.reserved).unwrap_or(usize::MAX)
    }

    /// Clamps a backwards clock and drops expired waiters.
    ///
    /// O(1) unless one expires: waiters queue in order of their deadlines
    /// (`now`, clamped, never decreases and `max_wait` is fixed), so if the
    /// oldest waiting one has not expired, none has.
    fn advance(&mut self, now: Instant) -> Instant {
        self.expire(now).0
    }

    /// [`advance`](Self::advance), and how many waiters expired.
    fn expire(&mut self, now: Instant) -> (Instant, usize) {
        let now = now.max(self.last_now);
        self.last_now = now;
        match self.get(self.first_waiting()) {
            None => return (now, 0),
            Some(e) if !e.granted && now < e.deadline => return (now, 0),
            Some(_) => {}
        }
        let mut kept = 0;
        for read in 0..self.len {
            let Some(entry) = self.get(read) else { break };
            if entry.granted || now < entry.deadline {
                if let Some(slot) = self.get_mut(kept) {
                    // Field by field: a whole-entry copy moves its padding
                    // too, through a `memcpy` call on a Cortex-M0.
                    slot.deadline = entry.deadline;
                    slot.seq = entry.seq;
                    slot.granted = entry.granted;
                }
                kept += 1;
            }
        }
        let expired = self.len.saturating_sub(kept);
        if expired > 0 {
            self.len = kept;
            self.stats
                .expired(u64::try_from(expired).unwrap_or(u64::MAX));
            self.note_waiting();
        }
        (now, expired)
    }

    /// A freed slot goes to the oldest waiter still waiting, if any.
    fn hand_on(&mut self) -> Option<Ticket> {
        // The oldest waiting entry follows the granted ones; the scan is the
        // fallback should it not.
        let first = self.first_waiting();
        let start = if self.get(first).is_some_and(|e| !e.granted) {
            first
        } else {
            0
        };
        for index in start..self.len {
            if let Some(entry) = self.get_mut(index)
                && !entry.granted
            {
                entry.granted = true;
                let seq = entry.seq;
                self.reserved = self.reserved.saturating_add(1);
                self.stats.bump(Counter::Granted);
                self.note_waiting();
                return Some(Ticket {
                    pool: self.pool(),
                    seq,
                });
            }
        }
        None
    }

    #[inline]
    fn note_in_flight(&mut self) {
        let in_flight = self.in_flight();
        self.stats.in_flight(in_flight);
    }

    fn note_waiting(&mut self) {
        let waiting = self.queued();
        self.stats.waiting(waiting);
    }

    fn find(&self, ticket: Ticket) -> Option<usize> {
        if ticket.pool != self.pool() {
            return None;
        }
        (0..self.len).find(|&index| self.get(index).is_some_and(|e| e.seq == ticket.seq))
    }

    /// Physical index of the `index`-th oldest entry; `None` past the end (and
    /// always for a bulkhead without a queue).
    fn physical(&self, index: usize) -> Option<usize> {
        if index >= self.len {
            return None;
        }
        // head < q and index < len <= q (the storage's length, at most
        // isize::MAX), so the sum fits: a mask (q a power of two) or one
        // subtraction wraps it; no `%`, a division routine on a core without
        // a divider.
        let at = self.head.wrapping_add(index);
        let q = self.entries.len();
        Some(if q.is_power_of_two() {
            at & (q - 1)
        } else if at >= q {
            at - q
        } else {
            at
        })
    }

    fn get(&self, index: usize) -> Option<Entry> {
        self.entries.get(self.physical(index)?).copied()
    }

    fn get_mut(&mut self, index: usize) -> Option<&mut Entry> {
        let physical = self.physical(index)?;
        self.entries.get_mut(physical)
    }

    fn push_back(&mut self, entry: Entry) -> bool {
        if self.len >= self.entries.len() {
            return false;
        }
        let index = self.len;
        self.len = self.len.saturating_add(1);
        match self.get_mut(index) {
            Some(slot) => {
                *slot = entry;
                true
            }
            None => {
                self.len = index;
                false
            }
        }
    }

    /// Removes the `index`-th oldest entry, keeping the order of the others.
    fn remove(&mut self, index: usize) {
        if index >= self.len {
            return;
        }
        if index == 0 {
            self.head = match self.head.checked_add(1) {
                Some(next) if next < self.entries.len() => next,
                _ => 0,
            };
            self.len = self.len.saturating_sub(1);
            return;
        }
        for at in index..self.len.saturating_sub(1) {
            let Some(next) = self.get(at.saturating_add(1)) else {
                break;
            };
            if let Some(slot) = self.get_mut(at) {
                *slot = next;
            }
        }
        self.len = self.len.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests;
