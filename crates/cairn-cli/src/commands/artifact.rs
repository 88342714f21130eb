//! `cairn artifact put|get|ls`: log a file or directory as a new version, download a version,
//! list a project's collections.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use cairn_api::{ArtifactPath, Collection};
use cairn_cache::LinkMode;
use cairn_client::{
    AddDirOptions, AddFileOptions, Api, Artifact, Client, DownloadOptions, RunOptions,
};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::commands::{UsageError, runtime};
use crate::progress::Bars;

/// `cairn artifact ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ArtifactCommand {
    /// Log a file or directory as a new version (nothing new when the content is unchanged).
    Put(PutArgs),
    /// Download a version into a directory.
    Get(GetArgs),
    /// List the artifact collections of a project.
    Ls(LsArgs),
}

/// Arguments of `cairn artifact put`.
#[derive(Debug, Args)]
pub(crate) struct PutArgs {
    /// `[entity/]project/name`; the entity defaults to your user.
    #[arg(long)]
    name: String,
    /// The artifact type (`dataset`, `model`, ...).
    #[arg(long = "type", default_value = "dataset")]
    artifact_type: String,
    /// An alias to point at the new version (repeatable); `latest` always moves.
    #[arg(long = "alias")]
    aliases: Vec<String>,
    /// A description of the version.
    #[arg(long)]
    description: Option<String>,
    /// Metadata as a JSON object.
    #[arg(long)]
    metadata: Option<String>,
    /// Print one JSON object instead of words.
    #[arg(long)]
    json: bool,
    /// The file or directory to log.
    path: PathBuf,
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

#[expect(clippy::print_stdout, reason = "the command's result")]
async fn put(args: PutArgs) -> anyhow::Result<()> {
    let target = ArtifactPath::parse(&args.name).map_err(UsageError::from)?;
    if args.path.as_os_str().is_empty() {
        return Err(UsageError::new("PATH is empty; give the file or directory to log").into());
    }
    let Some(project) = target.project.clone() else {
        return Err(UsageError::new(format!(
            "--name `{}` needs a project: write `project/{}` or `entity/project/{}`",
            args.name, target.name, target.name
        ))
        .into());
    };
    if target.selector.is_some() {
        return Err(UsageError::new(format!(
            "--name `{}` must not carry `:alias`; pass aliases with --alias",
            args.name
        ))
        .into());
    }
    let bars = Arc::new(Bars::new(args.json));
    let client = Client::from_env()?.with_progress(bars);

    let mut artifact = Artifact::new(&target.name, &args.artifact_type)?;
    if let Some(description) = args.description {
        artifact = artifact.with_description(description);
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
    let metadata = fs_err::metadata(&args.path)
        .with_context(|| format!("cannot log `{}`", args.path.display()))?;
    if metadata.is_dir() {
        artifact.add_dir(&args.path, &AddDirOptions::default())?;
    } else {
        artifact.add_file(&args.path, &AddFileOptions::default())?;
    }

    let options = RunOptions {
        entity: target.entity.clone(),
        project,
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

    let version = logged.artifact.version();
    if args.json {
        let value = json!({
            "version": version,
            "status": logged.status,
            "uploaded_blobs": logged.uploaded_blobs,
            "uploaded_bytes": logged.uploaded_bytes,
            "reused_blobs": logged.reused_blobs,
        });
        println!("{value}");
    } else {
        let what = match logged.status {
            cairn_api::CreateVersionStatus::Existing => "unchanged, already logged as",
            _ => "logged",
        };
        println!(
            "{what} {} ({} files, {}); uploaded {} blobs ({}), {} already on the server",
            version.qualified_name(),
            version.file_count,
            human_bytes(version.size),
            logged.uploaded_blobs,
            human_bytes(logged.uploaded_bytes),
            logged.reused_blobs,
        );
    }
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
