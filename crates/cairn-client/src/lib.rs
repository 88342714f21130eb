//! Cairn's user-facing API: build artifacts the way the W&B SDK does, log them to a Cairn
//! server, find them again and download them.
//!
//! # Key types
//!
//! * [`Artifact`]: the draft. The SDK's `add_file`, `add_dir`, `new_file`, `add_reference` and
//!   `remove`, with the SDK's naming, same-path and digest rules, so the manifest and the
//!   artifact digest come out byte-identical to what `wandb` would produce.
//! * [`Client`]: one connection to a server ([`Settings`]: base URL and API key, from
//!   `CAIRN_BASE_URL` / `CAIRN_API_KEY` or the saved login), with the retry policy, the
//!   transfer concurrency, a [`Progress`] sink and the local cache (`cairn-cache`).
//! * Incremental versions: [`Artifact::new_draft`] (or [`LoggedArtifact::new_draft`]) starts a
//!   draft from a committed version's manifest; add, remove or replace entries and log it as
//!   the next version. Unchanged entries keep their digest, size and `birthArtifactID` and are
//!   neither re-hashed nor re-uploaded; [`Artifact::changes`] says what differs.
//! * [`Run`]: logs drafts ([`Run::log_artifact`]) and records what it uses
//!   ([`Run::use_artifact`]); together that is the lineage.
//! * Distributed versions: many runs (processes, machines) each
//!   [`upsert_artifact`](Run::upsert_artifact) their own files into one PENDING version named
//!   by a distributed id, and one [`finish_artifact`](Run::finish_artifact)s it: the server
//!   commits the union. A path given different contents by two writers is refused, naming both.
//! * [`Table`] and [`PartitionedTable`]: W&B tables as the SDK writes them into artifacts
//!   ([`Artifact::add_table`], [`LoggedArtifact::get_table`]), so tables pass between the SDK
//!   and Cairn in both directions.
//! * [`Api`] and [`LoggedArtifact`]: look up `entity/project/name:alias`, read the manifest,
//!   [`download`](LoggedArtifact::download), [`checkout`](LoggedArtifact::checkout),
//!   [`verify`](LoggedArtifact::verify), edit description, metadata, aliases and tags.
//! * [`enum@Error`]: one error type; SDK wording where the SDK has some, and
//!   [`Error::code`] gives the server's machine code for exit codes.
//!
//! # Example
//!
//! ```no_run
//! use cairn_client::{
//!     AddDirOptions, Api, Artifact, Client, DownloadOptions, Run, RunOptions,
//! };
//!
//! # async fn example() -> cairn_client::Result<()> {
//! let client = Client::from_env()?;
//!
//! // Build a draft: files are hashed here, once.
//! let mut artifact = Artifact::new("cats", "dataset")?;
//! artifact.add_dir(std::path::Path::new("data/cats"), &AddDirOptions::default())?;
//!
//! // Log it: only the blobs the server lacks are uploaded.
//! let run = Run::init(&client, RunOptions::new("vision").with_job_type("upload")).await?;
//! let logged = run.log_artifact(&mut artifact, &["best".to_owned()]).await?;
//! println!("{} ({:?}, {} bytes sent)", logged.artifact.qualified_name(), logged.status, logged.uploaded_bytes);
//! run.finish(0).await?;
//!
//! // Elsewhere: find it and download it through the local cache.
//! let api = Api::new(client);
//! let cats = api.artifact("vision/cats:best").await?;
//! let downloaded = cats.download(&DownloadOptions::default().with_root("cats")).await?;
//! cats.verify(&downloaded.root).await?;
//! # Ok(())
//! # }
//! ```
//!
//! A draft works offline too:
//!
//! ```
//! use cairn_client::{AddDirOptions, AddFileOptions, Artifact};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::create_dir(dir.path().join("train"))?;
//! std::fs::write(dir.path().join("train/part-0.csv"), "id,value\n1,0.5\n")?;
//! std::fs::write(dir.path().join("hello.txt"), "hello world\n")?;
//!
//! let mut artifact = Artifact::new("my-dataset", "dataset")?;
//! artifact.add_file(&dir.path().join("hello.txt"), &AddFileOptions::default())?;
//! artifact.add_dir(&dir.path().join("train"), &AddDirOptions::default().with_name("train"))?;
//! let manifest = artifact.manifest();
//! assert_eq!(manifest.get("hello.txt").map(|entry| entry.digest.as_str()), Some("b1kCrCNwJL3QwXbLkwY9xA=="));
//! assert_eq!(manifest.len(), 2);
//! println!("{} {}", artifact.digest(), manifest.to_python_json());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Design notes
//!
//! * **Every `add_*` call is all-or-nothing**: it hashes and validates everything first and only
//!   then changes the manifest, so an error (a clash, a bad name, an unreadable file) loses
//!   nothing. Files are hashed on all cores, each byte read once (see `cairn-hash`).
//! * **Nothing is copied aside or hashed twice.** The SDK copies every `mutable` file before
//!   upload; Cairn records the original path and streams it at upload time. The server re-hashes
//!   what it receives and refuses a blob that no longer matches, which surfaces as
//!   [`Error::FileChanged`] naming the file. With [`Artifact::add_dir_staged`] a large new file
//!   is sent while it is hashed, so it is read once and both MD5s (ours, the server's) run at
//!   the same time.
//! * **The log protocol** (see `cairn-api`): create the version; if the latest version has the
//!   same digest, stop (nothing is sent); else send the manifest, upload only the blobs the
//!   server reports missing — small ones in batches, large ones streamed — and commit. A commit
//!   that still finds blobs missing uploads them and tries again. An interrupted log resumes:
//!   the server hands back the PENDING version and asks only for what it still lacks.
//! * **Retries**: connection failures, timeouts, 408, 429, 5xx and transient problem codes are
//!   retried with exponential backoff and jitter, honouring `Retry-After` ([`RetryPolicy`]).
//!   Every request body can be rebuilt (uploads re-open their file), so a retry resends it.
//! * **Memory does not grow with file size.** Uploads stream from the file; downloads stream
//!   into the cache's verified insert (or, with `skip_cache`, into a verified temporary file)
//!   through a bounded channel.
//! * **Downloads never write outside the root**: entry paths are [`cairn_manifest::LogicalPath`]s,
//!   and a symlink already inside the root is never written through ([`Error::UnsafePath`]).
//! * **This crate never prints.** Progress goes to a [`Progress`] implementation; diagnostics to
//!   `tracing`.

