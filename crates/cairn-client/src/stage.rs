//! Staged uploads: a large new file is sent to the server while it is hashed, instead of being
//! read once to hash it and then again to upload it while the server hashes it a second time.
//!
//! Without staging, a put of a 2 GiB file ran two MD5s of 2 GiB one after the other (one core
//! each, about 3 s apiece): the client's, before the version could be created, then the
//! server's, while the bytes arrived. Staged, both run at once on the same bytes, and the file
//! is read once.
//!
//! Only files of at least [`STAGE_MIN_SIZE`] bytes that the stat cache does not know are staged,
//! at most one per size, and only when the caller has no usable blob of that size on the server
//! yet (`known-sizes`: staged, or in a committed version they may read): content the server may
//! already hold for the caller is hashed first and deduplicated as before. (Blobs a resumed
//! version already received are not asked about, so those may be sent again.) The
//! server answers the MD5 of what it received; the client checks it against its own hash of
//! the bytes it read. A file that could not be staged (an old server, a failed request) is
//! simply hashed and uploaded the usual way.

use std::collections::HashSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use cairn_api::{BlobRef, KnownSizes, routes};
use cairn_cache::{FileStat, StatCache};
use cairn_hash::{Algorithms, Digests, Hasher};
use cairn_manifest::DigestAlgorithm;
use futures_util::StreamExt as _;
use reqwest::Method;
use tokio::sync::mpsc;

use crate::client::{Activity, Failure};
use crate::local::{dir_root, file_logical_path};
use crate::progress::PhaseGuard;
use crate::stat::cache_error;
use crate::upload::Reported;
use crate::{AddDirOptions, AddFileOptions, Artifact, ArtifactEntry, Client, Error, Phase, Result};

/// Files smaller than this are hashed before the upload as usual: their hashes already run on
/// all cores at once, and staging them would cost a request each.
pub const STAGE_MIN_SIZE: u64 = 16 * 1024 * 1024;

/// Bytes read, hashed and sent per chunk.
const CHUNK_SIZE: usize = 1024 * 1024;

/// Chunks read ahead of the socket.
const CHUNKS_AHEAD: usize = 4;

/// Sizes asked about per `known-sizes` request (the server's limit).
const SIZES_PER_ASK: usize = 10_000;

/// Where staged files go: a project the caller is about to log into.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StageTarget<'a> {
    pub(crate) client: &'a Client,
    pub(crate) entity: &'a str,
    pub(crate) project: &'a str,
}

/// Stages those of `files` (path, size) worth staging (see the module docs), hashing each with
/// `algorithms` while it is sent. Answers, per file, its digests when it was staged.
pub(crate) async fn stage_files(
    target: StageTarget<'_>,
    files: &[(PathBuf, u64)],
    algorithms: Algorithms,
) -> Vec<Option<Digests>> {
    let mut staged = vec![None; files.len()];
    let mut seen = HashSet::new();
    let candidates: Vec<usize> = (0..files.len())
        .filter(|&index| files[index].1 >= STAGE_MIN_SIZE && seen.insert(files[index].1))
        .collect();
    if candidates.is_empty() {
        return staged;
    }
    let sizes: Vec<u64> = candidates.iter().map(|&index| files[index].1).collect();
    let known = match known_sizes(target, &sizes).await {
        Ok(known) => known,
        Err(error) => {
            // A server from before staged uploads knows no such route: nothing to tell. A caller
            // who may not write there hears it from the log that follows.
            if !matches!(
                error,
                Error::NotFound { .. }
                    | Error::PermissionDenied { .. }
                    | Error::Unauthenticated { .. }
            ) {
                tracing::warn!(%error, "not staging large files: the server did not say which sizes it knows");
            }
            return staged;
        }
    };
    let chosen: Vec<usize> = candidates
        .into_iter()
        .filter(|&index| !known.contains(&files[index].1))
        .collect();
    if chosen.is_empty() {
        return staged;
    }
    let total: u64 = chosen.iter().map(|&index| files[index].1).sum();
    let progress = target.client.progress();
    let guard = PhaseGuard::start(progress, Phase::Upload, chosen.len() as u64, total);
    let results: Vec<(usize, Result<Digests>)> = futures_util::stream::iter(chosen)
        .map(|index| {
            let (path, size) = &files[index];
            async move { (index, stage_file(target, path, *size, algorithms).await) }
        })
        .buffer_unordered(target.client.concurrency())
        .collect()
        .await;
    for (index, result) in results {
        match result {
            Ok(digests) => {
                guard.advance(1, 0);
                staged[index] = Some(digests);
            }
            Err(error) => {
                tracing::warn!(path = %files[index].0.display(), %error, "could not stage the file; it is hashed and uploaded as usual");
            }
        }
    }
    staged
}

