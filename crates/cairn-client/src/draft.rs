//! Incremental versions: a draft that starts from a committed version's manifest (the SDK's
//! `new_draft`), changed with the usual `add_*` and `remove` calls, and logged as the next
//! version of the same collection.
//!
//! The entries carried over from the base are copied exactly — digest, size, reference, extras
//! and `birthArtifactID` — and have no local file: they are neither hashed nor uploaded again
//! (the server's deduplication lets a caller reuse content of a committed version it can read),
//! and their files need not exist on this machine. Entries of the base without a
//! `birthArtifactID` were born in the base itself (the server gives an entry without one the id
//! of the version that uploaded it), so the draft records the base's id for them.

use std::sync::Arc;

use cairn_api::{Version, VersionState};
use cairn_manifest::{Entry, LogicalPath, Manifest};

use crate::{Api, Artifact, Client, Error, LoggedArtifact, Result};

/// The committed version a draft started from, and the draft's first manifest (the base's
/// entries with their birth ids filled in, see [`draft_manifest`]).
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub(crate) version: Version,
    pub(crate) manifest: Arc<Manifest>,
}

/// How a draft differs from the version it started from ([`Artifact::changes`]).
///
/// Every path of the draft is in exactly one of `added`, `replaced` and the kept ones; every
/// path of the base is in exactly one of `replaced`, `removed` and the kept ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Paths the base does not have, sorted.
    pub added: Vec<LogicalPath>,
    /// Paths of the base whose entry now has another digest, reference or size, sorted.
    pub replaced: Vec<LogicalPath>,
    /// Paths of the base the draft no longer has, sorted.
    pub removed: Vec<LogicalPath>,
    /// How many entries are carried over unchanged.
    pub kept: usize,
}

impl Changes {
    /// Whether the draft has the base's content exactly.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.replaced.is_empty() && self.removed.is_empty()
    }
}

/// Whether `new` records the same content as `old` (what the artifact digest and a download see;
/// `birthArtifactID`, `local_path` and `skip_cache` are bookkeeping).
fn same_content(old: &Entry, new: &Entry) -> bool {
    old.digest == new.digest
        && old.reference == new.reference
        && old.size == new.size
        && old.extra == new.extra
}

/// The manifest a draft starts with: the base's entries with their digests, sizes, references
/// and extras unchanged, no local file, and a `birthArtifactID` on every file entry (the base's
/// own, or `base_id` for content the base itself uploaded).
pub(crate) fn draft_manifest(base: &Manifest, base_id: &str) -> Result<Manifest> {
    let mut draft = Manifest::with_storage_policy_config(base.storage_policy_config().clone());
    let entries = base.entries().map(|(path, entry)| {
        let mut entry = entry.clone();
        entry.local_path = None;
        entry.skip_cache = false;
        if !entry.is_reference() && entry.birth_artifact_id.is_none() {
            entry.birth_artifact_id = Some(base_id.to_owned());
        }
        (path.clone(), entry)
    });
    draft.add_all(entries, false)?;
    Ok(draft)
}

/// Carries the base's `birthArtifactID` over to an entry added again with the same content at
/// the same path: the content is unchanged, so it keeps where it was born.
pub(crate) fn keep_birth(base: &Manifest, path: &LogicalPath, entry: &mut Entry) {
    if entry.birth_artifact_id.is_some() {
        return;
    }
    if let Some(old) = base.get(path.as_str())
        && same_content(old, entry)
    {
        entry.birth_artifact_id.clone_from(&old.birth_artifact_id);
    }
}

/// How `draft` differs from `base`.
pub(crate) fn diff(base: &Manifest, draft: &Manifest) -> Changes {
    let mut changes = Changes::default();
    for (path, entry) in draft.entries() {
        match base.get(path.as_str()) {
            None => changes.added.push(path.clone()),
            Some(old) if same_content(old, entry) => changes.kept += 1,
            Some(_) => changes.replaced.push(path.clone()),
        }
    }
    changes.removed = base
        .entries()
        .filter(|(path, _)| draft.get(path.as_str()).is_none())
        .map(|(path, _)| path.clone())
        .collect();
    changes
}

