//! Connection exhaustion against the real binary: `cairn server` under `ulimit -n 128`, with 150
//! sockets held open against it (half idle, half stuck in the middle of a request head), must
//! still answer `GET /healthz` within seconds, and must close every one of those sockets by
//! itself. Before the server had connection limits, this exact probe made `/healthz` time out.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use cairn_api::routes;

use crate::harness::{Server, temp_dir};

/// The server's soft open-file limit: its default connection cap becomes 128 - 64 = 64.
const OPEN_FILES: u32 = 128;

/// Sockets the probe holds open, well past both the cap and the descriptor limit.
const SOCKETS: usize = 150;

/// The server's header timeout, in seconds (short, so the sockets it does not evict close
/// soon).
const HEADER_TIMEOUT: u64 = 3;

/// How long `/healthz` may take while the sockets are open.
const HEALTHZ_WITHIN: Duration = Duration::from_secs(5);

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn idle_sockets_cannot_starve_healthz_under_a_low_descriptor_limit() -> Result<()> {
    let data = temp_dir("data")?;
    let server = Server::start_with_open_file_limit(
        data.path(),
        OPEN_FILES,
        &["--header-timeout", &HEADER_TIMEOUT.to_string()],
    )?;
    let limits = without_colours(&server.stderr());
    ensure!(
        limits.contains("max_connections=64"),
        "the connection cap should follow `ulimit -n {OPEN_FILES}`; server stderr:\n{limits}"
    );

    let mut sockets = Vec::with_capacity(SOCKETS);
    for index in 0..SOCKETS {
        let mut socket = TcpStream::connect(server.address())
            .with_context(|| format!("cannot open probe socket {index}"))?;
        if index % 2 == 1 {
            socket
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: cairn\r\nx-slow: ")
                .with_context(|| format!("cannot write to probe socket {index}"))?;
        }
        sockets.push(socket);
    }

    let asked = Instant::now();
    server
        .get_json(routes::HEALTHZ, None)
        .context("`/healthz` failed while the probe sockets were open")?;
    ensure!(
        asked.elapsed() < HEALTHZ_WITHIN,
        "`/healthz` took {:?} while the probe sockets were open",
        asked.elapsed()
    );

    // Evicted sockets are closed already; the rest close at the header timeout.
    let deadline = Instant::now() + Duration::from_secs(HEADER_TIMEOUT + 10);
    for (index, socket) in sockets.iter_mut().enumerate() {
        wait_closed(socket, deadline).with_context(|| {
            format!(
                "probe socket {index} is still open; server stderr:\n{}",
                server.stderr()
            )
        })?;
    }
    server
        .get_json(routes::HEALTHZ, None)
        .context("`/healthz` failed after the probe")?;
    Ok(())
}

/// Waits until the server closes `socket` (end of file or a reset), failing at `deadline`.
fn wait_closed(socket: &mut TcpStream, deadline: Instant) -> Result<()> {
    let mut buffer = [0_u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("not closed by the deadline");
        }
        socket.set_read_timeout(Some(left))?;
        match socket.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                bail!("not closed by the deadline");
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Ok(()),
        }
    }
}

/// `text` without ANSI colour sequences (`ESC [ ... m`), which the server's log has.
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut in_sequence = false;
    for character in text.chars() {
        match character {
            '\u{1b}' => in_sequence = true,
            'm' if in_sequence => in_sequence = false,
            _ if in_sequence => {}
            _ => plain.push(character),
        }
    }
    plain
}
