//! The cache root: where it is, its versioned layout, opening it, and the shared `.lock`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::index::Index;
use crate::{ByteSize, Dir, Error, ObjectKey, Result};

/// The environment variable that chooses the cache root.
pub const CACHE_DIR_ENV: &str = "CAIRN_CACHE_DIR";
/// The environment variable that sets a size budget enforced after inserts (`10GB`, `500MiB`).
pub const MAX_SIZE_ENV: &str = "CAIRN_CACHE_MAX_SIZE";
/// Content and reference objects live under this directory (bumped on incompatible changes).
pub const OBJECTS_DIR: &str = "objects-v1";
/// Temporary files being written; renamed into `objects-v1/` once verified.
pub(crate) const TMP_DIR: &str = "tmp";
/// Per-operation pin files.
pub(crate) const PINS_DIR: &str = "pins";
/// The lock: shared while pinning, exclusive while cleaning up.
pub(crate) const LOCK_FILE: &str = ".lock";
/// The object index (sizes, last use, totals).
pub(crate) const INDEX_FILE: &str = "index-v1.sqlite";
/// The stat cache (file stat → digests).
pub(crate) const STAT_CACHE_FILE: &str = "stat-v1.sqlite";

/// Temp files younger than this are never reaped: their writer may still be alive.
pub const DEFAULT_TEMP_GRACE: Duration = Duration::from_secs(60 * 60);
/// How long cleanup waits for the exclusive lock, and pinning for the shared one.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by Cairn.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// Where the cache lives and how it manages itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    root: PathBuf,
    pub(crate) max_size: Option<ByteSize>,
    pub(crate) temp_grace: Duration,
    lock_timeout: Duration,
}

impl CacheOptions {
    /// A cache at `root` with no size budget.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            max_size: None,
            temp_grace: DEFAULT_TEMP_GRACE,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// The root from `CAIRN_CACHE_DIR`, else the platform cache directory + `cairn`; the budget
    /// from `CAIRN_CACHE_MAX_SIZE` when set.
    pub fn from_env() -> Result<Self> {
        let mut options = Self::new(default_root()?);
        if let Some(text) = std::env::var_os(MAX_SIZE_ENV).filter(|text| !text.is_empty()) {
            let text = text.to_str().ok_or_else(|| Error::Env {
                name: MAX_SIZE_ENV,
                source: "not valid UTF-8".into(),
            })?;
            let size: ByteSize = text.parse().map_err(|source| Error::Env {
                name: MAX_SIZE_ENV,
                source: Box::new(source),
            })?;
            options.max_size = Some(size);
        }
        Ok(options)
    }

    /// Enforces a size budget after every insert that adds an object.
    #[must_use]
    pub fn with_max_size(mut self, max_size: Option<ByteSize>) -> Self {
        self.max_size = max_size;
        self
    }

    /// Temp files younger than `grace` are never reaped (default 1 h).
    #[must_use]
    pub fn with_temp_grace(mut self, grace: Duration) -> Self {
        self.temp_grace = grace;
        self
    }

    /// How long to wait for the cache lock before giving up with [`Error::Busy`] (default 60 s).
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The size budget, if any.
    pub fn max_size(&self) -> Option<ByteSize> {
        self.max_size
    }
}

/// The default cache root: `$CAIRN_CACHE_DIR`, else the platform cache directory + `cairn`
/// (`$XDG_CACHE_HOME/cairn` or `~/.cache/cairn` on Linux, `~/Library/Caches/cairn` on macOS,
/// `%LOCALAPPDATA%\cairn` on Windows).
pub fn default_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(std::path::absolute(&dir).unwrap_or_else(|_| PathBuf::from(dir)));
    }
    platform_cache_dir()
        .map(|dir| dir.join("cairn"))
        .ok_or(Error::NoCacheDir)
}

