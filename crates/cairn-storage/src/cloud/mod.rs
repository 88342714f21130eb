//! `s3://`, `gs://` and Azure blob references, on the object_store crate.
//!
//! The three clouds share one handler, [`CloudHandler`]; what differs is how a URI names its
//! bucket, key and version, how the SDK spells each entry, and which credentials apply.
//!
//! * **Resolve**, checksums on: a key that names an object gives that object (a version in the
//!   URI, `?versionId=` or `#generation`, selects it); otherwise every object under the key as a
//!   prefix (whole path segments, so `data` does not match `database.csv`), streamed. Entries get
//!   the object's ETag without quotes as digest, its size, and `extra` with the ETag and the
//!   version id. Listings carry no version ids, so when the first listed object turns out to be
//!   versioned, every listed object is looked up (16 at a time) to record its version.
//! * **Resolve**, checksums off: no request; the entry records the URI, as the SDK does.
//! * **Fetch**: the recorded version if there is one (so an overwritten object still yields the
//!   recorded bytes on a versioned bucket), else the current object, which must still carry the
//!   recorded ETag and size, or the fetch fails with [`Error::Changed`].

mod config;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cairn_manifest::{Entry, LogicalPath};
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use object_store::path::Path as StorePath;
use object_store::{GetOptions, ObjectMeta, ObjectStore};
use serde_json::Value;

#[cfg(feature = "azure")]
pub use self::config::AzureConfig;
#[cfg(feature = "gs")]
pub use self::config::GcsConfig;
#[cfg(feature = "s3")]
pub use self::config::S3Config;
use crate::registry::is_azure_blob_host;
use crate::store_error::Subject;
use crate::{
    BlobStore, ByteStream, Error, ReferenceUri, ResolveOptions, ResolveStream, ResolvedObject,
    Result, StorageHandler, entry_uri, join_name,
};

/// Objects looked up at the same time to learn their version ids.
const HEAD_CONCURRENCY: usize = 16;

/// Which cloud, with its configuration.
#[derive(Debug, Clone)]
enum Cloud {
    #[cfg(feature = "s3")]
    S3(S3Config),
    #[cfg(feature = "gs")]
    Gcs(GcsConfig),
    #[cfg(feature = "azure")]
    Azure(AzureConfig),
}

/// Where an object reference points.
#[derive(Debug, Clone)]
struct Location {
    /// The account (Azure only; empty elsewhere).
    account: String,
    /// The bucket or container.
    bucket: String,
    /// The object key or prefix, raw (not percent-decoded), as the SDK uses it.
    key: String,
    /// A version named by the URI.
    version: Option<String>,
    /// `scheme://authority[/container]`: prepended to `/key` to form an entry's `ref`.
    base: String,
}

/// The handler for one cloud's object references.
pub struct CloudHandler {
    cloud: Cloud,
    stores: Mutex<HashMap<(String, String), Arc<dyn ObjectStore>>>,
}

impl fmt::Debug for CloudHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudHandler")
            .field("cloud", &self.cloud)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for CloudHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.backend())
    }
}

impl CloudHandler {
    fn new(cloud: Cloud) -> Self {
        Self {
            cloud,
            stores: Mutex::new(HashMap::new()),
        }
    }

    /// The handler for `s3://bucket/key` references.
    #[cfg(feature = "s3")]
    pub fn s3(config: S3Config) -> Self {
        Self::new(Cloud::S3(config))
    }

    /// The handler for `gs://bucket/key` references.
    #[cfg(feature = "gs")]
    pub fn gcs(config: GcsConfig) -> Self {
        Self::new(Cloud::Gcs(config))
    }

    /// The handler for Azure blob URLs.
    #[cfg(feature = "azure")]
    pub fn azure(config: AzureConfig) -> Self {
        Self::new(Cloud::Azure(config))
    }

