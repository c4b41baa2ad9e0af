//! Breaker rows: a closed call (acquire + record a success) and a rejection while open.
//!
//! Inputs: the injected-clock contenders get a 1 µs tick per call; the peers that
//! own a clock read `std::time::Instant` themselves (failsafe and recloser when
//! open, recloser never when closed). `steadfast + std clock` pays the same clock
//! read so that difference is visible, not hidden.

use std::hint::black_box;
use std::time::Duration as StdDuration;

use failsafe::CircuitBreaker as _;
use failsafe::backoff::Constant;
use failsafe::failure_policy::{ConsecutiveFailures, consecutive_failures};
use steadfast::breaker::{Breaker, Config, CountWindow};
use steadfast::outcome::Outcome;
use steadfast::time::{Duration, Instant};

use crate::floor::FloorBreaker;
use crate::{Op, Tick, Visitor, Who};

/// Every breaker row.
pub fn visit<V: Visitor>(v: &mut V) {
    v.visit::<Closed<SteadfastB>>();
    v.visit::<Closed<SteadfastClockB>>();
    v.visit::<Closed<FloorB>>();
    v.visit::<Closed<FailsafeB>>();
    v.visit::<Closed<ReliakitB>>();
    v.visit::<WindowClosed<SteadfastWindow>>();
    v.visit::<WindowClosed<RecloserB>>();
    v.visit::<WindowClosed<ReliakitRolling>>();
    v.visit::<Open<SteadfastB>>();
    v.visit::<Open<SteadfastClockB>>();
    v.visit::<Open<FloorB>>();
    v.visit::<Open<FailsafeB>>();
    v.visit::<Open<RecloserB>>();
    v.visit::<Open<ReliakitB>>();
    v.visit::<Shared<SteadfastShared>>();
    v.visit::<Shared<FloorShared>>();
    v.visit::<Shared<FailsafeShared>>();
    v.visit::<Shared<RecloserShared>>();
}

/// Failures in a row that trip the consecutive breakers (steadfast's default, 5).
const THRESHOLD: u32 = 5;
/// An open period no benchmark outlasts (≈ 11.6 days).
const LONG_SECS: u64 = 1_000_000;

/// A breaker under test: admit a call, report a success; or be rejected.
pub trait Subject {
    /// Its name in the table.
    const NAME: &'static str;
    /// Whose it is.
    const WHO: Who;
    /// Closed, consecutive-failure detection with [`THRESHOLD`].
    fn closed() -> Self;
    /// Tripped open for [`LONG_SECS`].
    fn tripped() -> Self;
    /// Acquire and (if admitted) record a success. Returns whether admitted.
    fn call(&mut self) -> bool;
}

/// `breaker/closed`: acquire + record success, consecutive detector.
#[derive(Debug)]
pub struct Closed<S>(S);
impl<S: Subject> Op for Closed<S> {
    const GROUP: &'static str = "breaker/closed: acquire+record (consecutive 5)";
    const NAME: &'static str = S::NAME;
    const WHO: Who = S::WHO;
    fn new() -> Self {
        Self(S::closed())
    }
    #[inline(always)]
    fn op(&mut self) {
        let admitted = black_box(&mut self.0).call();
        debug_assert!(admitted);
        black_box(admitted);
    }
}

/// `breaker/open`: a call rejected while open.
#[derive(Debug)]
pub struct Open<S>(S);
impl<S: Subject> Op for Open<S> {
    const GROUP: &'static str = "breaker/open: rejection";
    const NAME: &'static str = S::NAME;
    const WHO: Who = S::WHO;
    fn new() -> Self {
        let mut s = S::tripped();
        assert!(!s.call(), "{} must reject when tripped", S::NAME);
        Self(s)
    }
    #[inline(always)]
    fn op(&mut self) {
        let admitted = black_box(&mut self.0).call();
        debug_assert!(!admitted);
        black_box(admitted);
    }
}

fn steadfast_config(threshold: u32) -> Config {
    let long = Duration::from_secs(LONG_SECS);
    Config::new()
        .with_failure_threshold(threshold)
        .with_break_duration(long)
        .with_break_growth(1, long)
}

fn trip<W: steadfast::breaker::Window>(b: &mut Breaker<W>) {
    for _ in 0..100 {
        if let Ok(p) = b.try_acquire(Instant::ZERO) {
            let _ = b.record(p, Outcome::Failure, Instant::ZERO);
        }
    }
}

/// steadfast, injected clock (a 1 µs tick).
#[derive(Debug)]
pub struct SteadfastB(Breaker, Tick);
impl Subject for SteadfastB {
    const NAME: &'static str = "steadfast";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        Self(
            Breaker::new(steadfast_config(THRESHOLD)).expect("valid"),
            Tick(0),
        )
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        trip(&mut s.0);
        s
    }
    #[inline(always)]
    fn call(&mut self) -> bool {
        let now = Instant::from_micros(self.1.advance());
        match self.0.try_acquire(now) {
            Ok(p) => {
                black_box(self.0.record(p, Outcome::Success, now).is_some());
                true
            }
            Err(rejected) => {
                black_box(rejected.retry_at.is_some());
                false
            }
        }
    }
}

