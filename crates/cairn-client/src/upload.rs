//! Logging a draft: create the version, send the manifest, upload only the blobs the server
//! lacks (small ones batched, large ones streamed from their files), then commit.
//!
//! Files are never read whole into memory and never hashed again: the server hashes what it
//! receives and refuses a blob whose content no longer matches the digest recorded when it was
//! added. For a batch of small files the server's refusal names only a digest, so the batch's
//! files are then hashed again here to name the file that changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cairn_api::{
    BATCH_MAX_BYTES, BlobReceipt, BlobRef, CommitVersion, CreateVersion, CreateVersionStatus,
    CreatedVersion, ErrorCode, ManifestReceipt, SMALL_BLOB_MAX_SIZE, Version, VersionState, batch,
    routes,
};
use cairn_hash::Md5Digest;
use cairn_manifest::{DigestAlgorithm, Manifest};
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use reqwest::Method;
use tokio::io::AsyncReadExt as _;

use crate::client::Failure;
use crate::progress::PhaseGuard;
use crate::{Artifact, Client, Error, LoggedArtifact, Phase, Progress, Result};

/// The largest batch body sent (the server accepts up to [`BATCH_MAX_BYTES`]). Up to
/// `concurrency` bodies are in memory at once: at 8 MiB the put of 50,000 small files peaked at
/// 200 MiB of client RSS (tmpfs), at 4 MiB 148 MiB, and no slower.
const BATCH_TARGET_BYTES: u64 = 4 * 1024 * 1024;
/// Bytes read from a file per chunk of a streamed upload.
const CHUNK_SIZE: usize = 256 * 1024;
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
    /// Blobs sent to the server by this call.
    pub uploaded_blobs: u64,
    /// Bytes of blob content sent by this call.
    pub uploaded_bytes: u64,
    /// Distinct blobs of the artifact the server already had.
    pub reused_blobs: u64,
}

