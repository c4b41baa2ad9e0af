//! `--json` and `--csv`: every per-bucket series, every breaker transition and
//! the totals, consistent with the run they describe.

use std::path::PathBuf;

use steadfast_sim::{Scenario, export, run};

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    Scenario::from_path(&path).unwrap()
}

#[test]
fn json_holds_totals_series_and_transitions() {
    let s = scenario("outage-and-recovery");
    let r = run(&s).unwrap();
    let text = export::json(&r);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["description"], s.description.as_str());
    assert_eq!(v["totals"]["offered"], r.offered);
    assert_eq!(v["totals"]["refused_breaker_open"], r.refusals.breaker_open);
    let series = v["series"].as_object().unwrap();
    for (name, column) in export::series_columns(&r.series) {
        let json: Vec<u64> = series[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect();
        assert_eq!(json, column, "{name}");
    }
    let transitions = v["transitions"].as_array().unwrap();
    assert_eq!(transitions.len(), r.transitions.len());
    assert_eq!(transitions[0]["from"], "closed");
    assert_eq!(transitions[0]["to"], "open");
    assert_eq!(
        v["faults"][0]["time_to_open_us"],
        r.faults[0].detect.unwrap().as_micros()
    );
    assert_eq!(
        text,
        export::json(&run(&s).unwrap()),
        "same seed, same bytes"
    );
}

#[test]
fn csv_has_one_row_per_bucket_and_per_transition() {
    let r = run(&scenario("bulkhead-burst")).unwrap();
    let files = export::csv(&r);
    let (_, series) = &files[0];
    let mut lines = series.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header.len(), export::series_columns(&r.series).len() + 1);
    assert_eq!(lines.count(), r.series.len());
    let queue_full = header
        .iter()
        .position(|&h| h == "refused_queue_full")
        .unwrap();
    let sum: u64 = series
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(queue_full)
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum, r.refusals.queue_full);
    let (_, transitions) = &files[1];
    assert_eq!(transitions.lines().count(), r.transitions.len() + 1);
    let (_, totals) = &files[2];
    assert!(totals.contains(&format!("refused_queue_full,{}\n", r.refusals.queue_full)));
    assert!(totals.contains("refused_rate_limit,0\n"));
}

#[test]
fn a_transition_serializes_as_its_two_states_and_its_instant() {
    use steadfast::breaker::{State, Transition};
    use steadfast::time::Instant;
    let (from, to, at) = (
        State::HalfOpen {
            probes_in_flight: 2,
            successes: 1,
            deadline: Some(Instant::from_secs(64)),
        },
        State::Open {
            until: Instant::from_secs(94),
        },
        Instant::from_secs(64),
    );
    let t = Transition::new(from, to, at);
    let value = serde_json::to_value(t).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "from": serde_json::to_value(from).unwrap(),
            "to": serde_json::to_value(to).unwrap(),
            "at": serde_json::to_value(at).unwrap(),
        })
    );
    assert_eq!(serde_json::from_value::<Transition>(value).unwrap(), t);
}
