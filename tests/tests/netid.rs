//! The network ID credential through the `yiwang` command line, as an issuer
//! operator, a phone and a service window would use it: issue → present →
//! PNG → scan the image → verify, for both suites; revocation and re-issue.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use yiwang_e2e::yiwang_binary;

/// 2026-11-22 12:00 in Beijing.
const NOW: i64 = 1_795_320_000;

fn yiwang(args: &[&str]) -> Output {
    Command::new(yiwang_binary()).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = yiwang(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(suite: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let issuer = dir.path().join("issuer");
        let report = json(&ok(&[
            "issuer",
            "init",
            "--suite",
            suite,
            "--dir",
            s(&issuer),
        ]));
        assert_eq!(report["suite"], suite);
        std::fs::write(
            dir.path().join("claims.json"),
            r#"{"name": "张三", "id_number": "11010519491231002X", "photo_digest": "0707070707070707070707070707070707070707070707070707070707070707"}"#,
        )
        .unwrap();
        Self { dir }
    }

    fn p(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn device(&self, name: &str, suite: &str) {
        ok(&[
            "crypto",
            "keygen",
            "--suite",
            suite,
            "--out",
            s(&self.p(&format!("{name}.pem"))),
        ]);
    }

    /// `yiwang netid issue` of claims.json for `device`, as it returns.
    fn issue_output(&self, device: &str, cred: &str) -> Output {
        let (issuer, holder_pub) = (self.p("issuer"), self.p(&format!("{device}.pub.pem")));
        let (claims, out, at) = (
            self.p("claims.json"),
            self.p(cred),
            (NOW - 3600).to_string(),
        );
        yiwang(&[
            "netid",
            "issue",
            "--issuer",
            s(&issuer),
            "--holder-pub",
            s(&holder_pub),
            "--claims",
            s(&claims),
            "--out",
            s(&out),
            "--at",
            &at,
        ])
    }

    fn issue(&self, device: &str, cred: &str) -> serde_json::Value {
        let out = self.issue_output(device, cred);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&String::from_utf8_lossy(&out.stdout))
    }

    fn present(&self, device: &str, cred: &str, extra: &[&str]) -> String {
        let (cred, key) = (self.p(cred), self.p(&format!("{device}.pem")));
        let mut args = vec![
            "netid",
            "present",
            "--cred",
            s(&cred),
            "--holder-key",
            s(&key),
            "--audience",
            "window:110105-01",
        ];
        let now = NOW.to_string();
        args.extend(["--at", &now]);
        if !extra.contains(&"--disclose") {
            args.extend(["--disclose", "name_masked,id_number_masked,age_over_18"]);
        }
        args.extend(extra);
        ok(&args).trim().to_owned()
    }

    fn verify(&self, source: &[&str], extra: &[&str]) -> (i32, serde_json::Value) {
        let issuer_pub = self.p("issuer/issuer.pub.pem");
        let mut args = vec!["netid", "verify", "--issuer-pub", s(&issuer_pub)];
        // Defaults, unless the caller gives its own.
        if !extra.contains(&"--audience") {
            args.extend(["--audience", "window:110105-01"]);
        }
        let now = NOW.to_string();
        if !extra.contains(&"--at") {
            args.extend(["--at", &now]);
        }
        args.extend(source);
        args.extend(extra);
        let out = yiwang(&args);
        (
            out.status.code().unwrap(),
            json(&String::from_utf8_lossy(&out.stdout)),
        )
    }
}

#[test]
fn issue_present_png_scan_verify_both_suites() {
    for suite in ["gm", "intl"] {
        let setup = Setup::new(suite);
        setup.device("phone", suite);
        let issued = setup.issue("phone", "cred.bin");
        assert!(issued["network_id"].as_str().unwrap().starts_with("YW"));
        assert_eq!(issued["generation"], 1);

        let png = setup.p("qr.png");
        let svg = setup.p("qr.svg");
        let text = setup.present(
            "phone",
            "cred.bin",
            &["--png", s(&png), "--svg", s(&svg), "--mode", "pin"],
        );
        assert!(text.starts_with("YW1:"));
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
        assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));

        // The window scans the picture, not the text.
        let status = setup.p("issuer/status.cose");
        let (code, report) = setup.verify(&["--image", s(&png)], &["--status", s(&status)]);
        assert_eq!(code, 0, "{suite}: {report}");
        assert_eq!(report["valid"], true);
        assert_eq!(report["claims"]["name_masked"], "张*");
        assert_eq!(report["claims"]["id_number_masked"], "1101**********002X");
        assert_eq!(report["derived"]["age_over_18"], true);
        assert_eq!(report["mode"], "pin");
        assert_eq!(report["suite"], suite);
        assert!(report["claims"].get("name").is_none());
        let report_text = report.to_string();
        assert!(!report_text.contains("张三") && !report_text.contains("1949"));

        // Text and image give the same result.
        let (code, by_text) = setup.verify(&["--text", &text], &[]);
        assert_eq!(code, 0);
        assert_eq!(by_text["pairwise_id"], report["pairwise_id"]);
    }
}

