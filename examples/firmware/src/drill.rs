//! A failure drill on a healthy sensor: the core's fault-injection machine
//! ([`Chaos`]) NAKs every read inside a 60 ms window, and the breaker must go
//! through open and half-open and back to closed exactly as it would for a
//! real outage. The same seed injects the same faults on Tokio, in the
//! simulator and here: [`run`] replays every decision against a fresh machine
//! and rng and checks they agree bit for bit.
use core::cell::Cell;

use embassy_sync::blocking_mutex::Mutex as BlockingMutex;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use embassy_time::{Ticker, Timer};
use heapless::Vec;
use steadfast::breaker::{self, Breaker, State};
use steadfast::chaos::{self, Chaos, Fault, Injection};
use steadfast::outcome::ErrorsFail;
use steadfast::pipeline::{self, Event, Pipeline};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::{retry, valid};
use steadfast_embassy::{Observer, Policy, SharedBreaker, SharedRng};

use crate::clock;
use crate::scenario::{Failure, fail};
use crate::sensor::Nak;

/// Seed of the injection draws.
const SEED: u64 = 0xD_0111;
/// Polls of the drill, one every [`PERIOD`].
const POLLS: usize = 40;
const PERIOD: Duration = Duration::from_millis(5);
/// The window opens this long after the drill starts, for [`ACTIVE`].
const LEAD: Duration = Duration::from_millis(20);
const ACTIVE: Duration = Duration::from_millis(60);
/// Break duration of the drill's breaker.
const BREAK: Duration = Duration::from_millis(20);

/// 3 failures in a row open it for 20 ms; one probe closes it.
static BREAKER: SharedBreaker<Cs> = SharedBreaker::new(valid!(Breaker::new(
    breaker::Config::DEFAULT
        .with_failure_threshold(3)
        .with_break_duration(BREAK)
        .with_probes(1, 1)
)));
static JITTER: SharedRng<Cs> = SharedRng::new(SEED);
/// One attempt a read: what the breaker sees is what the drill injected.
static POLICY: Policy<'static, Cs> = Policy::new(
    valid!(Pipeline::new(
        pipeline::Config::DEFAULT.with_retry(retry::Config::DEFAULT.with_max_attempts(1))
    )),
    &JITTER,
)
.with_breaker(&BREAKER);

/// The breaker's transitions: when (ms since boot), and to which state (0
/// closed, 1 half-open, 2 open).
static TRANSITIONS: BlockingMutex<Cs, Cell<Transitions>> =
    BlockingMutex::new(Cell::new(Transitions::EMPTY));

#[derive(Clone, Copy)]
struct Transitions {
    at: [u64; 16],
    to: [u8; 16],
    len: usize,
}

impl Transitions {
    const EMPTY: Self = Self {
        at: [0; 16],
        to: [0; 16],
        len: 0,
    };
}

struct Watch;

impl Observer for Watch {
    fn on_event(&mut self, now: Instant, event: &Event) {
        if let Event::Breaker(t) = event {
            say!(
                "[{} ms] drill: breaker {} -> {}",
                now.as_millis(),
                t.from().name(),
                t.to().name()
            );
            let code = match t.to() {
                State::Closed => 0,
                State::HalfOpen { .. } => 1,
                _ => 2,
            };
            TRANSITIONS.lock(|c| {
                let mut t = c.get();
                if let (Some(at), Some(to)) = (t.at.get_mut(t.len), t.to.get_mut(t.len)) {
                    *at = now.as_millis();
                    *to = code;
                    t.len += 1;
                }
                c.set(t);
            });
        }
    }
}

/// One decision of the drill: when, and what was injected.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Decision {
    at: Instant,
    injection: Injection,
}

/// What the drill saw.
#[derive(Clone, Copy, Debug)]
pub struct Drill {
    /// Reads the drill failed on purpose.
    pub injected: u32,
    /// Reads the open breaker refused.
    pub rejected: u32,
    /// When the window opened and closed, and the breaker opened and closed
    /// for good, ms since boot.
    pub window: (u64, u64),
    /// First opening and last closing of the breaker, ms since boot.
    pub breaker: (u64, u64),
}

