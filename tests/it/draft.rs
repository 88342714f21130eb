//! Incremental versions: a draft started from a committed version, changed, and logged as the
//! next version, without hashing or uploading what did not change.

use anyhow::{Context as _, Result, ensure};
use cairn_api::{CreateVersionStatus, ServerStats, routes};
use cairn_client::{
    AddDirOptions, AddFileOptions, Api, Artifact, DownloadOptions, Error, Run, RunOptions,
};
use cairn_tests::{Scratch, TestServer, pseudo_random, tree};
use serde_json::Value;

/// `GET /api/v1/server/stats` as the admin, over HTTP like an operator would.
async fn stats(server: &TestServer) -> Result<ServerStats> {
    let response = reqwest::Client::new()
        .get(format!("{}{}", server.base_url, routes::SERVER_STATS))
        .bearer_auth(&server.admin_key)
        .send()
        .await?
        .error_for_status()?;
    Ok(serde_json::from_slice(&response.bytes().await?)?)
}

/// The verbatim manifest of version `id`, as JSON.
async fn published_manifest(server: &TestServer, id: &str) -> Result<Value> {
    let response = reqwest::Client::new()
        .get(format!("{}{}", server.base_url, routes::manifest(id)))
        .bearer_auth(&server.admin_key)
        .send()
        .await?
        .error_for_status()?;
    Ok(serde_json::from_slice(&response.bytes().await?)?)
}

fn entry<'a>(manifest: &'a Value, path: &str) -> Result<&'a Value> {
    manifest
        .get("contents")
        .and_then(|contents| contents.get(path))
        .with_context(|| format!("no entry `{path}` in {manifest}"))
}

