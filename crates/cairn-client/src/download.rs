//! Downloading a logged artifact: read the manifest, fetch what the cache lacks (verified
//! before it becomes visible), and put every entry in the download root.
//!
//! The work streams through three stages, so memory does not grow with the manifest:
//! 1. **Read.** A manifest not loaded yet is spooled to a temporary file and read once to check
//!    it against the version's digest and count the work (the progress totals).
//! 2. **Plan** (a blocking thread, [`CHUNK_ENTRIES`] entries at a time). Every entry under
//!    `path_prefix` gets its destination (checked: no symlink inside the root on the way) and
//!    its cache key (MD5 for content, W&B's etag key for references whose digest is not an MD5
//!    of their bytes). Files already in the root with the right size and MD5 are left alone.
//! 3. **Fetch and write** (`concurrency` works at a time). Each distinct object is fetched once,
//!    pinned first so a concurrent cleanup cannot evict it. Missing objects stream from the
//!    server (`GET routes::blob`) or from the reference's storage handler into the cache and
//!    are put at the destinations of the entries holding them as soon as they are in, so
//!    writing the root overlaps the transfers. File blobs of up to the server's batch size
//!    (`Client::batch_blob_max_size`, 1 MiB) come many per request (`POST routes::small_blobs`);
//!    they are verified in memory, several MD5s at once, stored in the cache and, unless the
//!    root is to be hard- or reflinked to the cache, written from memory. Objects already
//!    cached are put in place by reflink, hardlink or copy, several blocking tasks at once.
//!    With `skip_cache` each entry streams straight into a temporary file next to its
//!    destination instead and is renamed into place once verified.
//!
//! A failed fetch (a corrupt blob, a lost connection after every retry) stops the download:
//! no further file is written, and each file already in the root is whole and verified (a
//! re-run finds it there and keeps it).

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_api::Version;
use cairn_api::batch::{FRAME_HEADER_LEN, FrameHeader};
use cairn_api::routes;
use cairn_cache::{Cache, LinkMode, ObjectKey};
use cairn_hash::{FileHasher, Md5Digest};
use cairn_manifest::{
    ArtifactDigester, DigestAlgorithm, Entry, LogicalPath, Manifest, ReadError, read_manifest,
};
use futures_util::{Stream, StreamExt as _};
use reqwest::Method;
use tokio::sync::OnceCell;

use crate::client::Failure;
use crate::progress::PhaseGuard;
use crate::transfer::{PumpError, pump, write_verified};
use crate::{Error, LoggedArtifact, Phase, Result, paths};

