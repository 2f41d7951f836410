//! Classification of whatever a scanner reads: [`classify`] turns the text of a
//! QR code into a yiwang presentation, a scan-to-login request, a service link,
//! or [`Scanned::Unknown`] with the reason.
//!
//! [`classify`] never panics. It first rejects text longer than 8 KiB
//! ([`MAX_SCANNED_LEN`] bytes), then trims surrounding whitespace (scanners add
//! CR/LF); empty text is [`UnknownReason::Empty`].
//!
//! # Formats
//!
//! ## Presentation
//!
//! `YW1:<BASE45>` ([`PRESENTATION_PREFIX`], case-sensitive). Only the prefix and
//! the alphabet are checked here: at least one character must follow the
//! prefix, and all must be from the Base45 alphabet (RFC 9285)
//! `0-9 A-Z`, space and `$ % * + - . / :`. The credential module verifies the
//! content. Trimming cannot cut a valid payload: the last character of valid
//! Base45 is never a space. Result: [`Scanned::Presentation`] with the whole
//! (trimmed) text, prefix included.
//!
//! ## Scan-to-login request (扫码登录)
//!
//! `yiwang://login?server=<URL>&session=<SESSION>`
//!
//! - Query parameters may come in any order; unknown parameters are ignored;
//!   `server` or `session` appearing twice is an error.
//! - `server` may be percent-encoded (`%2F` etc.; `+` is not a space). After
//!   decoding it is at most 256 bytes of URL characters (RFC 3986 unreserved,
//!   reserved and `%`; no spaces, no non-ASCII), contains no `@` (no
//!   user-info) and is either
//!   - `https://<host>[:<port>][<path, query, fragment>]` where host is a DNS
//!     name (labels of `a-z 0-9 -`, at most 63 bytes each, no leading or
//!     trailing `-`) or a bracketed IPv6 literal, or
//!   - `http://127.0.0.1[:<port>]…`, `http://localhost[:<port>]…` or
//!     `http://[::1][:<port>]…` (loopback, for development and tests).
//!
//!   The port, if present, is 1 to 65535. Scheme and host are case-insensitive
//!   and returned in lowercase (the port without leading zeros); the rest is
//!   returned unchanged.
//! - `session` is 16 to 64 characters from `A-Z a-z 0-9 _ -` (not
//!   percent-decoded).
//! - The scheme `yiwang://`, the word `login` and the parameter names are
//!   matched case-insensitively, so `YIWANG://LOGIN?SERVER=…&SESSION=…` is
//!   accepted; parameter values keep their case.
//!
//! Result: [`Scanned::LoginRequest`]. A malformed request is
//! [`UnknownReason::MalformedLogin`] naming the part: `"query"` (no `?` after
//! `login`), `"server"` (missing, repeated, bad percent escape, not UTF-8, or
//! not an allowed URL) or `"session"` (missing, repeated or invalid).
//!
//! ## Service link
//!
//! `yiwang://service/<CODE>`, optionally followed by `?<query>` such as
//! `?from=<channel>` (the query is ignored). `CODE` is a matter standard code:
//! 1 to 64 characters from `A-Z 0-9 -` (uppercase only). The scheme and the
//! word `service` are case-insensitive. Result: [`Scanned::ServiceLink`];
//! otherwise [`UnknownReason::MalformedService`].
//!
//! ## Everything else
//!
//! Other `yiwang://` links (another action, e.g. from a newer app version) are
//! [`UnknownReason::UnsupportedLink`]; any other text, other URLs included, is
//! [`UnknownReason::NotYiwang`].
//!
//! Each [`UnknownReason`] has a stable `code()` (`YW-131x`).

use std::fmt;

/// QR text prefix of a yiwang presentation (the rest is Base45).
pub const PRESENTATION_PREFIX: &str = "YW1:";

/// Longest text [`classify`] looks at, in bytes (before trimming).
pub const MAX_SCANNED_LEN: usize = 8 * 1024;

/// Longest accepted login `server` URL, in bytes, after percent-decoding.
pub const MAX_SERVER_LEN: usize = 256;

const SCHEME: &str = "yiwang://";
const SESSION_MIN_LEN: usize = 16;
const SESSION_MAX_LEN: usize = 64;
const MATTER_CODE_MAX_LEN: usize = 64;
const DNS_LABEL_MAX_LEN: usize = 63;

