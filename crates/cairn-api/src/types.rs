//! Request and response bodies of the native API. Field names are `snake_case` on the wire;
//! timestamps are RFC 3339 strings in UTC; ids are opaque strings that clients must not parse.

use cairn_hash::Md5Digest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `GET /healthz` and `GET /api/v1/server`: what the server is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerInfo {
    /// The native API version ([`crate::API_VERSION`]).
    pub api_version: u32,
    /// The server's package version.
    pub server_version: String,
    /// Where blobs are kept: `local`, `s3`, `gs` or `azure`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::blob_store))]
    pub blob_store: String,
    /// The largest blob a batch may hold, up or down ([`crate::BATCH_BLOB_MAX_SIZE`]); servers
    /// from before this field took [`crate::SMALL_BLOB_MAX_SIZE`], which is what it reads as
    /// when absent.
    #[serde(default = "small_blob_max_size")]
    pub batch_blob_max_size: u64,
}

fn small_blob_max_size() -> u64 {
    crate::SMALL_BLOB_MAX_SIZE
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The user name, which is also the name of the user's own entity.
    pub username: String,
    /// Whether the user administers the whole server.
    pub admin: bool,
    /// When the user was created.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
}

/// `GET /api/v1/viewer`: who the API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Viewer {
    /// The user.
    pub user: User,
    /// The teams the user belongs to, with the user's role in each.
    pub teams: Vec<TeamMembership>,
}

/// One team a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamMembership {
    /// The team's name (an entity name).
    pub team: String,
    /// The user's role in it.
    pub role: Role,
}

/// `POST /api/v1/users` (server admins only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUser {
    /// The new user's name ([`crate::validate_entity_name`]).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"))]
    pub username: String,
    /// Whether the user administers the whole server.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = false))]
    pub admin: bool,
}

/// The answer to [`CreateUser`] and to `POST /api/v1/users/{username}/api-keys`: the key is shown
/// this once and only its hash is stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    /// The user the key belongs to.
    pub user: User,
    /// The API key: the secret, shown this once.
    pub api_key: String,
    /// The key's record, as [`ApiKeyList`] shows it (without the secret).
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

/// `POST /api/v1/users/{username}/api-keys`: what to create a key with. Both fields are
/// optional, and so is the body: without them the key has no name and never expires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// A name to tell the key by (at most 100 characters, no control characters), such as the
    /// machine or job that uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: Option<String>,
    /// How many seconds the key stays valid, counted from its creation on the server's clock
    /// (1 to 315360000, ten years). Leave it out for a key that stays valid until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 315_360_000))]
    pub expires_in_seconds: Option<u64>,
}

/// Whether an API key still authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyStatus {
    /// It authenticates.
    Active,
    /// Its expiry has passed.
    Expired,
    /// It was revoked.
    Revoked,
}

/// An API key's record: everything but the secret, which the server does not keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    /// The key's id (16 hex digits): what to revoke it by. It is not the secret.
    pub id: String,
    /// Its name, if it was given one.
    pub name: Option<String>,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// When it stops authenticating; `null`: never.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: Option<String>,
    /// When it was revoked; `null`: it was not.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub revoked_at: Option<String>,
    /// When it last authenticated a request, to the minute; `null`: never.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub last_used_at: Option<String>,
    /// Whether it authenticates now.
    pub status: ApiKeyStatus,
}

/// `GET /api/v1/users/{username}/api-keys`: a user's keys, oldest first, revoked and expired
/// ones included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyList {
    /// The keys.
    pub keys: Vec<ApiKey>,
}

/// A team member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages members and project settings, and reads and writes every project.
    Admin,
    /// Reads and writes the team's projects.
    Member,
}

/// `POST /api/v1/teams`: the caller becomes the team's first admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTeam {
    /// The team's name ([`crate::validate_entity_name`]); it must not clash with a user name.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$"))]
    pub name: String,
}

