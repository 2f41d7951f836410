//! Login with the 网证 (统一身份认证): the server issues a one-use challenge,
//! the app presents its 网证 to that nonce with this server as audience
//! (disclosing its 网号), and gets a short-lived ES256 access token (JWT,
//! `kid` in the header, keys at `/.well-known/jwks.json`) and a rotating
//! refresh token, stored hashed; presenting a refresh token that was already
//! rotated revokes its whole family (it was stolen or replayed).

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64UrlUnpadded, Encoding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use yiwang_core::credential::{Claim, ClaimValue};
use yiwang_core::crypto::{SigningKey, Suite, VerifyingKey, random_bytes};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::issuer::now;

/// Audience of presentations made to log in here, and issuer of its tokens.
pub const SERVER_AUDIENCE: &str = "yiwang-server";
pub const ACCESS_TOKEN_SECS: i64 = 900;
pub const REFRESH_TOKEN_SECS: i64 = 30 * 86_400;
pub const CHALLENGE_SECS: i64 = 120;
const JWT_PEM_COLUMN: &str = "jwt_keys.private_pem";
/// How long a process keeps signing with the JWT key it loaded (a rotation
/// by another process is picked up within this); a retired key stays in the
/// JWKS this much longer than its tokens' lifetime.
pub const SIGNER_CACHE_SECS: i64 = 60;

/// A JWT signing key ready to use.
#[derive(Clone)]
pub(crate) struct Signer {
    kid: String,
    key: std::sync::Arc<EncodingKey>,
    loaded_at: i64,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Signer {
    fn new(kid: String, key: &SigningKey) -> Result<Self, ApiError> {
        let der = key.to_pkcs8_der().map_err(ApiError::internal)?;
        Ok(Self {
            kid,
            key: std::sync::Arc::new(EncodingKey::from_ec_der(&der)),
            loaded_at: now(),
        })
    }
}

fn remember(state: &AppState, signer: &Signer) {
    *state
        .signer_cache()
        .write()
        .unwrap_or_else(|p| p.into_inner()) = Some(signer.clone());
}

/// The current signer: the cached one while fresh, else from the database.
async fn signer(state: &AppState) -> Result<Signer, ApiError> {
    let cached = state
        .signer_cache()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(signer) = cached.filter(|s| now() - s.loaded_at < SIGNER_CACHE_SECS) {
        return Ok(signer);
    }
    let (kid, key) = signing_key(state).await?;
    let signer = Signer::new(kid, &key)?;
    remember(state, &signer);
    Ok(signer)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(challenge))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(me))
        .routes(routes!(jwks))
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// `bytes` random bytes, Base64url: tokens, ids, nonces, secrets.
pub(crate) fn random_token(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    random_bytes(&mut buf).map_err(ApiError::internal)?;
    Ok(Base64UrlUnpadded::encode_string(&buf))
}

/// SHA-256 (hex) of a bearer secret (refresh token, client secret), as stored.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Suite::Intl.hash(token.as_bytes()))
}

