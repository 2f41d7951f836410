//! The whole identity journey through the core's API client against the real
//! `yiwang serve` process, on SQLite and on PostgreSQL: enrolment → login →
//! refresh → scan-to-login for a website (the website's part with curl).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;
use yiwang_core::client::{ApiClient, ClientConfig, ClientError, EnrolmentRequest};
use yiwang_core::credential::VerifiedStatusList;
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_core::identity::IdNumber;
use yiwang_core::scan::{Scanned, classify};
use yiwang_e2e::{Server, curl};
use yiwang_server::issuer::now;

const ADMIN: &str = "e2e-admin-token-0123456789";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn journey(server: &Server) {
    let base = &server.base_url;
    let client = ApiClient::new(ClientConfig::new(base.as_str())).unwrap();

    // Enrolment: the phone's device key, the ID card data.
    let store = SoftwareKeyStore::in_memory();
    let alias = KeyAlias::new("device").unwrap();
    let device_key = store.generate(&alias, Suite::Gm).unwrap();
    let id_number = IdNumber::parse("11010519491231002X").unwrap();
    let enrolment = client
        .enrol(&EnrolmentRequest::new(
            "张三", id_number, [7; 32], device_key,
        ))
        .await
        .unwrap();
    assert_eq!(enrolment.generation, 1);
    let credential = enrolment.credential;
    assert_eq!(credential.network_id(), Some(enrolment.network_id.as_str()));

    // The issuer's key and status list, as a verifier fetches them.
    let issuer = client.issuer().await.unwrap();
    let status = client.status_list(&issuer.kid).await.unwrap();
    VerifiedStatusList::verify(&status, &[issuer.public_key().unwrap()]).unwrap();

    // Login: challenge → presentation → tokens.
    let challenge = client.challenge().await.unwrap();
    let presentation = credential
        .present(
            &challenge.presentation_request().unwrap(),
            &store,
            &alias,
            now(),
        )
        .unwrap();
    let tokens = client
        .login(&presentation, &challenge.nonce, Some("e2e 手机"))
        .await
        .unwrap();
    let me = client.me(&tokens.access_token).await.unwrap();
    assert_eq!(me.network_id, enrolment.network_id);
    assert_eq!(me.device_id, tokens.device_id);
    // The same presentation again: its challenge is spent.
    let replay = client
        .login(&presentation, &challenge.nonce, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&replay, ClientError::Unauthorised { code, .. } if code == "YW-4011"),
        "{replay:?}"
    );

    // Refresh rotates; the spent token is refused (and kills the family).
    let rotated = client.refresh(&tokens.refresh_token).await.unwrap();
    assert_eq!(rotated.device_id, tokens.device_id);
    let reused = client.refresh(&tokens.refresh_token).await.unwrap_err();
    assert!(
        matches!(&reused, ClientError::Unauthorised { code, .. } if code == "YW-4013"),
        "{reused:?}"
    );
    // A fresh login for the rest (the reuse revoked the rotated pair too).
    let challenge = client.challenge().await.unwrap();
    let presentation = credential
        .present(
            &challenge.presentation_request().unwrap(),
            &store,
            &alias,
            now(),
        )
        .unwrap();
    let tokens = client
        .login(&presentation, &challenge.nonce, Some("e2e 手机"))
        .await
        .unwrap();
    let devices = client.devices(&tokens.access_token).await.unwrap();
    assert_eq!(devices.iter().filter(|d| d.current).count(), 1);

    // Scan-to-login: an operator registers the website; the website opens a session.
    let (status, body) = curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {ADMIN}"),
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"name": "国家政务服务平台", "claims": ["name", "age_over_60"]}"#,
        &format!("{base}/v1/admin/relying-parties"),
    ]);
    assert_eq!(status, 201, "{body}");
    let party = json(&body);
    let basic = format!(
        "{}:{}",
        party["client_id"].as_str().unwrap(),
        party["client_secret"].as_str().unwrap()
    );
    let (status, body) = curl(&[
        "-X",
        "POST",
        "-u",
        &basic,
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"claims": ["name", "age_over_60"], "nonce": "site-nonce"}"#,
        &format!("{base}/v1/login-sessions"),
    ]);
    assert_eq!(status, 201, "{body}");
    let opened = json(&body);

    // The phone scans the QR, shows the request, and approves.
    let Scanned::LoginRequest(request) = classify(opened["qr_text"].as_str().unwrap()) else {
        panic!("not a login QR");
    };
    let session = client.login_session(&request).await.unwrap();
    assert_eq!(session.relying_party.name, "国家政务服务平台");
    assert_eq!(session.claims, ["name", "age_over_60"]);
    let presentation = credential
        .present(
            &session.presentation_request().unwrap(),
            &store,
            &alias,
            now(),
        )
        .unwrap();
    client
        .approve_login(&tokens.access_token, &session.session_id, &presentation)
        .await
        .unwrap();
    let again = client
        .approve_login(&tokens.access_token, &session.session_id, &presentation)
        .await
        .unwrap_err();
    assert_eq!(again.code(), "YW-4092", "{again:?}");

    // The website long-polls and receives the ID token once.
    let result_url = format!(
        "{base}/v1/login-sessions/{}/result?wait=5",
        session.session_id
    );
    let (status, body) = curl(&["-u", &basic, &result_url]);
    assert_eq!(status, 200, "{body}");
    let outcome = json(&body);
    assert_eq!(outcome["status"], "approved");
    let id_token = outcome["id_token"].as_str().unwrap();
    let payload = json(
        &String::from_utf8(
            Base64UrlUnpadded::decode_vec(id_token.split('.').nth(1).unwrap()).unwrap(),
        )
        .unwrap(),
    );
    assert_eq!(payload["aud"], party["client_id"]);
    assert_eq!(payload["iss"].as_str(), Some(base.as_str()));
    assert_eq!(payload["name"], "张三");
    assert_eq!(payload["age_over_60"], true);
    assert_eq!(payload["nonce"], "site-nonce");
    assert_ne!(payload["sub"].as_str(), Some(enrolment.network_id.as_str()));
    let (_, body) = curl(&["-u", &basic, &result_url]);
    assert_eq!(json(&body)["status"], "completed");

    // A login QR naming another server never gets this client's token.
    let foreign = opened["qr_text"]
        .as_str()
        .unwrap()
        .replace("127.0.0.1", "localhost");
    let Scanned::LoginRequest(foreign) = classify(&foreign) else {
        panic!("not a login QR");
    };
    assert!(matches!(
        client.login_session(&foreign).await.unwrap_err(),
        ClientError::ForeignServer
    ));

    // Nothing personal or secret reached the server's log.
    let log = server.log().join("\n");
    for secret in [
        "11010519491231002X",
        "张三",
        ADMIN,
        tokens.access_token.as_str(),
        tokens.refresh_token.as_str(),
        id_token,
        party["client_secret"].as_str().unwrap(),
        enrolment.network_id.as_str(),
    ] {
        assert!(
            !log.contains(secret),
            "the log contains a secret or personal datum"
        );
    }

    // Sign out: the token dies at once.
    client
        .sign_out_device(&tokens.access_token, &tokens.device_id)
        .await
        .unwrap();
    let gone = client.me(&tokens.access_token).await.unwrap_err();
    assert!(
        matches!(&gone, ClientError::Unauthorised { code, .. } if code == "YW-4010"),
        "{gone:?}"
    );
}

#[test]
fn the_identity_journey_through_the_core_client_on_sqlite() {
    let workdir = tempfile::tempdir().unwrap();
    let server = Server::start(workdir.path(), &[], &[("YIWANG_ADMIN_TOKEN", ADMIN)]);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(journey(&server));
    assert!(server.terminate(Duration::from_secs(20)).unwrap().success());
}

#[test]
fn the_identity_journey_through_the_core_client_on_postgresql() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(test_db) = runtime.block_on(yiwang_server::db::testing::postgres(
        "the_identity_journey_through_the_core_client_on_postgresql",
    )) else {
        return;
    };
    let workdir = tempfile::tempdir().unwrap();
    let server = Server::start(
        workdir.path(),
        &[],
        &[
            ("YIWANG_ADMIN_TOKEN", ADMIN),
            ("YIWANG_DATABASE_URL", &test_db.url),
        ],
    );
    runtime.block_on(journey(&server));
    assert!(server.terminate(Duration::from_secs(20)).unwrap().success());
    runtime.block_on(test_db.cleanup());
}