/// A team and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    /// The team's name.
    pub name: String,
    /// Its members, sorted by user name.
    pub members: Vec<TeamMember>,
}

/// One member of a [`Team`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamMember {
    /// The user.
    pub username: String,
    /// The role.
    pub role: Role,
}

/// `PUT /api/v1/teams/{team}/members/{username}`: add a member or change a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetTeamMember {
    /// The role to give.
    pub role: Role,
}

/// Who may read and write a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Only the owning user or the team's members read and write.
    #[default]
    Private,
    /// Everyone reads, even without an API key; members write.
    Public,
    /// Everyone reads; every signed-in user writes.
    Open,
}

/// A project: the place collections and runs live in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    /// The owning entity (user or team).
    pub entity: String,
    /// The project's name.
    pub name: String,
    /// Who may read and write it.
    pub visibility: Visibility,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
}

/// `PUT /api/v1/projects/{entity}/{project}`: create a project or change its settings (team
/// admins and the owning user only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpsertProject {
    /// The new visibility; unchanged (or `private` on creation) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// `GET /api/v1/entities/{entity}/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectList {
    /// The projects the caller may read, sorted by name.
    pub projects: Vec<Project>,
}

/// An artifact collection (sequence): `entity/project/name` with a type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Collection {
    /// The owning entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The collection's name.
    pub name: String,
    /// Its artifact type (`dataset`, `model`, ...).
    pub artifact_type: String,
    /// How many committed versions it holds.
    pub version_count: u64,
    /// The version `latest` points at (`v3`), if any.
    pub latest: Option<String>,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// When a version was last committed or changed.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub updated_at: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether it holds logged versions or links to versions logged elsewhere.
    #[serde(default)]
    pub kind: CollectionKind,
}

/// What a [`Collection`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CollectionKind {
    /// The versions logged into it.
    #[default]
    Sequence,
    /// Links to versions logged in other collections (a registry collection, W&B's
    /// portfolio).
    Portfolio,
}

/// `PATCH /api/v1/projects/{entity}/{project}/collections/{collection}`: rename it and/or change
/// its description. The old name stops resolving; versions keep their numbers and aliases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateCollection {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description; an empty string clears it.
    #[serde(default)]
    pub description: Option<String>,
}

/// One artifact type of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactType {
    /// The type's name.
    pub name: String,
    /// How many collections have it.
    pub collection_count: u64,
    /// When its first collection was created.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
}

/// `GET /api/v1/projects/{entity}/{project}/types`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactTypeList {
    /// The types, sorted by name.
    pub types: Vec<ArtifactType>,
}

/// `GET /api/v1/projects/{entity}/{project}/collections`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionList {
    /// The collections, sorted by name.
    pub collections: Vec<Collection>,
}

/// The state of an artifact version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionState {
    /// Created, still receiving its manifest and blobs; invisible to readers by alias.
    Pending,
    /// Committed: has a `vN`, its manifest never changes.
    Committed,
    /// Soft-deleted.
    Deleted,
}

/// An artifact version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Version {
    /// Opaque, globally unique id; this is what a manifest's `birthArtifactID` holds.
    pub id: String,
    /// The owning entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The collection's name.
    pub collection: String,
    /// The artifact type.
    pub artifact_type: String,
    /// `N` of `vN`; `None` while PENDING.
    pub version_index: Option<u64>,
    /// The state.
    pub state: VersionState,
    /// The artifact digest (32 hex digits), as declared at creation.
    #[serde(with = "cairn_hash::serde_hex")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^[0-9a-f]{32}$")
    )]
    pub digest: Md5Digest,
    /// Total size of the file entries, in bytes (known once the manifest is uploaded).
    pub size: u64,
    /// Number of manifest entries (known once the manifest is uploaded).
    pub file_count: u64,
    /// Free-text description.
    pub description: Option<String>,
    /// User metadata, at most [`crate::MAX_METADATA_KEYS`] keys.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Map<String, Value>,
    /// The aliases pointing here, sorted (`latest` included when it does).
    pub aliases: Vec<String>,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// The id of the run that logged it, if one did.
    pub logged_by: Option<String>,
    /// When it was created (the start of logging).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// When anything about it last changed.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub updated_at: String,
    /// When it was committed.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub committed_at: Option<String>,
    /// Set when the version is seen through a portfolio it is linked into: then `entity`,
    /// `project`, `collection`, `version_index` and `aliases` are the portfolio's and the
    /// link's, and this says where it was logged. Id, content and lineage are the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<VersionSource>,
    /// Its time to live.
    #[serde(default)]
    pub ttl: VersionTtl,
}

