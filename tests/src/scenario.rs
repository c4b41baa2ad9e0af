//! Scenario files: the dependency model, the offered load, how long, which
//! seed, and the steadfast policy under test (a `[policy]` table in the std
//! adapter's policy-file format).
//!
//! ```toml
//! name = "outage-and-recovery"
//! seed = 42
//! duration = "120s"
//! bucket = "1s"            # plot resolution (default: duration / 120, at least 1 ms)
//! drain = "60s"            # how long calls still running at the end may finish (default 60 s)
//! policy_name = "api"      # the [policy.policies.*] entry the calls use (default: the only one)
//! rate_limit = "api"       # client-side admission: a [policy.ratelimits.*] entry before each call ...
//! throttle = "api"         # ... and a [policy.throttles.*] entry before each attempt (refused: the call ends)
//! adaptive_limit = "api"   # a [policy.adaptive_limits.*] entry each attempt takes a slot from (refused: the call ends)
//! chaos = "drill"          # a [policy.chaos.*] entry deciding before each attempt: an error (no call to the
//!                          # dependency), a hang, a replaced outcome (the dependency's failure) and/or latency
//! hedge = "fast"           # a [policy.hedges.*] entry: each attempt starts another beside it after the delay
//!                          # (up to max_hedges, paid by its budget); the first success answers the attempt
//! cache = "catalog"        # a [policy.caches.*] entry: each key's last good value, served (stale) when the
//!                          # pipeline decides a fallback answers, if at most max_staleness old
//!
//! [load]
//! rate = 200               # open-loop calls per second (default 0)
//! arrivals = "poisson"     # or "uniform" (evenly spaced)
//! clients = 0              # closed-loop clients: each starts its next call `think` after the last ended
//! think = "10ms"
//! patience = { distribution = "exponential", mean = "2s" }  # a caller gives up after a draw (default: never)
//! keys = 1                 # each call asks for one of this many keys, uniformly (the cache's keys; default 1)
//! [[load.bursts]]          # the rate is replaced inside each window
//! start = "30s"
//! end = "32s"
//! rate = 2000
//!
//! [dependency]
//! error_rate = 0.01        # base probability that an attempt fails
//! latency_median = "20ms"  # lognormal through the median and the p99 ...
//! latency_p99 = "250ms"
//! # ... or any other service-time distribution (replaces latency_median/latency_p99):
//! # latency = { distribution = "exponential", mean = "50ms" }
//! # latency = { distribution = "fixed", value = "20ms" }
//! # latency = { distribution = "pareto", min = "5ms", alpha = 1.5 }      # heavy tail
//! # latency = { distribution = "bimodal", fast = "10ms", slow = "400ms", slow_fraction = 0.05 }
//! # latency = { distribution = "lognormal", median = "20ms", p99 = "250ms" }
//! latency_max = "30s"      # clamp of a latency draw
//! fail_latency = "5ms"     # an error answers after at most this
//! hang = "60s"             # how long a hung attempt takes to fail ("none": never answers)
//! capacity = 0             # attempts served at once without slowing down (0 = unlimited)
//! shed_above = 0           # an attempt arriving with this many in flight fails at once, after fail_latency (0 = never)
//! concurrency_slowdown = 0.0  # each attempt already in flight adds this fraction to a latency
//! [[dependency.outages]]
//! start = "30s"
//! end = "60s"
//! mode = "fail"            # "fail": every attempt fails fast; "hang": every attempt hangs
//! recovery = "20s"         # after `end` the error rate ramps linearly from 100 % down to error_rate
//! [[dependency.brownouts]]
//! start = "80s"
//! end = "90s"
//! latency_factor = 8
//! error_rate = 0.05        # the error rate inside the brownout, if higher
//!
//! [policy]                 # a steadfast policy file (CONFIG_SCHEMA.md)
//! default_timeout = "1s"
//! [policy.breakers.api]
//! failure_threshold = 5
//! [policy.policies.api]
//! breaker = "api"
//! [policy.ratelimits.api]  # read only when `rate_limit` names it
//! count = 300
//! [policy.throttles.api]   # read only when `throttle` names it
//! k = 2
//! ```

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use steadfast::time::{Duration, Instant};

