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

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::entry::{Entry, Extras};
use crate::error::{Error, Result};
use crate::manifest::{MANIFEST_VERSION, Manifest, STORAGE_POLICY, StoragePolicyConfig};
use crate::path::LogicalPath;

/// Why [`read_manifest`] stopped: the manifest is invalid, or the caller's sink failed.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The manifest is malformed; the message is the one [`Manifest::from_json`] gives.
    Manifest(Error),
    /// The sink refused an entry; reading stopped there.
    Sink(E),
}

impl<E: fmt::Display> fmt::Display for ReadError<E> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Manifest(error) => error.fmt(formatter),
            Self::Sink(error) => error.fmt(formatter),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ReadError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Manifest(error) => error.source(),
            Self::Sink(error) => error.source(),
        }
    }
}

impl<E> From<Error> for ReadError<E> {
    fn from(error: Error) -> Self {
        Self::Manifest(error)
    }
}

/// Reads a manifest from `reader` one entry at a time, handing each `(path, entry)` to `sink`
/// in document order, and returns the storage-policy configuration once the whole manifest is
/// known to be valid.
///
/// This is [`Manifest::from_json`] without the manifest: memory stays bounded by the largest
/// single entry, whatever the number of entries, so a server can ingest a manifest of millions
/// of entries straight into a database. The checks and messages are the same. Because
/// `contents` may come before `version` in the document, a problem in the top-level keys is
/// only found at the end: when this returns an error, **discard every entry the sink saw**
/// (roll back the transaction they went into). A key that occurs twice in `contents` reaches
/// the sink twice; as in a JSON object, the later one wins. `contents` itself may occur only
/// once. Wrap a file in a `BufReader`: the reader is read in small pieces.
///
/// ```
/// use cairn_manifest::read_manifest;
///
/// let text = r#"{"contents": {"a.txt": {"digest": "1B2M2Y8AsgTpgAmY7PhCfg==", "size": 0}},
///     "version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {}}"#;
/// let mut paths = Vec::new();
/// read_manifest(text.as_bytes(), |path, entry| {
///     paths.push((path.into_string(), entry.size));
///     Ok::<(), std::convert::Infallible>(())
/// })
/// .map_err(|error| format!("{error:?}"))?;
/// assert_eq!(paths, [("a.txt".to_owned(), Some(0))]);
/// # Ok::<(), String>(())
/// ```
pub fn read_manifest<R, E, F>(reader: R, sink: F) -> Result<StoragePolicyConfig, ReadError<E>>
where
    R: Read,
    F: FnMut(LogicalPath, Entry) -> Result<(), E>,
{
    drive(&mut serde_json::Deserializer::from_reader(reader), sink)
}

/// Parses manifest JSON text.
pub(crate) fn parse_manifest(text: &str) -> Result<Manifest> {
    let mut manifest = Manifest::with_storage_policy_config(StoragePolicyConfig::default());
    let config = drive(
        &mut serde_json::Deserializer::from_str(text),
        |path, entry| {
            manifest.insert_parsed(path, entry);
            Ok::<(), std::convert::Infallible>(())
        },
    )
    .map_err(|error| match error {
        ReadError::Manifest(error) => error,
        ReadError::Sink(never) => match never {},
    })?;
    manifest.set_storage_policy_config(config);
    Ok(manifest)
}

/// What the top-level visitor found; checked in the SDK's order once the document is read.
struct Found<E, F> {
    sink: F,
    version: Option<Value>,
    policy: Option<Value>,
    config: Option<Value>,
    contents: Option<std::result::Result<(), Error>>,
    /// The first bad entry; later entries are only checked for JSON syntax.
    entry_error: Option<Error>,
    /// Why the visitor aborted the parse (a shape error at the top level, or the sink).
    abort: Option<ReadError<E>>,
}

fn drive<'de, R, E, F>(
    deserializer: &mut serde_json::Deserializer<R>,
    sink: F,
) -> Result<StoragePolicyConfig, ReadError<E>>
where
    R: serde_json::de::Read<'de>,
    F: FnMut(LogicalPath, Entry) -> Result<(), E>,
{
    let mut found = Found {
        sink,
        version: None,
        policy: None,
        config: None,
        contents: None,
        entry_error: None,
        abort: None,
    };
    let parsed = de::Deserializer::deserialize_any(&mut *deserializer, TopVisitor(&mut found))
        .and_then(|()| deserializer.end());
    if let Some(abort) = found.abort.take() {
        return Err(abort);
    }
    parsed.map_err(|source| Error::Json { source })?;
    Ok(found.finish()?)
}

