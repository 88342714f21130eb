//! `cairn login`: check an API key against a server and save both for later commands.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::Context as _;
use cairn_client::{Client, Settings};
use clap::Args;

use crate::commands::{UsageError, runtime};

/// Arguments of `cairn login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The server's address; defaults to `CAIRN_BASE_URL`, else the saved one, else
    /// `http://127.0.0.1:8080`.
    #[arg(long)]
    base_url: Option<String>,
    /// The API key; read from standard input when absent (so it stays out of shell history).
    #[arg(long)]
    api_key: Option<String>,
}

/// Verifies the key with the server and saves it with owner-only permissions.
#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the prompt goes to stderr, the result to stdout"
)]
pub(crate) fn run(args: LoginArgs) -> anyhow::Result<()> {
    let defaults = Settings::from_env()?;
    let base_url = args.base_url.unwrap_or(defaults.base_url);
    let api_key = match args.api_key {
        Some(key) => key,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!("API key for {base_url}: ");
            }
            let mut line = String::new();
            stdin
                .lock()
                .read_line(&mut line)
                .context("cannot read the API key from standard input")?;
            line.trim().to_owned()
        }
    };
    if api_key.is_empty() {
        return Err(UsageError::new(
            "no API key given; pass --api-key or type it on standard input (the server prints the admin's key on first start)",
        )
        .into());
    }
    let settings = Settings {
        base_url: base_url.clone(),
        api_key: Some(api_key.clone()),
    };
    let viewer = runtime()?.block_on(async { Client::new(settings)?.viewer().await })?;
    let path = Settings::save_login(&base_url, &api_key)?;
    println!(
        "logged in to {base_url} as `{}`; key saved to {}",
        viewer.user.username,
        path.display()
    );
    Ok(())
}
