//! The server's blob store: keyed, immutable-by-convention objects on a local directory or an
//! object store.
//!
//! It wraps an [`ObjectStore`] so that every backend behaves the same way behind one small API:
//!
//! * **put** streams its data. Up to [`SINGLE_PUT_LIMIT`] bytes go up in one atomic request, so
//!   [`PutMode::Create`] is decided by the store itself. Larger data goes up as a multipart
//!   upload, which becomes visible only when completed and is aborted if the source stream
//!   fails, so a truncated upload never leaves a partial blob. object_store cannot make a
//!   multipart upload conditional, so for those `Create` checks first and then writes; that is
//!   safe for content-addressed keys (whoever wins wrote the same bytes), which is what the
//!   server uses.
//! * **get** streams the whole blob or a range; **head** and **list** report size, ETag and
//!   version; **delete** is idempotent.
//!
//! Keys are [`BlobKey`]s: `/`-separated segments of `A-Z a-z 0-9 . _ -`, never `.` or `..`,
//! so no key can escape the store's root on a filesystem.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt as _, TryStreamExt as _};
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt as _, PutPayload, WriteMultipart};

use crate::store_error::Subject;
use crate::{ByteStream, Error, Result};

/// Data up to this size is written with one atomic request; larger data is a multipart upload.
pub const SINGLE_PUT_LIMIT: usize = 16 * 1024 * 1024;

/// Part size of multipart uploads (S3 requires at least 5 MiB per part).
const PART_SIZE: usize = 16 * 1024 * 1024;

/// Parts uploaded at the same time by one multipart upload.
const PART_CONCURRENCY: usize = 4;

/// A validated blob key.
///
/// ```
/// use cairn_storage::BlobKey;
///
/// assert!(BlobKey::new("md5/5d/41402abc4b2a76b9719d911017c592").is_ok());
/// assert!(BlobKey::new("../etc/passwd").is_err());
/// assert!(BlobKey::new("a//b").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// Checks `key`: non-empty `/`-separated segments of ASCII letters, digits, `.`, `_` and
    /// `-`, none of them `.` or `..`, at most 1024 bytes.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        let invalid = |reason: &str| Error::InvalidKey {
            key: key.clone(),
            reason: reason.to_owned(),
        };
        if key.is_empty() {
            return Err(invalid("it is empty"));
        }
        if key.len() > 1024 {
            return Err(invalid("it is longer than 1024 bytes"));
        }
        for segment in key.split('/') {
            if segment.is_empty() {
                return Err(invalid("it has an empty segment (`//`, or `/` at an end)"));
            }
            if segment == "." || segment == ".." {
                return Err(invalid("`.` and `..` segments are not allowed"));
            }
            if !segment
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte))
            {
                return Err(invalid(
                    "only ASCII letters, digits, `.`, `_`, `-` and `/` are allowed",
                ));
            }
        }
        Ok(Self(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn to_store_path(&self) -> StorePath {
        // Every segment is already in object_store's safe set, so this is the identity.
        StorePath::from_iter(self.0.split('/'))
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What [`BlobStore::put`] does when the key already holds a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PutMode {
    /// Replace it.
    #[default]
    Overwrite,
    /// Fail with [`Error::AlreadyExists`] and leave it alone.
    Create,
}

/// Part of a blob to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetRange {
    /// Bytes `start..end` (end exclusive; clamped to the blob's size).
    Bounded(std::ops::Range<u64>),
    /// Everything from this offset on.
    From(u64),
    /// The last this many bytes.
    Suffix(u64),
}

/// What the store says about a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, if the store has them.
    pub etag: Option<String>,
    /// Its version id, if the store versions objects.
    pub version: Option<String>,
    /// When it was last written.
    pub last_modified: SystemTime,
}

impl BlobMeta {
    fn from_store(meta: ObjectMeta) -> Self {
        Self {
            key: meta.location.to_string(),
            size: meta.size,
            etag: meta.e_tag,
            version: meta.version,
            last_modified: meta.last_modified.into(),
        }
    }
}

/// Blobs on a local directory or an object store.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    backend: &'static str,
    description: String,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The description never holds credentials; the store itself is not shown because some
        // object_store configurations print theirs.
        f.debug_struct("BlobStore")
            .field("backend", &self.backend)
            .field("location", &self.description)
            .finish()
    }
}

impl fmt::Display for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} blob store at {}", self.backend, self.description)
    }
}

