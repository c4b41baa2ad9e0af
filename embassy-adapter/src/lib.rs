#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod adaptive;
pub mod admission;
mod drive;
pub mod hedge;
mod shared;
pub mod time;

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::Timer;
use steadfast::backoff::Delays;
use steadfast::breaker::{
    self, Breaker, ConfigSource, Consecutive, Fixed, NoStats, Stats, StatsSlot, Window,
};
use steadfast::bulkhead::{self, Ticket};
use steadfast::cache::{Cached, LastGood, Settled, settle};
use steadfast::outcome::{Classify, ErrorsFail};
use steadfast::pipeline::{
    self, Answer, Call, ConstPipeline, Event, Events, Finish, Pipeline, Shared, Step,
};
use steadfast::retry::{RetryBudget, Unlimited};
use steadfast::time::{Duration, Instant};

use admission::{SharedRateLimiter, SharedThrottle, Stage};
use drive::{Drive, Driver, Forward, Then};
pub use shared::{BulkheadStage, SharedBreaker, SharedBudget, SharedBulkhead, SharedRng};
use shared::{Held, Slots, View};
/// Why a call returned no value: the core's [`steadfast::pipeline::Error`]
/// itself (its [`Reason`](steadfast::pipeline::Reason), the attempts that ran,
/// the last attempt's own error). An MCU has no names to add to it.
pub use steadfast::pipeline::Error;
/// What the driver feeds the pipeline at one step: the core's.
pub use steadfast::pipeline::Input;
/// Watches one call's steps, events and end: the core's
/// [`steadfast::pipeline::Observer`]; `()` watches nothing.
pub use steadfast::pipeline::Observer;

/// A pipeline and the shared machines its calls use. `Copy`, `const`-built,
/// so it can be a `static` next to the machines it names.
///
/// `W` and `B`: the breaker's window and the budget type, as in
/// [`steadfast::pipeline::Shared`]; `S` and `Cfg` where the breaker keeps its
/// counters and reads its configuration; `K` the bulkhead
/// ([`BulkheadStage`]: `()`, none, or a `&`[`SharedBulkhead`]) and `A` the
/// gate ([`Stage`]: `()`, none, or a shared rate limiter or throttle), each a
/// type, so a policy without one links none of its code; the builders set
/// them. `P` is the pipeline ([`PipelineSource`]): a [`Pipeline`] the policy
/// holds (over a held `Backoff` or a
/// [`backoff::Fixed`](steadfast::backoff::Fixed) constant, [`Pipeline::fixed`]),
/// or a [`pipeline::Fixed`] constant named by a
/// type, whose every choice is known where the call's code is compiled.
///
/// ```
/// use embassy_sync::blocking_mutex::raw::NoopRawMutex;
/// use steadfast::pipeline::{self, Pipeline};
/// use steadfast_embassy::{Policy, SharedRng};
///
/// let rng: SharedRng<NoopRawMutex> = SharedRng::new(1);
/// let policy = Policy::new(Pipeline::new(pipeline::Config::DEFAULT)?, &rng);
/// assert_eq!(policy.pipeline().config().retry().max_attempts(), 3);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
pub struct Policy<
    'a,
    M: RawMutex,
    W: Window = Consecutive,
    K: BulkheadStage<M> = (),
    B: RetryBudget = Unlimited,
    S: StatsSlot = Stats,
    Cfg: ConfigSource = breaker::Config,
    A: Stage<M> = (),
    P: PipelineSource = Pipeline,
> {
    pipeline: P,
    rng: &'a SharedRng<M>,
    breaker: Option<&'a SharedBreaker<M, W, S, Cfg>>,
    bulkhead: K,
    budget: Option<&'a SharedBudget<M, B>>,
    gate: A,
}

impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
    P: PipelineSource,
> Clone for Policy<'_, M, W, K, B, S, Cfg, A, P>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
    P: PipelineSource,
> Copy for Policy<'_, M, W, K, B, S, Cfg, A, P>
{
}

impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
    P: PipelineSource,
> core::fmt::Debug for Policy<'_, M, W, K, B, S, Cfg, A, P>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Policy")
            .field("pipeline", &self.pipeline)
            .field("breaker", &self.breaker)
            .field("bulkhead", &self.bulkhead.debug())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "defmt")]
impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
    P: PipelineSource,
