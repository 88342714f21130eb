//! The stat cache in `add_file` and `add_dir`: a file whose (path, device, inode, size, mtime,
//! ctime) is unchanged since it was last hashed is not read again.
//!
//! Opt in with [`Artifact::with_stat_cache`]. Lookups use the canonical path of the file (for
//! `add_dir`, the canonical root joined with the walked relative path, so one `realpath` per
//! directory rather than per file). Files are stat'ed before hashing; the stat is recorded only
//! after hashing, and only if the file's mtime was not too recent to trust (the racy case, see
//! `cairn_cache::RACY_WINDOW`), so a file changed while or just after being hashed is hashed again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_cache::{FileStat, StatCache, StatSnapshot};
use cairn_hash::{Digests, FileHasher, hash_files};
use cairn_manifest::LogicalPath;

use crate::artifact::join_prefix;
use crate::{AddDirOptions, Artifact, ArtifactEntry, Error, Result};
use cairn_storage::file::walk_files_with_metadata;

impl Artifact {
    /// Remembers file digests in `stat_cache` and trusts them while a file's stat is unchanged,
    /// so adding an unchanged file again never re-reads it. The same stat cache may be shared
    /// by many artifacts, threads and processes.
    #[must_use]
    pub fn with_stat_cache(mut self, stat_cache: Arc<StatCache>) -> Self {
        self.stat_cache = Some(stat_cache);
        self
    }

    /// Whether the cached digests carry what this artifact's algorithm needs.
    fn usable(&self, digests: Digests) -> Option<Digests> {
        let needs_xxh128 = self.hash_options().algorithms().xxh128();
        (!needs_xxh128 || digests.xxh128.is_some()).then_some(digests)
    }

    /// Hashes one file, through the stat cache when there is one.
    pub(crate) fn hash_one(&self, path: &Path) -> Result<Digests> {
        let mut hasher = FileHasher::new(self.hash_options().algorithms());
        let Some(stat_cache) = &self.stat_cache else {
            return Ok(hasher.hash_file(path)?);
        };
        let canonical = fs_err::canonicalize(path).map_err(Error::io("resolve", path))?;
        let metadata =
            fs_err::metadata(&canonical).map_err(Error::io("read the metadata of", &canonical))?;
        let stat = FileStat::from_metadata(&metadata);
        if let Some(cached) = stat_cache.lookup(&canonical, &stat).map_err(cache_error)?
            && let Some(digests) = self.usable(cached.to_digests())
        {
            return Ok(digests);
        }
        let digests = hasher.hash_file(path)?;
        stat_cache
            .record([(canonical.as_path(), &stat, &digests)])
            .map_err(cache_error)?;
        Ok(digests)
    }

    /// `add_dir` with a stat cache: walk, stat every file in parallel, look each up in one
    /// snapshot of the cache, hash only the misses (in parallel), record them, then add
    /// everything all-or-nothing.
    pub(crate) fn add_dir_cached(
        &mut self,
        root: &Path,
        root_metadata: &std::fs::Metadata,
        options: &AddDirOptions,
        stat_cache: &StatCache,
    ) -> Result<usize> {
        // Everything but the entries is freed before they are added: adding them needs about
        // twice their size again for a moment, the peak of a large put.
        let entries = self.cached_dir_entries(root, root_metadata, options, stat_cache)?;
        let added = entries.len();
        self.add_all(entries, options.merge)?;
        Ok(added)
    }

    /// The entries [`add_dir_cached`](Self::add_dir_cached) adds.
    ///
    /// Each structure is dropped as soon as it has served: at 500,000 files the walk's listing
    /// (a `Metadata` per file) is about 150 MB, the cache keys 45 MB, the digests 40 MB.
    fn cached_dir_entries(
        &self,
        root: &Path,
        root_metadata: &std::fs::Metadata,
        options: &AddDirOptions,
        stat_cache: &StatCache,
    ) -> Result<Vec<ArtifactEntry>> {
        let walked = walk_files_with_metadata(root, root_metadata)?;
        // Only the paths and the stats are kept from the listing.
        let mut files = Vec::with_capacity(walked.len());
        let mut stats = Vec::with_capacity(walked.len());
        for file in walked {
            let stat = match &file.metadata {
                Some(metadata) => FileStat::from_metadata(metadata),
                None => fs_err::metadata(&file.path)
                    .map(|metadata| FileStat::from_metadata(&metadata))
                    .map_err(Error::io("read the metadata of", &file.path))?,
            };
            stats.push(stat);
            files.push((file.path, file.relative));
        }
        let canonical_root = fs_err::canonicalize(root).map_err(Error::io("resolve", root))?;
        let digests = {
            let snapshot = stat_cache
                .snapshot_under(&canonical_root)
                .map_err(cache_error)?;
            let keys: Vec<PathBuf> = files
                .iter()
                .map(|(_, relative)| canonical_root.join(relative))
                .collect();

            let mut digests: Vec<Option<Digests>> = Vec::with_capacity(files.len());
            let mut misses = Vec::new();
            for (index, (key, stat)) in keys.iter().zip(&stats).enumerate() {
                let hit = lookup(&snapshot, key, stat).and_then(|cached| self.usable(cached));
                if hit.is_none() {
                    misses.push(index);
                }
                digests.push(hit);
            }
            drop(snapshot);
            let miss_paths: Vec<&Path> = misses
                .iter()
                .map(|&index| files[index].0.as_path())
                .collect();
            let hashed = hash_files(&miss_paths, self.hash_options());
            drop(miss_paths);
            let mut to_record = Vec::with_capacity(misses.len());
            for (&index, result) in misses.iter().zip(hashed) {
                let result = result?;
                to_record.push(index);
                digests[index] = Some(result);
            }
            let recorded = to_record.iter().filter_map(|&index| {
                digests[index]
                    .as_ref()
                    .map(|digests| (keys[index].as_path(), &stats[index], digests))
            });
            stat_cache.record(recorded).map_err(cache_error)?;
            digests
        };
        drop(stats);

        let mut entries = Vec::with_capacity(files.len());
        for ((path, relative), digests) in files.into_iter().zip(digests) {
            let Some(digests) = digests else {
                continue;
            };
            let name = join_prefix(options.name.as_deref(), &relative);
            entries.push(ArtifactEntry {
                path: LogicalPath::new(&name)?,
                entry: self.file_entry(&digests, &path, options.skip_cache)?,
            });
        }
        Ok(entries)
    }
}

fn lookup(snapshot: &StatSnapshot, key: &Path, stat: &FileStat) -> Option<Digests> {
    snapshot.lookup(key, stat).map(|cached| cached.to_digests())
}

fn cache_error(error: cairn_cache::Error) -> Error {
    Error::StatCache(Box::new(error))
}
