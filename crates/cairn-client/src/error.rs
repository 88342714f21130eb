//! The crate's error type. Messages follow the W&B SDK's wording where it has one, so users who
//! know the SDK recognise them, and always name the path, URI or value at fault.

use std::path::PathBuf;

/// Everything that can go wrong while building an artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name, path, alias or manifest rule was broken.
    #[error(transparent)]
    Manifest(#[from] cairn_manifest::Error),
    /// A file could not be hashed.
    #[error(transparent)]
    Hash(#[from] cairn_hash::Error),
    /// The stat cache could not be read or written.
    #[error(transparent)]
    StatCache(Box<cairn_cache::Error>),
    /// `add_file` was given something that is not a regular file.
    #[error("Path is not a file: '{}'", path.display())]
    NotAFile {
        /// The path as given, made absolute.
        path: PathBuf,
        /// Why it could not be looked at, when the operating system said (missing, no permission).
        #[source]
        source: Option<std::io::Error>,
    },
    /// `add_dir` was given something that is not a directory.
    #[error("Path is not a directory: '{}'", path.display())]
    NotADirectory {
        /// The path as given, made absolute.
        path: PathBuf,
        /// Why it could not be looked at, when the operating system said (missing, no permission).
        #[source]
        source: Option<std::io::Error>,
    },
    /// A directory holds something that is neither a file nor a directory (a socket, a FIFO, a
    /// device, a dangling symlink): Cairn cannot version it.
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
    /// A local path is not valid UTF-8, so it cannot become a logical path in a manifest.
    #[error("`{}` is not valid UTF-8; artifact manifests hold UTF-8 paths only, so rename the file or its directory", path.display())]
    NonUtf8Path {
        /// The offending path.
        path: PathBuf,
    },
    /// `policy` was neither `mutable` nor `immutable`.
    #[error("Invalid policy '{0}'. Policy may only be `mutable` or `immutable`.")]
    InvalidPolicy(String),
    /// A reference was not a URI.
    #[error("References must be URIs. To reference a local file, use file://")]
    NotAUri {
        /// The rejected text.
        uri: String,
    },
    /// A `file://` reference pointed at nothing.
    #[error("Path '{uri}' must be a valid file or directory path")]
    ReferenceNotFound {
        /// The URI as given.
        uri: String,
        /// Why the path could not be looked at, when the operating system said.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A reference expanded to more objects than allowed.
    #[error("Exceeded {max_objects} objects tracked, pass max_objects to add_reference")]
    TooManyObjects {
        /// The cap that was exceeded.
        max_objects: u64,
    },
    /// A reference with an unknown scheme needs an explicit entry name.
    #[error(
        "You must pass name=\"<entry_name>\" when tracking references with unknown schemes. ref: {uri}"
    )]
    NameRequired {
        /// The URI as given.
        uri: String,
    },
    /// A reference to a logged artifact's entry, which needs a server (not supported yet).
    #[error(
        "references to `{scheme}://` URIs point into logged artifacts, which this version of Cairn cannot resolve yet"
    )]
    UnsupportedScheme {
        /// The scheme.
        scheme: String,
    },
    /// The storage layer could not resolve a reference (missing object, no credentials, network).
    #[error(transparent)]
    Storage(cairn_storage::Error),
    /// `new_file` in exclusive mode found the name already written.
    #[error("File with name '{name}' already exists at '{}'", path.display())]
    NewFileExists {
        /// The logical name.
        name: String,
        /// Where the earlier file lives.
        path: PathBuf,
    },
    /// The artifact was finalized (logged); it can no longer change.
    #[error("'Artifact.{method}' used on logged artifact. Can't modify finalized artifact.")]
    Finalized {
        /// The method that was called.
        method: &'static str,
    },
}

impl From<cairn_storage::Error> for Error {
    /// Storage errors that have an SDK-worded twin here become that twin, so callers match one
    /// set of variants whichever layer noticed the problem.
    fn from(error: cairn_storage::Error) -> Self {
        use cairn_storage::Error as Storage;
        match error {
            Storage::SpecialFile { path, kind } => Self::SpecialFile { path, kind },
            Storage::SymlinkLoop { path } => Self::SymlinkLoop { path },
            Storage::NonUtf8Path { path } => Self::NonUtf8Path { path },
            Storage::Io {
                action,
                path,
                source,
            } => Self::Io {
                action,
                path,
                source,
            },
            Storage::Hash(error) => Self::Hash(error),
            Storage::Manifest(error) => Self::Manifest(error),
            Storage::TooManyObjects { max_objects, .. } => Self::TooManyObjects { max_objects },
            Storage::NameRequired { uri } => Self::NameRequired { uri },
            other => Self::Storage(other),
        }
    }
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
}
