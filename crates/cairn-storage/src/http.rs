//! `http://` and `https://` references (single objects; HTTP has no listing).
//!
//! Resolving sends a `GET`, follows redirects and reads only the headers, as the SDK does: the
//! entry's `ref` is the final URL, its digest the `ETag` with surrounding quotes stripped (the
//! URL itself when there is no ETag), its size the `Content-Length` (absent for chunked
//! responses), and `extra.etag` the raw header. With checksums off nothing is requested.
//!
//! Fetching checks the ETag and length before the first byte and fails with
//! [`Error::Changed`] if either moved; without a recorded ETag only the length can be checked.
//! A body shorter or longer than recorded ends the stream with [`Error::Truncated`] or
//! [`Error::Changed`].
//!
//! Azure blob URLs (`*.blob.core.windows.net`) are not handled here: the Azure handler owns
//! them, as in the SDK.

use std::fmt;

use async_trait::async_trait;
use cairn_manifest::{Entry, LogicalPath};
use futures_util::stream::{self, StreamExt as _};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, ETAG};

use crate::registry::is_azure_blob_host;
use crate::{
    ByteStream, CONNECT_TIMEOUT, Error, MAX_RETRIES, READ_TIMEOUT, REQUEST_TIMEOUT, ReferenceUri,
    ResolveOptions, ResolveStream, ResolvedObject, Result, StorageHandler, entry_uri,
};

/// Settings of the HTTP handler.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    request_timeout: std::time::Duration,
    retries: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self::from_env()
    }
}

impl HttpConfig {
    /// The defaults: 30 s to the response headers, 3 retries. Proxies come from the standard
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` variables.
    pub fn from_env() -> Self {
        Self {
            request_timeout: REQUEST_TIMEOUT,
            retries: MAX_RETRIES as u32,
        }
    }

    /// Gives up on a request whose response headers take longer than `timeout`.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Retries a failed request up to `retries` times.
    #[must_use]
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}

/// The handler for `http(s)://` references.
#[derive(Debug, Clone)]
pub struct HttpHandler {
    client: Option<reqwest::Client>,
    config: HttpConfig,
}

impl fmt::Display for HttpHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("http")
    }
}

/// Matches every host, so the retry policy applies to every request of this client.
struct AnyHost;

impl PartialEq<&str> for AnyHost {
    fn eq(&self, _: &&str) -> bool {
        true
    }
}

impl HttpHandler {
    /// A handler with its own connection pool.
    pub fn new(config: HttpConfig) -> Self {
        let retry = reqwest::retry::for_host(AnyHost)
            .max_retries_per_request(config.retries)
            .classify_fn(|attempt| {
                let idempotent = matches!(
                    *attempt.method(),
                    reqwest::Method::GET | reqwest::Method::HEAD
                );
                // The statuses the SDK's session retries, plus connection errors.
                let transient = attempt.error().is_some()
                    || attempt.status().is_some_and(|status| {
                        matches!(status.as_u16(), 408 | 409 | 429 | 500 | 502 | 503 | 504)
                    });
                if idempotent && transient {
                    attempt.retryable()
                } else {
                    attempt.success()
                }
            });
        // Building fails only if the TLS backend cannot initialise; requests then report it.
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .retry(retry)
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok();
        Self { client, config }
    }

    /// Sends a GET and returns the response once its headers arrived with a success status.
    async fn get(&self, uri: &ReferenceUri) -> Result<reqwest::Response> {
        let shown = uri.redacted().to_string();
        let client = self.client.as_ref().ok_or_else(|| Error::NotSupported {
            backend: "http",
            operation: "requests (the TLS backend failed to initialise)",
        })?;
        let url = reqwest::Url::parse(uri.as_str()).map_err(|_| Error::MalformedUri {
            uri: shown.clone(),
            reason: "it is not a valid http(s) URL",
        })?;
        let request = client.get(url).send();
        let response = tokio::time::timeout(self.config.request_timeout, request)
            .await
            .map_err(|_| Error::Timeout {
                uri: shown.clone(),
                seconds: self.config.request_timeout.as_secs(),
            })?
            .map_err(|error| request_error(&shown, error))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Err(Error::NotFound {
                uri: shown,
                version: None,
            });
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(Error::PermissionDenied {
                uri: shown,
                hint: format!(
                    "the server answered HTTP {}; plain HTTP references are fetched without credentials",
                    status.as_u16()
                ),
                source: None,
            });
        }
        if !status.is_success() {
            return Err(Error::HttpStatus {
                uri: shown,
                status: status.as_u16(),
                reason: status.canonical_reason().map(str::to_owned),
            });
        }
        Ok(response)
    }
}

