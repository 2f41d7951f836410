//! Scan-to-login for government websites (扫码登录, 一次认证、多点互联).
//!
//! 1. A registered website (relying party, HTTP Basic with its client id and
//!    secret) opens a session: `POST /v1/login-sessions` → a QR text
//!    `yiwang://login?server=…&session=…` it shows on its login page.
//! 2. The app scans it, reads `GET /v1/login-sessions/{id}` (the website's
//!    name, the claims it asks for, the audience and nonce to present to),
//!    and the citizen approves — a presentation bound to this session by its
//!    audience (the client id) and nonce, made by the bearer's own credential —
//!    or refuses.
//! 3. The website polls (or long-polls) `GET /v1/login-sessions/{id}/result`
//!    and receives, once, an ES256 ID token with the holder's pairwise `sub`
//!    for that website and only the claims the citizen disclosed.
//!
//! Sessions expire (default 2 minutes) and are decided once.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::credential::{
    ClaimValue, DerivedRequest, PresentationRequest, VerifiedPresentation,
};

use crate::AppState;
use crate::audit;
use crate::auth::{authenticate, basic_credentials, random_token, secret_matches, sign_jwt};
use crate::error::{ApiError, ErrorBody};
use crate::issuer::now;

/// Lifetime of an ID token.
pub const ID_TOKEN_SECS: i64 = 300;
/// Longest a result poll may wait.
pub const MAX_WAIT_SECS: u64 = 25;
const MAX_RP_NONCE_LEN: usize = 64;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open))
        .routes(routes!(show))
        .routes(routes!(approve))
        .routes(routes!(refuse))
        .routes(routes!(result))
}

/// Validates a disclosure list (claim names and `age_over_N`-style
/// statements, as in presentations) and returns it normalised.
pub(crate) fn parse_claims(claims: &[String]) -> Result<Vec<String>, ApiError> {
    let bad = || {
        ApiError::unprocessable(
            "YW-4020",
            "claims: unknown claim name (see the disclosure list in docs/formats.md)",
        )
    };
    if claims.len() > 16 {
        return Err(bad());
    }
    let mut out: Vec<String> = Vec::new();
    for claim in claims {
        let claim = claim.trim();
        if claim.is_empty() || claim.contains(',') {
            return Err(bad());
        }
        PresentationRequest::new("check")
            .with_disclosure_list(claim)
            .map_err(|_| bad())?;
        if !out.iter().any(|c| c == claim) {
            out.push(claim.to_owned());
        }
    }
    Ok(out)
}

fn split_claims(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A relying party authenticated by HTTP Basic.
struct RelyingParty {
    client_id: String,
    claims: Vec<String>,
}

async fn relying_party(state: &AppState, headers: &HeaderMap) -> Result<RelyingParty, ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "YW-4021",
            "relying party authentication required (HTTP Basic client_id:client_secret)",
        )
    };
    let (client_id, secret) = basic_credentials(headers).ok_or_else(unauthorized)?;
    let row = sqlx::query(
        "SELECT client_id, secret_hash, claims FROM relying_parties WHERE client_id = $1",
    )
    .bind(&client_id)
    .fetch_optional(state.db().pool())
    .await?
    .ok_or_else(unauthorized)?;
    if !secret_matches(&secret, &row.try_get::<String, _>("secret_hash")?) {
        return Err(unauthorized());
    }
    Ok(RelyingParty {
        client_id: row.try_get("client_id")?,
        claims: split_claims(&row.try_get::<String, _>("claims")?),
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// A disclosure list within the party's registration, e.g. `["name", "age_over_18"]`.
    #[serde(default)]
    claims: Vec<String>,
    /// Echoed in the ID token (at most 64 characters).
    #[serde(default)]
    nonce: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Opened {
    session_id: String,
    qr_text: String,
    expires_in: i64,
    expires_at: i64,
}

/// `POST /v1/login-sessions` (relying party) → 201 with the QR text.
#[utoipa::path(post, path = "/v1/login-sessions", tag = "scan-to-login", security(("client" = [])),
    request_body = OpenRequest, responses(
    (status = 201, description = "A session; show `qr_text` as a QR code", body = Opened),
    (status = 401, description = "YW-4021 relying party authentication failed", body = ErrorBody),
    (status = 403, description = "YW-4032 a claim outside the registration", body = ErrorBody),
    (status = 422, description = "YW-4020 unknown claim, YW-4022 bad nonce", body = ErrorBody)))]
