//! `cargo xtask bench cache`: what the local cache saves, measured against the plain way in the
//! same run.
//!
//! * **Checkout** of dataset B (2,000 × 512 KiB) from the cache by `cairn cache checkout
//!   --link MODE` for each link mode, against `cp -r` of the same files. Target: a hardlink or
//!   reflink checkout takes at most 5 % of the `cp -r` time. Modes the filesystem refuses (reflink
//!   on ext4) are reported as such, not failed.
//! * **Re-hash** of dataset C (50,000 files of 1–4 KiB), unchanged, by `cairn manifest DIR` with
//!   a warm stat cache, against the first hash (`cairn manifest --no-stat-cache DIR`). Target:
//!   the re-hash takes at most 10 % of the first hash.
//!
//! Every checkout run starts from an absent destination (removed untimed before each run). The
//! cache lives under the target dir (`bench-cache/cache`), chosen with `CAIRN_CACHE_DIR`, never
//! the user's. `CAIRN_BENCH_BIN` benchmarks another binary, as for `bench hash`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::Args;

use crate::bench::data::{self, DatasetId, mebibytes};
use crate::bench::hash::cairn_binary;
use crate::bench::measure::{self, Rss};
use crate::cmd::Cmd;
use crate::workspace::Workspace;

/// The stat cache ignores files modified this recently (cairn-cache's `RACY_WINDOW`).
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// Arguments of `cargo xtask bench cache`.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    /// Timed runs per command (alternating with the baseline) after one warm-up run; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Use tiny datasets (B = 200 files, C = 2,000 files) to check the code path fast.
    #[arg(long)]
    quick: bool,
}

/// One checkout mode's result.
#[derive(Debug)]
struct CheckoutRow {
    mode: &'static str,
    /// Median seconds, the median of the `cp -r` runs alternated with it, and the modes `cairn`
    /// reported; or why the mode is unavailable.
    outcome: Result<(f64, f64, String), String>,
}

/// Runs the benchmark and prints its tables.
pub(crate) fn run(workspace: &Workspace, args: &CacheArgs) -> Result<()> {
    let target_dir = workspace.metadata()?.target_directory;
    let data_base = target_dir.join(if args.quick {
        "bench-data-quick"
    } else {
        "bench-data"
    });
    let work = target_dir.join(if args.quick {
        "bench-cache-quick"
    } else {
        "bench-cache"
    });
    fs_err::create_dir_all(&data_base)?;
    if work.exists() {
        fs_err::remove_dir_all(&work)?;
    }
    fs_err::create_dir_all(&work)?;
    let cairn = cairn_binary(workspace, &target_dir)?;
    let b = data::ensure(&data_base, DatasetId::B.spec(args.quick))?;
    let c = data::ensure(&data_base, DatasetId::C.spec(args.quick))?;
    let cache_dir = work.join("cache");
    let cache_dir_text = utf8(&cache_dir)?;
    let cairn_cmd = || Cmd::new(&cairn).env("CAIRN_CACHE_DIR", cache_dir_text);

    // Checkout: import B once, then time each link mode against cp -r.
    println!("importing dataset B into {}", cache_dir.display());
    let manifest = cairn_cmd()
        .args(["cache", "import"])
        .arg(&b.dir)
        .read_stdout()?;
    let manifest_path = work.join("B.manifest.json");
    fs_err::write(&manifest_path, manifest)?;
    let destination = work.join("checkout");
    let copy_destination = work.join("cp-r");
    let cp = Cmd::new("cp").arg("-r").arg(&b.dir).arg(&copy_destination);
    let mut rows = Vec::new();
    for mode in ["hardlink", "reflink", "auto", "copy"] {
        let checkout = cairn_cmd()
            .args(["cache", "checkout"])
            .arg(&manifest_path)
            .arg(&destination)
            .args(["--link", mode]);
        remove(&destination)?;
        // The warm-up run doubles as the probe of whether the filesystem allows this mode.
        let probe = checkout
            .to_command()
            .output()
            .with_context(|| format!("cannot run `{checkout}`"))?;
        if !probe.status.success() {
            let reason = String::from_utf8_lossy(&probe.stderr);
            let reason = reason.lines().next().unwrap_or("failed").trim().to_owned();
            println!("checkout --link {mode}: not available here: {reason}");
            rows.push(CheckoutRow {
                mode,
                outcome: Err(reason),
            });
            continue;
        }
        let reported = String::from_utf8_lossy(&probe.stdout)
            .trim()
            .replace('\n', ", ");
        let (mut times, mut cp_times) = (Vec::new(), Vec::new());
        for run in 1..=args.runs {
            // Dirty pages of the previous run are written back untimed, so neither side pays
            // for the other's writes.
            remove(&destination)?;
            sync()?;
            let elapsed = measure::run_once(&checkout)?;
            remove(&copy_destination)?;
            sync()?;
            let cp_elapsed = measure::run_once(&cp)?;
            println!(
                "run {run}/{}: checkout --link {mode} {:.3}s, cp -r {:.3}s",
                args.runs,
                elapsed.as_secs_f64(),
                cp_elapsed.as_secs_f64()
            );
            times.push(elapsed);
            cp_times.push(cp_elapsed);
        }
        rows.push(CheckoutRow {
            mode,
            outcome: Ok((
                measure::median(&mut times).as_secs_f64(),
                measure::median(&mut cp_times).as_secs_f64(),
                reported,
            )),
        });
    }
    remove(&destination)?;
    remove(&copy_destination)?;

    // Re-hash: the first hash (no stat cache) against an unchanged re-hash with a warm one.
    wait_out_racy_window(&c.dir)?;
    let without = Cmd::new(&cairn)
        .env("CAIRN_CACHE_DIR", cache_dir_text)
        .args(["manifest", "--no-stat-cache"])
        .arg(&c.dir);
    let with = cairn_cmd().arg("manifest").arg(&c.dir);
    let cold = measure::run_once(&with)?;
    println!(
        "C stat cache fill: first `cairn manifest` with an empty stat cache (hash + record) {:.3}s",
        cold.as_secs_f64()
    );
    let (warm, first) = measure::measure_pair(
        ("C re-hash (stat cache)", &with, Rss::Skip),
        ("C first hash (no stat cache)", &without),
        args.runs,
    )?;

    print_report(
        args,
        (&b, &rows),
        (
            &c,
            first.median.as_secs_f64(),
            warm.median.as_secs_f64(),
            cold.as_secs_f64(),
        ),
    );
    Ok(())
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("`{}` is not valid UTF-8", path.display()))
}

