//! One pass over the bytes, every requested algorithm.

use md5::Digest as _;
use xxhash_rust::xxh3::Xxh3;

use crate::{Blake3Digest, Md5Digest, Xxh128Digest};

/// Which digests to compute besides MD5, which is always computed.
///
/// ```
/// use cairn_hash::Algorithms;
///
/// let all = Algorithms::MD5.with_xxh128().with_blake3();
/// assert!(all.xxh128() && all.blake3());
/// assert!(!Algorithms::default().xxh128());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Algorithms {
    xxh128: bool,
    blake3: bool,
}

impl Algorithms {
    /// MD5 only: what a W&B manifest needs.
    pub const MD5: Self = Self {
        xxh128: false,
        blake3: false,
    };

    /// Also computes XXH3-128.
    #[must_use]
    pub const fn with_xxh128(self) -> Self {
        Self {
            xxh128: true,
            ..self
        }
    }

    /// Also computes BLAKE3.
    #[must_use]
    pub const fn with_blake3(self) -> Self {
        Self {
            blake3: true,
            ..self
        }
    }

    /// Whether XXH3-128 is computed.
    pub const fn xxh128(self) -> bool {
        self.xxh128
    }

    /// Whether BLAKE3 is computed.
    pub const fn blake3(self) -> bool {
        self.blake3
    }
}

/// The digests of one byte stream, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    /// Number of bytes hashed.
    pub size: u64,
    /// MD5 of the bytes.
    pub md5: Md5Digest,
    /// XXH3-128 of the bytes, when asked for.
    pub xxh128: Option<Xxh128Digest>,
    /// BLAKE3 of the bytes, when asked for.
    pub blake3: Option<Blake3Digest>,
}

/// An incremental hasher that feeds each chunk to every requested algorithm.
pub struct Hasher {
    size: u64,
    md5: md5::Md5,
    xxh128: Option<Box<Xxh3>>,
    blake3: Option<Box<blake3::Hasher>>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Hasher")
            .field("size", &self.size)
            .field("xxh128", &self.xxh128.is_some())
            .field("blake3", &self.blake3.is_some())
            .finish()
    }
}

impl Hasher {
    /// A hasher for MD5 plus the extra `algorithms`.
    pub fn new(algorithms: Algorithms) -> Self {
        Self {
            size: 0,
            md5: md5::Md5::new(),
            xxh128: algorithms.xxh128.then(|| Box::new(Xxh3::new())),
            blake3: algorithms.blake3.then(|| Box::new(blake3::Hasher::new())),
        }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.md5.update(bytes);
        if let Some(xxh128) = &mut self.xxh128 {
            xxh128.update(bytes);
        }
        if let Some(blake3) = &mut self.blake3 {
            blake3.update(bytes);
        }
    }

    /// Number of bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Finishes every algorithm.
    pub fn finalize(self) -> Digests {
        Digests {
            size: self.size,
            md5: Md5Digest::from_bytes(self.md5.finalize().into()),
            xxh128: self
                .xxh128
                .map(|xxh128| Xxh128Digest::from_bytes(xxh128.digest128().to_be_bytes())),
            blake3: self
                .blake3
                .map(|blake3| Blake3Digest::from_bytes(*blake3.finalize().as_bytes())),
        }
    }
}

/// MD5 of a byte slice.
///
/// ```
/// assert_eq!(cairn_hash::md5(b"").to_base64(), "1B2M2Y8AsgTpgAmY7PhCfg==");
/// ```
pub fn md5(bytes: &[u8]) -> Md5Digest {
    Md5Digest::from_bytes(md5::Md5::digest(bytes).into())
}

/// XXH3-128 (seed 0) of a byte slice, big-endian as W&B encodes it.
///
/// ```
/// assert_eq!(cairn_hash::xxh128(b"hello").to_hex(), "b5e9c1ad071b3e7fc779cfaa5e523818");
/// ```
pub fn xxh128(bytes: &[u8]) -> Xxh128Digest {
    Xxh128Digest::from_bytes(xxhash_rust::xxh3::xxh3_128(bytes).to_be_bytes())
}

/// BLAKE3 of a byte slice.
///
/// ```
/// let digest = cairn_hash::blake3(b"");
/// assert_eq!(digest.to_hex(), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
/// ```
pub fn blake3(bytes: &[u8]) -> Blake3Digest {
    Blake3Digest::from_bytes(*blake3::hash(bytes).as_bytes())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_answers() {
        // Values from the W&B vectors (`hashes.strings`).
        let check = |input: &str, md5_b64: &str, xxh128_b64: &str| {
            assert_eq!(md5(input.as_bytes()).to_base64(), md5_b64, "{input:?}");
            assert_eq!(
                xxh128(input.as_bytes()).to_base64(),
                xxh128_b64,
                "{input:?}"
            );
        };
        check("", "1B2M2Y8AsgTpgAmY7PhCfg==", "maoG0wFHmNhgAcMkRo1Jfw==");
        check(
            "hello",
            "XUFAKrxLKna5cZ2REBfFkg==",
            "tenBrQcbPn/Hec+qXlI4GA==",
        );
        check(
            "日本語",
            "ABEK+LQ5PvP3LFC+WzMr7A==",
            "z1QFQfqF/VN1D/QXp64EeQ==",
        );
    }

    proptest! {
        #[test]
        fn chunking_does_not_change_digests(bytes in proptest::collection::vec(any::<u8>(), 0..4096), cut in 0usize..4096) {
            let cut = cut.min(bytes.len());
            let mut hasher = Hasher::new(Algorithms::MD5.with_xxh128().with_blake3());
            hasher.update(&bytes[..cut]);
            hasher.update(&bytes[cut..]);
            let digests = hasher.finalize();
            prop_assert_eq!(digests.size, bytes.len() as u64);
            prop_assert_eq!(digests.md5, md5(&bytes));
            prop_assert_eq!(digests.xxh128, Some(xxh128(&bytes)));
            prop_assert_eq!(digests.blake3, Some(blake3(&bytes)));
        }
    }
}
