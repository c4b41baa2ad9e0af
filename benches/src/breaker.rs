//! Breaker rows: a closed call (acquire + record the call's result) and a
//! rejection while open, on the same detector for every contender.
//!
//! Like for like:
//!
//! * **Detector.** The consecutive rows trip after 5 failures in a row for
//!   everyone (recloser and tower-resilience have no consecutive mode: a count
//!   window of 5 at a 100 % failure rate is the same rule once 5 calls are held).
//!   The window rows judge the last 100 calls at 50 % for everyone.
//! * **Opaque results.** The call's result is `black_box(Ok(()))`: no contender
//!   can specialise its record path for a success it can see. What each returns
//!   (a permit, a rejection, a transition, a `Result`) goes into `black_box`.
//! * **Clock.** The injected-clock contenders (steadfast, reliakit, the floors)
//!   get a 1 µs tick per call, counted in the row. failsafe and recloser read
//!   `std::time::Instant` themselves when open (never when closed); the
//!   `+ std clock read` rows make steadfast and the floor pay that same read.

use std::hint::black_box;
use std::time::Duration as StdDuration;

use failsafe::CircuitBreaker as _;
use failsafe::backoff::Constant;
use failsafe::failure_policy::{ConsecutiveFailures, consecutive_failures};
use steadfast::breaker::{Breaker, Config, CountWindow};
use steadfast::outcome::Outcome;
use steadfast::time::{Duration, Instant};

use crate::floor::{FloorBreaker, FloorWindowBreaker};
use crate::{Op, Tick, Visitor, Who};

/// Every breaker row.
pub fn visit<V: Visitor>(v: &mut V) {
    v.visit::<Closed<SteadfastB>>();
    v.visit::<Closed<SteadfastNoStatsB>>();
    v.visit::<Closed<SteadfastClockB>>();
    v.visit::<Closed<FloorB>>();
    v.visit::<Closed<FailsafeB>>();
    v.visit::<Closed<RecloserB>>();
    v.visit::<Closed<ReliakitB>>();
    v.visit::<WindowClosed<SteadfastWindow>>();
    v.visit::<WindowClosed<FloorWindow>>();
    v.visit::<WindowClosed<RecloserWindow>>();
    v.visit::<WindowClosed<ReliakitRolling>>();
    v.visit::<Open<SteadfastB>>();
    v.visit::<Open<SteadfastNoStatsB>>();
    v.visit::<Open<SteadfastClockB>>();
    v.visit::<Open<FloorB>>();
    v.visit::<Open<FloorClockB>>();
    v.visit::<Open<FailsafeB>>();
    v.visit::<Open<RecloserB>>();
    v.visit::<Open<ReliakitB>>();
    v.visit::<Shared<SteadfastShared>>();
    v.visit::<Shared<FloorShared>>();
    v.visit::<Shared<FailsafeShared>>();
    v.visit::<Shared<RecloserShared>>();
    v.visit::<SharedWindow<SteadfastSharedWindow>>();
    v.visit::<SharedWindow<FloorSharedWindow>>();
    v.visit::<SharedWindow<RecloserSharedWindow>>();
    v.visit::<SharedWindowMixed<SteadfastSharedWindow>>();
    v.visit::<SharedWindowMixed<FloorSharedWindow>>();
    v.visit::<SharedWindowMixed<RecloserSharedWindow>>();
    v.visit::<SharedOpen<SteadfastShared>>();
    v.visit::<SharedOpen<FloorShared>>();
    v.visit::<SharedOpen<FailsafeShared>>();
    v.visit::<SharedOpen<RecloserShared>>();
}

/// Failures in a row that trip the consecutive breakers (steadfast's default, 5).
pub const THRESHOLD: u32 = 5;
/// An open period no benchmark outlasts (≈ 11.6 days).
pub const LONG_SECS: u64 = 1_000_000;
/// The count windows' length.
pub const WINDOW: usize = 100;
/// The count windows' failure rate that trips, percent.
pub const WINDOW_RATE_PERCENT: u8 = 50;

/// The error of a benchmarked call (never returned, but no contender knows that).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallError;