/// Where fetched objects are put as they arrive, and the flag that stops every writer once one
/// fetch failed.
#[derive(Debug, Clone)]
struct RootWriter {
    /// The root, held open: what is written below it is named from it.
    dir: Arc<cairn_cache::Dir>,
    link_mode: LinkMode,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl RootWriter {
    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Whether a planned entry's blob travels in a batch, which holds blobs of at most
/// `batch_max` bytes.
fn travels_in_batch(plan: &Planned, batch_max: u64) -> bool {
    plan.entry.reference.is_none() && plan.key.as_md5().is_some() && plan.size() <= batch_max
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
    /// The object's size, when the router found it in the cache.
    cached_size: Option<u64>,
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
    ///
    /// A manifest not loaded yet is streamed, never held whole: its bytes go to a temporary
    /// file (in memory while small), which is read once to check the version's digest and
    /// count the work, and once more to plan and transfer 2,048 entries at a time.
    /// Memory then grows with the number of distinct objects (a key each, to fetch each once),
    /// not with the manifest. A manifest whose entries are not in path order (one uploaded in
    /// another tool's order) is loaded whole instead, since its digest needs them sorted.
    pub async fn download(&self, options: &DownloadOptions) -> Result<Downloaded> {
        let source = self.entry_source(options.path_prefix.as_deref()).await?;
        let root = options
            .root
            .clone()
            .unwrap_or_else(|| paths::default_root(self.version()));
        fs_err::create_dir_all(&root).map_err(Error::io("create", &root))?;
        let guard = PhaseGuard::start(
            self.client.progress(),
            Phase::Download,
            source.totals.files,
            source.totals.bytes,
        );
        let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        let planner = Planner {
            // A fresh (empty) root holds no entry yet and no symlink: one listing instead of
            // two inspections per entry. Each write still checks its own way down.
            fresh: paths::is_empty_dir(&root),
            root: root.clone(),
            prefix: options.path_prefix.clone(),
            url: self.client.url(&routes::manifest(&self.version().id)),
            sender,
        };
        let producer = tokio::task::spawn_blocking(move || planner.run(source.entries));
        let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        });
        let writer = RootWriter {
            dir: Arc::new(cairn_cache::Dir::open(&root)),
            link_mode: options.link_mode,
            stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        let mut report = if options.skip_cache {
            self.fetch_direct(chunks, &writer, options, &guard).await?
        } else {
            self.fetch_cached(chunks, &writer, options, &guard).await?
        };
        // Every chunk was taken, so the planner is done; a planner that died early (a panic)
        // must not pass for a short manifest.
        producer.await.map_err(join_error)?;
        report.root = root;
        report.missing_references.sort();
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

    /// Where a download reads its entries from: the manifest if it is loaded already, else its
    /// bytes spooled to a temporary file and checked; with the count and size of the entries
    /// under `prefix`.
    async fn entry_source(&self, prefix: Option<&str>) -> Result<Source> {
        let cell = self.manifest_cell();
        if cell.get().is_none() {
            match self.spool_manifest(prefix).await? {
                Spool::Sorted { file, totals } => {
                    return Ok(Source {
                        entries: Entries::Spooled(file),
                        totals,
                    });
                }
                // Another task may have loaded it meanwhile: then both are the same manifest.
                Spool::Loaded(manifest) => drop(cell.set(manifest)),
            }
        }
        let manifest = self.manifest().await?;
        let mut totals = Totals::default();
        for (path, entry) in manifest.entries() {
            totals.count(path, entry, prefix);
        }
        Ok(Source {
            entries: Entries::Loaded(Arc::clone(cell)),
            totals,
        })
    }

    /// Streams the manifest into a temporary file and checks it (see [`spool`]).
    async fn spool_manifest(&self, prefix: Option<&str>) -> Result<Spool> {
        let route = routes::manifest(&self.version().id);
        let url = self.client.url(&route);
        self.client
            .retrying(&route, || async {
                let response = self
                    .client
                    .send(self.client.request(Method::GET, &route))
                    .await?;
                let (url, version) = (url.clone(), self.version().clone());
                let prefix = prefix.map(str::to_owned);
                let sink = move |reader: &mut crate::transfer::ChannelReader| {
                    spool(reader, &url, &version, prefix.as_deref())
                };
                self.pump_response(response, |_| {}, sink).await
            })
            .await
    }

    /// Feeds a response's body to `sink` (see [`pump`]) for one attempt of a retried request:
    /// a broken body is a transport error the retry policy judges, a failed sink fails the
    /// attempt as it is.
    async fn pump_response<T, F>(
        &self,
        response: reqwest::Response,
        on_chunk: impl Fn(u64),
        sink: F,
    ) -> std::result::Result<T, Failure>
    where
        F: FnOnce(&mut crate::transfer::ChannelReader) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        match pump(response.bytes_stream(), on_chunk, sink).await {
            Ok(value) => Ok(value),
            Err(PumpError::Stream(error)) => Err(Failure::from(self.client.transport_error(error))),
            Err(PumpError::Sink(error)) => Err(Failure::from(error)),
        }
    }

    /// Fetches into the cache what it lacks, putting each object in the root as it arrives,
    /// and materialises the entries whose objects were cached already.
    async fn fetch_cached(
        &self,
        chunks: impl Stream<Item = Result<Chunk>>,
        writer: &RootWriter,
        options: &DownloadOptions,
        guard: &PhaseGuard<'_>,
    ) -> Result<Downloaded> {
        let cache = self.client.cache()?;
        let mut router = Router {
            batch_max: self.client.batch_blob_max_size().await?,
            cache: &cache,
            pin: cache.pin().map_err(Error::cache)?,
            lookup: cache.lookup(),
            batch: Vec::new(),
            batch_bytes: 0,
            deferred: Vec::new(),
            from_cache: 0,
        };
        let allow_missing = options.allow_missing_references;
        // Once a fetch failed, the first error is returned at once: what is in flight is
        // dropped (a cache insert cleans up after itself) and the writers stop at their next
        // file.
        let works = chunks
            .map(Some)
            .chain(futures_util::stream::once(async { None }))
            .map(|chunk| match chunk {
                Some(Ok(chunk)) => router.route(chunk),
                Some(Err(error)) => vec![Err(error)],
                None => router.flush(),
            })
            .flat_map(futures_util::stream::iter);
        let run = |work| self.run_cached(&cache, work, writer, guard, allow_missing);
        let concurrency = self.client.concurrency();
        let mut done = run_works(works, &run, concurrency, writer, guard, false).await?;
        // Entries whose object was still on its way when they were planned: in the cache now.
        let deferred =
            futures_util::stream::iter(cached_works(std::mem::take(&mut router.deferred)));
        done.add(run_works(deferred, &run, concurrency, writer, guard, false).await?);
        Ok(done.into_report(router.from_cache))
    }

    /// `skip_cache`: streams each entry straight to a temporary file next to its destination.
    async fn fetch_direct(
        &self,
        chunks: impl Stream<Item = Result<Chunk>>,
        writer: &RootWriter,
        options: &DownloadOptions,
        guard: &PhaseGuard<'_>,
    ) -> Result<Downloaded> {
        let works = chunks.flat_map(|chunk| {
            let works: Vec<Result<Direct>> = match chunk {
                Ok(chunk) => std::iter::once(Direct::Present(chunk.present))
                    .chain(
                        chunk
                            .todo
                            .into_iter()
                            .map(|plan| Direct::Fetch(Box::new(plan))),
                    )
                    .map(Ok)
                    .collect(),
                Err(error) => vec![Err(error)],
            };
            futures_util::stream::iter(works)
        });
        let allow_missing = options.allow_missing_references;
        let run = |work| async move {
            match work {
                Direct::Present(present) => Ok(present),
                Direct::Fetch(plan) => {
                    self.fetch_one_direct(writer.root(), *plan, guard, allow_missing)
                        .await
                }
            }
        };
        // Every write runs on a blocking thread that outlives a dropped future, so a failure
        // must not drop the fetches in flight (their temporary files would appear in the root
        // after this returns): after the first failure no new fetch starts, the ones in flight
        // finish, and then the first error is returned.
        let concurrency = self.client.concurrency();
        let done = run_works(works, run, concurrency, writer, guard, true).await?;
        Ok(done.into_report(0))
    }

    /// One unit of a cached download's work.
    async fn run_cached(
        &self,
        cache: &Arc<Cache>,
        work: Work,
        writer: &RootWriter,
        guard: &PhaseGuard<'_>,
        allow_missing: bool,
    ) -> Result<Outcome> {
        match work {
            Work::Present(present) => Ok(present),
            Work::Small(batch) => self.fetch_small_batch(cache, batch, writer).await,
            Work::Fetch(group) => {
                self.fetch_group(cache, group, writer, guard, allow_missing)
                    .await
            }
            Work::Cached(plans) => materialize(cache, plans, writer, allow_missing).await,
        }
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
                self.pump_response(response, |bytes| guard.advance(0, bytes), sink)
                    .await
            })
            .await
    }

    /// Fetches a batch of file blobs in one request (`POST routes::small_blobs`), inserts each
    /// into the cache, verified against its MD5 and size, and writes it to the
    /// destinations of its group (the entries holding it; the first is asked for): from the
    /// verified bytes in memory, or by linking the cached object when the link mode asks for a
    /// link. A failure stops the writes of every other fetch at their next file.
    async fn fetch_small_batch(
        &self,
        cache: &Arc<Cache>,
        batch: Vec<Vec<Planned>>,
        writer: &RootWriter,
    ) -> Result<Outcome> {
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
        let cache = Arc::clone(cache);
        let writer = writer.clone();
        tokio::task::spawn_blocking(move || -> Result<Outcome> {
            let mut outcome = Outcome::default();
            let mut checker = paths::SymlinkCheck::new(writer.root());
            let from_memory = matches!(writer.link_mode, LinkMode::Auto | LinkMode::Copy);
            let objects: Vec<(&Vec<Planned>, &Planned, &[u8])> = frames
                .iter()
                .filter_map(|(group, data)| Some((group, group.first()?, data.as_ref())))
                .collect();
            // Every frame checked as `insert_bytes` checks one, the MD5s computed several
            // frames at a time.
            let asked: Vec<(&ObjectKey, &[u8], Option<u64>)> = objects
                .iter()
                .map(|&(_, plan, data)| (&plan.key, data, plan.entry.size))
                .collect();
            let inserted = cache.insert_many_bytes(&asked);
            for ((group, plan, _), verified) in objects.into_iter().zip(inserted) {
                if writer.stopped() {
                    break;
                }
                let verified =
                    verified.map_err(|error| cache_insert_error(error, &plan.label()))?;
                for member in group {
                    // Checked right before writing: the tree may have changed since planning.
                    checker.check(&member.path)?;
                    if from_memory {
                        match member.destination.strip_prefix(writer.root()) {
                            Ok(relative) => {
                                cache.materialize_bytes_in(&verified, &writer.dir, relative)
                            }
                            Err(_) => cache.materialize_bytes(&verified, &member.destination),
                        }
                    } else {
                        cache.materialize(&member.key, &member.destination, writer.link_mode)
                    }
                    .map_err(Error::cache)?;
                }
                let size = verified.inserted().size;
                outcome.add(Outcome::fetched(group, Some(size), 0));
            }
            Ok(outcome)
        })
        .await
        .map_err(join_error)?
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
    ) -> Result<Outcome> {
        let Some(plan) = group.first() else {
            return Ok(Outcome::default());
        };
        let result = match plan.entry.reference {
            None => self.fetch_blob(cache, plan, guard).await,
            Some(_) => self.fetch_reference(cache, plan, guard).await,
        };
        let size = match result {
            Ok(size) => size,
            Err(_) if plan.entry.is_reference() && allow_missing => {
                return Ok(Outcome::fetched(&group, None, 0));
            }
            Err(error) => return Err(error),
        };
        let cache = Arc::clone(cache);
        let writer = writer.clone();
        tokio::task::spawn_blocking(move || -> Result<Outcome> {
            let mut checker = paths::SymlinkCheck::new(writer.root());
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
            Ok(Outcome::fetched(&group, Some(size), size))
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
    ) -> Result<Outcome> {
        let group = std::slice::from_ref(&plan);
        match self.write_one_direct(root, &plan, guard).await {
            Ok(size) => Ok(Outcome::fetched(group, Some(size), size)),
            Err(_) if plan.entry.is_reference() && allow_missing => {
                Ok(Outcome::fetched(group, None, 0))
            }
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
                self.pump_response(response, |bytes| guard.advance(0, bytes), sink.clone())
                    .await
            })
            .await
    }
}

