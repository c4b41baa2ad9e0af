//! [`SharedAdaptiveLimit`]: the core's [`AdaptiveLimit`] (AIMD or Vegas)
//! shared between threads and tasks, on the adapter's clock
//! ([`time::now`]), its permits RAII guards.
//!
//! A permit taken with [`SharedAdaptiveLimit::try_acquire`] measures the
//! call's round-trip time from that moment: [`AdaptivePermit::record`] gives
//! it back with the call's [`Outcome`] and the time elapsed, which the core
//! learns from; a permit dropped without a record (a cancelled call, a
//! panic) is cancelled — its slot comes back and nothing is learnt. No
//! permit leaks, however the call ends.
//!
//! There is no queue: the core refuses a call at the limit ([`Full`]), and
//! the tower `AdaptiveLimitLayer` (feature `tower`) answers it
//! [`Error::bulkhead_full`](crate::Error::bulkhead_full) at once.
//!
//! ```
//! use steadfast::adaptive::Config;
//! use steadfast::outcome::Outcome;
//! use steadfast_std::adaptive::SharedAdaptiveLimit;
//!
//! let limit = SharedAdaptiveLimit::new("db", Config::new().with_limits(2, 1, 10))?;
//! let a = limit.try_acquire()?;
//! let b = limit.try_acquire()?;
//! assert_eq!(limit.try_acquire().unwrap_err().limit, 2); // full
//! drop(a); // cancelled: the slot comes back, nothing learnt
//! b.record(Outcome::Success); // in use when taken (2 of 2): the limit grows
//! assert_eq!((limit.limit(), limit.in_flight()), (3, 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use steadfast::adaptive::{AdaptiveLimit, Config, Full, Permit};
use steadfast::error::ConfigError;
use steadfast::outcome::Outcome;

use crate::Observer;
use crate::gauge::{Levels, Reporter};
use crate::observer::LayerKind;
use crate::sync::{Arc, Mutex, lock};
use crate::time;

/// An adaptive concurrency limit shared by every clone (an `Arc`), named
/// for its metrics.
#[derive(Clone)]
pub struct SharedAdaptiveLimit {
    inner: Arc<Inner>,
}

struct Inner {
    name: std::sync::Arc<str>,
    machine: Mutex<AdaptiveLimit>,
    observer: Option<std::sync::Arc<dyn Observer>>,
    /// `(limit, in_flight)`, published under the machine's lock by every
    /// step that changed them when there is an observer.
    levels: Levels,
    /// The reports of `levels` to the observer.
    reporter: Reporter,
}

impl fmt::Debug for SharedAdaptiveLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = lock(&self.inner.machine);
        f.debug_struct("SharedAdaptiveLimit")
            .field("name", &self.inner.name)
            .field("limit", &m.limit())
            .field("in_flight", &m.in_flight())
            .finish_non_exhaustive()
    }
}

