//! Issuing licences: a department (a service client with the scope
//! `licences:<its USCC>`, for an authority of this library) issues a licence
//! to a citizen or an organisation, and suspends, reinstates or revokes it.
//!
//! - Only the authority's own types; a citizen holder must have enrolled
//!   (the library links the licence to their 网号, keeps the keyed hash of the
//!   number, and seals the licence JSON).
//! - Idempotent by the department's licence number: the same licence again
//!   is `200` with the first answer; other content is `409` YW-4090.
//! - The identifier is GB/T 36904: the type code, the authority's USCC, the
//!   number's letters and digits (upper case) as serial, version 001.
//! - Every change: a status-list bit for suspension and revocation, a
//!   `licence_issued` event for the rules on issue, the holder told (inbox and
//!   push, template `licence.changed`), and the audit log.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64ct::Encoding;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::Date;
use utoipa::ToSchema;
use yiwang_core::credential::{Issuer, Licence, StatusList, china_date};
use yiwang_core::crypto::{KeyAlias, SigningKey, SoftwareKeyStore, Suite};
use yiwang_core::identity::{IdNumber, LicenceId, Uscc};

use super::{PEM_COLUMN, SECRET_COLUMN};
use crate::AppState;
use crate::audit;
use crate::clients::authenticate_where;
use crate::error::{ApiError, ErrorBody};
use crate::issuer::{STATUS_MAX_AGE_SECS, now};
use crate::push::now_ms;
use crate::push::send::{AccountSend, enqueue_accounts};
use crate::push::templates;

/// The column the sealed licence JSON is stored in.
pub(super) const BODY_COLUMN: &str = "licences.body";
/// The counter row ordering licence changes (in `status_counters`).
const SEQ_COUNTER: &str = "library:seq";

/// The authority a `licences:<USCC>` scope names.
pub fn authority_of_scope(scope: &str) -> Option<&str> {
    scope
        .strip_prefix("licences:")
        .filter(|u| Uscc::parse(u).is_ok())
}

/// A local authority and its current key (whose status list new licences go on).
struct LocalAuthority {
    name: String,
    types: Vec<String>,
    kid: String,
}

fn issuer_from(
    state: &AppState,
    kid: &str,
    stored_pem: &str,
    stored_secret: &str,
) -> Result<Issuer, ApiError> {
    let vault = state.vault();
    let pem = vault.open(PEM_COLUMN, kid, stored_pem)?;
    let secret = vault.open(SECRET_COLUMN, kid, stored_secret)?;
    let secret: [u8; 32] = hex::decode(secret.trim())
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| ApiError::internal("authority secret is not 32 bytes of hex"))?;
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("authority").map_err(ApiError::internal)?;
    store
        .insert(
            &alias,
            SigningKey::from_pkcs8_pem(&pem).map_err(ApiError::internal)?,
        )
        .map_err(ApiError::internal)?;
    Issuer::new(store, alias, secret).map_err(ApiError::internal)
}

async fn local_authority(state: &AppState, uscc: &str) -> Result<LocalAuthority, ApiError> {
    let pool = state.db().pool();
    let row = sqlx::query("SELECT name, licence_types, local FROM authorities WHERE uscc = $1")
        .bind(uscc)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ApiError::not_found("YW-4052", "no authority with this uscc"))?;
    if row.try_get::<i64, _>("local")? != 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4743",
            "another region's authority issues through its own library",
        ));
    }
    let kid: String = sqlx::query_scalar(
        "SELECT kid FROM authority_keys \
         WHERE uscc = $1 AND not_after_ms IS NULL AND private_pem IS NOT NULL \
         ORDER BY not_before_ms DESC LIMIT 1",
    )
    .bind(uscc)
    .fetch_one(pool)
    .await?;
    let types: String = row.try_get("licence_types")?;
    Ok(LocalAuthority {
        name: row.try_get("name")?,
        types: types.split(' ').map(str::to_owned).collect(),
        kid,
    })
}

/// The signer of a local authority's current key.
pub(super) async fn authority_issuer(state: &AppState, uscc: &str) -> Result<Issuer, ApiError> {
    let key = sqlx::query(
        "SELECT kid, private_pem, secret_hex FROM authority_keys \
         WHERE uscc = $1 AND not_after_ms IS NULL AND private_pem IS NOT NULL \
         ORDER BY not_before_ms DESC LIMIT 1",
    )
    .bind(uscc)
    .fetch_one(state.db().pool())
    .await?;
    issuer_from(
        state,
        &key.try_get::<String, _>("kid")?,
        &key.try_get::<String, _>("private_pem")?,
        &key.try_get::<String, _>("secret_hex")?,
    )
}

/// The signed status list of a local authority key, or `None` for a kid
/// this library holds no private key for.
pub async fn authority_status_list(
    state: &AppState,
    kid: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    let pool = state.db().pool();
    let Some(key) = sqlx::query(
        "SELECT private_pem, secret_hex FROM authority_keys WHERE kid = $1 AND private_pem IS NOT NULL",
    )
    .bind(kid)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let issuer = issuer_from(
        state,
        kid,
        &key.try_get::<String, _>("private_pem")?,
        &key.try_get::<String, _>("secret_hex")?,
    )?;
    let mut list = StatusList::new();
    for index in sqlx::query_scalar::<_, i64>("SELECT idx FROM revocations WHERE kid = $1")
        .bind(kid)
        .fetch_all(pool)
        .await?
    {
        list.revoke(u32::try_from(index).map_err(ApiError::internal)?);
    }
    issuer
        .sign_status_list(&list, now(), STATUS_MAX_AGE_SECS)
        .map(Some)
        .map_err(ApiError::internal)
}

