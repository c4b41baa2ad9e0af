//! The adapter on the host (embassy-time's std driver, real time, short
//! durations): it makes the core's decisions and nothing else, and a dropped
//! call future leaks nothing.
#![allow(missing_docs)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration as StdDuration;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use embassy_time::Timer;
use steadfast::backoff::Backoff;
use steadfast::breaker::{self, Breaker, State};
use steadfast::bulkhead::{self, Bulkhead};
use steadfast::outcome::Verdict;
use steadfast::pipeline::{self, Call, Pipeline, Reason, Shared, Step};
use steadfast::retry;
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::timeout;
use steadfast_embassy::{Error, Input, Observer, Policy, SharedBreaker, SharedBulkhead, SharedRng};

const SEED: u64 = 0x5EED;
const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// --- a tiny executor: polls a set of futures, parks between wakes ------------------------

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A future being driven by hand; dropping it cancels it.
struct Task<'a, T> {
    fut: Option<Pin<Box<dyn Future<Output = T> + 'a>>>,
    out: Option<T>,
}

impl<'a, T> Task<'a, T> {
    fn new(fut: impl Future<Output = T> + 'a) -> Self {
        Self {
            fut: Some(Box::pin(fut)),
            out: None,
        }
    }
    fn poll(&mut self, waker: &Waker) {
        if let Some(fut) = self.fut.as_mut()
            && let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(waker))
        {
            self.out = Some(v);
            self.fut = None;
        }
    }
    fn cancel(&mut self) {
        self.fut = None;
    }
}

/// Polls `tasks` until `done` holds (or 5 s pass: the test then fails).
fn drive<T>(tasks: &mut [&mut Task<'_, T>], mut done: impl FnMut(&[&mut Task<'_, T>]) -> bool) {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let give_up = std::time::Instant::now() + StdDuration::from_secs(5);
    loop {
        for t in tasks.iter_mut() {
            t.poll(&waker);
        }
        if done(tasks) {
            return;
        }
        assert!(std::time::Instant::now() < give_up, "scenario stuck");
        std::thread::park_timeout(StdDuration::from_millis(50));
    }
}

fn block_on<T>(fut: impl Future<Output = T>) -> T {
    let mut task = Task::new(fut);
    drive(&mut [&mut task], |t| t[0].out.is_some());
    task.out.take().unwrap_or_else(|| unreachable!())
}

// --- the machines of one scenario ---------------------------------------------------------

fn breaker_config() -> breaker::Config {
    breaker::Config::new()
        .with_failure_threshold(2)
        .with_break_duration(ms(40))
        .with_probes(1, 1)
}

fn bulkhead_config() -> bulkhead::Config {
    bulkhead::Config::DEFAULT
        .with_max_concurrent(1)
        .with_max_queue(2)
        .with_max_wait(ms(1_000))
}

fn pipeline() -> Pipeline {
    let retry = retry::Config::DEFAULT
        .with_max_attempts(3)
        .with_backoff(Backoff::constant(ms(5)));
    Pipeline::new(
        pipeline::Config::DEFAULT
            .with_retry(retry)
            .with_timeout(timeout::Config::NONE.with_attempt(ms(15))),
    )
    .unwrap()
}

struct Machines {
    breaker: SharedBreaker<Cs>,
    bulkhead: SharedBulkhead<Cs, 2>,
    rng: SharedRng<Cs>,
}

impl Machines {
    fn new() -> Self {
        Self {
            breaker: SharedBreaker::new(
                Breaker::new(breaker_config()).unwrap_or_else(|e| panic!("{e}")),
            ),
            bulkhead: SharedBulkhead::new(
                Bulkhead::new(bulkhead_config()).unwrap_or_else(|e| panic!("{e}")),
            ),
            rng: SharedRng::new(SEED),
        }
    }
    fn policy(&self) -> Policy<'_, Cs, breaker::Consecutive, &'_ SharedBulkhead<Cs, 2>> {
        Policy::new(pipeline(), &self.rng)
            .with_breaker(&self.breaker)
            .with_bulkhead(&self.bulkhead)
    }
    /// Nothing held, nobody queued, no waker slot left behind.
    fn assert_idle(&self) {
        assert_eq!(self.bulkhead.in_flight(), 0, "bulkhead slot leaked");
        assert_eq!(self.bulkhead.queued(), 0, "queue place leaked");
        assert_eq!(self.bulkhead.waiters(), 0, "waker slot leaked");
    }
}

