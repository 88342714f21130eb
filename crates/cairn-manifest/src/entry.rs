//! One manifest entry: what a logical path points at.
//!
//! An entry is either a *file entry* (content uploaded to the artifact store, `ref` absent) or a
//! *reference entry* (external data named by the URI in `ref`). The logical path is not part of
//! the entry: it is the key under which the manifest stores it.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::digest::DigestAlgorithm;

/// One entry of a manifest (FORMAT.md §2.1).
///
/// The fields are public because the entry is plain data; invariants that span entries (unique
/// paths, the same-path rule) are kept by [`crate::Manifest`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    /// For file entries, the base64 MD5 or XXH128 of the content; for references, whatever the
    /// reference handler chose (an ETag, the URI itself, a content hash).
    pub digest: String,
    /// The URI of a reference entry (JSON key `ref`); `None` for file entries.
    pub reference: Option<String>,
    /// The artifact version whose upload first stored this content (JSON key
    /// `birthArtifactID`); set by the uploader, absent on drafts.
    pub birth_artifact_id: Option<String>,
    /// Size in bytes; references may not know it. `Some(0)` is a real size and is kept.
    pub size: Option<u64>,
    /// Scheme-specific extras such as `etag`, `versionID` and `alg`, in insertion order.
    pub extra: Extras,
    /// The absolute path the uploader read the file from; only `wandb-core` manifests have it.
    pub local_path: Option<String>,
    /// Whether the uploader should keep the file out of its cache; only `wandb-core` manifests
    /// have it.
    pub skip_cache: bool,
}

impl Entry {
    /// A file entry with an MD5 digest (or any digest whose algorithm needs no `alg` tag).
    pub fn file(digest: impl Into<String>, size: u64) -> Self {
        Self {
            digest: digest.into(),
            size: Some(size),
            ..Self::default()
        }
    }

    /// A file entry hashed with `algorithm`; XXH128 entries get `extra.alg = "XXH128"` as the
    /// SDK writes them (FORMAT.md §3.2).
    pub fn file_with_algorithm(
        algorithm: DigestAlgorithm,
        digest: impl Into<String>,
        size: u64,
    ) -> Self {
        let mut entry = Self::file(digest, size);
        if let Some(alg) = algorithm.entry_alg() {
            entry
                .extra
                .insert("alg".to_owned(), Value::String(alg.to_owned()));
        }
        entry
    }

    /// A reference entry pointing at `uri`.
    pub fn reference(uri: impl Into<String>, digest: impl Into<String>, size: Option<u64>) -> Self {
        Self {
            digest: digest.into(),
            reference: Some(uri.into()),
            size,
            ..Self::default()
        }
    }

    /// Whether this entry points at external data rather than uploaded content.
    pub fn is_reference(&self) -> bool {
        self.reference.is_some()
    }

    /// The algorithm a file entry's digest was computed with: XXH128 when `extra.alg` says
    /// `XXH128`, otherwise MD5 (also for unknown `alg` values, as the SDK does).
    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        match self.extra.get("alg").and_then(Value::as_str) {
            Some("XXH128") => DigestAlgorithm::Xxh128,
            _ => DigestAlgorithm::Md5,
        }
    }

    /// The entry as the SDK's `to_manifest_json()` writes it: `digest`, `ref`,
    /// `birthArtifactID`, `size`, `extra`, in that order, each only when set.
    pub(crate) fn to_python_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("digest".to_owned(), Value::String(self.digest.clone()));
        if let Some(reference) = &self.reference {
            object.insert("ref".to_owned(), Value::String(reference.clone()));
        }
        if let Some(birth) = &self.birth_artifact_id {
            object.insert("birthArtifactID".to_owned(), Value::String(birth.clone()));
        }
        if let Some(size) = self.size {
            object.insert("size".to_owned(), Value::from(size));
        }
        if !self.extra.is_empty() {
            object.insert("extra".to_owned(), Value::Object(self.extra.to_map()));
        }
        Value::Object(object)
    }
}

