//! Helpers shared by the server's integration tests: calling the app, an
//! enrolled phone that presents its 网证, logging in.
#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64ct::{Base64, Encoding};
use serde_json::{Value, json};
use tower::ServiceExt;
use yiwang_core::credential::{HolderCredential, PresentationRequest};
use yiwang_core::crypto::{KeyAlias, KeyStore, SoftwareKeyStore, Suite};
use yiwang_server::auth::SERVER_AUDIENCE;
use yiwang_server::issuer::now;

pub async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub fn me(token: &str) -> Request<Body> {
    Request::get("/v1/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

pub fn bearer(mut request: Request<Body>, token: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

pub fn basic(mut request: Request<Body>, client_id: &str, secret: &str) -> Request<Body> {
    let value = format!(
        "Basic {}",
        Base64::encode_string(format!("{client_id}:{secret}").as_bytes())
    );
    request
        .headers_mut()
        .insert("authorization", value.parse().unwrap());
    request
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub fn code(body: &Value) -> Option<&str> {
    body["code"].as_str()
}

pub struct Phone {
    pub store: SoftwareKeyStore,
    pub credential: HolderCredential,
}

pub async fn enrolled_phone(app: &axum::Router) -> Phone {
    enrolled_person(app, "11010519491231002X").await
}

/// Enrols the holder of `id_number` on a new phone.
pub async fn enrolled_person(app: &axum::Router, id_number: &str) -> Phone {
    let store = SoftwareKeyStore::in_memory();
    let alias = KeyAlias::new("device").unwrap();
    let pem = store.generate(&alias, Suite::Gm).unwrap().to_spki_pem();
    let body = json!({"name": "张三", "id_number": id_number, "photo_digest": "07".repeat(32), "device_public_key": pem});
    let (status, enrolled) = call(app, post("/v1/enrolments", body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let credential = HolderCredential::from_bytes(
        &Base64::decode_vec(enrolled["credential"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    Phone { store, credential }
}

impl Phone {
    pub fn present(&self, audience: &str, nonce: &str, disclose: &str) -> String {
        let request = PresentationRequest {
            nonce: Some(nonce.as_bytes().to_vec()),
            ..PresentationRequest::new(audience)
                .with_disclosure_list(disclose)
                .unwrap()
        };
        self.credential
            .present(
                &request,
                &self.store,
                &KeyAlias::new("device").unwrap(),
                now(),
            )
            .unwrap()
    }
}

pub async fn challenge(app: &axum::Router) -> String {
    let (status, body) = call(app, post("/v1/auth/challenge", json!({}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["audience"], SERVER_AUDIENCE);
    body["nonce"].as_str().unwrap().to_owned()
}

pub async fn login(app: &axum::Router, phone: &Phone) -> Value {
    let nonce = challenge(app).await;
    let presentation = phone.present(SERVER_AUDIENCE, &nonce, "network_id");
    let (status, tokens) = call(
        app,
        post(
            "/v1/auth/login",
            json!({"presentation": presentation, "nonce": nonce}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

/// Registers a service client with `scopes` (admin bearer `admin`):
/// (client id, secret).
pub async fn service_client(app: &axum::Router, admin: &str, scopes: &[&str]) -> (String, String) {
    let (status, body) = call(
        app,
        bearer(
            post(
                "/v1/admin/service-clients",
                json!({"name": "卫生健康委员会", "scopes": scopes}),
            ),
            admin,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}
