//! Push notifications end to end: the real `yiwang serve` dispatching to the
//! fake providers (`yiwang_e2e::fake_push`, on loopback, checking each
//! provider's auth as documented), citizens' apps registering and reading
//! their inbox over HTTP — and, on PostgreSQL, a 10,000-device campaign
//! shared by two server processes, one of them killed mid-dispatch.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yiwang_core::client::{ApiClient, ClientConfig, EnrolmentRequest};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_core::identity::IdNumber;
use yiwang_e2e::Server;
use yiwang_e2e::fake_push::{Behaviour, FakePush, hex_token};
use yiwang_server::issuer::now;

const ADMIN: &str = "e2e-admin-token-0123456789";

/// A configuration file for `yiwang serve` sending to `fakes`.
fn write_config(dir: &Path, fakes: &FakePush, extra: &str) -> String {
    let text = format!(
        "admin_token = \"{ADMIN}\"\n{extra}\n[push]\npoll_ms = 50\nlease_secs = 5\n\n{}",
        fakes.toml
    );
    let path = dir.join("yiwang.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

struct App {
    http: reqwest::Client,
    base: String,
    access_token: String,
    network_id: String,
}

/// A citizen enrolled and signed in on a phone.
async fn citizen(base: &str, id_number: &str) -> App {
    let client = ApiClient::new(ClientConfig::new(base)).unwrap();
    let store = SoftwareKeyStore::in_memory();
    let alias = KeyAlias::new("device").unwrap();
    let key = store.generate(&alias, Suite::Gm).unwrap();
    let enrolment = client
        .enrol(&EnrolmentRequest::new(
            "李四",
            IdNumber::parse(id_number).unwrap(),
            [7; 32],
            key,
        ))
        .await
        .unwrap();
    let challenge = client.challenge().await.unwrap();
    let presentation = enrolment
        .credential
        .present(
            &challenge.presentation_request().unwrap(),
            &store,
            &alias,
            now(),
        )
        .unwrap();
    let tokens = client
        .login(&presentation, &challenge.nonce, None)
        .await
        .unwrap();
    App {
        http: reqwest::Client::new(),
        base: base.to_owned(),
        access_token: tokens.access_token,
        network_id: enrolment.network_id,
    }
}

impl App {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.access_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn register(&self, provider: &str, token: &str) {
        let mut body = json!({"provider": provider, "token": token, "app_id": "cn.gov.yiwang",
            "quiet_hours": {"start": "00:00", "end": "00:00"}});
        if provider == "apns" {
            body["apns_environment"] = json!("production");
        }
        let (status, reply) = self
            .call(reqwest::Method::PUT, "/v1/me/push", Some(body))
            .await;
        assert_eq!(status, 200, "{reply}");
    }
}

/// The operator's side: the admin API.
async fn admin(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn send_licence_notice(base: &str, network_id: &str) -> String {
    let (status, body) = admin(
        base,
        reqwest::Method::POST,
        "/v1/notifications",
        Some(
            json!({"recipient": {"account": network_id}, "template": "licence.issued",
            "params": {"licence": "结婚证"}, "category": "service"}),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Polls the notification's status until `done` says so (at most `limit`).
async fn wait_status(
    base: &str,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = admin(
            base,
            reqwest::Method::GET,
            &format!("/v1/notifications/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "status did not settle: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Valid ID numbers (check characters computed): one per test citizen.
fn id_number(n: u32) -> String {
    let base = format!("11010519800101{n:03}");
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = base
        .bytes()
        .zip(weights)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{base}{check}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_delivers_and_the_app_reads_its_inbox() {
    let fakes = FakePush::start_all().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fakes, "");
    let server = Server::start(dir.path(), &["--config", &config], &[]);
    let base = server.base_url.clone();

    let providers = ["apns", "fcm", "huawei", "honor", "xiaomi", "oppo", "vivo"];
    let mut apps = Vec::new();
    for (n, provider) in providers.iter().enumerate() {
        let app = citizen(&base, &id_number(n as u32 + 1)).await;
        let token = match *provider {
            "apns" => hex_token(),
            other => format!("{other}-device-token-{n}"),
        };
        app.register(provider, &token).await;
        apps.push((provider, token, app));
    }
    for (provider, token, app) in &apps {
        let id = send_licence_notice(&base, &app.network_id).await;
        let status = wait_status(&base, &id, Duration::from_secs(20), |s| {
            s["status"] == "delivered"
        })
        .await;
        assert_eq!(status["pushes"]["delivered"], 1, "{provider}: {status}");
        // The provider got it once, for this device, with only the message id and a neutral title.
        let fake = fakes.fake(provider).unwrap();
        let got: Vec<_> = fake
            .received()
            .into_iter()
            .filter(|r| r.message_id.as_deref() == Some(id.as_str()))
            .collect();
        assert_eq!(got.len(), 1, "{provider}");
        assert_eq!(&got[0].token, token);
        assert_eq!(
            got[0].title.as_deref(),
            Some("您有一条新的服务消息"),
            "{provider}"
        );
        assert!(
            !got[0].body.to_string().contains("结婚证"),
            "{provider}: personal content left the server"
        );
        // The app opens it and reads the text from its inbox.
        let (status, page) = app.call(reqwest::Method::GET, "/v1/inbox", None).await;
        assert_eq!(status, 200);
        assert_eq!(page["messages"][0]["id"], id.as_str());
        assert!(
            page["messages"][0]["body"]
                .as_str()
                .unwrap()
                .contains("结婚证")
        );
        let (status, _) = app
            .call(
                reqwest::Method::POST,
                &format!("/v1/inbox/{id}/opened"),
                None,
            )
            .await;
        assert_eq!(status, 204);
        let (_, status) = admin(
            &base,
            reqwest::Method::GET,
            &format!("/v1/notifications/{id}"),
            None,
        )
        .await;
        assert_eq!(status["status"], "opened", "{provider}");
    }

    // A provider that answers 429 with Retry-After, then recovers: delivered on a later attempt.
    let (_, huawei_token, huawei_app) = &apps[2];
    fakes.huawei.fake.script(
        huawei_token,
        Behaviour::TooMany {
            retry_after_secs: 1,
        },
    );
    let id = send_licence_notice(&base, &huawei_app.network_id).await;
    let status = wait_status(&base, &id, Duration::from_secs(10), |s| {
        s["status"] == "sent"
    })
    .await;
    assert_eq!(status["pushes"]["queued"], 1);
    fakes.huawei.fake.script(huawei_token, Behaviour::Accept);
    let status = wait_status(&base, &id, Duration::from_secs(20), |s| {
        s["status"] == "delivered"
    })
    .await;
    assert_eq!(status["pushes"]["delivered"], 1);

    // A bad payload is not retried: failed with the provider's reason.
    let (_, xiaomi_token, xiaomi_app) = &apps[4];
    fakes
        .xiaomi
        .fake
        .script(xiaomi_token, Behaviour::BadPayload);
    let id = send_licence_notice(&base, &xiaomi_app.network_id).await;
    let status = wait_status(&base, &id, Duration::from_secs(20), |s| {
        s["status"] == "failed"
    })
    .await;
    assert!(
        status["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("xiaomi"),
        "{status}"
    );
    let (status, _) = xiaomi_app
        .call(reqwest::Method::GET, "/v1/me/push", None)
        .await;
    assert_eq!(status, 200, "a bad payload does not drop the token");

    // A dead token (FCM UNREGISTERED): failed, and the registration is removed.
    let (_, fcm_token, fcm_app) = &apps[1];
    fakes.fcm.fake.script(fcm_token, Behaviour::InvalidToken);
    let id = send_licence_notice(&base, &fcm_app.network_id).await;
    let status = wait_status(&base, &id, Duration::from_secs(20), |s| {
        s["status"] == "failed"
    })
    .await;
    assert!(
        status["failures"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("dead token"),
        "{status}"
    );
    let (status, body) = fcm_app
        .call(reqwest::Method::GET, "/v1/me/push", None)
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("YW-4044")));

    // APNs 410 with a timestamp from before the token was registered: the
    // registration is newer, so it stays; with a later timestamp it goes.
    let (_, apns_token, apns_app) = &apps[0];
    fakes.apns.fake.script(
        apns_token,
        Behaviour::Gone {
            timestamp_ms: 1_000,
        },
    );
    let id = send_licence_notice(&base, &apns_app.network_id).await;
    wait_status(&base, &id, Duration::from_secs(20), |s| {
        s["status"] == "failed"
    })
    .await;
    let (status, _) = apns_app
        .call(reqwest::Method::GET, "/v1/me/push", None)
        .await;
    assert_eq!(
        status, 200,
        "an older unregistration does not remove a newer token"
    );
    let later = fakes.clock.now_ms() + 60_000;
    fakes.apns.fake.script(
        apns_token,
        Behaviour::Gone {
            timestamp_ms: later,
        },
    );
    let id = send_licence_notice(&base, &apns_app.network_id).await;
    wait_status(&base, &id, Duration::from_secs(20), |s| {
        s["status"] == "failed"
    })
    .await;
    let (status, _) = apns_app
        .call(reqwest::Method::GET, "/v1/me/push", None)
        .await;
    assert_eq!(status, 404);

    // No token and no notification text in the server's log.
    let log = server.log().join("\n");
    for (_, token, _) in &apps {
        assert!(!log.contains(token.as_str()), "a push token in the log");
    }
    assert!(!log.contains("结婚证"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_shared_by_two_processes_survives_one_being_killed() {
    let Some(test_db) = yiwang_server::db::testing::postgres("push_two_processes").await else {
        return;
    };
    let url = test_db.url.clone();
    const DEVICES: usize = 10_000;
    let fakes = FakePush::start_all().await;
    // Slow providers, so that the kill lands while pushes are in flight.
    for provider in ["apns", "fcm", "huawei", "honor", "xiaomi", "oppo"] {
        fakes
            .fake(provider)
            .unwrap()
            .script_all(Behaviour::SlowAnswer { ms: 100 });
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fakes, "");
    let env = [
        ("YIWANG_DATABASE_URL", url.as_str()),
        ("YIWANG_PUSH_BATCH_SIZE", "200"),
    ];
    // vivo is left out: its 07:00-23:00 window would defer a campaign at night.
    let seeded = std::process::Command::new(yiwang_e2e::yiwang_binary())
        .args(["dev", "seed-devices", "--count", &DEVICES.to_string()])
        .args(["--providers", "apns,fcm,huawei,honor,xiaomi,oppo"])
        .env("YIWANG_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );

    let first = Server::start(dir.path(), &["--config", &config], &env);
    let second = Server::start(dir.path(), &["--config", &config], &env);
    let (status, sent) = admin(
        &first.base_url,
        reqwest::Method::POST,
        "/v1/notifications",
        Some(json!({"recipient": {"segment": {"region_prefix": "3301"}}, "template": "campaign.announcement",
            "params": {"title": "医保年度结算", "body": "请于月底前确认"}, "category": "campaign"})),
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["pushes"]["queued"], DEVICES);
    let id = sent["id"].as_str().unwrap().to_owned();

    // Kill the first process (SIGKILL: no shutdown) once pushes are flowing.
    let total = || -> usize {
        ["apns", "fcm", "huawei", "honor", "xiaomi", "oppo"]
            .iter()
            .map(|p| fakes.fake(p).unwrap().received().len())
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while total() < DEVICES / 10 {
        assert!(Instant::now() < deadline, "no pushes arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(first);
    let at_kill = total();
    assert!(
        at_kill < DEVICES,
        "the campaign finished before the kill ({at_kill})"
    );

    // The second process finishes, including the rows the first had claimed (on PostgreSQL they are
    // unlocked when its connection drops).
    let status = wait_status(&second.base_url, &id, Duration::from_secs(120), |s| {
        s["pushes"]["queued"] == 0
    })
    .await;
    assert_eq!(status["pushes"]["delivered"], DEVICES, "{status}");
    assert_eq!(status["status"], "delivered");

    // Every device got its push, each under one delivery id: a repeat after
    // the kill carries the same id, which the provider drops.
    let mut devices = std::collections::BTreeMap::new();
    let mut raw = 0;
    for provider in ["apns", "fcm", "huawei", "honor", "xiaomi", "oppo"] {
        let fake = fakes.fake(provider).unwrap();
        raw += fake.received().len();
        for (token, dedupe) in fake.unique() {
            devices
                .entry(token)
                .or_insert_with(std::collections::BTreeSet::new)
                .insert(dedupe);
        }
    }
    assert_eq!(devices.len(), DEVICES, "a device got nothing");
    assert!(
        devices.values().all(|ids| ids.len() == 1),
        "a device got two different pushes"
    );
    eprintln!(
        "campaign of {DEVICES}: {raw} requests reached the providers ({} repeats after the kill at {at_kill})",
        raw - DEVICES
    );
    drop(second);
    test_db.cleanup().await;
}
