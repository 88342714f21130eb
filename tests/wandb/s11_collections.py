"""Collections through the SDK's public API and the `cairn` CLI.

* `Api.artifact_types`, `Api.artifact_collections`, `Api.artifact_collection`, `Api.artifacts`
  list what was logged (types, collections of a type, versions newest first, paginated).
* `collection.save()` after changing the name and description renames the collection: the old
  name stops resolving, the versions keep their numbers and aliases under the new one.
* `cairn artifact ls ENTITY/PROJECT[/NAME] [--type T] [--alias A] [--json]` lists the same.
"""

import json

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set


def log(run, name: str, kind: str, count: int) -> None:
    """Logs `count` versions of `name`; `best` on v1."""
    for index in range(count):
        art = wandb.Artifact(name, type=kind)
        with art.new_file("data.txt", mode="xb") as handle:
            handle.write(harness.unique_bytes(ctx, f"{name}-{index}"))
        run.log_artifact(art, aliases=["best"] if index == 1 else None)
        art.wait()


def main() -> None:
    run = wandb.init(job_type="collections")
    log(run, "cats", "dataset", 4)
    log(run, "dogs", "dataset", 1)
    log(run, "resnet", "model", 2)
    run.finish()

    api = wandb.Api()
    project = f"{ctx.entity}/{ctx.project}"

    harness.step("types and collections of a type")
    types = sorted(artifact_type.name for artifact_type in api.artifact_types(project))
    harness.check_eq(types, ["dataset", "model"], "artifact types")
    datasets = sorted(c.name for c in api.artifact_collections(project, "dataset"))
    harness.check_eq(datasets, ["cats", "dogs"], "dataset collections")
    models = [c.name for c in api.artifact_type("model", project).collections()]
    harness.check_eq(models, ["resnet"], "collections of the model type")

    harness.step("versions of a collection, newest first, two per page")
    versions = [a.version for a in api.artifacts("dataset", f"{project}/cats", per_page=2)]
    harness.check_eq(versions, ["v3", "v2", "v1", "v0"], "versions of cats")
    cats = api.artifact_collection("dataset", f"{project}/cats")
    harness.check_eq(sorted(cats.aliases), ["best", "latest"], "aliases in cats")
    harness.check_eq([a.version for a in cats.artifacts()], versions, "cats.artifacts()")

    harness.step("rename and describe with collection.save()")
    cats.name = "felines"
    cats.description = "every cat we have"
    cats.save()
    felines = api.artifact_collection("dataset", f"{project}/felines")
    harness.check_eq(felines.description, "every cat we have", "description after save")
    harness.check_eq(
        [a.version for a in api.artifacts("dataset", f"{project}/felines")],
        versions,
        "versions after the rename",
    )
    harness.check_eq(api.artifact(f"{project}/felines:best").version, "v1", "`best` after rename")
    harness.expect_error(
        lambda: api.artifact(f"{project}/cats:latest"),
        "the old name after the rename",
        words=["not found", "does not exist", "no artifact"],
    )

    harness.step("the cairn CLI lists the same")
    listed = json.loads(harness.cairn(ctx, ["artifact", "ls", project, "--type", "model", "--json"]).stdout)
    harness.check_eq([c["name"] for c in listed["collections"]], ["resnet"], "cairn ls --type model")
    listed = json.loads(harness.cairn(ctx, ["artifact", "ls", f"{project}/felines", "--json"]).stdout)
    harness.check_eq(listed["total"], 4, "cairn ls of felines: total")
    harness.check_eq(
        [f"v{v['version_index']}" for v in listed["versions"]], versions, "cairn ls of felines"
    )
    listed = json.loads(
        harness.cairn(ctx, ["artifact", "ls", f"{project}/felines", "--alias", "best", "--json"]).stdout
    )
    harness.check_eq([v["version_index"] for v in listed["versions"]], [1], "cairn ls --alias best")
    table = harness.cairn(ctx, ["artifact", "ls", f"{project}/felines", "--limit", "2"]).stdout
    harness.check("(2 of 4 versions" in table, f"cairn ls --limit 2 says what it left out: {table}")
    renamed = json.loads(
        harness.cairn(
            ctx, ["artifact", "collection", f"{project}/felines", "--rename", "cats-again", "--json"]
        ).stdout
    )
    harness.check_eq(renamed["name"], "cats-again", "cairn artifact collection --rename")
    harness.check_eq(
        api.artifact(f"{project}/cats-again:v0").version, "v0", "the SDK sees the CLI's rename"
    )


harness.run(main)
