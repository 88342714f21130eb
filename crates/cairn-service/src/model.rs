//! The domain's types: what the service functions take and return. They are plain Rust (no
//! serde): each front-end maps them to its own wire shapes (`cairn-api` for the native API, the
//! W&B protocol's GraphQL types), so no front-end's format leaks into the domain.

use cairn_hash::Md5Digest;
use serde_json::{Map, Value};

/// Who may read and write a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Visibility {
    /// Only the owning user or the team's members read and write.
    #[default]
    Private,
    /// Everyone reads, even without an API key; members write.
    Public,
    /// Everyone reads; every signed-in user writes.
    Open,
}

/// A team member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Manages members and project settings.
    Admin,
    /// Reads and writes the team's projects.
    Member,
}

/// The state of an artifact version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionState {
    /// Still receiving its manifest and blobs.
    Pending,
    /// Committed: has a `vN`; its manifest never changes.
    Committed,
    /// Soft-deleted (or discarded as a duplicate).
    Deleted,
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunState {
    /// Started and not finished.
    Running,
    /// Finished with exit code 0.
    Finished,
    /// Finished with another exit code.
    Failed,
    /// Never finished, and silent for longer than [`crate::CRASHED_AFTER`]: the process died.
    Crashed,
}

/// How creating a run treats an existing run with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResumeMode {
    /// The id must be new.
    #[default]
    Never,
    /// Resume it when it exists, create it otherwise.
    Allow,
    /// It must exist.
    Must,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name, also the name of the user's entity.
    pub username: String,
    /// Whether the user administers the whole server.
    pub admin: bool,
    /// When the user was created (RFC 3339).
    pub created_at: String,
}

/// One team a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMembership {
    /// The team's name.
    pub team: String,
    /// The user's role in it.
    pub role: Role,
}

/// Who an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The user.
    pub user: User,
    /// The user's teams.
    pub teams: Vec<TeamMembership>,
}

/// A new API key, shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedApiKey {
    /// Its user.
    pub user: User,
    /// The key itself: the only time it is shown.
    pub api_key: String,
    /// Its record, as [`crate::Service::api_keys`] lists it.
    pub key: ApiKey,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("user", &self.user)
            .field("api_key", &"<redacted>")
            .field("key", &self.key)
            .finish()
    }
}

/// What to create an API key with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewApiKey {
    /// A name to tell it by (at most [`crate::MAX_API_KEY_NAME`] characters, no control
    /// characters).
    pub name: Option<String>,
    /// How long it stays valid, counted from now by the service's clock; `None`: until revoked.
    pub expires_in: Option<std::time::Duration>,
}

/// Whether an API key still authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyStatus {
    /// It authenticates.
    Active,
    /// Its expiry has passed.
    Expired,
    /// It was revoked.
    Revoked,
}

/// An API key's record: everything but the secret, which is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id (16 hex digits), to revoke it by.
    pub id: String,
    /// Its name, if it was given one.
    pub name: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it stops authenticating, if ever (RFC 3339).
    pub expires_at: Option<String>,
    /// When it was revoked, if it was (RFC 3339).
    pub revoked_at: Option<String>,
    /// When it last authenticated a request, to the minute (RFC 3339); `None`: never.
    pub last_used_at: Option<String>,
    /// Whether it authenticates now, by the service's clock.
    pub status: ApiKeyStatus,
}

/// One member of a [`Team`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    /// The user.
    pub username: String,
    /// The role.
    pub role: Role,
}

/// A team and its members, sorted by user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// The team's name.
    pub name: String,
    /// Its members.
    pub members: Vec<TeamMember>,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project's number on this server, fixed for its lifetime (W&B's `internalId`).
    pub id: i64,
    /// The owning entity.
    pub entity: String,
    /// The name.
    pub name: String,
    /// Who may read and write it.
    pub visibility: Visibility,
    /// When it was created.
    pub created_at: String,
}

/// An artifact type of a project, with how many collections have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactType {
    /// The type's name.
    pub name: String,
    /// How many collections of the project have it.
    pub collection_count: u64,
    /// When its first collection was created.
    pub created_at: String,
}

/// Edits of a collection, applied together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectionEdit {
    /// A new name: the old one stops resolving; versions keep their numbers.
    pub name: Option<String>,
    /// A new description (empty clears it).
    pub description: Option<String>,
}

/// Which committed versions of a collection to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionQuery {
    /// Only the version this alias points at.
    pub alias: Option<String>,
    /// Only versions older than `vN` (the `next` of the previous page).
    pub before: Option<u64>,
    /// At most this many (capped at 1,000).
    pub limit: usize,
}

