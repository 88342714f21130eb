"""Registry links through the SDK: `link`, `unlink`, the model registry, protected aliases.

* `artifact.link(target, aliases)` with the SDK's target forms (`{portfolio}`,
  `{project}/{portfolio}`, `{entity}/{project}/{portfolio}`) and the model registry
  (`{entity}/model-registry/{name}`, model types only): the linked artifact is the same
  version (id, digest, bytes) with the SDK's `source_*` attributes, listed in both places.
* Alias edits on a linked artifact stay in the portfolio; `unlink()` and `delete()` on a link
  remove only the link.
* Protected aliases (declared by a team admin through the native API): a member may neither
  add nor remove them, and nobody unlinks what carries one until an admin removes it.
* The `cairn` CLI links, unlinks and lists protected aliases.
* `delete()`: refused while the version has aliases (unless `delete_aliases=True`) and, for
  everyone, while a link of it carries a protected alias; afterwards it and its link vanish and
  the same content logged again gets a new `vN`.
"""

import json

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set

LINKED_BY_BOB = """
api = wandb.Api()
version = api.artifact({source!r})
version.link({target!r})
print("LINKED")
"""

EDIT_LINK = """
api = wandb.Api()
link = api.artifact({link!r})
{action}
print("DONE")
"""


def log(run, name: str, kind: str, label: str):
    art = wandb.Artifact(name, type=kind)
    with art.new_file("weights.bin", mode="xb") as handle:
        handle.write(harness.unique_bytes(ctx, label, size=2048))
    run.log_artifact(art)
    art.wait()
    return art


