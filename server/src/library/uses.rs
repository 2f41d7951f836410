//! Using a licence (用证): the department handling an application fetches a
//! licence from the library — one the citizen referenced in the application
//! with a reason, or one of a type the citizen authorised for that
//! application — and gets it as an attestation signed by the issuing
//! authority for that department, to verify against the trust list. Every use
//! and every refusal is recorded for the citizen's trail
//! (`GET /v1/licences/uses`, "谁用了我的证照") and the audit log.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64ct::Encoding;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use yiwang_core::credential::Licence;
use yiwang_core::identity::LicenceId;

use super::licences::{BODY_COLUMN, authority_issuer, current_identifier};
use crate::AppState;
use crate::audit;
use crate::error::{ApiError, ErrorBody};
use crate::issuer::now;
use crate::push::now_ms;

/// Longest reason for use, in characters (as the core's).
const MAX_REASON: usize = yiwang_core::credential::MAX_REASON_CHARS;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UseRequest {
    /// A licence the application references.
    #[serde(default)]
    licence_id: Option<String>,
    /// Or the citizen's licence of a type they authorised for this application.
    #[serde(default)]
    licence_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsedLicence {
    licence_id: String,
    type_code: String,
    /// The citizen's reason for use (用证事由).
    reason: String,
    /// Base64 of the licence attestation (docs/formats.md), for this
    /// department, with the receipt number as context.
    attestation: String,
}

fn refused(code: &'static str, message: &str) -> ApiError {
    let status = match code {
        "YW-4035" => StatusCode::FORBIDDEN,
        "YW-4053" => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    ApiError::new(status, code, message.to_owned())
}

/// A use or refusal, for the trail and the audit log.
struct Use<'a> {
    network_id: &'a str,
    identifier: Option<&'a str>,
    type_code: Option<&'a str>,
    receipt_no: &'a str,
    department: &'a str,
    actor: &'a str,
    reason: Option<&'a str>,
}

impl Use<'_> {
    async fn record(&self, state: &AppState, code: Option<&str>) -> Result<(), ApiError> {
        let outcome = if code.is_none() { "used" } else { "refused" };
        let mut write = state.db().begin_write().await?;
        sqlx::query(
            "INSERT INTO licence_uses (network_id, identifier, type_code, receipt_no, department, \
             actor, reason, outcome, code, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(self.network_id)
        .bind(self.identifier)
        .bind(self.type_code)
        .bind(self.receipt_no)
        .bind(self.department)
        .bind(self.actor)
        .bind(self.reason)
        .bind(outcome)
        .bind(code)
        .bind(now_ms())
        .execute(&mut *write.tx)
        .await?;
        let action = if code.is_none() {
            "licence.used"
        } else {
            "licence.use_refused"
        };
        audit::record(&mut *write.tx, self.actor, action, Some(self.network_id)).await?;
        write.tx.commit().await?;
        Ok(())
    }
}

/// `POST /v1/department/applications/{receipt_no}/licences` → the licence as
/// an attestation for this department; refusals are recorded too.
#[utoipa::path(post, path = "/v1/department/applications/{receipt_no}/licences", tag = "library",
    security(("client" = []), ("admin" = [])),
    params(("receipt_no" = String, Path, description = "The application's receipt number")),
    request_body = UseRequest, responses(
    (status = 200, description = "The licence, attested", body = UsedLicence),
    (status = 401, description = "YW-4023 client authentication required", body = ErrorBody),
    (status = 403, description = "YW-4033 no applications scope, YW-4035 the citizen did not share or authorise this licence for this application", body = ErrorBody),
    (status = 404, description = "YW-4051 not this department's application, YW-4053 not in this library", body = ErrorBody),
    (status = 409, description = "YW-4088 the licence is revoked or suspended", body = ErrorBody),
    (status = 422, description = "YW-4746 malformed identifier, YW-4750 give licence_id or licence_type", body = ErrorBody)))]
