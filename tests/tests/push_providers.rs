//! The push provider clients (`yiwang_server::push::providers`) against the
//! fake providers of `yiwang_e2e::fake_push`: auth as each vendor documents
//! it, the category fields, every error class and its [`Outcome`], token reuse
//! and renewal on an injected clock.

use std::time::Duration;

use yiwang_e2e::fake_push::{
    ApnsKey, Behaviour, Fake, FakeApns, FakeFcm, FakeHonor, FakeHuawei, FakeOppo, FakePush,
    FakeVivo, FakeXiaomi, TestClock, hex_token,
};
use yiwang_server::push::providers::{
    ApnsEnvironment, Category, Outcome, Priority, ProviderKind, Providers, ProvidersConfig,
    PushRequest,
};

const TITLE: &str = "您有一条新的政务消息";
const BODY: &str = "请打开一网通办查看";

fn request(token: &str, category: Category) -> PushRequest {
    PushRequest {
        delivery_id: format!("dlv-{}", &token[..12]),
        message_id: "msg-20261122-0001".to_owned(),
        token: token.to_owned(),
        apns_environment: None,
        app_id: "cn.gov.yiwang".to_owned(),
        category,
        priority: Priority::High,
        ttl_secs: 3600,
        collapse_key: None,
        title: TITLE.to_owned(),
        body: BODY.to_owned(),
    }
}

fn providers(config: ProvidersConfig, clock: &TestClock) -> Providers {
    Providers::with_clock(&config, clock.clock()).expect("valid configuration")
}

fn dead(outcome: &Outcome) -> (&Option<i64>, &str) {
    match outcome {
        Outcome::DeadToken {
            unregistered_at_ms,
            reason,
        } => (unregistered_at_ms, reason),
        other => panic!("expected DeadToken, got {other:?}"),
    }
}

/// The request's Debug shows neither the token nor the text.
fn assert_debug_masked(request: &PushRequest) {
    let debug = format!("{request:?}");
    assert!(!debug.contains(&request.token), "token in Debug: {debug}");
    assert!(
        debug.contains(&format!("\"{}…\"", &request.token[..4])),
        "{debug}"
    );
    assert!(
        !debug.contains(TITLE) && !debug.contains(BODY),
        "text in Debug: {debug}"
    );
}

/// One fake of each kind with its configured client, for the error classes.
struct All {
    push: FakePush,
    providers: Providers,
}

impl All {
    async fn start(request_timeout_ms: Option<u64>) -> Self {
        let push = FakePush::start_all().await;
        let mut config = push.config();
        if let Some(ms) = request_timeout_ms {
            macro_rules! timeout {
                ($($p:ident),*) => { $( if let Some(c) = config.$p.as_mut() { c.request_timeout_ms = ms; } )* };
            }
            timeout!(apns, fcm, huawei, honor, xiaomi, oppo, vivo);
        }
        let providers = providers(config, &push.clock);
        Self { push, providers }
    }

    fn fake(&self, kind: ProviderKind) -> &Fake {
        self.push.fake(kind.as_str()).expect("a fake per provider")
    }

    /// Scripts `behaviour` for a fresh token at every provider and sends one
    /// push through each; answers (kind, outcome, token).
    async fn each(&self, behaviour: Behaviour) -> Vec<(ProviderKind, Outcome)> {
        let mut out = Vec::new();
        for kind in ProviderKind::ALL {
            let token = hex_token();
            self.fake(kind).script(&token, behaviour.clone());
            let outcome = self
                .providers
                .send(kind, &request(&token, Category::Service))
                .await;
            out.push((kind, outcome));
        }
        out
    }
}

// ------------------------------------------------------------ happy paths --

