//! The shipped scenarios behave as their files claim, and runs are
//! reproducible from the seed.

use std::path::PathBuf;

use steadfast::time::{Duration, Instant};
use steadfast_sim::{Report, Scenario, plot, run};

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    Scenario::from_path(&path).unwrap()
}

fn report(name: &str) -> Report {
    run(&scenario(name)).unwrap()
}

#[test]
fn outage_is_detected_fast_and_the_dependency_is_shielded() {
    let r = report("outage-and-recovery");
    let o = r.outage.as_ref().unwrap();
    // The count window needs 20 calls at 50 % failures: a few tens of ms at 200/s.
    assert!(
        o.detect.unwrap() < Duration::from_millis(500),
        "{:?}",
        o.detect
    );
    // While it is open, almost nothing reaches the dependency.
    assert!(o.amplification_permille() < 50, "{}", r.table());
    // It closes again once the dependency has recovered (15 s ramp, growing breaks).
    let recover = o.recover.unwrap();
    assert!(
        recover > Duration::from_secs(5) && recover < Duration::from_secs(40),
        "{recover:?}"
    );
    assert!(r.refusals.breaker_open > 0 && r.breaker_opens >= 1);
    assert_eq!(r.unfinished, 0);
    // Outside the outage and its recovery, calls succeed.
    assert!(r.success_permille() > 500, "{}", r.table());
    assert_eq!(r.offered, r.succeeded + r.failed());
}

#[test]
fn without_a_budget_retries_multiply_the_load_during_an_outage() {
    let r = report("retry-storm-no-budget");
    let o = r.outage.as_ref().unwrap();
    // Four attempts per call, all failing: ~4× the offered load.
    assert!(o.amplification_permille() >= 3_500, "{}", r.table());
    assert!(r.amplification_permille() > 2_000);
}

#[test]
fn with_a_budget_the_dependency_sees_at_most_1_1x_the_offered_load() {
    let r = report("retry-storm-budget");
    let o = r.outage.as_ref().unwrap();
    assert!(o.amplification_permille() <= 1_100, "{}", r.table());
    assert!(
        o.attempts >= o.offered,
        "every offered call still makes its first attempt"
    );
}

#[test]
fn budget_and_no_budget_see_the_same_offered_load() {
    // Common random numbers: the load stream does not depend on the policy.
    let a = report("retry-storm-no-budget");
    let b = report("retry-storm-budget");
    assert_eq!(a.offered, b.offered);
    assert_eq!(a.series.offered, b.series.offered);
}

#[test]
fn timeouts_bound_caller_latency_on_a_slow_dependency() {
    let r = report("slow-dependency");
    // 3 attempts × 300 ms + backoff (≤ 200 ms each): never more than ~1.3 s.
    assert!(
        r.latency.max <= Duration::from_millis(1_300),
        "{}",
        r.table()
    );
    assert!(r.attempt_timeouts > 0);
    // The slow-call rate trips the breaker during the brownout (30 s..60 s) ...
    let opened = r.transitions.iter().find(|&&(_, code)| code == 2).unwrap();
    assert!(opened.0 >= Instant::from_secs(30) && opened.0 < Instant::from_secs(32));
    // ... and it closes again soon after.
    let closed = r
        .transitions
        .iter()
        .find(|&&(at, code)| code == 0 && at >= Instant::from_secs(60))
        .unwrap();
    assert!(closed.0 < Instant::from_secs(70), "{:?}", closed.0);
}

#[test]
fn the_bulkhead_caps_concurrency_under_a_burst() {
    let s = scenario("bulkhead-burst");
    let r = run(&s).unwrap();
    assert!(r.peak_in_flight <= 30, "{}", r.table());
    assert!(r.refusals.bulkhead() > 0);
    // Callers that get in are not slowed by a pile-up at the dependency.
    assert!(r.latency.p99 < Duration::from_millis(500), "{}", r.table());
    // Rejections happen only in or just after the burst (30 s..33 s, 0.5 s buckets).
    let rejected_outside: u32 = r
        .series
        .rejected
        .iter()
        .enumerate()
        .filter(|&(b, _)| !(60..70).contains(&b))
        .map(|(_, &n)| n)
        .sum();
    assert_eq!(rejected_outside, 0);
}

