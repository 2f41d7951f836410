//! Masking of personal data for display and logs.
//!
//! All functions work on Unicode scalar values (`char`s), never on bytes, so
//! multi-byte input is handled without slicing panics.

/// Masking character.
const MASK: char = '*';

/// Masks a person's name: the first character is kept, every other character
/// becomes `*` ("张三" → "张*", "欧阳娜娜" → "欧***"). A single-character name
/// becomes "*"; an empty string stays empty.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let rest = chars.count();
    if rest == 0 {
        return MASK.to_string();
    }
    let mut out = String::with_capacity(first.len_utf8() + rest);
    out.push(first);
    out.extend(std::iter::repeat_n(MASK, rest));
    out
}

/// Masks a phone number.
///
/// An 11-digit mainland mobile number (ASCII digits starting with `1`) keeps
/// its first 3 and last 4 digits: "13812341234" → "138****1234". Anything else
/// keeps only its last 2 characters; strings of 2 characters or fewer are
/// masked entirely (keeping the last 2 would reveal everything).
pub fn mask_phone(phone: &str) -> String {
    let is_mainland_mobile =
        phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit());
    if is_mainland_mobile {
        return mask_keep(phone, 3, 4);
    }
    mask_keep(phone, 0, 2)
}

/// Keeps the first `keep_start` and last `keep_end` characters of `s` and
/// replaces every other character with `*`, preserving the character count.
/// If nothing would be masked (`s` has at most `keep_start + keep_end`
/// characters), everything is masked instead so no short value leaks in full.
pub(crate) fn mask_keep(s: &str, keep_start: usize, keep_end: usize) -> String {
    let count = s.chars().count();
    if count <= keep_start + keep_end {
        return std::iter::repeat_n(MASK, count).collect();
    }
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_start || i >= count - keep_end {
                c
            } else {
                MASK
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("Li Lei"), "L*****");
    }

    #[test]
    fn phones() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("02112345678"), "*********78");
        assert_eq!(mask_phone("+8613812341234"), "************34");
        assert_eq!(mask_phone("1381234123"), "********23");
        assert_eq!(mask_phone("12"), "**");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("电话号码一二三"), "*****二三");
    }

    #[test]
    fn keep() {
        assert_eq!(mask_keep("11010519491231002X", 4, 4), "1101**********002X");
        assert_eq!(mask_keep("abc", 0, 2), "*bc");
        assert_eq!(mask_keep("ab", 0, 2), "**");
    }
}