> defmt::Format for Policy<'_, M, W, K, B, S, Cfg, A, P>
where
    P: defmt::Format,
{
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Policy {{ pipeline: {}, breaker: {}, bulkhead: {} }}",
            self.pipeline,
            self.breaker,
            BulkheadField::<M, K>(&self.bulkhead, core::marker::PhantomData)
        );
    }
}

/// A policy's bulkhead as defmt writes it: `None`, or `Some` of the shared
/// bulkhead.
#[cfg(feature = "defmt")]
struct BulkheadField<'k, M: RawMutex, K: BulkheadStage<M>>(&'k K, core::marker::PhantomData<M>);

#[cfg(feature = "defmt")]
impl<M: RawMutex, K: BulkheadStage<M>> defmt::Format for BulkheadField<'_, M, K> {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.0.format_opt(f);
    }
}

impl<'a, M: RawMutex, P: PipelineSource>
    Policy<'a, M, Consecutive, (), Unlimited, Stats, breaker::Config, (), P>
{
    /// Retry and timeouts only; jitter drawn from `rng`. Add shared machines
    /// with the `with_*` builders.
    pub const fn new(pipeline: P, rng: &'a SharedRng<M>) -> Self {
        Self {
            pipeline,
            rng,
            breaker: None,
            bulkhead: (),
            budget: None,
            gate: (),
        }
    }
}

impl<
    'a,
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
    P: PipelineSource,
