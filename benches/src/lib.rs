//! The contenders measured by `steadfast-bench`: steadfast, the crates a user would
//! pick instead, and a hand-written floor, each as an [`Op`] doing the same work
//! on the same inputs.
//!
//! One list ([`visit_all`]) feeds three harnesses, so they can never measure
//! different things:
//!
//! * `benches/compare.rs` — criterion, ns per operation;
//! * `src/bin/bench-allocs.rs` — a counting global allocator, allocations per operation;
//! * `src/bin/bench-instr.rs` — run under `valgrind --tool=callgrind`, instructions per operation.
//!
//! `scripts/bench-report.sh` runs all three and writes the table of `BENCHMARKS.md`.

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

pub mod alloc_count;
pub mod backoff;
pub mod breaker;
pub mod bulkhead;
pub mod floor;
pub mod pipeline;
pub mod policy;
pub mod ratelimit;
pub mod tower_rows;

/// Who a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The `steadfast` core (or its std adapter).
    Steadfast,
    /// The hand-written lower bound.
    Floor,
    /// A crate a user would pick instead.
    Peer,
}

impl Who {
    /// `steadfast`, `floor` or `peer`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Steadfast => "steadfast",
            Self::Floor => "floor",
            Self::Peer => "peer",
        }
    }
}

/// One contender: built once, then [`op`](Op::op) is called in a loop.
pub trait Op {
    /// The row group, e.g. `breaker/closed`.
    const GROUP: &'static str;
    /// The contender, e.g. `steadfast` or `failsafe 1.3`.
    const NAME: &'static str;
    /// Whose code it measures.
    const WHO: Who;
    /// How many logical operations one call of [`op`](Op::op) performs (a backoff
    /// schedule of 5 delays counts 5); every harness divides by it.
    const PER_CALL: u32 = 1;
    /// Builds the contender in the state the row measures (e.g. tripped open).
    fn new() -> Self;
    /// One (or [`PER_CALL`](Op::PER_CALL)) operation(s).
    fn op(&mut self);
}

/// Receives every contender as a type.
pub trait Visitor {
    /// Called once per contender, in table order.
    fn visit<O: Op>(&mut self);
}

/// Every contender, in table order.
pub fn visit_all<V: Visitor>(v: &mut V) {
    breaker::visit(v);
    backoff::visit(v);
    bulkhead::visit(v);
    pipeline::visit(v);
    policy::visit(v);
    ratelimit::visit(v);
    tower_rows::visit(v);
}

/// `GROUP` + `NAME`, the row's unique id (`breaker/closed :: steadfast`).
pub fn id<O: Op>() -> String {
    format!("{} :: {}", O::GROUP, O::NAME)
}

/// Polls a future once with a no-op waker; the rows only use futures that are
/// ready at once (a trivial service, an uncontended lock), so this is a
/// zero-overhead `block_on`. Panics if the future is pending: that would mean
/// the row measures something else than intended.
pub fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a benchmarked future was pending"),
    }
}

/// A current-thread Tokio runtime for the rows whose peers need one in context.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime")
    })
}

/// A microsecond tick: the injected clock of the rows that take `now` (steadfast,
/// reliakit, the floor). Advancing it is part of every such row.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tick(pub u64);

impl Tick {
    /// Advances by 1 µs and returns the new time.
    #[inline(always)]
    pub fn advance(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        std::hint::black_box(self.0)
    }
}
