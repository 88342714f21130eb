//! `cairn artifact put|get|ls|collection|lineage|link|unlink|protected-aliases|delete|ttl`: log files or directories as a new version (or,
//! with `--base`, as the next version of an existing one), download a version, list a project's
//! collections or a collection's versions, rename or describe a collection, show lineage.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use cairn_api::{
    ArtifactPath, Collection, CollectionKind, LineageDirection, LineageGraph, LineageNode,
    TtlSetting, UpdateCollection, Version,
};
use cairn_cache::LinkMode;
use cairn_client::{
    AddDirOptions, AddFileOptions, Api, Artifact, Client, DownloadOptions, Logged,
    PartitionedTable, RunOptions, Table,
};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::commands::{UsageError, runtime};
use crate::progress::Bars;

/// `cairn artifact ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ArtifactCommand {
    /// Log files or directories as a new version (nothing new when the content is unchanged);
    /// with --base, the next version of an existing one with entries added, replaced or removed.
    Put(PutArgs),
    /// Download a version into a directory.
    Get(GetArgs),
    /// List the artifact collections of a project, or the versions of one collection.
    Ls(LsArgs),
    /// Show a collection; rename it or change its description.
    Collection(CollectionArgs),
    /// The lineage graph of a version: the runs and versions it came from and led to.
    Lineage(LineageArgs),
    /// Link a version into a portfolio (a registry collection), created on first link.
    Link(LinkArgs),
    /// Remove a link from its portfolio (the version itself stays where it was logged).
    Unlink(UnlinkArgs),
    /// Show a project's protected aliases; declare or drop them (the project's admins only).
    ProtectedAliases(ProtectedArgs),
    /// Delete a version (soft: it vanishes at once, its `vN` is never reused), or a link.
    Delete(DeleteArgs),
    /// Set a version's TTL (`set 30d`), switch it off (`unset`) or go back to the team's
    /// default (`inherit`); counted from the version's creation.
    Ttl {
        #[command(subcommand)]
        action: TtlAction,
    },
}

/// `cairn artifact ttl set|unset|inherit`.
#[derive(Debug, Subcommand)]
pub(crate) enum TtlAction {
    /// Delete the version this long after its creation: `90s`, `15m`, `12h`, `30d`, `2w`.
    Set {
        /// `entity/project/name:alias|:vN`.
        artifact: String,
        /// The TTL.
        ttl: String,
    },
    /// Never delete it, even when the team has a default TTL.
    Unset {
        /// `entity/project/name:alias|:vN`.
        artifact: String,
    },
    /// Take the team's default TTL.
    Inherit {
        /// `entity/project/name:alias|:vN`.
        artifact: String,
    },
}

/// Arguments of `cairn artifact delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// `entity/project/name:alias|:vN` (a link when `name` is a portfolio: only the link goes).
    artifact: String,
    /// Remove the version's aliases too; without it a version with aliases is refused.
    #[arg(long)]
    delete_aliases: bool,
}

