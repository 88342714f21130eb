//! `add_reference`: entries that point at data outside the artifact.
//!
//! What a URI denotes is decided by `cairn-storage`'s handlers (`file://`, `http(s)://`, `s3://`,
//! `gs://`, Azure blob URLs; unknown schemes are tracked by URI alone). This file turns their
//! answers into artifact entries, all-or-nothing, and keeps the SDK's wording for its errors.

use std::sync::Arc;

use cairn_storage::{Handlers, ResolveOptions, ResolvedObject};

use crate::{Artifact, ArtifactEntry, Error, ReferenceOptions, Result};

/// Schemes the SDK resolves through logged artifacts, which need a server.
const ARTIFACT_SCHEMES: &[&str] = &["wandb-artifact", "wandb-client-artifact"];

impl Artifact {
    /// Adds a reference to data outside the artifact (the SDK's `add_reference`).
    ///
    /// * `file://` to a file: one entry named after the file; its digest is the MD5 of the
    ///   content (or, with `checksum` off, the MD5 of the resolved `file://` URI).
    /// * `file://` to a directory, or an `s3://`, `gs://` or Azure prefix: one entry per object
    ///   below it, named `name/relative path`; more than `max_objects` is an error and adds
    ///   nothing.
    /// * `http(s)://`: one entry whose digest is the `ETag` (or the URL).
    /// * an object-store URI naming one object: one entry whose digest is its ETag and whose
    ///   `extra` records the object version, so the exact bytes can be fetched later.
    /// * any scheme without a handler: one entry whose digest is the URI itself; `name` is then
    ///   required.
    ///
    /// With `checksum` off, remote stores are not contacted at all.
    pub fn add_reference(
        &mut self,
        uri: &str,
        options: &ReferenceOptions,
    ) -> Result<Vec<ArtifactEntry>> {
        self.ensure_draft("add_reference")?;
        let scheme = cairn_storage::uri_scheme(uri)
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| Error::NotAUri {
                uri: uri.to_owned(),
            })?;
        if ARTIFACT_SCHEMES.contains(&scheme.as_str()) {
            return Err(Error::UnsupportedScheme { scheme });
        }
        let mut resolve = ResolveOptions::new().with_checksum(options.checksum);
        if let Some(name) = &options.name {
            resolve = resolve.with_name(name.clone());
        }
        if let Some(max_objects) = options.max_objects {
            resolve = resolve.with_max_objects(max_objects);
        }
        if let Some(threads) = self.threads() {
            resolve = resolve.with_threads(threads);
        }
        let objects = resolve_blocking(Arc::clone(self.handlers()), uri, resolve).map_err(
            |error| match error {
                cairn_storage::Error::NotFound { .. } if scheme == "file" => {
                    Error::ReferenceNotFound {
                        uri: uri.to_owned(),
                        source: None,
                    }
                }
                other => Error::from(other),
            },
        )?;
        let entries: Vec<_> = objects
            .into_iter()
            .map(|ResolvedObject { path, entry }| ArtifactEntry { path, entry })
            .collect();
        self.add_all(entries.clone(), false)?;
        Ok(entries)
    }
}

/// Runs a resolution to completion from synchronous code. The storage layer is async; a
/// small runtime per call costs microseconds next to any listing or request. Called from inside
/// an async runtime, it runs on its own thread, because a runtime cannot block its own worker.
fn resolve_blocking(
    handlers: Arc<Handlers>,
    uri: &str,
    options: ResolveOptions,
) -> Result<Vec<ResolvedObject>, cairn_storage::Error> {
    let run = move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| cairn_storage::Error::Io {
                action: "start the I/O runtime for",
                path: uri.into(),
                source,
            })?;
        runtime.block_on(handlers.resolve_all(uri, &options))
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| scope.spawn(run).join())
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    } else {
        run()
    }
}
