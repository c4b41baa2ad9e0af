//! [`Registry`]: breakers, bulkheads, budgets and policies by name (`"kafka"`,
//! `"postgres"`, `"redis"`), built from a policy file or by hand, with manual
//! control (`force_open`, `reset`) and a [`Health`] snapshot.
//!
//! # The global switch
//!
//! A registry built with `enabled = false` (`STEADFAST_ENABLED=false`, the seeds'
//! `RESILIENCE_ENABLED`) still has every named breaker, bulkhead, budget and
//! policy, so code that looks them up does not change, but every policy passes
//! calls straight through: its pipeline is `PolicySet::PASS_THROUGH`-like
//! (one attempt, no timeouts, no fallback), it has no bulkhead and no budget,
//! and its breaker is [`disable`](SharedBreaker::disable)d, which admits every
//! call and only counts — so `/health` reports `"disabled"` and the stats keep
//! flowing.
//!
//! ```
//! # #[cfg(feature = "config")] {
//! use steadfast_std::config::PolicySet;
//! use steadfast_std::registry::Registry;
//!
//! let set = PolicySet::from_toml_with_env(r#"
//!     [breakers.kafka]
//!     failure_threshold = 2
//!     [policies.kafka]
//!     breaker = "kafka"
//!     max_attempts = 1
//! "#)?;
//! let registry = Registry::from_set(&set)?;
//! let kafka = registry.policy("kafka").unwrap();
//! for _ in 0..2 {
//!     let _ = kafka.call_blocking(|| Err::<(), _>("down"));
//! }
//! assert_eq!(registry.health().circuit_breakers["kafka"], "open");
//! registry.reset("kafka")?;
//! assert_eq!(registry.health().status.as_str(), "healthy");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use steadfast::breaker::Transition;
use steadfast::pipeline::Event;

use crate::adaptive::SharedAdaptiveLimit;
use crate::checks::HealthChecks;
use crate::health::{BreakerHealth, Health};
use crate::hedge::SharedHedger;
use crate::observer::LayerKind;
use crate::observer::{NoopObserver, Observer};
use crate::ratelimit::SharedRateLimiter;
use crate::throttle::SharedThrottle;
use crate::{Policy, SharedBreaker, SharedBudget, SharedBulkhead, time};

#[cfg(feature = "config")]
use crate::config::{ConfigError, Detector as ConfigDetector, PolicySet};

/// A name the registry does not know.
///
/// ```
/// use steadfast_std::registry::Registry;
/// let err = Registry::builder().build().force_open("nope").unwrap_err();
/// assert_eq!(err.to_string(), "no breaker named \"nope\"");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no breaker named \"{}\"", self.0)
    }
}

impl std::error::Error for UnknownName {}

struct Inner {
    enabled: bool,
    breakers: BTreeMap<String, SharedBreaker>,
    bulkheads: BTreeMap<String, SharedBulkhead>,
    budgets: BTreeMap<String, SharedBudget>,
    policies: BTreeMap<String, Policy>,
    observer: Arc<dyn Observer>,
    critical: BTreeSet<String>,
    checks: HealthChecks,
    chaos: BTreeMap<String, Drill>,
    rate_limiters: BTreeMap<String, SharedRateLimiter>,
    throttles: BTreeMap<String, SharedThrottle>,
    #[cfg(feature = "cache")]
    caches: BTreeMap<String, Shelf>,
    adaptive_limits: BTreeMap<String, SharedAdaptiveLimit>,
    /// Each hedger with the budget its hedges spend from.
    hedgers: BTreeMap<String, (SharedHedger, Option<SharedBudget>)>,
}

/// A declared cached fallback, built for its key and value types on first use.
#[cfg(feature = "cache")]
struct Shelf {
    capacity: usize,
    max_staleness: steadfast::time::Duration,
    made: std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

#[cfg(feature = "cache")]
impl fmt::Debug for Shelf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shelf")
            .field("capacity", &self.capacity)
            .field("max_staleness", &self.max_staleness)
            .finish_non_exhaustive()
    }
}

/// A named fault-injection drill: its settings and the switch every layer
/// handed out for it shares.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
struct Drill {
    config: steadfast::chaos::Config,
    enabled: Arc<std::sync::atomic::AtomicBool>,
}

