//! The stat cache: a file's identity and timestamps → its digests, so an unchanged file is never
//! read twice.
//!
//! The key is (path, device, inode, size, mtime ns, ctime ns): any write to the file changes its
//! mtime and ctime, and replacing it changes its inode, so a file whose stat still matches has
//! the bytes that were hashed. Entries live in `stat-v1.sqlite` under the cache root, written in
//! one transaction per batch, so a crash loses at most the batch being written, never corrupts.
//!
//! **Racy timestamps.** A file modified within the filesystem's timestamp granularity of the
//! moment it was stat'ed could change again without its mtime moving. As git does, such entries
//! are not trusted: [`StatCache::record`] skips any file whose mtime is within
//! [`RACY_WINDOW`] of the moment its stat was taken (or in the future), so it is simply hashed
//! again next time.

use std::collections::HashMap;
use std::fs::Metadata;
use std::path::Path;
use std::time::Duration;

use cairn_hash::{Digests, Md5Digest, Xxh128Digest};
use rusqlite::{OptionalExtension as _, params};

use crate::cache::{STAT_CACHE_FILE, now_ns};
use crate::index::Database;
use crate::{Error, Result};

/// Entries whose mtime is this close to the moment of their stat are not recorded (2 s covers
/// the coarsest common timestamps, FAT's).
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stat_cache (
    path BLOB PRIMARY KEY NOT NULL,
    device INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    md5 BLOB NOT NULL,
    xxh128 BLOB,
    recorded_at INTEGER NOT NULL
) WITHOUT ROWID;
";

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Device number.
    pub device: u64,
    /// Inode number.
    pub inode: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Status change time, ns since the epoch (where the platform has one).
    pub ctime_ns: i64,
    /// When this stat was taken, ns since the epoch (not part of the identity).
    pub observed_ns: i64,
}

impl FileStat {
    /// The stat of a file from its metadata (symlinks followed or not, as the caller chose);
    /// the observation time is now.
    pub fn from_metadata(metadata: &Metadata) -> Self {
        let (device, inode, mtime_ns, ctime_ns) = identity(metadata);
        Self {
            device,
            inode,
            size: metadata.len(),
            mtime_ns,
            ctime_ns,
            observed_ns: now_ns(),
        }
    }

    /// Whether two stats describe the same unchanged file.
    pub fn same_file_state(&self, other: &Self) -> bool {
        (
            self.device,
            self.inode,
            self.size,
            self.mtime_ns,
            self.ctime_ns,
        ) == (
            other.device,
            other.inode,
            other.size,
            other.mtime_ns,
            other.ctime_ns,
        )
    }

    /// Whether the file was modified too close to the moment of this stat (or in the future) for
    /// its timestamps to prove later changes: such a stat is never recorded.
    pub fn is_racy(&self) -> bool {
        let window = i64::try_from(RACY_WINDOW.as_nanos()).unwrap_or(i64::MAX);
        self.mtime_ns.saturating_add(window) > self.observed_ns
    }
}

#[cfg(unix)]
fn identity(metadata: &Metadata) -> (u64, u64, i64, i64) {
    use std::os::unix::fs::MetadataExt as _;
    let ns = |seconds: i64, nanoseconds: i64| {
        seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(nanoseconds)
    };
    (
        metadata.dev(),
        metadata.ino(),
        ns(metadata.mtime(), metadata.mtime_nsec()),
        ns(metadata.ctime(), metadata.ctime_nsec()),
    )
}

#[cfg(not(unix))]
fn identity(metadata: &Metadata) -> (u64, u64, i64, i64) {
    let mtime = metadata.modified().map_or(0, crate::cache::system_time_ns);
    // No inode or ctime through std here: the creation time stands in for ctime.
    let created = metadata.created().map_or(0, crate::cache::system_time_ns);
    (0, 0, mtime, created)
}

/// The digests remembered for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedDigests {
    /// Size in bytes.
    pub size: u64,
    /// MD5 of the content.
    pub md5: Md5Digest,
    /// XXH3-128 of the content, when it was computed.
    pub xxh128: Option<Xxh128Digest>,
}

impl CachedDigests {
    /// As [`Digests`] (BLAKE3 is never remembered).
    pub fn to_digests(&self) -> Digests {
        Digests {
            size: self.size,
            md5: self.md5,
            xxh128: self.xxh128,
            blake3: None,
        }
    }
}

/// The persistent map from file stat to digests. Safe to share between threads and processes.
#[derive(Debug)]
pub struct StatCache {
    database: Database,
}

/// Entries of the stat cache under one directory, loaded at once for a fast walk.
#[derive(Debug, Default)]
pub struct StatSnapshot {
    entries: HashMap<Vec<u8>, (FileStat, CachedDigests)>,
}

impl StatSnapshot {
    /// The digests of `path` if its stat still matches.
    pub fn lookup(&self, path: &Path, stat: &FileStat) -> Option<CachedDigests> {
        let (recorded, digests) = self.entries.get(path.as_os_str().as_encoded_bytes())?;
        recorded.same_file_state(stat).then_some(*digests)
    }

    /// Number of entries loaded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn to_i64(value: u64) -> i64 {
    i64::from_ne_bytes(value.to_ne_bytes())
}

fn to_u64(value: i64) -> u64 {
    u64::from_ne_bytes(value.to_ne_bytes())
}

