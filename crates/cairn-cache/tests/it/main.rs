//! Integration tests of the cache's public API, including several real processes sharing one
//! cache. Every test works in its own temporary directory, never the user's cache.

#![expect(
    clippy::unwrap_used,
    reason = "a test that cannot set up its fixture should panic right there"
)]

mod cleanup;
mod concurrency;
mod insert;
mod materialize;
mod memory;
mod stat_cache;

use std::path::Path;
use std::time::{Duration, SystemTime};

use cairn_cache::{Cache, CacheOptions, ObjectKey};

/// A cache in `dir/cache`.
fn cache_in(dir: &Path) -> Cache {
    Cache::open(CacheOptions::new(dir.join("cache"))).unwrap()
}

/// `len` deterministic pseudo-random bytes.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn key_of(bytes: &[u8]) -> ObjectKey {
    ObjectKey::md5(cairn_hash::md5(bytes))
}

/// Names of the files directly in `dir`.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Sets a file's modification time `age` in the past.
fn age_file(path: &Path, age: Duration) {
    let file = fs_err::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|_| {
            // Read-only objects: open for reading is enough to set times as the owner.
            fs_err::File::open(path).unwrap()
        });
    let past = SystemTime::now() - age;
    file.file()
        .set_times(
            std::fs::FileTimes::new()
                .set_modified(past)
                .set_accessed(past),
        )
        .unwrap();
}
