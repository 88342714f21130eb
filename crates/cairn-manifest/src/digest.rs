//! The artifact digest (FORMAT.md §3.3) and the two algorithms it can use.
//!
//! The artifact digest is the version identity of an artifact: the server deduplicates versions
//! by it. It is a hash of a text preimage that lists every entry's path and digest in sorted
//! order, so it depends on nothing else (not sizes, refs, names or metadata).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The first line of every artifact digest preimage.
pub const PREIMAGE_HEADER: &str = "wandb-artifact-manifest-v1\n";

/// Which hash an artifact uses for its file entries and its artifact digest.
///
/// W&B calls these `MANIFEST_MD5` (the default) and `MANIFEST_XXH128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DigestAlgorithm {
    /// MD5, W&B's default and the only algorithm SDKs before 0.29.0 understand.
    #[default]
    Md5,
    /// XXH3-128 with seed 0, big-endian.
    Xxh128,
}

impl DigestAlgorithm {
    /// The name W&B uses in the API and in `digestAlgorithm` fields.
    pub fn as_wandb_str(self) -> &'static str {
        match self {
            Self::Md5 => "MANIFEST_MD5",
            Self::Xxh128 => "MANIFEST_XXH128",
        }
    }

    /// The value the SDK puts in an entry's `extra.alg`, if any (MD5 entries carry none).
    pub fn entry_alg(self) -> Option<&'static str> {
        match self {
            Self::Md5 => None,
            Self::Xxh128 => Some("XXH128"),
        }
    }

    /// Lowercase hex of the hash of `bytes`, the form of an artifact digest.
    pub fn hex_digest(self, bytes: &[u8]) -> String {
        match self {
            Self::Md5 => cairn_hash::md5(bytes).to_hex(),
            Self::Xxh128 => cairn_hash::xxh128(bytes).to_hex(),
        }
    }

    /// Padded standard base64 of the hash of `bytes`, the form of a file entry's digest.
    pub fn content_digest(self, bytes: &[u8]) -> String {
        match self {
            Self::Md5 => cairn_hash::md5(bytes).to_base64(),
            Self::Xxh128 => cairn_hash::xxh128(bytes).to_base64(),
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_wandb_str())
    }
}

impl FromStr for DigestAlgorithm {
    type Err = Error;

    /// Accepts the W&B names `MANIFEST_MD5` and `MANIFEST_XXH128`, and also the short forms
    /// `MD5` and `XXH128` that the SDK's `Artifact(digest_algorithm=...)` argument takes.
    fn from_str(input: &str) -> Result<Self> {
        match input {
            "MANIFEST_MD5" | "MD5" => Ok(Self::Md5),
            "MANIFEST_XXH128" | "XXH128" => Ok(Self::Xxh128),
            _ => Err(Error::UnknownDigestAlgorithm {
                input: input.to_owned(),
            }),
        }
    }
}

/// Builds the artifact digest preimage from `(path, digest)` pairs in any order.
///
/// This is the formula of FORMAT.md §3.3 without the path rules of [`crate::LogicalPath`]: it
/// accepts any strings, as the SDK's hashing does (`:` and newlines are hashed verbatim). When a
/// path occurs twice the later digest wins, like assigning twice into a Python dict.
/// [`crate::Manifest::digest_preimage`] gives the same result for a manifest.
///
/// ```
/// let preimage = cairn_manifest::digest_preimage_of([("b", "2"), ("a", "1")]);
/// assert_eq!(preimage, "wandb-artifact-manifest-v1\na:1\nb:2\n");
/// ```
pub fn digest_preimage_of<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let sorted: BTreeMap<&str, &str> = entries.into_iter().collect();
    write_preimage(sorted)
}

/// Hashes [`digest_preimage_of`] with `algorithm` and returns lowercase hex.
pub fn artifact_digest_of<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    algorithm: DigestAlgorithm,
) -> String {
    algorithm.hex_digest(digest_preimage_of(entries).as_bytes())
}

