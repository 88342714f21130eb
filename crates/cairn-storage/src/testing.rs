//! Test support (feature `testing`): emulator endpoints, bucket creation, the GCS write shim and
//! a programmable HTTP server. Used by this crate's tests and by the end-to-end suite.
//!
//! `cargo xtask test` starts moto (S3), fake-gcs-server (GCS) and Azurite (Azure) and exports
//! `CAIRN_TEST_S3_ENDPOINT`, `CAIRN_TEST_GCS_ENDPOINT`, `CAIRN_TEST_AZURITE_ENDPOINT` and
//! `CAIRN_TEST_EMULATORS=required`. Without them a test skips, unless `CAIRN_TEST_EMULATORS`
//! says they are required, when it fails: CI never silently skips a backend.
//!
//! What the emulators cannot show:
//! * fake-gcs-server has no XML-API `PUT` (object_store's upload path), so [`GcsWriteShim`]
//!   translates those into JSON-API media uploads; it ignores preconditions, so conditional
//!   create on GCS is not verifiable here, and it has no XML-API multipart uploads, so blobs
//!   past [`SINGLE_PUT_LIMIT`](crate::SINGLE_PUT_LIMIT) are shown on the other backends only.
//! * Azurite has no blob versioning, so version-pinned fetches are shown on S3 and GCS only.
//! * object_store cannot create buckets or containers; these helpers do it with the emulators'
//!   own APIs. Azurite requires a SharedKey-signed request for that one call, signed here with
//!   Azurite's published development key (test fixture only; product code signs through
//!   object_store).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};

/// Azurite's well-known development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";

/// Azurite's well-known development key (public, documented by Microsoft; not a secret).
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Which emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulator {
    /// moto server, for S3.
    S3,
    /// fake-gcs-server, for GCS.
    Gcs,
    /// Azurite, for Azure Blob.
    Azurite,
}

impl Emulator {
    fn variable(self) -> &'static str {
        match self {
            Self::S3 => "CAIRN_TEST_S3_ENDPOINT",
            Self::Gcs => "CAIRN_TEST_GCS_ENDPOINT",
            Self::Azurite => "CAIRN_TEST_AZURITE_ENDPOINT",
        }
    }

    /// The emulator's endpoint, or `None` when the tests should skip it.
    ///
    /// # Panics
    ///
    /// When the emulator is missing but `CAIRN_TEST_EMULATORS=required` (as under
    /// `cargo xtask test`).
    pub fn endpoint(self) -> Option<String> {
        if let Ok(endpoint) = std::env::var(self.variable())
            && !endpoint.is_empty()
        {
            return Some(endpoint.trim_end_matches('/').to_owned());
        }
        let required = std::env::var("CAIRN_TEST_EMULATORS").is_ok_and(|v| v == "required");
        assert!(
            !required,
            "{} is not set but CAIRN_TEST_EMULATORS=required; run the tests with `cargo xtask test`",
            self.variable()
        );
        None
    }
}

/// A name no other test (or test process) uses: `prefix-<pid>-<time>-<n>`, lower case, 3–63
/// characters as bucket rules require.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = format!(
        "{prefix}-{}-{:x}-{n}",
        std::process::id(),
        nanos % (1 << 40)
    );
    name.truncate(63);
    name.to_ascii_lowercase()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap_or_else(|error| panic!("cannot build an HTTP client for the emulators: {error}"))
}

#[track_caller]
fn check(response: reqwest::Result<reqwest::Response>, what: &str) {
    match response {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => panic!("{what}: the emulator answered {}", response.status()),
        Err(error) => panic!("{what}: {error}"),
    }
}

/// Creates a bucket on moto, with versioning when asked, and returns its name.
///
/// # Panics
///
/// If the emulator refuses.
pub async fn create_s3_bucket(endpoint: &str, versioned: bool) -> String {
    let bucket = unique_name("cairn");
    let client = client();
    check(
        client.put(format!("{endpoint}/{bucket}")).send().await,
        "create an S3 bucket",
    );
    if versioned {
        let body = r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#;
        check(
            client
                .put(format!("{endpoint}/{bucket}?versioning"))
                .header(header::CONTENT_TYPE, "application/xml")
                .body(body)
                .send()
                .await,
            "enable S3 versioning",
        );
    }
    bucket
}

