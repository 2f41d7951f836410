//! The network ID credential (网证): issuance, presentation as a QR code, and
//! verification. The format is specified in `docs/formats.md` ("Network ID
//! credential"); this module is its reference implementation.
//!
//! - [`Issuer::issue`] turns enrolment data into a [`HolderCredential`] bound to
//!   a device key: an issuer-signed COSE_Sign1 (the *MSO*) over the root of a
//!   16-slot tree of salted claim digests, the device key, validity and a
//!   status-list index.
//! - [`HolderCredential::present`] discloses only the requested claims (with
//!   the tree proof), proves age statements for any N by hash chains, adds the
//!   relying party's pairwise identifier, and signs a fresh transcript with the
//!   device key. The result is QR-alphanumeric text: `YW1:` + Base45(CBOR).
//! - [`verify`] checks all of it against trusted issuer keys, the expected
//!   audience and nonce, the clock, and a signed [`StatusList`].

mod age;
pub mod base45;
mod cbor;
mod error;
mod issuer;
mod licence;
mod merkle;
mod presentation;
mod status;
mod trust;
mod verify;

pub use error::CredentialError;
pub use issuer::{Enrolment, HolderCredential, Issuer};
pub use licence::{HolderCode, Licence, MAX_REASON_CHARS};
pub use presentation::{DerivedRequest, PresentationRequest};
pub use status::{StatusList, VerifiedStatusList};
pub use trust::{
    ATTESTATION_MAX_AGE_SECS, Authority, TrustList, TrustedKey, VerifiedAttestation,
    verify_attestation, verify_trusted,
};
pub use verify::{DerivedClaim, VerificationPolicy, VerifiedPresentation, verify};

use std::fmt;

use coset::{TaggedCborSerializable, iana};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::crypto::{Suite, VerifyingKey};
pub use crate::scan::PRESENTATION_PREFIX;

/// Format version carried in the MSO and in presentations.
pub const FORMAT_VERSION: u64 = 1;
/// Default credential validity (about six months).
pub const DEFAULT_VALIDITY_SECS: i64 = 180 * 24 * 3600;
/// Default presentation validity: the QR code refreshes every 60 s.
pub const DEFAULT_PRESENTATION_SECS: u32 = 60;
/// COSE algorithm for SM2 with SM3 and the default ID. SM2 has no IANA COSE
/// registration; this is a value from the private-use range (< -65536).
pub const COSE_ALG_SM2_SM3: i64 = -65_540;

/// What a signed document is: the network ID credential or an e-licence.
/// Both use the same tree, signatures and presentation; the slots differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    /// 网证.
    #[default]
    NetworkId,
    /// 电子证照 (GB/T 36903 core metadata).
    Licence,
}

impl DocType {
    pub fn code(self) -> u64 {
        match self {
            DocType::NetworkId => 0,
            DocType::Licence => 1,
        }
    }

    pub fn from_code(code: u64) -> Option<Self> {
        [DocType::NetworkId, DocType::Licence]
            .into_iter()
            .find(|d| d.code() == code)
    }

    /// The claims of this document type.
    pub fn claims(self) -> &'static [Claim] {
        match self {
            DocType::NetworkId => &Claim::NETWORK_ID,
            DocType::Licence => &Claim::LICENCE,
        }
    }

    /// The slot committing to the holder's pairwise key (never disclosed).
    pub(crate) fn pairwise_slot(self) -> u8 {
        match self {
            DocType::NetworkId => 11,
            DocType::Licence => 15,
        }
    }
}

