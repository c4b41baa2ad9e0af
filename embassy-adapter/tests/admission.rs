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

mod in_a_policy {
    use super::*;
    use steadfast::backoff::Backoff;
    use steadfast::pipeline::{self, Pipeline};
    use steadfast::retry;
    use steadfast::time::Duration;
    use steadfast::timeout;
    use steadfast_embassy::{Policy, SharedRng};

    fn pipeline(attempts: u32, total: Option<Duration>) -> Pipeline {
        let mut t = timeout::Config::NONE.with_attempt(Duration::from_millis(500));
        if let Some(total) = total {
            t = t.with_total(total);
        }
        Pipeline::new(
            pipeline::Config::DEFAULT
                .with_retry(
                    retry::Config::DEFAULT
                        .with_backoff(Backoff::constant(Duration::from_millis(1)))
                        .with_max_attempts(attempts),
                )
                .with_timeout(t),
        )
        .unwrap()
    }

    #[test]
    fn every_attempt_passes_the_rate_limiter_and_one_over_the_rate_does_not_run() {
        let rng: SharedRng<Cs> = SharedRng::new(1);
        let limiter: SharedRateLimiter<Cs> =
            SharedRateLimiter::new(RateLimiter::new(Config::per_minute(2).with_burst(2)).unwrap());
        let policy = Policy::new(pipeline(3, None), &rng).with_rate_limiter(&limiter);
        let called = AtomicU32::new(0);
        // The first call fails once and retries: two attempts, the whole burst.
        let answer = block_on(policy.call(|| {
            let n = called.fetch_add(1, Ordering::Relaxed);
            async move { if n == 0 { Err("nak") } else { Ok(n) } }
        }));
        assert_eq!(answer, Ok(1));
        let refused = block_on(policy.call(|| {
            called.fetch_add(1, Ordering::Relaxed);
            async { Ok::<u32, &str>(9) }
        }))
        .unwrap_err();
        assert!(
            matches!(refused.reason, Reason::RateLimited { retry_at: Some(_) }),
            "{refused:?}"
        );
        assert_eq!(refused.attempts, 0);
        assert_eq!(called.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_rate_limited_retry_waits_for_its_turn_within_the_total_timeout() {
        let rng: SharedRng<Cs> = SharedRng::new(1);
        let limiter: SharedRateLimiter<Cs> = SharedRateLimiter::new(
            RateLimiter::new(
                Config::new()
                    .with_rate(1, Duration::from_millis(50))
                    .with_burst(1),
            )
            .unwrap(),
        );
        let policy = Policy::new(pipeline(3, Some(Duration::from_secs(5))), &rng)
            .with_rate_limiter(&limiter);
        let called = AtomicU32::new(0);
        let answer = block_on(policy.call(|| {
            let n = called.fetch_add(1, Ordering::Relaxed);
            async move { if n == 0 { Err("nak") } else { Ok(n) } }
        }));
        assert_eq!(answer, Ok(1));
        assert_eq!(called.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_throttle_hears_every_attempt_and_refuses_once_the_dependency_refuses_work() {
        let rng: SharedRng<Cs> = SharedRng::new(1);
        let throttle: SharedThrottle<Cs> =
            SharedThrottle::new(AdaptiveThrottle::new(ThrottleConfig::new()).unwrap(), 5);
        let policy = Policy::new(pipeline(2, None), &rng).with_throttle(&throttle);
        assert_eq!(block_on(policy.call(|| async { Ok::<u8, ()>(1) })), Ok(1));
        assert_eq!(
            throttle.lock(|t| t.counts(steadfast_embassy::time::now())),
            Some((1, 1))
        );
        let mut throttled = 0;
        for _ in 0..100 {
            let err = block_on(policy.call(|| async { Err::<u8, _>("busy") })).unwrap_err();
            if err.reason == Reason::Throttled {
                throttled += 1;
            }
        }
        assert!(throttled > 50, "{throttled}");
        let (requests, accepts) = throttle
            .lock(|t| t.counts(steadfast_embassy::time::now()))
            .unwrap();
        assert_eq!(accepts, 1);
        assert!(requests > 100, "{requests}");
    }

    #[test]
    fn a_call_dropped_during_its_attempt_is_a_request_not_accepted() {
        let rng: SharedRng<Cs> = SharedRng::new(1);
        let throttle: SharedThrottle<Cs> =
            SharedThrottle::new(AdaptiveThrottle::new(ThrottleConfig::new()).unwrap(), 5);
        let policy = Policy::new(pipeline(1, None), &rng).with_throttle(&throttle);
        let mut call = Box::pin(policy.call(|| Timer::after_secs(60).then_ok()));
        assert!(poll(call.as_mut()).is_pending());
        drop(call);
        assert_eq!(
            throttle.lock(|t| t.counts(steadfast_embassy::time::now())),
            Some((1, 0))
        );
    }

    trait ThenOk: Future<Output = ()> + Sized {
        fn then_ok(self) -> impl Future<Output = Result<u8, ()>> {
            async move {
                self.await;
                Ok(1)
            }
        }
    }
    impl<F: Future<Output = ()>> ThenOk for F {}
}
