//! Inserting: verified, atomic, and nothing left behind on failure.

use std::io::{self, Read};

use cairn_cache::{Error, ObjectKey};

use crate::{cache_in, content, key_of, names_in};

#[test]
fn inserts_a_verified_read_only_object_in_the_versioned_layout() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let inserted = cache
        .insert(&key_of(b"hello"), &b"hello"[..], Some(5))
        .unwrap();
    assert!(!inserted.already_present);
    assert_eq!(inserted.size, 5);
    let expected = dir
        .path()
        .join("cache/objects-v1/md5/5d/41402abc4b2a76b9719d911017c592");
    assert_eq!(inserted.path, expected);
    assert_eq!(fs_err::read(&expected).unwrap(), b"hello");
    assert!(
        fs_err::metadata(&expected)
            .unwrap()
            .permissions()
            .readonly()
    );
    let root = dir.path().join("cache");
    assert_eq!(
        fs_err::read_to_string(root.join(".gitignore")).unwrap(),
        "*\n"
    );
    assert!(
        fs_err::read_to_string(root.join("CACHEDIR.TAG"))
            .unwrap()
            .starts_with("Signature: 8a477f597d28d172789f06886806bc55")
    );
    assert!(names_in(&root.join("tmp")).is_empty());
    assert!(cache.contains(&key_of(b"hello")));
}

#[test]
fn a_truncated_stream_leaves_nothing_and_names_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let bytes = content(1, 100_000);
    let key = key_of(&bytes);
    let error = cache
        .insert(&key, &bytes[..60_000], Some(100_000))
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::SizeMismatch {
                expected: 100_000,
                actual: 60_000,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains(&key.to_string()), "{error}");
    assert!(!cache.contains(&key));
    assert!(names_in(&cache.root().join("tmp")).is_empty());
    // Too long a stream is refused as soon as it passes the expected size.
    let error = cache.insert(&key, &bytes[..], Some(10)).unwrap_err();
    assert!(
        matches!(error, Error::SizeMismatch { expected: 10, .. }),
        "{error}"
    );
}

#[test]
fn a_mismatching_stream_leaves_nothing_and_names_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let key = key_of(b"expected content");
    let error = cache.insert(&key, &b"other content"[..], None).unwrap_err();
    let Error::DigestMismatch {
        expected,
        actual,
        size,
        ..
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(expected, &cairn_hash::md5(b"expected content").to_base64());
    assert_eq!(actual, &cairn_hash::md5(b"other content").to_base64());
    assert_eq!(*size, 13);
    let message = error.to_string();
    assert!(
        message.contains(expected) && message.contains(actual),
        "{message}"
    );
    assert!(!cache.contains(&key));
    assert!(!cache.object_path(&key_of(b"other content")).exists());
    assert!(names_in(&cache.root().join("tmp")).is_empty());
}

#[test]
fn a_failing_stream_leaves_nothing() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("connection reset"));
            }
            self.0 -= 1;
            buffer[..10].fill(7);
            Ok(10)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let key = key_of(b"whatever");
    let error = cache.insert(&key, Failing(3), None).unwrap_err();
    assert!(matches!(error, Error::Source { .. }), "{error}");
    assert!(!cache.contains(&key));
    assert!(names_in(&cache.root().join("tmp")).is_empty());
}

#[test]
fn an_existing_object_is_success_without_reading() {
    struct Unreadable;
    impl Read for Unreadable {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("an existing object must not be read again");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let key = key_of(b"hello");
    cache.insert(&key, &b"hello"[..], None).unwrap();
    let again = cache.insert(&key, Unreadable, Some(5)).unwrap();
    assert!(again.already_present);
    assert_eq!(again.size, 5);
    let error = cache.insert(&key, Unreadable, Some(6)).unwrap_err();
    assert!(
        matches!(
            error,
            Error::SizeMismatch {
                expected: 6,
                actual: 5,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn content_without_a_known_digest_is_named_by_its_md5() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let inserted = cache.insert_content(&b"hello"[..]).unwrap();
    assert_eq!(inserted.key, key_of(b"hello"));
    let file = dir.path().join("file.bin");
    fs_err::write(&file, b"hello").unwrap();
    assert!(cache.insert_file(&file).unwrap().already_present);
}

#[test]
fn etag_objects_check_the_size_when_known() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let key = ObjectKey::etag("https://example.com/data.csv", "\"abc123\"");
    let error = cache.insert(&key, &b"1,2\n"[..], Some(5)).unwrap_err();
    assert!(matches!(error, Error::SizeMismatch { .. }), "{error}");
    assert!(!cache.contains(&key));
    let inserted = cache.insert(&key, &b"1,2\n"[..], Some(4)).unwrap();
    assert!(
        inserted
            .path
            .starts_with(cache.root().join("objects-v1/etag"))
    );
    assert_eq!(cache.verify(&key).unwrap(), 4);
}

#[test]
fn verify_removes_a_tampered_object() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let key = key_of(b"hello");
    let path = cache.insert(&key, &b"hello"[..], None).unwrap().path;
    assert_eq!(cache.verify(&key).unwrap(), 5);
    let mut permissions = fs_err::metadata(&path).unwrap().permissions();
    #[expect(
        clippy::permissions_set_readonly_false,
        reason = "simulating a user's chmod"
    )]
    permissions.set_readonly(false);
    fs_err::set_permissions(&path, permissions).unwrap();
    fs_err::write(&path, b"jello").unwrap();
    let error = cache.verify(&key).unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error}");
    assert!(!cache.contains(&key));
    assert!(cache.verify(&key).unwrap_err().is_not_found());
}

