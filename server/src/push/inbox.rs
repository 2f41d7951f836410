//! The citizen's inbox: every notification sent to them, pushed or not, with
//! its full text (the push itself carried only a neutral title and the id).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::now_ms;
use super::templates;
use crate::AppState;
use crate::audit;
use crate::auth::authenticate;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(mark_read))
        .routes(routes!(mark_opened))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// `next_before` of the previous page.
    before: Option<i64>,
    /// 1-100, default 20.
    limit: Option<i64>,
    /// `zh-CN` or `en`; default the device's push locale, else zh-CN.
    locale: Option<String>,
}

/// One message.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxMessage {
    /// The notification id (what the push carried).
    pub id: String,
    pub category: String,
    pub title: String,
    pub body: String,
    pub created_ms: i64,
    pub read_ms: Option<i64>,
    pub opened_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    /// Newest first.
    pub messages: Vec<InboxMessage>,
    /// Unread messages in the whole inbox.
    pub unread: i64,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// `GET /v1/inbox`: the signed-in citizen's messages, newest first.
#[utoipa::path(get, path = "/v1/inbox", tag = "push", security(("bearer" = [])),
    params(InboxQuery), responses(
    (status = 200, description = "A page of messages and the unread count", body = InboxPage),
    (status = 400, description = "YW-4006 bad query", body = ErrorBody),
    (status = 401, description = "YW-4010", body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Json<InboxPage>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let bad_query = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "YW-4006",
            "bad query: before (whole number), limit 1-100, locale zh-CN or en",
        )
    };
    let Query(query) = query.map_err(|_| bad_query())?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad_query());
    }
    let pool = state.db().pool();
    let locale = match query.locale {
        Some(l) if l.starts_with("en") => "en".to_owned(),
        Some(l) if l.starts_with("zh") => "zh-CN".to_owned(),
        Some(_) => return Err(bad_query()),
        None => sqlx::query_scalar("SELECT locale FROM push_devices WHERE device_id = $1")
            .bind(&citizen.device_id)
            .fetch_optional(pool)
            .await?
            .unwrap_or_else(|| "zh-CN".to_owned()),
    };
    let rows = sqlx::query(
        "SELECT i.id AS seq, i.notification_id, i.created_ms, i.read_ms, i.opened_ms, \
         n.params, t.template_id, t.version, t.category, \
         t.title_zh, t.body_zh, t.title_en, t.body_en \
         FROM inbox i JOIN notifications n ON n.id = i.notification_id \
         JOIN notification_templates t ON t.template_id = n.template_id AND t.version = n.template_version \
         WHERE i.network_id = $1 AND i.id < $2 ORDER BY i.id DESC LIMIT $3",
    )
    .bind(&citizen.network_id)
    .bind(query.before.unwrap_or(i64::MAX))
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let more = rows.len() as i64 > limit;
    let mut messages = Vec::new();
    let mut last_seq = None;
    for row in rows.iter().take(limit as usize) {
        let template = templates::from_row(row)?;
        let params: BTreeMap<String, String> =
            serde_json::from_str(&row.try_get::<String, _>("params")?)
                .map_err(ApiError::internal)?;
        let text = template.render(&locale, &params);
        last_seq = Some(row.try_get::<i64, _>("seq")?);
        messages.push(InboxMessage {
            id: row.try_get("notification_id")?,
            category: row.try_get("category")?,
            title: text.title,
            body: text.body,
            created_ms: row.try_get("created_ms")?,
            read_ms: row.try_get("read_ms")?,
            opened_ms: row.try_get("opened_ms")?,
        });
    }
    let unread: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE network_id = $1 AND read_ms IS NULL")
            .bind(&citizen.network_id)
            .fetch_one(pool)
            .await?;
    audit::record(pool, "citizen", "inbox.read", Some(&citizen.network_id)).await?;
    Ok(Json(InboxPage {
        messages,
        unread,
        next_before: if more { last_seq } else { None },
    }))
}

async fn mark(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    opened: bool,
) -> Result<Response, ApiError> {
    let citizen = authenticate(state, headers).await?;
    let now = now_ms();
    let sql = if opened {
        "UPDATE inbox SET read_ms = COALESCE(read_ms, $1), opened_ms = COALESCE(opened_ms, $1) \
         WHERE notification_id = $2 AND network_id = $3"
    } else {
        "UPDATE inbox SET read_ms = COALESCE(read_ms, $1) WHERE notification_id = $2 AND network_id = $3"
    };
    let done = sqlx::query(sql)
        .bind(now)
        .bind(id)
        .bind(&citizen.network_id)
        .execute(state.db().pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found(
            "YW-4045",
            "no such message in this inbox",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/inbox/{id}/read`: marks a message read (idempotent).
#[utoipa::path(post, path = "/v1/inbox/{id}/read", tag = "push", security(("bearer" = [])),
    params(("id" = String, Path, description = "The notification id")),
    responses(
    (status = 204, description = "Marked read"),
    (status = 401, description = "YW-4010", body = ErrorBody),
    (status = 404, description = "YW-4045 not in this inbox", body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&state, &headers, &id, false).await
}

/// `POST /v1/inbox/{id}/opened`: the citizen opened the push (the opened
/// receipt; also marks it read). The first time is kept.
#[utoipa::path(post, path = "/v1/inbox/{id}/opened", tag = "push", security(("bearer" = [])),
    params(("id" = String, Path, description = "The notification id")),
    responses(
    (status = 204, description = "Recorded"),
    (status = 401, description = "YW-4010", body = ErrorBody),
    (status = 404, description = "YW-4045 not in this inbox", body = ErrorBody)))]
async fn mark_opened(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&state, &headers, &id, true).await
}