fn request_error(shown: &str, error: reqwest::Error) -> Error {
    if error.is_timeout() {
        Error::Timeout {
            uri: shown.to_owned(),
            seconds: READ_TIMEOUT.as_secs(),
        }
    } else {
        // reqwest's message repeats the full URL (secrets included); keep only the cause.
        Error::Backend {
            backend: "http",
            uri: shown.to_owned(),
            source: Box::new(error.without_url()),
        }
    }
}

/// The `Content-Length` header, exactly as sent (absent for chunked responses).
fn content_length(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
}

fn etag(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(ETAG)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Python's `os.path.basename` of the whole URI string: what follows the last `/`.
fn basename(uri: &str) -> &str {
    uri.rsplit_once('/').map_or(uri, |(_, last)| last)
}

#[async_trait]
impl StorageHandler for HttpHandler {
    fn handles(&self, uri: &ReferenceUri) -> bool {
        matches!(uri.scheme(), "http" | "https") && !is_azure_blob_host(&uri.host())
    }

    async fn resolve(&self, uri: &ReferenceUri, options: &ResolveOptions) -> Result<ResolveStream> {
        let name = options
            .name()
            .map_or_else(|| basename(uri.as_str()).to_owned(), str::to_owned);
        let path = LogicalPath::new(&name)?;
        if !options.checksum() {
            let entry = Entry::reference(uri.as_str(), uri.as_str(), None);
            return Ok(stream::iter([Ok(ResolvedObject { path, entry })]).boxed());
        }
        let response = self.get(uri).await?;
        let final_url = response.url().to_string();
        let size = content_length(&response);
        let raw_etag = etag(&response);
        // Only the headers are needed: dropping the response closes the body unread.
        drop(response);
        let digest = raw_etag
            .as_deref()
            .map_or_else(|| final_url.clone(), |tag| tag.trim_matches('"').to_owned());
        let mut entry = Entry::reference(final_url, digest, size);
        if let Some(raw_etag) = raw_etag {
            entry
                .extra
                .insert("etag".to_owned(), serde_json::Value::String(raw_etag));
        }
        Ok(stream::iter([Ok(ResolvedObject { path, entry })]).boxed())
    }

    async fn fetch(&self, entry: &Entry) -> Result<ByteStream> {
        let uri = entry_uri(entry)?;
        let shown = uri.redacted().to_string();
        let response = self.get(&uri).await?;
        let recorded_etag = entry.extra.get("etag").and_then(|value| value.as_str());
        if let Some(recorded) = recorded_etag {
            let found = etag(&response);
            if found.as_deref() != Some(recorded) {
                return Err(Error::Changed {
                    uri: shown,
                    recorded: format!("ETag {recorded}"),
                    found: found.map_or_else(|| "no ETag".to_owned(), |tag| format!("ETag {tag}")),
                });
            }
        }
        let found_size = content_length(&response);
        if let (Some(recorded), Some(found)) = (entry.size, found_size)
            && recorded != found
        {
            return Err(Error::Changed {
                uri: shown,
                recorded: format!("{recorded} bytes"),
                found: format!("{found} bytes"),
            });
        }
        let expected = entry.size.or(found_size);
        let body = response.bytes_stream();
        let state = (body, 0u64, expected, shown, false);
        Ok(stream::unfold(
            state,
            |(mut body, seen, expected, shown, done)| async move {
                if done {
                    return None;
                }
                match body.next().await {
                    Some(Ok(chunk)) => {
                        let seen = seen + chunk.len() as u64;
                        if let Some(expected) = expected
                            && seen > expected
                        {
                            let error = Error::Changed {
                                uri: shown.clone(),
                                recorded: format!("{expected} bytes"),
                                found: "more bytes".to_owned(),
                            };
                            return Some((Err(error), (body, seen, Some(expected), shown, true)));
                        }
                        Some((Ok(chunk), (body, seen, expected, shown, false)))
                    }
                    Some(Err(error)) => {
                        let error = request_error(&shown, error);
                        Some((Err(error), (body, seen, expected, shown, true)))
                    }
                    None => match expected {
                        Some(expected) if seen != expected => {
                            let error = Error::Truncated {
                                uri: shown.clone(),
                                expected,
                                got: seen,
                            };
                            Some((Err(error), (body, seen, Some(expected), shown, true)))
                        }
                        _ => None,
                    },
                }
            },
        )
        .boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basenames_like_python() {
        assert_eq!(
            basename("http://h/files/q.csv?token=abc"),
            "q.csv?token=abc"
        );
        assert_eq!(basename("http://h/files/sp%20ace.txt"), "sp%20ace.txt");
        assert_eq!(basename("http://h/dir/"), "");
    }
}
