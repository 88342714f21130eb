//! Cairn's storage layer: what a reference URI denotes, how to read it back, and where the
//! server keeps its blobs.
//!
//! # What it is
//!
//! * **Reference handlers.** An artifact may point at data it does not hold: `file://` paths,
//!   `http(s)://` URLs, `s3://`, `gs://` and Azure blob URLs. A [`StorageHandler`] does, for one
//!   family of URIs, what the W&B SDK's storage handlers do: [`resolve`](StorageHandler::resolve)
//!   lists the objects a URI denotes and records for each the entry the SDK would record (path,
//!   size, digest, `extra`), and [`fetch`](StorageHandler::fetch) streams an entry's bytes back,
//!   at its recorded version, failing with [`Error::Changed`] when the object no longer is what
//!   was recorded.
//! * **One dispatch point.** [`Handlers`] picks the handler for a URI. A new scheme is a type
//!   implementing the trait plus one [`Handlers::register`] call (see `docs/storage.md`).
//! * **The blob store.** [`BlobStore`] is what the server stores artifact files in: put (streamed,
//!   optionally create-only), get (whole or a range), head, delete and list, on a local
//!   directory or any object store.
//!
//! # What it is not
//!
//! It knows manifest *entries* (it produces and consumes [`cairn_manifest::Entry`]) but not
//! manifests, artifacts or the cache: deciding what to download, verifying digests of file
//! entries and materialising files belong to `cairn-client` and `cairn-cache`.
//!
//! # Backends and features
//!
//! `file` is always built. `http`, `s3`, `gs` and `azure` are cargo features; the `cairn`
//! binary enables all of them. s3, gs and azure run on the [`object_store`] crate, which brings
//! request signing, credential providers and retries; `http` uses `reqwest` directly because a
//! reference handler needs the headers of the final response after redirects. A URI whose
//! backend is not built fails with [`Error::BackendNotBuilt`], which names the feature.
//!
//! # Example
//!
//! ```
//! use cairn_storage::{Handlers, ResolveOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! fs_err::write(dir.path().join("data.csv"), "a,b\n1,2\n")?;
//! let uri = format!("file://{}", dir.path().display());
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! let handlers = Handlers::from_env();
//! let objects = runtime.block_on(handlers.resolve_all(&uri, &ResolveOptions::new()))?;
//! assert_eq!(objects.len(), 1);
//! assert_eq!(objects[0].path.as_str(), "data.csv");
//! assert_eq!(objects[0].entry.size, Some(8));
//!
//! // Reading it back checks that the file is still what was recorded.
//! let bytes = runtime.block_on(handlers.fetch_bytes(&objects[0].entry))?;
//! assert_eq!(bytes, b"a,b\n1,2\n");
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! * Resolving never truncates silently: more objects than `max_objects` is
//!   [`Error::TooManyObjects`]. Results stream; callers that add them to an artifact collect
//!   them all first, so a failure adds nothing.
//! * Every network call has a finite timeout and a bounded number of retries.
//! * Secrets never reach `Display`, `Debug` or logs: URIs are shown through [`Redacted`], and
//!   credential-bearing configuration types have hand-written `Debug`s.

mod blob;
mod blob_url;
#[cfg(any(feature = "s3", feature = "gs", feature = "azure"))]
mod cloud;
#[cfg(feature = "testing")]
pub mod conformance;
mod error;
pub mod file;
#[cfg(feature = "http")]
mod http;
mod registry;
mod store_error;
#[cfg(feature = "testing")]
pub mod testing;
mod tracking;
mod uri;

use std::fmt::{Debug, Display};

use async_trait::async_trait;
use bytes::Bytes;
use cairn_manifest::{Entry, LogicalPath};
use futures_util::stream::{BoxStream, TryStreamExt as _};

pub use crate::blob::{BlobKey, BlobMeta, BlobStore, GetRange, PutMode, SINGLE_PUT_LIMIT};
pub use crate::blob_url::BlobStoreUrl;
#[cfg(any(feature = "s3", feature = "gs", feature = "azure"))]
pub use crate::cloud::{AzureConfig, CloudHandler, GcsConfig, S3Config};
pub use crate::error::{BoxError, Error, Result};
pub use crate::file::FileHandler;
#[cfg(feature = "http")]
pub use crate::http::{HttpConfig, HttpHandler};
pub use crate::registry::Handlers;
pub use crate::tracking::TrackingHandler;
pub use crate::uri::{Redacted, ReferenceUri, uri_scheme};

/// How many objects a directory or prefix reference may expand to unless told otherwise; the
/// SDK's default for `file`, `s3`, `gs` and Azure references.
pub const DEFAULT_MAX_OBJECTS: u64 = 10_000_000;

/// Time limit of one network request (connect + full response headers). Body streams are
/// bounded per read by [`READ_TIMEOUT`] instead, so a large download may take as long as it
/// needs while it keeps moving.
pub(crate) const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Longest silence tolerated while reading a response body.
#[cfg_attr(
    not(any(feature = "http", feature = "s3", feature = "gs", feature = "azure")),
    expect(dead_code, reason = "used by the network backends")
)]
pub(crate) const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Time limit for establishing a connection.
#[cfg_attr(
    not(any(feature = "http", feature = "s3", feature = "gs", feature = "azure")),
    expect(dead_code, reason = "used by the network backends")
)]
pub(crate) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Retries of a failed idempotent request (so at most four attempts).
#[cfg_attr(
    not(any(feature = "http", feature = "s3", feature = "gs", feature = "azure")),
    expect(dead_code, reason = "used by the network backends")
)]
pub(crate) const MAX_RETRIES: usize = 3;

