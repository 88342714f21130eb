//! Blob uploads and downloads: what is refused (and then not stored), batches, ranges and
//! conditional requests.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use bytes::Bytes;
use cairn_api::batch::{CONTENT_TYPE as BATCH, FrameHeader};
use cairn_api::{BlobReceipt, CreatedVersion, ErrorCode, ManifestReceipt, routes};

use crate::harness::{Files, Server, begin_log, create_request};

/// A PENDING version of `files` with its manifest uploaded; returns its id.
async fn pending(server: &Server, files: &Files) -> String {
    let key = server.admin_key.clone();
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &create_request("data", files),
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
    id
}

async fn missing(server: &Server, id: &str) -> Vec<String> {
    let receipt: ManifestReceipt = server
        .call(
            Method::GET,
            &routes::missing_blobs(id),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    receipt
        .missing
        .into_iter()
        .map(|blob| blob.md5.to_hex())
        .collect()
}

fn tmp_is_empty(server: &Server) -> bool {
    fs_err::read_dir(server.data_dir().join("tmp"))
        .unwrap()
        .next()
        .is_none()
}

#[tokio::test]
async fn wrong_bytes_wrong_sizes_and_truncated_bodies_store_nothing() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let big = vec![42_u8; 300_000];
    let files = Files::new(&[("small.txt", b"hello"), ("big.bin", &big)]);
    let id = pending(&server, &files).await;
    for path in ["small.txt", "big.bin"] {
        let md5 = files.md5(path);
        let bytes = files.blob(&md5);
        let url = routes::blob(&id, &md5);
        // Same length, other content.
        let mut corrupt = bytes.clone();
        corrupt[0] ^= 1;
        server
            .call_bytes(Method::PUT, &url, Some(&key), corrupt)
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::DigestMismatch);
        // Too long and too short.
        let mut long = bytes.clone();
        long.push(0);
        server
            .call_bytes(Method::PUT, &url, Some(&key), long)
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::SizeMismatch);
        server
            .call_bytes(
                Method::PUT,
                &url,
                Some(&key),
                bytes[..bytes.len() - 1].to_vec(),
            )
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::SizeMismatch);
        // A declared length the manifest disagrees with is refused before reading.
        let answer = server
            .send(
                Server::request(Method::PUT, &url, Some(&key))
                    .header(header::CONTENT_LENGTH, "3")
                    .body(Body::from(bytes[..3].to_vec()))
                    .unwrap(),
            )
            .await;
        answer.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::SizeMismatch);
        // The connection breaks halfway.
        let half = Bytes::from(bytes[..bytes.len() / 2].to_vec());
        let stream = futures_util::stream::iter(vec![
            Ok(half),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "peer went away",
            )),
        ]);
        let answer = server
            .send(
                Server::request(Method::PUT, &url, Some(&key))
                    .body(Body::from_stream(stream))
                    .unwrap(),
            )
            .await;
        assert!(answer.status.is_client_error(), "{answer:?}");
        assert!(
            missing(&server, &id).await.contains(&md5),
            "{path} was stored"
        );
    }
    assert!(tmp_is_empty(&server));
    assert_eq!(server.state.stats().blobs_rejected, 10);
    assert_eq!(server.state.stats().blobs_received, 0);
    // A blob that is not in the manifest, and a malformed MD5.
    let stranger = cairn_hash::md5(b"stranger").to_hex();
    server
        .call_bytes(
            Method::PUT,
            &routes::blob(&id, &stranger),
            Some(&key),
            "stranger",
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call_bytes(Method::PUT, &routes::blob(&id, "xyz"), Some(&key), "x")
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    // The right bytes are accepted, and a commit works.
    for (_, bytes) in &files.files {
        let md5 = cairn_hash::md5(bytes).to_hex();
        let receipt: BlobReceipt = server
            .call_bytes(
                Method::PUT,
                &routes::blob(&id, &md5),
                Some(&key),
                bytes.clone(),
            )
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(receipt.blobs, 1);
    }
    server
        .call(Method::POST, &routes::commit(&id), Some(&key))
        .await
        .expect(StatusCode::OK);
    // After the commit nothing more may be uploaded to it.
    server
        .call_bytes(
            Method::PUT,
            &routes::blob(&id, &files.md5("small.txt")),
            Some(&key),
            "hello",
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::NotPending);
    assert!(tmp_is_empty(&server));
}

