//! Logging: first upload, deduplicated re-logs, incremental changes, resuming an interrupted
//! log, and files that change after they were added.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use cairn_api::{CreateVersion, CreateVersionStatus, CreatedVersion, routes};
use cairn_cache::{Cache, CacheOptions};
use cairn_client::{
    AddDirOptions, AddFileOptions, Artifact, Client, DownloadOptions, Error, Phase, RetryPolicy,
    Run, RunOptions, Settings,
};
use cairn_tests::{
    RecordingProgress, Scratch, TestServer, Upstream, pseudo_random, put_bytes, slow_proxy, tree,
};

/// A directory with small files (batched) and large ones (streamed).
fn dataset(scratch: &Scratch) -> Result<()> {
    scratch.write("data/small/a.txt", b"alpha\n")?;
    scratch.write("data/small/b.txt", b"beta\n")?;
    scratch.write("data/small/empty", b"")?;
    scratch.write("data/large/one.bin", &pseudo_random(300_000, 1))?;
    scratch.write("data/large/two.bin", &pseudo_random(70_000, 2))?;
    // Same content twice: one blob.
    scratch.write("data/large/copy.bin", &pseudo_random(70_000, 2))?;
    Ok(())
}

fn draft(scratch: &Scratch) -> Result<Artifact> {
    let mut artifact = Artifact::new("cats", "dataset")?;
    artifact.add_dir(&scratch.work("data"), &AddDirOptions::default())?;
    Ok(artifact)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_content_downloads_byte_identical() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    dataset(&scratch)?;
    let progress = Arc::new(RecordingProgress::default());
    let client = server
        .client(&server.admin_key, &scratch.cache())?
        .with_progress(Arc::clone(&progress) as Arc<dyn cairn_client::Progress>);
    let run = Run::init(&client, RunOptions::new("vision").with_job_type("upload")).await?;
    let mut artifact = draft(&scratch)?;
    artifact.new_file("notes/readme.md", b"# cats\n", true)?;
    assert!(matches!(
        artifact.get_entry("notes/readme.md"),
        Err(Error::NotLogged {
            method: "get_entry"
        })
    ));
    let logged = run
        .log_artifact(&mut artifact, &["best".to_owned()])
        .await?;
    assert_eq!(logged.status, CreateVersionStatus::Created);
    assert_eq!(
        logged.uploaded_blobs, 6,
        "7 files, two with the same content"
    );
    assert_eq!(logged.reused_blobs, 0);
    assert!(artifact.is_finalized());
    let total = 6 + 5 + 300_000 + 70_000 + 7;
    assert_eq!(
        progress.summary(Phase::Upload),
        (Some((6, total)), (6, total), true),
        "every blob and byte reported once"
    );
    assert_eq!(logged.uploaded_bytes, total);
    assert_eq!(logged.artifact.qualified_name(), "admin/vision/cats:v0");
    // The published manifest does not reveal where the uploader kept the files.
    let published = reqwest::Client::new()
        .get(format!(
            "{}{}",
            server.base_url,
            routes::manifest(&logged.artifact.version().id)
        ))
        .bearer_auth(&server.admin_key)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    assert!(published.contains("\"notes/readme.md\""), "{published}");
    assert!(!published.contains("local_path"), "{published}");
    assert!(
        logged
            .artifact
            .version()
            .aliases
            .contains(&"best".to_owned())
    );
    assert!(matches!(
        artifact.get_entry("small/../a.txt"),
        Err(Error::EntryNotFound { .. })
    ));
    assert_eq!(artifact.get_entry("small/a.txt")?.entry.size, Some(6));
    run.finish(0).await?;

    // A fresh cache, so every blob comes over the network.
    let fresh = Scratch::new()?;
    let reader = server.client(&server.admin_key, &fresh.cache())?;
    let api = cairn_client::Api::new(reader);
    let found = api.artifact("vision/cats:best").await?;
    let root = fresh.out("cats");
    let downloaded = found
        .download(&DownloadOptions::default().with_root(&root))
        .await?;
    assert_eq!(downloaded.files, 7);
    assert_eq!(downloaded.fetched_blobs, 6);
    assert_eq!(downloaded.from_cache, 0);
    let mut expected = tree(&scratch.work("data"))?;
    expected.push(("notes/readme.md".to_owned(), b"# cats\n".to_vec()));
    expected.sort();
    assert_eq!(tree(&root)?, expected);
    found.verify(&root).await?;

    // Again into another root: everything comes from the cache.
    let again = found
        .download(&DownloadOptions::default().with_root(fresh.out("again")))
        .await?;
    assert_eq!((again.fetched_blobs, again.from_cache), (0, 6));
    assert_eq!(tree(&fresh.out("again"))?, expected);
    // And into the same root: nothing to do at all.
    let same = found
        .download(&DownloadOptions::default().with_root(&root))
        .await?;
    assert_eq!((same.files, same.fetched_blobs, same.from_cache), (7, 0, 0));

    // Without the cache: streamed straight into place.
    let direct = found
        .download(
            &DownloadOptions::default()
                .with_root(fresh.out("direct"))
                .with_skip_cache(true),
        )
        .await?;
    assert_eq!(direct.fetched_blobs, 7);
    assert_eq!(tree(&fresh.out("direct"))?, expected);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_relog_uploads_nothing_and_one_change_uploads_one_blob() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    dataset(&scratch)?;
    let client = server.client(&server.admin_key, &scratch.cache())?;
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    run.log_artifact(&mut draft(&scratch)?, &[]).await?;
    let before = client.server_stats().await?;

    let mut same = draft(&scratch)?;
    let logged = run.log_artifact(&mut same, &["again".to_owned()]).await?;
    assert_eq!(logged.status, CreateVersionStatus::Existing);
    assert_eq!((logged.uploaded_blobs, logged.uploaded_bytes), (0, 0));
    assert_eq!(
        logged.reused_blobs, 5,
        "six files, two with the same content"
    );
    assert_eq!(logged.artifact.version().version_index, Some(0));
    assert!(
        logged
            .artifact
            .version()
            .aliases
            .contains(&"again".to_owned())
    );
    assert!(
        same.is_finalized(),
        "a deduplicated log finalizes the draft too"
    );
    let after = client.server_stats().await?;
    assert_eq!(after.blobs_received, before.blobs_received);
    assert_eq!(after.versions_committed, before.versions_committed);

    scratch.write("data/large/one.bin", &pseudo_random(300_000, 3))?;
    let logged = run.log_artifact(&mut draft(&scratch)?, &[]).await?;
    assert_eq!(logged.status, CreateVersionStatus::Created);
    assert_eq!(logged.artifact.version().version_index, Some(1));
    assert_eq!((logged.uploaded_blobs, logged.uploaded_bytes), (1, 300_000));
    assert_eq!(logged.reused_blobs, 4);
    let stats = client.server_stats().await?;
    assert_eq!(stats.blobs_received - after.blobs_received, 1);
    assert_eq!(
        stats.blob_bytes_received - after.blob_bytes_received,
        300_000
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_log_resumes_and_sends_only_the_rest() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    dataset(&scratch)?;
    let client = server.client(&server.admin_key, &scratch.cache())?;
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    let artifact = draft(&scratch)?;

    // A client that stopped half-way: version created, manifest sent, one large blob uploaded.
    let request = CreateVersion {
        collection: artifact.name().to_owned(),
        artifact_type: artifact.artifact_type().to_owned(),
        digest: cairn_hash::Md5Digest::from_hex(&artifact.digest()).unwrap(),
        description: None,
        metadata: serde_json::Map::new(),
        aliases: Vec::new(),
        tags: Vec::new(),
        run: Some(run.info().id.clone()),
        distributed_id: None,
        ttl: None,
    };
    let created: CreatedVersion = server
        .request_json(
            &server.admin_key,
            reqwest::Method::POST,
            &routes::versions("admin", "vision"),
            &request,
        )
        .await?;
    assert_eq!(created.status, CreateVersionStatus::Created);
    let id = created.version.id;
    let manifest = artifact.manifest().to_core_json().into_bytes();
    put_bytes(&server, &server.admin_key, &routes::manifest(&id), manifest).await?;
    let one = pseudo_random(300_000, 1);
    let md5 = cairn_hash::md5(&one).to_hex();
    put_bytes(&server, &server.admin_key, &routes::blob(&id, &md5), one).await?;
    let before = server.stats();

    let mut artifact = draft(&scratch)?;
    let logged = run.log_artifact(&mut artifact, &[]).await?;
    assert_eq!(logged.status, CreateVersionStatus::Resumed);
    assert_eq!(logged.artifact.version().id, id);
    assert_eq!(logged.uploaded_blobs, 4);
    assert_eq!(logged.reused_blobs, 1);
    assert_eq!(logged.artifact.version().version_index, Some(0));
    assert_eq!(server.stats().blobs_received - before.blobs_received, 4);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_changed_after_adding_are_named() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let client = server.client(&server.admin_key, &scratch.cache())?;
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    for (name, size) in [("small.bin", 1_000), ("large.bin", 200_000)] {
        let path = scratch.write(name, &pseudo_random(size, 7))?;
        let mut artifact = Artifact::new(&format!("changed-{}", &name[..5]), "dataset")?;
        artifact.add_file(&path, &AddFileOptions::default())?;
        // Same size, other bytes: only a digest check can tell.
        scratch.write(name, &pseudo_random(size, 8))?;
        let error = run.log_artifact(&mut artifact, &[]).await.err();
        let Some(Error::FileChanged { path: named, .. }) = &error else {
            panic!("expected FileChanged for {name}, got {error:?}");
        };
        assert_eq!(named, &path);
        assert!(
            !artifact.is_finalized(),
            "a failed log leaves the draft open"
        );
    }
    // A small file that grew or shrank after it was hashed: its size no longer matches, found
    // while the batch is read, before anything is sent.
    for (name, now) in [("grown.bin", 1_001), ("shrunk.bin", 999)] {
        let path = scratch.write(name, &pseudo_random(1_000, 9))?;
        let mut artifact = Artifact::new(&format!("changed-{}", &name[..5]), "dataset")?;
        artifact.add_file(&path, &AddFileOptions::default())?;
        scratch.write(name, &pseudo_random(now, 9))?;
        let error = run.log_artifact(&mut artifact, &[]).await.err();
        let Some(Error::FileChanged {
            path: named,
            detail,
        }) = &error
        else {
            panic!("expected FileChanged for {name}, got {error:?}");
        };
        assert_eq!(named, &path);
        let expected = if now > 1_000 { "more" } else { "999" };
        assert!(
            detail.ends_with(&format!("it had 1000 bytes and now has {expected}")),
            "{name}: {detail}"
        );
    }
    Ok(())
}

/// A client that reaches `server` through `proxy`, gives up after `read_timeout` without
/// progress, and retries at most `retries` times.
fn proxied_client(
    server: &TestServer,
    proxy: &str,
    scratch: &Scratch,
    read_timeout: Duration,
    retries: u32,
) -> Result<Client> {
    let cache = Cache::open(CacheOptions::new(scratch.cache()))?;
    Ok(
        Client::new(Settings::new(proxy, Some(server.admin_key.clone())))?
            .with_cache(Arc::new(cache))
            .with_read_timeout(read_timeout)?
            .with_retry_policy(RetryPolicy {
                max_retries: retries,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(5),
                ..RetryPolicy::default()
            }),
    )
}

/// A draft `weights` model of one file, `weights/model.bin`, written with `contents`.
fn model(scratch: &Scratch, contents: &[u8]) -> Result<Artifact> {
    scratch.write("weights/model.bin", contents)?;
    let mut artifact = Artifact::new("weights", "model")?;
    artifact.add_dir(&scratch.work("weights"), &AddDirOptions::default())?;
    Ok(artifact)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_slower_to_send_than_the_read_timeout_still_uploads() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let contents = pseudo_random(48 * 1024 * 1024, 7);
    let mut artifact = model(&scratch, &contents)?;
    // At most 16 MiB/s: three seconds to send, half as long again as the read timeout. Once the
    // last chunk is taken, the kernel's buffers (several MiB on loopback) still drain at that
    // rate before the server can answer; a 1 s timeout left too little room for that on a
    // loaded 2-core machine (one CI run failed so).
    let every = Duration::from_millis(10);
    let proxy = slow_proxy(
        &server.base_url,
        Upstream::Rate {
            bytes: 160 * 1024,
            every,
        },
    )
    .await?;
    let read_timeout = Duration::from_secs(2);
    let client = proxied_client(&server, &proxy, &scratch, read_timeout, 0)?;
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    let started = Instant::now();
    let logged = run.log_artifact(&mut artifact, &[]).await?;
    assert!(
        started.elapsed() > read_timeout,
        "the upload must outlast the read timeout, or this tests nothing"
    );
    assert_eq!(logged.uploaded_blobs, 1);
    let direct = server.client(&server.admin_key, &scratch.work("direct-cache"))?;
    let root = scratch.out("weights");
    cairn_client::Api::new(direct)
        .artifact("admin/vision/weights:v0")
        .await?
        .download(&DownloadOptions::default().with_root(&root))
        .await?;
    assert_eq!(fs_err::read(root.join("model.bin"))?, contents);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_fails_in_words_instead_of_waiting() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let mut artifact = model(&scratch, &pseudo_random(16 * 1024 * 1024, 8))?;
    let proxy = slow_proxy(&server.base_url, Upstream::StallAfter { bytes: 1_000_000 }).await?;
    let client = proxied_client(&server, &proxy, &scratch, Duration::from_millis(500), 1)?;
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    let started = Instant::now();
    let error = run
        .log_artifact(&mut artifact, &[])
        .await
        .expect_err("nothing gets through a stalled link");
    assert!(matches!(error, Error::Stalled { .. }), "{error:?}");
    assert!(error.to_string().contains("made no progress"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_sent_again_after_a_broken_link_counts_its_bytes_once() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let size = 4 * 1024 * 1024;
    let mut artifact = model(&scratch, &pseudo_random(size, 9))?;
    // Only the blob's request carries 3 MiB: it is cut there once, and sent again whole.
    let proxy = slow_proxy(
        &server.base_url,
        Upstream::CutOnceAfter {
            bytes: 3 * 1024 * 1024,
        },
    )
    .await?;
    let progress = Arc::new(RecordingProgress::default());
    let client = proxied_client(&server, &proxy, &scratch, Duration::from_secs(30), 3)?
        .with_progress(Arc::clone(&progress) as Arc<dyn cairn_client::Progress>);
    let run = Run::init(&client, RunOptions::new("vision")).await?;
    let logged = run.log_artifact(&mut artifact, &[]).await?;
    assert_eq!(logged.uploaded_blobs, 1);
    assert_eq!(
        server.stats().blobs_rejected,
        1,
        "the first attempt was cut"
    );
    let size = size as u64;
    assert_eq!(
        progress.summary(Phase::Upload),
        (Some((1, size)), (1, size), true),
        "the bytes sent twice are reported once"
    );
    Ok(())
}

/// A large file the stat cache does not know goes to the server while it is hashed (staged),
/// and the log that follows neither reads nor sends it again; content the caller already has a
/// blob of the same size of is hashed and deduplicated instead of being sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_new_files_are_staged_while_hashed_and_never_sent_twice() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let large = usize::try_from(cairn_client::STAGE_MIN_SIZE)? + 1;
    let weights = pseudo_random(large, 7);
    scratch.write("data/weights.bin", &weights)?;
    scratch.write("data/notes.txt", b"trained for a while\n")?;
    // Under the staging size: hashed and uploaded as usual.
    scratch.write("data/small.bin", &pseudo_random(large - 2, 8)[..100_000])?;
    let progress = Arc::new(RecordingProgress::default());
    let client = server
        .client(&server.admin_key, &scratch.cache())?
        .with_progress(Arc::clone(&progress) as Arc<dyn cairn_client::Progress>);
    let stat_cache = Arc::new(client.cache()?.stat_cache()?);
    let run = Run::init(&client, RunOptions::new("vision")).await?;

    let mut artifact = Artifact::new("weights", "model")?.with_stat_cache(Arc::clone(&stat_cache));
    let data = scratch.work("data");
    let added = artifact
        .add_dir_staged(&client, "admin", "vision", &data, &AddDirOptions::default())
        .await?;
    assert_eq!(added, 3);
    assert_eq!(
        server.stats().blobs_received,
        1,
        "the large file was staged"
    );
    assert_eq!(server.stats().blob_bytes_received, weights.len() as u64);
    let logged = run.log_artifact(&mut artifact, &[]).await?;
    assert_eq!(
        server.stats().blobs_received,
        3,
        "only the small files travel with the log"
    );
    assert_eq!(
        (logged.uploaded_blobs, logged.uploaded_bytes),
        (3, weights.len() as u64 + 100_000 + 20),
        "the staged file counts as sent for the log"
    );
    assert_eq!(logged.reused_blobs, 0);
    let (_, upload_done, _) = progress.summary(Phase::Upload);
    assert_eq!(
        upload_done.1,
        weights.len() as u64 + 100_000 + 20,
        "every byte sent is reported once"
    );
    let root = scratch.out("weights");
    logged
        .artifact
        .download(&DownloadOptions::default().with_root(&root))
        .await?;
    assert_eq!(tree(&root)?, tree(&data)?);

    // The stat cache knows the file now: a put of the same directory reads nothing again.
    let received = server.stats().blobs_received;
    let mut again = Artifact::new("weights", "model")?.with_stat_cache(Arc::clone(&stat_cache));
    again
        .add_dir_staged(&client, "admin", "vision", &data, &AddDirOptions::default())
        .await?;
    assert_eq!(server.stats().blobs_received, received);
    assert_eq!(
        run.log_artifact(&mut again, &[]).await?.status,
        CreateVersionStatus::Existing
    );

    // Another machine (an empty stat cache) with the same file: its size is one the caller
    // already has a blob of, so it is hashed and deduplicated, not sent.
    let elsewhere = Scratch::new()?;
    let other_client = server.client(&server.admin_key, &elsewhere.cache())?;
    let mut copy = Artifact::new("weights-copy", "model")?
        .with_stat_cache(Arc::new(other_client.cache()?.stat_cache()?));
    let entry = copy
        .add_file_staged(
            &other_client,
            "admin",
            "vision",
            &data.join("weights.bin"),
            &AddFileOptions::default(),
        )
        .await?;
    assert_eq!(server.stats().blobs_received, received);
    let logged = run.log_artifact(&mut copy, &[]).await?;
    assert_eq!((logged.uploaded_blobs, logged.reused_blobs), (0, 1));
    assert_eq!(entry.entry.size, Some(weights.len() as u64));

    // A single new large file is staged through `add_file_staged` too.
    let bigger = scratch.write("bigger.bin", &pseudo_random(large + 5, 9))?;
    let mut single = Artifact::new("bigger", "model")?.with_stat_cache(Arc::clone(&stat_cache));
    single
        .add_file_staged(
            &client,
            "admin",
            "vision",
            &bigger,
            &AddFileOptions::default(),
        )
        .await?;
    assert_eq!(server.stats().blobs_received, received + 1);
    let logged = run.log_artifact(&mut single, &[]).await?;
    assert_eq!((logged.uploaded_blobs, logged.reused_blobs), (1, 0));
    assert_eq!(server.stats().blobs_received, received + 1);
    Ok(())
}