impl Default for VersionQuery {
    fn default() -> Self {
        Self {
            alias: None,
            before: None,
            limit: 100,
        }
    }
}

/// A page of committed versions, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionPage {
    /// The versions.
    pub versions: Vec<Version>,
    /// How many versions match in all.
    pub total: u64,
    /// Pass as [`VersionQuery::before`] for the next page; `None` on the last one.
    pub next: Option<u64>,
}

/// A version's time to live, as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TtlSetting {
    /// The entity's default TTL, if it has one (and none for auto-generated types).
    #[default]
    Inherit,
    /// No TTL, even when the entity has a default.
    Never,
    /// Deleted this many seconds after its `created_at`.
    Seconds(u64),
}

/// A version's time to live, as it applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionTtl {
    /// What was asked for.
    pub setting: TtlSetting,
    /// The TTL that applies, in seconds (`None`: the version never expires).
    pub seconds: Option<u64>,
    /// Whether it comes from the entity's default (W&B's `ttlIsInherited`).
    pub inherited: bool,
    /// When it expires: `created_at` plus the TTL.
    pub expires_at: Option<String>,
}

/// Who in a team may set or change TTLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TtlEditors {
    /// Team admins only.
    #[default]
    Admins,
    /// Admins and members.
    Members,
}

/// A team's retention settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TeamSettings {
    /// The TTL versions inherit, in seconds (`None`: no default).
    pub default_ttl_seconds: Option<u64>,
    /// Who may set or change TTLs.
    pub ttl_editors: TtlEditors,
}

/// Changes of a team's retention settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TeamSettingsEdit {
    /// A new default TTL (`Some(None)` removes it).
    pub default_ttl_seconds: Option<Option<u64>>,
    /// Who may set or change TTLs.
    pub ttl_editors: Option<TtlEditors>,
}

/// What deleting a collection, a run or a project did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deletion {
    /// Versions soft-deleted.
    pub versions_deleted: u64,
    /// Links removed from portfolios (the linked versions stay).
    pub links_removed: u64,
}

/// What a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CollectionKind {
    /// The versions logged into it (W&B's artifact sequence).
    #[default]
    Sequence,
    /// Links to versions logged elsewhere (W&B's portfolio, a registry collection).
    Portfolio,
}

/// Names a collection: `entity/project/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CollectionPath {
    /// The entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The collection's name.
    pub name: String,
}

impl std::fmt::Display for CollectionPath {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}/{}/{}", self.entity, self.project, self.name)
    }
}

/// What linking a version into a portfolio asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRequest {
    /// The portfolio, created on first link (its project too, when the caller may).
    pub target: CollectionPath,
    /// Aliases for the link in the portfolio (`latest` always moves to the newest link).
    pub aliases: Vec<String>,
}

/// Where a version seen through a portfolio was logged (W&B's `source_*` attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSource {
    /// The source entity.
    pub entity: String,
    /// The source project.
    pub project: String,
    /// The source project's number.
    pub project_id: i64,
    /// The source collection's number.
    pub collection_id: i64,
    /// The source collection's name.
    pub collection: String,
    /// `N` of its `vN` in the source collection.
    pub version_index: Option<u64>,
    /// Its aliases in the source collection, sorted.
    pub aliases: Vec<String>,
    /// When it was linked into the portfolio it is seen through.
    pub linked_at: String,
}

/// An artifact collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// The collection's number on this server, fixed for its lifetime (a rename keeps it).
    pub id: i64,
    /// Whether it holds logged versions or links.
    pub kind: CollectionKind,
    /// Its description.
    pub description: Option<String>,
    /// The owning entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The name.
    pub name: String,
    /// Its artifact type.
    pub artifact_type: String,
    /// How many committed versions it holds.
    pub version_count: u64,
    /// The version `latest` points at (`v3`), if any.
    pub latest: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When a version was last committed or changed.
    pub updated_at: String,
}

/// An artifact version.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Opaque, globally unique id.
    pub id: String,
    /// The owning entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The project's number on this server (see [`Project::id`]).
    pub project_id: i64,
    /// The collection's number (see [`Collection::id`]).
    pub collection_id: i64,
    /// The collection's name.
    pub collection: String,
    /// The artifact type.
    pub artifact_type: String,
    /// `N` of `vN`, once committed.
    pub version_index: Option<u64>,
    /// The state.
    pub state: VersionState,
    /// The artifact digest (MD5 of the manifest's preimage).
    pub digest: Md5Digest,
    /// Total size of the entries.
    pub size: u64,
    /// Number of entries.
    pub file_count: u64,
    /// Description.
    pub description: Option<String>,
    /// Metadata.
    pub metadata: Map<String, Value>,
    /// Aliases pointing here, sorted.
    pub aliases: Vec<String>,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// The run that logged it.
    pub logged_by: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// When it was committed.
    pub committed_at: Option<String>,
    /// The distributed id of a distributed version (several writers upload its parts).
    pub distributed_id: Option<String>,
    /// Set when the version is seen through a portfolio it is linked into: then `entity`,
    /// `project`, `collection`, `version_index` and `aliases` above are the portfolio's and
    /// the link's, and this says where the version was logged. Its id, content, digest and
    /// lineage are the same either way.
    pub source: Option<VersionSource>,
    /// Its time to live.
    pub ttl: VersionTtl,
}

