//! Manifests in bounded memory: the upload is spooled to a temporary file (hashed on the way),
//! parsed entry by entry straight into the `entries` table, hashed into the artifact digest from
//! the table in path order, and copied verbatim into its row in pieces; downloads stream it out
//! of the row in pieces as well.
//!
//! Nothing here holds a whole manifest, a whole entry list or a whole preimage in memory, so the
//! server's memory while ingesting a manifest is a few buffers plus SQLite's page cache,
//! whatever the manifest's size. Large manifests are also ingested a few at a time
//! ([`LARGE_MANIFEST_BYTES`], `Service::manifest_permit`), which bounds the disk the spooled
//! uploads take.

use std::io::{BufReader, Read as _, Seek as _};

use bytes::Bytes;
use cairn_hash::{Algorithms, Hasher, Md5Digest};
use cairn_manifest::{ArtifactDigester, DigestAlgorithm, ReadError};
use futures_util::StreamExt as _;
use rusqlite::{MAIN_DB, OptionalExtension as _, Transaction, params};

use crate::blobs::TempFile;
use crate::body::ByteStream;
use crate::db::schema::NOW;
use crate::error::Kind;
use crate::error::{Error, error_chain};
use crate::service::Service;

/// Manifests larger than this are ingested a few at a time (see `Service::manifest_permit`).
pub(crate) const LARGE_MANIFEST_BYTES: u64 = 1024 * 1024;

/// The piece size of reads and writes of a manifest's bytes.
const PIECE: usize = 256 * 1024;

/// An uploaded manifest, spooled to disk.
#[derive(Debug)]
pub(crate) struct Spooled {
    /// Deletes the file when dropped.
    _temp: TempFile,
    file: fs_err::File,
    /// The MD5 of the bytes (the manifest's ETag), lowercase hex.
    pub(crate) md5_hex: String,
    /// The number of bytes.
    pub(crate) length: u64,
}

/// Spools a manifest upload of at most `limit` bytes to a temporary file, hashing it.
pub(crate) async fn spool<S, E>(
    service: &Service,
    mut stream: S,
    limit: u64,
) -> Result<Spooled, Error>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut temp = service.blobs().temp_file()?;
    let mut hasher = Hasher::new(Algorithms::MD5);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            Error::bad_request(format!(
                "the manifest upload ended early after {} bytes ({error}); nothing was stored",
                hasher.size()
            ))
        })?;
        if hasher.size() + chunk.len() as u64 > limit {
            return Err(too_large("a manifest", limit));
        }
        hasher.update(&chunk);
        temp.write(chunk).await?;
    }
    let file = temp.finish_writing().await?;
    let digests = hasher.finalize();
    Ok(Spooled {
        _temp: temp,
        file,
        md5_hex: digests.md5.to_hex(),
        length: digests.size,
    })
}

fn invalid_manifest(detail: impl Into<String>) -> Error {
    Error::refused(Kind::InvalidManifest, detail)
}

/// What [`ingest`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ingested {
    /// Number of entries.
    pub(crate) file_count: u64,
    /// Sum of the entry sizes.
    pub(crate) size: u64,
}

