//! The composed policy: total timeout ⊃ retry ⊃ breaker ⊃ bulkhead ⊃ attempt
//! timeout ⊃ your operation, as one pure machine.
//!
//! Every seed builds this by hand (`with_retry().with_timeout().with_bulkhead()`,
//! Polly's policy wrap). Here it is written once, and the adapters (Tokio,
//! blocking `std`, Embassy, the simulator) only *execute* what it says. That is
//! what makes a call behave identically on a Cortex-M0, in a Tokio service and
//! in a deterministic simulation.
//!
//! # How to drive it
//!
//! A [`Pipeline`] is the immutable policy (retry, timeouts, stage order,
//! fallback). Each call gets its own [`Call`] from [`Pipeline::start`]; the
//! machines shared between calls — a [`Breaker`], a [`Bulkhead`], a retry
//! budget — are lent to it at every step through [`Shared`], so an adapter can
//! keep them behind whatever lock it likes and hold that lock only for the few
//! instructions of one step. The loop is always the same:
//!
//! ```
//! use steadfast::breaker::{Breaker, Config as BreakerConfig};
//! use steadfast::outcome::Verdict;
//! use steadfast::pipeline::{Finish, Pipeline, PipelineConfig, Shared, Step};
//! use steadfast::rng::SplitMix64;
//! use steadfast::time::Instant;
//!
//! let pipeline = Pipeline::new(PipelineConfig::default());
//! let mut breaker: Breaker = Breaker::new(BreakerConfig::default())?;
//! let mut rng = SplitMix64::new(7);
//! let mut now = Instant::ZERO;
//! let mut flaky = [Err(()), Ok(42)].into_iter(); // fails once, then works
//!
//! let mut call = pipeline.start(now);
//! let mut shared = Shared::new().with_breaker(&mut breaker);
//! let result = loop {
//!     match call.next(now, &mut shared) {
//!         Step::Attempt { .. } => {
//!             let result = flaky.next().unwrap_or(Ok(0));
//!             let verdict = if result.is_ok() { Verdict::success() } else { Verdict::failure() };
//!             // The pipeline answers with the next step; loop back to read it.
//!             let _ = call.on_outcome(now, verdict, &mut shared, &mut rng);
//!             if call.is_finished() { break result; }
//!         }
//!         Step::Wait { until } | Step::Queued { until, .. } => now = until, // sleep
//!         Step::Done(_) => unreachable!("handled after on_outcome"),
//!     }
//! };
//! assert_eq!(result, Ok(42));
//! assert_eq!(call.finish(), Some(Finish::Completed { attempts: 2, outcome: steadfast::outcome::Outcome::Success }));
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```
//!
//! # The rules
//!
//! * **Order.** [`Order::Standard`]: the total deadline bounds everything; the
//!   retry loop runs inside it; each attempt asks the breaker, then the
//!   bulkhead, then runs under its own attempt deadline. [`Order::BulkheadOutermost`]
//!   is Polly's classic wrap: one bulkhead slot is held for the whole call,
//!   retries included, and is taken before the breaker is asked.
//! * **Rejections are not retried blindly.** When the breaker rejects, the call
//!   waits until the breaker's `retry_at` only if a total deadline is set, a
//!   whole attempt timeout still fits between `retry_at` and that deadline (so
//!   the probe it becomes is not cut short by its own deadline), and attempts
//!   remain (the refused attempt counts as
//!   one, so a call never waits more than `max_attempts - 1` times); otherwise
//!   it ends at once with [`Failure::BreakerOpen`] — without a deadline, failing
//!   fast is the breaker's whole point. A full bulkhead (or a queue wait that
//!   expires) ends the call with [`Failure::BulkheadFull`]: there is no time at
//!   which a slot is known to be free.
//! * **Timeouts.** An attempt's deadline is the earliest of its own timeout and
//!   the total deadline; reached when `now >= deadline`. A zero timeout means the
//!   attempt has already expired: it is not run, and counts as
//!   [`Outcome::TimedOut`]. A result reported at or after its attempt's deadline
//!   is discarded and recorded as `TimedOut` instead (gRPC). When the total
//!   deadline passes while waiting or queued, the call ends with
//!   [`Failure::TimedOut`].
//! * **Budget.** The call deposits one request into the retry budget when it
//!   starts; only a retry that passes attempts and deadline spends budget.
//!   Waiting for a breaker does not (nothing reaches the dependency).
//! * **Fallback** is a decision, not a closure: when [`PipelineConfig::fallback`]
//!   covers how the call failed, it ends with [`Finish::Fallback`] and the adapter
//!   runs the fallback it was given.
//! * **Cancellation.** A `Call` cannot give permits back by itself when dropped
//!   (it does not own the shared machines): an adapter whose future is dropped
//!   calls [`Call::abandon`], which returns a half-open probe slot, releases the
//!   bulkhead slot or leaves its queue.
//! * **Clock.** A clock that goes backwards is read as `max(now, highest now seen)`.

use crate::breaker::{self, Breaker, CircuitBreaker, Consecutive};
use crate::bulkhead::{self, Acquire, Bulkhead, Claim, Ticket};
use crate::outcome::{Outcome, Verdict};
use crate::retry::{GiveUpReason, Retry, RetryBudget, RetryConfig, RetryDecision, Unlimited};
use crate::rng::Rng;
use crate::time::{Duration, Instant};
use crate::timeout::{Deadline, TimeoutConfig};

mod events;
pub use events::{Event, Events};

/// Which stage wraps which. See the [module docs](self).
///
/// ```
/// use steadfast::pipeline::Order;
/// assert_eq!(Order::default(), Order::Standard);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Order {
    /// TotalTimeout → Retry → Breaker → Bulkhead → AttemptTimeout → operation.
    /// A bulkhead slot is held only while an attempt runs.
    #[default]
    Standard,
    /// Bulkhead → TotalTimeout → Retry → Breaker → AttemptTimeout → operation
    /// (Polly's classic wrap): one slot for the whole call, waits included.
    BulkheadOutermost,
}

