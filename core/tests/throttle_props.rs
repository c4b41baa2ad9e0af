//! Client-side adaptive throttling against a transcription of the SRE book's
//! rule over an explicit list of what happened, and its behaviour against
//! backends of different health.

use proptest::prelude::*;
use steadfast::rng::{Rng, SplitMix64};
use steadfast::throttle::{AdaptiveThrottle, Config, Throttled};
use steadfast::time::{Duration, Instant};

const B: usize = 4;

/// Every request and accept with its instant; the window at `t` holds the ones
/// in the `B` slots of `width` µs ending with the slot that holds `t`.
struct Model {
    config: Config,
    width: u64,
    events: Vec<(u64, bool)>,
    seen: u64,
}

impl Model {
    fn counts(&self, t: u64) -> (u64, u64) {
        let slot = t / self.width;
        let first = (slot + 1).saturating_sub(B as u64);
        let inside = |&&(at, _): &&(u64, bool)| at / self.width >= first;
        let requests = self.events.iter().filter(inside).filter(|e| !e.1).count() as u64;
        let accepts = self.events.iter().filter(inside).filter(|e| e.1).count() as u64;
        (requests, accepts)
    }

    fn admit(&mut self, now: u64, rng: &mut SplitMix64) -> Result<(), Throttled> {
        self.seen = self.seen.max(now);
        let (requests, accepts) = self.counts(self.seen);
        let den = u128::from(requests + 1) * 1_000;
        let excess = (u128::from(requests) * 1_000)
            .saturating_sub(u128::from(self.config.k_permille()) * u128::from(accepts));
        let cap = u128::from(requests + 1) * u128::from(self.config.max_reject_permille());
        let num = excess.min(cap);
        if num > 0 && u128::from(rng.below(u64::try_from(den).unwrap())) < num {
            self.events.push((self.seen, false));
            return Err(Throttled {
                reject_permille: u32::try_from(num * 1_000 / den).unwrap(),
            });
        }
        Ok(())
    }

    fn record(&mut self, accepted: bool, now: u64) {
        self.seen = self.seen.max(now);
        self.events.push((self.seen, false));
        if accepted {
            self.events.push((self.seen, true));
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Wait(u64),
    Back(u64),
    Admit,
    Record(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..30_000).prop_map(Op::Wait),
        1 => (0u64..2_000_000).prop_map(Op::Wait),
        1 => (0u64..20_000).prop_map(Op::Back),
        5 => Just(Op::Admit),
        4 => any::<bool>().prop_map(Op::Record),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (1_000u32..4_000, 4u64..400_000, 0u32..=1_000).prop_map(|(k, window, cap)| {
        Config::new()
            .with_k_permille(k)
            .with_window(Duration::from_micros(window))
            .with_max_reject_permille(cap)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 256 }, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_model(c in config(), seed in any::<u64>(), ops in prop::collection::vec(op(), 1..if cfg!(miri) { 30 } else { 400 })) {
        let mut throttle = AdaptiveThrottle::<B>::new(c).unwrap();
        let mut model = Model { config: c, width: c.window().as_micros() / B as u64, events: Vec::new(), seen: 0 };
        let (mut rng, mut model_rng) = (SplitMix64::new(seed), SplitMix64::new(seed));
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Wait(d) => now += d,
                Op::Back(d) => now = now.saturating_sub(d),
                Op::Admit => prop_assert_eq!(
                    throttle.admit(Instant::from_micros(now), &mut rng),
                    model.admit(now, &mut model_rng)
                ),
                Op::Record(accepted) => {
                    throttle.record(accepted, Instant::from_micros(now));
                    model.record(accepted, now);
                }
            }
            model.seen = model.seen.max(now);
            let (r, a) = model.counts(model.seen);
            let (tr, ta) = throttle.counts(Instant::from_micros(now));
            prop_assert_eq!((u64::from(tr), u64::from(ta)), (r, a));
        }
    }
}

/// Calls at 1 ms intervals for `secs` against a backend that accepts a call when
/// `accepts(n)` says so; returns (calls refused locally, calls sent) over the last
/// half of the run.
fn run(config: Config, secs: u64, accepts: impl Fn(u64) -> bool) -> (u64, u64) {
    let mut throttle: AdaptiveThrottle = AdaptiveThrottle::new(config).unwrap();
    let mut rng = SplitMix64::new(42);
    let (mut refused, mut sent, mut n) = (0, 0, 0);
    for ms in 0..secs * 1_000 {
        let t = Instant::from_millis(ms);
        let late = ms >= secs * 500;
        match throttle.admit(t, &mut rng) {
            Ok(()) => {
                throttle.record(accepts(n), t);
                n += 1;
                sent += u64::from(late);
            }
            Err(_) => refused += u64::from(late),
        }
    }
    (refused, sent)
}

#[test]
#[cfg_attr(
    miri,
    ignore = "long timeline; the model property covers it under Miri"
)]
fn a_healthy_backend_is_never_throttled() {
    assert_eq!(run(Config::new(), 300, |_| true), (0, 150_000));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "long timeline; the model property covers it under Miri"
)]
fn a_backend_that_accepts_more_than_one_in_k_is_barely_throttled() {
    // K = 2 and 60 % accepted: requests − 2 × accepts stays below zero.
    let (refused, sent) = run(Config::new(), 300, |n| n % 5 < 3);
    assert_eq!(refused, 0, "sent {sent}");
}