/// A claim the issuer attests, of one [`DocType`]. The slot is its position in
/// that document's claim tree; for the 网证, slots 2 and 3 hold the age chains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Claim {
    /// Masked name, e.g. `张*`.
    NameMasked,
    /// Masked ID number, e.g. `1101**********002X`.
    IdNumberMasked,
    /// The 网号: letters and digits, no identity in it.
    NetworkId,
    Name,
    IdNumber,
    /// `YYYY-MM-DD`
    BirthDate,
    /// `male` or `female`
    Sex,
    /// GB/T 2260 code of the address in the ID number.
    Region,
    /// The suite hash of the enrolment photo.
    PhotoDigest,
    /// 证照名称
    LicenceName,
    /// 证照类型代码 (21 characters)
    TypeCode,
    /// 证照编号
    Number,
    /// 证照标识 (GB/T 36904)
    Identifier,
    /// 颁发机构
    IssuerName,
    /// 颁发机构代码 (USCC)
    IssuerCode,
    /// 颁发日期 `YYYY-MM-DD`
    IssueDate,
    /// 持证主体
    HolderName,
    /// 持证主体代码
    HolderCode,
    /// 持证主体代码类型: `111` citizen ID number, `001` USCC
    HolderCodeType,
    /// 有效期起始 `YYYY-MM-DD`
    ValidFrom,
    /// 有效期截止 `YYYY-MM-DD`, or `长期` (no end)
    ValidUntil,
    /// 证照所属管辖属地编码 (GB/T 2260)
    Jurisdiction,
    /// 持证主体, masked
    HolderNameMasked,
    /// 持证主体代码, masked
    HolderCodeMasked,
}

pub(crate) const SLOT_AGE_OLDER: u8 = 2;
pub(crate) const SLOT_AGE_YOUNGER: u8 = 3;

impl Claim {
    /// The 网证's claims.
    pub const NETWORK_ID: [Claim; 9] = [
        Claim::NameMasked,
        Claim::IdNumberMasked,
        Claim::NetworkId,
        Claim::Name,
        Claim::IdNumber,
        Claim::BirthDate,
        Claim::Sex,
        Claim::Region,
        Claim::PhotoDigest,
    ];

    /// An e-licence's claims (GB/T 36903 core metadata, plus masked holder).
    pub const LICENCE: [Claim; 15] = [
        Claim::LicenceName,
        Claim::TypeCode,
        Claim::Number,
        Claim::Identifier,
        Claim::IssuerName,
        Claim::IssuerCode,
        Claim::IssueDate,
        Claim::HolderName,
        Claim::HolderCode,
        Claim::HolderCodeType,
        Claim::ValidFrom,
        Claim::ValidUntil,
        Claim::Jurisdiction,
        Claim::HolderNameMasked,
        Claim::HolderCodeMasked,
    ];

    pub fn doctype(self) -> DocType {
        if Claim::NETWORK_ID.contains(&self) {
            DocType::NetworkId
        } else {
            DocType::Licence
        }
    }

    /// Position in its document's claim tree. For the 网证, the claims a
    /// service window asks for most (masked name, masked ID number, the age
    /// chain) share the first leaves, so their proof is short; for a licence,
    /// the name, type, number and identifier do.
    pub fn slot(self) -> u8 {
        match self {
            Claim::NameMasked => 0,
            Claim::IdNumberMasked => 1,
            Claim::NetworkId => 4,
            Claim::Name => 5,
            Claim::IdNumber => 6,
            Claim::BirthDate => 7,
            Claim::Sex => 8,
            Claim::Region => 9,
            Claim::PhotoDigest => 10,
            Claim::LicenceName => 0,
            Claim::TypeCode => 1,
            Claim::Number => 2,
            Claim::Identifier => 3,
            Claim::IssuerName => 4,
            Claim::IssuerCode => 5,
            Claim::IssueDate => 6,
            Claim::HolderName => 7,
            Claim::HolderCode => 8,
            Claim::HolderCodeType => 9,
            Claim::ValidFrom => 10,
            Claim::ValidUntil => 11,
            Claim::Jurisdiction => 12,
            Claim::HolderNameMasked => 13,
            Claim::HolderCodeMasked => 14,
        }
    }

    pub fn from_slot(doctype: DocType, slot: u8) -> Option<Claim> {
        doctype.claims().iter().copied().find(|c| c.slot() == slot)
    }

