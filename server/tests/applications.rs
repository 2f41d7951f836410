//! Draft sync (versions, `If-Match`, the field-level merge, conflicts with
//! both values), applications (办件) checked again on the server, department
//! status transitions with inbox messages, and draft expiry — on SQLite and
//! PostgreSQL, with each kind of bad input.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::{basic, bearer, call, code, enrolled_person, get, login, post};
use serde_json::{Value, json};
use tower::ServiceExt;
use yiwang_core::forms::{Draft, FormSchema, PrefillSource};
use yiwang_core::identity::{LicenceId, Uscc};
use yiwang_server::applications::drafts::remind_and_expire;
use yiwang_server::db::testing;
use yiwang_server::push::now_ms;
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "test-admin-token-0123456789";
const MOTHER: &str = "330106198506120023";
const OTHER: &str = "110108198807154325";
/// 新生儿出生一件事 (online, with the birth form).
const BIRTH: &str = "11100000000013338W3110000000001";
const BIRTH_DEPT: &str = "11100000MB1692364P";
/// A window-only matter.
const WINDOW: &str = "11100000MB1692364P3110000000002";
const DRAFT: &str = "0123456789abcdef0123456789abcdef";

async fn state(db: &yiwang_server::db::Db) -> AppState {
    let config = Config {
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    AppState::with_config(db.clone(), config).await.unwrap()
}

/// Calls the app; the status, the headers and the JSON body.
async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn put(path: &str, token: &str, precondition: Option<(&str, &str)>, body: &Value) -> Request<Body> {
    let mut builder = Request::put(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"));
    if let Some((name, value)) = precondition {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

fn if_match(v: i64) -> Option<(&'static str, String)> {
    Some(("if-match", format!("\"{v}\"")))
}

async fn token(app: &axum::Router, id_number: &str) -> String {
    let phone = enrolled_person(app, id_number).await;
    login(app, &phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

struct Wallet;

impl PrefillSource for Wallet {
    fn value(&self, key: &str) -> Option<Value> {
        match key {
            "credential.name" => Some(json!("李梅")),
            "credential.id_number" => Some(json!(MOTHER)),
            _ => None,
        }
    }
}

fn licence_id() -> String {
    let issuer = Uscc::parse("91350100M000100Y43").unwrap();
    LicenceId::new("11100000MB0143028R001", &issuer, "2026ZJ000123", 1)
        .unwrap()
        .as_str()
        .to_owned()
}

fn address(detail: &str) -> Value {
    json!({"region": "330106", "detail": detail})
}

/// The birth form, prefilled and filled in completely.
async fn birth_draft(app: &axum::Router) -> (FormSchema, Draft) {
    let (_, matter) = call(app, get(&format!("/v1/matters/{BIRTH}"))).await;
    let schema = FormSchema::from_json(&matter["form"].to_string()).unwrap();
    let mut draft = Draft::new(&schema, 1_763_856_000).unwrap();
    draft.prefill(&schema, &Wallet);
    for (field, value) in [
        ("applicant_relation", json!("mother")),
        ("phone", json!("13800138000")),
        ("other_parent_name", json!("王建国")),
        ("other_parent_id_number", json!(OTHER)),
        ("child_name", json!("王小明")),
        ("child_sex", json!("male")),
        ("child_birth_date", json!("2026-11-01")),
        ("birth_place", address("西湖区 浙江省妇幼保健院")),
        ("hospital_name", json!("浙江省妇幼保健院")),
        (
            "birth_certificate",
            json!({"licence_id": licence_id(), "reason": "办理新生儿出生一件事"}),
        ),
        ("household_address", address("西湖区文三路100号")),
        ("medical_insurance", json!("resident")),
        ("social_security_card", json!("mail")),
        ("card_mailing_address", address("西湖区文三路100号")),
        ("subsidy_bank_name", json!("中国工商银行")),
        ("subsidy_bank_account", json!("6222020200112233445")),
    ] {
        draft.set(&schema, field, value).unwrap();
    }
    (schema, draft)
}

fn body_of(values: &BTreeMap<String, Value>, government: &[&str]) -> Value {
    json!({"matter_code": BIRTH, "schema_version": 1, "values": values, "government": government})
}

#[tokio::test]
async fn drafts_sync_with_versions_merge_and_conflicts() {
    for test_db in testing::all("drafts_sync").await {
        let app = app(state(&test_db.db).await);
        let token = token(&app, MOTHER).await;
        let path = format!("/v1/drafts/{DRAFT}");
        let (_, draft) = birth_draft(&app).await;
        let gov = ["applicant_id_number", "applicant_name"];
        let mut values = draft.values().clone();
        let body = body_of(&values, &gov);

        // Created once, with If-None-Match: *.
        let create = Some(("if-none-match", "*"));
        let (status, headers, stored) = send(&app, put(&path, &token, create, &body)).await;
        assert_eq!(status, StatusCode::CREATED, "{stored}");
        assert_eq!(headers["etag"], "\"1\"");
        assert_eq!(stored["version"], 1);
        assert_eq!(stored["merged"], false);
        assert_eq!(stored["government"], json!(gov));
        let (status, _, refused) = send(&app, put(&path, &token, create, &body)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::PRECONDITION_FAILED, Some("YW-4120"))
        );
        // No precondition at all.
        let (status, _, refused) = send(&app, put(&path, &token, None, &body)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::PRECONDITION_REQUIRED, Some("YW-4280"))
        );
        // Saving the same values again is not a new version.
        let m = if_match(1).unwrap();
        let (status, _, same) = send(&app, put(&path, &token, Some((m.0, &m.1)), &body)).await;
        assert_eq!(
            (status, same["version"].clone()),
            (StatusCode::OK, json!(1))
        );

        // Device A and device B both start from version 1.
        let mut a = values.clone();
        a.insert("phone".into(), json!("13900139000"));
        let m = if_match(1).unwrap();
        let (status, headers, v2) = send(
            &app,
            put(&path, &token, Some((m.0, &m.1)), &body_of(&a, &gov)),
        )
        .await;
        assert_eq!(
            (status, headers["etag"].to_str().unwrap()),
            (StatusCode::OK, "\"2\"")
        );
        assert_eq!(v2["merged"], false);
        let mut b = values.clone();
        b.insert("hospital_name".into(), json!("杭州市妇产科医院"));
        let (status, _, v3) = send(
            &app,
            put(&path, &token, Some((m.0, &m.1)), &body_of(&b, &gov)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v3}");
        assert_eq!(
            (v3["version"].clone(), v3["merged"].clone()),
            (json!(3), json!(true))
        );
        assert_eq!(v3["values"]["phone"], "13900139000");
        assert_eq!(v3["values"]["hospital_name"], "杭州市妇产科医院");
        values = serde_json::from_value(v3["values"].clone()).unwrap();

        // Both change the child's name, differently: B is told, with both values.
        let mut a = values.clone();
        a.insert("child_name".into(), json!("王小刚"));
        let m = if_match(3).unwrap();
        let (status, _, v4) = send(
            &app,
            put(&path, &token, Some((m.0, &m.1)), &body_of(&a, &gov)),
        )
        .await;
        assert_eq!((status, v4["version"].clone()), (StatusCode::OK, json!(4)));
        let mut b = values.clone();
        b.insert("child_name".into(), json!("王小强"));
        b.remove("card_mailing_address");
        let (status, _, conflict) = send(
            &app,
            put(&path, &token, Some((m.0, &m.1)), &body_of(&b, &gov)),
        )
        .await;
        assert_eq!(
            (status, code(&conflict)),
            (StatusCode::CONFLICT, Some("YW-4096"))
        );
        assert_eq!(conflict["version"], 4);
        assert_eq!(
            conflict["conflicts"],
            json!([{"field": "child_name", "base": "王小明", "yours": "王小强", "theirs": "王小刚"}])
        );
        assert_eq!(conflict["base_values"]["child_name"], "王小明");
        assert_eq!(conflict["values"]["child_name"], "王小刚");
        // Nothing was stored.
        let (_, headers, now) = send(&app, bearer(get(&path), &token)).await;
        assert_eq!(headers["etag"], "\"4\"");
        assert_eq!(now["values"]["child_name"], "王小刚");
        assert!(now["values"].get("card_mailing_address").is_some());
        // B chose its own value: sent against version 4, it is stored.
        let m = if_match(4).unwrap();
        let (status, _, v5) = send(
            &app,
            put(&path, &token, Some((m.0, &m.1)), &body_of(&b, &gov)),
        )
        .await;
        assert_eq!((status, v5["version"].clone()), (StatusCode::OK, json!(5)));
        assert_eq!(v5["values"]["child_name"], "王小强");
        assert!(v5["values"].get("card_mailing_address").is_none());

        // Stale or bad preconditions.
        for bad in ["\"9\"", "abc", "\"0\""] {
            let (status, _, refused) = send(
                &app,
                put(&path, &token, Some(("if-match", bad)), &body_of(&b, &gov)),
            )
            .await;
            assert_eq!(
                (status, code(&refused)),
                (StatusCode::PRECONDITION_FAILED, Some("YW-4120")),
                "{bad}"
            );
        }

        // Bodies that do not fit the form.
        let m = if_match(5).unwrap();
        let mut unknown = b.clone();
        unknown.insert("favourite_colour".into(), json!("blue"));
        let mut wrong = b.clone();
        wrong.insert("child_name".into(), json!(42));
        let mut null = b.clone();
        null.insert("child_name".into(), Value::Null);
        for (what, body) in [
            ("unknown field", body_of(&unknown, &gov)),
            ("wrong kind", body_of(&wrong, &gov)),
            ("null", body_of(&null, &gov)),
            (
                "government without value",
                body_of(&b, &["card_mailing_address"]),
            ),
            (
                "unknown matter",
                json!({"matter_code": "X1", "schema_version": 1, "values": {}}),
            ),
            (
                "unknown version",
                json!({"matter_code": BIRTH, "schema_version": 7, "values": {}}),
            ),
            (
                "window matter",
                json!({"matter_code": WINDOW, "schema_version": 1, "values": {}}),
            ),
        ] {
            let (status, _, refused) =
                send(&app, put(&path, &token, Some((m.0, &m.1)), &body)).await;
            assert_eq!(
                (status, code(&refused)),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4731")),
                "{what}: {refused}"
            );
            assert!(!refused.to_string().contains("blue"));
        }
        let (status, _, refused) = send(
            &app,
            put(
                "/v1/drafts/NOT-HEX",
                &token,
                Some((m.0, &m.1)),
                &body_of(&b, &gov),
            ),
        )
        .await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4730"))
        );

        // Another citizen does not see it; the owner lists it.
        let stranger = self::token(&app, OTHER).await;
        let (status, _, refused) = send(&app, bearer(get(&path), &stranger)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::NOT_FOUND, Some("YW-4050"))
        );
        let (status, _, refused) = send(
            &app,
            put(&path, &stranger, Some((m.0, &m.1)), &body_of(&b, &gov)),
        )
        .await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::NOT_FOUND, Some("YW-4050"))
        );
        let (_, _, list) = send(&app, bearer(get("/v1/drafts"), &token)).await;
        assert_eq!(list["drafts"].as_array().unwrap().len(), 1);
        assert_eq!(list["drafts"][0]["version"], 5);
        assert!(list["drafts"][0].get("values").is_none());

        // Deleting: a stale If-Match is refused, then it is gone.
        let delete = |precondition: Option<&str>| {
            let mut builder =
                Request::delete(&path).header("authorization", format!("Bearer {token}"));
            if let Some(p) = precondition {
                builder = builder.header("if-match", p);
            }
            builder.body(Body::empty()).unwrap()
        };
        let (status, _, refused) = send(&app, delete(Some("\"4\""))).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::PRECONDITION_FAILED, Some("YW-4120"))
        );
        let (status, _, _) = send(&app, delete(Some("\"5\""))).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _, refused) = send(&app, bearer(get(&path), &token)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::NOT_FOUND, Some("YW-4050"))
        );
        test_db.cleanup().await;
    }
}