> Policy<'a, M, W, K, B, S, Cfg, A, P>
{
    /// With a breaker.
    #[must_use]
    pub const fn with_breaker<W2: Window, S2: StatsSlot, C2: ConfigSource>(
        self,
        breaker: &'a SharedBreaker<M, W2, S2, C2>,
    ) -> Policy<'a, M, W2, K, B, S2, C2, A, P> {
        Policy {
            pipeline: self.pipeline,
            rng: self.rng,
            breaker: Some(breaker),
            bulkhead: self.bulkhead,
            budget: self.budget,
            gate: self.gate,
        }
    }

    /// With a bulkhead (several policies may share one: two tasks on one bus):
    /// `K = &'a SharedBulkhead<M, Q2, BS2, BC2>`. This replaces a bulkhead.
    #[must_use]
    #[allow(clippy::type_complexity)] // its type names every parameter of the policy and the bulkhead
    pub const fn with_bulkhead<
        const Q2: usize,
        BS2: bulkhead::StatsSlot,
        BC2: bulkhead::ConfigSource,
    >(
        self,
        bulkhead: &'a SharedBulkhead<M, Q2, BS2, BC2>,
    ) -> Policy<'a, M, W, &'a SharedBulkhead<M, Q2, BS2, BC2>, B, S, Cfg, A, P> {
        Policy {
            pipeline: self.pipeline,
            rng: self.rng,
            breaker: self.breaker,
            bulkhead,
            budget: self.budget,
            gate: self.gate,
        }
    }

    /// With a retry budget.
    #[must_use]
    pub const fn with_budget<B2: RetryBudget>(
        self,
        budget: &'a SharedBudget<M, B2>,
    ) -> Policy<'a, M, W, K, B2, S, Cfg, A, P> {
        Policy {
            pipeline: self.pipeline,
            rng: self.rng,
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: Some(budget),
            gate: self.gate,
        }
    }

    /// With a rate limiter every attempt passes last, after the breaker and
    /// the bulkhead (the pipeline's [`Gate`](steadfast::pipeline::Gate)): an
    /// attempt over the rate does not run; the call waits for the limiter's
    /// `retry_at` when its total deadline leaves room for a whole attempt
    /// after it, and ends with [`Reason::RateLimited`](steadfast::pipeline::Reason::RateLimited)
    /// otherwise. A policy has one gate: this replaces a throttle.
    ///
    /// ```
    /// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
    /// use steadfast::breaker::{Config as BreakerConfig, Consecutive, Stats};
    /// use steadfast::pipeline::{self, Pipeline};
    /// use steadfast::ratelimit::{Config, RateLimiter};
    /// use steadfast::retry::Unlimited;
    /// use steadfast::valid;
    /// use steadfast_embassy::admission::SharedRateLimiter;
    /// use steadfast_embassy::{Policy, SharedRng};
    ///
    /// type Cs = CriticalSectionRawMutex;
    /// static RNG: SharedRng<Cs> = SharedRng::new(7);
    /// // At most 10 uplinks a minute, bursts of 3, each attempt counted.
    /// static UPLINK: SharedRateLimiter<Cs> =
    ///     SharedRateLimiter::new(valid!(RateLimiter::new(Config::per_minute(10).with_burst(3))));
    /// type Limited = Policy<'static, Cs, Consecutive, (), Unlimited, Stats, BreakerConfig, &'static SharedRateLimiter<Cs>>;
    /// static POLICY: Limited =
    ///     Policy::new(valid!(Pipeline::new(pipeline::Config::DEFAULT)), &RNG).with_rate_limiter(&UPLINK);
    /// # let _ = &POLICY;
    /// ```
    #[must_use]
    pub const fn with_rate_limiter(
        self,
        limiter: &'a SharedRateLimiter<M>,
    ) -> Policy<'a, M, W, K, B, S, Cfg, &'a SharedRateLimiter<M>, P> {
        self.with_gate(limiter)
    }

    /// With an adaptive throttle every attempt passes last, after the breaker
    /// and the bulkhead: while the dependency refuses work, attempts are
    /// refused locally and the call ends with
    /// [`Reason::Throttled`](steadfast::pipeline::Reason::Throttled); each
    /// attempt that ran counts as a request, accepted unless it failed or
    /// timed out. A policy has one gate: this replaces a rate limiter.
    #[must_use]
    pub const fn with_throttle<const N: usize>(
        self,
        throttle: &'a SharedThrottle<M, N>,
    ) -> Policy<'a, M, W, K, B, S, Cfg, &'a SharedThrottle<M, N>, P> {
        self.with_gate(throttle)
    }

    /// The same policy with `gate` as its pipeline's gate.
    const fn with_gate<A2: Stage<M>>(self, gate: A2) -> Policy<'a, M, W, K, B, S, Cfg, A2, P> {
        Policy {
            pipeline: self.pipeline,
            rng: self.rng,
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: self.budget,
            gate,
        }
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline<P::Delays> {
        self.pipeline.pipeline()
    }

    /// Runs `op` under the policy: `Err` results are failures, `Ok` successes.
    ///
    /// Cancel-safe: dropping the returned future at any point gives back every
    /// permit and queue place the call held.
    pub fn call<'s, T, E, F, Fut>(
        &'s self,
        op: F,
    ) -> impl Future<Output = Result<T, Error<E>>> + use<'a, 's, M, W, K, B, S, Cfg, A, P, T, E, F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Then::new(self.drive(&ErrorsFail, (), false, op), answered)
    }

    /// Runs `op` under the policy, with a classifier (which results fail, which
    /// retry, server hints) and an [`Observer`] of every step.
    pub fn call_with<'s, 'c, 'o, T, E, F, Fut, C, O>(
        &'s self,
        classify: &'c C,
        observer: &'o mut O,
        op: F,
    ) -> impl Future<Output = Result<T, Error<E>>>
    + use<'a, 's, 'c, 'o, M, W, K, B, S, Cfg, A, P, T, E, F, Fut, C, O>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E> + ?Sized,
        O: Observer + ?Sized,
    {
        Then::new(self.drive(classify, Forward(observer), false, op), answered)
    }

    /// Like [`call_with`](Self::call_with), answering with `fallback` when the
    /// pipeline ends in [`Finish::Fallback`] (which failures lead there is
    /// [`pipeline::Config::fallback`](steadfast::pipeline::Config::fallback)).
    /// The fallback runs after the pipeline has finished (no lock, slot or
    /// probe held) and sees the error the call would have returned; if it
    /// fails too, that error is returned.
    pub fn call_with_fallback<'s, 'c, 'o, T, E, F, Fut, C, O, G>(
        &'s self,
        classify: &'c C,
        observer: &'o mut O,
        fallback: G,
        op: F,
    ) -> impl Future<Output = Result<T, Error<E>>>
    + use<'a, 's, 'c, 'o, M, W, K, B, S, Cfg, A, P, T, E, F, Fut, C, O, G>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E> + ?Sized,
        O: Observer + ?Sized,
        G: FnOnce(&Error<E>) -> Result<T, E>,
    {
        Then::new(
            self.drive(classify, Forward(observer), true, op),
            move |(finish, last): (Finish, Option<Result<T, E>>)| match finish.answer(last) {
                Answer::Fallback(error) => fallback(&error).map_err(|_| error),
                other => other.into_result(),
            },
        )
    }

    /// Like [`call_with`](Self::call_with), with `cache` as the fallback for
    /// `key`: a fresh success is stored (at [`time::now`]) and answered with
    /// `stale: false`; when the pipeline ends in [`Finish::Fallback`] the
    /// key's last good value, if at most `max_age` old, is the answer
    /// (`stale: true`, with its age); otherwise the call's error is returned.
    /// A value the classifier does not call a success is answered, not
    /// stored. The pipeline is told the call has a fallback only when the
    /// key holds a servable value as the call starts. The future borrows
    /// `cache` until it ends.
    ///
    /// ```
    /// use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    /// use steadfast::cache::LastGood;
    /// use steadfast::outcome::ErrorsFail;
    /// use steadfast::time::Duration;
    /// use steadfast_embassy::{Policy, SharedBreaker};
    ///
    /// // A task reading sensor 7 through a policy with a breaker.
    /// # #[allow(dead_code)]
    /// async fn read_sensor(policy: Policy<'_, NoopRawMutex>, breaker: &SharedBreaker<NoopRawMutex>) {
    /// let mut readings: LastGood<u8, u16, 4> = LastGood::new();
    /// let max_age = Duration::from_secs(60);
    /// let fresh = policy.call_cached(&ErrorsFail, &mut (), &mut readings, max_age, 7, || async { Ok::<u16, ()>(215) }).await;
    /// assert!(!fresh.unwrap().stale);
    /// let _ = breaker.lock(|b| b.force_open(steadfast_embassy::time::now()));
    /// let served = policy.call_cached(&ErrorsFail, &mut (), &mut readings, max_age, 7, || async { Err(()) }).await;
    /// assert_eq!(served.unwrap().value, 215); // the last good reading, marked stale
    /// }
    /// ```
    pub fn call_cached<'s, 'c, 'o, 'k, T, E, F, Fut, C, O, Key, const N: usize>(
        &'s self,
        classify: &'c C,
        observer: &'o mut O,
        cache: &'k mut LastGood<Key, T, N>,
        max_age: Duration,
        key: Key,
        op: F,
    ) -> impl Future<Output = Result<Cached<T>, Error<E>>>
    + use<'a, 's, 'c, 'o, 'k, M, W, K, B, S, Cfg, A, P, T, E, F, Fut, C, O, Key, N>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E> + ?Sized,
        O: Observer + ?Sized,
        Key: PartialEq,
        T: Clone,
    {
        let has_fallback = cache.get(&key, time::now(), max_age).is_some();
        Then::new(
            self.drive(classify, Forward(observer), has_fallback, op),
            move |(finish, last): (Finish, Option<Result<T, E>>)| match settle(finish, last) {
                Settled::Fresh(value) => {
                    let _ = cache.store(key, value.clone(), time::now());
                    Ok(Cached::fresh(value))
                }
                Settled::Unstored(value) => Ok(Cached::fresh(value)),
                Settled::Fallback(error) => cache
                    .get(&key, time::now(), max_age)
                    .map(|served| served.map(T::clone))
                    .ok_or(error),
                Settled::Failed(error) => Err(error),
            },
        )
    }

    /// The future that runs the pipeline to its end and answers with
    /// [`Finish::answer`].
    #[allow(clippy::type_complexity)] // its type names every parameter of the policy and the call
    fn drive<'s, 'c, T, E, F, Fut, C, O>(
        &'s self,
        classify: &'c C,
        observer: O,
        has_fallback: bool,
        op: F,
    ) -> Driven<'s, 'c, M, W, K, B, S, Cfg, A, P, O, C, T, E, F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E> + ?Sized,
        O: Observer,
    {
        let now = time::now();
        Drive::new(
            Run {
                policy: Lent {
                    rng: self.rng,
                    breaker: self.breaker,
                    bulkhead: self.bulkhead,
                    budget: self.budget,
                    gate: self.gate,
                },
                call: Call::of(self.pipeline.handle(), now).with_fallback(has_fallback),
                start: Some(now),
                queued: None,
                observer,
            },
            classify,
            op,
        )
    }
}