/// Computes an artifact digest from `(path, digest)` pairs that arrive sorted by path (byte
/// order of UTF-8, which is code-point order: what an SQL `ORDER BY` on a `BINARY` text column
/// gives), without ever holding the preimage in memory.
///
/// ```
/// use cairn_manifest::{ArtifactDigester, DigestAlgorithm, artifact_digest_of};
///
/// let mut digester = ArtifactDigester::new(DigestAlgorithm::Md5);
/// digester.push("a", "1");
/// digester.push("b", "2");
/// assert_eq!(
///     digester.finish(),
///     artifact_digest_of([("b", "2"), ("a", "1")], DigestAlgorithm::Md5)
/// );
/// ```
#[derive(Debug)]
pub struct ArtifactDigester {
    algorithm: DigestAlgorithm,
    hasher: cairn_hash::Hasher,
}

impl ArtifactDigester {
    /// A digester that has hashed the preimage header.
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        let algorithms = match algorithm {
            DigestAlgorithm::Md5 => cairn_hash::Algorithms::MD5,
            DigestAlgorithm::Xxh128 => cairn_hash::Algorithms::MD5.with_xxh128(),
        };
        let mut hasher = cairn_hash::Hasher::new(algorithms);
        hasher.update(PREIMAGE_HEADER.as_bytes());
        Self { algorithm, hasher }
    }

    /// Hashes the next entry's line; entries must come in sorted order.
    pub fn push(&mut self, path: &str, digest: &str) {
        self.hasher.update(path.as_bytes());
        self.hasher.update(b":");
        self.hasher.update(digest.as_bytes());
        self.hasher.update(b"\n");
    }

    /// The artifact digest, lowercase hex.
    pub fn finish(self) -> String {
        let digests = self.hasher.finalize();
        match (self.algorithm, digests.xxh128) {
            (DigestAlgorithm::Xxh128, Some(xxh128)) => xxh128.to_hex(),
            _ => digests.md5.to_hex(),
        }
    }
}

/// Writes the preimage for entries that are already sorted by path.
pub(crate) fn write_preimage<'a>(sorted: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut preimage = String::from(PREIMAGE_HEADER);
    for (path, digest) in sorted {
        preimage.push_str(path);
        preimage.push(':');
        preimage.push_str(digest);
        preimage.push('\n');
    }
    preimage
}

#[cfg(test)]
mod tests {
    use super::{DigestAlgorithm, artifact_digest_of};

    fn check(entries: &[(&str, &str)], expect_md5: &str, expect_xxh128: &str) {
        assert_eq!(
            artifact_digest_of(entries.iter().copied(), DigestAlgorithm::Md5),
            expect_md5
        );
        assert_eq!(
            artifact_digest_of(entries.iter().copied(), DigestAlgorithm::Xxh128),
            expect_xxh128
        );
    }

    #[test]
    fn known_digests() {
        // Values from FORMAT.md §3.3.
        check(
            &[],
            "64e7c61456b10382e2f3b571ac24b659",
            "f13c5dd8602ab5d18a0c87ce730a735e",
        );
        assert_eq!(
            artifact_digest_of(
                [("hello.txt", "b1kCrCNwJL3QwXbLkwY9xA==")],
                DigestAlgorithm::Md5
            ),
            "21866c7249bdfd9cd0fd1a1c7f4209a6"
        );
    }

    #[test]
    fn names_round_trip() {
        for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Xxh128] {
            assert_eq!(
                algorithm.as_wandb_str().parse::<DigestAlgorithm>().ok(),
                Some(algorithm)
            );
        }
        assert_eq!(
            "XXH128".parse::<DigestAlgorithm>().ok(),
            Some(DigestAlgorithm::Xxh128)
        );
        assert_eq!(DigestAlgorithm::default(), DigestAlgorithm::Md5);
        assert!("md5".parse::<DigestAlgorithm>().is_err());
    }
}
