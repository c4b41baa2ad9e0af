//! The error every validated configuration returns.

use core::fmt;

/// A configuration that cannot work, naming the field.
///
/// ```
/// use sturdy::error::ConfigError;
///
/// let e = ConfigError { field: "max_attempts", problem: "must be at least 1" };
/// assert_eq!(format!("{e}"), "invalid `max_attempts`: must be at least 1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConfigError {
    /// The offending field, spelled as in the config.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.problem)
    }
}

impl core::error::Error for ConfigError {}
