//! Citizen identity numbers (GB 11643-1999).
//!
//! Layout of the 18 characters:
//! `AAAAAA YYYYMMDD SSS C` — 6-digit address code (GB/T 2260), birth date,
//! 3-digit sequence (odd = male, even = female) and an ISO 7064 MOD 11-2
//! check character (`0`-`9` or uppercase `X`).

use std::fmt;

use thiserror::Error;
use time::{Date, Month};

use super::iso7064::mod_11_2_check;
use super::mask::mask_keep;
use super::region::RegionCode;

/// A valid 18-character citizen ID number.
///
/// Parsing is pure (it never looks at the clock): the birth date must be a real
/// calendar date in or after 1900, but is not compared with today. Use
/// [`IdNumber::age_on`] with a date supplied by the caller.
///
/// `Debug` and `Display` print the masked form (`1101**********002X`);
/// [`IdNumber::as_str`] (and serde serialisation) is the only way to obtain
/// the full number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    /// Invariant: 18 ASCII characters, validated by [`IdNumber::parse`].
    code: String,
    region: RegionCode,
    birth_date: Date,
}

/// Sex encoded in the sequence number (odd = male, even = female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Odd sequence number.
    Male,
    /// Even sequence number.
    Female,
}

/// Why a string is not a valid [`IdNumber`]. Messages never contain the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdNumberError {
    /// The number does not have the expected number of characters.
    #[error("wrong length: expected {expected} characters, found {found}")]
    Length {
        /// Expected number of characters (18, or 15 for legacy numbers).
        expected: usize,
        /// Number of characters (Unicode scalar values) found.
        found: usize,
    },
    /// A character that must be a digit is not one.
    #[error("character {position} is not a digit")]
    NotDigit {
        /// 1-based character position.
        position: usize,
    },
    /// The 18th character is neither a digit nor `X`.
    #[error("character 18 (the check character) is not a digit or 'X'")]
    InvalidCheckCharacter,
    /// The 18th character is a lowercase `x`; only uppercase `X` is valid.
    #[error("character 18 (the check character) is a lowercase 'x'; only uppercase 'X' is valid")]
    LowercaseCheckCharacter,
    /// The address code does not start with a known provincial-level division.
    #[error("the address code does not start with a known provincial-level division")]
    UnknownRegion,
    /// The birth date is not a real calendar date.
    #[error("the birth date is not a real calendar date")]
    InvalidBirthDate,
    /// The birth year is before 1900.
    #[error("the birth year is before 1900")]
    BirthYearBefore1900,
    /// The check character does not match the other 17 digits.
    #[error("wrong check character: expected '{expected}', found '{found}'")]
    CheckMismatch {
        /// Check character computed from the first 17 digits.
        expected: char,
        /// Check character present in the input.
        found: char,
    },
}

impl IdNumberError {
    /// Stable error code (`YW-1001`..`YW-1009`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "YW-1001",
            Self::NotDigit { .. } => "YW-1002",
            Self::InvalidCheckCharacter => "YW-1003",
            Self::LowercaseCheckCharacter => "YW-1004",
            Self::UnknownRegion => "YW-1005",
            Self::InvalidBirthDate => "YW-1006",
            Self::BirthYearBefore1900 => "YW-1007",
            Self::CheckMismatch { .. } => "YW-1008",
        }
    }
}

/// Number of characters of a current ID number.
const LEN: usize = 18;
/// Number of characters of a legacy (first-generation) ID number.
const LEGACY_LEN: usize = 15;

impl IdNumber {
    /// Parses an 18-character ID number (strict: the check character must be a
    /// digit or uppercase `X`).
    ///
    /// Checks, in order: length, digits, check character class, province of
    /// the address code, birth date (real date, year ≥ 1900), check character.
    pub fn parse(s: &str) -> Result<Self, IdNumberError> {
        let found = s.chars().count();
        if found != LEN {
            return Err(IdNumberError::Length {
                expected: LEN,
                found,
            });
        }
        for (i, c) in s.chars().enumerate().take(LEN - 1) {
            if !c.is_ascii_digit() {
                return Err(IdNumberError::NotDigit { position: i + 1 });
            }
        }
        // 17 ASCII bytes followed by exactly one more char.
        let check = s[LEN - 1..].chars().next().unwrap_or_default();
        match check {
            '0'..='9' | 'X' => {}
            'x' => return Err(IdNumberError::LowercaseCheckCharacter),
            _ => return Err(IdNumberError::InvalidCheckCharacter),
        }
        let bytes = s.as_bytes();
        let region = region_of(bytes)?;
        let birth_date = birth_date_of(&bytes[6..14])?;
        let expected = mod_11_2_check(&bytes[..LEN - 1]).map_or('?', char::from);
        if expected != check {
            return Err(IdNumberError::CheckMismatch {
                expected,
                found: check,
            });
        }
        Ok(Self {
            code: s.to_owned(),
            region,
            birth_date,
        })
    }

