//! The two cryptographic suites and the key store.
//!
//! [`Suite`] is the one interface the rest of yiwang uses: hashing, MAC, key
//! derivation, AEAD and signatures. It has two implementations, chosen per
//! credential or per deployment:
//!
//! | operation  | [`Suite::Gm`] (default, 商用密码)       | [`Suite::Intl`]          |
//! |------------|-----------------------------------------|--------------------------|
//! | hash       | SM3 (GB/T 32905)                        | SHA-256                  |
//! | MAC        | HMAC-SM3                                | HMAC-SHA-256             |
//! | KDF        | HKDF-SM3 (RFC 5869 with SM3, as RFC 8998) | HKDF-SHA-256           |
//! | AEAD       | SM4-GCM (GB/T 32907, RFC 8998)          | AES-256-GCM              |
//! | signature  | SM2 with the GM/T 0009 default ID, DER  | ECDSA P-256 / SHA-256, DER |
//!
//! The suites are a closed set, so the interface is an enum whose every method
//! matches on both variants: adding an operation cannot forget a suite, and keys
//! stay plain values (`Clone`, no boxing). The GM implementation is RustCrypto
//! (`sm2`, `sm3`, `sm4`, `aes-gcm`'s generic GCM); the international one is
//! `aws-lc-rs`. No primitive is written here.

mod aead;
mod error;
mod gm;
mod intl;
mod keys;
mod keystore;

pub use aead::{AeadKey, NONCE_LEN, TAG_LEN};
pub use error::CryptoError;
pub use keys::{SigningKey, VerifyingKey, signature_der_to_raw, signature_raw_to_der};
pub use keystore::{KeyAlias, KeyStore, KeyStoreError, SoftwareKeyStore, write_private_pem};

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Length in bytes of every digest and MAC tag both suites produce.
pub const DIGEST_LEN: usize = 32;

/// A cryptographic suite. [`Suite::Gm`] is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// National commercial cryptography: SM2 / SM3 / SM4.
    #[default]
    Gm,
    /// International: ECDSA P-256 / SHA-256 / AES-256-GCM.
    Intl,
}

impl Suite {
    /// Every suite, default first.
    pub const ALL: [Suite; 2] = [Suite::Gm, Suite::Intl];

    /// The short name used in files, on the wire and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Gm => "gm",
            Suite::Intl => "intl",
        }
    }

    /// Generates a new signing key with the operating system's random source.
    pub fn generate_signing_key(self) -> Result<SigningKey, CryptoError> {
        SigningKey::generate(self)
    }

    /// SM3 or SHA-256 of `data`.
    pub fn hash(self, data: &[u8]) -> [u8; DIGEST_LEN] {
        match self {
            Suite::Gm => gm::hash(data),
            Suite::Intl => intl::hash(data),
        }
    }

    /// HMAC-SM3 or HMAC-SHA-256 of `data` under `key`.
    pub fn mac(self, key: &[u8], data: &[u8]) -> [u8; DIGEST_LEN] {
        match self {
            Suite::Gm => gm::mac(key, data),
            Suite::Intl => intl::mac(key, data),
        }
    }

    /// Checks a MAC tag in constant time.
    pub fn verify_mac(self, key: &[u8], data: &[u8], tag: &[u8]) -> Result<(), CryptoError> {
        let ok = match self {
            Suite::Gm => gm::verify_mac(key, data, tag),
            Suite::Intl => intl::verify_mac(key, data, tag),
        };
        if ok { Ok(()) } else { Err(CryptoError::BadMac) }
    }

    /// HKDF (RFC 5869) with the suite's hash: fills `out` from `ikm`, `salt` and `info`.
    /// `out` may be at most 255 × 32 bytes.
    pub fn kdf(
        self,
        ikm: &[u8],
        salt: &[u8],
        info: &[u8],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        if out.is_empty() || out.len() > 255 * DIGEST_LEN {
            return Err(CryptoError::KdfLength {
                requested: out.len(),
            });
        }
        match self {
            Suite::Gm => gm::hkdf(ikm, salt, info, out),
            Suite::Intl => intl::hkdf(ikm, salt, info, out),
        }
    }

    /// Length of this suite's AEAD key: 16 bytes for SM4, 32 for AES-256.
    pub fn aead_key_len(self) -> usize {
        match self {
            Suite::Gm => gm::AEAD_KEY_LEN,
            Suite::Intl => intl::AEAD_KEY_LEN,
        }
    }

    /// An AEAD key from raw bytes of [`Suite::aead_key_len`] length.
    pub fn aead_key(self, key: &[u8]) -> Result<AeadKey, CryptoError> {
        AeadKey::new(self, key)
    }

    /// A fresh random AEAD key.
    pub fn generate_aead_key(self) -> Result<AeadKey, CryptoError> {
        let mut bytes = Zeroizing::new(vec![0u8; self.aead_key_len()]);
        random_bytes(&mut bytes)?;
        AeadKey::new(self, &bytes)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Suite {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gm" => Ok(Suite::Gm),
            "intl" => Ok(Suite::Intl),
            _ => Err(CryptoError::UnknownSuite),
        }
    }
}

/// Fills `buf` from the operating system's random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Randomness)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn suite_names_round_trip() {
        for suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>().unwrap(), suite);
            let json = serde_json::to_string(&suite).unwrap();
            assert_eq!(json, format!("\"{}\"", suite.name()));
            assert_eq!(serde_json::from_str::<Suite>(&json).unwrap(), suite);
        }
        assert_eq!(Suite::default(), Suite::Gm);
        assert_eq!("sm9".parse::<Suite>().unwrap_err().code(), "YW-1111");
    }

    #[test]
    fn kdf_rejects_impossible_lengths() {
        for suite in Suite::ALL {
            let mut empty = [];
            assert!(matches!(
                suite.kdf(b"ikm", b"salt", b"info", &mut empty),
                Err(CryptoError::KdfLength { requested: 0 })
            ));
            let mut huge = vec![0u8; 255 * 32 + 1];
            assert!(suite.kdf(b"ikm", b"salt", b"info", &mut huge).is_err());
            let mut max = vec![0u8; 255 * 32];
            suite.kdf(b"ikm", b"salt", b"info", &mut max).unwrap();
        }
    }

    #[test]
    fn mac_verifies_and_rejects() {
        for suite in Suite::ALL {
            let tag = suite.mac(b"key", b"data");
            suite.verify_mac(b"key", b"data", &tag).unwrap();
            assert!(suite.verify_mac(b"key", b"data!", &tag).is_err());
            assert!(suite.verify_mac(b"kez", b"data", &tag).is_err());
            assert!(suite.verify_mac(b"key", b"data", &tag[..31]).is_err());
        }
        assert_ne!(Suite::Gm.mac(b"k", b"d"), Suite::Intl.mac(b"k", b"d"));
    }
}
