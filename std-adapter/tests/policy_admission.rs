//! A policy's admission stages: a rate limiter and an adaptive throttle that
//! every attempt passes last, in the blocking and async drivers and from a
//! policy file.

use std::sync::atomic::{AtomicU32, Ordering};

use steadfast::backoff::Backoff;
use steadfast::pipeline::{self, Reason};
use steadfast::ratelimit::Config as RateConfig;
use steadfast::retry;
use steadfast::time::Duration;
use steadfast::timeout;
use steadfast_std::Policy;
use steadfast_std::ratelimit::SharedRateLimiter;
use steadfast_std::throttle::SharedThrottle;

fn config(attempts: u32, total: Option<Duration>) -> pipeline::Config {
    let mut t = timeout::Config::NONE.with_attempt(Duration::from_millis(500));
    if let Some(total) = total {
        t = t.with_total(total);
    }
    pipeline::Config::DEFAULT
        .with_retry(
            retry::Config::DEFAULT
                .with_backoff(Backoff::constant(Duration::from_millis(1)))
                .with_max_attempts(attempts),
        )
        .with_timeout(t)
}

#[test]
fn an_attempt_over_the_rate_does_not_run_and_the_caller_is_told_when_to_come_back() {
    let limiter = SharedRateLimiter::new("api", RateConfig::per_minute(1).with_burst(1)).unwrap();
    let policy = Policy::builder(config(3, None))
        .unwrap()
        .rate_limiter(limiter)
        .build();
    let runs = AtomicU32::new(0);
    let op = || {
        runs.fetch_add(1, Ordering::Relaxed);
        Ok::<_, ()>(7)
    };
    assert_eq!(policy.call_blocking(op).unwrap(), 7);
    let refused = policy.call_blocking(op).unwrap_err();
    assert!(
        matches!(refused.reason(), Reason::RateLimited { retry_at: Some(_) }),
        "{refused:?}"
    );
    assert_eq!(refused.attempts(), 0);
    assert_eq!(runs.load(Ordering::Relaxed), 1);
}

#[test]
fn a_rate_limited_retry_waits_for_its_turn_within_the_total_timeout() {
    // One call every 50 ms, no burst: the retry 1 ms after the first attempt
    // is refused, waits for its turn, and runs.
    let limiter = SharedRateLimiter::new(
        "api",
        RateConfig::new()
            .with_rate(1, Duration::from_millis(50))
            .with_burst(1),
    )
    .unwrap();
    let policy = Policy::builder(config(3, Some(Duration::from_secs(5))))
        .unwrap()
        .rate_limiter(limiter)
        .build();
    let runs = AtomicU32::new(0);
    let answer = policy.call_blocking(|| match runs.fetch_add(1, Ordering::Relaxed) {
        0 => Err("busy"),
        _ => Ok(1),
    });
    assert_eq!(answer.unwrap(), 1);
    assert_eq!(runs.load(Ordering::Relaxed), 2);
}

#[test]
fn the_throttle_counts_every_attempt_that_ran() {
    let throttle = SharedThrottle::new("api", Default::default())
        .unwrap()
        .with_seed(1);
    let policy = Policy::builder(config(3, None))
        .unwrap()
        .throttle(throttle.clone())
        .build();
    assert_eq!(policy.call_blocking(|| Ok::<_, ()>(1)).unwrap(), 1);
    assert_eq!(throttle.counts(), (1, 1));
    assert!(policy.call_blocking(|| Err::<u8, _>("down")).is_err());
    assert_eq!(throttle.counts(), (4, 1));
}

#[test]
fn a_throttle_that_sees_only_failures_ends_calls_locally() {
    let throttle = SharedThrottle::new("api", Default::default())
        .unwrap()
        .with_seed(3);
    let policy = Policy::builder(config(1, None))
        .unwrap()
        .throttle(throttle.clone())
        .build();
    let runs = AtomicU32::new(0);
    let mut throttled = 0;
    for _ in 0..200 {
        let r = policy.call_blocking(|| {
            runs.fetch_add(1, Ordering::Relaxed);
            Err::<u8, _>("overloaded")
        });
        if r.unwrap_err().reason() == Reason::Throttled {
            throttled += 1;
        }
    }
    assert!(throttled > 100, "{throttled}");
    assert_eq!(runs.load(Ordering::Relaxed), 200 - throttled);
    let (requests, accepts) = throttle.counts();
    assert_eq!((requests, accepts), (200, 0));
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn a_call_dropped_during_its_attempt_is_a_request_not_accepted() {
    let throttle = SharedThrottle::new("api", Default::default()).unwrap();
    let policy = Policy::builder(config(1, None))
        .unwrap()
        .throttle(throttle.clone())
        .build();
    let call = policy.call(std::future::pending::<Result<u8, ()>>);
    let cut = tokio::time::timeout(std::time::Duration::from_millis(5), call).await;
    assert!(cut.is_err());
    assert_eq!(throttle.counts(), (1, 0));
}

#[cfg(feature = "config")]
mod from_a_file {
    use super::*;
    use steadfast_std::config::PolicyFile;
    use steadfast_std::registry::Registry;

    const FILE: &str = r#"
        [ratelimits.api]
        count = 1
        period = "1m"
        burst = 1

        [throttles.api]

        [policies.api]
        ratelimit = "api"
        throttle = "api"
        max_attempts = 1
    "#;

    #[test]
    fn a_policy_names_its_rate_limiter_and_throttle() {
        let set = PolicyFile::from_toml_str(FILE)
            .and_then(|f| f.validate())
            .unwrap();
        assert_eq!(set.policies["api"].ratelimit.as_deref(), Some("api"));
        assert_eq!(set.policies["api"].throttle.as_deref(), Some("api"));
        let registry = Registry::from_set(&set).unwrap();
        let policy = registry.policy("api").unwrap();
        assert_eq!(policy.call_blocking(|| Ok::<_, ()>(1)).unwrap(), 1);
        let refused = policy.call_blocking(|| Ok::<_, ()>(1)).unwrap_err();
        assert!(matches!(refused.reason(), Reason::RateLimited { .. }));
        // The throttle admitted the refused attempt, which never ran: it heard nothing.
        assert_eq!(registry.throttle("api").unwrap().counts(), (1, 1));
        assert_eq!(registry.rate_limiter("api").unwrap().available(), 0);
    }

    #[test]
    fn a_missing_rate_limiter_is_named_with_the_known_ones() {
        let text = FILE.replace("ratelimit = \"api\"", "ratelimit = \"apl\"");
        let err = PolicyFile::from_toml_str(&text)
            .and_then(|f| f.validate())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "policies.api.ratelimit: no [ratelimits.apl] entry (known: api)"
        );
    }
}
