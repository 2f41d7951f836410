//! A signed-in device's push registration: `PUT/GET/DELETE /v1/me/push`.
//! One per device (the login's `sid`); a token belongs to one device, so a
//! token registered again by another account leaves the old one.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::providers::{Category, ProviderKind};
use super::{mask, now_ms};
use crate::AppState;
use crate::audit;
use crate::auth::authenticate;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register, registration, unregister))
}

/// Local quiet hours, `HH:MM` to `HH:MM` (may span midnight). Equal times:
/// none. Pushes other than `security` falling inside wait for the end.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRegistrationRequest {
    /// `apns`, `fcm`, `huawei`, `honor`, `xiaomi`, `oppo`, `vivo`
    pub provider: String,
    /// The provider's device token (APNs: hex).
    pub token: String,
    /// APNs only, required there: `sandbox` or `production`.
    #[serde(default)]
    pub apns_environment: Option<String>,
    /// The bundle id (APNs topic) or Android package name.
    pub app_id: String,
    /// `zh-CN` (default) or `en`: the language of the push and the inbox.
    #[serde(default)]
    pub locale: Option<String>,
    /// IANA time zone, default `Asia/Shanghai`.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Default 22:00-07:00.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Categories the citizen does not want pushed (never `security`).
    #[serde(default)]
    pub opted_out: Vec<String>,
}

/// A device's push registration, as stored. The token is not echoed.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushRegistration {
    pub device_id: String,
    pub provider: String,
    /// The token's first 4 characters.
    pub token_hint: String,
    pub apns_environment: Option<String>,
    pub app_id: String,
    pub locale: String,
    pub time_zone: String,
    pub quiet_hours: Option<QuietHours>,
    pub opted_out: Vec<String>,
    pub registered_ms: i64,
    pub updated_ms: i64,
}

fn bad(code: &'static str, message: &str) -> ApiError {
    ApiError::unprocessable(code, message)
}

/// `HH:MM` → minutes after midnight.
pub(crate) fn parse_clock(text: &str) -> Option<i64> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

fn clock_text(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// A validated registration.
struct Registration {
    provider: ProviderKind,
    token: String,
    apns_environment: Option<&'static str>,
    app_id: String,
    locale: &'static str,
    time_zone: String,
    quiet: Option<(i64, i64)>,
    opted_out: Vec<Category>,
}

fn validate(request: PushRegistrationRequest) -> Result<Registration, ApiError> {
    let provider = ProviderKind::parse(&request.provider).ok_or_else(|| {
        bad(
            "YW-4601",
            "provider: one of apns, fcm, huawei, honor, xiaomi, oppo, vivo",
        )
    })?;
    let token = request.token;
    let token_ok = match provider {
        ProviderKind::Apns => {
            (64..=200).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_hexdigit())
        }
        _ => (8..=4096).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic()),
    };
    if !token_ok {
        return Err(bad(
            "YW-4602",
            "token: APNs 64-200 hex characters; others 8-4096 printable characters",
        ));
    }
    let apns_environment = match (provider, request.apns_environment.as_deref()) {
        (ProviderKind::Apns, Some("sandbox")) => Some("sandbox"),
        (ProviderKind::Apns, Some("production")) => Some("production"),
        (ProviderKind::Apns, _) => {
            return Err(bad(
                "YW-4603",
                "apns_environment: sandbox or production, required for apns",
            ));
        }
        (_, None) => None,
        (_, Some(_)) => {
            return Err(bad(
                "YW-4603",
                "apns_environment: only for the apns provider",
            ));
        }
    };
    let app_id = request.app_id;
    if app_id.is_empty()
        || app_id.len() > 255
        || !app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(bad(
            "YW-4604",
            "app_id: 1-255 characters of A-Z a-z 0-9 . _ -",
        ));
    }
    let locale = match request.locale.as_deref() {
        None => "zh-CN",
        Some(l) if l.eq_ignore_ascii_case("zh") || l.to_ascii_lowercase().starts_with("zh-") => {
            "zh-CN"
        }
        Some(l) if l.eq_ignore_ascii_case("en") || l.to_ascii_lowercase().starts_with("en-") => {
            "en"
        }
        Some(_) => return Err(bad("YW-4605", "locale: zh-CN or en")),
    };
    let time_zone = request
        .time_zone
        .unwrap_or_else(|| "Asia/Shanghai".to_owned());
    if time_zone.len() > 64 || jiff::tz::TimeZone::get(&time_zone).is_err() {
        return Err(bad(
            "YW-4606",
            "time_zone: an IANA time zone such as Asia/Shanghai",
        ));
    }
    let quiet = match request.quiet_hours {
        None => Some((22 * 60, 7 * 60)),
        Some(q) => {
            let (Some(start), Some(end)) = (parse_clock(&q.start), parse_clock(&q.end)) else {
                return Err(bad("YW-4607", "quiet_hours: start and end as HH:MM"));
            };
            (start != end).then_some((start, end))
        }
    };
    let mut opted_out = Vec::new();
    for name in &request.opted_out {
        match Category::parse(name) {
            Some(Category::Security) => {
                return Err(bad(
                    "YW-4608",
                    "opted_out: security notices cannot be turned off",
                ));
            }
            Some(category) if !opted_out.contains(&category) => opted_out.push(category),
            Some(_) => {}
            None => {
                return Err(bad(
                    "YW-4608",
                    "opted_out: service, reminder, application_status, campaign",
                ));
            }
        }
    }
    Ok(Registration {
        provider,
        token,
        apns_environment,
        app_id,
        locale,
        time_zone,
        quiet,
        opted_out,
    })
}

