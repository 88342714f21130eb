//! `cargo xtask bench lineage`: how long the lineage graph of a 10,000-node graph takes.
//!
//! A release `cairn server` on a fresh data directory gets one root version and `--runs` runs
//! (5,000 by default) that each use it and log a version of their own: 1 + 2 × runs nodes
//! (10,001), all within two hops of the root. The graph of the root (`depth=2`, both
//! directions, one page of up to 10,000 nodes, then the rest) is timed, median of `--repeat`,
//! against a baseline measured in the same run on the same data: the direct lineage of the root
//! (`GET .../lineage`: its logging run and the 5,000 runs that used it), which reads a similar
//! number of rows without walking. The goal is under 1 s for the whole graph.
//!
//! Seeding goes through the native HTTP API from 8 threads (five requests per run).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::bench::hash::cairn_binary;
use crate::bench::measure::median;
use crate::bench::server::{Server, http_request};
use crate::cmd::Cmd;
use crate::workspace::Workspace;

/// Arguments of `cargo xtask bench lineage`.
#[derive(Debug, Args)]
pub(crate) struct LineageArgs {
    /// Runs that each use the root and log one version (nodes = 1 + 2 × runs).
    #[arg(long, default_value_t = 5000)]
    runs: u32,
    /// Timed repetitions of each request (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeat: u32,
}

const PROJECT: &str = "/api/v1/projects/admin/lineage-bench";

