//! The service catalog (办事指南): matters (事项) under their standard code
//! (同一事项、同一标准、同一编码), with the department that handles them,
//! the life event they belong to, how they are delivered (an online form,
//! at the window, or granted without an application, 免申即领), the
//! licences they need and, for online matters, the form schema in the
//! core's format (`yiwang_core::forms`).
//!
//! Admins create a matter, change it (each change is a new version; every
//! version stays readable, so a draft made against version n can load
//! version n's form) and retire it. Anyone may browse and search the
//! current, unretired matters: the catalog is public.

mod demo;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::forms::{FormSchema, is_licence_type_code, is_matter_code};

pub use demo::{DEMO_MATTERS, seed_demo};

use crate::AppState;
use crate::admin::require_admin;
use crate::audit;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_matter))
        .routes(routes!(update_matter))
        .routes(routes!(retire_matter))
        .routes(routes!(search))
        .routes(routes!(get_matter))
        .routes(routes!(life_events))
}

/// The life events matters are grouped by, after the national "whole life"
/// lists (出生、教育、就业、婚姻、住房、驾驶、就医、出行、救助、养老、身后),
/// with their labels.
pub const LIFE_EVENTS: &[(&str, &str, &str)] = &[
    ("birth", "出生", "Birth"),
    ("education", "教育", "Education"),
    ("employment", "就业", "Employment"),
    ("marriage", "婚姻", "Marriage"),
    ("housing", "住房", "Housing"),
    ("driving", "驾驶", "Driving"),
    ("medical", "就医", "Medical care"),
    ("travel", "出行", "Travel"),
    ("assistance", "救助", "Assistance"),
    ("old_age", "养老", "Old age"),
    ("after_death", "身后", "After death"),
    ("daily_life", "生活", "Daily life"),
];

/// How a matter is done.
pub const DELIVERIES: &[&str] = &["online", "window", "automatic"];

/// Text in Chinese and English.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

/// The department that handles a matter.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// 1-32 characters of `A-Z 0-9` (its credit code, where it has one).
    pub code: String,
    pub name: Bilingual,
}

/// A matter as an admin writes it, and as it is stored per version.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatterDocument {
    /// The standard code: 1-64 characters of `A-Z 0-9 -`.
    pub code: String,
    pub name: Bilingual,
    /// What the matter is for, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Bilingual>,
    pub department: Department,
    /// One of `GET /v1/life-events`.
    pub life_event: String,
    /// `online` (a form, required here), `window` (in person) or
    /// `automatic` (免申即领: granted without an application; no form).
    pub delivery: String,
    /// GB/T 36904 licence type codes (21 characters) the matter needs.
    #[serde(default)]
    pub required_licences: Vec<String>,
    /// The form schema (docs/formats.md, "Form schema format"); its
    /// `matter_code` is `code` and its `version` the matter's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub form: Option<serde_json::Value>,
}

/// A matter at one version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Matter {
    pub version: i64,
    /// Set once the matter is retired: no longer listed or offered.
    pub retired: bool,
    #[serde(flatten)]
    pub document: MatterDocument,
}

