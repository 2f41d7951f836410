//! Chinese identity numbers: citizen ID numbers (GB 11643-1999), unified social
//! credit codes (GB 32100-2015), electronic licence identifiers (GB/T 36904-2018)
//! and administrative region codes (GB/T 2260).
//!
//! Every type here follows "parse, don't validate": a value can only be built by
//! parsing (or, for [`LicenceId`], by [`LicenceId::new`]), so holding one proves
//! it is well formed. The full value of the personal or organisational numbers
//! ([`IdNumber`], [`Uscc`], [`LicenceId`]) is only available through `as_str()`
//! (and serde serialisation); `Debug` and `Display` print the masked form.
//!
//! Error messages never echo the input: they name positions, lengths and, for
//! check character mismatches, the expected and found check characters only.
//! Each error has a stable `code()` (`YW-10xx`) for clients and logs.

/// Implements `FromStr`, `TryFrom<&str>`, `TryFrom<String>`, `Serialize` (the
/// canonical full string) and `Deserialize` (parses, rejecting invalid input)
/// for a newtype that has `parse(&str) -> Result<Self, $err>` and `as_str()`.
macro_rules! string_newtype_impls {
    ($ty:ident, $err:ident) => {
        impl ::core::str::FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $err;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $err;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                // The error's Display never contains the input, so it is safe to surface.
                Self::parse(&s).map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    };
}

mod id_number;
mod iso7064;
mod licence_id;
mod mask;
mod region;
mod uscc;

pub use id_number::{IdNumber, IdNumberError, Sex};
pub use licence_id::{LICENCE_ID_PREFIX, LicenceField, LicenceId, LicenceIdError};
pub use mask::{mask_name, mask_phone};
pub use region::{RegionCode, RegionCodeError};
pub use uscc::{DivisionCode, Uscc, UsccError, UsccWarning};

/// Prefix shared by all licence identifiers (and other GB/T 36904 style OIDs);
/// used by [`recognise`] to route a string to [`LicenceId::parse`].
const LICENCE_OID_ROOT: &str = "1.2.156.3005.";

/// Stable code for a string that [`recognise`] routes to no kind at all.
pub const UNRECOGNISED_CODE: &str = "YW-1000";

/// Which kind of identity number a string looks like (see [`recognise`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentityKind {
    /// Citizen ID number (GB 11643-1999), 18 or legacy 15 characters.
    IdNumber,
    /// Unified social credit code (GB 32100-2015).
    Uscc,
    /// Electronic licence identifier (GB/T 36904-2018).
    LicenceId,
    /// None of the above.
    Unknown,
}

/// Result of [`recognise`]: the kind the string was routed to and the outcome
/// of parsing it as that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognised {
    /// Routed to [`IdNumber`] (a 15-digit legacy number is upgraded to 18).
    IdNumber(Result<IdNumber, IdNumberError>),
    /// Routed to [`Uscc`] (strict parsing).
    Uscc(Result<Uscc, UsccError>),
    /// Routed to [`LicenceId`].
    LicenceId(Result<LicenceId, LicenceIdError>),
    /// The string does not look like any supported identity number.
    Unknown,
}

impl Recognised {
    /// The kind the string was routed to.
    pub fn kind(&self) -> IdentityKind {
        match self {
            Self::IdNumber(_) => IdentityKind::IdNumber,
            Self::Uscc(_) => IdentityKind::Uscc,
            Self::LicenceId(_) => IdentityKind::LicenceId,
            Self::Unknown => IdentityKind::Unknown,
        }
    }

    /// Whether the string was routed to a kind and parsed successfully.
    pub fn is_valid(&self) -> bool {
        match self {
            Self::IdNumber(r) => r.is_ok(),
            Self::Uscc(r) => r.is_ok(),
            Self::LicenceId(r) => r.is_ok(),
            Self::Unknown => false,
        }
    }
}

