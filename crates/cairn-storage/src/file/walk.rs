//! Listing the regular files under a local directory, the way the SDK's `add_dir` and `file://`
//! references see them.
//!
//! The walk asks the kernel for nothing but directory listings, plus one `stat` per directory and
//! per symlink: the listing already says which entries are plain files, so walking 50,000 files
//! costs no per-file `stat`. That, and the SDK-exact handling of symlinks, is why it is not
//! `walkdir` (whose `follow_links` stats every entry).

use std::fs::{FileType, Metadata};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A regular file found under a walked directory.
#[derive(Debug)]
pub struct WalkedFile {
    /// Absolute path, through the walked root.
    pub path: PathBuf,
    /// Path relative to the root, `/`-separated.
    pub relative: String,
    /// The file's metadata (symlinks followed), when the walk was asked for it.
    pub metadata: Option<Metadata>,
}

/// Lists the regular files under `root` (whose metadata, symlinks followed, the caller already
/// looked up to check it is a directory), in sorted order.
///
/// `follow_dir_links` says whether symlinked directories are descended (the SDK's `add_dir` does,
/// its `file://` references do not); symlinked files are always followed. A symlink that leads
/// back to a directory being walked is an error, as is more than `max_objects` files.
///
/// The walk asks the kernel for nothing but directory listings, plus one `stat` per directory
/// and per symlink: the listing already says which entries are plain files, so walking 50,000
/// files costs no per-file `stat`.
pub fn walk_files(
    root: &Path,
    root_metadata: &Metadata,
    follow_dir_links: bool,
    max_objects: u64,
    on_file: &mut dyn FnMut(&WalkedFile) -> Result<()>,
) -> Result<Vec<WalkedFile>> {
    let mut files = Vec::new();
    for_each_file(
        root,
        root_metadata,
        follow_dir_links,
        max_objects,
        &mut |file| {
            on_file(&file)?;
            files.push(file);
            Ok(())
        },
    )?;
    Ok(files)
}

/// [`walk_files`] without the list: each file goes to `on_file` only, which keeps what it needs
/// (at 500,000 files the list is some 75 MB of paths).
///
/// ```
/// use cairn_storage::file::for_each_file;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir(dir.path().join("b"))?;
/// std::fs::write(dir.path().join("b/two.txt"), "2")?;
/// std::fs::write(dir.path().join("a.txt"), "1")?;
/// let metadata = std::fs::metadata(dir.path())?;
/// let mut names = Vec::new();
/// for_each_file(dir.path(), &metadata, true, u64::MAX, &mut |file| {
///     names.push(file.relative);
///     Ok(())
/// })?;
/// assert_eq!(names, ["a.txt", "b/two.txt"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn for_each_file(
    root: &Path,
    root_metadata: &Metadata,
    follow_dir_links: bool,
    max_objects: u64,
    on_file: &mut dyn FnMut(WalkedFile) -> Result<()>,
) -> Result<()> {
    Walk::new(root, follow_dir_links, max_objects, false, on_file).run(root_metadata)
}

/// Walks `root` for `add_dir` (directory links followed, no limit), handing each file, in
/// sorted order and with its metadata, to `on_file`, which keeps what it needs: at 500,000 files
/// a list of every file with its `Metadata` would be about 150 MB.
///
/// The metadata is read relative to the open directory (`fstatat`), which is far cheaper than a
/// `stat` of the full path afterwards.
///
/// ```
/// use cairn_storage::file::for_each_file_with_metadata;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "hello")?;
/// let metadata = std::fs::metadata(dir.path())?;
/// let mut sizes = Vec::new();
/// for_each_file_with_metadata(dir.path(), &metadata, &mut |file| {
///     sizes.push((file.relative, file.metadata.map(|metadata| metadata.len())));
///     Ok(())
/// })?;
/// assert_eq!(sizes, [("a.txt".to_owned(), Some(5))]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn for_each_file_with_metadata(
    root: &Path,
    root_metadata: &Metadata,
    on_file: &mut dyn FnMut(WalkedFile) -> Result<()>,
) -> Result<()> {
    Walk::new(root, true, u64::MAX, true, on_file).run(root_metadata)
}

struct Walk<'a> {
    root: &'a Path,
    follow_dir_links: bool,
    max_objects: u64,
    with_metadata: bool,
    /// Files handed to `on_file` so far.
    found: u64,
    on_file: &'a mut dyn FnMut(WalkedFile) -> Result<()>,
    /// Identity (device, inode) of every directory between the root and the current one.
    ancestors: Vec<Option<(u64, u64)>>,
}

