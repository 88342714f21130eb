//! The logging protocol after `CreateVersion`: the manifest (kept verbatim, parsed, checked
//! against the version's digest), the receipt of missing blobs and the commit. Blob uploads are
//! in `receive.rs`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use cairn_api::CommitVersion;
use cairn_service::logging::Receipt;
use futures_util::StreamExt as _;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, QueryParams, content_length, ok};
use crate::state::AppState;
use crate::wire;

/// A receipt as `ManifestReceipt` JSON, written as its missing list streams out of the
/// database: the list can hold as many blobs as the manifest has files.
fn receipt_response(receipt: Receipt) -> Response {
    let head = format!(
        "{{\"digest\":{},\"file_count\":{},\"size\":{},\"missing\":[",
        serde_json::Value::String(receipt.digest),
        receipt.file_count,
        receipt.size
    );
    let mut first = true;
    let pieces = receipt.missing.map(move |piece| {
        let piece = piece.map_err(|error| {
            tracing::warn!(error = %cairn_service::error_chain(&error), "a receipt was cut off");
            std::io::Error::other("the receipt could not be completed")
        })?;
        let mut out = Vec::with_capacity(piece.len() * 64);
        for blob in piece {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, &wire::blob_ref(blob))
                .map_err(std::io::Error::other)?;
        }
        Ok::<_, std::io::Error>(Bytes::from(out))
    });
    let body = futures_util::stream::once(async move { Ok(Bytes::from(head)) })
        .chain(pieces)
        .chain(futures_util::stream::once(async {
            Ok(Bytes::from_static(b"]}"))
        }));
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The query of `PUT .../manifest`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ManifestQuery {
    /// Who writes this part of a distributed version (a run); the caller's name by default.
    writer: Option<String>,
}

/// `PUT /api/v1/artifacts/{id}/manifest[?writer=]`: the manifest, or for a distributed version
/// one writer's part of it.
pub(crate) async fn put_manifest(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<ManifestQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let receipt = state
        .service()
        .put_manifest_as(
            auth.caller(),
            &id,
            query.writer.as_deref(),
            content_length(&headers),
            body.into_data_stream(),
        )
        .await?;
    Ok(receipt_response(receipt))
}

/// `GET /api/v1/artifacts/{id}/manifest`: the uploaded bytes, verbatim, streamed.
pub(crate) async fn get_manifest(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let stored = state.service().manifest(auth.caller(), &id).await?;
    serve_manifest(stored, &headers)
}

/// Answers a stored manifest, verbatim and streamed, honouring `If-None-Match`.
pub(crate) fn serve_manifest(
    stored: cairn_service::logging::StoredManifest,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let etag = format!("\"{}\"", stored.md5_hex);
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|error| ApiError::internal(error.to_string()))?;
    if crate::handlers::download::none_match(headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag_value);
        return Ok(response);
    }
    let mut response = (StatusCode::OK, Body::from_stream(stored.bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(stored.length));
    headers.insert(header::ETAG, etag_value);
    Ok(response)
}

/// `GET /api/v1/artifacts/{id}/missing-blobs`.
pub(crate) async fn get_missing(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
    let receipt = state.service().missing(auth.caller(), &id).await?;
    Ok(receipt_response(receipt))
}

/// `POST /api/v1/artifacts/{id}/commit`. The body, [`CommitVersion`], has no fields (yet), but
/// is held to the same rules as every JSON body: absent, or an object.
pub(crate) async fn commit(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    JsonBody(CommitVersion {}): JsonBody<CommitVersion>,
) -> Result<Response, ApiError> {
    let version = state.service().commit(auth.caller(), &id).await?;
    Ok(ok(&wire::version(version)))
}
