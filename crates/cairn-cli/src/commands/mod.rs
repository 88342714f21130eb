//! Command-line definitions and dispatch.

mod manifest;
mod ops;

use clap::{Parser, Subcommand};

/// Cairn: version datasets and models, compatible with W&B Artifacts.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build an artifact manifest offline, exactly as the W&B SDK would, and print it.
    Manifest(manifest::ManifestArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Manifest(args) => manifest::run(&args),
    }
}
