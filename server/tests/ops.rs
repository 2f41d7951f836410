//! Operations: Prometheus metrics, per-client rate limiting of the identity
//! routes, and the request timeout.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;
use yiwang_server::db::testing;
use yiwang_server::{AppState, app};

async fn send(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn from(ip: &str, request: Request<Body>) -> Request<Body> {
    let mut request = request;
    let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let test_db = testing::sqlite().await;
    let app = app(AppState::load(test_db.db.clone()).await.unwrap());
    for path in [
        "/healthz",
        "/healthz",
        "/readyz",
        "/no-such-page",
        "/v1/status-lists/0123456789abcdef",
    ] {
        send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
    }
    let (status, headers, text) =
        send(&app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        text.contains(
            r#"yiwang_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"yiwang_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    // The template, never the raw path (which may carry identifiers).
    assert!(
        text.contains(r#"route="/v1/status-lists/{kid}",status="404""#),
        "{text}"
    );
    assert!(!text.contains("0123456789abcdef"));
    assert!(text.contains(r#"yiwang_http_request_duration_seconds_bucket{method="GET",route="/readyz",status="200",le="+Inf"} 1"#));
    assert!(text.contains("yiwang_db_pool_connections{state=\"idle\"}"));
    test_db.cleanup().await;
}

#[tokio::test]
async fn identity_routes_are_rate_limited_per_client() {
    let test_db = testing::sqlite().await;
    let app = app(AppState::load(test_db.db.clone()).await.unwrap());
    let challenge = || {
        Request::post("/v1/auth/challenge")
            .body(Body::empty())
            .unwrap()
    };
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(send(&app, from("127.0.0.2", challenge())).await);
    }
    let ok = statuses
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::CREATED)
        .count();
    let limited: Vec<_> = statuses
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        ok >= 20 && !limited.is_empty(),
        "{ok} allowed, {} limited",
        limited.len()
    );
    let (_, headers, body) = limited[0];
    assert!(headers.contains_key("retry-after"));
    assert!(body.contains("YW-4290"));
    // Another client is not affected, and neither are other routes.
    assert_eq!(
        send(&app, from("127.0.0.3", challenge())).await.0,
        StatusCode::CREATED
    );
    let health = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(
        send(&app, from("127.0.0.2", health)).await.0,
        StatusCode::OK
    );
    test_db.cleanup().await;
}

#[tokio::test]
async fn slow_requests_time_out_with_503() {
    let slow = axum::Router::new()
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .layer(axum::middleware::from_fn(|request, next| {
            yiwang_server::ops::timeout(Duration::from_millis(50), request, next)
        }));
    let (status, _, body) = send(&slow, Request::get("/slow").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("YW-5030"));
}