fn platform_cache_dir() -> Option<PathBuf> {
    let absolute =
        |dir: std::ffi::OsString| Some(PathBuf::from(dir)).filter(|dir| dir.is_absolute());
    if cfg!(windows) {
        return std::env::var_os("LOCALAPPDATA").and_then(absolute);
    }
    let home = std::env::home_dir().filter(|home| home.is_absolute());
    if cfg!(target_os = "macos") {
        return home.map(|home| home.join("Library/Caches"));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .and_then(absolute)
        .or_else(|| home.map(|home| home.join(".cache")))
}

/// A local content-addressed cache, safe to share between threads and processes.
///
/// See the crate documentation for the layout and the guarantees.
#[derive(Debug)]
pub struct Cache {
    pub(crate) root: PathBuf,
    /// The root held open: object paths are resolved from it.
    pub(crate) root_dir: Dir,
    pub(crate) options: CacheOptions,
    pub(crate) index: Index,
    /// Uses not yet written to the index, flushed in batches (one transaction each).
    pub(crate) pending_touches: Mutex<Vec<(ObjectKey, u64, i64)>>,
}

/// Touches are written to the index once this many have accumulated. Each flush is one
/// transaction whose cost is the index pages it dirties, and object keys are random: a flush of
/// 1,024 keys rewrote about as many pages as one of 16,384 (profiled: at 1,024 the index's
/// commits were 30% of a 50,000-file download). 16,384 entries are well under 1 MiB.
const TOUCH_BATCH: usize = 16_384;

impl Cache {
    /// Opens (creating if needed) the cache described by `options`.
    pub fn open(options: CacheOptions) -> Result<Self> {
        let root = options.root.clone();
        create_layout(&root)?;
        let index = Index::open(&root.join(INDEX_FILE), &root.join(OBJECTS_DIR))?;
        Ok(Self {
            root_dir: Dir::open(&root),
            root,
            options,
            index,
            pending_touches: Mutex::new(Vec::new()),
        })
    }

    /// Opens the cache chosen by the environment ([`CacheOptions::from_env`]).
    pub fn from_env() -> Result<Self> {
        Self::open(CacheOptions::from_env()?)
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The options the cache was opened with.
    pub fn options(&self) -> &CacheOptions {
        &self.options
    }

    /// Where the object named `key` lives (whether or not it is present).
    pub fn object_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.relative_path())
    }

    /// Whether the object is present. Presence means verified: objects are only ever renamed
    /// into place after their digest and size were checked.
    pub fn contains(&self, key: &ObjectKey) -> bool {
        self.size_of(key).is_some()
    }

    /// The size of the object, or `None` when it is not cached.
    pub fn size_of(&self, key: &ObjectKey) -> Option<u64> {
        self.size_at(&key.relative_path())
    }

    /// [`size_of`](Self::size_of) the object at `relative` (its [`ObjectKey::relative_path`]).
    fn size_at(&self, relative: &Path) -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{AtFlags, FileType};
            let (dir, path) = self.root_dir.at(relative);
            let stat = rustix::fs::statat(dir, path.as_ref(), AtFlags::SYMLINK_NOFOLLOW).ok()?;
            (FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile)
                .then(|| u64::try_from(stat.st_size).ok())
                .flatten()
        }
        #[cfg(not(target_os = "linux"))]
        {
            fs_err::symlink_metadata(self.root.join(relative))
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|metadata| metadata.len())
        }
    }

    /// A [`Lookup`] for one operation that asks about many objects it has not met before.
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup {
            cache: self,
            dirs: std::collections::HashMap::new(),
        }
    }

    /// Opens a cached object for reading and records the use for LRU eviction.
    pub fn open_object(&self, key: &ObjectKey) -> Result<fs_err::File> {
        let path = self.object_path(key);
        let file =
            fs_err::File::open(&path).map_err(|source| self.not_found_or(key, &path, source))?;
        let size = file
            .metadata()
            .map_err(Error::io("read the metadata of", &path))?
            .len();
        self.touch(key, size)?;
        Ok(file)
    }

    /// Re-hashes a content object. A corrupt object (its bytes no longer match its name, for
    /// example a hardlinked checkout edited after a `chmod`) is removed and reported as
    /// [`Error::Corrupt`]; etag objects have no digest to check and only their presence is.
    pub fn verify(&self, key: &ObjectKey) -> Result<u64> {
        let path = self.object_path(key);
        let file =
            fs_err::File::open(&path).map_err(|source| self.not_found_or(key, &path, source))?;
        let Some(expected) = key.as_md5() else {
            return file
                .metadata()
                .map(|metadata| metadata.len())
                .map_err(Error::io("read the metadata of", &path));
        };
        let digests = cairn_hash::FileHasher::new(cairn_hash::Algorithms::MD5)
            .hash_reader(file)
            .map_err(Error::io("read", &path))?;
        if digests.md5 != expected {
            let _exclusive = self.lock(true)?;
            let _ = fs_err::remove_file(&path);
            self.index.forget(std::slice::from_ref(key))?;
            return Err(Error::Corrupt {
                path,
                expected: expected.to_base64(),
                actual: digests.md5.to_base64(),
            });
        }
        Ok(digests.size)
    }

    /// Opens the stat cache that lives in this cache's root.
    pub fn stat_cache(&self) -> Result<crate::StatCache> {
        crate::StatCache::open_in(&self.root)
    }

    /// Writes every recorded use to the index. Called automatically in batches and on drop.
    pub fn flush(&self) -> Result<()> {
        let touches = match self.pending_touches.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        if touches.is_empty() {
            return Ok(());
        }
        // A download touches each object twice (stored, then written into the root): one row
        // per object, with its latest use.
        let mut touches = touches;
        touches.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
        touches.dedup_by(|later, kept| later.0 == kept.0);
        self.index.record(&touches)
    }

    /// Records a use of `key` (its size is known from the object file).
    pub(crate) fn touch(&self, key: &ObjectKey, size: u64) -> Result<()> {
        let full = {
            let mut pending = match self.pending_touches.lock() {
                Ok(pending) => pending,
                Err(poisoned) => poisoned.into_inner(),
            };
            pending.push((key.clone(), size, now_ns()));
            pending.len() >= TOUCH_BATCH
        };
        if full { self.flush() } else { Ok(()) }
    }

    pub(crate) fn not_found_or(
        &self,
        key: &ObjectKey,
        path: &Path,
        source: std::io::Error,
    ) -> Error {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound {
                key: key.to_string(),
                root: self.root.clone(),
            }
        } else {
            Error::io("open", path)(source)
        }
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    pub(crate) fn pins_dir(&self) -> PathBuf {
        self.root.join(PINS_DIR)
    }

    /// Opens (creating) the cache's lock file, unlocked; each call is a fresh open file
    /// description.
    pub(crate) fn open_lock_file(&self) -> Result<fs_err::File> {
        let path = self.root.join(LOCK_FILE);
        fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(Error::io("open the lock file", &path))
    }

    /// Takes the cache lock, shared or exclusive, waiting at most the lock timeout. The lock is
    /// held by a fresh open file description, so two holders in one process exclude each other
    /// as two processes do.
    pub(crate) fn lock(&self, exclusive: bool) -> Result<fs_err::File> {
        let path = self.root.join(LOCK_FILE);
        let file = self.open_lock_file()?;
        let deadline = Instant::now() + self.options.lock_timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            let attempt = if exclusive {
                file.file().try_lock()
            } else {
                file.file().try_lock_shared()
            };
            match attempt {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::Busy {
                        root: self.root.clone(),
                        seconds: self.options.lock_timeout.as_secs(),
                    });
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(Error::io("lock", &path)(source));
                }
            }
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        // Losing a few last-use times only makes eviction slightly less precise.
        let _ = self.flush();
    }
}

