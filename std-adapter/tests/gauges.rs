//! Gauge reports (`Observer::on_adaptive_limit`, `Observer::on_bulkhead`):
//! an observer may step the machine it is told about (its steps are
//! reported once it returns), and a step made while another thread reports
//! is reported after that report, with the latest levels. `tests/loom.rs`
//! runs concurrent steps in every interleaving; the tower layer's test here
//! holds one reporter inside its observer at a chosen point instead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use steadfast::adaptive::Config as AdaptiveConfig;
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::outcome::Outcome;
use steadfast::pipeline;
use steadfast_std::adaptive::SharedAdaptiveLimit;
use steadfast_std::{Observer, Policy, SharedBulkhead};

/// Runs `f` on a thread of its own and waits for it: a deadlock fails the
/// test instead of hanging it.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, answer) = channel();
    let thread = std::thread::spawn(move || done.send(f()));
    match answer.recv_timeout(StdDuration::from_secs(30)) {
        Ok(answer) => answer,
        Err(RecvTimeoutError::Timeout) => panic!("deadlocked: no answer in 30 s"),
        Err(RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(_) => unreachable!("the thread ended without an answer"),
        },
    }
}

/// One attempt, no timeout: the operation runs once.
fn once() -> pipeline::Config {
    pipeline::Config::DEFAULT
        .with_retry(steadfast::retry::Config::DEFAULT.with_max_attempts(1))
        .with_timeout(steadfast::timeout::Config::NONE)
}

/// Records every `(limit, in_flight)` it is told and, told once while it
/// has the limit, takes a permit of that same limit and records a success.
#[derive(Default)]
struct StepsTheLimit {
    reports: Mutex<Vec<(u32, u32)>>,
    limit: Mutex<Option<SharedAdaptiveLimit>>,
    stepped: AtomicBool,
}

impl Observer for StepsTheLimit {
    fn on_adaptive_limit(&self, _name: &str, limit: u32, in_flight: u32) {
        self.reports.lock().unwrap().push((limit, in_flight));
        let mine = self.limit.lock().unwrap().take();
        if let Some(mine) = mine
            && !self.stepped.swap(true, Ordering::Relaxed)
        {
            let permit = mine.try_acquire().expect("a limit of 10 admits two");
            permit.record(Outcome::Success);
        }
    }
}

#[test]
fn an_observer_may_step_the_adaptive_limit_it_is_told_about() {
    let (reports, levels) = within_seconds(|| {
        let observer = Arc::new(StepsTheLimit::default());
        let limit = SharedAdaptiveLimit::new("db", AdaptiveConfig::new().with_limits(10, 1, 20))
            .unwrap()
            .with_observer(observer.clone());
        *observer.limit.lock().unwrap() = Some(limit.clone());
        // Told (10, 1), the observer takes a second permit and gives it back
        // from inside the report: those steps are reported by the same loop.
        let permit = limit.try_acquire().unwrap();
        assert!(observer.stepped.load(Ordering::Relaxed));
        assert_eq!(limit.in_flight(), 1);
        permit.record(Outcome::Success);
        let reports = observer.reports.lock().unwrap().clone();
        (reports, (limit.limit(), limit.in_flight()))
    });
    assert_eq!(reports.first(), Some(&(10, 0)), "{reports:?}");
    assert_eq!(reports.get(1), Some(&(10, 1)), "{reports:?}");
    assert_eq!(reports.last(), Some(&levels), "{reports:?}");
    // One report for the nested steps (read after both), then the last permit's.
    assert_eq!(reports.len(), 4, "{reports:?}");
}

/// Records every `(in_flight, queued)` it is told and, told once while it
/// has the policy, makes a call through it.
#[derive(Default)]
struct CallsThePolicy {
    reports: Mutex<Vec<(u32, u32)>>,
    policy: Mutex<Option<Policy>>,
}

impl Observer for CallsThePolicy {
    fn on_bulkhead(&self, _bulkhead: &str, in_flight: u32, queued: u32) {
        self.reports.lock().unwrap().push((in_flight, queued));
        let policy = self.policy.lock().unwrap().take();
        if let Some(policy) = policy {
            assert_eq!(policy.call_blocking(|| Ok::<_, ()>(7)), Ok(7));
        }
    }
    fn watches_bulkheads(&self) -> bool {
        true
    }
}

