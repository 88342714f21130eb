//! Logging a draft: create the version, send the manifest, upload only the blobs the server
//! lacks (those up to the server's batch size, 1 MiB, batched; larger ones streamed from their
//! files), then commit.
//!
//! Files are never read whole into memory and never hashed again: the server hashes what it
//! receives and refuses a blob whose content no longer matches the digest recorded when it was
//! added. For a batch of small files the server's refusal names only a digest, so the batch's
//! files are then hashed again here to name the file that changed.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use cairn_api::{
    BATCH_MAX_BYTES, BlobReceipt, BlobRef, CommitVersion, CreateVersion, CreateVersionStatus,
    CreatedVersion, ErrorCode, ManifestReceipt, SMALL_BLOB_MAX_SIZE, Version, VersionState, batch,
    routes,
};
use cairn_hash::Md5Digest;
use cairn_manifest::{CoreJsonOptions, DigestAlgorithm, Manifest};
use futures_util::future::Either;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use reqwest::Method;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt as _;

use crate::client::{Activity, Failure};
use crate::progress::PhaseGuard;
use crate::{Artifact, Client, Error, LoggedArtifact, Phase, Progress, Result};

/// The largest batch body sent (the server accepts up to [`BATCH_MAX_BYTES`]). Up to
/// `concurrency` bodies are in memory at once: at 8 MiB the put of 50,000 small files peaked at
/// 200 MiB of client RSS (tmpfs), at 4 MiB 148 MiB, and no slower. At 500,000 files 4 MiB
/// batches were 34 of the 212 MB of heap at the peak; 2 MiB brought the RSS under 256 MiB.
const BATCH_TARGET_BYTES: u64 = 2 * 1024 * 1024;
/// The largest batch body of blobs over [`SMALL_BLOB_MAX_SIZE`] bytes: eight of 512 KiB with
/// their frame headers, so the server hashes a batch's frames eight at once. Up to
/// `concurrency` such bodies are in memory at once (32 MiB at the default 8).
const MEDIUM_BATCH_BYTES: u64 = 4 * 1024 * 1024 + 8 * batch::FRAME_HEADER_LEN as u64;
/// Bytes read from a file per chunk of a streamed upload.
const CHUNK_SIZE: usize = 256 * 1024;
/// Bytes of manifest JSON per chunk of the streamed manifest upload.
const MANIFEST_CHUNK_SIZE: usize = 64 * 1024;
/// Chunks written ahead of the request body: the manifest is never in memory as one string
/// (at 500,000 entries it is about 40 MB), only these few chunks of it.
const MANIFEST_CHUNKS_AHEAD: usize = 4;
/// How many times a commit that found blobs missing (a concurrent garbage collection, a lost
/// upload) uploads them and tries again.
const COMMIT_ROUNDS: usize = 3;

/// What [`Run::log_artifact`](crate::Run::log_artifact) did.
#[derive(Debug, Clone)]
pub struct Logged {
    /// The committed version (or the existing one with the same content).
    pub artifact: LoggedArtifact,
    /// Whether a new version was made, an interrupted one resumed, or an existing one reused.
    pub status: CreateVersionStatus,
    /// Blobs sent to the server by this call, and ahead of it by the `add_*_staged` calls
    /// that staged the artifact's large files.
    pub uploaded_blobs: u64,
    /// Bytes of blob content those sent.
    pub uploaded_bytes: u64,
    /// Distinct blobs of the artifact the server already had.
    pub reused_blobs: u64,
}

/// The local file of every distinct blob of a manifest's file entries, borrowed from the
/// manifest.
///
/// One row per blob, sorted by MD5: at 500,000 files a `BTreeMap` of owned paths was one more
/// copy of every local path; the paths a task uploads are copied only when it starts (see
/// [`Planned`]).
#[derive(Debug, Default)]
pub(crate) struct Sources<'a> {
    /// `None` when no entry with that content has a local file (entries carried over from a
    /// draft's base).
    blobs: Vec<(Md5Digest, Option<&'a str>)>,
}

