//! Instructions per operation, under callgrind. `bench-instr list` prints the
//! row ids; `bench-instr run ID CALLS` builds that contender, warms it up, then
//! calls `op` CALLS times inside `measured`, the only function callgrind collects:
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*measured*' bench-instr run 'ID' 100000
//! ```
//!
//! Instructions per op = collected Ir / (CALLS × PER_CALL); the script does the division.

use std::hint::black_box;

use steadfast_bench::{Op, Visitor, id, visit_all};

struct List;
impl Visitor for List {
    fn visit<O: Op>(&mut self) {
        println!("{}\t{}", id::<O>(), O::PER_CALL);
    }
}

struct Run {
    id: String,
    calls: u64,
    found: bool,
}

#[inline(never)]
fn measured<O: Op>(o: &mut O, calls: u64) {
    for _ in 0..calls {
        o.op();
    }
}

impl Visitor for Run {
    fn visit<O: Op>(&mut self) {
        if id::<O>() != self.id {
            return;
        }
        self.found = true;
        let mut o = O::new();
        for _ in 0..1_000 {
            o.op();
        }
        measured(&mut o, black_box(self.calls));
    }
}

fn main() {
    let _rt = steadfast_bench::runtime().enter();
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("list") => visit_all(&mut List),
        Some("run") if args.len() == 4 => {
            let mut run = Run {
                id: args[2].clone(),
                calls: args[3].parse().expect("CALLS is a number"),
                found: false,
            };
            visit_all(&mut run);
            if !run.found {
                eprintln!("bench-instr: no row {:?}", run.id);
                std::process::exit(2);
            }
        }
        _ => {
            eprintln!("usage: bench-instr list | bench-instr run ID CALLS");
            std::process::exit(2);
        }
    }
}
