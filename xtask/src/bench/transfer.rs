//! `cargo xtask bench transfer`: `cairn artifact put` and `get` through a release `cairn server`
//! on loopback, against the physical limit measured in the same run.
//!
//! * **put** of each dataset into a server with a fresh data directory (so every blob really
//!   travels), against `md5sum` of all its files (one process, as `find | xargs md5sum` runs it)
//!   plus one `curl -T` of the same bytes to an in-process sink ([`crate::bench::sink`]): reading
//!   and hashing every byte once and moving it once over loopback is what a put cannot beat.
//!   For B and C the files are concatenated into one file first, untimed. Targets: at most 1.3×
//!   the limit on A and B, at least 5,000 files/s on C.
//! * **get** into a fresh root with an empty cache, against `cp -r` of the same tree into a fresh
//!   destination (target ≤ 1.3×); then, with the cache filled, `get --link hardlink` (and
//!   `reflink` where the filesystem has it) against `cp -r` (target ≤ 1.05×).
//! * both against the baseline issue 16 sets, measured in the same runs: `md5sum` of every file
//!   on all cores (`bench hash`'s baseline, [`hash::baseline_command`]) plus `cp -r` of the
//!   tree, the cost of hashing the data and moving it once, side by side with the stricter
//!   baselines above (targets ≤ 1.3× for put and get).
//! * **peak RSS** of the client (GNU time) and of the server (`VmHWM`); target < 200 MiB each.
//! * with `--vs-wandb`, on B and C: the official W&B SDK's `log_artifact` + `wait()` and
//!   `Artifact.download()` on the same server binary ([`crate::bench::sdk_transfer`]); target:
//!   cairn at least 3× faster at both.
//!
//! The server runs as the admin (`CAIRN_ADMIN_API_KEY`, generated), the client gets the key and
//! URL through `CAIRN_API_KEY` and `CAIRN_BASE_URL`, and everything lives under
//! `<target>/bench-transfer/`. `sync` runs untimed before every timed command so neither side
//! pays for the other's writes. `--scale 0.01` shrinks the datasets for a smoke test of the code
//! paths; `CAIRN_BENCH_BIN` benchmarks another binary, as for `bench hash`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::bench::data::{self, Dataset, DatasetId};
use crate::bench::hash::{self, cairn_binary};
use crate::bench::measure;
use crate::bench::report::{self, Comparison, Report};
use crate::bench::sdk_transfer::Sdk;
use crate::bench::server::Server;
use crate::bench::sink::Sink;
use crate::cmd::Cmd;
use crate::workspace::Workspace;

/// Arguments of `cargo xtask bench transfer`.
#[derive(Debug, Args)]
pub(crate) struct TransferArgs {
    /// Timed runs per command (alternating with the baseline) after one warm-up run; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Which datasets to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["A", "B", "C"], ignore_case = true)]
    datasets: Vec<DatasetId>,
    /// Multiply the file counts (A: the file size) by this; 0.01 makes a fast smoke test.
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    scale: f64,
    /// Keep the datasets, the server's data, the cache and the download roots under this
    /// directory instead of the target directory: `--dir /dev/shm/cairn-bench` takes the
    /// disk's erratic file creation out (compare with a run on the default, ext4).
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
    /// Also time the official W&B SDK (installed with pip into `<target>/wandb-venv`) logging
    /// and downloading B and C through the same server's W&B endpoint.
    #[arg(long)]
    vs_wandb: bool,
    /// Timed runs of the SDK per dataset (default: `--runs`); it takes minutes on C.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    wandb_runs: Option<u32>,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err(format!(
            "`{text}` is not a positive number (1 = full size, 0.01 = tiny)"
        )),
    }
}

/// What one benchmark run shares: the binary, the scratch space, the sink.
#[derive(Debug)]
struct Bench {
    cairn: PathBuf,
    work: PathBuf,
    sink: Sink,
    runs: u32,
    admin_key: String,
    /// The W&B SDK and its runs per dataset, with `--vs-wandb`.
    sdk: Option<(Sdk, u32)>,
}

