//! `http(s)://` references against an in-process server whose headers the tests control.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_storage::testing::{HttpRoute, TestHttpServer};
use cairn_storage::{Error, Handlers, HttpConfig, HttpHandler, ResolveOptions};

use crate::runtime;

fn route(body: &[u8], etag: Option<&str>) -> HttpRoute {
    HttpRoute {
        body: body.to_vec(),
        etag: etag.map(str::to_owned),
        content_length: true,
        ..HttpRoute::default()
    }
}

fn handlers() -> Handlers {
    let config = HttpConfig::from_env()
        .with_request_timeout(Duration::from_secs(2))
        .with_retries(1);
    Handlers::new().with(Arc::new(HttpHandler::new(config)))
}

#[test]
fn entries_follow_the_sdk() {
    let runtime = runtime();
    let server = TestHttpServer::new();
    server.set("/etag.bin", route(b"hello world\n", Some("\"abc\"")));
    server.set("/weak.txt", route(b"w", Some("W/\"weak-77\"")));
    server.set("/noetag.txt", route(b"plain", None));
    server.set(
        "/chunked.bin",
        HttpRoute {
            content_length: false,
            ..route(b"x", Some("\"c\""))
        },
    );
    server.set("/q.csv?token=abc", route(b"q", Some("\"q\"")));
    server.set(
        "/redirect",
        HttpRoute {
            redirect_to: Some("/etag.bin".to_owned()),
            ..HttpRoute::default()
        },
    );
    let running = runtime
        .block_on(server.start(SocketAddr::from(([127, 0, 0, 1], 0))))
        .unwrap();
    let base = &running.url;
    let handlers = handlers();
    let resolve = |path: &str| {
        let objects = runtime
            .block_on(handlers.resolve_all(&format!("{base}{path}"), &ResolveOptions::new()))
            .unwrap();
        objects.into_iter().next().unwrap()
    };
    let object = resolve("/etag.bin");
    assert_eq!(object.path.as_str(), "etag.bin");
    assert_eq!(object.entry.digest, "abc");
    assert_eq!(object.entry.size, Some(12));
    assert_eq!(object.entry.extra["etag"], "\"abc\"");
    assert_eq!(resolve("/weak.txt").entry.digest, "W/\"weak-77");
    let plain = resolve("/noetag.txt");
    assert_eq!(plain.entry.digest, format!("{base}/noetag.txt"));
    assert!(plain.entry.extra.is_empty());
    assert_eq!(resolve("/chunked.bin").entry.size, None);
    assert_eq!(resolve("/q.csv?token=abc").path.as_str(), "q.csv?token=abc");
    let redirected = resolve("/redirect");
    assert_eq!(redirected.path.as_str(), "redirect");
    assert_eq!(
        redirected.entry.reference.as_deref(),
        Some(format!("{base}/etag.bin").as_str())
    );

    // Fetch: intact, then changed (new ETag), then changed length without an ETag.
    let entry = resolve("/etag.bin").entry;
    assert_eq!(
        runtime.block_on(handlers.fetch_bytes(&entry)).unwrap(),
        b"hello world\n"
    );
    server.set("/etag.bin", route(b"hello there\n", Some("\"def\"")));
    let error = runtime.block_on(handlers.fetch_bytes(&entry)).unwrap_err();
    assert!(matches!(error, Error::Changed { .. }), "{error}");
    let entry = plain.entry;
    server.set("/noetag.txt", route(b"plain but longer", None));
    let error = runtime.block_on(handlers.fetch_bytes(&entry)).unwrap_err();
    assert!(matches!(error, Error::Changed { .. }), "{error}");
}

#[test]
fn error_statuses_are_typed() {
    let runtime = runtime();
    let server = TestHttpServer::new();
    server.set(
        "/forbidden",
        HttpRoute {
            status: Some(403),
            ..HttpRoute::default()
        },
    );
    server.set(
        "/broken",
        HttpRoute {
            status: Some(500),
            ..HttpRoute::default()
        },
    );
    let running = runtime
        .block_on(server.start(SocketAddr::from(([127, 0, 0, 1], 0))))
        .unwrap();
    let handlers = handlers();
    let resolve = |path: &str| {
        runtime
            .block_on(
                handlers.resolve_all(&format!("{}{path}", running.url), &ResolveOptions::new()),
            )
            .unwrap_err()
    };
    assert!(resolve("/missing").is_not_found());
    assert!(matches!(
        resolve("/forbidden"),
        Error::PermissionDenied { .. }
    ));
    let error = resolve("/broken");
    assert!(
        matches!(error, Error::HttpStatus { status: 500, .. }),
        "{error}"
    );
}

#[test]
fn a_silent_server_times_out_instead_of_hanging() {
    let runtime = runtime();
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let handlers = Handlers::new().with(Arc::new(HttpHandler::new(
        HttpConfig::from_env()
            .with_request_timeout(Duration::from_millis(500))
            .with_retries(0),
    )));
    let started = std::time::Instant::now();
    let error = runtime
        .block_on(handlers.resolve_all(&format!("http://{address}/x"), &ResolveOptions::new()))
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(listener);
}

#[test]
fn checksum_off_sends_nothing_and_secrets_stay_hidden() {
    let handlers = handlers();
    let runtime = runtime();
    let uri = "https://example.invalid/a/b/c.tar.gz?X-Amz-Signature=topsecret";
    let objects = runtime
        .block_on(handlers.resolve_all(uri, &ResolveOptions::new().with_checksum(false)))
        .unwrap();
    assert_eq!(objects[0].entry.digest, uri);
    assert_eq!(
        objects[0].path.as_str(),
        "c.tar.gz?X-Amz-Signature=topsecret"
    );
    let error = runtime
        .block_on(handlers.resolve_all(
            "http://user:hunter2@127.0.0.1:9/x?sig=abc",
            &ResolveOptions::new(),
        ))
        .unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("sig=abc"),
        "{shown}"
    );
}

#[test]
fn malformed_urls_are_typed_errors() {
    let error = runtime()
        .block_on(handlers().resolve_all("http://[not-a-host/x", &ResolveOptions::new()))
        .unwrap_err();
    assert!(matches!(error, Error::MalformedUri { .. }), "{error}");
}
