//! [`SharedHedger`]: the core's [`Hedger`] shared between threads and tasks,
//! on the adapter's clock ([`time::now`](crate::time::now)): the hedge delay (fixed, or a
//! percentile of the latencies recorded by every call through it) and the
//! cap. The tower `HedgeLayer` (feature `tower`) runs the attempts; the core
//! decides when each hedge starts ([`Plan::poll`](steadfast::hedge::Plan::poll)) and which answer ends the
//! call ([`Plan::on_answer`](steadfast::hedge::Plan::on_answer)).
//!
//! ```
//! use steadfast::hedge::{Config, Delay};
//! use steadfast::time::Duration;
//! use steadfast_std::hedge::SharedHedger;
//!
//! let p50 = Delay::Percentile { permille: 500, min_samples: 3, fallback: Duration::from_millis(300) };
//! let hedger = SharedHedger::new("search", Config::new().with_delay(p50))?;
//! assert_eq!(hedger.delay(), Duration::from_millis(300)); // too few samples
//! for _ in 0..3 {
//!     hedger.record(Duration::from_millis(10));
//! }
//! // 10 ms lies in the bucket [8.192, 16.384) ms: its upper edge.
//! assert_eq!(hedger.delay(), Duration::from_micros(16_384));
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use std::fmt;

use steadfast::error::ConfigError;
#[cfg(feature = "tower")]
use steadfast::hedge::Plan;
use steadfast::hedge::{Config, Hedger};
use steadfast::time::Duration;
#[cfg(feature = "tower")]
use steadfast::time::Instant;

use crate::Observer;
use crate::observer::LayerKind;
use crate::sync::{Arc, Mutex, lock};

/// A hedging rule shared by every clone (an `Arc`), named for its metrics.
#[derive(Clone)]
pub struct SharedHedger {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    machine: Mutex<Hedger>,
    observer: Option<Arc<dyn Observer>>,
}

impl fmt::Debug for SharedHedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedHedger")
            .field("name", &self.inner.name)
            .field("config", &self.config())
            .field("delay", &self.delay())
            .field("observed", &self.inner.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl SharedHedger {
    /// A hedger named `name` (its metric label), no latency recorded.
    ///
    /// ```
    /// use steadfast::hedge::Config;
    /// use steadfast_std::hedge::SharedHedger;
    /// assert_eq!(SharedHedger::new("search", Config::DEFAULT)?.name(), "search");
    /// assert_eq!(SharedHedger::new("x", Config::new().with_max_hedges(9)).unwrap_err().field, "max_hedges");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`.
    pub fn new(name: impl Into<Arc<str>>, config: Config) -> Result<Self, ConfigError> {
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.into(),
                machine: Mutex::new(Hedger::new(config)?),
                observer: None,
            }),
        })
    }

    /// The same hedger, reporting each hedge started
    /// ([`Observer::on_hedge_started`]: `hedges_started_total`) and each
    /// hedge whose answer won ([`Observer::on_hedge_won`]:
    /// `hedge_wins_total`). Set it before cloning: clones made earlier keep
    /// reporting nowhere.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use steadfast_std::hedge::SharedHedger;
    /// use steadfast_std::observe::Standard;
    /// let hedger = SharedHedger::new("search", Default::default())?.with_observer(Arc::new(Standard));
    /// assert_eq!(hedger.name(), "search");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_observer(self, observer: Arc<dyn Observer>) -> Self {
        observer.on_register_layer(LayerKind::Hedger, &self.inner.name);
        let machine = lock(&self.inner.machine).clone();
        Self {
            inner: Arc::new(Inner {
                name: self.inner.name.clone(),
                machine: Mutex::new(machine),
                observer: Some(observer),
            }),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The settings.
    ///
    /// ```
    /// # use steadfast_std::hedge::SharedHedger;
    /// let hedger = SharedHedger::new("search", Default::default())?;
    /// assert_eq!(hedger.config().max_hedges(), 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> Config {
        *lock(&self.inner.machine).config()
    }

    /// The hedge delay a call starting now would get.
    ///
    /// ```
    /// use steadfast::hedge::{Config, Delay};
    /// use steadfast::time::Duration;
    /// # use steadfast_std::hedge::SharedHedger;
    /// let hedger = SharedHedger::new("search", Config::new().with_delay(Delay::Fixed(Duration::from_millis(40))))?;
    /// assert_eq!(hedger.delay(), Duration::from_millis(40));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn delay(&self) -> Duration {
        lock(&self.inner.machine).delay()
    }

    /// Learns one attempt's latency, for a percentile delay (the tower
    /// layer records every attempt that answers; call it for attempts run
    /// another way).
    ///
    /// ```
    /// use steadfast::hedge::{Config, Delay};
    /// use steadfast::time::Duration;
    /// # use steadfast_std::hedge::SharedHedger;
    /// let p90 = Delay::Percentile { permille: 900, min_samples: 1, fallback: Duration::from_secs(1) };
    /// let hedger = SharedHedger::new("search", Config::new().with_delay(p90))?;
    /// hedger.record(Duration::from_micros(1000));
    /// assert_eq!(hedger.delay(), Duration::from_micros(1024));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn record(&self, latency: Duration) {
        lock(&self.inner.machine).record(latency);
    }

    /// The hedges of a call whose first attempt starts at `now`.
    #[cfg(feature = "tower")]
    pub(crate) fn start(&self, now: Instant) -> Plan {
        lock(&self.inner.machine).start(now)
    }

    /// Hedge `number` started.
    #[cfg(feature = "tower")]
    pub(crate) fn started(&self, number: u8) {
        if let Some(o) = &self.inner.observer {
            o.on_hedge_started(&self.inner.name, number);
        }
    }

    /// Hedge `number`'s answer won.
    #[cfg(feature = "tower")]
    pub(crate) fn won(&self, number: u8) {
        if let Some(o) = &self.inner.observer {
            o.on_hedge_won(&self.inner.name, number);
        }
    }
}