/// What a scanned text is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scanned {
    /// A yiwang presentation: the full (trimmed) text, starting with
    /// [`PRESENTATION_PREFIX`]. Only the prefix and the Base45 alphabet have
    /// been checked; the credential module verifies the content.
    Presentation(String),
    /// A government website's scan-to-login QR code (扫码登录).
    LoginRequest(LoginRequest),
    /// A deep link to a service matter.
    ServiceLink(ServiceLink),
    /// Anything else, and why.
    Unknown(UnknownReason),
}

/// A scan-to-login request: the app authenticates to `server` for the browser
/// session `session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    /// `https://` URL (or loopback `http://` URL), scheme and host lowercase.
    pub server: String,
    /// 16 to 64 characters from `A-Z a-z 0-9 _ -`.
    pub session: String,
}

/// A deep link to a service matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLink {
    /// Matter standard code: 1 to 64 characters from `A-Z 0-9 -`.
    pub matter_code: String,
}

/// Why a scanned text is [`Scanned::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownReason {
    /// Nothing but whitespace.
    Empty,
    /// Longer than [`MAX_SCANNED_LEN`] bytes.
    TooLong,
    /// Not a yiwang code (any other text, including other URLs).
    NotYiwang,
    /// A `yiwang://login` link with a malformed part: `"query"`, `"server"` or
    /// `"session"`.
    MalformedLogin(&'static str),
    /// A `yiwang://service` link without a valid matter code.
    MalformedService,
    /// Has [`PRESENTATION_PREFIX`] but nothing after it, or characters outside
    /// the Base45 alphabet.
    MalformedPresentation,
    /// A `yiwang://` link with an action this version does not know.
    UnsupportedLink,
}

impl UnknownReason {
    /// Stable code (`YW-1311`..`YW-1319`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "YW-1311",
            Self::TooLong => "YW-1312",
            Self::NotYiwang => "YW-1313",
            Self::MalformedLogin(_) => "YW-1314",
            Self::MalformedService => "YW-1315",
            Self::MalformedPresentation => "YW-1316",
            Self::UnsupportedLink => "YW-1317",
        }
    }
}

impl fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty code"),
            Self::TooLong => write!(f, "code longer than {MAX_SCANNED_LEN} bytes"),
            Self::NotYiwang => f.write_str("not a yiwang code"),
            Self::MalformedLogin(part) => write!(f, "malformed login request: {part}"),
            Self::MalformedService => f.write_str("malformed service link"),
            Self::MalformedPresentation => f.write_str("malformed presentation"),
            Self::UnsupportedLink => f.write_str("unsupported yiwang link"),
        }
    }
}

/// Classifies the text of a scanned code. Never panics; see the module
/// documentation for the formats.
pub fn classify(text: &str) -> Scanned {
    match classify_trimmed(text) {
        Ok(scanned) => scanned,
        Err(reason) => Scanned::Unknown(reason),
    }
}

fn classify_trimmed(text: &str) -> Result<Scanned, UnknownReason> {
    if text.len() > MAX_SCANNED_LEN {
        return Err(UnknownReason::TooLong);
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(UnknownReason::Empty);
    }
    if let Some(payload) = text.strip_prefix(PRESENTATION_PREFIX) {
        return if !payload.is_empty() && payload.bytes().all(is_base45) {
            Ok(Scanned::Presentation(text.to_owned()))
        } else {
            Err(UnknownReason::MalformedPresentation)
        };
    }
    let link = strip_prefix_ignore_case(text, SCHEME).ok_or(UnknownReason::NotYiwang)?;
    let (action, query) = match link.split_once('?') {
        Some((action, query)) => (action, Some(query)),
        None => (link, None),
    };
    if action.eq_ignore_ascii_case("login") {
        let query = query.ok_or(UnknownReason::MalformedLogin("query"))?;
        return parse_login(query).map(Scanned::LoginRequest);
    }
    if action.eq_ignore_ascii_case("service") {
        return Err(UnknownReason::MalformedService);
    }
    if let Some(code) = strip_prefix_ignore_case(action, "service/") {
        return if is_matter_code(code) {
            Ok(Scanned::ServiceLink(ServiceLink {
                matter_code: code.to_owned(),
            }))
        } else {
            Err(UnknownReason::MalformedService)
        };
    }
    Err(UnknownReason::UnsupportedLink)
}

