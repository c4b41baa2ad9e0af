//! The scenario: the one place where the firmware drives sturdy.
//!
//! A task polls a flaky I2C temperature sensor every [`PERIOD`]; the sensor NAKs
//! through an outage from 100 ms to 200 ms after boot and at a seeded 5 % rate
//! otherwise. Readings go over a channel to [`run`], which prints the timeline and
//! checks it; then the sensor's bus log is replayed against the seeded model.
//!
//! Today the scenario exercises `sturdy::time` (embassy → sturdy instants, see
//! [`crate::clock`]) and `sturdy::rng` (the sensor's draws). The resilience patterns
//! plug in at the marked places:
//! - [`guarded_read`]: breaker `try_acquire`/`record`, per-attempt timeout
//!   (`with_timeout` → `Outcome::TimedOut`), retry with backoff (`Timer::at` the
//!   `RetryAt`), or all of it as the core pipeline;
//! - [`BUS`]: an async mutex today; a bulkhead when two tasks contend for the bus;
//! - [`check`]: assertions about breaker states / rejections / retries on the timeline.
use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::mutex::Mutex;
use embassy_time::Ticker;
use heapless::Vec;
use sturdy::rng::SplitMix64;
use sturdy::time::{Duration, Instant};

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
/// Capacity of the sensor's bus log (transactions, including retries once they exist).
const BUS_LOG: usize = 64;

type Sensor = FlakySensor<SplitMix64, BUS_LOG>;

/// The I2C bus with the sensor on it, shared by the tasks that talk to it.
static BUS: Mutex<CriticalSectionRawMutex, Sensor> = Mutex::new(FlakySensor::new(
    SplitMix64::new(SEED),
    Instant::ZERO,
    PROFILE,
));

/// Poll results, from the sensor task to [`run`].
static READINGS: Channel<CriticalSectionRawMutex, Reading, 4> = Channel::new();

/// One poll as the application saw it.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    /// Poll number, from 0.
    pub n: u32,
    /// When the poll finished (sturdy time, µs since boot).
    pub at: Instant,
    /// Temperature in centi-degrees Celsius, or the error.
    pub result: Result<u16, Nak>,
}

/// What a passing run saw.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// Successful polls.
    pub ok: u32,
    /// Failed polls.
    pub failed: u32,
    /// Failed polls inside the outage.
    pub failed_in_outage: u32,
    /// Bus transactions (polls + retries).
    pub transactions: u32,
    /// First successful poll after the outage, ms since boot.
    pub recovered_ms: u64,
    /// Duration of the scenario, ms.
    pub elapsed_ms: u64,
}

/// A check that did not hold.
#[derive(Clone, Copy, Debug)]
pub struct Failure {
    /// Which check.
    pub check: &'static str,
    /// A number that helps (poll or transaction index, a count, a time in ms).
    pub detail: u64,
}

const fn fail(check: &'static str, detail: u64) -> Failure {
    Failure { check, detail }
}

/// PATTERNS GO HERE: one guarded call of the sensor. Today: a bare read.
async fn guarded_read() -> Result<u16, Nak> {
    BUS.lock().await.read().await
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

/// Runs the scenario, prints its timeline, checks it.
pub async fn run(spawner: Spawner) -> Result<Summary, Failure> {
    check_clock()?;
    let started = clock::now();
    spawner.spawn(sensor_task().map_err(|_| fail("spawn sensor_task", 0))?);

    let mut timeline: Vec<Reading, READS> = Vec::new();
    let mut previous: Option<bool> = None;
    while timeline.len() < READS {
        let r = READINGS.receive().await;
        // Print the edges of the timeline, not every poll.
        if previous != Some(r.result.is_ok()) {
            match r.result {
                Ok(v) => say!("[{} ms] poll #{} ok: {} cC", r.at.as_millis(), r.n, v),
                Err(_) => say!("[{} ms] poll #{} NAK", r.at.as_millis(), r.n),
            }
        }
        previous = Some(r.result.is_ok());
        timeline
            .push(r)
            .map_err(|_| fail("timeline capacity", READS as u64))?;
    }
    let elapsed = clock::now().saturating_duration_since(started);

    if cfg!(feature = "fail-demo") {
        panic!("fail-demo: deliberate panic after {} polls", timeline.len());
    }

    let bus = BUS.lock().await;
    bus.replay(SplitMix64::new(SEED)).map_err(|m| match m {
        Mismatch::LogFull => fail("bus log full", BUS_LOG as u64),
        Mismatch::Answer(n) => fail("replay: answer differs from model at transaction", n as u64),
        Mismatch::TooFast(n) => fail(
            "replay: transfer shorter than its latency at transaction",
            n as u64,
        ),
        Mismatch::Backwards(n) => fail("replay: clock went backwards at transaction", n as u64),
    })?;
    check(&timeline, bus.log().len() as u32, elapsed)
}

/// sturdy ↔ embassy conversions: exact one way, rounded up (never early) the other.
fn check_clock() -> Result<(), Failure> {
    let e = embassy_time::Instant::from_millis(1_234);
    if clock::to_sturdy(e) != Instant::from_millis(1_234) {
        return Err(fail("clock: embassy -> sturdy instant", 1_234));
    }
    if clock::to_embassy(Duration::from_micros(1_500)) != embassy_time::Duration::from_millis(2) {
        return Err(fail("clock: sturdy -> embassy duration rounds up", 1_500));
    }
    if clock::deadline_to_embassy(Instant::from_micros(1_001))
        != embassy_time::Instant::from_millis(2)
    {
        return Err(fail("clock: sturdy -> embassy deadline rounds up", 1_001));
    }
    Ok(())
}

/// The timeline's shape. PATTERNS: add breaker/retry/bulkhead expectations here.
fn check(timeline: &[Reading], transactions: u32, elapsed: Duration) -> Result<Summary, Failure> {
    let since_boot = |r: &Reading| r.at.saturating_duration_since(Instant::ZERO);
    let in_outage =
        |r: &Reading| (PROFILE.outage_from..PROFILE.outage_until).contains(&since_boot(r));
    let mut s = Summary {
        ok: 0,
        failed: 0,
        failed_in_outage: 0,
        transactions,
        recovered_ms: 0,
        elapsed_ms: elapsed.as_millis(),
    };
    let mut ok_before = false;
    let mut last_at = Instant::ZERO;
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
            Ok(_) => s.ok += 1,
            Err(_) => s.failed += 1,
        }
    }
    // 10 ms polls over a 100 ms outage: ~10 NAKs; allow for a slow, shared host.
    if !ok_before {
        return Err(fail("a success before the outage", 0));
    }
    if s.failed_in_outage < 3 {
        return Err(fail("NAKs inside the outage", s.failed_in_outage.into()));
    }
    if s.recovered_ms == 0 {
        return Err(fail("a success after the outage", 0));
    }
    if transactions != READS as u32 {
        return Err(fail("one bus transaction per poll", transactions.into()));
    }
    let nominal = PERIOD.saturating_mul(READS as u64 - 1);
    if elapsed < nominal || elapsed > Duration::from_secs(10) {
        return Err(fail("elapsed time (ms)", elapsed.as_millis()));
    }
    Ok(s)
}
