//! The crate's one error type. Variants say what the caller can act on; every message names the
//! URI, key or path concerned (with secrets redacted) and, where there is one, what to do.

use std::path::PathBuf;

/// A boxed error from a backend library (object_store, reqwest).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not a URI this layer can use.
    #[error("`{uri}` is not a valid reference: {reason}")]
    MalformedUri {
        /// The URI, redacted.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key or object name cannot be used (empty segments, `..`, control characters).
    #[error("`{key}` is not a valid object key: {reason}")]
    InvalidKey {
        /// The key, as given.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A reference with an unknown scheme needs an explicit entry name.
    #[error(
        "You must pass name=\"<entry_name>\" when tracking references with unknown schemes. ref: {uri}"
    )]
    NameRequired {
        /// The URI, redacted.
        uri: String,
    },
    /// No handler in this build serves the scheme.
    #[error(
        "`{scheme}://` references need the `{feature}` storage backend, which this build of Cairn does not include; rebuild with `--features {feature}`"
    )]
    BackendNotBuilt {
        /// The URI's scheme.
        scheme: String,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// The object, file or version does not exist.
    #[error("`{uri}` does not exist{}", version.as_deref().map(|v| format!(" (version `{v}`)")).unwrap_or_default())]
    NotFound {
        /// The URI or key, redacted.
        uri: String,
        /// The version asked for, if any.
        version: Option<String>,
    },
    /// A reference expands to more objects than allowed.
    #[error(
        "Exceeded {max_objects} objects tracked, pass max_objects to add_reference (`{uri}` holds more)"
    )]
    TooManyObjects {
        /// The URI, redacted.
        uri: String,
        /// The cap that was exceeded.
        max_objects: u64,
    },
    /// The object changed since it was recorded, and no version pins the recorded content.
    #[error(
        "`{uri}` changed since it was recorded: expected {recorded}, found {found}; log a new version of the artifact, or enable object versioning so the recorded version can still be fetched"
    )]
    Changed {
        /// The URI, redacted.
        uri: String,
        /// What the manifest recorded (digest, ETag or size).
        recorded: String,
        /// What the store has now.
        found: String,
    },
    /// A conditional create found the key taken.
    #[error("`{key}` already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// A conditional write or read found the object in another state than required.
    #[error("precondition failed for `{key}`: {detail}")]
    Precondition {
        /// The key.
        key: String,
        /// What did not match.
        detail: String,
    },
    /// The store refused the credentials' access.
    #[error("access to `{uri}` was denied; check that your credentials may read it ({hint})")]
    PermissionDenied {
        /// The URI, redacted.
        uri: String,
        /// Which credentials were used.
        hint: String,
        /// What the store said.
        #[source]
        source: Option<BoxError>,
    },
    /// No usable credentials.
    #[error("cannot authenticate to `{uri}`: {hint}")]
    Unauthenticated {
        /// The URI, redacted.
        uri: String,
        /// What to set.
        hint: String,
        /// What the store or credential provider said.
        #[source]
        source: Option<BoxError>,
    },
    /// An HTTP reference answered with an error status.
    #[error("`{uri}` answered HTTP {status}{}", reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default())]
    HttpStatus {
        /// The URI, redacted.
        uri: String,
        /// The status code.
        status: u16,
        /// Its reason phrase.
        reason: Option<String>,
    },
    /// The store did not answer in time (after retries).
    #[error("`{uri}` did not answer within {seconds} s; check the network or the endpoint")]
    Timeout {
        /// The URI, redacted.
        uri: String,
        /// The time limit of one attempt.
        seconds: u64,
    },
    /// The backend cannot do this operation.
    #[error("{backend} storage does not support {operation}")]
    NotSupported {
        /// The backend.
        backend: &'static str,
        /// What was asked.
        operation: &'static str,
    },
    /// A stream delivered a different number of bytes than recorded.
    #[error("`{uri}` was truncated: expected {expected} bytes, got {got}")]
    Truncated {
        /// The URI or key, redacted.
        uri: String,
        /// Bytes expected.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// A local directory holds something that is neither a file nor a directory (a socket, a
    /// FIFO, a device, a dangling symlink): it cannot be versioned.
    #[error("`{}` is not a regular file (it is a {kind}); remove it or add the files you need one by one", path.display())]
    SpecialFile {
        /// The offending path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A symlink leads back to a directory that contains it, so walking it would never end.
    #[error("`{}` is a symlink loop: it leads back to a directory that contains it; remove the link or add the directories it points to separately", path.display())]
    SymlinkLoop {
        /// The path through which the loop was entered.
        path: PathBuf,
    },
    /// A local path is not valid UTF-8, so it cannot become a logical path in a manifest.
    #[error("`{}` is not valid UTF-8; artifact manifests hold UTF-8 paths only, so rename the file or its directory", path.display())]
    NonUtf8Path {
        /// The offending path.
        path: PathBuf,
    },
    /// Reading or writing a local file failed.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be hashed.
    #[error(transparent)]
    Hash(#[from] cairn_hash::Error),
    /// An entry path produced by a handler broke the manifest's path rules.
    #[error(transparent)]
    Manifest(#[from] cairn_manifest::Error),
    /// A data stream given to an upload failed.
    #[error("the data for `{key}` could not be read; nothing was stored")]
    Source {
        /// The key being written.
        key: String,
        /// What the stream said.
        #[source]
        source: std::io::Error,
    },
    /// Anything else the backend reported.
    #[error("{backend} storage failed on `{uri}`")]
    Backend {
        /// The backend.
        backend: &'static str,
        /// The URI or key, redacted.
        uri: String,
        /// What it said.
        #[source]
        source: BoxError,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// Whether the error means "there is no such object": callers that tolerate missing
    /// references (`allow_missing_references`) test this.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
