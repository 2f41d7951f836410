//! Enrolment, the issuer key and the status list over HTTP, on SQLite and on
//! PostgreSQL (each test gets its own database), including bad input.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use tower::ServiceExt;
use yiwang_core::credential::{
    HolderCredential, PresentationRequest, VerificationPolicy, VerifiedStatusList, verify,
};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite, VerifyingKey};
use yiwang_server::db::testing;
use yiwang_server::{AppState, app};

async fn call(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec(),
    )
}

fn post_json(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn device(store: &SoftwareKeyStore) -> String {
    let alias = KeyAlias::new("device").unwrap();
    store.generate(&alias, Suite::Gm).unwrap().to_spki_pem()
}

fn enrolment(device_pem: &str) -> Value {
    json!({
        "name": "张三",
        "id_number": "11010519491231002X",
        "photo_digest": "07".repeat(32),
        "device_public_key": device_pem,
    })
}

async fn enrol(app: &axum::Router, body: &Value) -> Value {
    let (status, _, bytes) = call(app, post_json("/v1/enrolments", body.to_string())).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap()
}

async fn issuer_and_status(app: &axum::Router) -> (VerifyingKey, VerifiedStatusList) {
    let (_, _, bytes) = call(app, get("/v1/issuer")).await;
    let issuer: Value = serde_json::from_slice(&bytes).unwrap();
    let key = VerifyingKey::from_spki_pem(issuer["public_key_pem"].as_str().unwrap()).unwrap();
    let (status, headers, token) = call(app, get(issuer["status_list"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/cose");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let list = VerifiedStatusList::verify(&token, std::slice::from_ref(&key)).unwrap();
    (key, list)
}

fn present(credential_b64: &str, store: &SoftwareKeyStore) -> String {
    let credential =
        HolderCredential::from_bytes(&Base64::decode_vec(credential_b64).unwrap()).unwrap();
    let request = PresentationRequest::new("window:1")
        .with_disclosure_list("name_masked,age_over_18")
        .unwrap();
    credential
        .present(
            &request,
            store,
            &KeyAlias::new("device").unwrap(),
            yiwang_server::issuer::now(),
        )
        .unwrap()
}

#[tokio::test]
async fn enrol_present_verify_and_reenrol_on_a_new_device() {
    for test_db in testing::all("enrol_present_verify_and_reenrol_on_a_new_device").await {
        let app = app(AppState::load(test_db.db.clone()).await.unwrap());
        let old_phone = SoftwareKeyStore::in_memory();
        let first = enrol(&app, &enrolment(&device(&old_phone))).await;
        assert_eq!(first["generation"], 1);
        let network_id = first["network_id"].as_str().unwrap().to_owned();
        assert!(network_id.starts_with("YW"));
        let old_qr = present(first["credential"].as_str().unwrap(), &old_phone);

        let (key, status) = issuer_and_status(&app).await;
        let now = yiwang_server::issuer::now();
        let policy = VerificationPolicy {
            status_lists: vec![status],
            ..VerificationPolicy::new(vec![key.clone()], "window:1", now)
        };
        verify(&old_qr, &policy).unwrap();

        // A new phone: generation 2, the old copy revoked on the status list.
        let new_phone = SoftwareKeyStore::in_memory();
        let second = enrol(&app, &enrolment(&device(&new_phone))).await;
        assert_eq!(
            (second["generation"].as_i64(), second["network_id"].as_str()),
            (Some(2), Some(network_id.as_str()))
        );
        assert_eq!(second["revoked_previous"], first["status_index"]);
        let (_, status) = issuer_and_status(&app).await;
        let policy = VerificationPolicy {
            status_lists: vec![status],
            ..VerificationPolicy::new(vec![key], "window:1", now)
        };
        assert_eq!(verify(&old_qr, &policy).unwrap_err().code(), "YW-1413");
        verify(
            &present(second["credential"].as_str().unwrap(), &new_phone),
            &policy,
        )
        .unwrap();

        // Both issuances are in the audit log, by 网号, never by ID number.
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT action, subject FROM audit_log ORDER BY id")
                .fetch_all(test_db.db.pool())
                .await
                .unwrap();
        assert_eq!(
            rows,
            vec![
                ("credential.issued".into(), network_id.clone()),
                ("credential.issued".into(), network_id)
            ]
        );
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn the_issuer_key_survives_a_restart_and_is_shared() {
    for test_db in testing::all("the_issuer_key_survives_a_restart_and_is_shared").await {
        let first = AppState::load(test_db.db.clone()).await.unwrap();
        let second = AppState::load(test_db.db.clone()).await.unwrap();
        assert_eq!(first.issuer().kid(), second.issuer().kid());
        test_db.cleanup().await;
    }
}

async fn error_of(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let (status, headers, bytes) = call(app, request).await;
    let body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    assert_eq!(
        body["request_id"].as_str(),
        headers["x-request-id"].to_str().ok(),
        "the error names its request"
    );
    (status, body)
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    for test_db in testing::all("bad_input_gets_a_clear_error_and_changes_nothing").await {
        let app = app(AppState::load(test_db.db.clone()).await.unwrap());
        let phone = SoftwareKeyStore::in_memory();
        let good = enrolment(&device(&phone));

        let (status, body) = error_of(&app, post_json("/v1/enrolments", "{\"name\": ")).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, "YW-4001")
        );

        let mut unknown = good.clone();
        unknown["shoe_size"] = json!(42);
        let (status, body) = error_of(&app, post_json("/v1/enrolments", unknown.to_string())).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::UNPROCESSABLE_ENTITY, "YW-4002")
        );
        assert!(body["message"].as_str().unwrap().contains("shoe_size"));

        let mut wrong_type = good.clone();
        wrong_type["name"] = json!(["11010519491231002X"]);
        let (status, body) =
            error_of(&app, post_json("/v1/enrolments", wrong_type.to_string())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!body.to_string().contains("11010519491231002X"), "{body}");

        let mut bad_id = good.clone();
        bad_id["id_number"] = json!("110105194912310021");
        let (status, body) = error_of(&app, post_json("/v1/enrolments", bad_id.to_string())).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::UNPROCESSABLE_ENTITY, "YW-1008")
        );
        assert!(!body.to_string().contains("110105194912310021"), "{body}");

        let mut bad_key = good.clone();
        bad_key["device_public_key"] =
            json!("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
        let (status, body) = error_of(&app, post_json("/v1/enrolments", bad_key.to_string())).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::UNPROCESSABLE_ENTITY, "YW-1101")
        );

        let mut bad_digest = good.clone();
        bad_digest["photo_digest"] = json!("zz");
        let (status, body) =
            error_of(&app, post_json("/v1/enrolments", bad_digest.to_string())).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::UNPROCESSABLE_ENTITY, "YW-1419")
        );

        let mut bad_name = good.clone();
        bad_name["name"] = json!("张\n三");
        let (status, body) =
            error_of(&app, post_json("/v1/enrolments", bad_name.to_string())).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::UNPROCESSABLE_ENTITY, "YW-1419")
        );

        let huge = json!({ "name": "x".repeat(100 * 1024) }).to_string();
        let (status, body) = error_of(&app, post_json("/v1/enrolments", huge)).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::PAYLOAD_TOO_LARGE, "YW-4004")
        );

        let plain = Request::post("/v1/enrolments")
            .header("content-type", "text/plain")
            .body(Body::from(good.to_string()))
            .unwrap();
        let (status, body) = error_of(&app, plain).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "YW-4003")
        );

        let (status, body) = error_of(&app, get("/v1/status-lists/0000000000000000")).await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::NOT_FOUND, "YW-4040")
        );

        // None of that created an account.
        let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
            .fetch_one(test_db.db.pool())
            .await
            .unwrap();
        assert_eq!(accounts, 0);

        // SQL-looking text is data: stored as a name, the tables intact.
        let mut sql = good.clone();
        sql["name"] = json!("Robert'); DROP TABLE accounts;--");
        enrol(&app, &sql).await;
        let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
            .fetch_one(test_db.db.pool())
            .await
            .unwrap();
        assert_eq!(accounts, 1);

        // The caller's request id is kept when well formed.
        let tagged = Request::get("/v1/status-lists/x")
            .header("x-request-id", "req-123")
            .body(Body::empty())
            .unwrap();
        let (_, body) = error_of(&app, tagged).await;
        assert_eq!(body["request_id"], "req-123");
        test_db.cleanup().await;
    }
}
