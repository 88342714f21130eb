//! [`Emulators`]: starting the emulators (or reusing running ones) and stopping what was started
//! here when the value is dropped, so that `cargo xtask test` stops them even when a step fails.
//!
//! Starting goes through the pid files first: an emulator left running by
//! `cargo xtask emulators start` that still answers is reused; one left over by a killed
//! `cargo xtask test` run, or one that no longer answers, is stopped and started again. Only then
//! is the cache checked (and filled), and whatever is missing is started on free ports, all at once,
//! and polled every 50 ms until it answers.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::emulators::process::{self, Owner, PidRecord};
use crate::emulators::{
    ENDPOINT_VARS, REQUIRED_VAR, SPECS, Spec, install, remove_env_file, run_dir, stop_orphans,
};
use crate::workspace::Workspace;

/// How long an emulator may take to answer after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// One running emulator.
#[derive(Debug)]
struct Running {
    spec: &'static Spec,
    pid: u32,
    port: u16,
    /// Started by this xtask, so stopped by it when [`Emulators::stop_on_drop`] is set.
    started_here: bool,
    /// The child handle when started here, to reap it once stopped.
    child: Option<Child>,
}

/// The running emulators. Dropping this stops the ones it started, unless they are meant to
/// outlive it (`cargo xtask emulators start`); so a failed step still stops them.
#[derive(Debug)]
pub(crate) struct Emulators {
    run_dir: PathBuf,
    running: Vec<Running>,
    stop_on_drop: bool,
}

impl Emulators {
    /// Starts the emulators for a `cargo xtask test` run: reused if `cargo xtask emulators start`
    /// left them running, otherwise started now and stopped when the result is dropped.
    pub(crate) fn start_for_tests(workspace: &Workspace) -> Result<Self> {
        Self::start(
            workspace,
            Owner::Test {
                xtask_pid: std::process::id(),
            },
        )
    }

    pub(super) fn start(workspace: &Workspace, owner: Owner) -> Result<Self> {
        let run_dir = run_dir(workspace)?;
        fs_err::create_dir_all(&run_dir)?;
        let mut emulators = Self {
            run_dir,
            running: Vec::new(),
            stop_on_drop: true,
        };
        let to_start = emulators.adopt_or_clean(owner)?;
        if !to_start.is_empty() {
            emulators.launch(&to_start, owner)?;
        }
        let env_file = emulators.run_dir.join("env");
        let text: String = emulators
            .env()
            .iter()
            .map(|(key, value)| format!("{key}={value}\n"))
            .collect();
        fs_err::write(&env_file, text)?;
        if owner == Owner::Dev {
            emulators.stop_on_drop = false;
        }
        Ok(emulators)
    }

