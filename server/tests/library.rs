//! The e-licence library's licence types and trust list: authorities of two
//! regions (one whose keys this server holds, one listed by its public key),
//! key rotation, the signed list read back with the core, and bad input — on
//! SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Phone, basic, bearer, call, code, enrolled_person, get, login, post, service_client};
use serde_json::{Value, json};
use tower::ServiceExt;
use yiwang_core::credential::{
    HolderCode, HolderCredential, Issuer, Licence, PresentationRequest, TrustList,
    VerificationPolicy, VerifiedStatusList, verify_trusted,
};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite, VerifyingKey};
use yiwang_core::identity::{IdNumber, LicenceId, RegionCode, Uscc};
use yiwang_server::db::testing;
use yiwang_server::issuer::now;
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "test-admin-token-0123456789";
const FUJIAN: &str = "91350100M000100Y43";
const SHENZHEN: &str = "11100000MB1725183T";
const MARRIAGE: &str = "11100000MB0143028R002";
const BIRTH: &str = "11100000MB0143028R001";

async fn state(db: &yiwang_server::db::Db) -> AppState {
    let config = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    AppState::with_config(db.clone(), config).await.unwrap()
}

fn admin_post(path: &str, body: Value) -> Request<Body> {
    bearer(post(path, body), ADMIN)
}

async fn raw(app: &axum::Router, path: &str) -> (StatusCode, String, Vec<u8>) {
    let response = app.clone().oneshot(get(path)).await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, kind, body.to_vec())
}

/// Another region's authority: its signing key lives with it, not here.
fn other_region() -> Issuer {
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("shenzhen").unwrap();
    store.generate(&alias, Suite::Gm).unwrap();
    Issuer::new(store, alias, [5; 32]).unwrap()
}

fn licence(type_code: &str, issuer: &str) -> Licence {
    let issuer = Uscc::parse(issuer).unwrap();
    Licence {
        name: "出生医学证明".into(),
        identifier: LicenceId::new(type_code, &issuer, "S4403002026000001", 1).unwrap(),
        number: "S440300-2026-000001".into(),
        issuer_name: "深圳市卫生健康委员会".into(),
        issue_date: time::macros::date!(2026 - 03 - 01),
        holder_name: "张小明".into(),
        holder: HolderCode::Citizen(IdNumber::parse("11010519491231002X").unwrap()),
        valid_from: time::macros::date!(2026 - 03 - 01),
        valid_until: None,
        jurisdiction: RegionCode::parse("440300").unwrap(),
    }
}