impl<'a> Walk<'a> {
    fn new(
        root: &'a Path,
        follow_dir_links: bool,
        max_objects: u64,
        with_metadata: bool,
        on_file: &'a mut dyn FnMut(WalkedFile) -> Result<()>,
    ) -> Self {
        Self {
            root,
            follow_dir_links,
            max_objects,
            with_metadata,
            found: 0,
            on_file,
            ancestors: Vec::new(),
        }
    }

    fn run(mut self, root_metadata: &Metadata) -> Result<()> {
        self.directory(self.root, "", root_metadata)
    }

    fn directory(&mut self, directory: &Path, relative: &str, metadata: &Metadata) -> Result<()> {
        let identity = identity(metadata);
        if identity.is_some() && self.ancestors.contains(&identity) {
            return Err(Error::SymlinkLoop {
                path: directory.to_owned(),
            });
        }
        self.ancestors.push(identity);
        let mut children: Vec<_> = fs_err::read_dir(directory)
            .map_err(Error::io("list", directory))?
            .map(|child| {
                child
                    .map(|child| (child.file_name(), child))
                    .map_err(Error::io("list", directory))
            })
            .collect::<Result<_>>()?;
        children.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        for (name, child) in children {
            let path = child.path();
            let Some(name) = name.to_str() else {
                return Err(Error::NonUtf8Path { path });
            };
            let child_relative = if relative.is_empty() {
                name.to_owned()
            } else {
                format!("{relative}/{name}")
            };
            let file_type = child
                .file_type()
                .map_err(Error::io("read the type of", &path))?;
            if file_type.is_file() {
                let metadata = if self.with_metadata {
                    Some(
                        child
                            .metadata()
                            .map_err(Error::io("read the metadata of", &path))?,
                    )
                } else {
                    None
                };
                self.push(path, child_relative, metadata)?;
            } else if file_type.is_dir() {
                let metadata = fs_err::symlink_metadata(&path)
                    .map_err(Error::io("read the metadata of", &path))?;
                self.directory(&path, &child_relative, &metadata)?;
            } else if file_type.is_symlink() {
                match fs_err::metadata(&path) {
                    Ok(target) if target.is_file() => {
                        let metadata = self.with_metadata.then_some(target);
                        self.push(path, child_relative, metadata)?;
                    }
                    Ok(target) if target.is_dir() => {
                        if self.follow_dir_links {
                            self.directory(&path, &child_relative, &target)?;
                        }
                    }
                    Ok(target) => {
                        return Err(Error::SpecialFile {
                            path,
                            kind: special_kind(target.file_type()),
                        });
                    }
                    Err(error) => return Err(broken_symlink(path, error)),
                }
            } else {
                return Err(Error::SpecialFile {
                    path,
                    kind: special_kind(file_type),
                });
            }
        }
        self.ancestors.pop();
        Ok(())
    }

    fn push(&mut self, path: PathBuf, relative: String, metadata: Option<Metadata>) -> Result<()> {
        if self.found >= self.max_objects {
            return Err(Error::TooManyObjects {
                uri: self.root.display().to_string(),
                max_objects: self.max_objects,
            });
        }
        self.found += 1;
        (self.on_file)(WalkedFile {
            path,
            relative,
            metadata,
        })
    }
}

/// What tells two directories apart: device and inode number.
#[cfg(unix)]
fn identity(metadata: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    Some((metadata.dev(), metadata.ino()))
}

/// Without inode numbers loops are not detected here; the operating system's own limit on
/// path length ends a runaway walk with an error.
#[cfg(not(unix))]
fn identity(_: &Metadata) -> Option<(u64, u64)> {
    None
}

/// The error for a symlink whose target cannot be read: missing (dangling), or anything else the
/// operating system says (a loop of links, no permission).
fn broken_symlink(path: PathBuf, error: std::io::Error) -> Error {
    if error.kind() == std::io::ErrorKind::NotFound {
        Error::SpecialFile {
            path,
            kind: "dangling symlink",
        }
    } else {
        Error::Io {
            action: "follow the symlink",
            path,
            source: error,
        }
    }
}

#[cfg(unix)]
fn special_kind(file_type: FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if file_type.is_fifo() {
        "named pipe"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: FileType) -> &'static str {
    "special file"
}
