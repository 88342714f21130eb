//! The W&B protocol front-end: what the official `wandb` SDK and CLI need to log, use, edit
//! and download artifacts with `WANDB_BASE_URL` pointing at `cairn server`.
//!
//! * `POST /graphql`: W&B-shaped GraphQL ([`exec`] runs the document, [`schema`] resolves it
//!   on the domain).
//! * `POST /files/{entity}/{project}/{run}/file_stream`: a run's summary, heartbeats and end.
//! * Capability URLs handed out by GraphQL answers (the SDK sends no credentials on them):
//!   `PUT`/`GET /wandb/v1/artifacts/{id}/blobs/{md5}` and `.../manifest`, and
//!   `PUT /wandb/v1/runs/{entity}/{project}/{run}/files/{name}`, each with a `token` signed by
//!   the domain (`cairn_service::capability`) for one action on one object, for one caller.
//! * The SDK's fallback download route with Basic auth:
//!   `GET /artifactsV2/{region}/{entity}/{project}/{collection}/[{artifact id}/]{birth id}/{md5}/{name}`.
//!
//! Every rule lives in `cairn_service::Service`: uploads are verified against their MD5 by the
//! same `receive_blob` as the native route, the manifest is ingested by the same
//! `put_manifest`, which files need no upload is the same presence rule, and reads check access
//! on every request, signed or not.

mod exec;
mod ids;
mod schema;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post, put};
use cairn_api::routes::segment;
use cairn_service::capability::Grant;
use cairn_service::model::RunReport;
use futures_util::StreamExt as _;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{PathParams, content_length, read_limited};
use crate::state::AppState;

/// The largest GraphQL request body (a `createArtifactFiles` batch lists many files).
const GRAPHQL_MAX_BYTES: u64 = 32 * 1024 * 1024;

/// The largest `file_stream` body.
const FILE_STREAM_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Where a version's blob is uploaded to and downloaded from.
pub(crate) fn blob_path(version: &str, md5_hex: &str) -> String {
    format!(
        "/wandb/v1/artifacts/{}/blobs/{}",
        segment(version),
        segment(md5_hex)
    )
}

/// Where a version's manifest is uploaded to and downloaded from.
pub(crate) fn manifest_path(version: &str) -> String {
    format!("/wandb/v1/artifacts/{}/manifest", segment(version))
}

/// Where one writer's part of a distributed version's manifest is uploaded to.
pub(crate) fn part_path(version: &str, writer: &str) -> String {
    format!(
        "/wandb/v1/artifacts/{}/parts/{}",
        segment(version),
        segment(writer)
    )
}

/// Where a run's own file is uploaded to.
pub(crate) fn run_file_path(entity: &str, project: &str, run: &str, name: &str) -> String {
    let name: Vec<String> = name.split('/').map(segment).collect();
    format!(
        "/wandb/v1/runs/{}/{}/{}/files/{}",
        segment(entity),
        segment(project),
        segment(run),
        name.join("/")
    )
}

/// The W&B protocol's routes.
pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/graphql", post(graphql))
        .route(
            "/files/{entity}/{project}/{run}/file_stream",
            post(file_stream),
        )
        .route(
            "/wandb/v1/artifacts/{version}/blobs/{md5}",
            put(upload_blob).get(download_blob),
        )
        .route(
            "/wandb/v1/artifacts/{version}/manifest",
            put(upload_manifest).get(download_manifest),
        )
        .route(
            "/wandb/v1/artifacts/{version}/parts/{writer}",
            put(upload_part),
        )
        .route(
            "/wandb/v1/runs/{entity}/{project}/{run}/files/{*name}",
            put(upload_run_file),
        )
        .route(
            "/artifactsV2/{region}/{entity}/{project}/{collection}/{*rest}",
            get(fallback_download),
        )
}

