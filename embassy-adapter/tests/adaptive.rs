//! An adaptive concurrency limit on the host (embassy-time's std driver):
//! refusals at the limit without calling the operation, slots given back
//! with a sample or a drop when the operation answers and without one when
//! the call is dropped, and nothing left in flight after a storm of dropped
//! calls.
#![allow(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration as StdDuration;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use embassy_time::Timer;
use steadfast::adaptive::{AdaptiveLimit, Config};
use steadfast::outcome::ErrorsFail;
use steadfast::pipeline::Reason;
use steadfast_embassy::adaptive::{SharedAdaptiveLimit, limited};

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn waker() -> Waker {
    Waker::from(Arc::new(Unpark(std::thread::current())))
}

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(&waker()))
}

fn block_on<T>(fut: impl Future<Output = T>) -> T {
    let mut fut = Box::pin(fut);
    let give_up = std::time::Instant::now() + StdDuration::from_secs(5);
    loop {
        if let Poll::Ready(v) = poll(fut.as_mut()) {
            return v;
        }
        assert!(std::time::Instant::now() < give_up, "call stuck");
        std::thread::park_timeout(StdDuration::from_millis(20));
    }
}

fn shared(initial: u32, min: u32, max: u32) -> SharedAdaptiveLimit<Cs> {
    SharedAdaptiveLimit::new(
        AdaptiveLimit::new(Config::new().with_limits(initial, min, max)).unwrap(),
    )
}

#[test]
fn at_the_limit_a_call_is_refused_without_calling_the_operation() {
    let limit = shared(2, 1, 10);
    let called = AtomicU32::new(0);
    let slow = || {
        called.fetch_add(1, Ordering::Relaxed);
        async {
            Timer::after_millis(30).await;
            Ok::<u8, ()>(1)
        }
    };
    let mut a = Box::pin(limited(&limit, ErrorsFail, slow));
    let mut b = Box::pin(limited(&limit, ErrorsFail, slow));
    assert!(poll(a.as_mut()).is_pending());
    assert!(poll(b.as_mut()).is_pending());
    assert_eq!(limit.in_flight(), 2);
    let refused = block_on(limited(&limit, ErrorsFail, slow)).unwrap_err();
    assert_eq!(
        (refused.reason, refused.attempts),
        (Reason::BulkheadFull, 0)
    );
    assert_eq!(called.load(Ordering::Relaxed), 2);
    assert_eq!(block_on(a), Ok(1));
    assert_eq!(block_on(b), Ok(1));
    assert_eq!(limit.in_flight(), 0);
}

#[test]
fn a_failure_is_a_drop_that_lowers_the_limit_and_comes_back_with_its_error() {
    let limit = shared(10, 1, 20);
    let err = block_on(limited(&limit, ErrorsFail, || async {
        Err::<u8, _>("nak")
    }))
    .unwrap_err();
    assert_eq!(
        (err.reason, err.attempts, err.last),
        (Reason::Operation, 1, Some("nak"))
    );
    assert!(limit.limit() < 10, "{}", limit.limit());
    assert_eq!(limit.in_flight(), 0);
}

#[test]
fn a_dropped_call_gives_its_slot_back_and_teaches_nothing() {
    let limit = shared(3, 1, 10);
    let mut call = Box::pin(limited(&limit, ErrorsFail, || async {
        Timer::after_millis(1_000).await;
        Ok::<u8, ()>(1)
    }));
    assert!(poll(call.as_mut()).is_pending());
    assert_eq!(limit.in_flight(), 1);
    drop(call);
    assert_eq!((limit.in_flight(), limit.limit()), (0, 3));
    // Never polled: never took a slot.
    drop(limited(&limit, ErrorsFail, || async { Ok::<u8, ()>(1) }));
    assert_eq!(limit.in_flight(), 0);
}

#[test]
fn a_storm_of_dropped_and_finished_calls_leaves_nothing_in_flight() {
    let limit = shared(8, 1, 64);
    type Call<'a> = Pin<Box<dyn Future<Output = Result<u64, steadfast_embassy::Error<u64>>> + 'a>>;
    let calls: Vec<Call<'_>> = (0..200u64)
        .map(|i| {
            let call = limited(&limit, ErrorsFail, move || async move {
                Timer::after_millis(i % 7).await;
                if i % 3 == 0 { Err(i) } else { Ok(i) }
            });
            Box::pin(call) as Call<'_>
        })
        .collect();
    // Poll every call once (those past the limit are refused at once), then
    // drop every third still running, then finish the rest.
    let mut running = Vec::new();
    let mut refused = 0;
    for mut c in calls {
        match poll(c.as_mut()) {
            Poll::Pending => running.push(c),
            Poll::Ready(Err(e)) if e.reason == Reason::BulkheadFull => refused += 1,
            Poll::Ready(_) => {}
        }
    }
    assert!(
        limit.in_flight() <= 8 && refused > 0,
        "{} {refused}",
        limit.in_flight()
    );
    let kept: Vec<_> = running
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| (i % 3 != 1).then_some(c))
        .collect();
    for c in kept {
        let _ = block_on(c);
    }
    assert_eq!(limit.in_flight(), 0);
}
