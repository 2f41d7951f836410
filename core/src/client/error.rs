use crate::crypto::CryptoError;

use super::types::ServerProblem;

/// Code of a server error answer that did not carry yiwang's
/// `{code, message, request_id}` body (a proxy's page, an empty body).
pub const NO_ERROR_BODY: &str = "YW-1806";

/// Why a call to `yiwang serve` failed. Codes: the server's own (`YW-4xxx`,
/// `YW-5xxx`, `YW-14xx`) when it sent one, else `YW-18xx`
/// ([`ClientError::code`]). No message contains a token, an ID number, a name
/// or any other value of a request or an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client configuration is not usable (the part is named).
    #[error("invalid client configuration: {0}")]
    InvalidConfig(&'static str),
    /// An argument of a call is not usable (the part is named).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// The server could not be reached (connection refused, no route, DNS, a
    /// dropped connection), after every attempt.
    #[error("the server could not be reached")]
    Offline,
    /// The server did not answer in time, after every attempt.
    #[error("the server did not answer in time")]
    Timeout,
    /// `401`: missing, expired or refused credentials (the access token, the
    /// refresh token, a login presentation: `code` says which).
    #[error("{code}: {message}")]
    Unauthorised {
        /// The server's code.
        code: String,
        /// The server's message (first line, at most 200 characters).
        message: String,
    },
    /// `403`: authenticated, but not allowed.
    #[error("{code}: {message}")]
    Forbidden {
        /// The server's code.
        code: String,
        /// The server's message (first line, at most 200 characters).
        message: String,
    },
    /// Any other `4xx`: the server refused the request.
    #[error("{code}: {message} (HTTP {status})")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's code, or [`NO_ERROR_BODY`].
        code: String,
        /// The server's message (first line, at most 200 characters).
        message: String,
    },
    /// `422` YW-4732: the server's check of a submission against the
    /// matter's form failed; `problems` are what it found (paths, YW-16xx
    /// codes and messages, never values).
    #[error("{code}: {message} (HTTP 422, {} problems)", problems.len())]
    InvalidSubmission {
        /// The server's code (`YW-4732`).
        code: String,
        /// The server's message (first line, at most 200 characters).
        message: String,
        /// Every problem the server reported.
        problems: Vec<ServerProblem>,
    },
    /// `429` on every attempt; `retry_after_secs` is the server's last
    /// `Retry-After`, when it sent one.
    #[error("too many requests; retry after {}", retry_after_secs.map_or("a while".to_owned(), |s| format!("{s} s")))]
    RateLimited {
        /// The last `Retry-After`, in seconds.
        retry_after_secs: Option<u64>,
    },
    /// A `5xx` answer (after every attempt, for the retried ones).
    #[error("{code}: the server failed (HTTP {status})")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's code (`YW-5xxx`), or [`NO_ERROR_BODY`].
        code: String,
    },
    /// The answer is not what docs/formats.md documents (the part is named;
    /// the answer itself is never quoted).
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// A scan-to-login request names another server than this client's: our
    /// tokens are never sent to it.
    #[error("the login request is for another server")]
    ForeignServer,
    /// The system random source failed (making an idempotency key).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A signed document from the server did not verify (a trust list:
    /// YW-1421 not signed by the anchor, YW-1422 too old).
    #[error(transparent)]
    Credential(#[from] crate::credential::CredentialError),
}

impl ClientError {
    /// Stable code: the server's for its answers, `YW-18xx` for the client's
    /// own failures (docs/formats.md, "Error codes").
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidConfig(_) => "YW-1801",
            Self::Offline => "YW-1802",
            Self::Timeout => "YW-1803",
            Self::Protocol(_) => "YW-1804",
            Self::ForeignServer => "YW-1805",
            Self::InvalidArgument(_) => "YW-1807",
            Self::RateLimited { .. } => "YW-4290",
            Self::Unauthorised { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Rejected { code, .. }
            | Self::InvalidSubmission { code, .. }
            | Self::Server { code, .. } => code,
            Self::Crypto(e) => e.code(),
            Self::Credential(e) => e.code(),
        }
    }

    /// The HTTP status of the server's answer, for errors that are one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Unauthorised { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::RateLimited { .. } => Some(429),
            Self::InvalidSubmission { .. } => Some(422),
            Self::Rejected { status, .. } | Self::Server { status, .. } => Some(*status),
            _ => None,
        }
    }
}