/// Creates a bucket on fake-gcs-server (always versioned) and returns its name.
///
/// # Panics
///
/// If the emulator refuses.
pub async fn create_gcs_bucket(endpoint: &str) -> String {
    let bucket = unique_name("cairn");
    let body = serde_json::json!({ "name": bucket, "versioning": { "enabled": true } });
    check(
        client()
            .post(format!("{endpoint}/storage/v1/b?project=test"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await,
        "create a GCS bucket",
    );
    bucket
}

/// Creates a container on Azurite and returns its name.
///
/// # Panics
///
/// If the emulator refuses.
pub async fn create_azure_container(endpoint: &str) -> String {
    let container = unique_name("cairn");
    let date = httpdate(SystemTime::now());
    let version = "2021-08-06";
    let string_to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container"
    );
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(AZURITE_KEY)
        .unwrap_or_else(|error| panic!("Azurite's key is base64: {error}"));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
        .unwrap_or_else(|error| panic!("HMAC accepts any key length: {error}"));
    mac.update(string_to_sign.as_bytes());
    let signature = engine.encode(mac.finalize().into_bytes());
    check(
        client()
            .put(format!(
                "{endpoint}/{AZURITE_ACCOUNT}/{container}?restype=container"
            ))
            .header("x-ms-date", date)
            .header("x-ms-version", version)
            .header(header::CONTENT_LENGTH, "0")
            .header(
                header::AUTHORIZATION,
                format!("SharedKey {AZURITE_ACCOUNT}:{signature}"),
            )
            .send()
            .await,
        "create an Azure container",
    );
    container
}

/// RFC 7231 date, as `x-ms-date` wants it.
fn httpdate(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = seconds / 86_400;
    let (hour, minute, second) = (seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {day:02} {month_name} {year} {hour:02}:{minute:02}:{second:02} GMT")
}

/// A running in-process server; it stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(address: SocketAddr, router: axum::Router) -> std::io::Result<TestServer> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(TestServer { url, task })
}

/// Translates object_store's XML-API uploads into fake-gcs-server's JSON-API media uploads and
/// forwards everything else unchanged.
#[derive(Debug)]
pub struct GcsWriteShim;

impl GcsWriteShim {
    /// Starts the shim on a free loopback port in front of `upstream`.
    ///
    /// # Errors
    ///
    /// If no port can be bound.
    pub async fn start(upstream: &str) -> std::io::Result<TestServer> {
        let state = Arc::new((client(), upstream.trim_end_matches('/').to_owned()));
        let router = axum::Router::new().fallback(shim).with_state(state);
        serve(SocketAddr::from(([127, 0, 0, 1], 0)), router).await
    }
}

async fn shim(State(state): State<Arc<(reqwest::Client, String)>>, request: Request) -> Response {
    let (client, upstream) = state.as_ref();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let is_upload = parts.method == Method::PUT
        && !parts.headers.contains_key("x-goog-copy-source")
        && query.as_deref().is_none_or(|q| !q.contains("uploadId"));
    let outgoing = if is_upload {
        let trimmed = path.trim_start_matches('/');
        let (bucket, object) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let mut url =
            format!("{upstream}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={object}");
        if let Some(generation) = parts
            .headers
            .get("x-goog-if-generation-match")
            .and_then(|v| v.to_str().ok())
        {
            url.push_str(&format!("&ifGenerationMatch={generation}"));
        }
        client.post(url).body(body)
    } else {
        let url = match &query {
            Some(query) => format!("{upstream}{path}?{query}"),
            None => format!("{upstream}{path}"),
        };
        let mut forwarded = client.request(parts.method.clone(), url).body(body);
        for (name, value) in &parts.headers {
            if name != header::HOST {
                forwarded = forwarded.header(name, value);
            }
        }
        forwarded
    };
    let Ok(response) = outgoing.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = response.status();
    let headers = response.headers().clone();
    let Ok(bytes) = response.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    if is_upload && status.is_success() {
        // The JSON reply names the new object's etag and generation; the XML API sends them as
        // headers, which is what object_store reads.
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let mut reply = Response::new(Body::empty());
        if let Some(etag) = json.get("etag").and_then(|v| v.as_str())
            && let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\""))
        {
            reply.headers_mut().insert(header::ETAG, value);
        }
        if let Some(generation) = json.get("generation").and_then(|v| v.as_str())
            && let Ok(value) = HeaderValue::from_str(generation)
        {
            reply.headers_mut().insert("x-goog-generation", value);
        }
        return reply;
    }
    let mut reply = Response::new(Body::from(bytes));
    *reply.status_mut() = status;
    for (name, value) in &headers {
        if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            reply.headers_mut().insert(name, value.clone());
        }
    }
    reply
}

/// One route of a [`TestHttpServer`].
#[derive(Debug, Clone, Default)]
pub struct HttpRoute {
    /// The body served.
    pub body: Vec<u8>,
    /// The `ETag` header, raw (quotes included), if any.
    pub etag: Option<String>,
    /// Whether to send `Content-Length` (else the body is chunked).
    pub content_length: bool,
    /// Redirect here instead of serving a body.
    pub redirect_to: Option<String>,
    /// Answer with this status and no body.
    pub status: Option<u16>,
}

/// A programmable HTTP server: routes by path-and-query, changeable while it runs.
#[derive(Debug, Clone, Default)]
pub struct TestHttpServer {
    routes: Arc<std::sync::RwLock<HashMap<String, HttpRoute>>>,
}

impl TestHttpServer {
    /// An empty server (every path is 404).
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `route` at `path_and_query` (replacing what was there).
    pub fn set(&self, path_and_query: &str, route: HttpRoute) {
        self.routes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path_and_query.to_owned(), route);
    }

    /// Starts serving on `address` (port 0 picks a free port).
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub async fn start(&self, address: SocketAddr) -> std::io::Result<TestServer> {
        let router = axum::Router::new()
            .fallback(http_route)
            .with_state(self.clone());
        serve(address, router).await
    }
}

async fn http_route(State(server): State<TestHttpServer>, request: Request) -> Response {
    let key = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let route = server
        .routes
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .cloned();
    let Some(route) = route else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(status) = route.status {
        return StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    if let Some(target) = route.redirect_to {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&target) {
            headers.insert(header::LOCATION, value);
        }
        return (StatusCode::FOUND, headers).into_response();
    }
    let mut response = if route.content_length {
        Response::new(Body::from(route.body))
    } else {
        let chunks =
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(route.body))]);
        Response::new(Body::from_stream(chunks))
    };
    if let Some(etag) = route.etag
        && let Ok(value) = HeaderValue::from_str(&etag)
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(httpdate(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let time = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(httpdate(time), "Wed, 18 Nov 2026 11:06:40 GMT");
    }
}