impl<'a> Sources<'a> {
    /// The blobs of the file entries of `manifest`; for content that several entries share,
    /// the local file of the first of them (in path order) that has one.
    pub(crate) fn of(manifest: &'a Manifest) -> Result<Self> {
        let mut blobs = Vec::with_capacity(manifest.len());
        for (path, entry) in manifest.entries() {
            if !entry.is_reference() {
                let md5 = crate::download::entry_md5(path, entry)?;
                blobs.push((md5, entry.local_path.as_deref()));
            }
        }
        // Stable, so within one MD5 the entries stay in path order.
        blobs.sort_by_key(|&(md5, _)| md5);
        blobs.dedup_by(|later, kept| {
            if later.0 != kept.0 {
                return false;
            }
            kept.1 = kept.1.or(later.1);
            true
        });
        blobs.shrink_to_fit();
        Ok(Self { blobs })
    }

    /// How many distinct blobs the file entries name, with or without a local file.
    pub(crate) fn distinct_blobs(&self) -> u64 {
        self.blobs.len() as u64
    }

    /// Whether a file entry has the content `md5`.
    pub(crate) fn contains(&self, md5: &Md5Digest) -> bool {
        self.blobs
            .binary_search_by(|(candidate, _)| candidate.cmp(md5))
            .is_ok()
    }

    /// The local file holding the blob `md5`, if there is one.
    pub(crate) fn path(&self, md5: &Md5Digest) -> Option<&'a str> {
        let index = self
            .blobs
            .binary_search_by(|(candidate, _)| candidate.cmp(md5))
            .ok()?;
        self.blobs[index].1
    }
}

/// Where the bytes of one blob come from, owned by the task that uploads it.
#[derive(Debug, Clone)]
struct Source {
    path: PathBuf,
    md5: Md5Digest,
}

/// One upload request: a batch of small blobs or one large blob.
#[derive(Debug)]
enum Task {
    Batch(Vec<(BlobRef, Source)>),
    Single(BlobRef, Source),
}

