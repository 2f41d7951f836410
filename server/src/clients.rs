//! Internal callers: departments, the recommendation engine and operators'
//! tools, registered by an operator with scopes, authenticated by HTTP Basic
//! (`client_id:client_secret`, the secret stored hashed). The admin bearer
//! token stands for the operator and holds every scope.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::admin::require_admin;
use crate::audit;
use crate::auth::{basic_credentials, random_token, secret_matches, token_hash};
use crate::error::{ApiError, ErrorBody};
use crate::issuer::now;

/// What a service client may be allowed, besides `events:<type>` for each
/// event type it may post (see [`crate::events`]).
pub const SCOPES: [&str; 2] = [
    // Notifications to one account.
    "notifications:send",
    // Notifications to a segment (campaigns).
    "notifications:campaign",
];

fn is_known_scope(scope: &str) -> bool {
    SCOPES.contains(&scope)
        || crate::events::is_event_scope(scope)
        || crate::applications::department_of_scope(scope).is_some()
        || crate::library::licences::authority_of_scope(scope).is_some()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register_service_client))
}

/// An authenticated internal caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sender {
    /// `admin`, or `client:<client id>`: the actor in the audit log.
    pub actor: String,
    /// The service client; `None` for the admin.
    pub client_id: Option<String>,
    /// The client's scopes (the admin holds all and lists none).
    pub scopes: Vec<String>,
}

/// The caller of an internal route: the admin bearer token, or a service
/// client by HTTP Basic that holds `scope`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    scope: &str,
) -> Result<Sender, ApiError> {
    authenticate_any(state, headers, &[scope]).await
}

/// The caller of an internal route that holds any of `scopes`.
pub async fn authenticate_any(
    state: &AppState,
    headers: &HeaderMap,
    wanted: &[&str],
) -> Result<Sender, ApiError> {
    authenticate_where(state, headers, &wanted.join(" or "), |s| {
        wanted.contains(&s)
    })
    .await
}

/// The caller of an internal route that holds a scope `allowed` accepts
/// (`describe` names them in the refusal).
pub async fn authenticate_where(
    state: &AppState,
    headers: &HeaderMap,
    describe: &str,
    allowed: impl Fn(&str) -> bool,
) -> Result<Sender, ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if authorization.starts_with("Bearer ") {
        require_admin(state, headers)?;
        return Ok(Sender {
            actor: "admin".to_owned(),
            client_id: None,
            scopes: Vec::new(),
        });
    }
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "YW-4023",
            "service client authentication required (HTTP Basic client_id:client_secret)",
        )
    };
    let (client_id, secret) = basic_credentials(headers).ok_or_else(unauthorized)?;
    let row = sqlx::query("SELECT secret_hash, scopes FROM service_clients WHERE client_id = $1")
        .bind(&client_id)
        .fetch_optional(state.db().pool())
        .await?
        .ok_or_else(unauthorized)?;
    if !secret_matches(&secret, &row.try_get::<String, _>("secret_hash")?) {
        return Err(unauthorized());
    }
    let scopes: String = row.try_get("scopes")?;
    if !scopes.split(' ').any(&allowed) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "YW-4033",
            format!("this client is not allowed {describe}"),
        ));
    }
    Ok(Sender {
        actor: format!("client:{client_id}"),
        scopes: scopes.split(' ').map(str::to_owned).collect(),
        client_id: Some(client_id),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceClientRequest {
    name: String,
    /// Any of `notifications:send`, `notifications:campaign`,
    /// `events:<event type>` (e.g. `events:birth_registered`),
    /// `applications:<department code>`.
    scopes: Vec<String>,
    #[serde(default)]
    client_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceClient {
    client_id: String,
    /// Shown this once; stored hashed.
    client_secret: String,
    name: String,
    scopes: Vec<String>,
}

/// `POST /v1/admin/service-clients` → 201 with the client secret (shown once).
#[utoipa::path(post, path = "/v1/admin/service-clients", tag = "admin", security(("admin" = [])),
    request_body = ServiceClientRequest, responses(
    (status = 201, description = "Registered; the secret is shown this once", body = ServiceClient),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 403, description = "YW-4030 admin API disabled", body = ErrorBody),
    (status = 409, description = "YW-4093 client_id taken", body = ErrorBody),
    (status = 422, description = "YW-4018 bad name, YW-4019 bad client_id, YW-4024 unknown scope", body = ErrorBody)))]
async fn register_service_client(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ServiceClientRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let Json(request) = body?;
    let name = crate::admin::valid_name(&request.name)?;
    let mut scopes = Vec::new();
    for scope in request.scopes {
        if !is_known_scope(&scope) {
            return Err(ApiError::unprocessable(
                "YW-4024",
                format!(
                    "unknown scope; known: {}, events:<event type>",
                    SCOPES.join(", ")
                ),
            ));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(ApiError::unprocessable(
            "YW-4024",
            format!("give at least one scope of: {}", SCOPES.join(", ")),
        ));
    }
    let client_id = crate::admin::valid_client_id(request.client_id, "svc")?;
    let secret = random_token(32)?;
    let inserted = sqlx::query(
        "INSERT INTO service_clients (client_id, name, secret_hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO NOTHING",
    )
    .bind(&client_id)
    .bind(&name)
    .bind(token_hash(&secret))
    .bind(scopes.join(" "))
    .bind(now())
    .execute(state.db().pool())
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4093",
            "a client with this client_id exists",
        ));
    }
    audit::record(
        state.db().pool(),
        "admin",
        "service_client.registered",
        None,
    )
    .await?;
    let body = ServiceClient {
        client_id,
        client_secret: secret,
        name,
        scopes,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
