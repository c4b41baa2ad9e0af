//! Timeouts as values: per-attempt and total [`Deadline`]s.
//!
//! The core cannot cancel anything: it only says *when* time is up. The
//! adapters race the call against the deadline and drop the future when it
//! wins (a real cancellation, unlike resilience4j's `TimeLimiter`).
//!
//! # Rules
//!
//! * **A timeout is reached when `now >= deadline`** (inclusive).
//! * **Zero or past means already expired**: `Deadline::after(now, Duration::ZERO)`
//!   is expired at `now`; nothing is started against it (gRPC; Polly reads zero
//!   as "no timeout" — we do not).
//! * **"No timeout" is an explicit `None`** (`Option<Deadline>`,
//!   `timeout::Config { attempt: None, .. }`), never a magic zero. A deadline at
//!   [`Instant::MAX`] is reached only when the clock reads `MAX`.
//! * **A result arriving after its timeout is discarded.** Once
//!   [`Deadline::is_expired`] holds, the attempt *is* a timeout, whatever comes
//!   back later: the caller (the pipeline, an adapter) must check the deadline
//!   when the result arrives — [`Deadline::check`] — and report
//!   [`Outcome::TimedOut`] instead of the late result.
//! * **Expiry is an outcome the other patterns understand**: it maps to
//!   [`Outcome::TimedOut`] / [`Verdict::timed_out()`] ([`Elapsed::verdict`]).
//!   The breaker counts it as a failure (and as a slow call); the retry retries
//!   it when its config says timeouts are retryable (`retry_on_timeout`,
//!   default true), within attempts and the total deadline.
//! * **An attempt's deadline is the earliest of** `now + attempt` and the
//!   total deadline ([`timeout::Config::attempt_deadline`](crate::timeout::Config::attempt_deadline)).
//!
//! ```
//! use steadfast::timeout::{self, Deadline};
//! use steadfast::time::{Duration, Instant};
//!
//! let t = Instant::from_secs;
//! let config = timeout::Config::NONE.with_attempt(Duration::from_secs(2)).with_total(Duration::from_secs(5));
//! let total = config.total_deadline(t(0));            // t=5s
//! let first = config.attempt_deadline(t(0), total);   // min(t=2s, t=5s)
//! assert_eq!(first, Some(Deadline::at(t(2))));
//! let late = config.attempt_deadline(t(4), total);    // min(t=6s, t=5s)
//! assert_eq!(late, Some(Deadline::at(t(5))));
//! assert!(late.is_some_and(|d| d.is_expired(t(5)))); // inclusive
//! ```

use core::fmt;

use crate::error::ConfigError;
use crate::outcome::{Outcome, Verdict};
use crate::time::{Duration, Instant};

/// The instant by which something must be done; reached when `now >= instant`.
///
/// "No deadline" is `Option<Deadline>::None`, never a special value.
///
/// ```
/// use steadfast::timeout::Deadline;
/// use steadfast::time::{Duration, Instant};
///
/// let d = Deadline::after(Instant::from_secs(10), Duration::from_secs(30));
/// assert_eq!(d.instant(), Instant::from_secs(40));
/// assert_eq!(d.remaining(Instant::from_secs(25)), Duration::from_secs(15));
/// assert!(!d.is_expired(Instant::from_secs(39)));
/// assert!(d.is_expired(Instant::from_secs(40)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Deadline(Instant);

impl Deadline {
    /// A deadline at `instant`.
    ///
    /// ```
    /// # use steadfast::timeout::Deadline;
    /// # use steadfast::time::Instant;
    /// assert_eq!(Deadline::at(Instant::from_secs(3)).instant(), Instant::from_secs(3));
    /// ```
    pub const fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// A deadline `timeout` after `now` (saturating at [`Instant::MAX`]). A zero
    /// timeout is already expired at `now`.
    ///
    /// ```
    /// # use steadfast::timeout::Deadline;
    /// # use steadfast::time::{Duration, Instant};
    /// let now = Instant::from_secs(1);
    /// assert!(Deadline::after(now, Duration::ZERO).is_expired(now));
    /// assert_eq!(Deadline::after(Instant::MAX, Duration::from_secs(1)).instant(), Instant::MAX);
    /// ```
    pub const fn after(now: Instant, timeout: Duration) -> Self {
        Self(now.saturating_add(timeout))
    }

