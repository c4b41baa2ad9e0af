//! Retrying one call: a per-call machine fed each attempt's [`Verdict`] and
//! `now`, returning what to do next.
//!
//! * [`retry::Config`](crate::retry::Config): attempts, backoff, hint cap, whether timeouts are retried.
//! * [`Retry`]: one call's state (attempts so far, previous delay, total deadline).
//! * [`RetryDecision`]: `RetryAt { at, attempt, delay }` (the on-retry event),
//!   `GiveUp(reason)` (the seeds' "retry exhausted"), or `Done`.
//! * [`Budget`] / [`TokenBucket`] / [`Unlimited`]: shared limits on how many
//!   retries a dependency may receive ([`RetryBudget`]).
//!
//! Which results are retryable is decided by the caller's classifier
//! ([`Classify`](crate::outcome::Classify)), which turns a result into a
//! [`Verdict`] without allocating: the seeds' `retryable_exceptions`, `retry_on`
//! predicates and "status >= 500" rules live there.
//!
//! ```
//! use steadfast::backoff::{Backoff, Ratio};
//! use steadfast::outcome::Verdict;
//! use steadfast::retry::{self, GiveUpReason, Retry, RetryDecision};
//! use steadfast::rng::SplitMix64;
//! use steadfast::time::{Duration, Instant};
//!
//! let backoff = Backoff::exponential(Duration::from_millis(100), Ratio::TWO, Duration::from_secs(60));
//! let config = retry::Config::DEFAULT.with_max_attempts(3).with_backoff(backoff);
//! let mut rng = SplitMix64::new(1);
//! let t0 = Instant::ZERO;
//! let mut retry = Retry::new(config, t0, None); // attempt 1 starts at t0
//!
//! let d = retry.on_outcome(Verdict::failure(), Instant::from_millis(10), &mut rng);
//! assert_eq!(d, RetryDecision::RetryAt {
//!     at: Instant::from_millis(110), attempt: 2, delay: Duration::from_millis(100),
//! });
//! let d = retry.on_outcome(Verdict::failure(), Instant::from_millis(120), &mut rng);
//! assert_eq!(d, RetryDecision::RetryAt {
//!     at: Instant::from_millis(320), attempt: 3, delay: Duration::from_millis(200),
//! });
//! let d = retry.on_outcome(Verdict::failure(), Instant::from_millis(330), &mut rng);
//! assert_eq!(d, RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { attempts: 3 }));
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

mod any;
mod budget;
mod config;
mod grpc;

pub use any::{AnyBudget, AnyBudgetConfig};
pub use budget::{
    Budget, BudgetConfig, BudgetStats, RetryBudget, TokenBucket, TokenBucketConfig, Unlimited,
    Withdrawal,
};
pub use config::Config;
pub use grpc::{GrpcThrottle, GrpcThrottleConfig};

use core::fmt;

use crate::backoff::{Backoff, Delays};
use crate::outcome::{Outcome, Verdict};
use crate::rng::Rng;
use crate::time::{Duration, Instant};

/// Why a [`Retry`] stopped retrying.
///
/// ```
/// use steadfast::retry::GiveUpReason;
/// let r = GiveUpReason::AttemptsExhausted { attempts: 3 };
/// assert_eq!(format!("{r}"), "retries exhausted after 3 attempts");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GiveUpReason {
    /// The last failure may not be retried (its verdict said so, or it timed out and
    /// the config does not retry timeouts).
    NotRetryable,
    /// `max_attempts` attempts were made (the first included).
    AttemptsExhausted {
        /// Attempts made, the first included.
        attempts: u32,
    },
    /// The next attempt would start at or after the total deadline.
    DeadlineWouldPass,
    /// The retry budget refused the retry.
    BudgetExhausted,
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRetryable => f.write_str("failure is not retryable"),
            Self::AttemptsExhausted { attempts } => {
                write!(f, "retries exhausted after {attempts} attempts")
            }
            Self::DeadlineWouldPass => f.write_str("next attempt would start past the deadline"),
            Self::BudgetExhausted => f.write_str("retry budget exhausted"),
        }
    }
}

