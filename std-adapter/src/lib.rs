//! steadfast on `std`: the Tokio and blocking drivers of the core's
//! [`steadfast::pipeline`], shared breakers and bulkheads, and the service-side
//! pieces (config files, registry, health, metrics, tracing, tower).
//!
//! ```
//! use steadfast::pipeline::PipelineConfig;
//! use steadfast_std::{Policy, SharedBreaker, SharedBulkhead};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let policy = Policy::builder(PipelineConfig::default())
//!         .name("inventory")
//!         .breaker(SharedBreaker::new("inventory", Default::default())?)
//!         .bulkhead(SharedBulkhead::new("inventory", Default::default())?)
//!         .build();
//!     let stock = policy.call(|| async { Ok::<u32, std::io::Error>(7) }).await?;
//!     assert_eq!(stock, 7);
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub(crate) mod sync;

#[cfg(feature = "tokio")]
mod asynchronous;
mod blocking;
pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod error;
pub mod fallback;
pub mod observer;
pub mod policy;
pub mod time;
#[cfg(feature = "tower")]
pub mod tower;

pub use breaker::{BreakerPermit, Detector, SharedBreaker};
pub use budget::SharedBudget;
pub use bulkhead::SharedBulkhead;
pub use error::Error;
pub use fallback::{AsyncFallback, Fallback};
pub use observer::{NoopObserver, Observer};
pub use policy::{Policy, PolicyBuilder};
#[cfg(feature = "config")]
pub mod config;
pub mod health;
pub mod observe;
pub mod registry;
