//! Proactive service recommendations (主动服务): the rule language and
//! matcher ([`rules`]) and the rule sets operators publish.
//!
//! An operator publishes a whole rule set (`PUT /v1/admin/rules`); it is
//! checked against the rule language and the current catalog, and stored as
//! the next version only if every rule passes. The highest version is in
//! force.

pub mod feed;
pub mod rules;
pub mod schedule;
pub mod worker;

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::admin::require_admin;
use crate::audit;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use rules::{MatterInfo, RuleSet};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_rules, get_rules))
        // A rule set of many rules is larger than other requests' bodies.
        .layer(axum::extract::DefaultBodyLimit::max(RULES_BODY_LIMIT))
        .merge(feed::router())
}

/// The demo rules over the demo catalog (births, marriage, 60th and 80th
/// birthdays, driving licence expiry, a death in the family).
pub const DEMO_RULES: &str = include_str!("demo_rules.json");

/// Publishes the demo rules as version 1 when no rule set exists yet.
pub async fn seed_demo(db: &Db) -> Result<bool, ApiError> {
    if current_document(db).await?.is_some() {
        return Ok(false);
    }
    let matters = current_matters(db).await?;
    let set = RuleSet::load(DEMO_RULES, &|code| matters.get(code).cloned())
        .map_err(|e| ApiError::internal(format!("demo rules: {e}")))?;
    let mut write = db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO rule_sets (version, document, rules, created_ms) VALUES (1, $1, $2, $3) \
         ON CONFLICT (version) DO NOTHING",
    )
    .bind(DEMO_RULES)
    .bind(set.rules().len() as i64)
    .bind(crate::push::now_ms())
    .execute(&mut *write.tx)
    .await?
    .rows_affected();
    write.tx.commit().await?;
    Ok(inserted == 1)
}

/// The largest rule set document accepted.
pub const RULES_BODY_LIMIT: usize = 8 << 20;

/// The current, unretired matters: what rules may name.
pub async fn current_matters(db: &Db) -> Result<HashMap<String, MatterInfo>, ApiError> {
    let rows =
        sqlx::query("SELECT code, life_event, delivery FROM matters WHERE retired_ms IS NULL")
            .fetch_all(db.pool())
            .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("code")?,
                MatterInfo {
                    life_event: row.try_get("life_event")?,
                    delivery: row.try_get("delivery")?,
                },
            ))
        })
        .collect()
}

/// The rule set in force: (version, document), or `None` before the first.
pub async fn current_document(db: &Db) -> Result<Option<(i64, String)>, ApiError> {
    let row = sqlx::query("SELECT version, document FROM rule_sets ORDER BY version DESC LIMIT 1")
        .fetch_optional(db.pool())
        .await?;
    row.map(|row| Ok((row.try_get("version")?, row.try_get("document")?)))
        .transpose()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleSetWritten {
    pub version: i64,
    pub rules: usize,
}

/// `PUT /v1/admin/rules` → 200: the next version of the rule set, in force
/// at once; a set with any error is refused whole (YW-4720, with the path).
#[utoipa::path(put, path = "/v1/admin/rules", tag = "recommendations", security(("admin" = [])),
    request_body(content = Object, description = "The rule set: {\"rules\": [rule, …]} (docs/formats.md, \"Recommendation rules\")"),
    responses(
    (status = 200, description = "Stored and in force", body = RuleSetWritten),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 413, description = "YW-4004 over 8 MiB", body = ErrorBody),
    (status = 422, description = "YW-4720 the rule set is invalid: the message starts with the JSON path of the error", body = ErrorBody)))]
async fn put_rules(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RuleSetWritten>, ApiError> {
    require_admin(&state, &headers)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::unprocessable("YW-4720", ": the body is not UTF-8"))?;
    publish(&state, text, "admin").await.map(Json)
}

/// Checks `text` whole against the rule language and the current catalog
/// and puts it in force as the next version (the admin route and the
/// console), audited as `actor`.
pub async fn publish(
    state: &AppState,
    text: &str,
    actor: &str,
) -> Result<RuleSetWritten, ApiError> {
    let set = check(state, text).await?;
    let mut write = state.db().begin_write().await?;
    let tx = &mut write.tx;
    let version: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM rule_sets")
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO rule_sets (version, document, rules, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(version)
    .bind(text)
    .bind(set.rules().len() as i64)
    .bind(crate::push::now_ms())
    .execute(&mut **tx)
    .await?;
    audit::record(&mut **tx, actor, "rules.published", None).await?;
    write.tx.commit().await?;
    Ok(RuleSetWritten {
        version,
        rules: set.rules().len(),
    })
}

/// `text` checked and compiled against the current catalog (YW-4720 with
/// the JSON path of the first error).
pub async fn check(state: &AppState, text: &str) -> Result<RuleSet, ApiError> {
    let matters = current_matters(state.db()).await?;
    RuleSet::load(text, &|code| matters.get(code).cloned())
        .map_err(|e| ApiError::unprocessable("YW-4720", e.to_string()))
}

/// `GET /v1/admin/rules` → the rule set in force, as published, with its
/// version in `X-Rule-Set-Version`.
#[utoipa::path(get, path = "/v1/admin/rules", tag = "recommendations", security(("admin" = [])),
    responses(
    (status = 200, description = "The document in force ({\"rules\": []} before the first)", body = Object),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody)))]
async fn get_rules(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    require_admin(&state, &headers)?;
    let (version, document) = current_document(state.db())
        .await?
        .unwrap_or((0, r#"{"rules": []}"#.to_owned()));
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json".to_owned(),
            ),
            (
                axum::http::HeaderName::from_static("x-rule-set-version"),
                version.to_string(),
            ),
        ],
        document,
    )
        .into_response())
}
