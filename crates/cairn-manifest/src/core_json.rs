//! The `wandb_manifest.json` bytes that `wandb-core` uploads (FORMAT.md §2.3).
//!
//! The Go core marshals the manifest with `encoding/json`, so byte compatibility means copying
//! Go's choices: compact output, struct fields in declaration order, map keys (contents and
//! everything inside `extra`) sorted byte-wise, HTML-safe string escaping, and every number in
//! `extra` passed through `float64`. The manifest file digest sent to the server is the MD5 of
//! these bytes, so a single differing byte would make Cairn's uploads look different from the
//! SDK's.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use crate::entry::Entry;
use crate::manifest::{MANIFEST_VERSION, Manifest, STORAGE_POLICY};

/// Writes the manifest as `wandb-core` does; no trailing newline.
pub(crate) fn write_core_manifest(manifest: &Manifest) -> String {
    let mut out = String::new();
    out.push_str("{\"version\":");
    out.push_str(&MANIFEST_VERSION.to_string());
    out.push_str(",\"storagePolicy\":");
    write_go_string(&mut out, STORAGE_POLICY);
    // The core always uploads layout V2, whatever the Python side said.
    out.push_str(",\"storagePolicyConfig\":{\"storageLayout\":\"V2\"");
    if let Some(region) = &manifest.storage_policy_config().storage_region {
        out.push_str(",\"storageRegion\":");
        write_go_string(&mut out, region);
    }
    out.push_str("},\"contents\":{");
    for (index, (path, entry)) in manifest.entries().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_go_string(&mut out, path.as_str());
        out.push(':');
        write_entry(&mut out, entry);
    }
    out.push_str("}}");
    out
}

/// Field order and omission rules of the core's entry struct.
fn write_entry(out: &mut String, entry: &Entry) {
    out.push_str("{\"digest\":");
    write_go_string(out, &entry.digest);
    if let Some(reference) = non_empty(entry.reference.as_deref()) {
        out.push_str(",\"ref\":");
        write_go_string(out, reference);
    }
    out.push_str(",\"size\":");
    out.push_str(&entry.size.unwrap_or(0).to_string());
    if let Some(local_path) = non_empty(entry.local_path.as_deref()) {
        out.push_str(",\"local_path\":");
        write_go_string(out, local_path);
    }
    if let Some(birth) = non_empty(entry.birth_artifact_id.as_deref()) {
        out.push_str(",\"birthArtifactID\":");
        write_go_string(out, birth);
    }
    out.push_str(",\"skip_cache\":");
    out.push_str(if entry.skip_cache { "true" } else { "false" });
    if !entry.extra.is_empty() {
        out.push_str(",\"extra\":");
        write_go_object(out, &entry.extra);
    }
    out.push('}');
}

/// Go's `omitempty` drops empty strings as well as missing ones.
fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|text| !text.is_empty())
}

/// A value that went through Go's `json.Unmarshal` into `any` and back out.
fn write_go_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&go_float(number_as_f64(number))),
        Value::String(text) => write_go_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_go_value(out, item);
            }
            out.push(']');
        }
        Value::Object(object) => write_go_object(out, object),
    }
}

/// A Go `map[string]any`: keys sorted by their bytes.
fn write_go_object(out: &mut String, object: &Map<String, Value>) {
    let sorted: BTreeMap<&str, &Value> = object
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    out.push('{');
    for (index, (key, value)) in sorted.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_go_string(out, key);
        out.push(':');
        write_go_value(out, value);
    }
    out.push('}');
}

/// Go decodes every JSON number into `float64`, losing precision beyond 2^53 on purpose here.
#[expect(
    clippy::cast_precision_loss,
    reason = "the core itself rounds integers to float64"
)]
fn number_as_f64(number: &Number) -> f64 {
    if let Some(unsigned) = number.as_u64() {
        unsigned as f64
    } else if let Some(signed) = number.as_i64() {
        signed as f64
    } else {
        number.as_f64().unwrap_or(0.0)
    }
}

/// Go's `encoding/json` float64 format: shortest round-trip digits, fixed notation unless the
/// magnitude is below 1e-6 or at least 1e21, exponents written `e+21` / `e-7`.
pub(crate) fn go_float(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let scientific = format!("{value:e}");
        // Rust writes `1e21` and `1e-7`; Go writes `1e+21` and (after its own clean-up) `1e-7`.
        return match scientific.split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                format!("{mantissa}e+{exponent}")
            }
            _ => scientific,
        };
    }
    // Rust's `Display` for f64 is the shortest round-trip digits in fixed notation, as Go's 'f'.
    format!("{value}")
}

/// A Go string literal with `encoding/json`'s default (HTML-safe) escaping.
fn write_go_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let code = u32::from(character);
                out.push_str("\\u00");
                out.push(char::from(HEX[(code >> 4) as usize & 0xf]));
                out.push(char::from(HEX[code as usize & 0xf]));
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(character),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{go_float, write_go_object, write_go_string};

    fn check_string(input: &str, expect: &str) {
        let mut out = String::new();
        write_go_string(&mut out, input);
        assert_eq!(out, expect, "input {input:?}");
    }

    #[test]
    fn strings_escape_like_go() {
        check_string(
            "plain é 中 🙂 \u{7f} \u{a0}",
            "\"plain é 中 🙂 \u{7f} \u{a0}\"",
        );
        check_string("html <&>", "\"html \\u003c\\u0026\\u003e\"");
        check_string("ctl\u{1}\u{8}\u{c}\u{1f}", "\"ctl\\u0001\\b\\f\\u001f\"");
        check_string(
            "sep\u{2028}\u{2029}\t\n\r",
            "\"sep\\u2028\\u2029\\t\\n\\r\"",
        );
        check_string("quote\"back\\slash/", "\"quote\\\"back\\\\slash/\"");
    }

    #[test]
    fn floats_format_like_go() {
        // Expected values follow Go's strconv.AppendFloat as used by encoding/json.
        for (value, expect) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (5.0, "5"),
            (2.5, "2.5"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (-1.25e300, "-1.25e+300"),
            (9007199254740993.0, "9007199254740992"),
        ] {
            assert_eq!(go_float(value), expect, "value {value:e}");
        }
    }

    #[test]
    fn objects_sort_keys_recursively() {
        let extra =
            json!({"z": {"b": 1, "a": [true, null, "x"]}, "a": 18446744073709551615_u64, "m": -3});
        let mut out = String::new();
        write_go_object(&mut out, extra.as_object().unwrap());
        assert_eq!(
            out,
            r#"{"a":18446744073709552000,"m":-3,"z":{"a":[true,null,"x"],"b":1}}"#
        );
    }
}
