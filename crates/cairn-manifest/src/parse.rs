//! Reading a manifest from either serialisation (FORMAT.md §2.4).
//!
//! One parser covers the SDK's dict form and the core's uploaded file, because the second is a
//! superset of the first: it only adds `local_path` and `skip_cache` to entries. The checks run
//! in the SDK's order (version, then storage policy, then the rest) so that a manifest with
//! several problems fails with the same message as in the SDK.
//!
//! Deliberate differences from the SDK: entry keys must be safe logical paths (the SDK accepts
//! `../evil` and only checks when materialising, FORMAT.md §8.5), and they must already be
//! normalised. A malformed manifest never panics; every failure is a typed [`Error`].

use serde_json::{Map, Value};

use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_VERSION, Manifest, STORAGE_POLICY, StoragePolicyConfig};
use crate::path::LogicalPath;

/// Parses manifest JSON text.
pub(crate) fn parse_manifest(text: &str) -> Result<Manifest> {
    let value: Value = serde_json::from_str(text).map_err(|source| Error::Json { source })?;
    let Value::Object(object) = value else {
        return Err(invalid(format!(
            "the manifest must be a JSON object, not {}",
            kind(&value)
        )));
    };
    match object.get("version") {
        None | Some(Value::Null) => return Err(Error::MissingVersion),
        Some(version) if version.as_u64() == Some(MANIFEST_VERSION) => {}
        Some(_) => return Err(Error::InvalidVersion),
    }
    // The SDK validates the whole shape first and looks the storage policy up afterwards.
    let policy = match object.get("storagePolicy") {
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(invalid(format!(
                "`storagePolicy` must be a string, not {}",
                kind(other)
            )));
        }
        None => return Err(invalid("`storagePolicy` is missing".to_owned())),
    };
    let config = match object.get("storagePolicyConfig") {
        Some(Value::Object(config)) => parse_config(config)?,
        Some(other) => {
            return Err(invalid(format!(
                "`storagePolicyConfig` must be an object, not {}",
                kind(other)
            )));
        }
        None => return Err(invalid("`storagePolicyConfig` is missing".to_owned())),
    };
    let contents = match object.get("contents") {
        Some(Value::Object(contents)) => contents,
        Some(other) => {
            return Err(invalid(format!(
                "`contents` must be an object, not {}",
                kind(other)
            )));
        }
        None => return Err(invalid("`contents` is missing".to_owned())),
    };
    let mut manifest = Manifest::with_storage_policy_config(config);
    for (key, value) in contents {
        let path = LogicalPath::from_manifest_key(key)?;
        let entry = parse_entry(key, value)?;
        manifest.insert_parsed(path, entry);
    }
    if policy != STORAGE_POLICY {
        return Err(Error::UnknownStoragePolicy {
            name: policy.clone(),
        });
    }
    Ok(manifest)
}

/// `storageLayout` must be `V1` or `V2`; `storageRegion` is stripped and must not be empty; a
/// null value means the key is absent; other keys are ignored, as the SDK's model does.
fn parse_config(config: &Map<String, Value>) -> Result<StoragePolicyConfig> {
    let mut parsed = StoragePolicyConfig::default();
    for (key, value) in config {
        match (key.as_str(), value) {
            ("storageLayout" | "storageRegion", Value::Null) => {}
            ("storageLayout", Value::String(layout)) => {
                parsed.storage_layout = Some(layout.parse()?)
            }
            ("storageRegion", Value::String(region)) => {
                let region = region.trim();
                if region.is_empty() {
                    return Err(invalid(
                        "`storagePolicyConfig.storageRegion` must not be empty".to_owned(),
                    ));
                }
                parsed.storage_region = Some(region.to_owned());
            }
            ("storageLayout" | "storageRegion", other) => {
                return Err(invalid(format!(
                    "`storagePolicyConfig.{key}` must be a string, not {}",
                    kind(other)
                )));
            }
            _ => {}
        }
    }
    Ok(parsed)
}

/// Reads one entry object; `path` and unknown keys are ignored, as in the SDK.
fn parse_entry(path: &str, value: &Value) -> Result<Entry> {
    let Value::Object(object) = value else {
        return Err(invalid(format!(
            "entry `{path}` must be an object, not {}",
            kind(value)
        )));
    };
    let digest = match object.get("digest") {
        Some(Value::String(digest)) => digest.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "entry `{path}`: `digest` must be a string, not {}",
                kind(other)
            )));
        }
        None => return Err(invalid(format!("entry `{path}` has no `digest`"))),
    };
    let extra = match object.get("extra") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(extra)) => extra.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "entry `{path}`: `extra` must be an object, not {}",
                kind(other)
            )));
        }
    };
    let skip_cache = match object.get("skip_cache") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(skip)) => *skip,
        Some(other) => {
            return Err(invalid(format!(
                "entry `{path}`: `skip_cache` must be a boolean, not {}",
                kind(other)
            )));
        }
    };
    Ok(Entry {
        digest,
        reference: optional_string(path, object, "ref")?,
        birth_artifact_id: optional_string(path, object, "birthArtifactID")?,
        size: parse_size(path, object.get("size"))?,
        extra,
        local_path: optional_string(path, object, "local_path")?,
        skip_cache,
    })
}

fn optional_string(path: &str, object: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(invalid(format!(
            "entry `{path}`: `{key}` must be a string, not {}",
            kind(other)
        ))),
    }
}

