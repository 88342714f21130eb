//! The crate's one error type. Every IO error names its path; every verification error names the
//! digest (or key) that was expected and what was found instead.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the cache.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read, written, renamed or removed.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// No cache directory could be chosen: neither `CAIRN_CACHE_DIR` nor a platform cache
    /// directory is known.
    #[error(
        "cannot find a cache directory: set CAIRN_CACHE_DIR to a writable directory (for example `~/.cache/cairn`)"
    )]
    NoCacheDir,
    /// The bytes streamed in did not hash to the digest the object is named by. Nothing was
    /// stored.
    #[error(
        "content of `{key}` does not match: expected MD5 `{expected}`, got `{actual}` ({size} bytes); nothing was cached"
    )]
    DigestMismatch {
        /// The object that was being inserted.
        key: String,
        /// The MD5 the content should have had (base64).
        expected: String,
        /// The MD5 of the bytes actually received (base64).
        actual: String,
        /// How many bytes were received.
        size: u64,
    },
    /// The stream ended before (or went on after) the expected size. Nothing was stored.
    #[error(
        "content of `{key}` has the wrong size: expected {expected} bytes, got {actual}; the stream was truncated or is not this object, and nothing was cached"
    )]
    SizeMismatch {
        /// The object that was being inserted.
        key: String,
        /// The size the caller promised.
        expected: u64,
        /// The number of bytes received.
        actual: u64,
    },
    /// Reading the source stream failed part-way. Nothing was stored.
    #[error("cannot read the content of `{key}` while caching it; nothing was cached")]
    Source {
        /// The object that was being inserted.
        key: String,
        /// What the stream reported.
        #[source]
        source: io::Error,
    },
    /// The object is not in the cache.
    #[error("`{key}` is not in the cache at `{}`", root.display())]
    NotFound {
        /// The object asked for.
        key: String,
        /// The cache root.
        root: PathBuf,
    },
    /// A cached object no longer hashes to its name: the file was changed behind the cache's
    /// back (for example a hardlinked copy edited after `chmod`). It has been removed.
    #[error(
        "cached object `{}` is corrupt: expected MD5 `{expected}`, got `{actual}`; it was removed, fetch it again",
        path.display()
    )]
    Corrupt {
        /// The object file.
        path: PathBuf,
        /// The digest the object is named by.
        expected: String,
        /// What it hashed to.
        actual: String,
    },
    /// The destination of a checkout is a directory; it is never replaced.
    #[error("`{}` is a directory; a cached file is never written over a directory, remove or rename it first", path.display())]
    DestinationIsDirectory {
        /// The destination asked for.
        path: PathBuf,
    },
    /// The requested link mode is not possible here (reflink on a filesystem without
    /// copy-on-write, hardlink across filesystems).
    #[error(
        "cannot {mode} `{}` to `{}`: {reason}; use `--link auto` or `--link copy`",
        source_path.display(),
        path.display()
    )]
    LinkNotSupported {
        /// `reflink` or `hardlink`.
        mode: &'static str,
        /// The cached object.
        source_path: PathBuf,
        /// The destination.
        path: PathBuf,
        /// Why, in words.
        reason: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Another process holds the cache's exclusive lock (a cleanup) for longer than allowed.
    #[error(
        "the cache at `{}` is busy: another process has held its lock for more than {seconds} s; try again later",
        root.display()
    )]
    Busy {
        /// The cache root.
        root: PathBuf,
        /// How long we waited.
        seconds: u64,
    },
    /// The cache's SQLite index or stat cache failed.
    #[error("the cache index `{}` failed; delete it to rebuild it (no cached content is lost)", path.display())]
    Index {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: Box<rusqlite::Error>,
    },
    /// A size (for example `CAIRN_CACHE_MAX_SIZE`) could not be parsed.
    #[error(transparent)]
    Size(#[from] crate::ParseSizeError),
    /// An environment variable holds a value that cannot be used.
    #[error("environment variable {name} is invalid")]
    Env {
        /// The variable.
        name: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A closure that wraps an IO error with the action and path.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// A closure that wraps an SQLite error with the database path.
    pub(crate) fn index(path: impl Into<PathBuf>) -> impl FnOnce(rusqlite::Error) -> Self {
        let path = path.into();
        move |source| Self::Index {
            path,
            source: Box::new(source),
        }
    }

    /// Whether the error means the object is not (or no longer) in the cache.
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::NotFound { .. } => true,
            Self::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}
