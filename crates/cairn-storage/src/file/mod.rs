//! `file://` references: local and mounted filesystems.
//!
//! Resolving follows the SDK: a file is one entry named after it; a directory is one entry per
//! regular file below it (symlinked files followed, symlinked directories not), named
//! `name/relative path`, with `ref` = the URI joined with the raw relative path. The digest is
//! the base64 MD5 of the content, or with checksums off the MD5 of the resolved `file://` URI
//! (content not read, directory still listed).
//!
//! Fetching re-reads the file and checks it against the entry: a different size fails at once,
//! different content fails as the stream's last item ([`Error::Changed`]). An entry recorded
//! with checksums off pins nothing, so its file is returned as it is now; the SDK instead always
//! fails such downloads with a digest mismatch.

mod walk;

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use cairn_hash::{Algorithms, FileHasher, Hasher, ParallelOptions, hash_files_streaming};
use cairn_manifest::{Entry, LogicalPath};
use futures_util::stream::{self, StreamExt as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use tokio::sync::mpsc;

pub use self::walk::{WalkedFile, for_each_file, for_each_file_with_metadata, walk_files};
use crate::{
    ByteStream, Error, ReferenceUri, ResolveOptions, ResolveStream, ResolvedObject, Result,
    StorageHandler, entry_uri, join_name,
};

/// Bytes read per chunk when fetching a file.
const CHUNK: usize = 256 * 1024;

/// The handler for `file://` URIs. Stateless; [`Handlers`](crate::Handlers) always has one.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileHandler;

impl FileHandler {
    /// A handler for `file://` URIs.
    pub fn new() -> Self {
        Self
    }
}

impl fmt::Display for FileHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("file")
    }
}

#[async_trait]
impl StorageHandler for FileHandler {
    fn handles(&self, uri: &ReferenceUri) -> bool {
        uri.scheme() == "file"
    }

    async fn resolve(&self, uri: &ReferenceUri, options: &ResolveOptions) -> Result<ResolveStream> {
        let uri = uri.clone();
        let options = options.clone();
        let objects = tokio::task::spawn_blocking(move || resolve_blocking(&uri, &options))
            .await
            .map_err(|error| Error::Backend {
                backend: "file",
                uri: "(resolve task)".to_owned(),
                source: Box::new(error),
            })??;
        Ok(stream::iter(objects.into_iter().map(Ok)).boxed())
    }

    async fn fetch(&self, entry: &Entry) -> Result<ByteStream> {
        let uri = entry_uri(entry)?;
        let path = file_uri_path(uri.as_str());
        let shown = uri.redacted().to_string();
        let file = fs_err::File::open(&path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                uri: shown.clone(),
                version: None,
            },
            _ => Error::io("open", &path)(error),
        })?;
        let size = file
            .metadata()
            .map_err(Error::io("read the metadata of", &path))?
            .len();
        if let Some(recorded) = entry.size
            && recorded != size
        {
            return Err(Error::Changed {
                uri: shown,
                recorded: format!("{recorded} bytes"),
                found: format!("{size} bytes"),
            });
        }
        // With checksums off the digest is the MD5 of the URI: it pins no content.
        let pinned = !is_uri_digest(&entry.digest, &path);
        let expected = entry.digest.clone();
        let (sender, receiver) = mpsc::channel::<Result<Bytes>>(4);
        tokio::task::spawn_blocking(move || {
            stream_file(file, &path, pinned.then_some(expected), &shown, &sender);
        });
        Ok(stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        })
        .boxed())
    }
}

/// Reads `file` in chunks into `sender`, hashing as it goes; the last item is an error if the
/// content does not match `expected` (a base64 MD5). Stops early if the reader went away.
fn stream_file(
    mut file: fs_err::File,
    path: &Path,
    expected: Option<String>,
    shown: &str,
    sender: &mpsc::Sender<Result<Bytes>>,
) {
    let mut hasher = Hasher::new(Algorithms::MD5);
    loop {
        let mut buffer = vec![0; CHUNK];
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => {
                buffer.truncate(read);
                hasher.update(&buffer);
                if sender.blocking_send(Ok(Bytes::from(buffer))).is_err() {
                    return;
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                let _ = sender.blocking_send(Err(Error::io("read", path)(error)));
                return;
            }
        }
    }
    let found = hasher.finalize().md5.to_base64();
    if let Some(expected) = expected
        && expected != found
    {
        let _ = sender.blocking_send(Err(Error::Changed {
            uri: shown.to_owned(),
            recorded: format!("MD5 {expected}"),
            found: format!("MD5 {found}"),
        }));
    }
}