#[tokio::test]
async fn apns_happy_path() {
    let clock = TestClock::new();
    let fake = FakeApns::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            apns: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    let token = hex_token();
    let mut push = request(&token, Category::Security);
    push.collapse_key = Some("inbox".to_owned());
    assert_eq!(
        providers.send(ProviderKind::Apns, &push).await,
        Outcome::Delivered
    );

    let received = fake.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.token, token);
    assert_eq!(r.message_id.as_deref(), Some("msg-20261122-0001"));
    assert_eq!(r.category.as_deref(), Some("time-sensitive"));
    assert_eq!(r.title.as_deref(), Some(TITLE));
    assert_eq!(r.fields["apns-topic"], "cn.gov.yiwang");
    assert_eq!(r.fields["apns-push-type"], "alert");
    assert_eq!(r.fields["apns-priority"], "10");
    assert_eq!(r.fields["apns-collapse-id"], "inbox");
    assert_eq!(r.fields["environment"], "production");
    let expiration: i64 = r.fields["apns-expiration"].parse().expect("a number");
    assert!(
        (expiration - (clock.now_ms() / 1000 + 3600)).abs() < 5,
        "{expiration}"
    );
    assert_eq!(r.body["delivery_id"], push.delivery_id);
    assert_eq!(fake.token_requests(), 1);
    assert_eq!(fake.auth_rejections(), 0);
    assert_debug_masked(&push);

    // The same delivery again: the same apns-id (APNs itself does not dedupe).
    assert_eq!(
        providers.send(ProviderKind::Apns, &push).await,
        Outcome::Delivered
    );
    let received = fake.received();
    assert_eq!(received[1].dedupe_id, received[0].dedupe_id);
    assert_eq!(fake.unique().len(), 1);
    assert_eq!(fake.delivered().len(), 2);

    // Campaigns are passive, sandbox tokens go to the sandbox.
    let mut campaign = request(&hex_token(), Category::Campaign);
    campaign.apns_environment = Some(ApnsEnvironment::Sandbox);
    campaign.priority = Priority::Normal;
    assert_eq!(
        providers.send(ProviderKind::Apns, &campaign).await,
        Outcome::Delivered
    );
    let r = &fake.received()[2];
    assert_eq!(r.category.as_deref(), Some("passive"));
    assert_eq!(r.fields["environment"], "sandbox");
    assert_eq!(r.fields["apns-priority"], "5");
    assert_eq!(fake.token_requests(), 1, "one provider token for all");
}

#[tokio::test]
async fn fcm_happy_path() {
    let clock = TestClock::new();
    let fake = FakeFcm::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            fcm: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    let token = hex_token();
    let push = request(&token, Category::Reminder);
    assert_eq!(
        providers.send(ProviderKind::Fcm, &push).await,
        Outcome::Delivered
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.token, token);
    assert_eq!(r.message_id.as_deref(), Some("msg-20261122-0001"));
    assert_eq!(r.category.as_deref(), Some("reminder"));
    assert_eq!(r.fields["android.priority"], "HIGH");
    assert_eq!(r.fields["android.ttl"], "3600s");
    assert_eq!(r.dedupe_id, push.delivery_id);
    assert_eq!(fake.token_requests(), 1);
    assert_eq!(fake.auth_rejections(), 0);
    assert_debug_masked(&push);
}

#[tokio::test]
async fn huawei_happy_path() {
    let clock = TestClock::new();
    let fake = FakeHuawei::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            huawei: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    let token = hex_token();
    let push = request(&token, Category::ApplicationStatus);
    assert_eq!(
        providers.send(ProviderKind::Huawei, &push).await,
        Outcome::Delivered
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.token, token);
    assert_eq!(r.message_id.as_deref(), Some("msg-20261122-0001"));
    assert_eq!(r.category.as_deref(), Some("EXPRESS"));
    assert_eq!(r.fields["importance"], "NORMAL");
    assert_eq!(r.fields["ttl"], "3600s");
    assert_eq!(r.dedupe_id, push.delivery_id);
    assert_eq!(fake.token_requests(), 1);

    let campaign = request(&hex_token(), Category::Campaign);
    assert_eq!(
        providers.send(ProviderKind::Huawei, &campaign).await,
        Outcome::Delivered
    );
    let r = &fake.received()[1];
    assert_eq!(r.category.as_deref(), Some("MARKETING"));
    assert_eq!(r.fields["importance"], "LOW");
    assert_debug_masked(&push);
}

