//! Tower rows: one request through a trivial service (`Echo`, an immediately
//! ready future), bare and behind each crate's circuit-breaker and bulkhead
//! layer. Driven by `poll_ready`, `call` and one poll with a no-op waker: no
//! executor cost is measured, only the layer's own.

use std::future::{Ready, ready as ready_future};
use std::hint::black_box;
use std::task::{Context, Poll, Waker};

use tower::{Layer, Service};
use tower_resilience::bulkhead::{Bulkhead as TrBulkhead, BulkheadLayer};
use tower_resilience::circuitbreaker::{
    CircuitBreaker as TrBreaker, CircuitBreakerLayer, DefaultClassifier,
};

use steadfast::backoff::Backoff;
use steadfast::pipeline;
use steadfast::retry;
use steadfast::timeout;
use steadfast_std::tower::{
    BreakerLayer as StdBreakerLayerT, BreakerService, BulkheadLayer as StdBulkheadLayerT,
    BulkheadService, PolicyLayer, PolicyService,
};
use steadfast_std::{Policy, SharedBreaker, SharedBulkhead};

use crate::{Op, Visitor, Who, ready, runtime};

/// Every tower row.
pub fn visit<V: Visitor>(v: &mut V) {
    v.visit::<Through<Bare>>();
    v.visit::<Through<StdCb>>();
    v.visit::<Through<TrCb>>();
    v.visit::<Through<StdBh>>();
    v.visit::<Through<StdBreakerLayer>>();
    v.visit::<Through<StdBulkheadLayer>>();
    v.visit::<Through<TowerLimit>>();
    v.visit::<Through<TrBh>>();
}

/// The trivial service: answers its request at once, with a result no layer
/// can see is always `Ok` (`black_box`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo;

/// [`Echo`]'s error type (never returned, but no layer knows that).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoError;

impl std::fmt::Display for EchoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("echo failed")
    }
}

impl std::error::Error for EchoError {}

impl Service<u64> for Echo {
    type Response = u64;
    type Error = EchoError;
    type Future = Ready<Result<u64, EchoError>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), EchoError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: u64) -> Self::Future {
        ready_future(black_box(Ok(req)))
    }
}

/// A service stack under test.
pub trait Stack {
    /// Its name in the table.
    const NAME: &'static str;
    /// Its group.
    const GROUP: &'static str;
    /// Whose it is.
    const WHO: Who;
    /// The service.
    type Svc: Service<u64>;
    /// Builds it (inside the Tokio runtime's context).
    fn build() -> Self::Svc;
}

/// One request through `S`: poll_ready, call, poll once.
pub struct Through<S: Stack>(S::Svc, u64);
impl<S: Stack> std::fmt::Debug for Through<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(S::NAME)
    }
}
impl<S: Stack> Op for Through<S> {
    const GROUP: &'static str = S::GROUP;
    const NAME: &'static str = S::NAME;
    const WHO: Who = S::WHO;
    fn new() -> Self {
        let _rt = runtime().enter();
        Self(S::build(), 0)
    }
    #[inline(always)]
    fn op(&mut self) {
        self.1 = self.1.wrapping_add(1);
        let svc = &mut self.0;
        let mut cx = Context::from_waker(Waker::noop());
        match svc.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {}
            _ => panic!("{} not ready", S::NAME),
        }
        let fut = svc.call(black_box(self.1));
        let out = ready(fut);
        assert!(out.is_ok(), "{} failed a call", S::NAME);
        let _ = black_box(out);
    }
}

const CB_GROUP: &str = "tower: circuit breaker layer, closed, 1 request";
const BH_GROUP: &str = "tower: bulkhead layer (10), 1 request";

/// The bare service: the cost every layer adds to.
#[derive(Debug)]
pub struct Bare;
impl Stack for Bare {
    const NAME: &'static str = "no layer (Echo alone)";
    const GROUP: &'static str = CB_GROUP;
    const WHO: Who = Who::Floor;
    type Svc = Echo;
    fn build() -> Echo {
        Echo
    }
}

/// tower-resilience's circuit breaker as a consecutive-5 breaker (a count window
/// of 5, judged from 5 calls, tripping at a 100 % failure rate), 30 s open.
#[derive(Debug)]
pub struct TrCb;
impl Stack for TrCb {
    const NAME: &'static str = "tower-resilience 0.13";
    const GROUP: &'static str = CB_GROUP;
    const WHO: Who = Who::Peer;
    type Svc = TrBreaker<Echo, DefaultClassifier>;
    fn build() -> Self::Svc {
        CircuitBreakerLayer::builder()
            .failure_rate_threshold(1.0)
            .sliding_window_size(5)
            .minimum_number_of_calls(5)
            .wait_duration_in_open(std::time::Duration::from_secs(30))
            .build()
            .expect("valid")
            .layer(Echo)
    }
}

