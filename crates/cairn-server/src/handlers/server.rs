//! What the server is: health, [`ServerInfo`], counters for admins, the OpenAPI document, and
//! the problem answers for unknown routes and methods.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use cairn_api::{API_VERSION, ErrorCode, Problem, ServerInfo};

use crate::auth::Auth;
use crate::error::{ApiError, problem_response};
use crate::extract::ok;
use crate::state::AppState;

fn info(state: &AppState) -> ServerInfo {
    ServerInfo {
        api_version: API_VERSION,
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        blob_store: state.service().blob_store_kind().to_owned(),
        batch_blob_max_size: cairn_api::BATCH_BLOB_MAX_SIZE,
    }
}

/// `GET /healthz`: answers once the databases are open (they are, or the state would not exist)
/// and a trivial query succeeds.
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.service().check_health().await?;
    Ok(ok(&info(&state)))
}

/// `GET /api/v1/server`.
pub(crate) async fn server(State(state): State<AppState>) -> Response {
    ok(&info(&state))
}

/// `GET /api/v1/server/stats` (server admins).
pub(crate) async fn stats(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    let stats = state.service().stats_for(auth.caller())?;
    Ok(ok(&crate::wire::stats(stats)))
}

/// `POST /api/v1/server/sweep`.
pub(crate) async fn sweep(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    let report = state.service().sweep_for(auth.caller()).await?;
    Ok(ok(&crate::wire::sweep_report(report)))
}

/// `POST /api/v1/server/clock`.
pub(crate) async fn advance_clock(
    State(state): State<AppState>,
    auth: Auth,
    crate::extract::JsonBody(request): crate::extract::JsonBody<cairn_api::AdvanceClock>,
) -> Result<Response, ApiError> {
    let (offset, now) = state.service().advance_clock(
        auth.caller(),
        std::time::Duration::from_secs(request.seconds),
    )?;
    Ok(ok(&cairn_api::ServerClock {
        offset_seconds: offset.as_secs(),
        now,
    }))
}

/// `POST /api/v1/server/gc` (server admins): one garbage collection, or a dry run of one.
pub(crate) async fn collect_garbage(
    State(state): State<AppState>,
    auth: Auth,
    crate::extract::JsonBody(request): crate::extract::JsonBody<cairn_api::CollectGarbage>,
) -> Result<Response, ApiError> {
    let report = state
        .service()
        .collect_garbage(
            auth.caller(),
            cairn_service::gc::GcOptions {
                dry_run: request.dry_run,
            },
        )
        .await?;
    Ok(ok(&crate::wire::garbage_report(report)))
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn openapi() -> Result<Response, ApiError> {
    let document = crate::openapi::json().map_err(|error| {
        ApiError::internal(format!("serialising the OpenAPI document: {error}"))
    })?;
    let mut response = (StatusCode::OK, document).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Any path no route matches.
pub(crate) async fn no_route() -> Response {
    ApiError::not_found("no such route; see /api/v1/openapi.json for the API").into_response()
}

/// A known path with a method it does not support.
pub(crate) async fn wrong_method() -> Response {
    let mut problem = Problem::new(
        ErrorCode::BadRequest,
        "this route does not support that method; see /api/v1/openapi.json for the API",
    );
    problem.status = StatusCode::METHOD_NOT_ALLOWED.as_u16();
    problem_response(&problem, None)
}
