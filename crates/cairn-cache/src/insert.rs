//! Inserting objects: stream into `tmp/` while hashing, verify, then rename into place.
//!
//! The temp file is created in `tmp/` under the cache root (so the rename never crosses a
//! filesystem) with a unique name, and locked exclusively while it is written so a concurrent
//! cleanup never reaps it. Only after the size and digest check pass is it made read-only and
//! renamed into `objects-v1/` without replacing an existing object; if another process won the
//! race, its (identical, verified) object stays and this insert still succeeds. On any error the
//! temp file is removed, so a failed insert leaves nothing behind.
//!
//! Objects of [`PIPELINE_MIN_SIZE`] bytes or more are written by a second thread while the first
//! reads and hashes: one MD5 is a chain of dependent steps that keeps a core busy (about 3 s for
//! 2 GiB here), and the writes then cost no time of their own. [`Cache::insert_with_copy`] also
//! writes a copy next to a destination on that thread and renames it into place once the bytes
//! are verified, so a download does not copy the object again after inserting it.

use std::io::{self, Read, Write as _};
use std::path::{Path, PathBuf};

use cairn_hash::{Algorithms, Digests, Hasher};

use crate::{Cache, Error, ObjectKey, Result};

/// Size of the copy buffer.
const BUFFER_SIZE: usize = 256 * 1024;

/// Objects at least this large are hashed and written on two threads.
pub(crate) const PIPELINE_MIN_SIZE: u64 = 8 * 1024 * 1024;

/// Buffers passed between the hashing and the writing thread, and their size.
const PIPELINE_BUFFERS: usize = 4;
const PIPELINE_BUFFER_SIZE: usize = 1024 * 1024;

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
        self.write_object(Some(key), reader, expected_size, None)
            .map(|(inserted, _)| inserted)
    }

    /// [`insert`](Self::insert), also writing the bytes to `copy_to` (replacing what is there,
    /// writable by the user like a copied checkout): the copy appears only once the bytes are
    /// verified, right after the object. Answers whether the copy was written: not when the
    /// object was cached already (nothing is read then; materialize it instead).
    ///
    /// The caller checks that `copy_to` is a place it may write to (no symlink on the way).
    ///
    /// ```
    /// use cairn_cache::{Cache, CacheOptions, ObjectKey};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let cache = Cache::open(CacheOptions::new(dir.path().join("cache")))?;
    /// let key = ObjectKey::md5(cairn_hash::md5(b"weights"));
    /// let copy = dir.path().join("root/model.bin");
    /// let (inserted, copied) = cache.insert_with_copy(&key, &b"weights"[..], Some(7), &copy)?;
    /// assert!(copied && !inserted.already_present);
    /// assert_eq!(std::fs::read(&copy)?, b"weights");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert); also when the copy cannot be written or renamed into place.
    /// A failure leaves no object and no copy behind.
    pub fn insert_with_copy(
        &self,
        key: &ObjectKey,
        reader: impl Read,
        expected_size: Option<u64>,
        copy_to: &Path,
    ) -> Result<(Inserted, bool)> {
        if self.size_of(key).is_some() {
            return self
                .insert(key, reader, expected_size)
                .map(|inserted| (inserted, false));
        }
        self.write_object(Some(key), reader, expected_size, Some(copy_to))
    }

    /// Inserts content whose digest is not known yet: the key is the MD5 of what `reader`
    /// yields.
    pub fn insert_content(&self, reader: impl Read) -> Result<Inserted> {
        self.write_object(None, reader, None, None)
            .map(|(inserted, _)| inserted)
    }

    /// Inserts the content of the file at `path` under its MD5.
    pub fn insert_file(&self, path: &std::path::Path) -> Result<Inserted> {
        let file = fs_err::File::open(path).map_err(Error::io("open", path))?;
        self.write_object(None, file, None, None)
            .map(|(inserted, _)| inserted)
    }

    fn write_object(
        &self,
        key: Option<&ObjectKey>,
        mut reader: impl Read,
        expected_size: Option<u64>,
        copy_to: Option<&Path>,
    ) -> Result<(Inserted, bool)> {
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
        let mut copy = copy_to.map(copy_temporary).transpose()?;

        let pipelined =
            copy.is_some() || expected_size.is_some_and(|size| size >= PIPELINE_MIN_SIZE);
        let digests = if pipelined {
            let copy_path = copy.as_ref().map(|copy| copy.path().to_owned());
            let mut sinks = vec![(temporary.as_file_mut(), temporary_path.as_path())];
            if let (Some(copy), Some(path)) = (copy.as_mut(), copy_path.as_deref()) {
                sinks.push((copy.as_file_mut(), path));
            }
            hash_and_write_pipelined(&mut reader, expected_size, &label, &mut sinks)?
        } else {
            hash_and_write(
                &mut reader,
                expected_size,
                &label,
                &mut temporary,
                &temporary_path,
            )?
        };
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
        let copied = match (copy, copy_to) {
            (Some(copy), Some(destination)) => {
                copy.persist(destination)
                    .map_err(|error| crate::materialize::persist_error(destination, error.error))?;
                true
            }
            _ => false,
        };
        // Recorded in the index with the next batch of uses, not in a transaction of its own
        // (one per object was most of a many-small-files download). Until then a cleanup finds
        // it on disk and reconciles it, and the budget check below flushes first.
        self.touch(&key, digests.size)?;
        if !already_present {
            self.enforce_budget(&key)?;
        }
        let inserted = Inserted {
            key,
            path,
            size: digests.size,
            already_present,
            digests: Some(digests),
        };
        Ok((inserted, copied))
    }
}

