//! Seeded models of the world around the policy: the dependency the calls go
//! to, and the load that offers them.
//!
//! Floats are fine here (this is the simulator, not the core), but every draw
//! goes through [`SplitMix64`] and a fixed quantile table, so a seed fixes the
//! whole run on a given platform.

use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::{Duration, Instant};

use crate::scenario::{DependencySpec, Distribution, LoadSpec, OutageMode, Z99};

/// Cells in the latency quantile table (a power of two: the top bits of a
/// random `u64` index it).
const CELLS_LOG2: u32 = 12;
const CELLS: usize = 1 << CELLS_LOG2;

/// What the dependency does with one attempt started at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// `true` if it succeeds.
    pub ok: bool,
    /// How long it takes to answer (`None`: it never answers — a hang).
    pub latency: Option<Duration>,
}

/// Draws durations (µs) from a [`Distribution`], clamped to a cap.
///
/// Lognormal draws go through a fixed quantile table (a cell from the top bits
/// of a random `u64`, linear interpolation inside it); the others invert their
/// CDF exactly from one 53-bit uniform.
#[derive(Clone, Debug)]
pub struct Sampler {
    shape: Shape,
    cap: u64,
}

#[derive(Clone, Debug)]
enum Shape {
    /// Quantiles in µs at `i / CELLS` (ends pulled in by a quarter cell),
    /// `CELLS + 1` entries.
    Table(Vec<u64>),
    Exponential {
        mean: f64,
    },
    Fixed(u64),
    Pareto {
        min: f64,
        inverse_alpha: f64,
    },
    Bimodal {
        fast: f64,
        slow: f64,
        slow_fraction: f64,
    },
}

/// Sigma of a lognormal whose p99 is twice its median (each bimodal mode).
fn mode_sigma() -> f64 {
    2f64.ln() / Z99
}

impl Sampler {
    /// A sampler of `distribution`, never above `cap`.
    pub fn new(distribution: &Distribution, cap: Duration) -> Self {
        let cap = cap.as_micros();
        let us = |d: &Duration| d.as_micros() as f64;
        let shape = match distribution {
            Distribution::Lognormal { median, p99 } => {
                let median = us(median).max(1.0);
                let sigma = (us(p99).max(median) / median).ln() / Z99;
                let edge = 0.25 / CELLS as f64;
                Shape::Table(
                    (0..=CELLS)
                        .map(|i| {
                            let q = (i as f64 / CELLS as f64).clamp(edge, 1.0 - edge);
                            let micros = median * (sigma * inverse_normal_cdf(q)).exp();
                            (micros.round() as u64).min(cap)
                        })
                        .collect(),
                )
            }
            Distribution::Exponential { mean } => Shape::Exponential { mean: us(mean) },
            Distribution::Fixed { value } => Shape::Fixed(value.as_micros()),
            Distribution::Pareto { min, alpha } => Shape::Pareto {
                min: us(min),
                inverse_alpha: 1.0 / alpha,
            },
            Distribution::Bimodal {
                fast,
                slow,
                slow_fraction,
            } => Shape::Bimodal {
                fast: us(fast),
                slow: us(slow),
                slow_fraction: *slow_fraction,
            },
        };
        Self { shape, cap }
    }

    /// One draw in µs.
    pub fn sample(&self, rng: &mut SplitMix64) -> u64 {
        let micros = match &self.shape {
            Shape::Table(table) => {
                let x = rng.next_u64();
                let cell = (x >> (64 - CELLS_LOG2)) as usize;
                let frac = (x >> (32 - CELLS_LOG2)) & 0xFFFF_FFFF;
                let lo = table[cell];
                let hi = table[cell + 1];
                return lo + (((hi - lo) * frac) >> 32);
            }
            Shape::Exponential { mean } => -mean * unit_open_low(rng).ln(),
            Shape::Fixed(v) => return (*v).min(self.cap),
            Shape::Pareto { min, inverse_alpha } => min * unit_open_low(rng).powf(-inverse_alpha),
            Shape::Bimodal {
                fast,
                slow,
                slow_fraction,
            } => {
                let median = if chance(rng, *slow_fraction) {
                    slow
                } else {
                    fast
                };
                let u = unit_open_low(rng).min(1.0 - f64::EPSILON);
                median * (mode_sigma() * inverse_normal_cdf(u)).exp()
            }
        };
        if micros.is_finite() && micros < self.cap as f64 {
            micros.round() as u64
        } else {
            self.cap
        }
    }
}

