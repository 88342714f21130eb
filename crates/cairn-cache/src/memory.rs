//! Objects held whole in memory (small blobs that arrive many per response): verified once,
//! inserted and written to their destinations without temporary names.
//!
//! A many-small-files download is system calls more than bytes. The streaming path
//! ([`Cache::insert`], then [`Cache::materialize`]) costs each object a named temporary file, a
//! lock, a rename, then an open of the object, a copy and another temporary file and rename in
//! the destination. Profiled on 50,000 files of 1–4 KiB, that was most of the client's time. When
//! the bytes are already in memory:
//!
//! * [`Cache::insert_bytes`] hashes them once and, on Linux, writes them into an *unnamed* file
//!   (`O_TMPFILE`) in `tmp/` that is linked into place with `linkat`, which never replaces an
//!   existing name. An unnamed file is invisible until linked and vanishes with its process, so
//!   it needs no lock against cleanup and no removal on failure; "already exists" is success,
//!   exactly as for a rename.
//! * [`Cache::materialize_bytes`] writes those same verified bytes to a destination the same way
//!   (the new file appears whole under its name, or not at all). Only when a file is already
//!   there does it fall back to a named temporary file renamed over it, so it never writes
//!   through an existing file (which could be a hard link to a cached object).
//!
//! Elsewhere (no `O_TMPFILE`, no `/proc`, another OS) both fall back to the streaming path's
//! named temporary files; the guarantees are the same.

use std::io::{self, Write as _};
use std::path::Path;

use crate::{Cache, Dir, Error, Inserted, LinkMode, Materialized, ObjectKey, Result};

/// Bytes that hash to their object key, as [`Cache::insert_bytes`] checked them, and the insert
/// that stored them. [`Cache::materialize_bytes`] takes only this, so nothing unverified is ever
/// written to a destination.
#[derive(Debug, Clone)]
pub struct VerifiedBytes<'a> {
    inserted: Inserted,
    bytes: &'a [u8],
}

impl<'a> VerifiedBytes<'a> {
    /// What the insert did.
    pub fn inserted(&self) -> &Inserted {
        &self.inserted
    }

