//! Registry links: linking a version into a portfolio, unlinking it, listing its links, and a
//! project's protected aliases.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_api::{CreateLink, LinkList, ProtectedAliases, UpdateProtectedAliases};
use cairn_service::model::{CollectionPath, LinkRequest};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, json, ok};
use crate::state::AppState;
use crate::wire;

/// `POST /api/v1/artifacts/{id}/links`.
pub(crate) async fn link(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    JsonBody(request): JsonBody<CreateLink>,
) -> Result<Response, ApiError> {
    let request = LinkRequest {
        target: CollectionPath {
            entity: request.entity,
            project: request.project,
            name: request.portfolio,
        },
        aliases: request.aliases,
    };
    let linked = state
        .service()
        .link_version(auth.caller(), &id, request)
        .await?;
    Ok(json(StatusCode::CREATED, &wire::version(linked)))
}

/// `GET /api/v1/artifacts/{id}/links`.
pub(crate) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
    let links = state.service().version_links(auth.caller(), &id).await?;
    Ok(ok(&LinkList {
        links: wire::versions(links),
    }))
}

/// `DELETE /api/v1/artifacts/{id}/links/{entity}/{project}/{portfolio}`: answers the removed
/// link as it was (its `source` names where the version stays).
pub(crate) async fn unlink(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((id, entity, project, name)): PathParams<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let portfolio = CollectionPath {
        entity,
        project,
        name,
    };
    let removed = state
        .service()
        .unlink_version(auth.caller(), &id, portfolio)
        .await?;
    Ok(ok(&wire::version(removed)))
}

/// `GET /api/v1/projects/{entity}/{project}/protected-aliases`.
pub(crate) async fn protected(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let aliases = state
        .service()
        .protected_aliases(auth.caller(), &entity, &project)
        .await?;
    Ok(ok(&ProtectedAliases { aliases }))
}

/// `PATCH /api/v1/projects/{entity}/{project}/protected-aliases` (project admins only).
pub(crate) async fn update_protected(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<UpdateProtectedAliases>,
) -> Result<Response, ApiError> {
    let aliases = state
        .service()
        .update_protected_aliases(
            auth.caller(),
            &entity,
            &project,
            request.add,
            request.remove,
        )
        .await?;
    Ok(ok(&ProtectedAliases { aliases }))
}