async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<OpenRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let rp = relying_party(&state, &headers).await?;
    let Json(request) = body?;
    let claims = parse_claims(&request.claims)?;
    if let Some(claim) = claims.iter().find(|c| !rp.claims.contains(c)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "YW-4032",
            format!("claim `{claim}` is not in this relying party's registration"),
        ));
    }
    if request.nonce.as_ref().is_some_and(|n| {
        n.is_empty() || n.len() > MAX_RP_NONCE_LEN || n.chars().any(char::is_control)
    }) {
        return Err(ApiError::unprocessable(
            "YW-4022",
            "nonce: 1-64 characters, no control characters",
        ));
    }
    let at = now();
    let lifetime = state.config().login_session_secs;
    let pool = state.db().pool();
    // Sessions are short-lived: forget those that ended over an hour ago.
    sqlx::query("DELETE FROM login_sessions WHERE expires_at < $1")
        .bind(at - 3600)
        .execute(pool)
        .await?;
    let session_id = random_token(24)?;
    sqlx::query(
        "INSERT INTO login_sessions (session_id, client_id, claims, rp_nonce, nonce, created_at, expires_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
    )
    .bind(&session_id)
    .bind(&rp.client_id)
    .bind(claims.join(","))
    .bind(request.nonce.as_deref())
    .bind(random_token(16)?)
    .bind(at)
    .bind(at + lifetime)
    .execute(pool)
    .await?;
    let qr_text = format!(
        "yiwang://login?server={}&session={session_id}",
        percent_encode(&state.config().public_url())
    );
    let body = Opened {
        session_id,
        qr_text,
        expires_in: lifetime,
        expires_at: at + lifetime,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A session as stored.
struct Session {
    client_id: String,
    claims: Vec<String>,
    rp_nonce: Option<String>,
    nonce: String,
    expires_at: i64,
    status: String,
}

impl Session {
    /// The status as the outside sees it: a pending session past its end is expired.
    fn effective_status(&self, at: i64) -> &str {
        if self.status == "pending" && self.expires_at <= at {
            "expired"
        } else {
            &self.status
        }
    }
}

async fn load(state: &AppState, id: &str) -> Result<Session, ApiError> {
    let row = sqlx::query(
        "SELECT client_id, claims, rp_nonce, nonce, expires_at, status FROM login_sessions WHERE session_id = $1",
    )
    .bind(id)
    .fetch_optional(state.db().pool())
    .await?
    .ok_or_else(|| ApiError::not_found("YW-4042", "no such login session"))?;
    Ok(Session {
        client_id: row.try_get("client_id")?,
        claims: split_claims(&row.try_get::<String, _>("claims")?),
        rp_nonce: row.try_get("rp_nonce")?,
        nonce: row.try_get("nonce")?,
        expires_at: row.try_get("expires_at")?,
        status: row.try_get("status")?,
    })
}

/// The relying party as the app shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelyingPartyInfo {
    client_id: String,
    name: String,
}

/// What the app needs to show a login request and answer it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    session_id: String,
    relying_party: RelyingPartyInfo,
    /// Present to this audience (the client id)…
    audience: String,
    /// …disclosing these claims…
    claims: Vec<String>,
    /// …with this nonce.
    nonce: String,
    expires_at: i64,
    /// `pending`, `approved`, `refused`, `completed` or `expired`.
    status: String,
}

/// `GET /v1/login-sessions/{id}`: what the app shows before the citizen decides.
#[utoipa::path(get, path = "/v1/login-sessions/{id}", tag = "scan-to-login",
    params(("id" = String, Path, description = "The `session` of the QR code")),
    responses(
    (status = 200, description = "The request", body = SessionInfo),
    (status = 404, description = "YW-4042 no such session", body = ErrorBody)))]