/// Parses the query of a login link (after `?`).
fn parse_login(query: &str) -> Result<LoginRequest, UnknownReason> {
    let mut server = None;
    let mut session = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (slot, part) = if name.eq_ignore_ascii_case("server") {
            (&mut server, "server")
        } else if name.eq_ignore_ascii_case("session") {
            (&mut session, "session")
        } else {
            continue;
        };
        if slot.replace(value).is_some() {
            return Err(UnknownReason::MalformedLogin(part));
        }
    }
    let server = server
        .and_then(parse_server)
        .ok_or(UnknownReason::MalformedLogin("server"))?;
    let session = session
        .filter(|s| is_session(s))
        .ok_or(UnknownReason::MalformedLogin("session"))?;
    Ok(LoginRequest {
        server,
        session: session.to_owned(),
    })
}

/// Percent-decodes and validates a login `server` URL; returns it with scheme
/// and host in lowercase.
fn parse_server(raw: &str) -> Option<String> {
    let url = percent_decode(raw)?;
    if url.len() > MAX_SERVER_LEN || url.contains('@') || !url.bytes().all(is_url_char) {
        return None;
    }
    let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(&url, "https://") {
        ("https", rest)
    } else if let Some(rest) = strip_prefix_ignore_case(&url, "http://") {
        ("http", rest)
    } else {
        return None;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (host, port) = split_host_port(authority)?;
    let host = host.to_ascii_lowercase();
    let host_ok = match scheme {
        "https" => is_dns_name(&host) || is_ipv6_literal(&host),
        _ => matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]"),
    };
    if !host_ok {
        return None;
    }
    let port = match port {
        None => String::new(),
        Some(port) => format!(":{}", parse_port(port)?),
    };
    Some(format!("{scheme}://{host}{port}{tail}"))
}

/// Splits `host[:port]` or `[ipv6][:port]`.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, after) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        authority.split_at(end)
    } else {
        match authority.find(':') {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        }
    };
    if after.is_empty() {
        Some((host, None))
    } else {
        Some((host, Some(after.strip_prefix(':')?)))
    }
}

/// A port of 1 to 5 digits, 1..=65535.
fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse::<u16>().ok().filter(|&p| p != 0)
}

/// Lowercase DNS name: dot-separated labels of `a-z 0-9 -`, 1 to 63 bytes each,
/// not starting or ending with `-`.
fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= DNS_LABEL_MAX_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// `[...]` with hex digits, `:` and `.` (IPv4-mapped) inside, at least one `:`.
fn is_ipv6_literal(host: &str) -> bool {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .is_some_and(|inner| {
            inner.contains(':')
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        })
}

/// Decodes `%XX` escapes (`+` stays `+`); `None` for an invalid escape or a
/// result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 unreserved and reserved characters, and `%`.
fn is_url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

