//! Applications (办件, PRODUCT §3): a submitted draft, checked again here
//! against the matter's form ([`Submission::check`], the core's own
//! validation), becomes an application with a receipt number; departments
//! move it through the statuses of [`TRANSITIONS`], and every change is kept
//! in its history, audited, sent to the citizen's inbox and pushed, and
//! recorded as an `application_status_changed` event for the rules.
//!
//! Departments are service clients holding `applications:<department code>`
//! for each department whose matters they handle.

pub mod drafts;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::forms::{AttachmentEntry, LicenceRefEntry, Problem, Submission};

use crate::AppState;
use crate::audit;
use crate::auth::authenticate;
use crate::catalog::{Bilingual, Department};
use crate::clients::authenticate_where;
use crate::db::{Backend, Db, placeholders};
use crate::error::{ApiError, ErrorBody, current_request_id};
use crate::push::now_ms;
use crate::push::send::{AccountSend, enqueue_accounts, today_in_china};
use crate::push::templates;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(drafts::router())
        .routes(routes!(submit, list_own))
        .routes(routes!(get_own))
        .routes(routes!(supplement))
        .routes(routes!(department_list))
        .routes(routes!(department_get))
        .routes(routes!(change_status))
}

/// The statuses a department may move an application to, from each status
/// (`needs_supplement` → `submitted` is the citizen's supplement).
pub const TRANSITIONS: &[(&str, &[&str])] = &[
    ("submitted", &["accepted", "needs_supplement", "rejected"]),
    ("accepted", &["needs_supplement", "approved", "rejected"]),
    ("needs_supplement", &["rejected"]),
    ("approved", &["completed"]),
    ("rejected", &[]),
    ("completed", &[]),
];

/// Each status in words, for the citizen's inbox.
const STATUS_WORDS: &[(&str, &str, &str)] = &[
    ("submitted", "已提交", "submitted"),
    ("accepted", "已受理", "accepted"),
    ("needs_supplement", "需补正材料", "more documents needed"),
    ("approved", "审批通过", "approved"),
    ("rejected", "未通过", "not approved"),
    ("completed", "已办结", "completed"),
];

/// The department code of an `applications:<code>` scope.
pub fn department_of_scope(scope: &str) -> Option<&str> {
    let code = scope.strip_prefix("applications:")?;
    ((1..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
    .then_some(code)
}

/// A status change.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChange {
    pub status: String,
    pub message: Option<String>,
    /// `citizen` or `department`.
    pub actor: String,
    pub at_ms: i64,
}

/// An application (办件). Lists leave out `values`, `attachments`,
/// `licence_refs` and `history`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Application {
    pub receipt_no: String,
    pub draft_id: String,
    pub matter_code: String,
    pub matter_version: i64,
    pub matter_name: Bilingual,
    pub department: Department,
    pub status: String,
    pub submitted_ms: i64,
    pub updated_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub values: Option<BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub licence_refs: Option<Vec<LicenceRefEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub attachments: Option<Vec<AttachmentEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<StatusChange>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationPage {
    pub applications: Vec<Application>,
    /// Pass as `before` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}

/// `422` YW-4732: the error body and every problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refused {
    pub code: String,
    pub message: String,
    pub request_id: String,
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<Problem>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1-100, default 20.
    pub limit: Option<i64>,
    /// A receipt number: the page after it.
    pub before: Option<String>,
    /// Only this status (departments).
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `accepted`, `needs_supplement`, `approved`, `rejected` or `completed`.
    pub status: String,
    /// 1-300 characters; required for `needs_supplement` and `rejected`.
    #[serde(default)]
    pub message: Option<String>,
}

fn not_found() -> ApiError {
    ApiError::not_found("YW-4051", "no such application")
}

fn malformed(message: &str) -> ApiError {
    ApiError::unprocessable("YW-4730", message.to_owned())
}

fn disallowed(from: &str, to: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "YW-4097",
        format!("an application that is {from} cannot become {to}"),
    )
}

