//! Garbage collection through the real router on a real data directory: only blobs no live
//! version references go, only after the grace period (moved with the test clock), dry runs
//! change nothing, storage totals are exact afterwards, content collected comes back through a
//! normal upload, a commit that lost a deduplicated blob to a collection asks for it again,
//! bytes the metadata never recorded are collected, refusals; and the same on S3 (moto).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use cairn_api::{CollectGarbage, CreatedVersion, ErrorCode, FreeReason, Storage, Version, routes};
use cairn_server::BlobStoreConfig;
use cairn_storage::testing::{Emulator, create_s3_bucket};
use cairn_storage::{BlobKey, BlobStore, CloudHandler, S3Config};

use crate::harness::{Files, Server, create_request, log, upload_manifest};

/// A blob over the packing limit, so it lives in the blob store.
fn large(seed: u8) -> Vec<u8> {
    (0..100_000_u32)
        .map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn delete(server: &Server, id: &str) {
    server
        .call(
            Method::DELETE,
            &routes::delete_version(id, true),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK);
}

async fn project_storage(server: &Server, project: &str) -> Storage {
    server
        .call(
            Method::GET,
            &routes::project_storage("admin", project),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK)
        .json()
}

async fn read_blob(server: &Server, version: &Version, files: &Files, name: &str) -> Vec<u8> {
    server
        .call(
            Method::GET,
            &routes::blob(&version.id, &files.md5(name)),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK)
        .body
        .to_vec()
}

/// The blob store file of a large blob on the local store.
fn blob_path(server: &Server, files: &Files, name: &str) -> std::path::PathBuf {
    let md5 = files.md5(name);
    let size = files
        .files
        .iter()
        .find(|(file, _)| file == name)
        .map(|(_, bytes)| bytes.len())
        .unwrap();
    server
        .data_dir()
        .join("blobs")
        .join(&md5[..2])
        .join(format!("{md5}-{size}"))
}

/// Two versions share a blob; deleting one frees only what it alone referenced, and only once
/// the grace period has passed; afterwards the totals are exact and the content comes back
/// through an ordinary upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_unreferenced_blobs_go_after_the_grace_period() {
    let server = Server::start_with(|config| config.with_test_clock()).await;
    let key = server.admin_key.clone();
    let (shared, gone, kept) = (large(1), large(2), large(3));
    let old = Files::new(&[
        ("shared.bin", &shared),
        ("gone.bin", &gone),
        ("gone.txt", b"small and gone"),
    ]);
    let new = Files::new(&[
        ("shared.bin", &shared),
        ("kept.bin", &kept),
        ("kept.txt", b"small and kept"),
    ]);
    let old_version = log(
        &server,
        &key,
        "admin",
        "p",
        create_request("old", &old),
        &old,
    )
    .await;
    let new_version = log(
        &server,
        &key,
        "admin",
        "p",
        create_request("new", &new),
        &new,
    )
    .await;
    let before = project_storage(&server, "p").await;
    assert_eq!(before.blobs, 5);
    assert_eq!(before.live_versions, 2);

    // Nothing is unreferenced yet.
    let report = server.collect_garbage(false).await;
    assert_eq!((report.freed_blobs, report.kept_in_grace_blobs), (0, 0));
    assert_eq!(report.stored_blobs, 5);

    delete(&server, &old_version.id).await;
    let report = server.collect_garbage(false).await;
    assert_eq!(report.freed_blobs, 0, "within the grace period: {report:?}");
    assert_eq!(report.kept_in_grace_blobs, 2);
    assert_eq!(
        report.kept_in_grace_bytes,
        gone.len() as u64 + "small and gone".len() as u64
    );
    assert!(blob_path(&server, &old, "gone.bin").exists());
    // Storage already counts live versions only.
    let storage = project_storage(&server, "p").await;
    assert_eq!((storage.blobs, storage.live_versions), (3, 1));

    server.advance_clock(2 * 3600).await;
    let dry = server.collect_garbage(true).await;
    assert!(dry.dry_run);
    assert_eq!(dry.freed_blobs, 2, "{dry:?}");
    for blob in &dry.freed {
        assert_eq!(blob.reason, FreeReason::Unreferenced);
        assert!(blob.unreferenced_since.is_some());
        assert!(blob.why.contains("no live version references it since"));
    }
    assert!(
        blob_path(&server, &old, "gone.bin").exists(),
        "a dry run deletes nothing"
    );
    assert_eq!(dry.stored_blobs, 5);

    let report = server.collect_garbage(false).await;
    assert_eq!(report.freed_blobs, 2, "{report:?}");
    assert_eq!(
        report.freed_bytes,
        gone.len() as u64 + "small and gone".len() as u64
    );
    let mut freed: Vec<(&str, &str)> = report
        .freed
        .iter()
        .map(|blob| (blob.md5.as_str(), blob.location.as_str()))
        .collect();
    freed.sort_unstable();
    let mut expected = [
        (old.md5("gone.bin"), "store"),
        (old.md5("gone.txt"), "packed"),
    ];
    expected.sort_unstable();
    let expected: Vec<(&str, &str)> = expected.iter().map(|(m, l)| (m.as_str(), *l)).collect();
    assert_eq!(freed, expected);
    assert!(!blob_path(&server, &old, "gone.bin").exists());
    assert!(blob_path(&server, &new, "shared.bin").exists());

    // Exact totals: what is stored is what the live version references.
    let storage = project_storage(&server, "p").await;
    let live_bytes = (shared.len() + kept.len() + "small and kept".len()) as u64;
    assert_eq!((storage.blobs, storage.bytes), (3, live_bytes));
    assert_eq!((report.stored_blobs, report.stored_bytes), (3, live_bytes));
    let admin = report
        .entities
        .iter()
        .find(|entity| entity.entity == "admin")
        .unwrap();
    assert_eq!(admin.storage, storage);
    assert_eq!(admin.projects.len(), 1);
    assert_eq!(admin.projects[0].storage, storage);
    let entity: Storage = server
        .call(Method::GET, &routes::entity_storage("admin"), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(entity, storage);

    // The live version still serves every blob.
    for (name, bytes) in &new.files {
        assert_eq!(&read_blob(&server, &new_version, &new, name).await, bytes);
    }
    // A second collection finds nothing.
    assert_eq!(server.collect_garbage(false).await.freed_blobs, 0);

    // Logging the collected content again asks for it and stores it again.
    let again = log(
        &server,
        &key,
        "admin",
        "p",
        create_request("again", &old),
        &old,
    )
    .await;
    for (name, bytes) in &old.files {
        assert_eq!(&read_blob(&server, &again, &old, name).await, bytes);
    }
    assert!(blob_path(&server, &old, "gone.bin").exists());
}

/// A PENDING version is live: what was received for it stays, however old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_uploads_keep_their_blobs() {
    let server = Server::start_with(|config| config.with_test_clock()).await;
    let key = server.admin_key.clone();
    let big = large(7);
    let files = Files::new(&[("big.bin", &big), ("small.txt", b"pending small")]);
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &create_request("pending", &files),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = created.version.id;
    let receipt = upload_manifest(&server, &key, &id, &files).await;
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
    server.advance_clock(30 * 24 * 3600).await;
    let report = server.collect_garbage(false).await;
    assert_eq!((report.freed_blobs, report.kept_in_grace_blobs), (0, 0));
    let storage = project_storage(&server, "p").await;
    assert_eq!((storage.blobs, storage.live_versions), (2, 1));
    let version: Version = server
        .call(Method::POST, &routes::commit(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(read_blob(&server, &version, &files, "big.bin").await, big);
}

/// A version that relied on deduplicated content (present through a committed version) and
/// lost it to a collection after that version was deleted is refused at commit with
/// `missing_blobs`, uploads the blob, and commits: the commit re-checks the blob rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_after_the_collection_asks_for_the_blob_again() {
    let server = Server::start_with(|config| config.with_test_clock()).await;
    let key = server.admin_key.clone();
    let big = large(9);
    let files = Files::new(&[("big.bin", &big)]);
    let first = log(
        &server,
        &key,
        "admin",
        "p",
        create_request("a", &files),
        &files,
    )
    .await;
    // A second version of the same content, created (no manifest yet: the W&B protocol asks
    // about blobs before it sends one) while the first is live.
    let created: CreatedVersion = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &create_request("b", &files),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    delete(&server, &first.id).await;
    server.advance_clock(2 * 3600).await;
    assert_eq!(server.collect_garbage(false).await.freed_blobs, 1);
    let receipt = upload_manifest(&server, &key, &created.version.id, &files).await;
    assert_eq!(receipt.missing.len(), 1, "the collected blob is asked for");
    let refused = server
        .call(
            Method::POST,
            &routes::commit(&created.version.id),
            Some(&key),
        )
        .await;
    refused.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::MissingBlobs);
    server
        .call_bytes(
            Method::PUT,
            &routes::blob(&created.version.id, &files.md5("big.bin")),
            Some(&key),
            big.clone(),
        )
        .await
        .expect(StatusCode::OK);
    let version: Version = server
        .call(
            Method::POST,
            &routes::commit(&created.version.id),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(read_blob(&server, &version, &files, "big.bin").await, big);
}

/// Bytes in the blob store that the metadata does not record (an upload killed between
/// storing and recording them) are collected once older than the grace period; files that
/// are not blobs of this server are left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrecorded_bytes_are_collected() {
    let server = Server::start_with(|config| config.with_test_clock()).await;
    let orphan = large(11);
    let md5 = cairn_hash::md5(&orphan).to_hex();
    let dir = server.data_dir().join("blobs").join(&md5[..2]);
    fs_err::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{md5}-{}", orphan.len()));
    fs_err::write(&path, &orphan).unwrap();
    let stranger = server.data_dir().join("blobs").join("README");
    fs_err::write(&stranger, b"not a blob").unwrap();

    let report = server.collect_garbage(false).await;
    assert_eq!(report.freed_blobs, 0, "younger than the grace period");
    assert!(path.exists());
    server.advance_clock(2 * 3600).await;
    let dry = server.collect_garbage(true).await;
    assert_eq!(dry.freed_blobs, 1);
    assert_eq!(dry.freed[0].reason, FreeReason::Unrecorded);
    assert!(path.exists());
    let report = server.collect_garbage(false).await;
    assert_eq!(report.freed_blobs, 1);
    assert_eq!(report.freed[0].md5, md5);
    assert!(!path.exists());
    assert!(stranger.exists());
}