/// The `client_id:client_secret` of an HTTP Basic `Authorization` header.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))?;
    let decoded = base64ct::Base64::decode_vec(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Whether `secret` hashes to `stored` ([`token_hash`]), compared in constant time.
pub(crate) fn secret_matches(secret: &str, stored: &str) -> bool {
    let Ok(stored) = hex::decode(stored) else {
        return false;
    };
    let key = b"yiwang/client-secret";
    Suite::Intl
        .verify_mac(
            key,
            &Suite::Intl.hash(secret.as_bytes()),
            &Suite::Intl.mac(key, &stored),
        )
        .is_ok()
}

/// The current JWT signing key (created on first use) and every key whose
/// tokens may still be alive.
pub(crate) async fn signing_key(state: &AppState) -> Result<(String, SigningKey), ApiError> {
    let pool = state.db().pool();
    let row = sqlx::query("SELECT kid, private_pem FROM jwt_keys WHERE retired_at IS NULL ORDER BY created_at, kid LIMIT 1")
        .fetch_optional(pool)
        .await?;
    if let Some(row) = row {
        let kid: String = row.try_get("kid")?;
        let pem = state.vault().open(
            JWT_PEM_COLUMN,
            &kid,
            &row.try_get::<String, _>("private_pem")?,
        )?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(ApiError::internal)?;
        return Ok((kid, key));
    }
    rotate_signing_key(state).await
}

/// Seals JWT keys written before a key-encryption key was configured.
pub(crate) async fn seal_stored_keys(
    db: &crate::db::Db,
    vault: &crate::keys::KeyVault,
) -> Result<(), ApiError> {
    if !vault.seals() {
        return Ok(());
    }
    let rows = sqlx::query("SELECT kid, private_pem FROM jwt_keys")
        .fetch_all(db.pool())
        .await?;
    for row in rows {
        let kid: String = row.try_get("kid")?;
        let stored: String = row.try_get("private_pem")?;
        if vault.needs_sealing(&stored) {
            sqlx::query("UPDATE jwt_keys SET private_pem = $1 WHERE kid = $2")
                .bind(vault.seal(JWT_PEM_COLUMN, &kid, &stored)?)
                .bind(&kid)
                .execute(db.pool())
                .await?;
        }
    }
    Ok(())
}

/// Makes a new JWT signing key current; the previous ones stay in the JWKS
/// until every token they signed has expired.
pub async fn rotate_signing_key(state: &AppState) -> Result<(String, SigningKey), ApiError> {
    let key = SigningKey::generate(Suite::Intl).map_err(ApiError::internal)?;
    let kid = hex::encode(key.verifying_key().map_err(ApiError::internal)?.key_id());
    let at = now();
    let mut tx = state.db().pool().begin().await?;
    sqlx::query("UPDATE jwt_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(at)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO jwt_keys (kid, private_pem, created_at, retired_at) VALUES ($1, $2, $3, NULL)",
    )
    .bind(&kid)
    .bind(state.vault().seal(
        JWT_PEM_COLUMN,
        &kid,
        key.to_pkcs8_pem().map_err(ApiError::internal)?.as_str(),
    )?)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    remember(state, &Signer::new(kid.clone(), &key)?);
    Ok((kid, key))
}

/// Public keys of every JWT key that may still have live tokens.
async fn live_keys(state: &AppState) -> Result<Vec<(String, VerifyingKey)>, ApiError> {
    let rows = sqlx::query(
        "SELECT kid, private_pem FROM jwt_keys WHERE retired_at IS NULL OR retired_at > $1",
    )
    .bind(now() - ACCESS_TOKEN_SECS - SIGNER_CACHE_SECS)
    .fetch_all(state.db().pool())
    .await?;
    rows.iter()
        .map(|row| {
            let kid: String = row.try_get("kid")?;
            let pem = state.vault().open(
                JWT_PEM_COLUMN,
                &kid,
                &row.try_get::<String, _>("private_pem")?,
            )?;
            let key = SigningKey::from_pkcs8_pem(&pem).map_err(ApiError::internal)?;
            Ok((kid, key.verifying_key().map_err(ApiError::internal)?))
        })
        .collect()
}

/// A public key (RFC 7517), always EC P-256 for ES256.
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwk {
    kty: &'static str,
    crv: &'static str,
    alg: &'static str,
    #[serde(rename = "use")]
    use_: &'static str,
    kid: String,
    x: String,
    y: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

fn jwk(kid: &str, key: &VerifyingKey) -> Jwk {
    let point = key.to_sec1_uncompressed();
    Jwk {
        kty: "EC",
        crv: "P-256",
        alg: "ES256",
        use_: "sig",
        kid: kid.to_owned(),
        x: Base64UrlUnpadded::encode_string(&point[1..33]),
        y: Base64UrlUnpadded::encode_string(&point[33..65]),
    }
}

/// `GET /.well-known/jwks.json`
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "Public keys of every JWT key whose tokens may be alive", body = Jwks)))]
async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    signing_key(&state).await?;
    let keys: Vec<_> = live_keys(&state)
        .await?
        .iter()
        .map(|(kid, key)| jwk(kid, key))
        .collect();
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(Jwks { keys }),
    )
        .into_response())
}

