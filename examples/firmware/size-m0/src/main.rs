//! Size probe: each feature links one steadfast pattern, driven with `black_box`ed
//! inputs so nothing folds away, results folded into one `black_box`ed value.
//! The probes' own loops add their clock ticks and rotate their failure
//! pattern, so no 64-bit multiplication or variable shift of theirs is
//! counted as the pattern's.
//! No `core::fmt` (it would dwarf the patterns). Runs on QEMU `microbit` and exits 0.
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}

#[entry]
fn main() -> ! {
    // The breakers and the bulkhead live in `static`s, as a firmware's do:
    // built at compile time, set up with `.bss` and `.data` by the reset
    // handler (`#[entry]` lends each as a `&'static mut`).
    #[cfg(feature = "breaker")]
    static mut BREAKER: FirmwareBreaker<steadfast::breaker::Consecutive> =
        steadfast::valid!(FirmwareBreaker::fixed());
    #[cfg(feature = "breaker-window")]
    static mut BREAKER_WINDOW: FirmwareBreaker<steadfast::breaker::CountWindow<64>> =
        steadfast::valid!(FirmwareBreaker::fixed());
    #[cfg(feature = "bulkhead")]
    static mut BULKHEAD: FirmwareBulkhead<4> = steadfast::valid!(FirmwareBulkhead::fixed());
    #[cfg(any(
        feature = "pipeline",
        feature = "pipeline-breaker",
        feature = "pipeline-gate",
        feature = "pipeline-held"
    ))]
    static mut PIPELINE_BREAKER: FirmwareBreaker<steadfast::breaker::Consecutive> =
        steadfast::valid!(FirmwareBreaker::fixed());
    #[cfg(feature = "pipeline")]
    static mut PIPELINE_BULKHEAD: FirmwareBulkhead<10> =
        steadfast::valid!(FirmwareBulkhead::fixed());
    #[cfg(feature = "pipeline-gate")]
    static mut LIMITER: steadfast::ratelimit::RateLimiter = steadfast::valid!(
        steadfast::ratelimit::RateLimiter::new(steadfast::ratelimit::Config::per_second(10))
    );
    let input: u64 = black_box(0x0123_4567_89AB_CDEF);
    #[allow(unused_mut)] // the baseline build has no pattern to fold in
    let mut acc: u64 = 0;
    #[cfg(feature = "time")]
    {
        acc ^= patterns::time(input);
    }
    #[cfg(feature = "rng")]
    {
        acc ^= patterns::rng(input);
    }
    #[cfg(feature = "breaker")]
    {
        acc ^= patterns::breaker(BREAKER, input);
    }
    #[cfg(feature = "breaker-window")]
    {
        acc ^= patterns::breaker(BREAKER_WINDOW, input);
    }
    #[cfg(feature = "backoff")]
    {
        acc ^= patterns::backoff(input);
    }
    #[cfg(feature = "retry")]
    {
        acc ^= patterns::retry(input);
    }
    #[cfg(feature = "bulkhead")]
    {
        acc ^= patterns::bulkhead(BULKHEAD, input);
    }
    #[cfg(feature = "timeout")]
    {
        acc ^= patterns::timeout(input);
    }
    #[cfg(feature = "pipeline")]
    {
        acc ^= patterns::pipeline(PIPELINE_BREAKER, PIPELINE_BULKHEAD, input);
    }
    #[cfg(feature = "pipeline-breaker")]
    {
        acc ^= patterns::pipeline_breaker(PIPELINE_BREAKER, input);
    }
    #[cfg(feature = "pipeline-gate")]
    {
        acc ^= patterns::pipeline_gate(PIPELINE_BREAKER, LIMITER, input);
    }
    #[cfg(feature = "retry-held")]
    {
        acc ^= patterns::retry_held(input);
    }
    #[cfg(feature = "pipeline-held")]
    {
        acc ^= patterns::pipeline_held(PIPELINE_BREAKER, input);
    }
    #[cfg(feature = "embassy")]
    {
        acc ^= adapter::embassy(input);
    }
    #[cfg(feature = "embassy-extras")]
    {
        acc ^= adapter::extras(input);
    }
    #[cfg(feature = "panic-canary")]
    {
        let table = black_box([1u64, 2, 3]);
        acc ^= table[black_box(input as usize)];
    }
    black_box((input, acc));
    debug::exit(debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// The breaker of the probes, as a firmware declares it: the default
/// configuration as a constant it reads in place ([`Fixed`]), no statistics.
#[allow(dead_code)]
type FirmwareBreaker<W> =
    steadfast::breaker::Breaker<W, steadfast::breaker::NoStats, Fixed<Defaults>>;

use steadfast::breaker::Fixed;

/// The bulkhead of the probes, as a firmware declares it: its configuration
/// a constant it reads in place ([`Fixed`](steadfast::bulkhead::Fixed)), no
/// statistics.
#[allow(dead_code)]
type FirmwareBulkhead<const Q: usize> = steadfast::bulkhead::Bulkhead<
    Q,
    steadfast::bulkhead::NoStats,
    steadfast::bulkhead::Fixed<QueueOf<Q>>,
>;

/// The bulkhead configuration of the probes: [`Config::DEFAULT`](steadfast::bulkhead::Config::DEFAULT)
/// with a queue of `Q` waiters (the default's 10 for `Q = 10`).
#[allow(dead_code)]
struct QueueOf<const Q: usize>;

impl<const Q: usize> steadfast::bulkhead::ConstConfig for QueueOf<Q> {
    const CONFIG: steadfast::bulkhead::Config =
        steadfast::bulkhead::Config::DEFAULT.with_max_queue(Q as u32);
}

/// The breaker configuration, the backoff and the pipeline of the probes:
/// [`Config::DEFAULT`](steadfast::breaker::Config::DEFAULT),
/// [`Backoff::DEFAULT`](steadfast::backoff::Backoff::DEFAULT) and
/// [`pipeline::Config::DEFAULT`](steadfast::pipeline::Config::DEFAULT) over that backoff.
#[allow(dead_code)]
struct Defaults;

impl steadfast::breaker::ConstConfig for Defaults {
    const CONFIG: steadfast::breaker::Config = steadfast::breaker::Config::DEFAULT;
}

impl steadfast::backoff::ConstBackoff for Defaults {
    const BACKOFF: steadfast::backoff::Backoff = steadfast::backoff::Backoff::DEFAULT;
}

impl steadfast::pipeline::ConstPipeline for Defaults {
    type Delays = steadfast::backoff::Fixed<Self>;
    const PIPELINE: &'static steadfast::pipeline::Pipeline<Self::Delays> = &steadfast::valid!(
        steadfast::pipeline::Pipeline::fixed(steadfast::pipeline::Config::DEFAULT.with_retry(
            steadfast::retry::Config::DEFAULT.with_backoff(steadfast::backoff::Fixed::new())
        ))
    );
}

