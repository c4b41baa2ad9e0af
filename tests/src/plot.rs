//! The SVG plot over time: breaker state, error rate, caller p99 latency and
//! the dependency's load, one panel each, outage and brownout windows shaded.
//! Several runs (a `--compare`) are overlaid in different colours.

use plotters::coord::Shift;
use plotters::prelude::*;
use steadfast::time::Instant;

use crate::report::Report;
use crate::scenario::Scenario;

const WIDTH: u32 = 1200;
const PANEL_HEIGHT: u32 = 260;
const COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 110, 20),
    RGBColor(44, 160, 44),
];
const OUTAGE: RGBColor = RGBColor(255, 190, 190);
const BROWNOUT: RGBColor = RGBColor(255, 230, 160);
const BURST: RGBColor = RGBColor(215, 200, 255);
/// The latency axis' floor (ms): instant answers are drawn here.
const FLOOR_MS: f64 = 0.01;
const MODEL: RGBColor = RGBColor(120, 120, 120);

type Err = Box<dyn std::error::Error>;

/// Renders one run, or several overlaid, as an SVG document. `scenarios[i]`
/// is the scenario of `reports[i]`; the shaded windows come from the first.
pub fn svg(scenarios: &[&Scenario], reports: &[&Report]) -> Result<String, String> {
    let mut out = String::new();
    draw(&mut out, scenarios, reports).map_err(|e| format!("plot: {e}"))?;
    Ok(out)
}

fn secs(t: Instant) -> f64 {
    t.as_micros() as f64 / 1e6
}

/// The y position of a breaker gauge code ([`State::code`](steadfast::breaker::State::code)):
/// closed 0, half-open 1, open 2 — the code is already the level.
fn level(code: u8) -> f64 {
    f64::from(code.min(2))
}

