//! The manifest: a storage-policy configuration and a sorted map from logical path to entry.
//!
//! Entries live in a `BTreeMap`, so iteration, serialisation and the digest preimage all see
//! them in the byte order of their paths, which equals Python's code-point order. The SDK keeps
//! insertion order instead, but that order is not meaningful (`add_dir` fills it from a thread
//! pool) and the digest sorts anyway.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::core_json::{CoreJsonChunks, CoreJsonOptions};
use crate::digest::{ArtifactDigester, DigestAlgorithm, write_preimage};
use crate::entry::Entry;
use crate::error::{Error, Result};
use crate::path::{LogicalPath, normalize_posix};

/// The only manifest schema version there is.
pub const MANIFEST_VERSION: u64 = 1;

/// The only storage policy the SDK registers.
pub const STORAGE_POLICY: &str = "wandb-storage-policy-v1";

/// Where the W&B server stores uploaded files (`storagePolicyConfig.storageLayout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StorageLayout {
    /// The legacy layout, used when `_WANDB_USE_V1_ARTIFACTS` is set.
    V1,
    /// The current layout, the default for new artifacts.
    V2,
}

impl StorageLayout {
    /// The JSON spelling, `V1` or `V2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "V1",
            Self::V2 => "V2",
        }
    }
}

impl fmt::Display for StorageLayout {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for StorageLayout {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        match input {
            "V1" => Ok(Self::V1),
            "V2" => Ok(Self::V2),
            _ => Err(Error::UnknownStorageLayout {
                input: input.to_owned(),
            }),
        }
    }
}

/// The manifest's `storagePolicyConfig` object.
///
/// Both keys are optional because the SDK round-trips `{}` as `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoragePolicyConfig {
    /// `storageLayout`, `V2` for new artifacts.
    pub storage_layout: Option<StorageLayout>,
    /// `storageRegion`, for example `coreweave-us`.
    pub storage_region: Option<String>,
}

/// A version 1 artifact manifest.
///
/// ```
/// use cairn_manifest::{Entry, LogicalPath, Manifest};
///
/// let mut manifest = Manifest::new();
/// manifest.add(LogicalPath::new("hello.txt")?, Entry::file("b1kCrCNwJL3QwXbLkwY9xA==", 12), false)?;
/// assert_eq!(manifest.size(), 12);
/// assert!(manifest.add(LogicalPath::new("hello.txt")?, Entry::file("other", 1), false).is_err());
/// # Ok::<(), cairn_manifest::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    storage_policy_config: StoragePolicyConfig,
    entries: BTreeMap<LogicalPath, Entry>,
}

impl Manifest {
    /// An empty manifest with `storageLayout: V2`, as the SDK creates for a new artifact.
    pub fn new() -> Self {
        Self::with_storage_policy_config(StoragePolicyConfig {
            storage_layout: Some(StorageLayout::V2),
            storage_region: None,
        })
    }

    /// An empty manifest with the given storage-policy configuration.
    pub fn with_storage_policy_config(storage_policy_config: StoragePolicyConfig) -> Self {
        Self {
            storage_policy_config,
            entries: BTreeMap::new(),
        }
    }

