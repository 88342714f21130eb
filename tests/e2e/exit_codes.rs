//! The exit codes scripts rely on (0 ok, 1 other, 2 usage, 3 not found, 4 unauthenticated or
//! permission denied, 5 data integrity, 6 conflict, 7 server unreachable) and the messages that
//! go with them, plus the server's clean shutdown.

use anyhow::{Result, ensure};

use crate::harness::{World, free_port, put, put_command, random_bytes, utf8, write_file};

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn failures_have_their_documented_exit_codes() -> Result<()> {
    let world = World::new()?;
    let input = world.path("input");
    write_file(&input, "a.bin", &random_bytes(9, 1_000))?;
    put(&world.alice, &world.server, "alice/e2e/data", &input)?;
    let root = world.path("download");
    let root = utf8(&root)?;

    // An alias that does not exist: not found, naming it.
    world
        .alice
        .cairn(
            &world.server,
            [
                "artifact",
                "get",
                "alice/e2e/data:no-such-alias",
                "--root",
                root,
            ],
        )
        .run()?
        .failure(&[3])?
        .stderr_mentions(&["no-such-alias"])?;
    // A collection that does not exist.
    world
        .alice
        .cairn(
            &world.server,
            ["artifact", "get", "alice/e2e/nothing", "--root", root],
        )
        .run()?
        .failure(&[3])?
        .stderr_mentions(&["nothing"])?;

    // Nothing listens at the base URL: unreachable, naming the URL.
    let nowhere = format!("http://127.0.0.1:{}", free_port()?);
    world
        .alice
        .cairn_at(
            &nowhere,
            ["artifact", "get", "alice/e2e/data", "--root", root],
        )
        .run()?
        .failure(&[7])?
        .stderr_mentions(&[nowhere.trim_start_matches("http://")])?;

    // Names that break the rules: refused, naming the value at fault.
    for (bad, named) in [
        ("alice/e2e/bad name!", "bad name!"),
        ("a/b/c/d", "a/b/c/d"),
        ("alice/e2e/", "alice/e2e/"),
    ] {
        put_command(&world.alice, &world.server, bad, &input)?
            .run()?
            .failure(&[1, 2])?
            .stderr_mentions(&[named])?;
    }

    // A usage error: a missing required option.
    world
        .alice
        .cairn(&world.server, ["artifact", "put", utf8(&input)?])
        .run()?
        .failure(&[2])?;
    Ok(())
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn server_announces_itself_and_shuts_down_cleanly_on_sigterm() -> Result<()> {
    let mut world = World::new()?;
    let stdout = world.server.stdout();
    ensure!(
        stdout.contains(&format!("listening on {}", world.server.url())),
        "the server must print `listening on {}`; it printed:\n{stdout}",
        world.server.url()
    );
    ensure!(
        !stdout.contains("admin API key"),
        "with CAIRN_ADMIN_API_KEY given, no key is printed:\n{stdout}"
    );
    let status = world.server.terminate()?;
    ensure!(
        status.success(),
        "`cairn server` must exit 0 after SIGTERM, not {status}; stderr:\n{}",
        world.server.stderr()
    );
    Ok(())
}
