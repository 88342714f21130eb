//! Downloading a logged artifact: resolve the manifest, fetch what the cache lacks (verified
//! before it becomes visible), then materialise every entry inside the download root.
//!
//! Phases, each with its own progress:
//! 1. **Plan.** Every entry under `path_prefix` gets its destination (checked: no symlink inside
//!    the root on the way) and its cache key (MD5 for content, W&B's etag key for references
//!    whose digest is not an MD5 of their bytes). Files already in the root with the right
//!    size and MD5 are left alone.
//! 2. **Fetch.** Missing objects stream from the server (`GET routes::blob`) or from the
//!    reference's storage handler into the cache, `concurrency` at a time, all pinned so a
//!    concurrent cleanup cannot evict them, and each is put at the destinations of the entries
//!    holding it as soon as it is in, so writing the root overlaps the transfers. Small file
//!    blobs come many per request (`POST routes::small_blobs`); each is verified in memory,
//!    stored in the cache and, unless the root is to be hard- or reflinked to the cache, written
//!    from memory. With `skip_cache` they stream straight into a temporary file next to their
//!    destination instead and are renamed into place once verified.
//! 3. **Materialise.** Objects that were already cached are put in place by reflink, hardlink
//!    or copy.
//!
//! A failed fetch (a corrupt blob, a lost connection after every retry) stops the download:
//! no further file is written, and each file already in the root is whole and verified (a
//! re-run finds it there and keeps it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_api::batch::{FRAME_HEADER_LEN, FrameHeader};
use cairn_api::routes;
use cairn_cache::{Cache, LinkMode, ObjectKey};
use cairn_hash::{FileHasher, Md5Digest};
use cairn_manifest::{DigestAlgorithm, Entry, LogicalPath};
use futures_util::{StreamExt as _, TryStreamExt as _};
use reqwest::Method;

use crate::client::Failure;
use crate::progress::PhaseGuard;
use crate::transfer::{PumpError, pump, write_verified};
use crate::{Error, LoggedArtifact, Phase, Result, paths};

/// An entry fetched straight to its destination, and its size (`None` for an allowed missing
/// reference).
type FetchedDirect = (Planned, Option<u64>);

/// The entries holding one fetched object, all put in the root, and the object's size (`None`
/// for an allowed missing reference: nothing was written).
type Fetched = (Vec<Planned>, Option<u64>);

/// Where fetched objects are put as they arrive, and the flag that stops every writer once one
/// fetch failed.
#[derive(Debug, Clone)]
struct RootWriter {
    root: PathBuf,
    link_mode: LinkMode,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl RootWriter {
    fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Whether a planned entry's blob travels in a small-blob batch.
fn is_small_blob(plan: &Planned) -> bool {
    plan.entry.reference.is_none()
        && plan.key.as_md5().is_some()
        && plan.size() <= cairn_api::SMALL_BLOB_MAX_SIZE
}

/// How [`LoggedArtifact::download`] works.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Where to put the files; `./artifacts/<name>:v<N>` by default.
    pub root: Option<PathBuf>,
    /// Only entries whose path starts with this string (as in the SDK, a plain prefix).
    pub path_prefix: Option<String>,
    /// Skip reference entries that cannot be fetched instead of failing (they are listed in
    /// [`Downloaded::missing_references`]).
    pub allow_missing_references: bool,
    /// Do not keep the fetched files in the local cache.
    pub skip_cache: bool,
    /// How cached files are put in the root.
    pub link_mode: LinkMode,
}

impl DownloadOptions {
    /// Sets the root.
    #[must_use]
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Sets the path prefix.
    #[must_use]
    pub fn with_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Sets [`DownloadOptions::allow_missing_references`].
    #[must_use]
    pub fn with_allow_missing_references(mut self, allow: bool) -> Self {
        self.allow_missing_references = allow;
        self
    }

    /// Sets [`DownloadOptions::skip_cache`].
    #[must_use]
    pub fn with_skip_cache(mut self, skip_cache: bool) -> Self {
        self.skip_cache = skip_cache;
        self
    }