/// A [`Policy`] over the lightest breaker, `Breaker<W, NoStats, Fixed<T>>`
/// (no counters; its configuration `T::CONFIG` a `const` read in flash): the
/// type to name a `static` one with. `K`, `B`, `A` and `P` are [`Policy`]'s
/// bulkhead, retry budget, gate and pipeline, with the same defaults (`K = ()`:
/// no bulkhead; with one, `K = &'a `[`SharedBulkhead`]`<M, Q, BS, BC>`; `P =
/// Pipeline`, or a [`pipeline::Fixed`] constant).
///
/// ```
/// use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
/// use steadfast::breaker::{Breaker, Config, ConstConfig, Consecutive, Fixed, NoStats};
/// use steadfast::pipeline::{self, Pipeline};
/// use steadfast_embassy::{FirmwarePolicy, Policy, SharedBreaker, SharedRng};
///
/// struct Modem;
/// impl ConstConfig for Modem {
///     const CONFIG: Config = Config::DEFAULT.with_failure_threshold(3);
/// }
/// static MODEM: SharedBreaker<Cs, Consecutive, NoStats, Fixed<Modem>> =
///     SharedBreaker::new(steadfast::valid!(Breaker::fixed()));
/// static RNG: SharedRng<Cs> = SharedRng::new(7);
/// static POLICY: FirmwarePolicy<'static, Cs, Consecutive, Modem> =
///     Policy::new(steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT)), &RNG).with_breaker(&MODEM);
/// # let _ = POLICY;
/// ```
pub type FirmwarePolicy<'a, M, W, T, K = (), B = Unlimited, A = (), P = Pipeline> =
    Policy<'a, M, W, K, B, NoStats, Fixed<T>, A, P>;

