//! Property tests for `yiwang_core::identity`.
//!
//! Valid numbers are generated from random fields with check characters
//! computed by independent implementations of the standards' algorithms below
//! (not copied from the crate).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use time::{Date, Month};
use yiwang_core::identity::{
    IdNumber, IdentityKind, LicenceId, RegionCode, Uscc, mask_name, mask_phone, recognise,
};

/// Provincial-level division prefixes (GB/T 2260).
const PROVINCES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

const USCC_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const ALNUM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Substitution pool: digits, A-Z, lowercase x, dot, star, a CJK character.
fn substitution_pool() -> Vec<char> {
    let mut pool: Vec<char> = ALNUM.chars().collect();
    pool.extend(['x', '.', '*', '中']);
    pool
}

// ---- independent check character implementations ----

/// GB 11643-1999: weights 2^(17-i) mod 11, sum mod 11 indexes "10X98765432".
fn id_check(body: &str) -> char {
    let mut sum = 0u32;
    for (i, c) in body.chars().enumerate() {
        let w = 2u32.pow(17 - i as u32) % 11;
        sum += c.to_digit(10).unwrap() * w;
    }
    "10X98765432".chars().nth((sum % 11) as usize).unwrap()
}

/// GB 32100-2015: weights 3^i mod 31, c = 31 - sum mod 31, 31 -> 0.
fn uscc_check(body: &str) -> char {
    let mut sum = 0u64;
    let mut w = 1u64;
    for c in body.chars() {
        sum += USCC_CHARSET.find(c).unwrap() as u64 * w;
        w = w * 3 % 31;
    }
    let c = match 31 - sum % 31 {
        31 => 0,
        c => c,
    };
    USCC_CHARSET.chars().nth(c as usize).unwrap()
}

/// ISO 7064 MOD 37,36 (hybrid): the check c is the unique value for which
/// running the recursion over data + c ends with S = 1.
fn mod37_36_check(data: &str) -> char {
    let value = |c: char| c.to_digit(36).unwrap();
    let mut p = 36;
    for c in data.chars() {
        let mut s = (p + value(c)) % 36;
        if s == 0 {
            s = 36;
        }
        p = 2 * s % 37;
    }
    let c = (0..36).find(|c| (p + c) % 36 == 1).unwrap();
    ALNUM.chars().nth(c as usize).unwrap()
}

// ---- strategies ----

fn arb_date() -> impl Strategy<Value = Date> {
    let start = Date::from_calendar_date(1900, Month::January, 1)
        .unwrap()
        .to_julian_day();
    let end = Date::from_calendar_date(2025, Month::December, 31)
        .unwrap()
        .to_julian_day();
    (start..=end).prop_map(|jd| Date::from_julian_day(jd).unwrap())
}

#[derive(Debug, Clone)]
struct GenId {
    full: String,
    region: String,
    date: Date,
    sequence: u32,
}

fn arb_id_number() -> impl Strategy<Value = GenId> {
    (0..PROVINCES.len(), 0u32..10_000, arb_date(), 0u32..1000).prop_map(
        |(p, rest, date, sequence)| {
            let region = format!("{}{rest:04}", PROVINCES[p]);
            let body = format!(
                "{region}{:04}{:02}{:02}{sequence:03}",
                date.year(),
                u8::from(date.month()),
                date.day()
            );
            let full = format!("{body}{}", id_check(&body));
            GenId {
                full,
                region,
                date,
                sequence,
            }
        },
    )
}

fn arb_uscc_char() -> impl Strategy<Value = char> {
    proptest::sample::select(USCC_CHARSET.chars().collect::<Vec<_>>())
}

fn arb_uscc_body() -> impl Strategy<Value = String> {
    (
        arb_uscc_char(),
        arb_uscc_char(),
        0u32..1_000_000,
        proptest::collection::vec(arb_uscc_char(), 9),
    )
        .prop_map(|(dept, kind, division, org)| {
            let org: String = org.into_iter().collect();
            format!("{dept}{kind}{division:06}{org}")
        })
}

