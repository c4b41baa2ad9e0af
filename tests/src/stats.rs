//! Streaming statistics: latency histograms with a stated precision (a run of
//! 1e8 calls keeps a few hundred kilobytes of counts, not every latency), and
//! the accounting the report needs beyond the engine's counters: rejections by
//! reason, time spent in the bulkhead's queue, calls until the breaker opens.

use hdrhistogram::Histogram;
use steadfast::time::{Duration, Instant};

use crate::report::Series;

/// Significant decimal digits of every total's percentile: a reported
/// percentile is within 0.1 % of the exact one. Means and maxima are exact.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// Significant digits of the per-bucket percentiles (plot resolution: 1 %).
pub const BUCKET_SIGNIFICANT_DIGITS: u8 = 2;

/// Largest latency the histograms resolve (µs): one day. Longer values are
/// counted as one day in percentiles (means and maxima stay exact).
pub const HIGHEST_MICROS: u64 = 86_400_000_000;

/// A stream of durations in µs: a histogram for percentiles, an exact sum
/// for the mean, the exact maximum.
#[derive(Clone, Debug)]
pub struct Latencies {
    histogram: Histogram<u64>,
    sum: u128,
    max: u64,
}

impl Latencies {
    /// An empty stream whose percentiles keep `significant_digits` digits
    /// (at most 5).
    pub fn new(significant_digits: u8) -> Self {
        #[allow(clippy::expect_used)]
        let histogram = Histogram::new_with_bounds(1, HIGHEST_MICROS, significant_digits.min(5))
            .expect("valid bounds: 1 ≤ low, high ≥ 2·low, digits ≤ 5");
        Self {
            histogram,
            sum: 0,
            max: 0,
        }
    }

    /// Adds one value (µs).
    pub fn record(&mut self, micros: u64) {
        self.histogram.saturating_record(micros);
        self.sum += u128::from(micros);
        self.max = self.max.max(micros);
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// `true` if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The `q` quantile (0..=1), µs; 0 when empty. Nearest rank, within the
    /// histogram's precision.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.is_empty() {
            0
        } else {
            self.histogram
                .value_at_quantile(q)
                .min(self.histogram.highest_equivalent(self.max))
                .min(self.max)
        }
    }

    /// The exact mean (µs, rounded); 0 when empty.
    pub fn mean(&self) -> u64 {
        let n = u128::from(self.len());
        u64::try_from((self.sum + n / 2).checked_div(n).unwrap_or(0)).unwrap_or(u64::MAX)
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        if !self.is_empty() {
            self.histogram.reset();
        }
        self.sum = 0;
        self.max = 0;
    }

    /// Count, exact sum and mean and maximum, and the usual percentiles.
    pub fn summary(&self) -> Summary {
        let d = Duration::from_micros;
        Summary {
            count: self.len(),
            sum_micros: self.sum,
            mean: d(self.mean()),
            p50: d(self.quantile(0.50)),
            p90: d(self.quantile(0.90)),
            p99: d(self.quantile(0.99)),
            p999: d(self.quantile(0.999)),
            max: d(self.max),
        }
    }
}

/// A distribution of durations in a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// How many.
    pub count: u64,
    /// Exact sum, µs.
    pub sum_micros: u128,
    /// Exact mean (rounded to the µs).
    pub mean: Duration,
    /// Median (±0.1 %).
    pub p50: Duration,
    /// 90th percentile (±0.1 %).
    pub p90: Duration,
    /// 99th percentile (±0.1 %).
    pub p99: Duration,
    /// 99.9th percentile (±0.1 %).
    pub p999: Duration,
    /// Exact maximum.
    pub max: Duration,
}

/// Why a call was refused before or between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The breaker was open.
    BreakerOpen,
    /// The bulkhead had no free slot and no queue room.
    QueueFull,
    /// The call waited in the bulkhead's queue until its maximum wait passed.
    QueueWaitExpired,
    /// The retry budget refused the retry.
    Budget,
    /// A rate limiter refused the call.
    RateLimited,
    /// An adaptive throttle refused the call locally.
    Throttled,
    /// The adaptive concurrency limit had no slot for an attempt.
    AdaptiveLimit,
}

