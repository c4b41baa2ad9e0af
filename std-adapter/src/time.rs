//! The one place where `std`/Tokio time meets [`steadfast::time`].
//!
//! The core counts microseconds from an epoch of the caller's choosing. Here
//! that epoch is per process ([`epoch`]): fixed on first use, one hour (or as
//! much as the monotonic clock allows) *before* that moment, so that a Tokio
//! runtime with a paused clock — whose clock starts when the runtime is built —
//! never reads as earlier than the epoch. Every shared breaker, bulkhead and
//! budget sees the same timeline, whichever policy or thread reads it.
//!
//! Conversions saturate: an instant before the epoch reads as
//! [`Instant::ZERO`], [`Instant::MAX`] converts to a point ~30 years ahead.
//!
//! With the `tokio` feature, [`now`] reads `tokio::time::Instant::now`, so a
//! paused test clock (`#[tokio::test(start_paused = true)]`) drives every
//! decision; outside a runtime that is the `std` clock.
//!
//! ```
//! use steadfast_std::time;
//! let a = time::now();
//! let b = time::now();
//! assert!(b >= a);
//! assert_eq!(time::from_std(time::to_std(a)), a);
//! ```

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration as StdDuration;

use steadfast::time::{Duration, Instant};

static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();

/// What [`Instant::MAX`] converts to: far enough never to fire.
const FAR_FUTURE: StdDuration = StdDuration::from_secs(30 * 365 * 24 * 3600);

/// The process epoch: steadfast's [`Instant::ZERO`].
///
/// ```
/// use steadfast_std::time;
/// assert_eq!(time::from_std(time::epoch()), steadfast::time::Instant::ZERO);
/// ```
pub fn epoch() -> std::time::Instant {
    *EPOCH.get_or_init(|| {
        let now = std::time::Instant::now();
        [3600, 60, 1]
            .into_iter()
            .find_map(|secs| now.checked_sub(StdDuration::from_secs(secs)))
            .unwrap_or(now)
    })
}

