//! Server configuration, in layers: defaults that give a working server with
//! no setup, then a TOML file (`--config` or `YIWANG_CONFIG`), then
//! `YIWANG_`-prefixed environment variables, then command-line flags.
//! Secrets (`admin_token`, a password in `database_url`) are never printed:
//! [`Config::redacted`] is what the log and `yiwang config` show.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Everything an operator can set. Field names are the file's keys; the
/// environment variable is `YIWANG_` + the name in upper case.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// Listening address, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// The SQLite file (and nothing else) lives here; default `./data`.
    pub data_dir: PathBuf,
    /// Default `sqlite://<data_dir>/yiwang.db`, created on first start.
    pub database_url: Option<String>,
    /// The URL citizens' apps reach this server at: the `server` of
    /// scan-to-login QR codes and the `iss` of ID tokens. Default
    /// `http://<bind>`.
    pub public_url: Option<String>,
    /// Bearer token of the admin routes; without one they are disabled.
    pub admin_token: Option<String>,
    /// 64 hex characters (32 bytes): seals the private keys the server keeps
    /// in its database. Without it they are stored as plain PEM.
    pub key_encryption_key: Option<String>,
    /// Longest a request may take before it is answered 503 (YW-5030).
    pub request_timeout_secs: u64,
    /// Largest request body accepted (413 YW-4004 above).
    pub body_limit_bytes: usize,
    /// Per client address on the identity routes: the burst allowed…
    pub rate_limit_burst: u32,
    /// …and the sustained rate, requests per second.
    pub rate_limit_per_second: u32,
    /// Lifetime of a scan-to-login session.
    pub login_session_secs: i64,
    /// How long a creating call's answer is kept for its `Idempotency-Key`.
    pub idempotency_secs: i64,
    /// Push notifications: the `[push]` table and its provider tables.
    pub push: PushSettings,
    /// Add the demo service catalog's matters (those whose codes are not
    /// taken yet) at start. Default true; production sets it false.
    pub seed_demo_catalog: bool,
    /// Concurrent event-matching loops per process (PostgreSQL runs them
    /// in parallel; on SQLite they take turns writing).
    pub matcher_loops: u32,
    /// Unsubmitted drafts on the server are deleted this many days after
    /// their last save (a reminder goes out 3 days before).
    pub draft_ttl_days: u32,
}

/// The `[push]` table. Scalars can also be set as `YIWANG_PUSH_<NAME>`;
/// provider credentials (`[push.apns]`, `[push.fcm]`, …) only in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushSettings {
    /// Pushes of category `service` or `campaign` one citizen gets per
    /// rolling 24 hours; above it the message goes to the inbox only.
    pub daily_cap: u32,
    /// Whether this process dispatches the outbox (any number may).
    pub dispatch: bool,
    /// How long a dispatcher holds the rows it claimed.
    pub lease_secs: u64,
    /// Rows claimed at a time.
    pub batch_size: u32,
    /// Concurrent dispatch loops per process (one's database work overlaps
    /// another's sending).
    pub dispatch_loops: u32,
    /// How often an idle dispatcher looks for due rows.
    pub poll_ms: u64,
    /// The longest a push is retried, whatever its TTL.
    pub retry_max_age_secs: u64,
    pub providers: crate::push::providers::ProvidersConfig,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            daily_cap: 3,
            dispatch: true,
            lease_secs: 30,
            batch_size: 500,
            dispatch_loops: 2,
            poll_ms: 500,
            retry_max_age_secs: 86_400,
            providers: Default::default(),
        }
    }
}

