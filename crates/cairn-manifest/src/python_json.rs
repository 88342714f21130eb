//! JSON text exactly as Python's `json.dumps(value)` prints it with default arguments.
//!
//! That is: `", "` between items and `": "` after keys, keys in insertion order,
//! `ensure_ascii=True` (every non-ASCII character and DEL become `\uXXXX`, astral characters a
//! surrogate pair, all in lowercase hex), and floats in Python's `repr()` form (`1.0`, `1e+16`,
//! `1.5e-05`). The SDK never writes this text to disk, but tools that hash or diff the SDK's
//! view of a manifest see exactly these bytes.

use serde_json::{Map, Number, Value};

use crate::entry::Entry;
use crate::manifest::{MANIFEST_VERSION, Manifest, STORAGE_POLICY};

/// Serialises `value` as Python's `json.dumps(value)` would.
///
/// Integers beyond the range of `u64`/`i64` cannot occur: `serde_json` parses them as floats,
/// whereas Python would keep them exact.
///
/// ```
/// let value = serde_json::json!({"name": "éa", "n": [1, 2.0, 1e16]});
/// assert_eq!(
///     cairn_manifest::python_json_dumps(&value),
///     r#"{"name": "\u00e9a", "n": [1, 2.0, 1e+16]}"#
/// );
/// ```
pub fn python_json_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Writes the manifest as `json.dumps(to_manifest_json())` prints it, straight from the model:
/// no intermediate `Value`, so printing a 50,000-entry manifest costs one pass and one buffer.
pub(crate) fn write_python_manifest(manifest: &Manifest) -> String {
    let mut out = String::with_capacity(160 + manifest.len() * 96);
    out.push_str("{\"version\": ");
    out.push_str(&MANIFEST_VERSION.to_string());
    out.push_str(", \"storagePolicy\": ");
    write_string(&mut out, STORAGE_POLICY);
    out.push_str(", \"storagePolicyConfig\": {");
    let config = manifest.storage_policy_config();
    let mut separator = "";
    if let Some(layout) = config.storage_layout {
        out.push_str("\"storageLayout\": ");
        write_string(&mut out, layout.as_str());
        separator = ", ";
    }
    if let Some(region) = &config.storage_region {
        out.push_str(separator);
        out.push_str("\"storageRegion\": ");
        write_string(&mut out, region);
    }
    out.push_str("}, \"contents\": {");
    for (index, (path, entry)) in manifest.entries().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_string(&mut out, path.as_str());
        out.push_str(": ");
        write_entry(&mut out, entry);
    }
    out.push_str("}}");
    out
}

/// An entry as `to_manifest_json()` shapes it: `digest`, `ref`, `birthArtifactID`, `size`,
/// `extra`, in that order, each only when set.
fn write_entry(out: &mut String, entry: &Entry) {
    out.push_str("{\"digest\": ");
    write_string(out, &entry.digest);
    if let Some(reference) = &entry.reference {
        out.push_str(", \"ref\": ");
        write_string(out, reference);
    }
    if let Some(birth) = &entry.birth_artifact_id {
        out.push_str(", \"birthArtifactID\": ");
        write_string(out, birth);
    }
    if let Some(size) = entry.size {
        out.push_str(", \"size\": ");
        out.push_str(&size.to_string());
    }
    if !entry.extra.is_empty() {
        out.push_str(", \"extra\": ");
        write_object(out, &entry.extra);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(object) => write_object(out, object),
    }
}

fn write_object(out: &mut String, object: &Map<String, Value>) {
    out.push('{');
    for (index, (key, item)) in object.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_string(out, key);
        out.push_str(": ");
        write_value(out, item);
    }
    out.push('}');
}

fn write_number(out: &mut String, number: &Number) {
    if let Some(unsigned) = number.as_u64() {
        out.push_str(&unsigned.to_string());
    } else if let Some(signed) = number.as_i64() {
        out.push_str(&signed.to_string());
    } else if let Some(float) = number.as_f64() {
        out.push_str(&python_float_repr(float));
    }
}

/// Python's `repr(float)` for a finite float: the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in `-4..16` (with `.0` added to whole numbers), in
/// scientific notation with a signed, at least two-digit exponent otherwise.
pub(crate) fn python_float_repr(value: f64) -> String {
    // Rust's `{:e}` gives the same shortest round-trip digits as Python, as `d.ddde<exp>`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        return format!("{sign}{}", fixed_notation(&digits, exponent));
    }
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    format!(
        "{sign}{mantissa}e{exponent_sign}{:02}",
        exponent.unsigned_abs()
    )
}

/// Writes `0.d1d2... * 10^(exponent + 1)` in fixed notation, always with a fractional part.
fn fixed_notation(digits: &str, exponent: i32) -> String {
    if exponent < 0 {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        return format!("0.{zeros}{digits}");
    }
    let integer_length = exponent.unsigned_abs() as usize + 1;
    if digits.len() <= integer_length {
        let zeros = "0".repeat(integer_length - digits.len());
        format!("{digits}{zeros}.0")
    } else {
        let (integer, fraction) = digits.split_at(integer_length);
        format!("{integer}.{fraction}")
    }
}

/// Writes a JSON string literal with `ensure_ascii=True` escaping.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    // Copy runs of printable ASCII in one go; only the rest is looked at character by character.
    let mut rest = text;
    while let Some(special) = rest.find(|character: char| {
        !matches!(character, ' '..='~') || character == '"' || character == '\\'
    }) {
        out.push_str(&rest[..special]);
        let mut characters = rest[special..].chars();
        if let Some(character) = characters.next() {
            write_escaped(out, character);
        }
        rest = characters.as_str();
    }
    out.push_str(rest);
    out.push('"');
}

/// The escape sequence `json.dumps` writes for a character outside printable ASCII (or `"`, `\`).
fn write_escaped(out: &mut String, character: char) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match character {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        _ => {
            let mut units = [0u16; 2];
            for unit in character.encode_utf16(&mut units) {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(HEX[usize::from((*unit >> shift) & 0xf)]));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{python_float_repr, python_json_dumps};

    fn check(value: &serde_json::Value, expect: &str) {
        assert_eq!(python_json_dumps(value), expect);
    }

    #[test]
    fn matches_python_json_dumps() {
        // Expected values were printed by CPython 3.11's `json.dumps`.
        check(&json!({}), "{}");
        check(&json!([]), "[]");
        check(
            &json!({"a": [1, -2, true, false, null], "b": {"c": "d"}}),
            r#"{"a": [1, -2, true, false, null], "b": {"c": "d"}}"#,
        );
        check(
            &json!("ctl\u{1}\u{8}\u{c}\u{1f}\u{7f}\u{a0}\t\n\r\"\\/<&>é中🙂\u{2028}"),
            r#""ctl\u0001\b\f\u001f\u007f\u00a0\t\n\r\"\\/<&>\u00e9\u4e2d\ud83d\ude42\u2028""#,
        );
        check(&json!({"z": 1, "a": 2}), r#"{"z": 1, "a": 2}"#);
    }

    #[test]
    fn float_repr() {
        for (value, expect) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (2.5, "2.5"),
            (-123.456, "-123.456"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000015, "1.5e-05"),
            (1e15, "1000000000000000.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (123456789.123, "123456789.123"),
        ] {
            assert_eq!(python_float_repr(value), expect, "repr of {value:e}");
        }
    }
}
