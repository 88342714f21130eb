//! The harness the scenarios share: the `cairn` binary under test, a server child process, users
//! running CLI commands in isolated homes, and helpers for trees of files and the server's data
//! directory.
//!
//! Everything is hermetic: each scenario has its own temporary directories, its own server on a
//! free loopback port and its own config, cache and `HOME` per user, and the child processes get a
//! cleared environment, so a developer's own `CAIRN_*` settings never leak in.

mod artifact;
mod cli;
mod emulators;
mod server;
mod store;
mod tree;

use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail, ensure};
use tempfile::TempDir;

pub(crate) use artifact::{get, parse_put, put, put_command};
pub(crate) use cli::{Cairn, User, utf8};
pub(crate) use emulators::{create_s3_bucket, s3_endpoint, s3_env};
pub(crate) use server::{Server, free_port};
pub(crate) use store::{check_blob_files, check_committed_blobs, check_live_blobs_rehashed};
pub(crate) use tree::{assert_same_tree, random_bytes, write_file, write_random_files};

/// The environment variable naming the `cairn` binary under test.
const BIN_ENV: &str = "CAIRN_E2E_BIN";

/// The `cairn` binary under test, from `CAIRN_E2E_BIN`.
pub(crate) fn cairn_bin() -> Result<PathBuf> {
    let Some(path) = std::env::var_os(BIN_ENV) else {
        bail!(
            "{BIN_ENV} is not set; run the end-to-end tests with `cargo xtask e2e`, which builds \
             `cairn` and points {BIN_ENV} at it"
        );
    };
    let path = PathBuf::from(path);
    ensure!(
        path.is_file(),
        "{BIN_ENV}=`{}` is not a file; build it with `cargo build -p cairn-cli` or run `cargo xtask e2e`",
        path.display()
    );
    Ok(path)
}

/// A fresh temporary directory whose name says which part of the harness made it.
pub(crate) fn temp_dir(purpose: &str) -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("cairn-e2e-{purpose}-"))
        .tempdir()
        .with_context(|| format!("cannot create a temporary directory for {purpose}"))
}

/// A number no other call in this process returns, unpredictable across processes.
pub(crate) fn unique_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    RandomState::new().hash_one(count)
}

/// The common start of a scenario: a server on a fresh data directory, its admin, and `alice`, a
/// user who logged in and owns the entity the scenario's artifacts go to.
#[derive(Debug)]
pub(crate) struct World {
    /// The server (declared first so it stops before its data directory is removed).
    pub(crate) server: Server,
    /// The server administrator (the key given in `CAIRN_ADMIN_API_KEY`).
    pub(crate) admin: User,
    /// An ordinary user, created by the admin with `cairn user create`.
    pub(crate) alice: User,
    /// Scratch space for the scenario's input trees and download roots.
    pub(crate) scratch: TempDir,
    /// The server's data directory.
    data: TempDir,
}

impl World {
    /// Starts a server and creates `alice`.
    pub(crate) fn new() -> Result<Self> {
        Self::with_server(Server::start)
    }

    /// Like [`Self::new`], with a server whose clock the admin can move (`--test-clock`).
    pub(crate) fn with_test_clock() -> Result<Self> {
        Self::with_server(Server::start_with_test_clock)
    }

    /// Like [`Self::new`], with the server's blobs in the object store at `url`, reached with
    /// `env` (see [`s3_env`]).
    pub(crate) fn with_blob_store(url: &str, env: Vec<(String, String)>) -> Result<Self> {
        Self::with_server(|data_dir| Server::start_with_blob_store(data_dir, url, env))
    }

    /// Like [`Self::new`], with the server started by `start` on the data directory.
    pub(crate) fn with_server(
        start: impl FnOnce(&std::path::Path) -> Result<Server>,
    ) -> Result<Self> {
        let data = temp_dir("data")?;
        let server = start(data.path())?;
        let admin = User::admin(&server)?;
        let alice = User::create(&server, &admin, "alice")?;
        Ok(Self {
            server,
            admin,
            alice,
            scratch: temp_dir("scratch")?,
            data,
        })
    }

    /// A path inside the scratch directory.
    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.scratch.path().join(relative)
    }

    /// The server's data directory.
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }
}