/// Logs `artifact` into `entity/project`, for `run` if given.
pub(crate) async fn log(
    client: &Client,
    entity: &str,
    project: &str,
    run: Option<&str>,
    artifact: &mut Artifact,
    aliases: &[String],
) -> Result<Logged> {
    artifact.ensure_draft("log_artifact")?;
    if artifact.digest_algorithm() != DigestAlgorithm::Md5 {
        return Err(Error::NotSupported {
            what: format!("logging the XXH128 artifact `{}`", artifact.name()),
            hint: "the server deduplicates blobs by MD5; create the artifact with the default MD5 digest algorithm",
        });
    }
    let aliases = cairn_manifest::validate_aliases(aliases)?;
    let manifest = artifact.manifest();
    let sources = Sources::of(manifest)?;
    let request = CreateVersion {
        collection: artifact.name().to_owned(),
        artifact_type: artifact.artifact_type().to_owned(),
        digest: Md5Digest::from_hex(&artifact.digest()).map_err(|error| Error::Protocol {
            url: client.url(&routes::versions(entity, project)),
            reason: format!("the artifact digest is not 32 hex digits: {error}"),
        })?,
        description: artifact.description().map(str::to_owned),
        metadata: artifact.metadata().clone(),
        aliases,
        tags: Vec::new(),
        run: run.map(str::to_owned),
        distributed_id: None,
        ttl: artifact.ttl(),
    };
    let created: CreatedVersion = client
        .send_json(Method::POST, &routes::versions(entity, project), &request)
        .await?;
    // Entries carried over from a draft's base have no local file, so count blobs, not files.
    let distinct_blobs = sources.distinct_blobs();
    // What was staged for entries still in the artifact was sent for this log.
    let mut uploaded = Uploaded::default();
    for blob in &artifact.staged {
        if sources.contains(&blob.md5) {
            uploaded.add(Uploaded {
                blobs: 1,
                bytes: blob.size,
            });
        }
    }
    let version = if created.status == CreateVersionStatus::Existing {
        created.version
    } else {
        let id = created.version.id.clone();
        let receipt: ManifestReceipt = if created.manifest_uploaded {
            client.get_json(&routes::missing_blobs(&id)).await?
        } else {
            send_manifest(client, &routes::manifest(&id), manifest).await?
        };
        uploaded.add(upload_blobs(client, &id, &receipt.missing, &sources).await?);
        commit_until_complete(client, &id, &sources, &mut uploaded).await?
    };
    artifact.mark_logged(version.clone());
    Ok(Logged {
        // Not a copy of the draft's manifest: at 500,000 files that was a second copy of every
        // entry for the whole upload. It is fetched (without local paths) if it is asked for.
        artifact: LoggedArtifact::new(client.clone(), version),
        status: created.status,
        uploaded_blobs: uploaded.blobs,
        uploaded_bytes: uploaded.bytes,
        reused_blobs: distinct_blobs.saturating_sub(uploaded.blobs),
    })
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Uploaded {
    pub(crate) blobs: u64,
    pub(crate) bytes: u64,
}

impl Uploaded {
    pub(crate) fn add(&mut self, other: Self) {
        self.blobs += other.blobs;
        self.bytes += other.bytes;
    }
}

/// `PUT`s the manifest to `path` as it is published (wandb-core's bytes without `local_path`)
/// and reads the answer.
///
/// The body is written a chunk at a time while it is sent, again for every attempt, so the
/// manifest's JSON is never in memory whole. The uploader's absolute paths (home directories,
/// user names, project layout) are of no use to readers and would be shown to everyone who may
/// read the project; the artifact digest does not cover them.
pub(crate) async fn send_manifest<T: DeserializeOwned>(
    client: &Client,
    path: &str,
    manifest: &Manifest,
) -> Result<T> {
    let options = CoreJsonOptions::default()
        .without_local_paths()
        .with_chunk_size(MANIFEST_CHUNK_SIZE);
    // A first pass for the length: the server checks a declared length before reading, and
    // admits small manifests without queueing.
    let length = manifest
        .core_json_chunks(options)
        .map(|chunk| chunk.len() as u64)
        .sum::<u64>();
    client
        .retrying(path, || async {
            let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(MANIFEST_CHUNKS_AHEAD);
            let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
                let chunk = receiver.recv().await?;
                Some((Ok::<_, std::convert::Infallible>(chunk), receiver))
            });
            let activity = Activity::new();
            let request = client
                .streaming_request(Method::PUT, path)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::CONTENT_LENGTH, length)
                .body(reqwest::Body::wrap_stream(activity.track(chunks)));
            let feed = async move {
                for chunk in manifest.core_json_chunks(options) {
                    if sender.send(Bytes::from(chunk)).await.is_err() {
                        // The request ended (answered early, or failed); it needs no more.
                        break;
                    }
                }
            };
            let sent = async {
                let send = std::pin::pin!(client.send(request));
                let response = match futures_util::future::select(send, std::pin::pin!(feed)).await
                {
                    Either::Left((response, _feed)) => response,
                    Either::Right(((), send)) => send.await,
                }?;
                Ok(client.read_json(response).await?)
            };
            client.watched(path, &activity, sent).await
        })
        .await
}

/// Commits; a commit that finds blobs missing uploads them and tries again.
async fn commit_until_complete(
    client: &Client,
    id: &str,
    sources: &Sources<'_>,
    uploaded: &mut Uploaded,
) -> Result<Version> {
    let mut round = 0;
    loop {
        match commit(client, id).await {
            Err(Error::Server {
                code: ErrorCode::MissingBlobs,
                ..
            }) if round + 1 < COMMIT_ROUNDS => {
                round += 1;
                let receipt: ManifestReceipt = client.get_json(&routes::missing_blobs(id)).await?;
                uploaded.add(upload_blobs(client, id, &receipt.missing, sources).await?);
            }
            other => return other,
        }
    }
}

