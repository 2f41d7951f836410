//! The OpenAPI document covers every route, agrees with the route table in
//! docs/formats.md, and every operation it lists is really served.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::call;
use yiwang_server::db::testing;
use yiwang_server::{AppState, app};

/// `(METHOD, /path)` of every row of the route table in docs/formats.md.
fn documented_in_formats() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/formats.md"))
        .unwrap();
    let section = text.split("\n## HTTP\n").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter_map(|route| route.split_once(' '))
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect()
}

#[tokio::test]
async fn the_document_covers_every_route_and_matches_the_docs() {
    let test_db = testing::sqlite().await;
    let app = app(AppState::load(test_db.db.clone()).await.unwrap());
    let (status, document) = call(
        &app,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "yiwang");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["client"]["scheme"], "basic");

    let mut in_document = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            in_document.insert((method.to_uppercase(), path.clone()));
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{method} {path} documents its responses"
            );
        }
    }
    assert_eq!(
        in_document,
        documented_in_formats(),
        "the OpenAPI document and the route table of docs/formats.md differ"
    );
    assert!(in_document.len() >= 21, "{in_document:?}");

    // Every operation is served: never 405, and a 404 is ours (a JSON error
    // with a code), not the router's "no such route".
    for (method, path) in &in_document {
        let concrete = path
            .replace("{kid}", "x")
            .replace("{id}", "x")
            .replace("{device_id}", "x");
        let request = Request::builder()
            .method(method.as_str())
            .uri(&concrete)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let (status, body) = call(&app, request).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if status == StatusCode::NOT_FOUND {
            assert!(body["code"].is_string(), "{method} {path} is not routed");
        }
    }
    // Schemas come from the request and response types.
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for name in [
        "EnrolRequest",
        "Tokens",
        "ErrorBody",
        "SessionInfo",
        "Outcome",
        "AuditPage",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
    let login = &schemas["LoginRequest"]["required"];
    assert_eq!(login, &serde_json::json!(["presentation", "nonce"]));
    test_db.cleanup().await;
}
