//! Projects and collections: an entity's projects (only the readable ones), a project's
//! settings, its collections and a collection's committed versions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_api::{
    ArtifactTypeList, CollectionList, ProjectList, UpdateCollection, UpsertProject, VersionList,
};
use cairn_service::model::{CollectionEdit, VersionQuery};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, QueryParams, json, ok};
use crate::state::AppState;
use crate::wire;

/// `GET /api/v1/entities/{entity}/projects`.
pub(crate) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(entity): PathParams<String>,
) -> Result<Response, ApiError> {
    let projects = state.service().projects(auth.caller(), &entity).await?;
    Ok(ok(&ProjectList {
        projects: projects.into_iter().map(wire::project).collect(),
    }))
}

/// `GET /api/v1/projects/{entity}/{project}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let project = state
        .service()
        .project(auth.caller(), &entity, &project)
        .await?;
    Ok(ok(&wire::project(project)))
}

/// `GET /api/v1/projects/{entity}/{project}/storage`.
pub(crate) async fn storage(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let storage = state
        .service()
        .project_storage(auth.caller(), &entity, &project)
        .await?;
    Ok(ok(&wire::storage(storage)))
}

/// `GET /api/v1/entities/{entity}/storage` (the user, the team's members, server admins).
pub(crate) async fn entity_storage(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(entity): PathParams<String>,
) -> Result<Response, ApiError> {
    let storage = state
        .service()
        .entity_storage(auth.caller(), &entity)
        .await?;
    Ok(ok(&wire::storage(storage)))
}

/// `PUT /api/v1/projects/{entity}/{project}`: create or change settings (owner user, team
/// admins, server admins).
pub(crate) async fn put(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<UpsertProject>,
) -> Result<Response, ApiError> {
    let visibility = request.visibility.map(wire::visibility_from);
    let (project, created) = state
        .service()
        .upsert_project(auth.caller(), &entity, &project, visibility)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json(status, &wire::project(project)))
}

/// The query of `GET .../collections`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CollectionsQuery {
    /// Only collections of this artifact type.
    #[serde(rename = "type")]
    artifact_type: Option<String>,
}

/// `GET /api/v1/projects/{entity}/{project}/collections[?type=T]`.
pub(crate) async fn collections(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<CollectionsQuery>,
) -> Result<Response, ApiError> {
    let collections = state
        .service()
        .collections(
            auth.caller(),
            &entity,
            &project,
            query.artifact_type.as_deref(),
        )
        .await?;
    Ok(ok(&CollectionList {
        collections: collections.into_iter().map(wire::collection).collect(),
    }))
}

/// `GET /api/v1/projects/{entity}/{project}/types`.
pub(crate) async fn types(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let types = state
        .service()
        .artifact_types(auth.caller(), &entity, &project)
        .await?;
    Ok(ok(&ArtifactTypeList {
        types: types.into_iter().map(wire::artifact_type).collect(),
    }))
}

/// `PATCH /api/v1/projects/{entity}/{project}/collections/{collection}`.
pub(crate) async fn update_collection(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
    JsonBody(request): JsonBody<UpdateCollection>,
) -> Result<Response, ApiError> {
    let edit = CollectionEdit {
        name: request.name,
        description: request.description,
    };
    let collection = state
        .service()
        .update_collection(auth.caller(), &entity, &project, &name, edit)
        .await?;
    Ok(ok(&wire::collection(collection)))
}

/// `GET /api/v1/projects/{entity}/{project}/collections/{collection}`.
pub(crate) async fn collection(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let collection = state
        .service()
        .collection(auth.caller(), &entity, &project, &name)
        .await?;
    Ok(ok(&wire::collection(collection)))
}

/// The query of `GET .../versions`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct VersionsQuery {
    /// Only the version this alias points at.
    alias: Option<String>,
    /// Only versions older than `vN`.
    before: Option<u64>,
    /// At most this many (default 100, at most 1000).
    limit: Option<usize>,
}

/// `GET /api/v1/projects/{entity}/{project}/collections/{collection}/versions`: committed
/// versions, newest first, a page at a time.
pub(crate) async fn versions(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
    QueryParams(query): QueryParams<VersionsQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(VersionQuery::default().limit);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be 1 to 1000, not {limit}"
        )));
    }
    let query = VersionQuery {
        alias: query.alias,
        before: query.before,
        limit,
    };
    let page = state
        .service()
        .collection_versions(auth.caller(), &entity, &project, &name, query)
        .await?;
    Ok(ok(&VersionList {
        versions: wire::versions(page.versions),
        total: page.total,
        next: page.next,
    }))
}

/// `DELETE /api/v1/projects/{entity}/{project}` (admins of the entity).
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let deletion = state
        .service()
        .delete_project(auth.caller(), &entity, &project)
        .await?;
    Ok(ok(&wire::deletion(deletion)))
}

/// `DELETE /api/v1/projects/{entity}/{project}/collections/{collection}`.
pub(crate) async fn delete_collection(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let deletion = state
        .service()
        .delete_collection(auth.caller(), &entity, &project, &name)
        .await?;
    Ok(ok(&wire::deletion(deletion)))
}