/// Only server admins collect; storage follows the read rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals() {
    let server = Server::start().await;
    let alice = server.user("alice").await;
    server
        .call_json(
            Method::POST,
            routes::SERVER_GC,
            None,
            &CollectGarbage { dry_run: true },
        )
        .await
        .expect_problem(StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated);
    server
        .call_json(
            Method::POST,
            routes::SERVER_GC,
            Some(&alice),
            &CollectGarbage { dry_run: true },
        )
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call_bytes(
            Method::POST,
            routes::SERVER_GC,
            Some(&server.admin_key),
            r#"{"dry_run": true, "grace": 0}"#,
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
    let files = Files::new(&[("a.txt", b"a")]);
    log(
        &server,
        &server.admin_key,
        "admin",
        "secret",
        create_request("a", &files),
        &files,
    )
    .await;
    server
        .call(
            Method::GET,
            &routes::project_storage("admin", "secret"),
            Some(&alice),
        )
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    server
        .call(Method::GET, &routes::entity_storage("admin"), Some(&alice))
        .await
        .expect_problem(StatusCode::FORBIDDEN, ErrorCode::PermissionDenied);
    server
        .call(Method::GET, &routes::entity_storage("nobody"), Some(&alice))
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    let own: Storage = server
        .call(Method::GET, &routes::entity_storage("alice"), Some(&alice))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(own, Storage::default());
}

