//! The SVG plot over time, one panel each: breaker state (only with a
//! breaker), failed calls, successful calls' latency, the dependency's load,
//! the bulkhead's slots and queue (only with a bulkhead) and refusals by
//! reason. Outage, recovery-ramp, brownout and burst windows are shaded.
//! Several runs (a `--compare`) are overlaid in different colours, each named
//! by its scenario file.

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use steadfast::time::Instant;

use crate::report::Report;
use crate::scenario::Scenario;

const WIDTH: u32 = 1200;
const PANEL_HEIGHT: u32 = 250;
const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(230, 110, 20),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];
const OUTAGE: RGBColor = RGBColor(255, 190, 190);
const RECOVERY: RGBColor = RGBColor(255, 225, 225);
const BROWNOUT: RGBColor = RGBColor(255, 230, 160);
const BURST: RGBColor = RGBColor(215, 200, 255);
/// The latency axis' floor (ms), labelled "0": a bucket where calls finished
/// but none succeeded is marked there.
const FLOOR_MS: f64 = 0.01;
const MODEL: RGBColor = RGBColor(60, 60, 60);
/// Refusal reasons: label, colour.
const REASONS: [(&str, RGBColor); 7] = [
    ("breaker open", RGBColor(214, 39, 40)),
    ("queue full", RGBColor(148, 103, 189)),
    ("queue wait expired", RGBColor(140, 86, 75)),
    ("retry budget", RGBColor(23, 190, 207)),
    ("rate limited", RGBColor(188, 189, 34)),
    ("throttled", RGBColor(227, 119, 194)),
    ("adaptive limit", RGBColor(127, 127, 127)),
];

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Panel {
    Breaker,
    Failed,
    Latency,
    Load,
    Bulkhead,
    Refusals,
}

/// What names a run in the legend: its file, else its scenario name.
fn run_label(scenario: Option<&&Scenario>, report: &Report) -> String {
    let file = scenario.map_or("", |s| s.file.as_str());
    let name = if file.is_empty() {
        report.name.as_str()
    } else {
        file
    };
    if report.description.is_empty() {
        format!("{name} (policy {})", report.policy)
    } else {
        format!("{name}: {}", report.description)
    }
}

fn draw(out: &mut String, scenarios: &[&Scenario], reports: &[&Report]) -> Result<(), Err> {
    let Some(first) = reports.first() else {
        return Ok(());
    };
    let scenario = scenarios.first().copied();
    let mut panels = Vec::new();
    if reports.iter().any(|r| r.has_breaker) {
        panels.push(Panel::Breaker);
    }
    panels.extend([Panel::Failed, Panel::Latency, Panel::Load]);
    if reports.iter().any(|r| r.has_bulkhead) {
        panels.push(Panel::Bulkhead);
    }
    if reports.iter().any(|r| r.refusals.total() > 0) {
        panels.push(Panel::Refusals);
    }
    let head_height = 80 + 22 * reports.len() as u32;
    let height = head_height + PANEL_HEIGHT * panels.len() as u32;
    let root = SVGBackend::with_string(out, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (head, body) = root.split_vertically(head_height);
    header(&head, scenarios, reports)?;
    let areas = body.split_evenly((panels.len(), 1));
    let ctx = Context {
        scenario,
        reports,
        end: secs(Instant::ZERO + first.duration),
        bucket: first.bucket.as_micros() as f64 / 1e6,
    };
    for (panel, area) in panels.iter().zip(&areas) {
        match panel {
            Panel::Breaker => breaker(area, &ctx)?,
            Panel::Failed => failed(area, &ctx)?,
            Panel::Latency => latency(area, &ctx)?,
            Panel::Load => load(area, &ctx)?,
            Panel::Bulkhead => bulkhead(area, &ctx, scenarios)?,
            Panel::Refusals => refusals(area, &ctx)?,
        }
    }
    root.present()?;
    Ok(())
}

type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;

fn header(head: &Area<'_>, scenarios: &[&Scenario], reports: &[&Report]) -> Result<(), Err> {
    let first = reports[0];
    let title = if reports.len() == 1 {
        format!(
            "{} — policy \"{}\", seed {}",
            first.name, first.policy, first.seed
        )
    } else {
        let names: Vec<String> = reports
            .iter()
            .enumerate()
            .map(|(i, r)| {
                scenarios
                    .get(i)
                    .map(|s| s.file.clone())
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| r.name.clone())
            })
            .collect();
        format!("{} (seed {})", names.join(" vs "), first.seed)
    };
    head.draw(&Text::new(
        title,
        (20, 12),
        ("sans-serif", 24).into_font().color(&BLACK),
    ))?;
    let mut y = 46;
    for (i, r) in reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        head.draw(&Rectangle::new([(20, y + 6), (44, y + 10)], color.filled()))?;
        head.draw(&Text::new(
            run_label(scenarios.get(i), r),
            (52, y),
            ("sans-serif", 15).into_font(),
        ))?;
        y += 22;
    }
    let Some(s) = scenarios.first() else {
        return Ok(());
    };
    let present = [
        !s.dependency.outages.is_empty(),
        s.dependency.outages.iter().any(|o| !o.recovery.is_zero()),
        !s.dependency.brownouts.is_empty(),
        !s.load.bursts.is_empty(),
    ];
    let windows = [
        ("outage", OUTAGE),
        ("recovery ramp", RECOVERY),
        ("brownout", BROWNOUT),
        ("burst", BURST),
    ];
    let mut x = 20;
    for (&(label, color), _) in windows.iter().zip(present).filter(|(_, on)| *on) {
        head.draw(&Rectangle::new([(x, y), (x + 18, y + 16)], color.filled()))?;
        head.draw(&Text::new(
            label,
            (x + 24, y),
            ("sans-serif", 15).into_font(),
        ))?;
        x += 40 + 8 * label.len() as i32;
    }
    Ok(())
}

