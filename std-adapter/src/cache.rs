//! Cached fallbacks (feature `cache`): the last good value per key, served
//! when a call fails or is refused, up to a maximum staleness, and marked as
//! such ([`Cached::stale`], the seeds' `IsFromCache`).
//!
//! [`LastGood`] is a bounded concurrent map (the [`quick_cache`] crate) from a
//! key to the last value a call for that key returned, with the instant it
//! arrived, on the adapter's clock ([`crate::time::now`], so paused Tokio time
//! drives it). [`Policy::call_cached`] (Tokio) and
//! [`Policy::call_blocking_cached`] run a call through it:
//!
//! * **Fresh**: the call succeeded (its value is one the classifier calls a
//!   success). The value is stored for the key and answered with
//!   `stale: false`; a cached value is never served instead of it. A value
//!   the classifier does not call a success (an ignored outcome, or one it
//!   failed while [`pipeline::Config::fallback`](steadfast::pipeline::Config::fallback)
//!   does not cover it) is answered as the call returned it, and not stored.
//! * **Served from the cache**: the pipeline ends in [`Finish::Fallback`]
//!   (the call failed, or was refused by the breaker or bulkhead, in a way
//!   [`pipeline::Config::fallback`](steadfast::pipeline::Config::fallback)
//!   covers) and the key has a value at most
//!   [`max_staleness`](LastGood::max_staleness) old: that value is the
//!   answer, with `stale: true` and its [`age`](Cached::age).
//! * **Not served**: a value older than the maximum staleness is never
//!   served; the call's error is returned, as it is when the key has no
//!   value or the fallback rule does not cover the failure.
//!
//! The pipeline is told the call has a fallback only when the key holds a
//! servable value as the call starts; its [`Event::Fallback`](steadfast::pipeline::Event::Fallback)
//! is then reported under the cache's [`name`](LastGood::name)
//! ([`Observer::on_fallback`](crate::Observer::on_fallback); with the
//! `metrics` feature, `fallback_invocations_total{name="<cache>"}`). A value
//! that ages past the limit while the call retries is counted yet not served.
//!
//! ```
//! use steadfast::pipeline::{self, FallbackOn};
//! use steadfast::time::Duration;
//! use steadfast_std::cache::LastGood;
//! use steadfast_std::{Policy, SharedBreaker};
//!
//! #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let breaker = SharedBreaker::new("catalog", Default::default())?;
//!     let policy = Policy::builder(pipeline::Config::default().with_fallback(FallbackOn::AnyFailure))?
//!         .name("catalog")
//!         .breaker(breaker.clone())
//!         .build();
//!     let events = LastGood::new("catalog-cache", 1_000, Duration::from_secs(300))?;
//!
//!     let fresh = policy.call_cached(&events, "concerts", || async { Ok::<_, ()>(vec!["jazz night"]) }).await;
//!     assert!(!fresh.unwrap().stale);
//!
//!     let _ = breaker.force_open(); // the catalog service is down
//!     tokio::time::advance(std::time::Duration::from_secs(60)).await;
//!     let served = policy.call_cached(&events, "concerts", || async { Err(()) }).await.unwrap();
//!     assert!(served.stale); // IsFromCache
//!     assert_eq!(served.age, Duration::from_secs(60));
//!     assert_eq!(served.value, ["jazz night"]);
//!
//!     // Nothing cached for this key: the breaker's refusal is the answer.
//!     let none = policy.call_cached(&events, "theatre", || async { Err(()) }).await;
//!     assert!(none.unwrap_err().is_rejection());
//!     Ok(())
//! }
//! ```

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

pub use steadfast::cache::Cached;
use steadfast::cache::{Settled, servable_age, settle};
use steadfast::error::ConfigError;
use steadfast::outcome::Classify;
use steadfast::pipeline::Finish;
use steadfast::time::{Duration, Instant};

use crate::policy::with_breaker;
use crate::{Error, Policy, time};

/// The last good value of each key, up to `capacity` keys, served for at
/// most `max_staleness` after it was stored. Cheap to clone (an `Arc`); every
/// clone shares the same entries.
///
/// When full, storing a new key evicts another by the cache's policy (keys
/// read rarely go first). Values are kept behind an `Arc`: looking a key up
/// clones the value only when it is served.
///
/// ```
/// use steadfast::time::Duration;
/// use steadfast_std::cache::LastGood;
///
/// let prices: LastGood<&str, u32> = LastGood::new("prices-cache", 100, Duration::from_secs(30))?;
/// prices.store("AAPL", 190);
/// let hit = prices.get(&"AAPL").unwrap();
/// assert_eq!((hit.value, hit.stale), (190, true));
/// assert!(prices.get(&"MSFT").is_none());
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
pub struct LastGood<K, V> {
    shared: Arc<Shared<K, V>>,
}

struct Shared<K, V> {
    name: Arc<str>,
    max_staleness: Duration,
    capacity: usize,
    entries: quick_cache::sync::Cache<K, Entry<V>>,
}

struct Entry<V> {
    value: Arc<V>,
    stored: Instant,
}