impl PushSettings {
    /// Names of the providers with a `[push.<name>]` table.
    pub fn configured_providers(&self) -> Vec<&'static str> {
        let p = &self.providers;
        [
            ("apns", p.apns.is_some()),
            ("fcm", p.fcm.is_some()),
            ("huawei", p.huawei.is_some()),
            ("honor", p.honor.is_some()),
            ("xiaomi", p.xiaomi.is_some()),
            ("oppo", p.oppo.is_some()),
            ("vivo", p.vivo.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// The `[push]` table as the file has it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushFile {
    daily_cap: Option<u64>,
    dispatch: Option<bool>,
    lease_secs: Option<u64>,
    batch_size: Option<u64>,
    dispatch_loops: Option<u64>,
    poll_ms: Option<u64>,
    retry_max_age_secs: Option<u64>,
    apns: Option<crate::push::providers::ApnsConfig>,
    fcm: Option<crate::push::providers::FcmConfig>,
    huawei: Option<crate::push::providers::HuaweiConfig>,
    honor: Option<crate::push::providers::HonorConfig>,
    xiaomi: Option<crate::push::providers::XiaomiConfig>,
    oppo: Option<crate::push::providers::OppoConfig>,
    vivo: Option<crate::push::providers::VivoConfig>,
}

/// A configuration value that could not be read. Names the setting, never echoes its value.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {reason}")]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl ConfigError {
    fn new(variable: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            reason: reason.into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            public_url: None,
            admin_token: None,
            key_encryption_key: None,
            request_timeout_secs: 10,
            body_limit_bytes: 64 * 1024,
            rate_limit_burst: 20,
            rate_limit_per_second: 10,
            login_session_secs: 120,
            idempotency_secs: 86_400,
            push: PushSettings::default(),
            seed_demo_catalog: true,
            matcher_loops: 2,
            draft_ttl_days: 30,
        }
    }
}

/// The file's shape: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    admin_token: Option<String>,
    key_encryption_key: Option<String>,
    request_timeout_secs: Option<u64>,
    body_limit_bytes: Option<u64>,
    rate_limit_burst: Option<u64>,
    rate_limit_per_second: Option<u64>,
    login_session_secs: Option<u64>,
    idempotency_secs: Option<u64>,
    seed_demo_catalog: Option<bool>,
    matcher_loops: Option<u64>,
    draft_ttl_days: Option<u64>,
    push: Option<PushFile>,
}

/// A setting as it arrives from the file (already typed) or the environment (text).
enum Raw {
    Text(String),
    Number(u64),
}

