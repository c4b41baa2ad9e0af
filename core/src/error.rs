//! The one error type of the core: a configuration that cannot work.
//!
//! Every `Config::new` / builder in this crate validates its input once and
//! returns [`ConfigError`] naming the offending field; nothing panics or fails
//! afterwards.
//!
//! ```
//! use sturdy::error::ConfigError;
//!
//! let e = ConfigError { field: "max_concurrent", problem: "must be at least 1" };
//! assert_eq!(format!("{e}"), "invalid `max_concurrent`: must be at least 1");
//! ```

use core::fmt;

/// A configuration that cannot work, naming the field.
///
/// ```
/// use sturdy::error::ConfigError;
/// let e = ConfigError { field: "max_queue", problem: "exceeds the queue storage Q" };
/// assert_eq!(e.field, "max_queue");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConfigError {
    /// The name of the offending configuration field, as spelled in the config struct.
    pub field: &'static str,
    /// What is wrong with it, in a few words.
    pub problem: &'static str,
}

impl fmt::Display for ConfigError {
    /// `invalid `{field}`: {problem}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.problem)
    }
}

impl core::error::Error for ConfigError {}
