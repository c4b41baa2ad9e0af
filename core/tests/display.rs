//! What `Display` prints for the types people log: durations, instants,
//! transitions and rejections.

use steadfast::breaker::{Rejected, State, Transition};
use steadfast::time::{Duration, Instant};

#[test]
fn durations_and_instants() {
    assert_eq!(format!("{}", Duration::ZERO), "0s");
    assert_eq!(format!("{}", Duration::from_millis(1_500)), "1.5s");
    assert_eq!(format!("{}", Duration::from_micros(1)), "0.000001s");
    assert_eq!(format!("{}", Duration::from_micros(120)), "0.00012s");
    assert_eq!(format!("{}", Instant::from_secs(31)), "t=31s");
    assert_eq!(format!("{}", Instant::MAX), "t=18446744073709.551615s");
}

#[test]
fn transitions_and_rejections() {
    let t = Instant::from_secs;
    let tr = Transition::new(
        State::HalfOpen {
            probes_in_flight: 2,
            successes: 1,
            deadline: Some(t(64)),
        },
        State::Open { until: t(94) },
        t(64),
    );
    assert_eq!(
        format!("{tr}"),
        "t=64s: half-open (2 in flight, 1 ok) -> open until t=94s"
    );
    assert_eq!(
        format!(
            "{}",
            Rejected {
                retry_at: Some(t(34))
            }
        ),
        "circuit breaker open, retry at t=34s"
    );
}

#[test]
fn transitions_print_their_states() {
    let t = Instant::from_secs;
    let states = [
        State::Closed,
        State::Open { until: t(34) },
        State::HalfOpen {
            probes_in_flight: 0,
            successes: 0,
            deadline: None,
        },
        State::HalfOpen {
            probes_in_flight: 2,
            successes: 1,
            deadline: Some(t(64)),
        },
        State::ForcedOpen,
        State::Disabled,
    ];
    for from in states {
        for to in states {
            let tr = Transition::new(from, to, t(9));
            assert_eq!(format!("{tr}"), format!("t=9s: {from} -> {to}"));
            assert_eq!(
                format!("{tr:?}"),
                format!(
                    "Transition {{ from: {from:?}, to: {to:?}, at: {:?} }}",
                    t(9)
                )
            );
        }
    }
}
