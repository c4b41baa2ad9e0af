//! Seeded models of the world around the policy: the dependency the calls go
//! to, and the load that offers them.
//!
//! Floats are fine here (this is the simulator, not the core), but every draw
//! goes through [`SplitMix64`] and a fixed quantile table, so a seed fixes the
//! whole run on a given platform.

use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::{Duration, Instant};

use crate::scenario::{DependencySpec, LoadSpec, OutageMode};

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

/// The flaky dependency: base error rate, a long-tailed (lognormal) latency,
/// outage windows that fail or hang every attempt, a linear recovery ramp after
/// each outage, brownouts that multiply latency, and an optional capacity above
/// which latency grows with the load.
#[derive(Clone, Debug)]
pub struct Dependency {
    spec: DependencySpec,
    /// Latency quantiles in µs at `i / CELLS` (ends pulled in by a quarter cell),
    /// `CELLS + 1` entries; a draw interpolates linearly inside a cell.
    table: Vec<u64>,
}

impl Dependency {
    /// Builds the model and its quantile table.
    pub fn new(spec: DependencySpec) -> Self {
        let median = spec.latency_median.as_micros().max(1) as f64;
        let p99 = (spec.latency_p99.as_micros() as f64).max(median);
        // z(0.99) of the standard normal.
        let sigma = (p99 / median).ln() / 2.326_347_874_040_841;
        let cap = spec.latency_max.as_micros();
        let edge = 0.25 / CELLS as f64;
        let table = (0..=CELLS)
            .map(|i| {
                let q = (i as f64 / CELLS as f64).clamp(edge, 1.0 - edge);
                let micros = median * (sigma * inverse_normal_cdf(q)).exp();
                (micros.round() as u64).min(cap)
            })
            .collect();
        Self { spec, table }
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
        let (error, factor) = self.conditions(at);
        let ok = !chance(rng, error);
        let mut micros = self.sample_latency(rng).saturating_mul(factor);
        let capacity = self.spec.capacity;
        if capacity > 0 && in_flight >= capacity {
            // Above capacity requests share the servers: latency grows with load.
            micros = micros.saturating_mul(u64::from(in_flight) + 1) / u64::from(capacity);
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

    /// One latency draw in µs: a cell from the top bits, linear interpolation
    /// from the next 32.
    fn sample_latency(&self, rng: &mut SplitMix64) -> u64 {
        let x = rng.next_u64();
        let cell = (x >> (64 - CELLS_LOG2)) as usize;
        let frac = (x >> (32 - CELLS_LOG2)) & 0xFFFF_FFFF;
        let lo = self.table[cell];
        let hi = self.table[cell + 1];
        lo + (((hi - lo) * frac) >> 32)
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
        let gap_secs = if self.spec.poisson {
            // Exponential inter-arrival: -ln(U) / rate, U in (0, 1].
            let u = ((rng.next_u64() >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64);
            -u.ln() / rate
        } else {
            1.0 / rate
        };
        let gap = Duration::from_micros(((gap_secs * 1e6).round() as u64).max(1));
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
        let mut v: Vec<u64> = (0..100_000).map(|_| dep.sample_latency(&mut rng)).collect();
        v.sort_unstable();
        let median = v[50_000];
        let p99 = v[99_000];
        assert!((19_000..21_000).contains(&median), "{median}");
        assert!((185_000..215_000).contains(&p99), "{p99}");
    }
}
