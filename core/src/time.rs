//! Time as plain integers: the core reads no clock.
//!
//! [`Instant`] and [`Duration`] are `u64` microsecond newtypes. Every machine in
//! this crate takes `now: Instant` as an argument; the adapters convert their
//! runtime's clock (Tokio, `std`, `embassy-time`) in one `time.rs` each, and a test
//! or the simulator hands out whatever instants it likes.
//!
//! All arithmetic saturates: adding to [`Instant::MAX`] stays at `MAX`, subtracting
//! a later instant from an earlier one gives [`Duration::ZERO`]. Nothing here can
//! panic or wrap, whatever the clock does.
//!
//! ```
//! use steadfast::time::{Duration, Instant};
//!
//! let t0 = Instant::from_millis(1_000);
//! let t1 = t0 + Duration::from_secs(30);
//! assert_eq!(t1, Instant::from_millis(31_000));
//! assert_eq!(t1 - t0, Duration::from_secs(30));
//! assert_eq!(t0 - t1, Duration::ZERO); // saturates, never underflows
//! assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
//! ```

use crate::div::div_rem;
use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

const MICROS_PER_MILLI: u64 = 1_000;
const MICROS_PER_SEC: u64 = 1_000_000;

/// A point in time, in microseconds since an epoch the caller chooses
/// (boot, the start of a test, the Unix epoch: the core does not care).
///
/// ```
/// use steadfast::time::Instant;
/// let boot = Instant::ZERO;
/// let later = Instant::from_secs(2);
/// assert!(later > boot);
/// assert_eq!(later.as_micros(), 2_000_000);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Instant(u64);

/// A span of time in microseconds.
///
/// ```
/// use steadfast::time::Duration;
/// let d = Duration::from_millis(1_500);
/// assert_eq!(d.as_secs(), 1);
/// assert_eq!(d.saturating_mul(3), Duration::from_millis(4_500));
/// assert_eq!(format!("{d}"), "1.5s");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Duration(u64);

impl Instant {
    /// The epoch.
    pub const ZERO: Self = Self(0);
    /// The last representable instant; arithmetic saturates here.
    pub const MAX: Self = Self(u64::MAX);

    /// An instant `micros` microseconds after the epoch.
    ///
    /// ```
    /// # use steadfast::time::Instant;
    /// assert_eq!(Instant::from_micros(5).as_micros(), 5);
    /// ```
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// An instant `millis` milliseconds after the epoch (saturating).
    ///
    /// ```
    /// # use steadfast::time::Instant;
    /// assert_eq!(Instant::from_millis(5).as_micros(), 5_000);
    /// assert_eq!(Instant::from_millis(u64::MAX), Instant::MAX);
    /// ```
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(MICROS_PER_MILLI))
    }

    /// An instant `secs` seconds after the epoch (saturating).
    ///
    /// ```
    /// # use steadfast::time::Instant;
    /// assert_eq!(Instant::from_secs(1).as_millis(), 1_000);
    /// ```
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(MICROS_PER_SEC))
    }

    /// Microseconds since the epoch.
    ///
    /// ```
    /// # use steadfast::time::Instant;
    /// assert_eq!(Instant::from_secs(3).as_micros(), 3_000_000);
    /// ```
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the epoch (truncated).
    ///
    /// ```
    /// # use steadfast::time::Instant;
    /// assert_eq!(Instant::from_micros(1_999).as_millis(), 1);
    /// ```
    pub const fn as_millis(self) -> u64 {
        div_rem(self.0, MICROS_PER_MILLI).0
    }

    /// `self + d`, stopping at [`Instant::MAX`].
    ///
    /// ```
    /// # use steadfast::time::{Duration, Instant};
    /// assert_eq!(Instant::MAX.saturating_add(Duration::from_secs(1)), Instant::MAX);
    /// ```
    #[must_use]
    pub const fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.0))
    }

    /// `self - d`, stopping at [`Instant::ZERO`].
    ///
    /// ```
    /// # use steadfast::time::{Duration, Instant};
    /// assert_eq!(Instant::from_secs(1).saturating_sub(Duration::from_secs(2)), Instant::ZERO);
    /// ```
    #[must_use]
    pub const fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(d.0))
    }

    /// The time from `earlier` to `self`, or [`Duration::ZERO`] if `earlier` is later.
    ///
    /// ```
    /// # use steadfast::time::{Duration, Instant};
    /// let a = Instant::from_secs(1);
    /// let b = Instant::from_secs(3);
    /// assert_eq!(b.saturating_duration_since(a), Duration::from_secs(2));
    /// assert_eq!(a.saturating_duration_since(b), Duration::ZERO);
    /// ```
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// The later of two instants; how every machine treats a clock that goes
    /// backwards (`now.max(last_seen)`).
    ///
    /// ```
    /// # use steadfast::time::Instant;
    /// assert_eq!(Instant::from_secs(1).max(Instant::from_secs(2)), Instant::from_secs(2));
    /// ```
    #[must_use]
    pub const fn max(self, other: Self) -> Self {
        if self.0 >= other.0 { self } else { other }
    }

    /// The earlier of two instants.
    ///
    /// ```
    /// # use steadfast::time::Instant;
    /// assert_eq!(Instant::from_secs(1).min(Instant::from_secs(2)), Instant::from_secs(1));
    /// ```
    #[must_use]
    pub const fn min(self, other: Self) -> Self {
        if self.0 <= other.0 { self } else { other }
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Self = Self(0);
    /// The longest representable span; arithmetic saturates here.
    pub const MAX: Self = Self(u64::MAX);

    /// `micros` microseconds.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_micros(7).as_micros(), 7);
    /// ```
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// `millis` milliseconds (saturating).
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_millis(100).as_micros(), 100_000);
    /// ```
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(MICROS_PER_MILLI))
    }

    /// `secs` seconds (saturating).
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_secs(60).as_millis(), 60_000);
    /// assert_eq!(Duration::from_secs(u64::MAX), Duration::MAX);
    /// ```
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(MICROS_PER_SEC))
    }

    /// Length in microseconds.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_millis(2).as_micros(), 2_000);
    /// ```
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Length in whole milliseconds (truncated).
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_micros(2_500).as_millis(), 2);
    /// ```
    pub const fn as_millis(self) -> u64 {
        div_rem(self.0, MICROS_PER_MILLI).0
    }

    /// Length in whole seconds (truncated).
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_millis(2_500).as_secs(), 2);
    /// ```
    pub const fn as_secs(self) -> u64 {
        div_rem(self.0, MICROS_PER_SEC).0
    }

    /// Whether this is [`Duration::ZERO`].
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert!(Duration::ZERO.is_zero());
    /// ```
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, stopping at [`Duration::MAX`].
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::MAX.saturating_add(Duration::from_micros(1)), Duration::MAX);
    /// ```
    #[must_use]
    pub const fn saturating_add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }

    /// `self - other`, stopping at [`Duration::ZERO`].
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_secs(1).saturating_sub(Duration::from_secs(2)), Duration::ZERO);
    /// ```
    #[must_use]
    pub const fn saturating_sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0))
    }

    /// `self * n`, stopping at [`Duration::MAX`].
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_secs(2).saturating_mul(u64::MAX), Duration::MAX);
    /// ```
    #[must_use]
    pub const fn saturating_mul(self, n: u64) -> Self {
        Self(self.0.saturating_mul(n))
    }

    /// The longer of two durations.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_secs(1).max(Duration::from_secs(2)), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub const fn max(self, other: Self) -> Self {
        if self.0 >= other.0 { self } else { other }
    }

    /// The shorter of two durations.
    ///
    /// ```
    /// # use steadfast::time::Duration;
    /// assert_eq!(Duration::from_secs(1).min(Duration::from_secs(2)), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub const fn min(self, other: Self) -> Self {
        if self.0 <= other.0 { self } else { other }
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    /// Saturating: see [`Instant::saturating_add`].
    fn add(self, rhs: Duration) -> Self {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = self.saturating_add(rhs);
    }
}

