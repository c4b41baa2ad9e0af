//! The machines several calls share, each behind an
//! `embassy_sync::blocking_mutex::Mutex<M, _>`: `const fn new`, so they
//! live in `static`s; `M = CriticalSectionRawMutex` to share with interrupts,
//! `ThreadModeRawMutex` or `NoopRawMutex` for one executor. A lock is held only
//! for the few instructions of one pipeline step, never across an `.await`.
//!
//! Nothing here panics: a machine already lent out (a `lock` closure locking
//! it again) is reported as `None`, and getters read figures kept beside the
//! machine instead of borrowing it.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::task::{Context, Poll, Waker};

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use steadfast::breaker::{
    Breaker, Config, ConfigSource, Consecutive, State, Stats, StatsSlot, Window,
};
use steadfast::bulkhead::{self, Bulkhead, Ticket};
use steadfast::pipeline::{NoBulkhead, Pool as CorePool};
use steadfast::retry::RetryBudget;
use steadfast::rng::SplitMix64;

/// A machine behind its lock and the figures its getters read (`V`). The
/// machine is lent to one borrower at a time (a pipeline step or a `lock`
/// closure) and `view` is refreshed each time it is given back, so a getter
/// never borrows and never meets a borrow in progress.
pub(crate) struct Held<T, V> {
    machine: RefCell<T>,
    view: Cell<V>,
}

/// The figures `V` of a machine that its getters read.
pub(crate) trait View<V> {
    fn view(&self) -> V;
}

impl<T> View<()> for T {
    fn view(&self) {}
}

impl<W: Window, S: StatsSlot, C: ConfigSource> View<State> for Breaker<W, S, C> {
    fn view(&self) -> State {
        self.state()
    }
}

impl<T: View<V>, V: Copy> Held<T, V> {
    /// `view` must be `machine`'s view.
    pub(crate) const fn new(machine: T, view: V) -> Self {
        Self {
            machine: RefCell::new(machine),
            view: Cell::new(view),
        }
    }

    /// Lends the machine to `f`, then refreshes the view; `None`, without
    /// running `f`, if the machine is already lent (`f` of a `lock` locking it
    /// again).
    pub(crate) fn lend<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut machine = self.machine.try_borrow_mut().ok()?;
        let result = f(&mut machine);
        self.view.set(View::<V>::view(&*machine));
        Some(result)
    }

    /// The figures as of the last time the machine was given back.
    pub(crate) fn view(&self) -> V {
        self.view.get()
    }
}

/// A circuit breaker shared by tasks (and interrupts, with `CriticalSectionRawMutex`).
///
/// Any [`Breaker`]: `W` its failure detector, `S` its counters ([`Stats`], or
/// [`NoStats`](steadfast::breaker::NoStats) to keep none), `C` where its
/// configuration lives ([`Config`] held in RAM, or
/// [`Fixed`](steadfast::breaker::Fixed) for a `const` one). A
/// [`Policy`](crate::Policy) takes every kind and decides the same with each.
///
/// ```
/// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
/// use steadfast::breaker::{Breaker, Config, State};
/// use steadfast_embassy::SharedBreaker;
///
/// static MODEM: SharedBreaker<CriticalSectionRawMutex> =
///     SharedBreaker::new(steadfast::valid!(Breaker::new(Config::DEFAULT)));
/// assert_eq!(MODEM.state(), State::Closed);
/// ```
///
/// The lightest: no counters, the configuration a `const` read in flash (32
/// bytes of RAM on a Cortex-M0, where the default breaker takes 128).
///
/// ```
/// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
/// use steadfast::breaker::{Breaker, Config, ConstConfig, Consecutive, Fixed, NoStats, State};
/// use steadfast::pipeline::{self, Pipeline};
/// use steadfast_embassy::{FirmwarePolicy, Policy, SharedBreaker, SharedRng};
///
/// struct Sensor;
/// impl ConstConfig for Sensor {
///     const CONFIG: Config = Config::DEFAULT.with_failure_threshold(3);
/// }
/// static SENSOR: SharedBreaker<Cs, Consecutive, NoStats, Fixed<Sensor>> =
///     SharedBreaker::new(steadfast::valid!(Breaker::fixed()));
/// static RNG: SharedRng<Cs> = SharedRng::new(7);
/// static POLICY: FirmwarePolicy<'static, Cs, Consecutive, Sensor> =
///     Policy::new(steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT)), &RNG).with_breaker(&SENSOR);
/// assert_eq!(SENSOR.state(), State::Closed);
/// # let _ = POLICY;
/// ```
pub struct SharedBreaker<
    M: RawMutex,
    W: Window = Consecutive,
    S: StatsSlot = Stats,
    C: ConfigSource = Config,
