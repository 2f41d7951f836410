//! The citizen's account (keyed by 网号, never by the ID number): the devices
//! signed in to it, and signing one out. A device is one login: its refresh
//! token family and the `sid` of its access tokens.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Serialize;
use sqlx::Row;

use crate::AppState;
use crate::audit;
use crate::auth::authenticate;
use crate::error::ApiError;
use crate::issuer::now;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/me/devices", get(devices))
        .route("/v1/me/devices/{device_id}", delete(sign_out))
}

/// A signed-in device.
#[derive(Debug, Serialize)]
pub struct Device {
    pub device_id: String,
    pub name: String,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    /// The device making this request.
    pub current: bool,
}

#[derive(Debug, Serialize)]
pub struct Devices {
    pub devices: Vec<Device>,
}

/// `GET /v1/me/devices`: the account's signed-in devices, most recently seen first.
async fn devices(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Devices>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let rows = sqlx::query(
        "SELECT device_id, name, signed_in_at, last_seen_at FROM devices \
         WHERE network_id = $1 AND signed_out_at IS NULL ORDER BY last_seen_at DESC, device_id",
    )
    .bind(&citizen.network_id)
    .fetch_all(state.db().pool())
    .await?;
    let devices = rows
        .iter()
        .map(|row| {
            let device_id: String = row.try_get("device_id")?;
            Ok(Device {
                current: device_id == citizen.device_id,
                device_id,
                name: row.try_get("name")?,
                signed_in_at: row.try_get("signed_in_at")?,
                last_seen_at: row.try_get("last_seen_at")?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    audit::record(
        state.db().pool(),
        "citizen",
        "devices.read",
        Some(&citizen.network_id),
    )
    .await?;
    Ok(Json(Devices { devices }))
}

/// `DELETE /v1/me/devices/{device_id}`: signs that device out at once.
async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(device_id): Path<String>,
) -> Result<Response, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let mut tx = state.db().pool().begin().await?;
    let family: Option<String> = sqlx::query_scalar(
        "UPDATE devices SET signed_out_at = $1 \
         WHERE device_id = $2 AND network_id = $3 AND signed_out_at IS NULL RETURNING family",
    )
    .bind(now())
    .bind(&device_id)
    .bind(&citizen.network_id)
    .fetch_optional(&mut *tx)
    .await?;
    let family =
        family.ok_or_else(|| ApiError::not_found("YW-4041", "no such signed-in device"))?;
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1")
        .bind(&family)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        "citizen",
        "devices.sign_out",
        Some(&citizen.network_id),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