#[test]
#[cfg_attr(
    miri,
    ignore = "long timeline; the model property covers it under Miri"
)]
fn a_dead_backend_sees_a_trickle() {
    let (refused, sent) = run(Config::new(), 300, |_| false);
    assert!(
        refused > 149_000 && sent < 1_000,
        "refused {refused}, sent {sent}"
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "long timeline; the model property covers it under Miri"
)]
fn the_cap_keeps_a_share_of_calls_going() {
    // At most 90 % refused: about a tenth of the calls still probe a dead backend.
    let (refused, sent) = run(Config::new().with_max_reject_permille(900), 300, |_| false);
    let share = sent * 1_000 / (refused + sent);
    assert!((90..=110).contains(&share), "{share} ‰ sent");
}

#[test]
#[cfg_attr(
    miri,
    ignore = "long timeline; the model property covers it under Miri"
)]
fn recovery_is_seen_once_the_window_forgets() {
    let mut throttle: AdaptiveThrottle = AdaptiveThrottle::new(Config::new()).unwrap();
    let mut rng = SplitMix64::new(1);
    for ms in 0..60_000 {
        let t = Instant::from_millis(ms);
        if throttle.admit(t, &mut rng).is_ok() {
            throttle.record(false, t);
        }
    }
    assert!(throttle.reject_permille(Instant::from_secs(60)) > 990);
    // A window (two minutes) later nothing of the outage is left.
    assert_eq!(throttle.reject_permille(Instant::from_secs(180)), 0);
    assert_eq!(throttle.counts(Instant::from_secs(180)), (0, 0));
}

#[test]
fn display_says_the_probability() {
    let t = Throttled {
        reject_permille: 731,
    };
    assert_eq!(t.to_string(), "throttled locally (p = 0.731)");
    let _ = SplitMix64::new(0).next_u64();
}

#[test]
fn calls_still_in_flight_are_not_requests_without_accepts() {
    // A client that has just started sends 100 calls before the first answer:
    // none is refused (counted when they end, not when they leave).
    let mut throttle: AdaptiveThrottle = AdaptiveThrottle::new(Config::new()).unwrap();
    let mut rng = SplitMix64::new(3);
    let t = Instant::from_millis(1);
    for _ in 0..100 {
        assert!(throttle.admit(t, &mut rng).is_ok());
    }
    assert_eq!(throttle.counts(t), (0, 0));
    for _ in 0..100 {
        throttle.record(true, t + Duration::from_millis(20));
    }
    assert_eq!(throttle.counts(t + Duration::from_millis(20)), (100, 100));
}
