//! Drafts synced between a citizen's devices (PRODUCT §1.6): optimistic
//! concurrency with version numbers (`If-Match`), and a device that is
//! behind merged field by field with the core's own merge
//! ([`yiwang_core::forms::merge`]) against the version it started from. A
//! true conflict is answered with both values and nothing is stored, so no
//! edit is ever lost silently. The daily scan reminds citizens of drafts about
//! to expire and deletes expired ones ([`remind_and_expire`]).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::forms::{FormSchema, merge};

use crate::AppState;
use crate::audit;
use crate::auth::authenticate;
use crate::catalog;
use crate::db::{Backend, Db};
use crate::error::{ApiError, ErrorBody, current_request_id};
use crate::push::now_ms;
use crate::push::send::{AccountSend, enqueue_accounts};
use crate::push::templates;

/// Versions kept per draft as merge bases.
pub const KEPT_VERSIONS: i64 = 20;
/// The reminder goes this long before a draft expires.
pub const REMIND_BEFORE_MS: i64 = 3 * 86_400_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_draft, put_draft, delete_draft))
        .routes(routes!(list_drafts))
}

/// A draft as a device sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    pub matter_code: String,
    pub schema_version: i64,
    /// Field id → value (a missing field is blank).
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    /// Fields prefilled from government data (read-only on every device).
    #[serde(default)]
    pub government: Vec<String>,
}

/// A draft as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredDraft {
    pub id: String,
    pub matter_code: String,
    pub schema_version: i64,
    /// Saves on the server: 1, 2, …; send it back as `If-Match`.
    pub version: i64,
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    pub government: Vec<String>,
    pub updated_ms: i64,
    pub expires_ms: i64,
    /// Whether this save merged a device that was behind.
    pub merged: bool,
}

/// A line of `GET /v1/drafts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftSummary {
    pub id: String,
    pub matter_code: String,
    pub schema_version: i64,
    pub version: i64,
    pub updated_ms: i64,
    pub expires_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DraftList {
    pub drafts: Vec<DraftSummary>,
}

/// One field changed differently on two devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldConflict {
    pub field: String,
    /// The value both started from (`null`: blank).
    #[schema(value_type = Option<Object>)]
    pub base: Option<Value>,
    /// This request's value.
    #[schema(value_type = Option<Object>)]
    pub yours: Option<Value>,
    /// The stored value.
    #[schema(value_type = Option<Object>)]
    pub theirs: Option<Value>,
}

/// `409` YW-4096: the error body and what the device needs to merge.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftConflict {
    pub code: String,
    pub message: String,
    pub request_id: String,
    /// The current version: the `If-Match` of the next attempt.
    pub version: i64,
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    pub government: Vec<String>,
    /// The values at the request's `If-Match` version.
    #[schema(value_type = Object)]
    pub base_values: BTreeMap<String, Value>,
    pub conflicts: Vec<FieldConflict>,
}

fn not_found() -> ApiError {
    ApiError::not_found("YW-4050", "no such draft")
}

fn precondition(message: &str) -> ApiError {
    ApiError::new(StatusCode::PRECONDITION_FAILED, "YW-4120", message)
}

fn unfit(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("YW-4731", message)
}

/// A draft id: 32 lowercase hex digits (as the core makes them).
pub fn check_draft_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "YW-4730",
            "draft id: 32 lowercase hex digits",
        ))
    }
}

/// What the request's preconditions ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// `If-None-Match: *`: create only.
    Absent,
    /// `If-Match: *`: any current version.
    Any,
    /// `If-Match: "n"`.
    Version(i64),
}

fn expectation(headers: &HeaderMap) -> Result<Option<Expect>, ApiError> {
    let text = |name| {
        headers
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("?").trim())
    };
    if let Some(v) = text(header::IF_NONE_MATCH) {
        return if v == "*" {
            Ok(Some(Expect::Absent))
        } else {
            Err(precondition("If-None-Match: only * is understood"))
        };
    }
    let Some(v) = text(header::IF_MATCH) else {
        return Ok(None);
    };
    if v == "*" {
        return Ok(Some(Expect::Any));
    }
    let n = v.strip_prefix("W/").unwrap_or(v);
    let n = n
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(n);
    n.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .map(|n| Some(Expect::Version(n)))
        .ok_or_else(|| precondition("If-Match: a quoted version number"))
}