    /// Upgrades a 15-digit legacy ID number to 18 characters: inserts `19`
    /// before the 2-digit birth year and appends the computed check character.
    ///
    /// `110105491231002` → `11010519491231002X`.
    pub fn from_legacy_15(s: &str) -> Result<Self, IdNumberError> {
        let found = s.chars().count();
        if found != LEGACY_LEN {
            return Err(IdNumberError::Length {
                expected: LEGACY_LEN,
                found,
            });
        }
        if let Some(i) = s.chars().position(|c| !c.is_ascii_digit()) {
            return Err(IdNumberError::NotDigit { position: i + 1 });
        }
        // All 15 characters are ASCII digits, so byte offsets are char offsets.
        let mut code = String::with_capacity(LEN);
        code.push_str(&s[..6]);
        code.push_str("19");
        code.push_str(&s[6..]);
        let region = region_of(code.as_bytes())?;
        let birth_date = birth_date_of(&code.as_bytes()[6..14])?;
        // `code` holds 17 ASCII digits here, so the check always exists.
        let check = mod_11_2_check(code.as_bytes()).map_or('?', char::from);
        code.push(check);
        Ok(Self {
            code,
            region,
            birth_date,
        })
    }

    /// The full 18-character number. This is the only accessor that reveals it.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The masked form: first 4 + 10 `*` + last 4, e.g. `1101**********002X`.
    pub fn masked(&self) -> String {
        mask_keep(&self.code, 4, 4)
    }

    /// The address code (characters 1-6).
    pub fn region(&self) -> RegionCode {
        self.region
    }

    /// The birth date (characters 7-14).
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// Sex from the parity of the sequence number (character 17).
    pub fn sex(&self) -> Sex {
        // Invariant: character 17 is an ASCII digit.
        let digit = self.code.as_bytes()[LEN - 2].wrapping_sub(b'0');
        if digit % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Age in completed years on `on`. Someone born on 29 February becomes a
    /// year older on 1 March in non-leap years. Returns 0 if `on` is before the
    /// birth date.
    pub fn age_on(&self, on: Date) -> u32 {
        let birth = self.birth_date;
        let mut years = on.year() - birth.year();
        if (u8::from(on.month()), on.day()) < (u8::from(birth.month()), birth.day()) {
            years -= 1;
        }
        u32::try_from(years).unwrap_or(0)
    }
}

/// Region of the first 6 bytes (known to be ASCII digits).
fn region_of(bytes: &[u8]) -> Result<RegionCode, IdNumberError> {
    let mut digits = [0u8; 6];
    digits.copy_from_slice(&bytes[..6]);
    RegionCode::from_ascii_digits(digits).ok_or(IdNumberError::UnknownRegion)
}

/// Birth date from 8 ASCII digits `YYYYMMDD`.
fn birth_date_of(yyyymmdd: &[u8]) -> Result<Date, IdNumberError> {
    let num = |range: std::ops::Range<usize>| {
        yyyymmdd[range]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(4..6), num(6..8));
    if year < 1900 {
        return Err(IdNumberError::BirthYearBefore1900);
    }
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or(IdNumberError::InvalidBirthDate)?;
    let year = i32::try_from(year).map_err(|_| IdNumberError::InvalidBirthDate)?;
    let day = u8::try_from(day).map_err(|_| IdNumberError::InvalidBirthDate)?;
    Date::from_calendar_date(year, month, day).map_err(|_| IdNumberError::InvalidBirthDate)
}

string_newtype_impls!(IdNumber, IdNumberError);

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::date;

    const EXAMPLE: &str = "11010519491231002X";

