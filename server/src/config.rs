//! Server configuration: defaults that work with no setup, overridden by
//! `YIWANG_`-prefixed environment variables and then by command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the server listens and keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `YIWANG_BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `YIWANG_DATA_DIR`, default `./data`: the SQLite file and the issuer keys.
    pub data_dir: PathBuf,
    /// `YIWANG_DATABASE_URL`, default `sqlite://<data_dir>/yiwang.db` (created on first start).
    pub database_url: Option<String>,
}

/// A configuration value that could not be read. Names the variable, never echoes secrets.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
        }
    }
}

impl Config {
    /// Defaults overridden by the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Defaults overridden by `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(bind) = lookup("YIWANG_BIND") {
            config.bind = bind.parse().map_err(|_| ConfigError {
                variable: "YIWANG_BIND",
                reason: "expected an address such as 127.0.0.1:8080".into(),
            })?;
        }
        if let Some(dir) = lookup("YIWANG_DATA_DIR").filter(|d| !d.is_empty()) {
            config.data_dir = PathBuf::from(dir);
        }
        config.database_url = lookup("YIWANG_DATABASE_URL").filter(|u| !u.is_empty());
        Ok(config)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("yiwang.db").display()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_setup() {
        let config = with(&[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.database_url(), "sqlite://data/yiwang.db");
    }

    #[test]
    fn environment_overrides() {
        let config = with(&[
            ("YIWANG_BIND", "0.0.0.0:9000"),
            ("YIWANG_DATA_DIR", "/var/lib/yiwang"),
        ])
        .unwrap();
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.database_url(), "sqlite:///var/lib/yiwang/yiwang.db");
        let config = with(&[("YIWANG_DATABASE_URL", "sqlite::memory:")]).unwrap();
        assert_eq!(config.database_url(), "sqlite::memory:");
    }

    #[test]
    fn bad_bind_names_the_variable() {
        let err = with(&[("YIWANG_BIND", "everywhere")]).unwrap_err();
        assert_eq!(err.variable, "YIWANG_BIND");
        assert!(err.to_string().contains("YIWANG_BIND"));
    }
}
