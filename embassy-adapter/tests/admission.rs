//! Client-side admission on the host (embassy-time's std driver): the rate
//! limiter refuses past its burst with the instant the same call is admitted,
//! the throttle refuses locally once the dependency refuses work and counts
//! every admitted call when it ends, a dropped call as not accepted.
#![allow(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration as StdDuration;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use embassy_time::Timer;
use steadfast::outcome::ErrorsFail;
use steadfast::pipeline::Reason;
use steadfast::ratelimit::{Config, RateLimiter};
use steadfast::throttle::{AdaptiveThrottle, Config as ThrottleConfig};
use steadfast_embassy::admission::{SharedRateLimiter, SharedThrottle, rate_limited, throttled};

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    fut.poll(&mut Context::from_waker(&waker))
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

#[test]
fn the_rate_limiter_admits_its_burst_then_refuses_with_when_to_come_back() {
    let limiter: SharedRateLimiter<Cs> =
        SharedRateLimiter::new(RateLimiter::new(Config::per_minute(6).with_burst(3)).unwrap());
    let called = AtomicU32::new(0);
    let op = || {
        called.fetch_add(1, Ordering::Relaxed);
        async { Ok::<u8, ()>(1) }
    };
    for _ in 0..3 {
        assert_eq!(block_on(rate_limited(&limiter, op)), Ok(1));
    }
    let refused = block_on(rate_limited(&limiter, op)).unwrap_err();
    assert_eq!(refused.attempts, 0);
    let Reason::RateLimited { retry_at: Some(at) } = refused.reason else {
        panic!("{:?}", refused.reason);
    };
    // One cell every 10 s: the next call is admitted about 10 s after the burst began.
    let wait = at.saturating_duration_since(steadfast_embassy::time::now());
    assert!(wait.as_secs() <= 10 && wait.as_secs() >= 9, "{wait:?}");
    assert_eq!(called.load(Ordering::Relaxed), 3);
    // The operation's own error comes back with it.
    let limiter: SharedRateLimiter<Cs> =
        SharedRateLimiter::new(RateLimiter::new(Config::per_second(100)).unwrap());
    let err = block_on(rate_limited(&limiter, || async { Err::<u8, _>("nak") })).unwrap_err();
    assert_eq!(
        (err.reason, err.attempts, err.last),
        (Reason::Operation, 1, Some("nak"))
    );
}

#[test]
fn the_throttle_refuses_locally_once_the_dependency_refuses_work() {
    let throttle: SharedThrottle<Cs> =
        SharedThrottle::new(AdaptiveThrottle::new(ThrottleConfig::new()).unwrap(), 3);
    let called = AtomicU32::new(0);
    let overloaded = || {
        called.fetch_add(1, Ordering::Relaxed);
        async { Err::<u8, _>(503) }
    };
    let mut refused = 0;
    for _ in 0..200 {
        if block_on(throttled(&throttle, ErrorsFail, overloaded))
            .unwrap_err()
            .reason
            == Reason::Throttled
        {
            refused += 1;
        }
    }
    assert!(refused > 150, "{refused}");
    assert_eq!(called.load(Ordering::Relaxed), 200 - refused);
    // Every call counted as a request, none accepted.
    assert_eq!(
        throttle.lock(|t| t.counts(steadfast_embassy::time::now())),
        Some((200, 0))
    );
}

#[test]
fn a_healthy_dependency_is_never_throttled_and_a_dropped_call_is_not_accepted() {
    let throttle: SharedThrottle<Cs> =
        SharedThrottle::new(AdaptiveThrottle::new(ThrottleConfig::new()).unwrap(), 3);
    for _ in 0..100 {
        assert_eq!(
            block_on(throttled(&throttle, ErrorsFail, || async {
                Ok::<u8, ()>(1)
            })),
            Ok(1)
        );
    }
    let mut pending = Box::pin(throttled(&throttle, ErrorsFail, || async {
        Timer::after_millis(1_000).await;
        Ok::<u8, ()>(1)
    }));
    assert!(poll(pending.as_mut()).is_pending());
    let now = steadfast_embassy::time::now();
    assert_eq!(throttle.lock(|t| t.counts(now)), Some((100, 100)));
    drop(pending);
    assert_eq!(throttle.lock(|t| t.counts(now)), Some((101, 100)));
}