/// An entry's `extra` object: scheme-specific extras such as `etag`, `versionID` and `alg`, in
/// insertion order. It reads and writes as the JSON object it is (it dereferences to a
/// [`Map`]).
///
/// Nearly every file entry has no extras, so an empty `Extras` is one null pointer rather than
/// an empty map: that is 64 bytes less per entry, 32 MB at 500,000 entries. Writing through it
/// makes the map.
///
/// ```
/// use cairn_manifest::Extras;
///
/// let mut extra = Extras::default();
/// assert!(extra.is_empty());
/// extra.insert("etag".to_owned(), "abc".into());
/// assert_eq!(extra["etag"], "abc");
/// assert_eq!(extra, [("etag".to_owned(), "abc".into())].into_iter().collect());
/// ```
#[derive(Clone, Default)]
pub struct Extras(Option<Box<Map<String, Value>>>);

impl Extras {
    /// A copy of the extras as a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        (**self).clone()
    }

    /// The extras as a JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0.map(|map| *map).unwrap_or_default()
    }
}

impl Deref for Extras {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Map<String, Value> {
        static EMPTY: OnceLock<Map<String, Value>> = OnceLock::new();
        match &self.0 {
            Some(map) => map,
            None => EMPTY.get_or_init(Map::new),
        }
    }
}

impl DerefMut for Extras {
    fn deref_mut(&mut self) -> &mut Map<String, Value> {
        self.0.get_or_insert_with(Box::default)
    }
}

/// Extras are equal when their objects are: no map and an empty map are the same.
impl PartialEq for Extras {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Extras {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, formatter)
    }
}

impl From<Map<String, Value>> for Extras {
    fn from(map: Map<String, Value>) -> Self {
        Self((!map.is_empty()).then(|| Box::new(map)))
    }
}

impl FromIterator<(String, Value)> for Extras {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(items: I) -> Self {
        Self::from(items.into_iter().collect::<Map<String, Value>>())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Entry, Extras};
    use crate::DigestAlgorithm;

    fn check(entry: &Entry, expect: &serde_json::Value) {
        let actual = entry.to_python_value();
        assert_eq!(
            serde_json::to_string(&actual).ok(),
            serde_json::to_string(expect).ok()
        );
    }

    #[test]
    fn python_shape() {
        check(&Entry::file("d", 0), &json!({"digest": "d", "size": 0}));
        check(
            &Entry::reference("s3://b/k", "s3://b/k", None),
            &json!({"digest": "s3://b/k", "ref": "s3://b/k"}),
        );
        let mut entry = Entry::file_with_algorithm(DigestAlgorithm::Xxh128, "x", 5);
        entry.birth_artifact_id = Some("QXJ0aWZhY3Q6MQ==".to_owned());
        entry.local_path = Some("/tmp/x".to_owned());
        entry.skip_cache = true;
        check(
            &entry,
            &json!({"digest": "x", "birthArtifactID": "QXJ0aWZhY3Q6MQ==", "size": 5, "extra": {"alg": "XXH128"}}),
        );
    }

    #[test]
    fn kinds_and_algorithms() {
        assert!(!Entry::file("d", 1).is_reference());
        assert!(Entry::reference("u", "d", Some(1)).is_reference());
        assert_eq!(Entry::file("d", 1).digest_algorithm(), DigestAlgorithm::Md5);
        assert_eq!(
            Entry::file_with_algorithm(DigestAlgorithm::Xxh128, "d", 1).digest_algorithm(),
            DigestAlgorithm::Xxh128
        );
        let mut unknown = Entry::file("d", 1);
        unknown.extra.insert("alg".to_owned(), "SHA1".into());
        assert_eq!(unknown.digest_algorithm(), DigestAlgorithm::Md5);
    }

    #[test]
    fn extras_without_a_map_equal_an_empty_one_and_stay_small() {
        let mut written = Extras::default();
        written.insert("etag".to_owned(), "e".into());
        written.shift_remove("etag");
        assert_eq!(written, Extras::default());
        assert_eq!(Extras::from(serde_json::Map::new()), Extras::default());
        assert_eq!(std::mem::size_of::<Extras>(), std::mem::size_of::<usize>());
        assert!(
            std::mem::size_of::<Entry>() <= 128,
            "{}",
            std::mem::size_of::<Entry>()
        );
    }
}