async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let session = load(&state, &id).await?;
    let name: String = sqlx::query_scalar("SELECT name FROM relying_parties WHERE client_id = $1")
        .bind(&session.client_id)
        .fetch_one(state.db().pool())
        .await?;
    let body = SessionInfo {
        session_id: id,
        status: session.effective_status(now()).to_owned(),
        relying_party: RelyingPartyInfo {
            client_id: session.client_id.clone(),
            name,
        },
        audience: session.client_id,
        claims: session.claims,
        nonce: session.nonce,
        expires_at: session.expires_at,
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Refuses a decision on a session that is not pending any more.
fn check_pending(session: &Session, at: i64) -> Result<(), ApiError> {
    match session.effective_status(at) {
        "pending" => Ok(()),
        "expired" => Err(ApiError::new(
            StatusCode::GONE,
            "YW-4100",
            "the login session has expired",
        )),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4092",
            "the login session was already decided",
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    /// `YW1:…`, made to the session's audience with its nonce.
    presentation: String,
}

/// A session's outcome; `id_token` is handed to the relying party once.
#[derive(Debug, Serialize, ToSchema)]
pub struct Outcome {
    /// `pending`, `approved`, `refused`, `completed` or `expired`.
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl Outcome {
    fn status(status: &str) -> Json<Self> {
        Json(Self {
            status: status.to_owned(),
            id_token: None,
        })
    }
}

/// Checks the presentation answers `session`'s request.
fn disclosed_everything(
    verified: &VerifiedPresentation,
    session: &Session,
) -> Result<(), ApiError> {
    let request = PresentationRequest::new(&session.client_id)
        .with_disclosure_list(&session.claims.join(","))
        .map_err(ApiError::internal)?;
    let missing = || {
        ApiError::unprocessable(
            "YW-4016",
            "the presentation does not disclose every requested claim",
        )
    };
    if request
        .claims
        .iter()
        .any(|claim| !verified.claims.contains_key(claim))
    {
        return Err(missing());
    }
    for derived in &request.derived {
        let shown = match derived {
            DerivedRequest::AgeRange => verified.age_range.is_some(),
            DerivedRequest::AgeOver(n) => verified
                .derived
                .iter()
                .any(|d| d.name() == format!("age_over_{n}")),
            DerivedRequest::AgeUnder(n) => verified
                .derived
                .iter()
                .any(|d| d.name() == format!("age_under_{n}")),
        };
        if !shown {
            return Err(missing());
        }
    }
    Ok(())
}

/// The ID token's claims: the protocol ones and what was disclosed.
fn id_token_claims(
    state: &AppState,
    session: &Session,
    verified: &VerifiedPresentation,
) -> Map<String, Value> {
    let at = now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(state.config().public_url()));
    claims.insert("aud".into(), json!(session.client_id));
    claims.insert("sub".into(), json!(verified.pairwise_id));
    claims.insert("iat".into(), json!(at));
    claims.insert("exp".into(), json!(at + ID_TOKEN_SECS));
    claims.insert("auth_time".into(), json!(verified.presented_at));
    claims.insert(
        "acr".into(),
        json!(format!("yiwang:{}", verified.mode.name())),
    );
    if let Some(nonce) = &session.rp_nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    for (claim, value) in &verified.claims {
        let value = match value {
            ClaimValue::Text(text) => json!(text),
            ClaimValue::Bytes(bytes) => json!(hex::encode(bytes)),
        };
        claims.insert(claim.name().into(), value);
    }
    for derived in &verified.derived {
        claims.insert(derived.name(), json!(true));
    }
    if let Some(range) = &verified.age_range {
        claims.insert("age_range".into(), json!(range));
    }
    claims
}

/// `POST /v1/login-sessions/{id}/approve` (citizen).
#[utoipa::path(post, path = "/v1/login-sessions/{id}/approve", tag = "scan-to-login", security(("bearer" = [])),
    params(("id" = String, Path, description = "The session")), request_body = ApproveRequest,
    responses(
    (status = 200, description = "Approved", body = Outcome),
    (status = 401, description = "YW-4010 not signed in, YW-14xx presentation refused", body = ErrorBody),
    (status = 403, description = "YW-4031 not the signed-in citizen's credential", body = ErrorBody),
    (status = 404, description = "YW-4042 no such session", body = ErrorBody),
    (status = 409, description = "YW-4092 already decided", body = ErrorBody),
    (status = 410, description = "YW-4100 expired", body = ErrorBody),
    (status = 422, description = "YW-4016 a requested claim not disclosed", body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<ApproveRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let Json(request) = body?;
    let session = load(&state, &id).await?;
    let at = now();
    check_pending(&session, at)?;

    let issuer = state.issuer();
    let verified = issuer
        .verify_presentation(
            state.db(),
            &request.presentation,
            &session.client_id,
            session.nonce.as_bytes(),
        )
        .await?;
    // Only the bearer's own credential may approve for the bearer.
    let expected = issuer
        .issuer()
        .pairwise_id(&citizen.network_id, &session.client_id);
    if verified.pairwise_id != expected {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "YW-4031",
            "the presentation is not from the signed-in citizen's credential",
        ));
    }
    disclosed_everything(&verified, &session)?;
    let id_token = sign_jwt(&state, &id_token_claims(&state, &session, &verified)).await?;

    let mut tx = state.db().pool().begin().await?;
    let decided = sqlx::query(
        "UPDATE login_sessions SET status = 'approved', network_id = $1, decided_at = $2, id_token = $3 \
         WHERE session_id = $4 AND status = 'pending' AND expires_at > $2",
    )
    .bind(&citizen.network_id)
    .bind(at)
    .bind(&id_token)
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    if decided.rows_affected() != 1 {
        drop(tx);
        // Decided (or expired) by someone else meanwhile.
        let session = load(&state, &id).await?;
        check_pending(&session, now())?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4092",
            "the login session was already decided",
        ));
    }
    audit::record(
        &mut *tx,
        "citizen",
        &format!("login_session.approved:{}", session.client_id),
        Some(&citizen.network_id),
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome::status("approved").into_response())
}

