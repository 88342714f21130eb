//! Runs: creating (or resuming) one, reading it, finishing it, recording the versions it used,
//! and listing what it logged and used.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cairn_api::{CreateRun, FinishRun, UseArtifact};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, json, ok};
use crate::state::AppState;
use crate::wire;

/// `POST /api/v1/projects/{entity}/{project}/runs`.
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
    JsonBody(request): JsonBody<CreateRun>,
) -> Result<Response, ApiError> {
    let run = state
        .service()
        .create_run(auth.caller(), &entity, &project, wire::new_run(request))
        .await?;
    let status = if run.resumed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json(status, &wire::run(run)))
}

/// `GET /api/v1/projects/{entity}/{project}/runs/{run}`.
pub(crate) async fn get(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, run_id)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let run = state
        .service()
        .run(auth.caller(), &entity, &project, &run_id)
        .await?;
    Ok(ok(&wire::run(run)))
}

/// `POST .../runs/{run}/finish`.
pub(crate) async fn finish(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, run_id)): PathParams<(String, String, String)>,
    JsonBody(request): JsonBody<FinishRun>,
) -> Result<Response, ApiError> {
    let run = state
        .service()
        .finish_run(auth.caller(), &entity, &project, &run_id, request.exit_code)
        .await?;
    Ok(ok(&wire::run(run)))
}

/// `POST .../runs/{run}/inputs`: records that the run used a committed version the caller may
/// read; answers that version.
pub(crate) async fn use_artifact(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, run_id)): PathParams<(String, String, String)>,
    JsonBody(request): JsonBody<UseArtifact>,
) -> Result<Response, ApiError> {
    let version = state
        .service()
        .use_artifact(
            auth.caller(),
            &entity,
            &project,
            &run_id,
            &request.artifact_id,
        )
        .await?;
    Ok(ok(&wire::version(version)))
}

/// `GET .../runs/{run}/artifacts`: committed versions the run logged and used (those the
/// caller may read), newest first.
pub(crate) async fn artifacts(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, run_id)): PathParams<(String, String, String)>,
) -> Result<Response, ApiError> {
    let artifacts = state
        .service()
        .run_artifacts(auth.caller(), &entity, &project, &run_id)
        .await?;
    Ok(ok(&wire::run_artifacts(artifacts)))
}

/// The query of `DELETE .../runs/{run}`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct DeleteRunQuery {
    #[serde(default)]
    delete_artifacts: bool,
}

/// `DELETE /api/v1/projects/{entity}/{project}/runs/{run}[?delete_artifacts=true]`.
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, run)): PathParams<(String, String, String)>,
    crate::extract::QueryParams(query): crate::extract::QueryParams<DeleteRunQuery>,
) -> Result<Response, ApiError> {
    let deletion = state
        .service()
        .delete_run(
            auth.caller(),
            &entity,
            &project,
            &run,
            query.delete_artifacts,
        )
        .await?;
    Ok(ok(&crate::wire::deletion(deletion)))
}
