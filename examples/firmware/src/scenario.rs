//! The scenario: the one place where the firmware drives steadfast.
//!
//! A task polls a flaky I2C temperature sensor every [`PERIOD`]; the sensor NAKs
//! through an outage from 100 ms to 200 ms after boot and at a seeded 5 % rate
//! otherwise. A second task pings a modem on the same bus that hangs from 40 ms to
//! 90 ms. Both go through `steadfast-embassy` policies: the core pipeline decides
//! retries with backoff, attempt timeouts, breaker rejections and who waits for the
//! bus ([`BUS`], a bulkhead of one transfer); the adapter only executes it.
//! [`run`] prints the timeline's edges and checks it: the breaker opened in the
//! outage, rejected polls and closed again, the hanging modem's attempts timed out,
//! the tasks contended for the bus and nothing leaked; then the sensor's bus log is
//! replayed against the seeded model.
use core::cell::Cell;

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::Mutex as BlockingMutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use embassy_sync::channel::Channel;
use embassy_sync::mutex::Mutex;
use embassy_sync::signal::Signal;
use embassy_time::{Ticker, Timer};
use heapless::Vec;
use steadfast::backoff::{Backoff, Jitter, Ratio};
use steadfast::breaker::{self, Breaker, Consecutive};
use steadfast::bulkhead::{self, Bulkhead};
use steadfast::outcome::ErrorsFail;
use steadfast::pipeline::{self, Event, Pipeline, Reason, Step};
use steadfast::retry;
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::{timeout, valid};
use steadfast_embassy::{Error, Input, Observer, Policy, SharedBreaker, SharedBulkhead, SharedRng};

use crate::clock;
use crate::sensor::{FlakySensor, Mismatch, Nak, Profile};

/// Seed of the sensor model: same seed, same draws, same timeline shape.
pub const SEED: u64 = 0x5EED_0007;
/// The sensor's misbehaviour, relative to boot.
pub const PROFILE: Profile = Profile {
    outage_from: Duration::from_millis(100),
    outage_until: Duration::from_millis(200),
    nak_per_mille: 50,
    min_latency: Duration::from_micros(500),
    max_latency: Duration::from_millis(3),
};
/// Polling period of the sensor task.
pub const PERIOD: Duration = Duration::from_millis(10);
/// Number of polls (one timeline entry each).
pub const READS: usize = 30;
/// The modem hangs (never answers) from..until, after boot.
const MODEM_HANG: (Duration, Duration) = (Duration::from_millis(40), Duration::from_millis(90));
/// Modem pings, every [`MODEM_PERIOD`].
const PINGS: u32 = 12;
const MODEM_PERIOD: Duration = Duration::from_millis(25);
/// Capacity of the sensor's bus log (transactions, retries included).
const BUS_LOG: usize = 96;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// `valid!` checks each config at compile time: a bad one fails the build, and no
// panic path is linked.

/// The bus: one transfer at a time, two callers may wait up to 20 ms.
static BUS: SharedBulkhead<Cs, 2> = SharedBulkhead::new(valid!(Bulkhead::new(
    bulkhead::Config::DEFAULT
        .with_max_concurrent(1)
        .with_max_queue(2)
        .with_max_wait(ms(20))
)));
/// The sensor's breaker: 3 failures in a row open it for 30 ms; one probe.
static SENSOR_BREAKER: SharedBreaker<Cs> = SharedBreaker::new(valid!(Breaker::new(
    breaker::Config::DEFAULT
        .with_failure_threshold(3)
        .with_break_duration(ms(30))
        .with_probes(1, 1)
)));
/// The modem's breaker: 2 failures in a row open it for 30 ms.
static MODEM_BREAKER: SharedBreaker<Cs> = SharedBreaker::new(valid!(Breaker::new(
    breaker::Config::DEFAULT
        .with_failure_threshold(2)
        .with_break_duration(ms(30))
        .with_probes(1, 1)
)));
/// Backoff jitter: seeded, so the timeline's shape is reproducible.
static JITTER: SharedRng<Cs> = SharedRng::new(SEED);

type Guard = Policy<'static, Cs, Consecutive, &'static SharedBulkhead<Cs, 2>>;

/// Sensor reads: 3 attempts, exponential backoff 2 ms ×2 (equal jitter, cap 8 ms),
/// 5 ms per attempt, breaker, bus bulkhead.
static SENSOR_POLICY: Guard = Policy::new(
    valid!(Pipeline::new(
        pipeline::Config::DEFAULT
            .with_retry(retry::Config::DEFAULT.with_max_attempts(3).with_backoff(
                Backoff::exponential(ms(2), Ratio::TWO, ms(8)).with_jitter(Jitter::Equal)
            ))
            .with_timeout(timeout::Config::NONE.with_attempt(ms(5)))
    )),
    &JITTER,
)
.with_breaker(&SENSOR_BREAKER)
.with_bulkhead(&BUS);