struct Context<'s> {
    scenario: Option<&'s Scenario>,
    reports: &'s [&'s Report],
    end: f64,
    bucket: f64,
}

impl Context<'_> {
    fn x_of(&self, b: usize) -> f64 {
        (b as f64 + 0.5) * self.bucket
    }

    fn per_sec(&self, n: u32) -> f64 {
        f64::from(n) / self.bucket
    }
}

type Chart<'a, 'b, Y> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>;

fn panel<'a, 'b>(
    area: &'a Area<'b>,
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

/// Axes with seconds below and `y_desc` at the left.
fn mesh<Y>(chart: &mut Chart<'_, '_, Y>, y_desc: &str) -> Result<(), Err>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .y_desc(y_desc)
        .x_desc("time (s)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()?;
    Ok(())
}

fn legend<'a, 'b: 'a, Y>(
    chart: &mut Chart<'a, 'b, Y>,
    position: SeriesLabelPosition,
) -> Result<(), Err>
where
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

fn breaker(area: &Area<'_>, ctx: &Context<'_>) -> Result<(), Err> {
    let counts: Vec<String> = ctx
        .reports
        .iter()
        .map(|r| {
            let what = format!(
                "opened {}×, {} half-open visits",
                r.breaker_opens,
                r.half_open_visits()
            );
            if ctx.reports.len() > 1 {
                format!("{}: {what}", r.name)
            } else {
                what
            }
        })
        .collect();
    let caption = format!(
        "Breaker state (triangles: openings, dots: half-open visits) · {}",
        counts.join(" · ")
    );
    let mut chart = panel(area, &caption, 0.0..ctx.end, -0.3..2.4)?;
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
    shade(&mut chart, ctx.scenario, -0.3, 2.4)?;
    for (i, r) in ctx.reports.iter().enumerate() {
        if !r.has_breaker {
            continue;
        }
        let color = COLORS[i % COLORS.len()];
        let offset = i as f64 * 0.08;
        let mut points = vec![(0.0, offset)];
        let mut current = 0.0;
        for &(at, code) in &r.transitions {
            let t = secs(at).min(ctx.end);
            points.push((t, current + offset));
            current = level(code);
            points.push((t, current + offset));
        }
        points.push((ctx.end, current + offset));
        chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
        let at = |code: u8| {
            r.transitions
                .iter()
                .filter(move |&&(_, c)| c == code)
                .map(move |&(t, c)| (secs(t).min(ctx.end), level(c) + offset))
        };
        chart.draw_series(at(2).map(|p| TriangleMarker::new(p, 6, color.filled())))?;
        chart.draw_series(at(1).map(|p| Circle::new(p, 4, color.filled())))?;
    }
    Ok(())
}

