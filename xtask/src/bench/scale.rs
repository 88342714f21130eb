//! `cargo xtask bench scale`: put and get time against file count, and peak memory against file
//! count and file size (issue 16's second goal).
//!
//! * **Many files.** For each count (default 50,000, 200,000 and 500,000 files of 1 KiB, 1,000
//!   per directory): `cairn artifact put` into a server with a fresh data directory, then `cairn
//!   artifact get` with an empty cache into a fresh root. Time grows linearly with the count when
//!   the time per file stays level; the table prints it.
//! * **One big file.** For each size (default 20 GiB): the same put and get of one file. Memory
//!   is flat in file size when the peaks stay level from size to size.
//! * **The machine's own growth.** Each many-files run also times `cp -r` of the same tree (after
//!   `sync`), whose time per file should stay level too. On these VMs it does not always: `cp
//!   -r` of 500,000 files took 14 s and then 25 s a few minutes apart. The table prints its
//!   growth beside ours, and ours divided by it, so a machine that slows down with the file
//!   count is told apart from code that does.
//! * **Memory:** the clients' peak RSS (GNU time `%M`) and the server's (`VmHWM`, read before
//!   it stops); target < 256 MiB each.
//!
//! One run per size (these take minutes, and the result is the trend over the sizes).
//! Everything lives under `<target>/bench-scale/` (or `DIR/bench-scale/` with `--dir DIR`) and
//! is removed at the end, except the generated datasets (`bench-data-scale-files-N/`,
//! `bench-data-scale-big-G/` beside it), kept for the next run. A big file needs about four
//! times its size free (the dataset, the server's copy, the cache's and the root's): run
//! `--big-gib 1,4` where 20 GiB does not fit, or `--link hardlink` (the root shares the cache's
//! copy, so three times its size is enough; the download path is the same).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::bench::data::{self, Dataset, DatasetId, DatasetSpec, FileSize, Layout};
use crate::bench::hash::cairn_binary;
use crate::bench::measure;
use crate::bench::server::{self, Server};
use crate::bench::transfer::remove;
use crate::cmd::Cmd;
use crate::workspace::Workspace;

/// The peak resident set each process must stay under, in MiB.
const PEAK_RSS_MIB: f64 = 256.0;
/// The leaf fan-out of the many-files datasets: 1,000 files per directory at 1,000,000 files.
const DIRECTORIES: &[u64] = &[1_000];
/// How much the time per file (or the peak RSS) may grow from the smallest size to the largest
/// and still count as linear (or flat).
const GROWTH: f64 = 1.25;

/// Arguments of `cargo xtask bench scale`.
#[derive(Debug, Args)]
pub(crate) struct ScaleArgs {
    /// File counts of the many-files runs (files of 1 KiB), comma-separated; `0` skips them.
    #[arg(long, value_delimiter = ',', default_values_t = [50_000_u64, 200_000, 500_000])]
    files: Vec<u64>,
    /// Sizes in GiB of the one-big-file runs, comma-separated; `0` skips them.
    #[arg(long, value_delimiter = ',', default_values_t = [20_u64])]
    big_gib: Vec<u64>,
    /// Keep the data, the server's data, the cache and the roots under this directory instead
    /// of the target directory (`/dev/shm/cairn-bench` for tmpfs).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// How every get places files from the cache (`cairn artifact get --link`): `auto`, `copy`,
    /// `reflink` or `hardlink`; `hardlink` saves the root's copy of a big file.
    #[arg(long, default_value = "auto")]
    link: String,
}

/// One put and one get of one dataset.
#[derive(Debug)]
struct Row {
    label: String,
    files: u64,
    bytes: u64,
    put: Duration,
    get: Duration,
    /// `cp -r` of the same tree, for the many-files runs.
    copy: Option<Duration>,
    put_rss: Option<u64>,
    get_rss: Option<u64>,
    server_rss: Option<u64>,
}