/// v0: two files that stay, one that is removed, one that is replaced; a large one so a
/// streamed upload would show in the counters too.
fn v0_files(scratch: &Scratch) -> Result<()> {
    scratch.write("v0/keep.txt", b"kept as it is\n")?;
    scratch.write("v0/big/keep.bin", &pseudo_random(200_000, 7))?;
    scratch.write("v0/old/gone.txt", b"removed in v1\n")?;
    scratch.write("v0/labels.csv", b"id,label\n1,cat\n")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_from_v0_sends_only_new_content_and_keeps_the_rest_exactly() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    v0_files(&scratch)?;
    let client = server.client(&server.admin_key, &scratch.cache())?;
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    let mut first = Artifact::new("cats", "dataset")?
        .with_description("cats")
        .with_metadata(serde_json::json!({"source": "camera"}))?;
    first.add_dir(&scratch.work("v0"), &AddDirOptions::default())?;
    let v0 = run.log_artifact(&mut first, &[]).await?;
    let v0_id = v0.artifact.version().id.clone();

    // None of v0's files exist any more: the kept entries must not need them.
    fs_err::remove_dir_all(scratch.work("v0"))?;
    let labels = scratch.write("v1/labels.csv", b"id,label\n1,cat\n2,dog\n")?;
    let readme = scratch.write("v1/README.md", b"# cats and a dog\n")?;

    let before = stats(&server).await?;
    let mut draft = Artifact::new_draft(&client, "vision/cats:v0").await?;
    assert_eq!(
        draft.base().map(|base| base.id.as_str()),
        Some(v0_id.as_str())
    );
    assert_eq!(draft.artifact_type(), "dataset");
    assert_eq!(draft.description(), Some("cats"));
    assert_eq!(draft.metadata().get("source"), Some(&Value::from("camera")));
    assert_eq!(draft.digest(), v0.artifact.version().digest.to_hex());
    assert_eq!(draft.remove("old")?.len(), 1, "a directory prefix");
    // As in the SDK, other content at an existing path needs `overwrite`.
    let clash = draft.add_file(&labels, &AddFileOptions::default());
    assert!(
        matches!(&clash, Err(Error::Manifest(_)))
            && clash
                .as_ref()
                .err()
                .is_some_and(|error| error.to_string().contains("labels.csv")),
        "{clash:?}"
    );
    draft.add_file(&labels, &AddFileOptions::default().with_overwrite(true))?;
    draft.add_file(&readme, &AddFileOptions::default())?;
    let changes = draft.changes().context("a draft has a base")?;
    let names = |paths: &[cairn_manifest::LogicalPath]| -> Vec<String> {
        paths.iter().map(|path| path.as_str().to_owned()).collect()
    };
    assert_eq!(names(&changes.added), ["README.md"]);
    assert_eq!(names(&changes.replaced), ["labels.csv"]);
    assert_eq!(names(&changes.removed), ["old/gone.txt"]);
    assert_eq!(changes.kept, 2);

    let v1 = run.log_artifact(&mut draft, &[]).await?;
    let after = stats(&server).await?;
    run.finish(0).await?;
    let version = v1.artifact.version();
    assert_eq!(v1.status, CreateVersionStatus::Created);
    assert_eq!(version.qualified_name(), "admin/vision/cats:v1");
    assert_eq!(version.file_count, 4);
    assert_eq!((v1.uploaded_blobs, v1.reused_blobs), (2, 2));
    assert_eq!(
        v1.uploaded_bytes,
        (b"id,label\n1,cat\n2,dog\n".len() + b"# cats and a dog\n".len()) as u64
    );
    assert_eq!(
        after.blobs_received - before.blobs_received,
        2,
        "only the two new contents travel"
    );
    assert_eq!(after.versions_committed - before.versions_committed, 1);

    // The same entries built from scratch hash to the same artifact digest (as the SDK would).
    scratch.write("scratch/keep.txt", b"kept as it is\n")?;
    scratch.write("scratch/big/keep.bin", &pseudo_random(200_000, 7))?;
    scratch.write("scratch/labels.csv", b"id,label\n1,cat\n2,dog\n")?;
    scratch.write("scratch/README.md", b"# cats and a dog\n")?;
    let mut fresh = Artifact::new("cats", "dataset")?;
    fresh.add_dir(&scratch.work("scratch"), &AddDirOptions::default())?;
    assert_eq!(version.digest.to_hex(), fresh.digest());

    // Kept entries carry v0's birth id and v0's digest and size; new content carries none, so
    // the server records v1 as its birth.
    let old = published_manifest(&server, &v0_id).await?;
    let new = published_manifest(&server, &version.id).await?;
    for kept in ["keep.txt", "big/keep.bin"] {
        let entry_v1 = entry(&new, kept)?;
        let entry_v0 = entry(&old, kept)?;
        assert_eq!(entry_v1["digest"], entry_v0["digest"], "{kept}");
        assert_eq!(entry_v1["size"], entry_v0["size"], "{kept}");
        assert_eq!(
            entry_v1["birthArtifactID"],
            Value::from(v0_id.as_str()),
            "{kept}"
        );
    }
    for born in ["labels.csv", "README.md"] {
        assert_eq!(entry(&new, born)?.get("birthArtifactID"), None, "{born}");
    }
    assert!(entry(&new, "old/gone.txt").is_err());

    // v1 downloads byte-identical into an empty cache.
    let reader = Scratch::new()?;
    let api = Api::new(server.client(&server.admin_key, &reader.cache())?);
    let found = api.artifact("vision/cats:latest").await?;
    assert_eq!(found.version().id, version.id);
    let root = reader.out("v1");
    found
        .download(&DownloadOptions::default().with_root(&root))
        .await?;
    assert_eq!(tree(&root)?, tree(&scratch.work("scratch"))?);
    found.verify(&root).await?;

    // v2 from v1: birth ids survive a second generation, and content re-added unchanged at its
    // path keeps its birth id too.
    let mut second = found.new_draft().await?;
    second.add_file(&labels, &AddFileOptions::default())?;
    second.remove("README.md")?;
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    let v2 = run.log_artifact(&mut second, &[]).await?;
    run.finish(0).await?;
    assert_eq!(v2.artifact.version().version_index, Some(2));
    assert_eq!(v2.uploaded_blobs, 0);
    let newest = published_manifest(&server, &v2.artifact.version().id).await?;
    assert_eq!(
        entry(&newest, "keep.txt")?["birthArtifactID"],
        Value::from(v0_id.as_str())
    );
    assert_eq!(
        entry(&newest, "labels.csv")?["birthArtifactID"],
        Value::from(version.id.as_str())
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_refuse_what_cannot_work_with_words_to_act_on() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    scratch.write("v0/a.txt", b"a\n")?;
    let client = server.client(&server.admin_key, &scratch.cache())?;
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    let mut first = Artifact::new("cats", "dataset")?;
    first.add_dir(&scratch.work("v0"), &AddDirOptions::default())?;
    run.log_artifact(&mut first, &[]).await?;
    run.finish(0).await?;

    for missing in ["vision/dogs:latest", "vision/cats:v7", "nowhere/cats"] {
        let error = Artifact::new_draft(&client, missing)
            .await
            .err()
            .with_context(|| format!("`{missing}` must not resolve"))?;
        ensure!(
            matches!(error, Error::BaseNotFound { .. })
                && error.to_string().contains(missing)
                && error.code() == Some(cairn_api::ErrorCode::NotFound),
            "{missing}: {error}"
        );
    }
    let mut draft = Artifact::new_draft(&client, "vision/cats").await?;
    let error = draft.remove("b.txt").err().context("b.txt is not in v0")?;
    ensure!(error.to_string().contains("b.txt"), "{error}");
    assert_eq!(draft.changes().map(|changes| changes.kept), Some(1));
    Ok(())
}