/// The holder of a licence to issue: a citizen by ID number or an organisation by USCC.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderRequest {
    #[serde(default)]
    id_number: Option<String>,
    #[serde(default)]
    uscc: Option<String>,
    /// 持证主体: the citizen's or organisation's name.
    name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The issuing authority (one of the caller's `licences:<USCC>` scopes).
    issuer_uscc: String,
    /// 证照编号: the department's own number, the idempotency key.
    number: String,
    type_code: String,
    holder: HolderRequest,
    /// `YYYY-MM-DD`; default today (China).
    #[serde(default)]
    issue_date: Option<String>,
    /// Default the issue date.
    #[serde(default)]
    valid_from: Option<String>,
    /// `YYYY-MM-DD` or `长期`; default from the type's validity.
    #[serde(default)]
    valid_until: Option<String>,
    /// GB/T 2260 code of the jurisdiction.
    jurisdiction: String,
}

/// A licence as the library reports it to its issuer (no personal data).
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceRecord {
    identifier: String,
    number: String,
    type_code: String,
    /// `active`, `suspended` or `revoked`.
    status: String,
    version: i64,
    /// The status list (`GET /v1/status-lists/{kid}`) and index it is on.
    kid: String,
    status_index: i64,
    valid_until: Option<String>,
    /// The holder, masked.
    holder: String,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(code, message)
}

/// The issuer a department may act for: the admin for any, a client for its scopes.
async fn acting_for(state: &AppState, headers: &HeaderMap, uscc: &str) -> Result<String, ApiError> {
    let sender = authenticate_where(state, headers, "licences:<authority USCC>", |s| {
        authority_of_scope(s).is_some()
    })
    .await?;
    if sender.client_id.is_some()
        && !sender
            .scopes
            .iter()
            .any(|s| s == &format!("licences:{uscc}"))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "YW-4033",
            "this client is not allowed to issue for this authority",
        ));
    }
    Ok(sender.actor)
}

fn date(text: &str, what: &str) -> Result<Date, ApiError> {
    let parts: Vec<&str> = text.split('-').collect();
    let parsed = match parts[..] {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => (|| {
            let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
            Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
        })(),
        _ => None,
    };
    parsed.ok_or_else(|| bad("YW-4747", format!("{what}: YYYY-MM-DD, a real date")))
}

/// `POST /v1/library/licences` → 201: a licence issued to its holder.
#[utoipa::path(post, path = "/v1/library/licences", tag = "library",
    security(("client" = []), ("admin" = [])), request_body = IssueRequest, responses(
    (status = 200, description = "Issued before with the same content", body = LicenceRecord),
    (status = 201, description = "Issued; the holder is told", body = LicenceRecord),
    (status = 401, description = "YW-4023 client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 not this client's authority, YW-4034 a type the authority does not issue", body = ErrorBody),
    (status = 404, description = "YW-4052 no such authority", body = ErrorBody),
    (status = 409, description = "YW-4090 this number (or identifier) was issued with other content, YW-4743 not a local authority", body = ErrorBody),
    (status = 422, description = "YW-4744 holder, YW-4745 unknown holder, YW-4746 number unusable as a serial, YW-4747 dates, YW-1419 licence fields, YW-10xx ID number", body = ErrorBody)))]
