//! See `tests/cross_runtime.rs`.