/// Entries planned, checked and routed at a time: the unit in which a manifest is read.
const CHUNK_ENTRIES: usize = 2048;

/// Planned chunks waiting for the transfers.
const CHUNKS_AHEAD: usize = 2;

/// A manifest smaller than this is spooled in memory, a larger one to a temporary file.
const SPOOL_IN_MEMORY: usize = 8 * 1024 * 1024;

/// At most this many blobs travel in one batch request.
const BATCH_MAX_BLOBS: usize = 1000;

/// At most this many bytes of blobs travel in one batch request, so a batch's bytes stay small
/// and batches spread over the connections: eight blobs of 512 KiB, whose MD5s are then checked
/// eight at once. Up to `concurrency` batches are in memory at once (32 MiB at the default 8).
const BATCH_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Entries of objects already cached are put in the root this many at a time (one blocking
/// task each; writing files is system calls more than bytes, so several run at once).
const MATERIALIZE_CHUNK: usize = 256;

/// Where a download's entries come from, and how many there are.
struct Source {
    entries: Entries,
    totals: Totals,
}

/// The entries under a prefix and their total size: a download's progress totals.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    files: u64,
    bytes: u64,
}

impl Totals {
    /// Counts the entry if it is under `prefix`.
    fn count(&mut self, path: &LogicalPath, entry: &Entry, prefix: Option<&str>) {
        if under_prefix(path, prefix) {
            self.files += 1;
            self.bytes = self.bytes.saturating_add(entry.size.unwrap_or(0));
        }
    }
}