/// When a failed call is answered by the adapter's fallback instead of an error.
///
/// ```
/// use steadfast::pipeline::{Failure, FallbackOn};
/// let on = FallbackOn::Rejection;
/// assert!(on.covers(&Failure::BulkheadFull { attempts: 1 }));
/// assert!(!on.covers(&Failure::RetriesExhausted { attempts: 3, last: steadfast::outcome::Outcome::Failure }));
/// assert!(FallbackOn::AnyFailure.covers(&Failure::TimedOut { attempts: 1 }));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum FallbackOn {
    /// Never: failures reach the caller.
    #[default]
    Never,
    /// Only when the call was refused without an answer from the dependency:
    /// breaker open, bulkhead full (the seeds' "serve from cache when the
    /// circuit is open").
    Rejection,
    /// Every way a call can fail: rejections, timeouts, exhausted retries,
    /// non-retryable failures.
    AnyFailure,
}

impl FallbackOn {
    /// Whether a call that failed this way gets the fallback.
    ///
    /// ```
    /// # use steadfast::pipeline::{Failure, FallbackOn};
    /// assert!(!FallbackOn::Never.covers(&Failure::BulkheadFull { attempts: 1 }));
    /// ```
    pub const fn covers(self, failure: &Failure) -> bool {
        match self {
            Self::Never => false,
            Self::Rejection => failure.is_rejection(),
            Self::AnyFailure => true,
        }
    }
}

/// The policy of a [`Pipeline`]: retry, timeouts, order and fallback.
///
/// Breaker, bulkhead and budget are not here: they are shared machines with
/// their own configs, lent to each call through [`Shared`].
///
/// ```
/// use steadfast::pipeline::{FallbackOn, PipelineConfig};
/// use steadfast::timeout::TimeoutConfig;
/// use steadfast::time::Duration;
///
/// let config = PipelineConfig::default()
///     .with_timeout(TimeoutConfig::new(Some(Duration::from_secs(2)), Some(Duration::from_secs(10))))
///     .with_fallback(FallbackOn::Rejection);
/// assert_eq!(config.retry.max_attempts(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PipelineConfig {
    /// Attempts, backoff, retry-after cap, whether timeouts are retried.
    pub retry: RetryConfig,
    /// Per-attempt and total timeouts (`None` = no timeout).
    pub timeout: TimeoutConfig,
    /// Which stage wraps which.
    pub order: Order,
    /// When the adapter's fallback answers instead of an error.
    pub fallback: FallbackOn,
}

impl PipelineConfig {
    /// The seeds' defaults: 3 attempts with jittered exponential backoff, a 30 s
    /// attempt timeout, no total timeout, standard order, no fallback.
    pub const DEFAULT: Self = Self {
        retry: RetryConfig::DEFAULT,
        timeout: TimeoutConfig::DEFAULT,
        order: Order::Standard,
        fallback: FallbackOn::Never,
    };

    /// The same config with another retry policy.
    ///
    /// ```
    /// # use steadfast::pipeline::PipelineConfig;
    /// # use steadfast::retry::RetryConfig;
    /// let config = PipelineConfig::DEFAULT.with_retry(RetryConfig::DEFAULT.with_max_attempts(1)?);
    /// assert_eq!(config.retry.max_attempts(), 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub const fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// The same config with other timeouts.
    ///
    /// ```
    /// # use steadfast::pipeline::PipelineConfig;
    /// # use steadfast::timeout::TimeoutConfig;
    /// let config = PipelineConfig::DEFAULT.with_timeout(TimeoutConfig::NONE);
    /// assert_eq!(config.timeout.attempt, None);
    /// ```
    #[must_use]
    pub const fn with_timeout(mut self, timeout: TimeoutConfig) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same config with another stage order.
    ///
    /// ```
    /// # use steadfast::pipeline::{Order, PipelineConfig};
    /// let config = PipelineConfig::DEFAULT.with_order(Order::BulkheadOutermost);
    /// assert_eq!(config.order, Order::BulkheadOutermost);
    /// ```
    #[must_use]
    pub const fn with_order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// The same config with another fallback rule.
    ///
    /// ```
    /// # use steadfast::pipeline::{FallbackOn, PipelineConfig};
    /// let config = PipelineConfig::DEFAULT.with_fallback(FallbackOn::AnyFailure);
    /// assert_eq!(config.fallback, FallbackOn::AnyFailure);
    /// ```
    #[must_use]
    pub const fn with_fallback(mut self, fallback: FallbackOn) -> Self {
        self.fallback = fallback;
        self
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An immutable, `Copy` policy that starts [`Call`]s. Can live in a `static`.
///
/// ```
/// use steadfast::pipeline::{Pipeline, PipelineConfig, Shared, Step};
/// use steadfast::time::Instant;
///
/// static POLICY: Pipeline = Pipeline::new(PipelineConfig::DEFAULT);
/// let mut call = POLICY.start(Instant::ZERO);
/// assert!(matches!(call.next(Instant::ZERO, &mut Shared::new()), Step::Attempt { attempt: 1, .. }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pipeline {
    config: PipelineConfig,
}

impl Pipeline {
    /// A pipeline with this policy. Every part of `config` was validated when it
    /// was built, so this cannot fail.
    ///
    /// ```
    /// # use steadfast::pipeline::{Pipeline, PipelineConfig};
    /// let p = Pipeline::new(PipelineConfig::default());
    /// assert_eq!(p.config().retry.max_attempts(), 3);
    /// ```
    pub const fn new(config: PipelineConfig) -> Self {
        Self { config }
    }