impl BlobStore {
    /// Blobs as files under `root`, which is created if missing. Writes go to a temporary
    /// file and are renamed into place, so readers never see partial blobs.
    pub fn local(root: &Path) -> Result<Self> {
        fs_err::create_dir_all(root).map_err(Error::io("create the blob directory", root))?;
        let store =
            object_store::local::LocalFileSystem::new_with_prefix(root).map_err(|error| {
                Error::Backend {
                    backend: "file",
                    uri: root.display().to_string(),
                    source: Box::new(error),
                }
            })?;
        Ok(Self {
            store: Arc::new(store.with_automatic_cleanup(true)),
            backend: "file",
            description: root.display().to_string(),
        })
    }

    /// Blobs in any object_store backend. `backend` names it in messages and `description`
    /// says where it is (a bucket URL; never credentials).
    pub fn from_object_store(
        store: Arc<dyn ObjectStore>,
        backend: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            store,
            backend,
            description: description.into(),
        }
    }

    /// The backend's name: `file`, `s3`, `gs` or `azure`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    fn subject<'a>(&self, key: &'a str) -> Subject<'a> {
        Subject {
            backend: self.backend,
            shown: key,
            version: None,
            credentials_hint: "check the blob store's credentials in the server configuration",
        }
    }

    /// Stores the bytes of `data` under `key`; see the module docs for atomicity. A failing
    /// `data` stream stores nothing and returns [`Error::Source`].
    pub async fn put<S>(&self, key: &BlobKey, data: S, mode: PutMode) -> Result<BlobMeta>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let mut data = data;
        let subject = self.subject(key.as_str());
        let source_error = |source| Error::Source {
            key: key.to_string(),
            source,
        };
        let mut head = Vec::new();
        let mut buffered = 0;
        while buffered <= SINGLE_PUT_LIMIT {
            match data.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(source_error)?;
                    buffered += chunk.len();
                    head.push(chunk);
                }
                None => {
                    let payload: PutPayload = head.into_iter().collect();
                    let options = object_store::PutOptions::from(match mode {
                        PutMode::Overwrite => object_store::PutMode::Overwrite,
                        PutMode::Create => object_store::PutMode::Create,
                    });
                    let path = key.to_store_path();
                    let result = self
                        .store
                        .put_opts(&path, payload, options)
                        .await
                        .map_err(|error| subject.map(error))?;
                    return Ok(self.put_meta(key, buffered as u64, result));
                }
            }
        }
        if mode == PutMode::Create && self.exists(key).await? {
            return Err(Error::AlreadyExists {
                key: key.to_string(),
            });
        }
        let path = key.to_store_path();
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|error| subject.map(error))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut size = 0u64;
        for chunk in head {
            size += chunk.len() as u64;
            writer.put(chunk);
        }
        loop {
            if let Err(error) = writer.wait_for_capacity(PART_CONCURRENCY).await {
                let _ = writer.abort().await;
                return Err(subject.map(error));
            }
            match data.next().await {
                Some(Ok(chunk)) => {
                    size += chunk.len() as u64;
                    writer.put(chunk);
                }
                Some(Err(error)) => {
                    // Aborting discards the uploaded parts; nothing becomes visible.
                    let _ = writer.abort().await;
                    return Err(source_error(error));
                }
                None => break,
            }
        }
        let result = writer.finish().await.map_err(|error| subject.map(error))?;
        Ok(self.put_meta(key, size, result))
    }

    fn put_meta(&self, key: &BlobKey, size: u64, result: object_store::PutResult) -> BlobMeta {
        BlobMeta {
            key: key.to_string(),
            size,
            etag: result.e_tag,
            version: result.version,
            last_modified: SystemTime::now(),
        }
    }

    /// Streams the blob (or `range` of it) with its metadata.
    pub async fn get(
        &self,
        key: &BlobKey,
        range: Option<GetRange>,
    ) -> Result<(BlobMeta, ByteStream)> {
        let subject = self.subject(key.as_str());
        // Azure has no suffix ranges: turn one into a bounded range from the blob's size.
        let range = match range {
            Some(GetRange::Suffix(length)) if self.backend == "azure" => {
                let size = self.head(key).await?.size;
                Some(GetRange::Bounded(size.saturating_sub(length)..size))
            }
            other => other,
        };
        let options = object_store::GetOptions {
            range: range.map(|range| match range {
                GetRange::Bounded(range) => object_store::GetRange::Bounded(range),
                GetRange::From(offset) => object_store::GetRange::Offset(offset),
                GetRange::Suffix(length) => object_store::GetRange::Suffix(length),
            }),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&key.to_store_path(), options)
            .await
            .map_err(|error| subject.map(error))?;
        let object_store::GetResult {
            payload,
            meta,
            range,
            ..
        } = result;
        let meta = BlobMeta::from_store(meta);
        let shown = key.to_string();
        let backend = self.backend;
        let stream = match payload {
            // A local file: read it on one blocking task in large chunks. `object_store` would
            // read 8 KiB per blocking task, and the thread hand-offs were most of the server's
            // time serving 512 KiB blobs.
            object_store::GetResultPayload::File(file, path) => {
                local_file_stream(file, path, range)
            }
            object_store::GetResultPayload::Stream(stream) => stream
                .map_err(move |error| {
                    Subject {
                        backend,
                        shown: &shown,
                        version: None,
                        credentials_hint: "",
                    }
                    .map(error)
                })
                .boxed(),
        };
        Ok((meta, stream))
    }

    /// The blob's metadata, or [`Error::NotFound`].
    pub async fn head(&self, key: &BlobKey) -> Result<BlobMeta> {
        self.store
            .head(&key.to_store_path())
            .await
            .map(BlobMeta::from_store)
            .map_err(|error| self.subject(key.as_str()).map(error))
    }

    /// Whether the blob exists.
    pub async fn exists(&self, key: &BlobKey) -> Result<bool> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Deletes the blob. Deleting a missing blob succeeds, so retries are safe.
    pub async fn delete(&self, key: &BlobKey) -> Result<()> {
        match self.store.delete(&key.to_store_path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(self.subject(key.as_str()).map(error)),
        }
    }

    /// Streams the metadata of every blob whose key starts with the segments of `prefix` (all
    /// blobs when `None`), in no particular order.
    pub fn list(&self, prefix: Option<&BlobKey>) -> BoxStream<'static, Result<BlobMeta>> {
        let path = prefix.map(BlobKey::to_store_path);
        let shown = prefix.map_or_else(String::new, ToString::to_string);
        let backend = self.backend;
        self.store
            .list(path.as_ref())
            .map(move |item| {
                item.map(BlobMeta::from_store).map_err(|error| {
                    Subject {
                        backend,
                        shown: &shown,
                        version: None,
                        credentials_hint: "check the blob store's credentials in the server configuration",
                    }
                    .map(error)
                })
            })
            .boxed()
    }
}