impl Config {
    /// Defaults, then the file named by `YIWANG_CONFIG` (if any), then the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(None, |name| std::env::var(name).ok())
    }

    /// Defaults overridden by `lookup` alone (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::layered(None, &lookup)
    }

    /// Defaults, then the TOML file `file` (or the one `YIWANG_CONFIG` names),
    /// then `lookup` for `YIWANG_*` variables.
    pub fn load(
        file: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let named = lookup("YIWANG_CONFIG").filter(|p| !p.is_empty());
        let path = file.map(Path::to_path_buf).or(named.map(PathBuf::from));
        let parsed = match &path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::new("config file", format!("{}: {e}", path.display()))
                })?;
                Some(Self::parse_file(&text)?)
            }
            None => None,
        };
        Self::layered(parsed, &lookup)
    }

    fn parse_file(text: &str) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|e| {
            // toml's message quotes the offending line, which may hold a
            // secret: keep only its first line (what is wrong, and where).
            // serde's type errors quote the value: say only that it is wrong.
            let first = e.message().lines().next().unwrap_or("syntax error");
            let message = if first.starts_with("invalid type") || first.starts_with("invalid value")
            {
                "a setting has a value of the wrong type"
            } else {
                first
            };
            let at = e
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            ConfigError::new("config file", format!("{message}{at}"))
        })
    }

    fn layered(
        file: Option<FileConfig>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file = file.unwrap_or_default();
        let mut config = Self::default();
        // For each setting: the environment wins over the file.
        let pick = |name: &str, from_file: Option<Raw>| -> Option<(String, Raw)> {
            let variable = format!("YIWANG_{}", name.to_ascii_uppercase());
            match lookup(&variable).filter(|v| !v.is_empty()) {
                Some(value) => Some((variable, Raw::Text(value))),
                None => from_file.map(|raw| (name.to_owned(), raw)),
            }
        };
        let text = |v: Option<String>| v.map(Raw::Text);
        let number = |v: Option<u64>| v.map(Raw::Number);

        if let Some((source, raw)) = pick("bind", text(file.bind)) {
            config.bind = as_text(raw).parse().map_err(|_| {
                ConfigError::new(source, "expected an address such as 127.0.0.1:8080")
            })?;
        }
        if let Some((_, raw)) = pick("data_dir", text(file.data_dir)) {
            config.data_dir = PathBuf::from(as_text(raw));
        }
        config.database_url =
            pick("database_url", text(file.database_url)).map(|(_, r)| as_text(r));
        if let Some((source, raw)) = pick("public_url", text(file.public_url)) {
            let url = as_text(raw);
            let url = url.trim_end_matches('/').to_owned();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 200 {
                return Err(ConfigError::new(
                    source,
                    "expected an http(s) URL of at most 200 characters",
                ));
            }
            config.public_url = Some(url);
        }
        if let Some((source, raw)) = pick("admin_token", text(file.admin_token)) {
            let token = as_text(raw);
            if token.len() < 16 {
                return Err(ConfigError::new(source, "must be at least 16 characters"));
            }
            config.admin_token = Some(token);
        }
        if let Some((source, raw)) = pick("key_encryption_key", text(file.key_encryption_key)) {
            let key = as_text(raw);
            let key = key.trim();
            if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ConfigError::new(
                    source,
                    "must be 64 hex characters (32 bytes)",
                ));
            }
            config.key_encryption_key = Some(key.to_owned());
        }
        let numeric = |name: &str, from_file: Option<u64>, min: u64, max: u64| {
            pick(name, number(from_file))
                .map(|(source, raw)| {
                    let value = match raw {
                        Raw::Number(n) => Some(n),
                        Raw::Text(t) => t.trim().parse::<u64>().ok(),
                    };
                    value.filter(|n| (min..=max).contains(n)).ok_or_else(|| {
                        ConfigError::new(source, format!("expected a whole number {min}..={max}"))
                    })
                })
                .transpose()
        };
        if let Some(n) = numeric("request_timeout_secs", file.request_timeout_secs, 1, 3600)? {
            config.request_timeout_secs = n;
        }
        if let Some(n) = numeric("body_limit_bytes", file.body_limit_bytes, 1024, 64 << 20)? {
            config.body_limit_bytes = n as usize;
        }
        if let Some(n) = numeric("rate_limit_burst", file.rate_limit_burst, 1, 1_000_000)? {
            config.rate_limit_burst = n as u32;
        }
        if let Some(n) = numeric(
            "rate_limit_per_second",
            file.rate_limit_per_second,
            1,
            1_000_000,
        )? {
            config.rate_limit_per_second = n as u32;
        }
        if let Some(n) = numeric("login_session_secs", file.login_session_secs, 10, 3600)? {
            config.login_session_secs = n as i64;
        }
        if let Some(n) = numeric("idempotency_secs", file.idempotency_secs, 60, 7 * 86_400)? {
            config.idempotency_secs = n as i64;
        }
        let boolean = |name: &str, from_file: Option<bool>| {
            pick(name, from_file.map(|b| Raw::Text(b.to_string())))
                .map(|(source, raw)| match as_text(raw).as_str() {
                    "true" | "1" => Ok(true),
                    "false" | "0" => Ok(false),
                    _ => Err(ConfigError::new(source, "expected true or false")),
                })
                .transpose()
        };
        if let Some(b) = boolean("seed_demo_catalog", file.seed_demo_catalog)? {
            config.seed_demo_catalog = b;
        }
        if let Some(n) = numeric("matcher_loops", file.matcher_loops, 1, 16)? {
            config.matcher_loops = n as u32;
        }
        if let Some(n) = numeric("draft_ttl_days", file.draft_ttl_days, 4, 365)? {
            config.draft_ttl_days = n as u32;
        }
        let push = file.push.unwrap_or_default();
        let settings = &mut config.push;
        if let Some(n) = numeric("push_daily_cap", push.daily_cap, 0, 1000)? {
            settings.daily_cap = n as u32;
        }
        if let Some(b) = boolean("push_dispatch", push.dispatch)? {
            settings.dispatch = b;
        }
        if let Some(n) = numeric("push_lease_secs", push.lease_secs, 5, 3600)? {
            settings.lease_secs = n;
        }
        if let Some(n) = numeric("push_batch_size", push.batch_size, 1, 10_000)? {
            settings.batch_size = n as u32;
        }
        if let Some(n) = numeric("push_dispatch_loops", push.dispatch_loops, 1, 64)? {
            settings.dispatch_loops = n as u32;
        }
        if let Some(n) = numeric("push_poll_ms", push.poll_ms, 10, 60_000)? {
            settings.poll_ms = n;
        }
        if let Some(n) = numeric(
            "push_retry_max_age_secs",
            push.retry_max_age_secs,
            60,
            28 * 86_400,
        )? {
            settings.retry_max_age_secs = n;
        }
        settings.providers = crate::push::providers::ProvidersConfig {
            apns: push.apns,
            fcm: push.fcm,
            huawei: push.huawei,
            honor: push.honor,
            xiaomi: push.xiaomi,
            oppo: push.oppo,
            vivo: push.vivo,
        };
        Ok(config)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("yiwang.db").display()))
    }

    /// The public URL in force (without a trailing `/`).
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The configuration as TOML with the secrets replaced by `"<set>"`.
    pub fn redacted(&self) -> String {
        let database_url = redact_url_password(&self.database_url());
        let admin = if self.admin_token.is_some() {
            "\"<set>\""
        } else {
            "\"<not set: admin routes disabled>\""
        };
        let kek = if self.key_encryption_key.is_some() {
            "\"<set>\""
        } else {
            "\"<not set: private keys stored unencrypted>\""
        };
        format!(
            "bind = \"{}\"\ndata_dir = \"{}\"\ndatabase_url = \"{database_url}\"\npublic_url = \"{}\"\nadmin_token = {admin}\nkey_encryption_key = {kek}\n\
             request_timeout_secs = {}\nbody_limit_bytes = {}\nrate_limit_burst = {}\nrate_limit_per_second = {}\n\
             login_session_secs = {}\nidempotency_secs = {}\nseed_demo_catalog = {}\nmatcher_loops = {}\n\n[push]\ndaily_cap = {}\ndispatch = {}\nlease_secs = {}\n\
             batch_size = {}\ndispatch_loops = {}\npoll_ms = {}\nretry_max_age_secs = {}\n# providers configured (secrets not shown): {}\n",
            self.bind,
            self.data_dir.display(),
            self.public_url(),
            self.request_timeout_secs,
            self.body_limit_bytes,
            self.rate_limit_burst,
            self.rate_limit_per_second,
            self.login_session_secs,
            self.idempotency_secs,
            self.seed_demo_catalog,
            self.matcher_loops,
            self.push.daily_cap,
            self.push.dispatch,
            self.push.lease_secs,
            self.push.batch_size,
            self.push.dispatch_loops,
            self.push.poll_ms,
            self.push.retry_max_age_secs,
            self.push.configured_providers().join(", "),
        )
    }
}

