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

/// The value of a `const` constructor that returns `Result<T, ConfigError>`,
/// checked **at compile time**: `valid!(Breaker::new(CONFIG))` is a `T`, usable
/// in a `static` or `const` item (or anywhere, as an inline `const` block), and
/// a configuration that the constructor rejects is a compile error that names
/// the offending field. Nothing is left to check at run time, so no panic path
/// is linked into the program.
///
/// The expression is evaluated in a `const { .. }` block: it may use constants
/// and `const fn`s only, not local variables. For a configuration read at run
/// time, call the constructor and handle its `Result`.
///
/// ```
/// use steadfast::breaker::{self, Breaker};
/// use steadfast::pipeline::{self, Pipeline};
/// use steadfast::time::Duration;
/// use steadfast::valid;
///
/// const BREAKER: breaker::Config = breaker::Config::DEFAULT
///     .with_failure_threshold(3)
///     .with_break_duration(Duration::from_secs(10));
/// static POLICY: Pipeline = valid!(Pipeline::new(pipeline::Config::DEFAULT));
/// let breaker: Breaker = valid!(Breaker::new(BREAKER));
/// assert_eq!(breaker.config().failure_threshold(), 3);
/// assert_eq!(POLICY.config().retry().max_attempts(), 3);
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
///
/// An invalid configuration does not compile:
///
/// ```compile_fail
/// use steadfast::breaker::{self, Breaker};
/// static B: Breaker = steadfast::valid!(Breaker::new(breaker::Config::DEFAULT.with_failure_threshold(0)));
/// ```
#[macro_export]
macro_rules! valid {
    ($constructor:expr) => {
        const {
            match $constructor {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => {
                    // Inside `const { .. }` only: a rejected config stops the
                    // build with the error's message; nothing runs at run time.
                    let (buffer, len) = error.message_bytes();
                    let (message, _) = buffer.split_at(len);
                    match ::core::str::from_utf8(message) {
                        ::core::result::Result::Ok(message) => ::core::panic!("{}", message),
                        ::core::result::Result::Err(_) => ::core::panic!("{}", error.field),
                    }
                }
            }
        }
    };
}

impl ConfigError {
    /// The error as its `Display` writes it ("invalid `{field}`: {problem}"),
    /// in a fixed buffer and its length (cut at 256 bytes), built in a `const`
    /// context: what [`valid!`] stops a build with.
    ///
    /// ```
    /// use steadfast::error::ConfigError;
    /// const M: ([u8; 256], usize) = ConfigError::new("max_probes", "must be at least 1").message_bytes();
    /// assert_eq!(&M.0[..M.1], b"invalid `max_probes`: must be at least 1");
    /// ```
    pub const fn message_bytes(&self) -> ([u8; 256], usize) {
        const CAPACITY: usize = 256;
        let mut buffer = [0u8; CAPACITY];
        let mut len = 0;
        let parts: [&[u8]; 4] = [
            b"invalid `",
            self.field.as_bytes(),
            b"`: ",
            self.problem.as_bytes(),
        ];
        let mut part = 0;
        while part < parts.len() {
            let bytes = parts[part];
            let mut i = 0;
            while i < bytes.len() && len < CAPACITY {
                buffer[len] = bytes[i];
                len += 1;
                i += 1;
            }
            part += 1;
        }
        (buffer, len)
    }
}
