//! The crate's two error types: [`Error`], for opening and serving (what the CLI reports), and
//! `ApiError`, the one mapping from a failed request to a `problem+json` response: the domain's
//! errors ([`cairn_service::Error`]) are mapped to problem codes here and nowhere else.
//!
//! A 4xx answer says what was wrong in words the caller can act on. A 5xx answer carries no
//! internal detail: the detail travels in a response extension to the logging middleware
//! (`log_failures` in `lib.rs`), which writes it with `tracing` and strips it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::{ErrorCode, PROBLEM_CONTENT_TYPE, Problem};
use cairn_service::Kind;

use crate::wire;

/// Why the server could not open its data directory or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service could not open its data directory or blob store.
    #[error(transparent)]
    Open(#[from] cairn_service::OpenError),
    /// A configuration value is malformed.
    #[error("`{value}` is not a valid {what}: {reason}")]
    Config {
        /// Which setting.
        what: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Accepting connections failed.
    #[error("serving HTTP failed")]
    Serve(#[source] std::io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed request: a domain error, or a problem of the HTTP layer itself (a malformed body, a
/// route that does not exist).
#[derive(Debug)]
pub(crate) enum ApiError {
    /// What the domain said.
    Domain(cairn_service::Error),
    /// A problem found before the domain was asked.
    Problem(Box<Problem>),
    /// A bug in this layer: 500.
    Internal(String),
}

/// Detail of a 5xx answer, for the logging middleware only.
#[derive(Debug, Clone)]
pub(crate) struct FailureDetail(pub(crate) String);

impl ApiError {
    pub(crate) fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::Problem(Box::new(Problem::new(code, detail)))
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }

    pub(crate) fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, detail)
    }

    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self::Internal(detail.into())
    }

    /// The HTTP status this error answers with.
    pub(crate) fn status(&self) -> axum::http::StatusCode {
        let status = match self {
            Self::Domain(cairn_service::Error::Refused(refusal)) => code_of(refusal.kind).status(),
            Self::Domain(cairn_service::Error::Unavailable(_)) => {
                ErrorCode::StorageUnavailable.status()
            }
            Self::Domain(_) | Self::Internal(_) => 500,
            Self::Problem(problem) => problem.status,
        };
        axum::http::StatusCode::from_u16(status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The words shown to the user (a 5xx's detail stays in the log).
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Domain(cairn_service::Error::Refused(refusal)) => refusal.message.clone(),
            Self::Domain(cairn_service::Error::Unavailable(message)) => message.clone(),
            Self::Domain(_) | Self::Internal(_) => {
                "the server failed to answer this request (the error is in its log)".to_owned()
            }
            Self::Problem(problem) => problem.detail.clone(),
        }
    }
}

impl From<cairn_service::Error> for ApiError {
    fn from(error: cairn_service::Error) -> Self {
        Self::Domain(error)
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::Problem(Box::new(problem))
    }
}

/// The problem code of a domain refusal.
pub(crate) fn code_of(kind: Kind) -> ErrorCode {
    match kind {
        Kind::BadRequest => ErrorCode::BadRequest,
        Kind::InvalidName => ErrorCode::InvalidName,
        Kind::InvalidMetadata => ErrorCode::InvalidMetadata,
        Kind::InvalidManifest => ErrorCode::InvalidManifest,
        Kind::Unauthenticated => ErrorCode::Unauthenticated,
        Kind::PermissionDenied => ErrorCode::PermissionDenied,
        Kind::NotFound => ErrorCode::NotFound,
        Kind::AlreadyExists => ErrorCode::AlreadyExists,
        Kind::Conflict => ErrorCode::Conflict,
        Kind::NotPending => ErrorCode::NotPending,
        Kind::DigestMismatch => ErrorCode::DigestMismatch,
        Kind::SizeMismatch => ErrorCode::SizeMismatch,
        Kind::MissingBlobs => ErrorCode::MissingBlobs,
        Kind::ManifestMissing => ErrorCode::ManifestMissing,
        Kind::PayloadTooLarge => ErrorCode::PayloadTooLarge,
        // `Kind` is non-exhaustive: a refusal this layer does not know yet is still the
        // caller's mistake, never a server failure.
        _ => ErrorCode::BadRequest,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (problem, failure) = match self {
            Self::Problem(problem) => {
                let failure = (problem.status >= 500).then(|| problem.detail.clone());
                (*problem, failure)
            }
            Self::Domain(cairn_service::Error::Refused(refusal)) => {
                let refusal = *refusal;
                let problem = Problem::new(code_of(refusal.kind), refusal.message);
                let problem = if refusal.missing.is_empty() {
                    problem
                } else {
                    problem.with_missing(refusal.missing.into_iter().map(wire::blob_ref).collect())
                };
                (problem, None)
            }
            Self::Domain(error) if error.is_unavailable() => (
                Problem::new(
                    ErrorCode::StorageUnavailable,
                    "the server could not store or read data right now (database busy or full, blob store down); nothing was stored, retry later",
                ),
                Some(cairn_service::error_chain(&error)),
            ),
            Self::Domain(error) => (
                Problem::new(
                    ErrorCode::Internal,
                    "the server failed; the error was logged",
                ),
                Some(cairn_service::error_chain(&error)),
            ),
            Self::Internal(detail) => (
                Problem::new(
                    ErrorCode::Internal,
                    "the server failed; the error was logged",
                ),
                Some(detail),
            ),
        };
        problem_response(&problem, failure)
    }
}

/// A `problem+json` response; `failure` goes to the logging middleware.
pub(crate) fn problem_response(problem: &Problem, failure: Option<String>) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    if let Some(failure) = failure {
        response.extensions_mut().insert(FailureDetail(failure));
    }
    response
}