/// A uniform draw in (0, 1] with 53 bits.
fn unit_open_low(rng: &mut SplitMix64) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64)
}

/// The flaky dependency: base error rate, a service-time distribution
/// (lognormal by default), outage windows that fail or hang every attempt, a
/// linear recovery ramp after each outage, brownouts that multiply latency, a
/// capacity above which latency grows with the load, a latency that grows
/// with every attempt in flight, and a limit above which it sheds load.
#[derive(Clone, Debug)]
pub struct Dependency {
    spec: DependencySpec,
    service: Sampler,
}

impl Dependency {
    /// Builds the model and its sampler.
    pub fn new(spec: DependencySpec) -> Self {
        let distribution = spec.latency.clone().unwrap_or(Distribution::Lognormal {
            median: spec.latency_median,
            p99: spec.latency_p99,
        });
        let service = Sampler::new(&distribution, spec.latency_max);
        Self { spec, service }
    }

    /// The model's spec.
    pub const fn spec(&self) -> &DependencySpec {
        &self.spec
    }

    /// The probability that an attempt started at `at` fails, and the latency
    /// factor then (brownouts), before load.
    pub fn conditions(&self, at: Instant) -> (f64, u64) {
        let mut error = self.spec.error_rate;
        for outage in &self.spec.outages {
            if at >= outage.start && at < outage.end {
                return (1.0, 1);
            }
            let recovery = outage.recovery.as_micros();
            let since = at.saturating_duration_since(outage.end).as_micros();
            if at >= outage.end && since < recovery {
                let left = 1.0 - since as f64 / recovery as f64;
                error = error.max(self.spec.error_rate + (1.0 - self.spec.error_rate) * left);
            }
        }
        let mut factor = 1;
        for brownout in &self.spec.brownouts {
            if at >= brownout.start && at < brownout.end {
                factor *= u64::from(brownout.latency_factor.max(1));
                error = error.max(brownout.error_rate);
            }
        }
        (error.clamp(0.0, 1.0), factor)
    }

    /// What the dependency does with an attempt started at `at` while
    /// `in_flight` other attempts are being served.
    pub fn answer(&self, at: Instant, in_flight: u32, rng: &mut SplitMix64) -> Answer {
        for outage in &self.spec.outages {
            if at >= outage.start && at < outage.end {
                return match outage.mode {
                    OutageMode::Fail => Answer {
                        ok: false,
                        latency: Some(self.spec.fail_latency),
                    },
                    OutageMode::Hang => Answer {
                        ok: false,
                        latency: self.spec.hang,
                    },
                };
            }
        }
        let shed = self.spec.shed_above;
        if shed > 0 && in_flight >= shed {
            // Shedding load: refused at once, the draws left untouched.
            return Answer {
                ok: false,
                latency: Some(self.spec.fail_latency),
            };
        }
        let (error, factor) = self.conditions(at);
        let ok = !chance(rng, error);
        let mut micros = self.service.sample(rng).saturating_mul(factor);
        let capacity = self.spec.capacity;
        if capacity > 0 && in_flight >= capacity {
            // Above capacity requests share the servers: latency grows with load.
            micros = micros.saturating_mul(u64::from(in_flight) + 1) / u64::from(capacity);
        }
        let slowdown = self.spec.concurrency_slowdown;
        if slowdown > 0.0 {
            let grown = micros as f64 * (1.0 + slowdown * f64::from(in_flight));
            micros = if grown < u64::MAX as f64 {
                grown.round() as u64
            } else {
                u64::MAX
            };
        }
        let latency = if ok {
            Duration::from_micros(micros)
        } else {
            // An error answers no slower than a success would.
            Duration::from_micros(micros).min(self.spec.fail_latency.max(Duration::from_micros(1)))
        };
        Answer {
            ok,
            latency: Some(latency),
        }
    }
}

