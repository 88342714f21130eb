//! [`LoggedArtifact`]: a committed version and its manifest, with the edits that can still be
//! made to it (description, metadata, aliases, tags); and [`Api`], the way to find one.

use std::sync::Arc;

use cairn_api::{
    ArtifactPath, CreateLink, LinkList, ParseArtifactPathError, PortfolioPath, ProtectedAliases,
    UpdateProtectedAliases, UpdateVersion, Version, VersionSource, routes,
};
use cairn_manifest::{DigestAlgorithm, Manifest};
use reqwest::Method;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::artifact::entry_of;
use crate::{ArtifactEntry, Client, Error, Result};

/// A logged (committed) artifact version.
///
/// The manifest is fetched once, on first use, and checked against the version's digest. Edits
/// ([`set_description`](Self::set_description), [`add_alias`](Self::add_alias), ...) are kept
/// locally until [`save`](Self::save) sends them in one request.
#[derive(Debug, Clone)]
pub struct LoggedArtifact {
    pub(crate) client: Client,
    version: Version,
    manifest: Arc<OnceCell<Manifest>>,
    edits: Edits,
}

/// Unsaved edits.
#[derive(Debug, Clone, Default, PartialEq)]
struct Edits {
    ttl: Option<cairn_api::TtlSetting>,
    description: Option<Option<String>>,
    metadata: Option<Map<String, Value>>,
    add_aliases: Vec<String>,
    remove_aliases: Vec<String>,
    add_tags: Vec<String>,
    remove_tags: Vec<String>,
}

impl LoggedArtifact {
    pub(crate) fn new(client: Client, version: Version) -> Self {
        Self {
            client,
            version,
            manifest: Arc::new(OnceCell::new()),
            edits: Edits::default(),
        }
    }

    /// The manifest cell: filled once the manifest was fetched, empty before. A download
    /// streams a manifest that is not loaded yet instead of loading it.
    pub(crate) fn manifest_cell(&self) -> &Arc<OnceCell<Manifest>> {
        &self.manifest
    }

    /// Looks up `path` (entity and project must be filled in).
    pub(crate) async fn resolve(client: &Client, path: &ArtifactPath) -> Result<Self> {
        let (Some(entity), Some(project)) = (&path.entity, &path.project) else {
            return Err(ParseArtifactPathError {
                input: path.to_string(),
                reason: "it names no project",
            }
            .into());
        };
        let route = routes::version_by_name(entity, project, &path.name, path.selector());
        let version = client.get_json(&route).await?;
        Ok(Self::new(client.clone(), version))
    }

    /// The version as the server last described it.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// `entity/project/name:vN`.
    pub fn qualified_name(&self) -> String {
        self.version.qualified_name()
    }

    /// `name:vN`, as the SDK names a logged artifact.
    pub fn name(&self) -> String {
        let selector = self
            .version
            .version_name()
            .unwrap_or_else(|| self.version.id.clone());
        format!("{}:{selector}", self.version.collection)
    }

    /// The manifest, fetched on first use and checked against the version's digest.
    pub async fn manifest(&self) -> Result<&Manifest> {
        self.manifest
            .get_or_try_init(|| fetch_manifest(&self.client, &self.version))
            .await
    }

    /// Every entry, sorted by path.
    pub async fn files(&self) -> Result<Vec<ArtifactEntry>> {
        Ok(self
            .manifest()
            .await?
            .entries()
            .map(|(path, entry)| ArtifactEntry {
                path: path.clone(),
                entry: entry.clone(),
            })
            .collect())
    }

    /// The entry at `path` ([`Error::EntryNotFound`] with the SDK's wording when absent).
    pub async fn get_entry(&self, path: &str) -> Result<ArtifactEntry> {
        entry_of(self.manifest().await?, path)
    }

    /// Sets a new description (`None` clears it) — saved by [`save`](Self::save).
    pub fn set_description(&mut self, description: Option<String>) {
        self.edits.description = Some(description);
    }

    /// Replaces the metadata (at most 100 keys) — saved by [`save`](Self::save).
    pub fn set_metadata(&mut self, metadata: Map<String, Value>) -> Result<()> {
        self.edits.metadata = Some(cairn_manifest::validate_metadata(Value::Object(metadata))?);
        Ok(())
    }

