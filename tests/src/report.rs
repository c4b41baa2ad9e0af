//! What a run measured: totals, latency percentiles, outage detection and
//! recovery, and per-bucket series for the plot. Integers only, so two runs of
//! the same scenario and seed compare equal byte for byte.

use std::fmt::Write as _;

use steadfast::time::{Duration, Instant};

use crate::stats::{FaultReport, QueueReport, Refusals, Summary, TripStats};

/// Per-bucket series (one entry per `bucket` of simulated time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    /// Calls that arrived.
    pub offered: Vec<u32>,
    /// Calls that finished with a success.
    pub succeeded: Vec<u32>,
    /// Calls that finished any other way (rejections and fallbacks included).
    pub failed: Vec<u32>,
    /// Calls refused by the breaker or the bulkhead.
    pub rejected: Vec<u32>,
    /// Attempts started at the dependency (its load).
    pub attempts: Vec<u32>,
    /// Attempts the dependency answered with an error.
    pub dependency_failures: Vec<u32>,
    /// Most attempts in flight at the dependency at once.
    pub peak_in_flight: Vec<u32>,
    /// p99 latency (µs) of the calls that finished in the bucket; 0 if none.
    pub latency_p99: Vec<u64>,
    /// Mean latency (µs) of the calls that finished in the bucket; 0 if none.
    pub latency_mean: Vec<u64>,
    /// p99 latency (µs) of the calls that succeeded in the bucket; 0 if none.
    pub success_p99: Vec<u64>,
    /// Mean latency (µs) of the calls that succeeded in the bucket; 0 if none.
    pub success_mean: Vec<u64>,
    /// Retries scheduled (granted by the budget, if any).
    pub retries: Vec<u32>,
    /// Calls refused by an open breaker.
    pub refused_breaker: Vec<u32>,
    /// Calls refused by a full bulkhead queue.
    pub refused_queue_full: Vec<u32>,
    /// Calls whose bulkhead queue wait expired.
    pub refused_queue_wait: Vec<u32>,
    /// Calls whose retry the budget refused.
    pub refused_budget: Vec<u32>,
    /// Calls the rate limiter refused.
    pub refused_rate_limit: Vec<u32>,
    /// Calls the adaptive throttle refused.
    pub refused_throttle: Vec<u32>,
    /// Calls the adaptive concurrency limit refused.
    pub refused_adaptive_limit: Vec<u32>,
    /// The adaptive concurrency limit at the bucket's end (0 without one).
    pub adaptive_limit: Vec<u32>,
    /// Most bulkhead slots in use at once.
    pub peak_permits: Vec<u32>,
    /// Longest bulkhead queue.
    pub peak_queue: Vec<u32>,
    /// The model's error rate at the bucket's middle, per mille.
    pub dependency_error_permille: Vec<u16>,
}

impl Series {
    /// `buckets` empty buckets.
    pub fn new(buckets: usize) -> Self {
        Self {
            offered: vec![0; buckets],
            succeeded: vec![0; buckets],
            failed: vec![0; buckets],
            rejected: vec![0; buckets],
            attempts: vec![0; buckets],
            dependency_failures: vec![0; buckets],
            peak_in_flight: vec![0; buckets],
            latency_p99: vec![0; buckets],
            latency_mean: vec![0; buckets],
            success_p99: vec![0; buckets],
            success_mean: vec![0; buckets],
            retries: vec![0; buckets],
            refused_breaker: vec![0; buckets],
            refused_queue_full: vec![0; buckets],
            refused_queue_wait: vec![0; buckets],
            refused_budget: vec![0; buckets],
            refused_rate_limit: vec![0; buckets],
            refused_throttle: vec![0; buckets],
            refused_adaptive_limit: vec![0; buckets],
            adaptive_limit: vec![0; buckets],
            peak_permits: vec![0; buckets],
            peak_queue: vec![0; buckets],
            dependency_error_permille: vec![0; buckets],
        }
    }

    /// Number of buckets.
    pub fn len(&self) -> usize {
        self.offered.len()
    }

    /// `true` with no bucket.
    pub fn is_empty(&self) -> bool {
        self.offered.is_empty()
    }
}

