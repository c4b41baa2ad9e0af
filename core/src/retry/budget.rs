//! Retry budgets: how many retries a client (or a whole dependency) may send,
//! so that a fleet of clients cannot multiply an outage's load.

use crate::error::ConfigError;
use crate::outcome::Outcome;
use crate::time::{Duration, Instant};
use core::fmt;

/// Tokens one retry costs; a request deposits `ratio_permille` of them. Scaling by
/// 1000 makes every per-mille ratio exact: 250 ‰ grants exactly one retry per four
/// requests, 100 ‰ one per ten (tower's float budget over-grants these, tower #857).
const TOKENS_PER_RETRY: i64 = 1_000;

/// What a retry took from a [`RetryBudget`]: its cost and when. The
/// [`Retry`](super::Retry) machine holds it while the retry is scheduled, so
/// that a retry that never runs gives it back
/// ([`Retry::give_back`](super::Retry::give_back)) and one that succeeds can be
/// refunded ([`RetryBudget::on_success`], the AWS SDKs' standard mode).
///
/// ```
/// use steadfast::outcome::Outcome;
/// use steadfast::retry::{RetryBudget, TokenBucket, TokenBucketConfig};
/// use steadfast::time::Instant;
///
/// let mut quota = TokenBucket::AWS;
/// let w = quota.withdraw(Outcome::TimedOut, Instant::ZERO).unwrap();
/// assert_eq!((w.cost(), w.at()), (10, Instant::ZERO));
/// quota.give_back(w, Instant::ZERO); // the retry never ran
/// assert_eq!(quota.tokens(), 500);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "a withdrawal is given back or refunded through its budget"]
pub struct Withdrawal {
    cost: u32,
    at: Instant,
    /// One byte with a single valid value: `Option<Withdrawal>` keeps its
    /// `None` there, in what would be padding, and takes no more room than a
    /// withdrawal (16 bytes, not 24).
    held: Held,
}

/// The marker byte of a [`Withdrawal`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
enum Held {
    Yes = 1,
}

impl fmt::Debug for Withdrawal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Withdrawal")
            .field("cost", &self.cost)
            .field("at", &self.at)
            .finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Withdrawal {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Withdrawal {{ cost: {=u32}, at: {} }}",
            self.cost,
            self.at
        );
    }
}

impl Withdrawal {
    /// A withdrawal of `cost` budget units at `at`, for a [`RetryBudget`]
    /// implemented outside this crate.
    ///
    /// ```
    /// # use steadfast::retry::Withdrawal;
    /// # use steadfast::time::Instant;
    /// assert_eq!(Withdrawal::new(5, Instant::ZERO).cost(), 5);
    /// ```
    pub const fn new(cost: u32, at: Instant) -> Self {
        Self {
            cost,
            at,
            held: Held::Yes,
        }
    }

    /// What the retry cost, in the budget's units (tokens of a
    /// [`TokenBucket`], thousandths of a retry for a [`Budget`], 0 for
    /// [`Unlimited`]).
    ///
    /// ```
    /// # use steadfast::retry::Withdrawal;
    /// # use steadfast::time::Instant;
    /// assert_eq!(Withdrawal::new(1_000, Instant::ZERO).cost(), 1_000);
    /// ```
    pub const fn cost(&self) -> u32 {
        self.cost
    }

    /// When it was taken (after the budget's clock-max rule).
    ///
    /// ```
    /// # use steadfast::retry::Withdrawal;
    /// # use steadfast::time::Instant;
    /// assert_eq!(Withdrawal::new(5, Instant::from_secs(2)).at(), Instant::from_secs(2));
    /// ```
    pub const fn at(&self) -> Instant {
        self.at
    }
}