/// Runs the benchmark and prints its table.
pub(crate) fn run(workspace: &Workspace, args: &ScaleArgs) -> Result<()> {
    let target_dir = workspace.metadata()?.target_directory;
    let root = args.dir.clone().unwrap_or_else(|| target_dir.clone());
    let work = root.join("bench-scale");
    remove(&work)?;
    fs_err::create_dir_all(&work)?;
    let cairn = cairn_binary(workspace, &target_dir)?;
    let admin_key = server::admin_key();
    let mut many = Vec::new();
    for &files in args.files.iter().filter(|&&files| files > 0) {
        let spec = DatasetSpec {
            id: DatasetId::C,
            file_count: files,
            size: FileSize::Fixed(1024),
            layout: Layout::Tree(DIRECTORIES),
        };
        let base = root.join(format!("bench-data-scale-files-{files}"));
        let dataset = data::ensure(&base, spec)?;
        let label = format!("{files} x 1 KiB");
        let mut row = measure_one(&cairn, &work, &admin_key, &args.link, &label, &dataset)?;
        let copy = work.join("cp-r");
        let (time, _) = timed(
            &Cmd::new("cp").arg("-r").arg(&dataset.dir).arg(&copy),
            &work,
        )?;
        println!("cp -r {:.3}s", time.as_secs_f64());
        remove(&copy)?;
        row.copy = Some(time);
        many.push(row);
    }
    let mut big = Vec::new();
    for &gib in args.big_gib.iter().filter(|&&gib| gib > 0) {
        let spec = DatasetSpec {
            id: DatasetId::A,
            file_count: 1,
            size: FileSize::Fixed(gib.saturating_mul(1024 * 1024 * 1024)),
            layout: Layout::SingleFile("big.bin"),
        };
        let base = root.join(format!("bench-data-scale-big-{gib}"));
        let dataset = data::ensure(&base, spec)?;
        let label = format!("1 x {gib} GiB");
        big.push(measure_one(
            &cairn, &work, &admin_key, &args.link, &label, &dataset,
        )?);
    }
    remove(&work)?;
    print(&many, &big, &args.link);
    Ok(())
}

/// A fresh server, a put, a get with an empty cache into a fresh root.
fn measure_one(
    cairn: &Path,
    work: &Path,
    admin_key: &str,
    link: &str,
    label: &str,
    dataset: &Dataset,
) -> Result<Row> {
    println!("== {label}");
    let data_dir = work.join("server-data");
    let put_cache = work.join("put-cache");
    let cache = work.join("cache");
    let root = work.join("root");
    for path in [&data_dir, &put_cache, &cache, &root] {
        remove(path)?;
    }
    fs_err::create_dir_all(&data_dir)?;
    let server = Server::start(cairn, &data_dir, admin_key)?;
    let home = work.join("client-home");
    let client = |cache: &Path| -> Result<Cmd> {
        Ok(Cmd::new(cairn)
            .env("HOME", utf8(&home)?)
            .env("CAIRN_CONFIG_DIR", utf8(&home.join("config"))?)
            .env("CAIRN_CACHE_DIR", utf8(cache)?)
            .env("CAIRN_BASE_URL", &server.url())
            .env("CAIRN_API_KEY", server.admin_key()))
    };
    let name = format!("{}/bench/scale", server.entity);
    let put = client(&put_cache)?
        .args(["artifact", "put", "--name", &name, "--type", "dataset"])
        .arg(&dataset.dir);
    let get = client(&cache)?
        .args([
            "artifact",
            "get",
            &format!("{name}:latest"),
            "--link",
            link,
            "--root",
        ])
        .arg(&root);
    let (put_time, put_rss) = timed(&put, work)?;
    println!("put {:.3}s", put_time.as_secs_f64());
    let (get_time, get_rss) = timed(&get, work)?;
    println!("get {:.3}s", get_time.as_secs_f64());
    let server_rss = server.stop()?;
    for path in [&data_dir, &put_cache, &cache, &root] {
        remove(path)?;
    }
    Ok(Row {
        label: label.to_owned(),
        files: dataset.spec.file_count,
        bytes: dataset.bytes,
        put: put_time,
        get: get_time,
        copy: None,
        put_rss,
        get_rss,
        server_rss,
    })
}

