//! The byte-level pieces of the accept loop: a socket whose writes fail once the client has
//! read nothing for a while, a response body that ends its request's "in flight" mark, and the
//! fixed `503` written to a connection the server has no room for.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use cairn_api::{ErrorCode, PROBLEM_CONTENT_TYPE, Problem};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use crate::listen::slots::InFlight;

/// A stream whose writes fail with [`io::ErrorKind::TimedOut`] once one has waited `timeout`
/// for the client to make room (a client that stopped reading its response). Reads pass
/// through: hyper's header-read timer and the request-body timeout bound those.
#[derive(Debug)]
pub(crate) struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    stall: Pin<Box<Sleep>>,
    stalled: bool,
}

impl<S> WriteTimeout<S> {
    pub(crate) fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stall: Box::pin(tokio::time::sleep(timeout)),
            stalled: false,
        }
    }

    /// What a write that returned `poll` means, counting how long writes have been pending.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = false;
            return poll;
        }
        if !self.stalled {
            self.stalled = true;
            let deadline = tokio::time::Instant::now() + self.timeout;
            self.stall.as_mut().reset(deadline);
        }
        match self.stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the client read nothing of the response for {} s",
                    self.timeout.as_secs()
                ),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

/// A response body that keeps its request in flight until it is finished or dropped.
#[derive(Debug)]
pub(crate) struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub(crate) fn new(body: Body, in_flight: InFlight) -> Self {
        Self {
            body,
            _in_flight: in_flight,
        }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// How long a refused connection may take to receive its `503`.
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// How much of a refused connection's request is read (and dropped) before closing, so the
/// kernel does not answer unread bytes with a reset that could discard the `503`.
const REFUSAL_DRAIN: usize = 16 * 1024;

/// Refusals written at once; past that, connections are closed without an answer so a flood
/// of them cannot use up descriptors.
pub(crate) const REFUSALS_AT_ONCE: usize = 32;

/// Answers `stream` with `503 storage_unavailable` and closes it, in the background and within
/// [`REFUSAL_TIME`]; closes it at once when [`REFUSALS_AT_ONCE`] refusals are under way.
pub(crate) fn refuse(mut stream: TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(permit) = Arc::clone(refusals).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let answer = async {
            stream.write_all(&busy_answer()).await?;
            stream.shutdown().await?;
            let mut sink = [0_u8; 4096];
            let mut drained = 0;
            while drained < REFUSAL_DRAIN {
                match stream.read(&mut sink).await? {
                    0 => break,
                    read => drained += read,
                }
            }
            io::Result::Ok(())
        };
        // The client may be gone or slow; either way the connection closes now.
        let _ = tokio::time::timeout(REFUSAL_TIME, answer).await;
    });
}

/// The whole HTTP response for a connection the server has no room for.
fn busy_answer() -> Vec<u8> {
    let problem = Problem::new(
        ErrorCode::StorageUnavailable,
        "the server is at its connection limit and every connection is busy; retry shortly",
    );
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {PROBLEM_CONTENT_TYPE}\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_a_problem() {
        let answer = busy_answer();
        let text = String::from_utf8_lossy(&answer);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            panic!("no head: {text}");
        };
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: Problem = serde_json::from_str(body).unwrap_or_else(|error| {
            panic!("{error}: {body}");
        });
        assert_eq!(problem.status, 503);
    }

    #[tokio::test]
    async fn a_write_the_client_never_takes_times_out() {
        let (mut client, server) = tokio::io::duplex(8);
        let mut server = WriteTimeout::new(server, Duration::from_millis(200));
        // A client that reads keeps the writes going, however slowly.
        let reader = tokio::spawn(async move {
            let mut buffer = [0_u8; 4];
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = client.read(&mut buffer).await;
            }
            client
        });
        let started = std::time::Instant::now();
        assert!(server.write_all(&[7_u8; 20]).await.is_ok());
        // Once it stops reading, the next write that has to wait fails.
        let client = reader.await.unwrap_or_else(|error| panic!("{error}"));
        let result = server.write_all(&[7_u8; 64]).await;
        assert!(
            matches!(&result, Err(error) if error.kind() == io::ErrorKind::TimedOut),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(client);
    }
}
