//! Allocations per operation for every contender, as tab-separated
//! `group, name, who, allocs/op`. Exits non-zero if a row of the steadfast core or
//! of the floor allocates (the std adapter's tower layer boxes its future: tower's
//! `Service::Future` must be nameable, so one allocation per request is its floor).

use steadfast_bench::alloc_count::{AllocCounter, Counting};
use steadfast_bench::{Who, visit_all};

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() {
    let _rt = steadfast_bench::runtime().enter();
    let mut counter = AllocCounter {
        calls: 10_000,
        rows: Vec::new(),
    };
    visit_all(&mut counter);
    let mut bad = false;
    for r in &counter.rows {
        println!("{}\t{}\t{}\t{}", r.group, r.name, r.who.name(), r.per_op);
        let core = !r.name.starts_with("steadfast-std");
        bad |= r.who != Who::Peer && core && r.per_op != 0.0;
    }
    if bad {
        eprintln!("bench-allocs: a steadfast core or floor row allocates");
        std::process::exit(1);
    }
}
