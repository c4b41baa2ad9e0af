//! One scripted dependency (a table of answers and latencies) run through every
//! driver of the pipeline — the core directly on a virtual clock, steadfast-std
//! on paused Tokio, steadfast-embassy on embassy-time's mock driver, the
//! simulator's discrete-event engine — must give
//! the same results, the same events in the same order, and the same attempt
//! times, for scripts that between them end calls with every [`Reason`].
#![allow(missing_docs)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex as Cs;
use steadfast::backoff::Backoff;
use steadfast::breaker::{Breaker, Config as BreakerConfig, Consecutive};
use steadfast::bulkhead::{Bulkhead, Config as BulkheadConfig};
use steadfast::outcome::{Classify, Verdict};
use steadfast::pipeline::{
    self, Event, Events, FallbackOn, Finish, Input, NoGate, Observer, Pipeline, Reason, Shared,
    Step,
};
use steadfast::retry::{self, Budget, BudgetConfig};
use steadfast::rng::SplitMix64;
use steadfast::time::{Duration, Instant};
use steadfast::timeout;

// --- the scripts -------------------------------------------------------------------------------

/// How one attempt answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Ok,
    /// A retryable error.
    Fail,
    /// An error the classifier does not retry.
    Reject,
    /// Never answers.
    Hang,
}

/// The dependency's error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dep {
    Fail,
    Reject,
}

/// `Ok` succeeds, `Fail` fails and is retried, `Reject` fails and is not.
#[derive(Clone, Copy)]
struct Classifier;

impl Classify<u32, Dep> for Classifier {
    fn classify(&self, result: &Result<u32, Dep>) -> Verdict {
        match result {
            Ok(_) => Verdict::success(),
            Err(Dep::Fail) => Verdict::failure(),
            Err(Dep::Reject) => Verdict::failure().not_retryable(),
        }
    }
}

/// One call: when it starts (ms after the script's start), each attempt's
/// latency (ms) and answer, and when the caller gives up, if it does.
#[derive(Clone, Copy)]
struct Plan {
    start: u64,
    attempts: &'static [(u64, Answer)],
    cancel_at: Option<u64>,
}

const fn call(start: u64, attempts: &'static [(u64, Answer)]) -> Plan {
    Plan {
        start,
        attempts,
        cancel_at: None,
    }
}

