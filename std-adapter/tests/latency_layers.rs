//! Adaptive concurrency limits and hedged requests on the tower path, under
//! paused Tokio time: exact instants, permits that come back however a
//! request ends, losers that are cancelled, and what the observer is told.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use steadfast::adaptive::{Algorithm, Config as AdaptiveConfig};
use steadfast::pipeline::Reason;
use steadfast::rng::{Rng, SplitMix64};
use steadfast_std::adaptive::SharedAdaptiveLimit;
use steadfast_std::tower::AdaptiveLimitLayer;
use steadfast_std::{Error, Observer};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// Decrements its counter when dropped: observes an inner future's end,
/// completed or cancelled.
struct Leave(Arc<AtomicU32>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Everything an observer is told about adaptive limits and hedges.
#[derive(Default)]
struct Recorder {
    limits: Mutex<Vec<(String, u32, u32)>>,
    rejections: Mutex<Vec<(String, u32)>>,
    hedges: Mutex<Vec<(String, u8)>>,
    wins: Mutex<Vec<(String, u8)>>,
}

impl Observer for Recorder {
    fn on_adaptive_limit(&self, name: &str, limit: u32, in_flight: u32) {
        self.limits
            .lock()
            .unwrap()
            .push((name.to_owned(), limit, in_flight));
    }
    fn on_adaptive_rejection(&self, name: &str, limit: u32) {
        self.rejections
            .lock()
            .unwrap()
            .push((name.to_owned(), limit));
    }
    fn on_hedge_started(&self, name: &str, number: u8) {
        self.hedges.lock().unwrap().push((name.to_owned(), number));
    }
    fn on_hedge_won(&self, name: &str, number: u8) {
        self.wins.lock().unwrap().push((name.to_owned(), number));
    }
}

// ---- adaptive limit ----

#[tokio::test(start_paused = true)]
async fn adaptive_layer_refuses_at_the_limit_and_learns_from_each_answer() {
    let recorder = Arc::new(Recorder::default());
    let limit = SharedAdaptiveLimit::new("db", AdaptiveConfig::new().with_limits(2, 1, 10))
        .unwrap()
        .with_observer(recorder.clone());
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let svc = AdaptiveLimitLayer::new(limit.clone()).layer(service_fn(move |fail: bool| {
        c.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(ms(10)).await;
            if fail { Err("down") } else { Ok(()) }
        }
    }));
    let a = tokio::spawn(svc.clone().oneshot(false));
    let b = tokio::spawn(svc.clone().oneshot(false));
    tokio::task::yield_now().await;
    assert_eq!(limit.in_flight(), 2);
    let refused = svc.clone().oneshot(false).await.unwrap_err();
    assert_eq!(refused.reason(), Reason::BulkheadFull);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "a refusal never reaches the dependency"
    );
    assert_eq!(*recorder.rejections.lock().unwrap(), [("db".to_owned(), 2)]);
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    // Both found the limit in use (1 × 2 ≥ 2, 2 × 2 ≥ 2): +1 each.
    assert_eq!((limit.limit(), limit.in_flight()), (4, 0));
    // A failure is a drop: × 0.9, rounded down.
    assert_eq!(
        svc.clone().oneshot(true).await,
        Err(Error::operation("down"))
    );
    assert_eq!(limit.limit(), 3);
    let limits = recorder.limits.lock().unwrap();
    assert_eq!(
        limits.first(),
        Some(&("db".to_owned(), 2, 0)),
        "reported at start"
    );
    assert_eq!(limits.last(), Some(&("db".to_owned(), 3, 0)));
    assert!(limits.contains(&("db".to_owned(), 2, 2)), "{limits:?}");
}