enum Entries {
    /// The manifest, loaded already (fetched before, or kept by the logger).
    Loaded(Arc<OnceCell<Manifest>>),
    /// The manifest's bytes, checked against the version's digest and in path order.
    Spooled(tempfile::SpooledTempFile),
}

/// A manifest fetched for a download.
enum Spool {
    /// Checked, in path order, with the count and size of the entries under the prefix.
    Sorted {
        file: tempfile::SpooledTempFile,
        totals: Totals,
    },
    /// Checked and loaded whole: its entries are not in path order.
    Loaded(Manifest),
}

/// Copies the manifest from `reader` into a spooled temporary file, then reads it once to
/// check that it parses, that its entries come in path order and hash to the version's
/// digest, and to count the entries under `prefix`. A manifest out of path order is loaded
/// and checked as a whole instead.
fn spool(
    reader: &mut dyn Read,
    url: &str,
    version: &Version,
    prefix: Option<&str>,
) -> Result<Spool> {
    let spool_error = |source| Error::Io {
        action: "keep a temporary copy of",
        path: "the manifest".into(),
        source,
    };
    let mut file = tempfile::spooled_tempfile(SPOOL_IN_MEMORY);
    std::io::copy(reader, &mut file).map_err(spool_error)?;
    file.rewind().map_err(spool_error)?;
    let mut check = SortedCheck::new(prefix);
    read_manifest(BufReader::new(&mut file), |path, entry| {
        check.push(&path, &entry);
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|error| Error::Protocol {
        url: url.to_owned(),
        reason: format!("the manifest does not parse: {error}"),
    })?;
    file.rewind().map_err(spool_error)?;
    let Some((md5, xxh128)) = check.digests else {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(spool_error)?;
        return crate::logged::manifest_of_version(url, version, &bytes).map(Spool::Loaded);
    };
    let (md5, xxh128) = (md5.finish(), xxh128.finish());
    crate::logged::check_manifest_digest(url, version, |algorithm| match algorithm {
        DigestAlgorithm::Md5 => md5.clone(),
        DigestAlgorithm::Xxh128 => xxh128.clone(),
    })?;
    Ok(Spool::Sorted {
        file,
        totals: check.totals,
    })
}

/// The artifact digests of entries read in document order, while that order is path order.
struct SortedCheck<'a> {
    prefix: Option<&'a str>,
    /// MD5 and XXH128 digesters; `None` once an entry came out of order.
    digests: Option<(ArtifactDigester, ArtifactDigester)>,
    last: Option<String>,
    totals: Totals,
}

