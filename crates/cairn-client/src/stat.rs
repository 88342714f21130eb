//! The stat cache in `add_file` and `add_dir`: a file whose (path, device, inode, size, mtime,
//! ctime) is unchanged since it was last hashed is not read again.
//!
//! Opt in with [`Artifact::with_stat_cache`]. Lookups use the canonical path of the file (for
//! `add_dir`, the canonical root joined with the walked relative path, so one `realpath` per
//! directory rather than per file). Files are stat'ed before hashing; the stat is recorded only
//! after hashing, and only if the file's mtime was not too recent to trust (the racy case, see
//! `cairn_cache::RACY_WINDOW`), so a file changed while or just after being hashed is hashed again.

use std::path::Path;
use std::sync::Arc;

use cairn_cache::{FileStat, StatCache, StatSnapshot};
use cairn_hash::{Digests, FileHasher, hash_files_streaming};
use cairn_manifest::LogicalPath;

use crate::artifact::join_prefix;
use crate::paths::join_relative;
use crate::{AddDirOptions, Artifact, ArtifactEntry, Error, Result};
use cairn_storage::file::for_each_file_with_metadata;

/// Files hashed per call of the parallel hasher in `add_dir` (see `cached_dir_entries`). The
/// cores wait for each other only at the end of a slice.
const HASH_SLICE: usize = 32 * 1024;

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
    /// Per file only its relative path, its stat and then its digests are held until the
    /// entries are built; full paths (the file's, the cache key) are made when needed and
    /// dropped. At 500,000 files a listing of every file with its `Metadata` and both full paths
    /// would be some 250 MB, the peak of the whole put.
    fn cached_dir_entries(
        &self,
        root: &Path,
        root_metadata: &std::fs::Metadata,
        options: &AddDirOptions,
        stat_cache: &StatCache,
    ) -> Result<Vec<ArtifactEntry>> {
        let listing = self.list_cached(root, root_metadata, stat_cache)?;
        self.listed_entries(root, listing, options, stat_cache)
    }

    /// Walks `root`, stats every file, and looks each up in one snapshot of the stat cache.
    pub(crate) fn list_cached(
        &self,
        root: &Path,
        root_metadata: &std::fs::Metadata,
        stat_cache: &StatCache,
    ) -> Result<Listing> {
        let mut relatives = Vec::new();
        let mut stats = Vec::new();
        for_each_file_with_metadata(root, root_metadata, &mut |file| {
            let stat = match &file.metadata {
                Some(metadata) => FileStat::from_metadata(metadata),
                None => fs_err::metadata(&file.path)
                    .map(|metadata| FileStat::from_metadata(&metadata))
                    .map_err(|error| cairn_storage::Error::Io {
                        action: "read the metadata of",
                        path: file.path.clone(),
                        source: error,
                    })?,
            };
            stats.push(stat);
            relatives.push(file.relative);
            Ok(())
        })?;
        let canonical_root = fs_err::canonicalize(root).map_err(Error::io("resolve", root))?;
        let mut digests: Vec<Option<Digests>> = Vec::with_capacity(relatives.len());
        let mut misses = Vec::new();
        {
            let snapshot = stat_cache
                .snapshot_under(&canonical_root)
                .map_err(cache_error)?;
            for (index, (relative, stat)) in relatives.iter().zip(&stats).enumerate() {
                let key = join_relative(&canonical_root, relative);
                let hit = lookup(&snapshot, &key, stat).and_then(|cached| self.usable(cached));
                if hit.is_none() {
                    misses.push(index);
                }
                digests.push(hit);
            }
        }
        Ok(Listing {
            canonical_root,
            relatives,
            stats,
            digests,
            misses,
        })
    }

    /// The entries of a listing: hashes the misses not known yet (in parallel), records every
    /// miss in the stat cache, and builds the entries.
    pub(crate) fn listed_entries(
        &self,
        root: &Path,
        listing: Listing,
        options: &AddDirOptions,
        stat_cache: &StatCache,
    ) -> Result<Vec<ArtifactEntry>> {
        let Listing {
            canonical_root,
            relatives,
            stats,
            mut digests,
            misses,
        } = listing;
        let key = |relative: &str| join_relative(&canonical_root, relative);
        let unknown: Vec<usize> = misses
            .iter()
            .copied()
            .filter(|&index| digests[index].is_none())
            .collect();
        // A slice of the misses at a time: each call's results live on its worker threads
        // until it ends, and at 500,000 files those were some 70 MB that the threads' malloc
        // arenas kept after they were freed.
        for slice in unknown.chunks(HASH_SLICE) {
            let list = |emit: &mut dyn FnMut(&Path)| {
                for &index in slice {
                    emit(&join_relative(root, &relatives[index]));
                }
                Ok::<(), std::convert::Infallible>(())
            };
            let hashed = match hash_files_streaming(self.hash_options(), list, |_, result| result) {
                Ok(hashed) => hashed,
                Err(never) => match never {},
            };
            for (&index, result) in slice.iter().zip(hashed) {
                digests[index] = Some(result?);
            }
        }
        drop(unknown);
        let recorded = misses.iter().filter_map(|&index| {
            digests[index]
                .as_ref()
                .map(|digests| (key(&relatives[index]), &stats[index], digests))
        });
        stat_cache.record(recorded).map_err(cache_error)?;
        drop((misses, stats));

        let mut entries = Vec::with_capacity(relatives.len());
        for (relative, digests) in relatives.into_iter().zip(digests) {
            let Some(digests) = digests else {
                continue;
            };
            let name = join_prefix(options.name.as_deref(), &relative);
            entries.push(ArtifactEntry {
                path: LogicalPath::new(&name)?,
                entry: self.file_entry(
                    &digests,
                    join_relative(root, &relative),
                    options.skip_cache,
                )?,
            });
        }
        Ok(entries)
    }
}

/// A directory walked and looked up in the stat cache (see [`Artifact::list_cached`]): per
/// file its path relative to the root, its stat, and its digests once known.
pub(crate) struct Listing {
    canonical_root: std::path::PathBuf,
    relatives: Vec<String>,
    stats: Vec<FileStat>,
    digests: Vec<Option<Digests>>,
    /// The files the stat cache did not know, in listing order.
    misses: Vec<usize>,
}

impl Listing {
    /// The files the stat cache did not know: (index, path under `root`, size).
    pub(crate) fn misses<'a>(
        &'a self,
        root: &'a Path,
    ) -> impl Iterator<Item = (usize, std::path::PathBuf, u64)> + 'a {
        self.misses.iter().map(move |&index| {
            (
                index,
                join_relative(root, &self.relatives[index]),
                self.stats[index].size,
            )
        })
    }

    /// Gives file `index` the digests it was found to have elsewhere (a staged upload).
    pub(crate) fn set_digests(&mut self, index: usize, digests: Digests) {
        if let Some(slot) = self.digests.get_mut(index) {
            *slot = Some(digests);
        }
    }
}

fn lookup(snapshot: &StatSnapshot, key: &Path, stat: &FileStat) -> Option<Digests> {
    snapshot.lookup(key, stat).map(|cached| cached.to_digests())
}

pub(crate) fn cache_error(error: cairn_cache::Error) -> Error {
    Error::StatCache(Box::new(error))
}
