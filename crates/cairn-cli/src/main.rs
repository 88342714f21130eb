//! The `cairn` binary: parses the command line, runs the command, and turns errors into words
//! and exit codes.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cairn_cli::Cli::parse();
    match cairn_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cairn_cli::report(&error),
    }
}
