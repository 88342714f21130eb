//! Streams bytes from the network (async) into a synchronous writer — the cache's verified
//! insert, or a verified file write — holding only a few chunks in memory at any time.
//!
//! The writer runs on a blocking thread and reads from a small bounded channel; the async side
//! feeds it chunk by chunk. A network error mid-stream is passed to the writer as a read error
//! (so it discards what it wrote) and returned to the caller as the network error it was, which
//! the retry policy can judge.

use std::io::{self, Read, Write as _};
use std::path::Path;

use bytes::Bytes;
use cairn_hash::{Algorithms, Hasher, Md5Digest};
use futures_util::{Stream, StreamExt as _};
use tokio::sync::mpsc;

use crate::{Error, Result};

/// Chunks buffered between the network and the writer.
const CHANNEL_DEPTH: usize = 8;

/// Why a pumped transfer failed: the source stream, or the writer.
#[derive(Debug)]
pub(crate) enum PumpError<E> {
    Stream(E),
    Sink(Error),
}

/// Feeds `stream` to `sink` (run on a blocking thread), calling `on_chunk` with each chunk's
/// size. A stream error wins over the writer's error it causes.
pub(crate) async fn pump<S, E, T, F>(
    stream: S,
    on_chunk: impl Fn(u64),
    sink: F,
) -> Result<T, PumpError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
    F: FnOnce(&mut ChannelReader) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_DEPTH);
    let task = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader {
            receiver,
            current: Bytes::new(),
        };
        sink(&mut reader)
    });
    let mut stream = std::pin::pin!(stream);
    let mut stream_error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                let size = chunk.len() as u64;
                // The writer stopped early (it failed, or already had the object).
                if sender.send(Ok(chunk)).await.is_err() {
                    break;
                }
                on_chunk(size);
            }
            Err(error) => {
                let _ = sender
                    .send(Err(io::Error::other("the transfer was interrupted")))
                    .await;
                stream_error = Some(error);
                break;
            }
        }
    }
    drop(sender);
    let result = task.await.map_err(|error| {
        PumpError::Sink(Error::Io {
            action: "run the writer of",
            path: "a download".into(),
            source: io::Error::other(error.to_string()),
        })
    })?;
    if let Some(error) = stream_error {
        return Err(PumpError::Stream(error));
    }
    result.map_err(PumpError::Sink)
}

/// The blocking end of [`pump`]: reads chunks as they arrive; end of stream is end of file.
#[derive(Debug)]
pub(crate) struct ChannelReader {
    receiver: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len());
        buffer[..count].copy_from_slice(&self.current.split_to(count));
        Ok(count)
    }
}

/// Writes `reader` to `destination` through a temporary file in the same directory, checking
/// size and MD5 (when given) before the rename makes it visible. `label` names the entry in
/// errors.
pub(crate) fn write_verified(
    reader: &mut dyn Read,
    destination: &Path,
    expected_md5: Option<Md5Digest>,
    expected_size: Option<u64>,
    label: &str,
) -> Result<u64> {
    let parent = match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs_err::create_dir_all(parent).map_err(Error::io("create", parent))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".cairn-tmp-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // As any file the user creates: 0666 less the umask.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut temporary = builder
        .tempfile_in(parent)
        .map_err(Error::io("create a file in", parent))?;
    let temporary_path = temporary.path().to_owned();
    let mut hasher = Hasher::new(Algorithms::MD5);
    let mut buffer = vec![0; 256 * 1024];
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(Error::io("receive", destination)(error)),
        };
        hasher.update(&buffer[..read]);
        temporary
            .write_all(&buffer[..read])
            .map_err(Error::io("write", &temporary_path))?;
    }
    let digests = hasher.finalize();
    if let Some(expected) = expected_size
        && expected != digests.size
    {
        return Err(Error::DigestMismatch {
            path: label.to_owned(),
            expected: format!("{expected} bytes"),
            actual: format!("{} bytes", digests.size),
        });
    }
    if let Some(expected) = expected_md5
        && expected != digests.md5
    {
        return Err(Error::DigestMismatch {
            path: label.to_owned(),
            expected: format!("MD5 `{expected}`"),
            actual: format!("MD5 `{}`", digests.md5),
        });
    }
    temporary
        .persist(destination)
        .map_err(|error| Error::io("write", destination)(error.error))?;
    Ok(digests.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static str]) -> impl Stream<Item = Result<Bytes, &'static str>> {
        futures_util::stream::iter(
            parts
                .iter()
                .map(|part| Ok(Bytes::from_static(part.as_bytes()))),
        )
    }

    #[tokio::test]
    async fn pumps_every_byte_in_order() {
        let seen = std::sync::atomic::AtomicU64::new(0);
        let text = pump(
            chunks(&["hel", "", "lo ", "world"]),
            |size| {
                seen.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
            },
            |reader| {
                let mut text = String::new();
                reader
                    .read_to_string(&mut text)
                    .map_err(Error::io("read", "x"))?;
                Ok(text)
            },
        )
        .await
        .unwrap();
        assert_eq!(text, "hello world");
        assert_eq!(seen.into_inner(), 11);
    }

    #[tokio::test]
    async fn a_stream_error_reaches_the_writer_and_the_caller() {
        let stream = futures_util::stream::iter([
            Ok(Bytes::from_static(b"partial")),
            Err("connection reset"),
        ]);
        let result = pump(
            stream,
            |_| {},
            |reader| {
                let mut text = String::new();
                reader
                    .read_to_string(&mut text)
                    .map_err(Error::io("read", "x"))?;
                Ok(text)
            },
        )
        .await;
        assert!(matches!(result, Err(PumpError::Stream("connection reset"))));
    }

    #[test]
    fn verified_writes_leave_nothing_on_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let destination = dir.path().join("sub/file.txt");
        let expected = cairn_hash::md5(b"hello");
        let error = write_verified(
            &mut &b"hellO"[..],
            &destination,
            Some(expected),
            Some(5),
            "file.txt",
        )
        .unwrap_err();
        assert!(matches!(error, Error::DigestMismatch { .. }), "{error}");
        assert_eq!(fs_err::read_dir(dir.path().join("sub")).unwrap().count(), 0);
        let size = write_verified(
            &mut &b"hello"[..],
            &destination,
            Some(expected),
            Some(5),
            "file.txt",
        )
        .unwrap();
        assert_eq!(size, 5);
        assert_eq!(fs_err::read_to_string(&destination).unwrap(), "hello");
    }
}
