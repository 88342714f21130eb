//! The client's HTTP behaviour against a scripted loopback server: which failures are retried,
//! how problem bodies become typed errors, and what a refused connection says.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cairn_client::{Client, Error, RetryPolicy, Settings};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// Answers the n-th request (counting from 0) with `script(n)`, a full HTTP/1.1 response.
async fn scripted(script: fn(usize) -> String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0_u8; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let index = counter.fetch_add(1, Ordering::SeqCst);
                let _ = socket.write_all(script(index).as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{address}"), count)
}

fn response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
}

fn problem(status: u16, code: &str, detail: &str) -> String {
    let body = format!(
        r#"{{"type":"urn:cairn:problem:{code}","title":"t","status":{status},"detail":"{detail}","code":"{code}"}}"#
    );
    response(
        &format!("{status} X"),
        "content-type: application/problem+json\r\n",
        &body,
    )
}

const VIEWER: &str =
    r#"{"user":{"username":"ada","admin":false,"created_at":"2024-01-01T00:00:00Z"},"teams":[]}"#;

fn fast_client(base_url: &str) -> Client {
    Client::new(Settings::new(base_url, Some("cairn-test".to_owned())))
        .unwrap()
        .with_retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..RetryPolicy::default()
        })
}

#[tokio::test]
async fn transient_failures_are_retried_until_they_pass() {
    let (base_url, count) = scripted(|index| match index {
        0 => problem(503, "storage_unavailable", "disk busy"),
        1 => response("429 Too Many Requests", "retry-after: 0\r\n", ""),
        2 => response("502 Bad Gateway", "", "<html>proxy</html>"),
        _ => response("200 OK", "content-type: application/json\r\n", VIEWER),
    })
    .await;
    let viewer = fast_client(&base_url).viewer().await.unwrap();
    assert_eq!(viewer.user.username, "ada");
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn retries_give_up_after_the_policy_allows() {
    let (base_url, count) = scripted(|_| problem(500, "internal", "boom")).await;
    let error = fast_client(&base_url).viewer().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Server {
                code: cairn_api::ErrorCode::Internal,
                status: 500,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        6,
        "one attempt and five retries"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Reads the request, then says nothing while holding the connection open.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0_u8; 4096];
            let _ = socket.read(&mut buffer).await;
            held.push(socket);
        }
    });
    let client = fast_client(&format!("http://{address}"))
        .with_read_timeout(Duration::from_millis(300))
        .unwrap()
        .with_retry_policy(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        });
    let started = std::time::Instant::now();
    let error = tokio::time::timeout(Duration::from_secs(20), client.viewer())
        .await
        .expect("the read timeout ends a request that gets no answer")
        .unwrap_err();
    assert!(error.is_unreachable(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn permanent_failures_are_typed_and_not_retried() {
    let (base_url, count) =
        scripted(|_| problem(404, "not_found", "artifact `a/b/c:v9` not found")).await;
    let error = fast_client(&base_url).viewer().await.unwrap_err();
    assert!(
        matches!(&error, Error::NotFound { what } if what.contains("a/b/c:v9")),
        "{error}"
    );
    assert_eq!(error.code(), Some(cairn_api::ErrorCode::NotFound));
    assert_eq!(count.load(Ordering::SeqCst), 1);

    let (base_url, _) = scripted(|_| problem(401, "unauthenticated", "unknown API key")).await;
    let error = fast_client(&base_url).viewer().await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::Unauthenticated { .. }), "{message}");
    assert!(
        message.contains("cairn login") && message.contains("CAIRN_API_KEY"),
        "{message}"
    );

    let (base_url, _) = scripted(|_| response("403 Forbidden", "", "no")).await;
    let error = fast_client(&base_url).viewer().await.unwrap_err();
    assert!(matches!(error, Error::PermissionDenied { .. }), "{error}");
}

#[tokio::test]
async fn a_refused_connection_names_the_server() {
    // Bind and drop a listener: nothing listens on that port any more.
    let address = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let base_url = format!("http://{address}");
    let client = fast_client(&base_url).with_retry_policy(RetryPolicy::none());
    let error = client.viewer().await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::Connect { .. }), "{message}");
    assert!(
        message.contains(&base_url) && message.contains("cairn server"),
        "{message}"
    );
}

#[test]
fn base_urls_must_be_http() {
    let error = Client::new(Settings::new("ftp://example.com", None)).unwrap_err();
    assert!(error.to_string().contains("ftp://example.com"), "{error}");
}
