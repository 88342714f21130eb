//! `verify`: re-hash a directory against a logged artifact's manifest and list every
//! difference (missing, extra and changed files) in one error.
//!
//! As in the SDK, reference entries are not re-hashed (their bytes live elsewhere); their paths
//! still count as members, so a downloaded reference is not reported as extra.

use std::path::{Path, PathBuf};

use cairn_hash::{Algorithms, ParallelOptions};
use cairn_manifest::{DigestAlgorithm, Entry};

use crate::{Error, LoggedArtifact, Phase, Result, paths};

impl LoggedArtifact {
    /// Checks that `root` holds exactly the artifact's files with their recorded content.
    /// [`Error::VerifyFailed`] lists what differs.
    pub async fn verify(&self, root: &Path) -> Result<()> {
        let manifest = self.manifest().await?;
        let mut extra = Vec::new();
        for (relative, _) in paths::walk(root)? {
            if manifest.get(&relative).is_none() {
                extra.push(relative);
            }
        }
        let mut missing = Vec::new();
        let mut changed = Vec::new();
        let mut to_hash: Vec<(String, PathBuf, Entry)> = Vec::new();
        for (path, entry) in manifest.entries() {
            if entry.is_reference() {
                continue;
            }
            let Ok(destination) = paths::check_no_symlinks(root, path) else {
                changed.push(path.to_string());
                continue;
            };
            match fs_err::symlink_metadata(&destination) {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    missing.push(path.to_string());
                }
                Err(error) => return Err(Error::io("inspect", &destination)(error)),
                Ok(metadata) if !metadata.is_file() || Some(metadata.len()) != entry.size => {
                    changed.push(path.to_string());
                }
                Ok(_) => to_hash.push((path.to_string(), destination, entry.clone())),
            }
        }
        changed.extend(self.hash_and_compare(to_hash).await?);
        changed.sort();
        if missing.is_empty() && extra.is_empty() && changed.is_empty() {
            return Ok(());
        }
        Err(Error::VerifyFailed {
            root: root.to_owned(),
            missing,
            extra,
            changed,
        })
    }

    /// Hashes the files on all cores; returns the paths whose digest differs.
    async fn hash_and_compare(&self, files: Vec<(String, PathBuf, Entry)>) -> Result<Vec<String>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let progress = self.client.progress_arc();
        tokio::task::spawn_blocking(move || {
            let needs_xxh128 = files
                .iter()
                .any(|(_, _, entry)| entry.digest_algorithm() == DigestAlgorithm::Xxh128);
            let algorithms = if needs_xxh128 {
                Algorithms::MD5.with_xxh128()
            } else {
                Algorithms::MD5
            };
            let total = files
                .iter()
                .map(|(_, _, entry)| entry.size.unwrap_or(0))
                .fold(0, u64::saturating_add);
            progress.start(Phase::Hash, files.len() as u64, total);
            let paths: Vec<&Path> = files.iter().map(|(_, path, _)| path.as_path()).collect();
            let results = cairn_hash::hash_files(&paths, ParallelOptions::new(algorithms));
            let mut changed = Vec::new();
            for ((name, _, entry), result) in files.iter().zip(results) {
                let actual = result
                    .ok()
                    .and_then(|digests| match entry.digest_algorithm() {
                        DigestAlgorithm::Xxh128 => digests.xxh128.map(|digest| digest.to_base64()),
                        DigestAlgorithm::Md5 => Some(digests.md5.to_base64()),
                    });
                if actual.as_deref() != Some(entry.digest.as_str()) {
                    changed.push(name.clone());
                }
                progress.advance(Phase::Hash, 1, entry.size.unwrap_or(0));
            }
            progress.finish(Phase::Hash);
            changed
        })
        .await
        .map_err(|error| Error::Io {
            action: "hash the files under",
            path: PathBuf::from("the verified root"),
            source: std::io::Error::other(error.to_string()),
        })
    }
}
