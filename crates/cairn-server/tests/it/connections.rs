//! Connection limits over real loopback sockets, written byte by byte with raw
//! `tokio::net::TcpStream`s the way a hostile client would: idle connections, headers sent a
//! byte at a time and idle keep-alives are closed at the header timeout; a stalled upload is cut
//! off at the body timeout and stores nothing, while a slow one that keeps moving succeeds; a
//! table full of idle sockets still lets `/healthz` in; a table full of busy ones answers `503`;
//! shutdown closes idle connections and lets requests in flight finish.
//!
//! Timeouts are short (1 s) so every test ends within a few seconds; the assertions bound times
//! from above generously, and from below only where a timer cannot fire early.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use cairn_api::{ErrorCode, Problem, routes};
use cairn_server::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::harness::{Files, Server, begin_log, create_request};

/// The header and body timeout of most tests.
const SHORT: Duration = Duration::from_secs(1);

/// A timeout no test waits for: when it is configured, only the mechanism under test can
/// close a connection.
const LONG: Duration = Duration::from_secs(60);

/// The generous upper bound on anything that should happen "now" or "at a 1 s timeout".
const PROMPTLY: Duration = Duration::from_secs(5);

/// A served server: its address, the stop signal and the task running `serve`.
struct Running {
    server: Server,
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(configure: impl FnOnce(ServerConfig) -> ServerConfig) -> Self {
        let server = Server::start_with(configure).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let state = server.state.clone();
        let task = tokio::spawn(async move {
            cairn_server::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            server,
            address,
            stop,
            task,
        }
    }

    /// Short header and body timeouts, eight connections at most.
    async fn short() -> Self {
        Self::start(|config| {
            config
                .with_header_read_timeout(SHORT)
                .with_body_timeout(SHORT)
                .with_max_connections(8)
        })
        .await
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.address).await.unwrap()
    }

    /// A PENDING version whose manifest lists one 100 000-byte blob; its id, the blob's MD5
    /// and bytes.
    async fn pending_blob(&self) -> (String, String, Vec<u8>) {
        let files = Files::new(&[("big.bin", &[9_u8; 100_000])]);
        let (created, receipt) = begin_log(
            &self.server,
            &self.server.admin_key,
            "admin",
            "p",
            &create_request("data", &files),
            &files,
        )
        .await;
        assert_eq!(receipt.missing.len(), 1);
        let md5 = files.md5("big.bin");
        (created.version.id, md5.clone(), files.blob(&md5))
    }

    /// The head of `PUT` blob `md5` of version `id` with a `length`-byte body.
    fn put_head(&self, id: &str, md5: &str, length: usize, expect_continue: bool) -> String {
        let expect = if expect_continue {
            "expect: 100-continue\r\n"
        } else {
            ""
        };
        format!(
            "PUT {} HTTP/1.1\r\nhost: cairn\r\nauthorization: Bearer {}\r\n\
             content-length: {length}\r\n{expect}\r\n",
            routes::blob(id, md5),
            self.server.admin_key
        )
    }