/// Guesses which identity number `s` is and parses it as that kind.
///
/// The input is not trimmed or case-folded. Rules, in order:
/// 1. starts with `1.2.156.3005.` → [`LicenceId::parse`];
/// 2. exactly 15 characters, all ASCII digits → [`IdNumber::from_legacy_15`];
/// 3. exactly 18 characters whose first 17 are ASCII digits → [`IdNumber::parse`];
///    if that fails but the string is a valid (strict) [`Uscc`], the USCC is
///    returned instead (a USCC may consist of digits only); otherwise the ID
///    number error is returned. A string valid as both is an ID number.
/// 4. any other 18-character string → [`Uscc::parse`] (strict);
/// 5. anything else → [`Recognised::Unknown`].
pub fn recognise(s: &str) -> Recognised {
    if s.starts_with(LICENCE_OID_ROOT) {
        return Recognised::LicenceId(LicenceId::parse(s));
    }
    // Cheap byte-length pre-filter: 15 or 18 characters take at least 15 and
    // at most 18 * 4 bytes.
    if s.len() < 15 || s.len() > 72 {
        return Recognised::Unknown;
    }
    match s.chars().count() {
        15 if s.bytes().all(|b| b.is_ascii_digit()) => {
            Recognised::IdNumber(IdNumber::from_legacy_15(s))
        }
        18 if s.chars().take(17).all(|c| c.is_ascii_digit()) => match IdNumber::parse(s) {
            Ok(id) => Recognised::IdNumber(Ok(id)),
            Err(id_err) => match Uscc::parse(s) {
                Ok(uscc) => Recognised::Uscc(Ok(uscc)),
                Err(_) => Recognised::IdNumber(Err(id_err)),
            },
        },
        18 => Recognised::Uscc(Uscc::parse(s)),
        _ => Recognised::Unknown,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const ID: &str = "11010519491231002X";
    const USCC: &str = "91350100M000100Y43";

    #[test]
    fn recognise_id_number() {
        let r = recognise(ID);
        assert_eq!(r.kind(), IdentityKind::IdNumber);
        assert!(r.is_valid());
    }

    #[test]
    fn recognise_legacy_id_number_is_upgraded() {
        match recognise("110105491231002") {
            Recognised::IdNumber(Ok(id)) => assert_eq!(id.as_str(), ID),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn recognise_invalid_id_number_reports_id_error() {
        match recognise("110105194912310021") {
            Recognised::IdNumber(Err(e)) => assert_eq!(e.code(), "YW-1008"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn recognise_uscc() {
        let r = recognise(USCC);
        assert_eq!(r.kind(), IdentityKind::Uscc);
        assert!(r.is_valid());
        // Wrong check: still routed to USCC, with an error.
        match recognise("91350100M000100Y44") {
            Recognised::Uscc(Err(e)) => assert_eq!(e.code(), "YW-1015"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn recognise_all_digit_uscc() {
        // 18 characters, first 17 digits, but "91" is not a province, so it is not
        // an ID number; it is a valid USCC (dept 9, type 1, division 350100).
        let body = "91350100123456789";
        let check = char::from(uscc::check_char_for_body(body.as_bytes()).unwrap());
        let s = format!("{body}{check}");
        assert!(IdNumber::parse(&s).is_err());
        match recognise(&s) {
            Recognised::Uscc(Ok(u)) => assert_eq!(u.as_str(), s),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn recognise_licence_id() {
        let issuer = Uscc::parse(USCC).unwrap();
        let lic = LicenceId::new("11100000000013338W011", &issuer, "AB12345", 1).unwrap();
        let r = recognise(lic.as_str());
        assert_eq!(r.kind(), IdentityKind::LicenceId);
        assert!(r.is_valid());
        match recognise("1.2.156.3005.9.x") {
            Recognised::LicenceId(Err(e)) => assert_eq!(e.code(), "YW-1021"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn recognise_unknown() {
        for s in [
            "",
            "hello",
            "12345",
            "1234567890123456",
            "身份证号码",
            "1.2.156.3004.2.",
            "11010519491231002X ",
        ] {
            assert_eq!(recognise(s).kind(), IdentityKind::Unknown, "{s}");
        }
        // Any other 18-character string is routed to the USCC parser.
        match recognise("中华人民共和国居民身份证号码是十八位") {
            Recognised::Uscc(Err(e)) => assert_eq!(e.code(), "YW-1012"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn error_codes_are_distinct_and_prefixed() {
        let uscc_err = UsccError::Length {
            expected: 18,
            found: 3,
        };
        let codes: Vec<&'static str> = vec![
            IdNumberError::Length {
                expected: 18,
                found: 3,
            }
            .code(),
            IdNumberError::NotDigit { position: 2 }.code(),
            IdNumberError::InvalidCheckCharacter.code(),
            IdNumberError::LowercaseCheckCharacter.code(),
            IdNumberError::UnknownRegion.code(),
            IdNumberError::InvalidBirthDate.code(),
            IdNumberError::BirthYearBefore1900.code(),
            IdNumberError::CheckMismatch {
                expected: 'X',
                found: '1',
            }
            .code(),
            UsccError::Length {
                expected: 18,
                found: 3,
            }
            .code(),
            UsccError::InvalidCharacter { position: 1 }.code(),
            UsccError::LowercaseCharacter { position: 1 }.code(),
            UsccError::DivisionCodeNotDigit { position: 3 }.code(),
            UsccError::CheckMismatch {
                expected: '3',
                found: '4',
            }
            .code(),
            LicenceIdError::Prefix.code(),
            LicenceIdError::FieldCount {
                expected: 5,
                found: 2,
            }
            .code(),
            LicenceIdError::FieldLength {
                field: LicenceField::Version,
                min: 3,
                max: 3,
                found: 2,
            }
            .code(),
            LicenceIdError::InvalidCharacter {
                field: LicenceField::Serial,
                position: 1,
                allowed: "x",
            }
            .code(),
            LicenceIdError::TypeCodeAuthority(uscc_err.clone()).code(),
            LicenceIdError::Issuer(uscc_err).code(),
            LicenceIdError::VersionOutOfRange.code(),
            LicenceIdError::CheckMismatch {
                expected: 'A',
                found: 'B',
            }
            .code(),
            RegionCodeError::Length {
                expected: 6,
                found: 1,
            }
            .code(),
            RegionCodeError::NotDigit { position: 1 }.code(),
            RegionCodeError::UnknownProvince.code(),
        ];
        let unique: HashSet<_> = codes.iter().collect();
        assert_eq!(
            unique.len(),
            codes.len(),
            "duplicate error codes: {codes:?}"
        );
        for code in codes {
            assert!(code.starts_with("YW-10"), "{code}");
            assert_eq!(code.len(), 7, "{code}");
        }
    }
}
