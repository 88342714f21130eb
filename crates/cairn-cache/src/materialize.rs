//! Materialising a cached object at a destination path: reflink, hardlink or copy.
//!
//! Every destination write is atomic: the file is built under a unique temporary name in the
//! destination's own directory and renamed over the destination, so a reader of the destination
//! sees the old file or the new one, never a mix. A destination that is a directory is refused.
//!
//! * `Reflink` shares the object's blocks copy-on-write (btrfs, XFS, APFS, ...): instant, and an
//!   edit of the destination never reaches the cache.
//! * `Hardlink` makes the destination another name of the object itself: instant, but an edit
//!   in place would change the cache, so objects are read-only (mode 0444) and a hardlinked
//!   checkout is too. Only used when asked.
//! * `Copy` copies the bytes (with `copy_file_range` on Linux, so in-kernel).
//! * `Auto` tries a reflink and falls back to a copy; it never hardlinks.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{Cache, Error, ObjectKey, Result};

/// How to put a cached object at its destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkMode {
    /// Reflink when the filesystem can, else copy. Never hardlinks.
    #[default]
    Auto,
    /// Copy-on-write clone; fails where the filesystem cannot.
    Reflink,
    /// A hard link to the (read-only) object; fails across filesystems.
    Hardlink,
    /// A byte copy.
    Copy,
}

impl LinkMode {
    /// The mode's name as the CLI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Reflink => "reflink",
            Self::Hardlink => "hardlink",
            Self::Copy => "copy",
        }
    }
}

impl fmt::Display for LinkMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for LinkMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "reflink" => Ok(Self::Reflink),
            "hardlink" => Ok(Self::Hardlink),
            "copy" => Ok(Self::Copy),
            other => Err(format!(
                "`{other}` is not a link mode; use auto, reflink, hardlink or copy"
            )),
        }
    }
}

/// What a materialisation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Materialized {
    /// The destination written.
    pub path: PathBuf,
    /// The mode actually used (never [`LinkMode::Auto`]).
    pub mode: LinkMode,
    /// Size in bytes.
    pub size: u64,
}

impl Cache {
    /// Puts the object `key` at `destination` by `mode`, creating parent directories, and
    /// records the use. An existing file at `destination` is replaced atomically; a directory is
    /// refused. The result says which mode was actually used.
    pub fn materialize(
        &self,
        key: &ObjectKey,
        destination: &Path,
        mode: LinkMode,
    ) -> Result<Materialized> {
        self.materialize_sized(key, None, destination, mode)
    }

    /// [`materialize`](Self::materialize), given the object's size when
    /// [`size_of`](Self::size_of) found it: an object never changes once in place, so a hard link then
    /// needs no `stat` of its own (two per object were a fifth of a warm download of 50,000
    /// small files). A size that is not the object's is recorded as given, so pass only what
    /// `size_of` answered.
    ///
    /// # Errors
    ///
    /// As [`materialize`](Self::materialize).
    pub fn materialize_sized(
        &self,
        key: &ObjectKey,
        size: Option<u64>,
        destination: &Path,
        mode: LinkMode,
    ) -> Result<Materialized> {
        let object = self.object_path(key);
        // A hard link needs no open file: its size comes from one `stat`.
        let source = match mode {
            LinkMode::Hardlink => None,
            LinkMode::Reflink | LinkMode::Copy | LinkMode::Auto => Some(
                fs_err::File::open(&object)
                    .map_err(|error| self.not_found_or(key, &object, error))?,
            ),
        };
        let size = match (size, &source) {
            (Some(size), _) => size,
            (None, Some(source)) => source
                .metadata()
                .map_err(Error::io("read the metadata of", &object))?
                .len(),
            (None, None) => fs_err::metadata(&object)
                .map_err(|error| self.not_found_or(key, &object, error))?
                .len(),
        };
        let parent = match destination.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // Parent directories are created only when the first attempt says they are missing, and
        // a directory in the way is detected by the rename failing: no extra system calls for
        // the common case of many files into existing directories.
        let attempt = || match &source {
            // No open file: the mode is `Hardlink`.
            None => hardlink(&object, parent, destination).map(|()| LinkMode::Hardlink),
            Some(source) => clone_or_copy(source.file(), &object, parent, destination, mode),
        };
        let used = match attempt() {
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                fs_err::create_dir_all(parent).map_err(Error::io("create", parent))?;
                match attempt() {
                    // With the directory there, a hard link that finds nothing lacks the object
                    // (evicted since its size was looked up).
                    Err(Error::Io { source, .. })
                        if source.kind() == io::ErrorKind::NotFound && !object.exists() =>
                    {
                        return Err(self.not_found_or(key, &object, source));
                    }
                    other => other?,
                }
            }
            other => other?,
        };
        // Recorded once the destination is there: a use of an object that is gone would put
        // its row back in the index.
        self.touch(key, size)?;
        Ok(Materialized {
            path: destination.to_owned(),
            mode: used,
            size,
        })
    }
}

