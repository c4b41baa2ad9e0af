//! The levels of the `tracing` observer's lines, captured by a subscriber:
//! refused calls at DEBUG (an outage refuses thousands), transitions at
//! INFO/WARN.

use std::sync::{Arc, Mutex};

use steadfast::breaker::Config as BreakerConfig;
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::pipeline;
use steadfast::time::Duration;
use steadfast_std::observe::TracingObserver;
use steadfast_std::{Policy, SharedBreaker, SharedBulkhead};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

type Lines = Arc<Mutex<Vec<(Level, String)>>>;

/// Keeps each event's level and message.
struct Capture(Lines);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, message.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn capture() -> (Lines, tracing::subscriber::DefaultGuard) {
    let lines = Lines::default();
    let guard = tracing::subscriber::set_default(Capture(lines.clone()));
    (lines, guard)
}

/// The lines logged since the last call, emptied.
fn take(lines: &Lines) -> Vec<(Level, String)> {
    std::mem::take(&mut *lines.lock().unwrap())
}

fn one_attempt() -> pipeline::Config {
    pipeline::Config::default().with_retry(steadfast::retry::Config::default().with_max_attempts(1))
}

#[tokio::test(start_paused = true)]
async fn a_refused_call_logs_one_debug_line_and_an_opening_a_warning() {
    let (lines, _guard) = capture();
    let breaker =
        SharedBreaker::new("kafka", BreakerConfig::new().with_failure_threshold(2)).unwrap();
    let policy = Policy::builder(one_attempt())
        .unwrap()
        .name("kafka")
        .breaker(breaker)
        .observer(Arc::new(TracingObserver))
        .build();
    let _ = policy.call(|| async { Err::<(), _>("down") }).await;
    take(&lines);
    let _ = policy.call(|| async { Err::<(), _>("down") }).await;
    let opening = take(&lines);
    assert!(
        opening.contains(&(Level::WARN, "circuit breaker opened".to_owned())),
        "{opening:?}"
    );

    for _ in 0..3 {
        assert!(
            policy
                .call(|| async { Ok::<_, ()>(()) })
                .await
                .unwrap_err()
                .is_rejection()
        );
    }
    let refused = take(&lines);
    assert_eq!(
        refused,
        vec![(Level::DEBUG, "refused: circuit breaker open".to_owned()); 3],
    );

    // After the break: half-open and closed again, at INFO.
    tokio::time::advance(std::time::Duration::from_secs(30)).await;
    policy.call(|| async { Ok::<_, ()>(()) }).await.unwrap();
    let recovery = take(&lines);
    let changes: Vec<_> = recovery
        .iter()
        .filter(|(_, m)| m == "circuit breaker state changed")
        .collect();
    assert!(!changes.is_empty(), "{recovery:?}");
    assert!(
        changes.iter().all(|(level, _)| *level == Level::INFO),
        "{recovery:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_refuses_at_debug() {
    let (lines, _guard) = capture();
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let policy = Policy::builder(one_attempt())
        .unwrap()
        .name("reports")
        .bulkhead(pool.clone())
        .observer(Arc::new(TracingObserver))
        .build();
    let holder = tokio::spawn({
        let policy = policy.clone();
        async move {
            policy
                .call(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    Ok::<_, ()>(())
                })
                .await
        }
    });
    tokio::task::yield_now().await;
    assert_eq!(pool.in_flight(), 1);
    take(&lines);
    assert!(
        policy
            .call(|| async { Ok::<_, ()>(()) })
            .await
            .unwrap_err()
            .is_rejection()
    );
    assert_eq!(
        take(&lines),
        vec![(Level::DEBUG, "refused: bulkhead full".to_owned())]
    );
    holder.await.unwrap().unwrap();
}

#[cfg(feature = "tower")]
#[tokio::test(start_paused = true)]
async fn the_tower_path_logs_at_the_same_levels() {
    use tower::{Layer, ServiceExt, service_fn};

    let (lines, _guard) = capture();
    let breaker =
        SharedBreaker::new("search", BreakerConfig::new().with_failure_threshold(1)).unwrap();
    let svc = steadfast_std::tower::BreakerLayer::new(breaker)
        .with_observer(Arc::new(TracingObserver))
        .layer(service_fn(|fail: bool| async move {
            if fail { Err("down") } else { Ok(()) }
        }));
    let _ = svc.clone().oneshot(true).await;
    let opening = take(&lines);
    assert!(
        opening.contains(&(Level::WARN, "circuit breaker opened".to_owned())),
        "{opening:?}"
    );
    assert!(svc.clone().oneshot(false).await.unwrap_err().is_rejection());
    assert_eq!(
        take(&lines),
        vec![(Level::DEBUG, "refused: circuit breaker open".to_owned())]
    );
}