/// The form of `matter_code` at `version`, for checking values against.
pub(super) async fn form_of(
    db: &Db,
    matter_code: &str,
    version: i64,
) -> Result<Option<(catalog::Matter, FormSchema)>, ApiError> {
    if !yiwang_core::forms::is_matter_code(matter_code) || version < 1 {
        return Ok(None);
    }
    let Some(matter) = catalog::load(db, matter_code, Some(version)).await? else {
        return Ok(None);
    };
    let Some(form) = &matter.document.form else {
        return Ok(None);
    };
    let schema = FormSchema::from_json(&form.to_string())
        .map_err(|e| ApiError::internal(format!("stored form {matter_code} does not load: {e}")))?;
    Ok(Some((matter, schema)))
}

/// The body fits the form: known fields, values of their JSON kind,
/// government fields that have values.
fn check_body(schema: &FormSchema, body: &DraftBody) -> Result<(), ApiError> {
    for (key, value) in &body.values {
        let Some(field) = schema.field(key) else {
            return Err(unfit(format!(
                "values.{}: not a field of this form",
                printable(key)
            )));
        };
        if !field.kind().accepts_kind(value) {
            return Err(unfit(format!(
                "values.{key}: not the kind of value a {} field takes",
                field.kind().type_name()
            )));
        }
    }
    for (i, field) in body.government.iter().enumerate() {
        if !body.values.contains_key(field) {
            return Err(unfit(format!("government[{i}]: a field with a value")));
        }
    }
    Ok(())
}

/// A key quoted back: at most 40 characters, no control characters.
fn printable(key: &str) -> String {
    key.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// The current row of a draft.
struct Current {
    matter_code: String,
    schema_version: i64,
    version: i64,
    values: BTreeMap<String, Value>,
    government: Vec<String>,
    updated_ms: i64,
    expires_ms: i64,
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::internal(format!("stored draft: {e}")))
}

async fn current<'e, E>(
    executor: E,
    backend: Backend,
    network_id: &str,
    id: &str,
) -> Result<Option<Current>, ApiError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT matter_code, schema_version, version, values_json, government, updated_ms, \
         expires_ms FROM drafts WHERE network_id = $1 AND id = $2 AND expires_ms > $3{lock}"
    )))
    .bind(network_id)
    .bind(id)
    .bind(now_ms())
    .fetch_optional(executor)
    .await?;
    row.map(|row| {
        Ok(Current {
            matter_code: row.try_get("matter_code")?,
            schema_version: row.try_get("schema_version")?,
            version: row.try_get("version")?,
            values: parse_json(&row.try_get::<String, _>("values_json")?)?,
            government: parse_json(&row.try_get::<String, _>("government")?)?,
            updated_ms: row.try_get("updated_ms")?,
            expires_ms: row.try_get("expires_ms")?,
        })
    })
    .transpose()
}

fn stored(id: &str, c: Current, merged: bool) -> StoredDraft {
    StoredDraft {
        id: id.to_owned(),
        matter_code: c.matter_code,
        schema_version: c.schema_version,
        version: c.version,
        values: c.values,
        government: c.government,
        updated_ms: c.updated_ms,
        expires_ms: c.expires_ms,
        merged,
    }
}

fn with_etag(status: StatusCode, draft: StoredDraft) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", draft.version))
        .unwrap_or(HeaderValue::from_static("\"0\""));
    (status, [(header::ETAG, etag)], Json(draft)).into_response()
}

/// `GET /v1/drafts/{id}` → the draft as stored, its version in `ETag`.
#[utoipa::path(get, path = "/v1/drafts/{id}", tag = "drafts",
    security(("bearer" = [])), params(("id" = String, Path, description = "32 hex digits")),
    responses(
    (status = 200, description = "The draft; `ETag` is its version", body = StoredDraft),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 404, description = "YW-4050 no such draft", body = ErrorBody),
    (status = 422, description = "YW-4730 a malformed id", body = ErrorBody)))]
async fn get_draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    check_draft_id(&id)?;
    let db = state.db();
    let draft = current(db.pool(), db.backend(), &citizen.network_id, &id)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        db.pool(),
        "citizen",
        "draft.read",
        Some(&citizen.network_id),
    )
    .await?;
    Ok(with_etag(StatusCode::OK, stored(&id, draft, false)))
}

/// `GET /v1/drafts` → the citizen's drafts, most recently saved first.
#[utoipa::path(get, path = "/v1/drafts", tag = "drafts", security(("bearer" = [])),
    responses(
    (status = 200, description = "Unexpired drafts", body = DraftList),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody)))]