    fn backend(&self) -> &'static str {
        match &self.cloud {
            #[cfg(feature = "s3")]
            Cloud::S3(_) => "s3",
            #[cfg(feature = "gs")]
            Cloud::Gcs(_) => "gs",
            #[cfg(feature = "azure")]
            Cloud::Azure(_) => "azure",
        }
    }

    fn credentials(&self) -> &str {
        match &self.cloud {
            #[cfg(feature = "s3")]
            Cloud::S3(config) => &config.credentials,
            #[cfg(feature = "gs")]
            Cloud::Gcs(config) => &config.credentials,
            #[cfg(feature = "azure")]
            Cloud::Azure(config) => &config.credentials,
        }
    }

    fn subject<'a>(&'a self, shown: &'a str, version: Option<&'a str>) -> Subject<'a> {
        Subject {
            backend: self.backend(),
            shown,
            version,
            credentials_hint: self.credentials(),
        }
    }

    /// Splits a URI this handler serves into account, bucket, key and version.
    fn locate(&self, uri: &ReferenceUri) -> Result<Location> {
        let malformed = |reason| Error::MalformedUri {
            uri: uri.redacted().to_string(),
            reason,
        };
        let key = uri
            .path()
            .strip_prefix('/')
            .unwrap_or(uri.path())
            .to_owned();
        match &self.cloud {
            #[cfg(feature = "s3")]
            Cloud::S3(_) => {
                let bucket = uri.authority().to_owned();
                if bucket.is_empty() {
                    return Err(malformed("it names no bucket (`s3://<bucket>/<key>`)"));
                }
                Ok(Location {
                    account: String::new(),
                    base: format!("s3://{bucket}"),
                    bucket,
                    key,
                    version: uri.query_param("versionId"),
                })
            }
            #[cfg(feature = "gs")]
            Cloud::Gcs(_) => {
                let bucket = uri.authority().to_owned();
                if bucket.is_empty() {
                    return Err(malformed("it names no bucket (`gs://<bucket>/<object>`)"));
                }
                Ok(Location {
                    account: String::new(),
                    base: format!("gs://{bucket}"),
                    bucket,
                    key,
                    version: uri.fragment().filter(|g| !g.is_empty()).map(str::to_owned),
                })
            }
            #[cfg(feature = "azure")]
            Cloud::Azure(config) => {
                let (base, account, rest) = match &config.endpoint {
                    Some((endpoint, account)) => {
                        let plain = uri.without_query_and_fragment();
                        let rest = plain
                            .strip_prefix(endpoint.as_str())
                            .and_then(|rest| rest.strip_prefix('/'))
                            .ok_or_else(|| {
                                malformed("it is not under the configured Azure endpoint")
                            })?
                            .to_owned();
                        (endpoint.clone(), account.clone(), rest)
                    }
                    None => {
                        let host = uri.host();
                        let account = host
                            .strip_suffix(".blob.core.windows.net")
                            .ok_or_else(|| malformed("Azure blob URLs look like `https://<account>.blob.core.windows.net/<container>/<blob>`"))?
                            .to_owned();
                        (
                            format!("{}://{}", uri.scheme(), uri.authority()),
                            account,
                            key,
                        )
                    }
                };
                let (container, blob) = rest.split_once('/').unwrap_or((&rest, ""));
                if container.is_empty() {
                    return Err(malformed("it names no container"));
                }
                Ok(Location {
                    base: format!("{base}/{container}"),
                    account,
                    bucket: container.to_owned(),
                    key: blob.to_owned(),
                    version: uri.query_param("versionId"),
                })
            }
        }
    }

    /// The object store for the location's bucket, built once and then shared.
    fn store(&self, location: &Location) -> Result<Arc<dyn ObjectStore>> {
        let id = (location.account.clone(), location.bucket.clone());
        let mut stores = self
            .stores
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(store) = stores.get(&id) {
            return Ok(Arc::clone(store));
        }
        let shown = location.base.clone();
        let built: object_store::Result<Arc<dyn ObjectStore>> = match &self.cloud {
            #[cfg(feature = "s3")]
            Cloud::S3(config) => {
                if config.missing_credentials {
                    return Err(Error::Unauthenticated {
                        uri: shown,
                        hint: config.credentials.clone(),
                        source: None,
                    });
                }
                config
                    .build(&location.bucket)
                    .map(|store| Arc::new(store) as _)
            }
            #[cfg(feature = "gs")]
            Cloud::Gcs(config) => config
                .build(&location.bucket)
                .map(|store| Arc::new(store) as _),
            #[cfg(feature = "azure")]
            Cloud::Azure(config) => config
                .build(&location.account, &location.bucket)
                .map(|store| Arc::new(store) as _),
        };
        let store = built.map_err(|error| self.subject(&shown, None).map(error))?;
        stores.insert(id, Arc::clone(&store));
        Ok(store)
    }

    /// A blob store on `bucket` (an Azure container: `account/container`, or just the container
    /// with a configured endpoint), with this handler's configuration.
    pub fn blob_store(&self, bucket: &str) -> Result<BlobStore> {
        let (account, bucket) = match bucket.split_once('/') {
            Some((account, container)) => (account.to_owned(), container.to_owned()),
            None => (String::new(), bucket.to_owned()),
        };
        let base = format!("{}://{bucket}", self.backend());
        let location = Location {
            account,
            bucket,
            key: String::new(),
            version: None,
            base: base.clone(),
        };
        Ok(BlobStore::from_object_store(
            self.store(&location)?,
            self.backend(),
            base,
        ))
    }
}

