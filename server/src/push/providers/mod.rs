//! Clients of the push providers (APNs, FCM, Huawei, Honor, Xiaomi, OPPO, vivo).
//!
//! [`Providers`] holds one configured client per provider (each its own
//! `reqwest::Client`: rustls, connect timeout 5 s, request timeout 10 s, both
//! settings) and sends one [`PushRequest`] to one device, answering an
//! [`Outcome`] the dispatcher acts on: delivered, retry later (with the
//! provider's `Retry-After` when it gives one), give up, or forget the token.
//!
//! What leaves this server is neutral: a fixed title and body, the message id
//! the app fetches from its authenticated inbox and the delivery id it may
//! dedupe on. Device tokens are personal data: they appear in no log, no
//! error, no [`Outcome`] reason and no `Debug` output (masked to 4 characters).
//!
//! Each provider's module cites the documentation its request shapes, auth and
//! result codes follow; codes the documentation available to us did not
//! confirm are marked *unconfirmed* there.
//!
//! Credentials are obtained and cached per provider: APNs signs an ES256 JWT
//! it reuses for a configurable 20-60 minutes, FCM exchanges an RS256
//! service-account assertion for an OAuth access token, Huawei and Honor use
//! OAuth client credentials, OPPO and vivo sign a timestamp for an auth token,
//! Xiaomi sends its app secret. Time comes from an injectable [`Clock`], so the
//! renewals can be tested without waiting.

mod apns;
mod fcm;
mod honor;
mod huawei;
mod oauth;
mod oppo;
mod util;
mod vivo;
mod xiaomi;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

/// Milliseconds since the Unix epoch, now. [`system_clock`] in production;
/// tests inject one they can move forward.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system's clock as a [`Clock`].
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

/// The push providers this server can send through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Apns,
    Fcm,
    Huawei,
    Honor,
    Xiaomi,
    Oppo,
    Vivo,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 7] = [
        ProviderKind::Apns,
        ProviderKind::Fcm,
        ProviderKind::Huawei,
        ProviderKind::Honor,
        ProviderKind::Xiaomi,
        ProviderKind::Oppo,
        ProviderKind::Vivo,
    ];

    /// `"apns"`, `"fcm"`, `"huawei"`, `"honor"`, `"xiaomi"`, `"oppo"`, `"vivo"`
    /// (also the names of the `[push.*]` configuration tables).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Apns => "apns",
            ProviderKind::Fcm => "fcm",
            ProviderKind::Huawei => "huawei",
            ProviderKind::Honor => "honor",
            ProviderKind::Xiaomi => "xiaomi",
            ProviderKind::Oppo => "oppo",
            ProviderKind::Vivo => "vivo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a push is about. Every push has one: a send without a category is
