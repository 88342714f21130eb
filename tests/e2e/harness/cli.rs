//! Users of the `cairn` CLI: each has its own `HOME`, config directory (`CAIRN_CONFIG_DIR`) and
//! cache (`CAIRN_CACHE_DIR`), logs in with `cairn login` once, and runs commands against a
//! [`Server`] with a cleared environment. Commands have a deadline, so a hung CLI fails the test
//! instead of stalling the suite.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use cairn_api::routes;
use serde_json::Value;
use tempfile::TempDir;

use crate::harness::{Server, cairn_bin, temp_dir};

/// How long one CLI command may run before it is killed and the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// Someone using the CLI.
#[derive(Debug)]
pub(crate) struct User {
    /// The user name (also the user's entity).
    pub(crate) name: String,
    api_key: String,
    home: TempDir,
}

impl User {
    /// The server's administrator, logged in with the admin key; the name comes from
    /// `GET /api/v1/viewer`.
    pub(crate) fn admin(server: &Server) -> Result<Self> {
        let viewer = server.get_json(routes::VIEWER, Some(server.admin_key()))?;
        let Some(name) = viewer["user"]["username"].as_str() else {
            bail!("`GET /api/v1/viewer` with the admin key has no `user.username`: {viewer}");
        };
        let user = Self {
            name: name.to_owned(),
            api_key: server.admin_key().to_owned(),
            home: temp_dir("home-admin")?,
        };
        user.login(server)?;
        Ok(user)
    }

    /// A new user made by `admin` with `cairn user create NAME --json`, logged in.
    pub(crate) fn create(server: &Server, admin: &Self, name: &str) -> Result<Self> {
        let created = admin
            .cairn(server, ["user", "create", name, "--json"])
            .run()?
            .success()?
            .json()?;
        let Some(api_key) = created["api_key"].as_str() else {
            bail!("`cairn user create {name} --json` printed no `api_key`: {created}");
        };
        ensure!(
            created["username"] == name,
            "`cairn user create {name} --json` printed another `username`: {created}"
        );
        let user = Self {
            name: name.to_owned(),
            api_key: api_key.to_owned(),
            home: temp_dir(&format!("home-{name}"))?,
        };
        user.login(server)?;
        Ok(user)
    }

    /// The same user on another machine: same key, but a new home, config and empty cache, so
    /// whatever it downloads must come from the server.
    pub(crate) fn on_another_machine(&self, server: &Server) -> Result<Self> {
        let user = Self {
            name: self.name.clone(),
            api_key: self.api_key.clone(),
            home: temp_dir(&format!("home-{}-elsewhere", self.name))?,
        };
        user.login(server)?;
        Ok(user)
    }

    /// The same user with another of their API keys, on another machine (a new home, config
    /// and cache), logged in with it.
    pub(crate) fn with_key(&self, server: &Server, api_key: &str) -> Result<Self> {
        let user = Self {
            name: self.name.clone(),
            api_key: api_key.to_owned(),
            home: temp_dir(&format!("home-{}-other-key", self.name))?,
        };
        user.login(server)?;
        Ok(user)
    }

    /// Someone who never logged in: commands run without an API key.
    pub(crate) fn anonymous() -> Result<Self> {
        Ok(Self {
            name: "anonymous".to_owned(),
            api_key: String::new(),
            home: temp_dir("home-anonymous")?,
        })
    }

    /// The user's API key (for the client library, next to the CLI).
    pub(crate) fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The user's local cache (`CAIRN_CACHE_DIR`).
    pub(crate) fn cache_dir(&self) -> PathBuf {
        self.home.path().join("cache")
    }

    /// `cairn ARGS...` as this user against `server` (whose current URL is passed as
    /// `CAIRN_BASE_URL`, so a restarted server on a new port is found).
    pub(crate) fn cairn<I, S>(&self, server: &Server, args: I) -> Cairn
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cairn_at(&server.url(), args)
    }

    /// `cairn ARGS...` as this user against whatever listens at `base_url` (or nothing).
    pub(crate) fn cairn_at<I, S>(&self, base_url: &str, args: I) -> Cairn
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let home = self.home.path();
        let envs = vec![
            ("HOME".to_owned(), home.as_os_str().to_owned()),
            (
                "CAIRN_CONFIG_DIR".to_owned(),
                home.join("config").into_os_string(),
            ),
            (
                "CAIRN_CACHE_DIR".to_owned(),
                self.cache_dir().into_os_string(),
            ),
            ("CAIRN_BASE_URL".to_owned(), base_url.into()),
        ];
        Cairn {
            args: args
                .into_iter()
                .map(|arg| arg.as_ref().to_owned())
                .collect(),
            envs,
            current_dir: home.to_path_buf(),
        }
    }

    fn login(&self, server: &Server) -> Result<()> {
        self.cairn(
            server,
            [
                "login",
                "--base-url",
                &server.url(),
                "--api-key",
                &self.api_key,
            ],
        )
        .run()?
        .success()?;
        Ok(())
    }
}