    /// The instant of the deadline.
    ///
    /// ```
    /// # use steadfast::timeout::Deadline;
    /// # use steadfast::time::Instant;
    /// assert_eq!(Deadline::at(Instant::ZERO).instant(), Instant::ZERO);
    /// ```
    pub const fn instant(self) -> Instant {
        self.0
    }

    /// Time left at `now`; [`Duration::ZERO`] once expired (never negative).
    ///
    /// ```
    /// # use steadfast::timeout::Deadline;
    /// # use steadfast::time::{Duration, Instant};
    /// let d = Deadline::at(Instant::from_millis(500));
    /// assert_eq!(d.remaining(Instant::from_millis(200)), Duration::from_millis(300));
    /// assert_eq!(d.remaining(Instant::from_secs(9)), Duration::ZERO);
    /// ```
    pub const fn remaining(self, now: Instant) -> Duration {
        self.0.saturating_duration_since(now)
    }

    /// Whether the deadline is reached at `now`: `now >= instant` (inclusive).
    ///
    /// ```
    /// # use steadfast::timeout::Deadline;
    /// # use steadfast::time::Instant;
    /// let d = Deadline::at(Instant::from_secs(2));
    /// assert!(!d.is_expired(Instant::from_micros(1_999_999)));
    /// assert!(d.is_expired(Instant::from_secs(2)));
    /// ```
    pub const fn is_expired(self, now: Instant) -> bool {
        now.as_micros() >= self.0.as_micros()
    }

    /// The earlier of two deadlines (the one that bites first).
    ///
    /// ```
    /// # use steadfast::timeout::Deadline;
    /// # use steadfast::time::Instant;
    /// let a = Deadline::at(Instant::from_secs(2));
    /// let b = Deadline::at(Instant::from_secs(5));
    /// assert_eq!(a.earliest(b), a);
    /// assert_eq!(b.earliest(a), a);
    /// ```
    #[must_use]
    pub const fn earliest(self, other: Self) -> Self {
        Self(self.0.min(other.0))
    }

    /// `Ok(remaining)` while time is left, `Err(Elapsed)` once `now >= instant`.
    /// Call it before starting work *and* when a result arrives: a result that
    /// arrives at or after the deadline is discarded and reported as
    /// [`Outcome::TimedOut`].
    ///
    /// ```
    /// use steadfast::outcome::Outcome;
    /// use steadfast::timeout::Deadline;
    /// use steadfast::time::{Duration, Instant};
    ///
    /// let d = Deadline::at(Instant::from_secs(2));
    /// assert_eq!(d.check(Instant::from_secs(1)), Ok(Duration::from_secs(1)));
    /// // The reply came back at t=2s: too late, whatever it says.
    /// let late = d.check(Instant::from_secs(2)).unwrap_err();
    /// assert_eq!(late.verdict().outcome, Outcome::TimedOut);
    /// ```
    pub const fn check(self, now: Instant) -> Result<Duration, Elapsed> {
        if self.is_expired(now) {
            Err(Elapsed { deadline: self })
        } else {
            Ok(self.remaining(now))
        }
    }
}

/// The earliest of two optional deadlines, `None` meaning "no deadline".
///
/// ```
/// use steadfast::timeout::{earliest, Deadline};
/// use steadfast::time::Instant;
///
/// let a = Some(Deadline::at(Instant::from_secs(2)));
/// assert_eq!(earliest(a, None), a);
/// assert_eq!(earliest(None, None), None);
/// assert_eq!(earliest(a, Some(Deadline::at(Instant::from_secs(1)))), Some(Deadline::at(Instant::from_secs(1))));
/// ```
pub const fn earliest(a: Option<Deadline>, b: Option<Deadline>) -> Option<Deadline> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.earliest(b)),
        (Some(d), None) | (None, Some(d)) => Some(d),
        (None, None) => None,
    }
}

