//! yiwang's server: the axum service ([`app`]) and the pieces the `yiwang`
//! command line shares with it.

pub mod config;
pub mod db;
pub mod http;

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
}

impl AppState {
    pub fn new(db: db::Db) -> Self {
        Self {
            inner: Arc::new(StateInner { db }),
        }
    }

    pub fn db(&self) -> &db::Db {
        &self.inner.db
    }
}

/// The whole HTTP service. The binary serves it; tests call it directly.
pub fn app(state: AppState) -> Router {
    http::router().with_state(state)
}
