//! Embassy on the host: a flaky I2C sensor and a modem that hangs, sharing one bus,
//! guarded by steadfast through `steadfast-embassy` (breaker, retry with backoff, bulkhead,
//! attempt timeouts). Real time (embassy-time's std driver), about 1.6 s.
//!
//!     cargo run -p steadfast-examples --bin embassy-demo
//!
//! The same `Policy` statics compile unchanged for a Cortex-M (see examples/firmware).
use core::cell::RefCell;

use embassy_executor::Spawner;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use embassy_time::{Ticker, Timer};
use steadfast::backoff::{Backoff, Jitter, Ratio};
use steadfast::breaker::{self, Breaker};
use steadfast::bulkhead::{self, Bulkhead};
use steadfast::outcome::ErrorsFail;
use steadfast::pipeline::{self, Event, Pipeline, Reason, Step};
use steadfast::retry;
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::{Duration, Instant};
use steadfast::{timeout, valid};
use steadfast_embassy::{Error, Input, Observer, Policy, SharedBreaker, SharedBulkhead, SharedRng};

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// --- the shared machines and the two policies ---------------------------------------------
// `valid!` checks each config at compile time: a bad one fails the build.

/// One bus for both devices: one transfer at a time, two may wait up to 60 ms.
static BUS: SharedBulkhead<Cs, 2> = SharedBulkhead::new(valid!(Bulkhead::new(
    bulkhead::Config::DEFAULT
        .with_max_concurrent(1)
        .with_max_queue(2)
        .with_max_wait(ms(60))
)));
/// The sensor's breaker: 3 failures in a row open it for 150 ms, one probe.
static SENSOR_BREAKER: SharedBreaker<Cs> = SharedBreaker::new(valid!(Breaker::new(
    breaker::Config::DEFAULT
        .with_failure_threshold(3)
        .with_break_duration(ms(150))
        .with_probes(1, 1)
)));
/// The modem's breaker: 2 timeouts open it for 300 ms.
static MODEM_BREAKER: SharedBreaker<Cs> = SharedBreaker::new(valid!(Breaker::new(
    breaker::Config::DEFAULT
        .with_failure_threshold(2)
        .with_break_duration(ms(300))
        .with_probes(1, 1)
)));
static JITTER: SharedRng<Cs> = SharedRng::new(0x5EED);

/// Sensor: 3 attempts, exponential backoff 10 ms ×2 (equal jitter, cap 80 ms),
/// 20 ms per attempt.
static SENSOR: Policy<'static, Cs, breaker::Consecutive, &'static SharedBulkhead<Cs, 2>> =
    Policy::new(
        valid!(Pipeline::new(
            pipeline::Config::DEFAULT
                .with_retry(retry::Config::DEFAULT.with_max_attempts(3).with_backoff(
                    Backoff::exponential(ms(10), Ratio::TWO, ms(80)).with_jitter(Jitter::Equal)
                ))
                .with_timeout(timeout::Config::NONE.with_attempt(ms(20)))
        )),
        &JITTER,
    )
    .with_breaker(&SENSOR_BREAKER)
    .with_bulkhead(&BUS);

/// Modem: 2 attempts 30 ms apart, 80 ms per attempt (it hangs; the timeout cancels it).
static MODEM: Policy<'static, Cs, breaker::Consecutive, &'static SharedBulkhead<Cs, 2>> =
    Policy::new(
        valid!(Pipeline::new(
            pipeline::Config::DEFAULT
                .with_retry(
                    retry::Config::DEFAULT
                        .with_max_attempts(2)
                        .with_backoff(Backoff::constant(ms(30)))
                )
                .with_timeout(timeout::Config::NONE.with_attempt(ms(80)))
        )),
        &JITTER,
    )
    .with_breaker(&MODEM_BREAKER)
    .with_bulkhead(&BUS);

// --- the simulated devices -----------------------------------------------------------------

/// Seeded: the sensor NAKs through an outage 400–800 ms after boot and 10 % of the time.
static SENSOR_DICE: Mutex<Cs, RefCell<SplitMix64>> = Mutex::new(RefCell::new(SplitMix64::new(7)));

fn since_boot() -> Duration {
    steadfast_embassy::time::now().saturating_duration_since(Instant::ZERO)
}

#[derive(Debug)]
struct Nak;

async fn read_sensor() -> Result<u16, Nak> {
    let (latency, roll, value) = SENSOR_DICE.lock(|d| {
        let mut d = d.borrow_mut();
        (
            d.between(1_000, 4_000),
            d.below(100),
            2_000 + d.below(100) as u16,
        )
    });
    Timer::after_micros(latency).await;
    let t = since_boot();
    if (ms(400)..ms(800)).contains(&t) || roll < 10 {
        Err(Nak)
    } else {
        Ok(value)
    }
}

