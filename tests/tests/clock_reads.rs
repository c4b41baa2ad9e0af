//! The adapters read their clock in one place each, `time.rs`: a decision
//! made anywhere else on a clock of its own would differ between a paused or
//! simulated clock and the real one.

use std::path::{Path, PathBuf};

const CLOCK_READS: [&str; 4] = [
    "Instant::now(",
    "SystemTime::now(",
    "Instant::elapsed(",
    ".elapsed()",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn adapters_read_the_clock_only_in_time_rs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for adapter in ["std-adapter/src", "embassy-adapter/src"] {
        sources(&root.join(adapter), &mut files);
    }
    assert!(files.len() > 10, "found only {} source files", files.len());
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("time.rs")) {
        let text = std::fs::read_to_string(file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if CLOCK_READS.iter().any(|r| code.contains(r)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, code));
            }
        }
    }
    assert!(
        found.is_empty(),
        "clock reads outside time.rs:\n{}",
        found.join("\n")
    );
}
