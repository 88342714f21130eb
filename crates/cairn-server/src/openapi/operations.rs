//! Every operation of the native API as a `#[utoipa::path]`, in the order of the route table
//! (`crate::router`), which pairs each with its handler. Each function returns its own entry
//! ([`Doc`]); its doc comment is the operation's summary (first line) and description.
//!
//! Security: routes anyone may call say `security(())`; routes that readers of public and open
//! projects may call without a key also list the document's schemes; the rest need a key (the
//! document's default). The answers every route can give (`500`, `503`) are added by
//! [`crate::openapi::document`].

use cairn_api::{
    AdvanceClock, ApiKey, ApiKeyList, ArtifactTypeList, BlobReceipt, BlobRef, CollectGarbage,
    CommitVersion, CreateApiKey, CreateLink, CreateRun, CreateTeam, CreateUser, CreateVersion,
    CreatedApiKey, CreatedVersion, Deletion, FinishRun, GarbageReport, KnownSizes, Lineage,
    LineageDirection, LineageGraph, LinkList, ManifestReceipt, Project, ProjectList,
    ProtectedAliases, Run, RunArtifacts, ServerClock, ServerInfo, ServerStats, SetTeamMember,
    Storage, SweepReport, Team, TeamSettings, UpdateCollection, UpdateProtectedAliases,
    UpdateTeamSettings, UpdateVersion, UpsertProject, UseArtifact, Version, VersionList, Viewer,
    routes,
};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::openapi::{
    BadRequest, Conflict, Doc, NotFound, PayloadTooLarge, PermissionDenied, RangeNotSatisfiable,
    Tag, Unauthenticated, Unprocessable,
};

/// Raw bytes: a blob's content, or a batch of framed blobs.
struct Bytes;

impl PartialSchema for Bytes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Bytes {}

/// A JSON document kept verbatim: a manifest.
struct JsonObject;

impl PartialSchema for JsonObject {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Object).into()
    }
}

