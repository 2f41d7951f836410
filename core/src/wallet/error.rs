use thiserror::Error;

use crate::credential::CredentialError;
use crate::crypto::{CryptoError, KeyStoreError};

/// Why a wallet operation failed. Never contains record contents.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WalletError {
    #[error(
        "the wallet's data key cannot be unwrapped with this key store (wrong key or another device)"
    )]
    WrongKey,
    #[error("the wallet file is damaged: {0}")]
    Corrupted(&'static str),
    #[error("the wallet file is truncated")]
    Truncated,
    #[error(
        "the wallet was written by a newer version of yiwang (schema {found}, this build knows up to {known})"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("a stored record does not decrypt: it was altered, moved or copied")]
    RecordDamaged,
    #[error("no such record")]
    NotFound,
    #[error("wrong backup passphrase, or the backup was altered")]
    BackupPassphrase,
    #[error("not a yiwang wallet backup, or an unsupported one: {0}")]
    BackupMalformed(&'static str),
    #[error("storage failure: {0}")]
    Storage(String),
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

impl WalletError {
    /// Stable error code (`YW-17xx`, or the underlying code).
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongKey => "YW-1701",
            Self::Corrupted(_) => "YW-1702",
            Self::Truncated => "YW-1703",
            Self::NewerSchema { .. } => "YW-1704",
            Self::RecordDamaged => "YW-1705",
            Self::NotFound => "YW-1706",
            Self::BackupPassphrase => "YW-1707",
            Self::BackupMalformed(_) => "YW-1708",
            Self::Storage(_) => "YW-1709",
            Self::KeyStore(e) => e.code(),
            Self::Crypto(e) => e.code(),
            Self::Credential(e) => e.code(),
        }
    }
}

impl From<sqlx::Error> for WalletError {
    fn from(e: sqlx::Error) -> Self {
        // SQLite's own messages name files and SQL, never row contents.
        match &e {
            sqlx::Error::Database(db) if db.message().contains("not a database") => {
                WalletError::Corrupted("not a database")
            }
            sqlx::Error::Database(db) if db.message().contains("malformed") => {
                WalletError::Corrupted("malformed")
            }
            _ => WalletError::Storage(e.to_string()),
        }
    }
}
