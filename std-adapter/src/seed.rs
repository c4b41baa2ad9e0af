//! The one place the adapter reads randomness from the operating system: the
//! default seeds of the jitter streams ([`Policy`](crate::Policy),
//! `RetryLayer`, `RetryPolicy`, policies built from a config file without a
//! `seed`).
//!
//! Jitter exists to spread a fleet's retries apart, so replicas started from the
//! same binary and the same config file must not draw the same delays: every
//! default seed is fresh from the OS. A test or a simulation that wants to
//! replay a run passes its own seed instead (`PolicyBuilder::seed`, the config
//! file's `seed` key, `with_seed` on the tower types).
//!
//! The source is the standard library's `RandomState`, whose keys the OS's
//! random source provides (`getrandom(2)`, `BCryptGenRandom`, `arc4random`…):
//! no extra dependency.
//!
//! ```
//! let a = steadfast_std::seed::from_os();
//! let b = steadfast_std::seed::from_os();
//! assert_ne!(a, b);
//! ```

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

/// Numbers each draw, so that two draws on one thread hash different inputs.
static DRAWS: AtomicU64 = AtomicU64::new(0);

/// A seed from the operating system's random source: different in every
/// process and at every call.
///
/// ```
/// use steadfast::rng::{Rng, SplitMix64};
/// let mut rng = SplitMix64::new(steadfast_std::seed::from_os());
/// let _ = rng.next_u64();
/// ```
pub fn from_os() -> u64 {
    RandomState::new().hash_one(DRAWS.fetch_add(1, Ordering::Relaxed))
}
