//! `yiwang serve` from nothing: no configuration, an empty directory.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use yiwang_e2e::{Server, curl};

#[test]
fn serve_starts_with_no_setup_and_stops_gracefully() {
    let workdir = tempfile::tempdir().unwrap();
    let server = Server::start(workdir.path(), &[], &[]);

    // The embedded default: SQLite under ./data, created on first start.
    assert!(workdir.path().join("data/yiwang.db").exists());

    let (status, body) = curl(&[&format!("{}/healthz", server.base_url)]);
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");

    let (status, body) = curl(&[&format!("{}/readyz", server.base_url)]);
    assert_eq!(status, 200, "{body}");

    let (status, _) = curl(&[&format!("{}/no-such-route", server.base_url)]);
    assert_eq!(status, 404);

    let exit = server
        .terminate(Duration::from_secs(20))
        .expect("yiwang serve did not stop on SIGTERM");
    assert!(exit.success(), "{exit:?}");

    // A second start reuses the same database (migrations are not re-applied).
    let server = Server::start(workdir.path(), &[], &[]);
    let (status, _) = curl(&[&format!("{}/readyz", server.base_url)]);
    assert_eq!(status, 200);
}

#[test]
fn serve_rejects_bad_configuration_with_exit_2() {
    let workdir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(yiwang_e2e::yiwang_binary())
        .arg("serve")
        .current_dir(workdir.path())
        .env("YIWANG_BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("YIWANG_BIND"));
}

/// The same binary on PostgreSQL (`YIWANG_DATABASE_URL`), in a database made
/// for this test; skipped with a message when no PostgreSQL answers outside CI.
#[test]
fn serve_on_postgresql() {
    use yiwang_server::db::testing;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(test_db) = runtime.block_on(testing::postgres("serve_on_postgresql")) else {
        return;
    };
    let workdir = tempfile::tempdir().unwrap();
    let server = Server::start(
        workdir.path(),
        &[],
        &[("YIWANG_DATABASE_URL", &test_db.url)],
    );
    let (status, body) = curl(&[&format!("{}/readyz", server.base_url)]);
    assert_eq!(status, 200, "{body}");
    // No SQLite file was made: the data is in PostgreSQL.
    assert!(!workdir.path().join("data/yiwang.db").exists());
    let exit = server
        .terminate(Duration::from_secs(20))
        .expect("stops on SIGTERM");
    assert!(exit.success());
    runtime.block_on(test_db.cleanup());
}

#[test]
fn serve_refuses_an_unsupported_database_url() {
    let workdir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(yiwang_e2e::yiwang_binary())
        .arg("serve")
        .current_dir(workdir.path())
        .env(
            "YIWANG_DATABASE_URL",
            "mysql://root:secret-password@127.0.0.1/db",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
    assert!(
        !stderr.contains("secret-password"),
        "the URL's password must not be printed: {stderr}"
    );
}

/// An operator's smoke test with curl: enrol a phone's key, fetch the issuer
/// key and the status list; the issued credential verifies with them.
#[test]
fn enrolment_over_http_with_curl() {
    use yiwang_core::credential::{
        HolderCredential, PresentationRequest, VerificationPolicy, VerifiedStatusList, verify,
    };
    use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite, VerifyingKey};
    let workdir = tempfile::tempdir().unwrap();
    let server = Server::start(workdir.path(), &[], &[]);
    let phone = SoftwareKeyStore::in_memory();
    let alias = KeyAlias::new("device").unwrap();
    let device_pem = phone.generate(&alias, Suite::Intl).unwrap().to_spki_pem();
    let body = serde_json::json!({
        "name": "张三", "id_number": "11010519491231002X", "photo_digest": "07".repeat(32),
        "device_public_key": device_pem,
    });
    let (status, text) = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data-binary",
        &body.to_string(),
        &format!("{}/v1/enrolments", server.base_url),
    ]);
    assert_eq!(status, 201, "{text}");
    let enrolled: serde_json::Value = serde_json::from_str(&text).unwrap();
    let bytes = <base64ct::Base64 as base64ct::Encoding>::decode_vec(
        enrolled["credential"].as_str().unwrap(),
    )
    .unwrap();
    let credential = HolderCredential::from_bytes(&bytes).unwrap();

    let (_, issuer) = curl(&[&format!("{}/v1/issuer", server.base_url)]);
    let issuer: serde_json::Value = serde_json::from_str(&issuer).unwrap();
    let key = VerifyingKey::from_spki_pem(issuer["public_key_pem"].as_str().unwrap()).unwrap();
    let status_file = workdir.path().join("status.cose");
    let (status, _) = curl(&[
        "-o",
        status_file.to_str().unwrap(),
        &format!(
            "{}{}",
            server.base_url,
            issuer["status_list"].as_str().unwrap()
        ),
    ]);
    assert_eq!(status, 200);
    let list = VerifiedStatusList::verify(
        &std::fs::read(&status_file).unwrap(),
        std::slice::from_ref(&key),
    )
    .unwrap();

    let now = enrolled["not_before"].as_i64().unwrap() + 5;
    let qr = credential
        .present(&PresentationRequest::new("window:1"), &phone, &alias, now)
        .unwrap();
    let policy = VerificationPolicy {
        status_lists: vec![list],
        require_status: true,
        ..VerificationPolicy::new(vec![key], "window:1", now)
    };
    verify(&qr, &policy).unwrap();

    let (status, text) = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data-binary",
        "{\"name\":",
        &format!("{}/v1/enrolments", server.base_url),
    ]);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("YW-4001") && text.contains("request_id"));
}