/// Where a linked version was logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionSource {
    /// The source entity.
    pub entity: String,
    /// The source project.
    pub project: String,
    /// The source collection.
    pub collection: String,
    /// `N` of its `vN` in the source collection.
    pub version_index: Option<u64>,
    /// Its aliases in the source collection, sorted.
    pub aliases: Vec<String>,
    /// When it was linked into the portfolio it is seen through.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub linked_at: String,
}

impl VersionSource {
    /// `entity/project/collection:vN` of the source version.
    pub fn qualified_name(&self) -> String {
        format!(
            "{}/{}/{}:v{}",
            self.entity,
            self.project,
            self.collection,
            self.version_index.unwrap_or_default()
        )
    }
}

/// `POST /api/v1/artifacts/{id}/links`: link a committed version into a portfolio (created on
/// first link, with its project when the caller may write to the entity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    /// The portfolio's entity.
    pub entity: String,
    /// The portfolio's project (`model-registry` is the entity's model registry, which takes
    /// only types containing `model`).
    pub project: String,
    /// The portfolio's name.
    pub portfolio: String,
    /// Aliases for the link in the portfolio; `latest` always moves to the newest link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// `GET /api/v1/artifacts/{id}/links`: the version seen through each portfolio it is linked
/// into that the caller may read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkList {
    /// The links, oldest first.
    pub links: Vec<Version>,
}

/// `GET|PATCH /api/v1/projects/{entity}/{project}/protected-aliases`: aliases only the
/// project's admins may add or remove, and that keep what carries them from being unlinked or
/// deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProtectedAliases {
    /// The protected aliases, sorted.
    pub aliases: Vec<String>,
}

/// `PATCH /api/v1/projects/{entity}/{project}/protected-aliases` (project admins only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateProtectedAliases {
    /// Aliases to protect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Aliases to protect no longer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// A portfolio, named: `entity/project/name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PortfolioPath {
    /// The portfolio's entity.
    pub entity: String,
    /// Its project.
    pub project: String,
    /// Its name.
    pub name: String,
}

impl Version {
    /// `vN`, once committed.
    pub fn version_name(&self) -> Option<String> {
        self.version_index.map(|index| format!("v{index}"))
    }

    /// `entity/project/collection:vN` (or `:<id>` while pending): how users name it.
    pub fn qualified_name(&self) -> String {
        let selector = self.version_name().unwrap_or_else(|| self.id.clone());
        format!(
            "{}/{}/{}:{}",
            self.entity, self.project, self.collection, selector
        )
    }
}

/// `GET .../collections/{collection}/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionList {
    /// Committed versions, newest first.
    pub versions: Vec<Version>,
    /// How many versions match in all.
    #[serde(default)]
    pub total: u64,
    /// The `before` of the next page (a version number); absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// `POST /api/v1/projects/{entity}/{project}/artifacts`: start logging a version. The project is
