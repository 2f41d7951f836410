//! The server's private keys at rest. The issuer key, its derivation secret
//! and the JWT signing keys live in the database, so that every `yiwang
//! serve` sharing it signs alike. With `key_encryption_key` configured they
//! are stored sealed (AES-256-GCM, the table, column and key id as associated
//! data, so a sealed value cannot be moved to another row); keys written
//! before it was configured are sealed on the next start. Without it they are
//! stored as plain PEM and the server says so in its log at start.

use axum::http::StatusCode;
use base64ct::{Base64, Encoding};
use yiwang_core::crypto::{AeadKey, Suite};
use zeroize::Zeroizing;

use crate::error::ApiError;

const SEALED_PREFIX: &str = "sealed:v1:";

/// Seals and opens key material with the configured key-encryption key.
pub struct KeyVault {
    kek: Option<AeadKey>,
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVault")
            .field("sealing", &self.kek.is_some())
            .finish()
    }
}

fn locked(reason: &str) -> ApiError {
    tracing::error!(reason, "cannot open the server's keys");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "YW-5002",
        format!("the server's keys cannot be opened: {reason}"),
    )
}

impl KeyVault {
    /// A vault over `kek_hex` (64 hex characters), or a pass-through one.
    pub fn new(kek_hex: Option<&str>) -> Result<Self, ApiError> {
        let kek = match kek_hex {
            None => None,
            Some(hex_text) => {
                let bytes = Zeroizing::new(
                    hex::decode(hex_text.trim())
                        .ok()
                        .filter(|b| b.len() == 32)
                        .ok_or_else(|| locked("key_encryption_key must be 64 hex characters"))?,
                );
                Some(Suite::Intl.aead_key(&bytes).map_err(ApiError::internal)?)
            }
        };
        Ok(Self { kek })
    }

    /// Whether new keys are stored sealed.
    pub fn seals(&self) -> bool {
        self.kek.is_some()
    }

    /// What to store for `secret` in `table.column` of the row `kid`.
    pub fn seal(&self, table_column: &str, kid: &str, secret: &str) -> Result<String, ApiError> {
        match &self.kek {
            None => Ok(secret.to_owned()),
            Some(kek) => {
                let sealed = kek
                    .seal(aad(table_column, kid).as_bytes(), secret.as_bytes())
                    .map_err(ApiError::internal)?;
                Ok(format!("{SEALED_PREFIX}{}", Base64::encode_string(&sealed)))
            }
        }
    }

    /// The secret stored as `stored`; `Err` (YW-5002) when it is sealed and
    /// no key, or the wrong key, is configured.
    pub fn open(
        &self,
        table_column: &str,
        kid: &str,
        stored: &str,
    ) -> Result<Zeroizing<String>, ApiError> {
        let Some(sealed) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(Zeroizing::new(stored.to_owned()));
        };
        let kek = self
            .kek
            .as_ref()
            .ok_or_else(|| locked("they are sealed and no key_encryption_key is configured"))?;
        let sealed = Base64::decode_vec(sealed).map_err(|_| locked("a sealed key is damaged"))?;
        let plain = kek
            .open(aad(table_column, kid).as_bytes(), &sealed)
            .map_err(|_| locked("wrong key_encryption_key, or a sealed key was altered"))?;
        String::from_utf8(plain)
            .map(Zeroizing::new)
            .map_err(|_| locked("a sealed key is damaged"))
    }

    /// Whether `stored` is plain although this vault seals (to be re-sealed).
    pub fn needs_sealing(&self, stored: &str) -> bool {
        self.seals() && !stored.starts_with(SEALED_PREFIX)
    }
}

fn aad(table_column: &str, kid: &str) -> String {
    format!("yiwang/{table_column}/{kid}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEK: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_values_open_only_with_the_key_in_their_place() {
        let vault = KeyVault::new(Some(KEK)).unwrap();
        let stored = vault
            .seal(
                "jwt_keys.private_pem",
                "kid1",
                "-----BEGIN PRIVATE KEY-----",
            )
            .unwrap();
        assert!(stored.starts_with(SEALED_PREFIX));
        assert!(!stored.contains("PRIVATE"));
        assert_eq!(
            vault
                .open("jwt_keys.private_pem", "kid1", &stored)
                .unwrap()
                .as_str(),
            "-----BEGIN PRIVATE KEY-----"
        );
        // Moved to another row or column: refused.
        assert_eq!(
            vault
                .open("jwt_keys.private_pem", "kid2", &stored)
                .unwrap_err()
                .code,
            "YW-5002"
        );
        assert_eq!(
            vault
                .open("issuer_keys.private_pem", "kid1", &stored)
                .unwrap_err()
                .code,
            "YW-5002"
        );
        // Another key, or none.
        let other = KeyVault::new(Some(&KEK.replace('0', "f"))).unwrap();
        assert_eq!(
            other
                .open("jwt_keys.private_pem", "kid1", &stored)
                .unwrap_err()
                .code,
            "YW-5002"
        );
        let none = KeyVault::new(None).unwrap();
        assert_eq!(
            none.open("jwt_keys.private_pem", "kid1", &stored)
                .unwrap_err()
                .code,
            "YW-5002"
        );
        // Plain values pass through (and are flagged for sealing).
        assert_eq!(vault.open("t.c", "k", "plain").unwrap().as_str(), "plain");
        assert!(vault.needs_sealing("plain") && !none.needs_sealing("plain"));
        assert_eq!(KeyVault::new(Some("abc")).unwrap_err().code, "YW-5002");
    }
}
