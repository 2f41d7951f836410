//! Helpers shared by the provider clients: HTTP clients and the classification
//! of transport failures, `Retry-After`, PEM/DER, ids derived from the
//! delivery id, and masking.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::{Common, Outcome, ProviderError};

/// One provider's HTTP client: rustls (the platform's roots), the configured
/// connect and request timeouts, no redirects. `h2c` speaks HTTP/2 with prior
/// knowledge (APNs on a cleartext loopback base URL, in tests).
pub(super) fn client(
    provider: &str,
    common: Common,
    h2c: bool,
) -> Result<reqwest::Client, ProviderError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(common.connect_timeout_ms))
        .timeout(Duration::from_millis(common.request_timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("yiwang/", env!("CARGO_PKG_VERSION")));
    if h2c {
        builder = builder.http2_prior_knowledge();
    }
    builder
        .build()
        .map_err(|_| ProviderError::new(provider, "the HTTP client could not be built"))
}

/// Checks a base URL setting: `https://`, or `http://` (tests on loopback).
/// Answers it without a trailing slash.
pub(super) fn base_url(setting: &str, value: &str) -> Result<String, ProviderError> {
    let value = value.trim().trim_end_matches('/');
    if !(value.starts_with("https://") || value.starts_with("http://")) || value.len() < 9 {
        return Err(ProviderError::new(
            setting,
            "expected an https:// (or http:// for local tests) URL",
        ));
    }
    Ok(value.to_owned())
}

pub(super) fn required(setting: &str, value: &str) -> Result<String, ProviderError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ProviderError::new(setting, "must not be empty"));
    }
    Ok(value.to_owned())
}

/// A request that did not get an answer. The error's text is not used: it
/// can carry the URL, and APNs URLs carry the device token.
pub(super) fn transport_failure(provider: &str, error: &reqwest::Error) -> Outcome {
    if error.is_builder() {
        // A header value we could not send (e.g. a non-ASCII app id).
        return Outcome::permanent(format!("{provider} request not valid"));
    }
    let what = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    Outcome::retry(format!("{provider} {what}"))
}

/// Reads at most `limit` bytes of a response body (longer bodies are cut: we
/// only look for codes in them).
pub(super) async fn body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// Bodies we parse are small JSON documents.
pub(super) const BODY_LIMIT: usize = 64 * 1024;

/// `Retry-After` as delay-seconds or an IMF-fixdate (RFC 9110 §10.2.3),
/// relative to `now_ms`.
pub(super) fn retry_after(headers: &HeaderMap, now_ms: i64) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = http_date(value)?;
    let delay_ms = at.saturating_mul(1000).saturating_sub(now_ms).max(0);
    Some(Duration::from_millis(u64::try_from(delay_ms).unwrap_or(0)))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → Unix seconds.
fn http_date(value: &str) -> Option<i64> {
    let rest = value.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u8 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => time::Month::January,
        "Feb" => time::Month::February,
        "Mar" => time::Month::March,
        "Apr" => time::Month::April,
        "May" => time::Month::May,
        "Jun" => time::Month::June,
        "Jul" => time::Month::July,
        "Aug" => time::Month::August,
        "Sep" => time::Month::September,
        "Oct" => time::Month::October,
        "Nov" => time::Month::November,
        "Dec" => time::Month::December,
        _ => return None,
    };
    let year: i32 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let hour: u8 = hms.next()?.parse().ok()?;
    let minute: u8 = hms.next()?.parse().ok()?;
    let second: u8 = hms.next()?.parse().ok()?;
    if parts.next()? != "GMT" {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let time = time::Time::from_hms(hour, minute, second).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// A `Retry` carrying the response's `Retry-After`.
pub(super) fn retry_with(headers: &HeaderMap, now_ms: i64, reason: String) -> Outcome {
    Outcome::Retry {
        after: retry_after(headers, now_ms),
        reason,
    }
}

/// A vendor's code or reason string, safe to put in an [`Outcome`] reason:
/// only `[A-Za-z0-9_.-]`, at most 48 characters (vendor messages are never
/// copied: some echo the token).
pub(super) fn code(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(48)
        .collect();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned
    }
}

/// A JSON value that is a string or a number, as a code string.
pub(super) fn json_code(value: Option<&serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The DER inside a PEM document with `label` (e.g. `PRIVATE KEY`).
pub(super) fn pem_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    let (found, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).ok()?;
    (found == label).then_some(der)
}

/// One DER TLV: (tag, content, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (what
/// service-account files hold; jsonwebtoken signs RS256 with PKCS#1 DER).
pub(super) fn pkcs8_to_pkcs1(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, info, _) = der_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _version, rest) = der_tlv(info)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, _algorithm, rest) = der_tlv(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, key, _) = der_tlv(rest)?;
    (tag == 0x04).then(|| key.to_vec())
}

pub(super) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A UUID (RFC 9562 version 8: custom, here SHA-256 of the delivery id), so
/// every attempt of one delivery carries the same `apns-id`.
pub(super) fn uuid_from(delivery_id: &str) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&sha256(delivery_id.as_bytes())[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A short id of `[0-9A-Za-z]` derived from the delivery id (Xiaomi's jobkey
/// allows at most 8 such characters in its older documentation).
pub(super) fn short_id(delivery_id: &str, len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let hash = sha256(delivery_id.as_bytes());
    let mut n = u128::from_be_bytes(hash[..16].try_into().unwrap_or([0; 16]));
    (0..len)
        .map(|_| {
            let c = ALPHABET[(n % 62) as usize];
            n /= 62;
            char::from(c)
        })
        .collect()
}

/// A small positive number derived from a collapse key (vendors whose
/// notification id is an integer).
pub(super) fn small_id(key: &str, modulo: u32) -> u32 {
    let hash = sha256(key.as_bytes());
    u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]) % modulo + 1
}

/// The data every push carries for the app: the message id to fetch and the
/// delivery id to dedupe on.
pub(super) fn data_payload(request: &super::PushRequest) -> serde_json::Value {
    serde_json::json!({
        "message_id": request.message_id,
        "delivery_id": request.delivery_id,
        "category": request.category.as_str(),
    })
}

/// Debug of a token: its first 4 characters and `…`.
pub(super) struct Masked<'a>(pub &'a str);

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head: String = self.0.chars().take(4).collect();
        write!(f, "\"{head}…\"")
    }
}

/// Debug of a text: only its length.
pub(super) struct Chars<'a>(pub &'a str);

impl fmt::Debug for Chars<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} chars>", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_and_seconds() {
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 CET"), None);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "120".parse().expect("header"));
        assert_eq!(retry_after(&headers, 0), Some(Duration::from_secs(120)));
        headers.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("header"),
        );
        assert_eq!(
            retry_after(&headers, 784_111_777_000 - 30_000),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn ids_are_stable_and_well_formed() {
        let a = uuid_from("delivery-1");
        assert_eq!(a, uuid_from("delivery-1"));
        assert_ne!(a, uuid_from("delivery-2"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        let j = short_id("delivery-1", 8);
        assert_eq!(j.len(), 8);
        assert!(j.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!((1..=100).contains(&small_id("k", 100)));
    }

    #[test]
    fn codes_are_cleaned() {
        assert_eq!(code("BadDeviceToken"), "BadDeviceToken");
        assert_eq!(code("a b/c<script>"), "abcscript");
        assert_eq!(code(""), "-");
    }
}