/// Named breakers, bulkheads, budgets and policies. Cheap to clone (an `Arc`),
/// so it can be an axum `State`; every clone sees the same machines.
///
/// ```
/// use steadfast_std::registry::Registry;
/// use steadfast_std::{Policy, SharedBreaker};
///
/// let db = SharedBreaker::new("postgres", Default::default())?;
/// let registry = Registry::builder()
///     .breaker(db.clone())
///     .policy(Policy::builder(Default::default())?.name("postgres").breaker(db).build())
///     .build();
/// assert_eq!(registry.policy("postgres").unwrap().breaker().unwrap().name(), "postgres");
/// assert!(registry.breaker("redis").is_none());
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("enabled", &self.inner.enabled)
            .field("breakers", &self.inner.breakers.keys().collect::<Vec<_>>())
            .field(
                "bulkheads",
                &self.inner.bulkheads.keys().collect::<Vec<_>>(),
            )
            .field("budgets", &self.inner.budgets.keys().collect::<Vec<_>>())
            .field("policies", &self.inner.policies.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Builds a [`Registry`] by hand.
///
/// ```
/// use steadfast_std::registry::Registry;
/// use steadfast_std::SharedBulkhead;
/// let r = Registry::builder()
///     .bulkhead(SharedBulkhead::new("pool", Default::default())?)
///     .build();
/// assert!(r.bulkhead("pool").is_some());
/// # Ok::<(), steadfast::error::ConfigError>(())
/// ```
#[must_use]
pub struct RegistryBuilder {
    enabled: bool,
    breakers: BTreeMap<String, SharedBreaker>,
    bulkheads: BTreeMap<String, SharedBulkhead>,
    budgets: BTreeMap<String, SharedBudget>,
    policies: BTreeMap<String, Policy>,
    observer: Arc<dyn Observer>,
    critical: BTreeSet<String>,
    checks: HealthChecks,
    chaos: BTreeMap<String, Drill>,
    rate_limiters: BTreeMap<String, SharedRateLimiter>,
    throttles: BTreeMap<String, SharedThrottle>,
    #[cfg(feature = "cache")]
    caches: BTreeMap<String, Shelf>,
    adaptive_limits: BTreeMap<String, SharedAdaptiveLimit>,
    /// Each hedger with the budget its hedges spend from.
    hedgers: BTreeMap<String, (SharedHedger, Option<SharedBudget>)>,
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl RegistryBuilder {
    /// Registers a breaker under its own name (replacing one of the same name).
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// let r = Registry::builder().breaker(SharedBreaker::new("redis", Default::default())?).build();
    /// assert_eq!(r.breaker_names().collect::<Vec<_>>(), ["redis"]);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn breaker(mut self, breaker: SharedBreaker) -> Self {
        self.breakers.insert(breaker.name().to_owned(), breaker);
        self
    }

    /// Registers a bulkhead under its own name.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBulkhead};
    /// let r = Registry::builder().bulkhead(SharedBulkhead::new("io", Default::default())?).build();
    /// assert!(r.bulkhead("io").is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn bulkhead(mut self, bulkhead: SharedBulkhead) -> Self {
        self.bulkheads.insert(bulkhead.name().to_owned(), bulkhead);
        self
    }

    /// Registers a retry budget under `name`.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBudget};
    /// let r = Registry::builder().budget("api", SharedBudget::new(Default::default())?).build();
    /// assert!(r.budget("api").is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn budget(mut self, name: impl Into<String>, budget: SharedBudget) -> Self {
        self.budgets.insert(name.into(), budget);
        self
    }

    /// Registers a policy under its own name.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, Policy};
    /// let r = Registry::builder().policy(Policy::builder(Default::default())?.name("api").build()).build();
    /// assert!(r.policy("api").is_some());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policies.insert(policy.name().to_owned(), policy);
        self
    }

    /// The global switch, reported by [`Registry::health`] (default true). It
    /// does not change hand-built policies; `Registry::from_set` (feature `config`) builds
    /// pass-through policies when it is off.
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// assert!(!Registry::builder().enabled(false).build().enabled());
    /// ```
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Where the registry reports transitions it causes ([`Registry::force_open`],
    /// [`Registry::reset`]); give it the same observer as the policies.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, NoopObserver};
    /// let r = Registry::builder().observer(std::sync::Arc::new(NoopObserver)).build();
    /// assert!(r.enabled());
    /// ```
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Marks breaker `name` critical: no fallback stands in for it, so while it
    /// is down [`Registry::health`] says [`Unhealthy`](crate::health::Status::Unhealthy)
    /// (HTTP 503, out of rotation) rather than
    /// [`Degraded`](crate::health::Status::Degraded). The config key is
    /// `critical = true` in the breaker's section.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// use steadfast_std::health::Status;
    /// let r = Registry::builder()
    ///     .breaker(SharedBreaker::new("payments", Default::default())?)
    ///     .breaker(SharedBreaker::new("recommendations", Default::default())?)
    ///     .critical("payments")
    ///     .build();
    /// r.force_open("recommendations")?;
    /// assert_eq!(r.health().status, Status::Degraded);
    /// r.force_open("payments")?;
    /// assert_eq!(r.health().status, Status::Unhealthy);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn critical(mut self, name: impl Into<String>) -> Self {
        self.critical.insert(name.into());
        self
    }

    /// Registers a rate limiter under its own name.
    ///
    /// ```
    /// use steadfast::ratelimit::Config;
    /// use steadfast_std::ratelimit::SharedRateLimiter;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().rate_limiter(SharedRateLimiter::new("api", Config::per_second(50))?).build();
    /// assert_eq!(r.rate_limiter("api").unwrap().config().count(), 50);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn rate_limiter(mut self, limiter: SharedRateLimiter) -> Self {
        self.rate_limiters
            .insert(limiter.name().to_owned(), limiter);
        self
    }

    /// Declares a cached fallback named `name`: up to `capacity` keys, each
    /// value served up to `max_staleness` after it was stored
    /// (`[caches.NAME]`; [`Registry::cache`] builds it for its key and value
    /// types). Feature `cache`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().cache("quotes", 1_000, Duration::from_secs(60)).build();
    /// let quotes = r.cache::<String, u64>("quotes").unwrap();
    /// assert_eq!(quotes.max_staleness(), steadfast::time::Duration::from_secs(60));
    /// ```
    #[cfg(feature = "cache")]
    pub fn cache(
        mut self,
        name: impl Into<String>,
        capacity: usize,
        max_staleness: impl Into<steadfast::time::Duration>,
    ) -> Self {
        self.caches.insert(
            name.into(),
            Shelf {
                capacity,
                max_staleness: max_staleness.into(),
                made: std::sync::OnceLock::new(),
            },
        );
        self
    }

    /// Registers an adaptive throttle under its own name.
    ///
    /// ```
    /// use steadfast_std::throttle::SharedThrottle;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().throttle(SharedThrottle::new("api", Default::default())?).build();
    /// assert_eq!(r.throttle("api").unwrap().config().k_permille(), 2_000);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn throttle(mut self, throttle: SharedThrottle) -> Self {
        self.throttles.insert(throttle.name().to_owned(), throttle);
        self
    }

    /// Registers an adaptive concurrency limit under its own name. Give it
    /// the registry's observer yourself
    /// ([`SharedAdaptiveLimit::with_observer`]); a registry built from a
    /// file does.
    ///
    /// ```
    /// use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().adaptive_limit(SharedAdaptiveLimit::new("db", Default::default())?).build();
    /// assert_eq!(r.adaptive_limit("db").unwrap().limit(), 20);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn adaptive_limit(mut self, limit: SharedAdaptiveLimit) -> Self {
        self.adaptive_limits.insert(limit.name().to_owned(), limit);
        self
    }

    /// Registers a hedger under its own name, its hedges spending from
    /// `budget` if given (for `Registry::hedge_layer`, feature `tower`).
    ///
    /// ```
    /// use steadfast_std::hedge::SharedHedger;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().hedger(SharedHedger::new("search", Default::default())?, None).build();
    /// assert_eq!(r.hedger("search").unwrap().config().max_hedges(), 1);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn hedger(mut self, hedger: SharedHedger, budget: Option<SharedBudget>) -> Self {
        self.hedgers
            .insert(hedger.name().to_owned(), (hedger, budget));
        self
    }

    /// Registers a fault-injection drill under `name`, for
    /// `Registry::chaos_layer` (feature `tower`). It injects only when
    /// `config` is enabled and the registry's global switch is on.
    ///
    /// ```
    /// use steadfast::chaos::Config;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().chaos("db-drill", Config::DEFAULT).build();
    /// assert_eq!(r.chaos_names().collect::<Vec<_>>(), ["db-drill"]);
    /// ```
    pub fn chaos(mut self, name: impl Into<String>, config: steadfast::chaos::Config) -> Self {
        let enabled = Arc::new(std::sync::atomic::AtomicBool::new(config.enabled()));
        self.chaos.insert(name.into(), Drill { config, enabled });
        self
    }

    /// Dependency checks to report beside the breakers (default: an empty
    /// set, to which [`Registry::health_checks`] can add).
    ///
    /// ```
    /// # use std::time::Duration;
    /// use steadfast_std::checks::HealthChecks;
    /// # use steadfast_std::registry::Registry;
    /// let checks = HealthChecks::new();
    /// let r = Registry::builder().health_checks(checks.clone()).build();
    /// checks.report("db", Ok::<(), &str>(()), Duration::ZERO);
    /// assert_eq!(r.health().checks[0].name, "db");
    /// ```
    pub fn health_checks(mut self, checks: HealthChecks) -> Self {
        self.checks = checks;
        self
    }

    /// The registry.
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// assert!(Registry::builder().build().policy("x").is_none());
    /// ```
    pub fn build(self) -> Registry {
        // Every series exists at 0 from start-up, as the policies' do.
        let register = |kind: LayerKind, names: &mut dyn Iterator<Item = &String>| {
            for name in names {
                self.observer.on_register_layer(kind, name);
            }
        };
        register(LayerKind::RateLimiter, &mut self.rate_limiters.keys());
        register(LayerKind::Throttle, &mut self.throttles.keys());
        register(LayerKind::AdaptiveLimit, &mut self.adaptive_limits.keys());
        register(LayerKind::Hedger, &mut self.hedgers.keys());
        register(LayerKind::Chaos, &mut self.chaos.keys());
        #[cfg(feature = "cache")]
        register(LayerKind::Cache, &mut self.caches.keys());
        Registry {
            inner: Arc::new(Inner {
                enabled: self.enabled,
                breakers: self.breakers,
                bulkheads: self.bulkheads,
                budgets: self.budgets,
                policies: self.policies,
                observer: self.observer,
                critical: self.critical,
                checks: self.checks,
                chaos: self.chaos,
                rate_limiters: self.rate_limiters,
                throttles: self.throttles,
                #[cfg(feature = "cache")]
                caches: self.caches,
                adaptive_limits: self.adaptive_limits,
                hedgers: self.hedgers,
            }),
        }
    }
}