pub(crate) async fn commit(client: &Client, id: &str) -> Result<Version> {
    match client
        .send_json(Method::POST, &routes::commit(id), &CommitVersion {})
        .await
    {
        // A retried commit whose first answer was lost finds the version already committed.
        Err(Error::Server {
            code: ErrorCode::NotPending,
            status,
            detail,
        }) => {
            let version: Version = client.get_json(&routes::version(id)).await?;
            if version.state == VersionState::Committed {
                Ok(version)
            } else {
                Err(Error::Server {
                    code: ErrorCode::NotPending,
                    status,
                    detail,
                })
            }
        }
        other => other,
    }
}

/// Uploads `missing`, `concurrency` requests at a time; large blobs first so the long
/// transfers start early.
pub(crate) async fn upload_blobs(
    client: &Client,
    id: &str,
    missing: &[BlobRef],
    sources: &Sources<'_>,
) -> Result<Uploaded> {
    if missing.is_empty() {
        return Ok(Uploaded::default());
    }
    // Sizes come from the server; a total past u64 saturates instead of wrapping.
    let total_bytes = missing
        .iter()
        .map(|blob| blob.size)
        .fold(0, u64::saturating_add);
    let guard = PhaseGuard::start(
        client.progress(),
        Phase::Upload,
        missing.len() as u64,
        total_bytes,
    );
    let tasks = plan(missing, sources, client.batch_blob_max_size().await?)?;
    let guard = &guard;
    let results = futures_util::stream::iter(tasks)
        .map(|task| async move { upload_task(client, id, task?, guard).await })
        .buffer_unordered(client.concurrency());
    results
        .try_fold(Uploaded::default(), |mut total, done| async move {
            total.add(done);
            Ok(total)
        })
        .await
}

/// Splits the missing blobs into single uploads (over `batch_max` bytes, see
/// [`cairn_api::ServerInfo::batch_blob_max_size`]) and batches: of blobs over
/// [`SMALL_BLOB_MAX_SIZE`] bytes up to [`MEDIUM_BATCH_BYTES`], of smaller ones up to
/// [`BATCH_TARGET_BYTES`]. Large single uploads come first; fails before any upload when a blob
/// has no local file.
fn plan<'s>(
    missing: &'s [BlobRef],
    sources: &'s Sources<'s>,
    batch_max: u64,
) -> Result<Planned<'s>> {
    let batch_max = batch_max.max(SMALL_BLOB_MAX_SIZE);
    // Sorted by kind (single, medium batch, small batch), then by MD5 within each, in place: at
    // 500,000 files, vectors per kind were megabytes more at the put's memory peak. The kind
    // follows from the size, so equal blobs are neighbours and `dedup` drops the repeats.
    let kind = |blob: &BlobRef| {
        if blob.size > batch_max {
            0
        } else if blob.size > SMALL_BLOB_MAX_SIZE {
            1
        } else {
            2
        }
    };
    let mut unique: Vec<&BlobRef> = missing.iter().collect();
    unique.sort_unstable_by_key(|blob| (kind(blob), blob.md5, blob.size));
    unique.dedup();
    if let Some(blob) = unique.iter().find(|blob| sources.path(&blob.md5).is_none()) {
        return Err(Error::BlobUnavailable {
            md5: blob.md5.to_hex(),
            size: blob.size,
        });
    }
    let medium_start = unique.partition_point(|blob| kind(blob) < 1);
    let small_start = unique.partition_point(|blob| kind(blob) < 2);
    let end = unique.len();
    Ok(Planned {
        blobs: unique,
        large: 0..medium_start,
        medium: medium_start..small_start,
        small: small_start..end,
        sources,
    })
}

/// The tasks of a [`plan`], made as the upload asks for them: only tasks in flight own copies
/// of their files' paths.
#[derive(Debug)]
struct Planned<'s> {
    /// Every blob to send, single uploads first, then those of medium and of small batches.
    blobs: Vec<&'s BlobRef>,
    /// What is left of each kind, as positions in `blobs`.
    large: std::ops::Range<usize>,
    medium: std::ops::Range<usize>,
    small: std::ops::Range<usize>,
    sources: &'s Sources<'s>,
}

