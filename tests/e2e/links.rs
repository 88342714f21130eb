//! Registry links through the `cairn` CLI: link a model into the model registry, download it
//! through the link, list the portfolio, protected aliases refused to an outsider and blocking
//! an unlink, unlink.

use anyhow::{Result, ensure};

use crate::harness::{User, World, assert_same_tree, get, random_bytes, utf8, write_file};

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn a_model_linked_into_the_registry_is_the_same_version_and_unlinks_cleanly() -> Result<()> {
    let world = World::new()?;
    let alice = &world.alice;
    let server = &world.server;
    let input = world.path("input");
    write_file(&input, "weights.bin", &random_bytes(11, 50_000))?;
    let logged = alice
        .cairn(
            server,
            [
                "artifact",
                "put",
                "--name",
                "alice/train/net",
                "--type",
                "model",
                "--json",
                utf8(&input)?,
            ],
        )
        .run()?
        .success()?
        .json()?;

    // Link it into the model registry: the same id and digest, with where it came from.
    let linked = alice
        .cairn(
            server,
            [
                "artifact",
                "link",
                "alice/train/net:latest",
                "model-registry/classifier",
                "--alias",
                "production",
                "--json",
            ],
        )
        .run()?
        .success()?
        .json()?;
    ensure!(
        linked["id"] == logged["version"]["id"]
            && linked["digest"] == logged["version"]["digest"]
            && linked["project"] == "model-registry"
            && linked["version_index"] == 0
            && linked["source"]["collection"] == "net",
        "the link is the logged version seen through the registry: {linked}"
    );

    // Download through the link: the same bytes.
    let root = world.path("through-link");
    get(
        alice,
        server,
        "alice/model-registry/classifier:production",
        &root,
    )?;
    assert_same_tree(&input, &root)?;

    // The registry lists the portfolio and its link.
    let listing = alice
        .cairn(server, ["artifact", "ls", "alice/model-registry"])
        .run()?
        .success()?;
    ensure!(
        listing.stdout.contains("classifier") && listing.stdout.contains("model (links)"),
        "the portfolio is listed as links: {listing}"
    );

    // An outsider may not protect aliases in alice's registry (exit 4, permission).
    let bob = User::create(server, &world.admin, "bob")?;
    bob.cairn(
        server,
        [
            "artifact",
            "protected-aliases",
            "alice/model-registry",
            "--add",
            "production",
        ],
    )
    .run()?
    .failure(&[3, 4])?;
    alice
        .cairn(
            server,
            [
                "artifact",
                "protected-aliases",
                "alice/model-registry",
                "--add",
                "production",
            ],
        )
        .run()?
        .success()?;

    // The link carries the protected alias: unlinking is refused (conflict, exit 6) in words.
    let refused = alice
        .cairn(
            server,
            ["artifact", "unlink", "alice/model-registry/classifier:v0"],
        )
        .run()?
        .failure(&[6])?;
    refused.stderr_mentions(&["production", "protected"])?;

    // Unprotected, it unlinks; the version stays where it was logged.
    alice
        .cairn(
            server,
            [
                "artifact",
                "protected-aliases",
                "alice/model-registry",
                "--remove",
                "production",
            ],
        )
        .run()?
        .success()?;
    alice
        .cairn(
            server,
            ["artifact", "unlink", "alice/model-registry/classifier:v0"],
        )
        .run()?
        .success()?;
    alice
        .cairn(
            server,
            [
                "artifact",
                "get",
                "alice/model-registry/classifier:production",
                "--root",
                utf8(&world.path("gone"))?,
            ],
        )
        .run()?
        .failure(&[3])?;
    get(
        alice,
        server,
        "alice/train/net:latest",
        &world.path("source"),
    )?;
    Ok(())
}
