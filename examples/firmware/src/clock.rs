//! embassy-time ↔ sturdy time, in one place. The core reads no clock: the firmware
//! reads embassy's and hands sturdy `now`. (`sturdy-embassy`'s `time.rs` will own this.)
use embassy_time::TICK_HZ;
use sturdy::time::{Duration, Instant};

const MICROS_PER_TICK: u64 = 1_000_000 / TICK_HZ;
const _: () = assert!(1_000_000 % TICK_HZ == 0, "tick rate must divide 1 MHz");

/// sturdy's view of embassy's clock (microseconds since boot).
pub fn now() -> Instant {
    to_sturdy(embassy_time::Instant::now())
}

/// An embassy instant as a sturdy instant (exact: ticks are whole microseconds).
pub fn to_sturdy(at: embassy_time::Instant) -> Instant {
    Instant::from_micros(at.as_micros())
}

/// A sturdy duration as an embassy one, rounded **up** to whole ticks so that a
/// timer never fires before the duration sturdy asked for has passed.
pub fn to_embassy(d: Duration) -> embassy_time::Duration {
    embassy_time::Duration::from_ticks(d.as_micros().div_ceil(MICROS_PER_TICK))
}

/// A sturdy deadline as an embassy instant, rounded up (never early).
#[allow(dead_code)] // used once the timeout/backoff patterns sleep until deadlines
pub fn deadline_to_embassy(at: Instant) -> embassy_time::Instant {
    embassy_time::Instant::from_ticks(at.as_micros().div_ceil(MICROS_PER_TICK))
}
