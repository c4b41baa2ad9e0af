//! Machine-readable outputs of a run: one JSON document, or CSV files, with
//! the totals, every per-bucket series and every breaker transition. Times
//! are integer microseconds (`*_us`) from the start of the run; the output of
//! a seed is the same byte for byte.

use std::fmt::Write as _;

use steadfast::time::{Duration, Instant};

use crate::report::{Report, Series};
use crate::stats::Summary;

/// The gauge code's name (0 closed, 1 half-open, 2 open).
pub fn state_name(code: u8) -> &'static str {
    match code {
        0 => "closed",
        1 => "half_open",
        _ => "open",
    }
}

/// JSON string literal.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `{"k": v, ...}` from already rendered values.
fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", string(k)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

fn array<T: ToString>(values: &[T]) -> String {
    let body: Vec<String> = values.iter().map(ToString::to_string).collect();
    format!("[{}]", body.join(","))
}

fn us(d: Duration) -> String {
    d.as_micros().to_string()
}

fn at(t: Instant) -> String {
    t.as_micros().to_string()
}

fn optional(d: Option<Duration>) -> String {
    d.map_or_else(|| "null".to_owned(), us)
}

fn summary(s: &Summary) -> String {
    object(&[
        ("count", s.count.to_string()),
        ("mean", us(s.mean)),
        ("p50", us(s.p50)),
        ("p90", us(s.p90)),
        ("p99", us(s.p99)),
        ("p999", us(s.p999)),
        ("max", us(s.max)),
    ])
}

/// Every per-bucket series by name, in a fixed order.
pub fn series_columns(s: &Series) -> Vec<(&'static str, Vec<u64>)> {
    let wide = |v: &[u32]| v.iter().map(|&n| u64::from(n)).collect::<Vec<u64>>();
    vec![
        ("offered", wide(&s.offered)),
        ("succeeded", wide(&s.succeeded)),
        ("failed", wide(&s.failed)),
        ("rejected", wide(&s.rejected)),
        ("refused_breaker", wide(&s.refused_breaker)),
        ("refused_queue_full", wide(&s.refused_queue_full)),
        ("refused_queue_wait", wide(&s.refused_queue_wait)),
        ("refused_budget", wide(&s.refused_budget)),
        ("refused_rate_limit", wide(&s.refused_rate_limit)),
        ("refused_throttle", wide(&s.refused_throttle)),
        ("refused_adaptive_limit", wide(&s.refused_adaptive_limit)),
        ("adaptive_limit", wide(&s.adaptive_limit)),
        ("attempts", wide(&s.attempts)),
        ("retries", wide(&s.retries)),
        ("dependency_failures", wide(&s.dependency_failures)),
        ("peak_in_flight", wide(&s.peak_in_flight)),
        ("peak_permits", wide(&s.peak_permits)),
        ("peak_queue", wide(&s.peak_queue)),
        ("latency_p99_us", s.latency_p99.clone()),
        ("latency_mean_us", s.latency_mean.clone()),
        ("success_p99_us", s.success_p99.clone()),
        ("success_mean_us", s.success_mean.clone()),
        (
            "dependency_error_permille",
            s.dependency_error_permille
                .iter()
                .map(|&p| u64::from(p))
                .collect(),
        ),
    ]
}

/// Transitions as `(at, from, to)` gauge codes (the breaker starts closed).
pub fn transitions(report: &Report) -> Vec<(Instant, u8, u8)> {
    let mut from = 0;
    report
        .transitions
        .iter()
        .map(|&(t, to)| {
            let row = (t, from, to);
            from = to;
            row
        })
        .collect()
}

