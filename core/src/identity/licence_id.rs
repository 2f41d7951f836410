//! Electronic licence identifiers (GB/T 36904-2018).
//!
//! Format: `1.2.156.3005.2.{type code}.{issuer code}.{serial}.{version}.{check}`.
//!
//! * type code: 21 characters, the defining authority's 18-character unified
//!   social credit code followed by a 3-digit sequence number. The authority
//!   code must use the USCC character set (with digits in characters 3-8); its
//!   own check character is verified leniently (a wrong one is accepted,
//!   because circulated type codes are sometimes wrong) — see
//!   [`LicenceId::type_code_authority`] and [`Uscc::has_valid_check`].
//! * issuer code: the issuer's 18-character USCC, validated strictly.
//! * serial: the licence's own number. Design decision: 1 to 64 characters
//!   from `0-9A-Z` only (uppercase), because the check alphabet is `0-9A-Z`.
//! * version: exactly 3 digits (`000`-`999`).
//! * check: one ISO 7064 MOD 37,36 character (`0-9A-Z`), computed over the whole
//!   identifier with the dots removed and without the check character itself,
//!   i.e. over `1215630052` + type code + issuer code + serial + version.

use std::fmt;

use thiserror::Error;

use super::iso7064::mod_37_36_check;
use super::mask::mask_keep;
use super::uscc::{Uscc, UsccError};

/// The constant prefix of every licence identifier, including the trailing dot.
pub const LICENCE_ID_PREFIX: &str = "1.2.156.3005.2.";

/// The prefix without dots, as it enters the check character computation.
const PREFIX_CHECK_CHARS: &[u8] = b"1215630052";
/// Number of characters of the type code.
const TYPE_CODE_LEN: usize = 21;
/// Number of characters of the authority USCC at the start of the type code.
const AUTHORITY_LEN: usize = 18;
/// Number of characters of the issuer code.
const ISSUER_LEN: usize = 18;
/// Maximum number of characters of the serial.
const SERIAL_MAX_LEN: usize = 64;
/// Number of digits of the version.
const VERSION_LEN: usize = 3;
/// Number of dot-separated fields after the prefix.
const FIELD_COUNT: usize = 5;

/// Byte offsets inside the canonical string (all ASCII).
const TYPE_START: usize = LICENCE_ID_PREFIX.len();
const ISSUER_START: usize = TYPE_START + TYPE_CODE_LEN + 1;
const SERIAL_START: usize = ISSUER_START + ISSUER_LEN + 1;

/// Allowed characters of the serial and the check character.
const ALNUM_UPPER: &str = "a digit or an uppercase letter (0-9, A-Z)";

/// A valid GB/T 36904-2018 licence identifier (see the module documentation
/// for the exact rules, including the serial's character set and the check
/// character's input).
///
/// `Debug` and `Display` print a masked form: prefix, type code and issuer code
/// visible, the serial masked except its last 2 characters (entirely masked
/// if it has 2 characters or fewer), version and check visible.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LicenceId {
    /// Invariant: `PREFIX type.issuer.serial.version.check`, all ASCII, fields valid.
    code: String,
    /// Number of characters of the serial.
    serial_len: usize,
    /// Whether the authority USCC inside the type code has a correct check.
    authority_check_ok: bool,
}

/// A field of a licence identifier, named in [`LicenceIdError`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LicenceField {
    /// The 21-character licence type code.
    TypeCode,
    /// The issuer's 18-character credit code.
    IssuerCode,
    /// The licence serial number.
    Serial,
    /// The 3-digit version.
    Version,
    /// The check character.
    Check,
}

impl fmt::Display for LicenceField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TypeCode => "type code",
            Self::IssuerCode => "issuer code",
            Self::Serial => "serial number",
            Self::Version => "version",
            Self::Check => "check character",
        })
    }
}

