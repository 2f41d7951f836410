//! yiwang's server: the axum service ([`app`]) and the pieces the `yiwang`
//! command line shares with it.

pub mod accounts;
pub mod admin;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod clients;
pub mod config;
pub mod console;
pub mod db;
pub mod dev;
pub mod error;
pub mod events;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod issuer;
pub mod keys;
pub mod library;
pub mod login_sessions;
pub mod openapi;
pub mod ops;
pub mod push;
pub mod recommend;

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
    config: Config,
    db: db::Db,
    vault: keys::KeyVault,
    issuer: issuer::IssuerService,
    metrics: ops::Metrics,
    rate_limiter: ops::RateLimiter,
    /// The JWT key this process signs with, loaded once a minute.
    signer: std::sync::RwLock<Option<auth::Signer>>,
    /// Woken when a notification is queued, so a dispatcher here sends it at once.
    push_wake: Arc<tokio::sync::Notify>,
    /// Woken when events are accepted, so the matcher here takes them at once.
    events_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// The state over `db` with the default configuration.
    pub async fn load(db: db::Db) -> Result<Self, error::ApiError> {
        Self::with_config(db, Config::default()).await
    }

    /// The state over `db`, loading (or creating on first start) the issuer key.
    pub async fn with_config(db: db::Db, config: Config) -> Result<Self, error::ApiError> {
        let vault = keys::KeyVault::new(config.key_encryption_key.as_deref())?;
        let issuer =
            issuer::IssuerService::load_or_create(&db, yiwang_core::crypto::Suite::Gm, &vault)
                .await?;
        auth::seal_stored_keys(&db, &vault).await?;
        if config.seed_demo_catalog {
            catalog::seed_demo(&db).await?;
            recommend::seed_demo(&db).await?;
        }
        let rate_limiter =
            ops::RateLimiter::new(config.rate_limit_burst, config.rate_limit_per_second);
        Ok(Self {
            inner: Arc::new(StateInner {
                config,
                db,
                vault,
                issuer,
                metrics: ops::Metrics::default(),
                rate_limiter,
                signer: std::sync::RwLock::new(None),
                push_wake: Arc::default(),
                events_wake: Arc::default(),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn db(&self) -> &db::Db {
        &self.inner.db
    }

    /// Seals and opens the private keys kept in the database.
    pub fn vault(&self) -> &keys::KeyVault {
        &self.inner.vault
    }

    pub fn issuer(&self) -> &issuer::IssuerService {
        &self.inner.issuer
    }

    pub fn metrics(&self) -> &ops::Metrics {
        &self.inner.metrics
    }

    pub(crate) fn signer_cache(&self) -> &std::sync::RwLock<Option<auth::Signer>> {
        &self.inner.signer
    }

    /// Notified when notifications are queued (see [`push::dispatch`]).
    pub fn push_wake(&self) -> Arc<tokio::sync::Notify> {
        self.inner.push_wake.clone()
    }

    /// Notified when events are accepted (see [`recommend::worker`]).
    pub fn events_wake(&self) -> Arc<tokio::sync::Notify> {
        self.inner.events_wake.clone()
    }

    pub fn rate_limiter(&self) -> &ops::RateLimiter {
        &self.inner.rate_limiter
    }
}

/// Every documented route, with its OpenAPI description: a route cannot be
/// served without being in the document.
fn api_router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa::OpenApi as _;
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(http::router())
        .merge(identity::router())
        .merge(auth::router())
        .merge(accounts::router())
        .merge(admin::router())
        .merge(console::admin_router())
        .merge(clients::router())
        .merge(catalog::router())
        .merge(events::router())
        .merge(recommend::router())
        .merge(applications::router())
        .merge(library::router())
        .merge(push::router())
        .merge(login_sessions::router())
        .routes(utoipa_axum::routes!(ops::metrics))
        .routes(utoipa_axum::routes!(openapi::document))
}

/// The OpenAPI document: what `GET /openapi.json` serves.
pub fn openapi_document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| api_router().into_openapi())
}

/// The whole HTTP service. The binary serves it; tests call it directly.
pub fn app(state: AppState) -> Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    let timeout = state.config().request_timeout();
    let (router, _) = api_router().split_for_parts();
    router
        .merge(console::router())
        // Request bodies are small JSON documents.
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config().body_limit_bytes,
        ))
        .layer(from_fn_with_state(state.clone(), idempotency::layer))
        .layer(from_fn(move |request, next| {
            ops::timeout(timeout, request, next)
        }))
        .layer(from_fn_with_state(state.clone(), ops::rate_limit))
        .layer(from_fn_with_state(state.clone(), ops::observe))
        .layer(from_fn(http::request_id))
        .with_state(state)
}
