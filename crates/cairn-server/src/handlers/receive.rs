//! Receiving blobs: one streamed blob per `PUT`, or many small ones per batch `POST`.
//!
//! A blob is accepted only under a version that is PENDING, whose manifest lists it as a file
//! entry; its size is the manifest's. The content is hashed while it arrives and nothing is
//! stored unless MD5 and length match. Only once the bytes are durable is the blob recorded as
//! received for the version (`version_blobs`, see `db::presence`). A blob whose content the
//! server already stores must still be sent in full unless the caller could read it already
//! (that proves possession); the content is still kept once.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use bytes::{Buf as _, Bytes, BytesMut};
use cairn_api::batch::{CONTENT_TYPE as BATCH_CONTENT_TYPE, FRAME_HEADER_LEN, FrameHeader};
use cairn_api::{BATCH_MAX_BYTES, BlobReceipt, ErrorCode, SMALL_BLOB_MAX_SIZE};
use cairn_hash::{Algorithms, Hasher};
use futures_util::StreamExt as _;
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::auth::{Auth, Caller};
use crate::blobs::Blobs;
use crate::db::schema::NOW;
use crate::error::ApiError;
use crate::extract::{PathParams, check_content_length, content_length, ok, too_large};
use crate::handlers::upload::require_manifest;
use crate::handlers::{require_pending, version_for_write};
use crate::state::{AppState, Counters};
use crate::validate;

/// What the server knows about a blob a request wants to upload.
struct Target {
    size: u64,
}

/// The blob's size from the manifest of a pending version the caller may upload to.
fn target(
    connection: &Connection,
    caller: &Caller,
    id: &str,
    md5: &str,
) -> Result<Target, ApiError> {
    let row = version_for_write(connection, caller, id)?;
    require_pending(&row)?;
    require_manifest(&row)?;
    let size: Option<i64> = connection
        .prepare_cached("SELECT size FROM entries WHERE version_id = ?1 AND md5_hex = ?2 AND ref IS NULL LIMIT 1")?
        .query_row(params![id, md5], |row| row.get(0))
        .optional()?;
    let Some(size) = size else {
        return Err(ApiError::not_found(format!(
            "blob `{md5}` is not a file of artifact version `{id}`'s manifest; upload only the blobs the manifest lists"
        )));
    };
    Ok(Target {
        size: u64::try_from(size).unwrap_or_default(),
    })
}

/// Records verified blobs as stored and as received for the version (which makes them present
/// for it, see `db::presence`).
async fn record(
    state: &AppState,
    version_id: String,
    blobs: Vec<(String, u64)>,
) -> Result<(), ApiError> {
    if blobs.is_empty() {
        return Ok(());
    }
    state
        .db()
        .write(move |connection| {
            let mut stored = connection.prepare_cached(&format!(
                "INSERT OR IGNORE INTO blobs (md5_hex, size, location, created_at) VALUES (?1, ?2, ?3, {NOW})"
            ))?;
            let mut received = connection.prepare_cached(
                "INSERT OR IGNORE INTO version_blobs (version_id, md5_hex, size) VALUES (?1, ?2, ?3)",
            )?;
            for (md5, size) in &blobs {
                let size_sql = i64::try_from(*size).unwrap_or(i64::MAX);
                let location = if Blobs::is_small(*size) { "packed" } else { "store" };
                stored.execute(params![md5, size_sql, location])?;
                received.execute(params![version_id, md5, size_sql])?;
            }
            Ok(())
        })
        .await
}

fn size_mismatch(md5: &str, expected: u64, got: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::SizeMismatch,
        format!(
            "blob `{md5}` is {expected} bytes per the manifest, but {got} bytes were sent; nothing was stored"
        ),
    )
}

fn digest_mismatch(md5: &str, actual: &str) -> ApiError {
    ApiError::new(
        ErrorCode::DigestMismatch,
        format!(
            "the bytes sent as blob `{md5}` hash to `{actual}`; nothing was stored, re-read the file and upload it again"
        ),
    )
}