/// Where the blob `blob` is read from.
fn source(sources: &Sources<'_>, blob: &BlobRef) -> Result<Source> {
    let path = sources
        .path(&blob.md5)
        .ok_or_else(|| Error::BlobUnavailable {
            md5: blob.md5.to_hex(),
            size: blob.size,
        })?;
    Ok(Source {
        path: PathBuf::from(path),
        md5: blob.md5,
    })
}

/// The next batch of `blobs[left]`, taken off the front of `left`: as many as fit in `limit`
/// bytes with their frame headers, and at least one.
fn next_batch(
    blobs: &[&BlobRef],
    left: &mut std::ops::Range<usize>,
    sources: &Sources<'_>,
    limit: u64,
) -> Option<Result<Task>> {
    let limit = limit.min(BATCH_MAX_BYTES);
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    while let Some(&blob) = left.clone().next().and_then(|at| blobs.get(at)) {
        let frame = batch::FRAME_HEADER_LEN as u64 + blob.size;
        if !batch.is_empty() && batch_bytes + frame > limit {
            break;
        }
        left.start += 1;
        match source(sources, blob) {
            Ok(source) => batch.push((blob.clone(), source)),
            Err(error) => return Some(Err(error)),
        }
        batch_bytes += frame;
    }
    (!batch.is_empty()).then_some(Ok(Task::Batch(batch)))
}

impl Iterator for Planned<'_> {
    type Item = Result<Task>;

    fn next(&mut self) -> Option<Result<Task>> {
        if let Some(blob) = self.large.next().and_then(|at| self.blobs.get(at).copied()) {
            return Some(
                source(self.sources, blob).map(|source| Task::Single(blob.clone(), source)),
            );
        }
        next_batch(
            &self.blobs,
            &mut self.medium,
            self.sources,
            MEDIUM_BATCH_BYTES,
        )
        .or_else(|| {
            next_batch(
                &self.blobs,
                &mut self.small,
                self.sources,
                BATCH_TARGET_BYTES,
            )
        })
    }
}

async fn upload_task(
    client: &Client,
    id: &str,
    task: Task,
    guard: &PhaseGuard<'_>,
) -> Result<Uploaded> {
    match task {
        Task::Batch(blobs) => {
            let count = blobs.len() as u64;
            let (body, bytes, blobs) = tokio::task::spawn_blocking(move || {
                read_batch(&blobs).map(|(body, bytes)| (body, bytes, blobs))
            })
            .await
            .map_err(|error| Error::Io {
                action: "read the files of",
                path: PathBuf::from("a batch of small blobs"),
                source: std::io::Error::other(error.to_string()),
            })??;
            let path = routes::blob_batch(id);
            let sent: Result<BlobReceipt> = client
                .retrying(&path, || async {
                    let request = client
                        .request(Method::POST, &path)
                        .header(reqwest::header::CONTENT_TYPE, batch::CONTENT_TYPE)
                        .body(body.clone());
                    let response = client.send(request).await?;
                    Ok(client.read_json(response).await?)
                })
                .await;
            if let Err(
                refused @ Error::Server {
                    code: ErrorCode::DigestMismatch,
                    ..
                },
            ) = sent
            {
                // The server hashed what was read and refused it: name the file that changed.
                let changed = tokio::task::spawn_blocking(move || find_changed(&blobs))
                    .await
                    .map_err(|error| Error::Io {
                        action: "re-read the files of",
                        path: PathBuf::from("a batch of small blobs"),
                        source: std::io::Error::other(error.to_string()),
                    })?;
                return Err(changed.unwrap_or(refused));
            }
            let _receipt = sent?;
            guard.advance(count, bytes);
            Ok(Uploaded {
                blobs: count,
                bytes,
            })
        }
        Task::Single(blob, source) => {
            let path = routes::blob(id, &blob.md5.to_hex());
            let progress = Reported::new(client.progress_arc());
            let _receipt: BlobReceipt = client
                .retrying(&path, || async {
                    let file = open_checked(&source, blob.size).await?;
                    let activity = Activity::new();
                    let chunks = activity.track(file_stream(file, blob.size, progress.clone()));
                    let request = client
                        .streaming_request(Method::PUT, &path)
                        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .header(reqwest::header::CONTENT_LENGTH, blob.size)
                        .body(reqwest::Body::wrap_stream(chunks));
                    let sent = async {
                        let response = client.send(request).await?;
                        Ok(client.read_json(response).await?)
                    };
                    match client.watched(&path, &activity, sent).await {
                        Err(Failure {
                            error:
                                Error::Server {
                                    code: code @ (ErrorCode::DigestMismatch | ErrorCode::SizeMismatch),
                                    detail,
                                    ..
                                },
                            ..
                        }) => Err(Failure::from(Error::FileChanged {
                            path: source.path.clone(),
                            detail: format!("the server refused it: {code}: {detail}"),
                        })),
                        result => result,
                    }
                })
                .await?;
            guard.advance(1, 0);
            Ok(Uploaded {
                blobs: 1,
                bytes: blob.size,
            })
        }
    }
}

