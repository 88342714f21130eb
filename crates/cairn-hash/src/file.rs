//! Hashing readers and files with one reused buffer.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use crate::lanes::{LANES, Md5Lanes};
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
    /// Files of 16 MiB and more are read ahead on a second thread (allocating three 1 MiB
    /// buffers for that file), so the kernel copy overlaps with hashing; memory stays bounded
    /// whatever the file size.
    ///
    /// A named pipe, socket or device is refused with [`Error::NotAFile`] rather than waited on:
    /// the file is opened without blocking and checked when it yields no data.
    pub fn hash_file(&mut self, path: &Path) -> Result<Digests> {
        let mut file = open_without_blocking(path).map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
        let read_error = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        // Most files fit in the first read, so the file's type and size are only asked for (one
        // more system call) when the first read returns nothing, which is how a pipe without a
        // writer looks, or fills the buffer, when the file may be large enough to read ahead.
        let first = read_retrying(&mut file, &mut self.buffer).map_err(read_error)?;
        if first == 0 && !file.metadata().map_err(read_error)?.is_file() {
            return Err(Error::NotAFile {
                path: path.to_owned(),
            });
        }
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

/// A file being hashed in one lane of [`hash_in_lanes`]: its bytes `start..end` of the lane's
/// buffer are read but not hashed yet.
struct LaneFile {
    index: usize,
    path: PathBuf,
    file: File,
    start: usize,
    end: usize,
    at_end: bool,
}

/// What opening a file for a lane led to.
enum Opened {
    /// The file is in the lane, its first bytes read.
    Lane(LaneFile),
    /// The file (this path) was hashed, or failed, without the lane.
    Done(PathBuf, Result<Digests>),
}

/// Hashes the MD5 of every file `next` hands out, up to [`LANES`] files side by side on this
/// thread ([`Md5Lanes`]), and gives each result to `done` with the file's index and path.
///
/// Each lane reads its file through its own buffer of `buffer_size / 4` bytes (at least 4 KiB).
/// A file that fills its first buffer and is at least 16 MiB long is hashed on its own with the
/// read-ahead of [`FileHasher::hash_file`] instead: lanes only pay off while several files are
/// in flight. The results and errors are those of [`FileHasher::hash_file`].
pub(crate) fn hash_in_lanes(
    buffer_size: usize,
    mut next: impl FnMut() -> Option<(usize, PathBuf)>,
    mut done: impl FnMut(usize, &Path, Result<Digests>),
) {
    let lane_buffer = (buffer_size / 4).max(4096) / 64 * 64;
    let mut buffers: Vec<Box<[u8]>> = (0..LANES)
        .map(|_| vec![0; lane_buffer].into_boxed_slice())
        .collect();
    let mut lanes = Md5Lanes::new();
    let mut slots: [Option<LaneFile>; LANES] = Default::default();
    let mut listed_all = false;
    loop {
        for (lane, (slot, buffer)) in slots.iter_mut().zip(&mut buffers).enumerate() {
            // Until the lane holds a block to hash: finish its file, or read more, or open the
            // next file.
            loop {
                match slot {
                    Some(file) if file.end - file.start >= 64 => break,
                    Some(file) if !file.at_end => {
                        if let Err(source) = file.refill(buffer) {
                            let error = Error::Read {
                                path: file.path.clone(),
                                source,
                            };
                            done(file.index, &file.path, Err(error));
                            *slot = None;
                        }
                    }
                    Some(file) => {
                        let (md5, size) = lanes.finish(lane, &buffer[file.start..file.end]);
                        let digests = Digests {
                            size,
                            md5,
                            xxh128: None,
                            blake3: None,
                        };
                        done(file.index, &file.path, Ok(digests));
                        *slot = None;
                    }
                    None if listed_all => break,
                    None => {
                        let Some((index, path)) = next() else {
                            listed_all = true;
                            break;
                        };
                        match LaneFile::open(index, path, buffer) {
                            Opened::Lane(file) => {
                                lanes.start(lane);
                                *slot = Some(file);
                            }
                            Opened::Done(path, result) => done(index, &path, result),
                        }
                    }
                }
            }
        }
        let working = slots.iter().flatten().count();
        if working == 0 {
            return;
        }
        let pending: [Option<&[u8]>; LANES] = std::array::from_fn(|lane| {
            slots[lane]
                .as_ref()
                .map(|file| &buffers[lane][file.start..file.end])
        });
        if working == 1 {
            for (lane, input) in pending.into_iter().enumerate() {
                if let Some(input) = input {
                    let taken = lanes.update_one(lane, input);
                    if let Some(file) = &mut slots[lane] {
                        file.start += taken;
                    }
                }
            }
        } else {
            let taken = lanes.update(pending);
            for file in slots.iter_mut().flatten() {
                file.start += taken;
            }
        }
    }
}

impl LaneFile {
    /// Opens `path` and reads its first bytes into `buffer`, or hashes it at once when it is
    /// large (see [`hash_in_lanes`]).
    fn open(index: usize, path: PathBuf, buffer: &mut [u8]) -> Opened {
        let mut file = match open_without_blocking(&path) {
            Ok(file) => file,
            Err(source) => {
                let error = Error::Open {
                    path: path.clone(),
                    source,
                };
                return Opened::Done(path, Err(error));
            }
        };
        let read_error = |path: PathBuf, source| {
            let error = Error::Read {
                path: path.clone(),
                source,
            };
            Opened::Done(path, Err(error))
        };
        let first = match read_retrying(&mut file, buffer) {
            Ok(first) => first,
            Err(source) => return read_error(path, source),
        };
        // As in `FileHasher::hash_file`: the type and size are asked for only when the first
        // read says nothing (a pipe without a writer looks like that) or fills the buffer.
        let length = if first == 0 || first == buffer.len() {
            match file.metadata() {
                Ok(metadata) if first == 0 && !metadata.is_file() => {
                    let error = Error::NotAFile { path: path.clone() };
                    return Opened::Done(path, Err(error));
                }
                Ok(metadata) => metadata.len(),
                Err(source) => return read_error(path, source),
            }
        } else {
            0
        };
        if first == buffer.len() && length >= READ_AHEAD_THRESHOLD {
            let mut hasher = Hasher::new(Algorithms::MD5);
            hasher.update(&buffer[..first]);
            return match hash_with_read_ahead(hasher, file) {
                Ok(digests) => Opened::Done(path, Ok(digests)),
                Err(source) => read_error(path, source),
            };
        }
        Opened::Lane(Self {
            index,
            path,
            file,
            start: 0,
            end: first,
            at_end: first == 0,
        })
    }

    /// Moves the bytes not hashed yet (less than a block) to the front of `buffer` and reads
    /// more after them.
    fn refill(&mut self, buffer: &mut [u8]) -> io::Result<()> {
        buffer.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let read = read_retrying(&mut self.file, &mut buffer[self.end..])?;
        self.end += read;
        self.at_end = read == 0;
        Ok(())
    }
}

/// Opens `path` for reading without blocking on a FIFO that has no writer (a plain `open` would
/// wait forever). On regular files the flag changes nothing.
fn open_without_blocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
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
    // `move`: if hashing panicked, unwinding drops our channel ends before the scope waits for
    // the reader, so the reader sees the hang-up and stops instead of waiting forever.
    thread::scope(move |scope| {
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
    fn lanes_give_what_one_file_at_a_time_gives() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        // Sizes around the padding and lane-buffer (4 KiB here) edges, and one large enough to
        // be hashed alone with read-ahead.
        let sizes = [
            0, 1, 55, 56, 63, 64, 65, 127, 128, 4095, 4096, 4097, 70_000, 300_001,
        ];
        for (index, size) in sizes
            .into_iter()
            .chain([READ_AHEAD_THRESHOLD as usize + 5])
            .enumerate()
        {
            let path = dir.path().join(format!("f{index}"));
            let bytes: Vec<u8> = (0..size).map(|at| (at * 13 + index) as u8).collect();
            fs_err::write(&path, bytes).unwrap();
            paths.push(path);
        }
        paths.insert(3, dir.path().join("missing"));
        paths.insert(7, dir.path().to_owned());
        #[cfg(unix)]
        paths.insert(9, make_fifo(dir.path()));
        let mut hashed = Vec::new();
        let mut next = paths.iter().cloned().enumerate();
        hash_in_lanes(
            16 * 1024,
            || next.next(),
            |index, path, result| {
                hashed.push((index, path.to_owned(), result));
            },
        );
        hashed.sort_by_key(|(index, _, _)| *index);
        assert_eq!(hashed.len(), paths.len());
        let mut one_at_a_time = FileHasher::new(Algorithms::MD5);
        for ((index, path, result), expected) in hashed.iter().zip(&paths) {
            assert_eq!(path, expected, "file {index}");
            match (result, one_at_a_time.hash_file(expected)) {
                (Ok(lanes), Ok(alone)) => assert_eq!(*lanes, alone, "{}", path.display()),
                (Err(lanes), Err(alone)) => {
                    assert_eq!(lanes.to_string(), alone.to_string());
                    assert_eq!(lanes.path(), expected);
                }
                (lanes, alone) => panic!("{}: {lanes:?} against {alone:?}", path.display()),
            }
        }
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

    /// A named pipe `fifo` in `dir`, which nobody writes to.
    #[cfg(unix)]
    fn make_fifo(dir: &Path) -> PathBuf {
        let fifo = dir.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        fifo
    }

    #[cfg(unix)]
    #[test]
    fn named_pipes_are_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = make_fifo(dir.path());
        let error = FileHasher::new(Algorithms::MD5)
            .hash_file(&fifo)
            .unwrap_err();
        assert!(matches!(error, Error::NotAFile { .. }), "{error}");
        assert!(error.to_string().contains("fifo"), "{error}");
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
        assert_eq!(
            error.io_error().map(io::Error::kind),
            Some(io::ErrorKind::NotFound)
        );

        // A directory opens on Linux but fails to read: that is a `Read` error naming the path.
        let error = FileHasher::new(Algorithms::MD5)
            .hash_file(dir.path())
            .unwrap_err();
        assert_eq!(error.path(), dir.path());
    }
}