/// Sizes are non-negative integers; `null` means unknown.
fn parse_size(path: &str, value: Option<&Value>) -> Result<Option<u64>> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => {
            if let Some(size) = number.as_u64() {
                Ok(Some(size))
            } else if let Some(negative) = number.as_i64() {
                Err(Error::NegativeSize {
                    path: path.to_owned(),
                    size: negative,
                })
            } else {
                Err(invalid(format!(
                    "entry `{path}`: `size` must be a whole number, not `{number}`"
                )))
            }
        }
        other => Err(invalid(format!(
            "entry `{path}`: `size` must be a number, not {}",
            kind(other)
        ))),
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidManifest { reason }
}

/// The JSON type of `value`, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use crate::{Error, Manifest};

    const HEAD: &str = r#""version": 1, "storagePolicy": "wandb-storage-policy-v1""#;

    fn check(text: &str, expect: Result<&str, &str>) {
        let actual = Manifest::from_json(text)
            .map(|manifest| manifest.to_python_json())
            .map_err(|error| error.to_string());
        assert_eq!(
            actual.as_deref(),
            expect.map_err(str::to_owned).as_deref(),
            "input {text}"
        );
    }

    /// A manifest with the given `storagePolicyConfig` and `contents` bodies.
    fn manifest(config: &str, contents: &str) -> String {
        format!(r#"{{{HEAD}, "storagePolicyConfig": {{{config}}}, "contents": {{{contents}}}}}"#)
    }

    #[test]
    fn accepted_shapes() {
        let empty = r#"{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {}, "contents": {}}"#;
        check(&manifest("", ""), Ok(empty));
        check(
            &manifest(r#""bucket": "b", "storageLayout": null"#, ""),
            Ok(empty),
        );
        check(
            &manifest(
                r#""storageRegion": " r ""#,
                r#""a": {"digest": "d", "size": null, "ref": null, "extra": null, "skip_cache": true, "path": "x", "other": 1}"#,
            ),
            Ok(
                r#"{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {"storageRegion": "r"}, "contents": {"a": {"digest": "d"}}}"#,
            ),
        );
    }

    #[test]
    fn rejected_shapes() {
        check("", Err("manifest is not valid JSON"));
        check(
            "[]",
            Err("invalid manifest: the manifest must be a JSON object, not an array"),
        );
        check(
            r#"{"version": null}"#,
            Err("Invalid manifest format. Must contain version field."),
        );
        check(r#"{"version": "1"}"#, Err("Invalid manifest version."));
        check(r#"{"version": 1.0}"#, Err("Invalid manifest version."));
        check(
            r#"{"version": 1}"#,
            Err("invalid manifest: `storagePolicy` is missing"),
        );
        check(
            &format!("{{{HEAD}}}"),
            Err("invalid manifest: `storagePolicyConfig` is missing"),
        );
        check(
            &format!(r#"{{{HEAD}, "storagePolicyConfig": {{}}}}"#),
            Err("invalid manifest: `contents` is missing"),
        );
        check(
            &manifest(r#""storageLayout": "V3""#, ""),
            Err("unknown storage layout `V3` (expected `V1` or `V2`)"),
        );
        check(
            &manifest(r#""storageRegion": "  ""#, ""),
            Err("invalid manifest: `storagePolicyConfig.storageRegion` must not be empty"),
        );
        check(
            &manifest("", r#""a": {"size": 1}"#),
            Err("invalid manifest: entry `a` has no `digest`"),
        );
        check(
            &manifest("", r#""a": {"digest": "d", "size": 1.5}"#),
            Err("invalid manifest: entry `a`: `size` must be a whole number, not `1.5`"),
        );
        check(
            &manifest("", r#""a": {"digest": "d", "size": -1}"#),
            Err("entry `a` has negative size -1; sizes must be at least 0"),
        );
        check(
            &manifest("", r#""a": {"digest": "d", "skip_cache": 1}"#),
            Err("invalid manifest: entry `a`: `skip_cache` must be a boolean, not a number"),
        );
        check(
            &manifest("", r#""a": []"#),
            Err("invalid manifest: entry `a` must be an object, not an array"),
        );
        // The policy is looked up only once the shape is valid, as in the SDK.
        let unknown =
            r#"{"version": 1, "storagePolicy": "it's", "storagePolicyConfig": {}, "contents": {}}"#;
        check(unknown, Err("Failed to find storage policy \"it's\""));
        let both = r#"{"version": 1, "storagePolicy": "x", "storagePolicyConfig": {}, "contents": {"a": {"digest": "d", "size": -1}}}"#;
        assert!(matches!(
            Manifest::from_json(both),
            Err(Error::NegativeSize { .. })
        ));
    }

    #[test]
    fn unsafe_keys_are_typed_errors() {
        for key in [
            "../evil",
            "/abs",
            "C:x",
            "a\\\\..\\\\b",
            "nul\\u0000",
            "",
            "a//b",
        ] {
            let error =
                Manifest::from_json(&manifest("", &format!(r#""{key}": {{"digest": "d"}}"#)))
                    .unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::InvalidPath { .. }
                        | Error::ControlCharacterInPath { .. }
                        | Error::NonNormalizedKey { .. }
                ),
                "key {key}: {error:?}"
            );
        }
    }
}