/// Arguments of `cairn artifact link`.
#[derive(Debug, Args)]
pub(crate) struct LinkArgs {
    /// The version to link: `entity/project/name[:alias|:vN|:digest]` (`latest` by default).
    artifact: String,
    /// The portfolio: `PORTFOLIO`, `PROJECT/PORTFOLIO` or `ENTITY/PROJECT/PORTFOLIO` (entity and
    /// project default to the version's). `ENTITY/model-registry/NAME` is the model registry,
    /// which takes only types containing `model`.
    target: String,
    /// An alias for the link in the portfolio (repeatable); `latest` always moves to the
    /// newest link.
    #[arg(long = "alias")]
    aliases: Vec<String>,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn artifact unlink`.
#[derive(Debug, Args)]
pub(crate) struct UnlinkArgs {
    /// The link: `entity/project/portfolio:vN` (or `:alias`).
    link: String,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn artifact protected-aliases`.
#[derive(Debug, Args)]
pub(crate) struct ProtectedArgs {
    /// `entity/project`.
    project: String,
    /// Protect this alias (repeatable): only the project's admins may then add or remove it,
    /// and what carries it cannot be unlinked or deleted.
    #[arg(long)]
    add: Vec<String>,
    /// Protect this alias no longer (repeatable).
    #[arg(long)]
    remove: Vec<String>,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn artifact lineage`.
#[derive(Debug, Args)]
pub(crate) struct LineageArgs {
    /// `entity/project/name[:alias|:vN|:digest]`; the alias defaults to `latest`.
    artifact: String,
    /// Hops from the version (version → run or run → version).
    #[arg(long, default_value_t = 2)]
    depth: u32,
    /// `up` (what it was made from), `down` (what was made from it) or `both`.
    #[arg(long, default_value = "both")]
    direction: String,
    /// `text`, `json` or `dot` (Graphviz: `| dot -Tsvg > lineage.svg`).
    #[arg(long, default_value = "text")]
    format: String,
}

/// Arguments of `cairn artifact put`.
#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// `[entity/]project/name`; the entity defaults to your user. With --base it may be left
    /// out (the new version goes to the base's collection).
    #[arg(long, required_unless_present = "base")]
    name: Option<String>,
    /// The artifact type (`dataset`, `model`, ...); `dataset` by default, the base's with
    /// --base.
    #[arg(long = "type")]
    artifact_type: Option<String>,
    /// Start from this committed version, `[entity/]project/name[:alias|:vN]` (`latest` by
    /// default): its entries are kept without being hashed or uploaded again, PATHs are added
    /// (replacing entries at the same paths) and --remove takes entries out.
    #[arg(long, value_name = "NAME:ALIAS")]
    base: Option<String>,
    /// With --base: remove this entry, or every entry under this directory (repeatable).
    #[arg(long = "remove", value_name = "PATH", requires = "base")]
    removes: Vec<String>,
    /// An alias to point at the new version (repeatable); `latest` always moves.
    #[arg(long = "alias")]
    aliases: Vec<String>,
    /// A description of the version (with --base, the base's by default).
    #[arg(long)]
    description: Option<String>,
    /// Metadata as a JSON object (with --base, the base's by default).
    #[arg(long)]
    metadata: Option<String>,
    /// The version's TTL: `30d`, `12h`, ... (deleted that long after its creation), `none`
    /// (never, even with a team default) or `inherit` (the team's default, the default).
    #[arg(long)]
    ttl: Option<String>,
    /// Add the files as this process's part of the distributed version ID: every put with
    /// the same ID (from any process or machine) adds to one PENDING version, until a put with
    /// --finish commits their union. A path given different contents by two puts is refused.
    #[arg(long, value_name = "ID", conflicts_with_all = ["base", "removes"])]
    distributed_id: Option<String>,
    /// With --distributed-id: after adding this part (PATHs are optional then), commit the
    /// version with every part merged. Afterwards the ID takes no more parts.
    #[arg(long, requires = "distributed_id")]
    finish: bool,
    /// Add a W&B table as `NAME.table.json` from FILE, a JSON object with `columns` and `data`
    /// (rows), e.g. `--table parts/3=scores.json` (repeatable).
    #[arg(long = "table", value_name = "NAME=FILE")]
    tables: Vec<String>,
    /// Add a partitioned table `NAME.partitioned-table.json` whose parts are the
    /// `*.table.json` files under PARTS_PATH, e.g. `--partitioned-table table=parts`
    /// (repeatable).
    #[arg(long = "partitioned-table", value_name = "NAME=PARTS_PATH")]
    partitioned_tables: Vec<String>,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
    /// The files or directories to log: a directory's files go in at the artifact's root, a
    /// file under its own name. Without --base, --finish or a table at least one is needed.
    #[arg(required_unless_present_any = ["base", "finish", "tables", "partitioned_tables"])]
    paths: Vec<PathBuf>,
}

/// Arguments of `cairn artifact get`.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// `entity/project/name[:alias|:vN|:digest]`; the alias defaults to `latest`.
    artifact: String,
    /// Where to put the files; defaults to `./artifacts/<name>:v<N>`.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Only entries under this path inside the artifact.
    #[arg(long)]
    path_prefix: Option<String>,
    /// Download straight into the root without keeping a copy in the cache.
    #[arg(long)]
    skip_cache: bool,
    /// Skip references whose data is gone or changed instead of failing.
    #[arg(long)]
    allow_missing_references: bool,
    /// How files are placed from the cache: `auto` (reflink, else copy), `reflink`, `hardlink`
    /// (read-only, shares the cache's copy), `copy`.
    #[arg(long, default_value = "auto")]
    link: String,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn artifact ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// `entity/project` lists its collections; `entity/project/name` lists that collection's
    /// committed versions, newest first.
    path: String,
    /// Only collections of this artifact type.
    #[arg(long = "type")]
    artifact_type: Option<String>,
    /// Only the version this alias points at (with `entity/project/name`).
    #[arg(long)]
    alias: Option<String>,
    /// At most this many versions (with `entity/project/name`); all when absent.
    #[arg(long)]
    limit: Option<usize>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `cairn artifact collection`.
#[derive(Debug, Args)]
pub(crate) struct CollectionArgs {
    /// `entity/project/name`.
    path: String,
    /// A new name: the old one stops resolving; versions keep their numbers and aliases.
    #[arg(long)]
    rename: Option<String>,
    /// A new description (an empty string clears it).
    #[arg(long)]
    description: Option<String>,
    /// Delete the collection: soft-delete its versions (a portfolio: remove its links) and
    /// free its name.
    #[arg(long, conflicts_with_all = ["rename", "description"])]
    delete: bool,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
}

/// Runs an `artifact` subcommand.
pub(crate) fn run(command: ArtifactCommand) -> anyhow::Result<()> {
    match command {
        ArtifactCommand::Put(args) => runtime()?.block_on(put(args)),
        ArtifactCommand::Get(args) => runtime()?.block_on(get(args)),
        ArtifactCommand::Ls(args) => runtime()?.block_on(ls(args)),
        ArtifactCommand::Collection(args) => runtime()?.block_on(collection(args)),
        ArtifactCommand::Lineage(args) => runtime()?.block_on(lineage(args)),
        ArtifactCommand::Link(args) => runtime()?.block_on(link(args)),
        ArtifactCommand::Unlink(args) => runtime()?.block_on(unlink(args)),
        ArtifactCommand::ProtectedAliases(args) => runtime()?.block_on(protected_aliases(args)),
        ArtifactCommand::Delete(args) => runtime()?.block_on(delete(args)),
        ArtifactCommand::Ttl { action } => runtime()?.block_on(ttl(action)),
    }
}

/// A `--ttl` value: a duration, `none` or `inherit`.
fn parse_ttl(text: &str) -> Result<TtlSetting, UsageError> {
    match text {
        "none" => Ok(TtlSetting::None),
        "inherit" => Ok(TtlSetting::Inherit),
        duration => super::parse_duration(duration)
            .map(TtlSetting::Seconds)
            .map_err(UsageError::new),
    }
}

/// `cairn artifact ttl set|unset|inherit PATH [TTL]`.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn ttl(action: TtlAction) -> anyhow::Result<()> {
    let (path, setting) = match action {
        TtlAction::Set { artifact, ttl } => {
            let seconds = super::parse_duration(&ttl).map_err(UsageError::new)?;
            (artifact, TtlSetting::Seconds(seconds))
        }
        TtlAction::Unset { artifact } => (artifact, TtlSetting::None),
        TtlAction::Inherit { artifact } => (artifact, TtlSetting::Inherit),
    };
    let api = Api::new(Client::from_env()?);
    let mut artifact = api.artifact(&path).await?;
    artifact.set_ttl(setting);
    artifact.save().await?;
    let ttl = &artifact.version().ttl;
    let inherited = if ttl.inherited {
        " (the team's default)"
    } else {
        ""
    };
    match (&ttl.seconds, &ttl.expires_at) {
        (Some(seconds), Some(expires)) => println!(
            "{}: TTL {seconds} s{inherited}, expires at {expires}",
            artifact.qualified_name()
        ),
        _ => println!(
            "{}: no TTL{inherited}, never expires",
            artifact.qualified_name()
        ),
    }
    Ok(())
}

/// `cairn artifact delete entity/project/name:vN [--delete-aliases]`.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let api = Api::new(Client::from_env()?);
    let artifact = api.artifact(&args.artifact).await?;
    artifact.delete(args.delete_aliases).await?;
    if artifact.is_link() {
        println!(
            "unlinked {} (the version stays as {})",
            artifact.qualified_name(),
            artifact.source_qualified_name()
        );
    } else {
        println!("deleted {}", artifact.qualified_name());
    }
    Ok(())
}

/// `cairn artifact link ARTIFACT TARGET [--alias A]...`.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn link(args: LinkArgs) -> anyhow::Result<()> {
    let api = Api::new(Client::from_env()?);
    let artifact = api.artifact(&args.artifact).await?;
    let linked = artifact.link(&args.target, &args.aliases).await?;
    if args.json {
        println!("{}", json!(linked.version()));
        return Ok(());
    }
    println!(
        "linked {} as {}{}",
        linked.source_qualified_name(),
        linked.qualified_name(),
        aliases_suffix(&linked.version().aliases)
    );
    Ok(())
}

/// `cairn artifact unlink entity/project/portfolio:vN`.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn unlink(args: UnlinkArgs) -> anyhow::Result<()> {
    let api = Api::new(Client::from_env()?);
    let link = api.artifact(&args.link).await?;
    let removed = link.unlink().await?;
    if args.json {
        println!("{}", json!(removed.version()));
        return Ok(());
    }
    println!(
        "unlinked {} (the version stays as {})",
        removed.qualified_name(),
        removed.source_qualified_name()
    );
    Ok(())
}

/// `cairn artifact protected-aliases entity/project [--add A] [--remove A]`.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn protected_aliases(args: ProtectedArgs) -> anyhow::Result<()> {
    let Some((entity, project, None)) = split_path(&args.project) else {
        return Err(UsageError::new(format!("`{}` is not `entity/project`", args.project)).into());
    };
    let api = Api::new(Client::from_env()?);
    let aliases = if args.add.is_empty() && args.remove.is_empty() {
        api.protected_aliases(entity, project).await?
    } else {
        api.update_protected_aliases(entity, project, &args.add, &args.remove)
            .await?
    };
    if args.json {
        println!("{}", json!({ "aliases": aliases }));
    } else if aliases.is_empty() {
        println!("{entity}/{project} protects no aliases");
    } else {
        println!("{entity}/{project} protects: {}", aliases.join(", "));
    }
    Ok(())
}

/// ` (aliases a, b)` or nothing.
fn aliases_suffix(aliases: &[String]) -> String {
    if aliases.is_empty() {
        String::new()
    } else {
        format!(" (aliases {})", aliases.join(", "))
    }
}

/// Where a put goes: a collection of a project.
#[derive(Debug)]
struct Target {
    entity: Option<String>,
    project: String,
    name: String,
}

async fn put(args: PutArgs) -> anyhow::Result<()> {
    if args.paths.iter().any(|path| path.as_os_str().is_empty()) {
        return Err(UsageError::new("PATH is empty; give the file or directory to log").into());
    }
    let target = match &args.name {
        Some(name) => Some(parse_target(name)?),
        None => None,
    };
    if let Some(base) = &args.base {
        ArtifactPath::parse(base).map_err(|error| UsageError::new(format!("--base: {error}")))?;
        if args.paths.is_empty() && args.removes.is_empty() {
            return Err(UsageError::new(
                "--base alone changes nothing; give PATHs to add or --remove PATH to take entries out",
            )
            .into());
        }
    }
    let bars = Arc::new(Bars::new(args.json));
    let client = Client::from_env()?.with_progress(bars);

    let (mut artifact, target) = match &args.base {
        Some(base) => {
            let draft = Artifact::new_draft(&client, base).await?;
            let target = draft_target(&draft, target, args.artifact_type.as_deref())?;
            (draft, target)
        }
        None => {
            let Some(target) = target else {
                return Err(UsageError::new("--name is required without --base").into());
            };
            let artifact_type = args.artifact_type.as_deref().unwrap_or("dataset");
            (Artifact::new(&target.name, artifact_type)?, target)
        }
    };
    if let Some(description) = &args.description {
        artifact = artifact.with_description(description.clone());
    }
    if let Some(ttl) = &args.ttl {
        artifact = artifact.with_ttl(parse_ttl(ttl)?);
    }
    if let Some(metadata) = &args.metadata {
        let value: serde_json::Value = serde_json::from_str(metadata)
            .map_err(|error| UsageError::new(format!("--metadata is not JSON: {error}")))?;
        artifact = artifact.with_metadata(value)?;
    }
    // The stat cache spares re-hashing unchanged files on the next put; without it (a
    // read-only cache directory) the put still works.
    if let Some(stat_cache) = client
        .cache()
        .ok()
        .and_then(|cache| cache.stat_cache().ok())
    {
        artifact = artifact.with_stat_cache(Arc::new(stat_cache));
    }
    for item in &args.removes {
        if let Err(error) = artifact.remove(item) {
            let base = artifact
                .base()
                .map(cairn_api::Version::qualified_name)
                .unwrap_or_default();
            return Err(UsageError::new(format!(
                "--remove `{item}`: the base `{base}` has no entry `{item}` and no entry under `{item}/` ({error}); `cairn artifact get {base}` shows its files"
            ))
            .into());
        }
    }
    // On a base, a path given again replaces its entry: that is what the user asks for.
    let replace = args.base.is_some();
    // Large new files go to the server while they are hashed (staged), not hashed and then
    // sent: the two hashes, ours and the server's, run at the same time.
    let is_dir = args
        .paths
        .iter()
        .map(|path| {
            fs_err::metadata(path)
                .map(|metadata| metadata.is_dir())
                .with_context(|| format!("cannot log `{}`", path.display()))
        })
        .collect::<anyhow::Result<Vec<bool>>>()?;
    let entity = match &target.entity {
        Some(entity) => entity.clone(),
        None if args.paths.is_empty() => String::new(),
        None => client.viewer().await?.user.username,
    };
    for (path, is_dir) in args.paths.iter().zip(is_dir) {
        if is_dir {
            let options = AddDirOptions::default().with_merge(replace);
            artifact
                .add_dir_staged(&client, &entity, &target.project, path, &options)
                .await?;
        } else {
            let options = AddFileOptions::default().with_overwrite(replace);
            artifact
                .add_file_staged(&client, &entity, &target.project, path, &options)
                .await?;
        }
    }

    for table in &args.tables {
        let (name, file) = split_pair(table, "--table", "NAME=FILE")?;
        let table = read_table(std::path::Path::new(file))?;
        artifact.add_table(name, &table)?;
    }
    for pointer in &args.partitioned_tables {
        let (name, parts_path) = split_pair(pointer, "--partitioned-table", "NAME=PARTS_PATH")?;
        artifact.add_partitioned_table(name, &PartitionedTable::new(parts_path))?;
    }

    let options = RunOptions {
        entity: target.entity.clone(),
        project: target.project.clone(),
        job_type: Some("cairn-artifact-put".to_owned()),
        ..RunOptions::default()
    };
    let run = cairn_client::Run::init(&client, options).await?;
    if let Some(distributed_id) = &args.distributed_id {
        return put_part(&args, &run, &mut artifact, distributed_id).await;
    }
    let logged = match run.log_artifact(&mut artifact, &args.aliases).await {
        Ok(logged) => logged,
        Err(error) => {
            // The run is bookkeeping; the log error is what the user needs to see.
            let _ = run.finish(1).await;
            return Err(error.into());
        }
    };
    run.finish(0).await?;
    print_put(&args, &artifact, &logged)
}

/// `--distributed-id`: upserts this part, and with `--finish` commits the version.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn put_part(
    args: &PutArgs,
    run: &cairn_client::Run,
    artifact: &mut Artifact,
    distributed_id: &str,
) -> anyhow::Result<()> {
    let writer = run.writer_name();
    if args.finish {
        let logged = match run
            .finish_artifact(artifact, distributed_id, &args.aliases)
            .await
        {
            Ok(logged) => logged,
            Err(error) => {
                let _ = run.clone().finish(1).await;
                return Err(error.into());
            }
        };
        run.clone().finish(0).await?;
        let version = logged.artifact.version();
        if args.json {
            let value = json!({
                "version": version,
                "status": logged.status,
                "distributed_id": distributed_id,
                "writer": writer,
                "finished": true,
                "uploaded_blobs": logged.uploaded_blobs,
                "uploaded_bytes": logged.uploaded_bytes,
                "reused_blobs": logged.reused_blobs,
            });
            println!("{value}");
        } else {
            println!(
                "finished distributed artifact {} (distributed id `{distributed_id}`): {} files, {}; this part uploaded {} blobs ({}), {} already on the server",
                version.qualified_name(),
                version.file_count,
                human_bytes(version.size),
                logged.uploaded_blobs,
                human_bytes(logged.uploaded_bytes),
                logged.reused_blobs,
            );
        }
        return Ok(());
    }
    let upserted = match run
        .upsert_artifact(artifact, distributed_id, &args.aliases)
        .await
    {
        Ok(upserted) => upserted,
        Err(error) => {
            let _ = run.clone().finish(1).await;
            return Err(error.into());
        }
    };
    run.clone().finish(0).await?;
    if args.json {
        let value = json!({
            "version": upserted.version,
            "status": upserted.status,
            "distributed_id": distributed_id,
            "writer": upserted.writer,
            "finished": false,
            "files": upserted.files,
            "uploaded_blobs": upserted.uploaded_blobs,
            "uploaded_bytes": upserted.uploaded_bytes,
            "reused_blobs": upserted.reused_blobs,
        });
        println!("{value}");
    } else {
        let version = &upserted.version;
        println!(
            "added a part to distributed artifact {}/{}/{} (distributed id `{distributed_id}`, {}) as {}: {} files; uploaded {} blobs ({}), {} already on the server; it stays PENDING until a put with --finish",
            version.entity,
            version.project,
            version.collection,
            match upserted.status {
                cairn_api::CreateVersionStatus::Created => "started by this part",
                _ => "joined",
            },
            upserted.writer,
            upserted.files,
            upserted.uploaded_blobs,
            human_bytes(upserted.uploaded_bytes),
            upserted.reused_blobs,
        );
    }
    Ok(())
}

/// `NAME=VALUE` of a repeatable flag, split.
fn split_pair<'a>(text: &'a str, flag: &str, shape: &str) -> anyhow::Result<(&'a str, &'a str)> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => Ok((name, value)),
        _ => Err(UsageError::new(format!("{flag} `{text}` is not {shape}")).into()),
    }
}

/// A table from a JSON file: a table file as the W&B SDK writes it, or any object with
/// `columns` and `data`.
fn read_table(file: &std::path::Path) -> anyhow::Result<Table> {
    let text = fs_err::read_to_string(file)
        .with_context(|| format!("cannot read the table `{}`", file.display()))?;
    let mut value: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        UsageError::new(format!(
            "--table: `{}` is not JSON: {error}",
            file.display()
        ))
    })?;
    if let Some(object) = value.as_object_mut() {
        object
            .entry("_type")
            .or_insert_with(|| serde_json::Value::from("table"));
    }
    Table::from_json(&value.to_string()).with_context(|| format!("--table: `{}`", file.display()))
}

/// `--name` parsed: a collection with a project, without an alias.
fn parse_target(name: &str) -> anyhow::Result<Target> {
    let target = ArtifactPath::parse(name).map_err(UsageError::from)?;
    let Some(project) = target.project.clone() else {
        return Err(UsageError::new(format!(
            "--name `{name}` needs a project: write `project/{}` or `entity/project/{}`",
            target.name, target.name
        ))
        .into());
    };
    if target.selector.is_some() {
        return Err(UsageError::new(format!(
            "--name `{name}` must not carry `:alias`; pass aliases with --alias"
        ))
        .into());
    }
    Ok(Target {
        entity: target.entity,
        project,
        name: target.name,
    })
}

/// Where a draft from a base goes: the base's collection. `--name` and `--type`, when given,
/// must agree with it.
fn draft_target(
    draft: &Artifact,
    named: Option<Target>,
    artifact_type: Option<&str>,
) -> anyhow::Result<Target> {
    let Some(base) = draft.base() else {
        return Err(anyhow::anyhow!("a draft from --base has no base"));
    };
    if let Some(artifact_type) = artifact_type
        && artifact_type != base.artifact_type
    {
        return Err(UsageError::new(format!(
            "--type `{artifact_type}` does not match the base `{}`, which is a `{}`; a new version keeps its collection's type, so drop --type",
            base.qualified_name(),
            base.artifact_type
        ))
        .into());
    }
    if let Some(named) = named {
        let same = named.name == base.collection
            && named.project == base.project
            && named
                .entity
                .as_ref()
                .is_none_or(|entity| *entity == base.entity);
        if !same {
            return Err(UsageError::new(format!(
                "--name names another collection than the base `{}`; a draft from --base becomes the next version of the base's collection, so drop --name",
                base.qualified_name()
            ))
            .into());
        }
    }
    Ok(Target {
        entity: Some(base.entity.clone()),
        project: base.project.clone(),
        name: base.collection.clone(),
    })
}

#[expect(clippy::print_stdout, reason = "the command's result")]
fn print_put(args: &PutArgs, artifact: &Artifact, logged: &Logged) -> anyhow::Result<()> {
    let version = logged.artifact.version();
    let changes = artifact.changes();
    if args.json {
        let mut value = json!({
            "version": version,
            "status": logged.status,
            "uploaded_blobs": logged.uploaded_blobs,
            "uploaded_bytes": logged.uploaded_bytes,
            "reused_blobs": logged.reused_blobs,
        });
        if let (Some(base), Some(changes), Some(object)) =
            (artifact.base(), &changes, value.as_object_mut())
        {
            object.insert("base".to_owned(), json!(base));
            object.insert("added".to_owned(), json!(paths(&changes.added)));
            object.insert("replaced".to_owned(), json!(paths(&changes.replaced)));
            object.insert("removed".to_owned(), json!(paths(&changes.removed)));
            object.insert("kept".to_owned(), json!(changes.kept));
        }
        println!("{value}");
        return Ok(());
    }
    let what = match logged.status {
        cairn_api::CreateVersionStatus::Existing => "unchanged, already logged as",
        _ => "logged",
    };
    let from = match (artifact.base(), &changes) {
        (Some(base), Some(changes)) => format!(
            " from {}: {} added, {} replaced, {} removed, {} kept",
            base.qualified_name(),
            changes.added.len(),
            changes.replaced.len(),
            changes.removed.len(),
            changes.kept,
        ),
        _ => String::new(),
    };
    println!(
        "{what} {} ({} files, {}){from}; uploaded {} blobs ({}), {} already on the server",
        version.qualified_name(),
        version.file_count,
        human_bytes(version.size),
        logged.uploaded_blobs,
        human_bytes(logged.uploaded_bytes),
        logged.reused_blobs,
    );
    Ok(())
}

#[expect(clippy::print_stdout, reason = "the command's result")]
async fn get(args: GetArgs) -> anyhow::Result<()> {
    ArtifactPath::parse(&args.artifact).map_err(UsageError::from)?;
    let link_mode: LinkMode = args.link.parse().map_err(|_| {
        UsageError::new(format!(
            "--link `{}` is not one of `auto`, `reflink`, `hardlink`, `copy`",
            args.link
        ))
    })?;
    let bars = Arc::new(Bars::new(args.json));
    let client = Client::from_env()?.with_progress(bars);
    let api = Api::new(client);
    let artifact = api.artifact(&args.artifact).await?;
    let options = DownloadOptions {
        root: args.root,
        path_prefix: args.path_prefix,
        allow_missing_references: args.allow_missing_references,
        skip_cache: args.skip_cache,
        link_mode,
    };
    let downloaded = artifact.download(&options).await?;
    if args.json {
        let value = json!({
            "version": artifact.version(),
            "root": downloaded.root,
            "files": downloaded.files,
            "bytes": downloaded.bytes,
            "fetched_blobs": downloaded.fetched_blobs,
            "fetched_bytes": downloaded.fetched_bytes,
            "from_cache": downloaded.from_cache,
        });
        println!("{value}");
    } else {
        println!(
            "downloaded {} to {} ({} files, {}; fetched {} blobs ({}), {} from the cache)",
            artifact.qualified_name(),
            downloaded.root.display(),
            downloaded.files,
            human_bytes(downloaded.bytes),
            downloaded.fetched_blobs,
            human_bytes(downloaded.fetched_bytes),
            downloaded.from_cache,
        );
    }
    Ok(())
}

/// `entity/project` or `entity/project/name`, split.
fn split_path(path: &str) -> Option<(&str, &str, Option<&str>)> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.iter().any(|part| part.is_empty()) {
        return None;
    }
    match parts.as_slice() {
        [entity, project] => Some((entity, project, None)),
        [entity, project, name] => Some((entity, project, Some(name))),
        _ => None,
    }
}

#[expect(clippy::print_stdout, reason = "the command's result")]
async fn ls(args: LsArgs) -> anyhow::Result<()> {
    let Some((entity, project, name)) = split_path(&args.path) else {
        return Err(UsageError::new(format!(
            "`{}` is not `entity/project` or `entity/project/name`",
            args.path
        ))
        .into());
    };
    let api = Api::new(Client::from_env()?);
    if let Some(name) = name {
        if args.artifact_type.is_some() {
            return Err(UsageError::new(
                "`--type` filters collections; it does not apply to one collection's versions",
            )
            .into());
        }
        return ls_versions(&api, entity, project, name, &args).await;
    }
    if args.alias.is_some() || args.limit.is_some() {
        return Err(UsageError::new(
            "`--alias` and `--limit` list one collection's versions: name it as `entity/project/name`",
        )
        .into());
    }
    let collections = match &args.artifact_type {
        Some(artifact_type) => {
            api.collections_of_type(entity, project, artifact_type)
                .await?
        }
        None => api.collections(entity, project).await?,
    };
    if args.json {
        println!("{}", json!({ "collections": collections }));
        return Ok(());
    }
    if collections.is_empty() {
        match &args.artifact_type {
            Some(artifact_type) => {
                println!("no artifacts of type `{artifact_type}` in {entity}/{project}");
            }
            None => println!("no artifacts in {entity}/{project} yet"),
        }
        return Ok(());
    }
    print_table(&collections);
    Ok(())
}

/// `cairn artifact ls entity/project/name`: the committed versions, newest first, a page of the
/// server's at a time.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn ls_versions(
    api: &Api,
    entity: &str,
    project: &str,
    name: &str,
    args: &LsArgs,
) -> anyhow::Result<()> {
    let mut versions: Vec<Version> = Vec::new();
    let mut before = None;
    let mut total = 0;
    loop {
        let wanted = args
            .limit
            .map(|limit| limit.saturating_sub(versions.len()).min(1000))
            .unwrap_or(1000);
        if wanted == 0 {
            break;
        }
        let page = api
            .versions_page(
                entity,
                project,
                name,
                args.alias.as_deref(),
                before,
                Some(wanted),
            )
            .await?;
        total = page.total;
        versions.extend(page.versions);
        match page.next {
            Some(next) if Some(next) != before => before = Some(next),
            _ => break,
        }
    }
    if args.json {
        println!("{}", json!({ "versions": versions, "total": total }));
        return Ok(());
    }
    if versions.is_empty() {
        match &args.alias {
            Some(alias) => println!("no version of {entity}/{project}/{name} has alias `{alias}`"),
            None => println!("{entity}/{project}/{name} has no committed version yet"),
        }
        return Ok(());
    }
    print_versions(&versions);
    let shown = versions.len() as u64;
    if total > shown {
        println!("({shown} of {total} versions; raise --limit to see more)");
    }
    Ok(())
}

#[expect(clippy::print_stdout, reason = "the command's result")]
fn print_versions(versions: &[Version]) {
    let rows: Vec<[String; 5]> = versions
        .iter()
        .map(|version| {
            [
                version.version_name().unwrap_or_else(|| "-".to_owned()),
                if version.aliases.is_empty() {
                    "-".to_owned()
                } else {
                    version.aliases.join(",")
                },
                human_bytes(version.size),
                version.file_count.to_string(),
                match &version.source {
                    Some(source) => format!(
                        "{}  linked from {}",
                        version.created_at,
                        source.qualified_name()
                    ),
                    None => version.created_at.clone(),
                },
            ]
        })
        .collect();
    let titles = ["VERSION", "ALIASES", "SIZE", "FILES", "CREATED"];
    let widths: Vec<usize> = (0..titles.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([titles[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        )
    };
    println!("{}", line(titles));
    for row in &rows {
        println!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
}

/// `cairn artifact collection entity/project/name [--rename NEW] [--description TEXT]`.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn collection(args: CollectionArgs) -> anyhow::Result<()> {
    let Some((entity, project, Some(name))) = split_path(&args.path) else {
        return Err(
            UsageError::new(format!("`{}` is not `entity/project/name`", args.path)).into(),
        );
    };
    let api = Api::new(Client::from_env()?);
    if args.delete {
        let deletion = api.delete_collection(entity, project, name).await?;
        if args.json {
            println!("{}", json!(deletion));
        } else {
            println!(
                "deleted {entity}/{project}/{name}: {} version(s), {} link(s)",
                deletion.versions_deleted, deletion.links_removed
            );
        }
        return Ok(());
    }
    let collection = if args.rename.is_some() || args.description.is_some() {
        let edit = UpdateCollection {
            name: args.rename.clone(),
            description: args.description.clone(),
        };
        api.update_collection(entity, project, name, &edit).await?
    } else {
        api.collection(entity, project, name).await?
    };
    if args.json {
        println!("{}", json!(collection));
        return Ok(());
    }
    if let Some(new_name) = &args.rename {
        println!("renamed {entity}/{project}/{name} to {entity}/{project}/{new_name}");
    }
    println!(
        "{}/{}/{}  type {}  {} version(s), latest {}",
        collection.entity,
        collection.project,
        collection.name,
        collection.artifact_type,
        collection.version_count,
        collection.latest.as_deref().unwrap_or("-"),
    );
    if let Some(description) = &collection.description {
        println!("{description}");
    }
    Ok(())
}

#[expect(clippy::print_stdout, reason = "the command's result")]
fn print_table(collections: &[Collection]) {
    let width = |get: fn(&Collection) -> String, title: &str| {
        collections
            .iter()
            .map(|collection| get(collection).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let name_width = width(|collection| collection.name.clone(), "NAME");
    let type_width = width(type_cell, "TYPE");
    println!(
        "{:<name_width$}  {:<type_width$}  {:>8}  {:<7}  UPDATED",
        "NAME", "TYPE", "VERSIONS", "LATEST"
    );
    for collection in collections {
        println!(
            "{:<name_width$}  {:<type_width$}  {:>8}  {:<7}  {}",
            collection.name,
            type_cell(collection),
            collection.version_count,
            collection.latest.as_deref().unwrap_or("-"),
            collection.updated_at,
        );
    }
}

/// A collection's type, marked when it is a portfolio of links.
fn type_cell(collection: &Collection) -> String {
    match collection.kind {
        CollectionKind::Sequence => collection.artifact_type.clone(),
        CollectionKind::Portfolio => format!("{} (links)", collection.artifact_type),
    }
}

/// `cairn artifact lineage PATH`.
#[expect(clippy::print_stdout, reason = "the command's result")]
async fn lineage(args: LineageArgs) -> anyhow::Result<()> {
    let direction = match args.direction.as_str() {
        "up" => LineageDirection::Up,
        "down" => LineageDirection::Down,
        "both" => LineageDirection::Both,
        other => {
            return Err(
                UsageError::new(format!("`--direction {other}`: use up, down or both")).into(),
            );
        }
    };
    if !matches!(args.format.as_str(), "text" | "json" | "dot") {
        return Err(
            UsageError::new(format!("`--format {}`: use text, json or dot", args.format)).into(),
        );
    }
    let api = Api::new(Client::from_env()?);
    let artifact = api.artifact(&args.artifact).await?;
    let graph = artifact.lineage_graph(args.depth, direction).await?;
    match args.format.as_str() {
        "json" => println!("{}", json!(graph)),
        "dot" => print!("{}", lineage_dot(&graph)),
        _ => print!("{}", lineage_text(&graph)),
    }
    Ok(())
}

/// How a node is named for people.
fn node_label(node: &LineageNode) -> String {
    match node {
        LineageNode::Version {
            entity,
            project,
            collection,
            version_index,
            artifact_type,
            ..
        } => {
            let index = version_index.map_or_else(|| "?".to_owned(), |index| index.to_string());
            format!("{entity}/{project}/{collection}:v{index} ({artifact_type})")
        }
        LineageNode::Run {
            entity,
            project,
            id,
            state,
            job_type,
            ..
        } => {
            let state = serde_json::to_value(state)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default();
            match job_type {
                Some(job) => format!("run {entity}/{project}/{id} ({job}, {state})"),
                None => format!("run {entity}/{project}/{id} ({state})"),
            }
        }
    }
}

/// The graph as lines: each node by depth, then each edge.
fn lineage_text(graph: &LineageGraph) -> String {
    use std::fmt::Write as _;
    let labels: std::collections::HashMap<&str, String> = graph
        .nodes
        .iter()
        .map(|node| (node.key(), node_label(node)))
        .collect();
    let label = |key: &str| labels.get(key).cloned().unwrap_or_else(|| key.to_owned());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} nodes, {} edges{}",
        graph.nodes.len(),
        graph.edges.len(),
        if graph.hidden > 0 {
            format!(", {} hidden (not readable by you)", graph.hidden)
        } else {
            String::new()
        }
    );
    for node in &graph.nodes {
        let _ = writeln!(
            out,
            "{}{}",
            "  ".repeat(node.depth() as usize),
            node_label(node)
        );
    }
    if !graph.edges.is_empty() {
        let _ = writeln!(out, "edges:");
        for edge in &graph.edges {
            let _ = writeln!(out, "  {} -> {}", label(&edge.from), label(&edge.to));
        }
    }
    out
}

/// A DOT string literal.
fn dot_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(character);
            }
            '\n' => quoted.push_str("\\n"),
            character if character.is_control() => {}
            character => quoted.push(character),
        }
    }
    quoted.push('"');
    quoted
}

/// The graph in Graphviz's DOT language: versions as boxes, runs as ellipses, the version the
/// graph is around in bold.
fn lineage_dot(graph: &LineageGraph) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("digraph lineage {\n  rankdir=LR;\n");
    for node in &graph.nodes {
        let shape = match node {
            LineageNode::Version { .. } => "box",
            LineageNode::Run { .. } => "ellipse",
        };
        let style = if node.key() == graph.root {
            ", style=bold"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} [shape={shape}, label={}{style}];",
            dot_string(node.key()),
            dot_string(&node_label(node))
        );
    }
    for edge in &graph.edges {
        let _ = writeln!(
            out,
            "  {} -> {};",
            dot_string(&edge.from),
            dot_string(&edge.to)
        );
    }
    if graph.hidden > 0 {
        let _ = writeln!(
            out,
            "  label={};",
            dot_string(&format!(
                "{} node(s) hidden: not readable by you",
                graph.hidden
            ))
        );
    }
    out.push_str("}\n");
    out
}

/// Entry paths as JSON strings.
fn paths(paths: &[cairn_manifest::LogicalPath]) -> Vec<&str> {
    paths
        .iter()
        .map(cairn_manifest::LogicalPath::as_str)
        .collect()
}

/// `1.5 MiB`-style sizes for people.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::{dot_string, human_bytes};

    #[test]
    fn dot_strings_escape_quotes_backslashes_and_newlines() {
        assert_eq!(dot_string("plain"), "\"plain\"");
        assert_eq!(dot_string("a\"b\\c\nd\u{7}"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(2 * 1024 * 1024 * 1024), "2.0 GiB");
    }
}
