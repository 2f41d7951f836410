//! Verifying a presentation (the relying party's side): offline against
//! trusted issuer keys, plus the issuer's signed status list.

use std::collections::BTreeMap;

use serde::Serialize;

use super::age::{YOUNGER_SPAN_YEARS, iterate, latest_birth_for_age, years_before};
use super::issuer::hex;
use super::merkle::{self, Hash16};
use super::presentation::{AGE_OVER, AGE_UNDER, audience_hint, transcript};
use super::{
    AssuranceMode, Claim, ClaimValue, CredentialError, DocType, FORMAT_VERSION, Mso,
    PRESENTATION_PREFIX, SLOT_AGE_OLDER, SLOT_AGE_YOUNGER, Sign1, VerifiedStatusList, base45, cbor,
    china_date, device_tbs, trusted_key,
};
use crate::crypto::{Suite, VerifyingKey, signature_raw_to_der};

/// Longest QR text accepted (a version-40 code holds 4296 alphanumeric characters).
const MAX_TEXT_LEN: usize = 4296;

/// What the verifier trusts and expects.
#[derive(Clone, Debug)]
pub struct VerificationPolicy {
    pub trusted_issuers: Vec<VerifyingKey>,
    /// This relying party's identifier: presentations for others are refused.
    pub audience: String,
    /// The nonce this verifier showed, if it showed one.
    pub nonce: Option<Vec<u8>>,
    /// The verifier's clock (Unix seconds).
    pub now: i64,
    /// Clock difference tolerated between phone and verifier (default 30 s).
    pub max_skew_secs: i64,
    /// Signed status lists, one per issuer, already checked with
    /// [`VerifiedStatusList::verify`].
    pub status_lists: Vec<VerifiedStatusList>,
    /// Refuse when no status list of the credential's issuer is at hand.
    pub require_status: bool,
}

impl VerificationPolicy {
    pub fn new(trusted_issuers: Vec<VerifyingKey>, audience: impl Into<String>, now: i64) -> Self {
        Self {
            trusted_issuers,
            audience: audience.into(),
            nonce: None,
            now,
            max_skew_secs: 30,
            status_lists: Vec::new(),
            require_status: false,
        }
    }
}

/// A derived statement that verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DerivedClaim {
    AgeOver(u32),
    AgeUnder(u32),
}

impl DerivedClaim {
    pub fn name(&self) -> String {
        match self {
            DerivedClaim::AgeOver(n) => format!("age_over_{n}"),
            DerivedClaim::AgeUnder(n) => format!("age_under_{n}"),
        }
    }
}

/// Everything a verified presentation establishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedPresentation {
    /// The 网证 or an e-licence.
    pub doctype: DocType,
    /// Hex `kid` of the issuer key that signed the credential.
    pub issuer_key_id: String,
    pub suite: Suite,
    pub claims: BTreeMap<Claim, ClaimValue>,
    #[serde(serialize_with = "derived_names")]
    pub derived: Vec<DerivedClaim>,
    /// `"18-59"`, `"60+"`, … when both bounds (or the top bracket) were shown.
    pub age_range: Option<String>,
    /// This relying party's pseudonymous identifier for the holder (网络身份应用标识).
    pub pairwise_id: String,
    pub mode: AssuranceMode,
    pub presented_at: i64,
    /// When the issuer signed the credential (its validity start).
    pub credential_not_before: i64,
    pub credential_expires: i64,
    pub status_index: u32,
    /// The device key the credential is bound to, which signed this
    /// presentation. Not serialized: across relying parties it would link
    /// the holder as the pairwise identifier is meant not to.
    #[serde(skip)]
    pub device_key: VerifyingKey,
}

fn derived_names<S: serde::Serializer>(derived: &[DerivedClaim], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(derived.len()))?;
    for d in derived {
        map.serialize_entry(&d.name(), &true)?;
    }
    map.end()
}

/// Verifies QR text against `policy`. Each rejection has its own error kind.
pub fn verify(
    text: &str,
    policy: &VerificationPolicy,
) -> Result<VerifiedPresentation, CredentialError> {
    verify_with(text, policy, |kid| {
        trusted_key(&policy.trusted_issuers, kid)
    })
}