/// What to do after an attempt.
///
/// `RetryAt` is also the on-retry event (attempt number and chosen delay, for logs
/// and `retry_attempts_total`); `GiveUp` is the seeds' `RetryExhausted` (the caller
/// keeps the last result; [`Retry::attempts`] says how many attempts were made).
///
/// ```
/// use steadfast::retry::{GiveUpReason, RetryDecision};
/// use steadfast::time::{Duration, Instant};
///
/// let decision = RetryDecision::RetryAt {
///     at: Instant::from_millis(150), attempt: 2, delay: Duration::from_millis(100),
/// };
/// match decision {
///     RetryDecision::RetryAt { at, attempt, delay } => assert_eq!((attempt, delay.as_millis()), (2, 100)),
///     RetryDecision::GiveUp(reason) => panic!("{reason}"),
///     RetryDecision::Done => {}
/// }
/// assert!(decision.is_retry());
/// assert!(RetryDecision::GiveUp(GiveUpReason::BudgetExhausted).is_final());
/// ```
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RetryDecision {
    /// Start attempt number `attempt` at `at` (= the outcome's `now` + `delay`).
    RetryAt {
        /// When to start the next attempt.
        at: Instant,
        /// The number of the next attempt (2 for the first retry).
        attempt: u32,
        /// The delay chosen (backoff, jitter and hint applied).
        delay: Duration,
    },
    /// Stop: return the last failure to the caller.
    GiveUp(GiveUpReason),
    /// The last result is final and not a failure (a success, or an ignored outcome
    /// that is not retryable): return it.
    Done,
}

impl RetryDecision {
    /// Whether this schedules another attempt.
    ///
    /// ```
    /// # use steadfast::retry::RetryDecision;
    /// assert!(!RetryDecision::Done.is_retry());
    /// ```
    pub const fn is_retry(&self) -> bool {
        matches!(self, Self::RetryAt { .. })
    }

    /// Whether the call is over (`Done` or `GiveUp`).
    ///
    /// ```
    /// # use steadfast::retry::RetryDecision;
    /// assert!(RetryDecision::Done.is_final());
    /// ```
    pub const fn is_final(&self) -> bool {
        !self.is_retry()
    }
}