    /// Stops the server and waits for `serve` to return.
    async fn stop(self) -> Server {
        let Self {
            server, stop, task, ..
        } = self;
        stop.send(()).unwrap();
        tokio::time::timeout(PROMPTLY, task)
            .await
            .unwrap_or_else(|_| panic!("serve did not return within {PROMPTLY:?}"))
            .unwrap();
        server
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: cairn\r\n\r\n";

/// An answer read off a socket.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawAnswer {
    fn problem(&self) -> Problem {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not a problem ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Reads one answer (head and `content-length` body), within [`PROMPTLY`].
async fn read_answer(stream: &mut (impl AsyncRead + Unpin)) -> RawAnswer {
    let read = async {
        let mut buffer = Vec::new();
        let mut chunk = [0_u8; 4096];
        loop {
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|status| status.parse().ok())
                    .unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let body_start = end + 4;
                while buffer.len() < body_start + length {
                    let read = stream.read(&mut chunk).await.unwrap();
                    assert!(read > 0, "closed inside the body: {head}");
                    buffer.extend_from_slice(&chunk[..read]);
                }
                let body = buffer[body_start..body_start + length].to_vec();
                return RawAnswer { status, head, body };
            }
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(
                read > 0,
                "closed before an answer: {}",
                String::from_utf8_lossy(&buffer)
            );
            buffer.extend_from_slice(&chunk[..read]);
        }
    };
    tokio::time::timeout(PROMPTLY, read)
        .await
        .unwrap_or_else(|_| panic!("no answer within {PROMPTLY:?}"))
}

/// Waits until the server closes `stream` (end of file or a reset; bytes it sends first, such
/// as a `408`, are skipped). Panics after `limit`.
async fn closed_within(stream: &mut (impl AsyncRead + Unpin), limit: Duration) {
    let wait = async {
        let mut chunk = [0_u8; 1024];
        while let Ok(read) = stream.read(&mut chunk).await {
            if read == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(limit, wait)
        .await
        .unwrap_or_else(|_| panic!("the server kept the connection open for {limit:?}"));
}

/// Whether `stream` is still open after waiting `wait` (nothing arrives and no end of file).
async fn still_open(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut chunk = [0_u8; 16];
    tokio::time::timeout(wait, stream.read(&mut chunk))
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_at_the_header_timeout() {
    let running = Running::short().await;
    let started = Instant::now();
    let mut idle = running.connect().await;
    closed_within(&mut idle, PROMPTLY).await;
    assert!(
        started.elapsed() >= SHORT / 2,
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_a_byte_at_a_time_are_cut_off_at_the_header_timeout() {
    let running = Running::short().await;
    let started = Instant::now();
    let stream = running.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: cairn\r\nx-slow: ")
        .await
        .unwrap();
    // A byte every 200 ms, for up to 10 s: never a whole head.
    let drip = async {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(b"a").await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = closed_within(&mut reader, PROMPTLY) => {}
        () = drip => {}
    }
    assert!(started.elapsed() >= SHORT / 2, "{:?}", started.elapsed());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_is_closed_at_the_header_timeout() {
    let running = Running::short().await;
    let mut stream = running.connect().await;
    stream.write_all(HEALTHZ).await.unwrap();
    let answer = read_answer(&mut stream).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        !answer
            .head
            .to_ascii_lowercase()
            .contains("connection: close"),
        "the connection is kept alive: {}",
        answer.head
    );
    let answered = Instant::now();
    closed_within(&mut stream, PROMPTLY).await;
    assert!(answered.elapsed() >= SHORT / 2, "{:?}", answered.elapsed());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_is_cut_off_and_stores_nothing() {
    let running = Running::short().await;
    let (id, md5, bytes) = running.pending_blob().await;
    let mut stream = running.connect().await;
    stream
        .write_all(running.put_head(&id, &md5, bytes.len(), false).as_bytes())
        .await
        .unwrap();
    stream.write_all(&bytes[..50_000]).await.unwrap();
    // Then nothing: the server gives up after the body timeout.
    let stalled = Instant::now();
    let answer = read_answer(&mut stream).await;
    assert!(stalled.elapsed() >= SHORT / 2, "{:?}", stalled.elapsed());
    assert_eq!(answer.status, 400, "{answer:?}");
    let problem = answer.problem();
    assert_eq!(problem.code, ErrorCode::BadRequest);
    assert!(
        problem.detail.contains("nothing was stored"),
        "{}",
        problem.detail
    );
    closed_within(&mut stream, PROMPTLY).await;
    let server = running.stop().await;
    assert_eq!(server.state.stats().blobs_received, 0);
    assert_eq!(server.state.stats().blobs_rejected, 1);
    let receipt: cairn_api::ManifestReceipt = server
        .call(
            axum::http::Method::GET,
            &routes::missing_blobs(&id),
            Some(&server.admin_key),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(receipt.missing.len(), 1, "the blob is still missing");
    assert!(
        fs_err::read_dir(server.data_dir().join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "no temporary upload is left behind"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upload_that_keeps_moving_succeeds() {
    let running = Running::short().await;
    let (id, md5, bytes) = running.pending_blob().await;
    let mut stream = running.connect().await;
    stream
        .write_all(running.put_head(&id, &md5, bytes.len(), false).as_bytes())
        .await
        .unwrap();
    // Twelve pieces 300 ms apart: 3.6 s in all, more than three body timeouts.
    let started = Instant::now();
    for piece in bytes.chunks(bytes.len().div_ceil(12)) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream.write_all(piece).await.unwrap();
    }
    let answer = read_answer(&mut stream).await;
    assert!(started.elapsed() > 3 * SHORT, "{:?}", started.elapsed());
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let server = running.stop().await;
    assert_eq!(server.state.stats().blobs_received, 1);
    assert_eq!(server.state.stats().blob_bytes_received, 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_full_of_idle_sockets_still_serves_healthz() {
    // Only eviction can close these sockets: the header timeout is far away.
    let running = Running::start(|config| {
        config
            .with_header_read_timeout(LONG)
            .with_body_timeout(LONG)
            .with_max_connections(8)
    })
    .await;
    // Twenty idle sockets, half of them in the middle of a head, against a cap of eight.
    let mut idle = Vec::new();
    for index in 0..20 {
        let mut stream = running.connect().await;
        if index % 2 == 1 {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\n")
                .await
                .unwrap();
        }
        idle.push(stream);
    }
    let mut fresh = running.connect().await;
    fresh.write_all(HEALTHZ).await.unwrap();
    let answer = read_answer(&mut fresh).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // Connections are accepted in order, and each one past the cap evicted the oldest idle
    // one: the first thirteen are closed, the newest is not.
    for stream in &mut idle[..13] {
        closed_within(stream, PROMPTLY).await;
    }
    let newest = idle.last_mut().unwrap();
    assert!(still_open(newest, Duration::from_millis(200)).await);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_full_of_busy_connections_answers_503() {
    let running = Running::start(|config| {
        config
            .with_header_read_timeout(LONG)
            .with_body_timeout(LONG)
            .with_max_connections(2)
    })
    .await;
    let (id, md5, bytes) = running.pending_blob().await;
    // Two uploads in flight: the server asked for their bodies (`100 Continue`), which never
    // come.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = running.connect().await;
        stream
            .write_all(running.put_head(&id, &md5, bytes.len(), true).as_bytes())
            .await
            .unwrap();
        let answer = read_answer(&mut stream).await;
        assert_eq!(answer.status, 100, "{answer:?}");
        busy.push(stream);
    }
    let mut refused = running.connect().await;
    refused.write_all(HEALTHZ).await.unwrap();
    let answer = read_answer(&mut refused).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.problem().code, ErrorCode::StorageUnavailable);
    closed_within(&mut refused, PROMPTLY).await;
    // One upload gives up; its place is free again (once the server has noticed).
    drop(busy.pop());
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let mut stream = running.connect().await;
        stream.write_all(HEALTHZ).await.unwrap();
        let answer = read_answer(&mut stream).await;
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 503, "{answer:?}");
        assert!(Instant::now() < deadline, "no room within {PROMPTLY:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(busy);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_finishes_uploads_in_flight() {
    let running = Running::start(|config| {
        config
            .with_header_read_timeout(LONG)
            .with_body_timeout(LONG)
    })
    .await;
    let (id, md5, bytes) = running.pending_blob().await;
    let mut idle = running.connect().await;
    let mut upload = running.connect().await;
    upload
        .write_all(running.put_head(&id, &md5, bytes.len(), true).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_answer(&mut upload).await.status, 100);
    let Running {
        server, stop, task, ..
    } = running;
    stop.send(()).unwrap();
    closed_within(&mut idle, PROMPTLY).await;
    assert!(!task.is_finished(), "serve waits for the upload in flight");
    upload.write_all(&bytes).await.unwrap();
    let answer = read_answer(&mut upload).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("connection: close"),
        "{}",
        answer.head
    );
    tokio::time::timeout(PROMPTLY, task)
        .await
        .unwrap_or_else(|_| panic!("serve did not return once the upload was done"))
        .unwrap();
    assert_eq!(server.state.stats().blobs_received, 1);
}