/// Where a [`Policy`] reads its pipeline: a [`Pipeline`] it holds (the
/// default), or a [`pipeline::Fixed`] constant named
/// by a type ([`ConstPipeline`]), which the
/// policy holds nothing of and whose every choice (order, timeouts, fallback,
/// attempts, backoff) is known where the call's code is compiled. Both run
/// every call alike. Sealed.
///
/// ```
/// use embassy_sync::blocking_mutex::raw::NoopRawMutex;
/// use steadfast::pipeline::{self, ConstPipeline, Pipeline};
/// use steadfast_embassy::{Policy, SharedRng};
///
/// struct Sensor;
/// impl ConstPipeline for Sensor {
///     type Delays = steadfast::backoff::Backoff;
///     const PIPELINE: &'static Pipeline = &steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT));
/// }
/// let rng: SharedRng<NoopRawMutex> = SharedRng::new(1);
/// let policy = Policy::new(pipeline::Fixed::<Sensor>::new(), &rng);
/// assert_eq!(policy.pipeline().config().retry().max_attempts(), 3);
/// ```
pub trait PipelineSource: sealed::Source {}

impl<D: Delays> PipelineSource for Pipeline<D> {}
impl<T: ConstPipeline> PipelineSource for pipeline::Fixed<T> {}

mod sealed {
    use core::ops::Deref;
    use steadfast::backoff::Delays;
    use steadfast::pipeline::{self, ConstPipeline, Pipeline};

    /// The source's machinery (keeps [`PipelineSource`](super::PipelineSource)
    /// sealed).
    pub trait Source: Copy + core::fmt::Debug {
        /// Where the pipeline reads its backoff.
        type Delays: Delays;
        /// What a call holds to reach the pipeline.
        type Handle<'a>: Deref<Target = Pipeline<Self::Delays>>
        where
            Self: 'a;
        /// The call's handle.
        fn handle(&self) -> Self::Handle<'_>;
        /// The pipeline.
        fn pipeline(&self) -> &Pipeline<Self::Delays>;
    }

    impl<D: Delays> Source for Pipeline<D> {
        type Delays = D;
        type Handle<'a>
            = &'a Self
        where
            Self: 'a;
        #[inline(always)]
        fn handle(&self) -> &Self {
            self
        }
        #[inline(always)]
        fn pipeline(&self) -> &Self {
            self
        }
    }

    impl<T: ConstPipeline> Source for pipeline::Fixed<T> {
        type Delays = T::Delays;
        type Handle<'a>
            = Self
        where
            Self: 'a;
        #[inline(always)]
        fn handle(&self) -> Self {
            *self
        }
        #[inline(always)]
        fn pipeline(&self) -> &Pipeline<T::Delays> {
            T::PIPELINE
        }
    }
}

