//! The logging protocol: create → manifest → missing → upload → commit → read, deduplication,
//! resuming, and the ways a client can get it wrong.

use axum::http::{Method, StatusCode};
use cairn_api::{
    CreateVersionStatus, CreatedVersion, ErrorCode, ManifestReceipt, Version, VersionState, routes,
};
use serde_json::{Map, Value, json};

use crate::harness::{Files, Server, begin_log, create_request, log};

fn cats() -> Files {
    Files::new(&[
        ("a.txt", b"alpha"),
        ("dir/b.txt", b"bravo"),
        ("dir/c.bin", &[7_u8; 100_000]),
    ])
}

#[tokio::test]
async fn create_manifest_upload_commit_read() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let files = cats();
    let mut request = create_request("cats", &files);
    request.aliases = vec!["best".to_owned()];
    request.tags = vec!["raw".to_owned()];
    request.metadata = Map::from_iter([("rows".to_owned(), json!(3))]);
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "vision"),
            Some(&key),
            &request,
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(created.status, CreateVersionStatus::Created);
    assert_eq!(created.version.state, VersionState::Pending);
    assert_eq!(created.version.version_index, None);
    let id = created.version.id.clone();
    assert_eq!(id.len(), 24);

    // Commit before the manifest: refused.
    server
        .call(Method::POST, &routes::commit(&id), Some(&key))
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::ManifestMissing);

    let manifest = files.manifest_bytes();
    let receipt: ManifestReceipt = server
        .call_bytes(
            Method::PUT,
            &routes::manifest(&id),
            Some(&key),
            manifest.clone(),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(receipt.digest.to_hex(), files.digest());
    assert_eq!(receipt.file_count, 3);
    assert_eq!(receipt.size, 100_010);
    assert_eq!(receipt.missing.len(), 3);

    // Commit with blobs missing: 422 with the list.
    let problem = server
        .call(Method::POST, &routes::commit(&id), Some(&key))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::MissingBlobs);
    assert_eq!(problem.missing, receipt.missing);

    for blob in &receipt.missing {
        server
            .call_bytes(
                Method::PUT,
                &routes::blob(&id, &blob.md5.to_hex()),
                Some(&key),
                files.blob(&blob.md5.to_hex()),
            )
            .await
            .expect(StatusCode::OK);
    }
    let missing: ManifestReceipt = server
        .call(Method::GET, &routes::missing_blobs(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(missing.missing.is_empty());

    let committed: Version = server
        .call(Method::POST, &routes::commit(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(committed.version_index, Some(0));
    assert_eq!(committed.state, VersionState::Committed);
    assert_eq!(committed.aliases, vec!["best", "latest"]);
    assert_eq!(committed.tags, vec!["raw"]);
    assert_eq!(committed.metadata["rows"], 3);
    assert_eq!(committed.size, 100_010);
    assert_eq!(committed.file_count, 3);
    assert!(committed.committed_at.is_some());

    // Committing again is idempotent.
    let again: Version = server
        .call(Method::POST, &routes::commit(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(again.version_index, Some(0));

    // Read it back by name and by id, and the verbatim manifest and every blob.
    let by_name: Version = server
        .call(
            Method::GET,
            &routes::version_by_name("admin", "vision", "cats", "latest"),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(by_name.id, id);
    let by_id: Version = server
        .call(Method::GET, &routes::version(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(by_id, by_name);
    let answer = server
        .call(Method::GET, &routes::manifest(&id), Some(&key))
        .await;
    answer.expect(StatusCode::OK);
    assert_eq!(answer.body.as_ref(), manifest.as_slice());
    for (path, bytes) in &files.files {
        let answer = server
            .call(
                Method::GET,
                &routes::blob(&id, &files.md5(path)),
                Some(&key),
            )
            .await;
        answer.expect(StatusCode::OK);
        assert_eq!(answer.body.as_ref(), bytes.as_slice(), "{path}");
    }
    let stats = server.state.stats();
    assert_eq!(stats.blobs_received, 3);
    assert_eq!(stats.blob_bytes_received, 100_010);
    assert_eq!(stats.versions_committed, 1);
    assert_eq!(stats.blobs_served, 3);
}

#[tokio::test]
async fn unchanged_relog_is_existing_and_one_changed_file_uploads_one_blob() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let files = cats();
    let first = log(
        &server,
        &key,
        "admin",
        "vision",
        create_request("cats", &files),
        &files,
    )
    .await;

    let mut again = create_request("cats", &files);
    again.aliases = vec!["prod".to_owned()];
    let answer: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "vision"),
            Some(&key),
            &again,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(answer.status, CreateVersionStatus::Existing);
    assert_eq!(answer.version.id, first.id);
    assert_eq!(answer.version.aliases, vec!["latest", "prod"]);

    let mut changed = files.clone();
    changed.files[0].1 = b"alpha, edited".to_vec();
    let (_, receipt) = begin_log(
        &server,
        &key,
        "admin",
        "vision",
        &create_request("cats", &changed),
        &changed,
    )
    .await;
    assert_eq!(receipt.missing.len(), 1);
    assert_eq!(receipt.missing[0].md5.to_hex(), changed.md5("a.txt"));
    // Another collection of the same entity shares the blobs too.
    let (_, receipt) = begin_log(
        &server,
        &key,
        "admin",
        "other-project",
        &create_request("dogs", &files),
        &files,
    )
    .await;
    assert!(receipt.missing.is_empty(), "{receipt:?}");
}

#[tokio::test]
async fn a_pending_version_with_the_same_digest_is_resumed() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let files = cats();
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "vision"),
            Some(&key),
            &create_request("cats", &files),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = created.version.id.clone();
    let receipt: ManifestReceipt = server
        .call_bytes(
            Method::PUT,
            &routes::manifest(&id),
            Some(&key),
            files.manifest_bytes(),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    let first = &receipt.missing[0];
    server
        .call_bytes(
            Method::PUT,
            &routes::blob(&id, &first.md5.to_hex()),
            Some(&key),
            files.blob(&first.md5.to_hex()),
        )
        .await
        .expect(StatusCode::OK);

    // The client crashed; a second run of the same log resumes.
    let resumed: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "vision"),
            Some(&key),
            &create_request("cats", &files),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(resumed.status, CreateVersionStatus::Resumed);
    assert_eq!(resumed.version.id, id);
    assert!(resumed.manifest_uploaded);
    let missing: ManifestReceipt = server
        .call(Method::GET, &routes::missing_blobs(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(missing.missing.len(), 2);
    assert!(!missing.missing.contains(first));
    // Re-uploading the identical manifest is fine and changes nothing.
    server
        .call_bytes(
            Method::PUT,
            &routes::manifest(&id),
            Some(&key),
            files.manifest_bytes(),
        )
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn manifests_that_escape_the_root_or_mismatch_the_digest_are_rejected() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let files = cats();
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "vision"),
            Some(&key),
            &create_request("cats", &files),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = created.version.id;
    let digest = cairn_hash::md5(b"x").to_base64();
    for path in ["../x", "/abs", "a/../../x"] {
        let manifest = json!({
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {path: {"digest": digest, "size": 1}},
        });
        let problem = server
            .call_bytes(
                Method::PUT,
                &routes::manifest(&id),
                Some(&key),
                manifest.to_string(),
            )
            .await
            .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidManifest);
        assert!(
            problem.detail.contains(path.trim_start_matches('/')) || problem.detail.contains(".."),
            "{problem:?}"
        );
    }
    // A well-formed manifest of other content does not hash to the declared digest.
    let other = Files::new(&[("a.txt", b"something else")]);
    let problem = server
        .call_bytes(
            Method::PUT,
            &routes::manifest(&id),
            Some(&key),
            other.manifest_bytes(),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidManifest);
    assert!(problem.detail.contains(&files.digest()) && problem.detail.contains(&other.digest()));
    server
        .call_bytes(Method::PUT, &routes::manifest(&id), Some(&key), "not json")
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidManifest);
    // Nothing was stored.
    server
        .call(Method::GET, &routes::missing_blobs(&id), Some(&key))
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::ManifestMissing);
}

#[tokio::test]
async fn requests_with_bad_names_metadata_or_types_are_refused() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let files = cats();
    let versions = routes::versions("admin", "vision");
    let check = |request: cairn_api::CreateVersion, code: ErrorCode| {
        let server = &server;
        let versions = &versions;
        let key = &key;
        async move {
            let answer = server
                .call_json(Method::POST, versions, Some(key), &request)
                .await;
            answer.expect_problem(
                axum::http::StatusCode::from_u16(code.status()).unwrap(),
                code,
            )
        }
    };
    let mut request = create_request("cats", &files);
    request.metadata = (0..101)
        .map(|index| (format!("k{index}"), Value::from(index)))
        .collect();
    check(request, ErrorCode::InvalidMetadata).await;
    for name in ["a/b", "", "has space", "x:y"] {
        check(create_request(name, &files), ErrorCode::InvalidName).await;
    }
    let mut request = create_request("cats", &files);
    request.aliases = vec!["v7".to_owned()];
    check(request, ErrorCode::InvalidName).await;
    let mut request = create_request("cats", &files);
    request.tags = vec!["bad,tag".to_owned()];
    check(request, ErrorCode::InvalidName).await;
    let mut request = create_request("cats", &files);
    request.artifact_type = "wandb-history".to_owned();
    check(request, ErrorCode::InvalidName).await;
    // A digest that is not 32 hex digits does not even make a request body.
    let mut body = serde_json::to_value(create_request("cats", &files)).unwrap();
    body["digest"] = serde_json::Value::from("not-a-digest");
    server
        .call_json(Method::POST, &versions, Some(&key), &body)
        .await
        .expect_problem(axum::http::StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    let mut request = create_request("cats", &files);
    request.run = Some("no-such-run".to_owned());
    check(request, ErrorCode::NotFound).await;
    // Bad project and entity names.
    for path in [
        routes::versions("admin", "a%b"),
        routes::versions("Admin", "p"),
    ] {
        let problem = server
            .call_json(
                Method::POST,
                &path,
                Some(&key),
                &create_request("cats", &files),
            )
            .await;
        assert!(
            matches!(
                problem.problem().code,
                ErrorCode::InvalidName | ErrorCode::PermissionDenied
            ),
            "{problem:?}"
        );
    }
    // The collection's type is fixed by its first version.
    log(
        &server,
        &key,
        "admin",
        "vision",
        create_request("cats", &files),
        &files,
    )
    .await;
    let mut request = create_request("cats", &Files::new(&[("x", b"x")]));
    request.artifact_type = "model".to_owned();
    let problem = check(request, ErrorCode::Conflict).await;
    assert!(problem.detail.contains("dataset") && problem.detail.contains("model"));
    // Malformed JSON and a wrong content type are problem bodies too.
    server
        .call_bytes(Method::POST, &versions, Some(&key), "{")
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    let answer = server
        .send(
            Server::request(Method::POST, &versions, Some(&key))
                .header("content-type", "text/plain")
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    answer.expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
}

#[tokio::test]
async fn reference_entries_need_no_upload_and_xxh128_files_are_refused() {
    use cairn_manifest::{DigestAlgorithm, Entry, LogicalPath, Manifest};
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let mut manifest = Manifest::new();
    manifest
        .add(
            LogicalPath::new("local.txt").unwrap(),
            Entry::file(cairn_hash::md5(b"local").to_base64(), 5),
            false,
        )
        .unwrap();
    manifest
        .add(
            LogicalPath::new("remote/data.csv").unwrap(),
            Entry::reference("s3://bucket/data.csv", "\"etag-1\"", Some(1234)),
            false,
        )
        .unwrap();
    let mut request = create_request("mixed", &Files::new(&[]));
    request.digest =
        cairn_hash::Md5Digest::from_hex(&manifest.digest(DigestAlgorithm::Md5)).unwrap();
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &request,
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = created.version.id;
    let receipt: ManifestReceipt = server
        .call_bytes(
            Method::PUT,
            &routes::manifest(&id),
            Some(&key),
            manifest.to_core_json(),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(receipt.file_count, 2);
    assert_eq!(receipt.missing.len(), 1, "the reference needs no upload");
    server
        .call_bytes(
            Method::PUT,
            &routes::blob(&id, &receipt.missing[0].md5.to_hex()),
            Some(&key),
            "local",
        )
        .await
        .expect(StatusCode::OK);
    let version: Version = server
        .call(Method::POST, &routes::commit(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(version.version_index, Some(0));

    let mut xxh = Manifest::new();
    xxh.add(
        LogicalPath::new("fast.bin").unwrap(),
        Entry::file_with_algorithm(
            DigestAlgorithm::Xxh128,
            cairn_hash::xxh128(b"x").to_base64(),
            1,
        ),
        false,
    )
    .unwrap();
    let mut request = create_request("fast", &Files::new(&[]));
    request.digest = cairn_hash::Md5Digest::from_hex(&xxh.digest(DigestAlgorithm::Md5)).unwrap();
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &request,
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let problem = server
        .call_bytes(
            Method::PUT,
            &routes::manifest(&created.version.id),
            Some(&key),
            xxh.to_core_json(),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::InvalidManifest);
    assert!(problem.detail.contains("XXH128"), "{problem:?}");
}