fn frame(bytes: &[u8]) -> Vec<u8> {
    let header =
        FrameHeader::from_hex(&cairn_hash::md5(bytes).to_hex(), bytes.len() as u64).unwrap();
    let mut out = header.encode().to_vec();
    out.extend_from_slice(bytes);
    out
}

async fn batch(server: &Server, id: &str, body: Vec<u8>) -> crate::harness::Answer {
    server
        .send(
            Server::request(
                Method::POST,
                &routes::blob_batch(id),
                Some(&server.admin_key),
            )
            .header(header::CONTENT_TYPE, BATCH)
            .body(Body::from(body))
            .unwrap(),
        )
        .await
}

#[tokio::test]
async fn batches_store_verified_frames_and_stop_at_a_bad_one() {
    let server = Server::start().await;
    let contents: Vec<Vec<u8>> = (0..6)
        .map(|index| format!("file number {index}").into_bytes())
        .collect();
    let named: Vec<(String, Vec<u8>)> = contents
        .iter()
        .enumerate()
        .map(|(index, bytes)| (format!("f{index}.txt"), bytes.clone()))
        .collect();
    let files = Files { files: named };
    let id = pending(&server, &files).await;

    // Frames 0 and 1 are good, frame 2 is corrupt: 0 and 1 are kept.
    let mut body = frame(&contents[0]);
    body.extend(frame(&contents[1]));
    let mut corrupt = frame(&contents[2]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    body.extend(corrupt);
    body.extend(frame(&contents[3]));
    let problem = batch(&server, &id, body)
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::DigestMismatch);
    assert!(
        problem.detail.contains("2 blob(s) before it"),
        "{problem:?}"
    );
    let left = missing(&server, &id).await;
    assert_eq!(left.len(), 4);
    assert!(!left.contains(&files.md5("f0.txt")) && !left.contains(&files.md5("f1.txt")));

    // A batch cut inside its last frame keeps the complete frames only.
    let mut body = frame(&contents[2]);
    let cut = frame(&contents[3]);
    body.extend_from_slice(&cut[..cut.len() - 3]);
    batch(&server, &id, body)
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    let left = missing(&server, &id).await;
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.contains(&files.md5("f3.txt")));

    // A frame for a blob the manifest does not list, and the wrong content type.
    batch(&server, &id, frame(b"not in the manifest"))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call_bytes(
            Method::POST,
            &routes::blob_batch(&id),
            Some(&server.admin_key),
            frame(&contents[3]),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);

    // The rest in one good batch, sent again (already held blobs are fine), then commit.
    let mut body = Vec::new();
    for bytes in &contents[3..] {
        body.extend(frame(bytes));
    }
    for _ in 0..2 {
        let receipt: BlobReceipt = batch(&server, &id, body.clone())
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(receipt.blobs, 3);
        assert_eq!(receipt.bytes, body.len() as u64);
    }
    assert!(missing(&server, &id).await.is_empty());
    commit_and_read_back(&server, &id, contents.iter()).await;
}

/// Commits version `id` and checks that each of `contents` downloads as it was sent.
async fn commit_and_read_back<'a>(
    server: &Server,
    id: &str,
    contents: impl IntoIterator<Item = &'a Vec<u8>>,
) {
    server
        .call(Method::POST, &routes::commit(id), Some(&server.admin_key))
        .await
        .expect(StatusCode::OK);
    for bytes in contents {
        let md5 = cairn_hash::md5(bytes).to_hex();
        let answer = server
            .call(
                Method::GET,
                &routes::blob(id, &md5),
                Some(&server.admin_key),
            )
            .await;
        assert_eq!(
            answer.expect(StatusCode::OK).body.as_ref(),
            bytes.as_slice()
        );
    }
}