/// One call's retry state: feed it each attempt's verdict, it says when (or
/// whether) to try again. Small and `Copy`; create one per call.
///
/// Rules, in the order they are checked on [`on_outcome`](Self::on_outcome):
///
/// 1. A [`Outcome::Success`] is [`Done`](RetryDecision::Done). A verdict that is
///    not retryable (or a timeout when `retry_on_timeout` is false) is
///    `GiveUp(NotRetryable)` if it is a failure or timeout, else `Done`.
/// 2. **Attempts**: `max_attempts` counts all attempts including the first; once
///    that many were made: `GiveUp(AttemptsExhausted { attempts })`. With
///    [`retry::Config::UNLIMITED_ATTEMPTS`](crate::retry::Config::UNLIMITED_ATTEMPTS) there is no such limit and the count
///    saturates at `u32::MAX`.
/// 3. **Delay**: retry `n` (`n = attempts so far`; the first retry waits `base`)
///    takes [`Backoff::jittered`](crate::backoff::Backoff::jittered) with the
///    previous delay used. **Retry-after hint**: with a hint the delay is
///    `min(max(hint, computed), max_retry_after)` — never sooner than the server
///    asked, never past our cap.
/// 4. **Total deadline**: a retry that would start at or after the deadline
///    (`now + delay >= deadline`) is refused *before* sleeping:
///    `GiveUp(DeadlineWouldPass)`. Sleeping into a dead deadline wastes the
///    caller's time (gax).
/// 5. **Budget** (only with [`on_outcome_with_budget`](Self::on_outcome_with_budget)):
///    asked last, so a retry refused for another reason spends nothing:
///    `GiveUp(BudgetExhausted)`. The retry's [`Withdrawal`] is held until the
///    retried attempt's outcome: a success reports it to the budget
///    ([`RetryBudget::on_success`]; a first-attempt success reports `None`),
///    which is how the AWS [`TokenBucket`] refunds a successful retry; a retry
///    that never runs gives it back ([`give_back`](Self::give_back)).
///
/// Then `RetryAt { at: now + delay, attempt, delay }`, and the scheduled attempt
/// counts as made. After a final decision every further outcome returns the same
/// decision. A clock that goes backwards is read as the latest `now` seen.
///
/// ```
/// use steadfast::outcome::Verdict;
/// use steadfast::retry::{self, GiveUpReason, Retry, RetryDecision};
/// use steadfast::rng::SplitMix64;
/// use steadfast::time::{Duration, Instant};
///
/// let mut rng = SplitMix64::new(9);
/// let deadline = Instant::from_millis(150);
/// let mut retry = Retry::new(retry::Config::DEFAULT, Instant::ZERO, Some(deadline));
/// // the server says "come back in 200 ms": that would start past the deadline
/// let verdict = Verdict::failure().retry_after(Duration::from_millis(200));
/// assert_eq!(
///     retry.on_outcome(verdict, Instant::from_millis(5), &mut rng),
///     RetryDecision::GiveUp(GiveUpReason::DeadlineWouldPass),
/// );
/// assert_eq!(retry.attempts(), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Retry<D: Delays = Backoff> {
    config: Config<D>,
    deadline: Option<Instant>,
    last_now: Instant,
    progress: Progress,
}

/// A call's retry state without its configuration, total deadline and
/// clock-max, which every decision is lent: what a pipeline's call keeps,
/// borrowing the configuration from its pipeline and sharing the call's own
/// deadline and clock instead of holding copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Progress {
    attempts: u32,
    previous: Duration,
    /// The final decision, once made: `Done` or a give-up reason (1 byte,
    /// where an `Option<RetryDecision>` would take 32).
    finished: Option<Final>,
    /// What the scheduled retry took from the budget, until its outcome.
    scheduled: Option<Withdrawal>,
}

impl<D: Delays> Retry<D> {
    /// A call whose first attempt starts at `now`, with an optional total deadline
    /// (`None` = no total deadline).
    ///
    /// ```
    /// # use steadfast::retry::{self, Retry};
    /// # use steadfast::time::Instant;
    /// let retry = Retry::new(retry::Config::DEFAULT, Instant::ZERO, None);
    /// assert_eq!(retry.attempts(), 1);
    /// ```
    pub const fn new(config: Config<D>, now: Instant, total_deadline: Option<Instant>) -> Self {
        Self {
            config,
            deadline: total_deadline,
            last_now: now,
            progress: Progress::new(),
        }
    }

    /// The decision after an attempt ended with `verdict` at `now`; `rng` draws the
    /// jitter. No budget is consulted (see
    /// [`on_outcome_with_budget`](Self::on_outcome_with_budget)).
    ///
    /// ```
    /// # use steadfast::outcome::Verdict;
    /// # use steadfast::retry::{self, Retry, RetryDecision};
    /// # use steadfast::rng::SplitMix64;
    /// # use steadfast::time::Instant;
    /// let mut retry = Retry::new(retry::Config::DEFAULT, Instant::ZERO, None);
    /// let d = retry.on_outcome(Verdict::success(), Instant::from_millis(3), &mut SplitMix64::new(0));
    /// assert_eq!(d, RetryDecision::Done);
    /// ```
    pub fn on_outcome(
        &mut self,
        verdict: Verdict,
        now: Instant,
        rng: &mut impl Rng,
    ) -> RetryDecision {
        self.on_outcome_with_budget(verdict, now, rng, &mut Unlimited)
    }

