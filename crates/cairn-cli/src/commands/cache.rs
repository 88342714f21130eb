//! `cairn cache`: statistics, cleanup, and moving files in and out of the local cache.
//!
//! * `cairn cache stats [--walk]`: objects, bytes, temp files, budget; from the index unless
//!   `--walk`.
//! * `cairn cache cleanup SIZE [--remove-temp]`: W&B's `wandb artifact cache cleanup`: evict least
//!   recently used objects until the cache holds at most SIZE, reap stale temp files.
//! * `cairn cache import DIR`: hash every file under DIR (through the stat cache), insert it, and
//!   print the W&B manifest of DIR on stdout.
//! * `cairn cache checkout MANIFEST DEST [--link MODE]`: materialise every file entry of a
//!   manifest from the cache under DEST, and say which link modes were used.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use cairn_cache::{ByteSize, Cache, CleanupOptions, LinkMode, ObjectKey, StatCache, StatsSource};
use cairn_client::{AddDirOptions, Artifact};
use cairn_hash::Md5Digest;
use cairn_manifest::{DigestAlgorithm, Manifest};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub(super) enum CacheCommand {
    /// Show the cache's location, size and contents.
    Stats(StatsArgs),
    /// Evict least recently used objects until the cache holds at most SIZE; also remove temp
    /// files left by crashed processes.
    #[command(
        after_long_help = "Examples:\n  cairn cache cleanup 10GB\n  cairn cache cleanup 500MiB --remove-temp\n  cairn cache cleanup 0    # empty the cache (objects in use are kept)"
    )]
    Cleanup(CleanupArgs),
    /// Insert every file under DIR into the cache and print DIR's manifest (W&B JSON).
    Import(ImportArgs),
    /// Write every file entry of a manifest from the cache into DEST.
    Checkout(CheckoutArgs),
}

#[derive(Debug, Args)]
pub(super) struct StatsArgs {
    /// Walk the object tree instead of reading the index's totals (and repair the index).
    #[arg(long)]
    walk: bool,
}

#[derive(Debug, Args)]
pub(super) struct CleanupArgs {
    /// Largest size to keep, counting objects and temp files: `10GB` (powers of 1000),
    /// `500MiB` (powers of 1024), or plain bytes.
    #[arg(value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    size: ByteSize,

    /// Also remove temp files younger than the grace period (1 h), unless a live process is
    /// still writing them.
    #[arg(long)]
    remove_temp: bool,
}

#[derive(Debug, Args)]
pub(super) struct ImportArgs {
    /// Directory whose files to insert.
    dir: PathBuf,

    /// Hash every file, ignoring the stat cache.
    #[arg(long)]
    no_stat_cache: bool,
}

#[derive(Debug, Args)]
pub(super) struct CheckoutArgs {
    /// A W&B manifest (`wandb_manifest.json` or `to_manifest_json()` output; `-` for stdin).
    manifest: PathBuf,

    /// Directory to write the files into (created if missing).
    dest: PathBuf,

