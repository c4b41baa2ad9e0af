//! The retry, backoff, timeout and pipeline types have the auto traits and
//! derives we promise: everything `Send + Sync` (a policy can be shared and a
//! call moved across threads), small values `Copy`, and a `Call` — which may
//! hold permits — neither `Copy` nor `Clone`.
//!
//! `cargo test -p steadfast --test pipeline_api -- --nocapture` prints the sizes.

use core::mem::size_of;

use steadfast::backoff::{Backoff, Jitter, Kind, Ratio};
use steadfast::outcome::{ErrorsFail, Outcome, Verdict};
use steadfast::pipeline::{
    self, Call, Event, Events, Failure, FallbackOn, Finish, Order, Pipeline, Step,
};
use steadfast::retry::{
    self, Budget, BudgetConfig, GiveUpReason, Retry, RetryDecision, TokenBucket, Unlimited,
};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::timeout::{self, Deadline, Elapsed};

fn send_sync<T: Send + Sync>() {}
fn copy<T: Copy>() {}

#[test]
fn auto_traits_and_derives() {
    send_sync::<Call>();
    send_sync::<Pipeline>();
    send_sync::<Budget>();
    send_sync::<TokenBucket>();
    copy::<Pipeline>();
    copy::<pipeline::Config>();
    copy::<Step>();
    copy::<Finish>();
    copy::<Failure>();
    copy::<Event>();
    copy::<Events>();
    copy::<Order>();
    copy::<FallbackOn>();
    copy::<Backoff>();
    copy::<Jitter>();
    copy::<Kind>();
    copy::<Ratio>();
    copy::<Retry>();
    copy::<retry::Config>();
    copy::<RetryDecision>();
    copy::<GiveUpReason>();
    copy::<BudgetConfig>();
    copy::<Unlimited>();
    copy::<Deadline>();
    copy::<Elapsed>();
    copy::<timeout::Config>();
    copy::<Outcome>();
    copy::<Verdict>();
    copy::<ErrorsFail>();
    copy::<SplitMix64>();
    copy::<Instant>();
    copy::<Duration>();
}

#[test]
fn sizes() {
    for (name, size) in [
        ("Call", size_of::<Call>()),
        ("Pipeline", size_of::<Pipeline>()),
        ("Event", size_of::<Event>()),
        ("Retry", size_of::<Retry>()),
        ("Backoff", size_of::<Backoff>()),
        ("Budget<10>", size_of::<Budget>()),
        ("Deadline", size_of::<Deadline>()),
    ] {
        println!("{name:>12}: {size} bytes");
    }
    // A call lives in every in-flight future, on an MCU too: keep it bounded
    // (128 bytes on a Cortex-M0, where the size report holds it; the pipeline
    // reference takes 8 here).
    assert!(
        size_of::<Call>() <= 136,
        "Call grew to {} bytes",
        size_of::<Call>()
    );
}