type Row = (Vec<u8>, FileStat, CachedDigests);

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Row>> {
    let path: Vec<u8> = row.get(0)?;
    let md5: Vec<u8> = row.get(6)?;
    let xxh128: Option<Vec<u8>> = row.get(7)?;
    let Ok(md5) = <[u8; 16]>::try_from(md5) else {
        return Ok(None);
    };
    let xxh128 = match xxh128 {
        None => None,
        Some(bytes) => match <[u8; 16]>::try_from(bytes) {
            Ok(bytes) => Some(Xxh128Digest::from_bytes(bytes)),
            Err(_) => return Ok(None),
        },
    };
    let stat = FileStat {
        device: to_u64(row.get(1)?),
        inode: to_u64(row.get(2)?),
        size: to_u64(row.get(3)?),
        mtime_ns: row.get(4)?,
        ctime_ns: row.get(5)?,
        observed_ns: row.get(8)?,
    };
    let digests = CachedDigests {
        size: stat.size,
        md5: Md5Digest::from_bytes(md5),
        xxh128,
    };
    Ok(Some((path, stat, digests)))
}

const COLUMNS: &str = "path, device, inode, size, mtime_ns, ctime_ns, md5, xxh128, recorded_at";

impl StatCache {
    /// Opens (creating) the stat cache of the cache at `cache_root`.
    pub fn open_in(cache_root: &Path) -> Result<Self> {
        fs_err::create_dir_all(cache_root)
            .map_err(Error::io("create the cache directory", cache_root))?;
        Self::open(&cache_root.join(STAT_CACHE_FILE))
    }

    /// Opens (creating) a stat cache database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let database = Database::open(path, |connection| connection.execute_batch(SCHEMA))?;
        Ok(Self { database })
    }

    /// The digests of the file at `path` (absolute, canonical) if its stat still matches.
    pub fn lookup(&self, path: &Path, stat: &FileStat) -> Result<Option<CachedDigests>> {
        let key = path.as_os_str().as_encoded_bytes();
        let row = self.database.with(|connection| {
            connection
                .prepare_cached(&format!("SELECT {COLUMNS} FROM stat_cache WHERE path = ?1"))?
                .query_row([key], read_row)
                .optional()
        })?;
        Ok(row
            .flatten()
            .and_then(|(_, recorded, digests)| recorded.same_file_state(stat).then_some(digests)))
    }

    /// Loads every entry under the directory `dir` (absolute, canonical) in one query, for
    /// looking up a whole tree without one query per file.
    pub fn snapshot_under(&self, dir: &Path) -> Result<StatSnapshot> {
        let mut low = dir.as_os_str().as_encoded_bytes().to_vec();
        if low.last() != Some(&(std::path::MAIN_SEPARATOR as u8)) {
            low.push(std::path::MAIN_SEPARATOR as u8);
        }
        let mut high = low.clone();
        if let Some(last) = high.last_mut() {
            *last += 1;
        }
        let rows = self.database.with(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {COLUMNS} FROM stat_cache WHERE path >= ?1 AND path < ?2"
            ))?;
            statement
                .query_map([&low, &high], read_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let entries = rows
            .into_iter()
            .flatten()
            .map(|(path, stat, digests)| (path, (stat, digests)))
            .collect();
        Ok(StatSnapshot { entries })
    }

    /// Remembers the digests of files (absolute, canonical paths) hashed after the given stats,
    /// in one transaction. Racy stats ([`FileStat::is_racy`]) and stats whose size differs from
    /// the bytes hashed are skipped. Returns the number of entries written.
    pub fn record<'a, P: AsRef<Path>>(
        &self,
        entries: impl IntoIterator<Item = (P, &'a FileStat, &'a Digests)>,
    ) -> Result<usize> {
        self.database.with(|connection| {
            let transaction =
                connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut written = 0;
            {
                let mut statement = transaction.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO stat_cache ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ))?;
                for (path, stat, digests) in entries {
                    if stat.is_racy() || stat.size != digests.size {
                        continue;
                    }
                    statement.execute(params![
                        path.as_ref().as_os_str().as_encoded_bytes(),
                        to_i64(stat.device),
                        to_i64(stat.inode),
                        to_i64(stat.size),
                        stat.mtime_ns,
                        stat.ctime_ns,
                        digests.md5.as_bytes().as_slice(),
                        digests.xxh128.map(|digest| digest.as_bytes().to_vec()),
                        stat.observed_ns,
                    ])?;
                    written += 1;
                }
            }
            transaction.commit()?;
            Ok(written)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mtime_ns: i64, observed_ns: i64) -> FileStat {
        FileStat {
            device: 1,
            inode: 2,
            size: 3,
            mtime_ns,
            ctime_ns: mtime_ns,
            observed_ns,
        }
    }

    #[test]
    fn racy_means_modified_within_the_window_of_the_stat() {
        let second = 1_000_000_000;
        assert!(stat(10 * second, 11 * second).is_racy());
        assert!(!stat(10 * second, 12 * second).is_racy());
        assert!(!stat(10 * second, 13 * second).is_racy());
        assert!(
            stat(20 * second, 13 * second).is_racy(),
            "future mtimes are racy"
        );
    }

    #[test]
    fn identity_ignores_the_observation_time() {
        assert!(stat(5, 100).same_file_state(&stat(5, 200)));
        assert!(!stat(5, 100).same_file_state(&stat(6, 100)));
    }
}