    /// Like [`on_outcome`](Self::on_outcome), and a retry that passes every other
    /// check must also be granted by `budget` ([`RetryBudget::try_withdraw`]).
    /// Deposit the call's request in the budget yourself, once, when it starts.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// use steadfast::retry::{self, Budget, BudgetConfig, GiveUpReason, Retry, RetryDecision};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::{Duration, Instant};
    ///
    /// // 500 ‰, no floor: two requests buy one retry
    /// let mut budget: Budget = Budget::new(BudgetConfig::DEFAULT.with_ratio_permille(500).with_min_retries_per_sec(0).with_window(Duration::from_secs(10)))?;
    /// let mut rng = SplitMix64::new(0);
    /// let t = Instant::ZERO;
    /// budget.on_request(t);
    /// let mut retry = Retry::new(retry::Config::DEFAULT, t, None);
    /// assert_eq!(
    ///     retry.on_outcome_with_budget(Verdict::failure(), t, &mut rng, &mut budget),
    ///     RetryDecision::GiveUp(GiveUpReason::BudgetExhausted),
    /// );
    /// budget.on_request(t);
    /// let mut retry = Retry::new(retry::Config::DEFAULT, t, None);
    /// assert!(retry.on_outcome_with_budget(Verdict::failure(), t, &mut rng, &mut budget).is_retry());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn on_outcome_with_budget(
        &mut self,
        verdict: Verdict,
        now: Instant,
        rng: &mut impl Rng,
        budget: &mut impl RetryBudget,
    ) -> RetryDecision {
        let call = Lent {
            config: &self.config,
            deadline: self.deadline,
            last_now: &mut self.last_now,
        };
        self.progress
            .on_outcome_drawn(call, &verdict, now, rng, budget)
    }

    /// The scheduled retry will not run — the call was cancelled during its
    /// backoff, or the breaker or bulkhead refused it locally — so what it
    /// withdrew from `budget` goes back ([`RetryBudget::give_back`]): a
    /// cancelled storm does not drain the budget for nothing.
    ///
    /// Call it before feeding the refused attempt's outcome (any outcome means
    /// the retry ran). Safe to call at any time and more than once: it gives
    /// back only a withdrawal still held for a scheduled retry, and only once.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// use steadfast::retry::{self, Retry, TokenBucket};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    ///
    /// let mut quota = TokenBucket::AWS;
    /// let t = Instant::ZERO;
    /// let mut call = Retry::new(retry::Config::DEFAULT, t, None);
    /// let d = call.on_outcome_with_budget(Verdict::failure(), t, &mut SplitMix64::new(0), &mut quota);
    /// assert!(d.is_retry());
    /// assert_eq!(quota.tokens(), 495);
    /// call.give_back(t, &mut quota); // the caller went away during the backoff
    /// call.give_back(t, &mut quota); // nothing more
    /// assert_eq!(quota.tokens(), 500);
    /// ```
    pub fn give_back(&mut self, now: Instant, budget: &mut impl RetryBudget) {
        if let Some(withdrawal) = self.progress.scheduled.take() {
            budget.give_back(withdrawal, now.max(self.last_now));
        }
    }

    /// What the scheduled retry withdrew from the budget, until its outcome
    /// is fed or it is [given back](Self::give_back).
    ///
    /// ```
    /// # use steadfast::retry::{self, Retry};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Retry::new(retry::Config::DEFAULT, Instant::ZERO, None).withdrawal(), None);
    /// ```
    pub const fn withdrawal(&self) -> Option<Withdrawal> {
        self.progress.scheduled
    }

    /// Attempts made so far, the first and any scheduled retry included.
    ///
    /// ```
    /// # use steadfast::retry::{self, Retry};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Retry::new(retry::Config::DEFAULT, Instant::ZERO, None).attempts(), 1);
    /// ```
    pub const fn attempts(&self) -> u32 {
        self.progress.attempts
    }

    /// The delay chosen before the latest retry ([`Duration::ZERO`] before any).
    ///
    /// ```
    /// # use steadfast::retry::{self, Retry};
    /// # use steadfast::time::{Duration, Instant};
    /// assert_eq!(Retry::new(retry::Config::DEFAULT, Instant::ZERO, None).previous_delay(), Duration::ZERO);
    /// ```
    pub const fn previous_delay(&self) -> Duration {
        self.progress.previous
    }

    /// The total deadline, if any.
    ///
    /// ```
    /// # use steadfast::retry::{self, Retry};
    /// # use steadfast::time::Instant;
    /// let r = Retry::new(retry::Config::DEFAULT, Instant::ZERO, Some(Instant::from_secs(5)));
    /// assert_eq!(r.deadline(), Some(Instant::from_secs(5)));
    /// ```
    pub const fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The final decision, once the call is over.
    ///
    /// ```
    /// # use steadfast::retry::{self, Retry};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Retry::new(retry::Config::DEFAULT, Instant::ZERO, None).finished(), None);
    /// ```
    pub const fn finished(&self) -> Option<RetryDecision> {
        match self.progress.finished {
            Some(f) => Some(f.decision(self.progress.attempts)),
            None => None,
        }
    }

    /// The config this call runs under.
    ///
    /// ```
    /// # use steadfast::retry::{self, Retry};
    /// # use steadfast::time::Instant;
    /// let r = Retry::new(retry::Config::DEFAULT, Instant::ZERO, None);
    /// assert_eq!(r.config(), retry::Config::DEFAULT);
    /// ```
    pub const fn config(&self) -> Config<D> {
        self.config
    }
}