#[test]
fn same_seed_same_report_and_svg_byte_for_byte() {
    for name in [
        "outage-and-recovery",
        "slow-dependency",
        "retry-storm-budget",
        "bulkhead-burst",
        "heavy-tail-impatient",
        "chaos-drill",
        "overload-adaptive-throttle",
    ] {
        let s = scenario(name);
        let a = run(&s).unwrap();
        let b = run(&s).unwrap();
        assert_eq!(a, b, "{name}");
        assert_eq!(a.table(), b.table());
        let svg_a = plot::svg(&[&s], &[&a]).unwrap();
        let svg_b = plot::svg(&[&s], &[&b]).unwrap();
        assert_eq!(svg_a, svg_b, "{name}");
        assert!(svg_a.starts_with("<svg") && svg_a.len() > 10_000);
    }
}

#[test]
fn another_seed_gives_another_run() {
    let mut s = scenario("outage-and-recovery");
    let a = run(&s).unwrap();
    s.seed += 1;
    let b = run(&s).unwrap();
    assert_ne!(a, b);
    assert_ne!(a.table(), b.table());
    assert_ne!(a.series.offered, b.series.offered);
}

#[test]
fn compare_renders_both_columns() {
    let a = report("retry-storm-no-budget");
    let b = report("retry-storm-budget");
    let table = steadfast_sim::compare(&[&a, &b]);
    let header = table.lines().next().unwrap();
    assert!(header.contains("retry-storm-no-budget") && header.contains("retry-storm-budget"));
    assert!(table.contains("attempts during outage"));
}

#[test]
fn plots_show_only_the_panels_the_policy_has() {
    let svg_of = |name: &str| {
        let s = scenario(name);
        let r = run(&s).unwrap();
        plot::svg(&[&s], &[&r]).unwrap()
    };
    let breaker_only = svg_of("outage-and-recovery");
    assert!(breaker_only.contains("Breaker state"));
    assert!(
        breaker_only.contains("opened 4×"),
        "openings counted in the caption"
    );
    assert!(!breaker_only.contains("Bulkhead:"));
    assert!(breaker_only.contains("recovery ramp"));
    let latency = breaker_only.find("Latency of successful calls").unwrap();
    let load = breaker_only.find("Load: attempts").unwrap();
    assert!(
        breaker_only[latency..load].contains(">\n0\n</text>"),
        "the latency floor is labelled 0"
    );
    let bulkhead_only = svg_of("bulkhead-burst");
    assert!(!bulkhead_only.contains("Breaker state"));
    assert!(bulkhead_only.contains("Bulkhead:"));
    assert!(bulkhead_only.contains("queue full"));
}

#[test]
fn compare_legend_names_both_files_and_the_offered_load() {
    let a = scenario("retry-storm-no-budget");
    let b = scenario("retry-storm-budget");
    let (ra, rb) = (run(&a).unwrap(), run(&b).unwrap());
    let svg = plot::svg(&[&a, &b], &[&ra, &rb]).unwrap();
    assert!(svg.contains("retry-storm-no-budget.toml: "));
    assert!(svg.contains("retry-storm-budget.toml: "));
    assert!(
        svg.contains("calls offered"),
        "the offered load has a legend entry"
    );
}

#[test]
fn impatient_callers_and_a_heavy_tail_during_a_brownout() {
    let s = scenario("heavy-tail-impatient");
    let r = run(&s).unwrap();
    assert!(
        r.abandoned > 0 && r.refusals.queue_full > 0,
        "{}",
        r.table()
    );
    // The slow-call breaker opens within a few seconds of the brownout.
    let brownout = &r.faults[0];
    assert_eq!(brownout.kind, "brownout");
    assert!(
        brownout.detect.unwrap() < Duration::from_secs(3),
        "{}",
        r.table()
    );
    // The bulkhead never hands out more than its 20 slots or queues more than 40.
    assert!(r.series.peak_permits.iter().all(|&n| n <= 20));
    assert!(r.series.peak_queue.iter().all(|&n| n <= 40));
    // A caller who gives up frees its slot while the dependency keeps working
    // on the abandoned attempt: the dependency may see more than 20.
    assert!(r.peak_in_flight >= 20);
    let q = r.queue.unwrap();
    assert!(q.waited > 0 && q.wait.max <= Duration::from_millis(200));
    assert_eq!(r.offered, r.succeeded + r.failed());
}

