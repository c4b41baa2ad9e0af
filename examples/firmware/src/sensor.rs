//! A simulated I2C temperature sensor that NAKs: always during an outage window
//! (a brown-out, a stuck bus) and, outside it, now and then at a seeded rate.
//!
//! Deterministic: given the seed and the instants at which transactions finish,
//! the answers are fixed. The sensor keeps a bus log of every transaction (including
//! ones whose future was dropped mid-transfer, e.g. by a timeout), and
//! [`FlakySensor::replay`] re-runs the model from the seed against that log: the
//! firmware checks its own timeline without trusting the code under test.
use embassy_time::Timer;
use heapless::Vec;
use steadfast::rng::Rng;
use steadfast::time::{Duration, Instant};

use crate::clock;

/// The device did not acknowledge its address or data byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Nak;

/// How the sensor misbehaves. Times are relative to power-on.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Start of the outage: every transaction finishing in `[outage_from, outage_until)` NAKs.
    pub outage_from: Duration,
    /// End of the outage (exclusive).
    pub outage_until: Duration,
    /// Chance of a NAK outside the outage, per mille.
    pub nak_per_mille: u64,
    /// Bus transaction time, drawn uniformly in `[min_latency, max_latency]` (µs resolution).
    pub min_latency: Duration,
    /// See `min_latency`.
    pub max_latency: Duration,
}

/// One bus transaction's random draws, made before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// How long the transfer takes on the bus.
    pub latency: Duration,
    roll: u64,
    centi_celsius: u16,
}

impl Transaction {
    /// The answer of a transaction that finishes at `now`.
    pub fn answer_at(
        &self,
        profile: &Profile,
        powered_at: Instant,
        now: Instant,
    ) -> Result<u16, Nak> {
        let since_power_on = now.saturating_duration_since(powered_at);
        let in_outage =
            since_power_on >= profile.outage_from && since_power_on < profile.outage_until;
        if in_outage || self.roll < profile.nak_per_mille {
            Err(Nak)
        } else {
            Ok(self.centi_celsius)
        }
    }
}

/// One entry of the bus log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logged {
    /// When the transfer started.
    pub started: Instant,
    /// When it finished and what it answered; `None` if its future was dropped.
    pub answered: Option<(Instant, Result<u16, Nak>)>,
}

/// Why a replay disagrees with the bus log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The log filled up: transactions went unrecorded.
    LogFull,
    /// Transaction `n` (0-based) answered differently from the model.
    Answer(usize),
    /// Transaction `n` finished before its drawn bus latency had passed.
    TooFast(usize),
    /// Transaction `n` started before transaction `n - 1` (clock went backwards).
    Backwards(usize),
}

/// The sensor: a seeded generator, a [`Profile`] and a bus log of `N` transactions.
#[derive(Debug)]
pub struct FlakySensor<R, const N: usize> {
    rng: R,
    powered_at: Instant,
    profile: Profile,
    log: Vec<Logged, N>,
    log_full: bool,
}

impl<R: Rng, const N: usize> FlakySensor<R, N> {
    /// A sensor powered on at `powered_at`.
    pub const fn new(rng: R, powered_at: Instant, profile: Profile) -> Self {
        Self {
            rng,
            powered_at,
            profile,
            log: Vec::new(),
            log_full: false,
        }
    }

    /// Draws the next transaction (latency, NAK roll, reading) without running it.
    pub fn transaction(&mut self) -> Transaction {
        let latency = self.rng.between(
            self.profile.min_latency.as_micros(),
            self.profile.max_latency.as_micros(),
        );
        Transaction {
            latency: Duration::from_micros(latency),
            roll: self.rng.below(1_000),
            centi_celsius: 2_000 + self.rng.below(100) as u16, // 20.00..20.99 °C
        }
    }

    /// Reads the temperature in centi-degrees Celsius: the transfer takes the drawn
    /// latency, the answer depends on when it finishes. Cancel-safe: dropping the
    /// future mid-transfer leaves a logged, unanswered transaction.
    pub async fn read(&mut self) -> Result<u16, Nak> {
        let t = self.transaction();
        let slot = self.log.len();
        if self
            .log
            .push(Logged {
                started: clock::now(),
                answered: None,
            })
            .is_err()
        {
            self.log_full = true;
        }
        Timer::after(clock::to_embassy(t.latency)).await;
        let now = clock::now();
        let result = t.answer_at(&self.profile, self.powered_at, now);
        if let Some(entry) = self.log.get_mut(slot) {
            entry.answered = Some((now, result));
        }
        result
    }

    /// The bus log so far.
    pub fn log(&self) -> &[Logged] {
        &self.log
    }

    /// Replays the model from `seed`-initialised `rng` against the bus log.
    pub fn replay(&self, mut rng: R) -> Result<(), Mismatch> {
        if self.log_full {
            return Err(Mismatch::LogFull);
        }
        let mut model = FlakySensor::<&mut R, 0>::new(&mut rng, self.powered_at, self.profile);
        let mut previous_start = self.powered_at;
        for (n, entry) in self.log.iter().enumerate() {
            let t = model.transaction();
            if entry.started < previous_start {
                return Err(Mismatch::Backwards(n));
            }
            previous_start = entry.started;
            if let Some((at, result)) = entry.answered {
                if at.saturating_duration_since(entry.started) < t.latency {
                    return Err(Mismatch::TooFast(n));
                }
                if t.answer_at(&self.profile, self.powered_at, at) != result {
                    return Err(Mismatch::Answer(n));
                }
            }
        }
        Ok(())
    }
}
