//! The e-licence library (电子证照库), first part: the licence types and the
//! trust list (互认共享).
//!
//! - Licence types are seeded (migration 0012) and public
//!   (`GET /v1/licence-types`).
//! - Operators register issuing authorities (`POST /v1/admin/authorities`):
//!   this library's own, whose signing keys are generated and kept here
//!   (sealed like the issuer's), or another region's, listed by their public
//!   keys for mutual recognition. A local authority's key is rotated with
//!   `POST /v1/admin/authorities/{uscc}/keys`: the old key's validity ends
//!   then, so what it signed before stays valid.
//! - `GET /v1/trust-list` publishes every authority (and this server's 网证
//!   issuer) as a list signed by the 网证 issuer key, the trust anchor apps
//!   already pin (`GET /v1/issuer`). The format is in docs/formats.md.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::credential::{Authority, TrustList, TrustedKey};
use yiwang_core::crypto::{SigningKey, Suite, VerifyingKey};
use yiwang_core::identity::{RegionCode, Uscc};

use crate::AppState;
use crate::admin::{require_admin, valid_name};
use crate::audit;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use crate::issuer::now;
use crate::push::now_ms;

/// How long apps and departments may rely on a trust list.
pub const TRUST_MAX_AGE_SECS: u32 = 24 * 3600;
const PEM_COLUMN: &str = "authority_keys.private_pem";
const SECRET_COLUMN: &str = "authority_keys.secret_hex";

pub mod licences;
pub mod uses;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(licences::router())
        .merge(uses::router())
        .routes(routes!(licence_types))
        .routes(routes!(register_authority))
        .routes(routes!(rotate_key))
        .routes(routes!(trust_list))
}

/// A licence type (证照类型).
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceType {
    /// GB/T 36904 type code (21 characters).
    type_code: String,
    name_zh: String,
    name_en: String,
    /// The kind of department that issues it, e.g. `civil_affairs`.
    department_kind: String,
    /// `citizen`, `organisation` or `any`.
    holder_kind: String,
    /// Years of validity; 0 is 长期 (no end).
    validity_years: i64,
    /// The claims a verifying department is shown by default.
    claims: Vec<String>,
}

/// `GET /v1/licence-types`: every licence type the library knows.
#[utoipa::path(get, path = "/v1/licence-types", tag = "library",
    responses((status = 200, description = "Licence types, by type code", body = [LicenceType])))]
async fn licence_types(State(state): State<AppState>) -> Result<Json<Vec<LicenceType>>, ApiError> {
    let rows = sqlx::query(
        "SELECT type_code, name_zh, name_en, department_kind, holder_kind, validity_years, claims \
         FROM licence_types ORDER BY type_code",
    )
    .fetch_all(state.db().pool())
    .await?;
    let mut types = Vec::with_capacity(rows.len());
    for row in rows {
        let claims: String = row.try_get("claims")?;
        types.push(LicenceType {
            type_code: row.try_get("type_code")?,
            name_zh: row.try_get("name_zh")?,
            name_en: row.try_get("name_en")?,
            department_kind: row.try_get("department_kind")?,
            holder_kind: row.try_get("holder_kind")?,
            validity_years: row.try_get("validity_years")?,
            claims: claims.split(' ').map(str::to_owned).collect(),
        });
    }
    Ok(Json(types))
}

/// Another region's key, as its authority published it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyRequest {
    /// SubjectPublicKeyInfo PEM (SM2 or P-256).
    public_key_pem: String,
    /// Unix seconds from which it signs.
    not_before: i64,
    /// Unix seconds after which nothing it signs is trusted.
    #[serde(default)]
    not_after: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorityRequest {
    /// The authority's unified social credit code.
    uscc: String,
    name: String,
    /// GB/T 2260 code of the region it serves.
    region: String,
    /// Type codes it may issue (see `GET /v1/licence-types`).
    licence_types: Vec<String>,
    /// Another region's authority: its public keys. Absent: this library's
    /// own authority, whose key is generated here.
    #[serde(default)]
    public_keys: Option<Vec<PublicKeyRequest>>,
}