async fn list_drafts(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<DraftList>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let rows = sqlx::query(
        "SELECT id, matter_code, schema_version, version, updated_ms, expires_ms FROM drafts \
         WHERE network_id = $1 AND expires_ms > $2 ORDER BY updated_ms DESC, id LIMIT 200",
    )
    .bind(&citizen.network_id)
    .bind(now_ms())
    .fetch_all(state.db().pool())
    .await?;
    let drafts = rows
        .iter()
        .map(|row| {
            Ok(DraftSummary {
                id: row.try_get("id")?,
                matter_code: row.try_get("matter_code")?,
                schema_version: row.try_get("schema_version")?,
                version: row.try_get("version")?,
                updated_ms: row.try_get("updated_ms")?,
                expires_ms: row.try_get("expires_ms")?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(DraftList { drafts }))
}

/// `PUT /v1/drafts/{id}` → the draft as stored (created, saved, or merged
/// with the versions saved since `If-Match`), or `409` with the conflicts.
#[utoipa::path(put, path = "/v1/drafts/{id}", tag = "drafts",
    security(("bearer" = [])), params(("id" = String, Path, description = "32 hex digits"),
        ("If-Match" = Option<String>, Header, description = "\"<version>\" this device last synced"),
        ("If-None-Match" = Option<String>, Header, description = "`*`: create")),
    request_body = DraftBody, responses(
    (status = 200, description = "Saved (or merged); `ETag` is the new version", body = StoredDraft),
    (status = 201, description = "Created, version 1", body = StoredDraft),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 409, description = "YW-4096 the same fields changed elsewhere; nothing stored", body = DraftConflict),
    (status = 412, description = "YW-4120 a version not kept, or the draft exists", body = ErrorBody),
    (status = 422, description = "YW-4730 malformed id, YW-4731 the body does not fit the form", body = ErrorBody),
    (status = 428, description = "YW-4280 neither If-Match nor If-None-Match", body = ErrorBody)))]
