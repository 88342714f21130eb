//! The stat cache: unchanged files hit, changed files miss, racy files are never trusted.

use std::time::Duration;

use cairn_cache::{FileStat, StatCache};
use cairn_hash::{Algorithms, FileHasher};

use crate::age_file;

fn stat_of(path: &std::path::Path) -> FileStat {
    FileStat::from_metadata(&fs_err::metadata(path).unwrap())
}

fn hash_and_record(stat_cache: &StatCache, path: &std::path::Path) -> usize {
    let stat = stat_of(path);
    let digests = FileHasher::new(Algorithms::MD5.with_xxh128())
        .hash_file(path)
        .unwrap();
    stat_cache.record([(path, &stat, &digests)]).unwrap()
}

#[test]
fn an_unchanged_file_hits_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.bin");
    fs_err::write(&file, b"hello").unwrap();
    age_file(&file, Duration::from_secs(3600));
    let stat_cache = StatCache::open_in(&dir.path().join("cache")).unwrap();
    assert_eq!(stat_cache.lookup(&file, &stat_of(&file)).unwrap(), None);
    assert_eq!(hash_and_record(&stat_cache, &file), 1);
    let hit = stat_cache.lookup(&file, &stat_of(&file)).unwrap().unwrap();
    assert_eq!(hit.md5, cairn_hash::md5(b"hello"));
    assert_eq!(hit.xxh128, Some(cairn_hash::xxh128(b"hello")));
    assert_eq!(hit.size, 5);
    drop(stat_cache);
    let reopened = StatCache::open_in(&dir.path().join("cache")).unwrap();
    assert!(reopened.lookup(&file, &stat_of(&file)).unwrap().is_some());
}

#[test]
fn a_changed_stat_misses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.bin");
    fs_err::write(&file, b"hello").unwrap();
    age_file(&file, Duration::from_secs(3600));
    let stat_cache = StatCache::open_in(dir.path()).unwrap();
    hash_and_record(&stat_cache, &file);
    // Same size, new content, old mtime put back: the ctime still moved.
    fs_err::write(&file, b"jello").unwrap();
    age_file(&file, Duration::from_secs(3600));
    assert_eq!(stat_cache.lookup(&file, &stat_of(&file)).unwrap(), None);
    hash_and_record(&stat_cache, &file);
    // Replaced by another file (new inode).
    let other = dir.path().join("other.bin");
    fs_err::write(&other, b"hallo").unwrap();
    age_file(&other, Duration::from_secs(3600));
    fs_err::rename(&other, &file).unwrap();
    assert_eq!(stat_cache.lookup(&file, &stat_of(&file)).unwrap(), None);
}

#[test]
fn a_racy_file_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fresh.bin");
    fs_err::write(&file, b"just written").unwrap();
    let stat_cache = StatCache::open_in(dir.path()).unwrap();
    assert!(stat_of(&file).is_racy());
    assert_eq!(hash_and_record(&stat_cache, &file), 0);
    assert_eq!(stat_cache.lookup(&file, &stat_of(&file)).unwrap(), None);
}

#[test]
fn a_snapshot_holds_exactly_the_entries_under_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let stat_cache = StatCache::open_in(&dir.path().join("cache")).unwrap();
    for name in ["data/a", "data/sub/b", "data-other/c", "datb"] {
        let path = dir.path().join(name);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, name).unwrap();
        age_file(&path, Duration::from_secs(3600));
        assert_eq!(hash_and_record(&stat_cache, &path), 1);
    }
    let snapshot = stat_cache.snapshot_under(&dir.path().join("data")).unwrap();
    assert_eq!(snapshot.len(), 2);
    let a = dir.path().join("data/a");
    assert_eq!(
        snapshot.lookup(&a, &stat_of(&a)).unwrap().md5,
        cairn_hash::md5(b"data/a")
    );
    let c = dir.path().join("data-other/c");
    assert!(snapshot.lookup(&c, &stat_of(&c)).is_none());
}
