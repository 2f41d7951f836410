//! Firebase Cloud Messaging, HTTP v1 API.
//!
//! Shapes from Google's documentation:
//! - "REST Resource: projects.messages" / "Method: projects.messages.send":
//!   `POST https://fcm.googleapis.com/v1/projects/{project_id}/messages:send`
//!   with `{"message": {token, notification {title, body}, data {string:
//!   string}, android {priority HIGH|NORMAL, ttl "Ns", collapse_key,
//!   notification {channel_id, tag}}}}`, answering `{"name": ...}`; messages
//!   up to 4096 bytes of payload.
//! - "Authorize send requests" and "Using OAuth 2.0 for Server to Server
//!   Applications": an RS256 JWT signed with the service account's key
//!   (`kid` = `private_key_id`), claims `iss` = `client_email`, `scope` =
//!   `https://www.googleapis.com/auth/firebase.messaging`, `aud` = `token_uri`,
//!   `iat`, `exp` = `iat` + 3600, exchanged at `token_uri` with the form
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`
//!   for `{access_token, expires_in}`.
//! - "ErrorCode" (FCM v1) and "Best practices for FCM registration token
//!   management": errors are `{"error": {code, status, details: [{"@type":
//!   "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode}, ...]}}`;
//!   404 `UNREGISTERED` and 400 `INVALID_ARGUMENT` about `message.token` mean
//!   the token is dead; 429 `QUOTA_EXCEEDED`, 503 `UNAVAILABLE`, 500 `INTERNAL`
//!   are retried honouring `Retry-After`; 401 `THIRD_PARTY_AUTH_ERROR` is a
//!   configuration problem (APNs credentials in Firebase); other 401s mean
//!   the access token is no longer accepted.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::oauth::{self, TokenCache};
use super::{
    Category, Clock, Common, FcmConfig, Outcome, PerCategory, Priority, ProviderError, PushRequest,
    util,
};

const MAX_PAYLOAD: usize = 4096;
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

pub(super) struct Fcm {
    client: reqwest::Client,
    send_url: String,
    token_uri: String,
    client_email: String,
    key_id: Option<String>,
    key: EncodingKey,
    channel_ids: PerCategory,
    tokens: TokenCache,
    clock: Clock,
}

#[derive(Deserialize)]
struct ServiceAccount {
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

impl Fcm {
    pub fn new(config: &FcmConfig, common: Common, clock: Clock) -> Result<Self, ProviderError> {
        let base = util::base_url("fcm.base_url", &config.base_url)?;
        let project_id = util::required("fcm.project_id", &config.project_id)?;
        if !project_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ProviderError::new(
                "fcm.project_id",
                "expected letters, digits and '-'",
            ));
        }
        let (setting, json) = match (&config.service_account_json, &config.service_account_path) {
            (Some(json), None) => ("fcm.service_account_json", json.clone()),
            (None, Some(path)) => (
                "fcm.service_account_path",
                std::fs::read_to_string(path).map_err(|_| {
                    ProviderError::new("fcm.service_account_path", "the file cannot be read")
                })?,
            ),
            _ => {
                return Err(ProviderError::new(
                    "fcm.service_account_json",
                    "set exactly one of service_account_json and service_account_path",
                ));
            }
        };
        let account: ServiceAccount = serde_json::from_str(&json)
            .map_err(|_| ProviderError::new(setting, "not a service account JSON key file"))?;
        let client_email = account
            .client_email
            .filter(|e| e.contains('@'))
            .ok_or_else(|| ProviderError::new(setting, "no client_email in the service account"))?;
        let pem = account
            .private_key
            .ok_or_else(|| ProviderError::new(setting, "no private_key in the service account"))?;
        let pkcs8 = util::pem_der(&pem, "PRIVATE KEY").ok_or_else(|| {
            ProviderError::new(
                setting,
                "the service account's private_key is not PKCS#8 PEM",
            )
        })?;
        aws_lc_rs::rsa::KeyPair::from_pkcs8(&pkcs8).map_err(|_| {
            ProviderError::new(
                setting,
                "the service account's private_key is not an RSA key",
            )
        })?;
        let pkcs1 = util::pkcs8_to_pkcs1(&pkcs8).ok_or_else(|| {
            ProviderError::new(
                setting,
                "the service account's private_key is not an RSA key",
            )
        })?;
        let token_uri = match &config.token_url {
            Some(url) => util::base_url("fcm.token_url", url)?,
            None => util::base_url(
                setting,
                account.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI),
            )?,
        };
        Ok(Self {
            client: util::client("fcm", common, false)?,
            send_url: format!("{base}/v1/projects/{project_id}/messages:send"),
            token_uri,
            client_email,
            key_id: account.private_key_id.filter(|k| !k.is_empty()),
            key: EncodingKey::from_rsa_der(&pkcs1),
            channel_ids: config.channel_ids.clone(),
            tokens: TokenCache::default(),
            clock,
        })
    }

    async fn access_token(&self) -> Result<String, Outcome> {
        let now = (self.clock)();
        self.tokens
            .get(now, || async {
                let iat = now.div_euclid(1000);
                let mut header = Header::new(Algorithm::RS256);
                header.kid = self.key_id.clone();
                let claims = Assertion {
                    iss: &self.client_email,
                    scope: SCOPE,
                    aud: &self.token_uri,
                    iat,
                    exp: iat + 3600,
                };
                let assertion = jsonwebtoken::encode(&header, &claims, &self.key)
                    .map_err(|_| Outcome::permanent("fcm signing the assertion failed"))?;
                oauth::fetch_token(
                    &self.client,
                    "fcm",
                    &self.token_uri,
                    &[("grant_type", GRANT_TYPE), ("assertion", &assertion)],
                    now,
                )
                .await
            })
            .await
    }

    /// The message without its token (whose size is what FCM limits).
    fn message(&self, request: &PushRequest) -> serde_json::Value {
        let channel = self
            .channel_ids
            .get(request.category)
            .unwrap_or(request.category.as_str());
        let mut notification = serde_json::json!({ "channel_id": channel });
        let mut android = serde_json::json!({
            "priority": match request.priority {
                Priority::High => "HIGH",
                Priority::Normal => "NORMAL",
            },
            "ttl": format!("{}s", request.ttl_secs.min(28 * 24 * 3600)),
        });
        if let Some(key) = &request.collapse_key {
            android["collapse_key"] = key.clone().into();
            notification["tag"] = key.clone().into();
        }
        if request.category == Category::Campaign {
            notification["notification_priority"] = "PRIORITY_LOW".into();
        }
        android["notification"] = notification;
        serde_json::json!({
            "notification": { "title": request.title, "body": request.body },
            "data": util::data_payload(request),
            "android": android,
        })
    }

    pub async fn send(&self, request: &PushRequest) -> Outcome {
        let mut message = self.message(request);
        match serde_json::to_vec(&message) {
            Ok(bytes) if bytes.len() > MAX_PAYLOAD => {
                return Outcome::permanent("fcm payload over 4096 bytes");
            }
            Ok(_) => {}
            Err(_) => return Outcome::permanent("fcm payload not serialisable"),
        }
        message["token"] = request.token.clone().into();
        let body = serde_json::json!({ "message": message });
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
                Err(e) => return util::transport_failure("fcm", &e),
            };
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return Outcome::Delivered;
            }
            let headers = response.headers().clone();
            let bytes = match util::body(response, util::BODY_LIMIT).await {
                Ok(bytes) => bytes,
                Err(e) => return util::transport_failure("fcm", &e),
            };
            let error = FcmError::parse(&bytes);
            let code = error.code.as_deref().unwrap_or("-");
            let text = format!("fcm {status} {code}");
            match (status, code) {
                (401, "THIRD_PARTY_AUTH_ERROR") => return Outcome::permanent(text),
                (401, _) if attempt == 0 => {
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                (401, _) => return Outcome::retry(text),
                (_, "UNREGISTERED") | (404, _) => return Outcome::dead(text),
                (400, "INVALID_ARGUMENT") if error.token_violation => {
                    return Outcome::dead(format!("{text} message.token"));
                }
                (429, _) | (500..=599, _) => {
                    return util::retry_with(&headers, (self.clock)(), text);
                }
                _ => return Outcome::permanent(text),
            }
        }
        Outcome::retry("fcm 401")
    }
}

/// The parts of an FCM error answer we act on.
struct FcmError {
    /// `FcmError.errorCode`, else the status (`INVALID_ARGUMENT`, ...).
    code: Option<String>,
    /// A `BadRequest` field violation names `message.token`.
    token_violation: bool,
}

impl FcmError {
    fn parse(bytes: &[u8]) -> Self {
        let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        let error = &value["error"];
        let details = error["details"].as_array().cloned().unwrap_or_default();
        let fcm_code = details.iter().find_map(|d| {
            d["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("google.firebase.fcm.v1.FcmError"))
                .then(|| d["errorCode"].as_str().map(util::code))
                .flatten()
        });
        let token_violation = details.iter().any(|d| {
            d["fieldViolations"].as_array().is_some_and(|v| {
                v.iter()
                    .any(|f| f["field"].as_str() == Some("message.token"))
            })
        });
        Self {
            code: fcm_code.or_else(|| error["status"].as_str().map(util::code)),
            token_violation,
        }
    }
}
