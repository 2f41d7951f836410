//! Signing and verifying keys of both suites, and their standard encodings:
//! PKCS#8 (RFC 5208/5958) for private keys, SubjectPublicKeyInfo (RFC 5480)
//! for public keys, PEM (RFC 7468) around both, DER `(r, s)` for signatures.
//! Both curves use `id-ecPublicKey` with the curve named in the parameters,
//! exactly as OpenSSL 3 writes them, so the files interoperate.

use std::fmt;

use pem_rfc7468::LineEnding;
use sm2::pkcs8::{DecodePrivateKey, EncodePrivateKey, PrivateKeyInfoRef};
use spki::der::asn1::{BitStringRef, ObjectIdentifier};
use spki::der::{AnyRef, Decode, Encode};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use super::gm::{Sm2SigningKey, Sm2VerifyingKey};
use super::intl::{P256SigningKey, P256VerifyingKey};
use super::{CryptoError, Suite};

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const CURVE_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const CURVE_SM2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");

const PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

fn curve_oid(suite: Suite) -> ObjectIdentifier {
    match suite {
        Suite::Gm => CURVE_SM2,
        Suite::Intl => CURVE_P256,
    }
}

/// Which suite an `AlgorithmIdentifier` names, if any of ours.
fn suite_of(algorithm: &AlgorithmIdentifierRef<'_>) -> Result<Suite, CryptoError> {
    if algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(CryptoError::UnsupportedAlgorithm);
    }
    match algorithm.parameters_oid() {
        Ok(oid) if oid == CURVE_SM2 => Ok(Suite::Gm),
        Ok(oid) if oid == CURVE_P256 => Ok(Suite::Intl),
        _ => Err(CryptoError::UnsupportedAlgorithm),
    }
}

fn pem_decode(
    pem: &str,
    label: &'static str,
    expected: &'static str,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (found, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
        .map_err(|_| CryptoError::KeyEncoding { expected })?;
    let der = Zeroizing::new(der);
    if found != label {
        return Err(CryptoError::KeyEncoding { expected });
    }
    Ok(der)
}

fn pem_encode(label: &'static str, der: &[u8]) -> Zeroizing<String> {
    // Encoding to PEM cannot fail for a label of printable ASCII and any bytes.
    Zeroizing::new(
        pem_rfc7468::encode_string(label, LineEnding::LF, der)
            .unwrap_or_else(|_| unreachable!("PEM encoding of a fixed label")),
    )
}

/// A private signing key of either suite. Key material is wiped on drop;
/// `Debug` shows only the suite.
#[derive(Clone)]
pub struct SigningKey(SigningInner);

#[derive(Clone)]
enum SigningInner {
    Gm(Sm2SigningKey),
    Intl(P256SigningKey),
}

impl SigningKey {
    /// A new random key for `suite`.
    pub fn generate(suite: Suite) -> Result<Self, CryptoError> {
        Ok(Self(match suite {
            Suite::Gm => SigningInner::Gm(Sm2SigningKey::generate()?),
            Suite::Intl => SigningInner::Intl(P256SigningKey::generate()?),
        }))
    }

