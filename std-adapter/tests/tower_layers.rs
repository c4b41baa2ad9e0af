//! The per-pattern tower layers under paused Tokio time: exact counts of
//! inner calls, exact instants, permits and slots that come back when
//! futures are dropped, and no allocation per request.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use steadfast::pipeline::Reason;

use steadfast::backoff::Backoff;
use steadfast::breaker::{Config as BreakerConfig, State};
use steadfast::bulkhead::Config as BulkheadConfig;
use steadfast::outcome::Verdict;
use steadfast::retry::{self, BudgetConfig};
use steadfast::rng::{Rng, SplitMix64};
use steadfast::time::Duration;
use steadfast_std::tower::{
    BreakerLayer, BulkheadLayer, RejectionsIgnored, RetryLayer, RetryPolicy, TimeoutLayer,
};
use steadfast_std::{Error, SharedBreaker, SharedBudget, SharedBulkhead, time};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

// ---- helpers ----

fn ms(n: u64) -> std::time::Duration {
    std::time::Duration::from_millis(n)
}

/// A service counting its calls; each answers after `latency` with `answer`.
#[derive(Clone)]
struct Dep {
    calls: Arc<AtomicU32>,
    latency: std::time::Duration,
    fail: bool,
}

impl Dep {
    fn new(latency_ms: u64, fail: bool) -> Self {
        Self {
            calls: Arc::new(AtomicU32::new(0)),
            latency: ms(latency_ms),
            fail,
        }
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<u32> for Dep {
    type Response = u32;
    type Error = &'static str;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<u32, &'static str>> + Send>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let (latency, fail) = (self.latency, self.fail);
        Box::pin(async move {
            tokio::time::sleep(latency).await;
            if fail { Err("down") } else { Ok(req) }
        })
    }
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

// ---- breaker ----

#[tokio::test(start_paused = true)]
async fn breaker_opens_after_threshold_then_rejects_without_calling_inner() {
    let breaker = SharedBreaker::new(
        "dep",
        BreakerConfig::new()
            .with_failure_threshold(3)
            .with_break_duration(Duration::from_secs(30)),
    )
    .unwrap();
    let dep = Dep::new(10, true);
    let mut svc = BreakerLayer::new(breaker.clone()).layer(dep.clone());

    for _ in 0..3 {
        assert_eq!(
            svc.ready().await.unwrap().call(1).await,
            Err(Error::operation("down"))
        );
    }
    let opened_at = time::now();
    assert_eq!(
        breaker.state(),
        State::Open {
            until: opened_at + Duration::from_secs(30)
        }
    );
    for _ in 0..5 {
        match svc.ready().await.unwrap().call(1).await {
            Err(e) if matches!(e.reason(), Reason::BreakerOpen { .. }) => {
                assert_eq!(e.breaker(), Some("dep"));
                assert_eq!(
                    e.retry_at(),
                    Some(time::to_std(opened_at + Duration::from_secs(30)))
                );
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
    assert_eq!(dep.calls(), 3, "rejected requests never reach the service");
    assert_eq!(breaker.stats().failures, 3);

    // One microsecond early: still refused. At `until` (inclusive): a probe.
    tokio::time::advance(ms(30_000) - std::time::Duration::from_micros(1) - ms(0)).await;
    let _ = breaker.handle_timeout();
    assert!(
        svc.ready()
            .await
            .unwrap()
            .call(1)
            .await
            .unwrap_err()
            .is_rejection()
    );
    assert_eq!(dep.calls(), 3);
    tokio::time::advance(std::time::Duration::from_micros(1)).await;
    assert_eq!(
        svc.ready().await.unwrap().call(1).await,
        Err(Error::operation("down"))
    );
    assert_eq!(dep.calls(), 4);
    assert!(
        matches!(breaker.state(), State::Open { .. }),
        "a failed probe re-opens"
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_half_open_probe_returns_its_slot() {
    let breaker = SharedBreaker::new(
        "dep",
        BreakerConfig::new()
            .with_failure_threshold(1)
            .with_break_duration(Duration::from_secs(1))
            .with_probes(1, 1),
    )
    .unwrap();
    let _ = breaker.force_open();
    let _ = breaker.reset();
    let dep = Dep::new(100, false);
    let mut svc = BreakerLayer::new(breaker.clone()).layer(dep.clone());
    let failing = BreakerLayer::new(breaker.clone()).layer(Dep::new(0, true));
    assert!(failing.oneshot(0).await.is_err());
    assert!(matches!(breaker.state(), State::Open { .. }));
    tokio::time::advance(ms(1_000)).await;

    // The one probe slot is taken by a request that never finishes…
    let mut probe = Box::pin(svc.ready().await.unwrap().call(1));
    assert!(poll_once(probe.as_mut()).is_pending());
    assert!(matches!(breaker.state(), State::HalfOpen { .. }));
    assert_eq!(dep.calls(), 1);
    // …so the next is refused…
    assert!(
        svc.ready()
            .await
            .unwrap()
            .call(2)
            .await
            .unwrap_err()
            .is_rejection()
    );
    assert_eq!(dep.calls(), 1);
    // …until the probe's future is dropped: the slot comes back at once.
    drop(probe);
    assert_eq!(
        breaker.stats().failures,
        1,
        "a cancelled probe is not a failure"
    );
    let answer = svc.ready().await.unwrap().call(3).await;
    assert_eq!(answer, Ok(3));
    assert_eq!(dep.calls(), 2);
    assert_eq!(
        breaker.state(),
        State::Closed,
        "the new probe's success closes it"
    );
}

#[tokio::test(start_paused = true)]
async fn breaker_classifier_decides_what_fails() {
    let breaker =
        SharedBreaker::new("api", BreakerConfig::new().with_failure_threshold(1)).unwrap();
    let statuses = service_fn(|status: u16| async move { Ok::<_, ()>(status) });
    let mut svc = BreakerLayer::new(breaker.clone())
        .with_classifier(|r: &Result<u16, ()>| match r {
            Ok(s) if *s >= 500 => Verdict::failure(),
            Ok(_) => Verdict::success(),
            Err(()) => Verdict::failure(),
        })
        .layer(statuses);
    assert_eq!(svc.ready().await.unwrap().call(404).await, Ok(404));
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(svc.ready().await.unwrap().call(503).await, Ok(503)); // the value still returns
    assert!(matches!(breaker.state(), State::Open { .. }));
}

#[test]
fn breaker_layer_allocates_nothing_per_request() {
    let breaker = SharedBreaker::new("dep", BreakerConfig::new()).unwrap();
    let echo = service_fn(|n: u64| std::future::ready(Ok::<_, ()>(n)));
    let mut svc = BreakerLayer::new(breaker.clone()).layer(echo);
    let mut request = |n: u64| {
        let mut fut = pin!(svc.call(n));
        assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(n)));
    };
    request(0); // warm-up: the clock's epoch, the breaker's first lock
    let counted = allocation_counter::measure(|| {
        for n in 1..=10_000 {
            request(n);
        }
    });
    assert_eq!(counted.count_total, 0, "allocations for 10 000 requests");
    assert_eq!(breaker.stats().successes, 10_001);
}

// ---- bulkhead ----

#[tokio::test(start_paused = true)]
async fn bulkhead_queues_fifo_then_rejects_when_the_queue_is_full() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(2)
            .with_max_wait(Duration::from_secs(10)),
    )
    .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let dep = service_fn(move |n: u32| {
        c.fetch_add(1, Ordering::SeqCst);
        o.lock().unwrap().push((n, Instant::now()));
        async move {
            tokio::time::sleep(ms(100)).await;
            Ok::<_, ()>(n)
        }
    });
    let svc = BulkheadLayer::new(pool.clone()).layer(dep);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..3 {
        tasks.push(tokio::spawn(svc.clone().oneshot(n)));
        tokio::task::yield_now().await;
    }
    assert_eq!((pool.in_flight(), pool.queued()), (1, 2));
    // Slot taken, queue of 2 full: refused at once, never called.
    assert_eq!(svc.clone().oneshot(3).await, Err(Error::bulkhead_full()));
    assert_eq!(Instant::now(), start);
    for (n, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), Ok(n as u32));
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(
        order,
        vec![(0, start), (1, start + ms(100)), (2, start + ms(200))],
        "FIFO, each granted the instant the slot is released"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn bulkhead_queue_wait_ends_exactly_at_max_wait() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(1)
            .with_max_wait(Duration::from_millis(250)),
    )
    .unwrap();
    let dep = Dep::new(10_000, false);
    let mut svc = BulkheadLayer::new(pool.clone()).layer(dep.clone());
    let busy = tokio::spawn(svc.ready().await.unwrap().call(0));
    tokio::task::yield_now().await;
    let start = Instant::now();
    assert_eq!(
        svc.ready().await.unwrap().call(1).await,
        Err(Error::queue_timeout())
    );
    assert_eq!(start.elapsed(), ms(250));
    assert_eq!(dep.calls(), 1);
    assert_eq!((pool.in_flight(), pool.queued()), (1, 0));
    busy.abort();
    let _ = busy.await;
    assert_eq!(
        pool.in_flight(),
        0,
        "an aborted running request releases its slot"
    );
}

#[tokio::test(start_paused = true)]
async fn bulkhead_queue_wait_counts_from_the_queued_request_after_clock_free_admissions() {
    // Admissions and releases while nobody waits read no clock: a request
    // that queues later still waits `max_wait` from its own arrival.
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(1)
            .with_max_wait(Duration::from_millis(250)),
    )
    .unwrap();
    let dep = Dep::new(1_000, false);
    let mut svc = BulkheadLayer::new(pool.clone()).layer(dep.clone());
    for n in 0..3 {
        assert_eq!(svc.ready().await.unwrap().call(n).await, Ok(n));
    }
    tokio::time::sleep(ms(60_000)).await;
    let busy = tokio::spawn(svc.ready().await.unwrap().call(3));
    tokio::task::yield_now().await;
    tokio::time::sleep(ms(100)).await;
    let start = Instant::now();
    assert_eq!(
        svc.ready().await.unwrap().call(4).await,
        Err(Error::queue_timeout())
    );
    assert_eq!(start.elapsed(), ms(250));
    assert_eq!(busy.await.unwrap(), Ok(3));
    assert_eq!((pool.in_flight(), pool.queued(), dep.calls()), (0, 0, 4));
}

#[tokio::test(start_paused = true)]
async fn bulkhead_drop_storm_leaks_nothing() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(4)
            .with_max_queue(64)
            .with_max_wait(Duration::from_millis(300)),
    )
    .unwrap();
    let in_op = Arc::new(AtomicU32::new(0));
    let max_in_op = Arc::new(AtomicU32::new(0));
    let (i, m) = (in_op.clone(), max_in_op.clone());
    let dep = service_fn(move |latency: u32| {
        let now = i.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        // Leaves when the inner future is dropped, polled or not.
        let leave = Leave(i.clone());
        async move {
            let _leave = leave;
            tokio::time::sleep(ms(u64::from(latency))).await;
            Ok::<_, ()>(latency)
        }
    });
    let svc = BulkheadLayer::new(pool.clone()).layer(dep);

    // Synchronously: futures dropped unpolled, queued, and granted-but-not-resumed.
    let mut held = Vec::new();
    for n in 0..2_000u32 {
        let mut fut = Box::pin(svc.clone().call(n % 50));
        if n % 3 == 0 {
            let _ = poll_once(fut.as_mut());
        }
        held.push(fut);
        if n % 7 == 0 {
            // Drop from the front: running ones hand their slot to a waiter.
            drop(held.remove(0));
        }
    }
    drop(held);
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));

    // Spawned: thousands of tasks, aborted at seeded instants.
    let mut rng = SplitMix64::new(7);
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
        tasks.push((task, start + abort_after));
    }
    let aborter = tokio::spawn({
        let handles: Vec<_> = tasks
            .iter()
            .map(|(t, at)| (t.abort_handle(), *at))
            .collect();
        async move {
            let mut handles = handles;
            handles.sort_by_key(|(_, at)| *at);
            let origin = Instant::now();
            for (handle, at) in handles {
                tokio::time::sleep_until(origin + ms(at)).await;
                handle.abort();
            }
        }
    });
    let (mut ok, mut full, mut aborted) = (0, 0, 0);
    for (task, _) in tasks {
        match task.await {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) if matches!(e.reason(), Reason::BulkheadFull | Reason::QueueTimeout) => {
                full += 1
            }
            Ok(Err(e)) => panic!("unexpected {e:?}"),
            Err(_) => aborted += 1,
        }
    }
    aborter.await.unwrap();
    assert_eq!(ok + full + aborted, 3_000);
    assert!(
        ok > 0 && aborted > 0,
        "ok {ok}, full {full}, aborted {aborted}"
    );
    assert!(
        max_in_op.load(Ordering::SeqCst) <= 4,
        "never more than max_concurrent at once"
    );
    assert_eq!(in_op.load(Ordering::SeqCst), 0);
    assert_eq!((pool.in_flight(), pool.queued()), (0, 0));
    let s = pool.stats();
    assert_eq!(s.acquired, s.released, "{s:?}");
    // And the pool still works at full width.
    assert_eq!(svc.clone().oneshot(1).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn bulkhead_counts_requests_not_the_slots_it_lends_to_its_lock_free_path() {
    // A request that finds no lent slot takes its slot under the lock, then
    // lends the free ones to the lock-free path, where the next ones take
    // them. Every count is a request's, and the peak the most held at once.
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(4)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let dep = service_fn(|n: u32| async move {
        tokio::time::sleep(ms(u64::from(n))).await;
        Ok::<_, ()>(n)
    });
    let mut svc = BulkheadLayer::new(pool.clone()).layer(dep);
    let stats = |pool: &SharedBulkhead| {
        let s = pool.stats();
        (s.acquired, s.released, s.rejected_full, s.in_flight, s.peak)
    };
    for n in 1..=3 {
        assert_eq!(svc.call(n).await, Ok(n));
    }
    assert_eq!(stats(&pool), (3, 3, 0, 0, 1));
    // Two at once, both lock-free, both back before the books are read:
    // only the lent word saw them together.
    assert_eq!(svc.call(1).await, Ok(1));
    let (a, b) = (svc.call(1), svc.call(2));
    assert_eq!((a.await, b.await), (Ok(1), Ok(2)));
    assert_eq!(stats(&pool), (6, 6, 0, 0, 2));
    // Four at once: one under the lock, three lent; a fifth is refused.
    let mut held: Vec<_> = (1..=4).map(|n| Box::pin(svc.call(n * 10))).collect();
    let mut refused = Box::pin(svc.call(0));
    assert_eq!(
        poll_once(refused.as_mut()),
        Poll::Ready(Err(Error::bulkhead_full()))
    );
    for fut in &mut held {
        assert_eq!(poll_once(fut.as_mut()), Poll::Pending);
    }
    drop(held.split_off(1)); // the three lent slots come back without the lock
    assert_eq!(stats(&pool), (10, 9, 1, 1, 4));
    assert_eq!(held.remove(0).await, Ok(10));
    assert_eq!(stats(&pool), (10, 10, 1, 0, 4));
    assert_eq!((pool.in_flight(), pool.available()), (0, 4));
}

#[test]
fn bulkhead_slot_comes_back_when_the_inner_call_panics() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(2)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let dep = service_fn(|n: u32| {
        assert_ne!(n, 0, "the inner call panics");
        std::future::ready(Ok::<_, ()>(n))
    });
    let mut svc = BulkheadLayer::new(pool.clone()).layer(dep);
    let panics = |svc: &mut _| {
        let call = std::panic::AssertUnwindSafe(|| drop(Service::call(svc, 0)));
        assert!(std::panic::catch_unwind(call).is_err());
    };
    panics(&mut svc); // its slot taken under the lock
    assert_eq!(pool.in_flight(), 0);
    let mut fut = pin!(svc.call(1)); // under the lock; lends the other
    assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(1)));
    panics(&mut svc); // its slot lent
    let s = pool.stats();
    assert_eq!((s.acquired, s.released, s.in_flight), (3, 3, 0), "{s:?}");
}

