//! Hashing many files on all cores.

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};
use std::thread;

use crate::file::hash_in_lanes;
use crate::{Algorithms, DEFAULT_BUFFER_SIZE, Digests, FileHasher, Result};

/// Paths per hand-off in [`hash_files_streaming`].
const STREAM_BATCH: usize = 16;
/// Hand-offs waiting per worker in [`hash_files_streaming`] before the lister waits too: a
/// lister faster than the hashing (a list already in memory) would otherwise copy every path
/// into the queue, some 50 MB at 500,000 files.
const QUEUED_PER_WORKER: usize = 4;

/// How [`hash_files`] runs.
///
/// ```
/// use cairn_hash::{Algorithms, ParallelOptions};
///
/// let options = ParallelOptions::new(Algorithms::MD5).with_threads(4);
/// assert_eq!(options.threads(), 4);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelOptions {
    algorithms: Algorithms,
    threads: Option<NonZeroUsize>,
    buffer_size: usize,
}

impl ParallelOptions {
    /// Computes MD5 plus `algorithms`, on as many threads as the machine has cores.
    pub fn new(algorithms: Algorithms) -> Self {
        Self {
            algorithms,
            threads: None,
            buffer_size: DEFAULT_BUFFER_SIZE,
        }
    }

    /// Uses exactly `threads` worker threads (at least one).
    #[must_use]
    pub fn with_threads(self, threads: usize) -> Self {
        Self {
            threads: NonZeroUsize::new(threads.max(1)),
            ..self
        }
    }

    /// Gives each worker a read buffer of `buffer_size` bytes.
    #[must_use]
    pub fn with_buffer_size(self, buffer_size: usize) -> Self {
        Self {
            buffer_size,
            ..self
        }
    }

    /// The digests computed besides MD5.
    pub fn algorithms(&self) -> Algorithms {
        self.algorithms
    }

    /// The number of worker threads that will run.
    pub fn threads(&self) -> usize {
        self.threads
            .or_else(|| thread::available_parallelism().ok())
            .map_or(1, NonZeroUsize::get)
    }
}

impl Default for ParallelOptions {
    fn default() -> Self {
        Self::new(Algorithms::MD5)
    }
}

/// Hashes every file in `paths` on up to [`ParallelOptions::threads`] threads.
///
/// The result has one element per input path, **in input order**, whatever order the threads
/// finished in; a file that fails does not stop the others, and its error names its path. Each
/// worker owns one read buffer, so memory stays bounded by `threads × buffer size` however large
/// the files are (`threads × 2 × buffer size` for MD5 alone, when each worker hashes eight files
/// at once through buffers of a quarter of the size).
///
/// ```
/// use cairn_hash::{ParallelOptions, hash_files};
///
/// let dir = tempfile::tempdir()?;
/// let paths: Vec<_> = ["a.txt", "b.txt"].iter().map(|name| dir.path().join(name)).collect();
/// std::fs::write(&paths[0], "hello")?;
/// std::fs::write(&paths[1], "")?;
/// let results = hash_files(&paths, ParallelOptions::default());
/// assert_eq!(results[0].as_ref().unwrap().md5.to_base64(), "XUFAKrxLKna5cZ2REBfFkg==");
/// assert_eq!(results[1].as_ref().unwrap().size, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn hash_files<P: AsRef<Path> + Sync>(
    paths: &[P],
    options: ParallelOptions,
) -> Vec<Result<Digests>> {
    let threads = options.threads().min(paths.len());
    if threads <= 1 {
        let mut results = Vec::with_capacity(paths.len());
        let mut next = paths
            .iter()
            .enumerate()
            .map(|(index, path)| (index, path.as_ref().to_owned()));
        hash_each(
            options,
            || next.next(),
            |index, _, result| {
                results.push((index, result));
            },
        );
        results.sort_unstable_by_key(|(index, _)| *index);
        return results.into_iter().map(|(_, result)| result).collect();
    }

    let list = |emit: &mut dyn FnMut(&Path)| {
        paths.iter().for_each(|path| emit(path.as_ref()));
        Ok::<(), Infallible>(())
    };
    match hash_files_streaming(options.with_threads(threads), list, |_, result| result) {
        Ok(results) => results,
        Err(never) => match never {},
    }
}

