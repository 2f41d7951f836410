//! yiwang's server: the axum service ([`app`]) and the pieces the `yiwang`
//! command line shares with it.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod identity;
pub mod issuer;
pub mod ops;

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
    metrics: ops::Metrics,
    rate_limiter: ops::RateLimiter,
}

impl AppState {
    /// The state over `db`, loading (or creating on first start) the issuer key.
    pub async fn load(db: db::Db) -> Result<Self, error::ApiError> {
        let issuer =
            issuer::IssuerService::load_or_create(&db, yiwang_core::crypto::Suite::Gm).await?;
        Ok(Self {
            inner: Arc::new(StateInner {
                db,
                issuer,
                metrics: ops::Metrics::default(),
                // Per client address on the identity routes: bursts of 20, 10 per second.
                rate_limiter: ops::RateLimiter::new(20, 10),
            }),
        })
    }

    pub fn db(&self) -> &db::Db {
        &self.inner.db
    }

    pub fn issuer(&self) -> &issuer::IssuerService {
        &self.inner.issuer
    }

    pub fn metrics(&self) -> &ops::Metrics {
        &self.inner.metrics
    }

    pub fn rate_limiter(&self) -> &ops::RateLimiter {
        &self.inner.rate_limiter
    }
}

/// The whole HTTP service. The binary serves it; tests call it directly.
pub fn app(state: AppState) -> Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    http::router()
        .merge(identity::router())
        .merge(auth::router())
        .route("/metrics", axum::routing::get(ops::metrics))
        // Request bodies are small JSON documents.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .layer(from_fn(|request, next| {
            ops::timeout(REQUEST_TIMEOUT, request, next)
        }))
        .layer(from_fn_with_state(state.clone(), ops::rate_limit))
        .layer(from_fn_with_state(state.clone(), ops::observe))
        .layer(from_fn(http::request_id))
        .with_state(state)
}

/// Longest a request may take before it is answered 503 (YW-5030).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
