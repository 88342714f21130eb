//! `cairn artifact put` and `cairn artifact get` with `--json`, parsed into what the scenarios
//! check: the status and version of a put with its transfer counters, and the summary of a get.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::harness::cli::{Cairn, utf8};
use crate::harness::{Server, User};

/// What `cairn artifact put --json` printed.
#[derive(Debug, Clone)]
pub(crate) struct Put {
    /// `created`, `resumed` or `existing`.
    pub(crate) status: String,
    /// `N` of the version's `vN`.
    pub(crate) version_index: u64,
    /// Blobs this run sent.
    pub(crate) uploaded_blobs: u64,
    /// Bytes of blob content this run sent.
    pub(crate) uploaded_bytes: u64,
    /// The whole answer.
    pub(crate) json: Value,
}

/// What `cairn artifact get --json` printed.
#[derive(Debug, Clone)]
pub(crate) struct Get {
    /// `N` of the version's `vN`.
    pub(crate) version_index: u64,
    /// Files materialised.
    pub(crate) files: u64,
    /// Bytes materialised.
    pub(crate) bytes: u64,
    /// Blobs fetched from the server (not served from the cache).
    pub(crate) fetched_blobs: u64,
    /// The whole answer.
    pub(crate) json: Value,
}

/// `cairn artifact put --name NAME --type dataset --json PATH`, not yet run.
pub(crate) fn put_command(user: &User, server: &Server, name: &str, path: &Path) -> Result<Cairn> {
    Ok(user.cairn(
        server,
        [
            "artifact",
            "put",
            "--name",
            name,
            "--type",
            "dataset",
            "--json",
            utf8(path)?,
        ],
    ))
}

/// Runs `cairn artifact put ... --json PATH`, which must succeed.
pub(crate) fn put(user: &User, server: &Server, name: &str, path: &Path) -> Result<Put> {
    let outcome = put_command(user, server, name, path)?.run()?.success()?;
    parse_put(outcome.json()?)
}

/// Reads the `--json` answer of a put.
pub(crate) fn parse_put(json: Value) -> Result<Put> {
    Ok(Put {
        status: string(&json, "/status")?,
        version_index: number(&json, "/version/version_index")?,
        uploaded_blobs: number(&json, "/uploaded_blobs")?,
        uploaded_bytes: number(&json, "/uploaded_bytes")?,
        json,
    })
}

/// Runs `cairn artifact get SPEC --root ROOT --json`, which must succeed.
pub(crate) fn get(user: &User, server: &Server, spec: &str, root: &Path) -> Result<Get> {
    let outcome = user
        .cairn(
            server,
            ["artifact", "get", spec, "--root", utf8(root)?, "--json"],
        )
        .run()?
        .success()?;
    let json = outcome.json()?;
    Ok(Get {
        version_index: number(&json, "/version/version_index")?,
        files: number(&json, "/files")?,
        bytes: number(&json, "/bytes")?,
        fetched_blobs: number(&json, "/fetched_blobs")?,
        json,
    })
}

fn number(json: &Value, pointer: &str) -> Result<u64> {
    json.pointer(pointer)
        .and_then(Value::as_u64)
        .with_context(|| format!("the `--json` output has no number at `{pointer}`: {json}"))
}

fn string(json: &Value, pointer: &str) -> Result<String> {
    json.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the `--json` output has no string at `{pointer}`: {json}"))
}
