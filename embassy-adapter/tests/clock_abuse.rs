//! Clock abuse at the Embassy adapter's boundary: the std time driver on the
//! host is monotonic and cannot jump, so what can be abused is the conversion between
//! embassy-time ticks and steadfast microseconds at the extremes (the core's own suite,
//! core/tests/clock_abuse.rs, drives the same pipeline through frozen, backwards,
//! years-ahead and `u64::MAX - 1` clocks). Nothing may panic, wrap, or wake early.
#![allow(missing_docs)]

use steadfast::time::{Duration, Instant};
use steadfast_embassy::time::{
    to_embassy, to_embassy_instant, to_steadfast, to_steadfast_duration,
};

#[test]
fn conversions_saturate_and_never_wake_early() {
    let extremes = [0, 1, 999, 1_000_001, u64::MAX / 2, u64::MAX - 1, u64::MAX];
    for &us in &extremes {
        let at = Instant::from_micros(us);
        let e = to_embassy_instant(at);
        // Back to steadfast: never earlier than asked (a wake-up is never early) unless saturated.
        assert!(
            to_steadfast(e) >= at || e == embassy_time::Instant::MAX,
            "{us} µs woke early"
        );
        let d = Duration::from_micros(us);
        assert!(
            to_steadfast_duration(to_embassy(d)) >= d
                || to_embassy(d) == embassy_time::Duration::MAX
        );
    }
    for ticks in [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
        let _ = to_steadfast(embassy_time::Instant::from_ticks(ticks));
        let _ = to_steadfast_duration(embassy_time::Duration::from_ticks(ticks));
    }
    // Monotone: a later embassy instant is never an earlier steadfast one.
    let mut last = Instant::ZERO;
    for ticks in (0..64).map(|i| 1u64 << i) {
        let t = to_steadfast(embassy_time::Instant::from_ticks(ticks));
        assert!(t >= last);
        last = t;
    }
}