/// An authority on the trust list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorityInfo {
    uscc: String,
    name: String,
    region: String,
    licence_types: Vec<String>,
    /// Whether this library holds its keys (and issues in its name).
    local: bool,
    keys: Vec<KeyInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    kid: String,
    suite: String,
    public_key_pem: String,
    not_before: i64,
    not_after: Option<i64>,
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(code, message)
}

/// `POST /v1/admin/authorities` → 201: registers an issuing authority.
#[utoipa::path(post, path = "/v1/admin/authorities", tag = "library", security(("admin" = [])),
    request_body = AuthorityRequest, responses(
    (status = 201, description = "Registered and on the trust list", body = AuthorityInfo),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 409, description = "YW-4099 an authority with this USCC exists", body = ErrorBody),
    (status = 422, description = "YW-4740 bad USCC or region, YW-4018 bad name, YW-4741 unknown or no licence type, YW-4742 bad public key or validity", body = ErrorBody)))]
async fn register_authority(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<AuthorityRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let Json(request) = body?;
    let uscc =
        Uscc::parse(request.uscc.trim()).map_err(|e| bad("YW-4740", format!("uscc: {e}")))?;
    let name = valid_name(&request.name)?;
    let region = RegionCode::parse(request.region.trim())
        .map_err(|e| bad("YW-4740", format!("region: {e}")))?;
    let db = state.db();
    let mut types: Vec<String> = Vec::new();
    for t in request.licence_types {
        let known = sqlx::query("SELECT 1 FROM licence_types WHERE type_code = $1")
            .bind(&t)
            .fetch_optional(db.pool())
            .await?
            .is_some();
        if !known {
            return Err(bad(
                "YW-4741",
                "licence_types: a type code the library does not know (GET /v1/licence-types)",
            ));
        }
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if types.is_empty() {
        return Err(bad("YW-4741", "licence_types: give at least one"));
    }
    let local = request.public_keys.is_none();
    let keys = match request.public_keys {
        None => vec![new_local_key(&state)?],
        Some(given) if given.is_empty() => {
            return Err(bad("YW-4742", "public_keys: give at least one"));
        }
        Some(given) => {
            let mut keys = Vec::new();
            for k in given {
                let key = VerifyingKey::from_spki_pem(&k.public_key_pem)
                    .map_err(|e| bad("YW-4742", format!("public_key_pem: {e}")))?;
                if k.not_after.is_some_and(|end| end < k.not_before) || k.not_before < 0 {
                    return Err(bad("YW-4742", "not_after is before not_before"));
                }
                keys.push(NewKey {
                    public: key,
                    private_pem: None,
                    secret_hex: None,
                    not_before_ms: k.not_before.saturating_mul(1000),
                    not_after_ms: k.not_after.map(|t| t.saturating_mul(1000)),
                });
            }
            keys
        }
    };
    let at = now_ms();
    let mut write = db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO authorities (uscc, name, region, licence_types, local, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (uscc) DO NOTHING",
    )
    .bind(uscc.as_str())
    .bind(&name)
    .bind(region.as_str())
    .bind(types.join(" "))
    .bind(i64::from(local))
    .bind(at)
    .execute(&mut *write.tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4099",
            "an authority with this uscc is registered",
        ));
    }
    for key in &keys {
        insert_key(&mut write.tx, uscc.as_str(), key).await?;
    }
    audit::record(
        &mut *write.tx,
        "admin",
        "authority.registered",
        Some(uscc.as_str()),
    )
    .await?;
    write.tx.commit().await?;
    let info = load_authority(db, uscc.as_str())
        .await?
        .ok_or_else(|| ApiError::internal("authority vanished"))?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// `POST /v1/admin/authorities/{uscc}/keys` → 201: a new key for a local
