//! Inserting objects: stream into `tmp/` while hashing, verify, then rename into place.
//!
//! The temp file is created in `tmp/` under the cache root (so the rename never crosses a
//! filesystem) with a unique name, and locked exclusively while it is written so a concurrent
//! cleanup never reaps it. Only after the size and digest check pass is it made read-only and
//! renamed into `objects-v1/` without replacing an existing object; if another process won the
//! race, its (identical, verified) object stays and this insert still succeeds. On any error the
//! temp file is removed, so a failed insert leaves nothing behind.

use std::io::{self, Read, Write as _};
use std::path::PathBuf;

use cairn_hash::{Algorithms, Digests, Hasher};

use crate::{Cache, Error, ObjectKey, Result};

/// Size of the copy buffer.
const BUFFER_SIZE: usize = 256 * 1024;

/// What an insert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// The object's key.
    pub key: ObjectKey,
    /// Where the object now lives.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Whether the object was already cached (nothing was written).
    pub already_present: bool,
    /// The digests of the bytes written, when this insert wrote them.
    pub digests: Option<Digests>,
}

impl Cache {
    /// Inserts the object `key` from `reader`.
    ///
    /// For a content key the bytes must hash to the key's MD5 and, when `expected_size` is
    /// given, have that length; for an etag key only the size can be checked. On a mismatch, a
    /// truncated stream or a read error nothing is stored and the error names the key. An object
    /// that is already cached counts as success without reading `reader` (unless its size
    /// differs from `expected_size`, which is a [`Error::SizeMismatch`]).
    pub fn insert(
        &self,
        key: &ObjectKey,
        reader: impl Read,
        expected_size: Option<u64>,
    ) -> Result<Inserted> {
        let path = self.object_path(key);
        if let Some(size) = self.size_of(key) {
            // Same key, other size: not this object (an etag reused for other content). Refuse
            // rather than hand out the wrong bytes.
            if let Some(expected) = expected_size
                && expected != size
            {
                return Err(Error::SizeMismatch {
                    key: key.to_string(),
                    expected,
                    actual: size,
                });
            }
            self.touch(key, size)?;
            return Ok(Inserted {
                key: key.clone(),
                path,
                size,
                already_present: true,
                digests: None,
            });
        }
        self.write_object(Some(key), reader, expected_size)
    }

    /// Inserts content whose digest is not known yet: the key is the MD5 of what `reader`
    /// yields.
    pub fn insert_content(&self, reader: impl Read) -> Result<Inserted> {
        self.write_object(None, reader, None)
    }

    /// Inserts the content of the file at `path` under its MD5.
    pub fn insert_file(&self, path: &std::path::Path) -> Result<Inserted> {
        let file = fs_err::File::open(path).map_err(Error::io("open", path))?;
        self.write_object(None, file, None)
    }

    fn write_object(
        &self,
        key: Option<&ObjectKey>,
        mut reader: impl Read,
        expected_size: Option<u64>,
    ) -> Result<Inserted> {
        let tmp_dir = self.tmp_dir();
        let label = || key.map_or_else(|| "new content".to_owned(), ToString::to_string);
        let mut temporary = tempfile::Builder::new()
            .prefix("insert-")
            .tempfile_in(&tmp_dir)
            .map_err(Error::io("create a temporary file in", &tmp_dir))?;
        let temporary_path = temporary.path().to_owned();
        temporary
            .as_file()
            .lock()
            .map_err(Error::io("lock", &temporary_path))?;

        let mut hasher = Hasher::new(Algorithms::MD5);
        // Sized to the object when it is known to be small: zeroing 256 KiB for every 2 KiB
        // file was 6% of a many-small-files download.
        let capacity = expected_size
            .and_then(|size| usize::try_from(size).ok())
            .map_or(BUFFER_SIZE, |size| {
                size.saturating_add(1).clamp(4096, BUFFER_SIZE)
            });
        let mut buffer = vec![0; capacity];
        loop {
            let read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Source {
                        key: label(),
                        source,
                    });
                }
            };
            hasher.update(&buffer[..read]);
            if let Some(expected) = expected_size
                && hasher.size() > expected
            {
                return Err(Error::SizeMismatch {
                    key: label(),
                    expected,
                    actual: hasher.size(),
                });
            }
            temporary
                .write_all(&buffer[..read])
                .map_err(Error::io("write", &temporary_path))?;
        }
        let digests = hasher.finalize();
        if let Some(expected) = expected_size
            && digests.size != expected
        {
            return Err(Error::SizeMismatch {
                key: label(),
                expected,
                actual: digests.size,
            });
        }
        let key = match key {
            Some(key) => {
                if let Some(expected) = key.as_md5()
                    && expected != digests.md5
                {
                    return Err(Error::DigestMismatch {
                        key: key.to_string(),
                        expected: expected.to_base64(),
                        actual: digests.md5.to_base64(),
                        size: digests.size,
                    });
                }
                key.clone()
            }
            None => ObjectKey::md5(digests.md5),
        };
        temporary
            .flush()
            .map_err(Error::io("write", &temporary_path))?;

        // Cached objects are read-only, so a hardlinked checkout cannot be edited in place.
        let mut permissions = temporary
            .as_file()
            .metadata()
            .map_err(Error::io("read the metadata of", &temporary_path))?
            .permissions();
        permissions.set_readonly(true);
        #[cfg(unix)]
        {
            // Readable by everyone who can reach the cache, as W&B's cache files are.
            use std::os::unix::fs::PermissionsExt as _;
            permissions.set_mode(0o444);
        }
        temporary
            .as_file()
            .set_permissions(permissions)
            .map_err(Error::io("make read-only", &temporary_path))?;

        let path = self.object_path(&key);
        let parent = path.parent().unwrap_or(&path);
        // The object's directory is created only when the move says it is missing: most
        // inserts go into a directory that exists, and checking first cost a system call each.
        let moved = match temporary.persist_noclobber(&path) {
            Err(error) if error.error.kind() == io::ErrorKind::NotFound => {
                fs_err::create_dir_all(parent).map_err(Error::io("create", parent))?;
                error.file.persist_noclobber(&path)
            }
            other => other,
        };
        let already_present = match moved {
            Ok(_) => false,
            // Another writer got there first; its object was verified too.
            Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => true,
            Err(error) => return Err(Error::io("move into the cache", &path)(error.error)),
        };
        // Recorded in the index with the next batch of uses, not in a transaction of its own
        // (one per object was most of a many-small-files download). Until then a cleanup finds
        // it on disk and reconciles it, and the budget check below flushes first.
        self.touch(&key, digests.size)?;
        if !already_present {
            self.enforce_budget(&key)?;
        }
        Ok(Inserted {
            key,
            path,
            size: digests.size,
            already_present,
            digests: Some(digests),
        })
    }
}
