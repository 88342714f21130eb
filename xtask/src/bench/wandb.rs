//! `bench hash --vs-wandb`: the same datasets through the official W&B SDK, for comparison.
//!
//! The SDK is installed once into `<target>/wandb-venv` (`python3 -m venv`, then
//! `pip install wandb==0.31.0`). A small driver, written from [`DRIVER`] at run time, builds
//! `wandb.Artifact("bench", "dataset")` and times only the `add_dir` (or, for A, `add_file`) call
//! inside the Python process; xtask also reports the whole process's wall time, which includes
//! starting Python and importing wandb. Each configuration runs with the default policy (which
//! copies every file into a staging directory) and with `policy="immutable"` (which does not).
//!
//! The SDK runs offline with all of its state under `<bench-data>/wandb-state`, removed before
//! every run so staged copies never accumulate and nothing touches `$HOME`. If the venv or the
//! install fails (no network, no venv module), this part is skipped with a message; the cairn
//! results above stand on their own.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::bench::hash::Row;
use crate::bench::measure::median;
use crate::cmd::Cmd;

/// The SDK version compared against; the one whose formats Cairn follows.
pub(crate) const WANDB_VERSION: &str = "0.31.0";

/// The Python driver: `wandb_add.py KIND PATH POLICY RESULT_FILE`.
const DRIVER: &str = r#""""Times wandb.Artifact.add_dir/add_file for `cargo xtask bench hash --vs-wandb`.

