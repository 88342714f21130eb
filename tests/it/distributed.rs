//! Distributed versions through `cairn-client`: several runs upsert parts of one version, one
//! finishes it; tables and a partitioned table read back; conflicts and late parts are refused
//! with errors that say why.

use anyhow::{Context as _, Result, ensure};
use cairn_api::{CreateVersionStatus, ErrorCode, VersionState};
use cairn_client::{
    AddFileOptions, Api, Artifact, Error, PartitionedTable, Run, RunOptions, Table,
};
use cairn_tests::{Scratch, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_upsert_parts_and_one_finishes_the_union() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let client = server.client(&server.admin_key, &scratch.cache())?;

    let mut writers = Vec::new();
    for index in 0..3_u32 {
        let run = Run::init(&client, RunOptions::new("dist").with_job_type("writer")).await?;
        let own = scratch.write(
            &format!("w{index}/own-{index}.txt"),
            format!("own {index}").as_bytes(),
        )?;
        let common = scratch.write(&format!("w{index}/common.txt"), b"shared by all")?;
        let mut part = Artifact::new("sharded", "dataset")?;
        part.add_file(&own, &AddFileOptions::default())?;
        part.add_file(&common, &AddFileOptions::default())?;
        let table = Table::with_rows(
            ["writer", "value"],
            vec![
                vec![json!(index), json!(index * 10)],
                vec![json!(index), json!(index * 10 + 1)],
            ],
        )?;
        part.add_table(&format!("parts/{index}"), &table)?;
        let upserted = run
            .upsert_artifact(&mut part, "job-1", &["best".to_owned()])
            .await?;
        ensure!(
            upserted.version.state == VersionState::Pending,
            "{upserted:?}"
        );
        ensure!(
            upserted.status
                == if index == 0 {
                    CreateVersionStatus::Created
                } else {
                    CreateVersionStatus::Resumed
                },
            "{upserted:?}"
        );
        ensure!(
            upserted.files == 3 && upserted.writer == run.writer_name(),
            "{upserted:?}"
        );
        ensure!(part.is_finalized(), "an upserted draft is finalized");
        writers.push((run, upserted.version.id));
    }
    ensure!(
        writers.iter().all(|(_, id)| *id == writers[0].1),
        "every writer adds to one version"
    );

    let finisher = Run::init(&client, RunOptions::new("dist").with_job_type("finish")).await?;
    let mut last = Artifact::new("sharded", "dataset")?;
    last.add_partitioned_table("table", &PartitionedTable::new("parts"))?;
    let logged = finisher.finish_artifact(&mut last, "job-1", &[]).await?;
    let version = logged.artifact.version();
    ensure!(
        version.qualified_name() == "admin/dist/sharded:v0",
        "{version:?}"
    );
    ensure!(
        version.aliases.contains(&"best".to_owned()),
        "{:?}",
        version.aliases
    );
    // 3 own files, the shared one, 3 table parts, the partitioned table.
    ensure!(version.file_count == 8, "{version:?}");

    let api = Api::new(client.clone());
    let read = api.artifact("dist/sharded:latest").await?;
    let paths: Vec<String> = read
        .files()
        .await?
        .into_iter()
        .map(|entry| entry.path.to_string())
        .collect();
    ensure!(
        paths
            == [
                "common.txt",
                "own-0.txt",
                "own-1.txt",
                "own-2.txt",
                "parts/0.table.json",
                "parts/1.table.json",
                "parts/2.table.json",
                "table.partitioned-table.json"
            ],
        "{paths:?}"
    );
    let part = read.get_table("parts/1").await?;
    ensure!(
        part.rows() == [vec![json!(1), json!(10)], vec![json!(1), json!(11)]],
        "{part:?}"
    );
    let parts = read.get_table_parts("table").await?;
    ensure!(parts.len() == 3, "{parts:?}");
    let whole = read.get_table("table").await?;
    ensure!(
        whole.columns() == ["writer", "value"] && whole.rows().len() == 6,
        "{whole:?}"
    );
    ensure!(read.read_file("common.txt").await? == b"shared by all");

    // Late: the id is finalized.
    let (late_run, _) = writers.first().context("writers")?;
    let late_file = scratch.write("late/late.txt", b"too late")?;
    let mut late = Artifact::new("sharded", "dataset")?;
    late.add_file(&late_file, &AddFileOptions::default())?;
    let error = late_run
        .upsert_artifact(&mut late, "job-1", &[])
        .await
        .err()
        .context("an upsert after the finish must fail")?;
    ensure!(
        matches!(error, Error::DistributedFinished { .. })
            && error.code() == Some(ErrorCode::NotPending)
            && error.to_string().contains("finished already"),
        "{error}"
    );

    // Two writers, one path, different contents.
    let first_run = Run::init(&client, RunOptions::new("dist")).await?;
    let second_run = Run::init(&client, RunOptions::new("dist")).await?;
    let mut first = Artifact::new("clashing", "dataset")?;
    first.new_file("same.txt", b"one", true)?;
    first_run.upsert_artifact(&mut first, "clash", &[]).await?;
    let mut second = Artifact::new("clashing", "dataset")?;
    second.new_file("same.txt", b"two", true)?;
    let error = second_run
        .upsert_artifact(&mut second, "clash", &[])
        .await
        .err()
        .context("the second writer of other contents must fail")?;
    let message = error.to_string();
    ensure!(
        matches!(error, Error::DistributedConflict { .. })
            && error.code() == Some(ErrorCode::Conflict)
            && message.contains(&first_run.writer_name())
            && message.contains(&second_run.writer_name())
            && message.contains("same.txt"),
        "{message}"
    );
    Ok(())
}