#[allow(dead_code, unused_imports)]
mod patterns {
    use super::FirmwareBreaker;
    use core::hint::black_box;
    use steadfast::rng::{Rng, SplitMix64};
    use steadfast::time::{Duration, Instant};

    /// Instant/Duration arithmetic.
    pub fn time(input: u64) -> u64 {
        let t0 = Instant::from_micros(input);
        let t1 = t0.saturating_add(Duration::from_millis(black_box(30_000)));
        (t1.saturating_duration_since(t0).as_millis()) ^ t1.max(t0).as_micros()
    }

    /// The bundled PRNG.
    pub fn rng(input: u64) -> u64 {
        let mut rng = SplitMix64::new(input);
        rng.below(black_box(1_000)) ^ rng.between(black_box(10), black_box(20))
    }

    /// A firmware breaker with the failure detector `W` through closed → open
    /// → half-open → closed.
    #[cfg(any(feature = "breaker", feature = "breaker-window"))]
    pub fn breaker<W: steadfast::breaker::Window>(b: &mut FirmwareBreaker<W>, input: u64) -> u64 {
        use steadfast::outcome::Outcome;
        let mut acc = 0u64;
        let (mut now, tick) = (Instant::ZERO, Duration::from_micros(black_box(1_000_000)));
        let mut pattern = input;
        for _ in 0..64u32 {
            now = now.saturating_add(tick);
            pattern = pattern.rotate_right(1);
            match b.try_acquire(now) {
                Ok(permit) => {
                    let outcome = if pattern & 1 == 1 {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    if let Some(t) = b.record(permit, outcome, now) {
                        acc = acc.wrapping_add(u64::from(t.to().code()));
                    }
                }
                Err(rejected) => acc ^= rejected.retry_at.map_or(1, Instant::as_micros),
            }
            if let Some(t) = b.handle_timeout(now) {
                acc = acc.wrapping_add(u64::from(t.to().code()));
            }
            acc ^= b.poll_at().map_or(0, Instant::as_micros);
        }
        acc
    }

    /// Eight delays and jittered draws of one backoff.
    #[cfg(any(feature = "backoff", feature = "retry-held"))]
    fn draws(
        delay: impl Fn(u32) -> Duration,
        jittered: impl Fn(u32, Duration, &mut SplitMix64) -> Duration,
        rng: &mut SplitMix64,
    ) -> u64 {
        let mut previous = Duration::ZERO;
        let mut acc = 0u64;
        for retry in 1..=black_box(8u32) {
            acc ^= delay(retry).as_micros();
            previous = jittered(retry, previous, rng);
            acc ^= previous.as_micros();
        }
        acc
    }

    /// One call's retry machine over failing attempts.
    #[cfg(any(feature = "retry", feature = "retry-held"))]
    fn retries<D: steadfast::backoff::Delays>(
        config: steadfast::retry::Config<D>,
        rng: &mut SplitMix64,
    ) -> u64 {
        use steadfast::outcome::Verdict;
        use steadfast::retry::{Retry, RetryDecision};
        let mut now = Instant::from_micros(black_box(0));
        let mut retry = Retry::new(
            config,
            now,
            Some(now.saturating_add(Duration::from_secs(10))),
        );
        let mut acc = 0u64;
        for _ in 0..8 {
            match retry.on_outcome(Verdict::failure(), now, rng) {
                RetryDecision::RetryAt { at, attempt, .. } => {
                    now = at;
                    acc ^= u64::from(attempt);
                }
                _ => break,
            }
        }
        acc ^ u64::from(retry.attempts())
    }

    /// The default backoff (exponential ×2, equal jitter) as a firmware
    /// declares it: a constant named by a type ([`Fixed`](steadfast::backoff::Fixed)).
    #[cfg(feature = "backoff")]
    pub fn backoff(input: u64) -> u64 {
        let b = steadfast::backoff::Fixed::<super::Defaults>::new();
        draws(
            |n| b.delay(n),
            |n, previous, rng| b.jittered(n, previous, rng),
            &mut SplitMix64::new(input),
        )
    }

    /// The retries of one call, the backoff a constant named by a type.
    #[cfg(feature = "retry")]
    pub fn retry(input: u64) -> u64 {
        let config = steadfast::retry::Config::DEFAULT
            .with_backoff(steadfast::backoff::Fixed::<super::Defaults>::new());
        retries(black_box(config), &mut SplitMix64::new(input))
    }

    /// [`backoff`] and [`retry`] with the backoff and the retry config held as
    /// values (a config read at run time): every growth and jitter linked.
    #[cfg(feature = "retry-held")]
    pub fn retry_held(input: u64) -> u64 {
        use steadfast::backoff::Backoff;
        static BACKOFF: Backoff = Backoff::DEFAULT;
        let b: &Backoff = black_box(&BACKOFF);
        let mut rng = SplitMix64::new(input);
        let acc = draws(
            |n| b.delay(n),
            |n, previous, rng| b.jittered(n, previous, rng),
            &mut rng,
        );
        acc ^ retries(black_box(steadfast::retry::Config::default()), &mut rng)
    }

    /// Bulkhead with a small waiting queue.
    #[cfg(feature = "bulkhead")]
    pub fn bulkhead(b: &mut super::FirmwareBulkhead<4>, input: u64) -> u64 {
        use steadfast::bulkhead::Acquire;
        let mut acc = 0u64;
        let (mut now, tick) = (Instant::ZERO, Duration::from_micros(black_box(1_000)));
        let mut pattern = input;
        for _ in 0..16u32 {
            now = now.saturating_add(tick);
            pattern = pattern.rotate_right(1);
            match b.try_acquire(now) {
                Acquire::Permit(p) => {
                    if pattern & 1 == 1 {
                        acc ^= b.release(p, now).map_or(0, |_| 1);
                    }
                }
                Acquire::Queued { deadline, .. } => acc ^= deadline.as_micros(),
                Acquire::Full => acc = acc.wrapping_add(1),
            }
        }
        acc ^ b.poll_at().map_or(0, Instant::as_micros)
    }

    /// Deadlines.
    #[cfg(feature = "timeout")]
    pub fn timeout(input: u64) -> u64 {
        use steadfast::timeout::Deadline;
        let now = Instant::from_micros(input);
        let a = Deadline::after(now, Duration::from_millis(black_box(100)));
        let b = Deadline::at(Instant::from_micros(black_box(input / 2)));
        let d = a.earliest(b);
        d.remaining(now).as_micros() ^ u64::from(d.is_expired(now))
    }

    /// The composed pipeline: breaker + bulkhead + retry/backoff + timeouts.
    #[cfg(feature = "pipeline")]
    pub fn pipeline(
        breaker: &mut FirmwareBreaker<steadfast::breaker::Consecutive>,
        pool: &mut super::FirmwareBulkhead<10>,
        input: u64,
    ) -> u64 {
        use steadfast::pipeline::Shared;
        let mut retries = Retries(0);
        let acc = calls(
            input,
            &mut Shared::new()
                .with_breaker(breaker)
                .with_bulkhead(pool)
                .with_observer(&mut retries),
            firmware_call,
        );
        acc ^ u64::from(pool.in_flight()) ^ retries.0
    }

    /// The pipeline with a breaker only: breaker + retry/backoff + timeouts.
    #[cfg(feature = "pipeline-breaker")]
    pub fn pipeline_breaker(
        breaker: &mut FirmwareBreaker<steadfast::breaker::Consecutive>,
        input: u64,
    ) -> u64 {
        breaker_only(breaker, input, firmware_call)
    }

    /// [`pipeline_breaker`] with the pipeline held as a value, read through an
    /// opaque reference (a policy read at run time), and its backoff held.
    #[cfg(feature = "pipeline-held")]
    pub fn pipeline_held(
        breaker: &mut FirmwareBreaker<steadfast::breaker::Consecutive>,
        input: u64,
    ) -> u64 {
        use steadfast::pipeline::{self, Pipeline};
        static PIPELINE: Pipeline = steadfast::valid!(Pipeline::new(pipeline::Config::DEFAULT));
        let held: &'static Pipeline = black_box(&PIPELINE);
        breaker_only(breaker, input, |now| held.start(now))
    }

    /// [`calls`] lent only a breaker (and the observer).
    #[cfg(any(feature = "pipeline-breaker", feature = "pipeline-held"))]
    fn breaker_only<
        D: steadfast::backoff::Delays,
        P: core::ops::Deref<Target = steadfast::pipeline::Pipeline<D>>,
    >(
        breaker: &mut FirmwareBreaker<steadfast::breaker::Consecutive>,
        input: u64,
        begin: impl Fn(Instant) -> steadfast::pipeline::Call<'static, P>,
    ) -> u64 {
        use steadfast::pipeline::Shared;
        let mut retries = Retries(0);
        let acc = calls(
            input,
            &mut Shared::new()
                .with_breaker(breaker)
                .with_observer(&mut retries),
            begin,
        );
        acc ^ retries.0
    }

    #[cfg(feature = "pipeline-gate")]
    pub fn pipeline_gate(
        breaker: &mut FirmwareBreaker<steadfast::breaker::Consecutive>,
        limiter: &mut steadfast::ratelimit::RateLimiter,
        input: u64,
    ) -> u64 {
        use steadfast::pipeline::Shared;
        let mut retries = Retries(0);
        let acc = calls(
            input,
            &mut Shared::new()
                .with_breaker(breaker)
                .with_observer(&mut retries)
                .with_gate(limiter),
            firmware_call,
        );
        acc ^ retries.0
    }

    /// Counts the retries the calls schedule (what an adapter's observer does).
    #[cfg(any(
        feature = "pipeline",
        feature = "pipeline-breaker",
        feature = "pipeline-gate",
        feature = "pipeline-held"
    ))]
    struct Retries(u64);

    #[cfg(any(
        feature = "pipeline",
        feature = "pipeline-breaker",
        feature = "pipeline-gate",
        feature = "pipeline-held"
    ))]
    impl steadfast::pipeline::Observer for Retries {
        fn on_event(&mut self, _now: Instant, event: &steadfast::pipeline::Event) {
            self.0 += matches!(event, steadfast::pipeline::Event::Retry { .. }) as u64;
        }
    }

    /// A call of the policy a firmware names by a type (`pipeline::Fixed`):
    /// built and checked at compile time, every choice of it known to the
    /// call's code.
    #[cfg(any(
        feature = "pipeline",
        feature = "pipeline-breaker",
        feature = "pipeline-gate"
    ))]
    fn firmware_call(
        now: Instant,
    ) -> steadfast::pipeline::Call<'static, steadfast::pipeline::Fixed<super::Defaults>> {
        steadfast::pipeline::Fixed::new().start(now)
    }

    /// Four calls driven to their end over a scripted flaky dependency (what
    /// an adapter does), each started by `begin`.
    #[cfg(any(
        feature = "pipeline",
        feature = "pipeline-breaker",
        feature = "pipeline-gate",
        feature = "pipeline-held"
    ))]
    fn calls<
        G: steadfast::breaker::CircuitBreaker,
        K: steadfast::pipeline::Pool,
        A: steadfast::pipeline::Gate,
        D: steadfast::backoff::Delays,
        P: core::ops::Deref<Target = steadfast::pipeline::Pipeline<D>>,
    >(
        input: u64,
        shared: &mut steadfast::pipeline::Shared<'_, G, K, steadfast::retry::Unlimited, Retries, A>,
        begin: impl Fn(Instant) -> steadfast::pipeline::Call<'static, P>,
    ) -> u64 {
        use steadfast::outcome::Verdict;
        use steadfast::pipeline::Step;
        let mut rng = SplitMix64::new(input);
        let mut acc = 0u64;
        let (mut start, second) = (Instant::ZERO, Duration::from_micros(black_box(1_000_000)));
        let mut pattern = input;
        for _ in 0..4u32 {
            start = start.saturating_add(second);
            let mut now = start;
            let mut call = begin(now);
            let mut step = call.next(now, shared);
            for _ in 0..8u32 {
                step = match step {
                    Step::Attempt { .. } => {
                        pattern = pattern.rotate_right(1);
                        let verdict = if pattern & 1 == 1 {
                            Verdict::failure()
                        } else {
                            Verdict::success()
                        };
                        call.on_outcome(verdict, now, shared, &mut rng)
                    }
                    Step::Wait { until } | Step::Queued { until, .. } => {
                        now = until;
                        call.next(now, shared)
                    }
                    Step::Done(finish) => {
                        acc = acc.wrapping_add(u64::from(finish.attempts()));
                        break;
                    }
                };
            }
            call.abandon(now, shared);
        }
        acc
    }
}

