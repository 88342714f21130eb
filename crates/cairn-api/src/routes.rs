//! Every route of the native API: axum route patterns (`PATTERN_*`, `{name}` captures) and the
//! functions that build concrete paths. Path segments are percent-encoded, so a name can never
//! add or remove a `/`.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters escaped in a path segment: everything but RFC 3986 unreserved characters and `:`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'&')
    .add(b'+')
    .add(b'=')
    .add(b';')
    .add(b',')
    .add(b'$')
    .add(b'!')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*');

/// `value` percent-encoded as one path segment: it can never add or remove a `/`.
///
/// ```
/// assert_eq!(cairn_api::routes::segment("a/b c"), "a%2Fb%20c");
/// ```
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Liveness and readiness: `200` with [`crate::ServerInfo`] once the server accepts requests.
pub const HEALTHZ: &str = "/healthz";
/// The OpenAPI 3.1 document of the native API.
pub const OPENAPI: &str = "/api/v1/openapi.json";
/// [`crate::ServerInfo`].
pub const SERVER: &str = "/api/v1/server";
/// [`crate::ServerStats`] (server admins).
pub const SERVER_STATS: &str = "/api/v1/server/stats";
/// `POST`: soft-delete expired versions now ([`crate::SweepReport`]).
pub const SERVER_SWEEP: &str = "/api/v1/server/sweep";
/// `POST` [`crate::AdvanceClock`]: move a test server's clock forward.
pub const SERVER_CLOCK: &str = "/api/v1/server/clock";
/// `POST` [`crate::CollectGarbage`]: run one garbage collection, answering a
/// [`crate::GarbageReport`] (server admins).
pub const SERVER_GC: &str = "/api/v1/server/gc";
/// `GET` the [`crate::Storage`] of an entity (its members and server admins).
pub const PATTERN_ENTITY_STORAGE: &str = "/api/v1/entities/{entity}/storage";
/// `GET` the [`crate::Storage`] of a project (its readers).
pub const PATTERN_PROJECT_STORAGE: &str = "/api/v1/projects/{entity}/{project}/storage";
/// [`crate::Viewer`] of the caller's key.
pub const VIEWER: &str = "/api/v1/viewer";
/// `POST` [`crate::CreateUser`] (server admins).
pub const USERS: &str = "/api/v1/users";
/// `POST` [`crate::CreateApiKey`]: a new API key for the user; `GET` [`crate::ApiKeyList`]
/// (the user or a server admin).
pub const PATTERN_API_KEYS: &str = "/api/v1/users/{username}/api-keys";
/// `DELETE`: revoke one of the user's API keys, by its id (the user or a server admin).
pub const PATTERN_API_KEY: &str = "/api/v1/users/{username}/api-keys/{key_id}";
/// `POST` [`crate::CreateTeam`].
pub const TEAMS: &str = "/api/v1/teams";
/// `GET` a [`crate::Team`].
pub const PATTERN_TEAM: &str = "/api/v1/teams/{team}";
/// `PUT` [`crate::SetTeamMember`] / `DELETE` a member (team admins).
pub const PATTERN_TEAM_MEMBER: &str = "/api/v1/teams/{team}/members/{username}";
/// `GET` [`crate::ProjectList`].
pub const PATTERN_ENTITY_PROJECTS: &str = "/api/v1/entities/{entity}/projects";
/// `GET` / `PUT` a [`crate::Project`].
pub const PATTERN_PROJECT: &str = "/api/v1/projects/{entity}/{project}";
// (`DELETE` on it, on [`PATTERN_COLLECTION`] and on [`PATTERN_RUN`] answers a
// [`crate::Deletion`].)
/// `GET` [`crate::CollectionList`].
pub const PATTERN_COLLECTIONS: &str = "/api/v1/projects/{entity}/{project}/collections";
/// `GET` [`crate::ArtifactTypeList`].
pub const PATTERN_ARTIFACT_TYPES: &str = "/api/v1/projects/{entity}/{project}/types";
/// `GET` a [`crate::Collection`].
pub const PATTERN_COLLECTION: &str = "/api/v1/projects/{entity}/{project}/collections/{collection}";
/// `GET` [`crate::VersionList`].
pub const PATTERN_COLLECTION_VERSIONS: &str =
    "/api/v1/projects/{entity}/{project}/collections/{collection}/versions";
