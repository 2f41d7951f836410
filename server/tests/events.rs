//! Life events from departments through the HTTP API, on SQLite and
//! PostgreSQL: scopes, per-event results, idempotency by event id, and each
//! kind of bad event.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::{basic, bearer, call, code, enrolled_person, login, post};
use serde_json::{Value, json};
use yiwang_server::db::testing;
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "test-admin-token-0123456789";
const PARENT: &str = "330106198506120023";
/// Valid, never enrolled.
const STRANGER: &str = "440304200001010017";

async fn state(db: &yiwang_server::db::Db) -> AppState {
    let config = Config {
        admin_token: Some(ADMIN.into()),
        seed_demo_catalog: false,
        ..Config::default()
    };
    AppState::with_config(db.clone(), config).await.unwrap()
}

async fn network_id(app: &axum::Router, id_number: &str) -> String {
    let phone = enrolled_person(app, id_number).await;
    let tokens = login(app, &phone).await;
    let (_, me) = call(app, common::me(tokens["access_token"].as_str().unwrap())).await;
    me["network_id"].as_str().unwrap().to_owned()
}

fn birth(event_id: &str, subject: Value, date: &str) -> Value {
    json!({"event_id": event_id, "type": "birth_registered", "subject": subject,
        "occurred_at": 1_763_000_000, "data": {"child_birth_date": date, "child_sex": "female"}})
}

