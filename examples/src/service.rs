//! An HTTP service calling a flaky in-process dependency through a named
//! steadfast policy, with health (JSON: `/health/ready`, `/health/live`) and
//! `/metrics` (Prometheus text).
//!
//! ```text
//! cargo run -p steadfast-examples --bin service
//! curl localhost:3000/quote?symbol=ACME
//! curl localhost:3000/quote/tower?symbol=ACME       # the same dependency through a tower BreakerLayer
//! curl -X POST 'localhost:3000/chaos?outage=true'   # the dependency goes down
//! curl localhost:3000/quote?symbol=ACME             # retries, then the breaker opens: stale quote
//! curl -i localhost:3000/health/ready                # 200 {"status":"degraded",...,"circuit_breakers":{"quotes":"open"}}: the fallback serves
//! curl -i localhost:3000/health/live                 # 200 {"status":"healthy",...}: a dependency's outage is no reason to restart
//! curl localhost:3000/metrics                       # circuit_breaker_state{name="quotes"} 2, retry_attempts_total, ...
//! curl -X POST 'localhost:3000/chaos?outage=false'
//! curl -X POST localhost:3000/breakers/quotes/reset
//! ```
//!
//! The policy comes from the embedded `examples/service.toml`, with `STEADFAST_*`
//! environment overrides (`STEADFAST_QUOTES_FAILURE_THRESHOLD=3`,
//! `STEADFAST_ENABLED=false`, ...). The service itself reads:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `SERVICE_ADDR` | `127.0.0.1:3000` | where to listen (`127.0.0.1:0` picks a port; the first line on stdout says which) |
//! | `SERVICE_SEED` | `1` | the dependency's random seed |
//! | `SERVICE_ERROR_RATE` | `5` | percent of dependency calls that fail |
//! | `SERVICE_LATENCY` | `5ms` | the dependency's latency |
//! | `SERVICE_OUTAGE_AT`, `SERVICE_OUTAGE_FOR` | unset | a scheduled outage, e.g. `30s` and `20s` after start |
//! | `SERVICE_CHECK_INTERVAL` | `5s` | how often the health check pings the dependency |
//!
//! Health: the quotes breaker is not critical (a stale quote stands in for
//! it), so its outage makes readiness `degraded` (HTTP 200), as does the
//! `quote-provider` check that pings the dependency; `/health/live` only asks
//! whether the runtime still runs its tasks (the `runtime` check, tagged
//! `live`). When the breaker opens, a recovery hook resets the dependency's
//! connection pool (counted in `pool_resets`, shown by `POST /chaos`).

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use steadfast::pipeline::Reason;
use steadfast::rng::{Rng, SplitMix64};
use steadfast_std::Fallback;
use steadfast_std::checks::Check;
use steadfast_std::config::{HumanDuration, PolicySet};
use steadfast_std::observe::{MetricsObserver, Standard};
use steadfast_std::recovery::Recovery;
use steadfast_std::registry::Registry;
use steadfast_std::tower::BreakerLayer;
use tower::{Layer as _, ServiceExt as _, service_fn};

/// The policy file, compiled in.
const CONFIG: &str = include_str!("../service.toml");
/// The policy (and breaker) every quote goes through.
const POLICY: &str = "quotes";

/// Why the dependency failed.
#[derive(Clone, Debug)]
enum DependencyError {
    /// It is down (an outage from `/chaos` or the schedule).
    Outage,
    /// A random failure (`error_rate`).
    Flaky,
    /// The fallback had nothing cached.
    NoCache,
}

impl fmt::Display for DependencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Outage => "quote provider is down",
            Self::Flaky => "quote provider failed",
            Self::NoCache => "no cached quote",
        })
    }
}

/// A seeded, in-process quote provider whose failures can be switched on.
#[derive(Debug)]
struct Dependency {
    rng: Mutex<SplitMix64>,
    error_rate: AtomicU32,
    latency_ms: AtomicU64,
    outage: AtomicBool,
    /// Times the recovery hook reset the connection pool.
    pool_resets: AtomicU64,
    /// `(from, until)` after start, if scheduled.
    schedule: Option<(Duration, Duration)>,
    started: tokio::time::Instant,
}

impl Dependency {
    fn down(&self) -> bool {
        if self.outage.load(Ordering::Relaxed) {
            return true;
        }
        let elapsed = self.started.elapsed();
        self.schedule
            .is_some_and(|(from, until)| elapsed >= from && elapsed < until)
    }

    /// What the health check asks: is the provider up?
    async fn ping(&self) -> Result<(), DependencyError> {
        tokio::time::sleep(Duration::from_millis(
            self.latency_ms.load(Ordering::Relaxed),
        ))
        .await;
        if self.down() {
            Err(DependencyError::Outage)
        } else {
            Ok(())
        }
    }

