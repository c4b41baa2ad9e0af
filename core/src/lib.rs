#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::float_arithmetic, clippy::float_cmp, clippy::disallowed_types)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adaptive;
pub mod backoff;
pub mod breaker;
pub mod bulkhead;
pub mod cache;
pub mod chaos;
mod div;
pub mod error;
pub mod hedge;
mod marker;
pub mod outcome;
pub mod pipeline;
pub mod ratelimit;
pub mod retry;
pub mod rng;
pub mod throttle;
pub mod time;
pub mod timeout;
