//! Scripted runs: calls that start at fixed instants against a dependency whose
//! every answer is written down in advance, traced step by step.
//!
//! A scenario's models draw arrivals and answers at random; a [`Script`] fixes
//! them instead, so a known incident (or a table of edge cases) can be replayed
//! through the same engine and compared, entry for entry, with what another
//! driver of the core's pipeline — the Tokio or Embassy adapter, or the core
//! driven by hand — did with the same answers.
//!
//! ```
//! use steadfast::pipeline::Finish;
//! use steadfast::time::Duration;
//! use steadfast_sim::policy::SimPolicy;
//! use steadfast_sim::script::{self, Answer, Call, Entry, Script};
//!
//! let policy = SimPolicy::from_table(toml::from_str(r#"
//!     [policies.api]
//!     max_attempts = 2
//!     backoff = "constant"
//!     base_delay = "100ms"
//!     jitter = "none"
//! "#).unwrap(), None).unwrap();
//! let ms = Duration::from_millis;
//! let script = Script {
//!     calls: vec![Call::new(ms(0), vec![(ms(5), Answer::Fail), (ms(5), Answer::Ok)])],
//!     fallback: false,
//!     jitter_seed: 1,
//! };
//! let trace = script::replay(&policy, &script).unwrap();
//! // The first attempt fails at 5 ms, the retry starts 100 ms later and succeeds.
//! let attempts: Vec<_> = trace.entries.iter()
//!     .filter(|(_, e)| matches!(e, Entry::Attempt { .. }))
//!     .map(|(at, _)| at.as_millis())
//!     .collect();
//! assert_eq!(attempts, [0, 105]);
//! let end = trace.ends[0].unwrap();
//! assert!(matches!(end.finish, Finish::Completed { .. }));
//! assert_eq!(end.last, Some(Answer::Ok));
//! ```

use steadfast::outcome::Verdict;
use steadfast::pipeline::{Event, Finish};
use steadfast::time::{Duration, Instant};

use crate::engine::Sim;
use crate::policy::SimPolicy;
use crate::scenario::Scenario;

/// How one attempt answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Succeeds.
    Ok,
    /// Fails with an error the policy may retry.
    Fail,
    /// Fails with an error that is not retried.
    Reject,
    /// Never answers.
    Hang,
}

impl Answer {
    /// The verdict a classifier gives this answer (`None` for a hang).
    pub const fn verdict(self) -> Option<Verdict> {
        match self {
            Self::Ok => Some(Verdict::success()),
            Self::Fail => Some(Verdict::failure()),
            Self::Reject => Some(Verdict::failure().not_retryable()),
            Self::Hang => None,
        }
    }
}

/// One call of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// When it starts, from the start of the run.
    pub start: Duration,
    /// Each attempt's latency and answer, in order; attempts past the end of
    /// the list succeed after 1 ms.
    pub attempts: Vec<(Duration, Answer)>,
    /// When the caller gives up on it, if it does.
    pub cancel_at: Option<Duration>,
}

impl Call {
    /// A call at `start` that its caller waits for.
    pub const fn new(start: Duration, attempts: Vec<(Duration, Answer)>) -> Self {
        Self {
            start,
            attempts,
            cancel_at: None,
        }
    }

    /// The answer of attempt `index` (0-based).
    pub fn attempt(&self, index: u32) -> (Duration, Answer) {
        self.attempts
            .get(index as usize)
            .copied()
            .unwrap_or((Duration::from_millis(1), Answer::Ok))
    }
}

/// Calls and their answers, fixed in advance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// The calls; their index is their name in the trace.
    pub calls: Vec<Call>,
    /// Whether the callers have a fallback (the core decides when it runs).
    pub fallback: bool,
    /// The seed of the jitter stream.
    pub jitter_seed: u64,
}

/// One thing that happened, in the order it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Call `call` started attempt `attempt` (1-based).
    Attempt {
        /// The call's index in the script.
        call: u32,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// The pipeline raised an event.
    Event(Event),
    /// Call `call` ended.
    Finish {
        /// The call's index in the script.
        call: u32,
        /// How.
        finish: Finish,
    },
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    /// The pipeline's answer.
    pub finish: Finish,
    /// The answer of the last attempt whose outcome the pipeline received
    /// (`None` if it received none: no attempt ran, or the last timed out).
    pub last: Option<Answer>,
    /// The caller gave up on it (its `cancel_at` came first).
    pub abandoned: bool,
}

/// Everything a scripted run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Every attempt start, event and finish, with its instant.
    pub entries: Vec<(Instant, Entry)>,
    /// Each call's end, by index (`None`: still running when nothing was left to
    /// happen, e.g. an attempt that hangs with no timeout).
    pub ends: Vec<Option<End>>,
}

/// Runs `script` through `policy`'s pipeline and machines, on the engine that
/// runs scenarios.
pub fn replay(policy: &SimPolicy, script: &Script) -> Result<Trace, String> {
    let horizon = script
        .calls
        .iter()
        .map(|c| {
            let attempts = c
                .attempts
                .iter()
                .fold(Duration::ZERO, |t, (l, _)| t.saturating_add(*l));
            c.start
                .saturating_add(attempts)
                .max(c.cancel_at.unwrap_or(Duration::ZERO))
        })
        .max()
        .unwrap_or(Duration::ZERO);
    let mut scenario =
        Scenario::from_toml("seed = 0\nduration = \"1s\"\n[load]\nrate = 1\n", "script")?;
    // Arrivals come from the script; the run ends when nothing is left to happen.
    scenario.load.rate = 0.0;
    scenario.duration = horizon.saturating_add(Duration::from_secs(1));
    scenario.bucket = scenario.duration;
    scenario.drain = Duration::MAX;
    scenario.policy = policy.clone();
    let pipeline = Sim::pipeline(&scenario)?;
    let mut sim = Sim::new(&scenario, &pipeline)?.with_script(script);
    sim.run_events();
    Ok(sim.take_trace())
}