fn is_receipt(text: &str) -> bool {
    text.len() == 18 && text.starts_with("YW") && text[2..].bytes().all(|b| b.is_ascii_digit())
}

/// `YW`, the date in China and 8 random digits.
fn new_receipt() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    yiwang_core::crypto::random_bytes(&mut bytes).map_err(ApiError::internal)?;
    Ok(format!(
        "YW{}{:08}",
        today_in_china(),
        u64::from_le_bytes(bytes) % 100_000_000
    ))
}

fn words(status: &str) -> (&'static str, &'static str) {
    STATUS_WORDS
        .iter()
        .find(|(s, _, _)| *s == status)
        .map_or(("", ""), |(_, zh, en)| (*zh, *en))
}

/// Who may see an application.
enum Viewer<'a> {
    Citizen(&'a str),
    /// `None`: the admin, every department.
    Departments(Option<Vec<String>>),
}

impl Viewer<'_> {
    /// The SQL condition and its binds, from placeholder `first`.
    fn condition(&self, first: usize) -> (String, Vec<String>) {
        match self {
            Viewer::Citizen(id) => (format!("a.network_id = ${first}"), vec![(*id).to_owned()]),
            Viewer::Departments(None) => ("1 = 1".to_owned(), Vec::new()),
            Viewer::Departments(Some(codes)) => (
                format!(
                    "a.department_code IN ({})",
                    placeholders(first, codes.len())
                ),
                codes.clone(),
            ),
        }
    }
}

/// The matter's name and department at a version, read from the catalog.
async fn matter_names(
    db: &Db,
    cache: &mut BTreeMap<(String, i64), (Bilingual, Department)>,
    code: &str,
    version: i64,
) -> Result<(Bilingual, Department), ApiError> {
    let key = (code.to_owned(), version);
    if let Some(found) = cache.get(&key) {
        return Ok(found.clone());
    }
    let matter = crate::catalog::load(db, code, Some(version))
        .await?
        .ok_or_else(|| ApiError::internal(format!("matter {code} v{version} is gone")))?;
    let found = (matter.document.name, matter.document.department);
    cache.insert(key, found.clone());
    Ok(found)
}

const COLUMNS: &str = "a.receipt_no, a.draft_id, a.matter_code, a.matter_version, a.status, \
                       a.submitted_ms, a.updated_ms, a.values_json, a.attachments";

async fn summary(
    db: &Db,
    cache: &mut BTreeMap<(String, i64), (Bilingual, Department)>,
    row: &sqlx::any::AnyRow,
) -> Result<Application, ApiError> {
    let matter_code: String = row.try_get("matter_code")?;
    let matter_version: i64 = row.try_get("matter_version")?;
    let (matter_name, department) = matter_names(db, cache, &matter_code, matter_version).await?;
    Ok(Application {
        receipt_no: row.try_get("receipt_no")?,
        draft_id: row.try_get("draft_id")?,
        matter_code,
        matter_version,
        matter_name,
        department,
        status: row.try_get("status")?,
        submitted_ms: row.try_get("submitted_ms")?,
        updated_ms: row.try_get("updated_ms")?,
        values: None,
        licence_refs: None,
        attachments: None,
        history: None,
    })
}