    pub fn name(self) -> &'static str {
        match self {
            Claim::NameMasked => "name_masked",
            Claim::IdNumberMasked => "id_number_masked",
            Claim::NetworkId => "network_id",
            Claim::Name => "name",
            Claim::IdNumber => "id_number",
            Claim::BirthDate => "birth_date",
            Claim::Sex => "sex",
            Claim::Region => "region",
            Claim::PhotoDigest => "photo_digest",
            Claim::LicenceName => "licence_name",
            Claim::TypeCode => "type_code",
            Claim::Number => "number",
            Claim::Identifier => "identifier",
            Claim::IssuerName => "issuer_name",
            Claim::IssuerCode => "issuer_code",
            Claim::IssueDate => "issue_date",
            Claim::HolderName => "holder_name",
            Claim::HolderCode => "holder_code",
            Claim::HolderCodeType => "holder_code_type",
            Claim::ValidFrom => "valid_from",
            Claim::ValidUntil => "valid_until",
            Claim::Jurisdiction => "jurisdiction",
            Claim::HolderNameMasked => "holder_name_masked",
            Claim::HolderCodeMasked => "holder_code_masked",
        }
    }

    pub fn from_name(name: &str) -> Option<Claim> {
        [DocType::NetworkId, DocType::Licence]
            .into_iter()
            .flat_map(|d| d.claims().iter().copied())
            .find(|c| c.name() == name)
    }

    /// Whether the value is bytes (the photo digest) rather than text.
    fn is_bytes(self) -> bool {
        self == Claim::PhotoDigest
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A claim's value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClaimValue {
    Text(String),
    Bytes(#[serde(with = "hex_bytes")] Vec<u8>),
}

impl ClaimValue {
    fn as_hash_input(&self) -> &[u8] {
        match self {
            ClaimValue::Text(t) => t.as_bytes(),
            ClaimValue::Bytes(b) => b,
        }
    }

    fn to_cbor(&self) -> ciborium::Value {
        match self {
            ClaimValue::Text(t) => ciborium::Value::Text(t.clone()),
            ClaimValue::Bytes(b) => ciborium::Value::Bytes(b.clone()),
        }
    }

    fn from_cbor(claim: Claim, value: ciborium::Value) -> Result<Self, CredentialError> {
        match (claim.is_bytes(), value) {
            (false, ciborium::Value::Text(t)) if t.len() <= 256 => Ok(ClaimValue::Text(t)),
            (true, ciborium::Value::Bytes(b)) if b.len() <= 64 => Ok(ClaimValue::Bytes(b)),
            _ => Err(CredentialError::Malformed("claim value")),
        }
    }
}

/// Claim values are personal data: `Debug` shows only their kind and length.
impl fmt::Debug for ClaimValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimValue::Text(t) => write!(f, "Text({} chars)", t.chars().count()),
            ClaimValue::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        if s.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd-length hex"));
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<_, _>>()
            .map_err(serde::de::Error::custom)
    }
}

/// How the holder unlocked the device key for this presentation. The platform
/// checks the PIN or biometric before it lets the key sign; the mode is inside
/// the device-signed transcript, so a verifier cannot change it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssuranceMode {
    /// 网证 only.
    #[default]
    #[serde(rename = "netid")]
    Credential,
    /// 网证 + 口令.
    #[serde(rename = "pin")]
    Pin,
    /// 网证 + 人脸/生物特征.
    #[serde(rename = "biometric")]
    Biometric,
    /// 网证 + 口令 + 人脸.
    #[serde(rename = "pin+biometric")]
    PinAndBiometric,
}

impl AssuranceMode {
    pub fn code(self) -> u64 {
        self as u64
    }

    pub fn from_code(code: u64) -> Option<Self> {
        [
            Self::Credential,
            Self::Pin,
            Self::Biometric,
            Self::PinAndBiometric,
        ]
        .into_iter()
        .find(|m| m.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Credential => "netid",
            Self::Pin => "pin",
            Self::Biometric => "biometric",
            Self::PinAndBiometric => "pin+biometric",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Credential,
            Self::Pin,
            Self::Biometric,
            Self::PinAndBiometric,
        ]
        .into_iter()
        .find(|m| m.name() == name)
    }
}

