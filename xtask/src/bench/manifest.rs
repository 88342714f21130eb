//! `cargo xtask bench manifest`: the server's memory while it ingests large manifests.
//!
//! A manifest of `--entries` file entries (420,000 by default: about 28 MiB, the size a hostile
//! probe once used to take the server from 11 MB to 488 MB) is uploaded to a release
//! `cairn server` on a fresh data directory, once alone and then `--concurrent` at a time
//! (each into its own collection). While the uploads run, the server's resident set
//! (`VmRSS`) is sampled every 10 ms; the table shows the resident set before, the peak, the peak
//! growth as a multiple of one manifest's size (the bound: under 3×), the resident set two
//! seconds after the last answer (memory given back), and the wall time of the uploads.
//!
//! The entries are synthetic (`data/NNNNNNN.bin` with distinct made-up MD5s) and no blob is
//! sent: ingesting the manifest and answering the missing list is what is measured. The
//! artifact digest is computed with `md5sum` over the preimage, since xtask has no MD5 of its
//! own. Requests go through `curl`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

use crate::bench::hash::cairn_binary;
use crate::bench::server::Server;
use crate::cmd::Cmd;
use crate::workspace::Workspace;

/// Arguments of `cargo xtask bench manifest`.
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// File entries in the manifest.
    #[arg(long, default_value_t = 420_000)]
    entries: u32,
    /// How many manifests go up at once in the second round.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    concurrent: u32,
}

/// One round's measurements.
#[derive(Debug)]
struct Round {
    uploads: u32,
    before_kib: u64,
    peak_kib: u64,
    after_kib: u64,
    elapsed: Duration,
}

/// Runs the benchmark and prints its table.
pub(crate) fn run(workspace: &Workspace, args: &ManifestArgs) -> Result<()> {
    let target_dir = workspace.metadata()?.target_directory;
    let work = target_dir.join("bench-manifest");
    if work.exists() {
        fs_err::remove_dir_all(&work)?;
    }
    fs_err::create_dir_all(&work)?;
    let cairn = cairn_binary(workspace, &target_dir)?;
    let manifest = work.join("manifest.json");
    let digest = write_manifest(&work, &manifest, args.entries)?;
    let manifest_bytes = fs_err::metadata(&manifest)?.len();
    println!(
        "manifest: {} entries, {:.1} MiB, digest {digest}",
        args.entries,
        mib(manifest_bytes)
    );
    let mut rounds = Vec::new();
    for (index, uploads) in [1, args.concurrent].into_iter().enumerate() {
        let data_dir = work.join(format!("data-{index}"));
        let server = Server::start(&cairn, &data_dir, &crate::bench::server::admin_key())?;
        let round = upload_round(&server, &manifest, &digest, uploads)?;
        server.stop()?;
        rounds.push(round);
    }
    println!();
    println!(
        "| uploads at once | server RSS before | peak | peak growth | growth / manifest | RSS after 2 s | time |"
    );
    println!("|---|---|---|---|---|---|---|");
    for round in &rounds {
        let growth = round.peak_kib.saturating_sub(round.before_kib) * 1024;
        println!(
            "| {} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.2}× | {:.1} MiB | {:.2} s |",
            round.uploads,
            mib(round.before_kib * 1024),
            mib(round.peak_kib * 1024),
            mib(growth),
            growth as f64 / manifest_bytes as f64,
            mib(round.after_kib * 1024),
            round.elapsed.as_secs_f64()
        );
    }
    println!("bound: peak growth under 3× one manifest's size, whatever the number at once");
    fs_err::remove_dir_all(&work)?;
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Writes the manifest and returns its artifact digest (MD5 of the preimage, by `md5sum`).
fn write_manifest(work: &Path, path: &Path, entries: u32) -> Result<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut manifest = std::io::BufWriter::new(fs_err::File::create(path)?);
    let preimage_path = work.join("preimage.txt");
    let mut preimage = std::io::BufWriter::new(fs_err::File::create(&preimage_path)?);
    manifest.write_all(
        br#"{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {"storageLayout": "V2"}, "contents": {"#,
    )?;
    preimage.write_all(b"wandb-artifact-manifest-v1\n")?;
    let mut digest = String::with_capacity(24);
    for index in 0..entries {
        // A valid base64 MD5: 21 free characters, one whose low four bits are zero, `==`.
        digest.clear();
        let mut state = u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995;
        for _ in 0..21 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            digest.push(char::from(ALPHABET[(state >> 58) as usize]));
        }
        digest.push(char::from(b"AQgw"[(state >> 20) as usize % 4]));
        digest.push_str("==");
        let key = format!("data/{index:07}.bin");
        let separator = if index == 0 { "" } else { ", " };
        write!(
            manifest,
            r#"{separator}"{key}": {{"digest": "{digest}", "size": {}}}"#,
            1000 + index
        )?;
        writeln!(preimage, "{key}:{digest}")?;
    }
    manifest.write_all(b"}}")?;
    manifest.flush()?;
    preimage.flush()?;
    drop(preimage);
    let out = Cmd::new("md5sum").arg(&preimage_path).read_stdout()?;
    let digest = out
        .split_whitespace()
        .next()
        .context("md5sum printed nothing")?
        .to_owned();
    Ok(digest)
}

