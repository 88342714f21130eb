//! `bench transfer --vs-wandb`: the official W&B SDK (pinned, as for `bench hash --vs-wandb`) as
//! a baseline row, on the same `cairn server` binary through its W&B endpoint.
//!
//! Per dataset and run: a fresh server data directory (so every blob travels, as for `cairn
//! artifact put`), then the SDK logs the dataset (`wandb.init`, `Artifact.add_dir` or
//! `add_file`, `run.log_artifact`, `artifact.wait()`), then downloads it with an empty SDK cache
//! into a fresh root (`Api().artifact(...).download(root)`). A small driver, written from
//! [`DRIVER`] at run time, times those calls inside Python, which leaves out starting Python,
//! importing wandb and `wandb.init`; the whole process's wall time is reported beside it. The
//! download is checked to hold every file of the dataset.
//!
//! The SDK talks to the server as the benchmark's admin (`WANDB_BASE_URL`, `WANDB_API_KEY`), with
//! all of its state (`HOME`, `WANDB_*_DIR`) under the benchmark's work directory, emptied before
//! every run. When the venv or pip fails (no network), the row is skipped with a message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};

use crate::bench::measure::{self, median};
use crate::bench::server::Server;
use crate::bench::transfer::{remove, sync};
use crate::cmd::Cmd;

/// The Python driver: `wandb_transfer.py put|get ENTITY NAME PATH RESULT_FILE`.
const DRIVER: &str = r#""""Times the W&B SDK's log_artifact + wait and Artifact.download for
`cargo xtask bench transfer --vs-wandb`.

