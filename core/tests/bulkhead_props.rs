//! The bulkhead, with its counters and without ([`NoStats`]), holding its
//! configuration or reading it from a constant ([`Fixed`]), against a tiny
//! reference model: random sequences of acquire /
//! release / claim / cancel / handle_timeout / reset / clock moves never panic,
//! give exactly the model's answers (FIFO grants, inclusive expiry), and keep
//! every slot accounted for: `in_flight + available == max_concurrent`, permits
//! held by the caller == permits the bulkhead thinks are out.

use std::collections::VecDeque;

use proptest::prelude::*;
use steadfast::bulkhead::{
    Acquire, Bulkhead, Claim, Config, ConfigSource, ConstConfig, Fixed, NoStats, Permit, Stats,
    StatsSlot, Ticket,
};
use steadfast::time::{Duration, Instant};

const Q: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    Acquire,
    /// Release the held permit at this index (modulo).
    Release(usize),
    /// Claim the ticket at this index among all tickets ever issued (stale ones too).
    Claim(usize),
    Cancel(usize),
    HandleTimeout,
    Reset,
    /// Release a permit from another pool.
    ForeignRelease,
    /// Move the clock forward by this many µs.
    Forward(u64),
    /// Move the clock backwards by this many µs.
    Backward(u64),
    /// Jump close to the end of time.
    NearEnd(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Acquire),
        3 => any::<usize>().prop_map(Op::Release),
        3 => any::<usize>().prop_map(Op::Claim),
        2 => any::<usize>().prop_map(Op::Cancel),
        1 => Just(Op::HandleTimeout),
        1 => Just(Op::Reset),
        1 => Just(Op::ForeignRelease),
        3 => (0u64..40).prop_map(Op::Forward),
        1 => (0u64..40).prop_map(Op::Backward),
        1 => (0u64..100).prop_map(Op::NearEnd),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Waiter {
    ticket: Ticket,
    deadline: Instant,
    granted: bool,
}

/// The reference: a VecDeque and a few counters, written for obviousness.
#[derive(Debug, Default)]
struct Model {
    max_concurrent: u32,
    max_queue: usize,
    max_wait: u64,
    permits: u32,
    queue: VecDeque<Waiter>,
    last_now: u64,
    expired: u64,
    cancelled: u64,
    claimed: u64,
    queued: u64,
    acquired: u64,
    rejected: u64,
    granted: u64,
}

impl Model {
    fn reserved(&self) -> u32 {
        self.queue.iter().filter(|w| w.granted).count() as u32
    }
    fn waiting(&self) -> u32 {
        self.queue.iter().filter(|w| !w.granted).count() as u32
    }
    fn in_flight(&self) -> u32 {
        self.permits + self.reserved()
    }
    fn advance(&mut self, now: u64) -> u64 {
        let now = now.max(self.last_now);
        self.last_now = now;
        let before = self.queue.len();
        self.queue
            .retain(|w| w.granted || now < w.deadline.as_micros());
        self.expired += (before - self.queue.len()) as u64;
        now
    }
    fn hand_on(&mut self) -> Option<Ticket> {
        let w = self.queue.iter_mut().find(|w| !w.granted)?;
        w.granted = true;
        self.granted += 1;
        Some(w.ticket)
    }
    fn position(&self, ticket: Ticket) -> Option<usize> {
        self.queue.iter().position(|w| w.ticket == ticket)
    }
}

/// A configuration fixed by type: `max_concurrent`, `max_queue` and
/// `max_wait` (µs) as parameters, pool id 1 (as the held kinds get).
struct Fix<const C: u32, const W: u32, const MICROS: u64>;

impl<const C: u32, const W: u32, const MICROS: u64> ConstConfig for Fix<C, W, MICROS> {
    const CONFIG: Config = Config::DEFAULT
        .with_max_concurrent(C)
        .with_max_queue(W)
        .with_max_wait(Duration::from_micros(MICROS));
    const ID: u32 = 1;
}

/// What the harness reads of a bulkhead under test through the methods each
/// kind has on its own (`const fn`s of the concrete kinds).
trait Kind: Sized {
    /// The bulkhead for `config` with pool id 1.
    fn build(config: Config) -> Self;
    /// Its counters, if it keeps them.
    fn counted(&self) -> Option<Stats>;
    fn free(&self) -> u32;
    fn limits(&self) -> Config;
    fn pool_id(&self) -> u32;
}

