//! `cases` of `expected.json`: final manifests built by the SDK, and the path and same-path
//! decisions recorded in their operations.

use serde_json::Value;

use cairn_manifest::{Entry, LogicalPath, Manifest};

use crate::validation::check_strict_path;
use crate::vectors::{algorithm, array, expected, field, id, ordered, string};

/// Every case's final manifest parses, re-serialises to the same dict (values and key order),
/// and gives the same preimage, digest, size and entry count.
#[test]
fn final_manifests() {
    let vectors = expected();
    let cases = array(field(&vectors, "cases"));
    assert!(!cases.is_empty());
    for case in cases {
        let expect = field(case, "expected");
        let manifest_json = field(expect, "manifest");
        let manifest = Manifest::from_json(&manifest_json.to_string())
            .unwrap_or_else(|error| panic!("{}: {error}", id(case)));
        assert_eq!(
            ordered(&manifest.to_python_value()),
            ordered(manifest_json),
            "{}",
            id(case)
        );
        assert_eq!(
            manifest.digest_preimage(),
            string(expect, "digest_preimage"),
            "{}",
            id(case)
        );
        let digest_algorithm = algorithm(string(expect, "digest_algorithm"));
        assert_eq!(
            manifest.digest(digest_algorithm),
            string(expect, "digest"),
            "{}",
            id(case)
        );
        assert_eq!(
            Some(manifest.size()),
            field(expect, "size").as_u64(),
            "{}",
            id(case)
        );
        assert_eq!(
            Some(manifest.len() as u64),
            field(expect, "entry_count").as_u64(),
            "{}",
            id(case)
        );
        // The direct writer prints exactly what `json.dumps` of the SDK's dict prints.
        assert_eq!(
            manifest.to_python_json(),
            cairn_manifest::python_json_dumps(manifest_json),
            "{}",
            id(case)
        );
        // The Python-format text must parse back to the same manifest.
        assert_eq!(
            Manifest::from_json(&manifest.to_python_json())
                .ok()
                .as_ref(),
            Some(&manifest),
            "{}",
            id(case)
        );
    }
}