/// Attempts the dependency saw, and those it served, in the buckets `range`.
fn sent_and_accepted(r: &Report, range: std::ops::Range<usize>) -> (u64, u64) {
    let s = &r.series;
    let sent: u64 = s.attempts[range.clone()]
        .iter()
        .map(|&n| u64::from(n))
        .sum();
    let failed: u64 = s.dependency_failures[range]
        .iter()
        .map(|&n| u64::from(n))
        .sum();
    (sent, sent - failed)
}

/// Attempts the dependency saw per second during the burst (30 s to 45 s).
fn burst_attempts_per_sec(r: &Report) -> u64 {
    let a = &r.series.attempts;
    a[30..45].iter().map(|&n| u64::from(n)).sum::<u64>() / 15
}

#[test]
fn in_an_overload_each_admission_control_spares_the_dependency_its_own_way() {
    let none = report("overload-no-admission");
    let limited = report("overload-rate-limit");
    let throttled = report("overload-adaptive-throttle");
    let budgeted = report("overload-retry-budget");
    let offered: Vec<u64> = [&none, &limited, &throttled, &budgeted]
        .iter()
        .map(|r| r.offered)
        .collect();
    assert!(offered.windows(2).all(|w| w[0] == w[1]), "{offered:?}");

    // Without admission control every shed attempt is retried: the burst of
    // 2600 calls/s becomes a storm of about 7000 attempts/s.
    let storm = burst_attempts_per_sec(&none);
    assert!(storm > 6_000, "{}", none.table());
    // The rate limiter admits 1500 calls/s: the dependency stays under its
    // capacity and nearly nothing is retried; the excess is refused at once.
    let limited_rate = burst_attempts_per_sec(&limited);
    assert!(
        (1_450..=1_700).contains(&limited_rate),
        "{}",
        limited.table()
    );
    assert!(limited.refusals.rate_limit > 15_000 && limited.refusals.throttle == 0);
    // The budget cuts the storm to the offered load and its 10 %.
    let budgeted_rate = burst_attempts_per_sec(&budgeted);
    assert!(budgeted_rate < storm / 2, "{}", budgeted.table());
    // The throttle lets the dependency see about K = 2 times what it accepts
    // (the SRE book's rule): once its window has seen the shedding, the
    // storm of 5 attempts per accepted one drops under 2.2.
    let (sent, accepted) = sent_and_accepted(&throttled, 35..45);
    assert!(
        sent * 10 <= accepted * 22,
        "{sent} sent, {accepted} accepted"
    );
    let (storm_sent, storm_accepted) = sent_and_accepted(&none, 35..45);
    assert!(storm_sent > storm_accepted * 4);
    assert!(throttled.refusals.throttle > 5_000 && budgeted.refusals.budget > 5_000);
    // Before the burst, with a healthy dependency, nobody refuses anything:
    // the throttle included (calls still in flight are not counted against it).
    for r in [&limited, &throttled, &budgeted] {
        let early: u32 = r.series.rejected[..30].iter().sum();
        assert_eq!(early, 0, "{}", r.name);
    }
    // Amplification over the whole run, as the table prints it.
    assert!(none.attempts * 10 > none.offered * 15);
    assert!(limited.attempts < limited.offered);
    assert!(budgeted.attempts * 100 < budgeted.offered * 110);
}