/// Creates the root and its fixed files: `objects-v1/`, `tmp/`, `pins/`, `CACHEDIR.TAG`,
/// `.gitignore`. Every step tolerates a concurrent process doing the same.
fn create_layout(root: &Path) -> Result<()> {
    for dir in [OBJECTS_DIR, TMP_DIR, PINS_DIR] {
        let path = root.join(dir);
        fs_err::create_dir_all(&path).map_err(Error::io("create the cache directory", &path))?;
    }
    write_if_missing(&root.join("CACHEDIR.TAG"), CACHEDIR_TAG.as_bytes())?;
    write_if_missing(&root.join(".gitignore"), b"*\n")?;
    Ok(())
}

/// Writes a small fixed file atomically unless it exists (temp file + no-clobber rename).
fn write_if_missing(path: &Path, contents: &[u8]) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let parent = path.parent().unwrap_or(path);
    let mut temporary =
        tempfile::NamedTempFile::new_in(parent).map_err(Error::io("create a file in", parent))?;
    std::io::Write::write_all(&mut temporary, contents)
        .map_err(Error::io("write", temporary.path().to_owned()))?;
    match temporary.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(Error::io("write", path)(error.error)),
    }
}

/// Nanoseconds since the Unix epoch (0 for a clock set before 1970).
pub(crate) fn now_ns() -> i64 {
    system_time_ns(SystemTime::now())
}

pub(crate) fn system_time_ns(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
    })
}

/// Finds the sizes of many objects, remembering which fan-out directories
/// (`objects-v1/md5/<hex[:2]>`) were missing: once one is, every object under it is absent
/// without a look of its own. A download into an empty cache (a fresh machine, a CI runner) then
/// asks the filesystem 256 times instead of once per file: each lookup of a name that is not
/// there was a twentieth of such a download's time.
///
/// A directory found missing stays so for the life of the `Lookup`, even if another process
/// creates it meanwhile: an object inserted there by someone else is then reported absent and
/// fetched again, which an insert treats as already present. Ask about each object once; an
/// object this operation inserted itself may be under a directory the `Lookup` thinks missing.
///
/// # Example
///
/// ```
/// use cairn_cache::{Cache, CacheOptions, ObjectKey};
///
/// let dir = tempfile::tempdir()?;
/// let cache = Cache::open(CacheOptions::new(dir.path()))?;
/// let key = ObjectKey::md5(cairn_hash::md5(b"hello"));
/// let mut lookup = cache.lookup();
/// assert_eq!(lookup.size_of(&key), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Lookup<'cache> {
    cache: &'cache Cache,
    /// Fan-out directories looked at, and whether each was there.
    dirs: std::collections::HashMap<PathBuf, bool>,
}

impl Lookup<'_> {
    /// The size of the object, or `None` when it is not cached (as [`Cache::size_of`]).
    pub fn size_of(&mut self, key: &ObjectKey) -> Option<u64> {
        let relative = key.relative_path();
        let dir = relative.parent()?;
        if self.dirs.get(dir) == Some(&false) {
            return None;
        }
        let size = self.cache.size_at(&relative);
        if size.is_none() && !self.dirs.contains_key(dir) {
            // Looked at once, on the first miss under it.
            let exists = self.cache.root.join(dir).is_dir();
            self.dirs.insert(dir.to_owned(), exists);
        }
        size
    }
}