#[derive(Clone)]
struct Script {
    name: &'static str,
    config: pipeline::Config,
    breaker: Option<BreakerConfig>,
    bulkhead: Option<BulkheadConfig>,
    budget: Option<BudgetConfig>,
    has_fallback: bool,
    calls: Vec<Plan>,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(attempts: u32, attempt_timeout: Option<u64>, total: Option<u64>) -> pipeline::Config {
    pipeline::Config::DEFAULT
        .with_retry(
            retry::Config::DEFAULT
                .with_backoff(Backoff::constant(ms(100)))
                .with_max_attempts(attempts),
        )
        .with_timeout(timeouts(attempt_timeout.map(ms), total.map(ms)))
}

fn breaker(failures: u32) -> Option<BreakerConfig> {
    Some(
        BreakerConfig::new()
            .with_failure_threshold(failures)
            .with_break_duration(ms(1_000))
            .with_probes(1, 1),
    )
}

fn script<const N: usize>(
    name: &'static str,
    config: pipeline::Config,
    calls: [Plan; N],
) -> Script {
    Script {
        name,
        config,
        breaker: None,
        bulkhead: None,
        budget: None,
        has_fallback: false,
        calls: calls.to_vec(),
    }
}

use Answer::{Fail, Hang, Ok as Fine, Reject};

fn scripts() -> Vec<Script> {
    vec![
        // Completed after a retry.
        script(
            "flaky then ok",
            config(3, Some(500), None),
            [call(0, &[(10, Fail), (20, Fine)])],
        ),
        // Reason::Operation.
        script(
            "not retryable",
            config(3, Some(500), None),
            [call(0, &[(15, Reject)])],
        ),
        // Reason::RetriesExhausted.
        script(
            "retries exhausted",
            config(3, Some(500), None),
            [call(0, &[(10, Fail), (10, Fail), (10, Fail)])],
        ),
        // Reason::AttemptTimedOut, with the count.
        script(
            "attempt timeouts",
            config(2, Some(50), None),
            [call(0, &[(0, Hang), (0, Hang)])],
        ),
        // Reason::DeadlineExceeded: the total deadline cuts the second attempt short.
        script(
            "total deadline",
            config(3, Some(500), Some(300)),
            [call(0, &[(10, Fail), (0, Hang)])],
        ),
        // Reason::DeadlineWouldPass: the retry would start after the deadline.
        script(
            "retry past the deadline",
            config(3, Some(500), Some(150)),
            [call(0, &[(80, Fail)])],
        ),
        // Reason::BreakerOpen: the second failure opens it; the next call is refused.
        Script {
            breaker: breaker(2),
            ..script(
                "breaker open",
                config(3, Some(500), None),
                [
                    call(0, &[(10, Fail), (10, Fail)]),
                    call(400, &[(10, Fine)]),
                    call(1_600, &[(10, Fine)]),
                ],
            )
        },
        // Reason::BulkheadFull: one slot, no queue.
        Script {
            bulkhead: Some(
                BulkheadConfig::DEFAULT
                    .with_max_concurrent(1)
                    .with_max_queue(0)
                    .with_max_wait(ms(0)),
            ),
            ..script(
                "bulkhead full",
                config(1, Some(500), None),
                [call(0, &[(100, Fine)]), call(10, &[(10, Fine)])],
            )
        },
        // Reason::QueueTimeout, and a queued call granted its slot.
        Script {
            bulkhead: Some(
                BulkheadConfig::DEFAULT
                    .with_max_concurrent(1)
                    .with_max_queue(2)
                    .with_max_wait(ms(50)),
            ),
            ..script(
                "queue wait",
                config(1, Some(500), None),
                [
                    call(0, &[(100, Fine)]),
                    call(10, &[(10, Fine)]),
                    call(120, &[(30, Fine)]),
                    call(130, &[(10, Fine)]),
                ],
            )
        },
        // Reason::BudgetExhausted: a budget of one retry.
        Script {
            budget: Some(
                BudgetConfig::DEFAULT
                    .with_ratio_permille(1_000)
                    .with_min_retries_per_sec(0)
                    .with_window(Duration::from_secs(10)),
            ),
            ..script(
                "budget",
                config(3, Some(500), None),
                [call(0, &[(10, Fail), (10, Fail)])],
            )
        },
        // Reason::Cancelled: the caller gives up during the backoff.
        script(
            "cancelled",
            config(3, Some(500), None),
            [Plan {
                start: 0,
                attempts: &[(10, Fail), (10, Fine)],
                cancel_at: Some(60),
            }],
        ),
        // The same policy for a caller without a fallback: the plain error, no
        // fallback event, in every adapter.
        Script {
            breaker: breaker(1),
            ..script(
                "fallback rule, no fallback",
                config(1, Some(500), None).with_fallback(FallbackOn::Rejection),
                [call(0, &[(10, Fail)]), call(100, &[(10, Fine)])],
            )
        },
        // A fallback covering rejections: the event and the fallback answer.
        Script {
            breaker: breaker(1),
            has_fallback: true,
            ..script(
                "fallback on rejection",
                config(1, Some(500), None).with_fallback(FallbackOn::Rejection),
                [call(0, &[(10, Fail)]), call(100, &[(10, Fine)])],
            )
        },
    ]
}

// --- what a run records --------------------------------------------------------------------------

/// A call's answer: its value, or its error's reason, attempts and last error
/// (`None` in a record: the caller dropped the call).
type CallResult = Result<u32, (Reason, u32, Option<Dep>)>;

/// Everything observable, in order, with instants in µs since the script's start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Record {
    log: Vec<(u64, String)>,
    results: Vec<Option<CallResult>>,
}

impl Record {
    fn push(&mut self, now: Instant, epoch: Instant, what: String) {
        self.log
            .push((now.saturating_duration_since(epoch).as_micros(), what));
    }
}

/// Events with their instants made relative to the script's start.
fn event(e: &Event, epoch: Instant) -> String {
    let rel = |t: Instant| t.saturating_duration_since(epoch).as_micros();
    match e {
        Event::Breaker(t) => format!(
            "breaker {} -> {} at {}",
            t.from().name(),
            t.to().name(),
            rel(t.at())
        ),
        Event::Retry { attempt, delay, at } => {
            format!(
                "retry {attempt} after {} at {}",
                delay.as_micros(),
                rel(*at)
            )
        }
        Event::TimedOut { attempt } => format!("attempt {attempt} timed out"),
        Event::Granted(ticket) => format!("granted {}", ticket.seq()),
        Event::Fallback(f) => format!("fallback {}", reason(f.reason, epoch)),
    }
}