impl Version {
    /// Whether it is seen through a portfolio (a link) rather than in its own collection.
    pub fn is_link(&self) -> bool {
        self.source.is_some()
    }

    /// `entity/project/collection:vN` of the version where it was logged.
    pub fn source_qualified_name(&self) -> String {
        match &self.source {
            Some(source) => format!(
                "{}/{}/{}:v{}",
                source.entity,
                source.project,
                source.collection,
                source.version_index.unwrap_or_default()
            ),
            None => self.qualified_name(),
        }
    }

    /// `entity/project/collection:vN` (or `:<id>` while pending).
    pub fn qualified_name(&self) -> String {
        let selector = self
            .version_index
            .map_or_else(|| self.id.clone(), |index| format!("v{index}"));
        format!(
            "{}/{}/{}:{}",
            self.entity, self.project, self.collection, selector
        )
    }
}

/// What starting a log did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateVersionStatus {
    /// A new PENDING version.
    Created,
    /// An interrupted PENDING version of the same digest, to continue.
    Resumed,
    /// The latest committed version has this digest already; nothing was created.
    Existing,
}

/// The answer to starting a log.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedVersion {
    /// What happened.
    pub status: CreateVersionStatus,
    /// The version.
    pub version: Version,
    /// Whether the server already holds its manifest (resumed versions only).
    pub manifest_uploaded: bool,
}

/// What starting a log asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    /// The collection's name; created on first use.
    pub collection: String,
    /// The artifact type.
    pub artifact_type: String,
    /// The artifact digest the manifest will hash to.
    pub digest: Md5Digest,
    /// Description.
    pub description: Option<String>,
    /// Metadata.
    pub metadata: Map<String, Value>,
    /// Aliases to set at commit.
    pub aliases: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The id of the run (same project) that logs it.
    pub run: Option<String>,
    /// Set for a distributed version: every log with this id (in this collection) adds a part
    /// to the same PENDING version until one of them commits it (see
    /// [`crate::Service::put_manifest_as`]). `digest` is then only that part's.
    pub distributed_id: Option<String>,
    /// Its TTL (`None` inherits the entity's default).
    pub ttl: Option<TtlSetting>,
}

/// Edits of a committed version, applied together.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VersionEdit {
    /// A new description (empty clears it).
    pub description: Option<String>,
    /// New metadata, replacing the old.
    pub metadata: Option<Map<String, Value>>,
    /// Aliases to point here.
    pub add_aliases: Vec<String>,
    /// Aliases to remove from here.
    pub remove_aliases: Vec<String>,
    /// Tags to add.
    pub add_tags: Vec<String>,
    /// Tags to remove.
    pub remove_tags: Vec<String>,
    /// Apply the alias changes in this portfolio the version is linked into, instead of in
    /// its own collection. Description, metadata and tags belong to the version either way.
    pub through: Option<CollectionPath>,
    /// A new TTL, still counted from the version's `created_at`.
    pub ttl: Option<TtlSetting>,
}

/// One entry of a version's manifest, as the server indexed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The logical path.
    pub path: String,
    /// The digest as the manifest gives it (base64 MD5 for files; for references the
    /// reference's own digest, such as an ETag).
    pub digest: String,
    /// The content's MD5, for uploaded files.
    pub md5: Option<Md5Digest>,
    /// The size.
    pub size: u64,
    /// The URI of a reference entry.
    pub reference: Option<String>,
    /// The id of the version whose upload first stored this content.
    pub birth_artifact_id: String,
}

/// A blob as the server stores and deduplicates it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobRef {
    /// MD5 of the content.
    pub md5: Md5Digest,
    /// Size in bytes.
    pub size: u64,
}

