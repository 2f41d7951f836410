//! Unified social credit codes (GB 32100-2015).
//!
//! Layout of the 18 characters: registration department (1), organisation
//! type (1), administrative division code (6 digits), organisation code (9),
//! check character (1). All characters come from the 31-character set
//! `0123456789ABCDEFGHJKLMNPQRTUWXY` (no I, O, S, V, Z); a character's value
//! is its index in that set.

use std::fmt;

use thiserror::Error;

use super::mask::mask_keep;
use super::region::RegionCode;

/// A unified social credit code.
///
/// Built by [`Uscc::parse`] (strict: the check character must match) or
/// [`Uscc::parse_lenient`] (accepts a wrong check character with a warning,
/// for early pilot codes). Serde deserialisation is strict, so a leniently
/// accepted code serialises but does not deserialise again; check
/// [`Uscc::has_valid_check`] before persisting such codes.
///
/// `Debug` and `Display` print the masked form (first 6 + `*` + last 2).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Uscc {
    /// Invariant: 18 characters of the USCC character set, characters 3-8 digits.
    code: String,
    /// Whether the check character matches the first 17 characters.
    check_ok: bool,
}

/// The administrative division code (characters 3-8) of a [`Uscc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DivisionCode<'a> {
    /// The code is a valid [`RegionCode`] (known province).
    Region(RegionCode),
    /// Six digits whose province is not known (e.g. `100000` for national
    /// organisations).
    Raw(&'a str),
}

impl DivisionCode<'_> {
    /// The six digits.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Region(r) => r.as_str(),
            Self::Raw(s) => s,
        }
    }
}

/// Why a string is not a valid [`Uscc`]. Messages never contain the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UsccError {
    /// The code does not have 18 characters.
    #[error("wrong length: expected {expected} characters, found {found}")]
    Length {
        /// Expected number of characters (18).
        expected: usize,
        /// Number of characters (Unicode scalar values) found.
        found: usize,
    },
    /// A character is outside the USCC character set.
    #[error(
        "character {position} is not in the credit code character set \
         (digits and uppercase letters except I, O, S, V, Z)"
    )]
    InvalidCharacter {
        /// 1-based character position.
        position: usize,
    },
    /// A character is a lowercase letter whose uppercase form would be valid.
    #[error("character {position} is a lowercase letter; only uppercase letters are valid")]
    LowercaseCharacter {
        /// 1-based character position.
        position: usize,
    },
    /// A character of the division code (characters 3-8) is not a digit.
    #[error(
        "character {position} is not a digit (characters 3-8 are the administrative division code)"
    )]
    DivisionCodeNotDigit {
        /// 1-based character position.
        position: usize,
    },
    /// The check character does not match the first 17 characters.
    #[error("wrong check character: expected '{expected}', found '{found}'")]
    CheckMismatch {
        /// Check character computed from the first 17 characters.
        expected: char,
        /// Check character present in the input.
        found: char,
    },
}

impl UsccError {
    /// Stable error code (`YW-1011`..`YW-1019`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "YW-1011",
            Self::InvalidCharacter { .. } => "YW-1012",
            Self::LowercaseCharacter { .. } => "YW-1013",
            Self::DivisionCodeNotDigit { .. } => "YW-1014",
            Self::CheckMismatch { .. } => "YW-1015",
        }
    }
}

/// A problem tolerated by [`Uscc::parse_lenient`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UsccWarning {
    /// The check character does not match (accepted: some early pilot codes
    /// are legal yet fail the check).
    #[error(
        "check character does not match (expected '{expected}', found '{found}'); accepted leniently"
    )]
    CheckMismatch {
        /// Check character computed from the first 17 characters.
        expected: char,
        /// Check character present in the input.
        found: char,
    },
}

/// The USCC character set; a character's value is its index.
const CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100-2015 weights (3^i mod 31) for the first 17 characters.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Number of characters of a USCC.
const LEN: usize = 18;

/// Value of a character in the USCC set.
fn value(c: u8) -> Option<u32> {
    CHARSET
        .iter()
        .position(|&x| x == c)
        .and_then(|i| u32::try_from(i).ok())
}

