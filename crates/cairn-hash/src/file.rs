//! Hashing readers and files with one reused buffer.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use crate::{Algorithms, Digests, Error, Hasher, Result};

/// Size of the read buffer a [`FileHasher`] allocates: large enough that syscalls are a rounding
/// error next to hashing, small enough to stay in L2 cache.
pub const DEFAULT_BUFFER_SIZE: usize = 256 * 1024;

/// Files at least this large are read on a second thread while the first one hashes.
const READ_AHEAD_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Size of each read-ahead buffer.
const READ_AHEAD_CHUNK: usize = 1024 * 1024;
/// Number of read-ahead buffers in flight: one being hashed, the others being filled.
const READ_AHEAD_BUFFERS: usize = 3;

/// Hashes readers and files through one buffer that it allocates once and reuses.
///
/// A worker thread that hashes thousands of files keeps one `FileHasher`, so hashing costs no
/// allocation per file.
///
/// ```
/// use cairn_hash::{Algorithms, FileHasher};
///
/// let mut hasher = FileHasher::new(Algorithms::MD5);
/// let digests = hasher.hash_reader(&b"hello world\n"[..])?;
/// assert_eq!(digests.md5.to_base64(), "b1kCrCNwJL3QwXbLkwY9xA==");
/// assert_eq!(digests.size, 12);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct FileHasher {
    algorithms: Algorithms,
    buffer: Box<[u8]>,
}

impl FileHasher {
    /// A hasher with a [`DEFAULT_BUFFER_SIZE`] buffer.
    pub fn new(algorithms: Algorithms) -> Self {
        Self::with_buffer_size(algorithms, DEFAULT_BUFFER_SIZE)
    }

    /// A hasher with a buffer of `buffer_size` bytes (at least 4 KiB).
    pub fn with_buffer_size(algorithms: Algorithms, buffer_size: usize) -> Self {
        Self {
            algorithms,
            buffer: vec![0; buffer_size.max(4096)].into_boxed_slice(),
        }
    }

    /// The algorithms this hasher computes.
    pub fn algorithms(&self) -> Algorithms {
        self.algorithms
    }

    /// Hashes everything `reader` yields until end of stream.
    pub fn hash_reader<R: Read>(&mut self, mut reader: R) -> io::Result<Digests> {
        let mut hasher = Hasher::new(self.algorithms);
        loop {
            match read_retrying(&mut reader, &mut self.buffer)? {
                0 => return Ok(hasher.finalize()),
                read => hasher.update(&self.buffer[..read]),
            }
        }
    }

    /// Hashes the file at `path` (symlinks are followed). The size in the result is the number of
    /// bytes read, so it always matches the digests.
    ///
    /// Large files are read ahead on a second thread into a few fixed buffers, so the kernel copy
    /// overlaps with hashing; memory stays bounded at `3 × 1 MiB` whatever the file size.
    pub fn hash_file(&mut self, path: &Path) -> Result<Digests> {
        #[expect(
            clippy::disallowed_methods,
            reason = "the error is wrapped with the path right here"
        )]
        let mut file = File::open(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        let read_error = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        // Most files fit in the first read, so the size is only asked for (one more system call)
        // when the buffer fills up and the file may be large enough to read ahead.
        let first = read_retrying(&mut file, &mut self.buffer).map_err(read_error)?;
        let mut hasher = Hasher::new(self.algorithms);
        hasher.update(&self.buffer[..first]);
        if first == self.buffer.len()
            && file.metadata().map_err(read_error)?.len() >= READ_AHEAD_THRESHOLD
        {
            return hash_with_read_ahead(hasher, file).map_err(read_error);
        }
        loop {
            match read_retrying(&mut file, &mut self.buffer).map_err(read_error)? {
                0 => return Ok(hasher.finalize()),
                read => hasher.update(&self.buffer[..read]),
            }
        }
    }
}

