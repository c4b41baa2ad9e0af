//! Bulkhead configuration: how many calls run at once, how many may wait, how long.

use core::marker::PhantomData;

use crate::error::ConfigError;
use crate::time::Duration;

/// How a [`Bulkhead`](super::Bulkhead) admits calls.
///
/// * `max_concurrent` — permits out at once (at least 1).
/// * `max_queue` — callers that may wait for a permit, in FIFO order; must fit the
///   bulkhead's inline storage (`max_queue <= Q` for a `Bulkhead<Q>`). **`0` means
///   "reject at once"** when every permit is out, instead of waiting (tower #793).
/// * `max_wait` — how long a queued caller waits at most; it is turned away when
///   `now >= queued_at + max_wait` (inclusive). **`Duration::ZERO` also means
///   "reject at once"**: a wait that ends as it starts is no wait.
///
/// Both a queue limit and a max wait, as .NET's `ConcurrencyLimiter` and
/// resilience4j do: the limit bounds memory, the wait bounds latency.
///
/// Defaults ([`Config::DEFAULT`]) follow the seeds: 10 concurrent calls, up to 10
/// waiting, each for at most 5 s (the seeds' `max_wait: float = 5.0`). A
/// `Bulkhead<Q>` with `Q < 10` therefore needs a smaller `max_queue`.
///
/// ```
/// use steadfast::bulkhead::Config;
/// use steadfast::time::Duration;
///
/// let default = Config::default();
/// assert_eq!(default.max_concurrent(), 10);
/// assert_eq!(default.max_queue(), 10);
/// assert_eq!(default.max_wait(), Duration::from_secs(5));
///
/// // The seeds' background pool: 5 at once, nobody waits.
/// const BACKGROUND: Config = Config::DEFAULT.with_max_concurrent(5).with_max_queue(0);
/// assert!(BACKGROUND.validate(0).is_ok());
/// assert_eq!(Config::DEFAULT.with_max_concurrent(0).validate(10).unwrap_err().field, "max_concurrent");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Config {
    /// Permits out at once; at least 1.
    pub(crate) max_concurrent: u32,
    /// Callers that may wait in the FIFO queue; `0` rejects at once. At most the
    /// bulkhead's storage `Q`.
    pub(crate) max_queue: u32,
    /// The longest a queued caller waits (expired when `now >= deadline`);
    /// `Duration::ZERO` rejects at once.
    pub(crate) max_wait: Duration,
}

impl Config {
    /// The seed defaults as a constant (for `static`s): 10 concurrent, 10 waiting, 5 s.
    ///
    /// ```
    /// # use steadfast::bulkhead::Config;
    /// static POOL: Config = Config::DEFAULT;
    /// assert_eq!(POOL, Config::default());
    /// ```
    pub const DEFAULT: Self = Self {
        max_concurrent: 10,
        max_queue: 10,
        max_wait: Duration::from_secs(5),
    };

    /// The defaults; start of a `const` builder chain (same as [`Config::DEFAULT`]).
    ///
    /// ```
    /// # use steadfast::bulkhead::Config;
    /// assert_eq!(Config::new(), Config::DEFAULT);
    /// ```
    pub const fn new() -> Self {
        Self::DEFAULT
    }

    /// Sets [`max_concurrent`](Self::max_concurrent): permits out at once (at least 1).
    ///
    /// ```
    /// # use steadfast::bulkhead::Config;
    /// assert_eq!(Config::DEFAULT.with_max_concurrent(4).max_concurrent(), 4);
    /// ```
    #[must_use]
    pub const fn with_max_concurrent(mut self, max_concurrent: u32) -> Self {
        self.max_concurrent = max_concurrent;
        self
    }

    /// Sets [`max_queue`](Self::max_queue): callers that may wait (`0` rejects
    /// at once; at most the bulkhead's storage `Q`).
    ///
    /// ```
    /// # use steadfast::bulkhead::Config;
    /// assert_eq!(Config::DEFAULT.with_max_queue(0).max_queue(), 0);
    /// ```
    #[must_use]
    pub const fn with_max_queue(mut self, max_queue: u32) -> Self {
        self.max_queue = max_queue;
        self
    }