/// Why a string is not a valid [`LicenceId`]. Messages never contain the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LicenceIdError {
    /// The identifier does not start with `1.2.156.3005.2.`.
    #[error("does not start with the licence identifier prefix \"1.2.156.3005.2.\"")]
    Prefix,
    /// The wrong number of dot-separated fields follow the prefix.
    #[error("expected {expected} dot-separated fields after the prefix, found {found}")]
    FieldCount {
        /// Expected number of fields (5).
        expected: usize,
        /// Number of fields found.
        found: usize,
    },
    /// A field has the wrong number of characters.
    #[error("the {field} has the wrong length: expected {}, found {found}", length_range(*min, *max))]
    FieldLength {
        /// The field.
        field: LicenceField,
        /// Minimum number of characters.
        min: usize,
        /// Maximum number of characters.
        max: usize,
        /// Number of characters (Unicode scalar values) found.
        found: usize,
    },
    /// A character is not allowed in its field.
    #[error("character {position} of the {field} is not allowed: expected {allowed}")]
    InvalidCharacter {
        /// The field.
        field: LicenceField,
        /// 1-based character position within the field.
        position: usize,
        /// Description of the allowed characters.
        allowed: &'static str,
    },
    /// The authority credit code at the start of the type code (characters
    /// 1-18) is malformed (its check character is not verified here).
    #[error("the type code's authority credit code (characters 1-18) is malformed: {0}")]
    TypeCodeAuthority(#[source] UsccError),
    /// The issuer code is not a valid credit code (strict, check included).
    #[error("the issuer code is not a valid credit code: {0}")]
    Issuer(#[source] UsccError),
    /// [`LicenceId::new`] got a version above 999.
    #[error("the version must be between 0 and 999")]
    VersionOutOfRange,
    /// The check character does not match.
    #[error("wrong check character: expected '{expected}', found '{found}'")]
    CheckMismatch {
        /// Check character computed from the other characters.
        expected: char,
        /// Check character present in the input.
        found: char,
    },
}

impl LicenceIdError {
    /// Stable error code (`YW-1021`..`YW-1029`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Prefix => "YW-1021",
            Self::FieldCount { .. } => "YW-1022",
            Self::FieldLength { .. } => "YW-1023",
            Self::InvalidCharacter { .. } => "YW-1024",
            Self::TypeCodeAuthority(_) => "YW-1025",
            Self::Issuer(_) => "YW-1026",
            Self::VersionOutOfRange => "YW-1027",
            Self::CheckMismatch { .. } => "YW-1028",
        }
    }
}

/// "21 characters" or "1 to 64 characters".
fn length_range(min: usize, max: usize) -> String {
    if min == max {
        format!("{min} characters")
    } else {
        format!("{min} to {max} characters")
    }
}

impl LicenceId {
    /// Builds an identifier from its variable fields and computes the check
    /// character. `version` is written as 3 digits (`1` → `001`).
    pub fn new(
        type_code: &str,
        issuer: &Uscc,
        serial: &str,
        version: u16,
    ) -> Result<Self, LicenceIdError> {
        let authority_check_ok = validate_type_code(type_code)?;
        // Re-validate strictly: a leniently parsed issuer is not acceptable.
        let issuer = Uscc::parse(issuer.as_str()).map_err(LicenceIdError::Issuer)?;
        validate_serial(serial)?;
        if version > 999 {
            return Err(LicenceIdError::VersionOutOfRange);
        }
        let version = format!("{version:03}");
        let check = compute_check(type_code, issuer.as_str(), serial, &version);
        let code = format!(
            "{LICENCE_ID_PREFIX}{type_code}.{}.{serial}.{version}.{check}",
            issuer.as_str()
        );
        Ok(Self {
            code,
            serial_len: serial.len(),
            authority_check_ok,
        })
    }

    /// Parses an identifier. Checks, in order: prefix, number of fields, type
    /// code, issuer code, serial, version, check character.
    pub fn parse(s: &str) -> Result<Self, LicenceIdError> {
        let rest = s
            .strip_prefix(LICENCE_ID_PREFIX)
            .ok_or(LicenceIdError::Prefix)?;
        let found = rest.split('.').count();
        if found != FIELD_COUNT {
            return Err(LicenceIdError::FieldCount {
                expected: FIELD_COUNT,
                found,
            });
        }
        let mut fields = rest.split('.');
        let mut next = || fields.next().unwrap_or_default();
        let (type_code, issuer, serial, version, check) = (next(), next(), next(), next(), next());

        let authority_check_ok = validate_type_code(type_code)?;
        Uscc::parse(issuer).map_err(LicenceIdError::Issuer)?;
        validate_serial(serial)?;
        validate_version(version)?;
        let found_check = validate_check_field(check)?;

        let expected = compute_check(type_code, issuer, serial, version);
        if expected != found_check {
            return Err(LicenceIdError::CheckMismatch {
                expected,
                found: found_check,
            });
        }
        Ok(Self {
            code: s.to_owned(),
            serial_len: serial.len(),
            authority_check_ok,
        })
    }