    /// How to put each file in place.
    #[arg(long, value_enum, default_value_t = Link::Auto)]
    link: Link,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Link {
    /// Reflink (copy-on-write) where the filesystem can, else copy.
    Auto,
    /// Reflink only; fail where the filesystem cannot.
    Reflink,
    /// Hard links to the read-only cached objects (fast; files are read-only).
    Hardlink,
    /// Plain copies.
    Copy,
}

impl From<Link> for LinkMode {
    fn from(link: Link) -> Self {
        match link {
            Link::Auto => Self::Auto,
            Link::Reflink => Self::Reflink,
            Link::Hardlink => Self::Hardlink,
            Link::Copy => Self::Copy,
        }
    }
}

fn parse_size(text: &str) -> Result<ByteSize, String> {
    text.parse()
        .map_err(|error: cairn_cache::ParseSizeError| error.to_string())
}

pub(super) fn run(command: CacheCommand) -> anyhow::Result<()> {
    match command {
        CacheCommand::Stats(args) => stats(&args),
        CacheCommand::Cleanup(args) => cleanup(&args),
        CacheCommand::Import(args) => import(&args),
        CacheCommand::Checkout(args) => checkout(&args),
    }
}

/// Opens the cache chosen by `CAIRN_CACHE_DIR` (else the platform default).
fn open_cache() -> anyhow::Result<Cache> {
    let options = cairn_cache::CacheOptions::from_env()?;
    let root = options.root().to_owned();
    Cache::open(options).with_context(|| {
        format!(
            "cannot open the cache at `{}`; set CAIRN_CACHE_DIR to a writable directory",
            root.display()
        )
    })
}

/// Opens the stat cache in the cache directory.
pub(super) fn open_stat_cache() -> anyhow::Result<StatCache> {
    let root = cairn_cache::default_root()?;
    StatCache::open_in(&root).with_context(|| {
        format!(
            "cannot open the stat cache in `{}`; set CAIRN_CACHE_DIR to a writable directory or pass --no-stat-cache",
            root.display()
        )
    })
}

fn stats(args: &StatsArgs) -> anyhow::Result<()> {
    let cache = open_cache()?;
    let stats = if args.walk {
        cache.stats_by_walk()?
    } else {
        cache.stats()?
    };
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "cache:      {}", stats.root.display())?;
    writeln!(
        stdout,
        "objects:    {} ({}, {} bytes)",
        stats.objects,
        ByteSize::from_bytes(stats.object_bytes),
        stats.object_bytes
    )?;
    writeln!(
        stdout,
        "temp files: {} ({})",
        stats.temp_files,
        ByteSize::from_bytes(stats.temp_bytes)
    )?;
    match stats.max_size {
        Some(budget) => writeln!(stdout, "budget:     {budget} (CAIRN_CACHE_MAX_SIZE)")?,
        None => writeln!(
            stdout,
            "budget:     none (set CAIRN_CACHE_MAX_SIZE, e.g. 50GB)"
        )?,
    }
    let source = match stats.source {
        StatsSource::Index => "index totals (no walk)",
        StatsSource::Walk => "walk of the object tree",
    };
    writeln!(stdout, "counted by: {source}")?;
    Ok(())
}

fn cleanup(args: &CleanupArgs) -> anyhow::Result<()> {
    let cache = open_cache()?;
    let report =
        cache.cleanup(CleanupOptions::new(args.size).with_remove_temp(args.remove_temp))?;
    let mut stdout = io::stdout().lock();
    writeln!(
        stdout,
        "Reclaimed {} of space",
        ByteSize::from_bytes(report.reclaimed_bytes)
    )?;
    writeln!(
        stdout,
        "evicted {} objects, removed {} temp files; {} objects ({}) left",
        report.evicted_objects,
        report.removed_temp_files,
        report.objects,
        ByteSize::from_bytes(report.bytes)
    )?;
    if report.pinned_objects_kept > 0 {
        writeln!(
            stdout,
            "kept {} objects in use by other cairn processes",
            report.pinned_objects_kept
        )?;
    }
    if report.kept_temp_bytes > 0 && !args.remove_temp {
        writeln!(
            stdout,
            "kept {} of recent temp files (--remove-temp removes those no process is writing)",
            ByteSize::from_bytes(report.kept_temp_bytes)
        )?;
    }
    Ok(())
}