#[tokio::test(start_paused = true)]
async fn adaptive_layer_over_a_timeout_counts_the_timeout_as_a_drop_and_a_slow_call_too() {
    let aimd = Algorithm::Aimd {
        backoff_permille: 500,
        timeout: steadfast::time::Duration::from_millis(100),
    };
    let limit = SharedAdaptiveLimit::new(
        "api",
        AdaptiveConfig::new()
            .with_limits(8, 1, 8)
            .with_algorithm(aimd),
    )
    .unwrap();
    let svc = AdaptiveLimitLayer::new(limit.clone()).stacked().layer(
        steadfast_std::tower::TimeoutLayer::new(ms(300)).layer(service_fn(
            |latency: u64| async move {
                tokio::time::sleep(ms(latency)).await;
                Ok::<_, ()>(latency)
            },
        )),
    );
    let start = Instant::now();
    // 150 ms: answered, but slower than the AIMD timeout: a drop.
    assert_eq!(svc.clone().oneshot(150).await, Ok(150));
    assert_eq!(limit.limit(), 4);
    // The inner timeout ends it at 300 ms: a drop.
    let late = svc.clone().oneshot(1_000).await.unwrap_err();
    assert_eq!(late.reason(), Reason::AttemptTimedOut);
    assert_eq!(start.elapsed(), ms(450));
    assert_eq!((limit.limit(), limit.in_flight()), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn adaptive_drop_storm_leaks_nothing() {
    let limit =
        SharedAdaptiveLimit::new("pool", AdaptiveConfig::new().with_limits(4, 2, 6)).unwrap();
    let in_op = Arc::new(AtomicU32::new(0));
    let max_in_op = Arc::new(AtomicU32::new(0));
    let (i, m) = (in_op.clone(), max_in_op.clone());
    let dep = service_fn(move |latency: u32| {
        let now = i.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        let leave = Leave(i.clone());
        async move {
            let _leave = leave;
            tokio::time::sleep(ms(u64::from(latency))).await;
            if latency.is_multiple_of(5) {
                Err(())
            } else {
                Ok(latency)
            }
        }
    });
    let svc = AdaptiveLimitLayer::new(limit.clone()).layer(dep);

    // Synchronously: futures dropped unpolled, polled once, or refused.
    let mut held = Vec::new();
    for n in 0..2_000u32 {
        let mut fut = Box::pin(svc.clone().call(n % 50));
        if n % 3 == 0 {
            let _ = poll_once(fut.as_mut());
        }
        held.push(fut);
        if n % 7 == 0 {
            drop(held.remove(0));
        }
    }
    drop(held);
    assert_eq!(limit.in_flight(), 0);
    assert_eq!(in_op.load(Ordering::SeqCst), 0);

    // Spawned: thousands of tasks, aborted at seeded instants.
    let mut rng = SplitMix64::new(11);
    let mut tasks = Vec::new();
    for _ in 0..3_000 {
        let svc = svc.clone();
        let latency = rng.below(200) as u32;
        let start = rng.below(2_000);
        let abort_after = rng.below(400);
        let task = tokio::spawn(async move {
            tokio::time::sleep(ms(start)).await;
            svc.oneshot(latency).await
        });
        tasks.push((task.abort_handle(), start + abort_after, task));
    }
    let origin = Instant::now();
    let mut aborts: Vec<_> = tasks.iter().map(|(h, at, _)| (h.clone(), *at)).collect();
    aborts.sort_by_key(|(_, at)| *at);
    let aborter = tokio::spawn(async move {
        for (handle, at) in aborts {
            tokio::time::sleep_until(origin + ms(at)).await;
            handle.abort();
        }
    });
    let (mut ok, mut failed, mut full, mut aborted) = (0, 0, 0, 0);
    for (_, _, task) in tasks {
        match task.await {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) if e.reason() == Reason::BulkheadFull => full += 1,
            Ok(Err(_)) => failed += 1,
            Err(_) => aborted += 1,
        }
    }
    aborter.await.unwrap();
    assert_eq!(ok + failed + full + aborted, 3_000);
    assert!(
        ok > 0 && failed > 0 && full > 0 && aborted > 0,
        "ok {ok}, failed {failed}, full {full}, aborted {aborted}"
    );
    assert!(max_in_op.load(Ordering::SeqCst) <= 6, "never above max");
    assert_eq!(limit.in_flight(), 0, "every permit came back");
    assert_eq!(in_op.load(Ordering::SeqCst), 0);
    assert!((2..=6).contains(&limit.limit()));
}

#[cfg(feature = "config")]
#[tokio::test(start_paused = true)]
async fn a_registry_builds_adaptive_limits_from_a_file_with_env_overrides() {
    use steadfast_std::config::{PolicyFile, PolicySet};
    use steadfast_std::registry::Registry;

    let mut file = PolicyFile::from_toml_str(
        "[adaptive_limits.db]\nalgorithm = \"vegas\"\ninitial = 4\nmax = 50\n",
    )
    .unwrap();
    file.apply_env_vars([("STEADFAST_ADAPTIVE_LIMITS_DB_MIN", "2")])
        .unwrap();
    let set = file.validate().unwrap();
    assert_eq!(set.adaptive_limits["db"].min(), 2);
    assert_eq!(set.adaptive_limits["db"].algorithm(), Algorithm::vegas());
    let recorder = Arc::new(Recorder::default());
    let registry = Registry::from_set_with_observer(&set, recorder.clone()).unwrap();
    let svc = registry
        .adaptive_limit_layer("db")
        .unwrap()
        .layer(service_fn(|()| async { Ok::<_, ()>(()) }));
    svc.oneshot(()).await.unwrap();
    let db = |limit, in_flight| ("db".to_owned(), limit, in_flight);
    assert_eq!(
        *recorder.limits.lock().unwrap(),
        [db(4, 0), db(4, 1), db(4, 0)],
        "Vegas: an idle limiter does not grow"
    );

    // A key the algorithm ignores is refused, naming it.
    let err = PolicySet::from_toml_with_env(
        "[adaptive_limits.db]\nalgorithm = \"vegas\"\ntimeout = \"1s\"\n",
    )
    .unwrap_err();
    assert_eq!(err.key(), "adaptive_limits.db.timeout");
    assert!(err.to_string().contains("aimd"), "{err}");

    // A disabled registry's layer admits everything.
    let set = PolicySet::from_toml_with_env(
        "enabled = false\n[adaptive_limits.db]\ninitial = 1\nmin = 1\n",
    )
    .unwrap();
    let registry = Registry::from_set(&set).unwrap();
    let layer = registry.adaptive_limit_layer("db").unwrap();
    let mut svc = layer.layer(service_fn(|()| std::future::pending::<Result<(), ()>>()));
    let _first = svc.call(());
    let mut second = Box::pin(svc.call(()));
    assert!(poll_once(second.as_mut()).is_pending(), "not refused");
    assert_eq!(registry.adaptive_limit("db").unwrap().in_flight(), 0);
}

// ---- hedging ----

/// A dependency whose `n`-th attempt takes `script[n]` (ms) and answers
/// `Ok(n)`, or `Err(n)` when the latency is odd. Records when each attempt
/// started, and counts attempts still running (cancelled ones leave too).
#[derive(Clone)]
struct Scripted {
    script: Arc<Vec<u64>>,
    started: Arc<Mutex<Vec<std::time::Duration>>>,
    running: Arc<AtomicU32>,
    origin: Instant,
}

impl Scripted {
    fn new(script: &[u64]) -> Self {
        Self {
            script: Arc::new(script.to_vec()),
            started: Arc::default(),
            running: Arc::default(),
            origin: Instant::now(),
        }
    }

    fn started_ms(&self) -> Vec<u64> {
        let started = self.started.lock().unwrap();
        started.iter().map(|d| d.as_millis() as u64).collect()
    }

    fn service(
        &self,
    ) -> impl Service<
        &'static str,
        Response = usize,
        Error = usize,
        Future = impl Future<Output = Result<usize, usize>> + use<>,
    > + Clone
    + use<> {
        let this = self.clone();
        service_fn(move |_q: &'static str| {
            let n = {
                let mut started = this.started.lock().unwrap();
                started.push(this.origin.elapsed());
                started.len() - 1
            };
            let latency = this.script.get(n).copied().unwrap_or(1_000);
            this.running.fetch_add(1, Ordering::SeqCst);
            let leave = Leave(this.running.clone());
            async move {
                let _leave = leave;
                tokio::time::sleep(ms(latency)).await;
                if latency % 2 == 1 { Err(n) } else { Ok(n) }
            }
        })
    }
}