#[test]
fn an_observer_may_call_through_the_policy_whose_bulkhead_it_watches() {
    let (reports, occupancy) = within_seconds(|| {
        let observer = Arc::new(CallsThePolicy::default());
        let pool =
            SharedBulkhead::new("pool", BulkheadConfig::DEFAULT.with_max_concurrent(2)).unwrap();
        let policy = Policy::builder(once())
            .unwrap()
            .bulkhead(pool.clone())
            .observer(observer.clone())
            .build();
        *observer.policy.lock().unwrap() = Some(policy.clone());
        assert_eq!(policy.call_blocking(|| Ok::<_, ()>(1)), Ok(1));
        let reports = observer.reports.lock().unwrap().clone();
        (reports, (pool.in_flight(), pool.queued()))
    });
    assert_eq!(occupancy, (0, 0));
    assert_eq!(reports.first(), Some(&(1, 0)), "{reports:?}");
    assert_eq!(reports.last(), Some(&(0, 0)), "{reports:?}");
}

/// The tower `BulkheadLayer` and a policy reporting one bulkhead to one
/// observer.
#[cfg(feature = "tower")]
mod layer {
    use std::sync::mpsc::{Receiver, Sender, channel};
    use std::sync::{Arc, Mutex};

    use steadfast::bulkhead::Config as BulkheadConfig;
    use steadfast::time::Duration;
    use steadfast_std::{Observer, Policy, SharedBulkhead};
    use tower::{Layer, Service, service_fn};

    use super::{once, within_seconds};

    /// Records every `(in_flight, queued)` it is told; armed, holds the next
    /// report it is told, before recording it, until told to go on.
    #[derive(Default)]
    struct HoldsAReport {
        reports: Mutex<Vec<(u32, u32)>>,
        hold: Mutex<Option<(Sender<()>, Receiver<()>)>>,
    }

    impl HoldsAReport {
        /// Arms it: returns the receiver told when a report is held and the
        /// sender that lets it go on.
        fn arm(&self) -> (Receiver<()>, Sender<()>) {
            let (entered, held) = channel();
            let (go_on, wait) = channel();
            *self.hold.lock().unwrap() = Some((entered, wait));
            (held, go_on)
        }

        fn last(&self) -> Option<(u32, u32)> {
            self.reports.lock().unwrap().last().copied()
        }
    }

    impl Observer for HoldsAReport {
        fn on_bulkhead(&self, _bulkhead: &str, in_flight: u32, queued: u32) {
            let hold = self.hold.lock().unwrap().take();
            if let Some((entered, wait)) = hold {
                entered.send(()).unwrap();
                wait.recv().unwrap();
            }
            self.reports.lock().unwrap().push((in_flight, queued));
        }
        fn watches_bulkheads(&self) -> bool {
            true
        }
    }

    /// A request through a `BulkheadLayer` gives its slot back on another
    /// thread, which is held inside the observer with `(0, 0)` to report; then
    /// a policy sharing the bulkhead and the observer takes a slot. Once the
    /// held thread goes on, the last report is the policy's slot, `(1, 0)`,
    /// never the `(0, 0)` read before it; and once the policy's call ends,
    /// `(0, 0)`.
    #[test]
    fn a_step_made_while_another_thread_reports_is_reported_after_it() {
        let observer = Arc::new(HoldsAReport::default());
        let pool = SharedBulkhead::new(
            "pool",
            BulkheadConfig::DEFAULT
                .with_max_concurrent(2)
                .with_max_queue(0)
                .with_max_wait(Duration::ZERO),
        )
        .unwrap();
        let mut svc = steadfast_std::tower::BulkheadLayer::new(pool.clone())
            .with_observer(observer.clone())
            .layer(service_fn(|(): ()| {
                std::future::pending::<Result<(), ()>>()
            }));
        let policy = Policy::builder(once())
            .unwrap()
            .bulkhead(pool.clone())
            .observer(observer.clone())
            .build();
        let request = svc.call(());
        assert_eq!(observer.last(), Some((1, 0)));
        let (held, go_on) = observer.arm();
        within_seconds(move || {
            std::thread::scope(|s| {
                let mut giving_back = Some(s.spawn(move || drop(request)));
                held.recv().unwrap();
                let answer = policy.call_blocking(|| {
                    assert_eq!((pool.in_flight(), pool.queued()), (1, 0));
                    go_on.send(()).unwrap();
                    if let Some(t) = giving_back.take() {
                        t.join().unwrap();
                    }
                    assert_eq!(observer.last(), Some((1, 0)), "the gauge ends stale");
                    Ok::<_, ()>(())
                });
                assert_eq!(answer, Ok(()));
                assert_eq!(observer.last(), Some((0, 0)));
            });
        });
    }
}
