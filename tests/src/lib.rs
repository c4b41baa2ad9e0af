//! `steadfast-sim`: a deterministic discrete-event simulator of steadfast policies.
//!
//! Ask "what does this breaker config do to my p99 and error rate during a
//! 30 s outage?" and get a table and an SVG plot in well under a second,
//! bit-for-bit reproducible from a seed.
//!
//! * [`scenario`] — the TOML scenario: dependency model, offered load,
//!   duration, seed, and the policy under test (a `[policy]` table in the std
//!   adapter's policy-file format).
//! * [`model`] — the seeded dependency (error rate, service-time
//!   distributions, outages, slow recovery, brownouts, capacity, a latency that
//!   grows with concurrency) and load (rates, bursts, caller patience).
//! * [`engine`] — the virtual clock and the calls. It only executes what each
//!   [`steadfast::pipeline::Call`] says; the resilience logic is the core's.
//! * [`stats`] — streaming latency histograms with a stated precision, refusals
//!   by reason, queue waits, calls until the breaker trips, every fault's
//!   detection.
//! * [`report`], [`plot`] and [`export`] — the table, the SVG, and JSON or CSV.
//! * [`script`] — scripted runs: fixed arrivals and answers, traced step by
//!   step, to replay an incident or compare with another driver.
//!
//! ```
//! use steadfast_sim::{run, Scenario};
//!
//! let scenario = Scenario::from_toml(r#"
//!     seed = 7
//!     duration = "60s"
//!     [load]
//!     rate = 100
//!     [dependency]
//!     outages = [{ start = "20s", end = "40s" }]
//!     [policy.breakers.api]
//!     failure_threshold = 5
//!     break_duration = "5s"
//!     [policy.policies.api]
//!     breaker = "api"
//!     max_attempts = 1
//! "#, "doc").unwrap();
//! let report = run(&scenario).unwrap();
//! let outage = report.outage.as_ref().unwrap();
//! assert!(outage.detect.unwrap() < steadfast::time::Duration::from_secs(1));
//! assert!(report.refusals.breaker_open > 0);
//! assert_eq!(report, run(&scenario).unwrap()); // same seed, same run
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Floats are fine in the simulator's models and plot (never in the core).
#![allow(clippy::float_arithmetic, clippy::float_cmp)]

pub mod engine;
pub mod export;
pub mod model;
pub mod plot;
pub mod policy;
pub mod report;
pub mod scenario;
pub mod script;
pub mod stats;

pub use engine::run;
pub use report::{Report, compare};
pub use scenario::Scenario;