fn fixed(delay_ms: u64, max_hedges: u8) -> steadfast::hedge::Config {
    steadfast::hedge::Config::new()
        .with_delay(steadfast::hedge::Delay::Fixed(
            steadfast::time::Duration::from_millis(delay_ms),
        ))
        .with_max_hedges(max_hedges)
}

#[tokio::test(start_paused = true)]
async fn a_hedge_starts_exactly_at_the_delay_wins_and_the_loser_is_cancelled() {
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    let recorder = Arc::new(Recorder::default());
    let hedger = SharedHedger::new("search", fixed(50, 1))
        .unwrap()
        .with_observer(recorder.clone());
    let dep = Scripted::new(&[200, 30]);
    let svc = HedgeLayer::new(hedger).layer(dep.service());
    let start = Instant::now();
    assert_eq!(svc.oneshot("q").await, Ok(1), "the hedge answered first");
    assert_eq!(start.elapsed(), ms(80));
    assert_eq!(
        dep.started_ms(),
        [0, 50],
        "the hedge started exactly at the delay"
    );
    assert_eq!(
        dep.running.load(Ordering::SeqCst),
        0,
        "the first attempt was dropped at once"
    );
    assert_eq!(*recorder.hedges.lock().unwrap(), [("search".to_owned(), 1)]);
    assert_eq!(*recorder.wins.lock().unwrap(), [("search".to_owned(), 1)]);
}