async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<IssueRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let actor = acting_for(&state, &headers, &request.issuer_uscc).await?;
    let issuer_uscc = Uscc::parse(&request.issuer_uscc)
        .map_err(|e| bad("YW-4740", format!("issuer_uscc: {e}")))?;
    let authority = local_authority(&state, issuer_uscc.as_str()).await?;
    if !authority.types.contains(&request.type_code) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "YW-4034",
            "this authority is not registered for this licence type",
        ));
    }
    let db = state.db();
    let kind = sqlx::query(
        "SELECT name_zh, name_en, holder_kind, validity_years FROM licence_types WHERE type_code = $1",
    )
    .bind(&request.type_code)
    .fetch_one(db.pool())
    .await?;
    let (name_zh, name_en): (String, String) = (kind.try_get("name_zh")?, kind.try_get("name_en")?);
    let holder_kind: String = kind.try_get("holder_kind")?;
    let validity_years: i64 = kind.try_get("validity_years")?;

    // The holder.
    let holder = &request.holder;
    let (code, code_type, holder_key, network_id) = match (&holder.id_number, &holder.uscc) {
        (Some(id), None) if holder_kind != "organisation" => {
            let id =
                IdNumber::parse(id).map_err(|e| bad(e.code(), format!("holder.id_number: {e}")))?;
            let key = state.issuer().issuer().person_key(&id);
            let network_id: Option<String> =
                sqlx::query_scalar("SELECT network_id FROM accounts WHERE person_key = $1")
                    .bind(&key)
                    .fetch_optional(db.pool())
                    .await?;
            let network_id = network_id.ok_or_else(|| {
                bad(
                    "YW-4745",
                    "unknown holder: this citizen has not enrolled for the 网证",
                )
            })?;
            (id.as_str().to_owned(), "111", key, Some(network_id))
        }
        (None, Some(uscc)) if holder_kind != "citizen" => {
            let uscc =
                Uscc::parse(uscc).map_err(|e| bad("YW-4744", format!("holder.uscc: {e}")))?;
            let key = format!("org:{}", uscc.as_str());
            (uscc.as_str().to_owned(), "001", key, None)
        }
        _ => {
            return Err(bad(
                "YW-4744",
                format!("holder: give id_number or uscc (this type is held by: {holder_kind})"),
            ));
        }
    };

    // Dates and identifier.
    let issue_date = match &request.issue_date {
        Some(d) => date(d, "issue_date")?,
        None => china_date(now()).ok_or_else(|| ApiError::internal("clock"))?,
    };
    let valid_from = match &request.valid_from {
        Some(d) => date(d, "valid_from")?,
        None => issue_date,
    };
    let valid_until = match request.valid_until.as_deref() {
        Some("长期") => None,
        Some(d) => Some(date(d, "valid_until")?),
        None if validity_years > 0 => valid_from
            .replace_year(valid_from.year() + i32::try_from(validity_years).unwrap_or(0))
            .ok()
            .and_then(Date::previous_day),
        None => None,
    };
    let serial: String = request
        .number
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let identifier = LicenceId::new(&request.type_code, &issuer_uscc, &serial, 1).map_err(|e| {
        bad(
            "YW-4746",
            format!(
                "number: cannot make a GB/T 36904 serial of it ({})",
                e.code()
            ),
        )
    })?;
    let json = serde_json::json!({
        "name": name_zh, "identifier": identifier.as_str(), "number": request.number,
        "issuer_name": authority.name, "issue_date": issue_date.to_string(),
        "holder_name": holder.name, "holder_code": code, "holder_code_type": code_type,
        "valid_from": valid_from.to_string(),
        "valid_until": valid_until.map_or_else(|| "长期".to_owned(), |d| d.to_string()),
        "jurisdiction": request.jurisdiction,
    });
    let licence = Licence::from_json(&json.to_string())
        .map_err(|e| bad(e.code(), format!("licence: {e}")))?;
    let canonical = licence.to_json();
    let digest = hex::encode(Suite::Intl.hash(canonical.as_bytes()));

    // Issued before?
    if let Some(existing) = find(&state, issuer_uscc.as_str(), &request.number).await? {
        let same: String = sqlx::query_scalar("SELECT digest FROM licences WHERE identifier = $1")
            .bind(&existing.identifier)
            .fetch_one(db.pool())
            .await?;
        if same == digest {
            return Ok((StatusCode::OK, Json(existing)).into_response());
        }
        return Err(other_content());
    }

    let template = changed_template(db).await?;
    let at = now_ms();
    let sealed = state
        .vault()
        .seal(BODY_COLUMN, identifier.as_str(), &canonical)?;
    let mut write = db.begin_write().await?;
    let tx = &mut write.tx;
    let index = next(tx, &authority.kid).await?;
    let seq = next(tx, SEQ_COUNTER).await?;
    let inserted = sqlx::query(
        "INSERT INTO licences (identifier, issuer_uscc, number, type_code, holder_key, network_id, \
         body, digest, status, kid, status_index, valid_until, version, seq, issued_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, 1, $12, $13, $13) \
         ON CONFLICT DO NOTHING",
    )
    .bind(identifier.as_str())
    .bind(issuer_uscc.as_str())
    .bind(&request.number)
    .bind(&request.type_code)
    .bind(&holder_key)
    .bind(network_id.as_deref())
    .bind(&sealed)
    .bind(&digest)
    .bind(&authority.kid)
    .bind(index)
    .bind(valid_until.map(|d| d.to_string()))
    .bind(seq)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() != 1 {
        // Issued by another request meanwhile, or another number with the same serial.
        return Err(other_content());
    }
    if let Some(network_id) = &network_id {
        let data = serde_json::json!({
            "licence_id": identifier.as_str(),
            "licence_type": request.type_code,
            "valid_until": valid_until.map(|d| d.to_string()),
        })
        .to_string();
        crate::events::insert_own(
            tx,
            crate::events::OwnEvent {
                source: "library",
                event_id: identifier.as_str(),
                event_type: "licence_issued",
                network_id,
                at_ms: at,
                data: &data,
            },
        )
        .await?;
        let detail = (
            format!("{}已向您签发{name_zh}，已可在卡包中使用。", authority.name),
            format!(
                "{} issued you a {name_en}; it is in your wallet.",
                authority.name
            ),
        );
        tell(
            &state,
            tx,
            &actor,
            network_id,
            template,
            (&name_zh, &name_en),
            detail,
        )
        .await?;
    }
    audit::record(&mut **tx, &actor, "licence.issued", network_id.as_deref()).await?;
    write.tx.commit().await?;
    state.push_wake().notify_one();
    state.events_wake().notify_one();
    let record = find(&state, issuer_uscc.as_str(), &request.number)
        .await?
        .ok_or_else(|| ApiError::internal("licence vanished"))?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

fn other_content() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "YW-4090",
        "a licence with this number (or identifier) was issued with other content",
    )
}