    /// The full identifier.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The masked form (serial masked except its last 2 characters).
    pub fn masked(&self) -> String {
        format!(
            "{LICENCE_ID_PREFIX}{}.{}.{}.{}.{}",
            self.type_code(),
            self.issuer_code(),
            mask_keep(self.serial(), 0, 2),
            self.version_str(),
            self.check_character()
        )
    }

    /// The 21-character type code.
    pub fn type_code(&self) -> &str {
        &self.code[TYPE_START..TYPE_START + TYPE_CODE_LEN]
    }

    /// The defining authority's credit code (type code characters 1-18). Its
    /// check character was verified leniently: see [`Uscc::has_valid_check`].
    pub fn type_code_authority(&self) -> Uscc {
        Uscc::from_validated(
            &self.code[TYPE_START..TYPE_START + AUTHORITY_LEN],
            self.authority_check_ok,
        )
    }

    /// The 3-digit sequence number at the end of the type code.
    pub fn type_code_sequence(&self) -> &str {
        &self.code[TYPE_START + AUTHORITY_LEN..TYPE_START + TYPE_CODE_LEN]
    }

    /// The issuer's credit code (validated strictly).
    pub fn issuer(&self) -> Uscc {
        Uscc::from_validated(self.issuer_code(), true)
    }

    /// The licence serial number.
    pub fn serial(&self) -> &str {
        &self.code[SERIAL_START..SERIAL_START + self.serial_len]
    }

    /// Whether `other` is a version of the same licence: the same type,
    /// issuer and serial (an update changes only the version).
    pub fn same_licence(&self, other: &LicenceId) -> bool {
        self.type_code() == other.type_code()
            && self.issuer_code() == other.issuer_code()
            && self.serial() == other.serial()
    }

    /// The version (0-999).
    pub fn version(&self) -> u16 {
        self.version_str()
            .bytes()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d.wrapping_sub(b'0')))
    }

    /// The check character.
    pub fn check_character(&self) -> char {
        // Invariant: the code is non-empty ASCII ending with the check character.
        self.code.chars().next_back().unwrap_or('?')
    }

    fn issuer_code(&self) -> &str {
        &self.code[ISSUER_START..ISSUER_START + ISSUER_LEN]
    }

    fn version_str(&self) -> &str {
        let start = SERIAL_START + self.serial_len + 1;
        &self.code[start..start + VERSION_LEN]
    }
}

/// Validates a type code; returns whether its authority USCC check matches.
fn validate_type_code(type_code: &str) -> Result<bool, LicenceIdError> {
    let found = type_code.chars().count();
    if found != TYPE_CODE_LEN {
        return Err(LicenceIdError::FieldLength {
            field: LicenceField::TypeCode,
            min: TYPE_CODE_LEN,
            max: TYPE_CODE_LEN,
            found,
        });
    }
    // Split after the 18th character (byte offset, safe for multi-byte input).
    let split = type_code
        .char_indices()
        .nth(AUTHORITY_LEN)
        .map_or(type_code.len(), |(i, _)| i);
    let (authority, sequence) = type_code.split_at(split);
    let (uscc, warning) =
        Uscc::parse_lenient(authority).map_err(LicenceIdError::TypeCodeAuthority)?;
    debug_assert_eq!(uscc.has_valid_check(), warning.is_none());
    if let Some(i) = sequence.chars().position(|c| !c.is_ascii_digit()) {
        return Err(LicenceIdError::InvalidCharacter {
            field: LicenceField::TypeCode,
            position: AUTHORITY_LEN + i + 1,
            allowed: "a digit (characters 19-21 are a sequence number)",
        });
    }
    Ok(uscc.has_valid_check())
}

fn validate_serial(serial: &str) -> Result<(), LicenceIdError> {
    let found = serial.chars().count();
    if !(1..=SERIAL_MAX_LEN).contains(&found) {
        return Err(LicenceIdError::FieldLength {
            field: LicenceField::Serial,
            min: 1,
            max: SERIAL_MAX_LEN,
            found,
        });
    }
    if let Some(i) = serial.chars().position(|c| !is_alnum_upper(c)) {
        return Err(LicenceIdError::InvalidCharacter {
            field: LicenceField::Serial,
            position: i + 1,
            allowed: ALNUM_UPPER,
        });
    }
    Ok(())
}

