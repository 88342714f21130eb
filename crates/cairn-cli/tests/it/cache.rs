//! `cairn cache` and the stat cache of `cairn manifest`.

use std::path::Path;
use std::process::{Command, Output};

fn cairn(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .current_dir(dir)
        .env("CAIRN_CACHE_DIR", dir.join("cache"))
        .env_remove("CAIRN_CACHE_MAX_SIZE")
        .output()
        .unwrap()
}

fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn failure(output: &Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(dir.path().join("data/sub")).unwrap();
    fs_err::write(dir.path().join("data/hello.txt"), "hello world\n").unwrap();
    fs_err::write(dir.path().join("data/sub/zeros.bin"), vec![0u8; 10_000]).unwrap();
    dir
}

#[test]
fn import_then_checkout_in_every_mode() {
    let dir = dataset();
    let manifest = success(&cairn(&["cache", "import", "data"], dir.path()));
    assert!(
        manifest.contains(r#""hello.txt": {"digest": "b1kCrCNwJL3QwXbLkwY9xA==", "size": 12}"#),
        "{manifest}"
    );
    fs_err::write(dir.path().join("manifest.json"), &manifest).unwrap();
    for (mode, expect) in [
        ("copy", "copy: 2 files"),
        ("hardlink", "hardlink: 2 files"),
        ("auto", ""),
    ] {
        let out = format!("out-{mode}");
        let report = success(&cairn(
            &["cache", "checkout", "manifest.json", &out, "--link", mode],
            dir.path(),
        ));
        assert!(report.contains(expect), "{mode}: {report}");
        assert_eq!(
            fs_err::read(dir.path().join(&out).join("sub/zeros.bin")).unwrap(),
            vec![0u8; 10_000]
        );
        assert_eq!(
            fs_err::read_to_string(dir.path().join(&out).join("hello.txt")).unwrap(),
            "hello world\n"
        );
    }
    // Reflink either works or fails with advice.
    let output = cairn(
        &[
            "cache",
            "checkout",
            "manifest.json",
            "out-reflink",
            "--link",
            "reflink",
        ],
        dir.path(),
    );
    if !output.status.success() {
        assert!(failure(&output, 1).contains("--link auto"));
    }
}

#[test]
fn stats_and_cleanup() {
    let dir = dataset();
    success(&cairn(&["cache", "import", "data"], dir.path()));
    let stats = success(&cairn(&["cache", "stats"], dir.path()));
    assert!(
        stats.contains("objects:    2 (10.01 KB, 10012 bytes)"),
        "{stats}"
    );
    assert!(
        stats.contains("counted by: index totals (no walk)"),
        "{stats}"
    );
    let walked = success(&cairn(&["cache", "stats", "--walk"], dir.path()));
    assert!(
        walked.contains("counted by: walk of the object tree"),
        "{walked}"
    );
    let cleaned = success(&cairn(&["cache", "cleanup", "1KB"], dir.path()));
    assert!(
        cleaned.starts_with("Reclaimed 10.01 KB of space\n"),
        "{cleaned}"
    );
    let cleaned = success(&cairn(
        &["cache", "cleanup", "0", "--remove-temp"],
        dir.path(),
    ));
    assert!(cleaned.contains("0 objects (0 B) left"), "{cleaned}");
}

#[test]
fn bad_sizes_say_what_a_size_looks_like() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["10 gigs", "-5GB", "lots"] {
        let message = failure(&cairn(&["cache", "cleanup", bad], dir.path()), 2);
        assert!(
            message.contains("10GB") && message.contains("500MiB"),
            "{bad}: {message}"
        );
    }
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["cache", "stats"])
        .env("CAIRN_CACHE_DIR", dir.path())
        .env("CAIRN_CACHE_MAX_SIZE", "ten gigabytes")
        .output()
        .unwrap();
    let message = failure(&output, 1);
    assert!(message.contains("CAIRN_CACHE_MAX_SIZE"), "{message}");
    assert!(message.contains("sizes look like"), "{message}");
}

#[test]
fn checkout_of_missing_objects_says_what_to_do() {
    let dir = dataset();
    let manifest = success(&cairn(&["manifest", "data"], dir.path()));
    fs_err::write(dir.path().join("manifest.json"), manifest).unwrap();
    let message = failure(
        &cairn(&["cache", "checkout", "manifest.json", "out"], dir.path()),
        1,
    );
    assert!(
        message.contains("2 of 2 files are not in the cache"),
        "{message}"
    );
    assert!(
        message.contains("import or download them first"),
        "{message}"
    );
}

#[test]
fn manifest_uses_the_stat_cache_unless_told_not_to() {
    let dir = dataset();
    // Old files, so their stats are not racy and get recorded.
    for name in ["data/hello.txt", "data/sub/zeros.bin"] {
        let file = fs_err::File::open(dir.path().join(name)).unwrap();
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        file.file()
            .set_times(std::fs::FileTimes::new().set_modified(past))
            .unwrap();
    }
    let plain = success(&cairn(&["manifest", "data", "--no-stat-cache"], dir.path()));
    assert!(!dir.path().join("cache/stat-v1.sqlite").exists());
    let first = success(&cairn(&["manifest", "data"], dir.path()));
    let second = success(&cairn(&["manifest", "data"], dir.path()));
    assert_eq!(first, plain);
    assert_eq!(second, plain);
    assert!(dir.path().join("cache/stat-v1.sqlite").exists());
    // A changed file is hashed again.
    fs_err::write(dir.path().join("data/hello.txt"), "hello again\n").unwrap();
    let changed = success(&cairn(&["manifest", "data"], dir.path()));
    assert_ne!(changed, plain);
    assert_eq!(
        changed,
        success(&cairn(&["manifest", "data", "--no-stat-cache"], dir.path()))
    );
}