/// The same collection on S3 (moto): the object goes, the shared one stays, totals are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collects_on_s3() {
    let Some(endpoint) = Emulator::S3.endpoint() else {
        return;
    };
    let bucket = create_s3_bucket(&endpoint, false).await;
    let config = S3Config::new()
        .with_endpoint(&endpoint)
        .with_static_credentials("test", "test")
        .with_retries(1, Duration::from_secs(5));
    let store: BlobStore = CloudHandler::s3(config).blob_store(&bucket).unwrap();
    let server = Server::start_with(|config| {
        config
            .with_blob_store(BlobStoreConfig::Store(store.clone()))
            .with_test_clock()
    })
    .await;
    let key = server.admin_key.clone();
    let (shared, gone) = (large(21), large(22));
    let old = Files::new(&[("shared.bin", &shared), ("gone.bin", &gone)]);
    let new = Files::new(&[("shared.bin", &shared)]);
    let old_version = log(
        &server,
        &key,
        "admin",
        "s3",
        create_request("old", &old),
        &old,
    )
    .await;
    let new_version = log(
        &server,
        &key,
        "admin",
        "s3",
        create_request("new", &new),
        &new,
    )
    .await;
    let object =
        |md5: &str, size: usize| BlobKey::new(format!("{}/{md5}-{size}", &md5[..2])).unwrap();
    let gone_key = object(&old.md5("gone.bin"), gone.len());
    let shared_key = object(&old.md5("shared.bin"), shared.len());
    assert!(store.exists(&gone_key).await.unwrap());
    // An object nothing recorded, as an upload killed after storing it would leave.
    let orphan = large(23);
    let orphan_key = object(&cairn_hash::md5(&orphan).to_hex(), orphan.len());
    store
        .put(
            &orphan_key,
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(orphan))]),
            cairn_storage::PutMode::Create,
        )
        .await
        .unwrap();

    delete(&server, &old_version.id).await;
    server.advance_clock(2 * 3600).await;
    let report = server.collect_garbage(false).await;
    assert_eq!(report.freed_blobs, 2, "{report:?}");
    assert!(!store.exists(&gone_key).await.unwrap());
    assert!(!store.exists(&orphan_key).await.unwrap());
    assert!(store.exists(&shared_key).await.unwrap());
    assert_eq!(
        (report.stored_blobs, report.stored_bytes),
        (1, shared.len() as u64)
    );
    let storage = project_storage(&server, "s3").await;
    assert_eq!((storage.blobs, storage.bytes), (1, shared.len() as u64));
    assert_eq!(
        read_blob(&server, &new_version, &new, "shared.bin").await,
        shared
    );
}
