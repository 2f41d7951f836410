//! Issuance (the issuer service's side) and the holder's copy of a credential.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ciborium::Value;
use time::Date;
use zeroize::Zeroizing;

use super::age::{Chain, YOUNGER_SPAN_YEARS, years_before};
use super::merkle::{self, Hash16, LEAVES};
use super::{
    Claim, ClaimValue, CredentialError, DEFAULT_VALIDITY_SECS, DocType, Mso, SLOT_AGE_OLDER,
    SLOT_AGE_YOUNGER, Sign1, StatusList, cbor, cose_sign1,
};
use crate::crypto::{KeyAlias, KeyStore, Suite, VerifyingKey, random_bytes};
use crate::identity::{IdNumber, Sex, mask_name};

/// What a real enrolment yields (NFC read of the ID card + face check happen
/// on the phone and at the platform, outside yiwang): the card's name and
/// number, and the digest of the verified photo. Birth date, sex and region
/// come from the ID number.
#[derive(Clone)]
pub struct Enrolment {
    pub name: String,
    pub id_number: IdNumber,
    pub photo_digest: [u8; 32],
}

impl fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enrolment")
            .field("name", &mask_name(&self.name))
            .field("id_number", &self.id_number)
            .finish_non_exhaustive()
    }
}

impl Enrolment {
    fn validate(&self, issued_on: Date) -> Result<(), CredentialError> {
        let chars = self.name.chars().count();
        if chars == 0
            || chars > 64
            || self.name.chars().any(char::is_control)
            || self.name.trim() != self.name
        {
            return Err(CredentialError::InvalidEnrolment(
                "name must be 1 to 64 characters, no control characters",
            ));
        }
        if self.id_number.birth_date() > issued_on {
            return Err(CredentialError::InvalidEnrolment(
                "birth date is in the future",
            ));
        }
        Ok(())
    }
}

/// The issuer service: a signing key in a [`KeyStore`] and a secret from which
/// 网号 and pairwise keys are derived.
pub struct Issuer {
    store: Arc<dyn KeyStore>,
    alias: KeyAlias,
    public: VerifyingKey,
    secret: Zeroizing<[u8; 32]>,
    validity_secs: i64,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("suite", &self.public.suite())
            .field("kid", &hex(&self.public.key_id()))
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// An issuer signing with `alias` in `store`; `secret` (32 random bytes,
    /// kept with the key) derives 网号 and pairwise keys.
    pub fn new(
        store: Arc<dyn KeyStore>,
        alias: KeyAlias,
        secret: [u8; 32],
    ) -> Result<Self, CredentialError> {
        let public = store.public_key(&alias)?;
        Ok(Self {
            store,
            alias,
            public,
            secret: Zeroizing::new(secret),
            validity_secs: DEFAULT_VALIDITY_SECS,
        })
    }

    /// Credential validity in seconds (default 180 days).
    pub fn with_validity_secs(mut self, secs: i64) -> Self {
        self.validity_secs = secs.max(1);
        self
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.public
    }

    pub fn suite(&self) -> Suite {
        self.public.suite()
    }

    fn derive(&self, label: &str, input: &[u8]) -> [u8; 32] {
        self.suite().mac(
            self.secret.as_ref(),
            &[label.as_bytes(), &[0], input].concat(),
        )
    }

    /// The 网号: `YW` + 16 Base32 characters of a keyed hash of the ID number.
    /// Stable for a person, and without the issuer's secret it reveals nothing.
    pub fn network_id(&self, id_number: &IdNumber) -> String {
        let digest = self.derive("yiwang/network-id/v1", id_number.as_str().as_bytes());
        format!("YW{}", base32(&digest[..10]))
    }

    /// A keyed hash of the ID number for the issuer's own registry (which
    /// status index is a person's live credential) without storing the number.
    pub fn person_key(&self, id_number: &IdNumber) -> String {
        hex(&self.derive("yiwang/person/v1", id_number.as_str().as_bytes())[..16])
    }

    fn pairwise_key(&self, network_id: &str) -> [u8; 32] {
        self.derive("yiwang/pairwise-key/v1", network_id.as_bytes())
    }

    /// The pairwise identifier a holder presents to `audience`, computed on the
    /// issuer's side (for ID tokens and online checks): equal to the holder's.
    pub fn pairwise_id(&self, network_id: &str, audience: &str) -> String {
        pairwise_id(self.suite(), &self.pairwise_key(network_id), audience)
    }

