//! A counting global allocator, for the allocations-per-operation column.
//! Install it in a binary with
//! `#[global_allocator] static A: steadfast_bench::alloc_count::Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Op, Visitor, Who};

static ALLOCS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc` calls.
#[derive(Debug)]
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged,
// so `System`'s contract is the caller's contract; the counter is a relaxed atomic.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl's comment).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations so far (only meaningful with [`Counting`] installed).
pub fn allocations() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}

/// One row of the allocation table.
#[derive(Clone, Debug)]
pub struct AllocRow {
    /// The row group.
    pub group: &'static str,
    /// The contender.
    pub name: &'static str,
    /// Whose.
    pub who: Who,
    /// Allocations per logical operation.
    pub per_op: f64,
}

/// Measures every contender: build, warm up, then count over `calls` calls.
#[derive(Debug, Default)]
pub struct AllocCounter {
    /// Calls of `op` per contender.
    pub calls: u64,
    /// The results.
    pub rows: Vec<AllocRow>,
}

impl Visitor for AllocCounter {
    fn visit<O: Op>(&mut self) {
        let mut o = O::new();
        for _ in 0..100 {
            o.op();
        }
        let before = allocations();
        for _ in 0..self.calls {
            o.op();
        }
        let n = allocations() - before;
        self.rows.push(AllocRow {
            group: O::GROUP,
            name: O::NAME,
            who: O::WHO,
            per_op: n as f64 / (self.calls as f64 * f64::from(O::PER_CALL)),
        });
    }
}