/// A temporary file next to `destination` (its directory created when missing), to be renamed
/// over it.
fn copy_temporary(destination: &Path) -> Result<tempfile::NamedTempFile> {
    let parent = match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match crate::materialize::temporary_in(parent) {
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            fs_err::create_dir_all(parent).map_err(Error::io("create", parent))?;
            crate::materialize::temporary_in(parent)
        }
        other => other,
    }
}

/// Reads `reader` to its end on this thread, hashing every byte and writing it to `file`
/// (`path` names it in errors); fails as soon as more than `expected_size` bytes came.
fn hash_and_write(
    reader: &mut impl Read,
    expected_size: Option<u64>,
    label: &dyn Fn() -> String,
    file: &mut tempfile::NamedTempFile,
    path: &Path,
) -> Result<Digests> {
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
        check_not_longer(&hasher, expected_size, label)?;
        file.write_all(&buffer[..read])
            .map_err(Error::io("write", path))?;
    }
    file.flush().map_err(Error::io("write", path))?;
    Ok(hasher.finalize())
}

/// Fails once more than `expected_size` bytes were hashed.
fn check_not_longer(
    hasher: &Hasher,
    expected_size: Option<u64>,
    label: &dyn Fn() -> String,
) -> Result<()> {
    match expected_size {
        Some(expected) if hasher.size() > expected => Err(Error::SizeMismatch {
            key: label(),
            expected,
            actual: hasher.size(),
        }),
        _ => Ok(()),
    }
}

/// [`hash_and_write`] on two threads: this one reads and hashes, a second one writes each
/// buffer, in order, to every sink (a file, and the path that names it in errors). A failed
/// write stops the reading, and its error is the answer.
fn hash_and_write_pipelined(
    reader: &mut impl Read,
    expected_size: Option<u64>,
    label: &dyn Fn() -> String,
    sinks: &mut [(&mut std::fs::File, &Path)],
) -> Result<Digests> {
    let (full, filled) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(PIPELINE_BUFFERS);
    let (empty, emptied) = std::sync::mpsc::channel::<Vec<u8>>();
    for _ in 0..PIPELINE_BUFFERS {
        // Cannot fail: the receiver is alive here.
        let _ = empty.send(vec![0; PIPELINE_BUFFER_SIZE]);
    }
    let first_path = sinks
        .first()
        .map(|(_, path)| path.to_path_buf())
        .unwrap_or_default();
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<()> {
            for (buffer, length) in filled {
                for (file, path) in sinks.iter_mut() {
                    file.write_all(&buffer[..length])
                        .map_err(Error::io("write", *path))?;
                }
                // The reader may have stopped already and need no more buffers.
                let _ = empty.send(buffer);
            }
            Ok(())
        });
        let mut read_and_hash = || -> Result<Digests> {
            let mut hasher = Hasher::new(Algorithms::MD5);
            // No buffer coming back means the writer stopped: its error is reported below.
            while let Ok(mut buffer) = emptied.recv() {
                let mut length = 0;
                while length < buffer.len() {
                    match reader.read(&mut buffer[length..]) {
                        Ok(0) => break,
                        Ok(read) => length += read,
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(source) => {
                            return Err(Error::Source {
                                key: label(),
                                source,
                            });
                        }
                    }
                }
                if length == 0 {
                    break;
                }
                hasher.update(&buffer[..length]);
                check_not_longer(&hasher, expected_size, label)?;
                if full.send((buffer, length)).is_err() {
                    break;
                }
            }
            Ok(hasher.finalize())
        };
        let hashed = read_and_hash();
        drop(full);
        let written = writer.join().unwrap_or_else(|_| {
            Err(Error::io("write", first_path)(io::Error::other(
                "the writing thread panicked",
            )))
        });
        // A failed write is why the reading stopped early, so it is the answer.
        written?;
        hashed
    })
}
