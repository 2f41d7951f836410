//! OPPO push (OPUSH) server API.
//!
//! Shapes from OPPO's open-platform documentation (open.oppomobile.com,
//! "调用地址，公共参数和返回码", "鉴权", "单点推送", "通知栏消息"):
//! - `POST https://api.push.oppomobile.com/server/v1/auth`, form `app_key`,
//!   `timestamp` (ms), `sign` = hex(sha256(app_key + timestamp +
//!   master_secret)), answering `{"code": 0, "data": {"auth_token",
//!   "create_time"}}`; the auth token is valid 24 hours.
//! - `POST /server/v1/message/notification/unicast`, form `auth_token` and
//!   `message` = JSON `{target_type: 2 (registration id), target_value,
//!   notification {app_message_id, title (≤ 50 characters), content (≤ 200),
//!   click_action_type, action_parameters, channel_id, category, notify_level,
//!   off_line, off_line_ttl (s, ≤ 10 days)}}`; `app_message_id` dedupes: one
//!   unicast per id and target. Answers `{"code", "message", "data":
//!   {"messageId"}}`.
//! - Return codes: 0 success, -1 service unavailable, -2 flow control, 11
//!   invalid auth token, 13 call limit, 14 invalid app key, 16 invalid
//!   signature, 29 missing auth token, 33 daily message limit, 40/41 missing or
//!   invalid arguments, 55 call frequency, 67 category / notify_level error.
//!   The unicast's own code for an invalid registration id is *unconfirmed*:
//!   10000 is taken (business codes are 10000-20000).
//! - Message classification (2023): `category` `IM`, `ACCOUNT`,
//!   `DEVICE_REMINDER`, `ORDER`, `TODO`, `SUBSCRIPTION` (communication and
//!   service, private channel) and `NEWS`, `CONTENT`, `MARKETING`, `SOCIAL`
//!   (content and marketing); `notify_level` 1 (notification bar), 2 (+ lock
//!   screen), 16 (+ banner, sound, vibration: needs approval).

use super::oauth::{Cached, TokenCache};
use super::{
    Category, Clock, Common, OppoConfig, Outcome, PerCategory, ProviderError, PushRequest, util,
};

const MAX_TITLE_CHARS: usize = 50;
const MAX_CONTENT_CHARS: usize = 200;
const MAX_TTL: u32 = 10 * 24 * 3600;

pub(super) struct Oppo {
    client: reqwest::Client,
    auth_url: String,
    send_url: String,
    app_key: String,
    master_secret: String,
    channel_ids: PerCategory,
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

/// hex(sha256(app_key + timestamp + master_secret)).
pub(super) fn sign(app_key: &str, timestamp_ms: i64, master_secret: &str) -> String {
    hex::encode(util::sha256(
        format!("{app_key}{timestamp_ms}{master_secret}").as_bytes(),
    ))
}

impl Oppo {
    pub fn new(config: &OppoConfig, common: Common, clock: Clock) -> Result<Self, ProviderError> {
        let base = util::base_url("oppo.base_url", &config.base_url)?;
        config.channel_ids.require_service("oppo.channel_ids")?;
        if !(3600..=24 * 3600).contains(&config.token_refresh_secs) {
            return Err(ProviderError::new(
                "oppo.token_refresh_secs",
                "must be between 3600 and 86400 (the auth token lives 24 hours)",
            ));
        }
        Ok(Self {
            client: util::client("oppo", common, false)?,
            auth_url: format!("{base}/server/v1/auth"),
            send_url: format!("{base}/server/v1/message/notification/unicast"),
            app_key: util::required("oppo.app_key", &config.app_key)?,
            master_secret: util::required("oppo.master_secret", &config.master_secret)?,
            channel_ids: config.channel_ids.clone(),
            categories: config.categories.clone(),
            refresh_ms: i64::try_from(config.token_refresh_secs).unwrap_or(82_800) * 1000,
            tokens: TokenCache::default(),
            clock,
        })
    }