fn reason(r: Reason, epoch: Instant) -> String {
    match r {
        Reason::BreakerOpen { retry_at } => format!(
            "BreakerOpen(retry at {:?})",
            retry_at.map(|t| t.saturating_duration_since(epoch).as_micros())
        ),
        other => format!("{other:?}"),
    }
}

fn finish(f: &Finish, epoch: Instant) -> String {
    match f.failure() {
        Some(failure) => format!(
            "finish {} after {}",
            reason(failure.reason, epoch),
            failure.attempts
        ),
        None => format!("finish {f:?}"),
    }
}

fn result(r: Result<u32, steadfast::pipeline::Error<Dep>>, epoch: Instant) -> Option<CallResult> {
    let normal = |reason: Reason| match reason {
        Reason::BreakerOpen { retry_at } => Reason::BreakerOpen {
            retry_at: retry_at.map(|t| Instant::ZERO + t.saturating_duration_since(epoch)),
        },
        other => other,
    };
    Some(r.map_err(|e| (normal(e.reason), e.attempts, e.last)))
}

/// The fallback every script with one uses.
fn fallback(_: &steadfast::pipeline::Error<Dep>) -> Result<u32, Dep> {
    Ok(7)
}

// --- the core, directly ---------------------------------------------------------------------------

/// Logs what the core reports, like the adapters' observers.
struct Log<'a> {
    record: &'a mut Record,
    epoch: Instant,
}

impl Observer for Log<'_> {
    fn on_event(&mut self, now: Instant, e: &Event) {
        self.record.push(now, self.epoch, event(e, self.epoch));
    }
    fn on_finish(&mut self, now: Instant, f: &Finish) {
        self.record.push(now, self.epoch, finish(f, self.epoch));
    }
}

/// One call's state in the core harness.
struct Live<'p> {
    call: steadfast::pipeline::Call<'p>,
    /// The next input and when it is due.
    due: Option<(Instant, Input)>,
    attempt: usize,
    last: Option<Result<u32, Dep>>,
    queued: Option<u32>,
}