async fn put_draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<DraftBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    check_draft_id(&id)?;
    let expect = expectation(&headers)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "YW-4280",
            "send If-Match: \"<version>\" (or If-None-Match: * to create)",
        )
    })?;
    let Json(mut body) = body?;
    let db = state.db();
    let (_, schema) = form_of(db, &body.matter_code, body.schema_version)
        .await?
        .ok_or_else(|| unfit("matter_code, schema_version: no such matter version with a form"))?;
    check_body(&schema, &body)?;
    body.government.sort();
    body.government.dedup();
    let network_id = citizen.network_id.as_str();
    let now = now_ms();
    let expires = now + i64::from(state.config().draft_ttl_days) * 86_400_000;
    let mut write = db.begin_write().await?;
    let existing = current(&mut *write.tx, db.backend(), network_id, &id).await?;
    let (status, values, government, version, merged) = match (expect, existing) {
        (Expect::Absent, Some(_)) => {
            return Err(precondition(
                "the draft exists: fetch it and send If-Match with its version",
            ));
        }
        (Expect::Any | Expect::Version(_), None) => return Err(not_found()),
        (Expect::Absent, None) => {
            // An expired draft may still hold the id until the scan runs.
            delete_rows(&mut write.tx, network_id, &id).await?;
            (StatusCode::CREATED, body.values, body.government, 1, false)
        }
        (Expect::Any, Some(cur)) => (
            StatusCode::OK,
            body.values,
            body.government,
            cur.version + 1,
            false,
        ),
        (Expect::Version(n), Some(cur)) if n == cur.version => {
            if cur.values == body.values
                && cur.government == body.government
                && cur.matter_code == body.matter_code
                && cur.schema_version == body.schema_version
            {
                // Nothing changed: no new version.
                return Ok(with_etag(StatusCode::OK, stored(&id, cur, false)));
            }
            (StatusCode::OK, body.values, body.government, n + 1, false)
        }
        (Expect::Version(n), Some(cur)) if n > cur.version => {
            return Err(precondition("If-Match: a version this draft never had"));
        }
        (Expect::Version(n), Some(cur)) => {
            if cur.matter_code != body.matter_code || cur.schema_version != body.schema_version {
                return Err(precondition(
                    "the draft moved to another form version: fetch it and merge on the device",
                ));
            }
            let Some((base, _)) = version_values(&mut write.tx, network_id, &id, n).await? else {
                return Err(precondition(
                    "If-Match: a version no longer kept; fetch the draft and merge on the device",
                ));
            };
            let result = merge(&base, &body.values, &cur.values);
            if !result.conflicts.is_empty() {
                let conflicts = result
                    .conflicts
                    .into_iter()
                    .map(|c| FieldConflict {
                        field: c.field,
                        base: c.base,
                        yours: c.local,
                        theirs: c.remote,
                    })
                    .collect();
                let answer = DraftConflict {
                    code: "YW-4096".to_owned(),
                    message: "the same fields were changed on another device; merge and retry \
                              with If-Match of this version"
                        .to_owned(),
                    request_id: current_request_id(),
                    version: cur.version,
                    values: cur.values,
                    government: cur.government,
                    base_values: base,
                    conflicts,
                };
                return Ok((StatusCode::CONFLICT, Json(answer)).into_response());
            }
            let government: BTreeSet<String> = cur
                .government
                .iter()
                .cloned()
                .chain(body.government)
                .filter(|f| result.values.contains_key(f))
                .collect();
            if result.values == cur.values && government.iter().eq(cur.government.iter()) {
                // The device only lagged behind: the current version is the merge.
                return Ok(with_etag(StatusCode::OK, stored(&id, cur, true)));
            }
            (
                StatusCode::OK,
                result.values,
                government.into_iter().collect(),
                cur.version + 1,
                true,
            )
        }
    };
    let values_json = serde_json::to_string(&values).map_err(ApiError::internal)?;
    let government_json = serde_json::to_string(&government).map_err(ApiError::internal)?;
    if version == 1 {
        let inserted = sqlx::query(
            "INSERT INTO drafts (network_id, id, matter_code, schema_version, version, values_json, \
             government, created_ms, updated_ms, expires_ms) VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $7, $8) \
             ON CONFLICT (network_id, id) DO NOTHING",
        )
        .bind(network_id)
        .bind(&id)
        .bind(&body.matter_code)
        .bind(body.schema_version)
        .bind(&values_json)
        .bind(&government_json)
        .bind(now)
        .bind(expires)
        .execute(&mut *write.tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // Another device created it at the same moment.
            return Err(precondition(
                "the draft exists: fetch it and send If-Match with its version",
            ));
        }
    } else {
        sqlx::query(
            "UPDATE drafts SET matter_code = $1, schema_version = $2, version = $3, \
             values_json = $4, government = $5, updated_ms = $6, expires_ms = $7, reminded_ms = NULL \
             WHERE network_id = $8 AND id = $9",
        )
        .bind(&body.matter_code)
        .bind(body.schema_version)
        .bind(version)
        .bind(&values_json)
        .bind(&government_json)
        .bind(now)
        .bind(expires)
        .bind(network_id)
        .bind(&id)
        .execute(&mut *write.tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO draft_versions (network_id, draft_id, version, values_json, government) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(network_id)
    .bind(&id)
    .bind(version)
    .bind(&values_json)
    .bind(&government_json)
    .execute(&mut *write.tx)
    .await?;
    sqlx::query(
        "DELETE FROM draft_versions WHERE network_id = $1 AND draft_id = $2 AND version <= $3",
    )
    .bind(network_id)
    .bind(&id)
    .bind(version - KEPT_VERSIONS)
    .execute(&mut *write.tx)
    .await?;
    audit::record(&mut *write.tx, "citizen", "draft.saved", Some(network_id)).await?;
    write.tx.commit().await?;
    let draft = StoredDraft {
        id,
        matter_code: body.matter_code,
        schema_version: body.schema_version,
        version,
        values,
        government,
        updated_ms: now,
        expires_ms: expires,
        merged,
    };
    Ok(with_etag(status, draft))
}

type Versioned = (BTreeMap<String, Value>, Vec<String>);

async fn version_values(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    network_id: &str,
    id: &str,
    version: i64,
) -> Result<Option<Versioned>, ApiError> {
    let row = sqlx::query(
        "SELECT values_json, government FROM draft_versions \
         WHERE network_id = $1 AND draft_id = $2 AND version = $3",
    )
    .bind(network_id)
    .bind(id)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| {
        Ok((
            parse_json(&row.try_get::<String, _>("values_json")?)?,
            parse_json(&row.try_get::<String, _>("government")?)?,
        ))
    })
    .transpose()
}

