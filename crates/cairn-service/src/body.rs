//! Byte streams written by blocking database work: a reader connection runs the work in the
//! blocking pool and writes into a [`Pieces`] writer, which hands the bytes to the stream's
//! consumer (a response body) a piece at a time through a small bounded channel. However large
//! the answer (a manifest, a receipt listing every file of a huge manifest), the service holds
//! only a few pieces of it.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use rusqlite::Connection;
use tokio::sync::mpsc;

use crate::db::Db;
use crate::error::Error;

/// The size of a piece handed to the response.
const PIECE: usize = 256 * 1024;

/// Pieces in flight between the blocking writer and the response.
const IN_FLIGHT: usize = 2;

type Piece = Result<Bytes, std::io::Error>;

/// A stream of bytes a front-end sends as a response body; an `Err` item means the answer
/// could not be completed (the body must end there, cut off).
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// A writer whose bytes become the response body, [`PIECE`] at a time. Writing fails with
/// `BrokenPipe` once the client has gone away, which stops the work.
#[derive(Debug)]
pub(crate) struct Pieces {
    sender: mpsc::Sender<Piece>,
    buffer: Vec<u8>,
}

impl Pieces {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(PIECE));
        self.sender
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl std::io::Write for Pieces {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PIECE {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// A stream produced by `work` on a reader connection of `db`. A failure of `work` after the
/// answer has started ends the body with an error (the client sees a cut-off answer), and is
/// logged; the client going away just stops the work.
pub(crate) fn from_blocking<F>(db: &Arc<Db>, work: F) -> ByteStream
where
    F: FnOnce(&Connection, &mut Pieces) -> Result<(), Error> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel::<Piece>(IN_FLIGHT);
    let db = Arc::clone(db);
    tokio::spawn(async move {
        let failed = sender.clone();
        let written = db
            .read(move |connection| {
                let mut pieces = Pieces {
                    sender,
                    buffer: Vec::with_capacity(PIECE),
                };
                work(connection, &mut pieces)?;
                // A client that went away is no failure of the server.
                let _ = std::io::Write::flush(&mut pieces);
                Ok(())
            })
            .await;
        if let Err(error) = written {
            tracing::warn!(?error, "a streamed answer failed after it started");
            let _ = failed
                .send(Err(std::io::Error::other(
                    "the answer could not be completed",
                )))
                .await;
        }
    });
    Box::pin(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ))
}