impl Artifact {
    /// [`add_dir`](Self::add_dir) for an artifact about to be logged into `entity/project`:
    /// large files the stat cache does not know are sent to the server while they are hashed
    /// (staged), so the put that follows does not read or upload them again. Without a stat
    /// cache ([`with_stat_cache`](Self::with_stat_cache)) this is `add_dir`.
    ///
    /// A file that cannot be staged (an older server, a failed request) is hashed as in
    /// `add_dir` and uploaded by the log as usual; the call fails only as `add_dir` would.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use cairn_client::{AddDirOptions, Artifact, Client, Run, RunOptions};
    /// use std::sync::Arc;
    ///
    /// let client = Client::from_env()?;
    /// let stat_cache = Arc::new(client.cache()?.stat_cache()?);
    /// let mut artifact = Artifact::new("weights", "model")?.with_stat_cache(stat_cache);
    /// let options = AddDirOptions::default();
    /// artifact
    ///     .add_dir_staged(&client, "alice", "vision", "checkpoints".as_ref(), &options)
    ///     .await?;
    /// // The large files are on the server already: the log sends only the rest.
    /// let run = Run::init(&client, RunOptions::new("vision").with_entity("alice")).await?;
    /// run.log_artifact(&mut artifact, &[]).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`add_dir`](Self::add_dir).
    pub async fn add_dir_staged(
        &mut self,
        client: &Client,
        entity: &str,
        project: &str,
        local_path: &Path,
        options: &AddDirOptions,
    ) -> Result<usize> {
        // Only MD5 artifacts can be logged, and the server hashes with MD5 alone.
        let Some(stat_cache) = self
            .stat_cache
            .clone()
            .filter(|_| self.digest_algorithm() == DigestAlgorithm::Md5)
        else {
            return self.add_dir(local_path, options);
        };
        self.ensure_draft("add_dir")?;
        let (root, root_metadata) = dir_root(local_path)?;
        let mut listing = self.list_cached(&root, &root_metadata, &stat_cache)?;
        let (indices, files): (Vec<usize>, Vec<(PathBuf, u64)>) = listing
            .misses(&root)
            .filter(|(_, _, size)| *size >= STAGE_MIN_SIZE)
            .map(|(index, path, size)| (index, (path, size)))
            .unzip();
        let mut staged_blobs = Vec::new();
        if !files.is_empty() {
            let target = StageTarget {
                client,
                entity,
                project,
            };
            let staged = stage_files(target, &files, self.hash_options().algorithms()).await;
            for (index, digests) in indices.into_iter().zip(staged) {
                if let Some(digests) = digests {
                    staged_blobs.push(BlobRef {
                        md5: digests.md5,
                        size: digests.size,
                    });
                    listing.set_digests(index, digests);
                }
            }
        }
        let entries = self.listed_entries(&root, listing, options, &stat_cache)?;
        let added = entries.len();
        self.add_all(entries, options.merge)?;
        self.staged.extend(staged_blobs);
        Ok(added)
    }

    /// [`add_file`](Self::add_file) for an artifact about to be logged into `entity/project`,
    /// staging the file as [`add_dir_staged`](Self::add_dir_staged) does.
    ///
    /// # Errors
    ///
    /// As [`add_file`](Self::add_file).
    pub async fn add_file_staged(
        &mut self,
        client: &Client,
        entity: &str,
        project: &str,
        local_path: &Path,
        options: &AddFileOptions,
    ) -> Result<ArtifactEntry> {
        self.ensure_draft("add_file")?;
        // The name is checked before a possibly huge file is sent.
        file_logical_path(local_path, options)?;
        let stat_cache = self
            .stat_cache
            .clone()
            .filter(|_| self.digest_algorithm() == DigestAlgorithm::Md5);
        let known = match stat_cache {
            Some(stat_cache) => {
                let target = StageTarget {
                    client,
                    entity,
                    project,
                };
                self.stage_one(target, local_path, &stat_cache).await?
            }
            None => None,
        };
        let added = self.add_file_known(local_path, options, known)?;
        if let Some(digests) = known {
            self.staged.push(BlobRef {
                md5: digests.md5,
                size: digests.size,
            });
        }
        Ok(added)
    }

    /// Stages one file when it is large and the stat cache does not know it; records what was
    /// staged in the stat cache. Anything that is not a regular file is left to `add_file`.
    async fn stage_one(
        &self,
        target: StageTarget<'_>,
        local_path: &Path,
        stat_cache: &StatCache,
    ) -> Result<Option<Digests>> {
        let Ok(metadata) = fs_err::metadata(local_path) else {
            return Ok(None);
        };
        if !metadata.is_file() || metadata.len() < STAGE_MIN_SIZE {
            return Ok(None);
        }
        let canonical =
            fs_err::canonicalize(local_path).map_err(Error::io("resolve", local_path))?;
        let stat = FileStat::from_metadata(&metadata);
        let cached = stat_cache.lookup(&canonical, &stat).map_err(cache_error)?;
        if cached.is_some() {
            return Ok(None);
        }
        let files = [(canonical.clone(), stat.size)];
        let staged = stage_files(target, &files, self.hash_options().algorithms()).await;
        let Some(Some(digests)) = staged.into_iter().next() else {
            return Ok(None);
        };
        stat_cache
            .record([(canonical.as_path(), &stat, &digests)])
            .map_err(cache_error)?;
        Ok(Some(digests))
    }
}

