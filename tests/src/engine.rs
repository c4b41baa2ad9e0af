//! The discrete-event engine: a virtual clock that jumps from one event to the
//! next (arrivals, attempt completions, wake-ups at a step's `until`, attempt
//! deadlines, bulkhead grants), and N concurrent [`Call`]s sharing one breaker,
//! one bulkhead and one retry budget through [`Shared`].
//!
//! The engine decides nothing about resilience: it executes what each call's
//! [`Step`] says, exactly as the Tokio or Embassy adapters do, and asks the
//! dependency model how each attempt ends.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use steadfast::adaptive::{AdaptiveLimit, Permit};
use steadfast::breaker::{Breaker, Consecutive, CountWindow, State, TimeWindow};
use steadfast::bulkhead::Bulkhead;
use steadfast::chaos::{Chaos, Fault};
use steadfast::hedge::{self, Hedger, Plan};
use steadfast::outcome::{Outcome, Verdict};
use steadfast::pipeline::{
    Call, Event, Events, Failure, Finish, Input, Observer, Pipeline, Reason, Shared, Step,
};
use steadfast::ratelimit::RateLimiter;
use steadfast::retry::{AnyBudget, Unlimited};
use steadfast::rng::{Rng, SplitMix64};
use steadfast::throttle::{AdaptiveThrottle, Drawn};
use steadfast::time::{Duration, Instant};
use steadfast_std::throttle::THROTTLE_BUCKETS;

use crate::model::{Dependency, Load, Next, Sampler};
use crate::policy::{Detector, HedgeBudget, SimPolicy, TIME_WINDOW_BUCKETS};
use crate::report::{OutageReport, Report, Series};
use crate::scenario::Scenario;
use crate::script::{self, Entry, Script, Trace};
use crate::stats::{Accounting, Refusal, faults};

/// The bulkhead's queue storage: `max_queue` may not exceed it.
pub const QUEUE_CAPACITY: usize = 256;

type Pool = Bulkhead<QUEUE_CAPACITY>;

/// The breaker, whatever its detector (each detector is its own type in the
/// core, so the engine dispatches once per step; every count window is one
/// storage type with its length set at run time).
#[derive(Debug)]
enum AnyBreaker {
    None,
    Consecutive(Breaker<Consecutive>),
    /// Any length `1..=128`, chosen at run time.
    Count(Breaker<CountWindow<128, 2>>),
    Time(Breaker<TimeWindow<TIME_WINDOW_BUCKETS>>),
}

/// Runs `$body` with `$shared` bound to a [`Shared`] lending the machines.
macro_rules! lend {
    ($machines:expr, $raised:expr, $shared:ident => $body:expr) => {{
        let m = &mut $machines;
        let raised = &mut $raised;
        let bulkhead = m.bulkhead.as_mut();
        let budget = m.budget.as_mut();
        macro_rules! arm {
            ($b:expr) => {{
                let mut $shared = Shared {
                    breaker: $b,
                    bulkhead,
                    budget,
                    observer: Some(raised),
                    gate: m.throttle.as_mut(),
                };
                $body
            }};
        }
        match &mut m.breaker {
            AnyBreaker::None => arm!(None::<&mut Breaker<Consecutive>>),
            AnyBreaker::Consecutive(b) => arm!(Some(b)),
            AnyBreaker::Count(b) => arm!(Some(b)),
            AnyBreaker::Time(b) => arm!(Some(b)),
        }
    }};
}

/// The machines every call shares.
#[derive(Debug)]
struct Machines {
    breaker: AnyBreaker,
    bulkhead: Option<Pool>,
    budget: Option<AnyBudget>,
    /// Client-side admission before a call's pipeline: the rate limiter.
    limiter: Option<RateLimiter>,
    /// The adaptive throttle every attempt passes last, the pipeline's gate
    /// (steadfast-std's bucket count), with its own rng.
    throttle: Option<Drawn<THROTTLE_BUCKETS>>,
    /// Fault injection before each attempt.
    chaos: Option<Chaos>,
    /// The adaptive concurrency limit each attempt takes a slot from.
    adaptive: Option<AdaptiveLimit>,
    /// Hedging of each attempt, and what its hedges spend from.
    hedger: Option<Hedger>,
    hedge_budget: HedgeBudget,
    own_hedge_budget: Option<AnyBudget>,
}

impl Machines {
    /// Starts the hedge `plan` holds due at `now`, if its budget pays.
    fn poll_hedge(&mut self, plan: &mut Plan, now: Instant) -> Option<hedge::Hedge> {
        match (
            self.hedge_budget,
            &mut self.budget,
            &mut self.own_hedge_budget,
        ) {
            (HedgeBudget::Policy, Some(b), _) | (HedgeBudget::Own(_), _, Some(b)) => {
                plan.poll(now, b)
            }
            _ => plan.poll(now, &mut Unlimited),
        }
    }

    /// Reports the end of a hedged attempt to its budget.
    fn finish_hedges(&mut self, plan: Plan, won: Option<u8>, now: Instant) {
        match (
            self.hedge_budget,
            &mut self.budget,
            &mut self.own_hedge_budget,
        ) {
            (HedgeBudget::Policy, Some(b), _) | (HedgeBudget::Own(_), _, Some(b)) => {
                plan.finish(won, now, b);
            }
            _ => plan.finish(won, now, &mut Unlimited),
        }
    }
}

/// The attempts of one hedged attempt: its plan, how many still run, when
/// each started (the first attempt is number 0).
#[derive(Debug)]
struct Hedging {
    plan: Plan,
    running: u8,
    started: [Instant; 5],
}

