//! `cargo xtask emulators start|stop|status|env`: the object-store emulators the storage tests run
//! against, installed into a cache outside the clone, started on free loopback ports, stopped by
//! pid.
//!
//! * moto server (S3, with versioning), fake-gcs-server (GCS) and Azurite (Azure Blob) are
//!   installed once per pinned set into [`install::cache_dir`] (see [`install`]).
//! * Run state lives in `<target dir>/emulators/`: one `NAME.pid` and `NAME.log` per emulator, a
//!   working directory `NAME/` per emulator (so nothing is written into the clone), and `env`,
//!   the endpoints as `KEY=VALUE` lines.
//! * Each emulator runs in its own process group, so stopping it also stops its children
//!   ([`process`]). A pid file records who started it: `cargo xtask emulators start` (left
//!   running, and reused by `cargo xtask test`) or a `cargo xtask test` run (stopped when that run
//!   ends; if the run was killed, the next start stops the leftovers).
//!
//! The tests read [`ENDPOINT_VARS`] and `CAIRN_TEST_EMULATORS=required`, which makes a missing
//! emulator a failure instead of a skip.

mod install;
pub(crate) mod process;
mod session;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::cmd::Cmd;
use crate::emulators::install::Installed;
pub(crate) use crate::emulators::install::{PythonTool, cache_dir, ensure_python_tool};
use crate::emulators::process::Owner;
pub(crate) use crate::emulators::session::Emulators;
use crate::workspace::Workspace;

/// The variables holding the endpoints, in the order of [`SPECS`].
pub(crate) const ENDPOINT_VARS: [&str; 3] = [
    "CAIRN_TEST_S3_ENDPOINT",
    "CAIRN_TEST_GCS_ENDPOINT",
    "CAIRN_TEST_AZURITE_ENDPOINT",
];

/// Set to `required` whenever the emulators are: a test that finds no emulator then fails.
const REQUIRED_VAR: (&str, &str) = ("CAIRN_TEST_EMULATORS", "required");

/// Arguments of `cargo xtask emulators`.
#[derive(Debug, Args)]
pub(crate) struct EmulatorsArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Install if needed, start (or keep) the emulators, leave them running, write their `env`.
    Start,
    /// Stop the emulators of this workspace.
    Stop,
    /// Say which emulators run, where, and who started them.
    Status,
    /// Print `export KEY=VALUE` lines (starting the emulators if needed), for
    /// `eval "$(cargo xtask emulators env)"`.
    Env,
}

/// Runs `cargo xtask emulators ...`.
pub(crate) fn run(workspace: &Workspace, args: &EmulatorsArgs) -> Result<()> {
    match args.action {
        Action::Start => {
            let emulators = Emulators::start(workspace, Owner::Dev)?;
            for (key, value) in emulators.env() {
                println!("{key}={value}");
            }
            eprintln!(
                "emulators: running until `cargo xtask emulators stop`; load them into a shell \
                 with: eval \"$(cargo xtask emulators env)\""
            );
            Ok(())
        }
        Action::Env => {
            let emulators = Emulators::start(workspace, Owner::Dev)?;
            for (key, value) in emulators.env() {
                println!("export {key}={value}");
            }
            Ok(())
        }
        Action::Stop => stop(workspace),
        Action::Status => status(workspace),
    }
}

/// How to run and recognise one emulator.
#[derive(Debug)]
struct Spec {
    /// Short name, used for the pid file, the log and the working directory.
    name: &'static str,
    /// What it is, for messages.
    label: &'static str,
    /// The path whose `GET` shows it is ready.
    probe_path: &'static str,
    /// Whether readiness needs a 2xx answer; otherwise any HTTP answer will do.
    probe_needs_success: bool,
    /// A word of its command line that identifies it.
    marker: &'static str,
}

const SPECS: [Spec; 3] = [
    Spec {
        name: "s3",
        label: "moto server (S3)",
        probe_path: "/",
        probe_needs_success: true,
        marker: "moto.server",
    },
    Spec {
        name: "gcs",
        label: "fake-gcs-server (GCS)",
        probe_path: "/storage/v1/b",
        probe_needs_success: true,
        marker: "fake-gcs-server",
    },
    Spec {
        name: "azurite",
        label: "Azurite (Azure Blob)",
        probe_path: "/",
        probe_needs_success: false,
        marker: "azurite-blob",
    },
];