async fn use_licence(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(receipt_no): Path<String>,
    body: Result<Json<UseRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (actor, codes) = crate::applications::department(&state, &headers).await?;
    let Json(request) = body?;
    let db = state.db();
    let application =
        sqlx::query("SELECT network_id, department_code FROM applications WHERE receipt_no = $1")
            .bind(&receipt_no)
            .fetch_optional(db.pool())
            .await?;
    let not_found = || ApiError::not_found("YW-4051", "no such application of this department");
    let application = application.ok_or_else(not_found)?;
    let department: String = application.try_get("department_code")?;
    if codes.as_ref().is_some_and(|c| !c.contains(&department)) {
        return Err(not_found());
    }
    let network_id: String = application.try_get("network_id")?;

    // What the citizen allowed for this application.
    let (identifier, type_code, reason) = match (&request.licence_id, &request.licence_type) {
        (Some(id), None) => {
            let id = LicenceId::parse(id)
                .map_err(|e| ApiError::unprocessable("YW-4746", format!("licence_id: {e}")))?;
            // Shared in this version or another of the same licence; used
            // in the current one.
            let current = current_identifier(&state, id.as_str()).await?;
            let reason: Option<String> = sqlx::query_scalar(
                "SELECT reason FROM application_licences WHERE receipt_no = $1 AND (licence_id = $2 \
                 OR licence_id = $3 OR licence_id IN \
                 (SELECT identifier FROM superseded_licences WHERE current = $3)) LIMIT 1",
            )
            .bind(&receipt_no)
            .bind(id.as_str())
            .bind(&current)
            .fetch_optional(db.pool())
            .await?;
            (Some(current), Some(id.type_code().to_owned()), reason)
        }
        (None, Some(type_code)) => {
            let reason: Option<String> = sqlx::query_scalar(
                "SELECT reason FROM licence_authorisations WHERE receipt_no = $1 AND type_code = $2",
            )
            .bind(&receipt_no)
            .bind(type_code)
            .fetch_optional(db.pool())
            .await?;
            let held: Option<String> = sqlx::query_scalar(
                "SELECT identifier FROM licences WHERE network_id = $1 AND type_code = $2 \
                 ORDER BY (status = 'active') DESC, issued_ms DESC LIMIT 1",
            )
            .bind(&network_id)
            .bind(type_code)
            .fetch_optional(db.pool())
            .await?;
            (held, Some(type_code.clone()), reason)
        }
        _ => {
            return Err(ApiError::unprocessable(
                "YW-4750",
                "give licence_id or licence_type",
            ));
        }
    };
    let mut trail = Use {
        network_id: &network_id,
        identifier: identifier.as_deref(),
        type_code: type_code.as_deref(),
        receipt_no: &receipt_no,
        department: &department,
        actor: &actor,
        reason: reason.as_deref(),
    };
    let Some(reason) = reason.as_deref() else {
        trail.record(&state, Some("YW-4035")).await?;
        return Err(refused(
            "YW-4035",
            "the citizen has not shared or authorised this licence for this application",
        ));
    };
    // The current version (a licence updated since it was shared included).
    let row =
        match identifier.as_deref() {
            Some(id) => sqlx::query(
                "SELECT identifier, type_code, issuer_uscc, network_id, status, status_index, body \
                 FROM licences WHERE identifier = $1",
            )
            .bind(id)
            .fetch_optional(db.pool())
            .await?,
            None => None,
        };
    // Only the citizen's own licences are theirs to share.
    let row = row.filter(|r| {
        r.try_get::<Option<String>, _>("network_id")
            .ok()
            .flatten()
            .as_deref()
            == Some(network_id.as_str())
    });
    let Some(row) = row else {
        trail.record(&state, Some("YW-4053")).await?;
        return Err(refused(
            "YW-4053",
            "no such licence of this citizen in the library",
        ));
    };
    let status: String = row.try_get("status")?;
    if status != "active" {
        trail.record(&state, Some("YW-4088")).await?;
        return Err(refused(
            "YW-4088",
            &format!("the licence is {status}: it cannot be used"),
        ));
    }
    let identifier: String = row.try_get("identifier")?;
    trail.identifier = Some(&identifier);
    let body = state
        .vault()
        .open(BODY_COLUMN, &identifier, &row.try_get::<String, _>("body")?)?;
    let licence = Licence::from_json(&body).map_err(ApiError::internal)?;
    let issuer = authority_issuer(&state, &row.try_get::<String, _>("issuer_uscc")?).await?;
    let index =
        u32::try_from(row.try_get::<i64, _>("status_index")?).map_err(ApiError::internal)?;
    let attestation = issuer
        .attest_licence(&licence, index, &department, &receipt_no, now())
        .map_err(ApiError::internal)?;
    trail.record(&state, None).await?;
    let used = UsedLicence {
        licence_id: identifier.clone(),
        type_code: row.try_get("type_code")?,
        reason: reason.to_owned(),
        attestation: base64ct::Base64::encode_string(&attestation),
    };
    Ok((StatusCode::OK, Json(used)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorisationRequest {
    licence_type: String,
    /// 用证事由, 1-200 characters.
    reason: String,
}

/// `POST /v1/applications/{receipt_no}/licence-authorisations` → 201: the
/// citizen lets the application's department fetch their licence of a type.
#[utoipa::path(post, path = "/v1/applications/{receipt_no}/licence-authorisations", tag = "library",
    security(("bearer" = [])),
    params(("receipt_no" = String, Path, description = "The citizen's application")),
    request_body = AuthorisationRequest, responses(
    (status = 201, description = "Recorded (again: the reason replaced)"),
    (status = 401, description = "YW-4010 bearer token", body = ErrorBody),
    (status = 404, description = "YW-4051 not this citizen's application", body = ErrorBody),
    (status = 422, description = "YW-4741 unknown licence type, YW-4751 reason not 1-200 characters", body = ErrorBody)))]
async fn authorise(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(receipt_no): Path<String>,
    body: Result<Json<AuthorisationRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let citizen = crate::auth::authenticate(&state, &headers).await?;
    let Json(request) = body?;
    let db = state.db();
    let owner: Option<String> =
        sqlx::query_scalar("SELECT network_id FROM applications WHERE receipt_no = $1")
            .bind(&receipt_no)
            .fetch_optional(db.pool())
            .await?;
    if owner.as_deref() != Some(citizen.network_id.as_str()) {
        return Err(ApiError::not_found(
            "YW-4051",
            "no such application of this citizen",
        ));
    }
    let known = sqlx::query("SELECT 1 FROM licence_types WHERE type_code = $1")
        .bind(&request.licence_type)
        .fetch_optional(db.pool())
        .await?
        .is_some();
    if !known {
        return Err(ApiError::unprocessable(
            "YW-4741",
            "licence_type: not a type the library knows",
        ));
    }
    let reason = request.reason.trim();
    let chars = reason.chars().count();
    if chars == 0 || chars > MAX_REASON || reason.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "YW-4751",
            "reason: 1-200 characters",
        ));
    }
    let mut write = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO licence_authorisations (receipt_no, type_code, reason, at_ms) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (receipt_no, type_code) DO UPDATE SET reason = $3, at_ms = $4",
    )
    .bind(&receipt_no)
    .bind(&request.licence_type)
    .bind(reason)
    .bind(now_ms())
    .execute(&mut *write.tx)
    .await?;
    audit::record(
        &mut *write.tx,
        &format!("citizen:{}", citizen.network_id),
        "licence.authorised",
        Some(&citizen.network_id),
    )
    .await?;
    write.tx.commit().await?;
    Ok(StatusCode::CREATED)
}

