//! Client-side adaptive throttling shared between threads and tasks: the
//! core's [`AdaptiveThrottle`] behind a lock, on the adapter's clock
//! ([`time::now`]), with its own jitter-free draw stream.
//!
//! A client that sees its dependency refuse work starts refusing calls
//! itself, before they cost the dependency anything (the SRE book's
//! "Handling Overload"): over a sliding window the throttle counts requests
//! (every call that ended, refused locally or not) and accepts (calls the
//! dependency served), and refuses a new call with probability
//! max(0, (requests − K × accepts) / (requests + 1)). The tower
//! `ThrottleLayer` (feature `tower`) answers a refused request with
//! [`Reason::Throttled`](steadfast::pipeline::Reason::Throttled) and counts it
//! in `throttle_rejections_total`.
//!
//! ```
//! use steadfast::throttle::Config;
//! use steadfast_std::throttle::SharedThrottle;
//!
//! let backend = SharedThrottle::new("backend", Config::new())?.with_seed(7);
//! // The dependency refuses everything: local refusals start once requests outrun 2 × accepts.
//! let mut refused = 0;
//! for _ in 0..1_000 {
//!     match backend.admit() {
//!         Ok(admitted) => admitted.record(false),
//!         Err(_) => refused += 1,
//!     }
//! }
//! assert!(refused > 950, "{refused}");
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use std::fmt;
use std::sync::Arc;

use steadfast::error::ConfigError;
use steadfast::rng::SplitMix64;
use steadfast::throttle::{AdaptiveThrottle, Config, Drawn, Throttled};

use crate::sync::{self, Mutex, lock};
use crate::time;

/// The buckets of a [`SharedThrottle`]'s window (each covers `window / 12`),
/// so a window must be at least 12 µs.
pub const THROTTLE_BUCKETS: usize = 12;

type State = Drawn<THROTTLE_BUCKETS>;

/// An [`AdaptiveThrottle`] of 12 buckets shared by every clone of this handle
/// (see the [module](self) documentation).
#[derive(Clone)]
pub struct SharedThrottle {
    name: Arc<str>,
    state: sync::Arc<Mutex<State>>,
}

impl fmt::Debug for SharedThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedThrottle")
            .field("name", &self.name)
            .field("config", &self.config())
            .finish_non_exhaustive()
    }
}