/// A `std` instant as a steadfast [`Instant`] (µs since [`epoch`], saturating).
///
/// ```
/// use steadfast_std::time;
/// let t = time::epoch() + std::time::Duration::from_millis(1500);
/// assert_eq!(time::from_std(t), steadfast::time::Instant::from_millis(1500));
/// ```
pub fn from_std(at: std::time::Instant) -> Instant {
    let since = at.saturating_duration_since(epoch());
    Instant::from_micros(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

/// A steadfast [`Instant`] as a `std` instant (saturating to ~30 years ahead).
///
/// ```
/// use steadfast_std::time;
/// use steadfast::time::Instant;
/// assert_eq!(time::to_std(Instant::from_secs(2)) - time::epoch(), std::time::Duration::from_secs(2));
/// ```
pub fn to_std(at: Instant) -> std::time::Instant {
    clamped(at, std::time::Instant::now())
}

/// `at` on the std clock, at most [`FAR_FUTURE`] after `now` (the clock the
/// result will be compared with).
fn clamped(at: Instant, now: std::time::Instant) -> std::time::Instant {
    let far = now + FAR_FUTURE;
    epoch()
        .checked_add(StdDuration::from_micros(at.as_micros()))
        .map_or(far, |t| t.min(far))
}

/// A steadfast [`Duration`] as a `std` one.
///
/// ```
/// use steadfast_std::time;
/// assert_eq!(time::to_std_duration(steadfast::time::Duration::from_millis(3)), std::time::Duration::from_millis(3));
/// ```
pub fn to_std_duration(d: Duration) -> StdDuration {
    StdDuration::from_micros(d.as_micros())
}

/// A `std` duration as a steadfast [`Duration`] (saturating).
///
/// ```
/// use steadfast_std::time;
/// assert_eq!(time::from_std_duration(std::time::Duration::from_secs(1)), steadfast::time::Duration::from_secs(1));
/// ```
pub fn from_std_duration(d: StdDuration) -> Duration {
    Duration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Now, on the std clock (what blocking calls use).
///
/// ```
/// assert!(steadfast_std::time::now_std() <= steadfast_std::time::now_std());
/// ```
pub fn now_std() -> Instant {
    from_std(std::time::Instant::now())
}

/// Now: the Tokio clock with the `tokio` feature (paused in tests), else the
/// std clock.
///
/// ```
/// let t = steadfast_std::time::now();
/// assert!(t > steadfast::time::Instant::ZERO);
/// ```
pub fn now() -> Instant {
    from_std(now_instant())
}

/// The instant [`now`] converts: Tokio's clock with the `tokio` feature.
#[inline]
pub(crate) fn now_instant() -> std::time::Instant {
    #[cfg(feature = "tokio")]
    {
        tokio::time::Instant::now().into_std()
    }
    #[cfg(not(feature = "tokio"))]
    {
        std::time::Instant::now()
    }
}

std::thread_local! {
    /// The last deadline [`reads_before`] was asked about, in µs and on the
    /// std clock: const-initialised with no destructor, one thread-local load.
    static DEADLINE: Cell<Option<(u64, std::time::Instant)>> = const { Cell::new(None) };
}

/// Whether `at`, a reading of the clock [`now`] converts, reads before
/// `until`: exactly `from_std(at) < until` (never for [`Instant::ZERO`]).
/// The comparison is made on the std clock (`until` converted once per
/// thread and deadline), which spares the conversion of the reading to µs.
#[inline]
pub(crate) fn reads_before(at: std::time::Instant, until: Instant) -> bool {
    let micros = until.as_micros();
    let cached = DEADLINE.try_with(|cached| match cached.get() {
        Some((key, deadline)) if key == micros => Some(at < deadline),
        _ => None,
    });
    match cached {
        Ok(Some(before)) => before,
        // `from_std(at) < until` ⇔ `at < epoch + until`: µs since the epoch
        // round down, and `until` is a whole number of them. `None`: `until`
        // lies beyond what the std clock can hold, never reached.
        _ => on_std_clock(micros).is_none_or(|deadline| at < deadline),
    }
}

/// [`from_std`] out of line, for a reading whose conversion is off the
/// path that matters.
#[cold]
#[inline(never)]
pub(crate) fn from_std_cold(at: std::time::Instant) -> Instant {
    from_std(at)
}

/// `micros` after the epoch on the std clock (`None` beyond what it holds),
/// cached in [`DEADLINE`] for the next [`reads_before`] on this thread.
#[cold]
#[inline(never)]
fn on_std_clock(micros: u64) -> Option<std::time::Instant> {
    let deadline = epoch().checked_add(StdDuration::from_micros(micros));
    if let Some(deadline) = deadline {
        let _ = DEADLINE.try_with(|cached| cached.set(Some((micros, deadline))));
    }
    deadline
}

/// A steadfast [`Instant`] as a Tokio instant, for `sleep_until`/`timeout_at`:
/// exact, saturating at ~30 years after Tokio's own now (a paused clock may
/// be decades ahead of the real one).
///
/// ```
/// use steadfast_std::time;
/// let t = time::to_tokio(steadfast::time::Instant::from_secs(1));
/// assert_eq!(t.into_std(), time::to_std(steadfast::time::Instant::from_secs(1)));
/// ```
#[cfg(feature = "tokio")]
pub fn to_tokio(at: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(clamped(at, tokio::time::Instant::now().into_std()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_before_a_deadline_exactly_when_its_microseconds_are() {
        let at = now_instant();
        let t = from_std(at);
        let next = Instant::from_micros(t.as_micros() + 1);
        // Each answer twice: the deadline converted, then cached.
        for _ in 0..2 {
            assert!(!reads_before(at, Instant::ZERO));
        }
        for _ in 0..2 {
            assert!(!reads_before(at, t));
        }
        for _ in 0..2 {
            assert!(reads_before(at, next));
        }
        for _ in 0..2 {
            assert!(reads_before(at, Instant::MAX));
        }
    }
}