impl Sub<Duration> for Instant {
    type Output = Self;
    /// Saturating: see [`Instant::saturating_sub`].
    fn sub(self, rhs: Duration) -> Self {
        self.saturating_sub(rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = self.saturating_sub(rhs);
    }
}

impl Sub for Instant {
    type Output = Duration;
    /// Saturating: see [`Instant::saturating_duration_since`].
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl Add for Duration {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        self.saturating_add(rhs)
    }
}

impl AddAssign for Duration {
    fn add_assign(&mut self, rhs: Self) {
        *self = self.saturating_add(rhs);
    }
}

impl Sub for Duration {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        self.saturating_sub(rhs)
    }
}

impl SubAssign for Duration {
    fn sub_assign(&mut self, rhs: Self) {
        *self = self.saturating_sub(rhs);
    }
}

/// Writes `micros` as seconds with up to six decimals and no trailing zeros:
/// `0s`, `1.5s`, `0.000001s`.
fn write_secs(f: &mut fmt::Formatter<'_>, micros: u64) -> fmt::Result {
    let secs = micros / MICROS_PER_SEC;
    let mut frac = micros % MICROS_PER_SEC;
    if frac == 0 {
        return write!(f, "{secs}s");
    }
    let mut width = 6;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    write!(f, "{secs}.{frac:0width$}s")
}

impl fmt::Display for Duration {
    /// Seconds with up to six decimals: `1.5s`, `0.0001s`, `30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_secs(f, self.0)
    }
}

impl fmt::Display for Instant {
    /// Seconds since the epoch, prefixed `t=`: `t=31s`, `t=0.25s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("t=")?;
        write_secs(f, self.0)
    }
}

/// `std::time::Duration` (which is `core::time::Duration`, so no feature is
/// needed) in microseconds, saturating; sub-microsecond parts are dropped.
///
/// ```
/// use steadfast::time::Duration;
/// let d: Duration = std::time::Duration::from_millis(250).into();
/// assert_eq!(d, Duration::from_millis(250));
/// assert_eq!(Duration::from(std::time::Duration::MAX), Duration::MAX);
/// ```
impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Self {
        let micros = d.as_micros();
        Self::from_micros(if micros > u64::MAX as u128 {
            u64::MAX
        } else {
            micros as u64
        })
    }
}

/// A steadfast [`Duration`] as a `core`/`std` one.
///
/// ```
/// use steadfast::time::Duration;
/// let d: std::time::Duration = Duration::from_secs(2).into();
/// assert_eq!(d, std::time::Duration::from_secs(2));
/// ```
impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> Self {
        Self::from_micros(d.as_micros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_at_the_edges() {
        assert_eq!(Instant::MAX + Duration::MAX, Instant::MAX);
        assert_eq!(Instant::ZERO - Duration::MAX, Instant::ZERO);
        assert_eq!(Instant::ZERO - Instant::MAX, Duration::ZERO);
        assert_eq!(Instant::MAX - Instant::ZERO, Duration::MAX);
        assert_eq!(Duration::MAX + Duration::MAX, Duration::MAX);
        assert_eq!(Duration::ZERO - Duration::MAX, Duration::ZERO);
        assert_eq!(Duration::from_millis(u64::MAX), Duration::MAX);
        let mut t = Instant::from_micros(u64::MAX - 1);
        t += Duration::from_micros(5);
        assert_eq!(t, Instant::MAX);
    }
}