/// The first outage, as the policy saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutageReport {
    /// When it started.
    pub start: Instant,
    /// When it ended.
    pub end: Instant,
    /// Calls offered while every outage window was on.
    pub offered: u64,
    /// Attempts that reached the dependency during the outage windows.
    pub attempts: u64,
    /// From the outage's start to the breaker's first opening after it.
    pub detect: Option<Duration>,
    /// From the outage's end to the breaker's first closing after it.
    pub recover: Option<Duration>,
}

impl OutageReport {
    /// Attempts per offered call during the outage, in thousandths.
    pub fn amplification_permille(&self) -> u64 {
        ratio_permille(self.attempts, self.offered)
    }
}

/// The result of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Scenario name.
    pub name: String,
    /// The scenario's one-line description (may be empty).
    pub description: String,
    /// Policy entry name.
    pub policy: String,
    /// Seed.
    pub seed: u64,
    /// Simulated time with arrivals.
    pub duration: Duration,
    /// Width of a series bucket.
    pub bucket: Duration,
    /// Calls offered.
    pub offered: u64,
    /// Calls that succeeded.
    pub succeeded: u64,
    /// Failed calls the fallback answered (also counted by reason below).
    pub fallback: u64,
    /// Of those, the calls a cached fallback answered with the key's last
    /// good value.
    pub stale: u64,
    /// The oldest value the cache served.
    pub stale_age_max: Duration,
    /// Whether the policy has a cached fallback.
    pub has_cache: bool,
    /// Hedges started (attempts beside a slow one, counted in `attempts`).
    pub hedges: u64,
    /// Hedges whose answer won their attempt.
    pub hedge_wins: u64,
    /// Whether the policy hedges.
    pub has_hedge: bool,
    /// Calls refused, by reason.
    pub refusals: Refusals,
    /// Calls whose total deadline passed.
    pub timed_out: u64,
    /// Calls whose attempts ran out, or whose next retry would have passed the
    /// total deadline (budget refusals are in `refusals`).
    pub retries_exhausted: u64,
    /// Calls that failed without retry.
    pub not_retryable: u64,
    /// Calls whose caller gave up (`load.patience`).
    pub abandoned: u64,
    /// Calls still running when the drain period ended.
    pub unfinished: u64,
    /// Attempts that reached the dependency.
    pub attempts: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Attempts that hit their deadline.
    pub attempt_timeouts: u64,
    /// Attempts the fault injection changed (the scenario's `chaos`).
    pub injected: u64,
    /// Times the breaker opened.
    pub breaker_opens: u64,
    /// Whether the policy has a breaker at all.
    pub has_breaker: bool,
    /// Whether the policy has a bulkhead.
    pub has_bulkhead: bool,
    /// Latency seen by callers, every finished call (refusals included).
    pub latency: Summary,
    /// Latency of the calls that succeeded.
    pub success_latency: Summary,
    /// The bulkhead's queue, if the policy has a bulkhead.
    pub queue: Option<QueueReport>,
    /// Attempts the closed breaker let through before each opening.
    pub trips: TripStats,
    /// Most attempts in flight at the dependency at once.
    pub peak_in_flight: u32,
    /// Events the engine processed.
    pub events: u64,
    /// The first outage, if the scenario has one.
    pub outage: Option<OutageReport>,
    /// Every outage and brownout: time to open and to close again.
    pub faults: Vec<FaultReport>,
    /// Per-bucket series.
    pub series: Series,
    /// Breaker transitions: when, and the new state's gauge code (0 closed,
    /// 1 half-open, 2 open).
    pub transitions: Vec<(Instant, u8)>,
}

fn ratio_permille(num: u64, den: u64) -> u64 {
    (num * 1000 + den / 2).checked_div(den).unwrap_or(0)
}

/// `1.234×`-style text of a per-mille ratio.
fn times(permille: u64) -> String {
    let hundredths = (permille + 5) / 10;
    format!("{}.{:02}×", hundredths / 100, hundredths % 100)
}

