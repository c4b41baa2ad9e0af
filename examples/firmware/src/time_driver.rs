//! Minimal `embassy-time` driver on the Cortex-M SysTick (1 kHz tick), chip-independent.
//!
//! Why not a chip HAL's driver: under QEMU 7.2 embassy-stm32 hangs in `init` (no RCC
//! model) and embassy-nrf's RTC1 never fires; SysTick exists on every Cortex-M and
//! QEMU drives it from host time. Timers live in the executor's task headers
//! (`embassy-time-queue-utils`' integrated queue); the SysTick handler wakes them.
use core::cell::{Cell, RefCell};
use core::task::Waker;
use cortex_m::peripheral::{SYST, syst::SystClkSource};
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    next: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    next: Mutex::new(Cell::new(u64::MAX)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

/// Starts the 1 kHz tick; `core_hz` is the SysTick input clock of the board.
pub fn init(mut syst: SYST, core_hz: u32) {
    const { assert!(embassy_time_driver::TICK_HZ == 1_000) };
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(core_hz / 1_000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow_ref_mut(cs);
            if queue.schedule_wake(at, waker) {
                let now = self.ticks.borrow(cs).get();
                self.next.borrow(cs).set(queue.next_expiration(now));
            }
        })
    }
}

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let now = DRIVER.ticks.borrow(cs).get() + 1;
        DRIVER.ticks.borrow(cs).set(now);
        if now >= DRIVER.next.borrow(cs).get() {
            let next = DRIVER.queue.borrow_ref_mut(cs).next_expiration(now);
            DRIVER.next.borrow(cs).set(next);
        }
    });
}
