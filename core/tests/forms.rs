//! End-to-end flows for `yiwang_core::forms`: the example schemas in
//! `core/forms/`, draft lifecycle, validation, submission, expiry, schema
//! loading errors, and property tests of the three-way merge.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::{Value, json};
use time::Date;
use time::macros::date;
use yiwang_core::forms::{
    Draft, DraftError, FormSchema, PrefillSource, Problem, Revision, SchemaError, merge,
};
use yiwang_core::identity::{LicenceId, Uscc};

const BIRTH: &str = include_str!("../forms/birth.json");
const SENIOR: &str = include_str!("../forms/senior-card.json");
const DRIVING: &str = include_str!("../forms/driving-licence-renewal.json");
const MARRIAGE: &str = include_str!("../forms/marriage-household.json");

const TODAY: Date = date!(2025 - 06 - 15);
const T0: i64 = 1_749_945_600; // 2025-06-15T00:00:00Z
const DAY: i64 = 24 * 3600;

const APPLICANT_ID: &str = "350102199003071234";
const OTHER_PARENT_ID: &str = "350102199208152345";
const SENIOR_ID: &str = "11010519491231002X";
const DRIVER_ID: &str = "440304198801014569";
const ISSUER: &str = "91350100M000100Y43";
const BIRTH_CERT_TYPE: &str = "11100000MB0143028R001";
const DRIVING_LICENCE_TYPE: &str = "11100000000013338W011";
const MARRIAGE_CERT_TYPE: &str = "11100000MB0143028R002";