/// Creates `uploads` versions, then uploads the manifest to all of them at once while sampling
/// the server's resident set.
fn upload_round(server: &Server, manifest: &Path, digest: &str, uploads: u32) -> Result<Round> {
    let auth = format!("Authorization: Bearer {}", server.admin_key());
    let mut ids = Vec::new();
    for upload in 0..uploads {
        let body = serde_json::json!({
            "collection": format!("big-{upload}"),
            "artifact_type": "dataset",
            "digest": digest,
        });
        let answer = Cmd::new("curl")
            .args(["-sS", "-X", "POST", "-H", &auth, "-H"])
            .arg("Content-Type: application/json")
            .args(["--data", &body.to_string()])
            .arg(format!(
                "{}/api/v1/projects/{}/bench/artifacts",
                server.url(),
                server.entity
            ))
            .read_stdout()?;
        let created: Value = serde_json::from_str(&answer)
            .with_context(|| format!("creating a version answered `{answer}`"))?;
        let Some(id) = created["version"]["id"].as_str() else {
            bail!("creating a version answered `{answer}`");
        };
        ids.push(id.to_owned());
    }
    std::thread::sleep(Duration::from_millis(300));
    let before_kib = server.rss_kib().unwrap_or_default();
    let peak = Arc::new(AtomicU64::new(before_kib));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        let pid = server.pid();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = Server::rss_kib_of(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let start = Instant::now();
    let children = ids
        .iter()
        .map(|id| put_manifest(server, &auth, id, manifest))
        .collect::<Result<Vec<_>>>()?;
    let mut failures = Vec::new();
    for (child, out) in children {
        let output = child.wait_with_output()?;
        let status = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if status != "200" {
            failures.push(format!(
                "{status}: {}",
                fs_err::read_to_string(&out).unwrap_or_default()
            ));
        }
        let _ = fs_err::remove_file(&out);
    }
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    if !failures.is_empty() {
        bail!("manifest uploads failed: {}", failures.join("; "));
    }
    std::thread::sleep(Duration::from_secs(2));
    Ok(Round {
        uploads,
        before_kib,
        peak_kib: peak.load(Ordering::Relaxed),
        after_kib: server.rss_kib().unwrap_or_default(),
        elapsed,
    })
}

/// Starts `curl -T manifest` to version `id`'s manifest route; the answer goes to a file.
fn put_manifest(
    server: &Server,
    auth: &str,
    id: &str,
    manifest: &Path,
) -> Result<(Child, PathBuf)> {
    let out = manifest.with_file_name(format!("answer-{id}.json"));
    let child = Command::new("curl")
        .args(["-sS", "-o"])
        .arg(&out)
        .args(["-w", "%{http_code}", "-H", auth, "-H"])
        .arg("Content-Type: application/json")
        .arg("-T")
        .arg(manifest)
        .arg(format!("{}/api/v1/artifacts/{id}/manifest", server.url()))
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run `curl`")?;
    Ok((child, out))
}