    /// Sets [`max_wait`](Self::max_wait): the longest a queued caller waits
    /// (`Duration::ZERO` rejects at once).
    ///
    /// ```
    /// # use steadfast::bulkhead::Config;
    /// # use steadfast::time::Duration;
    /// let c = Config::DEFAULT.with_max_wait(Duration::from_millis(250));
    /// assert_eq!(c.max_wait(), Duration::from_millis(250));
    /// ```
    #[must_use]
    pub const fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Permits out at once.
    ///
    /// ```
    /// # use steadfast::bulkhead::Config;
    /// assert_eq!(Config::DEFAULT.max_concurrent(), 10);
    /// ```
    pub const fn max_concurrent(&self) -> u32 {
        self.max_concurrent
    }

    /// Callers that may wait in the FIFO queue.
    ///
    /// ```
    /// # use steadfast::bulkhead::Config;
    /// assert_eq!(Config::DEFAULT.max_queue(), 10);
    /// ```
    pub const fn max_queue(&self) -> u32 {
        self.max_queue
    }

    /// The longest a queued caller waits.
    ///
    /// ```
    /// # use steadfast::bulkhead::Config;
    /// # use steadfast::time::Duration;
    /// assert_eq!(Config::DEFAULT.max_wait(), Duration::from_secs(5));
    /// ```
    pub const fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Checks this configuration for a bulkhead whose queue storage holds
    /// `queue_capacity` waiters (the `Q` of `Bulkhead<Q>`): the one check, which
    /// [`Bulkhead::new`](super::Bulkhead::new) runs.
    ///
    /// ```
    /// use steadfast::bulkhead::Config;
    ///
    /// assert!(Config::DEFAULT.validate(10).is_ok());
    /// let err = Config::DEFAULT.validate(4).unwrap_err();
    /// assert_eq!(err.field, "max_queue");
    /// ```
    pub const fn validate(&self, queue_capacity: usize) -> Result<(), ConfigError> {
        if self.max_concurrent == 0 {
            return Err(ConfigError {
                field: "max_concurrent",
                problem: "must be at least 1",
            });
        }
        // u32 -> u128 is lossless on every target, as is usize -> u128.
        if self.max_queue as u128 > queue_capacity as u128 {
            return Err(ConfigError {
                field: "max_queue",
                problem: "exceeds the bulkhead's queue storage Q",
            });
        }
        Ok(())
    }

    /// A 32-bit fingerprint of this configuration and the storage size, the
    /// default pool id of a bulkhead (see [`Bulkhead::with_id`](super::Bulkhead::with_id)).
    ///
    /// ```
    /// use steadfast::bulkhead::Config;
    /// use steadfast::time::Duration;
    ///
    /// let critical = Config::DEFAULT.with_max_queue(0).with_max_wait(Duration::ZERO);
    /// let background = critical.with_max_concurrent(5);
    /// assert_ne!(critical.fingerprint(0), background.fingerprint(0));
    /// assert_eq!(critical.fingerprint(0), critical.fingerprint(0));
    /// ```
    pub const fn fingerprint(&self, queue_capacity: usize) -> u32 {
        let mut h = mix(self.max_concurrent as u64);
        h = mix(h ^ self.max_queue as u64);
        h = mix(h ^ self.max_wait.as_micros());
        h = mix(h ^ queue_capacity as u64);
        (h ^ (h >> 32)) as u32
    }
}