    /// The verified bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Refuses `bytes` for `key` unless they are `expected_size` long (when that is given).
fn check_size(key: &ObjectKey, bytes: &[u8], expected_size: Option<u64>) -> Result<()> {
    let size = bytes.len() as u64;
    match expected_size {
        Some(expected) if expected != size => Err(Error::SizeMismatch {
            key: key.to_string(),
            expected,
            actual: size,
        }),
        _ => Ok(()),
    }
}

impl Cache {
    /// Inserts the object `key` from bytes held in memory, checked exactly as [`Cache::insert`]
    /// checks a stream: the MD5 of a content key, and `expected_size` when given. The bytes are
    /// hashed even when the object is already cached, so the result always vouches for them.
    pub fn insert_bytes<'a>(
        &self,
        key: &ObjectKey,
        bytes: &'a [u8],
        expected_size: Option<u64>,
    ) -> Result<VerifiedBytes<'a>> {
        check_size(key, bytes, expected_size)?;
        self.insert_hashed_bytes(key, bytes, cairn_hash::md5(bytes))
    }

    /// [`Cache::insert_bytes`] for several objects, their bytes hashed several at once
    /// ([`cairn_hash::md5_many`]): one result per object, in order, each checked and inserted
    /// as [`Cache::insert_bytes`] does; one object failing does not stop the others.
    pub fn insert_many_bytes<'a>(
        &self,
        objects: &[(&ObjectKey, &'a [u8], Option<u64>)],
    ) -> Vec<Result<VerifiedBytes<'a>>> {
        let digests = cairn_hash::md5_many(
            &objects
                .iter()
                .map(|&(_, bytes, _)| bytes)
                .collect::<Vec<_>>(),
        );
        objects
            .iter()
            .zip(digests)
            .map(|(&(key, bytes, expected_size), md5)| {
                check_size(key, bytes, expected_size)?;
                self.insert_hashed_bytes(key, bytes, md5)
            })
            .collect()
    }

    /// The end of [`Cache::insert_bytes`]: `md5` is the MD5 of `bytes`, computed by the caller.
    fn insert_hashed_bytes<'a>(
        &self,
        key: &ObjectKey,
        bytes: &'a [u8],
        md5: cairn_hash::Md5Digest,
    ) -> Result<VerifiedBytes<'a>> {
        let size = bytes.len() as u64;
        let digests = cairn_hash::Digests {
            size,
            md5,
            xxh128: None,
            blake3: None,
        };
        if let Some(expected) = key.as_md5()
            && expected != digests.md5
        {
            return Err(Error::DigestMismatch {
                key: key.to_string(),
                expected: expected.to_base64(),
                actual: digests.md5.to_base64(),
                size,
            });
        }
        let Some(already_present) = self.link_new_object(key, bytes)? else {
            // No unnamed files here: the streaming insert, which checks the bytes again.
            let inserted = self.insert(key, bytes, Some(size))?;
            return Ok(VerifiedBytes { inserted, bytes });
        };
        self.touch(key, size)?;
        if !already_present {
            self.enforce_budget(key)?;
        }
        Ok(VerifiedBytes {
            inserted: Inserted {
                key: key.clone(),
                path: self.object_path(key),
                size,
                already_present,
                digests: Some(digests),
            },
            bytes,
        })
    }

    /// Writes verified bytes to `destination` (a copy: the destination is the user's own file,
    /// whatever the cache does later), creating parent directories. A file already at
    /// `destination` is replaced atomically; a directory is refused. The use was recorded by the
    /// insert.
    pub fn materialize_bytes(
        &self,
        object: &VerifiedBytes<'_>,
        destination: &Path,
    ) -> Result<Materialized> {
        let (parent, name) = match (destination.parent(), destination.file_name()) {
            (Some(parent), Some(name)) => (parent, Path::new(name)),
            _ => (Path::new(""), destination),
        };
        self.materialize_bytes_in(object, &Dir::by_path(parent), name)
    }

    /// [`materialize_bytes`](Self::materialize_bytes) to `relative` below `root`, a directory
    /// held open for the many files of one download: each file's system calls then walk only
    /// the path below `root`.
    ///
    /// # Errors
    ///
    /// As [`materialize_bytes`](Self::materialize_bytes); errors name the whole path.
    pub fn materialize_bytes_in(
        &self,
        object: &VerifiedBytes<'_>,
        root: &Dir,
        relative: &Path,
    ) -> Result<Materialized> {
        let destination = root.join(relative);
        let attempt = || write_new(root, relative, object.bytes, USER_MODE);
        let written = match attempt() {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let parent = destination_parent(&destination);
                fs_err::create_dir_all(parent).map_err(Error::io("create", parent))?;
                attempt()
            }
            other => other,
        };
        match written {
            Ok(true) => {}
            // Something is in the way (an old file, a hard link to a cached object, a
            // directory, or no unnamed files here): write beside it and rename over it.
            Ok(false) => replace(&destination, object.bytes)?,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                replace(&destination, object.bytes)?;
            }
            Err(error) => return Err(Error::io("write", &destination)(error)),
        }
        Ok(Materialized {
            path: destination,
            mode: LinkMode::Copy,
            size: object.bytes.len() as u64,
        })
    }

    /// Links `bytes` into the cache as the object `key`, read-only. `Some(true)` when another
    /// writer's object was already there, `None` when unnamed files are not available.
    fn link_new_object(&self, key: &ObjectKey, bytes: &[u8]) -> Result<Option<bool>> {
        let tmp = Path::new(crate::cache::TMP_DIR);
        let Some(file) = unnamed_file(&self.root_dir, tmp, OBJECT_MODE)
            .map_err(|error| Error::io("create a file in", self.tmp_dir())(error))?
        else {
            return Ok(None);
        };
        let mut file = file;
        file.write_all(bytes)
            .map_err(|error| Error::io("write", self.tmp_dir())(error))?;
        // Read-only whatever the umask, as the streaming insert makes it.
        set_mode(&file, OBJECT_MODE)
            .map_err(|error| Error::io("make read-only", self.tmp_dir())(error))?;
        let relative = key.relative_path();
        let linked = match link_unnamed(&file, &self.root_dir, &relative) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let path = self.object_path(key);
                let parent = destination_parent(&path);
                fs_err::create_dir_all(parent).map_err(Error::io("create", parent))?;
                link_unnamed(&file, &self.root_dir, &relative)
            }
            other => other,
        };
        match linked {
            Ok(()) => Ok(Some(false)),
            // Another writer got there first; its object was verified too.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(Some(true)),
            // Still not found with the directory there: `/proc` is missing.
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io("move into the cache", self.object_path(key))(
                error,
            )),
        }
    }
}

