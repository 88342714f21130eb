//! The basic promise: what goes up comes back byte for byte, and only new content travels.

use anyhow::{Result, ensure};

use cairn_api::routes;

use crate::harness::{
    World, assert_same_tree, create_s3_bucket, get, put, random_bytes, s3_endpoint, s3_env,
    write_file,
};

const NAME: &str = "alice/e2e/data";

/// A tree with nested directories, an empty file, non-ASCII names and a file large enough to be
/// uploaded on its own rather than in a batch of small blobs.
fn sample_tree(world: &World) -> Result<std::path::PathBuf> {
    let root = world.path("input");
    write_file(&root, "README.md", b"# sample\n")?;
    write_file(&root, "empty.txt", b"")?;
    write_file(&root, "data/train/part-0.bin", &random_bytes(1, 100_000))?;
    write_file(&root, "data/train/part-1.bin", &random_bytes(2, 3_000))?;
    write_file(&root, "data/deep/er/still/leaf.json", b"{\"k\": 1}\n")?;
    write_file(&root, "données/résumé ü 🐟.txt", "ça marche\n".as_bytes())?;
    write_file(&root, "big.bin", &random_bytes(3, 1_500_000))?;
    Ok(root)
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn put_then_get_gives_a_byte_identical_tree() -> Result<()> {
    let world = World::new()?;
    let input = sample_tree(&world)?;
    let created = put(&world.alice, &world.server, NAME, &input)?;
    ensure!(
        created.status == "created" && created.version_index == 0,
        "the first put must create v0: {}",
        created.json
    );
    ensure!(
        created.uploaded_blobs == 7,
        "seven distinct files, seven blobs: {}",
        created.json
    );

    let root = world.path("download");
    let got = get(
        &world.alice,
        &world.server,
        &format!("{NAME}:latest"),
        &root,
    )?;
    assert_same_tree(&input, &root)?;
    ensure!(
        got.version_index == 0 && got.files == 7 && got.fetched_blobs == 7,
        "get of v0 with an empty cache fetches all seven blobs: {}",
        got.json
    );
    ensure!(
        got.bytes == 9 + 100_000 + 3_000 + 9 + "ça marche\n".len() as u64 + 1_500_000,
        "get reports the artifact's bytes: {}",
        got.json
    );
    Ok(())
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn unchanged_put_is_existing_and_sends_nothing() -> Result<()> {
    let world = World::new()?;
    let input = sample_tree(&world)?;
    put(&world.alice, &world.server, NAME, &input)?;
    let before = world.server.stats()?;
    let again = put(&world.alice, &world.server, NAME, &input)?;
    let after = world.server.stats()?;
    ensure!(
        again.status == "existing" && again.version_index == 0,
        "re-putting unchanged content must return the existing v0: {}",
        again.json
    );
    ensure!(
        again.uploaded_blobs == 0 && again.uploaded_bytes == 0,
        "nothing to upload: {}",
        again.json
    );
    ensure!(
        after.blobs_received == before.blobs_received
            && after.versions_committed == before.versions_committed,
        "the server received blobs or committed a version: before {before:?}, after {after:?}"
    );
    Ok(())
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn changing_one_file_sends_exactly_that_file() -> Result<()> {
    let world = World::new()?;
    let input = sample_tree(&world)?;
    put(&world.alice, &world.server, NAME, &input)?;
    let changed = random_bytes(4, 200_000);
    write_file(&input, "data/train/part-0.bin", &changed)?;

    let before = world.server.stats()?;
    let next = put(&world.alice, &world.server, NAME, &input)?;
    let after = world.server.stats()?;
    ensure!(
        next.status == "created" && next.version_index == 1,
        "a changed file makes v1: {}",
        next.json
    );
    ensure!(
        after.blobs_received - before.blobs_received == 1
            && after.blob_bytes_received - before.blob_bytes_received == changed.len() as u64,
        "exactly the changed file ({} bytes) must travel: before {before:?}, after {after:?}",
        changed.len()
    );
    ensure!(
        next.uploaded_blobs == 1
            && next.uploaded_bytes == changed.len() as u64
            && next.json["reused_blobs"] == 6,
        "the client reports what it sent and what the server already held: {}",
        next.json
    );

    // Both versions stay readable, each with its own content.
    let latest = world.path("latest");
    ensure!(
        get(
            &world.alice,
            &world.server,
            &format!("{NAME}:latest"),
            &latest
        )?
        .version_index
            == 1
    );
    assert_same_tree(&input, &latest)?;
    let first = world.path("v0");
    get(&world.alice, &world.server, &format!("{NAME}:v0"), &first)?;
    ensure!(
        fs_err::read(first.join("data/train/part-0.bin"))? == random_bytes(1, 100_000),
        "v0 must keep its original content"
    );
    Ok(())
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn put_then_get_through_an_s3_blob_store() -> Result<()> {
    let Some(endpoint) = s3_endpoint()? else {
        println!("skipped: CAIRN_TEST_S3_ENDPOINT is not set (`cargo xtask test` starts moto)");
        return Ok(());
    };
    let bucket = create_s3_bucket(&endpoint)?;
    let world = World::with_blob_store(&format!("s3://{bucket}/cairn"), s3_env(&endpoint))?;
    let info = world
        .server
        .get_json(routes::SERVER, Some(world.server.admin_key()))?;
    ensure!(
        info["blob_store"] == "s3",
        "the server must report its S3 blob store: {info}"
    );
    let input = sample_tree(&world)?;
    let created = put(&world.alice, &world.server, NAME, &input)?;
    ensure!(
        created.version_index == 0 && created.uploaded_blobs == 7,
        "{}",
        created.json
    );
    let elsewhere = world.alice.on_another_machine(&world.server)?;
    let root = world.path("download");
    get(&elsewhere, &world.server, &format!("{NAME}:latest"), &root)?;
    assert_same_tree(&input, &root)?;
    ensure!(
        !world.data_dir().join("blobs").exists(),
        "with an S3 blob store nothing may be written to the local `blobs/` directory"
    );
    Ok(())
}