impl<'a> SortedCheck<'a> {
    fn new(prefix: Option<&'a str>) -> Self {
        Self {
            prefix,
            digests: Some((
                ArtifactDigester::new(DigestAlgorithm::Md5),
                ArtifactDigester::new(DigestAlgorithm::Xxh128),
            )),
            last: None,
            totals: Totals::default(),
        }
    }

    fn push(&mut self, path: &LogicalPath, entry: &Entry) {
        self.totals.count(path, entry, self.prefix);
        // Strictly increasing: a repeated key (the later one wins) is out of order too.
        let in_order = self.last.as_deref().is_none_or(|last| last < path.as_str());
        if !in_order {
            self.digests = None;
        }
        if let Some((md5, xxh128)) = &mut self.digests {
            md5.push(path.as_str(), &entry.digest);
            xxh128.push(path.as_str(), &entry.digest);
            let last = self.last.get_or_insert_with(String::new);
            last.clear();
            last.push_str(path.as_str());
        }
    }
}

fn under_prefix(path: &LogicalPath, prefix: Option<&str>) -> bool {
    prefix.is_none_or(|prefix| path.as_str().starts_with(prefix))
}

/// Entries planned on a blocking thread, one chunk at a time.
struct Chunk {
    /// Entries to fetch or take from the cache.
    todo: Vec<Planned>,
    /// Entries already in the root with the right size and MD5.
    present: Outcome,
}

/// Why the planner stopped early.
enum Halt {
    Failed(Error),
    /// The download stopped taking chunks (it failed).
    Closed,
}

impl From<Error> for Halt {
    fn from(error: Error) -> Self {
        Self::Failed(error)
    }
}

/// Reads the entries (on a blocking thread), gives each its destination and cache key, leaves
/// out those already in the root, and hands them on in chunks.
struct Planner {
    root: PathBuf,
    fresh: bool,
    prefix: Option<String>,
    /// The manifest's URL, to name it in errors.
    url: String,
    sender: tokio::sync::mpsc::Sender<Result<Chunk>>,
}

impl Planner {
    fn run(self, entries: Entries) {
        if let Err(Halt::Failed(error)) = self.plan(entries) {
            // Nobody to tell if the download stopped already.
            let _ = self.sender.blocking_send(Err(error));
        }
    }

    fn plan(&self, entries: Entries) -> Result<(), Halt> {
        let mut checker = paths::SymlinkCheck::new(&self.root);
        let mut hasher = FileHasher::new(cairn_hash::Algorithms::MD5);
        let mut chunk = Vec::with_capacity(CHUNK_ENTRIES);
        let mut add = |path: LogicalPath, entry: Entry| -> Result<(), Halt> {
            if !under_prefix(&path, self.prefix.as_deref()) {
                return Ok(());
            }
            chunk.push(Planned {
                destination: if self.fresh {
                    paths::join(&self.root, &path)
                } else {
                    checker.check(&path)?
                },
                key: object_key(&path, &entry)?,
                path,
                entry,
                cached_size: None,
            });
            if chunk.len() == CHUNK_ENTRIES {
                self.send(std::mem::take(&mut chunk), &mut hasher)?;
            }
            Ok(())
        };
        match entries {
            Entries::Loaded(cell) => {
                if let Some(manifest) = cell.get() {
                    for (path, entry) in manifest.entries() {
                        add(path.clone(), entry.clone())?;
                    }
                }
            }
            // Read a second time: checked by the first reading, so an error now is the
            // temporary file's.
            Entries::Spooled(file) => {
                read_manifest(BufReader::new(file), &mut add).map_err(|error| match error {
                    ReadError::Sink(halt) => halt,
                    ReadError::Manifest(error) => Halt::Failed(Error::Protocol {
                        url: self.url.clone(),
                        reason: format!("the temporary copy of the manifest changed: {error}"),
                    }),
                })?;
            }
        }
        self.send(chunk, &mut hasher)
    }

