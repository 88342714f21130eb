//! Downloading: hostile symlinks in the root, corrupt blobs on the server, missing references,
//! `verify` and `checkout`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use cairn_cache::LinkMode;
use cairn_client::{
    AddDirOptions, Artifact, DownloadOptions, Error, LoggedArtifact, ReferenceOptions, Run,
    RunOptions,
};
use cairn_tests::{Scratch, TestServer, pseudo_random, tree};

/// Logs `artifact` into `admin/downloads` and returns it.
async fn log(
    server: &TestServer,
    scratch: &Scratch,
    mut artifact: Artifact,
) -> Result<LoggedArtifact> {
    let client = server.client(&server.admin_key, &scratch.cache())?;
    let run = Run::init(&client, RunOptions::new("downloads")).await?;
    Ok(run.log_artifact(&mut artifact, &[]).await?.artifact)
}

/// The same version seen by a client with a fresh cache in `scratch`.
async fn fresh(
    server: &TestServer,
    scratch: &Scratch,
    logged: &LoggedArtifact,
) -> Result<LoggedArtifact> {
    let client = server.client(&server.admin_key, &scratch.cache())?;
    Ok(cairn_client::Api::new(client)
        .artifact(&logged.qualified_name())
        .await?)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_in_the_root_is_never_written_through() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    scratch.write("etc/passwd", b"root:x:0:0\n")?;
    scratch.write("etc/hosts", b"127.0.0.1 localhost\n")?;
    // Streamed alone, not in a batch.
    scratch.write("etc/large.bin", &pseudo_random(2 * 1024 * 1024, 5))?;
    let mut artifact = Artifact::new("hostile", "dataset")?;
    artifact.add_dir(
        &scratch.work("etc"),
        &AddDirOptions::default().with_name("a"),
    )?;
    let logged = log(&server, &scratch, artifact).await?;

    let outside = scratch.out("outside");
    fs_err::create_dir_all(&outside)?;
    let root = scratch.out("root");
    fs_err::create_dir_all(&root)?;
    std::os::unix::fs::symlink(&outside, root.join("a"))?;
    for (skip_cache, link_mode) in [
        (false, LinkMode::Auto),
        (false, LinkMode::Copy),
        (true, LinkMode::Auto),
    ] {
        let options = DownloadOptions::default()
            .with_root(&root)
            .with_skip_cache(skip_cache)
            .with_link_mode(link_mode);
        let error = logged.download(&options).await.err();
        assert!(matches!(error, Some(Error::UnsafePath { .. })), "{error:?}");
        assert!(
            tree(&outside)?.is_empty(),
            "nothing may be written through the link"
        );
    }
    // `checkout` makes the root match the artifact: the link is not an entry, so it goes.
    logged.checkout(&root).await?;
    assert!(tree(&outside)?.is_empty());
    assert!(
        !fs_err::symlink_metadata(root.join("a"))?
            .file_type()
            .is_symlink()
    );
    logged.verify(&root).await?;
    Ok(())
}

/// The file under the server's data directory that holds the blob `md5_hex` of `size` bytes.
fn stored_blob(data_dir: &Path, md5_hex: &str, size: u64) -> Result<PathBuf> {
    let name = format!("{md5_hex}-{size}");
    let mut pending = vec![data_dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else if entry.file_name().to_string_lossy().ends_with(&name) {
                return Ok(entry.path());
            }
        }
    }
    anyhow::bail!("blob `{name}` not found under `{}`", data_dir.display())
}

/// A blob that travels in a batch (200 KB) and one streamed alone (3 MiB), in each link mode:
/// neither lands when the server's bytes are corrupt, and what was in the root stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_blob_on_the_server_is_caught_and_nothing_lands() -> Result<()> {
    for size in [200_000, 3 * 1024 * 1024] {
        corrupt_blob_is_caught(size).await?;
    }
    Ok(())
}

