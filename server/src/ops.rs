//! Operations: Prometheus metrics (requests by route and status, latency
//! histograms, database pool), a per-request timeout, and per-client rate
//! limiting of the identity routes. A few dozen lines each, so no crates.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// Latency histogram bounds, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Debug, Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request counters and latency histograms by (method, route, status).
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<HashMap<(String, String, u16), Series>>,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let entry = series
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        entry.count += 1;
        entry.sum += seconds;
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        let mut out = String::new();
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<_> = series.keys().cloned().collect();
        keys.sort();
        out.push_str(
            "# HELP yiwang_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE yiwang_http_requests_total counter\n");
        for key in &keys {
            let (method, route, status) = key;
            let _ = writeln!(
                out,
                "yiwang_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                series[key].count
            );
        }
        out.push_str("# HELP yiwang_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE yiwang_http_request_duration_seconds histogram\n");
        for key in &keys {
            let (method, route, status) = key;
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            let s = &series[key];
            for (bound, count) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "yiwang_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "yiwang_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "yiwang_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "yiwang_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out.push_str("# HELP yiwang_db_pool_connections Database pool connections by state.\n");
        out.push_str("# TYPE yiwang_db_pool_connections gauge\n");
        let idle = pool_idle as u64;
        let _ = writeln!(out, "yiwang_db_pool_connections{{state=\"idle\"}} {idle}");
        let _ = writeln!(
            out,
            "yiwang_db_pool_connections{{state=\"in_use\"}} {}",
            u64::from(pool_size).saturating_sub(idle)
        );
        out
    }
}

/// Counts every request under its route template (never the raw path, which
/// may carry identifiers).
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics().observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text exposition 0.0.4", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let pool = state.db().pool();
    let body = state.metrics().render(pool.size(), pool.num_idle());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Answers 503 (YW-5030) when the handler takes longer than `limit`.
pub async fn timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "YW-5030",
            "the request took too long",
        )
        .into_response(),
    }
}

/// A token bucket per client address.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(capacity: u32, per_second: u32) -> Self {
        Self {
            capacity: f64::from(capacity),
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// `Ok` if `client` may make a request now, else the seconds to wait.
    fn take(&self, client: &str) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // Bound memory: forget clients whose bucket has refilled.
        if buckets.len() > 100_000 {
            let full_after = Duration::from_secs_f64(self.capacity / self.per_second);
            buckets.retain(|_, (_, at)| now.duration_since(*at) < full_after);
        }
        let (tokens, at) = buckets
            .entry(client.to_owned())
            .or_insert((self.capacity, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Rate-limits the identity routes (`/v1/auth/*`, `/v1/enrolments`, and
/// opening or deciding login sessions) per client address.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let limited = path.starts_with("/v1/auth/")
        || path == "/v1/enrolments"
        || (path == "/console/login" && request.method() == axum::http::Method::POST)
        || (path.starts_with("/v1/login-sessions") && request.method() == axum::http::Method::POST);
    if limited {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "-".to_owned(), |c| c.0.ip().to_string());
        if let Err(wait) = state.rate_limiter().take(&client) {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "YW-4290",
                "too many requests; retry later",
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
    }
    next.run(request).await
}
