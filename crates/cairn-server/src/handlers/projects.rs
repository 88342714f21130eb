//! Projects and collections: an entity's projects (only the readable ones), a project's
//! settings, its collections and a collection's committed versions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_api::{CollectionList, ProjectList, UpsertProject, VersionList};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, json, ok};
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

/// `GET /api/v1/projects/{entity}/{project}/collections`.
pub(crate) async fn collections(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let collections = state
        .service()
        .collections(auth.caller(), &entity, &project)
        .await?;
    Ok(ok(&CollectionList {
        collections: collections.into_iter().map(wire::collection).collect(),
    }))
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

/// `GET /api/v1/projects/{entity}/{project}/collections/{collection}/versions`: committed
/// versions, newest first.
pub(crate) async fn versions(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let versions = state
        .service()
        .collection_versions(auth.caller(), &entity, &project, &name)
        .await?;
    Ok(ok(&VersionList {
        versions: wire::versions(versions),
    }))
}