impl<E, F> Found<E, F> {
    /// The checks of the SDK's order: version, storage policy, its config, contents, entries,
    /// and the policy's name last.
    fn finish(self) -> Result<StoragePolicyConfig> {
        match &self.version {
            None | Some(Value::Null) => return Err(Error::MissingVersion),
            Some(version) if version.as_u64() == Some(MANIFEST_VERSION) => {}
            Some(_) => return Err(Error::InvalidVersion),
        }
        // The SDK validates the whole shape first and looks the storage policy up afterwards.
        let policy = match self.policy {
            Some(Value::String(name)) => name,
            Some(other) => {
                return Err(invalid(format!(
                    "`storagePolicy` must be a string, not {}",
                    kind(&other)
                )));
            }
            None => return Err(invalid("`storagePolicy` is missing".to_owned())),
        };
        let config = match &self.config {
            Some(Value::Object(config)) => parse_config(config)?,
            Some(other) => {
                return Err(invalid(format!(
                    "`storagePolicyConfig` must be an object, not {}",
                    kind(other)
                )));
            }
            None => return Err(invalid("`storagePolicyConfig` is missing".to_owned())),
        };
        match self.contents {
            None => return Err(invalid("`contents` is missing".to_owned())),
            Some(contents) => contents?,
        }
        if let Some(error) = self.entry_error {
            return Err(error);
        }
        if policy != STORAGE_POLICY {
            return Err(Error::UnknownStoragePolicy { name: policy });
        }
        Ok(config)
    }
}

/// The manifest object: remembers the small top-level values, streams `contents`.
struct TopVisitor<'a, E, F>(&'a mut Found<E, F>);

impl<'a, E, F> TopVisitor<'a, E, F> {
    /// Aborts the parse with a typed error (the JSON error that carries the abort is dropped).
    fn refuse<T, X: de::Error>(self, what: &str) -> std::result::Result<T, X> {
        self.0.abort = Some(ReadError::Manifest(invalid(format!(
            "the manifest must be a JSON object, not {what}"
        ))));
        Err(X::custom("aborted"))
    }
}

impl<'de, E, F> Visitor<'de> for TopVisitor<'_, E, F>
where
    F: FnMut(LogicalPath, Entry) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a manifest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" => self.0.version = Some(map.next_value()?),
                "storagePolicy" => self.0.policy = Some(map.next_value()?),
                "storagePolicyConfig" => self.0.config = Some(map.next_value()?),
                "contents" => {
                    if self.0.contents.is_some() {
                        self.0.abort = Some(ReadError::Manifest(invalid(
                            "`contents` appears twice".to_owned(),
                        )));
                        return Err(de::Error::custom("aborted"));
                    }
                    let contents = map.next_value_seed(ContentsSeed(&mut *self.0))?;
                    self.0.contents = Some(contents);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> std::result::Result<(), A::Error> {
        self.refuse("an array")
    }

    fn visit_bool<X: de::Error>(self, _value: bool) -> std::result::Result<(), X> {
        self.refuse("a boolean")
    }

    fn visit_i64<X: de::Error>(self, _value: i64) -> std::result::Result<(), X> {
        self.refuse("a number")
    }

    fn visit_u64<X: de::Error>(self, _value: u64) -> std::result::Result<(), X> {
        self.refuse("a number")
    }

    fn visit_f64<X: de::Error>(self, _value: f64) -> std::result::Result<(), X> {
        self.refuse("a number")
    }

    fn visit_str<X: de::Error>(self, _value: &str) -> std::result::Result<(), X> {
        self.refuse("a string")
    }

    fn visit_unit<X: de::Error>(self) -> std::result::Result<(), X> {
        self.refuse("null")
    }
}

/// The `contents` value: each entry is checked and handed to the sink as soon as it is read.
/// Its own result is `Err` when `contents` is not an object (reported in the SDK's order).
struct ContentsSeed<'a, E, F>(&'a mut Found<E, F>);

impl<'de, E, F> DeserializeSeed<'de> for ContentsSeed<'_, E, F>
where
    F: FnMut(LogicalPath, Entry) -> Result<(), E>,
{
    type Value = std::result::Result<(), Error>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, E, F> Visitor<'de> for ContentsSeed<'_, E, F>
where
    F: FnMut(LogicalPath, Entry) -> Result<(), E>,
{
    type Value = std::result::Result<(), Error>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("the `contents` object")
    }

    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            if self.0.entry_error.is_some() {
                continue;
            }
            let parsed = LogicalPath::from_manifest_key(&key)
                .and_then(|path| parse_entry(&key, &value).map(|entry| (path, entry)));
            match parsed {
                Ok((path, entry)) => {
                    if let Err(error) = (self.0.sink)(path, entry) {
                        self.0.abort = Some(ReadError::Sink(error));
                        return Err(de::Error::custom("aborted"));
                    }
                }
                Err(error) => self.0.entry_error = Some(error),
            }
        }
        Ok(Ok(()))
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(not_an_object("an array")))
    }

    fn visit_bool<X: de::Error>(self, _value: bool) -> std::result::Result<Self::Value, X> {
        Ok(Err(not_an_object("a boolean")))
    }

    fn visit_i64<X: de::Error>(self, _value: i64) -> std::result::Result<Self::Value, X> {
        Ok(Err(not_an_object("a number")))
    }

    fn visit_u64<X: de::Error>(self, _value: u64) -> std::result::Result<Self::Value, X> {
        Ok(Err(not_an_object("a number")))
    }

    fn visit_f64<X: de::Error>(self, _value: f64) -> std::result::Result<Self::Value, X> {
        Ok(Err(not_an_object("a number")))
    }

    fn visit_str<X: de::Error>(self, _value: &str) -> std::result::Result<Self::Value, X> {
        Ok(Err(not_an_object("a string")))
    }

    fn visit_unit<X: de::Error>(self) -> std::result::Result<Self::Value, X> {
        Ok(Err(not_an_object("null")))
    }
}

