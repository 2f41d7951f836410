//! Xiaomi push (小米推送) server API.
//!
//! Shapes from Xiaomi's documentation ("服务端API" / "Server API",
//! dev.mi.com/console/doc/detail?pId=1163, and "消息分类" for channels):
//! - `POST https://api.xmpush.xiaomi.com/v3/message/regid`, header
//!   `Authorization: key=<AppSecret>`, form body: `registration_id`,
//!   `restricted_package_name`, `pass_through=0` (notification), `title`
//!   (under 50 characters), `description`, `notify_type` (-1: all defaults),
//!   `time_to_live` (ms, at most 2 weeks), `payload`, `notify_id`,
//!   `extra.channel_id` (the channel registered with Xiaomi: private-message
//!   channels for service messages, the public channel otherwise),
//!   `extra.jobkey` (the client shows one message per jobkey: `[0-9A-Za-z_-]`,
//!   at most 8 characters in the older documentation, 20 in the newer),
//!   `extra.notify_foreground`.
//! - Answers `{"result": "ok"|"error", "code", "data": {"id", "bad_regids"},
//!   "description", "reason", "trace_id"}`: code 0 success, with invalid
//!   registration ids listed in `data.bad_regids`; code 20301 when the target
//!   registration ids are invalid (*unconfirmed*, as relied on by open-source
//!   senders); a wrong app secret is answered 401 or code 22000
//!   (*unconfirmed*). 429 and 5xx are retried.

use super::{Clock, Common, Outcome, PerCategory, ProviderError, PushRequest, XiaomiConfig, util};

const MAX_TITLE_CHARS: usize = 49;
const MAX_DESCRIPTION_CHARS: usize = 127;
const MAX_TTL_SECS: u32 = 14 * 24 * 3600;

pub(super) struct Xiaomi {
    client: reqwest::Client,
    send_url: String,
    authorization: String,
    channel_ids: PerCategory,
    clock: Clock,
}

impl Xiaomi {
    pub fn new(config: &XiaomiConfig, common: Common, clock: Clock) -> Result<Self, ProviderError> {
        let base = util::base_url("xiaomi.base_url", &config.base_url)?;
        let secret = util::required("xiaomi.app_secret", &config.app_secret)?;
        config.channel_ids.require_service("xiaomi.channel_ids")?;
        Ok(Self {
            client: util::client("xiaomi", common, false)?,
            send_url: format!("{base}/v3/message/regid"),
            authorization: format!("key={secret}"),
            channel_ids: config.channel_ids.clone(),
            clock,
        })
    }

    pub async fn send(&self, request: &PushRequest) -> Outcome {
        let Some(channel) = self.channel_ids.get(request.category) else {
            return Outcome::permanent(format!(
                "xiaomi no channel_ids.{} configured",
                request.category.as_str()
            ));
        };
        if request.title.trim().is_empty() || request.title.chars().count() > MAX_TITLE_CHARS {
            return Outcome::permanent("xiaomi title empty or 50 characters or longer");
        }
        if request.body.chars().count() > MAX_DESCRIPTION_CHARS {
            return Outcome::permanent("xiaomi description 128 characters or longer");
        }
        let ttl_ms = u64::from(request.ttl_secs.min(MAX_TTL_SECS)) * 1000;
        let mut form: Vec<(&str, String)> = vec![
            ("registration_id", request.token.clone()),
            ("restricted_package_name", request.app_id.clone()),
            ("pass_through", "0".to_owned()),
            ("title", request.title.clone()),
            ("description", request.body.clone()),
            ("notify_type", "-1".to_owned()),
            ("time_to_live", ttl_ms.to_string()),
            ("payload", util::data_payload(request).to_string()),
            ("extra.channel_id", channel.to_owned()),
            ("extra.jobkey", util::short_id(&request.delivery_id, 8)),
            ("extra.notify_foreground", "1".to_owned()),
        ];
        if let Some(key) = &request.collapse_key {
            form.push(("notify_id", util::small_id(key, 1_000_000).to_string()));
        }
        let response = match self
            .client
            .post(&self.send_url)
            .header("authorization", &self.authorization)
            .form(&form)
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) => return util::transport_failure("xiaomi", &e),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = match util::body(response, util::BODY_LIMIT).await {
            Ok(bytes) => bytes,
            Err(e) => return util::transport_failure("xiaomi", &e),
        };
        if status == 429 || (500..=599).contains(&status) {
            return util::retry_with(&headers, (self.clock)(), format!("xiaomi {status}"));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let code = util::json_code(value.get("code"))
            .map(|c| util::code(&c))
            .unwrap_or_else(|| "-".to_owned());
        let text = format!("xiaomi {status} {code}");
        match (status, code.as_str()) {
            (200, "0") => {
                let bad = value["data"]["bad_regids"].as_str().unwrap_or("");
                if bad.split(',').any(|id| id.trim() == request.token) {
                    Outcome::dead(format!("{text} bad_regids"))
                } else {
                    Outcome::Delivered
                }
            }
            (_, "20301") => Outcome::dead(text),
            _ => Outcome::permanent(text),
        }
    }
}