/// What a call lends its [`Progress`] for one decision: the retry
/// configuration, the total deadline and the highest `now` the call has seen
/// (which the decision's `now` raises).
#[derive(Debug)]
pub(crate) struct Lent<'a, D: Delays> {
    pub(crate) config: &'a Config<D>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) last_now: &'a mut Instant,
}

impl Progress {
    /// Before the first attempt's outcome.
    pub(crate) const fn new() -> Self {
        Self {
            attempts: 1,
            previous: Duration::ZERO,
            finished: None,
            scheduled: None,
        }
    }

    /// The decision behind every entry point, once in the image whatever the
    /// rng and budget types: the jitter draw and the budget are a few calls
    /// per retry, the decision is most of the retry's code.
    // Inlined on 64-bit hosts (and devirtualized there); only a hint on 32-bit
    // targets, where code size matters more (one copy for every caller).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    pub(crate) fn on_outcome_drawn<D: Delays>(
        &mut self,
        call: Lent<'_, D>,
        verdict: &Verdict,
        now: Instant,
        rng: &mut dyn Draw,
        budget: &mut dyn RetryBudget,
    ) -> RetryDecision {
        if let Some(decision) = self.finished {
            return decision.decision(self.attempts);
        }
        let now = now.max(*call.last_now);
        *call.last_now = now;
        let decision = self.decide(call.config, call.deadline, verdict, now, rng, budget);
        if decision.is_final() {
            self.finished = Final::of(decision);
        }
        decision
    }

    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    fn decide<D: Delays>(
        &mut self,
        config: &Config<D>,
        deadline: Option<Instant>,
        verdict: &Verdict,
        now: Instant,
        rng: &mut dyn Draw,
        budget: &mut dyn RetryBudget,
    ) -> RetryDecision {
        // The scheduled retry (if any) has run: this is its outcome.
        let ran = self.scheduled.take();
        let timeout_refused = verdict.outcome == Outcome::TimedOut && !config.retry_on_timeout();
        if verdict.outcome == Outcome::Success {
            match ran {
                Some(retry) => budget.on_success(Some(retry), now),
                None if self.attempts == 1 => budget.on_success(None, now),
                // Its withdrawal was given back: nothing left to refund.
                None => {}
            }
            return RetryDecision::Done;
        }
        if !verdict.retryable || timeout_refused {
            return if verdict.outcome.is_failure() {
                RetryDecision::GiveUp(GiveUpReason::NotRetryable)
            } else {
                RetryDecision::Done
            };
        }
        if verdict.outcome.is_failure() {
            budget.on_retryable_failure(verdict.outcome, now);
        }
        if let Some(limit) = config.attempt_limit()
            && self.attempts >= limit
        {
            return RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted {
                attempts: self.attempts,
            });
        }
        let (low, high) = config.delays().draw_range(self.attempts, self.previous);
        let computed = Duration::from_micros(rng.between(low, high));
        let delay = match verdict.retry_after {
            Some(hint) => hint.max(computed).min(config.max_retry_after()),
            None => computed,
        };
        let at = now + delay;
        if let Some(deadline) = deadline
            && at >= deadline
        {
            return RetryDecision::GiveUp(GiveUpReason::DeadlineWouldPass);
        }
        let Some(withdrawal) = budget.withdraw(verdict.outcome, now) else {
            return RetryDecision::GiveUp(GiveUpReason::BudgetExhausted);
        };
        self.scheduled = Some(withdrawal);
        self.attempts = self.attempts.saturating_add(1);
        self.previous = delay;
        RetryDecision::RetryAt {
            at,
            attempt: self.attempts,
            delay,
        }
    }

    /// See [`Retry::withdrawal`].
    pub(crate) const fn withdrawal(&self) -> Option<Withdrawal> {
        self.scheduled
    }

    /// See [`Retry::attempts`].
    pub(crate) const fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// The one thing a retry draws: a number in a range, by the caller's own
