//! `size_of` of each steadfast machine, in bytes (host, 64-bit).

use std::mem::size_of;

use steadfast::backoff::Backoff;
use steadfast::breaker::{Breaker, Consecutive, CountWindow, TimeWindow};
use steadfast::bulkhead::Bulkhead;
use steadfast::pipeline::{Call, Pipeline};
use steadfast::retry::{Budget, Retry, TokenBucket};
use steadfast::rng::SplitMix64;

fn main() {
    let rows: [(&str, usize); 12] = [
        ("Breaker<Consecutive>", size_of::<Breaker<Consecutive>>()),
        (
            "Breaker<CountWindow<64>>",
            size_of::<Breaker<CountWindow<64>>>(),
        ),
        (
            "Breaker<TimeWindow<10>>",
            size_of::<Breaker<TimeWindow<10>>>(),
        ),
        ("breaker::Permit", size_of::<steadfast::breaker::Permit>()),
        ("Backoff", size_of::<Backoff>()),
        ("Retry", size_of::<Retry>()),
        ("Budget<10>", size_of::<Budget<10>>()),
        ("TokenBucket", size_of::<TokenBucket>()),
        ("Bulkhead<10>", size_of::<Bulkhead<10>>()),
        ("Pipeline", size_of::<Pipeline>()),
        ("pipeline::Call", size_of::<Call>()),
        ("SplitMix64", size_of::<SplitMix64>()),
    ];
    for (name, bytes) in rows {
        println!("{name}\t{bytes}");
    }
}