/// A wallet stand-in: the keys a real wallet would answer.
struct FakeWallet(BTreeMap<&'static str, Value>);

impl PrefillSource for FakeWallet {
    fn value(&self, key: &str) -> Option<Value> {
        self.0.get(key).cloned()
    }
}

fn wallet(name: &str, id_number: &str, birth_date: &str, sex: &str) -> FakeWallet {
    FakeWallet(BTreeMap::from([
        ("credential.name", json!(name)),
        ("credential.id_number", json!(id_number)),
        ("credential.birth_date", json!(birth_date)),
        ("credential.sex", json!(sex)),
        ("credential.region", json!(&id_number[..6])),
        ("licence.11100000000013338W011.number", json!(id_number)),
        (
            "licence.11100000000013338W011.valid_until",
            json!("2025-08-01"),
        ),
    ]))
}

fn licence(type_code: &str, serial: &str) -> String {
    let issuer = Uscc::parse(ISSUER).unwrap();
    LicenceId::new(type_code, &issuer, serial, 1)
        .unwrap()
        .as_str()
        .to_owned()
}

fn attachment(media_type: &str) -> Value {
    json!({"sha256": "3f".repeat(32), "media_type": media_type, "size": 345_678})
}

fn address(detail: &str) -> Value {
    json!({"region": "350102", "detail": detail})
}

/// Sets every pair, failing the test on the first refusal.
fn fill(draft: &mut Draft, schema: &FormSchema, values: &[(&str, Value)]) {
    for (field, value) in values {
        draft
            .set(schema, field, value.clone())
            .unwrap_or_else(|e| panic!("{field}: {e}"));
    }
}

fn codes(problems: &[Problem]) -> Vec<(&str, &str)> {
    problems.iter().map(|p| (p.path.as_str(), p.code)).collect()
}

// ---- example schemas ----

fn birth_values() -> Vec<(&'static str, Value)> {
    vec![
        ("applicant_relation", json!("mother")),
        ("phone", json!("13800138000")),
        ("other_parent_name", json!("王建国")),
        ("other_parent_id_number", json!(OTHER_PARENT_ID)),
        ("child_name", json!("王小明")),
        ("child_sex", json!("male")),
        ("child_birth_date", json!("2025-06-01")),
        ("birth_place", address("鼓楼区华林路18号 福建省妇幼保健院")),
        ("hospital_name", json!("福建省妇幼保健院")),
        (
            "birth_certificate",
            json!({"licence_id": licence(BIRTH_CERT_TYPE, "2025FJ000888"),
                   "reason": "办理新生儿出生一件事"}),
        ),
        ("household_address", address("鼓楼区五四路100号")),
        ("medical_insurance", json!("resident")),
        ("social_security_card", json!("mail")),
        ("card_mailing_address", address("鼓楼区五四路100号")),
        ("subsidy_bank_name", json!("中国工商银行")),
        ("subsidy_bank_account", json!("6222020200112233445")),
    ]
}

fn senior_values() -> Vec<(&'static str, Value)> {
    vec![
        ("phone", json!("13912345678")),
        (
            "residence_address",
            json!({"region": "110105", "detail": "朝阳区幸福里3号楼2单元501"}),
        ),
        ("photo", attachment("image/jpeg")),
        ("emergency_contact_name", json!("张小红")),
        ("emergency_contact_relation", json!("child")),
        ("emergency_contact_phone", json!("13698765432")),
        ("collect_method", json!("pickup")),
    ]
}

fn driving_values() -> Vec<(&'static str, Value)> {
    vec![
        ("phone", json!("18612345678")),
        ("vehicle_class", json!("C1")),
        (
            "current_licence",
            json!({"licence_id": licence(DRIVING_LICENCE_TYPE, "440300000123"),
                   "reason": "驾驶证期满换证"}),
        ),
        ("renewal_reason", json!("expiry")),
        ("medical_exam_date", json!("2025-06-10")),
        ("medical_certificate", attachment("application/pdf")),
        ("emergency_contact_name", json!("李四")),
        ("emergency_contact_phone", json!("13512345678")),
        ("collect_method", json!("pickup")),
        ("pickup_date", json!("2025-06-20")),
    ]
}

fn filled(
    json_schema: &str,
    who: &FakeWallet,
    values: &[(&str, Value)],
) -> (FormSchema, Draft, Vec<String>) {
    let schema = FormSchema::from_json(json_schema).unwrap();
    let mut draft = Draft::new(&schema, T0).unwrap();
    let prefilled = draft.prefill(&schema, who);
    fill(&mut draft, &schema, values);
    (schema, draft, prefilled)
}

#[test]
fn example_schemas_load() {
    for (text, code, fields) in [
        (BIRTH, "11100000000013338W3110000000001", 18),
        (SENIOR, "11100000MB0143028R3210000000001", 12),
        (DRIVING, "11100000000013338W3120000000002", 15),
    ] {
        let schema = FormSchema::from_json(text).unwrap();
        assert_eq!(schema.matter_code(), code);
        assert_eq!(schema.version(), 1);
        assert_eq!(schema.fields().count(), fields, "{code}");
        for (_, field) in schema.fields() {
            assert!(!field.label().zh.is_empty() && !field.label().en.is_empty());
        }
    }
}

#[test]
fn birth_example_is_valid() {
    let who = wallet("林美华", APPLICANT_ID, "1990-03-07", "female");
    let (schema, draft, prefilled) = filled(BIRTH, &who, &birth_values());
    assert_eq!(prefilled, ["applicant_name", "applicant_id_number"]);
    assert_eq!(draft.validate(&schema, TODAY), vec![]);
}

#[test]
fn birth_example_broken() {
    let who = wallet("林美华", APPLICANT_ID, "1990-03-07", "female");
    let mut values = birth_values();
    values.retain(|(k, _)| !matches!(*k, "child_sex" | "card_mailing_address"));
    let (schema, mut draft, _) = filled(BIRTH, &who, &values);
    fill(
        &mut draft,
        &schema,
        &[
            ("phone", json!("12345")),
            ("other_parent_id_number", json!(APPLICANT_ID)),
            ("child_name", json!("Wang Xiaoming")),
            ("child_birth_date", json!("2025-06-16")),
            (
                "birth_certificate",
                json!({"licence_id": licence(BIRTH_CERT_TYPE, "2025FJ000888")}),
            ),
            ("subsidy_bank_account", json!("6222-0202-0011")),
        ],
    );
    assert_eq!(
        codes(&draft.validate(&schema, TODAY)),
        [
            ("applicant.phone", "YW-1614"),
            ("child.child_name", "YW-1606"),
            ("child.child_sex", "YW-1601"),
            ("child.child_birth_date", "YW-1610"),
            ("child.birth_certificate", "YW-1617"),
            ("insurance.card_mailing_address", "YW-1602"),
            ("subsidy.subsidy_bank_account", "YW-1606"),
            ("other_parent.other_parent_id_number", "YW-1620"),
        ]
    );
}

#[test]
fn senior_example_is_valid_and_mail_needs_an_address() {
    let who = wallet("张桂英", SENIOR_ID, "1949-12-31", "female");
    let (schema, mut draft, prefilled) = filled(SENIOR, &who, &senior_values());
    assert_eq!(prefilled, ["name", "id_number", "birth_date", "sex"]);
    assert_eq!(draft.validate(&schema, TODAY), vec![]);

    draft.set(&schema, "collect_method", json!("mail")).unwrap();
    assert_eq!(
        codes(&draft.validate(&schema, TODAY)),
        [("collect.mailing_address", "YW-1602")]
    );
    draft
        .set(&schema, "mailing_address", address("鼓楼区五四路100号"))
        .unwrap();
    assert_eq!(draft.validate(&schema, TODAY), vec![]);
}

#[test]
fn senior_example_broken() {
    let who = wallet("张桂英", SENIOR_ID, "1949-12-31", "female");
    let (schema, mut draft, _) = filled(SENIOR, &who, &senior_values());
    fill(
        &mut draft,
        &schema,
        &[
            (
                "residence_address",
                json!({"region": "990105", "detail": "x"}),
            ),
            (
                "photo",
                json!({"sha256": "3f".repeat(32), "media_type": "image/gif", "size": 10}),
            ),
            ("emergency_contact_relation", json!("neighbour")),
            ("emergency_contact_phone", json!("13912345678")),
        ],
    );
    draft.clear(&schema, "emergency_contact_name").unwrap();
    assert_eq!(
        codes(&draft.validate(&schema, TODAY)),
        [
            ("applicant.residence_address", "YW-1615"),
            ("applicant.photo", "YW-1618"),
            ("emergency.emergency_contact_name", "YW-1601"),
            ("emergency.emergency_contact_relation", "YW-1611"),
            ("emergency.emergency_contact_phone", "YW-1620"),
        ]
    );
}

#[test]
fn driving_example_is_valid() {
    let who = wallet("陈志强", DRIVER_ID, "1988-01-01", "male");
    let (schema, draft, prefilled) = filled(DRIVING, &who, &driving_values());
    assert_eq!(
        prefilled,
        ["name", "id_number", "licence_number", "licence_expiry_date"]
    );
    assert_eq!(draft.validate(&schema, TODAY), vec![]);
    let submission = draft.submission(&schema, TODAY).unwrap();
    assert_eq!(submission.licence_refs.len(), 1);
    assert_eq!(submission.attachments.len(), 1);
}

#[test]
fn marriage_example_is_valid_and_broken() {
    let mut who = wallet("王芳", APPLICANT_ID, "1990-03-07", "female");
    who.0.insert(
        "licence.11100000MB0143028R002.number",
        json!("J350102-2026-00123"),
    );
    let values = [
        ("phone", json!("13800138000")),
        (
            "marriage_certificate",
            json!({"licence_id": licence(MARRIAGE_CERT_TYPE, "J350102202600123"), "reason": "婚后户口迁移"}),
        ),
        ("spouse_name", json!("李强")),
        ("spouse_id_number", json!(OTHER_PARENT_ID)),
        (
            "move_to",
            json!({"region": "350102", "detail": "鼓楼区五四路1号"}),
        ),
    ];
    let (schema, mut draft, prefilled) = filled(MARRIAGE, &who, &values);
    assert_eq!(prefilled, ["name", "id_number", "certificate_number"]);
    assert_eq!(draft.validate(&schema, TODAY), vec![]);
    let submission = draft.submission(&schema, TODAY).unwrap();
    assert_eq!(submission.licence_refs.len(), 1);
    assert_eq!(submission.licence_refs[0].reason, "婚后户口迁移");
    fill(
        &mut draft,
        &schema,
        &[
            ("spouse_id_number", json!(APPLICANT_ID)),
            (
                "marriage_certificate",
                json!({"licence_id": licence(BIRTH_CERT_TYPE, "440300000123"), "reason": "迁户"}),
            ),
        ],
    );
    let found = draft.validate(&schema, TODAY);
    let problems = codes(&found)
        .into_iter()
        .map(|(p, c)| (p.to_owned(), c))
        .collect::<Vec<_>>();
    assert!(
        problems.contains(&("marriage.spouse_id_number".to_owned(), "YW-1620")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|(p, _)| p == "marriage.marriage_certificate"),
        "{problems:?}"
    );
}

/// The server's side: a submission is checked again against the schema, and
/// its licence references must be the ones its values hold.
#[test]
fn the_receiving_side_checks_a_submission_again() {
    let who = wallet("陈志强", DRIVER_ID, "1988-01-01", "male");
    let (schema, draft, _) = filled(DRIVING, &who, &driving_values());
    let submission = draft.submission(&schema, TODAY).unwrap();
    assert_eq!(submission.check(&schema, TODAY), vec![]);

    let mut smuggled = submission.clone();
    smuggled.licence_refs[0].reason = "另一个事由".to_owned();
    assert_eq!(
        codes(&smuggled.check(&schema, TODAY)),
        [("licence_refs", "YW-1623")]
    );
    let mut hidden = submission.clone();
    hidden.attachments.clear();
    assert_eq!(
        codes(&hidden.check(&schema, TODAY)),
        [("attachments", "YW-1623")]
    );
    let mut tampered = submission;
    tampered.values.remove("name");
    let problems = tampered.check(&schema, TODAY);
    assert!(!problems.is_empty());
    assert!(problems.iter().all(|p| p.code.starts_with("YW-16")));
}

#[test]
fn driving_example_broken() {
    let who = wallet("陈志强", DRIVER_ID, "1988-01-01", "male");
    let (schema, mut draft, _) = filled(DRIVING, &who, &driving_values());
    fill(
        &mut draft,
        &schema,
        &[
            // A birth certificate is not a driving licence.
            (
                "current_licence",
                json!({"licence_id": licence(BIRTH_CERT_TYPE, "440300000123"), "reason": "换证"}),
            ),
            ("medical_exam_date", json!("2025-02-30")),
            ("pickup_date", json!("2025-06-14")),
            ("collect_method", json!("mail")),
        ],
    );
    assert_eq!(
        codes(&draft.validate(&schema, TODAY)),
        [
            ("licence.current_licence", "YW-1616"),
            ("renewal.medical_exam_date", "YW-1609"),
            ("delivery.mailing_address", "YW-1602"),
            ("delivery.pickup_date", "YW-1610"),
        ]
    );
    // With valid dates, the appointment must still follow the examination.
    fill(
        &mut draft,
        &schema,
        &[
            ("medical_exam_date", json!("2025-06-15")),
            ("pickup_date", json!("2025-06-15")),
            (
                "current_licence",
                json!({"licence_id": licence(DRIVING_LICENCE_TYPE, "1"), "reason": "换证"}),
            ),
            ("mailing_address", address("南山区科技园1号")),
        ],
    );
    assert_eq!(
        codes(&draft.validate(&schema, TODAY)),
        [("delivery.pickup_date", "YW-1619")]
    );
}

// ---- the draft lifecycle ----

#[test]
fn draft_lifecycle() {
    let schema = FormSchema::from_json(BIRTH).unwrap();
    let who = wallet("林美华", APPLICANT_ID, "1990-03-07", "female");
    let mut draft = Draft::new(&schema, T0).unwrap();
    assert_eq!(draft.id().len(), 32);
    assert_eq!(draft.matter_code(), schema.matter_code());

    // Prefill: government fields are read-only.
    assert_eq!(
        draft.prefill(&schema, &who),
        ["applicant_name", "applicant_id_number"]
    );
    assert!(draft.is_government("applicant_name"));
    assert_eq!(draft.value("applicant_name"), Some(&json!("林美华")));
    let err = draft
        .set(&schema, "applicant_name", json!("别人"))
        .unwrap_err();
    assert_eq!(err, DraftError::ReadOnly("applicant_name".into()));
    assert_eq!(err.code(), "YW-1552");
    assert_eq!(
        draft
            .set(&schema, "nickname", json!("x"))
            .unwrap_err()
            .code(),
        "YW-1551"
    );

    // Revisions: 1, 2; an unchanged save adds nothing.
    fill(&mut draft, &schema, &birth_values()[..4]);
    assert_eq!(draft.save(T0 + 10), 1);
    let first = draft.values().clone();
    fill(&mut draft, &schema, &birth_values()[4..]);
    assert_eq!(draft.save(T0 + 20), 2);
    assert_eq!(draft.save(T0 + 30), 2);
    assert_eq!(draft.revisions().len(), 2);

    // Undo to 1: a new revision 3 equal to 1.
    draft.undo_to(1, T0 + 40).unwrap();
    let numbers: Vec<u32> = draft.revisions().iter().map(|r| r.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(draft.revisions()[2].values, draft.revisions()[0].values);
    assert_eq!(draft.revisions()[2].at, T0 + 40);
    assert_eq!(draft.values(), &first);

    // Every problem at once, with paths and bilingual messages.
    let problems = draft.validate(&schema, TODAY);
    assert_eq!(
        codes(&problems),
        [
            ("child.child_name", "YW-1601"),
            ("child.child_sex", "YW-1601"),
            ("child.child_birth_date", "YW-1601"),
            ("child.birth_place", "YW-1601"),
            ("child.hospital_name", "YW-1601"),
            ("child.birth_certificate", "YW-1601"),
            ("household.household_address", "YW-1601"),
            ("insurance.medical_insurance", "YW-1601"),
            ("insurance.social_security_card", "YW-1601"),
            ("subsidy.subsidy_bank_name", "YW-1601"),
            ("subsidy.subsidy_bank_account", "YW-1601"),
        ]
    );
    assert_eq!(problems[0].message_zh, "「新生儿姓名」为必填项");
    assert_eq!(problems[0].message_en, "Name of the newborn: required");
    assert!(draft.submission(&schema, TODAY).is_err());

    // Back to revision 2 and submit.
    draft.undo_to(2, T0 + 50).unwrap();
    assert_eq!(draft.current_revision(), 4);
    let submission = draft.submission(&schema, TODAY).unwrap();
    let payload = serde_json::to_value(&submission).unwrap();
    let keys: BTreeSet<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "draft_id",
            "matter_code",
            "schema_version",
            "values",
            "licence_refs",
            "attachments"
        ])
    );
    assert_eq!(payload["draft_id"], json!(draft.id()));
    assert_eq!(payload["matter_code"], json!(schema.matter_code()));
    assert_eq!(payload["schema_version"], json!(1));
    assert_eq!(
        payload["values"]["applicant_id_number"],
        json!(APPLICANT_ID)
    );
    assert_eq!(payload["values"].as_object().unwrap().len(), 18);
    assert_eq!(
        payload["licence_refs"],
        json!([{
            "field": "birth_certificate",
            "licence_id": licence(BIRTH_CERT_TYPE, "2025FJ000888"),
            "reason": "办理新生儿出生一件事"
        }])
    );
    assert_eq!(payload["attachments"], json!([]));

    // Expiry counts from the last revision (T0 + 50).
    let (ttl, remind) = (Draft::DEFAULT_TTL_SECS, Draft::DEFAULT_REMIND_BEFORE_SECS);
    let last = draft.updated_at();
    assert_eq!(last, T0 + 50);
    assert!(!draft.is_expired(last + 29 * DAY, ttl));
    assert!(draft.is_expired(last + 31 * DAY, ttl));
    assert!(!draft.expiry_reminder_due(last + 26 * DAY, ttl, remind));
    assert!(draft.expiry_reminder_due(last + 28 * DAY, ttl, remind));
    assert!(draft.expiry_reminder_due(last + 29 * DAY, ttl, remind));
    assert!(!draft.expiry_reminder_due(last + 31 * DAY, ttl, remind));
}

