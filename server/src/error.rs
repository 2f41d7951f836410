//! The one error type of the HTTP API: a status, a stable code and a message
//! without internals or personal data, answered as
//! `{"code", "message", "request_id"}`. Details for operators go to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

tokio::task_local! {
    /// The id of the request being served (set by [`crate::http::request_id`]).
    pub static REQUEST_ID: String;
}

/// The current request's id, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable `YW-xxxx` code (docs/formats.md, "Error codes").
    pub code: String,
    /// What went wrong, without internals or personal data.
    pub message: String,
    /// Identifies the request in the server's log.
    pub request_id: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// A failure of ours: logged with its detail, answered without it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %current_request_id(), error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "YW-5000",
            "internal error; the request id identifies it in the logs",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code.to_owned(),
            message: self.message,
            request_id: current_request_id(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        Self::internal(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

/// Axum's JSON extractor failures, in our shape: malformed JSON is 400
/// (YW-4001), a body of the wrong shape or with unknown fields 422 (YW-4002),
/// a missing `application/json` content type 415 (YW-4003), too large 413 (YW-4004).
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as R;
        match rejection {
            R::JsonSyntaxError(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "YW-4001",
                "the body is not valid JSON",
            ),
            R::JsonDataError(e) => Self::unprocessable("YW-4002", shape_message(&e.body_text())),
            R::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "YW-4003",
                "expected Content-Type: application/json",
            ),
            R::BytesRejection(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "YW-4004",
                "the body is too large",
            ),
            _ => Self::new(
                StatusCode::BAD_REQUEST,
                "YW-4001",
                "the body could not be read",
            ),
        }
    }
}

/// serde's message names a missing or unknown field (safe to show) or, for a
/// wrong type, quotes the value (which may be personal data: not shown).
fn shape_message(serde_text: &str) -> String {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(start) = serde_text.find(marker) {
            let rest = &serde_text[start + marker.len()..];
            if let Some(end) = rest.find('`') {
                let what = if marker.starts_with("unknown") {
                    "unknown field"
                } else {
                    "missing field"
                };
                return format!(
                    "the body does not match the expected shape: {what} `{}`",
                    &rest[..end]
                );
            }
        }
    }
    "the body does not match the expected shape (a field has the wrong type or value)".to_owned()
}