/// Flushes dirty pages to disk (`sync`), untimed.
fn sync() -> Result<()> {
    measure::run_once(&Cmd::new("sync")).map(drop)
}

fn remove(path: &PathBuf) -> Result<()> {
    if path.exists() {
        fs_err::remove_dir_all(path)?;
    }
    Ok(())
}

/// Files modified within the racy window are (rightly) never trusted by the stat cache; a
/// dataset generated seconds ago would be re-hashed every time, so wait that out.
fn wait_out_racy_window(dir: &Path) -> Result<()> {
    let marker = dir.with_extension("spec");
    let modified = fs_err::metadata(&marker)?.modified()?;
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    if age < RACY_WINDOW {
        std::thread::sleep(RACY_WINDOW - age + Duration::from_millis(100));
    }
    Ok(())
}

fn print_report(
    args: &CacheArgs,
    (b, rows): (&data::Dataset, &[CheckoutRow]),
    (c, first, warm, cold): (&data::Dataset, f64, f64, f64),
) {
    let verdict = |pass: bool| if pass { "PASS" } else { "MISS" };
    let percent = |part: f64, whole: f64| part / whole.max(f64::MIN_POSITIVE) * 100.0;
    println!();
    println!(
        "bench cache: median of {} run(s) after one warm-up run (page cache warm, `sync` before each run)",
        args.runs
    );
    println!(
        "checkout of B ({} files, {}) from the cache vs `cp -r` of the same files, runs alternated:",
        b.spec.file_count,
        mebibytes(b.bytes)
    );
    println!(
        "  {:<9} {:>9} {:>9} {:>9}  cairn reported",
        "mode", "seconds", "cp -r s", "vs cp -r"
    );
    for row in rows {
        match &row.outcome {
            Ok((seconds, cp_seconds, reported)) => println!(
                "  {:<9} {seconds:>9.3} {cp_seconds:>9.3} {:>8.1}%  {reported}",
                row.mode,
                percent(*seconds, *cp_seconds)
            ),
            Err(_) => println!(
                "  {:<9} {:>9} {:>9} {:>9}  not available on this filesystem (see above)",
                row.mode, "-", "-", "-"
            ),
        }
    }
    println!();
    println!(
        "re-hash of unchanged C ({} files, {}):",
        c.spec.file_count,
        mebibytes(c.bytes)
    );
    println!("  first hash (--no-stat-cache)        {first:>8.3}s");
    println!("  first hash filling the stat cache   {cold:>8.3}s (once)");
    println!(
        "  re-hash with the stat cache         {warm:>8.3}s  ({:.1}% of the first hash)",
        percent(warm, first)
    );
    println!();
    if args.quick {
        println!("targets (set for the full-size datasets; --quick results are only indicative):");
    } else {
        println!("targets (informational; a MISS does not fail the benchmark):");
    }
    let mut linked = 0;
    for row in rows {
        if let ("hardlink" | "reflink", Ok((seconds, cp_seconds, _))) = (row.mode, &row.outcome) {
            linked += 1;
            let share = percent(*seconds, *cp_seconds);
            println!(
                "  checkout --link {} <= 5% of cp -r: {share:.1}% {}",
                row.mode,
                verdict(share <= 5.0)
            );
        }
    }
    if linked == 0 {
        println!("  checkout: neither hardlink nor reflink is possible here: n/a");
    }
    let share = percent(warm, first);
    println!(
        "  re-hash of unchanged C <= 10% of first hash: {share:.1}% {}",
        verdict(share <= 10.0)
    );
}