/// What every benchmarked call returns.
pub type CallResult = Result<(), CallError>;

/// The result every contender's call returns and records: `Ok(())`, through
/// `black_box` so that no contender sees it is always a success.
#[inline(always)]
pub fn call_result() -> CallResult {
    black_box(Ok(()))
}

/// steadfast's outcome for a call's result.
#[inline(always)]
fn outcome(result: CallResult) -> Outcome {
    match result {
        Ok(()) => Outcome::Success,
        Err(CallError) => Outcome::Failure,
    }
}

/// A breaker under test: admit a call, record its result; or be rejected.
pub trait Subject {
    /// Its name in the table.
    const NAME: &'static str;
    /// Whose it is.
    const WHO: Who;
    /// Closed, with the detector of its row group.
    fn closed() -> Self;
    /// Tripped open for [`LONG_SECS`].
    fn tripped() -> Self;
    /// Acquire and (if admitted) record `result`. Returns whether admitted.
    fn call(&mut self, result: CallResult) -> bool;
}

/// `breaker/closed`: acquire + record, consecutive detector.
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
        let admitted = black_box(&mut self.0).call(call_result());
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
        assert!(!s.call(Ok(())), "{} must reject when tripped", S::NAME);
        Self(s)
    }
    #[inline(always)]
    fn op(&mut self) {
        let admitted = black_box(&mut self.0).call(call_result());
        debug_assert!(!admitted);
        black_box(admitted);
    }
}

fn steadfast_config() -> Config {
    let long = Duration::from_secs(LONG_SECS);
    Config::new()
        .with_failure_threshold(THRESHOLD)
        .with_break_duration(long)
        .with_break_growth(1, long)
}

fn trip<W: steadfast::breaker::Window>(b: &mut Breaker<W>) {
    for _ in 0..=WINDOW {
        if let Ok(p) = b.try_acquire(Instant::ZERO) {
            let _ = b.record(p, Outcome::Failure, Instant::ZERO);
        }
    }
}

/// One steadfast call at `now`: acquire, record, everything returned into `black_box`.
#[inline(always)]
fn steadfast_call<
    W: steadfast::breaker::Window,
    S: steadfast::breaker::StatsSlot,
    C: steadfast::breaker::ConfigSource,
>(
    b: &mut Breaker<W, S, C>,
    result: CallResult,
    now: Instant,
) -> bool {
    match b.try_acquire(now) {
        Ok(permit) => {
            black_box(&b.record(permit, outcome(result), now));
            true
        }
        Err(rejected) => {
            black_box(rejected);
            false
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
        Self(Breaker::new(steadfast_config()).expect("valid"), Tick(0))
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        trip(&mut s.0);
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        let now = Instant::from_micros(self.1.advance());
        steadfast_call(&mut self.0, result, now)
    }
}

/// The breaker configuration of the no-counters rows, as a firmware declares it.
#[derive(Debug)]
pub struct BenchConfig;

impl steadfast::breaker::ConstConfig for BenchConfig {
    const CONFIG: Config = Config::DEFAULT
        .with_failure_threshold(THRESHOLD)
        .with_break_duration(Duration::from_secs(LONG_SECS))
        .with_break_growth(1, Duration::from_secs(LONG_SECS));
}

/// The firmware breaker: no counters (`NoStats`, as reliakit keeps none) and
/// its configuration a constant (`Fixed`); decides as [`SteadfastB`] does.
type FirmwareBreaker = Breaker<
    steadfast::breaker::Consecutive,
    steadfast::breaker::NoStats,
    steadfast::breaker::Fixed<BenchConfig>,
>;

/// steadfast without counters, injected clock (a 1 µs tick).
#[derive(Debug)]
pub struct SteadfastNoStatsB(FirmwareBreaker, Tick);
impl Subject for SteadfastNoStatsB {
    const NAME: &'static str = "steadfast, no counters (NoStats, Fixed config)";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        Self(FirmwareBreaker::fixed().expect("valid"), Tick(0))
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        for _ in 0..=WINDOW {
            if let Ok(p) = s.0.try_acquire(Instant::ZERO) {
                let _ = s.0.record(p, Outcome::Failure, Instant::ZERO);
            }
        }
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        let now = Instant::from_micros(self.1.advance());
        steadfast_call(&mut self.0, result, now)
    }
}

