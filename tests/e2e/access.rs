//! Permissions as the CLI shows them: a second user, whose key works for their own entity, is
//! refused on someone else's private project, with the exit code and a message to act on.

use anyhow::{Result, ensure};

use crate::harness::{User, World, get, put, put_command, random_bytes, utf8, write_file};

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn another_user_cannot_read_or_write_a_private_project() -> Result<()> {
    let world = World::new()?;
    let input = world.path("input");
    write_file(&input, "weights.bin", &random_bytes(7, 10_000))?;
    put(&world.alice, &world.server, "alice/private/model", &input)?;
    let bob = User::create(&world.server, &world.admin, "bob")?;

    // Bob's key is good: he can write to his own entity, so the refusals below are about access.
    let own = format!("{}/own/model", bob.name);
    put(&bob, &world.server, &own, &input)?;
    get(
        &bob,
        &world.server,
        &format!("{own}:latest"),
        &world.path("bob-own"),
    )?;

    // Reading: the server hides a private project from non-members (404 `not_found`, exit 3)
    // rather than confirm it exists; the message names the project. Nothing is written.
    let root = world.path("bob-reads");
    let read = bob
        .cairn(
            &world.server,
            [
                "artifact",
                "get",
                "alice/private/model:latest",
                "--root",
                utf8(&root)?,
            ],
        )
        .run()?
        .failure(&[3])?;
    read.stderr_mentions(&["alice/private"])?;
    ensure!(
        !root.join("weights.bin").exists(),
        "nothing may be downloaded: {read}"
    );

    // Writing: permission denied, naming the project and whom to ask.
    let write = put_command(&bob, &world.server, "alice/private/other", &input)?
        .run()?
        .failure(&[4])?;
    write.stderr_mentions(&["alice/private", "ask"])?;

    // Without logging in at all: not authenticated, and told to log in.
    let anonymous = User::anonymous()?;
    let unauthenticated = put_command(&anonymous, &world.server, "alice/private/other", &input)?
        .run()?
        .failure(&[4])?;
    unauthenticated.stderr_mentions(&["cairn login"])?;

    // Alice still sees only her one version, unchanged.
    let listing = world
        .alice
        .cairn(&world.server, ["artifact", "ls", "alice/private", "--json"])
        .run()?
        .success()?
        .json()?;
    let collections = listing["collections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        collections.len() == 1 && collections[0]["name"] == "model",
        "bob's refused put must not create a collection: {listing}"
    );
    Ok(())
}
