//! Loading the settings in tests: the real `config/` with the given
//! variables standing in for the process environment.

#![allow(clippy::unwrap_used)]

use super::{ConfigError, Settings, config_dir};

pub(super) fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::load_from(&config_dir()?, &env)
}

/// Each variable alone, with its value, stops the load with an error
/// naming its key (`LINEBACKER__RETRY__CAP_MS` → `retry.cap_ms`).
pub(super) fn each_names_its_key(invalid: &[(&str, &str)]) {
    for (key, value) in invalid {
        let error = load(&[(key, value)]).unwrap_err().to_string();
        let named = key.trim_start_matches("LINEBACKER__").replace("__", ".").to_lowercase();
        assert!(error.contains(&named), "{key}: {error}");
    }
}
