//! `cairn manifest`: the manifest and digest the W&B SDK would compute, without a server.

use std::io::{self, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use cairn_client::{AddDirOptions, Artifact};
use cairn_manifest::DigestAlgorithm;
use clap::{Args, ValueEnum};

use super::ops;

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  cairn manifest ./data\n  cairn manifest ./data --digest\n  cairn manifest --ops ops.json --format wandb-core\n  echo '[{\"op\":\"add_file\",\"local_path\":\"model.bin\",\"name\":\"weights/model.bin\"}]' | cairn manifest --ops -"
)]
pub(super) struct ManifestArgs {
    /// Directory to add at the artifact root (the SDK's `add_dir(DIR)`).
    #[arg(required_unless_present = "ops", conflicts_with = "ops")]
    dir: Option<PathBuf>,

    /// A JSON array of operations to apply in order (`-` reads standard input): `add_file`,
    /// `add_dir`, `add_reference`, `new_file`, `remove`, with the SDK's argument names.
    #[arg(long, value_name = "FILE")]
    ops: Option<PathBuf>,

    /// Which serialisation to print.
    #[arg(long, value_enum, default_value_t = Format::Python)]
    format: Format,

    /// Print only the artifact digest.
    #[arg(long)]
    digest: bool,

    /// Digest of file entries and of the artifact.
    #[arg(long, value_enum, default_value_t = Algorithm::Md5)]
    digest_algorithm: Algorithm,

    /// Hash on this many threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,

    /// Hash every file, ignoring the stat cache (by default a file whose path, inode, size,
    /// mtime and ctime are unchanged since Cairn last hashed it is not read again; the stat
    /// cache lives in the cache directory, `CAIRN_CACHE_DIR`).
    #[arg(long)]
    no_stat_cache: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// `to_manifest_json()` as Python's `json.dumps` prints it, entries sorted by path.
    Python,
    /// wandb-core's upload format (`wandb_manifest.json`: compact, sorted keys, Go escaping);
    /// `local_path` is the file Cairn read, and `birthArtifactID` appears once a server assigns it.
    WandbCore,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Algorithm {
    /// MD5, the SDK's default.
    Md5,
    /// XXH3-128, the SDK's `digest_algorithm="XXH128"`.
    Xxh128,
}

pub(super) fn run(args: &ManifestArgs) -> anyhow::Result<()> {
    let digest_algorithm = match args.digest_algorithm {
        Algorithm::Md5 => DigestAlgorithm::Md5,
        Algorithm::Xxh128 => DigestAlgorithm::Xxh128,
    };
    // The name only matters once the artifact is logged; any valid one does here.
    let mut artifact =
        Artifact::new("manifest", "dataset")?.with_digest_algorithm(digest_algorithm);
    if let Some(threads) = args.threads {
        artifact = artifact.with_threads(threads);
    }
    if !args.no_stat_cache {
        artifact = artifact.with_stat_cache(Arc::new(super::cache::open_stat_cache()?));
    }
    match (&args.dir, &args.ops) {
        (_, Some(ops_path)) => {
            let ops = ops::read(ops_path)?;
            for (index, op) in ops.iter().enumerate() {
                ops::apply(&mut artifact, op).with_context(|| {
                    format!("operation {} ({}) failed", index + 1, op.describe())
                })?;
            }
        }
        (Some(dir), None) => {
            artifact.add_dir(dir, &AddDirOptions::default())?;
        }
        (None, None) => anyhow::bail!("give a directory or `--ops FILE`"),
    }

    let digest = artifact.digest();
    // Dropping the draft here removes any files `new_file` wrote; the manifest lives on.
    let manifest = artifact.into_manifest();
    let mut stdout = io::stdout().lock();
    if args.digest {
        writeln!(stdout, "{digest}")?;
    } else {
        match args.format {
            Format::Python => writeln!(stdout, "{}", manifest.to_python_json())?,
            Format::WandbCore => {
                // The uploaded file has no trailing newline; add one only for a human reader.
                stdout.write_all(manifest.to_core_json().as_bytes())?;
                if stdout.is_terminal() {
                    writeln!(stdout)?;
                }
            }
        }
    }
    stdout.flush()?;
    // The process ends right after this: let the OS reclaim a manifest of possibly millions of
    // entries at once instead of freeing each allocation (tens of milliseconds at 50,000 files).
    std::mem::forget(manifest);
    Ok(())
}
