//! `s3://` references and the S3 blob store, against moto.

use std::sync::Arc;
use std::time::Duration;

use cairn_storage::conformance::{Fixture, run_all};
use cairn_storage::testing::{Emulator, create_s3_bucket};
use cairn_storage::{CloudHandler, Error, Handlers, ResolveOptions, S3Config};

use crate::runtime;

fn config(endpoint: &str) -> S3Config {
    S3Config::new()
        .with_endpoint(endpoint)
        .with_static_credentials("test", "test")
        .with_retries(1, Duration::from_secs(5))
}

async fn fixture(endpoint: &str, versioned: bool) -> Fixture {
    let bucket = create_s3_bucket(endpoint, versioned).await;
    let handler = CloudHandler::s3(config(endpoint));
    let blobs = handler.blob_store(&bucket).unwrap();
    Fixture {
        name: if versioned { "s3 (versioned)" } else { "s3" },
        handlers: Handlers::new().with(Arc::new(handler)),
        blobs,
        base: format!("s3://{bucket}"),
        versioned,
        enforces_create: true,
        multipart: true,
        remote: true,
    }
}

#[test]
fn conformance_versioned_bucket() {
    let Some(endpoint) = Emulator::S3.endpoint() else {
        return;
    };
    runtime().block_on(async { run_all(&fixture(&endpoint, true).await).await });
}

#[test]
fn conformance_unversioned_bucket() {
    let Some(endpoint) = Emulator::S3.endpoint() else {
        return;
    };
    runtime().block_on(async { run_all(&fixture(&endpoint, false).await).await });
}

#[test]
fn entries_look_like_the_sdks() {
    let Some(endpoint) = Emulator::S3.endpoint() else {
        return;
    };
    runtime().block_on(async {
        let fixture = fixture(&endpoint, true).await;
        let blobs = &fixture.blobs;
        let key = cairn_storage::BlobKey::new("models/m.pt").unwrap();
        let data =
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"w1"))]);
        let first = blobs
            .put(&key, data, cairn_storage::PutMode::Overwrite)
            .await
            .unwrap();
        let uri = fixture.uri("models/m.pt");
        let objects = fixture
            .handlers
            .resolve_all(&uri, &ResolveOptions::new())
            .await
            .unwrap();
        let entry = &objects[0].entry;
        let etag = first.etag.unwrap();
        assert_eq!(entry.digest, etag.trim_matches('"'));
        assert_eq!(entry.extra["etag"], etag.trim_matches('"'));
        assert_eq!(entry.extra["versionID"], first.version.clone().unwrap());
        // A version in the URI selects that version, even after an overwrite.
        let data = futures_util::stream::iter([Ok::<_, std::io::Error>(
            bytes::Bytes::from_static(b"w2-longer"),
        )]);
        blobs
            .put(&key, data, cairn_storage::PutMode::Overwrite)
            .await
            .unwrap();
        let pinned = format!("{uri}?versionId={}", first.version.unwrap());
        let objects = fixture
            .handlers
            .resolve_all(&pinned, &ResolveOptions::new())
            .await
            .unwrap();
        assert_eq!(objects[0].entry.size, Some(2));
        assert_eq!(objects[0].entry.reference.as_deref(), Some(uri.as_str()));
        let error = fixture
            .handlers
            .resolve_all(
                &format!("{uri}?versionId=no-such-version"),
                &ResolveOptions::new(),
            )
            .await
            .unwrap_err();
        assert!(!matches!(error, Error::TooManyObjects { .. }), "{error}");
    });
}

#[test]
fn missing_credentials_name_what_to_set() {
    let handler = CloudHandler::s3(S3Config::new());
    let handlers = Handlers::new().with(Arc::new(handler));
    let error = runtime()
        .block_on(handlers.resolve_all("s3://bucket/key", &ResolveOptions::new()))
        .unwrap_err();
    assert!(matches!(error, Error::Unauthenticated { .. }), "{error}");
    assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
}

#[test]
fn wrong_credentials_are_refused_and_secrets_stay_hidden() {
    let config = S3Config::new()
        .with_endpoint("http://127.0.0.1:9")
        .with_static_credentials("AKIDEXAMPLE", "very-secret-value")
        .with_retries(0, Duration::from_secs(1));
    assert!(!format!("{config:?}").contains("very-secret-value"));
    let handler = CloudHandler::s3(config);
    assert!(!format!("{handler:?} {handler}").contains("very-secret-value"));
    let handlers = Handlers::new().with(Arc::new(handler));
    let error = runtime()
        .block_on(handlers.resolve_all("s3://bucket/key", &ResolveOptions::new()))
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("very-secret-value"), "{shown}");
}

#[test]
fn checksum_off_matches_the_vectors() {
    let handlers = Handlers::new().with(Arc::new(CloudHandler::s3(S3Config::new())));
    let runtime = runtime();
    let off = ResolveOptions::new().with_checksum(false);
    let resolve = |uri: &str, options: &ResolveOptions| {
        let objects = runtime
            .block_on(handlers.resolve_all(uri, options))
            .unwrap();
        let object = &objects[0];
        (object.path.as_str().to_owned(), object.entry.digest.clone())
    };
    assert_eq!(
        resolve(
            "s3://my-bucket/datasets/train/shard-000.tfrecord?versionId=3HL4",
            &off
        ),
        (
            "datasets/train/shard-000.tfrecord".to_owned(),
            "s3://my-bucket/datasets/train/shard-000.tfrecord".to_owned()
        )
    );
    assert_eq!(
        resolve("s3://my-bucket/datasets/", &off.clone().with_name("prefix")),
        ("prefix".to_owned(), "s3://my-bucket/datasets/".to_owned())
    );
    assert_eq!(
        resolve("s3://other-bucket", &off),
        ("other-bucket".to_owned(), "s3://other-bucket/".to_owned())
    );
}
