//! The crate's two error types: [`Error`], for opening and serving (what the CLI reports), and
//! `ApiError`, the one mapping from a failed request to a `problem+json` response.
//!
//! A 4xx answer says what was wrong in words the caller can act on. A 5xx answer carries no
//! internal detail: the detail travels in a response extension to the logging middleware
//! (`log_failures` in `lib.rs`), which writes it with `tracing` and strips it.

use std::path::PathBuf;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::{BlobRef, ErrorCode, PROBLEM_CONTENT_TYPE, Problem};

/// Why the server could not open its data directory or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory of the data directory could not be used.
    #[error("cannot {action} `{}`; check that the data directory exists and is writable", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An SQLite database of the data directory could not be opened or migrated.
    #[error("cannot {action} the database `{}`", path.display())]
    Database {
        /// What was being done.
        action: &'static str,
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer server.
    #[error(
        "the database `{}` has schema version {found}, but this server knows only up to {supported}; run a newer `cairn server`", path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The blob store setting cannot be used.
    #[error("blob store `{url}` cannot be used: {reason}")]
    BlobStore {
        /// The setting as given.
        url: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The blob store failed while opening.
    #[error(transparent)]
    Storage(#[from] cairn_storage::Error),
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
    /// The operating system's random number generator failed.
    #[error("cannot read random bytes from the operating system: {0}")]
    Random(getrandom::Error),
    /// Accepting connections failed.
    #[error("serving HTTP failed")]
    Serve(#[source] std::io::Error),
    /// A background task panicked or was cancelled while opening.
    #[error("a startup task failed: {0}")]
    Task(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A failed request. Client mistakes become a [`Problem`] with their code; server-side failures
/// keep their detail for the log only.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// A 4xx problem (or a deliberate 5xx one without internals).
    Problem(Box<Problem>),
    /// A database failure; busy and full databases are 503, the rest 500.
    Database(rusqlite::Error),
    /// The blob store or the disk could not store or read data: 503.
    Unavailable(String),
    /// A bug or an unexpected state: 500.
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

    pub(crate) fn invalid_name(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidName, detail)
    }

    pub(crate) fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }

    pub(crate) fn denied(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, detail)
    }

    pub(crate) fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, detail)
    }

    /// `missing_blobs`, listing `missing` (the first of them, when there are many) of `total`.
    pub(crate) fn missing_blobs(missing: Vec<BlobRef>, total: u64) -> Self {
        let listed = if missing.len() as u64 == total {
            String::new()
        } else {
            format!(
                " (the first {} are listed; `GET missing-blobs` lists them all)",
                missing.len()
            )
        };
        let detail = format!(
            "{total} blob(s) of the manifest have not been uploaded{listed} (first: `{}`); upload them and commit again",
            missing.first().map(|blob| blob.md5.as_str()).unwrap_or("")
        );
        Self::Problem(Box::new(
            Problem::new(ErrorCode::MissingBlobs, detail).with_missing(missing),
        ))
    }

    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self::Internal(detail.into())
    }

    /// Whether SQLite said the database is busy or locked (worth retrying).
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self, Self::Database(error) if is_busy(error))
    }

    /// The code this error answers with.
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Self::Problem(problem) => problem.code,
            Self::Database(error) if is_busy(error) || is_full(error) => {
                ErrorCode::StorageUnavailable
            }
            Self::Unavailable(_) => ErrorCode::StorageUnavailable,
            Self::Database(_) | Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn is_full(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure)
    )
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Database(error)
    }
}

impl From<cairn_storage::Error> for ApiError {
    fn from(error: cairn_storage::Error) -> Self {
        // The server only asks the store for blobs its database says exist, so any failure,
        // "not found" included, means the store is not serving: report it as unavailable.
        Self::Unavailable(format!("blob store: {}", error_chain(&error)))
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::Problem(Box::new(problem))
    }
}

/// `error: cause: cause` on one line, for logs.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let (problem, failure) = match self {
            Self::Problem(problem) => {
                let failure = (problem.status >= 500).then(|| problem.detail.clone());
                (*problem, failure)
            }
            Self::Database(error) => {
                let problem = if code == ErrorCode::StorageUnavailable {
                    Problem::new(
                        code,
                        "the server's database is busy or out of space; retry later",
                    )
                } else {
                    Problem::new(code, "the server failed; the error was logged")
                };
                (problem, Some(format!("database: {}", error_chain(&error))))
            }
            Self::Unavailable(detail) => (
                Problem::new(
                    code,
                    "the server could not store or read blob data right now; nothing was stored, retry later",
                ),
                Some(detail),
            ),
            Self::Internal(detail) => (
                Problem::new(code, "the server failed; the error was logged"),
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

/// Maps an error of a blocking task (a panic or cancellation) to a 500.
pub(crate) fn join_error(error: tokio::task::JoinError) -> ApiError {
    ApiError::internal(format!("a blocking task failed: {error}"))
}