    /// Points `alias` at this version (moving it from another version of the collection) —
    /// saved by [`save`](Self::save).
    pub fn add_alias(&mut self, alias: &str) -> Result<()> {
        cairn_manifest::validate_aliases(&[alias.to_owned()])?;
        self.edits
            .remove_aliases
            .retain(|existing| existing != alias);
        push_unique(&mut self.edits.add_aliases, alias);
        Ok(())
    }

    /// Removes `alias` from this version — saved by [`save`](Self::save).
    pub fn remove_alias(&mut self, alias: &str) {
        self.edits.add_aliases.retain(|existing| existing != alias);
        push_unique(&mut self.edits.remove_aliases, alias);
    }

    /// Adds a tag — saved by [`save`](Self::save).
    pub fn add_tag(&mut self, tag: &str) -> Result<()> {
        cairn_manifest::validate_tags(&[tag.to_owned()])?;
        self.edits.remove_tags.retain(|existing| existing != tag);
        push_unique(&mut self.edits.add_tags, tag);
        Ok(())
    }

    /// Changes the TTL, still counted from the version's creation — saved by
    /// [`save`](Self::save).
    pub fn set_ttl(&mut self, ttl: cairn_api::TtlSetting) {
        self.edits.ttl = Some(ttl);
    }

    /// Removes a tag — saved by [`save`](Self::save).
    pub fn remove_tag(&mut self, tag: &str) {
        self.edits.add_tags.retain(|existing| existing != tag);
        push_unique(&mut self.edits.remove_tags, tag);
    }

    /// Sends the pending edits in one request (applied by the server in one transaction) and
    /// refreshes [`version`](Self::version). Nothing pending: nothing is sent.
    pub async fn save(&mut self) -> Result<()> {
        if self.edits == Edits::default() {
            return Ok(());
        }
        let edits = self.edits.clone();
        let request = UpdateVersion {
            // The API clears the description with an empty string.
            description: edits.description.map(Option::unwrap_or_default),
            metadata: edits.metadata,
            add_aliases: edits.add_aliases,
            remove_aliases: edits.remove_aliases,
            add_tags: edits.add_tags,
            remove_tags: edits.remove_tags,
            ttl: edits.ttl,
            // Seen through a portfolio, its aliases are the link's.
            through: self.version.source.as_ref().map(|_| PortfolioPath {
                entity: self.version.entity.clone(),
                project: self.version.project.clone(),
                name: self.version.collection.clone(),
            }),
        };
        self.version = self
            .client
            .send_json(Method::PATCH, &routes::version(&self.version.id), &request)
            .await?;
        self.edits = Edits::default();
        Ok(())
    }

    /// Whether this is the version seen through a portfolio it is linked into (then
    /// [`version`](Self::version) names the portfolio and [`source`](Self::source) where it was
    /// logged).
    pub fn is_link(&self) -> bool {
        self.version.source.is_some()
    }

    /// Where the version was logged, when it is seen through a portfolio.
    pub fn source(&self) -> Option<&VersionSource> {
        self.version.source.as_ref()
    }

    /// `entity/project/name:vN` where the version was logged (its own name unless a link).
    pub fn source_qualified_name(&self) -> String {
        self.version
            .source
            .as_ref()
            .map_or_else(|| self.qualified_name(), VersionSource::qualified_name)
    }

    /// Links this version into a portfolio and answers it seen through the portfolio.
    ///
    /// `target` is `PORTFOLIO`, `PROJECT/PORTFOLIO` or `ENTITY/PROJECT/PORTFOLIO`; the entity and
    /// project default to those of the source version. `PROJECT` = `model-registry` is the
    /// entity's model registry, which takes only types containing `model`. The portfolio (and
    /// its project) are created on first link; linking again only adds `aliases`. `latest`
    /// moves to the newest link.
    pub async fn link(&self, target: &str, aliases: &[String]) -> Result<Self> {
        let (entity, project, portfolio) = self.link_target(target)?;
        let request = CreateLink {
            entity,
            project,
            portfolio,
            aliases: aliases.to_vec(),
        };
        let version: Version = self
            .client
            .send_json(Method::POST, &routes::links(&self.version.id), &request)
            .await?;
        Ok(self.seen_as(version))
    }