    /// The policy.
    ///
    /// ```
    /// # use steadfast::pipeline::{Pipeline, PipelineConfig};
    /// assert_eq!(Pipeline::new(PipelineConfig::DEFAULT).config(), &PipelineConfig::DEFAULT);
    /// ```
    pub const fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Starts one call at `now`: fixes its total deadline. Nothing is acquired
    /// until the first [`Call::next`].
    ///
    /// ```
    /// # use steadfast::pipeline::{Pipeline, PipelineConfig};
    /// # use steadfast::timeout::TimeoutConfig;
    /// # use steadfast::time::{Duration, Instant};
    /// let p = Pipeline::new(PipelineConfig::DEFAULT.with_timeout(TimeoutConfig::new(None, Some(Duration::from_secs(5)))));
    /// let call = p.start(Instant::from_secs(1));
    /// assert_eq!(call.deadline(), Some(Instant::from_secs(6)));
    /// ```
    pub const fn start(&self, now: Instant) -> Call {
        let total = self.config.timeout.total_deadline(now);
        let total_instant = match total {
            Some(d) => Some(d.instant()),
            None => None,
        };
        Call {
            retry: Retry::new(self.config.retry, now, total_instant),
            timeout: self.config.timeout,
            order: self.config.order,
            fallback: self.config.fallback,
            total,
            phase: Phase::Ready,
            outer: None,
            started: 0,
            deposited: false,
            last_now: now,
            events: Events::new(),
        }
    }
}

/// The shared machines lent to a call for one step. Every field is optional:
/// a pipeline without a breaker simply has none.
///
/// Always lend the same machines to the same call: a call queued in one
/// bulkhead cannot claim its ticket from another.
///
/// ```
/// use steadfast::breaker::{Breaker, Config};
/// use steadfast::pipeline::Shared;
///
/// let mut breaker: Breaker = Breaker::new(Config::default())?;
/// let shared = Shared::new().with_breaker(&mut breaker);
/// assert!(shared.breaker.is_some() && shared.bulkhead.is_none());
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Shared<
    'a,
    G: CircuitBreaker = Breaker<Consecutive>,
    const Q: usize = 10,
    B: RetryBudget = Unlimited,
> {
    /// The circuit breaker, if any: a core [`Breaker`], or any
    /// [`CircuitBreaker`] (an adapter's shared breaker).
    pub breaker: Option<&'a mut G>,
    /// The bulkhead, if any.
    pub bulkhead: Option<&'a mut Bulkhead<Q>>,
    /// The retry budget, if any (none means every retry is allowed).
    pub budget: Option<&'a mut B>,
}

impl<G: CircuitBreaker, const Q: usize, B: RetryBudget> Default for Shared<'_, G, Q, B> {
    fn default() -> Self {
        Self {
            breaker: None,
            bulkhead: None,
            budget: None,
        }
    }
}

impl Shared<'_> {
    /// Nothing shared: retry and timeouts only. Add machines with the `with_*`
    /// methods.
    ///
    /// ```
    /// # use steadfast::pipeline::Shared;
    /// let shared = Shared::new();
    /// assert!(shared.breaker.is_none());
    /// ```
    pub const fn new() -> Self {
        Self {
            breaker: None,
            bulkhead: None,
            budget: None,
        }
    }
}

impl<'a, G: CircuitBreaker, const Q: usize, B: RetryBudget> Shared<'a, G, Q, B> {
    /// With a breaker.
    ///
    /// ```
    /// # use steadfast::breaker::{Breaker, Config};
    /// # use steadfast::pipeline::Shared;
    /// let mut b: Breaker = Breaker::new(Config::default())?;
    /// assert!(Shared::new().with_breaker(&mut b).breaker.is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_breaker<G2: CircuitBreaker>(self, breaker: &'a mut G2) -> Shared<'a, G2, Q, B> {
        Shared {
            breaker: Some(breaker),
            bulkhead: self.bulkhead,
            budget: self.budget,
        }
    }

    /// With a bulkhead.
    ///
    /// ```
    /// # use steadfast::bulkhead::{Bulkhead, Config};
    /// # use steadfast::pipeline::Shared;
    /// let mut pool: Bulkhead = Bulkhead::new(Config::default())?;
    /// assert!(Shared::new().with_bulkhead(&mut pool).bulkhead.is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_bulkhead<const Q2: usize>(
        self,
        bulkhead: &'a mut Bulkhead<Q2>,
    ) -> Shared<'a, G, Q2, B> {
        Shared {
            breaker: self.breaker,
            bulkhead: Some(bulkhead),
            budget: self.budget,
        }
    }

    /// With a retry budget.
    ///
    /// ```
    /// # use steadfast::pipeline::Shared;
    /// # use steadfast::retry::{Budget, BudgetConfig};
    /// let mut budget: Budget = Budget::new(BudgetConfig::default())?;
    /// assert!(Shared::new().with_budget(&mut budget).budget.is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_budget<B2: RetryBudget>(self, budget: &'a mut B2) -> Shared<'a, G, Q, B2> {
        Shared {
            breaker: self.breaker,
            bulkhead: self.bulkhead,
            budget: Some(budget),
        }
    }
}

