//! A tiny HTTP sink on loopback: it accepts `PUT` (or any) requests, reads and discards the body,
//! and answers `200`. `curl -T FILE` against it measures how fast one connection moves bytes over
//! loopback on this machine, which is half of the physical limit `bench transfer` compares
//! `cairn artifact put` with. It is not product code and understands just enough HTTP/1.1 for
//! curl: a `Content-Length` body (or one that ends when the connection does) and
//! `Expect: 100-continue`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use anyhow::{Context, Result};

/// The read buffer: large, so the sink is never what limits curl.
const BUFFER: usize = 1024 * 1024;

/// A running sink; it serves until the process exits.
#[derive(Debug)]
pub(crate) struct Sink {
    address: SocketAddr,
}

impl Sink {
    /// Binds a free loopback port and serves connections, one after another, on a thread.
    pub(crate) fn start() -> Result<Self> {
        let listener =
            TcpListener::bind("127.0.0.1:0").context("cannot bind the upload sink on 127.0.0.1")?;
        let address = listener.local_addr()?;
        std::thread::Builder::new()
            .name("upload-sink".to_owned())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    // A broken request only affects that curl run, which then fails visibly.
                    let _ = serve(stream);
                }
            })
            .context("cannot start the upload sink's thread")?;
        Ok(Self { address })
    }

    /// The URL to upload to.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/sink", self.address)
    }
}

/// Reads one request, discards its body and answers `200 OK`.
fn serve(stream: TcpStream) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(BUFFER, stream);
    let mut content_length: Option<u64> = None;
    let mut expect_continue = false;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("expect") {
                expect_continue = value.eq_ignore_ascii_case("100-continue");
            }
        }
    }
    if expect_continue {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut buffer = vec![0_u8; BUFFER];
    let mut left = content_length.unwrap_or(u64::MAX);
    while left > 0 {
        let want = usize::try_from(left).map_or(buffer.len(), |left| left.min(buffer.len()));
        let read = reader.read(&mut buffer[..want])?;
        if read == 0 {
            break;
        }
        left -= read as u64;
    }
    writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discards_a_body_and_answers_ok() {
        let sink = Sink::start().unwrap();
        let mut stream = TcpStream::connect(sink.address).unwrap();
        let body = vec![7_u8; 3 * BUFFER + 5];
        write!(
            stream,
            "PUT /sink HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"),
            "{answer}"
        );
    }
}
