//! The adaptive concurrency limit against a model written from the module's
//! rules (the Vegas queue compared by cross-multiplying, not divided), over
//! random sequences of acquisitions, releases and cancellations: the same
//! limits, the same refusals, no permit lost.

use proptest::prelude::*;
use steadfast::adaptive::{AdaptiveLimit, Algorithm, Config, Full, Permit};
use steadfast::time::{Duration, Instant};

/// The rules, transcribed.
struct Model {
    limit: u64,
    in_flight: u64,
    noload: Option<u64>,
    min: u64,
    max: u64,
    smoothing: u64,
    algorithm: Algorithm,
}

impl Model {
    fn new(c: &Config) -> Self {
        Self {
            limit: u64::from(c.initial()),
            in_flight: 0,
            noload: None,
            min: u64::from(c.min()),
            max: u64::from(c.max()),
            smoothing: u64::from(c.smoothing()),
            algorithm: c.algorithm(),
        }
    }

    fn acquire(&mut self) -> Option<u64> {
        if self.in_flight >= self.limit {
            return None;
        }
        self.in_flight += 1;
        Some(self.in_flight)
    }

    fn release(&mut self, taken_with: u64, rtt: u64, dropped: bool) {
        self.in_flight -= 1;
        let in_use = taken_with * 2 >= self.limit;
        let target = match self.algorithm {
            Algorithm::Aimd {
                backoff_permille,
                timeout,
            } => {
                if dropped || rtt > timeout.as_micros() {
                    self.limit * u64::from(backoff_permille) / 1000
                } else if in_use {
                    self.limit + 1
                } else {
                    self.limit
                }
            }
            Algorithm::Vegas {
                alpha,
                beta,
                backoff_permille,
            } => {
                let noload = self.noload.map_or(rtt, |n| n.min(rtt));
                self.noload = Some(noload);
                if dropped {
                    self.limit * u64::from(backoff_permille) / 1000
                } else if rtt == 0 {
                    self.limit
                } else {
                    // queue = ⌈limit × (rtt − noload) / rtt⌉, compared without dividing:
                    // ⌈x⌉ < a ⇔ x ≤ a − 1, and ⌈x⌉ > b ⇔ x > b.
                    let excess = u128::from(self.limit) * u128::from(rtt - noload);
                    let (rtt, alpha, beta) = (u128::from(rtt), u128::from(alpha), u128::from(beta));
                    if alpha > 0 && excess <= (alpha - 1) * rtt && in_use {
                        self.limit + 1
                    } else if excess > beta * rtt {
                        self.limit - 1
                    } else {
                        self.limit
                    }
                }
            }
        };
        let moved = if target > self.limit {
            self.limit + ((target - self.limit) * self.smoothing / 1000).max(1)
        } else if target < self.limit {
            self.limit - ((self.limit - target) * self.smoothing / 1000).max(1)
        } else {
            self.limit
        };
        self.limit = moved.clamp(self.min, self.max);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Acquire,
    Release {
        which: usize,
        rtt_ms: u64,
        dropped: bool,
    },
    Cancel {
        which: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Acquire),
        3 => (any::<usize>(), 0u64..200, any::<bool>())
            .prop_map(|(which, rtt_ms, dropped)| Op::Release { which, rtt_ms, dropped }),
        1 => any::<usize>().prop_map(|which| Op::Cancel { which }),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let algorithm = prop_oneof![
        (1u16..1000, 1u64..300).prop_map(|(b, t)| Algorithm::Aimd {
            backoff_permille: b,
            timeout: Duration::from_millis(t),
        }),
        (0u32..10, 0u32..10, 1u16..1000).prop_map(|(a, d, b)| Algorithm::Vegas {
            alpha: a,
            beta: a + d,
            backoff_permille: b,
        }),
    ];
    (1u32..20, 0u32..20, 0u32..40, algorithm, 1u16..=1000).prop_map(
        |(min, above, span, algorithm, smoothing)| {
            Config::new()
                .with_limits(min + above.min(span), min, min + span)
                .with_algorithm(algorithm)
                .with_smoothing(smoothing)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 8 } else { 512 }, ..ProptestConfig::default() })]

    #[test]
    fn the_machine_follows_the_model(c in config(), ops in proptest::collection::vec(op(), 1..200)) {
        let mut machine = AdaptiveLimit::new(c).unwrap();
        let mut model = Model::new(&c);
        let mut out: Vec<(Permit, u64)> = Vec::new();
        let mut now = Instant::ZERO;
        for op in ops {
            now += Duration::from_millis(1);
            match op {
                Op::Acquire => match (machine.try_acquire(now), model.acquire()) {
                    (Ok(p), Some(k)) => out.push((p, k)),
                    (Err(Full { limit }), None) => prop_assert_eq!(u64::from(limit), model.limit),
                    (got, want) => prop_assert!(false, "{got:?} vs {want:?}"),
                },
                Op::Release { which, rtt_ms, dropped } if !out.is_empty() => {
                    let (p, k) = out.swap_remove(which % out.len());
                    let start = p.start();
                    let end = start + Duration::from_millis(rtt_ms);
                    now = now.max(end);
                    machine.release(p, dropped, end);
                    model.release(k, rtt_ms * 1000, dropped);
                }
                Op::Cancel { which } if !out.is_empty() => {
                    let (p, _) = out.swap_remove(which % out.len());
                    machine.cancel(p);
                    model.in_flight -= 1;
                }
                _ => {}
            }
            prop_assert_eq!(u64::from(machine.limit()), model.limit);
            prop_assert_eq!(u64::from(machine.in_flight()), out.len() as u64);
            prop_assert!((c.min()..=c.max()).contains(&machine.limit()));
        }
        for (p, _) in out.drain(..) {
            machine.cancel(p);
        }
        prop_assert_eq!(machine.in_flight(), 0, "every permit came back");
    }
}