    /// Leaves out the entries already in place (unless the root is fresh) and sends the rest.
    fn send(&self, plans: Vec<Planned>, hasher: &mut FileHasher) -> Result<(), Halt> {
        let mut chunk = Chunk {
            todo: Vec::with_capacity(plans.len()),
            present: Outcome::default(),
        };
        for plan in plans {
            if !self.fresh && is_in_place(&plan, hasher) {
                chunk.present.files += 1;
                chunk.present.bytes = chunk.present.bytes.saturating_add(plan.size());
            } else {
                chunk.todo.push(plan);
            }
        }
        if chunk.todo.is_empty() && chunk.present.files == 0 {
            return Ok(());
        }
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| Halt::Closed)
    }
}

/// Whether the entry's destination is a regular file with its size and MD5.
fn is_in_place(plan: &Planned, hasher: &mut FileHasher) -> bool {
    let Some(md5) = plan.key.as_md5() else {
        return false;
    };
    fs_err::symlink_metadata(&plan.destination).is_ok_and(|metadata| {
        metadata.is_file()
            && Some(metadata.len()) == plan.entry.size
            && hasher
                .hash_file(&plan.destination)
                .is_ok_and(|digests| digests.md5 == md5)
    })
}

/// One unit of a cached download's work.
enum Work {
    /// Entries found in place.
    Present(Outcome),
    /// Small file blobs, one request (each element the entries holding one blob).
    Small(Vec<Vec<Planned>>),
    /// One object to fetch, and the entries holding it.
    Fetch(Vec<Planned>),
    /// Entries whose objects are in the cache.
    Cached(Vec<Planned>),
}

/// One unit of a `skip_cache` download's work.
enum Direct {
    Present(Outcome),
    Fetch(Box<Planned>),
}

/// Turns chunks of planned entries into work, fetching each distinct object once.
struct Router<'cache> {
    cache: &'cache Cache,
    /// Every key of the download so far, pinned before it is looked up, so what is cached
    /// stays.
    pin: cairn_cache::Pin<'cache>,
    /// Asks the cache about keys met for the first time.
    lookup: cairn_cache::Lookup<'cache>,
    /// The largest blob a batch holds (`Client::batch_blob_max_size`).
    batch_max: u64,
    /// Blobs waiting to fill a batch.
    batch: Vec<Vec<Planned>>,
    batch_bytes: u64,
    /// Entries whose object an earlier chunk is fetching: put in place at the end.
    deferred: Vec<Planned>,
    /// Distinct objects found in the cache.
    from_cache: u64,
}

impl Router<'_> {
    fn route(&mut self, chunk: Chunk) -> Vec<Result<Work>> {
        let mut works = vec![Ok(Work::Present(chunk.present))];
        // Keys of this chunk no earlier chunk had: pinned before the cache is asked about them,
        // so what is cached now stays. The pin's own set is the download's record of every key
        // met so far.
        let mut first_met: HashSet<ObjectKey> = chunk
            .todo
            .iter()
            .filter(|plan| !self.pin.contains(&plan.key))
            .map(|plan| plan.key.clone())
            .collect();
        let keys: Vec<ObjectKey> = first_met.iter().cloned().collect();
        if let Err(error) = self.pin.add_all(&keys) {
            works.push(Err(Error::cache(error)));
            return works;
        }
        // One group per object to fetch: the entries of this chunk holding it.
        let mut groups: Vec<Vec<Planned>> = Vec::new();
        let mut group_of: HashMap<ObjectKey, usize> = HashMap::new();
        let mut cached = Vec::new();
        for plan in chunk.todo {
            if let Some(&group) = group_of.get(&plan.key) {
                groups[group].push(plan);
            } else if first_met.remove(&plan.key) {
                if let Some(size) = self.lookup.size_of(&plan.key) {
                    self.from_cache += 1;
                    cached.push(Planned {
                        cached_size: Some(size),
                        ..plan
                    });
                } else {
                    group_of.insert(plan.key.clone(), groups.len());
                    groups.push(vec![plan]);
                }
            } else if let Some(size) = self.cache.size_of(&plan.key) {
                cached.push(Planned {
                    cached_size: Some(size),
                    ..plan
                });
            } else {
                self.deferred.push(plan);
            }
        }
        for group in groups {
            if group
                .first()
                .is_some_and(|plan| travels_in_batch(plan, self.batch_max))
            {
                works.extend(self.add_small(group).map(|batch| Ok(Work::Small(batch))));
            } else {
                works.push(Ok(Work::Fetch(group)));
            }
        }
        works.extend(cached_works(cached));
        works
    }

    /// Adds a small blob's group to the batch being filled; returns the batch it completed.
    fn add_small(&mut self, group: Vec<Planned>) -> Option<Vec<Vec<Planned>>> {
        let size = group.first().map_or(0, Planned::size);
        let full = !self.batch.is_empty()
            && (self.batch.len() == BATCH_MAX_BLOBS || self.batch_bytes + size > BATCH_MAX_BYTES);
        let done = full.then(|| self.take_batch());
        self.batch_bytes += size;
        self.batch.push(group);
        done
    }

    /// The last, partly filled batch.
    fn flush(&mut self) -> Vec<Result<Work>> {
        if self.batch.is_empty() {
            return Vec::new();
        }
        vec![Ok(Work::Small(self.take_batch()))]
    }

    /// The batch being filled, in key order: the server finds its blobs by key, and its lookups
    /// of neighbouring keys share pages (a batch in path order cost it half as much again).
    fn take_batch(&mut self) -> Vec<Vec<Planned>> {
        self.batch_bytes = 0;
        let mut batch = std::mem::take(&mut self.batch);
        batch.sort_unstable_by(|a, b| first_key(a).cmp(&first_key(b)));
        batch
    }
}

