//! The local content-addressed cache: atomic writes, safe under concurrent processes, a size
//! budget with LRU cleanup, materialising files by reflink, hardlink or copy, and a stat cache so
//! an unchanged file is never hashed twice.
//!
//! This crate is what sits between the network and a user's checkout. It depends only on
//! `cairn-hash`; it knows nothing of manifests, artifacts, servers or storage handlers, and it is
//! synchronous (async callers wrap calls in `spawn_blocking`). It never prints.
//!
//! # Layout
//!
//! ```text
//! $CAIRN_CACHE_DIR (else ~/.cache/cairn, ~/Library/Caches/cairn, %LOCALAPPDATA%\cairn)
//! ├── objects-v1/md5/<hex[:2]>/<hex[2:]>    content, named by the MD5 of its bytes (read-only)
//! ├── objects-v1/etag/<h[:2]>/<h[2:]>       references, h = SHA256(SHA256(url) ‖ SHA256(etag))
//! ├── tmp/                                  objects being written (unique names, locked)
//! ├── pins/                                 one locked file per operation in progress
//! ├── index-v1.sqlite                       sizes, last use, running totals
//! ├── stat-v1.sqlite                        (path, dev, inode, size, mtime, ctime) → digests
//! ├── .lock                                 shared while pinning, exclusive while cleaning up
//! ├── CACHEDIR.TAG                          backup tools skip the directory
//! └── .gitignore                            `*`
//! ```
//!
//! Every on-disk name carries a version; an incompatible change bumps it, so old and new
//! binaries can share one root safely.
//!
//! # Key types
//!
//! * [`Cache`]: open with [`CacheOptions`]; [`insert`](Cache::insert),
//!   [`materialize`](Cache::materialize), [`pin`](Cache::pin), [`cleanup`](Cache::cleanup),
//!   [`stats`](Cache::stats), [`verify`](Cache::verify).
//! * [`VerifiedBytes`]: an object held in memory, checked and stored by
//!   [`insert_bytes`](Cache::insert_bytes) and written out by
//!   [`materialize_bytes`](Cache::materialize_bytes) without temporary names.
//! * [`Dir`]: a directory held open, so the many files of one download are named from it
//!   ([`materialize_bytes_in`](Cache::materialize_bytes_in)) instead of by whole paths.
//! * [`Lookup`]: sizes of many objects, asking the filesystem once per missing fan-out
//!   directory instead of once per object (a download into an empty cache).
//! * [`ObjectKey`]: an MD5 content key or a W&B etag key; the object path is a pure function of it.
//! * [`LinkMode`]: `Auto` (reflink, else copy), `Reflink`, `Hardlink`, `Copy`.
//! * [`StatCache`]: file stat → digests, shared by every operation that hashes local files.
//! * [`ByteSize`]: sizes as people write them (`10GB`, `500MiB`, `1234`).
//!
//! # Why it is safe to share
//!
//! * **Nothing partial is ever visible.** An insert streams into a uniquely named, locked file
//!   in `tmp/` (same filesystem as the objects) while hashing; only when size and digest match
//!   is the file made read-only and renamed into place, without replacing an existing object.
//!   Rename is atomic, so a reader sees no object or the whole verified object. A mismatch, a
//!   truncated stream or a read error removes the temp file and returns an error naming the key.
//! * **Presence means verified.** Because only verified files are ever renamed in, a cache hit
//!   never needs a size-only guess (W&B's rule) nor a re-hash; [`Cache::verify`] re-hashes on
//!   demand and removes an object that was tampered with.
//! * **Concurrent inserts of one object** both succeed: the loser of the rename finds the
//!   winner's identical object and counts it as success.
//! * **Eviction never robs an operation.** An operation pins the objects it needs
//!   ([`Cache::pin`]): pin files are created and extended under the `.lock` held shared, and
//!   cleanup decides and deletes under the `.lock` held exclusively, so a pin either landed
//!   before a cleanup (and is honoured) or after it (and the operation then sees whether the
//!   object is still present). The shared lock is only held for moments, so cleanup waits
//!   briefly; it gives up with [`Error::Busy`] after the lock timeout rather than hang. A dead
//!   process's pin file is unlocked, and cleanup removes it.
//! * **Temp files of live writers are never reaped:** each writer holds its temp file locked;
//!   cleanup only removes temp files that are unlocked *and* older than the grace period (1 h).
//! * **The index is a summary, not the truth.** `index-v1.sqlite` (WAL, one transaction per
//!   batch) keeps sizes, last use and running totals so [`Cache::stats`] and the size budget need
//!   no walk. A crash can only make it lag; cleanup walks the tree and reconciles it.
//!
//! # Differences from W&B's cache
//!
//! W&B's cache grows until a manual cleanup, never cleans its staging area, lets parallel
//! processes read half-written files, judges a hit by size alone and copies every file out on
//! each download. Here: an optional budget (`CAIRN_CACHE_MAX_SIZE`) is enforced after inserts;
//! stale temp files are reaped; objects appear atomically and verified; and checkouts reflink
//! (or hardlink on request) instead of copying.

#![warn(missing_docs)]

mod cache;
mod cleanup;
mod dir;
mod error;
mod index;
mod insert;
mod key;
mod materialize;
mod memory;
mod pin;
mod size;
mod stat_cache;

pub use cache::{
    CACHE_DIR_ENV, Cache, CacheOptions, DEFAULT_LOCK_TIMEOUT, DEFAULT_TEMP_GRACE, Lookup,
    MAX_SIZE_ENV, OBJECTS_DIR, default_root,
};
pub use cleanup::{CleanupOptions, CleanupReport, Stats, StatsSource};
pub use dir::Dir;
pub use error::{Error, Result};
pub use insert::Inserted;
pub use key::ObjectKey;
pub use materialize::{LinkMode, Materialized};
pub use memory::VerifiedBytes;
pub use pin::Pin;
pub use size::{ByteSize, ParseSizeError};
pub use stat_cache::{CachedDigests, FileStat, RACY_WINDOW, StatCache, StatSnapshot};