def main() -> None:
    run = wandb.init(job_type="train")
    net_v0 = log(run, "net", "model", "net-0")
    net_v1 = log(run, "net", "model", "net-1")
    cats = log(run, "cats", "dataset", "cats")
    run.finish()
    api = wandb.Api()
    registry = f"{ctx.entity}/model-registry"

    harness.step("link into the model registry ({project}/{portfolio} form)")
    linked = net_v1.link("model-registry/classifier", aliases=["staging"])
    harness.check(linked.is_link, "the answer of link() is a link")
    harness.check_eq(linked.qualified_name, f"{registry}/classifier:v0", "the link's name")
    harness.check_eq(
        (linked.source_entity, linked.source_project, linked.source_name, linked.source_version),
        (ctx.entity, ctx.project, "net:v1", "v1"),
        "source_* attributes",
    )
    harness.check_eq((linked.id, linked.digest), (net_v1.id, net_v1.digest), "one identity")
    harness.check("staging" in linked.aliases, f"aliases of the link: {linked.aliases}")

    harness.step("the other target forms")
    second = net_v0.link(f"{registry}/classifier")
    harness.check_eq(second.version, "v1", "the second link's version in the portfolio")
    short = net_v0.link("shortlist")
    harness.check_eq(
        short.qualified_name, ctx.qualified("shortlist:v0"), "{portfolio} goes to the run's project"
    )

    harness.step("one version, listed in both places, downloaded through the link")
    fetched = api.artifact(f"{registry}/classifier:staging")
    harness.check(fetched.is_link, "fetched by the portfolio's alias: a link")
    harness.check_eq((fetched.id, fetched.version), (net_v1.id, "v0"), "fetched link")
    harness.check_eq(fetched.source_artifact.qualified_name, ctx.qualified("net:v1"), "source")
    own = api.artifact(ctx.qualified("net:v1"))
    harness.check(not own.is_link, "the version in its own collection is not a link")
    harness.check("staging" not in own.aliases, "portfolio aliases stay in the portfolio")
    harness.check_eq(
        sorted(link.qualified_name for link in own.linked_artifacts),
        [f"{registry}/classifier:v0"],
        "linked_artifacts",
    )
    harness.clear_cache(ctx)
    root = fetched.download(root=str(ctx.path("through-link")))
    downloaded = harness.read_tree(root)
    harness.check_eq(
        downloaded["weights.bin"], harness.unique_bytes(ctx, "net-1", size=2048), "bytes"
    )
    versions = [a.version for a in api.artifacts("model", f"{registry}/classifier")]
    harness.check_eq(versions, ["v1", "v0"], "versions of the portfolio")
    portfolio = api.artifact_collection("model", f"{registry}/classifier")
    harness.check(not portfolio.is_sequence(), "a portfolio is not a sequence")

    harness.step("the model registry takes model types only")
    harness.expect_error(
        lambda: cats.link("model-registry/cats"), "a dataset into the model registry",
        words=["containing `model`"],
    )

    harness.step("alias edits on a link stay in the portfolio")
    fetched.aliases.append("candidate")
    fetched.save()
    harness.check_eq(
        api.artifact(f"{registry}/classifier:candidate").id, net_v1.id, "the new link alias"
    )
    harness.expect_error(
        lambda: api.artifact(ctx.qualified("net:candidate")),
        "the link alias in the source collection",
        words=["not found"],
    )

    harness.step("unlink and delete on a link remove only the link")
    api.artifact(f"{registry}/classifier:v1").unlink()
    harness.expect_error(
        lambda: api.artifact(f"{registry}/classifier:v1"), "the unlinked link", words=["not found"]
    )
    harness.check_eq(api.artifact(f"{registry}/classifier:latest").version, "v0", "latest moved")
    api.artifact(ctx.qualified("shortlist:v0")).delete()
    harness.expect_error(
        lambda: api.artifact(ctx.qualified("shortlist:v0")), "the deleted link", words=["not found"]
    )
    harness.check_eq(api.artifact(ctx.qualified("net:v0")).id, net_v0.id, "the source stays")
    harness.expect_error(
        lambda: own.unlink(), "unlink() of a source version", words=["not a linked artifact"]
    )

    harness.step("protected aliases: a team admin declares them, a member cannot touch them")
    team = f"links-{ctx.nonce[:8]}"
    status, body = harness.native(ctx, "POST", "/api/v1/teams", "alice", {"name": team})
    harness.check(status == 201, f"creating team {team}: {status} {body}")
    status, body = harness.native(
        ctx, "PUT", f"/api/v1/teams/{team}/members/bob", "alice", {"role": "member"}
    )
    harness.check(status == 200, f"adding bob to {team}: {status} {body}")
    bob_run = f"""
run = wandb.init(entity={team!r}, project="train", job_type="train")
art = wandb.Artifact("detector", type="model")
with art.new_file("w.bin", mode="x") as handle:
    handle.write({harness.unique_bytes(ctx, "detector").decode()!r})
run.log_artifact(art)
art.wait()
run.finish()
"""
    harness.sdk_child(ctx, "bob", bob_run, "bob logs into the team")
    harness.sdk_child(
        ctx,
        "bob",
        LINKED_BY_BOB.format(source=f"{team}/train/detector:v0", target=f"{team}/model-registry/detector"),
        "bob links into the team's model registry",
    )
    route = f"/api/v1/projects/{team}/model-registry/protected-aliases"
    status, body = harness.native(ctx, "PATCH", route, "bob", {"add": ["production"]})
    harness.check(status == 403 and "only admins" in body.get("detail", ""), f"bob protects: {body}")
    status, body = harness.native(ctx, "PATCH", route, "alice", {"add": ["production"]})
    harness.check_eq((status, body), (200, {"aliases": ["production"]}), "alice protects")

    link = f"{team}/model-registry/detector:v0"
    add = "link.aliases.append('production'); link.save()"
    refused = harness.sdk_child(
        ctx, "bob", EDIT_LINK.format(link=link, action=add), "bob adds the protected alias",
        expect_ok=False,
    )
    harness.check(refused.returncode != 0, "bob may not add a protected alias")
    harness.check(
        "alias `production` is protected" in refused.stdout + refused.stderr
        and "only admins of" in refused.stdout + refused.stderr,
        f"bob's refusal names the alias and who may: {refused.stderr[-800:]}",
    )
    team_link = api.artifact(link)
    team_link.aliases.append("production")
    team_link.save()
    harness.check_eq(api.artifact(f"{team}/model-registry/detector:production").id, team_link.id,
                     "alice added the protected alias")
    for user, action in [("bob", "link.unlink()"), ("bob", "link.delete()")]:
        refused = harness.sdk_child(
            ctx, user, EDIT_LINK.format(link=link, action=action), f"{user}: {action}",
            expect_ok=False,
        )
        harness.check(refused.returncode != 0, f"{action} of a link with a protected alias")
    harness.expect_error(lambda: team_link.unlink(), "even alice cannot unlink it",
                         words=["permission", "protected"])
    team_link = api.artifact(link)
    team_link.aliases.remove("production")
    team_link.save()
    harness.sdk_child(ctx, "bob", EDIT_LINK.format(link=link, action="link.unlink()"),
                      "bob unlinks once the alias is gone")
    harness.expect_error(lambda: api.artifact(link), "the team link after unlink", words=["not found"])

    harness.step("the cairn CLI links, lists and unlinks")
    answer = json.loads(
        harness.cairn(
            ctx,
            ["artifact", "link", ctx.qualified("net:v0"), "model-registry/classifier",
             "--alias", "cli", "--json"],
        ).stdout
    )
    harness.check_eq(
        (answer["digest"], answer["source"]["collection"], answer["source"]["version_index"]),
        (net_v0.digest, "net", 0),
        "cairn artifact link: the same version",
    )
    harness.check_eq(api.artifact(f"{registry}/classifier:cli").id, net_v0.id, "the SDK sees it")
    listing = json.loads(
        harness.cairn(ctx, ["artifact", "ls", f"{registry}/classifier", "--json"]).stdout
    )
    harness.check_eq(
        [(v["version_index"], v["source"]["collection"]) for v in listing["versions"]],
        [(2, "net"), (0, "net")],
        "cairn artifact ls of the portfolio (the unlinked v1 is never reused)",
    )
    harness.cairn(ctx, ["artifact", "unlink", f"{registry}/classifier:cli"])
    protected = json.loads(
        harness.cairn(ctx, ["artifact", "protected-aliases", f"{team}/model-registry", "--json"]).stdout
    )
    harness.check_eq(protected, {"aliases": ["production"]}, "cairn artifact protected-aliases")

    harness.step("delete: aliases refuse it, a protected alias blocks it, delete_aliases frees")
    status, body = harness.native(
        ctx, "PATCH", "/api/v1/projects/alice/model-registry/protected-aliases", "alice",
        {"add": ["candidate"]},
    )
    harness.check(status == 200, f"alice protects `candidate`: {status} {body}")
    source = api.artifact(ctx.qualified("net:v1"))
    harness.expect_error(
        lambda: source.delete(delete_aliases=True), "deleting a version whose link is protected",
        words=["protected"],
    )
    harness.native(
        ctx, "PATCH", "/api/v1/projects/alice/model-registry/protected-aliases", "alice",
        {"remove": ["candidate"]},
    )
    harness.expect_error(
        lambda: source.delete(), "deleting a version with aliases", words=["aliases"]
    )
    api.artifact(ctx.qualified("net:v0")).delete()
    source.delete(delete_aliases=True)
    for gone in ["net:v0", "net:v1", "net:latest"]:
        harness.expect_error(
            lambda: api.artifact(ctx.qualified(gone)), f"{gone} after delete", words=["not found"]
        )
    harness.expect_error(
        lambda: api.artifact(f"{registry}/classifier:staging"), "its link after delete",
        words=["not found"],
    )
    relogged = wandb.init(job_type="again")
    again = log(relogged, "net", "model", "net-1")
    relogged.finish()
    harness.check_eq(again.version, "v2", "the same content again: a new number, never reused")


harness.run(main)