/// A line of a search result.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatterSummary {
    pub code: String,
    pub version: i64,
    pub name: Bilingual,
    pub department: Department,
    pub life_event: String,
    pub delivery: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatterPage {
    pub matters: Vec<MatterSummary>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MatterWritten {
    pub code: String,
    pub version: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LifeEvent {
    pub id: String,
    pub name: Bilingual,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(code, message)
}

fn check_text(path: &str, text: &Bilingual, max: usize) -> Result<(), ApiError> {
    for (lang, value) in [("zh", &text.zh), ("en", &text.en)] {
        let n = value.chars().count();
        if value.trim().is_empty() || n > max || value.chars().any(char::is_control) {
            return Err(bad(
                "YW-4702",
                format!("{path}.{lang}: 1-{max} characters, no control characters"),
            ));
        }
    }
    Ok(())
}

/// Checks a document that is to become `version`.
pub fn validate(doc: &MatterDocument, version: i64) -> Result<(), ApiError> {
    if !is_matter_code(&doc.code) {
        return Err(bad("YW-4701", "code: 1-64 characters of A-Z 0-9 -"));
    }
    check_text("name", &doc.name, 64)?;
    if let Some(summary) = &doc.summary {
        check_text("summary", summary, 500)?;
    }
    let dept = &doc.department.code;
    if dept.is_empty()
        || dept.len() > 32
        || !dept
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(bad(
            "YW-4702",
            "department.code: 1-32 characters of A-Z 0-9",
        ));
    }
    check_text("department.name", &doc.department.name, 64)?;
    if !LIFE_EVENTS.iter().any(|(id, _, _)| *id == doc.life_event) {
        return Err(bad(
            "YW-4703",
            "life_event: one of the ids of GET /v1/life-events",
        ));
    }
    if !DELIVERIES.contains(&doc.delivery.as_str()) {
        return Err(bad("YW-4703", "delivery: online, window or automatic"));
    }
    if doc.required_licences.len() > 20 {
        return Err(bad("YW-4704", "required_licences: at most 20"));
    }
    for (i, code) in doc.required_licences.iter().enumerate() {
        if !is_licence_type_code(code) {
            return Err(bad(
                "YW-4704",
                format!("required_licences[{i}]: a 21-character licence type code"),
            ));
        }
        if doc.required_licences[..i].contains(code) {
            return Err(bad(
                "YW-4704",
                format!("required_licences[{i}]: listed twice"),
            ));
        }
    }
    match (&doc.form, doc.delivery.as_str()) {
        (None, "online") => Err(bad("YW-4707", "form: an online matter needs a form")),
        (Some(_), "window" | "automatic") => Err(bad(
            "YW-4707",
            format!("form: a {} matter has no form", doc.delivery),
        )),
        (None, _) => Ok(()),
        (Some(form), _) => {
            let schema = FormSchema::from_json(&form.to_string()).map_err(|e| {
                bad(
                    "YW-4705",
                    format!("form.{}: {} ({})", e.path(), e, e.code()),
                )
            })?;
            if schema.matter_code() != doc.code {
                return Err(bad(
                    "YW-4706",
                    "form.matter_code: must be the matter's code",
                ));
            }
            if i64::from(schema.version()) != version {
                return Err(bad(
                    "YW-4706",
                    format!("form.version: must be the matter's new version, {version}"),
                ));
            }
            Ok(())
        }
    }
}

fn search_text(doc: &MatterDocument) -> String {
    format!(
        "{} {} {} {}",
        doc.name.zh, doc.name.en, doc.department.name.zh, doc.department.name.en
    )
    .to_lowercase()
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Created(i64),
    Exists,
}

/// Inserts `doc` as version 1 of a new matter; `Exists` if the code is taken.
pub async fn insert_new(db: &Db, doc: &MatterDocument, now: i64) -> Result<Written, ApiError> {
    validate(doc, 1)?;
    let document = serde_json::to_string(doc).map_err(ApiError::internal)?;
    let mut write = db.begin_write().await?;
    let tx = &mut write.tx;
    let inserted = sqlx::query(
        "INSERT INTO matters (code, version, name_zh, name_en, department_code, life_event, \
         delivery, search_text, retired_ms, updated_ms) \
         VALUES ($1, 1, $2, $3, $4, $5, $6, $7, NULL, $8) ON CONFLICT (code) DO NOTHING",
    )
    .bind(&doc.code)
    .bind(&doc.name.zh)
    .bind(&doc.name.en)
    .bind(&doc.department.code)
    .bind(&doc.life_event)
    .bind(&doc.delivery)
    .bind(search_text(doc))
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(Written::Exists);
    }
    sqlx::query(
        "INSERT INTO matter_versions (code, version, document, created_ms) VALUES ($1, 1, $2, $3)",
    )
    .bind(&doc.code)
    .bind(&document)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    write.tx.commit().await?;
    Ok(Written::Created(1))
}

fn not_found(code: &str) -> ApiError {
    // Matter codes are public catalog identifiers, not personal data.
    ApiError::not_found("YW-4048", format!("no matter {code}"))
}

/// `POST /v1/admin/matters` → 201: a new matter at version 1.
#[utoipa::path(post, path = "/v1/admin/matters", tag = "catalog", security(("admin" = [])),
    request_body = MatterDocument, responses(
    (status = 201, description = "Created", body = MatterWritten),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 403, description = "YW-4030 admin API disabled", body = ErrorBody),
    (status = 409, description = "YW-4094 a matter with this code exists", body = ErrorBody),
    (status = 422, description = "YW-4701..4707 an invalid document (the message names the field)", body = ErrorBody)))]
async fn create_matter(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<MatterDocument>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let Json(doc) = body?;
    match insert_new(state.db(), &doc, crate::push::now_ms()).await? {
        Written::Exists => Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4094",
            "a matter with this code exists; PUT /v1/admin/matters/{code} adds a version",
        )),
        Written::Created(version) => {
            audit::record(state.db().pool(), "admin", "matter.created", None).await?;
            let body = MatterWritten {
                code: doc.code,
                version,
            };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
    }
}

/// `PUT /v1/admin/matters/{code}` → 200: the next version of a matter.
#[utoipa::path(put, path = "/v1/admin/matters/{code}", tag = "catalog", security(("admin" = [])),
    params(("code" = String, Path, description = "The matter's standard code")),
    request_body = MatterDocument, responses(
    (status = 200, description = "The new version", body = MatterWritten),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 404, description = "YW-4048 no such matter", body = ErrorBody),
    (status = 409, description = "YW-4095 the matter is retired", body = ErrorBody),
    (status = 422, description = "YW-4701..4707 an invalid document; YW-4708 the body's code is not the path's", body = ErrorBody)))]