/// created on first use when the caller may write to the entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateVersion {
    /// The collection's name; created on first use with `artifact_type`.
    pub collection: String,
    /// The artifact type; must equal the collection's when it exists.
    pub artifact_type: String,
    /// The artifact digest the manifest will hash to (32 hex digits).
    #[serde(with = "cairn_hash::serde_hex")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^[0-9a-fA-F]{32}$")
    )]
    pub digest: Md5Digest,
    /// Description of the new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Metadata of the new version.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::metadata))]
    pub metadata: Map<String, Value>,
    /// Aliases to point at the version when it commits (`latest` always moves).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Tags of the new version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The id of the run (in the same project) that logs it; recorded as lineage at commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Makes this a part of a distributed version: every log with this id (in this
    /// collection) adds its files to the same PENDING version, until one of them commits it.
    /// `digest` is then only this part's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed_id: Option<String>,
    /// Its TTL, counted from its creation; absent inherits the team's default. Setting one
    /// needs the team's TTL permission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<TtlSetting>,
}

/// A TTL as asked for: `"inherit"` (the team's default), `"none"` (never expires, even with
/// a team default) or `{"seconds": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TtlSetting {
    /// The team's default TTL, if any.
    #[default]
    Inherit,
    /// No TTL.
    None,
    /// Deleted this many seconds after creation.
    Seconds(u64),
}

/// A version's TTL as it applies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionTtl {
    /// What was asked for.
    pub setting: TtlSetting,
    /// The TTL that applies, in seconds; absent when the version never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    /// Whether it is the team's default.
    pub inherited: bool,
    /// When the version expires (it is then soft-deleted by the sweeper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: Option<String>,
}

/// Who in a team may set or change TTLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TtlEditors {
    /// Team admins only.
    #[default]
    Admins,
    /// Admins and members.
    Members,
}

/// `GET /api/v1/teams/{team}/settings`: a team's retention settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamSettings {
    /// The TTL versions inherit, in seconds; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl_seconds: Option<u64>,
    /// Who may set or change TTLs.
    pub ttl_editors: TtlEditors,
}

/// `PATCH /api/v1/teams/{team}/settings` (team admins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateTeamSettings {
    /// A new default TTL: `{"seconds": N}`, or `"none"` to remove the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<TtlSetting>,
    /// Who may set or change TTLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_editors: Option<TtlEditors>,
}

/// `POST /api/v1/server/sweep` (server admins): what one sweep of expired versions did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SweepReport {
    /// The expired versions it soft-deleted.
    pub deleted: Vec<String>,
    /// Expired versions it kept, with why.
    pub kept: Vec<KeptVersion>,
}

/// An expired version a sweep kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeptVersion {
    /// `entity/project/name:vN`.
    pub name: String,
    /// Why it stays (a protected alias, a model-registry link).
    pub reason: String,
}

/// What [`CreateVersion`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CreateVersionStatus {
    /// A new PENDING version.
    Created,
    /// An earlier, interrupted log of the same digest is PENDING; continue it (blobs already
    /// stored are not asked for again).
    Resumed,
    /// The latest committed version already has this digest: nothing was created, the requested
    /// aliases and tags were applied to it, and the client is done.
    Existing,
}

/// The answer to [`CreateVersion`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedVersion {
    /// What happened.
    pub status: CreateVersionStatus,
    /// The version to continue with (PENDING) or the existing one (COMMITTED).
    pub version: Version,
    /// Whether the server already holds this version's manifest (only for `resumed`).
    pub manifest_uploaded: bool,
}

/// A blob as the server stores and deduplicates it: by MD5 and size.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobRef {
    /// The MD5 of the content, 32 lowercase hex digits.
    #[serde(with = "cairn_hash::serde_hex")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^[0-9a-f]{32}$")
    )]
    pub md5: Md5Digest,
    /// The size in bytes.
    pub size: u64,
}

/// The answer to a manifest upload and to `GET .../missing-blobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManifestReceipt {
    /// The artifact digest the manifest hashes to.
    #[serde(with = "cairn_hash::serde_hex")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = String, pattern = "^[0-9a-f]{32}$")
    )]
    pub digest: Md5Digest,
    /// Number of entries.
    pub file_count: u64,
    /// Total size of the entries.
    pub size: u64,
    /// The distinct blobs of non-reference entries that the entity does not hold yet.
    pub missing: Vec<BlobRef>,
}

