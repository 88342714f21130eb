//! `cargo xtask api-fuzz`, also the `api fuzz` step of `cargo xtask test`: the real `cairn server`,
//! fuzzed from its own OpenAPI document with schemathesis, once anonymously and once signed in
//! as the server admin.
//!
//! * schemathesis is pinned ([`SCHEMATHESIS`]) and installed with pip into a venv of its own in
//!   the emulators' cache (see `crate::emulators::install`), once per pin.
//! * The server is the `cairn` binary the end-to-end scenarios test
//!   ([`crate::e2e::cairn_binary`]: built with the main test step's flags, or
//!   `CAIRN_E2E_BIN`), on a free loopback port with a fresh data directory in
//!   `<target>/api-fuzz/`, which is kept after the run with the server's log (`data.log`) and
//!   schemathesis' configuration.
//! * Seeding gives the fuzzer something real to hit (see [`seed`]); the names, ids and MD5s
//!   become schemathesis dictionaries, so a generated path parameter is a real one half the time.
//! * Each run generates at most [`MAX_EXAMPLES`] test cases per operation and phase, with a
//!   fixed seed (`CAIRN_API_FUZZ_SEED` picks another), and is killed after [`RUN_TIMEOUT`].
//!   The anonymous run goes first, because the signed-in one changes things (visibility,
//!   aliases, team roles).
//! * Either run fails the step when a [check](CHECKS) fails: a 5xx, an answer the document does
//!   not describe (status, content type, headers, body), or a request the document forbids
//!   that the server accepted anyway. schemathesis prints each failure with a `curl` line that
//!   reproduces it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use crate::bench::server::{self, Server};
use crate::cmd::Cmd;
use crate::e2e;
use crate::emulators::{PythonTool, cache_dir, ensure_python_tool};
use crate::workspace::Workspace;

/// schemathesis, pinned.
const SCHEMATHESIS: PythonTool = PythonTool {
    label: "api fuzz",
    name: "schemathesis",
    packages: &["schemathesis==4.32.5"],
};

/// Test cases per operation and phase.
const MAX_EXAMPLES: u32 = 25;

/// The seed, unless `CAIRN_API_FUZZ_SEED` gives another.
const DEFAULT_SEED: &str = "20261206";

/// How long one run may take before it is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(150);

/// The checks: everything schemathesis has but `positive_data_acceptance` (the document does not
/// spell out every naming rule, so schema-valid names can still be refused), the stateful
/// `use_after_free` and `ensure_resource_availability` (their inferred links pair a new run with
/// random version ids) and `object_level_authorization` (which needs a second user's key).
const CHECKS: &[&str] = &[
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
];

/// The document's path on the server (`cairn_api::routes::OPENAPI`).
const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// schemathesis' hooks: blob batches are raw bytes, sent as generated.
const HOOKS: &str = "import schemathesis\n\
    schemathesis.serializer.alias(\"application/vnd.cairn.blob-batch\", \"application/octet-stream\")\n";