/// The future of [`Policy::drive`]: a [`Run`] driven to its end.
type Driven<'s, 'c, M, W, K, B, S, Cfg, A, P, O, C, T, E, F, Fut> =
    Drive<'c, Run<'s, M, W, K, B, S, Cfg, A, O, P>, C, T, E, F, Fut>;

/// The caller's answer of a call without a fallback.
fn answered<T, E>((finish, last): (Finish, Option<Result<T, E>>)) -> Result<T, Error<E>> {
    finish.answer(last).into_result()
}

/// What a running call needs of its policy: the shared machines (the
/// pipeline itself is only needed to start the call), so a call's future does
/// not carry a copy of the policy.
struct Lent<
    'a,
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
> {
    rng: &'a SharedRng<M>,
    breaker: Option<&'a SharedBreaker<M, W, S, Cfg>>,
    bulkhead: K,
    budget: Option<&'a SharedBudget<M, B>>,
    gate: A,
}

impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
> Clone for Lent<'_, M, W, K, B, S, Cfg, A>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
> Copy for Lent<'_, M, W, K, B, S, Cfg, A>
{
}

impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
> Lent<'_, M, W, K, B, S, Cfg, A>
{
    /// Locks the shared machines (breaker, then bulkhead, then budget, then
    /// gate) and lends them to `f`, with the bulkhead's waker slots; `None`
    /// if one of them is already borrowed (a call driven from inside a
    /// `lock` of it).
    fn locked<R>(
        &self,
        f: impl FnOnce(
            &mut Shared<'_, Breaker<W, S, Cfg>, K::Pool, B, (), A::Gate>,
            Option<&mut K::Slots>,
        ) -> R,
    ) -> Option<R> {
        lock_opt(self.breaker.map(|b| &b.inner), |breaker| {
            self.bulkhead.lend(|bulkhead, waiters| {
                lock_opt(self.budget.map(|b| &b.inner), |budget| {
                    self.gate.lend(|gate| {
                        let mut shared = Shared {
                            breaker,
                            bulkhead,
                            budget,
                            observer: None,
                            gate,
                        };
                        Some(f(&mut shared, waiters))
                    })
                })
            })
        })
    }
}

/// Runs `f` on the machine behind an optional shared machine's lock; `None`
/// without running it if the machine is already lent out.
fn lock_opt<M: RawMutex, T: View<V>, V: Copy, R>(
    mutex: Option<&Mutex<M, Held<T, V>>>,
    f: impl FnOnce(Option<&mut T>) -> Option<R>,
) -> Option<R> {
    match mutex {
        Some(mutex) => mutex.lock(|held| held.lend(|machine| f(Some(machine))))?,
        None => f(None),
    }
}

/// Collects a step's events under the locks: marks the waiters that were
/// granted a slot and keeps their wakers, the events and the finish: wakers
/// and observer run after unlocking.
struct Collect<'w, 'o, L: Slots> {
    waiters: Option<&'w mut L>,
    /// The step's own: written in place, never moved out of the locks.
    out: &'o mut Collected,
}

/// What a step hands on once unlocked: the wakers of the waiters it granted
/// a slot, its events and the call's finish.
struct Collected {
    wake: [Option<Waker>; Events::CAPACITY],
    events: Events,
    finish: Option<Finish>,
}

impl<L: Slots> Observer for Collect<'_, '_, L> {
    fn on_event(&mut self, _now: Instant, event: &Event) {
        if let (Event::Granted(t), Some(w)) = (event, self.waiters.as_deref_mut())
            && let Some(waker) = w.grant(*t)
        {
            match self.out.wake.iter_mut().find(|slot| slot.is_none()) {
                Some(slot) => *slot = Some(waker),
                None => waker.wake(),
            }
        }
        self.out.events.push(*event);
    }

    fn on_finish(&mut self, _now: Instant, finish: &Finish) {
        self.out.finish = Some(*finish);
    }
}

/// One call in flight: the pipeline's `Call` and where it queues. Dropping it
/// before the call finished abandons the call under the locks.
struct Run<
    'a,
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
    O: Observer,
    P: PipelineSource + 'a,
