//! Cleanup, pins, temp reaping, the budget and statistics.

use std::time::Duration;

use cairn_cache::{
    ByteSize, Cache, CacheOptions, CleanupOptions, Error, LinkMode, ObjectKey, StatsSource,
};

use crate::{age_file, cache_in, content, key_of, names_in};

const SIZE: usize = 10_000;

fn insert(cache: &Cache, seed: u64) -> ObjectKey {
    let bytes = content(seed, SIZE);
    let key = key_of(&bytes);
    cache.insert(&key, &bytes[..], None).unwrap();
    key
}

fn target(objects: u64) -> CleanupOptions {
    CleanupOptions::new(ByteSize::from_bytes(objects * SIZE as u64))
}

#[test]
fn evicts_least_recently_used_first() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let a = insert(&cache, 1);
    let b = insert(&cache, 2);
    let c = insert(&cache, 3);
    // Using `a` makes `b` the least recently used.
    cache
        .materialize(&a, &dir.path().join("a"), LinkMode::Copy)
        .unwrap();
    let report = cache.cleanup(target(2)).unwrap();
    assert_eq!(report.evicted_objects, 1);
    assert_eq!(report.reclaimed_bytes, SIZE as u64);
    assert_eq!((report.objects, report.bytes), (2, 2 * SIZE as u64));
    assert!(!cache.contains(&b));
    assert!(cache.contains(&a) && cache.contains(&c));
    let report = cache.cleanup(target(1)).unwrap();
    assert_eq!(report.evicted_objects, 1);
    assert!(cache.contains(&a) && !cache.contains(&c));
    let report = cache.cleanup(target(0)).unwrap();
    assert_eq!((report.objects, report.bytes), (0, 0));
    assert_eq!(cache.stats().unwrap().objects, 0);
}

#[test]
fn pinned_objects_are_never_evicted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let a = insert(&cache, 1);
    let b = insert(&cache, 2);
    let not_yet = key_of(b"inserted later");
    let mut pin = cache.pin().unwrap();
    pin.add_all(&[b.clone(), not_yet.clone()]).unwrap();
    assert!(pin.contains(&b));
    let report = cache.cleanup(target(0)).unwrap();
    assert_eq!(report.pinned_objects_kept, 1);
    assert!(!cache.contains(&a) && cache.contains(&b));
    // A pin also covers an object inserted after it was taken.
    cache
        .insert(&not_yet, &b"inserted later"[..], None)
        .unwrap();
    cache.cleanup(target(0)).unwrap();
    assert!(cache.contains(&not_yet));
    drop(pin);
    cache.cleanup(target(0)).unwrap();
    assert!(!cache.contains(&b) && !cache.contains(&not_yet));
    assert!(names_in(&cache.root().join("pins")).is_empty());
}

#[test]
fn a_dead_process_pin_is_ignored_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let a = insert(&cache, 1);
    // A pin file nobody holds locked: its process died.
    let stale = cache.root().join("pins/pin-dead.pin");
    fs_err::write(&stale, format!("{} md5\n", a.to_hex())).unwrap();
    cache.cleanup(target(0)).unwrap();
    assert!(!cache.contains(&a));
    assert!(!stale.exists());
}

