//! `parse_manifests` of `expected.json`: what the SDK's parser makes of hand-written manifests.

use serde_json::Value;

use cairn_manifest::{Error, Manifest};

use crate::vectors::{algorithm, array, expected, field, id, ordered, string};

#[test]
fn parse_manifests() {
    let vectors = expected();
    let records = array(field(&vectors, "parse_manifests"));
    assert!(!records.is_empty());
    for record in records {
        let input = field(record, "input");
        let parsed = Manifest::from_json(&input.to_string());
        if has_unsafe_key(input) {
            // Deliberate difference: the SDK loads `../evil` and similar keys and only checks them
            // when a file is materialised (FORMAT.md §8.5). Cairn refuses such a manifest at
            // once, so no code path can ever join an unsafe key onto a directory.
            let error = parsed.expect_err(id(record));
            assert!(
                matches!(
                    error,
                    Error::InvalidPath { .. }
                        | Error::ControlCharacterInPath { .. }
                        | Error::NonNormalizedKey { .. }
                ),
                "{}: {error:?}",
                id(record)
            );
            continue;
        }
        match record.get("error") {
            None => {
                let manifest = parsed.unwrap_or_else(|error| panic!("{}: {error}", id(record)));
                assert_eq!(
                    ordered(&manifest.to_python_value()),
                    ordered(field(record, "to_manifest_json")),
                    "{}",
                    id(record)
                );
                let digest_algorithm = algorithm(string(record, "digest_algorithm"));
                assert_eq!(
                    manifest.digest(digest_algorithm),
                    string(record, "digest"),
                    "{}",
                    id(record)
                );
                assert_eq!(
                    Some(manifest.size()),
                    field(record, "size").as_u64(),
                    "{}",
                    id(record)
                );
            }
            Some(error) if string(error, "type") == "ValidationError" => {
                // Pydantic's message is a multi-line report naming its own model classes; Cairn
                // returns a typed error with its own text instead.
                let ours = parsed.expect_err(id(record));
                assert!(
                    !matches!(ours, Error::Json { .. }),
                    "{}: {ours:?}",
                    id(record)
                );
            }
            Some(error) => {
                let ours = parsed.expect_err(id(record));
                assert_eq!(ours.to_string(), string(error, "message"), "{}", id(record));
            }
        }
    }
}

/// Whether any `contents` key could name a file outside the download root, judged here
/// independently of the crate: a `..` component, an absolute or drive-letter path, an empty or
/// `.` key, a control character, or a key that is not in normal form.
fn has_unsafe_key(input: &Value) -> bool {
    let unsafe_key = |key: &str| {
        key.is_empty()
            || key == "."
            || key.starts_with(['/', '\\'])
            || key.as_bytes().get(1) == Some(&b':')
            || key
                .split(['/', '\\'])
                .any(|part| part == ".." || part == "." || part.is_empty())
            || key.chars().any(|character| character == '\0')
    };
    input
        .get("contents")
        .and_then(Value::as_object)
        .is_some_and(|contents| contents.keys().any(|key| unsafe_key(key)))
}