#![warn(missing_docs)]

mod admin;
mod artifact;
mod client;
mod distributed;
mod download;
mod draft;
mod error;
mod local;
mod logged;
mod options;
mod paths;
mod progress;
mod reference;
mod retry;
mod run;
mod settings;
mod stage;
mod stat;
mod table;
mod transfer;
mod upload;
mod verify;

pub use artifact::{Artifact, ArtifactEntry};
pub use client::{CONCURRENCY_ENV, Client, DEFAULT_CONCURRENCY, DEFAULT_READ_TIMEOUT};
pub use distributed::Upserted;
pub use download::{DownloadOptions, Downloaded};
pub use draft::Changes;
pub use error::{Error, Result};
pub use logged::{Api, LoggedArtifact};
pub use options::{AddDirOptions, AddFileOptions, DEFAULT_MAX_OBJECTS, Policy, ReferenceOptions};
pub use progress::{NoProgress, Phase, Progress};
pub use retry::RetryPolicy;
pub use run::{Run, RunOptions};
pub use settings::{API_KEY_ENV, BASE_URL_ENV, CONFIG_DIR_ENV, DEFAULT_BASE_URL, Settings};
pub use stage::STAGE_MIN_SIZE;
pub use table::{
    MAX_ARTIFACT_ROWS, PARTITIONED_TABLE_SUFFIX, PartitionedTable, TABLE_SUFFIX, Table,
};
pub use upload::Logged;
