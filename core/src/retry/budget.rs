//! Retry budgets: how many retries a client (or a whole dependency) may send,
//! so that a fleet of clients cannot multiply an outage's load.

use crate::error::ConfigError;
use crate::time::{Duration, Instant};

/// Tokens one retry costs; a request deposits `ratio_permille` of them. Scaling by
/// 1000 makes every per-mille ratio exact: 250 ‰ grants exactly one retry per four
/// requests, 100 ‰ one per ten (tower's float budget over-grants these, tower #857).
const TOKENS_PER_RETRY: i64 = 1_000;

/// Something that may refuse a retry: [`Budget`], [`TokenBucket`] or [`Unlimited`].
///
/// [`Retry::on_outcome_with_budget`](super::Retry::on_outcome_with_budget) asks it
/// only once a retry has passed every other check (attempts, deadline), so a
/// refused-anyway retry never spends budget.
///
/// ```
/// use steadfast::retry::{RetryBudget, Unlimited};
/// use steadfast::time::Instant;
///
/// fn send(budget: &mut impl RetryBudget, now: Instant) -> bool {
///     budget.on_request(now);
///     budget.try_withdraw(now) // would we be allowed one retry?
/// }
/// assert!(send(&mut Unlimited, Instant::ZERO));
/// ```
pub trait RetryBudget {
    /// An original request (not a retry) was sent.
    fn on_request(&mut self, now: Instant);
    /// Takes the cost of one retry if the budget has it; `false` refuses the retry.
    fn try_withdraw(&mut self, now: Instant) -> bool;
}

/// No budget: every retry is allowed (the pipeline's default when none is set).
///
/// ```
/// use steadfast::retry::{RetryBudget, Unlimited};
/// use steadfast::time::Instant;
/// assert!(Unlimited.try_withdraw(Instant::ZERO));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unlimited;

impl RetryBudget for Unlimited {
    fn on_request(&mut self, _now: Instant) {}
    fn try_withdraw(&mut self, _now: Instant) -> bool {
        true
    }
}

/// The settings of a Finagle-style [`Budget`].
///
/// * `ratio_permille`: retries allowed per request, in ‰ (200 = one retry per five
///   requests). Exact integer accounting, no rounding up.
/// * `min_retries_per_sec`: a floor so that a client with little traffic can still
///   retry: `min_retries_per_sec × window` retries per window even with no requests.
/// * `window`: how long a deposit (and a withdrawal) counts (Finagle's TTL).
///
/// Defaults are Finagle's and Linkerd's: 20 %, 10 retries per second, 10 s window.
///
/// ```
/// use steadfast::retry::BudgetConfig;
/// use steadfast::time::Duration;
///
/// let c = BudgetConfig::new(250, 0, Duration::from_secs(10))?;
/// assert_eq!(c.ratio_permille(), 250);
/// assert_eq!(BudgetConfig::new(250, 0, Duration::ZERO).unwrap_err().field, "window");
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BudgetConfig {
    ratio_permille: u32,
    min_retries_per_sec: u32,
    window: Duration,
}

impl Default for BudgetConfig {
    /// [`BudgetConfig::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl BudgetConfig {
    /// 200 ‰ (20 %), 10 retries per second, 10 s window (Finagle, Linkerd).
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// assert_eq!(BudgetConfig::DEFAULT.min_retries_per_sec(), 10);
    /// ```
    pub const DEFAULT: Self = Self {
        ratio_permille: 200,
        min_retries_per_sec: 10,
        window: Duration::from_secs(10),
    };

    /// A validated budget config; the `window` must not be zero. A ratio of 0 with no
    /// floor is valid and refuses every retry.
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// # use steadfast::time::Duration;
    /// assert!(BudgetConfig::new(1_000, 0, Duration::from_secs(1)).is_ok()); // 1 retry per request
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn new(
        ratio_permille: u32,
        min_retries_per_sec: u32,
        window: Duration,
    ) -> Result<Self, ConfigError> {
        let config = Self {
            ratio_permille,
            min_retries_per_sec,
            window,
        };
        match config.validate() {
            Ok(()) => Ok(config),
            Err(e) => Err(e),
        }
    }