/// Runs the benchmark and prints its table.
pub(crate) fn run(workspace: &Workspace, args: &TransferArgs) -> Result<()> {
    let target_dir = workspace.metadata()?.target_directory;
    let root = args.dir.clone().unwrap_or_else(|| target_dir.clone());
    let base = if args.scale == 1.0 {
        root.join("bench-data")
    } else {
        root.join(format!("bench-data-scale-{}", args.scale))
    };
    let work = root.join("bench-transfer");
    remove(&work)?;
    fs_err::create_dir_all(&work)?;
    fs_err::create_dir_all(&base)?;
    let cairn = cairn_binary(workspace, &target_dir)?;
    let mut ids = args.datasets.clone();
    ids.sort();
    ids.dedup();
    let datasets = ids
        .iter()
        .map(|id| data::ensure(&base, id.spec(false).scaled(args.scale)))
        .collect::<Result<Vec<_>>>()?;
    let admin_key = crate::bench::server::admin_key();
    let sdk = if args.vs_wandb {
        Sdk::prepare(&target_dir, &work, &cairn, &admin_key)?
            .map(|sdk| (sdk, args.wandb_runs.unwrap_or(args.runs)))
    } else {
        None
    };
    let bench = Bench {
        cairn,
        work,
        sink: Sink::start()?,
        runs: args.runs,
        admin_key,
        sdk,
    };
    let mut reports = Vec::new();
    for dataset in datasets {
        reports.push(bench.dataset(dataset)?);
    }
    remove(&bench.work)?;
    report::print(&reports, args.runs, args.scale);
    Ok(())
}

