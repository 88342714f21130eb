//! Running external programs: print the command line, stream its output, check its exit status.
//!
//! [`Cmd`] is a small description of a command that can be printed the way a person would type it
//! (`RUSTDOCFLAGS="-D warnings" cargo doc --no-deps`) and then turned into a
//! [`std::process::Command`]. A command that exits non-zero becomes a [`CommandFailed`] error, which
//! `main` turns back into the same exit code.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A command line to run: program, arguments, extra environment and working directory.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    /// What to execute (may be a full path, such as `$CARGO`).
    program: PathBuf,
    /// How to show the program when printing the command line.
    display_name: String,
    args: Vec<OsString>,
    envs: Vec<(String, String)>,
    current_dir: Option<PathBuf>,
}

/// A command ran but did not succeed. `main` exits with the same code.
#[derive(Debug)]
pub(crate) struct CommandFailed {
    /// The command line as printed.
    pub(crate) command: String,
    /// The exit code, or `None` when the process was killed by a signal.
    pub(crate) code: Option<i32>,
}

impl fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "`{}` failed with exit code {code}", self.command),
            None => write!(f, "`{}` was killed by a signal", self.command),
        }
    }
}

impl std::error::Error for CommandFailed {}

impl Cmd {
    /// A command that runs `program`, shown under the same name.
    pub(crate) fn new(program: impl Into<PathBuf>) -> Self {
        let program = program.into();
        let display_name = program.display().to_string();
        Self {
            program,
            display_name,
            args: Vec::new(),
            envs: Vec::new(),
            current_dir: None,
        }
    }

    /// Shows the program as `name` when printing (for example `cargo` instead of `$CARGO`'s path).
    pub(crate) fn with_display_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.display_name);
        self
    }

    /// Appends one argument.
    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the child.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the child in `dir`.
    pub(crate) fn current_dir(mut self, dir: &Path) -> Self {
        self.current_dir = Some(dir.to_path_buf());
        self
    }

    /// This command run through `wrapper` (for example `/usr/bin/time -f %M`): the wrapper's
    /// program and arguments, then this command's program and arguments, with this command's
    /// environment and working directory.
    pub(crate) fn wrapped_in(&self, wrapper: Self) -> Self {
        let mut args = wrapper.args;
        args.push(self.program.clone().into_os_string());
        args.extend(self.args.iter().cloned());
        Self {
            program: wrapper.program,
            display_name: wrapper.display_name,
            args,
            envs: self.envs.clone(),
            current_dir: self.current_dir.clone(),
        }
    }

    /// Builds the [`Command`]; standard streams are inherited unless the caller changes them.
    pub(crate) fn to_command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command
    }

    /// Prints the command line, runs it with output streamed through, and fails unless it exits 0.
    pub(crate) fn run(&self) -> Result<()> {
        println!("$ {self}");
        let status = self.status(self.to_command())?;
        self.check(status)
    }

    /// Like [`Self::run`], but kills the command (and fails) when it has not finished within
    /// `timeout`.
    pub(crate) fn run_with_timeout(&self, timeout: Duration) -> Result<()> {
        println!("$ {self}");
        let mut child = self
            .to_command()
            .spawn()
            .with_context(|| self.spawn_error())?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return self.check(status);
            }
            if Instant::now() >= deadline {
                // Best effort: it may have exited in the meantime.
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "`{self}` did not finish within {} s and was killed",
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs the command without printing it and with all output discarded; reports whether it
    /// exited 0. Used to probe for optional tools (`cargo nextest --version`).
    pub(crate) fn probe(&self) -> bool {
        let mut command = self.to_command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command.status().is_ok_and(|status| status.success())
    }

    /// Runs the command, lets stderr through, and returns its stdout as text.
    pub(crate) fn read_stdout(&self) -> Result<String> {
        let mut command = self.to_command();
        command.stdin(Stdio::null()).stderr(Stdio::inherit());
        let output = command.output().with_context(|| self.spawn_error())?;
        self.check(output.status)?;
        String::from_utf8(output.stdout)
            .with_context(|| format!("`{self}` printed non-UTF-8 output"))
    }

    /// Waits for `command` (built from this `Cmd`) and names the program if it cannot start.
    pub(crate) fn status(&self, mut command: Command) -> Result<ExitStatus> {
        command.status().with_context(|| self.spawn_error())
    }

    /// Turns a non-zero exit status into a [`CommandFailed`] error.
    pub(crate) fn check(&self, status: ExitStatus) -> Result<()> {
        if status.success() {
            return Ok(());
        }
        Err(CommandFailed {
            command: self.to_string(),
            code: status.code(),
        }
        .into())
    }

    fn spawn_error(&self) -> String {
        format!(
            "cannot run `{}`: is `{}` installed and on PATH?",
            self, self.display_name
        )
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, value) in &self.envs {
            write!(f, "{key}={} ", quote(value))?;
        }
        f.write_str(&quote(&self.display_name))?;
        for arg in &self.args {
            write!(f, " {}", quote(&arg.to_string_lossy()))?;
        }
        Ok(())
    }
}

/// Quotes `word` for display, the way a POSIX shell would need it to be pasted back.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_owned()
    } else if !word.contains('\'') {
        format!("'{word}'")
    } else {
        let escaped: String = word
            .chars()
            .flat_map(|c| {
                if "\"\\$`".contains(c) {
                    vec!['\\', c]
                } else {
                    vec![c]
                }
            })
            .collect();
        format!("\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_shell_command() {
        let cmd = Cmd::new("/opt/toolchain/bin/cargo")
            .with_display_name("cargo")
            .env("RUSTDOCFLAGS", "-D warnings")
            .args(["doc", "--no-deps", "a b"]);
        assert_eq!(
            cmd.to_string(),
            "RUSTDOCFLAGS='-D warnings' cargo doc --no-deps 'a b'"
        );
        let awkward = Cmd::new("echo").arg("it's $HOME");
        assert_eq!(awkward.to_string(), r#"echo "it's \$HOME""#);
    }
}