/// Bytes read per chunk when streaming a blob from a local file.
const LOCAL_CHUNK: usize = 1024 * 1024;

/// Streams `range` of a local blob file, read on one blocking task in [`LOCAL_CHUNK`]s, at most
/// a few chunks ahead of the reader (so memory stays bounded whatever the blob's size).
fn local_file_stream(
    file: std::fs::File,
    path: std::path::PathBuf,
    range: std::ops::Range<u64>,
) -> ByteStream {
    use std::io::{Read as _, Seek as _};
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut file = fs_err::File::from_parts(file, &path);
        if let Err(error) = file.seek(std::io::SeekFrom::Start(range.start)) {
            let _ = sender.blocking_send(Err(Error::io("seek in", &path)(error)));
            return;
        }
        let mut remaining = range.end.saturating_sub(range.start);
        while remaining > 0 {
            let want = usize::try_from(remaining).map_or(LOCAL_CHUNK, |left| left.min(LOCAL_CHUNK));
            let mut buffer = vec![0; want];
            match file.read(&mut buffer) {
                Ok(0) => {
                    let _ =
                        sender.blocking_send(Err(Error::io("read", &path)(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("the blob file ended {remaining} bytes early"),
                        ))));
                    return;
                }
                Ok(read) => {
                    buffer.truncate(read);
                    remaining -= read as u64;
                    if sender.blocking_send(Ok(Bytes::from(buffer))).is_err() {
                        return;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    let _ = sender.blocking_send(Err(Error::io("read", &path)(error)));
                    return;
                }
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn keys() {
        for good in ["a", "md5/ab/cdef", "x-y_z.0/1"] {
            assert_eq!(BlobKey::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/./b", "a b", "a\\b", "é", "a\nb",
        ] {
            assert!(BlobKey::new(bad).is_err(), "{bad:?}");
        }
        assert!(BlobKey::new("a".repeat(1025)).is_err());
    }

    proptest! {
        #[test]
        fn valid_keys_map_to_the_same_store_path(key in "[a-z0-9_-]{1,8}(/[a-zA-Z0-9._-]{1,8}){0,4}") {
            prop_assume!(!key.split('/').any(|segment| segment == "." || segment == ".."));
            let key = BlobKey::new(key.clone()).unwrap();
            let path = key.to_store_path();
            prop_assert_eq!(path.as_ref(), key.as_str());
        }
    }
}
