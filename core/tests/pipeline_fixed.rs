//! A pipeline whose backoff is named by a type ([`Fixed`]), and a pipeline
//! named by a type ([`pipeline::Fixed`]), run every call exactly as the same
//! pipeline held by value: the same steps, events and finishes, whatever the
//! outcomes, hints, timeouts, stage order and fallback rule.

use core::ops::Deref;
use proptest::prelude::*;
use steadfast::backoff::{Backoff, ConstBackoff, Fixed, Jitter, Kind, Ratio};
use steadfast::breaker::{Breaker, Config as BreakerConfig};
use steadfast::bulkhead::{Bulkhead, Config as BulkheadConfig};
use steadfast::outcome::Verdict;
use steadfast::pipeline::{
    self, Call, ConstPipeline, Events, FallbackOn, Input, Order, Pipeline, Shared, Step,
};
use steadfast::retry;
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::timeout;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Doubling;
impl ConstBackoff for Doubling {
    const BACKOFF: Backoff = Backoff::DEFAULT;
}
struct LinearFull;
impl ConstBackoff for LinearFull {
    const BACKOFF: Backoff = Backoff::linear(ms(20), ms(15), ms(200)).with_jitter(Jitter::Full);
}
struct ThreeHalvesDecorrelated;
impl ConstBackoff for ThreeHalvesDecorrelated {
    const BACKOFF: Backoff = Backoff::DEFAULT
        .with_kind(Kind::Exponential {
            factor: match Ratio::new(3, 2) {
                Ok(r) => r,
                Err(_) => Ratio::TWO,
            },
        })
        .with_cap(ms(900))
        .with_jitter(Jitter::Decorrelated);
}
struct ConstantProportional;
impl ConstBackoff for ConstantProportional {
    const BACKOFF: Backoff =
        Backoff::constant(ms(50)).with_jitter(Jitter::Proportional { percent: 40 });
}

fn verdict(kind: u8, hint: u64) -> Verdict {
    match kind % 6 {
        0 => Verdict::success(),
        1 => Verdict::failure(),
        2 => Verdict::failure().retry_after(ms(hint)),
        3 => Verdict::failure().not_retryable(),
        4 => Verdict::ignored(),
        _ => Verdict::timed_out(),
    }
}

/// Every step, event and finish of six calls over the scripted outcomes,
/// each call started from `pipeline`.
fn run<D: steadfast::backoff::Delays, P: Deref<Target = Pipeline<D>> + Clone>(
    pipeline: P,
    script: &[(u8, u64)],
    seed: u64,
) -> Vec<String> {
    let mut breaker: Breaker =
        Breaker::new(BreakerConfig::DEFAULT.with_failure_threshold(3)).expect("a valid breaker");
    let mut bulkhead: Bulkhead<2> = Bulkhead::new(
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(2),
    )
    .expect("a valid bulkhead");
    let mut rng = SplitMix64::new(seed);
    let mut seen = Vec::new();
    let mut outcomes = script.iter().cycle();
    let mut now = Instant::from_secs(1);
    for _ in 0..6 {
        let mut events = Events::new();
        let mut call = Call::of(pipeline.clone(), now).with_fallback(true);
        let mut input = Input::Next;
        for _ in 0..32 {
            let step = {
                let mut shared = Shared::new()
                    .with_breaker(&mut breaker)
                    .with_bulkhead(&mut bulkhead)
                    .with_observer(&mut events);
                call.handle(input, now, &mut shared, &mut rng)
            };
            while let Some(event) = events.pop() {
                seen.push(format!("{event:?}"));
            }
            seen.push(format!("{now:?} {step:?}"));
            input = match step {
                Step::Attempt { .. } => {
                    let &(kind, hint) = outcomes.next().unwrap_or(&(0, 0));
                    now = now.saturating_add(ms(hint % 40));
                    Input::Outcome(verdict(kind, hint))
                }
                Step::Wait { until } | Step::Queued { until, .. } => {
                    now = until;
                    Input::Next
                }
                Step::Done(_) => break,
            };
        }
        now = now.saturating_add(ms(700));
    }
    seen
}

fn twins<T: ConstBackoff>(config: pipeline::Config, script: &[(u8, u64)], seed: u64) {
    let held = Pipeline::new(config.with_retry(config.retry().with_backoff(T::BACKOFF)))
        .expect("a valid pipeline");
    let fixed = Pipeline::fixed(config.with_retry(config.retry().with_backoff(Fixed::<T>::new())))
        .expect("the same check");
    assert_eq!(
        fixed.config().retry().backoff(),
        held.config().retry().backoff()
    );
    let (a, b) = (run(&held, script, seed), run(&fixed, script, seed));
    assert_eq!(a, b);
}