/// Calls refused, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refusals {
    /// The breaker was open.
    pub breaker_open: u64,
    /// The bulkhead had no free slot and no queue room.
    pub queue_full: u64,
    /// The bulkhead's queue wait expired.
    pub queue_wait_expired: u64,
    /// The retry budget refused a retry (the call ends with the last failure).
    pub budget: u64,
    /// A rate limiter refused the call (the scenario's `rate_limit`).
    pub rate_limit: u64,
    /// An adaptive throttle refused the call locally (the scenario's
    /// `throttle`).
    pub throttle: u64,
    /// The adaptive concurrency limit had no slot for an attempt (the
    /// scenario's `adaptive_limit`).
    pub adaptive_limit: u64,
}

impl Refusals {
    /// Every refusal.
    pub fn total(&self) -> u64 {
        self.breaker_open
            + self.queue_full
            + self.queue_wait_expired
            + self.budget
            + self.rate_limit
            + self.throttle
            + self.adaptive_limit
    }

    /// Refusals by the bulkhead (queue full or wait expired).
    pub fn bulkhead(&self) -> u64 {
        self.queue_full + self.queue_wait_expired
    }

    fn add(&mut self, refusal: Refusal) {
        match refusal {
            Refusal::BreakerOpen => self.breaker_open += 1,
            Refusal::QueueFull => self.queue_full += 1,
            Refusal::QueueWaitExpired => self.queue_wait_expired += 1,
            Refusal::Budget => self.budget += 1,
            Refusal::RateLimited => self.rate_limit += 1,
            Refusal::Throttled => self.throttle += 1,
            Refusal::AdaptiveLimit => self.adaptive_limit += 1,
        }
    }
}

/// The bulkhead's queue as callers met it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueReport {
    /// Attempts that asked the bulkhead for a slot.
    pub requests: u64,
    /// Of those, how many had to wait in the queue.
    pub waited: u64,
    /// Time spent in the queue by those that waited (granted or expired).
    pub wait: Summary,
    /// Exact mean queue wait over every request, waiting or not (µs, rounded).
    pub mean_wait_all: Duration,
}

impl QueueReport {
    /// Probability that a request had to wait, in millionths.
    pub fn wait_probability_ppm(&self) -> u64 {
        (self.waited * 1_000_000 + self.requests / 2)
            .checked_div(self.requests)
            .unwrap_or(0)
    }
}

/// How many attempts started while the breaker was closed before each
/// opening from closed (the calls it takes to trip).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TripStats {
    /// Openings from the closed state.
    pub trips: u64,
    /// Sum of the attempts per closed period that ended in an opening.
    pub sum: u64,
    /// Sum of their squares (for a confidence interval).
    pub sum_of_squares: u128,
}

impl TripStats {
    /// Mean attempts to trip, if the breaker ever tripped.
    pub fn mean(&self) -> Option<f64> {
        (self.trips > 0).then(|| self.sum as f64 / self.trips as f64)
    }
}

/// The accounting a run keeps beside the engine's counters.
#[derive(Debug)]
pub struct Accounting {
    /// Every finished call.
    pub all: Latencies,
    /// Calls that succeeded.
    pub succeeded: Latencies,
    /// Queue waits.
    pub queue_wait: Latencies,
    /// Per-bucket: every call finishing in the open bucket.
    pub bucket_all: Latencies,
    /// Per-bucket: successful calls finishing in the open bucket.
    pub bucket_succeeded: Latencies,
    /// Refusals by reason.
    pub refusals: Refusals,
    /// Calls the caller gave up on.
    pub abandoned: u64,
    /// Attempts that asked the bulkhead for a slot.
    pub bulkhead_requests: u64,
    has_bulkhead: bool,
    closed: bool,
    closed_attempts: u64,
    /// Calls to trip.
    pub trips: TripStats,
}

