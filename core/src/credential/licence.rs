//! E-licences (电子证照): the GB/T 36903 core metadata, issued as a signed
//! document of [`DocType::Licence`] with the same tree, suites and
//! presentation as the 网证.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, Time, UtcOffset};

use super::issuer::parse_date;
use super::{Claim, ClaimValue, CredentialError, DocType, HolderCredential, Issuer};
use crate::crypto::VerifyingKey;
use crate::identity::{IdNumber, LicenceId, RegionCode, Uscc, mask_name};

/// Longest reason for use (用证事由), in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// What `valid_until` says for a licence without an end date.
pub const LONG_TERM: &str = "长期";

/// Who holds a licence: a citizen (code type 111) or an organisation (001).
#[derive(Clone, PartialEq, Eq)]
pub enum HolderCode {
    Citizen(IdNumber),
    Organisation(Uscc),
}

impl HolderCode {
    /// 持证主体代码类型.
    pub fn code_type(&self) -> &'static str {
        match self {
            HolderCode::Citizen(_) => "111",
            HolderCode::Organisation(_) => "001",
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            HolderCode::Citizen(id) => id.as_str(),
            HolderCode::Organisation(uscc) => uscc.as_str(),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            HolderCode::Citizen(id) => id.masked(),
            HolderCode::Organisation(uscc) => uscc.masked(),
        }
    }
}

impl fmt::Debug for HolderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HolderCode({}, {})", self.code_type(), self.masked())
    }
}

/// An e-licence's core metadata (GB/T 36903). The type code and the issuer
/// code are those of the identifier, so they cannot disagree with it.
#[derive(Clone, PartialEq, Eq)]
pub struct Licence {
    /// 证照名称, e.g. 结婚证.
    pub name: String,
    /// 证照标识 (GB/T 36904); carries the type code and the issuer's USCC.
    pub identifier: LicenceId,
    /// 证照编号, the number printed on the licence.
    pub number: String,
    /// 颁发机构.
    pub issuer_name: String,
    /// 颁发日期.
    pub issue_date: Date,
    /// 持证主体.
    pub holder_name: String,
    /// 持证主体代码 and its type.
    pub holder: HolderCode,
    /// 有效期起始.
    pub valid_from: Date,
    /// 有效期截止; `None` is 长期 (no end).
    pub valid_until: Option<Date>,
    /// 证照所属管辖属地编码.
    pub jurisdiction: RegionCode,
}

impl fmt::Debug for Licence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Licence")
            .field("name", &self.name)
            .field("identifier", &self.identifier)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

fn text_ok(text: &str, max: usize) -> bool {
    let chars = text.chars().count();
    chars > 0 && chars <= max && !text.chars().any(char::is_control) && text.trim() == text
}

impl Licence {
    fn validate(&self) -> Result<(), CredentialError> {
        let bad = CredentialError::InvalidEnrolment;
        if !text_ok(&self.name, 64) {
            return Err(bad("licence name must be 1 to 64 characters"));
        }
        if !text_ok(&self.number, 64) {
            return Err(bad("licence number must be 1 to 64 characters"));
        }
        if !text_ok(&self.issuer_name, 128) || !text_ok(&self.holder_name, 128) {
            return Err(bad("issuer and holder names must be 1 to 128 characters"));
        }
        if self.valid_until.is_some_and(|end| end < self.valid_from) {
            return Err(bad("validity ends before it starts"));
        }
        if self.issue_date > self.valid_until.unwrap_or(Date::MAX) {
            return Err(bad("issued after the end of validity"));
        }
        Ok(())
    }

    /// The claim values, by slot.
    fn values(&self) -> BTreeMap<u8, ClaimValue> {
        let holder_name_masked = match self.holder {
            HolderCode::Citizen(_) => mask_name(&self.holder_name),
            HolderCode::Organisation(_) => self.holder_name.clone(),
        };
        let until = self
            .valid_until
            .map_or_else(|| LONG_TERM.to_owned(), |d| d.to_string());
        [
            (Claim::LicenceName, self.name.clone()),
            (Claim::TypeCode, self.identifier.type_code().to_owned()),
            (Claim::Number, self.number.clone()),
            (Claim::Identifier, self.identifier.as_str().to_owned()),
            (Claim::IssuerName, self.issuer_name.clone()),
            (
                Claim::IssuerCode,
                self.identifier.issuer().as_str().to_owned(),
            ),
            (Claim::IssueDate, self.issue_date.to_string()),
            (Claim::HolderName, self.holder_name.clone()),
            (Claim::HolderCode, self.holder.as_str().to_owned()),
            (Claim::HolderCodeType, self.holder.code_type().to_owned()),
            (Claim::ValidFrom, self.valid_from.to_string()),
            (Claim::ValidUntil, until),
            (Claim::Jurisdiction, self.jurisdiction.as_str().to_owned()),
            (Claim::HolderNameMasked, holder_name_masked),
            (Claim::HolderCodeMasked, self.holder.masked()),
        ]
        .into_iter()
        .map(|(claim, value)| (claim.slot(), ClaimValue::Text(value)))
        .collect()
    }

