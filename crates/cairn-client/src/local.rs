//! Adding local files and directories: walk, hash in parallel, then add all-or-nothing.

use std::path::Path;

use cairn_hash::hash_files_streaming;
use cairn_manifest::LogicalPath;
use cairn_storage::file::for_each_file;

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
        self.add_file_known(local_path, options, None)
    }

    /// [`add_file`](Self::add_file), with the file's digests when they are known already (it
    /// was just staged).
    pub(crate) fn add_file_known(
        &mut self,
        local_path: &Path,
        options: &AddFileOptions,
        known: Option<cairn_hash::Digests>,
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
        // Check the name before reading a possibly huge file (is_tmp renames after hashing).
        let mut path = file_logical_path(local_path, options)?;
        let digests = match known {
            Some(digests) => digests,
            None => self.hash_one(&absolute_path)?,
        };
        let entry = self.file_entry(&digests, absolute_path, options.skip_cache)?;
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
        let (root, root_metadata) = dir_root(local_path)?;
        if let Some(stat_cache) = self.stat_cache.clone() {
            return self.add_dir_cached(&root, &root_metadata, options, &stat_cache);
        }
        // Files start hashing while the walk is still listing the rest of the tree.
        let mut paths = Vec::new();
        let list = |emit: &mut dyn FnMut(&Path)| {
            for_each_file(&root, &root_metadata, true, u64::MAX, &mut |file| {
                let name = join_prefix(options.name.as_deref(), &file.relative);
                paths.push(LogicalPath::new(&name)?);
                emit(&file.path);
                Ok(())
            })
        };
        // Entries are built on the hashing threads too; only the final insert is sequential.
        let skip_cache = options.skip_cache;
        let finish = |path: &Path, digests: cairn_hash::Result<_>| {
            self.file_entry(&digests?, path.to_path_buf(), skip_cache)
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

/// The logical path `add_file` gives `local_path`: the name asked for, or the file's name.
pub(crate) fn file_logical_path(
    local_path: &Path,
    options: &AddFileOptions,
) -> Result<LogicalPath> {
    let name = match &options.name {
        Some(name) => name.clone(),
        None => utf8(Path::new(
            local_path.file_name().unwrap_or(local_path.as_os_str()),
        ))?
        .to_owned(),
    };
    Ok(LogicalPath::new(&name)?)
}

/// The absolute path of a directory to add, and its metadata.
pub(crate) fn dir_root(local_path: &Path) -> Result<(std::path::PathBuf, std::fs::Metadata)> {
    let root = absolute(local_path);
    match fs_err::metadata(&root) {
        Ok(metadata) if metadata.is_dir() => Ok((root, metadata)),
        result => Err(Error::NotADirectory {
            path: root,
            source: result.err(),
        }),
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