/// The issuer-signed part: what the issuer's COSE_Sign1 carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mso {
    pub doctype: DocType,
    pub suite: Suite,
    pub root: merkle::Hash16,
    pub device_key: VerifyingKey,
    pub not_before: i64,
    pub expires: i64,
    pub status_index: u32,
}

fn suite_code(suite: Suite) -> u64 {
    match suite {
        Suite::Gm => 0,
        Suite::Intl => 1,
    }
}

fn suite_from_code(code: u64) -> Option<Suite> {
    match code {
        0 => Some(Suite::Gm),
        1 => Some(Suite::Intl),
        _ => None,
    }
}

impl Mso {
    fn to_cbor(&self) -> Vec<u8> {
        use ciborium::Value;
        cbor::encode(&Value::Array(vec![
            cbor::uint(FORMAT_VERSION),
            cbor::uint(self.doctype.code()),
            cbor::uint(suite_code(self.suite)),
            Value::Bytes(self.root.to_vec()),
            Value::Bytes(self.device_key.to_sec1_compressed()),
            cbor::uint(suite_code(self.device_key.suite())),
            cbor::uint(self.not_before.max(0) as u64),
            cbor::uint(self.expires.max(0) as u64),
            cbor::uint(self.status_index),
        ]))
    }

    fn from_cbor(bytes: &[u8]) -> Result<Self, CredentialError> {
        let what = "issuer-signed data";
        let mut items = cbor::Items::new(cbor::decode(bytes, what)?, what)?;
        if items.uint()? != FORMAT_VERSION {
            return Err(CredentialError::Malformed("format version"));
        }
        let doctype =
            DocType::from_code(items.uint()?).ok_or(CredentialError::Malformed("document type"))?;
        let suite = suite_from_code(items.uint()?).ok_or(CredentialError::Malformed(what))?;
        let root = items.fixed::<16>()?;
        let device_point = items.bytes()?;
        let device_suite =
            suite_from_code(items.uint()?).ok_or(CredentialError::Malformed(what))?;
        let device_key = VerifyingKey::from_sec1(device_suite, &device_point)
            .map_err(|_| CredentialError::Malformed("device key"))?;
        let not_before =
            i64::try_from(items.uint()?).map_err(|_| CredentialError::Malformed(what))?;
        let expires = i64::try_from(items.uint()?).map_err(|_| CredentialError::Malformed(what))?;
        let status_index =
            u32::try_from(items.uint()?).map_err(|_| CredentialError::Malformed(what))?;
        items.end()?;
        Ok(Self {
            doctype,
            suite,
            root,
            device_key,
            not_before,
            expires,
            status_index,
        })
    }

    /// The issuance day: the top of the older age chain.
    fn issuance_day(&self) -> Result<Date, CredentialError> {
        china_date(self.not_before).ok_or(CredentialError::Malformed("validity"))
    }
}

/// The calendar date in China Standard Time (UTC+8) of a Unix time.
pub fn china_date(unix: i64) -> Option<Date> {
    let offset = UtcOffset::from_hms(8, 0, 0).ok()?;
    Some(
        OffsetDateTime::from_unix_timestamp(unix)
            .ok()?
            .to_offset(offset)
            .date(),
    )
}

fn cose_algorithm(suite: Suite) -> coset::Algorithm {
    match suite {
        Suite::Gm => coset::Algorithm::PrivateUse(COSE_ALG_SM2_SM3),
        Suite::Intl => coset::Algorithm::Assigned(iana::Algorithm::ES256),
    }
}

fn protected_header(suite: Suite) -> coset::ProtectedHeader {
    let header = coset::Header {
        alg: Some(cose_algorithm(suite)),
        ..Default::default()
    };
    coset::ProtectedHeader {
        original_data: None,
        header,
    }
}