    /// Adds `entry` at `path` following the SDK's same-path rule (FORMAT.md §9.1).
    ///
    /// If an entry already exists at `path` with a *different* digest and `overwrite` is false,
    /// this fails with `Cannot add the same path twice: '<path>'` and changes nothing.
    /// Otherwise the new entry replaces the old one, whatever its kind: a reference with the
    /// same digest silently replaces a file entry and vice versa.
    pub fn add(&mut self, path: LogicalPath, entry: Entry, overwrite: bool) -> Result<()> {
        let conflicts = self
            .entries
            .get(&path)
            .is_some_and(|existing| existing.digest != entry.digest);
        if conflicts && !overwrite {
            return Err(Error::DuplicatePath {
                path: path.into_string(),
            });
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// Adds many entries under the same rule as [`add`](Self::add), all or nothing: if any of
    /// them conflicts, none is added and the error names the first conflict.
    ///
    /// When two entries of the batch share a path, the later one wins unless their digests
    /// differ and `overwrite` is false. Adding to an empty manifest builds it in one pass, which
    /// matters for a directory of 50,000 files.
    ///
    /// ```
    /// use cairn_manifest::{Entry, LogicalPath, Manifest};
    ///
    /// let mut manifest = Manifest::new();
    /// let path = |text: &str| LogicalPath::new(text).unwrap();
    /// manifest.add_all([(path("a"), Entry::file("d1", 1)), (path("b"), Entry::file("d2", 2))], false)?;
    /// let clash = manifest.add_all([(path("c"), Entry::file("d3", 3)), (path("a"), Entry::file("dX", 1))], false);
    /// assert_eq!(clash.unwrap_err().to_string(), "Cannot add the same path twice: 'a'");
    /// assert_eq!(manifest.len(), 2, "`c` was not added either");
    /// # Ok::<(), cairn_manifest::Error>(())
    /// ```
    pub fn add_all(
        &mut self,
        entries: impl IntoIterator<Item = (LogicalPath, Entry)>,
        overwrite: bool,
    ) -> Result<()> {
        let mut entries: Vec<(LogicalPath, Entry)> = entries.into_iter().collect();
        // A stable sort keeps the batch order among equal paths, so "the later one wins" holds.
        // Entries listed by a directory walk mostly come sorted; the check spares the sort's
        // buffer of half the batch.
        if !entries.is_sorted_by(|(a, _), (b, _)| a <= b) {
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
        }
        if !overwrite {
            let within_batch = entries
                .windows(2)
                .find(|pair| pair[0].0 == pair[1].0 && pair[0].1.digest != pair[1].1.digest)
                .map(|pair| &pair[1].0);
            let with_existing = || {
                entries.iter().find_map(|(path, entry)| {
                    let existing = self.entries.get(path)?;
                    (existing.digest != entry.digest).then_some(path)
                })
            };
            if let Some(path) = within_batch.or_else(with_existing) {
                return Err(Error::DuplicatePath {
                    path: path.as_str().to_owned(),
                });
            }
        }
        if self.entries.is_empty() {
            self.entries = build_tree(entries);
        } else {
            self.entries.extend(entries);
        }
        Ok(())
    }

    /// Removes an entry or a directory of entries, as the SDK's `Artifact.remove` does.
    ///
    /// `item` is normalised like a logical path (so a trailing `/` is ignored). If an entry has
    /// exactly that path it alone is removed; otherwise every entry under `<item>/` is. The
    /// removed paths are returned in order; if nothing matched, the error is
    /// `No such file or directory: <item>`.
    pub fn remove(&mut self, item: &str) -> Result<Vec<LogicalPath>> {
        let path = normalize_posix(item);
        if let Some((removed, _)) = self.entries.remove_entry(path.as_str()) {
            return Ok(vec![removed]);
        }
        let prefix = format!("{path}/");
        let matched: Vec<LogicalPath> = self
            .entries
            .keys()
            .filter(|key| key.as_str().starts_with(&prefix))
            .cloned()
            .collect();
        if matched.is_empty() {
            return Err(Error::NotFound { item: path });
        }
        for key in &matched {
            self.entries.remove(key);
        }
        Ok(matched)
    }

    /// The entry at exactly `path` (no normalisation is applied).
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Every entry, sorted by path.
    pub fn entries(&self) -> impl Iterator<Item = (&LogicalPath, &Entry)> {
        self.entries.iter()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the manifest has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sum of all entry sizes, references included; a missing size counts as 0.
    pub fn size(&self) -> u64 {
        self.entries
            .values()
            .filter_map(|entry| entry.size)
            .fold(0, u64::saturating_add)
    }

    /// The exact text the artifact digest hashes (FORMAT.md §3.3).
    pub fn digest_preimage(&self) -> String {
        write_preimage(
            self.entries
                .iter()
                .map(|(path, entry)| (path.as_str(), entry.digest.as_str())),
        )
    }

    /// The artifact digest under `algorithm`, lowercase hex.
    pub fn digest(&self, algorithm: DigestAlgorithm) -> String {
        let mut digester = ArtifactDigester::new(algorithm);
        for (path, entry) in &self.entries {
            digester.push(path.as_str(), &entry.digest);
        }
        digester.finish()
    }

    /// The `storagePolicyConfig` object.
    pub fn storage_policy_config(&self) -> &StoragePolicyConfig {
        &self.storage_policy_config
    }

    /// Replaces the `storagePolicyConfig` object.
    pub fn set_storage_policy_config(&mut self, config: StoragePolicyConfig) {
        self.storage_policy_config = config;
    }

    /// The manifest as the SDK's `to_manifest_json()` returns it (FORMAT.md §2.2).
    ///
    /// Keys come in the SDK's order (`version`, `storagePolicy`, `storagePolicyConfig`,
    /// `contents`); entries are sorted by path; `local_path` and `skip_cache` are left out.
    pub fn to_python_value(&self) -> Value {
        let mut config = Map::new();
        if let Some(layout) = self.storage_policy_config.storage_layout {
            config.insert(
                "storageLayout".to_owned(),
                Value::String(layout.as_str().to_owned()),
            );
        }
        if let Some(region) = &self.storage_policy_config.storage_region {
            config.insert("storageRegion".to_owned(), Value::String(region.clone()));
        }
        let contents: Map<String, Value> = self
            .entries
            .iter()
            .map(|(path, entry)| (path.as_str().to_owned(), entry.to_python_value()))
            .collect();
        let mut object = Map::new();
        object.insert("version".to_owned(), Value::from(MANIFEST_VERSION));
        object.insert(
            "storagePolicy".to_owned(),
            Value::String(STORAGE_POLICY.to_owned()),
        );
        object.insert("storagePolicyConfig".to_owned(), Value::Object(config));
        object.insert("contents".to_owned(), Value::Object(contents));
        Value::Object(object)
    }

    /// What Python's `json.dumps(artifact.manifest.to_manifest_json())` prints.
    pub fn to_python_json(&self) -> String {
        crate::python_json::write_python_manifest(self)
    }

    /// The exact `wandb_manifest.json` bytes `wandb-core` uploads for this manifest (§2.3).
    pub fn to_core_json(&self) -> String {
        crate::core_json::write_core_manifest(self)
    }

    /// The same bytes as [`to_core_json`](Self::to_core_json), as an iterator of chunks of
    /// about `options`' chunk size, optionally without `local_path`s: for a manifest too large
    /// to hold twice, written or sent a chunk at a time.
    ///
    /// ```
    /// use cairn_manifest::{CoreJsonOptions, Entry, LogicalPath, Manifest};
    ///
    /// let mut manifest = Manifest::new();
    /// for index in 0..1000 {
    ///     manifest.add(LogicalPath::new(&format!("f{index}"))?, Entry::file("d", 1), false)?;
    /// }
    /// let chunks: Vec<String> =
    ///     manifest.core_json_chunks(CoreJsonOptions::default().with_chunk_size(4096)).collect();
    /// assert!(chunks.len() > 1);
    /// assert_eq!(chunks.concat(), manifest.to_core_json());
    /// # Ok::<(), cairn_manifest::Error>(())
    /// ```
    pub fn core_json_chunks(&self, options: CoreJsonOptions) -> CoreJsonChunks<'_> {
        CoreJsonChunks::new(self, options)
    }

    /// The entries, for writers that keep an iterator over them.
    pub(crate) fn entry_map(&self) -> &BTreeMap<LogicalPath, Entry> {
        &self.entries
    }

    /// Parses either serialisation; see [`crate`] for the rules.
    pub fn from_json(text: &str) -> Result<Self> {
        crate::parse::parse_manifest(text)
    }

    /// Inserts a parsed entry; keys of a JSON object are unique, so no same-path rule applies.
    pub(crate) fn insert_parsed(&mut self, path: LogicalPath, entry: Entry) {
        self.entries.insert(path, entry);
    }
}

/// Entries per step of [`build_tree`], at least.
const MIN_BUILD_STEP: usize = 16 * 1024;

/// The map of `entries` (sorted by path; of equal paths the later wins), bulk-loaded a slice at
/// a time from the end of the vector, which gives its memory back as the map grows.
///
/// `collect` of the whole vector bulk-loads the tree in one go, but holds every entry twice
/// until it ends, in the vector and in the tree: at 500,000 entries some 110 MB more, the peak
/// of a large `add_dir`. Here each slice becomes a small tree that is merged with the tree so
/// far (`append` moves both into full new nodes and frees the old ones as it goes). With at
/// most eight slices the merges move each entry about four times more, which costs little
/// next to hashing the files.
fn build_tree(mut entries: Vec<(LogicalPath, Entry)>) -> BTreeMap<LogicalPath, Entry> {
    let step = (entries.len() / 8).max(MIN_BUILD_STEP);
    let mut tree = BTreeMap::new();
    while !entries.is_empty() {
        let start = entries.len().saturating_sub(step);
        let mut earlier: BTreeMap<LogicalPath, Entry> = entries.drain(start..).collect();
        entries.shrink_to_fit();
        // `tree` holds later entries: on an equal path they replace those of `earlier`.
        earlier.append(&mut tree);
        tree = earlier;
    }
    tree
}

impl Default for Manifest {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Manifest;
    use crate::{Entry, LogicalPath};

    fn manifest(paths: &[&str]) -> Manifest {
        let mut manifest = Manifest::new();
        for path in paths {
            manifest
                .add(
                    LogicalPath::new(path).unwrap(),
                    Entry::file(format!("d-{path}"), 1),
                    false,
                )
                .unwrap();
        }
        manifest
    }

    fn check_remove(paths: &[&str], item: &str, expect: Result<&[&str], &str>) {
        let mut manifest = manifest(paths);
        let actual = manifest.remove(item).map_err(|error| error.to_string());
        let actual: Result<Vec<&str>, String> = actual
            .as_ref()
            .map(|removed| removed.iter().map(LogicalPath::as_str).collect())
            .map_err(Clone::clone);
        assert_eq!(
            actual,
            expect.map(<[&str]>::to_vec).map_err(str::to_owned),
            "remove {item:?}"
        );
    }

    #[test]
    fn remove() {
        let paths = ["a.txt", "dir/x", "dir/sub/y", "dirt/z", "dir with space/w"];
        check_remove(&paths, "a.txt", Ok(&["a.txt"]));
        check_remove(&paths, "dir", Ok(&["dir/sub/y", "dir/x"]));
        check_remove(&paths, "dir/", Ok(&["dir/sub/y", "dir/x"]));
        check_remove(&paths, "./dir/sub", Ok(&["dir/sub/y"]));
        check_remove(&paths, "dir with space/", Ok(&["dir with space/w"]));
        check_remove(&paths, "di", Err("No such file or directory: di"));
        check_remove(
            &paths,
            "missing/",
            Err("No such file or directory: missing"),
        );
    }

    #[test]
    fn same_path_rule() {
        let path = LogicalPath::new("same.txt").unwrap();
        let mut manifest = Manifest::new();
        manifest
            .add(path.clone(), Entry::file("one", 1), false)
            .unwrap();
        // Same digest: replaced silently, even by a reference.
        manifest
            .add(
                path.clone(),
                Entry::reference("file:///x", "one", Some(9)),
                false,
            )
            .unwrap();
        assert_eq!(
            manifest.get("same.txt").and_then(|entry| entry.size),
            Some(9)
        );
        // Different digest: refused without overwrite, nothing changes.
        let error = manifest
            .add(path.clone(), Entry::file("two", 2), false)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Cannot add the same path twice: 'same.txt'"
        );
        assert_eq!(
            manifest.get("same.txt").map(|entry| entry.digest.as_str()),
            Some("one")
        );
        manifest.add(path, Entry::file("two", 2), true).unwrap();
        assert_eq!(
            manifest.get("same.txt").map(|entry| entry.digest.as_str()),
            Some("two")
        );
        assert_eq!(manifest.len(), 1);
    }

    /// Past one step of `build_tree`, with equal paths across the boundaries of its slices:
    /// the same manifest as adding one entry at a time.
    #[test]
    fn a_large_batch_is_the_same_as_adding_one_at_a_time() {
        let count = 3 * super::MIN_BUILD_STEP + 5;
        // Each path three times in a row (sizes tell them apart), so that some triple straddles
        // the end of a slice.
        let sorted: Vec<(LogicalPath, Entry)> = (0..count)
            .flat_map(|index| {
                let path = LogicalPath::new(&format!("f{index:06}")).unwrap();
                (0..3).map(move |copy| (path.clone(), Entry::file("d", copy)))
            })
            .collect();
        let reversed: Vec<_> = sorted.iter().rev().cloned().collect();
        for batch in [sorted, reversed] {
            let mut sequential = Manifest::new();
            for (path, entry) in batch.clone() {
                sequential.add(path, entry, false).unwrap();
            }
            let mut bulk = Manifest::new();
            bulk.add_all(batch, false).unwrap();
            assert_eq!(bulk.len(), count);
            assert!(bulk == sequential);
        }
    }

    #[test]
    fn size_saturates_and_skips_missing() {
        let mut manifest = manifest(&["a"]);
        manifest
            .add(
                LogicalPath::new("b").unwrap(),
                Entry::file("x", u64::MAX),
                false,
            )
            .unwrap();
        manifest
            .add(
                LogicalPath::new("c").unwrap(),
                Entry::reference("u", "u", None),
                false,
            )
            .unwrap();
        assert_eq!(manifest.size(), u64::MAX);
        assert!(!manifest.is_empty());
    }
}

#[cfg(test)]
mod add_all_tests {
    use proptest::prelude::*;

    use super::*;

    fn entries() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::vec(("[abc]{1,2}", "[xy]"), 0..8)
    }

    proptest! {
        /// `add_all` behaves like adding one entry at a time, except that a conflict anywhere
        /// leaves the manifest exactly as it was.
        #[test]
        fn add_all_is_sequential_add_or_nothing(existing in entries(), batch in entries(), overwrite: bool) {
            let entry = |(path, digest): &(String, String)| (LogicalPath::new(path).unwrap(), Entry::file(digest.clone(), 1));
            let mut start = Manifest::new();
            for item in &existing {
                let (path, entry) = entry(item);
                start.add(path, entry, true).unwrap();
            }
            let mut sequential = start.clone();
            let sequential_result = batch.iter().try_for_each(|item| {
                let (path, entry) = entry(item);
                sequential.add(path, entry, overwrite)
            });
            let mut bulk = start.clone();
            let bulk_result = bulk.add_all(batch.iter().map(entry), overwrite);
            prop_assert_eq!(sequential_result.is_ok(), bulk_result.is_ok());
            if bulk_result.is_ok() {
                prop_assert_eq!(bulk, sequential);
            } else {
                prop_assert_eq!(bulk, start);
            }
        }
    }
}