/// `POST` the raw bytes of a large file before any version lists it: the server hashes them,
/// stages the blob for the caller and answers its [`crate::BlobRef`].
pub const PATTERN_STAGED_BLOBS: &str = "/api/v1/projects/{entity}/{project}/staged-blobs";
/// `POST` [`crate::KnownSizes`]: which sizes the caller already has a usable blob of.
pub const PATTERN_KNOWN_SIZES: &str = "/api/v1/projects/{entity}/{project}/known-sizes";
/// `POST` [`crate::CreateVersion`].
pub const PATTERN_VERSIONS: &str = "/api/v1/projects/{entity}/{project}/artifacts";
/// `GET` a [`crate::Version`] by `name:alias`, `name:vN` or `name:<digest>`.
pub const PATTERN_VERSION_BY_NAME: &str = "/api/v1/projects/{entity}/{project}/artifacts/{name}";
/// `POST` [`crate::CreateRun`].
pub const PATTERN_RUNS: &str = "/api/v1/projects/{entity}/{project}/runs";
/// `GET` a [`crate::Run`].
pub const PATTERN_RUN: &str = "/api/v1/projects/{entity}/{project}/runs/{run}";
/// `POST` [`crate::FinishRun`].
pub const PATTERN_RUN_FINISH: &str = "/api/v1/projects/{entity}/{project}/runs/{run}/finish";
/// `POST` [`crate::UseArtifact`].
pub const PATTERN_RUN_INPUTS: &str = "/api/v1/projects/{entity}/{project}/runs/{run}/inputs";
/// `GET` [`crate::RunArtifacts`].
pub const PATTERN_RUN_ARTIFACTS: &str = "/api/v1/projects/{entity}/{project}/runs/{run}/artifacts";
/// `GET`, `PATCH` ([`crate::UpdateVersion`]) and `DELETE` a version by id.
pub const PATTERN_VERSION: &str = "/api/v1/artifacts/{id}";
/// `PUT` (raw manifest JSON, answers [`crate::ManifestReceipt`]) / `GET` (verbatim bytes).
pub const PATTERN_MANIFEST: &str = "/api/v1/artifacts/{id}/manifest";
/// `GET` [`crate::ManifestReceipt`].
pub const PATTERN_MISSING_BLOBS: &str = "/api/v1/artifacts/{id}/missing-blobs";
/// `POST` a [`crate::batch`] body of small blobs.
pub const PATTERN_BLOB_BATCH: &str = "/api/v1/artifacts/{id}/blobs";
/// `PUT` (raw bytes) / `GET` (with `Range`, `ETag`) one blob by its hex MD5.
pub const PATTERN_BLOB: &str = "/api/v1/artifacts/{id}/blobs/{md5}";
/// `POST` [`crate::ReadSmallBlobs`]: many small blobs in one answer, framed as in [`crate::batch`].
pub const PATTERN_SMALL_BLOBS: &str = "/api/v1/artifacts/{id}/small-blobs";
/// `POST` [`crate::CommitVersion`].
pub const PATTERN_COMMIT: &str = "/api/v1/artifacts/{id}/commit";
/// `GET` [`crate::Lineage`].
pub const PATTERN_LINEAGE: &str = "/api/v1/artifacts/{id}/lineage";
/// `GET` [`crate::LineageGraph`].
pub const PATTERN_LINEAGE_GRAPH: &str = "/api/v1/artifacts/{id}/lineage/graph";
/// `POST` [`crate::CreateLink`], `GET` [`crate::LinkList`].
pub const PATTERN_LINKS: &str = "/api/v1/artifacts/{id}/links";
/// `DELETE`: unlink the version from this portfolio.
pub const PATTERN_LINK: &str = "/api/v1/artifacts/{id}/links/{entity}/{project}/{portfolio}";
/// `GET` and `PATCH` [`crate::ProtectedAliases`].
pub const PATTERN_PROTECTED_ALIASES: &str = "/api/v1/projects/{entity}/{project}/protected-aliases";

/// `GET` and `PATCH` [`crate::TeamSettings`].
pub const PATTERN_TEAM_SETTINGS: &str = "/api/v1/teams/{team}/settings";

/// `/api/v1/teams/{team}/settings`.
pub fn team_settings(team: &str) -> String {
    format!("{}/settings", self::team(team))
}

/// `/api/v1/users/{username}/api-keys`.
pub fn api_keys(username: &str) -> String {
    format!("/api/v1/users/{}/api-keys", segment(username))
}