/// What the adapter must do next. Returned by [`Call::next`] and
/// [`Call::on_outcome`].
///
/// ```
/// use steadfast::pipeline::Step;
/// use steadfast::time::Instant;
/// let step = Step::Wait { until: Instant::from_millis(100) };
/// assert_eq!(step.wake_at(), Some(Instant::from_millis(100)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "the adapter must do what the step says"]
pub enum Step {
    /// Run attempt number `attempt` (1 = the first) now, and abandon it at
    /// `deadline` (`None`: no timeout). Report how it ended with
    /// [`Call::on_outcome`]; if it hit its deadline, report
    /// [`Verdict::timed_out`].
    Attempt {
        /// The attempt's number, the first included.
        attempt: u32,
        /// When the attempt times out, if ever.
        deadline: Option<Instant>,
    },
    /// Sleep until `until` (a backoff delay, or a breaker's `retry_at`), then
    /// call [`Call::next`] again. Calling it earlier is harmless.
    Wait {
        /// When to call again.
        until: Instant,
    },
    /// Queued in the bulkhead: wait until woken (an [`Event::Granted`] for this
    /// ticket from any call) or until `until`, then call [`Call::next`] again.
    Queued {
        /// The queue ticket.
        ticket: Ticket,
        /// When the wait gives up.
        until: Instant,
    },
    /// The call is over.
    Done(Finish),
}

impl Step {
    /// The instant at which the adapter must act again without being woken:
    /// `Wait`'s `until`, `Queued`'s `until`, an attempt's deadline.
    ///
    /// ```
    /// # use steadfast::pipeline::Step;
    /// assert_eq!(Step::Attempt { attempt: 1, deadline: None }.wake_at(), None);
    /// ```
    pub const fn wake_at(&self) -> Option<Instant> {
        match self {
            Self::Attempt { deadline, .. } => *deadline,
            Self::Wait { until } | Self::Queued { until, .. } => Some(*until),
            Self::Done(_) => None,
        }
    }
}

/// How a call ended.
///
/// ```
/// use steadfast::outcome::Outcome;
/// use steadfast::pipeline::{Failure, Finish};
/// let f = Finish::Failed(Failure::RetriesExhausted { attempts: 3, last: Outcome::Failure });
/// assert_eq!(f.attempts(), 3);
/// assert!(!f.is_success());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Finish {
    /// The last attempt's result is the call's answer: a success, or an
    /// outcome the classifier marked [`Outcome::Ignored`] and not retryable.
    Completed {
        /// Attempts made, the first included.
        attempts: u32,
        /// How the last attempt ended.
        outcome: Outcome,
    },
    /// The call failed; the adapter reports `Failure` to the caller.
    Failed(Failure),
    /// The call failed in a way [`PipelineConfig::fallback`] covers: the
    /// adapter answers with its fallback.
    Fallback(Failure),
    /// The caller gave up ([`Call::abandon`]).
    Cancelled,
}

impl Finish {
    /// Attempts made (0 for a call refused before its first attempt ran, or
    /// cancelled).
    ///
    /// ```
    /// # use steadfast::pipeline::Finish;
    /// assert_eq!(Finish::Cancelled.attempts(), 0);
    /// ```
    pub const fn attempts(&self) -> u32 {
        match self {
            Self::Completed { attempts, .. } => *attempts,
            Self::Failed(f) | Self::Fallback(f) => f.attempts(),
            Self::Cancelled => 0,
        }
    }

    /// `true` for a completed call whose last attempt succeeded.
    ///
    /// ```
    /// # use steadfast::pipeline::Finish;
    /// # use steadfast::outcome::Outcome;
    /// assert!(Finish::Completed { attempts: 1, outcome: Outcome::Success }.is_success());
    /// ```
    pub const fn is_success(&self) -> bool {
        matches!(
            self,
            Self::Completed {
                outcome: Outcome::Success,
                ..
            }
        )
    }
}

/// Why a call failed.
///
/// ```
/// use steadfast::pipeline::Failure;
/// assert!(Failure::BreakerOpen { attempts: 0, retry_at: None }.is_rejection());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Failure {
    /// The last attempt failed and the classifier said not to retry it: the
    /// operation's own error is the answer.
    NotRetryable {
        /// Attempts made.
        attempts: u32,
        /// How the last attempt ended.
        last: Outcome,
    },
    /// Every attempt failed (`max_attempts` reached), or the next retry would
    /// have started at or after the total deadline, or the retry budget refused
    /// it. `last` is how the last attempt ended.
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// How the last attempt ended.
        last: Outcome,
    },
    /// The breaker refused the attempt and waiting for it was not possible
    /// (no total deadline, no room for a whole attempt between `retry_at` and it,
    /// no attempts left, forced open).
    BreakerOpen {
        /// Attempts that ran before the rejection.
        attempts: u32,
        /// When the breaker will admit again, if known.
        retry_at: Option<Instant>,
    },
    /// The bulkhead had no slot and no queue room, or the queue wait expired.
    BulkheadFull {
        /// Attempts that ran before the rejection.
        attempts: u32,
    },
    /// The total deadline passed before the call could finish.
    TimedOut {
        /// Attempts that ran.
        attempts: u32,
    },
}

impl Failure {
    /// Attempts that ran.
    ///
    /// ```
    /// # use steadfast::pipeline::Failure;
    /// assert_eq!(Failure::TimedOut { attempts: 2 }.attempts(), 2);
    /// ```
    pub const fn attempts(&self) -> u32 {
        match self {
            Self::NotRetryable { attempts, .. }
            | Self::RetriesExhausted { attempts, .. }
            | Self::BreakerOpen { attempts, .. }
            | Self::BulkheadFull { attempts }
            | Self::TimedOut { attempts } => *attempts,
        }
    }