impl Registry {
    /// An empty builder (enabled, no observer).
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().build();
    /// assert_eq!(r.breaker_names().count(), 0);
    /// ```
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            enabled: true,
            breakers: BTreeMap::new(),
            bulkheads: BTreeMap::new(),
            budgets: BTreeMap::new(),
            policies: BTreeMap::new(),
            observer: Arc::new(NoopObserver),
            critical: BTreeSet::new(),
            checks: HealthChecks::new(),
            chaos: BTreeMap::new(),
            rate_limiters: BTreeMap::new(),
            throttles: BTreeMap::new(),
            #[cfg(feature = "cache")]
            caches: BTreeMap::new(),
            adaptive_limits: BTreeMap::new(),
            hedgers: BTreeMap::new(),
        }
    }

    /// Builds every machine and policy of a validated policy file (feature
    /// `config`), with no observer.
    ///
    /// ```
    /// use steadfast_std::config::PolicyFile;
    /// use steadfast_std::registry::Registry;
    ///
    /// let set = PolicyFile::from_yaml_str("
    /// bulkheads:
    ///   db: { max_concurrent: 4 }
    /// policies:
    ///   db: { bulkhead: db, max_attempts: 2 }
    /// ")?.validate()?;
    /// let registry = Registry::from_set(&set)?;
    /// assert_eq!(registry.policy("db").unwrap().bulkhead().unwrap().config().max_concurrent(), 4);
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    #[cfg(feature = "config")]
    pub fn from_set(set: &PolicySet) -> Result<Self, ConfigError> {
        Self::from_set_with_observer(set, Arc::new(NoopObserver))
    }

    /// Like [`from_set`](Self::from_set), every policy reporting to `observer`
    /// (e.g. [`observe::Standard`](crate::observe)). Also sets each breaker's
    /// starting state through it (a `circuit_breaker_state` gauge exists from
    /// the start, not from the first transition).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use steadfast_std::config::PolicySet;
    /// use steadfast_std::registry::Registry;
    /// use steadfast_std::NoopObserver;
    ///
    /// let set = PolicySet::from_toml_with_env("enabled = false\n[breakers.x]\n[policies.x]\nbreaker = \"x\"\n")?;
    /// let registry = Registry::from_set_with_observer(&set, Arc::new(NoopObserver))?;
    /// assert!(!registry.enabled());
    /// assert_eq!(registry.health().circuit_breakers["x"], "disabled");
    /// assert_eq!(registry.policy("x").unwrap().config().retry().max_attempts(), 1);
    /// # Ok::<(), steadfast_std::config::ConfigError>(())
    /// ```
    #[cfg(feature = "config")]
    pub fn from_set_with_observer(
        set: &PolicySet,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, ConfigError> {
        use crate::breaker::Detector;
        use crate::config::PolicySpec;

        let core_error =
            |key: String| move |e: steadfast::error::ConfigError| ConfigError::new(key, e.problem);
        let mut builder = Self::builder()
            .enabled(set.enabled)
            .observer(observer.clone());
        for (name, spec) in &set.breakers {
            let config = spec.config;
            let breaker = match spec.detector {
                ConfigDetector::Consecutive => {
                    SharedBreaker::with_detector(name.as_str(), config, Detector::Consecutive)
                }
                ConfigDetector::Time => {
                    SharedBreaker::with_detector(name.as_str(), config, Detector::TimeWindow)
                }
                // Any `1..=MAX_COUNT_WINDOW` (as `PolicyFile::validate` checks).
                ConfigDetector::Count { window } => {
                    SharedBreaker::with_count_window(name.as_str(), config, usize::from(window))
                }
            }
            .map_err(|e| {
                let key = match e.field {
                    "CountWindow::len" => format!("breakers.{name}.window"),
                    _ => format!("breakers.{name}"),
                };
                ConfigError::new(key, e.problem)
            })?;
            if !set.enabled {
                let _ = breaker.disable();
            }
            if spec.critical {
                builder = builder.critical(name.clone());
            }
            builder = builder.breaker(breaker);
        }
        for (name, config) in &set.bulkheads {
            let bulkhead = SharedBulkhead::new(name.as_str(), *config)
                .map_err(core_error(format!("bulkheads.{name}")))?;
            builder = builder.bulkhead(bulkhead);
        }
        for (name, config) in &set.budgets {
            let budget =
                SharedBudget::of(*config).map_err(core_error(format!("budgets.{name}")))?;
            builder = builder.budget(name.clone(), budget);
        }
        for (name, config) in &set.ratelimits {
            let limiter = SharedRateLimiter::new(name.as_str(), *config)
                .map_err(core_error(format!("ratelimits.{name}")))?;
            builder = builder.rate_limiter(limiter);
        }
        #[cfg(feature = "cache")]
        for (name, spec) in &set.caches {
            builder = builder.cache(name.clone(), spec.capacity, spec.max_staleness);
        }
        for (name, config) in &set.throttles {
            let throttle = SharedThrottle::new(name.as_str(), *config)
                .map_err(core_error(format!("throttles.{name}")))?;
            builder = builder.throttle(throttle);
        }
        for (name, config) in &set.adaptive_limits {
            let limit = SharedAdaptiveLimit::new(name.as_str(), *config)
                .map_err(core_error(format!("adaptive_limits.{name}")))?
                .with_observer(observer.clone());
            builder = builder.adaptive_limit(limit);
        }
        for (name, spec) in &set.hedges {
            let hedger = SharedHedger::new(name.as_str(), spec.config)
                .map_err(core_error(format!("hedges.{name}")))?
                .with_observer(observer.clone());
            // Validation checked that the budget exists.
            let budget = spec
                .budget
                .as_ref()
                .and_then(|b| builder.budgets.get(b).cloned());
            builder = builder.hedger(hedger, budget);
        }
        for (name, config) in &set.chaos {
            // The global switch off turns every drill off too.
            builder = builder.chaos(
                name.clone(),
                config.with_enabled(set.enabled && config.enabled()),
            );
        }
        for (name, spec) in &set.policies {
            let PolicySpec {
                pipeline,
                breaker,
                bulkhead,
                budget,
                ratelimit,
                throttle,
                seed,
            } = spec;
            let pipeline = if set.enabled {
                *pipeline
            } else {
                PolicySet::PASS_THROUGH.with_order(pipeline.order())
            };
            let mut policy = Policy::builder(pipeline)
                .map_err(core_error(format!("policies.{name}")))?
                .name(name.as_str())
                .observer(observer.clone());
            if let Some(seed) = seed {
                policy = policy.seed(*seed);
            }
            // References were resolved by `validate`; a hand-made set may lack them.
            let missing = |section: &str, what: &str| {
                ConfigError::new(
                    format!("policies.{name}.{section}"),
                    format!("no [{section}s.{what}] entry"),
                )
            };
            if let Some(b) = breaker {
                let shared = builder
                    .breakers
                    .get(b)
                    .ok_or_else(|| missing("breaker", b))?;
                policy = policy.breaker(shared.clone());
            }
            if set.enabled {
                if let Some(b) = bulkhead {
                    let shared = builder
                        .bulkheads
                        .get(b)
                        .ok_or_else(|| missing("bulkhead", b))?;
                    policy = policy.bulkhead(shared.clone());
                }
                if let Some(b) = budget {
                    let shared = builder.budgets.get(b).ok_or_else(|| missing("budget", b))?;
                    policy = policy.budget(shared.clone());
                }
                if let Some(t) = throttle {
                    let shared = builder
                        .throttles
                        .get(t)
                        .ok_or_else(|| missing("throttle", t))?;
                    policy = policy.throttle(shared.clone());
                }
                if let Some(r) = ratelimit {
                    let shared = builder
                        .rate_limiters
                        .get(r)
                        .ok_or_else(|| missing("ratelimit", r))?;
                    policy = policy.rate_limiter(shared.clone());
                }
            }
            builder = builder.policy(policy.build());
        }
        let registry = builder.build();
        registry.announce_states();
        Ok(registry)
    }

    /// Reports every breaker's current state to the observer as a transition
    /// from itself, and every bulkhead's occupancy to an observer that
    /// watches them (so gauges start at the right value).
    #[cfg(feature = "config")]
    fn announce_states(&self) {
        let at = time::now();
        for (name, breaker) in &self.inner.breakers {
            let state = breaker.state();
            let t = Transition::new(state, state, at);
            self.inner
                .observer
                .on_event("", Some(name), &Event::Breaker(t));
        }
        if self.inner.observer.watches_bulkheads() {
            for (name, bulkhead) in &self.inner.bulkheads {
                self.inner
                    .observer
                    .on_bulkhead(name, bulkhead.in_flight(), bulkhead.queued());
            }
        }
    }

    /// The global switch.
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// assert!(Registry::builder().build().enabled());
    /// ```
    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// The policy named `name`.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, Policy};
    /// let r = Registry::builder().policy(Policy::builder(Default::default())?.name("api").build()).build();
    /// let answer = r.policy("api").unwrap().call_blocking(|| Ok::<_, ()>(42));
    /// assert_eq!(answer.unwrap(), 42);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.inner.policies.get(name)
    }

    /// The breaker named `name`.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// let r = Registry::builder().breaker(SharedBreaker::new("redis", Default::default())?).build();
    /// assert_eq!(r.breaker("redis").unwrap().state(), steadfast::breaker::State::Closed);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn breaker(&self, name: &str) -> Option<&SharedBreaker> {
        self.inner.breakers.get(name)
    }

    /// The rate limiter named `name`.
    pub fn rate_limiter(&self, name: &str) -> Option<&SharedRateLimiter> {
        self.inner.rate_limiters.get(name)
    }

    /// A tower [`RateLimitLayer`](crate::tower::RateLimitLayer) for the
    /// limiter named `name` (`[ratelimits.NAME]`), reporting refusals to the
    /// registry's observer (`rate_limit_rejections_total`). A disabled
    /// registry's layer admits every request. Feature `tower`.
    ///
    /// ```
    /// use steadfast::ratelimit::Config;
    /// use steadfast_std::ratelimit::SharedRateLimiter;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().rate_limiter(SharedRateLimiter::new("api", Config::per_second(50))?).build();
    /// assert_eq!(r.rate_limit_layer("api").unwrap().limiter().name(), "api");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[cfg(feature = "tower")]
    pub fn rate_limit_layer(&self, name: &str) -> Option<crate::tower::RateLimitLayer> {
        let limiter = self.inner.rate_limiters.get(name)?.clone();
        let layer =
            crate::tower::RateLimitLayer::new(limiter).with_observer(self.inner.observer.clone());
        Some(if self.inner.enabled {
            layer
        } else {
            layer.passing()
        })
    }

    /// The cached fallback named `name` (`[caches.NAME]`), for keys `K` and
    /// values `V`: built on the first call, the same cache (a handle:
    /// clones share it) on every later one. `None` when there is no such
    /// cache, or when it was first asked for with other key or value types.
    /// Feature `cache`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().cache("quotes", 10, Duration::from_secs(60)).build();
    /// let a = r.cache::<String, u64>("quotes").unwrap();
    /// a.store("ACME".to_owned(), 42);
    /// let b = r.cache::<String, u64>("quotes").unwrap();
    /// assert_eq!(b.get(&"ACME".to_owned()).map(|c| c.value), Some(42));
    /// assert!(r.cache::<u32, u64>("quotes").is_none()); // other types
    /// assert!(r.cache::<String, u64>("nope").is_none());
    /// ```
    #[cfg(feature = "cache")]
    pub fn cache<K, V>(&self, name: &str) -> Option<crate::cache::LastGood<K, V>>
    where
        K: Eq + std::hash::Hash + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let shelf = self.inner.caches.get(name)?;
        let made = shelf.made.get_or_init(|| {
            match crate::cache::LastGood::<K, V>::new(name, shelf.capacity, shelf.max_staleness) {
                Ok(cache) => Arc::new(cache) as Arc<dyn std::any::Any + Send + Sync>,
                Err(_) => Arc::new(()),
            }
        });
        made.clone()
            .downcast::<crate::cache::LastGood<K, V>>()
            .ok()
            .map(|cache| (*cache).clone())
    }

    /// A tower [`CacheLayer`](crate::tower::CacheLayer) over the cached
    /// fallback named `name` (as [`cache`](Self::cache) returns it), keying
    /// each request with `key`, reporting what it serves to the registry's
    /// observer (`fallback_invocations_total` under the cache's name). A
    /// disabled registry's layer keeps fresh values and serves none.
    /// Features `cache` and `tower`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().cache("quotes", 10, Duration::from_secs(60)).build();
    /// let layer = r.cache_layer::<String, u64, _, _>("quotes", |symbol: &&str| symbol.to_string()).unwrap();
    /// assert_eq!(layer.cache().name(), "quotes");
    /// ```
    #[cfg(all(feature = "cache", feature = "tower"))]
    pub fn cache_layer<K, V, F, Req>(
        &self,
        name: &str,
        key: F,
    ) -> Option<crate::tower::CacheLayer<K, V, F>>
    where
        K: Eq + std::hash::Hash + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
        F: Fn(&Req) -> K,
    {
        let layer = crate::tower::CacheLayer::new(self.cache::<K, V>(name)?, key)
            .with_observer(self.inner.observer.clone());
        Some(if self.inner.enabled {
            layer
        } else {
            layer.serving(steadfast::pipeline::FallbackOn::Never)
        })
    }

    /// The adaptive throttle named `name`.
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// assert!(Registry::builder().build().throttle("api").is_none());
    /// ```
    pub fn throttle(&self, name: &str) -> Option<&SharedThrottle> {
        self.inner.throttles.get(name)
    }

    /// A tower [`ThrottleLayer`](crate::tower::ThrottleLayer) for the
    /// throttle named `name` (`[throttles.NAME]`), reporting refusals to the
    /// registry's observer (`throttle_rejections_total`). A disabled
    /// registry's layer admits every request. Feature `tower`.
    ///
    /// ```
    /// use steadfast_std::throttle::SharedThrottle;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().throttle(SharedThrottle::new("api", Default::default())?).build();
    /// assert_eq!(r.throttle_layer("api").unwrap().throttle().name(), "api");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[cfg(feature = "tower")]
    pub fn throttle_layer(&self, name: &str) -> Option<crate::tower::ThrottleLayer> {
        let throttle = self.inner.throttles.get(name)?.clone();
        let layer =
            crate::tower::ThrottleLayer::new(throttle).with_observer(self.inner.observer.clone());
        Some(if self.inner.enabled {
            layer
        } else {
            layer.passing()
        })
    }

    /// The adaptive concurrency limit named `name`.
    ///
    /// ```
    /// use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().adaptive_limit(SharedAdaptiveLimit::new("db", Default::default())?).build();
    /// assert_eq!(r.adaptive_limit("db").unwrap().name(), "db");
    /// assert!(r.adaptive_limit("cache").is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn adaptive_limit(&self, name: &str) -> Option<&SharedAdaptiveLimit> {
        self.inner.adaptive_limits.get(name)
    }

    /// A tower [`AdaptiveLimitLayer`](crate::tower::AdaptiveLimitLayer) for
    /// the limit named `name` (`[adaptive_limits.NAME]`). A disabled
    /// registry's layer admits every request. Feature `tower`.
    ///
    /// ```
    /// use steadfast_std::adaptive::SharedAdaptiveLimit;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().adaptive_limit(SharedAdaptiveLimit::new("db", Default::default())?).build();
    /// assert_eq!(r.adaptive_limit_layer("db").unwrap().limit().name(), "db");
    /// assert!(r.adaptive_limit_layer("cache").is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[cfg(feature = "tower")]
    pub fn adaptive_limit_layer(&self, name: &str) -> Option<crate::tower::AdaptiveLimitLayer> {
        let layer =
            crate::tower::AdaptiveLimitLayer::new(self.inner.adaptive_limits.get(name)?.clone());
        Some(if self.inner.enabled {
            layer
        } else {
            layer.passing()
        })
    }

    /// The hedger named `name`.
    ///
    /// ```
    /// use steadfast_std::hedge::SharedHedger;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().hedger(SharedHedger::new("search", Default::default())?, None).build();
    /// assert_eq!(r.hedger("search").unwrap().name(), "search");
    /// assert!(r.hedger("db").is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn hedger(&self, name: &str) -> Option<&SharedHedger> {
        self.inner.hedgers.get(name).map(|(h, _)| h)
    }

    /// A tower [`HedgeLayer`](crate::tower::HedgeLayer) for the hedger
    /// named `name` (`[hedges.NAME]`), with its budget. A disabled
    /// registry's layer runs the first attempt only. Feature `tower`.
    ///
    /// ```
    /// use steadfast_std::hedge::SharedHedger;
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().hedger(SharedHedger::new("search", Default::default())?, None).build();
    /// assert_eq!(r.hedge_layer("search").unwrap().hedger().name(), "search");
    /// assert!(r.hedge_layer("db").is_none());
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[cfg(feature = "tower")]
    pub fn hedge_layer(&self, name: &str) -> Option<crate::tower::HedgeLayer> {
        let (hedger, budget) = self.inner.hedgers.get(name)?;
        let mut layer = crate::tower::HedgeLayer::new(hedger.clone());
        if let Some(budget) = budget {
            layer = layer.with_budget(budget.clone());
        }
        Some(if self.inner.enabled {
            layer
        } else {
            layer.passing()
        })
    }

    /// The names of the fault-injection drills.
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// assert_eq!(Registry::builder().build().chaos_names().count(), 0);
    /// ```
    pub fn chaos_names(&self) -> impl Iterator<Item = &str> {
        self.inner.chaos.keys().map(String::as_str)
    }

    /// A tower [`ChaosLayer`](crate::tower::ChaosLayer) for the drill named
    /// `name` (`[chaos.NAME]`), failing requests with errors made by `fault`,
    /// reporting its injections to the registry's observer
    /// (`chaos_injections_total`). Every layer of one name shares one switch
    /// ([`ChaosLayer::switch`](crate::tower::ChaosLayer::switch)). Feature
    /// `tower`.
    ///
    /// ```
    /// use steadfast::chaos::{Config, PER_MILLION};
    /// use steadfast_std::registry::Registry;
    /// use tower::{Layer, Service, ServiceExt, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // From a file: `[chaos.db]`, `enabled = true`, `fault = "100%"`.
    /// let drill = Config::DEFAULT.with_enabled(true).with_fault(PER_MILLION);
    /// let registry = Registry::builder().chaos("db", drill).build();
    /// let layer = registry.chaos_layer("db", || "injected").unwrap();
    /// let mut svc = layer.layer(service_fn(|_: ()| async { Ok::<_, &str>("rows") }));
    /// assert_eq!(svc.ready().await?.call(()).await, Err("injected"));
    /// // Any layer of the drill turns them all off.
    /// registry.chaos_layer::<&str, &str>("db", || "x").unwrap().switch().set(false);
    /// assert_eq!(svc.ready().await?.call(()).await, Ok("rows"));
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tower")]
    pub fn chaos_layer<T, E>(
        &self,
        name: &str,
        fault: impl Fn() -> E + Send + Sync + 'static,
    ) -> Option<crate::tower::ChaosLayer<T, E>> {
        let drill = self.inner.chaos.get(name)?;
        let layer = crate::tower::ChaosLayer::new(drill.config, fault).ok()?;
        Some(
            layer
                .sharing(drill.enabled.clone())
                .with_observer(name, self.inner.observer.clone()),
        )
    }

    /// A tower layer for the breaker named `name`, reporting its transitions
    /// and refusals to the registry's observer (feature `tower`): the gauges
    /// and counters show the tower path as they show the policies'.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// let r = Registry::builder().breaker(SharedBreaker::new("search", Default::default())?).build();
    /// let layer = r.breaker_layer("search").unwrap();
    /// assert_eq!(layer.breaker().name(), "search");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[cfg(feature = "tower")]
    pub fn breaker_layer(&self, name: &str) -> Option<crate::tower::BreakerLayer> {
        let breaker = self.inner.breakers.get(name)?.clone();
        Some(crate::tower::BreakerLayer::new(breaker).with_observer(self.inner.observer.clone()))
    }

    /// A tower layer for the bulkhead named `name`, reporting its refusals
    /// and its slots in flight and waiters queued to the registry's observer
    /// (feature `tower`). A disabled registry's layer lets every request
    /// through without taking a slot, as its policies do.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBulkhead};
    /// let r = Registry::builder().bulkhead(SharedBulkhead::new("pool", Default::default())?).build();
    /// let layer = r.bulkhead_layer("pool").unwrap();
    /// assert_eq!(layer.bulkhead().name(), "pool");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[cfg(feature = "tower")]
    pub fn bulkhead_layer(&self, name: &str) -> Option<crate::tower::BulkheadLayer> {
        let bulkhead = self.inner.bulkheads.get(name)?.clone();
        let layer =
            crate::tower::BulkheadLayer::new(bulkhead).with_observer(self.inner.observer.clone());
        Some(if self.inner.enabled {
            layer
        } else {
            layer.passing()
        })
    }

    /// A tower layer retrying by the policy named `policy`: its retry config,
    /// its budget if it has one, its total timeout if it has one (else the
    /// layer's [`DEFAULT_TOTAL_TIMEOUT`](crate::tower::DEFAULT_TOTAL_TIMEOUT)),
    /// reporting retries, ends and latencies to the registry's observer under
    /// the policy's name (feature `tower`). On a disabled registry the policy
    /// makes one attempt, and so does the layer.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, Policy};
    /// let r = Registry::builder().policy(Policy::builder(Default::default())?.name("api").build()).build();
    /// let layer = r.retry_layer("api").unwrap();
    /// assert_eq!((layer.name(), layer.config().max_attempts()), (Some("api"), 3));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[cfg(feature = "tower")]
    pub fn retry_layer(&self, policy: &str) -> Option<crate::tower::RetryLayer> {
        let policy = self.inner.policies.get(policy)?;
        let config = policy.config();
        // The policy's config passed the same check when the policy was built.
        let mut layer = crate::tower::RetryLayer::new(config.retry()).ok()?;
        if let Some(budget) = policy.budget() {
            layer = layer.with_budget(budget.clone());
        }
        if let Some(total) = config.timeout().total() {
            layer = layer.with_total_timeout(total);
        }
        Some(layer.with_observer(policy.name(), self.inner.observer.clone()))
    }

    /// A tower layer cutting requests off at the attempt timeout of the
    /// policy named `policy`, reporting each timeout to the registry's
    /// observer under the policy's name (feature `tower`). `None` when there
    /// is no such policy or it has no attempt timeout (as on a disabled
    /// registry).
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, Policy};
    /// let r = Registry::builder().policy(Policy::builder(Default::default())?.name("api").build()).build();
    /// let layer = r.timeout_layer("api").unwrap(); // the default: 30 s an attempt
    /// assert_eq!(layer.timeout(), std::time::Duration::from_secs(30));
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    #[cfg(feature = "tower")]
    pub fn timeout_layer(&self, policy: &str) -> Option<crate::tower::TimeoutLayer> {
        let policy = self.inner.policies.get(policy)?;
        let attempt = policy.config().timeout().attempt()?;
        let layer = crate::tower::TimeoutLayer::new(time::to_std_duration(attempt));
        Some(layer.with_observer(policy.name(), self.inner.observer.clone()))
    }

    /// The bulkhead named `name`.
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// assert!(Registry::builder().build().bulkhead("io").is_none());
    /// ```
    pub fn bulkhead(&self, name: &str) -> Option<&SharedBulkhead> {
        self.inner.bulkheads.get(name)
    }

    /// The retry budget named `name`.
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// assert!(Registry::builder().build().budget("api").is_none());
    /// ```
    pub fn budget(&self, name: &str) -> Option<&SharedBudget> {
        self.inner.budgets.get(name)
    }

    /// Breaker names, sorted.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// let r = Registry::builder()
    ///     .breaker(SharedBreaker::new("b", Default::default())?)
    ///     .breaker(SharedBreaker::new("a", Default::default())?)
    ///     .build();
    /// assert_eq!(r.breaker_names().collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn breaker_names(&self) -> impl Iterator<Item = &str> {
        self.inner.breakers.keys().map(String::as_str)
    }

    /// Policy names, sorted.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, Policy};
    /// let r = Registry::builder().policy(Policy::builder(Default::default())?.name("api").build()).build();
    /// assert_eq!(r.policy_names().collect::<Vec<_>>(), ["api"]);
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn policy_names(&self) -> impl Iterator<Item = &str> {
        self.inner.policies.keys().map(String::as_str)
    }

    fn manual(
        &self,
        name: &str,
        f: impl FnOnce(&SharedBreaker) -> Option<Transition>,
    ) -> Result<Option<Transition>, UnknownName> {
        let breaker = self
            .breaker(name)
            .ok_or_else(|| UnknownName(name.to_owned()))?;
        if !self.inner.enabled {
            // The switch says every call passes straight through; a manual
            // command must not re-arm a breaker behind its back.
            return Ok(None);
        }
        let t = f(breaker);
        if let Some(t) = t {
            self.inner
                .observer
                .on_event("", Some(name), &Event::Breaker(t));
        }
        Ok(t)
    }

    /// Forces the breaker `name` open: it rejects every call until
    /// [`reset`](Self::reset). The transition goes to the observer. On a
    /// disabled registry (`enabled = false`) nothing changes and the answer
    /// is `Ok(None)`: every call keeps passing straight through.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// let r = Registry::builder().breaker(SharedBreaker::new("db", Default::default())?).build();
    /// assert!(r.force_open("db")?.is_some());
    /// assert_eq!(r.health().circuit_breakers["db"], "forced_open");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn force_open(&self, name: &str) -> Result<Option<Transition>, UnknownName> {
        self.manual(name, SharedBreaker::force_open)
    }

    /// Resets the breaker `name` to closed, its run/window cleared (the seeds'
    /// `breaker.reset()`). The transition goes to the observer. On a disabled
    /// registry (`enabled = false`) nothing changes and the answer is
    /// `Ok(None)`: the breaker stays disabled.
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// let r = Registry::builder().breaker(SharedBreaker::new("db", Default::default())?).build();
    /// r.force_open("db")?;
    /// r.reset("db")?;
    /// assert_eq!(r.health().circuit_breakers["db"], "closed");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reset(&self, name: &str) -> Result<Option<Transition>, UnknownName> {
        self.manual(name, SharedBreaker::reset)
    }

    /// Readiness: a snapshot of every breaker and dependency check, for
    /// `/health/ready` or `/health` (JSON with the `health` feature:
    /// `Health::to_json`). Anything down degrades it; a critical breaker or
    /// check down makes it unhealthy (see [`health`](crate::health)).
    ///
    /// ```
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// let r = Registry::builder().breaker(SharedBreaker::new("db", Default::default())?).build();
    /// let h = r.health();
    /// assert_eq!(h.status.as_str(), "healthy");
    /// assert_eq!(h.breakers[0].name, "db");
    /// # Ok::<(), steadfast::error::ConfigError>(())
    /// ```
    pub fn health(&self) -> Health {
        let now = time::now();
        let breakers = self
            .inner
            .breakers
            .iter()
            .map(|(name, b)| {
                BreakerHealth::new(name, b.state(), b.stats(), now)
                    .with_window(b.counts_at(now))
                    .with_metrics_only(b.config().metrics_only())
                    .with_critical(self.inner.critical.contains(name))
            })
            .collect();
        Health::new(self.inner.enabled, breakers, self.inner.checks.snapshot())
    }

    /// Liveness, for `/health/live`: only the checks tagged `live`, never a
    /// breaker (see [`health`](crate::health)).
    ///
    /// ```
    /// # use std::time::Duration;
    /// use steadfast_std::health::Status;
    /// # use steadfast_std::{registry::Registry, SharedBreaker};
    /// let r = Registry::builder()
    ///     .breaker(SharedBreaker::new("db", Default::default())?)
    ///     .critical("db")
    ///     .build();
    /// r.force_open("db")?;
    /// assert_eq!(r.health().status, Status::Unhealthy); // not ready
    /// assert_eq!(r.liveness().status, Status::Healthy); // but alive
    /// r.health_checks().report("event-loop", Err("stalled for 30s"), Duration::ZERO);
    /// r.health_checks().register("worker", &["live"]);
    /// r.health_checks().report("worker", Err("panicked"), Duration::ZERO);
    /// assert_eq!(r.liveness().status, Status::Unhealthy);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn liveness(&self) -> Health {
        Health::liveness(self.inner.enabled, self.inner.checks.snapshot())
    }

    /// The dependency checks reported by [`Registry::health`]; add to them at
    /// any time (every clone of the registry sees the same checks).
    ///
    /// ```
    /// # use steadfast_std::registry::Registry;
    /// let r = Registry::builder().build();
    /// r.health_checks().register("db", &["critical"]);
    /// assert_eq!(r.clone().health().checks.len(), 1);
    /// ```
    pub fn health_checks(&self) -> &HealthChecks {
        &self.inner.checks
    }
}