/// `scheme://host` as the client reached the server, for the URLs it is handed.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b".-:[]_".contains(&byte))
        })
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .filter(|scheme| matches!(*scheme, "http" | "https"))
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// `POST /graphql`.
async fn graphql(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The SDK shows a GraphQL error's message; a problem document would reach the user as
    // `{"data":null}`.
    let auth = match auth {
        Ok(auth) => auth,
        Err(error) => {
            let status = error.status();
            let message = error.message();
            return Ok(crate::extract::json(
                status,
                &json!({ "errors": [{ "message": message }] }),
            ));
        }
    };
    let bytes = read_limited(body, GRAPHQL_MAX_BYTES, "a GraphQL request").await?;
    let request: exec::Request = serde_json::from_slice(&bytes).map_err(|error| {
        ApiError::bad_request(format!(
            "a GraphQL request is a JSON object with `query` and optional `variables`: {error}"
        ))
    })?;
    let cx = Arc::new(schema::Cx {
        state,
        caller: auth.0,
        base_url: base_url(&headers),
    });
    let response = exec::execute(&schema::Schema(cx), request).await;
    if let Some(errors) = response.body.get("errors") {
        tracing::debug!(%errors, "a W&B GraphQL request answered errors");
    }
    let status = if response.unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok(crate::extract::json(status, &response.body))
}

/// `POST /files/{entity}/{project}/{run}/file_stream`: keeps the run's summary (the last line
/// sent for `wandb-summary.json`), records a heartbeat, and ends the run on `complete` with its
/// `exitcode`. History, console and system metrics are not kept.
async fn file_stream(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project, run)): PathParams<(String, String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(body, FILE_STREAM_MAX_BYTES, "a file stream update").await?;
    let update: Map<String, Value> = match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(ApiError::bad_request(
                "a file stream update is a JSON object",
            ));
        }
        Err(error) => {
            return Err(ApiError::bad_request(format!(
                "a file stream update is not valid JSON: {error}"
            )));
        }
    };
    let summary = update
        .get("files")
        .and_then(|files| files.get("wandb-summary.json"))
        .and_then(|file| file.get("content"))
        .and_then(Value::as_array)
        .and_then(|lines| lines.last())
        .and_then(Value::as_str)
        .and_then(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        });
    let complete = update
        .get("complete")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let exit_code = complete.then(|| {
        update
            .get("exitcode")
            .and_then(Value::as_i64)
            .and_then(|code| i32::try_from(code).ok())
            .unwrap_or(0)
    });
    state
        .service()
        .report_run(
            auth.caller(),
            &entity,
            &project,
            &run,
            RunReport { summary, exit_code },
        )
        .await?;
    Ok(crate::extract::ok(
        &json!({ "exitcode": null, "limits": {} }),
    ))
}

/// The `token` query parameter of a capability URL.
fn token(uri: &Uri) -> Result<String, ApiError> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(|token| percent_decode_str(token).decode_utf8_lossy().into_owned())
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "this URL needs its `token`; use the URL the server handed out, whole",
            )
        })
}

