//! Directories held open, so the many operations on the files below one walk only the path
//! below it.
//!
//! Every system call that takes a path walks it one component at a time. A download of 50,000
//! small files makes five such calls per file (look the object up, create it, name it, create
//! the destination, name that), each through the whole absolute path: the cache root and the
//! download root are usually five or more components deep. Profiled, those walks were a tenth of
//! the client's time; from a directory held open they shrink to the few components below it.
//!
//! On Linux a [`Dir`] holds a descriptor of its directory. Elsewhere, or where the directory
//! cannot be opened, it holds only the path, and every operation takes the whole path as before:
//! the results are the same, only slower.

#[cfg(target_os = "linux")]
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// A directory that paths below it are resolved from.
///
/// The descriptor pins the directory that was at [`path`](Self::path) when it was opened: if
/// that directory is later moved, operations follow it rather than the name.
///
/// # Example
///
/// ```
/// let root = tempfile::tempdir()?;
/// let dir = cairn_cache::Dir::open(root.path());
/// assert_eq!(dir.path(), root.path());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Dir {
    path: PathBuf,
    #[cfg(target_os = "linux")]
    fd: Option<std::os::fd::OwnedFd>,
}

impl Dir {
    /// Opens the directory at `path`. Where it cannot be opened (it does not exist yet, or the
    /// system has no directory descriptors) the result works by whole paths.
    pub fn open(path: &Path) -> Self {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags};
            let fd = rustix::fs::open(
                path,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok();
            Self {
                path: path.to_owned(),
                fd,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            Self {
                path: path.to_owned(),
            }
        }
    }

    /// A `Dir` that resolves by whole paths, opening nothing: for a single operation, where an
    /// open would cost more than it saves.
    pub(crate) fn by_path(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            #[cfg(target_os = "linux")]
            fd: None,
        }
    }

    /// The directory's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole path of `relative` below this directory: for messages and fallbacks.
    pub(crate) fn join(&self, relative: &Path) -> PathBuf {
        self.path.join(relative)
    }

    /// The directory descriptor and the path to pass with it for `relative`: the held
    /// descriptor and `relative` itself, or the working directory and the whole path. An empty
    /// `relative` names the directory itself.
    #[cfg(target_os = "linux")]
    pub(crate) fn at<'a>(
        &'a self,
        relative: &'a Path,
    ) -> (std::os::fd::BorrowedFd<'a>, Cow<'a, Path>) {
        let relative = if relative.as_os_str().is_empty() {
            Path::new(".")
        } else {
            relative
        };
        match &self.fd {
            Some(fd) => {
                use std::os::fd::AsFd as _;
                (fd.as_fd(), Cow::Borrowed(relative))
            }
            None => (rustix::fs::CWD, Cow::Owned(self.path.join(relative))),
        }
    }
}

/// `relative`'s parent below a [`Dir`]: empty for a name directly in it.
pub(crate) fn parent_of(relative: &Path) -> &Path {
    relative.parent().unwrap_or(Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_that_cannot_be_opened_still_resolves_by_path() -> std::io::Result<()> {
        let temporary = tempfile::tempdir()?;
        let missing = temporary.path().join("not-yet");
        let dir = Dir::open(&missing);
        assert_eq!(dir.path(), missing);
        assert_eq!(dir.join(Path::new("a/b")), missing.join("a/b"));
        #[cfg(target_os = "linux")]
        {
            assert!(dir.fd.is_none());
            let (_, path) = dir.at(Path::new("a"));
            assert_eq!(path, missing.join("a"));
        }
        Ok(())
    }

    #[test]
    fn names_directly_in_a_dir_have_an_empty_parent() {
        assert_eq!(parent_of(Path::new("f.bin")), Path::new(""));
        assert_eq!(parent_of(Path::new("d/f.bin")), Path::new("d"));
    }
}
