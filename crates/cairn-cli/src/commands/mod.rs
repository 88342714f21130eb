//! Command-line definitions and dispatch.

mod cache;
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
    /// Manage the local cache: statistics, cleanup, import and checkout.
    #[command(subcommand)]
    Cache(cache::CacheCommand),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Manifest(args) => manifest::run(&args),
        Command::Cache(command) => cache::run(command),
    }
}