impl<V> Clone for Entry<V> {
    fn clone(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            stored: self.stored,
        }
    }
}

impl<K, V> Clone for LastGood<K, V> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K, V> fmt::Debug for LastGood<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastGood")
            .field("name", &self.shared.name)
            .field("capacity", &self.shared.capacity)
            .field("max_staleness", &self.shared.max_staleness)
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> LastGood<K, V> {
    /// A cache named `name` (its fallbacks are counted under it) holding up
    /// to `capacity` keys, serving a value for at most `max_staleness` after
    /// it was stored.
    ///
    /// `max_staleness` is a `std::time::Duration` or a steadfast one.
    ///
    /// # Errors
    ///
    /// `capacity` 0, which could hold nothing (`invalid `capacity`: must be
    /// at least 1`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast_std::cache::LastGood;
    ///
    /// let quotes = LastGood::<String, u64>::new("quotes", 1000, Duration::from_secs(300))?;
    /// assert_eq!(quotes.max_staleness(), steadfast::time::Duration::from_secs(300));
    /// let err = LastGood::<u8, u8>::new("c", 0, Duration::from_secs(1)).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid `capacity`: must be at least 1");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn new(
        name: impl Into<Arc<str>>,
        capacity: usize,
        max_staleness: impl Into<Duration>,
    ) -> Result<Self, ConfigError> {
        let max_staleness = max_staleness.into();
        if capacity == 0 {
            return Err(ConfigError::new("capacity", "must be at least 1"));
        }
        Ok(Self {
            shared: Arc::new(Shared {
                name: name.into(),
                max_staleness,
                capacity,
                entries: quick_cache::sync::Cache::new(capacity),
            }),
        })
    }

    /// Stores `value` for `key`, obtained now ([`crate::time::now`]): the
    /// calls through a policy do this with every fresh success.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// # use steadfast_std::cache::LastGood;
    /// let c = LastGood::new("c", 10, Duration::from_secs(1))?;
    /// c.store(1, "one");
    /// c.store(1, "uno"); // replaces
    /// assert_eq!(c.get(&1).unwrap().value, "uno");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn store(&self, key: K, value: V) {
        let entry = Entry {
            value: Arc::new(value),
            stored: time::now(),
        };
        self.shared.entries.insert(key, entry);
    }

    /// The value of `key` if it is at most [`max_staleness`](Self::max_staleness)
    /// old now, marked stale with its age; `None` if there is none or it is
    /// older.
    ///
    /// ```
    /// use steadfast::time::Duration;
    /// use steadfast_std::cache::LastGood;
    ///
    /// #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// async fn main() -> Result<(), steadfast::error::ConfigError> {
    ///     let c = LastGood::new("c", 10, Duration::from_secs(30))?;
    ///     c.store("k", 1);
    ///     tokio::time::advance(std::time::Duration::from_secs(30)).await;
    ///     assert_eq!(c.get(&"k").unwrap().age, Duration::from_secs(30));
    ///     tokio::time::advance(std::time::Duration::from_secs(1)).await;
    ///     assert!(c.get(&"k").is_none()); // too old to serve
    ///     Ok(())
    /// }
    /// ```
    #[must_use]
    pub fn get(&self, key: &K) -> Option<Cached<V>> {
        let entry = self.servable(key)?;
        let age = servable_age(entry.stored, time::now(), self.shared.max_staleness)?;
        Some(Cached::from_cache(V::clone(&entry.value), age))
    }

    /// Forgets the value of `key`, returning it.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// # use steadfast_std::cache::LastGood;
    /// let c = LastGood::new("c", 10, Duration::from_secs(1))?;
    /// c.store(1, 'a');
    /// assert_eq!(c.remove(&1), Some('a'));
    /// assert!(c.get(&1).is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn remove(&self, key: &K) -> Option<V> {
        self.shared
            .entries
            .remove(key)
            .map(|(_, entry)| V::clone(&entry.value))
    }

    /// How many keys hold a value (servable or not).
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// # use steadfast_std::cache::LastGood;
    /// let c = LastGood::new("c", 10, Duration::from_secs(1))?;
    /// c.store(1, ());
    /// assert_eq!(c.len(), 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.shared.entries.len()
    }

    /// Whether no key holds a value.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// # use steadfast_std::cache::LastGood;
    /// assert!(LastGood::<u8, u8>::new("c", 10, Duration::from_secs(1))?.is_empty());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.entries.is_empty()
    }

    /// The key's entry if it may be served now (no value is cloned).
    fn servable(&self, key: &K) -> Option<Entry<V>> {
        let entry = self.shared.entries.get(key)?;
        servable_age(entry.stored, time::now(), self.shared.max_staleness).map(|_| entry)
    }

    /// Whether the key holds a value that may be served now: the call
    /// has a fallback.
    fn has_servable(&self, key: &K) -> bool {
        self.servable(key).is_some()
    }

    /// The answer of a call for `key` that ended in `finish`: a fresh success
    /// is stored and answered, a fallback served from the cache if it may
    /// be, anything else answered as the call returned it.
    fn settle<E>(
        &self,
        policy: &crate::policy::Inner,
        key: K,
        finish: Finish,
        last: Option<Result<V, E>>,
    ) -> Result<Cached<V>, Error<E>> {
        match settle(finish, last).map_err(|e| with_breaker(policy, e)) {
            Settled::Fresh(value) => {
                self.store(key, value.clone());
                Ok(Cached::fresh(value))
            }
            Settled::Unstored(value) => Ok(Cached::fresh(value)),
            Settled::Fallback(error) => self.get(&key).ok_or(error),
            Settled::Failed(error) => Err(error),
        }
    }
}

