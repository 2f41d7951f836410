//! The web console over HTTP, without a browser (the browser tests are in
//! tests/browser): console users and their bad input, signing in and out,
//! cookies, CSRF, security headers, which role sees which page, a department
//! seeing only its own events, and window verification — on SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use common::{basic, bearer, call, code, enrolled_person, login, me, post, service_client};
use serde_json::{Value, json};
use tower::ServiceExt;
use yiwang_core::credential::{AssuranceMode, PresentationRequest};
use yiwang_core::crypto::KeyAlias;
use yiwang_server::db::testing;
use yiwang_server::issuer::now;
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "test-admin-token-0123456789";
const PASSWORD: &str = "correct horse battery staple";

async fn state(db: &yiwang_server::db::Db) -> AppState {
    let config = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    AppState::with_config(db.clone(), config).await.unwrap()
}

async fn add_user(app: &axum::Router, body: Value) -> (StatusCode, Value) {
    call(app, bearer(post("/v1/admin/console-users", body), ADMIN)).await
}

/// A page: status, headers and the body as text.
async fn fetch(app: &axum::Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 22).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn page(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn form(path: &str, cookie: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "127.0.0.1:8080")
        .body(Body::from(body.finish()))
        .unwrap()
}

/// The value of `name` in a `Set-Cookie` header.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// The value of the hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// Signs `username` in: the session cookie (`yw_console=…`) and the page's CSRF token.
async fn sign_in(app: &axum::Router, username: &str) -> (String, String) {
    let (status, headers, html) = fetch(app, page("/console/login", "")).await;
    assert_eq!(status, StatusCode::OK);
    let login = set_cookie(&headers, "yw_console_login").unwrap();
    let (status, headers, _) = fetch(
        app,
        form(
            "/console/login",
            &format!("yw_console_login={login}"),
            &[
                ("csrf", &csrf_of(&html)),
                ("username", username),
                ("password", PASSWORD),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = format!("yw_console={}", set_cookie(&headers, "yw_console").unwrap());
    // Any page the role may open carries the session's token (sign-out form).
    for path in ["/console/window", "/console"] {
        let (status, _, html) = fetch(app, page(path, &cookie)).await;
        if status == StatusCode::OK {
            return (cookie, csrf_of(&html));
        }
    }
    panic!("{username} can open no page")
}

#[tokio::test]
async fn console_users_refuse_bad_input() {
    for test_db in testing::all("console_users").await {
        let app = app(state(&test_db.db).await);
        let user = |extra: Value| {
            let mut body = json!({"username": "alice", "password": PASSWORD, "role": "operator"});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        let (status, body) = call(&app, post("/v1/admin/console-users", user(json!({})))).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4015"))
        );
        for (extra, expected) in [
            (json!({"username": "Al"}), "YW-4901"),
            (json!({"username": "alice smith"}), "YW-4901"),
            (json!({"password": "short"}), "YW-4902"),
            (json!({"password": "x".repeat(129)}), "YW-4902"),
            (json!({"role": "root"}), "YW-4903"),
            (json!({"role": "department"}), "YW-4903"),
            (
                json!({"role": "department", "department": "no-such-client"}),
                "YW-4903",
            ),
            (json!({"role": "window"}), "YW-4903"),
            (
                json!({"role": "window", "window_id": "Window 1"}),
                "YW-4903",
            ),
            (json!({"window_id": "110105-01"}), "YW-4903"),
            (json!({"department": "x"}), "YW-4903"),
        ] {
            let (status, body) = add_user(&app, user(extra.clone())).await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(expected)),
                "{extra}"
            );
        }
        let (status, body) = add_user(&app, user(json!({"extra": 1}))).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4002"))
        );
        let (status, body) = add_user(&app, user(json!({}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["role"], "operator");
        assert!(body.get("password").is_none() && !body.to_string().contains(PASSWORD));
        let (status, body) = add_user(&app, user(json!({}))).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, Some("YW-4904"))
        );
        // The password is stored as PBKDF2, never as given.
        let stored: String =
            sqlx::query_scalar("SELECT password_hash FROM console_users WHERE username = 'alice'")
                .fetch_one(test_db.db.pool())
                .await
                .unwrap();
        assert!(stored.starts_with("pbkdf2-sha256$600000$"), "{stored}");
        assert!(yiwang_server::console::password_matches(PASSWORD, &stored));
        assert!(!yiwang_server::console::password_matches("wrong", &stored));
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn sign_in_cookies_csrf_and_headers() {
    for test_db in testing::all("console_sign_in").await {
        let app = app(state(&test_db.db).await);
        add_user(
            &app,
            json!({"username": "alice", "password": PASSWORD, "role": "operator"}),
        )
        .await;

        // Signed out: every page sends to the sign-in page.
        for path in ["/console", "/console/window", "/console/audit"] {
            let (status, headers, _) = fetch(&app, page(path, "")).await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
            assert_eq!(headers[header::LOCATION], "/console/login");
        }

        let (status, headers, html) = fetch(&app, page("/console/login", "")).await;
        assert_eq!(status, StatusCode::OK);
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let raw = headers[header::SET_COOKIE].to_str().unwrap();
        assert!(
            raw.contains("HttpOnly") && raw.contains("SameSite=Strict"),
            "{raw}"
        );
        assert!(html.contains("<label for=\"username\">") && html.contains("lang=\"zh-CN\""));
        let login_cookie = format!(
            "yw_console_login={}",
            set_cookie(&headers, "yw_console_login").unwrap()
        );
        let token = csrf_of(&html);
        let fields = |password: &'static str, token: String| {
            vec![
                ("csrf", token),
                ("username", "alice".to_owned()),
                ("password", password.to_owned()),
            ]
        };
        let send = |cookie: String, fields: Vec<(&'static str, String)>| {
            let app = app.clone();
            async move {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                fetch(&app, form("/console/login", &cookie, &fields)).await
            }
        };

        // The sign-in form's double-submit token: without the cookie, or another value.
        let (status, _, html) = send(String::new(), fields(PASSWORD, token.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(html.contains("YW-4911"));
        let (status, _, _) = send(login_cookie.clone(), fields(PASSWORD, "forged".into())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Another origin.
        let mut request = form(
            "/console/login",
            &login_cookie,
            &[
                ("csrf", &token),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        );
        request
            .headers_mut()
            .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        let (status, _, html) = fetch(&app, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(html.contains("YW-4911"));
        // Wrong password, unknown user: the same answer, nothing about which.
        let (status, _, html) = send(
            login_cookie.clone(),
            fields("wrong password!", token.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(html.contains("YW-4910") && !html.contains("wrong password!"));
        // A body that is not a form.
        let request = Request::post("/console/login")
            .header(header::COOKIE, &login_cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (status, _, _) = fetch(&app, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Signed in: a session cookie, HttpOnly and SameSite=Strict.
        let (status, headers, _) =
            send(login_cookie.clone(), fields(PASSWORD, token.clone())).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/console");
        let raw: Vec<&str> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let session = raw.iter().find(|c| c.starts_with("yw_console=")).unwrap();
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
        let cookie = format!("yw_console={}", set_cookie(&headers, "yw_console").unwrap());
        let (status, _, html) = fetch(&app, page("/console", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("alice") && html.contains("推送 · 按通道"));
        let csrf = csrf_of(&html);

        // Sign-out needs the CSRF token too, then the cookie is worthless.
        let (status, _, _) = fetch(&app, form("/console/logout", &cookie, &[("csrf", "x")])).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) =
            fetch(&app, form("/console/logout", &cookie, &[("csrf", &csrf)])).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _, _) = fetch(&app, page("/console", &cookie)).await;
        assert_eq!(status, StatusCode::SEE_OTHER);

        // Sign-in and sign-out are in the audit log under the user's name.
        let (_, log) = call(&app, bearer(common::get("/v1/admin/audit"), ADMIN)).await;
        let actions: Vec<(&str, &str)> = log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
            .collect();
        assert!(actions.contains(&("console:alice", "console.login")));
        assert!(actions.contains(&("console:alice", "console.logout")));
        assert!(actions.contains(&("console", "console.login.failed")));
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn roles_see_their_pages_and_departments_their_own_events() {
    for test_db in testing::all("console_roles").await {
        let app = app(state(&test_db.db).await);
        let (health, health_secret) =
            service_client(&app, ADMIN, &["events:birth_registered"]).await;
        let (police, police_secret) =
            service_client(&app, ADMIN, &["events:residence_changed"]).await;
        for (username, role, extra) in [
            ("ops", "operator", json!({})),
            ("win", "window", json!({"window_id": "110105-01"})),
            ("aud", "auditor", json!({})),
            ("health", "department", json!({"department": health})),
        ] {
            let mut body = json!({"username": username, "password": PASSWORD, "role": role});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            let (status, body) = add_user(&app, body).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }

        // Events from two departments.
        let phone = enrolled_person(&app, "330106198506120023").await;
        let tokens = login(&app, &phone).await;
        let (_, me) = call(&app, me(tokens["access_token"].as_str().unwrap())).await;
        let network_id = me["network_id"].as_str().unwrap().to_owned();
        let birth = json!({"events": [{"event_id": "b-1", "type": "birth_registered",
            "subject": {"network_id": network_id}, "occurred_at": now(),
            "data": {"child_birth_date": "2026-11-01", "child_sex": "female"}}]});
        let (status, body) = call(
            &app,
            basic(post("/v1/events", birth), &health, &health_secret),
        )
        .await;
        assert_eq!(
            (status, body["accepted"].as_i64()),
            (StatusCode::OK, Some(1)),
            "{body}"
        );
        let moved = json!({"events": [{"event_id": "r-1", "type": "residence_changed",
            "subject": {"network_id": network_id}, "occurred_at": now(),
            "data": {"region_code": "110105"}}]});
        let (status, body) = call(
            &app,
            basic(post("/v1/events", moved), &police, &police_secret),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        // Which role may open which page.
        for (username, allowed, refused) in [
            (
                "ops",
                vec!["/console", "/console/window", "/console/audit"],
                vec![],
            ),
            (
                "win",
                vec!["/console/window"],
                vec!["/console", "/console/audit"],
            ),
            (
                "aud",
                vec!["/console", "/console/audit"],
                vec!["/console/window"],
            ),
            (
                "health",
                vec!["/console"],
                vec!["/console/window", "/console/audit"],
            ),
        ] {
            let (cookie, _) = sign_in(&app, username).await;
            for path in allowed {
                let (status, _, _) = fetch(&app, page(path, &cookie)).await;
                assert_eq!(status, StatusCode::OK, "{username} {path}");
            }
            for path in refused {
                let (status, _, html) = fetch(&app, page(path, &cookie)).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{username} {path}");
                assert!(html.contains("YW-4913"));
            }
        }

        // The operator sees both departments; the health department only itself.
        let (cookie, _) = sign_in(&app, "ops").await;
        let (_, _, html) = fetch(&app, page("/console?range=24h", &cookie)).await;
        assert!(html.contains(&health) && html.contains(&police));
        assert!(html.contains("birth_registered") && html.contains("residence_changed"));
        let (cookie, _) = sign_in(&app, "health").await;
        for range in ["24h", "7d", "30d", "bogus"] {
            let (status, _, html) =
                fetch(&app, page(&format!("/console?range={range}"), &cookie)).await;
            assert_eq!(status, StatusCode::OK);
            assert!(html.contains(&health) && html.contains("birth_registered"));
            assert!(
                !html.contains(&police) && !html.contains("residence_changed"),
                "{range}"
            );
            assert!(!html.contains("推送 · 按通道"));
        }
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn the_window_verifies_a_presentation_and_names_each_refusal() {
    for test_db in testing::all("console_window").await {
        let app = app(state(&test_db.db).await);
        add_user(
            &app,
            json!({"username": "win", "password": PASSWORD, "role": "window", "window_id": "110105-01"}),
        )
        .await;
        let (cookie, csrf) = sign_in(&app, "win").await;
        let phone = enrolled_person(&app, "110108198807154325").await;
        let present = |audience: &str| {
            let request = PresentationRequest {
                mode: AssuranceMode::Pin,
                ..PresentationRequest::new(audience)
                    .with_disclosure_list("name_masked,id_number_masked,network_id,age_over_18")
                    .unwrap()
            };
            phone
                .credential
                .present(
                    &request,
                    &phone.store,
                    &KeyAlias::new("device").unwrap(),
                    now(),
                )
                .unwrap()
        };
        let verify = |qr: String, token: String| {
            let (app, cookie) = (app.clone(), cookie.clone());
            async move {
                fetch(
                    &app,
                    form("/console/window", &cookie, &[("csrf", &token), ("qr", &qr)]),
                )
                .await
            }
        };

        let qr = present("window:110105-01");
        let (status, _, html) = verify(qr.clone(), csrf.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("data-result=\"accepted\""), "{html}");
        assert!(html.contains("网证 + 口令") && html.contains("age_over_18"));
        assert!(html.contains("张*") && html.contains("1101**********4325"));
        // The pasted text is not echoed back.
        assert!(!html.contains(&qr));

        // Tampered: one character of the signed part changed.
        let mut tampered = qr.clone().into_bytes();
        let at = tampered.len() / 2;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let (_, _, html) = verify(String::from_utf8(tampered).unwrap(), csrf.clone()).await;
        assert!(html.contains("data-result=\"refused\""));
        assert!(
            ["YW-1402", "YW-1404", "YW-1405", "YW-1406"]
                .iter()
                .any(|c| html.contains(c)),
            "{html}"
        );
        for (text, expected, words) in [
            (
                present("window:999999-01"),
                "YW-1411",
                "为其他网站或窗口生成",
            ),
            ("https://example.com".to_owned(), "YW-1401", "不是网证"),
            ("YW1:%%%".to_owned(), "YW-1402", "不完整"),
            ("YW1:".to_owned() + &"A".repeat(5000), "YW-1402", "不完整"),
        ] {
            let (status, _, html) = verify(text, csrf.clone()).await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                html.contains("data-result=\"refused\"") && html.contains(expected),
                "{expected}"
            );
            assert!(html.contains(words), "{expected}");
        }
        // Revoked: the citizen enrolled again on a new phone.
        enrolled_person(&app, "110108198807154325").await;
        let (_, _, html) = verify(qr.clone(), csrf.clone()).await;
        assert!(
            html.contains("YW-1413") && html.contains("已被注销"),
            "{html}"
        );

        // A wrong CSRF token or another origin: nothing is verified.
        let (status, _, html) = verify(present("window:110105-01"), "forged".into()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(html.contains("YW-4911") && !html.contains("data-result"));
        let mut request = form(
            "/console/window",
            &cookie,
            &[("csrf", &csrf), ("qr", &present("window:110105-01"))],
        );
        request
            .headers_mut()
            .insert(header::ORIGIN, "http://127.0.0.1:9999".parse().unwrap());
        let (status, _, _) = fetch(&app, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Each verification is audited under the staff member.
        let (_, log) = call(
            &app,
            bearer(common::get("/v1/admin/audit?actor=console:win"), ADMIN),
        )
        .await;
        let actions: Vec<&str> = log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == "window.verify.accepted")
                .count(),
            1
        );
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == "window.verify.refused")
                .count(),
            6
        );
        test_db.cleanup().await;
    }
}