impl Accounting {
    /// Nothing counted yet; `has_bulkhead` says whether attempts pass a bulkhead.
    pub fn new(has_bulkhead: bool) -> Self {
        Self {
            all: Latencies::new(SIGNIFICANT_DIGITS),
            succeeded: Latencies::new(SIGNIFICANT_DIGITS),
            queue_wait: Latencies::new(SIGNIFICANT_DIGITS),
            bucket_all: Latencies::new(BUCKET_SIGNIFICANT_DIGITS),
            bucket_succeeded: Latencies::new(BUCKET_SIGNIFICANT_DIGITS),
            refusals: Refusals::default(),
            abandoned: 0,
            bulkhead_requests: 0,
            has_bulkhead,
            closed: true,
            closed_attempts: 0,
            trips: TripStats::default(),
        }
    }

    /// The breaker moved from the state with gauge code `from` to `to`.
    pub fn on_transition(&mut self, from: u8, to: u8) {
        if from == 0 && to == 2 {
            let n = self.closed_attempts;
            self.trips.trips += 1;
            self.trips.sum += n;
            self.trips.sum_of_squares += u128::from(n) * u128::from(n);
        }
        self.closed = to == 0;
        self.closed_attempts = 0;
    }

    /// An attempt starts; `queued` if it waited in the bulkhead's queue first.
    pub fn on_attempt(&mut self, queued: bool) {
        if self.closed {
            self.closed_attempts += 1;
        }
        if self.has_bulkhead && !queued {
            self.bulkhead_requests += 1;
        }
    }

    /// An attempt joins the bulkhead's queue.
    pub fn on_queued(&mut self) {
        self.bulkhead_requests += 1;
    }

    /// A call leaves the bulkhead's queue after `wait`.
    pub fn on_left_queue(&mut self, wait: Duration) {
        self.queue_wait.record(wait.as_micros());
    }

    /// A call found the bulkhead full with no queue room: it reached the
    /// bulkhead (a request) and was refused there.
    pub fn on_queue_full(&mut self) -> Refusal {
        self.bulkhead_requests += 1;
        Refusal::QueueFull
    }

    /// Counts a refusal, in the totals and in bucket `bucket`.
    pub fn refuse(&mut self, refusal: Refusal, bucket: Option<usize>, series: &mut Series) {
        self.refusals.add(refusal);
        if let Some(b) = bucket {
            let column = match refusal {
                Refusal::BreakerOpen => &mut series.refused_breaker,
                Refusal::QueueFull => &mut series.refused_queue_full,
                Refusal::QueueWaitExpired => &mut series.refused_queue_wait,
                Refusal::Budget => &mut series.refused_budget,
                Refusal::RateLimited => &mut series.refused_rate_limit,
                Refusal::Throttled => &mut series.refused_throttle,
                Refusal::AdaptiveLimit => &mut series.refused_adaptive_limit,
            };
            column[b] += 1;
        }
    }

    /// A call finished after `latency`; `in_bucket` if it finished inside the
    /// plotted time (not in the drain after it).
    pub fn on_finish(&mut self, latency: u64, succeeded: bool, in_bucket: bool) {
        self.all.record(latency);
        if succeeded {
            self.succeeded.record(latency);
        }
        if in_bucket {
            self.bucket_all.record(latency);
            if succeeded {
                self.bucket_succeeded.record(latency);
            }
        }
    }

    /// Writes the open bucket's percentiles and means into `series` at `bucket`
    /// and starts the next one.
    pub fn close_bucket(&mut self, bucket: usize, series: &mut Series) {
        if bucket < series.len() {
            series.latency_p99[bucket] = self.bucket_all.quantile(0.99);
            series.latency_mean[bucket] = self.bucket_all.mean();
            series.success_p99[bucket] = self.bucket_succeeded.quantile(0.99);
            series.success_mean[bucket] = self.bucket_succeeded.mean();
        }
        self.bucket_all.reset();
        self.bucket_succeeded.reset();
    }