/// A `std::time::Instant` read as µs since `origin`: what an adapter pays per call.
#[inline(always)]
fn std_micros(origin: std::time::Instant) -> u64 {
    origin.elapsed().as_micros() as u64
}

/// The breaker configuration of the shared rows and the policy rows:
/// consecutive [`THRESHOLD`], an open period of [`LONG_SECS`].
pub fn shared_breaker_config() -> Config {
    steadfast_config()
}

/// steadfast, reading `std::time::Instant` per call as an adapter must.
#[derive(Debug)]
pub struct SteadfastClockB(Breaker, std::time::Instant);
impl Subject for SteadfastClockB {
    const NAME: &'static str = "steadfast + std clock read";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        Self(
            Breaker::new(steadfast_config()).expect("valid"),
            std::time::Instant::now(),
        )
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        trip(&mut s.0);
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        let now = Instant::from_micros(std_micros(self.1));
        steadfast_call(&mut self.0, result, now)
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
    fn call(&mut self, result: CallResult) -> bool {
        let now = self.1.advance();
        if self.0.try_acquire(now) {
            self.0.record(result.is_err(), now);
            true
        } else {
            false
        }
    }
}

/// The floor reading `std::time::Instant` per call, like failsafe and recloser when open.
#[derive(Debug)]
pub struct FloorClockB(FloorBreaker, std::time::Instant);
impl Subject for FloorClockB {
    const NAME: &'static str = "floor + std clock read";
    const WHO: Who = Who::Floor;
    fn closed() -> Self {
        Self(
            FloorBreaker::new(THRESHOLD, LONG_SECS * 1_000_000),
            std::time::Instant::now(),
        )
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        for _ in 0..THRESHOLD {
            s.0.record(true, 0);
        }
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        let now = std_micros(self.1);
        if self.0.try_acquire(now) {
            self.0.record(result.is_err(), now);
            true
        } else {
            false
        }
    }
}

type FailsafeMachine = failsafe::StateMachine<ConsecutiveFailures<Constant>, ()>;

fn failsafe_consecutive() -> FailsafeMachine {
    let backoff = failsafe::backoff::constant(StdDuration::from_secs(LONG_SECS));
    let policy = consecutive_failures(THRESHOLD, backoff);
    failsafe::Config::new().failure_policy(policy).build()
}

/// failsafe: `call(|| result)` (a `parking_lot` mutex; reads the clock when open).
#[derive(Debug)]
pub struct FailsafeB(FailsafeMachine);
impl Subject for FailsafeB {
    const NAME: &'static str = "failsafe 1.3";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(failsafe_consecutive())
    }
    fn tripped() -> Self {
        let s = Self::closed();
        for _ in 0..THRESHOLD {
            let _ = s.0.call(|| Err::<(), CallError>(CallError));
        }
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        let out = black_box(&self.0).call(|| result);
        let admitted = !matches!(out, Err(failsafe::Error::Rejected));
        let _ = black_box(out);
        admitted
    }
}

/// reliakit: `allow(now)` then `on_success()` / `on_failure(now)` (time injected, like steadfast).
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
    fn call(&mut self, result: CallResult) -> bool {
        let now = self.1.advance();
        if self.0.allow(now) {
            match result {
                Ok(()) => self.0.on_success(),
                Err(CallError) => self.0.on_failure(now),
            }
            true
        } else {
            false
        }
    }
}

/// recloser as a consecutive-5 breaker: a ring of 5 that trips at a 100 %
/// failure rate (5 failures in a row).
fn recloser_consecutive() -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(1.0)
        .closed_len(THRESHOLD as usize)
        .open_wait(StdDuration::from_secs(LONG_SECS))
        .build()
}