> {
    policy: Lent<'a, M, W, K, B, S, Cfg, A>,
    call: Call<'a, P::Handle<'a>>,
    /// The instant the call started, for its first step (one clock read).
    start: Option<Instant>,
    /// The ticket whose waker slot this call holds.
    queued: Option<Ticket>,
    /// Hears every step, event and the finish, a cancelled call's included.
    observer: O,
}

impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
    O: Observer,
    P: PipelineSource,
> Driver for Run<'_, M, W, K, B, S, Cfg, A, O, P>
{
    /// Feeds `input` to the pipeline at `now` under the locks; after
    /// unlocking, wakes the waiters it granted slots to and reports step,
    /// events and finish to `observer`. `None`, with nothing fed, if a shared
    /// machine is already borrowed (a call driven from inside a `lock` of it).
    fn step(&mut self, input: Input) -> Option<Step> {
        let now = match self.start {
            Some(start) => start,
            None => time::now(),
        };
        let (policy, call, queued) = (self.policy, &mut self.call, &mut self.queued);
        let mut out = Collected {
            wake: [const { None }; Events::CAPACITY],
            events: Events::new(),
            finish: None,
        };
        let step = policy.locked(|shared, waiters| {
            let mut collected = Collect {
                waiters,
                out: &mut out,
            };
            let mut shared = Shared {
                breaker: shared.breaker.as_deref_mut(),
                bulkhead: shared.bulkhead.as_deref_mut(),
                budget: shared.budget.as_deref_mut(),
                observer: Some(&mut collected),
                gate: shared.gate.as_deref_mut(),
            };
            let step = policy
                .rng
                .inner
                .lock(|rng| rng.lend(|rng| call.handle(input, now, &mut shared, rng)))?;
            let ticket = match step {
                Step::Queued { ticket, .. } => Some(ticket),
                _ => None,
            };
            if let Some(w) = collected.waiters.as_deref_mut() {
                if let Some(old) = *queued
                    && Some(old) != ticket
                {
                    w.leave(old);
                }
                if let Some(t) = ticket {
                    w.enter(t);
                }
            }
            *queued = ticket;
            call.drain(now, &mut collected);
            Some(step)
        })??;
        self.start = None;
        out.wake
            .iter_mut()
            .filter_map(Option::take)
            .for_each(Waker::wake);
        let observer = &mut self.observer;
        observer.on_step(now, input, &step);
        while let Some(event) = out.events.pop() {
            log_event(now, &event);
            observer.on_event(now, &event);
        }
        if let Some(finish) = &out.finish {
            observer.on_finish(now, finish);
        }
        Some(step)
    }

    /// Ready once `timer` fires or the bulkhead has handed this call the
    /// slot of `ticket`.
    fn poll_queue(&self, ticket: Ticket, timer: &mut Timer, cx: &mut Context<'_>) -> Poll<()> {
        if Pin::new(timer).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        self.policy.bulkhead.poll_grant(ticket, cx)
    }
}

impl<
    M: RawMutex,
    W: Window,
    K: BulkheadStage<M>,
    B: RetryBudget,
    S: StatsSlot,
    Cfg: ConfigSource,
    A: Stage<M>,
    O: Observer,
    P: PipelineSource,
> Drop for Run<'_, M, W, K, B, S, Cfg, A, O, P>
{
    /// Abandons the call under the locks. A call dropped from inside a
    /// `lock` of one of its own machines cannot take them, and keeps what it
    /// held.
    fn drop(&mut self) {
        if !self.call.is_finished() {
            let _ = self.step(Input::Abandon);
        }
    }
}

/// Logs an event with defmt (transitions and retries at `info`, the rest at
/// `debug`); nothing without the `defmt` feature.
#[cfg_attr(not(feature = "defmt"), allow(unused_variables))]
fn log_event(now: Instant, event: &Event) {
    #[cfg(feature = "defmt")]
    match event {
        Event::Breaker(t) => defmt::info!(
            "steadfast: breaker {} -> {} at {} us",
            t.from(),
            t.to(),
            t.at().as_micros()
        ),
        Event::Retry { attempt, delay, .. } => defmt::info!(
            "steadfast: retry, attempt {} in {} us (at {} us)",
            attempt,
            delay.as_micros(),
            now.as_micros()
        ),
        other => defmt::debug!("steadfast: {} at {} us", other, now.as_micros()),
    }
}
