//! The dispatcher in process against the fake providers, batch by batch: a
//! provider that keeps failing is paused as a whole while the others go on,
//! and vivo's 07:00-23:00 window defers campaigns but not service messages.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use yiwang_e2e::fake_push::{Behaviour, FakePush};
use yiwang_server::db::Db;
use yiwang_server::push::dispatch::{DispatchSettings, Dispatcher};
use yiwang_server::push::providers::{ProviderKind, Providers};
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "dispatch-admin-token-0123456789";

/// The app on a loopback port over `db`; returns its base URL.
async fn serve(db: &Db) -> String {
    let config = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    let state = AppState::with_config(db.clone(), config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    base
}

async fn admin(base: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success());
    response.json().await.unwrap()
}

async fn campaign(base: &str) -> String {
    let body = admin(
        base,
        reqwest::Method::POST,
        "/v1/notifications",
        Some(
            json!({"recipient": {"segment": {}}, "template": "campaign.announcement",
            "params": {"title": "t", "body": "b"}, "category": "campaign"}),
        ),
    )
    .await;
    body["id"].as_str().unwrap().to_owned()
}

async fn status(base: &str, id: &str) -> Value {
    admin(
        base,
        reqwest::Method::GET,
        &format!("/v1/notifications/{id}"),
        None,
    )
    .await
}

fn settings() -> DispatchSettings {
    DispatchSettings {
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(1),
        breaker_threshold: 5,
        batch_size: 1000,
        ..DispatchSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_is_paused_without_holding_up_the_others() {
    let test_db = yiwang_server::db::testing::sqlite().await;
    let db = test_db.db.clone();
    let fakes = FakePush::start_all().await;
    let base = serve(&db).await;
    yiwang_server::dev::seed_devices(
        &db,
        30,
        &[ProviderKind::Huawei, ProviderKind::Fcm],
        "330106",
    )
    .await
    .unwrap();
    let providers = Arc::new(Providers::new(&fakes.config()).unwrap());
    let dispatcher = Dispatcher::new(db.clone(), providers, settings()).unwrap();
    fakes.huawei.fake.script_all(Behaviour::ServerError);

    let first = campaign(&base).await;
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!(
        (report.claimed, report.delivered, report.retried),
        (30, 15, 15)
    );
    // Huawei's rows are due again at once (1 ms backoff), but Huawei is
    // paused: nothing is claimed for it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);
    let huawei_attempts = fakes.huawei.fake.send_attempts();

    // A new campaign: FCM's half goes out while Huawei stays paused.
    let second = campaign(&base).await;
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.delivered), (15, 15));
    assert_eq!(
        fakes.huawei.fake.send_attempts(),
        huawei_attempts,
        "no sends to a paused provider"
    );
    assert_eq!(fakes.fcm.fake.received().len(), 30);
    for id in [&first, &second] {
        let body = status(&base, id).await;
        assert_eq!(body["pushes"]["delivered"], 15, "{body}");
        assert_eq!(body["pushes"]["queued"], 15, "{body}");
    }
    assert_eq!(status(&base, &first).await["status"], "sent");
}

/// An `Etc/GMT…` zone where it is now between 02:00 and 03:00.
fn zone_at_two_in_the_morning() -> String {
    let hour = i64::from(
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .hour(),
    );
    let mut offset = (2 - hour).rem_euclid(24);
    if offset > 14 {
        offset -= 24;
    }
    // POSIX-style names: Etc/GMT-5 is UTC+5.
    match offset {
        0 => "Etc/GMT".to_owned(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vivo_campaigns_wait_for_daytime_but_service_messages_do_not() {
    let test_db = yiwang_server::db::testing::sqlite().await;
    let db = test_db.db.clone();
    let fakes = FakePush::start_all().await;
    let base = serve(&db).await;
    yiwang_server::dev::seed_devices(&db, 1, &[ProviderKind::Vivo], "330106")
        .await
        .unwrap();
    // The seeded device is somewhere it is 2 a.m. (quiet hours are off for seeds).
    sqlx::query("UPDATE push_devices SET time_zone = $1")
        .bind(zone_at_two_in_the_morning())
        .execute(db.pool())
        .await
        .unwrap();
    let providers = Arc::new(Providers::new(&fakes.config()).unwrap());
    let dispatcher = Dispatcher::new(db.clone(), providers, settings()).unwrap();

    let id = campaign(&base).await;
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.deferred), (1, 1));
    assert!(fakes.vivo.fake.received().is_empty());
    assert_eq!(status(&base, &id).await["status"], "queued");

    let service = admin(
        &base,
        reqwest::Method::POST,
        "/v1/notifications",
        Some(
            json!({"recipient": {"account": "seed-000000000"}, "template": "licence.issued",
            "params": {"licence": "驾驶证"}, "category": "service"}),
        ),
    )
    .await;
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.delivered), (1, 1));
    let received = fakes.vivo.fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message_id.as_deref(), service["id"].as_str());
    // vivo's system-message class for service notices.
    assert_eq!(received[0].category.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_wait_for_not_before_and_give_up_at_their_ttl() {
    let test_db = yiwang_server::db::testing::sqlite().await;
    let db = test_db.db.clone();
    let fakes = FakePush::start_all().await;
    let base = serve(&db).await;
    yiwang_server::dev::seed_devices(&db, 1, &[ProviderKind::Fcm], "330106")
        .await
        .unwrap();
    let providers = Arc::new(Providers::new(&fakes.config()).unwrap());
    let dispatcher = Dispatcher::new(db.clone(), providers, settings()).unwrap();
    let send = |extra: Value| {
        let mut body = json!({"recipient": {"account": "seed-000000000"}, "template": "licence.expiring",
            "params": {"licence": "驾驶证", "date": "2027-01-01"}, "category": "reminder"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        admin(
            &base,
            reqwest::Method::POST,
            "/v1/notifications",
            Some(body),
        )
    };

    // Not before an hour from now: nothing is due yet.
    let in_an_hour = jiff::Timestamp::now().as_second() + 3600;
    let later = send(json!({"not_before": in_an_hour})).await;
    assert_eq!(dispatcher.run_once().await.unwrap().claimed, 0);
    assert_eq!(
        status(&base, later["id"].as_str().unwrap()).await["status"],
        "queued"
    );

    // The provider asks to come back in two hours; the push lives a minute: failed, not retried.
    fakes.fcm.fake.script_all(Behaviour::TooMany {
        retry_after_secs: 7200,
    });
    let short = send(json!({"ttl_secs": 60})).await;
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.failed), (1, 1));
    let body = status(&base, short["id"].as_str().unwrap()).await;
    assert_eq!(body["status"], "failed");
    assert!(
        body["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("gave up: fcm 429"),
        "{body}"
    );
    assert_eq!(fakes.fcm.fake.send_attempts(), 1);
}
