//! The GM suite (商用密码): SM2 signatures, SM3 hash/HMAC/HKDF, SM4-GCM.

use std::sync::OnceLock;

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U12;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sm2::dsa::signature::RandomizedSigner;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm3::{Digest, Sm3};

use super::{CryptoError, DIGEST_LEN};

/// GM/T 0009-2012 default distinguishing identifier for SM2 signatures.
pub(crate) const DEFAULT_DISTID: &str = "1234567812345678";
pub(crate) const AEAD_KEY_LEN: usize = 16;

/// SM4 in GCM mode (RFC 8998 `TLS_SM4_GCM_SM3`): 12-byte nonce, 16-byte tag.
pub(crate) type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

pub(crate) fn hash(data: &[u8]) -> [u8; DIGEST_LEN] {
    Sm3::digest(data).into()
}

fn hmac(key: &[u8]) -> Hmac<Sm3> {
    // HMAC accepts keys of any length (RFC 2104 hashes long keys), so this cannot fail.
    <Hmac<Sm3> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

pub(crate) fn mac(key: &[u8], data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut mac = hmac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub(crate) fn verify_mac(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let mut mac = hmac(key);
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

pub(crate) fn hkdf(
    ikm: &[u8],
    salt: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    Hkdf::<Sm3>::new(Some(salt), ikm)
        .expand(info, out)
        .map_err(|_| CryptoError::KdfLength {
            requested: out.len(),
        })
}

/// An SM2 private key. `sm2::dsa::SigningKey` keeps its scalar without wiping
/// it on drop, so the key lives in a box that is overwritten with a fixed
/// public placeholder key when dropped (see `Drop` below).
#[derive(Clone)]
pub(crate) struct Sm2SigningKey(Box<sm2::dsa::SigningKey>);

impl Sm2SigningKey {
    pub(crate) fn generate() -> Result<Self, CryptoError> {
        let secret = random_secret_key()?;
        Self::from_secret(&secret)
    }

    pub(crate) fn from_secret(secret: &sm2::SecretKey) -> Result<Self, CryptoError> {
        sm2::dsa::SigningKey::new(DEFAULT_DISTID, secret)
            .map(|k| Self(Box::new(k)))
            .map_err(|_| CryptoError::KeyEncoding {
                expected: "SM2 private key",
            })
    }

    pub(crate) fn secret_key(&self) -> sm2::SecretKey {
        sm2::SecretKey::from(self.0.as_nonzero_scalar())
    }

    pub(crate) fn verifying_key(&self) -> Sm2VerifyingKey {
        Sm2VerifyingKey(self.0.verifying_key().clone())
    }

    /// Signs with a nonce from RFC 6979 hedged with fresh system randomness.
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut rng = getrandom::SysRng;
        let sig: sm2::dsa::Signature = self
            .0
            .try_sign_with_rng(&mut rng, msg)
            .map_err(|_| CryptoError::Signing)?;
        Ok(sig.to_der().to_vec())
    }
}

impl Drop for Sm2SigningKey {
    fn drop(&mut self) {
        // Overwrite the boxed key in place with the placeholder (private scalar 1),
        // and keep the store from being optimised away before the box is freed.
        *self.0 = placeholder_key().clone();
        std::hint::black_box(&*self.0);
    }
}

fn placeholder_key() -> &'static sm2::dsa::SigningKey {
    static PLACEHOLDER: OnceLock<sm2::dsa::SigningKey> = OnceLock::new();
    PLACEHOLDER.get_or_init(|| {
        let one = sm2::NonZeroScalar::new(sm2::Scalar::ONE)
            .into_option()
            .unwrap_or_else(|| unreachable!("1 is a non-zero scalar"));
        sm2::dsa::SigningKey::from_nonzero_scalar(DEFAULT_DISTID, one)
            .unwrap_or_else(|_| unreachable!("the placeholder key is valid"))
    })
}

fn random_secret_key() -> Result<sm2::SecretKey, CryptoError> {
    // A uniformly random 32-byte string is a valid scalar except with
    // probability ~2^-32 (zero or ≥ n); retry in that case.
    for _ in 0..16 {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        super::random_bytes(bytes.as_mut())?;
        if let Ok(secret) = sm2::SecretKey::from_slice(bytes.as_ref()) {
            return Ok(secret);
        }
    }
    Err(CryptoError::Randomness)
}

/// An SM2 public key with its precomputed user hash Z_A (default ID).
#[derive(Clone, Debug)]
pub(crate) struct Sm2VerifyingKey(sm2::dsa::VerifyingKey);

impl Sm2VerifyingKey {
    pub(crate) fn from_sec1(point: &[u8]) -> Result<Self, CryptoError> {
        sm2::dsa::VerifyingKey::from_sec1_bytes(DEFAULT_DISTID, point)
            .map(Self)
            .map_err(|_| CryptoError::KeyEncoding {
                expected: "SM2 public key point",
            })
    }

    /// The uncompressed SEC1 point (65 bytes).
    pub(crate) fn sec1_uncompressed(&self) -> Vec<u8> {
        self.0.as_affine().to_sec1_point(false).as_bytes().to_vec()
    }

    pub(crate) fn verify(&self, msg: &[u8], sig_der: &[u8]) -> Result<(), CryptoError> {
        use sm2::dsa::signature::Verifier;
        let sig =
            sm2::dsa::Signature::from_der(sig_der).map_err(|_| CryptoError::SignatureEncoding)?;
        self.0
            .verify(msg, &sig)
            .map_err(|_| CryptoError::BadSignature)
    }
}

impl PartialEq for Sm2VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_affine() == other.0.as_affine()
    }
}

impl Eq for Sm2VerifyingKey {}