/// refused, since vendors silently cap unclassified messages. Each vendor
/// puts it in its own field:
///
/// | category | Huawei `android.category` | Honor `android.notification.importance` | Xiaomi `extra.channel_id` | OPPO `category` / `notify_level` / `channel_id` | vivo `classification` / `category` | APNs `interruption-level` | FCM `android.notification.channel_id` |
/// |---|---|---|---|---|---|---|---|
/// | `service` | `SUBSCRIPTION` | `NORMAL` | `channel_ids.service` (private) | `SUBSCRIPTION` / 2 / `channel_ids.service` | 1 (system) / `SUBSCRIPTION` | `active` | `channel_ids.service` (default `service`) |
/// | `reminder` | `WORK` | `NORMAL` | `channel_ids.reminder` (private) | `TODO` / 2 / `channel_ids.reminder` | 1 / `TODO` | `active` | `channel_ids.reminder` (default `reminder`) |
/// | `application_status` | `EXPRESS` | `NORMAL` | `channel_ids.application_status` (private) | `ORDER` / 2 / `channel_ids.application_status` | 1 / `ORDER` | `active` | `channel_ids.application_status` (default `application_status`) |
/// | `security` | `ACCOUNT` | `NORMAL` | `channel_ids.security` (private) | `ACCOUNT` / 2 / `channel_ids.security` | 1 / `ACCOUNT` | `time-sensitive` | `channel_ids.security` (default `security`) |
/// | `campaign` | `MARKETING` | `LOW` | `channel_ids.campaign` (public) | `MARKETING` / 1 / `channel_ids.campaign` | 0 (operational) / `MARKETING` | `passive` | `channel_ids.campaign` (default `campaign`) |
///
/// Huawei's, OPPO's and vivo's category names can be overridden per category
/// (`categories.<name>` in their `[push.*]` table) to match what the vendor
/// approved for the app. Xiaomi and OPPO channel ids are registered with the
/// vendor and must be configured for the four service categories (a start
/// without them is refused); a campaign without a configured channel is
/// refused at send. Huawei's `category` needs the vendor's self-classification
/// approval; `time-sensitive` needs the app's Time Sensitive Notifications
/// entitlement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    Service,
    Reminder,
    ApplicationStatus,
    Security,
    Campaign,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Service,
        Category::Reminder,
        Category::ApplicationStatus,
        Category::Security,
        Category::Campaign,
    ];

    /// `"service"`, `"reminder"`, `"application_status"`, `"security"`, `"campaign"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Service => "service",
            Category::Reminder => "reminder",
            Category::ApplicationStatus => "application_status",
            Category::Security => "security",
            Category::Campaign => "campaign",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Transactional (government service) rather than operational.
    pub fn is_service(self) -> bool {
        self != Category::Campaign
    }
}

/// How urgently the provider should deliver (APNs `apns-priority` 10/5, FCM
/// `android.priority` HIGH/NORMAL; the Chinese vendors derive urgency from the
/// category instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    High,
    Normal,
}

/// Which APNs server a device token belongs to (development builds of the app
/// register with the sandbox).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApnsEnvironment {
    Sandbox,
    Production,
}

/// One push to one device. Carries no personal data: a neutral title/body and
/// the message id the app fetches from its inbox.
#[derive(Clone)]
pub struct PushRequest {
    /// Stable across retries of the same delivery; used as the provider's
    /// dedupe or tracking id where it has one (APNs `apns-id` as a UUID derived
    /// from it, OPPO `app_message_id`, vivo `requestId`, Xiaomi `extra.jobkey`
    /// derived from it, Huawei `bi_tag`, Honor `biTag`), and sent in the data
    /// payload as `delivery_id` so the app can dedupe too.
    pub delivery_id: String,
    /// Sent in the data payload as `message_id`.
    pub message_id: String,
    /// Device token / registration id: personal data, never logged or shown.
    pub token: String,
    /// APNs only: the token's environment (`None`: the configured default).
    pub apns_environment: Option<ApnsEnvironment>,
    /// APNs topic (bundle id) or Android package name.
    pub app_id: String,
    pub category: Category,
    pub priority: Priority,
    pub ttl_secs: u32,
    pub collapse_key: Option<String>,
    /// Neutral, e.g. "您有一条新的政务消息".
    pub title: String,
    pub body: String,
}

impl fmt::Debug for PushRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushRequest")
            .field("delivery_id", &self.delivery_id)
            .field("message_id", &self.message_id)
            .field("token", &util::Masked(&self.token))
            .field("apns_environment", &self.apns_environment)
            .field("app_id", &self.app_id)
            .field("category", &self.category)
            .field("priority", &self.priority)
            .field("ttl_secs", &self.ttl_secs)
            .field("collapse_key", &self.collapse_key)
            .field("title", &util::Chars(&self.title))
            .field("body", &util::Chars(&self.body))
            .finish()
    }
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The provider accepted the push (2xx / the vendor's success code).
    Delivered,
    /// Try again later: 429, 5xx, timeouts, connection errors, vendor flow
    /// control and quota codes, an auth token still refused after one refresh.
    /// `after` is the provider's `Retry-After` when it gave one.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Do not retry: bad payload, bad request, payload too large, wrong
    /// credentials, provider not configured.
    Permanent { reason: String },
    /// The token is no longer valid: delete it (for APNs 410 only if
    /// `unregistered_at_ms` is newer than the token's registration).
    DeadToken {
        unregistered_at_ms: Option<i64>,
        reason: String,
    },
}