/// authority; the current one's validity ends now.
#[utoipa::path(post, path = "/v1/admin/authorities/{uscc}/keys", tag = "library", security(("admin" = [])),
    params(("uscc" = String, Path, description = "The authority's USCC")), responses(
    (status = 201, description = "Rotated", body = AuthorityInfo),
    (status = 401, description = "YW-4015 wrong admin token", body = ErrorBody),
    (status = 404, description = "YW-4052 no such authority", body = ErrorBody),
    (status = 409, description = "YW-4743 another region's authority: its keys are not held here", body = ErrorBody)))]
async fn rotate_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(uscc): Path<String>,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let db = state.db();
    let local: i64 = sqlx::query("SELECT local FROM authorities WHERE uscc = $1")
        .bind(&uscc)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(no_authority)?
        .try_get("local")?;
    if local != 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4743",
            "another region's authority: add its keys through its own trust list",
        ));
    }
    let mut key = new_local_key(&state)?;
    // The old key ends just before the new one begins.
    let at = key.not_before_ms;
    key.not_before_ms += 1000;
    let mut write = db.begin_write().await?;
    sqlx::query(
        "UPDATE authority_keys SET not_after_ms = $1 WHERE uscc = $2 AND not_after_ms IS NULL",
    )
    .bind(at)
    .bind(&uscc)
    .execute(&mut *write.tx)
    .await?;
    insert_key(&mut write.tx, &uscc, &key).await?;
    audit::record(
        &mut *write.tx,
        "admin",
        "authority.key_rotated",
        Some(&uscc),
    )
    .await?;
    write.tx.commit().await?;
    let info = load_authority(db, &uscc).await?.ok_or_else(no_authority)?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

fn no_authority() -> ApiError {
    ApiError::not_found("YW-4052", "no authority with this uscc")
}

struct NewKey {
    public: VerifyingKey,
    /// Sealed (or plain, without a key-encryption key).
    private_pem: Option<String>,
    secret_hex: Option<String>,
    not_before_ms: i64,
    not_after_ms: Option<i64>,
}

/// A fresh SM2 key and pairwise secret for a local authority, sealed.
fn new_local_key(state: &AppState) -> Result<NewKey, ApiError> {
    let key = SigningKey::generate(Suite::Gm).map_err(ApiError::internal)?;
    let public = key.verifying_key().map_err(ApiError::internal)?;
    let kid = hex::encode(public.key_id());
    let mut secret = [0u8; 32];
    yiwang_core::crypto::random_bytes(&mut secret).map_err(ApiError::internal)?;
    let vault = state.vault();
    Ok(NewKey {
        private_pem: Some(vault.seal(
            PEM_COLUMN,
            &kid,
            key.to_pkcs8_pem().map_err(ApiError::internal)?.as_str(),
        )?),
        secret_hex: Some(vault.seal(SECRET_COLUMN, &kid, &hex::encode(secret))?),
        public,
        // Whole seconds: the trust list is in seconds.
        not_before_ms: now() * 1000,
        not_after_ms: None,
    })
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    uscc: &str,
    key: &NewKey,
) -> Result<(), ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO authority_keys (kid, uscc, suite, public_pem, private_pem, secret_hex, \
         not_before_ms, not_after_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (kid) DO NOTHING",
    )
    .bind(hex::encode(key.public.key_id()))
    .bind(uscc)
    .bind(key.public.suite().name())
    .bind(key.public.to_spki_pem())
    .bind(key.private_pem.as_deref())
    .bind(key.secret_hex.as_deref())
    .bind(key.not_before_ms)
    .bind(key.not_after_ms)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() != 1 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "YW-4099",
            "this public key is already on the trust list",
        ));
    }
    Ok(())
}