    /// Reads the JSON an issuing department sends (see docs/formats.md).
    pub fn from_json(json: &str) -> Result<Self, CredentialError> {
        let raw: RawLicence = serde_json::from_str(json).map_err(|_| {
            CredentialError::InvalidEnrolment("licence JSON does not match the format")
        })?;
        raw.try_into()
    }

    /// The JSON of [`Licence::from_json`] (contains the holder's number).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&RawLicence::from(self)).unwrap_or_default()
    }
}

impl From<&Licence> for RawLicence {
    fn from(l: &Licence) -> Self {
        RawLicence {
            name: l.name.clone(),
            identifier: l.identifier.as_str().to_owned(),
            number: l.number.clone(),
            issuer_name: l.issuer_name.clone(),
            issue_date: l.issue_date.to_string(),
            holder_name: l.holder_name.clone(),
            holder_code: l.holder.as_str().to_owned(),
            holder_code_type: l.holder.code_type().to_owned(),
            valid_from: l.valid_from.to_string(),
            valid_until: Some(
                l.valid_until
                    .map_or_else(|| LONG_TERM.to_owned(), |d| d.to_string()),
            ),
            jurisdiction: l.jurisdiction.as_str().to_owned(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLicence {
    name: String,
    identifier: String,
    number: String,
    issuer_name: String,
    issue_date: String,
    holder_name: String,
    holder_code: String,
    holder_code_type: String,
    valid_from: String,
    valid_until: Option<String>,
    jurisdiction: String,
}

impl TryFrom<RawLicence> for Licence {
    type Error = CredentialError;

    fn try_from(raw: RawLicence) -> Result<Self, CredentialError> {
        let bad = CredentialError::InvalidEnrolment;
        let date = |text: &str, what| parse_date(text).ok_or(bad(what));
        let holder = match raw.holder_code_type.as_str() {
            "111" => HolderCode::Citizen(
                IdNumber::parse(&raw.holder_code)
                    .map_err(|_| bad("holder_code is not a valid ID number"))?,
            ),
            "001" => HolderCode::Organisation(
                Uscc::parse(&raw.holder_code)
                    .map_err(|_| bad("holder_code is not a valid USCC"))?,
            ),
            _ => return Err(bad("holder_code_type must be 111 or 001")),
        };
        let valid_until = match raw.valid_until.as_deref() {
            None | Some(LONG_TERM) => None,
            Some(text) => Some(date(text, "valid_until must be YYYY-MM-DD or 长期")?),
        };
        let licence = Licence {
            name: raw.name,
            identifier: LicenceId::parse(&raw.identifier)
                .map_err(|_| bad("identifier is not a valid GB/T 36904 identifier"))?,
            number: raw.number,
            issuer_name: raw.issuer_name,
            issue_date: date(&raw.issue_date, "issue_date must be YYYY-MM-DD")?,
            holder_name: raw.holder_name,
            holder,
            valid_from: date(&raw.valid_from, "valid_from must be YYYY-MM-DD")?,
            valid_until,
            jurisdiction: RegionCode::parse(&raw.jurisdiction)
                .map_err(|_| bad("jurisdiction is not a region code"))?,
        };
        licence.validate()?;
        Ok(licence)
    }
}

/// The last second of `date` in China Standard Time.
fn end_of_day(date: Date) -> i64 {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    OffsetDateTime::new_in_offset(date, Time::MIDNIGHT, offset).unix_timestamp() + 86_399
}

/// Signed validity of a long-term licence: 30 years, then re-signed.
const LONG_TERM_SIGNATURE_SECS: i64 = 30 * 365 * 86_400;

impl Issuer {
    /// Issues an e-licence to the holder's device key. The signed document is
    /// valid until the licence's own end date (end of that day, CST).
    pub fn issue_licence(
        &self,
        licence: &Licence,
        device_key: &VerifyingKey,
        status_index: u32,
        now: i64,
    ) -> Result<HolderCredential, CredentialError> {
        licence.validate()?;
        let expires = licence
            .valid_until
            .map_or(now.saturating_add(LONG_TERM_SIGNATURE_SECS), end_of_day);
        if expires <= now {
            return Err(CredentialError::InvalidEnrolment(
                "the licence has already expired",
            ));
        }
        self.sign_document(
            DocType::Licence,
            licence.values(),
            device_key,
            status_index,
            now,
            expires,
            // Pairwise ids of a licence are per holder and relying party, as for the 网证.
            licence.holder.as_str(),
        )
    }
}

impl HolderCredential {
    /// For a licence: its end of validity (`None` for 长期 or for the 网证).
    pub fn valid_until(&self) -> Option<Date> {
        self.text(Claim::ValidUntil).and_then(parse_date)
    }

    /// For a licence: a reference to use it in an application form instead of
    /// a photocopy, with the reason for use (用证事由, 1 to 200 characters).
    pub fn licence_reference(&self, reason: &str) -> Result<serde_json::Value, CredentialError> {
        let identifier = self
            .text(Claim::Identifier)
            .ok_or(CredentialError::InvalidRequest("not a licence"))?;
        let chars = reason.trim().chars().count();
        if chars == 0 || chars > MAX_REASON_CHARS {
            return Err(CredentialError::InvalidRequest(
                "the reason for use must be 1 to 200 characters",
            ));
        }
        Ok(serde_json::json!({ "licence_id": identifier, "reason": reason.trim() }))
    }
}
