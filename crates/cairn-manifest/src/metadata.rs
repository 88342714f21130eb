//! Artifact metadata: a JSON object of at most 100 top-level keys (FORMAT.md §6).
//!
//! The SDK accepts a dict, a JSON string holding one, or `None`, and converts values to
//! JSON-friendly ones on the way. In Rust the value is already JSON, with one gap: a
//! `serde_json::Value` cannot hold NaN or infinity, which a Python dict can. Callers that build
//! metadata from floats convert each one with [`metadata_number`], which applies the SDK's rule
//! (NaN becomes `null`, an infinity is an error) before the value ever reaches
//! [`validate_metadata`].

use serde_json::{Map, Number, Value};

use crate::error::{Error, Result};

/// Most top-level keys metadata may have; nested keys do not count.
pub const MAX_METADATA_KEYS: usize = 100;

/// Validates metadata and returns it as an object.
///
/// As in the SDK: `null` and the empty string become `{}`; any other string is parsed as JSON
/// and the result validated in turn; an object is accepted; anything else fails with the
/// SDK's `Cannot parse <class 'list'> as artifact metadata`. More than [`MAX_METADATA_KEYS`]
/// top-level keys fails with the SDK's message.
///
/// ```
/// use serde_json::json;
///
/// let metadata = cairn_manifest::validate_metadata(json!(r#"{"epochs": 3}"#))?;
/// assert_eq!(metadata.get("epochs"), Some(&json!(3)));
/// assert!(cairn_manifest::validate_metadata(json!([1, 2])).is_err());
/// # Ok::<(), cairn_manifest::Error>(())
/// ```
pub fn validate_metadata(metadata: Value) -> Result<Map<String, Value>> {
    let object = match metadata {
        Value::Null => Map::new(),
        Value::String(text) if text.is_empty() => Map::new(),
        Value::String(text) => {
            let parsed =
                serde_json::from_str(&text).map_err(|source| Error::MetadataJson { source })?;
            return validate_metadata(parsed);
        }
        Value::Object(object) => object,
        Value::Array(_) => return Err(Error::MetadataNotObject { found: "list" }),
        Value::Bool(_) => return Err(Error::MetadataNotObject { found: "bool" }),
        Value::Number(number) => {
            let found = if number.is_f64() { "float" } else { "int" };
            return Err(Error::MetadataNotObject { found });
        }
    };
    if object.len() > MAX_METADATA_KEYS {
        return Err(Error::TooManyMetadataKeys {
            count: object.len(),
        });
    }
    Ok(object)
}

/// Converts a float to a metadata value the way the SDK does: NaN becomes `null`, and positive
/// or negative infinity fails with `Out of range float values are not JSON compliant`.
///
/// ```
/// use serde_json::{Value, json};
///
/// assert_eq!(cairn_manifest::metadata_number(2.5)?, json!(2.5));
/// assert_eq!(cairn_manifest::metadata_number(f64::NAN)?, Value::Null);
/// assert!(cairn_manifest::metadata_number(f64::INFINITY).is_err());
/// # Ok::<(), cairn_manifest::Error>(())
/// ```
pub fn metadata_number(value: f64) -> Result<Value> {
    if value.is_nan() {
        return Ok(Value::Null);
    }
    Number::from_f64(value)
        .map(Value::Number)
        .ok_or(Error::NonFiniteMetadata)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{metadata_number, validate_metadata};

    fn check(input: Value, expect: Result<Value, &str>) {
        let actual = validate_metadata(input)
            .map(Value::Object)
            .map_err(|error| error.to_string());
        assert_eq!(actual, expect.map_err(str::to_owned));
    }

    #[test]
    fn shapes() {
        check(Value::Null, Ok(json!({})));
        check(
            json!({"a": {"b": [1, 2.5]}}),
            Ok(json!({"a": {"b": [1, 2.5]}})),
        );
        check(
            json!("{\"from\": \"string\"}"),
            Ok(json!({"from": "string"})),
        );
        check(json!(""), Ok(json!({})));
        check(json!("null"), Ok(json!({})));
        // A JSON string holding a JSON string is unwrapped again, as in the SDK.
        check(json!(r#""{\"a\": 1}""#), Ok(json!({"a": 1})));
        check(
            json!("[1]"),
            Err("Cannot parse <class 'list'> as artifact metadata"),
        );
        check(
            json!("{"),
            Err("artifact metadata string is not valid JSON"),
        );
        check(
            json!(3),
            Err("Cannot parse <class 'int'> as artifact metadata"),
        );
        check(
            json!(2.5),
            Err("Cannot parse <class 'float'> as artifact metadata"),
        );
        check(
            json!(true),
            Err("Cannot parse <class 'bool'> as artifact metadata"),
        );
    }

    #[test]
    fn key_limit_counts_top_level_only() {
        let many = |count: usize| {
            Value::Object(
                (0..count)
                    .map(|index| (format!("k{index:03}"), json!(index)))
                    .collect(),
            )
        };
        check(many(100), Ok(many(100)));
        check(
            many(101),
            Err("Artifact must not have more than 100 metadata keys."),
        );
        check(
            json!({"nested": many(150)}),
            Ok(json!({"nested": many(150)})),
        );
    }

    #[test]
    fn non_finite_floats() {
        assert_eq!(metadata_number(f64::NAN).ok(), Some(Value::Null));
        for value in [f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(
                metadata_number(value).map_err(|error| error.to_string()),
                Err("Out of range float values are not JSON compliant".to_owned())
            );
        }
    }
}