/// Something that may refuse a retry: [`Budget`], [`TokenBucket`] or [`Unlimited`].
///
/// [`Retry::on_outcome_with_budget`](super::Retry::on_outcome_with_budget) drives
/// it: it [withdraws](Self::withdraw) only once a retry has passed every other
/// check (attempts, deadline), so a refused-anyway retry never spends budget;
/// it reports the call's success ([`on_success`](Self::on_success)) with the
/// withdrawal of the retry that succeeded, if any; and
/// [`Retry::give_back`](super::Retry::give_back) returns the withdrawal of a
/// retry that never ran ([`give_back`](Self::give_back)).
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

    /// Takes the cost of one retry after an attempt that ended in `after` (a
    /// failure or a timeout) if the budget has it; `None` refuses the retry.
    fn withdraw(&mut self, after: Outcome, now: Instant) -> Option<Withdrawal>;

    /// Returns a withdrawal whose retry never ran (the call was cancelled
    /// during the backoff, or the breaker or bulkhead refused the retry
    /// locally): the budget is as if it had never been taken, as far as its
    /// accounting still remembers it. Give each withdrawal back at most once.
    fn give_back(&mut self, withdrawal: Withdrawal, now: Instant);

    /// The call succeeded: `retry` is the withdrawal of the retry that
    /// succeeded, `None` when its first attempt did.
    fn on_success(&mut self, retry: Option<Withdrawal>, now: Instant);

    /// An attempt ended in `after` (a failure or a timeout) that the policy
    /// retries, reported before the attempt limit, the deadline or this budget
    /// is consulted: every retryable failure, the last attempt's included.
    /// Nothing by default; [`GrpcThrottle`](super::GrpcThrottle) counts them.
    fn on_retryable_failure(&mut self, after: Outcome, now: Instant) {
        let _ = (after, now);
    }

    /// Takes the cost of one retry after a failure; `false` refuses it.
    fn try_withdraw(&mut self, now: Instant) -> bool {
        self.withdraw(Outcome::Failure, now).is_some()
    }
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
    fn withdraw(&mut self, _after: Outcome, now: Instant) -> Option<Withdrawal> {
        Some(Withdrawal::new(0, now))
    }
    fn give_back(&mut self, _withdrawal: Withdrawal, _now: Instant) {}
    fn on_success(&mut self, _retry: Option<Withdrawal>, _now: Instant) {}
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
/// const C: BudgetConfig = BudgetConfig::DEFAULT.with_ratio_permille(250).with_min_retries_per_sec(0);
/// assert_eq!(C.ratio_permille(), 250);
/// assert_eq!(C.window(), Duration::from_secs(10));
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

    /// The defaults; start of a `const` builder chain (same as [`BudgetConfig::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// assert_eq!(BudgetConfig::new(), BudgetConfig::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Sets the retries allowed per request, in ‰ (200: one retry per five
    /// requests). 0 with no floor is valid and refuses every retry.
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// assert_eq!(BudgetConfig::DEFAULT.with_ratio_permille(1_000).ratio_permille(), 1_000);
    /// ```
    #[must_use]
    pub const fn with_ratio_permille(mut self, ratio_permille: u32) -> Self {
        self.ratio_permille = ratio_permille;
        self
    }

    /// Sets the floor of retries per second, averaged over the window.
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// assert_eq!(BudgetConfig::DEFAULT.with_min_retries_per_sec(0).min_retries_per_sec(), 0);
    /// ```
    #[must_use]
    pub const fn with_min_retries_per_sec(mut self, min_retries_per_sec: u32) -> Self {
        self.min_retries_per_sec = min_retries_per_sec;
        self
    }

    /// Sets how long deposits and withdrawals count (longer than zero).
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// # use steadfast::time::Duration;
    /// let c = BudgetConfig::DEFAULT.with_window(Duration::from_secs(60));
    /// assert_eq!(c.window(), Duration::from_secs(60));
    /// ```
    #[must_use]
    pub const fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The one check of this config, run by [`Budget::new`]: the `window`
    /// must not be zero.
    ///
    /// ```
    /// # use steadfast::retry::BudgetConfig;
    /// # use steadfast::time::Duration;
    /// assert!(BudgetConfig::DEFAULT.validate().is_ok());
    /// assert_eq!(BudgetConfig::DEFAULT.with_window(Duration::ZERO).validate().unwrap_err().field, "window");
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
    /// Granted retries given back unused ([`RetryBudget::give_back`]) while
    /// the budget still held them (also counted in `retries_granted`).
    pub retries_returned: u64,
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
/// # In a retry storm
///
/// This is Finagle's algorithm (`RetryBudget.apply` over
/// `com.twitter.util.TokenBucket.newLeakyBucket`: a windowed sum of deposits and
/// withdrawals plus a constant reserve, `tryGet` only when the sum covers a whole
/// retry), with the same two consequences, both deliberate:
///
/// * **Whole retries per window.** When every request fails and wants a retry,
///   a window grants `⌊ratio × requests in the window + min × window⌋` retries:
///   the deposits and withdrawals that count are those of one window, and a
///   fraction of a retry is never granted (granting it is tower's over-grant,
///   tower #857). The unspent fraction expires with the deposits it came from,
///   so it is not carried into the next window either: against
///   `ratio × rate + min` per window, a storm gets the fractional part fewer,
///   about half a retry per window on average, none when the product is whole.
/// * **The floor comes in bursts.** `min_retries_per_sec × window` is a reserve
///   available at any instant — it is what lets a client that has just started,
///   or sends little traffic, retry at all. A storm spends it at once; those
///   withdrawals expire together one window later, so the floor's retries go
///   through in one burst per window (at 0, 10, 20 s … with a 10 s window),
///   while the ratio's retries follow the requests evenly. To spread retries
///   over time, use no floor (retries then track traffic) or a smaller floor
///   with a shorter window.
///
/// ```
/// use steadfast::retry::{Budget, BudgetConfig};
/// use steadfast::time::{Duration, Instant};
///
/// let config = BudgetConfig::DEFAULT.with_ratio_permille(250).with_min_retries_per_sec(0).with_window(Duration::from_secs(10));
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
    /// const BUDGET: Budget<4> = steadfast::valid!(Budget::new(BudgetConfig::DEFAULT));
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
                retries_returned: 0,
            },
        })
    }

    /// Deposits `ratio_permille` tokens for one original request.
    ///
    /// ```
    /// # use steadfast::retry::{Budget, BudgetConfig};
    /// # use steadfast::time::{Duration, Instant};
    /// let mut b: Budget = Budget::new(BudgetConfig::DEFAULT.with_ratio_permille(1_000).with_min_retries_per_sec(0).with_window(Duration::from_secs(1)))?;
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
    /// let mut b: Budget = Budget::new(BudgetConfig::DEFAULT.with_ratio_permille(0).with_min_retries_per_sec(1).with_window(Duration::from_secs(2)))?;
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

    /// Gives back a withdrawal whose retry never ran: its tokens return to the
    /// time bucket they were taken from, if that bucket is still in the window
    /// (an expired withdrawal is already forgotten: giving it back again would
    /// over-grant). Counted in [`BudgetStats::retries_returned`].
    ///
    /// ```
    /// use steadfast::outcome::Outcome;
    /// use steadfast::retry::{Budget, BudgetConfig, RetryBudget};
    /// use steadfast::time::{Duration, Instant};
    ///
    /// // floor 1/s over 1 s: one retry per window
    /// let mut b: Budget = Budget::new(BudgetConfig::DEFAULT.with_ratio_permille(0).with_min_retries_per_sec(1).with_window(Duration::from_secs(1)))?;
    /// let w = b.withdraw(Outcome::Failure, Instant::ZERO).unwrap();
    /// assert_eq!(b.retries_available(Instant::ZERO), 0);
    /// b.give_back(w, Instant::from_millis(300)); // cancelled during its backoff
    /// assert_eq!(b.retries_available(Instant::from_millis(300)), 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn give_back(&mut self, withdrawal: Withdrawal, now: Instant) {
        self.advance(now);
        let slice = withdrawal.at.as_micros() / self.slice.max(1);
        if slice > self.current || self.current - slice >= K as u64 {
            return;
        }
        let index = slice.checked_rem(K as u64).unwrap_or(0);
        if let Some(bucket) = usize::try_from(index)
            .ok()
            .and_then(|i| self.buckets.get_mut(i))
        {
            *bucket = bucket.saturating_add(i64::from(withdrawal.cost));
            self.stats.retries_returned = self.stats.retries_returned.saturating_add(1);
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
    /// One retry's worth (1000 tokens) whatever the failure.
    fn withdraw(&mut self, _after: Outcome, now: Instant) -> Option<Withdrawal> {
        if Self::try_withdraw(self, now) {
            Some(Withdrawal::new(TOKENS_PER_RETRY as u32, self.last_now))
        } else {
            None
        }
    }
    fn give_back(&mut self, withdrawal: Withdrawal, now: Instant) {
        Self::give_back(self, withdrawal, now);
    }
    /// Nothing: a Finagle budget is paid by requests, not refunded by successes.
    fn on_success(&mut self, _retry: Option<Withdrawal>, _now: Instant) {}
    fn try_withdraw(&mut self, now: Instant) -> bool {
        Self::try_withdraw(self, now)
    }
}