/// `/api/v1/users/{username}/api-keys/{key_id}`.
pub fn api_key(username: &str, key_id: &str) -> String {
    format!(
        "/api/v1/users/{}/api-keys/{}",
        segment(username),
        segment(key_id)
    )
}

/// `/api/v1/teams/{team}`.
pub fn team(team: &str) -> String {
    format!("/api/v1/teams/{}", segment(team))
}

/// `/api/v1/teams/{team}/members/{username}`.
pub fn team_member(team: &str, username: &str) -> String {
    format!(
        "/api/v1/teams/{}/members/{}",
        segment(team),
        segment(username)
    )
}

/// `/api/v1/entities/{entity}/projects`.
pub fn entity_projects(entity: &str) -> String {
    format!("/api/v1/entities/{}/projects", segment(entity))
}

/// `/api/v1/entities/{entity}/storage`.
pub fn entity_storage(entity: &str) -> String {
    format!("/api/v1/entities/{}/storage", segment(entity))
}

/// `/api/v1/projects/{entity}/{project}/storage`.
pub fn project_storage(entity: &str, project_name: &str) -> String {
    format!("{}/storage", project(entity, project_name))
}

/// `/api/v1/projects/{entity}/{project}`.
pub fn project(entity: &str, project: &str) -> String {
    format!("/api/v1/projects/{}/{}", segment(entity), segment(project))
}

/// `/api/v1/projects/{entity}/{project}/collections`.
pub fn collections(entity: &str, project_name: &str) -> String {
    format!("{}/collections", project(entity, project_name))
}

/// `/api/v1/projects/{entity}/{project}/collections?type=...`: only collections of one type.
pub fn collections_of_type(entity: &str, project_name: &str, artifact_type: &str) -> String {
    format!(
        "{}?type={}",
        collections(entity, project_name),
        segment(artifact_type)
    )
}

/// `/api/v1/projects/{entity}/{project}/types`.
pub fn artifact_types(entity: &str, project_name: &str) -> String {
    format!("{}/types", project(entity, project_name))
}

/// `/api/v1/projects/{entity}/{project}/collections/{collection}`.
pub fn collection(entity: &str, project_name: &str, collection: &str) -> String {
    format!(
        "{}/collections/{}",
        project(entity, project_name),
        segment(collection)
    )
}

