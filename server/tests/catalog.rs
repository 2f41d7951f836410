//! The service catalog through the HTTP API, on SQLite and PostgreSQL: the
//! seeded demo catalog, browsing and search, admin versions and retirement,
//! and every kind of bad document or query.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{bearer, call, code, get, post};
use serde_json::{Value, json};
use yiwang_server::db::testing;
use yiwang_server::{AppState, Config, app};

const ADMIN: &str = "test-admin-token-0123456789";
const CODE: &str = "11100000MB0143028R3990000000001";

async fn state(db: &yiwang_server::db::Db, seed: bool) -> AppState {
    let config = Config {
        admin_token: Some(ADMIN.into()),
        seed_demo_catalog: seed,
        ..Config::default()
    };
    AppState::with_config(db.clone(), config).await.unwrap()
}

fn put(path: &str, body: Value) -> Request<Body> {
    Request::put(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn form(version: u32, title: &str) -> Value {
    json!({"matter_code": CODE, "version": version, "title": {"zh": title, "en": "Pet licence"},
        "sections": [{"id": "owner", "title": {"zh": "养犬人", "en": "Owner"}, "fields": [
            {"id": "name", "type": "text", "label": {"zh": "姓名", "en": "Name"},
             "required": true, "bind": "credential.name"},
            {"id": "breed", "type": "text", "label": {"zh": "犬种", "en": "Breed"}, "required": true}]}]})
}

fn matter(version: u32) -> Value {
    json!({"code": CODE, "life_event": "daily_life", "delivery": "online",
        "name": {"zh": "养犬登记", "en": "Dog registration"},
        "summary": {"zh": "城区养犬须办理登记。", "en": "Dogs kept in the city must be registered."},
        "department": {"code": "11100000MB0143028R", "name": {"zh": "城市管理局", "en": "City Management Bureau"}},
        "required_licences": ["11100000000013338W002"],
        "form": form(version, "养犬登记")})
}

async fn search(app: &axum::Router, query: &str) -> Value {
    let (status, body) = call(app, get(&format!("/v1/matters{query}"))).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

fn codes(page: &Value) -> Vec<String> {
    page["matters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_demo_catalog_is_seeded_and_can_be_browsed_and_searched() {
    for test_db in testing::all("catalog_demo").await {
        let state = state(&test_db.db, true).await;
        // A second start adds nothing.
        assert_eq!(
            yiwang_server::catalog::seed_demo(state.db()).await.unwrap(),
            0
        );
        let app = app(state);

        // Page through everything, 7 at a time: each matter once, in code order.
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = search(&app, &format!("?limit=7{cursor}")).await;
            all.extend(codes(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert!(all.len() >= 20, "{}", all.len());
        let unique: BTreeSet<_> = all.iter().cloned().collect();
        assert_eq!(unique.len(), all.len());
        assert!(all.windows(2).all(|w| w[0] < w[1]));

        // Every life stage the issue names has matters.
        let events: BTreeSet<String> = {
            let page = search(&app, "?limit=100").await;
            page["matters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["life_event"].as_str().unwrap().to_owned())
                .collect()
        };
        for stage in [
            "birth",
            "education",
            "employment",
            "marriage",
            "housing",
            "driving",
            "old_age",
            "after_death",
        ] {
            assert!(events.contains(stage), "no {stage} matter");
        }

        // By name, in either language, by department, by life event.
        let birth = search(&app, "?q=%E5%87%BA%E7%94%9F").await; // 出生
        assert!(codes(&birth).contains(&"11100000000013338W3110000000001".to_owned()));
        assert!(
            birth["matters"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["name"]["zh"].as_str().unwrap().contains("出生"))
        );
        let renewal = search(&app, "?q=Driving+RENEWAL").await;
        assert_eq!(codes(&renewal), ["11100000000013338W3120000000002"]);
        let civil = search(&app, "?department=11100000MB0143028R").await;
        assert!(codes(&civil).len() >= 3);
        assert!(
            civil["matters"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["department"]["code"] == "11100000MB0143028R")
        );
        let old_age = search(&app, "?life_event=old_age").await;
        assert!(
            old_age["matters"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["life_event"] == "old_age")
        );
        assert!(codes(&old_age).contains(&"11100000MB0143028R3210000000001".to_owned()));
        // LIKE's wildcards are taken literally.
        assert_eq!(codes(&search(&app, "?q=%25").await).len(), 0);
        assert_eq!(codes(&search(&app, "?q=_").await).len(), 0);

        // An online matter carries its form; the form loads in the core.
        let (status, senior) = call(&app, get("/v1/matters/11100000MB0143028R3210000000001")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(senior["version"], 1);
        assert_eq!(senior["retired"], false);
        assert_eq!(senior["delivery"], "online");
        let schema =
            yiwang_core::forms::FormSchema::from_json(&senior["form"].to_string()).unwrap();
        assert_eq!(schema.matter_code(), "11100000MB0143028R3210000000001");
        // 免申即领 matters have none.
        let (_, subsidy) = call(&app, get("/v1/matters/11100000000014064D3110000000004")).await;
        assert_eq!(subsidy["delivery"], "automatic");
        assert!(subsidy.get("form").is_none());

        let (status, events) = call(&app, get("/v1/life-events")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            events[0],
            json!({"id": "birth", "name": {"zh": "出生", "en": "Birth"}})
        );
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn admins_version_and_retire_matters_and_old_versions_stay_readable() {
    for test_db in testing::all("catalog_versions").await {
        let app = app(state(&test_db.db, false).await);
        assert_eq!(codes(&search(&app, "").await).len(), 0);

        let (status, body) = call(&app, post("/v1/admin/matters", matter(1))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let (status, body) = call(&app, bearer(post("/v1/admin/matters", matter(1)), ADMIN)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body, json!({"code": CODE, "version": 1}));
        let (status, body) = call(&app, bearer(post("/v1/admin/matters", matter(1)), ADMIN)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(code(&body), Some("YW-4094"));

        // Version 2 changes the name and the form.
        let mut second = matter(2);
        second["name"]["zh"] = json!("犬只登记");
        second["form"] = form(2, "犬只登记");
        let path = format!("/v1/admin/matters/{CODE}");
        let (status, body) = call(&app, bearer(put(&path, second), ADMIN)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["version"], 2);
        let (_, current) = call(&app, get(&format!("/v1/matters/{CODE}"))).await;
        assert_eq!(current["version"], 2);
        assert_eq!(current["name"]["zh"], "犬只登记");
        assert_eq!(current["form"]["title"]["zh"], "犬只登记");
        let (_, first) = call(&app, get(&format!("/v1/matters/{CODE}?version=1"))).await;
        assert_eq!(first["version"], 1);
        assert_eq!(first["form"]["title"]["zh"], "养犬登记");
        assert_eq!(codes(&search(&app, "?q=犬只").await), [CODE]);
        assert_eq!(codes(&search(&app, "?q=养犬").await).len(), 0);

        // Retired: not listed, still readable, no new versions.
        let retire = format!("/v1/admin/matters/{CODE}/retire");
        let (status, _) = call(&app, bearer(post(&retire, json!({})), ADMIN)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(&app, bearer(post(&retire, json!({})), ADMIN)).await;
        assert_eq!(status, StatusCode::OK, "retiring twice is fine");
        assert_eq!(codes(&search(&app, "").await).len(), 0);
        let (_, current) = call(&app, get(&format!("/v1/matters/{CODE}"))).await;
        assert_eq!(current["retired"], true);
        let (status, body) = call(&app, bearer(put(&path, matter(3)), ADMIN)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(code(&body), Some("YW-4095"));

        // Each change is in the audit log.
        let (_, audit) = call(&app, bearer(get("/v1/admin/audit?limit=50"), ADMIN)).await;
        let actions: Vec<&str> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        for action in ["matter.created", "matter.updated", "matter.retired"] {
            assert!(actions.contains(&action), "{action}: {actions:?}");
        }
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_documents_and_queries_are_refused_with_their_codes_and_change_nothing() {
    for test_db in testing::all("catalog_bad").await {
        let app = app(state(&test_db.db, false).await);
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut doc = matter(1);
            edit(&mut doc);
            doc
        };
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "code",
                with(&|d| d["code"] = json!("lower-case")),
                "YW-4701",
            ),
            (
                "blank name",
                with(&|d| d["name"]["zh"] = json!("  ")),
                "YW-4702",
            ),
            (
                "long summary",
                with(&|d| d["summary"]["en"] = json!("x".repeat(501))),
                "YW-4702",
            ),
            (
                "department code",
                with(&|d| d["department"]["code"] = json!("民政")),
                "YW-4702",
            ),
            (
                "life event",
                with(&|d| d["life_event"] = json!("retirement")),
                "YW-4703",
            ),
            (
                "delivery",
                with(&|d| d["delivery"] = json!("post")),
                "YW-4703",
            ),
            (
                "licence type",
                with(&|d| d["required_licences"] = json!(["123"])),
                "YW-4704",
            ),
            (
                "licence twice",
                with(&|d| {
                    d["required_licences"] =
                        json!(["11100000000013338W002", "11100000000013338W002"])
                }),
                "YW-4704",
            ),
            (
                "form schema",
                with(&|d| d["form"]["sections"][0]["fields"][1]["type"] = json!("colour")),
                "YW-4705",
            ),
            (
                "form of another matter",
                with(&|d| d["form"]["matter_code"] = json!("11100000MB0143028R3990000000002")),
                "YW-4706",
            ),
            (
                "form version",
                with(&|d| d["form"]["version"] = json!(2)),
                "YW-4706",
            ),
            (
                "online without form",
                with(&|d| {
                    d.as_object_mut().unwrap().remove("form");
                }),
                "YW-4707",
            ),
            (
                "window with form",
                with(&|d| d["delivery"] = json!("window")),
                "YW-4707",
            ),
            (
                "unknown key",
                with(&|d| d["colour"] = json!("red")),
                "YW-4002",
            ),
        ];
        for (what, doc, expected) in cases {
            let (status, body) = call(&app, bearer(post("/v1/admin/matters", doc), ADMIN)).await;
            assert!(
                status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
                "{what}: {status} {body}"
            );
            assert_eq!(code(&body), Some(expected), "{what}: {body}");
        }
        // The form error names the field at fault.
        let (_, body) = call(
            &app,
            bearer(
                post(
                    "/v1/admin/matters",
                    with(&|d| d["form"]["sections"][0]["fields"][1]["type"] = json!("colour")),
                ),
                ADMIN,
            ),
        )
        .await;
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("form.sections[0].fields[1].type"),
            "{body}"
        );
        assert_eq!(
            codes(&search(&app, "").await).len(),
            0,
            "nothing was stored"
        );

        // A bad new version leaves the current one.
        call(&app, bearer(post("/v1/admin/matters", matter(1)), ADMIN)).await;
        let path = format!("/v1/admin/matters/{CODE}");
        let (_, body) = call(&app, bearer(put(&path, matter(1)), ADMIN)).await;
        assert_eq!(code(&body), Some("YW-4706"), "form version must become 2");
        let mut other = matter(2);
        other["code"] = json!("11100000MB0143028R3990000000002");
        let (_, body) = call(&app, bearer(put(&path, other), ADMIN)).await;
        assert_eq!(code(&body), Some("YW-4708"));
        let (status, body) = call(
            &app,
            bearer(
                put("/v1/admin/matters/11100000MB0143028R3990000000009", {
                    let mut m = matter(2);
                    m["code"] = json!("11100000MB0143028R3990000000009");
                    m
                }),
                ADMIN,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(code(&body), Some("YW-4048"));
        let (_, current) = call(&app, get(&format!("/v1/matters/{CODE}"))).await;
        assert_eq!(current["version"], 1);

        // Queries.
        for query in [
            "?limit=0",
            "?limit=101",
            "?limit=ten",
            "?life_event=retirement",
            "?cursor=%25",
            "?colour=red",
            &format!("?q={}", "字".repeat(65)),
        ] {
            let (status, body) = call(&app, get(&format!("/v1/matters{query}"))).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
            assert_eq!(code(&body), Some("YW-4709"), "{query}");
        }
        for path in [
            "/v1/matters/11100000MB0143028R3990000000009".to_owned(),
            "/v1/matters/not%20a%20code".to_owned(),
            format!("/v1/matters/{CODE}?version=7"),
        ] {
            let (status, body) = call(&app, get(&path)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
            assert_eq!(code(&body), Some("YW-4048"));
        }
        let (status, body) = call(&app, get(&format!("/v1/matters/{CODE}?version=0"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        test_db.cleanup().await;
    }
}
