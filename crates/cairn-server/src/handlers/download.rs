//! Serving blobs: `GET /api/v1/artifacts/{id}/blobs/{md5}` with `Range` (one range: `a-b`, `a-`
//! or `-n`), `ETag: "<md5hex>"` and `If-None-Match`. Packed blobs come from SQLite, the others
//! stream from the blob store.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use cairn_api::ErrorCode;
use cairn_service::logging::BlobBytes;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::state::AppState;

/// What a `Range` header asks of a blob of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// The whole blob (no header, or one the server ignores: other units, several ranges,
    /// malformed).
    Full,
    /// Bytes `start..end`.
    Partial { start: u64, end: u64 },
    /// A range outside the blob.
    Unsatisfiable,
}

/// Interprets a `Range` header against a blob of `size` bytes (RFC 9110 §14).
pub(crate) fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|text| text.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            None => RangeRequest::Full,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if size == 0 => RangeRequest::Unsatisfiable,
            Some(length) => RangeRequest::Partial {
                start: size - length.min(size),
                end: size,
            },
        },
        (start, "") => match number(start) {
            None => RangeRequest::Full,
            Some(start) if start >= size => RangeRequest::Unsatisfiable,
            Some(start) => RangeRequest::Partial { start, end: size },
        },
        (start, end) => match (number(start), number(end)) {
            (Some(start), Some(end)) if start <= end => {
                if start >= size {
                    RangeRequest::Unsatisfiable
                } else {
                    RangeRequest::Partial {
                        start,
                        end: end.saturating_add(1).min(size),
                    }
                }
            }
            _ => RangeRequest::Full,
        },
    }
}

/// Whether `If-None-Match` matches `etag` (a quoted strong tag).
pub(crate) fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// `GET /api/v1/artifacts/{id}/blobs/{md5}`: access is decided once, then the bytes are read.
pub(crate) async fn get_blob(
    State(state): State<AppState>,
    auth: Auth,
    PathParams((id, md5)): PathParams<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let blob = state.service().find_blob(auth.caller(), &id, &md5).await?;
    serve_blob(&state, &blob, &headers).await
}

/// Answers a blob found by `Service::find_blob`, honouring `Range` and `If-None-Match` (the
/// native route and the W&B protocol's download URLs).
pub(crate) async fn serve_blob(
    state: &AppState,
    blob: &cairn_service::logging::ServableBlob,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (md5, size) = (blob.md5_hex.as_str(), blob.size);
    let etag = format!("\"{md5}\"");
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|error| ApiError::internal(error.to_string()))?;
    if none_match(headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag_value);
        return Ok(response);
    }
    let range_header = headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let (status, start, end) = match parse_range(range_header, size) {
        RangeRequest::Full => (StatusCode::OK, 0, size),
        RangeRequest::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        RangeRequest::Unsatisfiable => {
            let mut response: Response = ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                format!(
                    "the range `{}` is outside blob `{md5}`, which has {size} bytes",
                    range_header.unwrap_or_default()
                ),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let range = (status == StatusCode::PARTIAL_CONTENT).then_some(start..end);
    let body = match state.service().read_blob(blob, range).await? {
        BlobBytes::Whole(bytes) => Body::from(bytes),
        BlobBytes::Stream(stream) => Body::from_stream(stream),
    };
    let mut response = (status, body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::ETAG, etag_value);
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1))
    {
        response_headers.insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

/// `POST /api/v1/artifacts/{id}/small-blobs`: many small blobs in one answer, framed as a blob
/// batch, in the order asked; one access decision for them all.
pub(crate) async fn small_blobs(
    State(state): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    crate::extract::JsonBody(request): crate::extract::JsonBody<cairn_api::ReadSmallBlobs>,
) -> Result<Response, ApiError> {
    let blobs = state
        .service()
        .read_small_blobs(auth.caller(), &id, &request.md5)
        .await?;
    let length: usize = blobs
        .iter()
        .map(|(_, data)| cairn_api::batch::FRAME_HEADER_LEN + data.len())
        .sum();
    // Each header and blob goes out as its own piece: the blobs (up to 16 MiB) are not copied
    // into one body first.
    let mut pieces = Vec::with_capacity(2 * blobs.len());
    for (md5, data) in blobs {
        let header = cairn_api::batch::FrameHeader {
            md5: *md5.as_bytes(),
            size: data.len() as u64,
        };
        pieces.push(bytes::Bytes::copy_from_slice(&header.encode()));
        pieces.push(data);
    }
    let body = Body::from_stream(futures_util::stream::iter(
        pieces.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(cairn_api::batch::CONTENT_TYPE),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, size: u64, expect: RangeRequest) {
        assert_eq!(
            parse_range(Some(header), size),
            expect,
            "{header} of {size}"
        );
    }

    #[test]
    fn ranges() {
        use RangeRequest::{Full, Partial, Unsatisfiable};
        check("bytes=0-9", 100, Partial { start: 0, end: 10 });
        check(
            "bytes=90-200",
            100,
            Partial {
                start: 90,
                end: 100,
            },
        );
        check(
            "bytes=10-",
            100,
            Partial {
                start: 10,
                end: 100,
            },
        );
        check(
            "bytes=-10",
            100,
            Partial {
                start: 90,
                end: 100,
            },
        );
        check("bytes=-1000", 100, Partial { start: 0, end: 100 });
        check("bytes=100-", 100, Unsatisfiable);
        check("bytes=100-200", 100, Unsatisfiable);
        check("bytes=-0", 100, Unsatisfiable);
        check("bytes=0-0", 0, Unsatisfiable);
        check("bytes=5-2", 100, Full);
        check("bytes=0-1,5-6", 100, Full);
        check("items=0-1", 100, Full);
        check("bytes=a-b", 100, Full);
        assert_eq!(parse_range(None, 100), Full);
    }

    #[test]
    fn if_none_match() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", \"abc\""),
        );
        assert!(none_match(&headers, "\"abc\""));
        assert!(!none_match(&headers, "\"abd\""));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&headers, "\"abd\""));
    }
}