/// steadfast, reading `std::time::Instant` per call as an adapter must.
#[derive(Debug)]
pub struct SteadfastClockB(Breaker, std::time::Instant);
impl SteadfastClockB {
    #[inline(always)]
    fn now(&self) -> Instant {
        Instant::from_micros(self.1.elapsed().as_micros() as u64)
    }
}
impl Subject for SteadfastClockB {
    const NAME: &'static str = "steadfast + std clock read";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        Self(
            Breaker::new(steadfast_config(THRESHOLD)).expect("valid"),
            std::time::Instant::now(),
        )
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        trip(&mut s.0);
        s
    }
    #[inline(always)]
    fn call(&mut self) -> bool {
        let now = self.now();
        match self.0.try_acquire(now) {
            Ok(p) => {
                black_box(self.0.record(p, Outcome::Success, now).is_some());
                true
            }
            Err(rejected) => {
                black_box(rejected.retry_at.is_some());
                false
            }
        }
    }
}

/// The floor: enum + counter.
#[derive(Debug)]
pub struct FloorB(FloorBreaker, Tick);
impl Subject for FloorB {
    const NAME: &'static str = "floor (enum + counter)";
    const WHO: Who = Who::Floor;
    fn closed() -> Self {
        Self(FloorBreaker::new(THRESHOLD, LONG_SECS * 1_000_000), Tick(0))
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        for _ in 0..THRESHOLD {
            s.0.record(true, 0);
        }
        s
    }
    #[inline(always)]
    fn call(&mut self) -> bool {
        let now = self.1.advance();
        if self.0.try_acquire(now) {
            self.0.record(false, now);
            true
        } else {
            false
        }
    }
}

type FailsafeMachine = failsafe::StateMachine<ConsecutiveFailures<Constant>, ()>;

/// failsafe: `call(|| Ok(()))` (a `parking_lot` mutex; reads the clock when open).
#[derive(Debug)]
pub struct FailsafeB(FailsafeMachine);
impl Subject for FailsafeB {
    const NAME: &'static str = "failsafe 1.3";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        let backoff = failsafe::backoff::constant(StdDuration::from_secs(LONG_SECS));
        let policy = consecutive_failures(THRESHOLD, backoff);
        Self(failsafe::Config::new().failure_policy(policy).build())
    }
    fn tripped() -> Self {
        let s = Self::closed();
        for _ in 0..THRESHOLD {
            let _ = s.0.call(|| Err::<(), ()>(()));
        }
        s
    }
    #[inline(always)]
    fn call(&mut self) -> bool {
        black_box(&self.0).call(|| Ok::<(), ()>(())).is_ok()
    }
}

/// reliakit: `allow(now)` then `on_success()` (time injected, like steadfast).
#[derive(Debug)]
pub struct ReliakitB(reliakit::circuit::CircuitBreaker, Tick);
impl Subject for ReliakitB {
    const NAME: &'static str = "reliakit 1.1";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(
            reliakit::circuit::CircuitBreaker::new(THRESHOLD, LONG_SECS * 1_000_000),
            Tick(0),
        )
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        for _ in 0..THRESHOLD {
            s.0.on_failure(0);
        }
        s
    }
    #[inline(always)]
    fn call(&mut self) -> bool {
        let now = self.1.advance();
        if self.0.allow(now) {
            self.0.on_success();
            true
        } else {
            false
        }
    }
}

/// recloser: `call(|| Ok(()))` (crossbeam-epoch atomics; count ring; reads the clock when open).
#[derive(Debug)]
pub struct RecloserB(recloser::Recloser);
impl Subject for RecloserB {
    const NAME: &'static str = "recloser 1.4";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(
            recloser::Recloser::custom()
                .error_rate(0.5)
                .closed_len(WINDOW)
                .open_wait(StdDuration::from_secs(LONG_SECS))
                .build(),
        )
    }
    fn tripped() -> Self {
        let s = Self::closed();
        // recloser judges only once its ring is full: WINDOW + 1 outcomes.
        for _ in 0..=WINDOW {
            let _ = s.0.call(|| Err::<(), ()>(()));
        }
        s
    }
    #[inline(always)]
    fn call(&mut self) -> bool {
        black_box(&self.0).call(|| Ok::<(), ()>(())).is_ok()
    }
}

// ---- count windows (100 outcomes, trip at 50 % failures) --------------------------------

const WINDOW: usize = 100;

/// `breaker/closed (count window)`: acquire + record success on a 100-outcome window.
#[derive(Debug)]
pub struct WindowClosed<S>(S);
impl<S: Subject> Op for WindowClosed<S> {
    const GROUP: &'static str = "breaker/closed: acquire+record (window of 100, 50 %)";
    const NAME: &'static str = S::NAME;
    const WHO: Who = S::WHO;
    fn new() -> Self {
        Self(S::closed())
    }
    #[inline(always)]
    fn op(&mut self) {
        black_box(black_box(&mut self.0).call());
    }
}

