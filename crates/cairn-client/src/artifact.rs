//! The draft [`Artifact`]: a named, typed set of entries being put together before it is logged.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use cairn_hash::{Algorithms, Digests, Hasher, ParallelOptions};
use cairn_manifest::{DigestAlgorithm, Entry, LogicalPath, Manifest};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// One entry of an artifact with its logical path, as the `add_*` methods return them.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactEntry {
    /// Where the entry lives inside the artifact.
    pub path: LogicalPath,
    /// Its digest, size, reference and extras.
    pub entry: Entry,
}

/// A draft artifact: the SDK's `wandb.Artifact` before it is logged.
///
/// Entries are added with [`add_file`](Self::add_file), [`add_dir`](Self::add_dir),
/// [`add_reference`](Self::add_reference) and [`new_file`](Self::new_file), and removed with
/// [`remove`](Self::remove). Every method that fails leaves the artifact exactly as it was.
#[derive(Debug)]
pub struct Artifact {
    name: String,
    artifact_type: String,
    description: Option<String>,
    metadata: Map<String, Value>,
    digest_algorithm: DigestAlgorithm,
    manifest: Manifest,
    finalized: bool,
    threads: Option<usize>,
    new_files: Option<tempfile::TempDir>,
    /// Remembered digests of unchanged files (see `stat.rs`).
    pub(crate) stat_cache: Option<std::sync::Arc<cairn_cache::StatCache>>,
    handlers: Option<std::sync::Arc<cairn_storage::Handlers>>,
    /// The version this draft became, once logged.
    logged: Option<cairn_api::Version>,
    /// The committed version an incremental draft started from (see `draft.rs`).
    pub(crate) base: Option<crate::draft::Base>,
    /// The TTL to log it with (`None`: the team's default).
    ttl: Option<cairn_api::TtlSetting>,
    /// Blobs its `add_*_staged` calls sent to the server ahead of the log (see `stage.rs`).
    pub(crate) staged: Vec<cairn_api::BlobRef>,
}

impl Artifact {
    /// A new empty draft. The name and type are checked with the SDK's rules.
    pub fn new(name: &str, artifact_type: &str) -> Result<Self> {
        cairn_manifest::validate_artifact_name(name)?;
        cairn_manifest::validate_artifact_type(artifact_type, name)?;
        Ok(Self {
            name: name.to_owned(),
            artifact_type: artifact_type.to_owned(),
            description: None,
            metadata: Map::new(),
            digest_algorithm: DigestAlgorithm::default(),
            manifest: Manifest::new(),
            finalized: false,
            threads: None,
            new_files: None,
            stat_cache: None,
            handlers: None,
            logged: None,
            base: None,
            ttl: None,
            staged: Vec::new(),
        })
    }

    /// Sets the free-text description (it does not affect the digest).
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the TTL the version is logged with: `Seconds(n)` deletes it `n` seconds after its
    /// creation, `None` keeps it for ever even when the team has a default, `Inherit` (the
    /// default) takes the team's. Setting one needs the team's TTL permission.
    #[must_use]
    pub fn with_ttl(mut self, ttl: cairn_api::TtlSetting) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The TTL asked for, if any.
    pub fn ttl(&self) -> Option<cairn_api::TtlSetting> {
        self.ttl
    }

    /// Sets the metadata: a JSON object of at most 100 top-level keys.
    pub fn with_metadata(mut self, metadata: Value) -> Result<Self> {
        self.metadata = cairn_manifest::validate_metadata(metadata)?;
        Ok(self)
    }

    /// Chooses the digest of file entries: MD5 (default) or XXH128. `file://` references always
    /// use MD5, as in the SDK.
    #[must_use]
    pub fn with_digest_algorithm(mut self, digest_algorithm: DigestAlgorithm) -> Self {
        self.digest_algorithm = digest_algorithm;
        self
    }

    /// Resolves references with `handlers` instead of the default set (every backend this build
    /// has, configured from the environment).
    #[must_use]
    pub fn with_handlers(mut self, handlers: cairn_storage::Handlers) -> Self {
        self.handlers = Some(std::sync::Arc::new(handlers));
        self
    }