fn validate_version(version: &str) -> Result<(), LicenceIdError> {
    let found = version.chars().count();
    if found != VERSION_LEN {
        return Err(LicenceIdError::FieldLength {
            field: LicenceField::Version,
            min: VERSION_LEN,
            max: VERSION_LEN,
            found,
        });
    }
    if let Some(i) = version.chars().position(|c| !c.is_ascii_digit()) {
        return Err(LicenceIdError::InvalidCharacter {
            field: LicenceField::Version,
            position: i + 1,
            allowed: "a digit",
        });
    }
    Ok(())
}

/// Validates the check field and returns its character.
fn validate_check_field(check: &str) -> Result<char, LicenceIdError> {
    let mut chars = check.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if is_alnum_upper(c) => Ok(c),
        (Some(_), None) => Err(LicenceIdError::InvalidCharacter {
            field: LicenceField::Check,
            position: 1,
            allowed: ALNUM_UPPER,
        }),
        _ => Err(LicenceIdError::FieldLength {
            field: LicenceField::Check,
            min: 1,
            max: 1,
            found: check.chars().count(),
        }),
    }
}

fn is_alnum_upper(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase()
}

/// MOD 37,36 check over `1215630052` + the validated variable fields.
fn compute_check(type_code: &str, issuer: &str, serial: &str, version: &str) -> char {
    let chars = PREFIX_CHECK_CHARS
        .iter()
        .chain(type_code.as_bytes())
        .chain(issuer.as_bytes())
        .chain(serial.as_bytes())
        .chain(version.as_bytes())
        .copied();
    // All fields were validated to be in 0-9A-Z, so the check always exists.
    mod_37_36_check(chars).map_or('?', char::from)
}

string_newtype_impls!(LicenceId, LicenceIdError);