/// Modem pings: 2 attempts 5 ms apart, 15 ms per attempt, breaker, bus bulkhead.
static MODEM_POLICY: Guard = Policy::new(
    valid!(Pipeline::new(
        pipeline::Config::DEFAULT
            .with_retry(
                retry::Config::DEFAULT
                    .with_max_attempts(2)
                    .with_backoff(Backoff::constant(ms(5)))
            )
            .with_timeout(timeout::Config::NONE.with_attempt(ms(15)))
    )),
    &JITTER,
)
.with_breaker(&MODEM_BREAKER)
.with_bulkhead(&BUS);

type Sensor = FlakySensor<SplitMix64, BUS_LOG>;

/// The sensor device (the bulkhead already serialises the bus; the mutex lends it).
static SENSOR: Mutex<Cs, Sensor> = Mutex::new(FlakySensor::new(
    SplitMix64::new(SEED),
    Instant::ZERO,
    PROFILE,
));

/// Poll results, from the sensor task to [`run`].
static READINGS: Channel<Cs, Reading, 4> = Channel::new();
/// The modem task's summary, when it is done.
static MODEM_DONE: Signal<Cs, Modem> = Signal::new();
/// What the pipelines decided, counted by [`Tally`].
static TALLY: BlockingMutex<Cs, Cell<Counts>> = BlockingMutex::new(Cell::new(Counts::ZERO));

/// Decisions seen on the timeline.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// Retries scheduled (backoff waits).
    pub retries: u32,
    /// Attempts cut off by their deadline.
    pub timeouts: u32,
    /// Breaker transitions to open.
    pub opened: u32,
    /// Breaker transitions to closed.
    pub closed: u32,
    /// Calls that queued for the bus.
    pub queued: u32,
}

impl Counts {
    const ZERO: Self = Self {
        retries: 0,
        timeouts: 0,
        opened: 0,
        closed: 0,
        queued: 0,
    };
}

/// Counts the pipeline's decisions and prints the notable ones.
struct Tally {
    who: &'static str,
}

impl Tally {
    const fn new(who: &'static str) -> Self {
        Self { who }
    }
    fn bump(&mut self, f: impl FnOnce(&mut Counts)) {
        TALLY.lock(|t| {
            let mut c = t.get();
            f(&mut c);
            t.set(c);
        });
    }
}

impl Observer for Tally {
    fn on_step(&mut self, now: Instant, _input: Input, step: &Step) {
        if let Step::Queued { .. } = step {
            say!("[{} ms] {} waits for the bus", now.as_millis(), self.who);
            self.bump(|c| c.queued += 1);
        }
    }
    fn on_event(&mut self, now: Instant, event: &Event) {
        match event {
            Event::Retry { .. } => self.bump(|c| c.retries += 1),
            Event::TimedOut { attempt } => {
                say!(
                    "[{} ms] {} attempt {} timed out",
                    now.as_millis(),
                    self.who,
                    attempt
                );
                self.bump(|c| c.timeouts += 1);
            }
            Event::Breaker(t) => {
                say!(
                    "[{} ms] {} breaker {} -> {}",
                    now.as_millis(),
                    self.who,
                    t.from().name(),
                    t.to().name()
                );
                match t.to() {
                    breaker::State::Open { .. } => self.bump(|c| c.opened += 1),
                    breaker::State::Closed => self.bump(|c| c.closed += 1),
                    _ => {}
                }
            }
            Event::Granted(_) | Event::Fallback(_) => {}
        }
    }
}

/// One poll as the application saw it.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    /// Poll number, from 0.
    pub n: u32,
    /// When the poll finished (steadfast time, µs since boot).
    pub at: Instant,
    /// Temperature in centi-degrees Celsius, or why not.
    pub result: Result<u16, Error<Nak>>,
}

/// What the modem task saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Modem {
    /// Pings answered.
    pub ok: u32,
    /// Pings that failed (timed out) or were rejected.
    pub failed: u32,
    /// Pings answered while the modem hangs (must be 0).
    pub ok_while_hung: u32,
}

/// What a passing run saw.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// Successful polls.
    pub ok: u32,
    /// Failed polls (NAKs after retries, timeouts, rejections).
    pub failed: u32,
    /// Failed polls inside the outage.
    pub failed_in_outage: u32,
    /// Polls the open breaker rejected without touching the bus.
    pub rejected: u32,
    /// Bus transactions of the sensor (attempts, retries included).
    pub transactions: u32,
    /// First successful poll after the outage, ms since boot.
    pub recovered_ms: u64,
    /// Duration of the scenario, ms.
    pub elapsed_ms: u64,
    /// The pipelines' decisions.
    pub counts: Counts,
    /// The modem's pings.
    pub modem: Modem,
}