/// The settings of a [`TokenBucket`]: its `capacity` (it starts full), what a
/// retry costs (`retry_cost`, or `timeout_retry_cost` after a timeout; each
/// between 1 and the capacity) and what a first-attempt success adds
/// (`no_retry_increment`; 0: only refunds refill it).
///
/// Defaults: the AWS SDKs' standard mode (500, 5, 10, 1).
///
/// ```
/// use steadfast::retry::TokenBucketConfig;
///
/// const C: TokenBucketConfig = TokenBucketConfig::DEFAULT.with_capacity(100).with_no_retry_increment(0);
/// assert_eq!((C.capacity(), C.retry_cost(), C.no_retry_increment()), (100, 5, 0));
/// assert_eq!(C.with_retry_cost(0).validate().unwrap_err().field, "retry_cost");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TokenBucketConfig {
    capacity: u32,
    retry_cost: u32,
    timeout_retry_cost: u32,
    no_retry_increment: u32,
}

impl TokenBucketConfig {
    /// The AWS SDKs' standard mode: 500 tokens, a retry costs 5 (10 after a
    /// timeout), a first-attempt success adds 1.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.capacity(), 500);
    /// ```
    pub const DEFAULT: Self = Self {
        capacity: 500,
        retry_cost: 5,
        timeout_retry_cost: 10,
        no_retry_increment: 1,
    };

