//! [`Run`]: a unit of work that logs artifacts (outputs) and uses them (inputs), which is what
//! lineage is made of.

use cairn_api::{ArtifactPath, CreateRun, FinishRun, ResumeMode, UseArtifact, routes};
use reqwest::Method;

use crate::distributed::{self, Part};
use crate::{Artifact, Client, Logged, LoggedArtifact, Result, Upserted};

/// How [`Run::init`] finds or creates its run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The owning user or team; the API key's user when `None`.
    pub entity: Option<String>,
    /// The project (created on first use when the caller may write to the entity).
    pub project: String,
    /// The job type (`train`, `eval`, `upload`, ...).
    pub job_type: Option<String>,
    /// The run id; the server picks one when `None`.
    pub id: Option<String>,
    /// What to do when a run with `id` exists.
    pub resume: ResumeMode,
}

impl RunOptions {
    /// A new run in `project` of the viewer's own entity.
    pub fn new(project: impl Into<String>) -> Self {
        Self {
            project: project.into(),
            ..Self::default()
        }
    }

    /// Sets the owning entity.
    #[must_use]
    pub fn with_entity(mut self, entity: impl Into<String>) -> Self {
        self.entity = Some(entity.into());
        self
    }

    /// Sets the job type.
    #[must_use]
    pub fn with_job_type(mut self, job_type: impl Into<String>) -> Self {
        self.job_type = Some(job_type.into());
        self
    }

    /// Sets the run id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets how an existing run with the id is treated.
    #[must_use]
    pub fn with_resume(mut self, resume: ResumeMode) -> Self {
        self.resume = resume;
        self
    }
}

/// A run on the server.
#[derive(Debug, Clone)]
pub struct Run {
    client: Client,
    info: cairn_api::Run,
}

impl Run {
    /// Creates the run, or resumes it as `options.resume` allows.
    pub async fn init(client: &Client, options: RunOptions) -> Result<Self> {
        let entity = match options.entity {
            Some(entity) => entity,
            None => client.username().await?,
        };
        cairn_manifest::validate_project_name(&options.project)?;
        let request = CreateRun {
            id: options.id,
            job_type: options.job_type,
            resume: options.resume,
        };
        let info = client
            .send_json(
                Method::POST,
                &routes::runs(&entity, &options.project),
                &request,
            )
            .await?;
        Ok(Self {
            client: client.clone(),
            info,
        })
    }

    /// The run as the server last described it.
    pub fn info(&self) -> &cairn_api::Run {
        &self.info
    }

    /// The client the run talks through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Logs `artifact` as an output of this run, with `aliases` (`latest` always moves). The
    /// draft is finalized, also when the server already had a version with the same content
    /// ([`CreateVersionStatus::Existing`](cairn_api::CreateVersionStatus::Existing): nothing is
    /// uploaded then). Re-running an interrupted log resumes it: only blobs the server still
    /// lacks are sent.
    pub async fn log_artifact(
        &self,
        artifact: &mut Artifact,
        aliases: &[String],
    ) -> Result<Logged> {
        crate::upload::log(
            &self.client,
            &self.info.entity,
            &self.info.project,
            Some(&self.info.id),
            artifact,
            aliases,
        )
        .await
    }

    /// The name this run's parts of distributed versions are uploaded under:
    /// ``run `entity/project/id` `` (the W&B protocol names SDK runs the same way). The server
    /// names both writers when two of them give one path different contents.
    pub fn writer_name(&self) -> String {
        format!(
            "run `{}/{}/{}`",
            self.info.entity, self.info.project, self.info.id
        )
    }

