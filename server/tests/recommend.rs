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

const PARENT: &str = "330106198506120023";

fn event(id: &str, event_type: &str, subject: Value, data: Value) -> Value {
    json!({"event_id": id, "type": event_type, "subject": subject,
        "occurred_at": 1_763_000_000, "data": data})
}

fn new_matcher(state: &AppState) -> yiwang_server::recommend::worker::Matcher {
    yiwang_server::recommend::worker::Matcher::new(
        state.db().clone(),
        state.config().push.clone(),
        state.push_wake(),
    )
}

fn put_json(path: &str, body: Value) -> Request<Body> {
    put_raw(path, body.to_string())
}

#[tokio::test]
async fn events_become_recommendations_in_the_feed_and_the_inbox() {
    for test_db in testing::all("rules_feed").await {
        let state = state(&test_db.db).await;
        let app = app(state.clone());
        let phone = common::enrolled_person(&app, PARENT).await;
        let tokens = common::login(&app, &phone).await;
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        let (id, secret) = common::service_client(
            &app,
            ADMIN,
            &["events:birth_registered", "events:marriage_registered"],
        )
        .await;
        let post_events = |events: Value| {
            let app = app.clone();
            let (id, secret) = (id.clone(), secret.clone());
            async move {
                let (status, body) = call(
                    &app,
                    common::basic(post("/v1/events", json!({"events": events})), &id, &secret),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body
            }
        };
        let feed = |token: String| {
            let app = app.clone();
            async move {
                let (status, body) = call(&app, bearer(get("/v1/recommendations"), &token)).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body["recommendations"].as_array().unwrap().clone()
            }
        };
        let matcher = new_matcher(&state);
        let subject = json!({"id_number": PARENT});
        let birth = |id: &str| {
            event(
                id,
                "birth_registered",
                subject.clone(),
                json!({"child_birth_date": "2026-11-01"}),
            )
        };

        // A birth, without consent to profile matching: the offers the law
        // requires (出生一件事, and the subsidy granted 免申即领).
        post_events(json!([birth("b-1")])).await;
        let report = matcher.run_once().await.unwrap();
        assert_eq!((report.events, report.recommendations), (1, 2));
        let items = feed(token.clone()).await;
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0]["matter_code"], "11100000000013338W3110000000001");
        assert_eq!(items[0]["action"], "offer");
        assert_eq!(
            items[0]["reason"]["zh"],
            "您的孩子出生登记已完成，可办理出生一件事"
        );
        assert_eq!(items[0]["matter_name"]["zh"], "新生儿出生一件事");
        assert_eq!(items[1]["action"], "grant");
        assert_eq!(items[1]["delivery"], "automatic");
        // The inbox has both in one notice (one push, not two), in the
        // citizen's language, the offer first.
        let (_, inbox) = call(&app, bearer(get("/v1/inbox"), &token)).await;
        let messages: Vec<(&str, &str)> = inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["title"].as_str().unwrap(), m["body"].as_str().unwrap()))
            .collect();
        assert_eq!(
            messages,
            [(
                "新生儿出生一件事等2项服务",
                "为您推荐：新生儿出生一件事；已为您办理：育儿补贴发放"
            )]
        );
        // Both recommendations point at it.
        let shared: i64 =
            sqlx::query_scalar("SELECT COUNT(DISTINCT notification_id) FROM recommendations")
                .fetch_one(test_db.db.pool())
                .await
                .unwrap();
        assert_eq!(shared, 1);

        // Nothing pending; a repeated event is a duplicate and offers nothing.
        assert_eq!(matcher.run_once().await.unwrap().events, 0);
        let body = post_events(json!([birth("b-1")])).await;
        assert_eq!(body["duplicates"], 1);
        assert_eq!(matcher.run_once().await.unwrap().events, 0);

        // Consent given: a second birth offers the maternity allowance (a
        // profile rule); the others are in their cooldown.
        let (status, settings) = call(
            &app,
            bearer(
                put_json(
                    "/v1/me/recommendation-settings",
                    json!({"profile_consent": true, "opted_out": []}),
                ),
                &token,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{settings}");
        assert!(settings["consent_changed_ms"].as_i64().is_some());
        post_events(json!([birth("b-2")])).await;
        let report = matcher.run_once().await.unwrap();
        assert_eq!(report.recommendations, 1);
        let items = feed(token.clone()).await;
        assert_eq!(items.len(), 3);
        assert!(
            items
                .iter()
                .any(|i| i["matter_code"] == "11100000MB1713453K3110000000003")
        );

        // Opted out of marriage matters: a marriage offers nothing.
        let (status, _) = call(
            &app,
            bearer(
                put_json(
                    "/v1/me/recommendation-settings",
                    json!({"profile_consent": true, "opted_out": ["marriage"]}),
                ),
                &token,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        post_events(json!([event(
            "m-1",
            "marriage_registered",
            subject.clone(),
            json!({"registered_on": "2026-11-11"})
        )]))
        .await;
        assert_eq!(
            matcher.run_once().await.unwrap(),
            yiwang_server::recommend::worker::MatchReport {
                events: 1,
                recommendations: 0
            }
        );

        // Dismiss and snooze take items out of the feed.
        let first = items[0]["id"].as_i64().unwrap();
        let second = items[1]["id"].as_i64().unwrap();
        let (status, _) = call(
            &app,
            bearer(
                post(&format!("/v1/recommendations/{first}/dismiss"), json!({})),
                &token,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = call(
            &app,
            bearer(
                post(
                    &format!("/v1/recommendations/{second}/snooze"),
                    json!({"days": 7}),
                ),
                &token,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(feed(token.clone()).await.len(), 1);
        let (status, body) = call(
            &app,
            bearer(
                post(
                    &format!("/v1/recommendations/{second}/snooze"),
                    json!({"days": 91}),
                ),
                &token,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4721"))
        );
        for path in [
            "/v1/recommendations/999999/dismiss",
            "/v1/recommendations/abc/dismiss",
        ] {
            let (status, body) = call(&app, bearer(post(path, json!({})), &token)).await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::NOT_FOUND, Some("YW-4049"))
            );
        }
        // Another citizen cannot touch this feed.
        let other = common::enrolled_person(&app, "11010519491231002X").await;
        let other_token = common::login(&app, &other).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, _) = call(
            &app,
            bearer(
                post(&format!("/v1/recommendations/{second}/dismiss"), json!({})),
                &other_token,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(feed(other_token).await.is_empty());

        // Settings: bad input, and consent withdrawn is recorded.
        let (status, body) = call(
            &app,
            bearer(
                put_json(
                    "/v1/me/recommendation-settings",
                    json!({"profile_consent": false, "opted_out": ["colour"]}),
                ),
                &token,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4722"))
        );
        let (status, _) = call(
            &app,
            bearer(
                put_json(
                    "/v1/me/recommendation-settings",
                    json!({"profile_consent": false, "opted_out": []}),
                ),
                &token,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, settings) = call(&app, bearer(get("/v1/me/recommendation-settings"), &token)).await;
        assert_eq!(settings["profile_consent"], false);
        let consents: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM audit_log WHERE action LIKE 'consent.%' ORDER BY id",
        )
        .fetch_all(test_db.db.pool())
        .await
        .unwrap();
        assert_eq!(
            consents,
            [
                "consent.profile_matching.given",
                "consent.profile_matching.withdrawn"
            ]
        );
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn two_matchers_offer_each_event_once() {
    for test_db in testing::all("rules_two_matchers").await {
        let state = state(&test_db.db).await;
        let app = app(state.clone());
        yiwang_server::dev::seed_devices(
            state.db(),
            300,
            &[yiwang_server::push::providers::ProviderKind::Fcm],
            "330106",
        )
        .await
        .unwrap();
        let events: Vec<Value> = (0..300)
            .map(|i| {
                event(
                    &format!("e-{i}"),
                    "birth_registered",
                    json!({"network_id": format!("seed-{i:09}")}),
                    json!({"child_birth_date": "2026-11-01"}),
                )
            })
            .collect();
        let (status, body) = call(
            &app,
            bearer(post("/v1/events", json!({"events": events})), ADMIN),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["accepted"], 300);
        let (a, b) = (new_matcher(&state), new_matcher(&state));
        let mut events = 0;
        loop {
            let (x, y) = tokio::join!(a.run_once(), b.run_once());
            let (x, y) = (x.unwrap(), y.unwrap());
            if x.events + y.events == 0 {
                break;
            }
            events += x.events + y.events;
        }
        assert_eq!(events, 300, "each event matched once");
        let count = |sql: &'static str| {
            let db = test_db.db.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(db.pool())
                    .await
                    .unwrap()
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM recommendations").await, 600);
        assert_eq!(
            count("SELECT COUNT(DISTINCT network_id || rule_id) FROM recommendations").await,
            600
        );
        // Each citizen's two recommendations are one notification with one
        // push queued.
        assert_eq!(count("SELECT COUNT(*) FROM notifications").await, 300);
        assert_eq!(count("SELECT COUNT(*) FROM push_outbox").await, 300);
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn the_daily_scan_offers_each_milestone_and_expiry_threshold_once() {
    for test_db in testing::all("rules_schedule").await {
        let state = state(&test_db.db).await;
        let app = app(state.clone());
        let rules = json!({"rules": [
            {"id": "senior", "matter": "11100000MB0143028R3210000000001",
             "on": {"age": {"years": 60, "days_before": 61}}, "action": "offer",
             "reason": {"zh": "您即将年满60周岁", "en": "You turn 60 soon"}},
            {"id": "renewal", "matter": "11100000000013338W3120000000002",
             "on": {"licence_expiry": {"licence_type": "11100000000013338W011", "days_before": [90, 30, 7]}},
             "action": "offer", "reason": {"zh": "驾驶证即将到期", "en": "Your licence expires soon"}}
        ]});
        let (status, body) = call(
            &app,
            bearer(put_raw("/v1/admin/rules", rules.to_string()), ADMIN),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // 140 citizens born on 1 January of 1940..2009 (twice each).
        yiwang_server::dev::seed_devices(
            state.db(),
            140,
            &[yiwang_server::push::providers::ProviderKind::Fcm],
            "330106",
        )
        .await
        .unwrap();
        let matcher = new_matcher(&state);
        // 2026-11-05: those born 1967-01-01 turn 60 within 61 days. Without
        // consent (a profile rule) nothing is offered.
        let report = matcher.scan_day(20261105).await.unwrap();
        assert!(report.ran);
        assert_eq!((report.candidates, report.recommendations), (2, 0));
        sqlx::query(
            "INSERT INTO recommendation_settings (network_id, profile_consent, opted_out, updated_ms) \
             SELECT network_id, 1, ',', 0 FROM accounts",
        )
        .execute(state.db().pool())
        .await
        .unwrap();
        // The day's run is done: the next try does nothing.
        assert!(!matcher.scan_day(20261105).await.unwrap().ran);
        // Two processes on one day: one runs it.
        let other = new_matcher(&state);
        let (a, b) = tokio::join!(matcher.scan_day(20261106), other.scan_day(20261106));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a.ran ^ b.ran, "{a:?} {b:?}");
        assert_eq!(a.recommendations + b.recommendations, 2);
        // Each milestone once: scanning again offers nothing new.
        assert_eq!(matcher.scan(20261107).await.unwrap().recommendations, 0);
        // A run whose process died is taken over after its lease.
        sqlx::query(
            "INSERT INTO schedule_runs (job, day, owner, lease_until_ms) VALUES ('daily', 20261108, 'dead', 0)",
        )
        .execute(state.db().pool())
        .await
        .unwrap();
        assert!(matcher.scan_day(20261108).await.unwrap().ran);

        // A driving licence valid until 2026-12-01: 30 days before, then 7.
        let (status, body) = call(
            &app,
            bearer(
                post(
                    "/v1/events",
                    json!({"events": [event("lic-1", "licence_issued", json!({"network_id": "seed-000000003"}),
                        json!({"licence_type": "11100000000013338W011", "valid_until": "2026-12-01"}))]}),
                ),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(body["accepted"], 1, "{status} {body}");
        matcher.run_once().await.unwrap();
        let expiry = |day: i64| {
            let matcher = matcher.clone();
            async move { matcher.scan(day).await.unwrap().recommendations }
        };
        assert_eq!(expiry(20260801).await, 0, "122 days left: no threshold yet");
        assert_eq!(
            expiry(20261105).await,
            1,
            "26 days left: the 30-day reminder"
        );
        assert_eq!(expiry(20261106).await, 0, "once");
        assert_eq!(expiry(20261128).await, 1, "3 days left: the 7-day reminder");
        assert_eq!(expiry(20261202).await, 0, "expired");
        let sources: Vec<String> = sqlx::query_scalar(
            "SELECT source FROM recommendations WHERE rule_id = 'renewal' ORDER BY id",
        )
        .fetch_all(state.db().pool())
        .await
        .unwrap();
        assert_eq!(sources.len(), 2);
        assert!(
            sources[0].ends_with(":30") && sources[1].ends_with(":7"),
            "{sources:?}"
        );
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn the_daily_cap_counts_the_pushes_of_the_day_before_a_batch() {
    for test_db in testing::all("rules_cap").await {
        let mut config = Config {
            admin_token: Some(ADMIN.into()),
            ..Config::default()
        };
        config.push.daily_cap = 1;
        let state = AppState::with_config(test_db.db.clone(), config)
            .await
            .unwrap();
        let app = app(state.clone());
        yiwang_server::dev::seed_devices(
            state.db(),
            10,
            &[yiwang_server::push::providers::ProviderKind::Fcm],
            "330106",
        )
        .await
        .unwrap();
        // Each citizen had one push today already: the cap of 1 is used.
        for i in 0..10 {
            let (status, body) = call(
                &app,
                bearer(
                    post(
                        "/v1/notifications",
                        json!({"recipient": {"account": format!("seed-{i:09}")},
                            "template": "licence.issued", "params": {"licence": "结婚证"},
                            "category": "service"}),
                    ),
                    ADMIN,
                ),
            )
            .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
        let events: Vec<Value> = (0..10)
            .map(|i| {
                event(
                    &format!("c-{i}"),
                    "birth_registered",
                    json!({"network_id": format!("seed-{i:09}")}),
                    json!({"child_birth_date": "2026-11-01"}),
                )
            })
            .collect();
        let (_, body) = call(
            &app,
            bearer(post("/v1/events", json!({"events": events})), ADMIN),
        )
        .await;
        assert_eq!(body["accepted"], 10);
        let report = new_matcher(&state).run_once().await.unwrap();
        assert_eq!(report.recommendations, 20);
        // The batch's notice (both recommendations in one) is over the cap
        // of 1: it reaches the inbox, not the phone.
        let states: Vec<(String, i64)> =
            sqlx::query_as("SELECT push, COUNT(*) FROM inbox GROUP BY push ORDER BY push")
                .fetch_all(state.db().pool())
                .await
                .unwrap();
        assert_eq!(
            states,
            [("capped".to_owned(), 10), ("queued".to_owned(), 10)]
        );
        let outbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM push_outbox")
            .fetch_one(state.db().pool())
            .await
            .unwrap();
        assert_eq!(outbox, 10);
        test_db.cleanup().await;
    }
}