/// Runs `cmd` once after `sync`, timed, with its peak RSS when GNU time is there.
fn timed(cmd: &Cmd, work: &Path) -> Result<(Duration, Option<u64>)> {
    measure::run_once(&Cmd::new("sync"))?;
    if !measure::can_measure_rss() {
        return Ok((measure::run_once(cmd)?, None));
    }
    let (elapsed, kib) = measure::run_with_rss(cmd, &work.join("peak-rss.txt"))?;
    Ok((elapsed, Some(kib)))
}

fn print(many: &[Row], big: &[Row], link: &str) {
    println!();
    println!(
        "bench scale: one run per size; `cairn server` on loopback with a fresh data dir per \
         size; get with an empty cache and `--link {link}`; `sync` before each timed command"
    );
    println!(
        "{:<16} {:>9} {:>12} {:>9} {:>11} {:>9} {:>11} {:>11} {:>10} {:>10} {:>10}",
        "data",
        "files",
        "size",
        "put s",
        "put us/file",
        "get s",
        "get us/file",
        "cp us/file",
        "put RSS",
        "get RSS",
        "server RSS"
    );
    for row in many.iter().chain(big) {
        // Per file says nothing about one big file.
        let per_file = |time: Duration| {
            if row.files > 1 {
                format!("{:.1}", per_file_us(time, row.files))
            } else {
                "-".to_owned()
            }
        };
        println!(
            "{:<16} {:>9} {:>12} {:>9.3} {:>11} {:>9.3} {:>11} {:>11} {:>10} {:>10} {:>10}",
            row.label,
            row.files,
            data::mebibytes(row.bytes),
            row.put.as_secs_f64(),
            per_file(row.put),
            row.get.as_secs_f64(),
            per_file(row.get),
            row.copy.map_or_else(|| "-".to_owned(), per_file),
            mib(row.put_rss),
            mib(row.get_rss),
            mib(row.server_rss),
        );
    }
    println!();
    println!("targets (informational; a MISS does not fail the benchmark):");
    if let [first, .., last] = many {
        let growth = |first_time: Duration, last_time: Duration| {
            per_file_us(last_time, last.files)
                / per_file_us(first_time, first.files).max(f64::MIN_POSITIVE)
        };
        let machine = first.copy.zip(last.copy).map(|(a, b)| growth(a, b));
        for (step, first_time, last_time) in
            [("put", first.put, last.put), ("get", first.get, last.get)]
        {
            let ours = growth(first_time, last_time);
            let beside = machine.map_or_else(String::new, |machine| {
                format!(
                    " (cp -r of the same trees: {machine:.2}; ours / cp -r's: {:.2})",
                    ours / machine.max(f64::MIN_POSITIVE)
                )
            });
            println!(
                "  {step} time per file at {} files / at {} files <= {GROWTH:.2} (linear in the count): {ours:.2} {}{beside}",
                last.files,
                first.files,
                verdict(ours <= GROWTH)
            );
        }
    }
    for row in many.iter().chain(big) {
        for (who, peak) in [
            ("put client", row.put_rss),
            ("get client", row.get_rss),
            ("server", row.server_rss),
        ] {
            match peak {
                Some(kib) => {
                    let used = kib as f64 / 1024.0;
                    println!(
                        "  {}: {who} peak RSS < {PEAK_RSS_MIB:.0} MiB: {used:.1} MiB {}",
                        row.label,
                        verdict(used < PEAK_RSS_MIB)
                    );
                }
                None => println!("  {}: {who} peak RSS: n/a", row.label),
            }
        }
    }
    if let [first, .., last] = big {
        for (who, small, large) in [
            ("put client", first.put_rss, last.put_rss),
            ("get client", first.get_rss, last.get_rss),
            ("server", first.server_rss, last.server_rss),
        ] {
            if let (Some(small), Some(large)) = (small, large) {
                let growth = large as f64 / small.max(1) as f64;
                println!(
                    "  {who} peak RSS at {} / at {} <= {GROWTH:.2} (flat in file size): {growth:.2} {}",
                    last.label,
                    first.label,
                    verdict(growth <= GROWTH)
                );
            }
        }
    }
}

fn per_file_us(time: Duration, files: u64) -> f64 {
    time.as_secs_f64() * 1e6 / files.max(1) as f64
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_owned(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    )
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("`{}` is not valid UTF-8", path.display()))
}