    /// `true` when the dependency never saw the last try: breaker or bulkhead.
    ///
    /// ```
    /// # use steadfast::pipeline::Failure;
    /// assert!(Failure::BulkheadFull { attempts: 0 }.is_rejection());
    /// assert!(!Failure::TimedOut { attempts: 0 }.is_rejection());
    /// ```
    pub const fn is_rejection(&self) -> bool {
        matches!(self, Self::BreakerOpen { .. } | Self::BulkheadFull { .. })
    }
}

/// Where a call is. Deadlines live in the variants.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Phase {
    /// About to start attempt `retry.attempts()`.
    Ready,
    /// Sleeping until `until` (backoff or breaker wait).
    Waiting { until: Instant },
    /// In the bulkhead's queue. `breaker` is the breaker permit taken before
    /// queueing (standard order); `outer` marks the outermost-order queue.
    Queued {
        ticket: Ticket,
        until: Instant,
        breaker: Option<breaker::Permit>,
    },
    /// An attempt is running.
    Running {
        deadline: Option<Deadline>,
        breaker: Option<breaker::Permit>,
        bulkhead: Option<bulkhead::Permit>,
    },
    /// Over.
    Finished(Finish),
}

/// One call going through the pipeline: its retry state, deadlines, and the
/// permits it holds. Not `Clone`: it may hold permits.
///
/// See the [module docs](self) for the driving loop.
///
/// Neither `Copy` nor `Clone`, so two copies can never both give back the
/// same permits:
///
/// ```compile_fail
/// fn clone<T: Clone>() {}
/// clone::<steadfast::pipeline::Call>();
/// ```
///
/// ```
/// use steadfast::outcome::Verdict;
/// use steadfast::pipeline::{Pipeline, PipelineConfig, Shared, Step};
/// use steadfast::rng::SplitMix64;
/// use steadfast::time::Instant;
///
/// let mut call = Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO);
/// let mut shared: Shared = Shared::new();
/// let t0 = Instant::ZERO;
/// assert!(matches!(call.next(t0, &mut shared), Step::Attempt { attempt: 1, .. }));
/// let step = call.on_outcome(t0, Verdict::failure(), &mut shared, &mut SplitMix64::new(1));
/// assert!(matches!(step, Step::Wait { .. }));
/// assert_eq!(call.attempts(), 1);
/// ```
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Call {
    retry: Retry,
    timeout: TimeoutConfig,
    order: Order,
    fallback: FallbackOn,
    total: Option<Deadline>,
    phase: Phase,
    /// The whole-call bulkhead permit of [`Order::BulkheadOutermost`].
    outer: Option<bulkhead::Permit>,
    /// Attempts that ran (were handed to the adapter), the running one included.
    started: u32,
    deposited: bool,
    last_now: Instant,
    events: Events,
}

impl Call {
    /// The total deadline, if the policy has a total timeout.
    ///
    /// ```
    /// # use steadfast::pipeline::{Pipeline, PipelineConfig};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO).deadline(), None);
    /// ```
    pub const fn deadline(&self) -> Option<Instant> {
        match self.total {
            Some(d) => Some(d.instant()),
            None => None,
        }
    }

    /// Attempts that have run or are running (0 before the first).
    ///
    /// ```
    /// # use steadfast::pipeline::{Pipeline, PipelineConfig};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO).attempts(), 0);
    /// ```
    pub const fn attempts(&self) -> u32 {
        self.started
    }

    /// How the call ended, once it has.
    ///
    /// ```
    /// # use steadfast::pipeline::{Pipeline, PipelineConfig};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO).finish(), None);
    /// ```
    pub const fn finish(&self) -> Option<Finish> {
        match self.phase {
            Phase::Finished(f) => Some(f),
            _ => None,
        }
    }