/// The readers every kind has: each is a `const fn` of its own kind's impl,
/// so generic code cannot call them through one bound.
macro_rules! readers {
    () => {
        fn counted(&self) -> Option<Stats> {
            S::of(self)
        }
        fn free(&self) -> u32 {
            self.available()
        }
        fn limits(&self) -> Config {
            *self.config()
        }
        fn pool_id(&self) -> u32 {
            self.id()
        }
    };
}

impl<S: Counts> Kind for Bulkhead<Q, S> {
    fn build(config: Config) -> Self {
        Self::with_id(config, 1).unwrap()
    }
    readers!();
}

impl<S: Counts, T: ConstConfig> Kind for Bulkhead<Q, S, Fixed<T>> {
    fn build(config: Config) -> Self {
        assert_eq!(config, T::CONFIG);
        Self::fixed().unwrap()
    }
    readers!();
}

/// The counters of a bulkhead that keeps them (`Stats`), `None` for `NoStats`.
trait Counts: StatsSlot {
    fn of<C: ConfigSource>(b: &Bulkhead<Q, Self, C>) -> Option<Stats>;
}

impl Counts for Stats {
    fn of<C: ConfigSource>(b: &Bulkhead<Q, Self, C>) -> Option<Stats> {
        Some(b.stats())
    }
}

impl Counts for NoStats {
    fn of<C: ConfigSource>(_: &Bulkhead<Q, Self, C>) -> Option<Stats> {
        None
    }
}

struct Harness<S: StatsSlot, C: ConfigSource> {
    b: Bulkhead<Q, S, C>,
    other: Bulkhead<Q>,
    m: Model,
    held: Vec<Permit>,
    tickets: Vec<Ticket>,
    now: u64,
}

