//! `Idempotency-Key` on creating calls (POST, PUT, PATCH, DELETE): the first
//! answer below 500 is kept, and a retry of the same request gets it again
//! instead of acting twice — what makes a mobile client's retry of
//! `refresh` or `enrol` after a lost answer safe.
//!
//! A record is found by a hash over the method, path, caller's credentials
//! (`Authorization`) and key; its body is sealed with AES-256-GCM under a key
//! derived from the idempotency key itself, which the server does not keep,
//! so the table alone does not give away the tokens or credentials in it.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use sqlx::Row;
use yiwang_core::crypto::Suite;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::ApiError;
use crate::issuer::now;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The middleware. Requests without the header pass straight through.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let creating = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    if !creating {
        return next.run(request).await;
    }
    match handle(&state, key, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(
    state: &AppState,
    key: HeaderValue,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = key.to_str().ok().filter(|k| valid_key(k)).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "YW-4005",
            "Idempotency-Key must be 1-64 characters of A-Z a-z 0-9 - _",
        )
    })?;
    let (parts, body) = request.into_parts();
    let limit = state.config().body_limit_bytes;
    let body = to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "YW-4004",
            "the body is too large",
        )
    })?;
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let scope = [
        parts.method.as_str().as_bytes(),
        b"\0",
        parts.uri.path().as_bytes(),
        b"\0",
        &authorization,
        b"\0",
        key.as_bytes(),
    ]
    .concat();
    let scope_hash =
        hex::encode(Suite::Intl.hash(&[b"yiwang/idempotency/scope\0", &scope[..]].concat()));
    let request_hash = hex::encode(Suite::Intl.hash(&body));
    let seal_key = sealing_key(&scope)?;

    let pool = state.db().pool();
    let at = now();
    // Forget expired records, and records of a process that died mid-request.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < $1 OR (status IS NULL AND created_at < $2)",
    )
    .bind(at - state.config().idempotency_secs)
    .bind(at - state.config().request_timeout_secs as i64 - 5)
    .execute(pool)
    .await?;
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (scope_hash, request_hash, created_at, status, sealed_body) \
         VALUES ($1, $2, $3, NULL, NULL) ON CONFLICT (scope_hash) DO NOTHING",
    )
    .bind(&scope_hash)
    .bind(&request_hash)
    .bind(at)
    .execute(pool)
    .await?;
    if claimed.rows_affected() == 0 {
        return replay(state, &scope_hash, &request_hash, &seal_key).await;
    }

    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = response.status();
    if status.is_server_error() {
        // Not an answer to keep: the caller may try again.
        sqlx::query("DELETE FROM idempotency_keys WHERE scope_hash = $1")
            .bind(&scope_hash)
            .execute(pool)
            .await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX)
        .await
        .map_err(ApiError::internal)?;
    let sealed = seal_key
        .seal(scope_hash.as_bytes(), &body)
        .map_err(ApiError::internal)?;
    sqlx::query("UPDATE idempotency_keys SET status = $1, sealed_body = $2 WHERE scope_hash = $3")
        .bind(i64::from(status.as_u16()))
        .bind(Base64::encode_string(&sealed))
        .bind(&scope_hash)
        .execute(pool)
        .await?;
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// AES-256-GCM key from the idempotency key and its scope.
fn sealing_key(scope: &[u8]) -> Result<yiwang_core::crypto::AeadKey, ApiError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    Suite::Intl
        .kdf(scope, b"yiwang/idempotency", b"seal", bytes.as_mut())
        .map_err(ApiError::internal)?;
    Suite::Intl
        .aead_key(bytes.as_ref())
        .map_err(ApiError::internal)
}

async fn replay(
    state: &AppState,
    scope_hash: &str,
    request_hash: &str,
    seal_key: &yiwang_core::crypto::AeadKey,
) -> Result<Response, ApiError> {
    let row = sqlx::query(
        "SELECT request_hash, status, sealed_body FROM idempotency_keys WHERE scope_hash = $1",
    )
    .bind(scope_hash)
    .fetch_optional(state.db().pool())
    .await?;
    let conflict = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "YW-4091",
            "a request with this Idempotency-Key is still being processed; retry later",
        )
    };
    // Deleted in between (it failed with a 5xx): the caller retries.
    let row = row.ok_or_else(conflict)?;
    let stored_hash: String = row.try_get("request_hash")?;
    if stored_hash != request_hash {
        return Err(ApiError::unprocessable(
            "YW-4220",
            "this Idempotency-Key was used for a different request",
        ));
    }
    let status: Option<i64> = row.try_get("status")?;
    let sealed: Option<String> = row.try_get("sealed_body")?;
    let (Some(status), Some(sealed)) = (status, sealed) else {
        return Err(conflict());
    };
    let sealed = Base64::decode_vec(&sealed).map_err(ApiError::internal)?;
    let body = seal_key
        .open(scope_hash.as_bytes(), &sealed)
        .map_err(ApiError::internal)?;
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| ApiError::internal("stored idempotent status out of range"))?;
    let mut response = (status, Bytes::from(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    // Every creating route answers JSON (or nothing, 204).
    if status == StatusCode::NO_CONTENT {
        headers.remove(header::CONTENT_TYPE);
    } else {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Ok(response)
}
