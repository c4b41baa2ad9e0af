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
//! machines shared between calls — a [`Breaker`](crate::breaker::Breaker), a
//! [`Bulkhead`](crate::bulkhead::Bulkhead), a retry budget — are lent to it at
//! every step through [`Shared`], so a driver can keep them behind whatever
//! lock it likes and hold that lock only for the few instructions of one step.
//!
//! A driver is one loop around one entry point, [`Call::handle`]: feed an
//! [`Input`], do what the returned [`Step`] says, feed the next input. When
//! the call is done, [`Finish::answer`] turns how it ended and the last
//! attempt's result into the caller's [`Answer`] — a value, an [`Error`]
//! that says exactly why, or "run your fallback". Events go, as each step
//! raises them, to the [`Observer`] lent in [`Shared`] (none by default: an
//! unwatched call pays nothing for them), the finish through
//! [`Call::drain`]. steadfast-std, steadfast-embassy and the simulator are
//! this loop with a clock:
//!
//! ```
//! use steadfast::breaker::{Breaker, Config as BreakerConfig};
//! use steadfast::outcome::Verdict;
//! use steadfast::pipeline::{self, Input, Pipeline, Shared, Step};
//! use steadfast::rng::SplitMix64;
//! use steadfast::time::Instant;
//!
//! let pipeline = Pipeline::new(pipeline::Config::default())?;
//! let mut breaker: Breaker = Breaker::new(BreakerConfig::default())?;
//! let mut rng = SplitMix64::new(7);
//! let mut now = Instant::ZERO;
//! let mut flaky = [Err("busy"), Ok(42)].into_iter(); // fails once, then works
//!
//! let mut call = pipeline.start(now);
//! let mut shared = Shared::new().with_breaker(&mut breaker);
//! let (mut input, mut last) = (Input::Next, None);
//! let finish = loop {
//!     match call.handle(input, now, &mut shared, &mut rng) {
//!         Step::Attempt { .. } => {
//!             let result = flaky.next().unwrap_or(Ok(0));
//!             let verdict = if result.is_ok() { Verdict::success() } else { Verdict::failure() };
//!             last = Some(result);
//!             input = Input::Outcome(verdict);
//!         }
//!         Step::Wait { until } | Step::Queued { until, .. } => (now, input) = (until, Input::Next), // sleep
//!         Step::Done(finish) => break finish,
//!     }
//! };
//! assert_eq!(finish.attempts(), 2);
//! assert_eq!(finish.answer(last).into_result(), Ok(42));
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```
//!
//! # The rules
//!
//! * **Order.** [`Order::Standard`]: the total deadline bounds everything; the
//!   retry loop runs inside it; each attempt asks the breaker, then the
//!   bulkhead, then the admission [`Gate`] (a rate limiter, a throttle; see
//!   [`Shared::with_gate`]), then runs under its own attempt deadline. [`Order::BulkheadOutermost`]
//!   is Polly's classic wrap: one bulkhead slot is held for the whole call,
//!   retries included, and is taken before the breaker is asked.
//! * **Rejections are not retried blindly.** When the breaker rejects, the call
//!   waits until the breaker's `retry_at` only if a total deadline is set, a
//!   whole attempt timeout still fits between `retry_at` and that deadline (so
//!   the probe it becomes is not cut short by its own deadline), and attempts
//!   remain (the refused attempt counts as
//!   one, so a call never waits more than `max_attempts - 1` times); otherwise
//!   it ends at once with [`Reason::BreakerOpen`] — without a deadline, failing
//!   fast is the breaker's whole point. A rate limiter's refusal
//!   ([`Reason::RateLimited`]) follows the same rule with its own `retry_at`;
//!   a throttle's ([`Reason::Throttled`]) ends the call. A full bulkhead ends the call with
//!   [`Reason::BulkheadFull`], a queue wait that expires with
//!   [`Reason::QueueTimeout`]: there is no time at which a slot is known to be
//!   free. A call refused locally reports the attempts that actually ran.
//! * **Timeouts.** An attempt's deadline is the earliest of its own timeout and
//!   the total deadline; reached when `now >= deadline`. A zero timeout means the
//!   attempt has already expired: it is not run, and counts as
//!   [`Outcome::TimedOut`](crate::outcome::Outcome::TimedOut). A result reported at or after its attempt's deadline
//!   is discarded and recorded as `TimedOut` instead (gRPC). When the total
//!   deadline passes while waiting or queued, the call ends with
//!   [`Reason::DeadlineExceeded`].
//! * **Results.** A call ends in exactly one [`Reason`]. The last attempt's own
//!   error travels with every reason ([`Error::last`]): a last failing attempt
//!   that trips its own breaker ends with [`Reason::BreakerOpen`] *and* its
//!   error; attempts that end on their own timeout with no retry following
//!   (not retried, or attempts exhausted) end with [`Reason::AttemptTimedOut`]
//!   and the attempt count.
//! * **Budget.** The call deposits one request into the retry budget when it
//!   starts; only a retry that passes attempts and deadline spends budget.
//!   Waiting for a breaker does not (nothing reaches the dependency).
//! * **Fallback** is a decision, not a closure: when the caller has a fallback
//!   ([`Call::with_fallback`]) and [`pipeline::Config::fallback`](crate::pipeline::Config::fallback) covers how the
//!   call failed, it ends with [`Finish::Fallback`] and raises
//!   [`Event::Fallback`]; the driver runs the fallback it was given. Without a
//!   fallback the same call ends in [`Finish::Failed`], with no fallback event.
//! * **Cancellation.** A `Call` cannot give permits back by itself when dropped
//!   (it does not own the shared machines): a driver whose future is dropped
//!   feeds [`Input::Abandon`], which returns a half-open probe slot, releases
//!   the bulkhead slot or leaves its queue; the call ends with
//!   [`Reason::Cancelled`].
//! * **Clock.** A clock that goes backwards is read as `max(now, highest now seen)`.

use crate::backoff::{self, Backoff, ConstBackoff, Delays};
use crate::error::ConfigError;
use crate::time::Instant;

mod call;
mod config;
mod events;
mod fixed;
mod gate;
mod shared;
mod step;

pub use call::Call;
pub use config::{Config, FallbackOn, Order};
pub use events::{Event, Events, Observer};
pub use fixed::{ConstPipeline, Fixed};
pub use gate::{Gate, NoGate};
pub use shared::{NoBreaker, NoBulkhead, Pool, Shared};
pub use step::{Answer, Error, Failure, Finish, Input, Reason, Step};

/// An immutable, `Copy` policy that starts [`Call`]s. Can live in a `static`.
///
/// `D` is where its retries read their backoff ([`Delays`]): a held
/// [`Backoff`] (the default, [`Pipeline::new`]), or a
/// [`backoff::Fixed`] constant named by a type ([`Pipeline::fixed`]), which
/// compiles in only the growth and jitter it uses. A firmware can name the
/// whole pipeline by a type too ([`ConstPipeline`], [`Fixed`]): its calls then
/// carry only the paths its policy takes.
///
/// ```
/// use steadfast::pipeline::{self, Pipeline, Shared, Step};
/// use steadfast::time::Instant;
///
/// static POLICY: Pipeline = steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT));
/// let mut call = POLICY.start(Instant::ZERO);
/// assert!(matches!(call.next(Instant::ZERO, &mut Shared::new()), Step::Attempt { attempt: 1, .. }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pipeline<D: Delays = Backoff> {
    config: Config<D>,
}