#[tokio::test(start_paused = true)]
async fn an_answer_before_the_delay_starts_no_hedge() {
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    let dep = Scripted::new(&[50]);
    let svc = HedgeLayer::new(SharedHedger::new("s", fixed(50, 1)).unwrap()).layer(dep.service());
    let start = Instant::now();
    // Answered at the instant the hedge would be due: the answer is polled
    // first, so no hedge starts.
    assert_eq!(svc.oneshot("q").await, Ok(0));
    assert_eq!(start.elapsed(), ms(50));
    assert_eq!(dep.started_ms(), [0]);
}

#[tokio::test(start_paused = true)]
async fn hedges_are_spaced_by_the_delay_capped_and_all_cancelled_when_one_wins() {
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    let recorder = Arc::new(Recorder::default());
    let hedger = SharedHedger::new("s", fixed(40, 3))
        .unwrap()
        .with_observer(recorder.clone());
    // First 300 ms; hedges 500, 500, 100 ms.
    let dep = Scripted::new(&[300, 500, 500, 100]);
    let svc = HedgeLayer::new(hedger).layer(dep.service());
    let start = Instant::now();
    assert_eq!(svc.oneshot("q").await, Ok(3));
    assert_eq!(
        start.elapsed(),
        ms(220),
        "hedge 3 started at 120, answered at 220"
    );
    assert_eq!(dep.started_ms(), [0, 40, 80, 120]);
    assert_eq!(
        dep.running.load(Ordering::SeqCst),
        0,
        "three losers dropped"
    );
    let numbers: Vec<u8> = recorder
        .hedges
        .lock()
        .unwrap()
        .iter()
        .map(|h| h.1)
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(*recorder.wins.lock().unwrap(), [("s".to_owned(), 3)]);
}

#[tokio::test(start_paused = true)]
async fn a_failure_waits_for_the_running_hedge_and_the_last_failure_is_the_answer() {
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    // The first fails at 61 ms, after the hedge started (50 ms): the hedge
    // answers at 80 ms.
    let dep = Scripted::new(&[61, 30]);
    let svc = HedgeLayer::new(SharedHedger::new("s", fixed(50, 1)).unwrap()).layer(dep.service());
    let start = Instant::now();
    assert_eq!(svc.oneshot("q").await, Ok(1));
    assert_eq!(start.elapsed(), ms(80));

    // Both fail: the one answering last is the answer, at 121 ms.
    let dep = Scripted::new(&[61, 71]);
    let svc = HedgeLayer::new(SharedHedger::new("s", fixed(50, 1)).unwrap()).layer(dep.service());
    let start = Instant::now();
    assert_eq!(svc.oneshot("q").await, Err(Error::operation(1)));
    assert_eq!(start.elapsed(), ms(121));

    // A failure with nothing else running ends the call before the delay.
    let dep = Scripted::new(&[11]);
    let svc = HedgeLayer::new(SharedHedger::new("s", fixed(50, 1)).unwrap()).layer(dep.service());
    let start = Instant::now();
    assert_eq!(svc.oneshot("q").await, Err(Error::operation(0)));
    assert_eq!((start.elapsed(), dep.started_ms()), (ms(11), vec![0]));
}