Written by xtask at run time; edit the copy in xtask/src/bench/sdk_transfer.rs instead.
"""
import json
import os
import sys
import time

import wandb


def main():
    action, entity, name, path, result_file = sys.argv[1:6]
    if action == "put":
        run = wandb.init(entity=entity, project="bench", job_type="bench")
        start = time.perf_counter()
        artifact = wandb.Artifact(name, "dataset")
        if os.path.isdir(path):
            artifact.add_dir(path)
        else:
            artifact.add_file(path)
        run.log_artifact(artifact)
        artifact.wait()
        seconds = time.perf_counter() - start
        run.finish()
    else:
        artifact = wandb.Api().artifact(f"{entity}/bench/{name}:latest")
        start = time.perf_counter()
        artifact.download(root=path)
        seconds = time.perf_counter() - start
    with open(result_file, "w") as result:
        json.dump({"seconds": seconds}, result)


main()
"#;

/// The SDK's medians on one dataset: in-Python seconds and whole-process seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SdkTimes {
    pub(crate) put: f64,
    pub(crate) put_process: f64,
    pub(crate) get: f64,
    pub(crate) get_process: f64,
}

/// The SDK, installed and ready to drive.
#[derive(Debug)]
pub(crate) struct Sdk {
    python: PathBuf,
    driver: PathBuf,
    state: PathBuf,
    result: PathBuf,
    /// The `cairn` binary served, its data directory (fresh every run) and the admin's key.
    cairn: PathBuf,
    data_dir: PathBuf,
    admin_key: String,
}

impl Sdk {
    /// Installs the SDK into `<target>/wandb-venv` unless it is there, and writes the driver into
    /// `work`. `None` (after saying why) when that is not possible here.
    pub(crate) fn prepare(
        target_dir: &Path,
        work: &Path,
        cairn: &Path,
        admin_key: &str,
    ) -> Result<Option<Self>> {
        let Some(python) = crate::bench::wandb::ensure_venv(&target_dir.join("wandb-venv")) else {
            return Ok(None);
        };
        let driver = work.join("wandb_transfer.py");
        fs_err::write(&driver, DRIVER)?;
        Ok(Some(Self {
            python,
            driver,
            state: work.join("wandb-state"),
            result: work.join("wandb-result.json"),
            cairn: cairn.to_owned(),
            data_dir: work.join("wandb-server-data"),
            admin_key: admin_key.to_owned(),
        }))
    }

    /// `runs` rounds of: a fresh server, the SDK's put of `dataset` (named `sdk-NAME`), its get.
    pub(crate) fn measure(
        &self,
        name: &str,
        dataset: &Path,
        expected_files: u64,
        runs: u32,
    ) -> Result<SdkTimes> {
        let collection = format!("sdk-{name}");
        let root = self.state.with_file_name("wandb-root");
        let (mut put, mut put_process, mut get, mut get_process) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 1..=runs {
            remove(&self.data_dir)?;
            fs_err::create_dir_all(&self.data_dir)?;
            let server = Server::start(&self.cairn, &self.data_dir, &self.admin_key)?;
            self.reset()?;
            let (seconds, process) = self.drive(&server, "put", &collection, dataset)?;
            println!(
                "run {run}/{runs}: wandb log_artifact + wait {:.3}s (process {:.3}s)",
                seconds.as_secs_f64(),
                process.as_secs_f64()
            );
            put.push(seconds);
            put_process.push(process);
            self.reset()?;
            remove(&root)?;
            let (seconds, process) = self.drive(&server, "get", &collection, &root)?;
            println!(
                "run {run}/{runs}: wandb Artifact.download {:.3}s (process {:.3}s)",
                seconds.as_secs_f64(),
                process.as_secs_f64()
            );
            let files = count_files(&root)?;
            ensure!(
                files == expected_files,
                "the SDK downloaded {files} files of {expected_files} into `{}`",
                root.display()
            );
            get.push(seconds);
            get_process.push(process);
            remove(&root)?;
            server.stop()?;
        }
        remove(&self.state)?;
        remove(&self.data_dir)?;
        Ok(SdkTimes {
            put: median(&mut put).as_secs_f64(),
            put_process: median(&mut put_process).as_secs_f64(),
            get: median(&mut get).as_secs_f64(),
            get_process: median(&mut get_process).as_secs_f64(),
        })
    }

    /// Runs the driver once: its own timing and the process's wall time.
    fn drive(
        &self,
        server: &Server,
        action: &str,
        collection: &str,
        path: &Path,
    ) -> Result<(Duration, Duration)> {
        if self.result.exists() {
            fs_err::remove_file(&self.result)?;
        }
        let cmd = self
            .environment(server)?
            .arg(&self.driver)
            .args([action, server.entity.as_str(), collection])
            .arg(path)
            .arg(&self.result);
        sync()?;
        let process = measure::run_once(&cmd)?;
        Ok((read_seconds(&self.result)?, process))
    }

    /// The SDK's environment: the server as its base URL, the admin's key, every directory
    /// under the state directory, no telemetry or code saving.
    fn environment(&self, server: &Server) -> Result<Cmd> {
        let state = self
            .state
            .to_str()
            .with_context(|| format!("`{}` is not valid UTF-8", self.state.display()))?;
        let mut cmd = Cmd::new(&self.python)
            .env("HOME", &format!("{state}/home"))
            .env("WANDB_BASE_URL", &server.url())
            .env("WANDB_API_KEY", server.admin_key())
            .env("WANDB_ENTITY", &server.entity)
            .env("WANDB_PROJECT", "bench")
            .env("WANDB_MODE", "online")
            .env("WANDB_SILENT", "true")
            .env("WANDB_CONSOLE", "off")
            .env("WANDB_ERROR_REPORTING", "false")
            .env("WANDB_DISABLE_GIT", "true")
            .env("WANDB_DISABLE_CODE", "true")
            .env("WANDB__DISABLE_STATS", "true")
            .env("WANDB__DISABLE_MACHINE_INFO", "true")
            .env("WANDB__DISABLE_UPDATE_CHECK", "true")
            .env("WANDB__SAVE_REQUIREMENTS", "false")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        for (key, dir) in [
            ("WANDB_DIR", "run"),
            ("WANDB_CACHE_DIR", "cache"),
            ("WANDB_DATA_DIR", "data"),
            ("WANDB_CONFIG_DIR", "config"),
            ("WANDB_ARTIFACT_DIR", "artifacts"),
        ] {
            cmd = cmd.env(key, &format!("{state}/{dir}"));
        }
        Ok(cmd)
    }

    /// Empties the SDK's state (its cache and staging copies included).
    fn reset(&self) -> Result<()> {
        remove(&self.state)?;
        for sub in ["home", "run", "cache", "data", "config", "artifacts"] {
            fs_err::create_dir_all(self.state.join(sub))?;
        }
        Ok(())
    }
}

fn read_seconds(result_file: &Path) -> Result<Duration> {
    crate::bench::wandb::read_driver_seconds(result_file, "seconds")
}

fn count_files(dir: &Path) -> Result<u64> {
    let mut count = 0;
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else {
                count += 1;
            }
        }
    }
    Ok(count)
}