/// The entry for an object found by resolving.
fn object_entry(backend: &'static str, location: &Location, meta: &ObjectMeta) -> Entry {
    {
        let key = meta.location.as_ref();
        let reference = format!("{}/{key}", location.base);
        let etag = meta
            .e_tag
            .as_deref()
            .map(|tag| tag.trim_matches('"').to_owned());
        let digest = etag.clone().unwrap_or_else(|| reference.clone());
        let mut entry = Entry::reference(reference, digest, Some(meta.size));
        let gcs = backend == "gs";
        if let Some(etag) = etag
            && !gcs
        {
            entry.extra.insert("etag".to_owned(), Value::String(etag));
        }
        if let Some(version) = meta.version.as_deref().filter(|v| *v != "null") {
            // The SDK records GCS generations as numbers, S3 and Azure version ids as text.
            let value = match version.parse::<u64>() {
                Ok(number) if gcs => Value::from(number),
                _ => Value::String(version.to_owned()),
            };
            entry.extra.insert("versionID".to_owned(), value);
        }
        entry
    }
}

impl CloudHandler {
    /// The entry for `checksum = false`: the URI alone, no request.
    fn unchecked(
        &self,
        uri: &ReferenceUri,
        location: &Location,
        options: &ResolveOptions,
    ) -> Result<ResolvedObject> {
        let (reference, default_name) = match self.backend() {
            "azure" => (uri.without_query_and_fragment(), location.key.clone()),
            _ => {
                let name = if location.key.is_empty() {
                    location.bucket.clone()
                } else {
                    location.key.clone()
                };
                (format!("{}/{}", location.base, location.key), name)
            }
        };
        let name = options.name().map_or(default_name, str::to_owned);
        Ok(ResolvedObject {
            path: LogicalPath::new(name.trim_end_matches('/'))?,
            entry: Entry::reference(reference.clone(), reference, None),
        })
    }
}

/// An object_store path for a raw key, or a clear error for keys it cannot express.
fn store_path(key: &str) -> Result<StorePath> {
    StorePath::parse(key).map_err(|error| Error::InvalidKey {
        key: key.to_owned(),
        reason: format!("{error}; Cairn cannot address keys with empty segments, `.` or `..`"),
    })
}

/// Version lookups for a listing: unknown until the first object says.
const VERSIONS_UNKNOWN: u8 = 0;
const VERSIONED: u8 = 1;
const UNVERSIONED: u8 = 2;

