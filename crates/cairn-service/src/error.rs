//! The domain's one error type: what went wrong, as a [`Kind`] a front-end maps to its own
//! answer (an HTTP status and problem code, a GraphQL error), with a message for people.
//!
//! Refusals ([`Error::Refused`]) carry words a user can act on. Failures of the server itself
//! (the database, the blob store, a bug) keep their detail for the log only: a front-end shows
//! a fixed message instead.

use std::path::PathBuf;

use crate::model::BlobRef;

/// Why a request was refused: the caller's mistake or missing rights, never the server's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// The request is malformed: a bad digest, a bad range, a bad body.
    BadRequest,
    /// A name breaks the naming rules.
    InvalidName,
    /// Metadata is not a JSON object or has too many keys.
    InvalidMetadata,
    /// The manifest does not parse, escapes the root or does not hash to the version's digest.
    InvalidManifest,
    /// No key, an unknown key, or an ambiguous one.
    Unauthenticated,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// It does not exist, or the caller may not know it exists.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The request conflicts with the current state.
    Conflict,
    /// The version is not PENDING.
    NotPending,
    /// Uploaded bytes do not hash to their digest.
    DigestMismatch,
    /// Uploaded bytes are shorter or longer than the manifest says.
    SizeMismatch,
    /// A commit found blobs missing ([`Refusal::missing`] lists the first of them).
    MissingBlobs,
    /// The manifest must be uploaded first.
    ManifestMissing,
    /// A body is larger than allowed.
    PayloadTooLarge,
}

/// A refusal: its kind, the message, and for [`Kind::MissingBlobs`] the blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What kind of refusal.
    pub kind: Kind,
    /// What was wrong, in words the caller can act on.
    pub message: String,
    /// The (first) missing blobs of a [`Kind::MissingBlobs`] refusal.
    pub missing: Vec<BlobRef>,
}

/// A failed domain operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller's request is refused.
    #[error("{}", .0.message)]
    Refused(Box<Refusal>),
    /// A database failure; [`Error::is_unavailable`] says whether it is worth retrying.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The blob store or the disk could not store or read data right now.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected state.
    #[error("internal: {0}")]
    Internal(String),
}

/// `Result` with the domain [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A refusal of `kind` saying `message`.
    pub fn refused(kind: Kind, message: impl Into<String>) -> Self {
        Self::Refused(Box::new(Refusal {
            kind,
            message: message.into(),
            missing: Vec::new(),
        }))
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::refused(Kind::BadRequest, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::refused(Kind::NotFound, message)
    }

    pub(crate) fn invalid_name(message: impl Into<String>) -> Self {
        Self::refused(Kind::InvalidName, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::refused(Kind::Conflict, message)
    }

    pub(crate) fn denied(message: impl Into<String>) -> Self {
        Self::refused(Kind::PermissionDenied, message)
    }

    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::refused(Kind::Unauthenticated, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
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
        let message = format!(
            "{total} blob(s) of the manifest have not been uploaded{listed} (first: `{}`); upload them and commit again",
            missing
                .first()
                .map(|blob| blob.md5.to_hex())
                .unwrap_or_default()
        );
        Self::Refused(Box::new(Refusal {
            kind: Kind::MissingBlobs,
            message,
            missing,
        }))
    }

    /// The refusal's kind, if this is a refusal.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Self::Refused(refusal) => Some(refusal.kind),
            _ => None,
        }
    }

    /// Whether the server could not do it right now (a busy or full database, a blob store that
    /// is down): worth retrying later, unlike a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(error) => is_busy(error) || is_full(error),
            Self::Unavailable(_) => true,
            Self::Refused(_) | Self::Internal(_) => false,
        }
    }

    /// Whether SQLite said the database is busy or locked (worth retrying at once).
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self, Self::Database(error) if is_busy(error))
    }

    /// Appends `suffix` to a refusal's message (other errors are unchanged).
    pub(crate) fn with_suffix(self, suffix: &str) -> Self {
        match self {
            Self::Refused(mut refusal) => {
                refusal.message.push_str(suffix);
                Self::Refused(refusal)
            }
            other => other,
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

impl From<cairn_storage::Error> for Error {
    fn from(error: cairn_storage::Error) -> Self {
        // The service only asks the store for blobs its database says exist, so any failure,
        // "not found" included, means the store is not serving: report it as unavailable.
        Self::Unavailable(format!("blob store: {}", error_chain(&error)))
    }
}

/// `error: cause: cause` on one line, for logs.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Maps an error of a blocking task (a panic or cancellation) to an internal error.
pub(crate) fn join_error(error: tokio::task::JoinError) -> Error {
    Error::internal(format!("a blocking task failed: {error}"))
}

/// Why the service could not open its data directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
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
    /// A background task panicked, or the first start could not be recorded.
    #[error("a startup task failed: {0}")]
    Task(String),
}
