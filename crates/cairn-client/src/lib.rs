//! Cairn's user-facing API: build artifacts the way the W&B SDK does, then (in later versions)
//! log and use them against a Cairn server.
//!
//! Today this crate holds the draft [`Artifact`]: the SDK's `add_file`, `add_dir`, `new_file`,
//! `add_reference` and `remove`, with the SDK's naming, same-path and digest rules, so that the
//! manifest and the artifact digest come out byte-identical to what `wandb` would produce.
//!
//! # Example
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
//! * Every `add_*` call is all-or-nothing: it hashes and validates everything first and only then
//!   changes the manifest, so an error (a clash, a bad name, an unreadable file) loses nothing.
//! * Files are hashed on all cores and each byte is read once (see `cairn-hash`).
//! * Nothing is staged: the SDK copies every `mutable` file before upload; Cairn records the
//!   original path and re-checks digests when it uploads.

#![warn(missing_docs)]

mod artifact;
mod error;
mod local;
mod options;
mod reference;
mod stat;

pub use artifact::{Artifact, ArtifactEntry};
pub use error::{Error, Result};
pub use options::{AddDirOptions, AddFileOptions, DEFAULT_MAX_OBJECTS, Policy, ReferenceOptions};