/// recloser over the last [`WINDOW`] calls at 50 %.
fn recloser_window() -> recloser::Recloser {
    recloser::Recloser::custom()
        .error_rate(f32::from(WINDOW_RATE_PERCENT) / 100.0)
        .closed_len(WINDOW)
        .open_wait(StdDuration::from_secs(LONG_SECS))
        .build()
}

/// One recloser call: `call(|| result)`, its `Result` into `black_box`.
#[inline(always)]
fn recloser_call(r: &recloser::Recloser, result: CallResult) -> bool {
    let out = black_box(r).call(|| result);
    let admitted = !matches!(out, Err(recloser::Error::Rejected));
    let _ = black_box(out);
    admitted
}

/// recloser: `call(|| result)` (crossbeam-epoch atomics; reads the clock when open).
#[derive(Debug)]
pub struct RecloserB(recloser::Recloser);
impl Subject for RecloserB {
    const NAME: &'static str = "recloser 1.4 (ring of 5 at 100 %)";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(recloser_consecutive())
    }
    fn tripped() -> Self {
        let s = Self::closed();
        // recloser judges only once its ring is full: THRESHOLD + 1 outcomes.
        for _ in 0..=THRESHOLD {
            let _ = s.0.call(|| Err::<(), CallError>(CallError));
        }
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        recloser_call(&self.0, result)
    }
}

// ---- count windows (the last 100 calls, trip at 50 % failures) ---------------------------

/// `breaker/closed (count window)`: acquire + record on a 100-call window.
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
        let admitted = black_box(&mut self.0).call(call_result());
        debug_assert!(admitted);
        black_box(admitted);
    }
}

/// steadfast `CountWindow<100, 2>` (failed + slow bitsets), judged from 100 calls on.
#[derive(Debug)]
pub struct SteadfastWindow(Breaker<CountWindow<WINDOW, 2>>, Tick);
impl Subject for SteadfastWindow {
    const NAME: &'static str = "steadfast CountWindow<100, 2>";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        let config = steadfast_config()
            .with_minimum_calls(WINDOW as u32)
            .with_failure_rate_percent(WINDOW_RATE_PERCENT);
        Self(Breaker::new(config).expect("valid"), Tick(0))
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        trip(&mut s.0);
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        let now = Instant::from_micros(self.1.advance());
        steadfast_call(&mut self.0, result, now)
    }
}

/// The floor: a 128-bit ring of the last 100 results and a failure count.
#[derive(Debug)]
pub struct FloorWindow(FloorWindowBreaker, Tick);
impl Subject for FloorWindow {
    const NAME: &'static str = "floor (u128 ring + count)";
    const WHO: Who = Who::Floor;
    fn closed() -> Self {
        Self(
            FloorWindowBreaker::new(
                WINDOW as u32,
                u32::from(WINDOW_RATE_PERCENT),
                LONG_SECS * 1_000_000,
            ),
            Tick(0),
        )
    }
    fn tripped() -> Self {
        let mut s = Self::closed();
        for _ in 0..WINDOW {
            s.0.record(true, 0);
        }
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        let now = self.1.advance();
        if self.0.try_acquire(now) {
            self.0.record(result.is_err(), now);
            true
        } else {
            false
        }
    }
}

/// recloser `closed_len(100)`, `error_rate(0.5)`.
#[derive(Debug)]
pub struct RecloserWindow(recloser::Recloser);
impl Subject for RecloserWindow {
    const NAME: &'static str = "recloser 1.4";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(recloser_window())
    }
    fn tripped() -> Self {
        let s = Self::closed();
        for _ in 0..=WINDOW {
            let _ = s.0.call(|| Err::<(), CallError>(CallError));
        }
        s
    }
    #[inline(always)]
    fn call(&mut self, result: CallResult) -> bool {
        recloser_call(&self.0, result)
    }
}

