//! A pipeline fixed at compile time and named by a type.

use core::marker::PhantomData;
use core::ops::Deref;

use super::{Call, Pipeline};
use crate::backoff::Delays;
use crate::time::Instant;

/// A pipeline fixed at compile time and named by a type: a [`Call`] started
/// from [`Fixed<Self>`] holds no reference to it, and every choice of the
/// policy (stage order, timeouts, fallback rule, attempts, backoff) is known
/// where the call's code is compiled, so the paths it does not take are not
/// compiled in.
///
/// `PIPELINE` is a reference to a constant [`Pipeline`], built (and so
/// checked) by [`Pipeline::new`] or [`Pipeline::fixed`]; write it with
/// [`valid!`](crate::valid) to fail the build on a bad policy.
///
/// ```
/// use steadfast::pipeline::{self, ConstPipeline, Fixed, Pipeline, Shared, Step};
/// use steadfast::time::{Duration, Instant};
/// use steadfast::{timeout, valid};
///
/// struct Sensor;
/// impl ConstPipeline for Sensor {
///     type Delays = steadfast::backoff::Backoff;
///     const PIPELINE: &'static Pipeline = &valid!(Pipeline::new(
///         pipeline::Config::DEFAULT.with_timeout(timeout::Config::NONE.with_attempt(Duration::from_millis(50)))
///     ));
/// }
/// let mut call = Fixed::<Sensor>::new().start(Instant::ZERO);
/// let step = call.next(Instant::ZERO, &mut Shared::new());
/// assert_eq!(step, Step::Attempt { attempt: 1, deadline: Some(Instant::from_millis(50)) });
/// ```
pub trait ConstPipeline {
    /// Where the pipeline reads its backoff ([`Delays`]): a held
    /// [`Backoff`](crate::backoff::Backoff), or a
    /// [`backoff::Fixed`](crate::backoff::Fixed) constant.
    type Delays: Delays + 'static;
    /// The pipeline.
    const PIPELINE: &'static Pipeline<Self::Delays>;
}

/// The pipeline `*T::PIPELINE` ([`ConstPipeline`]), in zero bytes: what a
/// [`Call`] holds instead of a reference ([`Call::of`], [`Fixed::start`]).
/// It dereferences to the pipeline.
///
/// ```
/// use steadfast::pipeline::{self, Call, ConstPipeline, Fixed, Pipeline};
/// use steadfast::time::Instant;
///
/// struct Pump;
/// impl ConstPipeline for Pump {
///     type Delays = steadfast::backoff::Backoff;
///     const PIPELINE: &'static Pipeline = &steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT));
/// }
/// assert_eq!(core::mem::size_of::<Fixed<Pump>>(), 0);
/// assert_eq!(Fixed::<Pump>::new().config().retry().max_attempts(), 3);
/// let call: Call<'static, Fixed<Pump>> = Fixed::new().start(Instant::ZERO);
/// assert!(core::mem::size_of_val(&call) < core::mem::size_of::<Call>());
/// ```
pub struct Fixed<T>(PhantomData<fn() -> T>);

impl<T> Fixed<T> {
    /// The marker (it holds nothing).
    ///
    /// ```
    /// # use steadfast::pipeline::{self, ConstPipeline, Fixed, Pipeline};
    /// # struct Pump;
    /// # impl ConstPipeline for Pump {
    /// #     type Delays = steadfast::backoff::Backoff;
    /// #     const PIPELINE: &'static Pipeline = &steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT));
    /// # }
    /// assert_eq!(Fixed::<Pump>::new(), Fixed::<Pump>::default());
    /// ```
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T: ConstPipeline> Fixed<T> {
    /// Starts one call at `now`, as [`Pipeline::start`] does on
    /// `T::PIPELINE`: the same steps for the same inputs.
    ///
    /// ```
    /// # use steadfast::pipeline::{self, ConstPipeline, Fixed, Pipeline};
    /// # use steadfast::time::{Duration, Instant};
    /// # use steadfast::timeout;
    /// struct Uplink;
    /// impl ConstPipeline for Uplink {
    ///     type Delays = steadfast::backoff::Backoff;
    ///     const PIPELINE: &'static Pipeline = &steadfast::valid!(Pipeline::new(
    ///         pipeline::Config::DEFAULT.with_timeout(timeout::Config::NONE.with_total(Duration::from_secs(5)))
    ///     ));
    /// }
    /// let call = Fixed::<Uplink>::new().start(Instant::from_secs(1));
    /// assert_eq!(call.deadline(), Some(Instant::from_secs(6)));
    /// ```
    pub fn start(self, now: Instant) -> Call<'static, Self> {
        Call::of(self, now)
    }
}

impl<T: ConstPipeline> Deref for Fixed<T> {
    type Target = Pipeline<T::Delays>;
    #[inline(always)]
    fn deref(&self) -> &Pipeline<T::Delays> {
        T::PIPELINE
    }
}

crate::marker::fixed_marker!(Fixed);
