"""Deleting through the SDK: versions, collections and runs.

* `artifact.delete()` refuses a version with aliases; `delete(delete_aliases=True)` removes it
  and `latest` moves back; the number is never reused.
* `collection.delete()` deletes every version of a collection; the name is free again.
* `run.delete(delete_artifacts=True)` deletes the run and what it logged;
  `run.delete()` keeps the versions (without the run in their lineage).
* `cairn project delete` deletes a whole project; its name is free again.
"""

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set


def log(run, name: str, label: str):
    art = wandb.Artifact(name, type="dataset")
    with art.new_file("data.txt", mode="x") as handle:
        handle.write(harness.unique_bytes(ctx, label).decode())
    run.log_artifact(art)
    art.wait()
    return art


def main() -> None:
    api = wandb.Api()
    run = wandb.init(job_type="log")
    for index in range(3):
        log(run, "versions", f"v{index}")
    log(run, "doomed", "doomed-0")
    log(run, "doomed", "doomed-1")
    run.finish()

    harness.step("a version: aliases refuse it, delete_aliases frees them, numbers stay")
    latest = api.artifact(ctx.qualified("versions:latest"))
    harness.expect_error(lambda: latest.delete(), "deleting the latest version",
                         words=["aliases"])
    latest.delete(delete_aliases=True)
    harness.check_eq(api.artifact(ctx.qualified("versions:latest")).version, "v1", "latest moved")
    harness.expect_error(lambda: api.artifact(ctx.qualified("versions:v2")), "the deleted v2",
                         words=["not found"])
    again = wandb.init(job_type="again")
    art = log(again, "versions", "v2-again")
    again.finish()
    harness.check_eq(art.version, "v3", "a new version after a delete gets a new number")

    harness.step("a collection")
    doomed = api.artifact_collection("dataset", ctx.qualified("doomed"))
    doomed.delete()
    harness.expect_error(lambda: api.artifact(ctx.qualified("doomed:v0")), "a version of it",
                         words=["not found"])
    fresh = wandb.init(job_type="fresh")
    art = log(fresh, "doomed", "doomed-new")
    fresh.finish()
    harness.check_eq(art.version, "v0", "the name is free again")

    harness.step("a run with and without its artifacts")
    keeper = wandb.init(job_type="keeper")
    kept = log(keeper, "kept", "kept")
    keeper.finish()
    dropper = wandb.init(job_type="dropper")
    dropped = log(dropper, "dropped", "dropped")
    dropper.finish()
    api.run(f"{ctx.entity}/{ctx.project}/{dropper.id}").delete(delete_artifacts=True)
    harness.expect_error(lambda: api.artifact(ctx.qualified("dropped:v0")), "the run's output",
                         words=["not found"])
    api.run(f"{ctx.entity}/{ctx.project}/{keeper.id}").delete()
    survivor = api.artifact(ctx.qualified("kept:v0"))
    harness.check_eq(survivor.digest, kept.digest, "the output of a run deleted without it")
    harness.check_eq(survivor.logged_by(), None, "its lineage no longer names the run")
    harness.check(dropped.digest != kept.digest, "two different outputs")

    harness.step("a project, with the CLI")
    harness.cairn(ctx, ["project", "delete", f"{ctx.entity}/{ctx.project}"])
    harness.expect_error(lambda: api.artifact(ctx.qualified("kept:v0")), "after the project",
                         words=["not found"])
    reborn = wandb.init(job_type="reborn")
    art = log(reborn, "versions", "reborn")
    reborn.finish()
    harness.check_eq(art.version, "v0", "the project's name is free again")


harness.run(main)