impl<S: StatsSlot, C: ConfigSource> Harness<S, C>
where
    Bulkhead<Q, S, C>: Kind,
{
    fn step(&mut self, op: &Op) {
        let now = Instant::from_micros(self.now);
        match *op {
            Op::Acquire => {
                let eff = self.m.advance(self.now);
                let answer = self.b.try_acquire(now);
                if self.m.in_flight() < self.m.max_concurrent {
                    assert!(
                        self.m.queue.iter().all(|w| w.granted),
                        "free slot while someone waits"
                    );
                    let Acquire::Permit(p) = answer else {
                        panic!("expected permit, got {answer:?}")
                    };
                    self.m.permits += 1;
                    self.m.acquired += 1;
                    self.held.push(p);
                } else {
                    let deadline = eff.saturating_add(self.m.max_wait);
                    if deadline > eff && self.m.queue.len() < self.m.max_queue {
                        let Acquire::Queued {
                            ticket,
                            deadline: d,
                        } = answer
                        else {
                            panic!("expected queued, got {answer:?}")
                        };
                        assert_eq!(d.as_micros(), deadline);
                        assert!(!self.tickets.contains(&ticket), "ticket reused");
                        self.m.queue.push_back(Waiter {
                            ticket,
                            deadline: d,
                            granted: false,
                        });
                        self.m.queued += 1;
                        self.tickets.push(ticket);
                    } else {
                        assert_eq!(answer, Acquire::Full);
                        self.m.rejected += 1;
                    }
                }
            }
            Op::Release(i) => {
                if self.held.is_empty() {
                    return;
                }
                let p = self.held.swap_remove(i % self.held.len());
                self.m.advance(self.now);
                self.m.permits -= 1;
                let expected = self.m.hand_on();
                assert_eq!(self.b.release(p, now), expected);
            }
            Op::Claim(i) => {
                let Some(&ticket) = self.tickets.get(i % self.tickets.len().max(1)) else {
                    return;
                };
                self.m.advance(self.now);
                let answer = self.b.claim(ticket, now);
                match self.m.position(ticket) {
                    None => assert_eq!(answer, Claim::Expired),
                    Some(at) => {
                        let w = self.m.queue[at];
                        if w.granted {
                            let Claim::Granted(p) = answer else {
                                panic!("expected grant, got {answer:?}")
                            };
                            self.m.queue.remove(at);
                            self.m.permits += 1;
                            self.m.acquired += 1;
                            self.m.claimed += 1;
                            self.held.push(p);
                        } else {
                            assert_eq!(
                                answer,
                                Claim::Waiting {
                                    deadline: w.deadline
                                }
                            );
                        }
                    }
                }
            }
            Op::Cancel(i) => {
                let Some(&ticket) = self.tickets.get(i % self.tickets.len().max(1)) else {
                    return;
                };
                self.m.advance(self.now);
                let answer = self.b.cancel(ticket, now);
                let expected = match self.m.position(ticket) {
                    None => None,
                    Some(at) => {
                        let w = self.m.queue.remove(at).unwrap();
                        self.m.cancelled += 1;
                        if w.granted { self.m.hand_on() } else { None }
                    }
                };
                assert_eq!(answer, expected);
            }
            Op::HandleTimeout => {
                let before = self.m.expired;
                self.m.advance(self.now);
                assert_eq!(
                    u64::from(self.b.handle_timeout(now)),
                    self.m.expired - before
                );
            }
            Op::Reset => {
                self.b.reset(now);
                self.m.last_now = self.m.last_now.max(self.now);
                self.m.permits = 0;
                self.m.queue.clear();
                // Every permit held is now stale: releasing it must change nothing.
                for p in self.held.drain(..) {
                    let before = self.b.free();
                    assert_eq!(self.b.release(p, now), None);
                    assert_eq!(self.b.free(), before);
                }
                self.m.advance(self.now);
            }
            Op::ForeignRelease => {
                if let Acquire::Permit(p) = self.other.try_acquire(now) {
                    self.m.advance(self.now);
                    assert_eq!(self.b.release(p, now), None);
                }
            }
            Op::Forward(d) => self.now = self.now.saturating_add(d),
            Op::Backward(d) => self.now = self.now.saturating_sub(d),
            Op::NearEnd(d) => self.now = u64::MAX - d,
        }
        self.check();
    }

    fn check(&self) {
        let b = &self.b;
        let m = &self.m;
        let max = b.limits().max_concurrent();
        assert_eq!(b.pool_id(), 1);
        assert_eq!(b.in_flight() + b.free(), max, "slots conserved");
        assert!(b.in_flight() <= max);
        assert_eq!(b.in_flight(), m.in_flight(), "in_flight");
        assert_eq!(b.reserved(), m.reserved(), "reserved");
        assert_eq!(b.queued(), m.waiting(), "waiting");
        // No leak, no double count: every permit the bulkhead counts is in our hands.
        assert_eq!(
            (b.in_flight() - b.reserved()) as usize,
            self.held.len(),
            "permits held"
        );
        // While anyone waits, no slot is free (FIFO: no overtaking).
        if b.queued() > 0 {
            assert_eq!(b.free(), 0);
        }
        let expected_poll = m
            .queue
            .iter()
            .filter(|w| !w.granted)
            .map(|w| w.deadline)
            .min();
        assert_eq!(b.poll_at(), expected_poll, "poll_at");
        let Some(s) = b.counted() else {
            return;
        };
        assert_eq!(s.in_flight, m.in_flight());
        assert_eq!(s.waiting, m.waiting());
        assert_eq!(s.expired, m.expired, "expired");
        assert_eq!(s.cancelled, m.cancelled, "cancelled");
        assert_eq!(s.claimed, m.claimed, "claimed");
        assert_eq!(s.queued, m.queued, "queued");
        assert_eq!(s.acquired, m.acquired, "acquired");
        assert_eq!(s.rejected_full, m.rejected, "rejected");
        assert_eq!(s.granted, m.granted, "granted");
        assert!(s.peak >= s.in_flight && s.peak <= max);
    }
}

/// Runs `ops` on a bulkhead keeping its counters in `S` and reading its
/// configuration from `C`, against the model, then drains it: every slot
/// comes back.
fn run<S: StatsSlot, C: ConfigSource>(config: Config, ops: &[Op])
where
    Bulkhead<Q, S, C>: Kind,
{
    let b = Bulkhead::<Q, S, C>::build(config);
    let other = Bulkhead::<Q>::with_id(
        Config::DEFAULT
            .with_max_concurrent(64)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
        2,
    )
    .unwrap();
    let mut h = Harness {
        b,
        other,
        m: Model {
            max_concurrent: config.max_concurrent(),
            max_queue: config.max_queue() as usize,
            max_wait: config.max_wait().as_micros(),
            ..Model::default()
        },
        held: Vec::new(),
        tickets: Vec::new(),
        now: 0,
    };
    for op in ops {
        h.step(op);
    }
    // Drain: release everything, claim every grant; the pool ends empty.
    let end = Instant::from_micros(h.now);
    let mut wake: Vec<Ticket> = Vec::new();
    while let Some(p) = h.held.pop() {
        wake.extend(h.b.release(p, end));
    }
    while let Some(t) = wake.pop() {
        if let Claim::Granted(p) = h.b.claim(t, end) {
            wake.extend(h.b.release(p, end));
        }
    }
    // Everyone left gives up (a granted waiter's slot passes on, to be
    // cancelled in turn).
    for t in h.tickets.clone() {
        let _ = h.b.cancel(t, end);
    }
    assert_eq!(h.b.in_flight(), 0);
    assert_eq!(h.b.free(), config.max_concurrent());
    assert_eq!(h.b.queued(), 0);
    assert_eq!(h.b.poll_at(), None);
}

