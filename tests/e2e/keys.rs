//! API keys as the CLI shows them: `cairn key create` prints the secret once, `cairn key list`
//! never does, `cairn key revoke` cuts a key off at once, and a key past its expiry (reached by
//! moving the server's test clock) fails the same way: exit code 4 and words saying what
//! happened and what to do.

use anyhow::{Result, ensure};
use serde_json::Value;

use crate::harness::{User, World, put, random_bytes, write_file};

/// `cairn key create ARGS --json` as `user`: the secret and the key's id.
fn create(world: &World, user: &User, args: &[&str]) -> Result<(String, String)> {
    let mut command = vec!["key", "create", "--json"];
    command.extend_from_slice(args);
    let created = user
        .cairn(&world.server, command)
        .run()?
        .success()?
        .json()?;
    let (Some(secret), Some(id)) = (created["api_key"].as_str(), created["key"]["id"].as_str())
    else {
        anyhow::bail!("`cairn key create --json` printed no `api_key` or `key.id`: {created}");
    };
    Ok((secret.to_owned(), id.to_owned()))
}

/// The keys `cairn key list ARGS --json` prints.
fn list(world: &World, user: &User, args: &[&str]) -> Result<Vec<Value>> {
    let mut command = vec!["key", "list", "--json"];
    command.extend_from_slice(args);
    let listed = user.cairn(&world.server, command).run()?.success()?;
    Ok(listed.json()?["keys"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

#[test]
#[ignore = "needs the cairn binary: run `cargo xtask e2e`"]
fn revoked_and_expired_keys_fail_at_once_in_words() -> Result<()> {
    let world = World::with_test_clock()?;
    let input = world.path("input");
    write_file(&input, "data.bin", &random_bytes(11, 5_000))?;

    let (laptop_key, laptop_id) = create(
        &world,
        &world.alice,
        &["--name", "laptop", "--expires-in", "1h"],
    )?;
    let (ci_key, ci_id) = create(&world, &world.alice, &["--name", "ci"])?;
    let laptop = world.alice.with_key(&world.server, &laptop_key)?;
    let ci = world.alice.with_key(&world.server, &ci_key)?;
    put(&laptop, &world.server, "alice/keys/data", &input)?;
    put(&ci, &world.server, "alice/keys/data", &input)?;

    // Listed by id and name, never with a secret; the admin lists anyone's, others nobody's.
    let listed = world
        .alice
        .cairn(&world.server, ["key", "list"])
        .run()?
        .success()?;
    let text = format!("{listed}");
    ensure!(
        text.contains(&laptop_id) && text.contains("laptop") && text.contains(&ci_id),
        "{listed}"
    );
    ensure!(
        !text.contains(&laptop_key)
            && !text.contains(&ci_key)
            && !text.contains(world.alice.api_key()),
        "`cairn key list` printed a secret: {listed}"
    );
    let keys = list(&world, &world.admin, &["--user", "alice"])?;
    ensure!(keys.len() == 3, "alice's first key and two more: {keys:?}");
    let expires = keys
        .iter()
        .find(|key| key["id"] == laptop_id.as_str())
        .and_then(|key| key["expires_at"].as_str())
        .map(str::to_owned)
        .unwrap_or_default();
    ensure!(
        !expires.is_empty(),
        "the laptop key has an expiry: {keys:?}"
    );
    let bob = User::create(&world.server, &world.admin, "bob")?;
    bob.cairn(&world.server, ["key", "list", "--user", "alice"])
        .run()?
        .failure(&[4])?
        .stderr_mentions(&["alice"])?;

    // Revoked: the next command fails at once, saying when and what to do.
    world
        .alice
        .cairn(&world.server, ["key", "revoke", &ci_id])
        .run()?
        .success()?;
    let refused = ci
        .cairn(&world.server, ["artifact", "ls", "alice/keys"])
        .run()?
        .failure(&[4])?;
    refused.stderr_mentions(&[&ci_id, "revoked on", "cairn key create"])?;
    // The laptop key is untouched.
    laptop
        .cairn(&world.server, ["artifact", "ls", "alice/keys"])
        .run()?
        .success()?;

    // An hour later by the server's clock, the laptop key has expired.
    world.server.advance_clock(3601)?;
    let expired = laptop
        .cairn(&world.server, ["artifact", "ls", "alice/keys"])
        .run()?
        .failure(&[4])?;
    expired.stderr_mentions(&[&laptop_id, &format!("expired on {expires}")])?;

    let statuses: Vec<(String, String)> = list(&world, &world.alice, &[])?
        .iter()
        .map(|key| {
            (
                key["name"].as_str().unwrap_or("").to_owned(),
                key["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    ensure!(
        statuses
            == [
                (String::new(), "active".to_owned()),
                ("laptop".to_owned(), "expired".to_owned()),
                ("ci".to_owned(), "revoked".to_owned()),
            ],
        "{statuses:?}"
    );
    Ok(())
}