/// Replaces the version's entries and stored manifest with the spooled manifest, in the
/// caller's transaction. Fails with `invalid_manifest` (and the transaction must then be rolled
/// back) when the manifest does not parse, escapes the root, holds impossible sizes, or does not
/// hash to `expected_digest`.
pub(crate) fn ingest(
    transaction: &Transaction<'_>,
    version_id: &str,
    spooled: &mut Spooled,
    expected_digest: &str,
) -> Result<Ingested, Error> {
    transaction.execute("DELETE FROM entries WHERE version_id = ?1", [version_id])?;
    read_entries(transaction, version_id, spooled, None)?;
    let ingested = check_entries(transaction, version_id, expected_digest)?;
    store_bytes(transaction, version_id, spooled)?;
    transaction.execute(
        &format!(
            "UPDATE versions SET size = ?2, file_count = ?3, updated_at = {NOW} WHERE id = ?1"
        ),
        params![
            version_id,
            i64::try_from(ingested.size).unwrap_or(i64::MAX),
            i64::try_from(ingested.file_count).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(ingested)
}

/// Entries parsed and checked per message from the parsing thread to the inserting one.
const ROWS_PER_BATCH: usize = 512;
/// Batches the parsing thread may run ahead of the inserts (bounded memory: a few thousand
/// entries).
const BATCHES_AHEAD: usize = 4;

/// One manifest entry, parsed and checked, as its `entries` row takes it.
struct Row {
    path: String,
    digest: String,
    md5_hex: Option<String>,
    size: i64,
    reference: Option<String>,
    /// `None`: the version itself.
    birth_artifact_id: Option<String>,
}

impl Row {
    /// Checks an entry the way the server stores it: MD5 digests only, a size for every file.
    fn of(path: cairn_manifest::LogicalPath, entry: cairn_manifest::Entry) -> Result<Self, Error> {
        let path = path.into_string();
        let md5_hex = if entry.is_reference() {
            None
        } else {
            if entry.digest_algorithm() == DigestAlgorithm::Xxh128 {
                return Err(invalid_manifest(format!(
                    "entry `{path}` is hashed with XXH128, which this server does not support yet; log the artifact with MD5 digests"
                )));
            }
            if entry.size.is_none() {
                return Err(invalid_manifest(format!(
                    "file entry `{path}` has no `size`; every uploaded file needs one"
                )));
            }
            let md5 = Md5Digest::from_base64(&entry.digest)
                .map_err(|error| invalid_manifest(format!("entry `{path}`: {error}")))?;
            Some(md5.to_hex())
        };
        // The parser refuses sizes over i64::MAX, so this conversion cannot fail.
        let size = i64::try_from(entry.size.unwrap_or(0)).map_err(|_| {
            invalid_manifest(format!("entry `{path}` has a size over 2^63 - 1 bytes"))
        })?;
        Ok(Self {
            path,
            digest: entry.digest,
            md5_hex,
            size,
            reference: entry.reference,
            birth_artifact_id: entry.birth_artifact_id,
        })
    }
}

/// Parses the manifest into `entries`; a path given twice keeps its last entry, as in a JSON
/// object.
///
/// Parsing runs on a thread of its own, a few batches ahead of the inserts on this one (which
/// holds the transaction): profiled on 50,000 entries, parsing and checking were a quarter of
/// the ingest, which the client waits for with nothing else to do. The first failure wins as if
/// the two ran one after the other: an insert can only fail on an entry the parser had already
/// accepted, so an insert's error is returned before the parser's.
fn read_entries(
    transaction: &Transaction<'_>,
    version_id: &str,
    spooled: &mut Spooled,
    writer: Option<&str>,
) -> Result<(), Error> {
    spooled.file.rewind().map_err(spool_error)?;
    let file = &mut spooled.file;
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
        let parser = std::thread::Builder::new()
            .name("manifest-parser".to_owned())
            .spawn_scoped(scope, move || parse_rows(file, &sender))
            .map_err(|error| Error::Unavailable(format!("cannot start a thread: {error}")))?;
        let inserted = insert_rows(transaction, version_id, writer, receiver);
        let parsed = parser
            .join()
            .unwrap_or_else(|_| Err(Error::internal("the manifest parser panicked")));
        inserted.and(parsed)
    })
}

/// Parses the spooled manifest into checked rows, sent [`ROWS_PER_BATCH`] at a time. Stops
/// early, with an error nobody reads, once the inserting side has stopped.
fn parse_rows(
    file: &mut fs_err::File,
    sender: &std::sync::mpsc::SyncSender<Vec<Row>>,
) -> Result<(), Error> {
    let stopped = || Error::internal("the manifest's inserts stopped");
    let mut batch = Vec::with_capacity(ROWS_PER_BATCH);
    let reader = BufReader::with_capacity(PIECE, file);
    let read = cairn_manifest::read_manifest(reader, |path, entry| {
        batch.push(Row::of(path, entry)?);
        if batch.len() == ROWS_PER_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(ROWS_PER_BATCH));
            sender.send(full).map_err(|_| stopped())?;
        }
        Ok(())
    });
    match read {
        Ok(_) if batch.is_empty() => Ok(()),
        Ok(_) => sender.send(batch).map_err(|_| stopped()),
        Err(ReadError::Manifest(error)) => Err(invalid_manifest(error_chain(&error))),
        Err(ReadError::Sink(error)) => Err(error),
    }
}