/// The key of a group's object.
fn first_key(group: &[Planned]) -> Option<&ObjectKey> {
    group.first().map(|plan| &plan.key)
}

/// Works that put entries of cached objects in the root, [`MATERIALIZE_CHUNK`] at a time.
fn cached_works(plans: Vec<Planned>) -> Vec<Result<Work>> {
    let mut plans = plans.into_iter().peekable();
    let mut works = Vec::new();
    while plans.peek().is_some() {
        let part: Vec<Planned> = plans.by_ref().take(MATERIALIZE_CHUNK).collect();
        works.push(Ok(Work::Cached(part)));
    }
    works
}

/// What some of a download's work did.
#[derive(Debug, Default)]
struct Outcome {
    /// Entries now in the root, and their total size.
    files: u64,
    bytes: u64,
    /// Objects fetched over the network, and their bytes.
    fetched_blobs: u64,
    fetched_bytes: u64,
    /// Entries skipped as missing references (labels).
    missing: Vec<String>,
    /// Bytes already reported to the progress while they streamed in.
    streamed: u64,
}

impl Outcome {
    /// The entries holding one fetched object, all put in the root (`size` is `None` for an
    /// allowed missing reference: nothing was written).
    fn fetched(group: &[Planned], size: Option<u64>, streamed: u64) -> Self {
        match size {
            Some(size) => Self {
                files: group.len() as u64,
                bytes: group.iter().map(Planned::size).fold(0, u64::saturating_add),
                fetched_blobs: 1,
                fetched_bytes: size,
                missing: Vec::new(),
                streamed,
            },
            None => Self {
                missing: group.iter().map(Planned::label).collect(),
                streamed,
                ..Self::default()
            },
        }
    }

    fn add(&mut self, other: Self) {
        self.files += other.files;
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.fetched_blobs += other.fetched_blobs;
        self.fetched_bytes = self.fetched_bytes.saturating_add(other.fetched_bytes);
        self.missing.extend(other.missing);
        self.streamed = self.streamed.saturating_add(other.streamed);
    }

    /// Reports the work done, less the bytes reported while streaming.
    fn advance(&self, guard: &PhaseGuard<'_>) {
        guard.advance(
            self.files + self.missing.len() as u64,
            self.bytes.saturating_sub(self.streamed),
        );
    }

    fn into_report(self, from_cache: u64) -> Downloaded {
        Downloaded {
            root: PathBuf::new(),
            files: self.files,
            bytes: self.bytes,
            fetched_blobs: self.fetched_blobs,
            fetched_bytes: self.fetched_bytes,
            from_cache,
            missing_references: self.missing,
        }
    }
}

/// Runs the works `concurrency` at a time and adds up what they did. The first failure stops
/// every writer and is returned: at once, or once the works in flight are done when
/// `wait_in_flight` (nothing new starts meanwhile).
async fn run_works<W, F, Fut>(
    works: impl Stream<Item = Result<W>>,
    run: F,
    concurrency: usize,
    writer: &RootWriter,
    guard: &PhaseGuard<'_>,
    wait_in_flight: bool,
) -> Result<Outcome>
where
    F: Fn(W) -> Fut,
    Fut: Future<Output = Result<Outcome>>,
{
    let outcomes = works
        .take_while(|_| std::future::ready(!writer.stopped()))
        .map(|work| {
            let outcome = work.map(&run);
            async move {
                let outcome = match outcome {
                    Ok(running) => running.await,
                    Err(error) => Err(error),
                };
                if outcome.is_err() {
                    writer.stop();
                }
                outcome
            }
        })
        .buffer_unordered(concurrency);
    let mut outcomes = std::pin::pin!(outcomes);
    let mut done = Outcome::default();
    let mut first_error = None;
    while let Some(outcome) = outcomes.next().await {
        match outcome {
            Ok(outcome) => {
                outcome.advance(guard);
                done.add(outcome);
            }
            Err(error) => {
                first_error.get_or_insert(error);
                if !wait_in_flight {
                    break;
                }
            }
        }
    }
    first_error.map_or(Ok(done), Err)
}

