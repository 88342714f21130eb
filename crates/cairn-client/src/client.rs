//! [`Client`]: one HTTP connection pool to a Cairn server, the retry policy, the transfer
//! concurrency, the progress sink and the local cache, shared by everything that talks to it.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cairn_api::{ErrorCode, Problem, routes};
use cairn_cache::Cache;
use futures_util::StreamExt as _;
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::progress::NoProgress;
use crate::retry::{jitter, parse_retry_after};
use crate::{Error, Progress, Result, RetryPolicy, Settings};

/// Environment variable: how many transfers run at once.
pub const CONCURRENCY_ENV: &str = "CAIRN_TRANSFER_CONCURRENCY";
/// Transfers in flight when nothing else is asked for.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Time limit for establishing a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence tolerated while sending a streamed body, waiting for or reading a response.
/// There is no cap on the total time, so a large transfer takes as long as it needs while it
/// keeps moving.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The most of an error body that is read (problem documents are small).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A connection to a Cairn server. Cheap to clone: clones share the connection pool, the
/// cache and the progress sink.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http` without a read timeout, for requests with a streamed body: reqwest's read timeout
    /// runs from the start of a request to its answer's headers, the whole upload included, so
    /// every blob that took longer than it to send failed, and failed again on each retry (a
    /// 20 GiB put never finished). [`watched`](Self::watched) bounds their silences instead.
    streaming: reqwest::Client,
    read_timeout: Duration,
    settings: Arc<Settings>,
    retry: RetryPolicy,
    concurrency: usize,
    progress: Arc<dyn Progress>,
    /// Opened on first use unless one was given.
    cache: Arc<Mutex<Option<Arc<Cache>>>>,
    handlers: Option<Arc<cairn_storage::Handlers>>,
    /// The viewer's user name, fetched once.
    username: Arc<Mutex<Option<String>>>,
    /// The largest blob the server takes and gives in a batch, asked once.
    batch_blob_max_size: Arc<tokio::sync::OnceCell<u64>>,
}

/// When a streamed request last made progress: each chunk its body hands over (see
/// [`track`](Self::track)).
#[derive(Debug, Clone)]
pub(crate) struct Activity(Arc<Mutex<tokio::time::Instant>>);