/// The next value of a counter in `status_counters` (from 0).
async fn next(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    counter: &str,
) -> Result<i64, ApiError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO status_counters (kid, next_index) VALUES ($1, 1) \
         ON CONFLICT (kid) DO UPDATE SET next_index = status_counters.next_index + 1 \
         RETURNING next_index - 1",
    )
    .bind(counter)
    .fetch_one(&mut **tx)
    .await?)
}

/// The template the holder is told of a licence's changes with (read before
/// the write transaction: in-memory SQLite has one connection).
async fn changed_template(db: &crate::db::Db) -> Result<templates::Template, ApiError> {
    templates::load(db.pool(), "licence.changed", None)
        .await?
        .ok_or_else(|| ApiError::internal("template licence.changed is missing"))
}

/// Tells the holder (inbox and push) inside `tx`.
async fn tell(
    state: &AppState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    actor: &str,
    network_id: &str,
    template: templates::Template,
    (name_zh, name_en): (&str, &str),
    (detail_zh, detail_en): (String, String),
) -> Result<(), ApiError> {
    let params = BTreeMap::from([
        ("licence_zh".to_owned(), name_zh.to_owned()),
        ("licence_en".to_owned(), name_en.to_owned()),
        ("detail_zh".to_owned(), detail_zh),
        ("detail_en".to_owned(), detail_en),
    ]);
    let send = AccountSend::notice(network_id, template, params)?;
    enqueue_accounts(tx, &state.config().push, actor, &[send]).await
}

async fn find(
    state: &AppState,
    issuer_uscc: &str,
    number: &str,
) -> Result<Option<LicenceRecord>, ApiError> {
    let row = sqlx::query("SELECT identifier FROM licences WHERE issuer_uscc = $1 AND number = $2")
        .bind(issuer_uscc)
        .bind(number)
        .fetch_optional(state.db().pool())
        .await?;
    match row {
        Some(row) => record(state, &row.try_get::<String, _>("identifier")?).await,
        None => Ok(None),
    }
}

async fn record(state: &AppState, identifier: &str) -> Result<Option<LicenceRecord>, ApiError> {
    let Some(row) = sqlx::query(
        "SELECT identifier, number, type_code, status, version, kid, status_index, valid_until, \
         body FROM licences WHERE identifier = $1",
    )
    .bind(identifier)
    .fetch_optional(state.db().pool())
    .await?
    else {
        return Ok(None);
    };
    let body = state
        .vault()
        .open(BODY_COLUMN, identifier, &row.try_get::<String, _>("body")?)?;
    let licence = Licence::from_json(&body).map_err(ApiError::internal)?;
    Ok(Some(LicenceRecord {
        identifier: row.try_get("identifier")?,
        number: row.try_get("number")?,
        type_code: row.try_get("type_code")?,
        status: row.try_get("status")?,
        version: row.try_get("version")?,
        kid: row.try_get("kid")?,
        status_index: row.try_get("status_index")?,
        valid_until: row.try_get("valid_until")?,
        holder: licence.holder.masked(),
    }))
}

/// A change's reason, told to the holder: 1-200 characters, no controls.
fn change_reason(reason: &str) -> Result<&str, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 || reason.chars().any(char::is_control) {
        return Err(bad("YW-4748", "reason: 1-200 characters"));
    }
    Ok(reason)
}

/// The current identifier of a licence: `identifier` itself, or the version
/// that superseded it.
pub(super) async fn current_identifier(
    state: &AppState,
    identifier: &str,
) -> Result<String, ApiError> {
    let current: Option<String> =
        sqlx::query_scalar("SELECT current FROM superseded_licences WHERE identifier = $1")
            .bind(identifier)
            .fetch_optional(state.db().pool())
            .await?;
    Ok(current.unwrap_or_else(|| identifier.to_owned()))
}

/// A licence an issuing department names by identifier: the parsed
/// identifier, the department acting (for the identifier's authority), and
/// the current identifier (an old version's stands for the licence).
async fn issuers_licence(
    state: &AppState,
    headers: &HeaderMap,
    identifier: &str,
) -> Result<(LicenceId, String, String), ApiError> {
    let id = LicenceId::parse(identifier)
        .map_err(|e| bad("YW-4746", format!("identifier: {e} ({})", e.code())))?;
    let actor = acting_for(state, headers, id.issuer().as_str()).await?;
    let current = current_identifier(state, id.as_str()).await?;
    Ok((id, actor, current))
}

fn revoked_is_final() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "YW-4089",
        "a revoked licence does not change; issue a new one",
    )
}

fn changed_meanwhile() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "YW-4089",
        "the licence changed meanwhile; read it and try again",
    )
}

/// Sets a status-list bit (suspended, revoked or superseded) inside `tx`.
async fn set_status_bit(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    kid: &str,
    index: i64,
    at_ms: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO revocations (kid, idx, revoked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(kid)
    .bind(index)
    .bind(at_ms / 1000)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `GET /v1/library/licences/{identifier}` → the licence as its issuer sees
/// it (an old version's identifier answers with the current version).
#[utoipa::path(get, path = "/v1/library/licences/{identifier}", tag = "library",
    security(("client" = []), ("admin" = [])),
    params(("identifier" = String, Path, description = "The GB/T 36904 identifier")),
    responses(
    (status = 200, description = "The licence, current version", body = LicenceRecord),
    (status = 401, description = "YW-4023 client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 not this client's authority", body = ErrorBody),
    (status = 404, description = "YW-4053 no such licence", body = ErrorBody),
    (status = 422, description = "YW-4746 malformed identifier or wrong check character", body = ErrorBody)))]