impl Machines {
    fn new(policy: &SimPolicy) -> Result<Self, String> {
        let err =
            |what: &'static str| move |e: steadfast::error::ConfigError| format!("{what}: {e}");
        let breaker = match &policy.breaker {
            None => AnyBreaker::None,
            Some(b) => {
                let c = b.config;
                let e = err("breaker");
                match b.detector {
                    Detector::Consecutive => AnyBreaker::Consecutive(Breaker::new(c).map_err(e)?),
                    Detector::Time => AnyBreaker::Time(Breaker::new(c).map_err(e)?),
                    Detector::Count(n) => {
                        let window = CountWindow::with_len(n).map_err(err("breaker"))?;
                        AnyBreaker::Count(Breaker::with_window(c, window).map_err(e)?)
                    }
                }
            }
        };
        let bulkhead = policy
            .bulkhead
            .map(|c| Pool::new(c).map_err(err("bulkhead")))
            .transpose()?;
        let budget = policy
            .budget
            .map(|c| AnyBudget::new(c).map_err(err("budget")))
            .transpose()?;
        let limiter = policy
            .rate_limit
            .map(|c| RateLimiter::new(c).map_err(err("rate_limit")))
            .transpose()?;
        let throttle = policy
            .throttle
            .map(|c| {
                AdaptiveThrottle::new(c)
                    .map(|t| Drawn::new(t, 0))
                    .map_err(err("throttle"))
            })
            .transpose()?;
        let chaos = policy
            .chaos
            .map(|c| Chaos::new(c).map_err(err("chaos")))
            .transpose()?;
        let adaptive = policy
            .adaptive_limit
            .map(|c| AdaptiveLimit::new(c).map_err(err("adaptive_limit")))
            .transpose()?;
        let hedger = policy
            .hedge
            .map(|h| Hedger::new(h.config).map_err(err("hedge")))
            .transpose()?;
        let hedge_budget = policy.hedge.map_or(HedgeBudget::Unlimited, |h| h.budget);
        let own_hedge_budget = match hedge_budget {
            HedgeBudget::Own(c) => Some(AnyBudget::new(c).map_err(err("hedge budget"))?),
            _ => None,
        };
        Ok(Self {
            breaker,
            bulkhead,
            budget,
            limiter,
            throttle,
            chaos,
            adaptive,
            hedger,
            hedge_budget,
            own_hedge_budget,
        })
    }
}

/// What an event in the queue does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// An open-loop call arrives (`real`), or the load redraws at a rate change.
    Arrival { real: bool },
    /// Closed-loop client `client` starts a call.
    Client { client: u32 },
    /// Call `call` of the script starts.
    Scripted { call: u32 },
    /// The dependency answers the attempt the call in `slot` started in
    /// generation `gen` (stale if the call has moved on: it timed out).
    Answer {
        slot: u32,
        generation: u32,
        verdict: Verdict,
        /// Which of a hedged attempt's attempts (0: the first).
        hedge: u8,
    },
    /// The next hedge of the attempt the call in `slot` started in
    /// generation `gen` is due.
    HedgeDue { slot: u32, generation: u32 },
    /// An injected fault answers the attempt the call in `slot` started in
    /// generation `gen` (the dependency never saw it).
    Injected {
        slot: u32,
        generation: u32,
        verdict: Verdict,
    },
    /// Wake the call in `slot` if it is still in generation `gen`.
    Wake { slot: u32, generation: u32 },
    /// The caller of call number `serial` (in `slot`) gives up, if it still waits.
    Abandon { slot: u32, serial: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ev {
    at: u64,
    seq: u64,
    kind: Kind,
}

impl Ord for Ev {
    fn cmp(&self, other: &Self) -> Ordering {
        // A min-heap on (time, insertion order): ties run first-scheduled first,
        // which makes every run deterministic.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Ev {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One live call.
#[derive(Debug)]
struct Slot<'a> {
    call: Call<'a>,
    arrived: Instant,
    /// Bumped at every step; events of an older generation are stale.
    generation: u32,
    /// The closed-loop client that owns it, or `u32::MAX`.
    client: u32,
    /// The bulkhead ticket it waits on, if queued.
    ticket: Option<u32>,
    /// When it joined the bulkhead's queue (meaningful while `ticket` is set).
    queued_at: Instant,
    /// Its last step ended a wait in the bulkhead's queue.
    left_queue: bool,
    /// The call's number (its place in the offered sequence).
    serial: u64,
    /// Its index in the script, or `u32::MAX`.
    scripted: u32,
    /// Attempts started so far.
    attempts: u32,
    /// The answer of the last attempt whose outcome the call received.
    last: Option<script::Answer>,
    /// The adaptive limit had no slot for its last attempt: the call ended there.
    limited: bool,
    /// The adaptive limit's slot its running attempt holds.
    permit: Option<Permit>,
    /// The key it asks for (the cache's key).
    key: u32,
    /// The hedges of its running attempt, if the policy hedges.
    hedging: Option<Hedging>,
}

/// The last good value's arrival per key, served while at most
/// `max_staleness` old (inclusive); when every one of its `capacity` places
/// is taken, a new key replaces the one stored longest ago.
#[derive(Debug)]
struct StaleCache {
    capacity: usize,
    max_staleness: Duration,
    stored: HashMap<u32, Instant>,
}

impl StaleCache {
    /// The age of `key`'s value at `now`, if it may be served.
    fn servable(&self, key: u32, now: Instant) -> Option<Duration> {
        let age = now.saturating_duration_since(*self.stored.get(&key)?);
        (age <= self.max_staleness).then_some(age)
    }

    fn store(&mut self, key: u32, now: Instant) {
        if self.stored.len() >= self.capacity
            && !self.stored.contains_key(&key)
            && let Some(oldest) = self
                .stored
                .iter()
                .min_by_key(|(k, at)| (**at, **k))
                .map(|(k, _)| *k)
        {
            self.stored.remove(&oldest);
        }
        self.stored.insert(key, now);
    }
}

/// A hasher for `u32` keys that are already well spread (ticket numbers).
#[derive(Default, Clone, Copy, Debug)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap = HashMap<u32, u32, std::hash::BuildHasherDefault<IdHasher>>;

/// Everything counted during a run.
#[derive(Debug, Default)]
struct Tally {
    offered: u64,
    succeeded: u64,
    fallback: u64,
    timed_out: u64,
    retries_exhausted: u64,
    not_retryable: u64,
    attempts: u64,
    retries: u64,
    attempt_timeouts: u64,
    /// Attempts the fault injection changed (a fault, latency, or both).
    injected: u64,
    /// Calls answered from the cache, and the oldest answer served.
    stale: u64,
    stale_age_max: Duration,
    /// Hedges started, and the hedges whose answer won.
    hedges: u64,
    hedge_wins: u64,
    breaker_opens: u64,
    outage_offered: u64,
    outage_attempts: u64,
    peak_in_flight: u32,
    events: u64,
}

/// Counts the events of one step (the engine's [`Observer`]).
struct Counter<'a> {
    tally: &'a mut Tally,
    trace: Option<&'a mut Trace>,
    scripted: u32,
    transitions: &'a mut Vec<(Instant, u8)>,
    grants: &'a mut Vec<u32>,
    acc: &'a mut Accounting,
    series: &'a mut Series,
    bucket_us: u64,
}

impl Observer for Counter<'_> {
    fn on_event(&mut self, now: Instant, event: &Event) {
        match event {
            Event::Breaker(t) => {
                if matches!(t.to(), State::Open { .. }) {
                    self.tally.breaker_opens += 1;
                }
                self.acc.on_transition(t.from().code(), t.to().code());
                self.transitions.push((t.at(), t.to().code()));
            }
            Event::Retry { .. } => {
                self.tally.retries += 1;
                let b = (now.as_micros() / self.bucket_us) as usize;
                if let Some(n) = self.series.retries.get_mut(b) {
                    *n += 1;
                }
            }
            Event::TimedOut { .. } => self.tally.attempt_timeouts += 1,
            Event::Granted(ticket) => self.grants.push(ticket.seq()),
            Event::Fallback(_) => {}
        }
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.entries.push((now, Entry::Event(*event)));
        }
    }

    fn on_finish(&mut self, now: Instant, finish: &Finish) {
        if let Some(trace) = self.trace.as_deref_mut() {
            trace.entries.push((
                now,
                Entry::Finish {
                    call: self.scripted,
                    finish: *finish,
                },
            ));
        }
    }
}

