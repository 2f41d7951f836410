use thiserror::Error;

/// Why a cryptographic operation failed. Messages never contain key material,
/// plaintext or personal data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A PEM or DER key could not be read.
    #[error("the key is not a well-formed {expected}")]
    KeyEncoding { expected: &'static str },
    /// The key is well formed but for an algorithm or curve yiwang does not use.
    #[error("unsupported key algorithm: only SM2 and P-256 keys are accepted")]
    UnsupportedAlgorithm,
    /// A key or signature of one suite was used with the other.
    #[error("suite mismatch: expected a {expected} key, got a {found} key")]
    SuiteMismatch {
        expected: &'static str,
        found: &'static str,
    },
    /// A signature is not a DER SEQUENCE of two integers.
    #[error("the signature is not a DER-encoded (r, s) pair")]
    SignatureEncoding,
    /// The signature does not verify under this key and message.
    #[error("signature verification failed")]
    BadSignature,
    /// AEAD open failed: wrong key, wrong associated data, or tampered/truncated ciphertext.
    #[error("decryption failed: wrong key, wrong associated data, or damaged ciphertext")]
    Decrypt,
    /// An AEAD key or nonce of the wrong length.
    #[error("wrong {what} length: expected {expected} bytes, got {found}")]
    Length {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// The operating system's random source failed.
    #[error("the system random source failed")]
    Randomness,
    /// HKDF output length out of range.
    #[error("key derivation output of {requested} bytes is out of range (1 to 8160)")]
    KdfLength { requested: usize },
    /// A MAC tag did not verify.
    #[error("MAC verification failed")]
    BadMac,
    /// Signing failed inside the implementation.
    #[error("signing failed")]
    Signing,
    /// A suite name other than `gm` or `intl`.
    #[error("unknown suite: expected `gm` or `intl`")]
    UnknownSuite,
}

impl CryptoError {
    /// Stable error code (`YW-11xx`).
    pub fn code(&self) -> &'static str {
        match self {
            CryptoError::KeyEncoding { .. } => "YW-1101",
            CryptoError::UnsupportedAlgorithm => "YW-1102",
            CryptoError::SuiteMismatch { .. } => "YW-1103",
            CryptoError::SignatureEncoding => "YW-1104",
            CryptoError::BadSignature => "YW-1105",
            CryptoError::Decrypt => "YW-1106",
            CryptoError::Length { .. } => "YW-1107",
            CryptoError::Randomness => "YW-1108",
            CryptoError::KdfLength { .. } => "YW-1109",
            CryptoError::BadMac => "YW-1110",
            CryptoError::UnknownSuite => "YW-1111",
            CryptoError::Signing => "YW-1112",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            CryptoError::KeyEncoding { expected: "x" },
            CryptoError::UnsupportedAlgorithm,
            CryptoError::SuiteMismatch {
                expected: "gm",
                found: "intl",
            },
            CryptoError::SignatureEncoding,
            CryptoError::BadSignature,
            CryptoError::Decrypt,
            CryptoError::Length {
                what: "key",
                expected: 1,
                found: 2,
            },
            CryptoError::Randomness,
            CryptoError::KdfLength { requested: 0 },
            CryptoError::BadMac,
            CryptoError::UnknownSuite,
            CryptoError::Signing,
        ];
        let mut codes: Vec<_> = all.iter().map(CryptoError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert!(codes.iter().all(|c| c.starts_with("YW-11")));
    }
}
