//! How a layer's service answers the errors of the service it wraps:
//! [`Direct`] (a dependency's own errors) or [`Stacked`] (another steadfast
//! layer's [`Error`], passed through so a whole stack answers one type).

use crate::Error;

/// How a layer's service turns the errors of the service it wraps into its
/// own answer, [`Error<Self::Operation>`](Error). Two modes, chosen once when
/// the layer is built:
///
/// | mode | the wrapped service answers | this layer answers | built by |
/// |---|---|---|---|
/// | [`Direct`] | `E`, the dependency's own error | `Error<E>`, the inner error as [`Error::operation`] | `XLayer::new(..)` |
/// | [`Stacked`] | `Error<E>`, from another steadfast layer | the same `Error<E>`, unchanged | `XLayer::new(..).stacked()` |
///
/// So a stack whose innermost layer is direct and every other one stacked
/// answers `Error<E>` with `E` the dependency's error: one type, whatever
/// the depth, and a refusal, timeout or retry give-up of any layer says why
/// in [`Error::reason`].
///
/// ```
/// use std::time::Duration;
/// use steadfast_std::Error;
/// use steadfast_std::tower::{RetryLayer, TimeoutLayer};
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     tokio::time::pause();
///     let mut svc = ServiceBuilder::new()
///         .layer(RetryLayer::new(Default::default())?.stacked())
///         .layer(TimeoutLayer::new(Duration::from_millis(100)))
///         .service(service_fn(|_: ()| std::future::pending::<Result<(), std::io::Error>>()));
///     // One level: the last attempt timed out, as the pipeline reports it.
///     let answer: Result<(), Error<std::io::Error>> = svc.ready().await?.call(()).await;
///     let error = answer.unwrap_err();
///     assert_eq!(error.reason(), steadfast::pipeline::Reason::AttemptTimedOut);
///     assert_eq!(error.attempts(), 3);
///     Ok(())
/// }
/// ```
pub trait Stacking<E>: sealed::Sealed {
    /// The dependency's own error type, inside the answer.
    type Operation;

    /// `error`, from the wrapped service, as this layer's answer.
    fn lift(error: E) -> Error<Self::Operation>;
}

/// The wrapped service is the dependency: its errors are
/// [`Error::operation`]. Every layer's default.
///
/// ```
/// use steadfast_std::Error;
/// use steadfast_std::tower::{Direct, Stacking};
/// assert_eq!(<Direct as Stacking<&str>>::lift("down"), Error::operation("down"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Direct;

/// The wrapped service is another steadfast layer: its [`Error`] is this
/// layer's answer as it is. Chosen by a layer's `stacked()`.
///
/// ```
/// use steadfast_std::Error;
/// use steadfast_std::tower::{Stacked, Stacking};
/// assert_eq!(<Stacked as Stacking<Error<&str>>>::lift(Error::timed_out()), Error::timed_out());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stacked;

impl<E> Stacking<E> for Direct {
    type Operation = E;

    #[inline]
    fn lift(error: E) -> Error<E> {
        Error::operation(error)
    }
}

impl<E> Stacking<Error<E>> for Stacked {
    type Operation = E;

    #[inline]
    fn lift(error: Error<E>) -> Error<E> {
        error
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Direct {}
    impl Sealed for super::Stacked {}
}