#[tokio::test]
async fn honor_happy_path() {
    let clock = TestClock::new();
    let fake = FakeHonor::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            honor: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    let token = hex_token();
    let push = request(&token, Category::Service);
    assert_eq!(
        providers.send(ProviderKind::Honor, &push).await,
        Outcome::Delivered
    );
    let campaign = request(&hex_token(), Category::Campaign);
    assert_eq!(
        providers.send(ProviderKind::Honor, &campaign).await,
        Outcome::Delivered
    );
    let received = fake.received();
    assert_eq!(received.len(), 2);
    let r = &received[0];
    assert_eq!(r.token, token);
    assert_eq!(r.message_id.as_deref(), Some("msg-20261122-0001"));
    assert_eq!(r.category.as_deref(), Some("NORMAL"));
    assert_eq!(r.dedupe_id, push.delivery_id);
    assert_eq!(received[1].category.as_deref(), Some("LOW"));
    assert_eq!(fake.token_requests(), 1);
    assert_debug_masked(&push);
}

#[tokio::test]
async fn xiaomi_happy_path() {
    let clock = TestClock::new();
    let fake = FakeXiaomi::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            xiaomi: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    let token = hex_token();
    let push = request(&token, Category::Service);
    assert_eq!(
        providers.send(ProviderKind::Xiaomi, &push).await,
        Outcome::Delivered
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.token, token);
    assert_eq!(r.message_id.as_deref(), Some("msg-20261122-0001"));
    assert_eq!(r.category.as_deref(), Some("yw_service"));
    assert_eq!(r.fields["time_to_live"], "3600000");
    assert_eq!(r.dedupe_id.len(), 8);
    assert_debug_masked(&push);

    // The same delivery twice: Xiaomi's client shows one per jobkey.
    assert_eq!(
        providers.send(ProviderKind::Xiaomi, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.received().len(), 2);
    assert_eq!(fake.delivered().len(), 1);
}

#[tokio::test]
async fn oppo_happy_path_and_dedupe() {
    let clock = TestClock::new();
    let fake = FakeOppo::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            oppo: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    let token = hex_token();
    let push = request(&token, Category::Reminder);
    assert_eq!(
        providers.send(ProviderKind::Oppo, &push).await,
        Outcome::Delivered
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.token, token);
    assert_eq!(r.message_id.as_deref(), Some("msg-20261122-0001"));
    assert_eq!(r.category.as_deref(), Some("TODO"));
    assert_eq!(r.fields["channel_id"], "yw_reminder");
    assert_eq!(r.fields["notify_level"], "2");
    assert_eq!(r.dedupe_id, push.delivery_id);
    assert_eq!(fake.token_requests(), 1);
    assert_debug_masked(&push);

    // A retry of the same delivery: accepted, shown once (app_message_id).
    assert_eq!(
        providers.send(ProviderKind::Oppo, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.received().len(), 2);
    assert_eq!(fake.unique().len(), 1);
    assert_eq!(fake.delivered().len(), 1);
    assert_eq!(fake.token_requests(), 1, "the auth token is reused");
}

#[tokio::test]
async fn vivo_happy_path() {
    let clock = TestClock::new();
    let fake = FakeVivo::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            vivo: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    let token = hex_token();
    let push = request(&token, Category::Security);
    assert_eq!(
        providers.send(ProviderKind::Vivo, &push).await,
        Outcome::Delivered
    );
    let campaign = request(&hex_token(), Category::Campaign);
    assert_eq!(
        providers.send(ProviderKind::Vivo, &campaign).await,
        Outcome::Delivered
    );
    let received = fake.received();
    assert_eq!(received.len(), 2);
    let r = &received[0];
    assert_eq!(r.token, token);
    assert_eq!(r.message_id.as_deref(), Some("msg-20261122-0001"));
    assert_eq!(r.category.as_deref(), Some("1"));
    assert_eq!(r.fields["vivo.category"], "ACCOUNT");
    assert_eq!(r.dedupe_id, push.delivery_id);
    assert_eq!(received[1].category.as_deref(), Some("0"));
    assert_eq!(received[1].fields["vivo.category"], "MARKETING");
    assert_eq!(fake.token_requests(), 1);
    assert_debug_masked(&push);
}

// ---------------------------------------------------------- error classes --

#[tokio::test]
async fn gone_tokens_are_dead() {
    let all = All::start(None).await;
    let results = all
        .each(Behaviour::Gone {
            timestamp_ms: 1_763_800_000_123,
        })
        .await;
    let expected = [
        (
            ProviderKind::Apns,
            Some(1_763_800_000_123),
            "apns 410 Unregistered",
        ),
        (ProviderKind::Fcm, None, "fcm 404 UNREGISTERED"),
        (ProviderKind::Huawei, None, "huawei 400 80300007"),
        (ProviderKind::Honor, None, "honor 400 80300007"),
        (ProviderKind::Xiaomi, None, "xiaomi 200 0 bad_regids"),
        (ProviderKind::Oppo, None, "oppo 200 10000"),
        (ProviderKind::Vivo, None, "vivo 200 10302"),
    ];
    for ((kind, outcome), (k, at, reason)) in results.iter().zip(expected) {
        assert_eq!(*kind, k);
        let (unregistered_at, text) = dead(outcome);
        assert_eq!(*unregistered_at, at, "{kind:?}");
        assert_eq!(text, reason, "{kind:?}");
    }
}

#[tokio::test]
async fn invalid_tokens_are_dead() {
    let all = All::start(None).await;
    let results = all.each(Behaviour::InvalidToken).await;
    let expected = [
        "apns 400 BadDeviceToken",
        "fcm 400 INVALID_ARGUMENT message.token",
        "huawei 400 80300007",
        "honor 400 80300007",
        "xiaomi 200 20301",
        "oppo 200 10000",
        "vivo 200 10302",
    ];
    for ((kind, outcome), reason) in results.iter().zip(expected) {
        let (at, text) = dead(outcome);
        assert_eq!(*at, None, "{kind:?}");
        assert_eq!(text, reason, "{kind:?}");
    }
    // Nothing was recorded as delivered.
    for kind in ProviderKind::ALL {
        assert!(all.fake(kind).received().is_empty(), "{kind:?}");
    }
}

#[tokio::test]
async fn too_many_requests_retry_after() {
    let all = All::start(None).await;
    let results = all
        .each(Behaviour::TooMany {
            retry_after_secs: 7,
        })
        .await;
    let expected = [
        "apns 429 TooManyRequests",
        "fcm 429 QUOTA_EXCEEDED",
        "huawei 503 -",
        "honor 429 429",
        "xiaomi 429",
        "oppo 429",
        "vivo 429",
    ];
    for ((kind, outcome), reason) in results.iter().zip(expected) {
        assert_eq!(
            *outcome,
            Outcome::Retry {
                after: Some(Duration::from_secs(7)),
                reason: reason.to_owned()
            },
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn server_errors_retry() {
    let all = All::start(None).await;
    let results = all.each(Behaviour::ServerError).await;
    let expected = [
        "apns 500 InternalServerError",
        "fcm 500 INTERNAL",
        "huawei 500 81000001",
        "honor 500 81000001",
        "xiaomi 500",
        "oppo 500",
        "vivo 500",
    ];
    for ((kind, outcome), reason) in results.iter().zip(expected) {
        assert_eq!(
            *outcome,
            Outcome::Retry {
                after: None,
                reason: reason.to_owned()
            },
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn slow_answers_time_out_and_retry() {
    let all = All::start(Some(500)).await;
    // Tokens first (their requests are not slow), then slow pushes.
    for kind in ProviderKind::ALL {
        let push = request(&hex_token(), Category::Service);
        assert_eq!(
            all.providers.send(kind, &push).await,
            Outcome::Delivered,
            "{kind:?}"
        );
    }
    let results = all.each(Behaviour::Slow { ms: 2000 }).await;
    for (kind, outcome) in results {
        assert_eq!(
            outcome,
            Outcome::Retry {
                after: None,
                reason: format!("{} timeout", kind.as_str())
            },
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn bad_payloads_are_permanent() {
    let all = All::start(None).await;
    let results = all.each(Behaviour::BadPayload).await;
    let expected = [
        "apns 400 PayloadEmpty",
        "fcm 400 INVALID_ARGUMENT",
        "huawei 400 80100003",
        "honor 400 80100003",
        "xiaomi 200 10017",
        "oppo 200 41",
        "vivo 200 10085",
    ];
    for ((kind, outcome), reason) in results.iter().zip(expected) {
        assert_eq!(
            *outcome,
            Outcome::Permanent {
                reason: reason.to_owned()
            },
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn oversized_payloads_are_refused_before_sending() {
    let all = All::start(None).await;
    let mut big = request(&hex_token(), Category::Service);
    big.body = "政".repeat(1500); // 4500 bytes of UTF-8
    for (kind, reason) in [
        (ProviderKind::Fcm, "fcm payload over 4096 bytes"),
        (ProviderKind::Apns, "apns payload over 4096 bytes"),
        (ProviderKind::Huawei, "huawei payload over 4096 bytes"),
    ] {
        assert_eq!(
            all.providers.send(kind, &big).await,
            Outcome::Permanent {
                reason: reason.to_owned()
            }
        );
        assert_eq!(all.fake(kind).send_attempts(), 0, "{kind:?} sent it");
    }
    // Vendors with text limits refuse before sending too.
    for (kind, reason) in [
        (
            ProviderKind::Xiaomi,
            "xiaomi description 128 characters or longer",
        ),
        (
            ProviderKind::Oppo,
            "oppo title over 50 or content over 200 characters",
        ),
        (
            ProviderKind::Vivo,
            "vivo title over 40 or content over 100 units",
        ),
    ] {
        assert_eq!(
            all.providers.send(kind, &big).await,
            Outcome::Permanent {
                reason: reason.to_owned()
            }
        );
        assert_eq!(all.fake(kind).send_attempts(), 0, "{kind:?} sent it");
    }
}

#[tokio::test]
async fn unconfigured_provider_is_permanent() {
    let clock = TestClock::new();
    let fake = FakeFcm::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            fcm: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    assert_eq!(providers.configured(), vec![ProviderKind::Fcm]);
    assert!(!providers.is_configured(ProviderKind::Apns));
    assert_eq!(
        providers
            .send(
                ProviderKind::Apns,
                &request(&hex_token(), Category::Service)
            )
            .await,
        Outcome::Permanent {
            reason: "provider not configured".to_owned()
        }
    );
    assert_eq!(providers.limits(ProviderKind::Fcm), (64, 5000));
}

// ------------------------------------------------------- tokens and keys --

#[tokio::test]
async fn apns_jwt_is_reused_then_renewed_after_the_renewal_age() {
    let clock = TestClock::new();
    let fake = FakeApns::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            apns: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    );
    let token = hex_token();
    for _ in 0..3 {
        assert_eq!(
            providers
                .send(ProviderKind::Apns, &request(&token, Category::Service))
                .await,
            Outcome::Delivered
        );
    }
    assert_eq!(fake.token_requests(), 1);
    clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        providers
            .send(ProviderKind::Apns, &request(&token, Category::Service))
            .await,
        Outcome::Delivered
    );
    assert_eq!(fake.token_requests(), 1, "still within 50 minutes");
    clock.advance(Duration::from_secs(21 * 60));
    assert_eq!(
        providers
            .send(ProviderKind::Apns, &request(&token, Category::Service))
            .await,
        Outcome::Delivered
    );
    assert_eq!(fake.token_requests(), 2, "renewed after 51 minutes");
    assert_eq!(fake.auth_rejections(), 0);
    assert_eq!(fake.received().len(), 5);
}

#[tokio::test]
async fn apns_expired_provider_token_is_renewed_at_once() {
    // APNs' clock runs 2 minutes ahead of ours: a token we think is 59
    // minutes old is 61 to APNs.
    let ours = TestClock::new();
    let theirs = TestClock::new();
    let fake = FakeApns::start(&theirs).await;
    let mut config = fake.config();
    config.jwt_renew_after_secs = 3600;
    let providers = providers(
        ProvidersConfig {
            apns: Some(config),
            ..Default::default()
        },
        &ours,
    );
    let push = request(&hex_token(), Category::Service);
    assert_eq!(
        providers.send(ProviderKind::Apns, &push).await,
        Outcome::Delivered
    );
    ours.advance(Duration::from_secs(59 * 60));
    theirs.advance(Duration::from_secs(61 * 60));
    assert_eq!(
        providers.send(ProviderKind::Apns, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.auth_rejections(), 1, "one 403 ExpiredProviderToken");
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn apns_too_many_provider_token_updates_is_retried() {
    // APNs sees our token expired after only 10 minutes of ours: renewing
    // would update the token twice within 20 minutes.
    let ours = TestClock::new();
    let theirs = TestClock::new();
    let fake = FakeApns::start(&theirs).await;
    let providers = providers(
        ProvidersConfig {
            apns: Some(fake.config()),
            ..Default::default()
        },
        &ours,
    );
    let push = request(&hex_token(), Category::Service);
    assert_eq!(
        providers.send(ProviderKind::Apns, &push).await,
        Outcome::Delivered
    );
    ours.advance(Duration::from_secs(10 * 60));
    theirs.advance(Duration::from_secs(61 * 60));
    assert_eq!(
        providers.send(ProviderKind::Apns, &push).await,
        Outcome::Retry {
            after: None,
            reason: "apns 429 TooManyProviderTokenUpdates".to_owned()
        }
    );
}

#[tokio::test]
async fn apns_signed_with_another_key_is_refused() {
    let clock = TestClock::new();
    let fake = FakeApns::start(&clock).await;
    let providers = providers(
        ProvidersConfig {
            apns: Some(fake.config_with_key(&ApnsKey::generate())),
            ..Default::default()
        },
        &clock,
    );
    assert_eq!(
        providers
            .send(
                ProviderKind::Apns,
                &request(&hex_token(), Category::Service)
            )
            .await,
        Outcome::Permanent {
            reason: "apns 403 InvalidProviderToken".to_owned()
        }
    );
    assert_eq!(fake.auth_rejections(), 1);
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn fcm_access_token_is_fetched_once_then_on_expiry_and_on_401() {
    let clock = TestClock::new();
    let fake = FakeFcm::start(&clock).await;
    let providers = std::sync::Arc::new(providers(
        ProvidersConfig {
            fcm: Some(fake.config()),
            ..Default::default()
        },
        &clock,
    ));
    // 20 concurrent sends: one token request.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let providers = providers.clone();
        tasks.push(tokio::spawn(async move {
            providers
                .send(ProviderKind::Fcm, &request(&hex_token(), Category::Service))
                .await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), Outcome::Delivered);
    }
    assert_eq!(fake.token_requests(), 1);

    // Google's token lives an hour: renewed 5 minutes before.
    clock.advance(Duration::from_secs(54 * 60));
    let push = request(&hex_token(), Category::Service);
    assert_eq!(
        providers.send(ProviderKind::Fcm, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.token_requests(), 1);
    clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(
        providers.send(ProviderKind::Fcm, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.token_requests(), 2, "re-fetched 56 minutes on");

    // A token FCM no longer accepts: 401, one new token, the push retried.
    fake.revoke_tokens();
    assert_eq!(
        providers.send(ProviderKind::Fcm, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.token_requests(), 3);
    assert_eq!(fake.auth_rejections(), 1);
    assert_eq!(fake.received().len(), 23);
}

#[tokio::test]
async fn huawei_access_token_is_reused_then_refreshed() {
    let ours = TestClock::new();
    let theirs = TestClock::new();
    let fake = FakeHuawei::start(&theirs).await;
    let providers = providers(
        ProvidersConfig {
            huawei: Some(fake.config()),
            ..Default::default()
        },
        &ours,
    );
    for _ in 0..5 {
        assert_eq!(
            providers
                .send(
                    ProviderKind::Huawei,
                    &request(&hex_token(), Category::Service)
                )
                .await,
            Outcome::Delivered
        );
    }
    assert_eq!(fake.token_requests(), 1);
    // Both clocks 56 minutes on: we renew before the hour.
    ours.advance(Duration::from_secs(56 * 60));
    theirs.advance(Duration::from_secs(56 * 60));
    let push = request(&hex_token(), Category::Service);
    assert_eq!(
        providers.send(ProviderKind::Huawei, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.token_requests(), 2);
    // Huawei's clock an hour further: 80200003 (token expired), refreshed once.
    theirs.advance(Duration::from_secs(61 * 60));
    assert_eq!(
        providers.send(ProviderKind::Huawei, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.token_requests(), 3);
    // Revoked: 80200001, refreshed once.
    fake.revoke_tokens();
    assert_eq!(
        providers.send(ProviderKind::Huawei, &push).await,
        Outcome::Delivered
    );
    assert_eq!(fake.token_requests(), 4);
    assert_eq!(fake.received().len(), 8);
}

#[tokio::test]
async fn honor_oppo_vivo_tokens_are_reused_and_refreshed_when_refused() {
    let all = All::start(None).await;
    for kind in [ProviderKind::Honor, ProviderKind::Oppo, ProviderKind::Vivo] {
        let fake = all.fake(kind);
        for _ in 0..3 {
            assert_eq!(
                all.providers
                    .send(kind, &request(&hex_token(), Category::Service))
                    .await,
                Outcome::Delivered,
                "{kind:?}"
            );
        }
        assert_eq!(fake.token_requests(), 1, "{kind:?}");
        fake.revoke_tokens();
        assert_eq!(
            all.providers
                .send(kind, &request(&hex_token(), Category::Service))
                .await,
            Outcome::Delivered,
            "{kind:?}"
        );
        assert_eq!(fake.token_requests(), 2, "{kind:?}");
        assert_eq!(fake.received().len(), 4, "{kind:?}");
    }
    // vivo renews every 2 hours, OPPO every 23.
    all.push.clock.advance(Duration::from_secs(2 * 3600 + 60));
    for (kind, expected) in [(ProviderKind::Vivo, 3), (ProviderKind::Oppo, 2)] {
        assert_eq!(
            all.providers
                .send(kind, &request(&hex_token(), Category::Service))
                .await,
            Outcome::Delivered
        );
        assert_eq!(all.fake(kind).token_requests(), expected, "{kind:?}");
    }
}

#[tokio::test]
async fn wrong_credentials_are_permanent() {
    let push = FakePush::start_all().await;
    let mut config = push.config();
    if let Some(c) = config.fcm.as_mut() {
        // Another client_email than the key's: Google refuses the assertion.
        let json = c
            .service_account_json
            .take()
            .expect("inline service account");
        c.service_account_json = Some(json.replace(
            "yiwang-push@yiwang-test.iam",
            "someone-else@yiwang-test.iam",
        ));
    }
    if let Some(c) = config.huawei.as_mut() {
        c.client_secret = "not-the-secret".to_owned();
    }
    if let Some(c) = config.honor.as_mut() {
        c.client_secret = "not-the-secret".to_owned();
    }
    if let Some(c) = config.xiaomi.as_mut() {
        c.app_secret = "not-the-secret".to_owned();
    }
    if let Some(c) = config.oppo.as_mut() {
        c.master_secret = "not-the-secret".to_owned();
    }
    if let Some(c) = config.vivo.as_mut() {
        c.app_secret = "not-the-secret".to_owned();
    }
    let providers = providers(config, &push.clock);
    for (kind, reason) in [
        (ProviderKind::Fcm, "fcm oauth 400 invalid_grant"),
        (ProviderKind::Huawei, "huawei oauth 400 1101"),
        (ProviderKind::Honor, "honor oauth 400 1101"),
        (ProviderKind::Xiaomi, "xiaomi 401 22000"),
        (ProviderKind::Oppo, "oppo auth 200 16"),
        (ProviderKind::Vivo, "vivo auth 200 10205"),
    ] {
        assert_eq!(
            providers
                .send(kind, &request(&hex_token(), Category::Service))
                .await,
            Outcome::Permanent {
                reason: reason.to_owned()
            },
            "{kind:?}"
        );
        let fake = push.fake(kind.as_str()).expect("fake");
        assert_eq!(fake.auth_rejections(), 1, "{kind:?}");
        assert!(fake.received().is_empty(), "{kind:?}");
    }
}

// ---------------------------------------------------------- configuration --

#[tokio::test]
async fn start_all_toml_is_a_push_configuration() {
    #[derive(serde::Deserialize)]
    struct File {
        push: ProvidersConfig,
    }
    let push = FakePush::start_all().await;
    let file: File = toml::from_str(&push.toml).expect("the snippet parses");
    assert!(file.push == push.config(), "the TOML and the config differ");
    let providers = Providers::with_clock(&file.push, push.clock.clock()).expect("valid");
    assert_eq!(providers.configured(), ProviderKind::ALL.to_vec());
    for kind in ProviderKind::ALL {
        assert_eq!(providers.limits(kind), (64, 5000));
        assert_eq!(
            providers
                .send(kind, &request(&hex_token(), Category::Service))
                .await,
            Outcome::Delivered,
            "{kind:?}"
        );
    }

    // Printing the configuration shows no secret.
    let printed = format!("{:?}", file.push);
    let secrets = [
        push.apns
            .key
            .pem
            .lines()
            .nth(1)
            .expect("a key line")
            .to_owned(),
        push.fcm
            .account
            .private_key_pem
            .lines()
            .nth(1)
            .expect("a key line")
            .to_owned(),
        push.huawei.client_secret.clone(),
        push.honor.client_secret.clone(),
        push.xiaomi.app_secret.clone(),
        push.oppo.master_secret.clone(),
        push.vivo.app_secret.clone(),
        push.vivo.app_key.clone(),
    ];
    for secret in secrets {
        assert!(!printed.contains(&secret), "a secret in {printed}");
    }
    assert!(printed.contains(push.huawei.client_id.as_str()));
    assert!(format!("{providers:?}").contains("Apns"));
}

#[tokio::test]
async fn bad_keys_stop_the_start_naming_the_setting() {
    let push = FakePush::start_all().await;

    let mut config = push.config();
    let secret_line = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg";
    if let Some(c) = config.apns.as_mut() {
        c.private_key_pem = Some(format!(
            "-----BEGIN PRIVATE KEY-----\n{secret_line}\n-----END PRIVATE KEY-----\n"
        ));
    }
    let error = Providers::new(&config).expect_err("a broken .p8");
    assert_eq!(error.setting, "apns.private_key_pem");
    assert!(!error.to_string().contains(secret_line), "{error}");

    let mut config = push.config();
    if let Some(c) = config.fcm.as_mut() {
        c.service_account_json =
            Some("{\"client_email\": \"a@b\", \"private_key\": \"secret-value\"}".to_owned());
    }
    let error = Providers::new(&config).expect_err("a broken service account");
    assert_eq!(error.setting, "fcm.service_account_json");
    assert!(!error.to_string().contains("secret-value"), "{error}");

    let mut config = push.config();
    if let Some(c) = config.apns.as_mut() {
        c.jwt_renew_after_secs = 600;
    }
    assert_eq!(
        Providers::new(&config)
            .expect_err("renewal too often")
            .setting,
        "apns.jwt_renew_after_secs"
    );

    let mut config = push.config();
    if let Some(c) = config.xiaomi.as_mut() {
        c.channel_ids.security = None;
    }
    assert_eq!(
        Providers::new(&config).expect_err("no channel").setting,
        "xiaomi.channel_ids.security"
    );

    let mut config = push.config();
    if let Some(c) = config.vivo.as_mut() {
        c.app_id = "vivo-app".to_owned();
    }
    assert_eq!(
        Providers::new(&config).expect_err("app id").setting,
        "vivo.app_id"
    );
}

#[tokio::test]
async fn a_campaign_without_a_channel_is_refused_before_sending() {
    let clock = TestClock::new();
    let fake = FakeOppo::start(&clock).await;
    let mut config = fake.config();
    config.channel_ids.campaign = None;
    let providers = providers(
        ProvidersConfig {
            oppo: Some(config),
            ..Default::default()
        },
        &clock,
    );
    assert_eq!(
        providers
            .send(
                ProviderKind::Oppo,
                &request(&hex_token(), Category::Campaign)
            )
            .await,
        Outcome::Permanent {
            reason: "oppo no channel_ids.campaign configured".to_owned()
        }
    );
    assert_eq!(fake.send_attempts(), 0);
    assert_eq!(fake.token_requests(), 0);
}