/// Of `sizes`, those the caller already has a usable blob of on the server.
async fn known_sizes(target: StageTarget<'_>, sizes: &[u64]) -> Result<HashSet<u64>> {
    let path = routes::known_sizes(target.entity, target.project);
    let mut known = HashSet::new();
    for chunk in sizes.chunks(SIZES_PER_ASK) {
        let asked = KnownSizes {
            sizes: chunk.to_vec(),
        };
        let answer: KnownSizes = target.client.send_json(Method::POST, &path, &asked).await?;
        known.extend(answer.sizes);
    }
    Ok(known)
}

/// Sends one file to the staging route while hashing it on a blocking thread; checks the MD5
/// the server answers against the local one.
async fn stage_file(
    target: StageTarget<'_>,
    path: &Path,
    size: u64,
    algorithms: Algorithms,
) -> Result<Digests> {
    let client = target.client;
    let route = routes::staged_blobs(target.entity, target.project);
    let progress = Reported::new(client.progress_arc());
    client
        .retrying(&route, || async {
            let (sender, mut receiver) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_AHEAD);
            let reader = {
                let (path, progress) = (path.to_owned(), progress.clone());
                tokio::task::spawn_blocking(move || {
                    let read = read_and_hash(&path, size, algorithms, &sender, &progress);
                    if let Err(error) = &read {
                        // The body fails with the file, so the server stores nothing.
                        let _ = sender.blocking_send(Err(std::io::Error::other(error.to_string())));
                    }
                    read
                })
            };
            let chunks = futures_util::stream::poll_fn(move |context| receiver.poll_recv(context));
            let activity = Activity::new();
            let request = client
                .streaming_request(Method::POST, &route)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(reqwest::Body::wrap_stream(activity.track(chunks)));
            let sent = async {
                let response = client.send(request).await?;
                Ok(client.read_json::<BlobRef>(response).await?)
            };
            let answered = client.watched(&route, &activity, sent).await;
            let read = reader.await.map_err(|error| Error::Io {
                action: "read for staging",
                path: path.to_owned(),
                source: std::io::Error::other(error.to_string()),
            })?;
            let staged = answered?;
            let digests = read?;
            if staged.md5 != digests.md5 || staged.size != digests.size {
                return Err(Failure::from(Error::FileChanged {
                    path: path.to_owned(),
                    detail: format!(
                        "the server received {} bytes with MD5 {} while {} bytes with MD5 {} were read",
                        staged.size, staged.md5, digests.size, digests.md5
                    ),
                }));
            }
            Ok(digests)
        })
        .await
}

/// Reads the first `size` bytes of `path` in chunks, hashing each and handing it to `sender`;
/// answers the digests once all were handed over. A file shorter than `size` fails.
fn read_and_hash(
    path: &Path,
    size: u64,
    algorithms: Algorithms,
    sender: &mpsc::Sender<std::io::Result<Bytes>>,
    progress: &Reported,
) -> Result<Digests> {
    let mut file = fs_err::File::open(path).map_err(Error::io("open for staging", path))?;
    let mut hasher = Hasher::new(algorithms);
    let mut remaining = size;
    while remaining > 0 {
        let want = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(CHUNK_SIZE);
        let mut buffer = BytesMut::zeroed(want);
        let mut filled = 0;
        while filled < want {
            let read = file
                .read(&mut buffer[filled..])
                .map_err(Error::io("read for staging", path))?;
            if read == 0 {
                return Err(Error::FileChanged {
                    path: path.to_owned(),
                    detail: format!(
                        "it had {size} bytes and ended after {}",
                        hasher.size() + filled as u64
                    ),
                });
            }
            filled += read;
        }
        hasher.update(&buffer);
        remaining -= want as u64;
        if remaining == 0 {
            // A file that grew since it was listed would be logged cut short.
            let mut probe = [0_u8; 1];
            if file
                .read(&mut probe)
                .map_err(Error::io("read for staging", path))?
                > 0
            {
                return Err(Error::FileChanged {
                    path: path.to_owned(),
                    detail: format!("it had {size} bytes and has grown since"),
                });
            }
        }
        progress.reached(size - remaining);
        if sender.blocking_send(Ok(buffer.freeze())).is_err() {
            return Err(Error::Io {
                action: "stage",
                path: path.to_owned(),
                source: std::io::Error::other("the request ended before the whole file was sent"),
            });
        }
    }
    Ok(hasher.finalize())
}
