//! `cargo xtask bench`: benchmarks. They measure and report; they never fail on a slow result,
//! because shared machines are noisy. Only a broken setup (a command that cannot run) is an error.
//!
//! Each benchmark is a sibling module with its own arguments (`hash`, `cache`, `manifest`, `lineage`, `transfer`, `scale`). The
//! pieces they share live beside them: [`data`] generates deterministic datasets under the
//! target dir, [`measure`] times commands; `transfer` adds a server ([`server`], which
//! `crate::api_fuzz` uses too), an upload sink for curl ([`sink`]), its table ([`report`]) and
//! the W&B SDK as a baseline row ([`sdk_transfer`]).

mod cache;
mod data;
mod hash;
mod lineage;
mod manifest;
mod measure;
mod report;
mod scale;
mod sdk_transfer;
pub(crate) mod server;
mod sink;
mod transfer;
mod wandb;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::workspace::Workspace;

/// Arguments of `cargo xtask bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    benchmark: Benchmark,
}

#[derive(Debug, Subcommand)]
enum Benchmark {
    /// Hashing throughput: `cairn manifest` against md5sum (and the W&B SDK with --vs-wandb).
    Hash(hash::HashArgs),
    /// The local cache: checkout by link mode vs `cp -r`, re-hash with the stat cache vs without.
    Cache(cache::CacheArgs),
    /// Server memory while it ingests large manifests, one and several at once.
    Manifest(manifest::ManifestArgs),
    /// The lineage graph of a 10,000-node graph vs the direct lineage of its root.
    Lineage(lineage::LineageArgs),
    /// Put and get through a release `cairn server` vs md5sum + curl and `cp -r`, with peak RSS.
    Transfer(transfer::TransferArgs),
    /// Put and get time against file count (50k/200k/500k), peak RSS against file size.
    Scale(scale::ScaleArgs),
}

/// Runs the chosen benchmark.
pub(crate) fn run(workspace: &Workspace, args: BenchArgs) -> Result<()> {
    match args.benchmark {
        Benchmark::Hash(args) => hash::run(workspace, &args),
        Benchmark::Cache(args) => cache::run(workspace, &args),
        Benchmark::Manifest(args) => manifest::run(workspace, &args),
        Benchmark::Lineage(args) => lineage::run(workspace, &args),
        Benchmark::Transfer(args) => transfer::run(workspace, &args),
        Benchmark::Scale(args) => scale::run(workspace, &args),
    }
}
