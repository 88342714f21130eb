//! Retention through the real binary: a version put with `--ttl` is deleted by the server's own
//! background sweeper once its TTL has run out (the test clock moves instead of waiting), while
//! a version without a TTL stays.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};

use crate::harness::{Server, World, get, random_bytes, utf8, write_file};

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn the_background_sweeper_deletes_expired_versions() -> Result<()> {
    let world = World::with_server(|data_dir| {
        Server::start_with_args(data_dir, &["--test-clock", "--sweep-interval", "1"], &[])
    })?;
    let alice = &world.alice;
    let server = &world.server;
    let input = world.path("input");
    write_file(&input, "data.bin", &random_bytes(5, 4096))?;
    let put = |name: &str, ttl: &str| -> Result<()> {
        alice
            .cairn(
                server,
                [
                    "artifact",
                    "put",
                    "--name",
                    name,
                    "--ttl",
                    ttl,
                    "--json",
                    utf8(&input)?,
                ],
            )
            .run()?
            .success()?;
        Ok(())
    };
    put("alice/p/short", "2m")?;
    put("alice/p/forever", "none")?;

    // A minute in, nothing has expired.
    server.advance_clock(60)?;
    std::thread::sleep(Duration::from_millis(1500));
    get(alice, server, "alice/p/short:v0", &world.path("early"))?;

    // Past the TTL, the sweeper (every second) deletes it without anyone asking.
    server.advance_clock(120)?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let outcome = alice
            .cairn(
                server,
                [
                    "artifact",
                    "get",
                    "alice/p/short:v0",
                    "--root",
                    utf8(&world.path("late"))?,
                ],
            )
            .run()?;
        if outcome.code == Some(3) {
            outcome.stderr_mentions(&["alice/p/short"])?;
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the expired version was not swept within 15 s: {outcome}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    get(alice, server, "alice/p/forever:v0", &world.path("forever"))?;
    Ok(())
}
