//! The citizen's side: the recommendation feed (ranked, with the reason in
//! plain words), dismissing and snoozing, and the settings — consent to
//! profile-based matching (recorded with its time, revocable, audited) and
//! the life events opted out of.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::audit;
use crate::auth::authenticate;
use crate::catalog::{Bilingual, LIFE_EVENTS};
use crate::error::{ApiError, ErrorBody};
use crate::push::now_ms;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(feed))
        .routes(routes!(dismiss))
        .routes(routes!(snooze))
        .routes(routes!(get_settings, put_settings))
}

/// One offer (or notice of a grant) in the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recommendation {
    pub id: i64,
    pub matter_code: String,
    pub matter_name: Bilingual,
    /// `online`, `window` or `automatic`.
    pub delivery: String,
    /// `offer`: the citizen may apply; `grant`: 免申即领, already granted.
    pub action: String,
    pub reason: Bilingual,
    pub priority: i64,
    pub created_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Feed {
    /// Highest priority first, then newest.
    pub recommendations: Vec<Recommendation>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// 1-100, default 20.
    pub limit: Option<i64>,
}

/// `GET /v1/recommendations` → the citizen's active recommendations.
#[utoipa::path(get, path = "/v1/recommendations", tag = "recommendations",
    security(("bearer" = [])), params(FeedQuery), responses(
    (status = 200, description = "Active, not snoozed, ranked", body = Feed),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 422, description = "YW-4721 bad limit", body = ErrorBody)))]
async fn feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Json<Feed>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let limit = query
        .ok()
        .and_then(|Query(q)| match q.limit {
            None => Some(20),
            Some(n) if (1..=100).contains(&n) => Some(n),
            Some(_) => None,
        })
        .ok_or_else(|| ApiError::unprocessable("YW-4721", "limit: 1-100"))?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT r.id, r.matter_code, r.action, r.priority, r.reason_zh, r.reason_en, r.created_ms, \
         m.name_zh, m.name_en, m.delivery FROM recommendations r \
         JOIN matters m ON m.code = r.matter_code \
         WHERE r.network_id = $1 AND r.status = 'active' \
         AND (r.snoozed_until_ms IS NULL OR r.snoozed_until_ms <= $2) AND m.retired_ms IS NULL \
         ORDER BY r.priority DESC, r.created_ms DESC, r.id DESC LIMIT {limit}"
    )))
    .bind(&citizen.network_id)
    .bind(now_ms())
    .fetch_all(state.db().pool())
    .await?;
    let recommendations = rows
        .iter()
        .map(|row| {
            Ok(Recommendation {
                id: row.try_get("id")?,
                matter_code: row.try_get("matter_code")?,
                matter_name: Bilingual {
                    zh: row.try_get("name_zh")?,
                    en: row.try_get("name_en")?,
                },
                delivery: row.try_get("delivery")?,
                action: row.try_get("action")?,
                reason: Bilingual {
                    zh: row.try_get("reason_zh")?,
                    en: row.try_get("reason_en")?,
                },
                priority: row.try_get("priority")?,
                created_ms: row.try_get("created_ms")?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    audit::record(
        state.db().pool(),
        "citizen",
        "recommendations.read",
        Some(&citizen.network_id),
    )
    .await?;
    Ok(Json(Feed { recommendations }))
}

async fn update_own(
    state: &AppState,
    network_id: &str,
    id: i64,
    sql: &'static str,
    value: Option<i64>,
) -> Result<(), ApiError> {
    let mut query = sqlx::query(sql);
    if let Some(value) = value {
        query = query.bind(value);
    }
    let done = query
        .bind(id)
        .bind(network_id)
        .execute(state.db().pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found(
            "YW-4049",
            "no such recommendation in this feed",
        ));
    }
    Ok(())
}

/// `POST /v1/recommendations/{id}/dismiss` → 204: gone from the feed for good.
#[utoipa::path(post, path = "/v1/recommendations/{id}/dismiss", tag = "recommendations",
    security(("bearer" = [])), params(("id" = i64, Path, description = "The recommendation")),
    responses(
    (status = 204, description = "Dismissed (also when it already was)"),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 404, description = "YW-4049 not in this feed", body = ErrorBody)))]
async fn dismiss(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let id = parse_id(&id)?;
    update_own(
        &state,
        &citizen.network_id,
        id,
        "UPDATE recommendations SET status = 'dismissed' WHERE id = $1 AND network_id = $2",
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::not_found("YW-4049", "no such recommendation in this feed"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeRequest {
    /// 1-90.
    pub days: i64,
}

/// `POST /v1/recommendations/{id}/snooze` → 204: hidden for `days`.
#[utoipa::path(post, path = "/v1/recommendations/{id}/snooze", tag = "recommendations",
    security(("bearer" = [])), params(("id" = i64, Path, description = "The recommendation")),
    request_body = SnoozeRequest, responses(
    (status = 204, description = "Hidden until then"),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 404, description = "YW-4049 not in this feed", body = ErrorBody),
    (status = 422, description = "YW-4721 days not 1-90", body = ErrorBody)))]