fn failed(area: &Area<'_>, ctx: &Context<'_>) -> Result<(), Err> {
    let mut chart = panel(
        area,
        "Failed calls (% of calls finishing, refusals included)",
        0.0..ctx.end,
        0.0..105.0,
    )?;
    mesh(&mut chart, "%")?;
    shade(&mut chart, ctx.scenario, 0.0, 105.0)?;
    for (i, r) in ctx.reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let s = &r.series;
        let points = (0..s.len()).filter_map(|b| {
            let done = s.succeeded[b] + s.failed[b];
            (done > 0).then(|| {
                (
                    ctx.x_of(b),
                    100.0 * f64::from(s.failed[b]) / f64::from(done),
                )
            })
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!("{} failed", r.name))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    let first = ctx.reports[0];
    let model: Vec<(f64, f64)> = first
        .series
        .dependency_error_permille
        .iter()
        .enumerate()
        .map(|(b, &p)| (ctx.x_of(b), f64::from(p) / 10.0))
        .collect();
    chart
        .draw_series(DashedLineSeries::new(model, 6, 4, MODEL.stroke_width(1)))?
        .label("dependency error rate (model)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], MODEL.stroke_width(1)));
    legend(&mut chart, SeriesLabelPosition::MiddleLeft)
}

fn latency(area: &Area<'_>, ctx: &Context<'_>) -> Result<(), Err> {
    let top = ctx
        .reports
        .iter()
        .flat_map(|r| r.series.success_p99.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / 1000.0
        * 2.0;
    let mut ticks = vec![FLOOR_MS];
    let mut decade = 0.1;
    while decade < top {
        ticks.push(decade);
        decade *= 10.0;
    }
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .margin_right(24)
        .caption(
            "Latency of successful calls (ms, log scale): solid p99, dashed mean · crosses on 0: calls finished, none succeeded",
            ("sans-serif", 17),
        )
        .x_label_area_size(32)
        .y_label_area_size(70)
        .build_cartesian_2d(
            0.0..ctx.end,
            (FLOOR_MS..top).log_scale().with_key_points(ticks),
        )?;
    chart
        .configure_mesh()
        .y_desc("ms")
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
                format!("{v}")
            }
        })
        .light_line_style(RGBColor(240, 240, 240))
        .draw()?;
    shade(&mut chart, ctx.scenario, FLOOR_MS, top)?;
    for (i, r) in ctx.reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let s = &r.series;
        // One line per run of buckets in which calls succeeded.
        let mut p99: Vec<(f64, f64)> = Vec::new();
        let mut mean: Vec<(f64, f64)> = Vec::new();
        let mut refused_only = Vec::new();
        for b in 0..=s.len() {
            if b < s.len() && s.succeeded[b] > 0 {
                p99.push((
                    ctx.x_of(b),
                    (s.success_p99[b] as f64 / 1000.0).max(FLOOR_MS),
                ));
                mean.push((
                    ctx.x_of(b),
                    (s.success_mean[b] as f64 / 1000.0).max(FLOOR_MS),
                ));
                continue;
            }
            if b < s.len() && s.failed[b] > 0 {
                refused_only.push((ctx.x_of(b), FLOOR_MS));
            }
            if let [lone] = p99[..] {
                // A lone bucket with successes (a probe) is a dot, not an invisible line.
                chart.draw_series(std::iter::once(Circle::new(lone, 3, color.filled())))?;
            }
            if !p99.is_empty() {
                let points = std::mem::take(&mut p99);
                chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
                let points = std::mem::take(&mut mean);
                chart.draw_series(DashedLineSeries::new(points, 5, 4, color.stroke_width(1)))?;
            }
        }
        chart.draw_series(
            refused_only
                .into_iter()
                .map(|p| Cross::new(p, 4, color.stroke_width(2))),
        )?;
    }
    Ok(())
}