use crate::policy::{self, SimPolicy};

/// Parses `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1500us"` (integers only).
///
/// ```
/// use steadfast::time::Duration;
/// assert_eq!(steadfast_sim::scenario::parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert!(steadfast_sim::scenario::parse_duration("1.5s").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like \"250ms\", \"30s\", \"5m\""))?;
    let micros_per = match unit.trim() {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" | "min" => 60_000_000,
        "h" => 3_600_000_000,
        _ => {
            return Err(format!(
                "`{text}`: unit must be one of us, ms, s, m, h (integers only)"
            ));
        }
    };
    value
        .checked_mul(micros_per)
        .map(Duration::from_micros)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// Like [`parse_duration`], with `"none"` for an absent timeout.
pub fn parse_optional_duration(text: &str) -> Result<Option<Duration>, String> {
    if text.trim() == "none" {
        Ok(None)
    } else {
        parse_duration(text).map(Some)
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(D::Error::custom)
}

fn de_instant<'de, D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
    de_duration(d).map(|d| Instant::ZERO + d)
}

fn de_optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    parse_optional_duration(&text).map_err(D::Error::custom)
}

/// How an outage treats attempts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// Every attempt fails after `fail_latency` (connection refused, 503).
    #[default]
    Fail,
    /// Every attempt hangs for `hang` (then fails), or forever.
    Hang,
}

/// A hard outage window `[start, end)`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// When it starts.
    #[serde(deserialize_with = "de_instant")]
    pub start: Instant,
    /// When it ends.
    #[serde(deserialize_with = "de_instant")]
    pub end: Instant,
    /// Fail fast or hang.
    #[serde(default)]
    pub mode: OutageMode,
    /// After `end`, the error rate falls linearly from 100 % to the base rate
    /// over this long (slow recovery). Default 0: back at once.
    #[serde(default, deserialize_with = "de_duration")]
    pub recovery: Duration,
}

/// A brownout window `[start, end)`: slower, maybe more errors.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brownout {
    /// When it starts.
    #[serde(deserialize_with = "de_instant")]
    pub start: Instant,
    /// When it ends.
    #[serde(deserialize_with = "de_instant")]
    pub end: Instant,
    /// Latency is multiplied by this.
    #[serde(default = "one")]
    pub latency_factor: u32,
    /// The error rate inside the window, if higher than the base.
    #[serde(default)]
    pub error_rate: f64,
}

const fn one() -> u32 {
    1
}

/// A distribution of durations: service times (`dependency.latency`) and
/// caller patience (`load.patience`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Lognormal through its median and its 99th percentile.
    Lognormal {
        /// Median.
        #[serde(deserialize_with = "de_duration")]
        median: Duration,
        /// 99th percentile (at least the median).
        #[serde(deserialize_with = "de_duration")]
        p99: Duration,
    },
    /// Exponential (memoryless, as in M/M/c queues).
    Exponential {
        /// Mean.
        #[serde(deserialize_with = "de_duration")]
        mean: Duration,
    },
    /// Always the same.
    Fixed {
        /// The one value.
        #[serde(deserialize_with = "de_duration")]
        value: Duration,
    },
    /// Pareto (heavy tail): `P(X > x) = (min / x)^alpha` for `x ≥ min`. The mean
    /// is `alpha·min/(alpha − 1)` for `alpha > 1`; the variance is infinite for
    /// `alpha ≤ 2`.
    Pareto {
        /// Scale: the smallest value.
        #[serde(deserialize_with = "de_duration")]
        min: Duration,
        /// Shape, > 0.
        alpha: f64,
    },
    /// Two modes: with probability `slow_fraction` around `slow`, otherwise
    /// around `fast`; each mode lognormal with its p99 at twice its median.
    Bimodal {
        /// The usual mode's median.
        #[serde(deserialize_with = "de_duration")]
        fast: Duration,
        /// The rare mode's median.
        #[serde(deserialize_with = "de_duration")]
        slow: Duration,
        /// Probability of the slow mode, in 0..=1.
        slow_fraction: f64,
    },
}