    /// The defaults; start of a `const` builder chain (same as
    /// [`TokenBucketConfig::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::new(), TokenBucketConfig::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Sets the capacity (more than zero); the bucket starts full.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.with_capacity(50).capacity(), 50);
    /// ```
    #[must_use]
    pub const fn with_capacity(mut self, capacity: u32) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets what a retry costs (between 1 and the capacity).
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.with_retry_cost(2).retry_cost(), 2);
    /// ```
    #[must_use]
    pub const fn with_retry_cost(mut self, retry_cost: u32) -> Self {
        self.retry_cost = retry_cost;
        self
    }

    /// Sets what a retry after a timeout costs (between 1 and the capacity).
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.with_timeout_retry_cost(20).timeout_retry_cost(), 20);
    /// ```
    #[must_use]
    pub const fn with_timeout_retry_cost(mut self, timeout_retry_cost: u32) -> Self {
        self.timeout_retry_cost = timeout_retry_cost;
        self
    }

    /// Sets what a call whose first attempt succeeds adds (0: nothing).
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.with_no_retry_increment(0).no_retry_increment(), 0);
    /// ```
    #[must_use]
    pub const fn with_no_retry_increment(mut self, no_retry_increment: u32) -> Self {
        self.no_retry_increment = no_retry_increment;
        self
    }

    /// The capacity.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.capacity(), 500);
    /// ```
    pub const fn capacity(&self) -> u32 {
        self.capacity
    }

    /// What a retry costs.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.retry_cost(), 5);
    /// ```
    pub const fn retry_cost(&self) -> u32 {
        self.retry_cost
    }

    /// What a retry after a timeout costs.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.timeout_retry_cost(), 10);
    /// ```
    pub const fn timeout_retry_cost(&self) -> u32 {
        self.timeout_retry_cost
    }

    /// What a first-attempt success adds.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert_eq!(TokenBucketConfig::DEFAULT.no_retry_increment(), 1);
    /// ```
    pub const fn no_retry_increment(&self) -> u32 {
        self.no_retry_increment
    }

    /// The one check of this config, run by [`TokenBucket::new`]: `capacity`
    /// more than zero, `retry_cost` and `timeout_retry_cost` between 1 and
    /// the capacity.
    ///
    /// ```
    /// # use steadfast::retry::TokenBucketConfig;
    /// assert!(TokenBucketConfig::DEFAULT.validate().is_ok());
    /// assert_eq!(TokenBucketConfig::DEFAULT.with_capacity(0).validate().unwrap_err().field, "capacity");
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.capacity == 0 {
            return Err(ConfigError {
                field: "capacity",
                problem: "must be greater than zero",
            });
        }
        if self.retry_cost == 0 || self.retry_cost > self.capacity {
            return Err(ConfigError {
                field: "retry_cost",
                problem: "must be between 1 and `capacity`",
            });
        }
        if self.timeout_retry_cost == 0 || self.timeout_retry_cost > self.capacity {
            return Err(ConfigError {
                field: "timeout_retry_cost",
                problem: "must be between 1 and `capacity`",
            });
        }
        Ok(())
    }
}