/// A run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The run id, unique in its project.
    pub id: String,
    /// The owning entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The project's number on this server (see [`Project::id`]).
    pub project_id: i64,
    /// The job type.
    pub job_type: Option<String>,
    /// The state.
    pub state: RunState,
    /// The exit code it finished with.
    pub exit_code: Option<i32>,
    /// Who started it.
    pub user: String,
    /// When it was created.
    pub created_at: String,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Whether this answer resumed an existing run.
    pub resumed: bool,
    /// The name shown for it, if one was given.
    pub display_name: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Its configuration (hyperparameters), as the logging client sent it.
    pub config: Map<String, Value>,
    /// Its summary: the last value of each metric, as the logging client sent it.
    pub summary: Map<String, Value>,
    /// When the run last reported (file stream heartbeats), if ever.
    pub heartbeat_at: Option<String>,
}

/// Changes to a run's record, each applied when present.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunUpdate {
    /// The job type.
    pub job_type: Option<String>,
    /// The name shown for it.
    pub display_name: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// A new configuration, replacing the old.
    pub config: Option<Map<String, Value>>,
    /// A new summary, replacing the old.
    pub summary: Option<Map<String, Value>>,
}

/// What a running run reports: a sign of life, perhaps a new summary, perhaps its end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunReport {
    /// A new summary, replacing the old.
    pub summary: Option<Map<String, Value>>,
    /// The exit code, when the run has ended.
    pub exit_code: Option<i32>,
}

/// What creating a run asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRun {
    /// The run id; one is picked when absent.
    pub id: Option<String>,
    /// The job type.
    pub job_type: Option<String>,
    /// What to do when the id exists.
    pub resume: ResumeMode,
}

/// The versions a run logged and used.
#[derive(Debug, Clone, PartialEq)]
pub struct RunArtifacts {
    /// Logged.
    pub logged: Vec<Version>,
    /// Used.
    pub used: Vec<Version>,
}

/// A pointer to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    /// The owning entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The run id.
    pub id: String,
}

/// A version's lineage: the runs the caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The run that logged it.
    pub logged_by: Option<RunRef>,
    /// The runs that used it.
    pub used_by: Vec<RunRef>,
}

/// Counters since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Blobs whose content was received and verified.
    pub blobs_received: u64,
    /// Bytes of blob content received.
    pub blob_bytes_received: u64,
    /// Blobs rejected for a digest or size mismatch.
    pub blobs_rejected: u64,
    /// Versions committed.
    pub versions_committed: u64,
    /// Blob downloads served.
    pub blobs_served: u64,
}

/// Which way a lineage graph is walked from its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineageDirection {
    /// What the version was made from: its logging run, that run's inputs, their runs, ...
    Up,
    /// What was made from it: the runs that used it, what they logged, ...
    Down,
    /// Both.
    #[default]
    Both,
}

/// Which part of a lineage graph to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineageQuery {
    /// How many hops (version → run or run → version) from the version, at least 1.
    pub depth: u32,
    /// Which way.
    pub direction: LineageDirection,
    /// Nodes to skip (the `next` of the previous page).
    pub after: usize,
    /// Nodes on this page at most.
    pub limit: usize,
}

impl Default for LineageQuery {
    fn default() -> Self {
        Self {
            depth: 2,
            direction: LineageDirection::Both,
            after: 0,
            limit: 1000,
        }
    }
}

/// What a lineage node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineageNodeKind {
    /// A committed version.
    Version {
        /// Its id.
        id: String,
        /// The owning entity.
        entity: String,
        /// The project.
        project: String,
        /// The collection.
        collection: String,
        /// The artifact type.
        artifact_type: String,
        /// `N` of `vN`.
        version_index: Option<u64>,
    },
    /// A run.
    Run {
        /// The owning entity.
        entity: String,
        /// The project.
        project: String,
        /// The run id.
        id: String,
        /// Its state.
        state: RunState,
        /// Its job type.
        job_type: Option<String>,
    },
}

/// One node of a lineage graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageNode {
    /// `version:<id>` or `run:<entity>/<project>/<run>`, what edges refer to.
    pub key: String,
    /// Hops from the graph's version.
    pub depth: u32,
    /// The version or run.
    pub kind: LineageNodeKind,
}

/// One edge: a run logged a version (run → version) or a version was used by a run
/// (version → run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageEdge {
    /// The older node's key.
    pub from: String,
    /// The newer node's key.
    pub to: String,
}

/// A page of a lineage graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageGraph {
    /// The key of the version the graph is around.
    pub root: String,
    /// The nodes of this page, breadth first (the version itself first on the first page).
    pub nodes: Vec<LineageNode>,
    /// The edges between nodes of this and earlier pages that touch this page.
    pub edges: Vec<LineageEdge>,
    /// Neighbours not shown because the caller may not read them (they are not walked past).
    pub hidden: u64,
    /// Visible nodes in the whole graph.
    pub total: u64,
    /// The `after` of the next page; `None` on the last one.
    pub next: Option<usize>,
}