    /// Checks a config that did not come through [`BudgetConfig::new`].
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// assert!(BudgetConfig::DEFAULT.validate().is_ok());
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.window.is_zero() {
            return Err(ConfigError {
                field: "window",
                problem: "must be longer than zero",
            });
        }
        Ok(())
    }

    /// Retries allowed per request, in per-mille.
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// assert_eq!(BudgetConfig::DEFAULT.ratio_permille(), 200);
    /// ```
    pub const fn ratio_permille(&self) -> u32 {
        self.ratio_permille
    }

    /// The floor of retries per second, averaged over the window.
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// assert_eq!(BudgetConfig::DEFAULT.min_retries_per_sec(), 10);
    /// ```
    pub const fn min_retries_per_sec(&self) -> u32 {
        self.min_retries_per_sec
    }

    /// How long deposits and withdrawals count.
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// # use steadfast::time::Duration;
    /// assert_eq!(BudgetConfig::DEFAULT.window(), Duration::from_secs(10));
    /// ```
    pub const fn window(&self) -> Duration {
        self.window
    }
}

/// Counters of a [`Budget`] or [`TokenBucket`] since construction.
///
/// ```
/// use steadfast::retry::{Budget, BudgetConfig};
/// use steadfast::time::Instant;
///
/// let mut budget: Budget = Budget::new(BudgetConfig::DEFAULT)?;
/// budget.on_request(Instant::ZERO);
/// assert_eq!(budget.stats().requests, 1);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BudgetStats {
    /// Original requests deposited.
    pub requests: u64,
    /// Retries allowed.
    pub retries_granted: u64,
    /// Retries refused for lack of budget.
    pub retries_refused: u64,
}

/// A Finagle-style retry budget, shared by every call to one dependency: each
/// request deposits `ratio_permille` tokens, each retry withdraws 1000, and a
/// floor of `min_retries_per_sec × window` retries is always available.
///
/// Deposits and withdrawals count for `window`, kept in `K` time buckets
/// (const generic, default 10) of `window / K` each: an entry expires between
/// `window - window/K` and `window` after it was made. Accounting is exact in
/// integers: with 250 ‰ and no floor, 4 requests buy exactly 1 retry, 3 buy none
/// (tower's float budget over-grants fractional ratios, tower #857). The floor is
/// `min_retries_per_sec × window` retries (in tokens: `min × window_µs / 1000`,
/// exact for whole-millisecond windows).
///
/// A clock that goes backwards is read as the latest instant seen. Deposit once per
/// original request with [`on_request`](Self::on_request); ask
/// [`try_withdraw`](Self::try_withdraw) before each retry (or let
/// [`Retry::on_outcome_with_budget`](super::Retry::on_outcome_with_budget) do it).
///
/// ```
/// use steadfast::retry::{Budget, BudgetConfig};
/// use steadfast::time::{Duration, Instant};
///
/// let config = BudgetConfig::new(250, 0, Duration::from_secs(10))?;
/// let mut budget = Budget::<10>::new(config)?;
/// let t = Instant::from_secs(1);
/// for _ in 0..3 { budget.on_request(t); }
/// assert!(!budget.try_withdraw(t)); // 3 × 250 ‰ < 1 retry
/// budget.on_request(t);
/// assert!(budget.try_withdraw(t)); // 4 × 250 ‰ = exactly 1
/// assert!(!budget.try_withdraw(t));
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Budget<const K: usize = 10> {
    config: BudgetConfig,
    /// Microseconds per bucket, ≥ 1.
    slice: u64,
    /// Tokens always available: the `min_retries_per_sec` floor.
    reserve: i64,
    /// Net tokens (deposits − withdrawals) per time slice; ring indexed by slice % K.
    buckets: [i64; K],
    /// The slice number (`now / slice`) of the newest bucket.
    current: u64,
    last_now: Instant,
    stats: BudgetStats,
}

