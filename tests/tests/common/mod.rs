//! What the journeys share: a department's system (curl with HTTP Basic),
//! waiting for a push to reach a phone, signing in with the 网证, and
//! running a journey against a real `yiwang serve` with fake push providers.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Value, json};
use yiwang_core::client::{ApiClient, InboxMessage, InboxQuery, Tokens};
use yiwang_core::credential::HolderCredential;
use yiwang_core::crypto::{KeyAlias, SoftwareKeyStore};
use yiwang_e2e::fake_push::FakePush;
use yiwang_e2e::{Server, curl};
use yiwang_server::issuer::now;

pub fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A department's system: a service client registered by the operator.
pub struct Department {
    base: String,
    basic: String,
}

impl Department {
    pub fn register(base: &str, admin: &str, name: &str, scopes: &[&str]) -> Self {
        let body = json!({"name": name, "scopes": scopes}).to_string();
        let (status, text) = curl(&[
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {admin}"),
            "-H",
            "Content-Type: application/json",
            "-d",
            &body,
            &format!("{base}/v1/admin/service-clients"),
        ]);
        assert_eq!(status, 201, "{text}");
        let client = json_of(&text);
        Department {
            base: base.to_owned(),
            basic: format!(
                "{}:{}",
                client["client_id"].as_str().unwrap(),
                client["client_secret"].as_str().unwrap()
            ),
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, text) = curl(&[
            "-X",
            "POST",
            "-u",
            &self.basic,
            "-H",
            "Content-Type: application/json",
            "-d",
            &body.to_string(),
            &format!("{}{path}", self.base),
        ]);
        (status, json_of(&text))
    }
}

/// Waits until the fake Huawei endpoint has delivered a push to the phone
/// registered with `push_token` for an inbox message that `wanted` accepts;
/// that message.
pub async fn pushed(
    fakes: &FakePush,
    push_token: &str,
    client: &ApiClient,
    access_token: &str,
    wanted: impl Fn(&InboxMessage) -> bool,
) -> InboxMessage {
    for _ in 0..300 {
        let delivered: BTreeSet<String> = fakes
            .huawei
            .fake
            .delivered()
            .into_iter()
            .filter(|r| r.token == push_token)
            .filter_map(|r| r.message_id)
            .collect();
        let inbox = client
            .inbox(access_token, &InboxQuery::default())
            .await
            .unwrap();
        if let Some(m) = inbox
            .messages
            .into_iter()
            .find(|m| wanted(m) && delivered.contains(&m.id))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the expected push did not reach the phone within 30 s");
}

pub async fn sign_in(
    client: &ApiClient,
    credential: &HolderCredential,
    store: &SoftwareKeyStore,
    alias: &KeyAlias,
    device: &str,
) -> Tokens {
    let challenge = client.challenge().await.unwrap();
    let presentation = credential
        .present(
            &challenge.presentation_request().unwrap(),
            store,
            alias,
            now(),
        )
        .unwrap();
    client
        .login(&presentation, &challenge.nonce, Some(device))
        .await
        .unwrap()
}

/// A journey: the server, the fake providers, a working directory.
pub type Journey =
    for<'a> fn(&'a Server, &'a FakePush, &'a Path) -> Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Runs `journey` against a `yiwang serve` (on `database_url`, or SQLite)
/// whose admin token is `admin` and whose push providers are fakes.
pub fn run(database_url: Option<&str>, admin: &str, journey: Journey) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fakes = runtime.block_on(FakePush::start_all());
    let workdir = tempfile::tempdir().unwrap();
    let text = format!(
        "admin_token = \"{admin}\"\n\n[push]\npoll_ms = 50\nlease_secs = 5\n\n{}",
        fakes.toml
    );
    let config = workdir.path().join("yiwang.toml");
    std::fs::write(&config, text).unwrap();
    let config = config.display().to_string();
    let env: Vec<(&str, &str)> = database_url
        .map(|url| ("YIWANG_DATABASE_URL", url))
        .into_iter()
        .collect();
    let server = Server::start(workdir.path(), &["--config", &config], &env);
    runtime.block_on(journey(&server, &fakes, workdir.path()));
    assert!(server.terminate(Duration::from_secs(20)).unwrap().success());
}