/// A simulation in progress. [`run`] is the usual entry point.
#[derive(Debug)]
pub struct Sim<'a> {
    scenario: &'a Scenario,
    pipeline: &'a Pipeline,
    machines: Machines,
    dependency: Dependency,
    load: Load,
    now: Instant,
    end: Instant,
    stop: Instant,
    heap: BinaryHeap<Ev>,
    seq: u64,
    slots: Vec<Option<Slot<'a>>>,
    /// Free slots and the generation their next call starts at (past every
    /// generation of the previous occupant, whose events are then stale).
    free: Vec<(u32, u32)>,
    tickets: IdMap,
    grants: Vec<u32>,
    in_flight: u32,
    load_rng: SplitMix64,
    dep_rng: SplitMix64,
    jitter_rng: SplitMix64,
    /// The events of the step being taken, handed on after it.
    raised: Events,
    tally: Tally,
    acc: Accounting,
    patience: Option<Sampler>,
    patience_rng: SplitMix64,
    /// The fault injection's draws.
    chaos_rng: SplitMix64,
    /// Draws each call's key.
    key_rng: SplitMix64,
    /// The cached fallback, if the scenario names one.
    cache: Option<StaleCache>,
    series: Series,
    bucket_us: u64,
    /// The bucket whose finished-call latencies are being collected.
    open_bucket: usize,
    transitions: Vec<(Instant, u8)>,
    outages: Vec<(Instant, Instant)>,
    /// Whether callers have a fallback.
    fallback: bool,
    /// The script whose calls and answers replace the load and dependency models.
    script: Option<&'a Script>,
    /// Every step of a scripted run.
    trace: Option<Trace>,
}

impl<'a> Sim<'a> {
    /// The pipeline of `scenario`'s policy, which [`new`](Self::new) lends to
    /// every call of the run.
    pub fn pipeline(scenario: &Scenario) -> Result<Pipeline, String> {
        Pipeline::new(scenario.policy.pipeline).map_err(|e| format!("pipeline: {e}"))
    }

