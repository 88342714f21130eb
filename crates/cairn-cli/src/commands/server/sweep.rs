//! `cairn server sweep [--json]`: soft-delete every version whose TTL has run out, now, on a
//! running server (`POST /api/v1/server/sweep`), as its sweeper does every
//! `--sweep-interval`. It runs with the saved login (or `CAIRN_BASE_URL` and `CAIRN_API_KEY`)
//! of a server admin.

use cairn_client::Client;
use clap::Args;

use crate::commands::runtime;

/// Arguments of `cairn server sweep`.
#[derive(Debug, Args)]
pub(crate) struct SweepArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs one sweep and prints what it deleted and what it kept, and why.
#[expect(clippy::print_stdout, reason = "the command's result")]
pub(crate) fn run(args: &SweepArgs) -> anyhow::Result<()> {
    let client = Client::from_env()?;
    let report = runtime()?.block_on(client.sweep())?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("deleted {} expired version(s)", report.deleted.len());
    for name in &report.deleted {
        println!("  {name}");
    }
    for kept in &report.kept {
        println!("kept expired {}: {}", kept.name, kept.reason);
    }
    Ok(())
}