impl Activity {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(tokio::time::Instant::now())))
    }

    fn touch(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = tokio::time::Instant::now();
    }

    /// `body` noting here each chunk it yields: a chunk is made when the HTTP client asks for
    /// one, so a link that stopped taking bytes stops the notes.
    pub(crate) fn track<S: futures_util::Stream>(
        &self,
        body: S,
    ) -> impl futures_util::Stream<Item = S::Item> + use<S> {
        let activity = self.clone();
        body.inspect(move |_| activity.touch())
    }

    fn last(&self) -> tokio::time::Instant {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The client for ordinary requests and the one for streamed bodies (see [`Client`]).
fn http_clients(
    base_url: &str,
    read_timeout: Duration,
) -> Result<(reqwest::Client, reqwest::Client)> {
    let builder = || {
        reqwest::Client::builder()
            .user_agent(concat!("cairn-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
    };
    let built = |builder: reqwest::ClientBuilder| {
        builder.build().map_err(|source| Error::Http {
            url: base_url.to_owned(),
            source,
        })
    };
    Ok((
        built(builder().read_timeout(read_timeout))?,
        built(builder())?,
    ))
}

/// A failed attempt: the error, and how long the server asked us to wait before the next.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl Client {
    /// A client for `settings`, with the concurrency from `CAIRN_TRANSFER_CONCURRENCY` (default
    /// 8). No request is made yet.
    pub fn new(settings: Settings) -> Result<Self> {
        let settings = Settings::new(settings.base_url, settings.api_key);
        let is_http =
            settings.base_url.starts_with("http://") || settings.base_url.starts_with("https://");
        if !is_http || reqwest::Url::parse(&settings.base_url).is_err() {
            return Err(Error::Setting {
                name: crate::settings::BASE_URL_ENV.to_owned(),
                reason: format!(
                    "`{}` is not an http(s) URL; use for example `http://127.0.0.1:8080`",
                    settings.base_url
                ),
            });
        }
        let (http, streaming) = http_clients(&settings.base_url, DEFAULT_READ_TIMEOUT)?;
        Ok(Self {
            http,
            streaming,
            read_timeout: DEFAULT_READ_TIMEOUT,
            settings: Arc::new(settings),
            retry: RetryPolicy::default(),
            concurrency: concurrency_from_env()?.unwrap_or(DEFAULT_CONCURRENCY),
            progress: Arc::new(NoProgress),
            cache: Arc::new(Mutex::new(None)),
            handlers: None,
            username: Arc::new(Mutex::new(None)),
            batch_blob_max_size: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// [`Settings::from_env`], then [`Client::new`].
    pub fn from_env() -> Result<Self> {
        Self::new(Settings::from_env()?)
    }

    /// Reports progress of uploads and downloads to `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Gives up on a request after `timeout` without progress (default
    /// [`DEFAULT_READ_TIMEOUT`]): no byte of a streamed body taken, no answer, no byte of the
    /// answer's body. The total time is not bounded.
    pub fn with_read_timeout(mut self, timeout: Duration) -> Result<Self> {
        (self.http, self.streaming) = http_clients(&self.settings.base_url, timeout)?;
        self.read_timeout = timeout;
        Ok(self)
    }

    /// Runs at most `transfers` uploads or downloads at once (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, transfers: usize) -> Self {
        self.concurrency = transfers.max(1);
        self
    }

    /// Uses `cache` instead of opening the one chosen by the environment on first use.
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<Cache>) -> Self {
        self.cache = Arc::new(Mutex::new(Some(cache)));
        self
    }

    /// Retries failed requests by `policy` instead of the default (5 retries, 200 ms → 5 s).
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Fetches reference entries with `handlers` instead of every backend of this build
    /// configured from the environment.
    #[must_use]
    pub fn with_handlers(mut self, handlers: cairn_storage::Handlers) -> Self {
        self.handlers = Some(Arc::new(handlers));
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The number of transfers run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Who the API key belongs to.
    pub async fn viewer(&self) -> Result<cairn_api::Viewer> {
        let viewer: cairn_api::Viewer = self.get_json(routes::VIEWER).await?;
        *self.username.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(viewer.user.username.clone());
        Ok(viewer)
    }

    /// The server's counters (server admins only).
    pub async fn server_stats(&self) -> Result<cairn_api::ServerStats> {
        self.get_json(routes::SERVER_STATS).await
    }

    /// The largest blob that travels in a batch with this server (its
    /// [`cairn_api::ServerInfo::batch_blob_max_size`], at most what this client plans memory
    /// for, [`cairn_api::BATCH_BLOB_MAX_SIZE`]), asked once per client.
    pub(crate) async fn batch_blob_max_size(&self) -> Result<u64> {
        self.batch_blob_max_size
            .get_or_try_init(|| async {
                let info: cairn_api::ServerInfo = self.get_json(routes::SERVER).await?;
                Ok(info.batch_blob_max_size.min(cairn_api::BATCH_BLOB_MAX_SIZE))
            })
            .await
            .copied()
    }

    /// The viewer's user name, asked once per client.
    pub(crate) async fn username(&self) -> Result<String> {
        let known = self
            .username
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match known {
            Some(username) => Ok(username),
            None => Ok(self.viewer().await?.user.username),
        }
    }

    pub(crate) fn progress(&self) -> &dyn Progress {
        self.progress.as_ref()
    }

    pub(crate) fn progress_arc(&self) -> Arc<dyn Progress> {
        Arc::clone(&self.progress)
    }

    /// The cache, opened from the environment (`CAIRN_CACHE_DIR`, ...) on first use unless one
    /// was given with [`with_cache`](Self::with_cache).
    pub fn cache(&self) -> Result<Arc<Cache>> {
        let mut slot = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cache) = slot.as_ref() {
            return Ok(Arc::clone(cache));
        }
        let cache = Arc::new(Cache::from_env().map_err(Error::cache)?);
        *slot = Some(Arc::clone(&cache));
        Ok(cache)
    }

    pub(crate) fn handlers(&self) -> Arc<cairn_storage::Handlers> {
        static DEFAULT: std::sync::OnceLock<Arc<cairn_storage::Handlers>> =
            std::sync::OnceLock::new();
        match &self.handlers {
            Some(handlers) => Arc::clone(handlers),
            None => {
                Arc::clone(DEFAULT.get_or_init(|| Arc::new(cairn_storage::Handlers::from_env())))
            }
        }
    }

    /// The full URL of an API path.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url)
    }

    /// A request to an API path (authentication is added by [`send`](Self::send)).
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// A request to an API path whose body is a stream: send it inside
    /// [`watched`](Self::watched).
    pub(crate) fn streaming_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.streaming.request(method, self.url(path))
    }

    /// Runs `attempt` (the sending of a [`streaming_request`](Self::streaming_request) and the
    /// reading of its answer) until it ends, or fails it once `activity` has not moved for the
    /// read timeout.
    pub(crate) async fn watched<T>(
        &self,
        path: &str,
        activity: &Activity,
        attempt: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        activity.touch();
        let mut attempt = std::pin::pin!(attempt);
        loop {
            let deadline = activity.last() + self.read_timeout;
            tokio::select! {
                result = &mut attempt => return result,
                () = tokio::time::sleep_until(deadline) => {
                    if activity.last() + self.read_timeout <= tokio::time::Instant::now() {
                        return Err(Failure::from(Error::Stalled {
                            url: self.url(path),
                            after: self.read_timeout,
                        }));
                    }
                }
            }
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are used up. Each
    /// attempt must rebuild its request (bodies included) from scratch.
    pub(crate) async fn retrying<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut retry = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) if failure.error.is_transient() && retry < self.retry.max_retries => {
                    let delay = self.retry.delay(retry, failure.retry_after, jitter());
                    tracing::debug!(what, retry, ?delay, error = %failure.error, "retrying");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }

    /// Sends one request with the API key; a non-success answer becomes the matching error.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let request = match &self.settings.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.problem(response).await)
    }

    /// An error of the HTTP client: a failed connection names the server and says what to check.
    pub(crate) fn transport_error(&self, source: reqwest::Error) -> Error {
        if source.is_connect() {
            Error::Connect {
                base_url: self.settings.base_url.clone(),
                source,
            }
        } else {
            let url = source.url().map_or_else(
                || self.settings.base_url.clone(),
                |url| url.as_str().to_owned(),
            );
            Error::Http { url, source }
        }
    }

    /// Reads an error answer into a typed error.
    async fn problem(&self, response: Response) -> Failure {
        let status = response.status().as_u16();
        let url = response.url().as_str().to_owned();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let body = read_limited(response, MAX_ERROR_BODY).await;
        let error = match serde_json::from_slice::<Problem>(&body) {
            Ok(problem) => self.problem_error(problem.code, status, problem.detail),
            Err(_) => {
                let text = String::from_utf8_lossy(&body);
                let text: String = text.trim().chars().take(200).collect();
                let detail = if text.is_empty() {
                    format!("HTTP {status} from `{url}`")
                } else {
                    format!("HTTP {status} from `{url}`: {text}")
                };
                let code = match status {
                    401 => ErrorCode::Unauthenticated,
                    403 => ErrorCode::PermissionDenied,
                    404 => ErrorCode::NotFound,
                    _ => ErrorCode::Unknown,
                };
                self.problem_error(code, status, detail)
            }
        };
        Failure { error, retry_after }
    }

    fn problem_error(&self, code: ErrorCode, status: u16, detail: String) -> Error {
        match code {
            ErrorCode::Unauthenticated => Error::Unauthenticated {
                base_url: self.settings.base_url.clone(),
                detail,
            },
            ErrorCode::PermissionDenied => Error::PermissionDenied { detail },
            ErrorCode::NotFound => Error::NotFound { what: detail },
            code => Error::Server {
                code,
                status,
                detail,
            },
        }
    }

    /// `GET` a JSON document.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.retrying(path, || async {
            let response = self.send(self.request(Method::GET, path)).await?;
            Ok(self.read_json(response).await?)
        })
        .await
    }

    /// Sends a JSON body and reads a JSON answer.
    pub(crate) async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let body = self.encode(path, body)?;
        self.retrying(path, || async {
            let response = self.send(self.json_request(&method, path, &body)).await?;
            Ok(self.read_json(response).await?)
        })
        .await
    }

    /// Sends a JSON body; the answer's body, if any, is not needed.
    pub(crate) async fn send_ignore<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<()> {
        let body = self.encode(path, body)?;
        self.retrying(path, || async {
            self.send(self.json_request(&method, path, &body)).await?;
            Ok(())
        })
        .await
    }

    fn encode<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<Bytes> {
        serde_json::to_vec(body)
            .map(Bytes::from)
            .map_err(|error| Error::Protocol {
                url: self.url(path),
                reason: format!("cannot encode the request: {error}"),
            })
    }

    fn json_request(&self, method: &Method, path: &str, body: &Bytes) -> RequestBuilder {
        self.request(method.clone(), path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
    }

    /// `GET` raw bytes (a manifest).
    pub(crate) async fn get_bytes(&self, path: &str) -> Result<Bytes> {
        self.retrying(path, || async {
            let response = self.send(self.request(Method::GET, path)).await?;
            Ok(response
                .bytes()
                .await
                .map_err(|error| self.transport_error(error))?)
        })
        .await
    }

    /// `POST`s a JSON body and reads the raw bytes of the answer (a blob batch).
    pub(crate) async fn post_json_for_bytes<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Bytes> {
        let body = self.encode(path, body)?;
        self.retrying(path, || async {
            let response = self
                .send(self.json_request(&Method::POST, path, &body))
                .await?;
            Ok(response
                .bytes()
                .await
                .map_err(|error| self.transport_error(error))?)
        })
        .await
    }

    /// Reads a success answer as JSON.
    pub(crate) async fn read_json<T: DeserializeOwned>(&self, mut response: Response) -> Result<T> {
        let url = response.url().as_str().to_owned();
        // Chunk by chunk into one buffer of the announced length: `bytes()` keeps every chunk
        // until it copies them into one, twice the body (a put's list of 500,000 missing blobs
        // is 20 MB). The announced length only sizes the first allocation, within reason.
        let announced = response
            .content_length()
            .unwrap_or(0)
            .min(READ_JSON_RESERVE_MAX);
        let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(error))?
        {
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|error| Error::Protocol {
            url,
            reason: format!("the body is not the expected JSON ({error})"),
        })
    }
}