async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
) -> Result<Json<LicenceRecord>, ApiError> {
    let (_, _, current) = issuers_licence(&state, &headers, &identifier).await?;
    record(&state, &current)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("YW-4053", "no such licence"))
}

/// New content for a licence: each field given replaces the current one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenceUpdateRequest {
    /// 持证主体 (a corrected name).
    #[serde(default)]
    holder_name: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    issue_date: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    valid_from: Option<String>,
    /// `YYYY-MM-DD` or `长期` (a renewal or a shortened validity).
    #[serde(default)]
    valid_until: Option<String>,
    /// GB/T 2260 code of the jurisdiction.
    #[serde(default)]
    jurisdiction: Option<String>,
    /// Why, 1-200 characters; the holder is told.
    reason: String,
}

/// `PUT /v1/library/licences/{identifier}` → the licence's next version
/// (identifier version + 1, a new status-list index; the old version's index
/// is set so it no longer verifies, and its identifier points to the new
/// one). The same content again is `200` unchanged, also through the old
/// identifier (a retried update).
#[utoipa::path(put, path = "/v1/library/licences/{identifier}", tag = "library",
    security(("client" = []), ("admin" = [])),
    params(("identifier" = String, Path, description = "The GB/T 36904 identifier of the current version")),
    request_body = LicenceUpdateRequest, responses(
    (status = 200, description = "The new version (or the current one, already so); the holder is told", body = LicenceRecord),
    (status = 401, description = "YW-4023 client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 not this client's authority", body = ErrorBody),
    (status = 404, description = "YW-4053 no such licence", body = ErrorBody),
    (status = 409, description = "YW-4089 revoked, or changed meanwhile; YW-4086 superseded: update the current version; YW-4087 no version left (999)", body = ErrorBody),
    (status = 422, description = "YW-4746 malformed identifier, YW-4747 dates, YW-4748 reason, YW-1419 licence fields", body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    body: Result<Json<LicenceUpdateRequest>, JsonRejection>,
) -> Result<Json<LicenceRecord>, ApiError> {
    let (id, actor, current) = issuers_licence(&state, &headers, &identifier).await?;
    let Json(request) = body?;
    let reason = change_reason(&request.reason)?;
    let db = state.db();
    let missing = || ApiError::not_found("YW-4053", "no such licence");
    let row = sqlx::query(
        "SELECT l.status, l.kid, l.status_index, l.network_id, l.body, l.digest, l.version, \
         t.name_zh, t.name_en FROM licences l JOIN licence_types t ON t.type_code = l.type_code \
         WHERE l.identifier = $1",
    )
    .bind(&current)
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(missing)?;
    let status: String = row.try_get("status")?;
    if status == "revoked" {
        return Err(revoked_is_final());
    }

    // The new content, checked as a licence.
    let body = state
        .vault()
        .open(BODY_COLUMN, &current, &row.try_get::<String, _>("body")?)?;
    let mut json: serde_json::Value = serde_json::from_str(&body).map_err(ApiError::internal)?;
    for (field, value) in [
        ("issue_date", &request.issue_date),
        ("valid_from", &request.valid_from),
    ] {
        if let Some(value) = value {
            json[field] = date(value, field)?.to_string().into();
        }
    }
    match request.valid_until.as_deref() {
        Some("长期") => json["valid_until"] = "长期".into(),
        Some(d) => json["valid_until"] = date(d, "valid_until")?.to_string().into(),
        None => {}
    }
    for (field, value) in [
        ("holder_name", &request.holder_name),
        ("jurisdiction", &request.jurisdiction),
    ] {
        if let Some(value) = value {
            json[field] = value.as_str().into();
        }
    }
    // Checked as a licence under its current identifier: is it new content?
    let same = Licence::from_json(&json.to_string())
        .map_err(|e| bad(e.code(), format!("licence: {e}")))?;
    if hex::encode(Suite::Intl.hash(same.to_json().as_bytes()))
        == row.try_get::<String, _>("digest")?
    {
        // Already so (a retried update, perhaps through the old identifier).
        return record(&state, &current)
            .await?
            .map(Json)
            .ok_or_else(missing);
    }
    if current != id.as_str() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4086",
            format!(
                "this version was superseded by {}: update that one",
                LicenceId::parse(&current)
                    .map(|c| c.masked())
                    .unwrap_or_default()
            ),
        ));
    }
    let next_version = id.version() + 1;
    let new_id =
        LicenceId::new(id.type_code(), &id.issuer(), id.serial(), next_version).map_err(|_| {
            ApiError::new(
                StatusCode::CONFLICT,
                "YW-4087",
                "this licence has reached version 999: revoke it and issue a new one",
            )
        })?;
    let licence = Licence {
        identifier: new_id.clone(),
        ..same
    };
    let canonical = licence.to_json();
    let digest = hex::encode(Suite::Intl.hash(canonical.as_bytes()));
    let sealed = state
        .vault()
        .seal(BODY_COLUMN, new_id.as_str(), &canonical)?;
    let authority = local_authority(&state, id.issuer().as_str()).await?;
    let (old_kid, old_index): (String, i64) = (row.try_get("kid")?, row.try_get("status_index")?);
    let network_id: Option<String> = row.try_get("network_id")?;
    let (name_zh, name_en): (String, String) = (row.try_get("name_zh")?, row.try_get("name_en")?);
    let template = changed_template(db).await?;
    let at = now_ms();
    let mut write = db.begin_write().await?;
    let tx = &mut write.tx;
    let index = next(tx, &authority.kid).await?;
    let seq = next(tx, SEQ_COUNTER).await?;
    let changed = sqlx::query(
        "UPDATE licences SET identifier = $1, body = $2, digest = $3, kid = $4, status_index = $5, \
         valid_until = $6, version = version + 1, seq = $7, updated_ms = $8 \
         WHERE identifier = $9 AND version = $10",
    )
    .bind(new_id.as_str())
    .bind(&sealed)
    .bind(&digest)
    .bind(&authority.kid)
    .bind(index)
    .bind(licence.valid_until.map(|d| d.to_string()))
    .bind(seq)
    .bind(at)
    .bind(&current)
    .bind(row.try_get::<i64, _>("version")?)
    .execute(&mut **tx)
    .await?;
    if changed.rows_affected() != 1 {
        return Err(changed_meanwhile());
    }
    sqlx::query("UPDATE superseded_licences SET current = $1 WHERE current = $2")
        .bind(new_id.as_str())
        .bind(&current)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO superseded_licences (identifier, current, superseded_ms) VALUES ($1, $2, $3)",
    )
    .bind(&current)
    .bind(new_id.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    // The old version no longer verifies; a suspended licence stays suspended.
    let mut set = vec![(old_kid, old_index)];
    if status != "active" {
        set.push((authority.kid.clone(), index));
    }
    for (kid, index) in set {
        set_status_bit(tx, &kid, index, at).await?;
    }
    if let Some(network_id) = &network_id {
        let detail = (
            format!("您的{name_zh}已更新：{reason}。卡包同步后即为新版本。"),
            format!(
                "Your {name_en} was updated: {reason}. Your wallet gets the new version when it syncs."
            ),
        );
        tell(
            &state,
            tx,
            &actor,
            network_id,
            template,
            (&name_zh, &name_en),
            detail,
        )
        .await?;
    }
    audit::record(&mut **tx, &actor, "licence.updated", network_id.as_deref()).await?;
    write.tx.commit().await?;
    state.push_wake().notify_one();
    record(&state, new_id.as_str())
        .await?
        .map(Json)
        .ok_or_else(missing)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenceStatusRequest {
    /// `active` (reinstate), `suspended` or `revoked` (final).
    status: String,
    /// Why, 1-200 characters; the holder is told.
    reason: String,
}

/// `POST /v1/library/licences/{identifier}/status` → the licence in its new
/// status; suspension and revocation set its status-list bit.
#[utoipa::path(post, path = "/v1/library/licences/{identifier}/status", tag = "library",
    security(("client" = []), ("admin" = [])),
    params(("identifier" = String, Path, description = "The GB/T 36904 identifier")),
    request_body = LicenceStatusRequest, responses(
    (status = 200, description = "Changed (or already so)", body = LicenceRecord),
    (status = 401, description = "YW-4023 client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 not this client's authority", body = ErrorBody),
    (status = 404, description = "YW-4053 no such licence", body = ErrorBody),
    (status = 409, description = "YW-4089 a revoked licence does not change", body = ErrorBody),
    (status = 422, description = "YW-4746 malformed identifier or wrong check character, YW-4748 bad status or reason", body = ErrorBody)))]
