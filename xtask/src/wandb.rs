//! `cargo xtask wandb`, also the `wandb sdk` step of `cargo xtask test`: the official W&B SDK
//! (pinned, [`SDK`]) driven against the real `cairn server` on loopback, one scenario script of
//! `tests/wandb/` at a time, each under a hard timeout.
//!
//! * The SDK (with boto3, for the `s3://` references scenario) is installed with pip into a venv
//!   of its own in the emulators' cache (`crate::emulators::ensure_python_tool`), once per pin.
//! * The server is the `cairn` binary the end-to-end scenarios test ([`e2e::cairn_binary`]), on
//!   a free loopback port with a fresh data directory in `<target>/wandb/`, which is kept after
//!   the run with the server's log (`data.log`) and one log per scenario (`logs/NAME.log`).
//! * Seeding, through the native API ([`seed`]): users `alice` (who owns everything) and `bob`
//!   (an outsider) with their keys, a team of alice's, and alice's projects with each
//!   visibility. The scenarios get them, and the server, through `CAIRN_WANDB_*` variables
//!   (`tests/wandb/harness.py` reads them).
//! * Every scenario runs as `python tests/wandb/sNN_NAME.py` in its own process group, with its
//!   own scratch directory; one that outlives [`SCENARIO_TIMEOUT`] is killed with its group and
//!   fails. All scenarios run even when one fails; the step fails if any did, and prints each
//!   failure's log tail and the server's warnings and errors.
//! * The references scenario needs moto (`CAIRN_TEST_S3_ENDPOINT`): `cargo xtask test` passes its
//!   emulators on; run alone, this command starts them (and stops them afterwards) unless the
//!   variable is already set.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use serde_json::json;

use crate::bench::server::{self, Server};
use crate::cmd::Cmd;
use crate::e2e;
use crate::emulators::{Emulators, PythonTool, cache_dir, ensure_python_tool, process};
use crate::test::EnvVar;
use crate::workspace::Workspace;

/// The official W&B SDK, pinned, with boto3 for `s3://` references (botocore pinned to match)
/// and pydot, which parses the DOT the `cairn artifact lineage` command writes.
const SDK: PythonTool = PythonTool {
    label: "wandb sdk",
    name: "wandb-sdk",
    packages: &[
        "wandb==0.31.0",
        "boto3==1.43.11",
        "botocore==1.43.11",
        "pydot==3.0.4",
    ],
};

/// How long one scenario may run before it is killed with its process group, unless
/// [`TIMEOUT_VAR`] says otherwise.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);

/// The variable that overrides [`SCENARIO_TIMEOUT`], in seconds.
const TIMEOUT_VAR: &str = "CAIRN_WANDB_SCENARIO_TIMEOUT";

/// Where the scenario scripts live, relative to the workspace root.
const SCENARIO_DIR: &str = "tests/wandb";

/// The scenario that needs the S3 emulator.
const S3_SCENARIO: &str = "references";

/// The variable holding the S3 emulator's endpoint (`crate::emulators::ENDPOINT_VARS`).
const S3_VAR: &str = "CAIRN_TEST_S3_ENDPOINT";

/// Words of the command lines of the SDK's background processes.
const SDK_PROCESSES: &[&str] = &["wandb-core", "wandb-symon"];

/// Lines of a failed scenario's log shown in the report.
const TAIL_LINES: usize = 60;

/// Arguments of `cargo xtask wandb`.
#[derive(Debug, Default, Args)]
pub(crate) struct WandbArgs {
    /// Run only this scenario (`log_versions` or its file name `s01_log_versions`); repeatable.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

/// One scenario script.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scenario {
    /// `log_versions` for `s01_log_versions.py`.
    name: String,
    script: PathBuf,
}