#[test]
fn bulkhead_wider_than_one_lending_counts_every_request() {
    // 1 000 slots, lent a few hundred at a time: 700 requests held at once
    // take them under the lock and lock-free in turn.
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1_000)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let pending = service_fn(|_: u32| std::future::pending::<Result<u32, ()>>());
    let mut svc = BulkheadLayer::new(pool.clone()).layer(pending);
    let mut held: Vec<_> = (0..700).map(|n| Box::pin(svc.call(n))).collect();
    for fut in &mut held {
        assert_eq!(poll_once(fut.as_mut()), Poll::Pending);
    }
    drop(held.split_off(350));
    let s = pool.stats();
    assert_eq!(
        (s.acquired, s.released, s.in_flight, s.peak),
        (700, 350, 350, 700),
        "{s:?}"
    );
    drop(held);
    let s = pool.stats();
    assert_eq!(
        (s.acquired, s.released, s.in_flight, s.peak),
        (700, 700, 0, 700),
        "{s:?}"
    );
    assert_eq!(pool.available(), 1_000);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_lent_slot_given_back_goes_to_the_waiter_first() {
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(2)
            .with_max_queue(1)
            .with_max_wait(Duration::from_secs(10)),
    )
    .unwrap();
    let dep = service_fn(|n: u32| async move {
        tokio::time::sleep(ms(100)).await;
        Ok::<_, ()>(n)
    });
    let mut svc = BulkheadLayer::new(pool.clone()).layer(dep);
    let mut first = Box::pin(svc.call(1)); // under the lock; lends the other slot
    let lent = Box::pin(svc.call(2)); // takes the lent slot
    let mut waiter = Box::pin(svc.call(3)); // none free: queued
    assert_eq!(poll_once(waiter.as_mut()), Poll::Pending);
    assert_eq!((pool.in_flight(), pool.queued()), (2, 1));
    drop(lent); // lending stopped while anyone waits: the slot goes to the waiter
    assert_eq!((pool.in_flight(), pool.queued()), (2, 0));
    let mut newcomer = Box::pin(svc.call(4));
    assert_eq!(
        poll_once(newcomer.as_mut()),
        Poll::Ready(Err(Error::bulkhead_full())),
        "no slot, and the queue of 1 is the granted waiter's"
    );
    assert_eq!(waiter.await, Ok(3));
    assert_eq!(first.as_mut().await, Ok(1));
    let s = pool.stats();
    assert_eq!(
        (
            s.acquired,
            s.released,
            s.claimed,
            s.granted,
            s.in_flight,
            s.peak
        ),
        (3, 3, 1, 1, 0, 2),
        "{s:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_policy_sharing_the_bulkhead_sees_the_slots_lent_to_the_layer_as_free() {
    use steadfast::pipeline;
    use steadfast_std::Policy;
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let echo = service_fn(|n: u32| std::future::ready(Ok::<_, ()>(n)));
    let svc = BulkheadLayer::new(pool.clone()).layer(echo);
    assert_eq!(svc.clone().oneshot(1).await, Ok(1)); // its slot is lent back out
    let policy = Policy::builder(
        pipeline::Config::DEFAULT.with_retry(retry::Config::DEFAULT.with_max_attempts(1)),
    )
    .unwrap()
    .bulkhead(pool.clone())
    .build();
    assert_eq!(policy.call(|| async { Ok::<_, ()>(2) }).await, Ok(2));
    assert_eq!(svc.oneshot(3).await, Ok(3));
    let s = pool.stats();
    assert_eq!(
        (s.acquired, s.released, s.rejected_full, s.peak),
        (3, 3, 0, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulkhead_lends_and_queues_across_threads_and_the_books_close() {
    // Two worker threads, requests arriving in bursts: slots lent and taken
    // back, waiters queued and granted, all at once.
    let pool = SharedBulkhead::new(
        "pool",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(3)
            .with_max_queue(8)
            .with_max_wait(Duration::from_secs(30)),
    )
    .unwrap();
    let in_op = Arc::new(AtomicU32::new(0));
    let max_in_op = Arc::new(AtomicU32::new(0));
    let (i, m) = (in_op.clone(), max_in_op.clone());
    let dep = service_fn(move |n: u32| {
        let (i, m) = (i.clone(), m.clone());
        async move {
            m.fetch_max(i.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            for _ in 0..n % 3 {
                tokio::task::yield_now().await;
            }
            i.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, ()>(n)
        }
    });
    let svc = BulkheadLayer::new(pool.clone()).layer(dep);
    let (mut ok, mut full) = (0, 0);
    for burst in 0..200u32 {
        let tasks: Vec<_> = (0..8)
            .map(|n| tokio::spawn(svc.clone().oneshot(burst * 8 + n)))
            .collect();
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert_eq!(e.reason(), Reason::BulkheadFull, "{e:?}");
                    full += 1;
                }
            }
        }
    }
    assert_eq!(ok + full, 1_600);
    let s = pool.stats();
    assert_eq!(
        (
            s.acquired,
            s.released,
            s.rejected_full,
            s.in_flight,
            s.waiting
        ),
        (ok, ok, full, 0, 0),
        "{s:?}"
    );
    let most = max_in_op.load(Ordering::SeqCst);
    assert!(
        most <= s.peak && s.peak <= 3,
        "{most} in the service, {s:?}"
    );
    assert_eq!((pool.in_flight(), pool.available()), (0, 3));
}

struct Leave(Arc<AtomicU32>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn bulkhead_layer_allocates_nothing_per_immediate_request() {
    let pool = SharedBulkhead::new("pool", BulkheadConfig::default()).unwrap();
    let echo = service_fn(|n: u64| std::future::ready(Ok::<_, ()>(n)));
    let mut svc = BulkheadLayer::new(pool.clone()).layer(echo);
    let mut request = |n: u64| {
        let mut fut = pin!(svc.call(n));
        assert_eq!(poll_once(fut.as_mut()), Poll::Ready(Ok(n)));
    };
    request(0);
    let counted = allocation_counter::measure(|| {
        for n in 1..=10_000 {
            request(n);
        }
    });
    assert_eq!(counted.count_total, 0, "allocations for 10 000 requests");
    assert_eq!(pool.in_flight(), 0);
}

// ---- timeout ----

#[tokio::test(start_paused = true)]
async fn timeout_is_exact_and_inclusive_under_paused_time() {
    let mut svc = TimeoutLayer::new(ms(1_000)).layer(Dep::new(999, false));
    let start = Instant::now();
    assert_eq!(svc.ready().await.unwrap().call(1).await, Ok(1));
    assert_eq!(start.elapsed(), ms(999));

    // Answering exactly at the deadline is too late (inclusive deadline).
    let at_deadline = Dep::new(1_000, false);
    let mut svc = TimeoutLayer::new(ms(1_000)).layer(at_deadline.clone());
    let start = Instant::now();
    assert_eq!(
        svc.ready().await.unwrap().call(1).await,
        Err(Error::timed_out())
    );
    assert_eq!(start.elapsed(), ms(1_000));

    // A slow one is cut off (its future dropped) exactly at the deadline.
    let dropped = Arc::new(AtomicU32::new(0));
    let d = dropped.clone();
    let slow = service_fn(move |_: ()| {
        let d = d.clone();
        async move {
            struct OnDrop(Arc<AtomicU32>);
            impl Drop for OnDrop {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
            let _guard = OnDrop(d);
            tokio::time::sleep(ms(60_000)).await;
            Ok::<_, ()>(())
        }
    });
    let mut svc = TimeoutLayer::new(ms(250)).layer(slow);
    let start = Instant::now();
    assert_eq!(svc.call(()).await, Err(Error::timed_out()));
    assert_eq!(start.elapsed(), ms(250));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);

    // Zero: already expired, the service is not called.
    let untouched = Dep::new(0, false);
    let mut svc = TimeoutLayer::new(std::time::Duration::ZERO).layer(untouched.clone());
    assert_eq!(svc.call(1).await, Err(Error::timed_out()));
    assert_eq!(untouched.calls(), 0);
}

// ---- retry ----

#[tokio::test(start_paused = true)]
async fn retry_layer_follows_the_backoff_and_reports_exhaustion() {
    let dep = Dep::new(10, true);
    let config = retry::Config::DEFAULT
        .with_max_attempts(4)
        .with_backoff(Backoff::constant(Duration::from_millis(100)));
    let mut svc = RetryLayer::new(config).unwrap().layer(dep.clone());
    let start = Instant::now();
    let answer = svc.ready().await.unwrap().call(1).await;
    assert_eq!(answer, Err(Error::retries_exhausted(4, Some("down"))));
    // 4 attempts of 10 ms and 3 waits of 100 ms.
    assert_eq!(start.elapsed(), ms(4 * 10 + 3 * 100));
    assert_eq!(dep.calls(), 4);

    // Not retryable: one call, the operation's error.
    let once = Dep::new(0, true);
    let mut svc = RetryLayer::new(config)
        .unwrap()
        .with_classifier(|r: &Result<u32, &str>| match r {
            Ok(_) => Verdict::success(),
            Err(_) => Verdict::failure().not_retryable(),
        })
        .layer(once.clone());
    assert_eq!(svc.call(1).await, Err(Error::operation("down")));
    assert_eq!(once.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_layer_spends_the_budget_exactly() {
    // A quarter of a retry per request, no floor: exactly 1 retry per 4 requests.
    let budget = SharedBudget::new(
        BudgetConfig::DEFAULT
            .with_ratio_permille(250)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10)),
    )
    .unwrap();
    let dep = Dep::new(0, true);
    let config = retry::Config::DEFAULT
        .with_max_attempts(2)
        .with_backoff(Backoff::constant(Duration::from_millis(1)));
    let svc = RetryLayer::new(config)
        .unwrap()
        .with_budget(budget.clone())
        .layer(dep.clone());
    let mut attempts_seen = Vec::new();
    for _ in 0..100 {
        match svc.clone().oneshot(1).await {
            // Refused a retry: the budget says why; else the attempts ran out.
            Err(e)
                if e.operation_error() == Some(&"down")
                    && e.reason()
                        == if e.attempts() == 2 {
                            Reason::RetriesExhausted
                        } else {
                            Reason::BudgetExhausted
                        } =>
            {
                attempts_seen.push(e.attempts())
            }
            other => panic!("{other:?}"),
        }
    }
    let stats = budget.stats();
    assert_eq!(
        (stats.requests, stats.retries_granted, stats.retries_refused),
        (100, 25, 75)
    );
    assert_eq!(dep.calls(), 125);
    // Every fourth request is the one that gets its retry.
    assert!(
        attempts_seen
            .iter()
            .enumerate()
            .all(|(i, &a)| a == if i % 4 == 3 { 2 } else { 1 }),
        "{attempts_seen:?}"
    );
}

// ---- stacked ----

#[tokio::test(start_paused = true)]
async fn stacked_layers_time_out_trip_the_breaker_and_release_every_slot() {
    let breaker = SharedBreaker::new(
        "dep",
        BreakerConfig::new()
            .with_failure_threshold(3)
            .with_break_duration(Duration::from_secs(5)),
    )
    .unwrap();
    let pool = SharedBulkhead::new(
        "dep",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(2)
            .with_max_queue(0)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let dep = Dep::new(1_000, false); // slower than the timeout
    let svc = ServiceBuilder::new()
        .layer(BreakerLayer::new(breaker.clone()).stacked())
        .layer(BulkheadLayer::new(pool.clone()).stacked())
        .layer(TimeoutLayer::new(ms(200)))
        .service(dep.clone());

    // Four at once: two run (and time out), two find the bulkhead full.
    let start = Instant::now();
    let answers: Vec<Result<u32, Error<&'static str>>> =
        futures_join(svc.clone(), [1, 2, 3, 4]).await;
    assert_eq!(
        answers,
        vec![
            Err(Error::timed_out()),
            Err(Error::timed_out()),
            Err(Error::bulkhead_full()),
            Err(Error::bulkhead_full())
        ]
    );
    assert_eq!(start.elapsed(), ms(200));
    assert_eq!(dep.calls(), 2);
    let s = breaker.stats();
    assert_eq!(
        (s.failures, s.successes),
        (2, 0),
        "rejections by the bulkhead are not failures"
    );
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(pool.in_flight(), 0);

    // A third timeout trips it; then nothing reaches the bulkhead or the service.
    let third = svc.clone().oneshot(5).await;
    assert_eq!(third, Err(Error::timed_out()));
    assert!(matches!(breaker.state(), State::Open { .. }));
    let acquired = pool.stats().acquired;
    for n in 0..10 {
        let e = svc.clone().oneshot(n).await.unwrap_err();
        assert!(matches!(e.reason(), Reason::BreakerOpen { .. }), "{e:?}");
    }
    assert_eq!(dep.calls(), 3);
    assert_eq!(pool.stats().acquired, acquired);
    assert_eq!(pool.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn stacked_retry_answers_one_error_type_with_the_pipelines_reasons() {
    let config = retry::Config::DEFAULT
        .with_max_attempts(3)
        .with_backoff(Backoff::constant(Duration::from_millis(10)));
    let stack = |config: retry::Config, dep: Dep, breaker: SharedBreaker| {
        ServiceBuilder::new()
            .layer(RetryLayer::new(config).unwrap().with_seed(1).stacked())
            .layer(BreakerLayer::new(breaker).stacked())
            .layer(TimeoutLayer::new(ms(100)))
            .service(dep)
    };
    let breaker =
        || SharedBreaker::new("dep", BreakerConfig::new().with_failure_threshold(10)).unwrap();

    // Every attempt times out: the last one says so, as the pipeline does.
    let (slow, b) = (Dep::new(1_000, false), breaker());
    let start = Instant::now();
    let answer: Result<u32, Error<&'static str>> =
        stack(config, slow.clone(), b.clone()).oneshot(1).await;
    let e = answer.unwrap_err();
    assert_eq!((e.reason(), e.attempts()), (Reason::AttemptTimedOut, 3));
    assert_eq!(start.elapsed(), ms(100 * 3 + 10 * 2));
    assert_eq!((slow.calls(), b.stats().failures), (3, 3));

    // Timeouts not retried: the first one ends the call.
    let (slow, b) = (Dep::new(1_000, false), breaker());
    let e = stack(config.with_retry_on_timeout(false), slow.clone(), b)
        .oneshot(1)
        .await
        .unwrap_err();
    assert_eq!(
        (e.reason(), e.attempts(), slow.calls()),
        (Reason::AttemptTimedOut, 1, 1)
    );

    // Fast failures: the attempts run out, the dependency's last error kept.
    let (down, b) = (Dep::new(0, true), breaker());
    let e = stack(config, down.clone(), b).oneshot(1).await.unwrap_err();
    assert_eq!(e, Error::retries_exhausted(3, Some("down")));
    assert_eq!(down.calls(), 3);

    // An open breaker below: refused, not retried, named.
    let (down, b) = (Dep::new(0, true), breaker());
    b.force_open();
    let e = stack(config, down.clone(), b).oneshot(1).await.unwrap_err();
    assert!(e.is_rejection(), "{e:?}");
    assert_eq!(
        (e.breaker(), e.attempts(), down.calls()),
        (Some("dep"), 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn retry_future_polled_after_its_answer_stays_pending() {
    let mut svc = RetryLayer::new(retry::Config::DEFAULT)
        .unwrap()
        .layer(Dep::new(0, false));
    let mut future = pin!(svc.ready().await.unwrap().call(4));
    assert_eq!((&mut future).await, Ok(4));
    assert!(poll_once(future.as_mut()).is_pending());
}

#[cfg(feature = "config")]
#[tokio::test(start_paused = true)]
async fn a_disabled_registrys_bulkhead_layer_lets_every_request_through() {
    let text = "enabled = false\n[bulkheads.pool]\nmax_concurrent = 1\nmax_queue = 0\n";
    let set = steadfast_std::config::PolicySet::from_toml_with_env(text).unwrap();
    let registry = steadfast_std::registry::Registry::from_set(&set).unwrap();
    let dep = Dep::new(100, false);
    let svc = registry.bulkhead_layer("pool").unwrap().layer(dep.clone());
    let answers = futures_join(svc, [1, 2, 3, 4]).await;
    assert_eq!(answers, vec![Ok(1), Ok(2), Ok(3), Ok(4)]);
    assert_eq!(dep.calls(), 4);
    let pool = registry.bulkhead("pool").unwrap();
    assert_eq!((pool.in_flight(), pool.stats().acquired), (0, 0));

    // Enabled, the same layer admits one at a time.
    let set = steadfast_std::config::PolicySet::from_toml_with_env(&text[16..]).unwrap();
    let registry = steadfast_std::registry::Registry::from_set(&set).unwrap();
    let svc = registry.bulkhead_layer("pool").unwrap().layer(dep.clone());
    let answers = futures_join(svc, [1, 2, 3, 4]).await;
    assert_eq!(
        answers.iter().filter(|a| a.is_ok()).count(),
        1,
        "{answers:?}"
    );
}

/// Starts every request at the same instant and waits for all, in order.
async fn futures_join<S>(svc: S, requests: [u32; 4]) -> Vec<Result<S::Response, S::Error>>
where
    S: Service<u32> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
{
    let mut tasks = Vec::new();
    for r in requests {
        let mut svc = svc.clone();
        // Call now (in order), await later.
        let fut = svc.call(r);
        tasks.push(tokio::spawn(fut));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[test]
fn stacked_layers_allocate_nothing_per_request() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let _in_runtime = rt.enter(); // timers need a time driver
    let breaker = SharedBreaker::new("dep", BreakerConfig::new()).unwrap();
    let pool = SharedBulkhead::new("dep", BulkheadConfig::default()).unwrap();
    let echo = service_fn(|n: u64| std::future::ready(Ok::<_, ()>(n)));
    let mut svc = ServiceBuilder::new()
        .layer(
            RetryLayer::new(retry::Config::default())
                .unwrap()
                .with_classifier(RejectionsIgnored),
        )
        .layer(BreakerLayer::new(breaker.clone()).with_classifier(RejectionsIgnored))
        .layer(BulkheadLayer::new(pool.clone()))
        .layer(TimeoutLayer::new(ms(100)))
        .service(echo);
    let mut request = |n: u64| {
        let mut fut = pin!(svc.call(n));
        assert!(matches!(poll_once(fut.as_mut()), Poll::Ready(Ok(m)) if m == n));
    };
    request(0);
    let counted = allocation_counter::measure(|| {
        for n in 1..=10_000 {
            request(n);
        }
    });
    assert_eq!(
        counted.count_total, 0,
        "allocations for 10 000 requests through 4 layers"
    );
    assert_eq!(breaker.stats().successes, 10_001);
    assert_eq!(pool.in_flight(), 0);
}

// ---- tower::retry::Retry with RetryPolicy ----

/// A dependency whose every odd call (the first, third, …) fails.
fn fails_every_other_call() -> (
    impl Service<u32, Response = u32, Error = &'static str, Future = impl Send> + Clone + Send,
    Arc<AtomicU32>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let svc = service_fn(move |n: u32| {
        let k = c.fetch_add(1, Ordering::Relaxed);
        async move {
            if k.is_multiple_of(2) {
                Err("down")
            } else {
                Ok(n)
            }
        }
    });
    (svc, calls)
}

#[tokio::test(start_paused = true)]
async fn retry_policy_deposits_once_per_request_through_one_service() {
    // One retry per request, no floor: each request's own deposit pays its retry.
    let budget = SharedBudget::new(
        BudgetConfig::DEFAULT
            .with_ratio_permille(1_000)
            .with_min_retries_per_sec(0)
            .with_window(Duration::from_secs(10)),
    )
    .unwrap();
    let (dep, calls) = fails_every_other_call();
    let config = retry::Config::DEFAULT
        .with_max_attempts(2)
        .with_backoff(Backoff::constant(Duration::from_millis(1)));
    let mut svc = tower::retry::RetryLayer::new(
        RetryPolicy::new(config)
            .unwrap()
            .with_budget(budget.clone()),
    )
    .layer(dep);
    for n in 0..10 {
        assert_eq!(svc.ready().await.unwrap().call(n).await, Ok(n));
    }
    let stats = budget.stats();
    assert_eq!(
        (stats.requests, stats.retries_granted, stats.retries_refused),
        (10, 10, 0)
    );
    assert_eq!(calls.load(Ordering::Relaxed), 20);
}

#[tokio::test(start_paused = true)]
async fn retry_policy_draws_fresh_jitter_for_every_request() {
    let backoff =
        Backoff::constant(Duration::from_millis(100)).with_jitter(steadfast::backoff::Jitter::Full);
    let config = retry::Config::DEFAULT
        .with_max_attempts(2)
        .with_backoff(backoff);
    let (dep, _) = fails_every_other_call();
    let mut svc =
        tower::retry::RetryLayer::new(RetryPolicy::new(config).unwrap().with_seed(11)).layer(dep);
    let mut delays = std::collections::BTreeSet::new();
    for n in 0..8u32 {
        let started = Instant::now();
        let answer = if n.is_multiple_of(2) {
            svc.clone().oneshot(n).await
        } else {
            svc.ready().await.unwrap().call(n).await
        };
        assert_eq!(answer, Ok(n));
        delays.insert(started.elapsed());
    }
    // Eight draws from [0, 100 ms] in µs: equal ones would mean a copied stream.
    assert!(delays.len() >= 7, "{delays:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_total_timeout_ends_the_request_at_once() {
    // The server asks to be retried in a minute; by default the layer starts no
    // retry 10 s or more after the first attempt, so the request ends now.
    let answer = |_: &Result<(), &str>| Verdict::failure().retry_after(Duration::from_secs(60));
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let busy = service_fn(move |_: ()| {
        c.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>("429") }
    });
    let start = Instant::now();
    let svc = RetryLayer::new(retry::Config::default())
        .unwrap()
        .with_classifier(answer)
        .layer(busy);
    let err = svc.clone().oneshot(()).await.unwrap_err();
    assert_eq!(err.attempts(), 1);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(start.elapsed(), std::time::Duration::ZERO);
    // Without a total timeout the same request waits the minute out.
    let c = calls.clone();
    let busy = service_fn(move |_: ()| {
        c.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), _>("429") }
    });
    let svc = RetryLayer::new(retry::Config::default())
        .unwrap()
        .without_total_timeout()
        .with_classifier(answer)
        .layer(busy);
    let start = Instant::now();
    let _ = svc.oneshot(()).await;
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(120));
}

/// A request that cannot be cloned (as `reqwest::Request`).
struct Upload(&'static str);

#[tokio::test(start_paused = true)]
async fn a_request_that_cannot_be_cloned_goes_once_through_a_one_attempt_policy() {
    use steadfast::pipeline;
    use steadfast_std::Policy;
    use steadfast_std::tower::PolicyLayer;

    let breaker =
        SharedBreaker::new("upload", BreakerConfig::new().with_failure_threshold(1)).unwrap();
    let once =
        pipeline::Config::default().with_retry(retry::Config::default().with_max_attempts(1));
    let policy = steadfast_std::Policy::builder(once)
        .unwrap()
        .name("upload")
        .breaker(breaker.clone())
        .build();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let svc = ServiceBuilder::new()
        .layer(PolicyLayer::once(policy).expect("one attempt"))
        .service(service_fn(move |req: Upload| {
            c.fetch_add(1, Ordering::Relaxed);
            async move {
                if req.0 == "bad" {
                    Err("rejected upstream")
                } else {
                    Ok(req.0.len())
                }
            }
        }));
    assert_eq!(svc.clone().oneshot(Upload("data")).await, Ok(4));
    let failed = svc.clone().oneshot(Upload("bad")).await.unwrap_err();
    assert_eq!(
        (failed.reason(), failed.attempts(), failed.operation_error()),
        (Reason::RetriesExhausted, 1, Some(&"rejected upstream"))
    );
    assert!(matches!(breaker.state(), State::Open { .. }));
    // Open: refused without sending.
    assert!(
        svc.clone()
            .oneshot(Upload("data"))
            .await
            .unwrap_err()
            .is_rejection()
    );
    assert_eq!(calls.load(Ordering::Relaxed), 2);

    // A policy that retries cannot take requests it could not resend.
    let retrying = Policy::builder(pipeline::Config::default())
        .unwrap()
        .build();
    assert_eq!(
        PolicyLayer::once(retrying).unwrap_err().field,
        "max_attempts"
    );
}

/// A request that can be copied unless its body is a stream, as
/// `reqwest::Request::try_clone`.
struct Streamable {
    body: Option<&'static str>,
    copies: Arc<AtomicU32>,
}

impl Streamable {
    fn try_clone(&self) -> Option<Self> {
        self.copies.fetch_add(1, Ordering::Relaxed);
        Some(Self {
            body: Some(self.body?),
            copies: self.copies.clone(),
        })
    }
}

#[tokio::test(start_paused = true)]
async fn policy_layer_retries_requests_that_copy_and_sends_the_rest_once() {
    use steadfast::pipeline;
    use steadfast_std::Policy;
    use steadfast_std::tower::PolicyLayer;

    let breaker =
        SharedBreaker::new("upload", BreakerConfig::new().with_failure_threshold(5)).unwrap();
    let policy = Policy::builder(
        pipeline::Config::default().with_retry(
            retry::Config::DEFAULT
                .with_max_attempts(3)
                .with_backoff(Backoff::constant(Duration::from_millis(10))),
        ),
    )
    .unwrap()
    .breaker(breaker.clone())
    .build();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s = sent.clone();
    let svc = ServiceBuilder::new()
        .layer(PolicyLayer::try_clone(policy, Streamable::try_clone))
        .service(service_fn(move |req: Streamable| {
            s.lock().unwrap().push(req.body);
            async { Err::<(), _>("503") }
        }));
    let copies = Arc::new(AtomicU32::new(0));

    // In memory: every attempt gets a copy (made before it is sent).
    let request = Streamable {
        body: Some("{}"),
        copies: copies.clone(),
    };
    let failed = svc.clone().oneshot(request).await.unwrap_err();
    assert_eq!(
        (failed.reason(), failed.attempts()),
        (Reason::RetriesExhausted, 3)
    );
    assert_eq!(
        std::mem::take(&mut *sent.lock().unwrap()),
        vec![Some("{}"); 3]
    );
    assert_eq!(copies.swap(0, Ordering::Relaxed), 3);

    // A stream: the request itself, once, through the same breaker.
    let request = Streamable {
        body: None,
        copies: copies.clone(),
    };
    let failed = svc.clone().oneshot(request).await.unwrap_err();
    assert_eq!(failed.attempts(), 1);
    assert_eq!(std::mem::take(&mut *sent.lock().unwrap()), vec![None]);
    assert_eq!(copies.load(Ordering::Relaxed), 1);
    assert_eq!(breaker.stats().failures, 4);
}

/// What a layer told its observer, in order.
#[derive(Default)]
struct Recorded(Mutex<Vec<String>>);

impl steadfast_std::Observer for Recorded {
    fn on_register(&self, policy: &str, breaker: Option<&str>) {
        self.push(format!("register {policy} {breaker:?}"));
    }
    fn on_event(&self, policy: &str, _breaker: Option<&str>, event: &steadfast::pipeline::Event) {
        let text = match event {
            steadfast::pipeline::Event::Retry { attempt, delay, .. } => {
                format!("retry {attempt} after {}ms", delay.as_millis())
            }
            steadfast::pipeline::Event::TimedOut { attempt } => format!("timed out {attempt}"),
            other => format!("{other:?}"),
        };
        self.push(format!("{policy}: {text}"));
    }
    fn on_finish(&self, policy: &str, finish: &steadfast::pipeline::Finish) {
        let text = match finish {
            steadfast::pipeline::Finish::Failed(f) => {
                format!("failed {:?} after {}", f.reason, f.attempts)
            }
            steadfast::pipeline::Finish::Completed { attempts, .. } => {
                format!("completed after {attempts}")
            }
            other => format!("{other:?}"),
        };
        self.push(format!("{policy}: {text}"));
    }
    fn on_latency(&self, policy: &str, latency: Duration) {
        self.push(format!("{policy}: latency {}ms", latency.as_millis()));
    }
}

impl Recorded {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_layer_reports_each_retry_and_how_each_request_ended() {
    let seen = Arc::new(Recorded::default());
    let config = retry::Config::DEFAULT
        .with_max_attempts(3)
        .with_backoff(Backoff::constant(Duration::from_millis(100)));
    let layer = RetryLayer::new(config)
        .unwrap()
        .with_observer("search", seen.clone());
    assert_eq!(seen.take(), ["register search None"]);

    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let flaky = layer.layer(service_fn(move |_: ()| {
        let n = c.fetch_add(1, Ordering::Relaxed);
        async move { if n == 0 { Err("busy") } else { Ok(n) } }
    }));
    assert_eq!(flaky.oneshot(()).await, Ok(1));
    assert_eq!(
        seen.take(),
        [
            "search: retry 2 after 100ms",
            "search: completed after 2",
            "search: latency 100ms",
        ]
    );

    let down = layer.layer(service_fn(|_: ()| async { Err::<(), _>("down") }));
    assert!(down.oneshot(()).await.is_err());
    assert_eq!(
        seen.take(),
        [
            "search: retry 2 after 100ms",
            "search: retry 3 after 100ms",
            "search: failed RetriesExhausted after 3",
            "search: latency 200ms",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_during_its_backoff_gives_the_retry_back_and_reports_it_cancelled() {
    let seen = Arc::new(Recorded::default());
    let budget = SharedBudget::new(
        BudgetConfig::DEFAULT
            .with_ratio_permille(0)
            .with_min_retries_per_sec(1)
            .with_window(Duration::from_secs(10)),
    )
    .unwrap();
    let config = retry::Config::DEFAULT
        .with_max_attempts(3)
        .with_backoff(Backoff::constant(Duration::from_secs(1)));
    let layer = RetryLayer::new(config)
        .unwrap()
        .with_budget(budget.clone())
        .with_observer("search", seen.clone());
    seen.take();
    let before = budget.retries_available();
    let mut down = layer.layer(service_fn(|_: ()| async { Err::<(), _>("down") }));
    let mut future = Box::pin(down.ready().await.unwrap().call(()));
    // The first attempt fails: a retry is scheduled a second later, paid.
    assert!(poll_once(future.as_mut()).is_pending());
    assert_eq!(budget.retries_available(), before - 1);
    tokio::time::advance(ms(300)).await;
    drop(future); // the caller goes away during the backoff
    assert_eq!(budget.retries_available(), before);
    assert_eq!(budget.stats().retries_returned, 1);
    assert_eq!(
        seen.take(),
        [
            "search: retry 2 after 1000ms",
            "search: failed Cancelled after 1",
            "search: latency 300ms",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_layer_reports_each_timeout() {
    let seen = Arc::new(Recorded::default());
    let layer = TimeoutLayer::new(std::time::Duration::from_millis(50))
        .with_observer("search", seen.clone());
    let hung = layer.layer(service_fn(|_: ()| std::future::pending::<Result<(), ()>>()));
    assert_eq!(hung.oneshot(()).await, Err(Error::timed_out()));
    assert_eq!(seen.take(), ["register search None", "search: timed out 1"]);
}

#[tokio::test(start_paused = true)]
async fn a_breaker_future_polled_after_its_answer_stays_pending() {
    let breaker = SharedBreaker::new("db", BreakerConfig::default()).unwrap();
    let mut svc = BreakerLayer::new(breaker.clone())
        .layer(service_fn(|n: u32| async move { Ok::<_, ()>(n) }));
    let mut future = pin!(svc.ready().await.unwrap().call(5));
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(Ok(5)));
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Pending);
    assert_eq!(breaker.stats().calls, 1);
    assert_eq!(breaker.stats().successes, 1);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_future_polled_after_its_answer_stays_pending() {
    let mut svc =
        TimeoutLayer::new(ms(100)).layer(service_fn(|n: u32| async move { Ok::<_, ()>(n) }));
    let mut future = pin!(svc.ready().await.unwrap().call(5));
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(Ok(5)));
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Pending);
}

#[test]
fn policy_layer_allocates_nothing_per_request() {
    use steadfast::pipeline;
    use steadfast::timeout;
    use steadfast_std::Policy;
    use steadfast_std::tower::PolicyLayer;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let _in_runtime = rt.enter(); // attempt deadlines need a time driver
    let breaker = SharedBreaker::new("dep", BreakerConfig::new()).unwrap();
    let pool = SharedBulkhead::new("dep", BulkheadConfig::default()).unwrap();
    let bounded = pipeline::Config::default()
        .with_timeout(timeout::Config::NONE.with_attempt(Duration::from_millis(100)));
    let policy = |max_attempts| {
        Policy::builder(
            bounded.with_retry(retry::Config::default().with_max_attempts(max_attempts)),
        )
        .unwrap()
        .breaker(breaker.clone())
        .bulkhead(pool.clone())
        .build()
    };
    let echo = service_fn(|n: u64| std::future::ready(Ok::<_, ()>(n)));
    let cloned = PolicyLayer::new(policy(3)).layer(echo);
    let once = PolicyLayer::once(policy(1)).unwrap().layer(echo);
    let copied = PolicyLayer::try_clone(policy(3), |n: &u64| Some(*n)).layer(echo);
    fn sends<S: Service<u64, Response = u64> + 'static>(mut svc: S) -> Box<dyn FnMut(u64)>
    where
        S::Future: Send,
        S::Error: std::fmt::Debug,
    {
        Box::new(move |n| {
            let mut fut = pin!(svc.call(n));
            assert!(matches!(poll_once(fut.as_mut()), Poll::Ready(Ok(m)) if m == n));
        })
    }
    for mut request in [sends(cloned), sends(once), sends(copied)] {
        request(0); // warm-up: the clock's epoch, the breaker's first lock
        let counted = allocation_counter::measure(|| {
            for n in 1..=10_000 {
                request(n);
            }
        });
        assert_eq!(counted.count_total, 0, "allocations for 10 000 requests");
    }
    assert_eq!(breaker.stats().successes, 3 * 10_001);
    assert_eq!(pool.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_policy_layer_request_dropped_midway_gives_its_slot_back() {
    use steadfast::pipeline;
    use steadfast_std::Policy;
    use steadfast_std::tower::PolicyLayer;

    let pool = SharedBulkhead::new(
        "dep",
        BulkheadConfig::DEFAULT
            .with_max_concurrent(1)
            .with_max_queue(0),
    )
    .unwrap();
    let policy = Policy::builder(pipeline::Config::default())
        .unwrap()
        .bulkhead(pool.clone())
        .build();
    let hangs = service_fn(|_: u64| std::future::pending::<Result<u64, ()>>());
    let mut svc = PolicyLayer::new(policy).layer(hangs);
    let mut fut = Box::pin(svc.call(1));
    assert!(poll_once(fut.as_mut()).is_pending());
    assert_eq!(pool.in_flight(), 1);
    // The slot is taken: a second request is refused.
    let refused = svc.call(2).await.unwrap_err();
    assert_eq!(refused.reason(), Reason::BulkheadFull);
    drop(fut);
    assert_eq!(pool.in_flight(), 0);
    let mut again = Box::pin(svc.call(3));
    assert!(poll_once(again.as_mut()).is_pending());
    assert_eq!(pool.in_flight(), 1);
}