/// `PUT /api/v1/artifacts/{id}/blobs/{md5}`: one blob, streamed.
pub(crate) async fn put_blob(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((id, md5)): PathParams<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let md5 = validate::blob_md5(&md5)?;
    let target = {
        let (id, md5) = (id.clone(), md5.clone());
        state
            .db()
            .read(move |connection| target(connection, &caller, &id, &md5))
            .await?
    };
    let reject = |error: ApiError| {
        Counters::add(&state.counters().blobs_rejected, 1);
        error
    };
    if let Some(length) = content_length(&headers)
        && length != target.size
    {
        return Err(reject(size_mismatch(&md5, target.size, length)));
    }
    let mut stream = body.into_data_stream();
    let mut hasher = Hasher::new(Algorithms::MD5);
    let keep_in_memory = Blobs::is_small(target.size);
    let mut memory = BytesMut::new();
    // The bytes are received and stored even when the server already holds the content: a
    // shortcut would let the answer's timing tell whether anyone stores it.
    let mut temp = if keep_in_memory {
        None
    } else {
        Some(state.blobs().temp_file()?)
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            reject(ApiError::bad_request(format!(
                "the body of blob `{md5}` ended early ({error}) after {} of {} bytes; nothing was stored",
                hasher.size(),
                target.size
            )))
        })?;
        if hasher.size() + chunk.len() as u64 > target.size {
            return Err(reject(size_mismatch(&md5, target.size, "more than that")));
        }
        hasher.update(&chunk);
        if let Some(temp) = temp.as_mut() {
            temp.write(chunk).await?;
        } else {
            memory.extend_from_slice(&chunk);
        }
    }
    let digests = hasher.finalize();
    if digests.size != target.size {
        return Err(reject(size_mismatch(&md5, target.size, digests.size)));
    }
    let actual = digests.md5.to_hex();
    if actual != md5 {
        return Err(reject(digest_mismatch(&md5, &actual)));
    }
    match temp {
        Some(temp) => state.blobs().store_file(&md5, target.size, temp).await?,
        None => {
            state
                .blobs()
                .store_packed(vec![(md5.clone(), target.size, memory.freeze())])
                .await?;
        }
    }
    record(&state, id, vec![(md5, target.size)]).await?;
    let counters = state.counters();
    Counters::add(&counters.blobs_received, 1);
    Counters::add(&counters.blob_bytes_received, target.size);
    Ok(ok(&BlobReceipt {
        blobs: 1,
        bytes: target.size,
    }))
}

/// Checks that the version is pending, has a manifest, and the caller may upload to it.
fn batch_target(connection: &Connection, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let row = version_for_write(connection, caller, id)?;
    require_pending(&row)?;
    require_manifest(&row)
}