/// `12.3 %` of a fraction.
fn percent(num: u64, den: u64) -> String {
    let tenths = ratio_permille(num, den);
    format!("{}.{} %", tenths / 10, tenths % 10)
}

/// A short human duration: `850µs`, `12.5ms`, `3.25s`.
pub fn human(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        let tenths = (us + 50) / 100;
        format!("{}.{}ms", tenths / 10, tenths % 10)
    } else {
        let hundredths = (us + 5_000) / 10_000;
        match hundredths % 100 {
            0 => format!("{}s", hundredths / 100),
            h if h % 10 == 0 => format!("{}.{}s", hundredths / 100, h / 10),
            h => format!("{}.{h:02}s", hundredths / 100),
        }
    }
}

impl Report {
    /// Failed calls, whatever the reason (refusals and abandoned calls included).
    pub fn failed(&self) -> u64 {
        self.refusals.total()
            + self.timed_out
            + self.retries_exhausted
            + self.not_retryable
            + self.abandoned
    }

    /// Attempts per offered call, in thousandths (load amplification).
    pub fn amplification_permille(&self) -> u64 {
        ratio_permille(self.attempts, self.offered)
    }

    /// Success rate in thousandths.
    pub fn success_permille(&self) -> u64 {
        ratio_permille(self.succeeded, self.offered)
    }

    /// Breaker openings and half-open visits.
    pub fn half_open_visits(&self) -> usize {
        self.transitions.iter().filter(|&&(_, c)| c == 1).count()
    }

    /// The table's rows: label, value.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let summary = |l: &Summary| {
            format!(
                "{} / {} / {} / {}",
                human(l.mean),
                human(l.p50),
                human(l.p99),
                human(l.max)
            )
        };
        let r = &self.refusals;
        let mut rows = vec![
            ("policy", self.policy.clone()),
            (
                "seed / duration",
                format!("{} / {}", self.seed, human(self.duration)),
            ),
            ("offered calls", self.offered.to_string()),
            (
                "succeeded",
                format!(
                    "{} ({})",
                    self.succeeded,
                    percent(self.succeeded, self.offered)
                ),
            ),
            (
                "failed",
                format!(
                    "{} ({})",
                    self.failed(),
                    percent(self.failed(), self.offered)
                ),
            ),
            ("  rejected: breaker open", r.breaker_open.to_string()),
            ("  rejected: queue full", r.queue_full.to_string()),
            (
                "  rejected: queue wait expired",
                r.queue_wait_expired.to_string(),
            ),
            ("  rejected: retry budget", r.budget.to_string()),
            ("  rejected: rate limit", r.rate_limit.to_string()),
            ("  rejected: throttled", r.throttle.to_string()),
            ("  rejected: adaptive limit", r.adaptive_limit.to_string()),
            ("  total timeout", self.timed_out.to_string()),
            ("  retries exhausted", self.retries_exhausted.to_string()),
            ("  not retryable", self.not_retryable.to_string()),
            ("  caller gave up", self.abandoned.to_string()),
            ("served by fallback", self.fallback.to_string()),
            ("unfinished at end", self.unfinished.to_string()),
            (
                "attempts at dependency",
                format!(
                    "{} ({} offered)",
                    self.attempts,
                    times(self.amplification_permille())
                ),
            ),
            ("retries", self.retries.to_string()),
            ("attempt timeouts", self.attempt_timeouts.to_string()),
            ("faults injected", self.injected.to_string()),
            ("peak in flight at dep.", self.peak_in_flight.to_string()),
            ("latency mean/p50/p99/max", summary(&self.latency)),
            ("  of successful calls", summary(&self.success_latency)),
        ];
        if self.has_hedge {
            let at = rows
                .iter()
                .position(|(label, _)| *label == "retries")
                .map_or(rows.len(), |i| i + 1);
            rows.insert(
                at,
                (
                    "hedges (won)",
                    format!("{} ({})", self.hedges, self.hedge_wins),
                ),
            );
        }
        if self.has_cache {
            let at = rows
                .iter()
                .position(|(label, _)| *label == "served by fallback")
                .map_or(rows.len(), |i| i + 1);
            rows.insert(
                at,
                (
                    "  from the cache (stale)",
                    format!("{} (oldest {})", self.stale, human(self.stale_age_max)),
                ),
            );
        }
        if let Some(q) = &self.queue {
            let ppm = q.wait_probability_ppm();
            rows.push((
                "bulkhead: waited",
                format!(
                    "{} of {} ({}.{:02} %)",
                    q.waited,
                    q.requests,
                    ppm / 10_000,
                    ppm % 10_000 / 100
                ),
            ));
            rows.push((
                "  queue wait mean/p99/max",
                format!(
                    "{} / {} / {}",
                    human(q.wait.mean),
                    human(q.wait.p99),
                    human(q.wait.max)
                ),
            ));
        }
        if self.has_breaker {
            rows.push((
                "breaker opened",
                format!(
                    "{} times, {} half-open visits",
                    self.breaker_opens,
                    self.half_open_visits()
                ),
            ));
            if let Some(mean) = self.trips.mean() {
                rows.push(("  attempts before opening", format!("{mean:.1} (mean)")));
            }
        }
        if let Some(o) = &self.outage {
            rows.push((
                "attempts during outages",
                format!(
                    "{} for {} offered ({})",
                    o.attempts,
                    o.offered,
                    times(o.amplification_permille())
                ),
            ));
        }
        for f in &self.faults {
            let label = if f.kind == "outage" {
                "outage"
            } else {
                "brownout"
            };
            let window = format!(
                "{}..{}",
                human(f.start - Instant::ZERO),
                human(f.end - Instant::ZERO)
            );
            let what = match (f.detect, f.recover) {
                (Some(open), Some(close)) => format!(
                    "opened after {}, closed {} after its end",
                    human(open),
                    human(close)
                ),
                (Some(open), None) => format!("opened after {}, never closed", human(open)),
                (None, _) if self.has_breaker => "the breaker did not open".to_owned(),
                (None, _) => "n/a (no breaker)".to_owned(),
            };
            rows.push((label, format!("{window}: {what}")));
        }
        rows
    }

    /// The table for one run.
    pub fn table(&self) -> String {
        render(&self.name, &[self])
    }
}