    async fn fetch(&self, symbol: &str) -> Result<Quote, DependencyError> {
        tokio::time::sleep(Duration::from_millis(
            self.latency_ms.load(Ordering::Relaxed),
        ))
        .await;
        if self.down() {
            return Err(DependencyError::Outage);
        }
        let (roll, cents) = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            (rng.below(100), 10_000 + rng.below(500))
        };
        if roll < u64::from(self.error_rate.load(Ordering::Relaxed)) {
            return Err(DependencyError::Flaky);
        }
        Ok(Quote {
            symbol: symbol.to_owned(),
            price_cents: cents,
            stale: false,
        })
    }
}

#[derive(Clone, Debug)]
struct Quote {
    symbol: String,
    price_cents: u64,
    stale: bool,
}

impl Quote {
    fn json(&self) -> String {
        format!(
            r#"{{"symbol":"{}","price_cents":{},"stale":{}}}"#,
            self.symbol, self.price_cents, self.stale
        )
    }
}

#[derive(Clone)]
struct App {
    registry: Registry,
    dependency: Arc<Dependency>,
    prometheus: PrometheusHandle,
    last_quote: Arc<Mutex<Option<Quote>>>,
    /// The quotes breaker as a tower layer, reporting to the registry's observer.
    tower_breaker: BreakerLayer,
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error_json(status: StatusCode, message: &str) -> Response {
    json(status, format!(r#"{{"error":"{message}"}}"#))
}

#[derive(Deserialize)]
struct QuoteQuery {
    symbol: Option<String>,
}

async fn quote(State(app): State<App>, Query(q): Query<QuoteQuery>) -> Response {
    let Some(policy) = app.registry.policy(POLICY) else {
        return error_json(StatusCode::INTERNAL_SERVER_ERROR, "no quotes policy");
    };
    let symbol = q.symbol.unwrap_or_else(|| "ACME".to_owned());
    // The seeds' cache fallback: while the breaker is open, the last quote, marked stale.
    let cached = app.last_quote.clone();
    let fallback = Fallback::from_fn(move |_| {
        let last = cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        last.map(|q| Quote { stale: true, ..q })
            .ok_or(DependencyError::NoCache)
    });
    let dependency = app.dependency.clone();
    let result = policy
        .call_with_fallback(&fallback, || {
            let dependency = dependency.clone();
            let symbol = symbol.clone();
            async move { dependency.fetch(&symbol).await }
        })
        .await;
    match result {
        Ok(quote) => {
            if !quote.stale {
                *app.last_quote
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(quote.clone());
            }
            json(StatusCode::OK, quote.json())
        }
        Err(err) => {
            let status = match err.reason() {
                reason if reason.is_rejection() => StatusCode::SERVICE_UNAVAILABLE,
                Reason::AttemptTimedOut | Reason::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            let mut response = error_json(status, &err.to_string());
            if let Some(at) = err.retry_at() {
                let secs = at
                    .saturating_duration_since(std::time::Instant::now())
                    .as_secs()
                    + 1;
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            response
        }
    }
}

/// The dependency behind the quotes breaker alone, as a tower service: no
/// retry, no fallback; refused at once while the breaker is open.
async fn quote_tower(State(app): State<App>, Query(q): Query<QuoteQuery>) -> Response {
    let symbol = q.symbol.unwrap_or_else(|| "ACME".to_owned());
    let dependency = app.dependency.clone();
    let service = app.tower_breaker.layer(service_fn(move |symbol: String| {
        let dependency = dependency.clone();
        async move { dependency.fetch(&symbol).await }
    }));
    match service.oneshot(symbol).await {
        Ok(quote) => json(StatusCode::OK, quote.json()),
        Err(err) if err.is_rejection() => {
            error_json(StatusCode::SERVICE_UNAVAILABLE, &err.to_string())
        }
        Err(err) => error_json(StatusCode::BAD_GATEWAY, &err.to_string()),
    }
}

async fn health(State(app): State<App>) -> Response {
    respond(app.registry.health())
}

async fn liveness(State(app): State<App>) -> Response {
    respond(app.registry.liveness())
}

fn respond(health: steadfast_std::health::Health) -> Response {
    let status = StatusCode::from_u16(health.status.http_status())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    json(status, health.to_json())
}

async fn metrics(State(app): State<App>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.prometheus.render(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Chaos {
    outage: Option<bool>,
    error_rate: Option<u32>,
    latency_ms: Option<u64>,
}

async fn chaos(State(app): State<App>, Query(c): Query<Chaos>) -> Response {
    let d = &app.dependency;
    if let Some(outage) = c.outage {
        d.outage.store(outage, Ordering::Relaxed);
    }
    if let Some(rate) = c.error_rate {
        d.error_rate.store(rate.min(100), Ordering::Relaxed);
    }
    if let Some(ms) = c.latency_ms {
        d.latency_ms.store(ms, Ordering::Relaxed);
    }
    json(
        StatusCode::OK,
        format!(
            r#"{{"outage":{},"error_rate":{},"latency_ms":{},"pool_resets":{}}}"#,
            d.outage.load(Ordering::Relaxed),
            d.error_rate.load(Ordering::Relaxed),
            d.latency_ms.load(Ordering::Relaxed),
            d.pool_resets.load(Ordering::Relaxed)
        ),
    )
}

async fn breaker_action(
    State(app): State<App>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let result = match action.as_str() {
        "reset" => app.registry.reset(&name),
        "force_open" => app.registry.force_open(&name),
        _ => return error_json(StatusCode::NOT_FOUND, "actions: reset, force_open"),
    };
    match result {
        Ok(_) => health(State(app)).await,
        Err(e) => error_json(StatusCode::NOT_FOUND, &e.to_string()),
    }
}

fn env_duration(name: &str) -> Result<Option<Duration>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v
            .parse::<HumanDuration>()
            .map(|d| Some(Duration::from_micros(d.0.as_micros())))
            .map_err(|e| format!("{name}: {e}")),
    }
}

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}: expected a whole number, got {v:?}")),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Display, not Debug: a config error names its key or variable.
            eprintln!("service: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let _ = MetricsObserver::new(); // describe the metrics to the recorder

    let set = PolicySet::from_toml_with_env(CONFIG)?;

    let schedule = match (
        env_duration("SERVICE_OUTAGE_AT")?,
        env_duration("SERVICE_OUTAGE_FOR")?,
    ) {
        (Some(at), Some(length)) => Some((at, at.saturating_add(length))),
        (None, None) => None,
        _ => return Err("set both SERVICE_OUTAGE_AT and SERVICE_OUTAGE_FOR".into()),
    };
    let error_rate = u32::try_from(env_number("SERVICE_ERROR_RATE", 5)?.min(100))?;
    let latency = env_duration("SERVICE_LATENCY")?.unwrap_or(Duration::from_millis(5));
    let dependency = Arc::new(Dependency {
        rng: Mutex::new(SplitMix64::new(env_number("SERVICE_SEED", 1)?)),
        error_rate: AtomicU32::new(error_rate),
        latency_ms: AtomicU64::new(u64::try_from(latency.as_millis())?),
        outage: AtomicBool::new(false),
        pool_resets: AtomicU64::new(0),
        schedule,
        started: tokio::time::Instant::now(),
    });

    // Recovery: when the quotes breaker opens, reset the provider's
    // connection pool, in a task of its own (the failing call goes on at once).
    let pool = dependency.clone();
    let recovery = Recovery::new().on_open(POLICY, move |transition| {
        let pool = pool.clone();
        async move {
            tracing::warn!(%transition, "quotes breaker opened: resetting the provider's connection pool");
            pool.pool_resets.fetch_add(1, Ordering::Relaxed);
        }
    });
    let registry = Registry::from_set_with_observer(&set, Arc::new((Standard, recovery)))?;

    // Health checks beside the breaker: the provider (not critical: a stale
    // quote stands in for it), and the runtime itself for liveness.
    let interval = env_duration("SERVICE_CHECK_INTERVAL")?.unwrap_or(Duration::from_secs(5));
    let provider = dependency.clone();
    registry.health_checks().spawn(
        Check::new("quote-provider")
            .with_tags(["dependency"])
            .with_interval(interval)
            .with_timeout(Duration::from_secs(1)),
        move || {
            let provider = provider.clone();
            async move { provider.ping().await }
        },
    );
    registry.health_checks().spawn(
        Check::new("runtime")
            .with_tags(["live"])
            .with_interval(interval)
            .with_timeout(Duration::from_secs(2)),
        || async { Ok::<(), String>(()) },
    );

    let tower_breaker = registry
        .breaker_layer(POLICY)
        .ok_or("the policy file has no quotes breaker")?;
    let app = App {
        tower_breaker,
        registry,
        dependency,
        prometheus,
        last_quote: Arc::new(Mutex::new(None)),
    };
    let router = Router::new()
        .route("/quote", get(quote))
        .route("/quote/tower", get(quote_tower))
        .route("/health", get(health))
        .route("/health/ready", get(health))
        .route("/health/live", get(liveness))
        .route("/metrics", get(metrics))
        .route("/chaos", post(chaos))
        .route("/breakers/{name}/{action}", post(breaker_action))
        .with_state(app);

    let addr = std::env::var("SERVICE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // The first line on stdout: tests and scripts read the port from it.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
