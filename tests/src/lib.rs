//! Harness of the end-to-end tests: a real Cairn server started in-process on a loopback port,
//! clients pointed at it (each with its own cache directory), and small helpers for fixtures.
//!
//! Every test is hermetic: the server's data directory, the cache and the working files live
//! in temporary directories that are removed when the test ends; nothing reads the user's
//! configuration, cache or credentials.
//!
//! The `e2e` test target (`tests/e2e/`) does not use this harness: it drives the real `cairn`
//! binary (server and CLI as child processes) and has its own, in `tests/e2e/harness.rs`. Run it
//! with `cargo xtask e2e`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use cairn_api::{CreateUser, CreatedApiKey, UpsertProject, Visibility, routes};
use cairn_cache::{Cache, CacheOptions};
use cairn_client::{Client, Phase, Progress, Settings};
use cairn_server::{AppState, ServerConfig};
use tokio::sync::oneshot;

/// A server running in this process, stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The `admin` user's API key.
    pub admin_key: String,
    data_dir: tempfile::TempDir,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts a server on a fresh data directory and a free loopback port.
    pub async fn start() -> Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let (state, bootstrap) = AppState::open(&ServerConfig::new(data_dir.path())).await?;
        let admin_key = bootstrap
            .new_admin_api_key
            .context("a new server mints an admin key")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (shutdown, stopped) = oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            let _ = cairn_server::serve(listener, served, async {
                let _ = stopped.await;
            })
            .await;
        });
        Ok(Self {
            base_url,
            admin_key,
            data_dir,
            state,
            shutdown: Some(shutdown),
        })
    }

    /// The server's data directory (databases and blobs).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The server's counters, read in-process.
    pub fn stats(&self) -> cairn_api::ServerStats {
        self.state.stats()
    }

    /// A client with `api_key` whose cache is the directory `cache_dir`.
    pub fn client(&self, api_key: &str, cache_dir: &Path) -> Result<Client> {
        let cache = Cache::open(CacheOptions::new(cache_dir))?;
        Ok(
            Client::new(Settings::new(&self.base_url, Some(api_key.to_owned())))?
                .with_cache(Arc::new(cache)),
        )
    }

    /// Creates a user and returns its API key.
    pub async fn create_user(&self, username: &str) -> Result<String> {
        let request = CreateUser {
            username: username.to_owned(),
            admin: false,
        };
        let created: CreatedApiKey = self
            .request_json(
                &self.admin_key,
                reqwest::Method::POST,
                routes::USERS,
                &request,
            )
            .await?;
        Ok(created.api_key)
    }

    /// Creates (or changes) a project of the admin with `visibility`.
    pub async fn create_project(
        &self,
        entity: &str,
        project: &str,
        visibility: Visibility,
    ) -> Result<()> {
        let request = UpsertProject {
            visibility: Some(visibility),
        };
        let _: serde_json::Value = self
            .request_json(
                &self.admin_key,
                reqwest::Method::PUT,
                &routes::project(entity, project),
                &request,
            )
            .await?;
        Ok(())
    }

    /// One raw JSON request with `api_key`, outside the client library (to set up state or
    /// to drive the protocol by hand); a non-success status is an error.
    pub async fn request_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        api_key: &str,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(api_key)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body)?)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        anyhow::ensure!(
            status.is_success(),
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        Ok(serde_json::from_slice(&bytes)?)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// One raw request with a byte body (a manifest, a blob); a non-success status is an error.
pub async fn put_bytes(
    server: &TestServer,
    api_key: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<()> {
    let response = reqwest::Client::new()
        .put(format!("{}{path}", server.base_url))
        .bearer_auth(api_key)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "{path} answered {status}: {}",
        response.text().await.unwrap_or_default()
    );
    Ok(())
}

/// A test's private directories: `work/` for input files, `cache/` for the client cache,
/// `out/` for downloads.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Fresh, empty directories.
    pub fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        for name in ["work", "cache", "out"] {
            fs_err::create_dir_all(dir.path().join(name))?;
        }
        Ok(Self { dir })
    }

    /// `work/<relative>`.
    pub fn work(&self, relative: &str) -> PathBuf {
        self.dir.path().join("work").join(relative)
    }

    /// The cache directory.
    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// `out/<relative>`.
    pub fn out(&self, relative: &str) -> PathBuf {
        self.dir.path().join("out").join(relative)
    }

    /// Writes `contents` at `work/<relative>`, creating directories.
    pub fn write(&self, relative: &str, contents: &[u8]) -> Result<PathBuf> {
        let path = self.work(relative);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, contents)?;
        Ok(path)
    }
}