#[test]
fn failing_calls_wait_the_same_jittered_delays() {
    let config = pipeline::Config::DEFAULT
        .with_retry(retry::Config::DEFAULT.with_max_attempts(5))
        .with_timeout(timeout::Config::NONE);
    let held = Pipeline::new(
        config.with_retry(
            config
                .retry()
                .with_backoff(ThreeHalvesDecorrelated::BACKOFF),
        ),
    )
    .expect("a valid pipeline");
    let script = [(1, 0), (2, 250), (1, 7)];
    let steps = run(&held, &script, 3);
    assert!(
        steps.iter().filter(|s| s.starts_with("Retry")).count() >= 3,
        "{steps:#?}"
    );
    twins::<ThreeHalvesDecorrelated>(config, &script, 3);
    twins::<Doubling>(config, &script, 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 128 }))]

    #[test]
    fn a_fixed_backoff_runs_every_call_as_the_held_one(
        script in prop::collection::vec((0u8..6, 0u64..500), 1..24),
        attempts in 1u32..6,
        attempt_ms in prop::option::of(1u64..300),
        total_ms in prop::option::of(1u64..3_000),
        seed in any::<u64>(),
    ) {
        let config = pipeline::Config::DEFAULT
            .with_retry(retry::Config::DEFAULT.with_max_attempts(attempts).with_max_retry_after(ms(400)))
            .with_timeout(timeout::Config::NONE);
        let config = config.with_timeout(match (attempt_ms, total_ms) {
            (Some(a), Some(t)) => timeout::Config::NONE.with_attempt(ms(a)).with_total(ms(t)),
            (Some(a), None) => timeout::Config::NONE.with_attempt(ms(a)),
            (None, Some(t)) => timeout::Config::NONE.with_total(ms(t)),
            (None, None) => timeout::Config::NONE,
        });
        twins::<Doubling>(config, &script, seed);
        twins::<LinearFull>(config, &script, seed);
        twins::<ThreeHalvesDecorrelated>(config, &script, seed);
        twins::<ConstantProportional>(config, &script, seed);
    }
}

#[test]
fn a_fixed_backoff_is_checked_like_a_held_one() {
    struct Backwards;
    impl ConstBackoff for Backwards {
        const BACKOFF: Backoff = Backoff::constant(ms(9)).with_cap(ms(1));
    }
    let config = pipeline::Config::DEFAULT
        .with_retry(retry::Config::DEFAULT.with_backoff(Fixed::<Backwards>::new()));
    assert_eq!(Pipeline::fixed(config).unwrap_err().field, "base");
    let held = pipeline::Config::DEFAULT
        .with_retry(retry::Config::DEFAULT.with_backoff(Backwards::BACKOFF));
    assert_eq!(
        Pipeline::new(held).unwrap_err(),
        Pipeline::fixed(config).unwrap_err()
    );
}

macro_rules! const_pipelines {
    ($($name:ident: $delays:ty = $pipeline:expr;)*) => {$(
        struct $name;
        impl ConstPipeline for $name {
            type Delays = $delays;
            const PIPELINE: &'static Pipeline<$delays> = &steadfast::valid!($pipeline);
        }
    )*};
}

const fn with_backoff(config: pipeline::Config) -> pipeline::Config<Fixed<Doubling>> {
    config.with_retry(config.retry().with_backoff(Fixed::new()))
}

const_pipelines! {
    Defaults: Backoff = Pipeline::new(pipeline::Config::DEFAULT);
    Timed: Fixed<Doubling> = Pipeline::fixed(with_backoff(
        pipeline::Config::DEFAULT
            .with_retry(retry::Config::DEFAULT.with_max_attempts(4).with_max_retry_after(ms(300)))
            .with_timeout(timeout::Config::NONE.with_attempt(ms(30)).with_total(ms(900)))
            .with_fallback(FallbackOn::Rejection)
    ));
    BulkheadFirst: Fixed<Doubling> = Pipeline::fixed(with_backoff(
        pipeline::Config::DEFAULT
            .with_order(Order::BulkheadOutermost)
            .with_timeout(timeout::Config::NONE.with_total(ms(2_000)))
            .with_fallback(FallbackOn::AnyFailure)
    ));
    BreakerFirst: Backoff = Pipeline::new(
        pipeline::Config::DEFAULT
            .with_order(Order::BreakerOutermost)
            .with_retry(retry::Config::DEFAULT.with_max_attempts(5).with_retry_on_timeout(false))
            .with_timeout(timeout::Config::NONE.with_attempt(ms(60)))
    );
}

fn same_calls<T: ConstPipeline>(script: &[(u8, u64)], seed: u64) {
    let held = *T::PIPELINE;
    let (a, b) = (
        run(&held, script, seed),
        run(pipeline::Fixed::<T>::new(), script, seed),
    );
    assert!(a.len() >= 6);
    assert_eq!(a, b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 2 } else { 128 }))]

    #[test]
    fn a_fixed_pipeline_runs_every_call_as_the_held_one(
        script in prop::collection::vec((0u8..6, 0u64..500), 1..24),
        seed in any::<u64>(),
    ) {
        same_calls::<Defaults>(&script, seed);
        same_calls::<Timed>(&script, seed);
        same_calls::<BulkheadFirst>(&script, seed);
        same_calls::<BreakerFirst>(&script, seed);
    }
}

#[test]
fn a_fixed_pipeline_holds_no_reference() {
    assert_eq!(core::mem::size_of::<pipeline::Fixed<Timed>>(), 0);
    assert!(
        core::mem::size_of::<Call<'static, pipeline::Fixed<Timed>>>()
            < core::mem::size_of::<Call<'static>>()
    );
    let call = pipeline::Fixed::<Timed>::new().start(Instant::from_secs(1));
    assert_eq!(call.deadline(), Some(Instant::from_millis(1_900)));
}
