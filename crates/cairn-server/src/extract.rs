//! Request extractors and response helpers whose failures are `problem+json` bodies instead of
//! axum's plain-text rejections: JSON bodies with a size limit and a content-type check, path
//! parameters, and JSON answers.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use cairn_api::ErrorCode;
use futures_util::StreamExt as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest JSON request body.
pub(crate) const JSON_MAX_BYTES: u64 = 1024 * 1024;

/// A JSON request body of at most [`JSON_MAX_BYTES`], sent as `application/json`.
#[derive(Debug, Clone)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        require_json(request.headers())?;
        check_content_length(request.headers(), JSON_MAX_BYTES, "a JSON body")?;
        let bytes = read_limited(request.into_body(), JSON_MAX_BYTES, "a JSON body").await?;
        // An empty body is an empty object, so `POST .../commit` needs no body.
        let bytes = match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
            None => Bytes::from_static(b"{}"),
            Some(b'{') => bytes,
            // Every body is an object. serde would also take a struct from an array of its
            // fields (`[null, null]`) and a field-less one from `null`.
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the JSON body must be an object (`{...}`)",
                ));
            }
        };
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|error| ApiError::bad_request(format!("the JSON body is not valid: {error}")))
    }
}

/// Fails unless the content type is JSON (or absent).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::CONTENT_TYPE) {
        None => Ok(()),
        Some(value) => {
            let text = value.to_str().unwrap_or_default();
            let essence = text.split(';').next().unwrap_or_default().trim();
            if essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json") {
                Ok(())
            } else {
                Err(ApiError::bad_request(format!(
                    "the body must be `application/json`, not `{text}`"
                )))
            }
        }
    }
}

/// Reads a whole body, refusing more than `limit` bytes with `payload_too_large`.
pub(crate) async fn read_limited(body: Body, limit: u64, what: &str) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut collected = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::bad_request(format!("the request body could not be read: {error}"))
        })?;
        if (collected.len() + chunk.len()) as u64 > limit {
            return Err(too_large(what, limit));
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.freeze())
}

/// The `payload_too_large` problem.
pub(crate) fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("{what} may be at most {limit} bytes"),
    )
}

/// Fails early when `Content-Length` already says the body is over `limit`.
pub(crate) fn check_content_length(
    headers: &HeaderMap,
    limit: u64,
    what: &str,
) -> Result<(), ApiError> {
    match content_length(headers) {
        Some(length) if length > limit => Err(too_large(what, limit)),
        _ => Ok(()),
    }
}

/// The request's `Content-Length`, if present and numeric.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Path parameters; a malformed one is a `bad_request` problem.
#[derive(Debug, Clone)]
pub(crate) struct PathParams<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request(format!("bad path: {rejection}")))
    }
}

/// Query parameters; a malformed one is a `bad_request` problem.
#[derive(Debug, Clone)]
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request(format!("bad query: {rejection}")))
    }
}

/// A JSON answer with `status`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => ApiError::internal(format!("serialising an answer: {error}")).into_response(),
    }
}

/// A `200` JSON answer.
pub(crate) fn ok<T: Serialize>(value: &T) -> Response {
    json(StatusCode::OK, value)
}
