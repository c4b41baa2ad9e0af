//! `size_of` of each sturdy machine, in bytes (host, 64-bit).

use std::mem::size_of;

use sturdy::backoff::Backoff;
use sturdy::breaker::{Breaker, Consecutive, CountWindow, TimeWindow};
use sturdy::bulkhead::Bulkhead;
use sturdy::pipeline::{Call, Pipeline};
use sturdy::retry::{Budget, Retry, TokenBucket};
use sturdy::rng::SplitMix64;

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
        ("breaker::Permit", size_of::<sturdy::breaker::Permit>()),
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
