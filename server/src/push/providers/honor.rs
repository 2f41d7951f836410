//! Honor push (荣耀推送) server API, OAuth client credentials.
//!
//! Shapes from Honor's developer documentation ("下行消息",
//! developer.honor.com/cn/docs/11002/reference/downlink-message, and its
//! "鉴权" page), as far as we could read them:
//! - `POST https://iam.developer.honor.com/auth/token` with the form
//!   `grant_type=client_credentials&client_id=..&client_secret=..`, answering
//!   `{access_token, expires_in, token_type}`.
//! - `POST https://push-api.cloud.honor.com/api/v1/{appId}/sendMessage`,
//!   headers `Authorization: Bearer <access token>` and `timestamp` (ms), body
//!   in camelCase `{data, android {ttl "Ns" (at most 15 days), biTag,
//!   notification {title, body, clickAction {type}, importance NORMAL|LOW}},
//!   token [..]}`, answering `{"code": 200, "message": "success", "data":
//!   {"sendResult": true, "requestId"}}`.
//! - The error codes are *unconfirmed*: Honor's push service descends from
//!   Huawei's and is taken to answer Huawei's result codes (`80300007` all
//!   tokens invalid, `80100000` some tokens illegal, `80100003` bad message,
//!   `80200001`/`80200003` access token refused/expired, `81000001` internal
//!   error), HTTP 401 for a refused token, 429/5xx for overload.

use super::oauth::{self, TokenCache};
use super::{Clock, Common, HonorConfig, Outcome, ProviderError, PushRequest, util};

const MAX_TTL: u32 = 15 * 24 * 3600;
const MAX_PAYLOAD: usize = 4096;

pub(super) struct Honor {
    client: reqwest::Client,
    send_url: String,
    token_url: String,
    client_id: String,
    client_secret: String,
    tokens: TokenCache,
    clock: Clock,
}

impl Honor {
    pub fn new(config: &HonorConfig, common: Common, clock: Clock) -> Result<Self, ProviderError> {
        let base = util::base_url("honor.base_url", &config.base_url)?;
        let app_id = util::required("honor.app_id", &config.app_id)?;
        if !app_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ProviderError::new(
                "honor.app_id",
                "expected letters and digits",
            ));
        }
        Ok(Self {
            client: util::client("honor", common, false)?,
            send_url: format!("{base}/api/v1/{app_id}/sendMessage"),
            token_url: util::base_url("honor.token_url", &config.token_url)?,
            client_id: util::required("honor.client_id", &config.client_id)?,
            client_secret: util::required("honor.client_secret", &config.client_secret)?,
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
                    "honor",
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

    fn message(request: &PushRequest) -> serde_json::Value {
        serde_json::json!({
            "data": util::data_payload(request).to_string(),
            "android": {
                "ttl": format!("{}s", request.ttl_secs.min(MAX_TTL)),
                "biTag": request.delivery_id,
                "notification": {
                    "title": request.title,
                    "body": request.body,
                    "clickAction": { "type": 3 },
                    "importance": if request.category.is_service() { "NORMAL" } else { "LOW" },
                },
            },
        })
    }

    pub async fn send(&self, request: &PushRequest) -> Outcome {
        let mut body = Self::message(request);
        match serde_json::to_vec(&body) {
            Ok(bytes) if bytes.len() > MAX_PAYLOAD => {
                return Outcome::permanent("honor payload over 4096 bytes");
            }
            Ok(_) => {}
            Err(_) => return Outcome::permanent("honor payload not serialisable"),
        }
        body["token"] = serde_json::json!([request.token]);
        for attempt in 0..2 {
            let token = match self.access_token().await {
                Ok(token) => token,
                Err(outcome) => return outcome,
            };
            let response = match self
                .client
                .post(&self.send_url)
                .bearer_auth(&token)
                .header("timestamp", (self.clock)().to_string())
                .json(&body)
                .send()
                .await
            {
                Ok(response) => response,
                Err(e) => return util::transport_failure("honor", &e),
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = match util::body(response, util::BODY_LIMIT).await {
                Ok(bytes) => bytes,
                Err(e) => return util::transport_failure("honor", &e),
            };
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let code = util::json_code(value.get("code"))
                .map(|c| util::code(&c))
                .unwrap_or_else(|| "-".to_owned());
            let text = format!("honor {status} {code}");
            match (status, code.as_str()) {
                (200, "200" | "80000000") => {
                    if value["data"]["sendResult"].as_bool() == Some(false) {
                        return Outcome::retry(format!("{text} sendResult false"));
                    }
                    return Outcome::Delivered;
                }
                (_, "80200001" | "80200003") | (401, _) if attempt == 0 => {
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                (_, "80200003") | (401, _) => return Outcome::retry(text),
                (_, "80300007" | "80100000") => return Outcome::dead(text),
                (_, "81000001") | (429 | 500..=599, _) => {
                    return util::retry_with(&headers, (self.clock)(), text);
                }
                _ => return Outcome::permanent(text),
            }
        }
        Outcome::retry("honor 401")
    }
}
