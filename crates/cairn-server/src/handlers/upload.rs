//! The logging protocol after `CreateVersion`: the manifest (kept verbatim, parsed, checked
//! against the version's digest), the missing-blob list and the commit. Blob uploads are in
//! `receive.rs`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use cairn_api::{BlobRef, ErrorCode, ManifestReceipt, VersionState};
use cairn_hash::Md5Digest;
use cairn_manifest::{DigestAlgorithm, Manifest};
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::auth::Auth;
use crate::db::queries::{load_version, move_alias, touch_version};
use crate::db::schema::NOW;
use crate::error::ApiError;
use crate::extract::{MANIFEST_MAX_BYTES, PathParams, check_content_length, ok, read_limited};
use crate::handlers::{require_pending, version_for_read, version_for_write};
use crate::state::{AppState, Counters};

/// One manifest entry as the server records it.
struct EntryRow {
    path: String,
    digest: String,
    md5_hex: Option<String>,
    size: u64,
    reference: Option<String>,
    birth_artifact_id: Option<String>,
}

fn invalid_manifest(detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidManifest, detail)
}

/// Parses and checks a manifest against the version's digest.
fn parse_manifest(bytes: &[u8], expected_digest: &str) -> Result<(Vec<EntryRow>, u64), ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| invalid_manifest(format!("the manifest is not UTF-8: {error}")))?;
    let manifest =
        Manifest::from_json(text).map_err(|error| invalid_manifest(error.to_string()))?;
    let mut entries = Vec::with_capacity(manifest.len());
    for (path, entry) in manifest.entries() {
        let size = entry.size.unwrap_or(0);
        let md5_hex = if entry.is_reference() {
            None
        } else {
            if entry.digest_algorithm() == DigestAlgorithm::Xxh128 {
                return Err(invalid_manifest(format!(
                    "entry `{path}` is hashed with XXH128, which this server does not support yet; log the artifact with MD5 digests"
                )));
            }
            if entry.size.is_none() {
                return Err(invalid_manifest(format!(
                    "file entry `{path}` has no `size`; every uploaded file needs one"
                )));
            }
            let md5 = Md5Digest::from_base64(&entry.digest)
                .map_err(|error| invalid_manifest(format!("entry `{path}`: {error}")))?;
            Some(md5.to_hex())
        };
        entries.push(EntryRow {
            path: path.as_str().to_owned(),
            digest: entry.digest.clone(),
            md5_hex,
            size,
            reference: entry.reference.clone(),
            birth_artifact_id: entry.birth_artifact_id.clone(),
        });
    }
    let digest = manifest.digest(DigestAlgorithm::Md5);
    if digest != expected_digest {
        return Err(invalid_manifest(format!(
            "the manifest hashes to `{digest}` but the version was created with digest `{expected_digest}`; create the version with the manifest's digest"
        )));
    }
    Ok((entries, manifest.size()))
}

