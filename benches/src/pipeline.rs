//! The composed pipeline driven by hand, as an adapter drives it: one call from
//! `Pipeline::start` to its `Step::Done`, every event heard. steadfast only (no
//! peer composes these stages as one machine).

use std::hint::black_box;

use steadfast::breaker::{Breaker, Config as BreakerConfig};
use steadfast::bulkhead::{Bulkhead, Config as BulkheadConfig};
use steadfast::outcome::Verdict;
use steadfast::pipeline::{self, Event, Input, Observer, Pipeline, Shared, Step};
use steadfast::retry::Unlimited;
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};

use crate::{Op, Visitor, Who};

/// Every row of this module, in table order.
pub fn visit<V: Visitor>(v: &mut V) {
    v.visit::<Succeeds>();
    v.visit::<RetriesOnce>();
}

/// Hears every event, as an adapter's observer does.
#[derive(Debug)]
struct Sink;

impl Observer for Sink {
    fn on_event(&mut self, now: Instant, event: &Event) {
        black_box((now, event));
    }
}

/// Drives one call: each attempt's verdict comes from `verdicts` (success once
/// it runs out); waits are slept through by moving the clock.
fn drive(
    pipeline: &Pipeline,
    now: &mut Instant,
    shared: &mut Shared<'_, Breaker, Bulkhead, Unlimited, Sink>,
    rng: &mut SplitMix64,
    verdicts: &[Verdict],
) {
    let mut call = pipeline.start(*now);
    let mut input = Input::Next;
    let mut attempt = 0;
    loop {
        match call.handle(input, *now, shared, rng) {
            Step::Attempt { .. } => {
                let verdict = verdicts.get(attempt).copied().unwrap_or(Verdict::success());
                attempt += 1;
                input = Input::Outcome(black_box(verdict));
            }
            Step::Wait { until } | Step::Queued { until, .. } => {
                *now = until;
                input = Input::Next;
            }
            Step::Done(finish) => {
                black_box(finish);
                break;
            }
        }
    }
    *now = now.saturating_add(Duration::from_micros(1));
}

/// The machines every call of a row shares.
#[derive(Debug)]
pub struct Machines {
    pipeline: Pipeline,
    breaker: Breaker,
    bulkhead: Bulkhead,
    rng: SplitMix64,
    now: Instant,
}

impl Machines {
    fn new() -> Self {
        Self {
            pipeline: Pipeline::new(pipeline::Config::DEFAULT).expect("valid"),
            breaker: Breaker::new(BreakerConfig::DEFAULT).expect("valid"),
            bulkhead: Bulkhead::new(BulkheadConfig::DEFAULT).expect("valid"),
            rng: SplitMix64::new(1),
            now: Instant::from_secs(1),
        }
    }
}

const GROUP_OK: &str = "pipeline: one call, first attempt succeeds (breaker)";
const GROUP_RETRY: &str = "pipeline: one call, fails once, retried (breaker + bulkhead)";

/// A breaker-only pipeline; the call's first attempt succeeds.
#[derive(Debug)]
pub struct Succeeds(Machines);
impl Op for Succeeds {
    const GROUP: &'static str = GROUP_OK;
    const NAME: &'static str = "steadfast";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        Self(Machines::new())
    }
    #[inline(always)]
    fn op(&mut self) {
        let m = &mut self.0;
        let mut sink = Sink;
        let mut shared = Shared::new()
            .with_breaker(&mut m.breaker)
            .with_observer(&mut sink);
        let pipeline = black_box(&m.pipeline);
        let mut call = pipeline.start(m.now);
        let mut input = Input::Next;
        loop {
            match call.handle(input, m.now, &mut shared, &mut m.rng) {
                Step::Attempt { .. } => input = Input::Outcome(black_box(Verdict::success())),
                Step::Wait { until } | Step::Queued { until, .. } => {
                    m.now = until;
                    input = Input::Next;
                }
                Step::Done(finish) => {
                    black_box(finish);
                    break;
                }
            }
        }
        m.now = m.now.saturating_add(Duration::from_micros(1));
    }
}

/// Breaker and bulkhead; the first attempt fails, the jittered retry succeeds.
#[derive(Debug)]
pub struct RetriesOnce(Machines);
impl Op for RetriesOnce {
    const GROUP: &'static str = GROUP_RETRY;
    const NAME: &'static str = "steadfast";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        Self(Machines::new())
    }
    #[inline(always)]
    fn op(&mut self) {
        let m = &mut self.0;
        let mut sink = Sink;
        let mut shared = Shared::new()
            .with_breaker(&mut m.breaker)
            .with_bulkhead(&mut m.bulkhead)
            .with_observer(&mut sink);
        drive(
            black_box(&m.pipeline),
            &mut m.now,
            &mut shared,
            &mut m.rng,
            &[Verdict::failure()],
        );
    }
}
