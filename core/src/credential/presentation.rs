//! Presenting a credential (亮证): selective disclosure, age statements, the
//! pairwise identifier and the device-signed transcript, as QR text.

use std::collections::BTreeSet;

use ciborium::Value;

use super::age::{age_on, latest_birth_for_age};
use super::merkle;
use super::{
    AssuranceMode, Claim, CredentialError, DEFAULT_PRESENTATION_SECS, FORMAT_VERSION,
    HolderCredential, PRESENTATION_PREFIX, SLOT_AGE_OLDER, SLOT_AGE_YOUNGER, base45, cbor,
    china_date, device_tbs,
};
use crate::crypto::{KeyAlias, KeyStore, Suite, signature_der_to_raw};

/// Age brackets for `age_range`: under 14, 14-17, 18-59, 60 and over.
pub const AGE_RANGE_BOUNDS: [u32; 3] = [14, 18, 60];
/// Oldest threshold a request may name.
pub const MAX_AGE_THRESHOLD: u32 = 150;
const MAX_AUDIENCE_LEN: usize = 128;
const MAX_NONCE_LEN: usize = 64;
const MAX_VALIDITY_SECS: u32 = 600;

/// A statement derived from the birth date without disclosing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DerivedRequest {
    /// `age_over_N`: at least N years old today.
    AgeOver(u32),
    /// `age_under_N`: younger than N years today.
    AgeUnder(u32),
    /// `age_range`: the holder's bracket of [`AGE_RANGE_BOUNDS`], as an
    /// `age_over` and an `age_under` statement.
    AgeRange,
}

impl DerivedRequest {
    pub fn parse(name: &str) -> Option<Self> {
        if name == "age_range" {
            return Some(Self::AgeRange);
        }
        let number = |prefix: &str| {
            name.strip_prefix(prefix)?
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= MAX_AGE_THRESHOLD)
        };
        number("age_over_")
            .map(Self::AgeOver)
            .or_else(|| number("age_under_").map(Self::AgeUnder))
    }
}

/// What a relying party asked for, and for whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentationRequest {
    pub claims: Vec<Claim>,
    pub derived: Vec<DerivedRequest>,
    /// The relying party's identifier (e.g. a window's or a website's id).
    pub audience: String,
    /// The verifier's challenge, when it shows one (at most 64 bytes).
    pub nonce: Option<Vec<u8>>,
    pub mode: AssuranceMode,
    /// Seconds the QR stays valid (default 60, at most 600).
    pub validity_secs: u32,
}

impl PresentationRequest {
    pub fn new(audience: impl Into<String>) -> Self {
        Self {
            claims: Vec::new(),
            derived: Vec::new(),
            audience: audience.into(),
            nonce: None,
            mode: AssuranceMode::Credential,
            validity_secs: DEFAULT_PRESENTATION_SECS,
        }
    }

    /// Parses a disclosure list such as `name_masked,id_number_masked,age_over_18`.
    pub fn with_disclosure_list(mut self, list: &str) -> Result<Self, CredentialError> {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(claim) = Claim::from_name(item) {
                self.claims.push(claim);
            } else if let Some(derived) = DerivedRequest::parse(item) {
                self.derived.push(derived);
            } else {
                return Err(CredentialError::InvalidRequest(
                    "unknown claim in the disclosure list",
                ));
            }
        }
        Ok(self)
    }

    fn validate(&self) -> Result<(), CredentialError> {
        if self.audience.is_empty() || self.audience.len() > MAX_AUDIENCE_LEN {
            return Err(CredentialError::InvalidRequest(
                "audience must be 1 to 128 bytes",
            ));
        }
        if self
            .nonce
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > MAX_NONCE_LEN)
        {
            return Err(CredentialError::InvalidRequest(
                "nonce must be 1 to 64 bytes",
            ));
        }
        if self.validity_secs == 0 || self.validity_secs > MAX_VALIDITY_SECS {
            return Err(CredentialError::InvalidRequest(
                "validity must be 1 to 600 seconds",
            ));
        }
        let threshold_ok = |d: &DerivedRequest| match d {
            DerivedRequest::AgeOver(n) | DerivedRequest::AgeUnder(n) => *n <= MAX_AGE_THRESHOLD,
            DerivedRequest::AgeRange => true,
        };
        if !self.derived.iter().all(threshold_ok) {
            return Err(CredentialError::InvalidRequest(
                "age thresholds must be at most 150",
            ));
        }
        Ok(())
    }
}

