//! One logging macro for both builds: `hprintln!` over semihosting by default,
//! `defmt::info!` (over semihosting, decoded by `defmt-print`) with `--features defmt`.
//! Format strings must therefore suit both: plain `{}` with integers, `bool`, `&str`.

/// Prints one line of the timeline.
macro_rules! say {
    ($($arg:tt)*) => {{
        #[cfg(feature = "defmt")]
        defmt::info!($($arg)*);
        #[cfg(not(feature = "defmt"))]
        cortex_m_semihosting::hprintln!($($arg)*);
    }};
}