impl Default for TokenBucketConfig {
    /// [`TokenBucketConfig::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The AWS SDKs' retry quota, "standard" retry mode (an alternative to
/// [`Budget`]): a bucket of tokens with no time window. It drains during an
/// outage and refills as calls succeed again.
///
/// The rules, exactly as the AWS SDKs' standard mode (AWS SDKs and Tools
/// Reference Guide, "Retry behavior",
/// <https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>;
/// the constants and the release rule as in aws-sdk-js-v3
/// `middleware-retry`: `constants.ts`, `defaultRetryQuota.ts`,
/// `StandardRetryStrategy.ts`):
///
/// * the bucket starts full: `INITIAL_RETRY_TOKENS` = 500, which is also its
///   capacity;
/// * a retry takes `RETRY_COST` = 5 tokens, or `TIMEOUT_RETRY_COST` = 10 when
///   the attempt it retries timed out ([`Outcome::TimedOut`]); with fewer
///   tokens than that the retry is refused and nothing is taken;
/// * when the call succeeds, the bucket gets back the cost of the retry that
///   succeeded (the last one; the costs of earlier retries, which failed, stay
///   spent), or `NO_RETRY_INCREMENT` = 1 when the first attempt succeeded;
///   never above the capacity;
/// * a call that fails for good gives nothing back.
///
/// [`Retry::on_outcome_with_budget`](super::Retry::on_outcome_with_budget)
/// applies all of this: it withdraws with the attempt's outcome and reports the
/// success with the withdrawal it holds. One addition of steadfast's: the cost
/// of a retry that never ran comes back in full
/// ([`Retry::give_back`](super::Retry::give_back)).
///
/// ```
/// use steadfast::outcome::Verdict;
/// use steadfast::retry::{self, Retry, TokenBucket};
/// use steadfast::rng::SplitMix64;
/// use steadfast::time::Instant;
///
/// let mut quota = TokenBucket::AWS;
/// let mut rng = SplitMix64::new(0);
/// let t = Instant::ZERO;
/// let mut call = Retry::new(retry::Config::DEFAULT, t, None);
/// assert!(call.on_outcome_with_budget(Verdict::timed_out(), t, &mut rng, &mut quota).is_retry());
/// assert_eq!(quota.tokens(), 490); // a timeout's retry costs 10
/// let _ = call.on_outcome_with_budget(Verdict::success(), t, &mut rng, &mut quota);
/// assert_eq!(quota.tokens(), 500); // refunded: the retry succeeded
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TokenBucket {
    capacity: u32,
    tokens: u32,
    retry_cost: u32,
    timeout_retry_cost: u32,
    no_retry_increment: u32,
}

impl TokenBucket {
    /// The AWS SDKs' standard mode: 500 tokens, a retry costs 5 (10 after a
    /// timeout), a first-attempt success adds 1.
    ///
    /// ```
    /// # use steadfast::retry::{TokenBucket, TokenBucketConfig};
    /// assert_eq!(TokenBucket::AWS.tokens(), 500);
    /// assert_eq!(TokenBucket::AWS, TokenBucket::new(TokenBucketConfig::DEFAULT)?);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const AWS: Self = Self {
        capacity: 500,
        tokens: 500,
        retry_cost: 5,
        timeout_retry_cost: 10,
        no_retry_increment: 1,
    };