fn arb_uscc() -> impl Strategy<Value = String> {
    arb_uscc_body().prop_map(|body| {
        let check = uscc_check(&body);
        format!("{body}{check}")
    })
}

#[derive(Debug, Clone)]
struct GenLicence {
    full: String,
    type_code: String,
    issuer: String,
    serial: String,
    version: u16,
}

fn arb_licence_id() -> impl Strategy<Value = GenLicence> {
    (
        // Authority code with a random (often wrong) check: accepted leniently.
        arb_uscc_body(),
        arb_uscc_char(),
        0u32..1000,
        arb_uscc(),
        "[0-9A-Z]{1,64}",
        0u16..1000,
    )
        .prop_map(|(auth_body, auth_check, seq, issuer, serial, version)| {
            let type_code = format!("{auth_body}{auth_check}{seq:03}");
            let data = format!("1215630052{type_code}{issuer}{serial}{version:03}");
            let check = mod37_36_check(&data);
            let full = format!("1.2.156.3005.2.{type_code}.{issuer}.{serial}.{version:03}.{check}");
            GenLicence {
                full,
                type_code,
                issuer,
                serial,
                version,
            }
        })
}

/// All strings obtained from `s` by replacing one character with a different
/// one from the substitution pool.
fn substitutions(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let pool = substitution_pool();
    let mut out = Vec::new();
    for i in 0..chars.len() {
        for &c in &pool {
            if c != chars[i] {
                let mut v = chars.clone();
                v[i] = c;
                out.push(v.into_iter().collect());
            }
        }
    }
    out
}

// ---- properties ----

proptest! {
    #[test]
    fn id_number_generated_parses_and_round_trips(g in arb_id_number()) {
        let id = IdNumber::parse(&g.full).unwrap();
        prop_assert_eq!(id.as_str(), g.full.as_str());
        prop_assert_eq!(id.region(), RegionCode::parse(&g.region).unwrap());
        prop_assert_eq!(id.birth_date(), g.date);
        prop_assert_eq!(id.sex() == yiwang_core::identity::Sex::Male, g.sequence % 2 == 1);
        prop_assert_eq!(id.age_on(g.date), 0);
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<IdNumber>(&json).unwrap(), id.clone());
        let debug = format!("{id:?}");
        prop_assert!(!debug.contains(&g.full));
        prop_assert!(!id.to_string().contains(&g.full));
        prop_assert_eq!(recognise(&g.full).kind(), IdentityKind::IdNumber);
        // 15-digit legacy form of 19xx numbers upgrades back to the same number.
        if g.date.year() < 2000 {
            let legacy = format!("{}{}", &g.full[..6], &g.full[8..17]);
            prop_assert_eq!(IdNumber::from_legacy_15(&legacy).unwrap(), id);
        }
    }

    #[test]
    fn id_number_single_substitution_rejected(g in arb_id_number()) {
        for bad in substitutions(&g.full) {
            prop_assert!(IdNumber::parse(&bad).is_err(), "accepted a substitution");
        }
    }

    #[test]
    fn uscc_generated_parses_and_round_trips(s in arb_uscc()) {
        let u = Uscc::parse(&s).unwrap();
        prop_assert_eq!(u.as_str(), s.as_str());
        prop_assert!(u.has_valid_check());
        prop_assert_eq!(u.registration_department(), s.chars().next().unwrap());
        prop_assert_eq!(u.organisation_type(), s.chars().nth(1).unwrap());
        let division = u.division_code();
        prop_assert_eq!(division.as_str(), &s[2..8]);
        prop_assert_eq!(u.organisation_code(), &s[8..17]);
        prop_assert_eq!(u.check_character(), s.chars().nth(17).unwrap());
        let (lenient, warning) = Uscc::parse_lenient(&s).unwrap();
        prop_assert_eq!(&lenient, &u);
        prop_assert!(warning.is_none());
        let json = serde_json::to_string(&u).unwrap();
        prop_assert_eq!(serde_json::from_str::<Uscc>(&json).unwrap(), u.clone());
        let debug = format!("{u:?}");
        prop_assert!(!debug.contains(&s));
        prop_assert!(!u.to_string().contains(&s));
        prop_assert!(recognise(&s).is_valid());
    }

    #[test]
    fn uscc_single_substitution_rejected(s in arb_uscc()) {
        for bad in substitutions(&s) {
            prop_assert!(Uscc::parse(&bad).is_err(), "accepted a substitution");
        }
    }

    #[test]
    fn licence_id_generated_parses_and_round_trips(g in arb_licence_id()) {
        let id = LicenceId::parse(&g.full).unwrap();
        prop_assert_eq!(id.as_str(), g.full.as_str());
        prop_assert_eq!(id.type_code(), g.type_code.as_str());
        prop_assert_eq!(id.issuer(), Uscc::parse(&g.issuer).unwrap());
        prop_assert_eq!(id.serial(), g.serial.as_str());
        prop_assert_eq!(id.version(), g.version);
        let issuer = Uscc::parse(&g.issuer).unwrap();
        let built = LicenceId::new(&g.type_code, &issuer, &g.serial, g.version).unwrap();
        prop_assert_eq!(&built, &id);
        let json = serde_json::to_string(&id).unwrap();
        prop_assert_eq!(serde_json::from_str::<LicenceId>(&json).unwrap(), id.clone());
        let debug = format!("{id:?}");
        prop_assert!(!debug.contains(&g.full));
        prop_assert!(!id.to_string().contains(&g.full));
        prop_assert_eq!(recognise(&g.full).kind(), IdentityKind::LicenceId);
    }

    #[test]
    fn licence_id_single_substitution_rejected(g in arb_licence_id()) {
        for bad in substitutions(&g.full) {
            prop_assert!(LicenceId::parse(&bad).is_err(), "accepted a substitution");
        }
    }
}

