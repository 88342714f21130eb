//! The `wandb_manifest.json` bytes that `wandb-core` uploads (FORMAT.md §2.3).
//!
//! The Go core marshals the manifest with `encoding/json`, so byte compatibility means copying
//! Go's choices: compact output, struct fields in declaration order, map keys (contents and
//! everything inside `extra`) sorted byte-wise, HTML-safe string escaping, and every number in
//! `extra` passed through `float64`. The manifest file digest sent to the server is the MD5 of
//! these bytes, so a single differing byte would make Cairn's uploads look different from the
//! SDK's.

use std::collections::{BTreeMap, btree_map};

use serde_json::{Map, Number, Value};

use crate::entry::Entry;
use crate::manifest::{MANIFEST_VERSION, Manifest, STORAGE_POLICY};
use crate::path::LogicalPath;

/// How [`Manifest::core_json_chunks`] writes the `wandb-core` bytes.
///
/// The default keeps every entry's `local_path` and cuts the output into chunks of about
/// 64 KiB.
///
/// ```
/// use cairn_manifest::{CoreJsonOptions, Entry, LogicalPath, Manifest};
///
/// let mut entry = Entry::file("b1kCrCNwJL3QwXbLkwY9xA==", 12);
/// entry.local_path = Some("/data/hello.txt".to_owned());
/// let mut manifest = Manifest::new();
/// manifest.add(LogicalPath::new("hello.txt")?, entry, false)?;
///
/// let published: String = manifest
///     .core_json_chunks(CoreJsonOptions::default().without_local_paths())
///     .collect();
/// assert!(!published.contains("/data/"));
/// let whole: String = manifest.core_json_chunks(CoreJsonOptions::default()).collect();
/// assert_eq!(whole, manifest.to_core_json());
/// # Ok::<(), cairn_manifest::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreJsonOptions {
    local_paths: bool,
    chunk_size: usize,
}

impl Default for CoreJsonOptions {
    fn default() -> Self {
        Self {
            local_paths: true,
            chunk_size: 64 * 1024,
        }
    }
}

impl CoreJsonOptions {
    /// Leaves out every entry's `local_path`: the bytes are exactly those of the same manifest
    /// with each `local_path` set to `None`. Uploaders publish manifests this way, because the
    /// paths they read files from are of no use to readers and the artifact digest does not
    /// cover them.
    #[must_use]
    pub fn without_local_paths(mut self) -> Self {
        self.local_paths = false;
        self
    }

    /// Ends a chunk once it holds at least `bytes` bytes (an entry is never split, so a chunk
    /// may be longer). A size of 0 is taken as 1: one entry per chunk.
    #[must_use]
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }
}

/// The `wandb-core` bytes of a manifest in chunks, from [`Manifest::core_json_chunks`].
///
/// Only one chunk is in memory at a time, so a manifest of millions of entries can be written
/// or sent without holding its whole text.
#[derive(Debug, Clone)]
pub struct CoreJsonChunks<'a> {
    manifest: &'a Manifest,
    entries: btree_map::Iter<'a, LogicalPath, Entry>,
    options: CoreJsonOptions,
    state: ChunkState,
}

/// How far [`CoreJsonChunks`] has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Start,
    FirstEntry,
    LaterEntries,
    Done,
}

impl<'a> CoreJsonChunks<'a> {
    pub(crate) fn new(manifest: &'a Manifest, options: CoreJsonOptions) -> Self {
        Self {
            manifest,
            entries: manifest.entry_map().iter(),
            options,
            state: ChunkState::Start,
        }
    }
}

impl Iterator for CoreJsonChunks<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if self.state == ChunkState::Done {
            return None;
        }
        // Entries are a few hundred bytes, so a chunk rarely grows past this capacity.
        let mut out = String::with_capacity(self.options.chunk_size.min(1024 * 1024) + 512);
        if self.state == ChunkState::Start {
            write_header(&mut out, self.manifest);
            self.state = ChunkState::FirstEntry;
        }
        while out.len() < self.options.chunk_size {
            let Some((path, entry)) = self.entries.next() else {
                out.push_str("}}");
                self.state = ChunkState::Done;
                break;
            };
            if self.state == ChunkState::LaterEntries {
                out.push(',');
            }
            self.state = ChunkState::LaterEntries;
            write_go_string(&mut out, path.as_str());
            out.push(':');
            write_entry(&mut out, entry, self.options.local_paths);
        }
        Some(out)
    }
}

impl std::iter::FusedIterator for CoreJsonChunks<'_> {}

/// Writes the manifest as `wandb-core` does, in one string; no trailing newline.
pub(crate) fn write_core_manifest(manifest: &Manifest) -> String {
    CoreJsonChunks::new(manifest, CoreJsonOptions::default()).collect()
}

/// Everything before the first entry.
fn write_header(out: &mut String, manifest: &Manifest) {
    out.push_str("{\"version\":");
    out.push_str(&MANIFEST_VERSION.to_string());
    out.push_str(",\"storagePolicy\":");
    write_go_string(out, STORAGE_POLICY);
    // The core always uploads layout V2, whatever the Python side said.
    out.push_str(",\"storagePolicyConfig\":{\"storageLayout\":\"V2\"");
    if let Some(region) = &manifest.storage_policy_config().storage_region {
        out.push_str(",\"storageRegion\":");
        write_go_string(out, region);
    }
    out.push_str("},\"contents\":{");
}

/// Field order and omission rules of the core's entry struct; `local_path` only when
/// `local_paths` is set.
fn write_entry(out: &mut String, entry: &Entry, local_paths: bool) {
    out.push_str("{\"digest\":");
    write_go_string(out, &entry.digest);
    if let Some(reference) = non_empty(entry.reference.as_deref()) {
        out.push_str(",\"ref\":");
        write_go_string(out, reference);
    }
    out.push_str(",\"size\":");
    out.push_str(&entry.size.unwrap_or(0).to_string());
    if let Some(local_path) = non_empty(entry.local_path.as_deref()).filter(|_| local_paths) {
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
