//! Artifact versions: starting a log (`CreateVersion`), reading by id or by
//! `name:alias|vN|digest`, editing a committed version, and its lineage.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_api::{CreateVersion, CreateVersionStatus, UpdateVersion};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, json, ok};
use crate::state::AppState;
use crate::wire;

/// `POST /api/v1/projects/{entity}/{project}/artifacts`.
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<CreateVersion>,
) -> Result<Response, ApiError> {
    let created = state
        .service()
        .create_version(auth.caller(), &entity, &project, wire::new_version(request))
        .await?;
    let created = wire::created_version(created);
    let status = if created.status == CreateVersionStatus::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json(status, &created))
}

/// `GET /api/v1/artifacts/{id}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
    let version = state.service().version(auth.caller(), &id).await?;
    Ok(ok(&wire::version(version)))
}

/// `GET /api/v1/projects/{entity}/{project}/artifacts/{name}` with `name:selector`.
pub(crate) async fn by_name(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, name)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let version = state
        .service()
        .version_by_name(auth.caller(), &entity, &project, &name)
        .await?;
    Ok(ok(&wire::version(version)))
}

/// `PATCH /api/v1/artifacts/{id}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    JsonBody(request): JsonBody<UpdateVersion>,
) -> Result<Response, ApiError> {
    let version = state
        .service()
        .update_version(auth.caller(), &id, wire::version_edit(request))
        .await?;
    Ok(ok(&wire::version(version)))
}

/// `GET /api/v1/artifacts/{id}/lineage`: the runs the caller may read.
pub(crate) async fn lineage(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
    let lineage = state.service().lineage(auth.caller(), &id).await?;
    Ok(ok(&wire::lineage(lineage)))
}

/// The query of `GET .../lineage/graph`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct GraphQuery {
    depth: Option<u32>,
    direction: Option<cairn_api::LineageDirection>,
    after: Option<usize>,
    limit: Option<usize>,
}

/// `GET /api/v1/artifacts/{id}/lineage/graph`.
pub(crate) async fn lineage_graph(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    crate::extract::QueryParams(query): crate::extract::QueryParams<GraphQuery>,
) -> Result<Response, ApiError> {
    let defaults = cairn_service::model::LineageQuery::default();
    let limit = query.limit.unwrap_or(defaults.limit);
    if !(1..=cairn_service::lineage::MAX_LINEAGE_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be 1 to {}, not {limit}",
            cairn_service::lineage::MAX_LINEAGE_PAGE
        )));
    }
    let query = cairn_service::model::LineageQuery {
        depth: query.depth.unwrap_or(defaults.depth),
        direction: query
            .direction
            .map_or(defaults.direction, wire::lineage_direction),
        after: query.after.unwrap_or(0),
        limit,
    };
    let graph = state
        .service()
        .lineage_graph(auth.caller(), &id, query)
        .await?;
    Ok(ok(&wire::lineage_graph(graph)))
}

/// The query of `DELETE /api/v1/artifacts/{id}`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct DeleteQuery {
    #[serde(default)]
    delete_aliases: bool,
}

/// `DELETE /api/v1/artifacts/{id}[?delete_aliases=true]`: answers the deleted version.
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    crate::extract::QueryParams(query): crate::extract::QueryParams<DeleteQuery>,
) -> Result<Response, ApiError> {
    let version = state
        .service()
        .delete_version(auth.caller(), &id, query.delete_aliases)
        .await?;
    Ok(ok(&wire::version(version)))
}
