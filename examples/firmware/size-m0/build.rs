//! nRF51 (QEMU `microbit`) memory layout; this probe is thumbv6m-only.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::copy("../memory/microbit.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=../memory/microbit.x");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
