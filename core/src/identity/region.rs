//! Administrative division codes (GB/T 2260).
//!
//! Only the 34 provincial-level divisions are embedded. County- and
//! prefecture-level tables change every year and are not shipped in the core,
//! so a [`RegionCode`] is accepted when it is 6 ASCII digits and its first two
//! digits name a known province; the remaining four digits are not checked.

use std::fmt;

use thiserror::Error;

/// A GB/T 2260 administrative division code: 6 ASCII digits whose first two
/// digits are a known provincial-level division.
///
/// A region code is not personal data: `Display` prints the plain code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode {
    /// Invariant: 6 ASCII digits, first two a known province.
    digits: [u8; 6],
}

/// Why a string is not a [`RegionCode`]. Messages never contain the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegionCodeError {
    /// The code does not have 6 characters.
    #[error("wrong length: expected {expected} characters, found {found}")]
    Length {
        /// Expected number of characters (6).
        expected: usize,
        /// Number of characters (Unicode scalar values) found.
        found: usize,
    },
    /// A character is not an ASCII digit.
    #[error("character {position} is not a digit")]
    NotDigit {
        /// 1-based character position.
        position: usize,
    },
    /// The first two digits are not a known provincial-level division.
    #[error("the first two digits are not a known provincial-level division")]
    UnknownProvince,
}

impl RegionCodeError {
    /// Stable error code (`YW-1031`..`YW-1039`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "YW-1031",
            Self::NotDigit { .. } => "YW-1032",
            Self::UnknownProvince => "YW-1033",
        }
    }
}

/// A provincial-level division: 2-digit code, Chinese and English names.
struct Province {
    code: u8,
    name_zh: &'static str,
    name_en: &'static str,
}

const fn province(code: u8, name_zh: &'static str, name_en: &'static str) -> Province {
    Province {
        code,
        name_zh,
        name_en,
    }
}

/// The 34 provincial-level divisions, in code order.
const PROVINCES: [Province; 34] = [
    province(11, "北京市", "Beijing Municipality"),
    province(12, "天津市", "Tianjin Municipality"),
    province(13, "河北省", "Hebei Province"),
    province(14, "山西省", "Shanxi Province"),
    province(15, "内蒙古自治区", "Inner Mongolia Autonomous Region"),
    province(21, "辽宁省", "Liaoning Province"),
    province(22, "吉林省", "Jilin Province"),
    province(23, "黑龙江省", "Heilongjiang Province"),
    province(31, "上海市", "Shanghai Municipality"),
    province(32, "江苏省", "Jiangsu Province"),
    province(33, "浙江省", "Zhejiang Province"),
    province(34, "安徽省", "Anhui Province"),
    province(35, "福建省", "Fujian Province"),
    province(36, "江西省", "Jiangxi Province"),
    province(37, "山东省", "Shandong Province"),
    province(41, "河南省", "Henan Province"),
    province(42, "湖北省", "Hubei Province"),
    province(43, "湖南省", "Hunan Province"),
    province(44, "广东省", "Guangdong Province"),
    province(45, "广西壮族自治区", "Guangxi Zhuang Autonomous Region"),
    province(46, "海南省", "Hainan Province"),
    province(50, "重庆市", "Chongqing Municipality"),
    province(51, "四川省", "Sichuan Province"),
    province(52, "贵州省", "Guizhou Province"),
    province(53, "云南省", "Yunnan Province"),
    province(54, "西藏自治区", "Xizang (Tibet) Autonomous Region"),
    province(61, "陕西省", "Shaanxi Province"),
    province(62, "甘肃省", "Gansu Province"),
    province(63, "青海省", "Qinghai Province"),
    province(64, "宁夏回族自治区", "Ningxia Hui Autonomous Region"),
    province(65, "新疆维吾尔自治区", "Xinjiang Uygur Autonomous Region"),
    province(71, "台湾省", "Taiwan Province"),
    province(
        81,
        "香港特别行政区",
        "Hong Kong Special Administrative Region",
    ),
    province(82, "澳门特别行政区", "Macao Special Administrative Region"),
];

fn find_province(code: u8) -> Option<&'static Province> {
    PROVINCES.iter().find(|p| p.code == code)
}

impl RegionCode {
    /// Parses a 6-digit code whose first two digits are a known province.
    pub fn parse(s: &str) -> Result<Self, RegionCodeError> {
        let found = s.chars().count();
        if found != 6 {
            return Err(RegionCodeError::Length { expected: 6, found });
        }
        if let Some(i) = s.chars().position(|c| !c.is_ascii_digit()) {
            return Err(RegionCodeError::NotDigit { position: i + 1 });
        }
        let mut digits = [0u8; 6];
        digits.copy_from_slice(s.as_bytes());
        Self::from_ascii_digits(digits).ok_or(RegionCodeError::UnknownProvince)
    }