fn not_an_object(what: &str) -> Error {
    invalid(format!("`contents` must be an object, not {what}"))
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
        None | Some(Value::Null) => Extras::default(),
        Some(Value::Object(extra)) => Extras::from(extra.clone()),
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
                if i64::try_from(size).is_err() {
                    return Err(Error::SizeTooLarge {
                        path: path.to_owned(),
                        size,
                    });
                }
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
            &manifest("", r#""a": {"digest": "d", "size": 9223372036854775807}"#),
            Ok(
                r#"{"version": 1, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": {}, "contents": {"a": {"digest": "d", "size": 9223372036854775807}}}"#,
            ),
        );
        check(
            &manifest("", r#""a": {"digest": "d", "size": 9223372036854775808}"#),
            Err(
                "entry `a` has size 9223372036854775808, more than the largest possible file (2^63 - 1 bytes); the manifest is corrupt",
            ),
        );
        check(
            &manifest("", r#""a": {"digest": "d", "size": 18446744073709551615}"#),
            Err(
                "entry `a` has size 18446744073709551615, more than the largest possible file (2^63 - 1 bytes); the manifest is corrupt",
            ),
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

    /// The streaming reader gives each entry to the sink in document order, whatever the
    /// order of the top-level keys, and reports problems in the same order as `from_json`.
    #[test]
    fn streaming_reads_entries_in_document_order() {
        let text = r#"{"contents": {"b": {"digest": "2"}, "a": {"digest": "1", "size": 3}},
            "storagePolicyConfig": {"storageLayout": "V2"}, "storagePolicy": "wandb-storage-policy-v1", "version": 1}"#;
        let mut seen = Vec::new();
        let config = crate::read_manifest(text.as_bytes(), |path, entry| {
            seen.push(format!(
                "{}={}:{:?}",
                path.as_str(),
                entry.digest,
                entry.size
            ));
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap();
        assert_eq!(seen, ["b=2:None", "a=1:Some(3)"]);
        assert_eq!(config.storage_layout, Some(crate::StorageLayout::V2));
        // A bad entry before a missing version: the version is reported first, as from_json does.
        let both = r#"{"contents": {"../x": {"digest": "d"}}, "storagePolicy": "p", "storagePolicyConfig": {}}"#;
        let streamed = crate::read_manifest(both.as_bytes(), |_, _| {
            Ok::<(), std::convert::Infallible>(())
        });
        assert!(matches!(
            streamed,
            Err(crate::ReadError::Manifest(Error::MissingVersion))
        ));
        assert!(matches!(
            Manifest::from_json(both),
            Err(Error::MissingVersion)
        ));
        // The sink's error stops the reading and comes back as it is.
        let mut calls = 0;
        let stopped = crate::read_manifest(text.as_bytes(), |_, _| {
            calls += 1;
            Err("full")
        });
        assert!(matches!(stopped, Err(crate::ReadError::Sink("full"))));
        assert_eq!(calls, 1);
        // `contents` twice is refused rather than merged.
        let twice = r#"{"contents": {}, "contents": {}}"#;
        assert_eq!(
            Manifest::from_json(twice).unwrap_err().to_string(),
            "invalid manifest: `contents` appears twice"
        );
        // Trailing garbage and top-level scalars.
        assert!(matches!(
            Manifest::from_json(&format!("{} x", manifest("", ""))),
            Err(Error::Json { .. })
        ));
        check(
            "7",
            Err("invalid manifest: the manifest must be a JSON object, not a number"),
        );
        check(
            "null",
            Err("invalid manifest: the manifest must be a JSON object, not null"),
        );
        check(
            &format!(r#"{{{HEAD}, "storagePolicyConfig": {{}}, "contents": [1, 2]}}"#),
            Err("invalid manifest: `contents` must be an object, not an array"),
        );
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