/// Names given to `add_file` and `new_file`: accepted ones normalise to the recorded entry path,
/// rejected ones fail with the SDK's message. `add_dir` reports the first joined path, so for it
/// only the rejection of the prefix itself is checked.
#[test]
fn operation_names() {
    let vectors = expected();
    let mut checked = 0;
    for case in array(field(&vectors, "cases")) {
        for record in array(field(case, "ops")) {
            let op = field(record, "op");
            let Some(name) = op.get("name").and_then(Value::as_str) else {
                continue;
            };
            let kind = string(op, "op");
            let message = record.get("error").map(|error| string(error, "message"));
            match (kind, message) {
                ("add_file" | "new_file", Some(message))
                    if message.starts_with("Invalid artifact path: ") =>
                {
                    check_strict_path(name, Err(message), &format!("{}: {op}", id(case)));
                }
                ("add_dir", Some(message)) if message.starts_with("Invalid artifact path: ") => {
                    assert!(LogicalPath::new(name).is_err(), "{}: {name}", id(case));
                }
                ("add_file" | "new_file", None) if op.get("is_tmp").is_none() => {
                    let path = string(field(record, "result"), "path");
                    check_strict_path(name, Ok(path), &format!("{}: {op}", id(case)));
                }
                _ => continue,
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// Cases whose every content change is recorded (entry results, removals, errors) are replayed
/// through `Manifest::add` and `Manifest::remove`; the result must be the SDK's final manifest,
/// and every same-path refusal must be ours too.
#[test]
fn replayed_operations() {
    let vectors = expected();
    let mut replayed = 0;
    for case in array(field(&vectors, "cases")) {
        let Some(manifest) = replay(case) else {
            continue;
        };
        let expect = field(field(case, "expected"), "manifest");
        assert_eq!(
            ordered(&manifest.to_python_value()),
            ordered(expect),
            "{}",
            id(case)
        );
        replayed += 1;
    }
    assert!(replayed > 0);
}

/// Operations that can change the manifest, all handled by `replay`.
const CONTENT_OPERATIONS: &[&str] = &["add_file", "new_file", "add_reference", "add_dir", "remove"];

/// Operations that never change the manifest.
const IGNORED_OPERATIONS: &[&str] = &[
    "call",
    "copy_fixture_dir",
    "delete_path",
    "download_entry",
    "finalize",
    "get_entry",
    "get_ttl",
    "list_tree",
    "mark_committed",
    "register_client_id",
    "set_ttl",
    "stub_gcs_client",
    "verify",
    "write_file",
];

/// Replays a case, or returns `None` when some change (such as `add_dir`) has no recorded result.
fn replay(case: &Value) -> Option<Manifest> {
    let mut manifest = Manifest::new();
    for record in array(field(case, "ops")) {
        let op = field(record, "op");
        let kind = string(op, "op");
        let error = record
            .get("error")
            .map(|error| string(error, "message").to_owned());
        let error_type = record.get("error").map(|error| string(error, "type"));
        match (kind, &error, record.get("result")) {
            // A successful `add_dir` records no entries, and one that fails on a same-path
            // conflict keeps the files it added before; neither can be replayed.
            ("add_dir", None, _) => return None,
            ("add_dir", Some(message), _)
                if message.starts_with("Cannot add the same path twice: ") =>
            {
                return None;
            }
            // A removal the SDK refused for a reason other than a missing path (a finalized
            // artifact) changed nothing and is outside this crate's model.
            ("remove", Some(_), _) if error_type != Some("FileNotFoundError") => {}
            ("remove", _, _) => {
                let outcome = manifest
                    .remove(string(op, "item"))
                    .map_err(|error| error.to_string());
                assert_eq!(outcome.err(), error, "{}: {op}", id(case));
            }
            ("add_file" | "new_file" | "add_reference", None, Some(result)) => {
                let overwrite = op
                    .get("overwrite")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    || (kind == "new_file"
                        && !op
                            .get("mode")
                            .and_then(Value::as_str)
                            .unwrap_or("x")
                            .contains('x'));
                let results = if result.is_array() {
                    array(result).clone()
                } else {
                    vec![result.clone()]
                };
                for entry in &results {
                    let path = LogicalPath::from_manifest_key(string(entry, "path"))
                        .unwrap_or_else(|error| panic!("{}: {error}", id(case)));
                    manifest
                        .add(path, entry_of(entry), overwrite)
                        .unwrap_or_else(|error| panic!("{}: {error}", id(case)));
                }
            }
            (_, Some(message), _) if message.starts_with("Cannot add the same path twice: ") => {
                // The refused entry is not recorded, but the contested path must be one we hold.
                assert!(
                    manifest.entries().any(|(path, _)| {
                        cairn_manifest::Error::DuplicatePath {
                            path: path.to_string(),
                        }
                        .to_string()
                            == *message
                    }),
                    "{}: {message}",
                    id(case)
                );
            }
            (kind, _, _)
                if !IGNORED_OPERATIONS.contains(&kind) && !CONTENT_OPERATIONS.contains(&kind) =>
            {
                // An operation this replay does not know might change the contents.
                return None;
            }
            _ => {}
        }
    }
    Some(manifest)
}

/// An entry from an operation's recorded result.
fn entry_of(result: &Value) -> Entry {
    let optional = |key: &str| result.get(key).and_then(Value::as_str).map(str::to_owned);
    Entry {
        digest: string(result, "digest").to_owned(),
        reference: optional("ref"),
        birth_artifact_id: optional("birthArtifactID"),
        size: result.get("size").and_then(Value::as_u64),
        extra: result
            .get("extra")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
            .into(),
        local_path: None,
        skip_cache: result
            .get("skip_cache")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}