impl<const K: usize> Budget<K> {
    /// A full-window budget with nothing deposited yet (only the floor available).
    /// Errors name `window` if it is zero or shorter than `K` microseconds, and `K`
    /// if `K` is 0.
    ///
    /// ```
    /// use steadfast::retry::{Budget, BudgetConfig};
    /// // const-constructible: can live in a static (behind the adapter's mutex)
    /// const BUDGET: Budget<4> = match Budget::new(BudgetConfig::DEFAULT) {
    ///     Ok(b) => b,
    ///     Err(_) => panic!(),
    /// };
    /// assert!(Budget::<0>::new(BudgetConfig::DEFAULT).is_err());
    /// ```
    pub const fn new(config: BudgetConfig) -> Result<Self, ConfigError> {
        if let Err(e) = config.validate() {
            return Err(e);
        }
        if K == 0 {
            return Err(ConfigError {
                field: "K",
                problem: "a budget needs at least one time bucket",
            });
        }
        let window = config.window.as_micros();
        let slice = window / K as u64;
        if slice == 0 {
            return Err(ConfigError {
                field: "window",
                problem: "must be at least K microseconds (one per bucket)",
            });
        }
        let reserve = config.min_retries_per_sec as u128 * window as u128 / 1_000;
        let reserve = if reserve > i64::MAX as u128 {
            i64::MAX
        } else {
            reserve as i64
        };
        Ok(Self {
            config,
            slice,
            reserve,
            buckets: [0; K],
            current: 0,
            last_now: Instant::ZERO,
            stats: BudgetStats {
                requests: 0,
                retries_granted: 0,
                retries_refused: 0,
            },
        })
    }

    /// Deposits `ratio_permille` tokens for one original request.
    ///
    /// ```
    /// # use steadfast::retry::{Budget, BudgetConfig};
    /// # use steadfast::time::{Duration, Instant};
    /// let mut b: Budget = Budget::new(BudgetConfig::new(1_000, 0, Duration::from_secs(1))?)?;
    /// b.on_request(Instant::ZERO);
    /// assert_eq!(b.retries_available(Instant::ZERO), 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn on_request(&mut self, now: Instant) {
        self.advance(now);
        self.stats.requests = self.stats.requests.saturating_add(1);
        self.add(i64::from(self.config.ratio_permille));
    }

    /// Withdraws one retry's worth of tokens if available; `false` refuses the retry.
    ///
    /// ```
    /// # use steadfast::retry::{Budget, BudgetConfig};
    /// # use steadfast::time::{Duration, Instant};
    /// // no deposits, floor 1/s over 2 s: two retries per window
    /// let mut b: Budget = Budget::new(BudgetConfig::new(0, 1, Duration::from_secs(2))?)?;
    /// let t = Instant::ZERO;
    /// assert!(b.try_withdraw(t) && b.try_withdraw(t) && !b.try_withdraw(t));
    /// assert!(b.try_withdraw(t + Duration::from_secs(2))); // withdrawals expired
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn try_withdraw(&mut self, now: Instant) -> bool {
        self.advance(now);
        if self.tokens() >= TOKENS_PER_RETRY {
            self.add(-TOKENS_PER_RETRY);
            self.stats.retries_granted = self.stats.retries_granted.saturating_add(1);
            true
        } else {
            self.stats.retries_refused = self.stats.retries_refused.saturating_add(1);
            false
        }
    }

    /// Whole retries available at `now` (floor included).
    ///
    /// ```
    /// # use steadfast::retry::{Budget, BudgetConfig};
    /// # use steadfast::time::Instant;
    /// let mut b: Budget = Budget::new(BudgetConfig::DEFAULT)?;
    /// assert_eq!(b.retries_available(Instant::ZERO), 100); // 10/s × 10 s
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn retries_available(&mut self, now: Instant) -> u64 {
        self.advance(now);
        u64::try_from(self.tokens() / TOKENS_PER_RETRY).unwrap_or(0)
    }

    /// The config this budget was built with.
    ///
    /// ```
    /// # use steadfast::retry::{Budget, BudgetConfig};
    /// let b: Budget = Budget::new(BudgetConfig::DEFAULT)?;
    /// assert_eq!(b.config(), BudgetConfig::DEFAULT);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn config(&self) -> BudgetConfig {
        self.config
    }

    /// Counters since construction.
    ///
    /// ```
    /// # use steadfast::retry::{Budget, BudgetConfig};
    /// let b: Budget = Budget::new(BudgetConfig::DEFAULT)?;
    /// assert_eq!(b.stats().retries_granted, 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn stats(&self) -> BudgetStats {
        self.stats
    }

    /// Net tokens in the window plus the floor.
    fn tokens(&self) -> i64 {
        self.buckets
            .iter()
            .fold(self.reserve, |sum, b| sum.saturating_add(*b))
    }

    fn add(&mut self, tokens: i64) {
        let index = self.current.checked_rem(K as u64).unwrap_or(0);
        if let Some(bucket) = usize::try_from(index)
            .ok()
            .and_then(|i| self.buckets.get_mut(i))
        {
            *bucket = bucket.saturating_add(tokens);
        }
    }

    /// Moves the ring to `now`'s slice, clearing the buckets that fell out of the
    /// window (at most `K` of them, whatever the gap).
    fn advance(&mut self, now: Instant) {
        let now = now.max(self.last_now);
        self.last_now = now;
        let slice = now.as_micros() / self.slice.max(1);
        if slice <= self.current {
            return;
        }
        let gap = slice - self.current;
        if gap >= K as u64 {
            self.buckets = [0; K];
        } else {
            for step in 1..=gap {
                let index = (self.current + step).checked_rem(K as u64).unwrap_or(0);
                if let Some(bucket) = usize::try_from(index)
                    .ok()
                    .and_then(|i| self.buckets.get_mut(i))
                {
                    *bucket = 0;
                }
            }
        }
        self.current = slice;
    }
}

