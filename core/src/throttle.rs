//! Client-side adaptive throttling, as in Google's SRE book ("Handling
//! Overload"): a client that sees its backend refuse work starts refusing calls
//! itself, before they cost the backend anything.
//!
//! Over a sliding window the throttle counts `requests` (every call the
//! application asked for, refused locally or not, counted when it ended) and
//! `accepts` (calls the backend served). A new call is refused locally with
//! probability
//!
//! ```text
//! max(0, (requests − K × accepts) / (requests + 1))
//! ```
//!
//! computed from the counts before the call, in exact integers (`K` in
//! thousandths), drawn from the injected [`Rng`]. With `K = 2` the backend sees
//! about twice the traffic it accepts, so it can still tell when it recovers; a
//! healthy backend (`accepts ≈ requests`) sees no local refusals at all.
//! [`Config::with_max_reject_permille`] caps the probability (failsafe-go's
//! `maxRejectionRate`); by default there is no cap, as in the book.
//!
//! ```
//! use steadfast::rng::SplitMix64;
//! use steadfast::throttle::{AdaptiveThrottle, Config};
//! use steadfast::time::{Duration, Instant};
//!
//! let mut throttle: AdaptiveThrottle = AdaptiveThrottle::new(Config::new())?;
//! let mut rng = SplitMix64::new(7);
//! let t = Instant::from_secs(1);
//! // The backend refuses everything: local refusals start once requests outrun 2 × accepts.
//! let mut refused = 0;
//! for _ in 0..1_000 {
//!     match throttle.admit(t, &mut rng) {
//!         Ok(()) => throttle.record(false, t),
//!         Err(_) => refused += 1,
//!     }
//! }
//! assert!(refused > 950);
//! // Two minutes later the window has forgotten it.
//! assert_eq!(throttle.reject_permille(t + Duration::from_secs(120)), 0);
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use core::fmt;

use crate::error::ConfigError;
use crate::rng::{Rng, SplitMix64};
use crate::time::{Duration, Instant};

/// The settings of an [`AdaptiveThrottle`].
///
/// Defaults are the SRE book's: `K = 2` and a window of two minutes; no cap on
/// the refusal probability.
///
/// ```
/// use steadfast::throttle::Config;
/// use steadfast::time::Duration;
///
/// const C: Config = Config::new().with_k_permille(1_500).with_window(Duration::from_secs(60));
/// assert_eq!(C.k_permille(), 1_500);
/// assert_eq!(Config::new().window(), Duration::from_secs(120));
/// assert_eq!(Config::new().max_reject_permille(), 1_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    k_permille: u32,
    window: Duration,
    max_reject_permille: u32,
}

impl Config {
    /// `K = 2`, a two-minute window, no cap.
    ///
    /// ```
    /// # use steadfast::throttle::Config;
    /// assert_eq!(Config::DEFAULT.k_permille(), 2_000);
    /// ```
    pub const DEFAULT: Self = Self {
        k_permille: 2_000,
        window: Duration::from_secs(120),
        max_reject_permille: 1_000,
    };

    /// The defaults; start of a `const` builder chain (same as [`Config::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::throttle::Config;
    /// assert_eq!(Config::new(), Config::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// `K` in thousandths: the backend is let see `K` times the calls it
    /// accepts. At least 1 000 (`K = 1`): below that, a healthy backend would be
    /// throttled.
    #[must_use]
    pub const fn with_k_permille(mut self, k_permille: u32) -> Self {
        self.k_permille = k_permille;
        self
    }

    /// How long requests and accepts are remembered (at least one microsecond
    /// per bucket).
    #[must_use]
    pub const fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The highest refusal probability, in thousandths (at most 1 000).
    #[must_use]
    pub const fn with_max_reject_permille(mut self, max: u32) -> Self {
        self.max_reject_permille = max;
        self
    }

    /// `K` in thousandths.
    pub const fn k_permille(&self) -> u32 {
        self.k_permille
    }

    /// The window.
    pub const fn window(&self) -> Duration {
        self.window
    }

    /// The cap on the refusal probability, in thousandths.
    pub const fn max_reject_permille(&self) -> u32 {
        self.max_reject_permille
    }

