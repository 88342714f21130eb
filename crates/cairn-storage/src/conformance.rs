//! The storage conformance suite (feature `testing`): what every backend must do, as plain
//! async functions over a [`Fixture`]. Each backend's test calls [`run_all`]; a new backend
//! passes the suite before it is registered by default.
//!
//! Cases panic with a message naming the case and the backend when a behaviour is wrong.
//! Behaviours an emulator cannot show are switched off in its fixture, with the reason written
//! where the fixture is built.

#![expect(
    clippy::expect_used,
    reason = "a conformance case exists to panic, with its message, when a backend misbehaves"
)]

use std::io;

use bytes::Bytes;
use futures_util::stream;

use crate::testing::unique_name;
use crate::{
    BlobKey, BlobStore, Error, GetRange, Handlers, PutMode, ResolveOptions, ResolvedObject,
};

/// One backend under test.
#[derive(Debug)]
pub struct Fixture {
    /// The backend's name, for messages.
    pub name: &'static str,
    /// Handlers including the backend's reference handler.
    pub handlers: Handlers,
    /// A blob store on the same bucket, container or directory, to arrange objects.
    pub blobs: BlobStore,
    /// The reference URI of the blob store's root: `uri(key)` is `{base}/{key}`.
    pub base: String,
    /// Whether overwritten objects keep their old versions (S3 and GCS with versioning).
    pub versioned: bool,
    /// Whether the store enforces create-only puts (every emulator but fake-gcs-server).
    pub enforces_create: bool,
    /// Whether the store takes multipart uploads (all but fake-gcs-server, which lacks the
    /// XML-API multipart calls that real GCS has).
    pub multipart: bool,
    /// Whether references are remote (checksums off then means no request at all).
    pub remote: bool,
}

impl Fixture {
    /// The reference URI of `key`.
    pub fn uri(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }

    async fn put(&self, key: &str, bytes: &[u8]) {
        let key = BlobKey::new(key).unwrap_or_else(|error| panic!("{}: {error}", self.name));
        let data = stream::iter([Ok::<_, io::Error>(Bytes::copy_from_slice(bytes))]);
        self.blobs
            .put(&key, data, PutMode::Overwrite)
            .await
            .unwrap_or_else(|error| panic!("{}: put `{key}`: {error}", self.name));
    }

    async fn resolve(
        &self,
        uri: &str,
        options: &ResolveOptions,
    ) -> Result<Vec<ResolvedObject>, Error> {
        let mut objects = self.handlers.resolve_all(uri, options).await?;
        objects.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        Ok(objects)
    }
}

/// Runs every case against `fixture`.
pub async fn run_all(fixture: &Fixture) {
    resolve_single_object(fixture).await;
    resolve_prefix(fixture).await;
    max_objects_is_enforced(fixture).await;
    checksum_off(fixture).await;
    fetch_returns_recorded_bytes(fixture).await;
    changed_object_is_detected_or_versioned(fixture).await;
    missing_objects(fixture).await;
    bad_uris(fixture).await;
    blob_put_get_range_head_delete(fixture).await;
    blob_list(fixture).await;
    blob_conditional_create(fixture).await;
    blob_failed_upload_stores_nothing(fixture).await;
    blob_large_upload(fixture).await;
}

/// A key naming one object resolves to exactly that object, named after its basename (or the
/// given name), with its size and a digest.
pub async fn resolve_single_object(fixture: &Fixture) {
    let name = fixture.name;
    let prefix = unique_name("single");
    fixture.put(&format!("{prefix}/dir/one.txt"), b"one!").await;
    let uri = fixture.uri(&format!("{prefix}/dir/one.txt"));
    let objects = fixture
        .resolve(&uri, &ResolveOptions::new())
        .await
        .unwrap_or_else(|error| panic!("{name}: resolve `{uri}`: {error}"));
    assert_eq!(objects.len(), 1, "{name}: {objects:?}");
    let object = &objects[0];
    assert_eq!(object.path.as_str(), "one.txt", "{name}");
    assert_eq!(object.entry.size, Some(4), "{name}");
    assert_eq!(
        object.entry.reference.as_deref(),
        Some(uri.as_str()),
        "{name}"
    );
    assert!(!object.entry.digest.is_empty(), "{name}: empty digest");
    let named = fixture
        .resolve(&uri, &ResolveOptions::new().with_name("renamed.txt"))
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert_eq!(named[0].path.as_str(), "renamed.txt", "{name}");
    assert_eq!(named[0].entry.digest, object.entry.digest, "{name}");
}

