//! Starts the example service on 127.0.0.1:0 and drives it over loopback with
//! plain HTTP/1.1 requests: a quote, an outage, the breaker opening, the stale
//! fallback, `/health` and `/metrics`, recovery.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The service process, killed when the test ends (even on a failed assert).
struct Service {
    child: Child,
    addr: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(env: &[(&str, &str)]) -> Service {
    let mut command = Command::new(env!("CARGO_BIN_EXE_service"));
    command
        .env("SERVICE_ADDR", "127.0.0.1:0")
        .env("SERVICE_ERROR_RATE", "0")
        .env("SERVICE_SEED", "7")
        .env("RUST_LOG", "warn")
        .env("SERVICE_CHECK_INTERVAL", "100ms")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("start the service");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the address");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    Service { child, addr }
}

struct Response {
    status: u16,
    headers: String,
    body: String,
}

fn request(addr: &str, method: &str, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a full response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    Response {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

#[test]
fn quotes_outage_breaker_health_metrics_recovery() {
    let service = start(&[]);
    let addr = service.addr.as_str();

    let health = request(addr, "GET", "/health");
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(
        health.body.starts_with(
            r#"{"status":"healthy","enabled":true,"circuit_breakers":{"quotes":"closed"}"#
        ),
        "{}",
        health.body
    );

    let quote = request(addr, "GET", "/quote?symbol=ACME");
    assert_eq!(quote.status, 200, "{}", quote.body);
    assert!(
        quote.body.contains(r#""symbol":"ACME""#) && quote.body.contains(r#""stale":false"#),
        "{}",
        quote.body
    );

    // The dependency goes down: retries, then the breaker opens and the
    // fallback serves the last quote, marked stale.
    assert_eq!(request(addr, "POST", "/chaos?outage=true").status, 200);
    let mut stale = None;
    for _ in 0..10 {
        let r = request(addr, "GET", "/quote?symbol=ACME");
        if r.body.contains(r#""stale":true"#) {
            stale = Some(r);
            break;
        }
        assert_eq!(r.status, 502, "{}", r.body);
    }
    let stale = stale.expect("the breaker opened and the fallback answered");
    assert_eq!(stale.status, 200);

    // Readiness: degraded, not unhealthy: the fallback serves, so the
    // instance stays in rotation. Liveness: alive.
    let health = request(addr, "GET", "/health/ready");
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(
        health.body.contains(r#""status":"degraded""#),
        "{}",
        health.body
    );
    assert!(
        health
            .body
            .contains(r#""circuit_breakers":{"quotes":"open"}"#),
        "{}",
        health.body
    );
    let same = request(addr, "GET", "/health");
    assert_eq!(same.status, 200, "{}", same.body);
    assert!(
        same.body.contains(r#""status":"degraded""#),
        "{}",
        same.body
    );
    let live = request(addr, "GET", "/health/live");
    assert_eq!(live.status, 200, "{}", live.body);
    assert!(live.body.contains(r#""status":"healthy""#), "{}", live.body);
    assert!(live.body.contains(r#""name":"runtime""#), "{}", live.body);
    assert!(!live.body.contains("quote-provider"), "{}", live.body);
    // The provider's check notices the outage within its interval.
    let failing = (0..50).find_map(|_| {
        let r = request(addr, "GET", "/health/ready");
        let found = r.body.contains(r#""name":"quote-provider""#)
            && r.body
                .contains(r#""state":"failing","reason":"quote provider is down""#);
        if !found {
            std::thread::sleep(Duration::from_millis(50));
        }
        found.then_some(r)
    });
    let failing = failing.expect("the quote-provider check fails during the outage");
    assert_eq!(failing.status, 200, "{}", failing.body);
    // The recovery hook reset the provider's pool once, when the breaker opened.
    let state = request(addr, "POST", "/chaos");
    assert!(state.body.contains(r#""pool_resets":1"#), "{}", state.body);
    assert!(health.body.contains(r#""state_code":2"#), "{}", health.body);
    assert!(health.body.contains(r#""retry_in_ms":"#), "{}", health.body);
    assert!(health.body.contains(r#""opens":1"#), "{}", health.body);

    let metrics = request(addr, "GET", "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers.contains("content-type: text/plain"),
        "{}",
        metrics.headers
    );
    for line in [
        r#"circuit_breaker_state{name="quotes"} 2"#,
        r#"circuit_breaker_opened_total{name="quotes"} 1"#,
        "# TYPE retry_attempts_total counter",
        r#"retry_attempts_total{name="quotes"}"#,
        r#"fallback_invocations_total{name="quotes"}"#,
        r#"circuit_breaker_rejections_total{name="quotes"}"#,
    ] {
        assert!(
            metrics.body.contains(line),
            "missing {line:?} in\n{}",
            metrics.body
        );
    }

    // Recovery: the dependency comes back, an operator resets the breaker.
    assert_eq!(request(addr, "POST", "/chaos?outage=false").status, 200);
    let reset = request(addr, "POST", "/breakers/quotes/reset");
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert!(
        reset
            .body
            .contains(r#""circuit_breakers":{"quotes":"closed"}"#),
        "{}",
        reset.body
    );
    let quote = request(addr, "GET", "/quote?symbol=ACME");
    assert_eq!(quote.status, 200, "{}", quote.body);
    assert!(quote.body.contains(r#""stale":false"#), "{}", quote.body);
    let metrics = request(addr, "GET", "/metrics");
    assert!(
        metrics
            .body
            .contains(r#"circuit_breaker_state{name="quotes"} 0"#),
        "{}",
        metrics.body
    );

    assert_eq!(request(addr, "POST", "/breakers/nope/reset").status, 404);
}

#[test]
fn forced_open_and_timeouts() {
    // Attempts slower than the 500 ms attempt timeout; one attempt per call.
    let service = start(&[
        ("STEADFAST_QUOTES_MAX_ATTEMPTS", "1"),
        ("SERVICE_LATENCY", "700ms"),
    ]);
    let addr = service.addr.as_str();
    let r = request(addr, "GET", "/quote");
    assert_eq!(r.status, 504, "{}", r.body);
    let metrics = request(addr, "GET", "/metrics");
    assert!(
        metrics
            .body
            .contains(r#"timeout_errors_total{name="quotes"} 1"#),
        "{}",
        metrics.body
    );

    // Forced open with nothing cached: 503 from the rejection, no Retry-After
    // (a forced-open breaker has no retry time).
    let forced = request(addr, "POST", "/breakers/quotes/force_open");
    assert!(
        forced.body.contains(r#""quotes":"forced_open""#),
        "{}",
        forced.body
    );
    let r = request(addr, "GET", "/quote");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(!r.headers.contains("retry-after"), "{}", r.headers);
}

#[test]
fn global_switch_passes_calls_straight_through() {
    let service = start(&[
        ("STEADFAST_ENABLED", "false"),
        ("STEADFAST_QUOTES_FAILURE_THRESHOLD", "1"),
    ]);
    let addr = service.addr.as_str();
    assert_eq!(request(addr, "POST", "/chaos?outage=true").status, 200);
    for _ in 0..3 {
        // One attempt, no breaker: the dependency's own error every time.
        let r = request(addr, "GET", "/quote");
        assert_eq!(r.status, 502, "{}", r.body);
        assert!(r.body.contains("quote provider is down"), "{}", r.body);
    }
    let health = request(addr, "GET", "/health");
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(
        health.body.contains(r#""enabled":false"#),
        "{}",
        health.body
    );
    assert!(
        health.body.contains(r#""quotes":"disabled""#),
        "{}",
        health.body
    );
    // No retry ran: the series exists from start-up, at zero.
    let metrics = request(addr, "GET", "/metrics");
    let retries: Vec<&str> = metrics
        .body
        .lines()
        .filter(|l| l.starts_with("retry_attempts_total{"))
        .collect();
    assert!(
        !retries.is_empty() && retries.iter().all(|l| l.ends_with(" 0")),
        "{}",
        metrics.body
    );
}

#[test]
fn a_bad_override_stops_the_service_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_service"))
        .env("SERVICE_ADDR", "127.0.0.1:0")
        .env("STEADFAST_QUOTES_FAILURE_THRESHOLD", "0")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("breakers.quotes.failure_threshold: must be at least 1, got 0"),
        "{stderr}"
    );
}

#[test]
fn the_tower_route_opens_the_breaker_and_metrics_show_it() {
    let service = start(&[]);
    let addr = service.addr.as_str();
    let quote = request(addr, "GET", "/quote/tower?symbol=ACME");
    assert_eq!(quote.status, 200, "{}", quote.body);

    assert_eq!(request(addr, "POST", "/chaos?outage=true").status, 200);
    let mut refused = None;
    for _ in 0..10 {
        let r = request(addr, "GET", "/quote/tower?symbol=ACME");
        if r.status == 503 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 502, "{}", r.body);
    }
    let refused = refused.expect("the breaker opened on the tower path");
    assert!(refused.body.contains("circuit breaker"), "{}", refused.body);

    let metrics = request(addr, "GET", "/metrics");
    for line in [
        r#"circuit_breaker_state{name="quotes"} 2"#,
        r#"circuit_breaker_opened_total{name="quotes"} 1"#,
        r#"circuit_breaker_rejections_total{name="quotes"} 1"#,
    ] {
        assert!(
            metrics.body.contains(line),
            "missing {line:?} in\n{}",
            metrics.body
        );
    }
}