/// A one-use login challenge.
#[derive(Debug, Serialize, ToSchema)]
pub struct Challenge {
    nonce: String,
    /// Present to this audience (`yiwang-server`).
    audience: &'static str,
    expires_in: i64,
    /// What the presentation must disclose (`network_id`).
    disclose: Vec<&'static str>,
}

/// `POST /v1/auth/challenge` → a one-use nonce for a login presentation.
#[utoipa::path(post, path = "/v1/auth/challenge", tag = "auth", responses(
    (status = 201, description = "A challenge valid for 120 s", body = Challenge),
    (status = 429, description = "YW-4290 rate limited", body = ErrorBody)))]
async fn challenge(State(state): State<AppState>) -> Result<Response, ApiError> {
    let nonce = random_token(16)?;
    let mut write = state.db().begin_write().await?;
    sqlx::query("INSERT INTO login_challenges (nonce, expires_at, used) VALUES ($1, $2, 0)")
        .bind(&nonce)
        .bind(now() + CHALLENGE_SECS)
        .execute(&mut *write.tx)
        .await?;
    write.tx.commit().await?;
    let body = Challenge {
        nonce,
        audience: SERVER_AUDIENCE,
        expires_in: CHALLENGE_SECS,
        disclose: vec!["network_id"],
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The QR text of a presentation made to `yiwang-server` with the nonce.
    presentation: String,
    nonce: String,
    /// Shown in the citizen's device list, e.g. "华为 Mate 60".
    #[serde(default)]
    device_name: Option<String>,
}

/// Longest device name accepted, in characters.
pub const DEVICE_NAME_MAX: usize = 64;

/// Access token claims.
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: String,
    sub: String,
    /// The device session (`devices.device_id`).
    sid: String,
    iat: i64,
    exp: i64,
}

/// Signs `claims` with the current JWT key (ES256, `kid` in the header).
pub(crate) async fn sign_jwt(
    state: &AppState,
    claims: &impl Serialize,
) -> Result<String, ApiError> {
    let signer = signer(state).await?;
    let header = Header {
        kid: Some(signer.kid),
        ..Header::new(Algorithm::ES256)
    };
    jsonwebtoken::encode(&header, claims, &signer.key).map_err(ApiError::internal)
}

/// An access token and its refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    /// ES256 JWT, 15 minutes.
    access_token: String,
    /// `Bearer`
    token_type: &'static str,
    expires_in: i64,
    /// One use: spent by `/v1/auth/refresh`.
    refresh_token: String,
    /// This device's session (see `/v1/me/devices`).
    device_id: String,
}

/// Signs an access token and stores a new refresh token of `family`.
async fn issue_tokens<'e, E>(
    executor: E,
    signer: &Signer,
    network_id: &str,
    family: &str,
    device_id: &str,
) -> Result<Tokens, ApiError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let at = now();
    let claims = AccessClaims {
        iss: SERVER_AUDIENCE.into(),
        aud: SERVER_AUDIENCE.into(),
        sub: network_id.into(),
        sid: device_id.into(),
        iat: at,
        exp: at + ACCESS_TOKEN_SECS,
    };
    let header = Header {
        kid: Some(signer.kid.clone()),
        ..Header::new(Algorithm::ES256)
    };
    let access = jsonwebtoken::encode(&header, &claims, &signer.key).map_err(ApiError::internal)?;
    let refresh = random_token(32)?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family, network_id, expires_at, rotated, revoked) VALUES ($1, $2, $3, $4, 0, 0)",
    )
    .bind(token_hash(&refresh))
    .bind(family)
    .bind(network_id)
    .bind(at + REFRESH_TOKEN_SECS)
    .execute(executor)
    .await?;
    Ok(Tokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECS,
        refresh_token: refresh,
        device_id: device_id.to_owned(),
    })
}

/// How a device session records the device key that signed its login
/// presentation: hex SHA-256 of the key's SubjectPublicKeyInfo DER.
pub fn device_key_hash(key: &VerifyingKey) -> String {
    hex::encode(Suite::Intl.hash(&key.to_spki_der()))
}