/// One application in full, if `viewer` may see it.
async fn load_full(
    db: &Db,
    viewer: &Viewer<'_>,
    receipt_no: &str,
) -> Result<Option<Application>, ApiError> {
    if !is_receipt(receipt_no) {
        return Ok(None);
    }
    let (condition, binds) = viewer.condition(2);
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM applications a WHERE a.receipt_no = $1 AND {condition}"
    )))
    .bind(receipt_no);
    for b in &binds {
        query = query.bind(b.as_str());
    }
    let Some(row) = query.fetch_optional(db.pool()).await? else {
        return Ok(None);
    };
    let mut application = summary(db, &mut BTreeMap::new(), &row).await?;
    let json = |column: &str| -> Result<Value, ApiError> {
        serde_json::from_str(&row.try_get::<String, _>(column)?)
            .map_err(|e| ApiError::internal(format!("stored application: {e}")))
    };
    application.values =
        Some(serde_json::from_value(json("values_json")?).map_err(ApiError::internal)?);
    application.attachments =
        Some(serde_json::from_value(json("attachments")?).map_err(ApiError::internal)?);
    let refs = sqlx::query(
        "SELECT field, licence_id, reason FROM application_licences WHERE receipt_no = $1",
    )
    .bind(receipt_no)
    .fetch_all(db.pool())
    .await?;
    let mut licence_refs = Vec::with_capacity(refs.len());
    for r in refs {
        licence_refs.push(LicenceRefEntry {
            field: r.try_get("field")?,
            licence_id: r.try_get("licence_id")?,
            reason: r.try_get("reason")?,
        });
    }
    // Form order is kept in the values; stored rows come back in key order.
    let order: Vec<&String> = application.values.iter().flat_map(|v| v.keys()).collect();
    licence_refs.sort_by_key(|r| order.iter().position(|k| **k == r.field));
    application.licence_refs = Some(licence_refs);
    let rows = sqlx::query(
        "SELECT status, message, actor, at_ms FROM application_history \
         WHERE receipt_no = $1 ORDER BY id",
    )
    .bind(receipt_no)
    .fetch_all(db.pool())
    .await?;
    let mut history = Vec::with_capacity(rows.len());
    for r in rows {
        history.push(StatusChange {
            status: r.try_get("status")?,
            message: r.try_get("message")?,
            actor: r.try_get("actor")?,
            at_ms: r.try_get("at_ms")?,
        });
    }
    application.history = Some(history);
    Ok(Some(application))
}

async fn list(
    db: &Db,
    viewer: &Viewer<'_>,
    query: Result<Query<ListQuery>, QueryRejection>,
    allow_status: bool,
) -> Result<ApplicationPage, ApiError> {
    let Query(q) = query.map_err(|_| malformed("query: limit, before, status"))?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(malformed("limit: 1-100"));
    }
    if q.status.is_some() && !allow_status {
        return Err(malformed("status: not a parameter here"));
    }
    if let Some(s) = &q.status
        && !TRANSITIONS.iter().any(|(t, _)| t == s)
    {
        return Err(malformed("status: one of the application statuses"));
    }
    let (condition, binds) = viewer.condition(1);
    let mut sql = format!("SELECT {COLUMNS} FROM applications a WHERE {condition}");
    let mut next = binds.len() + 1;
    let mut extra: Vec<String> = Vec::new();
    let mut before_ms = None;
    if let Some(before) = &q.before {
        if !is_receipt(before) {
            return Err(malformed("before: a receipt number"));
        }
        let row = sqlx::query("SELECT submitted_ms FROM applications WHERE receipt_no = $1")
            .bind(before)
            .fetch_optional(db.pool())
            .await?
            .ok_or_else(|| malformed("before: a receipt number of this list"))?;
        before_ms = Some(row.try_get::<i64, _>("submitted_ms")?);
        sql.push_str(&format!(
            " AND (a.submitted_ms < ${next} OR (a.submitted_ms = ${next} AND a.receipt_no < ${}))",
            next + 1
        ));
        next += 2;
        extra.push(before.clone());
    }
    if let Some(status) = &q.status {
        sql.push_str(&format!(" AND a.status = ${next}"));
        extra.push(status.clone());
    }
    sql.push_str(&format!(
        " ORDER BY a.submitted_ms DESC, a.receipt_no DESC LIMIT {}",
        limit + 1
    ));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in &binds {
        query = query.bind(b.as_str());
    }
    if let Some(ms) = before_ms {
        query = query.bind(ms);
    }
    for b in &extra {
        query = query.bind(b.as_str());
    }
    let rows = query.fetch_all(db.pool()).await?;
    let mut cache = BTreeMap::new();
    let mut applications = Vec::with_capacity(rows.len());
    for row in rows.iter().take(limit as usize) {
        applications.push(summary(db, &mut cache, row).await?);
    }
    let next_before = (rows.len() > limit as usize)
        .then(|| applications.last().map(|a| a.receipt_no.clone()))
        .flatten();
    Ok(ApplicationPage {
        applications,
        next_before,
    })
}

