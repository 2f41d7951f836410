//! The issuer service (网证 issuance after enrolment): its key lives in the
//! database so that every `yiwang serve` sharing it signs with the same key;
//! people are recorded by 网号 and a keyed hash of their ID number, never by
//! the plain number; re-enrolment on a new device revokes the previous copy.
//!
//! NFC reading of the ID card and the face check happen on the phone and at
//! the identity platform, outside yiwang: the enrolment request carries what
//! they yield.

use std::sync::Arc;

use axum::http::StatusCode;
use serde::Deserialize;
use sqlx::Row;
use yiwang_core::credential::{
    CredentialError, Enrolment, HolderCredential, Issuer, StatusList, VerificationPolicy,
    VerifiedPresentation, verify,
};
use yiwang_core::crypto::{KeyAlias, SigningKey, SoftwareKeyStore, Suite, VerifyingKey};
use yiwang_core::identity::IdNumber;

use crate::db::Db;
use crate::keys::KeyVault;

const PEM_COLUMN: &str = "issuer_keys.private_pem";
const SECRET_COLUMN: &str = "issuer_keys.secret_hex";
use crate::error::{ApiError, current_request_id};

/// How long verifiers may trust a status list this server signs.
pub const STATUS_MAX_AGE_SECS: u32 = 3600;

/// The issuer and its key id.
pub struct IssuerService {
    issuer: Issuer,
    kid: String,
}

