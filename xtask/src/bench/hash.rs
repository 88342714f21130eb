//! `cargo xtask bench hash`: how fast `cairn manifest` hashes three shapes of data, against
//! `md5sum` on the same files in the same run.
//!
//! * A: one 2 GiB file, `cairn manifest --ops OPS` (an `add_file` op) vs `md5sum FILE`.
//! * B: 2,000 files of 512 KiB, `cairn manifest DIR` vs `find | xargs -P$(nproc) md5sum`.
//! * C: 50,000 files of 1–4 KiB, same commands as B.
//!
//! The binary under test is `target/release/cairn`, built first with
//! `cargo build --release -p cairn-cli --locked`. Setting `CAIRN_BENCH_BIN` skips the build and
//! benchmarks that program instead (it is called with the same arguments), which is how the
//! harness is checked against a stand-in or how two builds are compared.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::bench::data::{self, Dataset, DatasetId, mebibytes};
use crate::bench::measure::{self, Measurement, Rss};
use crate::bench::wandb;
use crate::cmd::Cmd;
use crate::workspace::Workspace;

/// The environment variable that picks the binary to benchmark instead of building `cairn`.
const BIN_ENV: &str = "CAIRN_BENCH_BIN";

/// Arguments of `cargo xtask bench hash`.
#[derive(Debug, Args)]
#[command(
    after_help = "Set CAIRN_BENCH_BIN=PATH to benchmark another binary instead of building \
                        target/release/cairn; it is called as `PATH manifest --no-stat-cache DIR` \
                        and `PATH manifest --no-stat-cache --ops FILE`."
)]
pub(crate) struct HashArgs {
    /// Also time the official W&B SDK (installs wandb==0.31.0 into `target/wandb-venv`).
    #[arg(long)]
    vs_wandb: bool,
    /// Timed runs per command (alternating with the baseline) after one warm-up run; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Which datasets to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["A", "B", "C"], ignore_case = true)]
    datasets: Vec<DatasetId>,
    /// Use tiny datasets (A = 64 MiB, B = 200 files, C = 2,000 files) to check the code path fast.
    #[arg(long)]
    quick: bool,
}

/// One dataset's results.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) dataset: Dataset,
    pub(crate) cairn: Measurement,
    baseline: Measurement,
}

/// Runs the benchmark and prints its table.
pub(crate) fn run(workspace: &Workspace, args: &HashArgs) -> Result<()> {
    let metadata = workspace.metadata()?;
    let target_dir = metadata.target_directory;
    let base = target_dir.join(if args.quick {
        "bench-data-quick"
    } else {
        "bench-data"
    });
    fs_err::create_dir_all(&base)?;
    let cairn = cairn_binary(workspace, &target_dir)?;

    let mut ids = args.datasets.clone();
    ids.sort();
    ids.dedup();
    let datasets = ids
        .iter()
        .map(|id| data::ensure(&base, id.spec(args.quick)))
        .collect::<Result<Vec<_>>>()?;

    let mut rows = Vec::new();
    for dataset in datasets {
        let name = dataset.spec.id.name();
        let cairn_cmd = cairn_command(&cairn, &dataset, &base)?;
        let rss_report = base.join("peak-rss.txt");
        let (cairn_time, baseline) = measure::measure_pair(
            (
                &format!("{name} cairn"),
                &cairn_cmd,
                Rss::Measure(&rss_report),
            ),
            (&format!("{name} md5sum"), &baseline_command(&dataset)),
            args.runs,
        )?;
        rows.push(Row {
            dataset,
            cairn: cairn_time,
            baseline,
        });
    }

    print_table(&rows, args.runs);
    print_targets(&rows, args.quick);
    if args.vs_wandb {
        wandb::compare(&target_dir, &base, &rows, args.runs)?;
    }
    Ok(())
}

/// The binary to benchmark: `$CAIRN_BENCH_BIN`, or a fresh release build of `cairn`.
pub(crate) fn cairn_binary(workspace: &Workspace, target_dir: &Path) -> Result<PathBuf> {
    if let Some(program) = std::env::var_os(BIN_ENV) {
        let program = PathBuf::from(program);
        println!(
            "benchmarking {BIN_ENV}={} (not building cairn)",
            program.display()
        );
        return Ok(program);
    }
    workspace
        .cargo_locked(["build", "--release", "-p", "cairn-cli"])
        .run()
        .with_context(|| format!("building the `cairn` CLI failed; fix the build, or set {BIN_ENV} to benchmark another binary"))?;
    let binary = target_dir
        .join("release")
        .join(format!("cairn{}", std::env::consts::EXE_SUFFIX));
    anyhow::ensure!(
        binary.is_file(),
        "the release build did not produce `{}`",
        binary.display()
    );
    Ok(binary)
}