impl Outcome {
    fn retry(reason: impl Into<String>) -> Self {
        Outcome::Retry {
            after: None,
            reason: reason.into(),
        }
    }

    fn permanent(reason: impl Into<String>) -> Self {
        Outcome::Permanent {
            reason: reason.into(),
        }
    }

    fn dead(reason: impl Into<String>) -> Self {
        Outcome::DeadToken {
            unregistered_at_ms: None,
            reason: reason.into(),
        }
    }
}

/// A setting of the push configuration that cannot work. The message names
/// the setting, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("push.{setting}: {problem}")]
pub struct ProviderError {
    /// e.g. `apns.private_key_pem`
    pub setting: String,
    pub problem: String,
}

impl ProviderError {
    fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.into(),
        }
    }
}

/// A value per [`Category`] (channel ids, category names), as the TOML table
/// `{ service = "...", reminder = "...", application_status = "...",
/// security = "...", campaign = "..." }`, each optional.
#[derive(Clone, Default, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PerCategory {
    pub service: Option<String>,
    pub reminder: Option<String>,
    pub application_status: Option<String>,
    pub security: Option<String>,
    pub campaign: Option<String>,
}

impl PerCategory {
    pub fn get(&self, category: Category) -> Option<&str> {
        match category {
            Category::Service => self.service.as_deref(),
            Category::Reminder => self.reminder.as_deref(),
            Category::ApplicationStatus => self.application_status.as_deref(),
            Category::Security => self.security.as_deref(),
            Category::Campaign => self.campaign.as_deref(),
        }
    }

    /// Every service category has a non-empty value; names the first that
    /// has none.
    fn require_service(&self, setting: &str) -> Result<(), ProviderError> {
        for category in Category::ALL.into_iter().filter(|c| c.is_service()) {
            if self.get(category).is_none_or(|v| v.trim().is_empty()) {
                return Err(ProviderError::new(
                    format!("{setting}.{}", category.as_str()),
                    "missing: each service category needs the channel registered with the vendor",
                ));
            }
        }
        Ok(())
    }
}

fn default_concurrency() -> usize {
    64
}
fn default_rate() -> u32 {
    5000
}
fn default_connect_timeout() -> u64 {
    5000
}
fn default_request_timeout() -> u64 {
    10_000
}

macro_rules! default_url {
    ($name:ident, $url:expr) => {
        fn $name() -> String {
            $url.to_owned()
        }
    };
}

default_url!(apns_production_url, "https://api.push.apple.com");
default_url!(apns_sandbox_url, "https://api.sandbox.push.apple.com");
default_url!(fcm_url, "https://fcm.googleapis.com");
default_url!(huawei_url, "https://push-api.cloud.huawei.com");
default_url!(
    huawei_token_url,
    "https://oauth-login.cloud.huawei.com/oauth2/v3/token"
);
default_url!(honor_url, "https://push-api.cloud.honor.com");
default_url!(
    honor_token_url,
    "https://iam.developer.honor.com/auth/token"
);
default_url!(xiaomi_url, "https://api.xmpush.xiaomi.com");
default_url!(oppo_url, "https://api.push.oppomobile.com");
default_url!(vivo_url, "https://api-push.vivo.com.cn");

fn default_jwt_renew() -> u64 {
    50 * 60
}
fn default_apns_environment() -> ApnsEnvironment {
    ApnsEnvironment::Production
}
fn default_oppo_token_refresh() -> u64 {
    23 * 3600
}
fn default_vivo_token_refresh() -> u64 {
    2 * 3600
}