Written by xtask at run time; edit the copy in xtask/src/bench/wandb.rs instead.
"""
import json
import sys
import time

import wandb


def main():
    kind, path, policy, result_file = sys.argv[1:5]
    artifact = wandb.Artifact("bench", "dataset")
    options = {} if policy == "default" else {"policy": policy}
    start = time.perf_counter()
    if kind == "dir":
        artifact.add_dir(path, **options)
    else:
        artifact.add_file(path, **options)
    seconds = time.perf_counter() - start
    with open(result_file, "w") as result:
        json.dump({"add_seconds": seconds, "entries": len(artifact.manifest.entries)}, result)


main()
"#;

/// The policies compared: the SDK's default (`mutable`, which stages copies) and `immutable`.
const POLICIES: &[&str] = &["default", "immutable"];

/// Times the SDK on every dataset in `rows` and prints the comparison with cairn's times.
pub(crate) fn compare(target_dir: &Path, base: &Path, rows: &[Row], runs: u32) -> Result<()> {
    println!();
    println!("== W&B SDK {WANDB_VERSION} comparison");
    let Some(python) = ensure_venv(&target_dir.join("wandb-venv")) else {
        return Ok(());
    };
    let driver = base.join("wandb_add.py");
    fs_err::write(&driver, DRIVER)?;
    let state = base.join("wandb-state");
    let result_file = base.join("wandb-result.json");

    let mut lines = Vec::new();
    for row in rows {
        let name = row.dataset.spec.id.name();
        let (kind, path) = match row.dataset.single_file() {
            Some(file) => ("file", file),
            None => ("dir", row.dataset.dir.clone()),
        };
        for policy in POLICIES {
            let cmd = Cmd::new(&python)
                .arg(&driver)
                .args([kind])
                .arg(&path)
                .arg(policy)
                .arg(&result_file);
            let cmd = with_offline_state(cmd, &state)?;
            println!("{name} wandb ({policy}): $ {cmd}");
            let mut add_times = Vec::new();
            let mut process_times = Vec::new();
            for run in 1..=runs {
                reset_dir(&state)?;
                if result_file.exists() {
                    fs_err::remove_file(&result_file)?;
                }
                let start = Instant::now();
                let status = cmd.status(cmd.to_command())?;
                cmd.check(status)?;
                process_times.push(start.elapsed());
                let add = read_add_seconds(&result_file)?;
                println!(
                    "{name} wandb ({policy}): run {run}/{runs}: add {:.3}s, process {:.3}s",
                    add.as_secs_f64(),
                    start.elapsed().as_secs_f64()
                );
                add_times.push(add);
            }
            lines.push((
                name,
                *policy,
                median(&mut add_times),
                median(&mut process_times),
                row.cairn.median,
            ));
        }
    }
    if state.exists() {
        fs_err::remove_dir_all(&state)?;
    }

    println!();
    println!(
        "W&B SDK {WANDB_VERSION} (offline), median of {runs} run(s); add = time inside Python around the add call"
    );
    println!(
        "{:<7} {:<10} {:>10} {:>14} {:>9} {:>11}",
        "dataset", "policy", "sdk add s", "sdk process s", "cairn s", "sdk/cairn*"
    );
    for (name, policy, add, process, cairn) in lines {
        println!(
            "{name:<7} {policy:<10} {:>10.3} {:>14.3} {:>9.3} {:>10.2}x",
            add.as_secs_f64(),
            process.as_secs_f64(),
            cairn.as_secs_f64(),
            add.as_secs_f64() / cairn.as_secs_f64().max(f64::MIN_POSITIVE),
        );
    }
    println!("* sdk add time / cairn time; above 1.00x means cairn is faster");
    Ok(())
}

/// Creates the venv and installs the SDK unless already there. Returns the venv's python, or
/// `None` (after saying why) when that is not possible here.
pub(crate) fn ensure_venv(venv: &Path) -> Option<PathBuf> {
    let python = venv.join("bin").join("python");
    if !python.is_file()
        && let Err(error) = Cmd::new("python3").args(["-m", "venv"]).arg(venv).run()
    {
        eprintln!("warning: cannot create a Python venv: {error:#}");
        eprintln!("hint: install python3 with its venv module (apt-get install python3-venv)");
        eprintln!("skipping the W&B SDK comparison");
        return None;
    }
    let check = format!("import sys, wandb; sys.exit(wandb.__version__ != {WANDB_VERSION:?})");
    if Cmd::new(&python).args(["-c", &check]).probe() {
        println!("using wandb {WANDB_VERSION} from {}", venv.display());
        return Some(python);
    }
    let install =
        Cmd::new(&python).args(["-m", "pip", "install", &format!("wandb=={WANDB_VERSION}")]);
    if let Err(error) = install.run() {
        eprintln!("warning: pip could not install wandb {WANDB_VERSION}: {error:#}");
        eprintln!("hint: this needs access to PyPI; run `{install}` by hand to see why");
        eprintln!("skipping the W&B SDK comparison");
        return None;
    }
    Some(python)
}

/// Points every wandb directory under `state` and switches the SDK offline and silent.
fn with_offline_state(cmd: Cmd, state: &Path) -> Result<Cmd> {
    let state = state
        .to_str()
        .with_context(|| format!("`{}` is not valid UTF-8", state.display()))?;
    let mut cmd = cmd.env("WANDB_MODE", "offline").env("WANDB_SILENT", "true");
    for (key, dir) in [
        ("WANDB_DIR", "run"),
        ("WANDB_DATA_DIR", "data"),
        ("WANDB_CACHE_DIR", "cache"),
        ("WANDB_CONFIG_DIR", "config"),
    ] {
        cmd = cmd.env(key, &format!("{state}/{dir}"));
    }
    Ok(cmd)
}

/// Empties `dir` (the SDK's staging copies included) and recreates its subdirectories.
fn reset_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    for sub in ["run", "data", "cache", "config"] {
        fs_err::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

fn read_add_seconds(result_file: &Path) -> Result<Duration> {
    read_driver_seconds(result_file, "add_seconds")
}

/// The non-negative number of seconds a Python driver wrote under `field` of its JSON result.
pub(crate) fn read_driver_seconds(result_file: &Path, field: &str) -> Result<Duration> {
    let text = fs_err::read_to_string(result_file)?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "the wandb driver wrote invalid JSON to `{}`",
            result_file.display()
        )
    })?;
    let seconds = value[field]
        .as_f64()
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .with_context(|| format!("no `{field}` in `{}`", result_file.display()))?;
    Ok(Duration::from_secs_f64(seconds))
}