/// A deadline was reached: the attempt is a timeout.
///
/// Maps to [`Outcome::TimedOut`] and [`Verdict::timed_out()`]: a failure (and a
/// slow call) for the breaker, retryable when the retry config allows it.
///
/// ```
/// use steadfast::outcome::{Outcome, Verdict};
/// use steadfast::timeout::{Deadline, Elapsed};
/// use steadfast::time::Instant;
///
/// let e = Elapsed { deadline: Deadline::at(Instant::from_secs(3)) };
/// assert_eq!(e.outcome(), Outcome::TimedOut);
/// assert_eq!(e.verdict(), Verdict::timed_out());
/// assert_eq!(format!("{e}"), "deadline t=3s elapsed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Elapsed {
    /// The deadline that was reached.
    pub deadline: Deadline,
}

impl Elapsed {
    /// [`Outcome::TimedOut`], what the breaker records.
    ///
    /// ```
    /// # use steadfast::outcome::Outcome;
    /// # use steadfast::timeout::{Deadline, Elapsed};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Elapsed { deadline: Deadline::at(Instant::ZERO) }.outcome(), Outcome::TimedOut);
    /// ```
    pub const fn outcome(self) -> Outcome {
        Outcome::TimedOut
    }

    /// [`Verdict::timed_out()`], what the pipeline feeds the breaker and retry.
    ///
    /// ```
    /// # use steadfast::timeout::{Deadline, Elapsed};
    /// # use steadfast::time::Instant;
    /// assert!(Elapsed { deadline: Deadline::at(Instant::ZERO) }.verdict().retryable);
    /// ```
    pub const fn verdict(self) -> Verdict {
        Verdict::timed_out()
    }
}

impl fmt::Display for Elapsed {
    /// `deadline t=3s elapsed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "deadline {} elapsed", self.deadline.instant())
    }
}

impl core::error::Error for Elapsed {}

/// Per-attempt and total timeouts. `None` means no timeout; `Some(ZERO)`
/// means already expired (nothing starts).
///
/// Every value is valid (there is nothing to reject), so [`timeout::Config::new`](crate::timeout::Config::new)
/// returns the config itself. An `attempt` longer than `total` is harmless: the
/// earliest deadline wins.
///
/// The default follows the seeds: 30 s per attempt (`timeout::Config.timeout: float = 30.0`),
/// no total deadline.
///
/// ```
/// use steadfast::timeout;
/// use steadfast::time::Duration;
///
/// let c = timeout::Config::default();
/// assert_eq!(c.attempt(), Some(Duration::from_secs(30)));
/// assert_eq!(c.total(), None);
/// const BOTH: timeout::Config = timeout::Config::DEFAULT
///     .with_attempt(Duration::from_secs(2))
///     .with_total(Duration::from_secs(10));
/// assert_eq!(BOTH.total(), Some(Duration::from_secs(10)));
/// assert_eq!(timeout::Config::DEFAULT.without_attempt(), timeout::Config::NONE);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Config {
    /// Time allowed for one attempt, from its start; `None` = unlimited.
    pub(crate) attempt: Option<Duration>,
    /// Time allowed for the whole call, retries and waits included, from its
    /// start; `None` = unlimited.
    pub(crate) total: Option<Duration>,
}

impl Config {
    /// The seed defaults as a constant: 30 s per attempt, no total deadline.
    ///
    /// ```
    /// # use steadfast::timeout;
    /// static TIMEOUTS: timeout::Config = timeout::Config::DEFAULT;
    /// assert_eq!(TIMEOUTS, timeout::Config::default());
    /// ```
    pub const DEFAULT: Self = Self {
        attempt: Some(Duration::from_secs(30)),
        total: None,
    };

    /// No timeout at all (both `None`).
    ///
    /// ```
    /// # use steadfast::timeout;
    /// # use steadfast::time::Instant;
    /// assert_eq!(timeout::Config::NONE.attempt_deadline(Instant::ZERO, None), None);
    /// ```
    pub const NONE: Self = Self {
        attempt: None,
        total: None,
    };