/// The distinct blobs of the version's file entries that its entity does not hold.
pub(crate) fn missing_blobs(
    connection: &Connection,
    version_id: &str,
    entity_id: i64,
) -> Result<Vec<BlobRef>, ApiError> {
    let mut statement = connection.prepare_cached(
        "SELECT DISTINCT e.md5_hex, e.size FROM entries e WHERE e.version_id = ?1 \
         AND e.md5_hex IS NOT NULL AND NOT EXISTS (SELECT 1 FROM entity_blobs b \
         WHERE b.entity_id = ?2 AND b.md5_hex = e.md5_hex AND b.size = e.size) \
         ORDER BY e.md5_hex, e.size",
    )?;
    let rows = statement.query_map(params![version_id, entity_id], |row| {
        Ok(BlobRef {
            md5: row.get(0)?,
            size: u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn receipt(
    connection: &Connection,
    version_id: &str,
    entity_id: i64,
) -> Result<ManifestReceipt, ApiError> {
    let (digest, size, file_count): (String, i64, i64) = connection.query_row(
        "SELECT digest, size, file_count FROM versions WHERE id = ?1",
        [version_id],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    Ok(ManifestReceipt {
        digest,
        file_count: u64::try_from(file_count).unwrap_or_default(),
        size: u64::try_from(size).unwrap_or_default(),
        missing: missing_blobs(connection, version_id, entity_id)?,
    })
}

/// `PUT /api/v1/artifacts/{id}/manifest`.
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
    let bytes = read_limited(body, MANIFEST_MAX_BYTES, "a manifest").await?;
    let digest = row.version.digest.clone();
    let parse_bytes = bytes.clone();
    let (entries, size) =
        tokio::task::spawn_blocking(move || parse_manifest(&parse_bytes, &digest))
            .await
            .map_err(crate::error::join_error)??;
    let receipt = state
        .db()
        .write(move |connection| {
            let row = version_for_write(connection, &caller, &id)?;
            require_pending(&row)?;
            let entity_id = row.project.entity_id;
            let stored: Option<Vec<u8>> = connection
                .query_row(
                    "SELECT bytes FROM manifests WHERE version_id = ?1",
                    [&id],
                    |row| row.get(0),
                )
                .optional()?;
            if stored.as_deref() != Some(bytes.as_ref()) {
                store_manifest(connection, &id, entity_id, &bytes, &entries, size)?;
            }
            receipt(connection, &id, entity_id)
        })
        .await?;
    Ok(ok(&receipt))
}

fn store_manifest(
    connection: &Connection,
    id: &str,
    entity_id: i64,
    bytes: &[u8],
    entries: &[EntryRow],
    size: u64,
) -> Result<(), ApiError> {
    connection.execute("DELETE FROM entries WHERE version_id = ?1", [id])?;
    connection.execute(
        &format!(
            "INSERT INTO manifests (version_id, bytes, uploaded_at) VALUES (?1, ?2, {NOW}) \
             ON CONFLICT (version_id) DO UPDATE SET bytes = excluded.bytes, uploaded_at = excluded.uploaded_at"
        ),
        params![id, bytes],
    )?;
    let mut birth = connection.prepare_cached(
        "SELECT first_version_id FROM entity_blobs WHERE entity_id = ?1 AND md5_hex = ?2 AND size = ?3",
    )?;
    let mut insert = connection.prepare_cached(
        "INSERT INTO entries (version_id, path, digest, md5_hex, size, ref, birth_artifact_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for entry in entries {
        let size_sql = i64::try_from(entry.size).unwrap_or(i64::MAX);
        let birth_id = match (&entry.birth_artifact_id, &entry.md5_hex) {
            (Some(given), _) => given.clone(),
            (None, Some(md5)) => birth
                .query_row(params![entity_id, md5, size_sql], |row| {
                    row.get::<_, String>(0)
                })
                .optional()?
                .unwrap_or_else(|| id.to_owned()),
            (None, None) => id.to_owned(),
        };
        insert.execute(params![
            id,
            entry.path,
            entry.digest,
            entry.md5_hex,
            size_sql,
            entry.reference,
            birth_id
        ])?;
    }
    connection.execute(
        &format!(
            "UPDATE versions SET size = ?2, file_count = ?3, updated_at = {NOW} WHERE id = ?1"
        ),
        params![
            id,
            i64::try_from(size).unwrap_or(i64::MAX),
            entries.len() as i64
        ],
    )?;
    Ok(())
}

/// `GET /api/v1/artifacts/{id}/manifest`: the uploaded bytes, verbatim.
pub(crate) async fn get_manifest(
    State(state): State<AppState>,
    Auth(caller): Auth,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let bytes: Vec<u8> = state
        .db()
        .read(move |connection| {
            version_for_read(connection, caller.as_ref(), &id)?;
            connection
                .query_row(
                    "SELECT bytes FROM manifests WHERE version_id = ?1",
                    [&id],
                    |row| row.get(0),
                )
                .optional()?
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::ManifestMissing,
                        format!(
                            "artifact version `{id}` has no manifest yet; upload it with PUT first"
                        ),
                    )
                })
        })
        .await?;
    let etag = format!("\"{}\"", cairn_hash::md5(&bytes).to_hex());
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|error| ApiError::internal(error.to_string()))?;
    if crate::handlers::download::none_match(&headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag_value);
        return Ok(response);
    }
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
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
    let receipt = state
        .db()
        .read(move |connection| {
            let row = version_for_write(connection, &caller, &id)?;
            require_manifest(&row)?;
            receipt(connection, &id, row.project.entity_id)
        })
        .await?;
    Ok(ok(&receipt))
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
            let missing = missing_blobs(connection, &id, row.project.entity_id)?;
            if !missing.is_empty() {
                return Err(ApiError::missing_blobs(missing));
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
