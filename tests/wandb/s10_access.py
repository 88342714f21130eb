"""Access: what an outsider (bob) can do in alice's private, public and open projects.

As in W&B: a private project does not exist for bob (`Api().artifact` and `use_artifact` raise
the SDK's not-found error, and he cannot log into it); a public one anyone signed in can read but
only members write; an open one every signed-in user can also write. A team's private project is
closed to non-members too. An unknown API key gets a clear error quickly, not a hang, and so
do a revoked key and an expired one (the server's test clock is moved past its expiry), whose
errors say "revoked" and "expired".

Each of bob's attempts runs as a separate SDK process with his key and a hard timeout.
"""

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set

NOT_FOUND = ["not found", "does not exist", "permission", "not authorized"]
REFUSED = ["permission", "403", "not authorized", "not allowed", "may not", "forbidden",
           "denied", "not found"]
AUTH = ["api key", "401", "unauthorized", "authenticat", "invalid", "not logged in",
        "permission"]


def log_as_alice(project: str, files: dict[str, bytes]) -> None:
    entity, name = project.split("/")
    src = ctx.path("src", name)
    harness.write_tree(src, files)
    with wandb.init(entity=entity, project=name, job_type="seed") as run:
        art = wandb.Artifact("shared", type="dataset")
        art.add_dir(str(src))
        run.log_artifact(art)
        art.wait()


def bob(code: str, what: str, expect_ok: bool = True):
    return harness.sdk_child(ctx, "bob", code, what, expect_ok=expect_ok)


# Bob's child processes: each prints a marker line the parent checks.
READ = """
art = wandb.Api().artifact({path!r})
root = art.download(root="dl")
harness.check_tree(root, {files!r}, "bob's download")
print("READ-OK", art.version)
"""

READ_REFUSED = """
harness.expect_error(lambda: wandb.Api().artifact({path!r}), "Api().artifact by bob",
                     {words!r})
with wandb.init(entity="bob", project="own", job_type="try-use") as run:
    harness.expect_error(lambda: run.use_artifact({path!r}), "use_artifact by bob", {words!r})
print("REFUSED-OK")
"""

WRITE = """
import pathlib
pathlib.Path("w.txt").write_bytes({data!r})
run = wandb.init(entity={entity!r}, project={project!r}, job_type="bob-writes")
art = wandb.Artifact("from-bob", type="dataset")
art.add_file("w.txt")
run.log_artifact(art)
art.wait()
print("WRITE-OK", art.version)
run.finish()
"""


