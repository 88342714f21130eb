//! Objects held in memory: verified before anything is stored or written, stored read-only,
//! written to destinations the user may edit without reaching the cache.

use std::path::Path;

use cairn_cache::{Dir, Error, LinkMode};

use crate::{cache_in, content, key_of, names_in};

#[test]
fn bytes_are_verified_then_stored_read_only_and_a_second_insert_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let bytes = content(7, 3000);
    let key = key_of(&bytes);
    let verified = cache.insert_bytes(&key, &bytes, Some(3000)).unwrap();
    let inserted = verified.inserted();
    assert!(!inserted.already_present);
    assert_eq!(inserted.size, 3000);
    assert_eq!(inserted.path, cache.object_path(&key));
    assert_eq!(fs_err::read(&inserted.path).unwrap(), bytes);
    assert!(
        fs_err::metadata(&inserted.path)
            .unwrap()
            .permissions()
            .readonly()
    );
    assert!(cache.contains(&key));
    assert!(names_in(&dir.path().join("cache/tmp")).is_empty());
    // The same bytes again (another process, a retried batch): success, nothing rewritten.
    let again = cache.insert_bytes(&key, &bytes, None).unwrap();
    assert!(again.inserted().already_present);
    assert_eq!(cache.verify(&key).unwrap(), 3000);
}

#[test]
fn many_objects_are_each_checked_and_a_bad_one_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let objects: Vec<Vec<u8>> = (0..12_u64)
        .map(|index| content(index, 900 * index as usize + 1))
        .collect();
    let keys: Vec<_> = objects.iter().map(|bytes| key_of(bytes)).collect();
    let mut corrupt = objects[5].clone();
    corrupt[0] ^= 1;
    let mut asked: Vec<_> = keys
        .iter()
        .zip(&objects)
        .map(|(key, bytes)| (key, bytes.as_slice(), Some(bytes.len() as u64)))
        .collect();
    asked[5].1 = &corrupt;
    asked[7].2 = Some(1);
    let results = cache.insert_many_bytes(&asked);
    assert_eq!(results.len(), 12);
    for (index, result) in results.iter().enumerate() {
        match index {
            5 => assert!(
                matches!(result, Err(Error::DigestMismatch { .. })),
                "{result:?}"
            ),
            7 => assert!(
                matches!(result, Err(Error::SizeMismatch { expected: 1, .. })),
                "{result:?}"
            ),
            _ => {
                let verified = result.as_ref().unwrap();
                assert_eq!(verified.bytes(), objects[index].as_slice());
                assert_eq!(
                    cache.verify(&keys[index]).unwrap(),
                    objects[index].len() as u64
                );
            }
        }
    }
    assert!(!cache.contains(&keys[5]));
    assert!(!cache.contains(&keys[7]));
}

#[test]
fn bytes_that_do_not_match_their_key_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let bytes = content(8, 2000);
    let key = key_of(&bytes);
    let mut corrupt = bytes.clone();
    corrupt[1000] ^= 1;
    let error = cache.insert_bytes(&key, &corrupt, Some(2000)).unwrap_err();
    assert!(
        matches!(error, Error::DigestMismatch { size: 2000, .. }),
        "{error}"
    );
    let error = cache
        .insert_bytes(&key, &bytes[..1999], Some(2000))
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::SizeMismatch {
                expected: 2000,
                actual: 1999,
                ..
            }
        ),
        "{error}"
    );
    assert!(!cache.contains(&key));
    assert!(names_in(&dir.path().join("cache/tmp")).is_empty());
}

#[test]
fn written_bytes_are_the_users_file_and_replace_what_was_there() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let bytes = content(9, 1500);
    let key = key_of(&bytes);
    let verified = cache.insert_bytes(&key, &bytes, Some(1500)).unwrap();
    let root = dir.path().join("root");

    // Missing parents are created.
    let fresh = root.join("a/b/c.bin");
    let written = cache.materialize_bytes(&verified, &fresh).unwrap();
    assert_eq!(written.mode, LinkMode::Copy);
    assert_eq!(written.size, 1500);
    assert_eq!(fs_err::read(&fresh).unwrap(), bytes);
    assert!(!fs_err::metadata(&fresh).unwrap().permissions().readonly());

    // A hard link to the cached object in the way is replaced, never written through.
    let linked = root.join("linked.bin");
    let other = content(10, 1500);
    let other_key = key_of(&other);
    cache.insert(&other_key, &other[..], Some(1500)).unwrap();
    cache
        .materialize(&other_key, &linked, LinkMode::Hardlink)
        .unwrap();
    cache.materialize_bytes(&verified, &linked).unwrap();
    assert_eq!(fs_err::read(&linked).unwrap(), bytes);
    assert_eq!(cache.verify(&other_key).unwrap(), 1500);

    // The user edits the written file: the cache does not change.
    fs_err::write(&fresh, b"edited").unwrap();
    assert_eq!(cache.verify(&key).unwrap(), 1500);

    // A directory in the way is refused by name.
    let directory = root.join("a/b");
    let error = cache.materialize_bytes(&verified, &directory).unwrap_err();
    assert!(
        matches!(error, Error::DestinationIsDirectory { .. }),
        "{error}"
    );
    // No temporary file is left anywhere.
    assert_eq!(names_in(&root), ["a", "linked.bin"]);
    assert_eq!(names_in(&root.join("a/b")), ["c.bin"]);
}

