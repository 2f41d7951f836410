//! The `yiwang` binary as an operator uses it: `id check` and `crypto`,
//! including interoperability with OpenSSL's SM2 and P-256 in both directions.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn yiwang(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yiwang"))
        .args(args)
        .output()
        .unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn id_check_citizen_id() {
    let out = yiwang(&["id", "check", "11010519491231002X"]);
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["kind"], "id_number");
    assert_eq!(report["valid"], true);
    assert_eq!(report["masked"], "1101**********002X");
    assert_eq!(report["birth_date"], "1949-12-31");
    assert_eq!(report["sex"], "female");
    assert_eq!(report["region"]["province"], "北京市");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("11010519491231002X"));
}

#[test]
fn id_check_legacy_15_digit_is_upgraded() {
    let out = yiwang(&["id", "check", "110105491231002"]);
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(report["upgraded_from_15"], true);
    assert_eq!(report["masked"], "1101**********002X");
}

#[test]
fn id_check_rejections_exit_1_with_codes() {
    // Wrong check character: the expected one is named, the number is not echoed.
    let out = yiwang(&["id", "check", "110105194912310021"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["valid"], false);
    assert_eq!(report["kind"], "id_number");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains('X'), "{message}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("11010519491231002"));
    // 30 February.
    let out = yiwang(&["id", "check", "110105194902300027"]);
    assert_eq!(out.status.code(), Some(1));
    let code = json(&out)["error"]["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("YW-100"), "{code}");
    // Garbage and an unknown kind.
    for garbage in ["hello", "", "张三", "1.2.156.3005.2.x"] {
        let out = yiwang(&["id", "check", garbage]);
        assert_eq!(out.status.code(), Some(1), "{garbage}");
        assert_eq!(json(&out)["valid"], false);
    }
}

#[test]
fn id_check_uscc_strict_and_lenient() {
    let out = yiwang(&["id", "check", "91350100M000100Y43"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["kind"], "uscc");
    // Same code with a wrong check character: rejected, accepted with a warning when lenient.
    let out = yiwang(&["id", "check", "91350100M000100Y44"]);
    assert_eq!(out.status.code(), Some(1));
    let out = yiwang(&["id", "check", "--lenient", "91350100M000100Y44"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(json(&out)["warning"].is_string());
}

#[test]
fn id_check_usage_errors_exit_2() {
    assert_eq!(yiwang(&["id", "check"]).status.code(), Some(2));
    assert_eq!(yiwang(&["id", "frobnicate"]).status.code(), Some(2));
    assert_eq!(yiwang(&[]).status.code(), Some(2));
    assert_eq!(yiwang(&["--help"]).status.code(), Some(0));
}

fn keygen(dir: &Path, suite: &str) -> (String, String) {
    keygen_named(dir, suite, suite)
}

fn keygen_named(dir: &Path, suite: &str, name: &str) -> (String, String) {
    let key = dir.join(format!("{name}.pem"));
    let out = yiwang(&[
        "crypto",
        "keygen",
        "--suite",
        suite,
        "--out",
        key.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    (
        report["private_key"].as_str().unwrap().to_owned(),
        report["public_key"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn crypto_keygen_sign_verify_both_suites() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.txt");
    std::fs::write(&file, "一网通办").unwrap();
    for suite in ["gm", "intl"] {
        let (key, public) = keygen(dir.path(), suite);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let out = yiwang(&["crypto", "sign", "--key", &key, file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0));
        let sig = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(sig.starts_with("30"), "DER SEQUENCE: {sig}");

        let verify = |sig: &str, path: &Path| {
            yiwang(&[
                "crypto",
                "verify",
                "--pub",
                &public,
                "--sig",
                sig,
                path.to_str().unwrap(),
            ])
        };
        let out = verify(&sig, &file);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(json(&out)["valid"], true);

        let other = dir.path().join("other.txt");
        std::fs::write(&other, "一网通办!").unwrap();
        let out = verify(&sig, &other);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(json(&out)["error"]["code"], "YW-1105");
        let out = verify("zz", &file);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(json(&out)["error"]["code"], "YW-1104");

        // keygen never overwrites.
        let out = yiwang(&["crypto", "keygen", "--suite", suite, "--out", &key]);
        assert_eq!(out.status.code(), Some(2));
    }
    // A missing key file is an I/O error (exit 2), a public key given as private a key error.
    assert_eq!(
        yiwang(&[
            "crypto",
            "sign",
            "--key",
            "/nonexistent.pem",
            file.to_str().unwrap()
        ])
        .status
        .code(),
        Some(2)
    );
    let (_, public) = keygen_named(dir.path(), "gm", "second");
    let out = yiwang(&["crypto", "sign", "--key", &public, file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PKCS#8"));
}

fn openssl_available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "openssl is required in CI for the interoperability tests"
        );
        eprintln!("SKIPPED: openssl not found, interoperability tests not run");
    }
    found
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl").args(args).output().unwrap()
}

/// Our signatures verify in OpenSSL, OpenSSL's verify with us, and the key
/// files are read by both: SM2 (default ID, SM3) and ECDSA P-256/SHA-256.
#[test]
fn crypto_interoperates_with_openssl() {
    if !openssl_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let msg = p("msg");
    std::fs::write(&msg, "信息跑路代替群众跑腿").unwrap();

    for (suite, genpkey, dgst) in [
        ("gm", vec!["-algorithm", "SM2"], "sm3"),
        (
            "intl",
            vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "sha256",
        ),
    ] {
        let openssl_sign = |key: &str, out: &str| {
            let mut args = vec![
                "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", &msg, "-out", out, "-digest",
                dgst,
            ];
            if suite == "gm" {
                args.extend(["-pkeyopt", "distid:1234567812345678"]);
            }
            let o = openssl(&args);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        let openssl_verify = |public: &str, sig: &str| {
            let mut args = vec![
                "pkeyutl", "-verify", "-pubin", "-inkey", public, "-rawin", "-in", &msg,
                "-sigfile", sig, "-digest", dgst,
            ];
            if suite == "gm" {
                args.extend(["-pkeyopt", "distid:1234567812345678"]);
            }
            openssl(&args).status.success()
        };

        // yiwang key and signature → OpenSSL verifies.
        let (key, public) = keygen(dir.path(), suite);
        let out = yiwang(&["crypto", "sign", "--key", &key, &p("msg")]);
        let sig_hex = String::from_utf8(out.stdout).unwrap();
        std::fs::write(p("ours.sig"), hex::decode(sig_hex.trim()).unwrap()).unwrap();
        assert!(
            openssl_verify(&public, &p("ours.sig")),
            "{suite}: OpenSSL rejected our signature"
        );
        // And OpenSSL signs with our private key file.
        openssl_sign(&key, &p("theirs-our-key.sig"));
        let sig = hex::encode(std::fs::read(p("theirs-our-key.sig")).unwrap());
        assert_eq!(
            yiwang(&[
                "crypto",
                "verify",
                "--pub",
                &public,
                "--sig",
                &sig,
                &p("msg")
            ])
            .status
            .code(),
            Some(0)
        );

        // OpenSSL key and signature → yiwang verifies; yiwang signs with OpenSSL's key.
        let their_key = p(&format!("openssl-{suite}.pem"));
        let their_pub = p(&format!("openssl-{suite}.pub.pem"));
        let mut args = vec!["genpkey"];
        args.extend(genpkey.iter().copied());
        args.extend(["-out", &their_key]);
        assert!(openssl(&args).status.success());
        assert!(
            openssl(&["pkey", "-in", &their_key, "-pubout", "-out", &their_pub])
                .status
                .success()
        );
        openssl_sign(&their_key, &p("theirs.sig"));
        let sig = hex::encode(std::fs::read(p("theirs.sig")).unwrap());
        let out = yiwang(&[
            "crypto",
            "verify",
            "--pub",
            &their_pub,
            "--sig",
            &sig,
            &p("msg"),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{suite}: we rejected OpenSSL's signature: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let out = yiwang(&["crypto", "sign", "--key", &their_key, &p("msg")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(
            p("ours-their-key.sig"),
            hex::decode(String::from_utf8(out.stdout).unwrap().trim()).unwrap(),
        )
        .unwrap();
        assert!(openssl_verify(&their_pub, &p("ours-their-key.sig")));

        // A flipped message byte fails on both sides.
        std::fs::write(p("msg"), "信息跑路代替群众跑腿!").unwrap();
        assert!(!openssl_verify(&public, &p("ours.sig")));
        assert_eq!(
            yiwang(&[
                "crypto",
                "verify",
                "--pub",
                &their_pub,
                "--sig",
                &sig,
                &p("msg")
            ])
            .status
            .code(),
            Some(1)
        );
        std::fs::write(p("msg"), "信息跑路代替群众跑腿").unwrap();
    }
}
