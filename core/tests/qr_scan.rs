//! Integration tests for `yiwang_core::qr` and `yiwang_core::scan`: QR round
//! trips through PNG, the SVG shape, alphanumeric-mode capacity, hostile
//! images, the scanned-text formats, and property tests (the number of cases
//! follows `PROPTEST_CASES`).
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use yiwang_core::qr::{QrError, QrMatrix, decode_png};
use yiwang_core::scan::{
    LoginRequest, PRESENTATION_PREFIX, Scanned, ServiceLink, UnknownReason, classify,
};

/// The Base45 alphabet, also the QR alphanumeric set.
const BASE45: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

const SESSION: &str = "q8Xz_3kLm-N0pQrS7tUv";

/// A deterministic pseudo-random Base45 string of `len` characters.
fn base45_text(len: usize, seed: u32) -> String {
    let alphabet = BASE45.as_bytes();
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(alphabet[state as usize % alphabet.len()])
        })
        .collect()
}

/// A presentation-like text of `len` characters: `YW1:` and Base45.
fn presentation_text(len: usize) -> String {
    format!("{PRESENTATION_PREFIX}{}", base45_text(len - 4, 0x5eed))
}

/// An all-white 8-bit greyscale PNG.
fn white_png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer
        .write_image_data(&vec![255; (width * height) as usize])
        .unwrap();
    writer.finish().unwrap();
    out
}

/// CRC-32 (ISO-HDLC) as used by PNG chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Recomputes the CRC of every chunk that fits in `png`, so that corrupted
/// chunk contents reach the decoder's deeper layers instead of failing the CRC.
fn recompute_crcs(png: &mut [u8]) {
    let mut pos = 8;
    while pos + 12 <= png.len() {
        let len = u32::from_be_bytes([png[pos], png[pos + 1], png[pos + 2], png[pos + 3]]);
        let end = pos + 8 + len as usize;
        if end + 4 > png.len() {
            break;
        }
        let crc = crc32(&png[pos + 4..end]);
        png[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        pos = end + 4;
    }
}

/// A PNG signature and a valid IHDR chunk declaring `width` x `height` 8-bit
/// RGBA, followed by a tiny (invalid) IDAT and IEND.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00]);
    chunk(&mut out, b"IEND", &[]);
    out
}

// ---- (1) round trips, (2) PNG header ----

#[test]
fn png_round_trips() {
    let texts = [
        presentation_text(500),
        "https://zwfw.example.gov.cn/service/11100000000013338W3000117200001?from=wechat"
            .to_owned(),
        "您好，一网通办：个人社保缴费证明已签发。".to_owned(),
        "A".to_owned(),
    ];
    for text in &texts {
        let matrix = QrMatrix::encode(text).unwrap();
        for module_px in [3, 4] {
            let png_bytes = matrix.to_png(module_px).unwrap();
            assert_eq!(
                decode_png(&png_bytes).unwrap(),
                vec![text.clone()],
                "text of {} chars at {module_px} px",
                text.chars().count()
            );
        }
        assert!((1..=40).contains(&matrix.version()));
        assert_eq!(matrix.width(), 17 + 4 * usize::from(matrix.version()));
        assert_eq!(matrix.modules().len(), matrix.width() * matrix.width());
        println!(
            "{:>3} chars -> version {}",
            text.chars().count(),
            matrix.version()
        );
    }
    assert_eq!(QrMatrix::encode("A").unwrap().version(), 1);
}

#[test]
fn png_is_8_bit_greyscale_with_quiet_zone() {
    let matrix = QrMatrix::encode("YW1:HEADER CHECK").unwrap();
    for module_px in [1, 4, 10] {
        let png_bytes = matrix.to_png(module_px).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes.as_slice()));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        let expected = (matrix.width() as u32 + 8) * module_px;
        assert_eq!((info.width, info.height), (expected, expected));
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
    }
}

// ---- (3) SVG ----