    async fn auth_token(&self) -> Result<String, Outcome> {
        let now = (self.clock)();
        self.tokens
            .get(now, || async {
                let timestamp = now.to_string();
                let sign = sign(&self.app_key, now, &self.master_secret);
                let response = self
                    .client
                    .post(&self.auth_url)
                    .form(&[
                        ("app_key", self.app_key.as_str()),
                        ("timestamp", timestamp.as_str()),
                        ("sign", sign.as_str()),
                    ])
                    .send()
                    .await
                    .map_err(|e| util::transport_failure("oppo auth", &e))?;
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let bytes = util::body(response, util::BODY_LIMIT)
                    .await
                    .map_err(|e| util::transport_failure("oppo auth", &e))?;
                if status == 429 || (500..=599).contains(&status) {
                    return Err(util::retry_with(
                        &headers,
                        now,
                        format!("oppo auth {status}"),
                    ));
                }
                let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                let code = util::json_code(value.get("code"))
                    .map(|c| util::code(&c))
                    .unwrap_or_else(|| "-".to_owned());
                match code.as_str() {
                    "0" => {}
                    "-1" | "-2" | "13" | "55" => {
                        return Err(Outcome::retry(format!("oppo auth {status} {code}")));
                    }
                    _ => return Err(Outcome::permanent(format!("oppo auth {status} {code}"))),
                }
                let token = value["data"]["auth_token"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Outcome::retry("oppo auth answer without token"))?;
                Ok(Cached {
                    token: token.to_owned(),
                    renew_at_ms: now + self.refresh_ms,
                })
            })
            .await
    }

    pub async fn send(&self, request: &PushRequest) -> Outcome {
        let Some(channel) = self.channel_ids.get(request.category) else {
            return Outcome::permanent(format!(
                "oppo no channel_ids.{} configured",
                request.category.as_str()
            ));
        };
        if request.title.chars().count() > MAX_TITLE_CHARS
            || request.body.chars().count() > MAX_CONTENT_CHARS
        {
            return Outcome::permanent("oppo title over 50 or content over 200 characters");
        }
        let category = self
            .categories
            .get(request.category)
            .unwrap_or(default_category(request.category));
        let message = serde_json::json!({
            "target_type": 2,
            "target_value": request.token,
            "notification": {
                "app_message_id": request.delivery_id,
                "title": request.title,
                "content": request.body,
                "click_action_type": 0,
                "action_parameters": util::data_payload(request).to_string(),
                "channel_id": channel,
                "category": category,
                "notify_level": if request.category.is_service() { 2 } else { 1 },
                "off_line": true,
                "off_line_ttl": request.ttl_secs.min(MAX_TTL),
            },
        })
        .to_string();
        for attempt in 0..2 {
            let token = match self.auth_token().await {
                Ok(token) => token,
                Err(outcome) => return outcome,
            };
            let response = match self
                .client
                .post(&self.send_url)
                .form(&[
                    ("auth_token", token.as_str()),
                    ("message", message.as_str()),
                ])
                .send()
                .await
            {
                Ok(response) => response,
                Err(e) => return util::transport_failure("oppo", &e),
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = match util::body(response, util::BODY_LIMIT).await {
                Ok(bytes) => bytes,
                Err(e) => return util::transport_failure("oppo", &e),
            };
            if status == 429 || (500..=599).contains(&status) {
                return util::retry_with(&headers, (self.clock)(), format!("oppo {status}"));
            }
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let code = util::json_code(value.get("code"))
                .map(|c| util::code(&c))
                .unwrap_or_else(|| "-".to_owned());
            let text = format!("oppo {status} {code}");
            match code.as_str() {
                "0" if status == 200 => return Outcome::Delivered,
                "11" | "29" if attempt == 0 => {
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                "11" | "29" => return Outcome::retry(text),
                "10000" => return Outcome::dead(text),
                "-1" | "-2" | "13" | "33" | "55" => {
                    return util::retry_with(&headers, (self.clock)(), text);
                }
                _ => return Outcome::permanent(text),
            }
        }
        Outcome::retry("oppo 11")
    }
}