async fn corrupt_blob_is_caught(size: usize) -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let content = pseudo_random(size, 11);
    scratch.write("big.bin", &content)?;
    scratch.write("small.txt", b"fine\n")?;
    let mut artifact = Artifact::new("corrupt", "dataset")?;
    artifact.add_dir(&scratch.work(""), &AddDirOptions::default())?;
    let logged = log(&server, &scratch, artifact).await?;

    let blob = stored_blob(
        server.data_dir(),
        &cairn_hash::md5(&content).to_hex(),
        size as u64,
    )?;
    let mut corrupted = content.clone();
    corrupted[size / 2] ^= 0xff;
    let mut permissions = fs_err::metadata(&blob)?.permissions();
    #[expect(
        clippy::permissions_set_readonly_false,
        reason = "the test plays a disk fault"
    )]
    permissions.set_readonly(false);
    fs_err::set_permissions(&blob, permissions)?;
    fs_err::write(&blob, &corrupted)?;

    for (skip_cache, link_mode) in [
        (false, LinkMode::Auto),
        (false, LinkMode::Copy),
        (true, LinkMode::Auto),
    ] {
        let reader = Scratch::new()?;
        let found = fresh(&server, &reader, &logged).await?;
        let root = reader.out("root");
        // What was there before stays when the download fails.
        fs_err::create_dir_all(&root)?;
        fs_err::write(root.join("big.bin"), b"mine")?;
        let options = DownloadOptions::default()
            .with_root(&root)
            .with_skip_cache(skip_cache)
            .with_link_mode(link_mode);
        let error = found.download(&options).await.err();
        let Some(Error::DigestMismatch { path, .. }) = &error else {
            panic!("expected a digest mismatch ({size} bytes, {options:?}), got {error:?}");
        };
        assert_eq!(path, "big.bin");
        // The corrupt file never lands, nor any temporary file; what did land (the small file,
        // written as its batch arrived) is whole and verified.
        let landed = tree(&root)?;
        assert!(
            landed.iter().all(|(name, content)| {
                (name == "small.txt" && content.as_slice() == b"fine\n")
                    || (name == "big.bin" && content.as_slice() == b"mine")
            }),
            "{landed:?}"
        );
        assert!(
            landed.iter().any(|(name, _)| name == "big.bin"),
            "what was at big.bin stays: {landed:?}"
        );
    }
    Ok(())
}

