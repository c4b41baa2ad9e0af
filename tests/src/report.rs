//! What a run measured: totals, latency percentiles, outage detection and
//! recovery, and per-bucket series for the plot. Integers only, so two runs of
//! the same scenario and seed compare equal byte for byte.

use std::fmt::Write as _;

use steadfast::time::{Duration, Instant};

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
    /// Calls refused by an open breaker.
    pub breaker_rejected: u64,
    /// Calls refused by a full bulkhead (or whose queue wait expired).
    pub bulkhead_rejected: u64,
    /// Calls whose total deadline passed.
    pub timed_out: u64,
    /// Calls whose retries ran out (attempts, deadline or budget).
    pub retries_exhausted: u64,
    /// Calls that failed without retry.
    pub not_retryable: u64,
    /// Calls still running when the drain period ended.
    pub unfinished: u64,
    /// Attempts that reached the dependency.
    pub attempts: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Attempts that hit their deadline.
    pub attempt_timeouts: u64,
    /// Times the breaker opened.
    pub breaker_opens: u64,
    /// Whether the policy has a breaker at all.
    pub has_breaker: bool,
    /// Median latency seen by callers (every finished call).
    pub p50: Duration,
    /// 99th percentile latency seen by callers.
    pub p99: Duration,
    /// Slowest call.
    pub max: Duration,
    /// Most attempts in flight at the dependency at once.
    pub peak_in_flight: u32,
    /// Events the engine processed.
    pub events: u64,
    /// The first outage, if the scenario has one.
    pub outage: Option<OutageReport>,
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
    /// Failed calls, whatever the reason.
    pub fn failed(&self) -> u64 {
        self.breaker_rejected
            + self.bulkhead_rejected
            + self.timed_out
            + self.retries_exhausted
            + self.not_retryable
    }

    /// Attempts per offered call, in thousandths (load amplification).
    pub fn amplification_permille(&self) -> u64 {
        ratio_permille(self.attempts, self.offered)
    }

    /// Success rate in thousandths.
    pub fn success_permille(&self) -> u64 {
        ratio_permille(self.succeeded, self.offered)
    }

    /// The table's rows: label, value.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
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
            (
                "  rejected: breaker open",
                self.breaker_rejected.to_string(),
            ),
            (
                "  rejected: bulkhead full",
                self.bulkhead_rejected.to_string(),
            ),
            ("  total timeout", self.timed_out.to_string()),
            ("  retries exhausted", self.retries_exhausted.to_string()),
            ("  not retryable", self.not_retryable.to_string()),
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
            ("peak in flight at dep.", self.peak_in_flight.to_string()),
            (
                "latency p50 / p99 / max",
                format!(
                    "{} / {} / {}",
                    human(self.p50),
                    human(self.p99),
                    human(self.max)
                ),
            ),
            ("breaker opened", format!("{} times", self.breaker_opens)),
        ];
        if let Some(o) = &self.outage {
            let window = format!(
                "{}..{}",
                human(o.start - Instant::ZERO),
                human(o.end - Instant::ZERO)
            );
            rows.push(("outage window", window));
            rows.push((
                "  attempts during outage",
                format!(
                    "{} for {} offered ({})",
                    o.attempts,
                    o.offered,
                    times(o.amplification_permille())
                ),
            ));
            let shown = |d: Option<Duration>| match (d, self.has_breaker) {
                (Some(d), _) => human(d),
                (None, true) => "never".to_owned(),
                (None, false) => "n/a (no breaker)".to_owned(),
            };
            rows.push(("  time to detect (open)", shown(o.detect)));
            rows.push(("  time to recover (close)", shown(o.recover)));
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
    let labels: Vec<&str> = columns
        .iter()
        .max_by_key(|c| c.len())
        .map_or_else(Vec::new, |c| c.iter().map(|(l, _)| *l).collect());
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
    let total: usize = label_width + widths.iter().map(|w| w + 2).sum::<usize>();
    out.push_str(&"─".repeat(total));
    out.push('\n');
    for (i, label) in labels.iter().enumerate() {
        let mut line = pad(label, label_width);
        for (c, w) in columns.iter().zip(&widths) {
            let v = c.get(i).map_or("", |(_, v)| v.as_str());
            let _ = write!(line, "  {}", pad(v, *w));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