/// Side-by-side table of several runs (columns headed by scenario name).
pub fn compare(reports: &[&Report]) -> String {
    render("", reports)
}

fn render(title: &str, reports: &[&Report]) -> String {
    let columns: Vec<Vec<(&'static str, String)>> = reports.iter().map(|r| r.rows()).collect();
    // Every run's rows, matched by label: a row only some runs have (a
    // bulkhead's queue, a cache) stays beside its neighbours, blank elsewhere.
    let mut labels: Vec<&str> = Vec::new();
    for column in &columns {
        let mut after = 0;
        for (label, _) in column {
            match labels.iter().position(|l| l == label) {
                Some(i) => after = i + 1,
                None => {
                    labels.insert(after, label);
                    after += 1;
                }
            }
        }
    }
    let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let header: Vec<String> = reports.iter().map(|r| r.name.clone()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .zip(&header)
        .map(|(c, h)| {
            c.iter()
                .map(|(_, v)| v.chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let first = if title.is_empty() { "" } else { title };
    let _ = write!(out, "{}", pad(first, label_width));
    if title.is_empty() {
        for (h, w) in header.iter().zip(&widths) {
            let _ = write!(out, "  {}", pad(h, *w));
        }
    }
    out = out.trim_end().to_owned();
    out.push('\n');
    for r in reports.iter().filter(|r| !r.description.is_empty()) {
        if reports.len() > 1 {
            let _ = write!(out, "{}: ", r.name);
        }
        out.push_str(&r.description);
        out.push('\n');
    }
    let total: usize = label_width + widths.iter().map(|w| w + 2).sum::<usize>();
    out.push_str(&"─".repeat(total));
    out.push('\n');
    for label in &labels {
        let mut line = pad(label, label_width);
        for (c, w) in columns.iter().zip(&widths) {
            let v = c
                .iter()
                .find(|(l, _)| l == label)
                .map_or("", |(_, v)| v.as_str());
            let _ = write!(line, "  {}", pad(v, *w));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
