//! Staged uploads: a blob sent before any version lists it is present for its sender's
//! versions only, what `known-sizes` says stays within what the caller can read, bad bodies
//! store nothing, and a staged blob lasts the garbage collector's grace period, no longer.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use bytes::Bytes;
use cairn_api::{BlobRef, ErrorCode, KnownSizes, routes};

use crate::harness::{Files, Server, begin_log, create_request, log};

/// A blob over the packing limit, so it is stored as a file.
fn big(seed: u8) -> Vec<u8> {
    (0..200_000_u32)
        .map(|index| (index as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

/// `POST staged-blobs` with `bytes` and their length announced.
async fn stage(
    server: &Server,
    key: Option<&str>,
    entity: &str,
    project: &str,
    bytes: &[u8],
) -> crate::harness::Answer {
    server
        .send(
            Server::request(Method::POST, &routes::staged_blobs(entity, project), key)
                .header(header::CONTENT_LENGTH, bytes.len().to_string())
                .body(Body::from(bytes.to_vec()))
                .unwrap(),
        )
        .await
}

async fn known(server: &Server, key: &str, entity: &str, sizes: &[u64]) -> Vec<u64> {
    let answer: KnownSizes = server
        .call_json(
            Method::POST,
            &routes::known_sizes(entity, "p"),
            Some(key),
            &KnownSizes {
                sizes: sizes.to_vec(),
            },
        )
        .await
        .expect(StatusCode::OK)
        .json();
    answer.sizes
}

fn missing_paths(files: &Files, receipt: &cairn_api::ManifestReceipt) -> Vec<String> {
    let mut paths: Vec<String> = files
        .files
        .iter()
        .filter(|(_, bytes)| {
            let md5 = cairn_hash::md5(bytes);
            receipt.missing.iter().any(|blob| blob.md5 == md5)
        })
        .map(|(path, _)| path.clone())
        .collect();
    paths.sort();
    paths
}

#[tokio::test]
async fn a_staged_blob_is_present_for_its_sender_and_nobody_else() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let content = big(1);
    let files = Files::new(&[("big.bin", &content), ("small.txt", b"tiny")]);

    let staged: BlobRef = stage(&server, Some(&alice), "alice", "p", &content)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(staged.md5, cairn_hash::md5(&content));
    assert_eq!(staged.size, content.len() as u64);
    assert_eq!(server.state.stats().blobs_received, 1);

    // alice's version needs only what she did not stage.
    let request = create_request("data", &files);
    let (_, receipt) = begin_log(&server, &alice, "alice", "p", &request, &files).await;
    assert_eq!(missing_paths(&files, &receipt), ["small.txt"]);
    // bob holds nothing: he is asked for both, although the server has the bytes.
    let (_, receipt) = begin_log(&server, &bob, "bob", "p", &request, &files).await;
    assert_eq!(missing_paths(&files, &receipt), ["big.bin", "small.txt"]);

    // Sizes: alice has a blob of the staged size; bob learns nothing about it.
    let size = content.len() as u64;
    assert_eq!(known(&server, &alice, "alice", &[size, 4, 7]).await, [size]);
    assert!(known(&server, &bob, "bob", &[size, 4]).await.is_empty());

    // Once a committed version bob may read lists the content, its size is known to him too.
    log(&server, &alice, "alice", "p", request, &files).await;
    assert!(known(&server, &bob, "bob", &[size]).await.is_empty());
    server
        .set_visibility("alice", "p", cairn_api::Visibility::Public)
        .await;
    assert_eq!(known(&server, &bob, "bob", &[size]).await, [size]);

    // Staging needs a signed-in caller who may write to the project.
    stage(&server, None, "alice", "p", b"x")
        .await
        .expect_problem(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated);
    stage(&server, Some(&bob), "alice", "p", b"x")
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call_json(
            Method::POST,
            &routes::known_sizes("alice", "p"),
            Some(&bob),
            &KnownSizes { sizes: vec![size] },
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    // A new project is created on first use, as when a version is logged.
    stage(&server, Some(&bob), "bob", "fresh", b"x")
        .await
        .expect(StatusCode::OK);
    server
        .call(Method::GET, &routes::project("bob", "fresh"), Some(&bob))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn bad_staged_bodies_store_nothing() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let content = big(2);
    let url = routes::staged_blobs("admin", "p");
    // No announced length.
    let answer = server
        .send(
            Server::request(Method::POST, &url, Some(&key))
                .body(Body::from(content.clone()))
                .unwrap(),
        )
        .await;
    let problem = answer.expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    assert!(problem.detail.contains("Content-Length"), "{problem:?}");
    // More or fewer bytes than announced.
    for (announced, sent) in [
        (content.len() - 1, &content[..]),
        (content.len() + 1, &content[..]),
    ] {
        let answer = server
            .send(
                Server::request(Method::POST, &url, Some(&key))
                    .header(header::CONTENT_LENGTH, announced.to_string())
                    .body(Body::from(sent.to_vec()))
                    .unwrap(),
            )
            .await;
        answer.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::SizeMismatch);
    }
    // The connection breaks halfway.
    let stream = futures_util::stream::iter(vec![
        Ok(Bytes::from(content[..1000].to_vec())),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer went away",
        )),
    ]);
    let answer = server
        .send(
            Server::request(Method::POST, &url, Some(&key))
                .header(header::CONTENT_LENGTH, content.len().to_string())
                .body(Body::from_stream(stream))
                .unwrap(),
        )
        .await;
    answer.expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    // An empty body.
    stage(&server, Some(&key), "admin", "p", b"")
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    // A size no blob can have, and too many sizes at once.
    for sizes in [vec![1, u64::MAX], (0..10_001).collect()] {
        server
            .call_json(
                Method::POST,
                &routes::known_sizes("admin", "p"),
                Some(&key),
                &KnownSizes { sizes },
            )
            .await
            .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    }

    // Refused bodies count as rejected blobs (a missing length is refused before reading).
    let stats = server.state.stats();
    assert_eq!((stats.blobs_received, stats.blobs_rejected), (0, 3));
    assert!(
        known(&server, &key, "admin", &[content.len() as u64])
            .await
            .is_empty()
    );
    let tmp = fs_err::read_dir(server.data_dir().join("tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0, "no temporary file is left");
}

/// The grace period (an hour) counts from the last staging, not from the storing of the bytes.
#[tokio::test]
async fn a_staged_blob_lasts_the_grace_period_and_no_longer() {
    let server = Server::start_with(|config| config.with_test_clock()).await;
    let key = server.admin_key.clone();
    let content = big(3);
    let size = content.len() as u64;
    let files = Files::new(&[("big.bin", &content)]);
    stage(&server, Some(&key), "admin", "p", &content)
        .await
        .expect(StatusCode::OK);
    server.advance_clock(50 * 60).await;
    stage(&server, Some(&key), "admin", "p", &content)
        .await
        .expect(StatusCode::OK);
    // 100 minutes after the bytes were stored, 50 after the second staging: kept.
    server.advance_clock(50 * 60).await;
    let report = server.collect_garbage(false).await;
    assert_eq!((report.freed_blobs, report.kept_in_grace_blobs), (0, 1));
    assert_eq!(known(&server, &key, "admin", &[size]).await, [size]);

    // Past the grace period, the bytes go and the staging is forgotten: a version asks for
    // them again.
    server.advance_clock(20 * 60).await;
    let report = server.collect_garbage(false).await;
    assert_eq!(report.freed_blobs, 1, "{report:?}");
    assert!(known(&server, &key, "admin", &[size]).await.is_empty());
    let request = create_request("data", &files);
    let (_, receipt) = begin_log(&server, &key, "admin", "p", &request, &files).await;
    assert_eq!(receipt.missing.len(), 1, "{receipt:?}");
}

/// Once a manifest lists a staged blob, the blob belongs to the version: another writer can
/// commit it, and it stays present after the staging expired and a collection ran.
#[tokio::test]
async fn a_staged_blob_listed_by_a_manifest_belongs_to_the_version() {
    let server = Server::start_with(|config| config.with_test_clock()).await;
    let (alice, bob) = server.lab_team().await;
    let content = big(4);
    let files = Files::new(&[("big.bin", &content)]);
    stage(&server, Some(&alice), "lab", "p", &content)
        .await
        .expect(StatusCode::OK);
    let request = create_request("data", &files);
    let (created, receipt) = begin_log(&server, &alice, "lab", "p", &request, &files).await;
    assert!(receipt.missing.is_empty(), "{receipt:?}");

    // Two hours later the staging has expired and a collection ran: the pending version still
    // holds the bytes, and bob, who sent nothing, commits it.
    server.advance_clock(120 * 60).await;
    let report = server.collect_garbage(false).await;
    assert_eq!(report.freed_blobs, 0, "{report:?}");
    let committed: cairn_api::Version = server
        .call(
            Method::POST,
            &routes::commit(&created.version.id),
            Some(&bob),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(committed.version_index, Some(0));
    // A staging that expired before any manifest listed it counts for nothing.
    let other = Files::new(&[("other.bin", &big(5))]);
    stage(&server, Some(&alice), "lab", "p", &other.files[0].1)
        .await
        .expect(StatusCode::OK);
    server.advance_clock(61 * 60).await;
    let (_, receipt) = begin_log(
        &server,
        &alice,
        "lab",
        "p",
        &create_request("other", &other),
        &other,
    )
    .await;
    assert_eq!(receipt.missing.len(), 1, "{receipt:?}");
}
