//! The `cairn` command line. This is the only crate in the workspace that prints.
//!
//! `main.rs` only parses arguments and calls [`run`]; every command lives in its own module under
//! `commands/`, and [`report`] renders an error chain once, as `error:` plus `caused by:` lines,
//! and maps it to an exit code scripts can rely on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (also when stdout is closed early, e.g. piped into `head`) |
//! | 1 | the command failed; the message says why |
//! | 2 | the command line was wrong (from `clap`) |

#![expect(clippy::print_stderr, reason = "the CLI reports errors on stderr")]

mod commands;

use std::io;
use std::process::ExitCode;

pub use commands::{Cli, run};

/// Prints `error` and its causes to stderr and picks the exit code.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let broken_pipe = error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    ExitCode::FAILURE
}