/// `size_of` on this target of each machine, as symbol sizes: `llvm-nm -S`
/// reads them from the ELF (scripts/size-report.sh). Zero-filled, never read.
#[cfg(feature = "ram")]
#[allow(non_upper_case_globals)]
mod ram {
    use super::FirmwareBreaker;
    use core::mem::size_of;
    use steadfast::backoff::Backoff;
    use steadfast::breaker::{Breaker, Consecutive, CountWindow};
    use steadfast::bulkhead::Bulkhead;
    use steadfast::pipeline::{Call, Events, Pipeline};
    use steadfast::retry::{Budget, Retry};
    use steadfast::timeout::Deadline;

    macro_rules! size_symbols {
        ($($name:ident: $t:ty),* $(,)?) => {$(
            #[used]
            #[unsafe(no_mangle)]
            static $name: [u8; size_of::<$t>()] = [0; size_of::<$t>()];
        )*};
    }

    size_symbols! {
        SIZE_OF_Breaker_Consecutive: FirmwareBreaker<Consecutive>,
        SIZE_OF_Breaker_CountWindow_64: FirmwareBreaker<CountWindow<64>>,
        SIZE_OF_Breaker_Consecutive_Stats: Breaker<Consecutive>,
        SIZE_OF_Bulkhead_4: Bulkhead<4>,
        SIZE_OF_Bulkhead_4_NoStats: super::FirmwareBulkhead<4>,
        SIZE_OF_Budget: Budget,
        SIZE_OF_Retry: Retry,
        SIZE_OF_Retry_Fixed: Retry<steadfast::backoff::Fixed<super::Defaults>>,
        SIZE_OF_Pipeline: Pipeline,
        SIZE_OF_Pipeline_Fixed: Pipeline<steadfast::backoff::Fixed<super::Defaults>>,
        SIZE_OF_Call: Call,
        SIZE_OF_Events: Events,
        SIZE_OF_Backoff: Backoff,
        SIZE_OF_Deadline: Deadline,
    }
}