    /// Reads a PKCS#8 DER private key; the curve decides the suite.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        const EXPECTED: &str = "PKCS#8 private key";
        let info = PrivateKeyInfoRef::from_der(der)
            .map_err(|_| CryptoError::KeyEncoding { expected: EXPECTED })?;
        match suite_of(&info.algorithm)? {
            Suite::Gm => {
                let secret = sm2::SecretKey::from_pkcs8_der(der)
                    .map_err(|_| CryptoError::KeyEncoding { expected: EXPECTED })?;
                Ok(Self(SigningInner::Gm(Sm2SigningKey::from_secret(&secret)?)))
            }
            Suite::Intl => Ok(Self(SigningInner::Intl(P256SigningKey::from_pkcs8(der)?))),
        }
    }

    /// Reads a `-----BEGIN PRIVATE KEY-----` PEM (PKCS#8).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CryptoError> {
        let der = pem_decode(pem, PRIVATE_KEY_LABEL, "PKCS#8 `PRIVATE KEY` PEM")?;
        Self::from_pkcs8_der(&der)
    }

    /// The PKCS#8 DER encoding (wiped when dropped).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match &self.0 {
            SigningInner::Gm(key) => key
                .secret_key()
                .to_pkcs8_der()
                .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
                .map_err(|_| CryptoError::KeyEncoding {
                    expected: "PKCS#8 private key",
                }),
            SigningInner::Intl(key) => Ok(Zeroizing::new(key.pkcs8_der().to_vec())),
        }
    }

    /// The PKCS#8 PEM encoding (wiped when dropped).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, CryptoError> {
        Ok(pem_encode(PRIVATE_KEY_LABEL, &self.to_pkcs8_der()?))
    }

    pub fn suite(&self) -> Suite {
        match self.0 {
            SigningInner::Gm(_) => Suite::Gm,
            SigningInner::Intl(_) => Suite::Intl,
        }
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey, CryptoError> {
        Ok(VerifyingKey(match &self.0 {
            SigningInner::Gm(key) => VerifyingInner::Gm(key.verifying_key()),
            SigningInner::Intl(key) => VerifyingInner::Intl(key.verifying_key()?),
        }))
    }

    /// Signs `msg`: SM2 (default ID, SM3) or ECDSA P-256/SHA-256. Returns the DER signature.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.0 {
            SigningInner::Gm(key) => key.sign(msg),
            SigningInner::Intl(key) => key.sign(msg),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("suite", &self.suite())
            .finish_non_exhaustive()
    }
}

/// A public key of either suite, parsed once for repeated verification.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey(VerifyingInner);

#[derive(Clone, PartialEq, Eq)]
enum VerifyingInner {
    Gm(Sm2VerifyingKey),
    Intl(P256VerifyingKey),
}