/// Installs schemathesis, builds and starts `cairn server`, seeds it, and fuzzes it twice.
pub(crate) fn run(workspace: &Workspace) -> Result<()> {
    let bin = ensure_python_tool(&cache_dir()?, &SCHEMATHESIS)?;
    let nextest = workspace.cargo(["nextest", "--version"]).probe();
    let cairn = e2e::cairn_binary(workspace, nextest)?;
    let work = workspace.metadata()?.target_directory.join("api-fuzz");
    if work.exists() {
        fs_err::remove_dir_all(&work)?;
    }
    fs_err::create_dir_all(&work)?;
    let server = Server::start(&cairn, &work.join("data"), &server::admin_key())?;
    let seeded = seed(&cairn, &server, &work)?;
    println!(
        "api fuzz: seeded {} at {}: committed version {}, pending version {}, run {}",
        work.display(),
        server.url(),
        seeded.committed,
        seeded.pending,
        seeded.run
    );
    let hooks = work.join("hooks.py");
    fs_err::write(&hooks, HOOKS)?;
    let seed = std::env::var("CAIRN_API_FUZZ_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_owned());
    let mut failed = Vec::new();
    for (name, key) in [("anonymous", None), ("signed in", Some(server.admin_key()))] {
        let config = work.join(format!("{}.toml", name.replace(' ', "-")));
        fs_err::write(&config, config_text(&seeded, &hooks, key))?;
        let start = Instant::now();
        let result = schemathesis(&bin, &config, &server.url(), &seed, &work);
        let took = start.elapsed().as_secs_f64();
        match result {
            Ok(()) => println!("api fuzz: the {name} run passed in {took:.1}s"),
            Err(error) => {
                println!("api fuzz: the {name} run FAILED in {took:.1}s: {error:#}");
                failed.push(name);
            }
        }
    }
    let log = server.log_path().to_path_buf();
    server.stop()?;
    if !failed.is_empty() {
        bail!(
            "schemathesis found problems in the {} run (its report is above); the warnings and \
             errors of the server's log `{}`:\n{}",
            failed.join(" and the "),
            log.display(),
            server::warnings_and_errors(&log, 20)
        );
    }
    Ok(())
}

/// One schemathesis run against `url` with the configuration in `config`.
fn schemathesis(bin: &Path, config: &Path, url: &str, seed: &str, work: &Path) -> Result<()> {
    Cmd::new(bin.join("schemathesis"))
        .arg("--config-file")
        .arg(config)
        .args(["run", &format!("{url}{OPENAPI_PATH}"), "--url", url])
        .args(["--checks", &CHECKS.join(",")])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--seed", seed])
        .args(["--request-timeout", "30", "--generation-database", "none"])
        .current_dir(work)
        .run_with_timeout(RUN_TIMEOUT)
}

/// What [`seed`] created.
#[derive(Debug)]
struct Seeded {
    /// The id of `admin/demo/cats:v0`.
    committed: String,
    /// The id of the PENDING version of `admin/demo/dogs`.
    pending: String,
    /// The run that logged `cats:v0`.
    run: String,
    /// The MD5s of every file of both versions.
    md5s: Vec<String>,
}

/// Seeds the server: a PENDING version `admin/demo/dogs` whose manifest is uploaded but none
/// of its three blobs (one is small, one over 64 KiB), then `admin/demo/cats:v0` with two of
/// them, logged by `cairn artifact put` (which also records its run), so one blob stays
/// missing; `admin/demo` made public; a user `alice` and a team `vision`.
fn seed(cairn: &Path, server: &Server, work: &Path) -> Result<Seeded> {
    let home = work.join("home");
    let cli = |args: &[&str]| -> Result<String> {
        Cmd::new(cairn)
            .args(args)
            .env("HOME", &home.to_string_lossy())
            .env("CAIRN_CONFIG_DIR", &home.join("config").to_string_lossy())
            .env("CAIRN_CACHE_DIR", &home.join("cache").to_string_lossy())
            .env("CAIRN_BASE_URL", &server.url())
            .env("CAIRN_API_KEY", server.admin_key())
            .current_dir(work)
            .read_stdout()
    };
    let logged = work.join("files").join("logged");
    let pending = work.join("files").join("pending");
    let big: Vec<u8> = (0..70_000_u32).map(|index| (index % 251) as u8).collect();
    for dir in [&logged, &pending] {
        fs_err::create_dir_all(dir.join("sub"))?;
        fs_err::write(dir.join("a.txt"), "hello\n")?;
        fs_err::write(dir.join("sub").join("big.bin"), &big)?;
    }
    fs_err::write(pending.join("pending.txt"), "not uploaded\n")?;
    let pending_dir = path_arg(&pending)?;

    let digest = cli(&["manifest", pending_dir, "--digest"])?;
    let manifest = cli(&["manifest", pending_dir])?;
    let create = json!({
        "collection": "dogs",
        "artifact_type": "dataset",
        "digest": digest.trim(),
    });
    let created = server::json_request(
        server,
        server.admin_key(),
        "POST",
        "/api/v1/projects/admin/demo/artifacts",
        &create,
    )?;
    let pending_id = string_at(&created, "/version/id")?;
    let receipt = server::json_request(
        server,
        server.admin_key(),
        "PUT",
        &format!("/api/v1/artifacts/{pending_id}/manifest"),
        &manifest,
    )?;
    let md5s: Vec<String> = receipt["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|blob| blob["md5"].as_str().map(str::to_owned))
        .collect();
    ensure!(
        md5s.len() == 3,
        "the pending version's receipt should list three missing blobs: {receipt}"
    );

    let put: Value = serde_json::from_str(&cli(&[
        "artifact",
        "put",
        "--name",
        "admin/demo/cats",
        "--alias",
        "best",
        "--json",
        path_arg(&logged)?,
    ])?)
    .context("`cairn artifact put --json` printed invalid JSON")?;
    cli(&["project", "set", "--visibility", "public", "admin/demo"])?;
    cli(&["user", "create", "alice", "--json"])?;
    cli(&["team", "create", "vision"])?;
    Ok(Seeded {
        committed: string_at(&put, "/version/id")?,
        pending: pending_id,
        run: string_at(&put, "/version/logged_by")?,
        md5s,
    })
}

/// The configuration of one run: the hooks, the key (when signed in) and the dictionaries of
/// seeded values.
fn config_text(seeded: &Seeded, hooks: &Path, key: Option<&str>) -> String {
    let mut text = format!("hooks = {}\n", json!(hooks.to_string_lossy()));
    if let Some(key) = key {
        text.push_str(&format!(
            "headers = {{ Authorization = {} }}\n",
            json!(format!("Bearer {key}"))
        ));
    }
    let name_selectors = ["", ":latest", ":v0", ":best"]
        .iter()
        .map(|selector| format!("cats{selector}"))
        .collect::<Vec<_>>();
    let dictionaries: [(&str, Value); 9] = [
        ("entity", json!(["admin", "alice", "vision"])),
        ("username", json!(["admin", "alice"])),
        ("team", json!(["vision"])),
        ("project", json!(["demo"])),
        ("collection", json!(["cats", "dogs"])),
        ("name", json!(name_selectors)),
        ("run", json!([seeded.run])),
        ("id", json!([seeded.committed, seeded.pending])),
        ("md5", json!(seeded.md5s)),
    ];
    for (name, values) in &dictionaries {
        text.push_str(&format!("\n[dictionaries.{name}]\nvalues = {values}\n"));
    }
    text.push_str("\n[parameters]\n");
    for (name, _) in &dictionaries {
        text.push_str(&format!(
            "\"path.{name}\" = {{ dictionary = \"{name}\", probability = 0.5 }}\n"
        ));
    }
    text.push_str("\"body.artifact_id\" = { dictionary = \"id\", probability = 0.5 }\n");
    text
}

fn string_at(value: &Value, pointer: &str) -> Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("seeding: no string at `{pointer}` in {value}"))
}

fn path_arg(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("`{}` is not UTF-8", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_is_toml_with_a_dictionary_per_parameter() {
        let seeded = Seeded {
            committed: "c0ffee".to_owned(),
            pending: "beef".to_owned(),
            run: "run-1".to_owned(),
            md5s: vec!["00".to_owned()],
        };
        let text = config_text(&seeded, Path::new("/w/hooks.py"), Some("cairn-key"));
        assert!(text.starts_with(
            "hooks = \"/w/hooks.py\"\nheaders = { Authorization = \"Bearer cairn-key\" }\n"
        ));
        assert!(text.contains("[dictionaries.id]\nvalues = [\"c0ffee\",\"beef\"]\n"));
        assert!(text.contains("\"path.md5\" = { dictionary = \"md5\", probability = 0.5 }\n"));
        let anonymous = config_text(&seeded, Path::new("/w/hooks.py"), None);
        assert!(!anonymous.contains("Authorization"));
    }
}
