//! The trust list (互认共享): which authorities may issue what, with which
//! keys and when, signed by the platform's trust anchor; verification of
//! presentations against it; and licence attestations, the e-licence
//! library's signed answer to a department that uses a licence (用证).
//!
//! - A key is trusted for what it signed inside its validity: a key rotated
//!   out (its `not_after` set) still verifies credentials signed before that
//!   time, and nothing signed after it.
//! - An authority is listed for the 网证 and/or for licence types; a licence
//!   of a type its signer is not listed for, or naming another issuer in its
//!   identifier, is refused.
//!
//! The format (JSON payload of a COSE_Sign1) is in docs/formats.md.

use serde::{Deserialize, Serialize};

use super::licence::RawLicence;
use super::{
    Claim, CredentialError, DocType, Issuer, Licence, Sign1, VerificationPolicy,
    VerifiedPresentation,
};
use crate::crypto::VerifyingKey;
use crate::identity::{LicenceId, Uscc};

const TRUST_VERSION: u64 = 1;
const ATTESTATION_VERSION: u64 = 1;
/// How long a department may take to check an attestation after it was signed.
pub const ATTESTATION_MAX_AGE_SECS: i64 = 300;
/// Clock difference tolerated between the library and a department.
const SKEW_SECS: i64 = 30;

/// One key of an authority, trusted for what it signed in `[not_before, not_after]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    pub key: VerifyingKey,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds; `None` while the key is in service.
    pub not_after: Option<i64>,
    /// The key's COSE `kid`, computed once (a lookup compares many).
    kid: [u8; 8],
}

impl TrustedKey {
    pub fn new(key: VerifyingKey, not_before: i64, not_after: Option<i64>) -> Self {
        let kid = key.key_id();
        Self {
            key,
            not_before,
            not_after,
            kid,
        }
    }

    /// The key's COSE `kid`.
    pub fn kid(&self) -> &[u8; 8] {
        &self.kid
    }

    /// Whether something signed at `signed_at` falls in this key's validity.
    pub fn covers(&self, signed_at: i64) -> bool {
        signed_at >= self.not_before && self.not_after.is_none_or(|end| signed_at <= end)
    }
}

/// An issuing authority on the trust list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authority {
    /// The authority's unified social credit code (`None` only for a 网证
    /// issuer that is not a licence authority).
    pub uscc: Option<Uscc>,
    pub name: String,
    /// GB/T 2260 code of the region it serves.
    pub region: String,
    /// Whether it issues the 网证.
    pub network_id: bool,
    /// The GB/T 36904 licence type codes it may issue.
    pub licence_types: Vec<String>,
    pub keys: Vec<TrustedKey>,
}

/// A verified (or, on the signing side, to-be-signed) trust list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustList {
    /// Unix seconds.
    pub issued_at: i64,
    /// How long after `issued_at` the list may be relied on.
    pub max_age_secs: u32,
    pub authorities: Vec<Authority>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    v: u64,
    issued_at: i64,
    max_age_secs: u32,
    authorities: Vec<RawAuthority>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthority {
    uscc: Option<String>,
    name: String,
    region: String,
    network_id: bool,
    licence_types: Vec<String>,
    keys: Vec<RawKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    kid: String,
    public_key_pem: String,
    not_before: i64,
    not_after: Option<i64>,
}

impl TrustList {
    /// The authority and key with COSE key id `kid`.
    pub fn key(&self, kid: &[u8]) -> Option<(&Authority, &TrustedKey)> {
        self.authorities.iter().find_map(|a| {
            a.keys
                .iter()
                .find(|k| k.kid.as_slice() == kid)
                .map(|k| (a, k))
        })
    }

    /// Every listed key (for [`VerificationPolicy::trusted_issuers`] and
    /// [`super::VerifiedStatusList::verify`]).
    pub fn verifying_keys(&self) -> Vec<VerifyingKey> {
        self.authorities
            .iter()
            .flat_map(|a| a.keys.iter().map(|k| k.key.clone()))
            .collect()
    }

