//! `Policy::call_blocking` with a breaker only, against its floor: what a
//! blocking call through a policy must do at least (read the clock before and
//! after the operation, check and update the breaker's state with atomics).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant as StdInstant;

use steadfast_std::{Policy, SharedBreaker};

use crate::breaker::{CallResult, LONG_SECS, THRESHOLD, call_result, shared_breaker_config};
use crate::{Op, Visitor, Who};

/// Every row of this module, in table order.
pub fn visit<V: Visitor>(v: &mut V) {
    v.visit::<FloorPolicy>();
    v.visit::<StdPolicy>();
}

const GROUP: &str = "policy: call_blocking, breaker only (consecutive 5), 1 call";

/// The floor: a consecutive-failure breaker in two atomics (failures in a row,
/// the end of the open period in µs since an origin), the std clock read before
/// the operation (is it open?) and after it (the call's duration, which slow-call
/// detection needs), the result recorded.
#[derive(Debug)]
pub struct FloorPolicy {
    origin: StdInstant,
    failures: AtomicU32,
    open_until: AtomicU64,
}

impl FloorPolicy {
    #[inline(always)]
    fn call(&self, op: impl FnOnce() -> CallResult) -> Result<(), Option<()>> {
        let start = self.origin.elapsed().as_micros() as u64;
        if start < self.open_until.load(Ordering::Acquire) {
            return Err(None);
        }
        let result = op();
        let end = self.origin.elapsed().as_micros() as u64;
        black_box(end.saturating_sub(start));
        match result {
            Ok(()) => {
                self.failures.store(0, Ordering::Release);
                Ok(())
            }
            Err(_) => {
                if self.failures.fetch_add(1, Ordering::AcqRel) + 1 >= THRESHOLD {
                    self.open_until
                        .store(end + LONG_SECS * 1_000_000, Ordering::Release);
                }
                Err(Some(()))
            }
        }
    }
}

impl Op for FloorPolicy {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "floor (2 atomics + 2 std clock reads)";
    const WHO: Who = Who::Floor;
    fn new() -> Self {
        Self {
            origin: StdInstant::now(),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
        }
    }
    #[inline(always)]
    fn op(&mut self) {
        let _ = black_box(black_box(&*self).call(call_result));
    }
}

/// steadfast-std: `Policy::call_blocking` with only a `SharedBreaker`
/// (consecutive 5, as the breaker rows), one attempt, no timeout.
#[derive(Debug)]
pub struct StdPolicy(Policy);

impl Op for StdPolicy {
    const GROUP: &'static str = GROUP;
    const NAME: &'static str = "steadfast-std Policy::call_blocking";
    const WHO: Who = Who::Steadfast;
    fn new() -> Self {
        let breaker = SharedBreaker::new("bench", shared_breaker_config()).expect("valid");
        let policy = Policy::builder(crate::tower_rows::single_attempt())
            .expect("valid")
            .breaker(breaker)
            .build();
        Self(policy)
    }
    #[inline(always)]
    fn op(&mut self) {
        let _ = black_box(black_box(&self.0).call_blocking(call_result));
    }
}
