//! Operator routes, behind the configured admin token: registering websites
//! for scan-to-login (relying parties) and reading the audit log.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::crypto::Suite;

use crate::AppState;
use crate::audit;
use crate::auth::{random_token, token_hash};
use crate::error::{ApiError, ErrorBody};
use crate::issuer::now;
use crate::login_sessions::parse_claims;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_relying_party))
        .routes(routes!(audit_log))
}

/// Checks the admin bearer token in constant time.
pub(crate) fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.config().admin_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "YW-4030",
            "the admin API is disabled: set admin_token in the configuration",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compare MACs of both under a fixed key: constant time whatever the lengths.
    let key = b"yiwang/admin-token";
    Suite::Intl
        .verify_mac(
            key,
            given.as_bytes(),
            &Suite::Intl.mac(key, expected.as_bytes()),
        )
        .map_err(|_| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "YW-4015",
                "an admin bearer token is required",
            )
        })
}

/// A registered client's display name: 1-100 characters, no control characters.
pub(crate) fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "YW-4018",
            "name: 1-100 characters, no control characters",
        ));
    }
    Ok(name.to_owned())
}

/// The client id asked for (3-64 of a-z 0-9 - .), or a random one `<prefix>-<hex>`.
pub(crate) fn valid_client_id(asked: Option<String>, prefix: &str) -> Result<String, ApiError> {
    match asked {
        Some(id) => {
            let ok = (3..=64).contains(&id.len())
                && id.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !ok {
                return Err(ApiError::unprocessable(
                    "YW-4019",
                    "client_id: 3-64 characters of a-z 0-9 - .",
                ));
            }
            Ok(id)
        }
        None => {
            let mut id = [0u8; 6];
            yiwang_core::crypto::random_bytes(&mut id).map_err(ApiError::internal)?;
            Ok(format!("{prefix}-{}", hex::encode(id)))
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    name: String,
    /// The most the website may ask for (a disclosure list, as in presentations).
    #[serde(default)]
    claims: Vec<String>,
    #[serde(default)]
    client_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    client_id: String,
    client_secret: String,
    name: String,
    claims: Vec<String>,
}

/// `POST /v1/admin/relying-parties` → 201 with the client secret (shown once).
#[utoipa::path(post, path = "/v1/admin/relying-parties", tag = "admin", security(("admin" = [])),
    request_body = RegisterRequest, responses(
    (status = 201, description = "Registered; the secret is shown this once", body = Registered),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 403, description = "YW-4030 admin API disabled", body = ErrorBody),
    (status = 409, description = "YW-4093 client_id taken", body = ErrorBody),
    (status = 422, description = "YW-4018 bad name, YW-4019 bad client_id, YW-4020 unknown claim", body = ErrorBody)))]
async fn register_relying_party(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let Json(request) = body?;
    let name = valid_name(&request.name)?;
    let claims = parse_claims(&request.claims)?;
    let client_id = valid_client_id(request.client_id, "rp")?;
    let secret = random_token(32)?;
    let inserted = sqlx::query(
        "INSERT INTO relying_parties (client_id, name, secret_hash, claims, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO NOTHING",
    )
    .bind(&client_id)
    .bind(&name)
    .bind(token_hash(&secret))
    .bind(claims.join(","))
    .bind(now())
    .execute(state.db().pool())
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4093",
            "a relying party with this client_id exists",
        ));
    }
    audit::record(state.db().pool(), "admin", "relying_party.registered", None).await?;
    let body = Registered {
        client_id,
        client_secret: secret,
        name,
        claims,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `citizen`, `enrolment`, `admin`, `rp:<client id>`
    actor: Option<String>,
    action: Option<String>,
    subject: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    entries: Vec<audit::Entry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    next_before: Option<i64>,
}

/// `GET /v1/admin/audit`: newest first. Reading the log is itself logged.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", security(("admin" = [])),
    params(AuditQuery), responses(
    (status = 200, description = "Matching entries, newest first", body = AuditPage),
    (status = 400, description = "YW-4006 bad query", body = ErrorBody),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 403, description = "YW-4030 admin API disabled", body = ErrorBody)))]
async fn audit_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    require_admin(&state, &headers)?;
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "YW-4006",
            "bad query: actor, action, subject text; since, until, before, limit whole numbers",
        )
    })?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "YW-4006",
            "limit must be 1-500",
        ));
    }
    let filter = audit::Filter {
        actor: query.actor,
        action: query.action,
        subject: query.subject,
        since: query.since,
        until: query.until,
        before: query.before,
        limit,
    };
    let entries = audit::query(state.db(), &filter).await?;
    audit::record(
        state.db().pool(),
        "admin",
        "audit.read",
        filter.subject.as_deref(),
    )
    .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries,
        next_before,
    }))
}
