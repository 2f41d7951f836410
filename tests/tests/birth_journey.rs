//! The 出生一件事 journey (issue 9's done-when), through the real `yiwang
//! serve` process and fake push providers on loopback, on SQLite and on
//! PostgreSQL: a department posts `birth_registered` → the parent's phone
//! (the core's API client) gets the push and the recommendation → opens the
//! form prefilled from the wallet → saves a draft on one device, edits it on
//! another, and the two sync with a merge (and one true conflict, resolved)
//! → submits → the department accepts and approves (with curl, as a
//! department's system would) → the status push arrives.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Department, pushed, sign_in};
use serde_json::{Value, json};
use yiwang_core::client::{
    ApiClient, ApplicationStatus, ClientConfig, EnrolmentRequest, PushProvider,
    PushRegistrationRequest, QuietHours,
};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_core::forms::{Draft, DraftError, FormSchema};
use yiwang_core::identity::{IdNumber, LicenceId, Uscc};
use yiwang_core::wallet::{Wallet, WalletOptions};
use yiwang_e2e::Server;
use yiwang_e2e::fake_push::FakePush;
use yiwang_server::issuer::now;

const ADMIN: &str = "birth-admin-token-0123456789";
const PARENT: &str = "330106198506120023";
const OTHER_PARENT: &str = "110108198807154325";
/// 新生儿出生一件事 and its department (卫生健康委员会).
const BIRTH: &str = "11100000000013338W3110000000001";
const BIRTH_DEPT: &str = "11100000MB1692364P";
const PUSH_TOKEN: &str = "huawei-parent-phone-token-0001";

fn address(detail: &str) -> Value {
    json!({"region": "330106", "detail": detail})
}

fn birth_certificate_id() -> String {
    let hospital = Uscc::parse("91350100M000100Y43").unwrap();
    LicenceId::new("11100000MB0143028R001", &hospital, "2026ZJ004417", 1)
        .unwrap()
        .as_str()
        .to_owned()
}

fn set(draft: &mut Draft, schema: &FormSchema, pairs: &[(&str, Value)]) {
    for (field, value) in pairs {
        draft
            .set(schema, field, value.clone())
            .unwrap_or_else(|e| panic!("{field}: {e}"));
    }
}

