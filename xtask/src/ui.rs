//! `cargo xtask ui`, also the `ui` step of `cargo xtask test`: the web UI (`cairn server`'s
//! pages) driven through a real browser, Debian's `chromium` in headless mode through WebDriver
//! (`chromedriver`), from the Python tests of `tests/ui/` and the pinned [`SELENIUM`].
//!
//! * The browser comes from Debian (`apt-get install -y chromium chromium-driver`, run when
//!   [`CHROMIUM`] or [`CHROMEDRIVER`] is missing; CI runs as root). Selenium goes into a venv of
//!   its own in the emulators' cache (`crate::emulators::ensure_python_tool`), once per pin, and
//!   is handed both paths, so Selenium Manager never looks for a browser on the network
//!   (`SE_OFFLINE=true` makes sure of it).
//! * The server is the `cairn` binary the end-to-end scenarios test ([`e2e::cairn_binary`]), on
//!   a free loopback port with `--test-clock` and a fresh data directory in `<target>/ui/`,
//!   which is kept after the run with the server's log (`data.log`), the seeding's and the
//!   tests' logs (`logs/`), the tests' results (`results.json`), and a screenshot and the HTML of
//!   each failed test (`failures/`).
//! * Accounts are seeded here, through the native API ([`seed_accounts`]): `alice` (who owns
//!   everything), `bob` (an outsider), `carol` (a member, not an admin, of alice's team) and
//!   `dave` (whom the tests add to the team); the team; alice's projects with each visibility
//!   and one whose visibility a test changes; a private project of the team. The artifacts are
//!   seeded by `tests/ui/seed.py` with the `cairn` CLI and the native API: the keys and names go
//!   to both scripts in `CAIRN_UI_*` variables (`tests/ui/harness.py` reads them).
//! * `tests/ui/run.py` runs every test function of `tests/ui/t*.py` with a fresh browser, each
//!   under a hard timeout ([`TEST_TIMEOUT`], `CAIRN_UI_TEST_TIMEOUT`), and saves a screenshot of
//!   each screen it visits in `<target>/ui-screenshots/NAME.png`. The whole run is killed with
//!   its process group (browser included) after [`RUN_TIMEOUT`] (`CAIRN_UI_TIMEOUT`). All tests
//!   run even when one fails; the step fails if any did, and prints the server's warnings and
//!   errors.

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use serde_json::{Value, json};

use crate::bench::server::{self, Server};
use crate::cmd::Cmd;
use crate::e2e;
use crate::emulators::{PythonTool, cache_dir, ensure_python_tool, process};
use crate::workspace::Workspace;

/// The WebDriver client, pinned. (4.52 needs a `certifi` newer than PyPI's mirror here has.)
const SELENIUM: PythonTool = PythonTool {
    label: "ui tests",
    name: "ui-selenium",
    packages: &["selenium==4.51.0"],
};

/// Debian's browser and its WebDriver, and the packages that install them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const APT_PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

/// How long `apt-get` may take for one command.
const APT_TIMEOUT: Duration = Duration::from_secs(600);

/// How long seeding the artifacts may take.
const SEED_TIMEOUT: Duration = Duration::from_secs(180);

/// How long one test may run (the runner enforces it), unless `CAIRN_UI_TEST_TIMEOUT` says
/// otherwise.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
const TEST_TIMEOUT_VAR: &str = "CAIRN_UI_TEST_TIMEOUT";

/// How long the whole test run may take before it is killed with its process group, unless
/// `CAIRN_UI_TIMEOUT` says otherwise.
const RUN_TIMEOUT: Duration = Duration::from_secs(270);
const RUN_TIMEOUT_VAR: &str = "CAIRN_UI_TIMEOUT";

/// Where the tests live, relative to the workspace root.
const TEST_DIR: &str = "tests/ui";

/// Words of the command lines of the browser's processes (`/usr/lib/chromium/...` for all of
/// Chromium's), to stop any the run left behind.
const BROWSER_PROCESSES: &[&str] = &["chromedriver", "chromium"];

/// Arguments of `cargo xtask ui`.
#[derive(Debug, Default, Args)]
pub(crate) struct UiArgs {
    /// Run only the tests whose name contains this (`sign_in`, `t03_version`); repeatable.
    #[arg(long = "test", value_name = "NAME")]
    tests: Vec<String>,
    /// List the tests and exit.
    #[arg(long)]
    list: bool,
}