/// steadfast-embassy: what a firmware links for `Policy::call`.
#[cfg(feature = "embassy")]
mod adapter {
    use super::{Defaults, FirmwareBreaker};
    use core::future::Future;
    #[cfg(feature = "embassy-extras")]
    use core::hint::black_box;
    use core::pin::pin;
    use core::sync::atomic::{AtomicU32, Ordering};
    use core::task::{Context, Poll, Waker};
    use embassy_sync::blocking_mutex::raw::NoopRawMutex;
    use steadfast::breaker::{Consecutive, Fixed, NoStats};
    use steadfast::pipeline;
    use steadfast_embassy::{Policy, SharedBreaker, SharedRng};

    /// A clock that moves 1 ms per reading; a timer wakes its task at once,
    /// so the busy poll below reaches every deadline.
    struct ProbeClock;

    static TICKS: AtomicU32 = AtomicU32::new(0);

    impl embassy_time_driver::Driver for ProbeClock {
        fn now(&self) -> u64 {
            // load + store: thumbv6m has no atomic read-modify-write; one core
            let t = TICKS.load(Ordering::Relaxed).wrapping_add(1_000);
            TICKS.store(t, Ordering::Relaxed);
            u64::from(t)
        }

        fn schedule_wake(&self, _at: u64, waker: &Waker) {
            waker.wake_by_ref();
        }
    }

