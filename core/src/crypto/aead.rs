//! Authenticated encryption: SM4-GCM (GM) or AES-256-GCM (international).
//!
//! [`AeadKey::seal`] picks a random 96-bit nonce and returns
//! `nonce (12) || ciphertext || tag (16)`; [`AeadKey::open`] takes the same.
//! The associated data is the caller's: the wallet binds each ciphertext to its
//! table, row and column with it.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::gm::Sm4Gcm;
use super::{CryptoError, Suite, random_bytes};

/// GCM nonce length for both suites.
pub const NONCE_LEN: usize = 12;
/// GCM tag length for both suites.
pub const TAG_LEN: usize = 16;

/// A symmetric AEAD key. The key schedule is wiped on drop (RustCrypto's
/// `zeroize` for SM4, AWS-LC's cleanse-on-free for AES).
pub struct AeadKey(AeadInner);

enum AeadInner {
    Sm4(Box<Sm4Gcm>),
    Aes(LessSafeKey),
}

impl AeadKey {
    pub(crate) fn new(suite: Suite, key: &[u8]) -> Result<Self, CryptoError> {
        let expected = suite.aead_key_len();
        if key.len() != expected {
            return Err(CryptoError::Length {
                what: "AEAD key",
                expected,
                found: key.len(),
            });
        }
        Ok(Self(match suite {
            Suite::Gm => AeadInner::Sm4(Box::new(Sm4Gcm::new_from_slice(key).map_err(|_| {
                CryptoError::Length {
                    what: "AEAD key",
                    expected,
                    found: key.len(),
                }
            })?)),
            Suite::Intl => AeadInner::Aes(LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Length {
                    what: "AEAD key",
                    expected,
                    found: key.len(),
                })?,
            )),
        }))
    }

    pub fn suite(&self) -> Suite {
        match self.0 {
            AeadInner::Sm4(_) => Suite::Gm,
            AeadInner::Aes(_) => Suite::Intl,
        }
    }

    /// Encrypts under a fresh random nonce: `nonce || ciphertext || tag`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let sealed = self.seal_with_nonce(&nonce, aad, plaintext)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts `nonce || ciphertext || tag` made by [`AeadKey::seal`].
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        self.open_with_nonce(nonce, aad, rest)
    }

    /// Encrypts with a caller-chosen nonce: `ciphertext || tag`. A nonce must
    /// never be used twice with one key; prefer [`AeadKey::seal`].
    pub fn seal_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        match &self.0 {
            AeadInner::Sm4(cipher) => cipher
                .encrypt(
                    nonce.into(),
                    Payload {
                        msg: plaintext,
                        aad,
                    },
                )
                .map_err(|_| CryptoError::Length {
                    what: "plaintext",
                    expected: 1 << 36,
                    found: plaintext.len(),
                }),
            AeadInner::Aes(key) => {
                let mut buf = plaintext.to_vec();
                key.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(*nonce),
                    Aad::from(aad),
                    &mut buf,
                )
                .map_err(|_| CryptoError::Length {
                    what: "plaintext",
                    expected: 1 << 36,
                    found: plaintext.len(),
                })?;
                Ok(buf)
            }
        }
    }

    /// Decrypts `ciphertext || tag` under `nonce`.
    pub fn open_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if ciphertext.len() < TAG_LEN {
            return Err(CryptoError::Decrypt);
        }
        match &self.0 {
            AeadInner::Sm4(cipher) => cipher
                .decrypt(
                    nonce.into(),
                    Payload {
                        msg: ciphertext,
                        aad,
                    },
                )
                .map_err(|_| CryptoError::Decrypt),
            AeadInner::Aes(key) => {
                let mut buf = ciphertext.to_vec();
                let len = key
                    .open_in_place(
                        Nonce::assume_unique_for_key(*nonce),
                        Aad::from(aad),
                        &mut buf,
                    )
                    .map_err(|_| CryptoError::Decrypt)?
                    .len();
                buf.truncate(len);
                Ok(buf)
            }
        }
    }
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AeadKey")
            .field("suite", &self.suite())
            .finish_non_exhaustive()
    }
}