    fn payload(&self) -> Vec<u8> {
        let raw = RawList {
            v: TRUST_VERSION,
            issued_at: self.issued_at,
            max_age_secs: self.max_age_secs,
            authorities: self
                .authorities
                .iter()
                .map(|a| RawAuthority {
                    uscc: a.uscc.as_ref().map(|u| u.as_str().to_owned()),
                    name: a.name.clone(),
                    region: a.region.clone(),
                    network_id: a.network_id,
                    licence_types: a.licence_types.clone(),
                    keys: a
                        .keys
                        .iter()
                        .map(|k| RawKey {
                            kid: super::issuer::hex(&k.kid),
                            public_key_pem: k.key.to_spki_pem(),
                            not_before: k.not_before,
                            not_after: k.not_after,
                        })
                        .collect(),
                })
                .collect(),
        };
        serde_json::to_vec(&raw).unwrap_or_default()
    }

    /// Checks a signed trust list: signed by `anchor`, well formed, and not
    /// older than its maximum age at `now`.
    pub fn verify(token: &[u8], anchor: &VerifyingKey, now: i64) -> Result<Self, CredentialError> {
        let bad = || CredentialError::BadTrustList;
        let sign1 = Sign1::parse(token, "trust list").map_err(|_| bad())?;
        if sign1.kid != anchor.key_id() || !sign1.verify(anchor) {
            return Err(bad());
        }
        let raw: RawList = serde_json::from_slice(sign1.payload()).map_err(|_| bad())?;
        if raw.v != TRUST_VERSION {
            return Err(bad());
        }
        if now > raw.issued_at.saturating_add(i64::from(raw.max_age_secs)) {
            return Err(CredentialError::TrustListTooOld);
        }
        let mut authorities = Vec::with_capacity(raw.authorities.len());
        for a in raw.authorities {
            let uscc = match a.uscc {
                Some(u) => Some(Uscc::parse(&u).map_err(|_| bad())?),
                None => None,
            };
            if a.licence_types.iter().any(|t| !is_type_code(t)) {
                return Err(bad());
            }
            let mut keys = Vec::with_capacity(a.keys.len());
            for k in a.keys {
                let key = VerifyingKey::from_spki_pem(&k.public_key_pem).map_err(|_| bad())?;
                let key = TrustedKey::new(key, k.not_before, k.not_after);
                if super::issuer::hex(&key.kid) != k.kid {
                    return Err(bad());
                }
                keys.push(key);
            }
            authorities.push(Authority {
                uscc,
                name: a.name,
                region: a.region,
                network_id: a.network_id,
                licence_types: a.licence_types,
                keys,
            });
        }
        Ok(Self {
            issued_at: raw.issued_at,
            max_age_secs: raw.max_age_secs,
            authorities,
        })
    }

    /// Which authority signed what `kid` signed at `signed_at`, if the list
    /// allows it: the key is listed and was valid then.
    fn signer(&self, kid: &[u8], signed_at: i64) -> Result<&Authority, CredentialError> {
        let (authority, key) = self.key(kid).ok_or(CredentialError::UnknownIssuer)?;
        if !key.covers(signed_at) {
            return Err(CredentialError::KeyNotValidThen);
        }
        Ok(authority)
    }
}