/// [`Rng::between`]. A `dyn Draw` has that one method in its vtable (a
/// `dyn Rng` would carry `below` and `between` for every rng type, linked
/// whether called or not).
pub(crate) trait Draw {
    fn between(&mut self, low: u64, high: u64) -> u64;
}

impl<R: Rng> Draw for R {
    #[inline]
    fn between(&mut self, low: u64, high: u64) -> u64 {
        Rng::between(self, low, high)
    }
}

/// A final [`RetryDecision`] in one byte: the attempts of
/// [`GiveUpReason::AttemptsExhausted`] are the [`Progress`]'s own, which stop
/// counting once the decision is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Final {
    Done,
    NotRetryable,
    AttemptsExhausted,
    DeadlineWouldPass,
    BudgetExhausted,
}

impl Final {
    const fn of(decision: RetryDecision) -> Option<Self> {
        Some(match decision {
            RetryDecision::Done => Self::Done,
            RetryDecision::GiveUp(GiveUpReason::NotRetryable) => Self::NotRetryable,
            RetryDecision::GiveUp(GiveUpReason::AttemptsExhausted { .. }) => {
                Self::AttemptsExhausted
            }
            RetryDecision::GiveUp(GiveUpReason::DeadlineWouldPass) => Self::DeadlineWouldPass,
            RetryDecision::GiveUp(GiveUpReason::BudgetExhausted) => Self::BudgetExhausted,
            RetryDecision::RetryAt { .. } => return None,
        })
    }

    const fn decision(self, attempts: u32) -> RetryDecision {
        RetryDecision::GiveUp(match self {
            Self::Done => return RetryDecision::Done,
            Self::NotRetryable => GiveUpReason::NotRetryable,
            Self::AttemptsExhausted => GiveUpReason::AttemptsExhausted { attempts },
            Self::DeadlineWouldPass => GiveUpReason::DeadlineWouldPass,
            Self::BudgetExhausted => GiveUpReason::BudgetExhausted,
        })
    }
}

#[cfg(test)]
mod tests;