/// Opens a source file for upload and checks it still has the recorded size.
async fn open_checked(source: &Source, size: u64) -> Result<fs_err::tokio::File, Failure> {
    let file = fs_err::tokio::File::open(&source.path)
        .await
        .map_err(Error::io("open for upload", &source.path))?;
    let actual = file
        .metadata()
        .await
        .map_err(Error::io("read the metadata of", &source.path))?
        .len();
    if actual != size {
        return Err(Failure::from(Error::FileChanged {
            path: source.path.clone(),
            detail: format!("it had {size} bytes and now has {actual}"),
        }));
    }
    Ok(file)
}

/// The upload progress of one blob across its attempts: a retry sends bytes again, but only
/// those past what an earlier attempt reported count, so the bar never passes the total.
#[derive(Debug, Clone)]
pub(crate) struct Reported {
    progress: Arc<dyn Progress>,
    high_water: Arc<AtomicU64>,
}

impl Reported {
    pub(crate) fn new(progress: Arc<dyn Progress>) -> Self {
        Self {
            progress,
            high_water: Arc::new(AtomicU64::new(0)),
        }
    }

    /// This attempt has read the blob's first `offset` bytes.
    pub(crate) fn reached(&self, offset: u64) {
        let before = self.high_water.fetch_max(offset, Ordering::Relaxed);
        if offset > before {
            self.progress.advance(Phase::Upload, 0, offset - before);
        }
    }
}

/// The first `size` bytes of `file` as a stream of chunks, reporting bytes as they are read.
fn file_stream(
    file: fs_err::tokio::File,
    size: u64,
    progress: Reported,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::try_unfold((file, size), move |(mut file, remaining)| {
        let progress = progress.clone();
        async move {
            if remaining == 0 {
                return Ok(None);
            }
            let want = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(CHUNK_SIZE);
            let mut buffer = BytesMut::with_capacity(want);
            while buffer.len() < want {
                if file.read_buf(&mut buffer).await? == 0 {
                    break;
                }
            }
            if buffer.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file became shorter during the upload",
                ));
            }
            let remaining = remaining - buffer.len() as u64;
            progress.reached(size - remaining);
            Ok(Some((buffer.freeze(), (file, remaining))))
        }
    })
}

/// Reads the files of a batch into one body, checking each still has its recorded size.
///
/// Their MD5s are not computed again here: the server hashes every frame and refuses the
/// batch on a mismatch (profiled, this second hash was an eighth of a many-small-files put),
/// and only then does [`find_changed`] re-read the batch to name the file that changed.
fn read_batch(blobs: &[(BlobRef, Source)]) -> Result<(Bytes, u64)> {
    let total: u64 = blobs
        .iter()
        .map(|(blob, _)| batch::FRAME_HEADER_LEN as u64 + blob.size)
        .sum();
    let mut body = BytesMut::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut bytes = 0;
    let mut content = Vec::new();
    for (blob, source) in blobs {
        read_exactly(&mut content, &source.path, blob.size)?;
        let header = batch::FrameHeader {
            md5: *source.md5.as_bytes(),
            size: blob.size,
        };
        body.extend_from_slice(&header.encode());
        body.extend_from_slice(&content);
        bytes += blob.size;
    }
    Ok((body.freeze(), bytes))
}

