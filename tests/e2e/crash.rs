//! Crashes in the middle of a transfer: `kill -9` of the client, then of the server, during an
//! upload. Neither may leave a COMMITTED version with missing data, and re-running the same put
//! resumes without storing anything twice. And `kill -9` of a download: re-running it fetches
//! only what the cache does not hold whole yet.
//!
//! The dataset is 40 files of 4 MiB of random bytes, uploaded one blob at a time
//! (`CAIRN_TRANSFER_CONCURRENCY=1`), so the kill lands after the first blob arrived and long
//! before the last. Each scenario checks that the kill really happened mid-upload, so a machine
//! fast enough to finish first fails loudly instead of passing vacuously.

use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use cairn_api::ServerStats;

use crate::harness::{
    Server, World, assert_same_tree, check_blob_files, check_committed_blobs, get, put,
    put_command, write_random_files,
};

const FILES: u64 = 40;
const FILE_SIZE: usize = 4 * 1024 * 1024;
const NAME: &str = "alice/e2e/big";

/// How long to wait for the first blob to arrive.
const FIRST_BLOB_TIMEOUT: Duration = Duration::from_secs(90);

/// Polls the server's counters until at least one more blob than in `before` has arrived. Fails
/// if `exited` says the client is gone first.
fn wait_for_first_blob(
    server: &Server,
    before: &ServerStats,
    mut exited: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + FIRST_BLOB_TIMEOUT;
    loop {
        if server.stats()?.blobs_received > before.blobs_received {
            return Ok(());
        }
        if exited()? {
            bail!("the put finished before the first blob was seen arriving");
        }
        if Instant::now() > deadline {
            bail!("no blob arrived within {FIRST_BLOB_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn dataset(world: &World) -> Result<std::path::PathBuf> {
    let input = world.path("big");
    write_random_files(&input, FILES, FILE_SIZE, 40)?;
    Ok(input)
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn killing_the_client_mid_upload_resumes_without_storing_twice() -> Result<()> {
    let world = World::new()?;
    let input = dataset(&world)?;
    let start = world.server.stats()?;

    let mut client = put_command(&world.alice, &world.server, NAME, &input)?
        .env("CAIRN_TRANSFER_CONCURRENCY", "1")
        .spawn()?;
    wait_for_first_blob(&world.server, &start, || client.has_exited())?;
    let killed = client.kill()?;
    // A blob whose body was complete when the client died may still be landing.
    std::thread::sleep(Duration::from_millis(300));
    let after_kill = world.server.stats()?;
    let first_run = after_kill.blobs_received - start.blobs_received;
    println!("killed the client after {first_run} of {FILES} blobs arrived");
    ensure!(
        first_run < FILES,
        "all {FILES} blobs arrived before the kill, so nothing was interrupted; {killed}"
    );
    ensure!(
        after_kill.versions_committed == start.versions_committed,
        "a version was committed by a killed client"
    );
    check_committed_blobs(world.data_dir())?;

    let resumed = put(&world.alice, &world.server, NAME, &input)?;
    let end = world.server.stats()?;
    ensure!(
        resumed.status == "resumed" && resumed.version_index == 0,
        "the second put must resume the interrupted v0: {}",
        resumed.json
    );
    ensure!(
        end.blobs_received - start.blobs_received == FILES,
        "{FILES} distinct blobs must be received exactly once over both runs; \
         {first_run} before the kill, {} after",
        end.blobs_received - after_kill.blobs_received
    );
    ensure!(
        resumed.uploaded_blobs == end.blobs_received - after_kill.blobs_received,
        "the resumed put reports the blobs it sent: {}",
        resumed.json
    );
    // With one transfer at a time, at most the blob in flight at the kill arrived truncated.
    ensure!(
        end.blobs_rejected - start.blobs_rejected <= 1,
        "only the one truncated blob may be rejected: {start:?} → {end:?}"
    );
    let report = check_committed_blobs(world.data_dir())?;
    ensure!(
        report.committed_versions == 1 && report.blobs == FILES,
        "{report:?}"
    );

    let elsewhere = world.alice.on_another_machine(&world.server)?;
    let root = world.path("download");
    get(&elsewhere, &world.server, &format!("{NAME}:v0"), &root)?;
    assert_same_tree(&input, &root)
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn killing_the_server_mid_upload_keeps_committed_data_whole() -> Result<()> {
    let mut world = World::new()?;
    let input = dataset(&world)?;
    let start = world.server.stats()?;

    let mut client = put_command(&world.alice, &world.server, NAME, &input)?
        .env("CAIRN_TRANSFER_CONCURRENCY", "1")
        .spawn()?;
    wait_for_first_blob(&world.server, &start, || client.has_exited())?;
    world.server.kill()?;
    // The client cannot reach the server any more: it gives up with "unreachable".
    let failed = client.wait(Duration::from_secs(120))?;
    ensure!(
        failed.code == Some(7),
        "a put whose server died must exit 7 (server unreachable): {failed}"
    );
    check_committed_blobs(world.data_dir())?;

    world.server.restart()?;
    let report = check_committed_blobs(world.data_dir())?;
    ensure!(
        report.committed_versions == 0,
        "nothing was committed before the crash: {report:?}"
    );
    let finished = put(&world.alice, &world.server, NAME, &input)?;
    ensure!(
        finished.version_index == 0 && finished.status != "existing",
        "the re-run put commits v0: {}",
        finished.json
    );
    let report = check_committed_blobs(world.data_dir())?;
    ensure!(
        report.committed_versions == 1 && report.blobs == FILES,
        "{report:?}"
    );

    let root = world.path("download");
    get(
        &world.alice,
        &world.server,
        &format!("{NAME}:latest"),
        &root,
    )?;
    assert_same_tree(&input, &root)?;
    // Nothing from the crashed run is left half-written where readers would see it.
    check_blob_files(world.data_dir())?;
    Ok(())
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn killing_a_get_mid_download_resumes_fetching_only_what_is_missing() -> Result<()> {
    let world = World::new()?;
    let input = dataset(&world)?;
    put(&world.alice, &world.server, NAME, &input)?;
    let elsewhere = world.alice.on_another_machine(&world.server)?;
    let root = world.path("download");
    let start = world.server.stats()?;

    let mut client = elsewhere
        .cairn(
            &world.server,
            [
                "artifact",
                "get",
                &format!("{NAME}:v0"),
                "--root",
                crate::harness::utf8(&root)?,
                "--json",
            ],
        )
        .env("CAIRN_TRANSFER_CONCURRENCY", "1")
        .spawn()?;
    // With one transfer at a time, a blob is served only once the one before it arrived: after
    // three, at least two sit whole in the cache.
    let deadline = Instant::now() + FIRST_BLOB_TIMEOUT;
    loop {
        if world.server.stats()?.blobs_served >= start.blobs_served + 3 {
            break;
        }
        if client.has_exited()? {
            bail!("the get finished before three blobs were seen leaving");
        }
        if Instant::now() > deadline {
            bail!("no blob was served within {FIRST_BLOB_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = client.kill()?;
    std::thread::sleep(Duration::from_millis(300));
    let after_kill = world.server.stats()?;
    let first_run = after_kill.blobs_served - start.blobs_served;
    println!("killed the get after {first_run} of {FILES} blobs were served");
    ensure!(
        first_run < FILES,
        "all {FILES} blobs were served before the kill, so nothing was interrupted; {killed}"
    );

    // The same machine (same cache) again: only what the first run did not finish travels.
    let resumed = get(&elsewhere, &world.server, &format!("{NAME}:v0"), &root)?;
    let end = world.server.stats()?;
    let second_run = end.blobs_served - after_kill.blobs_served;
    ensure!(
        resumed.fetched_blobs == second_run,
        "the resumed get reports the blobs it fetched ({}) as the server counted them ({second_run})",
        resumed.fetched_blobs
    );
    // At most the blob in flight at the kill is fetched twice.
    ensure!(
        first_run + second_run <= FILES + 1 && second_run < FILES,
        "the resumed get fetched {second_run} of {FILES} blobs after {first_run} were served before the kill"
    );
    assert_same_tree(&input, &root)
}
