use thiserror::Error;

use crate::crypto::{CryptoError, KeyStoreError};

/// Why issuing, presenting or verifying a credential failed. Each verifier
/// rejection has its own kind; messages never contain claim values.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CredentialError {
    #[error("not a yiwang presentation")]
    NotOurFormat,
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("the credential's issuer is not trusted")]
    UnknownIssuer,
    #[error("the issuer's signature does not verify")]
    BadIssuerSignature,
    #[error("the device's signature does not verify")]
    BadDeviceSignature,
    #[error("a disclosed value does not match the issuer-signed digest")]
    DigestMismatch,
    #[error("the credential has expired")]
    CredentialExpired,
    #[error("the credential is not valid yet")]
    CredentialNotYetValid,
    #[error("the presentation is too old (refresh the code)")]
    StalePresentation,
    #[error("the presentation is dated in the future")]
    FutureTimestamp,
    #[error("the presentation was made for another relying party")]
    WrongAudience,
    #[error("the presentation does not answer this verifier's nonce")]
    WrongNonce,
    #[error("the credential has been revoked")]
    Revoked,
    #[error("the status list is older than its maximum age")]
    StatusListTooOld,
    #[error("the status list is malformed or its signature does not verify")]
    BadStatusList,
    #[error("no status list for this issuer, and the policy requires one")]
    StatusListMissing,
    #[error("the holder cannot make this statement: {0}")]
    CannotProve(&'static str),
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    #[error("invalid enrolment data: {0}")]
    InvalidEnrolment(&'static str),
    #[error("the holder key does not match the credential's device key")]
    HolderKeyMismatch,
    #[error("the trust list is malformed or not signed by the trust anchor")]
    BadTrustList,
    #[error("the trust list is older than its maximum age")]
    TrustListTooOld,
    #[error("the issuer key was not valid when this was signed")]
    KeyNotValidThen,
    #[error("the issuer is not listed for this document type")]
    TypeNotAuthorised,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
}

impl CredentialError {
    /// Stable error code (`YW-14xx`, or the underlying crypto/key store code).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotOurFormat => "YW-1401",
            Self::Malformed(_) => "YW-1402",
            Self::UnknownIssuer => "YW-1403",
            Self::BadIssuerSignature => "YW-1404",
            Self::BadDeviceSignature => "YW-1405",
            Self::DigestMismatch => "YW-1406",
            Self::CredentialExpired => "YW-1407",
            Self::CredentialNotYetValid => "YW-1408",
            Self::StalePresentation => "YW-1409",
            Self::FutureTimestamp => "YW-1410",
            Self::WrongAudience => "YW-1411",
            Self::WrongNonce => "YW-1412",
            Self::Revoked => "YW-1413",
            Self::StatusListTooOld => "YW-1414",
            Self::BadStatusList => "YW-1415",
            Self::StatusListMissing => "YW-1416",
            Self::CannotProve(_) => "YW-1417",
            Self::InvalidRequest(_) => "YW-1418",
            Self::InvalidEnrolment(_) => "YW-1419",
            Self::HolderKeyMismatch => "YW-1420",
            Self::BadTrustList => "YW-1421",
            Self::TrustListTooOld => "YW-1422",
            Self::KeyNotValidThen => "YW-1423",
            Self::TypeNotAuthorised => "YW-1424",
            Self::Crypto(e) => e.code(),
            Self::KeyStore(e) => e.code(),
        }
    }
}
