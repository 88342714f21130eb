//! Where downloaded files go, and the checks that keep them inside the download root.
//!
//! A [`LogicalPath`] cannot contain `..` or be absolute, so joining one onto the root cannot
//! climb out lexically. What it can do is pass through a symlink that already exists inside
//! the root (`root/a -> /etc` would turn `a/passwd` into `/etc/passwd`); [`check_no_symlinks`]
//! refuses that before anything is written. The final component may be a symlink: it is
//! replaced by rename, which never writes through it.
//!
//! The check and the write are separate system calls, so a process that races to plant a
//! symlink in between is not stopped; the check defends against what is already on disk.

use std::io;
use std::path::{Path, PathBuf};

use cairn_api::Version;
use cairn_manifest::LogicalPath;

use crate::{Error, Result};

/// `root` joined with the components of `path`.
pub(crate) fn join(root: &Path, path: &LogicalPath) -> PathBuf {
    join_relative(root, path.as_str())
}

/// `root` joined with a `/`-separated relative path, one component at a time.
pub(crate) fn join_relative(root: &Path, relative: &str) -> PathBuf {
    let mut joined = root.to_owned();
    joined.extend(relative.split('/'));
    joined
}

/// Refuses a destination whose parent directories inside `root` include a symlink or a
/// non-directory. Missing directories are fine: they will be created as real directories.
pub(crate) fn check_no_symlinks(root: &Path, path: &LogicalPath) -> Result<PathBuf> {
    let destination = join(root, path);
    let mut current = root.to_owned();
    let components: Vec<&str> = path.as_str().split('/').collect();
    let Some((_, parents)) = components.split_last() else {
        return Ok(destination);
    };
    for component in parents {
        current.push(component);
        match fs_err::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(Error::UnsafePath {
                    path: destination,
                    reason: format!(
                        "`{}` inside the download root is a symlink, and files are never written through one; remove it",
                        current.display()
                    ),
                });
            }
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => {
                return Err(Error::UnsafePath {
                    path: destination,
                    reason: format!(
                        "`{}` is a file where the artifact has a directory; remove it or download into an empty directory",
                        current.display()
                    ),
                });
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => break,
            Err(error) => return Err(Error::io("inspect", &current)(error)),
        }
    }
    Ok(destination)
}

/// [`check_no_symlinks`] for many destinations written one after another (a batch, a worker's
/// share): a parent directory that passed is not inspected again by the same checker. Keep one
/// for a short run of writes, as the files of one batch; the check defends against what is
/// already on disk, and what passed a moment ago still is.
#[derive(Debug)]
pub(crate) struct SymlinkCheck<'a> {
    root: &'a Path,
    passed: std::collections::HashSet<PathBuf>,
}

impl<'a> SymlinkCheck<'a> {
    pub(crate) fn new(root: &'a Path) -> Self {
        Self {
            root,
            passed: std::collections::HashSet::new(),
        }
    }

    /// The destination of `path`, as [`check_no_symlinks`] returns it.
    pub(crate) fn check(&mut self, path: &LogicalPath) -> Result<PathBuf> {
        let destination = join(self.root, path);
        let parent = destination.parent().map(Path::to_owned);
        if let Some(parent) = &parent
            && self.passed.contains(parent)
        {
            return Ok(destination);
        }
        let destination = check_no_symlinks(self.root, path)?;
        if let Some(parent) = parent {
            self.passed.insert(parent);
        }
        Ok(destination)
    }
}

/// Whether `root` is a directory with nothing in it (a fresh download root): then no entry is
/// present yet and no symlink lies on any way down. `false` when it cannot be listed.
pub(crate) fn is_empty_dir(root: &Path) -> bool {
    fs_err::read_dir(root).is_ok_and(|mut entries| entries.next().is_none())
}

/// The SDK's default download root: `./artifacts/<name>:v<N>` (`-` instead of `:` on Windows,
/// where `:` cannot appear in a file name).
pub(crate) fn default_root(version: &Version) -> PathBuf {
    let selector = version.version_name().unwrap_or_else(|| version.id.clone());
    let separator = if cfg!(windows) { "-" } else { ":" };
    let name = format!("{}{separator}{selector}", version.collection);
    let relative = Path::new("artifacts").join(name);
    std::path::absolute(&relative).unwrap_or(relative)
}

/// Every file and symlink under `root`, as `/`-separated paths relative to it. Symlinks are
/// listed, never followed.
pub(crate) fn walk(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut pending = vec![(String::new(), root.to_owned())];
    while let Some((prefix, dir)) = pending.pop() {
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound && dir == root => {
                return Ok(found);
            }
            Err(error) => return Err(Error::io("list", &dir)(error)),
        };
        for entry in entries {
            let entry = entry.map_err(Error::io("list", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            let file_type = entry.file_type().map_err(Error::io("inspect", &path))?;
            if file_type.is_dir() {
                pending.push((relative, path));
            } else {
                found.push((relative, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `path` is lexically inside `root` (no `..`, not absolute once `root` is stripped).
#[cfg(test)]
fn stays_inside(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(|relative| {
        relative
            .components()
            .all(|component| matches!(component, std::path::Component::Normal(_)))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn joins_components() {
        let root = Path::new("/data/root");
        let path = LogicalPath::new("a//b/./c.txt").unwrap();
        assert_eq!(join(root, &path), Path::new("/data/root/a/b/c.txt"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path(), root.join("a")).unwrap();
        fs_err::write(root.join("file"), "x").unwrap();
        let check = |path: &str| check_no_symlinks(root, &LogicalPath::new(path).unwrap());
        assert!(matches!(check("a/passwd"), Err(Error::UnsafePath { .. })));
        assert!(matches!(check("file/x"), Err(Error::UnsafePath { .. })));
        // The final component may be a symlink (it is replaced, not written through).
        assert!(check("a").is_ok());
        assert!(check("new/dir/file").is_ok());
    }

    #[test]
    fn walk_lists_files_relative_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("x/y")).unwrap();
        fs_err::write(dir.path().join("x/y/z"), "1").unwrap();
        fs_err::write(dir.path().join("b"), "2").unwrap();
        let names: Vec<String> = walk(dir.path())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, vec!["b".to_owned(), "x/y/z".to_owned()]);
        assert!(walk(&dir.path().join("missing")).unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn accepted_paths_never_leave_the_root(input in "[a-zA-Z0-9./\\\\:_-]{0,24}") {
            let root = Path::new("/data/root");
            if let Ok(path) = LogicalPath::new(&input) {
                let joined = join(root, &path);
                prop_assert!(stays_inside(root, &joined), "{input:?} -> {}", joined.display());
            }
        }

        #[test]
        fn manifest_keys_never_leave_the_root(input in "(\\.\\.|[a-z]|/|\\\\|:|\\.){0,16}") {
            let root = Path::new("/data/root");
            if let Ok(path) = LogicalPath::from_manifest_key(&input) {
                let joined = join(root, &path);
                prop_assert!(stays_inside(root, &joined), "{input:?} -> {}", joined.display());
            }
        }
    }
}