#[test]
fn rejections_through_the_command_line() {
    let setup = Setup::new("gm");
    setup.device("phone", "gm");
    setup.issue("phone", "cred.bin");
    let text = setup.present("phone", "cred.bin", &[]);

    let (code, report) = setup.verify(&["--text", &text], &["--audience", "window:other"]);
    assert_eq!(
        (code, report["error"]["code"].as_str().unwrap()),
        (1, "YW-1411")
    );
    let late = (NOW + 600).to_string();
    let (code, report) = setup.verify(&["--text", &text], &["--at", &late]);
    assert_eq!(
        (code, report["error"]["code"].as_str().unwrap()),
        (1, "YW-1409")
    );
    let (code, report) = setup.verify(&["--text", "https://example.gov.cn/"], &[]);
    assert_eq!(
        (code, report["error"]["code"].as_str().unwrap()),
        (1, "YW-1401")
    );
    // Change the last character (to one it is not).
    let last = if text.ends_with('A') { "B" } else { "A" };
    let damaged = format!("{}{last}", &text[..text.len() - 1]);
    let (code, report) = setup.verify(&["--text", &damaged], &[]);
    assert_eq!(code, 1, "{report}");
    let (code, report) = setup.verify(&["--text", &text], &["--nonce", "abc"]);
    assert_eq!(
        (code, report["error"]["code"].as_str().unwrap()),
        (1, "YW-1412")
    );
    // An image without a code.
    std::fs::write(setup.p("blank.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let (code, _) = setup.verify(&["--image", s(&setup.p("blank.png"))], &[]);
    assert_eq!(code, 1);
    // A verifier that trusts another issuer.
    let other = setup.p("other");
    ok(&["issuer", "init", "--suite", "gm", "--dir", s(&other)]);
    let out = yiwang(&[
        "netid",
        "verify",
        "--issuer-pub",
        s(&other.join("issuer.pub.pem")),
        "--audience",
        "window:110105-01",
        "--at",
        &NOW.to_string(),
        "--text",
        &text,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["error"]["code"],
        "YW-1403"
    );
}

#[test]
fn revoke_and_reissue_to_a_new_device() {
    let setup = Setup::new("intl");
    setup.device("old-phone", "intl");
    setup.device("new-phone", "intl");
    setup.issue("old-phone", "old.bin");
    let old_text = setup.present("old-phone", "old.bin", &[]);
    let status = setup.p("issuer/status.cose");
    assert_eq!(
        setup
            .verify(&["--text", &old_text], &["--status", s(&status)])
            .0,
        0
    );

    // Re-enrolment on a new phone: generation 2, the old copy is revoked.
    let reissued = setup.issue("new-phone", "new.bin");
    assert_eq!(reissued["generation"], 2);
    assert_eq!(reissued["revoked_previous"], 0);
    let (code, report) = setup.verify(&["--text", &old_text], &["--status", s(&status)]);
    assert_eq!(
        (code, report["error"]["code"].as_str().unwrap()),
        (1, "YW-1413")
    );
    let new_text = setup.present("new-phone", "new.bin", &[]);
    assert_eq!(
        setup
            .verify(&["--text", &new_text], &["--status", s(&status)])
            .0,
        0
    );
    // The old phone cannot present the new credential.
    let out = yiwang(&[
        "netid",
        "present",
        "--cred",
        s(&setup.p("new.bin")),
        "--holder-key",
        s(&setup.p("old-phone.pem")),
        "--audience",
        "window:110105-01",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // Explicit revocation of the new one.
    let revoked = json(&ok(&[
        "netid",
        "revoke",
        "--issuer",
        s(&setup.p("issuer")),
        "--cred",
        s(&setup.p("new.bin")),
    ]));
    assert_eq!(revoked["status_index"], 1);
    let (code, report) = setup.verify(&["--text", &new_text], &["--status", s(&status)]);
    assert_eq!(
        (code, report["error"]["code"].as_str().unwrap()),
        (1, "YW-1413")
    );
}

#[test]
fn bad_issuer_input_is_refused_with_exit_2() {
    let setup = Setup::new("gm");
    setup.device("phone", "gm");
    // An invalid ID number in the claims file.
    std::fs::write(
        setup.p("claims.json"),
        r#"{"name": "张三", "id_number": "110105194912310021", "photo_digest": "00"}"#,
    )
    .unwrap();
    let out = setup.issue_output("phone", "x.bin");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("YW-1008") && !stderr.contains("110105194912310021"),
        "{stderr}"
    );
    // Unknown fields are refused.
    std::fs::write(
        setup.p("claims.json"),
        r#"{"name": "张三", "id_number": "11010519491231002X", "photo_digest": "00", "shoe": 42}"#,
    )
    .unwrap();
    let out = setup.issue_output("phone", "x.bin");
    assert_eq!(out.status.code(), Some(2));
    // init refuses a non-empty directory.
    assert_eq!(
        yiwang(&["issuer", "init", "--dir", s(&setup.p("issuer"))])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn licence_issue_present_verify_revoke() {
    use yiwang_core::identity::{LicenceId, Uscc};
    let setup = Setup::new("gm");
    setup.device("phone", "gm");
    let authority = Uscc::parse("91350100M000100Y43").unwrap();
    let identifier =
        LicenceId::new("11100000000013338W011", &authority, "J350100202600123", 1).unwrap();
    let licence = serde_json::json!({
        "name": "结婚证", "identifier": identifier.as_str(), "number": "J350100-2026-00123",
        "issuer_name": "福州市鼓楼区民政局", "issue_date": "2026-05-20", "holder_name": "张三",
        "holder_code": "11010519491231002X", "holder_code_type": "111", "valid_from": "2026-05-20",
        "valid_until": null, "jurisdiction": "350102"
    });
    std::fs::write(setup.p("licence.json"), licence.to_string()).unwrap();
    let (issuer, holder_pub) = (setup.p("issuer"), setup.p("phone.pub.pem"));
    let (licence_path, out) = (setup.p("licence.json"), setup.p("licence.bin"));
    let at = (NOW - 60).to_string();
    let issued = json(&ok(&[
        "licence",
        "issue",
        "--issuer",
        s(&issuer),
        "--holder-pub",
        s(&holder_pub),
        "--licence",
        s(&licence_path),
        "--out",
        s(&out),
        "--at",
        &at,
    ]));
    assert_eq!(issued["identifier"], identifier.as_str());

    let text = setup.present(
        "phone",
        "licence.bin",
        &["--disclose", "licence_name,number,holder_name_masked"],
    );
    let status = setup.p("issuer/status.cose");
    let (code, report) = setup.verify(&["--text", &text], &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["doctype"], "licence");
    assert_eq!(report["claims"]["licence_name"], "结婚证");
    assert_eq!(report["claims"]["holder_name_masked"], "张*");
    assert!(!report.to_string().contains("11010519491231002X"));

    ok(&["netid", "revoke", "--issuer", s(&issuer), "--cred", s(&out)]);
    let (code, report) = setup.verify(&["--text", &text], &["--status", s(&status)]);
    assert_eq!(
        (code, report["error"]["code"].as_str().unwrap()),
        (1, "YW-1413")
    );
}