#[test]
fn a_chaos_drill_trips_the_breaker_on_a_healthy_dependency_and_only_while_it_runs() {
    let r = report("chaos-drill");
    assert!(r.injected > 0, "{}", r.table());
    // The dependency itself never failed: every failure was injected.
    assert!(r.series.dependency_failures.iter().all(|&n| n == 0));
    // Opened within half a second of the drill's start (20 s), not before;
    // closed for good within a break (2 s) of its end (40 s).
    let first_open = r
        .transitions
        .iter()
        .find(|&&(_, code)| code == 2)
        .unwrap()
        .0;
    assert!(
        first_open >= Instant::from_secs(20) && first_open < Instant::from_millis(20_500),
        "{first_open:?}"
    );
    let last_close = r
        .transitions
        .iter()
        .rev()
        .find(|&&(_, code)| code == 0)
        .unwrap()
        .0;
    assert!(
        last_close > Instant::from_secs(40) && last_close <= Instant::from_secs(42),
        "{last_close:?}"
    );
    // Buckets of 500 ms: nothing refused before the drill or after the close.
    let refused = &r.series.refused_breaker;
    assert!(refused[..40].iter().all(|&n| n == 0));
    assert!(refused[84..].iter().all(|&n| n == 0));

    // The same drill switched off injects nothing and nothing trips.
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/chaos-drill.toml"),
    )
    .unwrap()
    .replace("enabled = true", "enabled = false");
    let off = run(&Scenario::from_toml(&text, "chaos-drill-off").unwrap()).unwrap();
    assert_eq!((off.injected, off.breaker_opens), (0, 0), "{}", off.table());
    assert_eq!(off.succeeded, off.offered);
}

#[test]
fn under_load_an_adaptive_limit_serves_more_than_a_fixed_bulkhead_and_refuses_nothing_healthy() {
    let none = report("load-no-limit");
    let fixed = report("load-fixed-bulkhead");
    let aimd = report("load-adaptive-aimd");
    assert!(none.offered == fixed.offered && fixed.offered == aimd.offered);
    let served = |r: &Report, range: std::ops::Range<usize>| -> u64 {
        r.series.succeeded[range]
            .iter()
            .map(|&n| u64::from(n))
            .sum()
    };
    // Without a limit the burst never ends for the dependency: after it,
    // almost nothing succeeds.
    assert!(served(&none, 45..60) < 100, "{}", none.table());
    // Before the burst the fixed bulkhead refuses healthy traffic, the
    // adaptive limit nothing.
    let early = |r: &Report| -> u32 { r.series.rejected[..20].iter().sum() };
    assert!(early(&fixed) > 500, "{}", fixed.table());
    assert_eq!(early(&aimd), 0, "{}", aimd.table());
    // Through the burst the adaptive limit serves more, and both recover.
    assert!(served(&aimd, 20..40) > served(&fixed, 20..40) * 11 / 10);
    for r in [&fixed, &aimd] {
        assert!(served(r, 45..60) > 700 * 15, "{}", r.table());
    }
    // The limit it learnt rose above its initial 20 during the burst.
    let limit = &aimd.series.adaptive_limit;
    assert!(limit[20..40].iter().any(|&l| l > 40), "{limit:?}");
    assert!(aimd.refusals.adaptive_limit > 0 && aimd.refusals.queue_full == 0);
}

#[test]
fn a_cached_fallback_answers_refused_calls_with_values_no_older_than_its_limit() {
    let plain = report("outage-and-recovery");
    let cached = report("outage-cached-fallback");
    // The cache changes what callers get, not what reaches the dependency.
    assert_eq!(cached.attempts, plain.attempts, "{}", cached.table());
    assert_eq!(cached.breaker_opens, plain.breaker_opens);
    assert_eq!((plain.stale, plain.fallback), (0, 0));
    assert_eq!(cached.fallback, cached.stale);
    // The breaker refuses from about 30 s to 85 s; values stored before the
    // outage serve until 20 s after it began.
    assert!(cached.stale > 3_000, "{}", cached.table());
    assert!(cached.stale_age_max <= Duration::from_secs(20));
    assert!(cached.stale_age_max > Duration::from_secs(19));
    let rejected = cached.refusals.breaker_open;
    assert!(
        cached.stale < rejected / 2,
        "{} of {rejected}",
        cached.stale
    );

    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/outage-cached-fallback.toml");
    let text = std::fs::read_to_string(path).unwrap();
    // A minute of staleness covers the whole refusal: nearly every refused call is answered.
    let long = text.replace("max_staleness = \"20s\"", "max_staleness = \"60s\"");
    let long = run(&Scenario::from_toml(&long, "long").unwrap()).unwrap();
    assert!(
        long.stale * 100 >= long.refusals.breaker_open * 95,
        "{}",
        long.table()
    );
    assert!(long.stale_age_max <= Duration::from_secs(60));
    // Ten places for 500 keys: most refused keys hold nothing.
    let small = text.replace("capacity = 1000", "capacity = 10");
    let small = run(&Scenario::from_toml(&small, "small").unwrap()).unwrap();
    assert!(
        small.stale * 10 < cached.stale,
        "{} vs {}",
        small.stale,
        cached.stale
    );
    // A fallback rule that serves nothing serves nothing.
    let never = text.replace("fallback = \"any_failure\"", "fallback = \"never\"");
    let never = run(&Scenario::from_toml(&never, "never").unwrap()).unwrap();
    assert_eq!(never.stale, 0);
}

