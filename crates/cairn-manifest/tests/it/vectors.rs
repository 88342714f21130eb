//! Loading the vector files and reading their JSON without ceremony.
//!
//! Test helpers panic with the offending key and record, which is the useful failure message
//! in a test.

use std::path::PathBuf;

use serde_json::Value;

/// The directory holding `expected.json` and `expected_core.json`.
pub(crate) fn directory() -> PathBuf {
    match std::env::var_os("CAIRN_VECTORS_DIR") {
        Some(directory) => PathBuf::from(directory),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/wandb-vectors/public")
        }
    }
}

/// Parses one vector file (with key order preserved).
pub(crate) fn load(name: &str) -> Value {
    let path = directory().join(name);
    let text = fs_err::read_to_string(&path).unwrap_or_else(|error| panic!("{error}"));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// `expected.json`.
pub(crate) fn expected() -> Value {
    load("expected.json")
}

/// `expected_core.json`.
pub(crate) fn expected_core() -> Value {
    load("expected_core.json")
}

/// `value[key]`, which must exist.
pub(crate) fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    value
        .get(key)
        .unwrap_or_else(|| panic!("missing `{key}` in {value}"))
}

/// `value[key]` as a string, which must be one.
pub(crate) fn string<'a>(value: &'a Value, key: &str) -> &'a str {
    field(value, key)
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {value}"))
}

/// `value` as an array, which must be one.
pub(crate) fn array(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
}

/// A list of strings, where a bare string counts as a one-element list and `null` as empty,
/// as the SDK's alias and tag arguments do.
pub(crate) fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .unwrap_or_else(|| panic!("not a string: {item}"))
                    .to_owned()
            })
            .collect(),
        other => panic!("not a string list: {other}"),
    }
}

/// The compact text of a value, keys in their stored order: two values have equal text exactly
/// when they are equal *and* their object keys come in the same order.
pub(crate) fn ordered(value: &Value) -> String {
    value.to_string()
}

/// The SDK's `digest_algorithm` strings (`MANIFEST_MD5`, or the short `XXH128`) as ours.
pub(crate) fn algorithm(name: &str) -> cairn_manifest::DigestAlgorithm {
    name.parse()
        .unwrap_or_else(|error| panic!("unknown digest algorithm {name}: {error}"))
}

/// Each record's `id`, for messages.
pub(crate) fn id(record: &Value) -> &str {
    record
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("<no id>")
}
