"""Logging versions: `add_file`, `add_dir`, `new_file`, description, nested metadata, aliases.

* The first log gives `v0`, and the server receives exactly one blob per distinct file.
* Logging the unchanged content again creates nothing: still `v0`, no blob, no new version.
* Changing one file gives `v1` and uploads only that file (`blobs_received` grows by 1).
* The public API reports what was logged (description, metadata, aliases, `latest`).
"""

import harness

ctx = harness.setup()
import wandb  # noqa: E402 - after the environment is set

METADATA = {"source": "scenario", "nested": {"list": [1, 2, {"deep": True}], "rate": 0.5}}


def build(files: dict[str, bytes]) -> wandb.Artifact:
    """The artifact from the source tree: one file, one directory, one `new_file`."""
    src = ctx.path("src")
    harness.write_tree(src, {k: v for k, v in files.items() if k != "notes/readme.md"})
    art = wandb.Artifact("dataset", type="dataset", description="first logged",
                         metadata=METADATA)
    art.add_file(str(src / "top.txt"))
    art.add_dir(str(src / "data"), name="data")
    with art.new_file("notes/readme.md", mode="xb") as handle:
        handle.write(files["notes/readme.md"])
    return art


def main() -> None:
    files = {
        "top.txt": harness.unique_bytes(ctx, "top"),
        "data/a.csv": harness.unique_bytes(ctx, "a", 3000),
        "data/deeper/b.bin": harness.unique_bytes(ctx, "b", 100_000),
        "notes/readme.md": harness.unique_bytes(ctx, "readme"),
    }
    run = wandb.init(job_type="log-versions")

    harness.step("first log: v0, one blob per file")
    before = harness.stats(ctx)
    art = build(files)
    run.log_artifact(art, aliases=["best", "prod"])
    art.wait()
    delta = harness.stats_delta(before, harness.stats(ctx))
    harness.check_eq(art.version, "v0", "version of the first log")
    harness.check_eq(art.digest, harness.files_digest(files), "digest of v0")
    harness.check_eq(delta["blobs_received"], len(files), "blobs received for v0")
    harness.check_eq(delta["versions_committed"], 1, "versions committed for v0")

    harness.step("unchanged content again: still v0, nothing uploaded")
    before = harness.stats(ctx)
    again = build(files)
    run.log_artifact(again)
    again.wait()
    delta = harness.stats_delta(before, harness.stats(ctx))
    harness.check_eq(again.version, "v0", "version after logging unchanged content")
    harness.check_eq(delta["blobs_received"], 0, "blobs received for unchanged content")
    harness.check_eq(delta["versions_committed"], 0, "versions committed for unchanged content")

    harness.step("one file changed: v1, only that file uploaded")
    changed = dict(files)
    changed["data/a.csv"] = harness.unique_bytes(ctx, "a-changed", 3000)
    before = harness.stats(ctx)
    third = build(changed)
    run.log_artifact(third)
    third.wait()
    delta = harness.stats_delta(before, harness.stats(ctx))
    harness.check_eq(third.version, "v1", "version after changing one file")
    harness.check_eq(third.digest, harness.files_digest(changed), "digest of v1")
    harness.check_eq(delta["blobs_received"], 1, "blobs received for one changed file")
    run.finish()

    harness.step("the public API shows what was logged")
    api = wandb.Api()
    v0 = api.artifact(ctx.qualified("dataset:v0"))
    harness.check_eq(v0.description, "first logged", "description of v0")
    harness.check_eq(v0.metadata, METADATA, "metadata of v0")
    harness.check_eq(sorted(v0.aliases), ["best", "prod"], "aliases of v0")
    harness.check_eq(v0.file_count, len(files), "file count of v0")
    harness.check_eq(v0.size, sum(len(data) for data in files.values()), "size of v0")
    latest = api.artifact(ctx.qualified("dataset:latest"))
    harness.check_eq(latest.version, "v1", "version `latest` points at")
    harness.check_eq(api.artifact(ctx.qualified("dataset:best")).version, "v0", "`best`")


harness.run(main)