/// Hashes files while `list` is still finding them, on up to [`ParallelOptions::threads`] threads.
///
/// `list` runs on the calling thread and calls `emit` once per file; each file starts hashing as
/// soon as it is emitted, so listing a large tree overlaps with hashing it. `finish` turns each
/// file's path and hashing result into the value the caller wants, on the worker thread that
/// hashed it, so that work is parallel too. The result has one element per emitted path, in
/// emission order. If `list` fails, hashing stops early and its error is returned.
///
/// ```
/// use std::path::Path;
///
/// use cairn_hash::{ParallelOptions, hash_files_streaming};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), "hello")?;
/// let list = |emit: &mut dyn FnMut(&Path)| {
///     for item in std::fs::read_dir(dir.path())? {
///         emit(&item?.path());
///     }
///     Ok::<(), std::io::Error>(())
/// };
/// let finish = |_: &Path, result: cairn_hash::Result<cairn_hash::Digests>| {
///     result.map(|digests| digests.md5.to_base64())
/// };
/// let results = hash_files_streaming(ParallelOptions::default(), list, finish)?;
/// assert_eq!(results[0].as_deref().ok(), Some("XUFAKrxLKna5cZ2REBfFkg=="));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn hash_files_streaming<T: Send, E>(
    options: ParallelOptions,
    list: impl FnOnce(&mut dyn FnMut(&Path)) -> Result<(), E>,
    finish: impl Fn(&Path, Result<Digests>) -> T + Sync,
) -> Result<Vec<T>, E> {
    // Paths travel in small batches: one channel operation per batch instead of per file keeps
    // the hand-off cheap next to hashing a 1 KiB file, and a batch is small enough that no
    // worker sits idle at the end while another finishes a long one.
    let (sender, receiver) =
        mpsc::sync_channel::<Vec<(usize, PathBuf)>>(options.threads() * QUEUED_PER_WORKER);
    let receiver = Mutex::new(Some(receiver));
    let running = AtomicUsize::new(options.threads());
    let stop = AtomicBool::new(false);
    let (listed, mut finished) = thread::scope(|scope| {
        let workers: Vec<_> = (0..options.threads())
            .map(|_| {
                scope.spawn(|| {
                    let _last_out = LastOut {
                        running: &running,
                        receiver: &receiver,
                    };
                    let mut pending = Vec::new().into_iter();
                    let next = || {
                        loop {
                            if stop.load(Ordering::Relaxed) {
                                return None;
                            }
                            if let Some(item) = pending.next() {
                                return Some(item);
                            }
                            // A poisoned lock means another worker panicked; that panic is
                            // re-raised below, so this one just stops.
                            let batch = match receiver.lock() {
                                Ok(receiver) => receiver.as_ref()?.recv(),
                                Err(_) => return None,
                            };
                            pending = batch.ok()?.into_iter();
                        }
                    };
                    let mut done = Vec::new();
                    hash_each(options, next, |index, path, result| {
                        done.push((index, finish(path, result)));
                    });
                    done
                })
            })
            .collect();
        let mut count = 0;
        let mut batch = Vec::with_capacity(STREAM_BATCH);
        let listed = list(&mut |path: &Path| {
            batch.push((count, path.to_owned()));
            count += 1;
            if batch.len() == STREAM_BATCH {
                // Sending fails only once every worker has ended (by a panic, re-raised below).
                let _ = sender.send(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(STREAM_BATCH),
                ));
            }
        });
        if listed.is_err() {
            stop.store(true, Ordering::Relaxed);
        } else if !batch.is_empty() {
            let _ = sender.send(batch);
        }
        drop(sender);
        let finished: Vec<(usize, T)> = workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect();
        (listed, finished)
    });
    listed?;
    finished.sort_unstable_by_key(|(index, _)| *index);
    Ok(finished.into_iter().map(|(_, result)| result).collect())
}