def main() -> None:
    files = {"data.txt": harness.unique_bytes(ctx, "shared", 5000)}
    projects = {
        "private": ctx.private_project,
        "public": ctx.public_project,
        "open": ctx.open_project,
        "team": f"{ctx.team}/team-private",
    }
    for kind, project in projects.items():
        harness.step(f"alice logs `shared` into her {kind} project {project}")
        log_as_alice(project, files)

    for kind in ("private", "team"):
        path = f"{projects[kind]}/shared:latest"
        harness.step(f"bob cannot read {path}")
        result = bob(READ_REFUSED.format(path=path, words=NOT_FOUND), f"bob reads {kind}")
        harness.check("REFUSED-OK" in result.stdout, f"bob's refused reads of {kind}")

    for kind in ("public", "open"):
        path = f"{projects[kind]}/shared:latest"
        harness.step(f"bob reads {path}")
        result = bob(READ.format(path=path, files=files), f"bob reads {kind}")
        harness.check("READ-OK v0" in result.stdout, f"bob's read of {kind}: {result.stdout}")

    for kind in ("private", "public", "team"):
        entity, project = projects[kind].split("/")
        harness.step(f"bob cannot log into {entity}/{project}")
        data = harness.unique_bytes(ctx, f"bob-{kind}")
        result = bob(WRITE.format(data=data, entity=entity, project=project),
                     f"bob writes {kind}", expect_ok=False)
        harness.check(result.returncode != 0 and "WRITE-OK" not in result.stdout,
                      f"bob's write into the {kind} project should fail; it printed:\n"
                      f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        text = (result.stdout + result.stderr).lower()
        reasons = [line for line in text.splitlines() if any(word in line for word in REFUSED)]
        harness.check(reasons, f"bob's refused write into {kind} should say why:\n{text[-2000:]}")
        print(f"  bob's write into {kind} was refused: {reasons[0].strip()[:300]}")
        harness.expect_error(
            lambda: wandb.Api().artifact(f"{entity}/{project}/from-bob:latest"),
            f"alice looks for bob's refused artifact in {kind}", NOT_FOUND)

    harness.step("bob logs into alice's open project")
    entity, project = ctx.open_project.split("/")
    result = bob(WRITE.format(data=harness.unique_bytes(ctx, "bob-open"), entity=entity,
                              project=project), "bob writes open")
    harness.check("WRITE-OK v0" in result.stdout, f"bob's write into open: {result.stdout}")
    seen = wandb.Api().artifact(f"{ctx.open_project}/from-bob:latest")
    harness.check_eq(seen.version, "v0", "alice sees bob's version in the open project")

    harness.step("an unknown API key gets a clear error, quickly")
    unknown = "cairn-" + "0" * 48
    code = """
harness.expect_error(lambda: wandb.init(job_type="bad-key"), "wandb.init with an unknown key",
                     {words!r}, max_seconds=60, auth_error=True)
harness.expect_error(lambda: wandb.Api().artifact({path!r}), "Api() with an unknown key",
                     {words!r}, max_seconds=60, auth_error=True)
print("BAD-KEY-OK")
""".format(words=AUTH, path=f"{ctx.public_project}/shared:latest")
    result = harness.sdk_child(ctx, "bob", code, "unknown key", api_key=unknown)
    harness.check("BAD-KEY-OK" in result.stdout, "the unknown key's checks")

    harness.step("a revoked key and an expired key fail at once, saying so")
    keys = {}
    for name, body in (("revoked", {"name": "sdk-revoked"}),
                       ("expired", {"name": "sdk-expiring", "expires_in_seconds": 60})):
        status, created = harness.native(ctx, "POST", "/api/v1/users/bob/api-keys", "bob", body)
        harness.check(status == 201, f"bob creates a key ({name}): {status} {created}")
        keys[name] = created
    # Both work until then.
    for name, created in keys.items():
        result = harness.sdk_child(ctx, "bob", READ.format(
            path=f"{ctx.public_project}/shared:latest", files=files), f"bob reads with the {name} key",
            api_key=created["api_key"])
        harness.check("READ-OK v0" in result.stdout, f"the {name} key works before: {result.stdout}")
    revoked_id = keys["revoked"]["key"]["id"]
    status, body = harness.native(ctx, "DELETE", f"/api/v1/users/bob/api-keys/{revoked_id}", "bob")
    harness.check(status == 200 and body.get("status") == "revoked", f"revoke: {status} {body}")
    status, body = harness.native(ctx, "POST", "/api/v1/server/clock", "admin", {"seconds": 61})
    harness.check(status == 200, f"moving the test clock: {status} {body}")
    for name, created in keys.items():
        code = """
harness.expect_error(lambda: wandb.Api().artifact({path!r}), "Api() with the {name} key",
                     [{name!r}], max_seconds=60, auth_error=True)
harness.expect_error(lambda: wandb.init(job_type="{name}-key"), "wandb.init with the {name} key",
                     [{name!r}], max_seconds=60, auth_error=True)
print("{marker}")
""".format(path=f"{ctx.public_project}/shared:latest", name=name,
           marker=f"{name.upper()}-KEY-OK")
        result = harness.sdk_child(ctx, "bob", code, f"{name} key", api_key=created["api_key"])
        harness.check(f"{name.upper()}-KEY-OK" in result.stdout, f"the {name} key's checks")
    status, listed = harness.native(ctx, "GET", "/api/v1/users/bob/api-keys", "bob")
    statuses = {key["name"]: key["status"] for key in listed["keys"] if key["name"]}
    harness.check_eq(statuses, {"sdk-revoked": "revoked", "sdk-expiring": "expired"},
                     "bob's keys as listed")


harness.run(main)
