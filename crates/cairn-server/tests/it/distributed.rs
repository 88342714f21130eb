//! Distributed versions over the native API: writers upload parts of one PENDING version, a path
//! given two contents is refused naming both writers, the commit merges the parts, and the id is
//! finalized afterwards.

use axum::http::{Method, StatusCode};
use cairn_api::{CreateVersionStatus, CreatedVersion, ErrorCode, ManifestReceipt, Version, routes};

use crate::harness::{Files, Server, create_request};

/// Starts (or joins) the distributed version `id` of `collection` with this part's digest.
async fn join(
    server: &Server,
    key: &str,
    collection: &str,
    id: &str,
    part: &Files,
) -> CreatedVersion {
    let mut request = create_request(collection, part);
    request.distributed_id = Some(id.to_owned());
    let answer = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(key),
            &request,
        )
        .await;
    assert!(answer.status.is_success(), "{answer:?}");
    answer.json()
}

async fn put_part(
    server: &Server,
    key: &str,
    version: &str,
    writer: &str,
    part: &Files,
) -> crate::harness::Answer {
    server
        .call_bytes(
            Method::PUT,
            &format!("{}?writer={writer}", routes::manifest(version)),
            Some(key),
            part.manifest_bytes(),
        )
        .await
}

#[tokio::test]
async fn parts_merge_at_commit_conflicts_name_writers_and_the_id_is_finalized() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let parts = [
        Files::new(&[("a.txt", b"alpha"), ("shared.txt", b"same")]),
        Files::new(&[("b.txt", b"beta"), ("shared.txt", b"same")]),
        Files::new(&[("c/d.txt", b"delta")]),
    ];
    let mut version_id = None;
    for (index, part) in parts.iter().enumerate() {
        let created = join(&server, &key, "sharded", "job-1", part).await;
        let expected = if index == 0 {
            CreateVersionStatus::Created
        } else {
            CreateVersionStatus::Resumed
        };
        assert_eq!(created.status, expected);
        let id = version_id
            .get_or_insert_with(|| created.version.id.clone())
            .clone();
        assert_eq!(
            created.version.id, id,
            "every writer joins the same version"
        );
        let receipt: ManifestReceipt =
            put_part(&server, &key, &id, &format!("writer-{index}"), part)
                .await
                .expect(StatusCode::OK)
                .json();
        // Only this part's blobs are asked for (the shared one once it is received).
        for blob in &receipt.missing {
            assert!(
                part.files
                    .iter()
                    .any(|(_, bytes)| cairn_hash::md5(bytes) == blob.md5)
            );
            server
                .call_bytes(
                    Method::PUT,
                    &routes::blob(&id, &blob.md5.to_hex()),
                    Some(&key),
                    part.blob(&blob.md5.to_hex()),
                )
                .await
                .expect(StatusCode::OK);
        }
    }
    let id = version_id.unwrap();

    // A fourth writer gives `a.txt` other contents: refused, naming both writers.
    let clash = Files::new(&[("a.txt", b"not alpha")]);
    join(&server, &key, "sharded", "job-1", &clash).await;
    let problem = put_part(&server, &key, &id, "writer-9", &clash)
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::Conflict);
    assert!(
        problem.detail.contains("writer-0") && problem.detail.contains("writer-9"),
        "{}",
        problem.detail
    );

    // The commit merges the parts: the union's digest, manifest and files.
    let committed: Version = server
        .call(Method::POST, &routes::commit(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .json();
    let union = Files::new(&[
        ("a.txt", b"alpha"),
        ("b.txt", b"beta"),
        ("c/d.txt", b"delta"),
        ("shared.txt", b"same"),
    ]);
    assert_eq!(committed.version_name().as_deref(), Some("v0"));
    assert_eq!(committed.digest.to_hex(), union.digest());
    assert_eq!(committed.file_count, 4);
    let manifest = server
        .call(Method::GET, &routes::manifest(&id), Some(&key))
        .await
        .expect(StatusCode::OK)
        .body
        .clone();
    let parsed =
        cairn_manifest::Manifest::from_json(std::str::from_utf8(&manifest).unwrap()).unwrap();
    let paths: Vec<&str> = parsed.entries().map(|(path, _)| path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "b.txt", "c/d.txt", "shared.txt"]);
    let blob = server
        .call(
            Method::GET,
            &routes::blob(&id, &union.md5("c/d.txt")),
            Some(&key),
        )
        .await
        .expect(StatusCode::OK)
        .body
        .clone();
    assert_eq!(blob.as_ref(), b"delta");

    // Finalized: another part under the same id is refused.
    let mut late = create_request("sharded", &parts[0]);
    late.distributed_id = Some("job-1".to_owned());
    let problem = server
        .call_json(
            Method::POST,
            &routes::versions("admin", "p"),
            Some(&key),
            &late,
        )
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::NotPending);
    assert!(
        problem.detail.contains("finished already"),
        "{}",
        problem.detail
    );

    // A commit with no part at all is refused in words.
    let empty = join(&server, &key, "sharded", "job-2", &parts[0]).await;
    server
        .call(Method::POST, &routes::commit(&empty.version.id), Some(&key))
        .await
        .expect_problem(StatusCode::CONFLICT, ErrorCode::ManifestMissing);
}

#[tokio::test]
async fn a_part_of_someone_elses_version_is_refused() {
    let server = Server::start().await;
    let key = server.admin_key.clone();
    let part = Files::new(&[("a.txt", b"alpha")]);
    let created = join(&server, &key, "sharded", "job", &part).await;
    let bob = server.user("bob").await;
    put_part(&server, &bob, &created.version.id, "bob", &part)
        .await
        .expect_problem(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    // And a writer name that is too long is refused before anything is read.
    put_part(&server, &key, &created.version.id, &"w".repeat(300), &part)
        .await
        .expect_problem(StatusCode::BAD_REQUEST, ErrorCode::BadRequest);
}
