//! The W&B-compatible artifact manifest: the data model, both serialisations, the artifact
//! digest, and the path and name rules of the official SDK.
//!
//! A manifest lists the entries of one artifact version: for every logical path, the digest of
//! its content (or the URI of the external data it references), its size and a few extras. This
//! crate builds, validates, hashes, writes and parses manifests so that they are
//! interchangeable with those of the `wandb` Python SDK 0.31.0 and its `wandb-core` uploader,
//! byte for byte where bytes matter. The specification is `FORMAT.md` in the project's shared
//! W&B notes; section numbers below refer to it.
//!
//! This crate is pure: no file system, no network, no async. Hashing files, staging uploads and
//! talking to servers belong to the crates above it; they hand this crate digests and strings.
//!
//! # Key types
//!
//! * [`Manifest`]: the storage-policy configuration plus entries sorted by path; the same-path
//!   rule ([`Manifest::add`]), `remove`, size, the digest preimage and the artifact digest.
//! * [`Entry`]: one file or reference entry.
//! * [`LogicalPath`]: a validated, normalised entry path that cannot leave the artifact root.
//! * [`DigestAlgorithm`]: `MANIFEST_MD5` or `MANIFEST_XXH128`.
//! * Validators for artifact names, types, aliases, tags, metadata, download-root and project
//!   names, with the SDK's error messages ([`validate_artifact_name`] and friends).
//! * [`enum@Error`]: one error type whose `Display` is the SDK's message wherever the SDK has one.
//!
//! # Example
//!
//! ```
//! use cairn_manifest::{DigestAlgorithm, Entry, LogicalPath, Manifest};
//!
//! let mut manifest = Manifest::new();
//! manifest.add(LogicalPath::new("hello.txt")?, Entry::file("b1kCrCNwJL3QwXbLkwY9xA==", 12), false)?;
//! manifest.add(
//!     LogicalPath::new("./refs//data.csv")?,
//!     Entry::reference("s3://bucket/data.csv", "s3://bucket/data.csv", None),
//!     false,
//! )?;
//!
//! // The artifact digest hashes only paths and digests, in sorted order.
//! assert_eq!(
//!     manifest.digest_preimage(),
//!     "wandb-artifact-manifest-v1\nhello.txt:b1kCrCNwJL3QwXbLkwY9xA==\nrefs/data.csv:s3://bucket/data.csv\n"
//! );
//! let digest = manifest.digest(DigestAlgorithm::Md5);
//! assert_eq!(digest.len(), 32);
//!
//! // What the SDK's `json.dumps(manifest.to_manifest_json())` prints ...
//! assert_eq!(
//!     manifest.to_python_json(),
//!     concat!(
//!         r#"{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "#,
//!         r#""storagePolicyConfig": {"storageLayout": "V2"}, "contents": {"#,
//!         r#""hello.txt": {"digest": "b1kCrCNwJL3QwXbLkwY9xA==", "size": 12}, "#,
//!         r#""refs/data.csv": {"digest": "s3://bucket/data.csv", "ref": "s3://bucket/data.csv"}}}"#,
//!     )
//! );
//! // ... and the `wandb_manifest.json` bytes `wandb-core` uploads.
//! let core = manifest.to_core_json();
//! assert!(core.starts_with(r#"{"version":1,"storagePolicy":"wandb-storage-policy-v1","#));
//! assert!(core.contains(r#""refs/data.csv":{"digest":"s3://bucket/data.csv","ref":"s3://bucket/data.csv","size":0,"skip_cache":false}"#));
//!
//! // Both parse back.
//! assert_eq!(Manifest::from_json(&manifest.to_python_json())?, manifest);
//! assert_eq!(Manifest::from_json(&core)?.digest(DigestAlgorithm::Md5), digest);
//! # Ok::<(), cairn_manifest::Error>(())
//! ```
//!
//! # Why it is built this way
//!
//! * **Two serialisations.** The SDK works with a Python dict (`to_manifest_json()`, §2.2:
//!   insertion order, optional `size`, no `local_path`), while the file that is actually
//!   uploaded is written by the Go core (§2.3: sorted keys, `size` and `skip_cache` always
//!   present, HTML-safe escaping, `extra` numbers as float64). The upload is identified by the
//!   MD5 of the core's bytes, so [`Manifest::to_core_json`] reproduces Go's `encoding/json`
//!   exactly ([`Manifest::core_json_chunks`] writes the same bytes a chunk at a time, for
//!   manifests too large to hold as one string); [`Manifest::to_python_value`] and [`Manifest::to_python_json`] give the SDK's view.
//!   [`Manifest::from_json`] reads both.
//! * **Sorted entries.** Entries are kept in a `BTreeMap` keyed by path. Byte order of UTF-8 is
//!   code-point order, which is what the digest (§3.3) and the core both sort by; the SDK's own
//!   insertion order depends on thread scheduling and carries no meaning.
//! * **Paths are a type.** [`LogicalPath`] can only hold a path that stays inside the artifact
//!   root on POSIX and on Windows, so code further up never joins an unchecked string onto a
//!   directory. Cairn is stricter than the SDK in two places: [`LogicalPath::new`] also rejects
//!   control characters, and [`Manifest::from_json`] validates keys (the SDK loads `../evil`
//!   and only fails when the file is materialised, §8.5). Keys read from a manifest must already
//!   be normalised, because rewriting one would change the digest the version was published
//!   under; control characters other than NUL are tolerated there, because real SDK manifests
//!   contain them.
//! * **SDK messages.** Error text is compared with the SDK's in the compatibility vectors, so
//!   values are quoted with a re-implementation of Python's `repr()`, and Python's Unicode
//!   predicates (`\w`, `isnumeric`, `isprintable`) are reproduced with small tables.
//! * **Digests are strings.** Entry digests are not always hashes (references use ETags or the
//!   URI itself), so [`Entry::digest`] is a `String`; `cairn-hash` parses it when it is one.

#![warn(missing_docs)]

mod alias;
mod core_json;
mod digest;
mod entry;
mod error;
mod manifest;
mod metadata;
mod parse;
mod path;
mod python_json;
mod python_repr;
mod unicode_tables;
mod validate;

pub use alias::{LATEST_ALIAS, is_version_alias, resolve_aliases, validate_aliases, validate_tags};
pub use core_json::{CoreJsonChunks, CoreJsonOptions};
pub use digest::{
    ArtifactDigester, DigestAlgorithm, PREIMAGE_HEADER, artifact_digest_of, digest_preimage_of,
};
pub use entry::{Entry, Extras};
pub use error::{Error, Result};
pub use manifest::{
    MANIFEST_VERSION, Manifest, STORAGE_POLICY, StorageLayout, StoragePolicyConfig,
};
pub use metadata::{MAX_METADATA_KEYS, metadata_number, validate_metadata};
pub use parse::{ReadError, read_manifest};
pub use path::{LogicalPath, normalize_posix};
pub use python_json::python_json_dumps;
pub use validate::{
    MAX_ENTITY_NAME_LENGTH, MAX_NAME_LENGTH, REGISTRY_PREFIX, validate_artifact_name,
    validate_artifact_type, validate_download_root_name, validate_entity_name,
    validate_project_name,
};