async fn change_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
    body: Result<Json<LicenceStatusRequest>, JsonRejection>,
) -> Result<Json<LicenceRecord>, ApiError> {
    let (_, actor, current) = issuers_licence(&state, &headers, &identifier).await?;
    let Json(request) = body?;
    let to = request.status.as_str();
    if !matches!(to, "active" | "suspended" | "revoked") {
        return Err(bad("YW-4748", "status: active, suspended or revoked"));
    }
    let reason = change_reason(&request.reason)?;
    let db = state.db();
    let missing = || ApiError::not_found("YW-4053", "no such licence");
    let row = sqlx::query(
        "SELECT l.status, l.kid, l.status_index, l.network_id, t.name_zh, t.name_en \
         FROM licences l JOIN licence_types t ON t.type_code = l.type_code \
         WHERE l.identifier = $1",
    )
    .bind(current.as_str())
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(missing)?;
    let from: String = row.try_get("status")?;
    if from == to {
        return record(&state, current.as_str())
            .await?
            .map(Json)
            .ok_or_else(missing);
    }
    if from == "revoked" {
        return Err(revoked_is_final());
    }
    let (kid, index): (String, i64) = (row.try_get("kid")?, row.try_get("status_index")?);
    let network_id: Option<String> = row.try_get("network_id")?;
    let (name_zh, name_en): (String, String) = (row.try_get("name_zh")?, row.try_get("name_en")?);
    let template = changed_template(db).await?;
    let at = now_ms();
    let mut write = db.begin_write().await?;
    let tx = &mut write.tx;
    let seq = next(tx, SEQ_COUNTER).await?;
    let changed = sqlx::query(
        "UPDATE licences SET status = $1, version = version + 1, seq = $2, updated_ms = $3 \
         WHERE identifier = $4 AND status = $5",
    )
    .bind(to)
    .bind(seq)
    .bind(at)
    .bind(current.as_str())
    .bind(&from)
    .execute(&mut **tx)
    .await?;
    if changed.rows_affected() != 1 {
        return Err(changed_meanwhile());
    }
    if to == "active" {
        sqlx::query("DELETE FROM revocations WHERE kid = $1 AND idx = $2")
            .bind(&kid)
            .bind(index)
            .execute(&mut **tx)
            .await?;
    } else {
        set_status_bit(tx, &kid, index, at).await?;
    }
    if let Some(network_id) = &network_id {
        let (zh, en) = match to {
            "active" => ("已恢复有效", "is valid again"),
            "suspended" => ("已暂停使用", "is suspended"),
            _ => ("已被注销", "has been revoked"),
        };
        let detail = (
            format!("您的{name_zh}{zh}：{reason}"),
            format!("Your {name_en} {en}: {reason}"),
        );
        tell(
            &state,
            tx,
            &actor,
            network_id,
            template,
            (&name_zh, &name_en),
            detail,
        )
        .await?;
    }
    audit::record(
        &mut **tx,
        &actor,
        &format!("licence.{to}"),
        network_id.as_deref(),
    )
    .await?;
    write.tx.commit().await?;
    state.push_wake().notify_one();
    record(&state, current.as_str())
        .await?
        .map(Json)
        .ok_or_else(missing)
}