fn import(args: &ImportArgs) -> anyhow::Result<()> {
    let cache = open_cache()?;
    let mut artifact = Artifact::new("import", "dataset")?;
    if !args.no_stat_cache {
        artifact = artifact.with_stat_cache(Arc::new(cache.stat_cache()?));
    }
    artifact.add_dir(&args.dir, &AddDirOptions::default())?;
    let manifest = artifact.into_manifest();
    let (mut inserted, mut present, mut bytes) = (0u64, 0u64, 0u64);
    for (path, entry) in manifest.entries() {
        let key = ObjectKey::md5(Md5Digest::from_base64(&entry.digest)?);
        let Some(local_path) = entry.local_path.as_deref() else {
            continue;
        };
        let size = entry.size;
        let done = if cache.contains(&key) {
            cache.insert(&key, io::empty(), size)?
        } else {
            let file = fs_err::File::open(local_path)?;
            cache.insert(&key, file, size).with_context(|| {
                format!("cannot cache `{path}` (did it change while importing?)")
            })?
        };
        if done.already_present {
            present += 1;
        } else {
            inserted += 1;
            bytes += done.size;
        }
    }
    cache.flush()?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{}", manifest.to_python_json())?;
    stdout.flush()?;
    #[expect(
        clippy::print_stderr,
        reason = "a summary beside the manifest on stdout"
    )]
    {
        eprintln!(
            "cached {inserted} new files ({}); {present} were already cached",
            ByteSize::from_bytes(bytes)
        );
    }
    Ok(())
}

fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text = if path == Path::new("-") {
        io::read_to_string(io::stdin()).context("cannot read the manifest from standard input")?
    } else {
        fs_err::read_to_string(path)?
    };
    Manifest::from_json(&text)
        .with_context(|| format!("`{}` is not a W&B manifest", path.display()))
}

fn checkout(args: &CheckoutArgs) -> anyhow::Result<()> {
    let manifest = read_manifest(&args.manifest)?;
    let cache = open_cache()?;
    let mut jobs = Vec::new();
    let mut references = 0u64;
    for (path, entry) in manifest.entries() {
        if entry.is_reference() {
            references += 1;
            continue;
        }
        if entry.digest_algorithm() != DigestAlgorithm::Md5 {
            bail!(
                "`{path}` has an XXH128 digest; the cache is keyed by MD5, so check out MD5 manifests (the default digest)"
            );
        }
        let digest = Md5Digest::from_base64(&entry.digest)
            .with_context(|| format!("entry `{path}` has no valid MD5 digest"))?;
        jobs.push((ObjectKey::md5(digest), args.dest.join(path.as_str())));
    }
    // Pin everything first: a concurrent cleanup cannot evict what this checkout is about to use.
    let mut pin = cache.pin()?;
    let keys: Vec<ObjectKey> = jobs.iter().map(|(key, _)| key.clone()).collect();
    pin.add_all(&keys)?;
    let mode = LinkMode::from(args.link);
    let results = materialize_all(&cache, &jobs, mode);
    drop(pin);
    cache.flush()?;

    let mut used: BTreeMap<LinkMode, (u64, u64)> = BTreeMap::new();
    let mut missing = Vec::new();
    for ((key, destination), result) in jobs.iter().zip(results) {
        match result {
            Ok(done) => {
                let slot = used.entry(done.mode).or_default();
                slot.0 += 1;
                slot.1 += done.size;
            }
            Err(error) if error.is_not_found() => missing.push((key, destination)),
            Err(error) => return Err(error.into()),
        }
    }
    let mut stdout = io::stdout().lock();
    for (mode, (files, bytes)) in &used {
        writeln!(
            stdout,
            "{mode}: {files} files ({})",
            ByteSize::from_bytes(*bytes)
        )?;
    }
    if references > 0 {
        writeln!(
            stdout,
            "skipped {references} references (fetching references is not supported yet)"
        )?;
    }
    if let Some((key, destination)) = missing.first() {
        bail!(
            "{} of {} files are not in the cache, first `{}` ({key}); import or download them first",
            missing.len(),
            jobs.len(),
            destination.display()
        );
    }
    Ok(())
}

/// Materialises every job on all cores, results in input order.
fn materialize_all(
    cache: &Cache,
    jobs: &[(ObjectKey, PathBuf)],
    mode: LinkMode,
) -> Vec<cairn_cache::Result<cairn_cache::Materialized>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(key, destination)| cache.materialize(key, destination, mode))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(part) => part,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}