impl<const K: usize> RetryBudget for Budget<K> {
    fn on_request(&mut self, now: Instant) {
        Self::on_request(self, now);
    }
    fn try_withdraw(&mut self, now: Instant) -> bool {
        Self::try_withdraw(self, now)
    }
}

/// The AWS SDKs' retry quota (an alternative to [`Budget`]): a bucket of
/// `capacity` tokens; a retry costs `retry_cost`; a success refills
/// `success_refill` up to the capacity. No time window: it drains during an
/// outage and refills as calls succeed again.
///
/// AWS "standard" mode uses capacity 500, cost 5 (10 for timeouts), refill 1:
/// [`TokenBucket::AWS`]. Pass the timeout cost as the `retry_cost` of a second
/// bucket, or use [`try_withdraw_cost`](Self::try_withdraw_cost), to charge
/// timeouts more.
///
/// ```
/// use steadfast::retry::TokenBucket;
///
/// let mut quota = TokenBucket::new(10, 5, 1)?;
/// assert!(quota.try_withdraw_cost(5));
/// assert!(quota.try_withdraw_cost(5));
/// assert!(!quota.try_withdraw_cost(5)); // drained
/// quota.on_success();
/// assert_eq!(quota.tokens(), 1);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TokenBucket {
    capacity: u32,
    tokens: u32,
    retry_cost: u32,
    success_refill: u32,
}

impl TokenBucket {
    /// The AWS SDK standard retry quota: 500 tokens, 5 per retry, 1 back per success.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucket;
    /// assert_eq!(TokenBucket::AWS.tokens(), 500);
    /// ```
    pub const AWS: Self = Self {
        capacity: 500,
        tokens: 500,
        retry_cost: 5,
        success_refill: 1,
    };

    /// A full bucket; errors name `capacity` (must be > 0) or `retry_cost` (must be
    /// > 0 and ≤ capacity).
    ///
    /// ```
    /// # use steadfast::retry::TokenBucket;
    /// assert_eq!(TokenBucket::new(10, 0, 1).unwrap_err().field, "retry_cost");
    /// ```
    pub const fn new(
        capacity: u32,
        retry_cost: u32,
        success_refill: u32,
    ) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError {
                field: "capacity",
                problem: "must be greater than zero",
            });
        }
        if retry_cost == 0 || retry_cost > capacity {
            return Err(ConfigError {
                field: "retry_cost",
                problem: "must be between 1 and `capacity`",
            });
        }
        Ok(Self {
            capacity,
            tokens: capacity,
            retry_cost,
            success_refill,
        })
    }

    /// Takes `cost` tokens if there are that many.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucket;
    /// let mut q = TokenBucket::AWS;
    /// assert!(q.try_withdraw_cost(10)); // a timeout costs 10 in AWS standard mode
    /// assert_eq!(q.tokens(), 490);
    /// ```
    pub fn try_withdraw_cost(&mut self, cost: u32) -> bool {
        match self.tokens.checked_sub(cost) {
            Some(left) => {
                self.tokens = left;
                true
            }
            None => false,
        }
    }

    /// A call succeeded: refill `success_refill` tokens, up to the capacity.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucket;
    /// let mut q = TokenBucket::AWS;
    /// q.on_success();
    /// assert_eq!(q.tokens(), 500); // never above the capacity
    /// ```
    pub fn on_success(&mut self) {
        self.tokens = self
            .tokens
            .saturating_add(self.success_refill)
            .min(self.capacity);
    }

    /// Tokens left.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucket;
    /// assert_eq!(TokenBucket::new(7, 1, 1)?.tokens(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn tokens(&self) -> u32 {
        self.tokens
    }
}

