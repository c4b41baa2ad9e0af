//! Runnable demos of steadfast: the `sensor`, `embassy-demo` and `service`
//! binaries. The library target exists so that the workspace README's
//! examples run as doctests.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