/// Inserts the rows the parser sends until it is done; the first failure drops `rows`, which
/// stops the parser.
fn insert_rows(
    transaction: &Transaction<'_>,
    version_id: &str,
    writer: Option<&str>,
    rows: std::sync::mpsc::Receiver<Vec<Row>>,
) -> Result<(), Error> {
    let mut insert = transaction.prepare_cached(
        "INSERT INTO entries (version_id, path, digest, md5_hex, size, ref, birth_artifact_id, writer) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (version_id, path) DO UPDATE SET \
         digest = excluded.digest, md5_hex = excluded.md5_hex, size = excluded.size, \
         ref = excluded.ref, birth_artifact_id = excluded.birth_artifact_id, writer = excluded.writer",
    )?;
    let mut existing = transaction
        .prepare_cached("SELECT digest, writer FROM entries WHERE version_id = ?1 AND path = ?2")?;
    for row in rows.iter().flatten() {
        let path = row.path.as_str();
        if let Some(writer) = writer {
            // A distributed version's part: another writer may not give this path other
            // contents.
            let found: Option<(String, Option<String>)> = existing
                .query_row(params![version_id, path], |found| {
                    Ok((found.get(0)?, found.get(1)?))
                })
                .optional()?;
            if let Some((digest, other)) = found
                && digest != row.digest
            {
                let other = other.unwrap_or_else(|| "an earlier writer".to_owned());
                return Err(Error::conflict(format!(
                    "`{path}` is written twice with different contents: by {other} (digest `{digest}`) and by {writer} (digest `{}`); each path of a distributed artifact must have one content",
                    row.digest
                )));
            }
        }
        // The version that uploads a file is its birth artifact unless the uploader says
        // otherwise (an incremental version keeps the ids of the files it carries over).
        let birth = row.birth_artifact_id.as_deref().unwrap_or(version_id);
        insert.execute(params![
            version_id,
            path,
            row.digest,
            row.md5_hex,
            row.size,
            row.reference,
            birth,
            writer
        ])?;
    }
    Ok(())
}

/// Hashes the entries in path order into the artifact digest, compares it with the version's,
/// and sums the sizes without overflow.
fn check_entries(
    transaction: &Transaction<'_>,
    version_id: &str,
    expected_digest: &str,
) -> Result<Ingested, Error> {
    // `path` is TEXT with the BINARY collation: byte order of UTF-8, which is code-point order,
    // the order the artifact digest sorts by.
    let mut statement = transaction.prepare_cached(
        "SELECT path, digest, size FROM entries WHERE version_id = ?1 ORDER BY path",
    )?;
    let mut rows = statement.query([version_id])?;
    let mut digester = ArtifactDigester::new(DigestAlgorithm::Md5);
    let mut ingested = Ingested {
        file_count: 0,
        size: 0,
    };
    while let Some(row) = rows.next()? {
        let path: String = row.get(0)?;
        let digest: String = row.get(1)?;
        digester.push(&path, &digest);
        let size = u64::try_from(row.get::<_, i64>(2)?).unwrap_or_default();
        ingested.file_count += 1;
        ingested.size = ingested
            .size
            .checked_add(size)
            .filter(|total| i64::try_from(*total).is_ok())
            .ok_or_else(|| {
                invalid_manifest(
                    "the entry sizes add up to more than 2^63 - 1 bytes; the manifest is corrupt",
                )
            })?;
    }
    let digest = digester.finish();
    if digest != expected_digest {
        return Err(invalid_manifest(format!(
            "the manifest hashes to `{digest}` but the version was created with digest `{expected_digest}`; create the version with the manifest's digest"
        )));
    }
    Ok(ingested)
}

