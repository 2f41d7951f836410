//! Push notifications through the HTTP API, on SQLite and PostgreSQL:
//! device registration, sending (auth, scopes, validation, idempotency,
//! caps, opt-outs, segments), the inbox, templates, and the dispatcher's
//! decisions that need no provider (quiet hours, expiry, unregistered
//! devices). Sending to providers is tested against fake providers in
//! `tests/tests/push.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{basic, bearer, call, code, enrolled_person, get, login, post};
use serde_json::{Value, json};
use yiwang_server::db::testing;
use yiwang_server::push::dispatch::{DispatchSettings, Dispatcher};
use yiwang_server::push::providers::{Providers, ProvidersConfig};
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "test-admin-token-0123456789";
const APNS_TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

async fn state(db: &yiwang_server::db::Db, daily_cap: u32) -> AppState {
    let mut config = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    config.push.daily_cap = daily_cap;
    AppState::with_config(db.clone(), config).await.unwrap()
}

fn put(path: &str, body: Value) -> Request<Body> {
    Request::put(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A citizen signed in on a phone: (access token, 网号).
async fn citizen(app: &axum::Router, id_number: &str) -> (String, String) {
    let phone = enrolled_person(app, id_number).await;
    let tokens = login(app, &phone).await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let (_, me) = call(app, common::me(&token)).await;
    (token, me["network_id"].as_str().unwrap().to_owned())
}

async fn register_push(app: &axum::Router, token: &str, body: Value) -> (StatusCode, Value) {
    call(app, bearer(put("/v1/me/push", body), token)).await
}

fn apns(extra: Value) -> Value {
    let mut body = json!({"provider": "apns", "token": APNS_TOKEN, "apns_environment": "sandbox",
        "app_id": "cn.gov.yiwang", "time_zone": "Asia/Shanghai",
        "quiet_hours": {"start": "00:00", "end": "00:00"}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn licence_issued(network_id: &str) -> Value {
    json!({"recipient": {"account": network_id}, "template": "licence.issued",
        "params": {"licence": "结婚证"}, "category": "service"})
}

async fn send(app: &axum::Router, body: Value) -> (StatusCode, Value) {
    call(app, bearer(post("/v1/notifications", body), ADMIN)).await
}

async fn inbox(app: &axum::Router, token: &str, query: &str) -> Value {
    let (status, body) = call(app, bearer(get(&format!("/v1/inbox{query}")), token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn dispatcher(db: &yiwang_server::db::Db) -> Dispatcher {
    let providers = Providers::new(&ProvidersConfig::default()).unwrap();
    Dispatcher::new(db.clone(), Arc::new(providers), DispatchSettings::default()).unwrap()
}

#[tokio::test]
async fn registration_is_validated_and_a_token_moves_between_accounts() {
    for test_db in testing::all("push_registration").await {
        let app = app(state(&test_db.db, 3).await);
        let (alice, _) = citizen(&app, "11010519491231002X").await;
        let (bob, _) = citizen(&app, "110105198001010016").await;

        // Without a login: 401.
        let (status, body) = call(&app, put("/v1/me/push", apns(json!({})))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&body), Some("YW-4010"));

        for (bad, expected) in [
            (json!({"provider": "nokia"}), "YW-4601"),
            (json!({"token": "not-hex"}), "YW-4602"),
            (json!({"apns_environment": "staging"}), "YW-4603"),
            (json!({"app_id": "bad app id"}), "YW-4604"),
            (json!({"locale": "fr"}), "YW-4605"),
            (json!({"time_zone": "Mars/Olympus"}), "YW-4606"),
            (
                json!({"quiet_hours": {"start": "25:00", "end": "07:00"}}),
                "YW-4607",
            ),
            (json!({"opted_out": ["security"]}), "YW-4608"),
            (json!({"opted_out": ["spam"]}), "YW-4608"),
        ] {
            let (status, body) = register_push(&app, &alice, apns(bad.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
            assert_eq!(code(&body), Some(expected), "{bad}: {body}");
            // The error never echoes the token.
            assert!(!body.to_string().contains(&APNS_TOKEN[..16]));
        }
        let (status, body) = register_push(
            &app,
            &alice,
            json!({"provider": "fcm", "token": "fcm-token-1", "apns_environment": "sandbox", "app_id": "cn.gov.yiwang"}),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4603"))
        );

        // Defaults: zh-CN, Asia/Shanghai, quiet 22:00-07:00.
        let (status, body) = register_push(
            &app,
            &alice,
            json!({"provider": "huawei", "token": "huawei-token-0001", "app_id": "cn.gov.yiwang"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["locale"], "zh-CN");
        assert_eq!(body["time_zone"], "Asia/Shanghai");
        assert_eq!(
            body["quiet_hours"],
            json!({"start": "22:00", "end": "07:00"})
        );
        assert_eq!(body["token_hint"], "huaw");
        assert!(body.get("token").is_none(), "the token is not echoed");
        let first_registered = body["registered_ms"].as_i64().unwrap();

        // Updating preferences keeps the registration time; a new token renews it.
        let (_, body) = register_push(
            &app,
            &alice,
            json!({"provider": "huawei", "token": "huawei-token-0001", "app_id": "cn.gov.yiwang",
                "locale": "en-GB", "opted_out": ["campaign", "campaign"]}),
        )
        .await;
        assert_eq!(body["registered_ms"].as_i64().unwrap(), first_registered);
        assert_eq!(body["locale"], "en");
        assert_eq!(body["opted_out"], json!(["campaign"]));

        // Bob's phone registers the same token: it leaves Alice's device.
        let (status, _) = register_push(
            &app,
            &bob,
            json!({"provider": "huawei", "token": "huawei-token-0001", "app_id": "cn.gov.yiwang"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(&app, bearer(get("/v1/me/push"), &alice)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, Some("YW-4044"))
        );
        let (status, _) = call(&app, bearer(get("/v1/me/push"), &bob)).await;
        assert_eq!(status, StatusCode::OK);

        // Removing it.
        let delete = Request::delete("/v1/me/push").body(Body::empty()).unwrap();
        let (status, _) = call(&app, bearer(delete, &bob)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = call(&app, bearer(get("/v1/me/push"), &bob)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn senders_are_authenticated_and_scoped_and_bad_sends_refused() {
    for test_db in testing::all("push_send_auth").await {
        let app = app(state(&test_db.db, 3).await);
        let (_, network_id) = citizen(&app, "11010519491231002X").await;
        let body = licence_issued(&network_id);

        let (status, reply) = call(&app, post("/v1/notifications", body.clone())).await;
        assert_eq!(
            (status, code(&reply)),
            (StatusCode::UNAUTHORIZED, Some("YW-4023"))
        );
        let (status, reply) = call(
            &app,
            basic(post("/v1/notifications", body.clone()), "svc-x", "nope"),
        )
        .await;
        assert_eq!(
            (status, code(&reply)),
            (StatusCode::UNAUTHORIZED, Some("YW-4023"))
        );

        // A client allowed single sends may not run a campaign.
        let (id, secret) = common::service_client(&app, ADMIN, &["notifications:send"]).await;
        let (status, reply) = call(
            &app,
            basic(post("/v1/notifications", body.clone()), &id, &secret),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
        let campaign = json!({"recipient": {"segment": {}}, "template": "campaign.announcement",
            "params": {"title": "t", "body": "b"}, "category": "campaign"});
        let (status, reply) = call(
            &app,
            basic(post("/v1/notifications", campaign), &id, &secret),
        )
        .await;
        assert_eq!(
            (status, code(&reply)),
            (StatusCode::FORBIDDEN, Some("YW-4033"))
        );
        // Unknown scopes are refused at registration.
        let (status, reply) = call(
            &app,
            bearer(
                post(
                    "/v1/admin/service-clients",
                    json!({"name": "x", "scopes": ["everything"]}),
                ),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&reply)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4024"))
        );

        let mut cases = vec![];
        let mut no_category = body.clone();
        no_category.as_object_mut().unwrap().remove("category");
        cases.push((no_category, StatusCode::UNPROCESSABLE_ENTITY, "YW-4610"));
        let mut wrong_category = body.clone();
        wrong_category["category"] = json!("campaign");
        cases.push((wrong_category, StatusCode::UNPROCESSABLE_ENTITY, "YW-4611"));
        let mut missing_param = body.clone();
        missing_param["params"] = json!({});
        cases.push((missing_param, StatusCode::UNPROCESSABLE_ENTITY, "YW-4612"));
        let mut extra_param = body.clone();
        extra_param["params"]["name"] = json!("张三");
        cases.push((extra_param, StatusCode::UNPROCESSABLE_ENTITY, "YW-4612"));
        let mut control = body.clone();
        control["params"]["licence"] = json!("a\u{0}b");
        cases.push((control, StatusCode::UNPROCESSABLE_ENTITY, "YW-4613"));
        let mut ttl = body.clone();
        ttl["ttl_secs"] = json!(30 * 86_400);
        cases.push((ttl, StatusCode::UNPROCESSABLE_ENTITY, "YW-4615"));
        let mut template = body.clone();
        template["template"] = json!("no.such.template");
        cases.push((template, StatusCode::NOT_FOUND, "YW-4047"));
        let mut nobody = body.clone();
        nobody["recipient"] = json!({"account": "YW-no-such-account"});
        cases.push((nobody, StatusCode::NOT_FOUND, "YW-4046"));
        let segment_service = json!({"recipient": {"segment": {}}, "template": "licence.issued",
            "params": {"licence": "x"}, "category": "service"});
        cases.push((segment_service, StatusCode::UNPROCESSABLE_ENTITY, "YW-4620"));
        let bad_prefix = json!({"recipient": {"segment": {"region_prefix": "33a"}}, "template": "campaign.announcement",
            "params": {"title": "t", "body": "b"}, "category": "campaign"});
        cases.push((bad_prefix, StatusCode::UNPROCESSABLE_ENTITY, "YW-4621"));
        let bad_ages = json!({"recipient": {"segment": {"age_min": 70, "age_max": 60}}, "template": "campaign.announcement",
            "params": {"title": "t", "body": "b"}, "category": "campaign"});
        cases.push((bad_ages, StatusCode::UNPROCESSABLE_ENTITY, "YW-4622"));
        for (request, status, expected) in cases {
            let (got, reply) = send(&app, request.clone()).await;
            assert_eq!(
                (got, code(&reply)),
                (status, Some(expected)),
                "{request}: {reply}"
            );
        }
    }
}

#[tokio::test]
async fn a_send_reaches_the_inbox_in_the_devices_language_and_is_idempotent() {
    for test_db in testing::all("push_inbox").await {
        let app = app(state(&test_db.db, 3).await);
        let (token, network_id) = citizen(&app, "11010519491231002X").await;
        let (status, _) = register_push(&app, &token, apns(json!({"locale": "en"}))).await;
        assert_eq!(status, StatusCode::OK);

        let mut body = licence_issued(&network_id);
        body["idempotency_key"] = json!("licence-42");
        let (status, first) = send(&app, body.clone()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{first}");
        assert_eq!(first["status"], "queued");
        assert_eq!(first["recipients"], 1);
        assert_eq!(first["pushes"]["queued"], 1);
        let id = first["id"].as_str().unwrap();

        // The same key and body: the first answer, nothing sent twice.
        let (status, again) = send(&app, body.clone()).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(again["id"], id);
        assert_eq!(again["pushes"]["queued"], 1);
        // The same key, another body: refused.
        let mut other = body.clone();
        other["params"]["licence"] = json!("离婚证");
        let (status, reply) = send(&app, other).await;
        assert_eq!(
            (status, code(&reply)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4220"))
        );
        // Status by key.
        let (status, by_key) = call(
            &app,
            bearer(get("/v1/notifications?idempotency_key=licence-42"), ADMIN),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(by_key["id"], id);

        // The inbox: in English (the device's locale), or zh-CN when asked.
        let page = inbox(&app, &token, "").await;
        assert_eq!(page["unread"], 1);
        assert_eq!(page["messages"].as_array().unwrap().len(), 1);
        let message = &page["messages"][0];
        assert_eq!(message["id"], id);
        assert_eq!(message["title"], "Licence issued");
        assert_eq!(
            message["body"],
            "Your 结婚证 is in your wallet and can be used in applications."
        );
        let page = inbox(&app, &token, "?locale=zh-CN").await;
        assert_eq!(page["messages"][0]["title"], "电子证照已发放");
        assert!(
            page["messages"][0]["body"]
                .as_str()
                .unwrap()
                .contains("结婚证")
        );

        // Read, then opened: the receipt lands in the status.
        let (status, _) = call(
            &app,
            bearer(post(&format!("/v1/inbox/{id}/read"), json!({})), &token),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(inbox(&app, &token, "").await["unread"], 0);
        let (status, _) = call(
            &app,
            bearer(post(&format!("/v1/inbox/{id}/opened"), json!({})), &token),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, status_body) =
            call(&app, bearer(get(&format!("/v1/notifications/{id}")), ADMIN)).await;
        assert_eq!(status_body["status"], "opened");
        assert_eq!(status_body["inbox"]["opened"], 1);
        // Another citizen cannot mark it.
        let (other, _) = citizen(&app, "110105198001010016").await;
        let (status, reply) = call(
            &app,
            bearer(post(&format!("/v1/inbox/{id}/opened"), json!({})), &other),
        )
        .await;
        assert_eq!(
            (status, code(&reply)),
            (StatusCode::NOT_FOUND, Some("YW-4045"))
        );
        assert_eq!(inbox(&app, &other, "").await["messages"], json!([]));

        // A service client sees only its own sends.
        let (client, secret) = common::service_client(&app, ADMIN, &["notifications:send"]).await;
        let (status, reply) = call(
            &app,
            basic(get(&format!("/v1/notifications/{id}")), &client, &secret),
        )
        .await;
        assert_eq!(
            (status, code(&reply)),
            (StatusCode::NOT_FOUND, Some("YW-4043"))
        );
    }
}

#[tokio::test]
async fn paging_the_inbox() {
    let test_db = testing::sqlite().await;
    let app = app(state(&test_db.db, 100).await);
    let (token, network_id) = citizen(&app, "11010519491231002X").await;
    for n in 0..5 {
        let body = json!({"recipient": {"account": network_id}, "template": "licence.expiring",
            "params": {"licence": format!("证照{n}"), "date": "2027-01-01"}, "category": "reminder"});
        assert_eq!(send(&app, body).await.0, StatusCode::ACCEPTED);
    }
    let first = inbox(&app, &token, "?limit=2").await;
    assert_eq!(first["unread"], 5);
    let texts: Vec<String> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        texts[0].contains("证照4") && texts[1].contains("证照3"),
        "{texts:?}"
    );
    let before = first["next_before"].as_i64().unwrap();
    let second = inbox(&app, &token, &format!("?limit=2&before={before}")).await;
    assert!(
        second["messages"][0]["body"]
            .as_str()
            .unwrap()
            .contains("证照2")
    );
    let before = second["next_before"].as_i64().unwrap();
    let last = inbox(&app, &token, &format!("?limit=2&before={before}")).await;
    assert_eq!(last["messages"].as_array().unwrap().len(), 1);
    assert!(last["next_before"].is_null());
    let (status, reply) = call(&app, bearer(get("/v1/inbox?limit=1000"), &token)).await;
    assert_eq!(
        (status, code(&reply)),
        (StatusCode::BAD_REQUEST, Some("YW-4006"))
    );
}

#[tokio::test]
async fn the_daily_cap_and_opt_outs_keep_pushes_but_not_messages() {
    for test_db in testing::all("push_caps").await {
        let app = app(state(&test_db.db, 2).await);
        let (token, network_id) = citizen(&app, "11010519491231002X").await;
        register_push(&app, &token, apns(json!({"opted_out": ["reminder"]}))).await;

        // Service messages: two pushed, the third capped (still in the inbox).
        let mut states = vec![];
        for _ in 0..3 {
            let (status, body) = send(&app, licence_issued(&network_id)).await;
            assert_eq!(status, StatusCode::ACCEPTED);
            states.push((
                body["pushes"]["queued"].as_i64().unwrap(),
                body["inbox"]["capped"].as_i64().unwrap(),
            ));
        }
        assert_eq!(states, vec![(1, 0), (1, 0), (0, 1)]);
        // Security is never capped; reminders are turned off on this device.
        let security = json!({"recipient": {"account": network_id}, "template": "security.new_device",
            "params": {"device": "Pixel"}, "category": "security"});
        let (_, body) = send(&app, security).await;
        assert_eq!(body["pushes"]["queued"], 1);
        let reminder = json!({"recipient": {"account": network_id}, "template": "licence.expiring",
            "params": {"licence": "驾驶证", "date": "2027-01-01"}, "category": "reminder"});
        let (_, body) = send(&app, reminder).await;
        assert_eq!(body["pushes"]["queued"], 0);
        assert_eq!(body["inbox"]["opted_out"], 1);
        assert_eq!(body["status"], "created");
        assert_eq!(inbox(&app, &token, "").await["unread"], 5);
    }
}

#[tokio::test]
async fn campaigns_reach_their_segment() {
    for test_db in testing::all("push_segments").await {
        let app = app(state(&test_db.db, 3).await);
        // Born 1949 in Beijing (110105); born 2008 in Hangzhou (330106); 1990 in Hangzhou.
        let (old, _) = citizen(&app, "11010519491231002X").await;
        let (young, _) = citizen(&app, "330106200801010011").await;
        let (middle, _) = citizen(&app, "330106199001010018").await;
        for (token, device) in [(&old, "01"), (&young, "02")] {
            let (status, _) =
                register_push(&app, token, apns(json!({"token": device.repeat(32)}))).await;
            assert_eq!(status, StatusCode::OK);
        }
        let campaign = |segment: Value| {
            json!({"recipient": {"segment": segment}, "template": "campaign.announcement",
                "params": {"title": "敬老卡", "body": "年满60周岁可申领敬老卡"}, "category": "campaign"})
        };
        let (status, body) = send(&app, campaign(json!({"age_min": 60}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["recipients"], 1);
        assert_eq!(body["pushes"]["queued"], 1);
        let (_, body) = send(&app, campaign(json!({"region_prefix": "3301"}))).await;
        assert_eq!(body["recipients"], 2);
        assert_eq!(body["pushes"]["queued"], 1, "one of them has no device");
        assert_eq!(body["inbox"]["no_device"], 1);
        let (_, body) = send(
            &app,
            campaign(json!({"region_prefix": "3301", "age_max": 20})),
        )
        .await;
        assert_eq!(body["recipients"], 1);
        let (_, body) = send(&app, campaign(json!({}))).await;
        assert_eq!(body["recipients"], 3);
        assert_eq!(inbox(&app, &middle, "").await["unread"], 2);
        assert_eq!(inbox(&app, &young, "").await["unread"], 3);
        // The young citizen has had three campaign pushes today: the cap.
        let (_, body) = send(
            &app,
            campaign(json!({"region_prefix": "330106", "age_max": 20})),
        )
        .await;
        assert_eq!(body["inbox"]["capped"], 1, "{body}");
    }
}

#[tokio::test]
async fn templates_are_versioned_and_old_messages_keep_their_version() {
    for test_db in testing::all("push_templates").await {
        let app = app(state(&test_db.db, 3).await);
        let (token, network_id) = citizen(&app, "11010519491231002X").await;
        let template = |title: &str| {
            json!({"template_id": "hall.moved", "category": "reminder",
                "zh": {"title": title, "body": "{hall}已搬迁至{address}"},
                "en": {"title": "Service hall moved", "body": "{hall} moved to {address}"}})
        };
        let (status, body) = call(
            &app,
            bearer(
                post("/v1/admin/notification-templates", template("大厅搬迁")),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["version"], 1);
        assert_eq!(body["placeholders"], json!(["address", "hall"]));
        let params = json!({"hall": "西湖区政务服务中心", "address": "文三路1号"});
        let message = json!({"recipient": {"account": network_id}, "template": "hall.moved",
            "params": params, "category": "reminder"});
        assert_eq!(send(&app, message.clone()).await.0, StatusCode::ACCEPTED);
        let (_, body) = call(
            &app,
            bearer(
                post(
                    "/v1/admin/notification-templates",
                    template("服务大厅搬迁通知"),
                ),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(body["version"], 2);
        assert_eq!(send(&app, message).await.0, StatusCode::ACCEPTED);
        let page = inbox(&app, &token, "").await;
        assert_eq!(page["messages"][0]["title"], "服务大厅搬迁通知");
        assert_eq!(page["messages"][1]["title"], "大厅搬迁");
        assert_eq!(
            page["messages"][1]["body"],
            "西湖区政务服务中心已搬迁至文三路1号"
        );

        for (bad, expected) in [
            (
                json!({"template_id": "hall.moved", "category": "service", "zh": {"title": "a", "body": "b"}, "en": {"title": "a", "body": "b"}}),
                "YW-4611",
            ),
            (
                json!({"template_id": "Bad Id", "category": "service", "zh": {"title": "a", "body": "b"}, "en": {"title": "a", "body": "b"}}),
                "YW-4609",
            ),
            (
                json!({"template_id": "x.y", "category": "spam", "zh": {"title": "a", "body": "b"}, "en": {"title": "a", "body": "b"}}),
                "YW-4610",
            ),
            (
                json!({"template_id": "x.y", "category": "service", "zh": {"title": "", "body": "b"}, "en": {"title": "a", "body": "b"}}),
                "YW-4609",
            ),
        ] {
            let (status, body) = call(
                &app,
                bearer(post("/v1/admin/notification-templates", bad), ADMIN),
            )
            .await;
            assert_eq!(
                (status, code(&body)),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(expected))
            );
        }
        let (status, _) = call(
            &app,
            post("/v1/admin/notification-templates", template("x")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn the_dispatcher_defers_quiet_hours_and_drops_what_cannot_be_sent() {
    for test_db in testing::all("push_dispatch_rules").await {
        let app = app(state(&test_db.db, 10).await);
        let dispatcher = dispatcher(&test_db.db);
        let (token, network_id) = citizen(&app, "11010519491231002X").await;
        // Quiet all day except one minute: 00:00 → 23:59.
        register_push(
            &app,
            &token,
            apns(json!({"quiet_hours": {"start": "00:00", "end": "23:59"}})),
        )
        .await;
        let now_local =
            jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap());
        // Skip the run in the one minute that is not quiet.
        if now_local.hour() == 23 && now_local.minute() == 59 {
            eprintln!("skipped: the clock is in the test's only non-quiet minute");
            continue;
        }
        let (_, service) = send(&app, licence_issued(&network_id)).await;
        let security = json!({"recipient": {"account": network_id}, "template": "security.new_device",
            "params": {"device": "Pixel"}, "category": "security"});
        let (_, security) = send(&app, security).await;

        let report = dispatcher.run_once().await.unwrap();
        assert_eq!(report.claimed, 2);
        // The service message waits for the end of quiet hours …
        assert_eq!(report.deferred, 1);
        // … the security notice goes now (and fails: no APNs configured here).
        assert_eq!(report.failed, 1);
        let (_, body) = call(
            &app,
            bearer(
                get(&format!(
                    "/v1/notifications/{}",
                    service["id"].as_str().unwrap()
                )),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(body["status"], "queued");
        let (_, body) = call(
            &app,
            bearer(
                get(&format!(
                    "/v1/notifications/{}",
                    security["id"].as_str().unwrap()
                )),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(body["status"], "failed");
        assert_eq!(body["failures"][0]["reason"], "provider not configured");
        // Deferred rows are not due again until the quiet hours end.
        assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);

        // The device signs out of push: what is queued for it is suppressed.
        register_push(&app, &token, apns(json!({}))).await;
        let (_, service2) = send(&app, licence_issued(&network_id)).await;
        let delete = Request::delete("/v1/me/push").body(Body::empty()).unwrap();
        call(&app, bearer(delete, &token)).await;
        let report = dispatcher.run_once().await.unwrap();
        assert_eq!((report.claimed, report.suppressed), (1, 1));
        let (_, body) = call(
            &app,
            bearer(
                get(&format!(
                    "/v1/notifications/{}",
                    service2["id"].as_str().unwrap()
                )),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(body["pushes"]["suppressed"], 1);
        assert_eq!(body["failures"][0]["reason"], "device unregistered");
    }
}

#[tokio::test]
async fn a_signed_out_device_gets_no_more_pushes() {
    let test_db = testing::sqlite().await;
    let app = app(state(&test_db.db, 3).await);
    let phone = enrolled_person(&app, "11010519491231002X").await;
    let first = login(&app, &phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = login(&app, &phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, registered) = register_push(&app, &first, apns(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = call(&app, common::me(&second)).await;
    let network_id = me["network_id"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&app, licence_issued(&network_id)).await.1["pushes"]["queued"],
        1
    );

    // From the second phone, sign the first one out.
    let device = registered["device_id"].as_str().unwrap();
    let delete = Request::delete(format!("/v1/me/devices/{device}"))
        .body(Body::empty())
        .unwrap();
    let (status, _) = call(&app, bearer(delete, &second)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = send(&app, licence_issued(&network_id)).await;
    assert_eq!(body["pushes"]["queued"], 0);
    assert_eq!(body["inbox"]["no_device"], 1);
}