impl Spec {
    /// The command line that runs this emulator on `port`. Each runs in its own directory under
    /// the run dir. Azurite gets no `--location` there: it refuses one together with
    /// `--inMemoryPersistence`, and keeps nothing on disk without it.
    fn command(&self, installed: &Installed, port: u16) -> Cmd {
        let port = port.to_string();
        match self.name {
            "s3" => Cmd::new(&installed.python)
                .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
                .arg(&port)
                .env("PYTHONUNBUFFERED", "1"),
            "gcs" => Cmd::new(&installed.fake_gcs)
                .args(["-scheme", "http", "-host", "127.0.0.1", "-port", &port])
                .args(["-public-host", &format!("127.0.0.1:{port}")])
                .args(["-backend", "memory"]),
            _ => Cmd::new(&installed.azurite_blob)
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port])
                .args(["--inMemoryPersistence", "--silent", "--disableTelemetry"])
                .arg("--skipApiVersionCheck"),
        }
    }

    /// Whether it answers on `port` the way a ready instance does.
    fn answers(&self, port: u16) -> bool {
        process::http_status(port, self.probe_path)
            .is_some_and(|status| !self.probe_needs_success || (200..300).contains(&status))
    }
}

/// `<target dir>/emulators`.
fn run_dir(workspace: &Workspace) -> Result<PathBuf> {
    Ok(workspace.metadata()?.target_directory.join("emulators"))
}

fn remove_env_file(run_dir: &Path) -> Result<()> {
    match fs_err::remove_file(run_dir.join("env")) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

/// Stops emulators running in `run_dir` that no pid file accounts for, other than `keep`, and
/// says how many there were.
fn stop_orphans(run_dir: &Path, keep: &BTreeSet<u32>) -> Result<usize> {
    let markers: Vec<&str> = SPECS.iter().map(|spec| spec.marker).collect();
    let orphans = process::orphans(run_dir, &markers, keep);
    for &pid in &orphans {
        eprintln!("emulators: stopping pid {pid}, an emulator whose pid file was lost");
        process::stop_group(pid)?;
    }
    Ok(orphans.len())
}

/// `cargo xtask emulators stop`.
fn stop(workspace: &Workspace) -> Result<()> {
    let run_dir = run_dir(workspace)?;
    let mut stopped = 0;
    for spec in &SPECS {
        if let Some(record) = process::live_record(&run_dir, spec.name, spec.marker)? {
            process::stop_group(record.pid)?;
            process::remove_pid_file(&run_dir, spec.name)?;
            println!("stopped {} (pid {})", spec.label, record.pid);
            stopped += 1;
        }
    }
    stopped += stop_orphans(&run_dir, &BTreeSet::new())?;
    remove_env_file(&run_dir)?;
    if stopped == 0 {
        println!("no emulators were running");
    }
    Ok(())
}

/// `cargo xtask emulators status`.
fn status(workspace: &Workspace) -> Result<()> {
    let run_dir = run_dir(workspace)?;
    let cache = install::cache_dir()?;
    let installed = if install::is_installed(&cache) {
        "installed"
    } else {
        "not installed yet"
    };
    println!("cache: `{}` ({installed})", cache.display());
    println!("run state: `{}`", run_dir.display());
    for (spec, var) in SPECS.iter().zip(ENDPOINT_VARS) {
        let Some(record) = process::live_record(&run_dir, spec.name, spec.marker)? else {
            println!("{:<22} not running", spec.label);
            continue;
        };
        let answering = if spec.answers(record.port) {
            "answering"
        } else {
            "NOT answering"
        };
        let owner = match record.owner {
            Owner::Dev => "started by `cargo xtask emulators start`".to_owned(),
            Owner::Test { xtask_pid } if process::is_alive(xtask_pid) => {
                format!("started by the running `cargo xtask test` (pid {xtask_pid})")
            }
            Owner::Test { xtask_pid } => {
                format!("left over by `cargo xtask test` (pid {xtask_pid}, no longer running)")
            }
        };
        println!(
            "{:<22} running, pid {}, {var}=http://127.0.0.1:{}, {answering}, {owner}",
            spec.label, record.pid, record.port
        );
    }
    Ok(())
}