impl RetryBudget for TokenBucket {
    /// Requests deposit nothing: the bucket refills on [`TokenBucket::on_success`].
    fn on_request(&mut self, _now: Instant) {}
    fn try_withdraw(&mut self, _now: Instant) -> bool {
        self.try_withdraw_cost(self.retry_cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn fractional_ratios_are_exact() {
        for (permille, per_retry) in [(250, 4), (100, 10), (200, 5), (1_000, 1), (333, 4)] {
            let config = BudgetConfig::new(permille, 0, Duration::from_secs(10)).unwrap();
            let mut b = Budget::<10>::new(config).unwrap();
            // 40 requests in the same instant, then drain.
            for _ in 0..40 {
                b.on_request(at(0));
            }
            let mut granted = 0;
            while b.try_withdraw(at(0)) {
                granted += 1;
            }
            assert_eq!(granted, 40 * permille / 1_000, "{permille} ‰");
            let _ = per_retry;
        }
    }

    #[test]
    fn deposits_expire_with_the_window_timeline() {
        // 10 s window, 10 buckets of 1 s, 500 ‰, no floor.
        let config = BudgetConfig::new(500, 0, Duration::from_secs(10)).unwrap();
        let mut b = Budget::<10>::new(config).unwrap();
        b.on_request(at(0));
        b.on_request(at(500)); // same bucket [0 s, 1 s)
        b.on_request(at(5_000)); // bucket [5 s, 6 s)
        b.on_request(at(5_999));
        assert_eq!(b.retries_available(at(9_999)), 2);
        assert_eq!(b.retries_available(at(10_000)), 1); // first bucket dropped
        assert_eq!(b.retries_available(at(14_999)), 1);
        assert_eq!(b.retries_available(at(15_000)), 0);
        // a clock going backwards is read as the latest instant: nothing revives
        assert_eq!(b.retries_available(at(1_000)), 0);
        assert!(!b.try_withdraw(at(0)));
        assert_eq!(b.stats().retries_refused, 1);
    }

    #[test]
    fn withdrawals_expire_too_and_floor_holds() {
        // floor 2/s over a 1 s window: 2 retries per window without any request
        let config = BudgetConfig::new(0, 2, Duration::from_secs(1)).unwrap();
        let mut b = Budget::<4>::new(config).unwrap();
        assert!(b.try_withdraw(at(0)));
        assert!(b.try_withdraw(at(300)));
        assert!(!b.try_withdraw(at(999)));
        assert!(b.try_withdraw(at(1_000))); // the one at 0 expired (bucket [0, 250 ms))
        assert!(!b.try_withdraw(at(1_000)));
        assert!(b.try_withdraw(at(1_250)));
        assert_eq!(b.stats().retries_granted, 4);
    }

    #[test]
    fn huge_gaps_and_extremes_do_not_panic() {
        let config = BudgetConfig::new(u32::MAX, u32::MAX, Duration::MAX).unwrap();
        let mut b = Budget::<3>::new(config).unwrap();
        b.on_request(Instant::MAX);
        assert!(b.try_withdraw(Instant::ZERO));
        let tiny = BudgetConfig::new(1, 0, Duration::from_micros(3)).unwrap();
        assert!(Budget::<3>::new(tiny).is_ok());
        assert_eq!(Budget::<4>::new(tiny).unwrap_err().field, "window");
        let mut b = Budget::<3>::new(tiny).unwrap();
        for i in 0..2_000 {
            b.on_request(Instant::from_micros(i * 7));
        }
        assert_eq!(b.retries_available(Instant::MAX), 0);
    }
}
