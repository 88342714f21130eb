//! Physical blob storage: content addressed by (MD5, size), small blobs packed into SQLite,
//! larger ones in a [`BlobStore`].
//!
//! * Small blobs (at most [`PACK_MAX_SIZE`]) live in `data_dir/packed.sqlite`, many per
//!   transaction: one file per small blob cannot keep up with thousands of files a second.
//! * Larger blobs arrive in a temporary file under `data_dir/tmp/` (hashed on the way), and only
//!   once verified move into the store under `aa/<md5hex>-<size>` (after an optional prefix).
//!   On local disk that is an `fsync` and a rename; on an object store a create-only put that
//!   streams from the file, where "already exists" counts as success.
//!
//! Whether a blob is physically present is recorded in the metadata table `blobs`, written only
//! after the data is durable, so the metadata never points at missing data.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use cairn_storage::{BlobKey, BlobStore, ByteStream, GetRange, PutMode};
use futures_util::{StreamExt as _, TryStreamExt as _};
use rusqlite::{OptionalExtension as _, params};

use crate::db::Db;
use crate::error::{Error, error_chain};

/// Blobs up to this size are packed into `packed.sqlite` instead of stored one file each
/// (the native API's batch limit, `cairn_api::SMALL_BLOB_MAX_SIZE`, is the same number).
pub const PACK_MAX_SIZE: u64 = 64 * 1024;

/// Blobs up to this size may arrive, and be read, many per request: held whole in memory and
/// hashed several at once. The native API's `cairn_api::BATCH_BLOB_MAX_SIZE` is the same number.
pub const BATCH_BLOB_MAX_SIZE: u64 = 1024 * 1024;

/// Blobs over [`PACK_MAX_SIZE`] of one batch stored, or read, at once: their `fsync`s and reads
/// overlap.
const BATCH_CONCURRENCY: usize = 4;

/// Read size when streaming a temporary file into an object store.
const READ_CHUNK: usize = 1024 * 1024;

/// Where blobs physically live.
#[derive(Debug, Clone)]
pub(crate) struct Blobs {
    store: BlobStore,
    /// `Some(root)` when the store is the local directory `root`: blobs are renamed into it.
    local_root: Option<PathBuf>,
    prefix: Option<String>,
    packed: Arc<Db>,
    tmp: PathBuf,
    /// `local`, `s3`, `gs` or `azure`.
    kind: &'static str,
}

impl Blobs {
    pub(crate) fn new(
        store: BlobStore,
        local_root: Option<PathBuf>,
        prefix: Option<String>,
        packed: Arc<Db>,
        tmp: PathBuf,
        kind: &'static str,
    ) -> Self {
        Self {
            store,
            local_root,
            prefix,
            packed,
            tmp,
            kind,
        }
    }

    /// `local`, `s3`, `gs` or `azure`, for the server's description.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    /// Whether a blob of this size is packed.
    pub(crate) fn is_small(size: u64) -> bool {
        size <= PACK_MAX_SIZE
    }

    fn relative_key(md5_hex: &str, size: u64) -> String {
        format!("{}/{md5_hex}-{size}", &md5_hex[..2])
    }

    fn key(&self, md5_hex: &str, size: u64) -> Result<BlobKey, Error> {
        let relative = Self::relative_key(md5_hex, size);
        let key = match &self.prefix {
            Some(prefix) => format!("{prefix}/{relative}"),
            None => relative,
        };
        BlobKey::new(key).map_err(|error| Error::internal(error_chain(&error)))
    }