#[test]
fn hedging_cuts_the_tail_for_a_few_percent_more_attempts_within_its_cap_and_budget() {
    let plain = report("heavy-tail-no-hedge");
    let hedged = report("heavy-tail-hedged");
    assert_eq!((plain.hedges, plain.hedge_wins), (0, 0));
    assert_eq!(plain.attempts, plain.offered);
    // 5 % of answers take 500 ms: without hedging that is the p99.
    assert!(
        plain.latency.p99 >= Duration::from_millis(500),
        "{}",
        plain.table()
    );
    // A hedge after 30 ms answers most of them in 40 ms.
    assert!(
        hedged.latency.p99.as_micros() * 5 < plain.latency.p99.as_micros(),
        "{}",
        hedged.table()
    );
    // The median call never waits for a hedge (the draws differ: hedges take some).
    assert!(hedged.latency.p50.as_micros() * 10 <= plain.latency.p50.as_micros() * 11);
    // One hedge at most per attempt, each counted as an attempt; the budget
    // (10 % of calls, 5 a second) bounds them further.
    assert!(hedged.hedges > 0 && hedged.hedge_wins <= hedged.hedges);
    assert_eq!(hedged.attempts, hedged.offered + hedged.hedges);
    assert!(
        hedged.hedges * 10 <= hedged.offered + 5 * 60 * 10,
        "{}",
        hedged.table()
    );
    assert!(hedged.succeeded >= plain.succeeded);

    // A budget of 1 % with no floor: at most 1 % of calls are hedged.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/heavy-tail-hedged.toml");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("ratio_permille = 100", "ratio_permille = 10")
        .replace("min_retries_per_sec = 5", "min_retries_per_sec = 0");
    let tight = run(&Scenario::from_toml(&text, "tight").unwrap()).unwrap();
    assert!(tight.hedges > 0, "{}", tight.table());
    assert!(
        tight.hedges * 100 <= tight.offered + 100,
        "{}",
        tight.table()
    );
    assert!(tight.latency.p99 > hedged.latency.p99);
    // Two hedges allowed, no budget: a slow attempt may get both.
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/heavy-tail-hedged.toml"),
    )
    .unwrap()
    .replace("max_hedges = 1\nbudget = \"hedges\"", "max_hedges = 2");
    let two = run(&Scenario::from_toml(&text, "two").unwrap()).unwrap();
    assert!(
        two.hedges > hedged.hedges && two.hedges <= 2 * two.offered,
        "{}",
        two.table()
    );
}

#[test]
fn hedging_a_dependency_slowed_by_its_load_feeds_on_itself_unless_a_budget_bounds_it() {
    let none = report("hedge-under-load-none");
    let wild = report("hedge-under-load-unbudgeted");
    let paid = report("hedge-under-load-budget");
    assert_eq!(none.hedges, 0);
    assert!(
        none.succeeded * 100 >= none.offered * 99,
        "{}",
        none.table()
    );
    // Every hedge slows every answer, which starts more hedges: several
    // times the offered load, and fewer calls served than with no hedging.
    assert!(wild.attempts > 3 * wild.offered, "{}", wild.table());
    assert!(wild.succeeded * 10 < none.succeeded * 7, "{}", wild.table());
    // The budget holds the extra load near its ratio and the calls served
    // near the unhedged run.
    assert!(
        paid.attempts * 100 <= paid.offered * 115,
        "{}",
        paid.table()
    );
    assert!(
        paid.succeeded * 100 >= none.succeeded * 98,
        "{}",
        paid.table()
    );
}