    /// Sets the link mode.
    #[must_use]
    pub fn with_link_mode(mut self, link_mode: LinkMode) -> Self {
        self.link_mode = link_mode;
        self
    }
}

/// What a download did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Downloaded {
    /// The download root.
    pub root: PathBuf,
    /// Entries now present in the root.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Objects fetched over the network (blobs and references).
    pub fetched_blobs: u64,
    /// Bytes fetched over the network.
    pub fetched_bytes: u64,
    /// Objects that were already in the cache.
    pub from_cache: u64,
    /// Reference URIs (redacted) that could not be fetched and were skipped
    /// ([`DownloadOptions::allow_missing_references`]).
    pub missing_references: Vec<String>,
}

/// One entry to put in the root.
#[derive(Debug, Clone)]
struct Planned {
    path: LogicalPath,
    entry: Entry,
    destination: PathBuf,
    key: ObjectKey,
}

impl Planned {
    fn size(&self) -> u64 {
        self.entry.size.unwrap_or(0)
    }

    fn label(&self) -> String {
        match &self.entry.reference {
            Some(uri) => cairn_storage::Redacted::new(uri).to_string(),
            None => self.path.to_string(),
        }
    }
}

impl LoggedArtifact {
    /// Downloads the artifact (or the entries under `path_prefix`) into the root.
    pub async fn download(&self, options: &DownloadOptions) -> Result<Downloaded> {
        let manifest = self.manifest().await?;
        let root = options
            .root
            .clone()
            .unwrap_or_else(|| paths::default_root(self.version()));
        fs_err::create_dir_all(&root).map_err(Error::io("create", &root))?;
        // A fresh (empty) root holds no entry yet and no symlink: one listing instead of two
        // inspections per entry. Each write still checks its own way down.
        let fresh = paths::is_empty_dir(&root);
        let mut plans = Vec::new();
        let mut checker = paths::SymlinkCheck::new(&root);
        for (path, entry) in manifest.entries() {
            if let Some(prefix) = &options.path_prefix
                && !path.as_str().starts_with(prefix.as_str())
            {
                continue;
            }
            plans.push(Planned {
                path: path.clone(),
                entry: entry.clone(),
                destination: if fresh {
                    paths::join(&root, path)
                } else {
                    checker.check(path)?
                },
                key: object_key(path, entry)?,
            });
        }
        let present = if fresh {
            vec![false; plans.len()]
        } else {
            self.already_present(&plans).await?
        };
        let (mut done, mut todo) = (Vec::new(), Vec::new());
        for (plan, present) in plans.into_iter().zip(present) {
            if present {
                done.push(plan);
            } else {
                todo.push(plan);
            }
        }
        let mut report = Downloaded {
            root: root.clone(),
            files: done.len() as u64,
            bytes: done.iter().map(Planned::size).fold(0, u64::saturating_add),
            ..Downloaded::default()
        };
        if options.skip_cache {
            self.fetch_direct(&root, todo, options, &mut report).await?;
        } else {
            self.fetch_cached(&root, todo, options, &mut report).await?;
        }
        Ok(report)
    }

    /// [`download`](Self::download) into `root`, after removing every file and symlink under
    /// it that is not an entry of the artifact.
    pub async fn checkout(&self, root: &Path) -> Result<Downloaded> {
        let manifest = self.manifest().await?;
        for (relative, path) in paths::walk(root)? {
            if manifest.get(&relative).is_none() {
                fs_err::remove_file(&path).map_err(Error::io("remove", &path))?;
            }
        }
        self.download(&DownloadOptions::default().with_root(root))
            .await
    }

    /// Downloads a single-file artifact and returns the file's path (the SDK's `file()`).
    pub async fn file(&self, root: Option<&Path>) -> Result<PathBuf> {
        let manifest = self.manifest().await?;
        let mut entries = manifest.entries();
        let (Some((path, _)), None) = (entries.next(), entries.next()) else {
            return Err(Error::NotSingleFile {
                entries: manifest.len(),
            });
        };
        let options = DownloadOptions {
            root: root.map(Path::to_owned),
            ..DownloadOptions::default()
        };
        let downloaded = self.download(&options).await?;
        Ok(paths::join(&downloaded.root, path))
    }