/// Records what the adapter fed the pipeline and what it answered.
#[derive(Default)]
struct Trace {
    steps: Vec<(Instant, Input, Step)>,
}

impl Observer for Trace {
    fn on_step(&mut self, now: Instant, input: Input, step: &Step) {
        self.steps.push((now, input, *step));
    }
}

/// Replays a trace through the core directly, with fresh machines and the same
/// seed: every step must be the one the adapter got.
fn replay(trace: &Trace) {
    let mut breaker: Breaker = Breaker::new(breaker_config()).unwrap_or_else(|e| panic!("{e}"));
    let mut pool = Bulkhead::<2>::new(bulkhead_config()).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = SplitMix64::new(SEED);
    let started = trace.steps.first().map_or(Instant::ZERO, |s| s.0);
    let pipeline = pipeline();
    let mut call: Call = pipeline.start(started);
    for (now, input, step) in &trace.steps {
        let mut shared = Shared::new()
            .with_breaker(&mut breaker)
            .with_bulkhead(&mut pool);
        let core = call.handle(*input, *now, &mut shared, &mut rng);
        assert_eq!(&core, step, "at {now}: the core decided otherwise");
    }
}

/// The kinds of steps, without instants: what a virtual-clock run must match.
fn kinds(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|s| match s {
            Step::Attempt { attempt, .. } => format!("attempt {attempt}"),
            Step::Wait { .. } => "wait".into(),
            Step::Queued { .. } => "queued".into(),
            Step::Done(f) => {
                let debug = f.failure().map(|f| format!("{:?}", f.reason));
                let reason = debug.as_deref().map(|d| d.split(" {").next().unwrap_or(d));
                format!("done {reason:?} after {}", f.attempts())
            }
        })
        .collect()
}

/// The same call run through the core alone on a virtual clock: each attempt's
/// script entry says how long it takes and whether it fails (`None` = hangs).
fn core_run(script: &[(u64, Option<bool>)]) -> Vec<Step> {
    let mut breaker: Breaker = Breaker::new(breaker_config()).unwrap_or_else(|e| panic!("{e}"));
    let mut pool = Bulkhead::<2>::new(bulkhead_config()).unwrap_or_else(|e| panic!("{e}"));
    let mut rng = SplitMix64::new(SEED);
    let mut now = Instant::from_secs(1);
    let pipeline = pipeline();
    let mut call = pipeline.start(now);
    let mut steps = Vec::new();
    let mut script = script.iter();
    let mut shared = Shared::new()
        .with_breaker(&mut breaker)
        .with_bulkhead(&mut pool);
    let mut step = call.next(now, &mut shared);
    loop {
        steps.push(step);
        step = match step {
            Step::Attempt { deadline, .. } => {
                let (took, ok) = script.next().copied().unwrap_or((1, Some(true)));
                let verdict = match ok {
                    Some(true) => Verdict::success(),
                    Some(false) => Verdict::failure(),
                    None => Verdict::timed_out(),
                };
                now = match (ok, deadline) {
                    (None, Some(d)) => d,
                    _ => now + ms(took),
                };
                call.on_outcome(verdict, now, &mut shared, &mut rng)
            }
            Step::Wait { until } | Step::Queued { until, .. } => {
                now = until;
                call.next(now, &mut shared)
            }
            Step::Done(_) => return steps,
        };
    }
}

// --- same decisions -----------------------------------------------------------------------

#[test]
fn same_decisions_as_the_core_flaky_then_ok() {
    let m = Machines::new();
    let policy = m.policy();
    let attempts = Cell::new(0u32);
    let mut trace = Trace::default();
    let result = block_on(
        policy.call_with(&steadfast::outcome::ErrorsFail, &mut trace, || {
            let n = attempts.get() + 1;
            attempts.set(n);
            async move {
                Timer::after_millis(2).await;
                if n < 2 { Err("nak") } else { Ok(n) }
            }
        }),
    );
    assert_eq!(result, Ok(2));
    replay(&trace);
    let adapter: Vec<Step> = trace.steps.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(
        kinds(&adapter),
        kinds(&core_run(&[(2, Some(false)), (2, Some(true))]))
    );
    m.assert_idle();
}