    /// Issues a credential bound to `device_key`, valid from `now` (Unix
    /// seconds) for the issuer's validity period, at `status_index` of the
    /// issuer's status list.
    pub fn issue(
        &self,
        enrolment: &Enrolment,
        device_key: &VerifyingKey,
        status_index: u32,
        now: i64,
    ) -> Result<HolderCredential, CredentialError> {
        let issued_on =
            super::china_date(now).ok_or(CredentialError::InvalidRequest("time out of range"))?;
        enrolment.validate(issued_on)?;
        let id = &enrolment.id_number;
        let network_id = self.network_id(id);
        let mut values = BTreeMap::new();
        let mut put = |claim: Claim, value: ClaimValue| values.insert(claim.slot(), value);
        put(
            Claim::NameMasked,
            ClaimValue::Text(mask_name(&enrolment.name)),
        );
        put(Claim::IdNumberMasked, ClaimValue::Text(id.masked()));
        put(Claim::NetworkId, ClaimValue::Text(network_id.clone()));
        put(Claim::Name, ClaimValue::Text(enrolment.name.clone()));
        put(Claim::IdNumber, ClaimValue::Text(id.as_str().to_owned()));
        put(
            Claim::BirthDate,
            ClaimValue::Text(id.birth_date().to_string()),
        );
        put(Claim::Sex, ClaimValue::Text(sex_name(id.sex()).to_owned()));
        put(
            Claim::Region,
            ClaimValue::Text(id.region().as_str().to_owned()),
        );
        put(
            Claim::PhotoDigest,
            ClaimValue::Bytes(enrolment.photo_digest.to_vec()),
        );

        let expires = now.saturating_add(self.validity_secs);
        self.sign_document(
            DocType::NetworkId,
            values,
            device_key,
            status_index,
            now,
            expires,
            &network_id,
        )
    }

    /// Salts the claims, builds the tree and signs the MSO of a document.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sign_document(
        &self,
        doctype: DocType,
        values: BTreeMap<u8, ClaimValue>,
        device_key: &VerifyingKey,
        status_index: u32,
        not_before: i64,
        expires: i64,
        pairwise_subject: &str,
    ) -> Result<HolderCredential, CredentialError> {
        let suite = self.suite();
        let mut salts = BTreeMap::new();
        for slot in values.keys().copied().chain([doctype.pairwise_slot()]) {
            let mut salt = [0u8; 16];
            random_bytes(&mut salt)?;
            salts.insert(slot, salt);
        }
        let mut older_seed = [0u8; 16];
        let mut younger_seed = [0u8; 16];
        random_bytes(&mut older_seed)?;
        random_bytes(&mut younger_seed)?;
        let mso_template = Mso {
            doctype,
            suite,
            root: [0; 16],
            device_key: device_key.clone(),
            not_before,
            expires,
            status_index,
        };
        let mut holder = HolderCredential::assemble(
            mso_template,
            Vec::new(),
            salts,
            values,
            older_seed,
            younger_seed,
            Zeroizing::new(self.pairwise_key(pairwise_subject)),
        )?;
        holder.mso.root = merkle::root(suite, &holder.leaves);
        let payload = holder.mso.to_cbor();
        holder.mso_bytes = cose_sign1(suite, &self.public.key_id(), payload, |tbs| {
            Ok(self.store.sign(&self.alias, tbs)?)
        })?;
        Ok(holder)
    }

    /// Signs `payload` as a COSE_Sign1 with this issuer's key (the trust list
    /// and licence attestations).
    pub(crate) fn sign_cose(&self, payload: Vec<u8>) -> Result<Vec<u8>, CredentialError> {
        cose_sign1(self.suite(), &self.public.key_id(), payload, |tbs| {
            Ok(self.store.sign(&self.alias, tbs)?)
        })
    }

    /// Signs `list` as a status list token issued at `now`, to be trusted for
    /// at most `max_age_secs`.
    pub fn sign_status_list(
        &self,
        list: &StatusList,
        now: i64,
        max_age_secs: u32,
    ) -> Result<Vec<u8>, CredentialError> {
        cose_sign1(
            self.suite(),
            &self.public.key_id(),
            list.payload(now, max_age_secs),
            |tbs| Ok(self.store.sign(&self.alias, tbs)?),
        )
    }
}

pub(crate) fn pairwise_id(suite: Suite, key: &[u8; 32], audience: &str) -> String {
    hex(&pairwise_bytes(suite, key, audience))
}

/// 16 bytes of HMAC(pairwise key, "yiwang/pairwise/v1" ‖ 0 ‖ audience).
pub(crate) fn pairwise_bytes(suite: Suite, key: &[u8; 32], audience: &str) -> [u8; 16] {
    let mac = suite.mac(
        key,
        &[b"yiwang/pairwise/v1\0", audience.as_bytes()].concat(),
    );
    let mut out = [0u8; 16];
    out.copy_from_slice(&mac[..16]);
    out
}

