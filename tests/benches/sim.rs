//! One million simulated calls: the outage scenario at 10 000 calls/s for
//! 100 s (breaker, retries with backoff and jitter, a retry budget, a 30 s
//! outage with slow recovery), and a bulkhead variant with queueing.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use steadfast_sim::{Scenario, run};

const OUTAGE: &str = r#"
seed = 42
duration = "100s"
bucket = "1s"
[load]
rate = 10000
[dependency]
error_rate = 0.01
latency_median = "20ms"
latency_p99 = "150ms"
outages = [{ start = "30s", end = "60s", recovery = "15s" }]
[policy]
default_timeout = "1s"
[policy.breakers.api]
detector = "count"
window = 100
minimum_calls = 20
break_duration = "5s"
[policy.budgets.api]
ratio_permille = 100
[policy.policies.api]
breaker = "api"
budget = "api"
base_delay = "50ms"
max_delay = "1s"
"#;

const BULKHEAD: &str = r#"
seed = 7
duration = "100s"
bucket = "1s"
[load]
rate = 10000
bursts = [{ start = "40s", end = "45s", rate = 30000 }]
[dependency]
error_rate = 0.02
latency_median = "10ms"
latency_p99 = "80ms"
capacity = 200
[policy.bulkheads.api]
max_concurrent = 150
max_queue = 32
max_wait = "50ms"
[policy.policies.api]
bulkhead = "api"
max_attempts = 2
attempt_timeout = "500ms"
"#;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim");
    group.sample_size(10);
    for (name, text) in [("outage_1m_calls", OUTAGE), ("bulkhead_1m_calls", BULKHEAD)] {
        let scenario = Scenario::from_toml(text, name).unwrap();
        let offered = run(&scenario).unwrap().offered;
        group.throughput(Throughput::Elements(offered));
        group.bench_function(name, |b| b.iter(|| run(&scenario).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
