//! Hedged requests: when an attempt has not answered after a delay, start
//! another one beside it; the first success wins and the others are
//! cancelled (Polly's hedging, failsafe-go's hedge policy, tower's `Hedge`).
//!
//! The core decides *when*; the adapter runs the attempts concurrently and
//! cancels the losers. Only for operations the caller knows are safe to
//! repeat.
//!
//! * **Delay.** [`Delay::Fixed`], or [`Delay::Percentile`]: the given
//!   percentile of the latencies [`Hedger::record`]ed, estimated from a
//!   histogram of power-of-two buckets (the upper edge of the bucket holding
//!   it, so an estimate is at most twice the true value, never below it),
//!   with a fallback until `min_samples` are in. Counts are halved every
//!   `1024` samples, so the estimate follows a dependency that slows down
//!   or recovers.
//! * **Cap.** At most `max_hedges` attempts beside the first; each hedge
//!   waits a whole delay after the previous one started.
//! * **Budget.** A hedge is a retry for the budget: it spends from any
//!   [`RetryBudget`] (as a retry after a timeout), so a slow dependency is
//!   not sent double its load. A hedge the budget refuses is not started and
//!   no later one is tried; a hedge whose answer wins is reported to the
//!   budget as a successful retry ([`Plan::finish`]).
//!
//! ```
//! use steadfast::hedge::{Config, Delay, Hedger};
//! use steadfast::retry::Unlimited;
//! use steadfast::time::{Duration, Instant};
//!
//! let hedger: Hedger = Hedger::new(Config::new().with_delay(Delay::Fixed(Duration::from_millis(50))).with_max_hedges(2))?;
//! let mut plan = hedger.start(Instant::ZERO);
//! assert_eq!(plan.next_at(), Some(Instant::from_millis(50)));
//! assert!(plan.poll(Instant::from_millis(49), &mut Unlimited).is_none());
//! assert!(plan.poll(Instant::from_millis(50), &mut Unlimited).is_some()); // hedge 1
//! assert_eq!(plan.next_at(), Some(Instant::from_millis(100)));
//! assert!(plan.poll(Instant::from_millis(100), &mut Unlimited).is_some()); // hedge 2
//! assert_eq!(plan.next_at(), None); // capped
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use crate::error::ConfigError;
use crate::outcome::Outcome;
use crate::retry::{RetryBudget, Withdrawal};
use crate::time::{Duration, Instant};

/// The most hedges one call may start.
const MAX_HEDGES: usize = 4;

/// Samples after which the histogram's counts are halved.
const DECAY_EVERY: u32 = 1024;

/// When to hedge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Delay {
    /// Always after this long.
    Fixed(Duration),
    /// After the `permille`-th per-mille latency recorded (950: p95), once
    /// `min_samples` latencies are in; `fallback` until then.
    Percentile {
        /// Which percentile, in per mille (1 to 999).
        permille: u16,
        /// Samples needed before the estimate is used.
        min_samples: u32,
        /// The delay until then.
        fallback: Duration,
    },
}

/// The settings of a [`Hedger`].
///
/// ```
/// use steadfast::hedge::{Config, Delay};
/// use steadfast::time::Duration;
///
/// const P95: Config = Config::new()
///     .with_delay(Delay::Percentile { permille: 950, min_samples: 100, fallback: Duration::from_millis(200) })
///     .with_max_hedges(1);
/// assert!(P95.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    delay: Delay,
    max_hedges: u8,
}

impl Config {
    /// One hedge after the p95 latency (100 samples first, 1 s before that).
    pub const DEFAULT: Self = Self {
        delay: Delay::Percentile {
            permille: 950,
            min_samples: 100,
            fallback: Duration::from_secs(1),
        },
        max_hedges: 1,
    };

    /// [`Config::DEFAULT`].
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Hedges after `delay`.
    #[must_use]
    pub const fn with_delay(mut self, delay: Delay) -> Self {
        self.delay = delay;
        self
    }

    /// At most `max_hedges` attempts beside the first (1 to 4).
    #[must_use]
    pub const fn with_max_hedges(mut self, max_hedges: u8) -> Self {
        self.max_hedges = max_hedges;
        self
    }

    /// The delay rule.
    pub const fn delay(&self) -> Delay {
        self.delay
    }

    /// The cap.
    pub const fn max_hedges(&self) -> u8 {
        self.max_hedges
    }

