//! `cairn manifest`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn cairn(args: &[&str], cwd: &Path, stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .current_dir(cwd)
        // The stat cache goes into the test's directory, never the user's cache.
        .env("CAIRN_CACHE_DIR", cwd.join(".cairn-cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "a successful run prints nothing on stderr"
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn dataset() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(dir.path().join("data/train")).unwrap();
    fs_err::write(dir.path().join("data/hello.txt"), "hello world\n").unwrap();
    fs_err::write(
        dir.path().join("data/train/part-0001.csv"),
        "id,value\n1,0.5\n2,0.25\n",
    )
    .unwrap();
    fs_err::write(dir.path().join("data/html <&> ünï.txt"), "").unwrap();
    dir
}

#[test]
fn directory_manifest_in_both_formats() {
    let dir = dataset();
    let python = stdout(&cairn(&["manifest", "data"], dir.path(), None));
    assert_eq!(
        python,
        concat!(
            r#"{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {"storageLayout": "V2"}, "contents": {"#,
            r#""hello.txt": {"digest": "b1kCrCNwJL3QwXbLkwY9xA==", "size": 12}, "#,
            r#""html <&> \u00fcn\u00ef.txt": {"digest": "1B2M2Y8AsgTpgAmY7PhCfg==", "size": 0}, "#,
            r#""train/part-0001.csv": {"digest": "FahOU7YkfV9Vz/jIJp7MJQ==", "size": 22}}}"#,
            "\n"
        )
    );
    let core = cairn(
        &["manifest", "data", "--format", "wandb-core"],
        dir.path(),
        None,
    );
    let core = stdout(&core);
    assert!(core.starts_with(r#"{"version":1,"storagePolicy":"wandb-storage-policy-v1","storagePolicyConfig":{"storageLayout":"V2"},"contents":{"hello.txt":{"digest":"b1kCrCNwJL3QwXbLkwY9xA==","size":12,"local_path":""#), "{core}");
    assert!(
        core.contains(r#""html \u003c\u0026\u003e ünï.txt""#),
        "{core}"
    );
    assert!(
        !core.ends_with('\n'),
        "the uploaded bytes have no trailing newline when piped"
    );

    // Expected values computed independently (Python's hashlib and the xxhash package) from
    // the SDK's preimage rule.
    let digest = stdout(&cairn(&["manifest", "data", "--digest"], dir.path(), None));
    assert_eq!(digest, "115cfcef520973342fd7dc9fc8b7ae77\n");
    let xxh = stdout(&cairn(
        &[
            "manifest",
            "data",
            "--digest",
            "--digest-algorithm",
            "xxh128",
        ],
        dir.path(),
        None,
    ));
    assert_eq!(xxh, "ddc2016550a79ff3042cf415d584d227\n");
}

#[test]
fn ops_from_a_file_and_from_stdin() {
    let dir = dataset();
    let ops = r#"[
        {"op": "add_file", "local_path": "data/hello.txt", "name": "weights/model.bin"},
        {"op": "add_dir", "local_path": "data/train", "name": "train"},
        {"op": "add_reference", "uri": "custom://x/y", "name": "refs/custom"},
        {"op": "new_file", "name": "notes.md", "text": "n\n"},
        {"op": "remove", "item": "train"}
    ]"#;
    fs_err::write(dir.path().join("ops.json"), ops).unwrap();
    let from_file = stdout(&cairn(&["manifest", "--ops", "ops.json"], dir.path(), None));
    let from_stdin = stdout(&cairn(&["manifest", "--ops", "-"], dir.path(), Some(ops)));
    assert_eq!(from_file, from_stdin);
    assert!(
        from_file
            .contains(r#""weights/model.bin": {"digest": "b1kCrCNwJL3QwXbLkwY9xA==", "size": 12}"#),
        "{from_file}"
    );
    assert!(
        from_file.contains(r#""refs/custom": {"digest": "custom://x/y", "ref": "custom://x/y"}"#),
        "{from_file}"
    );
    assert!(from_file.contains(r#""notes.md""#), "{from_file}");
    assert!(!from_file.contains("train/"), "{from_file}");
}

#[test]
fn errors_are_explained_with_exit_code_one() {
    let dir = dataset();
    let check = |args: &[&str], stdin: Option<&str>, expect: &str| {
        let output = cairn(args, dir.path(), stdin);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expect),
            "{args:?}: expected {expect:?} in:\n{}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "nothing is printed on failure");
    };
    check(&["manifest", "missing"], None, "Path is not a directory");
    check(
        &["manifest", "--ops", "-"],
        Some("{not json"),
        "is not a valid operations file",
    );
    check(
        &["manifest", "--ops", "-"],
        Some(r#"[{"op": "add_file", "local_path": "x", "naem": "y"}]"#),
        "unknown field `naem`",
    );
    check(&["manifest", "--ops", "nope.json"], None, "nope.json");
    let clash = r#"[{"op": "add_file", "local_path": "data/hello.txt", "name": "a"},
                    {"op": "add_file", "local_path": "data/train/part-0001.csv", "name": "a"}]"#;
    check(
        &["manifest", "--ops", "-"],
        Some(clash),
        "Cannot add the same path twice: 'a'",
    );
    check(
        &["manifest", "--ops", "-"],
        Some(clash),
        "operation 2 (add_file `data/train/part-0001.csv`) failed",
    );
    let traversal =
        r#"[{"op": "add_file", "local_path": "data/hello.txt", "name": "../../etc/passwd"}]"#;
    check(
        &["manifest", "--ops", "-"],
        Some(traversal),
        "Invalid artifact path: '../../etc/passwd'",
    );
    std::os::unix::fs::symlink(dir.path().join("data"), dir.path().join("data/train/loop"))
        .unwrap();
    check(&["manifest", "data"], None, "symlink loop");
}

#[test]
fn usage_errors_exit_with_two() {
    let dir = dataset();
    let output = cairn(&["manifest", "data", "--ops", "x.json"], dir.path(), None);
    assert_eq!(output.status.code(), Some(2));
    let output = cairn(&["manifest"], dir.path(), None);
    assert_eq!(output.status.code(), Some(2));
    let output = cairn(&["manifest", "data", "--format", "yaml"], dir.path(), None);
    assert_eq!(output.status.code(), Some(2));
}
