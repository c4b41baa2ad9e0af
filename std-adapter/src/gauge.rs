//! Gauges told to an observer outside the machine's lock, the last report
//! always at the machine's latest levels.
//!
//! A step that changes a machine's levels (an adaptive limit's limit and
//! permits out, a bulkhead's slots taken and waiters) publishes them in
//! [`Levels`] under the machine's lock, so that the latest value there is
//! the machine's latest state, and once the lock is released asks the
//! [`Reporter`] of the observer to report. One thread at a time reports:
//! it reads the latest levels and tells the observer, and does again as
//! long as a step asked meanwhile; a step that finds another thread
//! reporting leaves its report to that one, which makes it once the
//! observer returns. So the reports to an observer never overlap, each
//! reads levels at least as new as the one before, and once the steps stop
//! the last one carries the machine's state. No lock is held while the
//! observer runs: it may step the same machine, whose report then falls to
//! the loop it runs under (an observer that steps the machine on every
//! report keeps that loop going).

use crate::sync::{AtomicU64, Ordering};

/// Two levels of a machine, published together under its lock.
pub(crate) struct Levels(AtomicU64);

impl Levels {
    pub(crate) fn new(a: u32, b: u32) -> Self {
        Self(AtomicU64::new(pack(a, b)))
    }

    /// Publishes `(a, b)`. Called under the machine's lock, so that the
    /// stores come in the order of the machine's steps.
    pub(crate) fn publish(&self, a: u32, b: u32) {
        // Relaxed: a reporter reads them after the `AcqRel` step of its
        // `Reporter` word that follows the publishing step's own request.
        self.0.store(pack(a, b), Ordering::Relaxed);
    }

    /// The levels last published (see [`publish`](Self::publish)).
    pub(crate) fn read(&self) -> (u32, u32) {
        let levels = self.0.load(Ordering::Relaxed);
        #[allow(clippy::cast_possible_truncation)] // the two halves
        let (a, b) = ((levels >> 32) as u32, levels as u32);
        (a, b)
    }
}

fn pack(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// A report was asked for since the reporter last read the levels.
const ASKED: u64 = 1;
/// A thread is reporting.
const REPORTING: u64 = 2;

/// The reports of one gauge to one observer, made by one thread at a time
/// (see the module docs).
pub(crate) struct Reporter(AtomicU64);

impl Reporter {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Asks for a report of levels published before this call. Unless
    /// another thread is reporting (which then reports them), reports with
    /// `tell` (which reads the levels and calls the observer) until no
    /// report is asked for.
    pub(crate) fn report(&self, mut tell: impl FnMut()) {
        // Release: the levels this thread published are seen by the thread
        // that takes this request, whichever it is.
        if self.0.fetch_or(ASKED | REPORTING, Ordering::AcqRel) & REPORTING != 0 {
            return;
        }
        let role = Role(&self.0);
        loop {
            // Acquire: the levels of every request taken here are visible.
            self.0.fetch_and(!ASKED, Ordering::AcqRel);
            tell();
            // The role is handed back only if nothing was asked meanwhile:
            // checking and handing back are one step, so a request made
            // meanwhile is either seen here or finds nobody reporting and
            // reports itself. Release: the next reporter tells the observer
            // after this one's `tell` returned.
            if self
                .0
                .compare_exchange(REPORTING, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                std::mem::forget(role);
                return;
            }
        }
    }
}

/// The reporter's role, handed back if the observer panics: the next step
/// reports.
struct Role<'a>(&'a AtomicU64);

impl Drop for Role<'_> {
    fn drop(&mut self) {
        self.0.fetch_and(!REPORTING, Ordering::AcqRel);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn levels_keep_both_halves() {
        let levels = Levels::new(0, 0);
        levels.publish(u32::MAX, 7);
        assert_eq!(levels.read(), (u32::MAX, 7));
        levels.publish(3, u32::MAX);
        assert_eq!(levels.read(), (3, u32::MAX));
    }

    #[test]
    fn a_report_asked_for_while_reporting_is_made_by_the_same_loop() {
        let reporter = Reporter::new();
        let mut told = 0;
        reporter.report(|| {
            told += 1;
            if told == 1 {
                reporter.report(|| unreachable!("the reporting thread's loop reports it"));
            }
        });
        assert_eq!(told, 2);
    }

    #[test]
    fn a_panicking_observer_hands_the_role_back() {
        let reporter = Reporter::new();
        let reporting = std::panic::AssertUnwindSafe(|| reporter.report(|| panic!("observer")));
        assert!(std::panic::catch_unwind(reporting).is_err());
        let mut told = 0;
        reporter.report(|| told += 1);
        assert_eq!(told, 1);
    }
}
