//! Several real processes (this test binary, re-executed) and threads inserting, reading and
//! cleaning one cache at once: nothing is lost, nothing is torn.
//!
//! The parent test spawns workers by running this same binary with `--exact` on the `worker`
//! test and an environment variable naming the role; without that variable the worker test
//! does nothing. Afterwards every object left must hash to its name, `tmp/` and `pins/` must be
//! empty, and every reader must have seen only whole, correct files.

use std::io::Read as _;
use std::path::Path;
use std::process::Command;

use cairn_cache::{ByteSize, Cache, CacheOptions, CleanupOptions, Error, LinkMode};
use cairn_hash::{Algorithms, FileHasher};

use crate::{content, key_of};

const ROLE_ENV: &str = "CAIRN_CACHE_TEST_WORKER";
const ROOT_ENV: &str = "CAIRN_CACHE_TEST_ROOT";
const OBJECTS: u64 = 12;
const ROUNDS: u64 = 40;

fn object(index: u64) -> Vec<u8> {
    // 64 KiB to ~1 MiB, so writes take long enough to overlap.
    content(1000 + index, 65_536 + (index as usize * 83_000))
}

/// Hands bytes over a few KiB at a time, so an insert is in progress for a while.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let length = self.0.len().min(buffer.len()).min(16 * 1024);
        buffer[..length].copy_from_slice(&self.0[..length]);
        self.0 = &self.0[length..];
        Ok(length)
    }
}

fn run_role(role: &str, root: &Path, seed: u64) {
    let cache = Cache::open(CacheOptions::new(root)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    for round in 0..ROUNDS {
        let index = (round * 5 + seed * 3) % OBJECTS;
        let bytes = object(index);
        let key = key_of(&bytes);
        match role {
            "insert" => {
                cache
                    .insert(&key, Trickle(&bytes), Some(bytes.len() as u64))
                    .unwrap();
                if round % 4 == 0 {
                    // Broken streams of the same object must leave nothing behind.
                    let half = &bytes[..bytes.len() / 2];
                    cache
                        .insert(&key_of(half), Trickle(&bytes), None)
                        .unwrap_err();
                }
            }
            "read" => {
                let mut pin = cache.pin().unwrap();
                pin.add(&key).unwrap();
                if !cache.contains(&key) {
                    // Not inserted yet (or evicted before the pin): a reader inserts it itself.
                    cache.insert(&key, &bytes[..], None).unwrap();
                }
                // Pinned and present: a concurrent cleanup cannot take it away now.
                let mode = if round % 2 == 0 {
                    LinkMode::Hardlink
                } else {
                    LinkMode::Copy
                };
                let destination = scratch.path().join(format!("out-{round}.bin"));
                let done = cache.materialize(&key, &destination, mode).unwrap();
                assert_eq!(done.mode, mode);
                let seen = fs_err::read(&destination).unwrap();
                assert!(
                    seen == bytes,
                    "torn or wrong content in {}",
                    destination.display()
                );
                let mut read_back = Vec::new();
                cache
                    .open_object(&key)
                    .unwrap()
                    .read_to_end(&mut read_back)
                    .unwrap();
                assert!(read_back == bytes, "torn object read");
            }
            "clean" => {
                let target = ByteSize::from_bytes(if round % 3 == 0 { 0 } else { 2_000_000 });
                match cache.cleanup(CleanupOptions::new(target)) {
                    Ok(_) | Err(Error::Busy { .. }) => {}
                    Err(error) => panic!("cleanup failed: {error}"),
                }
                // A reader without a pin may find the object gone, but never torn.
                match cache.open_object(&key) {
                    Ok(mut file) => {
                        let mut read_back = Vec::new();
                        file.read_to_end(&mut read_back).unwrap();
                        assert!(read_back == bytes, "torn object read by a cleaner");
                    }
                    Err(error) => assert!(error.is_not_found(), "{error}"),
                }
            }
            other => panic!("unknown role {other}"),
        }
    }
}

/// The worker body; a no-op unless the parent test started this process as a worker.
#[test]
fn worker() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let root = std::env::var_os(ROOT_ENV).expect("the parent sets the cache root");
    let (role, seed) = role.split_once(':').expect("role:seed");
    run_role(role, Path::new(&root), seed.parse().unwrap());
}

fn check_cache_is_whole(root: &Path) {
    let cache = Cache::open(CacheOptions::new(root)).unwrap();
    let stats = cache.stats_by_walk().unwrap();
    let mut hasher = FileHasher::new(Algorithms::MD5);
    let mut checked = 0;
    for index in 0..OBJECTS {
        let bytes = object(index);
        let key = key_of(&bytes);
        if cache.contains(&key) {
            let path = cache.object_path(&key);
            let digests = hasher.hash_file(&path).unwrap();
            assert_eq!(digests.md5, cairn_hash::md5(&bytes), "{}", path.display());
            checked += 1;
        }
    }
    assert_eq!(
        stats.objects, checked,
        "no stray objects (half-inserted or mismatching)"
    );
    assert_eq!(
        stats.temp_files, 0,
        "every temp file was renamed or removed"
    );
    assert_eq!(fs_err::read_dir(root.join("pins")).unwrap().count(), 0);
    // The index agrees with the tree after the walk reconciled it.
    let again = cache.stats().unwrap();
    assert_eq!(
        (again.objects, again.object_bytes),
        (stats.objects, stats.object_bytes)
    );
}

#[test]
fn processes_share_one_cache_without_losing_or_tearing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let executable = std::env::current_exe().unwrap();
    let roles = [
        "insert:0", "insert:1", "read:2", "read:3", "clean:4", "read:5",
    ];
    let children: Vec<_> = roles
        .iter()
        .map(|role| {
            let child = Command::new(&executable)
                .args([
                    "concurrency::worker",
                    "--exact",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(ROLE_ENV, role)
                .env(ROOT_ENV, &root)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (role, child)
        })
        .collect();
    for (role, child) in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "worker {role} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("1 passed"),
            "worker {role} did not run: {stdout}"
        );
    }
    check_cache_is_whole(&root);
}

#[test]
fn threads_share_one_cache_without_losing_or_tearing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    std::thread::scope(|scope| {
        for (seed, role) in ["insert", "read", "clean", "read"].into_iter().enumerate() {
            let root = &root;
            scope.spawn(move || run_role(role, root, seed as u64));
        }
    });
    check_cache_is_whole(&root);
}