impl Distribution {
    /// The mean, where it is finite (bimodal and lognormal in closed form).
    pub fn mean_micros(&self) -> Option<f64> {
        let us = |d: &Duration| d.as_micros() as f64;
        // Lognormal with p99/median = r: sigma = ln(r)/z99, mean = median·e^(sigma²/2).
        let lognormal = |median: f64, ratio: f64| {
            let sigma = ratio.max(1.0).ln() / Z99;
            median * (sigma * sigma / 2.0).exp()
        };
        match self {
            Self::Lognormal { median, p99 } => {
                Some(lognormal(us(median), us(p99) / us(median).max(1.0)))
            }
            Self::Exponential { mean } => Some(us(mean)),
            Self::Fixed { value } => Some(us(value)),
            Self::Pareto { min, alpha } => (*alpha > 1.0).then(|| alpha * us(min) / (alpha - 1.0)),
            Self::Bimodal {
                fast,
                slow,
                slow_fraction,
            } => Some(
                (1.0 - slow_fraction) * lognormal(us(fast), 2.0)
                    + slow_fraction * lognormal(us(slow), 2.0),
            ),
        }
    }

    /// A representative value (median-like), used to spread closed-loop clients.
    pub fn typical(&self) -> Duration {
        match self {
            Self::Lognormal { median, .. } => *median,
            Self::Exponential { mean } => *mean,
            Self::Fixed { value } => *value,
            Self::Pareto { min, .. } => *min,
            Self::Bimodal { fast, .. } => *fast,
        }
    }

    fn validate(&self, key: &str) -> Result<(), String> {
        match self {
            Self::Lognormal { median, p99 } if p99 < median => {
                Err(format!("{key}: p99 must be at least the median"))
            }
            Self::Pareto { alpha, .. } if !(*alpha > 0.0 && alpha.is_finite()) => {
                Err(format!("{key}: alpha must be > 0, got {alpha}"))
            }
            Self::Bimodal { slow_fraction, .. } if !(0.0..=1.0).contains(slow_fraction) => Err(
                format!("{key}: slow_fraction must be in 0..=1, got {slow_fraction}"),
            ),
            _ => Ok(()),
        }
    }
}

/// z(0.99) of the standard normal.
pub(crate) const Z99: f64 = 2.326_347_874_040_841;

/// The flaky dependency.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DependencySpec {
    /// Base probability that an attempt fails.
    pub error_rate: f64,
    /// Median latency.
    #[serde(deserialize_with = "de_duration")]
    pub latency_median: Duration,
    /// 99th percentile latency (lognormal through both).
    #[serde(deserialize_with = "de_duration")]
    pub latency_p99: Duration,
    /// Upper clamp of a latency draw.
    #[serde(deserialize_with = "de_duration")]
    pub latency_max: Duration,
    /// An error answers after at most this.
    #[serde(deserialize_with = "de_duration")]
    pub fail_latency: Duration,
    /// How long a hung attempt takes to fail; `None`: never answers.
    #[serde(deserialize_with = "de_optional_duration")]
    pub hang: Option<Duration>,
    /// The service-time distribution; `None`: lognormal through
    /// `latency_median` and `latency_p99`.
    pub latency: Option<Distribution>,
    /// Attempts served at once without slowing down (0 = unlimited).
    pub capacity: u32,
    /// An attempt arriving while this many are in flight is refused at once:
    /// it fails after `fail_latency`, as a server shedding load answers 503
    /// (0 = never).
    pub shed_above: u32,
    /// Each attempt already in flight adds this fraction to a new attempt's
    /// latency (`latency × (1 + concurrency_slowdown × in_flight)`).
    pub concurrency_slowdown: f64,
    /// Hard outages.
    pub outages: Vec<Outage>,
    /// Brownouts.
    pub brownouts: Vec<Brownout>,
}