impl Default for Config {
    /// [`Config::DEFAULT`]: 10 concurrent, 10 waiting, 5 s max wait.
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A bulkhead configuration fixed at compile time and named by a type, so a
/// bulkhead that reads it through [`Fixed<Self>`] stores neither it nor its
/// pool id.
///
/// The pool id every permit and ticket of such a bulkhead carries is
/// [`ID`](Self::ID), a constant too: by default the id
/// [`Bulkhead::new`](super::Bulkhead::new) gives a bulkhead whose storage
/// holds exactly `max_queue` waiters, `CONFIG.fingerprint(CONFIG.max_queue())`
/// (a fixed configuration does not know the `Q` of the bulkhead that reads it).
/// Give pools with equal configurations distinct ids by setting `ID`.
///
/// ```
/// use steadfast::bulkhead::{Bulkhead, Config, ConstConfig, Fixed, NoStats};
///
/// struct Bus;
/// impl ConstConfig for Bus {
///     const CONFIG: Config = Config::DEFAULT.with_max_concurrent(1).with_max_queue(4);
/// }
/// let pool = Bulkhead::<4, NoStats, Fixed<Bus>>::fixed()?;
/// assert_eq!(pool.config().max_concurrent(), 1);
/// assert_eq!(pool.id(), Bus::CONFIG.fingerprint(4));
///
/// struct Spi;
/// impl ConstConfig for Spi {
///     const CONFIG: Config = Bus::CONFIG;
///     const ID: u32 = 2;
/// }
/// assert_eq!(Bulkhead::<4, NoStats, Fixed<Spi>>::fixed()?.id(), 2);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
pub trait ConstConfig {
    /// The configuration; validated by [`Bulkhead::fixed`](super::Bulkhead::fixed)
    /// for the bulkhead's `Q`.
    const CONFIG: Config;
    /// The pool id of the bulkhead's permits and tickets. Default:
    /// `CONFIG.fingerprint(CONFIG.max_queue())`.
    const ID: u32 = Self::CONFIG.fingerprint(Self::CONFIG.max_queue as usize);
}

/// The configuration `T::CONFIG` and pool id `T::ID` ([`ConstConfig`]), in
/// zero bytes: the configuration parameter of a bulkhead that holds none of its
/// own.
///
/// ```
/// use steadfast::bulkhead::{Config, ConstConfig, Fixed};
///
/// struct Bus;
/// impl ConstConfig for Bus {
///     const CONFIG: Config = Config::DEFAULT;
/// }
/// assert_eq!(core::mem::size_of::<Fixed<Bus>>(), 0);
/// ```
pub struct Fixed<T>(PhantomData<fn() -> T>);

impl<T> Fixed<T> {
    /// The marker (it holds nothing).
    ///
    /// ```
    /// # use steadfast::bulkhead::{Config, ConstConfig, Fixed};
    /// # struct Bus;
    /// # impl ConstConfig for Bus { const CONFIG: Config = Config::DEFAULT; }
    /// assert_eq!(Fixed::<Bus>::new(), Fixed::<Bus>::default());
    /// ```
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

crate::marker::fixed_marker!(Fixed);

/// Where a [`Bulkhead`](super::Bulkhead) reads its configuration and pool id:
/// a [`Config`] and an id it holds (the default) or a [`Fixed`] constant it
/// holds nothing of. Sealed.
///
/// ```
/// use steadfast::bulkhead::{Bulkhead, Config, ConfigSource, ConstConfig, Fixed, NoStats};
///
/// struct Bus;
/// impl ConstConfig for Bus {
///     const CONFIG: Config = Config::DEFAULT.with_max_queue(4);
/// }
/// fn held<C: ConfigSource>() -> usize { core::mem::size_of::<Bulkhead<4, NoStats, C>>() }
/// // The fixed one holds neither the config nor the pool id.
/// assert!(held::<Config>() - held::<Fixed<Bus>>() >= core::mem::size_of::<Config>() + 4);
/// ```
pub trait ConfigSource: sealed::Source {}

impl ConfigSource for Config {}
impl<T: ConstConfig> ConfigSource for Fixed<T> {}

pub(crate) mod sealed {
    use super::{Config, ConstConfig, Fixed};

    /// The source's machinery, private to the crate (keeps `ConfigSource` sealed).
    pub trait Source: Clone + core::fmt::Debug + PartialEq + Eq {
        /// Where the pool id is kept: `u32` beside a held configuration,
        /// nothing for a fixed one.
        #[cfg(not(feature = "defmt"))]
        type Id: Copy + core::fmt::Debug + Eq;
        /// Where the pool id is kept: `u32` beside a held configuration,
        /// nothing for a fixed one.
        #[cfg(feature = "defmt")]
        type Id: Copy + core::fmt::Debug + Eq + defmt::Format;
        /// The configuration: the held one, or the constant.
        fn get(&self) -> &Config;
        /// The pool id: the held one, or the constant.
        fn id(id: Self::Id) -> u32;
    }

    impl Source for Config {
        type Id = u32;
        #[inline(always)]
        fn get(&self) -> &Config {
            self
        }
        #[inline(always)]
        fn id(id: u32) -> u32 {
            id
        }
    }

    impl<T: ConstConfig> Source for Fixed<T> {
        type Id = ();
        #[inline(always)]
        fn get(&self) -> &Config {
            &T::CONFIG
        }
        #[inline(always)]
        fn id((): ()) -> u32 {
            T::ID
        }
    }
}

/// SplitMix64's finaliser: a cheap, well-spread 64-bit mix.
const fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
