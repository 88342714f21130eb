//! The logging protocol after `CreateVersion`: the manifest (kept verbatim, parsed, checked
//! against the version's digest), the missing-blob list and the commit. Blob uploads are in
//! `receive.rs`.

use std::io::Write as _;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use cairn_api::{ErrorCode, VersionState};
use rusqlite::params;

use crate::auth::{Auth, Caller};
use crate::db::presence;
use crate::db::queries::{load_version, move_alias, touch_version};
use crate::db::schema::NOW;
use crate::error::ApiError;
use crate::extract::{MANIFEST_MAX_BYTES, PathParams, check_content_length, content_length, ok};
use crate::handlers::{require_pending, version_for_read, version_for_write};
use crate::ingest;
use crate::state::{AppState, Counters};

/// Blobs listed in a `missing_blobs` problem at most; the client asks `GET .../missing-blobs`
/// for the rest.
const MISSING_IN_PROBLEM: usize = 1000;

/// The receipt of a version's manifest for `caller`. The head is read first, so a failure
/// there is an ordinary problem answer; the `missing` list then streams as it is queried,
/// because it can hold as many blobs as the manifest has files.
async fn receipt(state: &AppState, id: String, caller: Caller) -> Result<Response, ApiError> {
    let (digest, size, file_count): (String, i64, i64) = {
        let id = id.clone();
        state
            .db()
            .read(move |connection| {
                Ok(connection.query_row(
                    "SELECT digest, size, file_count FROM versions WHERE id = ?1",
                    [&id],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )?)
            })
            .await?
    };
    let head = format!(
        "{{\"digest\":{},\"file_count\":{file_count},\"size\":{size},\"missing\":",
        serde_json::Value::String(digest)
    );
    let body = crate::body::from_blocking(state.db(), move |connection, pieces| {
        let failed =
            |error: std::io::Error| ApiError::internal(format!("writing a receipt: {error}"));
        pieces.write_all(head.as_bytes()).map_err(failed)?;
        presence::write_missing_json(connection, &id, &caller, pieces)?;
        pieces.write_all(b"}").map_err(failed)
    });
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `PUT /api/v1/artifacts/{id}/manifest`.
///
/// The body is spooled to disk and ingested entry by entry (see [`crate::ingest`]); large
/// manifests wait for one of a few ingest permits first.
pub(crate) async fn put_manifest(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let row = {
        let caller = caller.clone();
        let id = id.clone();
        state
            .db()
            .read(move |connection| version_for_write(connection, &caller, &id))
            .await?
    };
    require_pending(&row)?;
    check_content_length(&headers, MANIFEST_MAX_BYTES, "a manifest")?;
    let _permit = match content_length(&headers) {
        Some(length) if length <= ingest::LARGE_MANIFEST_BYTES => None,
        _ => Some(state.manifest_permit().await?),
    };
    let mut spooled = ingest::spool(&state, body, MANIFEST_MAX_BYTES).await?;
    let digest = row.version.digest.clone();
    {
        let (id, caller) = (id.clone(), caller.clone());
        state
            .db()
            .write(move |transaction| {
                let row = version_for_write(transaction, &caller, &id)?;
                require_pending(&row)?;
                if !ingest::holds(transaction, &id, &spooled)? {
                    ingest::ingest(transaction, &id, &mut spooled, &digest)?;
                }
                Ok(())
            })
            .await?;
    }
    // The spooled file went with the closure and is gone; the permit ends with the handler.
    receipt(&state, id, caller).await
}

/// `GET /api/v1/artifacts/{id}/manifest`: the uploaded bytes, verbatim, streamed.
pub(crate) async fn get_manifest(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let stored = state
        .db()
        .read(move |connection| {
            version_for_read(connection, caller.as_ref(), &id)?;
            ingest::find_stored(connection, &id)?.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ManifestMissing,
                    format!(
                        "artifact version `{id}` has no manifest yet; upload it with PUT first"
                    ),
                )
            })
        })
        .await?;
    let etag = format!("\"{}\"", stored.md5_hex);
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|error| ApiError::internal(error.to_string()))?;
    if crate::handlers::download::none_match(&headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag_value);
        return Ok(response);
    }
    let mut response = (StatusCode::OK, ingest::stream_stored(&state, &stored)).into_response();
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
    let caller = auth.required()?;
    {
        let (id, caller) = (id.clone(), caller.clone());
        state
            .db()
            .read(move |connection| {
                let row = version_for_write(connection, &caller, &id)?;
                require_manifest(&row)
            })
            .await?;
    }
    receipt(&state, id, caller).await
}

/// Fails with `manifest_missing` unless the version's manifest was uploaded.
pub(crate) fn require_manifest(row: &crate::db::queries::VersionRow) -> Result<(), ApiError> {
    if row.has_manifest {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::ManifestMissing,
            format!(
                "artifact version `{}` has no manifest yet; upload it with `PUT {}` first",
                row.version.id,
                cairn_api::routes::manifest(&row.version.id)
            ),
        ))
    }
}

/// `POST /api/v1/artifacts/{id}/commit`.
pub(crate) async fn commit(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let (version, newly) = state
        .db()
        .write(move |connection| {
            let row = version_for_write(connection, &caller, &id)?;
            match row.version.state {
                VersionState::Committed => return Ok((row.version, false)),
                VersionState::Deleted => require_pending(&row)?,
                VersionState::Pending => {}
            }
            require_manifest(&row)?;
            let (missing, total) =
                presence::first_missing(connection, &id, &caller, MISSING_IN_PROBLEM)?;
            if total > 0 {
                return Err(ApiError::missing_blobs(missing, total));
            }
            let mut aliases = row.requested_aliases.clone();
            let tags = row.version.tags.clone();
            if let Some((latest_id, latest_digest)) =
                crate::db::queries::latest_committed(connection, row.collection_id)?
                && latest_digest == row.version.digest
            {
                // Two identical logs raced: keep the committed one, discard this one.
                connection.execute(
                    &format!("UPDATE versions SET state = 'DELETED', updated_at = {NOW} WHERE id = ?1"),
                    [&id],
                )?;
                crate::handlers::versions::apply_labels(connection, row.collection_id, &latest_id, &aliases, &tags)?;
                let existing = load_version(connection, &latest_id)?
                    .ok_or_else(|| ApiError::internal("the latest version vanished"))?;
                return Ok((existing.version, false));
            }
            let next: i64 = connection.query_row(
                "SELECT COALESCE(MAX(version_index) + 1, 0) FROM versions WHERE collection_id = ?1",
                [row.collection_id],
                |row| row.get(0),
            )?;
            connection.execute(
                &format!(
                    "UPDATE versions SET state = 'COMMITTED', version_index = ?2, committed_at = {NOW}, \
                     updated_at = {NOW} WHERE id = ?1"
                ),
                params![id, next],
            )?;
            aliases.push(cairn_manifest::LATEST_ALIAS.to_owned());
            for alias in &aliases {
                move_alias(connection, row.collection_id, alias, &id)?;
            }
            touch_version(connection, &id)?;
            connection.execute(
                &format!("UPDATE collections SET updated_at = {NOW} WHERE id = ?1"),
                [row.collection_id],
            )?;
            let committed = load_version(connection, &id)?
                .ok_or_else(|| ApiError::internal("a version just committed is missing"))?;
            Ok((committed.version, true))
        })
        .await?;
    if newly {
        Counters::add(&state.counters().versions_committed, 1);
        tracing::info!(
            version = version.qualified_name(),
            id = version.id,
            "committed"
        );
    }
    Ok(ok(&version))
}
