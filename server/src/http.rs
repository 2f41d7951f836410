//! HTTP routes. Each area gets its own module with a `router()`; this one
//! holds the operational probes.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ErrorBody;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    status: &'static str,
    version: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready`
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready to serve", body = Ready),
    (status = 503, description = "YW-5001: the database is not answering", body = ErrorBody)))]
async fn readyz(State(state): State<AppState>) -> Response {
    match state.db().ping().await {
        Ok(()) => Json(Ready { status: "ready" }).into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            crate::error::ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "YW-5001",
                "the database is not answering",
            )
            .into_response()
        }
    }
}

/// Gives every request an id (the caller's `X-Request-Id` when it is 1-64
/// characters of `A-Z a-z 0-9 - _`, else a new one), available to handlers and
/// errors, and echoed in the response's `X-Request-Id`.
pub async fn request_id(request: Request, next: Next) -> Response {
    let valid = |v: &&str| {
        !v.is_empty()
            && v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(valid)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            let _ = yiwang_core::crypto::random_bytes(&mut bytes);
            hex::encode(bytes)
        });
    let mut response = crate::error::REQUEST_ID
        .scope(id.clone(), next.run(request))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use crate::{AppState, app, db::Db};

    async fn test_app() -> (axum::Router, Db) {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        (app(AppState::load(db.clone()).await.unwrap()), db)
    }

    async fn get(app: axum::Router, path: &str) -> (StatusCode, serde_json::Value) {
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn healthz_and_readyz_answer() {
        let (app, _db) = test_app().await;
        let (status, body) = get(app.clone(), "/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");
        let (status, body) = get(app, "/readyz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ready");
    }

    #[tokio::test]
    async fn readyz_reports_a_closed_database() {
        let (app, db) = test_app().await;
        db.close().await;
        let (status, body) = get(app, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "YW-5001");
    }

    #[tokio::test]
    async fn unknown_route_is_404() {
        let (app, _db) = test_app().await;
        let (status, _) = get(app, "/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