    /// Appends the computed check character to a 17-digit body.
    fn with_check(body: &str) -> String {
        let c = mod_11_2_check(body.as_bytes()).unwrap();
        format!("{body}{}", char::from(c))
    }

    #[test]
    fn standard_example() {
        let id = IdNumber::parse(EXAMPLE).unwrap();
        assert_eq!(id.as_str(), EXAMPLE);
        assert_eq!(id.region().as_str(), "110105");
        assert_eq!(id.region().province_name_zh(), "北京市");
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.age_on(date!(2026 - 11 - 22)), 76);
        assert_eq!(id.age_on(date!(2026 - 12 - 31)), 77);
        assert_eq!(id.age_on(date!(1949 - 12 - 31)), 0);
        assert_eq!(id.age_on(date!(1900 - 01 - 01)), 0);
        assert_eq!(id.masked(), "1101**********002X");
    }

    #[test]
    fn male_sequence() {
        let id = IdNumber::parse(&with_check("11010519491231001")).unwrap();
        assert_eq!(id.sex(), Sex::Male);
    }

    #[test]
    fn impossible_date_rejected() {
        let s = with_check("11010519490230002");
        let err = IdNumber::parse(&s).unwrap_err();
        assert_eq!(err, IdNumberError::InvalidBirthDate);
        assert_eq!(err.code(), "YW-1006");
        for body in [
            "11010519491301002",
            "11010519490001002",
            "11010519491200002",
        ] {
            assert_eq!(
                IdNumber::parse(&with_check(body)),
                Err(IdNumberError::InvalidBirthDate)
            );
        }
        // 2000 is a leap year, 1900 is not.
        assert!(IdNumber::parse(&with_check("11010520000229002")).is_ok());
        assert_eq!(
            IdNumber::parse(&with_check("11010519000229002")),
            Err(IdNumberError::InvalidBirthDate)
        );
    }

    #[test]
    fn year_before_1900_rejected() {
        let err = IdNumber::parse(&with_check("11010518991231002")).unwrap_err();
        assert_eq!(err, IdNumberError::BirthYearBefore1900);
        assert_eq!(err.code(), "YW-1007");
        assert!(IdNumber::parse(&with_check("11010519000101002")).is_ok());
    }

    #[test]
    fn wrong_check_names_expected() {
        let err = IdNumber::parse("110105194912310021").unwrap_err();
        assert_eq!(
            err,
            IdNumberError::CheckMismatch {
                expected: 'X',
                found: '1'
            }
        );
        assert_eq!(err.code(), "YW-1008");
        let msg = err.to_string();
        assert!(msg.contains("expected 'X'"), "{msg}");
        assert!(!msg.contains("110105"), "{msg}");
    }

    #[test]
    fn lowercase_x_rejected_clearly() {
        let err = IdNumber::parse("11010519491231002x").unwrap_err();
        assert_eq!(err, IdNumberError::LowercaseCheckCharacter);
        assert!(err.to_string().contains("lowercase"));
        assert_eq!(
            IdNumber::parse("11010519491231002Y"),
            Err(IdNumberError::InvalidCheckCharacter)
        );
    }

    #[test]
    fn bad_length() {
        assert_eq!(
            IdNumber::parse("1101051949123100"),
            Err(IdNumberError::Length {
                expected: 18,
                found: 16
            })
        );
        assert_eq!(
            IdNumber::parse(""),
            Err(IdNumberError::Length {
                expected: 18,
                found: 0
            })
        );
        assert_eq!(
            IdNumber::parse(&format!("{EXAMPLE}0")),
            Err(IdNumberError::Length {
                expected: 18,
                found: 19
            })
        );
    }

    #[test]
    fn bad_characters_including_multibyte() {
        assert_eq!(
            IdNumber::parse("110105A9491231002X"),
            Err(IdNumberError::NotDigit { position: 7 })
        );
        // 18 characters but more than 18 bytes.
        assert_eq!(
            IdNumber::parse("11010519491231中02X"),
            Err(IdNumberError::NotDigit { position: 15 })
        );
        assert_eq!(
            IdNumber::parse("11010519491231002中"),
            Err(IdNumberError::InvalidCheckCharacter)
        );
        assert_eq!(
            IdNumber::parse("中中中中中中中中中中中中中中中中中中"),
            Err(IdNumberError::NotDigit { position: 1 })
        );
        // 18 bytes but 6 characters.
        assert_eq!(
            IdNumber::parse("中中中中中中"),
            Err(IdNumberError::Length {
                expected: 18,
                found: 6
            })
        );
        assert_eq!(
            IdNumber::parse("11010519491231002😀"),
            Err(IdNumberError::InvalidCheckCharacter)
        );
        assert_eq!(
            IdNumber::from_legacy_15("11010549123100é"),
            Err(IdNumberError::NotDigit { position: 15 })
        );
    }

    #[test]
    fn unknown_province() {
        let err = IdNumber::parse(&with_check("99010519491231002")).unwrap_err();
        assert_eq!(err, IdNumberError::UnknownRegion);
        assert_eq!(err.code(), "YW-1005");
        assert!(!err.to_string().contains("99"));
    }

    #[test]
    fn legacy_upgrade() {
        let id = IdNumber::from_legacy_15("110105491231002").unwrap();
        assert_eq!(id.as_str(), EXAMPLE);
        assert_eq!(id, IdNumber::parse(EXAMPLE).unwrap());
        assert_eq!(
            IdNumber::from_legacy_15(EXAMPLE),
            Err(IdNumberError::Length {
                expected: 15,
                found: 18
            })
        );
        assert_eq!(
            IdNumber::from_legacy_15("110105490230002"),
            Err(IdNumberError::InvalidBirthDate)
        );
        assert_eq!(
            IdNumber::from_legacy_15("990105491231002"),
            Err(IdNumberError::UnknownRegion)
        );
    }

    #[test]
    fn leap_day_birthday() {
        let id = IdNumber::parse(&with_check("11010520000229001")).unwrap();
        assert_eq!(id.birth_date(), date!(2000 - 02 - 29));
        assert_eq!(id.age_on(date!(2001 - 02 - 28)), 0);
        assert_eq!(id.age_on(date!(2001 - 03 - 01)), 1);
        assert_eq!(id.age_on(date!(2004 - 02 - 28)), 3);
        assert_eq!(id.age_on(date!(2004 - 02 - 29)), 4);
        assert_eq!(id.age_on(date!(2018 - 02 - 28)), 17);
        assert_eq!(id.age_on(date!(2018 - 03 - 01)), 18);
    }

    #[test]
    fn debug_and_display_are_masked() {
        let id = IdNumber::parse(EXAMPLE).unwrap();
        let debug = format!("{id:?}");
        let display = format!("{id}");
        assert!(!debug.contains(EXAMPLE), "{debug}");
        assert!(!display.contains(EXAMPLE), "{display}");
        assert_eq!(display, "1101**********002X");
        assert!(debug.contains("1101**********002X"));
        let alt = format!("{id:#?}");
        assert!(!alt.contains(EXAMPLE));
        // Also through containers.
        assert!(!format!("{:?}", Some(&id)).contains(EXAMPLE));
    }

    #[test]
    fn serde_round_trip_and_rejection() {
        let id = IdNumber::parse(EXAMPLE).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{EXAMPLE}\""));
        assert_eq!(serde_json::from_str::<IdNumber>(&json).unwrap(), id);
        for bad in [
            "\"110105194912310021\"",
            "\"11010519491231002x\"",
            "\"\"",
            "42",
            "null",
        ] {
            assert!(serde_json::from_str::<IdNumber>(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<IdNumber>("\"110105194912310021\"").unwrap_err();
        assert!(!err.to_string().contains("110105"), "{err}");
    }

    #[test]
    fn from_str_and_try_from() {
        let a: IdNumber = EXAMPLE.parse().unwrap();
        let b = IdNumber::try_from(EXAMPLE).unwrap();
        let c = IdNumber::try_from(EXAMPLE.to_owned()).unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
    }

    #[test]
    fn error_messages_do_not_echo_input() {
        let inputs = [
            "110105194912310021",
            "11010519490230002X",
            "A1010519491231002X",
        ];
        for s in inputs {
            let msg = IdNumber::parse(s).unwrap_err().to_string();
            assert!(!msg.contains("1101"), "{msg}");
            assert!(!msg.contains("1949"), "{msg}");
        }
    }
}
