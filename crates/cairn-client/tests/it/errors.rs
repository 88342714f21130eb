//! Bad input gets a clear error and leaves the artifact as it was.

use std::path::Path;

use cairn_client::{AddDirOptions, AddFileOptions, Artifact, Error, ReferenceOptions};

fn write(path: &Path, text: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

fn artifact() -> Artifact {
    Artifact::new("errors", "dataset").unwrap()
}

#[test]
fn missing_and_wrong_kind_paths_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("file.txt"), "x");
    let mut artifact = artifact();
    let error = artifact
        .add_file(&dir.path().join("missing.txt"), &AddFileOptions::default())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "Path is not a file: '{}'",
            dir.path().join("missing.txt").display()
        )
    );
    let error = artifact
        .add_dir(&dir.path().join("file.txt"), &AddDirOptions::default())
        .unwrap_err();
    assert!(matches!(error, Error::NotADirectory { .. }), "{error}");
    let error = artifact
        .add_file(dir.path(), &AddFileOptions::default())
        .unwrap_err();
    assert!(matches!(error, Error::NotAFile { .. }), "{error}");
    assert!(artifact.manifest().is_empty());
}

#[test]
fn symlink_loops_are_reported_not_followed_forever() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("data/a.txt"), "a");
    std::os::unix::fs::symlink(dir.path().join("data"), dir.path().join("data/loop")).unwrap();
    let mut artifact = artifact();
    let error = artifact
        .add_dir(&dir.path().join("data"), &AddDirOptions::default())
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("symlink loop"), "{message}");
    assert!(matches!(error, Error::SymlinkLoop { .. }), "{error}");
    assert!(message.contains("loop"), "{message}");
    assert!(artifact.manifest().is_empty());
}

#[test]
fn special_files_and_dangling_links_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("data/a.txt"), "a");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("data/dangling"))
        .unwrap();
    let mut artifact = artifact();
    let error = artifact
        .add_dir(&dir.path().join("data"), &AddDirOptions::default())
        .unwrap_err();
    assert!(error.to_string().contains("dangling"), "{error}");
    // For references (which do not follow directory links) the dangling link is named as such.
    let uri = format!("file://{}", dir.path().join("data").display());
    let error = artifact
        .add_reference(&uri, &ReferenceOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::SpecialFile {
                kind: "dangling symlink",
                ..
            }
        ),
        "{error}"
    );
    assert!(artifact.manifest().is_empty());
}

#[test]
fn a_clash_in_a_directory_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("one/a.txt"), "first");
    write(&dir.path().join("two/a.txt"), "second");
    write(&dir.path().join("two/b.txt"), "other");
    let mut artifact = artifact();
    artifact
        .add_dir(&dir.path().join("one"), &AddDirOptions::default())
        .unwrap();
    let before = artifact.manifest().clone();
    let error = artifact
        .add_dir(&dir.path().join("two"), &AddDirOptions::default())
        .unwrap_err();
    assert_eq!(error.to_string(), "Cannot add the same path twice: 'a.txt'");
    assert_eq!(
        artifact.manifest(),
        &before,
        "b.txt must not have been added"
    );
    artifact
        .add_dir(
            &dir.path().join("two"),
            &AddDirOptions::default().with_merge(true),
        )
        .unwrap();
    assert_eq!(artifact.manifest().len(), 2);
}

#[test]
fn hostile_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.txt"), "a");
    let mut artifact = artifact();
    for name in [
        "../escape",
        "/etc/passwd",
        "a/../../b",
        "C:\\x",
        "bell\u{7}",
        "nul\0",
    ] {
        let error = artifact
            .add_file(
                &dir.path().join("a.txt"),
                &AddFileOptions::default().with_name(name),
            )
            .unwrap_err();
        assert!(
            error.to_string().starts_with("Invalid artifact path"),
            "{name:?}: {error}"
        );
    }
    let error = artifact
        .add_dir(dir.path(), &AddDirOptions::default().with_name("../up"))
        .unwrap_err();
    assert_eq!(error.to_string(), "Invalid artifact path: '../up/a.txt'");
    assert!(artifact.manifest().is_empty());
}