    /// The defaults; start of a `const` builder chain (same as [`Config::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::timeout;
    /// assert_eq!(timeout::Config::new(), timeout::Config::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Sets the time allowed for one attempt, from its start.
    ///
    /// ```
    /// # use steadfast::timeout;
    /// # use steadfast::time::Duration;
    /// let c = timeout::Config::NONE.with_attempt(Duration::from_secs(10));
    /// assert_eq!(c.attempt(), Some(Duration::from_secs(10)));
    /// ```
    #[must_use]
    pub const fn with_attempt(mut self, attempt: Duration) -> Self {
        self.attempt = Some(attempt);
        self
    }

    /// Removes the attempt timeout: an attempt runs until the total deadline,
    /// if any.
    ///
    /// ```
    /// # use steadfast::timeout;
    /// assert_eq!(timeout::Config::DEFAULT.without_attempt().attempt(), None);
    /// ```
    #[must_use]
    pub const fn without_attempt(mut self) -> Self {
        self.attempt = None;
        self
    }

    /// Sets the time allowed for the whole call, retries and waits included,
    /// from its start.
    ///
    /// ```
    /// # use steadfast::timeout;
    /// # use steadfast::time::Duration;
    /// let c = timeout::Config::DEFAULT.with_total(Duration::from_secs(60));
    /// assert_eq!(c.total(), Some(Duration::from_secs(60)));
    /// ```
    #[must_use]
    pub const fn with_total(mut self, total: Duration) -> Self {
        self.total = Some(total);
        self
    }

    /// Removes the total timeout.
    ///
    /// ```
    /// # use steadfast::timeout;
    /// # use steadfast::time::Duration;
    /// let c = timeout::Config::DEFAULT.with_total(Duration::from_secs(1)).without_total();
    /// assert_eq!(c, timeout::Config::DEFAULT);
    /// ```
    #[must_use]
    pub const fn without_total(mut self) -> Self {
        self.total = None;
        self
    }

    /// Time allowed for one attempt; `None` when unlimited.
    ///
    /// ```
    /// # use steadfast::timeout;
    /// # use steadfast::time::Duration;
    /// assert_eq!(timeout::Config::DEFAULT.attempt(), Some(Duration::from_secs(30)));
    /// ```
    pub const fn attempt(&self) -> Option<Duration> {
        self.attempt
    }

    /// Time allowed for the whole call; `None` when unlimited.
    ///
    /// ```
    /// # use steadfast::timeout;
    /// assert_eq!(timeout::Config::DEFAULT.total(), None);
    /// ```
    pub const fn total(&self) -> Option<Duration> {
        self.total
    }

    /// The check every config has; a timeout config has nothing to reject.
    ///
    /// ```
    /// # use steadfast::timeout;
    /// assert!(timeout::Config::NONE.validate().is_ok());
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }

    /// The whole call's deadline for a call starting at `start`; `None` without
    /// a total timeout.
    ///
    /// ```
    /// # use steadfast::timeout::{self, Deadline};
    /// # use steadfast::time::{Duration, Instant};
    /// let c = timeout::Config::NONE.with_total(Duration::from_secs(5));
    /// assert_eq!(c.total_deadline(Instant::from_secs(1)), Some(Deadline::at(Instant::from_secs(6))));
    /// ```
    pub const fn total_deadline(&self, start: Instant) -> Option<Deadline> {
        match self.total {
            Some(total) => Some(Deadline::after(start, total)),
            None => None,
        }
    }

    /// The deadline of an attempt starting at `now`: the earliest of
    /// `now + attempt` and `total` (the call's deadline from
    /// [`total_deadline`](Self::total_deadline)); `None` when neither exists.
    ///
    /// ```
    /// # use steadfast::timeout::{self, Deadline};
    /// # use steadfast::time::{Duration, Instant};
    /// let t = Instant::from_secs;
    /// let c = timeout::Config::NONE.with_attempt(Duration::from_secs(2));
    /// assert_eq!(c.attempt_deadline(t(1), None), Some(Deadline::at(t(3))));
    /// assert_eq!(c.attempt_deadline(t(1), Some(Deadline::at(t(2)))), Some(Deadline::at(t(2))));
    /// assert_eq!(timeout::Config::NONE.attempt_deadline(t(1), Some(Deadline::at(t(9)))), Some(Deadline::at(t(9))));
    /// ```
    pub const fn attempt_deadline(
        &self,
        now: Instant,
        total: Option<Deadline>,
    ) -> Option<Deadline> {
        let attempt = match self.attempt {
            Some(attempt) => Some(Deadline::after(now, attempt)),
            None => None,
        };
        earliest(attempt, total)
    }
}

