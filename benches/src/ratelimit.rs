//! Rate limiter rows: one GCRA check, steadfast's core machine against governor,
//! both reading the same injected microsecond clock (a shared cell the row
//! advances), with the same quota.

use std::cell::Cell;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::rc::Rc;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use steadfast::ratelimit::{Config, RateLimiter};
use steadfast::time::Instant;

use crate::{Op, Visitor, Who};

/// Every rate limiter row.
pub fn visit<V: Visitor>(v: &mut V) {
    v.visit::<SteadfastAdmitted>();
    v.visit::<GovernorAdmitted>();
    v.visit::<SteadfastRefused>();
    v.visit::<GovernorRefused>();
    v.visit::<Shared<SteadfastSharedLimiter>>();
    v.visit::<Shared<GovernorSharedLimiter>>();
}

const ADMITTED: &str = "ratelimit: check, admitted (1 000 000/s, burst 1 000, 1 µs apart)";
const REFUSED: &str = "ratelimit: check, refused (10/s, burst 1, clock still)";

/// A microsecond clock both contenders read.
#[derive(Clone, Debug, Default)]
pub struct SharedTick(Rc<Cell<u64>>);

impl SharedTick {
    #[inline(always)]
    fn advance(&self) {
        self.0.set(black_box(self.0.get() + 1));
    }
    #[inline(always)]
    fn micros(&self) -> u64 {
        black_box(self.0.get())
    }
}

impl Clock for SharedTick {
    type Instant = Nanos;
    #[inline(always)]
    fn now(&self) -> Nanos {
        Nanos::new(self.micros() * 1_000)
    }
}

type Governor = governor::RateLimiter<NotKeyed, InMemoryState, SharedTick, NoOpMiddleware<Nanos>>;

fn governor(per_second: u32, burst: u32, clock: SharedTick) -> Governor {
    let quota = governor::Quota::per_second(NonZeroU32::new(per_second).expect("non-zero"))
        .allow_burst(NonZeroU32::new(burst).expect("non-zero"));
    governor::RateLimiter::direct_with_clock(quota, clock)
}

fn steadfast(per_second: u32, burst: u32) -> RateLimiter {
    RateLimiter::new(Config::per_second(per_second).with_burst(burst)).expect("valid")
}

/// steadfast `RateLimiter` (`&mut`, one owner).
#[derive(Debug)]
pub struct SteadfastAdmitted(RateLimiter, SharedTick);
impl Op for SteadfastAdmitted {
    const GROUP: &'static str = ADMITTED;
    const NAME: &'static str = "steadfast RateLimiter";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        Self(steadfast(1_000_000, 1_000), SharedTick::default())
    }
    #[inline(always)]
    fn op(&mut self) {
        self.1.advance();
        let now = Instant::from_micros(self.1.micros());
        black_box(black_box(&mut self.0).check(now).is_ok());
    }
}

/// governor 0.10 direct limiter (`&self`, an atomic state).
#[derive(Debug)]
pub struct GovernorAdmitted(Governor, SharedTick);
impl Op for GovernorAdmitted {
    const GROUP: &'static str = ADMITTED;
    const NAME: &'static str = "governor 0.10";
    const WHO: Who = Who::Peer;
    fn new() -> Self {
        let clock = SharedTick::default();
        Self(governor(1_000_000, 1_000, clock.clone()), clock)
    }
    #[inline(always)]
    fn op(&mut self) {
        self.1.advance();
        black_box(black_box(&self.0).check().is_ok());
    }
}

/// steadfast `RateLimiter`, refusing (the refusal carries `retry_at`).
#[derive(Debug)]
pub struct SteadfastRefused(RateLimiter, SharedTick);
impl Op for SteadfastRefused {
    const GROUP: &'static str = REFUSED;
    const NAME: &'static str = "steadfast RateLimiter";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        let mut limiter = steadfast(10, 1);
        let clock = SharedTick::default();
        limiter
            .check(Instant::from_micros(clock.micros()))
            .expect("the first call is admitted");
        Self(limiter, clock)
    }
    #[inline(always)]
    fn op(&mut self) {
        let now = Instant::from_micros(self.1.micros());
        black_box(black_box(&mut self.0).check(now).err());
    }
}