#[tokio::test]
async fn each_event_is_answered_on_its_own_and_stored_once() {
    for test_db in testing::all("events_batch").await {
        let app = app(state(&test_db.db).await);
        let parent = network_id(&app, PARENT).await;
        let (id, secret) = common::service_client(
            &app,
            ADMIN,
            &["events:birth_registered", "events:licence_expiring"],
        )
        .await;
        let send = |events: Value| {
            let app = app.clone();
            let (id, secret) = (id.clone(), secret.clone());
            async move {
                call(
                    &app,
                    basic(post("/v1/events", json!({"events": events})), &id, &secret),
                )
                .await
            }
        };

        let by_number = json!({"id_number": PARENT});
        let (status, body) = send(json!([
            birth("hc-1", by_number.clone(), "2026-11-01"),
            birth("hc-2", json!({"network_id": parent}), "2026-11-02"),
            {"event_id": "hc-3", "type": "licence_expiring", "subject": by_number,
             "occurred_at": 1_763_000_000,
             "data": {"licence_type": "11100000000013338W011", "expires_on": "2027-02-01"}},
        ]))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["accepted"], 3, "{body}");
        assert_eq!(
            body["results"][0],
            json!({"event_id": "hc-1", "status": "accepted"})
        );

        // The same events again: duplicates. The same id with other content: refused.
        let (_, body) = send(json!([
            birth("hc-1", by_number.clone(), "2026-11-01"),
            birth("hc-2", by_number.clone(), "2026-11-03"),
        ]))
        .await;
        assert_eq!(body["duplicates"], 1, "{body}");
        assert_eq!(body["results"][0]["status"], "duplicate");
        assert_eq!(body["results"][1]["code"], "YW-4806");
        // An id repeated within one batch: the first is stored, an exact
        // repeat is a duplicate, other content under it is refused.
        let (_, body) = send(json!([
            birth("hc-9", by_number.clone(), "2026-11-04"),
            birth("hc-9", by_number.clone(), "2026-11-04"),
            birth("hc-9", by_number.clone(), "2026-11-05"),
            birth("hc-2", by_number.clone(), "2026-11-03"),
        ]))
        .await;
        let statuses: Vec<(&str, Option<&str>)> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["status"].as_str().unwrap(), r["code"].as_str()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("accepted", None),
                ("duplicate", None),
                ("rejected", Some("YW-4806")),
                ("rejected", Some("YW-4806"))
            ],
            "{body}"
        );

        // Every kind of bad event, each answered with its code; the good one
        // among them is accepted.
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!("not an object"), "YW-4801", "events[0]"),
            (
                json!({"type": "birth_registered", "subject": by_number, "occurred_at": 1, "data": {}}),
                "YW-4801",
                "event_id",
            ),
            (
                json!({"event_id": "x", "type": "colour_changed", "subject": by_number, "occurred_at": 1, "data": {}}),
                "YW-4802",
                "type",
            ),
            (
                json!({"event_id": "x", "type": "marriage_registered", "subject": by_number, "occurred_at": 1, "data": {"registered_on": "2026-01-01"}}),
                "YW-4803",
                "type",
            ),
            (
                birth(
                    "x",
                    json!({"id_number": "330106198506120024"}),
                    "2026-11-01",
                ),
                "YW-4801",
                "subject.id_number",
            ),
            (
                birth(
                    "x",
                    json!({"id_number": PARENT, "network_id": parent}),
                    "2026-11-01",
                ),
                "YW-4801",
                "subject",
            ),
            (
                birth("x", json!({"id_number": STRANGER}), "2026-11-01"),
                "YW-4805",
                "subject",
            ),
            (
                birth("x", json!({"network_id": "nobody"}), "2026-11-01"),
                "YW-4805",
                "subject",
            ),
            (
                birth("x", by_number.clone(), "2026-02-30"),
                "YW-4804",
                "data.child_birth_date",
            ),
            (
                json!({"event_id": "x", "type": "birth_registered", "subject": by_number, "occurred_at": 1, "data": {}}),
                "YW-4804",
                "data.child_birth_date",
            ),
            (
                json!({"event_id": "x", "type": "birth_registered", "subject": by_number, "occurred_at": 1, "data": {"child_birth_date": "2026-11-01", "child_name": "小明"}}),
                "YW-4804",
                "data.child_name",
            ),
            (
                json!({"event_id": "x", "type": "birth_registered", "subject": by_number, "occurred_at": 1, "data": {"child_birth_date": "2026-11-01", "child_sex": "boy"}}),
                "YW-4804",
                "data.child_sex",
            ),
            (
                json!({"event_id": "x", "type": "birth_registered", "subject": by_number, "occurred_at": 4_000_000_000_i64, "data": {"child_birth_date": "2026-11-01"}}),
                "YW-4801",
                "occurred_at",
            ),
            (
                json!({"event_id": "x", "type": "birth_registered", "subject": by_number, "occurred_at": 1, "data": {"child_birth_date": "2026-11-01"}, "extra": 1}),
                "YW-4801",
                "extra",
            ),
        ];
        let mut events: Vec<Value> = cases.iter().map(|(e, _, _)| e.clone()).collect();
        events.push(birth("hc-4", by_number.clone(), "2026-11-04"));
        let (status, body) = send(Value::Array(events)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for (i, (_, expected, path)) in cases.iter().enumerate() {
            let result = &body["results"][i];
            assert_eq!(result["status"], "rejected", "case {i}: {result}");
            assert_eq!(result["code"], *expected, "case {i}: {result}");
            let message = result["message"].as_str().unwrap();
            assert!(message.contains(path), "case {i}: {message}");
            // The ID number is never echoed.
            assert!(!message.contains("3301061985"), "case {i}: {message}");
        }
        assert_eq!(body["accepted"], 1);
        assert_eq!(body["rejected"], cases.len());

        // Stored: the accepted events, by 网号, pending, no ID number anywhere.
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT event_id, network_id, \
             (SELECT COUNT(*) FROM pending_events q WHERE q.id = e.id), data \
             FROM events e ORDER BY event_id",
        )
        .fetch_all(test_db.db.pool())
        .await
        .unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(ids, ["hc-1", "hc-2", "hc-3", "hc-4", "hc-9"]);
        assert!(rows.iter().all(|r| r.1 == parent && r.2 == 1));
        assert!(rows.iter().all(|r| !r.3.contains(PARENT)));
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'event.received' AND subject = $1",
        )
        .bind(&parent)
        .fetch_one(test_db.db.pool())
        .await
        .unwrap();
        // One entry per request that stored events for the citizen (three):
        // the entries of one request would be identical.
        assert_eq!(audited, 3);
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn senders_need_an_event_scope_and_batches_have_limits() {
    for test_db in testing::all("events_auth").await {
        let app = app(state(&test_db.db).await);
        let parent = network_id(&app, PARENT).await;
        let one = json!({"events": [birth("a-1", json!({"network_id": parent}), "2026-11-01")]});

        let (status, body) = call(&app, post("/v1/events", one.clone())).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, Some("YW-4023"))
        );
        let (id, secret) = common::service_client(&app, ADMIN, &["notifications:send"]).await;
        let (status, body) = call(&app, basic(post("/v1/events", one.clone()), &id, &secret)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, Some("YW-4033"))
        );
        let (status, body) = call(
            &app,
            bearer(
                post(
                    "/v1/admin/service-clients",
                    json!({"name": "x", "scopes": ["events:colour_changed"]}),
                ),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4024"))
        );

        // The operator may post any type.
        let (status, body) = call(&app, bearer(post("/v1/events", one), ADMIN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["accepted"], 1);

        let (id, secret) = common::service_client(&app, ADMIN, &["events:birth_registered"]).await;
        let send = |body: Value| {
            let app = app.clone();
            let (id, secret) = (id.clone(), secret.clone());
            async move { call(&app, basic(post("/v1/events", body), &id, &secret)).await }
        };
        let (status, body) = send(json!({"events": []})).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4807"))
        );
        let (status, body) = send(json!({"event": []})).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4002"))
        );
        let make = |n: usize| -> Vec<Value> {
            (0..n)
                .map(|i| {
                    birth(
                        &format!("big-{i}"),
                        json!({"network_id": parent}),
                        "2026-11-01",
                    )
                })
                .collect()
        };
        let (status, body) = send(json!({"events": make(501)})).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4807"))
        );
        // A full batch is larger than the 64 KiB other routes take.
        let full = json!({"events": make(500)});
        assert!(full.to_string().len() > 64 * 1024);
        let (status, body) = send(full).await;
        assert_eq!(status, StatusCode::OK, "{}", body["code"]);
        assert_eq!(body["accepted"], 500);
        test_db.cleanup().await;
    }
}