fn core_run(s: &Script, epoch: Instant) -> Record {
    let mut record = Record {
        results: vec![None; s.calls.len()],
        ..Record::default()
    };
    let pipeline = Pipeline::new(s.config).unwrap();
    let mut b = s.breaker.map(|c| Breaker::<Consecutive>::new(c).unwrap());
    let mut pool = s.bulkhead.map(|c| Bulkhead::<16>::new(c).unwrap());
    let mut budget = s.budget.map(|c| Budget::<10>::new(c).unwrap());
    let mut rng = SplitMix64::new(1);
    let mut live: Vec<Option<Live<'_>>> = (0..s.calls.len()).map(|_| None).collect();
    let mut started = vec![false; s.calls.len()];
    loop {
        // The earliest thing due: a call starting, or an input to a live call.
        let starts = s
            .calls
            .iter()
            .enumerate()
            .filter(|(i, _)| !started[*i])
            .map(|(i, p)| (epoch + ms(p.start), i, None));
        let inputs = live.iter().enumerate().filter_map(|(i, l)| {
            let l = l.as_ref()?;
            let (at, input) = l.due?;
            let plan = &s.calls[i];
            match plan.cancel_at.map(|c| epoch + ms(c)) {
                Some(c) if c < at => Some((c, i, Some(Input::Abandon))),
                _ => Some((at, i, Some(input))),
            }
        });
        let Some((now, i, input)) = starts.chain(inputs).min_by_key(|(at, i, _)| (*at, *i)) else {
            return record;
        };
        if input.is_none() {
            started[i] = true;
            live[i] = Some(Live {
                call: pipeline.start(now).with_fallback(s.has_fallback),
                due: Some((now, Input::Next)),
                attempt: 0,
                last: None,
                queued: None,
            });
            continue;
        }
        let input = input.unwrap_or(Input::Next);
        let Some(l) = live[i].as_mut() else { continue };
        let mut raised = Events::new();
        let mut shared = Shared {
            breaker: b.as_mut(),
            bulkhead: pool.as_mut(),
            budget: budget.as_mut(),
            observer: Some(&mut raised),
            gate: None::<&mut NoGate>,
        };
        let step = l.call.handle(input, now, &mut shared, &mut rng);
        let mut granted = Vec::new();
        struct Tee<'a, 'b> {
            log: Log<'a>,
            granted: &'b mut Vec<u32>,
        }
        impl Observer for Tee<'_, '_> {
            fn on_event(&mut self, now: Instant, e: &Event) {
                if let Event::Granted(t) = e {
                    self.granted.push(t.seq());
                }
                self.log.on_event(now, e);
            }
            fn on_finish(&mut self, now: Instant, f: &Finish) {
                self.log.on_finish(now, f);
            }
        }
        let mut tee = Tee {
            log: Log {
                record: &mut record,
                epoch,
            },
            granted: &mut granted,
        };
        while let Some(event) = raised.pop() {
            tee.on_event(now, &event);
        }
        l.call.drain(now, &mut tee);
        l.queued = None;
        l.due = match step {
            Step::Attempt { deadline, .. } => {
                record.push(now, epoch, format!("call {i} attempt {}", l.attempt + 1));
                let (latency, answer) = s.calls[i]
                    .attempts
                    .get(l.attempt)
                    .copied()
                    .unwrap_or((1, Fine));
                l.attempt += 1;
                let done = match answer {
                    Hang => Instant::MAX,
                    _ => now + ms(latency),
                };
                match deadline {
                    Some(d) if d <= done => {
                        l.last = None;
                        Some((d, Input::Outcome(Verdict::timed_out())))
                    }
                    _ => {
                        let r = match answer {
                            Fine => Ok(u32::try_from(i).unwrap_or(0)),
                            Fail => Err(Dep::Fail),
                            Reject | Hang => Err(Dep::Reject),
                        };
                        let verdict = Classifier.classify(&r);
                        l.last = Some(r);
                        Some((done, Input::Outcome(verdict)))
                    }
                }
            }
            Step::Wait { until } => Some((until, Input::Next)),
            Step::Queued { ticket, until } => {
                l.queued = Some(ticket.seq());
                Some((until, Input::Next))
            }
            Step::Done(f) => {
                let answer = f.answer(l.last.take());
                record.results[i] = match input {
                    Input::Abandon => None,
                    _ => result(
                        match answer {
                            steadfast::pipeline::Answer::Fallback(e) => fallback(&e).map_err(|_| e),
                            other => other.into_result(),
                        },
                        epoch,
                    ),
                };
                None
            }
        };
        if matches!(step, Step::Done(_)) {
            live[i] = None;
        }
        // A released slot wakes its waiter now.
        for seq in granted {
            for other in live.iter_mut().flatten() {
                if other.queued == Some(seq) {
                    other.due = Some((now, Input::Next));
                }
            }
        }
    }
}

// --- steadfast-std on paused Tokio ------------------------------------------------------------------

struct StdLog {
    record: Arc<Mutex<Record>>,
    epoch: Instant,
}

impl steadfast_std::Observer for StdLog {
    fn on_event(&self, _policy: &str, _breaker: Option<&str>, e: &Event) {
        let now = steadfast_std::time::now();
        self.record
            .lock()
            .unwrap()
            .push(now, self.epoch, event(e, self.epoch));
    }
    fn on_finish(&self, _policy: &str, f: &Finish) {
        let now = steadfast_std::time::now();
        self.record
            .lock()
            .unwrap()
            .push(now, self.epoch, finish(f, self.epoch));
    }
}