/// Copies the spooled bytes, verbatim, into the version's `manifests` row, a piece at a time.
fn store_bytes(
    transaction: &Transaction<'_>,
    version_id: &str,
    spooled: &mut Spooled,
) -> Result<(), Error> {
    let length = i64::try_from(spooled.length)
        .map_err(|_| Error::internal("a manifest longer than 2^63 bytes"))?;
    // A delete and a plain insert: `bytes` is the table's last column, so SQLite writes the
    // zeroblob as pages of zeros without ever building it in memory.
    transaction.execute("DELETE FROM manifests WHERE version_id = ?1", [version_id])?;
    transaction.execute(
        &format!(
            "INSERT INTO manifests (version_id, uploaded_at, md5_hex, length, bytes) \
             VALUES (?1, {NOW}, ?2, ?3, zeroblob(?3))"
        ),
        params![version_id, spooled.md5_hex, length],
    )?;
    let rowid: i64 = transaction.query_row(
        "SELECT rowid FROM manifests WHERE version_id = ?1",
        [version_id],
        |row| row.get(0),
    )?;
    let mut blob = transaction.blob_open(MAIN_DB, "manifests", "bytes", rowid, false)?;
    spooled.file.rewind().map_err(spool_error)?;
    let copied = std::io::copy(&mut spooled.file, &mut blob).map_err(spool_error)?;
    if copied != spooled.length {
        return Err(Error::Unavailable(format!(
            "the spooled manifest shrank from {} to {copied} bytes",
            spooled.length
        )));
    }
    Ok(())
}

fn spool_error(error: std::io::Error) -> Error {
    Error::Unavailable(format!("reading the spooled manifest: {error}"))
}

