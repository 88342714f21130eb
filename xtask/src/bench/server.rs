//! A `cairn server` for the benchmarks: started on a free loopback port and a given data
//! directory, waited for through `GET /healthz`, stopped with SIGTERM, and measured by its peak
//! resident set (`VmHWM` in `/proc/<pid>/status`, read just before it stops).
//!
//! xtask has no HTTP client dependency, so the few requests it needs (`/healthz`,
//! `/api/v1/viewer`, and `crate::api_fuzz`'s seeding) go through [`http_request`], a few lines
//! of HTTP/1.1 over a `TcpStream`.

use std::hash::{BuildHasher, RandomState};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cmd::Cmd;

/// How long the server may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A fresh admin key for a throwaway server: `cairn-` and 48 lowercase hex digits.
pub(crate) fn admin_key() -> String {
    let state = RandomState::new();
    let words: Vec<String> = (0..3_u8)
        .map(|word| format!("{:016x}", state.hash_one((word, std::process::id()))))
        .collect();
    format!("cairn-{}", words.concat())
}

/// A running `cairn server`.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    address: SocketAddr,
    admin_key: String,
    /// The admin's user name, which is also the entity the benchmark writes to.
    pub(crate) entity: String,
    stderr_path: std::path::PathBuf,
}

impl Server {
    /// Starts `cairn server` on `data_dir` (logging to `<data_dir>.log`) with `admin_key`.
    pub(crate) fn start(cairn: &Path, data_dir: &Path, admin_key: &str) -> Result<Self> {
        Self::start_with(cairn, data_dir, admin_key, &[])
    }

    /// [`Server::start`] with more arguments for `cairn server` (`--test-clock`).
    pub(crate) fn start_with(
        cairn: &Path,
        data_dir: &Path,
        admin_key: &str,
        extra: &[&str],
    ) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("cannot find a free port on 127.0.0.1")?
            .port();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let stderr_path = data_dir.with_extension("log");
        let log = fs_err::File::create(&stderr_path)?;
        let cmd = Cmd::new(cairn)
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", &address.to_string()])
            .args(extra.iter().copied())
            .env("CAIRN_ADMIN_API_KEY", admin_key);
        let mut command = cmd.to_command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.into_parts().0);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start `{cmd}`"))?;
        let mut server = Self {
            child,
            address,
            admin_key: admin_key.to_owned(),
            entity: String::new(),
            stderr_path,
        };
        server.wait_ready()?;
        let (status, body) = http_get(address, "/api/v1/viewer", Some(admin_key))?;
        let viewer: Value = serde_json::from_str(&body).unwrap_or_default();
        let Some(name) = viewer["user"]["username"]
            .as_str()
            .filter(|_| status == 200)
        else {
            bail!("`GET /api/v1/viewer` with the admin key answered {status}: {body}");
        };
        name.clone_into(&mut server.entity);
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Where it listens.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    /// The file its stderr (its log) goes to.
    pub(crate) fn log_path(&self) -> &Path {
        &self.stderr_path
    }

    /// The admin key, for the client's `CAIRN_API_KEY`.
    pub(crate) fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// Peak resident set so far, in KiB (`VmHWM`), if `/proc` tells.
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        let status = fs_err::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident set now, in KiB (`VmRSS`), if `/proc` tells.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        Self::rss_kib_of(self.pid())
    }

    /// The resident set of process `pid` now, in KiB.
    pub(crate) fn rss_kib_of(pid: u32) -> Option<u64> {
        let status = fs_err::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Stops the server with SIGTERM (SIGKILL after 30 s) and returns its peak RSS in KiB.
    pub(crate) fn stop(mut self) -> Result<Option<u64>> {
        let peak = self.peak_rss_kib();
        Cmd::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .read_stdout()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                println!("server: no exit 30 s after SIGTERM, killing it");
                self.child.kill()?;
                self.child.wait()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(peak)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "`cairn server` exited ({status}) before it was ready; its log `{}`:\n{}",
                    self.stderr_path.display(),
                    fs_err::read_to_string(&self.stderr_path).unwrap_or_default()
                );
            }
            if http_get(self.address, "/healthz", None).is_ok_and(|(status, _)| status == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "`cairn server` was not ready within {READY_TIMEOUT:?}; see `{}`",
                    self.stderr_path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Best effort: after `stop` the process is gone already.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over a fresh connection; the status code and the (de-chunked) body.
pub(crate) fn http_get(
    address: SocketAddr,
    path: &str,
    bearer: Option<&str>,
) -> Result<(u16, String)> {
    http_request(address, "GET", path, bearer, None)
}

/// `METHOD path` with an optional `(content type, body)` over a fresh connection; the status
/// code and the (de-chunked) body.
pub(crate) fn http_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
        .with_context(|| format!("cannot connect to {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let authorization = bearer.map_or_else(String::new, |key| {
        format!("Authorization: Bearer {key}\r\n")
    });
    let content = body.map_or_else(String::new, |(content_type, bytes)| {
        format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        )
    });
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}{content}Connection: close\r\n\r\n"
    )?;
    if let Some((_, bytes)) = body {
        stream.write_all(bytes)?;
    }
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("`{method} {path}` got a truncated answer: {text}");
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("`{method} {path}` got no status line: {head}"))?;
    let chunked = head.lines().any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("transfer-encoding") && value.trim() == "chunked"
        })
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

/// Joins the chunks of a `Transfer-Encoding: chunked` body (extensions and trailers ignored).
fn dechunk(mut body: &str) -> String {
    let mut joined = String::new();
    while let Some((size_line, rest)) = body.split_once("\r\n") {
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        let (Some(chunk), Some(after)) = (rest.get(..size), rest.get(size..)) else {
            break;
        };
        if size == 0 {
            break;
        }
        joined.push_str(chunk);
        body = after.trim_start_matches("\r\n");
    }
    joined
}

/// A JSON request with `key` to `server` (the body sent as its text) that must succeed, for
/// seeding; its answer.
pub(crate) fn json_request(
    server: &Server,
    key: &str,
    method: &str,
    path: &str,
    body: impl std::fmt::Display,
) -> Result<Value> {
    let text = body.to_string();
    let (status, answer) = http_request(
        server.address(),
        method,
        path,
        Some(key),
        Some(("application/json", text.as_bytes())),
    )?;
    anyhow::ensure!(
        (200..300).contains(&status),
        "seeding: `{method} {path}` answered {status}: {answer}"
    );
    serde_json::from_str(&answer)
        .with_context(|| format!("seeding: `{method} {path}` answered invalid JSON: {answer}"))
}

/// Creates user `username` as the server's admin; answers their first API key.
pub(crate) fn create_user(server: &Server, username: &str) -> Result<String> {
    let created = json_request(
        server,
        server.admin_key(),
        "POST",
        "/api/v1/users",
        serde_json::json!({ "username": username }),
    )?;
    created["api_key"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("seeding: no `api_key` in the answer for {username}: {created}"))
}

/// The last `count` `WARN` and `ERROR` lines of a server's log (5xx answers log their cause
/// there), or `(none)`.
pub(crate) fn warnings_and_errors(log: &Path, count: usize) -> String {
    let text = fs_err::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("ERROR") || line.contains("WARN"))
        .collect();
    if lines.is_empty() {
        return "(none)".to_owned();
    }
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n"),
            "hello, world"
        );
        assert_eq!(dechunk(""), "");
    }
}