/// The submission's checks against its matter's form; the matter and
/// department for storing it.
async fn checked(db: &Db, submission: &Submission) -> Result<(String, i64), Response> {
    drafts::check_draft_id(&submission.draft_id).map_err(IntoResponse::into_response)?;
    let refuse = |m: &str| ApiError::unprocessable("YW-4733", m.to_owned()).into_response();
    let version = i64::from(submission.schema_version);
    let Some((matter, schema)) = drafts::form_of(db, &submission.matter_code, version)
        .await
        .map_err(IntoResponse::into_response)?
    else {
        return Err(refuse(
            "matter_code, schema_version: no such matter version with a form",
        ));
    };
    if matter.retired {
        return Err(refuse("the matter is retired"));
    }
    if matter.document.delivery != "online" {
        return Err(refuse("the matter is not applied for online"));
    }
    let problems = submission.check(&schema, china_today());
    if !problems.is_empty() {
        let body = Refused {
            code: "YW-4732".to_owned(),
            message: format!("the submission has {} problem(s)", problems.len()),
            request_id: current_request_id(),
            problems,
        };
        return Err((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    Ok((matter.document.department.code, version))
}

fn china_today() -> time::Date {
    let n = today_in_china();
    time::Month::try_from((n / 100 % 100) as u8)
        .ok()
        .and_then(|m| time::Date::from_calendar_date((n / 10_000) as i32, m, (n % 100) as u8).ok())
        .unwrap_or(time::Date::MIN)
}

fn digest(submission: &Submission) -> Result<String, ApiError> {
    let bytes = serde_json::to_vec(submission).map_err(ApiError::internal)?;
    Ok(hex::encode(yiwang_core::crypto::Suite::Intl.hash(&bytes)))
}

/// What telling a citizen about their application needs, read before the
/// writing transaction (on SQLite it holds the only connection of an
/// in-memory database).
struct Notice {
    template: templates::Template,
    matter: Bilingual,
    receipt_no: String,
}

impl Notice {
    async fn load(
        db: &Db,
        receipt_no: &str,
        matter_code: &str,
        matter_version: i64,
    ) -> Result<Self, ApiError> {
        let template = templates::load(db.pool(), "application.status", None)
            .await?
            .ok_or_else(|| ApiError::internal("template application.status is missing"))?;
        let (matter, _) =
            matter_names(db, &mut BTreeMap::new(), matter_code, matter_version).await?;
        Ok(Self {
            template,
            matter,
            receipt_no: receipt_no.to_owned(),
        })
    }

    /// Sends the citizen the change (inbox and push) inside `tx`.
    async fn send(
        self,
        state: &AppState,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        actor: &str,
        network_id: &str,
        status: &str,
        message: Option<&str>,
    ) -> Result<(), ApiError> {
        let receipt_no = &self.receipt_no;
        let (zh, en) = words(status);
        let (detail_zh, detail_en) = match message {
            Some(m) => (
                format!("{zh}：{m}（办件编号 {receipt_no}）"),
                format!("{en}: {m} (receipt {receipt_no})"),
            ),
            None => (
                format!("{zh}（办件编号 {receipt_no}）"),
                format!("{en} (receipt {receipt_no})"),
            ),
        };
        let params = BTreeMap::from([
            ("matter_zh".to_owned(), self.matter.zh),
            ("matter_en".to_owned(), self.matter.en),
            ("detail_zh".to_owned(), detail_zh),
            ("detail_en".to_owned(), detail_en),
        ]);
        let send = AccountSend::notice(network_id, self.template, params)?;
        enqueue_accounts(tx, &state.config().push, actor, &[send]).await
    }
}

/// Stores the licence references of `submission` (replacing earlier ones)
/// and the citizen's `submitted` in the history.
async fn store_submitted(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    receipt_no: &str,
    submission: &Submission,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM application_licences WHERE receipt_no = $1")
        .bind(receipt_no)
        .execute(&mut **tx)
        .await?;
    for r in &submission.licence_refs {
        sqlx::query(
            "INSERT INTO application_licences (receipt_no, field, licence_id, reason) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(receipt_no)
        .bind(&r.field)
        .bind(&r.licence_id)
        .bind(&r.reason)
        .execute(&mut **tx)
        .await?;
    }
    add_history(tx, receipt_no, "submitted", None, "citizen", now).await
}

async fn add_history(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    receipt_no: &str,
    status: &str,
    message: Option<&str>,
    actor: &str,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO application_history (receipt_no, status, message, actor, at_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(receipt_no)
    .bind(status)
    .bind(message)
    .bind(actor)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn created(application: Application, status: StatusCode) -> Response {
    let location = format!("/v1/applications/{}", application.receipt_no);
    (status, [(header::LOCATION, location)], Json(application)).into_response()
}

/// `POST /v1/applications` → `201` the application (办件) with its receipt
/// number; the same submission again `200` the same application.
#[utoipa::path(post, path = "/v1/applications", tag = "applications",
    security(("bearer" = [])), request_body(content = Object, description = "A submission (docs/formats.md, \"Submission payload\")"),
    responses(
    (status = 201, description = "Submitted", body = Application),
    (status = 200, description = "This submission was made before", body = Application),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 409, description = "YW-4098 the draft was submitted with other content", body = ErrorBody),
    (status = 422, description = "YW-4730 malformed draft id, YW-4732 the form's checks fail (with `problems`), YW-4733 the matter is retired or not online", body = Refused)))]
async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Submission>, JsonRejection>,
) -> Result<Response, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let Json(submission) = body?;
    let db = state.db();
    let network_id = citizen.network_id.as_str();
    let digest = digest(&submission)?;
    let viewer = Viewer::Citizen(network_id);
    let earlier = || async {
        let row = sqlx::query(
            "SELECT receipt_no, digest FROM applications WHERE network_id = $1 AND draft_id = $2",
        )
        .bind(network_id)
        .bind(&submission.draft_id)
        .fetch_optional(db.pool())
        .await?;
        let Some(row) = row else {
            return Ok::<_, ApiError>(None);
        };
        if row.try_get::<String, _>("digest")? != digest {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "YW-4098",
                "this draft was already submitted with other content",
            ));
        }
        let receipt: String = row.try_get("receipt_no")?;
        load_full(db, &viewer, &receipt).await
    };
    if let Some(application) = earlier().await? {
        return Ok(created(application, StatusCode::OK));
    }
    let (department, version) = match checked(db, &submission).await {
        Ok(found) => found,
        Err(response) => return Ok(response),
    };
    let mut notice = Notice::load(db, "", &submission.matter_code, version).await?;
    let values_json = serde_json::to_string(&submission.values).map_err(ApiError::internal)?;
    let attachments_json =
        serde_json::to_string(&submission.attachments).map_err(ApiError::internal)?;
    let now = now_ms();
    let mut attempts = 0;
    let (mut write, receipt_no) = loop {
        let receipt_no = new_receipt()?;
        let mut write = db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO applications (receipt_no, network_id, draft_id, matter_code, \
             matter_version, department_code, status, digest, values_json, attachments, \
             submitted_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $7, $8, $9, $10, $10) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&receipt_no)
        .bind(network_id)
        .bind(&submission.draft_id)
        .bind(&submission.matter_code)
        .bind(version)
        .bind(&department)
        .bind(&digest)
        .bind(&values_json)
        .bind(&attachments_json)
        .bind(now)
        .execute(&mut *write.tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            break (write, receipt_no);
        }
        drop(write);
        // The same draft submitted at the same moment from another device,
        // or (rarely) the day's random receipt number taken: draw again.
        if let Some(application) = earlier().await? {
            return Ok(created(application, StatusCode::OK));
        }
        attempts += 1;
        if attempts == 5 {
            return Err(ApiError::internal("no free receipt number in 5 draws"));
        }
    };
    notice.receipt_no = receipt_no.clone();
    store_submitted(&mut write.tx, &receipt_no, &submission, now).await?;
    drafts::delete_rows(&mut write.tx, network_id, &submission.draft_id).await?;
    audit::record(
        &mut *write.tx,
        "citizen",
        "application.submitted",
        Some(network_id),
    )
    .await?;
    notice
        .send(
            &state,
            &mut write.tx,
            "applications",
            network_id,
            "submitted",
            None,
        )
        .await?;
    write.tx.commit().await?;
    state.push_wake().notify_one();
    let application = load_full(db, &viewer, &receipt_no)
        .await?
        .ok_or_else(not_found)?;
    Ok(created(application, StatusCode::CREATED))
}