impl LoggedArtifact {
    /// A new draft of this version's collection that starts with this version's entries (the
    /// SDK's `Artifact.new_draft()`): same name, type, description and metadata. Change it with
    /// the `add_*` methods and [`Artifact::remove`], then log it with
    /// [`Run::log_artifact`](crate::Run::log_artifact) into this version's project; the new
    /// version is `vN+1`.
    ///
    /// Entries left as they are keep their digest, size and `birthArtifactID` and are neither
    /// hashed nor uploaded again, so their files need not be on this machine. As in the SDK,
    /// adding a path the base already has with other content is refused unless the add asks to
    /// overwrite ([`AddFileOptions::overwrite`](crate::AddFileOptions::overwrite),
    /// [`AddDirOptions::merge`](crate::AddDirOptions::merge)) or the path is removed first.
    ///
    /// Fails with [`Error::BaseNotCommitted`] unless the version is committed.
    ///
    /// ```no_run
    /// use cairn_client::{AddFileOptions, Api, Client, Run, RunOptions};
    ///
    /// # async fn example() -> cairn_client::Result<()> {
    /// let client = Client::from_env()?;
    /// let base = Api::new(client.clone()).artifact("vision/cats:latest").await?;
    /// let mut draft = base.new_draft().await?;
    /// draft.remove("old/")?;
    /// draft.add_file(std::path::Path::new("labels.csv"), &AddFileOptions::default().with_overwrite(true))?;
    /// let run = Run::init(&client, RunOptions::new(&base.version().project)).await?;
    /// let logged = run.log_artifact(&mut draft, &[]).await?;
    /// println!("{} ({} blobs sent)", logged.artifact.qualified_name(), logged.uploaded_blobs);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn new_draft(&self) -> Result<Artifact> {
        let version = self.version();
        if version.state != VersionState::Committed {
            return Err(Error::BaseNotCommitted {
                name: version.qualified_name(),
                state: format!("{:?}", version.state).to_uppercase(),
            });
        }
        let base = self.manifest().await?;
        let manifest = draft_manifest(base, &version.id)?;
        let mut draft = Artifact::new(&version.collection, &version.artifact_type)?
            .with_metadata(serde_json::Value::Object(version.metadata.clone()))?;
        if let Some(description) = &version.description {
            draft = draft.with_description(description.clone());
        }
        draft.start_from(
            Base {
                version: version.clone(),
                manifest: Arc::new(manifest.clone()),
            },
            manifest,
        );
        Ok(draft)
    }
}

