//! The hand-written floor: the least code that still does each row's job, with
//! none of steadfast's guarantees (no generations, no half-open probe limit, no
//! clock-max rule, no stats, no queue). It shows how close to the limit steadfast is.

use std::sync::atomic::{AtomicU32, Ordering};

/// An enum + counter breaker: N consecutive failures open it for a fixed time.
#[derive(Clone, Copy, Debug)]
pub enum FloorState {
    /// Counting consecutive failures.
    Closed {
        /// Failures in a row so far.
        failures: u32,
    },
    /// Rejecting until `until` (µs).
    Open {
        /// When to admit a probe.
        until: u64,
    },
    /// One probe admitted.
    HalfOpen,
}

/// The floor breaker.
#[derive(Clone, Copy, Debug)]
pub struct FloorBreaker {
    /// The state.
    pub state: FloorState,
    /// Failures in a row that open it.
    pub threshold: u32,
    /// How long it stays open, µs.
    pub open_for: u64,
}

impl FloorBreaker {
    /// Closed, opening after `threshold` failures for `open_for` µs.
    pub const fn new(threshold: u32, open_for: u64) -> Self {
        Self {
            state: FloorState::Closed { failures: 0 },
            threshold,
            open_for,
        }
    }

    /// May a call go ahead at `now`?
    #[inline]
    pub fn try_acquire(&mut self, now: u64) -> bool {
        match self.state {
            FloorState::Closed { .. } | FloorState::HalfOpen => true,
            FloorState::Open { until } if now >= until => {
                self.state = FloorState::HalfOpen;
                true
            }
            FloorState::Open { .. } => false,
        }
    }

    /// The call's outcome at `now`.
    #[inline]
    pub fn record(&mut self, failure: bool, now: u64) {
        self.state = match (self.state, failure) {
            (_, false) => FloorState::Closed { failures: 0 },
            (FloorState::Closed { failures }, true) if failures + 1 < self.threshold => {
                FloorState::Closed {
                    failures: failures + 1,
                }
            }
            (FloorState::Open { until }, true) => FloorState::Open { until },
            (_, true) => FloorState::Open {
                until: now + self.open_for,
            },
        };
    }
}

/// A count-window floor breaker: the last `len` (≤ 128) results in a `u128`
/// ring and a failure count; once `len` results are held, trips at
/// `failures × 100 ≥ rate_percent × len`; open for a fixed time, then one probe.
#[derive(Clone, Copy, Debug)]
pub struct FloorWindowBreaker {
    /// Failed results, one bit per slot of the ring.
    pub failed: u128,
    /// The next slot to write.
    pub pos: u32,
    /// Results held, up to `len`.
    pub held: u32,
    /// Failures among them.
    pub failures: u32,
    /// The ring's length.
    pub len: u32,
    /// `rate_percent × len`: the trip level of `failures × 100`.
    pub trip_at: u32,
    /// Rejecting until this time (µs) when `open`.
    pub until: u64,
    /// Open (or half-open once `until` passed).
    pub open: bool,
    /// How long it stays open, µs.
    pub open_for: u64,
}

impl FloorWindowBreaker {
    /// Closed and empty.
    pub const fn new(len: u32, rate_percent: u32, open_for: u64) -> Self {
        Self {
            failed: 0,
            pos: 0,
            held: 0,
            failures: 0,
            len,
            trip_at: rate_percent * len,
            until: 0,
            open: false,
            open_for,
        }
    }

    /// May a call go ahead at `now`?
    #[inline]
    pub fn try_acquire(&mut self, now: u64) -> bool {
        !self.open || now >= self.until
    }

    /// The call's outcome at `now`.
    #[inline]
    pub fn record(&mut self, failure: bool, now: u64) {
        if self.open {
            // The probe decides.
            if failure {
                self.until = now + self.open_for;
            } else {
                *self = Self::new(self.len, self.trip_at / self.len, self.open_for);
            }
            return;
        }
        let bit = 1u128 << self.pos;
        if self.held == self.len {
            self.failures -= u32::from(self.failed & bit != 0);
        } else {
            self.held += 1;
        }
        if failure {
            self.failed |= bit;
            self.failures += 1;
        } else {
            self.failed &= !bit;
        }
        self.pos = if self.pos + 1 == self.len {
            0
        } else {
            self.pos + 1
        };
        if self.held == self.len && self.failures * 100 >= self.trip_at {
            self.open = true;
            self.until = now + self.open_for;
        }
    }
}

/// Shift-based exponential backoff, capped: `min(base << (retry - 1), cap)`.
#[inline]
pub fn shift_delay(base: u64, cap: u64, retry: u32) -> u64 {
    let shift = retry.saturating_sub(1).min(63);
    let d = base.checked_shl(shift).unwrap_or(u64::MAX);
    if d > cap || d >> shift != base {
        cap
    } else {
        d
    }
}

/// Full jitter: uniform in `[0, d]` by a multiply-shift.
#[inline]
pub fn full_jitter(d: u64, random: u64) -> u64 {
    ((u128::from(random) * (u128::from(d) + 1)) >> 64) as u64
}

/// SplitMix64, identical to `steadfast::rng::SplitMix64` so every backoff row
/// draws the same random numbers at the same cost.
#[derive(Clone, Copy, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A plain counter permit (single owner).
#[derive(Clone, Copy, Debug)]
pub struct CounterPermits {
    /// Taken.
    pub in_flight: u32,
    /// Limit.
    pub max: u32,
}

impl CounterPermits {
    /// Takes a permit if one is free.
    #[inline]
    pub fn try_acquire(&mut self) -> bool {
        if self.in_flight < self.max {
            self.in_flight += 1;
            true
        } else {
            false
        }
    }

    /// Returns a permit.
    #[inline]
    pub fn release(&mut self) {
        self.in_flight -= 1;
    }
}

/// An `AtomicU32` permit (shareable): a CAS loop to take, `fetch_sub` to return.
#[derive(Debug)]
pub struct AtomicPermits {
    /// Taken.
    pub in_flight: AtomicU32,
    /// Limit.
    pub max: u32,
}

impl AtomicPermits {
    /// Takes a permit if one is free.
    #[inline]
    pub fn try_acquire(&self) -> bool {
        self.in_flight
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
                (n < self.max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Returns a permit.
    #[inline]
    pub fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::Release);
    }
}