fn resolve_blocking(uri: &ReferenceUri, options: &ResolveOptions) -> Result<Vec<ResolvedObject>> {
    let local = file_uri_path(uri.as_str());
    let not_found = || Error::NotFound {
        uri: uri.redacted().to_string(),
        version: None,
    };
    let metadata = fs_err::metadata(&local).map_err(|_| not_found())?;
    let md5_options = match options.threads() {
        0 => ParallelOptions::new(Algorithms::MD5),
        threads => ParallelOptions::new(Algorithms::MD5).with_threads(threads),
    };
    if metadata.is_file() {
        let name = match options.name() {
            Some(name) => name.to_owned(),
            None => utf8(Path::new(local.file_name().unwrap_or_default()))?.to_owned(),
        };
        let path = LogicalPath::new(&name)?;
        let (digest, size) = if options.checksum() {
            let digests = FileHasher::new(Algorithms::MD5).hash_file(&local)?;
            (digests.md5.to_base64(), digests.size)
        } else {
            (resolved_uri_digest(&local)?, metadata.len())
        };
        return Ok(vec![ResolvedObject {
            path,
            entry: Entry::reference(uri.as_str(), digest, Some(size)),
        }]);
    }
    if !metadata.is_dir() {
        return Err(not_found());
    }
    let max_objects = options.max_objects();
    let mut files = Vec::new();
    let digests = if options.checksum() {
        // Files start hashing while the walk is still listing the rest of the tree.
        let list = |emit: &mut dyn FnMut(&Path)| {
            files = walk_files(&local, &metadata, false, max_objects, &mut |file| {
                emit(&file.path);
                Ok(())
            })?;
            Ok::<(), Error>(())
        };
        Some(hash_files_streaming(md5_options, list, |_, result| result)?)
    } else {
        files = walk_files(&local, &metadata, false, max_objects, &mut |_| Ok(()))?;
        None
    };
    let raw = uri.as_str();
    let mut digests = digests.map(Vec::into_iter);
    let mut objects = Vec::with_capacity(files.len());
    for file in &files {
        let path = LogicalPath::new(&join_name(options.name(), &file.relative))?;
        let reference = if raw.ends_with('/') {
            format!("{raw}{}", file.relative)
        } else {
            format!("{raw}/{}", file.relative)
        };
        let (digest, size) = match digests.as_mut().and_then(Iterator::next) {
            Some(digests) => {
                let digests = digests?;
                (digests.md5.to_base64(), digests.size)
            }
            None => {
                let size = fs_err::metadata(&file.path)
                    .map_err(Error::io("read the metadata of", &file.path))?
                    .len();
                (resolved_uri_digest(&file.path)?, size)
            }
        };
        objects.push(ResolvedObject {
            path,
            entry: Entry::reference(reference, digest, Some(size)),
        });
    }
    Ok(objects)
}

/// The local path a `file:` URI names: the host is ignored, query and fragment are dropped, and
/// the path is percent-decoded (as `urllib.request.url2pathname` does).
pub fn file_uri_path(uri: &str) -> PathBuf {
    let rest = uri.split_once(':').map_or(uri, |(_, rest)| rest);
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
    let path = match rest.strip_prefix("//") {
        Some(authority_and_path) => authority_and_path
            .find('/')
            .map_or("", |slash| &authority_and_path[slash..]),
        None => rest,
    };
    bytes_to_path(percent_decode_str(path).collect())
}

#[cfg(unix)]
fn bytes_to_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt as _;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn bytes_to_path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// Bytes that Python's `pathlib` leaves unescaped in `as_uri()`: letters, digits, `_.-~` and `/`.
const URI_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// `file://` URI of an absolute path, percent-encoded as `pathlib.Path.as_uri()` does.
pub fn path_to_file_uri(path: &Path) -> String {
    format!(
        "file://{}",
        percent_encode(path.as_os_str().as_encoded_bytes(), URI_PATH)
    )
}

/// The digest of a `checksum = false` file reference: base64 MD5 of the resolved file URI.
fn resolved_uri_digest(path: &Path) -> Result<String> {
    let resolved = fs_err::canonicalize(path).map_err(Error::io("resolve", path))?;
    Ok(cairn_hash::md5(path_to_file_uri(&resolved).as_bytes()).to_base64())
}

/// Whether `digest` is what checksums-off resolving records for `path` (so it pins no content).
fn is_uri_digest(digest: &str, path: &Path) -> bool {
    resolved_uri_digest(path).is_ok_and(|uri_digest| uri_digest == digest)
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| Error::NonUtf8Path {
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn file_uri_paths() {
        let check =
            |uri: &str, expect: &str| assert_eq!(file_uri_path(uri), Path::new(expect), "{uri:?}");
        check("file:///tmp/a%20b/%C3%A9.txt", "/tmp/a b/é.txt");
        check("file://somehost/tmp/x", "/tmp/x");
        check("file:///tmp/x?query=1#frag", "/tmp/x");
        check("file:///tmp/dir/", "/tmp/dir/");
    }

    #[test]
    fn checksum_off_digest_of_the_vectors_root() {
        // From the W&B vectors (`ref_file_checksum_false`): the digest is the MD5 of the URI of
        // the fixture as the SDK saw it at its fixed root.
        let uri = path_to_file_uri(Path::new(
            "/tmp/wandb-artifact-vectors/public/fixtures/refs/ref_a.txt",
        ));
        assert_eq!(
            cairn_hash::md5(uri.as_bytes()).to_base64(),
            "wQEFJuKXwvWYVv5aWABTiQ=="
        );
        let uri = path_to_file_uri(Path::new(
            "/tmp/wandb-artifact-vectors/public/fixtures/refs/sub/ref c.txt",
        ));
        assert_eq!(
            uri,
            "file:///tmp/wandb-artifact-vectors/public/fixtures/refs/sub/ref%20c.txt"
        );
        assert_eq!(
            cairn_hash::md5(uri.as_bytes()).to_base64(),
            "UU+zCxceEG1aogl35gpvoA=="
        );
        assert_eq!(
            path_to_file_uri(Path::new("/a/b c/é.txt")),
            "file:///a/b%20c/%C3%A9.txt"
        );
    }

    proptest! {
        #[test]
        fn file_uris_round_trip(segments in proptest::collection::vec("[^/\u{0}]{1,12}", 1..5)) {
            let path = PathBuf::from(format!("/{}", segments.join("/")));
            prop_assert_eq!(file_uri_path(&path_to_file_uri(&path)), path);
        }
    }
}
