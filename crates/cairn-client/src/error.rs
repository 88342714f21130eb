//! The crate's error type. Messages follow the W&B SDK's wording where it has one, so users who
//! know the SDK recognise them, and always name the path, URI or value at fault.

use std::path::PathBuf;

/// Everything that can go wrong while building, logging, finding or downloading an artifact.
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
    /// A method that needs a logged artifact was called on a draft.
    #[error(
        "'Artifact.{method}' used prior to logging artifact or while in offline mode. Call Artifact.wait() before accessing logged artifact properties."
    )]
    NotLogged {
        /// The method that was called.
        method: &'static str,
    },
    /// The server has no such entity, project, collection, version, alias or run (or the caller
    /// may not know it exists).
    #[error("{what}")]
    NotFound {
        /// What was looked for, in words (the server's own message when it sent one).
        what: String,
    },
    /// An artifact has no entry at this path (the SDK's `KeyError`).
    #[error("Path not contained in artifact: {path}")]
    EntryNotFound {
        /// The path asked for.
        path: String,
    },
    /// The API key is known but may not do this.
    #[error("permission denied: {detail}")]
    PermissionDenied {
        /// The server's explanation.
        detail: String,
    },
    /// No API key was sent, or the server does not know it.
    #[error("not authenticated at `{base_url}`: {detail}; run `cairn login` or set CAIRN_API_KEY")]
    Unauthenticated {
        /// The server.
        base_url: String,
        /// The server's explanation.
        detail: String,
    },
    /// The server answered with an error (an RFC 9457 problem, or a bare status).
    #[error("the server refused the request ({code}, HTTP {status}): {detail}")]
    Server {
        /// The stable machine code (`Unknown` for a body that was not a problem).
        code: cairn_api::ErrorCode,
        /// The HTTP status.
        status: u16,
        /// What the server said.
        detail: String,
    },
    /// The server could not be reached.
    #[error(
        "cannot connect to the Cairn server at `{base_url}`; is `cairn server` running there? (set CAIRN_BASE_URL or run `cairn login` to use another)"
    )]
    Connect {
        /// The server.
        base_url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// A request failed on the way (timeout, connection reset while sending or receiving).
    #[error("request to `{url}` failed")]
    Http {
        /// The URL, without credentials.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// A streamed upload or its answer made no progress for the read timeout.
    #[error(
        "the transfer to `{url}` made no progress for {after:?}; the server or the network stalled"
    )]
    Stalled {
        /// The URL.
        url: String,
        /// How long nothing moved.
        after: std::time::Duration,
    },
    /// A response could not be understood (not the JSON this client expects).
    #[error(
        "unexpected answer from `{url}`: {reason}; is the server a Cairn server of a compatible version?"
    )]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// Downloaded content does not hash to the digest the manifest records. Nothing was written
    /// at the destination.
    #[error(
        "downloaded content of `{path}` does not match the manifest: expected {expected}, got {actual}; nothing was written, try again or report the corrupt data to the server's operator"
    )]
    DigestMismatch {
        /// The entry's logical path (or the reference URI).
        path: String,
        /// What the manifest records (`MD5 \`...\`` or `N bytes`).
        expected: String,
        /// What arrived, in the same form.
        actual: String,
    },
    /// A local file changed after it was added to the draft, so its content no longer matches
    /// the manifest.
    #[error(
        "`{}` changed after it was added to the artifact ({detail}); add it again to a new artifact and log that",
        path.display()
    )]
    FileChanged {
        /// The local file.
        path: std::path::PathBuf,
        /// What differs.
        detail: String,
    },
    /// The server asks for a blob that no local file of the draft provides.
    #[error(
        "the server asks for blob `{md5}` ({size} bytes) but no local file of the artifact has it; add the file again"
    )]
    BlobUnavailable {
        /// The blob's hex MD5.
        md5: String,
        /// Its size.
        size: u64,
    },
    /// An entry path would leave the download root, or pass through a symlink inside it.
    #[error("refusing to write `{}`: {reason}", path.display())]
    UnsafePath {
        /// The destination that was refused.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A reference entry could not be fetched (missing, changed, no access).
    #[error(
        "cannot fetch reference `{uri}`; pass `allow_missing_references` (`--allow-missing-references`) to skip it"
    )]
    MissingReference {
        /// The reference URI (redacted).
        uri: String,
        /// What the storage layer said.
        #[source]
        source: Box<cairn_storage::Error>,
    },
    /// `file()` on an artifact that does not hold exactly one file.
    #[error(
        "This artifact contains more than one file, call `.download()` to get all files or call .get_entry(\"filename\").download()"
    )]
    NotSingleFile {
        /// How many entries the artifact has.
        entries: usize,
    },
    /// A directory does not match the artifact's manifest.
    #[error("{}", verify_message(root, missing, extra, changed))]
    VerifyFailed {
        /// The directory checked.
        root: std::path::PathBuf,
        /// Entries with no file.
        missing: Vec<String>,
        /// Files that are not entries.
        extra: Vec<String>,
        /// Files whose content differs.
        changed: Vec<String>,
    },
    /// The local cache failed.
    #[error(transparent)]
    Cache(Box<cairn_cache::Error>),
    /// A setting (environment variable, credentials file) cannot be used.
    #[error("invalid setting {name}: {reason}")]
    Setting {
        /// The variable or file.
        name: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// An artifact path (`entity/project/name:alias`) did not parse or lacks a part.
    #[error(transparent)]
    ArtifactPath(#[from] cairn_api::ParseArtifactPathError),
    /// The version a draft should start from does not exist (or the caller may not read it).
    #[error(
        "cannot start a draft from `{name}`: {detail}; check the name and the alias or version (`cairn artifact ls ENTITY/PROJECT` lists the collections)"
    )]
    BaseNotFound {
        /// The version as the caller named it.
        name: String,
        /// What the server said.
        detail: String,
    },
    /// A draft can only start from a committed version.
    #[error(
        "cannot start a draft from `{name}`: it is {state}, not COMMITTED; wait until its log has finished, or start from a committed version (`:latest`, `:vN`)"
    )]
    BaseNotCommitted {
        /// The version.
        name: String,
        /// Its state.
        state: String,
    },
    /// A table (or table file) is not what a W&B table may be.
    #[error("{what} is not a valid W&B table: {reason}")]
    InvalidTable {
        /// The table or file concerned (an entry path when read from an artifact).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A part of a distributed version gives a path contents another writer gave differently;
    /// the server's message names both writers.
    #[error(
        "cannot add this part to distributed artifact `{name}` (distributed id `{distributed_id}`): {detail}; write that path from one writer only, or give it the same contents everywhere"
    )]
    DistributedConflict {
        /// The collection.
        name: String,
        /// The distributed id.
        distributed_id: String,
        /// What the server said (both writers, the path and both digests).
        detail: String,
    },
    /// `unlink` was called on a version seen in its own collection, not through a portfolio.
    #[error(
        "Artifact '{name}' is not a linked artifact and cannot be unlinked. To delete it, use 'delete' instead."
    )]
    NotALink {
        /// The version's qualified name.
        name: String,
    },
    /// A link target was not `portfolio`, `project/portfolio` or `entity/project/portfolio`.
    #[error(
        "invalid link target `{target}`: give `PORTFOLIO`, `PROJECT/PORTFOLIO` or `ENTITY/PROJECT/PORTFOLIO`"
    )]
    InvalidLinkTarget {
        /// The target as given.
        target: String,
    },
    /// The distributed version was finished (committed) already: it takes no more parts.
    #[error(
        "distributed artifact `{name}` (distributed id `{distributed_id}`) was finished already and takes no more parts; log the new files under another distributed id ({detail})"
    )]
    DistributedFinished {
        /// The collection.
        name: String,
        /// The distributed id.
        distributed_id: String,
        /// What the server said (it names the committed version).
        detail: String,
    },
    /// An operation this version cannot do.
    #[error("{what} is not supported: {hint}")]
    NotSupported {
        /// What was asked.
        what: String,
        /// What to do instead.
        hint: &'static str,
    },
}