/// A prefix resolves to every object under it, by whole path segments, with relative paths.
pub async fn resolve_prefix(fixture: &Fixture) {
    let name = fixture.name;
    let prefix = unique_name("prefix");
    fixture.put(&format!("{prefix}/data/a.txt"), b"a").await;
    fixture
        .put(&format!("{prefix}/data/sub/b.txt"), b"bb")
        .await;
    // Shares the text prefix but not the segment: must not be included.
    fixture.put(&format!("{prefix}/database.csv"), b"c").await;
    let uri = fixture.uri(&format!("{prefix}/data"));
    let objects = fixture
        .resolve(&uri, &ResolveOptions::new())
        .await
        .unwrap_or_else(|error| panic!("{name}: resolve `{uri}`: {error}"));
    let paths: Vec<_> = objects.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "sub/b.txt"], "{name}");
    assert_eq!(objects[1].entry.size, Some(2), "{name}");
    assert_eq!(
        objects[1].entry.reference.as_deref(),
        Some(fixture.uri(&format!("{prefix}/data/sub/b.txt")).as_str()),
        "{name}"
    );
    let named = fixture
        .resolve(&format!("{uri}/"), &ResolveOptions::new().with_name("set"))
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let paths: Vec<_> = named.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(paths, ["set/a.txt", "set/sub/b.txt"], "{name}");
}

/// More objects than `max_objects` is an error naming the cap, never a truncated result.
pub async fn max_objects_is_enforced(fixture: &Fixture) {
    let name = fixture.name;
    let prefix = unique_name("cap");
    for index in 0..3 {
        fixture.put(&format!("{prefix}/f{index}"), b"x").await;
    }
    let uri = fixture.uri(&prefix);
    let error = fixture
        .resolve(&uri, &ResolveOptions::new().with_max_objects(2))
        .await
        .expect_err("three objects exceed a cap of two");
    assert!(
        matches!(error, Error::TooManyObjects { max_objects: 2, .. }),
        "{name}: {error}"
    );
    assert!(error.to_string().contains("max_objects"), "{name}: {error}");
    let objects = fixture
        .resolve(&uri, &ResolveOptions::new().with_max_objects(3))
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert_eq!(objects.len(), 3, "{name}");
}

/// With checksums off a remote store is not contacted: even a missing object resolves, to an
/// entry whose digest is its URI.
pub async fn checksum_off(fixture: &Fixture) {
    let name = fixture.name;
    if !fixture.remote {
        return;
    }
    let uri = fixture.uri(&format!("{}/never-created.bin", unique_name("off")));
    let objects = fixture
        .resolve(&uri, &ResolveOptions::new().with_checksum(false))
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert_eq!(objects.len(), 1, "{name}");
    assert_eq!(objects[0].entry.digest, uri, "{name}");
    assert_eq!(
        objects[0].entry.reference.as_deref(),
        Some(uri.as_str()),
        "{name}"
    );
    assert_eq!(objects[0].entry.size, None, "{name}");
}

/// Fetching a resolved entry yields exactly the bytes that were resolved.
pub async fn fetch_returns_recorded_bytes(fixture: &Fixture) {
    let name = fixture.name;
    let key = format!("{}/blob.bin", unique_name("fetch"));
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    fixture.put(&key, &content).await;
    let objects = fixture
        .resolve(&fixture.uri(&key), &ResolveOptions::new())
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let bytes = fixture
        .handlers
        .fetch_bytes(&objects[0].entry)
        .await
        .unwrap_or_else(|error| panic!("{name}: fetch: {error}"));
    assert!(bytes == content, "{name}: fetched bytes differ");
}

/// After an overwrite, a versioned store still returns the recorded bytes; an unversioned one
/// refuses with [`Error::Changed`] (same size or not).
pub async fn changed_object_is_detected_or_versioned(fixture: &Fixture) {
    let name = fixture.name;
    let key = format!("{}/model.bin", unique_name("changed"));
    fixture.put(&key, b"version one").await;
    let recorded = fixture
        .resolve(&fixture.uri(&key), &ResolveOptions::new())
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let entry = &recorded[0].entry;
    for replacement in [&b"version two"[..], b"a longer version three"] {
        fixture.put(&key, replacement).await;
        let result = fixture.handlers.fetch_bytes(entry).await;
        if fixture.versioned {
            assert!(
                entry.extra.contains_key("versionID"),
                "{name}: no version recorded: {entry:?}"
            );
            let bytes = result.unwrap_or_else(|error| panic!("{name}: fetch at version: {error}"));
            assert_eq!(bytes, b"version one", "{name}");
        } else {
            let error = result.expect_err("an overwritten unversioned object must not be returned");
            assert!(matches!(error, Error::Changed { .. }), "{name}: {error}");
            assert!(error.to_string().contains("model.bin"), "{name}: {error}");
        }
    }
}