    /// Checks the settings for a throttle of `buckets` buckets.
    ///
    /// ```
    /// use steadfast::throttle::Config;
    /// use steadfast::time::Duration;
    ///
    /// assert_eq!(Config::new().with_k_permille(999).validate(12).unwrap_err().field, "k_permille");
    /// assert_eq!(Config::new().with_window(Duration::from_micros(11)).validate(12).unwrap_err().field, "window");
    /// assert_eq!(Config::new().with_max_reject_permille(1_001).validate(12).unwrap_err().field, "max_reject_permille");
    /// assert!(Config::new().validate(12).is_ok());
    /// ```
    pub const fn validate(&self, buckets: usize) -> Result<(), ConfigError> {
        if self.k_permille < 1_000 {
            return Err(ConfigError::new(
                "k_permille",
                "must be at least 1000 (K = 1)",
            ));
        }
        if buckets == 0 {
            return Err(ConfigError::new(
                "AdaptiveThrottle::B",
                "must be at least 1",
            ));
        }
        if self.window.as_micros() < buckets as u64 {
            return Err(ConfigError::new(
                "window",
                "must be at least one microsecond per bucket",
            ));
        }
        if self.max_reject_permille > 1_000 {
            return Err(ConfigError::new(
                "max_reject_permille",
                "must be at most 1000",
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    /// [`Config::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A call refused locally by an [`AdaptiveThrottle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Throttled {
    /// The refusal probability it was drawn at, in thousandths.
    pub reject_permille: u32,
}

impl fmt::Display for Throttled {
    /// `throttled locally (p = 0.731)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "throttled locally (p = {}.{:03})",
            self.reject_permille / 1_000,
            self.reject_permille % 1_000
        )
    }
}

impl core::error::Error for Throttled {}

/// One bucket's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Counts {
    requests: u32,
    accepts: u32,
}

/// Client-side adaptive throttling over a window of `B` buckets (see the
/// [module](self) documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdaptiveThrottle<const B: usize = 12> {
    config: Config,
    /// The window's width divided by `B`, in µs.
    width: u64,
    buckets: [Counts; B],
    /// The newest bucket.
    head: usize,
    /// Where the newest bucket ends, in µs.
    head_end: u64,
    /// The sums over every bucket.
    total: Counts,
    seen: Instant,
}

