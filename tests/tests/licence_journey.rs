//! The e-licence journey (issue 7's done-when), through the real `yiwang
//! serve` process and a fake push provider on loopback, on SQLite and on
//! PostgreSQL: a civil affairs bureau issues a marriage certificate → the
//! citizen's phone (the core's API client) gets the push and syncs the
//! licence into its wallet → applies for 婚后户口迁移 using it with a reason →
//! the public security bureau fetches it through the library and verifies the
//! attestation against the signed trust list → the citizen reads the use in
//! their trail → the licence is revoked, and its next use is refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use base64ct::{Base64, Encoding};
use common::{Department, pushed, sign_in};
use serde_json::json;
use yiwang_core::client::{
    ApiClient, ApplicationStatus, ClientConfig, EnrolmentRequest, PushProvider,
    PushRegistrationRequest, QuietHours,
};
use yiwang_core::credential::{Claim, verify_attestation};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_core::forms::Draft;
use yiwang_core::identity::IdNumber;
use yiwang_core::wallet::{Wallet, WalletOptions};
use yiwang_e2e::Server;
use yiwang_e2e::fake_push::FakePush;
use yiwang_server::issuer::now;

const ADMIN: &str = "licence-admin-token-0123456789";
const CITIZEN: &str = "110108198807154325";
const SPOUSE: &str = "330106198506120023";
/// 福州市鼓楼区民政局 and the marriage certificate type it issues.
const CIVIL_AFFAIRS: &str = "91350100M000100Y43";
const MARRIAGE: &str = "11100000MB0143028R002";
/// 婚后户口迁移 and its department (公安局).
const HOUSEHOLD_MOVE: &str = "11100000000013338W3140000000002";
const POLICE: &str = "11100000000013338W";
const PUSH_TOKEN: &str = "huawei-bride-phone-token-0001";