/// [`collection_versions`] with a page's query: only the version `alias` names, only versions
/// older than `vN` = `before`, at most `limit`.
pub fn collection_versions_page(
    entity: &str,
    project_name: &str,
    collection_name: &str,
    alias: Option<&str>,
    before: Option<u64>,
    limit: Option<usize>,
) -> String {
    let mut query = Vec::new();
    if let Some(alias) = alias {
        query.push(format!("alias={}", segment(alias)));
    }
    if let Some(before) = before {
        query.push(format!("before={before}"));
    }
    if let Some(limit) = limit {
        query.push(format!("limit={limit}"));
    }
    let path = collection_versions(entity, project_name, collection_name);
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// `/api/v1/projects/{entity}/{project}/collections/{collection}/versions`.
pub fn collection_versions(entity: &str, project_name: &str, collection_name: &str) -> String {
    format!(
        "{}/versions",
        collection(entity, project_name, collection_name)
    )
}

/// `/api/v1/projects/{entity}/{project}/artifacts`.
pub fn versions(entity: &str, project_name: &str) -> String {
    format!("{}/artifacts", project(entity, project_name))
}

/// `/api/v1/projects/{entity}/{project}/staged-blobs`.
pub fn staged_blobs(entity: &str, project_name: &str) -> String {
    format!("{}/staged-blobs", project(entity, project_name))
}

/// `/api/v1/projects/{entity}/{project}/known-sizes`.
pub fn known_sizes(entity: &str, project_name: &str) -> String {
    format!("{}/known-sizes", project(entity, project_name))
}

/// `/api/v1/projects/{entity}/{project}/artifacts/{name}:{selector}`.
pub fn version_by_name(entity: &str, project_name: &str, name: &str, selector: &str) -> String {
    format!(
        "{}/artifacts/{}:{}",
        project(entity, project_name),
        segment(name),
        segment(selector)
    )
}

/// `/api/v1/projects/{entity}/{project}/runs`.
pub fn runs(entity: &str, project_name: &str) -> String {
    format!("{}/runs", project(entity, project_name))
}

/// `/api/v1/projects/{entity}/{project}/runs/{run}`.
pub fn run(entity: &str, project_name: &str, run: &str) -> String {
    format!("{}/runs/{}", project(entity, project_name), segment(run))
}

/// `/api/v1/projects/{entity}/{project}/runs/{run}/finish`.
pub fn run_finish(entity: &str, project_name: &str, run_id: &str) -> String {
    format!("{}/finish", run(entity, project_name, run_id))
}

/// `/api/v1/projects/{entity}/{project}/runs/{run}/inputs`.
pub fn run_inputs(entity: &str, project_name: &str, run_id: &str) -> String {
    format!("{}/inputs", run(entity, project_name, run_id))
}

/// `/api/v1/projects/{entity}/{project}/runs/{run}/artifacts`.
pub fn run_artifacts(entity: &str, project_name: &str, run_id: &str) -> String {
    format!("{}/artifacts", run(entity, project_name, run_id))
}

/// `/api/v1/artifacts/{id}`.
pub fn version(id: &str) -> String {
    format!("/api/v1/artifacts/{}", segment(id))
}

/// `/api/v1/artifacts/{id}/manifest`.
pub fn manifest(id: &str) -> String {
    format!("{}/manifest", version(id))
}

/// `/api/v1/artifacts/{id}/missing-blobs`.
pub fn missing_blobs(id: &str) -> String {
    format!("{}/missing-blobs", version(id))
}

/// `/api/v1/artifacts/{id}/blobs`.
pub fn blob_batch(id: &str) -> String {
    format!("{}/blobs", version(id))
}

/// `/api/v1/artifacts/{id}/small-blobs`.
pub fn small_blobs(id: &str) -> String {
    format!("{}/small-blobs", version(id))
}

/// `/api/v1/artifacts/{id}/blobs/{md5}`.
pub fn blob(id: &str, md5_hex: &str) -> String {
    format!("{}/blobs/{}", version(id), segment(md5_hex))
}

/// `/api/v1/artifacts/{id}/commit`.
pub fn commit(id: &str) -> String {
    format!("{}/commit", version(id))
}

/// `/api/v1/artifacts/{id}?delete_aliases=..`.
pub fn delete_version(id: &str, delete_aliases: bool) -> String {
    format!("{}?delete_aliases={delete_aliases}", version(id))
}

/// `/api/v1/projects/{entity}/{project}/runs/{run}?delete_artifacts=..`.
pub fn delete_run(
    entity: &str,
    project_name: &str,
    run_id: &str,
    delete_artifacts: bool,
) -> String {
    format!(
        "{}?delete_artifacts={delete_artifacts}",
        run(entity, project_name, run_id)
    )
}

/// `/api/v1/artifacts/{id}/links`.
pub fn links(id: &str) -> String {
    format!("{}/links", version(id))
}

/// `/api/v1/artifacts/{id}/links/{entity}/{project}/{portfolio}`.
pub fn link(id: &str, entity: &str, project_name: &str, portfolio: &str) -> String {
    format!(
        "{}/links/{}/{}/{}",
        version(id),
        segment(entity),
        segment(project_name),
        segment(portfolio)
    )
}

/// `/api/v1/projects/{entity}/{project}/protected-aliases`.
pub fn protected_aliases(entity: &str, project_name: &str) -> String {
    format!("{}/protected-aliases", project(entity, project_name))
}

/// `/api/v1/artifacts/{id}/lineage`.
pub fn lineage(id: &str) -> String {
    format!("{}/lineage", version(id))
}

/// `/api/v1/artifacts/{id}/lineage/graph?depth=..&direction=..&after=..&limit=..`.
pub fn lineage_graph(
    id: &str,
    depth: u32,
    direction: crate::LineageDirection,
    after: usize,
    limit: usize,
) -> String {
    let direction = match direction {
        crate::LineageDirection::Up => "up",
        crate::LineageDirection::Down => "down",
        crate::LineageDirection::Both => "both",
    };
    format!(
        "{}/lineage/graph?depth={depth}&direction={direction}&after={after}&limit={limit}",
        version(id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_add_slashes() {
        assert_eq!(
            version_by_name("e", "p", "a/b", "x y?#"),
            "/api/v1/projects/e/p/artifacts/a%2Fb:x%20y%3F%23"
        );
        assert_eq!(blob("id", "00ff"), "/api/v1/artifacts/id/blobs/00ff");
    }
}