    embassy_time_driver::time_driver_impl!(static DRIVER: ProbeClock = ProbeClock);

    /// An operation that answers at once (`core::future::Ready` would link
    /// its own polled-after-completion panic: the user's, not the adapter's).
    struct Reply(Result<u64, u64>);

    impl Future for Reply {
        type Output = Result<u64, u64>;

        fn poll(self: core::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
            Poll::Ready(self.0)
        }
    }

    /// Four calls through the probes' firmware breaker, failing as `input`'s
    /// bits say.
    pub fn embassy(input: u64) -> u64 {
        let Ok(breaker) = FirmwareBreaker::<Consecutive>::fixed() else {
            return 0;
        };
        let breaker: SharedBreaker<NoopRawMutex, Consecutive, NoStats, Fixed<Defaults>> =
            SharedBreaker::new(breaker);
        let rng = SharedRng::new(input);
        let policy = Policy::new(pipeline::Fixed::<Defaults>::new(), &rng).with_breaker(&breaker);
        let mut acc = 0u64;
        for i in 0..4u64 {
            let fail = (input >> i) & 1 == 1;
            let op = || Reply(if fail { Err(i) } else { Ok(i) });
            #[cfg(feature = "ram")]
            report::future_sizes(&op(), &policy.call(op));
            let mut call = pin!(policy.call(op));
            let mut cx = Context::from_waker(Waker::noop());
            let answer = loop {
                if let Poll::Ready(answer) = call.as_mut().poll(&mut cx) {
                    break answer;
                }
            };
            acc ^= answer.map_or(1, |v| v);
        }
        acc
    }

