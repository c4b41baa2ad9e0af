//! What differs between the two QEMU boards (selected by build.rs from the target),
//! and how the firmware ends: a semihosting exit status QEMU passes on.
use cortex_m_semihosting::debug;

/// Human name of the board, printed at start.
#[cfg(board = "mps2_an386")]
pub const NAME: &str = "QEMU mps2-an386 (Cortex-M4F, thumbv7em-none-eabihf)";
/// SysTick input clock in Hz (QEMU's mps2 system clock).
#[cfg(board = "mps2_an386")]
pub const CORE_HZ: u32 = 25_000_000;

/// Human name of the board, printed at start.
#[cfg(board = "microbit")]
pub const NAME: &str = "QEMU microbit (Cortex-M0, thumbv6m-none-eabi)";
/// SysTick input clock in Hz (nRF51 HFCLK).
#[cfg(board = "microbit")]
pub const CORE_HZ: u32 = 16_000_000;

/// Ends the QEMU run: exit status 0 when `ok`, 1 otherwise.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Any fault (including panic-probe's `udf` after a defmt panic) ends the run with
/// status 1 instead of hanging QEMU until `timeout` kills it.
#[cortex_m_rt::exception]
unsafe fn HardFault(_frame: &cortex_m_rt::ExceptionFrame) -> ! {
    exit(false)
}

/// Without defmt, a panic prints its message over semihosting and exits 1.
#[cfg(not(feature = "defmt"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    cortex_m_semihosting::hprintln!("PANIC: {}", info);
    exit(false)
}