/// The team, its members other than alice (with their roles) and the projects, with their
/// visibility.
const TEAM: &str = "vision";
const TEAM_MEMBERS: [(&str, &str); 1] = [("carol", "member")];
const PROJECTS: [(&str, &str, &str); 6] = [
    ("CAIRN_UI_PRIVATE_PROJECT", "alice/private-data", "private"),
    ("CAIRN_UI_PUBLIC_PROJECT", "alice/public-data", "public"),
    ("CAIRN_UI_OPEN_PROJECT", "alice/open-data", "open"),
    ("CAIRN_UI_FLIP_PROJECT", "alice/flip", "private"),
    ("CAIRN_UI_TEAM_PROJECT", "vision/models", "private"),
    (
        "CAIRN_UI_REGISTRY_PROJECT",
        "vision/model-registry",
        "private",
    ),
];
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// `cargo xtask ui`.
pub(crate) fn run(workspace: &Workspace, args: &UiArgs) -> Result<()> {
    let python = ensure_python_tool(&cache_dir()?, &SELENIUM)?.join("python");
    let tests = workspace.root().join(TEST_DIR);
    if args.list {
        return Cmd::new(&python)
            .arg(tests.join("run.py"))
            .arg("--list")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .run();
    }
    run_tests(workspace, &python, &tests, &args.tests)
}

/// The `ui` step of `cargo xtask test`: every test.
pub(crate) fn run_in_suite(workspace: &Workspace) -> Result<()> {
    run(workspace, &UiArgs::default())
}

/// Installs what is missing, starts and seeds the server, runs the tests, stops the server.
fn run_tests(
    workspace: &Workspace,
    python: &Path,
    tests: &Path,
    selected: &[String],
) -> Result<()> {
    let start = Instant::now();
    let test_timeout = crate::test::seconds_from_env(TEST_TIMEOUT_VAR, TEST_TIMEOUT)?;
    let run_timeout = crate::test::seconds_from_env(RUN_TIMEOUT_VAR, RUN_TIMEOUT)?;
    ensure_browser()?;
    let nextest = workspace.cargo(["nextest", "--version"]).probe();
    // Absolute: the scripts run in the work directory (`CAIRN_E2E_BIN` may be relative).
    let cairn = e2e::cairn_binary(workspace, nextest)?;
    let cairn = std::path::absolute(&cairn)
        .with_context(|| format!("cannot make `{}` absolute", cairn.display()))?;
    let target = workspace.metadata()?.target_directory;
    let work = target.join("ui");
    let screenshots = target.join("ui-screenshots");
    for dir in [&work, &screenshots] {
        if dir.exists() {
            fs_err::remove_dir_all(dir)?;
        }
    }
    fs_err::create_dir_all(work.join("logs"))?;
    fs_err::create_dir_all(&screenshots)?;
    // A clock the admin can move, for TTLs.
    let server = Server::start_with(
        &cairn,
        &work.join("data"),
        &server::admin_key(),
        &["--test-clock"],
    )?;
    let keys = seed_accounts(&server)?;

    let to_str = |path: &Path| path.to_string_lossy().into_owned();
    let mut base = Cmd::new(python)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("SE_OFFLINE", "true")
        .env("CAIRN_UI_BASE_URL", &server.url())
        .env("CAIRN_UI_ADMIN_KEY", server.admin_key())
        .env("CAIRN_UI_TEAM", TEAM)
        .env("CAIRN_UI_CAIRN_BIN", &to_str(&cairn))
        .env("CAIRN_UI_WORK", &to_str(&work))
        .env("CAIRN_UI_SCREENSHOTS", &to_str(&screenshots))
        .env("CAIRN_UI_CHROMIUM", CHROMIUM)
        .env("CAIRN_UI_CHROMEDRIVER", CHROMEDRIVER)
        .env(TEST_TIMEOUT_VAR, &test_timeout.as_secs().to_string());
    for (user, key) in &keys {
        base = base.env(&format!("CAIRN_UI_{}_KEY", user.to_uppercase()), key);
    }
    for (var, project, _) in PROJECTS {
        base = base.env(var, project);
    }

    let seed_log = work.join("logs").join("seed.log");
    let seed_start = Instant::now();
    let seeding = base.clone().arg(tests.join("seed.py"));
    let mut child = process::spawn(&seeding, &work, &seed_log)?;
    if let Some(why) = wait_or_kill(&mut child, SEED_TIMEOUT)?.failure() {
        bail!(
            "seeding the artifacts failed ({why}); the tail of `{}`:\n{}",
            seed_log.display(),
            process::log_tail(&seed_log, 40)
        );
    }
    println!(
        "ui: {} seeded at {} (set-up took {:.1}s, the artifacts {:.1}s); tests get {} s each, \
         {} s in all",
        server.url(),
        work.display(),
        start.elapsed().as_secs_f64(),
        seed_start.elapsed().as_secs_f64(),
        test_timeout.as_secs(),
        run_timeout.as_secs()
    );

    let runner = selected
        .iter()
        .fold(base.arg(tests.join("run.py")), |cmd, name| {
            cmd.args(["--test", name])
        });
    // Output goes through (the runner also writes `logs/run.log`); its own process group, so
    // a timeout stops the browser with it.
    let mut command = runner.to_command();
    command
        .current_dir(&work)
        .stdin(Stdio::null())
        .process_group(0);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start `{runner}`"))?;
    let ended = wait_or_kill(&mut child, run_timeout)?;
    // Whatever of the browser outlived the runner: what stayed in its process group, and
    // Chromium's crash handler, which starts a session of its own (in the work directory).
    process::stop_group(child.id())?;
    for pid in process::orphans(&work, BROWSER_PROCESSES, &BTreeSet::new()) {
        println!("ui: stopping pid {pid}, a browser process the tests left running");
        process::stop_group(pid)?;
    }
    let log = server.log_path().to_path_buf();
    server.stop()?;

    let results = work.join("results.json");
    let failed = failed_tests(&results, &ended)?;
    println!(
        "ui: done in {:.1}s; screenshots in `{}`, logs in `{}`",
        start.elapsed().as_secs_f64(),
        screenshots.display(),
        work.join("logs").display()
    );
    if !failed.is_empty() {
        bail!(
            "UI tests failed: {} (their failures are above; screenshots and HTML in `{}`); the \
             warnings and errors of the server's log `{}`:\n{}",
            failed.join(", "),
            work.join("failures").display(),
            log.display(),
            server::warnings_and_errors(&log, 30)
        );
    }
    Ok(())
}

