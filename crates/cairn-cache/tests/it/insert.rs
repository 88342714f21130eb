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