/// Blobs over the packing size but within `BATCH_BLOB_MAX_SIZE` go up in batches too, and are
/// stored one file each, as if streamed alone; a larger frame, or a corrupt one, stores nothing.
#[tokio::test]
async fn medium_blobs_go_up_in_batches_and_are_stored_as_files() {
    let server = Server::start().await;
    let limit = usize::try_from(cairn_api::BATCH_BLOB_MAX_SIZE).unwrap();
    let sized = |size: usize, seed: u8| -> Vec<u8> {
        (0..size).map(|index| (index % 251) as u8 ^ seed).collect()
    };
    let (small, medium, at_limit, over) = (
        b"tiny".to_vec(),
        sized(100_000, 1),
        sized(limit, 2),
        sized(limit + 1, 3),
    );
    let files = Files::new(&[
        ("small", &small),
        ("medium", &medium),
        ("at-limit", &at_limit),
        ("over", &over),
    ]);
    let id = pending(&server, &files).await;

    let mut corrupt = frame(&medium);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    batch(&server, &id, corrupt)
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::DigestMismatch);
    let problem = batch(&server, &id, frame(&over))
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    assert!(problem.detail.contains("one by one"), "{problem:?}");
    assert_eq!(missing(&server, &id).await.len(), 4);

    let mut body = frame(&small);
    body.extend(frame(&medium));
    body.extend(frame(&at_limit));
    let receipt: BlobReceipt = batch(&server, &id, body)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(receipt.blobs, 3);
    assert_eq!(missing(&server, &id).await, [files.md5("over")]);
    // Stored as files under `blobs/aa/<md5>-<size>`, not packed; nothing left in `tmp/`.
    for bytes in [&medium, &at_limit] {
        let md5 = cairn_hash::md5(bytes).to_hex();
        let stored = server
            .data_dir()
            .join("blobs")
            .join(&md5[..2])
            .join(format!("{md5}-{}", bytes.len()));
        assert_eq!(&fs_err::read(&stored).unwrap(), bytes);
    }
    assert!(tmp_is_empty(&server));
    server
        .call_bytes(
            Method::PUT,
            &routes::blob(&id, &files.md5("over")),
            Some(&server.admin_key),
            over.clone(),
        )
        .await
        .expect(StatusCode::OK);
    commit_and_read_back(&server, &id, [&small, &medium, &at_limit, &over]).await;
}

/// The server says how large a batch's blobs may be.
#[tokio::test]
async fn the_server_announces_its_batch_blob_size() {
    let server = Server::start().await;
    let info: cairn_api::ServerInfo = server
        .call(Method::GET, routes::SERVER, None)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(info.batch_blob_max_size, cairn_api::BATCH_BLOB_MAX_SIZE);
    // A server from before the field is read as taking small blobs only.
    let old: cairn_api::ServerInfo = serde_json::from_str(
        r#"{"api_version": 1, "server_version": "0.0.0", "blob_store": "local"}"#,
    )
    .unwrap();
    assert_eq!(old.batch_blob_max_size, cairn_api::SMALL_BLOB_MAX_SIZE);
}

