//! Cached fallbacks: the last good value per key, served while a dependency
//! fails, up to a maximum staleness.
//!
//! A call that succeeds stores its value with the instant it arrived
//! ([`LastGood::store`]). When a later call for the same key fails, or is
//! refused (breaker open, bulkhead full), and the pipeline decides that a
//! fallback answers ([`Finish::Fallback`]),
//! the driver asks [`LastGood::get`] for that key: a value at most `max_age`
//! old is the answer, marked [`stale`](Cached::stale) with its
//! [`age`](Cached::age); an older one is never served and the call's error
//! stands. A fresh answer (the call succeeded) is never replaced by a cached
//! one.
//!
//! [`LastGood`] holds `N` entries in place (no allocation); when every slot
//! is taken, storing a new key replaces the entry stored longest ago.
//!
//! ```
//! use steadfast::cache::LastGood;
//! use steadfast::time::{Duration, Instant};
//!
//! let t = Instant::from_secs;
//! let mut last: LastGood<u8, u16, 4> = LastGood::new();
//! let _ = last.store(7, 215, t(0)); // a good reading from sensor 7
//! // At t=20 s the sensor fails: the reading is 20 s old, allowed up to 60 s.
//! let served = last.get(&7, t(20), Duration::from_secs(60)).unwrap();
//! assert_eq!((served.value, served.stale, served.age), (&215, true, Duration::from_secs(20)));
//! // At t=61 s it is too old to serve.
//! assert!(last.get(&7, t(61), Duration::from_secs(60)).is_none());
//! ```

use crate::pipeline::{Answer, Error, Finish};
use crate::time::{Duration, Instant};

/// What a driver does with the end of a call whose key has a cache, from
/// [`settle`].
///
/// ```
/// use steadfast::cache::{Settled, settle};
/// use steadfast::outcome::Outcome;
/// use steadfast::pipeline::{Failure, Finish, Reason};
///
/// let ok = Finish::Completed { attempts: 1, outcome: Outcome::Success };
/// assert_eq!(settle(ok, Some(Ok::<u8, ()>(7))), Settled::Fresh(7));
/// let refused = Finish::Fallback(Failure::new(Reason::BulkheadFull, 0));
/// assert!(matches!(settle(refused, None::<Result<u8, ()>>), Settled::Fallback(_)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Settled<T, X> {
    /// The call succeeded: store the value for the key and answer it fresh.
    Fresh(T),
    /// The call answered a value the classifier did not call a success (an
    /// ignored outcome, or a failure the fallback rule does not cover):
    /// answer it fresh, do not store it.
    Unstored(T),
    /// The pipeline decided that the fallback answers: serve the key's value
    /// if it may still be served, else answer this error.
    Fallback(X),
    /// The call failed and no fallback answers: answer this error.
    Failed(X),
}

impl<T, X> Settled<T, X> {
    /// The same decision with the error converted (an adapter adding
    /// context, such as the breaker's name).
    ///
    /// ```
    /// # use steadfast::cache::Settled;
    /// assert_eq!(Settled::<u8, u8>::Failed(1).map_err(u16::from), Settled::Failed(1u16));
    /// ```
    pub fn map_err<Y>(self, f: impl FnOnce(X) -> Y) -> Settled<T, Y> {
        match self {
            Self::Fresh(v) => Settled::Fresh(v),
            Self::Unstored(v) => Settled::Unstored(v),
            Self::Fallback(e) => Settled::Fallback(f(e)),
            Self::Failed(e) => Settled::Failed(f(e)),
        }
    }
}

/// How to settle a call that ended in `finish` with `last` as its last
/// attempt's result: [`Finish::answer`], with a value stored only when the
/// call succeeded ([`Finish::is_success`]).
///
/// ```
/// use steadfast::cache::{Settled, settle};
/// use steadfast::outcome::Outcome;
/// use steadfast::pipeline::{Failure, Finish, Reason};
///
/// // A value the classifier marked ignored is the answer, but not a good one to keep.
/// let ignored = Finish::Completed { attempts: 1, outcome: Outcome::Ignored };
/// assert_eq!(settle(ignored, Some(Ok::<u8, ()>(4))), Settled::Unstored(4));
/// let failed = Finish::Failed(Failure::new(Reason::RetriesExhausted, 3));
/// assert!(matches!(settle(failed, Some(Err::<u8, _>(()))), Settled::Failed(_)));
/// ```
pub fn settle<T, E>(finish: Finish, last: Option<Result<T, E>>) -> Settled<T, Error<E>> {
    let success = finish.is_success();
    match finish.answer(last) {
        Answer::Value(value) if success => Settled::Fresh(value),
        Answer::Value(value) => Settled::Unstored(value),
        Answer::Fallback(error) => Settled::Fallback(error),
        Answer::Failed(error) => Settled::Failed(error),
    }
}

