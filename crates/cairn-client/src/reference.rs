//! `add_reference`: entries that point at data outside the artifact.
//!
//! `file://` references are resolved here; other schemes with a storage handler (`s3`, `gs`,
//! Azure, `http(s)`) arrive with Cairn's storage layer. Schemes nobody handles are tracked by URI
//! alone, as the SDK does.

use std::path::{Path, PathBuf};

use cairn_hash::{Algorithms, FileHasher, ParallelOptions, hash_files_streaming};
use cairn_manifest::{Entry, LogicalPath};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};

use crate::artifact::{join_prefix, utf8};
use crate::local::walk_files;
use crate::{Artifact, ArtifactEntry, DEFAULT_MAX_OBJECTS, Error, ReferenceOptions, Result};

/// Schemes the SDK handles with a storage handler that this build does not have yet.
const HANDLED_ELSEWHERE: &[&str] = &[
    "s3",
    "gs",
    "http",
    "https",
    "wandb-artifact",
    "wandb-client-artifact",
];

impl Artifact {
    /// Adds a reference to data outside the artifact (the SDK's `add_reference`).
    ///
    /// * `file://` to a file: one entry named after the file; its digest is the MD5 of the
    ///   content (or, with `checksum` off, the MD5 of the resolved `file://` URI).
    /// * `file://` to a directory: one entry per file below it (symlinked files followed,
    ///   symlinked directories not), named `prefix/relative path`; more than `max_objects` files
    ///   is an error and adds nothing.
    /// * any scheme without a handler: one entry whose digest is the URI itself; `name` is then
    ///   required.
    pub fn add_reference(
        &mut self,
        uri: &str,
        options: &ReferenceOptions,
    ) -> Result<Vec<ArtifactEntry>> {
        self.ensure_draft("add_reference")?;
        let scheme = uri_scheme(uri).ok_or_else(|| Error::NotAUri {
            uri: uri.to_owned(),
        })?;
        let entries = match scheme.as_str() {
            "file" => self.file_reference(uri, options)?,
            scheme if HANDLED_ELSEWHERE.contains(&scheme) => {
                return Err(Error::UnsupportedScheme {
                    scheme: scheme.to_owned(),
                });
            }
            _ => {
                let name = options.name.as_deref().ok_or_else(|| Error::NameRequired {
                    uri: uri.to_owned(),
                })?;
                vec![ArtifactEntry {
                    path: LogicalPath::new(name)?,
                    entry: Entry::reference(uri, uri, None),
                }]
            }
        };
        self.add_all(entries.clone(), false)?;
        Ok(entries)
    }

    fn file_reference(&self, uri: &str, options: &ReferenceOptions) -> Result<Vec<ArtifactEntry>> {
        let local = file_uri_path(uri);
        let max_objects = options.max_objects.unwrap_or(DEFAULT_MAX_OBJECTS);
        let not_found = |source: Option<std::io::Error>| Error::ReferenceNotFound {
            uri: uri.to_owned(),
            source,
        };
        let metadata = fs_err::metadata(&local).map_err(|error| not_found(Some(error)))?;
        // `file://` references always use MD5, even in XXH128 artifacts (as in the SDK).
        let md5_options =
            ParallelOptions::new(Algorithms::MD5).with_threads(self.hash_options().threads());
        if metadata.is_file() {
            let name = match &options.name {
                Some(name) => name.clone(),
                None => utf8(Path::new(local.file_name().unwrap_or_default()))?.to_owned(),
            };
            let path = LogicalPath::new(&name)?;
            let (digest, size) = if options.checksum {
                let digests = FileHasher::new(Algorithms::MD5).hash_file(&local)?;
                (digests.md5.to_base64(), digests.size)
            } else {
                (resolved_uri_digest(&local)?, metadata.len())
            };
            return Ok(vec![ArtifactEntry {
                path,
                entry: Entry::reference(uri, digest, Some(size)),
            }]);
        }
        if !metadata.is_dir() {
            return Err(not_found(None));
        }
        let mut files = Vec::new();
        let digests = if options.checksum {
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
        let mut entries = Vec::with_capacity(files.len());
        for file in &files {
            let path = LogicalPath::new(&join_prefix(options.name.as_deref(), &file.relative))?;
            let reference = if uri.ends_with('/') {
                format!("{uri}{}", file.relative)
            } else {
                format!("{uri}/{}", file.relative)
            };
            entries.push(ArtifactEntry {
                path,
                entry: Entry::reference(reference, String::new(), None),
            });
        }
        match digests {
            Some(digests) => {
                for (item, digests) in entries.iter_mut().zip(digests) {
                    let digests = digests?;
                    item.entry.digest = digests.md5.to_base64();
                    item.entry.size = Some(digests.size);
                }
            }
            None => {
                for (item, file) in entries.iter_mut().zip(&files) {
                    let size = fs_err::metadata(&file.path)
                        .map_err(Error::io("read the metadata of", &file.path))?
                        .len();
                    item.entry.digest = resolved_uri_digest(&file.path)?;
                    item.entry.size = Some(size);
                }
            }
        }
        Ok(entries)
    }
}

/// The scheme of `uri` as Python's `urlsplit` finds it (lowercased), if it has one.
pub(crate) fn uri_scheme(uri: &str) -> Option<String> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let starts_with_letter = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic());
    let valid = starts_with_letter
        && chars.all(|char| char.is_ascii_alphanumeric() || "+-.".contains(char));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// The local path a `file:` URI names: the host is ignored, query and fragment are dropped, and
/// the path is percent-decoded.
pub(crate) fn file_uri_path(uri: &str) -> PathBuf {
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
pub(crate) fn path_to_file_uri(path: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn schemes() {
        let check = |uri: &str, expect: Option<&str>| {
            assert_eq!(uri_scheme(uri).as_deref(), expect, "{uri:?}")
        };
        check("file:///x", Some("file"));
        check("S3://bucket/key", Some("s3"));
        check("custom-scheme://host/path", Some("custom-scheme"));
        check("/abs/path/without/scheme", None);
        check("relative/path", None);
        check("1abc://x", None);
        check(":x", None);
    }

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
