//! yiwang's server: the axum service ([`app`]) and the pieces the `yiwang`
//! command line shares with it.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod identity;
pub mod issuer;

use std::sync::Arc;

use axum::Router;

pub use config::Config;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<StateInner>,
}

#[derive(Debug)]
struct StateInner {
    db: db::Db,
    issuer: issuer::IssuerService,
}

impl AppState {
    /// The state over `db`, loading (or creating on first start) the issuer key.
    pub async fn load(db: db::Db) -> Result<Self, error::ApiError> {
        let issuer =
            issuer::IssuerService::load_or_create(&db, yiwang_core::crypto::Suite::Gm).await?;
        Ok(Self {
            inner: Arc::new(StateInner { db, issuer }),
        })
    }

    pub fn db(&self) -> &db::Db {
        &self.inner.db
    }

    pub fn issuer(&self) -> &issuer::IssuerService {
        &self.inner.issuer
    }
}

/// The whole HTTP service. The binary serves it; tests call it directly.
pub fn app(state: AppState) -> Router {
    http::router()
        .merge(identity::router())
        .merge(auth::router())
        // Request bodies are small JSON documents.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn(http::request_id))
        .with_state(state)
}