/// The directory `path` is in (`.` for a bare name).
fn destination_parent(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Cached objects are read-only for everyone who can reach the cache.
const OBJECT_MODE: u32 = 0o444;
/// Files in a download root get the mode any new file of the user gets (less the umask).
const USER_MODE: u32 = 0o666;

/// Writes `bytes` as a new file named `relative` below `dir`: `Ok(true)` when it appeared,
/// `Ok(false)` when unnamed files are not available here, `AlreadyExists` when something has that
/// name.
fn write_new(dir: &Dir, relative: &Path, bytes: &[u8], mode: u32) -> io::Result<bool> {
    let Some(mut file) = unnamed_file(dir, crate::dir::parent_of(relative), mode)? else {
        return Ok(false);
    };
    file.write_all(bytes)?;
    match link_unnamed(&file, dir, relative) {
        Ok(()) => Ok(true),
        // The parent exists (the file was made in it), so this is a missing `/proc`.
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Writes `bytes` to a named temporary file beside `destination` and renames it over it.
fn replace(destination: &Path, bytes: &[u8]) -> Result<()> {
    let mut temporary = crate::materialize::temporary_in(destination_parent(destination))?;
    let temporary_path = temporary.path().to_owned();
    temporary
        .write_all(bytes)
        .map_err(Error::io("write", &temporary_path))?;
    temporary
        .persist(destination)
        .map_err(|error| crate::materialize::persist_error(destination, error.error))?;
    Ok(())
}

/// An unnamed file in the directory `relative` below `dir`, open for writing, or `None` where
/// the system has none.
#[cfg(target_os = "linux")]
fn unnamed_file(dir: &Dir, relative: &Path, mode: u32) -> io::Result<Option<std::fs::File>> {
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;
    let (at, path) = dir.at(relative);
    match rustix::fs::openat(
        at,
        path.as_ref(),
        OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    ) {
        Ok(fd) => Ok(Some(std::fs::File::from(fd))),
        // Kernels or filesystems without `O_TMPFILE`.
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => Ok(None),
        Err(errno) => Err(errno.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn unnamed_file(_dir: &Dir, _relative: &Path, _mode: u32) -> io::Result<Option<std::fs::File>> {
    Ok(None)
}

/// Gives the unnamed `file` the name `relative` below `dir`; fails with `AlreadyExists` rather
/// than replace anything.
///
/// `linkat(fd, "", AT_EMPTY_PATH)` names the file directly; kernels before 6.10 allow that only
/// to privileged processes and answer `ENOENT`, and then the name goes through `/proc/self/fd`
/// (a path walk through procfs, which profiled at a sixth of a small-files download). Which one
/// works is remembered for the process.
#[cfg(target_os = "linux")]
fn link_unnamed(file: &std::fs::File, dir: &Dir, relative: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{AtFlags, CWD, linkat};
    use rustix::io::Errno;

    static EMPTY_PATH_REFUSED: AtomicBool = AtomicBool::new(false);
    let (at, destination) = dir.at(relative);
    if !EMPTY_PATH_REFUSED.load(Ordering::Relaxed) {
        match linkat(file, "", at, destination.as_ref(), AtFlags::EMPTY_PATH) {
            Ok(()) => return Ok(()),
            Err(Errno::NOENT | Errno::PERM | Errno::INVAL) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
    let name = format!("/proc/self/fd/{}", file.as_raw_fd());
    let linked = linkat(
        CWD,
        name.as_str(),
        at,
        destination.as_ref(),
        AtFlags::SYMLINK_FOLLOW,
    );
    // Only a link that reached the destination's directory shows the refusal was about the
    // empty path rather than a missing directory.
    if matches!(linked, Ok(()) | Err(Errno::EXIST)) {
        EMPTY_PATH_REFUSED.store(true, Ordering::Relaxed);
    }
    linked.map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_file: &std::fs::File, _dir: &Dir, _relative: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(file: &std::fs::File, _mode: u32) -> io::Result<()> {
    let mut permissions = file.metadata()?.permissions();
    permissions.set_readonly(true);
    file.set_permissions(permissions)
}