impl<const B: usize> AdaptiveThrottle<B> {
    /// A throttle that has seen nothing.
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config` for `B` buckets.
    pub const fn new(config: Config) -> Result<Self, ConfigError> {
        if let Err(e) = config.validate(B) {
            return Err(e);
        }
        let width = config.window.as_micros() / B as u64;
        Ok(Self {
            config,
            width,
            buckets: [Counts {
                requests: 0,
                accepts: 0,
            }; B],
            head: 0,
            head_end: width,
            total: Counts {
                requests: 0,
                accepts: 0,
            },
            seen: Instant::ZERO,
        })
    }

    /// The settings it was built from.
    pub const fn config(&self) -> Config {
        self.config
    }

    /// Moves the window to `now`: buckets that ended are forgotten.
    fn advance(&mut self, now: Instant) {
        self.seen = self.seen.max(now);
        let t = self.seen.as_micros();
        let mut moved = 0;
        // The last bucket before the end of time runs up to and including it.
        while t >= self.head_end && self.head_end != u64::MAX {
            if moved == B {
                // Everything expired: start afresh in the bucket that holds `t`
                // (buckets stay on the grid of `width`-long slots from zero).
                self.buckets = [Counts::default(); B];
                self.total = Counts::default();
                let into = crate::div::rem(t - self.head_end, self.width);
                self.head_end = (t - into).saturating_add(self.width);
                return;
            }
            self.head = if self.head + 1 == B { 0 } else { self.head + 1 };
            if let Some(bucket) = self.buckets.get_mut(self.head) {
                let gone = core::mem::take(bucket);
                self.total.requests = self.total.requests.saturating_sub(gone.requests);
                self.total.accepts = self.total.accepts.saturating_sub(gone.accepts);
            }
            self.head_end = self.head_end.saturating_add(self.width);
            moved += 1;
        }
    }

    /// The refusal probability from the window's counts, as `num / den`.
    fn odds(&self) -> (u64, u64) {
        let requests = u64::from(self.total.requests);
        let accepts = u64::from(self.total.accepts);
        let den = (requests + 1) * 1_000;
        let excess = (requests * 1_000).saturating_sub(u64::from(self.config.k_permille) * accepts);
        let cap = (requests + 1) * u64::from(self.config.max_reject_permille);
        (excess.min(cap), den)
    }

    /// Decides whether the call at `now` goes to the backend. A refused call
    /// is counted as a request at once; an admitted one when it ends
    /// ([`record`](Self::record)), so calls still in flight never count as
    /// requests without accepts (a client that has just started, with its
    /// first calls out, refuses nothing).
    ///
    /// # Errors
    ///
    /// [`Throttled`] when the call is refused locally.
    pub fn admit(&mut self, now: Instant, rng: &mut impl Rng) -> Result<(), Throttled> {
        self.advance(now);
        let (num, den) = self.odds();
        if num > 0 && rng.below(den) < num {
            self.count_request();
            return Err(Throttled {
                reject_permille: permille(num, den),
            });
        }
        Ok(())
    }

    fn count_request(&mut self) {
        if let Some(bucket) = self.buckets.get_mut(self.head) {
            bucket.requests = bucket.requests.saturating_add(1);
        }
        self.total.requests = self.total.requests.saturating_add(1);
    }

    /// A call admitted earlier ended: a request, and an accept when
    /// `accepted` (the backend served it: any answer that is not an overload
    /// refusal or a timeout, as the caller classifies it). A call that never
    /// ends (cancelled, hung past its deadline) is recorded as not accepted
    /// by whoever gave up on it.
    pub fn record(&mut self, accepted: bool, now: Instant) {
        self.advance(now);
        self.count_request();
        if accepted {
            if let Some(bucket) = self.buckets.get_mut(self.head) {
                bucket.accepts = bucket.accepts.saturating_add(1);
            }
            self.total.accepts = self.total.accepts.saturating_add(1);
        }
    }

    /// The refusal probability at `now`, in thousandths (rounded down).
    pub fn reject_permille(&mut self, now: Instant) -> u32 {
        self.advance(now);
        let (num, den) = self.odds();
        permille(num, den)
    }

    /// Requests and accepts in the window at `now`.
    pub fn counts(&mut self, now: Instant) -> (u32, u32) {
        self.advance(now);
        (self.total.requests, self.total.accepts)
    }
}

fn permille(num: u64, den: u64) -> u32 {
    if den == 0 {
        return 0;
    }
    u32::try_from(num * 1_000 / den).unwrap_or(1_000)
}

/// An [`AdaptiveThrottle`] with the rng its refusals are drawn from, as one
/// [`Gate`](crate::pipeline::Gate): its own stream, so the refusals replay bit for bit whatever
/// else draws jitter. `const fn new`, so it can live in a `static`.
///
/// As a gate: a refusal is [`Reason::Throttled`](crate::pipeline::Reason::Throttled); an attempt that ends is a
/// request, accepted unless its outcome [is a failure](crate::outcome::Outcome::is_failure)
/// (a failure or a timeout); an attempt the caller gave up on is a request
/// not accepted; an attempt withdrawn before it ran is nothing.
///
/// ```
/// use steadfast::outcome::Outcome;
/// use steadfast::pipeline::{Gate, Reason};
/// use steadfast::throttle::{AdaptiveThrottle, Config, Drawn};
/// use steadfast::time::Instant;
///
/// let mut gate: Drawn = Drawn::new(AdaptiveThrottle::new(Config::new())?, 7);
/// let t = Instant::from_secs(1);
/// let mut refused = 0;
/// for _ in 0..100 {
///     match gate.admit(t) {
///         Ok(()) => gate.record(Outcome::Failure, t),
///         Err(reason) => { assert_eq!(reason, Reason::Throttled); refused += 1 }
///     }
/// }
/// assert!(refused > 80);
/// assert_eq!(gate.throttle.counts(t).1, 0);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Drawn<const B: usize = 12, R = SplitMix64> {
    /// The throttle.
    pub throttle: AdaptiveThrottle<B>,
    /// Where its refusals are drawn from.
    pub rng: R,
}

impl<const B: usize> Drawn<B> {
    /// `throttle`, its refusals drawn from a [`SplitMix64`] seeded with `seed`.
    pub const fn new(throttle: AdaptiveThrottle<B>, seed: u64) -> Self {
        Self {
            throttle,
            rng: SplitMix64::new(seed),
        }
    }
}