async fn update_matter(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Result<Json<MatterDocument>, JsonRejection>,
) -> Result<Json<MatterWritten>, ApiError> {
    require_admin(&state, &headers)?;
    let Json(doc) = body?;
    update(&state, &code, &doc, "admin").await.map(Json)
}

/// Stores `doc` as the next version of matter `code` (the admin route and
/// the console), audited as `actor`.
pub async fn update(
    state: &AppState,
    code: &str,
    doc: &MatterDocument,
    actor: &str,
) -> Result<MatterWritten, ApiError> {
    if !is_matter_code(code) {
        return Err(not_found("(malformed code)"));
    }
    if doc.code != code {
        return Err(bad("YW-4708", "code: must be the code in the path"));
    }
    let now = crate::push::now_ms();
    let mut write = state.db().begin_write().await?;
    let tx = &mut write.tx;
    let head = sqlx::query("SELECT version, retired_ms FROM matters WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| not_found(code))?;
    if head.try_get::<Option<i64>, _>("retired_ms")?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4095",
            "the matter is retired; give the replacement a new code",
        ));
    }
    let version = head.try_get::<i64, _>("version")? + 1;
    validate(doc, version)?;
    let document = serde_json::to_string(doc).map_err(ApiError::internal)?;
    sqlx::query(
        "UPDATE matters SET version = $1, name_zh = $2, name_en = $3, department_code = $4, \
         life_event = $5, delivery = $6, search_text = $7, updated_ms = $8 WHERE code = $9",
    )
    .bind(version)
    .bind(&doc.name.zh)
    .bind(&doc.name.en)
    .bind(&doc.department.code)
    .bind(&doc.life_event)
    .bind(&doc.delivery)
    .bind(search_text(doc))
    .bind(now)
    .bind(code)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO matter_versions (code, version, document, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(code)
    .bind(version)
    .bind(&document)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(&mut **tx, actor, "matter.updated", None).await?;
    write.tx.commit().await?;
    Ok(MatterWritten {
        code: code.to_owned(),
        version,
    })
}

/// `POST /v1/admin/matters/{code}/retire` → 200: no longer listed or
/// offered; its versions stay readable. Retiring twice is not an error.
#[utoipa::path(post, path = "/v1/admin/matters/{code}/retire", tag = "catalog", security(("admin" = [])),
    params(("code" = String, Path, description = "The matter's standard code")),
    responses(
    (status = 200, description = "Retired", body = MatterWritten),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 404, description = "YW-4048 no such matter", body = ErrorBody)))]