/// A configuration file under the environment: `--config` sets the public URL
/// and admin token, `--print-config` shows what is in force with the secrets masked.
#[test]
fn serve_reads_a_config_file_and_never_prints_its_secrets() {
    let workdir = tempfile::tempdir().unwrap();
    let config = workdir.path().join("yiwang.toml");
    std::fs::write(
        &config,
        "public_url = \"https://yiwang.example.gov.cn\"\nadmin_token = \"file-admin-token-s3cret\"\n\
         database_url = \"postgres://yiwang:pg-s3cret@db.internal/yiwang\"\nrate_limit_burst = 7\n",
    )
    .unwrap();
    let output = std::process::Command::new(yiwang_e2e::yiwang_binary())
        .args(["serve", "--print-config", "--config"])
        .arg(&config)
        .env("YIWANG_RATE_LIMIT_BURST", "9")
        .current_dir(workdir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let shown = String::from_utf8(output.stdout).unwrap();
    assert!(
        shown.contains("public_url = \"https://yiwang.example.gov.cn\""),
        "{shown}"
    );
    assert!(
        shown.contains("rate_limit_burst = 9"),
        "the environment wins: {shown}"
    );
    assert!(shown.contains("admin_token = \"<set>\""), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");

    // Served with the file (on SQLite: the file's database URL is overridden).
    std::fs::write(
        &config,
        "public_url = \"https://yiwang.example.gov.cn\"\nadmin_token = \"file-admin-token-s3cret\"\n",
    )
    .unwrap();
    let server = Server::start(workdir.path(), &["--config", config.to_str().unwrap()], &[]);
    let (status, body) = curl(&[
        "-H",
        "Authorization: Bearer file-admin-token-s3cret",
        &format!("{}/v1/admin/audit", server.base_url),
    ]);
    assert_eq!(status, 200, "{body}");
    let (status, body) = curl(&[&format!("{}/openapi.json", server.base_url)]);
    assert_eq!(status, 200);
    assert!(body.contains("\"openapi\":\"3.1.0\""));
    assert!(!server.log().join("\n").contains("s3cret"));

    // A bad file: exit 2, the key named, the value not shown.
    std::fs::write(&config, "admin_tokn = \"s3cret-s3cret-s3cret\"\n").unwrap();
    let output = std::process::Command::new(yiwang_e2e::yiwang_binary())
        .args(["serve", "--config"])
        .arg(&config)
        .current_dir(workdir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("admin_tokn"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