/// A temporary file in `parent`, created with the default mode (0666 less the umask), as any
/// file the user creates.
pub(crate) fn temporary_in(parent: &Path) -> Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".cairn-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
        .tempfile_in(parent)
        .map_err(Error::io("create a temporary file in", parent))
}

fn clone_or_copy(
    source: &std::fs::File,
    object: &Path,
    parent: &Path,
    destination: &Path,
    mode: LinkMode,
) -> Result<LinkMode> {
    let mut temporary = temporary_in(parent)?;
    let mut used = LinkMode::Copy;
    if mode != LinkMode::Copy {
        match reflink_copy::reflink_file(source, temporary.as_file()) {
            Ok(()) => used = LinkMode::Reflink,
            Err(error) if mode == LinkMode::Reflink => {
                return Err(Error::LinkNotSupported {
                    mode: "reflink",
                    source_path: object.to_owned(),
                    path: destination.to_owned(),
                    reason: "the filesystem cannot clone files (copy-on-write), or the cache is on another filesystem".to_owned(),
                    source: error,
                });
            }
            // Auto: any failure falls back to a plain copy into the same (still empty) file.
            Err(_) => {}
        }
    }
    if used == LinkMode::Copy {
        let mut reader = source;
        // `io::copy` between two files uses `copy_file_range` on Linux.
        io::copy(&mut reader, temporary.as_file_mut()).map_err(Error::io("copy", object))?;
    }
    temporary
        .persist(destination)
        .map_err(|error| persist_error(destination, error.error))?;
    Ok(used)
}

/// Why hard-linking `object` to `destination` (in `parent`) failed: not supported there
/// (another filesystem, no hard links), or an I/O error.
fn hardlink_failed(error: io::Error, object: &Path, parent: &Path, destination: &Path) -> Error {
    if is_cross_device(&error) || error.kind() == io::ErrorKind::Unsupported {
        Error::LinkNotSupported {
            mode: "hardlink",
            source_path: object.to_owned(),
            path: destination.to_owned(),
            reason: "the cache and the destination are on different filesystems, or the filesystem has no hard links".to_owned(),
            source: error,
        }
    } else {
        Error::io("hardlink into", parent)(error)
    }
}

fn hardlink(object: &Path, parent: &Path, destination: &Path) -> Result<()> {
    // Nothing at the destination yet (a fresh checkout): one link, which appears whole and never
    // replaces anything. Otherwise link to a temporary name and rename over what is there.
    match fs_err::hard_link(object, destination) {
        Ok(()) => return Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(hardlink_failed(error, object, parent, destination)),
    }
    let linked = tempfile::Builder::new()
        .prefix(".cairn-tmp-")
        .make_in(parent, |path| fs_err::hard_link(object, path));
    let linked = match linked {
        Ok(linked) => linked,
        Err(error) => return Err(hardlink_failed(error, object, parent, destination)),
    };
    let temporary_path = linked.path().to_owned();
    linked
        .persist(destination)
        .map_err(|error| persist_error(destination, error.error))?;
    // Renaming a name onto another name of the same file (a concurrent checkout got there
    // first) succeeds without removing the source name; remove it then.
    if fs_err::symlink_metadata(&temporary_path).is_ok() {
        let _ = fs_err::remove_file(&temporary_path);
    }
    Ok(())
}

/// A rename onto a directory fails (`EISDIR`, or on some systems `EEXIST`/`ENOTEMPTY`): say so
/// plainly; anything else is an IO error naming the destination.
pub(crate) fn persist_error(destination: &Path, error: io::Error) -> Error {
    let into_directory = matches!(
        error.kind(),
        io::ErrorKind::IsADirectory
            | io::ErrorKind::DirectoryNotEmpty
            | io::ErrorKind::AlreadyExists
    ) || fs_err::symlink_metadata(destination)
        .is_ok_and(|metadata| metadata.is_dir());
    if into_directory {
        Error::DestinationIsDirectory {
            path: destination.to_owned(),
        }
    } else {
        Error::io("write", destination)(error)
    }
}

fn is_cross_device(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::CrossesDevices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_modes_parse_and_print() {
        for mode in [
            LinkMode::Auto,
            LinkMode::Reflink,
            LinkMode::Hardlink,
            LinkMode::Copy,
        ] {
            assert_eq!(mode.to_string().parse::<LinkMode>(), Ok(mode));
        }
        assert!(
            "symlink"
                .parse::<LinkMode>()
                .unwrap_err()
                .contains("auto, reflink")
        );
    }
}
