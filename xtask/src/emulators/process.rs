//! The emulator processes: free loopback ports, spawning each in its own process group, pid files,
//! readiness probes over a raw HTTP/1.0 GET, and stopping a whole process group by pid.
//!
//! There is no libc here (the workspace denies `unsafe`): signals go through the `kill` command
//! and process state is read from `/proc` (with `kill -0` and `ps` where there is no `/proc`). A
//! zombie counts as gone: a process whose parent has not reaped it yet still answers `kill -0`.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;

/// Who started an emulator, which decides who stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// `cargo xtask emulators start`: runs until `cargo xtask emulators stop`.
    Dev,
    /// `cargo xtask test` (this xtask pid): stopped when that run ends.
    Test { xtask_pid: u32 },
}

/// What a pid file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PidRecord {
    /// The emulator's pid, which is also its process group id.
    pub(crate) pid: u32,
    /// The loopback port it listens on.
    pub(crate) port: u16,
    pub(crate) owner: Owner,
}

impl PidRecord {
    fn to_text(&self) -> String {
        let owner = match self.owner {
            Owner::Dev => "owner=dev\n".to_owned(),
            Owner::Test { xtask_pid } => format!("owner=test\nxtask_pid={xtask_pid}\n"),
        };
        format!("pid={}\nport={}\n{owner}", self.pid, self.port)
    }

    fn parse(text: &str) -> Option<Self> {
        let field = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        };
        let owner = match field("owner")? {
            "dev" => Owner::Dev,
            "test" => Owner::Test {
                xtask_pid: field("xtask_pid")?.parse().ok()?,
            },
            _ => return None,
        };
        Some(Self {
            pid: field("pid")?.parse().ok()?,
            port: field("port")?.parse().ok()?,
            owner,
        })
    }
}

fn pid_path(run_dir: &Path, name: &str) -> PathBuf {
    run_dir.join(format!("{name}.pid"))
}

/// Writes `<run_dir>/<name>.pid`.
pub(crate) fn write_pid_file(run_dir: &Path, name: &str, record: &PidRecord) -> Result<()> {
    fs_err::write(pid_path(run_dir, name), record.to_text())?;
    Ok(())
}

/// Removes `<run_dir>/<name>.pid` if it exists.
pub(crate) fn remove_pid_file(run_dir: &Path, name: &str) -> Result<()> {
    match fs_err::remove_file(pid_path(run_dir, name)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

/// The emulator `<run_dir>/<name>.pid` names, if that process still runs and its command line is
/// that emulator's (`marker` among its words, its port among its arguments). A pid file that
/// fails this test is stale: it is removed and `None` returned.
pub(crate) fn live_record(run_dir: &Path, name: &str, marker: &str) -> Result<Option<PidRecord>> {
    let path = pid_path(run_dir, name);
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let live = PidRecord::parse(&text).filter(|record| {
        is_alive(record.pid)
            && command_line(record.pid).is_some_and(|args| {
                let port = record.port.to_string();
                args.iter().any(|arg| arg.contains(marker)) && args.contains(&port)
            })
    });
    if live.is_none() {
        remove_pid_file(run_dir, name)?;
    }
    Ok(live)
}

/// `count` distinct free loopback ports, found by binding port 0 and letting go.
pub(crate) fn free_ports(count: usize) -> Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot bind a free port on 127.0.0.1")?;
    listeners
        .iter()
        .map(|listener| Ok(listener.local_addr()?.port()))
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot read the address of a bound port")
}

/// Starts `cmd` in `dir` in a new process group, stdin from /dev/null and output into `log`.
pub(crate) fn spawn(cmd: &Cmd, dir: &Path, log: &Path) -> Result<Child> {
    let out = fs_err::File::create(log)?;
    let err = out.try_clone()?;
    let mut command = cmd.to_command();
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.into_file()))
        .stderr(Stdio::from(err.into_file()))
        .process_group(0);
    command
        .spawn()
        .with_context(|| format!("cannot start `{cmd}`"))
}

/// The status code of `GET path` on `127.0.0.1:port`, or `None` if nothing answers HTTP there.
pub(crate) fn http_status(port: u16, path: &str) -> Option<u16> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = Vec::new();
    let mut buffer = [0_u8; 256];
    while !head.contains(&b'\n') {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    parse_status_line(&head)
}

fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = String::from_utf8_lossy(head);
    let mut words = line.split_whitespace();
    words
        .next()
        .filter(|version| version.starts_with("HTTP/"))?;
    words.next()?.parse().ok()
}