    /// Which planned entries already sit at their destination with the right size and MD5.
    async fn already_present(&self, plans: &[Planned]) -> Result<Vec<bool>> {
        let candidates: Vec<(usize, PathBuf, Md5Digest, u64)> = plans
            .iter()
            .enumerate()
            .filter_map(|(index, plan)| {
                let md5 = plan.key.as_md5()?;
                let metadata = fs_err::symlink_metadata(&plan.destination).ok()?;
                (metadata.is_file() && Some(metadata.len()) == plan.entry.size)
                    .then(|| (index, plan.destination.clone(), md5, metadata.len()))
            })
            .collect();
        let mut present = vec![false; plans.len()];
        if candidates.is_empty() {
            return Ok(present);
        }
        let progress = self.client.progress_arc();
        let total: u64 = candidates
            .iter()
            .map(|(_, _, _, size)| *size)
            .fold(0, u64::saturating_add);
        let matching = tokio::task::spawn_blocking(move || {
            progress.start(Phase::Hash, candidates.len() as u64, total);
            let mut hasher = FileHasher::new(cairn_hash::Algorithms::MD5);
            let matching: Vec<usize> = candidates
                .into_iter()
                .filter_map(|(index, path, md5, size)| {
                    let same = hasher
                        .hash_file(&path)
                        .is_ok_and(|digests| digests.md5 == md5);
                    progress.advance(Phase::Hash, 1, size);
                    same.then_some(index)
                })
                .collect();
            progress.finish(Phase::Hash);
            matching
        })
        .await
        .map_err(join_error)?;
        for index in matching {
            present[index] = true;
        }
        Ok(present)
    }