    /// A full bucket, or the error of [`TokenBucketConfig::validate`],
    /// naming the field.
    ///
    /// ```
    /// # use steadfast::retry::{TokenBucket, TokenBucketConfig};
    /// let bucket = TokenBucket::new(TokenBucketConfig::DEFAULT.with_capacity(10))?;
    /// assert_eq!(bucket.tokens(), 10);
    /// let bad = TokenBucketConfig::DEFAULT.with_capacity(10).with_timeout_retry_cost(11);
    /// assert_eq!(TokenBucket::new(bad).unwrap_err().field, "timeout_retry_cost");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn new(config: TokenBucketConfig) -> Result<Self, ConfigError> {
        if let Err(e) = config.validate() {
            return Err(e);
        }
        Ok(Self {
            capacity: config.capacity,
            tokens: config.capacity,
            retry_cost: config.retry_cost,
            timeout_retry_cost: config.timeout_retry_cost,
            no_retry_increment: config.no_retry_increment,
        })
    }

    /// Takes `cost` tokens if there are that many.
    ///
    /// ```
    /// # use steadfast::retry::{TokenBucket, TokenBucketConfig};
    /// let mut q = TokenBucket::new(TokenBucketConfig::DEFAULT.with_capacity(10))?;
    /// assert!(q.try_withdraw_cost(10));
    /// assert!(!q.try_withdraw_cost(1)); // drained
    /// # Ok::<(), steadfast::error::ConfigError>(())
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

    /// What a retry after `after` costs: `timeout_retry_cost` after a timeout,
    /// `retry_cost` otherwise.
    ///
    /// ```
    /// # use steadfast::outcome::Outcome;
    /// # use steadfast::retry::TokenBucket;
    /// assert_eq!(TokenBucket::AWS.retry_cost(Outcome::TimedOut), 10);
    /// assert_eq!(TokenBucket::AWS.retry_cost(Outcome::Failure), 5);
    /// ```
    pub const fn retry_cost(&self, after: Outcome) -> u32 {
        match after {
            Outcome::TimedOut => self.timeout_retry_cost,
            Outcome::Success | Outcome::Failure | Outcome::Ignored => self.retry_cost,
        }
    }

    /// Tokens left.
    ///
    /// ```
    /// # use steadfast::retry::{TokenBucket, TokenBucketConfig};
    /// assert_eq!(TokenBucket::new(TokenBucketConfig::DEFAULT.with_capacity(7).with_retry_cost(1).with_timeout_retry_cost(1).with_no_retry_increment(1))?.tokens(), 7);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn tokens(&self) -> u32 {
        self.tokens
    }

    /// Adds `tokens`, never above the capacity.
    fn refill(&mut self, tokens: u32) {
        self.tokens = self.tokens.saturating_add(tokens).min(self.capacity);
    }
}

impl RetryBudget for TokenBucket {
    /// Requests deposit nothing: the bucket refills on successes.
    fn on_request(&mut self, _now: Instant) {}
    /// [`retry_cost(after)`](TokenBucket::retry_cost) tokens, if there are that many.
    fn withdraw(&mut self, after: Outcome, now: Instant) -> Option<Withdrawal> {
        let cost = self.retry_cost(after);
        if self.try_withdraw_cost(cost) {
            Some(Withdrawal::new(cost, now))
        } else {
            None
        }
    }
    /// The whole cost comes back (up to the capacity).
    fn give_back(&mut self, withdrawal: Withdrawal, _now: Instant) {
        self.refill(withdrawal.cost);
    }
    /// Refunds the succeeded retry's cost, or adds `no_retry_increment` after a
    /// first-attempt success (up to the capacity).
    ///
    /// ```
    /// use steadfast::retry::{RetryBudget, TokenBucket, TokenBucketConfig};
    /// use steadfast::time::Instant;
    ///
    /// let mut q = TokenBucket::new(TokenBucketConfig::DEFAULT.with_capacity(10))?;
    /// assert!(q.try_withdraw_cost(5));
    /// q.on_success(None, Instant::ZERO);
    /// assert_eq!(q.tokens(), 6);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    fn on_success(&mut self, retry: Option<Withdrawal>, _now: Instant) {
        self.refill(retry.map_or(self.no_retry_increment, |w| w.cost));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn an_absent_withdrawal_takes_no_room_and_the_marker_does_not_show() {
        use core::mem::size_of;
        assert_eq!(size_of::<Option<Withdrawal>>(), size_of::<Withdrawal>());
        let w = Withdrawal::new(5, at(2));
        assert_eq!(
            format!("{w:?}"),
            format!("Withdrawal {{ cost: 5, at: {:?} }}", at(2))
        );
        assert_eq!(Some(w).map(|w| (w.cost(), w.at())), Some((5, at(2))));
    }