#[tokio::test]
async fn licence_types_and_a_trust_list_of_two_regions() {
    for test_db in testing::all("library_trust").await {
        let app = app(state(&test_db.db).await);

        // At least 15 common types are seeded.
        let (status, types) = call(&app, get("/v1/licence-types")).await;
        assert_eq!(status, StatusCode::OK);
        let types = types.as_array().unwrap();
        assert!(types.len() >= 15, "{}", types.len());
        let marriage = types.iter().find(|t| t["type_code"] == MARRIAGE).unwrap();
        assert_eq!(marriage["name_zh"], "结婚证");
        assert_eq!(marriage["department_kind"], "civil_affairs");
        assert_eq!(marriage["validity_years"], 0);
        assert!(
            types
                .iter()
                .any(|t| t["name_zh"] == "营业执照" && t["holder_kind"] == "organisation")
        );

        // This library's own authority: a key generated here.
        let (status, fujian) = call(
            &app,
            admin_post(
                "/v1/admin/authorities",
                json!({"uscc": FUJIAN, "name": "福州市民政局", "region": "350100",
                       "licence_types": [MARRIAGE, MARRIAGE]}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{fujian}");
        assert_eq!(fujian["local"], true);
        assert_eq!(fujian["licence_types"], json!([MARRIAGE]));
        assert_eq!(fujian["keys"].as_array().unwrap().len(), 1);
        assert!(fujian["keys"][0]["not_after"].is_null());

        // Another region's, by its public key.
        let shenzhen = other_region();
        let since = now() - 86_400;
        let (status, listed) = call(
            &app,
            admin_post(
                "/v1/admin/authorities",
                json!({"uscc": SHENZHEN, "name": "深圳市卫生健康委员会", "region": "440300",
                       "licence_types": [BIRTH],
                       "public_keys": [{"public_key_pem": shenzhen.public_key().to_spki_pem(),
                                        "not_before": since}]}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{listed}");
        assert_eq!(listed["local"], false);
        assert_eq!(listed["keys"][0]["not_before"], since);

        // Rotation: the old key ends, a new one begins after it.
        let (status, rotated) = call(
            &app,
            admin_post(&format!("/v1/admin/authorities/{FUJIAN}/keys"), json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{rotated}");
        let keys = rotated["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        let ended = keys[0]["not_after"].as_i64().unwrap();
        assert!(keys[1]["not_after"].is_null());
        assert!(keys[1]["not_before"].as_i64().unwrap() > ended);

        // The signed list, read as an app reads it: anchored in the 网证 issuer key.
        let (status, kind, token) = raw(&app, "/v1/trust-list").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(kind, "application/cose");
        let (_, issuer) = call(&app, get("/v1/issuer")).await;
        let anchor =
            VerifyingKey::from_spki_pem(issuer["public_key_pem"].as_str().unwrap()).unwrap();
        let trust = TrustList::verify(&token, &anchor, now()).unwrap();
        assert_eq!(trust.authorities.len(), 3);
        assert!(trust.authorities[0].network_id && trust.authorities[0].uscc.is_none());
        let fj = trust
            .authorities
            .iter()
            .find(|a| a.uscc.as_ref().is_some_and(|u| u.as_str() == FUJIAN))
            .unwrap();
        assert_eq!(fj.keys.len(), 2);
        assert_eq!(fj.keys[0].not_after, Some(ended));
        // Signed by another key, it is not a trust list.
        assert_eq!(
            TrustList::verify(&token, shenzhen.public_key(), now())
                .unwrap_err()
                .code(),
            "YW-1421"
        );

        // A licence the other region issued verifies against this server's list;
        // the same key signing a type it is not listed for does not.
        let device = SoftwareKeyStore::in_memory();
        let alias = KeyAlias::new("device").unwrap();
        let device_key = device.generate(&alias, Suite::Gm).unwrap();
        let request = PresentationRequest::new("window:440300-01")
            .with_disclosure_list("licence_name,type_code,identifier")
            .unwrap();
        let policy = VerificationPolicy::new(Vec::new(), "window:440300-01", now());
        let birth = shenzhen
            .issue_licence(&licence(BIRTH, SHENZHEN), &device_key, 1, now() - 60)
            .unwrap();
        let qr = birth.present(&request, &device, &alias, now()).unwrap();
        let verified = verify_trusted(&qr, &trust, &policy).unwrap();
        assert_eq!(verified.claims.len(), 3);
        let wrong = shenzhen
            .issue_licence(&licence(MARRIAGE, SHENZHEN), &device_key, 2, now() - 60)
            .unwrap();
        let qr = wrong.present(&request, &device, &alias, now()).unwrap();
        assert_eq!(
            verify_trusted(&qr, &trust, &policy).unwrap_err().code(),
            "YW-1424"
        );
    }
}

#[tokio::test]
async fn bad_authorities_are_refused_with_their_codes() {
    for test_db in testing::all("library_bad_input").await {
        let app = app(state(&test_db.db).await);
        let good = json!({"uscc": FUJIAN, "name": "福州市民政局", "region": "350100",
                          "licence_types": [MARRIAGE]});
        let with = |key: &str, value: Value| {
            let mut body = good.clone();
            body[key] = value;
            body
        };
        let pem = other_region().public_key().to_spki_pem();
        let cases = [
            (with("uscc", json!("91350100M000100Y44")), "YW-4740"),
            (with("region", json!("990000")), "YW-4740"),
            (with("name", json!("")), "YW-4018"),
            (
                with("licence_types", json!(["11100000MB0143028R999"])),
                "YW-4741",
            ),
            (with("licence_types", json!([])), "YW-4741"),
            (with("public_keys", json!([])), "YW-4742"),
            (
                with(
                    "public_keys",
                    json!([{"public_key_pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not_before": 0}]),
                ),
                "YW-4742",
            ),
            (
                with(
                    "public_keys",
                    json!([{"public_key_pem": pem, "not_before": 100, "not_after": 50}]),
                ),
                "YW-4742",
            ),
            (with("extra", json!(1)), "YW-4002"),
        ];
        for (body, expected) in cases {
            let (status, answer) = call(&app, admin_post("/v1/admin/authorities", body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            assert_eq!(code(&answer), Some(expected), "{answer}");
        }
        // Without the admin token; then twice; then rotations that cannot be.
        let (status, answer) = call(&app, post("/v1/admin/authorities", good.clone())).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNAUTHORIZED, Some("YW-4015"))
        );
        let (status, _) = call(&app, admin_post("/v1/admin/authorities", good.clone())).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, answer) = call(&app, admin_post("/v1/admin/authorities", good)).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, Some("YW-4099"))
        );
        let (status, answer) = call(
            &app,
            admin_post(&format!("/v1/admin/authorities/{SHENZHEN}/keys"), json!({})),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, Some("YW-4052"))
        );
        let external = json!({"uscc": SHENZHEN, "name": "深圳", "region": "440300",
                              "licence_types": [BIRTH],
                              "public_keys": [{"public_key_pem": pem, "not_before": 0}]});
        let (status, _) = call(&app, admin_post("/v1/admin/authorities", external)).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, answer) = call(
            &app,
            admin_post(&format!("/v1/admin/authorities/{SHENZHEN}/keys"), json!({})),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, Some("YW-4743"))
        );
        // Nothing half-registered: the list holds the two, each with one key.
        let (_, _, token) = raw(&app, "/v1/trust-list").await;
        let (_, issuer) = call(&app, get("/v1/issuer")).await;
        let anchor =
            VerifyingKey::from_spki_pem(issuer["public_key_pem"].as_str().unwrap()).unwrap();
        let trust = TrustList::verify(&token, &anchor, now()).unwrap();
        assert_eq!(trust.authorities.len(), 3);
        assert!(trust.authorities.iter().all(|a| a.keys.len() == 1));
    }
}

const CITIZEN: &str = "330106198506120023";
const NEVER_ENROLLED: &str = "440304200001010017";
const DIVORCE: &str = "11100000MB0143028R003";

fn marriage(number: &str) -> Value {
    json!({"issuer_uscc": FUJIAN, "number": number, "type_code": MARRIAGE,
           "holder": {"id_number": CITIZEN, "name": "王芳"},
           "issue_date": "2026-05-20", "jurisdiction": "350102"})
}

/// The Fujian bureau as an authority (marriage and divorce), its
/// department's Basic credentials, the enrolled citizen's access token and
/// phone (whose device key signed the login).
async fn bureau_and_citizen(app: &axum::Router) -> ((String, String), String, Phone) {
    let (status, _) = call(
        app,
        admin_post(
            "/v1/admin/authorities",
            json!({"uscc": FUJIAN, "name": "福州市鼓楼区民政局", "region": "350100",
                   "licence_types": [MARRIAGE, DIVORCE]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let department = service_client(app, ADMIN, &[&format!("licences:{FUJIAN}")]).await;
    let phone = enrolled_person(app, CITIZEN).await;
    let token = login(app, &phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (department, token, phone)
}

/// The status list of `kid`, checked against the trust list's keys.
async fn status_of(app: &axum::Router, kid: &str, index: u32) -> bool {
    let (status, _, token) = raw(app, &format!("/v1/status-lists/{kid}")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, list) = raw(app, "/v1/trust-list").await;
    let (_, issuer) = call(app, get("/v1/issuer")).await;
    let anchor = VerifyingKey::from_spki_pem(issuer["public_key_pem"].as_str().unwrap()).unwrap();
    let trust = TrustList::verify(&list, &anchor, now()).unwrap();
    let verified = VerifiedStatusList::verify(&token, &trust.verifying_keys()).unwrap();
    verified.list.is_revoked(index)
}

#[tokio::test]
async fn departments_issue_suspend_and_revoke_their_own_licence_types() {
    for test_db in testing::all("library_issue").await {
        let app = app(state(&test_db.db).await);
        let ((id, secret), token, _) = bureau_and_citizen(&app).await;
        let dept = |request: Request<Body>| basic(request, &id, &secret);

        // Issued: a valid GB/T 36904 identifier from the type, the authority and the number.
        let (status, issued) = call(
            &app,
            dept(post("/v1/library/licences", marriage("J350102-2026-00123"))),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        let identifier = issued["identifier"].as_str().unwrap().to_owned();
        let parsed = LicenceId::parse(&identifier).unwrap();
        assert_eq!(parsed.type_code(), MARRIAGE);
        assert_eq!(parsed.issuer().as_str(), FUJIAN);
        assert_eq!(parsed.serial(), "J350102202600123");
        assert_eq!(issued["status"], "active");
        assert_eq!(issued["holder"], "3301**********0023");
        assert!(issued["valid_until"].is_null(), "marriage is 长期");
        assert!(!issued.to_string().contains(CITIZEN));

        // Idempotent by the department's number; other content is a conflict.
        let (status, again) = call(
            &app,
            dept(post("/v1/library/licences", marriage("J350102-2026-00123"))),
        )
        .await;
        assert_eq!(
            (status, &again["identifier"]),
            (StatusCode::OK, &issued["identifier"])
        );
        let mut changed = marriage("J350102-2026-00123");
        changed["holder"]["name"] = json!("王芳芳");
        let (status, answer) = call(&app, dept(post("/v1/library/licences", changed))).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, Some("YW-4090"))
        );

        // The holder is told, and the rules hear of it.
        let (status, inbox) = call(&app, bearer(get("/v1/inbox"), &token)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(inbox.to_string().contains("电子证照：结婚证"), "{inbox}");
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE source = 'library' AND event_type = 'licence_issued'",
        )
        .fetch_one(test_db.db.pool())
        .await
        .unwrap();
        assert_eq!(events, 1);
        // The number is not stored in plain anywhere in the licence row.
        let row: (String, String) =
            sqlx::query_as("SELECT holder_key, body FROM licences WHERE identifier = $1")
                .bind(&identifier)
                .fetch_one(test_db.db.pool())
                .await
                .unwrap();
        assert!(!row.0.contains(CITIZEN));

        // Bad input, each with its code.
        let with = |key: &str, value: Value| {
            let mut body = marriage("J350102-2026-00999");
            body[key] = value;
            body
        };
        let cases = [
            (
                with("type_code", json!(BIRTH)),
                StatusCode::FORBIDDEN,
                "YW-4034",
            ),
            (
                with(
                    "holder",
                    json!({"id_number": NEVER_ENROLLED, "name": "李四"}),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4745",
            ),
            (
                with(
                    "holder",
                    json!({"id_number": "330106198506120024", "name": "李四"}),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-1008",
            ),
            (
                with("holder", json!({"uscc": FUJIAN, "name": "某公司"})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4744",
            ),
            (
                with("number", json!("---")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4746",
            ),
            (
                with("issue_date", json!("2026-02-30")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4747",
            ),
            (
                with("jurisdiction", json!("99")),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-1419",
            ),
            (
                with("issuer_uscc", json!(SHENZHEN)),
                StatusCode::FORBIDDEN,
                "YW-4033",
            ),
        ];
        for (body, expected_status, expected) in cases {
            let (status, answer) = call(&app, dept(post("/v1/library/licences", body))).await;
            assert_eq!(
                (status, code(&answer)),
                (expected_status, Some(expected)),
                "{answer}"
            );
        }
        let (status, answer) = call(
            &app,
            post("/v1/library/licences", marriage("J350102-2026-00124")),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNAUTHORIZED, Some("YW-4023"))
        );

        // Suspended and reinstated: the status-list bit follows.
        let kid = issued["kid"].as_str().unwrap().to_owned();
        let index = u32::try_from(issued["status_index"].as_i64().unwrap()).unwrap();
        assert!(!status_of(&app, &kid, index).await);
        let status_path = format!("/v1/library/licences/{identifier}/status");
        let change = |to: &str| {
            dept(post(
                &status_path,
                json!({"status": to, "reason": "核查中"}),
            ))
        };
        let (status, suspended) = call(&app, change("suspended")).await;
        assert_eq!(
            (status, &suspended["status"]),
            (StatusCode::OK, &json!("suspended"))
        );
        assert!(status_of(&app, &kid, index).await);
        let (_, active) = call(&app, change("active")).await;
        assert_eq!(active["status"], "active");
        assert!(!status_of(&app, &kid, index).await);
        // Revoked is final.
        let (_, revoked) = call(&app, change("revoked")).await;
        assert_eq!(revoked["status"], "revoked");
        assert_eq!(revoked["version"], 4);
        assert!(status_of(&app, &kid, index).await);
        let (status, answer) = call(&app, change("active")).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, Some("YW-4089"))
        );
        let (status, inbox) = call(&app, bearer(get("/v1/inbox"), &token)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(inbox.to_string().contains("已被注销"), "{inbox}");

        // Identifiers that are not GB/T 36904, or have a wrong check character.
        let mut wrong_check = identifier.clone();
        let last = wrong_check.pop().unwrap();
        wrong_check.push(if last == '0' { '1' } else { '0' });
        for bad in ["nonsense", wrong_check.as_str()] {
            let (status, answer) = call(
                &app,
                dept(post(
                    &format!("/v1/library/licences/{bad}/status"),
                    json!({"status": "revoked", "reason": "x"}),
                )),
            )
            .await;
            assert_eq!(
                (status, code(&answer)),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4746")),
                "{answer}"
            );
        }
        let (status, answer) = call(
            &app,
            dept(post(&status_path, json!({"status": "lost", "reason": "x"}))),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4748"))
        );
        let long = "因".repeat(201);
        let (status, answer) = call(
            &app,
            dept(post(
                &status_path,
                json!({"status": "suspended", "reason": long}),
            )),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4748"))
        );
    }
}

async fn bytes_of(app: &axum::Router, path: &str) -> Vec<u8> {
    let (status, _, body) = raw(app, path).await;
    assert_eq!(status, StatusCode::OK);
    body
}

#[tokio::test]
async fn the_wallet_syncs_its_licences_and_a_window_verifies_them_against_the_trust_list() {
    use base64ct::{Base64, Encoding};
    for test_db in testing::all("library_sync").await {
        let app = app(state(&test_db.db).await);
        let ((id, secret), token, phone) = bureau_and_citizen(&app).await;
        let dept = |request: Request<Body>| basic(request, &id, &secret);
        let (status, first) = call(
            &app,
            dept(post("/v1/library/licences", marriage("J350102-2026-00001"))),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let mut divorce = marriage("L350102-2026-00002");
        divorce["type_code"] = json!(DIVORCE);
        let (status, second) = call(&app, dept(post("/v1/library/licences", divorce))).await;
        assert_eq!(status, StatusCode::CREATED);

        // The wallet's device key, which signed the login; pages of one.
        let (device, alias) = (&phone.store, KeyAlias::new("device").unwrap());
        let pem = phone.credential.device_key().to_spki_pem();
        let sync = |since: i64, limit: i64| {
            bearer(
                post(
                    "/v1/licences/sync",
                    json!({"since": since, "device_public_key": pem, "limit": limit}),
                ),
                &token,
            )
        };
        let (status, page) = call(&app, sync(0, 1)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["licences"].as_array().unwrap().len(), 1);
        assert_eq!(page["more"], true);
        assert_eq!(page["licences"][0]["identifier"], first["identifier"]);
        let (_, rest) = call(&app, sync(page["next"].as_i64().unwrap(), 100)).await;
        assert_eq!(rest["licences"][0]["identifier"], second["identifier"]);
        assert_eq!(rest["more"], false);
        let cursor = rest["next"].as_i64().unwrap();
        let (_, nothing) = call(&app, sync(cursor, 100)).await;
        assert_eq!(nothing["licences"], json!([]));

        // The holder file is bound to the device and signed by the authority:
        // shown at a window, it verifies against the trust list and status list.
        let credential = HolderCredential::from_bytes(
            &Base64::decode_vec(page["licences"][0]["credential"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            credential.text(yiwang_core::credential::Claim::LicenceName),
            Some("结婚证")
        );
        let window = "window:350102-01";
        let request = PresentationRequest::new(window)
            .with_disclosure_list("licence_name,type_code,identifier,holder_name_masked")
            .unwrap();
        let qr = credential.present(&request, device, &alias, now()).unwrap();
        let (_, issuer) = call(&app, get("/v1/issuer")).await;
        let anchor =
            VerifyingKey::from_spki_pem(issuer["public_key_pem"].as_str().unwrap()).unwrap();
        let trust =
            TrustList::verify(&bytes_of(&app, "/v1/trust-list").await, &anchor, now()).unwrap();
        let kid = first["kid"].as_str().unwrap();
        let status_list = VerifiedStatusList::verify(
            &bytes_of(&app, &format!("/v1/status-lists/{kid}")).await,
            &trust.verifying_keys(),
        )
        .unwrap();
        let policy = VerificationPolicy {
            status_lists: vec![status_list],
            require_status: true,
            ..VerificationPolicy::new(Vec::new(), window, now())
        };
        let verified = verify_trusted(&qr, &trust, &policy).unwrap();
        assert_eq!(verified.claims.len(), 4);

        // Revoked: the next sync says so and carries no credential; the window refuses it.
        let (status, _) = call(
            &app,
            dept(post(
                &format!(
                    "/v1/library/licences/{}/status",
                    first["identifier"].as_str().unwrap()
                ),
                json!({"status": "revoked", "reason": "登记错误"}),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, changed) = call(&app, sync(cursor, 100)).await;
        assert_eq!(changed["licences"][0]["status"], "revoked");
        assert!(changed["licences"][0]["credential"].is_null());
        let status_list = VerifiedStatusList::verify(
            &bytes_of(&app, &format!("/v1/status-lists/{kid}")).await,
            &trust.verifying_keys(),
        )
        .unwrap();
        let policy = VerificationPolicy {
            status_lists: vec![status_list],
            ..policy
        };
        assert_eq!(
            verify_trusted(&qr, &trust, &policy).unwrap_err().code(),
            "YW-1413"
        );

        // Another citizen sees none of it; bad requests have their codes.
        let other = enrolled_person(&app, "110108198807154325").await;
        let other_token = login(&app, &other).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, theirs) = call(
            &app,
            bearer(
                post(
                    "/v1/licences/sync",
                    json!({"since": 0, "device_public_key": other.credential.device_key().to_spki_pem()}),
                ),
                &other_token,
            ),
        )
        .await;
        assert_eq!(
            (status, theirs["licences"].clone()),
            (StatusCode::OK, json!([]))
        );
        let (status, answer) = call(
            &app,
            post(
                "/v1/licences/sync",
                json!({"since": 0, "device_public_key": pem}),
            ),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNAUTHORIZED, Some("YW-4010"))
        );
        let (status, answer) = call(&app, sync(0, 0)).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4749"))
        );
        // Only the key that signed this session's login: a stolen token
        // cannot take the licences to another key.
        let thief = SoftwareKeyStore::in_memory()
            .generate(&KeyAlias::new("thief").unwrap(), Suite::Gm)
            .unwrap()
            .to_spki_pem();
        let (status, answer) = call(
            &app,
            bearer(
                post(
                    "/v1/licences/sync",
                    json!({"since": 0, "device_public_key": thief}),
                ),
                &token,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::FORBIDDEN, Some("YW-4036"))
        );
        let (status, answer) = call(
            &app,
            bearer(
                post(
                    "/v1/licences/sync",
                    json!({"since": 0, "device_public_key": "nope"}),
                ),
                &token,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(code(&answer).unwrap().starts_with("YW-11"), "{answer}");
    }
}

fn put(path: &str, body: Value) -> Request<Body> {
    Request::put(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn an_update_is_a_new_version_and_the_old_one_stops_verifying() {
    use base64ct::{Base64, Encoding};
    for test_db in testing::all("library_update").await {
        let app = app(state(&test_db.db).await);
        let ((id, secret), token, phone) = bureau_and_citizen(&app).await;
        let dept = |request: Request<Body>| basic(request, &id, &secret);
        let (status, first) = call(
            &app,
            dept(post("/v1/library/licences", marriage("J350102-2026-00777"))),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let old = first["identifier"].as_str().unwrap().to_owned();
        let pem = phone.credential.device_key().to_spki_pem();
        let sync = |since: i64| {
            bearer(
                post(
                    "/v1/licences/sync",
                    json!({"since": since, "device_public_key": pem}),
                ),
                &token,
            )
        };
        let (_, synced) = call(&app, sync(0)).await;
        let cursor = synced["next"].as_i64().unwrap();
        let holder_file = |answer: &Value| {
            HolderCredential::from_bytes(
                &Base64::decode_vec(answer["licences"][0]["credential"].as_str().unwrap()).unwrap(),
            )
            .unwrap()
        };
        let window = "window:350102-02";
        let request = PresentationRequest::new(window)
            .with_disclosure_list("licence_name,type_code,identifier,holder_name")
            .unwrap();
        let alias = KeyAlias::new("device").unwrap();
        let old_qr = holder_file(&synced)
            .present(&request, &phone.store, &alias, now())
            .unwrap();

        // A corrected name: version 002 of the identifier, a new status index.
        let (status, updated) = call(
            &app,
            dept(put(
                &format!("/v1/library/licences/{old}"),
                json!({"holder_name": "王芳芳", "reason": "姓名更正"}),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        let new = updated["identifier"].as_str().unwrap().to_owned();
        let (old_id, new_id) = (
            LicenceId::parse(&old).unwrap(),
            LicenceId::parse(&new).unwrap(),
        );
        assert_eq!((old_id.version(), new_id.version()), (1, 2));
        assert_eq!(old_id.serial(), new_id.serial());
        assert_eq!(updated["version"], 2);
        assert_ne!(updated["status_index"], first["status_index"]);
        let kid = updated["kid"].as_str().unwrap();
        let index =
            |record: &Value| u32::try_from(record["status_index"].as_i64().unwrap()).unwrap();
        assert!(
            status_of(&app, kid, index(&first)).await,
            "the old version is set"
        );
        assert!(!status_of(&app, kid, index(&updated)).await);

        // Retried through the old identifier: the same answer. Other content
        // through the old identifier: superseded. Read through either: current.
        let (status, again) = call(
            &app,
            dept(put(
                &format!("/v1/library/licences/{old}"),
                json!({"holder_name": "王芳芳", "reason": "姓名更正"}),
            )),
        )
        .await;
        assert_eq!(
            (status, &again["identifier"]),
            (StatusCode::OK, &json!(new))
        );
        let (status, answer) = call(
            &app,
            dept(put(
                &format!("/v1/library/licences/{old}"),
                json!({"holder_name": "王小芳", "reason": "再次更正"}),
            )),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, Some("YW-4086"))
        );
        assert!(!answer.to_string().contains("J350102202600777"), "{answer}");
        for path in [&old, &new] {
            let (status, read) =
                call(&app, dept(get(&format!("/v1/library/licences/{path}")))).await;
            assert_eq!((status, &read["identifier"]), (StatusCode::OK, &json!(new)));
        }

        // The holder is told; the wallet's next sync brings the new version,
        // which verifies; the old presentation is refused by the status list.
        let (_, inbox) = call(&app, bearer(get("/v1/inbox"), &token)).await;
        assert!(inbox.to_string().contains("已更新：姓名更正"), "{inbox}");
        let (_, changed) = call(&app, sync(cursor)).await;
        assert_eq!(changed["licences"].as_array().unwrap().len(), 1);
        assert_eq!(changed["licences"][0]["identifier"], json!(new));
        let new_qr = holder_file(&changed)
            .present(&request, &phone.store, &alias, now())
            .unwrap();
        let (_, issuer) = call(&app, get("/v1/issuer")).await;
        let anchor =
            VerifyingKey::from_spki_pem(issuer["public_key_pem"].as_str().unwrap()).unwrap();
        let trust =
            TrustList::verify(&bytes_of(&app, "/v1/trust-list").await, &anchor, now()).unwrap();
        let policy = VerificationPolicy {
            status_lists: vec![
                VerifiedStatusList::verify(
                    &bytes_of(&app, &format!("/v1/status-lists/{kid}")).await,
                    &trust.verifying_keys(),
                )
                .unwrap(),
            ],
            require_status: true,
            ..VerificationPolicy::new(Vec::new(), window, now())
        };
        let verified = verify_trusted(&new_qr, &trust, &policy).unwrap();
        assert_eq!(
            verified
                .claims
                .get(&yiwang_core::credential::Claim::HolderName),
            Some(&yiwang_core::credential::ClaimValue::Text("王芳芳".into()))
        );
        assert_eq!(
            verify_trusted(&old_qr, &trust, &policy).unwrap_err().code(),
            "YW-1413"
        );

        // Bad updates, each with its code.
        let path = format!("/v1/library/licences/{new}");
        let mut wrong_check = new.clone();
        let last = wrong_check.pop().unwrap();
        wrong_check.push(if last == '0' { '1' } else { '0' });
        let unknown = LicenceId::new(MARRIAGE, &Uscc::parse(FUJIAN).unwrap(), "NOPE1", 1).unwrap();
        let cases = [
            (
                path.clone(),
                json!({"valid_until": "2026-02-30", "reason": "续期"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4747",
            ),
            (
                path.clone(),
                json!({"valid_until": "2020-01-01", "reason": "续期"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-1419",
            ),
            (
                path.clone(),
                json!({"holder_name": "王芳", "reason": ""}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4748",
            ),
            (
                path.clone(),
                json!({"holder_name": "王芳", "reason": "因".repeat(201)}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4748",
            ),
            (
                path.clone(),
                json!({"colour": "red", "reason": "x"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4002",
            ),
            (
                format!("/v1/library/licences/{wrong_check}"),
                json!({"reason": "x"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "YW-4746",
            ),
            (
                format!("/v1/library/licences/{}", unknown.as_str()),
                json!({"reason": "x"}),
                StatusCode::NOT_FOUND,
                "YW-4053",
            ),
        ];
        for (path, body, expected_status, expected) in cases {
            let (status, answer) = call(&app, dept(put(&path, body))).await;
            assert_eq!(
                (status, code(&answer)),
                (expected_status, Some(expected)),
                "{path}: {answer}"
            );
        }
        let (status, answer) = call(&app, put(&path, json!({"reason": "x"}))).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::UNAUTHORIZED, Some("YW-4023"))
        );
        // Revoked (through the old identifier, which stands for the licence): final.
        let (status, revoked) = call(
            &app,
            dept(post(
                &format!("/v1/library/licences/{old}/status"),
                json!({"status": "revoked", "reason": "登记错误"}),
            )),
        )
        .await;
        assert_eq!(
            (status, &revoked["identifier"]),
            (StatusCode::OK, &json!(new))
        );
        let (status, answer) = call(
            &app,
            dept(put(
                &path,
                json!({"valid_until": "2030-01-01", "reason": "续期"}),
            )),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, Some("YW-4089"))
        );
    }
}

#[tokio::test]
async fn holders_are_reminded_once_per_threshold_before_a_licence_ends() {
    use yiwang_server::library::licences::expiry_notices;
    for test_db in testing::all("library_expiry").await {
        let state = state(&test_db.db).await;
        let app = app(state.clone());
        let (_, token, _) = bureau_and_citizen(&app).await;
        let today = yiwang_core::credential::china_date(now()).unwrap();
        let number = |d: time::Date| {
            i64::from(d.year()) * 10_000 + i64::from(u8::from(d.month())) * 100 + i64::from(d.day())
        };
        // Ends in 20 days; another revoked one ends in 10; a 长期 one never.
        let mut ending = marriage("J350102-2026-00300");
        ending["valid_until"] = json!((today + time::Duration::days(20)).to_string());
        let (status, ending) =
            call(&app, bearer(post("/v1/library/licences", ending), ADMIN)).await;
        assert_eq!(status, StatusCode::CREATED, "{ending}");
        let mut revoked = marriage("J350102-2026-00301");
        revoked["type_code"] = json!(DIVORCE);
        revoked["valid_until"] = json!((today + time::Duration::days(10)).to_string());
        let (_, revoked) = call(&app, bearer(post("/v1/library/licences", revoked), ADMIN)).await;
        let (status, _) = call(
            &app,
            bearer(
                post(
                    &format!(
                        "/v1/library/licences/{}/status",
                        revoked["identifier"].as_str().unwrap()
                    ),
                    json!({"status": "revoked", "reason": "撤销"}),
                ),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, _) = call(
            &app,
            bearer(
                post("/v1/library/licences", marriage("J350102-2026-00302")),
                ADMIN,
            ),
        )
        .await;

        let push = &state.config().push;
        let run = |day: time::Date| expiry_notices(&test_db.db, push, number(day), now() * 1000);
        // 20 days left: the 30-day reminder, once however often the job runs.
        assert_eq!(run(today).await.unwrap(), 1);
        assert_eq!(run(today).await.unwrap(), 0);
        assert_eq!(run(today + time::Duration::days(5)).await.unwrap(), 0);
        // 6 days left: the 7-day reminder.
        assert_eq!(run(today + time::Duration::days(14)).await.unwrap(), 1);
        // Past its end: nothing more.
        assert_eq!(run(today + time::Duration::days(21)).await.unwrap(), 0);
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT event_id FROM events WHERE source = 'library' AND event_type = 'licence_expiring' ORDER BY id",
        )
        .fetch_all(test_db.db.pool())
        .await
        .unwrap();
        let identifier = ending["identifier"].as_str().unwrap();
        assert_eq!(
            ids,
            [
                format!("{identifier}:expiring:30"),
                format!("{identifier}:expiring:7")
            ]
        );
        let (_, inbox) = call(&app, bearer(get("/v1/inbox"), &token)).await;
        let reminders = inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["title"] == "证照即将到期：结婚证")
            .count();
        assert_eq!(reminders, 2, "{inbox}");
    }
}
