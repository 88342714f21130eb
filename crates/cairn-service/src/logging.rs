//! The logging protocol after a version is created: its manifest (spooled, ingested entry by
//! entry, kept verbatim), the receipt of what is missing for the caller, blobs received while
//! hashing from any byte stream, the commit, and reading a version's manifest and blobs.

use std::sync::Arc;

use bytes::Bytes;
use cairn_hash::{Algorithms, Hasher, Md5Digest};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use rusqlite::Connection;

use crate::access::{Caller, readable_state, require_pending, required, version_for_write};
use crate::blobs::{BATCH_BLOB_MAX_SIZE, Blobs};
use crate::body::ByteStream;
use crate::db::manifests as ingest;
use crate::db::presence;
use crate::db::projects;
use crate::db::versions::{self, VersionRow, load_version, move_alias, touch_version};
use crate::error::{Error, Kind};
use crate::model::{BlobRef, Version, VersionState};
use crate::service::{Counters, Service};

/// Blobs listed in a `MissingBlobs` refusal at most; `missing` lists them all.
const MISSING_IN_REFUSAL: usize = 1000;

/// Missing blobs handed to a receipt's consumer at a time.
const MISSING_PER_PIECE: usize = 4096;

/// The most blobs one [`Service::read_small_blobs`] answers.
pub const SMALL_BLOBS_PER_READ: usize = 10_000;

/// The most bytes one [`Service::read_small_blobs`] answers.
pub const SMALL_BLOB_BYTES_PER_READ: u64 = 16 * 1024 * 1024;

/// The largest manifest accepted.
pub const MANIFEST_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A version's manifest as the caller sees it: its digest and totals, and the blobs missing
/// for the caller, streamed a piece at a time (a manifest of hundreds of thousands of new files
/// has that many).
pub struct Receipt {
    /// The artifact digest.
    pub digest: String,
    /// Number of entries.
    pub file_count: u64,
    /// Total size of the entries.
    pub size: u64,
    /// The distinct missing blobs, ordered by MD5, in pieces; an `Err` ends the stream.
    pub missing: BoxStream<'static, Result<Vec<BlobRef>, Error>>,
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipt")
            .field("digest", &self.digest)
            .field("file_count", &self.file_count)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A version's stored manifest, ready to stream.
pub struct StoredManifest {
    /// MD5 of the bytes, lowercase hex (an ETag).
    pub md5_hex: String,
    /// Length in bytes.
    pub length: u64,
    /// The bytes, verbatim, in pieces.
    pub bytes: ByteStream,
}

impl std::fmt::Debug for StoredManifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredManifest")
            .field("md5_hex", &self.md5_hex)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// A blob of a version that the caller may read, found by [`Service::find_blob`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServableBlob {
    /// MD5, lowercase hex.
    pub md5_hex: String,
    /// Size in bytes.
    pub size: u64,
}

/// The bytes of (a range of) a blob.
pub enum BlobBytes {
    /// Small blobs come whole from the packed database.
    Whole(Bytes),
    /// Larger ones stream from the blob store.
    Stream(ByteStream),
}

impl std::fmt::Debug for BlobBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Whole(bytes) => f.debug_tuple("Whole").field(&bytes.len()).finish(),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// One frame of a batch of blobs, as a front-end split it out of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The MD5 the content was sent under, lowercase hex.
    pub md5_hex: String,
    /// The content.
    pub data: Bytes,
}

/// What receiving blobs did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Blobs accepted.
    pub blobs: u64,
    /// Bytes of content accepted.
    pub bytes: u64,
}

/// A streamed blob's body as a receiver names it in errors: `what` ("blob `<md5>`"), and where
/// its expected `size` came from (`size_from`: "per the manifest", "as announced").
pub(crate) struct Expected<'a> {
    pub(crate) what: &'a str,
    pub(crate) size: u64,
    pub(crate) size_from: &'a str,
}

