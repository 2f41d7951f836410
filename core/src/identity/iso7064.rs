//! ISO 7064 check character systems.
//!
//! * MOD 11-2 (pure system), as profiled by GB 11643-1999 for citizen ID numbers.
//! * MOD 37,36 (hybrid system, M = 36) over the alphabet `0-9` = 0..9,
//!   `A-Z` = 10..35, used by GB/T 36904-2018 licence identifiers.

/// GB 11643-1999 weights for the 17 body digits (2^(18-i) mod 11).
const MOD_11_2_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character indexed by (weighted sum mod 11).
const MOD_11_2_CHECK: &[u8; 11] = b"10X98765432";

/// Alphabet of the MOD 37,36 system; a character's value is its index.
const MOD_37_36_ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// MOD 11-2 check character (`0`-`9` or `X`) for exactly 17 ASCII digits;
/// `None` if `body` is not 17 ASCII digits.
pub(crate) fn mod_11_2_check(body: &[u8]) -> Option<u8> {
    if body.len() != MOD_11_2_WEIGHTS.len() || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = body
        .iter()
        .zip(MOD_11_2_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    // `sum % 11` is in 0..11, a valid index into the 11-entry table.
    MOD_11_2_CHECK.get((sum % 11) as usize).copied()
}

/// Value of a MOD 37,36 character (`0`-`9` → 0..9, `A`-`Z` → 10..35).
fn mod_37_36_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

/// Runs the hybrid MOD 37,36 recursion over `chars`, starting from P = 36,
/// returning the final P (always in 1..=36), or `None` on a character outside
/// the alphabet.
fn mod_37_36_run(chars: impl IntoIterator<Item = u8>) -> Option<u32> {
    let mut p = 36;
    for c in chars {
        let a = mod_37_36_value(c)?;
        let mut s = (p + a) % 36;
        if s == 0 {
            s = 36;
        }
        p = (2 * s) % 37;
    }
    Some(p)
}

/// ISO 7064 MOD 37,36 check character (`0`-`9`, `A`-`Z`) for `chars`, or
/// `None` if a character is outside `0-9A-Z`.
///
/// The check value c satisfies (P + c) mod 36 = 1, where P is the state after
/// the data characters, so running the recursion over data + check ends with
/// S = 1 (see [`mod_37_36_is_valid`]).
pub(crate) fn mod_37_36_check(chars: impl IntoIterator<Item = u8>) -> Option<u8> {
    let p = mod_37_36_run(chars)?;
    // p is in 1..=36, so (37 - p) mod 36 is in 0..36.
    MOD_37_36_ALPHABET.get(((37 - p) % 36) as usize).copied()
}

/// Whether `chars` (data followed by its check character) satisfies ISO 7064
/// MOD 37,36: the last step of the recursion yields S = 1.
#[cfg(test)]
pub(crate) fn mod_37_36_is_valid(chars: &[u8]) -> bool {
    let Some((&check, data)) = chars.split_last() else {
        return false;
    };
    match (mod_37_36_run(data.iter().copied()), mod_37_36_value(check)) {
        (Some(p), Some(c)) => (p + c) % 36 == 1,
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mod_11_2_standard_example() {
        assert_eq!(mod_11_2_check(b"11010519491231002"), Some(b'X'));
        assert_eq!(mod_11_2_check(b"1101051949123100"), None);
        assert_eq!(mod_11_2_check(b"1101051949123100A"), None);
    }

    #[test]
    fn mod_11_2_weights_are_powers_of_two() {
        for (i, w) in MOD_11_2_WEIGHTS.iter().enumerate() {
            let exp = 17 - i as u32;
            assert_eq!(2u32.pow(exp) % 11, *w);
        }
    }

    #[test]
    fn mod_37_36_check_verifies() {
        for data in [
            &b"1215630052"[..],
            b"0",
            b"Z",
            b"ZZZZZZZZZZ",
            b"ABC123",
            b"",
        ] {
            let c = mod_37_36_check(data.iter().copied()).unwrap();
            let mut full = data.to_vec();
            full.push(c);
            assert!(mod_37_36_is_valid(&full), "{full:?}");
        }
        assert_eq!(mod_37_36_check(b"ab".iter().copied()), None);
    }

    #[test]
    fn mod_37_36_detects_every_single_substitution() {
        let data = b"121563005211100000000013338W01191350100M000100Y43SERIAL9001";
        let check = mod_37_36_check(data.iter().copied()).unwrap();
        let mut full = data.to_vec();
        full.push(check);
        assert!(mod_37_36_is_valid(&full));
        for i in 0..full.len() {
            for &sub in MOD_37_36_ALPHABET {
                if sub == full[i] {
                    continue;
                }
                let mut bad = full.clone();
                bad[i] = sub;
                assert!(!mod_37_36_is_valid(&bad), "position {i} -> {}", sub as char);
            }
        }
    }

    #[test]
    fn mod_37_36_covers_every_check_value() {
        // Every alphabet character occurs as a check character for some input.
        let mut seen = [false; 36];
        for &a in MOD_37_36_ALPHABET {
            for &b in MOD_37_36_ALPHABET {
                let c = mod_37_36_check([a, b]).unwrap();
                seen[mod_37_36_value(c).unwrap() as usize] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
    }
}
