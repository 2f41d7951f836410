//! Apple Push Notification service, token-based (.p8) authentication.
//!
//! Shapes from Apple's documentation:
//! - "Sending notification requests to APNs": HTTP/2 `POST /3/device/<token>`
//!   to `api.push.apple.com` / `api.sandbox.push.apple.com`, headers
//!   `authorization: bearer <JWT>`, `apns-topic` (bundle id), `apns-push-type:
//!   alert`, `apns-id` (a UUID), `apns-expiration` (Unix seconds, 0: try once),
//!   `apns-priority` (10 at once, 5 power-considerate), `apns-collapse-id`
//!   (at most 64 bytes); payload at most 4096 bytes.
//! - "Establishing a token-based connection to APNs": JWT header `{alg: ES256,
//!   kid: <key id>}`, claims `{iss: <team id>, iat}`; reuse it, refresh it no
//!   more than once every 20 minutes and no less than once every 60 minutes.
//! - "Handling notification responses from APNs": `{"reason", "timestamp"}`;
//!   400 BadDeviceToken, 403 ExpiredProviderToken / InvalidProviderToken /
//!   MissingProviderToken, 410 Unregistered and ExpiredToken (with `timestamp`,
//!   ms, the last time the token was valid), 413 PayloadTooLarge, 429
//!   TooManyRequests / TooManyProviderTokenUpdates, 500, 503.
//! - "Generating a remote notification" (payload keys): `aps.alert.title`,
//!   `aps.alert.body`, `aps.interruption-level` (`passive`, `active`,
//!   `time-sensitive`).

use std::sync::Mutex;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::{
    ApnsConfig, ApnsEnvironment, Category, Clock, Common, Outcome, Priority, ProviderError,
    PushRequest, util,
};

const MAX_PAYLOAD: usize = 4096;
const MAX_COLLAPSE_ID: usize = 64;

pub(super) struct Apns {
    client: reqwest::Client,
    production_url: String,
    sandbox_url: String,
    default_environment: ApnsEnvironment,
    team_id: String,
    key_id: String,
    key: EncodingKey,
    renew_after_secs: i64,
    /// The JWT in use and its `iat` (Unix seconds).
    jwt: Mutex<Option<(String, i64)>>,
    clock: Clock,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    reason: Option<String>,
    timestamp: Option<i64>,
}