/// Stops the process group `pgid`: SIGTERM, up to 5 s to exit, then SIGKILL.
pub(crate) fn stop_group(pgid: u32) -> Result<()> {
    signal_group("TERM", pgid)?;
    if wait_until_gone(pgid, Duration::from_secs(5)) {
        return Ok(());
    }
    eprintln!("emulators: process group {pgid} ignored SIGTERM for 5 s; sending SIGKILL");
    signal_group("KILL", pgid)?;
    if wait_until_gone(pgid, Duration::from_secs(2)) {
        return Ok(());
    }
    bail!("process group {pgid} is still running after SIGKILL")
}

/// Sends `signal` to every process in group `pgid`. "No such process" is not an error.
fn signal_group(signal: &str, pgid: u32) -> Result<()> {
    Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run `kill -s {signal} -- -{pgid}`"))?;
    Ok(())
}

fn wait_until_gone(pgid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !group_is_alive(pgid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` runs (a zombie does not).
pub(crate) fn is_alive(pid: u32) -> bool {
    if has_proc() {
        return proc_stat(pid).is_some_and(|stat| stat.state != 'Z');
    }
    kill_zero(&pid.to_string())
}

/// Whether any process of group `pgid` runs (zombies do not count).
fn group_is_alive(pgid: u32) -> bool {
    if has_proc() {
        return proc_pids()
            .any(|pid| proc_stat(pid).is_some_and(|stat| stat.pgrp == pgid && stat.state != 'Z'));
    }
    kill_zero(&format!("-{pgid}"))
}

fn kill_zero(target: &str) -> bool {
    Command::new("kill")
        .args(["-0", "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The arguments `pid` was started with.
fn command_line(pid: u32) -> Option<Vec<String>> {
    if has_proc() {
        let bytes = fs_err::read(format!("/proc/{pid}/cmdline")).ok()?;
        return Some(
            bytes
                .split(|&byte| byte == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect(),
        );
    }
    let output = Command::new("ps")
        .args(["-o", "args=", "-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.split_whitespace().map(str::to_owned).collect())
}

/// Group leaders running in `run_dir` (or below it) whose command line holds one of `markers`,
/// other than `keep`: emulators whose pid file was lost, for example because `target/` was
/// deleted while they ran. Only where there is a `/proc`.
pub(crate) fn orphans(run_dir: &Path, markers: &[&str], keep: &BTreeSet<u32>) -> Vec<u32> {
    if !has_proc() {
        return Vec::new();
    }
    proc_pids()
        .filter(|pid| !keep.contains(pid))
        .filter(|&pid| proc_stat(pid).is_some_and(|stat| stat.pgrp == pid && stat.state != 'Z'))
        .filter(|&pid| {
            fs_err::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| {
                let cwd = cwd.to_string_lossy();
                Path::new(cwd.strip_suffix(" (deleted)").unwrap_or(&cwd)).starts_with(run_dir)
            })
        })
        .filter(|&pid| {
            command_line(pid).is_some_and(|args| {
                args.iter()
                    .any(|arg| markers.iter().any(|marker| arg.contains(marker)))
            })
        })
        .collect()
}

fn has_proc() -> bool {
    Path::new("/proc/self/stat").is_file()
}

fn proc_pids() -> impl Iterator<Item = u32> {
    fs_err::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
}

/// The fields of `/proc/PID/stat` that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    state: char,
    pgrp: u32,
}

fn proc_stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs_err::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `PID (COMM) STATE PPID PGRP ...`; COMM may itself hold spaces and parentheses.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, pgrp })
}

/// The last `lines` lines of `log`, for error messages.
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    let Ok(bytes) = fs_err::read(log) else {
        return format!("(cannot read `{}`)", log.display());
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    if all.is_empty() {
        return "(the log is empty)".to_owned();
    }
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| format!("    {line}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_records_round_trip() {
        for owner in [Owner::Dev, Owner::Test { xtask_pid: 7 }] {
            let record = PidRecord {
                pid: 4242,
                port: 40001,
                owner,
            };
            assert_eq!(PidRecord::parse(&record.to_text()), Some(record));
        }
        assert_eq!(PidRecord::parse("pid=1\nport=2\n"), None);
        assert_eq!(PidRecord::parse("garbage"), None);
    }

    #[test]
    fn status_lines_and_stat_lines_parse() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 400 Bad"), Some(400));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
        assert_eq!(
            parse_stat("12 (my (odd) name) Z 1 12 12 0 -1"),
            Some(Stat {
                state: 'Z',
                pgrp: 12
            })
        );
    }

    #[test]
    fn this_process_is_alive_and_its_ports_are_free() {
        assert!(is_alive(std::process::id()));
        let ports = free_ports(3).unwrap();
        assert_eq!(ports.iter().collect::<BTreeSet<_>>().len(), 3);
        assert_eq!(http_status(ports[0], "/"), None);
    }
}