/// A licence type code: 21 characters of `0-9A-Z`.
fn is_type_code(code: &str) -> bool {
    code.len() == 21
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Whether `authority` may have signed a licence of `type_code` whose
/// identifier (if known) is `identifier`.
fn check_licence(
    authority: &Authority,
    type_code: &str,
    identifier: Option<&LicenceId>,
) -> Result<(), CredentialError> {
    if !authority.licence_types.iter().any(|t| t == type_code) {
        return Err(CredentialError::TypeNotAuthorised);
    }
    if let Some(id) = identifier
        && (id.type_code() != type_code || Some(&id.issuer()) != authority.uscc.as_ref())
    {
        return Err(CredentialError::TypeNotAuthorised);
    }
    Ok(())
}

impl Issuer {
    /// Signs `list` with this (the trust anchor's) key.
    pub fn sign_trust_list(&self, list: &TrustList) -> Result<Vec<u8>, CredentialError> {
        self.sign_cose(list.payload())
    }
}

/// Verifies a presentation (QR text) against a trust list: the signer is
/// listed, its key was valid when the credential was signed, and it is listed
/// for what it signed. A licence presentation must disclose its type code;
/// a disclosed identifier or issuer code must name the signing authority.
/// `policy.trusted_issuers` is not used: the list's keys are.
pub fn verify_trusted(
    text: &str,
    trust: &TrustList,
    policy: &VerificationPolicy,
) -> Result<VerifiedPresentation, CredentialError> {
    let verified =
        super::verify::verify_with(text, policy, |kid| trust.key(kid).map(|(_, k)| &k.key))?;
    let kid = hex_bytes(&verified.issuer_key_id);
    let authority = trust.signer(&kid, verified.credential_not_before)?;
    match verified.doctype {
        DocType::NetworkId if !authority.network_id => Err(CredentialError::TypeNotAuthorised),
        DocType::NetworkId => Ok(verified),
        DocType::Licence => {
            let text = |claim| match verified.claims.get(&claim) {
                Some(super::ClaimValue::Text(t)) => Some(t.as_str()),
                _ => None,
            };
            let type_code = text(Claim::TypeCode).ok_or(CredentialError::InvalidRequest(
                "a licence must disclose its type_code to be checked against the trust list",
            ))?;
            let identifier = match text(Claim::Identifier) {
                Some(id) => Some(
                    LicenceId::parse(id).map_err(|_| CredentialError::Malformed("identifier"))?,
                ),
                None => None,
            };
            check_licence(authority, type_code, identifier.as_ref())?;
            if let Some(code) = text(Claim::IssuerCode)
                && Some(code) != authority.uscc.as_ref().map(Uscc::as_str)
            {
                return Err(CredentialError::TypeNotAuthorised);
            }
            Ok(verified)
        }
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The library's answer to a department using a licence: the licence's
/// metadata and status index, signed by the issuing authority's key for one
/// department (`audience`) and one purpose (`context`, e.g. the receipt number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAttestation {
    pub licence: Licence,
    pub status_index: u32,
    /// The authority that signed it.
    pub authority: Uscc,
    /// Hex key id of the signing key.
    pub key_id: String,
    pub signed_at: i64,
    pub audience: String,
    pub context: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttestation {
    v: u64,
    licence: RawLicence,
    status_index: u32,
    signed_at: i64,
    audience: String,
    context: String,
}

impl Issuer {
    /// Signs an attestation of `licence` for `audience` and `context` at `now`.
    pub fn attest_licence(
        &self,
        licence: &Licence,
        status_index: u32,
        audience: &str,
        context: &str,
        now: i64,
    ) -> Result<Vec<u8>, CredentialError> {
        let raw = RawAttestation {
            v: ATTESTATION_VERSION,
            licence: licence.into(),
            status_index,
            signed_at: now,
            audience: audience.to_owned(),
            context: context.to_owned(),
        };
        let payload = serde_json::to_vec(&raw)
            .map_err(|_| CredentialError::InvalidRequest("licence does not serialise"))?;
        self.sign_cose(payload)
    }
}

/// Checks an attestation: signed by a key on the trust list valid now, by an
/// authority listed for the licence's type and named in its identifier, for
/// this `audience`, at most [`ATTESTATION_MAX_AGE_SECS`] ago.
pub fn verify_attestation(
    token: &[u8],
    trust: &TrustList,
    audience: &str,
    now: i64,
) -> Result<VerifiedAttestation, CredentialError> {
    let what = "licence attestation";
    let sign1 = Sign1::parse(token, what)?;
    let (_, key) = trust
        .key(&sign1.kid)
        .ok_or(CredentialError::UnknownIssuer)?;
    if !sign1.verify(&key.key) {
        return Err(CredentialError::BadIssuerSignature);
    }
    let raw: RawAttestation =
        serde_json::from_slice(sign1.payload()).map_err(|_| CredentialError::Malformed(what))?;
    if raw.v != ATTESTATION_VERSION {
        return Err(CredentialError::Malformed(what));
    }
    let authority = trust.signer(&sign1.kid, raw.signed_at)?;
    let licence = Licence::try_from(raw.licence)?;
    check_licence(
        authority,
        licence.identifier.type_code(),
        Some(&licence.identifier),
    )?;
    if raw.audience != audience {
        return Err(CredentialError::WrongAudience);
    }
    if raw.signed_at > now.saturating_add(SKEW_SECS) {
        return Err(CredentialError::FutureTimestamp);
    }
    if now > raw.signed_at.saturating_add(ATTESTATION_MAX_AGE_SECS) {
        return Err(CredentialError::StalePresentation);
    }
    Ok(VerifiedAttestation {
        authority: licence.identifier.issuer(),
        licence,
        status_index: raw.status_index,
        key_id: super::issuer::hex(&sign1.kid),
        signed_at: raw.signed_at,
        audience: raw.audience,
        context: raw.context,
    })
}
