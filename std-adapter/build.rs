//! Declares `--cfg loom` (the loom model-checking build swaps `crate::sync`).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