/// The answer to a single blob upload or a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobReceipt {
    /// Blobs accepted (new to the entity or already held).
    pub blobs: u64,
    /// Bytes received in the request body.
    pub bytes: u64,
}

/// `POST /api/v1/projects/{entity}/{project}/known-sizes`, and its answer: of the sizes asked
/// about (at most 10,000), those the caller already has a usable blob of: one they staged, or
/// one a committed version they may read lists. A client stages a large file only when its
/// size is not among them, so content the server may already hold is deduplicated instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KnownSizes {
    /// Sizes in bytes.
    pub sizes: Vec<u64>,
}

/// `POST /api/v1/artifacts/{id}/commit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitVersion {}

/// `PATCH /api/v1/artifacts/{id}`: edits of a committed version, applied in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateVersion {
    /// A new description (an empty string clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New metadata, replacing the old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::optional_metadata))]
    pub metadata: Option<Map<String, Value>>,
    /// Aliases to point here (moved from another version of the collection if needed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_aliases: Vec<String>,
    /// Aliases to remove from this version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_aliases: Vec<String>,
    /// Tags to add.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    /// Tags to remove.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
    /// Apply the alias changes in this portfolio the version is linked into (needs write
    /// access to the portfolio's project), instead of in the version's own collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<PortfolioPath>,
    /// A new TTL, still counted from the version's creation (needs the team's TTL
    /// permission; refused for auto-generated types and versions in the model registry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<TtlSetting>,
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Started and not finished.
    Running,
    /// Finished with exit code 0.
    Finished,
    /// Finished with a non-zero exit code.
    Failed,
    /// Never finished, and stopped sending heartbeats (W&B SDK runs only): the process died.
    Crashed,
}

/// How [`CreateRun`] treats an existing run with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResumeMode {
    /// The id must be new.
    #[default]
    Never,
    /// Resume the run when it exists, create it otherwise.
    Allow,
    /// The run must exist.
    Must,
}

/// `POST /api/v1/projects/{entity}/{project}/runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateRun {
    /// The run id (1–64 of `[A-Za-z0-9._-]`, not starting with `.`); the server picks one when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9_-]{8,64}$"))]
    pub id: Option<String>,
    /// The job type (`train`, `eval`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
    /// What to do when the id exists.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = "never"))]
    pub resume: ResumeMode,
}

/// A run: a unit of work that logs and uses artifact versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Run {
    /// The run id, unique within its project.
    pub id: String,
    /// The owning entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The job type.
    pub job_type: Option<String>,
    /// The state.
    pub state: RunState,
    /// The exit code it finished with.
    pub exit_code: Option<i32>,
    /// The user who started it.
    pub user: String,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// When it finished.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub finished_at: Option<String>,
    /// Whether this answer resumed an existing run.
    #[serde(default)]
    pub resumed: bool,
    /// The name shown for it (W&B SDK runs), if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Free-text notes (W&B SDK runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Its configuration as the W&B SDK sent it (`{"key": {"value": ...}}`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::json_object))]
    pub config: Map<String, Value>,
    /// Its summary (the last value of each metric) as the W&B SDK sent it.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::openapi::json_object))]
    pub summary: Map<String, Value>,
    /// When it last sent a heartbeat (W&B SDK runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub heartbeat_at: Option<String>,
}

/// `POST .../runs/{run}/finish`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FinishRun {
    /// The process's exit code; 0 marks the run finished, anything else failed.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(default = 0))]
    pub exit_code: i32,
}

/// `POST .../runs/{run}/inputs`: record that the run used a version (any project the caller
/// may read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UseArtifact {
    /// The version's opaque id.
    pub artifact_id: String,
}

/// `GET .../runs/{run}/artifacts`: the run's outputs and inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunArtifacts {
    /// Versions the run logged.
    pub logged: Vec<Version>,
    /// Versions the run used.
    pub used: Vec<Version>,
}

