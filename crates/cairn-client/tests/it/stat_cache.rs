//! `Artifact::with_stat_cache`: unchanged files are not read again, changed ones are.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_cache::{FileStat, StatCache};
use cairn_client::{AddDirOptions, AddFileOptions, Artifact};
use cairn_hash::{Algorithms, Hasher};

fn make_old(path: &Path) {
    let file = fs_err::File::open(path).unwrap();
    let past = SystemTime::now() - Duration::from_secs(3600);
    file.file()
        .set_times(std::fs::FileTimes::new().set_modified(past))
        .unwrap();
}

/// Records `fake` content's digests for the file's current stat: if the artifact then reports
/// them, it trusted the stat cache instead of reading the file.
fn plant(stat_cache: &StatCache, path: &Path, fake: &[u8]) {
    let canonical = fs_err::canonicalize(path).unwrap();
    let stat = FileStat::from_metadata(&fs_err::metadata(&canonical).unwrap());
    let mut hasher = Hasher::new(Algorithms::MD5);
    hasher.update(fake);
    let mut digests = hasher.finalize();
    digests.size = stat.size;
    assert_eq!(
        stat_cache
            .record([(canonical.as_path(), &stat, &digests)])
            .unwrap(),
        1
    );
}

#[test]
fn unchanged_files_are_taken_from_the_stat_cache() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs_err::create_dir_all(data.join("sub")).unwrap();
    for name in ["a.txt", "sub/b.txt"] {
        fs_err::write(data.join(name), "real").unwrap();
        make_old(&data.join(name));
    }
    let stat_cache = Arc::new(StatCache::open_in(&dir.path().join("cache")).unwrap());
    // First pass hashes and records; the result equals an artifact without a stat cache.
    let mut plain = Artifact::new("plain", "dataset").unwrap();
    plain.add_dir(&data, &AddDirOptions::default()).unwrap();
    let mut first = Artifact::new("first", "dataset")
        .unwrap()
        .with_stat_cache(stat_cache.clone());
    first.add_dir(&data, &AddDirOptions::default()).unwrap();
    assert_eq!(first.digest(), plain.digest());

    plant(&stat_cache, &data.join("a.txt"), b"fake");
    let fake = cairn_hash::md5(b"fake").to_base64();
    let mut second = Artifact::new("second", "dataset")
        .unwrap()
        .with_stat_cache(stat_cache.clone());
    second.add_dir(&data, &AddDirOptions::default()).unwrap();
    assert_eq!(second.manifest().get("a.txt").unwrap().digest, fake);
    let mut single = Artifact::new("single", "dataset")
        .unwrap()
        .with_stat_cache(stat_cache.clone());
    let added = single
        .add_file(&data.join("a.txt"), &AddFileOptions::default())
        .unwrap();
    assert_eq!(added.entry.digest, fake);

    // Rewriting the file changes its stat: it is read again.
    fs_err::write(data.join("a.txt"), "real").unwrap();
    let mut third = Artifact::new("third", "dataset")
        .unwrap()
        .with_stat_cache(stat_cache);
    third.add_dir(&data, &AddDirOptions::default()).unwrap();
    assert_eq!(third.digest(), plain.digest());
}

#[test]
fn an_xxh128_artifact_does_not_trust_md5_only_entries() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.txt");
    fs_err::write(&file, "hello").unwrap();
    make_old(&file);
    let stat_cache = Arc::new(StatCache::open_in(&dir.path().join("cache")).unwrap());
    plant(&stat_cache, &file, b"fake");
    let mut artifact = Artifact::new("x", "dataset")
        .unwrap()
        .with_digest_algorithm(cairn_manifest::DigestAlgorithm::Xxh128)
        .with_stat_cache(stat_cache);
    let added = artifact
        .add_file(&file, &AddFileOptions::default())
        .unwrap();
    assert_eq!(added.entry.digest, cairn_hash::xxh128(b"hello").to_base64());
}