/// The first frame whose blob is not a file of the manifest with that size, and why.
fn first_stranger(
    connection: &Connection,
    id: &str,
    frames: &[(String, u64)],
) -> Result<Option<(usize, ApiError)>, ApiError> {
    let mut statement = connection.prepare_cached(
        "SELECT size FROM entries WHERE version_id = ?1 AND md5_hex = ?2 AND ref IS NULL LIMIT 1",
    )?;
    for (index, (md5, size)) in frames.iter().enumerate() {
        let found: Option<i64> = statement
            .query_row(params![id, md5], |row| row.get(0))
            .optional()?;
        match found.and_then(|found| u64::try_from(found).ok()) {
            None => {
                return Ok(Some((
                    index,
                    ApiError::not_found(format!(
                        "batch frame `{md5}` is not a file of this version's manifest"
                    )),
                )));
            }
            Some(expected) if expected != *size => {
                return Ok(Some((index, size_mismatch(md5, expected, *size))));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}

/// `POST /api/v1/artifacts/{id}/blobs`: a [`cairn_api::batch`] body of small blobs.
///
/// Frames are verified as they arrive. At the first bad frame (unknown blob, wrong size,
/// digest mismatch, a body cut inside a frame) the frames before it are stored and recorded,
/// and the answer is the error, saying how many were kept; the client asks for the missing
/// blobs again and resends the rest.
pub(crate) async fn put_batch(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    {
        let id = id.clone();
        state
            .db()
            .read(move |connection| batch_target(connection, &caller, &id))
            .await?;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if content_type.split(';').next().unwrap_or_default().trim() != BATCH_CONTENT_TYPE {
        return Err(ApiError::bad_request(format!(
            "a blob batch must be sent as `{BATCH_CONTENT_TYPE}`, not `{content_type}`"
        )));
    }
    check_content_length(&headers, BATCH_MAX_BYTES, "a blob batch")?;
    let mut parser = BatchParser::default();
    let mut stream = body.into_data_stream();
    let mut failure = None;
    let mut received = 0_u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                if received > BATCH_MAX_BYTES {
                    failure = Some(too_large("a blob batch", BATCH_MAX_BYTES));
                    break;
                }
                if let Err(error) = parser.feed(chunk) {
                    failure = Some(error);
                    break;
                }
            }
            Err(error) => {
                failure = Some(ApiError::bad_request(format!(
                    "the batch body ended early: {error}"
                )));
                break;
            }
        }
    }
    if failure.is_none() {
        failure = parser.finish().err();
    }
    let mut accepted = std::mem::take(&mut parser.accepted);
    // Frames are checked against the manifest once the body is in: one indexed lookup per
    // frame, instead of loading a manifest of any size for every batch.
    let frames: Vec<(String, u64)> = accepted
        .iter()
        .map(|(md5, size, _)| (md5.clone(), *size))
        .collect();
    let stranger = {
        let id = id.clone();
        state
            .db()
            .read(move |connection| first_stranger(connection, &id, &frames))
            .await?
    };
    if let Some((index, error)) = stranger {
        accepted.truncate(index);
        failure = Some(error);
    }
    let count = accepted.len() as u64;
    let bytes: u64 = accepted.iter().map(|(_, size, _)| size).sum();
    let recorded: Vec<(String, u64)> = accepted
        .iter()
        .map(|(md5, size, _)| (md5.clone(), *size))
        .collect();
    state.blobs().store_packed(accepted).await?;
    record(&state, id, recorded).await?;
    let counters = state.counters();
    Counters::add(&counters.blobs_received, count);
    Counters::add(&counters.blob_bytes_received, bytes);
    if let Some(error) = failure {
        if matches!(
            error.code(),
            ErrorCode::DigestMismatch | ErrorCode::SizeMismatch
        ) {
            Counters::add(&counters.blobs_rejected, 1);
        }
        return Err(match error {
            ApiError::Problem(mut problem) => {
                problem.detail = format!(
                    "{}; the {count} blob(s) before it in the batch were stored, ask for the missing blobs and resend the rest",
                    problem.detail
                );
                ApiError::Problem(problem)
            }
            other => other,
        });
    }
    Ok(ok(&BlobReceipt {
        blobs: count,
        bytes: received,
    }))
}

/// Splits a batch body into frames whose content matches their MD5.
#[derive(Default)]
struct BatchParser {
    buffer: BytesMut,
    header: Option<FrameHeader>,
    accepted: Vec<(String, u64, Bytes)>,
}

impl BatchParser {
    fn feed(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        self.buffer.extend_from_slice(&chunk);
        loop {
            let header = match self.header {
                Some(header) => header,
                None => {
                    if self.buffer.len() < FRAME_HEADER_LEN {
                        return Ok(());
                    }
                    let mut raw = [0_u8; FRAME_HEADER_LEN];
                    self.buffer.copy_to_slice(&mut raw);
                    let header = FrameHeader::decode(&raw);
                    check_header(&header)?;
                    self.header = Some(header);
                    header
                }
            };
            let size = usize::try_from(header.size).unwrap_or(usize::MAX);
            if self.buffer.len() < size {
                return Ok(());
            }
            let data = self.buffer.split_to(size).freeze();
            self.header = None;
            let md5 = header.md5_hex();
            let actual = cairn_hash::md5(&data).to_hex();
            if actual != md5 {
                return Err(digest_mismatch(&md5, &actual));
            }
            self.accepted.push((md5, header.size, data));
        }
    }

    fn finish(&self) -> Result<(), ApiError> {
        match (&self.header, self.buffer.len()) {
            (None, 0) => Ok(()),
            (Some(header), got) => Err(ApiError::bad_request(format!(
                "the batch is truncated: frame `{}` ended after {got} of {} bytes, and was not stored",
                header.md5_hex(),
                header.size
            ))),
            (None, got) => Err(ApiError::bad_request(format!(
                "the batch is truncated: it ends with {got} bytes of an incomplete frame header"
            ))),
        }
    }
}

/// Refuses frames too large for a batch before their content is read.
fn check_header(header: &FrameHeader) -> Result<(), ApiError> {
    if header.size > SMALL_BLOB_MAX_SIZE {
        return Err(ApiError::bad_request(format!(
            "batch frame `{}` declares {} bytes; blobs over {SMALL_BLOB_MAX_SIZE} bytes go up one by one with PUT",
            header.md5_hex(),
            header.size
        )));
    }
    Ok(())
}