    /// The reference handlers in use.
    pub(crate) fn handlers(&self) -> &std::sync::Arc<cairn_storage::Handlers> {
        static DEFAULT: std::sync::OnceLock<std::sync::Arc<cairn_storage::Handlers>> =
            std::sync::OnceLock::new();
        self.handlers.as_ref().unwrap_or_else(|| {
            DEFAULT.get_or_init(|| std::sync::Arc::new(cairn_storage::Handlers::from_env()))
        })
    }

    /// The hashing threads asked for, if any.
    pub(crate) fn threads(&self) -> Option<usize> {
        self.threads
    }

    /// Hashes on `threads` threads instead of one per core.
    #[must_use]
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// The artifact's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The artifact's type.
    pub fn artifact_type(&self) -> &str {
        &self.artifact_type
    }

    /// The description, if one was set.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The metadata object.
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The algorithm of file digests and of the artifact digest.
    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        self.digest_algorithm
    }

    /// The manifest built so far.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The artifact digest (lowercase hex): equal content gives an equal digest.
    pub fn digest(&self) -> String {
        self.manifest.digest(self.digest_algorithm)
    }

    /// Total size of the entries in bytes (references count with their recorded size).
    pub fn size(&self) -> u64 {
        self.manifest.size()
    }

    /// Whether the artifact was finalized and can no longer change.
    pub fn is_finalized(&self) -> bool {
        self.finalized
    }

    /// Freezes the artifact: every later change is refused.
    pub fn finalize(&mut self) {
        self.finalized = true;
    }

    /// The version this draft became, once [`Run::log_artifact`](crate::Run::log_artifact)
    /// succeeded.
    pub fn logged_version(&self) -> Option<&cairn_api::Version> {
        self.logged.as_ref()
    }

    /// Makes this (new, empty) draft start from `base`, with `manifest` as its entries.
    pub(crate) fn start_from(&mut self, base: crate::draft::Base, manifest: Manifest) {
        self.manifest = manifest;
        self.base = Some(base);
    }

    /// Records the version the draft became, and freezes it.
    pub(crate) fn mark_logged(&mut self, version: cairn_api::Version) {
        self.finalized = true;
        self.logged = Some(version);
    }

    /// The entry at `path` (normalised as the SDK does). Like the SDK, only a logged artifact
    /// answers; on a draft this is [`Error::NotLogged`].
    pub fn get_entry(&self, path: &str) -> Result<ArtifactEntry> {
        if self.logged.is_none() {
            return Err(Error::NotLogged {
                method: "get_entry",
            });
        }
        entry_of(&self.manifest, path)
    }

    /// Writes `contents` as a new file named `name` and adds it (the SDK's `new_file`). With
    /// `exclusive`, a name already written by `new_file` is refused; without it the file is
    /// replaced.
    pub fn new_file(
        &mut self,
        name: &str,
        contents: &[u8],
        exclusive: bool,
    ) -> Result<ArtifactEntry> {
        self.ensure_draft("new_file")?;
        let path = LogicalPath::new(name)?;
        let file = self.staging_dir()?.join(path.as_str());
        if exclusive && file.exists() {
            return Err(Error::NewFileExists {
                name: name.to_owned(),
                path: file,
            });
        }
        // Hash the bytes in hand rather than reading them back from disk.
        let mut hasher = Hasher::new(self.hash_options().algorithms());
        hasher.update(contents);
        let entry = self.file_entry(&hasher.finalize(), file.clone(), true)?;
        // Write through a temporary file and rename, so a failure leaves neither a partial file
        // nor an entry, and an earlier file of the same name stays intact until the new one is
        // complete.
        let parent = file.parent().unwrap_or(&file);
        fs_err::create_dir_all(parent).map_err(Error::io("create", parent))?;
        let mut temporary = tempfile::NamedTempFile::new_in(parent)
            .map_err(Error::io("create a file in", parent))?;
        temporary
            .write_all(contents)
            .map_err(Error::io("write", temporary.path().to_owned()))?;
        temporary
            .persist(&file)
            .map_err(|error| Error::io("write", &file)(error.error))?;
        let added = ArtifactEntry { path, entry };
        // `new_file` replaces an entry of the same name, as in the SDK, so this cannot conflict.
        self.add_all(vec![added.clone()], true)?;
        Ok(added)
    }

    /// The private directory that holds the files written by [`new_file`](Self::new_file); it
    /// is removed when the artifact is dropped.
    fn staging_dir(&mut self) -> Result<PathBuf> {
        if let Some(staging) = &self.new_files {
            return Ok(staging.path().to_owned());
        }
        let staging = tempfile::Builder::new()
            .prefix("cairn-new-file-")
            .tempdir()
            .map_err(Error::io(
                "create a staging directory in",
                std::env::temp_dir(),
            ))?;
        let path = staging.path().to_owned();
        self.new_files = Some(staging);
        Ok(path)
    }

    /// Consumes the draft and returns its manifest; files written by `new_file` are deleted.
    pub fn into_manifest(self) -> Manifest {
        self.manifest
    }

    /// Removes an entry by its path, or every entry under a directory prefix.
    pub fn remove(&mut self, item: &str) -> Result<Vec<LogicalPath>> {
        self.ensure_draft("remove")?;
        Ok(self.manifest.remove(item)?)
    }

    pub(crate) fn ensure_draft(&self, method: &'static str) -> Result<()> {
        if self.finalized {
            Err(Error::Finalized { method })
        } else {
            Ok(())
        }
    }

    pub(crate) fn hash_options(&self) -> ParallelOptions {
        let algorithms = match self.digest_algorithm {
            DigestAlgorithm::Md5 => Algorithms::MD5,
            DigestAlgorithm::Xxh128 => Algorithms::MD5.with_xxh128(),
        };
        let options = ParallelOptions::new(algorithms);
        match self.threads {
            Some(threads) => options.with_threads(threads),
            None => options,
        }
    }

    /// The manifest entry for a local file with these digests.
    pub(crate) fn file_entry(
        &self,
        digests: &Digests,
        local_path: PathBuf,
        skip_cache: bool,
    ) -> Result<Entry> {
        let digest = match (self.digest_algorithm, digests.xxh128) {
            (DigestAlgorithm::Xxh128, Some(xxh128)) => xxh128.to_base64(),
            // `hash_options` always asks for XXH128 in XXH128 artifacts, so this is the MD5 case.
            _ => digests.md5.to_base64(),
        };
        let mut entry = Entry::file_with_algorithm(self.digest_algorithm, digest, digests.size);
        // The manifest is UTF-8 JSON; a path it cannot hold exactly could not be read back.
        let local_path = local_path
            .into_os_string()
            .into_string()
            .map_err(|path| Error::NonUtf8Path { path: path.into() })?;
        entry.local_path = Some(local_path);
        entry.skip_cache = skip_cache;
        Ok(entry)
    }

    /// Adds entries all-or-nothing: if any breaks the same-path rule, none is added.
    pub(crate) fn add_all(&mut self, entries: Vec<ArtifactEntry>, overwrite: bool) -> Result<()> {
        let base = self
            .base
            .as_ref()
            .map(|base| std::sync::Arc::clone(&base.manifest));
        let entries = entries
            .into_iter()
            .map(|ArtifactEntry { path, mut entry }| {
                // Content added again unchanged at its path in the base keeps its birth id.
                if let Some(base) = &base {
                    crate::draft::keep_birth(base, &path, &mut entry);
                }
                (path, entry)
            });
        Ok(self.manifest.add_all(entries, overwrite)?)
    }
}

/// The entry of `manifest` at `path`, or the SDK's `KeyError` wording.
pub(crate) fn entry_of(manifest: &Manifest, path: &str) -> Result<ArtifactEntry> {
    let not_found = || Error::EntryNotFound {
        path: path.to_owned(),
    };
    let logical = LogicalPath::new(path).map_err(|_| not_found())?;
    let entry = manifest.get(logical.as_str()).ok_or_else(not_found)?;
    Ok(ArtifactEntry {
        path: logical,
        entry: entry.clone(),
    })
}

/// `path` made absolute against the current directory, without resolving symlinks (for messages
/// and for the `local_path` of entries).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The UTF-8 text of a path, or the error that says why it cannot be an artifact path.
pub(crate) fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| Error::NonUtf8Path {
        path: path.to_owned(),
    })
}

/// Python's `os.path.join(prefix, relative)` for a relative second part.
pub(crate) fn join_prefix(prefix: Option<&str>, relative: &str) -> String {
    match prefix {
        None | Some("") => relative.to_owned(),
        Some(prefix) if prefix.ends_with('/') => format!("{prefix}{relative}"),
        Some(prefix) => format!("{prefix}/{relative}"),
    }
}
