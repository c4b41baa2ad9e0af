//! Allocations per operation for every contender, as tab-separated
//! `group, name, who, allocs/op`. Exits non-zero if a sturdy or floor row allocates.

use sturdy_bench::alloc_count::{AllocCounter, Counting};
use sturdy_bench::{Who, visit_all};

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() {
    let mut counter = AllocCounter {
        calls: 10_000,
        rows: Vec::new(),
    };
    visit_all(&mut counter);
    let mut bad = false;
    for r in &counter.rows {
        println!("{}\t{}\t{}\t{}", r.group, r.name, r.who.name(), r.per_op);
        bad |= r.who != Who::Peer && r.per_op != 0.0;
    }
    if bad {
        eprintln!("bench-allocs: a sturdy or floor row allocates");
        std::process::exit(1);
    }
}
