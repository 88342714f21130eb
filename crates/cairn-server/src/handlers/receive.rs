//! Receiving blobs: one streamed blob per `PUT`, or many of up to 1 MiB per batch `POST`, or a
//! large one staged before any version lists it. The
//! domain (`Service::receive_blob`, `Service::receive_batch`) hashes and verifies every byte,
//! stores nothing that does not match, and records what it kept; this module reads the bodies
//! and splits batches into their frames.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use bytes::{Buf as _, Bytes, BytesMut};
use cairn_api::batch::{CONTENT_TYPE as BATCH_CONTENT_TYPE, FRAME_HEADER_LEN, FrameHeader};
use cairn_api::{BATCH_BLOB_MAX_SIZE, BATCH_MAX_BYTES, BlobReceipt, BlobRef, KnownSizes};
use cairn_service::logging::Frame;
use futures_util::StreamExt as _;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, check_content_length, content_length, ok, too_large};
use crate::state::AppState;

/// `PUT /api/v1/artifacts/{id}/blobs/{md5}`: one blob, streamed.
pub(crate) async fn put_blob(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((id, md5)): PathParams<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let received = state
        .service()
        .receive_blob(
            auth.caller(),
            &id,
            &md5,
            content_length(&headers),
            body.into_data_stream(),
        )
        .await?;
    Ok(ok(&BlobReceipt {
        blobs: received.blobs,
        bytes: received.bytes,
    }))
}

/// `POST /api/v1/projects/{entity}/{project}/staged-blobs`: one blob before any version lists
/// it, streamed; the answer is the MD5 the server computed.
pub(crate) async fn stage_blob(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let staged = state
        .service()
        .stage_blob(
            auth.caller(),
            &entity,
            &project,
            content_length(&headers),
            body.into_data_stream(),
        )
        .await?;
    Ok(ok(&BlobRef {
        md5: staged.md5,
        size: staged.size,
    }))
}

/// `POST /api/v1/projects/{entity}/{project}/known-sizes`.
pub(crate) async fn known_sizes(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((entity, project)): PathParams<(String, String)>,
    JsonBody(asked): JsonBody<KnownSizes>,
) -> Result<Response, ApiError> {
    let sizes = state
        .service()
        .known_sizes(auth.caller(), &entity, &project, asked.sizes)
        .await?;
    Ok(ok(&KnownSizes { sizes }))
}

/// `POST /api/v1/artifacts/{id}/blobs`: a [`cairn_api::batch`] body of blobs of at most
/// [`BATCH_BLOB_MAX_SIZE`] bytes.
///
/// At the first bad frame (unknown blob, wrong size, digest mismatch, a body cut inside a
/// frame) the frames before it are stored and recorded, and the answer is the error, saying
/// how many were kept; the client asks for the missing blobs again and resends the rest.
pub(crate) async fn put_batch(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.service().check_upload(auth.caller(), &id).await?;
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
    // Room for the whole declared body at once: a buffer grown chunk by chunk doubles (and is
    // copied) while the frames already split off still hold the old one.
    let declared = content_length(&headers)
        .unwrap_or_default()
        .min(BATCH_MAX_BYTES);
    let mut parser = BatchParser {
        buffer: BytesMut::with_capacity(usize::try_from(declared).unwrap_or_default()),
        ..BatchParser::default()
    };
    let mut stream = body.into_data_stream();
    let mut cut: Option<ApiError> = None;
    let mut received = 0_u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                if received > BATCH_MAX_BYTES {
                    cut = Some(too_large("a blob batch", BATCH_MAX_BYTES));
                    break;
                }
                if let Err(error) = parser.feed(chunk) {
                    cut = Some(error);
                    break;
                }
            }
            Err(error) => {
                cut = Some(ApiError::bad_request(format!(
                    "the batch body ended early: {error}"
                )));
                break;
            }
        }
    }
    if cut.is_none() {
        cut = parser.finish().err();
    }
    let cut = cut.map(batch_refusal);
    let stored = state
        .service()
        .receive_batch(auth.caller(), &id, std::mem::take(&mut parser.frames), cut)
        .await?;
    Ok(ok(&BlobReceipt {
        blobs: stored.blobs,
        bytes: received,
    }))
}

/// A batch's own failure (framing, size) as the domain refusal it reports after the frames
/// before it are stored.
fn batch_refusal(error: ApiError) -> cairn_service::Error {
    match error {
        ApiError::Domain(error) => error,
        ApiError::Problem(problem) => {
            let kind = match problem.code {
                cairn_api::ErrorCode::PayloadTooLarge => cairn_service::Kind::PayloadTooLarge,
                _ => cairn_service::Kind::BadRequest,
            };
            cairn_service::Error::refused(kind, problem.detail)
        }
        ApiError::Internal(detail) => cairn_service::Error::Internal(detail),
    }
}

/// Splits a batch body into frames (the domain checks each frame's content against its MD5).
#[derive(Default)]
struct BatchParser {
    buffer: BytesMut,
    header: Option<FrameHeader>,
    frames: Vec<Frame>,
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
            self.frames.push(Frame {
                md5_hex: header.md5_hex(),
                data,
            });
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
    if header.size > BATCH_BLOB_MAX_SIZE {
        return Err(ApiError::bad_request(format!(
            "batch frame `{}` declares {} bytes; blobs over {BATCH_BLOB_MAX_SIZE} bytes go up one by one with PUT",
            header.md5_hex(),
            header.size
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wire_limits_are_the_domain_limits() {
        // The API announces what the domain enforces; they are two constants in two crates.
        assert_eq!(
            cairn_api::BATCH_BLOB_MAX_SIZE,
            cairn_service::BATCH_BLOB_MAX_SIZE
        );
        assert_eq!(cairn_api::SMALL_BLOB_MAX_SIZE, cairn_service::PACK_MAX_SIZE);
    }
}