    /// `true` once the call has ended.
    ///
    /// ```
    /// # use steadfast::pipeline::{Pipeline, PipelineConfig};
    /// # use steadfast::time::Instant;
    /// assert!(!Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO).is_finished());
    /// ```
    pub const fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished(_))
    }

    /// When the call next needs attention without being woken: the end of a
    /// wait, of a queue wait, or a running attempt's deadline.
    ///
    /// ```
    /// # use steadfast::pipeline::{Pipeline, PipelineConfig};
    /// # use steadfast::time::Instant;
    /// assert_eq!(Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO).poll_at(), None);
    /// ```
    pub const fn poll_at(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Waiting { until } | Phase::Queued { until, .. } => Some(*until),
            Phase::Running {
                deadline: Some(d), ..
            } => Some(d.instant()),
            _ => None,
        }
    }

    /// The next event (breaker transition, retry scheduled, timeout, bulkhead
    /// grant, fallback), oldest first. Drain after every step to log or count
    /// them; undrained events are dropped oldest-first when more than
    /// [`Events::CAPACITY`] pile up.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// use steadfast::pipeline::{Event, Pipeline, PipelineConfig, Shared};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    ///
    /// let mut call = Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO);
    /// let mut shared: Shared = Shared::new();
    /// let _ = call.next(Instant::ZERO, &mut shared);
    /// let _ = call.on_outcome(Instant::ZERO, Verdict::failure(), &mut shared, &mut SplitMix64::new(1));
    /// assert!(matches!(call.poll_event(), Some(Event::Retry { attempt: 2, .. })));
    /// assert_eq!(call.poll_event(), None);
    /// ```
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    fn observe(&mut self, now: Instant) -> Instant {
        let now = now.max(self.last_now);
        self.last_now = now;
        now
    }

    fn total_expired(&self, now: Instant) -> bool {
        match self.total {
            Some(d) => d.is_expired(now),
            None => false,
        }
    }

    /// Caps an instant at the total deadline.
    fn within_total(&self, at: Instant) -> Instant {
        match self.total {
            Some(d) => at.min(d.instant()),
            None => at,
        }
    }

    /// What to do next at `now`. Safe to call at any time, any number of times:
    /// early (returns the same wait), late, or after the call ended (returns
    /// the same [`Step::Done`]).
    ///
    /// ```
    /// use steadfast::pipeline::{Pipeline, PipelineConfig, Shared, Step};
    /// use steadfast::time::Instant;
    /// let mut call = Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO);
    /// let step = call.next(Instant::ZERO, &mut Shared::new());
    /// assert!(matches!(step, Step::Attempt { attempt: 1, deadline: Some(_) }));
    /// ```
    pub fn next<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, Q, B>,
    ) -> Step {
        let now = self.observe(now);
        if !self.deposited {
            self.deposited = true;
            if let Some(budget) = shared.budget.as_deref_mut() {
                budget.on_request(now);
            }
        }
        // A few rounds at most: Waiting → Ready → Attempt; the bound keeps the
        // loop obviously finite.
        for _ in 0..4 {
            match &self.phase {
                Phase::Finished(finish) => return Step::Done(*finish),
                Phase::Running { deadline, .. } => {
                    return match deadline {
                        Some(d) if d.is_expired(now) => self.on_timed_out(now, shared),
                        Some(d) => Step::Wait { until: d.instant() },
                        None => Step::Wait {
                            until: Instant::MAX,
                        },
                    };
                }
                Phase::Waiting { until } => {
                    let until = *until;
                    if self.total_expired(now) {
                        return self.fail(
                            Failure::TimedOut {
                                attempts: self.started,
                            },
                            shared,
                            now,
                        );
                    }
                    if now < until {
                        return Step::Wait { until };
                    }
                    self.phase = Phase::Ready;
                }
                Phase::Queued { .. } => return self.poll_queue(now, shared),
                Phase::Ready => return self.begin_attempt(now, shared),
            }
        }
        Step::Wait { until: now }
    }

    /// Starts the attempt `retry.attempts()` if every stage admits it.
    fn begin_attempt<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, Q, B>,
    ) -> Step {
        if self.total_expired(now) {
            return self.fail(
                Failure::TimedOut {
                    attempts: self.started,
                },
                shared,
                now,
            );
        }
        if self.order == Order::BulkheadOutermost
            && self.outer.is_none()
            && let Some(bulkhead) = shared.bulkhead.as_deref_mut()
        {
            match bulkhead.try_acquire(now) {
                Acquire::Permit(permit) => self.outer = Some(permit),
                Acquire::Queued { ticket, deadline } => {
                    let until = self.within_total(deadline);
                    self.phase = Phase::Queued {
                        ticket,
                        until,
                        breaker: None,
                    };
                    return Step::Queued { ticket, until };
                }
                Acquire::Full => {
                    return self.fail(
                        Failure::BulkheadFull {
                            attempts: self.started,
                        },
                        shared,
                        now,
                    );
                }
            }
        }
        let breaker_permit = match shared.breaker.as_deref_mut() {
            None => None,
            Some(breaker) => {
                if let Some(t) = breaker.handle_timeout(now) {
                    self.events.push(Event::Breaker(t));
                }
                match breaker.try_acquire(now) {
                    Ok(permit) => Some(permit),
                    Err(rejected) => {
                        return self.on_breaker_rejected(now, rejected.retry_at, shared);
                    }
                }
            }
        };
        let bulkhead_permit = if self.order == Order::Standard {
            match shared.bulkhead.as_deref_mut() {
                None => None,
                Some(bulkhead) => match bulkhead.try_acquire(now) {
                    Acquire::Permit(permit) => Some(permit),
                    Acquire::Queued { ticket, deadline } => {
                        let until = self.within_total(deadline);
                        self.phase = Phase::Queued {
                            ticket,
                            until,
                            breaker: breaker_permit,
                        };
                        return Step::Queued { ticket, until };
                    }
                    Acquire::Full => {
                        give_back(now, shared, breaker_permit, None, &mut self.events);
                        return self.fail(
                            Failure::BulkheadFull {
                                attempts: self.started,
                            },
                            shared,
                            now,
                        );
                    }
                },
            }
        } else {
            None
        };
        self.run(now, breaker_permit, bulkhead_permit, shared)
    }

    /// Claims a queued ticket.
    fn poll_queue<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, Q, B>,
    ) -> Step {
        let Phase::Queued {
            ticket, breaker, ..
        } = core::mem::replace(&mut self.phase, Phase::Ready)
        else {
            return Step::Wait { until: now };
        };
        let claim = match shared.bulkhead.as_deref_mut() {
            Some(_) if self.total_expired(now) => {
                leave_queue(now, shared, ticket, &mut self.events);
                None
            }
            Some(bulkhead) => Some(bulkhead.claim(ticket, now)),
            None => None,
        };
        let failure = match claim {
            Some(Claim::Granted(permit)) => {
                if breaker.is_none() && self.order == Order::BulkheadOutermost {
                    self.outer = Some(permit);
                    return self.begin_attempt(now, shared);
                }
                return self.run(now, breaker, Some(permit), shared);
            }
            Some(Claim::Waiting { deadline }) => {
                let until = self.within_total(deadline);
                self.phase = Phase::Queued {
                    ticket,
                    until,
                    breaker,
                };
                return Step::Queued { ticket, until };
            }
            Some(Claim::Expired) => Failure::BulkheadFull {
                attempts: self.started,
            },
            None if self.total_expired(now) => Failure::TimedOut {
                attempts: self.started,
            },
            // The bulkhead was not lent: nothing to claim from.
            None => Failure::BulkheadFull {
                attempts: self.started,
            },
        };
        give_back(now, shared, breaker, None, &mut self.events);
        self.fail(failure, shared, now)
    }

    /// Every stage admitted: the attempt runs (or, with a zero/expired
    /// deadline, has already timed out).
    fn run<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        now: Instant,
        breaker: Option<breaker::Permit>,
        bulkhead: Option<bulkhead::Permit>,
        shared: &mut Shared<'_, G, Q, B>,
    ) -> Step {
        let deadline = self.timeout.attempt_deadline(now, self.total);
        self.phase = Phase::Running {
            deadline,
            breaker,
            bulkhead,
        };
        self.started = self.started.saturating_add(1);
        match deadline {
            Some(d) if d.is_expired(now) => self.on_timed_out(now, shared),
            _ => Step::Attempt {
                attempt: self.retry.attempts(),
                deadline: deadline.map(Deadline::instant),
            },
        }
    }

    fn on_timed_out<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, Q, B>,
    ) -> Step {
        // The rng is not needed: a timeout that the total deadline caused ends the
        // call, and any other retry of a timeout draws jitter below.
        self.finish_attempt(now, Verdict::timed_out(), shared, &mut NoJitter)
    }

    /// Whether an attempt starting at `start` would get its whole attempt
    /// timeout before the total deadline (with no attempt timeout: whether it
    /// starts before the deadline at all).
    ///
    /// Waiting for a breaker is only worth it when this holds. Otherwise the
    /// calls that waited for `retry_at` — first in line when the breaker turns
    /// half-open, with almost no time left — become its probes, time out
    /// against their own deadline rather than the dependency's, count as
    /// failures and re-open the breaker.
    fn fits_full_attempt(&self, start: Instant, total: Deadline) -> bool {
        match self.timeout.attempt {
            Some(attempt) => {
                start.saturating_add(attempt) <= total.instant() && start < total.instant()
            }
            None => start < total.instant(),
        }
    }

    /// The breaker refused: wait for `retry_at` when the deadline allows,
    /// otherwise fail fast.
    fn on_breaker_rejected<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        now: Instant,
        retry_at: Option<Instant>,
        shared: &mut Shared<'_, G, Q, B>,
    ) -> Step {
        let attempts = self.started;
        let fail_fast = Failure::BreakerOpen { attempts, retry_at };
        let (Some(total), Some(at)) = (self.total, retry_at) else {
            return self.fail(fail_fast, shared, now);
        };
        if !self.fits_full_attempt(at, total)
            || self.retry.attempts() >= self.retry.config().max_attempts()
        {
            return self.fail(fail_fast, shared, now);
        }
        // The refused attempt counts as one; the wait is the breaker's, not a
        // backoff, and spends no budget (nothing reached the dependency).
        let hint = at.saturating_duration_since(now);
        match self
            .retry
            .on_outcome(Verdict::ignored().retry_after(hint), now, &mut NoJitter)
        {
            RetryDecision::RetryAt {
                at: backoff_at,
                attempt,
                delay,
            } => {
                let until = backoff_at.max(at);
                if !self.fits_full_attempt(until, total) {
                    return self.fail(fail_fast, shared, now);
                }
                self.events.push(Event::Retry {
                    attempt,
                    delay: until.saturating_duration_since(now).max(delay),
                    at: until,
                });
                self.phase = Phase::Waiting { until };
                Step::Wait { until }
            }
            _ => self.fail(fail_fast, shared, now),
        }
    }

    /// Reports how the running attempt ended, at `now`; returns the next step.
    ///
    /// A verdict reported at or after the attempt's deadline is discarded and
    /// recorded as [`Outcome::TimedOut`]. Outside a running attempt (a duplicate
    /// or late report) the verdict is ignored and the current step returned.
    ///
    /// ```
    /// use steadfast::outcome::Verdict;
    /// use steadfast::pipeline::{Finish, Pipeline, PipelineConfig, Shared, Step};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Instant;
    /// use steadfast::outcome::Outcome;
    ///
    /// let mut call = Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO);
    /// let mut shared: Shared = Shared::new();
    /// let _ = call.next(Instant::ZERO, &mut shared);
    /// let step = call.on_outcome(Instant::from_millis(5), Verdict::success(), &mut shared, &mut SplitMix64::new(1));
    /// assert_eq!(step, Step::Done(Finish::Completed { attempts: 1, outcome: Outcome::Success }));
    /// ```
    pub fn on_outcome<G: CircuitBreaker, const Q: usize, B: RetryBudget, R: Rng>(
        &mut self,
        now: Instant,
        verdict: Verdict,
        shared: &mut Shared<'_, G, Q, B>,
        rng: &mut R,
    ) -> Step {
        let now = self.observe(now);
        if !matches!(self.phase, Phase::Running { .. }) {
            return self.next(now, shared);
        }
        self.finish_attempt(now, verdict, shared, rng)
    }

    fn finish_attempt<G: CircuitBreaker, const Q: usize, B: RetryBudget, R: Rng>(
        &mut self,
        now: Instant,
        verdict: Verdict,
        shared: &mut Shared<'_, G, Q, B>,
        rng: &mut R,
    ) -> Step {
        let Phase::Running {
            deadline,
            breaker,
            bulkhead,
        } = core::mem::replace(&mut self.phase, Phase::Ready)
        else {
            return self.next(now, shared);
        };
        let late = matches!(deadline, Some(d) if d.is_expired(now));
        let verdict = if late && verdict.outcome != Outcome::TimedOut {
            Verdict::timed_out()
        } else {
            verdict
        };
        let attempt = self.started;
        if verdict.outcome == Outcome::TimedOut {
            self.events.push(Event::TimedOut { attempt });
        }
        if let (Some(permit), Some(b)) = (breaker, shared.breaker.as_deref_mut())
            && let Some(t) = b.record(permit, verdict.outcome, now)
        {
            self.events.push(Event::Breaker(t));
        }
        give_back(now, shared, None, bulkhead, &mut self.events);
        let decision = match shared.budget.as_deref_mut() {
            Some(budget) => self.retry.on_outcome_with_budget(verdict, now, rng, budget),
            None => self.retry.on_outcome(verdict, now, rng),
        };
        let last = verdict.outcome;
        match decision {
            RetryDecision::Done => self.complete(
                Finish::Completed {
                    attempts: attempt,
                    outcome: last,
                },
                shared,
                now,
            ),
            RetryDecision::GiveUp(GiveUpReason::NotRetryable) => self.fail(
                Failure::NotRetryable {
                    attempts: attempt,
                    last,
                },
                shared,
                now,
            ),
            RetryDecision::GiveUp(GiveUpReason::DeadlineWouldPass) if self.total_expired(now) => {
                self.fail(Failure::TimedOut { attempts: attempt }, shared, now)
            }
            RetryDecision::GiveUp(_) => self.fail(
                Failure::RetriesExhausted {
                    attempts: attempt,
                    last,
                },
                shared,
                now,
            ),
            RetryDecision::RetryAt { at, attempt, delay } => {
                self.events.push(Event::Retry { attempt, delay, at });
                self.phase = Phase::Waiting { until: at };
                self.next(now, shared)
            }
        }
    }

    /// Gives up the call now (the caller's future was dropped, a shutdown):
    /// returns the breaker probe slot, releases or leaves the bulkhead. Safe to
    /// call in any phase, more than once.
    ///
    /// ```
    /// use steadfast::bulkhead::{Bulkhead, Config};
    /// use steadfast::pipeline::{Finish, Pipeline, PipelineConfig, Shared, Step};
    /// use steadfast::time::Instant;
    ///
    /// let mut pool: Bulkhead = Bulkhead::new(Config::default())?;
    /// let mut call = Pipeline::new(PipelineConfig::DEFAULT).start(Instant::ZERO);
    /// let mut shared = Shared::new().with_bulkhead(&mut pool);
    /// assert!(matches!(call.next(Instant::ZERO, &mut shared), Step::Attempt { .. }));
    /// call.abandon(Instant::ZERO, &mut shared);
    /// assert_eq!(call.finish(), Some(Finish::Cancelled));
    /// assert_eq!(pool.in_flight(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn abandon<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, Q, B>,
    ) {
        let now = self.observe(now);
        match core::mem::replace(&mut self.phase, Phase::Finished(Finish::Cancelled)) {
            Phase::Running {
                breaker, bulkhead, ..
            } => {
                give_back(now, shared, breaker, bulkhead, &mut self.events);
            }
            Phase::Queued {
                ticket, breaker, ..
            } => {
                give_back(now, shared, breaker, None, &mut self.events);
                leave_queue(now, shared, ticket, &mut self.events);
            }
            Phase::Finished(f) => self.phase = Phase::Finished(f),
            Phase::Ready | Phase::Waiting { .. } => {}
        }
        self.release_outer(now, shared);
    }

    fn release_outer<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        now: Instant,
        shared: &mut Shared<'_, G, Q, B>,
    ) {
        let outer = self.outer.take();
        give_back(now, shared, None, outer, &mut self.events);
    }

    fn complete<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        finish: Finish,
        shared: &mut Shared<'_, G, Q, B>,
        now: Instant,
    ) -> Step {
        self.release_outer(now, shared);
        self.phase = Phase::Finished(finish);
        Step::Done(finish)
    }

    fn fail<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
        &mut self,
        failure: Failure,
        shared: &mut Shared<'_, G, Q, B>,
        now: Instant,
    ) -> Step {
        let finish = if self.fallback.covers(&failure) {
            self.events.push(Event::Fallback(failure));
            Finish::Fallback(failure)
        } else {
            Finish::Failed(failure)
        };
        self.complete(finish, shared, now)
    }
}