impl SharedThrottle {
    /// A throttle named `name` (its refusals are counted under it) that has
    /// seen nothing, drawing from a seed from the operating system.
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config` for 12 buckets (a `window`
    /// under 12 µs, `K` under 1, a cap over 1000 ‰).
    ///
    /// ```
    /// use steadfast::throttle::Config;
    /// use steadfast::time::Duration;
    /// use steadfast_std::throttle::SharedThrottle;
    ///
    /// let t = SharedThrottle::new("api", Config::new().with_window(Duration::from_secs(30)))?;
    /// assert_eq!(t.name(), "api");
    /// let err = SharedThrottle::new("api", Config::new().with_k_permille(500)).unwrap_err();
    /// assert_eq!(err.field, "k_permille");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(name: impl Into<Arc<str>>, config: Config) -> Result<Self, ConfigError> {
        Ok(Self {
            name: name.into(),
            state: sync::Arc::new(Mutex::new(Drawn::new(
                AdaptiveThrottle::new(config)?,
                crate::seed::from_os(),
            ))),
        })
    }

    /// The same throttle drawing its refusals from `seed`, so a run is
    /// reproducible (default: a seed from the operating system, so replicas
    /// do not refuse in lockstep).
    ///
    /// ```
    /// use steadfast_std::throttle::SharedThrottle;
    /// let t = SharedThrottle::new("api", Default::default())?.with_seed(1);
    /// # let _ = t;
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        lock(&self.state).rng = SplitMix64::new(seed);
        self
    }

    /// The throttle's name.
    ///
    /// ```
    /// # use steadfast_std::throttle::SharedThrottle;
    /// assert_eq!(SharedThrottle::new("db", Default::default())?.name(), "db");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    #[cfg(feature = "tower")]
    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.clone()
    }

    /// The settings it was built from.
    ///
    /// ```
    /// # use steadfast_std::throttle::SharedThrottle;
    /// assert_eq!(SharedThrottle::new("db", Default::default())?.config().k_permille(), 2_000);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn config(&self) -> Config {
        lock(&self.state).throttle.config()
    }

    /// Decides whether a call goes to the dependency now. A refused call
    /// counts as a request at once; an admitted one hands back an
    /// [`Admitted`] that counts it when it records how the dependency
    /// answered (or when it is dropped: not accepted).
    ///
    /// # Errors
    ///
    /// [`Throttled`] (with the refusal probability) when the call is refused
    /// locally.
    ///
    /// ```
    /// # use steadfast_std::throttle::SharedThrottle;
    /// let t = SharedThrottle::new("db", Default::default())?;
    /// t.admit().expect("a throttle that has seen nothing admits").record(true);
    /// assert_eq!(t.counts(), (1, 1));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn admit(&self) -> Result<Admitted<'_>, Throttled> {
        let now = time::now();
        let mut state = lock(&self.state);
        let State { throttle, rng } = &mut *state;
        throttle.admit(now, rng)?;
        Ok(Admitted {
            throttle: Some(self),
        })
    }

    /// The refusal probability now, in thousandths.
    ///
    /// ```
    /// # use steadfast_std::throttle::SharedThrottle;
    /// assert_eq!(SharedThrottle::new("db", Default::default())?.reject_permille(), 0);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn reject_permille(&self) -> u32 {
        lock(&self.state).throttle.reject_permille(time::now())
    }

    /// `(requests, accepts)` in the window now.
    ///
    /// ```
    /// # use steadfast_std::throttle::SharedThrottle;
    /// assert_eq!(SharedThrottle::new("db", Default::default())?.counts(), (0, 0));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn counts(&self) -> (u32, u32) {
        lock(&self.state).throttle.counts(time::now())
    }

    /// Admits or refuses a call whose end [`record`](Self::record) takes.
    #[cfg(feature = "tower")]
    pub(crate) fn admit_detached(&self) -> Result<(), Throttled> {
        let now = time::now();
        let mut state = lock(&self.state);
        let State { throttle, rng } = &mut *state;
        throttle.admit(now, rng)
    }

    /// The throttle as a policy's admission stage, locked only while asked.
    pub(crate) fn gate(&self) -> crate::policy::Locked<'_, State> {
        crate::policy::Locked(&self.state)
    }

    pub(crate) fn record(&self, accepted: bool) {
        let now = time::now();
        lock(&self.state).throttle.record(accepted, now);
    }
}

/// A call the throttle let through: [`record`](Self::record) how the
/// dependency answered. Dropped unrecorded, the call counts as a request the
/// dependency did not accept (a cancelled call tells nothing good).
#[must_use = "record how the dependency answered"]
pub struct Admitted<'a> {
    throttle: Option<&'a SharedThrottle>,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if let Some(throttle) = self.throttle.take() {
            throttle.record(false);
        }
    }
}

impl Admitted<'_> {
    /// The dependency answered: `accepted` when it served the call (any
    /// answer that is not an overload refusal or a timeout, as the caller
    /// classifies it).
    ///
    /// ```
    /// # use steadfast_std::throttle::SharedThrottle;
    /// let t = SharedThrottle::new("db", Default::default())?;
    /// t.admit().unwrap().record(false);
    /// assert_eq!(t.counts(), (1, 0));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn record(mut self, accepted: bool) {
        if let Some(throttle) = self.throttle.take() {
            throttle.record(accepted);
        }
    }
}

impl fmt::Debug for Admitted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admitted")
            .field("throttle", &self.throttle.map(SharedThrottle::name))
            .finish()
    }
}