impl SharedAdaptiveLimit {
    /// A limit named `name` (its metric label) at `config.initial()`.
    ///
    /// ```
    /// use steadfast::adaptive::{Algorithm, Config};
    /// use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// let limit = SharedAdaptiveLimit::new("search", Config::new().with_algorithm(Algorithm::vegas()))?;
    /// assert_eq!((limit.name(), limit.limit()), ("search", 20));
    /// assert_eq!(SharedAdaptiveLimit::new("x", Config::new().with_limits(0, 0, 1)).unwrap_err().field, "min");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`.
    pub fn new(name: impl Into<std::sync::Arc<str>>, config: Config) -> Result<Self, ConfigError> {
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.into(),
                machine: Mutex::new(AdaptiveLimit::new(config)?),
                observer: None,
                levels: Levels::new(0, 0),
                reporter: Reporter::new(),
            }),
        })
    }

    /// The same limit, reporting to `observer` after every step that
    /// changed it ([`Observer::on_adaptive_limit`]: the `adaptive_limit`
    /// and `adaptive_limit_in_flight` gauges) and every refusal
    /// ([`Observer::on_adaptive_rejection`]:
    /// `adaptive_limit_rejections_total`). Set it before cloning: clones
    /// made earlier keep reporting nowhere.
    ///
    /// The gauges are reported outside the limit's lock, one report at a
    /// time: a step made while another thread reports leaves its report to
    /// that thread, which reads the latest levels once the observer returns.
    /// So the last `(limit, in_flight)` the observer is told, once steps
    /// stop, is the limit's own; and the observer may take and give back
    /// permits of this same limit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use steadfast::adaptive::Config;
    /// use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// use steadfast_std::observe::Standard;
    /// let limit = SharedAdaptiveLimit::new("db", Config::DEFAULT)?.with_observer(Arc::new(Standard));
    /// assert_eq!(limit.in_flight(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_observer(self, observer: std::sync::Arc<dyn Observer>) -> Self {
        let machine = lock(&self.inner.machine).clone();
        let levels = Levels::new(machine.limit(), machine.in_flight());
        observer.on_register_layer(LayerKind::AdaptiveLimit, &self.inner.name);
        let limit = Self {
            inner: Arc::new(Inner {
                name: self.inner.name.clone(),
                machine: Mutex::new(machine),
                observer: Some(observer),
                levels,
                reporter: Reporter::new(),
            }),
        };
        limit.report();
        limit
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The current limit.
    ///
    /// ```
    /// # use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// let limit = SharedAdaptiveLimit::new("db", steadfast::adaptive::Config::new().with_limits(5, 1, 10))?;
    /// assert_eq!(limit.limit(), 5);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn limit(&self) -> u32 {
        lock(&self.inner.machine).limit()
    }

    /// Permits out now.
    ///
    /// ```
    /// # use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// let limit = SharedAdaptiveLimit::new("db", Default::default())?;
    /// let permit = limit.try_acquire()?;
    /// assert_eq!(limit.in_flight(), 1);
    /// drop(permit);
    /// assert_eq!(limit.in_flight(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_flight(&self) -> u32 {
        lock(&self.inner.machine).in_flight()
    }

    /// The settings.
    ///
    /// ```
    /// # use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// let limit = SharedAdaptiveLimit::new("db", Default::default())?;
    /// assert_eq!(limit.config(), steadfast::adaptive::Config::DEFAULT);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> Config {
        *lock(&self.inner.machine).config()
    }

    /// A slot now, its RTT measured from now.
    ///
    /// ```
    /// # use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// let limit = SharedAdaptiveLimit::new("db", steadfast::adaptive::Config::new().with_limits(1, 1, 10))?;
    /// let permit = limit.try_acquire()?;
    /// assert!(limit.try_acquire().is_err());
    /// permit.record(steadfast::outcome::Outcome::Failure);
    /// assert!(limit.try_acquire().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Full`] with the limit, when `in_flight` has reached it.
    pub fn try_acquire(&self) -> Result<AdaptivePermit, Full> {
        let now = time::now();
        let taken = {
            let mut m = lock(&self.inner.machine);
            let taken = m.try_acquire(now);
            if taken.is_ok() {
                self.publish(&m);
            }
            taken
        };
        match taken {
            Ok(permit) => {
                self.report();
                Ok(AdaptivePermit {
                    limit: self.clone(),
                    permit: Some(permit),
                })
            }
            Err(full) => {
                if let Some(o) = &self.inner.observer {
                    o.on_adaptive_rejection(&self.inner.name, full.limit);
                }
                Err(full)
            }
        }
    }

    /// Gives `permit` back: recorded with `outcome` at now, or cancelled.
    fn give_back(&self, permit: Permit, outcome: Option<Outcome>) {
        let now = time::now();
        {
            let mut m = lock(&self.inner.machine);
            match outcome {
                Some(outcome) => m.record(permit, outcome, now),
                None => m.cancel(permit),
            }
            self.publish(&m);
        }
        self.report();
    }

    /// Publishes the levels of `machine` (this limit's, under its lock) for
    /// the observer, if there is one.
    fn publish(&self, machine: &AdaptiveLimit) {
        if self.inner.observer.is_some() {
            self.inner
                .levels
                .publish(machine.limit(), machine.in_flight());
        }
    }

    /// Tells the observer the latest levels, outside the lock (see
    /// [`crate::gauge`]).
    fn report(&self) {
        if let Some(o) = &self.inner.observer {
            let inner = &*self.inner;
            inner.reporter.report(|| {
                let (limit, in_flight) = inner.levels.read();
                o.on_adaptive_limit(&inner.name, limit, in_flight);
            });
        }
    }
}

/// A slot of a [`SharedAdaptiveLimit`]: [`record`](Self::record) the call's
/// outcome, or drop it to cancel (the slot comes back, nothing is learnt).
///
/// ```
/// use steadfast::outcome::Outcome;
/// use steadfast_std::adaptive::SharedAdaptiveLimit;
/// let limit = SharedAdaptiveLimit::new("db", steadfast::adaptive::Config::new().with_limits(10, 1, 100))?;
/// let permit = limit.try_acquire()?;
/// permit.record(Outcome::Failure); // a drop: × 0.9
/// assert_eq!(limit.limit(), 9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a permit dropped at once is cancelled: record the call's outcome"]
pub struct AdaptivePermit {
    limit: SharedAdaptiveLimit,
    /// `None` once given back.
    permit: Option<Permit>,
}

impl fmt::Debug for AdaptivePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptivePermit")
            .field("limit", &self.limit.inner.name)
            .field("permit", &self.permit)
            .finish()
    }
}

impl AdaptivePermit {
    /// Gives the slot back now, the call having ended with `outcome` (the
    /// core's rule: a success is a sample, a failure or timeout a drop, an
    /// ignored outcome nothing).
    pub fn record(mut self, outcome: Outcome) {
        if let Some(permit) = self.permit.take() {
            self.limit.give_back(permit, Some(outcome));
        }
    }
}

impl Drop for AdaptivePermit {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.limit.give_back(permit, None);
        }
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_rtt_runs_from_the_acquisition_on_the_tokio_clock() {
        // AIMD: a sample slower than its timeout is a drop.
        let aimd = steadfast::adaptive::Algorithm::Aimd {
            backoff_permille: 500,
            timeout: steadfast::time::Duration::from_millis(100),
        };
        let limit = SharedAdaptiveLimit::new(
            "t",
            Config::new().with_limits(10, 1, 20).with_algorithm(aimd),
        )
        .unwrap();
        let p = limit.try_acquire().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        p.record(Outcome::Success); // exactly the timeout: not slower
        assert_eq!(limit.limit(), 10);
        let p = limit.try_acquire().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(101)).await;
        p.record(Outcome::Success);
        assert_eq!(limit.limit(), 5);
    }
}