impl Pipeline {
    /// A pipeline with this policy, or the error of
    /// [`Config::validate`], naming the field (`const`: in a `static`, write
    /// `valid!(Pipeline::new(CONFIG))` to check it at compile time, see
    /// [`valid!`](crate::valid)).
    ///
    /// ```
    /// # use steadfast::{pipeline, retry};
    /// # use steadfast::pipeline::Pipeline;
    /// let p = Pipeline::new(pipeline::Config::default())?;
    /// assert_eq!(p.config().retry().max_attempts(), 3);
    /// let bad = pipeline::Config::DEFAULT.with_retry(retry::Config::DEFAULT.with_max_attempts(0));
    /// assert_eq!(Pipeline::new(bad).unwrap_err().field, "max_attempts");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn new(config: Config) -> Result<Self, ConfigError> {
        match config.validate() {
            Ok(()) => Ok(Self { config }),
            Err(e) => Err(e),
        }
    }
}

impl<T: ConstBackoff> Pipeline<backoff::Fixed<T>> {
    /// A pipeline whose retries wait `T::BACKOFF` ([`backoff::Fixed`]), or the error
    /// of [`Config::validate`], naming the field: the same check and the same
    /// calls as a pipeline that holds its backoff ([`Pipeline::new`]), in fewer bytes of code and
    /// state (only the growth and jitter `T::BACKOFF` uses are compiled in).
    ///
    /// ```
    /// use steadfast::backoff::{Backoff, ConstBackoff, Fixed, Jitter};
    /// use steadfast::pipeline::{self, Pipeline};
    /// use steadfast::retry;
    /// use steadfast::time::{Duration, Instant};
    ///
    /// struct Sensor;
    /// impl ConstBackoff for Sensor {
    ///     const BACKOFF: Backoff = Backoff::constant(Duration::from_millis(20)).with_jitter(Jitter::None);
    /// }
    /// static POLICY: Pipeline<Fixed<Sensor>> = steadfast::valid!(Pipeline::fixed(
    ///     pipeline::Config::DEFAULT.with_retry(retry::Config::DEFAULT.with_backoff(Fixed::new()))
    /// ));
    /// assert_eq!(POLICY.config().retry().backoff().base(), Duration::from_millis(20));
    /// # let _ = POLICY.start(Instant::ZERO);
    /// ```
    pub const fn fixed(config: Config<backoff::Fixed<T>>) -> Result<Self, ConfigError> {
        match config.validate() {
            Ok(()) => Ok(Self { config }),
            Err(e) => Err(e),
        }
    }
}

impl<D: Delays> Pipeline<D> {
    /// The policy.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Pipeline};
    /// assert_eq!(Pipeline::new(pipeline::Config::DEFAULT)?.config(), &pipeline::Config::DEFAULT);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn config(&self) -> &Config<D> {
        &self.config
    }

    /// Starts one call at `now`: fixes its total deadline. Nothing is acquired
    /// until the first [`Call::next`].
    ///
    /// ```
    /// # use steadfast::pipeline::{self, Pipeline};
    /// # use steadfast::timeout;
    /// # use steadfast::time::{Duration, Instant};
    /// let p = Pipeline::new(pipeline::Config::DEFAULT.with_timeout(timeout::Config::NONE.with_total(Duration::from_secs(5))))?;
    /// let call = p.start(Instant::from_secs(1));
    /// assert_eq!(call.deadline(), Some(Instant::from_secs(6)));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub const fn start(&self, now: Instant) -> Call<'_, &Self> {
        Call::new(self, self.config.timeout.total_deadline(now), now)
    }
}
