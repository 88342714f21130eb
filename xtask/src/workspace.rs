//! Where the workspace is and how to run cargo in it.
//!
//! The root is found from xtask's own `CARGO_MANIFEST_DIR` (xtask lives one level below it), so
//! `cargo xtask` works from any directory. Cargo is run through `$CARGO`, the cargo that started
//! us, so a toolchain chosen with `cargo +nightly xtask` is used all the way down.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cmd::Cmd;

/// The Cairn workspace: its root directory and the cargo to drive it with.
#[derive(Debug)]
pub(crate) struct Workspace {
    root: PathBuf,
    cargo: PathBuf,
}

/// The parts of `cargo metadata --no-deps` that xtask reads.
#[derive(Debug)]
pub(crate) struct Metadata {
    /// Where build output goes (`target/` unless `CARGO_TARGET_DIR` says otherwise).
    pub(crate) target_directory: PathBuf,
    /// The workspace members, as cargo describes them.
    pub(crate) packages: Vec<Value>,
}

impl Workspace {
    /// Locates the workspace from xtask's manifest directory.
    pub(crate) fn locate() -> Result<Self> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let Some(root) = manifest_dir.parent() else {
            bail!(
                "xtask's manifest directory `{}` has no parent",
                manifest_dir.display()
            );
        };
        if !root.join("Cargo.toml").is_file() {
            bail!(
                "expected the workspace manifest at `{}`; was xtask moved out of the workspace?",
                root.join("Cargo.toml").display()
            );
        }
        let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
        Ok(Self {
            root: root.to_path_buf(),
            cargo,
        })
    }

    /// The workspace root (the directory holding the virtual `Cargo.toml`).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `cargo ARGS...`, run from the workspace root.
    pub(crate) fn cargo<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        Cmd::new(&self.cargo)
            .with_display_name("cargo")
            .current_dir(&self.root)
            .args(args)
    }

    /// Like [`Self::cargo`], with `--locked` appended when `Cargo.lock` exists, so CI never
    /// silently resolves different versions than the ones committed.
    pub(crate) fn cargo_locked<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        let cmd = self.cargo(args);
        if self.root.join("Cargo.lock").is_file() {
            cmd.arg("--locked")
        } else {
            cmd
        }
    }

    /// A command run from the workspace root.
    pub(crate) fn command(&self, program: impl Into<PathBuf>) -> Cmd {
        Cmd::new(program).current_dir(&self.root)
    }

    /// Runs `cargo metadata --format-version 1 --no-deps` and keeps what xtask needs.
    pub(crate) fn metadata(&self) -> Result<Metadata> {
        let cmd = self.cargo(["metadata", "--format-version", "1", "--no-deps"]);
        let text = cmd.read_stdout()?;
        let mut value: Value =
            serde_json::from_str(&text).with_context(|| format!("`{cmd}` printed invalid JSON"))?;
        let Some(target_directory) = value["target_directory"].as_str().map(PathBuf::from) else {
            bail!("`{cmd}` printed no `target_directory`");
        };
        let Value::Array(packages) = value["packages"].take() else {
            bail!("`{cmd}` printed no `packages` array");
        };
        Ok(Metadata {
            target_directory,
            packages,
        })
    }

    /// A path relative to the root, for messages (`crates/cairn-hash/Cargo.toml`).
    pub(crate) fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}