impl Service {
    /// Receives exactly `expected.size` bytes of a blob from `bytes` where the packing policy
    /// puts them while they arrive, hashing them on the way: answers them with their MD5. A body
    /// that breaks, runs longer or ends short stores nothing and counts as a rejected blob.
    pub(crate) async fn receive_body<S, E>(
        &self,
        expected: &Expected<'_>,
        mut bytes: S,
    ) -> Result<(crate::blobs::Incoming, Md5Digest), Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let Expected {
            what,
            size,
            size_from,
        } = *expected;
        let reject = |error: Error| {
            Counters::add(&self.counters().blobs_rejected, 1);
            error
        };
        let mismatch = |got: &dyn std::fmt::Display| {
            reject(Error::refused(
                Kind::SizeMismatch,
                format!(
                    "{what} is {size} bytes {size_from}, but {got} bytes were sent; nothing was stored"
                ),
            ))
        };
        let mut hasher = Hasher::new(Algorithms::MD5);
        let mut incoming = self.blobs().incoming(size)?;
        while let Some(chunk) = bytes.next().await {
            let chunk = chunk.map_err(|error| {
                reject(Error::bad_request(format!(
                    "the body of {what} ended early ({error}) after {} of {size} bytes; nothing was stored",
                    hasher.size(),
                )))
            })?;
            if hasher.size() + chunk.len() as u64 > size {
                return Err(mismatch(&"more than that"));
            }
            hasher.update(&chunk);
            incoming.write(chunk).await?;
        }
        let digests = hasher.finalize();
        if digests.size != size {
            return Err(mismatch(&digests.size));
        }
        Ok((incoming, digests.md5))
    }

    /// Stores a received blob whose content is verified, records it with `record` (one write
    /// transaction), and counts it: pinned from before its bytes are written until they are
    /// recorded, so that a garbage collection neither deletes them in between nor is deleting
    /// them now.
    pub(crate) async fn store_received(
        &self,
        md5_hex: &str,
        size: u64,
        incoming: crate::blobs::Incoming,
        record: impl FnMut(&rusqlite::Transaction<'_>) -> Result<(), Error> + Send + 'static,
    ) -> Result<(), Error> {
        let pin = self
            .gc()
            .guard
            .pin(vec![(md5_hex.to_owned(), size)])
            .await?;
        self.blobs().store(md5_hex, size, incoming).await?;
        self.db().write(record).await?;
        drop(pin);
        let counters = self.counters();
        Counters::add(&counters.blobs_received, 1);
        Counters::add(&counters.blob_bytes_received, size);
        Ok(())
    }
}

fn size_mismatch(md5: &str, expected: u64, got: impl std::fmt::Display) -> Error {
    Error::refused(
        Kind::SizeMismatch,
        format!(
            "blob `{md5}` is {expected} bytes per the manifest, but {got} bytes were sent; nothing was stored"
        ),
    )
}

fn digest_mismatch(md5: &str, actual: &str) -> Error {
    Error::refused(
        Kind::DigestMismatch,
        format!(
            "the bytes sent as blob `{md5}` hash to `{actual}`; nothing was stored, re-read the file and upload it again"
        ),
    )
}

/// Fails with `ManifestMissing` unless the version's manifest was uploaded (or, for a
/// distributed version, parts of it: they are merged into the manifest at commit).
fn require_manifest(row: &VersionRow) -> Result<(), Error> {
    if row.has_manifest || row.distributed_id.is_some() {
        Ok(())
    } else {
        Err(Error::refused(
            Kind::ManifestMissing,
            format!(
                "artifact version `{}` has no manifest yet; upload it first",
                row.version.id
            ),
        ))
    }
}

/// A blob id: the content's MD5 as 32 hex digits, returned in lowercase.
fn blob_md5(md5: &str) -> Result<String, Error> {
    crate::validate::blob_md5(md5)
}

impl Service {
    /// Checks that the caller may write to the version and that it is still PENDING, and
    /// answers it.
    pub async fn pending_version(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> Result<Version, Error> {
        let caller = required(caller)?.clone();
        let id = id.to_owned();
        self.db()
            .read(move |connection| {
                let row = version_for_write(connection, &caller, &id)?;
                require_pending(&row)?;
                Ok(row.version)
            })
            .await
    }

    /// Checks that the caller may upload blobs to the version now (PENDING, manifest there),
    /// before a front-end reads a body.
    pub async fn check_upload(&self, caller: Option<&Caller>, id: &str) -> Result<(), Error> {
        let caller = required(caller)?.clone();
        let id = id.to_owned();
        self.db()
            .read(move |connection| {
                let row = version_for_write(connection, &caller, &id)?;
                require_pending(&row)?;
                require_manifest(&row)
            })
            .await
    }

    /// Uploads the manifest of a PENDING version from `bytes` (at most [`MANIFEST_MAX_BYTES`];
    /// `declared_length` is what the request announced, if anything): spooled, parsed entry
    /// by entry, checked against the version's digest, kept verbatim. Answers the receipt.
    pub async fn put_manifest<S, E>(
        &self,
        caller: Option<&Caller>,
        id: &str,
        declared_length: Option<u64>,
        bytes: S,
    ) -> Result<Receipt, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.put_manifest_as(caller, id, None, declared_length, bytes)
            .await
    }