fn inbox_titles(inbox: &Value) -> Vec<String> {
    inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} | {}",
                m["title"].as_str().unwrap(),
                m["body"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn applications_are_checked_submitted_once_and_moved_by_their_department() {
    for test_db in testing::all("applications_flow").await {
        let app = app(state(&test_db.db).await);
        let token = token(&app, MOTHER).await;
        let (schema, draft) = birth_draft(&app).await;
        // The draft is synced first; submitting removes it.
        let body = body_of(draft.values(), &[]);
        let draft_path = format!("/v1/drafts/{}", draft.id());
        let (status, _, _) = send(
            &app,
            put(&draft_path, &token, Some(("if-none-match", "*")), &body),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let today = time::OffsetDateTime::now_utc().date();
        let submission = serde_json::to_value(draft.submission(&schema, today).unwrap()).unwrap();

        // Checked again here: a missing required value, a smuggled licence reference.
        let mut missing = submission.clone();
        missing["values"]
            .as_object_mut()
            .unwrap()
            .remove("child_name");
        let (status, _, refused) =
            send(&app, bearer(post("/v1/applications", missing), &token)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4732"))
        );
        let problems = refused["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 1, "{refused}");
        assert_eq!(problems[0]["code"], "YW-1601");
        assert_eq!(problems[0]["path"], "child.child_name");
        assert!(!refused.to_string().contains(MOTHER));
        let mut smuggled = submission.clone();
        smuggled["licence_refs"][0]["reason"] = json!("别的用途");
        let (status, _, refused) =
            send(&app, bearer(post("/v1/applications", smuggled), &token)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4732"))
        );
        assert_eq!(refused["problems"][0]["code"], "YW-1623");
        let mut long_reason = submission.clone();
        let long = "因".repeat(201);
        long_reason["values"]["birth_certificate"]["reason"] = json!(long);
        long_reason["licence_refs"][0]["reason"] = json!(long);
        let (status, _, refused) =
            send(&app, bearer(post("/v1/applications", long_reason), &token)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4732"))
        );
        assert_eq!(refused["problems"][0]["code"], "YW-1617");
        let mut window = submission.clone();
        window["matter_code"] = json!(WINDOW);
        let (status, _, refused) =
            send(&app, bearer(post("/v1/applications", window), &token)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4733"))
        );
        let mut bad_id = submission.clone();
        bad_id["draft_id"] = json!("x");
        let (status, _, refused) =
            send(&app, bearer(post("/v1/applications", bad_id), &token)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4730"))
        );
        let (status, _, refused) = send(
            &app,
            bearer(post("/v1/applications", json!({"draft_id": DRAFT})), &token),
        )
        .await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4002"))
        );

        // Submitted: a receipt, the licence with its reason, the draft gone.
        let (status, headers, application) = send(
            &app,
            bearer(post("/v1/applications", submission.clone()), &token),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{application}");
        let receipt = application["receipt_no"].as_str().unwrap().to_owned();
        assert!(
            receipt.starts_with("YW") && receipt.len() == 18,
            "{receipt}"
        );
        assert_eq!(headers["location"], format!("/v1/applications/{receipt}"));
        assert_eq!(application["status"], "submitted");
        assert_eq!(application["department"]["code"], BIRTH_DEPT);
        assert_eq!(
            application["licence_refs"][0]["reason"],
            "办理新生儿出生一件事"
        );
        assert_eq!(application["history"][0]["actor"], "citizen");
        let (status, _, _) = send(&app, bearer(get(&draft_path), &token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The same submission again: the same application; other content: refused.
        let (status, _, again) = send(
            &app,
            bearer(post("/v1/applications", submission.clone()), &token),
        )
        .await;
        assert_eq!(
            (status, again["receipt_no"].as_str()),
            (StatusCode::OK, Some(receipt.as_str()))
        );
        let mut other = submission.clone();
        other["values"]["phone"] = json!("13900139000");
        let (status, _, refused) =
            send(&app, bearer(post("/v1/applications", other), &token)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::CONFLICT, Some("YW-4098"))
        );

        // Departments: only the matter's own, and only with the scope.
        let (dept, dept_secret) =
            common::service_client(&app, ADMIN, &[&format!("applications:{BIRTH_DEPT}")]).await;
        let (elsewhere, elsewhere_secret) =
            common::service_client(&app, ADMIN, &["applications:11100000MB0143028R"]).await;
        let (sender, sender_secret) =
            common::service_client(&app, ADMIN, &["notifications:send"]).await;
        let one = format!("/v1/department/applications/{receipt}");
        let status_path = format!("{one}/status");
        let (status, _, refused) = send(&app, basic(get(&one), &sender, &sender_secret)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::FORBIDDEN, Some("YW-4033"))
        );
        let (status, _, refused) =
            send(&app, basic(get(&one), &elsewhere, &elsewhere_secret)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::NOT_FOUND, Some("YW-4051"))
        );
        let (status, _, refused) = send(
            &app,
            basic(
                post(&status_path, json!({"status": "accepted"})),
                &elsewhere,
                &elsewhere_secret,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::NOT_FOUND, Some("YW-4051"))
        );
        let (_, _, list) = send(
            &app,
            basic(
                get("/v1/department/applications?status=submitted"),
                &dept,
                &dept_secret,
            ),
        )
        .await;
        assert_eq!(list["applications"][0]["receipt_no"], receipt.as_str());
        assert!(list["applications"][0].get("values").is_none());
        let (_, _, list) = send(
            &app,
            basic(
                get("/v1/department/applications"),
                &elsewhere,
                &elsewhere_secret,
            ),
        )
        .await;
        assert_eq!(list["applications"], json!([]));
        let (status, _, full) = send(&app, basic(get(&one), &dept, &dept_secret)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(full["values"]["child_name"], "王小明");

        let mv = |body: Value| {
            let app = app.clone();
            let request = basic(post(&status_path, body), &dept, &dept_secret);
            async move { send(&app, request).await }
        };
        // Bad bodies and transitions the table does not allow.
        for (body, expected) in [
            (
                json!({"status": "completed"}),
                (StatusCode::CONFLICT, "YW-4097"),
            ),
            (
                json!({"status": "approved"}),
                (StatusCode::CONFLICT, "YW-4097"),
            ),
            (
                json!({"status": "submitted"}),
                (StatusCode::UNPROCESSABLE_ENTITY, "YW-4736"),
            ),
            (
                json!({"status": "lost"}),
                (StatusCode::UNPROCESSABLE_ENTITY, "YW-4736"),
            ),
            (
                json!({"status": "needs_supplement"}),
                (StatusCode::UNPROCESSABLE_ENTITY, "YW-4736"),
            ),
            (
                json!({"status": "rejected", "message": ""}),
                (StatusCode::UNPROCESSABLE_ENTITY, "YW-4736"),
            ),
            (
                json!({"status": "rejected", "message": "长".repeat(301)}),
                (StatusCode::UNPROCESSABLE_ENTITY, "YW-4736"),
            ),
        ] {
            let (status, _, refused) = mv(body.clone()).await;
            assert_eq!(
                (status, code(&refused)),
                (expected.0, Some(expected.1)),
                "{body}"
            );
        }
        // needs_supplement → the citizen supplements → accepted → approved → completed.
        let (status, _, moved) =
            mv(json!({"status": "needs_supplement", "message": "请补充出生医学证明原件照片"}))
                .await;
        assert_eq!(
            (status, moved["status"].as_str()),
            (StatusCode::OK, Some("needs_supplement"))
        );
        let supplement = format!("/v1/applications/{receipt}/supplement");
        let mut changed = submission.clone();
        changed["values"]["phone"] = json!("13900139000");
        let (status, _, supplemented) =
            send(&app, bearer(post(&supplement, changed.clone()), &token)).await;
        assert_eq!(
            (status, supplemented["status"].as_str()),
            (StatusCode::OK, Some("submitted"))
        );
        assert_eq!(supplemented["values"]["phone"], "13900139000");
        let (status, _, refused) = send(&app, bearer(post(&supplement, changed), &token)).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::CONFLICT, Some("YW-4097"))
        );
        for next in ["accepted", "approved", "completed"] {
            let (status, _, moved) = mv(json!({"status": next})).await;
            assert_eq!(
                (status, moved["status"].as_str()),
                (StatusCode::OK, Some(next))
            );
        }
        let (status, _, refused) = mv(json!({"status": "accepted"})).await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::CONFLICT, Some("YW-4097"))
        );

        // The citizen sees the history and got a message for each change.
        let (_, _, mine) = send(
            &app,
            bearer(get(&format!("/v1/applications/{receipt}")), &token),
        )
        .await;
        let statuses: Vec<&str> = mine["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [
                "submitted",
                "needs_supplement",
                "submitted",
                "accepted",
                "approved",
                "completed"
            ]
        );
        assert_eq!(mine["history"][1]["message"], "请补充出生医学证明原件照片");
        let (_, _, list) = send(&app, bearer(get("/v1/applications"), &token)).await;
        assert_eq!(list["applications"][0]["status"], "completed");
        let (_, _, inbox) = send(&app, bearer(get("/v1/inbox?locale=zh-CN"), &token)).await;
        let titles = inbox_titles(&inbox);
        let updates: Vec<&String> = titles
            .iter()
            .filter(|t| t.starts_with("办件进度"))
            .collect();
        assert_eq!(updates.len(), 5, "{titles:?}");
        assert!(
            updates
                .iter()
                .any(|t| t.contains("需补正材料：请补充出生医学证明原件照片"))
        );
        assert!(
            updates[0].contains("已办结") && updates[0].contains(&receipt),
            "{updates:?}"
        );
        // Another citizen cannot read it.
        let stranger = self::token(&app, OTHER).await;
        let (status, _, refused) = send(
            &app,
            bearer(get(&format!("/v1/applications/{receipt}")), &stranger),
        )
        .await;
        assert_eq!(
            (status, code(&refused)),
            (StatusCode::NOT_FOUND, Some("YW-4051"))
        );
        // Each department change became an event for the rules.
        let events: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE event_type = 'application_status_changed' AND source = 'applications'",
        )
        .fetch_one(test_db.db.pool())
        .await
        .unwrap();
        assert_eq!(events, 4);
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn drafts_are_reminded_once_before_they_expire_and_then_deleted() {
    for test_db in testing::all("drafts_expiry").await {
        let state = state(&test_db.db).await;
        let app = app(state.clone());
        let token = token(&app, MOTHER).await;
        let (_, draft) = birth_draft(&app).await;
        let path = format!("/v1/drafts/{}", draft.id());
        let (status, _, stored) = send(
            &app,
            put(
                &path,
                &token,
                Some(("if-none-match", "*")),
                &body_of(draft.values(), &[]),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let expires = stored["expires_ms"].as_i64().unwrap();
        let day = 86_400_000;
        assert!((expires - now_ms() - 30 * day).abs() < 60_000);
        let push = &state.config().push;

        let sweep = remind_and_expire(&test_db.db, push, expires - 4 * day)
            .await
            .unwrap();
        assert_eq!((sweep.reminded, sweep.expired), (0, 0));
        let sweep = remind_and_expire(&test_db.db, push, expires - 2 * day)
            .await
            .unwrap();
        assert_eq!((sweep.reminded, sweep.expired), (1, 0));
        // Once: the next day's run does not remind again.
        let sweep = remind_and_expire(&test_db.db, push, expires - day)
            .await
            .unwrap();
        assert_eq!((sweep.reminded, sweep.expired), (0, 0));
        let (_, _, inbox) = send(&app, bearer(get("/v1/inbox?locale=zh-CN"), &token)).await;
        let titles = inbox_titles(&inbox);
        assert_eq!(titles.len(), 1, "{titles:?}");
        assert!(
            titles[0].starts_with("草稿即将过期：新生儿出生一件事"),
            "{titles:?}"
        );

        let sweep = remind_and_expire(&test_db.db, push, expires + 1)
            .await
            .unwrap();
        assert_eq!((sweep.reminded, sweep.expired), (0, 1));
        let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM draft_versions")
            .fetch_one(test_db.db.pool())
            .await
            .unwrap();
        assert_eq!(versions, 0);
        let (status, _, _) = send(&app, bearer(get(&path), &token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        test_db.cleanup().await;
    }
}

/// 用证: the library issues the birth certificate the application references;
/// the department fetches it with the citizen's reason and verifies the
/// attestation against the trust list; the citizen reads who used it; a type
/// not authorised is refused (and recorded); revoked, its next use is refused.
#[tokio::test]
async fn departments_use_licences_through_the_library_only_as_the_citizen_allowed() {
    use base64ct::{Base64, Encoding};
    use yiwang_core::credential::{TrustList, verify_attestation};
    use yiwang_core::crypto::VerifyingKey;
    const AUTHORITY: &str = "91350100M000100Y43";
    const BIRTH_CERT: &str = "11100000MB0143028R001";
    for test_db in testing::all("licence_use").await {
        let app = app(state(&test_db.db).await);
        let other = token(&app, OTHER).await;
        let token = token(&app, MOTHER).await;
        // The birth certificate of the draft, issued by the library.
        let (status, _) = call(
            &app,
            bearer(
                post(
                    "/v1/admin/authorities",
                    json!({"uscc": AUTHORITY, "name": "杭州市卫生健康委员会", "region": "330100",
                           "licence_types": [BIRTH_CERT]}),
                ),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, issued) = call(
            &app,
            bearer(
                post(
                    "/v1/library/licences",
                    json!({"issuer_uscc": AUTHORITY, "number": "2026ZJ000123",
                           "type_code": BIRTH_CERT, "holder": {"id_number": MOTHER, "name": "李梅"},
                           "jurisdiction": "330106"}),
                ),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        assert_eq!(issued["identifier"], licence_id());

        let (schema, draft) = birth_draft(&app).await;
        let today = time::OffsetDateTime::now_utc().date();
        let submission = serde_json::to_value(draft.submission(&schema, today).unwrap()).unwrap();
        let (status, _, application) =
            send(&app, bearer(post("/v1/applications", submission), &token)).await;
        assert_eq!(status, StatusCode::CREATED, "{application}");
        let receipt = application["receipt_no"].as_str().unwrap().to_owned();
        let (dept_id, dept_secret) =
            common::service_client(&app, ADMIN, &[&format!("applications:{BIRTH_DEPT}")]).await;
        let path = format!("/v1/department/applications/{receipt}/licences");
        let fetch = |body: Value| basic(post(&path, body), &dept_id, &dept_secret);

        // By reference, with the citizen's reason: an attestation for this department.
        let (status, used) = call(&app, fetch(json!({"licence_id": licence_id()}))).await;
        assert_eq!(status, StatusCode::OK, "{used}");
        assert_eq!(used["reason"], "办理新生儿出生一件事");
        let (_, issuer) = call(&app, get("/v1/issuer")).await;
        let anchor =
            VerifyingKey::from_spki_pem(issuer["public_key_pem"].as_str().unwrap()).unwrap();
        let response = app.clone().oneshot(get("/v1/trust-list")).await.unwrap();
        let list = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let now = yiwang_server::issuer::now();
        let trust = TrustList::verify(&list, &anchor, now).unwrap();
        let attestation = Base64::decode_vec(used["attestation"].as_str().unwrap()).unwrap();
        let verified = verify_attestation(&attestation, &trust, BIRTH_DEPT, now).unwrap();
        assert_eq!(verified.licence.identifier.as_str(), licence_id());
        assert_eq!(verified.licence.holder.as_str(), MOTHER);
        assert_eq!(verified.context, receipt);
        assert_eq!(
            verify_attestation(&attestation, &trust, "11100000MB0143028R", now)
                .unwrap_err()
                .code(),
            "YW-1411"
        );

        // By type: refused until the citizen authorises it for this application.
        let by_type = json!({"licence_type": BIRTH_CERT});
        let (status, answer) = call(&app, fetch(by_type.clone())).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::FORBIDDEN, Some("YW-4035"))
        );
        let authorise = |body: Value| {
            bearer(
                post(
                    &format!("/v1/applications/{receipt}/licence-authorisations"),
                    body,
                ),
                &token,
            )
        };
        let long = "因".repeat(201);
        for (body, expected) in [
            (
                json!({"licence_type": BIRTH_CERT, "reason": long}),
                "YW-4751",
            ),
            (
                json!({"licence_type": "11100000MB0143028R999", "reason": "核验"}),
                "YW-4741",
            ),
        ] {
            let (status, answer) = call(&app, authorise(body)).await;
            assert_eq!(
                (status, code(&answer)),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(expected))
            );
        }
        let (status, _) = call(
            &app,
            authorise(json!({"licence_type": BIRTH_CERT, "reason": "核验新生儿出生信息"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, used) = call(&app, fetch(by_type.clone())).await;
        assert_eq!(status, StatusCode::OK, "{used}");
        assert_eq!(used["reason"], "核验新生儿出生信息");
        // Another citizen cannot authorise for this application; another department cannot use it.
        let (status, answer) = call(
            &app,
            bearer(
                post(
                    &format!("/v1/applications/{receipt}/licence-authorisations"),
                    json!({"licence_type": BIRTH_CERT, "reason": "x"}),
                ),
                &other,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, Some("YW-4051"))
        );
        let (other_dept, other_secret) =
            common::service_client(&app, ADMIN, &["applications:11100000MB0143028R"]).await;
        let (status, answer) = call(
            &app,
            basic(
                post(&path, json!({"licence_id": licence_id()})),
                &other_dept,
                &other_secret,
            ),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, Some("YW-4051"))
        );
        for (body, expected) in [
            (json!({"licence_id": "1.2.156.3005.2.x"}), "YW-4746"),
            (json!({}), "YW-4750"),
        ] {
            let (status, answer) = call(&app, fetch(body)).await;
            assert_eq!(
                (status, code(&answer)),
                (StatusCode::UNPROCESSABLE_ENTITY, Some(expected))
            );
        }

        // Revoked: the next use is refused.
        let (status, _) = call(
            &app,
            bearer(
                post(
                    &format!("/v1/library/licences/{}/status", licence_id()),
                    json!({"status": "revoked", "reason": "信息有误"}),
                ),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, answer) = call(&app, fetch(json!({"licence_id": licence_id()}))).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, Some("YW-4088"))
        );

        // The citizen's trail: two uses and two refusals, newest first (bad requests
        // and other departments' calls never reached a licence).
        let (status, trail) = call(&app, bearer(get("/v1/licences/uses"), &token)).await;
        assert_eq!(status, StatusCode::OK);
        let uses = trail["uses"].as_array().unwrap();
        let outcomes: Vec<(&str, Option<&str>)> = uses
            .iter()
            .map(|u| (u["outcome"].as_str().unwrap(), u["code"].as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("refused", Some("YW-4088")),
                ("used", None),
                ("refused", Some("YW-4035")),
                ("used", None),
            ],
            "{trail}"
        );
        assert_eq!(uses[3]["licence_name"], "出生医学证明");
        assert_eq!(uses[3]["department"], BIRTH_DEPT);
        assert_eq!(uses[3]["receipt_no"], receipt.as_str());
        assert_eq!(uses[3]["reason"], "办理新生儿出生一件事");
        let (_, theirs) = call(&app, bearer(get("/v1/licences/uses"), &other)).await;
        assert_eq!(theirs["uses"], json!([]));
        // Each use and refusal is in the audit log too.
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('licence.used', 'licence.use_refused')",
        )
        .fetch_one(test_db.db.pool())
        .await
        .unwrap();
        assert_eq!(audited, 4);
    }
}