/// Puts entries whose objects are in the cache in the root (on a blocking thread). An allowed
/// missing reference that is not in the cache (its fetch failed) is listed, not written.
async fn materialize(
    cache: &Arc<Cache>,
    plans: Vec<Planned>,
    writer: &RootWriter,
    allow_missing: bool,
) -> Result<Outcome> {
    if plans.is_empty() {
        return Ok(Outcome::default());
    }
    let (cache, writer) = (Arc::clone(cache), writer.clone());
    tokio::task::spawn_blocking(move || -> Result<Outcome> {
        let mut outcome = Outcome::default();
        let mut checker = paths::SymlinkCheck::new(writer.root());
        for plan in plans {
            if writer.stopped() {
                break;
            }
            if allow_missing && plan.entry.is_reference() && !cache.contains(&plan.key) {
                outcome.missing.push(plan.label());
                continue;
            }
            // Checked again right before writing: the tree may have changed since planning.
            checker.check(&plan.path)?;
            cache
                .materialize_sized(
                    &plan.key,
                    plan.cached_size,
                    &plan.destination,
                    writer.link_mode,
                )
                .map_err(Error::cache)?;
            outcome.files += 1;
            outcome.bytes = outcome.bytes.saturating_add(plan.size());
        }
        Ok(outcome)
    })
    .await
    .map_err(join_error)?
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

fn join_error(error: tokio::task::JoinError) -> Error {
    Error::Io {
        action: "finish the background work of",
        path: "a download".into(),
        source: std::io::Error::other(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn entries(names: &[String]) -> Vec<(LogicalPath, Entry)> {
        names
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let digest = cairn_hash::md5(name.as_bytes()).to_base64();
                (
                    LogicalPath::new(name).unwrap(),
                    Entry::file(digest, index as u64),
                )
            })
            .collect()
    }

    fn check<'a>(entries: &[(LogicalPath, Entry)], prefix: Option<&'a str>) -> SortedCheck<'a> {
        let mut check = SortedCheck::new(prefix);
        for (path, entry) in entries {
            check.push(path, entry);
        }
        check
    }

    proptest! {
        /// Entries in path order hash to the manifest's digests under both algorithms, and
        /// the prefix counts only its entries.
        #[test]
        fn sorted_entries_give_the_manifest_digests(
            names in prop::collection::btree_set("[a-c]{1,3}(/[a-c]{1,2})?", 1..40),
        ) {
            let names: Vec<String> = names.into_iter().collect();
            let entries = entries(&names);
            let mut manifest = Manifest::new();
            for (path, entry) in &entries {
                manifest.add(path.clone(), entry.clone(), false).unwrap();
            }
            let check = check(&entries, Some("a"));
            let (md5, xxh128) = check.digests.unwrap();
            prop_assert_eq!(md5.finish(), manifest.digest(DigestAlgorithm::Md5));
            prop_assert_eq!(xxh128.finish(), manifest.digest(DigestAlgorithm::Xxh128));
            let under: Vec<&(LogicalPath, Entry)> = entries
                .iter()
                .filter(|(path, _)| path.as_str().starts_with('a'))
                .collect();
            prop_assert_eq!(check.totals.files, under.len() as u64);
            prop_assert_eq!(
                check.totals.bytes,
                under.iter().map(|(_, entry)| entry.size.unwrap()).sum::<u64>()
            );
        }

        /// One entry out of order, or one repeated, and the digests are given up (the
        /// manifest is then loaded whole), while the counts stay right.
        #[test]
        fn entries_out_of_order_give_no_digest(
            names in prop::collection::btree_set("[a-c]{1,3}", 2..40),
            swap in any::<prop::sample::Index>(),
            repeat in any::<bool>(),
        ) {
            let names: Vec<String> = names.into_iter().collect();
            let mut entries = entries(&names);
            let at = swap.index(entries.len() - 1);
            if repeat {
                entries.insert(at + 1, entries[at].clone());
            } else {
                entries.swap(at, at + 1);
            }
            let check = check(&entries, None);
            prop_assert!(check.digests.is_none());
            prop_assert_eq!(check.totals.files, entries.len() as u64);
        }
    }
}