#[test]
fn problems_serialize_for_the_ui() {
    let schema = FormSchema::from_json(SENIOR).unwrap();
    let draft = Draft::new(&schema, T0).unwrap();
    let problems = draft.validate(&schema, TODAY);
    let v = serde_json::to_value(&problems[0]).unwrap();
    assert_eq!(v["path"], json!("applicant.name"));
    assert_eq!(v["code"], json!("YW-1601"));
    assert_eq!(v["message_zh"], json!("「姓名」为必填项"));
}

#[test]
fn draft_serde_round_trip() {
    let who = wallet("张桂英", SENIOR_ID, "1949-12-31", "female");
    let (schema, mut draft, _) = filled(SENIOR, &who, &senior_values());
    draft.save(T0 + 1);
    draft.set(&schema, "collect_method", json!("mail")).unwrap();
    draft.save(T0 + 2);
    let text = serde_json::to_string(&draft).unwrap();
    let mut back: Draft = serde_json::from_str(&text).unwrap();
    assert_eq!(back, draft);
    assert!(back.is_government("id_number"));
    assert_eq!(back.revisions().len(), 2);
    assert_eq!(
        back.set(&schema, "name", json!("x")).unwrap_err().code(),
        "YW-1552"
    );
    let revision: Revision =
        serde_json::from_value(serde_json::to_value(&draft.revisions()[0]).unwrap()).unwrap();
    assert_eq!(revision, draft.revisions()[0]);
}