/// One entry of the citizen's trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceUse {
    licence_id: Option<String>,
    type_code: Option<String>,
    /// The licence type's name.
    licence_name: Option<String>,
    /// The department's code.
    department: String,
    receipt_no: String,
    reason: Option<String>,
    /// `used` or `refused`.
    outcome: String,
    /// Why it was refused.
    code: Option<String>,
    /// Unix milliseconds.
    at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UseTrail {
    uses: Vec<LicenceUse>,
}

/// `GET /v1/licences/uses` → who used the citizen's licences (the last 200),
/// newest first.
#[utoipa::path(get, path = "/v1/licences/uses", tag = "library", security(("bearer" = [])),
    responses(
    (status = 200, description = "The trail", body = UseTrail),
    (status = 401, description = "YW-4010 bearer token", body = ErrorBody)))]
async fn trail(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<UseTrail>, ApiError> {
    let citizen = crate::auth::authenticate(&state, &headers).await?;
    let rows = sqlx::query(
        "SELECT u.identifier, u.type_code, t.name_zh, u.department, u.receipt_no, u.reason, \
         u.outcome, u.code, u.at_ms FROM licence_uses u \
         LEFT JOIN licence_types t ON t.type_code = u.type_code \
         WHERE u.network_id = $1 ORDER BY u.at_ms DESC, u.id DESC LIMIT 200",
    )
    .bind(&citizen.network_id)
    .fetch_all(state.db().pool())
    .await?;
    let mut uses = Vec::with_capacity(rows.len());
    for row in rows {
        uses.push(LicenceUse {
            licence_id: row.try_get("identifier")?,
            type_code: row.try_get("type_code")?,
            licence_name: row.try_get("name_zh")?,
            department: row.try_get("department")?,
            receipt_no: row.try_get("receipt_no")?,
            reason: row.try_get("reason")?,
            outcome: row.try_get("outcome")?,
            code: row.try_get("code")?,
            at_ms: row.try_get("at_ms")?,
        });
    }
    Ok(Json(UseTrail { uses }))
}

pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(use_licence))
        .routes(utoipa_axum::routes!(authorise))
        .routes(utoipa_axum::routes!(trail))
}