/// An answer and where it came from: fresh from the call, or the last good
/// value from a cache (the seeds' `IsFromCache`).
///
/// ```
/// use steadfast::cache::Cached;
/// use steadfast::time::Duration;
///
/// let fresh = Cached::fresh(3);
/// assert!(!fresh.stale);
/// assert_eq!(fresh.age, Duration::ZERO);
/// let old = Cached::from_cache(3, Duration::from_secs(5));
/// assert!(old.stale);
/// assert_eq!(old.into_value(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Cached<V> {
    /// The value.
    pub value: V,
    /// `true` when the value comes from the cache because the call failed or
    /// was refused; `false` when the call itself answered it.
    pub stale: bool,
    /// How long ago the value was obtained from the dependency
    /// ([`Duration::ZERO`] for a fresh one).
    pub age: Duration,
}

impl<V> Cached<V> {
    /// A value the call itself returned.
    ///
    /// ```
    /// # use steadfast::cache::Cached;
    /// assert!(!Cached::fresh("a").stale);
    /// ```
    pub const fn fresh(value: V) -> Self {
        Self {
            value,
            stale: false,
            age: Duration::ZERO,
        }
    }

    /// A value served from the cache, obtained `age` ago.
    ///
    /// ```
    /// # use steadfast::cache::Cached;
    /// # use steadfast::time::Duration;
    /// let c = Cached::from_cache("a", Duration::from_millis(10));
    /// assert_eq!((c.stale, c.age), (true, Duration::from_millis(10)));
    /// ```
    pub const fn from_cache(value: V, age: Duration) -> Self {
        Self {
            value,
            stale: true,
            age,
        }
    }

    /// The value, wherever it came from.
    ///
    /// ```
    /// # use steadfast::cache::Cached;
    /// assert_eq!(Cached::fresh(1).into_value(), 1);
    /// ```
    pub fn into_value(self) -> V {
        self.value
    }

    /// The same answer with its value transformed (a clone of a borrowed
    /// value, a conversion).
    ///
    /// ```
    /// # use steadfast::cache::Cached;
    /// # use steadfast::time::Duration;
    /// let c = Cached::from_cache(&7u8, Duration::from_secs(1)).map(|v| u16::from(*v));
    /// assert_eq!(c, Cached::from_cache(7u16, Duration::from_secs(1)));
    /// ```
    pub fn map<W>(self, f: impl FnOnce(V) -> W) -> Cached<W> {
        Cached {
            value: f(self.value),
            stale: self.stale,
            age: self.age,
        }
    }
}

/// The age of a value stored at `stored`, at `now`, if it may still be
/// served: at most `max_age` old. The one staleness rule of every cache,
/// fixed- or growable-capacity.
///
/// ```
/// use steadfast::cache::servable_age;
/// use steadfast::time::{Duration, Instant};
///
/// let max = Duration::from_secs(60);
/// assert_eq!(servable_age(Instant::from_secs(10), Instant::from_secs(70), max), Some(max));
/// assert_eq!(servable_age(Instant::from_secs(10), Instant::from_secs(71), max), None);
/// ```
#[must_use = "a value older than the maximum staleness must not be served"]
pub const fn servable_age(stored: Instant, now: Instant, max_age: Duration) -> Option<Duration> {
    let age = now.saturating_duration_since(stored);
    if age.as_micros() <= max_age.as_micros() {
        Some(age)
    } else {
        None
    }
}

/// The last good value of up to `N` keys, each with the instant it was
/// stored; no allocation, no panics.
///
/// Keys are compared with `==` (a linear scan: `N` is small on firmware).
/// Storing a key already present replaces its value and instant; storing a
/// new key when all `N` slots are taken replaces the entry stored longest
/// ago, and returns it.
///
/// ```
/// use steadfast::cache::LastGood;
/// use steadfast::time::{Duration, Instant};
///
/// // `const fn new`: a cache can live in a `static` cell.
/// const EMPTY: LastGood<u8, u32, 2> = LastGood::new();
/// assert!(EMPTY.is_empty());
///
/// let t = Instant::from_secs;
/// let mut last: LastGood<&str, u32, 2> = LastGood::new();
/// assert_eq!(last.store("a", 1, t(0)), None);
/// assert_eq!(last.store("b", 2, t(1)), None);
/// assert_eq!(last.store("c", 3, t(2)), Some(("a", 1))); // full: the oldest goes
/// assert_eq!(last.len(), 2);
/// assert!(last.get(&"a", t(2), Duration::MAX).is_none());
/// assert_eq!(last.get(&"c", t(5), Duration::MAX).unwrap().value, &3);
/// ```
#[derive(Clone, Debug)]
pub struct LastGood<K, V, const N: usize> {
    entries: [Option<Entry<K, V>>; N],
}

