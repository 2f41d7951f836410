//! vivo push server API.
//!
//! Shapes from vivo's "推送服务端API接口文档" (v2.9.x, dev.vivo.com.cn,
//! server address `https://api-push.vivo.com.cn`):
//! - `POST /message/auth`, JSON `{appId (int), appKey, timestamp (ms, within
//!   ten minutes of vivo's clock), sign}` with `sign` = lower-case hex
//!   md5(appId + appKey + timestamp + appSecret), answering `{"result": 0,
//!   "desc", "authToken"}`; the token lives one day and vivo asks callers to
//!   renew it every 1-2 hours.
//! - `POST /message/send`, header `authToken`, JSON `{appId, regId,
//!   notifyType (1-4), title (≤ 40 units, a Chinese character counting 2),
//!   content (≤ 100 units), timeToLive (900 s to 7 days), skipType (1: open
//!   the app), networkType, classification (0 operational, 1 system),
//!   category, requestId (≤ 64 characters, the request's unique id),
//!   clientCustomMap, pushMode (0 formal)}`, answering `{"result": 0, "desc",
//!   "taskId"}`; `{"result": 10302, "desc": "regId不合法", "invalidUser"}` for a
//!   registration id that cannot be reached; 10070 total quota exceeded (do
//!   not call again that day), 10071 outside the sending hours, 10073 system
//!   messages quota exceeded; 10094 the appId does not match the auth token's.
//! - The result code for an expired or unknown auth token is *unconfirmed*:
//!   10000 is taken (refreshed once, then retried later).
//! - Classification (2023): `category` `IM`, `ACCOUNT`, `TODO`,
//!   `DEVICE_REMINDER`, `ORDER`, `SUBSCRIPTION` (system messages) and `NEWS`,
//!   `CONTENT`, `MARKETING`, `SOCIAL` (operational messages, sent 07:00-23:00
//!   only).

use md5::{Digest, Md5};

use super::oauth::{Cached, TokenCache};
use super::{
    Category, Clock, Common, Outcome, PerCategory, ProviderError, PushRequest, VivoConfig, util,
};

const MAX_TITLE_UNITS: usize = 40;
const MAX_CONTENT_UNITS: usize = 100;
const MIN_TTL: u32 = 900;
const MAX_TTL: u32 = 7 * 24 * 3600;

pub(super) struct Vivo {
    client: reqwest::Client,
    auth_url: String,
    send_url: String,
    app_id: u64,
    app_key: String,
    app_secret: String,
    categories: PerCategory,
    refresh_ms: i64,
    tokens: TokenCache,
    clock: Clock,
}

fn default_category(category: Category) -> &'static str {
    match category {
        Category::Service => "SUBSCRIPTION",
        Category::Reminder => "TODO",
        Category::ApplicationStatus => "ORDER",
        Category::Security => "ACCOUNT",
        Category::Campaign => "MARKETING",
    }
}

/// Lower-case hex md5(appId + appKey + timestamp + appSecret).
pub(super) fn sign(app_id: u64, app_key: &str, timestamp_ms: i64, app_secret: &str) -> String {
    hex::encode(Md5::digest(
        format!("{app_id}{app_key}{timestamp_ms}{app_secret}").as_bytes(),
    ))
}