/// Check character for a 17-character body; `None` if `body` is not 17
/// characters of the USCC set.
pub(crate) fn check_char_for_body(body: &[u8]) -> Option<u8> {
    if body.len() != WEIGHTS.len() {
        return None;
    }
    let mut sum = 0u32;
    for (&c, w) in body.iter().zip(WEIGHTS) {
        sum += value(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    CHARSET.get(check as usize).copied()
}

impl Uscc {
    /// Parses a code strictly: length, character set, digits in the division
    /// code and the check character must all be correct.
    pub fn parse(s: &str) -> Result<Self, UsccError> {
        let uscc = Self::parse_structure(s)?;
        if uscc.check_ok {
            return Ok(uscc);
        }
        let (expected, found) = uscc.expected_and_found();
        Err(UsccError::CheckMismatch { expected, found })
    }

    /// Parses a code, accepting a wrong check character with a warning. Wrong
    /// length or characters are still rejected.
    pub fn parse_lenient(s: &str) -> Result<(Self, Option<UsccWarning>), UsccError> {
        let uscc = Self::parse_structure(s)?;
        let warning = (!uscc.check_ok).then(|| {
            let (expected, found) = uscc.expected_and_found();
            UsccWarning::CheckMismatch { expected, found }
        });
        Ok((uscc, warning))
    }

    /// Validates everything but the check character and records whether it
    /// matches.
    fn parse_structure(s: &str) -> Result<Self, UsccError> {
        let found = s.chars().count();
        if found != LEN {
            return Err(UsccError::Length {
                expected: LEN,
                found,
            });
        }
        for (i, c) in s.chars().enumerate() {
            let position = i + 1;
            if (3..=8).contains(&position) {
                if !c.is_ascii_digit() {
                    return Err(UsccError::DivisionCodeNotDigit { position });
                }
            } else if !c.is_ascii() || !CHARSET.contains(&(c as u8)) {
                let upper_valid =
                    c.is_ascii_lowercase() && CHARSET.contains(&(c.to_ascii_uppercase() as u8));
                return Err(if upper_valid {
                    UsccError::LowercaseCharacter { position }
                } else {
                    UsccError::InvalidCharacter { position }
                });
            }
        }
        let bytes = s.as_bytes();
        let check_ok = check_char_for_body(&bytes[..LEN - 1]) == Some(bytes[LEN - 1]);
        Ok(Self {
            code: s.to_owned(),
            check_ok,
        })
    }

    /// Expected (computed) and found check characters.
    fn expected_and_found(&self) -> (char, char) {
        let bytes = self.code.as_bytes();
        let expected = check_char_for_body(&bytes[..LEN - 1]).map_or('?', char::from);
        (expected, char::from(bytes[LEN - 1]))
    }

    /// Wraps a code already validated by the caller.
    pub(crate) fn from_validated(code: &str, check_ok: bool) -> Self {
        Self {
            code: code.to_owned(),
            check_ok,
        }
    }

    /// The full 18-character code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The masked form: first 6 characters, 10 `*`, last 2.
    pub fn masked(&self) -> String {
        mask_keep(&self.code, 6, 2)
    }

    /// Whether the check character is correct (always true for [`Uscc::parse`]).
    pub fn has_valid_check(&self) -> bool {
        self.check_ok
    }

    /// Registration department code (character 1), e.g. `9` for market
    /// regulation.
    pub fn registration_department(&self) -> char {
        self.char_at(0)
    }

    /// Organisation type code (character 2).
    pub fn organisation_type(&self) -> char {
        self.char_at(1)
    }

    /// Administrative division code (characters 3-8).
    pub fn division_code(&self) -> DivisionCode<'_> {
        let raw = &self.code[2..8];
        let mut digits = [0u8; 6];
        digits.copy_from_slice(raw.as_bytes());
        match RegionCode::from_ascii_digits(digits) {
            Some(region) => DivisionCode::Region(region),
            None => DivisionCode::Raw(raw),
        }
    }

    /// Organisation code (characters 9-17).
    pub fn organisation_code(&self) -> &str {
        &self.code[8..17]
    }

    /// The check character (character 18).
    pub fn check_character(&self) -> char {
        self.char_at(LEN - 1)
    }

    fn char_at(&self, index: usize) -> char {
        // Invariant: `code` is 18 ASCII characters.
        char::from(self.code.as_bytes()[index])
    }
}

string_newtype_impls!(Uscc, UsccError);

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Uscc").field(&self.masked()).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "91350100M000100Y43";

    #[test]
    fn weights_are_powers_of_three() {
        for (i, w) in WEIGHTS.iter().enumerate() {
            assert_eq!(3u64.pow(i as u32) % 31, u64::from(*w));
        }
    }

    #[test]
    fn standard_example() {
        let u = Uscc::parse(EXAMPLE).unwrap();
        assert_eq!(u.as_str(), EXAMPLE);
        assert_eq!(u.registration_department(), '9');
        assert_eq!(u.organisation_type(), '1');
        match u.division_code() {
            DivisionCode::Region(r) => {
                assert_eq!(r.as_str(), "350100");
                assert_eq!(r.province_name_zh(), "福建省");
            }
            DivisionCode::Raw(_) => panic!("expected a region"),
        }
        assert_eq!(u.organisation_code(), "M000100Y4");
        assert_eq!(u.check_character(), '3');
        assert!(u.has_valid_check());
        assert_eq!(u.masked(), "913501**********43");
    }

    #[test]
    fn raw_division_code() {
        let body = "11100000000013338";
        let check = char::from(check_char_for_body(body.as_bytes()).unwrap());
        let u = Uscc::parse(&format!("{body}{check}")).unwrap();
        assert_eq!(u.division_code(), DivisionCode::Raw("100000"));
        assert_eq!(u.division_code().as_str(), "100000");
    }

    #[test]
    fn excluded_letters_rejected() {
        for (pos, letter) in [(9, 'I'), (10, 'O'), (11, 'S'), (12, 'V'), (13, 'Z')] {
            let mut chars: Vec<char> = EXAMPLE.chars().collect();
            chars[pos - 1] = letter;
            let s: String = chars.into_iter().collect();
            assert_eq!(
                Uscc::parse(&s),
                Err(UsccError::InvalidCharacter { position: pos }),
                "{letter}"
            );
            assert!(Uscc::parse_lenient(&s).is_err());
        }
    }

    #[test]
    fn other_bad_characters() {
        assert_eq!(
            Uscc::parse("91350100m000100Y43"),
            Err(UsccError::LowercaseCharacter { position: 9 })
        );
        assert_eq!(
            Uscc::parse("91350100i000100Y43"),
            Err(UsccError::InvalidCharacter { position: 9 })
        );
        assert_eq!(
            Uscc::parse("913501A0M000100Y43"),
            Err(UsccError::DivisionCodeNotDigit { position: 7 })
        );
        assert_eq!(
            Uscc::parse("91350100中000100Y43"),
            Err(UsccError::InvalidCharacter { position: 9 })
        );
        assert_eq!(
            Uscc::parse("9135010"),
            Err(UsccError::Length {
                expected: 18,
                found: 7
            })
        );
        assert_eq!(
            Uscc::parse("中中中中中中"),
            Err(UsccError::Length {
                expected: 18,
                found: 6
            })
        );
    }

    #[test]
    fn wrong_check_strict_and_lenient() {
        let bad = "91350100M000100Y44";
        let err = Uscc::parse(bad).unwrap_err();
        assert_eq!(
            err,
            UsccError::CheckMismatch {
                expected: '3',
                found: '4'
            }
        );
        assert_eq!(err.code(), "YW-1015");
        assert!(!err.to_string().contains("350100"));

        let (u, warning) = Uscc::parse_lenient(bad).unwrap();
        assert_eq!(u.as_str(), bad);
        assert!(!u.has_valid_check());
        assert_eq!(
            warning,
            Some(UsccWarning::CheckMismatch {
                expected: '3',
                found: '4'
            })
        );

        let (u, warning) = Uscc::parse_lenient(EXAMPLE).unwrap();
        assert!(u.has_valid_check());
        assert_eq!(warning, None);
    }

    #[test]
    fn check_value_31_maps_to_zero() {
        // Find a body whose weighted sum is 0 mod 31: its check must be '0'.
        let body = "00000000000000000";
        assert_eq!(check_char_for_body(body.as_bytes()), Some(b'0'));
        assert!(Uscc::parse("000000000000000000").is_ok());
    }

    #[test]
    fn debug_and_display_are_masked() {
        let u = Uscc::parse(EXAMPLE).unwrap();
        assert!(!format!("{u:?}").contains(EXAMPLE));
        assert!(!format!("{u}").contains(EXAMPLE));
        assert_eq!(format!("{u}"), "913501**********43");
    }

    #[test]
    fn serde_round_trip_and_rejection() {
        let u = Uscc::parse(EXAMPLE).unwrap();
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(json, format!("\"{EXAMPLE}\""));
        assert_eq!(serde_json::from_str::<Uscc>(&json).unwrap(), u);
        for bad in [
            "\"91350100M000100Y44\"",
            "\"91350100O000100Y43\"",
            "\"\"",
            "1",
        ] {
            assert!(serde_json::from_str::<Uscc>(bad).is_err(), "{bad}");
        }
        let parsed: Uscc = EXAMPLE.parse().unwrap();
        assert_eq!(parsed, Uscc::try_from(EXAMPLE).unwrap());
    }
}
