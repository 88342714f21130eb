//! `cairn server`: the reference server on its embedded defaults (SQLite and a blob directory
//! under `./cairn-data`, listening on `127.0.0.1:8080`), or on an object store when asked, with
//! its connection limits (header and body timeouts, a connection cap) and garbage collection
//! adjustable; and the operator's subcommands against a running server (`cairn server gc`, `cairn server sweep`).
//!
//! Plain `cairn server [FLAGS]` serves. A subcommand is one variant of [`ServerCommand`] and
//! one module beside this one, so a sibling of `gc` is a variant and a file.

mod gc;
mod sweep;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use cairn_server::{AppState, BlobStoreConfig, ServerConfig};
use clap::{Args, Subcommand};

use crate::commands::runtime;

/// `cairn server [FLAGS]` serves; `cairn server SUBCOMMAND` runs an operator's command.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    #[command(subcommand)]
    command: Option<ServerCommand>,
    #[command(flatten)]
    serve: ServeArgs,
}

/// The operator's subcommands of `cairn server`, run against a running server with the saved
/// login (or `CAIRN_BASE_URL` and `CAIRN_API_KEY`) of a server admin.
#[derive(Debug, Subcommand)]
pub(crate) enum ServerCommand {
    /// Run one garbage collection now: remove blobs no live version references (after the
    /// server's grace period) and report what was freed, why, and the storage per entity and
    /// project. With `--dry-run`, only report.
    Gc(gc::GcArgs),
    /// Soft-delete every version whose TTL has run out, now (the server also does it every
    /// `--sweep-interval`), and report what was deleted and which expired versions were kept
    /// (protected aliases, model registry links).
    Sweep(sweep::SweepArgs),
}

/// Runs `cairn server`: serves, or runs the subcommand.
pub(crate) fn run(args: ServerArgs) -> anyhow::Result<()> {
    match args.command {
        None => serve(args.serve),
        Some(ServerCommand::Gc(gc)) => gc::run(&gc),
        Some(ServerCommand::Sweep(sweep)) => sweep::run(&sweep),
    }
}

/// The flags of `cairn server` when it serves.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where metadata (SQLite) and, with the local blob store, blobs are kept.
    #[arg(long, env = cairn_server::ENV_DATA_DIR, default_value = cairn_server::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// The address and port to listen on.
    #[arg(long, env = cairn_server::ENV_LISTEN, default_value = cairn_server::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Keep blobs in an object store instead of `DATA_DIR/blobs`: `s3://bucket[/prefix]`,
    /// `gs://bucket[/prefix]` or `az://container[/prefix]`, with credentials from the cloud's usual
    /// environment variables.
    #[arg(long, env = cairn_server::ENV_BLOB_STORE)]
    blob_store: Option<String>,
    /// Close a connection that takes longer than this to send a request's headers, counted
    /// from when it opened or its last response went out (so idle connections close too).
    #[arg(
        long,
        env = cairn_server::ENV_HEADER_TIMEOUT,
        value_name = "SECS",
        default_value_t = cairn_server::DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    header_timeout: u64,
    /// Fail a request whose body sends no bytes for this long (an upload cut off stores
    /// nothing), and drop a client that reads nothing of its response for this long. Slow
    /// transfers that keep moving are never cut off.
    #[arg(
        long,
        env = cairn_server::ENV_BODY_TIMEOUT,
        value_name = "SECS",
        default_value_t = cairn_server::DEFAULT_BODY_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    body_timeout: u64,
    /// The most connections served at once [default: 1024, and at most 64 below `ulimit -n`].
    /// At the cap a new connection closes the one idle the longest; if all are busy it gets
    /// `503`.
    #[arg(
        long,
        env = cairn_server::ENV_MAX_CONNECTIONS,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    max_connections: Option<u64>,
    /// Soft-delete versions whose TTL has run out this often.
    #[arg(
        long,
        env = cairn_server::ENV_SWEEP_INTERVAL,
        value_name = "SECS",
        default_value_t = cairn_server::DEFAULT_SWEEP_INTERVAL.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    sweep_interval: u64,
    /// Let the server admin move the clock forward (`POST /api/v1/server/clock`), so tests can
    /// make TTLs and keys expire without waiting. Never in production.
    #[arg(long, hide = true)]
    test_clock: bool,
    /// Collect garbage every SECS seconds: remove blobs that no live version references once
    /// they have been unreferenced for the grace period. Off unless set (`cairn server gc`
    /// collects on demand).
    #[arg(
        long,
        env = cairn_server::ENV_GC_INTERVAL,
        value_name = "SECS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    gc_interval: Option<u64>,
    /// How long a blob must have been unreferenced (its last version deleted) before a
    /// collection removes it.
    #[arg(
        long,
        env = cairn_server::ENV_GC_GRACE,
        value_name = "SECS",
        default_value_t = cairn_server::DEFAULT_GC_GRACE.as_secs()
    )]
    gc_grace: u64,
}

/// Runs the server until SIGINT or SIGTERM.
#[expect(
    clippy::print_stdout,
    reason = "the server announces its address and first key"
)]
fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let mut config = ServerConfig::new(args.data_dir.clone())
        .with_listen(args.listen)
        .with_header_read_timeout(Duration::from_secs(args.header_timeout))
        .with_body_timeout(Duration::from_secs(args.body_timeout))
        .with_sweep_interval(Duration::from_secs(args.sweep_interval))
        .with_gc_grace(Duration::from_secs(args.gc_grace));
    if let Some(seconds) = args.gc_interval {
        config = config.with_gc_interval(Duration::from_secs(seconds));
    }
    if args.test_clock {
        config = config.with_test_clock();
    }
    if let Some(max) = args.max_connections {
        config = config.with_max_connections(usize::try_from(max).unwrap_or(usize::MAX));
    }
    if let Some(store) = args.blob_store {
        config = config.with_blob_store(BlobStoreConfig::parse(&store));
    }
    if let Some(key) = std::env::var(cairn_server::ENV_ADMIN_API_KEY)
        .ok()
        .filter(|key| !key.is_empty())
    {
        config = config.with_admin_api_key(key);
    }
    runtime()?.block_on(async move {
        let (state, bootstrap) = AppState::open(&config).await.with_context(|| {
            format!("cannot open the server's data in `{}`", args.data_dir.display())
        })?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on `{}`; is another server running there? Pick another with --listen or CAIRN_LISTEN",
                    args.listen
                )
            })?;
        let address = listener.local_addr().context("cannot read the listening address")?;
        if let Some(key) = &bootstrap.new_admin_api_key {
            println!(
                "created user `{}`; admin API key (shown once): {key}",
                bootstrap.admin_username
            );
            println!("log in with: cairn login --base-url http://{address} --api-key {key}");
        }
        println!("listening on http://{address}");
        cairn_server::serve(listener, state, shutdown_signal())
            .await
            .context("the server stopped with an error")
    })
}

/// Logs go to stderr; `CAIRN_LOG` picks the level (`error`, `warn`, `info` (default), `debug`,
/// `trace`).
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(super::log_level(tracing::Level::INFO))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