impl Default for DependencySpec {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            latency_median: Duration::from_millis(20),
            latency_p99: Duration::from_millis(100),
            latency_max: Duration::from_secs(30),
            fail_latency: Duration::from_millis(5),
            hang: Some(Duration::from_secs(60)),
            latency: None,
            capacity: 0,
            shed_above: 0,
            concurrency_slowdown: 0.0,
            outages: Vec::new(),
            brownouts: Vec::new(),
        }
    }
}

/// A window `[start, end)` where the open-loop rate is `rate`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// When it starts.
    #[serde(deserialize_with = "de_instant")]
    pub start: Instant,
    /// When it ends.
    #[serde(deserialize_with = "de_instant")]
    pub end: Instant,
    /// Calls per second inside.
    pub rate: f64,
}

/// The offered load.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSpec {
    /// Open-loop calls per second.
    pub rate: f64,
    /// Poisson (`true`) or evenly spaced arrivals.
    pub poisson: bool,
    /// Closed-loop clients.
    pub clients: u32,
    /// A closed-loop client's pause between calls.
    pub think: Duration,
    /// How long a caller waits before giving up on its call (`None`: until
    /// the policy ends it).
    pub patience: Option<Distribution>,
    /// Rate windows.
    pub bursts: Vec<Burst>,
    /// How many keys calls ask for, uniformly (at least 1).
    pub keys: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFile {
    #[serde(default)]
    rate: f64,
    #[serde(default)]
    arrivals: Option<String>,
    #[serde(default)]
    clients: u32,
    #[serde(default)]
    think: Option<String>,
    #[serde(default)]
    patience: Option<Distribution>,
    #[serde(default)]
    bursts: Vec<Burst>,
    keys: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    description: Option<String>,
    seed: u64,
    duration: String,
    bucket: Option<String>,
    drain: Option<String>,
    policy_name: Option<String>,
    rate_limit: Option<String>,
    throttle: Option<String>,
    chaos: Option<String>,
    adaptive_limit: Option<String>,
    cache: Option<String>,
    hedge: Option<String>,
    load: LoadFile,
    #[serde(default)]
    dependency: DependencySpec,
    #[serde(default)]
    policy: toml::Table,
}

/// A parsed, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A name for tables and plot titles.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// The file it was read from (empty when parsed from text).
    pub file: String,
    /// The seed of every random stream.
    pub seed: u64,
    /// Arrivals stop here.
    pub duration: Duration,
    /// Width of one time bucket of the plot.
    pub bucket: Duration,
    /// Calls still running at `duration` may finish until `duration + drain`.
    pub drain: Duration,
    /// The offered load.
    pub load: LoadSpec,
    /// The dependency.
    pub dependency: DependencySpec,
    /// The policy under test, resolved into core configs.
    pub policy: SimPolicy,
}

