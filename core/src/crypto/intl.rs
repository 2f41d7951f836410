//! The international suite on aws-lc-rs: ECDSA P-256/SHA-256, AES-256-GCM,
//! HMAC/HKDF-SHA-256. AWS-LC wipes key memory when it frees it.

use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyUncompressedBin};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, ParsedPublicKey,
};
use aws_lc_rs::{digest, hkdf as lc_hkdf, hmac, rand};
use zeroize::Zeroizing;

use super::{CryptoError, DIGEST_LEN};

pub(crate) const AEAD_KEY_LEN: usize = 32;

pub(crate) fn hash(data: &[u8]) -> [u8; DIGEST_LEN] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(d.as_ref());
    out
}

pub(crate) fn mac(key: &[u8], data: &[u8]) -> [u8; DIGEST_LEN] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(tag.as_ref());
    out
}

pub(crate) fn verify_mac(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), data, tag).is_ok()
}

struct OkmLen(usize);

impl lc_hkdf::KeyType for OkmLen {
    fn len(&self) -> usize {
        self.0
    }
}

pub(crate) fn hkdf(
    ikm: &[u8],
    salt: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let err = || CryptoError::KdfLength {
        requested: out.len(),
    };
    let info = [info];
    let prk = lc_hkdf::Salt::new(lc_hkdf::HKDF_SHA256, salt).extract(ikm);
    let okm = prk.expand(&info, OkmLen(out.len())).map_err(|_| err())?;
    okm.fill(out).map_err(|_| CryptoError::KdfLength {
        requested: out.len(),
    })
}

/// A P-256 private key with its PKCS#8 encoding (kept for export, wiped on drop).
pub(crate) struct P256SigningKey {
    pair: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl P256SigningKey {
    pub(crate) fn generate() -> Result<Self, CryptoError> {
        let doc = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &rand::SystemRandom::new(),
        )
        .map_err(|_| CryptoError::Randomness)?;
        Self::from_pkcs8(doc.as_ref())
    }

    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self, CryptoError> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der).map_err(|_| {
                CryptoError::KeyEncoding {
                    expected: "P-256 PKCS#8 private key",
                }
            })?;
        // Re-encode so that what we export is always a v1 document AWS-LC wrote.
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| CryptoError::KeyEncoding {
            expected: "P-256 PKCS#8 private key",
        })?;
        Ok(Self {
            pair,
            pkcs8: Zeroizing::new(pkcs8.as_ref().to_vec()),
        })
    }

    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    pub(crate) fn verifying_key(&self) -> Result<P256VerifyingKey, CryptoError> {
        let point: EcPublicKeyUncompressedBin<'_> =
            self.pair
                .public_key()
                .as_be_bytes()
                .map_err(|_| CryptoError::KeyEncoding {
                    expected: "P-256 public key",
                })?;
        P256VerifyingKey::from_sec1(point.as_ref())
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.pair
            .sign(&rand::SystemRandom::new(), msg)
            .map(|sig| sig.as_ref().to_vec())
            .map_err(|_| CryptoError::Signing)
    }
}

impl Clone for P256SigningKey {
    fn clone(&self) -> Self {
        // The PKCS#8 document was produced by AWS-LC from a valid key.
        Self::from_pkcs8(&self.pkcs8).unwrap_or_else(|_| unreachable!("re-parsing our own PKCS#8"))
    }
}

/// A parsed P-256 public key (parsed once, verified many times).
#[derive(Clone)]
pub(crate) struct P256VerifyingKey {
    parsed: ParsedPublicKey,
    point: Vec<u8>,
}

impl P256VerifyingKey {
    /// From a SEC1 point, uncompressed (`04 || x || y`) or compressed (`02/03 || x`).
    pub(crate) fn from_sec1(point: &[u8]) -> Result<Self, CryptoError> {
        let err = || CryptoError::KeyEncoding {
            expected: "P-256 public key point",
        };
        let well_formed = matches!(
            (point.len(), point.first()),
            (65, Some(0x04)) | (33, Some(0x02 | 0x03))
        );
        if !well_formed {
            return Err(err());
        }
        let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point).map_err(|_| err())?;
        if point.len() == 65 {
            return Ok(Self {
                parsed,
                point: point.to_vec(),
            });
        }
        // AWS-LC decompressed and checked the point; read the uncompressed form
        // back from its SubjectPublicKeyInfo encoding.
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        use spki::der::Decode;
        let der: PublicKeyX509Der<'static> = parsed.as_der().map_err(|_| err())?;
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der.as_ref()).map_err(|_| err())?;
        let uncompressed = spki.subject_public_key.as_bytes().ok_or_else(err)?.to_vec();
        if uncompressed.len() != 65 {
            return Err(err());
        }
        let parsed =
            ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &uncompressed).map_err(|_| err())?;
        Ok(Self {
            parsed,
            point: uncompressed,
        })
    }

    pub(crate) fn sec1_uncompressed(&self) -> Vec<u8> {
        self.point.clone()
    }

    pub(crate) fn verify(&self, msg: &[u8], sig_der: &[u8]) -> Result<(), CryptoError> {
        if !is_der_ecdsa_signature(sig_der) {
            return Err(CryptoError::SignatureEncoding);
        }
        self.parsed
            .verify_sig(msg, sig_der)
            .map_err(|_| CryptoError::BadSignature)
    }
}

impl PartialEq for P256VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.point == other.point
    }
}

impl Eq for P256VerifyingKey {}

impl std::fmt::Debug for P256VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P256VerifyingKey").finish_non_exhaustive()
    }
}

/// Shape check of `SEQUENCE { INTEGER r, INTEGER s }` so that an encoding error
/// is told apart from a signature that does not verify (AWS-LC reports both alike).
fn is_der_ecdsa_signature(sig: &[u8]) -> bool {
    fn integer(input: &[u8]) -> Option<&[u8]> {
        let (&tag, rest) = input.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let len = usize::from(len);
        if tag != 0x02 || len == 0 || len > 33 || rest.len() < len {
            return None;
        }
        Some(&rest[len..])
    }
    let Some((&0x30, rest)) = sig.split_first() else {
        return false;
    };
    let Some((&len, body)) = rest.split_first() else {
        return false;
    };
    if usize::from(len) != body.len() {
        return false;
    }
    integer(body)
        .and_then(integer)
        .is_some_and(<[u8]>::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_shape_check() {
        assert!(is_der_ecdsa_signature(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01
        ]));
        assert!(!is_der_ecdsa_signature(&[]));
        assert!(!is_der_ecdsa_signature(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01
        ]));
        assert!(!is_der_ecdsa_signature(&[0x30, 0x03, 0x02, 0x01, 0x01]));
        assert!(!is_der_ecdsa_signature(&[
            0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01
        ]));
    }
}