/// Where the bytes of one blob come from.
#[derive(Debug, Clone)]
pub(crate) struct Source {
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
    let manifest = artifact.manifest().clone();
    let sources = blob_sources(&manifest)?;
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
    // Entries carried over from a draft's base have no local file, so count blobs, not sources.
    let distinct_blobs = distinct_file_blobs(&manifest)?;
    let mut uploaded = Uploaded::default();
    let version = if created.status == CreateVersionStatus::Existing {
        created.version
    } else {
        let id = created.version.id.clone();
        let receipt: ManifestReceipt = if created.manifest_uploaded {
            client.get_json(&routes::missing_blobs(&id)).await?
        } else {
            put_manifest(client, &id, &manifest).await?
        };
        uploaded.add(upload_blobs(client, &id, &receipt.missing, &sources).await?);
        commit_until_complete(client, &id, &sources, &mut uploaded).await?
    };
    artifact.mark_logged(version.clone());
    Ok(Logged {
        artifact: LoggedArtifact::with_manifest(client.clone(), version, manifest),
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

/// The local file behind every distinct blob of the manifest, by MD5.
pub(crate) fn blob_sources(manifest: &Manifest) -> Result<BTreeMap<Md5Digest, Source>> {
    let mut sources = BTreeMap::new();
    for (path, entry) in manifest.entries() {
        if entry.is_reference() {
            continue;
        }
        let md5 = crate::download::entry_md5(path, entry)?;
        if let Some(local_path) = &entry.local_path {
            sources.entry(md5).or_insert_with(|| Source {
                path: PathBuf::from(local_path),
                md5,
            });
        }
    }
    Ok(sources)
}

/// How many distinct blobs the file entries of the manifest name.
pub(crate) fn distinct_file_blobs(manifest: &Manifest) -> Result<u64> {
    let mut blobs = BTreeSet::new();
    for (path, entry) in manifest.entries() {
        if !entry.is_reference() {
            blobs.insert(crate::download::entry_md5(path, entry)?);
        }
    }
    Ok(blobs.len() as u64)
}

async fn put_manifest(client: &Client, id: &str, manifest: &Manifest) -> Result<ManifestReceipt> {
    let path = routes::manifest(id);
    let body = Bytes::from(without_local_paths(manifest)?.to_core_json());
    client
        .retrying(&path, || async {
            let request = client
                .request(Method::PUT, &path)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            let response = client.send(request).await?;
            Ok(client.read_json(response).await?)
        })
        .await
}

/// The manifest as it is published: wandb-core's format, but without `local_path`. The uploader's
/// absolute paths (home directories, user names, project layout) are of no use to readers and
/// would be shown to everyone who may read the project; the artifact digest does not cover them.
pub(crate) fn without_local_paths(manifest: &Manifest) -> Result<Manifest> {
    let mut published =
        Manifest::with_storage_policy_config(manifest.storage_policy_config().clone());
    for (path, entry) in manifest.entries() {
        let mut entry = entry.clone();
        entry.local_path = None;
        published.add(path.clone(), entry, false)?;
    }
    Ok(published)
}

/// Commits; a commit that finds blobs missing uploads them and tries again.
async fn commit_until_complete(
    client: &Client,
    id: &str,
    sources: &BTreeMap<Md5Digest, Source>,
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
    sources: &BTreeMap<Md5Digest, Source>,
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
    let tasks = plan(missing, sources)?;
    let results = futures_util::stream::iter(tasks)
        .map(|task| upload_task(client, id, task, &guard))
        .buffer_unordered(client.concurrency());
    results
        .try_fold(Uploaded::default(), |mut total, done| async move {
            total.add(done);
            Ok(total)
        })
        .await
}

/// Splits the missing blobs into single uploads and batches of at most [`BATCH_TARGET_BYTES`].
fn plan(missing: &[BlobRef], sources: &BTreeMap<Md5Digest, Source>) -> Result<Vec<Task>> {
    let limit = BATCH_TARGET_BYTES.min(BATCH_MAX_BYTES);
    let mut tasks = Vec::new();
    let mut batch = Vec::new();
    let mut batch_bytes = 0;
    let unique: BTreeSet<&BlobRef> = missing.iter().collect();
    for blob in unique {
        let source = sources
            .get(&blob.md5)
            .ok_or_else(|| Error::BlobUnavailable {
                md5: blob.md5.to_hex(),
                size: blob.size,
            })?;
        if blob.size > SMALL_BLOB_MAX_SIZE {
            tasks.push(Task::Single(blob.clone(), source.clone()));
            continue;
        }
        let frame = batch::FRAME_HEADER_LEN as u64 + blob.size;
        if !batch.is_empty() && batch_bytes + frame > limit {
            tasks.push(Task::Batch(std::mem::take(&mut batch)));
            batch_bytes = 0;
        }
        batch.push((blob.clone(), source.clone()));
        batch_bytes += frame;
    }
    if !batch.is_empty() {
        tasks.push(Task::Batch(batch));
    }
    // Large single uploads first.
    tasks.sort_by_key(|task| matches!(task, Task::Batch(_)));
    Ok(tasks)
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
            let progress = client.progress_arc();
            let _receipt: BlobReceipt = client
                .retrying(&path, || async {
                    let file = open_checked(&source, blob.size).await?;
                    let body = reqwest::Body::wrap_stream(file_stream(file, blob.size, Arc::clone(&progress)));
                    let request = client
                        .request(Method::PUT, &path)
                        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .header(reqwest::header::CONTENT_LENGTH, blob.size)
                        .body(body);
                    match client.send(request).await {
                        Ok(response) => Ok(client.read_json(response).await?),
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
                        Err(failure) => Err(failure),
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

/// The first `size` bytes of `file` as a stream of chunks, reporting bytes as they are read.
fn file_stream(
    file: fs_err::tokio::File,
    size: u64,
    progress: Arc<dyn Progress>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::try_unfold((file, size), move |(mut file, remaining)| {
        let progress = Arc::clone(&progress);
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
            let read = buffer.len() as u64;
            progress.advance(Phase::Upload, 0, read);
            Ok(Some((buffer.freeze(), (file, remaining - read))))
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
    for (blob, source) in blobs {
        let content = fs_err::read(&source.path).map_err(Error::io("read", &source.path))?;
        if content.len() as u64 != blob.size {
            return Err(Error::FileChanged {
                path: source.path.clone(),
                detail: format!("it had {} bytes and now has {}", blob.size, content.len()),
            });
        }
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

    fn blob(index: u8, size: u64) -> (BlobRef, Source) {
        let md5 = Md5Digest::from_bytes([index; 16]);
        (
            BlobRef { md5, size },
            Source {
                path: PathBuf::from(format!("/data/{index}")),
                md5,
            },
        )
    }

    #[test]
    fn small_blobs_are_batched_and_large_ones_go_first() {
        let blobs = [
            blob(1, 10),
            blob(2, SMALL_BLOB_MAX_SIZE + 1),
            blob(3, SMALL_BLOB_MAX_SIZE),
            blob(1, 10),
        ];
        let missing: Vec<BlobRef> = blobs.iter().map(|(blob, _)| blob.clone()).collect();
        let sources = blobs
            .iter()
            .map(|(blob, source)| (blob.md5, source.clone()))
            .collect();
        let tasks = plan(&missing, &sources).unwrap();
        assert_eq!(tasks.len(), 2);
        assert!(matches!(&tasks[0], Task::Single(blob, _) if blob.size == SMALL_BLOB_MAX_SIZE + 1));
        // The duplicate is sent once.
        assert!(matches!(&tasks[1], Task::Batch(batch) if batch.len() == 2));
    }

    #[test]
    fn batches_stay_under_the_size_limit() {
        let blobs: Vec<_> = (0..=255)
            .map(|index| blob(index, SMALL_BLOB_MAX_SIZE))
            .collect();
        let missing: Vec<BlobRef> = blobs.iter().map(|(blob, _)| blob.clone()).collect();
        let sources = blobs
            .iter()
            .map(|(blob, source)| (blob.md5, source.clone()))
            .collect();
        let tasks = plan(&missing, &sources).unwrap();
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
    fn a_blob_without_a_local_file_is_named() {
        let (missing, _) = blob(9, 5);
        let error = plan(&[missing], &BTreeMap::new()).unwrap_err();
        assert!(
            matches!(error, Error::BlobUnavailable { size: 5, .. }),
            "{error}"
        );
    }
}