/// reliakit `RollingBreaker<100>` (a `[bool; 100]` ring), tripping at 50 failures.
#[derive(Debug)]
pub struct ReliakitRolling(reliakit::circuit::RollingBreaker<WINDOW>, Tick);
impl Subject for ReliakitRolling {
    const NAME: &'static str = "reliakit 1.1 RollingBreaker<100>";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        let failures = WINDOW as u32 * u32::from(WINDOW_RATE_PERCENT) / 100;
        Self(
            reliakit::circuit::RollingBreaker::new(failures, LONG_SECS * 1_000_000),
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
    fn call(&mut self, result: CallResult) -> bool {
        let now = self.1.advance();
        if self.0.allow(now) {
            match result {
                Ok(()) => self.0.on_success(),
                Err(CallError) => self.0.on_failure(now),
            }
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
        black_box(black_box(&self.0).call(call_result()));
    }
}

/// `breaker/shared open`: a call refused by an open breaker shared by
/// reference, tripped by [`THRESHOLD`] failures (each contender reads the
/// clock once to know it is still open).
#[derive(Debug)]
pub struct SharedOpen<S>(S);
impl<S: SharedSubject> Op for SharedOpen<S> {
    const GROUP: &'static str = "breaker/shared (&self), open call, 1 thread";
    const NAME: &'static str = S::NAME;
    const WHO: Who = S::WHO;
    fn new() -> Self {
        let s = S::closed();
        // THRESHOLD failures trip the consecutive breakers; recloser judges
        // once its ring is full, at THRESHOLD + 1 outcomes.
        for _ in 0..=THRESHOLD {
            let _ = s.call(Err(CallError));
        }
        assert!(!s.call(Ok(())), "{} must reject when tripped", S::NAME);
        Self(s)
    }
    #[inline(always)]
    fn op(&mut self) {
        let admitted = black_box(&self.0).call(call_result());
        debug_assert!(!admitted);
        black_box(admitted);
    }
}

/// A breaker usable from many threads at once through `&self`.
pub trait SharedSubject: Send + Sync + 'static {
    /// Its name in the table.
    const NAME: &'static str;
    /// Whose it is.
    const WHO: Who;
    /// Closed, consecutive-5 detection (or its equivalent).
    fn closed() -> Self;
    /// One call `|| result`, everything it returns into `black_box`; whether it was admitted.
    fn call(&self, result: CallResult) -> bool;
}

/// steadfast-std `SharedBreaker::call` (reads the clock itself).
#[derive(Debug)]
pub struct SteadfastShared(steadfast_std::SharedBreaker);
impl SharedSubject for SteadfastShared {
    const NAME: &'static str = "steadfast-std SharedBreaker";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        Self(steadfast_std::SharedBreaker::new("bench", steadfast_config()).expect("valid"))
    }
    #[inline(always)]
    fn call(&self, result: CallResult) -> bool {
        let out = self.0.call(|| result);
        let admitted = !matches!(
            &out,
            Err(e) if matches!(e.reason(), steadfast::pipeline::Reason::BreakerOpen { .. })
        );
        let _ = black_box(out);
        admitted
    }
}

/// failsafe's `StateMachine` is already shared (`Arc` + mutex inside).
#[derive(Debug)]
pub struct FailsafeShared(FailsafeMachine);
impl SharedSubject for FailsafeShared {
    const NAME: &'static str = "failsafe 1.3";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(failsafe_consecutive())
    }
    #[inline(always)]
    fn call(&self, result: CallResult) -> bool {
        let out = self.0.call(|| result);
        let admitted = !matches!(out, Err(failsafe::Error::Rejected));
        let _ = black_box(out);
        admitted
    }
}

/// recloser is lock-free and shared (`&self`).
#[derive(Debug)]
pub struct RecloserShared(recloser::Recloser);
impl SharedSubject for RecloserShared {
    const NAME: &'static str = "recloser 1.4 (ring of 5 at 100 %)";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(recloser_consecutive())
    }
    #[inline(always)]
    fn call(&self, result: CallResult) -> bool {
        recloser_call(&self.0, result)
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
    fn call(&self, result: CallResult) -> bool {
        let now = self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut b = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if b.try_acquire(now) {
            b.record(result.is_err(), now);
            true
        } else {
            false
        }
    }
}

// ---- shared count windows (the last 100 calls at 50 %), one thread ----------------------