    /// A new temporary file for an upload; removed when dropped unless stored.
    pub(crate) fn temp_file(&self) -> Result<TempFile, Error> {
        let name = crate::access::random_hex(12)
            .map_err(|error| Error::internal(format!("no randomness: {error}")))?;
        let path = self.tmp.join(format!("upload-{name}"));
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|error| {
                Error::Unavailable(format!("cannot create `{}`: {error}", path.display()))
            })?;
        Ok(TempFile::new(path, file))
    }

    /// Moves a verified temporary file into the store under (MD5, size).
    async fn store_file(&self, md5_hex: &str, size: u64, mut temp: TempFile) -> Result<(), Error> {
        let key = self.key(md5_hex, size)?;
        let file = temp.finish_writing().await?;
        if let Some(root) = &self.local_root {
            let target = root.join(key.as_str());
            let source = temp.path.clone();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                file.sync_all()?;
                drop(file);
                if let Some(parent) = target.parent() {
                    fs_err::create_dir_all(parent)?;
                }
                // The same key always holds the same bytes, so replacing is harmless.
                fs_err::rename(&source, &target)?;
                if let Some(parent) = target.parent() {
                    fs_err::File::open(parent)?.sync_all()?;
                }
                Ok(())
            })
            .await
            .map_err(crate::error::join_error)?
            .map_err(|error| Error::Unavailable(format!("storing `{key}`: {error}")))?;
            temp.disarm();
            return Ok(());
        }
        let reader = tokio::fs::File::from_std(file.into_parts().0);
        let stream = futures_util::stream::unfold(reader, |mut reader| async move {
            use tokio::io::AsyncReadExt as _;
            let mut buffer = vec![0_u8; READ_CHUNK];
            match reader.read(&mut buffer).await {
                Ok(0) => None,
                Ok(read) => {
                    buffer.truncate(read);
                    Some((Ok(Bytes::from(buffer)), reader))
                }
                Err(error) => Some((Err(error), reader)),
            }
        })
        .boxed();
        match self.store.put(&key, stream, PutMode::Create).await {
            Ok(_) | Err(cairn_storage::Error::AlreadyExists { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Stores verified small blobs in one transaction; blobs already packed are kept.
    pub(crate) async fn store_packed(&self, blobs: Vec<(String, u64, Bytes)>) -> Result<(), Error> {
        if blobs.is_empty() {
            return Ok(());
        }
        self.packed
            .write(move |transaction| {
                let mut statement = transaction.prepare_cached(
                    "INSERT OR IGNORE INTO packed_blobs (md5_hex, size, data) VALUES (?1, ?2, ?3)",
                )?;
                for (md5_hex, size, data) in &blobs {
                    statement.execute(params![md5_hex, *size as i64, data.as_ref()])?;
                }
                Ok(())
            })
            .await
    }

    /// Stores verified blobs received whole in memory (a batch's frames): the small ones packed
    /// in one transaction, each larger one through a temporary file moved into the store, as a
    /// streamed blob is.
    pub(crate) async fn store_many(&self, blobs: Vec<(String, u64, Bytes)>) -> Result<(), Error> {
        let (small, larger): (Vec<_>, Vec<_>) = blobs
            .into_iter()
            .partition(|(_, size, _)| Self::is_small(*size));
        self.store_packed(small).await?;
        futures_util::stream::iter(larger)
            .map(|(md5_hex, size, data)| async move {
                let mut temp = self.temp_file()?;
                temp.write(data).await?;
                self.store_file(&md5_hex, size, temp).await
            })
            .buffer_unordered(BATCH_CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    /// Several blobs (MD5 hex, size) whole, in order: packed ones read on one connection, the
    /// others from the store. For blobs of at most [`BATCH_BLOB_MAX_SIZE`] bytes.
    pub(crate) async fn read_many(&self, blobs: Vec<(String, u64)>) -> Result<Vec<Bytes>, Error> {
        let (small, larger): (Vec<_>, Vec<_>) = blobs
            .iter()
            .cloned()
            .enumerate()
            .partition(|(_, (_, size))| Self::is_small(*size));
        let mut packed = self
            .read_packed_many(small.into_iter().map(|(_, blob)| blob).collect())
            .await?
            .into_iter();
        let stored: Vec<(usize, Bytes)> = futures_util::stream::iter(larger)
            .map(|(index, (md5_hex, size))| async move {
                let mut stream = self.read_stored(&md5_hex, size, None).await?;
                let mut whole =
                    bytes::BytesMut::with_capacity(usize::try_from(size).unwrap_or_default());
                while let Some(chunk) = stream.next().await {
                    whole.extend_from_slice(&chunk?);
                }
                if whole.len() as u64 != size {
                    return Err(Error::internal(format!(
                        "stored blob `{md5_hex}` holds {} bytes where {size} were recorded",
                        whole.len()
                    )));
                }
                Ok::<_, Error>((index, whole.freeze()))
            })
            .buffered(BATCH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut stored = stored.into_iter().peekable();
        let mut all = Vec::with_capacity(blobs.len());
        for index in 0..blobs.len() {
            match stored.next_if(|(at, _)| *at == index) {
                Some((_, data)) => all.push(data),
                None => all.push(packed.next().ok_or_else(|| {
                    Error::internal("fewer packed blobs read than were asked for")
                })?),
            }
        }
        Ok(all)
    }

    /// A packed blob's bytes.
    async fn read_packed(&self, md5_hex: &str, size: u64) -> Result<Bytes, Error> {
        let md5_hex = md5_hex.to_owned();
        let data: Option<Vec<u8>> = self
            .packed
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(
                        "SELECT data FROM packed_blobs WHERE md5_hex = ?1 AND size = ?2",
                    )?
                    .query_row(params![md5_hex, size as i64], |row| row.get(0))
                    .optional()?)
            })
            .await?;
        data.map(Bytes::from).ok_or_else(|| {
            Error::internal("a packed blob recorded in the metadata is missing from packed.sqlite")
        })
    }

    /// Several packed blobs (MD5 hex, size), in order, read on one connection.
    pub(crate) async fn read_packed_many(
        &self,
        blobs: Vec<(String, u64)>,
    ) -> Result<Vec<Bytes>, Error> {
        let data: Vec<Option<Vec<u8>>> = self
            .packed
            .read(move |connection| {
                let mut statement = connection.prepare_cached(
                    "SELECT data FROM packed_blobs WHERE md5_hex = ?1 AND size = ?2",
                )?;
                let mut found = Vec::with_capacity(blobs.len());
                for (md5_hex, size) in &blobs {
                    found.push(
                        statement
                            .query_row(params![md5_hex, *size as i64], |row| row.get(0))
                            .optional()?,
                    );
                }
                Ok(found)
            })
            .await?;
        data.into_iter()
            .map(|data| {
                data.map(Bytes::from).ok_or_else(|| {
                    Error::internal(
                        "a packed blob recorded in the metadata is missing from packed.sqlite",
                    )
                })
            })
            .collect()
    }

    /// Streams a stored (not packed) blob or a range of it.
    async fn read_stored(
        &self,
        md5_hex: &str,
        size: u64,
        range: Option<GetRange>,
    ) -> Result<ByteStream, Error> {
        let key = self.key(md5_hex, size)?;
        let (_, stream) = self.store.get(&key, range).await?;
        Ok(stream)
    }

    /// Where a stored blob of `size` bytes lives, as the `blobs` table records it.
    pub(crate) fn location(size: u64) -> &'static str {
        if Self::is_small(size) {
            "packed"
        } else {
            "store"
        }
    }

    /// Where a blob of `size` bytes collects while it is received: memory for a blob that will
    /// be packed, a temporary file otherwise. The packing policy lives here and nowhere else.
    pub(crate) fn incoming(&self, size: u64) -> Result<Incoming, Error> {
        Ok(if Self::is_small(size) {
            Incoming::Memory(bytes::BytesMut::new())
        } else {
            Incoming::File(self.temp_file()?)
        })
    }

    /// Stores a received blob, verified by the caller, under (MD5, size).
    pub(crate) async fn store(
        &self,
        md5_hex: &str,
        size: u64,
        incoming: Incoming,
    ) -> Result<(), Error> {
        match incoming {
            Incoming::File(temp) => self.store_file(md5_hex, size, temp).await,
            Incoming::Memory(memory) => {
                self.store_packed(vec![(md5_hex.to_owned(), size, memory.freeze())])
                    .await
            }
        }
    }

    /// Bytes `range` of a stored blob (the whole blob when `None`), from wherever the packing
    /// policy put it.
    pub(crate) async fn read(
        &self,
        md5_hex: &str,
        size: u64,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<crate::logging::BlobBytes, Error> {
        use futures_util::StreamExt as _;
        if Self::is_small(size) {
            let bytes = self.read_packed(md5_hex, size).await?;
            let (start, end) = range.map_or((0, bytes.len()), |range| {
                let clamp = |at: u64| usize::try_from(at).unwrap_or(usize::MAX).min(bytes.len());
                (clamp(range.start), clamp(range.end))
            });
            Ok(crate::logging::BlobBytes::Whole(
                bytes.slice(start..end.max(start)),
            ))
        } else {
            let range = range.map(GetRange::Bounded);
            Ok(crate::logging::BlobBytes::Stream(
                self.read_stored(md5_hex, size, range)
                    .await?
                    .map(|chunk| chunk.map_err(std::io::Error::other))
                    .boxed(),
            ))
        }
    }

    /// Deletes blobs (MD5 hex, size) from `packed.sqlite` in one transaction; missing ones
    /// are fine, so this may be repeated.
    pub(crate) async fn delete_packed(&self, blobs: Vec<(String, u64)>) -> Result<(), Error> {
        if blobs.is_empty() {
            return Ok(());
        }
        self.packed
            .write(move |transaction| {
                let mut statement = transaction
                    .prepare_cached("DELETE FROM packed_blobs WHERE md5_hex = ?1 AND size = ?2")?;
                for (md5_hex, size) in &blobs {
                    statement
                        .execute(params![md5_hex, i64::try_from(*size).unwrap_or(i64::MAX)])?;
                }
                Ok(())
            })
            .await
    }

    /// At most `limit` packed blobs (MD5 hex, size) after `after`, in key order.
    pub(crate) async fn packed_after(
        &self,
        after: Option<(String, u64)>,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, Error> {
        let (md5_hex, size) = after.map_or((String::new(), -1), |(md5_hex, size)| {
            (md5_hex, i64::try_from(size).unwrap_or(i64::MAX))
        });
        self.packed
            .read(move |connection| {
                let mut statement = connection.prepare_cached(
                    "SELECT md5_hex, size FROM packed_blobs WHERE (md5_hex, size) > (?1, ?2) \
                     ORDER BY md5_hex, size LIMIT ?3",
                )?;
                let rows = statement.query_map(
                    params![md5_hex, size, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
                        ))
                    },
                )?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    /// Deletes a stored (not packed) blob; a missing one is fine, so this may be repeated.
    pub(crate) async fn delete_stored(&self, md5_hex: &str, size: u64) -> Result<(), Error> {
        let key = self.key(md5_hex, size)?;
        self.store.delete(&key).await?;
        Ok(())
    }

    /// Every blob in the store, as (MD5 hex, size, last written), in no particular order.
    /// Keys that are not blobs of this server (another name, another prefix) are left out.
    pub(crate) fn list_stored(
        &self,
    ) -> futures_util::stream::BoxStream<'static, Result<(String, u64, std::time::SystemTime), Error>>
    {
        let prefix = match &self.prefix {
            Some(prefix) => match BlobKey::new(prefix.clone()) {
                Ok(key) => Some(key),
                Err(error) => {
                    let error = Error::internal(error_chain(&error));
                    return futures_util::stream::once(async move { Err(error) }).boxed();
                }
            },
            None => None,
        };
        let strip = self.prefix.as_ref().map(|prefix| format!("{prefix}/"));
        self.store
            .list(prefix.as_ref())
            .filter_map(move |item| {
                let parsed = match item {
                    Ok(meta) => {
                        let relative = match &strip {
                            Some(strip) => meta.key.strip_prefix(strip.as_str()),
                            None => Some(meta.key.as_str()),
                        };
                        relative
                            .and_then(parse_relative_key)
                            .map(|(md5_hex, size)| Ok((md5_hex, size, meta.last_modified)))
                    }
                    Err(error) => Some(Err(Error::from(error))),
                };
                futures_util::future::ready(parsed)
            })
            .boxed()
    }

    /// Folds the packed database's log into its file (on shutdown).
    pub(crate) async fn checkpoint(&self) -> Result<(), Error> {
        self.packed.checkpoint().await
    }
}

/// The (MD5 hex, size) of a store key relative to the prefix, `aa/<md5hex>-<size>` with `aa`
/// the MD5's first two digits; `None` for anything else.
fn parse_relative_key(relative: &str) -> Option<(String, u64)> {
    let (directory, name) = relative.split_once('/')?;
    let (md5_hex, size) = name.split_once('-')?;
    let valid = md5_hex.len() == 32
        && md5_hex
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
        && md5_hex.get(..2) == Some(directory)
        && !size.is_empty()
        && size.bytes().all(|byte| byte.is_ascii_digit());
    if !valid {
        return None;
    }
    Some((md5_hex.to_owned(), size.parse().ok()?))
}

/// A blob being received ([`Blobs::incoming`]).
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A blob that will be packed, collected in memory (at most [`PACK_MAX_SIZE`] bytes).
    Memory(bytes::BytesMut),
    /// A larger blob, written to a temporary file.
    File(TempFile),
}

impl Incoming {
    /// Appends a chunk.
    pub(crate) async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        match self {
            Self::Memory(memory) => {
                memory.extend_from_slice(&chunk);
                Ok(())
            }
            Self::File(temp) => temp.write(chunk).await,
        }
    }
}

/// Removes what an interrupted upload left in `tmp`.
pub(crate) fn clean_tmp(tmp: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in fs_err::read_dir(tmp)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs_err::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A temporary upload file, deleted on drop unless it was moved into the store.
///
/// Writes are buffered a MiB at a time, and a full buffer is written on a blocking thread while
/// the next one fills: the upload's hashing (on the runtime) and the file write overlap instead
/// of taking turns. At most one write is in flight, so no thread is held while the upload waits
/// on the network.
#[derive(Debug)]
pub(crate) struct TempFile {
    path: PathBuf,
    /// Bytes handed to writes so far.
    written: u64,
    /// Bytes whose write-back to disk was started (see [`WRITEBACK_STEP`]).
    written_back: u64,
    /// The buffer being filled.
    filling: Vec<u8>,
    /// The file, unless a write has it.
    file: Option<fs_err::File>,
    /// The write in flight.
    writing: Option<InFlight>,
}

/// A buffer being written on a blocking thread; it hands back the file and the buffer, emptied,
/// for reuse.
type InFlight = tokio::task::JoinHandle<std::io::Result<(fs_err::File, Vec<u8>)>>;

impl TempFile {
    fn new(path: PathBuf, file: fs_err::File) -> Self {
        Self {
            path,
            written: 0,
            written_back: 0,
            filling: Vec::with_capacity(READ_CHUNK),
            file: Some(file),
            writing: None,
        }
    }

    /// Appends a chunk.
    pub(crate) async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        self.filling.extend_from_slice(&chunk);
        if self.filling.len() >= READ_CHUNK {
            self.write_filled().await?;
        }
        Ok(())
    }

    /// Waits for the write in flight, then starts writing the filled buffer, and the write-back
    /// of every [`WRITEBACK_STEP`] bytes written.
    async fn write_filled(&mut self) -> Result<(), Error> {
        let (mut file, spare) = self.settle().await?;
        let mut full = std::mem::replace(&mut self.filling, spare);
        self.written += full.len() as u64;
        let write_back = (self.written - self.written_back >= WRITEBACK_STEP).then(|| {
            let range = (self.written_back, self.written - self.written_back);
            self.written_back = self.written;
            range
        });
        self.writing = Some(tokio::task::spawn_blocking(move || {
            file.write_all(&full)?;
            if let Some((offset, length)) = write_back {
                start_write_back(&file, offset, length);
            }
            full.clear();
            Ok((file, full))
        }));
        Ok(())
    }

    /// The file once no write is in flight, and an empty buffer.
    async fn settle(&mut self) -> Result<(fs_err::File, Vec<u8>), Error> {
        let written = match self.writing.take() {
            Some(write) => Some(
                write
                    .await
                    .map_err(crate::error::join_error)?
                    .map_err(|error| self.write_error(&error))?,
            ),
            None => None,
        };
        match (written, self.file.take()) {
            (Some((file, buffer)), _) => Ok((file, buffer)),
            (None, Some(file)) => Ok((file, Vec::with_capacity(READ_CHUNK))),
            (None, None) => Err(Error::internal("the temporary file was already closed")),
        }
    }

    fn write_error(&self, error: &std::io::Error) -> Error {
        Error::Unavailable(format!("writing `{}`: {error}", self.path.display()))
    }

    /// Writes what is buffered and returns the file, rewound to its start.
    pub(crate) async fn finish_writing(&mut self) -> Result<fs_err::File, Error> {
        let (file, _) = self.settle().await?;
        let rest = std::mem::take(&mut self.filling);
        tokio::task::spawn_blocking(move || {
            let mut file = file;
            file.write_all(&rest)?;
            std::io::Seek::rewind(&mut file)?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(crate::error::join_error)?
        .map_err(|error| self.write_error(&error))
    }

    fn disarm(&mut self) {
        self.path = PathBuf::new();
    }
}

/// Bytes of a temporary file written between two starts of their write-back to disk.
///
/// Left to itself, the kernel writes a file back once gigabytes are dirty (or after 30 s), so
/// the `fsync` before a large blob is stored used to wait for all of it: 0.95 s of a 7.5 s put
/// of one 2 GiB file with the data directory on ext4. Started every 32 MiB, the disk writes
/// while the rest arrives and is hashed, and the `fsync` finds little left to do.
const WRITEBACK_STEP: u64 = 32 * 1024 * 1024;

/// Starts writing `length` bytes of `file` from `offset` back to disk, without waiting.
///
/// `POSIX_FADV_DONTNEED` starts the write-back of the range's dirty pages (Linux's
/// `WB_SYNC_NONE`) and drops only pages that are already clean, so the bytes just written stay
/// cached while they go to disk. Advice that fails changes nothing but timing: the `fsync`
/// before the blob is stored still writes everything.
#[cfg(target_os = "linux")]
fn start_write_back(file: &fs_err::File, offset: u64, length: u64) {
    let _ = rustix::fs::fadvise(
        file.file(),
        offset,
        std::num::NonZeroU64::new(length),
        rustix::fs::Advice::DontNeed,
    );
}

#[cfg(not(target_os = "linux"))]
fn start_write_back(_file: &fs_err::File, _offset: u64, _length: u64) {}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file = None;
        if !self.path.as_os_str().is_empty() {
            let _ = fs_err::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file larger than a few write-back steps, written in uneven chunks, reads back
    /// byte for byte: starting the write-back early changes when bytes reach the disk, not
    /// which.
    #[tokio::test]
    async fn a_large_temporary_file_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload");
        let file = fs_err::File::create_new(&path).unwrap();
        let mut temp = TempFile::new(path.clone(), file);
        let total = 2 * WRITEBACK_STEP as usize + 777_777;
        let expected: Vec<u8> = (0..total).map(|index| (index % 251) as u8).collect();
        for chunk in expected.chunks(300_001) {
            temp.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        let mut file = temp.finish_writing().await.unwrap();
        // The write-back was started at least once, never past what was written.
        assert!(temp.written_back >= WRITEBACK_STEP, "{}", temp.written_back);
        assert!(temp.written_back <= temp.written);
        let mut read = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut read).unwrap();
        assert!(read == expected, "the bytes read back differ");
    }

    /// A full disk fails the upload in words, whichever write meets it: one while the next
    /// buffer fills, or the last one.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_full_disk_fails_the_upload_in_words() {
        for megabytes in [0_usize, 3] {
            let full = fs_err::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            let mut temp = TempFile::new(PathBuf::new(), full);
            let chunk = Bytes::from(vec![7_u8; 256 * 1024]);
            let mut failed = None;
            for _ in 0..(megabytes * 4 + 1) {
                if let Err(error) = temp.write(chunk.clone()).await {
                    failed = Some(error);
                    break;
                }
            }
            let error = match failed {
                Some(error) => error,
                None => temp.finish_writing().await.unwrap_err(),
            };
            assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
            assert!(error.to_string().contains("No space left"), "{error}");
        }
    }

    #[tokio::test]
    async fn buffered_writes_keep_every_byte_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload");
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let mut temp = TempFile::new(path.clone(), file);
        let mut expected = Vec::new();
        // Chunks of odd sizes across several buffer boundaries.
        for index in 0..40_u32 {
            let chunk: Vec<u8> = (0..(index * 7919 % 300_000))
                .map(|at| (at ^ index) as u8)
                .collect();
            expected.extend_from_slice(&chunk);
            temp.write(Bytes::from(chunk)).await.unwrap();
        }
        let mut file = temp.finish_writing().await.unwrap();
        let mut written = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut written).unwrap();
        assert_eq!(written.len(), expected.len());
        assert!(written == expected);
        drop(temp);
        assert!(!path.exists(), "an unstored temporary file is removed");
    }

    #[test]
    fn only_blob_keys_parse() {
        let md5 = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_relative_key(&format!("01/{md5}-70000")),
            Some((md5.to_owned(), 70_000))
        );
        for other in [
            format!("02/{md5}-70000"),
            format!("01/{md5}-"),
            format!("01/{md5}-7x"),
            format!("01/{md5}"),
            format!("{md5}-70000"),
            "01/0123-5".to_owned(),
            format!("01/{}-5", md5.to_uppercase()),
            format!("01/x/{md5}-5"),
        ] {
            assert_eq!(parse_relative_key(&other), None, "{other}");
        }
    }
}
