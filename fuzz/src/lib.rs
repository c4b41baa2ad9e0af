//! Shared input decoding for the fuzz targets: arbitrary bytes become clock moves,
//! durations and configuration values. Running out of bytes yields zeros, so every
//! input is a valid (if short) program.

use steadfast::time::{Duration, Instant};

/// A cursor over the fuzzer's bytes.
#[derive(Debug)]
pub struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads from `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// `true` when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next byte, or 0 at the end.
    pub fn u8(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    /// A bool.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A small count biased towards the interesting edges (0, 1, small, huge).
    pub fn count(&mut self) -> u32 {
        match self.u8() % 8 {
            0 => 0,
            1 => 1,
            2..=5 => u32::from(self.u8() % 16),
            6 => u32::from(self.u16()),
            _ => u32::MAX - u32::from(self.u8()),
        }
    }

    /// A duration biased towards the edges: zero, 1 µs, milliseconds, seconds,
    /// years, and `Duration::MAX` minus a little.
    pub fn duration(&mut self) -> Duration {
        match self.u8() % 8 {
            0 => Duration::ZERO,
            1 => Duration::from_micros(1 + u64::from(self.u8() % 4)),
            2 | 3 => Duration::from_millis(u64::from(self.u16())),
            4 => Duration::from_secs(u64::from(self.u8())),
            5 => Duration::from_secs(u64::from(self.u32())), // up to ~136 years
            6 => Duration::from_micros(self.u64()),
            _ => Duration::from_micros(u64::MAX - u64::from(self.u8())),
        }
    }

    /// An optional duration.
    pub fn opt_duration(&mut self) -> Option<Duration> {
        if self.bool() {
            Some(self.duration())
        } else {
            None
        }
    }
}

/// A clock the fuzzer moves at will; the machines must cope with every move.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    /// What the clock reads now (may be lower than before).
    pub now: Instant,
    /// The highest reading handed to the machines so far ([`Clock::read`]): what they
    /// must treat as "now" (the clock-max rule).
    pub high: Instant,
}

impl Clock {
    /// Applies one clock move decoded from `input`.
    pub fn step(&mut self, input: &mut Input<'_>) {
        self.now = match input.u8() % 8 {
            0 => self.now,                                                     // stands still
            1 | 2 => self.now + Duration::from_micros(u64::from(input.u16())), // small step
            3 => self.now + input.duration(),                                  // any step
            4 => self.now - Duration::from_micros(u64::from(input.u32())),     // backwards
            5 => Instant::ZERO,                                                // back to the epoch
            6 => Instant::from_micros(u64::MAX - u64::from(input.u8() % 4)),   // the end of time
            _ => self.now + Duration::from_secs(u64::from(input.u8()) * 31_536_000), // years ahead
        };
    }

    /// Reads the clock for a machine: returns `now` and raises `high`.
    pub fn read(&mut self) -> Instant {
        self.high = self.high.max(self.now);
        self.now
    }
}

/// `true` when `FUZZ_TRACE` is set: targets then print every step (to replay a crash:
/// `FUZZ_TRACE=1 cargo +nightly fuzz run T artifacts/T/crash-...`).
pub fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

/// Prints a step when tracing.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::tracing() {
            eprintln!($($arg)*);
        }
    };
}