/// [`run`] for a configuration fixed by type ([`Fix`]), with counters and
/// without; `max_wait` is rounded down to the grid 0, 1, 20, 60 µs.
fn run_fixed(max_concurrent: u32, max_queue: u32, max_wait: u64, ops: &[Op]) {
    macro_rules! dispatch {
        ($($c:literal)*; $($w:literal)*) => { dispatch!(@c [$($c)*] [$($w)*]) };
        (@c [$($c:literal)*] $ws:tt) => {
            match max_concurrent { $($c => dispatch!(@w $c $ws),)* _ => unreachable!() }
        };
        (@w $c:literal [$($w:literal)*]) => {
            match max_queue { $($w => dispatch!(@t $c $w),)* _ => unreachable!() }
        };
        (@t $c:literal $w:literal) => {
            match max_wait {
                0 => both::<Fix<$c, $w, 0>>(ops),
                1..20 => both::<Fix<$c, $w, 1>>(ops),
                20..60 => both::<Fix<$c, $w, 20>>(ops),
                _ => both::<Fix<$c, $w, 60>>(ops),
            }
        };
    }
    fn both<T: ConstConfig>(ops: &[Op]) {
        run::<Stats, Fixed<T>>(T::CONFIG, ops);
        run::<NoStats, Fixed<T>>(T::CONFIG, ops);
    }
    dispatch!(1 2 3; 0 1 2 3 4)
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Miri runs every case ~1000x slower: a handful still checks for UB on real inputs.
        cases: if cfg!(miri) { 2 } else { 1_000 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn bulkhead_matches_the_model(
        max_concurrent in 1u32..=3,
        max_queue in 0u32..=Q as u32,
        max_wait in 0u64..=60,
        ops in prop::collection::vec(op(), 0..if cfg!(miri) { 24 } else { 120 }),
    ) {
        let config = Config::DEFAULT.with_max_concurrent(max_concurrent).with_max_queue(max_queue).with_max_wait(Duration::from_micros(max_wait));
        // With counters and without: both must give the model's answers.
        run::<Stats, Config>(config, &ops);
        run::<NoStats, Config>(config, &ops);
        // And from a constant, the same limits with the wait on a grid of
        // 0, 1, 20 and 60 µs (one type per configuration).
        run_fixed(max_concurrent, max_queue, max_wait, &ops);
    }

    /// Any config, any single call at any instant: no panic, books balanced.
    #[test]
    fn no_panic_on_any_input(
        max_concurrent in any::<u32>(),
        max_queue in any::<u32>(),
        max_wait in any::<u64>(),
        times in prop::collection::vec(any::<u64>(), 1..if cfg!(miri) { 12 } else { 40 }),
    ) {
        let config = Config::DEFAULT
            .with_max_concurrent(max_concurrent)
            .with_max_queue(max_queue)
            .with_max_wait(Duration::from_micros(max_wait));
        let Ok(mut b) = Bulkhead::<Q>::new(config) else {
            prop_assert!(max_concurrent == 0 || max_queue as usize > Q);
            return Ok(());
        };
        let mut held = Vec::new();
        let mut tickets = Vec::new();
        for (i, &t) in times.iter().enumerate() {
            let now = Instant::from_micros(t);
            match i % 5 {
                0 | 1 => match b.try_acquire(now) {
                    Acquire::Permit(p) => held.push(p),
                    Acquire::Queued { ticket, .. } => tickets.push(ticket),
                    Acquire::Full => {}
                },
                2 => if let Some(p) = held.pop() { let _ = b.release(p, now); },
                3 => if let Some(&t) = tickets.last()
                    && let Claim::Granted(p) = b.claim(t, now)
                {
                    held.push(p);
                },
                _ => { b.handle_timeout(now); if let Some(&t) = tickets.first() { let _ = b.cancel(t, now); } }
            }
            prop_assert_eq!(b.in_flight() + b.available(), max_concurrent);
            prop_assert_eq!((b.in_flight() - b.reserved()) as usize, held.len());
        }
    }
}
