//! `file://` references and the local blob store.

use cairn_storage::conformance::{Fixture, run_all};
use cairn_storage::file::path_to_file_uri;
use cairn_storage::{BlobStore, Error, Handlers, ResolveOptions};

use crate::runtime;

fn fixture(root: &std::path::Path) -> Fixture {
    Fixture {
        name: "file",
        handlers: Handlers::new(),
        blobs: BlobStore::local(root).unwrap(),
        base: path_to_file_uri(root),
        versioned: false,
        enforces_create: true,
        multipart: true,
        remote: false,
    }
}

#[test]
fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    runtime().block_on(run_all(&fixture(&root)));
}

#[test]
fn same_size_rewrite_fails_at_the_end_of_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.bin");
    fs_err::write(&path, b"aaaa").unwrap();
    let handlers = Handlers::new();
    let runtime = runtime();
    let uri = path_to_file_uri(&path);
    let objects = runtime
        .block_on(handlers.resolve_all(&uri, &ResolveOptions::new()))
        .unwrap();
    fs_err::write(&path, b"bbbb").unwrap();
    let error = runtime
        .block_on(handlers.fetch_bytes(&objects[0].entry))
        .unwrap_err();
    assert!(matches!(error, Error::Changed { .. }), "{error}");
    assert!(error.to_string().contains("weights.bin"), "{error}");
}

#[test]
fn checksum_off_entries_pin_nothing_and_read_the_current_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.txt");
    fs_err::write(&path, b"v1").unwrap();
    let handlers = Handlers::new();
    let runtime = runtime();
    let objects = runtime
        .block_on(handlers.resolve_all(
            &path_to_file_uri(&path),
            &ResolveOptions::new().with_checksum(false),
        ))
        .unwrap();
    fs_err::write(&path, b"v2").unwrap();
    let bytes = runtime
        .block_on(handlers.fetch_bytes(&objects[0].entry))
        .unwrap();
    assert_eq!(bytes, b"v2");
}

#[test]
fn a_missing_path_is_not_found() {
    let error = runtime()
        .block_on(Handlers::new().resolve_all("file:///no/such/cairn/path", &ResolveOptions::new()))
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
}
