//! embassy-time ↔ steadfast time: `steadfast-embassy`'s `time.rs`, under the names the
//! firmware uses. The core reads no clock: the firmware reads embassy's and hands
//! steadfast `now`.
pub use steadfast_embassy::time::{
    now, to_embassy, to_embassy_instant as deadline_to_embassy, to_steadfast,
};