/// Days before a licence's end on which its holder is reminded, largest first.
pub const EXPIRY_REMINDERS: [i64; 3] = [90, 30, 7];

/// The daily expiry job: for each active licence of an enrolled holder
/// ending within [`EXPIRY_REMINDERS`]`[0]` days, the smallest threshold not
/// below the days left fires once (a missed day still reminds once per
/// threshold): a `licence_expiring` event for the rules (source `library`,
/// event id `<identifier>:expiring:<days>`, so it exists once however often
/// the job runs) and, with it, a reminder to the holder (template
/// `licence.ending`, inbox and push). `today` is `YYYYMMDD` in China.
/// Answers how many licences were reminded.
pub async fn expiry_notices(
    db: &crate::db::Db,
    push: &crate::config::PushSettings,
    today: i64,
    now_ms: i64,
) -> Result<usize, ApiError> {
    let day = Date::from_calendar_date(
        i32::try_from(today / 10_000).map_err(ApiError::internal)?,
        time::Month::try_from(u8::try_from(today / 100 % 100).map_err(ApiError::internal)?)
            .map_err(ApiError::internal)?,
        u8::try_from(today % 100).map_err(ApiError::internal)?,
    )
    .map_err(ApiError::internal)?;
    let horizon = day + time::Duration::days(EXPIRY_REMINDERS[0]);
    // Read before the writing transaction (one connection on in-memory SQLite).
    let template = templates::load(db.pool(), "licence.ending", None)
        .await?
        .ok_or_else(|| ApiError::internal("template licence.ending is missing"))?;
    let rows = sqlx::query(
        "SELECT l.identifier, l.type_code, l.network_id, l.valid_until, t.name_zh, t.name_en \
         FROM licences l JOIN licence_types t ON t.type_code = l.type_code \
         WHERE l.status = 'active' AND l.network_id IS NOT NULL AND l.valid_until IS NOT NULL \
         AND l.valid_until >= $1 AND l.valid_until <= $2",
    )
    .bind(day.to_string())
    .bind(horizon.to_string())
    .fetch_all(db.pool())
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut write = db.begin_write().await?;
    let tx = &mut write.tx;
    let mut sends = Vec::new();
    for row in rows {
        let until: String = row.try_get("valid_until")?;
        let end = date(&until, "valid_until")?;
        let left = (end - day).whole_days();
        let Some(threshold) = EXPIRY_REMINDERS.iter().rev().find(|&&d| d >= left) else {
            continue;
        };
        let identifier: String = row.try_get("identifier")?;
        let network_id: String = row.try_get("network_id")?;
        let type_code: String = row.try_get("type_code")?;
        let data = serde_json::json!({"licence_type": type_code, "expires_on": until}).to_string();
        let event_id = format!("{identifier}:expiring:{threshold}");
        let inserted = crate::events::insert_own(
            tx,
            crate::events::OwnEvent {
                source: "library",
                event_id: &event_id,
                event_type: "licence_expiring",
                network_id: &network_id,
                at_ms: now_ms,
                data: &data,
            },
        )
        .await?;
        if !inserted {
            continue;
        }
        let params = BTreeMap::from([
            (
                "licence_zh".to_owned(),
                row.try_get::<String, _>("name_zh")?,
            ),
            (
                "licence_en".to_owned(),
                row.try_get::<String, _>("name_en")?,
            ),
            ("date".to_owned(), until),
        ]);
        sends.push(AccountSend::notice(&network_id, template.clone(), params)?);
    }
    enqueue_accounts(tx, push, "library", &sends).await?;
    write.tx.commit().await?;
    Ok(sends.len())
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(issue))
        .routes(utoipa_axum::routes!(read, update))
        .routes(utoipa_axum::routes!(change_status))
        .routes(utoipa_axum::routes!(sync))
}