    /// Prepares a run of `scenario` (machines built from its policy) whose
    /// calls follow `pipeline` ([`Sim::pipeline`]).
    pub fn new(scenario: &'a Scenario, pipeline: &'a Pipeline) -> Result<Self, String> {
        if let Some(b) = &scenario.policy.bulkhead
            && b.max_queue() as usize > QUEUE_CAPACITY
        {
            return Err(format!(
                "bulkhead: max_queue above the simulator's {QUEUE_CAPACITY}"
            ));
        }
        let machines = Machines::new(&scenario.policy)?;
        let mut root = SplitMix64::new(scenario.seed);
        let load_rng = SplitMix64::new(root.next_u64());
        let dep_rng = SplitMix64::new(root.next_u64());
        let jitter_rng = SplitMix64::new(root.next_u64());
        let end = Instant::ZERO + scenario.duration;
        let bucket_us = scenario.bucket.as_micros().max(1);
        let buckets = scenario.duration.as_micros().div_ceil(bucket_us) as usize;
        let mut sim = Self {
            scenario,
            pipeline,
            machines,
            dependency: Dependency::new(scenario.dependency.clone()),
            load: Load::new(scenario.load.clone()),
            now: Instant::ZERO,
            end,
            stop: end.saturating_add(scenario.drain),
            heap: BinaryHeap::with_capacity(1024),
            seq: 0,
            slots: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            tickets: IdMap::default(),
            grants: Vec::with_capacity(8),
            in_flight: 0,
            load_rng,
            dep_rng,
            jitter_rng,
            raised: Events::new(),
            tally: Tally::default(),
            acc: Accounting::new(scenario.policy.bulkhead.is_some()),
            patience: scenario
                .load
                .patience
                .as_ref()
                .map(|p| Sampler::new(p, Duration::MAX)),
            patience_rng: SplitMix64::new(0),
            chaos_rng: SplitMix64::new(0),
            key_rng: SplitMix64::new(0),
            cache: scenario.policy.cache.as_ref().map(|spec| StaleCache {
                capacity: spec.capacity.max(1),
                max_staleness: spec.max_staleness,
                stored: HashMap::new(),
            }),
            series: Series::new(buckets),
            bucket_us,
            open_bucket: 0,
            transitions: Vec::new(),
            outages: scenario
                .dependency
                .outages
                .iter()
                .map(|o| (o.start, o.end))
                .collect(),
            fallback: true,
            script: None,
            trace: None,
        };
        let mut client_rng = SplitMix64::new(root.next_u64());
        sim.patience_rng = SplitMix64::new(root.next_u64());
        let admission_seed = root.next_u64();
        if let Some(throttle) = &mut sim.machines.throttle {
            throttle.rng = SplitMix64::new(admission_seed);
        }
        sim.chaos_rng = SplitMix64::new(root.next_u64());
        sim.key_rng = SplitMix64::new(root.next_u64());
        if scenario.load.rate > 0.0 || !scenario.load.bursts.is_empty() {
            sim.push(Instant::ZERO, Kind::Arrival { real: false });
        }
        let spread = scenario
            .load
            .think
            .max(scenario.dependency.latency_median)
            .as_micros()
            .max(1);
        for client in 0..scenario.load.clients {
            let at = Instant::from_micros(client_rng.below(spread));
            sim.push(at, Kind::Client { client });
        }
        Ok(sim)
    }

    /// Replaces the scenario's arrivals and answers with `script`'s, and traces
    /// every step ([`Sim::take_trace`]).
    #[must_use]
    pub fn with_script(mut self, script: &'a Script) -> Self {
        for (call, c) in script.calls.iter().enumerate() {
            let call = u32::try_from(call).unwrap_or(u32::MAX - 1);
            self.push(
                Instant::ZERO.saturating_add(c.start),
                Kind::Scripted { call },
            );
        }
        self.jitter_rng = SplitMix64::new(script.jitter_seed);
        self.fallback = script.fallback;
        self.trace = Some(Trace {
            entries: Vec::new(),
            ends: vec![None; script.calls.len()],
        });
        self.script = Some(script);
        self
    }

    /// What a scripted run did so far (empty for a scenario's run).
    pub fn take_trace(&mut self) -> Trace {
        self.trace.take().unwrap_or_default()
    }

    fn push(&mut self, at: Instant, kind: Kind) {
        self.seq += 1;
        self.heap.push(Ev {
            at: at.as_micros(),
            seq: self.seq,
            kind,
        });
    }

    fn bucket(&self, at: Instant) -> Option<usize> {
        let b = (at.as_micros() / self.bucket_us) as usize;
        (b < self.series.len()).then_some(b)
    }

    fn in_outage(&self, at: Instant) -> bool {
        self.outages.iter().any(|&(s, e)| at >= s && at < e)
    }

    /// Runs to the end and reports.
    pub fn run(mut self) -> Report {
        self.run_events();
        self.finish()
    }

    /// Runs every event due up to the end of the drain.
    pub fn run_events(&mut self) {
        while let Some(ev) = self.heap.pop() {
            let at = Instant::from_micros(ev.at);
            if at > self.stop {
                break;
            }
            self.now = at;
            self.tally.events += 1;
            match ev.kind {
                Kind::Arrival { real } => {
                    if real {
                        self.start_call(u32::MAX, u32::MAX);
                    }
                    match self.load.next(at, self.end, &mut self.load_rng) {
                        Next::Arrival(t) => self.push(t, Kind::Arrival { real: true }),
                        Next::Redraw(t) => self.push(t, Kind::Arrival { real: false }),
                        Next::End => {}
                    }
                }
                Kind::Client { client } => self.start_call(client, u32::MAX),
                Kind::Scripted { call } => self.start_call(u32::MAX, call),
                Kind::Answer {
                    slot,
                    generation,
                    verdict,
                    hedge,
                } => {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    if verdict.outcome != Outcome::Success
                        && let Some(b) = self.bucket(at)
                    {
                        self.series.dependency_failures[b] += 1;
                    }
                    if self.hedge_answer(slot, generation, hedge, verdict.outcome) {
                        self.feed(slot, generation, Input::Outcome(verdict));
                    }
                }
                Kind::HedgeDue { slot, generation } => self.start_hedge(slot, generation),
                Kind::Injected {
                    slot,
                    generation,
                    verdict,
                } => self.feed(slot, generation, Input::Outcome(verdict)),
                Kind::Wake { slot, generation } => self.feed(slot, generation, Input::Next),
                Kind::Abandon { slot, serial } => {
                    let Some(Some(s)) = self.slots.get_mut(slot as usize) else {
                        continue;
                    };
                    if s.serial != serial {
                        continue;
                    }
                    let scripted = s.scripted as usize;
                    let step = lend!(self.machines, self.raised, shared => s.call.handle(Input::Abandon, at, &mut shared, &mut self.jitter_rng));
                    self.after_step(slot, step);
                    if let Some(trace) = &mut self.trace
                        && let Some(Some(end)) = trace.ends.get_mut(scripted)
                    {
                        end.abandoned = true;
                    }
                }
            }
        }
    }