    /// Builds a code from 6 bytes already known to be ASCII digits; `None` when
    /// the province is unknown.
    pub(crate) fn from_ascii_digits(digits: [u8; 6]) -> Option<Self> {
        debug_assert!(digits.iter().all(u8::is_ascii_digit));
        let prefix = (digits[0] - b'0') * 10 + (digits[1] - b'0');
        find_province(prefix).map(|_| Self { digits })
    }

    /// All 34 provincial-level codes (`110000`, `120000`, …), in code order.
    pub fn provinces() -> impl Iterator<Item = RegionCode> {
        PROVINCES.iter().map(|p| Self {
            digits: [
                b'0' + p.code / 10,
                b'0' + p.code % 10,
                b'0',
                b'0',
                b'0',
                b'0',
            ],
        })
    }

    /// The code as a 6-digit string.
    pub fn as_str(&self) -> &str {
        // Invariant: `digits` holds ASCII digits only, which are valid UTF-8.
        std::str::from_utf8(&self.digits).expect("region code digits are ASCII")
    }

    /// The provincial-level code this region belongs to (e.g. `110105` → `110000`).
    pub fn province_code(&self) -> RegionCode {
        Self {
            digits: [self.digits[0], self.digits[1], b'0', b'0', b'0', b'0'],
        }
    }

    /// Chinese name of the province, e.g. `北京市`.
    pub fn province_name_zh(&self) -> &'static str {
        self.province().name_zh
    }

    /// English name of the province, e.g. `Beijing Municipality`.
    pub fn province_name_en(&self) -> &'static str {
        self.province().name_en
    }

    /// Whether this is a provincial-level code (ends in `0000`).
    pub fn is_province_level(&self) -> bool {
        self.digits[2..] == *b"0000"
    }

    fn province(&self) -> &'static Province {
        let prefix = (self.digits[0] - b'0') * 10 + (self.digits[1] - b'0');
        // Invariant: construction guarantees the prefix is in the table; the
        // fallback is unreachable and only avoids a panic path.
        find_province(prefix).unwrap_or(&PROVINCES[0])
    }
}

string_newtype_impls!(RegionCode, RegionCodeError);

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RegionCode").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_beijing_district() {
        let r = RegionCode::parse("110105").unwrap();
        assert_eq!(r.as_str(), "110105");
        assert_eq!(r.province_name_zh(), "北京市");
        assert_eq!(r.province_name_en(), "Beijing Municipality");
        assert!(!r.is_province_level());
        assert_eq!(r.province_code().as_str(), "110000");
        assert!(r.province_code().is_province_level());
        assert_eq!(r.to_string(), "110105");
        assert_eq!(format!("{r:?}"), "RegionCode(\"110105\")");
    }

    #[test]
    fn all_34_provinces() {
        let all: Vec<RegionCode> = RegionCode::provinces().collect();
        assert_eq!(all.len(), 34);
        for r in &all {
            assert!(r.is_province_level());
            assert_eq!(RegionCode::parse(r.as_str()).unwrap(), *r);
        }
        let names: Vec<&str> = all.iter().map(RegionCode::province_name_zh).collect();
        assert!(names.contains(&"新疆维吾尔自治区"));
        assert!(names.contains(&"澳门特别行政区"));
        assert_eq!(
            RegionCode::parse("610000").unwrap().province_name_en(),
            "Shaanxi Province"
        );
        assert_eq!(
            RegionCode::parse("140000").unwrap().province_name_en(),
            "Shanxi Province"
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            RegionCode::parse("1101"),
            Err(RegionCodeError::Length {
                expected: 6,
                found: 4
            })
        );
        assert_eq!(
            RegionCode::parse("11010a"),
            Err(RegionCodeError::NotDigit { position: 6 })
        );
        assert_eq!(
            RegionCode::parse("11中105"),
            Err(RegionCodeError::NotDigit { position: 3 })
        );
        assert_eq!(
            RegionCode::parse("中中中中中中中"),
            Err(RegionCodeError::Length {
                expected: 6,
                found: 7
            })
        );
        assert_eq!(
            RegionCode::parse("990000"),
            Err(RegionCodeError::UnknownProvince)
        );
        assert_eq!(
            RegionCode::parse("100000"),
            Err(RegionCodeError::UnknownProvince)
        );
        let msg = RegionCode::parse("990000").unwrap_err().to_string();
        assert!(!msg.contains("99"), "{msg}");
    }

    #[test]
    fn serde_round_trip_and_rejection() {
        let r = RegionCode::parse("350100").unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"350100\"");
        assert_eq!(serde_json::from_str::<RegionCode>(&json).unwrap(), r);
        assert!(serde_json::from_str::<RegionCode>("\"990000\"").is_err());
        assert!(serde_json::from_str::<RegionCode>("350100").is_err());
        let via_from_str: RegionCode = "350100".parse().unwrap();
        assert_eq!(via_from_str, RegionCode::try_from("350100").unwrap());
    }
}
