//! The web console over HTTP, without a browser (the browser tests are in
//! tests/browser): console users and their bad input, signing in and out,
//! cookies, CSRF, security headers, which role sees which page, a department
//! seeing only its own events, and window verification — on SQLite and
//! PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64ct::Encoding as _;
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

/// Creates console user `username` with `role`, plus `extra` fields
/// (`window_id`, `department`); the password is [`PASSWORD`].
async fn create(app: &axum::Router, username: &str, role: &str, extra: Value) {
    let mut body = json!({"username": username, "password": PASSWORD, "role": role});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, body) = add_user(app, body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
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
        create(&app, "alice", "operator", json!({})).await;

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
            create(&app, username, role, extra).await;
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

        // Filters of the pushes-over-time chart: known values, anything else is all.
        let (cookie, _) = sign_in(&app, "ops").await;
        for (query, title) in [
            (
                "provider=xiaomi&category=campaign",
                "通道：xiaomi；类别：campaign",
            ),
            (
                "provider=nokia&category=%27%20OR%201%3D1",
                "通道：全部；类别：全部",
            ),
        ] {
            let (status, _, html) = fetch(&app, page(&format!("/console?{query}"), &cookie)).await;
            assert_eq!(status, StatusCode::OK);
            assert!(html.contains(title), "{query}");
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
        create(&app, "win", "window", json!({"window_id": "110105-01"})).await;
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

        // A photo of the code (the page sends a PNG data URL): read, then verified.
        let photo = |png: &[u8]| {
            format!(
                "data:image/png;base64,{}",
                base64ct::Base64::encode_string(png)
            )
        };
        let png = yiwang_core::qr::QrMatrix::encode(&present("window:110105-01"))
            .unwrap()
            .to_png(4)
            .unwrap();
        let send_photo = |image: String| {
            let (app, cookie, csrf) = (app.clone(), cookie.clone(), csrf.clone());
            async move {
                fetch(
                    &app,
                    form(
                        "/console/window",
                        &cookie,
                        &[("csrf", &csrf), ("qr", ""), ("image", &image)],
                    ),
                )
                .await
            }
        };
        let (status, _, html) = send_photo(photo(&png)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("data-result=\"accepted\""), "{html}");
        // A white square, not a PNG, another image type, too large: each its code.
        const BLANK: &str = "iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAAAAABWESUoAAAAFklEQVR4nGP4TwAwjCoYVTCqYKQqAAA/aPwuq5iY/wAAAABJRU5ErkJggg==";
        for (image, expected) in [
            (format!("data:image/png;base64,{BLANK}"), "YW-1306"),
            (photo(b"not a png"), "YW-1303"),
            ("data:image/jpeg;base64,AAAA".to_owned(), "YW-1303"),
            (
                format!("data:image/png;base64,{}", "A".repeat(2 * 1024 * 1024 + 4)),
                "YW-1303",
            ),
        ] {
            let (status, _, html) = send_photo(image).await;
            assert_eq!(status, StatusCode::OK);
            assert!(
                html.contains("data-result=\"refused\"") && html.contains(expected),
                "{expected}"
            );
        }
        // Over the route's body limit: refused before it is read.
        let (status, _, _) = send_photo("A".repeat(3 * 1024 * 1024)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

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
            2
        );
        assert_eq!(
            actions
                .iter()
                .filter(|a| **a == "window.verify.refused")
                .count(),
            10
        );
        test_db.cleanup().await;
    }
}

/// The value of `data-<name>="…"` after `marker` in a page.
fn data_after(html: &str, marker: &str) -> String {
    let at = html.find(marker).unwrap() + marker.len();
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    rest[start..start + rest[start..].find('<').unwrap()].to_owned()
}