fn load(area: &Area<'_>, ctx: &Context<'_>) -> Result<(), Err> {
    let top = ctx
        .reports
        .iter()
        .flat_map(|r| r.series.attempts.iter().chain(&r.series.offered).copied())
        .max()
        .map_or(1.0, |n| ctx.per_sec(n))
        .max(1.0)
        * 1.35;
    let mut chart = panel(
        area,
        "Load: attempts reaching the dependency and calls offered, per second",
        0.0..ctx.end,
        0.0..top,
    )?;
    mesh(&mut chart, "per s")?;
    shade(&mut chart, ctx.scenario, 0.0, top)?;
    for (i, r) in ctx.reports.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points = r
            .series
            .attempts
            .iter()
            .enumerate()
            .map(|(b, &n)| (ctx.x_of(b), ctx.per_sec(n)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!("{} attempts", r.name))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    // Offered load on top, so attempts equal to it do not hide it.
    let offered: Vec<(f64, f64)> = ctx.reports[0]
        .series
        .offered
        .iter()
        .enumerate()
        .map(|(b, &n)| (ctx.x_of(b), ctx.per_sec(n)))
        .collect();
    chart
        .draw_series(DashedLineSeries::new(offered, 6, 4, MODEL.stroke_width(2)))?
        .label("calls offered")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], MODEL.stroke_width(2)));
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn bulkhead(area: &Area<'_>, ctx: &Context<'_>, scenarios: &[&Scenario]) -> Result<(), Err> {
    let limits: Vec<(u32, u32)> = scenarios
        .iter()
        .filter_map(|s| {
            s.policy
                .bulkhead
                .map(|b| (b.max_concurrent(), b.max_queue()))
        })
        .collect();
    let top = ctx
        .reports
        .iter()
        .flat_map(|r| {
            r.series
                .peak_permits
                .iter()
                .chain(&r.series.peak_queue)
                .copied()
        })
        .chain(limits.iter().flat_map(|&(c, q)| [c, q]))
        .max()
        .unwrap_or(1)
        .max(1);
    let top = f64::from(top) * 1.35;
    let mut chart = panel(
        area,
        "Bulkhead: slots in use (solid) and queue length (dashed), peak per bucket · dotted: limits",
        0.0..ctx.end,
        0.0..top,
    )?;
    mesh(&mut chart, "calls")?;
    shade(&mut chart, ctx.scenario, 0.0, top)?;
    for &(c, q) in &limits {
        for limit in [c, q] {
            let y = f64::from(limit);
            chart.draw_series(DashedLineSeries::new(
                [(0.0, y), (ctx.end, y)],
                2,
                4,
                MODEL.stroke_width(1),
            ))?;
        }
    }
    for (i, r) in ctx.reports.iter().enumerate() {
        if !r.has_bulkhead {
            continue;
        }
        let color = COLORS[i % COLORS.len()];
        let s = &r.series;
        let permits = s
            .peak_permits
            .iter()
            .enumerate()
            .map(|(b, &n)| (ctx.x_of(b), f64::from(n)));
        chart
            .draw_series(LineSeries::new(permits, color.stroke_width(2)))?
            .label(format!("{} slots in use", r.name))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        let queue: Vec<(f64, f64)> = s
            .peak_queue
            .iter()
            .enumerate()
            .map(|(b, &n)| (ctx.x_of(b), f64::from(n)))
            .collect();
        chart
            .draw_series(DashedLineSeries::new(queue, 5, 3, color.stroke_width(2)))?
            .label(format!("{} queue", r.name))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 8, y)], color.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn refusals(area: &Area<'_>, ctx: &Context<'_>) -> Result<(), Err> {
    let columns = |r: &Report| {
        let s = &r.series;
        [
            s.refused_breaker.clone(),
            s.refused_queue_full.clone(),
            s.refused_queue_wait.clone(),
            s.refused_budget.clone(),
            s.refused_rate_limit.clone(),
            s.refused_throttle.clone(),
            s.refused_adaptive_limit.clone(),
        ]
    };
    let top = ctx
        .reports
        .iter()
        .flat_map(|r| columns(r).into_iter().flatten())
        .max()
        .map_or(1.0, |n| ctx.per_sec(n))
        .max(1.0)
        * 1.35;
    let caption = if ctx.reports.len() > 1 {
        "Refused calls per second, by reason (solid: first run, dashed: the others)"
    } else {
        "Refused calls per second, by reason"
    };
    let mut chart = panel(area, caption, 0.0..ctx.end, 0.0..top)?;
    mesh(&mut chart, "per s")?;
    shade(&mut chart, ctx.scenario, 0.0, top)?;
    for (i, r) in ctx.reports.iter().enumerate() {
        for (column, &(reason, color)) in columns(r).iter().zip(&REASONS) {
            if column.iter().all(|&n| n == 0) {
                continue;
            }
            let points: Vec<(f64, f64)> = column
                .iter()
                .enumerate()
                .map(|(b, &n)| (ctx.x_of(b), ctx.per_sec(n)))
                .collect();
            let label = if ctx.reports.len() > 1 {
                format!("{}: {reason}", r.name)
            } else {
                reason.to_owned()
            };
            let drawn = if i == 0 {
                chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?
            } else {
                chart.draw_series(DashedLineSeries::new(points, 6, 4, color.stroke_width(2)))?
            };
            drawn.label(label).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Shades outage (with its recovery ramp), brownout and burst windows across
/// the panel's height.
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
        .flat_map(|o| {
            [
                (o.start, o.end, OUTAGE),
                (o.end, o.end.saturating_add(o.recovery), RECOVERY),
            ]
        })
        .chain(
            s.dependency
                .brownouts
                .iter()
                .map(|b| (b.start, b.end, BROWNOUT)),
        )
        .chain(s.load.bursts.iter().map(|b| (b.start, b.end, BURST)));
    let rects: Vec<_> = windows
        .filter(|(a, b, _)| b > a)
        .map(|(a, b, color)| {
            Rectangle::new([(secs(a), low), (secs(b), high)], color.mix(0.55).filled())
        })
        .collect();
    chart.draw_series(rects)?;
    Ok(())
}