fn etag_response(md5_hex: &str) -> Response {
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{md5_hex}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// `PUT /wandb/v1/artifacts/{id}/blobs/{md5}?token=`: one file of a version being logged,
/// hashed while it is stored and kept only if it matches its MD5.
async fn upload_blob(
    State(state): State<AppState>,
    PathParams((version, md5)): PathParams<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let grant = Grant::UploadBlob {
        version: version.clone(),
        md5_hex: md5.clone(),
    };
    let caller = state.service().redeem(&grant, &token(&uri)?).await?;
    state
        .service()
        .receive_blob(
            caller.as_ref(),
            &version,
            &md5,
            content_length(&headers),
            body.into_data_stream(),
        )
        .await?;
    Ok(etag_response(&md5))
}

/// `GET /wandb/v1/artifacts/{id}/blobs/{md5}?token=`, with `Range`.
async fn download_blob(
    State(state): State<AppState>,
    PathParams((version, md5)): PathParams<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let grant = Grant::ReadBlob {
        version: version.clone(),
        md5_hex: md5.clone(),
    };
    let caller = state.service().redeem(&grant, &token(&uri)?).await?;
    let blob = state
        .service()
        .find_blob(caller.as_ref(), &version, &md5)
        .await?;
    crate::handlers::download::serve_blob(&state, &blob, &headers).await
}

/// `PUT /wandb/v1/artifacts/{id}/manifest?token=`: the SDK's `wandb_manifest.json`, ingested
/// and checked against the version's digest by the same domain function as the native route.
async fn upload_manifest(
    State(state): State<AppState>,
    PathParams(version): PathParams<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let grant = Grant::UploadManifest {
        version: version.clone(),
    };
    store_manifest(&state, &grant, &uri, &version, None, &headers, body).await
}

/// Redeems `grant` and stores the manifest (or a distributed version's part, for `writer`).
/// What is missing is checked again at commit; the SDK has uploaded its files already, so the
/// answer is just the ETag.
async fn store_manifest(
    state: &AppState,
    grant: &Grant,
    uri: &Uri,
    version: &str,
    writer: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = state.service().redeem(grant, &token(uri)?).await?;
    let receipt = state
        .service()
        .put_manifest_as(
            caller.as_ref(),
            version,
            writer,
            content_length(headers),
            body.into_data_stream(),
        )
        .await?;
    let digest = receipt.digest.clone();
    drop(receipt);
    Ok(etag_response(&digest))
}

/// `PUT /wandb/v1/artifacts/{id}/parts/{writer}?token=`: one writer's part of a distributed
/// version (`upsert_artifact` / `finish_artifact`), merged into the manifest at commit.
async fn upload_part(
    State(state): State<AppState>,
    PathParams((version, writer)): PathParams<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let grant = Grant::UploadPart {
        version: version.clone(),
        writer: writer.clone(),
    };
    store_manifest(
        &state,
        &grant,
        &uri,
        &version,
        Some(&writer),
        &headers,
        body,
    )
    .await
}

/// `GET /wandb/v1/artifacts/{id}/manifest?token=`.
async fn download_manifest(
    State(state): State<AppState>,
    PathParams(version): PathParams<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let grant = Grant::ReadManifest {
        version: version.clone(),
    };
    let caller = state.service().redeem(&grant, &token(&uri)?).await?;
    let stored = state.service().manifest(caller.as_ref(), &version).await?;
    crate::handlers::upload::serve_manifest(stored, &headers)
}

/// `PUT /wandb/v1/runs/{entity}/{project}/{run}/files/{name}?token=`: a run's own files
/// (`output.log`, `requirements.txt`, `config.yaml`, `wandb-metadata.json`, ...). Cairn keeps a
/// run's config and summary from GraphQL and the file stream, not these files: the body is
/// read and dropped, so the SDK finishes its run normally.
async fn upload_run_file(
    State(state): State<AppState>,
    PathParams((entity, project, run, name)): PathParams<(String, String, String, String)>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let grant = Grant::UploadRunFile {
        entity,
        project,
        run,
        name,
    };
    state.service().redeem(&grant, &token(&uri)?).await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        chunk.map_err(|error| {
            ApiError::bad_request(format!("the run file's body ended early: {error}"))
        })?;
    }
    Ok(StatusCode::OK.into_response())
}

/// `GET /artifactsV2/{region}/{entity}/{project}/{collection}/[{artifact id}/]{birth id}/{md5}/{name}`
/// with Basic auth: where the SDK downloads a file when its signed URL failed. The file is
/// served from the artifact named in the path when there is one, else from its birth artifact;
/// the caller must be able to read that version.
async fn fallback_download(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((_region, _entity, _project, _collection, rest)): PathParams<(
        String,
        String,
        String,
        String,
        String,
    )>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let parts: Vec<&str> = rest.split('/').collect();
    let (versions, md5) = match parts.as_slice() {
        [artifact, birth, md5, _name] => (vec![*artifact, *birth], *md5),
        [birth, md5, _name] => (vec![*birth], *md5),
        _ => {
            return Err(ApiError::not_found(
                "expected `.../[{artifact id}/]{birth artifact id}/{md5 hex}/{file name}`",
            ));
        }
    };
    let mut last = None;
    for version in versions {
        let version = ids::version_of(&percent_decode_str(version).decode_utf8_lossy());
        match state
            .service()
            .find_blob(auth.caller(), &version, md5)
            .await
        {
            Ok(blob) => {
                return crate::handlers::download::serve_blob(&state, &blob, &headers).await;
            }
            Err(error) => last = Some(error),
        }
    }
    Err(last.map_or_else(
        || ApiError::not_found("no artifact named in the path"),
        ApiError::from,
    ))
}