#[test]
fn svg_shape() {
    let matrix = QrMatrix::encode("https://www.gov.cn/").unwrap();
    let svg = matrix.to_svg(8);
    let side = matrix.width() + 8;
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(r#"xmlns="http://www.w3.org/2000/svg""#));
    assert!(svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)));
    assert!(svg.contains(&format!(r#"width="{}""#, side * 8)));
    assert!(svg.contains(&format!(r#"height="{}""#, side * 8)));
    assert!(svg.contains(r#"shape-rendering="crispEdges""#));
    assert_eq!(svg.matches("<path").count(), 1);
    assert_eq!(svg.matches("<rect").count(), 1);
    // Tags are balanced: every `<` has its `>`, and the path is self-closing.
    assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    assert!(svg.contains("\"/></svg>"));
}

// ---- (4) alphanumeric mode ----

#[test]
fn alphanumeric_mode_keeps_presentations_small() {
    for len in [100, 300, 500, 600] {
        let text = presentation_text(len);
        let version = QrMatrix::encode(&text).unwrap().version();
        println!("{len} Base45 chars -> version {version} (level M)");
    }
    // 600 characters need version 19 in byte mode (4 + 16 + 4800 bits): fitting
    // version 16 or lower is only possible in alphanumeric mode.
    let upper = base45_text(600, 42);
    let version = QrMatrix::encode(&upper).unwrap().version();
    assert!(version <= 16, "600 Base45 chars took version {version}");
    let version = QrMatrix::encode(&presentation_text(600)).unwrap().version();
    assert!(
        version <= 16,
        "600-char presentation took version {version}"
    );
}

// ---- (5) hostile images ----

#[test]
fn decode_errors_have_codes() {
    let garbage = decode_png(b"\x00\x01garbage, not an image at all").unwrap_err();
    assert!(matches!(garbage, QrError::Png(_)));
    assert_eq!(garbage.code(), "YW-1303");

    let good = QrMatrix::encode("TRUNCATE ME").unwrap().to_png(4).unwrap();
    for cut in [8, 20, 33, good.len() / 2, good.len() - 13] {
        let err = decode_png(&good[..cut]).unwrap_err();
        assert_eq!(err.code(), "YW-1303", "cut at {cut}: {err}");
    }

    let white = decode_png(&white_png(200, 120)).unwrap_err();
    assert_eq!(white, QrError::NotFound);
    assert_eq!(white.code(), "YW-1306");

    let huge = decode_png(&png_header_only(100_000, 100_000)).unwrap_err();
    assert_eq!(
        huge,
        QrError::ImageTooLarge {
            width: 100_000,
            height: 100_000
        }
    );
    assert_eq!(huge.code(), "YW-1304");
    // Each side within limits, area not.
    let wide = decode_png(&png_header_only(4096, 4096)).unwrap_err();
    assert_eq!(wide.code(), "YW-1304");
    // Within limits: the header passes, the bogus image data does not.
    let small = decode_png(&png_header_only(64, 64)).unwrap_err();
    assert_eq!(small.code(), "YW-1303");
    // Messages never echo input.
    assert!(!garbage.to_string().contains("garbage"));
}

// ---- (6) classify ----

#[test]
fn classify_presentations() {
    let text = presentation_text(300);
    assert_eq!(classify(&text), Scanned::Presentation(text.clone()));
    assert_eq!(
        classify(&format!("\r\n{text}\r\n")),
        Scanned::Presentation(text.clone())
    );
    assert_eq!(
        classify("YW1:"),
        Scanned::Unknown(UnknownReason::MalformedPresentation)
    );
    assert_eq!(
        classify("YW1:lowercase"),
        Scanned::Unknown(UnknownReason::MalformedPresentation)
    );
}

#[test]
fn classify_login_requests() {
    let expected = |server: &str| {
        Scanned::LoginRequest(LoginRequest {
            server: server.to_owned(),
            session: SESSION.to_owned(),
        })
    };
    let cases = [
        (
            format!("yiwang://login?server=https://sso.example.gov.cn&session={SESSION}"),
            "https://sso.example.gov.cn",
        ),
        (
            format!("yiwang://login?session={SESSION}&server=https://sso.example.gov.cn/qr"),
            "https://sso.example.gov.cn/qr",
        ),
        (
            format!(
                "yiwang://login?server=https%3A%2F%2Fsso.example.gov.cn%3A8443%2Fqr&session={SESSION}&v=2"
            ),
            "https://sso.example.gov.cn:8443/qr",
        ),
        (
            format!("YIWANG://LOGIN?SERVER=https://sso.example.gov.cn&SESSION={SESSION}"),
            "https://sso.example.gov.cn",
        ),
        (
            format!("yiwang://login?server=http://127.0.0.1:8080&session={SESSION}"),
            "http://127.0.0.1:8080",
        ),
        (
            format!("yiwang://login?server=http://localhost&session={SESSION}"),
            "http://localhost",
        ),
        (
            format!("yiwang://login?server=http://[::1]:3000/&session={SESSION}"),
            "http://[::1]:3000/",
        ),
        (
            format!(" \tyiwang://login?server=https://sso.example.gov.cn&session={SESSION}\r\n"),
            "https://sso.example.gov.cn",
        ),
    ];
    for (text, server) in &cases {
        assert_eq!(classify(text), expected(server), "{text}");
    }
    let malformed = [
        ("yiwang://login".to_owned(), "query"),
        (format!("yiwang://login?session={SESSION}"), "server"),
        (
            format!("yiwang://login?server=http://sso.example.gov.cn&session={SESSION}"),
            "server",
        ),
        (
            format!("yiwang://login?server=https://a@sso.example.gov.cn&session={SESSION}"),
            "server",
        ),
        (
            format!("yiwang://login?server=https://sso.example.gov.cn%2&session={SESSION}"),
            "server",
        ),
        (
            format!(
                "yiwang://login?server=https://{}.cn&session={SESSION}",
                "a".repeat(260)
            ),
            "server",
        ),
        (
            "yiwang://login?server=https://sso.example.gov.cn&session=short".to_owned(),
            "session",
        ),
        (
            "yiwang://login?server=https://sso.example.gov.cn".to_owned(),
            "session",
        ),
    ];
    for (text, part) in malformed {
        let reason = UnknownReason::MalformedLogin(part);
        assert_eq!(classify(&text), Scanned::Unknown(reason), "{text}");
        assert_eq!(reason.code(), "YW-1314");
    }
}

#[test]
fn classify_service_links() {
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
        classify("yiwang://service/MATTER-42?from=alipay"),
        link("MATTER-42")
    );
    assert_eq!(classify("YIWANG://SERVICE/MATTER-42\n"), link("MATTER-42"));
    for bad in [
        "yiwang://service/",
        "yiwang://service/matter-42",
        "yiwang://service/A B",
    ] {
        assert_eq!(
            classify(bad),
            Scanned::Unknown(UnknownReason::MalformedService),
            "{bad}"
        );
    }
}

#[test]
fn classify_unknown_reasons_and_codes() {
    let cases = [
        ("", UnknownReason::Empty, "YW-1311"),
        (" \r\n", UnknownReason::Empty, "YW-1311"),
        ("https://www.gov.cn/", UnknownReason::NotYiwang, "YW-1313"),
        (
            "WIFI:S:gov;T:WPA;P:x;;",
            UnknownReason::NotYiwang,
            "YW-1313",
        ),
        (
            "yiwang://service/x",
            UnknownReason::MalformedService,
            "YW-1315",
        ),
        ("YW1:#", UnknownReason::MalformedPresentation, "YW-1316"),
        (
            "yiwang://pay?order=1",
            UnknownReason::UnsupportedLink,
            "YW-1317",
        ),
    ];
    for (text, reason, code) in cases {
        assert_eq!(classify(text), Scanned::Unknown(reason), "{text:?}");
        assert_eq!(reason.code(), code);
    }
    let long = "A".repeat(8 * 1024 + 1);
    assert_eq!(classify(&long), Scanned::Unknown(UnknownReason::TooLong));
    assert_eq!(UnknownReason::TooLong.code(), "YW-1312");
}

// ---- (7) properties ----

/// Characters of `yiwang://login?server=https://&session=%`, plus a few that
/// matter to the parser.
fn login_alphabet() -> Vec<char> {
    let mut chars: Vec<char> = "yiwang://login?server=https://&session=%".chars().collect();
    chars.extend([
        'Y', 'L', 'S', 'A', '0', '2', 'F', '.', '@', '[', ']', ' ', '\n',
    ]);
    chars.sort_unstable();
    chars.dedup();
    chars
}

fn login_like() -> impl Strategy<Value = String> {
    let alphabet = login_alphabet();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..120)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #[test]
    fn classify_never_panics(text in any::<String>()) {
        let _ = classify(&text);
    }

    #[test]
    fn classify_never_panics_on_login_like_text(text in login_like()) {
        let _ = classify(&text);
        let _ = classify(&format!("yiwang://login?{text}"));
        let _ = classify(&format!("yiwang://login?session={SESSION}&server={text}"));
    }

    #[test]
    fn classify_accepts_valid_sessions(session in "[A-Za-z0-9_-]{16,64}") {
        let text = format!("yiwang://login?server=https://a.gov.cn&session={session}");
        prop_assert_eq!(
            classify(&text),
            Scanned::LoginRequest(LoginRequest { server: "https://a.gov.cn".to_owned(), session })
        );
    }

    #[test]
    fn decode_png_never_panics_on_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        prop_assert!(decode_png(&bytes).is_err());
        let mut with_signature = b"\x89PNG\r\n\x1a\n".to_vec();
        with_signature.extend_from_slice(&bytes);
        let _ = decode_png(&with_signature);
    }

    #[test]
    fn decode_png_never_panics_on_flipped_bytes(
        flips in proptest::collection::vec((any::<usize>(), 1..=255u8), 1..8),
        fix_crcs in any::<bool>(),
    ) {
        let mut png_bytes = QrMatrix::encode("YW1:FLIP").unwrap().to_png(2).unwrap();
        let len = png_bytes.len();
        for (at, mask) in flips {
            png_bytes[at % len] ^= mask;
        }
        if fix_crcs {
            recompute_crcs(&mut png_bytes);
        }
        let _ = decode_png(&png_bytes);
    }
}
