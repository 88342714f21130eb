//! `cargo xtask e2e`: the end-to-end scenarios of the `cairn-tests` crate (`tests/e2e/`) against
//! the real `cairn` binary, as the last step of `cargo xtask test`.
//!
//! The scenarios start `cairn server` and run the CLI as child processes, so they need the
//! binary; they find it through `CAIRN_E2E_BIN` and are `#[ignore]`d without it, which keeps a
//! plain `cargo test` honest (it reports them as ignored rather than passing them vacuously).
//!
//! The binary is built by the same command that builds the tests, with the same flags as the main
//! test step (`--workspace --all-targets --all-features`): a different package selection or
//! feature set would make cargo resolve features differently and rebuild half the dependency
//! graph. `cairn-cli` has integration tests, so `cargo test`'s build always links
//! `<target>/debug/cairn`. Setting `CAIRN_E2E_BIN` yourself skips that build and tests the binary
//! you name instead (a release build, or an installed `cairn`).

use std::path::PathBuf;

use anyhow::{Result, ensure};

use crate::cmd::Cmd;
use crate::test::EnvVar;
use crate::workspace::Workspace;

/// The variable the scenarios read the binary's path from.
const BIN_ENV: &str = "CAIRN_E2E_BIN";

/// The nextest filter that selects the scenarios' test binary.
const NEXTEST_FILTER: &str = "binary_id(cairn-tests::e2e)";

/// Builds `cairn` (unless `CAIRN_E2E_BIN` names one) and runs the e2e scenarios against it.
pub(crate) fn run(workspace: &Workspace) -> Result<()> {
    run_with_env(workspace, &[])
}

/// [`run`], with `env` (the emulators' endpoints, under `cargo xtask test`) passed to the
/// scenarios: the S3 blob-store scenario needs moto and skips without it unless told it is
/// required.
pub(crate) fn run_with_env(workspace: &Workspace, env: &[EnvVar]) -> Result<()> {
    let nextest = workspace.cargo(["nextest", "--version"]).probe();
    let binary = cairn_binary(workspace, nextest)?;
    let binary = binary.to_string_lossy().into_owned();
    env.iter()
        .fold(test_command(workspace, nextest), |cmd, (key, value)| {
            cmd.env(key, value)
        })
        .env(BIN_ENV, &binary)
        .run()
}

/// The `cairn` binary to test: `CAIRN_E2E_BIN` if set, else `<target>/debug/cairn`, built
/// first by the main test step's build (`nextest` says which runner's), so the step that builds
/// it first leaves nothing for the others to build. `crate::api_fuzz` tests the same binary.
pub(crate) fn cairn_binary(workspace: &Workspace, nextest: bool) -> Result<PathBuf> {
    let binary = match std::env::var_os(BIN_ENV) {
        Some(binary) => {
            let binary = PathBuf::from(binary);
            println!(
                "testing {BIN_ENV}={} (not building cairn)",
                binary.display()
            );
            binary
        }
        None => {
            let binary = workspace
                .metadata()?
                .target_directory
                .join("debug")
                .join(format!("cairn{}", std::env::consts::EXE_SUFFIX));
            build_command(workspace, nextest).run()?;
            binary
        }
    };
    ensure!(
        binary.is_file(),
        "`{}` does not exist; build it with `cargo build -p cairn-cli`, or set {BIN_ENV} to a \
         `cairn` binary",
        binary.display()
    );
    Ok(binary)
}

/// Builds everything the main test step builds, which includes `<target>/debug/cairn`.
fn build_command(workspace: &Workspace, nextest: bool) -> Cmd {
    let runner = if nextest {
        ["nextest", "run"].as_slice()
    } else {
        ["test"].as_slice()
    };
    workspace.cargo_locked(runner.iter().copied()).args([
        "--workspace",
        "--all-targets",
        "--all-features",
        "--no-run",
    ])
}

/// Runs only the (ignored) scenarios of the e2e test binary.
fn test_command(workspace: &Workspace, nextest: bool) -> Cmd {
    if nextest {
        return workspace
            .cargo_locked(["nextest", "run"])
            .args([
                "--workspace",
                "--all-targets",
                "--all-features",
                "--no-fail-fast",
            ])
            .args(["--run-ignored", "only", "-E", NEXTEST_FILTER]);
    }
    // Not `--all-targets` here: combined with `--test e2e` it would select every target, and
    // `--ignored` would then run every crate's ignored tests.
    workspace
        .cargo_locked(["test", "--workspace", "--all-features"])
        .args(["--no-fail-fast", "--test", "e2e", "--", "--ignored"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_run_with_the_flags_of_the_main_test_step() {
        let workspace = Workspace::locate().unwrap();
        let nextest = test_command(&workspace, true).to_string();
        assert!(
            nextest.contains("--all-targets --all-features"),
            "{nextest}"
        );
        assert!(
            nextest.ends_with("--run-ignored only -E 'binary_id(cairn-tests::e2e)'"),
            "{nextest}"
        );
        let plain = test_command(&workspace, false).to_string();
        assert!(plain.ends_with("--test e2e -- --ignored"), "{plain}");
        assert!(!plain.contains("-- --ignored --locked"), "{plain}");
    }
}
