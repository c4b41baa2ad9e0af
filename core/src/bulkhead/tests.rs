//! (Compiled only under `#[cfg(test)]`, from `mod.rs`.)
//! Timelines: exact grants, FIFO order, inclusive expiry, exact accounting.

use super::*;
use crate::time::Duration;

const fn at_ms(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn pool<const Q: usize>(max_concurrent: u32, max_queue: u32, wait_ms: u64) -> Bulkhead<Q> {
    match Bulkhead::new(
        Config::DEFAULT
            .with_max_concurrent(max_concurrent)
            .with_max_queue(max_queue)
            .with_max_wait(Duration::from_millis(wait_ms)),
    ) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    }
}

fn permit(a: Acquire) -> Permit {
    match a {
        Acquire::Permit(p) => p,
        other => panic!("expected a permit, got {other:?}"),
    }
}

fn queued(a: Acquire) -> (Ticket, Instant) {
    match a {
        Acquire::Queued { ticket, deadline } => (ticket, deadline),
        other => panic!("expected a queue place, got {other:?}"),
    }
}

fn granted(c: Claim) -> Permit {
    match c {
        Claim::Granted(p) => p,
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn conserved<const Q: usize>(b: &Bulkhead<Q>) {
    assert_eq!(b.in_flight() + b.available(), b.config().max_concurrent);
    let s = b.stats();
    assert_eq!(s.in_flight, b.in_flight());
    assert_eq!(s.waiting, b.queued());
}

#[test]
fn grants_exactly_max_concurrent_then_queues_then_rejects() {
    let mut b = pool::<2>(2, 2, 100);
    let p1 = permit(b.try_acquire(at_ms(0)));
    let p2 = permit(b.try_acquire(at_ms(0)));
    assert_eq!(b.available(), 0);
    let (w1, d1) = queued(b.try_acquire(at_ms(1)));
    let (w2, d2) = queued(b.try_acquire(at_ms(2)));
    assert_eq!((d1, d2), (at_ms(101), at_ms(102)));
    assert_eq!(b.try_acquire(at_ms(3)), Acquire::Full);
    assert_eq!(b.queued(), 2);
    assert_eq!(b.poll_at(), Some(at_ms(101)));
    conserved(&b);

    // FIFO: the first release goes to w1, the second to w2.
    assert_eq!(b.release(p2, at_ms(10)), Some(w1));
    assert_eq!(b.release(p1, at_ms(11)), Some(w2));
    assert_eq!(b.reserved(), 2);
    assert_eq!(b.in_flight(), 2);
    assert_eq!(b.poll_at(), None);
    conserved(&b);
    let q1 = granted(b.claim(w1, at_ms(12)));
    let q2 = granted(b.claim(w2, at_ms(12)));
    assert_eq!(b.reserved(), 0);
    assert_eq!(b.release(q1, at_ms(20)), None);
    assert_eq!(b.release(q2, at_ms(20)), None);
    assert_eq!(b.available(), 2);
    let s = b.stats();
    assert_eq!(
        (
            s.acquired,
            s.claimed,
            s.queued,
            s.granted,
            s.rejected_full,
            s.released,
            s.peak
        ),
        (4, 2, 2, 2, 1, 4, 2)
    );
    conserved(&b);
}

#[test]
fn fifo_order_survives_cancels_in_the_middle() {
    let mut b = pool::<4>(1, 4, 1_000);
    let p = permit(b.try_acquire(at_ms(0)));
    let tickets: [Ticket; 4] = core::array::from_fn(|i| queued(b.try_acquire(at_ms(i as u64))).0);
    assert_eq!(b.cancel(tickets[1], at_ms(5)), None);
    assert_eq!(b.cancel(tickets[2], at_ms(5)), None);
    assert_eq!(b.queued(), 2);
    let next = b.release(p, at_ms(6));
    assert_eq!(next, Some(tickets[0]));
    let p = granted(b.claim(tickets[0], at_ms(6)));
    assert_eq!(b.release(p, at_ms(7)), Some(tickets[3]));
    assert_eq!(b.stats().cancelled, 2);
    conserved(&b);
}

#[test]
fn ring_buffer_wraps() {
    let mut b = pool::<3>(1, 3, 1_000);
    let mut p = permit(b.try_acquire(at_ms(0)));
    let mut waiting = [
        queued(b.try_acquire(at_ms(0))).0,
        queued(b.try_acquire(at_ms(0))).0,
    ];
    for round in 0..20u64 {
        // Keep two waiting while the head walks round the ring.
        let (newest, _) = queued(b.try_acquire(at_ms(round)));
        assert_eq!(b.try_acquire(at_ms(round)), Acquire::Full);
        assert_eq!(b.release(p, at_ms(round)), Some(waiting[0]));
        p = granted(b.claim(waiting[0], at_ms(round)));
        waiting = [waiting[1], newest];
        conserved(&b);
    }
    assert_eq!(b.queued(), 2);
}

#[test]
fn expiry_is_inclusive_and_expired_waiters_are_never_granted() {
    let mut b = pool::<2>(1, 2, 100);
    let p = permit(b.try_acquire(at_ms(0)));
    let (w1, d1) = queued(b.try_acquire(at_ms(0)));
    let (w2, _) = queued(b.try_acquire(at_ms(50)));
    assert_eq!(d1, at_ms(100));
    assert_eq!(
        b.claim(w1, at_ms(99)),
        Claim::Waiting {
            deadline: at_ms(100)
        }
    );
    // Released exactly at w1's deadline: w1 is expired, w2 gets the slot.
    assert_eq!(b.release(p, at_ms(100)), Some(w2));
    assert_eq!(b.claim(w1, at_ms(100)), Claim::Expired);
    let s = b.stats();
    assert_eq!((s.expired, s.granted), (1, 1));
    let p = granted(b.claim(w2, at_ms(500))); // a grant is final, even past w2's deadline
    assert_eq!(b.release(p, at_ms(501)), None);
    conserved(&b);
}

#[test]
fn handle_timeout_and_poll_at_at_exact_instants() {
    let mut b = pool::<3>(1, 3, 100);
    let _busy = permit(b.try_acquire(at_ms(0)));
    let _ = queued(b.try_acquire(at_ms(10)));
    let _ = queued(b.try_acquire(at_ms(20)));
    assert_eq!(b.poll_at(), Some(at_ms(110)));
    assert_eq!(b.handle_timeout(at_ms(109)), 0);
    assert_eq!(b.handle_timeout(at_ms(110)), 1);
    assert_eq!(b.poll_at(), Some(at_ms(120)));
    assert_eq!(b.handle_timeout(at_ms(500)), 1);
    assert_eq!(b.poll_at(), None);
    assert_eq!(b.handle_timeout(at_ms(600)), 0);
    assert_eq!(b.stats().expired, 2);
    conserved(&b);
}

#[test]
fn try_acquire_removes_expired_waiters_first() {
    let mut b = pool::<1>(1, 1, 100);
    let _busy = permit(b.try_acquire(at_ms(0)));
    let (old, _) = queued(b.try_acquire(at_ms(0)));
    // The queue of one is full until the waiter expires at t=100.
    assert_eq!(b.try_acquire(at_ms(99)), Acquire::Full);
    let (new, d) = queued(b.try_acquire(at_ms(100)));
    assert_eq!(d, at_ms(200));
    assert_eq!(b.claim(old, at_ms(100)), Claim::Expired);
    assert_eq!(
        b.claim(new, at_ms(100)),
        Claim::Waiting {
            deadline: at_ms(200)
        }
    );
}

#[test]
fn queue_of_zero_rejects_at_once() {
    let mut b = pool::<4>(1, 0, 5_000);
    let _p = permit(b.try_acquire(at_ms(0)));
    assert_eq!(b.try_acquire(at_ms(0)), Acquire::Full);
    assert_eq!(b.queued(), 0);
    assert_eq!(b.poll_at(), None);
    let mut b = pool::<0>(2, 0, 0);
    let _p1 = permit(b.try_acquire(at_ms(0)));
    let _p2 = permit(b.try_acquire(at_ms(0)));
    assert_eq!(b.try_acquire(at_ms(0)), Acquire::Full);
    assert_eq!(b.stats().rejected_full, 1);
}

#[test]
fn max_wait_of_zero_rejects_at_once() {
    let mut b = pool::<4>(1, 4, 0);
    let _p = permit(b.try_acquire(at_ms(0)));
    assert_eq!(b.try_acquire(at_ms(0)), Acquire::Full);
    assert_eq!(b.queued(), 0);
}

#[test]
fn cancel_of_a_granted_waiter_passes_the_slot_on() {
    let mut b = pool::<3>(1, 3, 1_000);
    let p = permit(b.try_acquire(at_ms(0)));
    let (a, _) = queued(b.try_acquire(at_ms(1)));
    let (c, _) = queued(b.try_acquire(at_ms(2)));
    assert_eq!(b.release(p, at_ms(3)), Some(a));
    assert_eq!(b.cancel(a, at_ms(4)), Some(c));
    assert_eq!(b.in_flight(), 1);
    // Cancelling the last granted waiter frees the slot.
    assert_eq!(b.cancel(c, at_ms(5)), None);
    assert_eq!(b.available(), 1);
    assert_eq!(b.claim(a, at_ms(6)), Claim::Expired);
    assert_eq!(b.claim(c, at_ms(6)), Claim::Expired);
    let s = b.stats();
    assert_eq!((s.cancelled, s.granted, s.claimed), (2, 2, 0));
    conserved(&b);
}

#[test]
fn cancel_skips_expired_waiters_when_passing_on() {
    let mut b = pool::<3>(1, 3, 100);
    let p = permit(b.try_acquire(at_ms(0)));
    let (a, _) = queued(b.try_acquire(at_ms(0)));
    let (c, _) = queued(b.try_acquire(at_ms(0)));
    let (d, _) = queued(b.try_acquire(at_ms(50)));
    assert_eq!(b.release(p, at_ms(10)), Some(a));
    // At t=100 c has expired: a's slot goes to d.
    assert_eq!(b.cancel(a, at_ms(100)), Some(d));
    assert_eq!(b.claim(c, at_ms(100)), Claim::Expired);
    assert!(matches!(b.claim(d, at_ms(100)), Claim::Granted(_)));
}

#[test]
fn tickets_and_permits_are_single_use() {
    let mut b = pool::<1>(1, 1, 100);
    let p = permit(b.try_acquire(at_ms(0)));
    let (w, _) = queued(b.try_acquire(at_ms(0)));
    assert_eq!(b.release(p, at_ms(1)), Some(w));
    let p = granted(b.claim(w, at_ms(1)));
    assert_eq!(b.claim(w, at_ms(1)), Claim::Expired);
    assert_eq!(b.cancel(w, at_ms(1)), None);
    assert_eq!(b.in_flight(), 1);
    assert_eq!(b.release(p, at_ms(2)), None);
    assert_eq!(b.in_flight(), 0);
    conserved(&b);
}

#[test]
fn foreign_and_stale_permits_cannot_inflate_capacity() {
    let mut a = pool::<1>(1, 1, 100);
    let mut other = match Bulkhead::<1>::with_id(*a.config(), a.id().wrapping_add(1)) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let pa = permit(a.try_acquire(at_ms(0)));
    let po = permit(other.try_acquire(at_ms(0)));
    assert_eq!(a.release(po, at_ms(1)), None);
    assert_eq!(a.in_flight(), 1);
    assert_eq!(
        a.try_acquire(at_ms(1)),
        Acquire::Queued {
            ticket: Ticket {
                pool: a.id(),
                seq: 0
            },
            deadline: at_ms(101)
        }
    );
    // A ticket from the other pool names nobody here.
    let foreign = Ticket {
        pool: other.id(),
        seq: 0,
    };
    assert_eq!(a.claim(foreign, at_ms(2)), Claim::Expired);
    assert_eq!(a.cancel(foreign, at_ms(2)), None);
    assert_eq!(a.queued(), 1);

    // Reset: new epoch, the old permit is stale.
    a.reset(at_ms(3));
    assert_eq!((a.in_flight(), a.queued()), (0, 0));
    assert_eq!(a.release(pa, at_ms(4)), None);
    assert_eq!(a.available(), 1);
    assert_eq!(a.stats().stale_releases, 2);
    conserved(&a);

    // Differently configured pools differ by default.
    let c = pool::<1>(2, 1, 100);
    assert_ne!(a.id(), c.id());
}

#[test]
fn release_with_no_permit_out_is_ignored() {
    let mut b = pool::<1>(1, 1, 100);
    let mut twin = b.clone();
    let p = permit(twin.try_acquire(at_ms(0))); // same id and epoch: indistinguishable
    assert_eq!(b.release(p, at_ms(0)), None);
    assert_eq!(b.available(), 1);
    assert_eq!(b.stats().stale_releases, 1);
}

#[test]
fn clock_going_backwards_is_clamped() {
    let mut b = pool::<2>(1, 2, 100);
    let p = permit(b.try_acquire(at_ms(1_000)));
    let (w, d) = queued(b.try_acquire(at_ms(500))); // behaves as t=1000
    assert_eq!(d, at_ms(1_100));
    assert_eq!(
        b.claim(w, at_ms(0)),
        Claim::Waiting {
            deadline: at_ms(1_100)
        }
    );
    assert_eq!(b.handle_timeout(at_ms(1_100)), 1);
    // Going back after expiry does not revive it.
    assert_eq!(b.claim(w, at_ms(0)), Claim::Expired);
    assert_eq!(b.release(p, at_ms(0)), None);
    conserved(&b);
}

#[test]
fn near_the_end_of_time() {
    let end = Instant::MAX;
    let mut b = pool::<2>(1, 2, 100);
    let p = permit(b.try_acquire(Instant::from_micros(u64::MAX - 50_000)));
    // Deadline saturates at MAX.
    let (w, d) = queued(b.try_acquire(Instant::from_micros(u64::MAX - 50_000)));
    assert_eq!(d, end);
    assert_eq!(b.poll_at(), Some(end));
    assert_eq!(b.handle_timeout(Instant::from_micros(u64::MAX - 1)), 0);
    // At MAX every wait has ended, and nobody can queue any more.
    assert_eq!(b.try_acquire(end), Acquire::Full);
    assert_eq!(b.claim(w, end), Claim::Expired);
    assert_eq!(b.release(p, end), None);
    let p = permit(b.try_acquire(end));
    assert_eq!(b.release(p, end), None);
    conserved(&b);
}

#[test]
fn config_is_validated_naming_the_field() {
    let err = |r: Result<Bulkhead<2>, ConfigError>| r.err().map(|e| e.field);
    assert_eq!(
        err(Bulkhead::new(Config {
            max_concurrent: 0,
            ..Config::DEFAULT
        })),
        Some("max_concurrent")
    );
    assert_eq!(err(Bulkhead::new(Config::DEFAULT)), Some("max_queue"));
    assert_eq!(
        err(Bulkhead::new(Config {
            max_queue: 2,
            ..Config::DEFAULT
        })),
        None
    );
    assert_eq!(
        Bulkhead::<0>::new(Config {
            max_queue: 1,
            ..Config::DEFAULT
        })
        .err()
        .map(|e| e.field),
        Some("max_queue")
    );
    let widest = Config::DEFAULT
        .with_max_concurrent(1)
        .with_max_queue(u32::MAX)
        .with_max_wait(Duration::MAX);
    assert!(widest.validate(usize::MAX).is_ok());
}

#[test]
fn peak_tracks_the_highest_in_flight() {
    let mut b = pool::<0>(3, 0, 0);
    let p1 = permit(b.try_acquire(at_ms(0)));
    let p2 = permit(b.try_acquire(at_ms(0)));
    let _ = b.release(p1, at_ms(1));
    let _ = b.release(p2, at_ms(1));
    let p3 = permit(b.try_acquire(at_ms(2)));
    assert_eq!(b.stats().peak, 2);
    assert_eq!(b.stats().in_flight, 1);
    let _ = b.release(p3, at_ms(3));
}

/// One slot, a queue of 2, 100 ms waits: the fixed pools' configuration.
struct OneSlot;

impl ConstConfig for OneSlot {
    const CONFIG: Config = Config::DEFAULT
        .with_max_concurrent(1)
        .with_max_queue(2)
        .with_max_wait(Duration::from_millis(100));
}

#[test]
fn a_fixed_config_decides_as_the_held_one() {
    let mut fixed = match Bulkhead::<2, Stats, Fixed<OneSlot>>::fixed() {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let mut held = pool::<2>(1, 2, 100);
    assert_eq!(*fixed.config(), *held.config());
    // The default id is the one `new` gives a storage of exactly `max_queue`.
    assert_eq!(fixed.id(), held.id());
    for b in [&mut fixed as &mut dyn Timeline, &mut held] {
        b.run();
    }
    assert_eq!(fixed.stats(), held.stats());
    assert_eq!(fixed.available(), held.available());
}

/// The same timeline on either kind of bulkhead.
trait Timeline {
    fn run(&mut self);
}

impl<C: ConfigSource> Timeline for Bulkhead<2, Stats, C> {
    fn run(&mut self) {
        let p = permit(self.try_acquire(at_ms(0)));
        let (a, d) = queued(self.try_acquire(at_ms(10)));
        assert_eq!(d, at_ms(110));
        let (c, _) = queued(self.try_acquire(at_ms(20)));
        assert_eq!(self.try_acquire(at_ms(30)), Acquire::Full);
        assert_eq!(self.poll_at(), Some(at_ms(110)));
        assert_eq!(self.release(p, at_ms(40)), Some(a));
        assert_eq!(self.poll_at(), Some(at_ms(120)));
        assert_eq!(self.handle_timeout(at_ms(120)), 1);
        assert_eq!(self.claim(c, at_ms(120)), Claim::Expired);
        let p = granted(self.claim(a, at_ms(200)));
        assert_eq!(self.release(p, at_ms(201)), None);
        assert_eq!(self.in_flight(), 0);
    }
}

#[test]
fn a_fixed_config_is_validated_for_q_naming_the_field() {
    struct NoSlot;
    impl ConstConfig for NoSlot {
        const CONFIG: Config = Config::DEFAULT.with_max_concurrent(0);
    }
    let field = |r: Result<(), ConfigError>| r.err().map(|e| e.field);
    let fixed = Bulkhead::<10, NoStats, Fixed<NoSlot>>::fixed().map(|_| ());
    assert_eq!(field(fixed), Some("max_concurrent"));
    // A queue of 2 does not fit a storage of 1.
    let fixed = Bulkhead::<1, NoStats, Fixed<OneSlot>>::fixed().map(|_| ());
    let held = Bulkhead::<1, NoStats>::without_stats(OneSlot::CONFIG).map(|_| ());
    assert_eq!(fixed, held);
    assert_eq!(field(fixed), Some("max_queue"));
}

#[test]
fn a_fixed_config_holds_neither_config_nor_id() {
    use core::mem::size_of;
    // The config and the id, and the padding after them on some targets.
    assert!(
        size_of::<Bulkhead<4, NoStats>>() - size_of::<Bulkhead<4, NoStats, Fixed<OneSlot>>>()
            >= size_of::<Config>() + size_of::<u32>()
    );
    struct Named;
    impl ConstConfig for Named {
        const CONFIG: Config = OneSlot::CONFIG;
        const ID: u32 = 9;
    }
    let mut b = match Bulkhead::<2, NoStats, Fixed<Named>>::fixed() {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let p = permit(b.try_acquire(at_ms(0)));
    assert_eq!(p.pool(), 9);
    let (t, _) = queued(b.try_acquire(at_ms(0)));
    assert_eq!(t, Ticket { pool: 9, seq: 0 });
    // A permit of a pool that holds the same config and id 9 is taken as ours;
    // of another id it is not.
    let mut other = match Bulkhead::<2, NoStats>::with_id(OneSlot::CONFIG, 8) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let foreign = permit(other.try_acquire(at_ms(0)));
    assert_eq!(b.release(foreign, at_ms(1)), None);
    assert_eq!(b.in_flight(), 1);
    assert_eq!(b.release(p, at_ms(2)), Some(t));
}
