//! Cached bearer tokens (FCM, Huawei, Honor OAuth access tokens; OPPO and vivo
//! auth tokens) and the OAuth 2.0 token request they share.

use serde::Deserialize;
use tokio::sync::Mutex;

use super::{Outcome, util};

/// One cached token and when to stop using it (Unix ms, already shortened by
/// the safety margin).
#[derive(Clone)]
pub(super) struct Cached {
    pub token: String,
    pub renew_at_ms: i64,
}

/// A token fetched once for all concurrent senders: the lock is held while
/// fetching, so an expired token causes one request, not one per sender.
#[derive(Default)]
pub(super) struct TokenCache {
    slot: Mutex<Option<Cached>>,
}

impl TokenCache {
    /// The cached token if it is still good at `now_ms`, else the one `fetch`
    /// gets (whose failure is the send's outcome).
    pub async fn get<F, Fut>(&self, now_ms: i64, fetch: F) -> Result<String, Outcome>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Cached, Outcome>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && cached.renew_at_ms > now_ms
        {
            return Ok(cached.token.clone());
        }
        let fresh = fetch().await?;
        let token = fresh.token.clone();
        *slot = Some(fresh);
        Ok(token)
    }

    /// Forgets `token` after the provider refused it (unless another sender
    /// already replaced it).
    pub async fn invalidate(&self, token: &str) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| c.token == token) {
            *slot = None;
        }
    }
}

/// Renew OAuth access tokens this long before they expire.
pub(super) const MARGIN_MS: i64 = 5 * 60 * 1000;

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<i64>,
}

/// `POST url` with a form (RFC 6749 §4.4 client credentials, or RFC 7523
/// JWT bearer), answering `{access_token, expires_in}`. The token is cached
/// until 5 minutes before it expires. A 4xx is the credentials' fault
/// (`Permanent`, with the `error` code of the answer); 429, 5xx and transport
/// failures are `Retry`.
pub(super) async fn fetch_token(
    client: &reqwest::Client,
    provider: &str,
    url: &str,
    form: &[(&str, &str)],
    now_ms: i64,
) -> Result<Cached, Outcome> {
    let response = client
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(|e| util::transport_failure(&format!("{provider} oauth"), &e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = util::body(response, util::BODY_LIMIT)
        .await
        .map_err(|e| util::transport_failure(&format!("{provider} oauth"), &e))?;
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(util::retry_with(
            &headers,
            now_ms,
            format!("{provider} oauth {}", status.as_u16()),
        ));
    }
    if !status.is_success() {
        let error = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| util::json_code(v.get("error")))
            .map(|c| util::code(&c))
            .unwrap_or_else(|| "-".to_owned());
        return Err(Outcome::permanent(format!(
            "{provider} oauth {} {error}",
            status.as_u16()
        )));
    }
    let answer: TokenAnswer = serde_json::from_slice(&bytes)
        .map_err(|_| Outcome::retry(format!("{provider} oauth unreadable answer")))?;
    let token = answer
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Outcome::retry(format!("{provider} oauth answer without token")))?;
    let lifetime_ms = answer.expires_in.unwrap_or(3600).saturating_mul(1000);
    Ok(Cached {
        token,
        renew_at_ms: now_ms + (lifetime_ms - MARGIN_MS).max(lifetime_ms / 2),
    })
}
