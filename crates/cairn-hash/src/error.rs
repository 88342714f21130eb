//! The crate's error type: every failure names the file it concerns.

use std::io;
use std::path::PathBuf;

/// A file could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened (missing, a directory, no permission, ...).
    #[error("cannot open `{path}` for hashing")]
    Open {
        /// The file that was asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The path is a named pipe, socket or device, whose bytes are not a file's content.
    #[error(
        "`{path}` is not a regular file (a named pipe, socket or device); only regular files can be hashed"
    )]
    NotAFile {
        /// The path that was asked for.
        path: PathBuf,
    },
    /// Reading the file failed part-way.
    #[error("cannot read `{path}` while hashing it")]
    Read {
        /// The file being hashed.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The file this error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Open { path, .. } | Self::Read { path, .. } | Self::NotAFile { path } => path,
        }
    }

    /// The underlying IO error, when the operating system reported one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Self::Open { source, .. } | Self::Read { source, .. } => Some(source),
            Self::NotAFile { .. } => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
