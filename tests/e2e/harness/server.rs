//! `cairn server` as a child process on a free loopback port: started on a data directory
//! (optionally under a low open-file limit, through `sh -c 'ulimit -n N; exec ...'`), waited
//! for through `GET /healthz`, killed (SIGKILL) on drop, restartable on the same data.
//!
//! The server's stdout and stderr go to files (never pipes, which could fill up and stall it);
//! every error about the server quotes its stderr, so a failing start explains itself.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_api::{ServerStats, routes};
use reqwest::blocking::Client;
use tempfile::TempDir;

use crate::harness::{cairn_bin, temp_dir, unique_u64};

/// How long a server may take to answer `/healthz` after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a server may take to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A running (or killed) `cairn server`.
#[derive(Debug)]
pub(crate) struct Server {
    child: Option<Child>,
    address: SocketAddr,
    data_dir: PathBuf,
    admin_key: String,
    /// Extra arguments of `cairn server` (`--blob-store URL`) and extra environment (the blob
    /// store's credentials), kept for restarts.
    extra_args: Vec<String>,
    extra_env: Vec<(String, String)>,
    /// The soft open-file limit (`ulimit -n`) to start the server under, if not inherited.
    open_files: Option<u32>,
    /// Where each start's stdout and stderr go (`server-N.stdout`, `server-N.stderr`).
    logs: TempDir,
    starts: u32,
    http: Client,
}