/// `,a,b,` so that `LIKE '%,a,%'` finds a category.
pub(crate) fn opted_out_column(categories: &[Category]) -> String {
    let mut text = String::from(",");
    for c in categories {
        text.push_str(c.as_str());
        text.push(',');
    }
    text
}

/// `PUT /v1/me/push`: registers or replaces this device's push token and preferences.
#[utoipa::path(put, path = "/v1/me/push", tag = "push", security(("bearer" = [])),
    request_body = PushRegistrationRequest, responses(
    (status = 200, description = "Registered", body = PushRegistration),
    (status = 401, description = "YW-4010", body = ErrorBody),
    (status = 422, description = "YW-4601 provider, YW-4602 token, YW-4603 apns_environment, YW-4604 app_id, YW-4605 locale, YW-4606 time_zone, YW-4607 quiet_hours, YW-4608 opted_out", body = ErrorBody)))]
async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<PushRegistrationRequest>, JsonRejection>,
) -> Result<Json<PushRegistration>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let Json(request) = body?;
    let r = validate(request)?;
    let at = now_ms();
    let mut write = state.db().begin_write().await?;
    let tx = &mut write.tx;
    // The token leaves whichever device (of any account) held it.
    sqlx::query("DELETE FROM push_devices WHERE provider = $1 AND token = $2 AND device_id <> $3")
        .bind(r.provider.as_str())
        .bind(&r.token)
        .bind(&citizen.device_id)
        .execute(&mut **tx)
        .await?;
    // registered_ms changes only with the token: APNs' 410 timestamps compare to it.
    sqlx::query(
        "INSERT INTO push_devices (device_id, network_id, provider, token, apns_environment, app_id, \
         locale, time_zone, quiet_start, quiet_end, opted_out, registered_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
         ON CONFLICT (device_id) DO UPDATE SET network_id = excluded.network_id, \
         registered_ms = CASE WHEN push_devices.token = excluded.token AND push_devices.provider = excluded.provider \
           THEN push_devices.registered_ms ELSE excluded.registered_ms END, \
         provider = excluded.provider, token = excluded.token, apns_environment = excluded.apns_environment, \
         app_id = excluded.app_id, locale = excluded.locale, time_zone = excluded.time_zone, \
         quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, \
         opted_out = excluded.opted_out, updated_ms = excluded.updated_ms",
    )
    .bind(&citizen.device_id)
    .bind(&citizen.network_id)
    .bind(r.provider.as_str())
    .bind(&r.token)
    .bind(r.apns_environment)
    .bind(&r.app_id)
    .bind(r.locale)
    .bind(&r.time_zone)
    .bind(r.quiet.map(|q| q.0))
    .bind(r.quiet.map(|q| q.1))
    .bind(opted_out_column(&r.opted_out))
    .bind(at)
    .execute(&mut **tx)
    .await?;
    write.tx.commit().await?;
    audit::record(
        state.db().pool(),
        "citizen",
        "push.registered",
        Some(&citizen.network_id),
    )
    .await?;
    tracing::info!(provider = r.provider.as_str(), token = %mask(&r.token), "push token registered");
    load(&state, &citizen.device_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::internal("registration vanished"))
}

async fn load(state: &AppState, device_id: &str) -> Result<Option<PushRegistration>, ApiError> {
    let Some(row) = sqlx::query(
        "SELECT device_id, provider, token, apns_environment, app_id, locale, time_zone, \
         quiet_start, quiet_end, opted_out, registered_ms, updated_ms FROM push_devices WHERE device_id = $1",
    )
    .bind(device_id)
    .fetch_optional(state.db().pool())
    .await?
    else {
        return Ok(None);
    };
    let token: String = row.try_get("token")?;
    let quiet_start: Option<i64> = row.try_get("quiet_start")?;
    let quiet_end: Option<i64> = row.try_get("quiet_end")?;
    let opted_out: String = row.try_get("opted_out")?;
    Ok(Some(PushRegistration {
        device_id: row.try_get("device_id")?,
        provider: row.try_get("provider")?,
        token_hint: token.chars().take(4).collect(),
        apns_environment: row.try_get("apns_environment")?,
        app_id: row.try_get("app_id")?,
        locale: row.try_get("locale")?,
        time_zone: row.try_get("time_zone")?,
        quiet_hours: quiet_start.zip(quiet_end).map(|(s, e)| QuietHours {
            start: clock_text(s),
            end: clock_text(e),
        }),
        opted_out: opted_out
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        registered_ms: row.try_get("registered_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    }))
}

/// `GET /v1/me/push`: this device's registration.
#[utoipa::path(get, path = "/v1/me/push", tag = "push", security(("bearer" = [])), responses(
    (status = 200, description = "This device's registration", body = PushRegistration),
    (status = 401, description = "YW-4010", body = ErrorBody),
    (status = 404, description = "YW-4044 not registered", body = ErrorBody)))]
async fn registration(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<PushRegistration>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    load(&state, &citizen.device_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("YW-4044", "this device has no push registration"))
}

/// `DELETE /v1/me/push`: stops pushes to this device (its inbox stays).
#[utoipa::path(delete, path = "/v1/me/push", tag = "push", security(("bearer" = [])), responses(
    (status = 204, description = "Removed (or there was none)"),
    (status = 401, description = "YW-4010", body = ErrorBody)))]
async fn unregister(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    sqlx::query("DELETE FROM push_devices WHERE device_id = $1")
        .bind(&citizen.device_id)
        .execute(state.db().pool())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
