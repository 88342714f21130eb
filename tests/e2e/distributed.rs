//! `cairn artifact put --distributed-id ID [--finish]`: separate `cairn` processes, started at
//! once, each add their part (own files, one shared file, a table part) to one version; a last
//! process finishes it.

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use cairn_client::{Api, Client, Settings, Table};
use serde_json::json;

use crate::harness::World;
use crate::harness::{assert_same_tree, get, utf8, write_file};

const WRITERS: u32 = 8;
const NAME: &str = "alice/e2e/sharded";

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn parallel_writers_build_one_version_and_a_finish_commits_it() -> Result<()> {
    let world = World::new()?;
    // What the finished version must hold, written as it should download.
    let expected = world.path("expected");
    let mut running = Vec::new();
    for index in 0..WRITERS {
        let input = world.path(&format!("writer-{index}"));
        let own = format!("own/{index}.txt");
        let content = format!("written by writer {index}\n");
        write_file(&input, &own, content.as_bytes())?;
        write_file(&expected, &own, content.as_bytes())?;
        write_file(&input, "common.txt", b"the same for every writer\n")?;
        let rows = json!({
            "columns": ["writer", "value"],
            "data": [[index, index * 10], [index, index * 10 + 1]],
        });
        let table_file = world.path(&format!("table-{index}.json"));
        fs_err::write(&table_file, rows.to_string())?;
        let table_json = Table::with_rows(
            ["writer", "value"],
            vec![
                vec![json!(index), json!(index * 10)],
                vec![json!(index), json!(index * 10 + 1)],
            ],
        )?
        .to_json()?;
        write_file(
            &expected,
            &format!("parts/{index}.table.json"),
            table_json.as_bytes(),
        )?;
        let table_arg = format!("parts/{index}={}", utf8(&table_file)?);
        running.push(
            world
                .alice
                .cairn(
                    &world.server,
                    [
                        "artifact",
                        "put",
                        "--name",
                        NAME,
                        "--distributed-id",
                        "job-7",
                        "--table",
                        &table_arg,
                        "--json",
                        utf8(&input)?,
                    ],
                )
                .spawn()?,
        );
    }
    write_file(&expected, "common.txt", b"the same for every writer\n")?;
    let mut created = 0;
    let mut version_ids = Vec::new();
    for writer in running {
        let outcome = writer.wait(Duration::from_secs(120))?.success()?;
        let answer = outcome.json()?;
        ensure!(
            answer["finished"] == false
                && answer["files"] == 3
                && answer["version"]["state"] == "PENDING"
                && answer["writer"]
                    .as_str()
                    .is_some_and(|w| w.starts_with("run `alice/e2e/")),
            "a writer's answer: {answer}"
        );
        if answer["status"] == "created" {
            created += 1;
        }
        version_ids.push(answer["version"]["id"].clone());
    }
    ensure!(created == 1, "exactly one writer started the version");
    ensure!(
        version_ids.windows(2).all(|pair| pair[0] == pair[1]),
        "every writer added to one version: {version_ids:?}"
    );

    // Nothing is visible by name before the finish.
    world
        .alice
        .cairn(
            &world.server,
            [
                "artifact",
                "get",
                "alice/e2e/sharded:latest",
                "--root",
                utf8(&world.path("early"))?,
            ],
        )
        .run()?
        .failure(&[3])?;

    let pointer = world.path("finisher");
    write_file(&pointer, "README.md", b"eight shards\n")?;
    write_file(&expected, "README.md", b"eight shards\n")?;
    write_file(
        &expected,
        "table.partitioned-table.json",
        br#"{"_type": "partitioned-table", "parts_path": "parts"}"#,
    )?;
    let finished = world
        .alice
        .cairn(
            &world.server,
            [
                "artifact",
                "put",
                "--name",
                NAME,
                "--distributed-id",
                "job-7",
                "--finish",
                "--partitioned-table",
                "table=parts",
                "--alias",
                "sharded",
                "--json",
                utf8(&pointer)?,
            ],
        )
        .run()?
        .success()?;
    let answer = finished.json()?;
    let expected_files = u64::from(WRITERS) * 2 + 3;
    ensure!(
        answer["finished"] == true
            && answer["version"]["version_index"] == 0
            && answer["version"]["state"] == "COMMITTED"
            && answer["version"]["file_count"] == expected_files,
        "the finish commits v0 with the union: {answer}"
    );

    // Exactly one committed version, byte-identical on download.
    let listed = world
        .alice
        .cairn(&world.server, ["artifact", "ls", NAME, "--json"])
        .run()?
        .success()?
        .json()?;
    let versions = listed["versions"].as_array().context("versions")?;
    ensure!(versions.len() == 1, "one committed version: {listed}");
    let root = world.path("download");
    let got = get(
        &world.alice,
        &world.server,
        "alice/e2e/sharded:sharded",
        &root,
    )?;
    ensure!(
        got.version_index == 0 && got.files == expected_files,
        "{}",
        got.json
    );
    assert_same_tree(&expected, &root)?;

    // The native client reads each table part and the partitioned table.
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let client = Client::new(Settings::new(
            world.server.url(),
            Some(world.alice.api_key().to_owned()),
        ))?
        .with_cache(std::sync::Arc::new(cairn_cache::Cache::open(
            cairn_cache::CacheOptions::new(world.path("client-cache")),
        )?));
        let artifact = Api::new(client).artifact("alice/e2e/sharded:v0").await?;
        for index in 0..WRITERS {
            let part = artifact.get_table(&format!("parts/{index}")).await?;
            ensure!(
                part.rows()
                    == [
                        vec![json!(index), json!(index * 10)],
                        vec![json!(index), json!(index * 10 + 1)]
                    ],
                "part {index}: {part:?}"
            );
        }
        let whole = artifact.get_table("table").await?;
        ensure!(
            whole.columns() == ["writer", "value"] && whole.rows().len() == 2 * WRITERS as usize,
            "{whole:?}"
        );
        anyhow::Ok(())
    })?;

    // A part after the finish: refused, exit code 6 (conflict with the server's state).
    let late = world.path("late");
    write_file(&late, "late.txt", b"too late\n")?;
    let refused = world
        .alice
        .cairn(
            &world.server,
            [
                "artifact",
                "put",
                "--name",
                NAME,
                "--distributed-id",
                "job-7",
                utf8(&late)?,
            ],
        )
        .run()?
        .failure(&[6])?;
    refused.stderr_mentions(&["finished already", "job-7"])?;

    // Two writers, one path, different contents: the second fails naming both.
    let one = world.path("clash-1");
    write_file(&one, "same.txt", b"one\n")?;
    let two = world.path("clash-2");
    write_file(&two, "same.txt", b"two\n")?;
    let first = world
        .alice
        .cairn(
            &world.server,
            [
                "artifact",
                "put",
                "--name",
                "alice/e2e/clash",
                "--distributed-id",
                "c",
                "--json",
                utf8(&one)?,
            ],
        )
        .run()?
        .success()?
        .json()?;
    let first_writer = first["writer"].as_str().context("writer")?.to_owned();
    let second = world
        .alice
        .cairn(
            &world.server,
            [
                "artifact",
                "put",
                "--name",
                "alice/e2e/clash",
                "--distributed-id",
                "c",
                utf8(&two)?,
            ],
        )
        .run()?
        .failure(&[6])?;
    second.stderr_mentions(&[
        "same.txt",
        "written twice with different contents",
        &first_writer,
    ])?;
    ensure!(
        second.stderr.matches("run `alice/e2e/").count() >= 2,
        "both writers are named: {second}"
    );
    Ok(())
}