async fn retire_matter(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Json<MatterWritten>, ApiError> {
    require_admin(&state, &headers)?;
    let mut write = state.db().begin_write().await?;
    let tx = &mut write.tx;
    let version: i64 = sqlx::query_scalar("SELECT version FROM matters WHERE code = $1")
        .bind(&code)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| {
            not_found(if is_matter_code(&code) {
                &code
            } else {
                "(malformed code)"
            })
        })?;
    sqlx::query("UPDATE matters SET retired_ms = COALESCE(retired_ms, $1) WHERE code = $2")
        .bind(crate::push::now_ms())
        .bind(&code)
        .execute(&mut **tx)
        .await?;
    audit::record(&mut **tx, "admin", "matter.retired", None).await?;
    write.tx.commit().await?;
    Ok(Json(MatterWritten { code, version }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words of the matter's or the department's name (zh or en), 1-64 characters.
    pub q: Option<String>,
    /// A department code.
    pub department: Option<String>,
    /// A life event id.
    pub life_event: Option<String>,
    /// 1-100, default 20.
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// `%`, `_` and `\` taken literally in a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `GET /v1/matters` → the current, unretired matters, by code, filtered
/// by words of the name, department and life event. No sign-in needed.
#[utoipa::path(get, path = "/v1/matters", tag = "catalog", params(SearchQuery), responses(
    (status = 200, description = "One page of matters", body = MatterPage),
    (status = 422, description = "YW-4709 a bad query parameter", body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MatterPage>, ApiError> {
    let Query(query) =
        query.map_err(|_| bad("YW-4709", "query: q, department, life_event, limit, cursor"))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(bad("YW-4709", "limit: 1-100"));
    }
    let q = match query.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > 64 || q.chars().any(char::is_control) => {
            return Err(bad("YW-4709", "q: at most 64 characters"));
        }
        Some(q) => Some(q.to_lowercase()),
    };
    if let Some(event) = &query.life_event
        && !LIFE_EVENTS.iter().any(|(id, _, _)| id == event)
    {
        return Err(bad("YW-4709", "life_event: one of GET /v1/life-events"));
    }
    if let Some(cursor) = &query.cursor
        && !is_matter_code(cursor)
    {
        return Err(bad("YW-4709", "cursor: from a previous page's next_cursor"));
    }
    // Each filter is always bound; an absent one matches everything.
    let words: Vec<String> = q
        .as_deref()
        .map(|q| q.split_whitespace().map(like_escape).collect())
        .unwrap_or_default();
    let mut sql = String::from(
        "SELECT h.code, h.version, v.document FROM matters h \
         JOIN matter_versions v ON v.code = h.code AND v.version = h.version \
         WHERE h.retired_ms IS NULL AND ($1 = '' OR h.department_code = $1) \
         AND ($2 = '' OR h.life_event = $2) AND h.code > $3",
    );
    for i in 0..words.len().min(8) {
        sql.push_str(&format!(" AND h.search_text LIKE ${} ESCAPE '\\'", i + 4));
    }
    // `limit` is a checked integer: inlined, so the placeholders stay in order.
    sql.push_str(&format!(" ORDER BY h.code LIMIT {}", limit + 1));
    let mut select = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(query.department.unwrap_or_default())
        .bind(query.life_event.unwrap_or_default())
        .bind(query.cursor.unwrap_or_default());
    for word in words.iter().take(8) {
        select = select.bind(format!("%{word}%"));
    }
    let rows = select.fetch_all(state.db().pool()).await?;
    let more = rows.len() as i64 > limit;
    let mut matters = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        let doc = stored_document(row)?;
        matters.push(MatterSummary {
            code: doc.code,
            version: row.try_get("version")?,
            name: doc.name,
            department: doc.department,
            life_event: doc.life_event,
            delivery: doc.delivery,
        });
    }
    let next_cursor = if more {
        matters.last().map(|m| m.code.clone())
    } else {
        None
    };
    Ok(Json(MatterPage {
        matters,
        next_cursor,
    }))
}

fn stored_document(row: &sqlx::any::AnyRow) -> Result<MatterDocument, ApiError> {
    let document: String = row.try_get("document")?;
    serde_json::from_str(&document).map_err(ApiError::internal)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A past version (default: the current one).
    pub version: Option<i64>,
}

/// The matter `code` at `version` (default: current), retired or not.
pub async fn load(db: &Db, code: &str, version: Option<i64>) -> Result<Option<Matter>, ApiError> {
    let row = sqlx::query(
        "SELECT v.version, v.document, h.retired_ms FROM matters h \
         JOIN matter_versions v ON v.code = h.code \
         WHERE h.code = $1 AND v.version = COALESCE($2, h.version)",
    )
    .bind(code)
    .bind(version)
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| {
        Ok(Matter {
            version: row.try_get("version")?,
            retired: row.try_get::<Option<i64>, _>("retired_ms")?.is_some(),
            document: stored_document(&row)?,
        })
    })
    .transpose()
}

/// `GET /v1/matters/{code}` → the whole matter, with its form.
#[utoipa::path(get, path = "/v1/matters/{code}", tag = "catalog",
    params(("code" = String, Path, description = "The matter's standard code"), VersionQuery),
    responses(
    (status = 200, description = "The matter", body = Matter),
    (status = 404, description = "YW-4048 no such matter or version", body = ErrorBody),
    (status = 422, description = "YW-4709 a bad version", body = ErrorBody)))]
async fn get_matter(
    State(state): State<AppState>,
    Path(code): Path<String>,
    query: Result<Query<VersionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Matter>, ApiError> {
    let Query(query) = query.map_err(|_| bad("YW-4709", "version: a positive integer"))?;
    if query.version.is_some_and(|v| v < 1) {
        return Err(bad("YW-4709", "version: a positive integer"));
    }
    if !is_matter_code(&code) {
        return Err(not_found("(malformed code)"));
    }
    load(state.db(), &code, query.version)
        .await?
        .map(Json)
        .ok_or_else(|| match query.version {
            Some(v) => ApiError::not_found("YW-4048", format!("no version {v} of matter {code}")),
            None => not_found(&code),
        })
}

/// `GET /v1/life-events` → the life events matters are grouped by.
#[utoipa::path(get, path = "/v1/life-events", tag = "catalog", responses(
    (status = 200, description = "Every life event, in display order", body = [LifeEvent])))]
async fn life_events() -> Json<Vec<LifeEvent>> {
    Json(
        LIFE_EVENTS
            .iter()
            .map(|(id, zh, en)| LifeEvent {
                id: (*id).to_owned(),
                name: Bilingual {
                    zh: (*zh).to_owned(),
                    en: (*en).to_owned(),
                },
            })
            .collect(),
    )
}