/// `GET /v1/applications` → the citizen's applications, newest first.
#[utoipa::path(get, path = "/v1/applications", tag = "applications",
    security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Summaries", body = ApplicationPage),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 422, description = "YW-4730 a bad query", body = ErrorBody)))]
async fn list_own(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ApplicationPage>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let viewer = Viewer::Citizen(&citizen.network_id);
    Ok(Json(list(state.db(), &viewer, query, false).await?))
}

/// `GET /v1/applications/{receipt_no}` → the application with its values
/// and history.
#[utoipa::path(get, path = "/v1/applications/{receipt_no}", tag = "applications",
    security(("bearer" = [])), params(("receipt_no" = String, Path, description = "The receipt number")),
    responses(
    (status = 200, description = "The application", body = Application),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 404, description = "YW-4051 not this citizen's", body = ErrorBody)))]
async fn get_own(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(receipt_no): Path<String>,
) -> Result<Json<Application>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let viewer = Viewer::Citizen(&citizen.network_id);
    let application = load_full(state.db(), &viewer, &receipt_no)
        .await?
        .ok_or_else(not_found)?;
    audit::record(
        state.db().pool(),
        "citizen",
        "application.read",
        Some(&citizen.network_id),
    )
    .await?;
    Ok(Json(application))
}