#[tokio::test]
async fn oversized_batches_are_refused() {
    let server = Server::start().await;
    let files = Files::new(&[("a", b"a")]);
    let id = pending(&server, &files).await;
    let answer = server
        .send(
            Server::request(
                Method::POST,
                &routes::blob_batch(&id),
                Some(&server.admin_key),
            )
            .header(header::CONTENT_TYPE, BATCH)
            .header(
                header::CONTENT_LENGTH,
                (cairn_api::BATCH_MAX_BYTES + 1).to_string(),
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await;
    answer.expect_problem(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
}

#[tokio::test]
async fn downloads_support_ranges_etags_and_conditional_requests() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let big: Vec<u8> = (0..200_000_u32).map(|index| (index % 251) as u8).collect();
    let files = Files::new(&[("small.txt", b"0123456789"), ("big.bin", &big)]);
    let version = crate::harness::log(
        &server,
        &key,
        "admin",
        "p",
        create_request("data", &files),
        &files,
    )
    .await;
    for (path, bytes) in &files.files {
        let md5 = files.md5(path);
        let url = routes::blob(&version.id, &md5);
        let get = |range: Option<&str>| {
            let mut request = Server::request(Method::GET, &url, Some(&key));
            if let Some(range) = range {
                request = request.header(header::RANGE, range);
            }
            server.send(request.body(Body::empty()).unwrap())
        };
        let full = get(None).await;
        full.expect(StatusCode::OK);
        assert_eq!(full.headers[header::ETAG], format!("\"{md5}\"").as_str());
        assert_eq!(full.headers[header::ACCEPT_RANGES], "bytes");
        assert_eq!(
            full.headers[header::CONTENT_LENGTH],
            bytes.len().to_string().as_str()
        );
        let size = bytes.len();
        for (range, start, end) in [
            ("bytes=2-5", 2, 6),
            ("bytes=3-", 3, size),
            ("bytes=-4", size - 4, size),
            ("bytes=0-999999999", 0, size),
        ] {
            let answer = get(Some(range)).await;
            answer.expect(StatusCode::PARTIAL_CONTENT);
            assert_eq!(answer.body.as_ref(), &bytes[start..end], "{path} {range}");
            assert_eq!(
                answer.headers[header::CONTENT_RANGE],
                format!("bytes {start}-{}/{size}", end - 1).as_str()
            );
        }
        let answer = get(Some(&format!("bytes={size}-"))).await;
        answer.expect_problem(
            StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorCode::RangeNotSatisfiable,
        );
        assert_eq!(
            answer.headers[header::CONTENT_RANGE],
            format!("bytes */{size}").as_str()
        );
        let answer = server
            .send(
                Server::request(Method::GET, &url, Some(&key))
                    .header(header::IF_NONE_MATCH, format!("\"{md5}\""))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        answer.expect(StatusCode::NOT_MODIFIED);
        assert!(answer.body.is_empty());
    }
    // A blob of another version is not served through this one.
    let other = Files::new(&[("x", b"other")]);
    let other_version = crate::harness::log(
        &server,
        &key,
        "admin",
        "p",
        create_request("other", &other),
        &other,
    )
    .await;
    server
        .call(
            Method::GET,
            &routes::blob(&version.id, &other.md5("x")),
            Some(&key),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call(
            Method::GET,
            &routes::blob(&other_version.id, &other.md5("x")),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn another_entity_must_send_the_bytes_but_they_are_stored_once() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    let big = vec![9_u8; 200_000];
    let files = Files::new(&[("big.bin", &big), ("small.txt", b"tiny")]);
    crate::harness::log(
        &server,
        &server.admin_key,
        "admin",
        "p",
        create_request("data", &files),
        &files,
    )
    .await;
    // alice's entity does not hold the blobs, so she is asked for them although the server
    // has the bytes.
    let (created, receipt) = begin_log(
        &server,
        &alice,
        "alice",
        "p",
        &create_request("data", &files),
        &files,
    )
    .await;
    assert_eq!(receipt.missing.len(), 2);
    // Sending wrong bytes does not get her the blob.
    server
        .call_bytes(
            Method::PUT,
            &routes::blob(&created.version.id, &files.md5("big.bin")),
            Some(&alice),
            vec![8_u8; 200_000],
        )
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::DigestMismatch);
    for blob in &receipt.missing {
        server
            .call_bytes(
                Method::PUT,
                &routes::blob(&created.version.id, &blob.md5.to_hex()),
                Some(&alice),
                files.blob(&blob.md5.to_hex()),
            )
            .await
            .expect(StatusCode::OK);
    }
    server
        .call(
            Method::POST,
            &routes::commit(&created.version.id),
            Some(&alice),
        )
        .await
        .expect(StatusCode::OK);
    let stored: Vec<_> = walk(&server.data_dir().join("blobs"));
    assert_eq!(stored.len(), 1, "{stored:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Many small files through batches of 1,000, then a commit: every frame is checked against a
/// large manifest (the per-frame lookup is indexed; `db::schema`'s tests pin the query plan).
#[tokio::test]
async fn many_small_files_go_up_in_batches() {
    let server = Server::start().await;
    let count = 10_000;
    let files = Files {
        files: (0..count)
            .map(|index| {
                (
                    format!("d{}/f{index}.txt", index % 50),
                    format!("small file {index}").into_bytes(),
                )
            })
            .collect(),
    };
    let id = pending(&server, &files).await;
    let mut received = 0;
    for chunk in files.files.chunks(1_000) {
        let mut body = Vec::new();
        for (_, bytes) in chunk {
            body.extend(frame(bytes));
        }
        let receipt: BlobReceipt = batch(&server, &id, body)
            .await
            .expect(StatusCode::OK)
            .json();
        received += receipt.blobs;
    }
    assert_eq!(received, count);
    assert!(missing(&server, &id).await.is_empty());
    let version: cairn_api::Version = server
        .call(Method::POST, &routes::commit(&id), Some(&server.admin_key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(version.file_count, count);
}

/// `POST .../small-blobs`: frames in the order asked, one access decision, refusals in words.
#[tokio::test]
async fn small_blobs_come_many_per_answer_in_order() {
    use cairn_api::batch::{FRAME_HEADER_LEN, FrameHeader};
    use cairn_api::{ErrorCode, ReadSmallBlobs, routes};

    let server = crate::harness::Server::start().await;
    let key = server.admin_key.clone();
    // Stored in a file, not packed, but small enough for a batch.
    let medium = vec![5_u8; 100_000];
    let big = vec![7_u8; cairn_api::BATCH_BLOB_MAX_SIZE as usize + 1];
    let files = crate::harness::Files::new(&[
        ("a.txt", b"alpha"),
        ("b.txt", b"beta"),
        ("c.txt", b"gamma"),
        ("medium.bin", &medium),
        ("big.bin", &big),
    ]);
    let version = crate::harness::log(
        &server,
        &key,
        "admin",
        "p",
        crate::harness::create_request("ds", &files),
        &files,
    )
    .await;
    let md5 = |path: &str| cairn_hash::Md5Digest::from_hex(&files.md5(path)).unwrap();
    let wanted = vec![md5("c.txt"), md5("medium.bin"), md5("a.txt"), md5("b.txt")];
    let answer = server
        .call_json(
            axum::http::Method::POST,
            &routes::small_blobs(&version.id),
            Some(&key),
            &ReadSmallBlobs {
                md5: wanted.clone(),
            },
        )
        .await;
    answer.expect(axum::http::StatusCode::OK);
    let mut rest = answer.body.as_ref();
    let mut got = Vec::new();
    while !rest.is_empty() {
        let mut header = [0_u8; FRAME_HEADER_LEN];
        header.copy_from_slice(&rest[..FRAME_HEADER_LEN]);
        let header = FrameHeader::decode(&header);
        let size = usize::try_from(header.size).unwrap();
        got.push((
            header.md5_hex(),
            rest[FRAME_HEADER_LEN..FRAME_HEADER_LEN + size].to_vec(),
        ));
        rest = &rest[FRAME_HEADER_LEN + size..];
    }
    let expected: Vec<(String, Vec<u8>)> = ["c.txt", "medium.bin", "a.txt", "b.txt"]
        .iter()
        .map(|path| (files.md5(path), files.blob(&files.md5(path))))
        .collect();
    assert_eq!(got, expected);

    // A large blob, an unknown one, too many, and an outsider: refused, nothing served.
    let ask = |md5: Vec<cairn_hash::Md5Digest>, who: Option<String>| {
        let server = &server;
        let route = routes::small_blobs(&version.id);
        async move {
            server
                .call_json(
                    axum::http::Method::POST,
                    &route,
                    who.as_deref(),
                    &ReadSmallBlobs { md5 },
                )
                .await
        }
    };
    ask(vec![md5("big.bin")], Some(key.clone()))
        .await
        .expect_problem(axum::http::StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    ask(vec![cairn_hash::md5(b"never uploaded")], Some(key.clone()))
        .await
        .expect_problem(axum::http::StatusCode::NOT_FOUND, ErrorCode::NotFound);
    ask(vec![md5("a.txt"); 10_001], Some(key.clone()))
        .await
        .expect_problem(axum::http::StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    let bob = server.user("bob").await;
    ask(vec![md5("a.txt")], Some(bob))
        .await
        .expect_problem(axum::http::StatusCode::NOT_FOUND, ErrorCode::NotFound);
}