/// A check that did not hold.
#[derive(Clone, Copy, Debug)]
pub struct Failure {
    /// Which check.
    pub check: &'static str,
    /// A number that helps (poll or transaction index, a count, a time in ms).
    pub detail: u64,
}

pub(crate) const fn fail(check: &'static str, detail: u64) -> Failure {
    Failure { check, detail }
}

/// One guarded read of the sensor: the pipeline decides, the adapter executes.
async fn guarded_read() -> Result<u16, Error<Nak>> {
    let mut tally = Tally::new("sensor");
    SENSOR_POLICY
        .call_with(&ErrorsFail, &mut tally, || async {
            SENSOR.lock().await.read().await
        })
        .await
}

#[derive(Clone, Copy, Debug)]
struct NoCarrier;

fn modem_hangs(at: Instant) -> bool {
    let t = at.saturating_duration_since(Instant::ZERO);
    (MODEM_HANG.0..MODEM_HANG.1).contains(&t)
}

/// The modem: answers in 2 ms, or never while it hangs.
async fn modem_ping() -> Result<u8, NoCarrier> {
    if modem_hangs(clock::now()) {
        core::future::pending::<()>().await;
    }
    Timer::after_millis(2).await;
    Ok(1)
}

#[embassy_executor::task]
async fn sensor_task() {
    let mut ticker = Ticker::every(clock::to_embassy(PERIOD));
    for n in 0..READS as u32 {
        let result = guarded_read().await;
        READINGS
            .send(Reading {
                n,
                at: clock::now(),
                result,
            })
            .await;
        ticker.next().await;
    }
}

#[embassy_executor::task]
async fn modem_task() {
    let mut ticker = Ticker::every(clock::to_embassy(MODEM_PERIOD));
    let mut seen = Modem::default();
    for _ in 0..PINGS {
        let started = clock::now();
        let mut tally = Tally::new("modem");
        let result = MODEM_POLICY
            .call_with(&ErrorsFail, &mut tally, modem_ping)
            .await;
        match result {
            Ok(_) if modem_hangs(started) && modem_hangs(clock::now()) => seen.ok_while_hung += 1,
            Ok(_) => seen.ok += 1,
            Err(_) => seen.failed += 1,
        }
        ticker.next().await;
    }
    MODEM_DONE.signal(seen);
}

/// Runs the scenario, prints its timeline, checks it.
pub async fn run(spawner: Spawner) -> Result<Summary, Failure> {
    check_clock()?;
    let started = clock::now();
    spawner.spawn(sensor_task().map_err(|_| fail("spawn sensor_task", 0))?);
    spawner.spawn(modem_task().map_err(|_| fail("spawn modem_task", 0))?);

    let mut timeline: Vec<Reading, READS> = Vec::new();
    let mut previous: Option<bool> = None;
    while timeline.len() < READS {
        let r = READINGS.receive().await;
        // Print the edges of the timeline, not every poll.
        if previous != Some(r.result.is_ok()) {
            match r.result {
                Ok(v) => say!("[{} ms] poll #{} ok: {} cC", r.at.as_millis(), r.n, v),
                Err(e) if e.is_rejection() => {
                    say!("[{} ms] poll #{} rejected", r.at.as_millis(), r.n)
                }
                Err(e) => say!(
                    "[{} ms] poll #{} failed after {} attempts",
                    r.at.as_millis(),
                    r.n,
                    e.attempts()
                ),
            }
        }
        previous = Some(r.result.is_ok());
        timeline
            .push(r)
            .map_err(|_| fail("timeline capacity", READS as u64))?;
    }
    let modem = MODEM_DONE.wait().await;
    let elapsed = clock::now().saturating_duration_since(started);

    if cfg!(feature = "fail-demo") {
        panic!("fail-demo: deliberate panic after {} polls", timeline.len());
    }

    let bus = SENSOR.lock().await;
    bus.replay(SplitMix64::new(SEED)).map_err(|m| match m {
        Mismatch::LogFull => fail("bus log full", BUS_LOG as u64),
        Mismatch::Answer(n) => fail("replay: answer differs from model at transaction", n as u64),
        Mismatch::TooFast(n) => fail(
            "replay: transfer shorter than its latency at transaction",
            n as u64,
        ),
        Mismatch::Backwards(n) => fail("replay: clock went backwards at transaction", n as u64),
    })?;
    let counts = TALLY.lock(Cell::get);
    check(&timeline, bus.log().len() as u32, elapsed, counts, modem)
}

