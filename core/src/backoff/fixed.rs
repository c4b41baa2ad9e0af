//! Where a retry policy reads its backoff: a [`Backoff`] it holds, or a
//! [`Fixed`] constant named by a type.

use core::marker::PhantomData;

use super::Backoff;
use crate::rng::Rng;
use crate::time::Duration;

/// A backoff fixed at compile time and named by a type: a retry policy whose
/// delays come from [`Fixed<Self>`] holds none of it, and only the growth and
/// jitter that `BACKOFF` uses are compiled in (the others are decided away at
/// build time instead of being tested at every retry).
///
/// It is validated with the policy that uses it, as a held [`Backoff`] is
/// ([`retry::Config::validate`](crate::retry::Config::validate), which
/// [`Pipeline::new`](crate::pipeline::Pipeline::new) runs).
///
/// ```
/// use steadfast::backoff::{Backoff, ConstBackoff, Fixed, Jitter, Ratio};
/// use steadfast::retry;
/// use steadfast::time::Duration;
///
/// struct Modem;
/// impl ConstBackoff for Modem {
///     const BACKOFF: Backoff = Backoff::exponential(Duration::from_millis(50), Ratio::TWO, Duration::from_secs(2))
///         .with_jitter(Jitter::Full);
/// }
/// const RETRY: retry::Config<Fixed<Modem>> = retry::Config::DEFAULT.with_backoff(Fixed::new());
/// assert_eq!(RETRY.backoff().cap(), Duration::from_secs(2));
/// assert!(RETRY.validate().is_ok());
/// ```
pub trait ConstBackoff {
    /// The delays; validated with the retry policy that reads them.
    const BACKOFF: Backoff;
}

/// The backoff `T::BACKOFF` ([`ConstBackoff`]), in zero bytes: the delays of a
/// retry policy that holds none of its own.
///
/// ```
/// use steadfast::backoff::{Backoff, ConstBackoff, Fixed};
///
/// struct Sensor;
/// impl ConstBackoff for Sensor {
///     const BACKOFF: Backoff = Backoff::DEFAULT;
/// }
/// assert_eq!(core::mem::size_of::<Fixed<Sensor>>(), 0);
/// ```
pub struct Fixed<T>(PhantomData<fn() -> T>);

impl<T> Fixed<T> {
    /// The marker (it holds nothing).
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, ConstBackoff, Fixed};
    /// # struct Sensor;
    /// # impl ConstBackoff for Sensor { const BACKOFF: Backoff = Backoff::DEFAULT; }
    /// assert_eq!(Fixed::<Sensor>::new(), Fixed::<Sensor>::default());
    /// ```
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T: ConstBackoff> Fixed<T> {
    /// [`Backoff::delay`] of `T::BACKOFF`.
    ///
    /// ```
    /// # use steadfast::backoff::{Backoff, ConstBackoff, Fixed};
    /// # use steadfast::time::Duration;
    /// struct Sensor;
    /// impl ConstBackoff for Sensor { const BACKOFF: Backoff = Backoff::DEFAULT; }
    /// assert_eq!(Fixed::<Sensor>::new().delay(3), Duration::from_millis(400));
    /// ```
    #[must_use]
    #[inline]
    pub const fn delay(&self, retry: u32) -> Duration {
        T::BACKOFF.delay(retry)
    }

    /// [`Backoff::jittered`] of `T::BACKOFF`: the same delay for the same
    /// draws, with only the arithmetic of `T::BACKOFF`'s own growth and jitter
    /// compiled in.
    ///
    /// ```
    /// use steadfast::backoff::{Backoff, ConstBackoff, Fixed, Jitter};
    /// use steadfast::rng::SplitMix64;
    /// use steadfast::time::Duration;
    ///
    /// struct Sensor;
    /// impl ConstBackoff for Sensor { const BACKOFF: Backoff = Backoff::DEFAULT.with_jitter(Jitter::Full); }
    /// let (mut a, mut b) = (SplitMix64::new(5), SplitMix64::new(5));
    /// let fixed = Fixed::<Sensor>::new().jittered(4, Duration::ZERO, &mut a);
    /// assert_eq!(fixed, Sensor::BACKOFF.jittered(4, Duration::ZERO, &mut b));
    /// ```
    #[must_use]
    #[inline]
    pub fn jittered(&self, retry: u32, previous: Duration, rng: &mut impl Rng) -> Duration {
        let (low, high) = T::BACKOFF.range(retry, previous);
        Duration::from_micros(rng.between(low, high))
    }
}

crate::marker::fixed_marker!(Fixed);

/// Where a retry policy reads its delays: a [`Backoff`] it holds (the
/// default, chosen at run time, e.g. from a config file) or a [`Fixed`]
/// constant it holds nothing of. Both give the same delays for the same
/// backoff and draws. Sealed.
///
/// ```
/// use steadfast::backoff::{Backoff, ConstBackoff, Delays, Fixed};
///
/// struct Valve;
/// impl ConstBackoff for Valve {
///     const BACKOFF: Backoff = Backoff::DEFAULT;
/// }
/// fn held<D: Delays>() -> usize { core::mem::size_of::<D>() }
/// assert_eq!(held::<Fixed<Valve>>(), 0);
/// assert!(held::<Backoff>() > 0);
/// ```
pub trait Delays: sealed::Source {}

impl Delays for Backoff {}
impl<T: ConstBackoff> Delays for Fixed<T> {}

pub(crate) mod sealed {
    use super::{Backoff, ConstBackoff, Duration, Fixed};

    /// The source's machinery, private to the crate (keeps `Delays` sealed).
    pub trait Source: Copy + core::fmt::Debug + PartialEq + Eq + core::hash::Hash {
        /// [`Backoff::draw_range`] of the backoff.
        fn draw_range(&self, retry: u32, previous: Duration) -> (u64, u64);
    }

    impl Source for Backoff {
        #[inline(always)]
        fn draw_range(&self, retry: u32, previous: Duration) -> (u64, u64) {
            Self::draw_range(self, retry, previous)
        }
    }

    /// Read from the constant, in the caller's own copy of the code: every
    /// choice `T::BACKOFF` makes is known there, so the arithmetic of the
    /// growth and jitter it does not use is not compiled in.
    impl<T: ConstBackoff> Source for Fixed<T> {
        #[inline(always)]
        fn draw_range(&self, retry: u32, previous: Duration) -> (u64, u64) {
            T::BACKOFF.range(retry, previous)
        }
    }
}
