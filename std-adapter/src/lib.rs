//! sturdy on `std`: the Tokio and blocking drivers of the core's
//! [`sturdy::pipeline`], shared breakers and bulkheads, and the service-side
//! pieces (config files, registry, health, metrics, tracing, tower).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "config")]
pub mod config;