/// Runs the drill, prints its edges, checks the timeline and the replay.
pub async fn run() -> Result<Drill, Failure> {
    let start = clock::now();
    let window_from = start.saturating_add(LEAD);
    let window_until = window_from.saturating_add(ACTIVE);
    let config = chaos::Config::DEFAULT
        .with_enabled(true)
        .with_fault(chaos::PER_MILLION)
        .with_start(window_from.saturating_duration_since(Instant::ZERO))
        .with_window(Duration::from_secs(10), ACTIVE);
    let machine = Chaos::new(config).map_err(|_| fail("drill: chaos config", 0))?;
    let mut rng = SplitMix64::new(SEED);
    say!(
        "[{} ms] drill: faults injected from {} ms to {} ms",
        start.as_millis(),
        window_from.as_millis(),
        window_until.as_millis()
    );

    let mut decisions: Vec<Decision, POLLS> = Vec::new();
    let (mut injected, mut rejected) = (0u32, 0u32);
    let mut fails_outside = 0u32;
    let mut ticker = Ticker::every(clock::to_embassy(PERIOD));
    for _ in 0..POLLS {
        let mut watch = Watch;
        let mut decided: Option<Decision> = None;
        let result = POLICY
            .call_with(&ErrorsFail, &mut watch, || {
                let at = clock::now();
                let injection = machine.decide(at, &mut rng);
                decided = Some(Decision { at, injection });
                async move {
                    if let Some(delay) = injection.delay {
                        Timer::after(clock::to_embassy(delay)).await;
                    }
                    match injection.fault {
                        Some(Fault::Error | Fault::Outcome) => Err(Nak),
                        Some(Fault::Hang) => core::future::pending().await,
                        // The healthy sensor: half a millisecond a read.
                        None => {
                            Timer::after_micros(500).await;
                            Ok(2_000u16)
                        }
                    }
                }
            })
            .await;
        if let Some(d) = decided {
            decisions
                .push(d)
                .map_err(|_| fail("drill: decisions capacity", POLLS as u64))?;
            if d.injection.fault.is_some() {
                injected += 1;
            } else if result.is_err() {
                fails_outside += 1;
            }
        } else if result.as_ref().is_err_and(|e| e.is_rejection()) {
            rejected += 1;
        }
        ticker.next().await;
    }

    // Replay: a fresh machine and rng decide the same at the same instants.
    let replay = Chaos::new(config).map_err(|_| fail("drill: chaos config", 1))?;
    let mut again = SplitMix64::new(SEED);
    for (i, d) in decisions.iter().enumerate() {
        if replay.decide(d.at, &mut again) != d.injection {
            return Err(fail("drill: replay differs at decision", i as u64));
        }
    }
    check(
        injected,
        rejected,
        fails_outside,
        &decisions,
        (window_from, window_until),
    )
}

fn check(
    injected: u32,
    rejected: u32,
    fails_outside: u32,
    decisions: &[Decision],
    (from, until): (Instant, Instant),
) -> Result<Drill, Failure> {
    if fails_outside != 0 {
        return Err(fail("drill: a healthy read failed", fails_outside.into()));
    }
    for d in decisions {
        let inside = d.at >= from && d.at < until;
        if inside != d.injection.fault.is_some() {
            return Err(fail(
                "drill: injected exactly inside the window; at ms",
                d.at.as_millis(),
            ));
        }
    }
    if injected < 3 || rejected == 0 {
        return Err(fail(
            "drill: injected faults, then refusals",
            injected.into(),
        ));
    }
    let t = TRANSITIONS.lock(Cell::get);
    let seen = t.to.get(..t.len).unwrap_or(&[]);
    let at = t.at.get(..t.len).unwrap_or(&[]);
    // Open (the third injected NAK), half-open and re-open while the window
    // lasts, half-open and closed after it.
    let first_open = seen.iter().position(|&c| c == 2);
    let last = seen.len().checked_sub(1);
    let (Some(first_open), Some(last)) = (first_open, last) else {
        return Err(fail("drill: breaker transitions", t.len as u64));
    };
    let opened = at.get(first_open).copied().unwrap_or(0);
    let closed = at.get(last).copied().unwrap_or(0);
    let window = (from.as_millis(), until.as_millis());
    let probe_window = 3 * PERIOD.as_millis() + 1;
    if opened < window.0 || opened > window.0 + probe_window {
        return Err(fail(
            "drill: opened on the third injected NAK; at ms",
            opened,
        ));
    }
    if !seen.windows(2).any(|w| w == [1, 2]) {
        return Err(fail("drill: a half-open probe failed inside the window", 0));
    }
    if seen.get(last) != Some(&0) || BREAKER.state() != State::Closed {
        return Err(fail("drill: closed again after the window", closed));
    }
    let latest = window.1 + BREAK.as_millis() + 2 * PERIOD.as_millis();
    if closed < window.1 || closed > latest {
        return Err(fail(
            "drill: closed within a break of the window's end; at ms",
            closed,
        ));
    }
    Ok(Drill {
        injected,
        rejected,
        window,
        breaker: (opened, closed),
    })
}