/// `POST /v1/auth/login`: a presentation to this server, answering a live challenge.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, description = "Signed in; a new device session", body = Tokens),
    (status = 401, description = "YW-4011 unknown/used challenge, YW-14xx presentation refused, YW-4014 no account", body = ErrorBody),
    (status = 422, description = "YW-4012 no 网号 disclosed, YW-4017 bad device name, YW-4002 wrong shape", body = ErrorBody),
    (status = 429, description = "YW-4290 rate limited", body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let device_name = request
        .device_name
        .as_deref()
        .unwrap_or("")
        .trim()
        .to_owned();
    if device_name.chars().count() > DEVICE_NAME_MAX || device_name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "YW-4017",
            "device_name: at most 64 characters, no control characters",
        ));
    }
    let at = now();
    // Everything that can refuse the login, before the write transaction
    // (reads in parallel with other logins; on SQLite only the writes wait
    // for the single writer's turn).
    let signer = signer(&state).await?;
    let checked: Result<(String, String), ApiError> = async {
        let verified = state.issuer().verify_signatures(
            &request.presentation,
            SERVER_AUDIENCE,
            request.nonce.as_bytes(),
        )?;
        let Some(ClaimValue::Text(network_id)) = verified.claims.get(&Claim::NetworkId) else {
            return Err(ApiError::unprocessable(
                "YW-4012",
                "the presentation must disclose network_id",
            ));
        };
        let pool = state.db().pool();
        crate::issuer::check_not_revoked(pool, &verified).await?;
        let known = sqlx::query("SELECT 1 FROM accounts WHERE network_id = $1")
            .bind(network_id)
            .fetch_optional(pool)
            .await?;
        if known.is_none() {
            return Err(unauthorized("YW-4014", "no account for this credential"));
        }
        Ok((network_id.clone(), device_key_hash(&verified.device_key)))
    }
    .await;
    let family = random_token(12)?;
    let device_id = random_token(9)?;
    // One write transaction, one commit.
    let mut write = state.db().begin_write().await?;
    let tx = &mut write.tx;
    // The challenge is used up by this attempt, whatever its outcome.
    let taken = sqlx::query(
        "UPDATE login_challenges SET used = 1 WHERE nonce = $1 AND used = 0 AND expires_at > $2",
    )
    .bind(&request.nonce)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Err(unauthorized(
            "YW-4011",
            "unknown, expired or already used challenge",
        ));
    }
    let (network_id, device_key) = match checked {
        Ok(checked) => checked,
        Err(refusal) => {
            write.tx.commit().await?;
            return Err(refusal);
        }
    };
    let network_id = network_id.as_str();
    sqlx::query(
        "INSERT INTO devices (device_id, family, network_id, name, signed_in_at, last_seen_at, \
         signed_out_at, device_key) VALUES ($1, $2, $3, $4, $5, $5, NULL, $6)",
    )
    .bind(&device_id)
    .bind(&family)
    .bind(network_id)
    .bind(if device_name.is_empty() {
        "未命名设备"
    } else {
        device_name.as_str()
    })
    .bind(at)
    .bind(&device_key)
    .execute(&mut **tx)
    .await?;
    crate::audit::record(&mut **tx, "citizen", "auth.login", Some(network_id)).await?;
    let tokens = issue_tokens(&mut **tx, &signer, network_id, &family, &device_id).await?;
    write.tx.commit().await?;
    Ok(Json(tokens).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// `POST /v1/auth/refresh`: rotates the refresh token.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried refresh safe: the first answer is replayed")),
    responses(
    (status = 200, description = "A new pair; the presented refresh token is spent", body = Tokens),
    (status = 401, description = "YW-4013 unknown, expired or reused (the family is revoked) refresh token", body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let pool = state.db().pool();
    let hash = token_hash(&request.refresh_token);
    let row = sqlx::query("SELECT family, network_id, expires_at, rotated, revoked FROM refresh_tokens WHERE token_hash = $1")
        .bind(&hash)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| unauthorized("YW-4013", "unknown refresh token"))?;
    let family: String = row.try_get("family")?;
    let rotated: i64 = row.try_get("rotated")?;
    let revoked: i64 = row.try_get("revoked")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if rotated != 0 || revoked != 0 {
        // Reuse of a rotated token: whoever holds the family is not trusted any more.
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1")
            .bind(&family)
            .execute(pool)
            .await?;
        sqlx::query(
            "UPDATE devices SET signed_out_at = $1 WHERE family = $2 AND signed_out_at IS NULL",
        )
        .bind(now())
        .bind(&family)
        .execute(pool)
        .await?;
        sqlx::query(
            "DELETE FROM push_devices WHERE device_id IN (SELECT device_id FROM devices WHERE family = $1)",
        )
        .bind(&family)
        .execute(pool)
        .await?;
        // The request id (in the log context) identifies the event; the family id is a session secret.
        tracing::warn!(request_id = %crate::error::current_request_id(), "refresh token reuse: its session family was revoked");
        return Err(unauthorized(
            "YW-4013",
            "refresh token already used; the session is revoked",
        ));
    }
    if expires_at <= now() {
        return Err(unauthorized("YW-4013", "refresh token expired"));
    }
    let taken =
        sqlx::query("UPDATE refresh_tokens SET rotated = 1 WHERE token_hash = $1 AND rotated = 0")
            .bind(&hash)
            .execute(pool)
            .await?;
    if taken.rows_affected() != 1 {
        return Err(unauthorized("YW-4013", "refresh token already used"));
    }
    let network_id: String = row.try_get("network_id")?;
    let device_id: String = sqlx::query_scalar(
        "UPDATE devices SET last_seen_at = $1 WHERE family = $2 AND signed_out_at IS NULL RETURNING device_id",
    )
    .bind(now())
    .bind(&family)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| unauthorized("YW-4013", "this device was signed out"))?;
    let signer = signer(&state).await?;
    let tokens = issue_tokens(pool, &signer, &network_id, &family, &device_id).await?;
    Ok(Json(tokens).into_response())
}