/// A streamed blob held by two entries, into a root that already has a file at one of them:
/// both land in every link mode, and a second download is served by the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_blob_lands_at_every_entry_holding_it_in_every_link_mode() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let content = pseudo_random(3 * 1024 * 1024 + 17, 12);
    scratch.write("data/a/model.bin", &content)?;
    scratch.write("data/b/model.bin", &content)?;
    let mut artifact = Artifact::new("twice", "model")?;
    artifact.add_dir(&scratch.work("data"), &AddDirOptions::default())?;
    let logged = log(&server, &scratch, artifact).await?;
    for link_mode in [LinkMode::Auto, LinkMode::Copy, LinkMode::Hardlink] {
        let reader = Scratch::new()?;
        let found = fresh(&server, &reader, &logged).await?;
        let root = reader.out("root");
        fs_err::create_dir_all(root.join("a"))?;
        fs_err::write(root.join("a/model.bin"), b"old")?;
        let options = DownloadOptions::default()
            .with_root(&root)
            .with_link_mode(link_mode);
        let downloaded = found.download(&options).await?;
        assert_eq!((downloaded.files, downloaded.fetched_blobs), (2, 1));
        assert!(
            tree(&root)? == tree(&scratch.work("data"))?,
            "{link_mode:?}"
        );
        let again = found
            .download(&options.with_root(reader.out("again")))
            .await?;
        assert_eq!((again.fetched_blobs, again.from_cache), (0, 1));
        assert!(tree(&reader.out("again"))? == tree(&scratch.work("data"))?);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_references_fail_unless_allowed() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let referenced = scratch.write("elsewhere/ref.csv", b"a,b\n1,2\n")?;
    scratch.write("kept/own.txt", b"mine\n")?;
    let mut artifact = Artifact::new("refs", "dataset")?;
    artifact.add_dir(&scratch.work("kept"), &AddDirOptions::default())?;
    let uri = format!("file://{}", referenced.display());
    artifact.add_reference(&uri, &ReferenceOptions::default())?;
    let logged = log(&server, &scratch, artifact).await?;

    // While the file exists, the reference downloads like any entry.
    let reader = Scratch::new()?;
    let found = fresh(&server, &reader, &logged).await?;
    found
        .download(&DownloadOptions::default().with_root(reader.out("ok")))
        .await?;
    assert_eq!(fs_err::read(reader.out("ok/ref.csv"))?, b"a,b\n1,2\n");

    fs_err::remove_file(&referenced)?;
    let reader = Scratch::new()?;
    let found = fresh(&server, &reader, &logged).await?;
    let error = found
        .download(&DownloadOptions::default().with_root(reader.out("strict")))
        .await
        .err();
    assert!(
        matches!(error, Some(Error::MissingReference { .. })),
        "{error:?}"
    );

    let downloaded = found
        .download(
            &DownloadOptions::default()
                .with_root(reader.out("lenient"))
                .with_allow_missing_references(true),
        )
        .await?;
    assert_eq!(downloaded.missing_references.len(), 1);
    assert!(downloaded.missing_references[0].ends_with("ref.csv"));
    assert_eq!(
        tree(&reader.out("lenient"))?,
        vec![("own.txt".to_owned(), b"mine\n".to_vec())]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_edits_and_checkout_repairs_them() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    scratch.write("d/a.txt", b"a\n")?;
    scratch.write("d/sub/b.txt", b"b\n")?;
    scratch.write("d/c.bin", &pseudo_random(100_000, 5))?;
    let mut artifact = Artifact::new("tree", "dataset")?;
    artifact.add_dir(&scratch.work("d"), &AddDirOptions::default())?;
    let logged = log(&server, &scratch, artifact).await?;
    let root = scratch.out("tree");
    logged
        .download(&DownloadOptions::default().with_root(&root))
        .await?;
    logged.verify(&root).await?;

    fs_err::write(root.join("a.txt"), b"A\n")?;
    fs_err::remove_file(root.join("sub/b.txt"))?;
    fs_err::write(root.join("extra.txt"), b"stray\n")?;
    let error = logged
        .verify(&root)
        .await
        .err()
        .context("verify must fail")?;
    let Error::VerifyFailed {
        missing,
        extra,
        changed,
        ..
    } = &error
    else {
        panic!("expected VerifyFailed, got {error}");
    };
    assert_eq!(missing, &["sub/b.txt"]);
    assert_eq!(extra, &["extra.txt"]);
    assert_eq!(changed, &["a.txt"]);
    let message = error.to_string();
    assert!(
        message.contains("`a.txt`") && message.contains("`extra.txt`"),
        "{message}"
    );

    logged.checkout(&root).await?;
    logged.verify(&root).await?;
    assert_eq!(tree(&root)?, tree(&scratch.work("d"))?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_files_and_prefixes() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let path = scratch.write("model.bin", &pseudo_random(1000, 9))?;
    let mut single = Artifact::new("model", "model")?;
    single.add_file(&path, &cairn_client::AddFileOptions::default())?;
    let model = log(&server, &scratch, single).await?;
    let file = model.file(Some(&scratch.out("model"))).await?;
    assert_eq!(file, scratch.out("model").join("model.bin"));
    assert_eq!(fs_err::read(&file)?, pseudo_random(1000, 9));
    assert_eq!(model.get_entry("./model.bin").await?.entry.size, Some(1000));
    assert!(matches!(
        model.get_entry("nope").await,
        Err(Error::EntryNotFound { .. })
    ));

    scratch.write("many/x/1.txt", b"1")?;
    scratch.write("many/y/2.txt", b"2")?;
    let mut many = Artifact::new("many", "dataset")?;
    many.add_dir(&scratch.work("many"), &AddDirOptions::default())?;
    let many = log(&server, &scratch, many).await?;
    let error = many.file(None).await.err();
    assert!(
        matches!(error, Some(Error::NotSingleFile { entries: 2 })),
        "{error:?}"
    );
    let part = many
        .download(
            &DownloadOptions::default()
                .with_root(scratch.out("part"))
                .with_path_prefix("x/"),
        )
        .await?;
    assert_eq!(part.files, 1);
    assert_eq!(
        tree(&scratch.out("part"))?,
        vec![("x/1.txt".to_owned(), b"1".to_vec())]
    );
    Ok(())
}

/// A manifest of several chunks (the download plans 2,048 entries at a time) read by a client
/// that has not loaded it: streamed, with content repeated across chunks (small blobs, and a
/// large blob at the first and last path), fetched once per distinct object, and reported to
/// the progress exactly once per entry and byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_of_many_chunks_streams_and_fetches_each_object_once() -> Result<()> {
    const FILES: u64 = 5_000;
    const DISTINCT: u64 = 1_500;
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let big = pseudo_random(200_000, 77);
    scratch.write("data/aaa/big.bin", &big)?;
    scratch.write("data/zzz/big.bin", &big)?;
    for index in 0..FILES {
        let content = pseudo_random(100 + usize::try_from(index % DISTINCT)?, index % DISTINCT);
        scratch.write(&format!("data/files/{index:05}.bin"), &content)?;
    }
    let mut artifact = Artifact::new("chunks", "dataset")?;
    artifact.add_dir(&scratch.work("data"), &AddDirOptions::default())?;
    let logged = log(&server, &scratch, artifact).await?;
    let expected = tree(&scratch.work("data"))?;
    let total_bytes: u64 = expected.iter().map(|(_, data)| data.len() as u64).sum();

    // A fresh client: its own cache, the manifest not loaded.
    let progress = std::sync::Arc::new(cairn_tests::RecordingProgress::default());
    let other = Scratch::new()?;
    let client = server
        .client(&server.admin_key, &other.cache())?
        .with_progress(progress.clone());
    let streamed = cairn_client::Api::new(client)
        .artifact(&logged.qualified_name())
        .await?;
    let first = streamed
        .download(&DownloadOptions::default().with_root(other.out("first")))
        .await?;
    assert_eq!(tree(&other.out("first"))?, expected);
    assert_eq!(
        (
            first.files,
            first.bytes,
            first.fetched_blobs,
            first.from_cache
        ),
        (FILES + 2, total_bytes, DISTINCT + 1, 0),
        "every entry written, each distinct object fetched once"
    );
    assert_eq!(
        progress.summary(cairn_client::Phase::Download),
        (
            Some((FILES + 2, total_bytes)),
            (FILES + 2, total_bytes),
            true
        ),
        "every entry and byte reported once"
    );

    // The same cache, a new root: nothing fetched; a prefix counts only its entries.
    let second = fresh(&server, &other, &logged)
        .await?
        .download(&DownloadOptions::default().with_root(other.out("second")))
        .await?;
    assert_eq!(tree(&other.out("second"))?, expected);
    assert_eq!(
        (second.files, second.fetched_blobs, second.from_cache),
        (FILES + 2, 0, DISTINCT + 1)
    );
    let part = fresh(&server, &other, &logged)
        .await?
        .download(
            &DownloadOptions::default()
                .with_root(other.out("part"))
                .with_path_prefix("zzz/"),
        )
        .await?;
    assert_eq!((part.files, part.bytes), (1, 200_000));

    // Into the first root again, with a file gone and one changed, and no cache: only those
    // two are fetched; the rest is found in place.
    fs_err::remove_file(other.out("first").join("files/00007.bin"))?;
    fs_err::write(other.out("first").join("files/04321.bin"), b"edited")?;
    let repaired = fresh(&server, &Scratch::new()?, &logged)
        .await?
        .download(
            &DownloadOptions::default()
                .with_root(other.out("first"))
                .with_skip_cache(true),
        )
        .await?;
    assert_eq!(tree(&other.out("first"))?, expected);
    assert_eq!(
        (repaired.files, repaired.fetched_blobs),
        (FILES + 2, 2),
        "only what was missing or wrong is fetched"
    );
    Ok(())
}
