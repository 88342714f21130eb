//! Command-line definitions and dispatch.

mod artifact;
mod cache;
mod key;
mod login;
mod manifest;
mod ops;
mod server;
mod user;

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
    /// Run the reference server (SQLite and blobs under ./cairn-data, on 127.0.0.1:8080).
    Server(server::ServerArgs),
    /// Check an API key against a server and save it for later commands.
    Login(login::LoginArgs),
    /// Log, download and list artifacts.
    #[command(subcommand)]
    Artifact(artifact::ArtifactCommand),
    /// Users and API keys.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Your API keys: create (with a name and expiry), list, revoke.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Teams and their members.
    #[command(subcommand)]
    Team(user::TeamCommand),
    /// Project settings.
    #[command(subcommand)]
    Project(user::ProjectCommand),
    /// Build an artifact manifest offline, exactly as the W&B SDK would, and print it.
    Manifest(manifest::ManifestArgs),
    /// Manage the local cache: statistics, cleanup, import and checkout.
    #[command(subcommand)]
    Cache(cache::CacheCommand),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Server(args) => server::run(args),
        Command::Login(args) => login::run(args),
        Command::Artifact(command) => artifact::run(command),
        Command::User(command) => user::run_user(command),
        Command::Key(command) => key::run(command),
        Command::Team(command) => user::run_team(command),
        Command::Project(command) => user::run_project(command),
        Command::Manifest(args) => manifest::run(&args),
        Command::Cache(command) => cache::run(command),
    }
}

/// The runtime network commands run on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| anyhow::anyhow!("cannot start the async runtime: {error}"))
}

/// A command line that parsed but makes no sense (exit code 2, like clap's own errors).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

impl UsageError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<cairn_api::ParseArtifactPathError> for UsageError {
    fn from(error: cairn_api::ParseArtifactPathError) -> Self {
        Self(error.to_string())
    }
}
