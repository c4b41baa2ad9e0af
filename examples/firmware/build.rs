//! Picks the board from the target: memory layout, `board` cfg, linker scripts.
use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let board = match target.as_str() {
        "thumbv7em-none-eabihf" => "mps2-an386",
        "thumbv6m-none-eabi" => "microbit",
        other => panic!(
            "steadfast-firmware runs on QEMU mps2-an386 (thumbv7em-none-eabihf) or microbit \
             (thumbv6m-none-eabi), not on `{other}`; run cargo from examples/firmware/"
        ),
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let layout = format!("memory/{board}.x");
    fs::copy(&layout, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={layout}");
    println!("cargo:rerun-if-changed=build.rs");

    println!("cargo::rustc-check-cfg=cfg(board, values(\"mps2_an386\", \"microbit\"))");
    println!("cargo::rustc-cfg=board=\"{}\"", board.replace('-', "_"));

    // Linker scripts here rather than in .cargo/config.toml: works with --manifest-path too.
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    }
}
