//! Hedged calls on the host (embassy-time's std driver, real time with wide
//! margins): the core's plan decides when a hedge starts, the first success
//! wins and every other attempt is dropped, the cap, the places of the
//! future and the budget bound the hedges, and a dropped call drops all its
//! attempts.
#![allow(missing_docs)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration as StdDuration;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use embassy_time::Timer;
use steadfast::hedge::{Config, Delay, Hedger};
use steadfast::outcome::ErrorsFail;
use steadfast::retry::{Budget, BudgetConfig};
use steadfast::time::Duration;
use steadfast_embassy::SharedBudget;
use steadfast_embassy::hedge::{SharedHedger, hedged, hedged_with_budget};

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` until it answers, or `stop` polls have passed (returns `None`
/// and drops it then).
fn block_on<T>(fut: impl Future<Output = T>, stop: Option<usize>) -> Option<T> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut fut = Box::pin(fut);
    let give_up = std::time::Instant::now() + StdDuration::from_secs(5);
    let mut polls = 0;
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
            return Some(v);
        }
        polls += 1;
        if stop.is_some_and(|s| polls >= s) {
            return None;
        }
        assert!(std::time::Instant::now() < give_up, "call stuck");
        std::thread::park_timeout(StdDuration::from_millis(50));
    }
}

fn hedger(delay_ms: u64, max_hedges: u8) -> SharedHedger<Cs> {
    SharedHedger::new(
        Hedger::new(
            Config::new()
                .with_delay(Delay::Fixed(Duration::from_millis(delay_ms)))
                .with_max_hedges(max_hedges),
        )
        .unwrap(),
    )
}

/// Attempt `n` sleeps `plan[n].0` ms and answers `plan[n].1`; counts the
/// attempts started and the ones alive (started, not yet dropped).
#[derive(Clone)]
struct Attempts {
    plan: Rc<Vec<(u64, Result<u32, u32>)>>,
    started: Rc<Cell<usize>>,
    alive: Rc<Cell<usize>>,
    finished: Rc<Cell<usize>>,
}

struct Alive(Rc<Cell<usize>>);
impl Drop for Alive {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl Attempts {
    fn new(plan: &[(u64, Result<u32, u32>)]) -> Self {
        Self {
            plan: Rc::new(plan.to_vec()),
            started: Rc::default(),
            alive: Rc::default(),
            finished: Rc::default(),
        }
    }
    fn op(&self) -> impl FnMut() -> Pin<Box<dyn Future<Output = Result<u32, u32>>>> + use<> {
        let this = self.clone();
        move || {
            let n = this.started.get();
            this.started.set(n + 1);
            this.alive.set(this.alive.get() + 1);
            let (ms, answer) = this.plan.get(n).copied().unwrap_or((10_000, Err(99)));
            let guard = Alive(this.alive.clone());
            let finished = this.finished.clone();
            Box::pin(async move {
                let _guard = guard;
                Timer::after_millis(ms).await;
                finished.set(finished.get() + 1);
                answer
            })
        }
    }
}

#[test]
fn an_answer_before_the_delay_starts_no_hedge() {
    let h = hedger(100, 1);
    let a = Attempts::new(&[(5, Ok(0))]);
    let out = block_on(hedged::<_, _, _, _, _, _, 1>(&h, ErrorsFail, a.op()), None);
    assert_eq!(out, Some(Ok(0)));
    assert_eq!((a.started.get(), a.alive.get()), (1, 0));
}

#[test]
fn a_hedge_starts_after_the_delay_wins_and_the_slow_attempt_is_dropped() {
    let h = hedger(20, 1);
    let a = Attempts::new(&[(1_000, Ok(0)), (5, Ok(1))]);
    let t0 = std::time::Instant::now();
    let out = block_on(hedged::<_, _, _, _, _, _, 1>(&h, ErrorsFail, a.op()), None);
    assert_eq!(out, Some(Ok(1)));
    assert!(
        t0.elapsed() < StdDuration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    // The first attempt never finished: it was dropped when the hedge won.
    assert_eq!(
        (a.started.get(), a.finished.get(), a.alive.get()),
        (2, 1, 0)
    );
}

#[test]
fn hedges_stop_at_the_cap_and_at_the_room_of_the_future() {
    // Cap 2, room for 2: three attempts, the first to answer wins.
    let h = hedger(20, 2);
    let a = Attempts::new(&[(300, Ok(0)), (600, Ok(1)), (600, Ok(2))]);
    let out = block_on(hedged::<_, _, _, _, _, _, 2>(&h, ErrorsFail, a.op()), None);
    assert_eq!(out, Some(Ok(0)));
    assert_eq!((a.started.get(), a.alive.get()), (3, 0));
    // Cap 3, room for 1: two attempts.
    let h = hedger(20, 3);
    let a = Attempts::new(&[(300, Ok(0)), (600, Ok(1)), (600, Ok(2))]);
    let out = block_on(hedged::<_, _, _, _, _, _, 1>(&h, ErrorsFail, a.op()), None);
    assert_eq!(out, Some(Ok(0)));
    assert_eq!((a.started.get(), a.alive.get()), (2, 0));
}

#[test]
fn a_failure_waits_for_the_attempts_still_running_and_the_last_failure_answers() {
    let h = hedger(20, 1);
    // The first fails at 60 ms while the hedge (started at 20 ms) runs; the hedge succeeds.
    let a = Attempts::new(&[(60, Err(0)), (150, Ok(1))]);
    let out = block_on(hedged::<_, _, _, _, _, _, 1>(&h, ErrorsFail, a.op()), None);
    assert_eq!(out, Some(Ok(1)));
    // Both fail: the one that answers last is the answer.
    let a = Attempts::new(&[(60, Err(0)), (150, Err(1))]);
    let out = block_on(hedged::<_, _, _, _, _, _, 1>(&h, ErrorsFail, a.op()), None);
    assert_eq!(out, Some(Err(1)));
    assert_eq!(a.alive.get(), 0);
}

#[test]
fn a_budget_that_refuses_starts_no_hedge() {
    let h = hedger(20, 1);
    let empty: SharedBudget<Cs, Budget> =
        SharedBudget::new(Budget::new(BudgetConfig::new().with_min_retries_per_sec(0)).unwrap());
    let a = Attempts::new(&[(200, Ok(0)), (5, Ok(1))]);
    let out = block_on(
        hedged_with_budget::<_, _, _, _, _, _, _, 1>(&h, &empty, ErrorsFail, a.op()),
        None,
    );
    assert_eq!(out, Some(Ok(0)));
    assert_eq!(a.started.get(), 1);
    // A budget with room pays for the hedge.
    let open: SharedBudget<Cs, Budget> =
        SharedBudget::new(Budget::new(BudgetConfig::new()).unwrap());
    let a = Attempts::new(&[(1_000, Ok(0)), (5, Ok(1))]);
    let out = block_on(
        hedged_with_budget::<_, _, _, _, _, _, _, 1>(&h, &open, ErrorsFail, a.op()),
        None,
    );
    assert_eq!(out, Some(Ok(1)));
    assert_eq!(a.started.get(), 2);
}

#[test]
fn dropping_the_call_drops_every_attempt() {
    let h = hedger(10, 2);
    let a = Attempts::new(&[(5_000, Ok(0)), (5_000, Ok(1)), (5_000, Ok(2))]);
    // Polled until both hedges have started, then dropped.
    let watch = a.clone();
    let call = hedged::<_, _, _, _, _, _, 2>(&h, ErrorsFail, a.op());
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut call = Box::pin(call);
    let give_up = std::time::Instant::now() + StdDuration::from_secs(5);
    while watch.started.get() < 3 {
        assert!(
            call.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        assert!(std::time::Instant::now() < give_up, "hedges never started");
        std::thread::park_timeout(StdDuration::from_millis(5));
    }
    assert_eq!(watch.alive.get(), 3);
    drop(call);
    assert_eq!((watch.alive.get(), watch.finished.get()), (0, 0));
}

#[test]
fn every_answer_teaches_the_hedger_its_latency() {
    let h = SharedHedger::<Cs>::new(
        Hedger::new(Config::new().with_delay(Delay::Percentile {
            permille: 500,
            min_samples: 3,
            fallback: Duration::from_secs(1),
        }))
        .unwrap(),
    );
    assert_eq!(h.delay(), Some(Duration::from_secs(1)));
    for _ in 0..3 {
        let a = Attempts::new(&[(5, Ok(0))]);
        let _ = block_on(hedged::<_, _, _, _, _, _, 1>(&h, ErrorsFail, a.op()), None);
    }
    // Three samples of about 5 ms: the median's bucket edge is far below the fallback.
    let learnt = h.delay().unwrap();
    assert!(learnt < Duration::from_millis(100), "{learnt:?}");
}
