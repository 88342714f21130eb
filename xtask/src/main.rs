//! Cairn's automation, run as `cargo xtask <command>`: the single entry point for the test suite,
//! the CI gate, the tidy checks and the benchmarks. There are no shell scripts.
//!
//! * `cargo xtask test`: the full test suite (tidy, nextest or `cargo test`, doc tests). The
//!   README and `.ci/run` call this.
//! * `cargo xtask ci`: exactly what CI gates: fmt, clippy, rustdoc, then everything `test` does.
//! * `cargo xtask tidy`: in-process checks of the tree (dependency edges, `//!` headers, lints,
//!   file sizes, machine paths).
//! * `cargo xtask e2e`: the end-to-end scenarios (`tests/e2e/`) against the real `cairn` binary,
//!   built first; also the last step of `test`.
//! * `cargo xtask api-fuzz`: schemathesis fuzzes a seeded `cairn server` from its OpenAPI
//!   document, anonymously and signed in; also a step of `test`.
//! * `cargo xtask wandb [--scenario NAME]`: the official W&B SDK (pinned) runs the scenarios of
//!   `tests/wandb/` against a seeded `cairn server`; also a step of `test`.
//! * `cargo xtask ui [--test NAME]`: headless chromium (through WebDriver and Selenium, pinned)
//!   drives the web UI of a seeded `cairn server` through the tests of `tests/ui/`, saving a
//!   screenshot of each screen in `target/ui-screenshots/`; also a step of `test`.
//! * `cargo xtask emulators start|stop|status|env`: the object-store emulators the storage tests
//!   run against (`test` starts and stops them by itself).
//! * `cargo xtask bench hash`: hashing throughput of `cairn manifest` against `md5sum` and,
//!   with `--vs-wandb`, against the official W&B SDK.
//! * `cargo xtask bench cache`: cache checkouts by link mode against `cp -r`, and re-hashing an
//!   unchanged tree with the stat cache against the first hash.
//! * `cargo xtask bench transfer`: `cairn artifact put` and `get` against a release `cairn server`
//!   on loopback, against md5sum + curl and `cp -r`, with peak memory of both sides.
//!
//! xtask depends on no product crate and on as few external crates as possible (`anyhow`, `clap`,
//! `fs-err`, `serde_json`), because all of them compile before any command can run.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is a developer tool whose whole job is to report to the terminal"
)]

mod api_fuzz;
mod bench;
mod cmd;
mod e2e;
mod emulators;
mod test;
mod tidy;
mod ui;
mod wandb;
mod workspace;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::cmd::CommandFailed;
use crate::workspace::Workspace;

/// Cairn's automation: tests, the CI gate, tidy checks and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the full test suite: tidy, doc tests, API fuzzing, the W&B SDK scenarios, the web UI
    /// in a browser, `cargo nextest run` (or `cargo test`), e2e.
    Test,
    /// Run exactly what CI gates: fmt, clippy, rustdoc, then everything `test` runs.
    Ci,
    /// Build `cairn` and run the end-to-end scenarios against it (`tests/e2e/`).
    E2e,
    /// Build `cairn`, seed a server and fuzz it from its OpenAPI document with schemathesis.
    ApiFuzz,
    /// Run the official W&B SDK's scenarios (`tests/wandb/`) against a seeded `cairn server`.
    Wandb(wandb::WandbArgs),
    /// Drive the web UI of a seeded `cairn server` in headless chromium (`tests/ui/`).
    Ui(ui::UiArgs),
    /// Check the tree: dependency edges, `//!` headers, lints settings, file sizes, machine paths.
    Tidy,
    /// Install, start, stop or show the object-store emulators (moto, fake-gcs-server, Azurite).
    Emulators(emulators::EmulatorsArgs),
    /// Run a benchmark (not a test: it never fails on a slow result).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            let code = error
                .downcast_ref::<CommandFailed>()
                .and_then(|failed| failed.code)
                .and_then(|code| u8::try_from(code).ok())
                .filter(|&code| code != 0)
                .unwrap_or(1);
            ExitCode::from(code)
        }
    }
}

fn run(command: Command) -> Result<()> {
    let workspace = Workspace::locate()?;
    match command {
        Command::Test => test::run_steps(&workspace, &test::test_steps(&workspace)),
        Command::Ci => test::run_steps(&workspace, &test::ci_steps(&workspace)),
        Command::E2e => e2e::run(&workspace),
        Command::ApiFuzz => api_fuzz::run(&workspace),
        Command::Wandb(args) => wandb::run(&workspace, &args),
        Command::Ui(args) => ui::run(&workspace, &args),
        Command::Tidy => tidy::run(&workspace),
        Command::Emulators(args) => emulators::run(&workspace, &args),
        Command::Bench(args) => bench::run(&workspace, args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