/// Large objects are hashed on one thread and written on another; a copy next to a
/// destination appears with the object, writable by the user, and replaces what was there.
#[test]
fn a_large_object_and_its_copy_appear_verified_together() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    // Over the two-thread threshold (8 MiB), not a multiple of the 1 MiB buffers.
    let bytes = content(9, 9 * 1024 * 1024 + 12_345);
    let key = key_of(&bytes);
    let copy = dir.path().join("root/deep/model.bin");
    let (inserted, copied) = cache
        .insert_with_copy(&key, &bytes[..], Some(bytes.len() as u64), &copy)
        .unwrap();
    assert!(copied && !inserted.already_present);
    assert!(fs_err::read(&inserted.path).unwrap() == bytes);
    assert!(fs_err::read(&copy).unwrap() == bytes);
    assert!(!fs_err::metadata(&copy).unwrap().permissions().readonly());
    assert_eq!(names_in(&dir.path().join("root/deep")), ["model.bin"]);

    // An existing file is replaced; a cached object is not read again, and nothing is copied.
    let other = content(10, 5000);
    let other_key = key_of(&other);
    fs_err::write(&copy, b"old").unwrap();
    let (_, copied) = cache
        .insert_with_copy(&other_key, &other[..], Some(5000), &copy)
        .unwrap();
    assert!(copied);
    assert!(fs_err::read(&copy).unwrap() == other);
    let (again, copied) = cache
        .insert_with_copy(&key, io::empty(), Some(bytes.len() as u64), &copy)
        .unwrap();
    assert!(again.already_present && !copied);
    assert!(fs_err::read(&copy).unwrap() == other);

    // Without a copy, a large insert takes the two threads too.
    let third = content(11, 8 * 1024 * 1024);
    let inserted = cache
        .insert(&key_of(&third), &third[..], Some(third.len() as u64))
        .unwrap();
    assert!(fs_err::read(&inserted.path).unwrap() == third);
    assert!(names_in(&cache.root().join("tmp")).is_empty());
}

/// A wrong digest, a short stream or a failing one: neither the object nor the copy appears,
/// what was at the destination stays, and no temporary file is left on either side.
#[test]
fn a_bad_stream_leaves_neither_object_nor_copy() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("connection reset"));
            }
            self.0 -= 1;
            let length = buffer.len().min(300_000);
            buffer[..length].fill(3);
            Ok(length)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let bytes = content(12, 9 * 1024 * 1024);
    let key = key_of(&bytes);
    let size = Some(bytes.len() as u64);
    let root = dir.path().join("root");
    fs_err::create_dir_all(&root).unwrap();
    let copy = root.join("model.bin");
    fs_err::write(&copy, b"kept").unwrap();

    let mut corrupt = bytes.clone();
    corrupt[5_000_000] ^= 1;
    let error = cache
        .insert_with_copy(&key, &corrupt[..], size, &copy)
        .unwrap_err();
    assert!(matches!(error, Error::DigestMismatch { .. }), "{error}");
    let error = cache
        .insert_with_copy(&key, &bytes[..1_000_000], size, &copy)
        .unwrap_err();
    assert!(matches!(error, Error::SizeMismatch { .. }), "{error}");
    let mut long = bytes.clone();
    long.push(0);
    let error = cache
        .insert_with_copy(&key, &long[..], size, &copy)
        .unwrap_err();
    assert!(matches!(error, Error::SizeMismatch { .. }), "{error}");
    let error = cache
        .insert_with_copy(&key, Failing(20), size, &copy)
        .unwrap_err();
    assert!(matches!(error, Error::Source { .. }), "{error}");

    assert!(!cache.contains(&key));
    assert_eq!(fs_err::read(&copy).unwrap(), b"kept");
    assert_eq!(names_in(&root), ["model.bin"]);
    assert!(names_in(&cache.root().join("tmp")).is_empty());
}

/// A copy that cannot be written fails the insert before anything is read, and the cache
/// stays without the object.
#[cfg(unix)]
#[test]
fn a_copy_that_cannot_be_written_fails_before_reading() {
    struct Unreadable;
    impl Read for Unreadable {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("nothing may be read when the copy cannot be made");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let key = key_of(b"hello");
    // A regular file where the copy's directory should be.
    let blocker = dir.path().join("blocker");
    fs_err::write(&blocker, b"").unwrap();
    let error = cache
        .insert_with_copy(&key, Unreadable, Some(5), &blocker.join("model.bin"))
        .unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error}");
    assert!(!cache.contains(&key));
    assert!(names_in(&cache.root().join("tmp")).is_empty());
}
