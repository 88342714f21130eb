//! Content digests for Cairn: MD5 in the W&B encodings, XXH128 and BLAKE3, over bytes, readers and
//! files, one file at a time or many in parallel.
//!
//! This crate is the bottom layer of the workspace. It knows how to turn bytes into digests and
//! digests into text; it knows nothing about manifests, artifacts, caches or networks, it is not
//! async and it does not pull `serde_json`.
//!
//! # Key types
//!
//! * [`Md5Digest`], [`Xxh128Digest`], [`Blake3Digest`]: fixed-size digests with strict base64 and
//!   hex parsing. W&B writes MD5 and XXH128 as padded standard base64 (`b1kCrCNwJL3QwXbLkwY9xA==`),
//!   which is also their `Display` form.
//! * [`Hasher`]: feeds the same bytes to every requested algorithm in one pass. MD5 is always
//!   computed, because it is the digest W&B (and Cairn's server) deduplicate uploads by.
//! * [`FileHasher`]: owns one read buffer and reuses it for every file it hashes.
//! * [`hash_files`]: hashes many files on all cores; results come back in input order.
//! * [`md5_many`]: the MD5 of many buffers, several at once.
//!
//! # Example
//!
//! ```
//! use cairn_hash::{Algorithms, Hasher, Md5Digest};
//!
//! let mut hasher = Hasher::new(Algorithms::MD5.with_xxh128());
//! hasher.update(b"hello");
//! let digests = hasher.finalize();
//! assert_eq!(digests.size, 5);
//! assert_eq!(digests.md5.to_base64(), "XUFAKrxLKna5cZ2REBfFkg==");
//! assert_eq!(digests.md5.to_hex(), "5d41402abc4b2a76b9719d911017c592");
//! let xxh128 = digests.xxh128.map(|digest| digest.to_base64());
//! assert_eq!(xxh128.as_deref(), Some("tenBrQcbPn/Hec+qXlI4GA=="));
//!
//! // Digests parse strictly: wrong length, missing padding or stray characters are errors.
//! assert_eq!(Md5Digest::from_base64("XUFAKrxLKna5cZ2REBfFkg==")?, digests.md5);
//! assert!(Md5Digest::from_base64("XUFAKrxLKna5cZ2REBfFkg").is_err());
//! # Ok::<(), cairn_hash::ParseDigestError>(())
//! ```
//!
//! # Why these choices
//!
//! * Each byte is read once: a file is hashed by every requested algorithm from the same buffer, and
//!   its size is the number of bytes hashed, so callers never need a second pass or a racy `stat`.
//! * Memory is bounded by the buffers, one per worker thread ([`DEFAULT_BUFFER_SIZE`] each),
//!   whatever the file sizes.
//! * One MD5 is the RustCrypto `md-5` crate. Many MD5s run eight side by side in the lanes of a
//!   vector register (our own code, checked against `md-5` by property tests): one digest is a
//!   chain of dependent steps that leaves most of a core idle, eight independent ones are not.
//!   [`hash_files`] does this for files whenever MD5 alone is asked for. `cargo xtask bench hash`
//!   compares both with `md5sum` on the same data in the same run.

#![warn(missing_docs)]

mod digest;
mod error;
mod file;
mod hasher;
mod lanes;
mod parallel;

#[cfg(feature = "serde")]
pub use digest::serde_hex;
pub use digest::{Blake3Digest, Md5Digest, ParseDigestError, Xxh128Digest};
pub use error::{Error, Result};
pub use file::{DEFAULT_BUFFER_SIZE, FileHasher};
pub use hasher::{Algorithms, Digests, Hasher, blake3, md5, xxh128};
pub use lanes::md5_many;
pub use parallel::{ParallelOptions, hash_files, hash_files_streaming};