/// The most [`Client::read_json`] reserves up front for a body of announced length.
const READ_JSON_RESERVE_MAX: u64 = 256 * 1024 * 1024;

/// The first `limit` bytes of a body (an error body that fails to arrive is treated as empty).
async fn read_limited(response: Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

fn concurrency_from_env() -> Result<Option<usize>> {
    match std::env::var_os(CONCURRENCY_ENV).filter(|value| !value.is_empty()) {
        Some(value) => parse_concurrency(&value).map(Some),
        None => Ok(None),
    }
}

fn parse_concurrency(value: &std::ffi::OsStr) -> Result<usize> {
    match value
        .to_str()
        .and_then(|text| text.trim().parse::<usize>().ok())
    {
        Some(transfers) if transfers > 0 => Ok(transfers),
        _ => Err(Error::Setting {
            name: CONCURRENCY_ENV.to_owned(),
            reason: format!(
                "`{}` is not a positive number of transfers; use for example 8",
                value.to_string_lossy()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn concurrency_must_be_a_positive_number() {
        assert_eq!(parse_concurrency(OsStr::new(" 16 ")).ok(), Some(16));
        for bad in ["0", "-1", "many", "1.5"] {
            let error = parse_concurrency(OsStr::new(bad)).unwrap_err().to_string();
            assert!(
                error.contains(CONCURRENCY_ENV) && error.contains(bad),
                "{error}"
            );
        }
    }
}