impl ToSchema for JsonObject {}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct UserPath {
    /// The user name.
    username: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct ApiKeyPath {
    /// The user name.
    username: String,
    /// The key's id (as listed; not the secret).
    key_id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct TeamPath {
    /// The team's name.
    team: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct TeamMemberPath {
    /// The team's name.
    team: String,
    /// The member's user name.
    username: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct EntityPath {
    /// The user or team.
    entity: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct ProjectPath {
    /// The owning user or team.
    entity: String,
    /// The project's name.
    project: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes query parameters; never built")]
struct ManifestQuery {
    /// Who writes this part of a distributed version (a run, say): 1 to 256 bytes without
    /// control characters, checked on every version and used only by distributed ones.
    #[param(min_length = 1, max_length = 256)]
    writer: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes query parameters; never built")]
struct GraphQuery {
    /// Hops from the version (version → run or run → version), 1 to 1000; default 2.
    #[param(minimum = 1, maximum = 1000)]
    depth: Option<u32>,
    /// `up` (what it was made from), `down` (what was made from it) or `both` (default).
    direction: Option<LineageDirection>,
    /// Nodes to skip: the `next` of the previous page.
    #[param(minimum = 0)]
    after: Option<u64>,
    /// Nodes on this page at most, 1 to 10,000; default 1000.
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes query parameters; never built")]
struct CollectionsQuery {
    /// Only collections of this artifact type.
    r#type: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes query parameters; never built")]
struct VersionsQuery {
    /// Only the version this alias points at.
    alias: Option<String>,
    /// Only versions older than `vN` (the `next` of the previous page).
    #[param(minimum = 0)]
    before: Option<u64>,
    /// At most this many versions (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct CollectionPath {
    /// The owning user or team.
    entity: String,
    /// The project's name.
    project: String,
    /// The collection's (artifact's) name.
    collection: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct VersionNamePath {
    /// The owning user or team.
    entity: String,
    /// The project's name.
    project: String,
    /// `collection:selector` (percent-encoded), where the selector is an alias, `vN` or a
    /// 32-hex artifact digest; `latest` when there is no `:selector`.
    name: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct RunPath {
    /// The owning user or team.
    entity: String,
    /// The project's name.
    project: String,
    /// The run id.
    run: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct VersionPath {
    /// The version's opaque id.
    id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct LinkPath {
    /// The version's opaque id.
    id: String,
    /// The portfolio's entity.
    entity: String,
    /// The portfolio's project.
    project: String,
    /// The portfolio's name.
    portfolio: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[expect(dead_code, reason = "describes path parameters; never built")]
struct BlobPath {
    /// The version's opaque id.
    id: String,
    /// The blob's MD5, 32 hex digits.
    md5: String,
}

/// Liveness and readiness
///
/// `200` with `ServerInfo` once the databases answer.
#[utoipa::path(
    get, path = routes::HEALTHZ, operation_id = "healthz",
    security(()),
    responses((status = 200, description = "The server is ready", body = ServerInfo)),
)]
pub(crate) fn healthz() -> Doc {
    Doc::of::<__path_healthz>(Tag::Server)
}

/// This document
///
/// The OpenAPI 3.1 description of the native API, generated from the server's route table
/// and wire types.
#[utoipa::path(
    get, path = routes::OPENAPI, operation_id = "openapi",
    security(()),
    responses((status = 200, description = "The document", body = inline(JsonObject))),
)]
pub(crate) fn openapi() -> Doc {
    Doc::of::<__path_openapi>(Tag::Server)
}

/// What the server is
///
/// API version, server version and blob store kind.
#[utoipa::path(
    get, path = routes::SERVER, operation_id = "serverInfo",
    security(()),
    responses((status = 200, description = "The server", body = ServerInfo)),
)]
pub(crate) fn server_info() -> Doc {
    Doc::of::<__path_server_info>(Tag::Server)
}

/// Counters
///
/// Blob and commit counters since the process started. Server admins only.
#[utoipa::path(
    get, path = routes::SERVER_STATS, operation_id = "serverStats",
    responses(
        (status = 200, description = "The counters", body = ServerStats),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
    ),
)]
pub(crate) fn server_stats() -> Doc {
    Doc::of::<__path_server_stats>(Tag::Server)
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes query parameters; never built")]
struct DeleteRunQuery {
    /// Soft-delete the versions the run logged too; without it they stay, without the run in
    /// their lineage.
    delete_artifacts: Option<bool>,
}

/// Delete a project
///
/// Soft-deletes every version in it, removes the links in its portfolios, deletes its runs
/// and frees its name. Admins of the entity only; refused while a version in it carries a
/// protected alias.
#[utoipa::path(
    delete, path = routes::PATTERN_PROJECT, operation_id = "deleteProject",
    params(ProjectPath),
    responses(
        (status = 200, description = "What was deleted", body = Deletion),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn delete_project() -> Doc {
    Doc::of::<__path_delete_project>(Tag::Projects)
}

/// Delete a collection
///
/// Soft-deletes every version in it (for a portfolio: removes every link; the linked
/// versions stay) and frees its name. Writers of the project; refused while anything in it
/// carries a protected alias.
#[utoipa::path(
    delete, path = routes::PATTERN_COLLECTION, operation_id = "deleteCollection",
    params(CollectionPath),
    responses(
        (status = 200, description = "What was deleted", body = Deletion),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn delete_collection() -> Doc {
    Doc::of::<__path_delete_collection>(Tag::Projects)
}

/// Delete a run
///
/// Deletes the run (its id is free again); with `delete_artifacts=true` also soft-deletes the
/// versions it logged. Writers of the project.
#[utoipa::path(
    delete, path = routes::PATTERN_RUN, operation_id = "deleteRun",
    params(RunPath, DeleteRunQuery),
    responses(
        (status = 200, description = "What was deleted", body = Deletion),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn delete_run() -> Doc {
    Doc::of::<__path_delete_run>(Tag::Runs)
}

/// Sweep expired versions
///
/// Soft-deletes every committed version whose TTL has run out now, as the background sweeper
/// does on its interval; keeps (and lists, with why) expired versions that carry a protected
/// alias or are linked into a model registry. Server admins only.
#[utoipa::path(
    post, path = routes::SERVER_SWEEP, operation_id = "sweep",
    responses(
        (status = 200, description = "What the sweep did", body = SweepReport),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
    ),
)]
pub(crate) fn sweep() -> Doc {
    Doc::of::<__path_sweep>(Tag::Server)
}

/// A team's retention settings
///
/// Its default TTL and who may set TTLs. Members and server admins.
#[utoipa::path(
    get, path = routes::PATTERN_TEAM_SETTINGS, operation_id = "teamSettings",
    params(TeamPath),
    responses(
        (status = 200, description = "The settings", body = TeamSettings),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn team_settings() -> Doc {
    Doc::of::<__path_team_settings>(Tag::Accounts)
}

/// Change a team's retention settings
///
/// The default TTL versions inherit (`{"seconds": N}`, or `"none"` to remove it; it applies at
/// once to every version that inherits it, counted from each one's creation) and who may set
/// TTLs (`admins`, or `members` too). Team admins only.
#[utoipa::path(
    patch, path = routes::PATTERN_TEAM_SETTINGS, operation_id = "updateTeamSettings",
    params(TeamPath),
    request_body = Option<UpdateTeamSettings>,
    responses(
        (status = 200, description = "The settings", body = TeamSettings),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn update_team_settings() -> Doc {
    Doc::of::<__path_update_team_settings>(Tag::Accounts)
}

/// Move a test server's clock forward
///
/// Only on a server started with `--test-clock`, and only for server admins: moves the clock
/// that TTL and key expiry read, so tests need not wait. Refused (400) on any other server.
#[utoipa::path(
    post, path = routes::SERVER_CLOCK, operation_id = "advanceClock",
    request_body = AdvanceClock,
    responses(
        (status = 200, description = "The clock now", body = ServerClock),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn advance_clock() -> Doc {
    Doc::of::<__path_advance_clock>(Tag::Server)
}

/// Collect garbage
///
/// Server admins only. Removes the blobs no live (not DELETED) version references once they
/// have been unreferenced for the server's grace period (`--gc-grace`), and bytes the metadata
/// does not record; with `dry_run`, changes nothing and reports what it would free. Answers
/// what was freed and why, what was kept, and the storage per entity and project afterwards.
/// One collection runs at a time; a second request waits for the first.
#[utoipa::path(
    post, path = routes::SERVER_GC, operation_id = "collectGarbage",
    request_body = Option<CollectGarbage>,
    responses(
        (status = 200, description = "What the collection did", body = GarbageReport),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn collect_garbage() -> Doc {
    Doc::of::<__path_collect_garbage>(Tag::Server)
}

/// An entity's storage
///
/// The distinct stored blobs the live versions of the entity's projects reference, their
/// bytes, and the live versions. For the user themselves, the team's members and server admins.
#[utoipa::path(
    get, path = routes::PATTERN_ENTITY_STORAGE, operation_id = "entityStorage",
    params(EntityPath),
    responses(
        (status = 200, description = "The storage", body = Storage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn entity_storage() -> Doc {
    Doc::of::<__path_entity_storage>(Tag::Projects)
}

/// A project's storage
///
/// The distinct stored blobs the project's live versions reference, their bytes, and the live
/// versions. `404` when the project does not exist or the caller may not read it.
#[utoipa::path(
    get, path = routes::PATTERN_PROJECT_STORAGE, operation_id = "projectStorage",
    params(ProjectPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The storage", body = Storage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn project_storage() -> Doc {
    Doc::of::<__path_project_storage>(Tag::Projects)
}

/// Who am I
///
/// The key's user and their teams.
#[utoipa::path(
    get, path = routes::VIEWER, operation_id = "viewer",
    responses(
        (status = 200, description = "The caller", body = Viewer),
        (status = 401, response = Unauthenticated),
    ),
)]
pub(crate) fn viewer() -> Doc {
    Doc::of::<__path_viewer>(Tag::Accounts)
}

/// Create a user
///
/// Server admins only. Answers the new user's first API key, shown once.
#[utoipa::path(
    post, path = routes::USERS, operation_id = "createUser",
    request_body = CreateUser,
    responses(
        (status = 201, description = "The user and their first key", body = CreatedApiKey),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn create_user() -> Doc {
    Doc::of::<__path_create_user>(Tag::Accounts)
}

/// Create an API key
///
/// For yourself, or for anyone as a server admin, with an optional name and lifetime (the body
/// is optional too). The secret is shown once; the server keeps only its hash.
#[utoipa::path(
    post, path = routes::PATTERN_API_KEYS, operation_id = "createApiKey",
    params(UserPath),
    request_body(content = Option<CreateApiKey>),
    responses(
        (status = 201, description = "The new key", body = CreatedApiKey),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn create_api_key() -> Doc {
    Doc::of::<__path_create_api_key>(Tag::Accounts)
}

/// List API keys
///
/// Your own, or anyone's as a server admin: oldest first, revoked and expired ones included,
/// never their secrets.
#[utoipa::path(
    get, path = routes::PATTERN_API_KEYS, operation_id = "listApiKeys",
    params(UserPath),
    responses(
        (status = 200, description = "The keys", body = ApiKeyList),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn list_api_keys() -> Doc {
    Doc::of::<__path_list_api_keys>(Tag::Accounts)
}

/// Revoke an API key
///
/// Your own, or anyone's as a server admin. From now on the key, and every signed URL handed
/// out to its requests, answers `401` saying it was revoked. Revoking a revoked key answers it
/// unchanged.
#[utoipa::path(
    delete, path = routes::PATTERN_API_KEY, operation_id = "revokeApiKey",
    params(ApiKeyPath),
    responses(
        (status = 200, description = "The revoked key", body = ApiKey),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn revoke_api_key() -> Doc {
    Doc::of::<__path_revoke_api_key>(Tag::Accounts)
}

/// Create a team
///
/// Any signed-in user; the caller becomes its admin. The name must not clash with a user or
/// team.
#[utoipa::path(
    post, path = routes::TEAMS, operation_id = "createTeam",
    request_body = CreateTeam,
    responses(
        (status = 201, description = "The team", body = Team),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn create_team() -> Doc {
    Doc::of::<__path_create_team>(Tag::Accounts)
}

/// A team and its members
///
/// Members and server admins; others get `404`.
#[utoipa::path(
    get, path = routes::PATTERN_TEAM, operation_id = "getTeam",
    params(TeamPath),
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn get_team() -> Doc {
    Doc::of::<__path_get_team>(Tag::Accounts)
}

/// Add a member or change a role
///
/// Team admins and server admins. The last admin cannot be demoted (`409`).
#[utoipa::path(
    put, path = routes::PATTERN_TEAM_MEMBER, operation_id = "setTeamMember",
    params(TeamMemberPath),
    request_body = SetTeamMember,
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn set_team_member() -> Doc {
    Doc::of::<__path_set_team_member>(Tag::Accounts)
}

/// Remove a member
///
/// Team admins and server admins; members may remove themselves. The last admin cannot be
/// removed (`409`).
#[utoipa::path(
    delete, path = routes::PATTERN_TEAM_MEMBER,
    operation_id = "removeTeamMember",
    params(TeamMemberPath),
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn remove_team_member() -> Doc {
    Doc::of::<__path_remove_team_member>(Tag::Accounts)
}

/// An entity's projects
///
/// Only the projects the caller may read, sorted by name; `404` when the entity does not
/// exist.
#[utoipa::path(
    get, path = routes::PATTERN_ENTITY_PROJECTS, operation_id = "listProjects",
    params(EntityPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The projects", body = ProjectList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn list_projects() -> Doc {
    Doc::of::<__path_list_projects>(Tag::Projects)
}

/// A project
///
/// `404` when it does not exist or the caller may not read it.
#[utoipa::path(
    get, path = routes::PATTERN_PROJECT, operation_id = "getProject",
    params(ProjectPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The project", body = Project),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn get_project() -> Doc {
    Doc::of::<__path_get_project>(Tag::Projects)
}

/// Create a project or change its visibility
///
/// The owning user, the team's admins and server admins. `201` when created, `200` when
/// changed. An empty body counts as `{}`.
#[utoipa::path(
    put, path = routes::PATTERN_PROJECT, operation_id = "upsertProject",
    params(ProjectPath),
    request_body = Option<UpsertProject>,
    responses(
        (status = 200, description = "The project, changed", body = Project),
        (status = 201, description = "The project, created", body = Project),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn upsert_project() -> Doc {
    Doc::of::<__path_upsert_project>(Tag::Projects)
}

/// A project's collections
///
/// Sorted by name.
#[utoipa::path(
    get, path = routes::PATTERN_COLLECTIONS, operation_id = "listCollections",
    params(ProjectPath, CollectionsQuery),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The collections", body = cairn_api::CollectionList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn list_collections() -> Doc {
    Doc::of::<__path_list_collections>(Tag::Projects)
}

/// A collection
///
/// Its type, committed version count and latest version.
#[utoipa::path(
    get, path = routes::PATTERN_COLLECTION, operation_id = "getCollection",
    params(CollectionPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The collection", body = cairn_api::Collection),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn get_collection() -> Doc {
    Doc::of::<__path_get_collection>(Tag::Projects)
}

/// A project's artifact types
///
/// Sorted by name, each with how many collections have it.
#[utoipa::path(
    get, path = routes::PATTERN_ARTIFACT_TYPES, operation_id = "listArtifactTypes",
    params(ProjectPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The types", body = ArtifactTypeList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn list_artifact_types() -> Doc {
    Doc::of::<__path_list_artifact_types>(Tag::Projects)
}

/// Rename a collection or change its description
///
/// The old name stops resolving at once; versions keep their numbers, ids and aliases.
#[utoipa::path(
    patch, path = routes::PATTERN_COLLECTION, operation_id = "updateCollection",
    params(CollectionPath),
    request_body = UpdateCollection,
    responses(
        (status = 200, description = "The collection", body = cairn_api::Collection),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn update_collection() -> Doc {
    Doc::of::<__path_update_collection>(Tag::Projects)
}

/// A collection's committed versions
///
/// Newest first, a page at a time: pass the answer's `next` as `before` for the next page.
#[utoipa::path(
    get, path = routes::PATTERN_COLLECTION_VERSIONS,
    operation_id = "listVersions",
    params(CollectionPath, VersionsQuery),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The versions", body = VersionList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn list_versions() -> Doc {
    Doc::of::<__path_list_versions>(Tag::Projects)
}

/// Start logging a version
///
/// Step 1 of the logging protocol. Creates the project (private) and the collection on first
/// use. `created` (`201`): a new PENDING version; `resumed` (`200`): a PENDING version with
/// this digest exists, continue it; `existing` (`200`): the latest committed version has this
/// digest, the requested aliases and tags were applied to it and nothing else is to be done.
#[utoipa::path(
    post, path = routes::PATTERN_VERSIONS, operation_id = "createVersion",
    params(ProjectPath),
    request_body = CreateVersion,
    responses(
        (status = 200, description = "Resumed, or existing", body = CreatedVersion),
        (status = 201, description = "Created", body = CreatedVersion),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn create_version() -> Doc {
    Doc::of::<__path_create_version>(Tag::Versions)
}

/// A committed version by name
///
/// Only COMMITTED versions resolve.
#[utoipa::path(
    get, path = routes::PATTERN_VERSION_BY_NAME,
    operation_id = "getVersionByName",
    params(VersionNamePath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The version", body = Version),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn get_version_by_name() -> Doc {
    Doc::of::<__path_get_version_by_name>(Tag::Versions)
}

/// Create or resume a run
///
/// `resume`: `never` (the id must be new, else `409 already_exists`), `allow`, `must` (`404`
/// when missing). A server-chosen id when none is given. `201` when created, `200` when
/// resumed. An empty body counts as `{}`.
#[utoipa::path(
    post, path = routes::PATTERN_RUNS, operation_id = "createRun",
    params(ProjectPath),
    request_body = Option<CreateRun>,
    responses(
        (status = 200, description = "Resumed", body = Run),
        (status = 201, description = "Created", body = Run),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn create_run() -> Doc {
    Doc::of::<__path_create_run>(Tag::Runs)
}

/// A run
#[utoipa::path(
    get, path = routes::PATTERN_RUN, operation_id = "getRun",
    params(RunPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn get_run() -> Doc {
    Doc::of::<__path_get_run>(Tag::Runs)
}

/// Finish a run
///
/// Exit code 0 marks it finished, anything else failed. An empty body counts as `{}`.
#[utoipa::path(
    post, path = routes::PATTERN_RUN_FINISH, operation_id = "finishRun",
    params(RunPath),
    request_body = Option<FinishRun>,
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn finish_run() -> Doc {
    Doc::of::<__path_finish_run>(Tag::Runs)
}

/// Record that a run used a version
///
/// The version must be committed and readable by the caller (any project). Answers the
/// version.
#[utoipa::path(
    post, path = routes::PATTERN_RUN_INPUTS, operation_id = "useArtifact",
    params(RunPath),
    request_body = UseArtifact,
    responses(
        (status = 200, description = "The used version", body = Version),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn use_artifact() -> Doc {
    Doc::of::<__path_use_artifact>(Tag::Runs)
}

/// What a run logged and used
///
/// Committed versions, newest first.
#[utoipa::path(
    get, path = routes::PATTERN_RUN_ARTIFACTS, operation_id = "runArtifacts",
    params(RunPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The versions", body = RunArtifacts),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn run_artifacts() -> Doc {
    Doc::of::<__path_run_artifacts>(Tag::Runs)
}

/// A version by id
///
/// PENDING versions are visible to writers of the project only.
#[utoipa::path(
    get, path = routes::PATTERN_VERSION, operation_id = "getVersion",
    params(VersionPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The version", body = Version),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn get_version() -> Doc {
    Doc::of::<__path_get_version>(Tag::Versions)
}

/// Edit a committed version
///
/// Description (an empty string clears it), metadata (replaced), aliases and tags to add and
/// remove, in one transaction. `latest` cannot be set or removed by hand; `vN` aliases are
/// refused.
#[utoipa::path(
    patch, path = routes::PATTERN_VERSION, operation_id = "updateVersion",
    params(VersionPath),
    request_body = Option<UpdateVersion>,
    responses(
        (status = 200, description = "The version", body = Version),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn update_version() -> Doc {
    Doc::of::<__path_update_version>(Tag::Versions)
}

/// Upload the manifest
///
/// Step 2 of the logging protocol. The raw manifest JSON (W&B manifest v1, at most 64 MiB),
/// kept verbatim. Rejected with `invalid_manifest` when it does not parse, escapes the
/// artifact root, uses XXH128 file digests, or does not hash to the version's digest. Only
/// while PENDING; identical bytes may be sent again, different bytes replace the manifest.
/// The receipt lists the blobs still to upload. For a distributed version the upload is one
/// writer's part (`writer`; the caller's name by default) and the receipt that part's.
#[utoipa::path(
    put, path = routes::PATTERN_MANIFEST, operation_id = "putManifest",
    params(VersionPath, ManifestQuery),
    request_body(
        content = inline(JsonObject), content_type = "application/json",
        description = "The manifest, as the client wrote it",
    ),
    responses(
        (status = 200, description = "The receipt", body = ManifestReceipt),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn put_manifest() -> Doc {
    Doc::of::<__path_put_manifest>(Tag::Blobs)
}

/// The manifest, verbatim
///
/// The bytes as uploaded, with an `ETag` (the MD5 of the bytes); `If-None-Match` with it
/// answers `304`.
#[utoipa::path(
    get, path = routes::PATTERN_MANIFEST, operation_id = "getManifest",
    params(
        VersionPath,
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "An `ETag` seen before"),
    ),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (
            status = 200, description = "The manifest", body = inline(JsonObject),
            headers(("ETag" = String, description = "The quoted MD5 of the bytes")),
        ),
        (
            status = 304, description = "Unchanged since the `ETag` sent",
            headers(("ETag" = String, description = "The quoted MD5 of the bytes")),
        ),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn get_manifest() -> Doc {
    Doc::of::<__path_get_manifest>(Tag::Blobs)
}

/// The blobs still to upload
///
/// The manifest's receipt again, recomputed on every call. Writers only.
#[utoipa::path(
    get, path = routes::PATTERN_MISSING_BLOBS, operation_id = "missingBlobs",
    params(VersionPath),
    responses(
        (status = 200, description = "The receipt", body = ManifestReceipt),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn missing_blobs() -> Doc {
    Doc::of::<__path_missing_blobs>(Tag::Blobs)
}

/// Download many small blobs
///
/// The download mirror of the upload batch: the answer holds one frame per blob asked for (the
/// 16-byte MD5, the size as 8 bytes big-endian, the content), in the order asked. Only blobs of
/// at most 64 KiB, at most 10,000 of them and 16 MiB in all; larger blobs are downloaded one by
/// one. One access decision covers the whole request.
#[utoipa::path(
    post, path = routes::PATTERN_SMALL_BLOBS, operation_id = "readSmallBlobs",
    params(VersionPath),
    request_body = cairn_api::ReadSmallBlobs,
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The frames", content_type = "application/vnd.cairn.blob-batch", body = inline(Bytes)),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn read_small_blobs() -> Doc {
    Doc::of::<__path_read_small_blobs>(Tag::Blobs)
}

/// Upload many small blobs
///
/// Step 3 of the logging protocol for blobs of at most 64 KiB: a body of frames (the 16-byte
/// MD5, the size as 8 bytes big-endian, the content), at most 16 MiB. At the first bad frame
/// the frames before it are kept and the error says how many.
#[utoipa::path(
    post, path = routes::PATTERN_BLOB_BATCH, operation_id = "putBlobBatch",
    params(VersionPath),
    request_body(
        content = inline(Bytes), content_type = "application/vnd.cairn.blob-batch",
        description = "The frames",
    ),
    responses(
        (status = 200, description = "What was stored", body = BlobReceipt),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
    ),
)]
pub(crate) fn put_blob_batch() -> Doc {
    Doc::of::<__path_put_blob_batch>(Tag::Blobs)
}

/// Stage a large blob
///
/// The raw bytes of a file before any version lists it, streamed with a `Content-Length`. The
/// server hashes them while storing them and answers their MD5, which the client checks
/// against its own hash of the same bytes. The blob is then present for every version the
/// caller logs during the garbage collector's grace period, so it is not uploaded again. The
/// caller must be allowed to write to the project (created on first use).
#[utoipa::path(
    post, path = routes::PATTERN_STAGED_BLOBS, operation_id = "stageBlob",
    params(ProjectPath),
    request_body(
        content = inline(Bytes), content_type = "application/octet-stream",
        description = "The content",
    ),
    responses(
        (status = 200, description = "Stored and staged", body = BlobRef),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
    ),
)]
pub(crate) fn stage_blob() -> Doc {
    Doc::of::<__path_stage_blob>(Tag::Blobs)
}

/// Sizes of blobs the caller can use
///
/// Of the sizes asked about (at most 10,000), those the caller already has a usable blob of: one
/// they staged, or one a committed version they may read lists. A client stages a large file
/// only when its size is not among them. The caller must be allowed to write to the project.
#[utoipa::path(
    post, path = routes::PATTERN_KNOWN_SIZES, operation_id = "knownSizes",
    params(ProjectPath),
    request_body = KnownSizes,
    responses(
        (status = 200, description = "The sizes the caller has a blob of", body = KnownSizes),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn known_sizes() -> Doc {
    Doc::of::<__path_known_sizes>(Tag::Blobs)
}

/// Upload one blob
///
/// Step 3 of the logging protocol: the raw bytes, streamed. The MD5 must belong to a file
/// entry of the version's manifest and the size is the manifest's. Digest and size are
/// checked while streaming; a mismatch stores nothing.
#[utoipa::path(
    put, path = routes::PATTERN_BLOB, operation_id = "putBlob",
    params(BlobPath),
    request_body(
        content = inline(Bytes), content_type = "application/octet-stream",
        description = "The content",
    ),
    responses(
        (status = 200, description = "Stored", body = BlobReceipt),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = Unprocessable),
    ),
)]
pub(crate) fn put_blob() -> Doc {
    Doc::of::<__path_put_blob>(Tag::Blobs)
}

/// Download one blob
///
/// One range at most: `Range: bytes=a-b`, `a-` or `-n` answers `206`; several ranges or other
/// units get the whole blob.
#[utoipa::path(
    get, path = routes::PATTERN_BLOB, operation_id = "getBlob",
    params(
        BlobPath,
        ("Range" = Option<String>, Header, nullable = false, description = "`bytes=a-b`, `bytes=a-` or `bytes=-n`"),
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "An `ETag` seen before"),
    ),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (
            status = 200, description = "The content", body = inline(Bytes),
            content_type = "application/octet-stream",
            headers(
                ("ETag" = String, description = "`\"<md5>\"`"),
                ("Accept-Ranges" = String, description = "`bytes`"),
            ),
        ),
        (
            status = 206, description = "The requested range", body = inline(Bytes),
            content_type = "application/octet-stream",
            headers(
                ("ETag" = String, description = "`\"<md5>\"`"),
                ("Accept-Ranges" = String, description = "`bytes`"),
                ("Content-Range" = String, description = "`bytes a-b/size`"),
            ),
        ),
        (
            status = 304, description = "Unchanged since the `ETag` sent",
            headers(("ETag" = String, description = "`\"<md5>\"`")),
        ),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
        (status = 416, response = RangeNotSatisfiable),
    ),
)]
pub(crate) fn get_blob() -> Doc {
    Doc::of::<__path_get_blob>(Tag::Blobs)
}

/// Commit a version
///
/// Step 4 of the logging protocol, in one transaction: every file blob must be present for
/// the caller (else `422 missing_blobs` with the list), then the next `vN` is assigned and
/// `latest` and the requested aliases move here. Committing a committed version answers it
/// again; if the latest version meanwhile got the same digest, this one is discarded and that
/// one answered.
#[utoipa::path(
    post, path = routes::PATTERN_COMMIT, operation_id = "commitVersion",
    params(VersionPath),
    request_body = Option<CommitVersion>,
    responses(
        (status = 200, description = "The committed version", body = Version),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = Unprocessable),
    ),
)]
pub(crate) fn commit_version() -> Doc {
    Doc::of::<__path_commit_version>(Tag::Versions)
}

/// Lineage of a version
///
/// The run that logged it and the runs that used it (those the caller may read).
#[utoipa::path(
    get, path = routes::PATTERN_LINEAGE, operation_id = "lineage",
    params(VersionPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The lineage", body = Lineage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn lineage() -> Doc {
    Doc::of::<__path_lineage>(Tag::Runs)
}

/// Lineage graph of a version
///
/// The bipartite graph of runs and committed versions around the version, upstream,
/// downstream or both, to a depth, breadth first and a page of nodes at a time. Runs and
/// versions the caller may not read are left out and not walked past; `hidden` counts them.
#[utoipa::path(
    get, path = routes::PATTERN_LINEAGE_GRAPH, operation_id = "lineageGraph",
    params(VersionPath, GraphQuery),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "A page of the graph", body = LineageGraph),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn lineage_graph() -> Doc {
    Doc::of::<__path_lineage_graph>(Tag::Runs)
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "describes query parameters; never built")]
struct DeleteQuery {
    /// Remove the version's aliases too (`latest` moves to the newest remaining version);
    /// without it a version with aliases is refused.
    delete_aliases: Option<bool>,
}

/// Delete a version
///
/// Soft-deletes a committed version: it vanishes from lookups and listings at once, its
/// aliases are free again, its links leave their portfolios, and its `vN` is never reused. A
/// version with aliases (`latest` included) is refused unless `delete_aliases=true`; one
/// carrying a protected alias is refused to everyone until a registry admin removes it.
#[utoipa::path(
    delete, path = routes::PATTERN_VERSION, operation_id = "deleteVersion",
    params(VersionPath, DeleteQuery),
    responses(
        (status = 200, description = "The deleted version", body = Version),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn delete_version() -> Doc {
    Doc::of::<__path_delete_version>(Tag::Versions)
}

/// Link a version into a portfolio
///
/// Links a committed version into a portfolio (a registry collection), created on first link
/// with its project when the caller may write to the entity. The version keeps its id,
/// content, digest and lineage; in the portfolio it gets the next `vN` (never reused) and the
/// aliases asked for, and `latest` moves to it. Linking it again only adds aliases. A
/// portfolio holds one artifact type; the model registry (`{entity}/model-registry`) only
/// types containing `model`. Protected aliases need an admin of the portfolio's entity.
#[utoipa::path(
    post, path = routes::PATTERN_LINKS, operation_id = "linkVersion",
    params(VersionPath),
    request_body = CreateLink,
    responses(
        (status = 201, description = "The version seen through the portfolio", body = Version),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn link_version() -> Doc {
    Doc::of::<__path_link_version>(Tag::Versions)
}

/// Portfolios a version is linked into
///
/// The version seen through each portfolio it is linked into that the caller may read.
#[utoipa::path(
    get, path = routes::PATTERN_LINKS, operation_id = "versionLinks",
    params(VersionPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The links", body = LinkList),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn version_links() -> Doc {
    Doc::of::<__path_version_links>(Tag::Versions)
}

/// Unlink a version from a portfolio
///
/// Removes the link and its aliases in the portfolio; the version itself is untouched. Answers
/// the removed link as it was (its `source` names where the version stays). `latest` moves to
/// the newest remaining link.
/// Refused while the link carries a protected alias.
#[utoipa::path(
    delete, path = routes::PATTERN_LINK, operation_id = "unlinkVersion",
    params(LinkPath),
    responses(
        (status = 200, description = "The removed link, as it was", body = Version),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) fn unlink_version() -> Doc {
    Doc::of::<__path_unlink_version>(Tag::Versions)
}

/// Protected aliases of a project
#[utoipa::path(
    get, path = routes::PATTERN_PROTECTED_ALIASES, operation_id = "protectedAliases",
    params(ProjectPath),
    security((), ("bearer" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The protected aliases", body = ProtectedAliases),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) fn protected_aliases() -> Doc {
    Doc::of::<__path_protected_aliases>(Tag::Projects)
}

/// Declare protected aliases
///
/// Only admins of the project's entity may. A protected alias can then be added or removed
/// only by them, and a version or link carrying it cannot be unlinked or deleted by anyone
/// until it is removed.
#[utoipa::path(
    patch, path = routes::PATTERN_PROTECTED_ALIASES, operation_id = "updateProtectedAliases",
    params(ProjectPath),
    request_body = Option<UpdateProtectedAliases>,
    responses(
        (status = 200, description = "The protected aliases", body = ProtectedAliases),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthenticated),
        (status = 403, response = PermissionDenied),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
    ),
)]
pub(crate) fn update_protected_aliases() -> Doc {
    Doc::of::<__path_update_protected_aliases>(Tag::Projects)
}
