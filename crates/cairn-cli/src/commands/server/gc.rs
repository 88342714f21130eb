//! `cairn server gc [--dry-run] [--json]`: one garbage collection on a running server, through
//! its admin route (`POST /api/v1/server/gc`), so it coordinates with the uploads the server is
//! receiving. It runs with the saved login (or `CAIRN_BASE_URL` and `CAIRN_API_KEY`) of a
//! server admin.

use cairn_api::{GarbageReport, Storage};
use cairn_client::Client;
use clap::Args;

use crate::commands::artifact::human_bytes;
use crate::commands::runtime;

/// Arguments of `cairn server gc`.
#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Only report what would be freed and why; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// List at most this many freed blobs (the totals count all).
    #[arg(long, default_value_t = 20, value_name = "N")]
    list: usize,
}

/// Runs one collection and prints its report.
#[expect(clippy::print_stdout, reason = "the command's result")]
pub(crate) fn run(args: &GcArgs) -> anyhow::Result<()> {
    let client = Client::from_env()?;
    let report = runtime()?.block_on(client.collect_garbage(args.dry_run))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", render(&report, args.list));
    }
    Ok(())
}

fn storage_line(storage: &Storage) -> String {
    format!(
        "{} in {} blob(s), {} live version(s)",
        human_bytes(storage.bytes),
        storage.blobs,
        storage.live_versions
    )
}

/// The report as text.
fn render(report: &GarbageReport, list: usize) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let verb = if report.dry_run {
        "would free"
    } else {
        "freed"
    };
    let _ = writeln!(
        text,
        "{}{verb} {} blob(s), {}",
        if report.dry_run { "dry run: " } else { "" },
        report.freed_blobs,
        human_bytes(report.freed_bytes)
    );
    for blob in report.freed.iter().take(list) {
        let _ = writeln!(
            text,
            "  {} {} ({}): {}",
            blob.md5,
            human_bytes(blob.size),
            blob.location,
            blob.why
        );
    }
    let shown = list.min(report.freed.len()) as u64;
    if report.freed_blobs > shown {
        let _ = writeln!(
            text,
            "  ... and {} more (--json lists up to 1000)",
            report.freed_blobs - shown
        );
    }
    let _ = writeln!(
        text,
        "kept {} unreferenced blob(s), {}, within the grace period of {} s (unreferenced after {})",
        report.kept_in_grace_blobs,
        human_bytes(report.kept_in_grace_bytes),
        report.grace_seconds,
        report.cutoff
    );
    if report.kept_uploading > 0 {
        let _ = writeln!(
            text,
            "kept {} blob(s) that were being uploaded",
            report.kept_uploading
        );
    }
    if report.failed > 0 {
        let _ = writeln!(
            text,
            "could not delete {} blob(s); the next collection retries them (see the server's log)",
            report.failed
        );
    }
    let _ = writeln!(
        text,
        "stored: {} in {} blob(s)",
        human_bytes(report.stored_bytes),
        report.stored_blobs
    );
    for entity in &report.entities {
        let _ = writeln!(text, "{}: {}", entity.entity, storage_line(&entity.storage));
        for project in &entity.projects {
            let _ = writeln!(
                text,
                "  {}/{}: {}",
                entity.entity,
                project.project,
                storage_line(&project.storage)
            );
        }
    }
    text
}