/// steadfast `CountWindow<100, 2>` (a 128-bit outcome bitset).
#[derive(Debug)]
pub struct SteadfastWindow(Breaker<CountWindow<WINDOW, 2>>, Tick);
impl Subject for SteadfastWindow {
    const NAME: &'static str = "steadfast CountWindow<100, 2>";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        let config = steadfast_config(THRESHOLD)
            .with_minimum_calls(WINDOW as u32)
            .with_failure_rate_percent(50);
        Self(Breaker::new(config).expect("valid"), Tick(0))
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        trip(&mut s.0);
        s
    }
    #[inline(always)]
    fn call(&mut self) -> bool {
        let now = Instant::from_micros(self.1.advance());
        match self.0.try_acquire(now) {
            Ok(p) => {
                black_box(self.0.record(p, Outcome::Success, now).is_some());
                true
            }
            Err(_) => false,
        }
    }
}

/// reliakit `RollingBreaker<100>` (a `[bool; 100]` ring).
#[derive(Debug)]
pub struct ReliakitRolling(reliakit::circuit::RollingBreaker<WINDOW>, Tick);
impl Subject for ReliakitRolling {
    const NAME: &'static str = "reliakit 1.1 RollingBreaker<100>";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(
            reliakit::circuit::RollingBreaker::new(WINDOW as u32 / 2, LONG_SECS * 1_000_000),
            Tick(0),
        )
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        for _ in 0..WINDOW {
            s.0.on_failure(0);
        }
        s
    }
    #[inline(always)]
    fn call(&mut self) -> bool {
        let now = self.1.advance();
        if self.0.allow(now) {
            self.0.on_success();
            true
        } else {
            false
        }
    }
}

// ---- shared breakers (std adapter), one thread; the 2-thread rows are in benches/compare.rs ----

/// `breaker/shared`: a closed call through a breaker shared by reference (`&self`).
#[derive(Debug)]
pub struct Shared<S>(S);
impl<S: SharedSubject> Op for Shared<S> {
    const GROUP: &'static str = "breaker/shared (&self), closed call, 1 thread";
    const NAME: &'static str = S::NAME;
    const WHO: Who = S::WHO;
    fn new() -> Self {
        Self(S::closed())
    }
    #[inline(always)]
    fn op(&mut self) {
        black_box(black_box(&self.0).call());
    }
}

/// A breaker usable from many threads at once through `&self`.
pub trait SharedSubject: Send + Sync + 'static {
    /// Its name in the table.
    const NAME: &'static str;
    /// Whose it is.
    const WHO: Who;
    /// Closed, consecutive detection where the crate has it.
    fn closed() -> Self;
    /// One closed call `|| Ok(())`; whether it was admitted.
    fn call(&self) -> bool;
}

/// steadfast-std `SharedBreaker::call` (reads the clock itself).
#[derive(Debug)]
pub struct SteadfastShared(steadfast_std::SharedBreaker);
impl SharedSubject for SteadfastShared {
    const NAME: &'static str = "steadfast-std SharedBreaker";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        Self(
            steadfast_std::SharedBreaker::new("bench", steadfast_config(THRESHOLD)).expect("valid"),
        )
    }
    #[inline(always)]
    fn call(&self) -> bool {
        self.0.call(|| Ok::<(), ()>(())).is_ok()
    }
}

/// failsafe's `StateMachine` is already shared (`Arc` + mutex inside).
#[derive(Debug)]
pub struct FailsafeShared(FailsafeMachine);
impl SharedSubject for FailsafeShared {
    const NAME: &'static str = "failsafe 1.3";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(FailsafeB::closed().0)
    }
    #[inline(always)]
    fn call(&self) -> bool {
        self.0.call(|| Ok::<(), ()>(())).is_ok()
    }
}

/// recloser is lock-free and shared (`&self`).
#[derive(Debug)]
pub struct RecloserShared(recloser::Recloser);
impl SharedSubject for RecloserShared {
    const NAME: &'static str = "recloser 1.4";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(RecloserB::closed().0)
    }
    #[inline(always)]
    fn call(&self) -> bool {
        self.0.call(|| Ok::<(), ()>(())).is_ok()
    }
}

/// The floor for sharing: the enum + counter breaker behind a `std::sync::Mutex`.
#[derive(Debug)]
pub struct FloorShared(std::sync::Mutex<FloorBreaker>, std::sync::atomic::AtomicU64);
impl SharedSubject for FloorShared {
    const NAME: &'static str = "floor (Mutex<enum + counter>)";
    const WHO: Who = Who::Floor;
    fn closed() -> Self {
        Self(
            std::sync::Mutex::new(FloorBreaker::new(THRESHOLD, LONG_SECS * 1_000_000)),
            std::sync::atomic::AtomicU64::new(0),
        )
    }
    #[inline(always)]
    fn call(&self) -> bool {
        let now = self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut b = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if b.try_acquire(now) {
            b.record(false, now);
            true
        } else {
            false
        }
    }
}