/// A pointer to a run, in lineage answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunRef {
    /// The owning entity.
    pub entity: String,
    /// The project.
    pub project: String,
    /// The run id.
    pub id: String,
}

/// `GET /api/v1/artifacts/{id}/lineage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lineage {
    /// The run that logged the version.
    pub logged_by: Option<RunRef>,
    /// The runs that used it.
    pub used_by: Vec<RunRef>,
}

/// `POST /api/v1/artifacts/{id}/small-blobs`: the download mirror of the upload batch. The
/// answer (`application/vnd.cairn.blob-batch`, see [`crate::batch`]) holds one frame per blob,
/// in the order asked. At most 10,000 blobs, each at most [`crate::BATCH_BLOB_MAX_SIZE`] bytes
/// ([`crate::SMALL_BLOB_MAX_SIZE`] on servers that do not announce
/// [`ServerInfo::batch_blob_max_size`]), [`crate::BATCH_MAX_BYTES`] in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReadSmallBlobs {
    /// The blobs' MD5s (32 lowercase hex digits each).
    #[serde(with = "md5_list")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, max_items = 10000))]
    pub md5: Vec<Md5Digest>,
}

mod md5_list {
    use cairn_hash::Md5Digest;
    use serde::{Deserialize as _, Deserializer, Serialize as _, Serializer};

    pub(super) fn serialize<S: Serializer>(
        md5s: &[Md5Digest],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        md5s.iter()
            .map(Md5Digest::to_hex)
            .collect::<Vec<_>>()
            .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Md5Digest>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|hex| Md5Digest::from_hex(hex).map_err(serde::de::Error::custom))
            .collect()
    }
}

/// Which way a lineage graph is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LineageDirection {
    /// What the version was made from.
    Up,
    /// What was made from it.
    Down,
    /// Both.
    #[default]
    Both,
}

/// One node of a [`LineageGraph`]: a committed version or a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineageNode {
    /// A committed version.
    Version {
        /// `version:<id>`, what edges refer to.
        key: String,
        /// Hops from the graph's version.
        depth: u32,
        /// The version's id.
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
        /// `run:<entity>/<project>/<run>`, what edges refer to.
        key: String,
        /// Hops from the graph's version.
        depth: u32,
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

impl LineageNode {
    /// The node's key.
    pub fn key(&self) -> &str {
        match self {
            Self::Version { key, .. } | Self::Run { key, .. } => key,
        }
    }

    /// Hops from the graph's version.
    pub fn depth(&self) -> u32 {
        match self {
            Self::Version { depth, .. } | Self::Run { depth, .. } => *depth,
        }
    }
}

/// One edge of a [`LineageGraph`]: run → version it logged, or version → run that used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineageEdge {
    /// The older node's key.
    pub from: String,
    /// The newer node's key.
    pub to: String,
}

/// `GET /api/v1/artifacts/{id}/lineage/graph`: a page of the bipartite graph of runs and
/// committed versions around a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineageGraph {
    /// The key of the version the graph is around.
    pub root: String,
    /// This page's nodes, breadth first.
    pub nodes: Vec<LineageNode>,
    /// The edges between nodes of this and earlier pages that touch this page.
    pub edges: Vec<LineageEdge>,
    /// Neighbours not shown because the caller may not read them; they are not walked past.
    pub hidden: u64,
    /// Visible nodes in the whole graph.
    pub total: u64,
    /// The `after` of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<usize>,
}

/// `GET /api/v1/server/stats` (server admins only): counters since the process started, for
/// operators and for end-to-end tests that check what really travelled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerStats {
    /// Blob upload requests (single or batch members) whose content was stored or already held.
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

/// `POST /api/v1/server/clock`: move the clock of a server started with `--test-clock` forward
/// (server admins only), so tests can make TTLs and keys expire without waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    /// How many seconds to move forward.
    pub seconds: u64,
}