/// Returns what a call held: a breaker permit it will not use (a probe slot
/// comes back) and a bulkhead slot (passed to the next waiter, reported as
/// [`Event::Granted`]).
fn give_back<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
    now: Instant,
    shared: &mut Shared<'_, G, Q, B>,
    breaker: Option<breaker::Permit>,
    bulkhead: Option<bulkhead::Permit>,
    events: &mut Events,
) {
    if let (Some(permit), Some(b)) = (breaker, shared.breaker.as_deref_mut()) {
        b.cancel(permit, now);
    }
    if let (Some(permit), Some(b)) = (bulkhead, shared.bulkhead.as_deref_mut())
        && let Some(next) = b.release(permit, now)
    {
        events.push(Event::Granted(next));
    }
}

/// Leaves the bulkhead's queue; a slot already granted to `ticket` passes on.
fn leave_queue<G: CircuitBreaker, const Q: usize, B: RetryBudget>(
    now: Instant,
    shared: &mut Shared<'_, G, Q, B>,
    ticket: Ticket,
    events: &mut Events,
) {
    if let Some(b) = shared.bulkhead.as_deref_mut()
        && let Some(next) = b.cancel(ticket, now)
    {
        events.push(Event::Granted(next));
    }
}

/// Stands in for the rng where no jitter can be drawn that matters (a retry
/// scheduled by a breaker's `retry_at` or a timeout's bookkeeping): always the
/// middle of the range, so decisions stay deterministic without consuming the
/// caller's random stream.
struct NoJitter;

impl Rng for NoJitter {
    fn next_u64(&mut self) -> u64 {
        u64::MAX / 2
    }
}

/// Keeps `Duration` used in docs of this module's public items.
const _: Duration = Duration::ZERO;