    /// The same version (same manifest) as the server describes it elsewhere: through a
    /// portfolio, or back in its own collection.
    fn seen_as(&self, version: Version) -> Self {
        Self {
            client: self.client.clone(),
            version,
            manifest: Arc::clone(&self.manifest),
            edits: Edits::default(),
        }
    }

    /// Splits a link target, filling in the source's entity and project.
    fn link_target(&self, target: &str) -> Result<(String, String, String)> {
        let (entity, project) = self
            .version
            .source
            .as_ref()
            .map_or((&self.version.entity, &self.version.project), |source| {
                (&source.entity, &source.project)
            });
        let parts: Vec<&str> = target.split('/').collect();
        let invalid = || Error::InvalidLinkTarget {
            target: target.to_owned(),
        };
        if parts.iter().any(|part| part.is_empty()) {
            return Err(invalid());
        }
        match parts.as_slice() {
            [name] => Ok((entity.clone(), project.clone(), (*name).to_owned())),
            [project, name] => Ok((entity.clone(), (*project).to_owned(), (*name).to_owned())),
            [entity, project, name] => Ok((
                (*entity).to_owned(),
                (*project).to_owned(),
                (*name).to_owned(),
            )),
            _ => Err(invalid()),
        }
    }

    /// Removes this link from its portfolio; the version itself stays where it was logged
    /// ([`source`](Self::source)). Answers the removed link as it was. Only for a version seen
    /// through a portfolio.
    pub async fn unlink(&self) -> Result<Self> {
        if !self.is_link() {
            return Err(Error::NotALink {
                name: self.qualified_name(),
            });
        }
        let route = routes::link(
            &self.version.id,
            &self.version.entity,
            &self.version.project,
            &self.version.collection,
        );
        let version: Version = self
            .client
            .send_json(Method::DELETE, &route, &serde_json::json!({}))
            .await?;
        Ok(self.seen_as(version))
    }

    /// Deletes this version (soft: it vanishes from lookups, its `vN` is never reused), or,
    /// for a version seen through a portfolio, only the link (as [`unlink`](Self::unlink)).
    /// A version with aliases is refused unless `delete_aliases`; one carrying a protected
    /// alias is refused to everyone until a registry admin removes the alias.
    pub async fn delete(&self, delete_aliases: bool) -> Result<()> {
        if self.is_link() {
            self.unlink().await?;
            return Ok(());
        }
        let _: Version = self
            .client
            .send_json(
                Method::DELETE,
                &routes::delete_version(&self.version.id, delete_aliases),
                &serde_json::json!({}),
            )
            .await?;
        Ok(())
    }

    /// This version seen through every portfolio it is linked into that the caller may read,
    /// oldest link first (the SDK's `linked_artifacts`).
    pub async fn linked_artifacts(&self) -> Result<Vec<Self>> {
        let list: LinkList = self
            .client
            .get_json(&routes::links(&self.version.id))
            .await?;
        Ok(list
            .links
            .into_iter()
            .map(|version| self.seen_as(version))
            .collect())
    }

    /// The run that logged this version and the runs that used it.
    pub async fn lineage(&self) -> Result<cairn_api::Lineage> {
        self.client
            .get_json(&routes::lineage(&self.version.id))
            .await
    }

    /// The whole lineage graph around this version to `depth` hops in `direction`, fetched a
    /// page at a time (runs and versions the caller may not read are left out and counted in
    /// `hidden`).
    pub async fn lineage_graph(
        &self,
        depth: u32,
        direction: cairn_api::LineageDirection,
    ) -> Result<cairn_api::LineageGraph> {
        const PAGE: usize = 5000;
        let id = &self.version().id;
        let mut graph: cairn_api::LineageGraph = self
            .client
            .get_json(&routes::lineage_graph(id, depth, direction, 0, PAGE))
            .await?;
        while let Some(after) = graph.next {
            let page: cairn_api::LineageGraph = self
                .client
                .get_json(&routes::lineage_graph(id, depth, direction, after, PAGE))
                .await?;
            graph.nodes.extend(page.nodes);
            graph.edges.extend(page.edges);
            graph.hidden = page.hidden;
            graph.total = page.total;
            graph.next = page.next.filter(|next| *next > after);
        }
        Ok(graph)
    }
}