/// Locks an application's row (PostgreSQL) and reads its owner and status.
async fn lock(
    db: &Db,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    viewer: &Viewer<'_>,
    receipt_no: &str,
) -> Result<(String, String, String, i64, String), ApiError> {
    if !is_receipt(receipt_no) {
        return Err(not_found());
    }
    let (condition, binds) = viewer.condition(2);
    let lock = if db.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT a.network_id, a.status, a.matter_code, a.matter_version, a.draft_id \
         FROM applications a WHERE a.receipt_no = $1 AND {condition}{lock}"
    )))
    .bind(receipt_no);
    for b in &binds {
        query = query.bind(b.as_str());
    }
    let row = query
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(not_found)?;
    Ok((
        row.try_get("network_id")?,
        row.try_get("status")?,
        row.try_get("matter_code")?,
        row.try_get("matter_version")?,
        row.try_get("draft_id")?,
    ))
}

/// `POST /v1/applications/{receipt_no}/supplement` → the application, back
/// to `submitted` with the supplemented values.
#[utoipa::path(post, path = "/v1/applications/{receipt_no}/supplement", tag = "applications",
    security(("bearer" = [])), params(("receipt_no" = String, Path, description = "The receipt number")),
    request_body(content = Object, description = "A submission of the same draft id"),
    responses(
    (status = 200, description = "Supplemented", body = Application),
    (status = 401, description = "YW-4010 sign-in required", body = ErrorBody),
    (status = 404, description = "YW-4051 not this citizen's", body = ErrorBody),
    (status = 409, description = "YW-4097 not waiting for a supplement", body = ErrorBody),
    (status = 422, description = "YW-4730 another draft or matter, YW-4732 the form's checks fail", body = Refused)))]