    #[test]
    fn fractional_ratios_are_exact() {
        for (permille, per_retry) in [(250, 4), (100, 10), (200, 5), (1_000, 1), (333, 4)] {
            let config = BudgetConfig::DEFAULT
                .with_ratio_permille(permille)
                .with_min_retries_per_sec(0)
                .with_window(Duration::from_secs(10));
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
        let config = BudgetConfig::DEFAULT
            .with_ratio_permille(500)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10));
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
        let config = BudgetConfig::DEFAULT
            .with_ratio_permille(0)
            .with_min_retries_per_sec(2)
            .with_window(Duration::from_secs(1));
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
        let config = BudgetConfig::DEFAULT
            .with_ratio_permille(u32::MAX)
            .with_min_retries_per_sec(u32::MAX)
            .with_window(Duration::MAX);
        let mut b = Budget::<3>::new(config).unwrap();
        b.on_request(Instant::MAX);
        assert!(b.try_withdraw(Instant::ZERO));
        let tiny = BudgetConfig::DEFAULT
            .with_ratio_permille(1)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_micros(3));
        assert!(Budget::<3>::new(tiny).is_ok());
        assert_eq!(Budget::<4>::new(tiny).unwrap_err().field, "window");
        let mut b = Budget::<3>::new(tiny).unwrap();
        for i in 0..2_000 {
            b.on_request(Instant::from_micros(i * 7));
        }
        assert_eq!(b.retries_available(Instant::MAX), 0);
    }

    /// A retry storm against a Finagle budget: a request every `1 s / rate`,
    /// each wanting up to `demand` retries at once. Returns the retries granted
    /// in each second of the first `secs` seconds.
    fn storm(config: BudgetConfig, rate: u64, demand: u32, secs: usize) -> [u64; 60] {
        let mut b = Budget::<10>::new(config).unwrap();
        let mut per_sec = [0u64; 60];
        let step = 1_000_000 / rate;
        let mut t = 0u64;
        while t < secs as u64 * 1_000_000 {
            let now = Instant::from_micros(t);
            b.on_request(now);
            for _ in 0..demand {
                if !b.try_withdraw(now) {
                    break;
                }
                per_sec[(t / 1_000_000) as usize] += 1;
            }
            t += step;
        }
        per_sec
    }

    fn per_window(per_sec: &[u64; 60]) -> [u64; 6] {
        let mut w = [0u64; 6];
        for (s, n) in per_sec.iter().enumerate() {
            w[s / 10] += n;
        }
        w
    }

    #[test]
    fn a_storm_gets_the_whole_part_of_ratio_times_requests_plus_floor_per_window() {
        // 250 ‰ of 70 requests per 10 s window is 17.5 retries: 17 each window,
        // never 18 (the half would be an over-grant), and the half is not
        // carried over: it expires with its deposits.
        let config = BudgetConfig::DEFAULT
            .with_ratio_permille(250)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10));
        assert_eq!(per_window(&storm(config, 7, 100, 60)), [17; 6]);
        // A whole product loses nothing: 200 ‰ of 100 requests is exactly 20.
        let config = BudgetConfig::DEFAULT
            .with_ratio_permille(200)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10));
        assert_eq!(per_window(&storm(config, 10, 100, 60)), [20; 6]);
        // With a floor: 100 ‰ of 130 requests + 1/s × 10 s = 23 exactly.
        let config = BudgetConfig::DEFAULT
            .with_ratio_permille(100)
            .with_min_retries_per_sec(1)
            .with_window(Duration::from_secs(10));
        assert_eq!(per_window(&storm(config, 13, 1, 60)), [23; 6]);
    }

    #[test]
    fn the_floor_is_spent_in_one_burst_per_window_and_the_ratio_follows_the_requests() {
        // Defaults: 200 ‰, 10/s floor, 10 s window; 10 requests/s, all failing.
        let per_sec = storm(BudgetConfig::DEFAULT, 10, 100, 60);
        let mut expected = [2u64; 60];
        for burst in [0, 10, 20, 30, 40, 50] {
            // The floor's 100 retries at once, again when they expire.
            expected[burst] = 102;
        }
        assert_eq!(per_sec, expected);
        // Without a floor the retries follow the traffic evenly.
        let config = BudgetConfig::DEFAULT
            .with_ratio_permille(200)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10));
        assert_eq!(storm(config, 10, 100, 60), [2u64; 60]);
    }
}