#[test]
fn debug_output_has_no_values() {
    let who = wallet("张桂英", SENIOR_ID, "1949-12-31", "female");
    let (schema, mut draft, _) = filled(SENIOR, &who, &senior_values());
    draft.save(T0);
    let submission = draft.submission(&schema, TODAY).unwrap();
    let conflicts = merge(
        &BTreeMap::from([("phone".to_owned(), json!("13912345678"))]),
        &BTreeMap::from([("phone".to_owned(), json!("13700000000"))]),
        &BTreeMap::from([("phone".to_owned(), json!("13600000000"))]),
    );
    let text = format!(
        "{draft:?} {:?} {submission:?} {conflicts:?}",
        draft.revisions()
    );
    for secret in [
        "张桂英",
        SENIOR_ID,
        "13912345678",
        "13700000000",
        "幸福里",
        "3f3f",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains(draft.id()));
    assert!(text.contains(schema.matter_code()));
}

// ---- schema loading errors ----

/// An edit that breaks the senior-card schema in one place.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn bad_schemas_report_code_and_path() {
    let base: Value = serde_json::from_str(SENIOR).unwrap();
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "YW-1503",
            Box::new(|v: &mut Value| v["owner"] = json!("x")),
            "owner",
        ),
        (
            "YW-1509",
            Box::new(|v: &mut Value| v["sections"][1]["fields"][2]["type"] = json!("mobile")),
            "sections[1].fields[2].type",
        ),
        (
            "YW-1508",
            Box::new(|v: &mut Value| v["sections"][2]["fields"][0]["id"] = json!("phone")),
            "sections[2].fields[0].id",
        ),
        (
            "YW-1510",
            Box::new(|v: &mut Value| {
                v["sections"][2]["fields"][1]["required_if"]["field"] = json!("delivery")
            }),
            "sections[2].fields[1].required_if.field",
        ),
        (
            "YW-1511",
            Box::new(|v: &mut Value| {
                // collect_method ⇄ mailing_address
                v["sections"][2]["fields"][0]["required"] = json!(false);
                v["sections"][2]["fields"][0]["required_if"] = json!({"field": "mailing_address", "equals": {"region": "110105", "detail": "x"}})
            }),
            "sections[2].fields[0].required_if.field",
        ),
        (
            "YW-1512",
            Box::new(|v: &mut Value| v["sections"][1]["fields"][0]["pattern"] = json!("\\p{Han}+")),
            "sections[1].fields[0].pattern",
        ),
        (
            "YW-1513",
            Box::new(|v: &mut Value| v["sections"][1]["fields"][0]["min_length"] = json!(40)),
            "sections[1].fields[0].min_length",
        ),
        (
            "YW-1514",
            Box::new(|v: &mut Value| v["sections"][1]["fields"][1]["options"] = json!([])),
            "sections[1].fields[1].options",
        ),
        (
            "YW-1515",
            Box::new(|v: &mut Value| {
                v["sections"][0]["fields"][0]["bind"] = json!("credential.nickname")
            }),
            "sections[0].fields[0].bind",
        ),
        (
            "YW-1510",
            Box::new(|v: &mut Value| v["rules"][0]["other"] = json!("mobile")),
            "rules[0].other",
        ),
        (
            "YW-1516",
            Box::new(|v: &mut Value| v["rules"][0]["kind"] = json!("not_before")),
            "rules[0].kind",
        ),
        (
            "YW-1503",
            Box::new(|v: &mut Value| v["sections"][0]["fields"][0]["requried"] = json!(true)),
            "sections[0].fields[0].requried",
        ),
    ];
    for (code, edit, path) in cases {
        let mut v = base.clone();
        edit(&mut v);
        let err: SchemaError = FormSchema::from_json(&v.to_string()).unwrap_err();
        assert_eq!((err.code(), err.path()), (code, path), "{err}");
        assert!(err.to_string().contains(path));
    }
}