fn sex_name(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "male",
        Sex::Female => "female",
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The holder's copy of a credential, as the wallet stores it: the issuer's
/// COSE_Sign1, every claim with its salt, the age-chain seeds and the pairwise
/// key. Personal data: `Debug` shows none of it.
#[derive(Clone)]
pub struct HolderCredential {
    pub(crate) mso_bytes: Vec<u8>,
    pub(crate) mso: Mso,
    pub(crate) salts: BTreeMap<u8, [u8; 16]>,
    pub(crate) values: BTreeMap<u8, ClaimValue>,
    older_seed: Zeroizing<[u8; 16]>,
    younger_seed: Zeroizing<[u8; 16]>,
    /// The 网证's age chains (none for licences).
    pub(crate) age: Option<AgeChains>,
    pub(crate) pairwise_key: Zeroizing<[u8; 32]>,
    pub(crate) leaves: [Hash16; LEAVES],
}

/// The holder's side of the age statements.
#[derive(Clone)]
pub(crate) struct AgeChains {
    pub older: Chain,
    pub younger: Option<Chain>,
    pub birth_date: Date,
    pub issued_on: Date,
    pub younger_floor: Date,
}

impl fmt::Debug for HolderCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HolderCredential")
            .field("doctype", &self.mso.doctype)
            .field("suite", &self.mso.suite)
            .field("status_index", &self.mso.status_index)
            .field("expires", &self.mso.expires)
            .finish_non_exhaustive()
    }
}

impl AgeChains {
    fn new(
        mso: &Mso,
        values: &BTreeMap<u8, ClaimValue>,
        older_seed: [u8; 16],
        younger_seed: [u8; 16],
    ) -> Result<Self, CredentialError> {
        let suite = mso.suite;
        let birth_date = match values.get(&Claim::BirthDate.slot()) {
            Some(ClaimValue::Text(t)) => {
                parse_date(t).ok_or(CredentialError::Malformed("birth date"))?
            }
            _ => return Err(CredentialError::Malformed("birth date")),
        };
        let issued_on = mso.issuance_day()?;
        let younger_floor = years_before(issued_on, YOUNGER_SPAN_YEARS)
            .ok_or(CredentialError::Malformed("validity"))?;
        let older_len = u32::try_from(issued_on.to_julian_day() - birth_date.to_julian_day())
            .map_err(|_| CredentialError::InvalidEnrolment("birth date is in the future"))?;
        let older = Chain::new(suite, older_seed, older_len);
        // Someone born before the floor cannot state "younger than N": no chain.
        let younger = u32::try_from(birth_date.to_julian_day() - younger_floor.to_julian_day())
            .ok()
            .map(|len| Chain::new(suite, younger_seed, len));
        Ok(Self {
            older,
            younger,
            birth_date,
            issued_on,
            younger_floor,
        })
    }
}

/// Holder file version (the CBOR map below).
const HOLDER_VERSION: u64 = 1;

impl HolderCredential {
    fn assemble(
        mso: Mso,
        mso_bytes: Vec<u8>,
        salts: BTreeMap<u8, [u8; 16]>,
        values: BTreeMap<u8, ClaimValue>,
        older_seed: [u8; 16],
        younger_seed: [u8; 16],
        pairwise_key: Zeroizing<[u8; 32]>,
    ) -> Result<Self, CredentialError> {
        let suite = mso.suite;
        let mut leaves: [Hash16; LEAVES] =
            std::array::from_fn(|slot| merkle::unused_leaf(suite, slot as u8));
        for (&slot, value) in &values {
            let salt = salts
                .get(&slot)
                .ok_or(CredentialError::Malformed("salts"))?;
            leaves[usize::from(slot)] = merkle::leaf(suite, slot, salt, value.as_hash_input());
        }
        let age = match mso.doctype {
            DocType::NetworkId => {
                let chains = AgeChains::new(&mso, &values, older_seed, younger_seed)?;
                leaves[usize::from(SLOT_AGE_OLDER)] =
                    merkle::leaf(suite, SLOT_AGE_OLDER, &[], &chains.older.top());
                // Without a younger chain the leaf commits to a hash of the unused
                // seed: a value nobody can reach from below.
                let younger_top = chains
                    .younger
                    .as_ref()
                    .map_or_else(|| merkle::h16(suite, &[&[0x04], &younger_seed]), Chain::top);
                leaves[usize::from(SLOT_AGE_YOUNGER)] =
                    merkle::leaf(suite, SLOT_AGE_YOUNGER, &[], &younger_top);
                Some(chains)
            }
            DocType::Licence => None,
        };
        let pairwise_slot = mso.doctype.pairwise_slot();
        let pairwise_salt = salts
            .get(&pairwise_slot)
            .ok_or(CredentialError::Malformed("salts"))?;
        leaves[usize::from(pairwise_slot)] =
            merkle::leaf(suite, pairwise_slot, pairwise_salt, pairwise_key.as_ref());

        Ok(Self {
            mso_bytes,
            mso,
            salts,
            values,
            older_seed: Zeroizing::new(older_seed),
            younger_seed: Zeroizing::new(younger_seed),
            age,
            pairwise_key,
            leaves,
        })
    }

