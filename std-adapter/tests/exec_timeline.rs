//! The Tokio adapter under paused time makes exactly the core's decisions:
//! the same scenario is driven through the core by hand and through
//! `Policy::call`, and the sequences of (instant, event) must be equal.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use steadfast::backoff::Backoff;
use steadfast::breaker::{Breaker, Config as BreakerConfig};
use steadfast::outcome::Verdict;
use steadfast::pipeline::{self, Event, Events, Failure, Finish, Pipeline, Reason, Shared, Step};
use steadfast::retry;
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::{Duration, Instant};
use steadfast::timeout;
use steadfast_std::{Observer, Policy, SharedBreaker};

const SEED: u64 = 99;
/// When each call starts, in ms.
const STARTS: [u64; 5] = [0, 10_000, 12_000, 15_000, 30_000];
/// Every attempt in order: (latency ms, succeeds).
const SCRIPT: [(u64, bool); 8] = [
    (100, false),
    (100, false),
    (100, false),
    (1_500, true), // a half-open probe that times out
    (50, true),    // the probe that closes
    (10, false),
    (10, true),
    (10, true),
];

fn pipeline_config() -> pipeline::Config {
    pipeline::Config::default()
        .with_retry(
            retry::Config::DEFAULT
                .with_max_attempts(3)
                .with_backoff(Backoff::constant(Duration::from_millis(200))),
        )
        .with_timeout(
            timeout::Config::NONE
                .with_attempt(Duration::from_secs(1))
                .with_total(Duration::from_secs(4)),
        )
}

fn breaker_config() -> BreakerConfig {
    BreakerConfig::new()
        .with_failure_threshold(3)
        .with_break_duration(Duration::from_secs(5))
        .with_probes(1, 1)
}

fn norm_event(e: &Event, t0: Instant) -> String {
    match e {
        Event::Breaker(t) => format!("breaker {} -> {}", t.from().name(), t.to().name()),
        Event::Retry { attempt, delay, at } => {
            format!("retry {attempt} after {delay} at {}", *at - t0)
        }
        Event::TimedOut { attempt } => format!("attempt {attempt} timed out"),
        Event::Granted(_) => "granted".into(),
        Event::Fallback(f) => format!("fallback {f:?}"),
    }
}

fn norm_finish(f: &Finish, t0: Instant) -> String {
    match f {
        Finish::Failed(Failure {
            reason: Reason::BreakerOpen { retry_at },
            attempts,
        }) => format!(
            "rejected after {attempts} retry at {:?}",
            retry_at.map(|at| at - t0)
        ),
        other => format!("{other:?}"),
    }
}

type Log = Vec<(Duration, String)>;

/// The policy's jitter stream rule: the `n`-th call that draws uses
/// `SplitMix64(SEED + n)`.
struct SeededOnFirstDraw<'a> {
    rng: Option<SplitMix64>,
    draws: &'a mut u64,
}

impl Rng for SeededOnFirstDraw<'_> {
    fn next_u64(&mut self) -> u64 {
        let draws = &mut *self.draws;
        self.rng
            .get_or_insert_with(|| {
                *draws += 1;
                SplitMix64::new(SEED.wrapping_add(*draws - 1))
            })
            .next_u64()
    }
}

fn reference() -> Log {
    let pipeline = Pipeline::new(pipeline_config()).unwrap();
    let mut breaker: Breaker = Breaker::new(breaker_config()).expect("breaker");
    let t0 = Instant::from_secs(1_000);
    let mut script = SCRIPT.iter();
    let mut log = Log::new();
    let mut draws = 0;
    for start in STARTS {
        let mut now = t0 + Duration::from_millis(start);
        let mut rng = SeededOnFirstDraw {
            rng: None,
            draws: &mut draws,
        };
        let mut call = pipeline.start(now);
        let mut events = Events::new();
        let mut step = call.next(
            now,
            &mut Shared::new()
                .with_breaker(&mut breaker)
                .with_observer(&mut events),
        );
        loop {
            while let Some(e) = events.pop() {
                log.push((now - t0, norm_event(&e, t0)));
            }
            match step {
                Step::Attempt { deadline, .. } => {
                    let (latency, ok) = *script.next().expect("script long enough");
                    let end = now + Duration::from_millis(latency);
                    let (at, verdict) = match deadline {
                        Some(d) if end >= d => (d, Verdict::timed_out()),
                        _ if ok => (end, Verdict::success()),
                        _ => (end, Verdict::failure()),
                    };
                    now = at;
                    let mut shared = Shared::new()
                        .with_breaker(&mut breaker)
                        .with_observer(&mut events);
                    step = call.on_outcome(verdict, now, &mut shared, &mut rng);
                }
                Step::Wait { until } => {
                    now = until;
                    step = call.next(
                        now,
                        &mut Shared::new()
                            .with_breaker(&mut breaker)
                            .with_observer(&mut events),
                    );
                }
                Step::Queued { .. } => unreachable!("no bulkhead"),
                Step::Done(finish) => {
                    log.push((now - t0, norm_finish(&finish, t0)));
                    break;
                }
            }
        }
    }
    log
}

struct Recorder {
    t0: Instant,
    log: Mutex<Log>,
}

impl Observer for Recorder {
    fn on_event(&self, _: &str, _: Option<&str>, event: &Event) {
        let now = steadfast_std::time::now();
        self.log
            .lock()
            .unwrap()
            .push((now - self.t0, norm_event(event, self.t0)));
    }
    fn on_finish(&self, _: &str, finish: &Finish) {
        let now = steadfast_std::time::now();
        self.log
            .lock()
            .unwrap()
            .push((now - self.t0, norm_finish(finish, self.t0)));
    }
}

#[tokio::test(start_paused = true)]
async fn tokio_timeline_equals_core_timeline() {
    let t0 = steadfast_std::time::now();
    let recorder = Arc::new(Recorder {
        t0,
        log: Mutex::new(Log::new()),
    });
    let policy = Policy::builder(pipeline_config())
        .unwrap()
        .breaker(SharedBreaker::new("dep", breaker_config()).unwrap())
        .observer(recorder.clone())
        .seed(SEED)
        .build();
    let script = Arc::new(Mutex::new(SCRIPT.into_iter().collect::<VecDeque<_>>()));
    for start in STARTS {
        tokio::time::sleep_until(steadfast_std::time::to_tokio(
            t0 + Duration::from_millis(start),
        ))
        .await;
        let _ = policy
            .call(|| {
                let (latency, ok) = script.lock().unwrap().pop_front().expect("script");
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
                    if ok { Ok(()) } else { Err("failed") }
                }
            })
            .await;
    }
    let expected = reference();
    let got = recorder.log.lock().unwrap().clone();
    for (e, g) in expected.iter().zip(&got) {
        println!("core {:>10} {:<50} tokio {:>10} {}", e.0, e.1, g.0, g.1);
    }
    assert_eq!(got, expected);
    // The scenario covers what it claims to.
    let text = format!("{expected:?}");
    for needle in [
        "closed -> open",
        "half_open -> open",
        "timed out",
        "rejected",
        "half_open -> closed",
    ] {
        assert!(text.contains(needle), "scenario lacks {needle}");
    }
}