/// The totals as `(name, value)` rows, in a fixed order.
pub fn totals(r: &Report) -> Vec<(&'static str, String)> {
    let f = &r.refusals;
    let mut rows = vec![
        ("offered", r.offered.to_string()),
        ("succeeded", r.succeeded.to_string()),
        ("failed", r.failed().to_string()),
        ("refused_breaker_open", f.breaker_open.to_string()),
        ("refused_queue_full", f.queue_full.to_string()),
        (
            "refused_queue_wait_expired",
            f.queue_wait_expired.to_string(),
        ),
        ("refused_budget", f.budget.to_string()),
        ("refused_rate_limit", f.rate_limit.to_string()),
        ("refused_throttle", f.throttle.to_string()),
        ("refused_adaptive_limit", f.adaptive_limit.to_string()),
        ("timed_out", r.timed_out.to_string()),
        ("retries_exhausted", r.retries_exhausted.to_string()),
        ("not_retryable", r.not_retryable.to_string()),
        ("abandoned", r.abandoned.to_string()),
        ("fallback", r.fallback.to_string()),
        ("served_stale", r.stale.to_string()),
        ("hedges", r.hedges.to_string()),
        ("hedge_wins", r.hedge_wins.to_string()),
        ("unfinished", r.unfinished.to_string()),
        ("attempts", r.attempts.to_string()),
        ("retries", r.retries.to_string()),
        ("attempt_timeouts", r.attempt_timeouts.to_string()),
        ("faults_injected", r.injected.to_string()),
        ("breaker_opens", r.breaker_opens.to_string()),
        ("half_open_visits", r.half_open_visits().to_string()),
        ("peak_in_flight", r.peak_in_flight.to_string()),
        ("events", r.events.to_string()),
    ];
    let latency = [
        "latency_mean_us",
        "latency_p50_us",
        "latency_p90_us",
        "latency_p99_us",
        "latency_p999_us",
        "latency_max_us",
    ];
    let success = [
        "success_latency_mean_us",
        "success_latency_p50_us",
        "success_latency_p90_us",
        "success_latency_p99_us",
        "success_latency_p999_us",
        "success_latency_max_us",
    ];
    for (names, l) in [(latency, &r.latency), (success, &r.success_latency)] {
        let values = [l.mean, l.p50, l.p90, l.p99, l.p999, l.max];
        rows.extend(names.into_iter().zip(values).map(|(n, v)| (n, us(v))));
    }
    if let Some(q) = &r.queue {
        rows.push(("queue_requests", q.requests.to_string()));
        rows.push(("queue_waited", q.waited.to_string()));
        rows.push(("queue_wait_mean_us", us(q.wait.mean)));
        rows.push(("queue_wait_p99_us", us(q.wait.p99)));
        rows.push(("queue_wait_max_us", us(q.wait.max)));
        rows.push(("queue_wait_mean_all_us", us(q.mean_wait_all)));
    }
    if r.has_breaker {
        rows.push(("trips", r.trips.trips.to_string()));
        rows.push(("attempts_before_trips", r.trips.sum.to_string()));
    }
    rows
}