fn is_session(s: &str) -> bool {
    (SESSION_MIN_LEN..=SESSION_MAX_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_matter_code(s: &str) -> bool {
    (1..=MATTER_CODE_MAX_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// The Base45 alphabet (RFC 9285), which is also the QR alphanumeric set.
fn is_base45(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b" $%*+-./:".contains(&b)
}

/// `s` without `prefix`, compared ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SESSION: &str = "AbCdEf0123456789_-xY";

    fn login(server: &str, session: &str) -> Scanned {
        Scanned::LoginRequest(LoginRequest {
            server: server.to_owned(),
            session: session.to_owned(),
        })
    }

    fn unknown(reason: UnknownReason) -> Scanned {
        Scanned::Unknown(reason)
    }

    #[test]
    fn presentation() {
        assert_eq!(
            classify("YW1:NCFOXN*TDK%5"),
            Scanned::Presentation("YW1:NCFOXN*TDK%5".to_owned())
        );
        assert_eq!(
            classify("\r\n YW1:6BFOXN TDK 5\r\n"),
            Scanned::Presentation("YW1:6BFOXN TDK 5".to_owned())
        );
        assert_eq!(
            classify("YW1:"),
            unknown(UnknownReason::MalformedPresentation)
        );
        assert_eq!(
            classify("YW1:abc"),
            unknown(UnknownReason::MalformedPresentation)
        );
        assert_eq!(
            classify("YW1:AB#C"),
            unknown(UnknownReason::MalformedPresentation)
        );
        assert_eq!(classify("yw1:ABC"), unknown(UnknownReason::NotYiwang));
    }

    #[test]
    fn login_requests() {
        let expected = login("https://zwfw.example.gov.cn/sso", SESSION);
        for text in [
            format!("yiwang://login?server=https://zwfw.example.gov.cn/sso&session={SESSION}"),
            format!("yiwang://login?session={SESSION}&server=https://zwfw.example.gov.cn/sso"),
            format!(
                "yiwang://login?server=https%3A%2F%2Fzwfw.example.gov.cn%2Fsso&x=1&session={SESSION}"
            ),
            format!("YIWANG://LOGIN?SERVER=https://zwfw.example.gov.cn/sso&SESSION={SESSION}"),
            format!("YiWang://Login?Server=HTTPS://ZWFW.Example.GOV.cn/sso&Session={SESSION}"),
            format!(
                "  yiwang://login?server=https://zwfw.example.gov.cn/sso&session={SESSION}\r\n"
            ),
        ] {
            assert_eq!(classify(&text), expected, "{text}");
        }
    }

    #[test]
    fn login_servers() {
        let ok = [
            ("https://gov.cn", "https://gov.cn"),
            ("https://gov.cn:8443/a?b=c#d", "https://gov.cn:8443/a?b=c#d"),
            ("https://gov.cn:08443", "https://gov.cn:8443"),
            ("https://[2001:db8::1]:443/x", "https://[2001:db8::1]:443/x"),
            ("https://1.2.3.4/", "https://1.2.3.4/"),
            ("http://127.0.0.1", "http://127.0.0.1"),
            ("http://127.0.0.1:8080/login", "http://127.0.0.1:8080/login"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("HTTP://LOCALHOST:3000/", "http://localhost:3000/"),
            ("http://[::1]:9", "http://[::1]:9"),
        ];
        for (raw, normalised) in ok {
            let text = format!("yiwang://login?server={raw}&session={SESSION}");
            assert_eq!(classify(&text), login(normalised, SESSION), "{raw}");
        }
        let long = format!("https://gov.cn/{}", "a".repeat(MAX_SERVER_LEN - 15));
        assert_eq!(long.len(), MAX_SERVER_LEN);
        let too_long = format!("{long}a");
        let bad = [
            "",
            "gov.cn",
            "ftp://gov.cn",
            "http://gov.cn",
            "http://127.0.0.2",
            "http://localhost.evil.cn",
            "https://",
            "https:///path",
            "https://user@gov.cn",
            "https://gov.cn@evil.cn",
            "https://gov.cn%40evil.cn",
            "https://gov.cn:",
            "https://gov.cn:0",
            "https://gov.cn:65536",
            "https://gov.cn:123456",
            "https://gov.cn:8a",
            "https://-gov.cn",
            "https://gov..cn",
            "https://gov_cn.cn",
            "https://gov.cn/a b",
            "https://gov.cn/a%20b",
            "https://gov.cn\\@evil.cn",
            "https://政务.cn",
            "https://[::1",
            "https://[zz::1]",
            "https://%",
            "https://gov.cn%2",
            "https://gov.cn%zz",
            "https://gov.cn%FF",
            too_long.as_str(),
        ];
        for raw in bad {
            let text = format!("yiwang://login?server={raw}&session={SESSION}");
            assert_eq!(
                classify(&text),
                unknown(UnknownReason::MalformedLogin("server")),
                "{raw}"
            );
        }
        let text = format!("yiwang://login?server={long}&session={SESSION}");
        assert_eq!(classify(&text), login(&long, SESSION));
    }

    #[test]
    fn login_sessions() {
        for session in ["a".repeat(16), "Z".repeat(64), "0_-".repeat(6)] {
            let text = format!("yiwang://login?server=https://gov.cn&session={session}");
            assert_eq!(classify(&text), login("https://gov.cn", &session));
        }
        for session in [
            String::new(),
            "a".repeat(15),
            "a".repeat(65),
            format!("{}%41", "a".repeat(16)),
            format!("{}.", "a".repeat(16)),
            format!("{}中", "a".repeat(16)),
        ] {
            let text = format!("yiwang://login?server=https://gov.cn&session={session}");
            assert_eq!(
                classify(&text),
                unknown(UnknownReason::MalformedLogin("session")),
                "{session}"
            );
        }
    }

    #[test]
    fn malformed_login_parts() {
        let part = |text: &str| match classify(text) {
            Scanned::Unknown(UnknownReason::MalformedLogin(part)) => part,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(part("yiwang://login"), "query");
        assert_eq!(part("yiwang://login?"), "server");
        assert_eq!(part(&format!("yiwang://login?session={SESSION}")), "server");
        assert_eq!(part("yiwang://login?server=https://gov.cn"), "session");
        assert_eq!(
            part(&format!(
                "yiwang://login?server=https://gov.cn&server=https://gov.cn&session={SESSION}"
            )),
            "server"
        );
        assert_eq!(
            part(&format!(
                "yiwang://login?server=https://gov.cn&session={SESSION}&SESSION={SESSION}"
            )),
            "session"
        );
        assert_eq!(
            part(&format!("yiwang://login?server&session={SESSION}")),
            "server"
        );
    }

    #[test]
    fn service_links() {
        let link = |code: &str| {
            Scanned::ServiceLink(ServiceLink {
                matter_code: code.to_owned(),
            })
        };
        assert_eq!(
            classify("yiwang://service/11100000000013338W3000117200001"),
            link("11100000000013338W3000117200001")
        );
        assert_eq!(
            classify("YIWANG://SERVICE/ABC-123?from=wechat"),
            link("ABC-123")
        );
        assert_eq!(classify("yiwang://service/A?"), link("A"));
        assert_eq!(
            classify(&format!("yiwang://service/{}", "9".repeat(64))),
            link(&"9".repeat(64))
        );
        for bad in [
            "yiwang://service",
            "yiwang://service/",
            "yiwang://service/abc",
            "yiwang://service/ABC/",
            "yiwang://service/AB_C",
            "yiwang://service/ABC#x",
            "yiwang://service?from=x",
        ] {
            assert_eq!(
                classify(bad),
                unknown(UnknownReason::MalformedService),
                "{bad}"
            );
        }
        let too_long = format!("yiwang://service/{}", "9".repeat(65));
        assert_eq!(
            classify(&too_long),
            unknown(UnknownReason::MalformedService)
        );
    }

    #[test]
    fn other_texts() {
        assert_eq!(classify(""), unknown(UnknownReason::Empty));
        assert_eq!(classify(" \r\n\t "), unknown(UnknownReason::Empty));
        assert_eq!(
            classify(&"A".repeat(MAX_SCANNED_LEN + 1)),
            unknown(UnknownReason::TooLong)
        );
        assert_eq!(
            classify(&format!("YW1:{}", "A".repeat(MAX_SCANNED_LEN - 4))),
            Scanned::Presentation(format!("YW1:{}", "A".repeat(MAX_SCANNED_LEN - 4)))
        );
        assert_eq!(
            classify("https://www.gov.cn/"),
            unknown(UnknownReason::NotYiwang)
        );
        assert_eq!(classify("yiwang:/login"), unknown(UnknownReason::NotYiwang));
        assert_eq!(classify("中文"), unknown(UnknownReason::NotYiwang));
        assert_eq!(
            classify("yiwang://pay?x=1"),
            unknown(UnknownReason::UnsupportedLink)
        );
        assert_eq!(
            classify("yiwang://"),
            unknown(UnknownReason::UnsupportedLink)
        );
        assert_eq!(
            classify("yiwang://login/?server=https://gov.cn"),
            unknown(UnknownReason::UnsupportedLink)
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%2fc+").unwrap(), "a/b/c+");
        assert_eq!(percent_decode("%E6%94%BF").unwrap(), "政");
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%G0"), None);
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn reason_codes_are_distinct() {
        let reasons = [
            UnknownReason::Empty,
            UnknownReason::TooLong,
            UnknownReason::NotYiwang,
            UnknownReason::MalformedLogin("server"),
            UnknownReason::MalformedService,
            UnknownReason::MalformedPresentation,
            UnknownReason::UnsupportedLink,
        ];
        let codes: std::collections::HashSet<_> = reasons.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), reasons.len());
        assert!(
            codes
                .iter()
                .all(|c| c.starts_with("YW-131") && c.len() == 7)
        );
        for reason in reasons {
            assert!(!reason.to_string().is_empty());
        }
    }
}