/// `cargo xtask wandb`: starts the S3 emulator when the references scenario needs it and no
/// endpoint is set, then runs the scenarios.
pub(crate) fn run(workspace: &Workspace, args: &WandbArgs) -> Result<()> {
    let scenarios = select(
        &discover(&workspace.root().join(SCENARIO_DIR))?,
        &args.scenarios,
    )?;
    if args.list {
        for scenario in &scenarios {
            println!(
                "{:<16} {}",
                scenario.name,
                workspace.relative(&scenario.script).display()
            );
        }
        return Ok(());
    }
    let needs_s3 = scenarios
        .iter()
        .any(|scenario| scenario.name == S3_SCENARIO);
    let mut env: Vec<EnvVar> = Vec::new();
    // Kept alive until the scenarios are done; dropping it stops what it started.
    let mut _emulators = None;
    match std::env::var(S3_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => env.push((S3_VAR, endpoint)),
        _ if needs_s3 => {
            let started = Emulators::start_for_tests(workspace)?;
            env.extend(started.env());
            _emulators = Some(started);
        }
        _ => {}
    }
    run_scenarios(workspace, &scenarios, &env)
}

/// The `wandb sdk` step of `cargo xtask test`: every scenario, with the suite's emulators.
pub(crate) fn run_with_env(workspace: &Workspace, env: &[EnvVar]) -> Result<()> {
    let scenarios = discover(&workspace.root().join(SCENARIO_DIR))?;
    run_scenarios(workspace, &scenarios, env)
}

/// The scripts `sNN_NAME.py` of `dir`, in file name order.
fn discover(dir: &Path) -> Result<Vec<Scenario>> {
    let mut scenarios = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        let Some(stem) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".py"))
        else {
            continue;
        };
        if let Some(name) = scenario_name(stem) {
            scenarios.push(Scenario {
                name: name.to_owned(),
                script: path.clone(),
            });
        }
    }
    scenarios.sort_by(|a, b| a.script.cmp(&b.script));
    ensure!(
        !scenarios.is_empty(),
        "no scenario scripts (`sNN_NAME.py`) in `{}`",
        dir.display()
    );
    Ok(scenarios)
}

/// `log_versions` for the stem `s01_log_versions`; `None` for other files (the harness).
fn scenario_name(stem: &str) -> Option<&str> {
    let rest = stem.strip_prefix('s')?;
    let (number, name) = rest.split_once('_')?;
    (number.len() == 2 && number.bytes().all(|byte| byte.is_ascii_digit()) && !name.is_empty())
        .then_some(name)
}

/// The scenarios `wanted` names (by name or file stem), in suite order; all when none is named.
fn select(all: &[Scenario], wanted: &[String]) -> Result<Vec<Scenario>> {
    if wanted.is_empty() {
        return Ok(all.to_vec());
    }
    for name in wanted {
        let known = all.iter().any(|scenario| matches(scenario, name));
        if !known {
            let names: Vec<&str> = all.iter().map(|scenario| scenario.name.as_str()).collect();
            bail!(
                "no W&B scenario `{name}`; the scenarios are: {}",
                names.join(", ")
            );
        }
    }
    Ok(all
        .iter()
        .filter(|scenario| wanted.iter().any(|name| matches(scenario, name)))
        .cloned()
        .collect())
}

fn matches(scenario: &Scenario, name: &str) -> bool {
    scenario.name == name
        || scenario
            .script
            .file_stem()
            .is_some_and(|stem| stem.to_str() == Some(name))
}

/// What [`seed`] created, for the scenarios' environment.
#[derive(Debug)]
struct Seeded {
    alice_key: String,
    bob_key: String,
    team: &'static str,
    private_project: &'static str,
    public_project: &'static str,
    open_project: &'static str,
}

/// How one scenario ended.
#[derive(Debug)]
struct Outcome {
    name: String,
    took: Duration,
    /// `None` when it passed; otherwise why it failed.
    failure: Option<String>,
    log: PathBuf,
}

