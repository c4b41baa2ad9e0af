//! Rate limiters shared between threads and tasks: the core's GCRA
//! arithmetic, one limiter per name ([`SharedRateLimiter`], lock-free: one
//! compare-and-swap on a packed state, [`Packed`]) or one per key, such as a
//! tenant ([`KeyedRateLimiter`], the core's [`RateLimiter`] behind a lock),
//! on the adapter's clock ([`time::now`]).
//!
//! A refusal says when the same call would be admitted
//! ([`Refused::retry_at`], an instant of [`steadfast::time`]; convert it with
//! [`time::to_std`]). The tower layers
//! (`RateLimitLayer`, `KeyedRateLimitLayer`, feature `tower`) answer a refused
//! request with [`Reason::RateLimited`]
//! and count it in `rate_limit_rejections_total`.
//!
//! ```
//! use steadfast::ratelimit::Config;
//! use steadfast_std::ratelimit::{KeyedRateLimiter, SharedRateLimiter};
//!
//! let api = SharedRateLimiter::new("api", Config::per_second(2))?;
//! assert!(api.check().is_ok() && api.check().is_ok());
//! assert!(api.check().unwrap_err().retry_at.is_some());
//!
//! // 1 call per second per tenant, at most 10 000 tenants remembered.
//! let tenants = KeyedRateLimiter::new("tenants", Config::per_second(1), 10_000)?;
//! assert!(tenants.check(&"acme").is_ok());
//! assert!(tenants.check(&"acme").is_err());
//! assert!(tenants.check(&"globex").is_ok()); // a limit of its own
//! # Ok::<(), steadfast::error::ConfigError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use steadfast::error::ConfigError;
use steadfast::outcome::Outcome;
use steadfast::pipeline::{Gate, Reason};
use steadfast::ratelimit::{Config, Packed, RateLimiter, Refused};
use steadfast::time::Instant;

use crate::sync::{AtomicU64, Ordering};

use crate::time;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The machines hold plain data: a panic elsewhere leaves them usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One GCRA limiter shared by every clone (an `Arc`): `count` calls per
/// `period`, bursts of `burst`.
///
/// Lock-free when the settings pack ([`Packed::new`]: a count whose ratio to
/// the period in microseconds reduces to at most 4 096 parts of a
/// microsecond, which covers every rate of whole calls per second, minute or
/// hour up to 4 096 per second, and any count dividing its period): a check
/// reads the clock and advances one atomic word with a compare-and-swap,
/// deciding exactly as the core's [`RateLimiter`]. Other settings keep the
/// core's [`RateLimiter`] behind a lock. A call whose clock reading is older
/// than another thread's latest check is judged at its own reading.
#[derive(Clone)]
pub struct SharedRateLimiter {
    name: Arc<str>,
    limiter: Arc<Limiter>,
}

/// The state of a [`SharedRateLimiter`].
enum Limiter {
    /// The packed arithmetic and its state, advanced by compare-and-swap.
    Packed(Packed, AtomicU64),
    /// The core's machine behind a lock, for settings that do not pack.
    Locked(Mutex<RateLimiter>),
}

impl Limiter {
    /// Runs `packed` on the packed state (retrying when another thread moved
    /// it meanwhile), or `locked` on the locked machine.
    #[inline]
    fn advance(
        &self,
        now: Instant,
        packed: impl Fn(&Packed, u64) -> Result<u64, Refused>,
        locked: impl FnOnce(&mut RateLimiter, Instant) -> Result<(), Refused>,
    ) -> Result<(), Refused> {
        match self {
            Self::Packed(p, state) => {
                let mut current = state.load(Ordering::Relaxed);
                loop {
                    let next = packed(p, current)?;
                    if next == current {
                        return Ok(());
                    }
                    match state.compare_exchange_weak(
                        current,
                        next,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return Ok(()),
                        Err(seen) => current = seen,
                    }
                }
            }
            Self::Locked(m) => locked(&mut lock(m), now),
        }
    }
}

impl fmt::Debug for SharedRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRateLimiter")
            .field("name", &self.name)
            .field("config", &self.config())
            .finish()
    }
}