/// vivo's length: a Chinese (non-ASCII) character counts as two.
fn units(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

impl Vivo {
    pub fn new(config: &VivoConfig, common: Common, clock: Clock) -> Result<Self, ProviderError> {
        let base = util::base_url("vivo.base_url", &config.base_url)?;
        let app_id = config
            .app_id
            .trim()
            .parse::<u64>()
            .map_err(|_| ProviderError::new("vivo.app_id", "expected the numeric app id"))?;
        if !(3600..=24 * 3600).contains(&config.token_refresh_secs) {
            return Err(ProviderError::new(
                "vivo.token_refresh_secs",
                "must be between 3600 and 86400 (the auth token lives one day)",
            ));
        }
        Ok(Self {
            client: util::client("vivo", common, false)?,
            auth_url: format!("{base}/message/auth"),
            send_url: format!("{base}/message/send"),
            app_id,
            app_key: util::required("vivo.app_key", &config.app_key)?,
            app_secret: util::required("vivo.app_secret", &config.app_secret)?,
            categories: config.categories.clone(),
            refresh_ms: i64::try_from(config.token_refresh_secs).unwrap_or(7200) * 1000,
            tokens: TokenCache::default(),
            clock,
        })
    }

    async fn auth_token(&self) -> Result<String, Outcome> {
        let now = (self.clock)();
        self.tokens
            .get(now, || async {
                let body = serde_json::json!({
                    "appId": self.app_id,
                    "appKey": self.app_key,
                    "timestamp": now,
                    "sign": sign(self.app_id, &self.app_key, now, &self.app_secret),
                });
                let response = self
                    .client
                    .post(&self.auth_url)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| util::transport_failure("vivo auth", &e))?;
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let bytes = util::body(response, util::BODY_LIMIT)
                    .await
                    .map_err(|e| util::transport_failure("vivo auth", &e))?;
                if status == 429 || (500..=599).contains(&status) {
                    return Err(util::retry_with(
                        &headers,
                        now,
                        format!("vivo auth {status}"),
                    ));
                }
                let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                let code = util::json_code(value.get("result"))
                    .map(|c| util::code(&c))
                    .unwrap_or_else(|| "-".to_owned());
                if code != "0" {
                    return Err(Outcome::permanent(format!("vivo auth {status} {code}")));
                }
                let token = value["authToken"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Outcome::retry("vivo auth answer without token"))?;
                Ok(Cached {
                    token: token.to_owned(),
                    renew_at_ms: now + self.refresh_ms,
                })
            })
            .await
    }

    pub async fn send(&self, request: &PushRequest) -> Outcome {
        if units(&request.title) > MAX_TITLE_UNITS || units(&request.body) > MAX_CONTENT_UNITS {
            return Outcome::permanent("vivo title over 40 or content over 100 units");
        }
        if request.delivery_id.chars().count() > 64 {
            return Outcome::permanent("vivo requestId over 64 characters");
        }
        let category = self
            .categories
            .get(request.category)
            .unwrap_or(default_category(request.category));
        let data = util::data_payload(request);
        let body = serde_json::json!({
            "appId": self.app_id,
            "regId": request.token,
            "notifyType": if request.category.is_service() { 4 } else { 1 },
            "title": request.title,
            "content": request.body,
            "timeToLive": request.ttl_secs.clamp(MIN_TTL, MAX_TTL),
            "skipType": 1,
            "networkType": -1,
            "classification": if request.category.is_service() { 1 } else { 0 },
            "category": category,
            "requestId": request.delivery_id,
            "clientCustomMap": data,
            "pushMode": 0,
        });
        for attempt in 0..2 {
            let token = match self.auth_token().await {
                Ok(token) => token,
                Err(outcome) => return outcome,
            };
            let response = match self
                .client
                .post(&self.send_url)
                .header("authToken", &token)
                .json(&body)
                .send()
                .await
            {
                Ok(response) => response,
                Err(e) => return util::transport_failure("vivo", &e),
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = match util::body(response, util::BODY_LIMIT).await {
                Ok(bytes) => bytes,
                Err(e) => return util::transport_failure("vivo", &e),
            };
            if status == 429 || (500..=599).contains(&status) {
                return util::retry_with(&headers, (self.clock)(), format!("vivo {status}"));
            }
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let code = util::json_code(value.get("result"))
                .map(|c| util::code(&c))
                .unwrap_or_else(|| "-".to_owned());
            let text = format!("vivo {status} {code}");
            match code.as_str() {
                "0" if status == 200 => return Outcome::Delivered,
                "10000" if attempt == 0 => {
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                "10000" => return Outcome::retry(text),
                "10302" => return Outcome::dead(text),
                "10070" | "10071" | "10073" => {
                    return util::retry_with(&headers, (self.clock)(), text);
                }
                _ => return Outcome::permanent(text),
            }
        }
        Outcome::retry("vivo 10000")
    }
}
