//! Bulkhead: any config, any clock, acquire / release / claim / cancel / expire / reset
//! in any order, checked after every step against a model of who holds what:
//! permits conserved (in_flight + available == max_concurrent, in_flight == permits
//! held + slots reserved for woken waiters), FIFO hand-over, no double release,
//! `poll_at` == the earliest deadline of a live waiter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadfast::bulkhead::{Acquire, Bulkhead, Claim, Config, Permit, Ticket};
use steadfast::time::Instant;
use steadfast_fuzz::{Clock, Input, trace};

const Q: usize = 6;

struct Held {
    permit: Permit,
    /// Number of resets before it was issued: older permits are stale.
    era: u32,
}

#[derive(Clone, Copy)]
struct Waiter {
    ticket: Ticket,
    deadline: Instant,
    granted: bool,
    era: u32,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let (max_concurrent, max_queue, max_wait) = (input.count(), input.count(), input.duration());
    let config = Config::DEFAULT
        .with_max_concurrent(max_concurrent)
        .with_max_queue(max_queue)
        .with_max_wait(max_wait);
    let mut b = match Bulkhead::<Q>::new(config) {
        Ok(b) => b,
        Err(e) => {
            match e.field {
                "max_concurrent" => assert_eq!(max_concurrent, 0),
                "max_queue" => assert!(max_queue as usize > Q),
                _ => panic!("{e}"),
            }
            return;
        }
    };
    let mut other = Bulkhead::<Q>::with_id(config, b.id().wrapping_add(1)).unwrap();
    let mut clock = Clock::default();
    let mut era = 0u32;
    let mut held: Vec<Held> = Vec::new();
    let mut leaked: Vec<u32> = Vec::new(); // eras of permits lost without release
    let mut waiters: Vec<Waiter> = Vec::new(); // FIFO order
    let (mut acquired, mut released, mut stale) = (0u64, 0u64, 0u64);
    let mut steps = 0;
    while !input.is_empty() && steps < 4_096 {
        steps += 1;
        let op = input.u8() % 10;
        trace!(
            "op {op} now={:?} high={:?} in_flight={} queued={} reserved={}",
            clock.now,
            clock.high,
            b.in_flight(),
            b.queued(),
            b.reserved()
        );
        match op {
            0 | 1 => clock.step(&mut input),
            2 | 3 => match b.try_acquire(touch(&mut clock, &mut waiters, era)) {
                Acquire::Permit(permit) => {
                    assert!(
                        waiters.iter().all(|w| w.era != era || w.granted),
                        "jumped a live queue"
                    );
                    acquired += 1;
                    held.push(Held { permit, era });
                }
                Acquire::Queued { ticket, deadline } => {
                    assert!(deadline > clock.high, "queued with a deadline already past");
                    assert!(deadline <= clock.high + config.max_wait());
                    waiters.push(Waiter {
                        ticket,
                        deadline,
                        granted: false,
                        era,
                    });
                }
                Acquire::Full => {}
            },
            4 | 5 if !held.is_empty() => {
                let h = held.swap_remove(usize::from(input.u8()) % held.len());
                trace!("  release era {} (now era {era})", h.era);
                let fresh = h.era == era;
                let before = b.stats();
                let next = b.release(h.permit, touch(&mut clock, &mut waiters, era));
                if fresh {
                    released += 1;
                    assert_eq!(b.stats().released, before.released + 1);
                    grant(next, &mut waiters, era);
                } else {
                    stale += 1;
                    assert!(next.is_none(), "a stale release freed a slot");
                }
            }
            6 if !waiters.is_empty() => {
                let pick = usize::from(input.u8());
                let now = touch(&mut clock, &mut waiters, era);
                if waiters.is_empty() {
                    // All expired: let `b` see the same instant.
                    let _ = b.handle_timeout(now);
                } else {
                    let i = pick % waiters.len();
                    let w = waiters[i];
                    match b.claim(w.ticket, now) {
                        Claim::Granted(permit) => {
                            assert!(w.granted && w.era == era, "claimed a slot never granted");
                            waiters.remove(i);
                            acquired += 1;
                            held.push(Held { permit, era });
                        }
                        Claim::Waiting { deadline } => {
                            assert!(!w.granted && w.era == era);
                            assert_eq!(deadline, w.deadline);
                            assert!(deadline > clock.high);
                        }
                        Claim::Expired => {
                            assert!(w.era != era, "a live ticket was reported expired");
                            waiters.remove(i);
                        }
                    }
                }
            }
            7 if !waiters.is_empty() => {
                let i = usize::from(input.u8()) % waiters.len();
                let w = waiters.remove(i);
                let next = b.cancel(w.ticket, touch(&mut clock, &mut waiters, era));
                if w.era == era && w.granted {
                    grant(next, &mut waiters, era);
                } else {
                    assert!(next.is_none(), "cancelling a plain waiter granted someone");
                }
            }
            8 => {
                let _ = b.handle_timeout(touch(&mut clock, &mut waiters, era));
                if let Some(t) = b.poll_at() {
                    assert!(t > clock.high, "poll_at is due right after handle_timeout");
                }
            }
            9 => match input.u8() % 4 {
                0 => {
                    b.reset(touch(&mut clock, &mut waiters, era));
                    era += 1;
                }
                1 if !held.is_empty() => {
                    // A permit handed to another pool is refused and changes nothing there;
                    // it is then lost, and its slot in `b` stays taken (hence `must_use`).
                    let h = held.swap_remove(0);
                    let (in_flight, before) = (other.in_flight(), other.stats().stale_releases);
                    assert!(other.release(h.permit, clock.now).is_none());
                    assert_eq!(
                        (other.in_flight(), other.stats().stale_releases),
                        (in_flight, before + 1)
                    );
                    leaked.push(h.era);
                }
                _ => {}
            },
            _ => {}
        }
        // --- invariants -------------------------------------------------------------
        let live: Vec<&Waiter> = waiters.iter().filter(|w| w.era == era).collect();
        let reserved = live.iter().filter(|w| w.granted).count() as u32;
        let queued = live.iter().filter(|w| !w.granted).count() as u32;
        let holding = (held.iter().filter(|h| h.era == era).count()
            + leaked.iter().filter(|&&e| e == era).count()) as u32;
        assert_eq!(b.reserved(), reserved, "reserved slots");
        assert_eq!(b.queued(), queued, "waiters");
        assert_eq!(
            b.in_flight(),
            holding + reserved,
            "in_flight == held + reserved"
        );
        assert!(b.in_flight() <= config.max_concurrent(), "over capacity");
        assert_eq!(
            b.in_flight() + b.available(),
            config.max_concurrent(),
            "permits conserved"
        );
        assert!(queued + reserved <= config.max_queue().min(Q as u32));
        if b.available() > 0 {
            assert_eq!(queued, 0, "a waiter waits while a slot is free");
        }
        let earliest = live.iter().filter(|w| !w.granted).map(|w| w.deadline).min();
        assert_eq!(b.poll_at(), earliest, "poll_at == earliest live deadline");
        let s = b.stats();
        assert_eq!(s.acquired, acquired);
        assert_eq!(s.released, released);
        assert!(s.stale_releases >= stale);
        assert_eq!(s.in_flight, b.in_flight());
        assert_eq!(s.waiting, queued);
        assert!(s.peak >= s.in_flight && s.peak <= config.max_concurrent());
    }
});

/// Reads the clock for `b`. Every bulkhead op first advances: waiters whose
/// deadline passed (at the bulkhead's clock-max) are gone before anything else.
fn touch(clock: &mut Clock, waiters: &mut Vec<Waiter>, era: u32) -> Instant {
    let now = clock.read();
    waiters.retain(|w| w.era != era || w.granted || clock.high < w.deadline);
    now
}

/// The released slot went to `next`: it must be the oldest live waiter not yet granted.
fn grant(next: Option<Ticket>, waiters: &mut [Waiter], era: u32) {
    let first = waiters.iter_mut().find(|w| w.era == era && !w.granted);
    match (next, first) {
        (Some(t), Some(w)) => {
            assert_eq!(t, w.ticket, "not FIFO");
            w.granted = true;
        }
        (Some(t), None) => panic!("granted {t:?}, which nobody is waiting for"),
        (None, Some(w)) => panic!("a slot was freed but {:?} still waits", w.ticket),
        (None, None) => {}
    }
}