impl Apns {
    pub fn new(config: &ApnsConfig, common: Common, clock: Clock) -> Result<Self, ProviderError> {
        let production_url = util::base_url("apns.base_url", &config.base_url)?;
        let sandbox_url = util::base_url("apns.sandbox_base_url", &config.sandbox_base_url)?;
        let team_id = util::required("apns.team_id", &config.team_id)?;
        let key_id = util::required("apns.key_id", &config.key_id)?;
        if !(20 * 60..=60 * 60).contains(&config.jwt_renew_after_secs) {
            return Err(ProviderError::new(
                "apns.jwt_renew_after_secs",
                "must be between 1200 and 3600 (APNs wants a token renewed every 20 to 60 minutes)",
            ));
        }
        let (setting, pem) = match (&config.private_key_pem, &config.private_key_path) {
            (Some(pem), None) => ("apns.private_key_pem", pem.clone()),
            (None, Some(path)) => (
                "apns.private_key_path",
                std::fs::read_to_string(path).map_err(|_| {
                    ProviderError::new("apns.private_key_path", "the file cannot be read")
                })?,
            ),
            _ => {
                return Err(ProviderError::new(
                    "apns.private_key_pem",
                    "set exactly one of private_key_pem and private_key_path",
                ));
            }
        };
        let der = util::pem_der(&pem, "PRIVATE KEY").ok_or_else(|| {
            ProviderError::new(
                setting,
                "not a PKCS#8 PEM private key (the .p8 file's content)",
            )
        })?;
        aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &der,
        )
        .map_err(|_| ProviderError::new(setting, "not a P-256 private key"))?;
        let h2c = production_url.starts_with("http://");
        Ok(Self {
            client: util::client("apns", common, h2c)?,
            production_url,
            sandbox_url,
            default_environment: config.default_environment,
            team_id,
            key_id,
            key: EncodingKey::from_ec_der(&der),
            renew_after_secs: i64::try_from(config.jwt_renew_after_secs).unwrap_or(3000),
            jwt: Mutex::new(None),
            clock,
        })
    }

    /// The provider token: the cached one while younger than the renewal age,
    /// else a new one. `refused` forces a new one when it is still the
    /// cached one (403 ExpiredProviderToken).
    fn jwt(&self, refused: Option<&str>) -> Result<String, Outcome> {
        let now = (self.clock)().div_euclid(1000);
        let mut slot = self.jwt.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((jwt, iat)) = slot.as_ref()
            && now - iat < self.renew_after_secs
            && refused != Some(jwt.as_str())
        {
            return Ok(jwt.clone());
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        let claims = Claims {
            iss: &self.team_id,
            iat: now,
        };
        let jwt = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|_| Outcome::permanent("apns signing the provider token failed"))?;
        *slot = Some((jwt.clone(), now));
        Ok(jwt)
    }

    fn payload(request: &PushRequest) -> serde_json::Value {
        let level = match request.category {
            Category::Security => "time-sensitive",
            Category::Campaign => "passive",
            _ => "active",
        };
        let mut payload = util::data_payload(request);
        payload["aps"] = serde_json::json!({
            "alert": { "title": request.title, "body": request.body },
            "sound": "default",
            "interruption-level": level,
            "thread-id": request.category.as_str(),
        });
        payload
    }

    pub async fn send(&self, request: &PushRequest) -> Outcome {
        // The token goes into the URL path: only hex is a device token.
        if request.token.is_empty() || !request.token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Outcome::dead("apns malformed device token");
        }
        if request
            .collapse_key
            .as_ref()
            .is_some_and(|k| k.len() > MAX_COLLAPSE_ID || !k.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Outcome::permanent("apns collapse id over 64 bytes or not ASCII");
        }
        let body = match serde_json::to_vec(&Self::payload(request)) {
            Ok(body) => body,
            Err(_) => return Outcome::permanent("apns payload not serialisable"),
        };
        if body.len() > MAX_PAYLOAD {
            return Outcome::permanent("apns payload over 4096 bytes");
        }
        let base = match request.apns_environment.unwrap_or(self.default_environment) {
            ApnsEnvironment::Production => &self.production_url,
            ApnsEnvironment::Sandbox => &self.sandbox_url,
        };
        let url = format!("{base}/3/device/{}", request.token);
        let mut refused: Option<String> = None;
        for attempt in 0..2 {
            let jwt = match self.jwt(refused.as_deref()) {
                Ok(jwt) => jwt,
                Err(outcome) => return outcome,
            };
            let now_secs = (self.clock)().div_euclid(1000);
            let expiration = if request.ttl_secs == 0 {
                0
            } else {
                now_secs + i64::from(request.ttl_secs)
            };
            let mut builder = self
                .client
                .post(&url)
                .header("authorization", format!("bearer {jwt}"))
                .header("apns-topic", &request.app_id)
                .header("apns-push-type", "alert")
                .header("apns-id", util::uuid_from(&request.delivery_id))
                .header("apns-expiration", expiration.to_string())
                .header(
                    "apns-priority",
                    match request.priority {
                        Priority::High => "10",
                        Priority::Normal => "5",
                    },
                )
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(key) = &request.collapse_key {
                builder = builder.header("apns-collapse-id", key);
            }
            let response = match builder.send().await {
                Ok(response) => response,
                Err(e) => return util::transport_failure("apns", &e),
            };
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return Outcome::Delivered;
            }
            let headers = response.headers().clone();
            let bytes = match util::body(response, util::BODY_LIMIT).await {
                Ok(bytes) => bytes,
                Err(e) => return util::transport_failure("apns", &e),
            };
            let answer: ErrorAnswer = serde_json::from_slice(&bytes).unwrap_or(ErrorAnswer {
                reason: None,
                timestamp: None,
            });
            let reason = util::code(answer.reason.as_deref().unwrap_or(""));
            let text = format!("apns {status} {reason}");
            match (status, reason.as_str()) {
                (403, "ExpiredProviderToken") if attempt == 0 => {
                    refused = Some(jwt);
                    continue;
                }
                (_, "ExpiredProviderToken") => return Outcome::retry(text),
                (_, "TooManyProviderTokenUpdates") => {
                    return util::retry_with(&headers, (self.clock)(), text);
                }
                (410, _) => {
                    return Outcome::DeadToken {
                        unregistered_at_ms: answer.timestamp,
                        reason: text,
                    };
                }
                (400, "BadDeviceToken") => return Outcome::dead(text),
                (429, _) | (500..=599, _) => {
                    return util::retry_with(&headers, (self.clock)(), text);
                }
                _ => return Outcome::permanent(text),
            }
        }
        Outcome::retry("apns 403 ExpiredProviderToken")
    }
}
