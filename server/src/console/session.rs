//! Console users, passwords and browser sessions.
//!
//! A session is a random token in an `HttpOnly`, `SameSite=Strict` cookie
//! scoped to `/console` (`Secure` and `__Host-` prefixed when the public URL
//! is HTTPS); the database keeps its SHA-256 and the session's CSRF token,
//! which every form carries back. Sessions end after 30 minutes idle or
//! 12 hours in all, and on sign-out. The sign-in form itself is protected by
//! a double-submit token (a cookie and a hidden field that must match).

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use sqlx::Row;
use yiwang_core::crypto::Suite;

use super::{ConsoleError, Role};
use crate::AppState;
use crate::auth::{random_token, token_hash};
use crate::error::ApiError;
use crate::push::now_ms;

/// OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
const PBKDF2_ITERATIONS: u32 = 600_000;
const IDLE_MS: i64 = 30 * 60 * 1000;
const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;

/// A console user, as signed in.
#[derive(Clone, Debug)]
pub struct User {
    pub username: String,
    pub role: Role,
    /// For `department`: the service client whose events it sees.
    pub department: Option<String>,
    /// For `window`: the counter, audience `window:<window_id>`.
    pub window_id: Option<String>,
}

impl User {
    /// The actor in the audit log.
    pub fn actor(&self) -> String {
        format!("console:{}", self.username)
    }
}

/// A signed-in request: the user and the session's CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    token_hash: String,
}

/// `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    yiwang_core::crypto::random_bytes(&mut salt).map_err(ApiError::internal)?;
    let mut out = [0u8; 32];
    let iterations = NonZeroU32::new(PBKDF2_ITERATIONS).expect("non-zero");
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &mut out,
    );
    Ok(format!(
        "pbkdf2-sha256${PBKDF2_ITERATIONS}${}${}",
        hex::encode(salt),
        hex::encode(out)
    ))
}

/// Whether `password` matches `stored` ([`hash_password`]); constant time.
pub fn password_matches(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Some(iterations), Ok(salt), Ok(hash)) = (
        iterations.parse().ok().and_then(NonZeroU32::new),
        hex::decode(salt),
        hex::decode(hash),
    ) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        &salt,
        password.as_bytes(),
        &hash,
    )
    .is_ok()
}

/// Whether two secrets are equal, in constant time whatever their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    let key = b"yiwang/console-csrf";
    Suite::Intl
        .verify_mac(key, a.as_bytes(), &Suite::Intl.mac(key, b.as_bytes()))
        .is_ok()
}

/// A password that stands in for an unknown user, so signing in with a
/// wrong username costs the same time as with a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy").unwrap_or_default())
}

/// Checks a username and password; `None` for either wrong.
pub async fn check_password(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<Option<User>, ApiError> {
    let row = sqlx::query(
        "SELECT username, password_hash, role, department, window_id FROM console_users \
         WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(state.db().pool())
    .await?;
    let Some(row) = row else {
        password_matches(password, decoy_hash());
        return Ok(None);
    };
    let stored: String = row.try_get("password_hash")?;
    if !password_matches(password, &stored) {
        return Ok(None);
    }
    user_of(&row).map(Some)
}

fn user_of(row: &sqlx::any::AnyRow) -> Result<User, ApiError> {
    let role: String = row.try_get("role")?;
    Ok(User {
        username: row.try_get("username")?,
        role: Role::parse(&role).ok_or_else(|| ApiError::internal("unknown console role"))?,
        department: row.try_get("department")?,
        window_id: row.try_get("window_id")?,
    })
}

/// Starts a session for `user`; returns the cookie's token.
pub async fn start(state: &AppState, user: &User) -> Result<String, ApiError> {
    let token = random_token(32)?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO console_sessions (token_hash, username, csrf, created_ms, last_seen_ms) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(token_hash(&token))
    .bind(&user.username)
    .bind(random_token(32)?)
    .bind(now)
    .execute(state.db().pool())
    .await?;
    Ok(token)
}

/// Ends the session (sign-out).
pub async fn end(state: &AppState, session: &Session) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
        .bind(&session.token_hash)
        .execute(state.db().pool())
        .await?;
    Ok(())
}

/// The live session of the request's cookie, its last use moved to now.
async fn load(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, ApiError> {
    let Some(token) = cookie(headers, &session_cookie_name(state)) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let now = now_ms();
    let row = sqlx::query(
        "SELECT s.csrf, u.username, u.role, u.department, u.window_id FROM console_sessions s \
         JOIN console_users u ON u.username = s.username \
         WHERE s.token_hash = $1 AND s.last_seen_ms > $2 AND s.created_ms > $3",
    )
    .bind(&hash)
    .bind(now - IDLE_MS)
    .bind(now - ABSOLUTE_MS)
    .fetch_optional(state.db().pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    sqlx::query("UPDATE console_sessions SET last_seen_ms = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(&hash)
        .execute(state.db().pool())
        .await?;
    Ok(Some(Session {
        user: user_of(&row)?,
        csrf: row.try_get("csrf")?,
        token_hash: hash,
    }))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        load(state, &parts.headers)
            .await?
            .ok_or(ConsoleError::SignedOut)
    }
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn secure(state: &AppState) -> bool {
    state.config().public_url().starts_with("https://")
}

/// `__Host-yw_console` behind HTTPS (the prefix needs `Secure` and `Path=/`), else `yw_console`.
pub fn session_cookie_name(state: &AppState) -> String {
    if secure(state) {
        "__Host-yw_console".to_owned()
    } else {
        "yw_console".to_owned()
    }
}

/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "yw_console_login";

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure behind HTTPS;
/// `max_age` 0 deletes the cookie.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let path = if name.starts_with("__Host-") {
        "/"
    } else {
        "/console"
    };
    let secure = if secure(state) { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// Seconds a session cookie lives (the absolute limit; idle ends it sooner).
pub const SESSION_COOKIE_SECS: i64 = ABSOLUTE_MS / 1000;
