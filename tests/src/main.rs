//! `steadfast-sim <scenario.toml> [--svg out.svg] [--json out.json] [--csv dir]`
//! `steadfast-sim --compare a.toml b.toml [--svg out.svg] [--json out.json] [--csv dir]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use steadfast_sim::{Report, Scenario, compare, export, plot, run};

const USAGE: &str = "usage: steadfast-sim <scenario.toml> [options]
       steadfast-sim --compare a.toml b.toml [more.toml ...] [options]
options:
  --svg out.svg    where to write the plot (default: beside the scenario)
  --no-svg         no plot
  --json out.json  totals, every per-bucket series and breaker transition (- for stdout)
  --csv dir        the same as <scenario>.series.csv, .transitions.csv, .totals.csv in dir";

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("steadfast-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<(), String> {
    let mut files = Vec::new();
    let mut svg_path = None;
    let mut no_svg = false;
    let mut json_path = None;
    let mut csv_dir = None;
    let mut comparing = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--svg" => svg_path = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            "--no-svg" => no_svg = true,
            "--json" => json_path = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            "--csv" => csv_dir = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            "--compare" => comparing = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}\n{USAGE}")),
            _ => files.push(PathBuf::from(arg)),
        }
    }
    let wrong = if comparing {
        files.len() < 2
    } else {
        files.len() != 1
    };
    if wrong {
        return Err(USAGE.to_owned());
    }
    let scenarios = files
        .iter()
        .map(|f| Scenario::from_path(f))
        .collect::<Result<Vec<_>, _>>()?;
    let reports = scenarios
        .iter()
        .map(run)
        .collect::<Result<Vec<Report>, _>>()?;
    let refs: Vec<&Report> = reports.iter().collect();
    let json_to_stdout = json_path.as_deref() == Some(Path::new("-"));
    if !json_to_stdout {
        if comparing {
            print!("{}", compare(&refs));
        } else {
            print!("{}", reports[0].table());
        }
    }
    if let Some(path) = &json_path {
        let text = export::json_all(&refs);
        if json_to_stdout {
            print!("{text}");
        } else {
            write(path, &text)?;
            println!("json: {}", path.display());
        }
    }
    if let Some(dir) = &csv_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (file, report) in files.iter().zip(&reports) {
            for (suffix, text) in export::csv(report) {
                let path = dir.join(format!("{}.{suffix}", stem(file)));
                write(&path, &text)?;
            }
        }
        println!("csv: {}", dir.display());
    }
    if !no_svg {
        let path = svg_path.unwrap_or_else(|| default_svg(&files));
        let scenario_refs: Vec<&Scenario> = scenarios.iter().collect();
        let svg = plot::svg(&scenario_refs, &refs)?;
        write(&path, &svg)?;
        if !json_to_stdout {
            println!("plot: {}", path.display());
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// `<scenario>.svg` beside the (first) scenario; `a-vs-b.svg` when comparing.
fn default_svg(files: &[PathBuf]) -> PathBuf {
    let name = match files {
        [one] => stem(one),
        [a, b, ..] => format!("{}-vs-{}", stem(a), stem(b)),
        [] => "sim".to_owned(),
    };
    files
        .first()
        .and_then(|f| f.parent())
        .unwrap_or(Path::new("."))
        .join(format!("{name}.svg"))
}
