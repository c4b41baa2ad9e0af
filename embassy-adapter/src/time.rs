//! embassy-time ↔ steadfast time, in one place.
//!
//! steadfast counts microseconds; embassy counts ticks of `TICK_HZ`. Towards steadfast
//! the conversion floors to whole microseconds (exact when the tick divides a
//! microsecond evenly, e.g. 1 kHz or 1 MHz); towards embassy it rounds **up** to
//! whole ticks, so a timer armed for a steadfast deadline never fires before it:
//! when it fires, [`now`] reads at or after the deadline and the pipeline sees it
//! as reached. Both directions saturate instead of overflowing.
//!
//! ```
//! use steadfast::time::{Duration, Instant};
//! use steadfast_embassy::time;
//!
//! let e = embassy_time::Instant::from_millis(1_234);
//! assert_eq!(time::to_steadfast(e), Instant::from_millis(1_234));
//! // 1.5 ms is one and a half ticks at 1 kHz, exact at 1 MHz: never shorter.
//! assert!(time::to_embassy(Duration::from_micros(1_500)) >= embassy_time::Duration::from_micros(1_500));
//! assert_eq!(time::to_embassy_instant(Instant::MAX), embassy_time::Instant::MAX);
//! ```

use embassy_time::TICK_HZ;
use steadfast::time::{Duration, Instant};

const MICROS_PER_SEC: u64 = 1_000_000;
const GCD: u64 = gcd(TICK_HZ, MICROS_PER_SEC);
/// ticks = micros × NUM / DEN, in lowest terms.
const NUM: u64 = TICK_HZ / GCD;
const DEN: u64 = MICROS_PER_SEC / GCD;

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

/// Microseconds → ticks, rounded up, saturating at `u64::MAX`. The branches
/// are on constants: a 1 kHz or 1 MHz build has no 128-bit arithmetic.
const fn micros_to_ticks_ceil(micros: u64) -> u64 {
    if DEN == 1 {
        micros.saturating_mul(NUM)
    } else if NUM == 1 {
        micros.div_ceil(DEN)
    } else {
        let ticks = (micros as u128 * NUM as u128).div_ceil(DEN as u128);
        if ticks > u64::MAX as u128 {
            u64::MAX
        } else {
            ticks as u64
        }
    }
}

/// Ticks → microseconds, rounded down, saturating.
const fn ticks_to_micros_floor(ticks: u64) -> u64 {
    if NUM == 1 {
        ticks.saturating_mul(DEN)
    } else if DEN == 1 {
        ticks / NUM
    } else {
        let micros = ticks as u128 * DEN as u128 / NUM as u128;
        if micros > u64::MAX as u128 {
            u64::MAX
        } else {
            micros as u64
        }
    }
}

/// steadfast's view of embassy's clock.
///
/// ```no_run
/// let now: steadfast::time::Instant = steadfast_embassy::time::now();
/// ```
pub fn now() -> Instant {
    to_steadfast(embassy_time::Instant::now())
}

/// An embassy instant as a steadfast instant (floored to the microsecond).
///
/// ```
/// # use steadfast_embassy::time;
/// assert_eq!(time::to_steadfast(embassy_time::Instant::from_secs(2)), steadfast::time::Instant::from_secs(2));
/// ```
pub const fn to_steadfast(at: embassy_time::Instant) -> Instant {
    Instant::from_micros(ticks_to_micros_floor(at.as_ticks()))
}

/// An embassy duration as a steadfast duration (floored to the microsecond).
///
/// ```
/// # use steadfast_embassy::time;
/// assert_eq!(time::to_steadfast_duration(embassy_time::Duration::from_millis(7)), steadfast::time::Duration::from_millis(7));
/// ```
pub const fn to_steadfast_duration(d: embassy_time::Duration) -> Duration {
    Duration::from_micros(ticks_to_micros_floor(d.as_ticks()))
}

/// A steadfast duration as an embassy one, rounded **up** to whole ticks: a timer
/// never fires before the duration steadfast asked for has passed.
///
/// ```
/// # use steadfast_embassy::time;
/// # use steadfast::time::Duration;
/// assert_eq!(time::to_embassy(Duration::ZERO), embassy_time::Duration::from_ticks(0));
/// assert!(time::to_embassy(Duration::from_micros(1)) >= embassy_time::Duration::from_micros(1));
/// ```
pub const fn to_embassy(d: Duration) -> embassy_time::Duration {
    embassy_time::Duration::from_ticks(micros_to_ticks_ceil(d.as_micros()))
}

/// A steadfast instant (a deadline, a backoff's end) as an embassy instant,
/// rounded **up** to whole ticks (never early); [`Instant::MAX`] maps to
/// `embassy_time::Instant::MAX`.
///
/// ```
/// # use steadfast_embassy::time;
/// # use steadfast::time::Instant;
/// assert!(time::to_embassy_instant(Instant::from_micros(1_001)) >= embassy_time::Instant::from_micros(1_001));
/// ```
pub const fn to_embassy_instant(at: Instant) -> embassy_time::Instant {
    embassy_time::Instant::from_ticks(micros_to_ticks_ceil(at.as_micros()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_never_early() {
        for micros in [0, 1, 999, 1_000, 1_001, 1_500, 123_456_789, u64::MAX / 2] {
            let at = Instant::from_micros(micros);
            let back = to_steadfast(to_embassy_instant(at));
            assert!(back >= at, "{micros}");
            let d = Duration::from_micros(micros);
            assert!(to_steadfast_duration(to_embassy(d)) >= d, "{micros}");
        }
        assert_eq!(to_embassy_instant(Instant::MAX).as_ticks(), u64::MAX);
    }

    #[test]
    fn helpers_round_as_documented() {
        assert_eq!(gcd(1_000, 1_000_000), 1_000);
        assert_eq!(gcd(32_768, 1_000_000), 64);
    }
}
