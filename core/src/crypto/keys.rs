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
    /// From an uncompressed SEC1 point (`04 || x || y`) of the suite's curve.
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
