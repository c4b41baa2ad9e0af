//! Backoff rows: the jittered delays of retries 1..=8 (exponential, base 100 ms,
//! factor 2, cap 60 s, full jitter), one random draw each from the same
//! SplitMix64 stream. One call of `op` is a whole 8-delay schedule
//! (`PER_CALL = 8`): backon can only produce delays by iterating from the first,
//! so a schedule is the unit every contender can do the same way.

use std::hint::black_box;
use std::time::Duration as StdDuration;

use backon::BackoffBuilder as _;
use steadfast::backoff::{Backoff, Jitter, Ratio};
use steadfast::rng::SplitMix64;
use steadfast::time::Duration;

use crate::floor;
use crate::{Op, Visitor, Who};

/// Every backoff row.
pub fn visit<V: Visitor>(v: &mut V) {
    v.visit::<SteadfastJitter>();
    v.visit::<FloorJitter>();
    v.visit::<BackonJitter>();
    v.visit::<ReliakitJitter>();
}

const GROUP: &str = "backoff: next delay with jitter (exp 100 ms x2, cap 60 s)";
const RETRIES: u32 = 8;
const BASE_MS: u64 = 100;
const CAP_MS: u64 = 60_000;

/// steadfast `Backoff::jittered` with `Jitter::Full`.
#[derive(Debug)]
pub struct SteadfastJitter(Backoff, SplitMix64);
impl Op for SteadfastJitter {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "steadfast";
    const WHO: Who = Who::Steadfast;
    const PER_CALL: u32 = RETRIES;
    fn new() -> Self {
        let b = Backoff::exponential(
            Duration::from_millis(BASE_MS),
            Ratio::TWO,
            Duration::from_millis(CAP_MS),
        )
        .with_jitter(Jitter::Full);
        Self(b, SplitMix64::new(1))
    }
    #[inline(always)]
    fn op(&mut self) {
        let b = black_box(&self.0);
        for retry in 1..=RETRIES {
            black_box(b.jittered(black_box(retry), Duration::ZERO, &mut self.1));
        }
    }
}

/// The floor: `min(base << (n-1), cap)` then a multiply-shift full jitter.
#[derive(Debug)]
pub struct FloorJitter(floor::SplitMix64);
impl Op for FloorJitter {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "floor (shift + mul-shift jitter)";
    const WHO: Who = Who::Floor;
    const PER_CALL: u32 = RETRIES;
    fn new() -> Self {
        Self(floor::SplitMix64(1))
    }
    #[inline(always)]
    fn op(&mut self) {
        let (base, cap) = black_box((BASE_MS * 1_000, CAP_MS * 1_000));
        for retry in 1..=RETRIES {
            let d = floor::shift_delay(base, cap, black_box(retry));
            black_box(floor::full_jitter(d, self.0.next_u64()));
        }
    }
}

/// backon: a fresh `ExponentialBuilder::build()` iterator (seeded), 8 × `next()`.
/// backon's jitter is `d + d·U[0,1)` (f32), not full jitter: same work, its formula.
#[derive(Debug)]
pub struct BackonJitter(backon::ExponentialBuilder);
impl Op for BackonJitter {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "backon 1.6";
    const WHO: Who = Who::Peer;
    const PER_CALL: u32 = RETRIES;
    fn new() -> Self {
        Self(
            backon::ExponentialBuilder::new()
                .with_min_delay(StdDuration::from_millis(BASE_MS))
                .with_max_delay(StdDuration::from_millis(CAP_MS))
                .with_factor(2.0)
                .with_max_times(RETRIES as usize)
                .with_jitter()
                .with_jitter_seed(1),
        )
    }
    #[inline(always)]
    fn op(&mut self) {
        for d in black_box(&self.0).build() {
            black_box(d);
        }
    }
}

/// reliakit: `Backoff::delay(n)` then `full_jitter(d, rand as u32)`.
#[derive(Debug)]
pub struct ReliakitJitter(reliakit::backoff::Backoff, floor::SplitMix64);
impl Op for ReliakitJitter {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "reliakit 1.1";
    const WHO: Who = Who::Peer;
    const PER_CALL: u32 = RETRIES;
    fn new() -> Self {
        Self(
            reliakit::backoff::Backoff::exponential(StdDuration::from_millis(BASE_MS), 2)
                .with_max_delay(StdDuration::from_millis(CAP_MS)),
            floor::SplitMix64(1),
        )
    }
    #[inline(always)]
    fn op(&mut self) {
        let b = black_box(&self.0);
        for attempt in 0..RETRIES {
            if let Some(d) = b.delay(black_box(attempt)) {
                let r = self.1.next_u64() as u32;
                black_box(reliakit::backoff::full_jitter(d, r));
            }
        }
    }
}
