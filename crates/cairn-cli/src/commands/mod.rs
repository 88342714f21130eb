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
    if !matches!(cli.command, Command::Server(_)) {
        init_client_logging();
    }
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

/// The level `CAIRN_LOG` asks for (`error`, `warn`, `info`, `debug`, `trace`), else `default`.
fn log_level(default: tracing::Level) -> tracing::Level {
    std::env::var("CAIRN_LOG")
        .ok()
        .and_then(|level| level.parse::<tracing::Level>().ok())
        .unwrap_or(default)
}

/// A client command's log lines go to stderr, warnings and worse by default: what the client
/// library says while a command still succeeds (a large file it could not stage and uploaded
/// the usual way). `CAIRN_LOG=debug` shows more (retries, for one).
fn init_client_logging() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(log_level(tracing::Level::WARN))
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
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

/// A duration as users write it: `90` (seconds), `90s`, `15m`, `12h`, `30d`, `2w` or `1y`
/// (365 days).
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let unit_seconds: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => {
            return Err(format!(
                "`{text}` is not a duration: write a number with s, m, h, d, w or y (`30d`)"
            ));
        }
    };
    let amount: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: it needs a number (`30d`)"))?;
    if amount == 0 {
        return Err(format!("`{text}`: a TTL must be longer than zero"));
    }
    amount
        .checked_mul(unit_seconds)
        .ok_or_else(|| format!("`{text}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("12h"), Ok(43_200));
        assert_eq!(parse_duration("30d"), Ok(2_592_000));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert_eq!(parse_duration(" 1y "), Ok(31_536_000));
        for bad in [
            "",
            "d",
            "0d",
            "-3d",
            "3q",
            "1.5h",
            "3 days",
            "99999999999999999999d",
            "999999999999999999y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
