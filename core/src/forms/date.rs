//! `YYYY-MM-DD` dates, by hand: the crate's `time` has no `parsing` or
//! `formatting` feature (they pull in more code than this needs).

use time::{Date, Month};

/// Parses exactly `YYYY-MM-DD` (4-digit year, zero-padded month and day) into a
/// real calendar date; `2023-02-29` and `2024-1-5` are rejected.
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let year = i32::try_from(year).ok()?;
    Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
}

/// Formats a date as `YYYY-MM-DD`.
pub(crate) fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The value of a run of ASCII digits; `None` if any byte is not a digit.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn parses_real_dates() {
        assert_eq!(parse_date("2024-02-29"), Some(date!(2024 - 02 - 29)));
        assert_eq!(parse_date("0001-01-01"), Some(date!(0001 - 01 - 01)));
        assert_eq!(parse_date("9999-12-31"), Some(date!(9999 - 12 - 31)));
    }

    #[test]
    fn rejects_malformed_and_impossible_dates() {
        for s in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-01-00",
            "2024-1-05",
            "2024/01/05",
            "24-01-05",
            "2024-01-05T00:00",
            "２０２４-01-05",
            "",
            "abcd-ef-gh",
            "+202-01-05",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }

    #[test]
    fn formats_round_trip() {
        let d = date!(2025 - 07 - 04);
        assert_eq!(format_date(d), "2025-07-04");
        assert_eq!(parse_date(&format_date(d)), Some(d));
    }
}