/// `POST /v1/login-sessions/{id}/refuse` (citizen).
#[utoipa::path(post, path = "/v1/login-sessions/{id}/refuse", tag = "scan-to-login", security(("bearer" = [])),
    params(("id" = String, Path, description = "The session")),
    responses(
    (status = 200, description = "Refused", body = Outcome),
    (status = 401, description = "YW-4010 not signed in", body = ErrorBody),
    (status = 404, description = "YW-4042 no such session", body = ErrorBody),
    (status = 409, description = "YW-4092 already decided", body = ErrorBody),
    (status = 410, description = "YW-4100 expired", body = ErrorBody)))]
async fn refuse(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let session = load(&state, &id).await?;
    let at = now();
    check_pending(&session, at)?;
    let decided = sqlx::query(
        "UPDATE login_sessions SET status = 'refused', network_id = $1, decided_at = $2 \
         WHERE session_id = $3 AND status = 'pending' AND expires_at > $2",
    )
    .bind(&citizen.network_id)
    .bind(at)
    .bind(&id)
    .execute(state.db().pool())
    .await?;
    if decided.rows_affected() != 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4092",
            "the login session was already decided",
        ));
    }
    audit::record(
        state.db().pool(),
        "citizen",
        &format!("login_session.refused:{}", session.client_id),
        Some(&citizen.network_id),
    )
    .await?;
    Ok(Outcome::status("refused").into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultQuery {
    /// Long-poll: seconds (0-25, kept below the request timeout) to wait for a decision.
    #[serde(default)]
    wait: Option<u64>,
}

/// `GET /v1/login-sessions/{id}/result` (relying party): the outcome, and
/// the ID token the first time it is asked for after approval.
#[utoipa::path(get, path = "/v1/login-sessions/{id}/result", tag = "scan-to-login", security(("client" = [])),
    params(("id" = String, Path, description = "The session"), ResultQuery),
    responses(
    (status = 200, description = "The status, with the ID token once after approval", body = Outcome),
    (status = 400, description = "YW-4006 bad wait", body = ErrorBody),
    (status = 401, description = "YW-4021 relying party authentication failed", body = ErrorBody),
    (status = 404, description = "YW-4042 no such session of this party", body = ErrorBody)))]
async fn result(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<ResultQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let rp = relying_party(&state, &headers).await?;
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "YW-4006",
            "bad query: wait must be a whole number of seconds",
        )
    })?;
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "YW-4006",
            "wait must be 0-25 seconds",
        ));
    }
    // Stay clear of the request timeout.
    let wait = wait.min(state.config().request_timeout_secs.saturating_sub(1));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
    let session = loop {
        let session = load(&state, &id).await?;
        if session.client_id != rp.client_id {
            // Another party's session does not exist, as far as this one knows.
            return Err(ApiError::not_found("YW-4042", "no such login session"));
        }
        if session.effective_status(now()) != "pending" || tokio::time::Instant::now() >= deadline {
            break session;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let status = session.effective_status(now()).to_owned();
    if status != "approved" {
        return Ok(Outcome::status(&status).into_response());
    }
    let row = sqlx::query("SELECT id_token, network_id FROM login_sessions WHERE session_id = $1")
        .bind(&id)
        .fetch_one(state.db().pool())
        .await?;
    let id_token: Option<String> = row.try_get("id_token")?;
    let network_id: Option<String> = row.try_get("network_id")?;
    let taken = sqlx::query(
        "UPDATE login_sessions SET status = 'completed', id_token = NULL WHERE session_id = $1 AND status = 'approved'",
    )
    .bind(&id)
    .execute(state.db().pool())
    .await?;
    let (1, Some(id_token)) = (taken.rows_affected(), id_token) else {
        return Ok(Outcome::status("completed").into_response());
    };
    audit::record(
        state.db().pool(),
        &format!("rp:{}", rp.client_id),
        "id_token.issued",
        network_id.as_deref(),
    )
    .await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(Outcome {
            status: "approved".into(),
            id_token: Some(id_token),
        }),
    )
        .into_response())
}