    /// Starts a call for closed-loop client `client` (or `u32::MAX`), or for
    /// call `scripted` of the script (or `u32::MAX`).
    fn start_call(&mut self, client: u32, scripted: u32) {
        let at = self.now;
        self.tally.offered += 1;
        if self.in_outage(at) {
            self.tally.outage_offered += 1;
        }
        if let Some(b) = self.bucket(at) {
            self.series.offered[b] += 1;
        }
        let admission = self.admit(at);
        let (free, generation) = self.free.pop().map_or((None, 0), |(i, g)| (Some(i), g));
        let serial = self.tally.offered;
        let keys = self.scenario.load.keys;
        let key = if keys > 1 {
            self.key_rng.below(u64::from(keys)) as u32
        } else {
            0
        };
        // A cached fallback exists only while the key holds a servable value.
        let fallback = self.fallback
            && self
                .cache
                .as_ref()
                .is_none_or(|c| c.servable(key, at).is_some());
        let slot = Slot {
            call: self.pipeline.start(at).with_fallback(fallback),
            arrived: at,
            generation,
            client,
            ticket: None,
            queued_at: at,
            left_queue: false,
            serial,
            scripted,
            attempts: 0,
            last: None,
            limited: false,
            permit: None,
            key,
            hedging: None,
        };
        let index = match free {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        if let Err(reason) = admission {
            self.finish_call(index, Finish::Failed(Failure::new(reason, 0)));
            return;
        }
        let cancel_at = self
            .script
            .and_then(|script| script.calls.get(scripted as usize)?.cancel_at);
        if let Some(cancel_at) = cancel_at {
            self.push(
                Instant::ZERO.saturating_add(cancel_at),
                Kind::Abandon {
                    slot: index,
                    serial,
                },
            );
        }
        if let Some(patience) = &self.patience {
            let gives_up = at.saturating_add(Duration::from_micros(
                patience.sample(&mut self.patience_rng),
            ));
            self.push(
                gives_up,
                Kind::Abandon {
                    slot: index,
                    serial,
                },
            );
        }
        self.feed(index, generation, Input::Next);
    }

    /// Schedules the answer of an attempt the fault injection replaced
    /// (`None`: a hang, which only its deadline ends).
    fn push_injected(
        &mut self,
        slot: u32,
        generation: u32,
        now: Instant,
        latency: Option<Duration>,
        verdict: Verdict,
        deadline: Option<Instant>,
    ) {
        let done = latency.map(|l| now.saturating_add(l));
        if let Some(done) = done {
            self.push(
                done,
                Kind::Injected {
                    slot,
                    generation,
                    verdict,
                },
            );
        }
        if let Some(d) = deadline
            && done.is_none_or(|done| d < done)
        {
            self.push(d, Kind::Wake { slot, generation });
        }
    }

    /// Client-side admission of a call arriving at `at`: the rate limiter.
    fn admit(&mut self, at: Instant) -> Result<(), Reason> {
        match &mut self.machines.limiter {
            Some(limiter) => limiter.check(at).map_err(|refused| Reason::RateLimited {
                retry_at: refused.retry_at,
            }),
            None => Ok(()),
        }
    }

    /// Feeds `input` to the call in `slot` if it is still in `generation`,
    /// then does what its step says.
    /// Starts the due hedge of the attempt the call in `slot` runs in
    /// `generation`, if the budget pays, and plans the next.
    fn start_hedge(&mut self, slot: u32, generation: u32) {
        let now = self.now;
        let Some(s) = live(&mut self.slots, slot, generation) else {
            return;
        };
        let Some(h) = s.hedging.as_mut() else {
            return;
        };
        let Some(started) = self.machines.poll_hedge(&mut h.plan, now) else {
            return;
        };
        let number = started.number;
        h.running += 1;
        if let Some(at) = h.started.get_mut(usize::from(number)) {
            *at = now;
        }
        let next = h.plan.next_at();
        let deadline = s.call.poll_at();
        self.tally.hedges += 1;
        let answer = self
            .dependency
            .answer(now, self.in_flight, &mut self.dep_rng);
        self.in_flight += 1;
        self.tally.peak_in_flight = self.tally.peak_in_flight.max(self.in_flight);
        self.tally.attempts += 1;
        if self.in_outage(now) {
            self.tally.outage_attempts += 1;
        }
        if let Some(b) = self.bucket(now) {
            self.series.attempts[b] += 1;
            self.series.peak_in_flight[b] = self.series.peak_in_flight[b].max(self.in_flight);
        }
        if let Some(latency) = answer.latency {
            let verdict = if answer.ok {
                Verdict::success()
            } else {
                Verdict::failure()
            };
            self.push(
                now.saturating_add(latency),
                Kind::Answer {
                    slot,
                    generation,
                    verdict,
                    hedge: number,
                },
            );
        }
        if let Some(due) = next
            && deadline.is_none_or(|d| due < d)
        {
            self.push(due, Kind::HedgeDue { slot, generation });
        }
    }

    /// Whether the answer of attempt `hedge` of a call's running attempt is
    /// the attempt's outcome (always, unless the attempt is hedged and other
    /// attempts still run after a failure).
    fn hedge_answer(&mut self, slot: u32, generation: u32, hedge: u8, outcome: Outcome) -> bool {
        let now = self.now;
        let Some(s) = live(&mut self.slots, slot, generation) else {
            return true;
        };
        let Some(h) = s.hedging.as_mut() else {
            return true;
        };
        h.running = h.running.saturating_sub(1);
        if let (Some(hedger), Some(started)) =
            (&mut self.machines.hedger, h.started.get(usize::from(hedge)))
        {
            hedger.record(now.saturating_duration_since(*started));
        }
        let won = match h.plan.on_answer(outcome, h.running) {
            hedge::Answer::Wait => return false,
            hedge::Answer::Win => Some(hedge),
            hedge::Answer::Fail => None,
        };
        if let Some(h) = s.hedging.take() {
            if won.is_some_and(|w| w > 0) {
                self.tally.hedge_wins += 1;
            }
            self.machines.finish_hedges(h.plan, won, now);
        }
        true
    }

    fn feed(&mut self, slot: u32, generation: u32, input: Input) {
        let at = self.now;
        let Some(s) = live(&mut self.slots, slot, generation) else {
            return;
        };
        if let (Some(permit), Some(limit)) = (s.permit.take(), &mut self.machines.adaptive) {
            // The running attempt ends: answered, cut off at its deadline,
            // or given up on by its caller.
            match input {
                Input::Outcome(verdict) => limit.record(permit, verdict.outcome, at),
                Input::Next => limit.record(permit, Outcome::TimedOut, at),
                _ => limit.cancel(permit),
            }
        }
        if let (Input::Outcome(_), Some(script)) = (input, self.script)
            && let Some(call) = script.calls.get(s.scripted as usize)
        {
            s.last = Some(call.attempt(s.attempts.saturating_sub(1)).1);
        }
        let step = lend!(self.machines, self.raised, shared => s.call.handle(input, at, &mut shared, &mut self.jitter_rng));
        self.after_step(slot, step);
    }

    /// Drains the call's events, then does what its step says.
    fn after_step(&mut self, index: u32, step: Step) {
        let now = self.now;
        let Some(Some(s)) = self.slots.get_mut(index as usize) else {
            return;
        };
        s.generation = s.generation.wrapping_add(1);
        let generation = s.generation;
        s.left_queue = false;
        // Its hedged attempt, if any, ended with the step: the other attempts
        // run on at the dependency, their answers stale.
        s.hedging = None;
        if let Some(t) = s.ticket.take() {
            self.tickets.remove(&t);
            s.left_queue = true;
            self.acc
                .on_left_queue(now.saturating_duration_since(s.queued_at));
        }
        let left_queue = s.left_queue;
        if matches!(step, Step::Attempt { .. }) {
            s.attempts = s.attempts.saturating_add(1);
            s.last = None;
        }
        let (scripted, attempt) = (s.scripted, s.attempts);
        let mut counter = Counter {
            trace: self.trace.as_mut(),
            scripted,
            tally: &mut self.tally,
            transitions: &mut self.transitions,
            grants: &mut self.grants,
            acc: &mut self.acc,
            series: &mut self.series,
            bucket_us: self.bucket_us,
        };
        while let Some(event) = self.raised.pop() {
            counter.on_event(now, &event);
        }
        s.call.drain(now, &mut counter);
        match step {
            Step::Attempt { deadline, .. } => {
                if let Some(limit) = &mut self.machines.adaptive {
                    match limit.try_acquire(now) {
                        Ok(permit) => s.permit = Some(permit),
                        Err(_) => {
                            // No slot: refused locally, as an adaptive-limit
                            // layer under the retries refuses a request.
                            s.limited = true;
                            self.feed(
                                index,
                                generation,
                                Input::Outcome(Verdict::ignored().not_retryable()),
                            );
                            return;
                        }
                    }
                }
                let (latency, verdict) = match self.script {
                    Some(script) => {
                        if let Some(trace) = &mut self.trace {
                            trace.entries.push((
                                now,
                                Entry::Attempt {
                                    call: scripted,
                                    attempt,
                                },
                            ));
                        }
                        let (latency, answer) = script
                            .calls
                            .get(scripted as usize)
                            .map_or((Duration::from_millis(1), script::Answer::Ok), |c| {
                                c.attempt(attempt.saturating_sub(1))
                            });
                        match answer.verdict() {
                            Some(verdict) => (Some(latency), verdict),
                            None => (None, Verdict::failure()),
                        }
                    }
                    None => {
                        let injection = self
                            .machines
                            .chaos
                            .as_ref()
                            .map(|c| c.decide(now, &mut self.chaos_rng))
                            .filter(|i| i.delay.is_some() || i.fault.is_some());
                        if let Some(injection) = injection {
                            self.tally.injected += 1;
                            let delay = injection.delay.unwrap_or(Duration::ZERO);
                            let injected = match injection.fault {
                                // Fails without reaching the dependency.
                                Some(Fault::Error) => Some((Some(delay), Verdict::failure())),
                                // Never answers: its deadline ends it.
                                Some(Fault::Hang) => Some((None, Verdict::failure())),
                                // The dependency's own failure, after the delay.
                                Some(Fault::Outcome) => Some((
                                    Some(delay.saturating_add(self.dependency.spec().fail_latency)),
                                    Verdict::failure(),
                                )),
                                None => None,
                            };
                            if let Some((latency, verdict)) = injected {
                                self.push_injected(
                                    index, generation, now, latency, verdict, deadline,
                                );
                                return;
                            }
                            let answer =
                                self.dependency
                                    .answer(now, self.in_flight, &mut self.dep_rng);
                            let verdict = if answer.ok {
                                Verdict::success()
                            } else {
                                Verdict::failure()
                            };
                            (answer.latency.map(|l| l.saturating_add(delay)), verdict)
                        } else {
                            let answer =
                                self.dependency
                                    .answer(now, self.in_flight, &mut self.dep_rng);
                            let verdict = if answer.ok {
                                Verdict::success()
                            } else {
                                Verdict::failure()
                            };
                            (answer.latency, verdict)
                        }
                    }
                };
                if self.script.is_none()
                    && let Some(hedger) = &self.machines.hedger
                {
                    let plan = hedger.start(now);
                    if let Some(due) = plan.next_at()
                        && deadline.is_none_or(|d| due < d)
                    {
                        self.push(
                            due,
                            Kind::HedgeDue {
                                slot: index,
                                generation,
                            },
                        );
                    }
                    if let Some(Some(s)) = self.slots.get_mut(index as usize) {
                        s.hedging = Some(Hedging {
                            plan,
                            running: 1,
                            started: [now; 5],
                        });
                    }
                }
                self.in_flight += 1;
                self.tally.peak_in_flight = self.tally.peak_in_flight.max(self.in_flight);
                self.tally.attempts += 1;
                self.acc.on_attempt(left_queue);
                if self.in_outage(now) {
                    self.tally.outage_attempts += 1;
                }
                if let Some(b) = self.bucket(now) {
                    self.series.attempts[b] += 1;
                    self.series.peak_in_flight[b] =
                        self.series.peak_in_flight[b].max(self.in_flight);
                }
                let done = latency.map(|l| now.saturating_add(l));
                if let Some(done) = done {
                    self.push(
                        done,
                        Kind::Answer {
                            slot: index,
                            generation,
                            verdict,
                            hedge: 0,
                        },
                    );
                }
                if let Some(d) = deadline
                    && done.is_none_or(|done| d < done)
                {
                    self.push(
                        d,
                        Kind::Wake {
                            slot: index,
                            generation,
                        },
                    );
                }
            }
            Step::Wait { until } => self.push(
                until.max(now),
                Kind::Wake {
                    slot: index,
                    generation,
                },
            ),
            Step::Queued { ticket, until } => {
                if let Some(Some(s)) = self.slots.get_mut(index as usize) {
                    s.ticket = Some(ticket.seq());
                    s.queued_at = now;
                }
                self.acc.on_queued();
                self.tickets.insert(ticket.seq(), index);
                self.push(
                    until.max(now),
                    Kind::Wake {
                        slot: index,
                        generation,
                    },
                );
            }
            Step::Done(finish) => self.finish_call(index, finish),
        }
        // Wake every waiter a released slot went to, at once (FIFO by seq).
        while let Some(ticket) = self.grants.pop() {
            if let Some(&slot) = self.tickets.get(&ticket)
                && let Some(Some(s)) = self.slots.get(slot as usize)
            {
                let generation = s.generation;
                self.push(now, Kind::Wake { slot, generation });
            }
        }
        self.sample_bulkhead();
    }

    /// Keeps the bucket's peak bulkhead occupancy and queue length.
    fn sample_bulkhead(&mut self) {
        let Some(pool) = &self.machines.bulkhead else {
            return;
        };
        let (permits, queued) = (pool.in_flight(), pool.queued());
        if let Some(b) = self.bucket(self.now) {
            let s = &mut self.series;
            s.peak_permits[b] = s.peak_permits[b].max(permits);
            s.peak_queue[b] = s.peak_queue[b].max(queued);
        }
    }

    fn finish_call(&mut self, index: u32, finish: Finish) {
        let now = self.now;
        let Some(slot) = self.slots.get_mut(index as usize).and_then(Option::take) else {
            return;
        };
        self.free.push((index, slot.generation.wrapping_add(1)));
        if let (Some(permit), Some(limit)) = (slot.permit, &mut self.machines.adaptive) {
            limit.cancel(permit);
        }
        if let Some(trace) = &mut self.trace
            && let Some(end) = trace.ends.get_mut(slot.scripted as usize)
        {
            *end = Some(script::End {
                finish,
                last: slot.last,
                abandoned: false,
            });
        }
        let latency = now.saturating_duration_since(slot.arrived).as_micros();
        let mut refusal = None;
        let t = &mut self.tally;
        let (ok, rejected) = match finish {
            _ if slot.limited => {
                refusal = Some(Refusal::AdaptiveLimit);
                (false, true)
            }
            Finish::Completed {
                outcome: Outcome::Success,
                ..
            } => {
                t.succeeded += 1;
                if let Some(cache) = &mut self.cache {
                    cache.store(slot.key, now);
                }
                (true, false)
            }
            Finish::Completed { .. } => {
                t.not_retryable += 1;
                (false, false)
            }
            Finish::Fallback(f) | Finish::Failed(f) => {
                if matches!(finish, Finish::Fallback(_)) {
                    match &self.cache {
                        None => t.fallback += 1,
                        // Aged past the limit while the call ran: not served.
                        Some(cache) => {
                            if let Some(age) = cache.servable(slot.key, now) {
                                t.fallback += 1;
                                t.stale += 1;
                                t.stale_age_max = t.stale_age_max.max(age);
                            }
                        }
                    }
                }
                match f.reason {
                    Reason::BreakerOpen { .. } => refusal = Some(Refusal::BreakerOpen),
                    Reason::BulkheadFull => refusal = Some(self.acc.on_queue_full()),
                    Reason::QueueTimeout => refusal = Some(Refusal::QueueWaitExpired),
                    Reason::BudgetExhausted => refusal = Some(Refusal::Budget),
                    Reason::RateLimited { .. } => refusal = Some(Refusal::RateLimited),
                    Reason::Throttled => refusal = Some(Refusal::Throttled),
                    Reason::DeadlineExceeded => t.timed_out += 1,
                    Reason::AttemptTimedOut
                    | Reason::RetriesExhausted
                    | Reason::DeadlineWouldPass => t.retries_exhausted += 1,
                    Reason::Operation => t.not_retryable += 1,
                    Reason::Cancelled => self.acc.abandoned += 1,
                }
                (false, f.is_rejection())
            }
        };
        let bucket = self.bucket(now);
        if let Some(r) = refusal {
            self.acc.refuse(r, bucket, &mut self.series);
        }
        if let Some(b) = bucket
            && b != self.open_bucket
        {
            self.close_bucket();
            self.open_bucket = b;
        }
        self.acc.on_finish(latency, ok, bucket.is_some());
        if let Some(b) = bucket {
            let s = &mut self.series;
            if ok {
                s.succeeded[b] += 1;
            } else {
                s.failed[b] += 1;
            }
            if rejected {
                s.rejected[b] += 1;
            }
        }
        if slot.client != u32::MAX {
            let next = now.saturating_add(self.scenario.load.think);
            if next < self.end {
                self.push(
                    next,
                    Kind::Client {
                        client: slot.client,
                    },
                );
            }
        }
    }

    /// Computes the percentiles and means of the calls that finished in the
    /// open bucket.
    fn close_bucket(&mut self) {
        self.acc.close_bucket(self.open_bucket, &mut self.series);
        if let (Some(limit), Some(at)) = (
            &self.machines.adaptive,
            self.series.adaptive_limit.get_mut(self.open_bucket),
        ) {
            *at = limit.limit();
        }
    }

    fn finish(mut self) -> Report {
        self.close_bucket();
        let unfinished = self.slots.iter().filter(|s| s.is_some()).count() as u64;
        let latency = self.acc.all.summary();
        for (b, rate) in self.series.dependency_error_permille.iter_mut().enumerate() {
            let mid = Instant::from_micros(b as u64 * self.bucket_us + self.bucket_us / 2);
            let (p, _) = self.dependency.conditions(mid);
            *rate = (p * 1000.0).round() as u16;
        }
        let outage = self.scenario.first_outage().map(|o| {
            let detect = self
                .transitions
                .iter()
                .find(|&&(at, code)| code == 2 && at >= o.start)
                .map(|&(at, _)| at - o.start);
            let recover = self
                .transitions
                .iter()
                .find(|&&(at, code)| code == 0 && at >= o.end)
                .map(|&(at, _)| at - o.end);
            OutageReport {
                start: o.start,
                end: o.end,
                offered: self.tally.outage_offered,
                attempts: self.tally.outage_attempts,
                detect,
                recover,
            }
        });
        let s = self.scenario;
        let windows: Vec<_> = s
            .dependency
            .outages
            .iter()
            .map(|o| ("outage", o.start, o.end, o.recovery))
            .chain(
                s.dependency
                    .brownouts
                    .iter()
                    .map(|b| ("brownout", b.start, b.end, Duration::ZERO)),
            )
            .collect();
        let faults = faults(&windows, &self.transitions);
        let t = self.tally;
        let acc = self.acc;
        Report {
            name: s.name.clone(),
            description: s.description.clone(),
            policy: s.policy.name.clone(),
            seed: s.seed,
            duration: s.duration,
            bucket: s.bucket,
            offered: t.offered,
            succeeded: t.succeeded,
            fallback: t.fallback,
            refusals: acc.refusals,
            timed_out: t.timed_out,
            retries_exhausted: t.retries_exhausted,
            not_retryable: t.not_retryable,
            abandoned: acc.abandoned,
            unfinished,
            attempts: t.attempts,
            retries: t.retries,
            attempt_timeouts: t.attempt_timeouts,
            injected: t.injected,
            stale: t.stale,
            stale_age_max: t.stale_age_max,
            has_cache: s.policy.cache.is_some(),
            hedges: t.hedges,
            hedge_wins: t.hedge_wins,
            has_hedge: s.policy.hedge.is_some(),
            breaker_opens: t.breaker_opens,
            has_breaker: s.policy.breaker.is_some(),
            has_bulkhead: s.policy.bulkhead.is_some(),
            latency,
            success_latency: acc.succeeded.summary(),
            queue: s.policy.bulkhead.is_some().then(|| acc.queue()),
            trips: acc.trips,
            peak_in_flight: t.peak_in_flight,
            events: t.events,
            outage,
            faults,
            series: self.series,
            transitions: self.transitions,
        }
    }
}

/// The call in `slot`, if it is still in `generation`.
fn live<'s, 'a>(
    slots: &'s mut [Option<Slot<'a>>],
    slot: u32,
    generation: u32,
) -> Option<&'s mut Slot<'a>> {
    match slots.get_mut(slot as usize) {
        Some(Some(s)) if s.generation == generation => Some(s),
        _ => None,
    }
}

/// Runs `scenario` to the end.
///
/// ```
/// let scenario = steadfast_sim::Scenario::from_toml(r#"
///     seed = 1
///     duration = "10s"
///     [load]
///     rate = 100
/// "#, "tiny").unwrap();
/// let report = steadfast_sim::run(&scenario).unwrap();
/// assert!(report.offered > 900 && report.offered < 1100);
/// assert_eq!(report.succeeded, report.offered);
/// ```
pub fn run(scenario: &Scenario) -> Result<Report, String> {
    let pipeline = Sim::pipeline(scenario)?;
    Sim::new(scenario, &pipeline).map(Sim::run)
}