#[test]
fn non_utf8_file_names_are_explained() {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff.txt");
    fs_err::write(dir.path().join(name), "x").unwrap();
    let mut artifact = artifact();
    let error = artifact
        .add_dir(dir.path(), &AddDirOptions::default())
        .unwrap_err();
    assert!(
        matches!(&error, Error::NonUtf8Path { path } if path == &dir.path().join(name)),
        "{error}"
    );
    // Even under a valid name the file cannot be recorded: its local path would be corrupted.
    let error = artifact
        .add_file(
            &dir.path().join(name),
            &AddFileOptions::default().with_name("renamed.txt"),
        )
        .unwrap_err();
    assert!(error.to_string().contains("not valid UTF-8"), "{error}");
    assert!(artifact.manifest().is_empty());
}

#[test]
fn symlinks_are_followed_once_and_self_links_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("shared/labels.csv"), "l");
    write(&dir.path().join("data/a.txt"), "a");
    std::os::unix::fs::symlink(dir.path().join("shared"), dir.path().join("data/linked")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("shared/labels.csv"),
        dir.path().join("data/l.csv"),
    )
    .unwrap();
    let mut artifact = artifact();
    // add_dir follows symlinked directories and files.
    assert_eq!(
        artifact
            .add_dir(&dir.path().join("data"), &AddDirOptions::default())
            .unwrap(),
        3
    );
    assert!(artifact.manifest().get("linked/labels.csv").is_some());
    assert!(artifact.manifest().get("l.csv").is_some());
    // A file:// reference follows symlinked files but does not descend symlinked directories.
    let uri = format!("file://{}", dir.path().join("data").display());
    let entries = artifact
        .add_reference(&uri, &ReferenceOptions::default().with_name("ref"))
        .unwrap();
    let mut paths: Vec<_> = entries.iter().map(|entry| entry.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["ref/a.txt", "ref/l.csv"]);

    std::os::unix::fs::symlink(dir.path().join("data/self"), dir.path().join("data/self")).unwrap();
    let error = artifact
        .add_dir(
            &dir.path().join("data"),
            &AddDirOptions::default().with_merge(true),
        )
        .unwrap_err();
    let message = format!(
        "{error}: {}",
        std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(message.contains("data/self"), "{message}");
    assert!(message.contains("symbolic links"), "{message}");
}

#[test]
fn named_pipes_in_a_directory_are_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("data/a.txt"), "a");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.path().join("data/pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let mut artifact = artifact();
    let error = artifact
        .add_dir(&dir.path().join("data"), &AddDirOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::SpecialFile {
                kind: "named pipe",
                ..
            }
        ),
        "{error}"
    );
    let error = artifact
        .add_file(&dir.path().join("data/pipe"), &AddFileOptions::default())
        .unwrap_err();
    assert!(matches!(error, Error::NotAFile { .. }), "{error}");
    assert!(artifact.manifest().is_empty());
}

#[test]
fn new_file_is_atomic_and_exclusive() {
    let mut artifact = artifact();
    let first = artifact.new_file("notes/readme.md", b"one", true).unwrap();
    let error = artifact
        .new_file("notes/readme.md", b"two", true)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("File with name 'notes/readme.md' already exists at '"),
        "{error}"
    );
    assert_eq!(
        artifact.manifest().get("notes/readme.md"),
        Some(&first.entry)
    );
    let staged = std::path::PathBuf::from(first.entry.local_path.clone().unwrap());
    assert_eq!(
        fs_err::read(&staged).unwrap(),
        b"one",
        "the refused write changed nothing"
    );
    let second = artifact.new_file("notes/readme.md", b"two", false).unwrap();
    assert_ne!(first.entry.digest, second.entry.digest);
    assert_eq!(fs_err::read(&staged).unwrap(), b"two");
    let error = artifact.new_file("../escape.md", b"x", true).unwrap_err();
    assert_eq!(error.to_string(), "Invalid artifact path: '../escape.md'");
    // Dropping the draft removes its staged files.
    drop(artifact.into_manifest());
    assert!(!staged.exists());
}

