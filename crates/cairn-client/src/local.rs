//! Adding local files and directories: walk, hash in parallel, then add all-or-nothing.

use std::fs::{FileType, Metadata};
use std::path::{Path, PathBuf};

use cairn_hash::hash_files_streaming;
use cairn_manifest::LogicalPath;

use crate::artifact::{absolute, join_prefix, utf8};
use crate::{AddDirOptions, AddFileOptions, Artifact, ArtifactEntry, Error, Result};

impl Artifact {
    /// Adds one local file (the SDK's `add_file`). The logical path defaults to the file's name;
    /// symlinks are followed. The file is read exactly once.
    pub fn add_file(
        &mut self,
        local_path: &Path,
        options: &AddFileOptions,
    ) -> Result<ArtifactEntry> {
        self.ensure_draft("add_file")?;
        let absolute_path = absolute(local_path);
        match fs_err::metadata(&absolute_path) {
            Ok(metadata) if metadata.is_file() => {}
            result => {
                return Err(Error::NotAFile {
                    path: absolute_path,
                    source: result.err(),
                });
            }
        }
        let name = match &options.name {
            Some(name) => name.clone(),
            None => utf8(Path::new(
                local_path.file_name().unwrap_or(local_path.as_os_str()),
            ))?
            .to_owned(),
        };
        // Check the name before reading a possibly huge file (is_tmp renames after hashing).
        let mut path = LogicalPath::new(&name)?;
        let digests = self.hash_one(&absolute_path)?;
        let entry = self.file_entry(&digests, &absolute_path, options.skip_cache)?;
        if options.is_tmp {
            path = LogicalPath::new(&tmp_name(path.as_str(), &entry.digest))?;
        }
        let added = ArtifactEntry { path, entry };
        self.add_all(vec![added.clone()], options.overwrite)?;
        Ok(added)
    }

    /// Adds every file under a local directory (the SDK's `add_dir`): logical paths are the paths
    /// relative to `local_path`, under the optional prefix. Symlinked files and directories are
    /// followed (a symlink loop is an error); empty directories add nothing. Files are hashed in
    /// parallel on all cores, each read once.
    ///
    /// Unlike the SDK, a conflicting file (same path, different digest, no `merge`) leaves the
    /// artifact unchanged rather than half-added. Returns the number of files added.
    pub fn add_dir(&mut self, local_path: &Path, options: &AddDirOptions) -> Result<usize> {
        self.ensure_draft("add_dir")?;
        let root = absolute(local_path);
        let root_metadata = match fs_err::metadata(&root) {
            Ok(metadata) if metadata.is_dir() => metadata,
            result => {
                return Err(Error::NotADirectory {
                    path: root,
                    source: result.err(),
                });
            }
        };
        if let Some(stat_cache) = self.stat_cache.clone() {
            return self.add_dir_cached(&root, &root_metadata, options, &stat_cache);
        }
        // Files start hashing while the walk is still listing the rest of the tree.
        let mut paths = Vec::new();
        let list = |emit: &mut dyn FnMut(&Path)| {
            walk_files(&root, &root_metadata, true, u64::MAX, &mut |file| {
                let name = join_prefix(options.name.as_deref(), &file.relative);
                paths.push(LogicalPath::new(&name)?);
                emit(&file.path);
                Ok(())
            })
            .map(drop)
        };
        // Entries are built on the hashing threads too; only the final insert is sequential.
        let skip_cache = options.skip_cache;
        let finish = |path: &Path, digests: cairn_hash::Result<_>| {
            self.file_entry(&digests?, path, skip_cache)
        };
        let built = hash_files_streaming(self.hash_options(), list, finish)?;
        let mut entries = Vec::with_capacity(built.len());
        for (path, entry) in paths.into_iter().zip(built) {
            entries.push(ArtifactEntry {
                path,
                entry: entry?,
            });
        }
        let added = entries.len();
        self.add_all(entries, options.merge)?;
        Ok(added)
    }
}

/// The SDK's `is_tmp` rename: the part of the file name before its first `.` becomes the first 20
/// hex digits of the digest.
fn tmp_name(path: &str, digest: &str) -> String {
    // File digests (MD5 or XXH128) are both 16 bytes of base64; decoding as MD5 covers either.
    let hex = cairn_hash::Md5Digest::from_base64(digest)
        .map_or_else(|_| digest.to_owned(), |digest| digest.to_hex());
    let prefix: String = hex.chars().take(20).collect();
    let (directory, file_name) = match path.rsplit_once('/') {
        Some((directory, file_name)) => (Some(directory), file_name),
        None => (None, path),
    };
    let renamed = match file_name.split_once('.') {
        Some((_, rest)) => format!("{prefix}.{rest}"),
        None => prefix,
    };
    match directory {
        Some(directory) => format!("{directory}/{renamed}"),
        None => renamed,
    }
}

/// A regular file found under a walked directory.
#[derive(Debug)]
pub(crate) struct WalkedFile {
    /// Absolute path, through the walked root.
    pub(crate) path: PathBuf,
    /// Path relative to the root, `/`-separated.
    pub(crate) relative: String,
    /// The file's metadata (symlinks followed), when the walk was asked for it.
    pub(crate) metadata: Option<Metadata>,
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
pub(crate) fn walk_files(
    root: &Path,
    root_metadata: &Metadata,
    follow_dir_links: bool,
    max_objects: u64,
    on_file: &mut dyn FnMut(&WalkedFile) -> Result<()>,
) -> Result<Vec<WalkedFile>> {
    let mut walk = Walk {
        follow_dir_links,
        max_objects,
        with_metadata: false,
        on_file,
        files: Vec::new(),
        ancestors: Vec::new(),
    };
    walk.directory(root, "", root_metadata)?;
    Ok(walk.files)
}

/// [`walk_files`] for `add_dir` (directory links followed, no limit) that also returns each
/// file's metadata, read relative to its open directory (`fstatat`), which is far cheaper than a
/// `stat` of the full path afterwards.
pub(crate) fn walk_files_with_metadata(
    root: &Path,
    root_metadata: &Metadata,
) -> Result<Vec<WalkedFile>> {
    let mut walk = Walk {
        follow_dir_links: true,
        max_objects: u64::MAX,
        with_metadata: true,
        on_file: &mut |_| Ok(()),
        files: Vec::new(),
        ancestors: Vec::new(),
    };
    walk.directory(root, "", root_metadata)?;
    Ok(walk.files)
}

struct Walk<'a> {
    follow_dir_links: bool,
    max_objects: u64,
    with_metadata: bool,
    on_file: &'a mut dyn FnMut(&WalkedFile) -> Result<()>,
    files: Vec<WalkedFile>,
    /// Identity (device, inode) of every directory between the root and the current one.
    ancestors: Vec<Option<(u64, u64)>>,
}

impl Walk<'_> {
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
        if self.files.len() as u64 >= self.max_objects {
            return Err(Error::TooManyObjects {
                max_objects: self.max_objects,
            });
        }
        let file = WalkedFile {
            path,
            relative,
            metadata,
        };
        (self.on_file)(&file)?;
        self.files.push(file);
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmp_names() {
        let digest = "YwH6HKSBWo+kuJVv3SP8IA==";
        assert_eq!(
            tmp_name("media/tables/t1.table.json", digest),
            "media/tables/6301fa1ca4815a8fa4b8.table.json"
        );
        assert_eq!(tmp_name("noext", digest), "6301fa1ca4815a8fa4b8");
        assert_eq!(tmp_name(".hidden", digest), "6301fa1ca4815a8fa4b8.hidden");
    }
}