/// Reads the file at `path`, which must hold exactly `size` bytes, into `content` (a buffer
/// reused from file to file): an open, a read of up to one byte more than `size`, the read that
/// finds the end, and a close. (`fs::read` adds two `fstat`s and a seek per file and allocates:
/// a tenth of the client's system calls in a put of 50,000 small files.)
fn read_exactly(content: &mut Vec<u8>, path: &std::path::Path, size: u64) -> Result<()> {
    use std::io::Read as _;
    let changed = |now: String| Error::FileChanged {
        path: path.to_owned(),
        detail: format!("it had {size} bytes and now has {now}"),
    };
    let expected = usize::try_from(size).map_err(|_| changed("more than fit in memory".into()))?;
    let mut file = fs_err::File::open(path).map_err(Error::io("read", path))?;
    // One spare byte, so that a file that grew shows it in the same read.
    content.clear();
    content.resize(expected + 1, 0);
    let mut filled = 0;
    loop {
        match file.read(&mut content[filled..]) {
            Ok(0) => break,
            Ok(read) => {
                filled += read;
                if filled > expected {
                    return Err(changed("more".into()));
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(Error::io("read", path)(error)),
        }
    }
    if filled != expected {
        return Err(changed(filled.to_string()));
    }
    content.truncate(expected);
    Ok(())
}

/// The first file of a refused batch whose content no longer has its recorded MD5 (or size),
/// as [`Error::FileChanged`]; `None` when every file matches again.
fn find_changed(blobs: &[(BlobRef, Source)]) -> Option<Error> {
    blobs.iter().find_map(|(blob, source)| {
        let content = match fs_err::read(&source.path) {
            Ok(content) => content,
            Err(error) => return Some(Error::io("read", &source.path)(error)),
        };
        if content.len() as u64 != blob.size {
            return Some(Error::FileChanged {
                path: source.path.clone(),
                detail: format!("it had {} bytes and now has {}", blob.size, content.len()),
            });
        }
        let actual = cairn_hash::md5(&content);
        (actual != source.md5).then(|| Error::FileChanged {
            path: source.path.clone(),
            detail: format!("its MD5 was `{}` and is now `{actual}`", source.md5),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(index: u8, size: u64) -> BlobRef {
        BlobRef {
            md5: Md5Digest::from_bytes([index; 16]),
            size,
        }
    }

    /// A local file for every blob, named after its first byte.
    fn sources(blobs: &[BlobRef], paths: &'static [String]) -> Sources<'static> {
        let mut rows: Vec<_> = blobs
            .iter()
            .map(|blob| {
                let index = usize::from(blob.md5.as_bytes()[0]);
                (blob.md5, Some(paths[index].as_str()))
            })
            .collect();
        rows.sort_by_key(|&(md5, _)| md5);
        rows.dedup_by_key(|&mut (md5, _)| md5);
        Sources { blobs: rows }
    }

    fn paths() -> &'static [String] {
        static PATHS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        PATHS.get_or_init(|| (0..=255).map(|index| format!("/data/{index}")).collect())
    }

    fn tasks(missing: &[BlobRef], sources: &Sources<'_>) -> Vec<Task> {
        plan(missing, sources, cairn_api::BATCH_BLOB_MAX_SIZE)
            .unwrap()
            .collect::<Result<Vec<_>>>()
            .unwrap()
    }

    #[test]
    fn small_blobs_are_batched_and_large_ones_go_first() {
        let large = cairn_api::BATCH_BLOB_MAX_SIZE + 1;
        let blobs = [
            blob(1, 10),
            blob(2, large),
            blob(3, SMALL_BLOB_MAX_SIZE),
            blob(1, 10),
        ];
        let sources = sources(&blobs, paths());
        let tasks = tasks(&blobs, &sources);
        assert_eq!(tasks.len(), 2);
        assert!(matches!(&tasks[0], Task::Single(blob, _) if blob.size == large));
        // The duplicate is sent once.
        assert!(matches!(&tasks[1], Task::Batch(batch) if batch.len() == 2));
    }

    #[test]
    fn medium_blobs_are_batched_eight_of_512_kib_at_a_time_unless_the_server_says_no() {
        let medium = 512 * 1024;
        let blobs: Vec<_> = (0..20).map(|index| blob(index, medium)).collect();
        let sources = sources(&blobs, paths());
        let sizes: Vec<usize> = tasks(&blobs, &sources)
            .iter()
            .map(|task| match task {
                Task::Batch(batch) => batch.len(),
                Task::Single(..) => panic!("a 512 KiB blob goes in a batch"),
            })
            .collect();
        assert_eq!(sizes, [8, 8, 4]);
        // A server from before `batch_blob_max_size` takes them one by one.
        let old_server: Vec<Task> = plan(&blobs, &sources, SMALL_BLOB_MAX_SIZE)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(old_server.len(), 20);
        assert!(
            old_server
                .iter()
                .all(|task| matches!(task, Task::Single(..)))
        );
    }

    #[test]
    fn batches_stay_under_the_size_limit() {
        let blobs: Vec<_> = (0..=255)
            .map(|index| blob(index, SMALL_BLOB_MAX_SIZE))
            .collect();
        let sources = sources(&blobs, paths());
        let tasks = tasks(&blobs, &sources);
        let mut seen = 0;
        for task in &tasks {
            let Task::Batch(batch) = task else {
                panic!("small blobs must be batched");
            };
            let bytes: u64 = batch
                .iter()
                .map(|(blob, _)| batch::FRAME_HEADER_LEN as u64 + blob.size)
                .sum();
            assert!(bytes <= BATCH_TARGET_BYTES, "{bytes}");
            seen += batch.len();
        }
        assert_eq!(seen, 256);
        assert!(tasks.len() >= 2);
    }

    #[test]
    fn sources_keep_one_local_file_per_blob() {
        use cairn_manifest::{Entry, LogicalPath};

        let [one, two] = [[1; 16], [2; 16]].map(Md5Digest::from_bytes);
        let file = |md5: Md5Digest, local_path: Option<&str>| {
            let mut entry = Entry::file(md5.to_base64(), 1);
            entry.local_path = local_path.map(str::to_owned);
            entry
        };
        let mut manifest = Manifest::new();
        for (path, entry) in [
            ("a", file(one, None)),
            ("b", file(one, Some("/b"))),
            ("c", file(one, Some("/c"))),
            ("d", file(two, Some("/d"))),
            ("e", Entry::reference("s3://x/e", "etag", Some(1))),
        ] {
            manifest
                .add(LogicalPath::new(path).unwrap(), entry, false)
                .unwrap();
        }
        let sources = Sources::of(&manifest).unwrap();
        assert_eq!(sources.distinct_blobs(), 2);
        // The first entry with a local file, in path order.
        assert_eq!(sources.path(&one), Some("/b"));
        assert_eq!(sources.path(&two), Some("/d"));
        assert_eq!(sources.path(&Md5Digest::from_bytes([3; 16])), None);
    }

    #[test]
    fn a_blob_without_a_local_file_is_named() {
        let missing = [blob(9, 5)];
        let without_file = Sources {
            blobs: vec![(missing[0].md5, None)],
        };
        for sources in [Sources::default(), without_file] {
            let error = plan(&missing, &sources, SMALL_BLOB_MAX_SIZE).unwrap_err();
            assert!(
                matches!(error, Error::BlobUnavailable { size: 5, .. }),
                "{error}"
            );
        }
    }
}