// ---- a 60-field schema mixing every type (same shape as the benchmark's) ----

fn sixty_fields() -> (FormSchema, BTreeMap<String, Value>) {
    let types = [
        "text",
        "number",
        "date",
        "enum",
        "id_number",
        "uscc",
        "phone",
        "address",
        "licence_ref",
        "attachment",
    ];
    let licence_id = licence(DRIVING_LICENCE_TYPE, "2024FJ000123");
    let mut sections = Vec::new();
    let mut values = BTreeMap::new();
    for s in 0..6 {
        let mut fields = Vec::new();
        for (t, ty) in types.iter().enumerate() {
            let id = format!("f{s}_{t}");
            let label = json!({"zh": format!("字段{s}{t}"), "en": format!("Field {s}{t}")});
            let (field, value) = match *ty {
                "text" => (
                    json!({"max_length": 32, "pattern": "[\\x{4e00}-\\x{9fff}A-Za-z0-9 ]+"}),
                    json!("测试 Test 123"),
                ),
                "number" => (json!({"min": 0, "max": 1000, "integer": true}), json!(42)),
                "date" => (
                    json!({"min": "2000-01-01", "max": "today"}),
                    json!("2024-05-20"),
                ),
                "enum" => (
                    json!({"options": [
                        {"value": "a", "label": {"zh": "甲", "en": "A"}},
                        {"value": "b", "label": {"zh": "乙", "en": "B"}}]}),
                    json!("b"),
                ),
                "id_number" => (json!({}), json!(SENIOR_ID)),
                "uscc" => (json!({}), json!(ISSUER)),
                "phone" => (json!({}), json!(format!("1380013800{s}"))),
                "address" => (json!({}), address("鼓楼区五四路100号")),
                "licence_ref" => (
                    json!({"licence_type": DRIVING_LICENCE_TYPE}),
                    json!({"licence_id": licence_id, "reason": "测试"}),
                ),
                _ => (json!({}), attachment("image/png")),
            };
            let mut field = field;
            field["id"] = json!(id);
            field["type"] = json!(ty);
            field["label"] = label;
            field["required"] = json!(true);
            fields.push(field);
            values.insert(id, value);
        }
        sections.push(json!({
            "id": format!("s{s}"),
            "title": {"zh": format!("第{s}部分"), "en": format!("Part {s}")},
            "fields": fields,
        }));
    }
    let schema = json!({
        "matter_code": "BENCH-60",
        "version": 1,
        "title": {"zh": "六十项", "en": "Sixty fields"},
        "sections": sections,
        "rules": [
            {"kind": "not_equal", "field": "f1_6", "other": "f0_6"},
            {"kind": "date_after", "field": "f1_2", "after": "f0_2"}
        ],
    });
    // f1_2 must be after f0_2 for the rule to pass.
    values.insert("f1_2".into(), json!("2024-05-21"));
    (FormSchema::from_json(&schema.to_string()).unwrap(), values)
}

