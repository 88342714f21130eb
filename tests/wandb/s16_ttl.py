"""TTL through the SDK: `artifact.ttl = timedelta(...)` / `None` / `ArtifactTTL.INHERIT`.

* A team member may not set a TTL until a team admin allows members (`cairn team
  ttl-permissions TEAM members`); the refusal names the permission.
* A TTL is counted from the version's creation; `ttl = None` switches it off even with a team
  default (`cairn team default-ttl TEAM 7d`), `ArtifactTTL.INHERIT` takes the default back
  (`ttlIsInherited`).
* Auto-generated types and versions linked into the model registry refuse a TTL in words.
* Expired versions are deleted by the sweep (the server's clock is moved forward, then
  `cairn server sweep` as the admin): the SDK no longer finds them, and the ones with
  no TTL stay.
"""

import json
from datetime import timedelta

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set

LOG = """
from datetime import timedelta
run = wandb.init(entity={team!r}, project="ttl", job_type="log")
art = wandb.Artifact({name!r}, type={kind!r})
with art.new_file("data.txt", mode="x") as handle:
    handle.write({content!r})
{ttl}
run.log_artifact(art)
art.wait()
print("LOGGED", art.version)
run.finish()
"""


def main() -> None:
    team = f"ttl-{ctx.nonce[:8]}"
    status, body = harness.native(ctx, "POST", "/api/v1/teams", "alice", {"name": team})
    harness.check(status == 201, f"creating team {team}: {status} {body}")
    status, body = harness.native(
        ctx, "PUT", f"/api/v1/teams/{team}/members/bob", "alice", {"role": "member"}
    )
    harness.check(status == 200, f"adding bob: {status} {body}")
    unique = lambda label: harness.unique_bytes(ctx, label).decode()  # noqa: E731
    api = wandb.Api()
    path = lambda name: f"{team}/ttl/{name}"  # noqa: E731

    harness.step("a member may not set a TTL until admins allow it")
    refused = harness.sdk_child(
        ctx, "bob",
        LOG.format(team=team, name="short", kind="dataset", content=unique("short-0"),
                   ttl="art.ttl = timedelta(hours=1)"),
        "bob logs with a TTL", expect_ok=False,
    )
    output = refused.stdout + refused.stderr
    harness.check(
        refused.returncode != 0 and "ttl-permissions" in output,
        f"bob's TTL is refused naming the permission: {output[-1500:]}",
    )
    harness.cairn(ctx, ["team", "ttl-permissions", team, "members"])
    harness.sdk_child(
        ctx, "bob",
        LOG.format(
            team=team, name="short", kind="dataset", content=unique("short-1"),
            ttl="art.ttl = timedelta(hours=1)"),
        "bob logs with a TTL once members may",
    )
    short = api.artifact(path("short:latest"))
    harness.check_eq(short.ttl, timedelta(hours=1), "the TTL bob set")

    harness.step("the team default, None and INHERIT")
    harness.cairn(ctx, ["team", "default-ttl", team, "7d"])
    run = wandb.init(entity=team, project="ttl", job_type="log")
    for name in ("inherits", "forever"):
        art = wandb.Artifact(name, type="dataset")
        with art.new_file("data.txt", mode="x") as handle:
            handle.write(unique(name))
        if name == "forever":
            art.ttl = None
        run.log_artifact(art)
        art.wait()
    table = wandb.Artifact("table", type="run_table")
    with table.new_file("rows.json", mode="x") as handle:
        handle.write(unique("rows"))
    run.log_artifact(table)
    table.wait()
    model = wandb.Artifact("net", type="model")
    with model.new_file("w.bin", mode="x") as handle:
        handle.write(unique("net"))
    run.log_artifact(model)
    model.wait()
    run.finish()
    inherits = api.artifact(path("inherits:latest"))
    harness.check_eq(inherits.ttl, timedelta(days=7), "the inherited default")
    harness.check(inherits._ttl_is_inherited, "ttlIsInherited for the default")
    forever = api.artifact(path("forever:latest"))
    harness.check_eq(forever.ttl, None, "ttl = None keeps it for ever despite the default")
    forever.ttl = wandb.ArtifactTTL.INHERIT
    forever.save()
    harness.check_eq(api.artifact(path("forever:latest")).ttl, timedelta(days=7), "INHERIT again")
    forever = api.artifact(path("forever:latest"))
    forever.ttl = None
    forever.save()
    harness.check_eq(api.artifact(path("forever:latest")).ttl, None, "None again")
    harness.check_eq(api.artifact(path("table:latest")).ttl, None, "run_table inherits nothing")

    harness.step("the cairn CLI: put --ttl, ttl set / unset / inherit")
    tree = ctx.path("cli-tree")
    harness.write_tree(tree, {"a.txt": harness.unique_bytes(ctx, "cli-ttl")})
    harness.cairn(ctx, ["artifact", "put", "--name", path("cli"), "--ttl", "3h", str(tree)])
    harness.check_eq(api.artifact(path("cli:v0")).ttl, timedelta(hours=3), "put --ttl 3h")
    harness.cairn(ctx, ["artifact", "ttl", "unset", path("cli:v0")])
    harness.check_eq(api.artifact(path("cli:v0")).ttl, None, "ttl unset")
    harness.cairn(ctx, ["artifact", "ttl", "inherit", path("cli:v0")])
    harness.check_eq(api.artifact(path("cli:v0")).ttl, timedelta(days=7), "ttl inherit")
    harness.cairn(ctx, ["artifact", "ttl", "set", path("cli:v0"), "90m"])
    harness.check_eq(api.artifact(path("cli:v0")).ttl, timedelta(minutes=90), "ttl set 90m")

    harness.step("refusals: auto-generated types, the model registry")
    table = api.artifact(path("table:latest"))
    table.ttl = timedelta(days=1)
    harness.expect_error(table.save, "a TTL on a run_table", words=["run_table"])
    model = api.artifact(path("net:latest"))
    model.link(f"{team}/model-registry/net")
    model = api.artifact(path("net:latest"))
    model.ttl = timedelta(days=1)
    harness.expect_error(model.save, "a TTL on a registry model", words=["model registry"])

    harness.step("two hours later the sweep deletes what expired")
    status, body = harness.native(ctx, "POST", "/api/v1/server/clock", "admin", {"seconds": 2 * 3600})
    harness.check(status == 200, f"moving the clock: {status} {body}")
    body = json.loads(harness.cairn(ctx, ["server", "sweep", "--json"], user="admin").stdout)
    harness.check(path("short:v0") in body["deleted"], f"the 1 h version was swept: {body}")
    harness.check(path("cli:v0") in body["deleted"], f"the 90 min version was swept: {body}")
    harness.expect_error(lambda: api.artifact(path("short:v0")), "the swept version",
                         words=["not found"])
    for name in ("inherits", "forever", "table", "net"):
        harness.check_eq(api.artifact(path(f"{name}:latest")).state, "COMMITTED", f"{name} stays")


harness.run(main)