#[async_trait]
impl StorageHandler for CloudHandler {
    fn handles(&self, uri: &ReferenceUri) -> bool {
        match &self.cloud {
            #[cfg(feature = "s3")]
            Cloud::S3(_) => uri.scheme() == "s3",
            #[cfg(feature = "gs")]
            Cloud::Gcs(_) => uri.scheme() == "gs",
            #[cfg(feature = "azure")]
            Cloud::Azure(config) => match &config.endpoint {
                Some((endpoint, _)) => uri
                    .as_str()
                    .strip_prefix(endpoint.as_str())
                    .is_some_and(|rest| rest.starts_with('/')),
                None => matches!(uri.scheme(), "https" | "http") && is_azure_blob_host(&uri.host()),
            },
        }
    }

    async fn resolve(&self, uri: &ReferenceUri, options: &ResolveOptions) -> Result<ResolveStream> {
        let location = self.locate(uri)?;
        if !options.checksum() {
            let object = self.unchecked(uri, &location, options)?;
            return Ok(stream::iter([Ok(object)]).boxed());
        }
        let store = self.store(&location)?;
        let shown = uri.redacted().to_string();
        let name = options.name().map(str::to_owned);
        // A key naming one object (possibly at a version) is that object.
        if !location.key.is_empty() && !location.key.ends_with('/') {
            let path = store_path(&location.key)?;
            let lookup = GetOptions {
                head: true,
                version: location.version.clone(),
                ..GetOptions::default()
            };
            match store.get_opts(&path, lookup).await {
                Ok(found) => {
                    let basename = location.key.rsplit('/').next().unwrap_or(&location.key);
                    let mut meta = found.meta;
                    if meta.version.is_none() {
                        meta.version = location.version.clone();
                    }
                    let object = ResolvedObject {
                        path: LogicalPath::new(name.as_deref().unwrap_or(basename))?,
                        entry: object_entry(self.backend(), &location, &meta),
                    };
                    return Ok(stream::iter([Ok(object)]).boxed());
                }
                Err(object_store::Error::NotFound { .. }) if location.version.is_none() => {}
                Err(error) => {
                    return Err(self.subject(&shown, location.version.as_deref()).map(error));
                }
            }
        }
        // Otherwise: every object under the key as a prefix.
        let prefix = location.key.trim_end_matches('/').to_owned();
        let prefix_path = if prefix.is_empty() {
            None
        } else {
            Some(store_path(&prefix)?)
        };
        let max_objects = options.max_objects();
        let backend = self.backend();
        let credentials = self.credentials().to_owned();
        let versions = Arc::new(AtomicU8::new(VERSIONS_UNKNOWN));
        let listing = store.list(prefix_path.as_ref());
        let mut count = 0u64;
        let counted_shown = shown.clone();
        let limited = listing
            .map_err({
                let shown = shown.clone();
                let credentials = credentials.clone();
                move |error| {
                    Subject {
                        backend,
                        shown: &shown,
                        version: None,
                        credentials_hint: &credentials,
                    }
                    .map(error)
                }
            })
            .try_filter(|meta| std::future::ready(!meta.location.as_ref().ends_with('/')))
            .and_then(move |meta| {
                count += 1;
                let result = if count > max_objects {
                    Err(Error::TooManyObjects {
                        uri: counted_shown.clone(),
                        max_objects,
                    })
                } else {
                    Ok(meta)
                };
                std::future::ready(result)
            });
        let location = Arc::new(location);
        let objects = limited
            .map_ok(move |meta| {
                let store = Arc::clone(&store);
                let versions = Arc::clone(&versions);
                let location = Arc::clone(&location);
                let name = name.clone();
                let prefix = prefix.clone();
                async move {
                    let meta = with_version(store.as_ref(), meta, &versions).await;
                    let key = meta.location.as_ref();
                    let relative = if prefix.is_empty() {
                        key
                    } else {
                        key.strip_prefix(prefix.as_str())
                            .map_or(key, |rest| rest.trim_start_matches('/'))
                    };
                    Ok(ResolvedObject {
                        path: LogicalPath::new(&join_name(name.as_deref(), relative))?,
                        entry: object_entry(backend, &location, &meta),
                    })
                }
            })
            .try_buffered(HEAD_CONCURRENCY);
        // An empty listing means nothing is there: say so instead of adding nothing.
        let mut objects = objects.boxed().peekable();
        if std::pin::Pin::new(&mut objects).peek().await.is_none() {
            return Err(Error::NotFound {
                uri: shown,
                version: None,
            });
        }
        Ok(objects.boxed())
    }

