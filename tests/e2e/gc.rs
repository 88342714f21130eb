//! Garbage collection with real processes: `cairn server gc` racing `cairn artifact put` of the
//! very content it is collecting, and `kill -9` of the server at random points of a collection,
//! 20 rounds. Afterwards every blob of every live version is read back and hashed again.
//!
//! The server runs with `--gc-grace 0`, so content is collectable as soon as its last version
//! is deleted; each round's content is new, and part of it is shared with a version that stays.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use rusqlite::{Connection, OpenFlags};

use crate::harness::{
    Server, User, World, assert_same_tree, check_blob_files, check_committed_blobs,
    check_live_blobs_rehashed, get, put, put_command, random_bytes, unique_u64, write_file,
    write_random_files,
};

/// Files over the packing limit, so they go to the blob store.
const LARGE: usize = 70 * 1024;

/// A server collecting at once (`--gc-grace 0`), whose collections take `delete_delay_ms` per
/// blob deletion (the test hook `CAIRN_TEST_GC_DELETE_DELAY_MS`), so that racing uploads land
/// inside the deletion phase.
fn world(delete_delay_ms: u64) -> Result<World> {
    let delay = delete_delay_ms.to_string();
    World::with_server(|data_dir| {
        Server::start_with_args(
            data_dir,
            &["--gc-grace", "0"],
            &[("CAIRN_TEST_GC_DELETE_DELAY_MS", &delay)],
        )
    })
}

/// A tree of `large` new large files, `small` new small ones and the first `shared` files of
/// `keep`, all named apart.
fn tree(
    world: &World,
    name: &str,
    large: u64,
    small: u64,
    keep: Option<(&std::path::Path, usize)>,
) -> Result<std::path::PathBuf> {
    let root = world.path(name);
    write_random_files(&root.join("large"), large, LARGE, unique_u64())?;
    let seed = unique_u64();
    for index in 0..small {
        write_file(
            &root,
            &format!("small/{index}.txt"),
            &random_bytes(seed.wrapping_add(index), 100 + index as usize),
        )?;
    }
    if let Some((keep, shared)) = keep {
        let mut names: Vec<_> = fs_err::read_dir(keep.join("large"))?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<std::io::Result<_>>()?;
        names.sort();
        for path in names.into_iter().take(shared) {
            let content = fs_err::read(&path)?;
            let name = path
                .file_name()
                .context("a file without a name")?
                .to_string_lossy()
                .into_owned();
            write_file(&root, &format!("shared/{name}"), &content)?;
        }
    }
    Ok(root)
}

/// Logs `root` as `alice/e2e/NAME:v0` and deletes it again, leaving its content unreferenced
/// (apart from what another live version shares).
fn log_and_delete(world: &World, name: &str, root: &std::path::Path) -> Result<()> {
    put(&world.alice, &world.server, &format!("e2e/{name}"), root)?;
    world
        .alice
        .cairn(
            &world.server,
            [
                "artifact",
                "delete",
                &format!("alice/e2e/{name}:v0"),
                "--delete-aliases",
            ],
        )
        .run()?
        .success()?;
    Ok(())
}

fn gc_command(admin: &User, server: &Server) -> crate::harness::Cairn {
    admin.cairn(server, ["server", "gc", "--json"])
}