/// A `cairn` command line, ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Cairn {
    args: Vec<OsString>,
    /// Set on top of a cleared environment (plus `PATH`); later entries win.
    envs: Vec<(String, OsString)>,
    current_dir: PathBuf,
}

impl Cairn {
    /// Sets an environment variable for this command.
    pub(crate) fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.envs.push((key.to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs the command to completion (killing it after [`COMMAND_TIMEOUT`]).
    pub(crate) fn run(self) -> Result<Outcome> {
        self.spawn()?.wait(COMMAND_TIMEOUT)
    }

    /// Starts the command and returns at once.
    pub(crate) fn spawn(self) -> Result<Running> {
        let outputs = temp_dir("output")?;
        let stdout = fs_err::File::create(outputs.path().join("stdout"))?;
        let stderr = fs_err::File::create(outputs.path().join("stderr"))?;
        let binary = cairn_bin()?;
        let mut command = Command::new(&binary);
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.envs.iter().map(|(key, value)| (key, value)))
            .current_dir(&self.current_dir)
            .stdin(Stdio::null())
            .stdout(stdout.into_parts().0)
            .stderr(stderr.into_parts().0);
        let display = self.to_string();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start `{display}` ({})", binary.display()))?;
        Ok(Running {
            child,
            outputs,
            display,
        })
    }
}

impl fmt::Display for Cairn {
    /// The command as a shell line, with the variables a test set beyond the user's own.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, value) in &self.envs {
            if !matches!(
                key.as_str(),
                "HOME" | "CAIRN_CONFIG_DIR" | "CAIRN_CACHE_DIR"
            ) {
                write!(f, "{key}={} ", value.to_string_lossy())?;
            }
        }
        f.write_str("cairn")?;
        for arg in &self.args {
            write!(f, " {}", arg.to_string_lossy())?;
        }
        Ok(())
    }
}

/// A `cairn` command that was started and may still run.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    outputs: TempDir,
    display: String,
}

impl Running {
    /// Whether the command has exited (without collecting its output).
    pub(crate) fn has_exited(&mut self) -> Result<bool> {
        Ok(self.child.try_wait()?.is_some())
    }

    /// Kills the command with SIGKILL, as a crash or `kill -9` would, and collects what it printed.
    pub(crate) fn kill(mut self) -> Result<Outcome> {
        self.child.kill().context("cannot kill the CLI")?;
        self.child.wait().context("cannot wait for the CLI")?;
        self.outcome(None)
    }

    /// Waits for the command to exit; kills it and fails after `timeout`.
    pub(crate) fn wait(mut self, timeout: Duration) -> Result<Outcome> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return self.outcome(status.code());
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                self.child.wait()?;
                let outcome = self.outcome(None)?;
                bail!("did not finish within {timeout:?}, so it was killed: {outcome}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn outcome(&self, code: Option<i32>) -> Result<Outcome> {
        let read = |name: &str| -> Result<String> {
            let bytes = fs_err::read(self.outputs.path().join(name))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        Ok(Outcome {
            command: self.display.clone(),
            code,
            stdout: read("stdout")?,
            stderr: read("stderr")?,
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A scenario that failed half-way must not leave a CLI running behind it.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How a command ended: its exit code (`None` when killed by a signal) and what it printed.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    command: String,
    /// The exit code.
    pub(crate) code: Option<i32>,
    /// Everything printed on stdout.
    pub(crate) stdout: String,
    /// Everything printed on stderr.
    pub(crate) stderr: String,
}

impl Outcome {
    /// This outcome if the command exited 0, an error describing it otherwise.
    pub(crate) fn success(self) -> Result<Self> {
        ensure!(self.code == Some(0), "expected success: {self}");
        Ok(self)
    }

    /// This outcome if the command exited with one of `codes`, an error describing it otherwise.
    pub(crate) fn failure(self, codes: &[i32]) -> Result<Self> {
        ensure!(
            self.code.is_some_and(|code| codes.contains(&code)),
            "expected exit code {codes:?}: {self}"
        );
        Ok(self)
    }

    /// Stdout parsed as one JSON value.
    pub(crate) fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.stdout)
            .with_context(|| format!("stdout is not one JSON value: {self}"))
    }

    /// Fails unless stderr contains every one of `needles` (the value at fault, what to do).
    pub(crate) fn stderr_mentions(&self, needles: &[&str]) -> Result<()> {
        for needle in needles {
            ensure!(
                self.stderr.contains(needle),
                "expected stderr to mention `{needle}`: {self}"
            );
        }
        Ok(())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.map_or_else(
            || "killed by a signal".to_owned(),
            |code| format!("exit code {code}"),
        );
        write!(
            f,
            "`{}` ended with {code}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// `path` as a command-line argument next to plain strings (temporary paths are UTF-8).
pub(crate) fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("`{}` is not valid UTF-8", path.display()))
}