    async fn fetch(&self, entry: &Entry) -> Result<ByteStream> {
        let uri = entry_uri(entry)?;
        let location = self.locate(&uri)?;
        let shown = uri.redacted().to_string();
        let version = recorded_version(entry).or_else(|| location.version.clone());
        let store = self.store(&location)?;
        let path = store_path(&location.key)?;
        let request = GetOptions {
            version: version.clone(),
            ..GetOptions::default()
        };
        let result = store
            .get_opts(&path, request)
            .await
            .map_err(|error| self.subject(&shown, version.as_deref()).map(error))?;
        let meta = &result.meta;
        // A pinned version is immutable; without one, the object must still be what was recorded.
        if version.is_none() {
            let found = meta.e_tag.as_deref().map(|tag| tag.trim_matches('"'));
            let recorded = entry.digest.as_str();
            let recorded_is_etag = recorded != entry.reference.as_deref().unwrap_or_default();
            if recorded_is_etag && found != Some(recorded) {
                return Err(Error::Changed {
                    uri: shown,
                    recorded: format!("ETag {recorded}"),
                    found: found.map_or_else(|| "no ETag".to_owned(), |tag| format!("ETag {tag}")),
                });
            }
        }
        if let Some(recorded) = entry.size
            && recorded != meta.size
        {
            return Err(Error::Changed {
                uri: shown,
                recorded: format!("{recorded} bytes"),
                found: format!("{} bytes", meta.size),
            });
        }
        let expected = meta.size;
        let backend = self.backend();
        let credentials = self.credentials().to_owned();
        let body = result.into_stream();
        let state = (body, 0u64, false);
        Ok(stream::unfold(state, move |(mut body, seen, done)| {
            let shown = shown.clone();
            let credentials = credentials.clone();
            async move {
                if done {
                    return None;
                }
                match body.next().await {
                    Some(Ok(chunk)) => {
                        let seen = seen + chunk.len() as u64;
                        Some((Ok(chunk), (body, seen, false)))
                    }
                    Some(Err(error)) => {
                        let subject = Subject {
                            backend,
                            shown: &shown,
                            version: None,
                            credentials_hint: &credentials,
                        };
                        Some((Err(subject.map(error)), (body, seen, true)))
                    }
                    None if seen != expected => Some((
                        Err(Error::Truncated {
                            uri: shown.clone(),
                            expected,
                            got: seen,
                        }),
                        (body, seen, true),
                    )),
                    None => None,
                }
            }
        })
        .boxed())
    }
}

/// The version id recorded in an entry's `extra` (text for S3 and Azure, a number for GCS).
fn recorded_version(entry: &Entry) -> Option<String> {
    match entry.extra.get("versionID")? {
        Value::String(version) if !version.is_empty() && version != "null" => Some(version.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Fills in the version id of a listed object when the bucket versions objects (listings do
/// not carry them). The first answer decides for the rest of the listing.
async fn with_version(
    store: &dyn ObjectStore,
    mut meta: ObjectMeta,
    versions: &AtomicU8,
) -> ObjectMeta {
    if meta.version.is_some() || versions.load(Ordering::Relaxed) == UNVERSIONED {
        return meta;
    }
    let lookup = GetOptions {
        head: true,
        ..GetOptions::default()
    };
    if let Ok(found) = store.get_opts(&meta.location, lookup).await {
        let found = found.meta;
        let state = if found.version.is_some() {
            VERSIONED
        } else {
            UNVERSIONED
        };
        let _ = versions.compare_exchange(
            VERSIONS_UNKNOWN,
            state,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        // The lookup is newer than the listing: record what it saw, consistently.
        if found.version.is_some() {
            meta = found;
        }
    }
    meta
}
