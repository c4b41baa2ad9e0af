//! Policy files (TOML, YAML) and environment overrides from arbitrary bytes: never a
//! panic; every error names a key (or says why it cannot); and whatever `validate`
//! accepts, the shared machines accept too (validation is complete).
#![no_main]

use libfuzzer_sys::fuzz_target;
use steadfast::breaker::{Breaker, Consecutive, CountWindow};
use steadfast_std::config::{Detector, Format, PolicyFile, TimeStorage};
use steadfast_std::{SharedBudget, SharedBulkhead};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    // The file, then `VAR=value` lines after a NUL as environment overrides.
    let (file_text, env_text) = text.split_once('\0').unwrap_or((&text, ""));
    let format = if selector & 1 == 0 {
        Format::Toml
    } else {
        Format::Yaml
    };
    let mut file = match PolicyFile::from_str_as(file_text, format) {
        Ok(f) => f,
        Err(e) => {
            assert!(!e.message().is_empty());
            return;
        }
    };
    let vars: Vec<(String, String)> = env_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                format!("STEADFAST_{}", k.trim_start_matches("STEADFAST_")),
                v.to_owned(),
            )
        })
        .collect();
    if let Err(e) = file.apply_env_vars(vars) {
        assert!(!e.message().is_empty());
        assert!(!e.key().is_empty(), "an env error names the variable: {e}");
        return;
    }
    let set = match file.validate() {
        Ok(set) => set,
        Err(e) => {
            assert!(!e.message().is_empty());
            assert!(!e.key().is_empty(), "a validation error names the key: {e}");
            return;
        }
    };
    for (name, spec) in &set.breakers {
        let built = match spec.detector {
            Detector::Consecutive => Breaker::<Consecutive>::new(spec.config).map(drop),
            // The adapter's storage with the configured length, as the registry builds it.
            Detector::Count { window } => CountWindow::<128, 2>::with_len(usize::from(window))
                .and_then(|w| Breaker::with_window(spec.config, w))
                .map(drop),
            Detector::Time => Breaker::<TimeStorage>::new(spec.config).map(drop),
        };
        built.unwrap_or_else(|e| panic!("validated breaker {name} refused: {e}"));
    }
    for (name, config) in &set.bulkheads {
        SharedBulkhead::new(name.as_str(), *config)
            .unwrap_or_else(|e| panic!("validated bulkhead {name} refused: {e}"));
    }
    for (name, config) in &set.budgets {
        SharedBudget::of(*config)
            .unwrap_or_else(|e| panic!("validated budget {name} refused: {e}"));
    }
});