/// `true` with probability `p`.
fn chance(rng: &mut SplitMix64, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    if p >= 1.0 {
        return true;
    }
    // 53-bit uniform in [0, 1).
    ((rng.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
}

/// The standard normal quantile function (Acklam's rational approximation,
/// relative error below 1.2e-9 — far finer than a latency model needs).
fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

/// What the load model asks the engine to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A call arrives at this instant.
    Arrival(Instant),
    /// The rate changes here: draw again from this instant (Poisson arrivals
    /// are memoryless, so redrawing at a boundary is exact).
    Redraw(Instant),
    /// No more open-loop arrivals.
    End,
}

/// Open-loop offered load: a base rate with burst windows that replace it,
/// Poisson or evenly spaced arrivals. (Closed-loop clients are driven by the
/// engine: each starts its next call `think` after its last one ended.)
#[derive(Clone, Debug)]
pub struct Load {
    spec: LoadSpec,
}

impl Load {
    /// The model.
    pub const fn new(spec: LoadSpec) -> Self {
        Self { spec }
    }

    /// The model's spec.
    pub const fn spec(&self) -> &LoadSpec {
        &self.spec
    }

    /// Calls per second offered at `at`.
    pub fn rate_at(&self, at: Instant) -> f64 {
        self.spec
            .bursts
            .iter()
            .find(|b| at >= b.start && at < b.end)
            .map_or(self.spec.rate, |b| b.rate)
    }

    /// The first instant after `at` where the rate changes.
    fn next_boundary(&self, at: Instant) -> Option<Instant> {
        self.spec
            .bursts
            .iter()
            .flat_map(|b| [b.start, b.end])
            .filter(|&t| t > at)
            .min()
    }

    /// The next arrival after `at` (`end` excluded).
    pub fn next(&self, at: Instant, end: Instant, rng: &mut SplitMix64) -> Next {
        let rate = self.rate_at(at);
        let boundary = self.next_boundary(at);
        if rate <= 0.0 {
            return match boundary {
                Some(b) if b < end => Next::Redraw(b),
                _ => Next::End,
            };
        }
        let gap = if self.spec.poisson {
            // Exponential inter-arrival: -ln(U) / rate, U in (0, 1]; rounded to whole
            // microseconds at random (up with the probability of the fraction), so the
            // mean gap stays 1 / rate at any rate and several calls may share a microsecond.
            let u = ((rng.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64);
            let micros = -u.ln() / rate * 1e6;
            let whole = micros.floor();
            let coin = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            Duration::from_micros(whole as u64 + u64::from(coin < micros - whole))
        } else {
            Duration::from_micros(((1e6 / rate).round() as u64).max(1))
        };
        let t = at.saturating_add(gap);
        match boundary {
            Some(b) if t >= b && b < end => Next::Redraw(b),
            _ if t >= end => Next::End,
            _ => Next::Arrival(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Poisson arrivals keep their rate when the mean gap is a microsecond or
    /// less: rounding every gap to a whole microsecond (at least one) would
    /// offer three quarters of the calls at 1 M/s.
    #[test]
    fn poisson_arrivals_keep_their_rate_at_a_microsecond_gap() {
        for rate in [1e6, 3e6] {
            let load = Load::new(LoadSpec {
                rate,
                poisson: true,
                clients: 0,
                think: Duration::ZERO,
                patience: None,
                bursts: Vec::new(),
                keys: 1,
            });
            let end = Instant::from_millis(100);
            let (mut at, mut n, mut rng) = (Instant::ZERO, 0u64, SplitMix64::new(3));
            while let Next::Arrival(t) = load.next(at, end, &mut rng) {
                at = t;
                n += 1;
            }
            let expected = rate * 0.1;
            // Poisson count: 4 standard deviations either way.
            let slack = 4.0 * expected.sqrt();
            assert!(
                (n as f64 - expected).abs() < slack,
                "rate {rate}: {n} arrivals, expected {expected}"
            );
        }
    }

    #[test]
    fn inverse_normal_is_symmetric_and_right() {
        assert!(inverse_normal_cdf(0.5).abs() < 1e-9);
        assert!((inverse_normal_cdf(0.99) - 2.326_347_874).abs() < 1e-6);
        assert!((inverse_normal_cdf(0.01) + 2.326_347_874).abs() < 1e-6);
    }

    #[test]
    fn latency_table_hits_median_and_p99() {
        let spec = DependencySpec {
            latency_median: Duration::from_millis(20),
            latency_p99: Duration::from_millis(200),
            ..DependencySpec::default()
        };
        let dep = Dependency::new(spec);
        let mut rng = SplitMix64::new(1);
        let mut v: Vec<u64> = (0..100_000).map(|_| dep.service.sample(&mut rng)).collect();
        v.sort_unstable();
        let median = v[50_000];
        let p99 = v[99_000];
        assert!((19_000..21_000).contains(&median), "{median}");
        assert!((185_000..215_000).contains(&p99), "{p99}");
    }

    /// `n` draws of `distribution`.
    fn draws(distribution: &Distribution, n: usize) -> Vec<u64> {
        let sampler = Sampler::new(distribution, Duration::MAX);
        let mut rng = SplitMix64::new(11);
        (0..n).map(|_| sampler.sample(&mut rng)).collect()
    }

    /// The fraction of `values` above `x`, and the 99.9 % binomial half-width
    /// around the expected fraction `p`.
    fn tail(values: &[u64], x: u64, p: f64) -> (f64, f64) {
        let n = values.len() as f64;
        let above = values.iter().filter(|&&v| v > x).count() as f64 / n;
        (above, 3.291 * (p * (1.0 - p) / n).sqrt())
    }

    #[test]
    fn exponential_has_its_mean_and_memoryless_tail() {
        let mean = Duration::from_millis(10);
        let v = draws(&Distribution::Exponential { mean }, 200_000);
        let n = v.len() as f64;
        let average = v.iter().sum::<u64>() as f64 / n;
        // The sd of an exponential is its mean.
        assert!(
            (average - 10_000.0).abs() < 3.291 * 10_000.0 / n.sqrt(),
            "{average}"
        );
        let p = (-2.0f64).exp();
        let (above, half_width) = tail(&v, 20_000, p);
        assert!((above - p).abs() < half_width, "{above} vs {p}");
    }

    #[test]
    fn pareto_has_a_power_law_tail() {
        let min = Duration::from_millis(5);
        let v = draws(&Distribution::Pareto { min, alpha: 1.5 }, 200_000);
        assert!(v.iter().all(|&x| x >= 5_000));
        for k in [2u64, 10, 100] {
            let p = (k as f64).powf(-1.5);
            let (above, half_width) = tail(&v, 5_000 * k, p);
            assert!((above - p).abs() < half_width, "x{k}: {above} vs {p}");
        }
    }

    #[test]
    fn bimodal_splits_between_its_modes() {
        let d = Distribution::Bimodal {
            fast: Duration::from_millis(10),
            slow: Duration::from_millis(400),
            slow_fraction: 0.05,
        };
        let v = draws(&d, 200_000);
        // Each mode's p99 is twice its median: nothing of the fast mode
        // reaches 100 ms, nothing of the slow one falls below it.
        let (above, half_width) = tail(&v, 100_000, 0.05);
        assert!((above - 0.05).abs() < half_width, "{above}");
        let fast_median = {
            let mut fast: Vec<u64> = v.iter().copied().filter(|&x| x < 100_000).collect();
            fast.sort_unstable();
            fast[fast.len() / 2]
        };
        assert!((9_800..10_200).contains(&fast_median), "{fast_median}");
        let n = v.len() as f64;
        let mean = v.iter().sum::<u64>() as f64 / n;
        let expected = d.mean_micros().unwrap();
        assert!((mean / expected - 1.0).abs() < 0.02, "{mean} vs {expected}");
    }

    #[test]
    fn fixed_is_fixed_and_the_cap_holds() {
        let value = Duration::from_millis(7);
        assert!(
            draws(&Distribution::Fixed { value }, 100)
                .iter()
                .all(|&v| v == 7_000)
        );
        let sampler = Sampler::new(
            &Distribution::Pareto {
                min: Duration::from_millis(5),
                alpha: 0.5,
            },
            Duration::from_secs(1),
        );
        let mut rng = SplitMix64::new(3);
        assert!((0..10_000).all(|_| sampler.sample(&mut rng) <= 1_000_000));
    }

    #[test]
    fn latency_grows_with_concurrency() {
        let spec = DependencySpec {
            latency: Some(Distribution::Fixed {
                value: Duration::from_millis(10),
            }),
            concurrency_slowdown: 0.05,
            ..DependencySpec::default()
        };
        let dep = Dependency::new(spec);
        let rng = SplitMix64::new(1);
        let at = |n| dep.answer(Instant::ZERO, n, &mut rng.clone()).latency;
        assert_eq!(at(0), Some(Duration::from_millis(10)));
        assert_eq!(at(20), Some(Duration::from_millis(20)));
        assert_eq!(at(100), Some(Duration::from_millis(60)));
    }
}