/// How a child process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ended {
    /// It exited 0.
    Success,
    /// It exited otherwise (the status, in words).
    Failed(String),
    /// It outlived its time and was killed with its process group.
    Killed(Duration),
}

impl Ended {
    /// Why it did not succeed, in words; `None` when it did.
    fn failure(&self) -> Option<String> {
        match self {
            Self::Success => None,
            Self::Failed(status) => Some(format!("exited with {status}")),
            Self::Killed(timeout) => Some(format!(
                "did not finish within {} s and was killed with its process group",
                timeout.as_secs()
            )),
        }
    }
}

/// Waits for `child` (the leader of its own process group) at most `timeout`, then kills it
/// with its group.
fn wait_or_kill(child: &mut Child, timeout: Duration) -> Result<Ended> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(if status.success() {
                Ended::Success
            } else {
                Ended::Failed(status.to_string())
            });
        }
        if Instant::now() >= deadline {
            process::stop_group(child.id())?;
            // Reap it; it is gone after `stop_group`.
            let _reaped = child.wait();
            return Ok(Ended::Killed(timeout));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The names of the tests `results` (the runner's `results.json`, rewritten after each test)
/// says failed, and the runner itself when it was killed, or failed without naming a test.
fn failed_tests(results: &Path, ended: &Ended) -> Result<Vec<String>> {
    let parsed: Option<Value> = fs_err::read_to_string(results)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let Some(parsed) = parsed else {
        bail!(
            "the UI test run wrote no results (`{}`){}",
            results.display(),
            ended
                .failure()
                .map_or_else(String::new, |why| format!("; it {why}"))
        );
    };
    let tests = parsed["tests"].as_array().cloned().unwrap_or_default();
    let mut failed: Vec<String> = tests
        .iter()
        .filter(|test| test["passed"] != Value::Bool(true))
        .map(|test| test["name"].as_str().unwrap_or("?").to_owned())
        .collect();
    println!(
        "ui: {} passed, {} failed",
        tests.len() - failed.len(),
        failed.len()
    );
    if tests.is_empty() {
        failed.push("(no test ran)".to_owned());
    }
    let unexplained = failed.is_empty() && *ended != Ended::Success;
    if (unexplained || matches!(ended, Ended::Killed(_)))
        && let Some(why) = ended.failure()
    {
        failed.push(format!("(the runner {why})"));
    }
    Ok(failed)
}

/// Installs Debian's `chromium` and `chromium-driver` when either program is missing.
fn ensure_browser() -> Result<()> {
    let missing = || {
        [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).is_file())
            .collect::<Vec<_>>()
    };
    let absent = missing();
    if absent.is_empty() {
        return Ok(());
    }
    println!(
        "ui: `{}` missing; installing {} with apt-get",
        absent.join("`, `"),
        APT_PACKAGES.join(" ")
    );
    let install = Cmd::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y"])
        .args(APT_PACKAGES);
    if install.run_with_timeout(APT_TIMEOUT).is_err() {
        // A machine whose package lists are missing or stale: refresh them once and retry.
        Cmd::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .arg("update")
            .run_with_timeout(APT_TIMEOUT)?;
        install.run_with_timeout(APT_TIMEOUT)?;
    }
    let absent = missing();
    ensure!(
        absent.is_empty(),
        "`{}` still missing after `apt-get install -y {}`; the UI tests need Debian's chromium \
         and its WebDriver",
        absent.join("`, `"),
        APT_PACKAGES.join(" ")
    );
    Ok(())
}

/// Seeds the server as its admin: the users of [`USERS`] with a key each; alice's team with
/// [`TEAM_MEMBERS`]; the [`PROJECTS`] with their visibility. Answers each user's key.
fn seed_accounts(server: &Server) -> Result<Vec<(&'static str, String)>> {
    let mut keys = Vec::new();
    for user in USERS {
        keys.push((user, server::create_user(server, user)?));
    }
    let alice = keys
        .iter()
        .find(|(user, _)| *user == "alice")
        .map(|(_, key)| key.clone())
        .context("seeding: no key for alice")?;
    server::json_request(
        server,
        &alice,
        "POST",
        "/api/v1/teams",
        json!({ "name": TEAM }),
    )?;
    for (member, role) in TEAM_MEMBERS {
        server::json_request(
            server,
            &alice,
            "PUT",
            &format!("/api/v1/teams/{TEAM}/members/{member}"),
            json!({ "role": role }),
        )?;
    }
    for (_, project, visibility) in PROJECTS {
        server::json_request(
            server,
            &alice,
            "PUT",
            &format!("/api/v1/projects/{project}"),
            json!({ "visibility": visibility }),
        )?;
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_exist() {
        let workspace = Workspace::locate().unwrap();
        for name in ["harness.py", "seed.py", "run.py"] {
            let file = workspace.root().join(TEST_DIR).join(name);
            assert!(file.is_file(), "`{}` is missing", file.display());
        }
    }

    #[test]
    fn a_run_without_results_or_with_a_failure_fails() {
        let dir = std::env::temp_dir().join(format!("cairn-xtask-ui-{}", std::process::id()));
        fs_err::create_dir_all(&dir).unwrap();
        let results = dir.join("results.json");
        let failed = Ended::Failed("exit status: 1".to_owned());
        let killed = Ended::Killed(Duration::from_secs(9));
        assert!(failed_tests(&results, &Ended::Success).is_err());
        fs_err::write(
            &results,
            r#"{"tests": [{"name": "a", "passed": true}, {"name": "b", "passed": false}]}"#,
        )
        .unwrap();
        assert_eq!(failed_tests(&results, &failed).unwrap(), ["b"]);
        let with_kill = failed_tests(&results, &killed).unwrap();
        assert_eq!(with_kill[0], "b");
        assert!(with_kill[1].contains("within 9 s"), "{with_kill:?}");
        fs_err::write(&results, r#"{"tests": [{"name": "a", "passed": true}]}"#).unwrap();
        assert!(failed_tests(&results, &Ended::Success).unwrap().is_empty());
        assert_eq!(
            failed_tests(&results, &failed).unwrap(),
            ["(the runner exited with exit status: 1)"]
        );
        fs_err::write(&results, r#"{"tests": []}"#).unwrap();
        assert_eq!(
            failed_tests(&results, &Ended::Success).unwrap(),
            ["(no test ran)"]
        );
        fs_err::remove_dir_all(&dir).unwrap();
    }
}