/// Most licences in one sync answer.
const SYNC_LIMIT: i64 = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// The `next` of the previous answer; 0 the first time.
    #[serde(default)]
    since: i64,
    /// The wallet's device key (SPKI PEM): each licence comes bound to it.
    device_public_key: String,
    /// 1-100 (default 100).
    #[serde(default)]
    limit: Option<i64>,
}

/// One changed licence for the wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncedLicence {
    identifier: String,
    type_code: String,
    name: String,
    /// `active`, `suspended`, `revoked` or `expired`.
    status: String,
    version: i64,
    valid_until: Option<String>,
    /// Base64 of the holder file (docs/formats.md), bound to the device key
    /// and signed by the issuing authority; absent when revoked or expired
    /// (the wallet deletes its copy).
    credential: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncAnswer {
    licences: Vec<SyncedLicence>,
    /// The `since` of the next call.
    next: i64,
    /// More changes wait: call again with `next`.
    more: bool,
}

/// `POST /v1/licences/sync` → the citizen's licences changed since a cursor,
/// each signed for the wallet's device key.
#[utoipa::path(post, path = "/v1/licences/sync", tag = "library", security(("bearer" = [])),
    request_body = SyncRequest, responses(
    (status = 200, description = "Changes in order", body = SyncAnswer),
    (status = 401, description = "YW-4010 bearer token", body = ErrorBody),
    (status = 403, description = "YW-4036 not the device key of this session's login", body = ErrorBody),
    (status = 422, description = "YW-11xx bad device key, YW-4749 bad since or limit", body = ErrorBody)))]
async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SyncRequest>, JsonRejection>,
) -> Result<Json<SyncAnswer>, ApiError> {
    let citizen = crate::auth::authenticate(&state, &headers).await?;
    let Json(request) = body?;
    let device_key = yiwang_core::crypto::VerifyingKey::from_spki_pem(&request.device_public_key)
        .map_err(|e| bad(e.code(), format!("device_public_key: {e}")))?;
    let limit = request.limit.unwrap_or(SYNC_LIMIT);
    if !(1..=SYNC_LIMIT).contains(&limit) || request.since < 0 {
        return Err(bad("YW-4749", "since: 0 or more; limit: 1-100"));
    }
    // Bound only to the key that proved itself at this session's login: a
    // stolen access token cannot take the citizen's licences to another key.
    let session_key: Option<String> =
        sqlx::query_scalar("SELECT device_key FROM devices WHERE device_id = $1")
            .bind(&citizen.device_id)
            .fetch_optional(state.db().pool())
            .await?
            .flatten();
    if session_key.as_deref() != Some(crate::auth::device_key_hash(&device_key).as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "YW-4036",
            "device_public_key is not the key that signed this session's login: \
             sign in with this device's 网证, then sync",
        ));
    }
    let rows = sqlx::query(
        "SELECT l.identifier, l.type_code, l.status, l.version, l.kid, l.status_index, \
         l.valid_until, l.body, l.seq, t.name_zh FROM licences l \
         JOIN licence_types t ON t.type_code = l.type_code \
         WHERE l.network_id = $1 AND l.seq >= $2 ORDER BY l.seq LIMIT $3",
    )
    .bind(&citizen.network_id)
    .bind(request.since)
    .bind(limit + 1)
    .fetch_all(state.db().pool())
    .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(0);
    let mut issuers: BTreeMap<String, Issuer> = BTreeMap::new();
    let mut licences = Vec::new();
    let mut next = request.since;
    let at = now();
    for row in rows.iter().take(usize::try_from(limit).unwrap_or(0)) {
        let identifier: String = row.try_get("identifier")?;
        let mut status: String = row.try_get("status")?;
        next = row.try_get::<i64, _>("seq")? + 1;
        let mut credential = None;
        if status != "revoked" {
            let kid: String = row.try_get("kid")?;
            if !issuers.contains_key(&kid) {
                let key = sqlx::query(
                    "SELECT private_pem, secret_hex FROM authority_keys WHERE kid = $1",
                )
                .bind(&kid)
                .fetch_one(state.db().pool())
                .await?;
                let issuer = issuer_from(
                    &state,
                    &kid,
                    &key.try_get::<String, _>("private_pem")?,
                    &key.try_get::<String, _>("secret_hex")?,
                )?;
                issuers.insert(kid.clone(), issuer);
            }
            let body =
                state
                    .vault()
                    .open(BODY_COLUMN, &identifier, &row.try_get::<String, _>("body")?)?;
            let licence = Licence::from_json(&body).map_err(ApiError::internal)?;
            let index = u32::try_from(row.try_get::<i64, _>("status_index")?)
                .map_err(ApiError::internal)?;
            let today = china_date(at).ok_or_else(|| ApiError::internal("clock"))?;
            if licence.valid_until.is_some_and(|end| end < today) {
                // Past its end date: nothing to sign.
                status = "expired".to_owned();
            } else {
                let signed = issuers[&kid]
                    .issue_licence(&licence, &device_key, index, at)
                    .map_err(ApiError::internal)?;
                credential = Some(base64ct::Base64::encode_string(&signed.to_bytes()));
            }
        }
        licences.push(SyncedLicence {
            identifier,
            type_code: row.try_get("type_code")?,
            name: row.try_get("name_zh")?,
            status,
            version: row.try_get("version")?,
            valid_until: row.try_get("valid_until")?,
            credential,
        });
    }
    Ok(Json(SyncAnswer {
        licences,
        next,
        more,
    }))
}