async fn journey(server: &Server, fakes: &FakePush, workdir: &Path) {
    let base = server.base_url.as_str();
    let client = ApiClient::new(ClientConfig::new(base)).unwrap();
    let t = now();

    // The citizen's phone: enrolled, the 网证 in the wallet, signed in, pushes on.
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("device").unwrap();
    let key = store.generate(&alias, Suite::Gm).unwrap();
    let enrolment = client
        .enrol(&EnrolmentRequest::new(
            "王芳",
            IdNumber::parse(CITIZEN).unwrap(),
            [7; 32],
            key.clone(),
        ))
        .await
        .unwrap();
    let wallet = Wallet::open(
        &workdir.join("wallet.db"),
        store.clone(),
        WalletOptions::default(),
    )
    .await
    .unwrap();
    wallet
        .put_credential(&enrolment.credential, t)
        .await
        .unwrap();
    let phone = sign_in(&client, &enrolment.credential, &store, &alias, "手机").await;
    let mut registration =
        PushRegistrationRequest::new(PushProvider::Huawei, PUSH_TOKEN, "cn.gov.yiwang");
    registration.quiet_hours = Some(QuietHours::new("00:00", "00:00"));
    client
        .register_push(&phone.access_token, &registration)
        .await
        .unwrap();

    // The operator lists the civil affairs bureau as an authority of this library.
    let (status, text) = yiwang_e2e::curl(&[
        "-X",
        "POST",
        "-H",
        &format!("Authorization: Bearer {ADMIN}"),
        "-H",
        "Content-Type: application/json",
        "-d",
        &json!({"uscc": CIVIL_AFFAIRS, "name": "福州市鼓楼区民政局", "region": "350100",
                "licence_types": [MARRIAGE]})
        .to_string(),
        &format!("{base}/v1/admin/authorities"),
    ]);
    assert_eq!(status, 201, "{text}");

    // The bureau issues the marriage certificate.
    let civil = Department::register(
        base,
        ADMIN,
        "福州市鼓楼区民政局",
        &[&format!("licences:{CIVIL_AFFAIRS}")],
    );
    let (status, issued) = civil.post(
        "/v1/library/licences",
        &json!({"issuer_uscc": CIVIL_AFFAIRS, "number": "J350102-2026-00123",
                "type_code": MARRIAGE, "holder": {"id_number": CITIZEN, "name": "王芳"},
                "issue_date": "2026-05-20", "jurisdiction": "350102"}),
    );
    assert_eq!(status, 201, "{issued}");
    let identifier = issued["identifier"].as_str().unwrap().to_owned();

    // The push arrives; the wallet syncs the licence, bound to this phone's key.
    let message = pushed(fakes, PUSH_TOKEN, &client, &phone.access_token, |m| {
        m.title.contains("结婚证")
    })
    .await;
    assert!(
        message.body.contains("已向您签发结婚证"),
        "{}",
        message.body
    );
    let sync = client
        .sync_licences(&phone.access_token, 0, &key)
        .await
        .unwrap();
    assert_eq!(sync.licences.len(), 1);
    assert!(!sync.more);
    let synced = &sync.licences[0];
    assert_eq!(
        (synced.identifier.as_str(), synced.status.as_str()),
        (identifier.as_str(), "active")
    );
    let credential = synced.credential.clone().unwrap();
    assert_eq!(credential.text(Claim::LicenceName), Some("结婚证"));
    wallet.put_credential(&credential, t).await.unwrap();
    assert!(wallet.licence(&identifier).await.unwrap().is_some());

    // The citizen applies for 婚后户口迁移 with it: prefilled from the wallet,
    // the certificate shared by reference with a reason.
    let matter = client.matter(HOUSEHOLD_MOVE, None).await.unwrap();
    let schema = matter.form_schema().unwrap().unwrap();
    let mut draft = Draft::new(&schema, t).unwrap();
    let filled = draft.prefill(&schema, &wallet.prefill_values().await.unwrap());
    assert!(
        filled.contains(&"certificate_number".to_owned()),
        "{filled:?}"
    );
    assert_eq!(
        draft.value("certificate_number"),
        Some(&json!("J350102-2026-00123"))
    );
    let reference = credential.licence_reference("婚后户口迁移").unwrap();
    for (field, value) in [
        ("phone", json!("13800138000")),
        ("marriage_certificate", reference),
        ("spouse_name", json!("李强")),
        ("spouse_id_number", json!(SPOUSE)),
        (
            "move_to",
            json!({"region": "330106", "detail": "西湖区文三路100号"}),
        ),
    ] {
        draft.set(&schema, field, value).unwrap();
    }
    let today = yiwang_core::credential::china_date(t).unwrap();
    let application = client
        .submit(
            &phone.access_token,
            &draft.submission(&schema, today).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(application.status, ApplicationStatus::Submitted);
    let receipt = application.receipt_no.clone();

    // The public security bureau fetches the licence through the library and
    // verifies it against the trust list, anchored in the pinned issuer key.
    let police = Department::register(base, ADMIN, "公安局", &[&format!("applications:{POLICE}")]);
    let use_path = format!("/v1/department/applications/{receipt}/licences");
    let (status, used) = police.post(&use_path, &json!({"licence_id": identifier}));
    assert_eq!(status, 200, "{used}");
    assert_eq!(used["reason"], "婚后户口迁移");
    let anchor = client.issuer().await.unwrap().public_key().unwrap();
    let trust = client.trust_list(&anchor, now()).await.unwrap();
    let attestation = Base64::decode_vec(used["attestation"].as_str().unwrap()).unwrap();
    let verified = verify_attestation(&attestation, &trust, POLICE, now()).unwrap();
    assert_eq!(verified.licence.identifier.as_str(), identifier);
    assert_eq!(verified.licence.holder.as_str(), CITIZEN);
    assert_eq!(verified.authority.as_str(), CIVIL_AFFAIRS);
    assert_eq!(verified.context, receipt);

    // The citizen sees who used it, when, for what and why.
    let uses = client.licence_uses(&phone.access_token).await.unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].outcome, "used");
    assert_eq!(uses[0].department, POLICE);
    assert_eq!(uses[0].receipt_no, receipt);
    assert_eq!(uses[0].reason.as_deref(), Some("婚后户口迁移"));
    assert_eq!(uses[0].licence_name.as_deref(), Some("结婚证"));

    // Revoked: the citizen is told, the wallet learns it, the next use is refused.
    let (status, revoked) = civil.post(
        &format!("/v1/library/licences/{identifier}/status"),
        &json!({"status": "revoked", "reason": "登记信息有误，已撤销"}),
    );
    assert_eq!((status, revoked["status"].as_str()), (200, Some("revoked")));
    pushed(fakes, PUSH_TOKEN, &client, &phone.access_token, |m| {
        m.body.contains("已被注销")
    })
    .await;
    let sync = client
        .sync_licences(&phone.access_token, sync.next, &key)
        .await
        .unwrap();
    assert_eq!(sync.licences[0].status, "revoked");
    assert!(sync.licences[0].credential.is_none());
    let (status, refused) = police.post(&use_path, &json!({"licence_id": identifier}));
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("YW-4088")),
        "{refused}"
    );
    let uses = client.licence_uses(&phone.access_token).await.unwrap();
    assert_eq!(
        (uses[0].outcome.as_str(), uses[0].code.as_deref()),
        ("refused", Some("YW-4088"))
    );
    // The pushes carried no personal data.
    for received in fakes.huawei.fake.received() {
        assert!(!received.body.to_string().contains(CITIZEN));
    }
}

#[test]
fn the_licence_journey_on_sqlite() {
    common::run(None, ADMIN, |server, fakes, dir| {
        Box::pin(journey(server, fakes, dir))
    });
}

#[test]
fn the_licence_journey_on_postgresql() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(test_db) = runtime.block_on(yiwang_server::db::testing::postgres(
        "the_licence_journey_on_postgresql",
    )) else {
        return;
    };
    common::run(Some(&test_db.url), ADMIN, |server, fakes, dir| {
        Box::pin(journey(server, fakes, dir))
    });
    runtime.block_on(test_db.cleanup());
}