/// Audience hint carried in the presentation: lets a verifier tell "made for
/// another relying party" apart from a bad signature.
pub(crate) fn audience_hint(suite: Suite, audience: &str) -> [u8; 4] {
    let digest = suite.hash(&[b"yiwang/aud\0", audience.as_bytes()].concat());
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The transcript the device signs (the detached payload of its COSE_Sign1).
#[allow(clippy::too_many_arguments)]
pub(crate) fn transcript(
    suite: Suite,
    audience: &str,
    issued_at: u64,
    validity: u64,
    nonce: Option<&[u8]>,
    mode: AssuranceMode,
    mso_bytes: &[u8],
    body: &Value,
) -> Vec<u8> {
    cbor::encode(&Value::Array(vec![
        Value::Text("YW1-device".into()),
        Value::Text(audience.into()),
        cbor::uint(issued_at),
        cbor::uint(validity),
        nonce.map_or(Value::Null, |n| Value::Bytes(n.to_vec())),
        cbor::uint(mode.code()),
        Value::Bytes(suite.hash(mso_bytes).to_vec()),
        Value::Bytes(suite.hash(&cbor::encode(body)).to_vec()),
    ]))
}

/// Age proof kinds on the wire.
pub(crate) const AGE_OVER: u64 = 0;
pub(crate) const AGE_UNDER: u64 = 1;

impl HolderCredential {
    /// Presents this credential to `request.audience` at `now` (Unix seconds),
    /// signing with the device key `alias` in `store`. Returns the QR text.
    pub fn present(
        &self,
        request: &PresentationRequest,
        store: &dyn KeyStore,
        alias: &KeyAlias,
        now: i64,
    ) -> Result<String, CredentialError> {
        request.validate()?;
        let suite = self.mso.suite;
        if store.public_key(alias)? != self.mso.device_key {
            return Err(CredentialError::HolderKeyMismatch);
        }
        let issued_at =
            u64::try_from(now).map_err(|_| CredentialError::InvalidRequest("time out of range"))?;
        let today = china_date(now).ok_or(CredentialError::InvalidRequest("time out of range"))?;

        let mut known: BTreeSet<usize> = BTreeSet::new();
        let mut disclosures = Vec::new();
        let claims: BTreeSet<Claim> = request.claims.iter().copied().collect();
        for claim in claims {
            let slot = claim.slot();
            let (Some(value), Some(salt)) = (self.claim(claim), self.salts.get(&slot)) else {
                return Err(CredentialError::CannotProve(
                    "the credential has no such claim",
                ));
            };
            known.insert(usize::from(slot));
            disclosures.push(Value::Array(vec![
                cbor::uint(slot),
                Value::Bytes(salt.to_vec()),
                value.to_cbor(),
            ]));
        }

        let mut age_proofs = Vec::new();
        if !request.derived.is_empty() {
            let age = self.age.as_ref().ok_or(CredentialError::CannotProve(
                "this document has no age statements",
            ))?;
            for statement in age.statements(&request.derived, today) {
                let (kind, slot, n, value) = match statement {
                    DerivedRequest::AgeOver(n) => {
                        (AGE_OVER, SLOT_AGE_OLDER, n, age.prove_over(n, today)?)
                    }
                    DerivedRequest::AgeUnder(n) => {
                        (AGE_UNDER, SLOT_AGE_YOUNGER, n, age.prove_under(n, today)?)
                    }
                    DerivedRequest::AgeRange => continue,
                };
                known.insert(usize::from(slot));
                age_proofs.push(Value::Array(vec![
                    cbor::uint(kind),
                    cbor::uint(n),
                    Value::Bytes(value.to_vec()),
                ]));
            }
        }

        let known: Vec<usize> = known.into_iter().collect();
        let proof: Vec<Value> = if known.is_empty() {
            Vec::new()
        } else {
            merkle::multiproof(suite, &self.leaves, &known)
                .into_iter()
                .map(|h| Value::Bytes(h.to_vec()))
                .collect()
        };
        let pairwise =
            super::issuer::pairwise_bytes(suite, &self.pairwise_key, &request.audience).to_vec();
        let body = Value::Array(vec![
            Value::Array(disclosures.clone()),
            Value::Array(age_proofs.clone()),
            Value::Array(proof.clone()),
            Value::Bytes(pairwise.clone()),
        ]);
        let validity = u64::from(request.validity_secs);
        let transcript = transcript(
            suite,
            &request.audience,
            issued_at,
            validity,
            request.nonce.as_deref(),
            request.mode,
            &self.mso_bytes,
            &body,
        );
        let signature = store.sign(alias, &device_tbs(self.mso.device_key.suite(), &transcript))?;
        let signature = signature_der_to_raw(&signature)?;

        let presentation = Value::Array(vec![
            cbor::uint(FORMAT_VERSION),
            Value::Bytes(self.mso_bytes.clone()),
            Value::Array(disclosures),
            Value::Array(age_proofs),
            Value::Array(proof),
            Value::Bytes(pairwise),
            cbor::uint(issued_at),
            cbor::uint(validity),
            Value::Bytes(audience_hint(suite, &request.audience).to_vec()),
            request.nonce.clone().map_or(Value::Null, Value::Bytes),
            cbor::uint(request.mode.code()),
            Value::Bytes(signature.to_vec()),
        ]);
        Ok(format!(
            "{PRESENTATION_PREFIX}{}",
            base45::encode(&cbor::encode(&presentation))
        ))
    }
}

impl super::issuer::AgeChains {
    /// The requested statements with `age_range` expanded to the holder's
    /// bracket, deduplicated and sorted.
    fn statements(
        &self,
        requested: &[DerivedRequest],
        today: time::Date,
    ) -> BTreeSet<DerivedRequest> {
        let mut out = BTreeSet::new();
        for request in requested {
            match *request {
                DerivedRequest::AgeRange => {
                    let age = age_on(self.birth_date, today);
                    if let Some(lo) = AGE_RANGE_BOUNDS.iter().rev().find(|&&b| b <= age) {
                        out.insert(DerivedRequest::AgeOver(*lo));
                    }
                    if let Some(hi) = AGE_RANGE_BOUNDS.iter().find(|&&b| b > age) {
                        out.insert(DerivedRequest::AgeUnder(*hi));
                    }
                }
                other => {
                    out.insert(other);
                }
            }
        }
        out
    }

    fn prove_over(&self, n: u32, today: time::Date) -> Result<merkle::Hash16, CredentialError> {
        let latest = latest_birth_for_age(today, n)
            .ok_or(CredentialError::InvalidRequest("age threshold"))?;
        if self.birth_date > latest {
            return Err(CredentialError::CannotProve(
                "the holder is younger than the threshold",
            ));
        }
        let threshold = latest.min(self.issued_on);
        let k = threshold.to_julian_day() - self.birth_date.to_julian_day();
        u32::try_from(k)
            .ok()
            .and_then(|k| self.older.at(k))
            .ok_or(CredentialError::CannotProve(
                "age_over is outside the chain",
            ))
    }

    fn prove_under(&self, n: u32, today: time::Date) -> Result<merkle::Hash16, CredentialError> {
        let latest = latest_birth_for_age(today, n)
            .ok_or(CredentialError::InvalidRequest("age threshold"))?;
        let earliest = latest
            .next_day()
            .ok_or(CredentialError::InvalidRequest("age threshold"))?;
        if self.birth_date < earliest {
            return Err(CredentialError::CannotProve(
                "the holder is not younger than the threshold",
            ));
        }
        let chain = self.younger.as_ref().ok_or(CredentialError::CannotProve(
            "age_under is outside the chain",
        ))?;
        let threshold = earliest.max(self.younger_floor);
        let k = self.birth_date.to_julian_day() - threshold.to_julian_day();
        u32::try_from(k)
            .ok()
            .and_then(|k| chain.at(k))
            .ok_or(CredentialError::CannotProve(
                "age_under is outside the chain",
            ))
    }
}