> {
    pub(crate) inner: Mutex<M, Held<Breaker<W, S, C>, State>>,
}

impl<M: RawMutex, W: Window, S: StatsSlot, C: ConfigSource> SharedBreaker<M, W, S, C> {
    /// Shares `breaker`: any detector, with or without counters, its
    /// configuration held or `const` ([`Breaker::fixed`]).
    pub const fn new(breaker: Breaker<W, S, C>) -> Self {
        Self {
            inner: Mutex::new({
                let state = breaker.state();
                Held::new(breaker, state)
            }),
        }
    }

    /// Runs `f` on the breaker under the lock (stats, `reset`, `force_open`…);
    /// `None`, without running `f`, if the breaker is already lent out: when
    /// `f` of another `lock` of it locks it again. Keep it short: with
    /// `CriticalSectionRawMutex` interrupts wait.
    ///
    /// ```
    /// # use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    /// # use steadfast::breaker::{Breaker, Config};
    /// # use steadfast_embassy::SharedBreaker;
    /// let b: SharedBreaker<NoopRawMutex> = SharedBreaker::new(Breaker::new(Config::DEFAULT)?);
    /// assert_eq!(b.lock(|b| b.stats().rejections), Some(0));
    /// assert_eq!(b.lock(|_| b.lock(|b| b.stats().rejections)), Some(None));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn lock<R>(&self, f: impl FnOnce(&mut Breaker<W, S, C>) -> R) -> Option<R> {
        self.inner.lock(|held| held.lend(f))
    }

    /// The breaker's state, as the last step or `lock` left it.
    ///
    /// ```
    /// # use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    /// # use steadfast::breaker::{Breaker, Config, State};
    /// # use steadfast::time::Instant;
    /// # use steadfast_embassy::SharedBreaker;
    /// let b: SharedBreaker<NoopRawMutex> = SharedBreaker::new(Breaker::new(Config::DEFAULT)?);
    /// let _ = b.lock(|b| b.force_open(Instant::ZERO));
    /// assert_eq!(b.state(), State::ForcedOpen);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn state(&self) -> State {
        self.inner.lock(Held::view)
    }
}

impl<M: RawMutex, W: Window, S: StatsSlot, C: ConfigSource> fmt::Debug
    for SharedBreaker<M, W, S, C>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBreaker")
            .field("state", &self.state())
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl<M: RawMutex, W: Window, S: StatsSlot, C: ConfigSource> defmt::Format
    for SharedBreaker<M, W, S, C>
{
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "SharedBreaker {{ state: {} }}", self.state());
    }
}

/// One queued call's wake-up: its ticket, whether a slot was granted, its waker.
struct Waiter {
    ticket: Ticket,
    granted: bool,
    waker: Option<Waker>,
}

/// The bulkhead plus its waker slots.
pub(crate) struct Pool<const Q: usize, BS: bulkhead::StatsSlot, BC: bulkhead::ConfigSource> {
    pub(crate) bulkhead: Bulkhead<Q, BS, BC>,
    pub(crate) waiters: Waiters<Q>,
}

/// What a [`SharedBulkhead`]'s getters read.
#[derive(Clone, Copy)]
pub(crate) struct PoolView {
    in_flight: u32,
    queued: u32,
    waiters: usize,
}

impl<const Q: usize, BS: bulkhead::StatsSlot, BC: bulkhead::ConfigSource> View<PoolView>
    for Pool<Q, BS, BC>
{
    fn view(&self) -> PoolView {
        PoolView {
            in_flight: self.bulkhead.in_flight(),
            queued: self.bulkhead.queued(),
            waiters: self.waiters.waiting(),
        }
    }
}

/// One waker slot per queue place (`Q`): a grant wakes exactly the task
/// holding the ticket.
pub struct Waiters<const Q: usize> {
    slots: [Option<Waiter>; Q],
}

