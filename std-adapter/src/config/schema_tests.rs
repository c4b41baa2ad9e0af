//! `CONFIG_SCHEMA.md` checked against the code: every section's key list, and
//! for every row that its example is accepted, that its rejected value is
//! refused naming the key, and that writing its default changes nothing.

use std::collections::BTreeSet;

use super::*;

const SCHEMA: &str = include_str!("../../CONFIG_SCHEMA.md");

/// One table row of the reference.
#[derive(Debug)]
struct Row {
    section: Option<&'static str>,
    key: String,
    default: String,
    example: Vec<String>,
    rejected: Vec<String>,
    environment: String,
}

/// The text between backticks, in order.
fn spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn rows() -> Vec<Row> {
    let mut section = None;
    let mut seen_top = false;
    let mut rows = Vec::new();
    for line in SCHEMA.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = match heading {
                "Top level" => {
                    seen_top = true;
                    None
                }
                "[breakers.NAME]" => Some("breakers"),
                "[bulkheads.NAME]" => Some("bulkheads"),
                "[budgets.NAME]" => Some("budgets"),
                "[policies.NAME]" => Some("policies"),
                "[chaos.NAME]" => Some("chaos"),
                "[ratelimits.NAME]" => Some("ratelimits"),
                "[throttles.NAME]" => Some("throttles"),
                "[adaptive_limits.NAME]" => Some("adaptive_limits"),
                "[hedges.NAME]" => Some("hedges"),
                "[caches.NAME]" => Some("caches"),
                _ => None,
            };
            continue;
        }
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 7, "a row needs 7 cells: {line}");
        let key = spans(cells[0]);
        assert_eq!(key.len(), 1, "the key cell holds one key: {line}");
        rows.push(Row {
            section,
            key: key[0].clone(),
            default: cells[2].to_owned(),
            example: spans(cells[4]),
            rejected: spans(cells[5]),
            environment: cells[6].trim_matches('`').to_owned(),
        });
    }
    assert!(seen_top, "CONFIG_SCHEMA.md lacks its top-level section");
    rows
}

/// A file with `lines` under the entry `x` of the row's section (or at the top
/// level), beside entries `b` that policies may name.
fn file(section: Option<&str>, lines: &[String]) -> String {
    let mut text = String::new();
    if section.is_none() {
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str("[breakers.b]\n[bulkheads.b]\n[budgets.b]\n[ratelimits.b]\n[throttles.b]\n");
    if let Some(section) = section {
        text.push_str(&format!("[{section}.x]\n"));
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

fn validated(text: &str) -> Result<PolicySet, ConfigError> {
    PolicyFile::from_toml_str(text).and_then(|f| f.validate())
}

fn path(row: &Row) -> String {
    match row.section {
        Some(section) => format!("{section}.x.{}", row.key),
        None => row.key.clone(),
    }
}

#[test]
fn every_section_lists_exactly_the_keys_the_code_reads() {
    let rows = rows();
    let documented = |section: Option<&str>| -> BTreeSet<&str> {
        rows.iter()
            .filter(|r| r.section == section)
            .map(|r| r.key.as_str())
            .collect()
    };
    let code: [(Option<&str>, BTreeSet<&str>); 11] = [
        (None, ["enabled", "default_timeout", "seed"].into()),
        (Some("breakers"), BreakerEntry::KEYS.into()),
        (Some("bulkheads"), BulkheadEntry::KEYS.into()),
        (Some("budgets"), BudgetEntry::KEYS.into()),
        (Some("policies"), PolicyEntry::KEYS.into()),
        (Some("chaos"), ChaosEntry::KEYS.into()),
        (Some("ratelimits"), RateLimitEntry::KEYS.into()),
        (Some("throttles"), ThrottleEntry::KEYS.into()),
        (Some("adaptive_limits"), AdaptiveLimitEntry::KEYS.into()),
        (Some("hedges"), HedgeEntry::KEYS.into()),
        (Some("caches"), CacheEntry::KEYS.into()),
    ];
    for (section, keys) in code {
        assert_eq!(documented(section), keys, "section {section:?}");
    }
}

#[test]
fn every_example_is_accepted() {
    for row in rows() {
        assert!(!row.example.is_empty(), "{} has no example", path(&row));
        assert!(
            row.example
                .iter()
                .any(|l| l.starts_with(&format!("{} =", row.key))),
            "{}: the example sets another key",
            path(&row)
        );
        if let Err(e) = validated(&file(row.section, &row.example)) {
            panic!("{}: example {:?} refused: {e}", path(&row), row.example);
        }
    }
}

#[test]
fn every_rejected_value_is_refused_naming_its_key() {
    for row in rows() {
        assert!(
            !row.rejected.is_empty(),
            "{} has no rejected value",
            path(&row)
        );
        match validated(&file(row.section, &row.rejected)) {
            Ok(_) => panic!("{}: {:?} was accepted", path(&row), row.rejected),
            Err(e) => assert_eq!(e.key(), path(&row), "{:?}: {e}", row.rejected),
        }
    }
}

#[test]
fn writing_a_default_changes_nothing() {
    let mut checked = 0;
    for row in rows() {
        let default = spans(&row.default);
        // A default in words ("none", "the file's `default_timeout`") is not a value.
        if default.len() != 1 || row.default != format!("`{}`", default[0]) {
            continue;
        }
        let companions: Vec<String> = row
            .example
            .iter()
            .filter(|l| !l.starts_with(&format!("{} =", row.key)))
            .cloned()
            .collect();
        let mut explicit = companions.clone();
        explicit.push(format!("{} = {}", row.key, default[0]));
        let left_out = validated(&file(row.section, &companions)).expect("companions valid");
        let written = validated(&file(row.section, &explicit))
            .unwrap_or_else(|e| panic!("{}: default refused: {e}", path(&row)));
        assert_eq!(
            written,
            left_out,
            "{}: the documented default is not the default",
            path(&row)
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} defaults checked");
}

#[test]
fn every_key_names_its_environment_variable() {
    for row in rows() {
        let key = row.key.to_ascii_uppercase();
        let expected = match row.section {
            Some(section) => format!("STEADFAST_{}_<NAME>_{key}", section.to_ascii_uppercase()),
            None => format!("STEADFAST_{key}"),
        };
        assert_eq!(row.environment, expected, "{}", path(&row));
    }
}