/// A stream of bytes read from storage. An error item ends it; bytes already yielded must then
/// be discarded by the caller.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// The objects a reference resolves to, in no particular order. An error item ends it.
pub type ResolveStream = BoxStream<'static, Result<ResolvedObject>>;

/// One object a reference denotes: where it goes in the artifact and the entry recording it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedObject {
    /// The entry's logical path (the `name` option joined with the object's relative path).
    pub path: LogicalPath,
    /// The manifest entry: `ref`, `digest`, `size` and `extra` as the W&B SDK records them.
    pub entry: Entry,
}

/// Options of [`StorageHandler::resolve`], the arguments of the SDK's `add_reference`.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    name: Option<String>,
    checksum: bool,
    max_objects: Option<u64>,
    threads: usize,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl ResolveOptions {
    /// Checksums on, no name, the scheme's default object cap, hashing on all cores.
    pub fn new() -> Self {
        Self {
            name: None,
            checksum: true,
            max_objects: None,
            threads: 0,
        }
    }

    /// The entry name (single object) or the directory the objects go under (prefix).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// With `false`, the store is not contacted and the digest is derived from the URI (the
    /// SDK's `checksum=False`); `file://` directories are still listed.
    pub fn with_checksum(mut self, checksum: bool) -> Self {
        self.checksum = checksum;
        self
    }

    /// At most this many objects; more is [`Error::TooManyObjects`].
    pub fn with_max_objects(mut self, max_objects: u64) -> Self {
        self.max_objects = Some(max_objects);
        self
    }

    /// Threads for hashing local files; 0 (the default) means one per core.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// The entry name or directory, if given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether to contact the store for digests.
    pub fn checksum(&self) -> bool {
        self.checksum
    }

    /// The object cap, or [`DEFAULT_MAX_OBJECTS`].
    pub fn max_objects(&self) -> u64 {
        self.max_objects.unwrap_or(DEFAULT_MAX_OBJECTS)
    }

    /// The object cap if one was given explicitly.
    pub fn explicit_max_objects(&self) -> Option<u64> {
        self.max_objects
    }

    /// Hashing threads (0 = one per core).
    pub fn threads(&self) -> usize {
        self.threads
    }
}

/// A handler for one family of reference URIs.
///
/// Implementations must be cheap to share (`Arc<dyn StorageHandler>`) and safe to call from many
/// tasks at once. Consistency: [`resolve`](Self::resolve) reports each object as it was when it
/// was listed; [`fetch`](Self::fetch) returns those bytes or fails, never different bytes.
#[async_trait]
pub trait StorageHandler: Debug + Display + Send + Sync + 'static {
    /// Whether this handler serves `uri`. [`Handlers`] asks handlers in order and uses the
    /// first that says yes, so the answer should depend on the URI alone.
    fn handles(&self, uri: &ReferenceUri) -> bool;

    /// Lists the objects `uri` denotes and the entry the W&B SDK would record for each.
    ///
    /// One object, or every object under a prefix or directory, streamed; more than
    /// [`ResolveOptions::max_objects`] ends the stream with [`Error::TooManyObjects`]. With
    /// checksums off the store is not contacted (except to list a local directory).
    async fn resolve(&self, uri: &ReferenceUri, options: &ResolveOptions) -> Result<ResolveStream>;

    /// Streams the bytes of a recorded reference entry, at the version it recorded.
    ///
    /// If the object changed since it was recorded and no version pins the old content, this
    /// fails with [`Error::Changed`] naming the URI, before any byte when the change is
    /// visible up front (ETag, size), else as the stream's last item (a `file://` file rewritten
    /// with the same size). A missing object is [`Error::NotFound`].
    async fn fetch(&self, entry: &Entry) -> Result<ByteStream>;
}

/// Conveniences on every [`StorageHandler`].
#[async_trait]
pub trait StorageHandlerExt: StorageHandler {
    /// [`resolve`](StorageHandler::resolve), collected; the first error wins.
    async fn resolve_all(
        &self,
        uri: &ReferenceUri,
        options: &ResolveOptions,
    ) -> Result<Vec<ResolvedObject>> {
        self.resolve(uri, options).await?.try_collect().await
    }

    /// [`fetch`](StorageHandler::fetch), collected into memory. For small objects and tests;
    /// stream anything large.
    async fn fetch_bytes(&self, entry: &Entry) -> Result<Vec<u8>> {
        let mut stream = self.fetch(entry).await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.try_next().await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

impl<T: StorageHandler + ?Sized> StorageHandlerExt for T {}

/// The entry path for an object found under a prefix: `name/relative`, or `relative` alone.
pub(crate) fn join_name(name: Option<&str>, relative: &str) -> String {
    match name {
        Some(name) if !name.is_empty() => format!("{}/{relative}", name.trim_end_matches('/')),
        _ => relative.to_owned(),
    }
}

/// The reference URI recorded in `entry`, parsed.
pub(crate) fn entry_uri(entry: &Entry) -> Result<ReferenceUri> {
    let reference = entry.reference.as_deref().ok_or(Error::NotSupported {
        backend: "reference",
        operation: "fetching an entry that is not a reference",
    })?;
    ReferenceUri::parse(reference)
}