impl<K, V> LastGood<K, V> {
    /// The name its fallbacks are reported under.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// # use steadfast_std::cache::LastGood;
    /// assert_eq!(LastGood::<u8, u8>::new("quotes-cache", 1, Duration::ZERO)?.name(), "quotes-cache");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The oldest a value may be and still be served.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// # use steadfast_std::cache::LastGood;
    /// let c = LastGood::<u8, u8>::new("c", 1, Duration::from_secs(9))?;
    /// assert_eq!(c.max_staleness(), Duration::from_secs(9));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn max_staleness(&self) -> Duration {
        self.shared.max_staleness
    }

    /// How many keys it holds at most.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// # use steadfast_std::cache::LastGood;
    /// assert_eq!(LastGood::<u8, u8>::new("c", 64, Duration::ZERO)?.capacity(), 64);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

impl<C> Policy<C> {
    /// Runs `op` through the policy on Tokio (as [`call`](Self::call)), with
    /// `cache` as its fallback for `key`: a fresh success is stored and
    /// answered (`stale: false`); when the pipeline ends in
    /// [`Finish::Fallback`] the key's last good value, if at most
    /// [`max_staleness`](LastGood::max_staleness) old, is the answer
    /// (`stale: true`, with its age); otherwise the call's error is returned. See the [module docs](crate::cache) for the rules.
    ///
    /// ```
    /// use steadfast::pipeline::{self, FallbackOn};
    /// use steadfast::retry;
    /// use steadfast::time::Duration;
    /// use steadfast_std::Policy;
    /// use steadfast_std::cache::LastGood;
    ///
    /// #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let config = pipeline::Config::default()
    ///         .with_retry(retry::Config::default().with_max_attempts(1))
    ///         .with_fallback(FallbackOn::AnyFailure);
    ///     let policy = Policy::builder(config)?.build();
    ///     let rates = LastGood::new("rates-cache", 16, Duration::from_secs(600))?;
    ///     let up = policy.call_cached(&rates, "EUR", || async { Ok::<u32, &str>(108) }).await.unwrap();
    ///     assert_eq!((up.value, up.stale), (108, false));
    ///     let down = policy.call_cached(&rates, "EUR", || async { Err("rates down") }).await.unwrap();
    ///     assert_eq!((down.value, down.stale), (108, true));
    ///     Ok(())
    /// }
    /// ```
    #[cfg(feature = "tokio")]
    pub async fn call_cached<K, T, E, F, Fut>(
        &self,
        cache: &LastGood<K, T>,
        key: K,
        op: F,
    ) -> Result<Cached<T>, Error<E>>
    where
        C: Classify<T, E>,
        K: Eq + Hash + Clone,
        T: Clone,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let has_fallback = cache.has_servable(&key);
        let (finish, last) = self.run(op, has_fallback, Some(cache.name())).await;
        cache.settle(&self.inner, key, finish, last)
    }

    /// Like [`call_cached`](Self::call_cached), on the current thread (as
    /// [`call_blocking`](Self::call_blocking)).
    ///
    /// ```
    /// use steadfast::pipeline::{self, FallbackOn};
    /// use steadfast::time::Duration;
    /// use steadfast_std::{Policy, SharedBreaker};
    /// use steadfast_std::cache::LastGood;
    ///
    /// let breaker = SharedBreaker::new("geo", Default::default())?;
    /// let policy = Policy::builder(pipeline::Config::default().with_fallback(FallbackOn::Rejection))?
    ///     .breaker(breaker.clone())
    ///     .build();
    /// let cities = LastGood::new("geo-cache", 100, Duration::from_secs(3600))?;
    /// let fresh = policy.call_blocking_cached(&cities, 75001, || Ok::<_, ()>("Paris")).unwrap();
    /// assert!(!fresh.stale);
    /// let _ = breaker.force_open();
    /// let cached = policy.call_blocking_cached(&cities, 75001, || Err(())).unwrap();
    /// assert_eq!((cached.value, cached.stale), ("Paris", true));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn call_blocking_cached<K, T, E>(
        &self,
        cache: &LastGood<K, T>,
        key: K,
        op: impl FnMut() -> Result<T, E>,
    ) -> Result<Cached<T>, Error<E>>
    where
        C: Classify<T, E>,
        K: Eq + Hash + Clone,
        T: Clone,
    {
        let has_fallback = cache.has_servable(&key);
        let (finish, last) = self.run_blocking(op, has_fallback, Some(cache.name()));
        cache.settle(&self.inner, key, finish, last)
    }
}
