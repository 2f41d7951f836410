//! Identity routes: enrolment (issuing the 网证), the issuer's public key, and
//! its status list.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64ct::{Base64, Encoding};
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;
use crate::issuer::{EnrolRequest, STATUS_MAX_AGE_SECS};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/enrolments", post(enrol))
        .route("/v1/issuer", get(issuer))
        .route("/v1/status-lists/{kid}", get(status_list))
}

/// `POST /v1/enrolments` → 201 with the holder's credential (Base64 of the
/// holder file, docs/formats.md).
async fn enrol(
    State(state): State<AppState>,
    body: Result<Json<EnrolRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let enrolled = state.issuer().enrol(state.db(), request).await?;
    let body = json!({
        "network_id": enrolled.network_id,
        "generation": enrolled.generation,
        "status_index": enrolled.status_index,
        "revoked_previous": enrolled.revoked_previous,
        "not_before": enrolled.credential.not_before(),
        "expires": enrolled.credential.expires(),
        "credential": Base64::encode_string(&enrolled.credential.to_bytes()),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /v1/issuer`: what verifiers need to trust this issuer.
async fn issuer(State(state): State<AppState>) -> Json<serde_json::Value> {
    let service = state.issuer();
    Json(json!({
        "kid": service.kid(),
        "suite": service.public_key().suite(),
        "public_key_pem": service.public_key().to_spki_pem(),
        "status_list": format!("/v1/status-lists/{}", service.kid()),
    }))
}

/// `GET /v1/status-lists/{kid}`: the signed status list (COSE), cacheable for
/// a fraction of its maximum age.
async fn status_list(
    State(state): State<AppState>,
    Path(kid): Path<String>,
) -> Result<Response, ApiError> {
    let service = state.issuer();
    if kid != service.kid() {
        return Err(ApiError::not_found(
            "YW-4040",
            "no status list for that issuer key",
        ));
    }
    let token = service.status_list(state.db()).await?;
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