fn std_run(s: &Script) -> (Record, Instant) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let epoch = steadfast_std::time::now();
        let record = Arc::new(Mutex::new(Record {
            results: vec![None; s.calls.len()],
            ..Record::default()
        }));
        let mut builder = steadfast_std::Policy::builder(s.config)
            .unwrap()
            .observer(Arc::new(StdLog {
                record: record.clone(),
                epoch,
            }));
        if let Some(c) = s.breaker {
            builder = builder.breaker(steadfast_std::SharedBreaker::new("dep", c).unwrap());
        }
        if let Some(c) = s.bulkhead {
            builder = builder.bulkhead(steadfast_std::SharedBulkhead::new("dep", c).unwrap());
        }
        if let Some(c) = s.budget {
            builder = builder.budget(steadfast_std::SharedBudget::new(c).unwrap());
        }
        let policy = builder.classifier(Classifier).build();
        let start = tokio::time::Instant::now();
        let fallback = steadfast_std::Fallback::from_fn(|e: &steadfast_std::Error<Dep>| {
            fallback(&e.inner().map(|d| *d))
        });
        let mut tasks = Vec::new();
        for (i, plan) in s.calls.iter().copied().enumerate() {
            let policy = policy.clone();
            let record = record.clone();
            let has_fallback = s.has_fallback;
            let fallback = &fallback;
            tasks.push(async move {
                tokio::time::sleep_until(start + std::time::Duration::from_millis(plan.start))
                    .await;
                let attempt = std::cell::Cell::new(0usize);
                let op = || {
                    let n = attempt.get();
                    attempt.set(n + 1);
                    record.lock().unwrap().push(
                        steadfast_std::time::now(),
                        epoch,
                        format!("call {i} attempt {}", n + 1),
                    );
                    let (latency, answer) = plan.attempts.get(n).copied().unwrap_or((1, Fine));
                    async move {
                        match answer {
                            Hang => std::future::pending().await,
                            _ => {
                                tokio::time::sleep(std::time::Duration::from_millis(latency)).await
                            }
                        }
                        match answer {
                            Fine => Ok(u32::try_from(i).unwrap_or(0)),
                            Fail => Err(Dep::Fail),
                            Reject | Hang => Err(Dep::Reject),
                        }
                    }
                };
                let run = async {
                    if has_fallback {
                        policy.call_with_fallback(fallback, op).await
                    } else {
                        policy.call(op).await
                    }
                };
                let r = match plan.cancel_at {
                    Some(c) => {
                        tokio::time::timeout_at(start + std::time::Duration::from_millis(c), run)
                            .await
                            .ok()
                    }
                    None => Some(run.await),
                };
                if let Some(r) = r {
                    record.lock().unwrap().results[i] =
                        result(r.map_err(steadfast_std::Error::into_inner), epoch);
                }
            });
        }
        let mut set = Vec::new();
        for t in tasks {
            set.push(Box::pin(t));
        }
        join_all(set).await;
        let r = record.lock().unwrap().clone();
        (r, epoch)
    })
}