/// tower's own `ConcurrencyLimit` (10): a tokio `Semaphore` permit taken in
/// `poll_ready` (`try_acquire_owned` on an `Arc<Semaphore>`), held by the
/// response future, given back when it is dropped. No queue with a max wait:
/// a request without a permit waits in `poll_ready` for as long as it takes.
#[derive(Debug)]
pub struct TowerLimit;
impl Stack for TowerLimit {
    const NAME: &'static str = "tower 0.5 ConcurrencyLimit (tokio Semaphore)";
    const GROUP: &'static str = BH_GROUP;
    const WHO: Who = Who::Peer;
    type Svc = tower::limit::ConcurrencyLimit<Echo>;
    fn build() -> Self::Svc {
        tower::limit::ConcurrencyLimitLayer::new(10).layer(Echo)
    }
}

/// tower-resilience's bulkhead (10 concurrent, no wait).
#[derive(Debug)]
pub struct TrBh;
impl Stack for TrBh {
    const NAME: &'static str = "tower-resilience 0.13";
    const GROUP: &'static str = BH_GROUP;
    const WHO: Who = Who::Peer;
    type Svc = TrBulkhead<Echo>;
    fn build() -> Self::Svc {
        BulkheadLayer::builder()
            .max_concurrent_calls(10)
            .build()
            .expect("valid")
            .layer(Echo)
    }
}

/// One attempt, no timeout: the policy is only the breaker or the bulkhead.
pub fn single_attempt() -> pipeline::Config {
    pipeline::Config::DEFAULT
        .with_retry(
            retry::Config::DEFAULT
                .with_max_attempts(1)
                .with_backoff(Backoff::DEFAULT),
        )
        .with_timeout(timeout::Config::NONE)
}

/// steadfast-std's `PolicyLayer` with only a `SharedBreaker` (consecutive, defaults).
#[derive(Debug)]
pub struct StdCb;
impl Stack for StdCb {
    const NAME: &'static str = "steadfast-std PolicyLayer (breaker)";
    const GROUP: &'static str = CB_GROUP;
    const WHO: Who = Who::Steadfast;
    type Svc = PolicyService<Echo>;
    fn build() -> Self::Svc {
        let breaker =
            SharedBreaker::new("bench", steadfast::breaker::Config::new()).expect("valid");
        let policy = Policy::builder(single_attempt())
            .unwrap()
            .breaker(breaker)
            .build();
        PolicyLayer::new(policy).layer(Echo)
    }
}

/// steadfast-std's `PolicyLayer` with only a `SharedBulkhead` (10, no queue).
#[derive(Debug)]
pub struct StdBh;
impl Stack for StdBh {
    const NAME: &'static str = "steadfast-std PolicyLayer (bulkhead)";
    const GROUP: &'static str = BH_GROUP;
    const WHO: Who = Who::Steadfast;
    type Svc = PolicyService<Echo>;
    fn build() -> Self::Svc {
        let config = steadfast::bulkhead::Config::DEFAULT
            .with_max_concurrent(10)
            .with_max_queue(0)
            .with_max_wait(steadfast::time::Duration::ZERO);
        let bulkhead = SharedBulkhead::new("bench", config).expect("valid");
        let policy = Policy::builder(single_attempt())
            .unwrap()
            .bulkhead(bulkhead)
            .build();
        PolicyLayer::new(policy).layer(Echo)
    }
}

/// steadfast-std's per-pattern `BreakerLayer` (consecutive, defaults): the shared
/// breaker's lock-free clean path, a named future, no allocation.
#[derive(Debug)]
pub struct StdBreakerLayer;
impl Stack for StdBreakerLayer {
    const NAME: &'static str = "steadfast-std BreakerLayer";
    const GROUP: &'static str = CB_GROUP;
    const WHO: Who = Who::Steadfast;
    type Svc = BreakerService<Echo>;
    fn build() -> Self::Svc {
        let breaker =
            SharedBreaker::new("bench", steadfast::breaker::Config::new()).expect("valid");
        StdBreakerLayerT::new(breaker).layer(Echo)
    }
}

/// steadfast-std's per-pattern `BulkheadLayer` (10, no queue).
#[derive(Debug)]
pub struct StdBulkheadLayer;
impl Stack for StdBulkheadLayer {
    const NAME: &'static str = "steadfast-std BulkheadLayer";
    const GROUP: &'static str = BH_GROUP;
    const WHO: Who = Who::Steadfast;
    type Svc = BulkheadService<Echo>;
    fn build() -> Self::Svc {
        let config = steadfast::bulkhead::Config::DEFAULT
            .with_max_concurrent(10)
            .with_max_queue(0)
            .with_max_wait(steadfast::time::Duration::ZERO);
        let bulkhead = SharedBulkhead::new("bench", config).expect("valid");
        StdBulkheadLayerT::new(bulkhead).layer(Echo)
    }
}
