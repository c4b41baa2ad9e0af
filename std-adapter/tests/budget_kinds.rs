//! The three retry budgets from the policy file, run by a `Policy`: a token
//! bucket and gRPC's retry throttling stop retries exactly when their tokens
//! say so, and answer why.

use steadfast::pipeline::Reason;
use steadfast::retry::{AnyBudgetConfig, GrpcThrottleConfig, TokenBucketConfig};
use steadfast_std::config::PolicySet;
use steadfast_std::registry::Registry;

/// Attempts each of `calls` always-failing calls made, and why each ended.
fn attempts(text: &str, calls: usize) -> Vec<(u32, Reason)> {
    let set = PolicySet::from_toml_with_env(text).unwrap();
    let registry = Registry::from_set(&set).unwrap();
    let policy = registry.policy("api").unwrap();
    (0..calls)
        .map(|_| {
            let mut n = 0;
            let e = policy
                .call_blocking(|| {
                    n += 1;
                    Err::<(), _>("down")
                })
                .unwrap_err();
            assert_eq!(e.attempts(), n);
            (n, e.reason())
        })
        .collect()
}

const POLICY: &str = r#"
[policies.api]
budget = "b"
max_attempts = 4
backoff = "constant"
base_delay = "1ms"
"#;

#[test]
fn grpc_throttling_retries_while_more_than_half_the_tokens_are_left() {
    let text = format!("[budgets.b]\nkind = \"grpc\"\nmax_tokens = 4\n{POLICY}");
    let set = PolicySet::from_toml_with_env(&text).unwrap();
    assert_eq!(
        set.budgets["b"],
        AnyBudgetConfig::Grpc(GrpcThrottleConfig::DEFAULT.with_max_tokens(4))
    );
    // 4 tokens, retries while above 2: the first failure leaves 3 (retried),
    // the second 2 (not); every later failure finds 2 or fewer.
    assert_eq!(
        attempts(&text, 3),
        [
            (2, Reason::BudgetExhausted),
            (1, Reason::BudgetExhausted),
            (1, Reason::BudgetExhausted)
        ]
    );
}

#[test]
fn a_token_bucket_pays_each_retry_until_it_is_empty() {
    let text =
        format!("[budgets.b]\nkind = \"token_bucket\"\ncapacity = 10\nretry_cost = 5\n{POLICY}");
    let set = PolicySet::from_toml_with_env(&text).unwrap();
    assert_eq!(
        set.budgets["b"],
        AnyBudgetConfig::TokenBucket(
            TokenBucketConfig::DEFAULT
                .with_capacity(10)
                .with_retry_cost(5)
        )
    );
    // 10 tokens, 5 a retry: two retries, then none.
    assert_eq!(
        attempts(&text, 2),
        [(3, Reason::BudgetExhausted), (1, Reason::BudgetExhausted)]
    );
}

#[test]
fn a_ratio_budget_is_still_the_default() {
    let text = format!("[budgets.b]\nratio_permille = 0\nmin_retries_per_sec = 0\n{POLICY}");
    assert_eq!(attempts(&text, 1), [(1, Reason::BudgetExhausted)]);
}

#[test]
fn keys_of_another_kind_are_refused_and_overrides_reach_every_kind() {
    let error = |text: &str| PolicySet::from_toml_with_env(text).unwrap_err().to_string();
    assert_eq!(
        error("[budgets.b]\nkind = \"grpc\"\nwindow = \"10s\"\n"),
        "budgets.b.window: only read by kind = \"ratio\""
    );
    assert_eq!(
        error("[budgets.b]\ncapacity = 10\n"),
        "budgets.b.capacity: only read by kind = \"token_bucket\""
    );
    assert_eq!(
        error("[budgets.b]\nkind = \"token_bucket\"\nmax_tokens = 10\n"),
        "budgets.b.max_tokens: only read by kind = \"grpc\""
    );
    assert!(
        error("[budgets.b]\nkind = \"grpc\"\nmax_tokens = 1001\n")
            .starts_with("budgets.b.max_tokens: must be between 1 and 1000")
    );
    let mut file = steadfast_std::config::PolicyFile::from_toml_str("[budgets.b]\n").unwrap();
    file.apply_env_vars([
        ("STEADFAST_BUDGETS_B_KIND", "grpc"),
        ("STEADFAST_BUDGETS_B_TOKEN_RATIO", "0.5"),
    ])
    .unwrap();
    assert_eq!(
        file.validate().unwrap().budgets["b"],
        AnyBudgetConfig::Grpc(GrpcThrottleConfig::DEFAULT.with_token_ratio_milli(500))
    );
}