/// The answer to [`AdvanceClock`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerClock {
    /// How far ahead of the system clock the server's clock is, in seconds.
    pub offset_seconds: u64,
    /// What the server's clock reads now.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub now: String,
}

/// What deleting a collection, a run or a project did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deletion {
    /// Versions soft-deleted (they vanish at once; blobs go at the next garbage collection).
    pub versions_deleted: u64,
    /// Links removed from portfolios (the linked versions stay where they were logged).
    pub links_removed: u64,
}

/// `POST /api/v1/server/gc` (server admins): run one garbage collection now. Blobs that no
/// live (not DELETED) version references are removed once they have been unreferenced for the
/// server's grace period (`--gc-grace`); see `docs/api.md`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CollectGarbage {
    /// Only report what would be freed; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Why a collection frees a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FreeReason {
    /// No live version has referenced it since `unreferenced_since`, longer ago than the grace
    /// period.
    Unreferenced,
    /// Its bytes are stored but the metadata does not record them (an upload was interrupted
    /// between the two).
    Unrecorded,
    /// An interrupted collection had already taken it out of the metadata.
    Interrupted,
}

/// A blob a collection freed (or would free).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FreedBlob {
    /// MD5, 32 lowercase hex digits.
    pub md5: String,
    /// Size in bytes.
    pub size: u64,
    /// `packed` (small blobs, in `packed.sqlite`) or `store` (the blob store).
    pub location: String,
    /// Why it is freed.
    pub reason: FreeReason,
    /// For `unreferenced`: since when no live version references it (the deletion of the last
    /// one, or the blob's first storing if later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub unreferenced_since: Option<String>,
    /// The reason in words.
    pub why: String,
}

/// Storage that live versions account for: distinct stored blobs they reference (as manifest
/// files, or received for them while PENDING) and their bytes. A blob shared by several
/// versions counts once per total; totals of different entities may overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Storage {
    /// Distinct blobs.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Versions that are not DELETED.
    pub live_versions: u64,
}

/// A project's [`Storage`], in a [`GarbageReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectStorage {
    /// The project's name.
    pub project: String,
    /// Its storage.
    pub storage: Storage,
}

/// An entity's [`Storage`] and its projects', in a [`GarbageReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntityStorage {
    /// The entity's name.
    pub entity: String,
    /// Its storage (blobs shared by its projects count once).
    pub storage: Storage,
    /// Its projects with live versions or storage, by name.
    pub projects: Vec<ProjectStorage>,
}

/// The answer to [`CollectGarbage`]: what was freed and why, what was kept, and the storage
/// per entity and project afterwards (exact: computed from the live versions once the
/// collection is done).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GarbageReport {
    /// Nothing was changed; the report says what a collection would free.
    pub dry_run: bool,
    /// When the collection started, on the server's clock.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub started_at: String,
    /// When it finished.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub finished_at: String,
    /// The grace period, in seconds.
    pub grace_seconds: u64,
    /// Blobs unreferenced since this time or earlier were collectable.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub cutoff: String,
    /// The blobs freed (at most 1,000 listed; the totals count all).
    pub freed: Vec<FreedBlob>,
    /// How many blobs were freed.
    pub freed_blobs: u64,
    /// Their bytes.
    pub freed_bytes: u64,
    /// Unreferenced blobs kept because their grace period has not passed.
    pub kept_in_grace_blobs: u64,
    /// Their bytes.
    pub kept_in_grace_bytes: u64,
    /// Collectable blobs kept because an upload was storing them at that moment.
    pub kept_uploading: u64,
    /// Blobs whose deletion failed; the next collection retries them.
    pub failed: u64,
    /// Blobs stored afterwards (in a dry run: now).
    pub stored_blobs: u64,
    /// Their bytes.
    pub stored_bytes: u64,
    /// Storage per entity and project afterwards, by name.
    pub entities: Vec<EntityStorage>,
}