#[test]
fn same_decisions_as_the_core_hanging_attempts_open_the_breaker() {
    let m = Machines::new();
    let policy = m.policy();
    let mut trace = Trace::default();
    let result: Result<(), Error<()>> =
        block_on(
            policy.call_with(&steadfast::outcome::ErrorsFail, &mut trace, || async {
                Timer::after_secs(3_600).await; // a modem that never answers
                Ok(())
            }),
        );
    // Two timeouts open the breaker; no total deadline, so the third attempt fails fast.
    assert!(
        matches!(
            result,
            Err(Error {
                reason: Reason::BreakerOpen { .. },
                attempts: 2,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(m.breaker.state().name(), "open");
    replay(&trace);
    let adapter: Vec<Step> = trace.steps.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(kinds(&adapter), kinds(&core_run(&[(0, None), (0, None)])));
    // The attempt timeout really fired at its deadline, not before.
    for pair in trace.steps.windows(2) {
        if let (
            (
                _,
                _,
                Step::Attempt {
                    deadline: Some(d), ..
                },
            ),
            (at, Input::Outcome(v), _),
        ) = (pair[0], pair[1])
        {
            assert!(at >= d, "timed out early: {at} < {d}");
            assert_eq!(v, Verdict::timed_out());
        }
    }
    m.assert_idle();
}

// --- dropping futures leaks nothing -------------------------------------------------------

#[test]
fn dropped_mid_attempt_and_mid_queue_leaks_nothing() {
    let m = Machines::new();
    let policy = m.policy();
    let slow = || async {
        Timer::after_millis(10).await;
        Ok::<u32, ()>(1)
    };
    let mut a = Task::new(policy.call(slow));
    let mut b = Task::new(policy.call(slow));
    // A runs (holds the only slot), B queues.
    drive(&mut [&mut a, &mut b], |_| m.bulkhead.queued() == 1);
    assert_eq!((m.bulkhead.in_flight(), m.bulkhead.waiters()), (1, 1));
    b.cancel(); // dropped in the queue
    assert_eq!((m.bulkhead.queued(), m.bulkhead.waiters()), (0, 0));
    a.cancel(); // dropped mid-attempt
    m.assert_idle();
    // Capacity is intact: a new call runs at once.
    assert_eq!(block_on(policy.call(slow)), Ok(1));
    m.assert_idle();
}

#[test]
fn a_grant_wakes_the_queued_call_and_a_granted_waiter_passes_it_on() {
    let m = Machines::new();
    let policy = m.policy();
    let op = |d: u64| {
        move || async move {
            Timer::after_millis(d).await;
            Ok::<u64, ()>(d)
        }
    };
    let started = std::time::Instant::now();
    let mut a = Task::new(policy.call(op(10)));
    let mut b = Task::new(policy.call(op(1)));
    let mut c = Task::new(policy.call(op(2)));
    drive(&mut [&mut a, &mut b, &mut c], |t| {
        t.iter().all(|t| t.out.is_some())
    });
    // Queued for up to 1 s, but woken by the release after ~10 ms.
    assert!(
        started.elapsed() < StdDuration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (a.out, b.out, c.out),
        (Some(Ok(10)), Some(Ok(1)), Some(Ok(2)))
    );
    m.assert_idle();

    // B queued behind A; A's release grants B's place, B is dropped before it
    // claims: the slot must pass on to C.
    let mut a = Task::new(policy.call(op(10)));
    let mut b = Task::new(policy.call(op(1)));
    let mut c = Task::new(policy.call(op(1)));
    drive(&mut [&mut a, &mut b, &mut c], |_| m.bulkhead.queued() == 2);
    drive(&mut [&mut a], |t| t[0].out.is_some()); // B not polled: granted, unclaimed
    b.cancel();
    drive(&mut [&mut c], |t| t[0].out.is_some());
    assert_eq!(c.out, Some(Ok(1)));
    m.assert_idle();
}

#[test]
fn dropped_in_a_retry_delay_leaks_nothing() {
    let m = Machines::new();
    let policy = m.policy();
    let mut a = Task::new(policy.call(|| async { Err::<(), _>("nak") }));
    // First attempt failed, the call sleeps its 5 ms backoff.
    drive(&mut [&mut a], |_| {
        m.breaker.lock(|b| b.stats().failures) == Some(1)
    });
    a.cancel();
    m.assert_idle();
    assert_eq!(m.breaker.state(), State::Closed);
}

#[test]
fn a_dropped_half_open_probe_returns_its_slot() {
    let m = Machines::new();
    let policy = m.policy();
    let fail = || async { Err::<(), _>("nak") };
    // Two failures in one call (3 attempts max): the breaker opens for 40 ms.
    let r = block_on(policy.call(fail));
    assert!(
        matches!(
            r,
            Err(Error {
                reason: Reason::BreakerOpen { .. },
                attempts: 2,
                ..
            })
        ),
        "{r:?}"
    );
    block_on(Timer::after_millis(45));
    // The next call is the one half-open probe; it hangs and is dropped.
    let hang = || async {
        Timer::after_secs(3_600).await;
        Ok::<u8, &str>(0)
    };
    let probing = Cell::new(false);
    let mut probe = Task::new(policy.call(|| {
        probing.set(true);
        hang()
    }));
    drive(&mut [&mut probe], |_| probing.get());
    assert_eq!(m.breaker.state().name(), "half_open");
    // While the probe runs, nobody else gets in…
    let r = block_on(policy.call(|| async { Ok::<u8, &str>(1) }));
    assert!(
        matches!(
            r,
            Err(Error {
                reason: Reason::BreakerOpen { .. },
                ..
            })
        ),
        "{r:?}"
    );
    probe.cancel();
    m.assert_idle();
    // …once it is dropped, its slot is back: the next call probes and closes the breaker.
    assert_eq!(block_on(policy.call(|| async { Ok::<u8, &str>(7) })), Ok(7));
    assert_eq!(m.breaker.state(), State::Closed);
}

#[test]
fn a_call_polled_inside_a_lock_of_its_breaker_waits_for_the_lock() {
    let m = Machines::new();
    let policy = m.policy();
    let calls = Cell::new(0u32);
    let op = || {
        calls.set(calls.get() + 1);
        async { Ok::<u32, ()>(7) }
    };
    let mut task = Task::new(policy.call(op));
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    // The breaker is borrowed: the call can take no step and runs nothing yet.
    assert_eq!(m.breaker.lock(|_| task.poll(&waker)), Some(()));
    assert!(task.out.is_none());
    assert_eq!(calls.get(), 0);
    // Once unlocked it runs as usual, with the breaker's state untouched.
    drive(&mut [&mut task], |t| t[0].out.is_some());
    assert_eq!(task.out, Some(Ok(7)));
    assert_eq!(calls.get(), 1);
    assert_eq!(m.breaker.state(), State::Closed);
    assert_eq!(m.bulkhead.in_flight(), 0);
}

#[test]
fn a_call_polled_after_its_answer_stays_pending() {
    let m = Machines::new();
    let policy = m.policy();
    let mut call = Box::pin(policy.call(|| async { Ok::<u32, ()>(7) }));
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let give_up = std::time::Instant::now() + StdDuration::from_secs(5);
    let answer = loop {
        if let Poll::Ready(answer) = call.as_mut().poll(&mut cx) {
            break answer;
        }
        assert!(std::time::Instant::now() < give_up, "call stuck");
        std::thread::park_timeout(StdDuration::from_millis(5));
    };
    assert_eq!(answer, Ok(7));
    // A contract breach by the executor: no second answer, and no panic.
    assert!(call.as_mut().poll(&mut cx).is_pending());
    drop(call);
    m.assert_idle();
}

// --- cached fallbacks ----------------------------------------------------------------------

#[test]
fn call_cached_serves_the_last_good_value_while_refused_and_never_over_a_success() {
    use steadfast::cache::{Cached, LastGood};
    use steadfast::outcome::ErrorsFail;
    use steadfast::pipeline::FallbackOn;

    let m = Machines::new();
    let config = pipeline::Config::DEFAULT
        .with_retry(retry::Config::DEFAULT.with_max_attempts(1))
        .with_fallback(FallbackOn::Rejection);
    let policy = Policy::new(Pipeline::new(config).unwrap(), &m.rng).with_breaker(&m.breaker);
    let mut readings: LastGood<u8, u16, 2> = LastGood::new();
    let max_age = Duration::from_secs(60);
    let down = || async { Err::<u16, &str>("i2c nack") };

    // Nothing cached and the breaker closed: the failure is the answer.
    let first = block_on(policy.call_cached(&ErrorsFail, &mut (), &mut readings, max_age, 7, down));
    assert_eq!(first.unwrap_err().reason, Reason::RetriesExhausted);

    // A success is stored and answered fresh.
    let fresh =
        block_on(
            policy.call_cached(&ErrorsFail, &mut (), &mut readings, max_age, 7, || async {
                Ok::<u16, &str>(215)
            }),
        );
    assert_eq!(fresh, Ok(Cached::fresh(215)));

    // An operation failure is not covered by `FallbackOn::Rejection`.
    let failed =
        block_on(policy.call_cached(&ErrorsFail, &mut (), &mut readings, max_age, 7, down));
    assert!(failed.is_err());

    // Refused by the open breaker: the last good reading, marked stale.
    let _ = m
        .breaker
        .lock(|b| b.force_open(steadfast_embassy::time::now()));
    let served =
        block_on(policy.call_cached(&ErrorsFail, &mut (), &mut readings, max_age, 7, down))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((served.value, served.stale), (215, true));
    assert!(served.age < max_age);
    // Another sensor has no reading: the refusal is the answer.
    let other = block_on(policy.call_cached(&ErrorsFail, &mut (), &mut readings, max_age, 8, down));
    assert!(matches!(
        other.unwrap_err().reason,
        Reason::BreakerOpen { .. }
    ));
    // With a maximum age of zero, a reading a few microseconds old is too old.
    let too_old =
        block_on(policy.call_cached(&ErrorsFail, &mut (), &mut readings, Duration::ZERO, 7, down));
    assert!(too_old.is_err());
}

/// The breaker of [`breaker_config`] as a `const`.
struct Tripwire;
impl breaker::ConstConfig for Tripwire {
    const CONFIG: breaker::Config = breaker::Config::new()
        .with_failure_threshold(2)
        .with_break_duration(ms(40))
        .with_probes(1, 1);
}

/// A breaker keeping no counters and reading a `const` configuration: what
/// firmware puts in a `static` to spend the least RAM.
static LIGHT: SharedBreaker<Cs, breaker::Consecutive, breaker::NoStats, breaker::Fixed<Tripwire>> =
    SharedBreaker::new(steadfast::valid!(Breaker::fixed()));
static LIGHT_RNG: SharedRng<Cs> = SharedRng::new(SEED);

#[test]
fn a_policy_takes_the_lighter_breaker_and_decides_as_with_the_default_one() {
    let m = Machines::new();
    let heavy = Policy::new(pipeline(), &m.rng).with_breaker(&m.breaker);
    let light = Policy::new(pipeline(), &LIGHT_RNG).with_breaker(&LIGHT);
    // Failing calls, the breaker's wait, a probe that succeeds: the same
    // answers, attempt counts and states from both.
    let script = [false, false, false, true, true];
    let mut answers = [Vec::new(), Vec::new()];
    for (i, ok) in script.into_iter().enumerate() {
        if i == 3 {
            block_on(Timer::after_millis(45)); // past the 40 ms break
        }
        for (answers, policy_is_light) in answers.iter_mut().zip([false, true]) {
            let attempts = Cell::new(0u32);
            let op = || {
                attempts.set(attempts.get() + 1);
                async move { if ok { Ok(7u8) } else { Err("nak") } }
            };
            let result = if policy_is_light {
                block_on(light.call(op))
            } else {
                block_on(heavy.call(op))
            };
            let state = if policy_is_light {
                LIGHT.state()
            } else {
                m.breaker.state()
            };
            answers.push((
                // The reason, without the instants (this clock is real time).
                result.map_err(|e| core::mem::discriminant(&e.reason)),
                attempts.get(),
                matches!(state, State::Open { .. }),
            ));
        }
    }
    assert_eq!(answers[0], answers[1]);
    // The first call's three attempts trip the breaker (threshold 2); the
    // second is refused without an attempt.
    assert_eq!(answers[1][0].1, 2);
    assert!(answers[1][0].2);
    let open = core::mem::discriminant(&Reason::BreakerOpen { retry_at: None });
    assert_eq!(answers[1][1].0, Err(open));
    assert_eq!(answers[1][1].1, 0);
    assert_eq!(LIGHT.state(), State::Closed);
    assert_eq!(
        core::mem::size_of::<
            breaker::Breaker<breaker::Consecutive, breaker::NoStats, breaker::Fixed<Tripwire>>,
        >(),
        32
    );
}
