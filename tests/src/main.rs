//! `steadfast-sim <scenario.toml> [--svg out.svg]`
//! `steadfast-sim --compare a.toml b.toml [--svg out.svg]`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use steadfast_sim::{Report, Scenario, compare, plot, run};

const USAGE: &str = "usage: steadfast-sim <scenario.toml> [--svg out.svg] [--no-svg]
       steadfast-sim --compare a.toml b.toml [--svg out.svg] [--no-svg]";

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
    let mut comparing = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--svg" => svg_path = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            "--no-svg" => no_svg = true,
            "--compare" => comparing = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}\n{USAGE}")),
            _ => files.push(PathBuf::from(arg)),
        }
    }
    let expected = if comparing { 2 } else { 1 };
    if files.len() != expected {
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
    if comparing {
        print!("{}", compare(&refs));
    } else {
        print!("{}", reports[0].table());
    }
    if !no_svg {
        let path = svg_path.unwrap_or_else(|| default_svg(&files));
        let scenario_refs: Vec<&Scenario> = scenarios.iter().collect();
        let svg = plot::svg(&scenario_refs, &refs)?;
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("plot: {}", path.display());
    }
    Ok(())
}

/// `<scenario>.svg` beside the (first) scenario; `a-vs-b.svg` when comparing.
fn default_svg(files: &[PathBuf]) -> PathBuf {
    let stem = |p: &Path| {
        p.file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    };
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