/// Hashes every file `next` hands out on this thread, giving `done` each one's index, path and
/// result: MD5 alone goes through the lanes of [`hash_in_lanes`], several files at once; other
/// algorithms one file at a time through a [`FileHasher`].
fn hash_each(
    options: ParallelOptions,
    mut next: impl FnMut() -> Option<(usize, PathBuf)>,
    mut done: impl FnMut(usize, &Path, Result<Digests>),
) {
    if options.algorithms == Algorithms::MD5 {
        return hash_in_lanes(options.buffer_size, next, done);
    }
    let mut hasher = FileHasher::with_buffer_size(options.algorithms, options.buffer_size);
    while let Some((index, path)) = next() {
        let result = hasher.hash_file(&path);
        done(index, &path, result);
    }
}

/// Held by each worker of [`hash_files_streaming`]: however the last one ends, a panic
/// included, it drops the receiver, so a lister waiting on a full queue gets an error instead of
/// waiting forever.
struct LastOut<'a, T> {
    running: &'a AtomicUsize,
    receiver: &'a Mutex<Option<mpsc::Receiver<T>>>,
}

impl<T> Drop for LastOut<'_, T> {
    fn drop(&mut self) {
        if self.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.receiver.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lister_is_not_left_waiting_when_every_worker_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs_err::write(&path, "x").unwrap();
        // On another thread, so that a lister left waiting fails the test instead of hanging it.
        let (done, outcome) = mpsc::channel();
        thread::spawn(move || {
            // Far more hand-offs than the queue holds: the lister must wait on the full queue.
            let list = |emit: &mut dyn FnMut(&Path)| {
                for _ in 0..(STREAM_BATCH * QUEUED_PER_WORKER * 64) {
                    emit(&path);
                }
                Ok::<(), Infallible>(())
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                hash_files_streaming(
                    ParallelOptions::default().with_threads(2),
                    list,
                    |_, _| -> () { panic!("finish failed") },
                )
            }));
            let _ = done.send(result.is_err());
        });
        let panicked = outcome
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the lister was left waiting on a queue nobody reads");
        assert!(panicked, "the workers' panic is raised again");
    }

    #[test]
    fn results_follow_input_order_and_errors_stay_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for index in 0..200 {
            let path = dir.path().join(format!("f{index}"));
            fs_err::write(&path, index.to_string().repeat(index)).unwrap();
            paths.push(path);
        }
        paths.insert(17, dir.path().join("missing"));
        for threads in [1, 2, 7] {
            let results = hash_files(
                &paths,
                ParallelOptions::default()
                    .with_threads(threads)
                    .with_buffer_size(64),
            );
            assert_eq!(results.len(), paths.len());
            for (path, result) in paths.iter().zip(&results) {
                match result {
                    Ok(digests) => {
                        let bytes = fs_err::read(path).unwrap();
                        assert_eq!(digests.md5, crate::md5(&bytes));
                        assert_eq!(digests.size, bytes.len() as u64);
                    }
                    Err(error) => assert_eq!(error.path(), dir.path().join("missing")),
                }
            }
            assert!(results[17].is_err());
        }
    }

    #[test]
    fn streaming_matches_the_list_version_and_returns_listing_errors() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<_> = (0..300)
            .map(|index| dir.path().join(format!("f{index}")))
            .collect();
        for (index, path) in paths.iter().enumerate() {
            fs_err::write(path, "x".repeat(index)).unwrap();
        }
        let expected: Vec<_> = hash_files(&paths, ParallelOptions::default())
            .into_iter()
            .map(|result| result.unwrap())
            .collect();
        for threads in [1, 3] {
            let options = ParallelOptions::default().with_threads(threads);
            let list = |emit: &mut dyn FnMut(&Path)| {
                paths.iter().for_each(|path| emit(path));
                Ok::<(), ()>(())
            };
            let streamed = hash_files_streaming(options, list, |_, result| result).unwrap();
            let streamed: Vec<_> = streamed.into_iter().map(|result| result.unwrap()).collect();
            assert_eq!(streamed, expected);
        }
        let list = |emit: &mut dyn FnMut(&Path)| {
            emit(&paths[0]);
            Err("listing failed")
        };
        let failed =
            hash_files_streaming(ParallelOptions::default(), list, |path, _| path.to_owned());
        assert_eq!(failed.unwrap_err(), "listing failed");
    }

    #[test]
    fn empty_input() {
        assert!(hash_files::<&Path>(&[], ParallelOptions::default()).is_empty());
    }
}
