//! Cleanup, the size budget and statistics.
//!
//! `cleanup(target)` runs under the cache lock held exclusively (waiting at most the lock
//! timeout, then failing with [`Error::Busy`]; pinning holds the lock shared only for
//! moments, so the wait is short):
//!
//! 1. temp files in `tmp/` that no live writer holds locked and that are older than the grace
//!    period are removed (with `remove_temp`, every unlocked temp file older than a second);
//! 2. the object tree is walked and the index reconciled with it;
//! 3. objects are evicted least recently used first, skipping every pinned object, until objects
//!    plus remaining temp files total at most `target`.
//!
//! The size budget (`CAIRN_CACHE_MAX_SIZE`) runs the same eviction from the index alone after an
//! insert pushes the total over the budget, down to 90 % of it so the next insert does not
//! trigger it again; if another process is cleaning at that moment it is skipped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cache::{OBJECTS_DIR, system_time_ns};
use crate::index::IndexedObject;
use crate::pin::live_pins;
use crate::{ByteSize, Cache, Error, ObjectKey, Result};

/// Budget cleanups go down to this fraction (in percent) of the budget.
const BUDGET_LOW_WATER_PERCENT: u64 = 90;
/// Even with `remove_temp`, a temp file younger than this is left alone: its writer may have
/// created it and not yet locked it.
const MIN_TEMP_AGE: Duration = Duration::from_secs(1);

/// What [`Cache::cleanup`] should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupOptions {
    target: ByteSize,
    remove_temp: bool,
}

impl CleanupOptions {
    /// Evict until the cache holds at most `target` bytes (W&B's `cleanup(target_size)`).
    pub fn new(target: ByteSize) -> Self {
        Self {
            target,
            remove_temp: false,
        }
    }

    /// Also remove every temp file no live writer holds, however young (W&B's `remove_temp`);
    /// without it only temp files older than the grace period are removed.
    #[must_use]
    pub fn with_remove_temp(mut self, remove_temp: bool) -> Self {
        self.remove_temp = remove_temp;
        self
    }
}

/// What a cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Bytes freed (evicted objects plus removed temp files).
    pub reclaimed_bytes: u64,
    /// Objects evicted.
    pub evicted_objects: u64,
    /// Temp files removed.
    pub removed_temp_files: u64,
    /// Objects kept only because an operation in progress pinned them.
    pub pinned_objects_kept: u64,
    /// Bytes in temp files that were kept (a live writer, or younger than the grace period).
    pub kept_temp_bytes: u64,
    /// Objects left.
    pub objects: u64,
    /// Bytes left, objects plus temp files.
    pub bytes: u64,
}

/// Where [`Stats`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsSource {
    /// The index's running totals: no walk.
    Index,
    /// A walk of the object tree (the index was incomplete, or a walk was asked for); the index
    /// was reconciled with it.
    Walk,
}

/// Size and contents of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The cache root.
    pub root: PathBuf,
    /// Number of objects.
    pub objects: u64,
    /// Bytes in objects.
    pub object_bytes: u64,
    /// Number of temp files.
    pub temp_files: u64,
    /// Bytes in temp files.
    pub temp_bytes: u64,
    /// The size budget, if one is set.
    pub max_size: Option<ByteSize>,
    /// Whether the object counts come from the index or a walk.
    pub source: StatsSource,
}

impl Cache {
    /// Evicts least recently used objects until the cache holds at most the target, and reaps
    /// stale temp files. Pinned objects are never evicted. See the module documentation.
    pub fn cleanup(&self, options: CleanupOptions) -> Result<CleanupReport> {
        self.flush()?;
        let _exclusive = self.lock(true)?;
        let grace = if options.remove_temp {
            MIN_TEMP_AGE
        } else {
            self.options.temp_grace
        };
        let mut report = CleanupReport::default();
        let kept_temp_bytes = self.reap_temp(grace, &mut report)?;
        report.kept_temp_bytes = kept_temp_bytes;
        let found = self.walk_objects()?;
        self.index.reconcile(&found, |key| self.contains(key))?;
        let mut objects = self.index.by_last_use()?;
        // The walk is the truth for this cleanup; the index only supplies last-use times.
        let on_disk: HashSet<&ObjectKey> = found.iter().map(|object| &object.key).collect();
        objects.retain(|object| on_disk.contains(&object.key));
        self.evict(
            objects,
            options.target.bytes(),
            kept_temp_bytes,
            None,
            &mut report,
        )?;
        Ok(report)
    }