/// One run as a JSON object.
pub fn json(r: &Report) -> String {
    let series = series_columns(&r.series);
    let series_fields: Vec<(&str, String)> = std::iter::once((
        "start_us",
        array(
            &(0..r.series.len() as u64)
                .map(|b| b * r.bucket.as_micros())
                .collect::<Vec<_>>(),
        ),
    ))
    .chain(series.iter().map(|(name, v)| (*name, array(v))))
    .collect();
    let transitions: Vec<String> = transitions(r)
        .iter()
        .map(|&(t, from, to)| {
            object(&[
                ("at_us", at(t)),
                ("from", string(state_name(from))),
                ("to", string(state_name(to))),
            ])
        })
        .collect();
    let faults: Vec<String> = r
        .faults
        .iter()
        .map(|f| {
            object(&[
                ("kind", string(f.kind)),
                ("start_us", at(f.start)),
                ("end_us", at(f.end)),
                ("time_to_open_us", optional(f.detect)),
                ("time_to_close_us", optional(f.recover)),
            ])
        })
        .collect();
    let queue = r.queue.as_ref().map_or_else(
        || "null".to_owned(),
        |q| {
            object(&[
                ("requests", q.requests.to_string()),
                ("waited", q.waited.to_string()),
                ("wait_probability_ppm", q.wait_probability_ppm().to_string()),
                ("wait_us", summary(&q.wait)),
                ("mean_wait_all_us", us(q.mean_wait_all)),
            ])
        },
    );
    let outage = r.outage.as_ref().map_or_else(
        || "null".to_owned(),
        |o| {
            object(&[
                ("start_us", at(o.start)),
                ("end_us", at(o.end)),
                ("offered", o.offered.to_string()),
                ("attempts", o.attempts.to_string()),
                ("time_to_open_us", optional(o.detect)),
                ("time_to_close_us", optional(o.recover)),
            ])
        },
    );
    let fields = [
        ("name", string(&r.name)),
        ("description", string(&r.description)),
        ("policy", string(&r.policy)),
        ("seed", r.seed.to_string()),
        ("duration_us", us(r.duration)),
        ("bucket_us", us(r.bucket)),
        ("totals", object(&totals(r))),
        ("latency_us", summary(&r.latency)),
        ("success_latency_us", summary(&r.success_latency)),
        ("queue", queue),
        (
            "calls_to_trip",
            object(&[
                ("trips", r.trips.trips.to_string()),
                ("attempts", r.trips.sum.to_string()),
            ]),
        ),
        ("outage", outage),
        ("faults", format!("[{}]", faults.join(", "))),
        ("transitions", format!("[{}]", transitions.join(",\n  "))),
        (
            "series",
            format!(
                "{{\n  {}\n}}",
                series_fields
                    .iter()
                    .map(|(k, v)| format!("{}: {v}", string(k)))
                    .collect::<Vec<_>>()
                    .join(",\n  ")
            ),
        ),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", string(k)))
        .collect();
    format!("{{\n{}\n}}\n", body.join(",\n"))
}

/// Several runs as one JSON array (a `--compare`).
pub fn json_all(reports: &[&Report]) -> String {
    match reports {
        [one] => json(one),
        _ => {
            let items: Vec<String> = reports.iter().map(|r| json(r)).collect();
            format!("[\n{}]\n", items.join(",\n"))
        }
    }
}

/// The CSV files of one run: `(file suffix, contents)` for the per-bucket
/// series, the breaker transitions and the totals.
pub fn csv(r: &Report) -> Vec<(&'static str, String)> {
    let columns = series_columns(&r.series);
    let mut series = String::from("start_us");
    for (name, _) in &columns {
        series.push(',');
        series.push_str(name);
    }
    series.push('\n');
    for b in 0..r.series.len() {
        let _ = write!(series, "{}", b as u64 * r.bucket.as_micros());
        for (_, v) in &columns {
            let _ = write!(series, ",{}", v[b]);
        }
        series.push('\n');
    }
    let mut trans = String::from("at_us,from,to\n");
    for (t, from, to) in transitions(r) {
        let _ = writeln!(
            trans,
            "{},{},{}",
            t.as_micros(),
            state_name(from),
            state_name(to)
        );
    }
    let mut totals_csv = String::from("name,value\n");
    for (name, value) in totals(r) {
        let _ = writeln!(totals_csv, "{name},{value}");
    }
    for f in &r.faults {
        let _ = writeln!(
            totals_csv,
            "{}_{}_time_to_open_us,{}",
            f.kind,
            f.start.as_micros(),
            f.detect
                .map_or_else(String::new, |d| d.as_micros().to_string())
        );
        let _ = writeln!(
            totals_csv,
            "{}_{}_time_to_close_us,{}",
            f.kind,
            f.start.as_micros(),
            f.recover
                .map_or_else(String::new, |d| d.as_micros().to_string())
        );
    }
    vec![
        ("series.csv", series),
        ("transitions.csv", trans),
        ("totals.csv", totals_csv),
    ]
}