/// Installs the SDK, starts and seeds the server, runs `scenarios` one by one, stops the server.
fn run_scenarios(workspace: &Workspace, scenarios: &[Scenario], env: &[EnvVar]) -> Result<()> {
    let start = Instant::now();
    let timeout = crate::test::seconds_from_env(TIMEOUT_VAR, SCENARIO_TIMEOUT)?;
    let bin = ensure_python_tool(&cache_dir()?, &SDK)?;
    let python = bin.join("python");
    let nextest = workspace.cargo(["nextest", "--version"]).probe();
    // Absolute: the scenarios run in their own directories (`CAIRN_E2E_BIN` may be relative).
    let cairn = e2e::cairn_binary(workspace, nextest)?;
    let cairn = std::path::absolute(&cairn)
        .with_context(|| format!("cannot make `{}` absolute", cairn.display()))?;
    let work = workspace.metadata()?.target_directory.join("wandb");
    if work.exists() {
        fs_err::remove_dir_all(&work)?;
    }
    fs_err::create_dir_all(work.join("logs"))?;
    // A clock the admin can move: `access` shows an expired key and `ttl` expired versions
    // without waiting.
    let server = Server::start_with(
        &cairn,
        &work.join("data"),
        &server::admin_key(),
        &["--test-clock"],
    )?;
    let seeded = seed(&server)?;
    println!(
        "wandb sdk: {} seeded at {} (set-up took {:.1}s); running {} scenario(s), {} s each at \
         most",
        server.url(),
        work.display(),
        start.elapsed().as_secs_f64(),
        scenarios.len(),
        timeout.as_secs()
    );

    // Everything but the script and its scratch directory, which `run_one` adds.
    let to_str = |path: &Path| path.to_string_lossy().into_owned();
    let mut base = Cmd::new(&python)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("CAIRN_WANDB_BASE_URL", &server.url())
        .env("CAIRN_WANDB_ADMIN_KEY", server.admin_key())
        .env("CAIRN_WANDB_ALICE_KEY", &seeded.alice_key)
        .env("CAIRN_WANDB_BOB_KEY", &seeded.bob_key)
        .env("CAIRN_WANDB_TEAM", seeded.team)
        .env("CAIRN_WANDB_PRIVATE_PROJECT", seeded.private_project)
        .env("CAIRN_WANDB_PUBLIC_PROJECT", seeded.public_project)
        .env("CAIRN_WANDB_OPEN_PROJECT", seeded.open_project)
        .env("CAIRN_WANDB_CAIRN_BIN", &to_str(&cairn));
    for (key, value) in env {
        base = base.env(key, value);
    }

    let mut outcomes = Vec::new();
    for scenario in scenarios {
        let outcome = run_one(&base, &work, scenario, timeout)?;
        match &outcome.failure {
            None => println!(
                "wandb sdk: {} passed in {:.1}s",
                outcome.name,
                outcome.took.as_secs_f64()
            ),
            Some(why) => println!(
                "wandb sdk: {} FAILED in {:.1}s ({why}); the tail of `{}`:\n{}",
                outcome.name,
                outcome.took.as_secs_f64(),
                outcome.log.display(),
                process::log_tail(&outcome.log, TAIL_LINES)
            ),
        }
        outcomes.push(outcome);
    }
    let log = server.log_path().to_path_buf();
    server.stop()?;

    println!("wandb sdk: summary");
    for outcome in &outcomes {
        let verdict = if outcome.failure.is_some() {
            "FAILED"
        } else {
            "passed"
        };
        println!(
            "  {:<16} {verdict:<6} {:>6.1}s",
            outcome.name,
            outcome.took.as_secs_f64()
        );
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|outcome| outcome.failure.is_some())
        .map(|outcome| outcome.name.as_str())
        .collect();
    println!(
        "wandb sdk: {} passed, {} failed in {:.1}s (logs in `{}`)",
        outcomes.len() - failed.len(),
        failed.len(),
        start.elapsed().as_secs_f64(),
        work.join("logs").display()
    );
    if !failed.is_empty() {
        bail!(
            "W&B SDK scenarios failed: {} (their logs are above); the warnings and errors of the \
             server's log `{}`:\n{}",
            failed.join(", "),
            log.display(),
            server::warnings_and_errors(&log, 30)
        );
    }
    Ok(())
}