impl Artifact {
    /// Looks up the committed version `path` (`[entity/]project/name[:alias|:vN]`, `latest` by
    /// default; the entity defaults to the API key's user) and starts a draft from it: see
    /// [`LoggedArtifact::new_draft`]. An unknown version is [`Error::BaseNotFound`].
    ///
    /// ```no_run
    /// use cairn_client::{Artifact, Client, Run, RunOptions};
    ///
    /// # async fn example() -> cairn_client::Result<()> {
    /// let client = Client::from_env()?;
    /// let mut draft = Artifact::new_draft(&client, "vision/cats:v0").await?;
    /// draft.remove("train/bad.png")?;
    /// draft.new_file("notes.md", b"bad.png removed\n", false)?;
    /// println!("{:?}", draft.changes());
    /// let run = Run::init(&client, RunOptions::new("vision")).await?;
    /// run.log_artifact(&mut draft, &["clean".to_owned()]).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn new_draft(client: &Client, path: &str) -> Result<Self> {
        let base = match Api::new(client.clone()).artifact(path).await {
            Ok(base) => base,
            Err(Error::NotFound { what }) => {
                return Err(Error::BaseNotFound {
                    name: path.to_owned(),
                    detail: what,
                });
            }
            Err(error) => return Err(error),
        };
        base.new_draft().await
    }

    /// The committed version this draft started from, if it was made with
    /// [`new_draft`](Self::new_draft).
    pub fn base(&self) -> Option<&Version> {
        self.base.as_ref().map(|base| &base.version)
    }

    /// How the draft differs from the version it started from; `None` for a draft made with
    /// [`new`](Self::new).
    pub fn changes(&self) -> Option<Changes> {
        self.base
            .as_ref()
            .map(|base| diff(&base.manifest, self.manifest()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn path(text: &str) -> LogicalPath {
        LogicalPath::new(text).unwrap()
    }

    fn base() -> Manifest {
        let mut manifest = Manifest::new();
        manifest
            .add(
                path("a.txt"),
                Entry::file("AAAAAAAAAAAAAAAAAAAAAA==", 1),
                false,
            )
            .unwrap();
        let mut born = Entry::file("BBBBBBBBBBBBBBBBBBBBBB==", 2);
        born.birth_artifact_id = Some("older".to_owned());
        manifest.add(path("dir/b.bin"), born, false).unwrap();
        manifest
            .add(
                path("dir/c.bin"),
                Entry::file("CCCCCCCCCCCCCCCCCCCCCC==", 3),
                false,
            )
            .unwrap();
        manifest
            .add(
                path("ref"),
                Entry::reference("s3://bucket/key", "etag", Some(4)),
                false,
            )
            .unwrap();
        manifest
    }

    #[test]
    fn a_draft_keeps_every_entry_and_records_where_it_was_born() {
        let base = base();
        let draft = draft_manifest(&base, "v0-id").unwrap();
        assert_eq!(draft.digest_preimage(), base.digest_preimage());
        assert_eq!(draft.size(), base.size());
        let birth = |key: &str| draft.get(key).unwrap().birth_artifact_id.clone();
        assert_eq!(birth("a.txt").as_deref(), Some("v0-id"));
        assert_eq!(
            birth("dir/b.bin").as_deref(),
            Some("older"),
            "an older birth id is kept"
        );
        assert_eq!(birth("ref"), None, "references are not uploaded content");
        assert!(diff(&base, &draft).is_empty());
        assert_eq!(diff(&base, &draft).kept, 4);
    }

    #[test]
    fn a_local_path_of_the_base_is_dropped() {
        let mut base = Manifest::new();
        let mut entry = Entry::file("AAAAAAAAAAAAAAAAAAAAAA==", 1);
        entry.local_path = Some("/somewhere/else/a.txt".to_owned());
        entry.skip_cache = true;
        base.add(path("a.txt"), entry, false).unwrap();
        let draft = draft_manifest(&base, "id").unwrap();
        let kept = draft.get("a.txt").unwrap();
        assert_eq!((kept.local_path.as_deref(), kept.skip_cache), (None, false));
    }

    #[test]
    fn add_remove_and_replace_are_reported() {
        let base = base();
        let mut draft = draft_manifest(&base, "v0").unwrap();
        draft.remove("dir/c.bin").unwrap();
        draft
            .add(
                path("a.txt"),
                Entry::file("ZZZZZZZZZZZZZZZZZZZZZZ==", 9),
                true,
            )
            .unwrap();
        draft
            .add(
                path("new.txt"),
                Entry::file("NNNNNNNNNNNNNNNNNNNNNN==", 5),
                false,
            )
            .unwrap();
        let changes = diff(&base, &draft);
        assert_eq!(changes.added, vec![path("new.txt")]);
        assert_eq!(changes.replaced, vec![path("a.txt")]);
        assert_eq!(changes.removed, vec![path("dir/c.bin")]);
        assert_eq!(changes.kept, 2);
        // The kept entries are the base's, byte for byte.
        assert_eq!(
            draft.get("dir/b.bin").unwrap(),
            base.get("dir/b.bin").unwrap()
        );
    }

    #[test]
    fn re_adding_the_same_content_keeps_the_birth_id() {
        let base = draft_manifest(&base(), "v0").unwrap();
        let mut same = Entry::file("BBBBBBBBBBBBBBBBBBBBBB==", 2);
        same.local_path = Some("b.bin".to_owned());
        keep_birth(&base, &path("dir/b.bin"), &mut same);
        assert_eq!(same.birth_artifact_id.as_deref(), Some("older"));
        let mut other = Entry::file("XXXXXXXXXXXXXXXXXXXXXX==", 2);
        keep_birth(&base, &path("dir/b.bin"), &mut other);
        assert_eq!(other.birth_artifact_id, None, "new content is born anew");
        let mut elsewhere = Entry::file("BBBBBBBBBBBBBBBBBBBBBB==", 2);
        keep_birth(&base, &path("moved.bin"), &mut elsewhere);
        assert_eq!(elsewhere.birth_artifact_id, None);
    }

    /// Small manifests over a few paths and contents, so adds, removes and replacements collide.
    fn manifests() -> impl Strategy<Value = BTreeMap<String, u8>> {
        prop::collection::btree_map(
            prop::sample::select(vec!["a", "b", "d/x", "d/y", "d/e/z", "f"])
                .prop_map(str::to_owned),
            0u8..4,
            0..6,
        )
    }

    fn build(contents: &BTreeMap<String, u8>) -> Manifest {
        let mut manifest = Manifest::new();
        for (key, content) in contents {
            let digest = cairn_hash::md5(&[*content]).to_base64();
            manifest
                .add(path(key), Entry::file(digest, 1), false)
                .unwrap();
        }
        manifest
    }

    proptest! {
        /// Whatever is removed and added, the draft hashes like the same entries built from
        /// scratch (what the SDK computes), the diff partitions both sides, and every entry
        /// carried over is the base's exactly.
        #[test]
        fn a_changed_draft_hashes_like_its_entries(
            base_contents in manifests(),
            removes in prop::collection::vec(prop::sample::select(vec!["a", "d", "d/x", "f", "d/e"]), 0..3),
            adds in manifests(),
        ) {
            let base = build(&base_contents);
            let start = draft_manifest(&base, "base-id").unwrap();
            let mut draft = start.clone();
            let mut expected = base_contents.clone();
            for item in &removes {
                let removed = draft.remove(item);
                let before = expected.len();
                expected.retain(|key, _| key != item && !key.starts_with(&format!("{item}/")));
                prop_assert_eq!(removed.is_ok(), expected.len() < before);
            }
            for (key, content) in &adds {
                let digest = cairn_hash::md5(&[*content]).to_base64();
                let mut entry = Entry::file(digest, 1);
                keep_birth(&start, &path(key), &mut entry);
                draft.add(path(key), entry, true).unwrap();
                expected.insert(key.clone(), *content);
            }
            let scratch = build(&expected);
            prop_assert_eq!(
                draft.digest(cairn_manifest::DigestAlgorithm::Md5),
                scratch.digest(cairn_manifest::DigestAlgorithm::Md5)
            );
            let changes = diff(&base, &draft);
            prop_assert_eq!(changes.added.len() + changes.replaced.len() + changes.kept, draft.len());
            prop_assert_eq!(changes.removed.len() + changes.replaced.len() + changes.kept, base.len());
            for (key, entry) in draft.entries() {
                if let Some(old) = base.get(key.as_str()) && same_content(old, entry) {
                    prop_assert_eq!(entry.birth_artifact_id.as_deref(), Some("base-id"));
                } else {
                    prop_assert_eq!(entry.birth_artifact_id.as_deref(), None);
                }
            }
        }
    }
}
