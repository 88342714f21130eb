//! Users, API keys and teams: the viewer, user creation (server admins), API keys (created,
//! listed and revoked by the user or an admin), and teams (any signed-in user creates one and becomes its admin; team admins
//! manage members; the last admin cannot leave or be demoted).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_api::{ApiKeyList, CreateApiKey, CreateTeam, CreateUser, SetTeamMember};
use cairn_service::model::NewApiKey;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, json, ok};
use crate::state::AppState;
use crate::wire;

/// `GET /api/v1/viewer`.
pub(crate) async fn viewer(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Response, ApiError> {
    let viewer = state.service().viewer(auth.caller()).await?;
    Ok(ok(&wire::viewer(viewer)))
}

/// `POST /api/v1/users` (server admins).
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(request): JsonBody<CreateUser>,
) -> Result<Response, ApiError> {
    let created = state
        .service()
        .create_user(auth.caller(), &request.username, request.admin)
        .await?;
    Ok(json(StatusCode::CREATED, &wire::created_api_key(created)))
}

/// `POST /api/v1/users/{username}/api-keys` (the user or a server admin), with an optional
/// [`CreateApiKey`] body.
pub(crate) async fn create_key(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(username): PathParams<String>,
    JsonBody(request): JsonBody<CreateApiKey>,
) -> Result<Response, ApiError> {
    let new = NewApiKey {
        name: request.name,
        expires_in: request.expires_in_seconds.map(Duration::from_secs),
    };
    let created = state
        .service()
        .create_api_key(auth.caller(), &username, &new)
        .await?;
    Ok(json(StatusCode::CREATED, &wire::created_api_key(created)))
}

/// `GET /api/v1/users/{username}/api-keys` (the user or a server admin).
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(username): PathParams<String>,
) -> Result<Response, ApiError> {
    let keys = state.service().api_keys(auth.caller(), &username).await?;
    Ok(ok(&ApiKeyList {
        keys: keys.into_iter().map(wire::api_key).collect(),
    }))
}

/// `DELETE /api/v1/users/{username}/api-keys/{key_id}` (the user or a server admin).
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((username, key_id)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let revoked = state
        .service()
        .revoke_api_key(auth.caller(), &username, &key_id)
        .await?;
    Ok(ok(&wire::api_key(revoked)))
}

/// `POST /api/v1/teams`.
pub(crate) async fn create_team(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(request): JsonBody<CreateTeam>,
) -> Result<Response, ApiError> {
    let team = state
        .service()
        .create_team(auth.caller(), &request.name)
        .await?;
    Ok(json(StatusCode::CREATED, &wire::team(team)))
}

/// `GET /api/v1/teams/{team}`.
pub(crate) async fn get_team(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(name): PathParams<String>,
) -> Result<Response, ApiError> {
    let team = state.service().team(auth.caller(), &name).await?;
    Ok(ok(&wire::team(team)))
}

/// `PUT /api/v1/teams/{team}/members/{username}` (team admins).
pub(crate) async fn set_member(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((team, username)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<SetTeamMember>,
) -> Result<Response, ApiError> {
    let team = state
        .service()
        .set_team_member(
            auth.caller(),
            &team,
            &username,
            wire::role_from(request.role),
        )
        .await?;
    Ok(ok(&wire::team(team)))
}

/// `DELETE /api/v1/teams/{team}/members/{username}` (team admins, or members leaving).
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((team, username)): PathParams<(String, String)>,
) -> Result<Response, ApiError> {
    let team = state
        .service()
        .remove_team_member(auth.caller(), &team, &username)
        .await?;
    Ok(ok(&wire::team(team)))
}

/// `GET /api/v1/teams/{team}/settings`.
pub(crate) async fn team_settings(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(team): PathParams<String>,
) -> Result<Response, ApiError> {
    let settings = state.service().team_settings(auth.caller(), &team).await?;
    Ok(ok(&crate::wire::team_settings(settings)))
}

/// `PATCH /api/v1/teams/{team}/settings`.
pub(crate) async fn update_team_settings(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(team): PathParams<String>,
    JsonBody(request): JsonBody<cairn_api::UpdateTeamSettings>,
) -> Result<Response, ApiError> {
    let default_ttl_seconds = match request.default_ttl {
        None => None,
        Some(cairn_api::TtlSetting::Seconds(seconds)) => Some(Some(seconds)),
        Some(cairn_api::TtlSetting::None) => Some(None),
        Some(cairn_api::TtlSetting::Inherit) => {
            return Err(ApiError::bad_request(
                "a team's default TTL is `{\"seconds\": N}` or `\"none\"`; a team has nothing to inherit from",
            ));
        }
    };
    let edit = cairn_service::model::TeamSettingsEdit {
        default_ttl_seconds,
        ttl_editors: request.ttl_editors.map(crate::wire::model_ttl_editors),
    };
    let settings = state
        .service()
        .update_team_settings(auth.caller(), &team, edit)
        .await?;
    Ok(ok(&crate::wire::team_settings(settings)))
}