/// `[push.apns]`: token-based (.p8) authentication.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApnsConfig {
    /// Production server (default `https://api.push.apple.com`).
    #[serde(default = "apns_production_url")]
    pub base_url: String,
    /// Sandbox server (default `https://api.sandbox.push.apple.com`).
    #[serde(default = "apns_sandbox_url")]
    pub sandbox_base_url: String,
    /// Environment of requests that do not say (default production).
    #[serde(default = "default_apns_environment")]
    pub default_environment: ApnsEnvironment,
    pub team_id: String,
    pub key_id: String,
    /// The .p8 file's content (PKCS#8 PEM of a P-256 key), or ...
    pub private_key_pem: Option<String>,
    /// ... the path of the .p8 file.
    pub private_key_path: Option<PathBuf>,
    /// Age after which the provider JWT is renewed, 1200-3600 s (default 3000):
    /// APNs refuses tokens older than an hour and updates more often than
    /// every 20 minutes.
    #[serde(default = "default_jwt_renew")]
    pub jwt_renew_after_secs: u64,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

/// `[push.fcm]`: HTTP v1 API with a service account.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FcmConfig {
    /// Default `https://fcm.googleapis.com`.
    #[serde(default = "fcm_url")]
    pub base_url: String,
    pub project_id: String,
    /// The service account JSON key file's content, or ...
    pub service_account_json: Option<String>,
    /// ... its path.
    pub service_account_path: Option<PathBuf>,
    /// Overrides the service account's `token_uri`.
    pub token_url: Option<String>,
    /// Android notification channel per category (default: the category's name).
    #[serde(default)]
    pub channel_ids: PerCategory,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

/// `[push.huawei]`: Push Kit server API v1 with OAuth client credentials.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HuaweiConfig {
    /// Default `https://push-api.cloud.huawei.com`.
    #[serde(default = "huawei_url")]
    pub base_url: String,
    /// Default `https://oauth-login.cloud.huawei.com/oauth2/v3/token`.
    #[serde(default = "huawei_token_url")]
    pub token_url: String,
    /// OAuth 2.0 client id; also the `[clientid]` of the v1 send URL.
    pub client_id: String,
    pub client_secret: String,
    /// Overrides of the `android.category` values (see [`Category`]).
    #[serde(default)]
    pub categories: PerCategory,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

/// `[push.honor]`: Honor push server API with OAuth client credentials.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HonorConfig {
    /// Default `https://push-api.cloud.honor.com`.
    #[serde(default = "honor_url")]
    pub base_url: String,
    /// Default `https://iam.developer.honor.com/auth/token`.
    #[serde(default = "honor_token_url")]
    pub token_url: String,
    /// The app id of the send URL.
    pub app_id: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

/// `[push.xiaomi]`: `Authorization: key=<AppSecret>`, form bodies.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct XiaomiConfig {
    /// Default `https://api.xmpush.xiaomi.com`.
    #[serde(default = "xiaomi_url")]
    pub base_url: String,
    pub app_secret: String,
    /// Channel ids registered with Xiaomi: private-message channels for the
    /// service categories (required), a public one for campaigns.
    pub channel_ids: PerCategory,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

/// `[push.oppo]`: sha256(app_key + timestamp + master_secret) → auth_token.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OppoConfig {
    /// Default `https://api.push.oppomobile.com` (mainland devices).
    #[serde(default = "oppo_url")]
    pub base_url: String,
    pub app_key: String,
    pub master_secret: String,
    /// Channel ids registered with OPPO (required for the service categories).
    pub channel_ids: PerCategory,
    /// Overrides of the `category` values (see [`Category`]).
    #[serde(default)]
    pub categories: PerCategory,
    /// Age after which the auth token (valid 24 h) is renewed (default 23 h).
    #[serde(default = "default_oppo_token_refresh")]
    pub token_refresh_secs: u64,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