#[derive(Clone, Debug)]
struct Entry<K, V> {
    key: K,
    value: V,
    stored: Instant,
}

impl<K, V, const N: usize> Default for LastGood<K, V, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, const N: usize> LastGood<K, V, N> {
    /// An empty cache of `N` slots.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// let last: LastGood<u8, u8, 3> = LastGood::new();
    /// assert_eq!((last.len(), last.capacity()), (0, 3));
    /// ```
    pub const fn new() -> Self {
        Self {
            entries: [const { None }; N],
        }
    }

    /// How many keys it can hold: `N`.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// assert_eq!(LastGood::<u8, u8, 8>::new().capacity(), 8);
    /// ```
    pub const fn capacity(&self) -> usize {
        N
    }

    /// How many keys have a value.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// # use steadfast::time::Instant;
    /// let mut last: LastGood<u8, u8, 2> = LastGood::new();
    /// let _ = last.store(1, 1, Instant::ZERO);
    /// assert_eq!(last.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.is_some()).count()
    }

    /// Whether no key has a value.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// assert!(LastGood::<u8, u8, 2>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.iter().all(Option::is_none)
    }

    /// Forgets every value.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// # use steadfast::time::Instant;
    /// let mut last: LastGood<u8, u8, 2> = LastGood::new();
    /// let _ = last.store(1, 1, Instant::ZERO);
    /// last.clear();
    /// assert!(last.is_empty());
    /// ```
    pub fn clear(&mut self) {
        for entry in &mut self.entries {
            *entry = None;
        }
    }
}

impl<K: PartialEq, V, const N: usize> LastGood<K, V, N> {
    /// Stores `value` for `key`, obtained at `now` (call it with every fresh
    /// success). Returns the entry it pushed out: none when `key` was already
    /// present (its old value is simply replaced) or a slot was free, else
    /// the key and value stored longest ago. With `N == 0` nothing is stored
    /// and the pair itself comes back.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// # use steadfast::time::{Duration, Instant};
    /// let mut last: LastGood<u8, u8, 1> = LastGood::new();
    /// assert_eq!(last.store(1, 10, Instant::from_secs(0)), None);
    /// assert_eq!(last.store(1, 11, Instant::from_secs(5)), None); // same key: replaced
    /// let served = last.get(&1, Instant::from_secs(6), Duration::MAX).unwrap();
    /// assert_eq!((served.value, served.age), (&11, Duration::from_secs(1)));
    /// ```
    pub fn store(&mut self, key: K, value: V, now: Instant) -> Option<(K, V)> {
        let entry = Entry {
            key,
            value,
            stored: now,
        };
        if let Some(slot) = self
            .entries
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|e| e.key == entry.key))
        {
            *slot = Some(entry);
            return None;
        }
        if let Some(slot) = self.entries.iter_mut().find(|e| e.is_none()) {
            *slot = Some(entry);
            return None;
        }
        // Full: the oldest goes (the first of equals, so the choice is fixed).
        let oldest = self.entries.iter_mut().reduce(|oldest, e| {
            if stored_at(e) < stored_at(oldest) {
                e
            } else {
                oldest
            }
        });
        match oldest {
            Some(slot) => slot.replace(entry).map(|old| (old.key, old.value)),
            None => Some((entry.key, entry.value)),
        }
    }

    /// The value of `key` if it is at most `max_age` old at `now`, marked
    /// stale with its age; `None` when there is none or it is older.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// # use steadfast::time::{Duration, Instant};
    /// let mut last: LastGood<u8, u8, 1> = LastGood::new();
    /// let _ = last.store(1, 10, Instant::from_secs(0));
    /// assert!(last.get(&1, Instant::from_secs(30), Duration::from_secs(30)).is_some());
    /// assert!(last.get(&1, Instant::from_secs(31), Duration::from_secs(30)).is_none());
    /// assert!(last.get(&2, Instant::from_secs(0), Duration::MAX).is_none());
    /// ```
    #[must_use]
    pub fn get(&self, key: &K, now: Instant, max_age: Duration) -> Option<Cached<&V>> {
        let entry = self.find(key)?;
        let age = servable_age(entry.stored, now, max_age)?;
        Some(Cached::from_cache(&entry.value, age))
    }

    /// When the value of `key` was stored, whatever its age.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// # use steadfast::time::Instant;
    /// let mut last: LastGood<u8, u8, 1> = LastGood::new();
    /// let _ = last.store(1, 10, Instant::from_secs(3));
    /// assert_eq!(last.stored_at(&1), Some(Instant::from_secs(3)));
    /// ```
    #[must_use]
    pub fn stored_at(&self, key: &K) -> Option<Instant> {
        self.find(key).map(|e| e.stored)
    }

    /// Forgets the value of `key`, returning it.
    ///
    /// ```
    /// # use steadfast::cache::LastGood;
    /// # use steadfast::time::Instant;
    /// let mut last: LastGood<u8, u8, 1> = LastGood::new();
    /// let _ = last.store(1, 10, Instant::ZERO);
    /// assert_eq!(last.remove(&1), Some(10));
    /// assert!(last.is_empty());
    /// ```
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|e| e.key == *key))
            .and_then(Option::take)
            .map(|e| e.value)
    }

    fn find(&self, key: &K) -> Option<&Entry<K, V>> {
        self.entries.iter().flatten().find(|e| e.key == *key)
    }
}