async fn keys_of(db: &Db, uscc: &str) -> Result<Vec<KeyInfo>, ApiError> {
    let rows = sqlx::query(
        "SELECT kid, suite, public_pem, not_before_ms, not_after_ms FROM authority_keys \
         WHERE uscc = $1 ORDER BY not_before_ms, kid",
    )
    .bind(uscc)
    .fetch_all(db.pool())
    .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        keys.push(KeyInfo {
            kid: row.try_get("kid")?,
            suite: row.try_get("suite")?,
            public_key_pem: row.try_get("public_pem")?,
            not_before: row.try_get::<i64, _>("not_before_ms")? / 1000,
            not_after: row
                .try_get::<Option<i64>, _>("not_after_ms")?
                .map(|t| t / 1000),
        });
    }
    Ok(keys)
}

async fn load_authority(db: &Db, uscc: &str) -> Result<Option<AuthorityInfo>, ApiError> {
    let Some(row) = sqlx::query(
        "SELECT uscc, name, region, licence_types, local FROM authorities WHERE uscc = $1",
    )
    .bind(uscc)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    let types: String = row.try_get("licence_types")?;
    Ok(Some(AuthorityInfo {
        uscc: row.try_get("uscc")?,
        name: row.try_get("name")?,
        region: row.try_get("region")?,
        licence_types: types.split(' ').map(str::to_owned).collect(),
        local: row.try_get::<i64, _>("local")? == 1,
        keys: keys_of(db, uscc).await?,
    }))
}

/// The trust list as of `at` (Unix seconds): this server's 网证 issuer, then
/// every registered authority.
pub async fn current_trust_list(state: &AppState, at: i64) -> Result<TrustList, ApiError> {
    let db = state.db();
    let issuer = state.issuer();
    let issuer_since: i64 = sqlx::query("SELECT created_at FROM issuer_keys WHERE kid = $1")
        .bind(issuer.kid())
        .fetch_one(db.pool())
        .await?
        .try_get("created_at")?;
    let mut authorities = vec![Authority {
        uscc: None,
        name: "yiwang 网证 issuer".to_owned(),
        region: "CN".to_owned(),
        network_id: true,
        licence_types: Vec::new(),
        keys: vec![TrustedKey::new(
            issuer.public_key().clone(),
            issuer_since,
            None,
        )],
    }];
    let usccs: Vec<String> = sqlx::query_scalar("SELECT uscc FROM authorities ORDER BY uscc")
        .fetch_all(db.pool())
        .await?;
    for uscc in usccs {
        let Some(info) = load_authority(db, &uscc).await? else {
            continue;
        };
        let mut keys = Vec::with_capacity(info.keys.len());
        for k in info.keys {
            keys.push(TrustedKey::new(
                VerifyingKey::from_spki_pem(&k.public_key_pem).map_err(ApiError::internal)?,
                k.not_before,
                k.not_after,
            ));
        }
        authorities.push(Authority {
            uscc: Some(Uscc::parse(&info.uscc).map_err(ApiError::internal)?),
            name: info.name,
            region: info.region,
            network_id: false,
            licence_types: info.licence_types,
            keys,
        });
    }
    Ok(TrustList {
        issued_at: at,
        max_age_secs: TRUST_MAX_AGE_SECS,
        authorities,
    })
}

/// `GET /v1/trust-list`: the signed trust list (COSE_Sign1 over JSON,
/// docs/formats.md), signed by the 网证 issuer key of `GET /v1/issuer`.
#[utoipa::path(get, path = "/v1/trust-list", tag = "library",
    responses((status = 200, description = "The signed trust list", body = String, content_type = "application/cose")))]
async fn trust_list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = current_trust_list(&state, now()).await?;
    let token = state
        .issuer()
        .issuer()
        .sign_trust_list(&list)
        .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/cose".to_owned()),
            (header::CACHE_CONTROL, "public, max-age=300".to_owned()),
        ],
        token,
    )
        .into_response())
}