/// `[push.vivo]`: md5(appId + appKey + timestamp + appSecret) → authToken.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VivoConfig {
    /// Default `https://api-push.vivo.com.cn`.
    #[serde(default = "vivo_url")]
    pub base_url: String,
    /// Numeric app id.
    pub app_id: String,
    pub app_key: String,
    pub app_secret: String,
    /// Overrides of the `category` values (see [`Category`]).
    #[serde(default)]
    pub categories: PerCategory,
    /// Age after which the auth token (valid 1 day) is renewed (default 2 h:
    /// vivo asks callers to renew every 1-2 hours).
    #[serde(default = "default_vivo_token_refresh")]
    pub token_refresh_secs: u64,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

/// Configuration, deserialised from the `[push]` table of the server's TOML
/// file: `[push.apns]`, `[push.fcm]`, ... each optional.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProvidersConfig {
    pub apns: Option<ApnsConfig>,
    pub fcm: Option<FcmConfig>,
    pub huawei: Option<HuaweiConfig>,
    pub honor: Option<HonorConfig>,
    pub xiaomi: Option<XiaomiConfig>,
    pub oppo: Option<OppoConfig>,
    pub vivo: Option<VivoConfig>,
}

const HIDDEN: &str = "***";

fn hidden(value: &Option<impl Sized>) -> Option<&'static str> {
    value.as_ref().map(|_| HIDDEN)
}

impl fmt::Debug for ApnsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsConfig")
            .field("base_url", &self.base_url)
            .field("sandbox_base_url", &self.sandbox_base_url)
            .field("default_environment", &self.default_environment)
            .field("team_id", &self.team_id)
            .field("key_id", &self.key_id)
            .field("private_key_pem", &hidden(&self.private_key_pem))
            .field("private_key_path", &self.private_key_path)
            .field("jwt_renew_after_secs", &self.jwt_renew_after_secs)
            .field("concurrency", &self.concurrency)
            .field("rate_per_second", &self.rate_per_second)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

impl fmt::Debug for FcmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmConfig")
            .field("base_url", &self.base_url)
            .field("project_id", &self.project_id)
            .field("service_account_json", &hidden(&self.service_account_json))
            .field("service_account_path", &self.service_account_path)
            .field("token_url", &self.token_url)
            .field("channel_ids", &self.channel_ids)
            .field("concurrency", &self.concurrency)
            .field("rate_per_second", &self.rate_per_second)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

impl fmt::Debug for HuaweiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HuaweiConfig")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &HIDDEN)
            .field("categories", &self.categories)
            .field("concurrency", &self.concurrency)
            .field("rate_per_second", &self.rate_per_second)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

impl fmt::Debug for HonorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HonorConfig")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &HIDDEN)
            .field("concurrency", &self.concurrency)
            .field("rate_per_second", &self.rate_per_second)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

impl fmt::Debug for XiaomiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XiaomiConfig")
            .field("base_url", &self.base_url)
            .field("app_secret", &HIDDEN)
            .field("channel_ids", &self.channel_ids)
            .field("concurrency", &self.concurrency)
            .field("rate_per_second", &self.rate_per_second)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

impl fmt::Debug for OppoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OppoConfig")
            .field("base_url", &self.base_url)
            .field("app_key", &self.app_key)
            .field("master_secret", &HIDDEN)
            .field("channel_ids", &self.channel_ids)
            .field("categories", &self.categories)
            .field("token_refresh_secs", &self.token_refresh_secs)
            .field("concurrency", &self.concurrency)
            .field("rate_per_second", &self.rate_per_second)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

impl fmt::Debug for VivoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VivoConfig")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .field("app_key", &HIDDEN)
            .field("app_secret", &HIDDEN)
            .field("categories", &self.categories)
            .field("token_refresh_secs", &self.token_refresh_secs)
            .field("concurrency", &self.concurrency)
            .field("rate_per_second", &self.rate_per_second)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

impl fmt::Debug for ProvidersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvidersConfig")
            .field("apns", &self.apns)
            .field("fcm", &self.fcm)
            .field("huawei", &self.huawei)
            .field("honor", &self.honor)
            .field("xiaomi", &self.xiaomi)
            .field("oppo", &self.oppo)
            .field("vivo", &self.vivo)
            .finish()
    }
}

