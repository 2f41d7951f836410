//! Recommendation rule sets through the HTTP API, on SQLite and PostgreSQL:
//! the demo rules, publishing a new version, and sets refused whole with the
//! path of their error.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{bearer, call, code, get, post};
use serde_json::{Value, json};
use yiwang_server::db::testing;
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "test-admin-token-0123456789";
const BIRTH: &str = "11100000000013338W3110000000001";

async fn state(db: &yiwang_server::db::Db) -> AppState {
    let config = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    AppState::with_config(db.clone(), config).await.unwrap()
}

fn put_raw(path: &str, body: String) -> Request<Body> {
    Request::put(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

async fn current(app: &axum::Router) -> (String, Value) {
    let response = tower::ServiceExt::oneshot(app.clone(), bearer(get("/v1/admin/rules"), ADMIN))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let version = response.headers()["x-rule-set-version"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (version, serde_json::from_slice(&bytes).unwrap())
}

fn rule(id: &str) -> Value {
    json!({"id": id, "matter": BIRTH, "on": {"event": "birth_registered"},
        "action": "offer", "cooldown_days": 30,
        "reason": {"zh": "可办理出生一件事", "en": "Apply for the newborn services"}})
}

#[tokio::test]
async fn rule_sets_are_published_whole_or_not_at_all() {
    for test_db in testing::all("rules_publish").await {
        let app = app(state(&test_db.db).await);
        // The demo rules are in force from the first start.
        let (version, document) = current(&app).await;
        assert_eq!(version, "1");
        assert!(document["rules"].as_array().unwrap().len() >= 8);

        let (status, body) = call(
            &app,
            put_raw("/v1/admin/rules", json!({"rules": [rule("a")]}).to_string()),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let publish = |document: Value| {
            let app = app.clone();
            async move {
                call(
                    &app,
                    bearer(put_raw("/v1/admin/rules", document.to_string()), ADMIN),
                )
                .await
            }
        };
        let (status, body) = publish(json!({"rules": [rule("a"), rule("b")]})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"version": 2, "rules": 2}));
        assert_eq!(current(&app).await.0, "2");

        // Each refused set names where it is wrong, and the set in force stays.
        let mut bad_field = rule("c");
        bad_field["on"]["where"] = json!([{"field": "child_name", "equals": "小明"}]);
        let mut unknown_matter = rule("d");
        unknown_matter["matter"] = json!("11100000000013338W3119999999999");
        let mut cyclic_a = rule("e");
        cyclic_a["after"] = json!(["f"]);
        let mut cyclic_b = rule("f");
        cyclic_b["after"] = json!(["e"]);
        let cases = [
            (
                json!({"rules": [rule("a"), bad_field]}),
                "rules[1].on.where[0].field",
            ),
            (json!({"rules": [unknown_matter]}), "rules[0].matter"),
            (
                json!({"rules": [cyclic_a, cyclic_b]}),
                "rules[1].after: a cycle: e → f → e",
            ),
            (json!({"rules": [rule("a"), rule("a")]}), "rules[1].id"),
            (json!({"rule": []}), ": unknown field `rule`"),
        ];
        for (document, path) in cases {
            let (status, body) = publish(document).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(code(&body), Some("YW-4720"));
            let message = body["message"].as_str().unwrap();
            assert!(message.starts_with(path), "{message} (expected {path})");
        }
        let (status, body) = call(
            &app,
            bearer(put_raw("/v1/admin/rules", "{not json".into()), ADMIN),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4720"))
        );
        assert_eq!(current(&app).await.0, "2");

        // A retired matter can no longer be named.
        let (status, _) = call(
            &app,
            bearer(
                post(&format!("/v1/admin/matters/{BIRTH}/retire"), json!({})),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = publish(json!({"rules": [rule("a")]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("rules[0].matter")
        );
        test_db.cleanup().await;
    }
}