/// Runs one scenario script (`base` is the Python with the suite's environment) in its own
/// process group and scratch directory.
fn run_one(base: &Cmd, work: &Path, scenario: &Scenario, timeout: Duration) -> Result<Outcome> {
    let scratch = work.join("scenarios").join(&scenario.name);
    fs_err::create_dir_all(&scratch)?;
    let log = work.join("logs").join(format!("{}.log", scenario.name));
    let cmd = base
        .clone()
        .arg(&scenario.script)
        .env("CAIRN_WANDB_WORK", &scratch.to_string_lossy());
    println!("==> wandb sdk: {}", scenario.name);
    let start = Instant::now();
    let mut child = process::spawn(&cmd, &scratch, &log)?;
    let deadline = start + timeout;
    let failure = loop {
        if let Some(status) = child.try_wait()? {
            break (!status.success()).then(|| status.to_string());
        }
        if Instant::now() >= deadline {
            process::stop_group(child.id())?;
            // Reap it; it is gone after `stop_group`.
            let _reaped = child.wait();
            break Some(format!(
                "did not finish within {} s and was killed with its process group",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    stop_leftovers(&scratch)?;
    Ok(Outcome {
        name: scenario.name.clone(),
        took: start.elapsed(),
        failure,
        log,
    })
}

/// Stops the SDK's service processes a scenario left behind. `wandb-core` runs in a session of
/// its own, so killing a scenario's process group misses it, and it outlives a killed parent;
/// it is found by its working directory, the scenario's scratch directory.
fn stop_leftovers(scratch: &Path) -> Result<()> {
    for pid in process::orphans(scratch, SDK_PROCESSES, &BTreeSet::new()) {
        println!("wandb sdk: stopping pid {pid}, an SDK process the scenario left running");
        process::stop_group(pid)?;
    }
    Ok(())
}

/// Seeds the server as its admin: users `alice` and `bob` with a key each; alice's team
/// `vision`; alice's projects `private-data`, `public-data` and `open-data` with those
/// visibilities.
fn seed(server: &Server) -> Result<Seeded> {
    let mut keys = Vec::new();
    for user in ["alice", "bob"] {
        keys.push(server::create_user(server, user)?);
    }
    let [alice_key, bob_key] = <[String; 2]>::try_from(keys)
        .map_err(|keys| anyhow::anyhow!("seeding: expected two keys, got {}", keys.len()))?;
    let seeded = Seeded {
        alice_key,
        bob_key,
        team: "vision",
        private_project: "alice/private-data",
        public_project: "alice/public-data",
        open_project: "alice/open-data",
    };
    server::json_request(
        server,
        &seeded.alice_key,
        "POST",
        "/api/v1/teams",
        json!({ "name": seeded.team }),
    )?;
    for (project, visibility) in [
        (seeded.private_project, "private"),
        (seeded.public_project, "public"),
        (seeded.open_project, "open"),
    ] {
        server::json_request(
            server,
            &seeded.alice_key,
            "PUT",
            &format!("/api/v1/projects/{project}"),
            json!({ "visibility": visibility }),
        )?;
    }
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_come_from_numbered_scripts() {
        assert_eq!(scenario_name("s01_log_versions"), Some("log_versions"));
        assert_eq!(scenario_name("s10_access"), Some("access"));
        assert_eq!(scenario_name("harness"), None);
        assert_eq!(scenario_name("s1_short"), None);
        assert_eq!(scenario_name("s01_"), None);
    }

    #[test]
    fn the_suite_has_every_scenario_and_selects_by_name_or_stem() {
        let workspace = Workspace::locate().unwrap();
        let all = discover(&workspace.root().join(SCENARIO_DIR)).unwrap();
        let names: Vec<&str> = all.iter().map(|scenario| scenario.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "log_versions",
                "use_download",
                "api_edit",
                "lineage",
                "incremental",
                S3_SCENARIO,
                "resume",
                "cli",
                "interop",
                "access",
                "collections",
                "lineage_graph",
                "distributed",
                "races",
                "links",
                "ttl",
                "delete"
            ]
        );
        let picked = select(&all, &["s03_api_edit".to_owned(), "cli".to_owned()]).unwrap();
        let picked: Vec<&str> = picked
            .iter()
            .map(|scenario| scenario.name.as_str())
            .collect();
        assert_eq!(picked, ["api_edit", "cli"]);
        let error = select(&all, &["nope".to_owned()]).unwrap_err().to_string();
        assert!(error.contains("log_versions, use_download"), "{error}");
    }
}