async fn supplement(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(receipt_no): Path<String>,
    body: Result<Json<Submission>, JsonRejection>,
) -> Result<Response, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    let Json(submission) = body?;
    let db = state.db();
    let viewer = Viewer::Citizen(&citizen.network_id);
    let (_, version) = match checked(db, &submission).await {
        Ok(found) => found,
        Err(response) => return Ok(response),
    };
    let now = now_ms();
    let mut write = db.begin_write().await?;
    let (network_id, status, matter_code, matter_version, draft_id) =
        lock(db, &mut write.tx, &viewer, &receipt_no).await?;
    if draft_id != submission.draft_id
        || matter_code != submission.matter_code
        || matter_version != version
    {
        return Err(malformed(
            "a supplement repeats the application's draft id, matter and version",
        ));
    }
    if status != "needs_supplement" {
        return Err(disallowed(&status, "submitted"));
    }
    sqlx::query(
        "UPDATE applications SET status = 'submitted', digest = $1, values_json = $2, \
         attachments = $3, updated_ms = $4 WHERE receipt_no = $5",
    )
    .bind(digest(&submission)?)
    .bind(serde_json::to_string(&submission.values).map_err(ApiError::internal)?)
    .bind(serde_json::to_string(&submission.attachments).map_err(ApiError::internal)?)
    .bind(now)
    .bind(&receipt_no)
    .execute(&mut *write.tx)
    .await?;
    store_submitted(&mut write.tx, &receipt_no, &submission, now).await?;
    audit::record(
        &mut *write.tx,
        "citizen",
        "application.supplemented",
        Some(&network_id),
    )
    .await?;
    write.tx.commit().await?;
    let application = load_full(db, &viewer, &receipt_no)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(application).into_response())
}

/// The departments a caller acts for (`None`: the admin, all).
pub(crate) async fn department(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, Option<Vec<String>>), ApiError> {
    let sender = authenticate_where(state, headers, "applications:<department code>", |s| {
        department_of_scope(s).is_some()
    })
    .await?;
    let codes = sender.client_id.as_ref().map(|_| {
        sender
            .scopes
            .iter()
            .filter_map(|s| department_of_scope(s).map(str::to_owned))
            .collect()
    });
    Ok((sender.actor, codes))
}

/// `GET /v1/department/applications` → the applications of the caller's
/// departments, newest first.
#[utoipa::path(get, path = "/v1/department/applications", tag = "applications",
    security(("client" = []), ("admin" = [])), params(ListQuery), responses(
    (status = 200, description = "Summaries", body = ApplicationPage),
    (status = 401, description = "YW-4023 client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 no applications scope", body = ErrorBody),
    (status = 422, description = "YW-4730 a bad query", body = ErrorBody)))]
async fn department_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ApplicationPage>, ApiError> {
    let (_, codes) = department(&state, &headers).await?;
    let viewer = Viewer::Departments(codes);
    Ok(Json(list(state.db(), &viewer, query, true).await?))
}

/// `GET /v1/department/applications/{receipt_no}` → the application in full
/// (audited: it is personal data).
#[utoipa::path(get, path = "/v1/department/applications/{receipt_no}", tag = "applications",
    security(("client" = []), ("admin" = [])),
    params(("receipt_no" = String, Path, description = "The receipt number")), responses(
    (status = 200, description = "The application", body = Application),
    (status = 401, description = "YW-4023 client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 no applications scope", body = ErrorBody),
    (status = 404, description = "YW-4051 not this department's", body = ErrorBody)))]
async fn department_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(receipt_no): Path<String>,
) -> Result<Json<Application>, ApiError> {
    let (actor, codes) = department(&state, &headers).await?;
    let viewer = Viewer::Departments(codes);
    let application = load_full(state.db(), &viewer, &receipt_no)
        .await?
        .ok_or_else(not_found)?;
    let owner: String = sqlx::query("SELECT network_id FROM applications WHERE receipt_no = $1")
        .bind(&receipt_no)
        .fetch_one(state.db().pool())
        .await?
        .try_get("network_id")?;
    audit::record(state.db().pool(), &actor, "application.read", Some(&owner)).await?;
    Ok(Json(application))
}