/// A [`Progress`] that records every event, to check what a transfer reported.
#[derive(Debug, Default)]
pub struct RecordingProgress {
    events: std::sync::Mutex<Vec<(Phase, &'static str, u64, u64)>>,
}

impl RecordingProgress {
    /// `(items, bytes)` announced by `start` of `phase`, the sum of its `advance` calls, and
    /// whether it finished.
    pub fn summary(&self, phase: Phase) -> (Option<(u64, u64)>, (u64, u64), bool) {
        let events = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = events.iter().filter(|event| event.0 == phase);
        let mut started = None;
        let mut advanced = (0, 0);
        let mut finished = false;
        for (_, kind, items, bytes) in mine {
            match *kind {
                "start" => started = Some((*items, *bytes)),
                "advance" => advanced = (advanced.0 + items, advanced.1 + bytes),
                _ => finished = true,
            }
        }
        (started, advanced, finished)
    }

    fn push(&self, phase: Phase, kind: &'static str, items: u64, bytes: u64) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((phase, kind, items, bytes));
    }
}

impl Progress for RecordingProgress {
    fn start(&self, phase: Phase, total_items: u64, total_bytes: u64) {
        self.push(phase, "start", total_items, total_bytes);
    }

    fn advance(&self, phase: Phase, items: u64, bytes: u64) {
        self.push(phase, "advance", items, bytes);
    }

    fn finish(&self, phase: Phase) {
        self.push(phase, "finish", 0, 0);
    }
}

/// `size` bytes of deterministic, incompressible-looking content seeded by `seed`.
pub fn pseudo_random(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut bytes = Vec::with_capacity(size);
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// Every file under `root` as (relative path, content), sorted.
pub fn tree(root: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)?
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((relative, fs_err::read(&path)?));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// What a [`slow_proxy`] does with the bytes a client sends.
#[derive(Debug, Clone, Copy)]
pub enum Upstream {
    /// Forwards at most `bytes` every `every`: a slow link that keeps moving.
    Rate {
        /// Bytes per step.
        bytes: usize,
        /// Time per step.
        every: std::time::Duration,
    },
    /// Forwards the first `bytes` of each connection, then nothing more: a stalled link.
    StallAfter {
        /// Bytes forwarded before the stall.
        bytes: u64,
    },
    /// Closes the first connection that carries more than `bytes` from the client, at that
    /// point; every other connection passes untouched: a link that breaks once.
    CutOnceAfter {
        /// Bytes forwarded before the cut.
        bytes: u64,
    },
}

/// A loopback proxy in front of `base_url` that slows or stalls what clients send, and passes
/// answers through as they come. Returns the proxy's base URL; it runs until the test ends.
pub async fn slow_proxy(base_url: &str, upstream: Upstream) -> Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let target = base_url
        .strip_prefix("http://")
        .context("the proxy forwards plain http only")?
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let cut = Arc::clone(&cut);
            let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                return;
            };
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = server.into_split();
            let back = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
            });
            tokio::spawn(async move {
                let mut buffer = vec![0_u8; 64 * 1024];
                let mut forwarded = 0_u64;
                loop {
                    let limit = match upstream {
                        Upstream::Rate { bytes, .. } => bytes.min(buffer.len()),
                        Upstream::StallAfter { bytes } => {
                            let left = bytes.saturating_sub(forwarded);
                            if left == 0 {
                                // Hold the connection open and read nothing more.
                                std::future::pending::<()>().await;
                            }
                            usize::try_from(left)
                                .unwrap_or(usize::MAX)
                                .min(buffer.len())
                        }
                        Upstream::CutOnceAfter { bytes } => {
                            let left = bytes.saturating_sub(forwarded);
                            if left == 0 && !cut.swap(true, std::sync::atomic::Ordering::SeqCst) {
                                // Both halves of both sockets go: the connection closes.
                                back.abort();
                                return;
                            }
                            match usize::try_from(left) {
                                Ok(left) if left > 0 => left.min(buffer.len()),
                                _ => buffer.len(),
                            }
                        }
                    };
                    let read = match from_client.read(&mut buffer[..limit]).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => read,
                    };
                    if to_server.write_all(&buffer[..read]).await.is_err() {
                        return;
                    }
                    forwarded += read as u64;
                    if let Upstream::Rate { every, .. } = upstream {
                        tokio::time::sleep(every).await;
                    }
                }
            });
        }
    });
    Ok(format!("http://{address}"))
}