/// The message of [`Error::VerifyFailed`]: counts and the first few paths of each kind.
fn verify_message(
    root: &std::path::Path,
    missing: &[String],
    extra: &[String],
    changed: &[String],
) -> String {
    const SHOWN: usize = 5;
    let list = |kind: &str, paths: &[String]| {
        if paths.is_empty() {
            return None;
        }
        let mut shown: Vec<String> = paths.iter().take(SHOWN).map(|p| format!("`{p}`")).collect();
        if paths.len() > SHOWN {
            shown.push(format!("and {} more", paths.len() - SHOWN));
        }
        Some(format!("{} {kind} ({})", paths.len(), shown.join(", ")))
    };
    let parts: Vec<String> = [
        list("missing", missing),
        list("not in the artifact", extra),
        list("changed", changed),
    ]
    .into_iter()
    .flatten()
    .collect();
    format!(
        "`{}` does not match the artifact: {}; run `checkout` to restore it",
        root.display(),
        parts.join(", ")
    )
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
    /// The server's machine code this error corresponds to, so a command line can map it to an
    /// exit code; `None` for local problems (files, settings, connection).
    pub fn code(&self) -> Option<cairn_api::ErrorCode> {
        use cairn_api::ErrorCode;
        match self {
            Self::NotFound { .. } | Self::EntryNotFound { .. } | Self::BaseNotFound { .. } => {
                Some(ErrorCode::NotFound)
            }
            Self::BaseNotCommitted { .. } | Self::DistributedConflict { .. } => {
                Some(ErrorCode::Conflict)
            }
            Self::DistributedFinished { .. } => Some(ErrorCode::NotPending),
            Self::PermissionDenied { .. } => Some(ErrorCode::PermissionDenied),
            Self::Unauthenticated { .. } => Some(ErrorCode::Unauthenticated),
            Self::Server { code, .. } => Some(*code),
            Self::DigestMismatch { .. } => Some(ErrorCode::DigestMismatch),
            Self::FileChanged { .. } => Some(ErrorCode::DigestMismatch),
            _ => None,
        }
    }

    /// Whether the server could not be reached or answered that it is unavailable, so trying
    /// again later may work.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Connect { .. } => true,
            Self::Http { source, .. } => source.is_timeout() || source.is_connect(),
            Self::Stalled { .. } => true,
            Self::Server { code, .. } => code.is_transient(),
            _ => false,
        }
    }

    pub(crate) fn cache(error: cairn_cache::Error) -> Self {
        Self::Cache(Box::new(error))
    }

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