    /// Adds `artifact`'s files as this run's part of the distributed version `distributed_id`
    /// (in the artifact's collection), creating that PENDING version if this is the first
    /// writer, and uploads the blobs the server lacks for the part. The version is not
    /// committed: call [`finish_artifact`](Self::finish_artifact) once every writer has
    /// upserted. Many processes may do this at once; each run is one writer, and a second
    /// upsert by the same run adds to its part. `aliases` are applied when the version
    /// commits. The draft is finalized.
    ///
    /// Errors: [`Error::DistributedConflict`](crate::Error::DistributedConflict) when another
    /// writer gave one of the paths other contents (the message names both writers),
    /// [`Error::DistributedFinished`](crate::Error::DistributedFinished) when the version was
    /// committed already.
    ///
    /// ```no_run
    /// use cairn_client::{Artifact, Client, Run, RunOptions, Table};
    /// use serde_json::json;
    ///
    /// # async fn example(shard: u32) -> cairn_client::Result<()> {
    /// let client = Client::from_env()?;
    /// let run = Run::init(&client, RunOptions::new("vision").with_job_type("shard")).await?;
    /// let mut artifact = Artifact::new("predictions", "dataset")?;
    /// let table = Table::with_rows(["shard", "score"], vec![vec![json!(shard), json!(0.9)]])?;
    /// artifact.add_table(&format!("parts/{shard}"), &table)?;
    /// run.upsert_artifact(&mut artifact, "eval-2025-01-31", &[]).await?;
    /// run.finish(0).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn upsert_artifact(
        &self,
        artifact: &mut Artifact,
        distributed_id: &str,
        aliases: &[String],
    ) -> Result<Upserted> {
        let writer = self.writer_name();
        distributed::upsert(
            &self.client,
            &self.part(distributed_id, &writer),
            artifact,
            aliases,
        )
        .await
    }

    /// [`upsert_artifact`](Self::upsert_artifact), then commits the distributed version: the
    /// server merges every writer's part into one manifest (their union, digest computed over
    /// it) and commits it as the collection's next version. Call it once, after every other
    /// writer's upsert has returned; `artifact` may be empty. Afterwards the distributed id is
    /// finalized: further upserts fail with
    /// [`Error::DistributedFinished`](crate::Error::DistributedFinished).
    ///
    /// ```no_run
    /// use cairn_client::{Artifact, Client, PartitionedTable, Run, RunOptions};
    ///
    /// # async fn example() -> cairn_client::Result<()> {
    /// let client = Client::from_env()?;
    /// let run = Run::init(&client, RunOptions::new("vision").with_job_type("collect")).await?;
    /// let mut artifact = Artifact::new("predictions", "dataset")?;
    /// artifact.add_partitioned_table("table", &PartitionedTable::new("parts"))?;
    /// let logged = run.finish_artifact(&mut artifact, "eval-2025-01-31", &[]).await?;
    /// let rows = logged.artifact.get_table("table").await?.rows().len();
    /// println!("{} with {rows} rows", logged.artifact.qualified_name());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn finish_artifact(
        &self,
        artifact: &mut Artifact,
        distributed_id: &str,
        aliases: &[String],
    ) -> Result<Logged> {
        let writer = self.writer_name();
        distributed::finish(
            &self.client,
            &self.part(distributed_id, &writer),
            artifact,
            aliases,
        )
        .await
    }

    fn part<'a>(&'a self, distributed_id: &'a str, writer: &'a str) -> Part<'a> {
        Part {
            entity: &self.info.entity,
            project: &self.info.project,
            run: &self.info.id,
            distributed_id,
            writer,
        }
    }

    /// Looks up an artifact version (`name:alias`, `project/name:v3` or
    /// `entity/project/name:alias`; entity and project default to the run's) and records it as
    /// an input of this run.
    pub async fn use_artifact(&self, name: &str) -> Result<LoggedArtifact> {
        let path = ArtifactPath::parse(name)?
            .with_defaults(Some(&self.info.entity), Some(&self.info.project));
        let artifact = LoggedArtifact::resolve(&self.client, &path).await?;
        let request = UseArtifact {
            artifact_id: artifact.version().id.clone(),
        };
        self.client
            .send_ignore(
                Method::POST,
                &routes::run_inputs(&self.info.entity, &self.info.project, &self.info.id),
                &request,
            )
            .await?;
        Ok(artifact)
    }

    /// Marks the run finished (exit code 0) or failed (anything else).
    pub async fn finish(self, exit_code: i32) -> Result<cairn_api::Run> {
        let path = routes::run_finish(&self.info.entity, &self.info.project, &self.info.id);
        self.client
            .send_json(Method::POST, &path, &FinishRun { exit_code })
            .await
    }
}