impl VerifyingKey {
    /// From a SEC1 point of the suite's curve, uncompressed (`04 || x || y`)
    /// or compressed (`02`/`03 || x`).
    pub fn from_sec1(suite: Suite, point: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self(match suite {
            Suite::Gm => VerifyingInner::Gm(Sm2VerifyingKey::from_sec1(point)?),
            Suite::Intl => VerifyingInner::Intl(P256VerifyingKey::from_sec1(point)?),
        }))
    }

    /// Reads a SubjectPublicKeyInfo DER; the curve decides the suite.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        let expected = "SubjectPublicKeyInfo public key";
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|_| CryptoError::KeyEncoding { expected })?;
        let suite = suite_of(&spki.algorithm)?;
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or(CryptoError::KeyEncoding { expected })?;
        Self::from_sec1(suite, point)
    }

    /// Reads a `-----BEGIN PUBLIC KEY-----` PEM.
    pub fn from_spki_pem(pem: &str) -> Result<Self, CryptoError> {
        let der = pem_decode(
            pem,
            PUBLIC_KEY_LABEL,
            "SubjectPublicKeyInfo `PUBLIC KEY` PEM",
        )?;
        Self::from_spki_der(&der)
    }

    pub fn to_spki_der(&self) -> Vec<u8> {
        let point = self.to_sec1_uncompressed();
        let curve = curve_oid(self.suite());
        let spki = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: ID_EC_PUBLIC_KEY,
                parameters: Some(AnyRef::from(&curve)),
            },
            subject_public_key: BitStringRef::from_bytes(&point)
                .unwrap_or_else(|_| unreachable!("a 65-byte point fits a BIT STRING")),
        };
        spki.to_der()
            .unwrap_or_else(|_| unreachable!("encoding a well-formed SPKI"))
    }

    pub fn to_spki_pem(&self) -> String {
        pem_encode(PUBLIC_KEY_LABEL, &self.to_spki_der()).to_string()
    }

    /// The compressed SEC1 point, 33 bytes (`02`/`03` by the parity of y, then x).
    pub fn to_sec1_compressed(&self) -> Vec<u8> {
        let point = self.to_sec1_uncompressed();
        let mut out = Vec::with_capacity(33);
        out.push(0x02 | (point[64] & 1));
        out.extend_from_slice(&point[1..33]);
        out
    }

    /// A short identifier of this key: the first 8 bytes of the suite's hash
    /// of its SubjectPublicKeyInfo DER. Used as the COSE `kid`.
    pub fn key_id(&self) -> [u8; 8] {
        let digest = self.suite().hash(&self.to_spki_der());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        id
    }

    /// The uncompressed SEC1 point, 65 bytes.
    pub fn to_sec1_uncompressed(&self) -> Vec<u8> {
        match &self.0 {
            VerifyingInner::Gm(key) => key.sec1_uncompressed(),
            VerifyingInner::Intl(key) => key.sec1_uncompressed(),
        }
    }

    pub fn suite(&self) -> Suite {
        match self.0 {
            VerifyingInner::Gm(_) => Suite::Gm,
            VerifyingInner::Intl(_) => Suite::Intl,
        }
    }

    /// Checks a DER signature over `msg`.
    pub fn verify(&self, msg: &[u8], signature_der: &[u8]) -> Result<(), CryptoError> {
        match &self.0 {
            VerifyingInner::Gm(key) => key.verify(msg, signature_der),
            VerifyingInner::Intl(key) => key.verify(msg, signature_der),
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("suite", &self.suite())
            .field(
                "sec1",
                &format_args!("{}", hex_prefix(&self.to_sec1_uncompressed())),
            )
            .finish()
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    s.push('…');
    s
}

/// Converts a DER `SEQUENCE { INTEGER r, INTEGER s }` signature into the
/// fixed 64-byte `r || s` form COSE uses (RFC 9053 §2.1).
pub fn signature_der_to_raw(der: &[u8]) -> Result<[u8; 64], CryptoError> {
    fn integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let len = usize::from(len);
        if tag != 0x02 || len == 0 || len > 33 || rest.len() < len {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        // Minimal, non-negative encoding only.
        if value[0] & 0x80 != 0 || (len > 1 && value[0] == 0 && value[1] & 0x80 == 0) {
            return None;
        }
        let value = if value[0] == 0 && len > 1 {
            &value[1..]
        } else {
            value
        };
        (value.len() <= 32).then_some((value, rest))
    }
    let parse = || -> Option<[u8; 64]> {
        let (&tag, rest) = der.split_first()?;
        let (&len, body) = rest.split_first()?;
        if tag != 0x30 || usize::from(len) != body.len() {
            return None;
        }
        let (r, rest) = integer(body)?;
        let (s, rest) = integer(rest)?;
        if !rest.is_empty() {
            return None;
        }
        let mut raw = [0u8; 64];
        raw[32 - r.len()..32].copy_from_slice(r);
        raw[64 - s.len()..].copy_from_slice(s);
        Some(raw)
    };
    parse().ok_or(CryptoError::SignatureEncoding)
}

/// Converts a fixed 64-byte `r || s` signature into DER.
pub fn signature_raw_to_der(raw: &[u8; 64]) -> Vec<u8> {
    fn integer(out: &mut Vec<u8>, value: &[u8]) {
        let start = value
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(value.len() - 1);
        let value = &value[start..];
        let pad = value[0] & 0x80 != 0;
        out.push(0x02);
        out.push((value.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
    }
    let mut body = Vec::with_capacity(70);
    integer(&mut body, &raw[..32]);
    integer(&mut body, &raw[32..]);
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(0x30);
    out.push(body.len() as u8);
    out.extend(body);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_der_signatures_convert_both_ways() {
        for suite in Suite::ALL {
            let key = SigningKey::generate(suite).unwrap();
            for i in 0..20u8 {
                let der = key.sign(&[i]).unwrap();
                let raw = signature_der_to_raw(&der).unwrap();
                assert_eq!(signature_raw_to_der(&raw), der);
            }
        }
        // Leading zeros and high bits.
        let mut raw = [0u8; 64];
        raw[31] = 1;
        raw[32] = 0x80;
        assert_eq!(
            signature_der_to_raw(&signature_raw_to_der(&raw)).unwrap(),
            raw
        );
        let bad: [&[u8]; 4] = [
            &[],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x02, 0x01, 0x80],
            &[0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x01],
        ];
        for bad in bad {
            assert!(signature_der_to_raw(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn compressed_points_round_trip_and_key_ids_differ() {
        for suite in Suite::ALL {
            let key = SigningKey::generate(suite)
                .unwrap()
                .verifying_key()
                .unwrap();
            let compressed = key.to_sec1_compressed();
            assert_eq!(compressed.len(), 33);
            let back = VerifyingKey::from_sec1(suite, &compressed).unwrap();
            assert_eq!(back, key);
            assert_eq!(back.to_sec1_uncompressed(), key.to_sec1_uncompressed());
            let other = SigningKey::generate(suite)
                .unwrap()
                .verifying_key()
                .unwrap();
            assert_ne!(key.key_id(), other.key_id());
        }
    }
}