    /// Goes through the pid files: keeps the emulators that `emulators start` left running and
    /// that still answer, stops leftovers of killed test runs, and returns what must be started.
    fn adopt_or_clean(&mut self, owner: Owner) -> Result<Vec<&'static Spec>> {
        let mut to_start = Vec::new();
        for spec in &SPECS {
            let Some(record) = process::live_record(&self.run_dir, spec.name, spec.marker)? else {
                to_start.push(spec);
                continue;
            };
            match record.owner {
                Owner::Test { xtask_pid }
                    if xtask_pid != std::process::id() && process::is_alive(xtask_pid) =>
                {
                    bail!(
                        "{} (pid {}) belongs to another `cargo xtask test` run (pid {xtask_pid}) \
                         in this workspace; wait for it, or run `cargo xtask emulators stop`",
                        spec.label,
                        record.pid
                    );
                }
                Owner::Dev if spec.answers(record.port) => {
                    if owner != Owner::Dev {
                        eprintln!(
                            "emulators: reusing {} (pid {}) from `cargo xtask emulators start`",
                            spec.label, record.pid
                        );
                    }
                    self.running.push(Running {
                        spec,
                        pid: record.pid,
                        port: record.port,
                        started_here: false,
                        child: None,
                    });
                }
                _ => {
                    eprintln!(
                        "emulators: stopping {} (pid {}), left over or not answering",
                        spec.label, record.pid
                    );
                    process::stop_group(record.pid)?;
                    process::remove_pid_file(&self.run_dir, spec.name)?;
                    to_start.push(spec);
                }
            }
        }
        let keep = self.running.iter().map(|running| running.pid).collect();
        stop_orphans(&self.run_dir, &keep)?;
        Ok(to_start)
    }

    /// Installs if needed, starts `specs` on free ports, and waits until each answers.
    fn launch(&mut self, specs: &[&'static Spec], owner: Owner) -> Result<()> {
        let cache = install::cache_dir()?;
        let installed = install::ensure(&cache)?;
        let start = Instant::now();
        let ports = process::free_ports(specs.len())?;
        let mut starting = Vec::new();
        for (&spec, port) in specs.iter().zip(ports) {
            let dir = self.run_dir.join(spec.name);
            fs_err::create_dir_all(&dir)?;
            let log = self.run_dir.join(format!("{}.log", spec.name));
            let cmd = spec.command(&installed, port);
            let child = process::spawn(&cmd, &dir, &log)?;
            let record = PidRecord {
                pid: child.id(),
                port,
                owner,
            };
            self.running.push(Running {
                spec,
                pid: record.pid,
                port,
                started_here: true,
                child: None,
            });
            process::write_pid_file(&self.run_dir, spec.name, &record)?;
            starting.push((spec, child, port, log));
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        while !starting.is_empty() {
            let mut waiting = Vec::new();
            for (spec, mut child, port, log) in starting {
                let exited = child.try_wait().with_context(|| {
                    format!("cannot check on {} (pid {})", spec.label, child.id())
                })?;
                if let Some(status) = exited {
                    bail!(
                        "{} exited ({status}) before answering on port {port}; last lines of \
                         `{}`:\n{}",
                        spec.label,
                        log.display(),
                        process::log_tail(&log, 20)
                    );
                }
                if !spec.answers(port) {
                    if Instant::now() >= deadline {
                        bail!(
                            "{} did not answer `GET http://127.0.0.1:{port}{}` within {} s; last \
                             lines of `{}`:\n{}",
                            spec.label,
                            spec.probe_path,
                            READY_TIMEOUT.as_secs(),
                            log.display(),
                            process::log_tail(&log, 20)
                        );
                    }
                    waiting.push((spec, child, port, log));
                } else if let Some(running) = self.running.iter_mut().find(|r| r.pid == child.id())
                {
                    running.child = Some(child);
                }
            }
            starting = waiting;
            if !starting.is_empty() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let installed_how = if installed.installed_now {
            format!("installed in {:.1}s", installed.took.as_secs_f64())
        } else {
            format!(
                "already installed ({:.1}s to check)",
                installed.took.as_secs_f64()
            )
        };
        let started: Vec<String> = self
            .running
            .iter()
            .filter(|running| running.started_here)
            .map(|running| format!("{} :{}", running.spec.name, running.port))
            .collect();
        eprintln!(
            "emulators: {installed_how}, started in {:.1}s: {} (cache `{}`)",
            start.elapsed().as_secs_f64(),
            started.join(", "),
            cache.display()
        );
        Ok(())
    }

    /// The variables the tests read: every endpoint, and `CAIRN_TEST_EMULATORS=required`.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        let mut env: Vec<(&'static str, String)> = SPECS
            .iter()
            .zip(ENDPOINT_VARS)
            .filter_map(|(spec, var)| {
                let running = self
                    .running
                    .iter()
                    .find(|running| running.spec.name == spec.name)?;
                Some((var, format!("http://127.0.0.1:{}", running.port)))
            })
            .collect();
        env.push((REQUIRED_VAR.0, REQUIRED_VAR.1.to_owned()));
        env
    }
}

impl Drop for Emulators {
    fn drop(&mut self) {
        if !self.stop_on_drop || !self.running.iter().any(|running| running.started_here) {
            return;
        }
        let start = Instant::now();
        for running in self
            .running
            .iter_mut()
            .filter(|running| running.started_here)
        {
            let stopped = process::stop_group(running.pid)
                .and_then(|()| process::remove_pid_file(&self.run_dir, running.spec.name));
            if let Some(child) = &mut running.child {
                // Reap it, so no zombie is left while the rest of xtask runs.
                let _reaped = child.try_wait();
            }
            if let Err(error) = stopped {
                eprintln!(
                    "warning: cannot stop {} (pid {}): {error:#}; run `cargo xtask emulators stop`",
                    running.spec.label, running.pid
                );
            }
        }
        if let Err(error) = remove_env_file(&self.run_dir) {
            eprintln!("warning: {error:#}");
        }
        eprintln!(
            "emulators: stopped in {:.1}s",
            start.elapsed().as_secs_f64()
        );
    }
}