/// governor 0.10, refusing (the refusal carries the earliest time).
#[derive(Debug)]
pub struct GovernorRefused(Governor);
impl Op for GovernorRefused {
    const GROUP: &'static str = REFUSED;
    const NAME: &'static str = "governor 0.10";
    const WHO: Who = Who::Peer;
    fn new() -> Self {
        let clock = SharedTick::default();
        let limiter = governor(10, 1, clock);
        limiter.check().expect("the first call is admitted");
        Self(limiter)
    }
    #[inline(always)]
    fn op(&mut self) {
        black_box(black_box(&self.0).check().err());
    }
}

/// One limiter shared by reference (`&self`) between threads, reading the std
/// monotonic clock itself, with a burst so large that every check is admitted.
pub trait SharedLimiter: Send + Sync + 'static {
    /// Its name in the table.
    const NAME: &'static str;
    /// Whose it is.
    const WHO: Who;
    /// 1 000 000 per second (the most steadfast takes), burst 4 000 000 000.
    fn new() -> Self;
    /// One check; whether it was admitted.
    fn check(&self) -> bool;
}

/// The quota of the shared rows: a burst that two threads checking as fast
/// as they can do not use up within a run.
const SHARED_RATE: u32 = 1_000_000;
const SHARED_BURST: u32 = 4_000_000_000;

/// steadfast-std `SharedRateLimiter::check` (the core machine behind a mutex,
/// steadfast-std's clock).
#[derive(Debug)]
pub struct SteadfastSharedLimiter(steadfast_std::ratelimit::SharedRateLimiter);
impl SharedLimiter for SteadfastSharedLimiter {
    const NAME: &'static str = "steadfast-std SharedRateLimiter";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        let config = Config::per_second(SHARED_RATE).with_burst(SHARED_BURST);
        Self(steadfast_std::ratelimit::SharedRateLimiter::new("bench", config).expect("valid"))
    }
    #[inline(always)]
    fn check(&self) -> bool {
        self.0.check().is_ok()
    }
}

type GovernorStd = governor::RateLimiter<
    NotKeyed,
    InMemoryState,
    governor::clock::MonotonicClock,
    NoOpMiddleware<std::time::Instant>,
>;

/// governor 0.10 direct limiter on its std clock (`MonotonicClock`, the std
/// `Instant`), not quanta: the same clock read as steadfast-std.
#[derive(Debug)]
pub struct GovernorSharedLimiter(GovernorStd);
impl SharedLimiter for GovernorSharedLimiter {
    const NAME: &'static str = "governor 0.10 (std clock)";
    const WHO: Who = Who::Peer;
    fn new() -> Self {
        let quota = governor::Quota::per_second(NonZeroU32::new(SHARED_RATE).expect("non-zero"))
            .allow_burst(NonZeroU32::new(SHARED_BURST).expect("non-zero"));
        Self(governor::RateLimiter::direct_with_clock(
            quota,
            governor::clock::MonotonicClock,
        ))
    }
    #[inline(always)]
    fn check(&self) -> bool {
        self.0.check().is_ok()
    }
}

/// A shared limiter checked from one thread.
#[derive(Debug)]
pub struct Shared<L>(L);
impl<L: SharedLimiter> Op for Shared<L> {
    const GROUP: &'static str = "ratelimit/shared (&self), check, admitted, 1 thread";
    const NAME: &'static str = L::NAME;
    const WHO: Who = L::WHO;
    fn new() -> Self {
        Self(L::new())
    }
    #[inline(always)]
    fn op(&mut self) {
        black_box(black_box(&self.0).check());
    }
}