#[derive(Debug)]
struct NoCarrier;

/// The modem answers in 15 ms, except 300–900 ms after boot, when it hangs forever.
async fn modem_ping() -> Result<u8, NoCarrier> {
    let t = since_boot();
    if (ms(300)..ms(900)).contains(&t) {
        core::future::pending::<()>().await;
    }
    Timer::after_millis(15).await;
    Ok(31) // signal quality
}

// --- the timeline ----------------------------------------------------------------------------

/// Prints what the pipeline decided that is worth a line: retries, timeouts,
/// queueing, breaker transitions.
struct Timeline(&'static str);

fn stamp(now: Instant) -> String {
    format!("[{:>5} ms]", now.as_millis())
}

impl Observer for Timeline {
    fn on_step(&mut self, now: Instant, _input: Input, step: &Step) {
        if let Step::Queued { until, .. } = step {
            println!(
                "{} {:<6} bus busy: queued (gives up at {} ms)",
                stamp(now),
                self.0,
                until.as_millis()
            );
        }
    }
    fn on_event(&mut self, now: Instant, event: &Event) {
        let line = match event {
            Event::Breaker(t) => format!("breaker {} -> {}", t.from(), t.to()),
            Event::Retry { attempt, delay, .. } => {
                format!("retry: attempt {attempt} in {} ms", delay.as_millis())
            }
            Event::TimedOut { attempt } => format!("attempt {attempt} timed out"),
            Event::Granted(_) | Event::Fallback(_) => return,
        };
        println!("{} {:<6} {line}", stamp(now), self.0);
    }
}

fn outcome<T: core::fmt::Debug, E: core::fmt::Debug>(r: &Result<T, Error<E>>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(Error {
            reason: Reason::BreakerOpen { .. },
            ..
        }) => "rejected: breaker open".into(),
        Err(Error {
            reason: Reason::BulkheadFull | Reason::QueueTimeout,
            ..
        }) => "rejected: bus busy".into(),
        Err(e) => format!("failed: {e:?}"),
    }
}

#[embassy_executor::task]
async fn sensor_task() {
    let mut ticker = Ticker::every(embassy_time::Duration::from_millis(50));
    for n in 0..30 {
        let r = SENSOR
            .call_with(&ErrorsFail, &mut Timeline("sensor"), read_sensor)
            .await;
        let now = steadfast_embassy::time::now();
        println!("{} sensor #{n:<2} {}", stamp(now), outcome(&r));
        ticker.next().await;
    }
}

#[embassy_executor::task]
async fn modem_task() {
    let mut ticker = Ticker::every(embassy_time::Duration::from_millis(120));
    for n in 0..12 {
        let r = MODEM
            .call_with(&ErrorsFail, &mut Timeline("modem"), modem_ping)
            .await;
        let now = steadfast_embassy::time::now();
        println!("{} modem  #{n:<2} {}", stamp(now), outcome(&r));
        ticker.next().await;
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    println!("steadfast + Embassy on the host: a flaky I2C sensor (outage 400-800 ms) and a modem");
    println!("that hangs (300-900 ms) share one bus (bulkhead: 1 transfer, 2 waiting, 60 ms).");
    println!("sensor: 3 tries, backoff 10 ms x2, 20 ms timeout, breaker 3 fails -> open 150 ms");
    println!("modem:  2 tries, 30 ms apart, 80 ms timeout, breaker 2 fails -> open 300 ms\n");
    let _ = steadfast_embassy::time::now(); // starts the clock: "boot"
    spawner.spawn(sensor_task().unwrap_or_else(|e| panic!("{e:?}")));
    spawner.spawn(modem_task().unwrap_or_else(|e| panic!("{e:?}")));
    Timer::after_millis(1_600).await;
    let s = SENSOR_BREAKER
        .lock(|b| b.stats())
        .expect("no lock is held here");
    let m = MODEM_BREAKER
        .lock(|b| b.stats())
        .expect("no lock is held here");
    let bus = BUS.lock(|b| b.stats()).expect("no lock is held here");
    println!(
        "\nsensor breaker: {} calls, {} failures, {} rejected, opened {}x, now {}",
        s.calls,
        s.failures,
        s.rejections,
        s.opens,
        SENSOR_BREAKER.state()
    );
    println!(
        "modem breaker:  {} calls, {} failures, {} rejected, opened {}x, now {}",
        m.calls,
        m.failures,
        m.rejections,
        m.opens,
        MODEM_BREAKER.state()
    );
    println!(
        "bus bulkhead:   {} transfers, {} waited, {} rejected, {} gave up waiting; {} in flight",
        bus.acquired,
        bus.queued,
        bus.rejected_full,
        bus.expired,
        BUS.in_flight()
    );
    std::process::exit(0);
}