impl Default for Config {
    /// [`timeout::Config::DEFAULT`](crate::timeout::Config::DEFAULT): 30 s per attempt, no total deadline.
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn at_ms(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    const fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn expiry_is_inclusive_and_zero_is_expired() {
        let d = Deadline::after(at_ms(100), ms(50));
        assert!(!d.is_expired(at_ms(149)));
        assert!(d.is_expired(at_ms(150)));
        assert!(d.is_expired(at_ms(151)));
        assert_eq!(d.remaining(at_ms(100)), ms(50));
        assert_eq!(d.remaining(at_ms(150)), Duration::ZERO);
        assert!(Deadline::after(at_ms(7), Duration::ZERO).is_expired(at_ms(7)));
        // A deadline in the past is expired too.
        assert!(Deadline::at(at_ms(5)).is_expired(at_ms(7)));
        assert_eq!(
            Deadline::at(at_ms(5)).check(at_ms(7)),
            Err(Elapsed {
                deadline: Deadline::at(at_ms(5))
            })
        );
    }

    #[test]
    fn saturates_at_the_edges() {
        let d = Deadline::after(Instant::MAX, Duration::MAX);
        assert_eq!(d.instant(), Instant::MAX);
        assert!(!d.is_expired(Instant::from_micros(u64::MAX - 1)));
        assert!(d.is_expired(Instant::MAX));
        assert_eq!(
            Deadline::at(Instant::ZERO).remaining(Instant::MAX),
            Duration::ZERO
        );
        assert_eq!(
            Deadline::at(Instant::MAX).remaining(Instant::ZERO),
            Duration::MAX
        );
    }

    #[test]
    fn attempt_deadline_is_the_earliest() {
        let c = Config::NONE.with_attempt(ms(200)).with_total(ms(500));
        let total = c.total_deadline(at_ms(0));
        assert_eq!(total, Some(Deadline::at(at_ms(500))));
        assert_eq!(
            c.attempt_deadline(at_ms(0), total),
            Some(Deadline::at(at_ms(200)))
        );
        assert_eq!(
            c.attempt_deadline(at_ms(250), total),
            Some(Deadline::at(at_ms(450)))
        );
        assert_eq!(
            c.attempt_deadline(at_ms(400), total),
            Some(Deadline::at(at_ms(500)))
        );
        // Past the total deadline: the attempt is already expired.
        let late = c.attempt_deadline(at_ms(600), total);
        assert!(late.is_some_and(|d| d.is_expired(at_ms(600))));
        // Zero attempt timeout: expired as it starts.
        let zero = Config::NONE.with_attempt(Duration::ZERO);
        assert!(
            zero.attempt_deadline(at_ms(3), None)
                .is_some_and(|d| d.is_expired(at_ms(3)))
        );
        assert_eq!(Config::NONE.attempt_deadline(at_ms(3), None), None);
        assert_eq!(Config::NONE.total_deadline(at_ms(3)), None);
    }

    #[test]
    fn elapsed_is_a_timeout() {
        let e = Elapsed {
            deadline: Deadline::at(at_ms(1)),
        };
        assert_eq!(e.outcome(), Outcome::TimedOut);
        assert!(e.outcome().is_failure());
        assert_eq!(e.verdict(), Verdict::timed_out());
    }
}
