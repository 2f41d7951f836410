//! Login with the 网证, access and refresh tokens, JWKS — and the attacks on
//! them — on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64ct::{Base64UrlUnpadded, Encoding};
use common::{call, challenge, enrolled_phone, login, me, post};
use serde_json::{Value, json};
use yiwang_core::crypto::{SigningKey, Suite};
use yiwang_server::auth::SERVER_AUDIENCE;
use yiwang_server::db::testing;
use yiwang_server::issuer::now;
use yiwang_server::{AppState, app};

#[tokio::test]
async fn login_refresh_and_reuse_detection() {
    for test_db in testing::all("login_refresh_and_reuse_detection").await {
        let app = app(AppState::load(test_db.db.clone()).await.unwrap());
        let phone = enrolled_phone(&app).await;
        let tokens = login(&app, &phone).await;
        assert_eq!(tokens["token_type"], "Bearer");
        let (status, who) = call(&app, me(tokens["access_token"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(who["network_id"].as_str(), phone.credential.network_id());

        // Refresh rotates: the new pair works, the old refresh token is spent.
        let old_refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, rotated) = call(
            &app,
            post("/v1/auth/refresh", json!({"refresh_token": old_refresh})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(&app, me(rotated["access_token"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::OK);
        // Reusing the rotated token revokes the whole family, including the new one.
        let (status, body) = call(
            &app,
            post("/v1/auth/refresh", json!({"refresh_token": old_refresh})),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("YW-4013"))
        );
        let (status, _) = call(
            &app,
            post(
                "/v1/auth/refresh",
                json!({"refresh_token": rotated["refresh_token"]}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = call(
            &app,
            post("/v1/auth/refresh", json!({"refresh_token": "made-up"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn login_attacks_are_refused() {
    for test_db in testing::all("login_attacks_are_refused").await {
        let app = app(AppState::load(test_db.db.clone()).await.unwrap());
        let phone = enrolled_phone(&app).await;

        // A replayed presentation (its challenge is used up).
        let nonce = challenge(&app).await;
        let presentation = phone.present(SERVER_AUDIENCE, &nonce, "network_id");
        let body = json!({"presentation": presentation, "nonce": nonce});
        assert_eq!(
            call(&app, post("/v1/auth/login", body.clone())).await.0,
            StatusCode::OK
        );
        let (status, error) = call(&app, post("/v1/auth/login", body)).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("YW-4011"))
        );

        // Made for another relying party.
        let nonce = challenge(&app).await;
        let elsewhere = phone.present("rp:other.gov.cn", &nonce, "network_id");
        let (status, error) = call(
            &app,
            post(
                "/v1/auth/login",
                json!({"presentation": elsewhere, "nonce": nonce}),
            ),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("YW-1411"))
        );

        // Answering another challenge than the one given.
        let (nonce_a, nonce_b) = (challenge(&app).await, challenge(&app).await);
        let wrong = phone.present(SERVER_AUDIENCE, &nonce_a, "network_id");
        let (status, error) = call(
            &app,
            post(
                "/v1/auth/login",
                json!({"presentation": wrong, "nonce": nonce_b}),
            ),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("YW-1412"))
        );

        // A copy revoked by re-enrolment on a new phone cannot log in; the new one can.
        let new_phone = common::enrolled_phone(&app).await;
        let nonce = challenge(&app).await;
        let revoked = phone.present(SERVER_AUDIENCE, &nonce, "network_id");
        let (status, error) = call(
            &app,
            post(
                "/v1/auth/login",
                json!({"presentation": revoked, "nonce": nonce}),
            ),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("YW-1413"))
        );
        login(&app, &new_phone).await;
        let phone = new_phone;

        // Without the 网号 the server cannot know the account.
        let nonce = challenge(&app).await;
        let anonymous = phone.present(SERVER_AUDIENCE, &nonce, "name_masked");
        let (status, error) = call(
            &app,
            post(
                "/v1/auth/login",
                json!({"presentation": anonymous, "nonce": nonce}),
            ),
        )
        .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("YW-4012"))
        );
        test_db.cleanup().await;
    }
}

fn b64(value: &Value) -> String {
    Base64UrlUnpadded::encode_string(value.to_string().as_bytes())
}

#[tokio::test]
async fn forged_expired_unsigned_and_retired_tokens_are_refused() {
    for test_db in testing::all("forged_expired_unsigned_and_retired_tokens_are_refused").await {
        let state = AppState::load(test_db.db.clone()).await.unwrap();
        let app = app(state.clone());
        let phone = enrolled_phone(&app).await;
        let token = login(&app, &phone).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let refused = |status: StatusCode, body: &Value| {
            status == StatusCode::UNAUTHORIZED && body["code"] == "YW-4010"
        };

        // No token, garbage, a flipped signature.
        let (status, body) = call(&app, Request::get("/v1/me").body(Body::empty()).unwrap()).await;
        assert!(refused(status, &body));
        let (status, body) = call(&app, me("not.a.jwt")).await;
        assert!(refused(status, &body));
        let mut forged = token.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let (status, body) = call(&app, me(&String::from_utf8(forged).unwrap())).await;
        assert!(refused(status, &body));

        // alg: none, with the same claims.
        let claims = token.split('.').nth(1).unwrap();
        let none = format!("{}.{claims}.", b64(&json!({"alg": "none", "typ": "JWT"})));
        let (status, body) = call(&app, me(&none)).await;
        assert!(refused(status, &body));

        // Correctly signed but expired, and signed by a key we never had.
        let (kid, pem): (String, String) = sqlx::query_as("SELECT kid, private_pem FROM jwt_keys")
            .fetch_one(test_db.db.pool())
            .await
            .unwrap();
        let sign = |key: &SigningKey, kid: &str, exp: i64| {
            let header = jsonwebtoken::Header {
                kid: Some(kid.into()),
                ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256)
            };
            let claims = json!({"iss": SERVER_AUDIENCE, "aud": SERVER_AUDIENCE, "sub": "YWATTACKER", "iat": exp - 900, "exp": exp});
            jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_ec_der(&key.to_pkcs8_der().unwrap()),
            )
            .unwrap()
        };
        let ours = SigningKey::from_pkcs8_pem(&pem).unwrap();
        let (status, body) = call(&app, me(&sign(&ours, &kid, now() - 600))).await;
        assert!(refused(status, &body), "expired");
        let stranger = SigningKey::generate(Suite::Intl).unwrap();
        let (status, body) = call(&app, me(&sign(&stranger, &kid, now() + 600))).await;
        assert!(refused(status, &body), "another key under our kid");

        // Rotation: the old key stays valid (and published) until its tokens expire...
        yiwang_server::auth::rotate_signing_key(&state)
            .await
            .unwrap();
        let (status, jwks) = call(
            &app,
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert_eq!(call(&app, me(&token)).await.0, StatusCode::OK);
        // ...and not after.
        sqlx::query("UPDATE jwt_keys SET retired_at = $1 WHERE kid = $2")
            .bind(now() - 1000)
            .bind(&kid)
            .execute(test_db.db.pool())
            .await
            .unwrap();
        let (status, body) = call(&app, me(&token)).await;
        assert!(refused(status, &body), "rotated-out key");
        let (_, jwks) = call(
            &app,
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        test_db.cleanup().await;
    }
}