fn push_unique(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|existing| existing == value) {
        list.push(value.to_owned());
    }
}

/// Fetches the verbatim manifest bytes and checks they describe the version's content.
async fn fetch_manifest(client: &Client, version: &Version) -> Result<Manifest> {
    let route = routes::manifest(&version.id);
    let bytes = client.get_bytes(&route).await?;
    manifest_of_version(&client.url(&route), version, &bytes)
}

/// Parses manifest bytes fetched from `url` and checks they describe `version`'s content.
pub(crate) fn manifest_of_version(url: &str, version: &Version, bytes: &[u8]) -> Result<Manifest> {
    let protocol = |reason: String| Error::Protocol {
        url: url.to_owned(),
        reason,
    };
    let text =
        std::str::from_utf8(bytes).map_err(|_| protocol("the manifest is not UTF-8".to_owned()))?;
    let manifest = Manifest::from_json(text)
        .map_err(|error| protocol(format!("the manifest does not parse: {error}")))?;
    check_manifest_digest(url, version, |algorithm| manifest.digest(algorithm))?;
    Ok(manifest)
}

/// Checks that a manifest whose artifact digest under each algorithm `digest` gives is the one
/// `version` names (W&B digests with MD5, or XXH128 for an XXH128 artifact).
pub(crate) fn check_manifest_digest(
    url: &str,
    version: &Version,
    mut digest: impl FnMut(DigestAlgorithm) -> String,
) -> Result<()> {
    let matches = [DigestAlgorithm::Md5, DigestAlgorithm::Xxh128]
        .into_iter()
        .any(|algorithm| digest(algorithm) == version.digest.to_hex());
    if matches {
        return Ok(());
    }
    Err(Error::Protocol {
        url: url.to_owned(),
        reason: format!(
            "the manifest of `{}` does not hash to its digest `{}`",
            version.qualified_name(),
            version.digest
        ),
    })
}

/// Finds artifacts, collections and versions.
#[derive(Debug, Clone)]
pub struct Api {
    client: Client,
}

impl Api {
    /// An API over `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The client in use.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Looks up `entity/project/name:selector`, where the selector is an alias, `vN` or a
    /// digest (`latest` when absent). The entity defaults to the API key's user.
    pub async fn artifact(&self, path: &str) -> Result<crate::LoggedArtifact> {
        let parsed = ArtifactPath::parse(path)?;
        if parsed.project.is_none() {
            return Err(ParseArtifactPathError {
                input: path.to_owned(),
                reason: "it names no project",
            }
            .into());
        }
        let parsed = match parsed.entity {
            Some(_) => parsed,
            None => {
                let username = self.client.username().await?;
                parsed.with_defaults(Some(&username), None)
            }
        };
        LoggedArtifact::resolve(&self.client, &parsed).await
    }

    /// The aliases protected in a project: only its admins may add or remove them, and what
    /// carries one cannot be unlinked or deleted.
    pub async fn protected_aliases(&self, entity: &str, project: &str) -> Result<Vec<String>> {
        let list: ProtectedAliases = self
            .client
            .get_json(&routes::protected_aliases(entity, project))
            .await?;
        Ok(list.aliases)
    }