/// Deletes a draft and its kept versions; whether there was one.
pub(super) async fn delete_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    network_id: &str,
    id: &str,
) -> Result<bool, ApiError> {
    sqlx::query("DELETE FROM draft_versions WHERE network_id = $1 AND draft_id = $2")
        .bind(network_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let done = sqlx::query("DELETE FROM drafts WHERE network_id = $1 AND id = $2")
        .bind(network_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// `DELETE /v1/drafts/{id}` → `204`.
#[utoipa::path(delete, path = "/v1/drafts/{id}", tag = "drafts",
    security(("bearer" = [])), params(("id" = String, Path, description = "32 hex digits"),
        ("If-Match" = Option<String>, Header, description = "\"<version>\": only that version")),
    responses(
    (status = 204, description = "Deleted"),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 404, description = "YW-4050 no such draft", body = ErrorBody),
    (status = 412, description = "YW-4120 not the version of If-Match", body = ErrorBody)))]
async fn delete_draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    check_draft_id(&id)?;
    let expect = expectation(&headers)?;
    let db = state.db();
    let mut write = db.begin_write().await?;
    let cur = current(&mut *write.tx, db.backend(), &citizen.network_id, &id)
        .await?
        .ok_or_else(not_found)?;
    match expect {
        Some(Expect::Version(n)) if n != cur.version => {
            return Err(precondition("If-Match: the draft has changed since"));
        }
        Some(Expect::Absent) => return Err(precondition("the draft exists")),
        _ => {}
    }
    delete_rows(&mut write.tx, &citizen.network_id, &id).await?;
    audit::record(
        &mut *write.tx,
        "citizen",
        "draft.deleted",
        Some(&citizen.network_id),
    )
    .await?;
    write.tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What [`remind_and_expire`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DraftSweep {
    pub reminded: usize,
    pub expired: usize,
}

/// The daily drafts job: deletes drafts past their expiry, and reminds (inbox
/// and push, template `draft.expiring`) the citizens whose drafts expire
/// within [`REMIND_BEFORE_MS`], once per save (saving clears the mark). The
/// mark is set by the same statement that selects the drafts, so processes
/// running this together remind each draft once.
pub async fn remind_and_expire(
    db: &Db,
    push: &crate::config::PushSettings,
    now: i64,
) -> Result<DraftSweep, ApiError> {
    // Read before the writing transaction (see `Notice` in the module above).
    let template = templates::load(db.pool(), "draft.expiring", None)
        .await?
        .ok_or_else(|| ApiError::internal("template draft.expiring is missing"))?;
    let mut write = db.begin_write().await?;
    let tx = &mut write.tx;
    sqlx::query(
        "DELETE FROM draft_versions WHERE EXISTS (SELECT 1 FROM drafts d \
         WHERE d.network_id = draft_versions.network_id AND d.id = draft_versions.draft_id \
         AND d.expires_ms <= $1)",
    )
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let expired = sqlx::query("DELETE FROM drafts WHERE expires_ms <= $1")
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected() as usize;
    let rows = sqlx::query(
        "UPDATE drafts SET reminded_ms = $1 WHERE reminded_ms IS NULL AND expires_ms > $1 \
         AND expires_ms <= $2 RETURNING network_id, matter_code, expires_ms",
    )
    .bind(now)
    .bind(now + REMIND_BEFORE_MS)
    .fetch_all(&mut **tx)
    .await?;
    let mut sends = Vec::with_capacity(rows.len());
    if !rows.is_empty() {
        let mut names: BTreeMap<String, (String, String)> = BTreeMap::new();
        for row in &rows {
            let network_id: String = row.try_get("network_id")?;
            let matter: String = row.try_get("matter_code")?;
            let expires: i64 = row.try_get("expires_ms")?;
            if !names.contains_key(&matter) {
                let name = sqlx::query("SELECT name_zh, name_en FROM matters WHERE code = $1")
                    .bind(&matter)
                    .fetch_optional(&mut **tx)
                    .await?;
                let name = match name {
                    Some(r) => (r.try_get("name_zh")?, r.try_get("name_en")?),
                    None => (matter.clone(), matter.clone()),
                };
                names.insert(matter.clone(), name);
            }
            let (zh, en) = names.get(&matter).cloned().unwrap_or_default();
            let params = BTreeMap::from([
                ("matter_zh".to_owned(), zh),
                ("matter_en".to_owned(), en),
                ("date".to_owned(), china_date(expires)),
            ]);
            sends.push(AccountSend::notice(&network_id, template.clone(), params)?);
        }
        enqueue_accounts(tx, push, "drafts", &sends).await?;
    }
    write.tx.commit().await?;
    Ok(DraftSweep {
        reminded: sends.len(),
        expired,
    })
}

/// `YYYY-MM-DD` of a time in China.
pub(super) fn china_date(ms: i64) -> String {
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz).date().to_string())
        .unwrap_or_default()
}