fn draw(out: &mut String, scenarios: &[&Scenario], reports: &[&Report]) -> Result<(), Err> {
    let Some(first) = reports.first() else {
        return Ok(());
    };
    let scenario = scenarios.first().copied();
    let height = 70 + 4 * PANEL_HEIGHT;
    let root = SVGBackend::with_string(out, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(70);
    let title = if reports.len() == 1 {
        format!(
            "{} — policy \"{}\", seed {}",
            first.name, first.policy, first.seed
        )
    } else {
        let names: Vec<String> = reports.iter().map(|r| r.name.clone()).collect();
        format!("{} (seed {})", names.join(" vs "), first.seed)
    };
    head.draw(&Text::new(
        title,
        (20, 12),
        ("sans-serif", 24).into_font().color(&BLACK),
    ))?;
    let mut legend_x = 20;
    for (i, r) in reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        head.draw(&Rectangle::new(
            [(legend_x, 48), (legend_x + 24, 52)],
            color.filled(),
        ))?;
        let label = format!("{} ({})", r.name, r.policy);
        head.draw(&Text::new(
            label.clone(),
            (legend_x + 30, 42),
            ("sans-serif", 15).into_font(),
        ))?;
        legend_x += 60 + 8 * label.chars().count() as i32;
    }
    let present = |s: &Scenario| {
        [
            !s.dependency.outages.is_empty(),
            !s.dependency.brownouts.is_empty(),
            !s.load.bursts.is_empty(),
        ]
    };
    let shown = scenario.map_or([false; 3], present);
    let windows = [("outage", OUTAGE), ("brownout", BROWNOUT), ("burst", BURST)];
    for (&(label, color), _) in windows.iter().zip(shown).filter(|(_, on)| *on) {
        head.draw(&Rectangle::new(
            [(legend_x, 42), (legend_x + 18, 58)],
            color.filled(),
        ))?;
        head.draw(&Text::new(
            label,
            (legend_x + 24, 42),
            ("sans-serif", 15).into_font(),
        ))?;
        legend_x += 40 + 8 * label.len() as i32;
    }
    let panels = body.split_evenly((4, 1));
    let end = secs(Instant::ZERO + first.duration);
    let bucket = first.bucket.as_micros() as f64 / 1e6;
    let x_of = |b: usize| (b as f64 + 0.5) * bucket;

    // 1. Breaker state.
    let breakerless = scenarios.iter().all(|s| s.policy.breaker.is_none());
    let caption = if breakerless {
        "Breaker state (this policy has no breaker)"
    } else {
        "Breaker state"
    };
    let mut chart = panel(&panels[0], caption, 0.0..end, -0.2..2.3)?;
    chart
        .configure_mesh()
        .y_labels(3)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| {
            match v.round() as i32 {
                0 => "closed",
                1 => "half-open",
                _ => "open",
            }
            .to_owned()
        })
        .x_desc("time (s)")
        .light_line_style(WHITE)
        .draw()?;
    shade(&mut chart, scenario, -0.2, 2.3)?;
    for (i, r) in reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let offset = i as f64 * 0.06;
        let mut points = vec![(0.0, offset)];
        let mut current = 0.0;
        for &(at, code) in &r.transitions {
            let t = secs(at).min(end);
            points.push((t, current + offset));
            current = level(code);
            points.push((t, current + offset));
        }
        points.push((end, current + offset));
        chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
    }

    // 2. Error rate.
    let mut chart = panel(
        &panels[1],
        "Failed calls (% of calls finishing) · dashed grey: dependency error rate",
        0.0..end,
        0.0..105.0,
    )?;
    chart
        .configure_mesh()
        .y_desc("%")
        .x_desc("time (s)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()?;
    shade(&mut chart, scenario, 0.0, 105.0)?;
    let model: Vec<(f64, f64)> = first
        .series
        .dependency_error_permille
        .iter()
        .enumerate()
        .map(|(b, &p)| (x_of(b), f64::from(p) / 10.0))
        .collect();
    chart.draw_series(DashedLineSeries::new(model, 6, 4, MODEL.stroke_width(2)))?;
    for (i, r) in reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let s = &r.series;
        let points = (0..s.len()).filter_map(|b| {
            let done = s.succeeded[b] + s.failed[b];
            (done > 0).then(|| (x_of(b), 100.0 * f64::from(s.failed[b]) / f64::from(done)))
        });
        chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
    }

    // 3. Caller latency p99 (log scale).
    let top = reports
        .iter()
        .flat_map(|r| r.series.latency_p99.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / 1000.0;
    // A bucket whose calls were all refused at once has a p99 of 0: drawn on
    // the floor of the axis, labelled 0.
    let (low, top) = (FLOOR_MS, top * 2.0);
    let mut chart = ChartBuilder::on(&panels[2])
        .margin(8)
        .margin_right(24)
        .caption(
            "Caller latency p99 per bucket (ms, log scale)",
            ("sans-serif", 17),
        )
        .x_label_area_size(32)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..end, (low..top).log_scale())?;
    chart
        .configure_mesh()
        .y_desc("ms")
        .y_labels(8)
        .x_desc("time (s)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| {
            if *v <= FLOOR_MS * 1.001 {
                "0".to_owned()
            } else if *v >= 1000.0 {
                format!("{:.0}s", v / 1000.0)
            } else if *v >= 1.0 {
                format!("{v:.0}")
            } else {
                let text = format!("{v:.3}");
                text.trim_end_matches('0').to_owned()
            }
        })
        .light_line_style(RGBColor(240, 240, 240))
        .draw()?;
    shade(&mut chart, scenario, low, top)?;
    for (i, r) in reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let s = &r.series;
        // One line per run of buckets in which calls finished.
        let mut segment: Vec<(f64, f64)> = Vec::new();
        for b in 0..=s.len() {
            let finished = b < s.len() && s.succeeded[b] + s.failed[b] > 0;
            if finished {
                let ms = (s.latency_p99[b] as f64 / 1000.0).max(low);
                segment.push((x_of(b), ms));
            } else if !segment.is_empty() {
                let points = std::mem::take(&mut segment);
                chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
            }
        }
    }

    // 4. Load at the dependency.
    let per_sec = |n: u32| f64::from(n) / bucket;
    let top = reports
        .iter()
        .flat_map(|r| r.series.attempts.iter().chain(&r.series.offered).copied())
        .max()
        .map_or(1.0, per_sec)
        .max(1.0)
        * 1.1;
    let mut chart = panel(
        &panels[3],
        "Attempts reaching the dependency per second · dashed grey: calls offered per second",
        0.0..end,
        0.0..top,
    )?;
    chart
        .configure_mesh()
        .y_desc("per s")
        .x_desc("time (s)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()?;
    shade(&mut chart, scenario, 0.0, top)?;
    let offered: Vec<(f64, f64)> = first
        .series
        .offered
        .iter()
        .enumerate()
        .map(|(b, &n)| (x_of(b), per_sec(n)))
        .collect();
    chart.draw_series(DashedLineSeries::new(offered, 6, 4, MODEL.stroke_width(2)))?;
    for (i, r) in reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points = r
            .series
            .attempts
            .iter()
            .enumerate()
            .map(|(b, &n)| (x_of(b), per_sec(n)));
        chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
    }
    root.present()?;
    Ok(())
}

type Chart<'a, 'b, Y> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>;

fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Chart<'a, 'b, plotters::coord::types::RangedCoordf64>, Err> {
    Ok(ChartBuilder::on(area)
        .margin(8)
        .margin_right(24)
        .caption(caption, ("sans-serif", 17))
        .x_label_area_size(32)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?)
}

/// Shades outage, brownout and burst windows across the panel's height.
fn shade<Y>(
    chart: &mut Chart<'_, '_, Y>,
    scenario: Option<&Scenario>,
    low: f64,
    high: f64,
) -> Result<(), Err>
where
    Y: Ranged<ValueType = f64>,
{
    let Some(s) = scenario else {
        return Ok(());
    };
    let windows = s
        .dependency
        .outages
        .iter()
        .map(|o| (o.start, o.end, OUTAGE))
        .chain(
            s.dependency
                .brownouts
                .iter()
                .map(|b| (b.start, b.end, BROWNOUT)),
        )
        .chain(s.load.bursts.iter().map(|b| (b.start, b.end, BURST)));
    let rects: Vec<_> = windows
        .map(|(a, b, color)| {
            Rectangle::new([(secs(a), low), (secs(b), high)], color.mix(0.55).filled())
        })
        .collect();
    chart.draw_series(rects)?;
    Ok(())
}