impl Bench {
    /// Put, cold get and linked gets of one dataset.
    fn dataset(&self, dataset: Dataset) -> Result<Report> {
        let name = dataset.spec.id.name();
        println!("== dataset {name}");
        let upload_file = self.upload_file(&dataset)?;
        let md5 = md5_command(&dataset);
        let md5_all_cores = hash::baseline_command(&dataset);
        let copy = self.work.join("cp-r");
        let cp = Cmd::new("cp").arg("-r").arg(&dataset.dir).arg(&copy);
        let curl = Cmd::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--fail",
                "--output",
                "/dev/null",
            ])
            .arg("--upload-file")
            .arg(&upload_file)
            .arg(self.sink.url());
        let mut server_peak = None;
        let mut client_put_peak = None;
        let (mut put_times, mut limit_times) = (Vec::new(), Vec::new());
        let mut issue_times = Vec::new();
        let mut server: Option<Server> = None;
        for run in 0..=self.runs {
            // A fresh server for every put, so every blob travels.
            if let Some(previous) = server.take() {
                server_peak = server_peak.max(previous.stop()?);
            }
            let data_dir = self.work.join("server-data");
            remove(&data_dir)?;
            fs_err::create_dir_all(&data_dir)?;
            let started = Server::start(&self.cairn, &data_dir, &self.admin_key)?;
            let cache = self.work.join("put-cache");
            remove(&cache)?;
            let put = self
                .client(&started, &cache)?
                .args(["artifact", "put", "--name"])
                .arg(format!("{}/bench/{name}", started.entity))
                .args(["--type", "dataset"])
                .arg(&dataset.dir);
            sync()?;
            let (put_time, rss) = self.timed(&put)?;
            client_put_peak = client_put_peak.max(rss);
            sync()?;
            let limit = measure::run_once(&md5)? + measure::run_once(&curl)?;
            report_run(run, self.runs, "put", put_time, "md5sum + curl -T", limit);
            let issue = issue_baseline(&md5_all_cores, &cp, &copy)?;
            report_run(run, self.runs, "put", put_time, ISSUE_BASELINE, issue);
            if run > 0 {
                put_times.push(put_time);
                limit_times.push(limit);
                issue_times.push(issue);
            }
            server = Some(started);
        }
        let server = server.context("the put loop ran at least once")?;
        if upload_file != dataset.dir && upload_file.starts_with(&self.work) {
            fs_err::remove_file(&upload_file)?;
        }
        let put = Comparison::new(&mut put_times.clone(), &mut limit_times);
        let put_issue = Comparison::new(&mut put_times, &mut issue_times);
        let (get_cold, get_cold_issue, client_get_peak) =
            self.get_cold(&server, &dataset, &md5_all_cores)?;
        let linked = ["hardlink", "reflink"]
            .into_iter()
            .map(|mode| Ok((mode, self.get_linked(&server, &dataset, mode)?)))
            .collect::<Result<Vec<_>>>()?;
        server_peak = server_peak.max(server.stop()?);
        let sdk = match &self.sdk {
            Some((sdk, runs)) if dataset.spec.id != DatasetId::A => {
                println!("dataset {name}: the W&B SDK, {runs} run(s)");
                Some(sdk.measure(name, &dataset.dir, dataset.spec.file_count, *runs)?)
            }
            Some(_) => {
                println!("dataset {name}: the W&B SDK row is measured on B and C only");
                None
            }
            None => None,
        };
        Ok(Report {
            dataset,
            put,
            put_issue,
            get_cold,
            get_cold_issue,
            linked,
            client_put_peak,
            client_get_peak,
            server_peak,
            sdk,
        })
    }

    /// `cairn artifact get` with an empty cache into a fresh root, against `cp -r` and against
    /// issue 16's baseline (`md5_all_cores` + `cp -r`).
    fn get_cold(
        &self,
        server: &Server,
        dataset: &Dataset,
        md5_all_cores: &Cmd,
    ) -> Result<(Comparison, Comparison, Option<u64>)> {
        let cache = self.work.join("get-cache");
        let root = self.work.join("get-root");
        let copy = self.work.join("cp-r");
        let get = self.get_command(server, dataset, &cache, &root)?;
        let cp = Cmd::new("cp").arg("-r").arg(&dataset.dir).arg(&copy);
        let (mut times, mut cp_times, mut issue_times) = (Vec::new(), Vec::new(), Vec::new());
        let mut peak = None;
        for run in 0..=self.runs {
            remove(&cache)?;
            remove(&root)?;
            remove(&copy)?;
            sync()?;
            let (elapsed, rss) = self.timed(&get)?;
            peak = peak.max(rss);
            sync()?;
            let cp_elapsed = measure::run_once(&cp)?;
            report_run(
                run,
                self.runs,
                "get (empty cache)",
                elapsed,
                "cp -r",
                cp_elapsed,
            );
            // Issue 16's baseline reuses this run's `cp -r`: the copy is the same command.
            sync()?;
            let issue = measure::run_once(md5_all_cores)? + cp_elapsed;
            report_run(
                run,
                self.runs,
                "get (empty cache)",
                elapsed,
                ISSUE_BASELINE,
                issue,
            );
            if run > 0 {
                times.push(elapsed);
                cp_times.push(cp_elapsed);
                issue_times.push(issue);
            }
        }
        remove(&copy)?;
        remove(&root)?;
        // The cache stays filled for the linked gets.
        Ok((
            Comparison::new(&mut times.clone(), &mut cp_times),
            Comparison::new(&mut times, &mut issue_times),
            peak,
        ))
    }

    /// `cairn artifact get --link MODE` from a filled cache into a fresh root, against `cp -r`;
    /// `Err(reason)` when the filesystem refuses the mode.
    fn get_linked(
        &self,
        server: &Server,
        dataset: &Dataset,
        mode: &str,
    ) -> Result<Result<Comparison, String>> {
        let cache = self.work.join("get-cache");
        let root = self.work.join("get-root");
        let copy = self.work.join("cp-r");
        let get = self
            .get_command(server, dataset, &cache, &root)?
            .args(["--link", mode]);
        let cp = Cmd::new("cp").arg("-r").arg(&dataset.dir).arg(&copy);
        remove(&root)?;
        // The warm-up run doubles as the probe of whether the filesystem allows this mode.
        let probe = get
            .to_command()
            .output()
            .with_context(|| format!("cannot run `cairn artifact get --link {mode}`"))?;
        if !probe.status.success() {
            let reason = String::from_utf8_lossy(&probe.stderr);
            let reason = reason.lines().next().unwrap_or("failed").trim().to_owned();
            println!("get --link {mode}: not available here: {reason}");
            return Ok(Err(reason));
        }
        let (mut times, mut cp_times) = (Vec::new(), Vec::new());
        for run in 1..=self.runs {
            remove(&root)?;
            remove(&copy)?;
            sync()?;
            let elapsed = measure::run_once(&get)?;
            sync()?;
            let cp_elapsed = measure::run_once(&cp)?;
            report_run(
                run,
                self.runs,
                &format!("get --link {mode}"),
                elapsed,
                "cp -r",
                cp_elapsed,
            );
            times.push(elapsed);
            cp_times.push(cp_elapsed);
        }
        remove(&copy)?;
        remove(&root)?;
        Ok(Ok(Comparison::new(&mut times, &mut cp_times)))
    }

    fn get_command(
        &self,
        server: &Server,
        dataset: &Dataset,
        cache: &Path,
        root: &Path,
    ) -> Result<Cmd> {
        let spec = format!("{}/bench/{}:latest", server.entity, dataset.spec.id.name());
        Ok(self
            .client(server, cache)?
            .args(["artifact", "get", &spec, "--root"])
            .arg(root))
    }

    /// `cairn` as the benchmark's client: the admin's key, its own config, `cache` as the cache.
    fn client(&self, server: &Server, cache: &Path) -> Result<Cmd> {
        let home = self.work.join("client-home");
        Ok(Cmd::new(&self.cairn)
            .env("HOME", utf8(&home)?)
            .env("CAIRN_CONFIG_DIR", utf8(&home.join("config"))?)
            .env("CAIRN_CACHE_DIR", utf8(cache)?)
            .env("CAIRN_BASE_URL", &server.url())
            .env("CAIRN_API_KEY", server.admin_key()))
    }

    /// Runs `cmd` once, timed, with its peak RSS when GNU time is there.
    fn timed(&self, cmd: &Cmd) -> Result<(Duration, Option<u64>)> {
        if !measure::can_measure_rss() {
            return Ok((measure::run_once(cmd)?, None));
        }
        let (elapsed, kib) = measure::run_with_rss(cmd, &self.work.join("peak-rss.txt"))?;
        Ok((elapsed, Some(kib)))
    }

    /// The one file curl uploads: A's file, or (untimed) B's or C's files concatenated.
    fn upload_file(&self, dataset: &Dataset) -> Result<PathBuf> {
        if let Some(file) = dataset.single_file() {
            return Ok(file);
        }
        let path = self
            .work
            .join(format!("{}.concatenated", dataset.spec.id.name()));
        println!(
            "dataset {}: concatenating its files into `{}` for curl (untimed)",
            dataset.spec.id.name(),
            path.display()
        );
        let mut output = std::io::BufWriter::new(fs_err::File::create(&path)?);
        let mut files = Vec::new();
        collect_files(&dataset.dir, &mut files)?;
        files.sort();
        for file in files {
            std::io::copy(&mut fs_err::File::open(&file)?, &mut output).with_context(|| {
                format!("cannot append `{}` to `{}`", file.display(), path.display())
            })?;
        }
        std::io::Write::flush(&mut output)?;
        Ok(path)
    }
}

