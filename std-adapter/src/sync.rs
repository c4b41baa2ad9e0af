//! The synchronisation primitives of the crate, in one place so that a
//! `--cfg loom` build can swap them for loom's model-checked ones.
//!
//! Every lock in this crate is held for the few instructions of one core
//! machine step, never across an `.await` or a user callback.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: the core machines never panic, so a
/// panic while a guard was held (in an observer, say) left them consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