/// Settings every provider has.
#[derive(Clone, Copy, Debug)]
struct Common {
    concurrency: usize,
    rate_per_second: u32,
    connect_timeout_ms: u64,
    request_timeout_ms: u64,
}

impl Common {
    fn check(self, provider: &str) -> Result<Self, ProviderError> {
        if self.concurrency == 0 {
            return Err(ProviderError::new(
                format!("{provider}.concurrency"),
                "must be at least 1",
            ));
        }
        if self.rate_per_second == 0 {
            return Err(ProviderError::new(
                format!("{provider}.rate_per_second"),
                "must be at least 1",
            ));
        }
        if self.connect_timeout_ms == 0 || self.request_timeout_ms == 0 {
            return Err(ProviderError::new(
                format!("{provider}.request_timeout_ms"),
                "timeouts must be at least 1 ms",
            ));
        }
        Ok(self)
    }
}

macro_rules! common {
    ($cfg:expr, $name:expr) => {
        Common {
            concurrency: $cfg.concurrency,
            rate_per_second: $cfg.rate_per_second,
            connect_timeout_ms: $cfg.connect_timeout_ms,
            request_timeout_ms: $cfg.request_timeout_ms,
        }
        .check($name)?
    };
}

/// The configured provider clients. Cheap to share behind an `Arc`; `send`
/// may be called concurrently (tokens are fetched once for all callers).
pub struct Providers {
    apns: Option<(apns::Apns, Common)>,
    fcm: Option<(fcm::Fcm, Common)>,
    huawei: Option<(huawei::Huawei, Common)>,
    honor: Option<(honor::Honor, Common)>,
    xiaomi: Option<(xiaomi::Xiaomi, Common)>,
    oppo: Option<(oppo::Oppo, Common)>,
    vivo: Option<(vivo::Vivo, Common)>,
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Providers")
            .field("configured", &self.configured())
            .finish_non_exhaustive()
    }
}

impl Providers {
    /// Builds the configured clients with the system clock. Keys and service
    /// accounts are parsed here, so a bad one stops the start with an error
    /// naming the setting (never its value).
    pub fn new(config: &ProvidersConfig) -> Result<Self, ProviderError> {
        Self::with_clock(config, system_clock())
    }

    /// [`Providers::new`] with another clock (tests move it forward to see
    /// tokens renewed).
    pub fn with_clock(config: &ProvidersConfig, clock: Clock) -> Result<Self, ProviderError> {
        Ok(Self {
            apns: match &config.apns {
                Some(c) => {
                    let common = common!(c, "apns");
                    Some((apns::Apns::new(c, common, clock.clone())?, common))
                }
                None => None,
            },
            fcm: match &config.fcm {
                Some(c) => {
                    let common = common!(c, "fcm");
                    Some((fcm::Fcm::new(c, common, clock.clone())?, common))
                }
                None => None,
            },
            huawei: match &config.huawei {
                Some(c) => {
                    let common = common!(c, "huawei");
                    Some((huawei::Huawei::new(c, common, clock.clone())?, common))
                }
                None => None,
            },
            honor: match &config.honor {
                Some(c) => {
                    let common = common!(c, "honor");
                    Some((honor::Honor::new(c, common, clock.clone())?, common))
                }
                None => None,
            },
            xiaomi: match &config.xiaomi {
                Some(c) => {
                    let common = common!(c, "xiaomi");
                    Some((xiaomi::Xiaomi::new(c, common, clock.clone())?, common))
                }
                None => None,
            },
            oppo: match &config.oppo {
                Some(c) => {
                    let common = common!(c, "oppo");
                    Some((oppo::Oppo::new(c, common, clock.clone())?, common))
                }
                None => None,
            },
            vivo: match &config.vivo {
                Some(c) => {
                    let common = common!(c, "vivo");
                    Some((vivo::Vivo::new(c, common, clock)?, common))
                }
                None => None,
            },
        })
    }

