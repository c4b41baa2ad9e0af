//! Public bulkhead and timeout types are `Send + Sync` (shareable behind a
//! mutex in any adapter) and `Copy`/`Clone` exactly as intended: decisions and
//! configs are `Copy`, the machine is `Clone` only (copying state by accident
//! is a bug), and `Permit` is neither (one permit, one release — the negative
//! half is a `compile_fail` doctest on `Permit`).

use steadfast::bulkhead::{
    Acquire, Bulkhead, Claim, Config, ConstConfig, Fixed, NoStats, Permit, Stats, Ticket,
};
use steadfast::error::ConfigError;
use steadfast::timeout::{self, Deadline, Elapsed};

fn send_sync<T: Send + Sync + 'static>() {}

/// A configuration fixed by type.
struct Bus;

impl ConstConfig for Bus {
    const CONFIG: Config = Config::DEFAULT.with_max_queue(8);
}
fn copy<T: Copy>() {}
fn clone<T: Clone>() {}
fn debug_eq<T: core::fmt::Debug + PartialEq + Eq>() {}

#[test]
fn send_and_sync() {
    send_sync::<Bulkhead<0>>();
    send_sync::<Bulkhead<16>>();
    send_sync::<Bulkhead<8, NoStats, Fixed<Bus>>>();
    send_sync::<Fixed<Bus>>();
    send_sync::<Permit>();
    send_sync::<Ticket>();
    send_sync::<Acquire>();
    send_sync::<Claim>();
    send_sync::<Config>();
    send_sync::<Stats>();
    send_sync::<ConfigError>();
    send_sync::<Deadline>();
    send_sync::<Elapsed>();
    send_sync::<timeout::Config>();
}

#[test]
fn copy_and_clone_as_intended() {
    copy::<Ticket>();
    copy::<Config>();
    copy::<Stats>();
    copy::<ConfigError>();
    copy::<Deadline>();
    copy::<Elapsed>();
    copy::<timeout::Config>();
    clone::<Bulkhead<4>>();
    clone::<Bulkhead<8, NoStats, Fixed<Bus>>>();
    copy::<Fixed<Bus>>();
    debug_eq::<Bulkhead<8, Stats, Fixed<Bus>>>();
    debug_eq::<Permit>();
    debug_eq::<Acquire>();
    debug_eq::<Claim>();
    debug_eq::<Bulkhead<4>>();
}

#[test]
fn errors_are_std_errors() {
    fn error<T: core::error::Error>() {}
    error::<ConfigError>();
    error::<Elapsed>();
}

#[test]
fn sizes_stay_small() {
    use core::mem::size_of;
    assert!(size_of::<Permit>() <= 8);
    assert!(size_of::<Ticket>() <= 8);
    assert!(size_of::<Deadline>() == 8);
    assert!(size_of::<Option<Deadline>>() <= 16);
    // Inline storage: 16 bytes per waiter.
    assert_eq!(size_of::<Bulkhead<8>>() - size_of::<Bulkhead<0>>(), 8 * 16);
    // A fixed configuration: nothing but the books and the queue.
    assert_eq!(size_of::<Fixed<Bus>>(), 0);
    assert!(size_of::<Bulkhead<8, NoStats, Fixed<Bus>>>() < size_of::<Bulkhead<8, NoStats>>());
}