/// `breaker/shared (window)`: a closed call through a count-window breaker
/// shared by reference.
#[derive(Debug)]
pub struct SharedWindow<S>(S);
impl<S: SharedSubject> Op for SharedWindow<S> {
    const GROUP: &'static str =
        "breaker/shared (&self), closed call, window of 100 (50 %), 1 thread";
    const NAME: &'static str = S::NAME;
    const WHO: Who = S::WHO;
    fn new() -> Self {
        Self(S::closed())
    }
    #[inline(always)]
    fn op(&mut self) {
        black_box(black_box(&self.0).call(call_result()));
    }
}

/// A failure in every [`MIXED_EVERY`] calls, which no 50 % window trips on.
pub const MIXED_EVERY: u32 = 50;

/// `breaker/shared (window, mixed)`: the count-window breakers of
/// [`SharedWindow`] fed one failure in every [`MIXED_EVERY`] calls, the same
/// sequence for every contender, each result through `black_box`.
#[derive(Debug)]
pub struct SharedWindowMixed<S>(S, u32);
impl<S: SharedSubject> Op for SharedWindowMixed<S> {
    const GROUP: &'static str =
        "breaker/shared (&self), closed call, window of 100 (50 %), 1 failure in 50, 1 thread";
    const NAME: &'static str = S::NAME;
    const WHO: Who = S::WHO;
    fn new() -> Self {
        Self(S::closed(), 0)
    }
    #[inline(always)]
    fn op(&mut self) {
        self.1 += 1;
        let result = if self.1 == MIXED_EVERY {
            self.1 = 0;
            black_box(Err(CallError))
        } else {
            call_result()
        };
        black_box(black_box(&self.0).call(result));
    }
}

/// steadfast-std `SharedBreaker::with_count_window(.., 100)`, 100 minimum calls,
/// 50 % (reads the std clock itself).
#[derive(Debug)]
pub struct SteadfastSharedWindow(SteadfastShared);
impl SharedSubject for SteadfastSharedWindow {
    const NAME: &'static str = "steadfast-std SharedBreaker (count window)";
    const WHO: Who = Who::Steadfast;
    fn closed() -> Self {
        let config = steadfast_config()
            .with_minimum_calls(WINDOW as u32)
            .with_failure_rate_percent(WINDOW_RATE_PERCENT);
        Self(SteadfastShared(
            steadfast_std::SharedBreaker::with_count_window("bench", config, WINDOW)
                .expect("valid"),
        ))
    }
    #[inline(always)]
    fn call(&self, result: CallResult) -> bool {
        self.0.call(result)
    }
}

/// recloser `closed_len(100)`, `error_rate(0.5)`, shared (`&self`).
#[derive(Debug)]
pub struct RecloserSharedWindow(recloser::Recloser);
impl SharedSubject for RecloserSharedWindow {
    const NAME: &'static str = "recloser 1.4";
    const WHO: Who = Who::Peer;
    fn closed() -> Self {
        Self(recloser_window())
    }
    #[inline(always)]
    fn call(&self, result: CallResult) -> bool {
        recloser_call(&self.0, result)
    }
}

/// The floor: the `u128` ring behind a `std::sync::Mutex`, an `AtomicU64` tick.
#[derive(Debug)]
pub struct FloorSharedWindow(
    std::sync::Mutex<FloorWindowBreaker>,
    std::sync::atomic::AtomicU64,
);
impl SharedSubject for FloorSharedWindow {
    const NAME: &'static str = "floor (Mutex<u128 ring + count>)";
    const WHO: Who = Who::Floor;
    fn closed() -> Self {
        Self(
            std::sync::Mutex::new(FloorWindowBreaker::new(
                WINDOW as u32,
                u32::from(WINDOW_RATE_PERCENT),
                LONG_SECS * 1_000_000,
            )),
            std::sync::atomic::AtomicU64::new(0),
        )
    }
    #[inline(always)]
    fn call(&self, result: CallResult) -> bool {
        let now = self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut b = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if b.try_acquire(now) {
            b.record(result.is_err(), now);
            true
        } else {
            false
        }
    }
}