    /// Checks the settings: a delay longer than zero (fixed or fallback), a
    /// percentile from 1 to 999 ‰, 1 to 4 hedges.
    ///
    /// ```
    /// use steadfast::hedge::{Config, Delay};
    /// use steadfast::time::Duration;
    /// assert_eq!(Config::new().with_max_hedges(0).validate().unwrap_err().field, "max_hedges");
    /// assert_eq!(Config::new().with_delay(Delay::Fixed(Duration::ZERO)).validate().unwrap_err().field, "delay");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.max_hedges == 0 || self.max_hedges as usize > MAX_HEDGES {
            return Err(ConfigError::new(
                "max_hedges",
                "must be 1 to 4: each hedge adds a whole attempt's load",
            ));
        }
        match self.delay {
            Delay::Fixed(d) if d.is_zero() => {
                Err(ConfigError::new("delay", "must be longer than zero"))
            }
            Delay::Percentile { permille, .. } if permille == 0 || permille >= 1000 => Err(
                ConfigError::new("percentile", "must be 1 to 999 per mille (950 is p95)"),
            ),
            Delay::Percentile { fallback, .. } if fallback.is_zero() => {
                Err(ConfigError::new("fallback", "must be longer than zero"))
            }
            _ => Ok(()),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Decides hedges and learns the latencies a percentile delay needs. `B`
/// power-of-two latency buckets (bucket `i` holds latencies below `2^i` µs
/// and at least `2^(i−1)`; the last one everything longer): 32 cover 35
/// minutes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Hedger<const B: usize = 32> {
    config: Config,
    buckets: [u32; B],
    samples: u32,
    since_decay: u32,
}

impl<const B: usize> Hedger<B> {
    /// A hedger with no latency recorded.
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`, or `B` is 0.
    pub const fn new(config: Config) -> Result<Self, ConfigError> {
        if B == 0 {
            return Err(ConfigError::new("buckets", "must be at least 1"));
        }
        match config.validate() {
            Ok(()) => Ok(Self {
                config,
                buckets: [0; B],
                samples: 0,
                since_decay: 0,
            }),
            Err(e) => Err(e),
        }
    }

    /// The settings.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Learns one attempt's latency (each completed attempt's, the winner's
    /// at least).
    pub fn record(&mut self, latency: Duration) {
        let us = latency.as_micros();
        // Bucket i holds [2^(i-1), 2^i) µs; 0 µs goes to bucket 0.
        let i = (u64::BITS - us.leading_zeros()) as usize;
        let last = B - 1;
        self.buckets[i.min(last)] = self.buckets[i.min(last)].saturating_add(1);
        self.samples = self.samples.saturating_add(1);
        self.since_decay += 1;
        if self.since_decay >= DECAY_EVERY {
            self.since_decay = 0;
            let mut total = 0u32;
            for b in &mut self.buckets {
                *b /= 2;
                total += *b;
            }
            self.samples = total;
        }
    }

    /// The hedge delay now.
    ///
    /// ```
    /// use steadfast::hedge::{Config, Delay, Hedger};
    /// use steadfast::time::Duration;
    ///
    /// let p90 = Delay::Percentile { permille: 900, min_samples: 10, fallback: Duration::from_millis(500) };
    /// let mut h: Hedger = Hedger::new(Config::new().with_delay(p90))?;
    /// assert_eq!(h.delay(), Duration::from_millis(500)); // no samples yet
    /// for ms in 1..=100 {
    ///     h.record(Duration::from_millis(ms));
    /// }
    /// // p90 of 1..100 ms is 90 ms; the estimate is its bucket's upper edge, 2^17 µs.
    /// assert_eq!(h.delay(), Duration::from_micros(131_072));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn delay(&self) -> Duration {
        match self.config.delay {
            Delay::Fixed(d) => d,
            Delay::Percentile {
                permille,
                min_samples,
                fallback,
            } => {
                if self.samples < min_samples.max(1) {
                    return fallback;
                }
                // The rank of the percentile: ⌈samples × permille / 1000⌉.
                let rank = (u64::from(self.samples) * u64::from(permille)).div_ceil(1000);
                let mut seen = 0u64;
                for (i, &n) in self.buckets.iter().enumerate() {
                    seen += u64::from(n);
                    if seen >= rank {
                        return if i + 1 >= B {
                            Duration::MAX
                        } else {
                            Duration::from_micros(1u64 << i.min(63))
                        };
                    }
                }
                fallback
            }
        }
    }

    /// The hedges of a call whose first attempt starts at `now`.
    pub fn start(&self, now: Instant) -> Plan {
        let delay = self.delay();
        Plan {
            delay,
            next: Some(now.saturating_add(delay)),
            left: self.config.max_hedges,
            spent: [None; MAX_HEDGES],
            started: 0,
            stopped: false,
        }
    }
}

/// A hedge to start now: run another attempt beside the running ones.
#[derive(Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Hedge {
    /// 1 for the first hedge.
    pub number: u8,
}

