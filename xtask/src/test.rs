//! `cargo xtask test` and `cargo xtask ci`: ordered lists of steps, run until the first failure.
//!
//! Each step is either an in-process check (tidy) or a command line. Adding a step, such as the
//! end-to-end suite against the storage emulators, is one line in [`test_steps`] or
//! [`ci_steps`]. Steps stop at the first failure, because later steps (tests) are rarely
//! meaningful once an earlier one (formatting, clippy, a broken dependency edge) has failed.
//!
//! The `emulators` step starts the object-store emulators (see [`crate::emulators`]); every
//! command step after it gets their endpoints in its environment, and they are stopped when the
//! suite ends, whether it passed or failed.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::api_fuzz;
use crate::cmd::Cmd;
use crate::e2e;
use crate::emulators::Emulators;
use crate::tidy;
use crate::ui;
use crate::wandb;
use crate::workspace::Workspace;

/// An environment variable for a step's commands (the emulators' endpoints).
pub(crate) type EnvVar = (&'static str, String);

/// One step of a suite.
#[derive(Debug)]
pub(crate) struct Step {
    name: &'static str,
    action: Action,
}

#[derive(Debug)]
enum Action {
    /// A check that runs inside xtask.
    InProcess(fn(&Workspace) -> Result<()>),
    /// Work done inside xtask that runs commands of its own, which get the emulators' endpoints
    /// (an empty list before the emulators start).
    InProcessWithEnv(fn(&Workspace, &[EnvVar]) -> Result<()>),
    /// A command line, printed before it runs.
    Command(Cmd),
    /// Install and start the emulators; later commands get their endpoints.
    StartEmulators,
}

impl Step {
    fn in_process(name: &'static str, check: fn(&Workspace) -> Result<()>) -> Self {
        Self {
            name,
            action: Action::InProcess(check),
        }
    }

    fn command(name: &'static str, cmd: Cmd) -> Self {
        Self {
            name,
            action: Action::Command(cmd),
        }
    }

    fn start_emulators() -> Self {
        Self {
            name: "emulators",
            action: Action::StartEmulators,
        }
    }
}

/// The full test suite, as the README and CI run it.
pub(crate) fn test_steps(workspace: &Workspace) -> Vec<Step> {
    // The test runs go last, so a test runner's summary ("N tests run: N passed") closes the
    // output: the main run, then the end-to-end scenarios, which need what it built.
    vec![
        Step::in_process("tidy", tidy::run),
        // Before every step that runs tests: the storage tests need the emulators.
        Step::start_emulators(),
        Step::command(
            "doc tests",
            workspace.cargo_locked(["test", "--workspace", "--doc", "--all-features"]),
        ),
        // Builds what the main run builds (the `cairn` binary is part of it), so the test runs
        // that follow find it built.
        Step::in_process("api fuzz", api_fuzz::run),
        // The official W&B SDK against the same binary; its S3 references use the emulators.
        Step {
            name: "wandb sdk",
            action: Action::InProcessWithEnv(wandb::run_with_env),
        },
        // The web UI of the same binary, in headless chromium.
        Step::in_process("ui", ui::run_in_suite),
        tests_step(workspace),
        Step {
            name: "e2e",
            action: Action::InProcessWithEnv(e2e::run_with_env),
        },
    ]
}

/// Exactly what CI gates: static checks first, then the whole test suite.
pub(crate) fn ci_steps(workspace: &Workspace) -> Vec<Step> {
    let mut steps = vec![
        Step::command("format", workspace.cargo(["fmt", "--all", "--check"])),
        Step::command(
            "clippy",
            workspace
                .cargo_locked(["clippy", "--workspace", "--all-targets", "--all-features"])
                .args(["--", "-D", "warnings"]),
        ),
        Step::command(
            "rustdoc",
            workspace
                .cargo_locked(["doc", "--no-deps", "--workspace"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        ),
    ];
    steps.extend(test_steps(workspace));
    steps
}

/// Runs `steps` in order and stops at the first failure, naming the step that failed. Emulators
/// started by a step are stopped on return, also when a step failed.
pub(crate) fn run_steps(workspace: &Workspace, steps: &[Step]) -> Result<()> {
    let mut emulators: Option<Emulators> = None;
    let total = steps.len();
    let suite_start = Instant::now();
    for (index, step) in steps.iter().enumerate() {
        println!("==> [{}/{total}] {}", index + 1, step.name);
        let start = Instant::now();
        let result = match &step.action {
            Action::InProcess(check) => check(workspace),
            Action::InProcessWithEnv(work) => {
                let env = emulators.as_ref().map(Emulators::env).unwrap_or_default();
                work(workspace, &env)
            }
            Action::Command(cmd) => match &emulators {
                Some(emulators) => emulators
                    .env()
                    .iter()
                    .fold(cmd.clone(), |cmd, (key, value)| cmd.env(key, value))
                    .run(),
                None => cmd.run(),
            },
            Action::StartEmulators => {
                Emulators::start_for_tests(workspace).map(|started| emulators = Some(started))
            }
        };
        if let Err(error) = result {
            eprintln!("==> step `{}` failed ({}/{total})", step.name, index + 1);
            return Err(error).with_context(|| format!("step `{}` failed", step.name));
        }
        println!(
            "==> {} passed in {:.1}s",
            step.name,
            start.elapsed().as_secs_f64()
        );
    }
    // Stop the emulators before the last line, so the suite's summary still closes the output.
    drop(emulators);
    println!(
        "==> all {total} steps passed in {:.1}s",
        suite_start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo nextest run` when cargo-nextest is installed, `cargo test` otherwise.
fn tests_step(workspace: &Workspace) -> Step {
    let nextest_available = workspace.cargo(["nextest", "--version"]).probe();
    if nextest_available {
        return Step::command(
            "tests (nextest)",
            workspace.cargo_locked([
                "nextest",
                "run",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--no-fail-fast",
            ]),
        );
    }
    println!(
        "note: cargo-nextest is not installed, so the tests run under `cargo test` instead \
         (install it with `cargo install cargo-nextest --locked`)"
    );
    Step::command(
        "tests (cargo test)",
        workspace.cargo_locked([
            "test",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--no-fail-fast",
        ]),
    )
}

/// Whole seconds from the environment variable `var` (an override of a step's timeout), else
/// `default`.
pub(crate) fn seconds_from_env(var: &str, default: Duration) -> Result<Duration> {
    match std::env::var(var) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .map(Duration::from_secs)
            .with_context(|| format!("{var}={text:?} is not a number of seconds")),
        _ => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(steps: &[Step]) -> Vec<&'static str> {
        steps.iter().map(|step| step.name).collect()
    }

    #[test]
    fn ci_runs_the_static_checks_then_the_whole_test_suite() {
        let workspace = Workspace::locate().unwrap();
        let test = names(&test_steps(&workspace));
        let ci = names(&ci_steps(&workspace));
        assert_eq!(&ci[..3], ["format", "clippy", "rustdoc"]);
        assert_eq!(&ci[3..], &test[..]);
        assert_eq!(test[0], "tidy");
        assert_eq!(test.last(), Some(&"e2e"));
        assert!(test[test.len() - 2].starts_with("tests"));
        // The fuzzer's, the SDK scenarios' and the UI tests' reports come before the test
        // runners', whose summary closes the output.
        assert_eq!(test[test.len() - 3], "ui");
        assert_eq!(test[test.len() - 4], "wandb sdk");
        assert_eq!(test[test.len() - 5], "api fuzz");
    }
}
