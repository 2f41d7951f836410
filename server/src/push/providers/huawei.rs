//! Huawei Push Kit (HMS Core), server API v1, OAuth 2.0 client credentials.
//!
//! Shapes from Huawei's documentation:
//! - "下行消息" / "Sending Downlink Messages"
//!   (developer.huawei.com/consumer/cn/doc/HMSCore-References/https-send-api-0000001050986197):
//!   `POST https://push-api.cloud.huawei.com/v1/[clientid]/messages:send`,
//!   `Authorization: Bearer <access token>`, body `{"validate_only": false,
//!   "message": {data, android {category, ttl "Ns" (at most 15 days), bi_tag,
//!   notification {title, body, click_action {type}, importance LOW|NORMAL,
//!   tag}}, token [..]}}`; the message body at most 4096 bytes. Answers
//!   `{"code", "msg", "requestId"}`: `80000000` success, `80100000` some tokens
//!   illegal (listed in `msg`), `80100001`/`80100003`/`80100004`/`80100013`/
//!   `80100016` request or message errors, `80200001` OAuth authentication
//!   error, `80200003` access token expired, `80300002` no permission,
//!   `80300007` all tokens invalid, `80300008` message over 4096 bytes,
//!   `80300011` no right to high-priority messages, `81000001` internal error;
//!   HTTP 503 is flow control, 500/502 server trouble.
//! - "OAuth 2.0开放鉴权（客户端模式）" / "Client Credentials": `POST
//!   https://oauth-login.cloud.huawei.com/oauth2/v3/token` with the form
//!   `grant_type=client_credentials&client_id=..&client_secret=..`, answering
//!   `{access_token, expires_in (3600), token_type}`.
//! - Message classification ("消息分类"): `android.category` values `IM`,
//!   `VOIP`, `SUBSCRIPTION`, `TRAVEL`, `HEALTH`, `WORK`, `ACCOUNT`, `EXPRESS`,
//!   `FINANCE`, `DEVICE_REMINDER`, `MAIL`, `MARKETING` (self-classification
//!   needs Huawei's approval).

use super::oauth::{self, TokenCache};
use super::{
    Category, Clock, Common, HuaweiConfig, Outcome, PerCategory, ProviderError, PushRequest, util,
};

const MAX_TTL: u32 = 15 * 24 * 3600;
const MAX_PAYLOAD: usize = 4096;

pub(super) struct Huawei {
    client: reqwest::Client,
    send_url: String,
    token_url: String,
    client_id: String,
    client_secret: String,
    categories: PerCategory,
    tokens: TokenCache,
    clock: Clock,
}

/// Huawei's `android.category` for a category (see [`Category`]).
fn default_category(category: Category) -> &'static str {
    match category {
        Category::Service => "SUBSCRIPTION",
        Category::Reminder => "WORK",
        Category::ApplicationStatus => "EXPRESS",
        Category::Security => "ACCOUNT",
        Category::Campaign => "MARKETING",
    }
}

impl Huawei {
    pub fn new(config: &HuaweiConfig, common: Common, clock: Clock) -> Result<Self, ProviderError> {
        let base = util::base_url("huawei.base_url", &config.base_url)?;
        let client_id = util::required("huawei.client_id", &config.client_id)?;
        if !client_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ProviderError::new(
                "huawei.client_id",
                "expected letters and digits",
            ));
        }
        Ok(Self {
            client: util::client("huawei", common, false)?,
            send_url: format!("{base}/v1/{client_id}/messages:send"),
            token_url: util::base_url("huawei.token_url", &config.token_url)?,
            client_id,
            client_secret: util::required("huawei.client_secret", &config.client_secret)?,
            categories: config.categories.clone(),
            tokens: TokenCache::default(),
            clock,
        })
    }

    async fn access_token(&self) -> Result<String, Outcome> {
        let now = (self.clock)();
        self.tokens
            .get(now, || async {
                oauth::fetch_token(
                    &self.client,
                    "huawei",
                    &self.token_url,
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", &self.client_id),
                        ("client_secret", &self.client_secret),
                    ],
                    now,
                )
                .await
            })
            .await
    }

    fn message(&self, request: &PushRequest) -> serde_json::Value {
        let category = self
            .categories
            .get(request.category)
            .unwrap_or(default_category(request.category));
        let mut notification = serde_json::json!({
            "title": request.title,
            "body": request.body,
            "click_action": { "type": 3 },
            "importance": if request.category.is_service() { "NORMAL" } else { "LOW" },
        });
        if let Some(key) = &request.collapse_key {
            notification["tag"] = key.clone().into();
        }
        serde_json::json!({
            "data": util::data_payload(request).to_string(),
            "android": {
                "category": category,
                "ttl": format!("{}s", request.ttl_secs.min(MAX_TTL)),
                "bi_tag": request.delivery_id,
                "notification": notification,
            },
        })
    }

    pub async fn send(&self, request: &PushRequest) -> Outcome {
        let mut message = self.message(request);
        match serde_json::to_vec(&message) {
            Ok(bytes) if bytes.len() > MAX_PAYLOAD => {
                return Outcome::permanent("huawei payload over 4096 bytes");
            }
            Ok(_) => {}
            Err(_) => return Outcome::permanent("huawei payload not serialisable"),
        }
        message["token"] = serde_json::json!([request.token]);
        let body = serde_json::json!({ "validate_only": false, "message": message });
        for attempt in 0..2 {
            let token = match self.access_token().await {
                Ok(token) => token,
                Err(outcome) => return outcome,
            };
            let response = match self
                .client
                .post(&self.send_url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
            {
                Ok(response) => response,
                Err(e) => return util::transport_failure("huawei", &e),
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = match util::body(response, util::BODY_LIMIT).await {
                Ok(bytes) => bytes,
                Err(e) => return util::transport_failure("huawei", &e),
            };
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let code = util::json_code(value.get("code"))
                .map(|c| util::code(&c))
                .unwrap_or_else(|| "-".to_owned());
            let text = format!("huawei {status} {code}");
            match (status, code.as_str()) {
                (200, "80000000") => return Outcome::Delivered,
                (_, "80200001" | "80200003") | (401, _) if attempt == 0 => {
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                (_, "80200003") | (401, _) => return Outcome::retry(text),
                // One token per request: "some tokens illegal" is ours.
                (_, "80300007" | "80100000") => return Outcome::dead(text),
                (_, "81000001") | (429 | 500..=599, _) => {
                    return util::retry_with(&headers, (self.clock)(), text);
                }
                _ => return Outcome::permanent(text),
            }
        }
        Outcome::retry("huawei 401")
    }
}