/// `cairn manifest --no-stat-cache --ops OPS` for a single file (the ops file is written here),
/// `cairn manifest --no-stat-cache DIR` for a directory.
fn cairn_command(cairn: &Path, dataset: &Dataset, base: &Path) -> Result<Cmd> {
    let Some(file) = dataset.single_file() else {
        // Without the stat cache: this benchmark measures hashing, not skipping it.
        return Ok(Cmd::new(cairn)
            .args(["manifest", "--no-stat-cache"])
            .arg(&dataset.dir));
    };
    let local_path = file
        .to_str()
        .with_context(|| format!("`{}` is not valid UTF-8", file.display()))?;
    let ops = serde_json::json!([{ "op": "add_file", "local_path": local_path }]);
    let ops_file = base.join(format!("{}.ops.json", dataset.spec.id.name()));
    fs_err::write(&ops_file, ops.to_string())?;
    Ok(Cmd::new(cairn)
        .args(["manifest", "--no-stat-cache", "--ops"])
        .arg(ops_file))
}

/// `md5sum FILE` for one file; for a directory, md5sum on every core through xargs, in batches
/// small enough that every core gets work (xargs alone would pass up to 128 KiB of paths to one
/// md5sum, which leaves a 2,000-file tree on one or two cores).
pub(crate) fn baseline_command(dataset: &Dataset) -> Cmd {
    if let Some(file) = dataset.single_file() {
        return Cmd::new("md5sum").arg(file);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as u64;
    let batch = dataset.spec.file_count.div_ceil(cores * 4).max(1);
    Cmd::new("sh")
        .arg("-c")
        .arg("find \"$1\" -type f -print0 | xargs -0 -P\"$(nproc)\" -n\"$2\" md5sum > /dev/null")
        .arg("sh")
        .arg(&dataset.dir)
        .arg(batch.to_string())
}

fn baseline_name(dataset: &Dataset) -> &'static str {
    if dataset.single_file().is_some() {
        "md5sum"
    } else {
        "parallel md5sum"
    }
}

/// Baseline time over cairn time: above 1 means cairn is faster.
fn throughput_ratio(row: &Row) -> f64 {
    row.baseline.median.as_secs_f64() / row.cairn.median.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn print_table(rows: &[Row], runs: u32) {
    println!();
    println!("bench hash: median of {runs} run(s) after one warm-up run (page cache warm)");
    println!(
        "{:<7} {:>13} {:>7} {:>9} {:>16} {:>12} {:>8} {:>10} {:>9} {:>10}",
        "dataset",
        "bytes",
        "files",
        "cairn s",
        "baseline",
        "baseline s",
        "ratio*",
        "cairn MB/s",
        "files/s",
        "RSS MiB"
    );
    for row in rows {
        let seconds = row.cairn.median.as_secs_f64().max(f64::MIN_POSITIVE);
        let rss = row.cairn.peak_rss_kib.map_or_else(
            || "n/a".to_owned(),
            |kib| format!("{:.1}", kib as f64 / 1024.0),
        );
        let files_per_second = row.dataset.spec.file_count as f64 / seconds;
        let files_per_second = if files_per_second < 100.0 {
            format!("{files_per_second:.2}")
        } else {
            format!("{files_per_second:.0}")
        };
        println!(
            "{:<7} {:>13} {:>7} {:>9.3} {:>16} {:>12.3} {:>7.2}x {:>10.1} {:>9} {:>10}",
            row.dataset.spec.id.name(),
            row.dataset.bytes,
            row.dataset.spec.file_count,
            row.cairn.median.as_secs_f64(),
            baseline_name(&row.dataset),
            row.baseline.median.as_secs_f64(),
            throughput_ratio(row),
            row.dataset.bytes as f64 / 1e6 / seconds,
            files_per_second,
            rss,
        );
    }
    println!(
        "* throughput ratio vs md5sum = baseline time / cairn time; above 1.00x means cairn is faster"
    );
    println!("  (cairn MB/s, files/s and peak RSS are for cairn; RSS is from the warm-up run)");
}

/// Prints PASS or MISS for each target. Informational only: a MISS never fails the run.
fn print_targets(rows: &[Row], quick: bool) {
    println!();
    if quick {
        println!("targets (set for the full-size datasets; --quick results are only indicative):");
    } else {
        println!("targets (informational; a MISS does not fail the benchmark):");
    }
    let verdict = |pass: bool| if pass { "PASS" } else { "MISS" };
    for row in rows {
        let ratio = throughput_ratio(row);
        match row.dataset.spec.id {
            DatasetId::A => {
                println!(
                    "  A: throughput >= 0.90x md5sum: {ratio:.2}x {}",
                    verdict(ratio >= 0.9)
                );
                match row.cairn.peak_rss_kib {
                    Some(kib) => {
                        let mib = kib as f64 / 1024.0;
                        println!(
                            "  A: peak RSS < 64 MiB: {mib:.1} MiB {}",
                            verdict(mib < 64.0)
                        );
                    }
                    None => println!("  A: peak RSS < 64 MiB: n/a"),
                }
            }
            DatasetId::C => {
                println!(
                    "  C: throughput >= 1.00x parallel md5sum: {ratio:.2}x {}",
                    verdict(ratio >= 1.0)
                );
            }
            DatasetId::B => {}
        }
    }
    if rows.iter().all(|row| row.dataset.spec.id == DatasetId::B) {
        println!("  (no target for B; run A or C to see the targets)");
    }
    let total: u64 = rows.iter().map(|row| row.dataset.bytes).sum();
    let time: Duration = rows.iter().map(|row| row.cairn.median).sum();
    println!(
        "total: {} hashed by cairn in {:.3}s per pass",
        mebibytes(total),
        time.as_secs_f64()
    );
}
