//! Identity routes: enrolment (issuing the 网证), the issuer's public key, and
//! its status list.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::issuer::{EnrolRequest, STATUS_MAX_AGE_SECS};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enrol))
        .routes(routes!(issuer))
        .routes(routes!(status_list))
}

/// A new 网证.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolled {
    /// The holder's 网号.
    network_id: String,
    /// 1 for the first enrolment, +1 for each new device.
    generation: i64,
    status_index: u32,
    /// The previous copy's status index, now revoked.
    revoked_previous: Option<i64>,
    not_before: i64,
    expires: i64,
    /// Base64 of the holder file (docs/formats.md).
    credential: String,
}

/// What verifiers need to trust this issuer.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerInfo {
    kid: String,
    /// `gm` (SM2/SM3) or `intl` (P-256/SHA-256).
    suite: String,
    public_key_pem: String,
    /// Path of the signed status list.
    status_list: String,
}

/// `POST /v1/enrolments` → 201 with the holder's credential (Base64 of the
/// holder file, docs/formats.md).
#[utoipa::path(post, path = "/v1/enrolments", tag = "identity",
    request_body = EnrolRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a retried enrolment")),
    responses(
        (status = 201, description = "The 网证 for the device key; a previous copy is revoked", body = Enrolled),
        (status = 422, description = "YW-10xx bad ID number, YW-11xx bad device key, YW-1419 bad photo digest, YW-4002 wrong shape", body = ErrorBody),
        (status = 429, description = "YW-4290 rate limited", body = ErrorBody)))]
async fn enrol(
    State(state): State<AppState>,
    body: Result<Json<EnrolRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let enrolled = state.issuer().enrol(state.db(), request).await?;
    let body = Enrolled {
        network_id: enrolled.network_id,
        generation: enrolled.generation,
        status_index: enrolled.status_index,
        revoked_previous: enrolled.revoked_previous,
        not_before: enrolled.credential.not_before(),
        expires: enrolled.credential.expires(),
        credential: Base64::encode_string(&enrolled.credential.to_bytes()),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /v1/issuer`: what verifiers need to trust this issuer.
#[utoipa::path(get, path = "/v1/issuer", tag = "identity",
    responses((status = 200, description = "The issuer key", body = IssuerInfo)))]
async fn issuer(State(state): State<AppState>) -> Json<IssuerInfo> {
    let service = state.issuer();
    Json(IssuerInfo {
        kid: service.kid().to_owned(),
        suite: service.public_key().suite().name().to_owned(),
        public_key_pem: service.public_key().to_spki_pem(),
        status_list: format!("/v1/status-lists/{}", service.kid()),
    })
}

/// `GET /v1/status-lists/{kid}`: the signed status list (COSE), cacheable for
/// a fraction of its maximum age.
#[utoipa::path(get, path = "/v1/status-lists/{kid}", tag = "identity",
    params(("kid" = String, Path, description = "The issuer key id")),
    responses(
        (status = 200, description = "The signed status list (COSE_Sign1, docs/formats.md)", body = String, content_type = "application/cose"),
        (status = 404, description = "YW-4040 no such issuer key", body = ErrorBody)))]
async fn status_list(
    State(state): State<AppState>,
    Path(kid): Path<String>,
) -> Result<Response, ApiError> {
    let service = state.issuer();
    let token = if kid == service.kid() {
        service.status_list(state.db()).await?
    } else {
        // A licence authority's key held by this library.
        crate::library::licences::authority_status_list(&state, &kid)
            .await?
            .ok_or_else(|| ApiError::not_found("YW-4040", "no status list for that issuer key"))?
    };
    let cache = format!("public, max-age={}", STATUS_MAX_AGE_SECS / 12);
    Ok((
        [
            (header::CONTENT_TYPE, "application/cose".to_owned()),
            (header::CACHE_CONTROL, cache),
        ],
        token,
    )
        .into_response())
}
