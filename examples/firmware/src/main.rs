//! steadfast on bare metal: Embassy (executor + SysTick time driver) driving a flaky
//! simulated I2C sensor, on QEMU `mps2-an386` (Cortex-M4F) or `microbit` (Cortex-M0).
//! Prints its timeline over semihosting (or defmt), checks it, and exits 0 / 1.
//!
//! Layout: [`board`] (per-target constants, exit, fault/panic handlers),
//! [`time_driver`] (SysTick → embassy-time), [`clock`] (embassy ↔ steadfast time),
//! [`sensor`] (the seeded flaky device), [`scenario`] (what runs and what is checked),
//! [`drill`] (fault injection on a healthy sensor, replayed bit for bit).
#![no_std]
#![no_main]

#[cfg(feature = "alloc-canary")]
extern crate alloc;

#[macro_use]
mod log;
mod board;
mod clock;
mod drill;
mod scenario;
mod sensor;
mod time_driver;

use embassy_executor::Spawner;
#[cfg(feature = "defmt")]
use {defmt_semihosting as _, panic_probe as _};

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let Some(cp) = cortex_m::Peripherals::take() else {
        board::exit(false)
    };
    time_driver::init(cp.SYST, board::CORE_HZ);
    say!("steadfast firmware on {}", board::NAME);

    canaries();
    match scenario::run(spawner).await {
        Ok(s) => {
            say!(
                "sensor: {} ok, {} failed ({} in the outage, {} rejected by the breaker), {} bus transactions, recovered at {} ms",
                s.ok,
                s.failed,
                s.failed_in_outage,
                s.rejected,
                s.transactions,
                s.recovered_ms
            );
            say!(
                "modem: {} ok, {} failed; pipeline: {} retries, {} timeouts, {} opens, {} closes, {} bus waits",
                s.modem.ok,
                s.modem.failed,
                s.counts.retries,
                s.counts.timeouts,
                s.counts.opened,
                s.counts.closed,
                s.counts.queued
            );
            match drill::run().await {
                Ok(d) => say!(
                    "drill: {} reads failed on purpose from {} ms to {} ms, {} refused; breaker open at {} ms, closed at {} ms; replayed bit for bit",
                    d.injected,
                    d.window.0,
                    d.window.1,
                    d.rejected,
                    d.breaker.0,
                    d.breaker.1
                ),
                Err(f) => {
                    say!("FAIL: {} ({})", f.check, f.detail);
                    board::exit(false)
                }
            }
            say!("PASS in {} ms", s.elapsed_ms);
            board::exit(true)
        }
        Err(f) => {
            say!("FAIL: {} ({})", f.check, f.detail);
            board::exit(false)
        }
    }
}

/// Code that must trip CI's guards when its feature is on (see .ci/firmware.sh).
fn canaries() {
    #[cfg(feature = "float-canary")]
    {
        let f = core::hint::black_box(clock::now().as_micros() as f32) * 1.5;
        say!("float canary: {}", f as u32);
    }
    #[cfg(feature = "alloc-canary")]
    {
        let v = alloc::vec![1u8; core::hint::black_box(4)];
        say!("alloc canary: {}", v.len());
    }
}