/// Runs every parser on `s`; none may panic.
fn exercise_all(s: &str) {
    let _ = IdNumber::parse(s);
    let _ = IdNumber::from_legacy_15(s);
    let _ = Uscc::parse(s);
    let _ = Uscc::parse_lenient(s);
    let _ = LicenceId::parse(s);
    let _ = RegionCode::parse(s);
    let _ = recognise(s);
    let _ = mask_name(s);
    let _ = mask_phone(s);
    if let Ok(id) = IdNumber::parse(s) {
        let _ = (id.to_string(), id.age_on(Date::MIN), id.age_on(Date::MAX));
    }
    if let Ok((u, _)) = Uscc::parse_lenient(s) {
        let _ = (u.to_string(), u.division_code());
    }
    if let Ok(l) = LicenceId::parse(s) {
        let _ = (
            l.to_string(),
            l.serial(),
            l.version(),
            l.type_code_authority(),
        );
    }
    for json in [format!("{s:?}"), s.to_owned()] {
        let _ = serde_json::from_str::<IdNumber>(&json);
        let _ = serde_json::from_str::<LicenceId>(&json);
    }
}

proptest! {
    #[test]
    fn parsers_never_panic_on_any_string(s in any::<String>()) {
        exercise_all(&s);
    }

    #[test]
    fn parsers_never_panic_on_near_miss_strings(s in "[0-9A-Zx.]{0,60}") {
        exercise_all(&s);
    }

    #[test]
    fn parsers_never_panic_on_prefixed_strings(s in "1\\.2\\.156\\.3005\\.2\\.[0-9A-Zx.中é]{0,130}") {
        exercise_all(&s);
    }

    #[test]
    fn parsers_never_panic_on_id_like_strings(s in "[0-9]{14,17}[0-9Xx中é]{0,3}") {
        exercise_all(&s);
    }
}