/// COSE_Sign1 (tagged) over `payload`, signed through `sign` (a DER signer).
fn cose_sign1(
    suite: Suite,
    kid: &[u8],
    payload: Vec<u8>,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, CredentialError>,
) -> Result<Vec<u8>, CredentialError> {
    let unprotected = coset::HeaderBuilder::new().key_id(kid.to_vec()).build();
    let sign1 = coset::CoseSign1Builder::new()
        .protected(protected_header(suite).header)
        .unprotected(unprotected)
        .payload(payload)
        .try_create_signature(b"", |tbs| -> Result<Vec<u8>, CredentialError> {
            Ok(crate::crypto::signature_der_to_raw(&sign(tbs)?)?.to_vec())
        })?
        .build();
    sign1
        .to_tagged_vec()
        .map_err(|_| CredentialError::Malformed("COSE_Sign1"))
}

/// A parsed COSE_Sign1: the signer's key id and algorithm, not yet verified.
struct Sign1 {
    inner: coset::CoseSign1,
    kid: Vec<u8>,
    suite: Suite,
}

impl Sign1 {
    fn parse(bytes: &[u8], what: &'static str) -> Result<Self, CredentialError> {
        let inner = coset::CoseSign1::from_tagged_slice(bytes)
            .map_err(|_| CredentialError::Malformed(what))?;
        let suite = match &inner.protected.header.alg {
            Some(coset::Algorithm::Assigned(iana::Algorithm::ES256)) => Suite::Intl,
            Some(coset::Algorithm::PrivateUse(COSE_ALG_SM2_SM3)) => Suite::Gm,
            _ => return Err(CredentialError::Malformed(what)),
        };
        let kid = inner.unprotected.key_id.clone();
        Ok(Self { inner, kid, suite })
    }

    fn payload(&self) -> &[u8] {
        self.inner.payload.as_deref().unwrap_or_default()
    }

    /// Verifies under `key` (whose suite must match the algorithm).
    fn verify(&self, key: &VerifyingKey) -> bool {
        key.suite() == self.suite
            && self
                .inner
                .verify_signature(b"", |sig, tbs| -> Result<(), CredentialError> {
                    let raw: &[u8; 64] = sig
                        .try_into()
                        .map_err(|_| CredentialError::BadIssuerSignature)?;
                    key.verify(tbs, &crate::crypto::signature_raw_to_der(raw))
                        .map_err(|_| CredentialError::BadIssuerSignature)
                })
                .is_ok()
    }
}

/// The bytes a device signs for a presentation: the Sig_structure of a
/// COSE_Sign1 with protected header `{1: alg}`, no external AAD, and the
/// transcript as its (detached) payload.
fn device_tbs(device_suite: Suite, transcript: &[u8]) -> Vec<u8> {
    coset::sig_structure_data(
        coset::SignatureContext::CoseSign1,
        protected_header(device_suite),
        None,
        b"",
        transcript,
    )
}

fn trusted_key<'a>(issuers: &'a [VerifyingKey], kid: &[u8]) -> Option<&'a VerifyingKey> {
    issuers.iter().find(|k| k.key_id().as_slice() == kid)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn claim_names_and_slots_round_trip() {
        for claim in Claim::NETWORK_ID.into_iter().chain(Claim::LICENCE) {
            let doctype = claim.doctype();
            assert_eq!(Claim::from_name(claim.name()), Some(claim));
            assert_eq!(Claim::from_slot(doctype, claim.slot()), Some(claim));
            assert_ne!(claim.slot(), doctype.pairwise_slot());
            if doctype == DocType::NetworkId {
                assert!(![SLOT_AGE_OLDER, SLOT_AGE_YOUNGER].contains(&claim.slot()));
            }
            let json = serde_json::to_string(&claim).unwrap();
            assert_eq!(json, format!("\"{}\"", claim.name()));
        }
        for mode in ["netid", "pin", "biometric", "pin+biometric"] {
            let m = AssuranceMode::from_name(mode).unwrap();
            assert_eq!(AssuranceMode::from_code(m.code()), Some(m));
        }
    }

    #[test]
    fn china_dates() {
        // 2026-11-22T18:30:00Z is already 23 November in Beijing.
        assert_eq!(china_date(1_795_372_200).unwrap().to_string(), "2026-11-23");
    }

    #[test]
    fn claim_values_hide_personal_data_in_debug() {
        let v = ClaimValue::Text("张三".into());
        assert_eq!(format!("{v:?}"), "Text(2 chars)");
    }
}
