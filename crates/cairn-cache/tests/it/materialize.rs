//! Materialising: each mode reports what it did; destinations are written atomically.

use cairn_cache::{Error, LinkMode};

use crate::{cache_in, content, key_of, names_in};

fn setup() -> (
    tempfile::TempDir,
    cairn_cache::Cache,
    cairn_cache::ObjectKey,
    Vec<u8>,
) {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let bytes = content(7, 300_000);
    let key = key_of(&bytes);
    cache.insert(&key, &bytes[..], None).unwrap();
    (dir, cache, key, bytes)
}

#[test]
fn copy_gives_an_independent_writable_file() {
    let (dir, cache, key, bytes) = setup();
    let destination = dir.path().join("out/nested/file.bin");
    let done = cache
        .materialize(&key, &destination, LinkMode::Copy)
        .unwrap();
    assert_eq!(done.mode, LinkMode::Copy);
    assert_eq!(done.size, bytes.len() as u64);
    assert_eq!(fs_err::read(&destination).unwrap(), bytes);
    assert!(
        !fs_err::metadata(&destination)
            .unwrap()
            .permissions()
            .readonly()
    );
    fs_err::write(&destination, b"edited").unwrap();
    assert_eq!(cache.verify(&key).unwrap(), bytes.len() as u64);
}

#[test]
fn auto_reflinks_or_copies_and_says_which() {
    let (dir, cache, key, bytes) = setup();
    let destination = dir.path().join("auto.bin");
    let done = cache
        .materialize(&key, &destination, LinkMode::Auto)
        .unwrap();
    assert!(
        matches!(done.mode, LinkMode::Reflink | LinkMode::Copy),
        "{:?}",
        done.mode
    );
    assert_eq!(fs_err::read(&destination).unwrap(), bytes);
}

#[test]
fn reflink_works_or_says_it_is_not_supported() {
    let (dir, cache, key, bytes) = setup();
    let destination = dir.path().join("reflink.bin");
    match cache.materialize(&key, &destination, LinkMode::Reflink) {
        Ok(done) => {
            assert_eq!(done.mode, LinkMode::Reflink);
            assert_eq!(fs_err::read(&destination).unwrap(), bytes);
        }
        Err(error) => {
            assert!(
                matches!(
                    error,
                    Error::LinkNotSupported {
                        mode: "reflink",
                        ..
                    }
                ),
                "{error}"
            );
            assert!(error.to_string().contains("--link auto"), "{error}");
            assert!(!destination.exists());
            assert!(
                names_in(dir.path())
                    .iter()
                    .all(|name| !name.starts_with(".cairn-tmp"))
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn hardlink_shares_the_read_only_object() {
    use std::os::unix::fs::MetadataExt as _;
    let (dir, cache, key, bytes) = setup();
    let destination = dir.path().join("linked.bin");
    let done = cache
        .materialize(&key, &destination, LinkMode::Hardlink)
        .unwrap();
    assert_eq!(done.mode, LinkMode::Hardlink);
    let linked = fs_err::metadata(&destination).unwrap();
    let object = fs_err::metadata(cache.object_path(&key)).unwrap();
    assert_eq!((linked.dev(), linked.ino()), (object.dev(), object.ino()));
    assert!(
        linked.permissions().readonly(),
        "a user's edit must not reach the cache"
    );
    assert_eq!(fs_err::read(&destination).unwrap(), bytes);
    // Again: nothing to do, still reported as a hardlink, no temp names left.
    let again = cache
        .materialize(&key, &destination, LinkMode::Hardlink)
        .unwrap();
    assert_eq!(again.mode, LinkMode::Hardlink);
    assert_eq!(names_in(dir.path()), ["cache", "linked.bin"]);
}

#[test]
fn an_existing_destination_is_replaced_atomically() {
    let (dir, cache, key, bytes) = setup();
    let destination = dir.path().join("file.bin");
    fs_err::write(&destination, b"old content").unwrap();
    for mode in [LinkMode::Copy, LinkMode::Hardlink, LinkMode::Auto] {
        cache.materialize(&key, &destination, mode).unwrap();
        assert_eq!(fs_err::read(&destination).unwrap(), bytes, "{mode}");
    }
    assert_eq!(names_in(dir.path()), ["cache", "file.bin"]);
}

#[test]
fn a_directory_is_never_clobbered() {
    let (dir, cache, key, _) = setup();
    let destination = dir.path().join("a-directory");
    fs_err::create_dir_all(destination.join("inside")).unwrap();
    let error = cache
        .materialize(&key, &destination, LinkMode::Copy)
        .unwrap_err();
    assert!(
        matches!(error, Error::DestinationIsDirectory { .. }),
        "{error}"
    );
    assert!(destination.join("inside").is_dir());
}

#[test]
fn a_missing_object_is_not_found() {
    let (dir, cache, _, _) = setup();
    let missing = key_of(b"never inserted");
    let error = cache
        .materialize(&missing, &dir.path().join("x"), LinkMode::Auto)
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert!(error.to_string().contains("is not in the cache"), "{error}");
    assert!(!dir.path().join("x").exists());
}

/// A hard link given the object's size needs no `stat`; an object gone since its size was
/// looked up is still "not in the cache", and its use is not recorded.
#[test]
fn a_sized_hard_link_of_a_vanished_object_is_not_found() {
    let (dir, cache, key, _) = setup();
    let size = cache.size_of(&key).unwrap();
    let linked = cache
        .materialize_sized(
            &key,
            Some(size),
            &dir.path().join("a/b"),
            LinkMode::Hardlink,
        )
        .unwrap();
    assert_eq!((linked.size, linked.mode), (size, LinkMode::Hardlink));
    let cleanup = cache.cleanup(cairn_cache::CleanupOptions::new(
        cairn_cache::ByteSize::from_bytes(0),
    ));
    cleanup.unwrap();
    assert!(!cache.contains(&key));
    let error = cache
        .materialize_sized(
            &key,
            Some(size),
            &dir.path().join("c/d"),
            LinkMode::Hardlink,
        )
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(cache.stats().unwrap().objects, 0, "no row came back");
}