async fn journey(server: &Server, fakes: &FakePush, workdir: &Path) {
    let base = server.base_url.as_str();
    let client = ApiClient::new(ClientConfig::new(base)).unwrap();
    let t = now();

    // The parent's phone: enrolled, the 网证 in the wallet, signed in, pushes on.
    let store = Arc::new(SoftwareKeyStore::in_memory());
    let alias = KeyAlias::new("device").unwrap();
    let key = store.generate(&alias, Suite::Gm).unwrap();
    let enrolment = client
        .enrol(&EnrolmentRequest::new(
            "李梅",
            IdNumber::parse(PARENT).unwrap(),
            [7; 32],
            key,
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
    // The same citizen's tablet, signed in as a second device.
    let tablet = sign_in(&client, &enrolment.credential, &store, &alias, "平板").await;
    assert_ne!(phone.device_id, tablet.device_id);

    // The birth is registered: the department posts the event.
    let registry =
        Department::register(base, ADMIN, "卫生健康委员会", &["events:birth_registered"]);
    let (status, answer) = registry.post(
        "/v1/events",
        &json!({"events": [{"event_id": "birth-2026-000417", "type": "birth_registered",
            "subject": {"id_number": PARENT}, "occurred_at": t,
            "data": {"child_birth_date": "2026-11-01", "child_sex": "male"}}]}),
    );
    assert_eq!(
        (status, answer["accepted"].clone()),
        (200, json!(1)),
        "{answer}"
    );

    // One push arrives for the birth's two recommendations (出生一件事
    // offered, the childcare subsidy granted), and the feed offers
    // 出生一件事 with the reason.
    let message = pushed(fakes, PUSH_TOKEN, &client, &phone.access_token, |m| {
        m.title.contains("新生儿出生一件事")
    })
    .await;
    assert_eq!(message.category, "service");
    assert_eq!(message.title, "新生儿出生一件事等2项服务");
    assert_eq!(
        message.body,
        "为您推荐：新生儿出生一件事；已为您办理：育儿补贴发放"
    );
    let feed = client
        .recommendations(&phone.access_token, None)
        .await
        .unwrap();
    let offer = feed.iter().find(|r| r.matter_code == BIRTH).unwrap();
    assert_eq!(offer.action, "offer");
    assert_eq!(offer.reason.zh, "您的孩子出生登记已完成，可办理出生一件事");
    assert_eq!(offer.delivery, "online");

    // The form opens prefilled from the wallet: government data, read-only.
    let matter = client.matter(&offer.matter_code, None).await.unwrap();
    let schema = matter.form_schema().unwrap().unwrap();
    let mut on_phone = Draft::new(&schema, t).unwrap();
    let filled = on_phone.prefill(&schema, &wallet.prefill_values().await.unwrap());
    assert!(filled.contains(&"applicant_name".to_owned()), "{filled:?}");
    assert!(
        filled.contains(&"applicant_id_number".to_owned()),
        "{filled:?}"
    );
    assert_eq!(on_phone.value("applicant_name"), Some(&json!("李梅")));
    set(
        &mut on_phone,
        &schema,
        &[
            ("applicant_relation", json!("mother")),
            ("phone", json!("13800138000")),
            ("child_name", json!("王小明")),
            ("child_sex", json!("male")),
            ("child_birth_date", json!("2026-11-01")),
        ],
    );
    on_phone.save(t);
    let synced = client
        .sync_draft(&phone.access_token, &mut on_phone, t)
        .await
        .unwrap();
    assert_eq!((synced.version, synced.conflicts.len()), (1, 0));

    // The tablet picks it up and fills in the rest.
    let mut on_tablet = client
        .draft(&tablet.access_token, on_phone.id())
        .await
        .unwrap()
        .into_draft(t + 60);
    assert!(on_tablet.is_government("applicant_id_number"));
    assert!(matches!(
        on_tablet.set(&schema, "applicant_name", json!("别人")),
        Err(DraftError::ReadOnly(_))
    ));
    set(
        &mut on_tablet,
        &schema,
        &[
            ("other_parent_name", json!("王建国")),
            ("other_parent_id_number", json!(OTHER_PARENT)),
            ("birth_place", address("西湖区 浙江省妇幼保健院")),
            ("hospital_name", json!("浙江省妇幼保健院")),
            (
                "birth_certificate",
                json!({"licence_id": birth_certificate_id(), "reason": "办理新生儿出生一件事"}),
            ),
            ("household_address", address("西湖区文三路100号")),
            ("medical_insurance", json!("resident")),
            ("social_security_card", json!("pickup")),
            ("subsidy_bank_account", json!("6222020200112233445")),
        ],
    );
    let synced = client
        .sync_draft(&tablet.access_token, &mut on_tablet, t + 60)
        .await
        .unwrap();
    assert_eq!((synced.version, synced.merged), (2, false));

    // Meanwhile the phone, still at version 1, corrects the phone number
    // and names the bank: the server merges it with the tablet's edits.
    set(
        &mut on_phone,
        &schema,
        &[
            ("phone", json!("13900139000")),
            ("subsidy_bank_name", json!("招商银行")),
        ],
    );
    let synced = client
        .sync_draft(&phone.access_token, &mut on_phone, t + 120)
        .await
        .unwrap();
    assert_eq!((synced.version, synced.merged), (3, true));
    assert!(synced.conflicts.is_empty());
    assert_eq!(
        on_phone.value("hospital_name"),
        Some(&json!("浙江省妇幼保健院"))
    );
    assert_eq!(on_phone.value("phone"), Some(&json!("13900139000")));

    // The tablet (at version 2) names another bank: a true conflict, with
    // both values; nothing is lost. The citizen keeps the tablet's choice.
    set(
        &mut on_tablet,
        &schema,
        &[("subsidy_bank_name", json!("中国工商银行"))],
    );
    let synced = client
        .sync_draft(&tablet.access_token, &mut on_tablet, t + 180)
        .await
        .unwrap();
    assert_eq!(synced.conflicts.len(), 1);
    let conflict = &synced.conflicts[0];
    assert_eq!(conflict.field, "subsidy_bank_name");
    assert_eq!(conflict.local, Some(json!("中国工商银行")));
    assert_eq!(conflict.remote, Some(json!("招商银行")));
    // The merge took the phone's other edits in.
    assert_eq!(on_tablet.value("phone"), Some(&json!("13900139000")));
    let synced = client
        .sync_draft(&tablet.access_token, &mut on_tablet, t + 200)
        .await
        .unwrap();
    assert_eq!((synced.version, synced.conflicts.len()), (4, 0));
    // Back on the phone, the next sync brings the choice over.
    let synced = client
        .sync_draft(&phone.access_token, &mut on_phone, t + 240)
        .await
        .unwrap();
    assert_eq!(synced.version, 4);
    assert_eq!(on_phone.values(), on_tablet.values());

    // Submitted from the phone: an application with a receipt number.
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date();
    let today = time::Date::from_calendar_date(
        i32::from(today.year()),
        time::Month::try_from(today.month() as u8).unwrap(),
        today.day() as u8,
    )
    .unwrap();
    let submission = on_phone.submission(&schema, today).unwrap();
    assert_eq!(submission.licence_refs.len(), 1);
    let application = client
        .submit(&phone.access_token, &submission)
        .await
        .unwrap();
    assert_eq!(application.status, ApplicationStatus::Submitted);
    let receipt = application.receipt_no.clone();
    assert_eq!(application.licence_refs[0].reason, "办理新生儿出生一件事");
    // The submission confirmation is pushed too.
    pushed(fakes, PUSH_TOKEN, &client, &phone.access_token, |m| {
        m.category == "application_status" && m.body.contains("已提交")
    })
    .await;

    // The department accepts and approves; each change is pushed.
    let health = Department::register(
        base,
        ADMIN,
        "卫生健康委员会",
        &[&format!("applications:{BIRTH_DEPT}")],
    );
    let status_path = format!("/v1/department/applications/{receipt}/status");
    for next in ["accepted", "approved"] {
        let (status, moved) = health.post(&status_path, &json!({"status": next}));
        assert_eq!(
            (status, moved["status"].as_str()),
            (200, Some(next)),
            "{moved}"
        );
        let words = if next == "accepted" {
            "已受理"
        } else {
            "审批通过"
        };
        let message = pushed(fakes, PUSH_TOKEN, &client, &phone.access_token, |m| {
            m.category == "application_status" && m.body.contains(words)
        })
        .await;
        assert!(
            message.title.contains("新生儿出生一件事"),
            "{}",
            message.title
        );
        assert!(message.body.contains(&receipt), "{}", message.body);
    }
    let application = client
        .application(&phone.access_token, &receipt)
        .await
        .unwrap();
    assert_eq!(application.status, ApplicationStatus::Approved);
    assert_eq!(application.history.len(), 3);
    // The pushes carried no personal data: the title is neutral.
    for received in fakes.huawei.fake.received() {
        assert!(!received.body.to_string().contains("王小明"));
        assert!(!received.body.to_string().contains(PARENT));
    }
}

#[test]
fn the_birth_journey_on_sqlite() {
    common::run(None, ADMIN, |server, fakes, dir| {
        Box::pin(journey(server, fakes, dir))
    });
}

#[test]
fn the_birth_journey_on_postgresql() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(test_db) = runtime.block_on(yiwang_server::db::testing::postgres(
        "the_birth_journey_on_postgresql",
    )) else {
        return;
    };
    common::run(Some(&test_db.url), ADMIN, |server, fakes, dir| {
        Box::pin(journey(server, fakes, dir))
    });
    runtime.block_on(test_db.cleanup());
}