#[tokio::test(start_paused = true)]
async fn a_budget_refusal_stops_hedging() {
    use steadfast::retry::BudgetConfig;
    use steadfast_std::SharedBudget;
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    // 500 ‰ of requests, no floor: two requests pay for one hedge.
    let budget = SharedBudget::new(
        BudgetConfig::new()
            .with_ratio_permille(500)
            .with_min_retries_per_sec(0),
    )
    .unwrap();
    let dep = Scripted::new(&[200, 200, 500]);
    let svc = HedgeLayer::new(SharedHedger::new("s", fixed(50, 2)).unwrap())
        .with_budget(budget.clone())
        .layer(dep.service());
    let start = Instant::now();
    // One deposit: half a retry, refused at 50 ms: no hedge at all.
    assert_eq!(svc.clone().oneshot("q").await, Ok(0));
    assert_eq!((start.elapsed(), dep.started_ms()), (ms(200), vec![0]));
    // A second deposit: one hedge paid, at 250 ms; the second (300 ms) is refused.
    assert_eq!(
        svc.oneshot("q").await,
        Ok(1),
        "the first attempt (200 ms) won"
    );
    assert_eq!(start.elapsed(), ms(400));
    assert_eq!(dep.started_ms(), [0, 200, 250]);
    assert_eq!(budget.retries_available(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_percentile_delay_follows_the_recorded_latencies() {
    use steadfast::hedge::{Config, Delay};
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    let p50 = Delay::Percentile {
        permille: 500,
        min_samples: 4,
        fallback: steadfast::time::Duration::from_millis(300),
    };
    let hedger = SharedHedger::new("s", Config::new().with_delay(p50)).unwrap();
    // Four fast calls (10 ms), then one whose first attempt hangs.
    let dep = Scripted::new(&[10, 10, 10, 10, 5_000, 20]);
    let svc = HedgeLayer::new(hedger.clone()).layer(dep.service());
    for n in 0..4 {
        assert_eq!(
            hedger.delay(),
            steadfast::time::Duration::from_millis(300),
            "fallback"
        );
        assert_eq!(svc.clone().oneshot("q").await, Ok(n));
    }
    // 10 ms lies in [8.192, 16.384) ms: the estimate is the upper edge.
    assert_eq!(
        hedger.delay(),
        steadfast::time::Duration::from_micros(16_384)
    );
    let start = Instant::now();
    let origin = dep.origin.elapsed();
    assert_eq!(svc.oneshot("q").await, Ok(5));
    // Tokio's timer fires on whole milliseconds: the hedge starts at the
    // first tick at or after 16.384 ms, and answers 20 ms later.
    let hedge_at = dep.started.lock().unwrap()[5] - origin;
    assert_eq!(hedge_at, ms(17));
    assert_eq!(start.elapsed(), ms(37));
}

#[cfg(feature = "config")]
#[tokio::test(start_paused = true)]
async fn a_registry_builds_hedge_layers_from_a_file_with_their_budget() {
    use steadfast_std::config::PolicySet;
    use steadfast_std::registry::Registry;

    let set = PolicySet::from_toml_with_env(
        "[budgets.b]\nratio_permille = 500\nmin_retries_per_sec = 0\n[hedges.search]\ndelay = \"50ms\"\nmax_hedges = 2\nbudget = \"b\"\n",
    )
    .unwrap();
    let recorder = Arc::new(Recorder::default());
    let registry = Registry::from_set_with_observer(&set, recorder.clone()).unwrap();
    let dep = Scripted::new(&[200, 500]);
    let svc = registry.hedge_layer("search").unwrap().layer(dep.service());
    assert_eq!(svc.oneshot("q").await, Ok(0));
    assert_eq!(dep.started_ms(), [0], "the budget refused the hedge");
    assert!(recorder.hedges.lock().unwrap().is_empty());

    // Percentile keys beside a fixed delay are refused, naming the key.
    let err = PolicySet::from_toml_with_env("[hedges.s]\ndelay = \"5ms\"\npercentile = 990\n")
        .unwrap_err();
    assert_eq!(err.key(), "hedges.s.percentile");

    // A disabled registry's layer runs the first attempt only.
    let set =
        PolicySet::from_toml_with_env("enabled = false\n[hedges.s]\ndelay = \"5ms\"\n").unwrap();
    let registry = Registry::from_set(&set).unwrap();
    let dep = Scripted::new(&[100, 10]);
    let svc = registry.hedge_layer("s").unwrap().layer(dep.service());
    assert_eq!(svc.oneshot("q").await, Ok(0));
    assert_eq!(dep.started_ms(), [0]);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_hedged_request_cancels_every_attempt() {
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    let dep = Scripted::new(&[1_000, 1_000, 1_000, 1_000, 1_000]);
    let svc = HedgeLayer::new(SharedHedger::new("s", fixed(10, 4)).unwrap()).layer(dep.service());
    let mut tasks = Vec::new();
    for abort_at in [1, 5, 15, 35, 60] {
        let task = tokio::spawn(svc.clone().oneshot("q"));
        tokio::time::sleep(ms(abort_at)).await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(
            dep.running.load(Ordering::SeqCst),
            0,
            "aborted at {abort_at} ms"
        );
        tasks.push(dep.started_ms().len());
    }
    // 1 + 0, 1 + 0, 1 + 1, 1 + 3, 1 + 4 attempts started in turn.
    assert_eq!(tasks, [1, 2, 4, 8, 13]);
}

#[test]
fn immediate_requests_allocate_nothing_through_the_adaptive_and_hedge_layers() {
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    let limit = SharedAdaptiveLimit::new("db", AdaptiveConfig::DEFAULT).unwrap();
    let hedger = SharedHedger::new("search", fixed(50, 2)).unwrap();
    let echo = service_fn(|n: u64| std::future::ready(Ok::<_, ()>(n)));
    let mut svc = HedgeLayer::new(hedger)
        .stacked()
        .layer(AdaptiveLimitLayer::new(limit.clone()).layer(echo));
    let mut request = |n: u64| {
        let mut fut = std::pin::pin!(svc.call(n));
        assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(n)));
    };
    request(0);
    let counted = allocation_counter::measure(|| {
        for n in 1..=10_000 {
            request(n);
        }
    });
    assert_eq!(counted.count_total, 0, "allocations for 10 000 requests");
    assert_eq!(limit.in_flight(), 0);
}

/// Ready for its first request only: afterwards `poll_ready` fails.
#[derive(Clone)]
struct ReadyOnce {
    used: bool,
}

impl Service<u64> for ReadyOnce {
    type Response = u64;
    type Error = &'static str;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<u64, &'static str>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(if self.used { Err("closed") } else { Ok(()) })
    }

    fn call(&mut self, latency: u64) -> Self::Future {
        self.used = true;
        Box::pin(async move {
            tokio::time::sleep(ms(latency)).await;
            Ok(latency)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_service_that_cannot_take_the_hedge_counts_as_a_failed_attempt() {
    use steadfast_std::hedge::SharedHedger;
    use steadfast_std::tower::HedgeLayer;

    let recorder = Arc::new(Recorder::default());
    let hedger = SharedHedger::new("s", fixed(50, 1))
        .unwrap()
        .with_observer(recorder.clone());
    let svc = HedgeLayer::new(hedger.clone()).layer(ReadyOnce { used: false });
    let start = Instant::now();
    // The hedge's readiness fails at 50 ms: a failure while the first runs,
    // so the call waits for the first.
    assert_eq!(svc.clone().oneshot(200).await, Ok(200));
    assert_eq!(start.elapsed(), ms(200));
    assert!(
        recorder.hedges.lock().unwrap().is_empty(),
        "no hedge started"
    );
    assert!(recorder.wins.lock().unwrap().is_empty());
}

#[cfg(all(feature = "config", feature = "metrics"))]
#[tokio::test(start_paused = true)]
async fn the_metrics_observer_exports_limits_rejections_hedges_and_wins() {
    use metrics_exporter_prometheus::PrometheusBuilder;
    use steadfast_std::config::PolicySet;
    use steadfast_std::observe::MetricsObserver;
    use steadfast_std::registry::Registry;

    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let set = PolicySet::from_toml_with_env(
        "[adaptive_limits.db]\ninitial = 1\n[hedges.search]\ndelay = \"10ms\"\n",
    )
    .unwrap();
    let registry =
        Registry::from_set_with_observer(&set, Arc::new(MetricsObserver::new())).unwrap();
    let mut limited = registry
        .adaptive_limit_layer("db")
        .unwrap()
        .layer(service_fn(|()| std::future::pending::<Result<(), ()>>()));
    let held = limited.call(());
    assert!(limited.call(()).await.unwrap_err().is_rejection());
    drop(held);
    let dep = Scripted::new(&[100, 10]);
    let hedged = registry.hedge_layer("search").unwrap().layer(dep.service());
    assert_eq!(hedged.oneshot("q").await, Ok(1));
    let text = handle.render();
    for line in [
        r#"adaptive_limit{name="db"} 1"#,
        r#"adaptive_limit_in_flight{name="db"} 0"#,
        r#"adaptive_limit_rejections_total{name="db"} 1"#,
        r#"hedges_started_total{name="search"} 1"#,
        r#"hedge_wins_total{name="search"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}