/// What an attempt's answer means for its call ([`Plan::on_answer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Answer {
    /// It is the call's answer: cancel every other attempt.
    Win,
    /// Drop it and wait for the attempts still running.
    Wait,
    /// It is the call's answer, a failure: no attempt is left.
    Fail,
}

/// One call's hedges: when the next is due, and what they took from the
/// budget.
#[derive(Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Plan {
    delay: Duration,
    next: Option<Instant>,
    left: u8,
    /// The withdrawal of each hedge started, in order.
    spent: [Option<Withdrawal>; MAX_HEDGES],
    started: u8,
    stopped: bool,
}

impl Plan {
    /// When the next hedge is due, if any is left.
    pub const fn next_at(&self) -> Option<Instant> {
        if self.stopped || self.left == 0 {
            None
        } else {
            self.next
        }
    }

    /// A hedge to start at `now`, if one is due and `budget` pays for it.
    /// A refusal stops the hedging of this call.
    ///
    /// ```
    /// use steadfast::hedge::{Config, Delay, Hedger};
    /// use steadfast::retry::{Budget, BudgetConfig};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// // A budget with no floor and nothing deposited refuses every hedge.
    /// let mut budget: Budget = Budget::new(BudgetConfig::new().with_min_retries_per_sec(0))?;
    /// let hedger: Hedger = Hedger::new(Config::new().with_delay(Delay::Fixed(Duration::from_millis(10))))?;
    /// let mut plan = hedger.start(Instant::ZERO);
    /// assert!(plan.poll(Instant::from_millis(10), &mut budget).is_none());
    /// assert_eq!(plan.next_at(), None);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn poll<B: RetryBudget + ?Sized>(&mut self, now: Instant, budget: &mut B) -> Option<Hedge> {
        let due = self.next_at()?;
        if now < due {
            return None;
        }
        let Some(withdrawal) = budget.withdraw(Outcome::TimedOut, now) else {
            self.stopped = true;
            return None;
        };
        if let Some(slot) = self.spent.get_mut(usize::from(self.started)) {
            *slot = Some(withdrawal);
        }
        self.started += 1;
        let number = self.started;
        self.left -= 1;
        self.next = Some(now.saturating_add(self.delay));
        Some(Hedge { number })
    }

    /// What an attempt's answer means for the call, the attempt having
    /// ended with `outcome` while `running` other attempts are still in
    /// flight: a success wins ([`Answer::Win`]: cancel the others); a
    /// failure waits for the others while any runs ([`Answer::Wait`]: drop
    /// this attempt), and is the call's answer when none does
    /// ([`Answer::Fail`]). A failure starts no hedge early: hedges answer
    /// slowness; a failed call is the retry's to repeat.
    ///
    /// ```
    /// use steadfast::hedge::{Answer, Config, Hedger};
    /// use steadfast::outcome::Outcome;
    /// use steadfast::time::Instant;
    ///
    /// let hedger: Hedger = Hedger::new(Config::DEFAULT)?;
    /// let plan = hedger.start(Instant::ZERO);
    /// assert_eq!(plan.on_answer(Outcome::Success, 1), Answer::Win);
    /// assert_eq!(plan.on_answer(Outcome::Failure, 1), Answer::Wait);
    /// assert_eq!(plan.on_answer(Outcome::TimedOut, 0), Answer::Fail);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn on_answer(&self, outcome: Outcome, running: u8) -> Answer {
        match outcome {
            Outcome::Success => Answer::Win,
            _ if running > 0 => Answer::Wait,
            _ => Answer::Fail,
        }
    }

    /// Hedges started so far.
    pub const fn started(&self) -> u8 {
        self.started
    }

    /// The call is over: tells `budget` whether it succeeded (`won`: the
    /// number of the hedge whose answer won, 0 for the first attempt; `None`
    /// when every attempt failed).
    pub fn finish<B: RetryBudget + ?Sized>(self, won: Option<u8>, now: Instant, budget: &mut B) {
        if let Some(w) = won {
            let retry = match w {
                0 => None,
                n => self.spent.get(usize::from(n) - 1).copied().flatten(),
            };
            budget.on_success(retry, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::{Budget, BudgetConfig, Unlimited};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fixed_hedges_are_spaced_by_the_delay_and_capped() {
        let h: Hedger = Hedger::new(
            Config::new()
                .with_delay(Delay::Fixed(ms(30)))
                .with_max_hedges(3),
        )
        .unwrap();
        let mut plan = h.start(Instant::from_millis(100));
        let mut started = [0u64; 3];
        let mut n = 0;
        for t in 100..400 {
            if let Some(hedge) = plan.poll(Instant::from_millis(t), &mut Unlimited) {
                started[n] = t;
                n += 1;
                assert_eq!(usize::from(hedge.number), n);
            }
        }
        assert_eq!(started, [130, 160, 190]);
        assert_eq!((plan.started(), plan.next_at()), (3, None));
    }

    #[test]
    fn a_late_poll_starts_one_hedge_and_the_next_waits_a_whole_delay() {
        let h: Hedger = Hedger::new(
            Config::new()
                .with_delay(Delay::Fixed(ms(10)))
                .with_max_hedges(2),
        )
        .unwrap();
        let mut plan = h.start(Instant::ZERO);
        assert!(
            plan.poll(Instant::from_millis(55), &mut Unlimited)
                .is_some()
        );
        assert!(
            plan.poll(Instant::from_millis(55), &mut Unlimited)
                .is_none()
        );
        assert_eq!(plan.next_at(), Some(Instant::from_millis(65)));
    }

    #[test]
    fn the_percentile_follows_the_latencies_and_decays() {
        let p50 = Delay::Percentile {
            permille: 500,
            min_samples: 10,
            fallback: ms(999),
        };
        let mut h: Hedger = Hedger::new(Config::new().with_delay(p50)).unwrap();
        for _ in 0..9 {
            h.record(ms(1));
        }
        assert_eq!(h.delay(), ms(999), "fallback below min_samples");
        h.record(ms(1));
        // 1 ms = 1000 µs lies in [512, 1024) µs: the estimate is 1024 µs.
        assert_eq!(h.delay(), Duration::from_micros(1024));
        // The dependency slows to 100 ms: halving every 1024 samples lets the
        // new latencies take over the median.
        for _ in 0..2_048 {
            h.record(ms(100));
        }
        assert_eq!(h.delay(), Duration::from_micros(131_072));
        assert!(h.delay() >= ms(100), "never below the true percentile");
    }

    #[test]
    fn the_longest_bucket_never_hedges() {
        let p50 = Delay::Percentile {
            permille: 500,
            min_samples: 1,
            fallback: ms(1),
        };
        let mut h: Hedger<4> = Hedger::new(Config::new().with_delay(p50)).unwrap();
        h.record(Duration::from_secs(3_600));
        assert_eq!(h.delay(), Duration::MAX);
        assert_eq!(h.start(Instant::ZERO).next_at(), Some(Instant::MAX));
    }

    #[test]
    fn hedges_spend_from_the_budget_and_a_refusal_stops_them() {
        // Two requests at 500 ‰ and no floor: one retry's worth, so one hedge.
        let mut budget: Budget = Budget::new(
            BudgetConfig::new()
                .with_ratio_permille(500)
                .with_min_retries_per_sec(0),
        )
        .unwrap();
        budget.on_request(Instant::ZERO);
        budget.on_request(Instant::ZERO);
        let h: Hedger = Hedger::new(
            Config::new()
                .with_delay(Delay::Fixed(ms(10)))
                .with_max_hedges(4),
        )
        .unwrap();
        let mut plan = h.start(Instant::ZERO);
        let mut hedges = 0;
        for t in 0..200 {
            hedges += usize::from(plan.poll(Instant::from_millis(t), &mut budget).is_some());
        }
        assert_eq!(hedges, 1);
        assert_eq!(plan.next_at(), None, "refused: no more hedges");
        plan.finish(Some(1), Instant::from_millis(200), &mut budget);
    }

    #[test]
    fn a_success_wins_and_a_failure_waits_while_another_attempt_runs() {
        let h: Hedger = Hedger::new(Config::DEFAULT).unwrap();
        let plan = h.start(Instant::ZERO);
        for running in [0, 1, 4] {
            assert_eq!(plan.on_answer(Outcome::Success, running), Answer::Win);
        }
        for outcome in [Outcome::Failure, Outcome::TimedOut, Outcome::Ignored] {
            assert_eq!(plan.on_answer(outcome, 2), Answer::Wait);
            assert_eq!(plan.on_answer(outcome, 0), Answer::Fail);
        }
    }

    #[test]
    fn validation_names_the_field() {
        let field = |c: Config| Hedger::<32>::new(c).unwrap_err().field;
        assert_eq!(field(Config::new().with_max_hedges(5)), "max_hedges");
        let bad = Delay::Percentile {
            permille: 1000,
            min_samples: 1,
            fallback: ms(1),
        };
        assert_eq!(field(Config::new().with_delay(bad)), "percentile");
        let bad = Delay::Percentile {
            permille: 990,
            min_samples: 1,
            fallback: Duration::ZERO,
        };
        assert_eq!(field(Config::new().with_delay(bad)), "fallback");
        assert_eq!(
            Hedger::<0>::new(Config::DEFAULT).unwrap_err().field,
            "buckets"
        );
    }
}
