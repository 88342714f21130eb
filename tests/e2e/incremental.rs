//! `cairn artifact put --base NAME:ALIAS --remove PATH [PATH...]`: the next version of an
//! existing one, built from the files that changed only.

use anyhow::{Result, ensure};
use serde_json::json;

use crate::harness::{
    World, assert_same_tree, get, parse_put, put, random_bytes, utf8, write_file,
};

const NAME: &str = "alice/e2e/data";

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn put_with_a_base_sends_only_what_changed() -> Result<()> {
    let world = World::new()?;
    let input = world.path("input");
    write_file(&input, "README.md", b"# v0\n")?;
    write_file(&input, "keep/small.txt", b"stays\n")?;
    write_file(&input, "keep/large.bin", &random_bytes(1, 300_000))?;
    write_file(&input, "old/a.bin", &random_bytes(2, 1_000))?;
    write_file(&input, "old/b.bin", &random_bytes(3, 1_000))?;
    write_file(&input, "stale.txt", b"going\n")?;
    let v0 = put(&world.alice, &world.server, NAME, &input)?;
    ensure!(v0.version_index == 0, "{}", v0.json);
    // The files of v0 are gone from this machine: the kept entries must not need them.
    fs_err::remove_dir_all(&input)?;

    let changes = world.path("changes");
    write_file(&changes, "README.md", b"# v1\n")?;
    write_file(&changes, "new/c.bin", &random_bytes(4, 70_000))?;
    let before = world.server.stats()?;
    let outcome = world
        .alice
        .cairn(
            &world.server,
            [
                "artifact",
                "put",
                "--base",
                "e2e/data:v0",
                "--remove",
                "old",
                "--remove",
                "stale.txt",
                "--alias",
                "next",
                "--json",
                utf8(&changes)?,
            ],
        )
        .run()?
        .success()?;
    let after = world.server.stats()?;
    let v1 = parse_put(outcome.json()?)?;
    ensure!(
        v1.status == "created" && v1.version_index == 1,
        "the put makes v1: {}",
        v1.json
    );
    ensure!(
        v1.json["added"] == json!(["new/c.bin"])
            && v1.json["replaced"] == json!(["README.md"])
            && v1.json["removed"] == json!(["old/a.bin", "old/b.bin", "stale.txt"])
            && v1.json["kept"] == 2
            && v1.json["base"]["version_index"] == 0,
        "the put reports what changed against v0: {}",
        v1.json
    );
    ensure!(
        v1.uploaded_blobs == 2 && v1.uploaded_bytes == 5 + 70_000,
        "only the two new contents are sent: {}",
        v1.json
    );
    ensure!(
        after.blobs_received - before.blobs_received == 2
            && after.blob_bytes_received - before.blob_bytes_received == 5 + 70_000,
        "the server received exactly the new contents: before {before:?}, after {after:?}"
    );

    // v1 comes back byte for byte, from another machine with an empty cache.
    let expected = world.path("expected");
    write_file(&expected, "README.md", b"# v1\n")?;
    write_file(&expected, "keep/small.txt", b"stays\n")?;
    write_file(&expected, "keep/large.bin", &random_bytes(1, 300_000))?;
    write_file(&expected, "new/c.bin", &random_bytes(4, 70_000))?;
    let elsewhere = world.alice.on_another_machine(&world.server)?;
    let root = world.path("download");
    let got = get(&elsewhere, &world.server, &format!("{NAME}:next"), &root)?;
    ensure!(got.version_index == 1 && got.files == 4, "{}", got.json);
    assert_same_tree(&expected, &root)?;

    // Words for a person: what happened, in one line.
    let words = world
        .alice
        .cairn(
            &world.server,
            ["artifact", "put", "--base", NAME, "--remove", "new"],
        )
        .run()?
        .success()?;
    ensure!(
        words.stdout.contains("alice/e2e/data:v2")
            && words.stdout.contains("from alice/e2e/data:v1")
            && words.stdout.contains("1 removed, 3 kept"),
        "{words}"
    );
    Ok(())
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn put_with_a_base_refuses_what_cannot_work() -> Result<()> {
    let world = World::new()?;
    let input = world.path("input");
    write_file(&input, "a.txt", b"a\n")?;
    put(&world.alice, &world.server, NAME, &input)?;
    let before = world.server.stats()?;
    let put_base = |args: &[&str]| {
        let mut all = vec!["artifact", "put"];
        all.extend_from_slice(args);
        world.alice.cairn(&world.server, all).run()
    };

    // An unknown base: not found (3), naming it.
    put_base(&["--base", "e2e/nothing:v0", "--remove", "a.txt"])?
        .failure(&[3])?
        .stderr_mentions(&["e2e/nothing:v0", "cannot start a draft"])?;
    put_base(&["--base", "e2e/data:v9", "--remove", "a.txt"])?
        .failure(&[3])?
        .stderr_mentions(&["e2e/data:v9"])?;
    // Removing what the base does not have: a usage error (2) naming the path and the base.
    put_base(&["--base", NAME, "--remove", "b.txt"])?
        .failure(&[2])?
        .stderr_mentions(&["--remove `b.txt`", "alice/e2e/data:v0"])?;
    // Another type than the base's.
    put_base(&["--base", NAME, "--type", "model", utf8(&input)?])?
        .failure(&[2])?
        .stderr_mentions(&["`model`", "`dataset`"])?;
    // Another collection than the base's.
    put_base(&["--base", NAME, "--name", "e2e/other", utf8(&input)?])?
        .failure(&[2])?
        .stderr_mentions(&["--name"])?;
    // --remove without --base, and --base with nothing to do.
    put_base(&["--name", NAME, "--remove", "a.txt", utf8(&input)?])?.failure(&[2])?;
    put_base(&["--base", NAME])?
        .failure(&[2])?
        .stderr_mentions(&["--remove"])?;
    let after = world.server.stats()?;
    ensure!(
        after.versions_committed == before.versions_committed,
        "no refused put may commit anything: before {before:?}, after {after:?}"
    );
    Ok(())
}
