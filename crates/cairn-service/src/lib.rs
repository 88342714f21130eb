//! Cairn's domain: accounts and API keys, access decisions, projects, collections, artifact
//! versions (create, resume, manifest ingest, commit, labels, edits), blobs (received while
//! hashing from any byte stream, read, packed or stored), runs and lineage. It knows nothing of
//! HTTP: every front-end of `cairn-server` (the native REST API today; the W&B protocol and the
//! web UI next) parses its requests, calls one function of [`Service`] with the [`Caller`] and
//! typed inputs, and maps the domain [`Error`] to its own answer in one place.
//!
//! # How it is built
//!
//! * **Metadata in SQLite** (`data_dir/cairn.sqlite`, WAL, one writer connection, a reader
//!   pool, migrations keyed by `PRAGMA user_version`). Each aggregate's SQL lives in its own
//!   module under `db/`, so a second database can be added behind the same functions.
//! * **Blobs** are content addressed by (MD5, size) and stored once; small ones packed into
//!   `packed.sqlite`, larger ones in a [`cairn_storage::BlobStore`]. An upload is skipped only
//!   for bytes the caller could already read (`db/presence.rs`).
//! * **Access**: see [`access`]: what a caller may not read answers `NotFound`.
//! * **Garbage collection** ([`gc`]) removes blobs no live version references, after a grace
//!   period, racing uploads and surviving crashes without losing a referenced blob.
//!
//! # What it is not
//!
//! Not a front-end: it depends on neither axum, http nor `cairn-api`, and never prints.

#![warn(missing_docs)]

pub mod access;
mod accounts;
mod blobs;
mod body;
pub mod capability;
mod clock;
mod db;
mod delete;
mod error;
pub mod gc;

mod keys;
pub mod lineage;
mod links;
pub mod logging;
pub mod model;
mod projects;
pub mod retention;
mod runs;
mod service;
pub mod sessions;
pub mod staging;
mod store;
mod validate;
mod versions;

pub use crate::access::{API_KEY_PREFIX, Caller};
pub use crate::blobs::{BATCH_BLOB_MAX_SIZE, PACK_MAX_SIZE};
pub use crate::body::ByteStream;
pub use crate::clock::Clock;
pub use crate::db::runs::CRASHED_AFTER;
pub use crate::error::{Error, Kind, OpenError, Refusal, Result, error_chain};
pub use crate::keys::{MAX_API_KEY_LIFETIME, MAX_API_KEY_NAME};
pub use crate::links::MODEL_REGISTRY_PROJECT;
pub use crate::service::{ADMIN_USERNAME, BlobStoreConfig, Bootstrap, Config, Service};
/// The digest type of the domain's model, re-exported so front-ends need no edge to `cairn-hash`.
pub use cairn_hash::Md5Digest;
/// The alias that always names a collection's newest version.
pub use cairn_manifest::LATEST_ALIAS;

#[cfg(test)]
mod tests {
    /// The domain functions hold no SQL: each aggregate's statements live in its module under
    /// `db/` (and the packed-blob store in `blobs.rs`), so a second database is a new set of
    /// those modules, not a change to the rules.
    #[test]
    fn sql_lives_only_under_db() -> Result<(), std::io::Error> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        for entry in fs_err::read_dir(&src)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("");
            if !name.ends_with(".rs") || name == "blobs.rs" || name == "lib.rs" {
                continue;
            }
            let text = fs_err::read_to_string(&path)?;
            for needle in [
                "prepare_cached(",
                ".execute(",
                "query_row(",
                "query_map(",
                "blob_open(",
            ] {
                if text.contains(needle) {
                    offenders.push(format!("{name}: {needle}"));
                }
            }
        }
        assert!(offenders.is_empty(), "SQL outside db/: {offenders:?}");
        Ok(())
    }
}
