//! The public types have the auto traits and derives we promise, and stay small.
//!
//! `cargo test -p steadfast --test breaker_api -- --nocapture` prints the sizes.

use core::mem::size_of;

use steadfast::breaker::{
    Breaker, Config, Consecutive, CountWindow, Permit, Rejected, State, Stats, TimeWindow,
    Transition, Window, WindowCounts,
};
use steadfast::error::ConfigError;

fn send_sync<T: Send + Sync>() {}
fn copy<T: Copy>() {}
fn clone<T: Clone>() {}

#[test]
fn auto_traits_and_derives() {
    send_sync::<Breaker>();
    send_sync::<Breaker<CountWindow<64>>>();
    send_sync::<Breaker<TimeWindow<10>>>();
    send_sync::<Permit>();
    send_sync::<Config>();
    send_sync::<ConfigError>();
    // Small values are Copy.
    copy::<Config>();
    copy::<State>();
    copy::<Stats>();
    copy::<Transition>();
    copy::<Rejected>();
    copy::<WindowCounts>();
    copy::<ConfigError>();
    copy::<Consecutive>();
    copy::<CountWindow<64>>();
    copy::<TimeWindow<10>>();
    // The breaker is Clone but not Copy (no update through an accidental copy);
    // Permit is neither (single use): see the `compile_fail` examples on `Permit`
    // and `Breaker`.
    clone::<Breaker<CountWindow<64>>>();
    fn window<W: Window>() {}
    window::<Consecutive>();
}

#[test]
fn sizes() {
    let sizes = [
        ("Breaker<Consecutive>", size_of::<Breaker<Consecutive>>()),
        (
            "Breaker<CountWindow<64>>",
            size_of::<Breaker<CountWindow<64>>>(),
        ),
        (
            "Breaker<CountWindow<128, 2>>",
            size_of::<Breaker<CountWindow<128, 2>>>(),
        ),
        (
            "Breaker<TimeWindow<10>>",
            size_of::<Breaker<TimeWindow<10>>>(),
        ),
        ("Config", size_of::<Config>()),
        ("Stats", size_of::<Stats>()),
        ("State", size_of::<State>()),
        ("Consecutive", size_of::<Consecutive>()),
        ("CountWindow<64>", size_of::<CountWindow<64>>()),
        ("TimeWindow<10>", size_of::<TimeWindow<10>>()),
        ("Permit", size_of::<Permit>()),
        ("Rejected", size_of::<Rejected>()),
        ("Transition", size_of::<Transition>()),
    ];
    for (name, size) in sizes {
        println!("{name:30} {size:4} bytes");
    }
    // Regression guards (64-bit host). The config is stored inline: its
    // `metrics_only` flag pads it from 56 to 64 bytes.
    assert!(size_of::<Config>() <= 64);
    assert!(size_of::<Breaker<Consecutive>>() <= 128);
    assert!(size_of::<Breaker<CountWindow<64>>>() <= 152);
    // The runtime window length shares its `u16`s with the ring position: no growth.
    assert!(size_of::<Breaker<CountWindow<128, 2>>>() <= 168);
    assert!(size_of::<Permit>() <= 16);
    // A transition holds both states flat (16 B each) and its instant; its
    // `None` lives in a spare value of a byte.
    assert!(size_of::<Transition>() <= 40);
    assert_eq!(size_of::<Option<Transition>>(), size_of::<Transition>());
}