    /// The queue as callers met it.
    pub fn queue(&self) -> QueueReport {
        let n = u128::from(self.bulkhead_requests);
        let all = (self.queue_wait.sum + n / 2).checked_div(n).unwrap_or(0);
        QueueReport {
            requests: self.bulkhead_requests,
            waited: self.queue_wait.len(),
            wait: self.queue_wait.summary(),
            mean_wait_all: Duration::from_micros(u64::try_from(all).unwrap_or(u64::MAX)),
        }
    }
}

/// A fault window of the scenario (an outage or a brownout) as the breaker saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultReport {
    /// `"outage"` or `"brownout"`.
    pub kind: &'static str,
    /// When it started.
    pub start: Instant,
    /// When it ended.
    pub end: Instant,
    /// From the start to the breaker's first opening in the window (or in the
    /// outage's recovery ramp).
    pub detect: Option<Duration>,
    /// From the end to the breaker's first closing after it, if it opened.
    pub recover: Option<Duration>,
}

/// Detection and recovery of every fault window, in start order.
/// `windows`: kind, start, end, and how long after its end the fault still
/// counts (a recovery ramp). `transitions`: when, and the new state's code.
pub fn faults(
    windows: &[(&'static str, Instant, Instant, Duration)],
    transitions: &[(Instant, u8)],
) -> Vec<FaultReport> {
    let mut out: Vec<FaultReport> = windows
        .iter()
        .map(|&(kind, start, end, tail)| {
            let opened = transitions
                .iter()
                .find(|&&(at, code)| code == 2 && at >= start && at < end.saturating_add(tail))
                .map(|&(at, _)| at);
            let recover = opened.and_then(|opened| {
                transitions
                    .iter()
                    .find(|&&(at, code)| code == 0 && at >= end.max(opened))
                    .map(|&(at, _)| at - end)
            });
            FaultReport {
                kind,
                start,
                end,
                detect: opened.map(|at| at - start),
                recover,
            }
        })
        .collect();
    out.sort_by_key(|f| (f.start, f.end));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_keep_three_digits_and_means_are_exact() {
        let mut l = Latencies::new(SIGNIFICANT_DIGITS);
        for v in 1..=100_000u64 {
            l.record(v * 7);
        }
        let s = l.summary();
        assert_eq!(s.count, 100_000);
        assert_eq!(s.mean, Duration::from_micros(350_004)); // 7 × 50 000.5, rounded
        assert_eq!(s.max, Duration::from_micros(700_000));
        let p99 = s.p99.as_micros() as f64;
        assert!((p99 / 693_000.0 - 1.0).abs() < 1e-3, "{p99}");
        let p50 = s.p50.as_micros() as f64;
        assert!((p50 / 350_000.0 - 1.0).abs() < 1e-3, "{p50}");
        l.reset();
        assert_eq!(l.summary(), Summary::default());
    }

    #[test]
    fn calls_to_trip_count_only_closed_periods_ending_open() {
        let mut a = Accounting::new(false);
        for _ in 0..5 {
            a.on_attempt(false);
        }
        a.on_transition(0, 2);
        a.on_attempt(false); // half-open probe: not counted
        a.on_transition(2, 1);
        a.on_transition(1, 0);
        for _ in 0..3 {
            a.on_attempt(false);
        }
        a.on_transition(0, 2);
        assert_eq!(
            a.trips,
            TripStats {
                trips: 2,
                sum: 8,
                sum_of_squares: 34
            }
        );
    }

    #[test]
    fn every_fault_window_gets_its_own_detection() {
        let s = Instant::from_secs;
        let d = Duration::from_secs;
        let windows = [
            ("outage", s(10), s(20), d(5)),
            ("brownout", s(40), s(50), Duration::ZERO),
            ("outage", s(70), s(80), Duration::ZERO),
        ];
        let transitions = [(s(11), 2), (s(26), 0), (s(43), 2), (s(52), 0)];
        let f = faults(&windows, &transitions);
        assert_eq!(f[0].detect, Some(d(1)));
        assert_eq!(f[0].recover, Some(d(6)));
        assert_eq!(f[1].detect, Some(d(3)));
        assert_eq!(f[1].recover, Some(d(2)));
        assert_eq!(f[2].detect, None);
        assert_eq!(f[2].recover, None);
    }
}
