use yiwang_core::client::ClientError;
use yiwang_core::credential::CredentialError;
use yiwang_core::crypto::{CryptoError, KeyStoreError};
use yiwang_core::forms::{DraftError, SchemaError};
use yiwang_core::qr::QrError;
use yiwang_core::wallet::WalletError;

/// Every error the library reports: a category, a stable code (`YW-xxxx`, see
/// docs/formats.md) and a message free of personal data.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum YiwangError {
    /// The input is not valid (an ID number, a request, a form value, a file).
    #[error("{code}: {detail}")]
    InvalidInput { code: String, detail: String },
    /// A presentation or signature was checked and refused; or the server
    /// refused a request (HTTP 4xx: the server's code, e.g. YW-4013), or the
    /// client refused a login request for another server (YW-1805).
    #[error("{code}: {detail}")]
    Rejected { code: String, detail: String },
    /// A cryptographic operation failed.
    #[error("{code}: {detail}")]
    Crypto { code: String, detail: String },
    /// The key store failed or has no such key.
    #[error("{code}: {detail}")]
    KeyStore { code: String, detail: String },
    /// The wallet's storage failed or refused to open.
    #[error("{code}: {detail}")]
    Storage { code: String, detail: String },
    /// A bug or an unexpected failure on the foreign side.
    #[error("{code}: {detail}")]
    Internal { code: String, detail: String },
    /// Talking to the server failed: offline (YW-1802), timed out (YW-1803),
    /// an answer not as documented (YW-1804), rate-limited (YW-4290) or a
    /// server failure (YW-5xxx). `http_status` is the answer's, if there was one.
    #[error("{code}: {detail}")]
    Network {
        code: String,
        detail: String,
        http_status: Option<u16>,
    },
}

impl YiwangError {
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidInput { code, .. }
            | Self::Rejected { code, .. }
            | Self::Crypto { code, .. }
            | Self::KeyStore { code, .. }
            | Self::Storage { code, .. }
            | Self::Internal { code, .. }
            | Self::Network { code, .. } => code,
        }
    }

    pub(crate) fn invalid(code: &str, message: impl ToString) -> Self {
        // (`detail`, not `message`: Kotlin exceptions already have a `message`.)
        Self::InvalidInput {
            code: code.to_owned(),
            detail: message.to_string(),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for YiwangError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Internal {
            code: "YW-9001".into(),
            detail: format!("the platform callback failed: {}", first_line(&e.reason)),
        }
    }
}

impl From<CryptoError> for YiwangError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto {
            code: e.code().into(),
            detail: e.to_string(),
        }
    }
}

impl From<KeyStoreError> for YiwangError {
    fn from(e: KeyStoreError) -> Self {
        match e {
            KeyStoreError::Crypto(c) => c.into(),
            other => Self::KeyStore {
                code: other.code().into(),
                detail: other.to_string(),
            },
        }
    }
}

impl From<CredentialError> for YiwangError {
    fn from(e: CredentialError) -> Self {
        let (code, detail) = (e.code().to_owned(), e.to_string());
        match e {
            CredentialError::Crypto(c) => c.into(),
            CredentialError::KeyStore(k) => k.into(),
            CredentialError::CannotProve(_)
            | CredentialError::InvalidRequest(_)
            | CredentialError::InvalidEnrolment(_)
            | CredentialError::HolderKeyMismatch => Self::InvalidInput { code, detail },
            _ => Self::Rejected { code, detail },
        }
    }
}

impl From<WalletError> for YiwangError {
    fn from(e: WalletError) -> Self {
        match e {
            WalletError::KeyStore(k) => k.into(),
            WalletError::Crypto(c) => c.into(),
            WalletError::Credential(c) => c.into(),
            other => Self::Storage {
                code: other.code().into(),
                detail: other.to_string(),
            },
        }
    }
}

impl From<ClientError> for YiwangError {
    fn from(e: ClientError) -> Self {
        let code = e.code().to_owned();
        let http_status = e.http_status();
        match e {
            ClientError::Crypto(c) => c.into(),
            // A signed answer that did not verify (a trust list: YW-1421,
            // YW-1422): refused like any other signature, not a network failure.
            ClientError::Credential(c) => c.into(),
            ClientError::InvalidConfig(_) | ClientError::InvalidArgument(_) => {
                Self::invalid(&code, e)
            }
            ClientError::Unauthorised { message, .. }
            | ClientError::Forbidden { message, .. }
            | ClientError::Rejected { message, .. } => Self::Rejected {
                code,
                detail: message,
            },
            ClientError::InvalidSubmission {
                message, problems, ..
            } => {
                // The server's problems (paths and YW-16xx codes; never values).
                let listed: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{} {}", p.path, p.code))
                    .collect();
                Self::Rejected {
                    code,
                    detail: format!("{message} ({})", listed.join(", ")),
                }
            }
            ClientError::ForeignServer => Self::Rejected {
                code,
                detail: e.to_string(),
            },
            _ => Self::Network {
                code,
                detail: e.to_string(),
                http_status,
            },
        }
    }
}

impl From<SchemaError> for YiwangError {
    fn from(e: SchemaError) -> Self {
        Self::invalid(e.code(), e)
    }
}

impl From<DraftError> for YiwangError {
    fn from(e: DraftError) -> Self {
        Self::invalid(e.code(), e)
    }
}

impl From<QrError> for YiwangError {
    fn from(e: QrError) -> Self {
        Self::invalid(e.code(), e)
    }
}

/// The first line of a platform error's text, at most 200 characters: a
/// foreign exception's description must not carry a stack trace (or anything
/// else the app put in it) into our errors.
pub(crate) fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_list_that_does_not_verify_is_rejected_with_its_code() {
        for (e, code) in [
            (CredentialError::BadTrustList, "YW-1421"),
            (CredentialError::TrustListTooOld, "YW-1422"),
        ] {
            match YiwangError::from(ClientError::Credential(e)) {
                YiwangError::Rejected { code: got, detail } => {
                    assert_eq!(got, code);
                    assert!(!detail.is_empty());
                }
                other => panic!("{code}: expected Rejected, got {other:?}"),
            }
        }
    }
}