/// One `read`, retried when a signal interrupts it.
fn read_retrying(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buffer) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Continues `hasher` with the rest of `reader`, hashing on this thread while a scoped reader
/// thread fills buffers ahead of it.
fn hash_with_read_ahead<R: Read + Send>(mut hasher: Hasher, mut reader: R) -> io::Result<Digests> {
    let (filled_sender, filled) =
        mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(READ_AHEAD_BUFFERS);
    let (empty_sender, empty) = mpsc::sync_channel::<Vec<u8>>(READ_AHEAD_BUFFERS);
    for _ in 0..READ_AHEAD_BUFFERS {
        // The channel has room for every buffer and its receiver is alive, so this cannot fail.
        let _ = empty_sender.send(vec![0; READ_AHEAD_CHUNK]);
    }
    thread::scope(|scope| {
        scope.spawn(move || {
            // Ends when the file ends, on an error, or when the hashing side hangs up.
            while let Ok(mut buffer) = empty.recv() {
                let result = read_retrying(&mut reader, &mut buffer);
                let stop = !matches!(result, Ok(read) if read > 0);
                if filled_sender
                    .send(result.map(|read| (buffer, read)))
                    .is_err()
                    || stop
                {
                    break;
                }
            }
        });
        loop {
            let Ok(chunk) = filled.recv() else {
                // The reader only hangs up after sending end-of-file or an error.
                return Err(io::Error::other("read-ahead thread stopped unexpectedly"));
            };
            let (buffer, read) = chunk?;
            if read == 0 {
                return Ok(hasher.finalize());
            }
            hasher.update(&buffer[..read]);
            // The reader may already be gone after end-of-file; a lost buffer is fine then.
            let _ = empty_sender.send(buffer);
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn hashes_a_file_larger_than_the_buffer() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let bytes: Vec<u8> = (0..5_000_000u32)
            .map(|index| (index.wrapping_mul(31).wrapping_add(7) % 251) as u8)
            .collect();
        file.write_all(&bytes).unwrap();
        let mut hasher = FileHasher::with_buffer_size(Algorithms::MD5.with_xxh128(), 4096);
        let digests = hasher.hash_file(file.path()).unwrap();
        assert_eq!(digests.size, 5_000_000);
        assert_eq!(digests.md5, crate::md5(&bytes));
        assert_eq!(digests.xxh128, Some(crate::xxh128(&bytes)));
        assert_eq!(digests.blake3, None);
    }

    #[test]
    fn read_ahead_matches_plain_hashing() {
        let bytes: Vec<u8> = (0..(3 * READ_AHEAD_CHUNK + 12345))
            .map(|index| (index % 253) as u8)
            .collect();
        let algorithms = Algorithms::MD5.with_blake3();
        let ahead = hash_with_read_ahead(Hasher::new(algorithms), &bytes[..]).unwrap();
        let plain = FileHasher::new(algorithms).hash_reader(&bytes[..]).unwrap();
        assert_eq!(ahead, plain);
        assert_eq!(ahead.size, bytes.len() as u64);
        let empty = hash_with_read_ahead(Hasher::new(algorithms), &[][..]).unwrap();
        assert_eq!(empty.md5.to_base64(), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn large_files_switch_to_read_ahead_after_the_first_buffer() {
        let bytes: Vec<u8> = (0..(READ_AHEAD_THRESHOLD as usize + 777))
            .map(|index| (index % 241) as u8)
            .collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&bytes).unwrap();
        let digests = FileHasher::new(Algorithms::MD5)
            .hash_file(file.path())
            .unwrap();
        assert_eq!(digests.size, bytes.len() as u64);
        assert_eq!(digests.md5, crate::md5(&bytes));
    }

    #[test]
    fn read_ahead_reports_read_errors() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                self.0 -= 1;
                buffer[0] = 1;
                Ok(1)
            }
        }
        let error = hash_with_read_ahead(Hasher::new(Algorithms::MD5), Failing(5)).unwrap_err();
        assert_eq!(error.to_string(), "disk on fire");
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.bin");
        let error = FileHasher::new(Algorithms::MD5)
            .hash_file(&missing)
            .unwrap_err();
        assert_eq!(error.path(), missing);
        assert!(error.to_string().contains("missing.bin"), "{error}");
        assert_eq!(error.io_error().kind(), io::ErrorKind::NotFound);

        // A directory opens on Linux but fails to read: that is a `Read` error naming the path.
        let error = FileHasher::new(Algorithms::MD5)
            .hash_file(dir.path())
            .unwrap_err();
        assert_eq!(error.path(), dir.path());
    }
}