#[test]
fn reference_caps_and_schemes() {
    let dir = tempfile::tempdir().unwrap();
    for index in 0..5 {
        write(
            &dir.path().join(format!("refs/{index}.txt")),
            &index.to_string(),
        );
    }
    let uri = format!("file://{}", dir.path().join("refs").display());
    let mut artifact = artifact();
    let error = artifact
        .add_reference(&uri, &ReferenceOptions::default().with_max_objects(4))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Exceeded 4 objects tracked, pass max_objects to add_reference"
    );
    assert!(artifact.manifest().is_empty());
    assert_eq!(
        artifact
            .add_reference(&uri, &ReferenceOptions::default().with_max_objects(5))
            .unwrap()
            .len(),
        5
    );

    // A build without the S3 backend says which feature to add (and never goes to the network).
    let mut file_only = Artifact::new("refs", "dataset")
        .unwrap()
        .with_handlers(cairn_storage::Handlers::new());
    let error = file_only
        .add_reference("s3://bucket/key", &ReferenceOptions::default())
        .unwrap_err();
    assert!(
        error.to_string().contains("`s3` storage backend"),
        "{error}"
    );
    let error = artifact
        .add_reference("relative/path", &ReferenceOptions::default())
        .unwrap_err();
    assert!(matches!(error, Error::NotAUri { .. }));
    let missing = format!("file://{}/missing", dir.path().display());
    let error = artifact
        .add_reference(&missing, &ReferenceOptions::default())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("Path '{missing}' must be a valid file or directory path")
    );
}

#[test]
fn finalized_artifacts_refuse_changes() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.txt"), "a");
    let mut artifact = artifact();
    artifact
        .add_file(&dir.path().join("a.txt"), &AddFileOptions::default())
        .unwrap();
    artifact.finalize();
    let error = artifact
        .add_file(&dir.path().join("a.txt"), &AddFileOptions::default())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "'Artifact.add_file' used on logged artifact. Can't modify finalized artifact."
    );
    for error in [
        artifact
            .add_dir(dir.path(), &AddDirOptions::default())
            .unwrap_err(),
        artifact.remove("a.txt").unwrap_err(),
        artifact.new_file("b.txt", b"b", true).unwrap_err(),
        artifact
            .add_reference("x://y", &ReferenceOptions::default().with_name("y"))
            .unwrap_err(),
    ] {
        assert!(matches!(error, Error::Finalized { .. }), "{error}");
    }
    assert_eq!(artifact.manifest().len(), 1);
}

#[test]
fn unreadable_files_name_the_path() {
    // `/proc/self/mem` is a regular file that fails to read at offset 0 even for root, so this
    // exercises the read error on any Linux machine, whoever runs the tests.
    let mem = Path::new("/proc/self/mem");
    if !mem.exists() {
        println!("skipped: no /proc/self/mem on this system");
        return;
    }
    let error = artifact()
        .add_file(mem, &AddFileOptions::default())
        .unwrap_err();
    assert!(matches!(error, Error::Hash(_)), "{error}");
    assert!(error.to_string().contains("/proc/self/mem"), "{error}");

    // The same failure inside a directory, on the parallel path, names the file too.
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("data/a.txt"), "a");
    std::os::unix::fs::symlink(mem, dir.path().join("data/unreadable")).unwrap();
    let mut artifact = artifact();
    let error = artifact
        .add_dir(&dir.path().join("data"), &AddDirOptions::default())
        .unwrap_err();
    assert!(error.to_string().contains("data/unreadable"), "{error}");
    assert!(artifact.manifest().is_empty());
}
