// The README's example runs a call on Tokio (the default `tokio` feature).
#![cfg_attr(feature = "tokio", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "steadfast on `std`: the blocking driver of the core's pipeline, shared breakers and \
           bulkheads, and the service-side pieces. With the default `tokio` feature, the Tokio \
           driver too, and its README is this page."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub(crate) mod gauge;
pub(crate) mod sync;

/// The core crate, [`steadfast`]: machines, configs, time and outcomes, so that
/// one dependency is enough (`steadfast_std::core::pipeline::Config`).
pub use steadfast as core;

pub mod adaptive;
#[cfg(feature = "tokio")]
mod asynchronous;
mod blocking;
pub mod breaker;
pub mod budget;
pub mod bulkhead;
#[cfg(feature = "cache")]
pub mod cache;
pub mod checks;
pub mod error;
pub mod fallback;
pub mod observer;
pub mod policy;
pub mod ratelimit;
#[cfg(feature = "tokio")]
pub mod recovery;
pub mod seed;
pub mod throttle;
pub mod time;
#[cfg(feature = "tower")]
pub mod tower;

pub use breaker::{BreakerPermit, Detector, SharedBreaker, Totals};
pub use budget::SharedBudget;
pub use bulkhead::SharedBulkhead;
pub use error::Error;
pub use fallback::{AsyncFallback, Fallback};
pub use observer::{LayerKind, NoopObserver, Observer};
pub use policy::{Policy, PolicyBuilder};
#[cfg(feature = "config")]
pub mod config;
pub mod health;
pub mod hedge;
pub mod observe;
pub mod registry;