    /// Fetches into the cache what it lacks, then materialises every entry.
    async fn fetch_cached(
        &self,
        root: &Path,
        todo: Vec<Planned>,
        options: &DownloadOptions,
        report: &mut Downloaded,
    ) -> Result<()> {
        let cache = self.client.cache()?;
        let mut pin = cache.pin().map_err(Error::cache)?;
        let keys: Vec<ObjectKey> = todo.iter().map(|plan| plan.key.clone()).collect();
        pin.add_all(&keys).map_err(Error::cache)?;
        // One fetch per distinct object; pinned first, so what is present now stays present.
        // The entries holding an object that must be fetched travel with it and are put in the
        // root as soon as it is in the cache (in the fetch's own blocking task, so writing the
        // root overlaps the transfers); the entries of objects already cached are put in place
        // after all fetches.
        let mut groups: BTreeMap<ObjectKey, Vec<Planned>> = BTreeMap::new();
        let mut cached = BTreeSet::new();
        let mut materialize = Vec::new();
        for plan in todo {
            if let Some(group) = groups.get_mut(&plan.key) {
                group.push(plan);
            } else if cached.contains(&plan.key) || cache.contains(&plan.key) {
                cached.insert(plan.key.clone());
                materialize.push(plan);
            } else {
                groups.insert(plan.key.clone(), vec![plan]);
            }
        }
        report.from_cache = cached.len() as u64;
        let total_bytes = groups
            .values()
            .filter_map(|group| group.first())
            .map(Planned::size)
            .fold(0, u64::saturating_add);
        let guard = PhaseGuard::start(
            self.client.progress(),
            Phase::Download,
            groups.len() as u64,
            total_bytes,
        );
        // Small file blobs travel many per request; the rest one by one.
        let (small, fetches): (Vec<Vec<Planned>>, Vec<Vec<Planned>>) = groups
            .into_values()
            .partition(|group| group.first().is_some_and(is_small_blob));
        let writer = RootWriter {
            root: root.to_owned(),
            link_mode: options.link_mode,
            stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        let allow_missing = options.allow_missing_references;
        let batched: Vec<Vec<Fetched>> = futures_util::stream::iter(small_batches(small))
            .map(|batch| self.fetch_small_batch(&cache, batch, &writer, &guard))
            .buffer_unordered(self.client.concurrency())
            .try_collect()
            .await?;
        let mut outcomes: Vec<Fetched> = futures_util::stream::iter(fetches)
            .map(|group| self.fetch_group(&cache, group, &writer, &guard, allow_missing))
            .buffer_unordered(self.client.concurrency())
            .try_collect()
            .await?;
        outcomes.extend(batched.into_iter().flatten());
        drop(guard);
        for (group, size) in outcomes {
            match size {
                Some(size) => {
                    report.fetched_blobs += 1;
                    report.fetched_bytes += size;
                    report.files += group.len() as u64;
                    report.bytes = report.bytes.saturating_add(
                        group.iter().map(Planned::size).fold(0, u64::saturating_add),
                    );
                }
                None => report
                    .missing_references
                    .extend(group.iter().map(Planned::label)),
            }
        }
        report.missing_references.sort();
        report.files += materialize.len() as u64;
        report.bytes = report.bytes.saturating_add(
            materialize
                .iter()
                .map(Planned::size)
                .fold(0, u64::saturating_add),
        );
        let progress = self.client.progress_arc();
        let root = root.to_owned();
        let link_mode = options.link_mode;
        let blocking_cache = Arc::clone(&cache);
        tokio::task::spawn_blocking(move || -> Result<()> {
            let total = materialize
                .iter()
                .map(Planned::size)
                .fold(0, u64::saturating_add);
            progress.start(Phase::Materialize, materialize.len() as u64, total);
            // Writing files is system calls more than bytes (create, write, close per file), so
            // several threads share the files; the first error stops the others.
            let threads = std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .clamp(1, MATERIALIZE_THREADS);
            let chunk = materialize
                .len()
                .div_ceil(threads)
                .max(MATERIALIZE_CHUNK_MIN);
            let failed = std::sync::atomic::AtomicBool::new(false);
            let result = std::thread::scope(|scope| {
                let workers: Vec<_> = materialize
                    .chunks(chunk)
                    .map(|plans| {
                        let (root, cache, progress, failed) =
                            (&root, &blocking_cache, &progress, &failed);
                        scope.spawn(move || -> Result<()> {
                            let mut checker = paths::SymlinkCheck::new(root);
                            for plan in plans {
                                if failed.load(std::sync::atomic::Ordering::Relaxed) {
                                    break;
                                }
                                // Checked again right before writing: the tree may have
                                // changed since planning.
                                let written = checker.check(&plan.path).and_then(|_| {
                                    cache
                                        .materialize(&plan.key, &plan.destination, link_mode)
                                        .map(drop)
                                        .map_err(Error::cache)
                                });
                                if let Err(error) = written {
                                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                                    return Err(error);
                                }
                                progress.advance(Phase::Materialize, 1, plan.size());
                            }
                            Ok(())
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|worker| {
                        // A panic is a bug: let it surface as the panic it is.
                        worker
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect::<Result<Vec<()>>>()
                    .map(drop)
            });
            progress.finish(Phase::Materialize);
            result
        })
        .await
        .map_err(join_error)??;
        drop(pin);
        Ok(())
    }

    /// Streams one file blob from the server into the cache, verified on the way in.
    async fn fetch_blob(
        &self,
        cache: &Arc<Cache>,
        plan: &Planned,
        guard: &PhaseGuard<'_>,
    ) -> Result<u64> {
        let md5 = plan
            .key
            .as_md5()
            .map(|md5| md5.to_hex())
            .unwrap_or_default();
        let route = routes::blob(&self.version().id, &md5);
        self.client
            .retrying(&route, || async {
                let response = self
                    .client
                    .send(self.client.request(Method::GET, &route))
                    .await?;
                let cache = Arc::clone(cache);
                let (key, size, label) = (plan.key.clone(), plan.entry.size, plan.label());
                let sink = move |reader: &mut crate::transfer::ChannelReader| {
                    cache
                        .insert(&key, reader, size)
                        .map(|inserted| inserted.size)
                        .map_err(|error| cache_insert_error(error, &label))
                };
                match pump(
                    response.bytes_stream(),
                    |bytes| guard.advance(0, bytes),
                    sink,
                )
                .await
                {
                    Ok(size) => Ok(size),
                    Err(PumpError::Stream(error)) => {
                        Err(Failure::from(self.client.transport_error(error)))
                    }
                    Err(PumpError::Sink(error)) => Err(Failure::from(error)),
                }
            })
            .await
    }

    /// Fetches a batch of small file blobs in one request (`POST routes::small_blobs`),
    /// inserts each into the cache, verified against its MD5 and size, and writes it to the
    /// destinations of its group (the entries holding it; the first is asked for): from the
    /// verified bytes in memory, or by linking the cached object when the link mode asks for a
    /// link. A failure stops the writes of every other fetch at their next file.
    async fn fetch_small_batch(
        &self,
        cache: &Arc<Cache>,
        batch: Vec<Vec<Planned>>,
        writer: &RootWriter,
        guard: &PhaseGuard<'_>,
    ) -> Result<Vec<Fetched>> {
        let result = self
            .fetch_small_batch_inner(cache, batch, writer, guard)
            .await;
        if result.is_err() {
            writer.stop();
        }
        result
    }

    async fn fetch_small_batch_inner(
        &self,
        cache: &Arc<Cache>,
        batch: Vec<Vec<Planned>>,
        writer: &RootWriter,
        guard: &PhaseGuard<'_>,
    ) -> Result<Vec<Fetched>> {
        let route = routes::small_blobs(&self.version().id);
        let md5: Vec<Md5Digest> = batch
            .iter()
            .filter_map(|group| group.first().and_then(|plan| plan.key.as_md5()))
            .collect();
        let request = cairn_api::ReadSmallBlobs { md5 };
        let body = self.client.post_json_for_bytes(&route, &request).await?;
        let protocol = |reason: String| Error::Protocol {
            url: self.client.url(&route),
            reason,
        };
        let mut frames: Vec<(Vec<Planned>, bytes::Bytes)> = Vec::with_capacity(batch.len());
        let mut rest = body;
        for group in batch {
            let Some(plan) = group.first() else {
                continue;
            };
            if rest.len() < FRAME_HEADER_LEN {
                return Err(protocol(format!(
                    "the blob batch ended before blob `{}`",
                    plan.label()
                )));
            }
            let mut header = [0_u8; FRAME_HEADER_LEN];
            header.copy_from_slice(&rest[..FRAME_HEADER_LEN]);
            let header = FrameHeader::decode(&header);
            let size = usize::try_from(header.size).unwrap_or(usize::MAX);
            let expected = plan.key.as_md5().map(|md5| *md5.as_bytes());
            if Some(header.md5) != expected || rest.len() - FRAME_HEADER_LEN < size {
                return Err(protocol(format!(
                    "the blob batch holds `{}` ({} bytes) where `{}` was expected",
                    header.md5_hex(),
                    header.size,
                    plan.label()
                )));
            }
            let data = rest.slice(FRAME_HEADER_LEN..FRAME_HEADER_LEN + size);
            rest = rest.slice(FRAME_HEADER_LEN + size..);
            frames.push((group, data));
        }
        let bytes: u64 = frames.iter().map(|(_, data)| data.len() as u64).sum();
        let count = frames.len() as u64;
        let cache = Arc::clone(cache);
        let writer = writer.clone();
        let inserted = tokio::task::spawn_blocking(move || -> Result<Vec<Fetched>> {
            let mut inserted = Vec::with_capacity(frames.len());
            let mut checker = paths::SymlinkCheck::new(&writer.root);
            let from_memory = matches!(writer.link_mode, LinkMode::Auto | LinkMode::Copy);
            for (group, data) in frames {
                if writer.stopped() {
                    break;
                }
                let Some(plan) = group.first() else {
                    continue;
                };
                let verified = cache
                    .insert_bytes(&plan.key, &data, plan.entry.size)
                    .map_err(|error| cache_insert_error(error, &plan.label()))?;
                for member in &group {
                    // Checked right before writing: the tree may have changed since planning.
                    checker.check(&member.path)?;
                    if from_memory {
                        cache.materialize_bytes(&verified, &member.destination)
                    } else {
                        cache.materialize(&member.key, &member.destination, writer.link_mode)
                    }
                    .map_err(Error::cache)?;
                }
                let size = verified.inserted().size;
                inserted.push((group, Some(size)));
            }
            Ok(inserted)
        })
        .await
        .map_err(join_error)??;
        guard.advance(count, bytes);
        Ok(inserted)
    }

    /// Streams one reference through its storage handler into the cache.
    async fn fetch_reference(
        &self,
        cache: &Arc<Cache>,
        plan: &Planned,
        guard: &PhaseGuard<'_>,
    ) -> Result<u64> {
        let handlers = self.client.handlers();
        let missing = |source: cairn_storage::Error| Error::MissingReference {
            uri: plan.label(),
            source: Box::new(source),
        };
        let stream = handlers.fetch(&plan.entry).await.map_err(missing)?;
        let cache = Arc::clone(cache);
        let (key, size, label) = (plan.key.clone(), plan.entry.size, plan.label());
        let sink = move |reader: &mut crate::transfer::ChannelReader| {
            cache
                .insert(&key, reader, size)
                .map(|inserted| inserted.size)
                .map_err(|error| cache_insert_error(error, &label))
        };
        match pump(stream, |bytes| guard.advance(0, bytes), sink).await {
            Ok(size) => Ok(size),
            Err(PumpError::Stream(error)) => Err(missing(error)),
            Err(PumpError::Sink(error)) => Err(error),
        }
    }

    /// `skip_cache`: streams each entry straight to a temporary file next to its destination.
    async fn fetch_direct(
        &self,
        root: &Path,
        todo: Vec<Planned>,
        options: &DownloadOptions,
        report: &mut Downloaded,
    ) -> Result<()> {
        let total_bytes = todo.iter().map(Planned::size).fold(0, u64::saturating_add);
        let guard = PhaseGuard::start(
            self.client.progress(),
            Phase::Download,
            todo.len() as u64,
            total_bytes,
        );
        let allow_missing = options.allow_missing_references;
        // Every write runs on a blocking thread that outlives a dropped future, so a failure
        // must not drop the fetches in flight (their temporary files would appear in `root`
        // after this returns): after the first failure no new fetch starts, the ones in flight
        // finish, and then the first error is returned.
        let failed = std::sync::atomic::AtomicBool::new(false);
        let finished: Vec<Result<Option<FetchedDirect>>> = futures_util::stream::iter(todo)
            .map(|plan| {
                let (failed, guard) = (&failed, &guard);
                async move {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        return Ok(None);
                    }
                    let outcome = self
                        .fetch_one_direct(root, plan, guard, allow_missing)
                        .await;
                    if outcome.is_err() {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    outcome.map(Some)
                }
            })
            .buffer_unordered(self.client.concurrency())
            .collect()
            .await;
        let mut outcomes = Vec::with_capacity(finished.len());
        for outcome in finished {
            if let Some(done) = outcome? {
                outcomes.push(done);
            }
        }
        for (plan, size) in &outcomes {
            match size {
                Some(size) => {
                    report.fetched_blobs += 1;
                    report.fetched_bytes += size;
                    report.files += 1;
                    report.bytes += plan.size();
                }
                None => report.missing_references.push(plan.label()),
            }
        }
        report.missing_references.sort();
        Ok(())
    }

    /// Fetches one object into the cache and puts it at the destinations of its group (the
    /// entries holding it); a reference that cannot be fetched is `None` when missing
    /// references are allowed, and then nothing is written.
    async fn fetch_group(
        &self,
        cache: &Arc<Cache>,
        group: Vec<Planned>,
        writer: &RootWriter,
        guard: &PhaseGuard<'_>,
        allow_missing: bool,
    ) -> Result<Fetched> {
        let result = self
            .fetch_group_inner(cache, group, writer, guard, allow_missing)
            .await;
        if result.is_err() {
            writer.stop();
        }
        result
    }

    async fn fetch_group_inner(
        &self,
        cache: &Arc<Cache>,
        group: Vec<Planned>,
        writer: &RootWriter,
        guard: &PhaseGuard<'_>,
        allow_missing: bool,
    ) -> Result<Fetched> {
        let Some(plan) = group.first() else {
            return Ok((group, None));
        };
        let result = match plan.entry.reference {
            None => self.fetch_blob(cache, plan, guard).await,
            Some(_) => self.fetch_reference(cache, plan, guard).await,
        };
        guard.advance(1, 0);
        let size = match result {
            Ok(size) => size,
            Err(_) if plan.entry.is_reference() && allow_missing => return Ok((group, None)),
            Err(error) => return Err(error),
        };
        let cache = Arc::clone(cache);
        let writer = writer.clone();
        tokio::task::spawn_blocking(move || -> Result<Fetched> {
            let mut checker = paths::SymlinkCheck::new(&writer.root);
            for member in &group {
                if writer.stopped() {
                    break;
                }
                // Checked right before writing: the tree may have changed since planning.
                checker.check(&member.path)?;
                cache
                    .materialize(&member.key, &member.destination, writer.link_mode)
                    .map_err(Error::cache)?;
            }
            Ok((group, Some(size)))
        })
        .await
        .map_err(join_error)?
    }

    /// Fetches one entry straight to its destination (`skip_cache`).
    async fn fetch_one_direct(
        &self,
        root: &Path,
        plan: Planned,
        guard: &PhaseGuard<'_>,
        allow_missing: bool,
    ) -> Result<(Planned, Option<u64>)> {
        let result = self.write_one_direct(root, &plan, guard).await;
        guard.advance(1, 0);
        match result {
            Ok(size) => Ok((plan, Some(size))),
            Err(_) if plan.entry.is_reference() && allow_missing => Ok((plan, None)),
            Err(error) => Err(error),
        }
    }

    async fn write_one_direct(
        &self,
        root: &Path,
        plan: &Planned,
        guard: &PhaseGuard<'_>,
    ) -> Result<u64> {
        paths::check_no_symlinks(root, &plan.path)?;
        let (destination, md5, size, label) = (
            plan.destination.clone(),
            plan.key.as_md5(),
            plan.entry.size,
            plan.label(),
        );
        let sink = move |reader: &mut crate::transfer::ChannelReader| {
            write_verified(reader, &destination, md5, size, &label)
        };
        if plan.entry.is_reference() {
            let missing = |source: cairn_storage::Error| Error::MissingReference {
                uri: plan.label(),
                source: Box::new(source),
            };
            let stream = self
                .client
                .handlers()
                .fetch(&plan.entry)
                .await
                .map_err(missing)?;
            return match pump(stream, |bytes| guard.advance(0, bytes), sink).await {
                Ok(size) => Ok(size),
                Err(PumpError::Stream(error)) => Err(missing(error)),
                Err(PumpError::Sink(error)) => Err(error),
            };
        }
        let route = routes::blob(
            &self.version().id,
            &md5.map(|md5| md5.to_hex()).unwrap_or_default(),
        );
        self.client
            .retrying(&route, || async {
                let response = self
                    .client
                    .send(self.client.request(Method::GET, &route))
                    .await?;
                match pump(
                    response.bytes_stream(),
                    |bytes| guard.advance(0, bytes),
                    sink.clone(),
                )
                .await
                {
                    Ok(size) => Ok(size),
                    Err(PumpError::Stream(error)) => {
                        Err(Failure::from(self.client.transport_error(error)))
                    }
                    Err(PumpError::Sink(error)) => Err(Failure::from(error)),
                }
            })
            .await
    }
}

/// Small blobs grouped for [`LoggedArtifact::fetch_small_batch`] (each element the entries
/// holding one blob): at most 1,000 blobs and 4 MiB per request, so a batch's bytes stay small
/// and batches spread over the connections.
fn small_batches(small: Vec<Vec<Planned>>) -> Vec<Vec<Vec<Planned>>> {
    const MAX_BLOBS: usize = 1000;
    const MAX_BYTES: u64 = 4 * 1024 * 1024;
    let mut batches = Vec::new();
    let mut current: Vec<Vec<Planned>> = Vec::new();
    let mut bytes = 0;
    for group in small {
        let size = group.first().map_or(0, Planned::size);
        if current.len() == MAX_BLOBS || bytes + size > MAX_BYTES {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(group);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// The cache key of an entry's content.
fn object_key(path: &LogicalPath, entry: &Entry) -> Result<ObjectKey> {
    let Some(uri) = &entry.reference else {
        if entry.digest_algorithm() != DigestAlgorithm::Md5 {
            return Err(Error::NotSupported {
                what: format!("downloading the XXH128 entry `{path}`"),
                hint: "the server stores blobs by MD5; log the artifact with the default MD5 digest algorithm",
            });
        }
        return Ok(ObjectKey::md5(entry_md5(path, entry)?));
    };
    // A checksummed `file://` reference records the MD5 of its bytes; everything else (ETags,
    // object versions, digests of the URI itself) is named as W&B names it.
    let is_file =
        cairn_storage::uri_scheme(uri).is_some_and(|scheme| scheme.eq_ignore_ascii_case("file"));
    if is_file
        && let Ok(md5) = Md5Digest::from_base64(&entry.digest)
        && !is_uri_digest(uri, &entry.digest)
    {
        return Ok(ObjectKey::md5(md5));
    }
    Ok(ObjectKey::etag(uri, &entry.digest))
}

/// Whether a `file://` reference's digest is the MD5 of its resolved URI (recorded with checksums
/// off), which says nothing about its bytes.
fn is_uri_digest(uri: &str, digest: &str) -> bool {
    let path = cairn_storage::file::file_uri_path(uri);
    fs_err::canonicalize(&path).is_ok_and(|resolved| {
        let resolved_uri = cairn_storage::file::path_to_file_uri(&resolved);
        cairn_hash::md5(resolved_uri.as_bytes()).to_base64() == digest
    })
}

/// The MD5 a file entry's digest holds; a digest that is not one means the manifest is not what
/// this client expects.
pub(crate) fn entry_md5(path: &LogicalPath, entry: &Entry) -> Result<Md5Digest> {
    Md5Digest::from_base64(&entry.digest).map_err(|_| Error::Protocol {
        url: path.to_string(),
        reason: format!(
            "entry `{path}` has digest `{}`, which is not an MD5",
            entry.digest
        ),
    })
}

/// A cache insert's verification failure, named by the entry.
fn cache_insert_error(error: cairn_cache::Error, label: &str) -> Error {
    match error {
        cairn_cache::Error::DigestMismatch {
            expected, actual, ..
        } => Error::DigestMismatch {
            path: label.to_owned(),
            expected: format!("MD5 `{expected}`"),
            actual: format!("MD5 `{actual}`"),
        },
        cairn_cache::Error::SizeMismatch {
            expected, actual, ..
        } => Error::DigestMismatch {
            path: label.to_owned(),
            expected: format!("{expected} bytes"),
            actual: format!("{actual} bytes"),
        },
        other => Error::cache(other),
    }
}

/// At most this many threads write files into a root at once.
const MATERIALIZE_THREADS: usize = 8;

/// Fewer files than this are not worth another thread.
const MATERIALIZE_CHUNK_MIN: usize = 256;

fn join_error(error: tokio::task::JoinError) -> Error {
    Error::Io {
        action: "finish the background work of",
        path: "a download".into(),
        source: std::io::Error::other(error.to_string()),
    }
}