async fn snooze(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<SnoozeRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let Json(request) = body?;
    if !(1..=90).contains(&request.days) {
        return Err(ApiError::unprocessable("YW-4721", "days: 1-90"));
    }
    let id = parse_id(&id)?;
    update_own(
        &state,
        &citizen.network_id,
        id,
        "UPDATE recommendations SET snoozed_until_ms = $1 WHERE id = $2 AND network_id = $3",
        Some(now_ms() + request.days * 86_400_000),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The citizen's recommendation settings.
#[derive(Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Consent to matching on the profile (age, region, licences held).
    /// Without it only offers the law requires, on events, are made.
    pub profile_consent: bool,
    /// Life events (`GET /v1/life-events`) of matters not to be offered.
    pub opted_out: Vec<String>,
    /// When consent was last given or withdrawn (Unix ms); set by the server.
    #[serde(default, skip_deserializing)]
    pub consent_changed_ms: Option<i64>,
}

async fn load_settings(state: &AppState, network_id: &str) -> Result<Settings, ApiError> {
    let row = sqlx::query(
        "SELECT profile_consent, opted_out, consent_changed_ms FROM recommendation_settings \
         WHERE network_id = $1",
    )
    .bind(network_id)
    .fetch_optional(state.db().pool())
    .await?;
    Ok(match row {
        None => Settings {
            profile_consent: false,
            opted_out: Vec::new(),
            consent_changed_ms: None,
        },
        Some(row) => Settings {
            profile_consent: row.try_get::<i64, _>("profile_consent")? == 1,
            opted_out: row
                .try_get::<String, _>("opted_out")?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            consent_changed_ms: row.try_get("consent_changed_ms")?,
        },
    })
}

/// `GET /v1/me/recommendation-settings` → consent and opt-outs (no consent
/// until given).
#[utoipa::path(get, path = "/v1/me/recommendation-settings", tag = "recommendations",
    security(("bearer" = [])), responses(
    (status = 200, description = "The settings", body = Settings),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody)))]
async fn get_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Settings>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    Ok(Json(load_settings(&state, &citizen.network_id).await?))
}

/// `PUT /v1/me/recommendation-settings` → the settings as stored. A change
/// of consent is recorded with its time and in the audit log.
#[utoipa::path(put, path = "/v1/me/recommendation-settings", tag = "recommendations",
    security(("bearer" = [])), request_body = Settings, responses(
    (status = 200, description = "Stored", body = Settings),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 422, description = "YW-4722 an unknown life event", body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Settings>, JsonRejection>,
) -> Result<Json<Settings>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let Json(request) = body?;
    let mut opted_out = Vec::new();
    for (i, event) in request.opted_out.iter().enumerate() {
        if !LIFE_EVENTS.iter().any(|(id, _, _)| id == event) {
            return Err(ApiError::unprocessable(
                "YW-4722",
                format!("opted_out[{i}]: one of GET /v1/life-events"),
            ));
        }
        if !opted_out.contains(event) {
            opted_out.push(event.clone());
        }
    }
    let before = load_settings(&state, &citizen.network_id).await?;
    let now = now_ms();
    let changed = before.profile_consent != request.profile_consent;
    let consent_changed_ms = if changed {
        Some(now)
    } else {
        before.consent_changed_ms
    };
    let mut write = state.db().begin_write().await?;
    let tx = &mut write.tx;
    sqlx::query(
        "INSERT INTO recommendation_settings (network_id, profile_consent, consent_changed_ms, \
         opted_out, updated_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (network_id) DO UPDATE SET \
         profile_consent = excluded.profile_consent, consent_changed_ms = excluded.consent_changed_ms, \
         opted_out = excluded.opted_out, updated_ms = excluded.updated_ms",
    )
    .bind(&citizen.network_id)
    .bind(i64::from(request.profile_consent))
    .bind(consent_changed_ms)
    .bind(format!(",{},", opted_out.join(",")))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if changed {
        let action = if request.profile_consent {
            "consent.profile_matching.given"
        } else {
            "consent.profile_matching.withdrawn"
        };
        audit::record(&mut **tx, "citizen", action, Some(&citizen.network_id)).await?;
    }
    write.tx.commit().await?;
    Ok(Json(Settings {
        profile_consent: request.profile_consent,
        opted_out,
        consent_changed_ms,
    }))
}