/// Debug shows the redacted form: a `{:?}` in a log line cannot leak a secret.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn as_text(raw: Raw) -> String {
    match raw {
        Raw::Text(t) => t,
        Raw::Number(n) => n.to_string(),
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:<set>@host/db`.
fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split(':').next().unwrap_or_default();
    let redacted = if userinfo.contains(':') {
        format!("{user}:<set>")
    } else {
        user.to_owned()
    };
    // A password could also sit in the query (`?password=`): drop the query.
    let tail = tail.split('?').next().unwrap_or_default();
    format!("{scheme}://{redacted}@{host}{tail}")
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

    fn file_then(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("yiwang.toml");
        std::fs::write(&path, text).unwrap();
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(Some(&path), |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_setup() {
        let config = with(&[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.database_url(), "sqlite://data/yiwang.db");
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
        assert_eq!(config.request_timeout(), Duration::from_secs(10));
        assert!(config.admin_token.is_none());
    }

    #[test]
    fn environment_overrides() {
        let config = with(&[
            ("YIWANG_BIND", "0.0.0.0:9000"),
            ("YIWANG_DATA_DIR", "/var/lib/yiwang"),
            ("YIWANG_RATE_LIMIT_BURST", "5"),
        ])
        .unwrap();
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.database_url(), "sqlite:///var/lib/yiwang/yiwang.db");
        assert_eq!(config.rate_limit_burst, 5);
        let config = with(&[("YIWANG_DATABASE_URL", "sqlite::memory:")]).unwrap();
        assert_eq!(config.database_url(), "sqlite::memory:");
    }

    #[test]
    fn file_is_layered_under_the_environment() {
        let config = file_then(
            "bind = \"127.0.0.1:7000\"\nrequest_timeout_secs = 3\npublic_url = \"https://gov.example.cn/\"\n\
             admin_token = \"file-admin-token-123\"\nrate_limit_per_second = 50\n",
            &[("YIWANG_REQUEST_TIMEOUT_SECS", "7")],
        )
        .unwrap();
        assert_eq!(config.bind.port(), 7000);
        assert_eq!(config.request_timeout_secs, 7, "environment beats the file");
        assert_eq!(config.rate_limit_per_second, 50);
        assert_eq!(config.public_url(), "https://gov.example.cn");
        assert_eq!(config.admin_token.as_deref(), Some("file-admin-token-123"));
    }

    #[test]
    fn yiwang_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "login_session_secs = 60\n").unwrap();
        let path_text = path.display().to_string();
        let config = Config::load(None, |name| {
            (name == "YIWANG_CONFIG").then(|| path_text.clone())
        })
        .unwrap();
        assert_eq!(config.login_session_secs, 60);
    }

    #[test]
    fn bad_values_name_the_setting_not_the_value() {
        let err = with(&[("YIWANG_BIND", "everywhere")]).unwrap_err();
        assert_eq!(err.variable, "YIWANG_BIND");
        assert!(err.to_string().contains("YIWANG_BIND"));
        assert!(!err.to_string().contains("everywhere"));

        let err = with(&[("YIWANG_REQUEST_TIMEOUT_SECS", "0")]).unwrap_err();
        assert_eq!(err.variable, "YIWANG_REQUEST_TIMEOUT_SECS");
        let err = file_then("body_limit_bytes = 5\n", &[]).unwrap_err();
        assert_eq!(err.variable, "body_limit_bytes");

        let err = with(&[("YIWANG_ADMIN_TOKEN", "short")]).unwrap_err();
        assert!(!err.to_string().contains("short"));
    }

    #[test]
    fn file_errors_are_clear_and_do_not_echo_secrets() {
        let err = file_then("admin_tokn = \"s3cret-s3cret-s3cret\"\n", &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unknown field"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");

        let err = file_then("bind = [\"s3cret-s3cret\"\n", &[]).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");

        let err = file_then("request_timeout_secs = \"s3cret-value\"\n", &[]).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(err.to_string().contains("wrong type"), "{err}");

        let err = Config::load(Some(Path::new("/nonexistent/yiwang.toml")), |_| None).unwrap_err();
        assert_eq!(err.variable, "config file");
    }

    #[test]
    fn secrets_are_never_printed() {
        let config = with(&[
            ("YIWANG_ADMIN_TOKEN", "admin-secret-admin-secret"),
            (
                "YIWANG_DATABASE_URL",
                "postgres://yiwang:pg-secret@db.internal:5432/yiwang?password=pg-secret",
            ),
        ])
        .unwrap();
        for shown in [config.redacted(), format!("{config:?}")] {
            assert!(!shown.contains("admin-secret"), "{shown}");
            assert!(!shown.contains("pg-secret"), "{shown}");
            assert!(
                shown.contains("postgres://yiwang:<set>@db.internal:5432/yiwang"),
                "{shown}"
            );
            assert!(shown.contains("admin_token = \"<set>\""), "{shown}");
        }
    }
}