/// `POST /v1/department/applications/{receipt_no}/status` → the application
/// in its new status; the citizen is told (inbox and push).
#[utoipa::path(post, path = "/v1/department/applications/{receipt_no}/status", tag = "applications",
    security(("client" = []), ("admin" = [])),
    params(("receipt_no" = String, Path, description = "The receipt number")),
    request_body = StatusRequest, responses(
    (status = 200, description = "Changed", body = Application),
    (status = 401, description = "YW-4023 client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 no applications scope", body = ErrorBody),
    (status = 404, description = "YW-4051 not this department's", body = ErrorBody),
    (status = 409, description = "YW-4097 a transition the table does not allow", body = ErrorBody),
    (status = 422, description = "YW-4736 a bad status or message", body = ErrorBody)))]
async fn change_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(receipt_no): Path<String>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<Application>, ApiError> {
    let (actor, codes) = department(&state, &headers).await?;
    let Json(request) = body?;
    let bad = |m: &str| ApiError::unprocessable("YW-4736", m.to_owned());
    let to = request.status.as_str();
    if to == "submitted" || !TRANSITIONS.iter().any(|(s, _)| *s == to) {
        return Err(bad(
            "status: accepted, needs_supplement, approved, rejected or completed",
        ));
    }
    let message = request.message.as_deref().map(str::trim);
    match message {
        Some(m) if m.is_empty() || m.chars().count() > 300 || m.chars().any(char::is_control) => {
            return Err(bad("message: 1-300 characters, no control characters"));
        }
        None if matches!(to, "needs_supplement" | "rejected") => {
            return Err(bad("message: required for needs_supplement and rejected"));
        }
        _ => {}
    }
    let db = state.db();
    let viewer = Viewer::Departments(codes);
    // An application's matter never changes: read it before the transaction.
    let matter =
        sqlx::query("SELECT matter_code, matter_version FROM applications WHERE receipt_no = $1")
            .bind(&receipt_no)
            .fetch_optional(db.pool())
            .await?
            .ok_or_else(not_found)?;
    let notice = Notice::load(
        db,
        &receipt_no,
        &matter.try_get::<String, _>("matter_code")?,
        matter.try_get("matter_version")?,
    )
    .await?;
    let now = now_ms();
    let mut write = db.begin_write().await?;
    let (network_id, from, _, _, _) = lock(db, &mut write.tx, &viewer, &receipt_no).await?;
    let allowed = TRANSITIONS
        .iter()
        .find(|(s, _)| *s == from)
        .is_some_and(|(_, next)| next.contains(&to));
    if !allowed {
        return Err(disallowed(&from, to));
    }
    sqlx::query("UPDATE applications SET status = $1, updated_ms = $2 WHERE receipt_no = $3")
        .bind(to)
        .bind(now)
        .bind(&receipt_no)
        .execute(&mut *write.tx)
        .await?;
    add_history(&mut write.tx, &receipt_no, to, message, "department", now).await?;
    let changes: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM application_history WHERE receipt_no = $1")
            .bind(&receipt_no)
            .fetch_one(&mut *write.tx)
            .await?
            .try_get("n")?;
    audit::record(
        &mut *write.tx,
        &actor,
        &format!("application.{to}"),
        Some(&network_id),
    )
    .await?;
    notice
        .send(&state, &mut write.tx, &actor, &network_id, to, message)
        .await?;
    // The rules may offer what follows (e.g. after a birth registration).
    let data = serde_json::json!({"receipt": receipt_no, "status": to}).to_string();
    crate::events::insert_own(
        &mut write.tx,
        crate::events::OwnEvent {
            source: "applications",
            event_id: &format!("{receipt_no}-{changes}"),
            event_type: "application_status_changed",
            network_id: &network_id,
            at_ms: now,
            data: &data,
        },
    )
    .await?;
    write.tx.commit().await?;
    state.push_wake().notify_one();
    state.events_wake().notify_one();
    let application = load_full(db, &viewer, &receipt_no)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(application))
}
