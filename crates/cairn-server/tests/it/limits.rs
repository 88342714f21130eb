//! Limits and failures: body size limits, unknown routes, a blob store that is down, leftover
//! temporary files, and a large blob streamed through real HTTP with bounded memory.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use cairn_api::{CreatedVersion, ErrorCode, ManifestReceipt, routes};
use cairn_server::BlobStoreConfig;
use cairn_storage::{CloudHandler, S3Config};
use futures_util::StreamExt as _;

use crate::harness::{Files, Server, create_request};

#[tokio::test]
async fn bodies_over_the_limits_and_unknown_routes_are_problems() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let big_json = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    server
        .call_bytes(Method::POST, routes::TEAMS, Some(&key), big_json)
        .await
        .expect_problem(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
    let files = Files::new(&[("a", b"a")]);
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &create_request("data", &files),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let answer = server
        .send(
            Server::request(
                Method::PUT,
                &routes::manifest(&created.version.id),
                Some(&key),
            )
            .header(header::CONTENT_LENGTH, (64 * 1024 * 1024 + 1).to_string())
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    answer.expect_problem(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
    server
        .call(Method::GET, "/api/v1/nothing-here", Some(&key))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let answer = server
        .call(Method::DELETE, routes::VIEWER, Some(&key))
        .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.problem().code, ErrorCode::BadRequest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_store_that_is_down_answers_503_and_stores_nothing() {
    // Nothing listens on port 9 of the loopback interface.
    let config = S3Config::new()
        .with_endpoint("http://127.0.0.1:9")
        .with_static_credentials("test", "test")
        .with_retries(0, Duration::from_secs(2));
    let store = CloudHandler::s3(config).blob_store("bucket").unwrap();
    let server =
        Server::start_with(|config| config.with_blob_store(BlobStoreConfig::Store(store))).await;
    let key = server.admin_key.clone();
    let files = Files::new(&[("big.bin", &[1_u8; 200_000])]);
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &create_request("data", &files),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = created.version.id;
    server
        .call_bytes(
            Method::PUT,
            &routes::manifest(&id),
            Some(&key),
            files.manifest_bytes(),
        )
        .await
        .expect(StatusCode::OK);
    let md5 = files.md5("big.bin");
    let problem = server
        .call_bytes(
            Method::PUT,
            &routes::blob(&id, &md5),
            Some(&key),
            files.blob(&md5),
        )
        .await
        .expect_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StorageUnavailable,
        );
    assert!(
        !problem.detail.contains("127.0.0.1"),
        "no internals in a 5xx body: {problem:?}"
    );
    let receipt: ManifestReceipt = server
        .call(Method::GET, &routes::missing_blobs(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(receipt.missing.len(), 1);
    assert!(
        fs_err::read_dir(server.data_dir().join("tmp"))
            .unwrap()
            .next()
            .is_none()
    );
    server
        .call(Method::GET, routes::HEALTHZ, None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn leftover_temporary_files_are_removed_at_startup() {
    let server = Server::start().await;
    let leftover = server.data_dir().join("tmp").join("upload-interrupted");
    fs_err::write(&leftover, b"half a blob").unwrap();
    let server = server.restart().await;
    assert!(!leftover.exists());
    server
        .call(Method::GET, routes::HEALTHZ, None)
        .await
        .expect(StatusCode::OK);
}

/// Deterministic content of `size` bytes, in 1 MiB chunks.
fn chunks(size: u64) -> impl Iterator<Item = bytes::Bytes> {
    const CHUNK: u64 = 1024 * 1024;
    (0..size.div_ceil(CHUNK)).map(move |index| {
        let length = CHUNK.min(size - index * CHUNK);
        let seed = u8::try_from(index % 251).unwrap();
        bytes::Bytes::from(
            (0..length)
                .map(|offset| seed ^ (offset % 256) as u8)
                .collect::<Vec<u8>>(),
        )
    })
}

/// The process's peak resident memory in KiB (`VmHWM`), where `/proc` has it.
fn peak_rss_kib() -> Option<u64> {
    let status = fs_err::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_blob_streams_up_and_down_in_bounded_memory() {
    const SIZE: u64 = 256 * 1024 * 1024;
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let mut hasher = cairn_hash::Hasher::new(cairn_hash::Algorithms::MD5);
    for chunk in chunks(SIZE) {
        hasher.update(&chunk);
    }
    let md5 = hasher.finalize().md5;
    let mut manifest = cairn_manifest::Manifest::new();
    manifest
        .add(
            cairn_manifest::LogicalPath::new("weights.bin").unwrap(),
            cairn_manifest::Entry::file(md5.to_base64(), SIZE),
            false,
        )
        .unwrap();
    let mut request = create_request("model", &Files::new(&[]));
    request.digest =
        cairn_hash::Md5Digest::from_hex(&manifest.digest(cairn_manifest::DigestAlgorithm::Md5))
            .unwrap();
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "big"),
            Some(&key),
            &request,
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = created.version.id;
    server
        .call_bytes(
            Method::PUT,
            &routes::manifest(&id),
            Some(&key),
            manifest.to_core_json(),
        )
        .await
        .expect(StatusCode::OK);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(cairn_server::serve(listener, server.state.clone(), async {
        let _ = stopped.await;
    }));
    let before = peak_rss_kib();
    let client = reqwest::Client::new();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(
        chunks(SIZE).map(Ok::<_, std::io::Error>),
    ));
    let response = client
        .put(format!("{base}{}", routes::blob(&id, &md5.to_hex())))
        .bearer_auth(&key)
        .header(header::CONTENT_LENGTH, SIZE.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    client
        .post(format!("{base}{}", routes::commit(&id)))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let response = client
        .get(format!("{base}{}", routes::blob(&id, &md5.to_hex())))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut hasher = cairn_hash::Hasher::new(cairn_hash::Algorithms::MD5);
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk.unwrap());
    }
    let downloaded = hasher.finalize();
    assert_eq!(downloaded.size, SIZE);
    assert_eq!(downloaded.md5, md5);
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        let grown = after.saturating_sub(before) / 1024;
        assert!(
            grown < 100,
            "peak memory grew by {grown} MiB while streaming {} MiB",
            SIZE >> 20
        );
    }
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}