impl SharedRateLimiter {
    /// A limiter named `name` (its metric label) with a full burst available.
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`.
    pub fn new(name: impl Into<Arc<str>>, config: Config) -> Result<Self, ConfigError> {
        Ok(Self {
            name: name.into(),
            limiter: Arc::new(match Packed::new(config)? {
                Some(p) => Limiter::Packed(p, AtomicU64::new(Packed::EMPTY)),
                None => Limiter::Locked(Mutex::new(RateLimiter::new(config)?)),
            }),
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limiter as a policy's admission stage.
    pub(crate) fn gate(&self) -> Gated<'_> {
        Gated(self)
    }

    #[cfg(feature = "tower")]
    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.clone()
    }

    /// The settings.
    pub fn config(&self) -> Config {
        match &*self.limiter {
            Limiter::Packed(p, _) => p.config(),
            Limiter::Locked(m) => lock(m).config(),
        }
    }

    /// Admits one call now, or says when to come back.
    ///
    /// # Errors
    ///
    /// [`Refused`] with the instant at which a call would be admitted.
    pub fn check(&self) -> Result<(), Refused> {
        self.check_at(time::now())
    }

    /// Admits `n` calls at once (all or none).
    ///
    /// ```
    /// # use steadfast::ratelimit::Config;
    /// # use steadfast_std::ratelimit::SharedRateLimiter;
    /// let batch = SharedRateLimiter::new("batch", Config::per_second(10))?;
    /// assert!(batch.check_n(10).is_ok());
    /// assert!(batch.check_n(1).is_err());
    /// assert_eq!(batch.check_n(11).unwrap_err().retry_at, None); // more than a burst
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Refused`]: when to come back, or never for more than a burst.
    pub fn check_n(&self, n: u32) -> Result<(), Refused> {
        let now = time::now();
        self.limiter
            .advance(now, |p, s| p.check_n(s, n, now), |l, now| l.check_n(n, now))
    }

    /// Calls it would admit now, one by one.
    pub fn available(&self) -> u32 {
        let now = time::now();
        match &*self.limiter {
            Limiter::Packed(p, state) => p.available(state.load(Ordering::Relaxed), now),
            Limiter::Locked(m) => lock(m).available(now),
        }
    }

    /// Admits one call at `now`: [`Limiter::advance`] with a single call's
    /// cost, written out so that the check inlines whole into its caller
    /// (through `advance` it executes 4 more instructions, 142 against 138
    /// in the shared row of the benchmarks).
    #[inline]
    fn check_at(&self, now: Instant) -> Result<(), Refused> {
        match &*self.limiter {
            Limiter::Packed(p, state) => {
                let mut current = state.load(Ordering::Relaxed);
                loop {
                    let next = p.check(current, now)?;
                    match state.compare_exchange_weak(
                        current,
                        next,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return Ok(()),
                        Err(seen) => current = seen,
                    }
                }
            }
            Limiter::Locked(m) => lock(m).check(now),
        }
    }
}

/// A [`SharedRateLimiter`] as a policy's admission stage: each attempt is one
/// check at the step's instant, with the core's rules for a [`RateLimiter`]
/// gate (nothing to hear back).
pub(crate) struct Gated<'a>(&'a SharedRateLimiter);

impl Gate for Gated<'_> {
    fn admit(&mut self, now: Instant) -> Result<(), Reason> {
        self.0.check_at(now).map_err(|refused| Reason::RateLimited {
            retry_at: refused.retry_at,
        })
    }
    fn record(&mut self, _outcome: Outcome, _now: Instant) {}
    fn cancel(&mut self, _now: Instant) {}
    fn withdraw(&mut self, _now: Instant) {}
}

/// A limiter per key (per tenant, per client address), all with the same
/// settings, remembering at most `capacity` keys.
///
/// A key whose limiter is full again (idle for a whole burst) is forgotten
/// at no cost: a fresh limiter behaves the same. When `capacity` keys are
/// all busy and a new one arrives, the key closest to idle is forgotten: it
/// may get a fresh burst early, never more than one burst. Memory stays
/// bounded whatever the callers send.
pub struct KeyedRateLimiter<K> {
    name: Arc<str>,
    config: Config,
    capacity: usize,
    limiters: Mutex<HashMap<K, RateLimiter>>,
}

impl<K> fmt::Debug for KeyedRateLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("capacity", &self.capacity)
            .field("keys", &lock(&self.limiters).len())
            .finish()
    }
}

impl<K: Hash + Eq + Clone> KeyedRateLimiter<K> {
    /// Limiters with `config` for up to `capacity` keys.
    ///
    /// ```
    /// # use steadfast::ratelimit::Config;
    /// # use steadfast_std::ratelimit::KeyedRateLimiter;
    /// let err = KeyedRateLimiter::<u32>::new("t", Config::per_second(1), 0).unwrap_err();
    /// assert_eq!(err.field, "capacity");
    /// ```
    ///
    /// # Errors
    ///
    /// When [`Config::validate`] refuses `config`, or `capacity` is 0.
    pub fn new(
        name: impl Into<Arc<str>>,
        config: Config,
        capacity: usize,
    ) -> Result<Self, ConfigError> {
        RateLimiter::new(config)?;
        if capacity == 0 {
            return Err(ConfigError::new("capacity", "must be at least 1 key"));
        }
        Ok(Self {
            name: name.into(),
            config,
            capacity,
            limiters: Mutex::new(HashMap::new()),
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    #[cfg(feature = "tower")]
    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.name.clone()
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        lock(&self.limiters).len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Admits one call for `key` now, or says when to come back.
    ///
    /// ```
    /// # use steadfast::ratelimit::Config;
    /// # use steadfast_std::ratelimit::KeyedRateLimiter;
    /// // Two keys at most: a third forgets the one closest to idle.
    /// let per_ip = KeyedRateLimiter::new("ip", Config::per_minute(1), 2)?;
    /// for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
    ///     assert!(per_ip.check(&ip).is_ok());
    /// }
    /// assert_eq!(per_ip.len(), 2);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Refused`] with the instant at which `key`'s next call is admitted.
    pub fn check(&self, key: &K) -> Result<(), Refused> {
        let now = time::now();
        let mut limiters = lock(&self.limiters);
        if let Some(limiter) = limiters.get_mut(key) {
            return limiter.check(now);
        }
        if limiters.len() >= self.capacity {
            let burst = self.config.burst();
            limiters.retain(|_, l| l.available(now) < burst);
            if limiters.len() >= self.capacity
                && let Some(idlest) = limiters
                    .iter()
                    .max_by_key(|(_, l)| l.available(now))
                    .map(|(k, _)| k.clone())
            {
                limiters.remove(&idlest);
            }
        }
        // Validated in `new`, so this cannot fail; a refusal stands in if it did.
        let Ok(mut limiter) = RateLimiter::new(self.config) else {
            return Err(Refused { retry_at: None });
        };
        let answer = limiter.check(now);
        limiters.insert(key.clone(), limiter);
        answer
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_tenant_gets_its_rate_and_a_refusal_says_when_to_return() {
        let tenants = KeyedRateLimiter::new("t", Config::per_second(4).smooth(), 100).unwrap();
        assert!(tenants.check(&1).is_ok());
        let refused = tenants.check(&1).unwrap_err();
        let wait = refused
            .retry_at
            .unwrap()
            .saturating_duration_since(time::now());
        assert_eq!(wait, steadfast::time::Duration::from_millis(250));
        tokio::time::sleep(std::time::Duration::from_millis(249)).await;
        assert!(tenants.check(&1).is_err());
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        assert!(tenants.check(&1).is_ok());
        assert!(tenants.check(&2).is_ok(), "another key has its own limit");
    }

    #[tokio::test(start_paused = true)]
    async fn memory_stays_bounded_and_idle_keys_go_first() {
        let keyed = KeyedRateLimiter::new("t", Config::per_second(1), 3).unwrap();
        for k in 0..3 {
            keyed.check(&k).unwrap();
        }
        // 0 becomes idle again; 1 and 2 are refilled later.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        keyed.check(&1).unwrap_err();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        keyed.check(&1).unwrap();
        keyed.check(&2).unwrap();
        // Key 0 has been idle for a whole burst: a new key replaces it, and
        // the busy keys keep their state.
        keyed.check(&3).unwrap();
        assert_eq!(keyed.len(), 3);
        assert!(keyed.check(&1).is_err(), "1 kept its state");
        assert!(keyed.check(&2).is_err(), "2 kept its state");
        for k in 4..1_000 {
            let _ = keyed.check(&k);
            assert!(keyed.len() <= 3);
        }
    }
}

#[cfg(test)]
mod shared_paths {
    use super::{Limiter, SharedRateLimiter};
    use steadfast::ratelimit::Config;
    use steadfast::time::Duration;

    /// The same limiter on the packed and on the locked path, by settings.
    fn both() -> [SharedRateLimiter; 2] {
        let packed = SharedRateLimiter::new("p", Config::per_minute(3).with_burst(2)).unwrap();
        // 3 calls a minute: a tick of one microsecond packs...
        assert!(matches!(*packed.limiter, Limiter::Packed(..)));
        // ...where 4 099 (a prime) calls per 4 100 s would need 4 099 ticks per µs.
        let locked = SharedRateLimiter::new(
            "l",
            Config::DEFAULT
                .with_rate(4_099, Duration::from_secs(4_100))
                .with_burst(2),
        )
        .unwrap();
        assert!(matches!(*locked.limiter, Limiter::Locked(..)));
        [packed, locked]
    }

    #[test]
    fn packed_and_locked_limiters_answer_alike() {
        for limiter in both() {
            assert_eq!(limiter.available(), 2, "{}", limiter.name());
            assert!(limiter.check().is_ok());
            assert!(limiter.check_n(2).unwrap_err().retry_at.is_some());
            assert!(limiter.check_n(3).unwrap_err().retry_at.is_none());
            assert!(limiter.check_n(0).is_ok());
            assert!(limiter.check().is_ok());
            let refused = limiter.check().unwrap_err();
            assert!(refused.retry_at.is_some(), "{}", limiter.name());
            assert_eq!(limiter.available(), 0);
        }
        assert_eq!(both()[0].config(), Config::per_minute(3).with_burst(2));
    }
}