    /// Polls `fut` until it answers (every timer wakes at once).
    #[cfg(feature = "embassy-extras")]
    fn block_on<F: Future>(fut: F) -> F::Output {
        let mut fut = pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    /// A hedged call, then a call under an adaptive limit, a rate limiter and
    /// a throttle, then a policy's call through each of the last two as its
    /// gate, each answering as `input`'s bits say.
    #[cfg(feature = "embassy-extras")]
    pub fn extras(input: u64) -> u64 {
        use steadfast::adaptive::{self, AdaptiveLimit};
        use steadfast::hedge::{self, Hedger};
        use steadfast::outcome::ErrorsFail;
        use steadfast::ratelimit::{self, RateLimiter};
        use steadfast::throttle::{self, AdaptiveThrottle};
        use steadfast_embassy::adaptive::{SharedAdaptiveLimit, limited};
        use steadfast_embassy::admission::{
            SharedRateLimiter, SharedThrottle, rate_limited, throttled,
        };
        use steadfast_embassy::hedge::{SharedHedger, hedged};

        let fail = |i: u64| (input >> i) & 1 == 1;
        let op = |i: u64| move || Reply(if fail(i) { Err(i) } else { Ok(i) });
        let mut acc = 0u64;
        if let Ok(h) = Hedger::<8>::new(black_box(hedge::Config::DEFAULT)) {
            let hedger: SharedHedger<NoopRawMutex, 8> = SharedHedger::new(h);
            acc ^= block_on(hedged::<_, _, _, _, _, _, 1>(&hedger, ErrorsFail, op(0))).unwrap_or(1);
        }
        if let Ok(l) = AdaptiveLimit::new(black_box(adaptive::Config::new())) {
            let limit: SharedAdaptiveLimit<NoopRawMutex> = SharedAdaptiveLimit::new(l);
            acc ^= block_on(limited(&limit, ErrorsFail, op(1))).map_or(2, |v| v);
        }
        if let Ok(r) = RateLimiter::new(black_box(ratelimit::Config::per_second(10))) {
            let limiter: SharedRateLimiter<NoopRawMutex> = SharedRateLimiter::new(r);
            acc ^= block_on(rate_limited(&limiter, op(2))).map_or(3, |v| v);
        }
        if let Ok(t) = AdaptiveThrottle::<4>::new(black_box(throttle::Config::new())) {
            let gate: SharedThrottle<NoopRawMutex, 4> = SharedThrottle::new(t, input);
            acc ^= block_on(throttled(&gate, ErrorsFail, op(3))).map_or(4, |v| v);
        }
        let rng = SharedRng::new(input);
        let pipeline = pipeline::Fixed::<super::Defaults>::new();
        if let Ok(r) = RateLimiter::new(black_box(ratelimit::Config::per_second(10))) {
            let limiter: SharedRateLimiter<NoopRawMutex> = SharedRateLimiter::new(r);
            let policy = Policy::new(pipeline, &rng).with_rate_limiter(&limiter);
            acc ^= block_on(policy.call(op(4))).map_or(5, |v| v);
        }
        if let Ok(t) = AdaptiveThrottle::<4>::new(black_box(throttle::Config::new())) {
            let gate: SharedThrottle<NoopRawMutex, 4> = SharedThrottle::new(t, input);
            let policy = Policy::new(pipeline, &rng).with_throttle(&gate);
            acc ^= block_on(policy.call(op(5))).map_or(6, |v| v);
        }
        acc
    }

    /// The sizes of a call's future and of the operation's own future, printed
    /// over semihosting (no `core::fmt`): `call-future <bytes> op-future <bytes>`.
    #[cfg(feature = "ram")]
    mod report {
        use core::mem::size_of_val;
        use cortex_m_semihosting::hio;

        pub(super) fn future_sizes<A, B>(op: &A, call: &B) {
            let Ok(mut out) = hio::hstdout() else {
                return;
            };
            let mut line = [0u8; 64];
            let mut len = 0;
            for (label, n) in [
                ("call-future ", size_of_val(call)),
                (" op-future ", size_of_val(op)),
            ] {
                for &b in label.as_bytes() {
                    line[len] = b;
                    len += 1;
                }
                let mut digits = [0u8; 10];
                let mut d = 0;
                let mut n = n;
                loop {
                    digits[d] = b'0' + (n % 10) as u8;
                    d += 1;
                    n /= 10;
                    if n == 0 {
                        break;
                    }
                }
                while d > 0 {
                    d -= 1;
                    line[len] = digits[d];
                    len += 1;
                }
            }
            line[len] = b'\n';
            let _ = out.write_all(&line[..=len]);
        }
    }
}
