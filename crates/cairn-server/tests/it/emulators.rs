//! The blob store on object storage: one round trip (a large and a small blob up, commit,
//! both down, a range) per emulator — moto (S3), fake-gcs-server (GCS) and Azurite. Skipped
//! when the emulator is not running, unless `CAIRN_TEST_EMULATORS=required`; start them with
//! `cargo xtask emulators start` and `eval "$(cargo xtask emulators env)"`.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use cairn_api::{ServerInfo, routes};
use cairn_server::BlobStoreConfig;
use cairn_storage::testing::{
    AZURITE_ACCOUNT, AZURITE_KEY, Emulator, GcsWriteShim, create_azure_container,
    create_gcs_bucket, create_s3_bucket,
};
use cairn_storage::{AzureConfig, BlobStore, CloudHandler, GcsConfig, S3Config};

use crate::harness::{Files, Server, create_request, log};

async fn round_trip(store: BlobStore, kind: &str) {
    let server =
        Server::start_with(|config| config.with_blob_store(BlobStoreConfig::Store(store))).await;
    let key = server.admin_key.clone();
    let info: ServerInfo = server
        .call(Method::GET, routes::SERVER, None)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(info.blob_store, kind);
    let large: Vec<u8> = (0..3_000_000_u32)
        .map(|index| (index % 253) as u8)
        .collect();
    let files = Files::new(&[("large.bin", &large), ("small.txt", b"small blob")]);
    let version = log(
        &server,
        &key,
        "admin",
        "cloud",
        create_request("data", &files),
        &files,
    )
    .await;
    assert_eq!(version.version_index, Some(0));
    for (name, bytes) in &files.files {
        let answer = server
            .call(
                Method::GET,
                &routes::blob(&version.id, &files.md5(name)),
                Some(&key),
            )
            .await;
        assert_eq!(
            answer.expect(StatusCode::OK).body.as_ref(),
            bytes.as_slice(),
            "{kind} {name}"
        );
    }
    let answer = server
        .send(
            Server::request(
                Method::GET,
                &routes::blob(&version.id, &files.md5("large.bin")),
                Some(&key),
            )
            .header(header::RANGE, "bytes=1000-1999")
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    assert_eq!(
        answer.expect(StatusCode::PARTIAL_CONTENT).body.as_ref(),
        &large[1000..2000]
    );
    // Nothing was written to the local blob directory.
    assert!(!server.data_dir().join("blobs").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_blob_store() {
    let Some(endpoint) = Emulator::S3.endpoint() else {
        return;
    };
    let bucket = create_s3_bucket(&endpoint, false).await;
    let config = S3Config::new()
        .with_endpoint(&endpoint)
        .with_static_credentials("test", "test")
        .with_retries(1, Duration::from_secs(5));
    round_trip(CloudHandler::s3(config).blob_store(&bucket).unwrap(), "s3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_blob_store() {
    let Some(endpoint) = Emulator::Gcs.endpoint() else {
        return;
    };
    let shim = GcsWriteShim::start(&endpoint).await.unwrap();
    let bucket = create_gcs_bucket(&endpoint).await;
    let config = GcsConfig::emulator(&shim.url).with_retries(1, Duration::from_secs(5));
    round_trip(CloudHandler::gcs(config).blob_store(&bucket).unwrap(), "gs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_blob_store() {
    let Some(endpoint) = Emulator::Azurite.endpoint() else {
        return;
    };
    let container = create_azure_container(&endpoint).await;
    let root = format!("{endpoint}/{AZURITE_ACCOUNT}");
    let config = AzureConfig::with_endpoint(&root, AZURITE_ACCOUNT, AZURITE_KEY)
        .with_retries(1, Duration::from_secs(5));
    round_trip(
        CloudHandler::azure(config).blob_store(&container).unwrap(),
        "azure",
    )
    .await;
}
