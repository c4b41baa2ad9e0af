//! Contended throughput (placeholder, filled in below).
fn main() {}