#[test]
fn sixty_field_schema_validates() {
    let (schema, values) = sixty_fields();
    assert_eq!(schema.fields().count(), 60);
    let mut draft = Draft::new(&schema, T0).unwrap();
    for (k, v) in &values {
        draft.set(&schema, k, v.clone()).unwrap();
    }
    assert_eq!(draft.validate(&schema, TODAY), vec![]);
    let submission = draft.submission(&schema, TODAY).unwrap();
    assert_eq!(submission.values.len(), 60);
    assert_eq!(submission.licence_refs.len(), 6);
    assert_eq!(submission.attachments.len(), 6);
}

// ---- merge properties ----

const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

/// A value from a small pool, or `None` for an absent (cleared) field; the
/// pool is small so that equal and unequal edits both happen often.
fn cell() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        Just(Some(json!("x"))),
        Just(Some(json!("y"))),
        Just(Some(json!(1))),
        Just(Some(json!(2))),
    ]
}

fn values_map() -> impl Strategy<Value = BTreeMap<String, Value>> {
    prop::collection::vec(cell(), KEYS.len()).prop_map(|cells| {
        KEYS.iter()
            .zip(cells)
            .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), v)))
            .collect()
    })
}

fn conflict_fields(m: &yiwang_core::forms::Merge) -> BTreeSet<String> {
    m.conflicts.iter().map(|c| c.field.clone()).collect()
}