impl<const Q: usize> fmt::Debug for Waiters<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiters")
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// The waker slots of a [`BulkheadStage`]: [`Waiters`], or [`NoWaiters`]
/// for a policy without a bulkhead.
pub trait Slots {
    /// See [`Waiters::enter`].
    fn enter(&mut self, ticket: Ticket);
    /// See [`Waiters::grant`].
    fn grant(&mut self, ticket: Ticket) -> Option<Waker>;
    /// See [`Waiters::leave`].
    fn leave(&mut self, ticket: Ticket);
}

impl<const Q: usize> Slots for Waiters<Q> {
    #[inline]
    fn enter(&mut self, ticket: Ticket) {
        Self::enter(self, ticket);
    }
    #[inline]
    fn grant(&mut self, ticket: Ticket) -> Option<Waker> {
        Self::grant(self, ticket)
    }
    #[inline]
    fn leave(&mut self, ticket: Ticket) {
        Self::leave(self, ticket);
    }
}

/// The waker slots of a policy without a bulkhead. It has no value, so they
/// are never lent and link no code.
#[derive(Debug)]
pub enum NoWaiters {}

impl Slots for NoWaiters {
    fn enter(&mut self, _ticket: Ticket) {
        match *self {}
    }
    fn grant(&mut self, _ticket: Ticket) -> Option<Waker> {
        match *self {}
    }
    fn leave(&mut self, _ticket: Ticket) {
        match *self {}
    }
}

impl<const Q: usize> Waiters<Q> {
    /// A ticket was handed out: make room for its waker. Called under the same
    /// lock as the step that queued, so no grant can slip in between. If every
    /// slot is taken (a waiter that expired in the core but has not polled yet),
    /// the newcomer has none and wakes at its queue deadline instead — its
    /// grant, if any, is kept for it by the core.
    pub(crate) fn enter(&mut self, ticket: Ticket) {
        if self.slots.iter().flatten().any(|w| w.ticket == ticket) {
            return;
        }
        if let Some(slot) = self.slots.iter_mut().find(|w| w.is_none()) {
            *slot = Some(Waiter {
                ticket,
                granted: false,
                waker: None,
            });
        }
    }

    /// The slot went to `ticket`: returns the waker of its task, for the
    /// caller to wake once it has unlocked (a waker runs foreign code, which
    /// must never run while a machine is borrowed).
    pub(crate) fn grant(&mut self, ticket: Ticket) -> Option<Waker> {
        let w = self
            .slots
            .iter_mut()
            .flatten()
            .find(|w| w.ticket == ticket)?;
        w.granted = true;
        w.waker.take()
    }

    /// The call holding `ticket` is no longer queued.
    pub(crate) fn leave(&mut self, ticket: Ticket) {
        for slot in &mut self.slots {
            if slot.as_ref().is_some_and(|w| w.ticket == ticket) {
                *slot = None;
            }
        }
    }