/// Polls every future to completion on the current task.
async fn join_all<F: Future<Output = ()>>(mut futs: Vec<Pin<Box<F>>>) {
    let mut done = vec![false; futs.len()];
    std::future::poll_fn(|cx| {
        for (f, d) in futs.iter_mut().zip(done.iter_mut()) {
            if !*d && f.as_mut().poll(cx).is_ready() {
                *d = true;
            }
        }
        if done.iter().all(|d| *d) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

// --- steadfast-embassy on the mock driver --------------------------------------------------------

/// Logs what the embassy adapter reports, and every instant something may
/// wake, so the harness knows how far to advance the mock clock.
struct EmbassyLog {
    record: Rc<RefCell<Record>>,
    wakes: Rc<RefCell<BTreeSet<u64>>>,
    epoch: Instant,
}

impl Observer for EmbassyLog {
    fn on_step(&mut self, _now: Instant, _input: Input, step: &Step) {
        if let Some(at) = step.wake_at() {
            self.wakes.borrow_mut().insert(at.as_micros());
        }
    }
    fn on_event(&mut self, now: Instant, e: &Event) {
        self.record
            .borrow_mut()
            .push(now, self.epoch, event(e, self.epoch));
    }
    fn on_finish(&mut self, now: Instant, f: &Finish) {
        self.record
            .borrow_mut()
            .push(now, self.epoch, finish(f, self.epoch));
    }
}

fn embassy_run(s: &Script) -> (Record, Instant) {
    use steadfast_embassy::{Policy, SharedBreaker, SharedBudget, SharedBulkhead, SharedRng};
    let driver = embassy_time::MockDriver::get();
    driver.reset();
    let epoch = steadfast_embassy::time::now();
    let record = Rc::new(RefCell::new(Record {
        results: vec![None; s.calls.len()],
        ..Record::default()
    }));
    let wakes = Rc::new(RefCell::new(BTreeSet::new()));
    let rng: SharedRng<Cs> = SharedRng::new(1);
    let b: SharedBreaker<Cs> =
        SharedBreaker::new(Breaker::new(s.breaker.unwrap_or_default()).unwrap());
    let pool: SharedBulkhead<Cs, 16> =
        SharedBulkhead::new(Bulkhead::new(s.bulkhead.unwrap_or_default()).unwrap());
    let budget: SharedBudget<Cs, Budget> =
        SharedBudget::new(Budget::new(s.budget.unwrap_or_default()).unwrap());
    let base = Policy::new(Pipeline::new(s.config).unwrap(), &rng);
    let with_breaker = base.with_breaker(&b);
    let with_bulkhead = base.with_bulkhead(&pool);
    let with_budget = base.with_budget(&budget);
    let calls: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = s
        .calls
        .iter()
        .copied()
        .enumerate()
        .map(|(i, plan)| {
            let record = record.clone();
            let wakes = wakes.clone();
            let bulkhead = s.bulkhead.is_some();
            let budgeted = s.budget.is_some();
            let breaker = s.breaker.is_some();
            let has_fallback = s.has_fallback;
            wakes
                .borrow_mut()
                .insert(epoch.as_micros() + plan.start * 1_000);
            if let Some(c) = plan.cancel_at {
                wakes.borrow_mut().insert(epoch.as_micros() + c * 1_000);
            }
            let fut = async move {
                embassy_time::Timer::at(embassy_time::Instant::from_millis(plan.start)).await;
                let attempt = std::cell::Cell::new(0usize);
                let op = || {
                    let n = attempt.get();
                    attempt.set(n + 1);
                    let now = steadfast_embassy::time::now();
                    record
                        .borrow_mut()
                        .push(now, epoch, format!("call {i} attempt {}", n + 1));
                    let (latency, answer) = plan.attempts.get(n).copied().unwrap_or((1, Fine));
                    if answer != Hang {
                        wakes.borrow_mut().insert(now.as_micros() + latency * 1_000);
                    }
                    async move {
                        match answer {
                            Hang => std::future::pending().await,
                            _ => embassy_time::Timer::after_millis(latency).await,
                        }
                        match answer {
                            Fine => Ok(u32::try_from(i).unwrap_or(0)),
                            Fail => Err(Dep::Fail),
                            Reject | Hang => Err(Dep::Reject),
                        }
                    }
                };
                let mut log = EmbassyLog {
                    record: record.clone(),
                    wakes: wakes.clone(),
                    epoch,
                };
                // The policy with exactly the machines the script names.
                let run = async {
                    macro_rules! go {
                        ($p:expr) => {
                            if has_fallback {
                                $p.call_with_fallback(&Classifier, &mut log, fallback, op)
                                    .await
                            } else {
                                $p.call_with(&Classifier, &mut log, op).await
                            }
                        };
                    }
                    match (breaker, bulkhead, budgeted) {
                        (true, _, _) => go!(with_breaker),
                        (false, true, _) => go!(with_bulkhead),
                        (false, false, true) => go!(with_budget),
                        (false, false, false) => go!(base),
                    }
                };
                let r = match plan.cancel_at {
                    Some(c) => {
                        embassy_time::with_deadline(embassy_time::Instant::from_millis(c), run)
                            .await
                            .ok()
                    }
                    None => Some(run.await),
                };
                if let Some(r) = r {
                    record.borrow_mut().results[i] = result(r, epoch);
                }
            };
            Box::pin(fut) as Pin<Box<dyn Future<Output = ()> + '_>>
        })
        .collect();
    let mut calls: Vec<Option<Pin<Box<dyn Future<Output = ()> + '_>>>> =
        calls.into_iter().map(Some).collect();
    let woken = Arc::new(Woken(AtomicBool::new(true)));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    for _ in 0..100_000 {
        // Poll while anything wakes, then jump to the next instant anything waits for.
        while woken.0.swap(false, Ordering::SeqCst) {
            for slot in calls.iter_mut() {
                if let Some(f) = slot.as_mut()
                    && f.as_mut().poll(&mut cx).is_ready()
                {
                    *slot = None;
                }
            }
        }
        if calls.iter().all(Option::is_none) {
            break;
        }
        let now = steadfast_embassy::time::now().as_micros();
        let next = wakes.borrow().range(now + 1..).next().copied();
        match next {
            Some(at) => driver.advance(embassy_time::Duration::from_micros(at - now)),
            None => panic!("{}: stuck at {now} µs", s.name),
        }
    }
    let r = record.borrow().clone();
    (r, epoch)
}

/// A waker that only notes it was woken.
struct Woken(AtomicBool);

impl std::task::Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

// --- the simulator's engine ------------------------------------------------------------------------

fn sim_run(s: &Script) -> Record {
    use steadfast_sim::policy::{BreakerPolicy, Detector, SimPolicy};
    use steadfast_sim::script::{self, Entry};

    let policy = SimPolicy {
        name: s.name.to_owned(),
        pipeline: s.config,
        breaker: s.breaker.map(|config| BreakerPolicy {
            name: "b".to_owned(),
            detector: Detector::Consecutive,
            config,
        }),
        bulkhead: s.bulkhead,
        budget: s.budget.map(retry::AnyBudgetConfig::Ratio),
        rate_limit: None,
        throttle: None,
        chaos: None,
        adaptive_limit: None,
        cache: None,
        hedge: None,
    };
    let answer = |a: Answer| match a {
        Fine => script::Answer::Ok,
        Fail => script::Answer::Fail,
        Reject => script::Answer::Reject,
        Hang => script::Answer::Hang,
    };
    let calls = s
        .calls
        .iter()
        .map(|p| script::Call {
            start: ms(p.start),
            attempts: p
                .attempts
                .iter()
                .map(|&(l, a)| (ms(l), answer(a)))
                .collect(),
            cancel_at: p.cancel_at.map(ms),
        })
        .collect();
    let script = script::Script {
        calls,
        fallback: s.has_fallback,
        jitter_seed: 1,
    };
    let trace = script::replay(&policy, &script).unwrap();
    let epoch = Instant::ZERO;
    let mut record = Record {
        results: vec![None; s.calls.len()],
        ..Record::default()
    };
    for (now, entry) in &trace.entries {
        let line = match entry {
            Entry::Attempt { call, attempt } => format!("call {call} attempt {attempt}"),
            Entry::Event(e) => event(e, epoch),
            Entry::Finish { finish: f, .. } => finish(f, epoch),
        };
        record.push(*now, epoch, line);
    }
    for (i, end) in trace.ends.iter().enumerate() {
        let Some(end) = end.filter(|e| !e.abandoned) else {
            continue;
        };
        let last = end.last.map(|a| match a {
            script::Answer::Ok => Ok(u32::try_from(i).unwrap_or(0)),
            script::Answer::Fail => Err(Dep::Fail),
            script::Answer::Reject | script::Answer::Hang => Err(Dep::Reject),
        });
        record.results[i] = result(
            match end.finish.answer(last) {
                steadfast::pipeline::Answer::Fallback(e) => fallback(&e).map_err(|_| e),
                other => other.into_result(),
            },
            epoch,
        );
    }
    record
}

// --- the proof -----------------------------------------------------------------------------------

#[test]
fn every_driver_makes_the_same_calls() {
    let mut reasons = BTreeSet::new();
    for s in scripts() {
        let (on_tokio, tokio_epoch) = std_run(&s);
        let direct = core_run(&s, tokio_epoch);
        assert_eq!(
            on_tokio, direct,
            "{}: steadfast-std on paused Tokio differs from the core",
            s.name
        );
        let (on_embassy, embassy_epoch) = embassy_run(&s);
        let direct = core_run(&s, embassy_epoch);
        assert_eq!(
            on_embassy, direct,
            "{}: steadfast-embassy on the mock driver differs from the core",
            s.name
        );
        let in_sim = sim_run(&s);
        let direct = core_run(&s, Instant::ZERO);
        assert_eq!(
            in_sim, direct,
            "{}: the simulator's engine differs from the core",
            s.name
        );
        for line in &direct.log {
            if let Some(rest) = line.1.strip_prefix("finish ") {
                reasons.insert(rest.split([' ', '(']).next().unwrap_or_default().to_owned());
            }
        }
        println!(
            "{}: {} log lines, results {:?}",
            s.name,
            direct.log.len(),
            direct.results
        );
    }
    for r in [
        "Operation",
        "AttemptTimedOut",
        "DeadlineExceeded",
        "BreakerOpen",
        "BulkheadFull",
        "QueueTimeout",
        "RetriesExhausted",
        "BudgetExhausted",
        "DeadlineWouldPass",
        "Cancelled",
    ] {
        assert!(reasons.contains(r), "no script ends with {r}: {reasons:?}");
    }
}

/// Timeouts from optional values: each `Some` sets one, `None` leaves it unset.
fn timeouts(attempt: Option<Duration>, total: Option<Duration>) -> timeout::Config {
    let mut config = timeout::Config::NONE;
    if let Some(attempt) = attempt {
        config = config.with_attempt(attempt);
    }
    if let Some(total) = total {
        config = config.with_total(total);
    }
    config
}