/// Missing objects are [`Error::NotFound`] when resolving and, on unversioned stores, when
/// fetching something that was deleted.
pub async fn missing_objects(fixture: &Fixture) {
    let name = fixture.name;
    let prefix = unique_name("missing");
    let error = fixture
        .resolve(
            &fixture.uri(&format!("{prefix}/nothing-here")),
            &ResolveOptions::new(),
        )
        .await
        .expect_err("nothing is there");
    assert!(error.is_not_found(), "{name}: {error}");
    let key = format!("{prefix}/gone.txt");
    fixture.put(&key, b"soon gone").await;
    let recorded = fixture
        .resolve(&fixture.uri(&key), &ResolveOptions::new())
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    fixture
        .blobs
        .delete(&BlobKey::new(key).unwrap_or_else(|error| panic!("{error}")))
        .await
        .unwrap_or_else(|error| panic!("{name}: delete: {error}"));
    let result = fixture.handlers.fetch_bytes(&recorded[0].entry).await;
    if fixture.versioned {
        // The recorded version outlives the delete marker.
        let bytes = result.unwrap_or_else(|error| panic!("{name}: fetch at version: {error}"));
        assert_eq!(bytes, b"soon gone", "{name}");
    } else {
        let error = result.expect_err("a deleted object cannot be fetched");
        assert!(error.is_not_found(), "{name}: {error}");
    }
}

/// URIs that cannot name an object are typed errors, not panics.
pub async fn bad_uris(fixture: &Fixture) {
    let name = fixture.name;
    let bad = fixture.uri("a//b/../c");
    let error = fixture
        .resolve(&bad, &ResolveOptions::new())
        .await
        .expect_err("empty segments and `..` cannot be addressed");
    assert!(
        matches!(
            error,
            Error::InvalidKey { .. } | Error::MalformedUri { .. } | Error::NotFound { .. }
        ),
        "{name}: {error}"
    );
}

/// Blob put, get (whole and ranges), head and idempotent delete.
pub async fn blob_put_get_range_head_delete(fixture: &Fixture) {
    let name = fixture.name;
    let blobs = &fixture.blobs;
    let key = key(&format!("{}/b.bin", unique_name("blob")));
    let content: Vec<u8> = (0..100u8).collect();
    let data = stream::iter([
        Ok::<_, io::Error>(Bytes::copy_from_slice(&content[..40])),
        Ok(Bytes::copy_from_slice(&content[40..])),
    ]);
    let put = blobs
        .put(&key, data, PutMode::Overwrite)
        .await
        .unwrap_or_else(|error| panic!("{name}: put: {error}"));
    assert_eq!(put.size, 100, "{name}");
    let head = blobs
        .head(&key)
        .await
        .unwrap_or_else(|error| panic!("{name}: head: {error}"));
    assert_eq!(head.size, 100, "{name}");
    assert_eq!(read(blobs, &key, None).await, content, "{name}");
    assert_eq!(
        read(blobs, &key, Some(GetRange::Bounded(10..20))).await,
        &content[10..20],
        "{name}"
    );
    assert_eq!(
        read(blobs, &key, Some(GetRange::From(95))).await,
        &content[95..],
        "{name}"
    );
    assert_eq!(
        read(blobs, &key, Some(GetRange::Suffix(3))).await,
        &content[97..],
        "{name}"
    );
    blobs
        .delete(&key)
        .await
        .unwrap_or_else(|error| panic!("{name}: delete: {error}"));
    blobs
        .delete(&key)
        .await
        .unwrap_or_else(|error| panic!("{name}: second delete: {error}"));
    let error = blobs.head(&key).await.expect_err("deleted");
    assert!(error.is_not_found(), "{name}: {error}");
    let error = blobs
        .get(&key, None)
        .await
        .map(|_| ())
        .expect_err("deleted");
    assert!(error.is_not_found(), "{name}: {error}");
}