/// Runs the benchmark and prints its table.
pub(crate) fn run(workspace: &Workspace, args: &LineageArgs) -> Result<()> {
    let target_dir = workspace.metadata()?.target_directory;
    let work = target_dir.join("bench-lineage");
    if work.exists() {
        fs_err::remove_dir_all(&work)?;
    }
    fs_err::create_dir_all(work.join("empty"))?;
    let cairn = cairn_binary(workspace, &target_dir)?;
    let digest = empty_digest(&cairn, &work.join("empty"))?;
    let server = Server::start(
        &cairn,
        &work.join("data"),
        &crate::bench::server::admin_key(),
    )?;
    let seeding = Instant::now();
    let root = seed(&server, &digest, args.runs)?;
    println!(
        "seeded {} runs and {} versions in {:.1} s",
        args.runs,
        args.runs + 1,
        seeding.elapsed().as_secs_f64()
    );
    let mut graph_times = Vec::new();
    let mut nodes = 0;
    for _ in 0..args.repeat {
        let started = Instant::now();
        nodes = whole_graph(&server, &root)?;
        graph_times.push(started.elapsed());
    }
    let mut direct_times = Vec::new();
    for _ in 0..args.repeat {
        let started = Instant::now();
        let (status, body) = call(
            &server,
            "GET",
            &format!("/api/v1/artifacts/{root}/lineage"),
            None,
        )?;
        direct_times.push(started.elapsed());
        if status != 200 {
            bail!("the direct lineage answered {status}: {body}");
        }
    }
    server.stop()?;
    let graph = median(&mut graph_times);
    let direct = median(&mut direct_times);
    println!();
    println!(
        "| request | nodes | median of {} | vs baseline |",
        args.repeat
    );
    println!("|---|---|---|---|");
    println!(
        "| direct lineage of the root (baseline) | {} | {:.1} ms | 1.00× |",
        args.runs + 1,
        ms(direct)
    );
    println!(
        "| lineage graph, depth 2, both ways | {nodes} | {:.1} ms | {:.2}× |",
        ms(graph),
        graph.as_secs_f64() / direct.as_secs_f64().max(1e-9)
    );
    println!(
        "goal: the whole graph under 1 s: {}",
        if graph < Duration::from_secs(1) {
            "met"
        } else {
            "NOT met"
        }
    );
    fs_err::remove_dir_all(&work)?;
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The artifact digest of an empty manifest, as `cairn manifest` computes it.
fn empty_digest(cairn: &Path, empty: &Path) -> Result<String> {
    let output = Cmd::new(cairn)
        .args(["manifest", "--digest"])
        .arg(empty)
        .read_stdout()
        .context("`cairn manifest --digest` of an empty directory")?;
    let digest = output.trim().to_owned();
    if digest.len() != 32 {
        bail!("`cairn manifest --digest` printed `{digest}`, not an MD5");
    }
    Ok(digest)
}

fn call(server: &Server, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, String)> {
    let bytes = body.map(|body| body.to_string().into_bytes());
    http_request(
        server.address(),
        method,
        path,
        Some(server.admin_key()),
        bytes.as_deref().map(|bytes| ("application/json", bytes)),
    )
}

fn expect_ok(what: &str, answer: (u16, String)) -> Result<Value> {
    let (status, body) = answer;
    if !(200..300).contains(&status) {
        bail!("{what} answered {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("{what} answered no JSON: {body}"))
}

/// Logs an empty version of `collection` (by `run`, if any) and returns its id.
fn log_empty(server: &Server, digest: &str, collection: &str, run: Option<&str>) -> Result<String> {
    let created = expect_ok(
        "creating a version",
        call(
            server,
            "POST",
            &format!("{PROJECT}/artifacts"),
            Some(
                &json!({ "collection": collection, "artifact_type": "dataset", "digest": digest, "run": run }),
            ),
        )?,
    )?;
    let id = created["version"]["id"]
        .as_str()
        .context("a created version has no id")?
        .to_owned();
    let manifest = br#"{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {"storageLayout": "V2"}, "contents": {}}"#;
    let (status, body) = http_request(
        server.address(),
        "PUT",
        &format!("/api/v1/artifacts/{id}/manifest"),
        Some(server.admin_key()),
        Some(("application/json", manifest)),
    )?;
    if status != 200 {
        bail!("uploading a manifest answered {status}: {body}");
    }
    expect_ok(
        "committing",
        call(
            server,
            "POST",
            &format!("/api/v1/artifacts/{id}/commit"),
            None,
        )?,
    )?;
    Ok(id)
}

/// The root version and `runs` runs that use it and log one version each; returns the root.
fn seed(server: &Server, digest: &str, runs: u32) -> Result<String> {
    let root = log_empty(server, digest, "root", None)?;
    let next = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (next, root, digest) = (Arc::clone(&next), root.clone(), digest.to_owned());
            let address = server.address();
            let key = server.admin_key().to_owned();
            std::thread::spawn(move || -> Result<()> {
                let server = SeedTarget { address, key };
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= runs {
                        return Ok(());
                    }
                    server.run(index, &root, &digest)?;
                }
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
    }
    Ok(root)
}

/// What a seeding thread needs of the server.
struct SeedTarget {
    address: std::net::SocketAddr,
    key: String,
}

impl SeedTarget {
    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<(u16, String)> {
        http_request(
            self.address,
            method,
            path,
            Some(&self.key),
            body.map(|bytes| ("application/json", bytes)),
        )
    }

    fn run(&self, index: u32, root: &str, digest: &str) -> Result<()> {
        let run = format!("run-{index:06}");
        let create = json!({ "id": run, "job_type": "bench" }).to_string();
        expect_ok(
            "creating a run",
            self.call("POST", &format!("{PROJECT}/runs"), Some(create.as_bytes()))?,
        )?;
        let used = json!({ "artifact_id": root }).to_string();
        expect_ok(
            "recording an input",
            self.call(
                "POST",
                &format!("{PROJECT}/runs/{run}/inputs"),
                Some(used.as_bytes()),
            )?,
        )?;
        let version = json!({ "collection": format!("out-{index:06}"), "artifact_type": "dataset", "digest": digest, "run": run }).to_string();
        let created = expect_ok(
            "creating a version",
            self.call(
                "POST",
                &format!("{PROJECT}/artifacts"),
                Some(version.as_bytes()),
            )?,
        )?;
        let id = created["version"]["id"]
            .as_str()
            .context("no version id")?
            .to_owned();
        let manifest = br#"{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {"storageLayout": "V2"}, "contents": {}}"#;
        let (status, body) = self.call(
            "PUT",
            &format!("/api/v1/artifacts/{id}/manifest"),
            Some(manifest),
        )?;
        if status != 200 {
            bail!("uploading a manifest answered {status}: {body}");
        }
        expect_ok(
            "committing",
            self.call("POST", &format!("/api/v1/artifacts/{id}/commit"), None)?,
        )?;
        Ok(())
    }
}

/// Fetches every page of the root's graph; returns the node count.
fn whole_graph(server: &Server, root: &str) -> Result<usize> {
    let mut after = 0;
    let mut nodes = 0;
    loop {
        let page = expect_ok(
            "the lineage graph",
            call(
                server,
                "GET",
                &format!(
                    "/api/v1/artifacts/{root}/lineage/graph?depth=2&direction=both&after={after}&limit=10000"
                ),
                None,
            )?,
        )?;
        nodes += page["nodes"].as_array().map_or(0, Vec::len);
        match page["next"].as_u64() {
            Some(next) => after = usize::try_from(next).unwrap_or(usize::MAX),
            None => return Ok(nodes),
        }
    }
}