    /// The configured providers, in [`ProviderKind::ALL`] order.
    pub fn configured(&self) -> Vec<ProviderKind> {
        ProviderKind::ALL
            .into_iter()
            .filter(|&k| self.is_configured(k))
            .collect()
    }

    pub fn is_configured(&self, kind: ProviderKind) -> bool {
        self.common(kind).is_some()
    }

    fn common(&self, kind: ProviderKind) -> Option<Common> {
        match kind {
            ProviderKind::Apns => self.apns.as_ref().map(|p| p.1),
            ProviderKind::Fcm => self.fcm.as_ref().map(|p| p.1),
            ProviderKind::Huawei => self.huawei.as_ref().map(|p| p.1),
            ProviderKind::Honor => self.honor.as_ref().map(|p| p.1),
            ProviderKind::Xiaomi => self.xiaomi.as_ref().map(|p| p.1),
            ProviderKind::Oppo => self.oppo.as_ref().map(|p| p.1),
            ProviderKind::Vivo => self.vivo.as_ref().map(|p| p.1),
        }
    }

    /// Sends one push through `kind`. Never panics and never returns an error:
    /// every failure is an [`Outcome`] whose reason carries the provider's own
    /// code and no token.
    pub async fn send(&self, kind: ProviderKind, request: &PushRequest) -> Outcome {
        match kind {
            ProviderKind::Apns => match &self.apns {
                Some((p, _)) => p.send(request).await,
                None => not_configured(),
            },
            ProviderKind::Fcm => match &self.fcm {
                Some((p, _)) => p.send(request).await,
                None => not_configured(),
            },
            ProviderKind::Huawei => match &self.huawei {
                Some((p, _)) => p.send(request).await,
                None => not_configured(),
            },
            ProviderKind::Honor => match &self.honor {
                Some((p, _)) => p.send(request).await,
                None => not_configured(),
            },
            ProviderKind::Xiaomi => match &self.xiaomi {
                Some((p, _)) => p.send(request).await,
                None => not_configured(),
            },
            ProviderKind::Oppo => match &self.oppo {
                Some((p, _)) => p.send(request).await,
                None => not_configured(),
            },
            ProviderKind::Vivo => match &self.vivo {
                Some((p, _)) => p.send(request).await,
                None => not_configured(),
            },
        }
    }

    /// `(concurrency, rate per second)` configured for `kind` (`(0, 0)` when
    /// it is not configured).
    pub fn limits(&self, kind: ProviderKind) -> (usize, u32) {
        self.common(kind)
            .map_or((0, 0), |c| (c.concurrency, c.rate_per_second))
    }
}

fn not_configured() -> Outcome {
    Outcome::permanent("provider not configured")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
        }
        for category in Category::ALL {
            assert_eq!(Category::parse(category.as_str()), Some(category));
        }
        assert_eq!(ProviderKind::parse("gcm"), None);
        assert_eq!(Category::parse("Service"), None);
    }

    #[test]
    fn debug_masks_token_and_text() {
        let request = PushRequest {
            delivery_id: "d-1".into(),
            message_id: "m-1".into(),
            token: "abcdef0123456789".into(),
            apns_environment: None,
            app_id: "cn.gov.yiwang".into(),
            category: Category::Service,
            priority: Priority::High,
            ttl_secs: 60,
            collapse_key: None,
            title: "您有一条新的政务消息".into(),
            body: "请在应用内查看".into(),
        };
        let text = format!("{request:?}");
        assert!(text.contains("\"abcd…\""), "{text}");
        assert!(!text.contains("abcdef"), "{text}");
        assert!(!text.contains("政务"), "{text}");
        assert!(text.contains("m-1"), "{text}");
    }

    #[test]
    fn unconfigured_provider_is_permanent() {
        let providers =
            Providers::new(&ProvidersConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(providers.configured().is_empty());
        assert_eq!(providers.limits(ProviderKind::Fcm), (0, 0));
    }
}