    /// Ready once `ticket` was granted; registers the task's waker otherwise.
    pub(crate) fn poll_grant(&mut self, ticket: Ticket, cx: &Context<'_>) -> Poll<()> {
        match self.slots.iter_mut().flatten().find(|w| w.ticket == ticket) {
            Some(w) if w.granted => Poll::Ready(()),
            Some(w) => {
                match &mut w.waker {
                    Some(waker) => waker.clone_from(cx.waker()),
                    None => w.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            None => Poll::Pending,
        }
    }

    /// Queued calls with a waker slot.
    fn waiting(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

/// A bulkhead shared by tasks, with async waiting: a queued call sleeps until
/// the slot is handed to it (woken through one waker slot per queue place)
/// or its wait ends.
///
/// ```
/// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
/// use steadfast::bulkhead::{Bulkhead, Config};
/// use steadfast::time::Duration;
/// use steadfast_embassy::SharedBulkhead;
///
/// const BUS: Bulkhead<2> = steadfast::valid!(Bulkhead::new(
///     Config::DEFAULT.with_max_concurrent(1).with_max_queue(2).with_max_wait(Duration::from_millis(50))
/// ));
/// static I2C: SharedBulkhead<CriticalSectionRawMutex, 2> = SharedBulkhead::new(BUS);
/// assert_eq!(I2C.in_flight(), 0);
/// ```
pub struct SharedBulkhead<
    M: RawMutex,
    const Q: usize = 10,
    BS: bulkhead::StatsSlot = bulkhead::Stats,
    BC: bulkhead::ConfigSource = bulkhead::Config,
> {
    pub(crate) inner: Mutex<M, Held<Pool<Q, BS, BC>, PoolView>>,
}

impl<M: RawMutex, const Q: usize, BS: bulkhead::StatsSlot, BC: bulkhead::ConfigSource>
    SharedBulkhead<M, Q, BS, BC>
{
    /// Shares `bulkhead` (with its counters, or without:
    /// [`Bulkhead::without_stats`](steadfast::bulkhead::Bulkhead::without_stats);
    /// holding its configuration, or reading it from a constant:
    /// [`Bulkhead::fixed`](steadfast::bulkhead::Bulkhead::fixed)).
    ///
    /// ```
    /// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
    /// use steadfast::bulkhead::{Bulkhead, Config, ConstConfig, Fixed, NoStats};
    /// use steadfast::pipeline::{self, Pipeline};
    /// use steadfast_embassy::{Policy, SharedBulkhead, SharedRng};
    /// use core::future::Future;
    ///
    /// // No counters: 88 bytes less RAM on a Cortex-M0, and no counting code.
    /// static BUS: SharedBulkhead<Cs, 2, NoStats> = SharedBulkhead::new(steadfast::valid!(
    ///     Bulkhead::without_stats(Config::DEFAULT.with_max_concurrent(1).with_max_queue(2))
    /// ));
    /// // Nor the configuration: it is a constant, read in place.
    /// struct Spi;
    /// impl ConstConfig for Spi {
    ///     const CONFIG: Config = Config::DEFAULT.with_max_concurrent(1).with_max_queue(2);
    /// }
    /// static SPI: SharedBulkhead<Cs, 2, NoStats, Fixed<Spi>> =
    ///     SharedBulkhead::new(steadfast::valid!(Bulkhead::fixed()));
    /// static RNG: SharedRng<Cs> = SharedRng::new(7);
    /// let on_spi = Policy::new(steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT)), &RNG)
    ///     .with_bulkhead(&SPI);
    /// let mut call = core::pin::pin!(on_spi.call(|| async { Ok::<_, ()>(4) }));
    /// let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    /// let core::task::Poll::Ready(answer) = call.as_mut().poll(&mut cx) else { unreachable!() };
    /// assert_eq!(answer.ok(), Some(4));
    /// assert_eq!(SPI.lock(|b| b.available()), Some(1));
    /// let policy = Policy::new(steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT)), &RNG)
    ///     .with_bulkhead(&BUS);
    /// let mut call = core::pin::pin!(policy.call(|| async { Ok::<_, ()>(5) }));
    /// let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    /// // A free slot: the call runs and answers at its first poll.
    /// let core::task::Poll::Ready(answer) = call.as_mut().poll(&mut cx) else { unreachable!() };
    /// assert_eq!(answer.ok(), Some(5));
    /// assert_eq!(BUS.in_flight(), 0);
    /// ```
    pub const fn new(bulkhead: Bulkhead<Q, BS, BC>) -> Self {
        Self {
            inner: Mutex::new({
                let view = PoolView {
                    in_flight: bulkhead.in_flight(),
                    queued: bulkhead.queued(),
                    waiters: 0,
                };
                let waiters = Waiters {
                    slots: [const { None }; Q],
                };
                Held::new(Pool { bulkhead, waiters }, view)
            }),
        }
    }

    /// Runs `f` on the bulkhead under the lock, to read it (`stats`,
    /// `in_flight`…); `None`, without running `f`, if the bulkhead is already
    /// lent out (`f` of another `lock` of it locking it again). Do not
    /// release or claim through it: the pipeline does.
    ///
    /// ```
    /// # use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// # use steadfast_embassy::SharedBulkhead;
    /// let pool: SharedBulkhead<NoopRawMutex> = SharedBulkhead::new(Bulkhead::new(Config::DEFAULT)?);
    /// assert_eq!(pool.lock(|b| b.stats().acquired), Some(0));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn lock<R>(&self, f: impl FnOnce(&mut Bulkhead<Q, BS, BC>) -> R) -> Option<R> {
        self.inner
            .lock(|held| held.lend(|pool| f(&mut pool.bulkhead)))
    }

    /// Slots taken (running or reserved for a woken waiter), as the last step
    /// or `lock` left them.
    pub fn in_flight(&self) -> u32 {
        self.inner.lock(Held::view).in_flight
    }

    /// Calls waiting in the queue, as the last step or `lock` left them.
    pub fn queued(&self) -> u32 {
        self.inner.lock(Held::view).queued
    }

    /// Waker slots in use: equals [`queued`](Self::queued) when nothing leaks.
    pub fn waiters(&self) -> usize {
        self.inner.lock(Held::view).waiters
    }
}

impl<M: RawMutex, const Q: usize, BS: bulkhead::StatsSlot, BC: bulkhead::ConfigSource> fmt::Debug
    for SharedBulkhead<M, Q, BS, BC>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBulkhead")
            .field("in_flight", &self.in_flight())
            .field("queued", &self.queued())
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl<M: RawMutex, const Q: usize, BS: bulkhead::StatsSlot, BC: bulkhead::ConfigSource> defmt::Format
    for SharedBulkhead<M, Q, BS, BC>
{
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "SharedBulkhead {{ in_flight: {}, queued: {} }}",
            self.in_flight(),
            self.queued()
        );
    }
}

/// The bulkhead a [`Policy`](crate::Policy) lends each call, with its
/// waker slots: a `&`[`SharedBulkhead`] ([`Policy::with_bulkhead`](crate::Policy::with_bulkhead)),
/// or `()`, none, the default, which lends the pipeline
/// [`NoBulkhead`] and links no bulkhead code and no waker slots. Sealed.
///
/// ```
/// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
/// use steadfast::bulkhead::{Bulkhead, Config, NoStats};
/// use steadfast::pipeline::{self, Pipeline};
/// use steadfast_embassy::{Policy, SharedBulkhead, SharedRng};
///
/// static BUS: SharedBulkhead<Cs, 2, NoStats> = SharedBulkhead::new(steadfast::valid!(
///     Bulkhead::without_stats(Config::DEFAULT.with_max_concurrent(1).with_max_queue(2))
/// ));
/// static RNG: SharedRng<Cs> = SharedRng::new(7);
/// const PIPELINE: Pipeline = steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT));
/// // No bulkhead: `K = ()`.
/// static PLAIN: Policy<'static, Cs> = Policy::new(PIPELINE, &RNG);
/// // Calls share `BUS`: `K = &SharedBulkhead<..>`.
/// static ON_BUS: Policy<'static, Cs, steadfast::breaker::Consecutive, &'static SharedBulkhead<Cs, 2, NoStats>> =
///     Policy::new(PIPELINE, &RNG).with_bulkhead(&BUS);
/// # let _ = (&PLAIN, &ON_BUS);
/// ```
pub trait BulkheadStage<M: RawMutex>: Copy + bulkhead_sealed::Sealed {
    /// The core machine lent to the pipeline.
    type Pool: CorePool;
    /// The waker slots lent beside it.
    #[doc(hidden)]
    type Slots: Slots;
    /// Runs `f` with the bulkhead and its waker slots under their lock
    /// (`None` for no bulkhead); `None` without running `f` if the bulkhead
    /// is already lent out.
    #[doc(hidden)]
    fn lend<R>(
        &self,
        f: impl FnOnce(Option<&mut Self::Pool>, Option<&mut Self::Slots>) -> Option<R>,
    ) -> Option<R>;
    /// Ready once the slot of `ticket` was granted (at once for no
    /// bulkhead); registers the task's waker otherwise.
    #[doc(hidden)]
    fn poll_grant(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<()>;
    /// The shared bulkhead, for `Debug` (`None` for no bulkhead).
    #[doc(hidden)]
    fn debug(&self) -> Option<&dyn fmt::Debug>;
    /// Writes `None`, or `Some` of the shared bulkhead, for defmt.
    #[cfg(feature = "defmt")]
    #[doc(hidden)]
    fn format_opt(&self, f: defmt::Formatter<'_>);
}

impl<M: RawMutex> BulkheadStage<M> for () {
    type Pool = NoBulkhead;
    type Slots = NoWaiters;
    #[inline]
    fn lend<R>(
        &self,
        f: impl FnOnce(Option<&mut NoBulkhead>, Option<&mut NoWaiters>) -> Option<R>,
    ) -> Option<R> {
        f(None, None)
    }
    #[inline]
    fn poll_grant(&self, _ticket: Ticket, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
    fn debug(&self) -> Option<&dyn fmt::Debug> {
        None
    }
    #[cfg(feature = "defmt")]
    fn format_opt(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "None");
    }
}

impl<M: RawMutex, const Q: usize, BS: bulkhead::StatsSlot, BC: bulkhead::ConfigSource>
    BulkheadStage<M> for &SharedBulkhead<M, Q, BS, BC>
{
    type Pool = Bulkhead<Q, BS, BC>;
    type Slots = Waiters<Q>;
    fn lend<R>(
        &self,
        f: impl FnOnce(Option<&mut Bulkhead<Q, BS, BC>>, Option<&mut Waiters<Q>>) -> Option<R>,
    ) -> Option<R> {
        self.inner
            .lock(|held| held.lend(|pool| f(Some(&mut pool.bulkhead), Some(&mut pool.waiters))))?
    }
    fn poll_grant(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<()> {
        self.inner
            .lock(|held| held.lend(|pool| pool.waiters.poll_grant(ticket, cx)))
            .unwrap_or_else(|| {
                // Lent to a `lock` this poll runs inside: look again soon.
                cx.waker().wake_by_ref();
                Poll::Pending
            })
    }
    fn debug(&self) -> Option<&dyn fmt::Debug> {
        Some(*self)
    }
    #[cfg(feature = "defmt")]
    fn format_opt(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Some({})", *self);
    }
}

mod bulkhead_sealed {
    use super::{RawMutex, SharedBulkhead};
    pub trait Sealed {}
    impl Sealed for () {}
    impl<
        M: RawMutex,
        const Q: usize,
        BS: steadfast::bulkhead::StatsSlot,
        BC: steadfast::bulkhead::ConfigSource,
    > Sealed for &SharedBulkhead<M, Q, BS, BC>
    {
    }
}

/// A retry budget shared by the calls of one or more policies.
///
/// ```
/// use embassy_sync::blocking_mutex::raw::NoopRawMutex;
/// use steadfast::retry::{Budget, BudgetConfig};
/// use steadfast_embassy::SharedBudget;
///
/// let budget: SharedBudget<NoopRawMutex, Budget> = SharedBudget::new(Budget::new(BudgetConfig::default())?);
/// assert_eq!(budget.lock(|b| b.stats().requests), Some(0));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
pub struct SharedBudget<M: RawMutex, B: RetryBudget> {
    pub(crate) inner: Mutex<M, Held<B, ()>>,
}

impl<M: RawMutex, B: RetryBudget> SharedBudget<M, B> {
    /// Shares `budget`.
    pub const fn new(budget: B) -> Self {
        Self {
            inner: Mutex::new(Held::new(budget, ())),
        }
    }

    /// Runs `f` on the budget under the lock; `None`, without running `f`,
    /// if the budget is already lent out (`f` of another `lock` of it locking
    /// it again).
    pub fn lock<R>(&self, f: impl FnOnce(&mut B) -> R) -> Option<R> {
        self.inner.lock(|held| held.lend(f))
    }
}

impl<M: RawMutex, B: RetryBudget> fmt::Debug for SharedBudget<M, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedBudget")
    }
}

#[cfg(feature = "defmt")]
impl<M: RawMutex, B: RetryBudget> defmt::Format for SharedBudget<M, B> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "SharedBudget");
    }
}

/// The seeded random stream that jitters backoff delays. Same seed, same
/// delays: a firmware's timeline is reproducible.
///
/// ```
/// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
/// use steadfast_embassy::SharedRng;
/// static JITTER: SharedRng<CriticalSectionRawMutex> = SharedRng::new(0x5EED);
/// # let _ = &JITTER;
/// ```
pub struct SharedRng<M: RawMutex> {
    pub(crate) inner: Mutex<M, Held<SplitMix64, ()>>,
}

impl<M: RawMutex> SharedRng<M> {
    /// A stream seeded with `seed`.
    pub const fn new(seed: u64) -> Self {
        Self {
            inner: Mutex::new(Held::new(SplitMix64::new(seed), ())),
        }
    }
}

impl<M: RawMutex> fmt::Debug for SharedRng<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedRng")
    }
}

#[cfg(feature = "defmt")]
impl<M: RawMutex> defmt::Format for SharedRng<M> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "SharedRng");
    }
}