#[test]
fn bytes_written_below_a_held_directory_behave_as_by_whole_path() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let bytes = content(12, 2500);
    let key = key_of(&bytes);
    let verified = cache.insert_bytes(&key, &bytes, Some(2500)).unwrap();
    let root = dir.path().join("root");
    fs_err::create_dir(&root).unwrap();
    let held = Dir::open(&root);

    // Directly in the root, and below it with missing parents created: the result names the
    // whole path.
    for relative in ["top.bin", "x/y/z.bin"] {
        let written = cache
            .materialize_bytes_in(&verified, &held, Path::new(relative))
            .unwrap();
        assert_eq!(written.path, root.join(relative));
        assert_eq!(fs_err::read(root.join(relative)).unwrap(), bytes);
    }

    // A file already there is replaced; a directory in the way is refused by its whole name.
    fs_err::write(root.join("top.bin"), b"old").unwrap();
    cache
        .materialize_bytes_in(&verified, &held, Path::new("top.bin"))
        .unwrap();
    assert_eq!(fs_err::read(root.join("top.bin")).unwrap(), bytes);
    let error = cache
        .materialize_bytes_in(&verified, &held, Path::new("x/y"))
        .unwrap_err();
    assert!(
        matches!(&error, Error::DestinationIsDirectory { path } if *path == root.join("x/y")),
        "{error}"
    );

    // Where it is held open, the directory is the one opened: renamed away, it still receives
    // the writes (elsewhere the name is all there is).
    #[cfg(target_os = "linux")]
    {
        let moved = dir.path().join("moved");
        fs_err::rename(&root, &moved).unwrap();
        cache
            .materialize_bytes_in(&verified, &held, Path::new("late.bin"))
            .unwrap();
        assert_eq!(fs_err::read(moved.join("late.bin")).unwrap(), bytes);
        assert_eq!(names_in(&moved.join("x/y")), ["z.bin"]);
    }
}

#[test]
fn a_lookup_answers_as_size_of_and_remembers_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let objects: Vec<Vec<u8>> = (0..40_u64).map(|seed| content(seed, 100)).collect();
    let keys: Vec<_> = objects.iter().map(|bytes| key_of(bytes)).collect();
    // Half of them cached.
    for (key, bytes) in keys.iter().zip(&objects).step_by(2) {
        cache.insert_bytes(key, bytes, None).unwrap();
    }
    let mut lookup = cache.lookup();
    for (index, key) in keys.iter().enumerate() {
        let expected = (index % 2 == 0).then_some(100);
        assert_eq!(lookup.size_of(key), expected, "object {index}");
        assert_eq!(cache.size_of(key), expected, "object {index}");
    }

    // In an empty cache every object is absent; one inserted meanwhile under a directory the
    // lookup found missing stays absent for it (documented), but not for a new lookup.
    let empty = tempfile::tempdir().unwrap();
    let cache = cache_in(empty.path());
    let mut lookup = cache.lookup();
    assert_eq!(lookup.size_of(&keys[0]), None);
    cache.insert_bytes(&keys[0], &objects[0], None).unwrap();
    assert_eq!(lookup.size_of(&keys[0]), None);
    assert_eq!(cache.lookup().size_of(&keys[0]), Some(100));
}

#[test]
fn threads_inserting_the_same_bytes_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_in(dir.path());
    let bytes = content(11, 4000);
    let key = key_of(&bytes);
    let fresh = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| cache.insert_bytes(&key, &bytes, Some(4000)).unwrap()))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .filter(|verified| !verified.inserted().already_present)
            .count()
    });
    assert_eq!(fresh, 1, "{fresh} inserts claim to have stored the object");
    assert_eq!(cache.verify(&key).unwrap(), 4000);
    assert!(names_in(&dir.path().join("cache/tmp")).is_empty());
}
