//! Private keys at rest: sealed with the configured key-encryption key,
//! re-sealed when one is configured later, and a server with no or the wrong
//! key refuses to start instead of signing with something else.
#![allow(clippy::unwrap_used)]

mod common;

use common::{enrolled_phone, login};
use yiwang_server::db::testing;
use yiwang_server::{AppState, Config, app};

const KEK: &str = "8f0e6d5c4b3a29180716253443526170fedcba98765432100123456789abcdef";

fn config(kek: Option<&str>) -> Config {
    Config {
        key_encryption_key: kek.map(str::to_owned),
        ..Config::default()
    }
}

async fn stored_keys(db: &yiwang_server::db::Db) -> Vec<String> {
    let mut stored: Vec<String> = sqlx::query_scalar(
        "SELECT private_pem FROM issuer_keys UNION ALL SELECT secret_hex FROM issuer_keys",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    stored.extend(
        sqlx::query_scalar::<_, String>("SELECT private_pem FROM jwt_keys")
            .fetch_all(db.pool())
            .await
            .unwrap(),
    );
    stored
}

#[tokio::test]
async fn private_keys_are_sealed_at_rest() {
    for test_db in testing::all("private_keys_are_sealed_at_rest").await {
        // First start without a key: plain PEM (the server warns in its log).
        let state = AppState::with_config(test_db.db.clone(), config(None))
            .await
            .unwrap();
        let kid = state.issuer().kid().to_owned();
        let plain = app(state);
        let phone = enrolled_phone(&plain).await;
        login(&plain, &phone).await;
        assert!(
            stored_keys(&test_db.db)
                .await
                .iter()
                .any(|k| k.contains("PRIVATE KEY"))
        );

        // Restart with a key: everything is sealed, the same issuer key in use.
        let state = AppState::with_config(test_db.db.clone(), config(Some(KEK)))
            .await
            .unwrap();
        assert_eq!(state.issuer().kid(), kid);
        yiwang_server::auth::rotate_signing_key(&state)
            .await
            .unwrap();
        let sealed_app = app(state);
        login(&sealed_app, &phone).await;
        let stored = stored_keys(&test_db.db).await;
        let issuer_rows = &stored[..2];
        assert!(
            issuer_rows.iter().all(|k| k.starts_with("sealed:v1:")),
            "{issuer_rows:?}"
        );
        let jwt_rows = &stored[2..];
        assert_eq!(
            jwt_rows.len(),
            2,
            "the first key and the one made after the restart"
        );
        assert!(
            jwt_rows.iter().all(|k| k.starts_with("sealed:v1:")),
            "{jwt_rows:?}"
        );

        // Without the key, or with another, the server does not start.
        for wrong in [None, Some(&KEK.replace('8', "9")[..])] {
            let err = AppState::with_config(test_db.db.clone(), config(wrong))
                .await
                .unwrap_err();
            assert_eq!(err.code, "YW-5002");
            assert!(!err.message.contains(KEK));
        }
        test_db.cleanup().await;
    }
}
