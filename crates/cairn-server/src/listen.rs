//! The accept loop behind [`crate::serve`]: HTTP/1.1 connections on hyper, with the limits a
//! server facing untrusted clients needs, which `axum::serve` does not have.
//!
//! * **Header-read timeout.** hyper's timer runs whenever a connection waits for a request
//!   head, so one timeout ([`crate::ServerConfig::header_read_timeout`]) closes fresh idle
//!   connections, idle keep-alive connections and headers sent a byte at a time.
//! * **Body inactivity.** Request bodies are wrapped in tower-http's `TimeoutBody`, whose timer
//!   restarts with every frame: a multi-GiB upload may take as long as it needs as long as
//!   bytes keep coming, and one that stalls for [`crate::ServerConfig::body_timeout`] fails
//!   (the handlers answer `bad_request` and store nothing). Writes get the same bound
//!   ([`io::WriteTimeout`]), so a client that stops reading its response is dropped too.
//! * **A connection cap** ([`slots`]), derived from the open-file limit unless configured. At
//!   the cap, a new connection evicts the connection idle the longest, so a fresh `/healthz`
//!   is served even when idle sockets fill the table; when every connection has a request in
//!   flight, the new one is answered `503` (`storage_unavailable`, `Retry-After: 1`) and closed.
//! * **Accept errors** such as running out of descriptors (`EMFILE`) are logged, an idle
//!   connection is evicted to free one, and the loop backs off briefly instead of spinning.
//!
//! Shutdown stops accepting, closes idle connections at once, lets each request in flight
//! finish (hyper's graceful shutdown: the connection closes after its response), and returns
//! when every connection task has ended.

mod io;
mod slots;

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutBody;

use crate::config::ConnectionLimits;
use crate::listen::io::{REFUSALS_AT_ONCE, TrackedBody, WriteTimeout, refuse};
use crate::listen::slots::{Slot, SlotGuard, Slots, connection_cap, open_file_limit};

/// How long the loop pauses after an accept error that is not about one connection.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How often the accept loop looks again while evicted connections are still closing.
const CLOSING_WAIT: Duration = Duration::from_millis(5);

/// How often a repeated warning (refusals, accept errors) reaches the log during a flood.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` with `limits` until `shutdown` completes, then drains the
/// connections as the module documentation says.
pub(crate) async fn run(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let nofile = open_file_limit();
    let slots = Slots::new(connection_cap(limits.max_connections, nofile));
    if let Some(configured) = limits.max_connections
        && configured > slots.max()
    {
        tracing::warn!(
            configured,
            cap = slots.max(),
            nofile,
            "the connection cap is lowered to leave descriptors free; raise `ulimit -n` to allow more"
        );
    }
    tracing::info!(
        max_connections = slots.max(),
        header_read_timeout = ?limits.header_read_timeout,
        body_timeout = ?limits.body_timeout,
        "connection limits"
    );
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let (mut refusal_warning, mut accept_warning) = (Throttle::default(), Throttle::default());
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    'accepting: loop {
        // Evicted connections keep their descriptors until their tasks close them: wait for
        // them instead of accepting more, so a burst cannot run out of descriptors.
        while slots.saturated() {
            tokio::select! {
                () = &mut shutdown => break 'accepting,
                () = tokio::time::sleep(CLOSING_WAIT) => {}
            }
        }
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => match slots.admit() {
                Some(slot) => {
                    let connection = Connection {
                        router: router.clone(),
                        limits,
                        slot,
                        stop: stopped.clone(),
                    };
                    tokio::spawn(connection.serve(stream));
                }
                None => {
                    if let Some(also) = refusal_warning.ready() {
                        tracing::warn!(
                            %peer,
                            max_connections = slots.max(),
                            also,
                            "every connection is busy; refusing new ones with 503"
                        );
                    }
                    refuse(stream, &refusals);
                }
            },
            Err(error) if is_per_connection(&error) => {
                tracing::debug!(%error, "a connection failed while being accepted");
            }
            Err(error) => {
                let evicted = slots.evict_one();
                if let Some(also) = accept_warning.ready() {
                    tracing::warn!(
                        %error,
                        open = slots.open(),
                        evicted,
                        also,
                        "cannot accept connections; closing an idle one and backing off"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }
    drop(listener);
    drop(stopped);
    let open = slots.open();
    if open > 0 {
        tracing::info!(
            open,
            "closing idle connections, finishing requests in flight"
        );
    }
    // Wakes every connection task; each holds a receiver, so `closed` resolves when the last
    // one has ended.
    let _ = stop.send(true);
    stop.closed().await;
}

/// Errors that concern only the connection being accepted; the next accept may succeed.
fn is_per_connection(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::Interrupted
    )
}

/// Lets a repeated warning through at most once per [`WARN_INTERVAL`], so a flood cannot
/// flood the log too.
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    /// `Some(how many were held back since the last one)` when this one may be logged.
    fn ready(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < WARN_INTERVAL => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }
}

/// One accepted connection and what serving it needs.
struct Connection {
    router: axum::Router,
    limits: ConnectionLimits,
    slot: SlotGuard,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        let io = TokioIo::new(WriteTimeout::new(stream, self.limits.body_timeout));
        let service = ConnectionService {
            router: self.router.clone(),
            slot: Arc::clone(self.slot.slot()),
            body_timeout: self.limits.body_timeout,
        };
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        let mut connection = pin!(builder.serve_connection(io, service));
        let slot = Arc::clone(self.slot.slot());
        let mut closing = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    break;
                }
                () = stopping(&mut self.stop), if !closing => {}
                () = slot.evicted(), if !closing => {
                    tracing::debug!("closing the connection idle the longest to make room");
                }
            }
            // Asked to stop or evicted. A connection that never started a request owes nothing
            // and closes now; otherwise hyper finishes the request in flight (or flushes the last
            // response) and closes.
            if !slot.has_served() && slot.is_idle() {
                break;
            }
            connection.as_mut().graceful_shutdown();
            closing = true;
        }
        // Locals drop before `self`: the socket closes before the slot and the receiver that
        // shutdown waits for are released.
    }
}

/// Resolves once the server is stopping.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens after a stop.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// The per-connection service: marks each request in flight until its response body is done,
/// and puts the inactivity timeout on its body.
#[derive(Clone)]
struct ConnectionService {
    router: axum::Router,
    slot: Arc<Slot>,
    body_timeout: Duration,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<hyper::Response<TrackedBody>, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = hyper::Response<TrackedBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let in_flight = self.slot.begin();
        let timeout = self.body_timeout;
        let request: Request =
            request.map(|incoming| Body::new(TimeoutBody::new(timeout, incoming)));
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await?;
            Ok(response.map(|body| TrackedBody::new(body, in_flight)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_warning_is_logged_once_per_interval() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.ready(), Some(0));
        assert_eq!(throttle.ready(), None);
        assert_eq!(throttle.ready(), None);
        assert_eq!(throttle.held_back, 2);
        throttle.last = Instant::now().checked_sub(WARN_INTERVAL);
        assert_eq!(throttle.ready(), Some(2));
    }
}
