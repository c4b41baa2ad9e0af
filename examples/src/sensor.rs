//! Demo: a circuit breaker guarding a flaky I2C sensor, on a virtual clock.
//!
//! The sensor answers in a few milliseconds and NAKs now and then; from t=20s
//! to t=40s its bus is stuck (NAKs, or transfers that hang until the 50 ms
//! timeout). The firmware loop reads once a second through a `Breaker`: after 3
//! failures in a row it stops hammering the bus, sleeps until the breaker's
//! `retry_at`, probes, and recovers once the sensor answers again.
//!
//! Everything is deterministic: the clock is a number and the faults come from a
//! seeded `SplitMix64`, so every run prints the same timeline.

use steadfast::breaker::{Breaker, Config, State};
use steadfast::outcome::Outcome;
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::{Duration, Instant};

const PERIOD: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(50);
const OUTAGE: (Instant, Instant) = (Instant::from_secs(20), Instant::from_secs(40));
const RUN_UNTIL: Instant = Instant::from_secs(75);

/// 3 failures in a row open it for 4 s, doubling on every failed probe up to 16 s.
const BREAKER: Config = Config::new()
    .with_failure_threshold(3)
    .with_break_duration(Duration::from_secs(4))
    .with_break_growth(2, Duration::from_secs(16));

#[derive(Debug)]
enum I2cError {
    Nak,
    Timeout,
}

/// A temperature sensor on a simulated bus: returns the reading (centi-°C) and
/// how long the transfer took.
struct Sensor {
    rng: SplitMix64,
}

impl Sensor {
    fn read(&mut self, now: Instant) -> (Result<i32, I2cError>, Duration) {
        let latency = Duration::from_millis(2 + self.rng.below(4));
        let stuck = now >= OUTAGE.0 && now < OUTAGE.1;
        if stuck && self.rng.below(2) == 0 {
            (Err(I2cError::Timeout), TIMEOUT)
        } else if stuck || self.rng.below(100) < 4 {
            (Err(I2cError::Nak), latency)
        } else {
            (Ok(2_150 + self.rng.below(40) as i32), latency)
        }
    }
}

fn main() {
    let mut breaker: Breaker = Breaker::new(BREAKER).expect("valid breaker config");
    let mut sensor = Sensor {
        rng: SplitMix64::new(0x5EED),
    };
    let mut now = Instant::ZERO;
    let mut reads = 0u32;
    println!(
        "steadfast demo: breaker over a flaky I2C sensor (bus stuck {} .. {})",
        OUTAGE.0, OUTAGE.1
    );
    println!(
        "config: {} failures -> open {}, x{} per failed probe, cap {}\n",
        BREAKER.failure_threshold(),
        BREAKER.break_duration(),
        BREAKER.break_multiplier(),
        BREAKER.max_break_duration()
    );

    while now < RUN_UNTIL {
        // A real driver sleeps until poll_at(); here the clock just jumps.
        while let Some(transition) = breaker.handle_timeout(now) {
            println!(
                "{:>10}  ** {} -> {}",
                transition.at().to_string(),
                transition.from(),
                transition.to()
            );
        }
        let permit = match breaker.try_acquire(now) {
            Ok(permit) => permit,
            Err(rejected) => {
                let retry_at = rejected.retry_at.unwrap_or(now + PERIOD);
                println!(
                    "{:>10}  rejected without touching the bus; sleep until {retry_at}",
                    now.to_string()
                );
                now = retry_at;
                continue;
            }
        };
        let probing = matches!(breaker.state(), State::HalfOpen { .. });
        let (result, took) = sensor.read(now);
        reads += 1;
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(I2cError::Nak) => Outcome::Failure,
            Err(I2cError::Timeout) => Outcome::TimedOut,
        };
        let transition = breaker.record(permit, outcome, now + took);
        // Quiet while all is well: print failures, probes, and every 10th read.
        if result.is_err() || probing || reads % 10 == 1 {
            let what = match result {
                Ok(centi) => format!("{}.{:02} °C", centi / 100, centi % 100),
                Err(e) => format!("{e:?} after {took}"),
            };
            println!(
                "{:>10}  {}read {what}",
                now.to_string(),
                if probing { "probe " } else { "" }
            );
        }
        if let Some(t) = transition {
            println!("{:>10}  ** {} -> {}", t.at().to_string(), t.from(), t.to());
        }
        now += PERIOD;
    }

    let s = breaker.stats();
    println!("\nfinal state: {}", breaker.state());
    println!(
        "calls {}  ok {}  failed {} ({} slow)  rejected {}  opens {}  state changes {}",
        s.calls, s.successes, s.failures, s.slow_calls, s.rejections, s.opens, s.state_changes
    );
    let secs = RUN_UNTIL.as_millis() / 1_000;
    println!(
        "{} bus transfers in {secs} s (one a second without the breaker: {secs})",
        s.calls
    );
}