    /// Protects `add` and unprotects `remove` in a project (its admins only); answers the
    /// protected aliases afterwards.
    pub async fn update_protected_aliases(
        &self,
        entity: &str,
        project: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<Vec<String>> {
        let request = UpdateProtectedAliases {
            add: add.to_vec(),
            remove: remove.to_vec(),
        };
        let list: ProtectedAliases = self
            .client
            .send_json(
                Method::PATCH,
                &routes::protected_aliases(entity, project),
                &request,
            )
            .await?;
        Ok(list.aliases)
    }

    /// The collections of a project, sorted by name.
    pub async fn collections(
        &self,
        entity: &str,
        project: &str,
    ) -> Result<Vec<cairn_api::Collection>> {
        let list: cairn_api::CollectionList = self
            .client
            .get_json(&routes::collections(entity, project))
            .await?;
        Ok(list.collections)
    }

    /// One collection of a project.
    pub async fn collection(
        &self,
        entity: &str,
        project: &str,
        collection: &str,
    ) -> Result<cairn_api::Collection> {
        self.client
            .get_json(&routes::collection(entity, project, collection))
            .await
    }

    /// The collections of a project with one artifact type, sorted by name.
    pub async fn collections_of_type(
        &self,
        entity: &str,
        project: &str,
        artifact_type: &str,
    ) -> Result<Vec<cairn_api::Collection>> {
        let list: cairn_api::CollectionList = self
            .client
            .get_json(&routes::collections_of_type(entity, project, artifact_type))
            .await?;
        Ok(list.collections)
    }

    /// The artifact types of a project, sorted by name.
    pub async fn artifact_types(
        &self,
        entity: &str,
        project: &str,
    ) -> Result<Vec<cairn_api::ArtifactType>> {
        let list: cairn_api::ArtifactTypeList = self
            .client
            .get_json(&routes::artifact_types(entity, project))
            .await?;
        Ok(list.types)
    }

    /// Deletes a collection: soft-deletes its versions (for a portfolio: removes its links)
    /// and frees its name. Refused while anything in it carries a protected alias.
    pub async fn delete_collection(
        &self,
        entity: &str,
        project: &str,
        name: &str,
    ) -> Result<cairn_api::Deletion> {
        self.client
            .send_json(
                Method::DELETE,
                &routes::collection(entity, project, name),
                &serde_json::json!({}),
            )
            .await
    }

    /// Deletes a project (admins of its entity): its versions, links and runs; frees its name.
    pub async fn delete_project(&self, entity: &str, project: &str) -> Result<cairn_api::Deletion> {
        self.client
            .send_json(
                Method::DELETE,
                &routes::project(entity, project),
                &serde_json::json!({}),
            )
            .await
    }

    /// Deletes a run; with `delete_artifacts` also the versions it logged.
    pub async fn delete_run(
        &self,
        entity: &str,
        project: &str,
        run_id: &str,
        delete_artifacts: bool,
    ) -> Result<cairn_api::Deletion> {
        self.client
            .send_json(
                Method::DELETE,
                &routes::delete_run(entity, project, run_id, delete_artifacts),
                &serde_json::json!({}),
            )
            .await
    }

    /// Renames a collection and/or changes its description; answers it as it is now. The old
    /// name stops resolving; versions keep their numbers.
    pub async fn update_collection(
        &self,
        entity: &str,
        project: &str,
        collection: &str,
        edit: &cairn_api::UpdateCollection,
    ) -> Result<cairn_api::Collection> {
        self.client
            .send_json(
                reqwest::Method::PATCH,
                &routes::collection(entity, project, collection),
                edit,
            )
            .await
    }

    /// One page of the committed versions of a collection, newest first: only the version
    /// `alias` names when given, only versions older than `vN` = `before`, at most `limit`
    /// (the server's default when `None`). The answer's `next` is the next page's `before`.
    pub async fn versions_page(
        &self,
        entity: &str,
        project: &str,
        collection: &str,
        alias: Option<&str>,
        before: Option<u64>,
        limit: Option<usize>,
    ) -> Result<cairn_api::VersionList> {
        self.client
            .get_json(&routes::collection_versions_page(
                entity, project, collection, alias, before, limit,
            ))
            .await
    }

    /// All committed versions of a collection, newest first (every page).
    pub async fn versions(
        &self,
        entity: &str,
        project: &str,
        collection: &str,
    ) -> Result<Vec<Version>> {
        let mut versions = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .versions_page(entity, project, collection, None, before, Some(1000))
                .await?;
            versions.extend(page.versions);
            match page.next {
                Some(next) if Some(next) != before => before = Some(next),
                _ => return Ok(versions),
            }
        }
    }
}