/// Listing by prefix reports every blob under it, with sizes.
pub async fn blob_list(fixture: &Fixture) {
    use futures_util::TryStreamExt as _;
    let name = fixture.name;
    let prefix = unique_name("list");
    for (file, size) in [("x/1", 1), ("x/2", 2), ("y/3", 3)] {
        fixture
            .put(&format!("{prefix}/{file}"), &vec![0; size])
            .await;
    }
    let listed: Vec<_> = fixture
        .blobs
        .list(Some(&key(&format!("{prefix}/x"))))
        .try_collect()
        .await
        .unwrap_or_else(|error| panic!("{name}: list: {error}"));
    let mut found: Vec<_> = listed
        .iter()
        .map(|meta| (meta.key.clone(), meta.size))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [(format!("{prefix}/x/1"), 1), (format!("{prefix}/x/2"), 2)],
        "{name}"
    );
}

/// Create-only puts fail on an existing key and leave it untouched.
pub async fn blob_conditional_create(fixture: &Fixture) {
    let name = fixture.name;
    if !fixture.enforces_create {
        return;
    }
    let key = key(&format!("{}/c", unique_name("create")));
    let once = |bytes: &'static [u8]| stream::iter([Ok::<_, io::Error>(Bytes::from_static(bytes))]);
    fixture
        .blobs
        .put(&key, once(b"first"), PutMode::Create)
        .await
        .unwrap_or_else(|error| panic!("{name}: first create: {error}"));
    let error = fixture
        .blobs
        .put(&key, once(b"second"), PutMode::Create)
        .await
        .expect_err("the key exists");
    assert!(
        matches!(error, Error::AlreadyExists { .. }),
        "{name}: {error}"
    );
    assert_eq!(read(&fixture.blobs, &key, None).await, b"first", "{name}");
}

/// An upload whose data stream fails stores nothing, small or multipart.
pub async fn blob_failed_upload_stores_nothing(fixture: &Fixture) {
    let name = fixture.name;
    let sizes: &[usize] = if fixture.multipart {
        &[1024, crate::SINGLE_PUT_LIMIT + 1024 * 1024]
    } else {
        &[1024]
    };
    for &size in sizes {
        let key = key(&format!("{}/t", unique_name("truncated")));
        let data = stream::iter([
            Ok(Bytes::from(vec![7u8; size])),
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "client went away",
            )),
        ]);
        let error = fixture
            .blobs
            .put(&key, data, PutMode::Overwrite)
            .await
            .expect_err("the source failed");
        assert!(matches!(error, Error::Source { .. }), "{name}: {error}");
        let error = fixture.blobs.head(&key).await.expect_err("nothing stored");
        assert!(error.is_not_found(), "{name} ({size} bytes): {error}");
    }
}

/// Data past the single-request limit goes up as a multipart upload and reads back intact.
pub async fn blob_large_upload(fixture: &Fixture) {
    let name = fixture.name;
    if !fixture.multipart {
        return;
    }
    let key = key(&format!("{}/large", unique_name("large")));
    let part = crate::SINGLE_PUT_LIMIT / 4;
    let chunks: Vec<io::Result<Bytes>> = (0..6u8).map(|i| Ok(Bytes::from(vec![i; part]))).collect();
    let meta = fixture
        .blobs
        .put(&key, stream::iter(chunks), PutMode::Create)
        .await
        .unwrap_or_else(|error| panic!("{name}: multipart put: {error}"));
    assert_eq!(meta.size, 6 * part as u64, "{name}");
    let tail = read(&fixture.blobs, &key, Some(GetRange::Suffix(2))).await;
    assert_eq!(tail, [5, 5], "{name}");
    let head = fixture
        .blobs
        .head(&key)
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert_eq!(head.size, 6 * part as u64, "{name}");
}

fn key(text: &str) -> BlobKey {
    BlobKey::new(text).unwrap_or_else(|error| panic!("{error}"))
}

async fn read(blobs: &BlobStore, key: &BlobKey, range: Option<GetRange>) -> Vec<u8> {
    use futures_util::TryStreamExt as _;
    let (_, stream) = blobs
        .get(key, range)
        .await
        .unwrap_or_else(|error| panic!("get `{key}`: {error}"));
    let chunks: Vec<Bytes> = stream
        .try_collect()
        .await
        .unwrap_or_else(|error| panic!("read `{key}`: {error}"));
    chunks.concat()
}
