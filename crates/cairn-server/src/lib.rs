//! Cairn's reference server: artifact versions, their manifests and blobs, runs and lineage,
//! users, teams and projects, over the HTTP API that `cairn-api` defines.
//!
//! # What it is
//!
//! [`app`] is an axum [`Router`](axum::Router) over an [`AppState`]; [`serve`] runs it on a
//! listener until a shutdown signal. `cairn server` (in `cairn-cli`) builds a [`ServerConfig`]
//! (flags, `CAIRN_*` variables), calls [`AppState::open`], prints the first start's admin key
//! from [`Bootstrap`] once, and serves.
//!
//! ```text
//! let config = ServerConfig::from_env()?;                 // ./cairn-data, 127.0.0.1:8080
//! let (state, bootstrap) = AppState::open(&config).await?;
//! if let Some(key) = &bootstrap.new_admin_api_key { /* print it once */ }
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! cairn_server::serve(listener, state, shutdown_signal()).await?;
//! ```
//!
//! # How it is built
//!
//! * **Front-ends over one domain.** Everything the server knows and decides (accounts, access,
//!   projects, versions, the logging protocol, blobs, runs, lineage) is `cairn_service::Service`,
//!   which has no HTTP in it and owns the SQLite databases. This crate is the native REST
//!   front-end: each handler in `handlers/` parses a request, calls one domain function with
//!   the caller and typed inputs, and turns the domain types into `cairn-api` wire types
//!   (`wire.rs`). It holds no SQL and does not depend on rusqlite (`cargo xtask tidy` checks).
//! * **Errors**: the domain's `Error` maps to RFC 9457 `problem+json` with a stable
//!   [`cairn_api::ErrorCode`] in exactly one place (`error.rs`); 5xx bodies carry no internals,
//!   which a middleware logs with `tracing` instead.
//! * **Access** is decided by the domain once per request (a blob download looks the version
//!   up once, then streams); what a caller may not read answers `not_found`. See `docs/api.md`
//!   for the rules and every route.
//! * **Bodies stream**: manifests, blobs and receipts go to and from the domain as byte
//!   streams, never whole in memory.
//!
//! # Connections
//!
//! [`serve`] runs its own accept loop on hyper instead of `axum::serve`, which has no timeouts:
//! idle sockets and headers sent a byte at a time would otherwise hold descriptors forever,
//! until the process runs out and even `/healthz` goes unanswered. Three limits, all in
//! [`ServerConfig`] (`cairn server --header-timeout`, `--body-timeout`, `--max-connections`):
//!
//! * [`ServerConfig::header_read_timeout`] (30 s): a connection must deliver a request's
//!   headers within it, counted from when it opened or its last response went out; this closes
//!   idle connections, idle keep-alives and slowloris headers.
//! * [`ServerConfig::body_timeout`] (60 s): a request body that delivers no bytes for this long
//!   fails the request (an upload stores nothing), and so does a response the client stops
//!   reading. Slow but moving transfers are never cut off, however long they take.
//! * [`ServerConfig::max_connections`] (1024, lowered to 64 below the soft `ulimit -n`, never
//!   below 8): at the cap, a new connection makes room by closing the connection idle the
//!   longest (no request in flight); if every connection is busy, the new one gets a `503`
//!   `problem+json` (`storage_unavailable`, `Retry-After: 1`) and is closed.
//!
//! Running out of descriptors while accepting (`EMFILE`) is logged, an idle connection is
//! closed to free one, and accepting resumes after 100 ms.
//!
//! # What it is not
//!
//! Not the domain (that is `cairn-service`) and not a client: it depends on neither
//! `cairn-client` nor `cairn-cache`. It never prints; it reports through return values and
//! `tracing`.

#![warn(missing_docs)]

mod auth;
mod config;
mod error;
mod extract;
mod handlers;
mod listen;
mod openapi;
mod router;
mod state;
mod ui;
mod wandb;
mod wire;

use std::future::Future;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

pub use crate::config::{
    BlobStoreConfig, DEFAULT_BODY_TIMEOUT, DEFAULT_DATA_DIR, DEFAULT_GC_GRACE,
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_SWEEP_INTERVAL,
    ENV_ADMIN_API_KEY, ENV_BLOB_STORE, ENV_BODY_TIMEOUT, ENV_DATA_DIR, ENV_GC_GRACE,
    ENV_GC_INTERVAL, ENV_HEADER_TIMEOUT, ENV_LISTEN, ENV_MAX_CONNECTIONS, ENV_SWEEP_INTERVAL,
    ServerConfig, parse_listen,
};
pub use crate::error::{Error, Result};
pub use crate::state::AppState;
pub use cairn_service::{ADMIN_USERNAME, Bootstrap};

/// The HTTP application: every route of [`cairn_api::routes`] over `state`.
pub fn app(state: AppState) -> axum::Router {
    router::router(state).layer(axum::middleware::from_fn(log_failures))
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then closes idle connections,
/// lets requests in flight finish and folds the databases' write-ahead logs into their files.
/// Every change is a committed SQLite transaction, so even a killed server leaves consistent
/// databases.
///
/// Connections are HTTP/1.1 under the limits of the [`ServerConfig`] the state was opened with
/// (see "Connections" in the crate documentation). Accept errors, descriptors running out
/// included, are logged and survived, so this returns only after `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "cairn server listening");
    }
    let limits = state.connection_limits();
    let sweeper = state.service().spawn_sweeper(state.sweep_interval());
    let collector = state
        .gc_interval()
        .map(|interval| state.service().spawn_collector(interval));
    listen::run(listener, app(state.clone()), limits, shutdown).await;
    sweeper.abort();
    if let Some(collector) = collector {
        // Stopping mid-collection is safe: the next start finishes what it left.
        collector.abort();
    }
    if let Err(error) = state.service().checkpoint().await {
        tracing::warn!(?error, "could not checkpoint the databases on shutdown");
    }
    tracing::info!("cairn server stopped");
    Ok(())
}

/// Logs every failed request; 5xx answers with the detail their body leaves out.
async fn log_failures(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    match response.extensions_mut().remove::<error::FailureDetail>() {
        Some(error::FailureDetail(detail)) => {
            tracing::error!(%method, path, status, detail, "request failed");
        }
        None if status >= 400 => tracing::debug!(%method, path, status, "request refused"),
        None => tracing::trace!(%method, path, status, "request served"),
    }
    response
}