/// [`verify`] with the issuer key found by `issuer_key` (from the COSE `kid`)
/// instead of in `policy.trusted_issuers`.
pub(crate) fn verify_with<'k>(
    text: &str,
    policy: &VerificationPolicy,
    issuer_key: impl Fn(&[u8]) -> Option<&'k VerifyingKey>,
) -> Result<VerifiedPresentation, CredentialError> {
    let text = text.trim();
    let encoded = text
        .strip_prefix(PRESENTATION_PREFIX)
        .ok_or(CredentialError::NotOurFormat)?;
    if text.len() > MAX_TEXT_LEN {
        return Err(CredentialError::Malformed("presentation too long"));
    }
    let bytes = base45::decode(encoded).ok_or(CredentialError::Malformed("Base45 text"))?;
    let what = "presentation";
    let mut items = cbor::Items::new(cbor::decode(&bytes, what)?, what)?;
    if items.uint()? != FORMAT_VERSION {
        return Err(CredentialError::Malformed("format version"));
    }

    // 1. The issuer: known, and its signature holds.
    let mso_bytes = items.bytes()?;
    let sign1 = Sign1::parse(&mso_bytes, "issuer-signed data")?;
    let issuer = issuer_key(&sign1.kid).ok_or(CredentialError::UnknownIssuer)?;
    if !sign1.verify(issuer) {
        return Err(CredentialError::BadIssuerSignature);
    }
    let mso = Mso::from_cbor(sign1.payload())?;
    if mso.suite != issuer.suite() {
        return Err(CredentialError::Malformed("issuer suite"));
    }
    let suite = mso.suite;

    // 2. The rest of the presentation.
    let disclosures_value = items.value()?;
    let age_value = items.value()?;
    let proof_value = items.value()?;
    let pairwise = items.fixed::<16>()?;
    let issued_at = items.uint()?;
    let validity = items.uint()?;
    let hint = items.fixed::<4>()?;
    let nonce = items.optional_bytes()?;
    let mode = AssuranceMode::from_code(items.uint()?)
        .ok_or(CredentialError::Malformed("assurance mode"))?;
    let signature = items.fixed::<64>()?;
    items.end()?;
    let presented_at =
        i64::try_from(issued_at).map_err(|_| CredentialError::Malformed("timestamp"))?;

    // 3. Credential validity.
    if policy.now < mso.not_before.saturating_sub(policy.max_skew_secs) {
        return Err(CredentialError::CredentialNotYetValid);
    }
    if policy.now > mso.expires {
        return Err(CredentialError::CredentialExpired);
    }

    // 4. Disclosed values and age proofs against the signed claim tree.
    let mut known: BTreeMap<usize, Hash16> = BTreeMap::new();
    let mut claims = BTreeMap::new();
    for entry in cbor::Items::new(disclosures_value.clone(), "disclosures")?.rest() {
        let mut entry = cbor::Items::new(entry, "disclosure")?;
        let slot =
            u8::try_from(entry.uint()?).map_err(|_| CredentialError::Malformed("disclosure"))?;
        let claim =
            Claim::from_slot(mso.doctype, slot).ok_or(CredentialError::Malformed("disclosure"))?;
        let salt = entry.fixed::<16>()?;
        let value = ClaimValue::from_cbor(claim, entry.value()?)?;
        entry.end()?;
        known.insert(
            usize::from(slot),
            merkle::leaf(suite, slot, &salt, value.as_hash_input()),
        );
        claims.insert(claim, value);
    }
    let today = china_date(presented_at).ok_or(CredentialError::Malformed("timestamp"))?;
    let issued_on = mso.issuance_day()?;
    let mut derived = Vec::new();
    for entry in cbor::Items::new(age_value.clone(), "age proofs")?.rest() {
        // Only the 网证 has age chains.
        if mso.doctype != DocType::NetworkId {
            return Err(CredentialError::Malformed("age proof"));
        }
        let mut entry = cbor::Items::new(entry, "age proof")?;
        let kind = entry.uint()?;
        let n = u32::try_from(entry.uint()?)
            .ok()
            .filter(|n| *n <= 150)
            .ok_or(CredentialError::Malformed("age proof"))?;
        let revealed = entry.fixed::<16>()?;
        entry.end()?;
        let latest =
            latest_birth_for_age(today, n).ok_or(CredentialError::Malformed("age proof"))?;
        let (slot, steps, claim) = match kind {
            AGE_OVER => {
                let threshold = latest.min(issued_on);
                (
                    SLOT_AGE_OLDER,
                    issued_on.to_julian_day() - threshold.to_julian_day(),
                    DerivedClaim::AgeOver(n),
                )
            }
            AGE_UNDER => {
                let floor = years_before(issued_on, YOUNGER_SPAN_YEARS)
                    .ok_or(CredentialError::Malformed("validity"))?;
                let earliest = latest
                    .next_day()
                    .ok_or(CredentialError::Malformed("age proof"))?
                    .max(floor);
                (
                    SLOT_AGE_YOUNGER,
                    earliest.to_julian_day() - floor.to_julian_day(),
                    DerivedClaim::AgeUnder(n),
                )
            }
            _ => return Err(CredentialError::Malformed("age proof")),
        };
        let steps = u32::try_from(steps).map_err(|_| CredentialError::Malformed("age proof"))?;
        let top = iterate(suite, revealed, steps);
        let leaf = merkle::leaf(suite, slot, &[], &top);
        // Two proofs on one chain must reach the same top.
        if known
            .insert(usize::from(slot), leaf)
            .is_some_and(|earlier| earlier != leaf)
        {
            return Err(CredentialError::DigestMismatch);
        }
        derived.push(claim);
    }
    let mut proof = Vec::new();
    for node in cbor::Items::new(proof_value.clone(), "tree proof")?.rest() {
        match node {
            ciborium::Value::Bytes(b) => proof
                .push(Hash16::try_from(b).map_err(|_| CredentialError::Malformed("tree proof"))?),
            _ => return Err(CredentialError::Malformed("tree proof")),
        }
    }
    if !known.is_empty() {
        let root = merkle::root_from_proof(suite, &known, &proof)
            .ok_or(CredentialError::DigestMismatch)?;
        if root != mso.root {
            return Err(CredentialError::DigestMismatch);
        }
    } else if !proof.is_empty() {
        return Err(CredentialError::Malformed("tree proof"));
    }

    // 5. Made for this relying party, for this nonce, by the bound device.
    if hint != audience_hint(suite, &policy.audience) {
        return Err(CredentialError::WrongAudience);
    }
    if let Some(expected) = &policy.nonce
        && nonce.as_ref() != Some(expected)
    {
        return Err(CredentialError::WrongNonce);
    }
    let body = ciborium::Value::Array(vec![
        disclosures_value,
        age_value,
        proof_value,
        ciborium::Value::Bytes(pairwise.to_vec()),
    ]);
    let transcript = transcript(
        suite,
        &policy.audience,
        issued_at,
        validity,
        nonce.as_deref(),
        mode,
        &mso_bytes,
        &body,
    );
    mso.device_key
        .verify(
            &device_tbs(mso.device_key.suite(), &transcript),
            &signature_raw_to_der(&signature),
        )
        .map_err(|_| CredentialError::BadDeviceSignature)?;

    // 6. Fresh.
    if presented_at > policy.now.saturating_add(policy.max_skew_secs) {
        return Err(CredentialError::FutureTimestamp);
    }
    let validity = i64::try_from(validity).map_err(|_| CredentialError::Malformed("validity"))?;
    if policy.now
        > presented_at
            .saturating_add(validity)
            .saturating_add(policy.max_skew_secs)
    {
        return Err(CredentialError::StalePresentation);
    }

    // 7. Not revoked, by a list that is fresh enough.
    match policy
        .status_lists
        .iter()
        .find(|l| l.issuer_key_id == sign1.kid)
    {
        Some(list) => list.check(mso.status_index, policy.now)?,
        None if policy.require_status => return Err(CredentialError::StatusListMissing),
        None => {}
    }

    derived.sort();
    derived.dedup();
    Ok(VerifiedPresentation {
        doctype: mso.doctype,
        issuer_key_id: hex(&sign1.kid),
        suite,
        claims,
        age_range: age_range(&derived),
        derived,
        pairwise_id: hex(&pairwise),
        mode,
        presented_at,
        credential_not_before: mso.not_before,
        credential_expires: mso.expires,
        status_index: mso.status_index,
        device_key: mso.device_key,
    })
}

/// The tightest bracket the statements establish, when it has both ends (or
/// is the open top bracket of `age_range`).
fn age_range(derived: &[DerivedClaim]) -> Option<String> {
    let lo = derived
        .iter()
        .filter_map(|d| {
            if let DerivedClaim::AgeOver(n) = d {
                Some(*n)
            } else {
                None
            }
        })
        .max();
    let hi = derived
        .iter()
        .filter_map(|d| {
            if let DerivedClaim::AgeUnder(n) = d {
                Some(*n)
            } else {
                None
            }
        })
        .min();
    match (lo, hi) {
        (Some(lo), Some(hi)) if hi > lo => Some(format!("{lo}-{}", hi - 1)),
        (Some(lo), None) if lo == *super::presentation::AGE_RANGE_BOUNDS.last()? => {
            Some(format!("{lo}+"))
        }
        (None, Some(hi)) if hi == super::presentation::AGE_RANGE_BOUNDS[0] => {
            Some(format!("0-{}", hi - 1))
        }
        _ => None,
    }
}