/// steadfast ↔ embassy conversions: exact one way, rounded up (never early) the other.
fn check_clock() -> Result<(), Failure> {
    let e = embassy_time::Instant::from_millis(1_234);
    if clock::to_steadfast(e) != Instant::from_millis(1_234) {
        return Err(fail("clock: embassy -> steadfast instant", 1_234));
    }
    if clock::to_embassy(Duration::from_micros(1_500)) != embassy_time::Duration::from_millis(2) {
        return Err(fail(
            "clock: steadfast -> embassy duration rounds up",
            1_500,
        ));
    }
    if clock::deadline_to_embassy(Instant::from_micros(1_001))
        != embassy_time::Instant::from_millis(2)
    {
        return Err(fail(
            "clock: steadfast -> embassy deadline rounds up",
            1_001,
        ));
    }
    Ok(())
}

/// The timeline's shape, and what the patterns must have done to it.
fn check(
    timeline: &[Reading],
    transactions: u32,
    elapsed: Duration,
    counts: Counts,
    modem: Modem,
) -> Result<Summary, Failure> {
    let since_boot = |r: &Reading| r.at.saturating_duration_since(Instant::ZERO);
    let in_outage =
        |r: &Reading| (PROFILE.outage_from..PROFILE.outage_until).contains(&since_boot(r));
    let mut s = Summary {
        ok: 0,
        failed: 0,
        failed_in_outage: 0,
        rejected: 0,
        transactions,
        recovered_ms: 0,
        elapsed_ms: elapsed.as_millis(),
        counts,
        modem,
    };
    let mut ok_before = false;
    let mut last_at = Instant::ZERO;
    let mut attempts = 0u32;
    for (i, r) in timeline.iter().enumerate() {
        if r.n as usize != i || r.at < last_at {
            return Err(fail("timeline in order", i as u64));
        }
        last_at = r.at;
        match (r.result, in_outage(r)) {
            (Ok(_), true) => return Err(fail("no success inside the outage; poll", i as u64)),
            (Err(_), true) => s.failed_in_outage += 1,
            (Ok(_), false) if since_boot(r) < PROFILE.outage_from => ok_before = true,
            (Ok(_), false) if s.recovered_ms == 0 => s.recovered_ms = r.at.as_millis(),
            _ => {}
        }
        match r.result {
            Ok(_) => {
                s.ok += 1;
                attempts += 1;
            }
            Err(e) => {
                s.failed += 1;
                attempts += e.attempts();
                if matches!(e.reason, Reason::BreakerOpen { .. }) {
                    s.rejected += 1;
                }
            }
        }
    }
    if !ok_before {
        return Err(fail("a success before the outage", 0));
    }
    if s.failed_in_outage < 3 {
        return Err(fail(
            "failed polls inside the outage",
            s.failed_in_outage.into(),
        ));
    }
    if s.recovered_ms == 0 {
        return Err(fail("a success after the outage", 0));
    }
    // Breaker: opened in the outage, rejected polls without touching the bus, closed after.
    if counts.opened < 2 {
        return Err(fail(
            "breakers opened (sensor outage + hanging modem)",
            counts.opened.into(),
        ));
    }
    if s.rejected == 0 {
        return Err(fail("polls rejected by the open breaker", 0));
    }
    if counts.closed == 0 || SENSOR_BREAKER.state() != breaker::State::Closed {
        return Err(fail("sensor breaker closed again", counts.closed.into()));
    }
    // Retry: failures were retried; rejected polls never reached the bus.
    if counts.retries == 0 {
        return Err(fail("retries with backoff", 0));
    }
    if transactions < attempts || transactions > attempts + READS as u32 {
        return Err(fail("bus transactions vs attempts", transactions.into()));
    }
    // Timeout: the hanging modem's attempts were cut off; it never answered while hung.
    if counts.timeouts == 0 || modem.failed == 0 {
        return Err(fail("modem attempts timed out", counts.timeouts.into()));
    }
    if modem.ok == 0 || modem.ok_while_hung != 0 {
        return Err(fail(
            "modem answers only when not hung",
            modem.ok_while_hung.into(),
        ));
    }
    // Bulkhead: the tasks contended for the bus, and nothing leaked.
    if counts.queued == 0 {
        return Err(fail("calls waited for the bus", 0));
    }
    if BUS.in_flight() != 0 || BUS.queued() != 0 || BUS.waiters() != 0 {
        return Err(fail("bus slots leaked", BUS.in_flight().into()));
    }
    let nominal = PERIOD.saturating_mul(READS as u64 - 1);
    if elapsed < nominal || elapsed > Duration::from_secs(10) {
        return Err(fail("elapsed time (ms)", elapsed.as_millis()));
    }
    Ok(s)
}