impl fmt::Display for LicenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for LicenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LicenceId").field(&self.masked()).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::iso7064::mod_37_36_is_valid;
    use super::*;

    const TYPE_CODE: &str = "11100000000013338W011";
    const ISSUER: &str = "91350100M000100Y43";
    const SERIAL: &str = "2024FJ000123";

    fn sample() -> LicenceId {
        LicenceId::new(TYPE_CODE, &Uscc::parse(ISSUER).unwrap(), SERIAL, 1).unwrap()
    }

    /// Replaces the character at char index `i`.
    fn replace_at(s: &str, i: usize, c: char) -> String {
        s.chars()
            .enumerate()
            .map(|(j, d)| if i == j { c } else { d })
            .collect()
    }

    #[test]
    fn new_then_parse_round_trip() {
        let id = sample();
        let s = id.as_str();
        assert!(s.starts_with("1.2.156.3005.2.11100000000013338W011.91350100M000100Y43."));
        assert!(s.contains(".2024FJ000123.001."));
        let parsed = LicenceId::parse(s).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.type_code(), TYPE_CODE);
        assert_eq!(parsed.type_code_authority().as_str(), "11100000000013338W");
        assert_eq!(parsed.type_code_sequence(), "011");
        assert_eq!(parsed.issuer(), Uscc::parse(ISSUER).unwrap());
        assert_eq!(parsed.serial(), SERIAL);
        assert_eq!(parsed.version(), 1);
        assert_eq!(Some(parsed.check_character()), s.chars().last());
    }

    #[test]
    fn check_is_over_whole_string_without_dots() {
        let id = sample();
        let without_dots: Vec<u8> = id.as_str().bytes().filter(|&b| b != b'.').collect();
        assert!(without_dots.starts_with(b"1215630052"));
        assert!(mod_37_36_is_valid(&without_dots));
    }

    #[test]
    fn every_single_substitution_detected() {
        let id = sample();
        let s = id.as_str();
        let pool = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZx.*中";
        for i in 0..s.chars().count() {
            for c in pool.chars() {
                let bad = replace_at(s, i, c);
                if bad != s {
                    assert!(LicenceId::parse(&bad).is_err(), "position {i} -> {c}");
                }
            }
        }
    }

    #[test]
    fn wrong_check_names_expected() {
        let id = sample();
        let s = id.as_str();
        let good = id.check_character();
        let other = if good == 'A' { 'B' } else { 'A' };
        let bad = replace_at(s, s.len() - 1, other);
        let err = LicenceId::parse(&bad).unwrap_err();
        assert_eq!(
            err,
            LicenceIdError::CheckMismatch {
                expected: good,
                found: other
            }
        );
        assert_eq!(err.code(), "YW-1028");
        assert!(err.to_string().contains(&format!("expected '{good}'")));
    }

    #[test]
    fn wrong_prefix() {
        let id = sample();
        let bad = id
            .as_str()
            .replacen("1.2.156.3005.2.", "1.2.156.3005.3.", 1);
        assert_eq!(LicenceId::parse(&bad), Err(LicenceIdError::Prefix));
        assert_eq!(LicenceId::parse(""), Err(LicenceIdError::Prefix));
        assert_eq!(LicenceId::parse("1.2.156"), Err(LicenceIdError::Prefix));
    }

    #[test]
    fn wrong_version_length() {
        let id = sample();
        let bad = id.as_str().replace(".001.", ".01.");
        assert_eq!(
            LicenceId::parse(&bad),
            Err(LicenceIdError::FieldLength {
                field: LicenceField::Version,
                min: 3,
                max: 3,
                found: 2
            })
        );
        let bad = id.as_str().replace(".001.", ".0A1.");
        assert_eq!(
            LicenceId::parse(&bad).unwrap_err().code(),
            LicenceIdError::InvalidCharacter {
                field: LicenceField::Version,
                position: 2,
                allowed: "a digit"
            }
            .code()
        );
        let issuer = Uscc::parse(ISSUER).unwrap();
        assert_eq!(
            LicenceId::new(TYPE_CODE, &issuer, SERIAL, 1000),
            Err(LicenceIdError::VersionOutOfRange)
        );
        let max = LicenceId::new(TYPE_CODE, &issuer, SERIAL, 999).unwrap();
        assert_eq!(LicenceId::parse(max.as_str()).unwrap().version(), 999);
        let zero = LicenceId::new(TYPE_CODE, &issuer, SERIAL, 0).unwrap();
        assert!(zero.as_str().contains(".000."));
    }

    #[test]
    fn issuer_with_bad_check_rejected() {
        let (lenient, warning) = Uscc::parse_lenient("91350100M000100Y44").unwrap();
        assert!(warning.is_some());
        let err = LicenceId::new(TYPE_CODE, &lenient, SERIAL, 1).unwrap_err();
        assert_eq!(
            err,
            LicenceIdError::Issuer(UsccError::CheckMismatch {
                expected: '3',
                found: '4'
            })
        );
        assert_eq!(err.code(), "YW-1026");
        // The same through parse, with a recomputed overall check so only the
        // issuer is wrong.
        let issuer = "91350100M000100Y44";
        let check = compute_check(TYPE_CODE, issuer, SERIAL, "001");
        let s = format!("{LICENCE_ID_PREFIX}{TYPE_CODE}.{issuer}.{SERIAL}.001.{check}");
        assert!(matches!(
            LicenceId::parse(&s),
            Err(LicenceIdError::Issuer(_))
        ));
    }

    #[test]
    fn type_code_authority_check_is_lenient() {
        let issuer = Uscc::parse(ISSUER).unwrap();
        // Break the authority's USCC check but keep its character set.
        let type_code = "11100000000013338X011";
        let id = LicenceId::new(type_code, &issuer, SERIAL, 2).unwrap();
        let parsed = LicenceId::parse(id.as_str()).unwrap();
        assert!(!parsed.type_code_authority().has_valid_check());
        assert!(sample().type_code_authority().has_valid_check());
        // A bad character in the authority part is rejected.
        let err = LicenceId::new("11100000000013338O011", &issuer, SERIAL, 2).unwrap_err();
        assert_eq!(
            err,
            LicenceIdError::TypeCodeAuthority(UsccError::InvalidCharacter { position: 18 })
        );
        let err = LicenceId::new("11100000000013338W0A1", &issuer, SERIAL, 2).unwrap_err();
        assert_eq!(err.code(), "YW-1024");
        let err = LicenceId::new("11100000000013338W01", &issuer, SERIAL, 2).unwrap_err();
        assert_eq!(err.code(), "YW-1023");
    }

    #[test]
    fn serial_rules() {
        let issuer = Uscc::parse(ISSUER).unwrap();
        let long = "A".repeat(64);
        assert!(LicenceId::new(TYPE_CODE, &issuer, &long, 1).is_ok());
        let too_long = "A".repeat(65);
        assert_eq!(
            LicenceId::new(TYPE_CODE, &issuer, &too_long, 1),
            Err(LicenceIdError::FieldLength {
                field: LicenceField::Serial,
                min: 1,
                max: 64,
                found: 65
            })
        );
        assert_eq!(
            LicenceId::new(TYPE_CODE, &issuer, "", 1)
                .unwrap_err()
                .code(),
            "YW-1023"
        );
        assert_eq!(
            LicenceId::new(TYPE_CODE, &issuer, "ab12", 1),
            Err(LicenceIdError::InvalidCharacter {
                field: LicenceField::Serial,
                position: 1,
                allowed: ALNUM_UPPER
            })
        );
        assert_eq!(
            LicenceId::new(TYPE_CODE, &issuer, "AB-1", 1)
                .unwrap_err()
                .code(),
            "YW-1024"
        );
        let msg = LicenceId::new(TYPE_CODE, &issuer, "", 1)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "the serial number has the wrong length: expected 1 to 64 characters, found 0"
        );
    }

    #[test]
    fn structural_errors_and_multibyte() {
        let id = sample();
        let s = id.as_str();
        assert_eq!(
            LicenceId::parse(&format!("{s}.1")),
            Err(LicenceIdError::FieldCount {
                expected: 5,
                found: 6
            })
        );
        assert_eq!(
            LicenceId::parse("1.2.156.3005.2."),
            Err(LicenceIdError::FieldCount {
                expected: 5,
                found: 1
            })
        );
        let multibyte = replace_at(s, 20, '中');
        assert!(matches!(
            LicenceId::parse(&multibyte),
            Err(LicenceIdError::TypeCodeAuthority(
                UsccError::InvalidCharacter { position: 6 }
            )) | Err(LicenceIdError::TypeCodeAuthority(
                UsccError::DivisionCodeNotDigit { position: 6 }
            ))
        ));
        let multibyte_check = replace_at(s, s.len() - 1, 'é');
        assert_eq!(
            LicenceId::parse(&multibyte_check),
            Err(LicenceIdError::InvalidCharacter {
                field: LicenceField::Check,
                position: 1,
                allowed: ALNUM_UPPER
            })
        );
        let lower_check = format!("{}a", &s[..s.len() - 1]);
        assert_eq!(
            LicenceId::parse(&lower_check).unwrap_err().code(),
            "YW-1024"
        );
        let two_char_check = format!("{s}A");
        assert_eq!(
            LicenceId::parse(&two_char_check).unwrap_err().code(),
            "YW-1023"
        );
        // The 21st character of the type code replaced by a 3-byte char: still
        // 21 characters, a clean error, no slicing panic.
        let type_multibyte = replace_at(s, TYPE_START + 20, '中');
        assert_eq!(
            LicenceId::parse(&type_multibyte).unwrap_err().code(),
            "YW-1024"
        );
        let type_multibyte = replace_at(s, TYPE_START + 17, '中');
        assert_eq!(
            LicenceId::parse(&type_multibyte).unwrap_err().code(),
            "YW-1025"
        );
    }

    #[test]
    fn debug_and_display_are_masked() {
        let id = sample();
        let full = id.as_str();
        let debug = format!("{id:?}");
        let display = format!("{id}");
        assert!(!debug.contains(full), "{debug}");
        assert!(!display.contains(full), "{display}");
        assert!(!display.contains(SERIAL));
        assert!(display.contains(".**********23.001."), "{display}");
        assert!(display.starts_with("1.2.156.3005.2.11100000000013338W011.91350100M000100Y43."));
        assert!(display.ends_with(&format!(".001.{}", id.check_character())));
        let short = LicenceId::new(TYPE_CODE, &Uscc::parse(ISSUER).unwrap(), "7", 1).unwrap();
        assert!(!short.to_string().contains(".7."));
    }

    #[test]
    fn serde_round_trip_and_rejection() {
        let id = sample();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.as_str()));
        assert_eq!(serde_json::from_str::<LicenceId>(&json).unwrap(), id);
        let bad = json.replace(".001.", ".002.");
        assert!(serde_json::from_str::<LicenceId>(&bad).is_err());
        assert!(serde_json::from_str::<LicenceId>("\"1.2.156.3005.2.\"").is_err());
        let via: LicenceId = id.as_str().parse().unwrap();
        assert_eq!(via, LicenceId::try_from(id.as_str()).unwrap());
    }
}