/// The hidden `checked` digest of the rules page.
fn checked_of(html: &str) -> String {
    let at = html.find("name=\"checked\" value=\"").unwrap() + 22;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn rules_are_published_only_after_a_dry_run() {
    for test_db in testing::all("console_rules").await {
        let app = app(state(&test_db.db).await);
        for (username, role, extra) in [
            ("ops", "operator", json!({})),
            ("win", "window", json!({"window_id": "110105-01"})),
        ] {
            create(&app, username, role, extra).await;
        }
        let (cookie, csrf) = sign_in(&app, "ops").await;
        let (status, _, html) = fetch(&app, page("/console/catalog?q=出生", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("出生"), "{html}");

        // The demo rule set (version 1) as published.
        let (_, rules) = call(&app, bearer(common::get("/v1/admin/rules"), ADMIN)).await;
        let text = serde_json::to_string_pretty(&rules).unwrap();
        let (status, _, html) = fetch(&app, page("/console/rules", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("当前生效第 1 版") && html.contains("disabled"));

        let birth = r#"{"child_birth_date": "2026-11-01", "child_sex": "female"}"#;
        let dry_run = |rules: String, data: &'static str, consent: bool, checked: String| {
            let (app, cookie, csrf) = (app.clone(), cookie.clone(), csrf.clone());
            async move {
                let mut fields = vec![
                    ("csrf", csrf.as_str()),
                    ("rules", rules.as_str()),
                    ("event_type", "birth_registered"),
                    ("event_data", data),
                    ("birth_date", "1990-03-07"),
                    ("region", "110101"),
                    ("checked", checked.as_str()),
                ];
                if consent {
                    fields.push(("consent", "on"));
                }
                let path = if checked.is_empty() {
                    "/console/rules/dry-run"
                } else {
                    "/console/rules/publish"
                };
                fetch(&app, form(path, &cookie, &fields)).await
            }
        };

        // A dry run: which rules fire for the sample, and why the others do not.
        let (status, _, html) = dry_run(text.clone(), birth, true, String::new()).await;
        assert_eq!(status, StatusCode::OK);
        // The demo set: two birth rules required by law, one needing consent.
        assert!(html.contains("data-fired=\"3\""), "{html}");
        assert!(html.contains("会推荐"));
        let checked = checked_of(&html);
        assert_eq!(checked.len(), 64);
        // Without consent, profile rules are not offered, with the reason.
        let (_, _, html) = dry_run(text.clone(), birth, false, String::new()).await;
        assert!(html.contains("data-fired=\"2\""), "{html}");
        let row = &html[html
            .find("data-rule=\"birth.maternity-allowance\"")
            .unwrap()..];
        assert!(row[..row.find("</tr>").unwrap()].contains("未同意画像匹配"));

        // Bad sample input and a bad rule set: clear codes, nothing checked.
        for (rules, data, expected) in [
            (text.clone(), "[1, 2]", "YW-4915"),
            (text.clone(), r#"{"child_sex": "female"}"#, "YW-4915"),
            (r#"{"rules": [{"id": "x"}]}"#.to_owned(), birth, "YW-4720"),
            ("not json".to_owned(), birth, "YW-4720"),
        ] {
            let data: &'static str = Box::leak(data.to_owned().into_boxed_str());
            let (status, _, html) = dry_run(rules, data, true, String::new()).await;
            assert_eq!(status, StatusCode::OK);
            assert!(html.contains(expected), "{expected}: {html}");
            assert!(checked_of(&html).is_empty());
        }
        let (_, _, html) = dry_run(
            r#"{"rules": [{"id": "x"}]}"#.to_owned(),
            birth,
            true,
            String::new(),
        )
        .await;
        assert!(html.contains("rules[0]"), "the path of the error");

        // Publishing a set changed after its dry run is refused.
        let changed = text.replacen("\"priority\"", "\"priority\" ", 1);
        let (status, _, html) = dry_run(changed, birth, true, checked.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(html.contains("YW-4914"));
        let (_, headers) = {
            let response = app
                .clone()
                .oneshot(bearer(common::get("/v1/admin/rules"), ADMIN))
                .await
                .unwrap();
            (response.status(), response.headers().clone())
        };
        assert_eq!(headers["x-rule-set-version"], "1");
        // The dry-run set: published as version 2, by the console user.
        let (status, _, html) = dry_run(text.clone(), birth, true, checked).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("data-result=\"published\"") && html.contains("第 2 版"));
        let (_, log) = call(
            &app,
            bearer(common::get("/v1/admin/audit?action=rules.published"), ADMIN),
        )
        .await;
        assert_eq!(log["entries"][0]["actor"], "console:ops");

        // A wrong CSRF token publishes nothing; window staff may not open the rules.
        let (status, _, _) = fetch(
            &app,
            form(
                "/console/rules/dry-run",
                &cookie,
                &[("csrf", "forged"), ("rules", &text)],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (win, win_csrf) = sign_in(&app, "win").await;
        for path in ["/console/rules", "/console/catalog", "/console/campaigns"] {
            let (status, _, html) = fetch(&app, page(path, &win)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert!(html.contains("YW-4913"));
        }
        let (status, _, _) = fetch(
            &app,
            form(
                "/console/rules/publish",
                &win,
                &[("csrf", &win_csrf), ("rules", &text)],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn a_campaign_is_previewed_then_sent_and_followed() {
    for test_db in testing::all("console_campaigns").await {
        let app = app(state(&test_db.db).await);
        create(&app, "ops", "operator", json!({})).await;
        create(&app, "win", "window", json!({"window_id": "110105-01"})).await;
        // Two citizens of 330106; one has a phone registered for push.
        let with_phone = enrolled_person(&app, "330106198506120023").await;
        enrolled_person(&app, "330106199001010026").await;
        let tokens = login(&app, &with_phone).await;
        let register = Request::put("/v1/me/push")
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"provider": "fcm", "token": "fcm-token-1", "app_id": "cn.gov.yiwang"})
                    .to_string(),
            ))
            .unwrap();
        let (status, body) = call(
            &app,
            bearer(register, tokens["access_token"].as_str().unwrap()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let (cookie, csrf) = sign_in(&app, "ops").await;
        let (status, _, html) = fetch(&app, page("/console/campaigns", &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("campaign.announcement") && html.contains("param.title"));
        let idempotency = {
            let at = html.find("name=\"idempotency\" value=\"").unwrap() + 26;
            html[at..at + html[at..].find('"').unwrap()].to_owned()
        };
        let fields = |region: &'static str, title: &'static str, age_min: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("idempotency", idempotency.clone()),
                ("template", "campaign.announcement".to_owned()),
                ("param.title", title.to_owned()),
                ("param.body", "2027年度城乡居民医保开始缴费。".to_owned()),
                ("region_prefix", region.to_owned()),
                ("age_min", age_min.to_owned()),
                ("age_max", String::new()),
                ("not_before", String::new()),
            ]
        };
        let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
            let (app, cookie) = (app.clone(), cookie.clone());
            async move {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                fetch(&app, form(path, &cookie, &fields)).await
            }
        };

        // The preview: both languages, and who is reached.
        let (status, _, html) = post(
            "/console/campaigns/preview",
            fields("330106", "医保缴费提醒", ""),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("医保缴费提醒") && html.contains("2027年度城乡居民医保开始缴费。"));
        assert_eq!(data_after(&html, "data-count=\"recipients\""), "2");
        assert!(data_after(&html, "data-count=\"pushed\"").starts_with("1 人（1 台设备）"));
        assert_eq!(data_after(&html, "data-count=\"no_device\""), "1");
        assert!(!html.contains("formaction=\"/console/campaigns\" disabled"));
        // Another region: nobody.
        let (_, _, html) = post(
            "/console/campaigns/preview",
            fields("11", "医保缴费提醒", ""),
        )
        .await;
        assert_eq!(data_after(&html, "data-count=\"recipients\""), "0");

        // Bad input, each with its code; nothing is sent.
        for (fields, expected) in [
            (fields("3x", "医保缴费提醒", ""), "YW-4621"),
            (fields("330106", "", ""), "YW-4613"),
            (fields("330106", "医保缴费提醒", "old"), "YW-4622"),
        ] {
            let (status, _, html) = post("/console/campaigns/preview", fields.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{expected}");
            assert!(html.contains(expected), "{expected}: {html}");
            let (status, _, _) = post("/console/campaigns", fields).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let (status, _, _) = post(
            "/console/campaigns/preview",
            vec![
                ("csrf", "forged".to_owned()),
                ("template", "campaign.announcement".to_owned()),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Sent: to the delivery page. The same form again (a double click) is the same campaign.
        let (status, headers, _) =
            post("/console/campaigns", fields("330106", "医保缴费提醒", "")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = headers[header::LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with("/console/campaigns/ntf_"));
        let (_, headers, _) =
            post("/console/campaigns", fields("330106", "医保缴费提醒", "")).await;
        assert_eq!(headers[header::LOCATION].to_str().unwrap(), location);
        let (status, _, html) = fetch(&app, page(&location, &cookie)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(data_after(&html, "data-count=\"recipients\""), "2");
        let (status, _, _) = fetch(&app, page("/console/campaigns/ntf_nosuch", &cookie)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Sent once, in the console user's name.
        let (_, log) = call(
            &app,
            bearer(
                common::get("/v1/admin/audit?actor=console:ops&action=notification.sent"),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(log["entries"].as_array().unwrap().len(), 1, "{log}");

        // Scheduled: a time that is not one is refused; a later one waits, queued.
        let mut later = fields("330106", "明年的通知", "");
        later[1].1 = "another-campaign".to_owned();
        later[8].1 = "tomorrow morning".to_owned();
        let (status, _, html) = post("/console/campaigns", later.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("YW-4618"));
        later[8].1 = "2099-01-01T09:00".to_owned();
        let (status, headers, _) = post("/console/campaigns", later).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, _, html) = fetch(
            &app,
            page(headers[header::LOCATION].to_str().unwrap(), &cookie),
        )
        .await;
        assert_eq!(data_after(&html, "data-count=\"queued\""), "1");
        assert!(html.contains("http-equiv=\"refresh\""));

        // Window staff cannot send campaigns.
        let (win, win_csrf) = sign_in(&app, "win").await;
        let (status, _, _) = fetch(
            &app,
            form(
                "/console/campaigns",
                &win,
                &[("csrf", &win_csrf), ("template", "campaign.announcement")],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        test_db.cleanup().await;
    }
}