#[test]
fn stale_temp_files_are_reaped_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let tmp = cache.root().join("tmp");
    fs_err::write(tmp.join("insert-crashed"), vec![0; 100]).unwrap();
    age_file(&tmp.join("insert-crashed"), Duration::from_secs(2 * 3600));
    fs_err::write(tmp.join("insert-fresh"), vec![0; 50]).unwrap();
    // Old but held by a live writer.
    fs_err::write(tmp.join("insert-writing"), vec![0; 25]).unwrap();
    age_file(&tmp.join("insert-writing"), Duration::from_secs(2 * 3600));
    let writer = fs_err::File::open(tmp.join("insert-writing")).unwrap();
    writer.file().lock().unwrap();

    let report = cache.cleanup(target(100)).unwrap();
    assert_eq!(report.removed_temp_files, 1);
    assert_eq!(report.reclaimed_bytes, 100);
    assert_eq!(report.kept_temp_bytes, 75);
    assert_eq!(names_in(&tmp), ["insert-fresh", "insert-writing"]);

    // `remove_temp` takes young unlocked files too (older than a second), never locked ones.
    age_file(&tmp.join("insert-fresh"), Duration::from_secs(5));
    let report = cache.cleanup(target(100).with_remove_temp(true)).unwrap();
    assert_eq!(report.removed_temp_files, 1);
    assert_eq!(names_in(&tmp), ["insert-writing"]);
    drop(writer);
    let report = cache.cleanup(target(100).with_remove_temp(true)).unwrap();
    assert_eq!(report.removed_temp_files, 1);
    assert!(names_in(&tmp).is_empty());
}

#[test]
fn temp_files_count_towards_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let a = insert(&cache, 1);
    let b = insert(&cache, 2);
    // A live writer's temp file of one object's size: only one object fits beside it.
    let path = cache.root().join("tmp/insert-writing");
    fs_err::write(&path, vec![0; SIZE]).unwrap();
    let report = cache.cleanup(target(2)).unwrap();
    assert_eq!(report.evicted_objects, 1);
    assert_eq!(report.bytes, 2 * SIZE as u64);
    assert!(!cache.contains(&a) && cache.contains(&b));
}

#[test]
fn the_budget_is_enforced_after_inserts() {
    let dir = tempfile::tempdir().unwrap();
    let budget = ByteSize::from_bytes(35 * SIZE as u64 / 10);
    let cache =
        Cache::open(CacheOptions::new(dir.path().join("cache")).with_max_size(Some(budget)))
            .unwrap();
    let keys: Vec<_> = (0..6).map(|seed| insert(&cache, seed)).collect();
    let stats = cache.stats().unwrap();
    assert!(stats.object_bytes <= budget.bytes(), "{stats:?}");
    assert_eq!(stats.max_size, Some(budget));
    assert!(cache.contains(&keys[5]), "the object just inserted stays");
    assert!(!cache.contains(&keys[0]), "the oldest went first");
}

#[test]
fn stats_come_from_the_index_without_a_walk() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    insert(&cache, 1);
    insert(&cache, 2);
    fs_err::write(cache.root().join("tmp/insert-x"), vec![0; 7]).unwrap();
    let stats = cache.stats().unwrap();
    assert_eq!(stats.source, StatsSource::Index);
    assert_eq!((stats.objects, stats.object_bytes), (2, 2 * SIZE as u64));
    assert_eq!((stats.temp_files, stats.temp_bytes), (1, 7));
    drop(cache);

    // Without its index, the first stats walk (and rebuild the index); later ones do not.
    for name in [
        "index-v1.sqlite",
        "index-v1.sqlite-wal",
        "index-v1.sqlite-shm",
    ] {
        let _ = fs_err::remove_file(dir.path().join("cache").join(name));
    }
    let cache = cache_in(dir.path());
    let stats = cache.stats().unwrap();
    assert_eq!(stats.source, StatsSource::Walk);
    assert_eq!((stats.objects, stats.object_bytes), (2, 2 * SIZE as u64));
    let stats = cache.stats().unwrap();
    assert_eq!(stats.source, StatsSource::Index);
    assert_eq!(stats.objects, 2);
}

#[test]
fn a_cleanup_that_cannot_get_the_lock_says_the_cache_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let cache = Cache::open(CacheOptions::new(&root).with_lock_timeout(Duration::from_millis(100)))
        .unwrap();
    let holder = fs_err::File::open(root.join(".lock"))
        .or_else(|_| fs_err::File::create(root.join(".lock")))
        .unwrap();
    holder.file().lock().unwrap();
    let error = cache.cleanup(target(0)).unwrap_err();
    assert!(matches!(error, Error::Busy { .. }), "{error}");
    assert!(error.to_string().contains("try again"), "{error}");
}
