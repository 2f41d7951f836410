//! The citizen's account (keyed by 网号, never by the ID number): the devices
//! signed in to it, and signing one out. A device is one login: its refresh
//! token family and the `sid` of its access tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::audit;
use crate::auth::authenticate;
use crate::error::{ApiError, ErrorBody};
use crate::issuer::now;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(devices))
        .routes(routes!(sign_out))
}

/// A signed-in device.
#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    pub device_id: String,
    pub name: String,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    /// The device making this request.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Devices {
    pub devices: Vec<Device>,
}

/// `GET /v1/me/devices`: the account's signed-in devices, most recently seen first.
#[utoipa::path(get, path = "/v1/me/devices", tag = "accounts", security(("bearer" = [])), responses(
    (status = 200, description = "Signed-in devices", body = Devices),
    (status = 401, description = "YW-4010", body = ErrorBody)))]
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
#[utoipa::path(delete, path = "/v1/me/devices/{device_id}", tag = "accounts", security(("bearer" = [])),
    params(("device_id" = String, Path, description = "From the device list")),
    responses(
    (status = 204, description = "Signed out: its refresh tokens revoked, its access tokens refused"),
    (status = 401, description = "YW-4010", body = ErrorBody),
    (status = 404, description = "YW-4041 no such signed-in device of this account", body = ErrorBody)))]
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
    // A signed-out device gets no more pushes.
    sqlx::query("DELETE FROM push_devices WHERE device_id = $1")
        .bind(&device_id)
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
