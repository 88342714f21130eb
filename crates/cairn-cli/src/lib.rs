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
//! | 2 | the command line was wrong |
//! | 3 | not found: no such artifact, alias, version, project or user |
//! | 4 | not signed in, or not allowed |
//! | 5 | data integrity: a digest or size mismatch, an invalid manifest |
//! | 6 | conflict with the server's state (a name taken, a type clash) |
//! | 7 | the server is unreachable or unavailable; retrying later may work |

#![expect(clippy::print_stderr, reason = "the CLI reports errors on stderr")]

mod commands;
mod progress;

use std::io;
use std::process::ExitCode;

pub use commands::{Cli, UsageError, run};

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
    ExitCode::from(exit_code(error))
}

/// The exit code for an error (see the table above).
fn exit_code(error: &anyhow::Error) -> u8 {
    use cairn_api::ErrorCode;
    for cause in error.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return 2;
        }
        if let Some(client) = cause.downcast_ref::<cairn_client::Error>() {
            if client.is_unreachable() {
                return 7;
            }
            return match client.code() {
                Some(ErrorCode::NotFound) => 3,
                Some(ErrorCode::Unauthenticated | ErrorCode::PermissionDenied) => 4,
                Some(
                    ErrorCode::DigestMismatch
                    | ErrorCode::SizeMismatch
                    | ErrorCode::InvalidManifest
                    | ErrorCode::MissingBlobs,
                ) => 5,
                Some(ErrorCode::Conflict | ErrorCode::AlreadyExists | ErrorCode::NotPending) => 6,
                Some(ErrorCode::StorageUnavailable) => 7,
                _ => 1,
            };
        }
    }
    1
}