/// Rows left in `gc_doomed`: deletions an interrupted collection has not finished.
fn doomed_rows(data_dir: &std::path::Path) -> Result<i64> {
    let connection = Connection::open_with_flags(
        data_dir.join("cairn.sqlite"),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    Ok(connection.query_row("SELECT count(*) FROM gc_doomed", [], |row| row.get(0))?)
}

/// Everything the server holds for live versions is whole, and `keep` still downloads
/// byte-identical.
fn check_everything(world: &World, keep: &std::path::Path, round: usize) -> Result<u64> {
    let rehashed = check_live_blobs_rehashed(world.data_dir())
        .with_context(|| format!("after round {round}"))?;
    check_committed_blobs(world.data_dir()).with_context(|| format!("after round {round}"))?;
    check_blob_files(world.data_dir()).with_context(|| format!("after round {round}"))?;
    let root = world.path(&format!("got-{round}"));
    get(&world.alice, &world.server, "alice/e2e/keep:latest", &root)?;
    assert_same_tree(keep, &root)?;
    Ok(rehashed)
}

/// `cairn server gc` and `cairn artifact put` of the content being collected run at the same
/// time, with a random head start either way: the put always succeeds, and every version it
/// commits holds all of its bytes.
#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn gc_racing_uploads_of_the_same_content_loses_nothing() -> Result<()> {
    let world = world(40)?;
    let keep = tree(&world, "keep", 8, 8, None)?;
    put(&world.alice, &world.server, "e2e/keep", &keep)?;
    let (mut freed, mut reuploaded) = (0, 0);
    for round in 0..8 {
        let content = tree(
            &world,
            &format!("content-{round}"),
            30,
            30,
            Some((&keep, 4)),
        )?;
        log_and_delete(&world, &format!("old-{round}"), &content)?;
        let delay = Duration::from_millis(unique_u64() % 150);
        let put_first = round % 2 == 0;
        let uploader = put_command(
            &world.alice,
            &world.server,
            &format!("e2e/new-{round}"),
            &content,
        )?;
        let collector = gc_command(&world.admin, &world.server);
        let (uploading, collecting) = if put_first {
            let uploading = uploader.spawn()?;
            std::thread::sleep(delay);
            (uploading, collector.spawn()?)
        } else {
            let collecting = collector.spawn()?;
            std::thread::sleep(delay);
            (uploader.spawn()?, collecting)
        };
        let uploaded = uploading
            .wait(Duration::from_secs(120))?
            .success()?
            .json()?;
        let report = collecting
            .wait(Duration::from_secs(120))?
            .success()?
            .json()?;
        freed += report["freed_blobs"].as_u64().unwrap_or_default();
        reuploaded += uploaded["uploaded_blobs"].as_u64().unwrap_or_default();
        let root = world.path(&format!("new-{round}-got"));
        get(
            &world.alice,
            &world.server,
            &format!("alice/e2e/new-{round}:v0"),
            &root,
        )?;
        assert_same_tree(&content, &root)?;
        check_everything(&world, &keep, round)?;
    }
    // A last collection with nothing in flight frees the rest of the garbage; what is stored
    // afterwards is exactly what live versions reference.
    let report = gc_command(&world.admin, &world.server)
        .run()?
        .success()?
        .json()?;
    let alice = report["entities"]
        .as_array()
        .and_then(|entities| entities.iter().find(|entity| entity["entity"] == "alice"))
        .context("the report has no storage for `alice`")?;
    ensure!(
        report["stored_bytes"] == alice["storage"]["bytes"],
        "stored bytes are not what alice's live versions reference: {report}"
    );
    let rehashed = check_everything(&world, &keep, 99)?;
    ensure!(
        freed > 0 && reuploaded > 0,
        "the race never happened (freed {freed}, re-uploaded {reuploaded})"
    );
    ensure!(rehashed > 0, "nothing was re-hashed");
    Ok(())
}

/// `kill -9` of the server at a random point of a collection, 20 rounds; after each restart
/// every blob of every live version is read back and hashed again, and the interrupted
/// deletions are finished.
#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn killing_the_server_mid_collection_never_loses_a_live_blob() -> Result<()> {
    const ROUNDS: usize = 20;
    let started = Instant::now();
    let mut world = world(0)?;
    let keep = tree(&world, "keep", 10, 10, None)?;
    put(&world.alice, &world.server, "e2e/keep", &keep)?;

    // Calibration: how long `cairn server gc` takes from spawn to exit on this machine.
    let content = tree(&world, "calibration", 40, 40, Some((&keep, 5)))?;
    log_and_delete(&world, "calibration", &content)?;
    let before = Instant::now();
    gc_command(&world.admin, &world.server).run()?.success()?;
    let window = before.elapsed().max(Duration::from_millis(5));

    let mut interrupted = 0;
    for round in 0..ROUNDS {
        let content = tree(
            &world,
            &format!("content-{round}"),
            40,
            40,
            Some((&keep, 5)),
        )?;
        log_and_delete(&world, &format!("old-{round}"), &content)?;
        let collecting = gc_command(&world.admin, &world.server).spawn()?;
        let at = window.mul_f64((unique_u64() % 1000) as f64 / 1000.0);
        std::thread::sleep(at);
        world.server.kill()?;
        let _ = collecting.kill();
        if doomed_rows(world.data_dir())? > 0 {
            interrupted += 1;
        }
        world.server.restart()?;
        check_everything(&world, &keep, round)?;
        // The start finishes what the killed collection left.
        let deadline = Instant::now() + Duration::from_secs(30);
        while doomed_rows(world.data_dir())? > 0 {
            ensure!(
                Instant::now() < deadline,
                "the restarted server did not finish the interrupted deletions"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let report = gc_command(&world.admin, &world.server)
        .run()?
        .success()?
        .json()?;
    let alice = report["entities"]
        .as_array()
        .and_then(|entities| entities.iter().find(|entity| entity["entity"] == "alice"))
        .context("the report has no storage for `alice`")?;
    ensure!(
        report["stored_bytes"] == alice["storage"]["bytes"]
            && report["stored_blobs"] == alice["storage"]["blobs"],
        "after the last collection the store holds more than live versions reference: {report}"
    );
    check_everything(&world, &keep, ROUNDS)?;
    ensure!(
        interrupted > 0,
        "no kill landed between a collection's first and last step (window {window:?})"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(120),
        "the crash rounds took {:?}",
        started.elapsed()
    );
    Ok(())
}
