//! Every table of `expected.json#/validation`, with exact error messages.

use serde_json::{Map, Value};

use cairn_manifest::{
    Error, LogicalPath, is_version_alias, metadata_number, normalize_posix, resolve_aliases,
    validate_aliases, validate_artifact_name, validate_artifact_type, validate_download_root_name,
    validate_metadata, validate_tags,
};

use crate::vectors::{array, expected, field, ordered, string, string_list};

/// The records of one validation table, which must not be empty.
fn table(name: &str) -> Vec<Value> {
    let vectors = expected();
    let records = array(field(field(&vectors, "validation"), name)).clone();
    assert!(!records.is_empty(), "validation.{name} is empty");
    records
}

/// Compares an outcome with a record's `ok` (passed through `render`) or `error.message`.
fn check<T>(record: &Value, actual: cairn_manifest::Result<T>, render: impl Fn(&T) -> Value) {
    match (record.get("ok"), actual) {
        (Some(ok), Ok(value)) => assert_eq!(ordered(&render(&value)), ordered(ok), "{record}"),
        (None, Err(error)) => assert_eq!(
            error.to_string(),
            string(field(record, "error"), "message"),
            "{record}"
        ),
        (_, Ok(value)) => panic!("accepted, SDK rejected: {record} -> {}", render(&value)),
        (_, Err(error)) => panic!("rejected, SDK accepted: {record} -> {error}"),
    }
}

fn strings_value(items: &[String]) -> Value {
    Value::from(items.to_vec())
}

#[test]
fn artifact_names() {
    for record in table("artifact_names") {
        let name = string(&record, "input");
        check(&record, validate_artifact_name(name), |()| {
            Value::from(name)
        });
    }
}

#[test]
fn artifact_types() {
    for record in table("artifact_types") {
        let artifact_type = string(&record, "type");
        check(
            &record,
            validate_artifact_type(artifact_type, string(&record, "name")),
            |()| Value::from(artifact_type),
        );
    }
}

#[test]
fn aliases() {
    for record in table("aliases") {
        check(
            &record,
            validate_aliases(&string_list(field(&record, "input"))),
            |items: &Vec<String>| strings_value(items),
        );
    }
}

#[test]
fn tags() {
    for record in table("tags") {
        check(
            &record,
            validate_tags(&string_list(field(&record, "input"))),
            |items: &Vec<String>| strings_value(items),
        );
    }
}

/// The strict constructor, which must agree with the SDK except where Cairn is stricter on
/// purpose (see `check_strict_path`).
#[test]
fn artifact_paths() {
    for record in table("artifact_paths") {
        let sdk = match record.get("ok") {
            Some(ok) => Ok(ok.as_str().unwrap()),
            None => Err(string(field(&record, "error"), "message")),
        };
        check_strict_path(string(&record, "input"), sdk, &record.to_string());
    }
}

/// Checks `LogicalPath::new(input)` against the SDK's outcome (`Ok(normalised path)` or
/// `Err(message)`). Two deliberate differences are allowed where the SDK accepts a path:
/// Cairn rejects control characters, and it rejects inputs whose normal form the SDK itself
/// would reject (`./C:x` becomes `C:x`), so that every accepted path validates again.
pub(crate) fn check_strict_path(input: &str, sdk: Result<&str, &str>, context: &str) {
    let ours = LogicalPath::new(input);
    match (sdk, ours) {
        (Ok(expect), Ok(path)) => assert_eq!(path.as_str(), expect, "{context}"),
        (Err(expect), Err(error)) => assert_eq!(error.to_string(), expect, "{context}"),
        (Ok(_), Err(Error::ControlCharacterInPath { .. }))
            if input.chars().any(char::is_control) => {}
        (Ok(normalized), Err(Error::InvalidPath { .. }))
            if matches!(LogicalPath::new(normalized), Err(Error::InvalidPath { .. })) => {}
        (Ok(_), Err(error)) => panic!("rejected, SDK accepted: {context}: {error}"),
        (Err(_), Ok(path)) => panic!("accepted as {path}, SDK rejected: {context}"),
    }
}

#[test]
fn logical_paths() {
    for record in table("logical_paths") {
        assert_eq!(
            normalize_posix(string(&record, "input")),
            string(&record, "ok"),
            "{record}"
        );
    }
}

#[test]
fn download_root_names() {
    for record in table("download_root_names") {
        let name = string(&record, "input");
        check(&record, validate_download_root_name(name), |()| {
            Value::from(name)
        });
    }
}

/// Metadata inputs use the generator's markers: `{"__nonfinite__": "nan"}` stands for the dict
/// `{"x": float("nan")}` and `{"__many_keys__": N}` for `{"k000": 0, ...}` with N keys. A float
/// reaches JSON through `metadata_number`, which is where the SDK's non-finite rule lives.
#[test]
fn metadata() {
    for record in table("metadata") {
        let input = field(&record, "input");
        let outcome = materialise_markers(input).and_then(validate_metadata);
        check(&record, outcome, |object| Value::Object(object.clone()));
    }
}

fn materialise_markers(input: &Value) -> cairn_manifest::Result<Value> {
    if let Some(name) = input.get("__nonfinite__").and_then(Value::as_str) {
        let float: f64 = name
            .parse()
            .unwrap_or_else(|_| panic!("bad float marker {name}"));
        let mut object = Map::new();
        object.insert("x".to_owned(), metadata_number(float)?);
        return Ok(Value::Object(object));
    }
    if let Some(count) = input.get("__many_keys__").and_then(Value::as_u64) {
        return Ok(Value::Object(
            (0..count)
                .map(|index| (format!("k{index:03}"), Value::from(index)))
                .collect(),
        ));
    }
    Ok(input.clone())
}

#[test]
fn version_alias_detection() {
    for record in table("version_alias_detection") {
        let expect = field(&record, "is_version_alias").as_bool().unwrap();
        assert_eq!(
            is_version_alias(string(&record, "input")),
            expect,
            "{record}"
        );
    }
}

/// The SDK's result order is that of a Python set, so the vectors hold it sorted.
#[test]
fn resolved_aliases() {
    for record in table("resolve_aliases") {
        let mut resolved = resolve_aliases(&string_list(field(&record, "input")));
        let unique = resolved.len();
        resolved.sort();
        resolved.dedup();
        assert_eq!(resolved.len(), unique, "duplicates in {record}");
        assert_eq!(
            Value::from(resolved),
            *field(&record, "sorted_output"),
            "{record}"
        );
    }
}
