//! Finding and editing logged artifacts, permissions between users, and lineage.

use anyhow::Result;
use cairn_api::Visibility;
use cairn_client::{AddFileOptions, Api, Artifact, Error, Run, RunOptions};
use cairn_tests::{Scratch, TestServer};
use serde_json::json;

async fn log_one(server: &TestServer, scratch: &Scratch, project: &str, name: &str) -> Result<Run> {
    let client = server.client(&server.admin_key, &scratch.cache())?;
    let run = Run::init(&client, RunOptions::new(project).with_job_type("producer")).await?;
    let path = scratch.write(&format!("{name}.txt"), name.as_bytes())?;
    let mut artifact = Artifact::new(name, "dataset")?;
    artifact.add_file(&path, &AddFileOptions::default())?;
    run.log_artifact(&mut artifact, &[]).await?;
    Ok(run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_saved_in_one_request_and_read_back() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    log_one(&server, &scratch, "edits", "table").await?;
    let api = Api::new(server.client(&server.admin_key, &scratch.cache())?);
    let mut artifact = api.artifact("admin/edits/table:latest").await?;
    artifact.set_description(Some("the table".to_owned()));
    artifact.set_metadata(
        json!({"rows": 3, "source": "test"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )?;
    artifact.add_alias("production")?;
    artifact.add_tag("reviewed")?;
    artifact.save().await?;
    assert_eq!(artifact.version().description.as_deref(), Some("the table"));

    let read = api.artifact("edits/table:production").await?;
    let version = read.version();
    assert_eq!(version.description.as_deref(), Some("the table"));
    assert_eq!(version.metadata.get("rows"), Some(&json!(3)));
    assert!(version.aliases.contains(&"production".to_owned()));
    assert_eq!(version.tags, vec!["reviewed".to_owned()]);

    let mut read = read;
    read.remove_alias("production");
    read.remove_tag("reviewed");
    read.set_description(None);
    read.save().await?;
    let version = api.artifact("edits/table:v0").await?.version().clone();
    assert!(!version.aliases.contains(&"production".to_owned()));
    assert!(version.tags.is_empty());
    assert_eq!(version.description, None);
    let error = api.artifact("edits/table:production").await.err();
    assert!(matches!(error, Some(Error::NotFound { .. })), "{error:?}");
    assert!(artifact.add_alias("bad/alias").is_err());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_user_is_refused_a_private_project() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    server
        .create_project("admin", "secret", Visibility::Private)
        .await?;
    log_one(&server, &scratch, "secret", "plans").await?;
    let bob_key = server.create_user("bob").await?;
    let bob = server.client(&bob_key, &scratch.cache())?;
    assert_eq!(bob.viewer().await?.user.username, "bob");

    // Writing is refused outright; reading does not even reveal that the project exists.
    let error = Run::init(&bob, RunOptions::new("secret").with_entity("admin"))
        .await
        .err();
    assert!(
        matches!(error, Some(Error::PermissionDenied { .. })),
        "{error:?}"
    );
    assert_eq!(
        error.as_ref().and_then(Error::code),
        Some(cairn_api::ErrorCode::PermissionDenied)
    );
    let error = Api::new(bob.clone())
        .artifact("admin/secret/plans:latest")
        .await
        .err();
    assert!(matches!(error, Some(Error::NotFound { .. })), "{error:?}");
    // The owner reads it fine.
    let admin = server.client(&server.admin_key, &scratch.cache())?;
    Api::new(admin)
        .artifact("admin/secret/plans:latest")
        .await?;
    let error = bob.server_stats().await.err();
    assert!(
        matches!(error, Some(Error::PermissionDenied { .. })),
        "{error:?}"
    );

    // Bob's own entity is his to write.
    let run = Run::init(&bob, RunOptions::new("mine")).await?;
    assert_eq!(run.info().entity, "bob");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_artifact_records_lineage() -> Result<()> {
    let server = TestServer::start().await?;
    let scratch = Scratch::new()?;
    let producer = log_one(&server, &scratch, "lineage", "raw").await?;
    let client = server.client(&server.admin_key, &scratch.cache())?;
    let consumer = Run::init(
        &client,
        RunOptions::new("lineage").with_id("consumer-run-1"),
    )
    .await?;
    let used = consumer.use_artifact("raw:latest").await?;
    assert_eq!(used.qualified_name(), "admin/lineage/raw:v0");
    let lineage = used.lineage().await?;
    assert_eq!(
        lineage.logged_by.map(|run| run.id),
        Some(producer.info().id.clone())
    );
    assert_eq!(
        lineage
            .used_by
            .iter()
            .map(|run| run.id.as_str())
            .collect::<Vec<_>>(),
        vec!["consumer-run-1"]
    );
    let finished = consumer.finish(3).await?;
    assert_eq!(finished.exit_code, Some(3));
    assert_eq!(finished.state, cairn_api::RunState::Failed);

    let api = Api::new(client);
    let collections = api.collections("admin", "lineage").await?;
    assert_eq!(collections.len(), 1);
    assert_eq!(collections[0].name, "raw");
    let versions = api.versions("admin", "lineage", "raw").await?;
    assert_eq!(versions.len(), 1);
    Ok(())
}