/// Whether the version already holds exactly these manifest bytes.
pub(crate) fn holds(
    transaction: &Transaction<'_>,
    version_id: &str,
    spooled: &Spooled,
) -> Result<bool, Error> {
    let stored: Option<(Option<String>, Option<i64>)> = transaction
        .query_row(
            "SELECT md5_hex, length FROM manifests WHERE version_id = ?1",
            [version_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(stored
        == Some((
            Some(spooled.md5_hex.clone()),
            i64::try_from(spooled.length).ok(),
        )))
}

/// A stored manifest, found for a download.
#[derive(Debug, Clone)]
pub(crate) struct StoredManifest {
    rowid: i64,
    /// Its MD5 in hex (the ETag).
    pub(crate) md5_hex: String,
    /// Its length in bytes.
    pub(crate) length: u64,
}

/// The stored manifest of a version, if it has one. Manifests stored before their MD5 was
/// recorded get it computed here, a piece at a time.
pub(crate) fn find_stored(
    connection: &rusqlite::Connection,
    version_id: &str,
) -> Result<Option<StoredManifest>, Error> {
    let found: Option<(i64, Option<String>, i64)> = connection
        .query_row(
            "SELECT rowid, md5_hex, length FROM manifests WHERE version_id = ?1",
            [version_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((rowid, md5_hex, length)) = found else {
        return Ok(None);
    };
    let md5_hex = match md5_hex {
        Some(md5_hex) => md5_hex,
        None => {
            let mut blob = connection.blob_open(MAIN_DB, "manifests", "bytes", rowid, true)?;
            let mut hasher = Hasher::new(Algorithms::MD5);
            let mut piece = vec![0_u8; PIECE];
            loop {
                let read = blob.read(&mut piece).map_err(|error| {
                    Error::internal(format!("reading a stored manifest: {error}"))
                })?;
                if read == 0 {
                    break;
                }
                hasher.update(&piece[..read]);
            }
            hasher.finalize().md5.to_hex()
        }
    };
    Ok(Some(StoredManifest {
        rowid,
        md5_hex,
        length: u64::try_from(length).unwrap_or_default(),
    }))
}

/// A response body that streams the stored manifest out of its row, a piece at a time (the
/// reader's open blob handle keeps a consistent snapshot while it streams).
pub(crate) fn stream_stored(service: &Service, stored: &StoredManifest) -> ByteStream {
    let rowid = stored.rowid;
    crate::body::from_blocking(service.db(), move |connection, pieces| {
        let mut blob = connection.blob_open(MAIN_DB, "manifests", "bytes", rowid, true)?;
        match std::io::copy(&mut blob, pieces) {
            Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::internal(
                format!("reading a stored manifest: {error}"),
            )),
            _ => Ok(()),
        }
    })
}

/// The `PayloadTooLarge` refusal.
pub(crate) fn too_large(what: &str, limit: u64) -> Error {
    Error::refused(
        Kind::PayloadTooLarge,
        format!("{what} may be at most {limit} bytes"),
    )
}

/// At most `limit` entries of a version's manifest after path `after`, in path order.
pub(crate) fn list_entries(
    connection: &rusqlite::Connection,
    version_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<crate::model::FileEntry>, Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = connection.prepare_cached(
        "SELECT path, digest, md5_hex, size, ref, birth_artifact_id FROM entries \
         WHERE version_id = ?1 AND (?2 IS NULL OR path > ?2) ORDER BY path LIMIT ?3",
    )?;
    let rows = statement.query_map(params![version_id, after, limit], file_entry)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The entry of a version's manifest at `path`, if there is one.
pub(crate) fn find_entry(
    connection: &rusqlite::Connection,
    version_id: &str,
    path: &str,
) -> Result<Option<crate::model::FileEntry>, Error> {
    Ok(connection
        .prepare_cached(
            "SELECT path, digest, md5_hex, size, ref, birth_artifact_id FROM entries \
             WHERE version_id = ?1 AND path = ?2",
        )?
        .query_row(params![version_id, path], file_entry)
        .optional()?)
}

/// A [`crate::model::FileEntry`] from `path, digest, md5_hex, size, ref, birth_artifact_id`.
fn file_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<crate::model::FileEntry> {
    let md5_hex: Option<String> = row.get(2)?;
    Ok(crate::model::FileEntry {
        path: row.get(0)?,
        digest: row.get(1)?,
        md5: md5_hex.and_then(|hex: String| Md5Digest::from_hex(&hex).ok()),
        size: u64::try_from(row.get::<_, i64>(3)?).unwrap_or_default(),
        reference: row.get(4)?,
        birth_artifact_id: row.get(5)?,
    })
}

/// Adds one writer's part (a PATCH manifest) to a distributed PENDING version: its entries join
/// the version's (a path another writer gave other contents is a conflict naming both), the
/// bytes are kept for the merge at finish, and the version's totals follow.
pub(crate) fn ingest_patch(
    transaction: &Transaction<'_>,
    version_id: &str,
    spooled: &mut Spooled,
    writer: &str,
) -> Result<(), Error> {
    read_entries(transaction, version_id, spooled, Some(writer))?;
    let mut bytes = Vec::with_capacity(usize::try_from(spooled.length).unwrap_or(0));
    spooled.file.rewind().map_err(spool_error)?;
    spooled.file.read_to_end(&mut bytes).map_err(spool_error)?;
    transaction.execute(
        &format!(
            "INSERT INTO manifest_patches (version_id, seq, writer, uploaded_at, bytes) \
             VALUES (?1, (SELECT COALESCE(max(seq), 0) + 1 FROM manifest_patches WHERE version_id = ?1), \
             ?2, {NOW}, ?3)"
        ),
        params![version_id, writer, bytes],
    )?;
    transaction.execute(
        &format!(
            "UPDATE versions SET size = (SELECT COALESCE(sum(size), 0) FROM entries WHERE version_id = ?1), \
             file_count = (SELECT count(*) FROM entries WHERE version_id = ?1), updated_at = {NOW} \
             WHERE id = ?1"
        ),
        [version_id],
    )?;
    Ok(())
}

/// The parts uploaded for a distributed version, in order, with their writers.
pub(crate) fn patches(
    connection: &rusqlite::Connection,
    version_id: &str,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut statement = connection.prepare_cached(
        "SELECT writer, bytes FROM manifest_patches WHERE version_id = ?1 ORDER BY seq",
    )?;
    let rows = statement.query_map([version_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many parts were uploaded for a distributed version.
pub(crate) fn patch_count(
    connection: &rusqlite::Connection,
    version_id: &str,
) -> Result<usize, Error> {
    let count: i64 = connection.query_row(
        "SELECT count(*) FROM manifest_patches WHERE version_id = ?1",
        [version_id],
        |row| row.get(0),
    )?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

/// Sets a version's digest (a distributed version's, once its parts are merged).
pub(crate) fn set_digest(
    transaction: &Transaction<'_>,
    version_id: &str,
    digest: &Md5Digest,
) -> Result<(), Error> {
    transaction.execute(
        "UPDATE versions SET digest = ?2 WHERE id = ?1",
        params![version_id, digest.to_hex()],
    )?;
    Ok(())
}