/// A loopback port nothing listens on right now (the OS picks it; the listener is closed again).
pub(crate) fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("cannot bind a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// Starts a server on `data_dir` with a generated admin key and waits until it is ready.
    pub(crate) fn start(data_dir: &Path) -> Result<Self> {
        Self::start_with(data_dir, Vec::new(), Vec::new())
    }

    /// Like [`Self::start`], with blobs in the object store at `url` (`--blob-store`), whose
    /// credentials and endpoint come from `env`.
    pub(crate) fn start_with_blob_store(
        data_dir: &Path,
        url: &str,
        env: Vec<(String, String)>,
    ) -> Result<Self> {
        Self::start_with(
            data_dir,
            vec!["--blob-store".to_owned(), url.to_owned()],
            env,
        )
    }

    /// Like [`Self::start`], with a clock the admin can move forward (`--test-clock`).
    pub(crate) fn start_with_test_clock(data_dir: &Path) -> Result<Self> {
        Self::start_with(data_dir, vec!["--test-clock".to_owned()], Vec::new())
    }

    /// Moves the clock of a server started with [`Self::start_with_test_clock`] forward.
    pub(crate) fn advance_clock(&self, seconds: u64) -> Result<()> {
        let url = format!("{}{}", self.url(), routes::SERVER_CLOCK);
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.admin_key)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "seconds": seconds }).to_string())
            .send()
            .with_context(|| format!("`POST {url}` failed; server stderr:\n{}", self.stderr()))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().unwrap_or_default();
            bail!("`POST {url}` answered {status}: {text}");
        }
        Ok(())
    }

    /// Like [`Self::start`], with `args` added to `cairn server`'s and `env` to its
    /// environment (both kept for restarts).
    pub(crate) fn start_with_args(
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self> {
        Self::start_with(
            data_dir,
            args.iter().map(|arg| (*arg).to_owned()).collect(),
            env.iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    /// Like [`Self::start`], under an open-file limit of `open_files` (set by `sh`'s `ulimit
    /// -n` before it execs `cairn`, so the server's process holds it) and with `args` added to
    /// `cairn server`'s.
    pub(crate) fn start_with_open_file_limit(
        data_dir: &Path,
        open_files: u32,
        args: &[&str],
    ) -> Result<Self> {
        Self::start_inner(
            data_dir,
            args.iter().map(|arg| (*arg).to_owned()).collect(),
            Vec::new(),
            Some(open_files),
        )
    }

    fn start_with(
        data_dir: &Path,
        extra_args: Vec<String>,
        extra_env: Vec<(String, String)>,
    ) -> Result<Self> {
        Self::start_inner(data_dir, extra_args, extra_env, None)
    }

    fn start_inner(
        data_dir: &Path,
        extra_args: Vec<String>,
        extra_env: Vec<(String, String)>,
        open_files: Option<u32>,
    ) -> Result<Self> {
        let admin_key = format!(
            "{}{:016x}{:016x}{:016x}",
            cairn_api::API_KEY_PREFIX,
            unique_u64(),
            unique_u64(),
            unique_u64()
        );
        let mut server = Self {
            child: None,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_path_buf(),
            admin_key,
            extra_args,
            extra_env,
            open_files,
            logs: temp_dir("server-logs")?,
            starts: 0,
            // No pooled connections: the server closes idle ones (header timeout, eviction at
            // its connection cap), and a request sent on one it just closed would fail.
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(0)
                .build()
                .context("cannot build the harness's HTTP client")?,
        };
        server.spawn(SocketAddr::from(([127, 0, 0, 1], free_port()?)))?;
        Ok(server)
    }

    /// The loopback address of the current start.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT` of the current start.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The admin API key the server was started with.
    pub(crate) fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// Counters since the current start (`GET /api/v1/server/stats` with the admin key).
    pub(crate) fn stats(&self) -> Result<ServerStats> {
        let body = self.get_json(routes::SERVER_STATS, Some(&self.admin_key))?;
        serde_json::from_value(body).context("`GET /api/v1/server/stats` is not `ServerStats`")
    }

    /// `GET path` with an optional bearer key; the JSON body of a 2xx answer.
    pub(crate) fn get_json(&self, path: &str, api_key: Option<&str>) -> Result<serde_json::Value> {
        let url = format!("{}{path}", self.url());
        let mut request = self.http.get(&url);
        if let Some(key) = api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .with_context(|| format!("`GET {url}` failed; server stderr:\n{}", self.stderr()))?;
        let status = response.status();
        let text = response
            .text()
            .with_context(|| format!("cannot read the body of `GET {url}`"))?;
        if !status.is_success() {
            bail!("`GET {url}` answered {status}: {text}");
        }
        serde_json::from_str(&text)
            .with_context(|| format!("`GET {url}` answered non-JSON: {text}"))
    }

    /// Kills the server with SIGKILL (no chance to clean up) and waits for it.
    pub(crate) fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("cannot kill `cairn server`")?;
            child.wait().context("cannot wait for `cairn server`")?;
        }
        Ok(())
    }

    /// Starts the server again on the same data directory, admin key and address, killing the
    /// running one first if there is one: as an operator restarts a crashed server. (The same
    /// address matters: `cairn login` saves a key per base URL.)
    pub(crate) fn restart(&mut self) -> Result<()> {
        self.kill()?;
        self.spawn(self.address)
    }

    /// Sends SIGTERM and waits for the exit status (a clean shutdown exits 0).
    pub(crate) fn terminate(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("the server is not running");
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .context("cannot run `kill -TERM`")?;
        if !status.success() {
            bail!("`kill -TERM {}` failed: {status}", child.id());
        }
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                child.kill()?;
                child.wait()?;
                bail!(
                    "`cairn server` did not exit within {SHUTDOWN_TIMEOUT:?} of SIGTERM; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the current start printed on stdout so far.
    pub(crate) fn stdout(&self) -> String {
        self.log("stdout")
    }

    /// What the current start printed on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.log("stderr")
    }

    fn log(&self, stream: &str) -> String {
        let path = self
            .logs
            .path()
            .join(format!("server-{}.{stream}", self.starts));
        fs_err::read_to_string(&path).unwrap_or_else(|error| format!("<{error}>"))
    }

    fn spawn(&mut self, address: SocketAddr) -> Result<()> {
        self.starts += 1;
        self.address = address;
        let log = |stream: &str| -> Result<fs_err::File> {
            fs_err::File::create(
                self.logs
                    .path()
                    .join(format!("server-{}.{stream}", self.starts)),
            )
            .map_err(Into::into)
        };
        let (stdout, stderr) = (log("stdout")?, log("stderr")?);
        let binary = cairn_bin()?;
        let mut command = match self.open_files {
            None => Command::new(&binary),
            Some(limit) => {
                // `$0` is the binary and `$@` its arguments; `exec` keeps the process id, so
                // killing the child kills the server.
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(&binary);
                shell
            }
        };
        let child = command
            .arg("server")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg(self.address.to_string())
            .args(&self.extra_args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.logs.path())
            .env("CAIRN_ADMIN_API_KEY", &self.admin_key)
            .envs(self.extra_env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(stdout.into_parts().0)
            .stderr(stderr.into_parts().0)
            .spawn()
            .with_context(|| format!("cannot start `{} server`", binary.display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let url = format!("{}{}", self.url(), routes::HEALTHZ);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let Some(child) = self.child.as_mut() else {
                bail!("the server is not running");
            };
            if let Some(status) = child.try_wait()? {
                self.child = None;
                bail!(
                    "`cairn server` exited ({status}) before it was ready; its stderr:\n{}",
                    self.stderr()
                );
            }
            if let Ok(response) = self.http.get(&url).send()
                && response.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "`cairn server` did not answer `GET {url}` within {READY_TIMEOUT:?}; its stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Best effort: a server that already exited cannot be killed, which is fine.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