/// `md5sum` over every file of the dataset, in one process as xargs batches them.
fn md5_command(dataset: &Dataset) -> Cmd {
    if let Some(file) = dataset.single_file() {
        return Cmd::new("md5sum").arg(file);
    }
    Cmd::new("sh")
        .arg("-c")
        .arg("find \"$1\" -type f -print0 | xargs -0 md5sum > /dev/null")
        .arg("sh")
        .arg(&dataset.dir)
}

/// How the tables name issue 16's baseline.
pub(crate) const ISSUE_BASELINE: &str = "md5sum -P + cp -r";

/// One run of issue 16's baseline: `md5sum` on all cores, then `cp -r` into a fresh `copy`.
fn issue_baseline(md5_all_cores: &Cmd, cp: &Cmd, copy: &Path) -> Result<Duration> {
    remove(copy)?;
    sync()?;
    let hashed = measure::run_once(md5_all_cores)?;
    sync()?;
    let copied = measure::run_once(cp)?;
    remove(copy)?;
    Ok(hashed + copied)
}

fn report_run(run: u32, runs: u32, step: &str, time: Duration, baseline: &str, limit: Duration) {
    let which = if run == 0 {
        "warm-up".to_owned()
    } else {
        format!("run {run}/{runs}")
    };
    println!(
        "{which}: {step} {:.3}s, {baseline} {:.3}s",
        time.as_secs_f64(),
        limit.as_secs_f64()
    );
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            collect_files(&entry.path(), files)?;
        } else {
            files.push(entry.path());
        }
    }
    Ok(())
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("`{}` is not valid UTF-8", path.display()))
}

/// Flushes dirty pages to disk (`sync`), untimed.
pub(crate) fn sync() -> Result<()> {
    measure::run_once(&Cmd::new("sync")).map(drop)
}

/// Removes a file or a directory tree, if there is one.
pub(crate) fn remove(path: &Path) -> Result<()> {
    if path.is_dir() {
        fs_err::remove_dir_all(path)?;
    } else if path.exists() {
        fs_err::remove_file(path)?;
    }
    Ok(())
}