    /// [`Service::put_manifest`], saying who writes. For a distributed version the upload is
    /// one writer's part (`writer`, else the caller's name): its entries join the version's
    /// (a path another writer gave other contents is a conflict naming both), and the receipt
    /// lists only this part's missing blobs; the commit merges every part into the manifest.
    /// For any other version `writer` is checked (1 to 256 bytes, no control characters) but
    /// not used.
    pub async fn put_manifest_as<S, E>(
        &self,
        caller: Option<&Caller>,
        id: &str,
        writer: Option<&str>,
        declared_length: Option<u64>,
        bytes: S,
    ) -> Result<Receipt, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let caller = required(caller)?.clone();
        if let Some(writer) = writer {
            crate::validate::writer(writer)?;
        }
        let row = {
            let (caller, id) = (caller.clone(), id.to_owned());
            self.db()
                .read(move |connection| version_for_write(connection, &caller, &id))
                .await?
        };
        require_pending(&row)?;
        if declared_length.is_some_and(|length| length > MANIFEST_MAX_BYTES) {
            return Err(ingest::too_large("a manifest", MANIFEST_MAX_BYTES));
        }
        let _permit = match declared_length {
            Some(length) if length <= ingest::LARGE_MANIFEST_BYTES => None,
            _ => Some(self.manifest_permit().await?),
        };
        let mut spooled = ingest::spool(self, bytes, MANIFEST_MAX_BYTES).await?;
        if row.distributed_id.is_some() {
            let writer = writer.unwrap_or(caller.username()).to_owned();
            {
                let (id, caller, writer) = (id.to_owned(), caller.clone(), writer.clone());
                let cutoff = self.grace_cutoff();
                self.db()
                    .write(move |transaction| {
                        let row = version_for_write(transaction, &caller, &id)?;
                        require_pending(&row)?;
                        if row.has_manifest {
                            return Err(Error::conflict(format!(
                                "distributed artifact version `{id}` is being finished; it takes no more parts"
                            )));
                        }
                        ingest::ingest_patch(transaction, &id, &mut spooled, &writer)?;
                        presence::adopt_staged(transaction, &id, &caller, Some(&writer), &cutoff)
                            .map(|_| ())
                    })
                    .await?;
            }
            return self.receipt(caller, id.to_owned(), Some(writer)).await;
        }
        let digest = row.version.digest;
        {
            let (id, caller) = (id.to_owned(), caller.clone());
            let cutoff = self.grace_cutoff();
            self.db()
                .write(move |transaction| {
                    let row = version_for_write(transaction, &caller, &id)?;
                    require_pending(&row)?;
                    if !ingest::holds(transaction, &id, &spooled)? {
                        ingest::ingest(transaction, &id, &mut spooled, &digest.to_hex())?;
                    }
                    presence::adopt_staged(transaction, &id, &caller, None, &cutoff).map(|_| ())
                })
                .await?;
        }
        self.receipt(caller, id.to_owned(), None).await
    }

    /// The receipt of a version's manifest: what is missing for the caller.
    pub async fn missing(&self, caller: Option<&Caller>, id: &str) -> Result<Receipt, Error> {
        let caller = required(caller)?.clone();
        {
            let (caller, id) = (caller.clone(), id.to_owned());
            let cutoff = self.grace_cutoff();
            self.db()
                .write(move |transaction| {
                    let row = version_for_write(transaction, &caller, &id)?;
                    require_manifest(&row)?;
                    // Staged since the manifest went up (a resumed log): the version's now.
                    presence::adopt_staged(transaction, &id, &caller, None, &cutoff).map(|_| ())
                })
                .await?;
        }
        self.receipt(caller, id.to_owned(), None).await
    }

    async fn receipt(
        &self,
        caller: Caller,
        id: String,
        writer: Option<String>,
    ) -> Result<Receipt, Error> {
        let (digest, size, file_count) = {
            let id = id.clone();
            self.db()
                .read(move |connection| versions::totals(connection, &id))
                .await?
        };
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<BlobRef>, Error>>(2);
        let db = Arc::clone(self.db());
        tokio::spawn(async move {
            let failed = sender.clone();
            let listed = db
                .read(move |connection| {
                    let mut piece = Vec::with_capacity(MISSING_PER_PIECE);
                    let gone = || Error::internal("the receipt's reader went away");
                    presence::for_each_missing(
                        connection,
                        &id,
                        &caller,
                        writer.as_deref(),
                        |md5, size| {
                            piece.push(BlobRef { md5, size });
                            if piece.len() == MISSING_PER_PIECE {
                                let full = std::mem::replace(
                                    &mut piece,
                                    Vec::with_capacity(MISSING_PER_PIECE),
                                );
                                sender.blocking_send(Ok(full)).map_err(|_| gone())?;
                            }
                            Ok(())
                        },
                    )?;
                    if !piece.is_empty() {
                        sender.blocking_send(Ok(piece)).map_err(|_| gone())?;
                    }
                    Ok(())
                })
                .await;
            if let Err(error) = listed {
                let _ = failed.send(Err(error)).await;
            }
        });
        Ok(Receipt {
            digest,
            file_count,
            size,
            missing: Box::pin(futures_util::stream::unfold(
                receiver,
                |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
            )),
        })
    }

    /// A version's manifest, verbatim, if the caller may read the version.
    pub async fn manifest(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> Result<StoredManifest, Error> {
        let caller = caller.cloned();
        let id = id.to_owned();
        let stored = self
            .db()
            .read(move |connection| {
                readable_state(connection, caller.as_ref(), &id)?;
                ingest::find_stored(connection, &id)?.ok_or_else(|| {
                    Error::refused(
                        Kind::ManifestMissing,
                        format!("artifact version `{id}` has no manifest yet; upload it first"),
                    )
                })
            })
            .await?;
        Ok(StoredManifest {
            md5_hex: stored.md5_hex.clone(),
            length: stored.length,
            bytes: ingest::stream_stored(self, &stored),
        })
    }

    /// Receives one blob of a PENDING version's manifest from `bytes`, hashing while it is
    /// written; stores it only when its MD5 and size match (`declared_length` is what the
    /// request announced, checked first).
    pub async fn receive_blob<S, E>(
        &self,
        caller: Option<&Caller>,
        id: &str,
        md5: &str,
        declared_length: Option<u64>,
        bytes: S,
    ) -> Result<Received, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let caller = required(caller)?.clone();
        let md5 = blob_md5(md5)?;
        let listed = {
            let (id, md5) = (id.to_owned(), md5.clone());
            self.db()
                .read(move |connection| expected_size(connection, &caller, &id, &md5))
                .await?
        };
        let reject = |error: Error| {
            Counters::add(&self.counters().blobs_rejected, 1);
            error
        };
        let size = match (listed, declared_length) {
            (Some(size), Some(length)) if length != size => {
                return Err(reject(size_mismatch(&md5, size, length)));
            }
            (Some(size), _) | (None, Some(size)) => size,
            (None, None) => {
                return Err(Error::bad_request(format!(
                    "blob `{md5}` is sent before the version's manifest, so its size must be announced: send a `Content-Length`"
                )));
            }
        };
        // The bytes are received and stored even when the server already holds the content: a
        // shortcut would let the answer's timing tell whether anyone stores it.
        let what = format!("blob `{md5}`");
        let expected = Expected {
            what: &what,
            size,
            size_from: "per the manifest",
        };
        let (incoming, actual) = self.receive_body(&expected, bytes).await?;
        let actual = actual.to_hex();
        if actual != md5 {
            return Err(reject(digest_mismatch(&md5, &actual)));
        }
        let blobs = vec![(md5.clone(), size, Blobs::location(size))];
        let id = id.to_owned();
        self.store_received(&md5, size, incoming, move |connection| {
            presence::record_received(connection, &id, &blobs)
        })
        .await?;
        Ok(Received {
            blobs: 1,
            bytes: size,
        })
    }

    /// Receives blobs split out of a batch (each at most [`BATCH_BLOB_MAX_SIZE`] bytes, hashed
    /// several at once): each is checked against the manifest and its MD5, and the frames
    /// before the first bad one are stored. `cut` is why the batch itself ended early, if it did
    /// (reported after the good frames are kept). Answers what was stored, or the first failure
    /// with how many frames before it were kept.
    pub async fn receive_batch(
        &self,
        caller: Option<&Caller>,
        id: &str,
        frames: Vec<Frame>,
        cut: Option<Error>,
    ) -> Result<Received, Error> {
        let caller = required(caller)?.clone();
        let mut failure = cut;
        // Frames are checked against the manifest once the body is in: one indexed lookup per
        // frame, instead of loading a manifest of any size for every batch.
        let mut accepted: Vec<(String, u64, Bytes)> = Vec::with_capacity(frames.len());
        let mut bad: Option<Error> = None;
        // Up to eight frames hashed at once: several times faster than one after another.
        let digests =
            cairn_hash::md5_many(&frames.iter().map(|frame| &frame.data).collect::<Vec<_>>());
        for (frame, digest) in frames.into_iter().zip(digests) {
            if frame.data.len() as u64 > BATCH_BLOB_MAX_SIZE {
                bad = Some(Error::bad_request(format!(
                    "batch frame `{}` holds {} bytes; blobs over {BATCH_BLOB_MAX_SIZE} bytes go up one by one",
                    frame.md5_hex,
                    frame.data.len(),
                )));
                break;
            }
            let actual = digest.to_hex();
            if actual != frame.md5_hex {
                bad = Some(digest_mismatch(&frame.md5_hex, &actual));
                break;
            }
            accepted.push((frame.md5_hex, frame.data.len() as u64, frame.data));
        }
        let sizes: Vec<(String, u64)> = accepted
            .iter()
            .map(|(md5, size, _)| (md5.clone(), *size))
            .collect();
        let stranger = {
            let (id, caller) = (id.to_owned(), caller.clone());
            self.db()
                .read(move |connection| {
                    let row = version_for_write(connection, &caller, &id)?;
                    require_pending(&row)?;
                    require_manifest(&row)?;
                    first_stranger(connection, &id, &sizes)
                })
                .await?
        };
        if let Some((index, error)) = stranger {
            accepted.truncate(index);
            bad = Some(error);
        }
        if bad.is_some() {
            failure = bad;
        }
        let count = accepted.len() as u64;
        let bytes: u64 = accepted.iter().map(|(_, size, _)| size).sum();
        let recorded: Vec<(String, u64)> = accepted
            .iter()
            .map(|(md5, size, _)| (md5.clone(), *size))
            .collect();
        // Pinned as in `receive_blob`.
        let pin = self.gc().guard.pin(recorded.clone()).await?;
        self.blobs().store_many(accepted).await?;
        self.record(id.to_owned(), recorded).await?;
        drop(pin);
        let counters = self.counters();
        Counters::add(&counters.blobs_received, count);
        Counters::add(&counters.blob_bytes_received, bytes);
        if let Some(error) = failure {
            if matches!(
                error.kind(),
                Some(Kind::DigestMismatch | Kind::SizeMismatch)
            ) {
                Counters::add(&counters.blobs_rejected, 1);
            }
            return Err(error.with_suffix(&format!(
                "; the {count} blob(s) before it in the batch were stored, ask for the missing blobs and resend the rest"
            )));
        }
        Ok(Received {
            blobs: count,
            bytes,
        })
    }

    /// Records verified blobs as stored and as received for the version (which makes them
    /// present for it, see `db::presence`).
    async fn record(&self, version_id: String, blobs: Vec<(String, u64)>) -> Result<(), Error> {
        if blobs.is_empty() {
            return Ok(());
        }
        let blobs: Vec<(String, u64, &'static str)> = blobs
            .into_iter()
            .map(|(md5, size)| (md5, size, Blobs::location(size)))
            .collect();
        self.db()
            .write(move |connection| presence::record_received(connection, &version_id, &blobs))
            .await
    }

    /// For each MD5, whether the PENDING version may use that content without it being sent
    /// (the W&B protocol asks before the manifest is uploaded): it was received for this
    /// version, or the caller can already read it in a committed version. The same rule as the
    /// receipt of [`Service::put_manifest`], which the commit applies to the manifest's
    /// (MD5, size) pairs in the end.
    pub async fn present_contents(
        &self,
        caller: Option<&Caller>,
        id: &str,
        md5s: &[cairn_hash::Md5Digest],
    ) -> Result<Vec<bool>, Error> {
        let caller = required(caller)?.clone();
        let id = id.to_owned();
        let md5s: Vec<String> = md5s.iter().map(cairn_hash::Md5Digest::to_hex).collect();
        self.db()
            .read(move |connection| {
                let row = version_for_write(connection, &caller, &id)?;
                require_pending(&row)?;
                presence::present_by_md5(connection, &id, &caller, &md5s)
            })
            .await
    }

    /// At most `limit` (capped at 10,000) entries of a readable version's manifest after path
    /// `after`, in path order.
    pub async fn files(
        &self,
        caller: Option<&Caller>,
        id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::model::FileEntry>, Error> {
        let caller = caller.cloned();
        let id = id.to_owned();
        let after = after.map(str::to_owned);
        let limit = limit.clamp(1, 10_000);
        self.db()
            .read(move |connection| {
                readable_state(connection, caller.as_ref(), &id)?;
                ingest::list_entries(connection, &id, after.as_deref(), limit)
            })
            .await
    }

    /// The entry at `path` of a readable version's manifest.
    pub async fn file(
        &self,
        caller: Option<&Caller>,
        id: &str,
        path: &str,
    ) -> Result<crate::model::FileEntry, Error> {
        let caller = caller.cloned();
        let (id, path) = (id.to_owned(), path.to_owned());
        self.db()
            .read(move |connection| {
                readable_state(connection, caller.as_ref(), &id)?;
                ingest::find_entry(connection, &id, &path)?.ok_or_else(|| {
                    Error::not_found(format!("artifact version `{id}` has no file `{path}`"))
                })
            })
            .await
    }

    /// A blob of a version the caller may read, if the version may serve it (once per
    /// request: the bytes are then read with [`Service::read_blob`]).
    pub async fn find_blob(
        &self,
        caller: Option<&Caller>,
        id: &str,
        md5: &str,
    ) -> Result<ServableBlob, Error> {
        let md5 = blob_md5(md5)?;
        let caller = caller.cloned();
        let id = id.to_owned();
        let size = {
            let md5 = md5.clone();
            self.db()
                .read(move |connection| {
                    let state = readable_state(connection, caller.as_ref(), &id)?;
                    let committed = state == VersionState::Committed;
                    presence::servable_size(connection, &id, &md5, committed)?.ok_or_else(|| {
                        Error::not_found(format!(
                            "blob `{md5}` is not an uploaded file of artifact version `{id}`"
                        ))
                    })
                })
                .await?
        };
        Ok(ServableBlob { md5_hex: md5, size })
    }

    /// Many blobs (each at most [`BATCH_BLOB_MAX_SIZE`] bytes) of a version the caller
    /// may read, in the order asked, with one access decision for them all: the download
    /// mirror of [`Service::receive_batch`]. At most [`SMALL_BLOBS_PER_READ`] blobs and
    /// [`SMALL_BLOB_BYTES_PER_READ`] bytes per call; a blob the version may not serve, or a large
    /// one, is refused naming it.
    pub async fn read_small_blobs(
        &self,
        caller: Option<&Caller>,
        id: &str,
        md5s: &[cairn_hash::Md5Digest],
    ) -> Result<Vec<(cairn_hash::Md5Digest, Bytes)>, Error> {
        if md5s.len() > SMALL_BLOBS_PER_READ {
            return Err(Error::bad_request(format!(
                "at most {SMALL_BLOBS_PER_READ} blobs per request, not {}",
                md5s.len()
            )));
        }
        let caller = caller.cloned();
        let id = id.to_owned();
        let wanted: Vec<cairn_hash::Md5Digest> = md5s.to_vec();
        let sizes = {
            let wanted = wanted.clone();
            self.db()
                .read(move |connection| {
                    let state = readable_state(connection, caller.as_ref(), &id)?;
                    let committed = state == VersionState::Committed;
                    let mut sizes = Vec::with_capacity(wanted.len());
                    let mut total: u64 = 0;
                    for md5 in &wanted {
                        let hex = md5.to_hex();
                        let size = presence::servable_size(connection, &id, &hex, committed)?
                            .ok_or_else(|| {
                                Error::not_found(format!(
                                    "blob `{hex}` is not an uploaded file of artifact version `{id}`"
                                ))
                            })?;
                        if size > BATCH_BLOB_MAX_SIZE {
                            return Err(Error::bad_request(format!(
                                "blob `{hex}` has {size} bytes; blobs over {BATCH_BLOB_MAX_SIZE} bytes are downloaded one by one"
                            )));
                        }
                        total = total.saturating_add(size);
                        if total > SMALL_BLOB_BYTES_PER_READ {
                            return Err(Error::bad_request(format!(
                                "the blobs asked for add up to more than {SMALL_BLOB_BYTES_PER_READ} bytes; ask for fewer at a time"
                            )));
                        }
                        sizes.push((hex, size));
                    }
                    Ok(sizes)
                })
                .await?
        };
        let data = self.blobs().read_many(sizes).await?;
        Counters::add(&self.counters().blobs_served, data.len() as u64);
        Ok(wanted.into_iter().zip(data).collect())
    }

    /// Bytes `range` of a blob found by [`Service::find_blob`] (the whole blob when `None`).
    pub async fn read_blob(
        &self,
        blob: &ServableBlob,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<BlobBytes, Error> {
        let bytes = self.blobs().read(&blob.md5_hex, blob.size, range).await?;
        Counters::add(&self.counters().blobs_served, 1);
        Ok(bytes)
    }

    /// Commits a PENDING version: every blob must be present for the caller, the version gets
    /// the next `vN` and `latest` plus its requested aliases move to it, in one transaction.
    /// Committing a committed version answers it again; if meanwhile the latest version got the
    /// same digest, this one is discarded and that one answered.
    pub async fn commit(&self, caller: Option<&Caller>, id: &str) -> Result<Version, Error> {
        let caller = required(caller)?.clone();
        self.merge_parts(&caller, id).await?;
        let id = id.to_owned();
        let cutoff = self.grace_cutoff();
        let (version, newly) = self
            .db()
            .write(move |connection| {
                let row = version_for_write(connection, &caller, &id)?;
                match row.version.state {
                    VersionState::Committed => return Ok((row.version, false)),
                    VersionState::Deleted => require_pending(&row)?,
                    VersionState::Pending => {}
                }
                require_manifest(&row)?;
                presence::adopt_staged(connection, &id, &caller, None, &cutoff)?;
                let (missing, total) =
                    presence::first_missing(connection, &id, &caller, MISSING_IN_REFUSAL)?;
                if total > 0 {
                    return Err(Error::missing_blobs(missing, total));
                }
                let mut aliases = row.requested_aliases.clone();
                let tags = row.version.tags.clone();
                if let Some((latest_id, latest_digest)) =
                    versions::latest_committed(connection, row.collection_id)?
                    && latest_digest == row.version.digest
                {
                    // Two identical logs raced: keep the committed one, discard this one.
                    versions::mark_deleted(connection, &id)?;
                    crate::versions::apply_labels(
                        connection,
                        row.collection_id,
                        &latest_id,
                        &aliases,
                        &tags,
                    )?;
                    let existing = load_version(connection, &latest_id)?
                        .ok_or_else(|| Error::internal("the latest version vanished"))?;
                    return Ok((existing.version, false));
                }
                let next = versions::next_index(connection, row.collection_id)?;
                versions::mark_committed(connection, &id, next)?;
                aliases.push(cairn_manifest::LATEST_ALIAS.to_owned());
                for alias in &aliases {
                    move_alias(connection, row.collection_id, alias, &id)?;
                }
                touch_version(connection, &id)?;
                projects::touch_collection(connection, row.collection_id)?;
                let committed = load_version(connection, &id)?
                    .ok_or_else(|| Error::internal("a version just committed is missing"))?;
                Ok((committed.version, true))
            })
            .await?;
        if newly {
            Counters::add(&self.counters().versions_committed, 1);
            tracing::info!(
                version = version.qualified_name(),
                id = version.id,
                "committed"
            );
        }
        Ok(version)
    }
}

impl Service {
    /// Finishing a distributed version: merges its parts into one manifest (wandb-core's
    /// format, entries in path order), whose digest becomes the version's, and ingests it like
    /// an uploaded manifest. Nothing to do for other versions, or once merged.
    async fn merge_parts(&self, caller: &Caller, id: &str) -> Result<(), Error> {
        let (caller, id) = (caller.clone(), id.to_owned());
        let parts = {
            let (caller, id) = (caller.clone(), id.clone());
            self.db()
                .read(move |connection| {
                    let row = version_for_write(connection, &caller, &id)?;
                    if row.distributed_id.is_none()
                        || row.has_manifest
                        || row.version.state != VersionState::Pending
                    {
                        return Ok(None);
                    }
                    Ok(Some(ingest::patches(connection, &id)?))
                })
                .await?
        };
        let Some(parts) = parts else {
            return Ok(());
        };
        if parts.is_empty() {
            return Err(Error::refused(
                Kind::ManifestMissing,
                format!("distributed artifact version `{id}` has no parts yet; upload one first"),
            ));
        }
        let count = parts.len();
        let (bytes, digest) = tokio::task::spawn_blocking(move || merge(&parts))
            .await
            .map_err(|error| Error::internal(format!("merging the parts: {error}")))??;
        let chunk: Result<Bytes, std::convert::Infallible> = Ok(Bytes::from(bytes));
        let mut spooled = ingest::spool(
            self,
            futures_util::stream::iter([chunk]),
            MANIFEST_MAX_BYTES,
        )
        .await?;
        self.db()
            .write(move |transaction| {
                let row = version_for_write(transaction, &caller, &id)?;
                require_pending(&row)?;
                if row.has_manifest {
                    return Ok(());
                }
                if ingest::patch_count(transaction, &id)? != count {
                    return Err(Error::conflict(format!(
                        "a part of distributed artifact version `{id}` arrived while it was being finished; finish it again"
                    )));
                }
                ingest::set_digest(transaction, &id, &digest)?;
                ingest::ingest(transaction, &id, &mut spooled, &digest.to_hex())?;
                Ok(())
            })
            .await
    }
}

/// The union of a distributed version's parts as one manifest (wandb-core's bytes) and its
/// artifact digest. Two parts giving a path different contents are a conflict naming both.
fn merge(parts: &[(String, Vec<u8>)]) -> Result<(Vec<u8>, cairn_hash::Md5Digest), Error> {
    let invalid = |writer: &str, error: &dyn std::fmt::Display| {
        Error::refused(
            Kind::InvalidManifest,
            format!("the part written by {writer} is not a valid manifest: {error}"),
        )
    };
    let mut merged: Option<cairn_manifest::Manifest> = None;
    let mut writers: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for (writer, bytes) in parts {
        let text = std::str::from_utf8(bytes).map_err(|error| invalid(writer, &error))?;
        let part =
            cairn_manifest::Manifest::from_json(text).map_err(|error| invalid(writer, &error))?;
        let target = merged.get_or_insert_with(|| {
            cairn_manifest::Manifest::with_storage_policy_config(
                part.storage_policy_config().clone(),
            )
        });
        for (path, entry) in part.entries() {
            if let Some(existing) = target.get(path.as_str()) {
                if existing.digest != entry.digest {
                    let other = writers
                        .get(path.as_str())
                        .copied()
                        .unwrap_or("another writer");
                    return Err(Error::conflict(format!(
                        "`{}` is written twice with different contents: by {other} (digest `{}`) and by {writer} (digest `{}`)",
                        path.as_str(),
                        existing.digest,
                        entry.digest
                    )));
                }
                continue;
            }
            writers.insert(path.as_str().to_owned(), writer);
            target
                .add(path.clone(), entry.clone(), false)
                .map_err(|error| invalid(writer, &error))?;
        }
    }
    let manifest = merged.unwrap_or_default();
    let digest =
        cairn_hash::Md5Digest::from_hex(&manifest.digest(cairn_manifest::DigestAlgorithm::Md5))
            .map_err(|error| Error::internal(format!("the merged digest: {error}")))?;
    Ok((manifest.to_core_json().into_bytes(), digest))
}

/// The size of blob `md5` in the manifest of a PENDING version the caller may upload to, or
/// `None` while the version has no manifest yet (the W&B protocol uploads files first; their
/// sizes are checked against the manifest at commit).
fn expected_size(
    connection: &Connection,
    caller: &Caller,
    id: &str,
    md5: &str,
) -> Result<Option<u64>, Error> {
    let row = version_for_write(connection, caller, id)?;
    require_pending(&row)?;
    if !row.has_manifest {
        // Before the manifest (the W&B protocol) or between a distributed version's parts:
        // a listed file must have its listed size, anything else its announced one.
        return presence::file_size(connection, id, md5);
    }
    presence::file_size(connection, id, md5)?
        .map(Some)
        .ok_or_else(|| {
            Error::not_found(format!(
                "blob `{md5}` is not a file of artifact version `{id}`'s manifest; upload only the blobs the manifest lists"
            ))
        })
}

/// The first frame whose blob is not a file of the manifest with that size, and why.
fn first_stranger(
    connection: &Connection,
    id: &str,
    frames: &[(String, u64)],
) -> Result<Option<(usize, Error)>, Error> {
    for (index, (md5, size)) in frames.iter().enumerate() {
        match presence::file_size(connection, id, md5)? {
            None => {
                return Ok(Some((
                    index,
                    Error::not_found(format!(
                        "batch frame `{md5}` is not a file of this version's manifest"
                    )),
                )));
            }
            Some(expected) if expected != *size => {
                return Ok(Some((index, size_mismatch(md5, expected, *size))));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}