impl std::fmt::Debug for IssuerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerService")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl IssuerService {
    /// The database's issuer key, generated on first start. Processes that
    /// start together may each insert one; all then use the oldest.
    pub async fn load_or_create(db: &Db, suite: Suite, vault: &KeyVault) -> Result<Self, ApiError> {
        let pool = db.pool();
        let existing = sqlx::query("SELECT kid FROM issuer_keys WHERE active = 1 LIMIT 1")
            .fetch_optional(pool)
            .await?;
        if existing.is_none() {
            let key = SigningKey::generate(suite).map_err(ApiError::internal)?;
            let kid = hex::encode(key.verifying_key().map_err(ApiError::internal)?.key_id());
            let mut secret = [0u8; 32];
            yiwang_core::crypto::random_bytes(&mut secret).map_err(ApiError::internal)?;
            sqlx::query(
                "INSERT INTO issuer_keys (kid, suite, private_pem, secret_hex, created_at, active) VALUES ($1, $2, $3, $4, $5, 1)",
            )
            .bind(&kid)
            .bind(suite.name())
            .bind(vault.seal(
                PEM_COLUMN,
                &kid,
                key.to_pkcs8_pem().map_err(ApiError::internal)?.as_str(),
            )?)
            .bind(vault.seal(SECRET_COLUMN, &kid, &hex::encode(secret))?)
            .bind(now())
            .execute(pool)
            .await?;
        }
        let row = sqlx::query(
            "SELECT kid, private_pem, secret_hex FROM issuer_keys WHERE active = 1 ORDER BY created_at, kid LIMIT 1",
        )
        .fetch_one(pool)
        .await?;
        let kid: String = row.try_get("kid")?;
        let stored_pem: String = row.try_get("private_pem")?;
        let stored_secret: String = row.try_get("secret_hex")?;
        let pem = vault.open(PEM_COLUMN, &kid, &stored_pem)?;
        let secret = vault.open(SECRET_COLUMN, &kid, &stored_secret)?;
        if vault.needs_sealing(&stored_pem) || vault.needs_sealing(&stored_secret) {
            // Written before a key-encryption key was configured: seal it now.
            sqlx::query("UPDATE issuer_keys SET private_pem = $1, secret_hex = $2 WHERE kid = $3")
                .bind(vault.seal(PEM_COLUMN, &kid, &pem)?)
                .bind(vault.seal(SECRET_COLUMN, &kid, &secret)?)
                .bind(&kid)
                .execute(pool)
                .await?;
        }
        let secret: [u8; 32] = hex::decode(secret.trim())
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| ApiError::internal("issuer secret is not 32 bytes of hex"))?;
        let store = Arc::new(SoftwareKeyStore::in_memory());
        let alias = KeyAlias::new("issuer").map_err(ApiError::internal)?;
        store
            .insert(
                &alias,
                SigningKey::from_pkcs8_pem(&pem).map_err(ApiError::internal)?,
            )
            .map_err(ApiError::internal)?;
        let issuer = Issuer::new(store, alias, secret).map_err(ApiError::internal)?;
        Ok(Self { issuer, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> &VerifyingKey {
        self.issuer.public_key()
    }

    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Issues a 网证 to `request`'s device, revoking the person's previous copy.
    pub async fn enrol(&self, db: &Db, request: EnrolRequest) -> Result<Enrolled, ApiError> {
        let id_number = IdNumber::parse(&request.id_number)
            .map_err(|e| ApiError::unprocessable(e.code(), format!("id_number: {e}")))?;
        let device_key = VerifyingKey::from_spki_pem(&request.device_public_key)
            .map_err(|e| ApiError::unprocessable(e.code(), format!("device_public_key: {e}")))?;
        let photo_digest: [u8; 32] = hex::decode(request.photo_digest.trim())
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| {
                ApiError::unprocessable("YW-1419", "photo_digest: expected 64 hex characters")
            })?;
        let enrolment = Enrolment {
            name: request.name,
            id_number,
            photo_digest,
        };
        let person = self.issuer.person_key(&enrolment.id_number);
        // For segments and age rules: the region and birth date, never the number.
        let region_code = enrolment.id_number.region().as_str().to_owned();
        let birth = enrolment.id_number.birth_date();
        let birth_date = i64::from(birth.year()) * 10_000
            + i64::from(u8::from(birth.month())) * 100
            + i64::from(birth.day());
        let network_id = self.issuer.network_id(&enrolment.id_number);
        let at = now();

        let mut write = db.begin_write().await?;
        let tx = &mut write.tx;
        let index: i64 = sqlx::query_scalar(
            "INSERT INTO status_counters (kid, next_index) VALUES ($1, 1) \
             ON CONFLICT (kid) DO UPDATE SET next_index = status_counters.next_index + 1 \
             RETURNING next_index - 1",
        )
        .bind(&self.kid)
        .fetch_one(&mut **tx)
        .await?;
        let status_index =
            u32::try_from(index).map_err(|_| ApiError::internal("status list is full"))?;
        let credential: HolderCredential = self
            .issuer
            .issue(&enrolment, &device_key, status_index, at)
            .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
        let previous =
            sqlx::query("SELECT kid, status_index, generation FROM accounts WHERE person_key = $1")
                .bind(&person)
                .fetch_optional(&mut **tx)
                .await?;
        let (generation, revoked_previous) = match previous {
            Some(row) => {
                let old_kid: String = row.try_get("kid")?;
                let old_index: i64 = row.try_get("status_index")?;
                let generation: i64 = row.try_get("generation")?;
                sqlx::query("INSERT INTO revocations (kid, idx, revoked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(&old_kid)
                    .bind(old_index)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(
                    "UPDATE accounts SET kid = $1, status_index = $2, generation = $3, updated_at = $4, \
                     region_code = $5, birth_date = $6 WHERE person_key = $7",
                )
                .bind(&self.kid)
                .bind(index)
                .bind(generation + 1)
                .bind(at)
                .bind(&region_code)
                .bind(birth_date)
                .bind(&person)
                .execute(&mut **tx)
                .await?;
                (generation + 1, Some(old_index))
            }
            None => {
                sqlx::query(
                    "INSERT INTO accounts (network_id, person_key, kid, status_index, generation, created_at, updated_at, \
                     region_code, birth_date) VALUES ($1, $2, $3, $4, 1, $5, $5, $6, $7)",
                )
                .bind(&network_id)
                .bind(&person)
                .bind(&self.kid)
                .bind(index)
                .bind(at)
                .bind(&region_code)
                .bind(birth_date)
                .execute(&mut **tx)
                .await?;
                (1, None)
            }
        };
        sqlx::query("INSERT INTO audit_log (at, actor, action, subject, request_id) VALUES ($1, $2, $3, $4, $5)")
            .bind(at)
            .bind("enrolment")
            .bind("credential.issued")
            .bind(&network_id)
            .bind(current_request_id())
            .execute(&mut **tx)
            .await?;
        write.tx.commit().await?;
        Ok(Enrolled {
            credential,
            network_id,
            generation,
            status_index,
            revoked_previous,
        })
    }

    /// Verifies a presentation of one of this issuer's credentials made to
    /// `audience` with `nonce`. Revocation is checked against the table the
    /// status list is signed from: exact across processes, and no signature
    /// to make and check on every login.
    pub async fn verify_presentation(
        &self,
        db: &Db,
        text: &str,
        audience: &str,
        nonce: &[u8],
    ) -> Result<VerifiedPresentation, ApiError> {
        let verified = self.verify_signatures(text, audience, nonce)?;
        check_not_revoked(db.pool(), &verified).await?;
        Ok(verified)
    }

    /// The part of [`Self::verify_presentation`] without the database:
    /// signatures, audience, nonce, validity. Follow with [`check_not_revoked`].
    pub fn verify_signatures(
        &self,
        text: &str,
        audience: &str,
        nonce: &[u8],
    ) -> Result<VerifiedPresentation, ApiError> {
        let policy = VerificationPolicy {
            nonce: Some(nonce.to_vec()),
            require_status: false,
            ..VerificationPolicy::new(vec![self.public_key().clone()], audience, now())
        };
        verify(text, &policy).map_err(refused)
    }

    /// The signed status list of this issuer, as of now.
    pub async fn status_list(&self, db: &Db) -> Result<Vec<u8>, ApiError> {
        let rows = sqlx::query("SELECT idx FROM revocations WHERE kid = $1")
            .bind(&self.kid)
            .fetch_all(db.pool())
            .await?;
        let mut list = StatusList::new();
        for row in rows {
            let index: i64 = row.try_get("idx")?;
            list.revoke(
                u32::try_from(index)
                    .map_err(|_| ApiError::internal("revocation index out of range"))?,
            );
        }
        self.issuer
            .sign_status_list(&list, now(), STATUS_MAX_AGE_SECS)
            .map_err(ApiError::internal)
    }
}

fn refused(e: CredentialError) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string())
}

/// Refuses (401 YW-1413) a credential whose status index was revoked.
pub async fn check_not_revoked<'e, E>(
    executor: E,
    verified: &VerifiedPresentation,
) -> Result<(), ApiError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let revoked = sqlx::query("SELECT 1 FROM revocations WHERE kid = $1 AND idx = $2")
        .bind(&verified.issuer_key_id)
        .bind(i64::from(verified.status_index))
        .fetch_optional(executor)
        .await?;
    match revoked {
        Some(_) => Err(refused(CredentialError::Revoked)),
        None => Ok(()),
    }
}

/// What an enrolment yields (see the module documentation).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub name: String,
    pub id_number: String,
    /// SM3/SHA-256 digest of the verified photo, 64 hex characters.
    pub photo_digest: String,
    /// The device key (SubjectPublicKeyInfo PEM) the credential is bound to.
    pub device_public_key: String,
}

#[derive(Debug)]
pub struct Enrolled {
    pub credential: HolderCredential,
    pub network_id: String,
    pub generation: i64,
    pub status_index: u32,
    pub revoked_previous: Option<i64>,
}