    /// Serialises for the wallet (CBOR map; see docs/formats.md). Contains
    /// personal data and secrets: store it encrypted.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let claims = self
            .values
            .iter()
            .filter_map(|(slot, value)| {
                let salt = self.salts.get(slot)?;
                Some(Value::Array(vec![
                    cbor::uint(*slot),
                    Value::Bytes(salt.to_vec()),
                    value.to_cbor(),
                ]))
            })
            .collect();
        let pairwise_salt = self
            .salts
            .get(&self.mso.doctype.pairwise_slot())
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let map = Value::Array(vec![
            cbor::uint(HOLDER_VERSION),
            Value::Bytes(self.mso_bytes.clone()),
            Value::Array(claims),
            Value::Bytes(self.older_seed.to_vec()),
            Value::Bytes(self.younger_seed.to_vec()),
            Value::Bytes(self.pairwise_key.to_vec()),
            Value::Bytes(pairwise_salt),
        ]);
        Zeroizing::new(cbor::encode(&map))
    }

    /// Reads a credential written by [`HolderCredential::to_bytes`] and checks
    /// that it is consistent (the claim tree gives the issuer-signed root).
    /// The issuer's signature itself is checked by verifiers.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CredentialError> {
        let what = "holder credential";
        let mut items = cbor::Items::new(cbor::decode(bytes, what)?, what)?;
        if items.uint()? != HOLDER_VERSION {
            return Err(CredentialError::Malformed("holder credential version"));
        }
        let mso_bytes = items.bytes()?;
        let sign1 = Sign1::parse(&mso_bytes, "issuer-signed data")?;
        let mso = Mso::from_cbor(sign1.payload())?;
        let mut salts = BTreeMap::new();
        let mut values = BTreeMap::new();
        for entry in items.array(what)?.rest() {
            let mut entry = cbor::Items::new(entry, what)?;
            let slot = u8::try_from(entry.uint()?).map_err(|_| CredentialError::Malformed(what))?;
            let claim =
                Claim::from_slot(mso.doctype, slot).ok_or(CredentialError::Malformed(what))?;
            salts.insert(slot, entry.fixed::<16>()?);
            values.insert(slot, ClaimValue::from_cbor(claim, entry.value()?)?);
            entry.end()?;
        }
        let older_seed = items.fixed::<16>()?;
        let younger_seed = items.fixed::<16>()?;
        let pairwise_key = Zeroizing::new(items.fixed::<32>()?);
        salts.insert(mso.doctype.pairwise_slot(), items.fixed::<16>()?);
        items.end()?;
        let holder = Self::assemble(
            mso,
            mso_bytes,
            salts,
            values,
            older_seed,
            younger_seed,
            pairwise_key,
        )?;
        if merkle::root(holder.mso.suite, &holder.leaves) != holder.mso.root {
            return Err(CredentialError::DigestMismatch);
        }
        Ok(holder)
    }

    pub fn suite(&self) -> Suite {
        self.mso.suite
    }

    /// The issuer key id (COSE `kid`) that signed this credential.
    pub fn issuer_key_id(&self) -> Result<Vec<u8>, CredentialError> {
        Ok(Sign1::parse(&self.mso_bytes, "issuer-signed data")?.kid)
    }

    pub fn doctype(&self) -> DocType {
        self.mso.doctype
    }

    pub fn claim(&self, claim: Claim) -> Option<&ClaimValue> {
        if claim.doctype() != self.mso.doctype {
            return None;
        }
        self.values.get(&claim.slot())
    }

    /// A text claim's value.
    pub fn text(&self, claim: Claim) -> Option<&str> {
        match self.claim(claim) {
            Some(ClaimValue::Text(t)) => Some(t),
            _ => None,
        }
    }

    pub fn network_id(&self) -> Option<&str> {
        self.text(Claim::NetworkId)
    }

    pub fn device_key(&self) -> &VerifyingKey {
        &self.mso.device_key
    }

    pub fn status_index(&self) -> u32 {
        self.mso.status_index
    }

    pub fn not_before(&self) -> i64 {
        self.mso.not_before
    }

    pub fn expires(&self) -> i64 {
        self.mso.expires
    }

    /// The pairwise identifier this holder presents to `audience`.
    pub fn pairwise_id(&self, audience: &str) -> String {
        pairwise_id(self.mso.suite, &self.pairwise_key, audience)
    }
}

/// `YYYY-MM-DD`, as written by `Date`'s `Display`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base32_rfc4648_vectors() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }
}
