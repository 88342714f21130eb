//! `cairn artifact put|get|ls`: log a file or directory as a new version, download a version,
//! list a project's collections.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use cairn_api::{ArtifactPath, Collection};
use cairn_cache::LinkMode;
use cairn_client::{
    AddDirOptions, AddFileOptions, Api, Artifact, Client, DownloadOptions, Logged, RunOptions,
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
    /// List the artifact collections of a project.
    Ls(LsArgs),
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
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
    /// The files or directories to log: a directory's files go in at the artifact's root, a
    /// file under its own name. Without --base at least one is needed.
    #[arg(required_unless_present = "base")]
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
    /// `entity/project`.
    project: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs an `artifact` subcommand.
pub(crate) fn run(command: ArtifactCommand) -> anyhow::Result<()> {
    match command {
        ArtifactCommand::Put(args) => runtime()?.block_on(put(args)),
        ArtifactCommand::Get(args) => runtime()?.block_on(get(args)),
        ArtifactCommand::Ls(args) => runtime()?.block_on(ls(args)),
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
    for path in &args.paths {
        let metadata =
            fs_err::metadata(path).with_context(|| format!("cannot log `{}`", path.display()))?;
        if metadata.is_dir() {
            artifact.add_dir(path, &AddDirOptions::default().with_merge(replace))?;
        } else {
            artifact.add_file(path, &AddFileOptions::default().with_overwrite(replace))?;
        }
    }

    let options = RunOptions {
        entity: target.entity.clone(),
        project: target.project.clone(),
        job_type: Some("cairn-artifact-put".to_owned()),
        ..RunOptions::default()
    };
    let run = cairn_client::Run::init(&client, options).await?;
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

#[expect(clippy::print_stdout, reason = "the command's result")]
async fn ls(args: LsArgs) -> anyhow::Result<()> {
    let Some((entity, project)) = args.project.split_once('/').filter(|(entity, project)| {
        !entity.is_empty() && !project.is_empty() && !project.contains('/')
    }) else {
        return Err(UsageError::new(format!("`{}` is not `entity/project`", args.project)).into());
    };
    let api = Api::new(Client::from_env()?);
    let collections = api.collections(entity, project).await?;
    if args.json {
        println!("{}", json!({ "collections": collections }));
        return Ok(());
    }
    if collections.is_empty() {
        println!("no artifacts in {entity}/{project} yet");
        return Ok(());
    }
    print_table(&collections);
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
    let type_width = width(|collection| collection.artifact_type.clone(), "TYPE");
    println!(
        "{:<name_width$}  {:<type_width$}  {:>8}  {:<7}  UPDATED",
        "NAME", "TYPE", "VERSIONS", "LATEST"
    );
    for collection in collections {
        println!(
            "{:<name_width$}  {:<type_width$}  {:>8}  {:<7}  {}",
            collection.name,
            collection.artifact_type,
            collection.version_count,
            collection.latest.as_deref().unwrap_or("-"),
            collection.updated_at,
        );
    }
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
    use super::human_bytes;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(2 * 1024 * 1024 * 1024), "2.0 GiB");
    }
}
