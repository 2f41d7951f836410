//! Devices and sign-out, the admin routes, scan-to-login for websites with
//! ID tokens, idempotency keys and the audit log — and the attacks on them —
//! on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64ct::{Base64, Encoding};
use common::{
    Phone, basic, bearer, call, code, enrolled_person, enrolled_phone, get, login, me, post,
};
use serde_json::{Value, json};
use tower::ServiceExt;
use yiwang_core::scan::{Scanned, classify};
use yiwang_server::db::testing;
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "test-admin-token-0123456789";

async fn state(db: &yiwang_server::db::Db) -> AppState {
    let config = Config {
        admin_token: Some(ADMIN.into()),
        public_url: Some("https://yiwang.example.gov.cn".into()),
        ..Config::default()
    };
    AppState::with_config(db.clone(), config).await.unwrap()
}

/// Registers a website; returns (client_id, secret).
async fn register(app: &axum::Router, name: &str, claims: &[&str]) -> (String, String) {
    let (status, body) = call(
        app,
        bearer(
            post(
                "/v1/admin/relying-parties",
                json!({"name": name, "claims": claims}),
            ),
            ADMIN,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

struct Website {
    client_id: String,
    secret: String,
}

impl Website {
    async fn open(&self, app: &axum::Router, claims: &[&str]) -> Value {
        let (status, body) = call(
            app,
            basic(
                post(
                    "/v1/login-sessions",
                    json!({"claims": claims, "nonce": "rp-nonce-1"}),
                ),
                &self.client_id,
                &self.secret,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn result(&self, app: &axum::Router, session: &str) -> (StatusCode, Value) {
        call(
            app,
            basic(
                get(&format!("/v1/login-sessions/{session}/result")),
                &self.client_id,
                &self.secret,
            ),
        )
        .await
    }
}

/// What the app does after scanning: read the session, present to it.
async fn scan_and_present(app: &axum::Router, phone: &Phone, qr_text: &str) -> (String, String) {
    let Scanned::LoginRequest(request) = classify(qr_text) else {
        panic!("not a login QR: {qr_text}");
    };
    assert_eq!(request.server, "https://yiwang.example.gov.cn");
    let (status, session) =
        call(app, get(&format!("/v1/login-sessions/{}", request.session))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["status"], "pending");
    let claims: Vec<&str> = session["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let presentation = phone.present(
        session["audience"].as_str().unwrap(),
        session["nonce"].as_str().unwrap(),
        &claims.join(","),
    );
    (request.session, presentation)
}

fn approve(session: &str, presentation: &str, token: &str) -> Request<Body> {
    bearer(
        post(
            &format!("/v1/login-sessions/{session}/approve"),
            json!({ "presentation": presentation }),
        ),
        token,
    )
}

/// The payload of a JWT, checked against the server's JWKS.
async fn verified_payload(app: &axum::Router, jwt: &str, audience: &str) -> Value {
    let (_, jwks) = call(app, get("/.well-known/jwks.json")).await;
    let kid = jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_ec_components(
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&["https://yiwang.example.gov.cn"]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn scan_to_login_gives_the_website_a_pairwise_id_token() {
    for test_db in testing::all("scan_to_login_gives_the_website_a_pairwise_id_token").await {
        let app = app(state(&test_db.db).await);
        let phone = enrolled_phone(&app).await;
        let token = login(&app, &phone).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (client_id, secret) =
            register(&app, "国家政务服务平台", &["name", "age_over_18"]).await;
        let site = Website { client_id, secret };
        let opened = site.open(&app, &["name", "age_over_18"]).await;
        assert_eq!(opened["expires_in"], 120);

        // Before the citizen decides, the website sees "pending" (long-poll returns on time).
        let session_id = opened["session_id"].as_str().unwrap();
        let (status, pending) = call(
            &app,
            basic(
                get(&format!("/v1/login-sessions/{session_id}/result?wait=1")),
                &site.client_id,
                &site.secret,
            ),
        )
        .await;
        assert_eq!(
            (status, pending["status"].as_str()),
            (StatusCode::OK, Some("pending"))
        );

        let (session, presentation) =
            scan_and_present(&app, &phone, opened["qr_text"].as_str().unwrap()).await;
        let (status, body) = call(&app, approve(&session, &presentation, &token)).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("approved")),
            "{body}"
        );

        // The website gets the ID token once.
        let (status, outcome) = site.result(&app, &session).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(outcome["status"], "approved");
        let claims =
            verified_payload(&app, outcome["id_token"].as_str().unwrap(), &site.client_id).await;
        assert_eq!(claims["name"], "张三");
        assert_eq!(claims["age_over_18"], true);
        assert_eq!(claims["nonce"], "rp-nonce-1");
        assert_eq!(claims["acr"], "yiwang:netid");
        assert!(
            claims.get("network_id").is_none(),
            "only the consented claims"
        );
        assert!(claims.get("birth_date").is_none());
        let sub = claims["sub"].as_str().unwrap().to_owned();
        assert_ne!(Some(sub.as_str()), phone.credential.network_id());
        let (_, again) = site.result(&app, &session).await;
        assert_eq!(again["status"], "completed");
        assert!(again.get("id_token").is_none());

        // Approved once: a second approval is refused.
        let (status, body) = call(&app, approve(&session, &presentation, &token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, Some("YW-4092"))
        );

        // A second website gets a different pairwise sub for the same citizen;
        // the same website gets the same one next time.
        let (other_id, other_secret) = register(&app, "某省政务服务网", &["name"]).await;
        let other = Website {
            client_id: other_id,
            secret: other_secret,
        };
        for (site, same) in [(&other, false), (&site, true)] {
            let opened = site.open(&app, &[]).await;
            let (session, presentation) =
                scan_and_present(&app, &phone, opened["qr_text"].as_str().unwrap()).await;
            assert_eq!(
                call(&app, approve(&session, &presentation, &token)).await.0,
                StatusCode::OK
            );
            let (_, outcome) = site.result(&app, &session).await;
            let claims =
                verified_payload(&app, outcome["id_token"].as_str().unwrap(), &site.client_id)
                    .await;
            assert_eq!(claims["sub"] == sub.as_str(), same);
            assert!(claims.get("name").is_none(), "nothing was asked for");
        }
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn scan_to_login_attacks_are_refused() {
    for test_db in testing::all("scan_to_login_attacks_are_refused").await {
        let app = app(state(&test_db.db).await);
        let phone = enrolled_phone(&app).await;
        let token = login(&app, &phone).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (client_id, secret) =
            register(&app, "国家政务服务平台", &["name", "age_over_18"]).await;
        let site = Website { client_id, secret };

        // The website's own authentication, and its registration's limits.
        let (status, body) = call(
            &app,
            basic(
                post("/v1/login-sessions", json!({})),
                &site.client_id,
                "wrong-secret",
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4021"))
        );
        let (status, body) = call(&app, post("/v1/login-sessions", json!({}))).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4021"))
        );
        let (status, body) = call(
            &app,
            basic(
                post("/v1/login-sessions", json!({"claims": ["birth_date"]})),
                &site.client_id,
                &site.secret,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, Some("YW-4032"))
        );
        let (status, body) = call(
            &app,
            basic(
                post("/v1/login-sessions", json!({"claims": ["shoe_size"]})),
                &site.client_id,
                &site.secret,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4020"))
        );

        // A presentation made for another audience (the server's own login).
        let opened = site.open(&app, &["name"]).await;
        let (session, _) =
            scan_and_present(&app, &phone, opened["qr_text"].as_str().unwrap()).await;
        let (_, shown) = call(&app, get(&format!("/v1/login-sessions/{session}"))).await;
        let elsewhere = phone.present("yiwang-server", shown["nonce"].as_str().unwrap(), "name");
        let (status, body) = call(&app, approve(&session, &elsewhere, &token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-1411"))
        );
        // Bound to another session (its nonce).
        let other = site.open(&app, &["name"]).await;
        let (_, other_presentation) =
            scan_and_present(&app, &phone, other["qr_text"].as_str().unwrap()).await;
        let (status, body) = call(&app, approve(&session, &other_presentation, &token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-1412"))
        );
        // Not disclosing what was asked for.
        let withheld = phone.present(&site.client_id, shown["nonce"].as_str().unwrap(), "");
        let (status, body) = call(&app, approve(&session, &withheld, &token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4016"))
        );
        // Someone else's credential, approving under this citizen's login.
        let stranger = enrolled_person(&app, "440304199001011233").await;
        let (_, theirs) =
            scan_and_present(&app, &stranger, opened["qr_text"].as_str().unwrap()).await;
        let (status, body) = call(&app, approve(&session, &theirs, &token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, Some("YW-4031"))
        );
        // Without a login.
        let (_, mine) = scan_and_present(&app, &phone, opened["qr_text"].as_str().unwrap()).await;
        let (status, body) = call(
            &app,
            post(
                &format!("/v1/login-sessions/{session}/approve"),
                json!({"presentation": mine}),
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4010"))
        );

        // Refused: the website hears so, and it cannot be approved afterwards.
        let (status, body) = call(
            &app,
            bearer(
                post(&format!("/v1/login-sessions/{session}/refuse"), json!({})),
                &token,
            ),
        )
        .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("refused"))
        );
        assert_eq!(site.result(&app, &session).await.1["status"], "refused");
        let (status, body) = call(&app, approve(&session, &mine, &token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, Some("YW-4092"))
        );

        // Expired.
        let late = site.open(&app, &["name"]).await;
        let (late_session, late_presentation) =
            scan_and_present(&app, &phone, late["qr_text"].as_str().unwrap()).await;
        sqlx::query("UPDATE login_sessions SET expires_at = $1 WHERE session_id = $2")
            .bind(yiwang_server::issuer::now() - 1)
            .bind(&late_session)
            .execute(test_db.db.pool())
            .await
            .unwrap();
        let (status, body) = call(&app, approve(&late_session, &late_presentation, &token)).await;
        assert_eq!((status, code(&body)), (StatusCode::GONE, Some("YW-4100")));
        assert_eq!(
            site.result(&app, &late_session).await.1["status"],
            "expired"
        );

        // Another website cannot read this one's sessions; unknown sessions are 404.
        let (thief_id, thief_secret) = register(&app, "钓鱼网站", &["name"]).await;
        let (status, body) = call(
            &app,
            basic(
                get(&format!("/v1/login-sessions/{session}/result")),
                &thief_id,
                &thief_secret,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, Some("YW-4042"))
        );
        let (status, body) = call(&app, get("/v1/login-sessions/no-such-session-id")).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, Some("YW-4042"))
        );
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn devices_are_listed_and_signed_out_at_once() {
    for test_db in testing::all("devices_are_listed_and_signed_out_at_once").await {
        let app = app(state(&test_db.db).await);
        let phone = enrolled_phone(&app).await;
        let first = login(&app, &phone).await;
        // A second login names its device.
        let nonce = common::challenge(&app).await;
        let presentation = phone.present("yiwang-server", &nonce, "network_id");
        let (status, second) = call(
            &app,
            post(
                "/v1/auth/login",
                json!({"presentation": presentation, "nonce": nonce, "device_name": "华为 Mate 60"}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let first_token = first["access_token"].as_str().unwrap();
        let second_token = second["access_token"].as_str().unwrap();

        let (status, list) = call(&app, bearer(get("/v1/me/devices"), second_token)).await;
        assert_eq!(status, StatusCode::OK);
        let devices = list["devices"].as_array().unwrap();
        assert_eq!(devices.len(), 2);
        let current: Vec<_> = devices.iter().filter(|d| d["current"] == true).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["name"], "华为 Mate 60");
        assert_eq!(current[0]["device_id"], second["device_id"]);

        // Sign the first device out from the second: its access and refresh tokens die now.
        let path = format!("/v1/me/devices/{}", first["device_id"].as_str().unwrap());
        let (status, _) = call(
            &app,
            bearer(
                Request::delete(&path).body(Body::empty()).unwrap(),
                second_token,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = call(&app, me(first_token)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4010"))
        );
        let (status, body) = call(
            &app,
            post(
                "/v1/auth/refresh",
                json!({"refresh_token": first["refresh_token"]}),
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4013"))
        );
        assert_eq!(call(&app, me(second_token)).await.0, StatusCode::OK);
        // Again, or a device that is not the citizen's: 404.
        let (status, body) = call(
            &app,
            bearer(
                Request::delete(&path).body(Body::empty()).unwrap(),
                second_token,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, Some("YW-4041"))
        );

        // Refresh keeps the device; a refreshed token names it.
        let (status, refreshed) = call(
            &app,
            post(
                "/v1/auth/refresh",
                json!({"refresh_token": second["refresh_token"]}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(refreshed["device_id"], second["device_id"]);

        // Bad device names.
        for name in ["x".repeat(65), "line\nbreak".to_owned()] {
            let nonce = common::challenge(&app).await;
            let presentation = phone.present("yiwang-server", &nonce, "network_id");
            let (status, body) = call(
                &app,
                post(
                    "/v1/auth/login",
                    json!({"presentation": presentation, "nonce": nonce, "device_name": name}),
                ),
            )
            .await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4017"))
            );
        }
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn admin_routes_need_the_admin_token() {
    for test_db in testing::all("admin_routes_need_the_admin_token").await {
        // No token configured: disabled.
        let plain = app(AppState::load(test_db.db.clone()).await.unwrap());
        let (status, body) = call(&plain, bearer(get("/v1/admin/audit"), ADMIN)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, Some("YW-4030"))
        );

        let app = app(state(&test_db.db).await);
        for token in ["", "wrong", &ADMIN[..ADMIN.len() - 1], &format!("{ADMIN}x")] {
            let (status, body) = call(&app, bearer(get("/v1/admin/audit"), token)).await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::UNAUTHORIZED, Some("YW-4015")),
                "{token}"
            );
        }
        let (status, body) = call(
            &app,
            bearer(
                post(
                    "/v1/admin/relying-parties",
                    json!({"name": "x", "claims": ["name"]}),
                ),
                "wrong",
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4015"))
        );

        // Registration input.
        let register_with = |body: Value| bearer(post("/v1/admin/relying-parties", body), ADMIN);
        let (status, body) = call(&app, register_with(json!({"name": "", "claims": []}))).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4018"))
        );
        let (status, body) = call(
            &app,
            register_with(json!({"name": "a", "client_id": "Bad Id!"})),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4019"))
        );
        let (status, _) = call(
            &app,
            register_with(json!({"name": "a", "client_id": "gov-portal"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = call(
            &app,
            register_with(json!({"name": "b", "client_id": "gov-portal"})),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, Some("YW-4093"))
        );
        let (status, body) = call(
            &app,
            register_with(json!({"name": "a", "claims": ["name"], "scope": "all"})),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4002"))
        );
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn the_audit_log_records_personal_data_access_and_can_be_queried() {
    for test_db in
        testing::all("the_audit_log_records_personal_data_access_and_can_be_queried").await
    {
        let app = app(state(&test_db.db).await);
        let phone = enrolled_phone(&app).await;
        let token = login(&app, &phone).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(call(&app, me(&token)).await.0, StatusCode::OK);
        assert_eq!(
            call(&app, bearer(get("/v1/me/devices"), &token)).await.0,
            StatusCode::OK
        );
        let network_id = phone.credential.network_id().unwrap().to_owned();

        let audit = |query: String| bearer(get(&format!("/v1/admin/audit{query}")), ADMIN);
        let (status, page) = call(&app, audit(format!("?subject={network_id}"))).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let actions: Vec<&str> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "devices.read",
                "account.read",
                "auth.login",
                "credential.issued"
            ]
        );
        assert!(page["entries"][0]["request_id"].as_str().unwrap().len() >= 8);

        // Filters and paging.
        let (_, page) = call(
            &app,
            audit(format!("?subject={network_id}&action=auth.login")),
        )
        .await;
        assert_eq!(page["entries"].as_array().unwrap().len(), 1);
        let (_, first) = call(
            &app,
            audit(format!("?subject={network_id}&actor=citizen&limit=2")),
        )
        .await;
        assert_eq!(first["entries"].as_array().unwrap().len(), 2);
        let before = first["next_before"].as_i64().unwrap();
        let (_, rest) = call(
            &app,
            audit(format!(
                "?subject={network_id}&actor=citizen&limit=2&before={before}"
            )),
        )
        .await;
        assert_eq!(rest["entries"].as_array().unwrap().len(), 1);
        assert!(rest["next_before"].is_null());
        let (_, none) = call(
            &app,
            audit(format!("?subject={network_id}&since=99999999999")),
        )
        .await;
        assert!(none["entries"].as_array().unwrap().is_empty());
        // Reading the log is itself logged.
        let (_, reads) = call(&app, audit("?action=audit.read".into())).await;
        assert!(!reads["entries"].as_array().unwrap().is_empty());

        // Bad queries.
        for query in ["?limit=0", "?limit=501", "?since=yesterday", "?colour=red"] {
            let (status, body) = call(&app, audit(query.into())).await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::BAD_REQUEST, Some("YW-4006")),
                "{query}"
            );
        }
        test_db.cleanup().await;
    }
}

async fn send_raw(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, Option<String>, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, replayed, body.to_vec())
}

fn with_key(mut request: Request<Body>, key: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_answer() {
    for test_db in testing::all("idempotency_keys_replay_the_first_answer").await {
        let app = app(state(&test_db.db).await);
        let phone = enrolled_phone(&app).await;
        let tokens = login(&app, &phone).await;

        // A refresh whose answer was lost, retried with its key: the same new
        // pair, and no reuse alarm.
        let refresh = json!({"refresh_token": tokens["refresh_token"]});
        let first = send_raw(
            &app,
            with_key(post("/v1/auth/refresh", refresh.clone()), "key-1"),
        )
        .await;
        let again = send_raw(
            &app,
            with_key(post("/v1/auth/refresh", refresh.clone()), "key-1"),
        )
        .await;
        assert_eq!(first.0, StatusCode::OK);
        assert_eq!(
            (again.0, again.1.as_deref()),
            (StatusCode::OK, Some("true"))
        );
        assert_eq!(first.2, again.2);
        let pair: Value = serde_json::from_slice(&again.2).unwrap();
        assert_eq!(
            call(&app, me(pair["access_token"].as_str().unwrap()))
                .await
                .0,
            StatusCode::OK
        );
        // The same key for a different request.
        let other = json!({"refresh_token": pair["refresh_token"]});
        let (status, _, body) =
            send_raw(&app, with_key(post("/v1/auth/refresh", other), "key-1")).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4220"))
        );
        // Malformed keys.
        let (status, _, body) = send_raw(
            &app,
            with_key(post("/v1/auth/refresh", refresh), "key with spaces"),
        )
        .await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, Some("YW-4005"))
        );

        // An enrolment retried with its key does not enrol twice.
        let store = yiwang_core::crypto::SoftwareKeyStore::in_memory();
        let pem = yiwang_core::crypto::KeyStore::generate(
            &store,
            &yiwang_core::crypto::KeyAlias::new("device").unwrap(),
            yiwang_core::crypto::Suite::Gm,
        )
        .unwrap()
        .to_spki_pem();
        let enrol = json!({"name": "李四", "id_number": "11010520100307451X", "photo_digest": "08".repeat(32), "device_public_key": pem});
        let first = send_raw(
            &app,
            with_key(post("/v1/enrolments", enrol.clone()), "enrol-1"),
        )
        .await;
        let again = send_raw(&app, with_key(post("/v1/enrolments", enrol), "enrol-1")).await;
        assert_eq!(
            (first.0, again.0),
            (StatusCode::CREATED, StatusCode::CREATED)
        );
        assert_eq!(first.2, again.2);
        let enrolled: Value = serde_json::from_slice(&again.2).unwrap();
        assert_eq!(enrolled["generation"], 1);

        // Stored sealed: the table does not contain the tokens or the credential.
        let stored: Vec<String> = sqlx::query_scalar("SELECT sealed_body FROM idempotency_keys")
            .fetch_all(test_db.db.pool())
            .await
            .unwrap();
        let raw_token = pair["refresh_token"].as_str().unwrap();
        let credential = enrolled["credential"].as_str().unwrap();
        for sealed in &stored {
            let bytes = Base64::decode_vec(sealed).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(raw_token) && !text.contains(&credential[..40]));
        }
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn sql_looking_text_is_data_not_code() {
    for test_db in testing::all("sql_looking_text_is_data_not_code").await {
        let app = app(state(&test_db.db).await);
        let phone = enrolled_phone(&app).await;
        let sql = "'; DROP TABLE accounts; --";
        // In a device name (stored verbatim and shown back)...
        let nonce = common::challenge(&app).await;
        let presentation = phone.present("yiwang-server", &nonce, "network_id");
        let (status, tokens) = call(
            &app,
            post(
                "/v1/auth/login",
                json!({"presentation": presentation, "nonce": nonce, "device_name": sql}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let token = tokens["access_token"].as_str().unwrap();
        let (_, list) = call(&app, bearer(get("/v1/me/devices"), token)).await;
        assert_eq!(list["devices"][0]["name"], sql);
        // ...a website's name and nonce, a session id, audit filters, a refresh token, a nonce.
        let (client_id, secret) = register(&app, sql, &["name"]).await;
        let (status, _) = call(
            &app,
            basic(
                post("/v1/login-sessions", json!({"nonce": sql})),
                &client_id,
                &secret,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let quoted = "x'%20OR%20'1'='1";
        let (status, body) = call(&app, get(&format!("/v1/login-sessions/{quoted}"))).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, Some("YW-4042"))
        );
        let (status, page) = call(
            &app,
            bearer(get(&format!("/v1/admin/audit?subject={quoted}")), ADMIN),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page["entries"].as_array().unwrap().is_empty());
        let (status, body) = call(
            &app,
            post("/v1/auth/refresh", json!({"refresh_token": sql})),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4013"))
        );
        let (status, body) = call(
            &app,
            post("/v1/auth/login", json!({"presentation": sql, "nonce": sql})),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4011"))
        );
        let (status, _) = call(&app, basic(post("/v1/login-sessions", json!({})), sql, sql)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // ...and an enrolment's name, kept verbatim in the credential.
        let store = yiwang_core::crypto::SoftwareKeyStore::in_memory();
        let pem = yiwang_core::crypto::KeyStore::generate(
            &store,
            &yiwang_core::crypto::KeyAlias::new("device").unwrap(),
            yiwang_core::crypto::Suite::Gm,
        )
        .unwrap()
        .to_spki_pem();
        let (status, enrolled) = call(
            &app,
            post(
                "/v1/enrolments",
                json!({"name": sql, "id_number": "440304199001011233", "photo_digest": "09".repeat(32), "device_public_key": pem}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let credential = yiwang_core::credential::HolderCredential::from_bytes(
            &Base64::decode_vec(enrolled["credential"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let request = yiwang_core::credential::PresentationRequest::new("window")
            .with_disclosure_list("name")
            .unwrap();
        let shown = credential
            .present(
                &request,
                &store,
                &yiwang_core::crypto::KeyAlias::new("device").unwrap(),
                yiwang_server::issuer::now(),
            )
            .unwrap();
        let (status, issuer) = call(&app, get("/v1/issuer")).await;
        assert_eq!(status, StatusCode::OK);
        let key = yiwang_core::crypto::VerifyingKey::from_spki_pem(
            issuer["public_key_pem"].as_str().unwrap(),
        )
        .unwrap();
        let verified = yiwang_core::credential::verify(
            &shown,
            &yiwang_core::credential::VerificationPolicy::new(
                vec![key],
                "window",
                yiwang_server::issuer::now(),
            ),
        )
        .unwrap();
        assert_eq!(
            verified.claims[&yiwang_core::credential::Claim::Name],
            yiwang_core::credential::ClaimValue::Text(sql.into())
        );

        // Unknown fields are refused on every body, not ignored.
        for (path, body) in [
            (
                "/v1/auth/login",
                json!({"presentation": "x", "nonce": "y", "admin": true}),
            ),
            (
                "/v1/auth/refresh",
                json!({"refresh_token": "x", "family": "y"}),
            ),
            (
                "/v1/enrolments",
                json!({"name": "x", "id_number": "y", "photo_digest": "z", "device_public_key": "k", "verified": true}),
            ),
        ] {
            let (status, body) = call(&app, post(path, body)).await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4002")),
                "{path}"
            );
        }
        let (status, body) = call(
            &app,
            basic(
                post(
                    "/v1/login-sessions",
                    json!({"claims": [], "redirect_uri": "https://evil"}),
                ),
                &client_id,
                &secret,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4002"))
        );
        let (status, body) = call(
            &app,
            bearer(
                post(
                    "/v1/login-sessions/x/approve",
                    json!({"presentation": "x", "sub": "y"}),
                ),
                token,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4002"))
        );

        // Every table is still there and the account still works.
        assert_eq!(call(&app, me(token)).await.0, StatusCode::OK);
        let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(test_db.db.pool())
            .await
            .unwrap();
        assert_eq!(accounts, 2);
        test_db.cleanup().await;
    }
}