impl Scenario {
    /// Parses a scenario from TOML text. `fallback_name` names it when the file
    /// has no `name` (e.g. the file stem).
    pub fn from_toml(text: &str, fallback_name: &str) -> Result<Self, String> {
        let file: ScenarioFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let key = |k: &'static str| move |e: String| format!("{k}: {e}");
        let duration = parse_duration(&file.duration).map_err(key("duration"))?;
        if duration.is_zero() {
            return Err("duration: must be longer than zero".into());
        }
        let bucket = match &file.bucket {
            Some(b) => parse_duration(b).map_err(key("bucket"))?,
            None => Duration::from_micros((duration.as_micros() / 120).max(1_000)),
        };
        if bucket.is_zero() {
            return Err("bucket: must be longer than zero".into());
        }
        if duration.as_micros() / bucket.as_micros() > 100_000 {
            return Err("bucket: more than 100000 buckets; use a wider bucket".into());
        }
        let drain = match &file.drain {
            Some(d) => parse_duration(d).map_err(key("drain"))?,
            None => Duration::from_secs(60),
        };
        let poisson = match file.load.arrivals.as_deref() {
            None | Some("poisson") => true,
            Some("uniform") => false,
            Some(other) => {
                return Err(format!(
                    "load.arrivals: must be \"poisson\" or \"uniform\", got {other:?}"
                ));
            }
        };
        let think = match &file.load.think {
            Some(t) => parse_duration(t).map_err(key("load.think"))?,
            None => Duration::ZERO,
        };
        let load = LoadSpec {
            rate: file.load.rate,
            poisson,
            clients: file.load.clients,
            think,
            patience: file.load.patience,
            bursts: file.load.bursts,
            keys: file.load.keys.unwrap_or(1),
        };
        if load.keys == 0 {
            return Err("load.keys: must be at least 1".into());
        }
        if let Some(p) = &load.patience {
            p.validate("load.patience")?;
        }
        if !(load.rate >= 0.0 && load.rate.is_finite()) {
            return Err(format!("load.rate: must be ≥ 0, got {}", load.rate));
        }
        for (i, b) in load.bursts.iter().enumerate() {
            if b.end <= b.start || !(b.rate >= 0.0 && b.rate.is_finite()) {
                return Err(format!("load.bursts[{i}]: needs start < end and rate ≥ 0"));
            }
        }
        if load.rate == 0.0 && load.clients == 0 && load.bursts.is_empty() {
            return Err("load: offers nothing (set rate, clients or bursts)".into());
        }
        if load.clients > 0 && think.is_zero() && file.dependency.latency_median.is_zero() {
            return Err("load.think: closed-loop clients need a think time or a latency".into());
        }
        let dependency = file.dependency;
        if let Some(l) = &dependency.latency {
            l.validate("dependency.latency")?;
        }
        if !(dependency.concurrency_slowdown >= 0.0 && dependency.concurrency_slowdown.is_finite())
        {
            return Err(format!(
                "dependency.concurrency_slowdown: must be ≥ 0, got {}",
                dependency.concurrency_slowdown
            ));
        }
        if !(0.0..=1.0).contains(&dependency.error_rate) {
            return Err(format!(
                "dependency.error_rate: must be in 0..=1, got {}",
                dependency.error_rate
            ));
        }
        for (i, o) in dependency.outages.iter().enumerate() {
            if o.end <= o.start {
                return Err(format!("dependency.outages[{i}]: needs start < end"));
            }
        }
        for (i, b) in dependency.brownouts.iter().enumerate() {
            if b.end <= b.start || !(0.0..=1.0).contains(&b.error_rate) {
                return Err(format!(
                    "dependency.brownouts[{i}]: needs start < end and error_rate in 0..=1"
                ));
            }
        }
        let admission = file.policy.clone();
        let policy = policy::SimPolicy::from_table(file.policy, file.policy_name.as_deref())
            .map_err(key("policy"))?
            .with_extras(
                admission,
                policy::Extras {
                    rate_limit: file.rate_limit.as_deref(),
                    throttle: file.throttle.as_deref(),
                    adaptive_limit: file.adaptive_limit.as_deref(),
                    chaos: file.chaos.as_deref(),
                    cache: file.cache.as_deref(),
                    hedge: file.hedge.as_deref(),
                },
            )?;
        Ok(Self {
            name: file.name.unwrap_or_else(|| fallback_name.to_owned()),
            description: file.description.unwrap_or_default(),
            file: String::new(),
            seed: file.seed,
            duration,
            bucket,
            drain,
            load,
            dependency,
            policy,
        })
    }

    /// Reads and parses a scenario file.
    pub fn from_path(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path.file_stem().map_or_else(
            || "scenario".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let mut scenario =
            Self::from_toml(&text, &stem).map_err(|e| format!("{}: {e}", path.display()))?;
        scenario.file = path.file_name().map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        );
        Ok(scenario)
    }

    /// The service-time distribution the dependency draws from.
    pub fn service(&self) -> Distribution {
        self.dependency
            .latency
            .clone()
            .unwrap_or(Distribution::Lognormal {
                median: self.dependency.latency_median,
                p99: self.dependency.latency_p99,
            })
    }

    /// The first outage window, if any: what detection and recovery times are
    /// measured against.
    pub fn first_outage(&self) -> Option<&Outage> {
        self.dependency.outages.iter().min_by_key(|o| o.start)
    }
}