/// Who a request's bearer token is: the account and the device session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    pub network_id: String,
    pub device_id: String,
}

/// The citizen of a request's bearer token, whose device is still signed in.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Citizen, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("YW-4010", "a bearer token is required"))?;
    let invalid = || unauthorized("YW-4010", "invalid or expired access token");
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    if header.alg != Algorithm::ES256 {
        return Err(invalid());
    }
    let kid = header.kid.ok_or_else(invalid)?;
    let (_, key) = live_keys(state)
        .await?
        .into_iter()
        .find(|(k, _)| *k == kid)
        .ok_or_else(invalid)?;
    let point = key.to_sec1_uncompressed();
    let decoding = DecodingKey::from_ec_components(
        &Base64UrlUnpadded::encode_string(&point[1..33]),
        &Base64UrlUnpadded::encode_string(&point[33..65]),
    )
    .map_err(ApiError::internal)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[SERVER_AUDIENCE]);
    validation.set_issuer(&[SERVER_AUDIENCE]);
    validation.leeway = 30;
    let data = jsonwebtoken::decode::<AccessClaims>(token, &decoding, &validation)
        .map_err(|_| invalid())?;
    let signed_in = sqlx::query(
        "SELECT 1 FROM devices WHERE device_id = $1 AND network_id = $2 AND signed_out_at IS NULL",
    )
    .bind(&data.claims.sid)
    .bind(&data.claims.sub)
    .fetch_optional(state.db().pool())
    .await?;
    if signed_in.is_none() {
        return Err(invalid());
    }
    Ok(Citizen {
        network_id: data.claims.sub,
        device_id: data.claims.sid,
    })
}

/// Who a bearer token is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    network_id: String,
    device_id: String,
}

/// `GET /v1/me`: who the bearer token is.
#[utoipa::path(get, path = "/v1/me", tag = "accounts", security(("bearer" = [])), responses(
    (status = 200, description = "The account and device of the token", body = Me),
    (status = 401, description = "YW-4010 missing, invalid or expired token, or a signed-out device", body = ErrorBody)))]
async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, ApiError> {
    let citizen = authenticate(&state, &headers).await?;
    crate::audit::record(
        state.db().pool(),
        "citizen",
        "account.read",
        Some(&citizen.network_id),
    )
    .await?;
    Ok(Json(Me {
        network_id: citizen.network_id,
        device_id: citizen.device_id,
    }))
}
