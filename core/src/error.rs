//! The one error the core returns: a configuration that cannot work.
//!
//! Every machine validates its configuration once, at construction; after that
//! nothing in the core fails or panics. The error names the offending field so a
//! config file loader can point at the line.
//!
//! ```
//! use steadfast::error::ConfigError;
//!
//! let e = ConfigError { field: "failure_threshold", problem: "must be at least 1" };
//! assert_eq!(format!("{e}"), "invalid `failure_threshold`: must be at least 1");
//! ```

use core::fmt;

/// A configuration that cannot work, naming the field.
///
/// ```
/// use steadfast::breaker::{Breaker, Config};
///
/// let err = Breaker::<steadfast::breaker::Consecutive>::new(Config::new().with_failure_threshold(0)).unwrap_err();
/// assert_eq!(err.field, "failure_threshold");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConfigError {
    /// The name of the offending field, as spelled in the config struct.
    pub field: &'static str,
    /// What is wrong with it, in a few words.
    pub problem: &'static str,
}

impl ConfigError {
    /// An error about `field`.
    ///
    /// ```
    /// # use steadfast::error::ConfigError;
    /// const E: ConfigError = ConfigError::new("max_probes", "must be at least 1");
    /// assert_eq!(E.field, "max_probes");
    /// ```
    pub const fn new(field: &'static str, problem: &'static str) -> Self {
        Self { field, problem }
    }
}

impl fmt::Display for ConfigError {
    /// `invalid `{field}`: {problem}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.field, self.problem)
    }
}

impl core::error::Error for ConfigError {}