proptest! {
    #[test]
    fn merge_never_loses_a_one_sided_edit(
        b in values_map(), l in values_map(), r in values_map()
    ) {
        let m = merge(&b, &l, &r);
        for k in KEYS {
            let (bk, lk, rk) = (b.get(k), l.get(k), r.get(k));
            if lk != bk && rk == bk {
                prop_assert_eq!(m.values.get(k), lk);
            }
            if rk != bk && lk == bk {
                prop_assert_eq!(m.values.get(k), rk);
            }
        }
    }

    #[test]
    fn merge_is_symmetric(b in values_map(), l in values_map(), r in values_map()) {
        let lr = merge(&b, &l, &r);
        let rl = merge(&b, &r, &l);
        let conflicts = conflict_fields(&lr);
        prop_assert_eq!(&conflicts, &conflict_fields(&rl));
        for k in KEYS.iter().filter(|k| !conflicts.contains(**k)) {
            prop_assert_eq!(lr.values.get(*k), rl.values.get(*k));
        }
    }

    #[test]
    fn merge_idempotent_cases(b in values_map(), x in values_map()) {
        let same = merge(&b, &x, &x);
        prop_assert_eq!(&same.values, &x);
        prop_assert!(same.conflicts.is_empty());
        let remote_only = merge(&b, &b, &x);
        prop_assert_eq!(&remote_only.values, &x);
        prop_assert!(remote_only.conflicts.is_empty());
        let local_only = merge(&b, &x, &b);
        prop_assert_eq!(&local_only.values, &x);
        prop_assert!(local_only.conflicts.is_empty());
    }

    #[test]
    fn conflicts_exactly_where_both_changed_differently(
        b in values_map(), l in values_map(), r in values_map()
    ) {
        let m = merge(&b, &l, &r);
        let expected: BTreeSet<String> = KEYS
            .iter()
            .filter(|k| {
                let (bk, lk, rk) = (b.get(**k), l.get(**k), r.get(**k));
                lk != bk && rk != bk && lk != rk
            })
            .map(|k| (*k).to_owned())
            .collect();
        prop_assert_eq!(conflict_fields(&m), expected);
        for c in &m.conflicts {
            // The local edit is what the citizen keeps seeing until they choose.
            prop_assert_eq!(m.values.get(&c.field), l.get(&c.field));
            prop_assert_eq!(c.base.as_ref(), b.get(&c.field));
            prop_assert_eq!(c.local.as_ref(), l.get(&c.field));
            prop_assert_eq!(c.remote.as_ref(), r.get(&c.field));
        }
    }

    #[test]
    fn draft_merge_remote_matches_merge(
        b in values_map(), l in values_map(), r in values_map()
    ) {
        let schema = FormSchema::from_json(&json!({
            "matter_code": "MERGE", "version": 1,
            "title": {"zh": "合并", "en": "Merge"},
            "sections": [{"id": "s", "title": {"zh": "节", "en": "S"},
                "fields": KEYS.iter().map(|k| json!({
                    "id": k, "type": "text", "label": {"zh": k, "en": k}})).collect::<Vec<_>>()}]
        }).to_string()).unwrap();
        let mut draft = Draft::new(&schema, T0).unwrap();
        for (k, v) in &l {
            // Text fields take strings only; other kinds stay out of the local side.
            if v.is_string() {
                draft.set(&schema, k, v.clone()).unwrap();
            }
        }
        let local = draft.values().clone();
        let conflicts = draft.merge_remote(&b, &r, T0 + 1);
        let expected = merge(&b, &local, &r);
        prop_assert_eq!(draft.values(), &expected.values);
        prop_assert_eq!(conflicts, expected.conflicts);
        prop_assert_eq!(draft.revisions().last().map(|r| &r.values), Some(&expected.values));
    }
}