/// When a full slot was stored (every slot is full when this is asked).
fn stored_at<K, V>(slot: &Option<Entry<K, V>>) -> Instant {
    slot.as_ref().map_or(Instant::ZERO, |e| e.stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(60);

    fn t(secs: u64) -> Instant {
        Instant::from_secs(secs)
    }

    #[test]
    fn stored_then_served_stale_until_max_age_then_refused() {
        let mut last: LastGood<u8, u32, 4> = LastGood::new();
        let _ = last.store(1, 100, t(10));
        assert_eq!(
            last.get(&1, t(10), MAX),
            Some(Cached::from_cache(&100, Duration::ZERO))
        );
        assert_eq!(
            last.get(&1, t(45), MAX),
            Some(Cached::from_cache(&100, Duration::from_secs(35)))
        );
        assert_eq!(
            last.get(&1, t(70), MAX),
            Some(Cached::from_cache(&100, MAX))
        );
        assert_eq!(last.get(&1, t(71), MAX), None);
        // Too old is not forgotten: a newer store makes it servable again.
        let _ = last.store(1, 101, t(80));
        assert_eq!(
            last.get(&1, t(81), MAX),
            Some(Cached::from_cache(&101, Duration::from_secs(1)))
        );
    }

    #[test]
    fn keys_are_independent() {
        let mut last: LastGood<u8, u32, 4> = LastGood::new();
        let _ = last.store(1, 100, t(0));
        let _ = last.store(2, 200, t(50));
        assert_eq!(last.get(&1, t(70), MAX).map(|c| *c.value), None);
        assert_eq!(last.get(&2, t(70), MAX).map(|c| *c.value), Some(200));
        assert_eq!(last.get(&3, t(70), MAX), None);
    }

    #[test]
    fn full_replaces_the_oldest_not_the_first_slot() {
        let mut last: LastGood<u8, u32, 3> = LastGood::new();
        let _ = last.store(1, 10, t(5));
        let _ = last.store(2, 20, t(1));
        let _ = last.store(3, 30, t(9));
        // Key 2 was stored longest ago, though it sits in the second slot.
        assert_eq!(last.store(4, 40, t(10)), Some((2, 20)));
        assert_eq!(last.stored_at(&2), None);
        assert_eq!(last.stored_at(&1), Some(t(5)));
        // Refreshing key 1 makes key 3 the oldest.
        assert_eq!(last.store(1, 11, t(11)), None);
        assert_eq!(last.store(5, 50, t(12)), Some((3, 30)));
        assert_eq!(last.len(), 3);
    }

    #[test]
    fn zero_capacity_stores_nothing_and_does_not_panic() {
        let mut last: LastGood<u8, u32, 0> = LastGood::new();
        assert_eq!(last.store(1, 10, t(0)), Some((1, 10)));
        assert_eq!(last.get(&1, t(0), Duration::MAX), None);
        assert!(last.is_empty());
    }

    #[test]
    fn remove_and_clear() {
        let mut last: LastGood<u8, u32, 2> = LastGood::new();
        let _ = last.store(1, 10, t(0));
        let _ = last.store(2, 20, t(0));
        assert_eq!(last.remove(&1), Some(10));
        assert_eq!(last.remove(&1), None);
        // The freed slot is reused without pushing out key 2.
        assert_eq!(last.store(3, 30, t(1)), None);
        last.clear();
        assert_eq!(last.len(), 0);
    }

    #[test]
    fn a_clock_that_went_back_reads_as_age_zero() {
        let mut last: LastGood<u8, u32, 1> = LastGood::new();
        let _ = last.store(1, 10, t(10));
        assert_eq!(
            last.get(&1, t(5), Duration::ZERO),
            Some(Cached::from_cache(&10, Duration::ZERO))
        );
    }
}