    /// The cache's size and contents, from the index's totals when they are complete, else from
    /// a walk (which also completes the index).
    pub fn stats(&self) -> Result<Stats> {
        self.flush()?;
        let totals = self.index.totals()?;
        if totals.complete {
            return self.stats_from(totals.objects, totals.bytes, StatsSource::Index);
        }
        self.stats_by_walk()
    }

    /// The cache's size and contents from a walk of the tree; the index is reconciled with it.
    pub fn stats_by_walk(&self) -> Result<Stats> {
        self.flush()?;
        let found = self.walk_objects()?;
        self.index.reconcile(&found, |key| self.contains(key))?;
        let bytes = found.iter().map(|object| object.size).sum();
        self.stats_from(found.len() as u64, bytes, StatsSource::Walk)
    }

    fn stats_from(&self, objects: u64, object_bytes: u64, source: StatsSource) -> Result<Stats> {
        let mut temp_files = 0;
        let mut temp_bytes = 0;
        for (_, size, _) in self.list_temp()? {
            temp_files += 1;
            temp_bytes += size;
        }
        Ok(Stats {
            root: self.root.clone(),
            objects,
            object_bytes,
            temp_files,
            temp_bytes,
            max_size: self.options.max_size,
            source,
        })
    }

    /// After an insert: if the index total exceeds the budget, evict down to the low-water mark
    /// (never `just_inserted`). Skipped when another process holds the lock.
    pub(crate) fn enforce_budget(&self, just_inserted: &ObjectKey) -> Result<()> {
        let Some(max_size) = self.options.max_size else {
            return Ok(());
        };
        self.flush()?;
        if self.index.totals()?.bytes <= max_size.bytes() {
            return Ok(());
        }
        let file = self.open_lock_file()?;
        match file.file().try_lock() {
            Ok(()) => {}
            // Someone else is cleaning (or pinning); the next insert will check again.
            Err(std::fs::TryLockError::WouldBlock) => return Ok(()),
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(Error::io("lock", self.root.join(crate::cache::LOCK_FILE))(
                    error,
                ));
            }
        }
        let target = max_size.bytes() / 100 * BUDGET_LOW_WATER_PERCENT;
        let objects = self.index.by_last_use()?;
        let mut report = CleanupReport::default();
        self.evict(objects, target, 0, Some(just_inserted), &mut report)?;
        drop(file);
        Ok(())
    }

    /// Evicts unpinned objects, least recently used first, until the total is at most `target`.
    /// The caller holds the cache lock exclusively.
    fn evict(
        &self,
        objects: Vec<IndexedObject>,
        target: u64,
        extra_bytes: u64,
        keep: Option<&ObjectKey>,
        report: &mut CleanupReport,
    ) -> Result<()> {
        let pinned = live_pins(&self.pins_dir())?;
        let mut total: u64 = objects.iter().map(|object| object.size).sum::<u64>() + extra_bytes;
        let mut remaining = objects.len() as u64;
        let mut evicted = Vec::new();
        for object in objects {
            if total <= target {
                break;
            }
            if pinned.contains(&object.key) || keep == Some(&object.key) {
                report.pinned_objects_kept += 1;
                continue;
            }
            let path = self.object_path(&object.key);
            match remove_read_only(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(Error::io("remove", &path)(error)),
            }
            total -= object.size;
            remaining -= 1;
            report.reclaimed_bytes += object.size;
            report.evicted_objects += 1;
            evicted.push(object.key);
        }
        self.index.forget(&evicted)?;
        report.objects = remaining;
        report.bytes = total;
        Ok(())
    }

    /// Removes temp files that no writer holds and that are older than `grace`; returns the
    /// bytes of those kept.
    fn reap_temp(&self, grace: Duration, report: &mut CleanupReport) -> Result<u64> {
        let now = SystemTime::now();
        let mut kept_bytes = 0;
        for (path, size, modified) in self.list_temp()? {
            let old = now.duration_since(modified).is_ok_and(|age| age >= grace);
            if old && !is_locked(&path)? {
                match remove_read_only(&path) {
                    Ok(()) => {
                        report.removed_temp_files += 1;
                        report.reclaimed_bytes += size;
                        continue;
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(Error::io("remove", &path)(error)),
                }
            }
            kept_bytes += size;
        }
        Ok(kept_bytes)
    }

    /// Every file in `tmp/` with its size and modification time.
    fn list_temp(&self) -> Result<Vec<(PathBuf, u64, SystemTime)>> {
        let dir = self.tmp_dir();
        let mut files = Vec::new();
        for entry in fs_err::read_dir(&dir).map_err(Error::io("list", &dir))? {
            let entry = entry.map_err(Error::io("list", &dir))?;
            let Ok(metadata) = entry.metadata() else {
                // Renamed into place or removed since the listing.
                continue;
            };
            if metadata.is_file() {
                let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                files.push((entry.path(), metadata.len(), modified));
            }
        }
        Ok(files)
    }

    /// Every object in the tree, with size and (as a last-use fallback) modification time.
    pub(crate) fn walk_objects(&self) -> Result<Vec<IndexedObject>> {
        let objects_dir = self.root.join(OBJECTS_DIR);
        let mut found = Vec::new();
        for algorithm in read_dir_names(&objects_dir)? {
            let algorithm_dir = objects_dir.join(&algorithm);
            if !algorithm_dir.is_dir() {
                continue;
            }
            for fan_out in read_dir_names(&algorithm_dir)? {
                let fan_out_dir = algorithm_dir.join(&fan_out);
                if !fan_out_dir.is_dir() {
                    continue;
                }
                for entry in
                    fs_err::read_dir(&fan_out_dir).map_err(Error::io("list", &fan_out_dir))?
                {
                    let entry = entry.map_err(Error::io("list", &fan_out_dir))?;
                    let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                        continue;
                    };
                    let Some(key) = ObjectKey::from_parts(&algorithm, &fan_out, &name) else {
                        continue;
                    };
                    let Ok(metadata) = entry.metadata() else {
                        continue;
                    };
                    if metadata.is_file() {
                        let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                        found.push(IndexedObject {
                            key,
                            size: metadata.len(),
                            last_used: system_time_ns(modified),
                        });
                    }
                }
            }
        }
        Ok(found)
    }
}

fn read_dir_names(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    match fs_err::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(Error::io("list", dir))?;
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(Error::io("list", dir)(error)),
    }
    Ok(names)
}

/// Whether a live writer holds the file locked.
fn is_locked(path: &Path) -> Result<bool> {
    let file = match fs_err::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        // Unreadable: treat as held, never remove what we cannot inspect.
        Err(_) => return Ok(true),
    };
    match file.file().try_lock() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(error)) => Err(Error::io("lock", path)(error)),
    }
}

/// Removes a file; where the platform refuses to remove read-only files (Windows), clears the
/// flag first.
fn remove_read_only(path: &Path) -> std::io::Result<()> {
    match fs_err::remove_file(path) {
        Err(error) if cfg!(windows) && error.kind() == std::io::ErrorKind::PermissionDenied => {
            let mut permissions = fs_err::metadata(path)?.permissions();
            #[expect(
                clippy::permissions_set_readonly_false,
                reason = "only on Windows, to delete"
            )]
            permissions.set_readonly(false);
            fs_err::set_permissions(path, permissions)?;
            fs_err::remove_file(path)
        }
        other => other,
    }
}
